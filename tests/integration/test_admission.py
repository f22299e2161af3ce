"""Admission control: past admission.max_waiting_direct requests waiting for results, or
admission.max_queue_per_channel deliveries queued on a channel, new sends (SendMessages,
SendOTPMessage) get 429 TooManyRequestsException at once, naming the bound; the admitted ones
still complete, boto3's own retries get a refused send through once there is room, and a refused
OTP send leaves the previous code valid."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


def sms_app(daemon, name):
    c = daemon.client()
    app = c.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    c.update_sms_channel(ApplicationId=app,
                         SMSChannelRequest={"Enabled": True, "SenderId": "Repoint"})
    return app


def send(daemon, app, n=1, body="hi"):
    request = {"Addresses": {f"+1415555{i:04d}": {"ChannelType": "SMS"} for i in range(n)},
               "MessageConfiguration": {"SMSMessage": {"Body": body}}}
    return harness.signed_request(daemon.url, "POST", f"/v1/apps/{app}/messages",
                                  json.dumps(request).encode())


def test_waiting_requests_bound():
    sim = harness.SmsSim(tls=False).start()
    try:
        with harness.stack(env={**sim.env(), "REPOINT_ADMISSION_MAX_WAITING_DIRECT": "2"}) as (
                _, daemon):
            app = sms_app(daemon, "waiting")
            sim.configure(latency_ms=1500)
            answers = []
            threads = [threading.Thread(target=lambda: answers.append(send(daemon, app)))
                       for _ in range(6)]
            for t in threads:
                t.start()
                time.sleep(0.05)
            for t in threads:
                t.join(30)
            statuses = sorted(a[0] for a in answers)
            assert statuses.count(200) >= 2 and statuses.count(429) >= 1, statuses
            for status, headers, body in answers:
                if status == 429:
                    assert headers["x-amzn-errortype"].startswith("TooManyRequestsException")
                    assert "admission.max_waiting_direct" in body["Message"], body
                else:
                    result = body["Result"]["+14155550000"]
                    assert result["DeliveryStatus"] == "SUCCESSFUL", result
            # boto3 retries TooManyRequestsException: with a little patience the send goes in.
            sim.configure(latency_ms=300)
            c = daemon.client(retries=8)
            results = []
            threads = [threading.Thread(target=lambda: results.append(c.send_messages(
                ApplicationId=app, MessageRequest={
                    "Addresses": {"+14155550000": {"ChannelType": "SMS"}},
                    "MessageConfiguration": {"SMSMessage": {"Body": "patient"}}})))
                for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(results) == 4
            assert all(r["MessageResponse"]["Result"]["+14155550000"]["DeliveryStatus"] ==
                       "SUCCESSFUL" for r in results)
    finally:
        sim.stop()


def test_queue_bound_per_channel():
    """An API-only instance (no workers): deliveries stay queued, so the SMS queue fills."""
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, env={"REPOINT_ADMISSION_MAX_QUEUE_PER_CHANNEL": "5",
                                             "REPOINT_DIRECT_DEADLINE_MS": "500",
                                             "REPOINT_WORKERS_THREADS": "0"})
    try:
        daemon.start()
        app = sms_app(daemon, "queue")
        status, _, body = send(daemon, app, n=5)
        assert status == 200, body
        time.sleep(0.5)  # longer than the depth sampling interval

        status, headers, body = send(daemon, app)
        assert status == 429, body
        assert "The SMS queue holds 5 deliveries (admission.max_queue_per_channel 5)" in \
            body["Message"], body

        status, _, body = harness.signed_request(
            daemon.url, "POST", f"/v1/apps/{app}/otp", json.dumps({
                "Channel": "SMS", "BrandName": "Acme", "DestinationIdentity": "+14155550100",
                "OriginationIdentity": "Repoint", "ReferenceId": "login-1"}).encode())
        assert status == 429 and "SMS queue" in body["Message"], (status, body)

        redis.cli("DEL", "rp:q:{SMS:0}")  # the backlog clears: sends are admitted again
        harness.wait_until(lambda: send(daemon, app)[0] == 200, timeout=5, what="admitted again")
    finally:
        daemon.cleanup()
        redis.cleanup()


if __name__ == "__main__":
    harness.run_tests([test_waiting_requests_bound, test_queue_bound_per_channel])
