"""The path of one message, end to end through the SMS channel: the real AWS CLI and boto3 send
to addresses, endpoint ids and users; the Twilio simulator counts what arrives; each
DeliveryStatus path is provoked; events land on rp:events; delivery receipts come back signed."""
import base64
import hashlib
import hmac
import json
import os
import sys
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

state = {}


def events():
    return state["redis"].events()


def events_for(message_ids):
    ids = set(message_ids)
    return [e for e in events() if e.get("attributes", {}).get("message_id") in ids]


def send(addresses, body="hello", **extra):
    c = state["client"]
    request = {"Addresses": {a: {"ChannelType": "SMS"} for a in addresses},
               "MessageConfiguration": {"SMSMessage": {"Body": body, **extra}}}
    return c.send_messages(ApplicationId=state["app"], MessageRequest=request)["MessageResponse"]


def test_cli_send_to_addresses():
    d, sim = state["daemon"], state["sim"]
    before = sim.stats()["accepted"]
    resp = d.aws("send-messages", "--application-id", state["app"], "--message-request", json.dumps({
        "Addresses": {"+14155550100": {"ChannelType": "SMS"},
                      "+14155550101": {"ChannelType": "SMS", "BodyOverride": "Hi {{name}}!",
                                       "Substitutions": {"name": ["Ann"]}}},
        "MessageConfiguration": {"SMSMessage": {"Body": "hello from the CLI",
                                                "MessageType": "TRANSACTIONAL"}},
        "Context": {"campaign": "welcome"}}))
    result = resp["MessageResponse"]["Result"]
    assert set(result) == {"+14155550100", "+14155550101"}, resp
    for r in result.values():
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        assert r["StatusCode"] in (200, 201), r
        assert r["MessageId"].startswith("SM"), r
    assert resp["MessageResponse"]["ApplicationId"] == state["app"]
    assert sim.stats()["accepted"] == before + 2
    bodies = {m["to"]: m["body"] for m in sim.messages()["messages"]}
    assert bodies["+14155550100"] == "hello from the CLI"
    assert bodies["+14155550101"] == "Hi Ann!"
    # Events: one _SMS.SUCCESS per message, carrying the provider's id and the Context.
    sids = {r["MessageId"] for r in result.values()}
    found = [e for e in events() if e["attributes"].get("provider_message_id") in sids and
             e["attributes"].get("receipt") != "true"]
    assert len(found) == 2, found
    for e in found:
        assert e["event_type"] == "_SMS.SUCCESS", e
        assert e["attributes"].get("campaign") == "welcome", e
        assert "hello" not in json.dumps(e), "events never carry the message body"


def test_send_to_endpoints_and_users():
    c, app, sim = state["client"], state["app"], state["sim"]
    c.update_endpoint(ApplicationId=app, EndpointId="phone-1", EndpointRequest={
        "ChannelType": "SMS", "Address": "+14155550110", "User": {"UserId": "alice"}})
    c.update_endpoint(ApplicationId=app, EndpointId="phone-2", EndpointRequest={
        "ChannelType": "SMS", "Address": "+14155550111", "User": {"UserId": "alice"}})
    resp = c.send_messages(ApplicationId=app, MessageRequest={
        "Endpoints": {"phone-1": {"BodyOverride": "for endpoint one"}, "missing": {}},
        "MessageConfiguration": {"SMSMessage": {"Body": "default"}}})["MessageResponse"]
    er = resp["EndpointResult"]
    assert er["phone-1"]["DeliveryStatus"] == "SUCCESSFUL", er
    assert er["phone-1"]["Address"] == "+14155550110", er
    assert er["missing"]["DeliveryStatus"] == "PERMANENT_FAILURE", er
    assert any(m["body"] == "for endpoint one" for m in sim.messages()["messages"])
    users = c.send_users_messages(ApplicationId=app, SendUsersMessageRequest={
        "Users": {"alice": {}}, "MessageConfiguration": {"SMSMessage": {"Body": "to alice"}}})
    result = users["SendUsersMessageResponse"]["Result"]["alice"]
    assert set(result) == {"phone-1", "phone-2"}, result
    assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in result.values()), result


def test_permanent_failure_invalid_number():
    state["sim"].configure(invalid_numbers=["+14155550199"])
    result = send(["+14155550199"])["Result"]["+14155550199"]
    assert result["DeliveryStatus"] == "PERMANENT_FAILURE", result
    assert result["StatusCode"] == 400, result


def test_temporary_failure_after_retries():
    """The provider keeps answering 500: retried with backoff within the deadline, then
    TEMPORARY_FAILURE."""
    sim = state["sim"]
    before = sim.stats()["received"]
    sim.configure(fail_next=1000, fail_status=500)
    try:
        result = send(["+14155550120"])["Result"]["+14155550120"]
    finally:
        sim.configure(fail_next=0)
    assert result["DeliveryStatus"] == "TEMPORARY_FAILURE", result
    assert sim.stats()["received"] - before >= 2, "a temporary failure is retried"


def test_throttled_by_provider():
    """429 with a Retry-After past the request's deadline: THROTTLED, not sent later."""
    sim = state["sim"]
    sim.configure(throttle_next=1000, retry_after=30)
    try:
        result = send(["+14155550130"])["Result"]["+14155550130"]
    finally:
        sim.configure(throttle_next=0)
    assert result["DeliveryStatus"] == "THROTTLED", result


def test_throttled_by_messages_per_second():
    d, app = state["daemon"], state["app"]
    status, _, body = harness.signed_request(d.url, "PUT", f"/repoint/v1/apps/{app}/channels/sms/limits",
                                             body=json.dumps({"MessagesPerSecond": 1}).encode())
    assert status == 200, body
    try:
        addresses = [f"+1415555{2000 + i}" for i in range(20)]
        result = send(addresses)["Result"]
        statuses = [r["DeliveryStatus"] for r in result.values()]
        assert "THROTTLED" in statuses, statuses
        assert statuses.count("SUCCESSFUL") <= 1 + 3 + 1, statuses  # burst + ~3 s at 1/s
    finally:
        harness.signed_request(d.url, "DELETE", f"/repoint/v1/apps/{app}/channels/sms/limits")


def test_duplicate_address():
    c, app = state["client"], state["app"]
    c.update_endpoint(ApplicationId=app, EndpointId="dup", EndpointRequest={
        "ChannelType": "SMS", "Address": "+14155550140"})
    resp = c.send_messages(ApplicationId=app, MessageRequest={
        "Addresses": {"+14155550140": {"ChannelType": "SMS"}},
        "Endpoints": {"dup": {}},
        "MessageConfiguration": {"SMSMessage": {"Body": "once"}}})["MessageResponse"]
    assert resp["Result"]["+14155550140"]["DeliveryStatus"] == "SUCCESSFUL", resp
    assert resp["EndpointResult"]["dup"]["DeliveryStatus"] == "DUPLICATE", resp
    sent = [m for m in state["sim"].messages()["messages"] if m["to"] == "+14155550140"]
    assert len(sent) == 1, sent


def test_one_message_followed_through_the_log():
    """The API's request id (x-amzn-RequestId) leads from the SendMessages line to the line that
    records the delivery, whose message id leads to the SMS channel's provider line."""
    c = state["client"]
    raw = c.send_messages(ApplicationId=state["app"], MessageRequest={
        "Addresses": {"+14155550177": {"ChannelType": "SMS"}},
        "MessageConfiguration": {"SMSMessage": {"Body": "follow me"}}})
    request_id = raw["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    sid = raw["MessageResponse"]["Result"]["+14155550177"]["MessageId"]
    [event] = [e for e in events() if e["attributes"].get("provider_message_id") == sid and
               e["attributes"].get("receipt") != "true"]
    message_id = event["attributes"]["message_id"]

    def lines():
        return state["daemon"].logs().splitlines()
    harness.wait_until(lambda: any("msg=recorded" in line and message_id in line
                                   for line in lines()), what="the recorded line")
    mine = [line for line in lines() if f"request_id={request_id}" in line]
    assert any("op=SendMessages" in line for line in mine), mine
    assert any(f"msg=recorded id={message_id} channel=SMS outcome=final status=SUCCESSFUL"
               in line for line in mine), mine
    assert any(f"msg=sent id={message_id}" in line for line in lines())


def test_channel_not_configured():
    c = state["client"]
    other = c.create_app(CreateApplicationRequest={"Name": "no-sms"})["ApplicationResponse"]["Id"]
    resp = c.send_messages(ApplicationId=other, MessageRequest={
        "Addresses": {"+14155550150": {"ChannelType": "SMS"}},
        "MessageConfiguration": {"SMSMessage": {"Body": "x"}}})["MessageResponse"]
    r = resp["Result"]["+14155550150"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "not configured" in r["StatusMessage"], r


def test_bad_requests_name_the_field():
    c, app = state["client"], state["app"]
    cases = [
        ({"Addresses": {"4155550100": {"ChannelType": "SMS"}},
          "MessageConfiguration": {"SMSMessage": {"Body": "x"}}}, "Addresses["),
        ({"Addresses": {"+14155550100": {"ChannelType": "FAX"}},
          "MessageConfiguration": {"SMSMessage": {"Body": "x"}}}, "ChannelType"),
        ({"Addresses": {"+14155550100": {"ChannelType": "SMS"}},
          "MessageConfiguration": {}}, "Body"),
        ({"Addresses": {f"+1415555{3000 + i}": {"ChannelType": "SMS"} for i in range(101)},
          "MessageConfiguration": {"SMSMessage": {"Body": "x"}}}, "100"),
    ]
    for request, fragment in cases:
        try:
            c.send_messages(ApplicationId=app, MessageRequest=request)
            raise AssertionError(f"accepted {request}")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "BadRequestException", e.response
            assert fragment in e.response["Error"]["Message"], e.response["Error"]


def test_delivery_receipts():
    sim, d = state["sim"], state["daemon"]
    result = send(["+14155550160"])["Result"]["+14155550160"]
    sid = result["MessageId"]

    def receipt():
        return [e for e in events() if e["attributes"].get("receipt") == "true" and
                sid in json.dumps(e)]
    harness.wait_until(lambda: receipt(), timeout=10, what="the delivery receipt event")
    e = receipt()[0]
    assert e["event_type"] == "_SMS.SUCCESS" and e["attributes"]["record_status"] == "DELIVERED", e
    # A forged callback is refused.
    form = urllib.parse.urlencode({"MessageSid": sid, "MessageStatus": "failed"}).encode()
    req = urllib.request.Request(d.url + "/repoint/v1/sms/status", data=form, method="POST",
                                 headers={"X-Twilio-Signature": base64.b64encode(
                                     hmac.new(b"wrong", form, hashlib.sha1).digest()).decode(),
                                     "Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(req, timeout=5)
        raise AssertionError("a forged receipt was accepted")
    except urllib.error.HTTPError as err:
        assert err.code == 403


def test_sigterm_during_sends_exits_cleanly():
    """SIGTERM while SendMessages requests wait: every waiting request is answered and the
    process exits 0 (libmicrohttpd aborts if stopped with a request still suspended)."""
    import threading
    sim, redis = state["sim"], state["redis"]
    d = harness.Repoint(redis.url, env={**sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "3000"})
    d.key_path = state["daemon"].key_path  # share the key: the SMS settings are sealed with it
    d.env["REPOINT_SECRETS_KEY_FILE"] = state["daemon"].key_path
    d.start()
    sim.configure(latency_ms=200)
    stop = threading.Event()
    answered = []

    def hammer(n):
        c = d.client()
        i = 0
        while not stop.is_set():
            i += 1
            try:
                c.send_messages(ApplicationId=state["app"], MessageRequest={
                    "Addresses": {f"+1415556{n}{i % 1000:03d}": {"ChannelType": "SMS"}},
                    "MessageConfiguration": {"SMSMessage": {"Body": "bye"}}})
                answered.append(1)
            except Exception:
                answered.append(0)
    threads = [threading.Thread(target=hammer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    try:
        harness.wait_until(lambda: len(answered) >= 8, timeout=20, what="sends in flight")
        rc = d.stop()
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        sim.configure(latency_ms=0)
        d.cleanup()
    assert rc == 0, f"repoint exited {rc} on SIGTERM with requests waiting"


def main():
    sim = harness.SmsSim(extra_args=["--callbacks"]).start()
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={
            **sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "3000", "REPOINT_QUEUE_RETRY_BASE_MS": "100"})
        daemon.env["REPOINT_SMS_STATUS_CALLBACK_URL"] = daemon.url + "/repoint/v1/sms/status"
        daemon.start()
        client = daemon.client()
        app = client.create_app(CreateApplicationRequest={"Name": "sms"})["ApplicationResponse"]["Id"]
        client.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True,
                                                                       "SenderId": "Repoint"})
        state.update(sim=sim, redis=redis, daemon=daemon, client=client, app=app)
        try:
            harness.run_tests([
                test_cli_send_to_addresses, test_send_to_endpoints_and_users,
                test_permanent_failure_invalid_number, test_temporary_failure_after_retries,
                test_throttled_by_provider, test_throttled_by_messages_per_second,
                test_duplicate_address, test_one_message_followed_through_the_log,
                test_channel_not_configured,
                test_bad_requests_name_the_field, test_delivery_receipts,
                test_sigterm_during_sends_exits_cleanly,
            ])
        except SystemExit as e:
            if e.code:
                sys.stderr.write(daemon.logs()[-15000:])
            raise
    finally:
        if daemon:
            daemon.cleanup()
        redis.cleanup()
        sim.stop()


if __name__ == "__main__":
    main()
