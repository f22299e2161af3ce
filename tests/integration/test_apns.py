"""The APNs channels end to end: the real AWS CLI configures the channels (update-apns-channel
and friends, with a .p8 key and a client certificate generated here) and sends
(send-messages); Repoint delivers over TLS + HTTP/2 to tests/sim/apns_sim, which verifies the
ES256 provider token against the .p8's public key, the client certificate against its CA, the
topic, headers and payload size, and records what it accepts. Covers token and certificate
auth, the sandbox and VoIP channels, provider-token renewal on ExpiredProviderToken, 410
deactivating an endpoint, error mapping, and GOAWAY with thousands of streams open."""
import json
import os
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from apns_sim import ApnsSim, Credentials  # noqa: E402

state = {}
BUNDLE = "com.example.repoint"


def token(i):
    return f"{i:064x}"


def cli_send(app, addresses, channel="APNS", message=None):
    message = message or {"Title": "Hello", "Body": "from the CLI"}
    resp = state["daemon"].aws("send-messages", "--application-id", app, "--message-request",
                               json.dumps({
                                   "Addresses": {a: {"ChannelType": channel} for a in addresses},
                                   "MessageConfiguration": {"APNSMessage": message}}))
    return resp["MessageResponse"]["Result"]


def accepted_for(sim, tok):
    return [n for n in sim.notifications() if n["token"] == tok]


def test_token_auth_fields():
    sim, app = state["prod"], state["token_app"]
    msg = {"Title": "Order", "Body": "Shipped", "Sound": "ping.aiff", "Badge": 4,
           "Category": "SHIP", "ThreadId": "orders", "MediaUrl": "https://cdn.example.com/a.png",
           "Action": "DEEP_LINK", "Url": "shop://orders/42", "Data": {"order": "42"},
           "TimeToLive": 3600, "Priority": "normal", "CollapseId": "order-42"}
    before = time.time()
    result = cli_send(app, [token(1)], message=msg)[token(1)]
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    assert result["StatusCode"] == 200, result
    got = accepted_for(sim, token(1))
    assert len(got) == 1, got
    n = got[0]
    assert result["MessageId"] == n["apns_id"], (result, n)
    assert n["auth"] == "token" and n["kid"] == "ABC123DEFG" and n["team"] == "TEAM123456", n
    assert n["topic"] == BUNDLE and n["push_type"] == "alert" and n["priority"] == "5", n
    assert n["collapse_id"] == "order-42", n
    assert before + 3600 - 5 <= int(n["expiration"]) <= time.time() + 3600 + 5, n
    p = n["payload"]
    assert p["aps"]["alert"] == {"title": "Order", "body": "Shipped"}, p
    assert p["aps"]["sound"] == "ping.aiff" and p["aps"]["badge"] == 4, p
    assert p["aps"]["category"] == "SHIP" and p["aps"]["thread-id"] == "orders", p
    assert p["aps"]["mutable-content"] == 1, p
    assert p["data"]["media-url"] == "https://cdn.example.com/a.png", p
    assert p["data"]["pinpoint"]["deeplink"] == "shop://orders/42", p
    assert p["data"]["pinpoint"]["jsonBody"] == {"order": "42"}, p
    assert n["environment"] == "production", n


def test_silent_and_raw():
    sim, app = state["prod"], state["token_app"]
    r = cli_send(app, [token(2)], message={"SilentPush": True, "Data": {"sync": "1"}})[token(2)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    n = accepted_for(sim, token(2))[0]
    assert n["push_type"] == "background" and n["priority"] == "5", n
    assert n["payload"]["aps"] == {"content-available": 1}, n
    raw = '{"aps":{"alert":"raw text"},"k":[1,2,3]}'
    r = cli_send(app, [token(3)], message={"RawContent": raw})[token(3)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert accepted_for(sim, token(3))[0]["payload"] == json.loads(raw)


def test_payload_too_large_is_not_sent():
    sim, app = state["prod"], state["token_app"]
    received = sim.stats()["received"]
    r = cli_send(app, [token(4)], message={"Body": "x" * 5000})[token(4)]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "4096" in r["StatusMessage"], r
    assert sim.stats()["received"] == received


def test_error_mapping():
    sim, app = state["prod"], state["token_app"]
    sim.config(wrong_topic_tokens=[token(5)])
    r = cli_send(app, [token(5), "abcdef0123"])
    assert r[token(5)]["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "DeviceTokenNotForTopic" in r[token(5)]["StatusMessage"], r
    assert r["abcdef0123"]["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "BadDeviceToken" in r["abcdef0123"]["StatusMessage"], r
    # A burst of 503s is retried by the worker until the simulator recovers.
    sim.config(fail_next=2, fail_status=503, fail_reason="ServiceUnavailable")
    r = cli_send(app, [token(6)])[token(6)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert sim.stats()["by_reason"].get("ServiceUnavailable") == 2
    # 429 TooManyRequests for one device, for longer than the request may wait: THROTTLED
    # there (retried with backoff until the deadline), the other recipient is delivered.
    sim.config(throttled_tokens=[token(14)])
    r = cli_send(app, [token(14), token(15)])
    assert r[token(14)]["DeliveryStatus"] == "THROTTLED", r
    assert r[token(15)]["DeliveryStatus"] == "SUCCESSFUL", r
    assert accepted_for(sim, token(14)) == []


def test_410_deactivates_endpoint():
    sim, app, c = state["prod"], state["token_app"], state["client"]
    c.update_endpoint(ApplicationId=app, EndpointId="phone-dead", EndpointRequest={
        "ChannelType": "APNS", "Address": token(8)})
    c.update_endpoint(ApplicationId=app, EndpointId="phone-renewed", EndpointRequest={
        "ChannelType": "APNS", "Address": token(9)})
    now_ms = int(time.time() * 1000)
    # token(8) died after its endpoint was written; token(9)'s endpoint is newer than its 410.
    sim.config(dead_tokens={token(8): now_ms + 60000, token(9): now_ms - 3600 * 1000})
    resp = state["daemon"].aws("send-messages", "--application-id", app, "--message-request",
                               json.dumps({"Endpoints": {"phone-dead": {}, "phone-renewed": {}},
                                           "MessageConfiguration": {
                                               "APNSMessage": {"Body": "are you there?"}}}))
    er = resp["MessageResponse"]["EndpointResult"]
    for eid in ("phone-dead", "phone-renewed"):
        assert er[eid]["DeliveryStatus"] == "PERMANENT_FAILURE", er
        assert er[eid]["StatusCode"] == 410 and "Unregistered" in er[eid]["StatusMessage"], er

    def status(eid):
        return c.get_endpoint(ApplicationId=app, EndpointId=eid)["EndpointResponse"]["EndpointStatus"]
    harness.wait_until(lambda: status("phone-dead") == "INACTIVE", what="endpoint INACTIVE")
    time.sleep(0.3)
    assert status("phone-renewed") == "ACTIVE"


def test_expired_provider_token_renews_once():
    sim, app, d = state["prod"], state["token_app"], state["daemon"]
    r = cli_send(app, [token(10)])[token(10)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    time.sleep(1.1)  # the next token's iat (seconds) must be later than the expired one's
    sim.config(expire_tokens_before=int(time.time()))
    verified = sim.stats()["tokens_verified"]
    r = cli_send(app, [token(11)])[token(11)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    s = sim.stats()
    assert s["by_reason"].get("ExpiredProviderToken") == 1, s
    assert s["tokens_verified"] > verified, s
    assert len(accepted_for(sim, token(11))) == 1
    assert "provider token expired: renewing it" in d.logs()
    # Later sends reuse the renewed token: no further ExpiredProviderToken, and no new token
    # (the simulator now answers a key's new token within the hour with 429).
    sim.config(token_update_min_s=3600)
    try:
        r = cli_send(app, [token(12), token(13)])
    finally:
        sim.config(token_update_min_s=0)
    assert all(v["DeliveryStatus"] == "SUCCESSFUL" for v in r.values()), r
    s = sim.stats()
    assert s["by_reason"].get("ExpiredProviderToken") == 1, s
    assert "TooManyProviderTokenUpdates" not in s["by_reason"], s


def test_certificate_auth():
    sim, app = state["prod"], state["cert_app"]
    r = cli_send(app, [token(20)])[token(20)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    n = accepted_for(sim, token(20))[0]
    assert n["auth"] == "certificate" and n["certificate"].endswith(BUNDLE), n
    assert "kid" not in n and n["topic"] is None, n
    assert "APNs certificate in use" in state["daemon"].logs()
    # Operators alert on the expiry from /metrics, and on token and connection counts.
    with urllib.request.urlopen(state["daemon"].url + "/metrics", timeout=5) as resp:
        metrics = resp.read().decode()
    assert re.search(r'^repoint_certificate_expiry_timestamp_seconds\{subject="[^"]*",'
                     r'channel="APNS"\} [1-9][0-9]{9}$', metrics, re.M), metrics[-3000:]
    assert re.search(r'^repoint_provider_token_refreshes_total\{channel="APNS"\} [1-9]', metrics,
                     re.M)
    assert re.search(r'^repoint_provider_connections\{channel="APNS"\} [1-9]', metrics, re.M)
    # The message may ask for the other method when the channel has both credentials.
    both = state["both_app"]
    r = cli_send(both, [token(21)], message={"Body": "x", "PreferredAuthenticationMethod":
                                             "CERTIFICATE"})[token(21)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert accepted_for(sim, token(21))[0]["auth"] == "certificate"
    r = cli_send(both, [token(22)])[token(22)]
    assert accepted_for(sim, token(22))[0]["auth"] == "token"
    # A certificate from a CA the server does not trust: the handshake fails, nothing is
    # accepted, the send is not SUCCESSFUL.
    stranger = Credentials(BUNDLE)
    c = state["client"]
    app = c.create_app(CreateApplicationRequest={"Name": "stranger"})["ApplicationResponse"]["Id"]
    c.update_apns_channel(ApplicationId=app, APNSChannelRequest=stranger.certificate_channel())
    opened = sim.stats()["connections_opened"]
    r = cli_send(app, [token(23)])[token(23)]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
    assert accepted_for(sim, token(23)) == []
    assert sim.stats()["connections_opened"] == opened  # refused in the TLS handshake


def test_sandbox_and_voip_topics():
    prod, sandbox, app = state["prod"], state["sandbox"], state["token_app"]
    r = cli_send(app, [token(30)], channel="APNS_SANDBOX")[token(30)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert accepted_for(prod, token(30)) == []
    n = accepted_for(sandbox, token(30))[0]
    assert n["environment"] == "sandbox" and n["topic"] == BUNDLE, n
    r = cli_send(app, [token(31)], channel="APNS_VOIP", message={"Body": "y" * 4500})[token(31)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r  # 5 KB allowed for VoIP
    n = accepted_for(prod, token(31))[0]
    assert n["topic"] == BUNDLE + ".voip" and n["push_type"] == "voip", n
    r = cli_send(app, [token(32)], channel="APNS_VOIP_SANDBOX")[token(32)]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    n = accepted_for(sandbox, token(32))[0]
    assert n["topic"] == BUNDLE + ".voip", n


def test_bad_ca_fails_without_spinning():
    """A server the client cannot verify: TLS fails, the send fails TEMPORARY, no busy loop."""
    redis = harness.Redis().start()
    sim = ApnsSim(state["creds"])
    other = harness.Repoint(redis.url, env={
        "REPOINT_APNS_PRODUCTION_URL": sim.url,
        "REPOINT_TLS_CA_FILE": os.path.join(harness.SOURCE_DIR, "tests/sim/testca/other-ca.pem"),
        "REPOINT_DIRECT_DEADLINE_MS": "2000", "REPOINT_QUEUE_MAX_ATTEMPTS": "1"})
    try:
        other.start()
        c = other.client()
        app = c.create_app(CreateApplicationRequest={"Name": "bad-ca"})["ApplicationResponse"]["Id"]
        c.update_apns_channel(ApplicationId=app, APNSChannelRequest=state["creds"].token_channel())
        r = c.send_messages(ApplicationId=app, MessageRequest={
            "Addresses": {token(40): {"ChannelType": "APNS"}},
            "MessageConfiguration": {"APNSMessage": {"Body": "x"}}})["MessageResponse"]["Result"]
        r = r[token(40)]
        assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
        assert "certificate verify failed" in r["StatusMessage"], r
        for _ in range(5):  # new sends during the backoff fail at once, without connecting
            r = c.send_messages(ApplicationId=app, MessageRequest={
                "Addresses": {token(41): {"ChannelType": "APNS"}},
                "MessageConfiguration": {"APNSMessage": {"Body": "x"}}})["MessageResponse"]
            assert r["Result"][token(41)]["DeliveryStatus"] == "TEMPORARY_FAILURE", r
        # Backoff: a handful of connection attempts in two seconds, not thousands.
        assert sim.stats()["connections_opened"] == 0
        logs = other.logs()
        assert 1 <= logs.count("cannot connect to APNs") <= 8, logs.count("cannot connect to APNs")
    finally:
        other.cleanup()
        redis.cleanup()
        sim.stop()


def test_goaway_with_thousands_in_flight():
    """GOAWAY after 500 streams per connection while 3,000 notifications are open at once (30
    concurrent SendMessages of 100, answers held 400 ms): every token is accepted exactly once
    and every send succeeds."""
    import concurrent.futures
    sim, app, d = state["prod"], state["token_app"], state["daemon"]
    sim.reset()
    sim.config(goaway_after=500, latency_ms=400, max_streams=1000)
    tokens = [f"{0xbeef0000 + i:064x}" for i in range(3000)]
    clients = [d.client() for _ in range(30)]

    def send(k):
        batch = tokens[k * 100:(k + 1) * 100]
        return clients[k].send_messages(ApplicationId=app, MessageRequest={
            "Addresses": {t: {"ChannelType": "APNS"} for t in batch},
            "MessageConfiguration": {"APNSMessage": {"Body": "flood"}}})["MessageResponse"]["Result"]
    results = {}
    try:
        with concurrent.futures.ThreadPoolExecutor(30) as pool:
            for r in pool.map(send, range(30)):
                results.update(r)
    finally:
        sim.config(goaway_after=0, latency_ms=0)
    statuses = {}
    for r in results.values():
        statuses[r["DeliveryStatus"]] = statuses.get(r["DeliveryStatus"], 0) + 1
    assert statuses == {"SUCCESSFUL": 3000}, statuses
    s = sim.stats()
    assert s["goaways"] >= 5, s
    assert s["max_held"] >= 1000, s  # thousands of streams open at once
    seen = {}
    for n in sim.notifications():
        seen[n["token"]] = seen.get(n["token"], 0) + 1
    assert set(seen) == set(tokens), len(set(tokens) - set(seen))
    assert max(seen.values()) == 1, [t for t, k in seen.items() if k > 1][:5]
    assert "APNs sent GOAWAY" in d.logs()


def test_pool_growth_ceiling_ping_and_idle():
    """A server allowing 20 streams per connection, answers held 300 ms, 300 notifications at
    once: the pool grows to apns.max_connections (3) and no further, queues the rest, loses
    nothing; a quiet connection is PINGed (apns.ping_interval_seconds 1) and closed after
    apns.idle_timeout_seconds (5)."""
    import concurrent.futures
    creds = state["creds"]
    sim = ApnsSim(creds, extra=["--max-streams", "20"])
    redis = harness.Redis().start()
    d = harness.Repoint(redis.url, env={
        "REPOINT_APNS_PRODUCTION_URL": sim.url,
        "REPOINT_TLS_CA_FILE": os.path.join(harness.SOURCE_DIR, "tests/sim/testca/ca.pem"),
        "REPOINT_APNS_MAX_CONNECTIONS": "3", "REPOINT_APNS_PING_INTERVAL_SECONDS": "1",
        "REPOINT_APNS_IDLE_TIMEOUT_SECONDS": "5", "REPOINT_QUEUE_IN_FLIGHT": "1000",
        "REPOINT_HTTP_THREADS": "8", "REPOINT_DIRECT_DEADLINE_MS": "8000"})
    try:
        d.start()
        c = d.client()
        app = c.create_app(CreateApplicationRequest={"Name": "pool"})["ApplicationResponse"]["Id"]
        c.update_apns_channel(ApplicationId=app, APNSChannelRequest=creds.token_channel())
        sim.config(latency_ms=300)
        tokens = [f"{0xa0000 + i:064x}" for i in range(300)]
        clients = [d.client() for _ in range(3)]

        def send(k):
            return clients[k].send_messages(ApplicationId=app, MessageRequest={
                "Addresses": {t: {"ChannelType": "APNS"} for t in tokens[k * 100:(k + 1) * 100]},
                "MessageConfiguration": {"APNSMessage": {"Body": "pool"}}})["MessageResponse"]["Result"]
        results = {}
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            for r in pool.map(send, range(3)):
                results.update(r)
        assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in results.values()), results
        s = sim.stats()
        assert s["accepted"] == 300, s
        assert s["max_connections_open"] == 3, s  # grew to the ceiling, not past it
        assert s["max_held"] <= 3 * 20, s  # never more streams than SETTINGS allow
        pings = s["pings"]
        harness.wait_until(lambda: sim.stats()["pings"] > pings, timeout=4, what="a PING")
        harness.wait_until(lambda: sim.stats()["connections_open"] == 0, timeout=10,
                           what="idle connections closed")
        # A send after the idle close reconnects.
        r = c.send_messages(ApplicationId=app, MessageRequest={
            "Addresses": {token(50): {"ChannelType": "APNS"}},
            "MessageConfiguration": {"APNSMessage": {"Body": "again"}}})["MessageResponse"]
        assert r["Result"][token(50)]["DeliveryStatus"] == "SUCCESSFUL", r
    finally:
        d.cleanup()
        redis.cleanup()
        sim.stop()


def main():
    creds = Credentials(BUNDLE)
    state["creds"] = creds
    prod = ApnsSim(creds, "production")
    sandbox = ApnsSim(creds, "sandbox")
    state["prod"], state["sandbox"] = prod, sandbox
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={
            "REPOINT_APNS_PRODUCTION_URL": prod.url, "REPOINT_APNS_SANDBOX_URL": sandbox.url,
            "REPOINT_TLS_CA_FILE": os.path.join(harness.SOURCE_DIR, "tests/sim/testca/ca.pem"),
            "REPOINT_QUEUE_RETRY_BASE_MS": "100", "REPOINT_QUEUE_IN_FLIGHT": "5000", "REPOINT_HTTP_THREADS": "40",
            "REPOINT_DIRECT_DEADLINE_MS": "5000"})
        daemon.start()
        state["daemon"] = daemon
        client = daemon.client()
        state["client"] = client

        def new_app(name):
            return daemon.aws("create-app", "--create-application-request",
                              json.dumps({"Name": name}))["ApplicationResponse"]["Id"]
        token_app = new_app("apns-token")
        for cmd, arg in (("update-apns-channel", "--apns-channel-request"),
                         ("update-apns-sandbox-channel", "--apns-sandbox-channel-request"),
                         ("update-apns-voip-channel", "--apns-voip-channel-request"),
                         ("update-apns-voip-sandbox-channel", "--apns-voip-sandbox-channel-request")):
            resp = daemon.aws(cmd, "--application-id", token_app, arg,
                              json.dumps(creds.token_channel()))
            body = next(iter(resp.values()))
            assert body["HasTokenKey"] is True and "TokenKey" not in body, body
        cert_app = new_app("apns-cert")
        daemon.aws("update-apns-channel", "--application-id", cert_app, "--apns-channel-request",
                   json.dumps(creds.certificate_channel()))
        both_app = new_app("apns-both")
        daemon.aws("update-apns-channel", "--application-id", both_app, "--apns-channel-request",
                   json.dumps({**creds.certificate_channel(), **creds.token_channel()}))
        state.update(token_app=token_app, cert_app=cert_app, both_app=both_app)
        harness.run_tests([
            test_token_auth_fields,
            test_silent_and_raw,
            test_payload_too_large_is_not_sent,
            test_error_mapping,
            test_410_deactivates_endpoint,
            test_expired_provider_token_renews_once,
            test_certificate_auth,
            test_sandbox_and_voip_topics,
            test_bad_ca_fails_without_spinning,
            test_goaway_with_thousands_in_flight,
            test_pool_growth_ceiling_ping_and_idle,
        ])
    except BaseException as e:
        if not (isinstance(e, SystemExit) and not e.code) and daemon is not None:
            sys.stderr.write("---- repoint log (tail) ----\n" + daemon.logs()[-8000:] + "\n")
        raise
    finally:
        if daemon is not None:
            daemon.cleanup()
        redis.cleanup()
        prod.stop()
        sandbox.stop()


if __name__ == "__main__":
    main()
