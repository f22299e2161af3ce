"""The message pipeline under faults, with real processes: a worker killed with SIGKILL mid-run,
Redis restarted mid-run (AOF), the MessagesPerSecond limit shared by two worker processes, and
dead letters listed and replayed. Deliveries go to the SMS simulator (tests/sim/sms_sim.c); each
carries its queue message id in its Body, so what the simulator received can be matched against
what was queued. No timing assertions: every wait is bounded, every assertion is about counts."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from datetime import datetime

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import faults  # noqa: E402
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

SHARDS = 4
EVENT_SUCCESS = "_SMS.SUCCESS"


RespError, Resp = harness.RespError, harness.Resp


@contextlib.contextmanager
def resp(redis):
    r = Resp(redis.port)
    try:
        yield r
    finally:
        r.close()


# ---- the queue, as gateway/queue.c and gateway/delivery.c lay it out ---------------------------

def fnv1a(text):
    h = 2166136261
    for b in text.encode():
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


def stream_key(shard):
    return f"rp:q:{{SMS:{shard}}}"


def retry_key(shard):
    return f"rp:retry:{{SMS:{shard}}}"


def body_of(message_id):
    return f"fault test {message_id}"


def id_of_body(body):
    return body[len("fault test "):] if body.startswith("fault test ") else None


def campaign_delivery(app, message_id, index):
    """A campaign-style delivery (nobody waits for it) in rp_delivery_to_json's shape."""
    now = int(time.time() * 1000)
    to = "+1415555%04d" % (index % 10000)
    return {"id": message_id, "rq": "fault-test", "app": app, "ch": "SMS", "to": to, "key": to,
            "c": {"Body": body_of(message_id)}, "t0": now, "dl": now + 600000, "n": 0, "o": 1}


def enqueue(redis, app, prefix, count):
    """XADDs count campaign deliveries to their shards' streams; returns their message ids (all
    acknowledged by Redis)."""
    ids = [f"{prefix}-{i:05d}-{uuid.uuid4().hex[:8]}" for i in range(count)]
    with resp(redis) as r:
        for start in range(0, count, 500):
            chunk = ids[start:start + 500]
            cmds = [("XADD", stream_key(fnv1a(mid) % SHARDS), "*", "d",
                     json.dumps(campaign_delivery(app, mid, start + k), separators=(",", ":")))
                    for k, mid in enumerate(chunk)]
            for reply in r.pipeline(cmds):
                assert not isinstance(reply, RespError), reply
    return ids


def queue_backlog(redis):
    """Entries still in the streams plus retries waiting: 0 once everything is recorded (a worker
    XDELs an entry when it acknowledges it)."""
    with resp(redis) as r:
        replies = r.pipeline([("XLEN", stream_key(s)) for s in range(SHARDS)] +
                             [("ZCARD", retry_key(s)) for s in range(SHARDS)])
    assert not any(isinstance(x, RespError) for x in replies), replies
    return sum(replies)


def wait_drained(redis, timeout, procs=()):
    def drained():
        for p in procs:
            assert p.proc.poll() is None, f"a repoint process exited:\n{p.logs()[-5000:]}"
        return queue_backlog(redis) == 0
    harness.wait_until(drained, timeout=timeout, interval=0.25, what="the queue to drain")


def pending_by_consumer(redis):
    """{consumer: entries read and not acknowledged} over every SMS stream."""
    out = {}
    with resp(redis) as r:
        replies = r.pipeline([("XPENDING", stream_key(s), "senders") for s in range(SHARDS)])
    for reply in replies:
        if isinstance(reply, RespError) or not reply or not reply[3]:
            continue
        for consumer, n in reply[3]:
            out[consumer] = out.get(consumer, 0) + int(n)
    return out


def xrange_all(redis, key):
    """Every entry of a stream as (id, {field: value})."""
    entries, start = [], "-"
    with resp(redis) as r:
        while True:
            page = r.call("XRANGE", key, start, "+", "COUNT", 5000)
            for entry_id, fields in page:
                entries.append((entry_id, dict(zip(fields[::2], fields[1::2]))))
            if len(page) < 5000:
                return entries
            start = "(" + page[-1][0]


def dead_letter_ids(redis):
    return [json.loads(f["d"])["id"] for _, f in xrange_all(redis, "rp:dlq")]


def dead_letter_entries(redis):
    """Every dead letter as {"id", "status", "reason"}: the delivery's id and its last result
    (DeliveryStatus and the message saying why)."""
    out = []
    for _, f in xrange_all(redis, "rp:dlq"):
        result = json.loads(f.get("r") or "{}")
        out.append({"id": json.loads(f["d"]).get("id"), "status": result.get("st"),
                    "reason": result.get("msg")})
    return out


def success_event_ids(redis):
    ids = set()
    for _, f in xrange_all(redis, "rp:events"):
        event = json.loads(f["data"])
        if event.get("event_type") == EVENT_SUCCESS:
            ids.add(event["attributes"]["message_id"])
    return ids


# ---- the simulator -----------------------------------------------------------------------------

def sim_records(sim):
    """Every record the simulator kept, oldest first."""
    records, since = [], 0
    while True:
        page = sim._call("GET", f"/sim/messages?since={since}&limit=100000")
        records += page["messages"]
        if not page["messages"]:
            return records
        since = page["last_seq"]


def delivered_counts(sim, ids):
    """{message id: times the simulator accepted it} for the ids given."""
    wanted = set(ids)
    counts = {}
    for rec in sim_records(sim):
        mid = id_of_body(rec["body"])
        if mid in wanted:
            counts[mid] = counts.get(mid, 0) + 1
    return counts


def record_ms(rec):
    return datetime.strptime(rec["time"], "%Y-%m-%dT%H:%M:%S.%fZ").timestamp() * 1000


# ---- processes ---------------------------------------------------------------------------------

class Role(harness.Repoint):
    """`repoint serve --roles ROLES --channels SMS`; a workers-only process answers only its
    probes on its listener."""

    def __init__(self, redis_url, roles, env):
        super().__init__(redis_url, env=env)
        self.roles = roles

    def start(self, wait=True):
        args = [harness.REPOINT_BIN, "serve", "--roles", self.roles, "--channels", "SMS"]
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, env=self.env, stdout=self.log, stderr=self.log)
        harness.wait_until(self.healthy, what="repoint health")
        return self

    def get(self, path):
        """(status, JSON body) of an unsigned GET."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())


class Pipeline:
    """Redis, the SMS simulator and any number of repoint processes, all stopped at exit."""

    def __init__(self, env):
        self.sim = harness.SmsSim()
        self.redis = harness.Redis()
        self.env = dict(env)
        self.procs = []

    def __enter__(self):
        self.sim.start()
        try:
            self.redis.start()
        except BaseException:
            self.sim.stop()
            raise
        self.env.update(self.sim.env())
        self.env.setdefault("REPOINT_LOG_LEVEL", "info")
        self.env.setdefault("REPOINT_QUEUE_SHARDS", str(SHARDS))
        return self

    def spawn(self, roles):
        """Starts a process; every one after the first shares the first's secrets key, so each
        can read the channel credentials the others stored."""
        env = dict(self.env)
        if self.procs:
            env["REPOINT_SECRETS_KEY_FILE"] = self.procs[0].key_path
        p = Role(self.redis.url, roles, env)
        self.procs.append(p)
        return p.start()

    def __exit__(self, kind, exc, tb):
        if kind is not None:
            for p in self.procs:
                if os.path.exists(p.log_path):
                    sys.stderr.write(f"---- repoint --roles {p.roles} log ----\n"
                                     f"{p.logs()[-8000:]}\n")
        for p in self.procs:
            try:
                p.cleanup()
            except AssertionError as e:
                sys.stderr.write(f"{e}\n")
        self.sim.stop()
        with contextlib.suppress(OSError):
            os.remove(self.sim.log_path)
        self.redis.cleanup()
        return False


def sms_app(api, name):
    c = api.client()
    app = c.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    c.update_sms_channel(ApplicationId=app,
                         SMSChannelRequest={"Enabled": True, "SenderId": "Repoint"})
    return app


def accepted(sim):
    return sim.stats()["accepted"]


# ---- tests -------------------------------------------------------------------------------------

IN_FLIGHT = 100
BATCH = 50
# The burst: 100,000 deliveries with a worker killed mid-run (about 30 s here); the
# sanitizer build, several times slower, runs 10,000.
BURST = 10000 if faults.sanitized_build() else 100000


def test_probes_by_role():
    """Orchestrators probe every process: a workers-only process answers /repoint/health and
    /repoint/ready (with its worker loops checked) and refuses the API; an api-only process reports
    no workers; readiness fails while Redis is down and returns with it."""
    with Pipeline({}) as pl:
        api = pl.spawn("api")
        workers = pl.spawn("workers")
        status, body = workers.get("/repoint/ready")
        assert status == 200 and body == {"status": "ready", "redis": True, "workers": True}, body
        status, body = api.get("/repoint/ready")
        assert status == 200 and body == {"status": "ready", "redis": True}, body
        assert workers.get("/repoint/health")[0] == 200
        status, body = workers.get("/v1/apps")
        assert status == 404 and "workers role only" in body["Message"], body
        assert api.get("/v1/apps")[0] == 403  # served (unsigned, so refused)
        pl.redis.stop()
        status, body = workers.get("/repoint/ready")
        assert status == 503 and body["redis"] is False, body
        pl.redis.start()
        harness.wait_until(lambda: workers.get("/repoint/ready")[0] == 200,
                           what="ready again after Redis returned")


def test_worker_killed_mid_run_loses_nothing():
    """SIGKILL the only worker process a fifth into a burst of BURST deliveries, with
    deliveries in flight; a new one takes over what the dead one held after
    queue.visibility_timeout_ms. Every delivery ends up delivered or dead-lettered (with a
    reason); only deliveries the dead worker held can reach the provider twice."""
    env = {"REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "2000", "REPOINT_QUEUE_IN_FLIGHT": str(IN_FLIGHT),
           "REPOINT_QUEUE_BATCH": str(BATCH), "REPOINT_WORKERS_THREADS": "1"}
    with Pipeline(env) as pl:
        api = pl.spawn("api")
        app = sms_app(api, "crash")
        # Some latency keeps the in-flight window full when the kill lands.
        pl.sim.configure(latency_ms=10)
        worker = pl.spawn("workers")
        ids = enqueue(pl.redis, app, "crash", BURST)
        harness.wait_until(lambda: accepted(pl.sim) >= BURST // 5, timeout=120, interval=0.02,
                           what=f"the first {BURST // 5} deliveries")
        worker.proc.send_signal(signal.SIGKILL)
        worker.proc.wait(10)
        held = pending_by_consumer(pl.redis)
        before = accepted(pl.sim)
        assert before < len(ids), "the run finished before the kill: nothing was in flight"
        assert sum(held.values()) > 0, "the killed worker held nothing"

        pl.spawn("workers")
        wait_drained(pl.redis, timeout=300, procs=[api, pl.procs[-1]])

        counts = delivered_counts(pl.sim, ids)
        dead_letters = dead_letter_entries(pl.redis)
        dead = {d["id"] for d in dead_letters}
        unexplained = [d for d in dead_letters if not d.get("reason")]
        assert not unexplained, f"dead letters without a reason: {unexplained[:3]}"
        lost = [m for m in ids if m not in counts and m not in dead]
        assert not lost, f"{len(lost)} deliveries lost, e.g. {lost[:5]}"
        assert not (dead - set(ids)), "dead letters that were never queued"
        # Only what the killed worker held (read, not acknowledged) may have been sent twice.
        duplicates = sum(n - 1 for n in counts.values())
        assert duplicates <= sum(held.values()), \
            f"{duplicates} duplicates > {held} entries held by the killed worker"
        missing_events = set(counts) - success_event_ids(pl.redis)
        assert not missing_events, (f"{len(missing_events)} delivered without a success "
                                    f"event, e.g. {sorted(missing_events)[:5]}")
        print(f"  crash: {len(counts)} delivered, {len(dead)} dead-lettered, {duplicates} "
              f"duplicates, {sum(held.values())} held by the killed worker", flush=True)
        # What the killed worker held (read, not acknowledged) is its in-flight window: at most
        # queue.in_flight dispatched plus one read (XREADGROUP's COUNT is per stream).
        assert sum(held.values()) <= IN_FLIGHT + BATCH * SHARDS, \
            f"the killed worker held {held} entries > queue.in_flight + queue.batch * shards"


def test_worker_sends_everything_it_reads():
    """A worker sends every entry it reads, without waiting for the visibility timeout: with a
    backlog over several shards (one XREADGROUP returns up to queue.batch entries per stream) and
    queue.visibility_timeout_ms far away, the whole backlog is delivered, and the worker never
    holds more than its in-flight window."""
    env = {"REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "120000",
           "REPOINT_QUEUE_IN_FLIGHT": str(IN_FLIGHT), "REPOINT_QUEUE_BATCH": str(BATCH)}
    with Pipeline(env) as pl:
        api = pl.spawn("api")
        app = sms_app(api, "backlog")
        ids = enqueue(pl.redis, app, "backlog", 1000)
        worker = pl.spawn("workers")
        most_held = 0

        def done():
            nonlocal most_held
            assert worker.proc.poll() is None, worker.logs()[-5000:]
            most_held = max([most_held] + list(pending_by_consumer(pl.redis).values()))
            return queue_backlog(pl.redis) == 0
        try:
            harness.wait_until(done, timeout=20, interval=0.1, what="the backlog to drain")
        except AssertionError:
            raise AssertionError(
                f"{queue_backlog(pl.redis)} of {len(ids)} entries still queued, "
                f"{accepted(pl.sim)} sent; held by the worker: {pending_by_consumer(pl.redis)}")
        assert set(delivered_counts(pl.sim, ids)) == set(ids)
        assert most_held <= IN_FLIGHT + BATCH * SHARDS, \
            f"the worker held {most_held} entries > queue.in_flight + queue.batch * shards"


def test_full_redis_is_reported_and_loses_no_delivery():
    """Redis at its maxmemory (noeviction) while deliveries are answered: the events the worker
    records are refused (OOM). The log says so, naming the reason; the worker sends the refused
    commands again until Redis has room, so once it has, no delivery and no event is lost."""
    with Pipeline({"REPOINT_QUEUE_IN_FLIGHT": str(IN_FLIGHT)}) as pl:
        proc = pl.spawn("api,workers")
        app = sms_app(proc, "full")
        pl.sim.configure(latency_ms=300)
        ids = enqueue(pl.redis, app, "full", 300)
        harness.wait_until(lambda: accepted(pl.sim) > 0, timeout=20, what="sends to start")
        used = [line.split(":")[1] for line in pl.redis.cli("INFO", "memory").splitlines()
                if line.startswith("used_memory:")][0]
        pl.redis.cli("CONFIG", "SET", "maxmemory", used)
        try:
            harness.wait_until(lambda: "Redis refused" in proc.logs(), timeout=20,
                               what="the worker to report refused commands")
        finally:
            pl.redis.cli("CONFIG", "SET", "maxmemory", "0")
            pl.sim.configure(latency_ms=0)
        line = next(x for x in proc.logs().splitlines() if "Redis refused" in x)
        assert "OOM" in line and "sending them again" in line, line
        wait_drained(pl.redis, 60, [proc])
        assert set(delivered_counts(pl.sim, ids)) == set(ids)
        harness.wait_until(lambda: "Redis took the refused commands" in proc.logs(), timeout=40,
                           what="the refused commands to be taken once Redis had room")
        logged = {e["attributes"].get("message_id") for e in pl.redis.events()}
        missing = [i for i in ids if i not in logged]
        assert not missing, f"{len(missing)} deliveries without their event, e.g. {missing[:3]}"
        assert "lost (events" not in proc.logs()


def test_redis_restart_mid_run_loses_nothing():
    """Stop Redis (SIGTERM: the AOF is written) while deliveries flow and API requests arrive,
    restart it on the same port and directory. The daemon rides it out without a restart, API
    errors meanwhile are retryable 500s, and every delivery queued before the restart is
    delivered or dead-lettered."""
    env = {"REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "3000", "REPOINT_DIRECT_DEADLINE_MS": "5000",
           "REPOINT_QUEUE_IN_FLIGHT": str(IN_FLIGHT), "REPOINT_QUEUE_BATCH": str(BATCH)}
    with Pipeline(env) as pl:
        daemon = pl.spawn("api,workers")
        app = sms_app(daemon, "restart")
        pl.sim.configure(latency_ms=100)
        ids = enqueue(pl.redis, app, "restart", 3000)
        harness.wait_until(lambda: accepted(pl.sim) >= 300, timeout=60, interval=0.02,
                           what="the first 300 deliveries")

        # API traffic through the outage: each answer is remembered; a request must never hang
        # or lose its connection.
        c = daemon.client()
        answers, broken, stop = [], [], threading.Event()

        def sender():
            n = 0
            while not stop.is_set():
                n += 1
                body = body_of(f"api-{n:04d}-{uuid.uuid4().hex[:8]}")
                try:
                    r = c.send_messages(ApplicationId=app, MessageRequest={
                        "Addresses": {"+14155559%03d" % (n % 1000): {"ChannelType": "SMS"}},
                        "MessageConfiguration": {"SMSMessage": {"Body": body}}})
                    answers.append((body, r["MessageResponse"]["Result"], None))
                except ClientError as e:
                    answers.append((body, None, e.response))
                except Exception as e:  # noqa: BLE001 - reported below
                    broken.append(repr(e))
                time.sleep(0.05)
        threads = [threading.Thread(target=sender) for _ in range(3)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)
            pl.redis.stop()
            before = accepted(pl.sim)
            assert before < len(ids), "the run finished before the restart"
            for k in range(5):
                try:
                    c.send_messages(ApplicationId=app, MessageRequest={
                        "Addresses": {"+1415555000%d" % k: {"ChannelType": "SMS"}},
                        "MessageConfiguration": {"SMSMessage": {"Body": "during the outage"}}})
                    raise AssertionError("SendMessages succeeded with Redis down")
                except ClientError as e:
                    assert e.response["Error"]["Code"] == "InternalServerErrorException", \
                        e.response
                    assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 500, e.response
            status, _, body = harness.signed_request(daemon.url, "GET", "/repoint/ready",
                                                     sign=False)
            assert status == 503, body
            # A client with the SDK's standard retries, sending during the outage, rides it out
            # (the 500s are ones botocore retries) and its message is delivered.
            retrying = daemon.client(retries=8)
            retried = []
            retrier = threading.Thread(target=lambda: retried.append(retrying.send_messages(
                ApplicationId=app, MessageRequest={
                    "Addresses": {"+14155550002": {"ChannelType": "SMS"}},
                    "MessageConfiguration": {"SMSMessage": {"Body": body_of("retried")}}})))
            retrier.start()
            time.sleep(1.5)
            pl.redis.start()
            time.sleep(1.0)
        finally:
            stop.set()
            for thread in threads:
                thread.join(60)
        retrier.join(90)
        assert not retrier.is_alive(), "the retrying SendMessages never returned"
        assert retried, "the retrying SendMessages failed (see the thread's exception above)"
        result = retried[0]["MessageResponse"]["Result"]["+14155550002"]
        assert result["DeliveryStatus"] == "SUCCESSFUL", result
        assert not any(t.is_alive() for t in threads), "a SendMessages call never returned"
        assert not broken, broken[:5]

        def ready():
            status, _, _ = harness.signed_request(daemon.url, "GET", "/repoint/ready",
                                                  sign=False)
            return status == 200
        harness.wait_until(ready, timeout=20, what="/repoint/ready after the restart")
        assert daemon.proc.poll() is None, "the daemon exited when Redis went away"
        r = c.send_messages(ApplicationId=app, MessageRequest={
            "Addresses": {"+14155550001": {"ChannelType": "SMS"}},
            "MessageConfiguration": {"SMSMessage": {"Body": body_of("after-restart")}}})
        result = r["MessageResponse"]["Result"]["+14155550001"]
        assert result["DeliveryStatus"] == "SUCCESSFUL", result

        wait_drained(pl.redis, timeout=90, procs=[daemon])
        counts = delivered_counts(pl.sim, ids)
        dead = set(dead_letter_ids(pl.redis))
        lost = [m for m in ids if m not in counts and m not in dead]
        assert not lost, f"{len(lost)} queued deliveries lost, e.g. {lost[:5]}"

        failed = [a for a in answers if a[2] is not None]
        for _, _, response in failed:
            assert response["ResponseMetadata"]["HTTPStatusCode"] >= 500, response
            assert response["Error"]["Code"] == "InternalServerErrorException", response
        bodies = {rec["body"] for rec in sim_records(pl.sim)}
        assert body_of("retried") in bodies, "the retried send answered SUCCESSFUL, never sent"
        ok = [a for a in answers if a[1] is not None]
        for body, result, _ in ok:
            for res in result.values():
                if res["DeliveryStatus"] == "SUCCESSFUL":
                    assert body in bodies, f"answered SUCCESSFUL but never sent: {body}"
        assert ok, "no SendMessages answered at all"
        print(f"  restart: {len(counts)} delivered, {len(dead)} dead-lettered; API: {len(ok)} "
              f"answered, {len(failed)} retryable errors", flush=True)


def test_rate_limit_shared_by_two_worker_processes():
    """limits.sms.messages_per_second 200 with two worker processes: over any 10 s window the
    simulator receives at most 200 * 10 + burst (rp_limiter_burst: max(1, 200 / 10)) messages."""
    rate = 200
    burst = max(1, rate // 10)
    env = {"REPOINT_LIMITS_SMS_MESSAGES_PER_SECOND": str(rate),
           "REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "5000"}
    with Pipeline(env) as pl:
        api = pl.spawn("api")
        workers = [pl.spawn("workers"), pl.spawn("workers")]
        # Warm-up on another app (its own bucket): both workers open their provider connections,
        # so the TLS handshakes do not bunch the measured app's first messages together.
        warm = sms_app(api, "warm-up")
        warm_ids = enqueue(pl.redis, warm, "warm", 200)
        wait_drained(pl.redis, timeout=60, procs=[api] + workers)
        assert len(delivered_counts(pl.sim, warm_ids)) == len(warm_ids)

        app = sms_app(api, "limited")
        ids = enqueue(pl.redis, app, "limited", 3000)
        wanted = set(ids)

        def times():
            return sorted(record_ms(rec) for rec in sim_records(pl.sim)
                          if id_of_body(rec["body"]) in wanted)

        def spanned():
            for p in [api] + workers:
                assert p.proc.poll() is None, f"a repoint process exited:\n{p.logs()[-5000:]}"
            t = times()
            return len(t) >= len(ids) or (t and t[-1] - t[0] >= 11000)
        harness.wait_until(spanned, timeout=60, interval=0.5, what="11 s of limited deliveries")
        t = times()
        worst, k = 0, 0
        for i in range(len(t)):
            while k < len(t) and t[k] < t[i] + 10000:
                k += 1
            worst = max(worst, k - i)
        assert worst <= rate * 10 + burst, \
            f"{worst} messages in a 10 s window > {rate} * 10 + {burst}"
        assert worst > 0
        print(f"  rate limit: at most {worst} messages in any 10 s window "
              f"(bound {rate * 10 + burst}; {len(t)} observed)", flush=True)


def test_dead_letters_listed_and_replayed():
    """A provider failing every request: campaign deliveries exhaust queue.max_attempts and land
    in rp:dlq; the dead-letter API lists them with their last result and replays them (by id and
    all) once the provider works again."""
    env = {"REPOINT_QUEUE_MAX_ATTEMPTS": "2", "REPOINT_QUEUE_RETRY_BASE_MS": "100"}
    count = 60
    with Pipeline(env) as pl:
        daemon = pl.spawn("api,workers")
        app = sms_app(daemon, "dead")
        pl.sim.configure(error_rate=1.0)
        ids = enqueue(pl.redis, app, "dead", count)
        harness.wait_until(lambda: len(dead_letter_ids(pl.redis)) >= count, timeout=60,
                           interval=0.25, what="every delivery dead-lettered")
        wait_drained(pl.redis, timeout=30, procs=[daemon])
        assert sorted(dead_letter_ids(pl.redis)) == sorted(ids)
        assert accepted(pl.sim) == 0

        listed, token = [], None
        for _ in range(10):
            query = "?page-size=25" + (f"&token={token}" if token else "")
            status, _, body = harness.signed_request(daemon.url, "GET",
                                                     "/repoint/v1/dead-letters" + query)
            assert status == 200, body
            listed += body["DeadLetters"]
            token = body.get("NextToken")
            if not token:
                break
        assert sorted(d["MessageId"] for d in listed) == sorted(ids), listed[:3]
        assert len({d["Id"] for d in listed}) == count
        for d in listed:
            assert d["ApplicationId"] == app, d
            assert d["ChannelType"] == "SMS", d
            assert d["DeliveryStatus"] == "TEMPORARY_FAILURE", d
            assert d["Attempts"] == 2, d
            assert d["StatusCode"] == 500, d

        pl.sim.reset()  # error_rate back to 0, no records
        first = listed[0]
        status, _, body = harness.signed_request(
            daemon.url, "POST", "/repoint/v1/dead-letters/replay",
            body=json.dumps({"Ids": [first["Id"]]}).encode())
        assert status == 200 and body["Replayed"] == 1, (status, body)
        status, _, body = harness.signed_request(
            daemon.url, "POST", "/repoint/v1/dead-letters/replay",
            body=json.dumps({"All": True}).encode())
        assert status == 200 and body["Replayed"] == count - 1, (status, body)
        assert dead_letter_ids(pl.redis) == []
        harness.wait_until(lambda: len(delivered_counts(pl.sim, ids)) == count, timeout=30,
                           interval=0.25, what="the replayed deliveries")
        wait_drained(pl.redis, timeout=30, procs=[daemon])
        assert dead_letter_ids(pl.redis) == []
        assert set(delivered_counts(pl.sim, ids)) == set(ids)
        assert set(ids) <= success_event_ids(pl.redis)


def main():
    harness.run_tests([
        test_probes_by_role,
        test_worker_killed_mid_run_loses_nothing,
        test_worker_sends_everything_it_reads,
        test_redis_restart_mid_run_loses_nothing,
        test_full_redis_is_reported_and_loses_no_delivery,
        test_rate_limit_shared_by_two_worker_processes,
        test_dead_letters_listed_and_replayed,
    ])


if __name__ == "__main__":
    main()
