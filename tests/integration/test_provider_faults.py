"""Providers that misbehave at the connection level, with real processes: the SMS simulator
(HTTPS/1.1 through libcurl) and two APNs simulators (TLS + HTTP/2 through nghttp2; production
and sandbox) told to stall (accept, read, never answer), to reset (close the connection, or
RST_STREAM + GOAWAY, without an answer) or to answer slowly. What a user relies on:
- a stalled or slow provider costs a delivery at most its channel's timeout, then it is a
  TEMPORARY_FAILURE (retried; the answer names the timeout); a reset is retried and delivered;
- while one provider stalls, the worker loops keep delivering for other apps and channels, even
  with a backlog for the stalled one larger than the worker's in-flight window;
- SIGTERM with deliveries stuck at a stalled provider exits 0 within shutdown.grace_seconds (plus
  a margin for the process to wind down), and those deliveries stay queued: a later instance
  delivers every one of them.
Counts come from the simulators' counters and records; no timing thresholds besides the
shutdown bound the configuration promises."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import faults  # noqa: E402
import harness  # noqa: E402
import test_pipeline_faults as pf  # noqa: E402
from apns_sim import ApnsSim, Credentials  # noqa: E402

BUNDLE = "com.example.repoint"
SANITIZED = faults.sanitized_build()
GRACE_S = 2
# What a process may take past shutdown.grace_seconds to stop its API, workers and Redis
# connections (generous: two CPUs are shared with other jobs, and ASan is several times slower).
SHUTDOWN_MARGIN_S = 8 if SANITIZED else 5


def token(i):
    return f"{i:064x}"


class Stack:
    """Redis, the SMS simulator, APNs production and sandbox simulators, and one daemon
    (api,workers) with an SMS app and an APNs app (token auth, both APNs environments)."""

    def __init__(self, env):
        self.env = env
        self.creds = Credentials(BUNDLE)
        self.sms = harness.SmsSim()
        self.prod = self.sandbox = None
        self.redis = harness.Redis()
        self.daemons = []

    def __enter__(self):
        self.sms.start()
        self.prod = ApnsSim(self.creds, "production")
        self.sandbox = ApnsSim(self.creds, "sandbox")
        self.redis.start()
        self.daemon = self.spawn()
        c = self.daemon.client()
        self.sms_app = c.create_app(CreateApplicationRequest={"Name": "sms"})[
            "ApplicationResponse"]["Id"]
        c.update_sms_channel(ApplicationId=self.sms_app,
                             SMSChannelRequest={"Enabled": True, "SenderId": "Repoint"})
        self.apns_app = c.create_app(CreateApplicationRequest={"Name": "apns"})[
            "ApplicationResponse"]["Id"]
        c.update_apns_channel(ApplicationId=self.apns_app,
                              APNSChannelRequest=self.creds.token_channel())
        c.update_apns_sandbox_channel(ApplicationId=self.apns_app,
                                      APNSSandboxChannelRequest=self.creds.token_channel())
        return self

    def spawn(self):
        env = dict(self.env)
        env.update(self.sms.env())
        env.update({"REPOINT_APNS_PRODUCTION_URL": self.prod.url,
                    "REPOINT_APNS_SANDBOX_URL": self.sandbox.url,
                    "REPOINT_TLS_CA_FILE": faults.CA_FILE,
                    "REPOINT_LOG_LEVEL": "info",
                    "REPOINT_QUEUE_SHARDS": str(pf.SHARDS),
                    "REPOINT_SHUTDOWN_GRACE_SECONDS": str(GRACE_S)})
        if self.daemons:
            env["REPOINT_SECRETS_KEY_FILE"] = self.daemons[0].key_path
        d = harness.Repoint(self.redis.url, env=env)
        self.daemons.append(d)
        return d.start()

    def __exit__(self, kind, exc, tb):
        if kind is not None:
            for d in self.daemons:
                if os.path.exists(d.log_path):
                    sys.stderr.write(f"---- repoint log ----\n{d.logs()[-8000:]}\n")
        for d in self.daemons:
            try:
                d.cleanup()
            except AssertionError as e:
                sys.stderr.write(f"{e}\n")
                if kind is None:
                    raise
        for sim in (self.prod, self.sandbox):
            if sim:
                sim.stop()
        self.sms.stop()
        self.redis.cleanup()
        return False

    def send_sms(self, n, client=None):
        c = client or self.daemon.client()
        to = "+1415555%04d" % n
        r = c.send_messages(ApplicationId=self.sms_app, MessageRequest={
            "Addresses": {to: {"ChannelType": "SMS"}},
            "MessageConfiguration": {"SMSMessage": {"Body": pf.body_of(f"direct-{n}")}}})
        return r["MessageResponse"]["Result"][to]

    def send_apns(self, n, channel="APNS", client=None):
        c = client or self.daemon.client()
        r = c.send_messages(ApplicationId=self.apns_app, MessageRequest={
            "Addresses": {token(n): {"ChannelType": channel}},
            "MessageConfiguration": {"APNSMessage": {"Title": "t", "Body": f"n{n}"}}})
        return r["MessageResponse"]["Result"][token(n)]


def in_parallel(calls):
    """Runs each call on its own thread; returns their results (or exceptions) in order."""
    out = [None] * len(calls)

    def run(i, call):
        try:
            out[i] = call()
        except Exception as e:  # noqa: BLE001 - returned to the caller
            out[i] = e
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "a SendMessages call never returned"
    return out


# ---- short timeouts: stalls, resets, slowness -------------------------------------------------

SHORT = {"REPOINT_SMS_TIMEOUT_MS": "1000", "REPOINT_APNS_TIMEOUT_MS": "1000",
         "REPOINT_DIRECT_DEADLINE_MS": "6000", "REPOINT_QUEUE_RETRY_BASE_MS": "200",
         "REPOINT_QUEUE_MAX_ATTEMPTS": "2"}


def check_timed_out(result, what):
    assert result["DeliveryStatus"] == "TEMPORARY_FAILURE", (what, result)
    text = result.get("StatusMessage", "").lower()
    assert "time" in text or "answer" in text, (what, result)


def test_short_timeouts():
    with Stack(SHORT) as st:
        c = st.daemon.client()
        # Warm both transports (connections, provider token) so later counts are about faults.
        assert st.send_sms(1, c)["DeliveryStatus"] == "SUCCESSFUL"
        assert st.send_apns(1, "APNS", c)["DeliveryStatus"] == "SUCCESSFUL"
        assert st.send_apns(2, "APNS_SANDBOX", c)["DeliveryStatus"] == "SUCCESSFUL"

        # Stalled SMS provider: each attempt times out, the direct send answers
        # TEMPORARY_FAILURE; SMS's stall holds no worker: APNs keeps delivering meanwhile.
        st.sms.configure(stall=True)
        results = in_parallel([lambda: st.send_sms(10)] +
                              [lambda i=i: st.send_apns(100 + i) for i in range(10)])
        check_timed_out(results[0], "stalled SMS")
        assert all(not isinstance(r, Exception) and r["DeliveryStatus"] == "SUCCESSFUL"
                   for r in results[1:]), results[1:]
        stats = st.sms.stats()
        assert stats["stalled_total"] >= 2, stats  # retried after the first timeout
        st.sms.reset()  # answers what it held with 503 and clears the stall

        # Slow SMS provider: under the timeout it delivers, over it it times out.
        st.sms.configure(latency_ms=300)
        assert st.send_sms(11, c)["DeliveryStatus"] == "SUCCESSFUL"
        st.sms.configure(latency_ms=3000)
        check_timed_out(st.send_sms(12, c), "SMS slower than sms.timeout_ms")
        st.sms.reset()

        # An SMS connection reset with no answer: retried on a new connection and delivered.
        st.sms.configure(reset_next=1)
        r = st.send_sms(13, c)
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        stats = st.sms.stats()
        assert stats["resets"] == 1 and stats["accepted"] == 1, stats
        # Every request reset: TEMPORARY_FAILURE, not a hang and not a crash.
        st.sms.configure(reset=True)
        r = st.send_sms(14, c)
        assert r["DeliveryStatus"] == "TEMPORARY_FAILURE", r
        st.sms.reset()
        assert st.send_sms(15, c)["DeliveryStatus"] == "SUCCESSFUL"

        # Stalled APNs production: the APNs send times out; the sandbox app-channel and SMS
        # keep delivering meanwhile.
        st.prod.config(stall=True)
        results = in_parallel([lambda: st.send_apns(20)] +
                              [lambda i=i: st.send_apns(200 + i, "APNS_SANDBOX")
                               for i in range(5)] +
                              [lambda i=i: st.send_sms(200 + i) for i in range(5)])
        check_timed_out(results[0], "stalled APNs")
        assert all(not isinstance(r, Exception) and r["DeliveryStatus"] == "SUCCESSFUL"
                   for r in results[1:]), results[1:]
        assert st.prod.stats()["stalled_total"] >= 2, st.prod.stats()
        st.prod.reset()

        # Slow APNs: under the timeout delivered, over it a timeout.
        st.prod.config(latency_ms=300)
        assert st.send_apns(21, "APNS", c)["DeliveryStatus"] == "SUCCESSFUL"
        st.prod.config(latency_ms=3000)
        check_timed_out(st.send_apns(22, "APNS", c), "APNs slower than apns.timeout_ms")
        st.prod.reset()

        # APNs stream reset + GOAWAY(INTERNAL_ERROR): retried on a new connection, delivered.
        opened = st.prod.stats()["connections_opened"]
        st.prod.config(reset_next=1)
        r = st.send_apns(23, "APNS", c)
        assert r["DeliveryStatus"] == "SUCCESSFUL", r
        stats = st.prod.stats()
        assert stats["resets"] == 1 and stats["accepted"] == 1, stats
        assert stats["connections_opened"] > opened, stats
        st.prod.config(reset=True)
        assert st.send_apns(24, "APNS", c)["DeliveryStatus"] == "TEMPORARY_FAILURE"
        st.prod.reset()
        assert st.send_apns(25, "APNS", c)["DeliveryStatus"] == "SUCCESSFUL"
        assert st.daemon.proc.poll() is None


# ---- default timeouts: a stall with a backlog, then SIGTERM -----------------------------------

def test_stall_with_backlog_then_sigterm():
    """sms.timeout_ms and apns.timeout_ms at their 10 s default, longer than the direct
    deadline and the shutdown grace. The SMS provider and APNs production stall with a campaign
    backlog of several in-flight windows queued for SMS; sandbox APNs sends (another channel,
    another provider) keep being delivered within their deadline. SIGTERM: the daemon exits 0
    within grace + margin, the stuck deliveries stay in the streams, and a second instance,
    once the providers work again, delivers every one."""
    in_flight = 50
    backlog = 4 * in_flight
    # Under ASan on a shared machine a sandbox send can take seconds on its own.
    deadline_ms = 8000 if SANITIZED else 4000
    # A small queue.batch, so one read does not take the whole backlog past the window.
    env = {"REPOINT_QUEUE_IN_FLIGHT": str(in_flight), "REPOINT_QUEUE_BATCH": "10",
           "REPOINT_DIRECT_DEADLINE_MS": str(deadline_ms),
           "REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "2000"}
    with Stack(env) as st:
        c = st.daemon.client()
        assert st.send_sms(1, c)["DeliveryStatus"] == "SUCCESSFUL"
        assert st.send_apns(1, "APNS_SANDBOX", c)["DeliveryStatus"] == "SUCCESSFUL"
        st.sms.configure(stall=True)
        st.prod.config(stall=True)
        ids = pf.enqueue(st.redis, st.sms_app, "stuck", backlog)
        harness.wait_until(lambda: st.sms.stats()["stalled"] >= in_flight // 2, timeout=20,
                           what="SMS deliveries stuck at the stalled provider")
        time.sleep(0.5)
        # Well before sms.timeout_ms: the SMS window is full (at most queue.in_flight plus one
        # read of queue.batch per shard), the rest of the backlog still queued.
        held = st.sms.stats()["stalled"]
        assert in_flight // 2 <= held <= in_flight + 10 * pf.SHARDS < backlog, st.sms.stats()
        stuck_apns = in_parallel([lambda: st.send_apns(30, "APNS")] +
                                 [lambda i=i: st.send_apns(300 + i, "APNS_SANDBOX")
                                  for i in range(20)])
        # The production APNs send is cut at its deadline (the timeout is longer).
        assert stuck_apns[0]["DeliveryStatus"] == "TEMPORARY_FAILURE", stuck_apns[0]
        bad = [r for r in stuck_apns[1:]
               if isinstance(r, Exception) or r["DeliveryStatus"] != "SUCCESSFUL"]
        assert not bad, f"{len(bad)} of 20 sandbox sends failed during the SMS stall: {bad[:3]}"
        assert len([n for n in st.sandbox.notifications() if n["token"] >= token(300)]) == 20
        held = st.sms.stats()["stalled"]  # with attempts that timed out and were retried

        rc, took = faults.stop_within(st.daemon.proc, timeout=GRACE_S + 30)
        print(f"  SIGTERM with {held} SMS requests held at the simulator: exit {rc} after "
              f"{took:.1f} s",
              flush=True)
        assert rc == 0, st.daemon.logs()[-3000:]
        assert took <= GRACE_S + SHUTDOWN_MARGIN_S, \
            f"shutdown took {took:.1f} s > grace {GRACE_S} s + {SHUTDOWN_MARGIN_S} s"
        assert pf.queue_backlog(st.redis) > 0, "the stuck deliveries were not left queued"

        st.sms.reset()
        st.prod.reset()
        second = st.spawn()
        pf.wait_drained(st.redis, timeout=60, procs=[second])
        counts = pf.delivered_counts(st.sms, ids)
        dead = set(pf.dead_letter_ids(st.redis))
        lost = [m for m in ids if m not in counts and m not in dead]
        assert not lost, f"{len(lost)} deliveries lost across the shutdown, e.g. {lost[:5]}"
        assert not dead, f"{len(dead)} dead-lettered although the provider came back"


def main():
    harness.run_tests([test_short_timeouts, test_stall_with_backlog_then_sigterm])


if __name__ == "__main__":
    main()
