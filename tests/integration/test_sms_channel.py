"""The SMS channel's delivery end to end: tests/sim/sms_drive sends deliveries through the real
channel transport (channels/sms + channels/httpc on a libevent loop) to tests/sim/sms_sim, a
Twilio-compatible simulator, over HTTPS with the test CA and over plain HTTP. Every
DeliveryStatus path is driven through the simulator's control API; the status callbacks the
simulator posts are checked with an independent X-Twilio-Signature computation."""
import base64
import hashlib
import hmac
import http.server
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

SIM_BIN = os.path.join(harness.BUILD_DIR, "sim", "sms_sim")
DRIVE_BIN = os.path.join(harness.BUILD_DIR, "sim", "sms_drive")
TESTCA = os.path.join(harness.SOURCE_DIR, "tests", "sim", "testca")
CA = os.path.join(TESTCA, "ca.pem")
OTHER_CA = os.path.join(TESTCA, "other-ca.pem")
SID = "AC0123456789abcdef0123456789abcdef"
TOKEN = "sim-auth-token-0123456789"
FROM = "+15550006666"


class Sim:
    """An sms_sim process on a free loopback port; stopped by stop()."""

    def __init__(self, tls=False, extra=()):
        self.tls = tls
        self.port = harness.free_port()
        args = [SIM_BIN, "--port", str(self.port), "--account-sid", SID, "--auth-token", TOKEN,
                *extra]
        if tls:
            args += ["--tls-cert", os.path.join(TESTCA, "server.pem"),
                     "--tls-key", os.path.join(TESTCA, "server.key")]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "listening" in line, f"sms_sim did not start: {line!r}"
        self.ctx = ssl.create_default_context(cafile=CA) if tls else None

    @property
    def url(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def call(self, method, path, doc=None):
        data = json.dumps(doc).encode() if doc is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=30, context=self.ctx) as r:
            return json.loads(r.read())

    def config(self, **kw):
        return self.call("POST", "/sim/config", kw)

    def reset(self):
        return self.call("POST", "/sim/reset", {})

    def stats(self):
        return self.call("GET", "/sim/stats")

    def messages(self, since=0):
        return self.call("GET", f"/sim/messages?since={since}&limit=100000")["messages"]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                rc = self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("sms_sim did not stop within 15 s of SIGTERM")
            assert rc == 0, f"sms_sim exited with {rc}"


def drive(sim, *args, env=None, to=("+15551230001",), count=1, timeout=60):
    """Runs sms_drive against sim; returns its result lines as dicts, in index order."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("REPOINT_")}
    full_env.update({
        "REPOINT_SMS_URL": sim.url,
        "REPOINT_SMS_ACCOUNT_SID": SID,
        "REPOINT_SMS_AUTH_TOKEN": TOKEN,
        "REPOINT_TLS_CA_FILE": CA,
        "REPOINT_LOG_LEVEL": "warn",
    })
    full_env.update(env or {})
    cmd = [DRIVE_BIN, "--count", str(count)]
    for number in to:
        cmd += ["--to", number]
    cmd += list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, env=full_env, timeout=timeout)
    assert p.returncode == 0, f"sms_drive failed ({p.returncode}): {p.stderr}"
    results = sorted((json.loads(line) for line in p.stdout.splitlines()), key=lambda r: r["i"])
    assert [r["i"] for r in results] == list(range(count)), "each send completes exactly once"
    return results


def origin(number=FROM, **more):
    return ["--content", json.dumps({"OriginationNumber": number, **more})]


SIMS = {}


def https_sim():
    sim = SIMS["https"]
    sim.reset()
    return sim


def http_sim():
    sim = SIMS["http"]
    sim.reset()
    return sim


def test_success_over_https():
    sim = https_sim()
    body = "Votre code: 123456 \u20ac \U0001F600"
    results = drive(sim, *origin(MessageType="PROMOTIONAL"), "--body", body, count=3)
    for r in results:
        assert r["status"] == "SUCCESSFUL", r
        assert r["status_code"] == 201
        assert r["message_id"].startswith("SM") and len(r["message_id"]) == 34, r
        assert r["status_message"] == "MessageId: " + r["message_id"]
        attrs = r["attributes"]
        assert attrs["number_of_message_parts"] == "1"
        assert attrs["encoding"] == "UCS2"
        assert attrs["message_type"] == "Promotional"
        assert attrs["origination_phone_number"] == FROM
        assert attrs["record_status"] == "SUCCESSFUL"
        assert attrs["sender_request_id"] == r["message_id"]
    got = sim.messages()
    assert {m["sid"] for m in got} == {r["message_id"] for r in results}
    for m in got:
        assert m["to"] == "+15551230001" and m["from"] == FROM and m["body"] == body, m
    stats = sim.stats()
    assert stats["accepted"] == 3 and stats["by_status"] == {"201": 3}, stats


def test_plain_http_and_long_body():
    sim = http_sim()
    body = "a" * 1600
    [r] = drive(sim, *origin(), "--body", body)
    assert r["status"] == "SUCCESSFUL", r
    assert r["attributes"]["number_of_message_parts"] == "11"
    assert r["attributes"]["encoding"] == "GSM"
    assert sim.messages()[0]["body"] == body


def test_sender_selection_and_callback_url():
    sim = https_sim()
    callback = "https://repoint.example.com/repoint/v1/sms/status"
    env = {"REPOINT_SMS_MESSAGING_SERVICE_SID": "MG0123456789abcdef0123456789abcdef",
           "REPOINT_SMS_STATUS_CALLBACK_URL": callback}
    [a] = drive(sim, "--settings", json.dumps({"SenderId": "Repoint", "ShortCode": "12345"}),
                env=env)
    [b] = drive(sim, "--settings", json.dumps({"ShortCode": "12345"}), env=env)
    [c] = drive(sim, env=env)
    [d] = drive(sim, *origin(), "--settings", json.dumps({"SenderId": "Repoint"}), env=env)
    for r in (a, b, c, d):
        assert r["status"] == "SUCCESSFUL", r
    got = sim.messages()
    assert [m["from"] for m in got] == ["Repoint", "12345", None, FROM], got
    assert got[2]["messaging_service_sid"] == env["REPOINT_SMS_MESSAGING_SERVICE_SID"]
    # Each callback URL names the app and the delivery, so receipts need no lookup table.
    for m in got:
        base, _, query = m["status_callback"].partition("?")
        assert callback.split("?")[0] == base, m
        assert {"app", "mid"} <= set(urllib.parse.parse_qs(query)), m
    assert "origination_phone_number" not in c["attributes"]


def test_no_sender_is_permanent():
    sim = https_sim()
    [r] = drive(sim)
    assert r["status"] == "PERMANENT_FAILURE" and "no sender" in r["status_message"], r
    assert sim.stats()["received"] == 0


def test_invalid_number_is_permanent_and_dead():
    sim = https_sim()
    sim.config(invalid_numbers=["+15550000001"])
    results = drive(sim, *origin(), to=("+15550000001", "+15550000002"), count=2)
    bad, good = results
    assert bad["status"] == "PERMANENT_FAILURE", bad
    assert bad["status_code"] == 400 and bad["address_dead"] is True
    assert "21211" in bad["status_message"]
    assert "15550000001" not in bad["status_message"], "phone numbers are redacted"
    assert bad["attributes"]["record_status"] == "INVALID"
    assert good["status"] == "SUCCESSFUL", good


def test_throttled_carries_retry_after():
    sim = https_sim()
    sim.config(throttle_next=2, retry_after=7)
    results = drive(sim, *origin(), "--in-flight", "1", count=3)
    assert [r["status"] for r in results] == ["THROTTLED", "THROTTLED", "SUCCESSFUL"], results
    assert results[0]["status_code"] == 429 and results[0]["retry_after_ms"] == 7000
    sim.config(throttle_next=1, retry_after="Thu, 01 Jan 2099 00:00:00 GMT")
    [r] = drive(sim, *origin())
    assert r["status"] == "THROTTLED" and r["retry_after_ms"] > 0, r


def test_server_errors_are_temporary():
    sim = https_sim()
    sim.config(fail_next=1, fail_status=503)
    [r] = drive(sim, *origin())
    assert r["status"] == "TEMPORARY_FAILURE" and r["status_code"] == 503, r
    sim.config(error_rate=1.0)
    results = drive(sim, *origin(), count=5)
    assert all(r["status"] == "TEMPORARY_FAILURE" and r["status_code"] == 500
               for r in results), results
    assert sim.stats()["by_status"] == {"503": 1, "500": 5}


def test_wrong_credentials_are_permanent():
    sim = https_sim()
    [r] = drive(sim, *origin(), env={"REPOINT_SMS_AUTH_TOKEN": "not-the-token"})
    assert r["status"] == "PERMANENT_FAILURE" and r["status_code"] == 401, r
    assert r["status_message"] == "provider rejected the credentials"
    [r] = drive(sim, *origin(), env={"REPOINT_SMS_ACCOUNT_SID": ""})
    assert r["status"] == "PERMANENT_FAILURE", r
    assert "not configured" in r["status_message"]


def test_stalled_provider_times_out():
    sim = https_sim()
    sim.config(stall=True)
    [r] = drive(sim, *origin(), env={"REPOINT_SMS_TIMEOUT_MS": "500"})
    assert r["status"] == "TEMPORARY_FAILURE" and r["status_code"] == 0, r
    assert "timed out" in r["status_message"], r
    # The delivery's deadline caps the provider timeout: with a 60 s timeout and a 400 ms
    # deadline the send still ends (well within the subprocess limit).
    [r] = drive(sim, *origin(), "--deadline-ms", "400", env={"REPOINT_SMS_TIMEOUT_MS": "60000"},
                timeout=30)
    assert r["status"] == "TEMPORARY_FAILURE" and "timed out" in r["status_message"], r
    harness.wait_until(lambda: sim.stats()["stalled"] == 2, what="two stalled requests")
    # Freeing the transport completes the sends still in flight.
    results = drive(sim, *origin(), "--free-after-ms", "200", count=5,
                    env={"REPOINT_SMS_TIMEOUT_MS": "60000"}, timeout=30)
    assert all(r["status"] == "TEMPORARY_FAILURE" and "cancelled" in r["status_message"]
               for r in results), results


def test_wrong_ca_is_a_transport_error():
    sim = https_sim()
    for ca in (OTHER_CA, ""):
        [r] = drive(sim, *origin(), env={"REPOINT_TLS_CA_FILE": ca})
        assert r["status"] == "TEMPORARY_FAILURE" and r["status_code"] == 0, r
        assert "certificate" in r["status_message"], r
    assert sim.stats()["received"] == 0


def test_concurrent_sends_all_accounted_for():
    sim = https_sim()
    numbers = tuple(f"+1555777{i:04d}" for i in range(20))
    # What is checked is accounting, not speed: a generous provider timeout keeps a loaded
    # machine (the sanitizer build opening a hundred TLS sessions at once) from turning slow
    # handshakes into timeouts.
    results = drive(sim, *origin(), to=numbers, count=2000, timeout=300,
                    env={"REPOINT_SMS_TIMEOUT_MS": "120000"})
    assert all(r["status"] == "SUCCESSFUL" for r in results), \
        [r for r in results if r["status"] != "SUCCESSFUL"][:3]
    sids = {r["message_id"] for r in results}
    assert len(sids) == 2000
    stats = sim.stats()
    assert stats["received"] == 2000 and stats["accepted"] == 2000, stats
    got = sim.messages()
    assert {m["sid"] for m in got} == sids
    by_sid = {r["message_id"]: r["to"] for r in results}
    assert all(by_sid[m["sid"]] == m["to"] for m in got)


class CallbackSink(http.server.ThreadingHTTPServer):
    """Collects the status callbacks the simulator posts."""

    def __init__(self):
        self.received = []
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with sink.lock:
                    sink.received.append((self.path, dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def twilio_signature(token, url, params):
    """The documented algorithm, written independently of the C code under test."""
    s = url + "".join(k + v for k, v in sorted(set(params)))
    return base64.b64encode(hmac.new(token.encode(), s.encode(), hashlib.sha1).digest()).decode()


def test_status_callbacks_are_signed():
    sink = CallbackSink()
    sim = Sim(tls=True, extra=["--callbacks"])
    try:
        sim.config(undeliverable_numbers=["+15550009999"])
        url = f"http://127.0.0.1:{sink.server_address[1]}/repoint/v1/sms/status?x=1"
        results = drive(sim, *origin(), to=("+15550001234", "+15550009999"), count=2,
                        env={"REPOINT_SMS_STATUS_CALLBACK_URL": url})
        assert all(r["status"] == "SUCCESSFUL" for r in results), results
        harness.wait_until(lambda: len(sink.received) == 2, what="two status callbacks")
        by_sid = {}
        for path, headers, body in sink.received:
            assert path.startswith("/repoint/v1/sms/status?x=1&app="), path
            params = urllib.parse.parse_qsl(body, keep_blank_values=True)
            signed = url.split("?")[0] + "?" + path.split("?", 1)[1]
            assert headers["X-Twilio-Signature"] == twilio_signature(TOKEN, signed, params)
            by_sid[dict(params)["MessageSid"]] = dict(params)
        ok, bad = (by_sid[r["message_id"]] for r in results)
        assert ok["MessageStatus"] == "delivered" and ok["To"] == "+15550001234", ok
        assert bad["MessageStatus"] == "undelivered" and bad["ErrorCode"] == "30003", bad
        assert ok["AccountSid"] == SID and ok["From"] == FROM
        harness.wait_until(lambda: sim.stats()["callbacks"]["sent"] == 2, what="callback stats")
    finally:
        sim.stop()
        sink.shutdown()
        sink.server_close()


def test_record_file_and_stall_release_on_stop():
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "messages.jsonl")
        sim = Sim(extra=["--record", path])
        try:
            results = drive(sim, *origin(), count=4)
            assert all(r["status"] == "SUCCESSFUL" for r in results)
            sim.config(stall=True)
            stalled = subprocess.Popen(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u", f"{SID}:{TOKEN}",
                 "-d", "To=%2B15550001111&From=x&Body=hi", "-m", "20",
                 f"{sim.url}/2010-04-01/Accounts/{SID}/Messages.json"],
                stdout=subprocess.PIPE, text=True)
            harness.wait_until(lambda: sim.stats()["stalled"] == 1, what="a stalled request")
        finally:
            sim.stop()
        # Stopping answers a stalled request instead of leaving it hanging.
        assert stalled.communicate(timeout=20)[0] == "503"
        with open(path) as f:
            lines = [json.loads(line) for line in f]
        assert {rec["sid"] for rec in lines} == {r["message_id"] for r in results}


def test_control_api_rejects_bad_config():
    sim = https_sim()
    for bad in ({"error_rate": 2}, {"latency_ms": "x"}, {"invalid_numbers": [1]},
                {"fail_status": 200}, {"stall": 1}):
        try:
            sim.config(**bad)
            raise AssertionError(f"accepted {bad}")
        except urllib.error.HTTPError as e:
            assert e.code == 400
    cfg = sim.call("GET", "/sim/config")
    assert cfg["error_rate"] == 0 and cfg["stall"] is False and cfg["fail_status"] == 500


def main():
    SIMS["https"] = Sim(tls=True)
    SIMS["http"] = Sim(tls=False)
    try:
        harness.run_tests([
            test_success_over_https,
            test_plain_http_and_long_body,
            test_sender_selection_and_callback_url,
            test_no_sender_is_permanent,
            test_invalid_number_is_permanent_and_dead,
            test_throttled_carries_retry_after,
            test_server_errors_are_temporary,
            test_wrong_credentials_are_permanent,
            test_stalled_provider_times_out,
            test_wrong_ca_is_a_transport_error,
            test_concurrent_sends_all_accounted_for,
            test_status_callbacks_are_signed,
            test_record_file_and_stall_release_on_stop,
            test_control_api_rejects_bad_config,
        ])
    finally:
        for sim in SIMS.values():
            sim.stop()


if __name__ == "__main__":
    main()
