"""GET /metrics in the Prometheus text exposition format: every line parses, every family has HELP
and TYPE, histograms are cumulative and end at +Inf with their count; and the numbers follow what
happened: API requests by operation and status, deliveries by channel and DeliveryStatus with
provider latency, MessagesPerSecond waits, queue depth per stream, OTP sends and verifications,
Redis errors and reconnections across a Redis restart. A workers-only process serves /metrics
too."""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[^"}]|"(?:[^"\\]|\\.)*")*)\})? '
                  r'(-?[0-9.e+]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def scrape(url):
    """{(name, frozenset(labels)): value}, after checking the format."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
        text = r.read().decode()
    samples, typed, helped = {}, {}, set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helped.add(line.split()[2])
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            typed[name] = kind
            continue
        m = LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        samples[(m.group(1), labels)] = float(m.group(4))
    for name, _ in samples:
        family = re.sub(r"_(bucket|sum|count)$", "", name) if name not in typed else name
        assert family in typed and family in helped, f"{name} has no TYPE/HELP"
    for family, kind in typed.items():
        if kind != "histogram":
            continue
        series = {}
        for (name, labels), v in samples.items():
            if name == family + "_bucket":
                rest = frozenset(kv for kv in labels if kv[0] != "le")
                le = dict(labels)["le"]
                series.setdefault(rest, []).append((float("inf") if le == "+Inf" else float(le), v))
        for rest, points in series.items():
            points.sort()
            values = [v for _, v in points]
            assert values == sorted(values), f"{family}{dict(rest)} buckets not cumulative"
            assert points[-1][0] == float("inf")
            assert values[-1] == samples[(family + "_count", rest)], f"{family} +Inf != count"
    return samples


def value(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0)


def test_metrics_follow_traffic():
    sim = harness.SmsSim(tls=False).start()
    try:
        with harness.stack(env=sim.env()) as (redis, daemon):
            c = daemon.client()
            app = c.create_app(CreateApplicationRequest={"Name": "m"})["ApplicationResponse"]["Id"]
            c.update_sms_channel(ApplicationId=app, SMSChannelRequest={
                "Enabled": True, "SenderId": "Repoint"})
            base = scrape(daemon.url)
            for i in range(3):
                c.send_messages(ApplicationId=app, MessageRequest={
                    "Addresses": {f"+1415555000{i}": {"ChannelType": "SMS"}},
                    "MessageConfiguration": {"SMSMessage": {"Body": "hi"}}})
            status, _, _ = harness.signed_request(daemon.url, "POST", f"/v1/apps/{app}/messages",
                                                  b'{"MessageConfiguration": 7}')
            assert status == 400
            harness.signed_request(daemon.url, "GET", "/v1/apps/0123456789abcdef0123456789abcdef")
            otp = {"Channel": "SMS", "BrandName": "Acme", "DestinationIdentity": "+14155550100",
                   "OriginationIdentity": "Repoint", "ReferenceId": "r1"}
            assert harness.signed_request(daemon.url, "POST", f"/v1/apps/{app}/otp",
                                          json.dumps(otp).encode())[0] == 200
            verify = {"DestinationIdentity": "+14155550100", "Otp": "000000", "ReferenceId": "r1"}
            assert harness.signed_request(daemon.url, "POST", f"/v1/apps/{app}/verify-otp",
                                          json.dumps(verify).encode())[0] == 200
            # A one-per-second limit holds the second of two sends back for a token.
            c.update_application_settings(ApplicationId=app, WriteApplicationSettingsRequest={
                "Limits": {"MessagesPerSecond": 1}})
            c.send_messages(ApplicationId=app, MessageRequest={
                "Addresses": {"+14155550008": {"ChannelType": "SMS"},
                              "+14155550009": {"ChannelType": "SMS"}},
                "MessageConfiguration": {"SMSMessage": {"Body": "paced"}}})

            m = scrape(daemon.url)
            assert value(m, "repoint_build_info", version="0.1.0") == 1
            assert value(m, "repoint_api_requests_total", operation="SendMessages",
                         status="200") - value(base, "repoint_api_requests_total",
                                               operation="SendMessages", status="200") == 4
            assert value(m, "repoint_api_requests_total", operation="SendMessages",
                         status="400") == 1
            assert value(m, "repoint_api_requests_total", operation="GetApp", status="404") == 1
            assert value(m, "repoint_api_request_duration_seconds_count",
                         operation="SendMessages") >= 5
            # 3 + 2 SMS and the OTP's.
            assert value(m, "repoint_deliveries_total", channel="SMS", status="SUCCESSFUL") == 6
            assert value(m, "repoint_provider_request_duration_seconds_count", channel="SMS") == 6
            assert value(m, "repoint_rate_limit_waits_total", channel="SMS") >= 1
            assert value(m, "repoint_otp_sends_total") == 1
            assert value(m, "repoint_otp_verifications_invalid_total") == 1
            assert ("repoint_queue_depth", frozenset({("stream", "rp:q:{SMS:0}")})) in m
            assert value(m, "repoint_direct_waiting") == 0

            errors = value(m, "repoint_redis_errors_total")
            redis.stop()
            harness.signed_request(daemon.url, "GET", f"/v1/apps/{app}")
            redis.start()
            harness.wait_until(lambda: harness.signed_request(
                daemon.url, "GET", f"/v1/apps/{app}")[0] == 200, what="Redis back")
            m = scrape(daemon.url)
            assert value(m, "repoint_redis_errors_total") > errors
            # The threads that held connections (workers, the queue sampler, the event
            # forwarder) come back on their next turn; the API thread above may be a new one.
            harness.wait_until(lambda: value(scrape(daemon.url),
                                             "repoint_redis_reconnections_total") >= 1,
                               timeout=10, what="reconnections counted")
    finally:
        sim.stop()


def test_workers_only_process_serves_metrics():
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url)
    try:
        daemon.log = open(daemon.log_path, "ab")
        daemon.proc = subprocess.Popen([harness.REPOINT_BIN, "serve", "--roles", "workers"],
                                       env=daemon.env, stdout=daemon.log, stderr=daemon.log)
        harness.wait_until(daemon.healthy, what="workers-only health")
        m = scrape(daemon.url)
        assert value(m, "repoint_build_info", version="0.1.0") == 1
    finally:
        daemon.cleanup()
        redis.cleanup()


def status_of(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_separate_metrics_listener():
    """metrics.listen moves /metrics (with the probes) to its own port and off the API port."""
    port = harness.free_port()
    metrics_url = f"http://127.0.0.1:{port}"
    with harness.stack(env={"REPOINT_METRICS_LISTEN": f"127.0.0.1:{port}"}) as (_, daemon):
        daemon.client().get_apps()
        m = scrape(metrics_url)
        assert value(m, "repoint_build_info", version="0.1.0") == 1
        assert value(m, "repoint_api_requests_total", operation="GetApps", status="200") >= 1
        for probe in ("/repoint/health", "/repoint/ready"):
            assert status_of(metrics_url + probe)[0] == 200, probe
            assert status_of(daemon.url + probe)[0] == 200, probe
        status, body = status_of(daemon.url + "/metrics")
        assert status == 404 and "metrics.listen" in body, (status, body)
        status, body = status_of(metrics_url + "/v1/apps")
        assert status == 404 and "only /metrics" in body, (status, body)


if __name__ == "__main__":
    harness.run_tests([test_metrics_follow_traffic, test_workers_only_process_serves_metrics,
                       test_separate_metrics_listener])
