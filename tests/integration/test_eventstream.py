"""Event streams: PutEventStream, GetEventStream and DeleteEventStream through boto3 and the AWS
CLI (Kinesis and Firehose ARNs refused with a 400 that says why), then the forwarder inside
`repoint serve`: events appended to rp:events in the shape rp_events_append writes (fields
data and app) reach a redis: destination stream and an http:// webhook, the webhook's failures
are retried until it accepts, a failing webhook does not hold back another app's events, and
events of an app without a destination are acknowledged and go nowhere; while no app has one,
the forwarder skips new events without reading them back."""
import http.server
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/repoint-events"
EVENTS_MAXLEN = 1000         # events.maxlen for this module's Repoint (the lowest allowed)
TRIM_EVERY = 128             # RP_EVENTS_TRIM_EVERY (gateway/events.h)
NODE_ENTRIES = 100           # Redis's stream-node-max-entries: MAXLEN ~ trims whole nodes
state = {}


class Webhook:
    """A loopback HTTP server recording POSTs. Path /flaky fails its first `fail_first` POSTs
    with 500; /down always fails; anything else answers 200."""

    def __init__(self, fail_first=2):
        self.lock = threading.Lock()
        self.posts = []          # (path, headers, parsed body) of every POST, failed or not
        self.accepted = []       # events of POSTs answered 2xx
        self.flaky_left = fail_first
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with hook.lock:
                    try:
                        parsed = json.loads(body)
                    except ValueError:
                        parsed = None
                    hook.posts.append((self.path, dict(self.headers), parsed))
                    fail = self.path == "/down" or (self.path == "/flaky" and hook.flaky_left > 0)
                    if self.path == "/flaky" and hook.flaky_left > 0:
                        hook.flaky_left -= 1
                    if not fail and isinstance(parsed, list):
                        hook.accepted.extend(parsed)
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def accepted_ids(self):
        with self.lock:
            return [e["attributes"]["message_id"] for e in self.accepted]

    def posts_to(self, path):
        with self.lock:
            return [p for p in self.posts if p[0] == path]


def client_error(fn, **kwargs):
    from botocore.exceptions import ClientError
    try:
        fn(**kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"]["Message"], \
            e.response["ResponseMetadata"]["HTTPStatusCode"]
    raise AssertionError(f"{fn.__name__} succeeded")


def new_app(name):
    return state["client"].create_app(
        CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]


def put(app, dest):
    return state["client"].put_event_stream(
        ApplicationId=app,
        WriteEventStream={"DestinationStreamArn": dest, "RoleArn": ROLE})["EventStream"]


def synthetic_event(app, message_id, event_type="_SMS.SUCCESS"):
    now = int(time.time() * 1000)
    return {"event_type": event_type, "event_timestamp": now, "arrival_timestamp": now - 5,
            "event_version": "3.1", "application": {"app_id": app, "sdk": {}},
            "client": {"client_id": "ep-1"}, "device": {"platform": {}}, "session": {},
            "attributes": {"message_id": message_id, "delivery_status": "SUCCESSFUL",
                           "record_status": "SUCCESSFUL",
                           "destination_phone_number": "+14255550199"},
            "metrics": {}, "awsAccountId": "000000000000"}


def append_events(app, ids):
    for mid in ids:
        out = state["redis"].cli("XADD", "rp:events", "MAXLEN", "~", "1000000", "*", "data",
                                 json.dumps(synthetic_event(app, mid), separators=(",", ":")),
                                 "app", app)
        assert "-" in out, out


def append_events_bulk(events):
    """append_events for many (app, id) pairs in one round trip."""
    state["redis"].pipe([("XADD", "rp:events", "*", "data",
                          json.dumps(synthetic_event(app, mid), separators=(",", ":")), "app", app)
                         for app, mid in events])


def stream_events(key):
    """The data documents of a stream, parsed (redis-cli prints one value per line)."""
    lines = state["redis"].cli("XRANGE", key, "-", "+").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def stream_apps(key):
    lines = state["redis"].cli("XRANGE", key, "-", "+").splitlines()
    return [lines[i + 1] for i, line in enumerate(lines[:-1]) if line == "app"]


def pending_count():
    out = state["redis"].cli("XPENDING", "rp:events", "forwarder").splitlines()
    return int(out[0]) if out and out[0].strip().lstrip("-").isdigit() else -1


def group_info():
    """The forwarder group's XINFO GROUPS fields (redis-cli prints name and value lines)."""
    lines = state["redis"].cli("XINFO", "GROUPS", "rp:events").split("\n")
    start = lines.index("forwarder") - 1
    return dict(zip(lines[start:start + 12:2], lines[start + 1:start + 13:2]))


def last_event_id():
    return state["redis"].cli("XREVRANGE", "rp:events", "+", "-", "COUNT", "1").split("\n")[0]


def test_no_destination_anywhere_events_are_skipped_unread():
    """Runs first, while no app has a destination: the forwarder moves its group past new events
    without reading them back (XREADGROUP would count them in entries-read), and reads again
    once an app has a destination, from then on."""
    c = state["client"]
    app = new_app("events-skip")
    append_events(app, ["skip-1", "skip-2", "skip-3"])
    last = last_event_id()
    harness.wait_until(lambda: group_info()["last-delivered-id"] == last, timeout=20,
                       what="the forwarder group past the events")
    info = group_info()
    assert info["entries-read"] == "" and info["pending"] == "0", info

    put(app, "redis:skip-events")
    assert state["redis"].cli("SISMEMBER", "rp:{rp:events}:dest-apps", app).strip() == "1"
    append_events(app, ["skip-4"])
    harness.wait_until(lambda: stream_events("skip-events"), timeout=20,
                       what="events in skip-events")
    assert [e["attributes"]["message_id"] for e in stream_events("skip-events")] == ["skip-4"]

    c.delete_event_stream(ApplicationId=app)
    assert state["redis"].cli("SISMEMBER", "rp:{rp:events}:dest-apps", app).strip() == "0"


def test_destination_written_before_the_list_is_forwarded_after_a_restart():
    """Settings stored by a Repoint that kept no list of the apps with a destination (or whose
    delete could not unlist the app) are reconciled when the forwarder starts."""
    app = new_app("events-legacy")
    gone = new_app("events-gone")
    key = "rp:{a:%s}:eventstream" % app
    state["redis"].cli("SET", key, json.dumps({"DestinationStreamArn": "redis:legacy-events",
                                               "RoleArn": ROLE}))
    state["redis"].cli("SADD", "rp:{rp:events}:dest-apps", gone)
    state["daemon"].stop()
    state["daemon"].start()
    state["client"] = state["daemon"].client()
    harness.wait_until(lambda: state["redis"].cli(
        "SMEMBERS", "rp:{rp:events}:dest-apps").split() == [app], timeout=20,
        what="the list of apps with a destination reconciled")
    append_events(app, ["legacy-1"])
    harness.wait_until(lambda: stream_events("legacy-events"), timeout=20,
                       what="events in legacy-events")
    assert stream_events("legacy-events")[0]["attributes"]["message_id"] == "legacy-1"
    state["client"].delete_event_stream(ApplicationId=app)


def test_put_get_delete_with_boto3():
    c = state["client"]
    app = new_app("events-boto3")
    code, _, status = client_error(c.get_event_stream, ApplicationId=app)
    assert (code, status) == ("NotFoundException", 404)

    resp = put(app, "redis:events-boto3")
    assert resp["ApplicationId"] == app
    assert resp["DestinationStreamArn"] == "redis:events-boto3"
    assert resp["RoleArn"] == ROLE
    assert resp["LastUpdatedBy"] == harness.ACCESS_KEY
    assert resp["LastModifiedDate"].endswith("Z")
    got = c.get_event_stream(ApplicationId=app)["EventStream"]
    assert got == resp, (got, resp)

    # Replacing the destination keeps one stream per app.
    resp = put(app, "https://hooks.example.com/pinpoint?token=abc")
    assert c.get_event_stream(ApplicationId=app)["EventStream"]["DestinationStreamArn"] == \
        "https://hooks.example.com/pinpoint?token=abc"

    deleted = c.delete_event_stream(ApplicationId=app)["EventStream"]
    assert deleted["DestinationStreamArn"] == "https://hooks.example.com/pinpoint?token=abc"
    assert client_error(c.get_event_stream, ApplicationId=app)[0] == "NotFoundException"
    assert client_error(c.delete_event_stream, ApplicationId=app)[0] == "NotFoundException"


def test_unusable_destinations_are_400():
    c = state["client"]
    app = new_app("events-bad")
    for dest, needle in [
            ("arn:aws:kinesis:us-east-1:123456789012:stream/pinpoint", "Kinesis"),
            ("arn:aws:firehose:us-east-1:123456789012:deliverystream/pp", "Kinesis"),
            ("redis://10.0.0.1:6379/0", "own Redis"),
            ("redis:rp:events", "Repoint's own"),
            ("ftp://example.com/x", "https://"),
            ("", "required")]:
        code, message, status = client_error(
            c.put_event_stream, ApplicationId=app,
            WriteEventStream={"DestinationStreamArn": dest, "RoleArn": ROLE})
        assert (code, status) == ("BadRequestException", 400), (dest, code, status)
        assert "DestinationStreamArn" in message and needle in message, (dest, message)
    # RoleArn is required by Pinpoint's model; a client that skips the SDK's check gets a 400.
    status, _, body = harness.signed_request(
        state["daemon"].url, "POST", f"/v1/apps/{app}/eventstream",
        body=json.dumps({"DestinationStreamArn": "redis:x"}).encode())
    assert status == 400 and "RoleArn" in body["Message"], (status, body)
    assert client_error(c.get_event_stream, ApplicationId=app)[0] == "NotFoundException"
    # An unknown app is a 404 whatever the body.
    code, _, status = client_error(
        c.put_event_stream, ApplicationId="0" * 32,
        WriteEventStream={"DestinationStreamArn": "redis:x", "RoleArn": ROLE})
    assert (code, status) == ("NotFoundException", 404)


def test_put_get_delete_with_aws_cli():
    d = state["daemon"]
    app = new_app("events-cli")
    write = json.dumps({"DestinationStreamArn": "https://hooks.example.com/a,b=c",
                        "RoleArn": ROLE})
    out = d.aws("put-event-stream", "--application-id", app, "--write-event-stream", write)
    assert out["EventStream"]["DestinationStreamArn"] == "https://hooks.example.com/a,b=c"
    out = d.aws("get-event-stream", "--application-id", app)
    assert out["EventStream"]["ApplicationId"] == app
    assert out["EventStream"]["RoleArn"] == ROLE
    out = d.aws("delete-event-stream", "--application-id", app)
    assert out["EventStream"]["ApplicationId"] == app
    rc, _, err = d.aws("get-event-stream", "--application-id", app, check=False)
    assert rc != 0 and "NotFoundException" in err, err
    kinesis = json.dumps({"DestinationStreamArn": "arn:aws:kinesis:us-east-1:1:stream/s",
                          "RoleArn": ROLE})
    rc, _, err = d.aws("put-event-stream", "--application-id", app, "--write-event-stream",
                       kinesis, check=False)
    assert rc != 0 and "BadRequestException" in err and "Kinesis" in err, err


def test_forwarding_to_a_redis_stream():
    app = new_app("events-redis")
    put(app, "redis:customer-events")
    ids = [f"redis-{i}" for i in range(3)]
    append_events(app, ids)
    harness.wait_until(lambda: len(stream_events("customer-events")) == 3, timeout=20,
                       what="events in customer-events")
    events = stream_events("customer-events")
    assert [e["attributes"]["message_id"] for e in events] == ids
    assert events[0]["event_type"] == "_SMS.SUCCESS"
    assert events[0]["application"]["app_id"] == app
    assert stream_apps("customer-events") == [app] * 3
    harness.wait_until(lambda: pending_count() == 0, timeout=20, what="acknowledged events")


def test_redis_destinations_keep_about_events_maxlen():
    """Streams Repoint writes events to (redis: destinations, like rp:events) keep the newest
    events.maxlen events, give or take a trim batch and a macro node: they never grow without
    bound however many events pass, each trimmed on its own however the forwarder interleaves
    its writes to them."""
    apps = [new_app("events-capped-a"), new_app("events-capped-b")]
    keys = ["capped-a", "capped-b"]
    for app, key in zip(apps, keys):
        put(app, f"redis:{key}")
    n = 3 * EVENTS_MAXLEN
    ids = {app: [f"{key}-{i}" for i in range(n)] for app, key in zip(apps, keys)}
    append_events_bulk([(app, ids[app][i]) for i in range(n) for app in apps])

    def newest(key):
        last = state["redis"].cli("XREVRANGE", key, "+", "-", "COUNT", "1")
        return [json.loads(x)["attributes"]["message_id"] for x in last.splitlines()
                if x.startswith("{")]
    for app, key in zip(apps, keys):
        harness.wait_until(lambda: newest(key) == [ids[app][-1]], timeout=60,
                           what=f"the last event forwarded to {key}")
        length = int(state["redis"].cli("XLEN", key))
        assert EVENTS_MAXLEN <= length <= EVENTS_MAXLEN + TRIM_EVERY + NODE_ENTRIES, (key, length)
        kept = [e["attributes"]["message_id"] for e in stream_events(key)]
        assert kept == ids[app][-length:], (key, kept[:3], kept[-3:])
    harness.wait_until(lambda: pending_count() == 0, timeout=30, what="acknowledged events")


def test_forwarding_to_a_webhook_with_retries():
    hook = state["hook"]
    app = new_app("events-webhook")
    put(app, hook.url + "/flaky")
    ids = [f"hook-{i}" for i in range(5)]
    append_events(app, ids)
    harness.wait_until(lambda: sorted(set(hook.accepted_ids()) & set(ids)) == sorted(ids),
                       timeout=60, what="events accepted by the webhook")
    posts = hook.posts_to("/flaky")
    assert len(posts) >= 3, len(posts)  # two answered 500, then the batch went through
    for _, headers, body in posts:
        assert headers.get("Content-Type") == "application/json", headers
        assert headers.get("X-Repoint-Application-Id") == app, headers
        assert isinstance(body, list) and body, body
    # The failed POSTs carried the same events the accepted one did: nothing was dropped.
    assert {e["attributes"]["message_id"] for e in posts[0][2]} <= set(ids)
    harness.wait_until(lambda: pending_count() == 0, timeout=30, what="acknowledged events")


def test_failing_webhook_does_not_hold_back_other_apps():
    hook = state["hook"]
    down = new_app("events-down")
    put(down, hook.url + "/down")
    fine = new_app("events-fine")
    put(fine, "redis:fine-events")
    append_events(down, ["down-1", "down-2"])
    harness.wait_until(lambda: len(hook.posts_to("/down")) >= 1, timeout=20,
                       what="a first POST to the failing webhook")
    append_events(fine, ["fine-1"])
    append_events(down, ["down-3"])
    append_events(fine, ["fine-2"])
    harness.wait_until(lambda: len(stream_events("fine-events")) == 2, timeout=20,
                       what="the healthy app's events")
    assert [e["attributes"]["message_id"] for e in stream_events("fine-events")] == \
        ["fine-1", "fine-2"]
    # The failing app's events stay pending for the next retry, never acknowledged.
    assert pending_count() >= 3, pending_count()
    # Once its destination changes, they are delivered.
    put(down, "redis:down-events")
    harness.wait_until(lambda: len(stream_events("down-events")) == 3, timeout=90,
                       what="the held events after the destination was fixed")
    assert sorted(e["attributes"]["message_id"] for e in stream_events("down-events")) == \
        ["down-1", "down-2", "down-3"]
    harness.wait_until(lambda: pending_count() == 0, timeout=30, what="acknowledged events")


def test_events_of_an_app_without_destination_are_acknowledged():
    app = new_app("events-none")
    before = len(state["hook"].posts)
    append_events(app, ["none-1", "none-2"])
    harness.wait_until(lambda: pending_count() == 0, timeout=20, what="acknowledged events")
    info = state["redis"].cli("XINFO", "GROUPS", "rp:events")
    assert "forwarder" in info, info
    assert len(state["hook"].posts) == before
    # The events stay in rp:events, the capped record of every result.
    assert any(e["attributes"]["message_id"] == "none-1" for e in stream_events("rp:events"))


def main():
    hook = Webhook(fail_first=2)
    hook.thread.start()
    state["hook"] = hook
    try:
        with harness.stack(env={"REPOINT_EVENTS_MAXLEN": str(EVENTS_MAXLEN)}) as (redis, daemon):
            state.update(redis=redis, daemon=daemon, client=daemon.client())
            harness.wait_until(lambda: "forwarder" in redis.cli("XINFO", "GROUPS", "rp:events"),
                               timeout=20, what="the forwarder's consumer group")
            harness.run_tests([
                test_no_destination_anywhere_events_are_skipped_unread,
                test_destination_written_before_the_list_is_forwarded_after_a_restart,
                test_put_get_delete_with_boto3,
                test_unusable_destinations_are_400,
                test_put_get_delete_with_aws_cli,
                test_forwarding_to_a_redis_stream,
                test_redis_destinations_keep_about_events_maxlen,
                test_forwarding_to_a_webhook_with_retries,
                test_failing_webhook_does_not_hold_back_other_apps,
                test_events_of_an_app_without_destination_are_acknowledged,
            ])
    finally:
        hook.server.shutdown()


if __name__ == "__main__":
    main()
