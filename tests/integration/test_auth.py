"""The authentication matrix: every way a request can be unsigned, mis-signed, stale, tampered
with or out of its key's scope is refused with 403 ForbiddenException, and the ways the AWS SDKs
really sign (botocore, and the JavaScript SDK v3 with x-amz-content-sha256) are accepted."""
import datetime
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

SCOPED_KEY = "AKRPTESTSCOPED000001"
SCOPED_SECRET = "scoped-secret-0123456789abcdefghijklmnop"
state = {}


def forbidden(status, headers, body, fragment):
    assert status == 403, (status, body)
    assert headers.get("x-amzn-errortype") == "ForbiddenException", headers
    assert fragment.lower() in body["Message"].lower(), body
    assert body["RequestID"] == headers["x-amzn-requestid"]
    # Never a piece of the secret in an error message.
    assert harness.SECRET_KEY[:12] not in json.dumps(body)


def test_unsigned_request_refused():
    d = state["daemon"]
    status, headers, body = harness.signed_request(d.url, "GET", "/v1/apps", sign=False)
    forbidden(status, headers, body, "authorization")


def test_wrong_secret_refused():
    c = state["daemon"].client(secret_key="not-the-right-secret-at-all-000000")
    try:
        c.get_apps()
        raise AssertionError("a wrong secret was accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "ForbiddenException"
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert "signature" in e.response["Error"]["Message"].lower()


def test_unknown_key_refused():
    d = state["daemon"]
    status, headers, body = harness.signed_request(d.url, "GET", "/v1/apps",
                                                   access_key="AKRPNOSUCHKEY0000000")
    forbidden(status, headers, body, "")


def test_wrong_service_refused():
    d = state["daemon"]
    status, headers, body = harness.signed_request(d.url, "GET", "/v1/apps", service="s3")
    forbidden(status, headers, body, "service")


def test_clock_skew_refused():
    d = state["daemon"]
    for minutes in (-16, 16):
        when = datetime.datetime.utcnow() + datetime.timedelta(minutes=minutes)
        status, headers, body = harness.signed_request(d.url, "GET", "/v1/apps", when=when)
        forbidden(status, headers, body, "")
    # Within the 15 minutes AWS allows: accepted.
    when = datetime.datetime.utcnow() - datetime.timedelta(minutes=10)
    status, _, body = harness.signed_request(d.url, "GET", "/v1/apps", when=when)
    assert status == 200, body


def test_body_modified_after_signing_refused():
    d = state["daemon"]
    body = json.dumps({"Name": "honest"}).encode()

    def tamper(prepared):
        prepared.body = json.dumps({"Name": "evil!!"}).encode()
        return prepared
    status, headers, resp = harness.signed_request(d.url, "POST", "/v1/apps", body=body,
                                                   tamper=tamper)
    forbidden(status, headers, resp, "")
    # Same with x-amz-content-sha256 signed (JS SDK v3 style): the header no longer matches.
    sha = hashlib.sha256(body).hexdigest()
    status, headers, resp = harness.signed_request(
        d.url, "POST", "/v1/apps", body=body, headers={"X-Amz-Content-SHA256": sha},
        tamper=tamper)
    forbidden(status, headers, resp, "")


def test_path_modified_after_signing_refused():
    d = state["daemon"]
    app = state["app"]

    def tamper(prepared):
        prepared.url = prepared.url.replace("/settings", "")
        return prepared
    status, headers, body = harness.signed_request(d.url, "GET", f"/v1/apps/{app}/settings",
                                                   tamper=tamper)
    forbidden(status, headers, body, "")


def test_js_sdk_v3_style_accepted():
    """The JavaScript SDK v3 sends and signs x-amz-content-sha256 and more headers."""
    d = state["daemon"]
    body = json.dumps({"Name": "from-js"}).encode()
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest(),
               "amz-sdk-invocation-id": "0b8f8b4e-5b8e-4d7c-9b1a-0c1d2e3f4a5b",
               "amz-sdk-request": "attempt=1; max=3",
               "x-amz-user-agent": "aws-sdk-js/3.600.0"}
    status, _, resp = harness.signed_request(d.url, "POST", "/v1/apps", body=body,
                                             headers=headers)
    assert status == 201, resp
    assert resp["Name"] == "from-js"


def test_encoded_path_and_query_accepted():
    """Ids with characters botocore percent-encodes, and paging query strings, verify."""
    c = state["daemon"].client()
    app = state["app"]
    eid = "user:42@example.com/phone 1"
    c.update_endpoint(ApplicationId=app, EndpointId=eid,
                      EndpointRequest={"ChannelType": "SMS", "Address": "+14155550101"})
    got = c.get_endpoint(ApplicationId=app, EndpointId=eid)["EndpointResponse"]
    assert got["Id"] == eid
    first = c.get_apps(PageSize="1")["ApplicationsResponse"]
    assert len(first["Item"]) == 1 and first["NextToken"], first
    page = c.get_apps(PageSize="1", Token=first["NextToken"])["ApplicationsResponse"]
    assert len(page["Item"]) == 1 and page["Item"][0]["Id"] != first["Item"][0]["Id"], page


def test_scoped_key():
    d = state["daemon"]
    mine, other = state["app"], state["other_app"]
    c = d.client(access_key=SCOPED_KEY, secret_key=SCOPED_SECRET)
    assert c.get_app(ApplicationId=mine)["ApplicationResponse"]["Id"] == mine
    for call in (lambda: c.get_app(ApplicationId=other),
                 lambda: c.get_application_settings(ApplicationId=other),
                 lambda: c.get_endpoint(ApplicationId=other, EndpointId="x"),
                 lambda: c.create_app(CreateApplicationRequest={"Name": "sneaky"})):
        try:
            call()
            raise AssertionError("a key scoped to another app was allowed")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ForbiddenException", e.response
    ids = [a["Id"] for a in c.get_apps()["ApplicationsResponse"]["Item"]]
    assert ids == [mine], ids


def test_region_pinned_when_configured():
    redis = state["redis"]
    pinned = harness.Repoint(redis.url, env={"REPOINT_AUTH_REGION": "eu-west-1"}).start()
    try:
        status, headers, body = harness.signed_request(pinned.url, "GET", "/v1/apps",
                                                       region="us-east-1")
        forbidden(status, headers, body, "region")
        status, _, body = harness.signed_request(pinned.url, "GET", "/v1/apps",
                                                 region="eu-west-1")
        assert status == 200, body
    finally:
        pinned.cleanup()


def test_auth_off_warns_and_accepts_unsigned():
    redis = state["redis"]
    open_daemon = harness.Repoint(redis.url, env={"REPOINT_AUTH_MODE": "off"}).start()
    try:
        status, _, body = harness.signed_request(open_daemon.url, "GET", "/v1/apps", sign=False)
        assert status == 200, body
        assert "auth.mode is off" in open_daemon.logs()
    finally:
        open_daemon.cleanup()


def test_health_and_ready_unauthenticated():
    d = state["daemon"]
    status, _, body = harness.signed_request(d.url, "GET", "/repoint/health", sign=False)
    assert status == 200 and body["status"] == "ok", body
    status, _, body = harness.signed_request(d.url, "GET", "/repoint/ready", sign=False)
    assert status == 200 and body["redis"] is True, body


def main():
    with harness.stack(extra_keys=[]) as (redis, daemon):
        admin = daemon.client()
        app = admin.create_app(CreateApplicationRequest={"Name": "mine"})["ApplicationResponse"]
        other = admin.create_app(CreateApplicationRequest={"Name": "other"})["ApplicationResponse"]
        # The scoped key is added by restarting with a credentials file that names the app.
        daemon.stop()
        with open(daemon.creds_path, "a") as f:
            f.write(f"{SCOPED_KEY} {SCOPED_SECRET} {app['Id']}\n")
        daemon.start()
        state.update(redis=redis, daemon=daemon, app=app["Id"], other_app=other["Id"])
        harness.run_tests([
            test_unsigned_request_refused, test_wrong_secret_refused, test_unknown_key_refused,
            test_wrong_service_refused, test_clock_skew_refused,
            test_body_modified_after_signing_refused, test_path_modified_after_signing_refused,
            test_js_sdk_v3_style_accepted, test_encoded_path_and_query_accepted, test_scoped_key,
            test_region_pinned_when_configured, test_auth_off_warns_and_accepts_unsigned,
            test_health_and_ready_unauthenticated,
        ])


if __name__ == "__main__":
    main()
