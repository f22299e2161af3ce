"""The GCM channel end to end through FCM HTTP v1: the real AWS CLI configures the channel with a
generated service account (update-gcm-channel) and sends (send-messages) through Repoint to
tests/sim/fcm_sim over HTTP/2 with TLS (and once over HTTP/1.1). The simulator verifies the RS256
assertion, issues short-lived tokens and checks every message as FCM does; each DeliveryStatus
path, the token refresh on expiry and on 401, and the endpoint deactivation are provoked."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import push_sims  # noqa: E402

state = {}


def send(addresses, message=None, app=None, **extra):
    msg = {"Title": "Hello", "Body": "from Repoint"} if message is None else message
    request = {"Addresses": {a: {"ChannelType": "GCM"} for a in addresses},
               "MessageConfiguration": {"GCMMessage": msg}, **extra}
    resp = state["daemon"].aws("send-messages", "--application-id", app or state["app"],
                               "--message-request", json.dumps(request))
    return resp["MessageResponse"]["Result"]


def last_messages(n):
    return state["sim"].messages()[-n:]


def test_update_gcm_channel_with_service_json():
    resp = state["daemon"].aws("update-gcm-channel", "--application-id", state["app"],
                               "--gcm-channel-request",
                               json.dumps({"ServiceJson": state["sim"].service_json(),
                                           "Enabled": True}))["GCMChannelResponse"]
    assert resp["HasFcmServiceCredentials"] is True, resp
    assert resp["DefaultAuthenticationMethod"] == "TOKEN", resp
    assert "PRIVATE KEY" not in json.dumps(resp), "the key is never echoed"


def test_send_success_over_http2():
    sim = state["sim"]
    before = sim.stats()
    result = send(["tok-a", "tok-b"], {"Title": "Hi", "Body": "there", "Action": "URL",
                                       "Url": "https://example.com/x", "TimeToLive": 3600,
                                       "Priority": "high", "CollapseKey": "news",
                                       "RestrictedPackageName": "com.example.app",
                                       "ImageUrl": "https://example.com/i.png",
                                       "Data": {"k": "v"}})
    for r in result.values():
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        assert r["StatusCode"] == 200, r
        assert r["MessageId"].startswith("projects/repoint-sim/messages/"), r
    after = sim.stats()
    assert after["accepted"] == before["accepted"] + 2
    assert after["http2_requests"] >= before["http2_requests"] + 2, after
    msgs = {m["message"]["token"]: m for m in last_messages(2)}
    assert set(msgs) == {"tok-a", "tok-b"}
    m = msgs["tok-a"]
    assert m["protocol"] == "h2", m
    msg = m["message"]
    assert msg["notification"] == {"title": "Hi", "body": "there",
                                   "image": "https://example.com/i.png"}, msg
    assert msg["android"]["ttl"] == "3600s" and msg["android"]["priority"] == "high", msg
    assert msg["android"]["collapse_key"] == "news", msg
    assert msg["android"]["restricted_package_name"] == "com.example.app", msg
    data = msg["data"]
    assert data["k"] == "v" and data["pinpoint.url"] == "https://example.com/x", data
    assert data["pinpoint.notification.title"] == "Hi", data
    assert "pinpoint.openApp" not in data, data


def test_one_token_serves_many_sends():
    sim = state["sim"]
    before = sim.stats()
    result = send([f"many-{i}" for i in range(20)])
    assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in result.values()), result
    after = sim.stats()
    assert after["tokens_issued"] == before["tokens_issued"], "the cached token is reused"
    assert after["http2_connections"] == before["http2_connections"], \
        "the worker's HTTP/2 connection is reused for every send"


def test_more_sends_than_the_transport_keeps_in_flight():
    """200 deliveries at once: the transport keeps 100 in libcurl and queues the rest."""
    import concurrent.futures
    sim = state["sim"]
    before = sim.stats()["accepted"]
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        batches = list(pool.map(lambda k: send([f"burst-{k}-{i}" for i in range(100)]), (0, 1)))
    for result in batches:
        assert len(result) == 100
        assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in result.values()), result
    assert sim.stats()["accepted"] == before + 200


def test_silent_push_is_data_only():
    result = send(["tok-silent"], {"SilentPush": True, "Data": {"n": "1"}, "Action": "DEEP_LINK",
                                   "Url": "app://x"})
    assert result["tok-silent"]["DeliveryStatus"] == "SUCCESSFUL", result
    msg = last_messages(1)[0]["message"]
    assert "notification" not in msg, msg
    assert msg["data"]["pinpoint.notification.silentPush"] == "1", msg
    assert msg["data"]["pinpoint.deeplink"] == "app://x", msg
    assert msg["data"]["n"] == "1", msg


def test_unregistered_token_deactivates_endpoint():
    d, app, sim = state["daemon"], state["app"], state["sim"]
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "android-1",
          "--endpoint-request", json.dumps({"ChannelType": "GCM", "Address": "dead-token"}))
    sim.configure(unregistered_tokens=["dead-token"])
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Endpoints": {"android-1": {}},
        "MessageConfiguration": {"GCMMessage": {"Title": "t", "Body": "b"}}}))
    r = resp["MessageResponse"]["EndpointResult"]["android-1"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert r["StatusCode"] == 404 and "UNREGISTERED" in r["StatusMessage"], r

    def inactive():
        ep = d.aws("get-endpoint", "--application-id", app, "--endpoint-id", "android-1")
        return ep["EndpointResponse"]["EndpointStatus"] == "INACTIVE"
    harness.wait_until(inactive, timeout=5, what="endpoint INACTIVE")
    sim.configure(unregistered_tokens=[])


def test_invalid_argument_is_permanent():
    sim = state["sim"]
    before = sim.stats()
    # FCM itself refuses the ttl: the simulator answers 400 INVALID_ARGUMENT.
    raw = json.dumps({"message": {"android": {"ttl": "ten seconds"}, "data": {"a": "b"}}})
    r = send(["tok-raw"], {"RawContent": raw})["tok-raw"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert r["StatusCode"] == 400 and "INVALID_ARGUMENT" in r["StatusMessage"], r
    assert "ttl" in r["StatusMessage"], r
    assert sim.stats()["by_status"].get("400", 0) == before["by_status"].get("400", 0) + 1
    # Refused before sending: a non-string data value, and a payload over 4096 bytes.
    raw = json.dumps({"data": {"n": 1}})
    r = send(["tok-raw"], {"RawContent": raw})["tok-raw"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "RawContent.data" in r["StatusMessage"], r
    r = send(["tok-big"], {"Title": "t", "Body": "b", "Data": {"big": "x" * 4100}})["tok-big"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "4096" in r["StatusMessage"], r
    assert sim.stats()["received"] == before["received"] + 1, "refused messages are not sent"


def test_raw_content_sent_verbatim():
    raw = json.dumps({"message": {"token": "ignored", "data": {"x": "y"},
                                  "android": {"priority": "normal", "ttl": "3.5s"}}})
    r = send(["tok-raw2"], {"RawContent": raw})["tok-raw2"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    msg = last_messages(1)[0]["message"]
    assert msg == {"token": "tok-raw2", "data": {"x": "y"},
                   "android": {"priority": "normal", "ttl": "3.5s"}}, msg


def test_quota_exceeded_honours_retry_after():
    sim = state["sim"]
    sim.configure(throttle_next=1, retry_after="1")
    start = time.monotonic()
    r = send(["tok-q"])["tok-q"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert time.monotonic() - start >= 0.9, "the retry waited for Retry-After"
    # A Retry-After beyond the request's deadline: the answer is THROTTLED.
    sim.configure(throttle_next=5, retry_after="30")
    r = send(["tok-q"])["tok-q"]
    assert r["DeliveryStatus"] == "THROTTLED" and r["StatusCode"] == 429, r
    assert "QUOTA_EXCEEDED" in r["StatusMessage"], r
    sim.configure(throttle_next=0, retry_after="1")


def test_unavailable_and_internal_are_retried():
    sim = state["sim"]
    before = sim.stats()["by_status"]
    sim.configure(unavailable_next=1, retry_after="0")
    assert send(["tok-u"])["tok-u"]["DeliveryStatus"] == "SUCCESSFUL"
    sim.configure(internal_next=1)
    assert send(["tok-i"])["tok-i"]["DeliveryStatus"] == "SUCCESSFUL"
    after = sim.stats()["by_status"]
    assert after.get("503", 0) == before.get("503", 0) + 1, after
    assert after.get("500", 0) == before.get("500", 0) + 1, after
    sim.configure(unavailable_next=100, retry_after="0")
    r = send(["tok-u"])["tok-u"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE" and r["StatusCode"] == 503, r
    sim.configure(unavailable_next=0, retry_after="1")


def test_token_refresh_on_401_and_on_expiry():
    sim = state["sim"]
    sim.configure(token_ttl=2)
    before = sim.stats()
    sim.revoke()  # the cached token is refused from now on: 401, refresh once, retry once
    r = send(["tok-r"])["tok-r"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    mid = sim.stats()
    assert mid["auth_failures"] == before["auth_failures"] + 1, mid
    assert mid["tokens_issued"] == before["tokens_issued"] + 1, mid
    # The new token lives 2 s: after that it is refreshed before use, with no 401.
    time.sleep(2.2)
    r = send(["tok-r"])["tok-r"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    after = sim.stats()
    assert after["tokens_issued"] == mid["tokens_issued"] + 1, after
    assert after["auth_failures"] == mid["auth_failures"], after
    sim.configure(token_ttl=3600)


def test_streams_end_without_resets_and_metrics_show_them():
    """Finished streams end with the server's END_STREAM: the client does not reset them (a
    server's rapid-reset defence would close a connection that did), and /metrics shows the
    HTTP/2 connection kept open to FCM."""
    sim = state["sim"]
    before = sim.stats()
    result = send([f"tok-s{i}" for i in range(20)])
    assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in result.values()), result
    after = sim.stats()
    assert after["http2_requests"] >= before["http2_requests"] + 20, after
    assert after["http2_resets_received"] == before["http2_resets_received"], after
    connections, streams = push_sims.provider_gauges(state["daemon"], "GCM")
    assert connections is not None and connections >= 1, connections
    assert streams == 0, streams  # every answered request has left the gauge


def test_unanswered_send_fails_at_its_deadline():
    """FCM never answers: the stream is cancelled when the delivery's deadline passes and the
    result is TEMPORARY_FAILURE; the connection keeps serving other sends."""
    sim = state["sim"]
    sim.configure(silent_tokens=["tok-hang"])
    before = sim.stats()
    r = send(["tok-hang"])["tok-hang"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
    assert "deadline" in r["StatusMessage"], r
    after = sim.stats()
    assert after["http2_resets_received"] > before["http2_resets_received"], after
    assert after["http2_connections"] == before["http2_connections"], after
    sim.configure(silent_tokens=[])
    assert send(["tok-after-hang"])["tok-after-hang"]["DeliveryStatus"] == "SUCCESSFUL"


def test_failing_token_endpoint_backs_off():
    sim = state["sim"]
    sim.revoke()
    sim.configure(token_fail_next=1000)
    before = sim.stats()["token_requests"]
    r = send(["tok-t"])["tok-t"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
    assert "access token" in r["StatusMessage"], r
    r = send(["tok-t2"])["tok-t2"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
    # Two requests of several attempts each within ~6 s: the backoff (1 s, 2 s, 4 s ...) keeps
    # the token requests to a handful instead of one per attempt.
    asked = sim.stats()["token_requests"] - before
    assert 1 <= asked <= 4, asked
    sim.configure(token_fail_next=0)
    harness.wait_until(lambda: send(["tok-t3"])["tok-t3"]["DeliveryStatus"] == "SUCCESSFUL",
                       timeout=20, interval=1, what="recovery after the token endpoint is back")


def test_rejected_credentials_are_permanent():
    sim = state["sim"]
    sim.revoke()
    sim.configure(token_reject=True)
    r = send(["tok-x"])["tok-x"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "invalid_grant" in r["StatusMessage"], r
    sim.configure(token_reject=False)


def test_legacy_api_key_says_so():
    d = state["daemon"]
    app = d.aws("create-app", "--create-application-request",
                json.dumps({"Name": "legacy"}))["ApplicationResponse"]["Id"]
    resp = d.aws("update-gcm-channel", "--application-id", app, "--gcm-channel-request",
                 json.dumps({"ApiKey": "AAAA-legacy-server-key", "Enabled": True}))
    assert resp["GCMChannelResponse"]["DefaultAuthenticationMethod"] == "KEY", resp
    r = send(["tok-l"], app=app)["tok-l"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "legacy" in r["StatusMessage"] and "ServiceJson" in r["StatusMessage"], r


def test_http1_provider():
    """The same channel against the simulator's HTTP/1.1 port (a provider without HTTP/2)."""
    sim = state["sim"]
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, env={**sim.env(http2=False),
                                             "REPOINT_DIRECT_DEADLINE_MS": "3000"})
    try:
        daemon.start()
        app = daemon.aws("create-app", "--create-application-request",
                         json.dumps({"Name": "h1"}))["ApplicationResponse"]["Id"]
        daemon.aws("update-gcm-channel", "--application-id", app, "--gcm-channel-request",
                   json.dumps({"ServiceJson": sim.service_json()}))
        before = sim.stats()["http1_requests"]
        resp = daemon.aws("send-messages", "--application-id", app, "--message-request",
                          json.dumps({"Addresses": {"tok-h1": {"ChannelType": "GCM"}},
                                      "MessageConfiguration": {"GCMMessage": {"Body": "b"}}}))
        r = resp["MessageResponse"]["Result"]["tok-h1"]
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        assert last_messages(1)[0]["protocol"] == "http/1.1"
        assert sim.stats()["http1_requests"] >= before + 2  # the token and the send
        # 200 at once, more than the transport keeps in libcurl (100): the rest wait their turn.
        import concurrent.futures

        def batch(k):
            addresses = {f"tok-h1-{k}-{i}": {"ChannelType": "GCM"} for i in range(100)}
            return daemon.aws("send-messages", "--application-id", app, "--message-request",
                              json.dumps({"Addresses": addresses, "MessageConfiguration":
                                          {"GCMMessage": {"Body": "b"}}}))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            for resp in pool.map(batch, (0, 1)):
                results = resp["MessageResponse"]["Result"]
                assert len(results) == 100
                assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in results.values()), results
        assert {m["protocol"] for m in last_messages(200)} == {"http/1.1"}
    finally:
        daemon.cleanup()
        redis.cleanup()


def main():
    push_sims.run_channel_tests(push_sims.FcmSim, "fcm", state, [
        test_update_gcm_channel_with_service_json, test_send_success_over_http2,
        test_one_token_serves_many_sends, test_more_sends_than_the_transport_keeps_in_flight,
        test_silent_push_is_data_only,
        test_unregistered_token_deactivates_endpoint, test_invalid_argument_is_permanent,
        test_raw_content_sent_verbatim, test_quota_exceeded_honours_retry_after,
        test_unavailable_and_internal_are_retried, test_token_refresh_on_401_and_on_expiry,
        test_streams_end_without_resets_and_metrics_show_them,
        test_unanswered_send_fails_at_its_deadline,
        test_failing_token_endpoint_backs_off, test_rejected_credentials_are_permanent,
        test_legacy_api_key_says_so, test_http1_provider,
    ])


if __name__ == "__main__":
    main()
