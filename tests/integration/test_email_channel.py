"""The EMAIL channel end to end: the real AWS CLI and boto3 configure the channel and send
SimpleEmail, Body and RawEmail messages; Repoint relays them over SMTP (libESMTP) to a real
SMTP server (aiosmtpd, tests/lib/smtp_server.py) with STARTTLS and AUTH; what arrives is parsed
with Python's email package; relay answers map onto DeliveryStatus and email events; an app's
own relay (/repoint/v1/apps/{id}/channels/email/relay) is used, never answers its password,
and a relay without STARTTLS is refused when STARTTLS is required."""
import base64
import email
import email.policy
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from smtp_server import TESTCA, SmtpServer  # noqa: E402

state = {}
# gateway/worker.c SETTINGS_TTL_MS, plus a margin.
SETTINGS_TTL_S = 2.2


def events():
    return state["redis"].events()


def assert_softbounce_says(address, words):
    """Each attempt leaves an event; a direct send retried until its deadline may answer only
    "not attempted before the deadline", so the reason is read from the attempts' events."""
    found = [e for e in events() if e["attributes"].get("address") == address]
    assert found and all(e["event_type"] == "_email.softbounce" for e in found), found
    assert any(words in e["attributes"]["status_message"] for e in found), found


def parse(record):
    return email.message_from_bytes(record["data"], policy=email.policy.default)


def relay_request(method, body=None):
    d = state["daemon"]
    path = f"/repoint/v1/apps/{state['app']}/channels/email/relay"
    data = json.dumps(body).encode() if body is not None else b""
    status, _, parsed = harness.signed_request(d.url, method, path, data)
    text = parsed if isinstance(parsed, str) else json.dumps(parsed)
    return status, text


def send(addresses, message):
    c = state["client"]
    request = {"Addresses": {a: {"ChannelType": "EMAIL"} for a in addresses},
               "MessageConfiguration": {"EmailMessage": message}}
    return c.send_messages(ApplicationId=state["app"], MessageRequest=request)["MessageResponse"]


def test_cli_simple_email_multipart():
    d, srv = state["daemon"], state["server"]
    before = len(srv.messages())
    resp = d.aws("send-messages", "--application-id", state["app"], "--message-request", json.dumps({
        "Addresses": {"ann@example.org": {"ChannelType": "EMAIL"}},
        "MessageConfiguration": {"EmailMessage": {
            "FromAddress": "Jürgen Shop <shop@example.com>",
            "FeedbackForwardingAddress": "bounces@example.com",
            "ReplyToAddresses": ["help@example.com"],
            "SimpleEmail": {
                "Subject": {"Charset": "UTF-8", "Data": "Grüße aus Köln"},
                "TextPart": {"Charset": "UTF-8", "Data": "Hallo Ann,\n.\nDein Code: 123456 — danke"},
                "HtmlPart": {"Charset": "UTF-8", "Data": "<p>Hallo <b>Ann</b> " + "x" * 1200 + "</p>"},
                "Headers": [{"Name": "X-Campaign", "Value": "spring"}]}}}}))
    result = resp["MessageResponse"]["Result"]["ann@example.org"]
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    assert result["StatusCode"] == 250, result
    rec = srv.wait_messages(before + 1)[-1]
    assert rec["mail_from"] == "bounces@example.com", rec["mail_from"]
    assert rec["rcpt_tos"] == ["ann@example.org"]
    assert rec["tls"] is True and rec["auth"] == "relayuser", rec
    raw = rec["data"]
    lines = raw.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in the message"
    msg = parse(rec)
    assert msg["Subject"] == "Grüße aus Köln", msg["Subject"]
    assert msg["From"].addresses[0].display_name == "Jürgen Shop"
    assert msg["From"].addresses[0].addr_spec == "shop@example.com"
    assert msg["To"] == "ann@example.org"
    assert msg["Reply-To"] == "help@example.com"
    assert msg["X-Campaign"] == "spring"
    assert msg["MIME-Version"] == "1.0" and msg["Date"] is not None
    assert msg["Message-ID"] == "<" + result["MessageId"] + ">", (msg["Message-ID"], result)
    assert result["MessageId"].endswith("@example.com")
    assert msg.get_content_type() == "multipart/alternative"
    plain, html = msg.get_payload()
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert plain["Content-Transfer-Encoding"] == "quoted-printable"
    # The line holding only "." survives SMTP's end-of-data marker (dot-stuffing).
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == "Hallo Ann,\n.\nDein Code: 123456 — danke", \
        plain.get_content()
    assert html.get_content_type() == "text/html"
    assert "<b>Ann</b>" in html.get_content() and "x" * 1200 in html.get_content()
    sent = [e for e in events() if e["attributes"].get("message_id") and
            e["facets"]["email_channel"]["mail_event"]["mail"]["message_id"] == result["MessageId"]]
    assert len(sent) == 1 and sent[0]["event_type"] == "_email.send", sent
    assert "Grüße" not in json.dumps(sent[0], ensure_ascii=False), "events never carry the subject"


def test_body_only_and_charset():
    srv = state["server"]
    before = len(srv.messages())
    resp = send(["bob@example.org"], {"Body": "plain body only"})
    assert resp["Result"]["bob@example.org"]["DeliveryStatus"] == "SUCCESSFUL", resp
    resp = send(["cy@example.org"], {"SimpleEmail": {
        "Subject": {"Data": "Käse"}, "TextPart": {"Charset": "ISO-8859-1", "Data": "Käse"}}})
    assert resp["Result"]["cy@example.org"]["DeliveryStatus"] == "SUCCESSFUL", resp
    recs = srv.wait_messages(before + 2)[before:]
    msgs = {r["rcpt_tos"][0]: parse(r) for r in recs}
    body_only = msgs["bob@example.org"]
    assert body_only.get_content_type() == "text/plain"
    assert body_only.get_content().strip() == "plain body only"
    assert body_only["From"] == "shop@example.com", "the channel's FromAddress"
    latin = msgs["cy@example.org"]
    assert latin.get_content_charset() == "iso-8859-1"
    assert latin.get_payload(decode=True) == "Käse\r\n".encode("latin-1")


def test_cli_raw_email():
    d, srv = state["daemon"], state["server"]
    before = len(srv.messages())
    raw = ("From: Raw Sender <raw@example.com>\nTo: dee@example.org\nSubject: raw one\n"
           "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nraw body\n")
    resp = d.aws("send-messages", "--application-id", state["app"], "--message-request", json.dumps({
        "Addresses": {"dee@example.org": {"ChannelType": "EMAIL"}},
        "MessageConfiguration": {"EmailMessage": {
            "RawEmail": {"Data": raw}}}}))  # AWS CLI v1 base64-encodes blobs itself
    result = resp["MessageResponse"]["Result"]["dee@example.org"]
    assert result["DeliveryStatus"] == "SUCCESSFUL", result
    rec = srv.wait_messages(before + 1)[-1]
    msg = parse(rec)
    assert msg["Subject"] == "raw one" and msg["From"] == "Raw Sender <raw@example.com>"
    assert msg["Message-ID"] == "<" + result["MessageId"] + ">"
    assert msg.get_content().strip() == "raw body"
    # A RawEmail without From is refused before sending.
    bad = b"Subject: x\n\nbody\n"  # boto3 base64-encodes blobs itself
    resp = send(["dee@example.org"], {"RawEmail": {"Data": bad}})
    r = resp["Result"]["dee@example.org"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "From" in r["StatusMessage"], r


def test_relay_answers_map():
    gone = send(["gone@example.org"], {"Body": "hi"})["Result"]["gone@example.org"]
    busy = send(["busy@example.org"], {"Body": "hi"})["Result"]["busy@example.org"]
    assert gone["DeliveryStatus"] == "PERMANENT_FAILURE" and gone["StatusCode"] == 550, gone
    assert "User unknown" in gone["StatusMessage"], gone
    # A direct send retries a 4xx until its deadline, so its last word may be the deadline;
    # the events of the attempts the relay answered carry its 451.
    assert busy["DeliveryStatus"] == "TEMPORARY_FAILURE", busy
    assert_softbounce_says("busy@example.org", "Try again later")
    assert any(e["attributes"]["status_code"] == "451" for e in events()
               if e["attributes"].get("address") == "busy@example.org")
    found = {e["attributes"]["address"]: e for e in events()
             if e["attributes"].get("address") in ("gone@example.org", "busy@example.org")}
    hard = found["gone@example.org"]
    assert hard["event_type"] == "_email.hardbounce", hard
    bounce = hard["facets"]["email_channel"]["mail_event"]["bounce"]
    assert bounce["bounce_type"] == "Permanent"
    assert bounce["bounced_recipients"][0]["status"] == "5.1.1", bounce
    assert found["busy@example.org"]["event_type"] == "_email.softbounce"


def test_endpoint_deactivated_by_unknown_user():
    c, app = state["client"], state["app"]
    c.update_endpoint(ApplicationId=app, EndpointId="mail-1", EndpointRequest={
        "ChannelType": "EMAIL", "Address": "gone@example.org"})
    resp = c.send_messages(ApplicationId=app, MessageRequest={
        "Endpoints": {"mail-1": {}},
        "MessageConfiguration": {"EmailMessage": {"Body": "hi"}}})["MessageResponse"]
    r = resp["EndpointResult"]["mail-1"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    # The worker deactivates the endpoint after answering: wait for it.
    harness.wait_until(lambda: c.get_endpoint(ApplicationId=app, EndpointId="mail-1")[
        "EndpointResponse"]["EndpointStatus"] == "INACTIVE", what="endpoint INACTIVE")


def test_header_injection_refused():
    from botocore.exceptions import ClientError
    try:
        send(["ann@example.org"], {"SimpleEmail": {
            "Subject": {"Data": "hi\r\nBcc: victim@example.net"}, "TextPart": {"Data": "x"}}})
        raise AssertionError("accepted a subject with a line break")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "SimpleEmail.Subject.Data" in e.response["Error"]["Message"], e.response
    # A per-address TitleOverride is the subject too.
    try:
        state["client"].send_messages(ApplicationId=state["app"], MessageRequest={
            "Addresses": {"ann@example.org": {"ChannelType": "EMAIL",
                                              "TitleOverride": "hi\r\nBcc: victim@example.net"}},
            "MessageConfiguration": {"EmailMessage": {"Body": "x"}}})
        raise AssertionError("accepted a TitleOverride with a line break")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "].TitleOverride" in e.response["Error"]["Message"], e.response
    # Through an endpoint the channel is known only once the endpoint is read: the message
    # builder refuses it then, before anything reaches the relay.
    srv = state["server"]
    before = len(srv.messages())
    state["client"].update_endpoint(ApplicationId=state["app"], EndpointId="mail-title",
                                    EndpointRequest={"ChannelType": "EMAIL",
                                                     "Address": "ann@example.org"})
    resp = state["client"].send_messages(ApplicationId=state["app"], MessageRequest={
        "Endpoints": {"mail-title": {"TitleOverride": "hi\nBcc: victim@example.net"}},
        "MessageConfiguration": {"EmailMessage": {"Body": "x"}}})["MessageResponse"]
    r = resp["EndpointResult"]["mail-title"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "Subject" in r["StatusMessage"], r
    assert len(srv.messages()) == before
    try:
        send(["ann@example.org"], {"FromAddress": "a@example.com\nBcc: v@example.net",
                                   "Body": "x"})
        raise AssertionError("accepted a From with a line break")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "FromAddress" in e.response["Error"]["Message"], e.response


def test_app_relay_login_and_starttls_required():
    plain_srv = state["plain_server"]
    # No TLS on this relay: STARTTLS required must refuse to send, and say why.
    status, body = relay_request("PUT", {"url": plain_srv.url, "starttls": "required"})
    assert status == 200, body
    time.sleep(SETTINGS_TTL_S)  # workers cache channel settings this long
    resp = send(["tls-required@example.org"], {"Body": "must not go in clear"})
    r = resp["Result"]["tls-required@example.org"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
    assert_softbounce_says("tls-required@example.org", "STARTTLS")
    assert plain_srv.messages() == []
    # The same relay with STARTTLS off and AUTH LOGIN (the only mechanism it offers).
    status, body = relay_request("PUT", {"url": plain_srv.url, "starttls": "off",
                                            "username": "loginuser", "password": "s3cret",
                                            "messages_per_connection": 10})
    assert status == 200, body
    time.sleep(SETTINGS_TTL_S)
    answer = json.loads(body)
    assert "password" not in answer and answer["password_set"] is True, answer
    status, body = relay_request("GET")
    assert status == 200 and "s3cret" not in body and json.loads(body)["username"] == "loginuser"
    resp = send(["ann@example.org", "bob@example.org"], {"Body": "via the app relay"})
    assert all(r["DeliveryStatus"] == "SUCCESSFUL" for r in resp["Result"].values()), resp
    recs = plain_srv.wait_messages(2)
    assert {r["auth"] for r in recs} == {"loginuser"} and not any(r["tls"] for r in recs), recs
    # The password is stored sealed, never in clear.
    dump = state["redis"].cli("--no-raw", "HGETALL", f"rp:{{a:{state['app']}}}:ch:EMAIL")
    assert "s3cret" not in dump
    # Bad relays are refused with the field named.
    status, body = relay_request("PUT", {"url": "smtps://mail.example.com:465"})
    assert status == 400 and "url" in body and "smtps" in body, body
    status, body = relay_request("PUT", {"url": plain_srv.url, "starttls": "sometimes"})
    assert status == 400 and "starttls" in body, body
    status, body = relay_request("DELETE")
    assert status == 200, body
    status, body = relay_request("GET")
    assert status == 404, body


def test_certificate_for_another_name_refused():
    # The test certificate names localhost and 127.0.0.1 only; this relay answers on 127.0.0.2.
    other = SmtpServer(tls=True, host="127.0.0.2").start()
    try:
        status, body = relay_request("PUT", {"url": other.url, "starttls": "required"})
        assert status == 200, body
        time.sleep(SETTINGS_TTL_S)
        resp = send(["impostor@example.org"], {"Body": "must not reach an impostor"})
        r = resp["Result"]["impostor@example.org"]
        assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
        assert_softbounce_says("impostor@example.org", "certificate was refused")
        assert other.messages() == []
    finally:
        relay_request("DELETE")
        other.stop()


def test_smtps_url_is_a_config_error():
    import subprocess
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPOINT_")}
    env["REPOINT_SMTP_URL"] = "smtps://mail.example.com:465"
    p = subprocess.run([harness.REPOINT_BIN, "check-config"], env=env, capture_output=True,
                       text=True, timeout=20)
    assert p.returncode == 2 and "smtp.url" in p.stderr and "smtps" in p.stderr, p.stderr


def test_sigterm_exits_cleanly():
    # Last: the transport stops its sender threads and frees every relay (under ASan a leak
    # would make the exit status non-zero).
    rc = state["daemon"].stop()
    assert rc == 0, (rc, state["daemon"].logs()[-3000:])


def main():
    # The main relay offers AUTH PLAIN only, the app relay AUTH LOGIN only: both are used.
    server = SmtpServer(tls=True, auth="relayuser:relaypass", plain_only=True, rules={
        "gone@example.org": "550 5.1.1 User unknown",
        "busy@example.org": "451 4.3.0 Try again later"}).start()
    plain_server = SmtpServer(auth="loginuser:s3cret", login_only=True).start()
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={
            "REPOINT_SMTP_URL": server.url, "REPOINT_SMTP_STARTTLS": "required",
            "REPOINT_SMTP_USERNAME": "relayuser", "REPOINT_SMTP_PASSWORD": "relaypass",
            "REPOINT_SMTP_CONNECTIONS": "2", "REPOINT_SMTP_TIMEOUT_MS": "5000",
            "REPOINT_TLS_CA_FILE": os.path.join(TESTCA, "ca.pem"),
            "REPOINT_DIRECT_DEADLINE_MS": "5000"})
        daemon.start()
        client = daemon.client()
        app = client.create_app(CreateApplicationRequest={"Name": "mail"})["ApplicationResponse"]["Id"]
        daemon.aws("update-email-channel", "--application-id", app,
                   "--email-channel-request",
                   json.dumps({"Enabled": True, "FromAddress": "shop@example.com",
                               "Identity": "arn:aws:ses:us-east-1:000000000000:identity/example.com"}))
        state.update(server=server, plain_server=plain_server, redis=redis, daemon=daemon,
                     client=client, app=app)
        try:
            harness.run_tests([
                test_cli_simple_email_multipart, test_body_only_and_charset, test_cli_raw_email,
                test_relay_answers_map, test_endpoint_deactivated_by_unknown_user,
                test_header_injection_refused, test_app_relay_login_and_starttls_required,
                test_certificate_for_another_name_refused, test_smtps_url_is_a_config_error,
                test_sigterm_exits_cleanly,
            ])
        except SystemExit as e:
            if e.code:
                sys.stderr.write(daemon.logs()[-15000:])
                sys.stderr.write(server.logs()[-3000:])
            raise
    finally:
        if daemon:
            daemon.cleanup()
        redis.cleanup()
        server.stop()
        plain_server.stop()


if __name__ == "__main__":
    main()
