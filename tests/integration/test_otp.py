"""One-time passwords end to end: the real AWS CLI and boto3 call SendOTPMessage, the code is
read where a phone would read it (the Twilio simulator), and VerifyOTPMessage is asked about
it: right and wrong codes, exhaustion, expiry, replacement, single use, concurrent guesses,
the documented bounds, the send limits, and the code's absence from events, dead letters and
the daemon's log (at debug level)."""
import json
import os
import re
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faults  # noqa: E402
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ORIGIN = "+12065550199"
state = {"codes": set()}


def new_app():
    """Each test has its own app, so the per-app send limit counts only its own sends."""
    c = state["client"]
    app = c.create_app(CreateApplicationRequest={"Name": "otp"})["ApplicationResponse"]["Id"]
    c.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True})
    return app


def send(app, destination, reference="login", **extra):
    # The SDKs' model requires BrandName (the API reference calls it optional; Repoint does).
    params = {"Channel": "SMS", "OriginationIdentity": ORIGIN, "DestinationIdentity": destination,
              "ReferenceId": reference, "BrandName": "Acme", **extra}
    return state["client"].send_otp_message(
        ApplicationId=app, SendOTPMessageRequestParameters=params)["MessageResponse"]


def verify(app, destination, otp, reference="login", client=None):
    c = client or state["client"]
    return c.verify_otp_message(ApplicationId=app, VerifyOTPMessageRequestParameters={
        "DestinationIdentity": destination, "Otp": otp, "ReferenceId": reference,
    })["VerificationResponse"]["Valid"]


def received(destination, since):
    return [m for m in state["sim"].messages(since)["messages"] if m["to"] == destination]


def last_code(destination, since, length=6):
    """The code in the newest message the simulator accepted for destination after seq since."""
    msgs = received(destination, since)
    assert msgs, f"no message reached {destination}"
    found = re.findall(r"(?<!\d)\d{%d}(?!\d)" % length, msgs[-1]["body"])
    assert len(found) == 1, msgs[-1]
    state["codes"].add(found[0])
    return found[0], msgs[-1]


def seq():
    msgs = state["sim"].messages()["messages"]
    return msgs[-1]["seq"] if msgs else 0


def wrong(code):
    return ("1" if code[0] != "1" else "2") + code[1:]


def test_cli_send_then_verify():
    d = state["daemon"]
    app, dest, before = new_app(), "+14155550100", seq()
    resp = d.aws("send-otp-message", "--application-id", app,
                 "--send-otp-message-request-parameters", json.dumps({
                     "Channel": "SMS", "OriginationIdentity": ORIGIN, "DestinationIdentity": dest,
                     "BrandName": "Acme", "ReferenceId": "signup-1"}))["MessageResponse"]
    assert resp["ApplicationId"] == app, resp
    result = resp["Result"][dest]
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    assert result["MessageId"].startswith("SM"), result
    code, msg = last_code(dest, before)
    assert msg["from"] == ORIGIN, msg
    assert msg["body"] == (f"Acme: Your verification code is {code}. It expires in 15 minutes. "
                           "Do not share it with anyone."), msg
    assert msg["sid"] == result["MessageId"]

    def check(otp):
        return d.aws("verify-otp-message", "--application-id", app,
                     "--verify-otp-message-request-parameters", json.dumps({
                         "DestinationIdentity": dest, "Otp": otp, "ReferenceId": "signup-1"}))
    assert check(wrong(code)) == {"VerificationResponse": {"Valid": False}}
    assert check(code) == {"VerificationResponse": {"Valid": True}}
    # Single use: the same right code a second time is no longer valid.
    assert check(code) == {"VerificationResponse": {"Valid": False}}
    # The send shows on the event stream like any SMS, without the code.
    evs = [e for e in events() if e["attributes"].get("provider_message_id") == result["MessageId"]]
    assert evs and evs[0]["event_type"] == "_SMS.SUCCESS", evs
    assert code not in json.dumps(evs), evs


def test_boto3_language_length_and_sender_id():
    app, dest, before = new_app(), "+14155550101", seq()
    resp = send(app, dest, CodeLength=8, Language="ja-JP", ValidityPeriod=30, BrandName="アクメ",
                OriginationIdentity="AcmeCo", EntityId="1101234567890123456",
                TemplateId="1107161234567890123")
    assert resp["Result"][dest]["DeliveryStatus"] == "SUCCESSFUL", resp
    code, msg = last_code(dest, before, length=8)
    assert msg["body"] == f"【アクメ】認証コードは{code}です。有効期限は30分です。このコードを他の人に教えないでください。", msg
    assert msg["from"] == "AcmeCo", msg
    # The DLT registration reaches the provider with the message.
    assert msg["entity_id"] == "1101234567890123456", msg
    assert msg["template_id"] == "1107161234567890123", msg
    assert verify(app, dest, code) is True
    # Another destination or reference never matches the code.
    before = seq()
    send(app, dest, reference="other", Language="de-DE")
    code2, msg = last_code(dest, before)
    assert msg["body"] == (f"Acme: Ihr Bestätigungscode lautet {code2}. Er ist 15 Minuten "
                           "gültig. Geben Sie ihn an niemanden weiter."), msg
    assert verify(app, "+14155550102", code2, reference="other") is False
    assert verify(app, dest, code2, reference="login") is False
    assert verify(app, dest, code2, reference="other") is True


def test_wrong_code_until_exhausted():
    app, dest, before = new_app(), "+14155550110", seq()
    send(app, dest, AllowedAttempts=2)
    code, _ = last_code(dest, before)
    assert verify(app, dest, wrong(code)) is False
    assert verify(app, dest, "not a code") is False
    # Both attempts are spent: the right code no longer opens it.
    assert verify(app, dest, code) is False
    # Default 3 attempts: two wrong, then right, is valid.
    before = seq()
    send(app, dest)
    code, _ = last_code(dest, before)
    assert verify(app, dest, wrong(code)) is False
    assert verify(app, dest, wrong(code)) is False
    assert verify(app, dest, code) is True


def record_keys(app):
    out = state["redis"].cli("--scan", "--pattern", f"rp:{{a:{app}}}:otp:*")
    return [k for k in out.split() if k]


def test_expiry():
    redis = state["redis"]
    app, dest, before = new_app(), "+14155550120", seq()
    send(app, dest, ValidityPeriod=5)
    code, _ = last_code(dest, before)
    keys = record_keys(app)
    assert len(keys) == 1, keys
    # Stored as a MAC with its expiry and attempts left; neither the code nor the number is
    # in the record or its name.
    fields = redis.cli("HGETALL", keys[0]).split()
    record = dict(zip(fields[::2], fields[1::2]))
    assert set(record) == {"h", "exp", "left"}, record
    assert re.fullmatch(r"[0-9a-f]{64}", record["h"]) and record["left"] == "3", record
    assert code not in keys[0] + record["h"] and "4155550120" not in keys[0], keys
    ttl = int(redis.cli("PTTL", keys[0]))
    assert 290_000 < ttl <= 300_000, ttl  # the record lives as long as the code, no longer
    # Age the record as five minutes would (test-only: the stored expiry moved to the past).
    redis.cli("HSET", keys[0], "exp", "1")
    assert verify(app, dest, code) is False
    assert record_keys(app) == [], "an expired record is removed when met"


def test_newer_send_replaces_the_code():
    app, dest, before = new_app(), "+14155550130", seq()
    send(app, dest)
    first, _ = last_code(dest, before)
    before = seq()
    send(app, dest)
    second, _ = last_code(dest, before)
    if first != second:
        assert verify(app, dest, first) is False
    assert verify(app, dest, second) is True
    assert len(record_keys(app)) == 0


def test_concurrent_guesses_are_counted_atomically():
    app, dest, before = new_app(), "+14155550140", seq()
    send(app, dest, AllowedAttempts=5)
    code, _ = last_code(dest, before)
    clients = [state["daemon"].client() for _ in range(5)]
    answers = []
    barrier = threading.Barrier(5)

    def guess(i):
        barrier.wait()
        answers.append(verify(app, dest, wrong(code), client=clients[i]))
    threads = [threading.Thread(target=guess, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == [False] * 5, answers
    # Five wrong guesses, however concurrent, spent all five attempts.
    assert verify(app, dest, code) is False
    # Concurrent right guesses: a code is used once.
    before = seq()
    send(app, dest, reference="twice")
    code, _ = last_code(dest, before)
    answers.clear()
    barrier = threading.Barrier(4)

    def right(i):
        barrier.wait()
        answers.append(verify(app, dest, code, reference="twice", client=clients[i]))
    threads = [threading.Thread(target=right, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(answers) == [False, False, False, True], answers


def bad(call, fragment):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BadRequestException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert fragment in e.response["Error"]["Message"], (fragment, e.response["Error"])
        return
    raise AssertionError(f"accepted: expected an error naming {fragment}")


def bad_raw(path, body, fragment):
    """The same through a request the SDKs would refuse to send (their model's own checks)."""
    status, _, answer = harness.signed_request(state["daemon"].url, "POST", path,
                                               body=json.dumps(body).encode())
    assert status == 400, (status, answer)
    assert fragment in answer["Message"], (fragment, answer)


def test_bounds_name_the_field():
    app, dest = new_app(), "+14155550150"
    c = state["client"]
    base = {"Channel": "SMS", "OriginationIdentity": ORIGIN, "DestinationIdentity": dest,
            "ReferenceId": "r", "BrandName": "Acme"}
    cases = [
        ({"CodeLength": 4}, "CodeLength"), ({"CodeLength": 9}, "CodeLength"),
        ({"ValidityPeriod": 4}, "ValidityPeriod"), ({"ValidityPeriod": 61}, "ValidityPeriod"),
        ({"AllowedAttempts": 0}, "AllowedAttempts"), ({"AllowedAttempts": 6}, "AllowedAttempts"),
        ({"BrandName": "B" * 21}, "BrandName"), ({"ReferenceId": "r" * 49}, "ReferenceId"),
        ({"ReferenceId": ""}, "ReferenceId"), ({"Language": "it-IT"}, "Language"),
        ({"Channel": "EMAIL"}, "Channel"), ({"DestinationIdentity": "4155550150"},
                                            "DestinationIdentity"),
        ({"OriginationIdentity": "not a sender!"}, "OriginationIdentity"),
    ]
    before = state["sim"].stats()["accepted"]
    for change, field in cases:
        params = {**base, **change}
        bad(lambda: c.send_otp_message(ApplicationId=app, SendOTPMessageRequestParameters=params),
            field)
    # The upper bounds themselves are accepted (20-character brand, 48-character reference).
    before_ok = seq()
    send(app, dest, reference="é" * 48, BrandName="Б" * 20, CodeLength=5, ValidityPeriod=60,
         AllowedAttempts=5)
    code, _ = last_code(dest, before_ok, length=5)
    assert verify(app, dest, code, reference="é" * 48) is True
    assert state["sim"].stats()["accepted"] == before + 1, "a refused request sends nothing"
    verify_path = f"/v1/apps/{app}/verify-otp"
    for params, field in [({"DestinationIdentity": dest, "ReferenceId": "r"}, "Otp"),
                          ({"DestinationIdentity": dest, "Otp": "123456"}, "ReferenceId"),
                          ({"DestinationIdentity": "x", "Otp": "1", "ReferenceId": "r"},
                           "DestinationIdentity"),
                          ({"DestinationIdentity": dest, "Otp": "1" * 65, "ReferenceId": "r"},
                           "Otp")]:
        bad_raw(verify_path, params, field)
    bad_raw(f"/v1/apps/{app}/otp", {"DestinationIdentity": dest, "ReferenceId": "r",
                                    "OriginationIdentity": ORIGIN}, "Channel")
    bad_raw(f"/v1/apps/{app}/otp", {**base, "CodeLength": "6"}, "CodeLength")
    # An unknown application is a 404, as elsewhere.
    try:
        verify("0" * 32, dest, "123456")
        raise AssertionError("verified against an unknown app")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e.response


def test_deleting_the_app_removes_its_records():
    redis = state["redis"]
    app, dest, before = new_app(), "+14155550135", seq()
    send(app, dest)
    last_code(dest, before)

    def keys():
        return [k for k in redis.cli("--scan", "--pattern", f"rp:{{a:{app}}}:otp*").split() if k]
    assert len(keys()) == 3, keys()  # the record and the two send counters
    state["client"].delete_app(ApplicationId=app)
    harness.wait_until(lambda: not keys(), timeout=10, what="the app's OTP keys to go")


def too_many(call, fragment):
    try:
        call()
    except ClientError as e:
        assert e.response["Error"]["Code"] == "TooManyRequestsException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        assert fragment in e.response["Error"]["Message"], e.response["Error"]
        return
    raise AssertionError("a send past the limit was accepted")


def test_send_limits():
    """The daemon runs with otp.sends_per_destination_per_hour 3 and
    otp.sends_per_app_per_minute 6."""
    app, dest = new_app(), "+14155550160"
    before = state["sim"].stats()["accepted"]
    for i in range(3):
        send(app, dest, reference=f"r{i}")
    too_many(lambda: send(app, dest, reference="r3"), "DestinationIdentity")
    for i in range(3):
        send(app, f"+1415555017{i}")
    too_many(lambda: send(app, "+14155550180"), "otp.sends_per_app_per_minute")
    assert state["sim"].stats()["accepted"] == before + 6, "refused sends are not sent"
    # Another app has its own budget; the destination's counter is per app.
    send(new_app(), dest)


def events():
    return state["redis"].events()


def redis_dump():
    """Every key and value in Redis as text (the test database is small)."""
    redis, out = state["redis"], []
    for key in redis.cli("--scan").split():
        kind = redis.cli("TYPE", key).strip()
        cmd = {"string": ["GET"], "hash": ["HGETALL"], "list": ["LRANGE", key, "0", "-1"],
               "set": ["SMEMBERS"], "zset": ["ZRANGE", key, "0", "-1"],
               "stream": ["XRANGE", key, "-", "+"]}.get(kind)
        if cmd:
            args = cmd if len(cmd) > 1 else [cmd[0], key]
            out.append(key + "\n" + redis.cli(*args))
    return "\n".join(out)


def test_failed_send_leaves_no_code_behind():
    """A send the provider keeps refusing is retried, answered TEMPORARY_FAILURE, and leaves
    nothing of its message in Redis: no retry entry, no queue entry, no dead letter."""
    sim = state["sim"]
    app, dest = new_app(), "+14155550190"
    received_before = sim.stats()["received"]
    sim.configure(fail_next=1000, fail_status=500)
    try:
        result = send(app, dest)["Result"][dest]
    finally:
        sim.configure(fail_next=0)
    assert result["DeliveryStatus"] == "TEMPORARY_FAILURE", result
    assert sim.stats()["received"] - received_before >= 2, "the send was retried"
    harness.wait_until(lambda: "verification code" not in redis_dump(), timeout=10,
                       what="the failed message to leave Redis")
    # The record of the code stays: the user may ask for it again, or it expires.
    assert len(record_keys(app)) == 1


def test_daemon_exits_cleanly():
    """SIGTERM: exit status 0 (under the sanitizer build, also no leak on the OTP paths)."""
    rc = state["daemon"].stop()
    assert rc == 0, f"repoint exited {rc}"


def test_code_absent_from_events_and_logs():
    """Every code seen at the simulator, looked for in rp:events, in every Redis key, and in
    the whole log of the daemon (debug level, read after it exited)."""
    codes = state["codes"]
    assert len(codes) >= 10, codes
    raw_events = state["redis"].cli("XRANGE", "rp:events", "-", "+")
    dump = redis_dump()
    assert "verification code" not in dump and "Bestätigungscode" not in dump
    logs = state["daemon"].logs()
    assert "otp" in logs.lower() or "SendOTPMessage" in logs, "debug log saw no OTP request"
    # As whole numbers: a bare substring test also matched a code inside a timestamp or a
    # UUID, by chance, in about one run in ten.
    for where, text in (("rp:events", raw_events), ("the daemon's log", logs), ("Redis", dump)):
        found = faults.otp_code_leaks(text, codes)
        assert not found, f"OTP codes in {where}:\n" + "\n".join(found[:10])
    # The shapes of a leak, whatever the code (tests/lib/faults.py OTP_LOG_LEAKS): they do catch
    # every message the phones received, and they find nothing in the log.
    bodies = [m["body"] for m in state["sim"].messages()["messages"]
              if any(code in m["body"] for code in codes)]
    missed = [b for b in bodies if not faults.otp_leaks(b)]
    assert bodies and not missed, f"OTP_LOG_LEAKS misses these messages: {missed[:3]}"
    leaks = faults.otp_leaks(logs)
    assert not leaks, "OTP codes in the daemon's log:\n" + "\n".join(leaks[:10])


def main():
    sim = harness.SmsSim().start()
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={
            **sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "2000", "REPOINT_QUEUE_RETRY_BASE_MS": "100",
            "REPOINT_LOG_LEVEL": "debug", "REPOINT_OTP_SENDS_PER_DESTINATION_PER_HOUR": "3",
            "REPOINT_OTP_SENDS_PER_APP_PER_MINUTE": "6"})
        daemon.start()
        state.update(sim=sim, redis=redis, daemon=daemon, client=daemon.client())
        try:
            harness.run_tests([
                test_cli_send_then_verify, test_boto3_language_length_and_sender_id,
                test_wrong_code_until_exhausted, test_expiry, test_newer_send_replaces_the_code,
                test_concurrent_guesses_are_counted_atomically,
                test_deleting_the_app_removes_its_records, test_bounds_name_the_field,
                test_send_limits, test_failed_send_leaves_no_code_behind,
                test_daemon_exits_cleanly, test_code_absent_from_events_and_logs,
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
