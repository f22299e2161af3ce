"""What a client sees when things go wrong: oversized bodies (413 without the daemon buffering
them), malformed JSON (400), and a Redis outage (fast, retryable 5xx; health stays up, readiness
goes down; everything recovers by itself when Redis returns, with the data AOF kept)."""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

state = {}


def expect_error(call, code, status):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == status, e.response
        return e.response["Error"]["Message"]
    raise AssertionError(f"expected {code}")


def test_two_mib_body_is_413():
    c = state["daemon"].client()
    app = state["app"]
    big = {"a%d" % i: ["x" * 100] for i in range(20)}
    request = {"ChannelType": "SMS", "Address": "+14155550100", "Attributes": big,
               "Demographic": {"Model": "y" * (2 << 20)}}
    msg = expect_error(lambda: c.update_endpoint(ApplicationId=app, EndpointId="big",
                                                 EndpointRequest=request),
                       "PayloadTooLargeException", 413)
    assert "exceeds" in msg
    # The daemon is unharmed and the endpoint was not written.
    expect_error(lambda: c.get_endpoint(ApplicationId=app, EndpointId="big"),
                 "NotFoundException", 404)


def test_huge_declared_length_answered_without_reading():
    """A client announcing 1 GiB gets its 413 at once; nothing is buffered."""
    d = state["daemon"]
    s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
    s.sendall(b"PUT /v1/apps/x/endpoints/y HTTP/1.1\r\nHost: localhost\r\n"
              b"Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{")
    data = s.recv(4096).decode(errors="replace")
    s.close()
    assert data.startswith("HTTP/1.1 413"), data
    assert "PayloadTooLargeException" in data


def test_malformed_json_is_400():
    d = state["daemon"]
    app = state["app"]
    for body in (b"{not json", b"[1,2]", b'{"ChannelType": "SMS", "ChannelType": "EMAIL"}'):
        status, headers, resp = harness.signed_request(
            d.url, "PUT", f"/v1/apps/{app}/endpoints/e1", body=body)
        assert status == 400, (body, status, resp)
        assert headers["x-amzn-errortype"] == "BadRequestException"
        assert resp["RequestID"] == headers["x-amzn-requestid"]


def test_unknown_route_and_method():
    d = state["daemon"]
    status, headers, resp = harness.signed_request(d.url, "GET", "/v1/nothing/here")
    assert status == 404 and headers["x-amzn-errortype"] == "NotFoundException", resp
    status, headers, resp = harness.signed_request(d.url, "PATCH", "/v1/apps")
    assert status == 405 and headers["x-amzn-errortype"] == "MethodNotAllowedException", resp


def test_redis_outage_fails_fast_and_recovers():
    redis, d = state["redis"], state["daemon"]
    c = d.client()
    app = state["app"]
    c.update_endpoint(ApplicationId=app, EndpointId="durable",
                      EndpointRequest={"ChannelType": "SMS", "Address": "+14155550199"})
    time.sleep(1.5)  # appendfsync everysec: let the write reach the AOF
    redis.stop()
    start = time.monotonic()
    for _ in range(3):
        msg = expect_error(lambda: c.get_endpoint(ApplicationId=app, EndpointId="durable"),
                           "InternalServerErrorException", 500)
        assert "retry" in msg.lower()
    assert time.monotonic() - start < 5, "requests must fail fast while Redis is down"
    status, _, body = harness.signed_request(d.url, "GET", "/repoint/health", sign=False)
    assert status == 200, body
    status, _, body = harness.signed_request(d.url, "GET", "/repoint/ready", sign=False)
    assert status == 503 and body["redis"] is False, body

    redis.start()  # same port, same data directory: the AOF brings the data back
    def recovered():
        try:
            ep = c.get_endpoint(ApplicationId=app, EndpointId="durable")["EndpointResponse"]
            return ep["Address"] == "+14155550199"
        except ClientError:
            return False
    harness.wait_until(recovered, timeout=10, what="recovery after Redis restart")
    # Every API thread recovers, not just one: a burst of requests all succeed.
    for _ in range(40):
        c.get_app(ApplicationId=app)
    status, _, body = harness.signed_request(d.url, "GET", "/repoint/ready", sign=False)
    assert status == 200, body
    assert d.proc.poll() is None, "the daemon must not exit because Redis went away"


def test_boto3_retries_the_outage_error():
    """InternalServerErrorException is one botocore retries: a client with retries rides out a
    short outage."""
    redis, d = state["redis"], state["daemon"]
    c = d.client(retries=6)
    app = state["app"]
    redis.stop()
    import threading
    t = threading.Timer(1.0, redis.start)
    t.start()
    try:
        assert c.get_app(ApplicationId=app)["ApplicationResponse"]["Id"] == app
    finally:
        t.join()


def main():
    with harness.stack() as (redis, daemon):
        app = daemon.client().create_app(CreateApplicationRequest={"Name": "r"})
        state.update(redis=redis, daemon=daemon, app=app["ApplicationResponse"]["Id"])
        harness.run_tests([
            test_two_mib_body_is_413, test_huge_declared_length_answered_without_reading,
            test_malformed_json_is_400, test_unknown_route_and_method,
            test_redis_outage_fails_fast_and_recovers, test_boto3_retries_the_outage_error,
        ])


if __name__ == "__main__":
    main()
