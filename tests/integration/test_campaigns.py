"""Campaigns end to end through the real AWS CLI: a segment imported from a file:// JSON file
(APNs and GCM endpoints, some opted out, some inactive, one on a channel the campaign has no
message for), campaigns created with create-campaign and watched with get-campaign and
get-campaign-activities, delivered by Repoint to tests/sim/apns_sim (HTTP/2, JWT) and
tests/sim/fcm_sim (OAuth, HTTP/2). Covers validation errors, IMMEDIATE and scheduled starts,
pause and resume, delete mid-run (fan-out stops, what is queued is withdrawn), and a restart
of repoint mid-run: every eligible endpoint gets exactly one notification, the others none."""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import push_sims  # noqa: E402
from endpoint_layout import LAYOUT_RECHECK_S, endpoint_keys, kinds, to_hash_layout  # noqa: E402
from apns_sim import ApnsSim, Credentials  # noqa: E402

state = {}
ROLE = "arn:aws:iam::123456789012:role/import-role"
BUNDLE = "com.example.repoint"


def aws(*args, check=True):
    return state["daemon"].aws(*args, check=check)


def new_app(name):
    """boto3 for the set-up calls (an AWS CLI start costs a second or more here); the CLI
    drives the campaign operations themselves."""
    c = state["client"]
    app = c.create_app(CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]
    c.update_apns_channel(ApplicationId=app, APNSChannelRequest=state["creds"].token_channel())
    c.update_gcm_channel(ApplicationId=app, GCMChannelRequest={
        "ServiceJson": state["fcm"].service_json(), "Enabled": True})
    return app


def apns_token(tag, i):
    return (tag.encode().hex() + f"{i:08x}").rjust(64, "0")


def make_segment(app, tag, n_apns, n_gcm, extras=True, cli=False):
    """Imports a segment; returns (segment id, eligible APNs tokens, eligible GCM tokens,
    tokens that must get nothing)."""
    lines, apns, gcm, never = [], [], [], []
    for i in range(n_apns):
        t = apns_token(tag, i)
        apns.append(t)
        lines.append({"Id": f"{tag}-a{i}", "ChannelType": "APNS", "Address": t,
                      "User": {"UserId": f"u{i}"}, "Attributes": {"name": [f"A{i}"]}})
    for i in range(n_gcm):
        t = f"{tag}-gcm-token-{i}"
        gcm.append(t)
        lines.append({"Id": f"{tag}-g{i}", "ChannelType": "GCM", "Address": t,
                      "Attributes": {"name": [f"G{i}"]}})
    if extras:
        for i in range(2):
            t = apns_token(tag + "o", i)
            never.append(t)
            lines.append({"Id": f"{tag}-optout{i}", "ChannelType": "APNS", "Address": t,
                          "OptOut": "ALL"})
            t = f"{tag}-inactive-{i}"
            never.append(t)
            lines.append({"Id": f"{tag}-inactive{i}", "ChannelType": "GCM", "Address": t,
                          "EndpointStatus": "INACTIVE"})
        lines.append({"Id": f"{tag}-sms", "ChannelType": "SMS", "Address": "+12065550100"})
    return import_segment(app, tag, lines, cli), apns, gcm, never


def import_segment(app, tag, lines, cli=False):
    folder = os.path.join(state["root"], tag)
    os.makedirs(folder)
    with open(os.path.join(folder, "endpoints.json"), "w") as f:
        f.write("".join(json.dumps(x) + "\n" for x in lines))
    req = {"S3Url": f"file://{folder}/", "RoleArn": ROLE, "Format": "JSON",
           "DefineSegment": True, "SegmentName": tag, "RegisterEndpoints": True}
    if cli:
        job = aws("create-import-job", "--application-id", app, "--import-job-request",
                  json.dumps(req))["ImportJobResponse"]
    else:
        job = state["client"].create_import_job(ApplicationId=app, ImportJobRequest=req)[
            "ImportJobResponse"]
    deadline = time.monotonic() + 30
    while True:
        got = state["client"].get_import_job(ApplicationId=app, JobId=job["Id"])
        status = got["ImportJobResponse"]["JobStatus"]
        if status in ("COMPLETED", "FAILED"):
            break
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    assert status == "COMPLETED", got
    return job["Definition"]["SegmentId"]


def message(body="Hello {{Attributes.name}}"):
    """APNs and GCM messages only: the segment's SMS endpoint has no message and is skipped."""
    return {"APNSMessage": {"Title": "Campaign", "Body": body},
            "GCMMessage": {"Title": "Campaign", "Body": body}}


def create(app, segment, schedule=None, **extra):
    req = {"Name": "c", "SegmentId": segment, "MessageConfiguration": message(),
           "Schedule": schedule or {"StartTime": "IMMEDIATE"}}
    req.update(extra)
    return aws("create-campaign", "--application-id", app, "--write-campaign-request",
               json.dumps(req))["CampaignResponse"]


def update(app, cid, **members):
    return aws("update-campaign", "--application-id", app, "--campaign-id", cid,
               "--write-campaign-request", json.dumps(members))["CampaignResponse"]


def get(app, cid):
    """boto3 for polling: an AWS CLI start costs a second or more on a busy machine."""
    return state["client"].get_campaign(ApplicationId=app, CampaignId=cid)["CampaignResponse"]


def activities(app, cid):
    return aws("get-campaign-activities", "--application-id", app, "--campaign-id",
               cid)["ActivitiesResponse"]["Item"]


def wait_state(app, cid, wanted, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        c = get(app, cid)
        if c["State"]["CampaignStatus"] == wanted:
            return c
        assert time.monotonic() < deadline, f"still {c['State']}, want {wanted}"
        time.sleep(0.1)


def received(tokens):
    """How many notifications each of tokens got, over both simulators."""
    counts = {t: 0 for t in tokens}
    for n in state["apns"].notifications():
        if n["token"] in counts:
            counts[n["token"]] += 1
    for m in state["fcm"].messages():
        t = m["message"].get("token")
        if t in counts:
            counts[t] += 1
    return counts


def sent_total(tokens):
    return sum(received(tokens).values())


def assert_exactly_once(apns, gcm, never):
    counts = received(apns + gcm + never)
    twice = {t: c for t, c in counts.items() if c > 1}
    assert not twice, f"sent more than once: {twice}"
    missing = [t for t in apns + gcm if counts[t] != 1]
    assert not missing, f"never sent: {missing}"
    wrong = [t for t in never if counts[t]]
    assert not wrong, f"opted out or inactive but sent: {wrong}"


def bad_request(app, req, cli=False):
    if cli:
        rc, out, err = aws("create-campaign", "--application-id", app,
                           "--write-campaign-request", json.dumps(req), check=False)
        assert rc != 0 and "BadRequestException" in err, (rc, out, err)
        return err
    from botocore.exceptions import ClientError
    try:
        state["client"].create_campaign(ApplicationId=app, WriteCampaignRequest=req)
    except ClientError as e:
        assert e.response["Error"]["Code"] == "BadRequestException", e.response
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
        return e.response["Error"]["Message"]
    raise AssertionError(f"accepted: {req}")


def test_validation_names_the_field():
    app = state["app"]
    seg, _, _, _ = make_segment(app, "val", 1, 0, extras=False)
    ok = {"Name": "v", "SegmentId": seg, "MessageConfiguration": message(),
          "Schedule": {"StartTime": "IMMEDIATE"}}
    cases = [
        ({**ok, "SegmentId": "0123456789abcdef"}, "SegmentId"),
        ({**ok, "SegmentVersion": 7}, "SegmentVersion"),
        ({**ok, "Limits": {"MessagesPerSecond": 20001}}, "Limits.MessagesPerSecond"),
        ({**ok, "Limits": {"MessagesPerSecond": 0}}, "Limits.MessagesPerSecond"),
        ({**ok, "Limits": {"MaximumDuration": 10}}, "Limits.MaximumDuration"),
        ({**ok, "Schedule": {"StartTime": "tomorrow"}}, "Schedule.StartTime"),
        ({**ok, "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "EVENT"}},
         "Schedule.Frequency"),
        ({**ok, "Schedule": {"StartTime": "IMMEDIATE", "IsLocalTime": True}},
         "Schedule.IsLocalTime"),
        ({**ok, "Schedule": {"StartTime": "IMMEDIATE", "Timezone": "PST"}},
         "Schedule.Timezone"),
        ({**ok, "Schedule": {"StartTime": "IMMEDIATE", "Frequency": "DAILY"}},
         "Schedule.EndTime"),
        ({**ok, "HoldoutPercent": 101}, "HoldoutPercent"),
        ({**ok, "AdditionalTreatments": [{"SizePercent": 50, "MessageConfiguration": message()}]},
         "AdditionalTreatments"),
        ({k: v for k, v in ok.items() if k != "MessageConfiguration"}, "MessageConfiguration"),
        ({k: v for k, v in ok.items() if k != "Schedule"}, "Schedule"),
    ]
    for i, (req, field) in enumerate(cases):
        err = bad_request(app, req, cli=i == 2)
        assert field in err, (field, err)
    c = create(app, seg, IsPaused=True, Limits={"MessagesPerSecond": 5}, tags={"team": "growth"})
    assert c["State"]["CampaignStatus"] == "PAUSED" and c["Version"] == 1, c
    assert c["SegmentVersion"] == 1 and c["Arn"].endswith(f"apps/{app}/campaigns/{c['Id']}"), c
    assert c["CreationDate"] and c["LastModifiedDate"] and c["tags"] == {"team": "growth"}, c
    u = update(app, c["Id"], Name="renamed")
    assert u["Version"] == 2 and u["Name"] == "renamed", u
    assert u["Limits"]["MessagesPerSecond"] == 5 and u["CreationDate"] == c["CreationDate"], u
    vers = aws("get-campaign-versions", "--application-id", app, "--campaign-id",
               c["Id"])["CampaignsResponse"]["Item"]
    assert [v["Version"] for v in vers] == [2, 1] and vers[1]["Name"] == "c", vers
    v1 = aws("get-campaign-version", "--application-id", app, "--campaign-id", c["Id"],
             "--campaign-version", "1")["CampaignResponse"]
    assert v1["Name"] == "c", v1
    listed = aws("get-campaigns", "--application-id", app)["CampaignsResponse"]["Item"]
    assert c["Id"] in [x["Id"] for x in listed], listed
    aws("delete-campaign", "--application-id", app, "--campaign-id", c["Id"])
    rc, _, err = aws("get-campaign", "--application-id", app, "--campaign-id", c["Id"],
                     check=False)
    assert rc != 0 and "NotFoundException" in err, err


def test_immediate_campaign_reaches_every_eligible_endpoint_once():
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "imm", 6, 6, cli=True)
    c = create(app, seg)
    done = wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)
    # Per-endpoint substitution: each got its own name.
    bodies = {n["token"]: n["payload"]["aps"]["alert"]["body"]
              for n in state["apns"].notifications() if n["token"] in apns}
    assert bodies[apns[3]] == "Hello A3", bodies
    acts = activities(app, done["Id"])
    assert len(acts) == 1, acts
    a = acts[0]
    assert a["State"] == "COMPLETED" and a["Result"] == "SUCCESS", a
    assert a["TotalEndpointCount"] == 12 and a["SuccessfulEndpointCount"] == 12, a
    assert a["TimezonesTotalCount"] == 1 and a["TimezonesCompletedCount"] == 1, a
    m = a["ExecutionMetrics"]
    assert m["SUCCESSFUL"] == "12" and m["SKIPPED_OPT_OUT"] == "2", m
    assert m["SKIPPED_INACTIVE"] == "2" and m["SKIPPED_NO_MESSAGE"] == "1", m
    assert a["Start"] and a["End"] and a["CampaignId"] == c["Id"], a
    events = [e for e in state["redis"].events()
              if e["attributes"].get("campaign_id") == c["Id"]]
    assert len(events) == 12, len(events)
    for e in events:
        assert e["event_type"] == "_campaign.send", e
        assert e["attributes"]["campaign_activity_id"] == a["Id"], e
        assert e["attributes"]["campaign_send_status"] == "SUCCESS", e


def test_plain_message_reaches_and_skips_the_same_endpoints():
    """A message without variables: the run reads each endpoint's routing members only
    (gateway/endpoint_summary.c), and reaches and skips exactly the endpoints it would with the
    whole endpoint in hand."""
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "plain", 4, 4)
    c = create(app, seg, MessageConfiguration=message("Same for all"))
    wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)
    bodies = {n["payload"]["aps"]["alert"]["body"] for n in state["apns"].notifications()
              if n["token"] in apns}
    assert bodies == {"Same for all"}, bodies
    a = activities(app, c["Id"])[0]
    m = a["ExecutionMetrics"]
    assert a["TotalEndpointCount"] == 8 and m["SUCCESSFUL"] == "8", a
    assert m["SKIPPED_OPT_OUT"] == "2" and m["SKIPPED_INACTIVE"] == "2", m
    assert m["SKIPPED_NO_MESSAGE"] == "1", m


def test_endpoints_of_the_older_layout_are_reached_once():
    """A segment whose endpoints an older Repoint stored (a hash each, tests/lib/endpoint_layout.py)
    is reached exactly as one stored now: the run's batch reads convert them as they go."""
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "older", 5, 5)
    redis = state["redis"]
    harness.wait_until(lambda: redis.cli("GET", "rp:layout").strip() == "3",
                       what="the janitor's conversion pass")
    # As if that pass had not finished (the janitor does not look again): reads take them in.
    redis.cli("DEL", "rp:layout")
    keys = [k for k in endpoint_keys(redis, app) if ":ep:older-" in k]
    for k in keys:
        to_hash_layout(redis, k)
    assert len(keys) == 15 and kinds(redis, keys) == {"hash"}
    time.sleep(LAYOUT_RECHECK_S + 0.2)  # the run's reads look at the marker again
    c = create(app, seg, MessageConfiguration=message("Older {{Attributes.name}}"))
    wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)
    m = activities(app, c["Id"])[0]["ExecutionMetrics"]
    assert m["SUCCESSFUL"] == "10" and m["SKIPPED_OPT_OUT"] == "2", m
    assert m["SKIPPED_INACTIVE"] == "2" and m["SKIPPED_NO_MESSAGE"] == "1", m
    assert kinds(redis, keys) == {"string"}
    redis.cli("SET", "rp:layout", "3")


def test_dead_tokens_deactivate_and_temporary_failures_retry():
    app = state["app"]
    seg, apns, gcm, _ = make_segment(app, "dead", 3, 3, extras=False)
    state["apns"].config(dead_tokens={apns[0]: int(time.time() * 1000) + 60000})
    state["fcm"].configure(unregistered_tokens=[gcm[0]], unavailable_next=2)
    c = create(app, seg)
    wait_state(app, c["Id"], "COMPLETED")
    a = activities(app, c["Id"])[0]
    assert a["SuccessfulEndpointCount"] == 4, a
    assert a["ExecutionMetrics"]["PERMANENT_FAILURE"] == "2", a
    counts = received(apns[1:] + gcm[1:])
    assert all(n == 1 for n in counts.values()), counts
    for ep in ("dead-a0", "dead-g0"):
        got = state["client"].get_endpoint(ApplicationId=app, EndpointId=ep)["EndpointResponse"]
        assert got["EndpointStatus"] == "INACTIVE", got
    # The next campaign to the segment skips them.
    again = create(app, seg)
    wait_state(app, again["Id"], "COMPLETED")
    b = activities(app, again["Id"])[0]
    assert b["ExecutionMetrics"]["SKIPPED_INACTIVE"] == "2" and b["TotalEndpointCount"] == 4, b


def test_quiet_time_skips_endpoints_in_their_quiet_hours():
    app = state["app"]
    utc, tokyo = apns_token("qt", 0), apns_token("qt", 1)
    seg = import_segment(app, "qt", [
        {"Id": "qt-utc", "ChannelType": "APNS", "Address": utc,
         "Demographic": {"Timezone": "Etc/UTC"}},
        {"Id": "qt-tokyo", "ChannelType": "APNS", "Address": tokyo,
         "Demographic": {"Timezone": "Asia/Tokyo"}}])
    now = time.gmtime()
    minute = now.tm_hour * 60 + now.tm_min

    def hhmm(m):
        m %= 1440
        return f"{m // 60:02d}:{m % 60:02d}"
    # Quiet from an hour ago to an hour ahead in UTC: Tokyo (UTC+9) is well outside it.
    c = create(app, seg, MessageConfiguration=message("Quiet please"), schedule={
        "StartTime": "IMMEDIATE", "QuietTime": {"Start": hhmm(minute - 60),
                                                "End": hhmm(minute + 60)}})
    wait_state(app, c["Id"], "COMPLETED")
    assert received([utc, tokyo]) == {utc: 0, tokyo: 1}
    a = activities(app, c["Id"])[0]
    assert a["ExecutionMetrics"]["SKIPPED_QUIET_TIME"] == "1", a


def test_application_settings_are_campaign_defaults():
    app = slow_app()
    utc, tokyo = apns_token("aq", 0), apns_token("aq", 1)
    seg = import_segment(app, "aq", [
        {"Id": "aq-utc", "ChannelType": "APNS", "Address": utc,
         "Demographic": {"Timezone": "Etc/UTC"}},
        {"Id": "aq-tokyo", "ChannelType": "APNS", "Address": tokyo,
         "Demographic": {"Timezone": "Asia/Tokyo"}}])
    minute = time.gmtime().tm_hour * 60 + time.gmtime().tm_min
    hhmm = lambda m: f"{(m % 1440) // 60:02d}:{(m % 1440) % 60:02d}"  # noqa: E731
    c = state["client"]
    c.update_application_settings(ApplicationId=app, WriteApplicationSettingsRequest={
        "QuietTime": {"Start": hhmm(minute - 60), "End": hhmm(minute + 60)}})
    # (It stays set: the later tests on this app send to endpoints without a time zone, to
    # which quiet time does not apply.)
    camp = create(app, seg, MessageConfiguration=message("Quiet please"))
    wait_state(app, camp["Id"], "COMPLETED")
    assert received([utc, tokyo]) == {utc: 0, tokyo: 1}
    assert activities(app, camp["Id"])[0]["ExecutionMetrics"]["SKIPPED_QUIET_TIME"] == "1"


def test_local_time_reaches_each_zone_at_its_start_time():
    app = state["app"]
    utc, tokyo, la, nozone = (apns_token("lt", i) for i in range(4))
    seg = import_segment(app, "lt", [
        {"Id": "lt-utc", "ChannelType": "APNS", "Address": utc,
         "Demographic": {"Timezone": "Etc/UTC"}},
        {"Id": "lt-tokyo", "ChannelType": "APNS", "Address": tokyo,
         "Demographic": {"Timezone": "Asia/Tokyo"}},
        {"Id": "lt-la", "ChannelType": "APNS", "Address": la,
         "Demographic": {"Timezone": "America/Los_Angeles"}},
        {"Id": "lt-nozone", "ChannelType": "APNS", "Address": nozone}])
    start = int(time.time()) + 3
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start))
    # StartTime is each endpoint's wall clock: Tokyo (UTC+9) passed it hours ago, UTC and the
    # endpoint without a zone (Schedule.Timezone UTC) reach it in 3 s, Los Angeles in hours.
    c = state["client"].create_campaign(ApplicationId=app, WriteCampaignRequest={
        "Name": "local", "SegmentId": seg, "MessageConfiguration": message("Morning"),
        "Schedule": {"StartTime": iso, "IsLocalTime": True, "Timezone": "UTC"}})[
        "CampaignResponse"]
    harness.wait_until(lambda: received([tokyo])[tokyo] == 1, timeout=20, what="Tokyo")
    harness.wait_until(lambda: received([utc, nozone]) == {utc: 1, nozone: 1}, timeout=20,
                       what="UTC")
    time.sleep(0.5)
    assert received([utc, tokyo, la, nozone]) == {utc: 1, tokyo: 1, la: 0, nozone: 1}
    sent_at = {e["attributes"]["endpoint_id"]: e["event_timestamp"]
               for e in state["redis"].events() if e["attributes"].get("campaign_id") == c["Id"]}
    assert sent_at["lt-utc"] >= start * 1000 and sent_at["lt-nozone"] >= start * 1000, sent_at
    assert get(app, c["Id"])["State"]["CampaignStatus"] == "EXECUTING"
    a = activities(app, c["Id"])[0]
    assert a["TimezonesTotalCount"] == 3 and a["TimezonesCompletedCount"] == 2, a
    assert a["TotalEndpointCount"] == 3 and a["State"] == "RUNNING", a
    state["client"].delete_campaign(ApplicationId=app, CampaignId=c["Id"])


def test_scheduled_campaign_waits_for_its_start():
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "sch", 3, 3)
    start = int(time.time()) + 3
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(start)) + "Z"
    # boto3 here: an AWS CLI start may take longer than the 3 s lead on a busy machine.
    c = state["client"].create_campaign(ApplicationId=app, WriteCampaignRequest={
        "Name": "later", "SegmentId": seg, "MessageConfiguration": message(),
        "Schedule": {"StartTime": iso, "Frequency": "ONCE"}})["CampaignResponse"]
    assert c["State"]["CampaignStatus"] == "SCHEDULED", c
    wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)
    a = activities(app, c["Id"])[0]
    assert a["ScheduledStart"] >= iso[:-1] and a["Start"] >= iso[:-1], (a, iso)
    sent_at = [e["event_timestamp"] for e in state["redis"].events()
               if e["attributes"].get("campaign_id") == c["Id"]]
    assert len(sent_at) == 6 and min(sent_at) >= start * 1000, (sent_at, start)


def slow_app():
    """An app whose APNs and GCM channels deliver at most 5 per second each (Repoint's
    per-app limit): a run queues its whole window at once and the workers drain it slowly, so
    a pause or a delete meets deliveries already queued."""
    if "slow_app" not in state:
        app = new_app("campaign-slow")
        for ch in ("apns", "gcm"):
            st, _, body = harness.signed_request(
                state["daemon"].url, "PUT", f"/repoint/v1/apps/{app}/channels/{ch}/limits",
                json.dumps({"MessagesPerSecond": 5}).encode())
            assert st == 200, body
        state["slow_app"] = app
    return state["slow_app"]


def test_pause_and_resume_paced_by_messages_per_second():
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "pau", 20, 20)
    c = create(app, seg, Limits={"MessagesPerSecond": 10})
    time.sleep(1.2)
    paused = update(app, c["Id"], IsPaused=True)
    assert paused["State"]["CampaignStatus"] == "PAUSED", paused
    time.sleep(1)
    during = sent_total(apns + gcm)
    time.sleep(1.5)
    assert sent_total(apns + gcm) == during, "fan-out went on while paused"
    assert 0 < during < 40, during
    assert activities(app, c["Id"])[0]["State"] == "PAUSED"
    update(app, c["Id"], IsPaused=False)
    wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)


def test_pause_withdraws_queued_and_resume_sends_them_once():
    app = slow_app()
    seg, apns, gcm, never = make_segment(app, "pwd", 20, 20)
    c = create(app, seg)
    time.sleep(1.5)
    # boto3 for the pause: it must land while most of the window is still queued.
    state["client"].update_campaign(ApplicationId=app, CampaignId=c["Id"],
                                    WriteCampaignRequest={"IsPaused": True})
    time.sleep(1)
    during = sent_total(apns + gcm)
    time.sleep(1.5)
    assert sent_total(apns + gcm) == during, "queued deliveries were sent while paused"
    assert 0 < during < 40, during
    for ch in ("APNS", "GCM"):
        assert state["redis"].cli("XLEN", f"rp:q:{{{ch}:0}}").strip() == "0"
    update(app, c["Id"], IsPaused=False)
    wait_state(app, c["Id"], "COMPLETED", timeout=30)
    assert_exactly_once(apns, gcm, never)
    a = activities(app, c["Id"])[0]
    assert int(a["ExecutionMetrics"]["WITHDRAWN"]) > 0, a
    assert a["SuccessfulEndpointCount"] == 40 and a["TotalEndpointCount"] == 40, a


def test_delete_mid_run_withdraws_what_is_queued():
    app = slow_app()
    seg, apns, gcm, _ = make_segment(app, "del", 30, 30, extras=False)
    c = create(app, seg)
    time.sleep(1.5)
    assert sent_total(apns + gcm) > 0
    state["client"].delete_campaign(ApplicationId=app, CampaignId=c["Id"])
    time.sleep(1)
    after = sent_total(apns + gcm)
    time.sleep(1.5)
    assert sent_total(apns + gcm) == after, "sends went on after the delete"
    assert after < 45, after
    r = state["redis"]
    for ch in ("APNS", "GCM"):
        assert r.cli("XLEN", f"rp:q:{{{ch}:0}}").strip() == "0", "deliveries left queued"


def test_restart_mid_run_sends_each_endpoint_once():
    app = state["app"]
    seg, apns, gcm, never = make_segment(app, "rst", 25, 25)
    c = create(app, seg, Limits={"MessagesPerSecond": 20})
    time.sleep(1.2)
    d = state["daemon"]
    d.stop()
    mid = sent_total(apns + gcm)
    assert 0 < mid < 50, mid
    d.start()
    wait_state(app, c["Id"], "COMPLETED")
    assert_exactly_once(apns, gcm, never)
    acts = activities(app, c["Id"])
    assert len(acts) == 1 and acts[0]["TotalEndpointCount"] == 50, acts


def queue_entries(channel):
    """The entries queued for channel: the number of deliveries each holds."""
    sizes = []
    for shard in range(4):
        out = state["redis"].cli("XRANGE", f"rp:q:{{{channel}:{shard}}}", "-", "+").split("\n")
        for i, line in enumerate(out):
            if line == "d":
                sizes.append(1)
            elif line == "r":
                sizes[-1] += len(json.loads(out[i + 1]))
    return sizes


def test_one_message_shares_queue_entries_and_each_endpoint_gets_it_once():
    """A message with no per-endpoint variables goes out as entries shared by up to 64
    deliveries (more endpoints per channel than that, so an entry fills and another starts). Written by an instance without workers, the queue holds every delivery in far
    fewer entries; then a worker sends them, paced at 5 per second per channel, and is
    restarted mid-drain: the deliveries waiting for tokens are handed back, so none of a shared
    entry's deliveries is sent twice."""
    app, d = slow_app(), state["daemon"]
    seg, apns, gcm, never = make_segment(app, "shr", 70, 70)
    d.stop()
    env = {k: v for k, v in d.env.items() if k.startswith("REPOINT_") and k != "REPOINT_LISTEN"}
    # A window that holds the whole segment, so that it is all queued before a worker starts.
    writer = harness.Repoint(state["redis"].url, env={**env, "REPOINT_WORKERS_THREADS": "0",
                                                      "REPOINT_CAMPAIGNS_QUEUE_WINDOW": "1000"})
    writer.start()
    try:
        c = writer.client().create_campaign(ApplicationId=app, WriteCampaignRequest={
            "Name": "shared", "SegmentId": seg, "Schedule": {"StartTime": "IMMEDIATE"},
            "MessageConfiguration": message("Flash sale")})["CampaignResponse"]
        deadline = time.monotonic() + 20
        while True:
            sizes = {ch: queue_entries(ch) for ch in ("APNS", "GCM")}
            if all(sum(v) == 70 for v in sizes.values()):
                break
            assert time.monotonic() < deadline, sizes
            time.sleep(0.2)
        for ch, v in sizes.items():
            assert len(v) < 70 and max(v) <= 64, (ch, v)
        # The segment is read in pages: its first holds all 70 APNs endpoints, which fill an
        # entry and start another.
        assert any(max(v) == 64 for v in sizes.values()), sizes
    finally:
        writer.cleanup()
    d.start()
    time.sleep(2)
    mid = sent_total(apns + gcm)
    assert 0 < mid < 140, mid
    d.stop()
    d.start()
    wait_state(app, c["Id"], "COMPLETED", timeout=60)
    assert_exactly_once(apns, gcm, never)
    bodies = {n["payload"]["aps"]["alert"]["body"] for n in state["apns"].notifications()
              if n["token"] in apns}
    assert bodies == {"Flash sale"}, bodies
    a = activities(app, c["Id"])[0]
    assert a["SuccessfulEndpointCount"] == 140 and a["TotalEndpointCount"] == 140, a


def test_results_counted_once_when_redis_answers_late():
    """Redis frozen past redis.timeout_ms (DEBUG SLEEP) while the provider answers a window of
    deliveries: the writer sends its batch again and both copies run once Redis wakes. Each
    count still takes effect once: the activity counts exactly the endpoints there are."""
    app = state["app"]
    seg, apns, _, _ = make_segment(app, "late", 200, 0, extras=False)
    state["apns"].config(latency_ms=400)
    try:
        c = create(app, seg, MessageConfiguration=message("Late"))
        deadline = time.monotonic() + 20
        while sent_total(apns) == 0:
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        for _ in range(2):
            state["redis"].cli("DEBUG", "SLEEP", "1.6")
            time.sleep(0.5)
    finally:
        state["apns"].config(latency_ms=0)
    wait_state(app, c["Id"], "COMPLETED", timeout=60)
    a = activities(app, c["Id"])[0]
    assert a["ExecutionMetrics"]["SUCCESSFUL"] == "200", a
    assert a["SuccessfulEndpointCount"] == 200 and a["TotalEndpointCount"] == 200, a
    assert all(n >= 1 for n in received(apns).values())


def test_two_instances_drive_each_run_once():
    """A second repoint on the same Redis (its own scheduler threads and workers): three
    campaigns at once are each driven by exactly one scheduler, every endpoint sent once."""
    app, d = state["app"], state["daemon"]
    env = {k: v for k, v in d.env.items() if k.startswith("REPOINT_") and k != "REPOINT_LISTEN"}
    other = harness.Repoint(state["redis"].url, env=env)
    other.start()
    try:
        runs = []
        for k in range(3):
            seg, apns, gcm, never = make_segment(app, f"two{k}", 10, 10)
            runs.append((create(app, seg, Limits={"MessagesPerSecond": 10}), apns, gcm, never))
        for c, apns, gcm, never in runs:
            wait_state(app, c["Id"], "COMPLETED")
            assert_exactly_once(apns, gcm, never)
            assert len(activities(app, c["Id"])) == 1
    finally:
        other.cleanup()


def main():
    creds = state["creds"] = Credentials(BUNDLE)
    apns = state["apns"] = ApnsSim(creds, "production")
    fcm = state["fcm"] = push_sims.FcmSim().start()
    root = state["root"] = os.path.realpath(tempfile.mkdtemp(prefix="rp-campaigns-"))
    redis = state["redis"] = harness.Redis().start()
    daemon = None
    try:
        daemon = state["daemon"] = harness.Repoint(redis.url, env={
            **fcm.env(), "REPOINT_APNS_PRODUCTION_URL": apns.url,
            "REPOINT_IMPORT_FILE_ROOT": root, "REPOINT_JOBS_LEASE_MS": "1000",
            "REPOINT_QUEUE_VISIBILITY_TIMEOUT_MS": "1000", "REPOINT_QUEUE_RETRY_BASE_MS": "100",
            "REPOINT_CAMPAIGNS_QUEUE_WINDOW": "100"})
        daemon.start()
        state["client"] = daemon.client()
        state["app"] = new_app("campaigns")
        harness.run_tests([
            test_validation_names_the_field,
            test_immediate_campaign_reaches_every_eligible_endpoint_once,
            test_plain_message_reaches_and_skips_the_same_endpoints,
            test_endpoints_of_the_older_layout_are_reached_once,
            test_dead_tokens_deactivate_and_temporary_failures_retry,
            test_quiet_time_skips_endpoints_in_their_quiet_hours,
            test_application_settings_are_campaign_defaults,
            test_scheduled_campaign_waits_for_its_start,
            test_local_time_reaches_each_zone_at_its_start_time,
            test_pause_and_resume_paced_by_messages_per_second,
            test_pause_withdraws_queued_and_resume_sends_them_once,
            test_delete_mid_run_withdraws_what_is_queued,
            test_restart_mid_run_sends_each_endpoint_once,
            test_one_message_shares_queue_entries_and_each_endpoint_gets_it_once,
            test_results_counted_once_when_redis_answers_late,
            test_two_instances_drive_each_run_once,
        ])
    except BaseException as e:
        if not (isinstance(e, SystemExit) and not e.code) and daemon is not None:
            sys.stderr.write("---- repoint log (tail) ----\n" + daemon.logs()[-15000:] + "\n")
        raise
    finally:
        if daemon is not None:
            daemon.cleanup()
        redis.cleanup()
        apns.stop()
        fcm.cleanup()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
