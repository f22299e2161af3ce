"""Import jobs, export jobs and segments end to end (issue 8): the guides' own CSV and JSON files
imported through the real AWS CLI and boto3 from file:// and from an S3-compatible server (s3rver,
checking SigV4) started here; RFC 4180 edge cases, bad lines reported in Failures, mixed formats,
nested prefixes, a compressed file, path traversal; a large import interrupted by a kill -9 and
resumed without importing a line twice; exports compared after gunzip; segments CRUD, imported
segments and segment exports."""
import csv
import gzip
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import s3rver  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

ROLE = "arn:aws:iam::123456789012:role/import-role"
state = {}

GUIDE_CSV = ("ChannelType,Address,Location.Country,Demographic.Platform,Demographic.Make,"
             "User.UserId\n"
             "SMS,2065550182,CAN,Android,LG,example-user-id-1\n"
             "APNS,1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f,USA,iOS,Apple,example-user-id-2\n"
             "EMAIL,john.stiles@example.com,USA,iOS,Apple,example-user-id-2\n")
GUIDE_JSON = "\n".join(json.dumps(x) for x in [
    {"ChannelType": "SMS", "Address": "2065550182", "Location": {"Country": "CAN"},
     "Demographic": {"Platform": "Android", "Make": "LG"}, "User": {"UserId": "example-user-id-1"}},
    {"ChannelType": "APNS", "Address": "1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f",
     "Location": {"Country": "USA"}, "Demographic": {"Platform": "iOS", "Make": "Apple"},
     "User": {"UserId": "example-user-id-2"}},
    {"ChannelType": "EMAIL", "Address": "john.stiles@example.com", "Location": {"Country": "USA"},
     "Demographic": {"Platform": "iOS", "Make": "Apple"},
     "User": {"UserId": "example-user-id-2"}}]) + "\n"


def write(path, text, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(text)


def new_app(name="jobs"):
    return state["client"].create_app(CreateApplicationRequest={"Name": name})[
        "ApplicationResponse"]["Id"]


def wait_job(app, job_id, kind="import", timeout=60):
    c = state["client"]
    deadline = time.monotonic() + timeout
    while True:
        if kind == "import":
            r = c.get_import_job(ApplicationId=app, JobId=job_id)["ImportJobResponse"]
        else:
            r = c.get_export_job(ApplicationId=app, JobId=job_id)["ExportJobResponse"]
        if r["JobStatus"] in ("COMPLETED", "FAILED"):
            return r
        assert time.monotonic() < deadline, f"job still {r['JobStatus']}: {r}"
        time.sleep(0.1)


def import_job(app, url, fmt, **extra):
    req = {"S3Url": url, "RoleArn": ROLE, "Format": fmt, **extra}
    return state["client"].create_import_job(ApplicationId=app, ImportJobRequest=req)[
        "ImportJobResponse"]


def export_job(app, prefix, **extra):
    req = {"S3UrlPrefix": prefix, "RoleArn": ROLE, **extra}
    return state["client"].create_export_job(ApplicationId=app, ExportJobRequest=req)[
        "ExportJobResponse"]


def exported_files(directory):
    """Every endpoint line of every .gz file below directory."""
    lines = []
    for base, _, files in os.walk(directory):
        for f in sorted(files):
            assert f.endswith(".json.gz"), f
            with gzip.open(os.path.join(base, f), "rt", encoding="utf-8") as g:
                lines += [json.loads(x) for x in g.read().splitlines()]
    return lines


def user_endpoints(app, user):
    return state["client"].get_user_endpoints(ApplicationId=app, UserId=user)[
        "EndpointsResponse"]["Item"]


def error_of(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"], \
            e.response["Error"]["Message"]
    raise AssertionError("the call succeeded")


def test_guide_examples_through_the_cli():
    """The guide's CSV and JSON files, create-import-job and get-import-job through the real AWS
    CLI, then get-endpoint shows the attributes, and an export gives them back."""
    rp, root = state["rp"], state["root"]
    for fmt, name, text in (("CSV", "guide/endpoints.csv", GUIDE_CSV),
                            ("JSON", "guide/endpoints.json", GUIDE_JSON)):
        app = new_app("guide-" + fmt)
        write(os.path.join(root, name), text)
        created = rp.aws("create-import-job", "--application-id", app, "--import-job-request",
                         f"S3Url=file://{root}/{name},RoleArn={ROLE},Format={fmt},"
                         "RegisterEndpoints=true,ExternalId=463709046829")["ImportJobResponse"]
        assert created["JobStatus"] == "CREATED", created
        assert created["Type"] == "IMPORT"
        assert created["Definition"] == {
            "DefineSegment": False, "ExternalId": "463709046829", "Format": fmt,
            "RegisterEndpoints": True, "RoleArn": ROLE, "S3Url": f"file://{root}/{name}"}
        wait_job(app, created["Id"])    # polled with boto3: each CLI start costs a second
        got = rp.aws("get-import-job", "--application-id", app, "--job-id",
                     created["Id"])["ImportJobResponse"]
        assert got["JobStatus"] == "COMPLETED", got
        assert got["TotalProcessed"] == 3 and got["TotalFailures"] == 0, got
        assert got["TotalPieces"] == 1 and got["CompletedPieces"] == 1, got
        assert got["FailedPieces"] == 0 and "CompletionDate" in got
        eps = user_endpoints(app, "example-user-id-2")
        assert sorted(e["ChannelType"] for e in eps) == ["APNS", "EMAIL"], eps
        one = rp.aws("get-endpoint", "--application-id", app, "--endpoint-id",
                     user_endpoints(app, "example-user-id-1")[0]["Id"])["EndpointResponse"]
        assert one["Address"] == "2065550182" and one["ChannelType"] == "SMS"
        assert one["Location"]["Country"] == "CAN"
        assert one["Demographic"] == {"Platform": "Android", "Make": "LG"}, one
        # Export and compare after gunzip.
        out = os.path.join(root, "exports", app)
        if fmt == "CSV":
            job = rp.aws("create-export-job", "--application-id", app, "--export-job-request",
                         f"S3UrlPrefix=file://{out}/,RoleArn={ROLE}")["ExportJobResponse"]
        else:
            job = export_job(app, f"file://{out}/")
        done = wait_job(app, job["Id"], "export")
        assert done["JobStatus"] == "COMPLETED" and done["TotalProcessed"] == 3, done
        lines = exported_files(out)
        assert sorted(x["Address"] for x in lines) == sorted(
            ["2065550182", "1a2b3c4d5e6f7g8h9i0j1a2b3c4d5e6f", "john.stiles@example.com"])
        for x in lines:
            assert x["ApplicationId"] == app and x["Id"]
            assert x == state["client"].get_endpoint(ApplicationId=app, EndpointId=x["Id"])[
                "EndpointResponse"]
        jobs = state["client"].get_import_jobs(ApplicationId=app)["ImportJobsResponse"]["Item"]
        assert [j["Id"] for j in jobs] == [created["Id"]]


def test_csv_edge_cases_bad_lines_and_update_by_id():
    c, root = state["client"], state["root"]
    app = new_app()
    c.update_endpoint(ApplicationId=app, EndpointId="known-1", EndpointRequest={
        "ChannelType": "SMS", "Address": "+12065550100", "Attributes": {"team": ["old"]},
        "Metrics": {"visits": 1.0}})
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["Id", "ChannelType", "Address", "Attributes.note", "Metrics.score",
                "User.UserAttributes.FirstName", "OptOut", "Location.Latitude",
                "Location.Longitude"])
    w.writerow(["q-1", "EMAIL", "a@example.com", 'comma, "quote" and\nline break', "4.5",
                "Zoë", "NONE", "47.6", "-122.3"])
    w.writerow(["known-1", "", "", "new team", "", "", "ALL", "", ""])    # update by Id, line 4
    w.writerow(["q-3", "FAX", "a@example.com", "", "", "", "", "", ""])    # line 5: ChannelType
    w.writerow(["q-4", "SMS", "+12065550104", "", "many", "", "", "", ""])  # line 6: Metrics
    w.writerow(["q-5", "SMS", "+12065550105", "", "", "", "SOME", "", ""])  # line 7: OptOut
    w.writerow(["", "", "", "", "", "", "", "", ""])                        # line 8: no Address
    w.writerow(["q-7", "SMS", "+12065550107", " padded ", "", "", "", "", ""])
    write(os.path.join(root, "edge/in.csv"), buf.getvalue())
    # Invalid UTF-8 in a separate file of the same prefix: that line alone fails.
    write(os.path.join(root, "edge/sub/latin1.csv"),
          b"ChannelType,Address,Attributes.x\nSMS,+12065550111,caf\xe9\nSMS,+12065550112,ok\n",
          "wb")
    job = import_job(app, f"file://{root}/edge/", "CSV")
    done = wait_job(app, job["Id"])
    assert done["JobStatus"] == "COMPLETED", done
    assert done["TotalPieces"] == 2 and done["CompletedPieces"] == 2, done
    assert done["TotalProcessed"] == 9 and done["TotalFailures"] == 5, done
    failures = "\n".join(done["Failures"])
    for needle in ("in.csv line 5: ChannelType", "in.csv line 6: Metrics.score",
                   "in.csv line 7: OptOut", "in.csv line 8: ChannelType: is required",
                   "latin1.csv line 2: Attributes.x: is not valid UTF-8"):
        assert needle in failures, failures
    q1 = c.get_endpoint(ApplicationId=app, EndpointId="q-1")["EndpointResponse"]
    assert q1["Attributes"]["note"] == ['comma, "quote" and\nline break'], q1
    assert q1["Metrics"] == {"score": 4.5}
    assert q1["User"]["UserAttributes"]["FirstName"] == ["Zoë"]
    assert q1["Location"]["Latitude"] == 47.6
    known = c.get_endpoint(ApplicationId=app, EndpointId="known-1")["EndpointResponse"]
    assert known["Address"] == "+12065550100" and known["OptOut"] == "ALL", known
    assert known["Attributes"]["note"] == ["new team"] and known["Attributes"]["team"] == ["old"]
    assert known["Metrics"] == {"visits": 1.0}
    q7 = c.get_endpoint(ApplicationId=app, EndpointId="q-7")["EndpointResponse"]
    assert q7["Attributes"]["note"] == [" padded "]     # RFC 4180: spaces are data
    for missing in ("q-3", "q-4", "q-5"):
        assert error_of(lambda: c.get_endpoint(ApplicationId=app, EndpointId=missing))[0] == 404


def test_import_deactivates_endpoints_whose_address_it_takes():
    """Pinpoint's rule that an endpoint written with another's address makes the other INACTIVE
    holds for imports, which write a batch at a time: a row takes an address a stored endpoint
    holds, of two rows with one address the later wins, and a row written again with its own
    address stays ACTIVE."""
    c, root = state["client"], state["root"]
    app = new_app("import duplicates")
    c.update_endpoint(ApplicationId=app, EndpointId="held", EndpointRequest={
        "ChannelType": "GCM", "Address": "token-held-before"})
    rows = "Id,ChannelType,Address\n" + "".join(f"{eid},GCM,{token}\n" for eid, token in [
        ("taker", "token-held-before"), ("first", "token-twice"), ("second", "token-twice"),
        ("alone", "token-alone")])
    write(os.path.join(root, "dups/one.csv"), rows)
    for name in ("one", "again"):  # the second import writes every row again, unchanged
        if name == "again":
            write(os.path.join(root, "dups/again.csv"), "Id,ChannelType,Address\nalone,GCM,token-alone\n")
        done = wait_job(app, import_job(app, f"file://{root}/dups/{name}.csv", "CSV")["Id"])
        assert done["JobStatus"] == "COMPLETED" and done["TotalFailures"] == 0, done
        status = {e: c.get_endpoint(ApplicationId=app, EndpointId=e)["EndpointResponse"][
            "EndpointStatus"] for e in ("held", "taker", "first", "second", "alone")}
        assert status == {"held": "INACTIVE", "taker": "ACTIVE", "first": "INACTIVE",
                          "second": "ACTIVE", "alone": "ACTIVE"}, (name, status)


def test_s3_mixed_nested_compressed_and_export():
    """s3:// through s3rver: every object under the prefix, recursively; the other format
    skipped; a compressed object fails its piece with a Failures entry; export to S3 read back
    with the AWS CLI."""
    s3, c = state["s3"], state["client"]
    b = s3.client()
    b.put_object(Bucket="bucket", Key="mixed/top.json", Body=GUIDE_JSON.encode())
    b.put_object(Bucket="bucket", Key="mixed/deeper/more/ü one+x.ndjson",
                 Body=b'{"Id":"deep-1","ChannelType":"SMS","Address":"+12065550150"}\n')
    b.put_object(Bucket="bucket", Key="mixed/skip.csv", Body=GUIDE_CSV.encode())
    b.put_object(Bucket="bucket", Key="mixed/zz.json.gz",
                 Body=gzip.compress(GUIDE_JSON.encode()))
    b.put_object(Bucket="bucket", Key="mixedup/not-below.json",
                 Body=b'{"Id":"outside","ChannelType":"SMS","Address":"+12065550151"}\n')
    app = new_app()
    done = wait_job(app, import_job(app, "s3://bucket/mixed/", "JSON")["Id"])
    assert done["JobStatus"] == "FAILED", done          # a piece failed: the compressed one
    assert done["TotalPieces"] == 3 and done["FailedPieces"] == 1, done
    assert done["CompletedPieces"] == 2 and done["TotalProcessed"] == 4, done
    assert any("zz.json.gz" in f and "compressed" in f for f in done["Failures"]), done
    assert c.get_endpoint(ApplicationId=app, EndpointId="deep-1")["EndpointResponse"]
    assert error_of(lambda: c.get_endpoint(ApplicationId=app, EndpointId="outside"))[0] == 404
    assert len(user_endpoints(app, "example-user-id-2")) == 2
    # A single object named by its key.
    app2 = new_app()
    done = wait_job(app2, import_job(app2, "s3://bucket/mixed/skip.csv", "CSV")["Id"])
    assert done["JobStatus"] == "COMPLETED" and done["TotalProcessed"] == 3, done
    # Export to S3, read back with the AWS CLI.
    ex = wait_job(app, export_job(app, "s3://bucket/exports/run1/")["Id"], "export")
    assert ex["JobStatus"] == "COMPLETED" and ex["TotalProcessed"] == 4, ex
    local = tempfile.mkdtemp(prefix="rp-s3-export-")
    try:
        s3.aws("cp", "--recursive", "s3://bucket/exports/run1/", local)
        got = exported_files(local)
        assert len(got) == 4
        assert {"deep-1"} <= {x["Id"] for x in got}
    finally:
        shutil.rmtree(local)
    assert s3.verified > 10 and not s3.refused, s3.refused    # every request signed right
    # A bucket that does not exist is the client's error.
    st, code, msg = error_of(lambda: import_job(app, "s3://nosuchbucket/x", "JSON"))
    assert st == 400 and "NoSuchBucket" in msg, msg


def test_s3_signature_is_checked():
    """With a wrong secret s3rver refuses the signature, and the import says so."""
    s3 = state["s3"]
    env = dict(s3.env(), REPOINT_S3_SECRET_ACCESS_KEY="wrong-secret")
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, env=env)
    try:
        daemon.start()
        c = daemon.client()
        app = c.create_app(CreateApplicationRequest={"Name": "x"})["ApplicationResponse"]["Id"]
        st, code, msg = error_of(lambda: c.create_import_job(ApplicationId=app, ImportJobRequest={
            "S3Url": "s3://bucket/mixed/", "RoleArn": ROLE, "Format": "JSON"}))
        assert st == 400 and "SignatureDoesNotMatch" in msg, msg
        assert s3.refused and all("signature mismatch" in r for r in s3.refused), s3.refused
        s3.refused.clear()
    finally:
        daemon.cleanup()
        redis.cleanup()


def test_path_traversal_refused():
    c, root = state["client"], state["root"]
    app = new_app()
    outside = tempfile.mkdtemp(prefix="rp-outside-")
    try:
        write(os.path.join(outside, "x.csv"), GUIDE_CSV)
        os.symlink(outside, os.path.join(root, "link-out"))
        for url in (f"file://{root}/../{os.path.basename(outside)}/x.csv",
                    f"file://{root}/link-out/x.csv", f"file://{outside}/x.csv",
                    "file://relative/x.csv", "http://example.com/x.csv"):
            st, code, msg = error_of(lambda: import_job(app, url, "CSV"))
            assert st == 400 and code == "BadRequestException", (url, msg)
            assert "S3Url" in msg, msg
        for url in (f"file://{root}/../escape/", f"file://{root}/link-out/"):
            st, code, msg = error_of(lambda: export_job(app, url))
            assert st == 400 and "S3UrlPrefix" in msg, (url, msg)
        # A symlink inside a folder that points outside is not followed when listing.
        write(os.path.join(root, "withlink/ok.csv"), GUIDE_CSV)
        os.symlink(os.path.join(outside, "x.csv"), os.path.join(root, "withlink/evil.csv"))
        done = wait_job(app, import_job(app, f"file://{root}/withlink", "CSV")["Id"])
        assert done["TotalPieces"] == 1 and done["TotalProcessed"] == 3, done
    finally:
        shutil.rmtree(outside)


def test_large_import_resumes_after_kill():
    """20,000 rows (no Id: derived ids) with a kill -9 and then a SIGTERM in the middle: after
    each restart the job goes on, and in the end every line is counted once and no endpoint was
    created twice (an export counts them). The file is cut into pieces (import.piece_bytes is 64
    KiB here) imported in parallel, each resuming where it stood; quoted fields with line breaks
    must not be cut, and bad lines in later pieces are reported with their line in the file."""
    rp, c, root = state["rp"], state["client"], state["root"]
    app = new_app("large")
    rows = 20000
    lines = ["ChannelType,Address,User.UserId,Attributes.group,Metrics.n"]
    bad_lines = []
    line_no = 2  # the next record's line in the file
    for i in range(rows):
        if i in (7000, 13000, 19000):
            lines.append(f"NOPE,+1206{i:07d},u1,g,1")
            bad_lines.append(line_no)
            line_no += 1
        group = f'"g{i % 7}\n(two lines)"' if i % 10 == 0 else f"g{i % 7}"
        lines.append(f"SMS,+1206{i:07d},u{i % 500},{group},{i}")
        line_no += 2 if i % 10 == 0 else 1
    write(os.path.join(root, "large/big.csv"), "\n".join(lines) + "\n")
    total = rows + len(bad_lines)
    start = time.monotonic()
    job = import_job(app, f"file://{root}/large/big.csv", "CSV")
    harness.wait_until(lambda: c.get_import_job(ApplicationId=app, JobId=job["Id"])[
        "ImportJobResponse"]["TotalProcessed"] >= 1000, timeout=30, interval=0.01,
        what="the import under way")
    rp.stop(signal.SIGKILL)
    at_kill = int(state["redis"].cli("HGET", f"rp:{{a:{app}}}:job:{job['Id']}", "proc").strip())
    rp.start()
    # Then a graceful stop in the middle: the runner gives the piece back at its next batch,
    # the restarted instance takes it at once (no lease to wait for) and resumes.
    resumed_at = at_kill + (total - at_kill) // 4
    harness.wait_until(lambda: c.get_import_job(ApplicationId=app, JobId=job["Id"])[
        "ImportJobResponse"]["TotalProcessed"] >= resumed_at, timeout=30, interval=0.01,
        what="the import resumed")
    assert rp.stop(signal.SIGTERM) == 0
    at_term = int(state["redis"].cli("HGET", f"rp:{{a:{app}}}:job:{job['Id']}", "proc").strip())
    rp.start()
    done = wait_job(app, job["Id"], timeout=120)
    elapsed = time.monotonic() - start
    assert done["JobStatus"] == "COMPLETED", done
    assert done["TotalProcessed"] == total and done["TotalFailures"] == len(bad_lines), done
    assert done["TotalPieces"] >= 8 and done["CompletedPieces"] == done["TotalPieces"], done
    assert sorted(int(f.split(" line ")[1].split(":")[0]) for f in done["Failures"]) == \
        bad_lines, (done["Failures"], bad_lines)
    assert 0 < at_kill < at_term < total, (at_kill, at_term)
    print(f"  20,000-row import incl. a kill -9, a SIGTERM and two restarts: {elapsed:.1f}s "
          f"({rows / elapsed:.0f} endpoints/s)")
    ex = wait_job(app, export_job(app, f"file://{root}/large-out/")["Id"], "export", timeout=120)
    assert ex["TotalProcessed"] == rows, ex
    got = exported_files(os.path.join(root, "large-out"))
    assert len({x["Id"] for x in got}) == rows and len({x["Address"] for x in got}) == rows
    assert len(user_endpoints(app, "u7")) == rows // 500


def test_large_ndjson_is_cut_into_pieces():
    """A newline-delimited JSON file over two import.piece_bytes (64 KiB here) is cut at line
    breaks; every line is imported once, bad lines are reported with their line in the file,
    and a byte order mark at the start belongs to the first piece only."""
    c, root = state["client"], state["root"]
    app = new_app("ndjson-pieces")
    lines, bad = [], []
    for i in range(4000):
        if i % 997 == 5:
            lines.append('{"ChannelType": "SMS", "Address": 12}')  # an Address must be a string
            bad.append(len(lines))
        lines.append(json.dumps({"ChannelType": "SMS", "Address": f"+1425{i:07d}",
                                 "Id": f"nd-{i}", "Attributes": {"n": [str(i)]}}))
        if i % 500 == 0:
            lines.append("")  # blank lines are not records
    write(os.path.join(root, "ndjson/big.json"), "\ufeff" + "\n".join(lines) + "\n")
    done = wait_job(app, import_job(app, f"file://{root}/ndjson/big.json", "JSON")["Id"])
    assert done["JobStatus"] == "COMPLETED", done
    assert done["TotalPieces"] >= 3 and done["CompletedPieces"] == done["TotalPieces"], done
    assert done["TotalProcessed"] == 4000 + len(bad) and done["TotalFailures"] == len(bad), done
    assert sorted(int(f.split(" line ")[1].split(":")[0]) for f in done["Failures"]) == bad, \
        (done["Failures"], bad)
    for i in (0, 1999, 3999):
        ep = c.get_endpoint(ApplicationId=app, EndpointId=f"nd-{i}")["EndpointResponse"]
        assert ep["Address"] == f"+1425{i:07d}" and ep["Attributes"] == {"n": [str(i)]}, ep


def test_segments_crud_imported_segments_and_limits():
    c, root = state["client"], state["root"]
    app = new_app("segments")
    dims = {"Demographic": {"Platform": {"DimensionType": "INCLUSIVE", "Values": ["iOS"]}},
            "Attributes": {"tier": {"AttributeType": "INCLUSIVE", "Values": ["gold"]}}}
    seg = c.create_segment(ApplicationId=app, WriteSegmentRequest={
        "Name": "ios-gold", "Dimensions": dims, "tags": {"team": "growth"}})["SegmentResponse"]
    assert seg["SegmentType"] == "DIMENSIONAL" and seg["Version"] == 1
    assert seg["Arn"].endswith(f"apps/{app}/segments/{seg['Id']}")
    got = c.get_segment(ApplicationId=app, SegmentId=seg["Id"])["SegmentResponse"]
    assert got["Dimensions"] == dims and got["Name"] == "ios-gold"
    upd = c.update_segment(ApplicationId=app, SegmentId=seg["Id"], WriteSegmentRequest={
        "Name": "ios-gold-2"})["SegmentResponse"]
    assert upd["Version"] == 2 and upd["Dimensions"] == dims and "LastModifiedDate" in upd
    vers = c.get_segment_versions(ApplicationId=app, SegmentId=seg["Id"])["SegmentsResponse"]
    assert [v["Version"] for v in vers["Item"]] == [2, 1]
    v1 = c.get_segment_version(ApplicationId=app, SegmentId=seg["Id"], Version="1")
    assert v1["SegmentResponse"]["Name"] == "ios-gold"
    st, code, msg = error_of(lambda: c.create_segment(ApplicationId=app, WriteSegmentRequest={
        "Name": "bad", "Dimensions": {"Metrics": {"m": {"ComparisonOperator": "ABOUT",
                                                        "Value": 1}}}}))
    assert st == 400 and "Metrics" in msg, msg
    # Endpoints for the dimensional segment, exported by segment.
    c.update_endpoints_batch(ApplicationId=app, EndpointBatchRequest={"Item": [
        {"Id": "d1", "ChannelType": "SMS", "Address": "+12065550001",
         "Demographic": {"Platform": "iOS"}, "Attributes": {"tier": ["gold"]}},
        {"Id": "d2", "ChannelType": "SMS", "Address": "+12065550002",
         "Demographic": {"Platform": "Android"}, "Attributes": {"tier": ["gold"]}},
        {"Id": "d3", "ChannelType": "SMS", "Address": "+12065550003",
         "Demographic": {"Platform": "iOS"}, "Attributes": {"tier": ["silver"]}}]})
    ex = wait_job(app, export_job(app, f"file://{root}/seg-dim/", SegmentId=seg["Id"])["Id"],
                  "export")
    assert [x["Id"] for x in exported_files(os.path.join(root, "seg-dim"))] == ["d1"], ex
    # An imported segment: exactly the imported endpoints, then a new version by SegmentId.
    write(os.path.join(root, "segimp/a.json"), GUIDE_JSON)
    job = import_job(app, f"file://{root}/segimp/", "JSON", DefineSegment=True,
                     SegmentName="imported", RegisterEndpoints=True)
    imported_id = job["Definition"]["SegmentId"]
    assert wait_job(app, job["Id"])["JobStatus"] == "COMPLETED"
    s = c.get_segment(ApplicationId=app, SegmentId=imported_id)["SegmentResponse"]
    assert s["SegmentType"] == "IMPORT" and s["Name"] == "imported", s
    assert s["ImportDefinition"]["Size"] == 3, s
    assert s["ImportDefinition"]["ChannelCounts"] == {"SMS": 1, "APNS": 1, "EMAIL": 1}, s
    assert s["ImportDefinition"]["Format"] == "JSON"
    jobs = c.get_segment_import_jobs(ApplicationId=app, SegmentId=imported_id)
    assert [j["Id"] for j in jobs["ImportJobsResponse"]["Item"]] == [job["Id"]]
    write(os.path.join(root, "segimp2/b.csv"), "Id,ChannelType,Address\nd1,SMS,+12065550001\n")
    job2 = import_job(app, f"file://{root}/segimp2/", "CSV", SegmentId=imported_id)
    assert wait_job(app, job2["Id"])["JobStatus"] == "COMPLETED"
    s2 = c.get_segment(ApplicationId=app, SegmentId=imported_id)["SegmentResponse"]
    assert s2["Version"] == 2 and s2["ImportDefinition"]["Size"] == 1, s2
    ex = wait_job(app, export_job(app, f"file://{root}/seg-imp/", SegmentId=imported_id,
                                  SegmentVersion=1)["Id"], "export")
    assert ex["TotalPieces"] == 1 and ex["TotalProcessed"] == 3, ex
    ex = c.get_segment_export_jobs(ApplicationId=app, SegmentId=imported_id)
    assert len(ex["ExportJobsResponse"]["Item"]) == 1
    listed = c.get_segments(ApplicationId=app)["SegmentsResponse"]["Item"]
    assert {x["Id"] for x in listed} == {seg["Id"], imported_id}
    deleted = c.delete_segment(ApplicationId=app, SegmentId=seg["Id"])["SegmentResponse"]
    assert deleted["Id"] == seg["Id"]
    assert error_of(lambda: c.get_segment(ApplicationId=app, SegmentId=seg["Id"]))[0] == 404
    assert error_of(lambda: import_job(app, f"file://{root}/segimp/", "JSON",
                                       SegmentId="0" * 32))[0] == 404
    # Unknown job, unknown format, missing file, empty prefix.
    assert error_of(lambda: c.get_import_job(ApplicationId=app, JobId="f" * 32))[0] == 404
    st, _, msg = error_of(lambda: import_job(app, f"file://{root}/nope/", "CSV"))
    assert st == 400 and "S3Url" in msg
    st, _, msg = error_of(lambda: import_job(app, f"file://{root}/segimp/", "CSV"))
    assert st == 400 and "no CSV objects" in msg, msg


def test_limits_concurrent_jobs_and_size():
    """import.concurrent_jobs and import.max_bytes answer with Pinpoint's errors."""
    root = tempfile.mkdtemp(prefix="rp-limits-")
    redis = harness.Redis().start()
    daemon = harness.Repoint(redis.url, env={
        "REPOINT_IMPORT_FILE_ROOT": root, "REPOINT_JOBS_THREADS": "0",
        "REPOINT_IMPORT_CONCURRENT_JOBS": "2", "REPOINT_IMPORT_MAX_BYTES": "2048"})
    try:
        daemon.start()
        c = daemon.client()
        app = c.create_app(CreateApplicationRequest={"Name": "x"})["ApplicationResponse"]["Id"]
        write(os.path.join(root, "a.csv"), GUIDE_CSV)
        write(os.path.join(root, "big/b.csv"), GUIDE_CSV * 20)
        req = {"S3Url": f"file://{root}/a.csv", "RoleArn": ROLE, "Format": "CSV"}
        st, code, msg = error_of(lambda: c.create_import_job(ApplicationId=app, ImportJobRequest={
            **req, "S3Url": f"file://{root}/big/"}))
        assert st == 413 and "import.max_bytes" in msg, msg
        for _ in range(2):   # no runner threads: both stay CREATED
            c.create_import_job(ApplicationId=app, ImportJobRequest=req)
        st, code, msg = error_of(lambda: c.create_import_job(ApplicationId=app,
                                                             ImportJobRequest=req))
        assert st == 429 and code == "TooManyRequestsException", (st, code, msg)
    finally:
        daemon.cleanup()
        redis.cleanup()
        shutil.rmtree(root)


def main():
    root = tempfile.mkdtemp(prefix="rp-jobs-")
    state["root"] = os.path.realpath(root)
    s3 = state["s3"] = s3rver.S3rver()
    env = dict(s3.env(), REPOINT_IMPORT_FILE_ROOT=state["root"],
               REPOINT_EXPORT_FILE_ROOT=state["root"], REPOINT_JOBS_LEASE_MS="1000",
               REPOINT_IMPORT_PIECE_BYTES="65536")
    try:
        with harness.stack(env=env) as (redis, rp):
            state.update(redis=redis, rp=rp, client=rp.client())
            harness.run_tests([
                test_guide_examples_through_the_cli,
                test_csv_edge_cases_bad_lines_and_update_by_id,
                test_import_deactivates_endpoints_whose_address_it_takes,
                test_s3_mixed_nested_compressed_and_export,
                test_s3_signature_is_checked,
                test_path_traversal_refused,
                test_large_import_resumes_after_kill,
                test_large_ndjson_is_cut_into_pieces,
                test_segments_crud_imported_segments_and_limits,
                test_limits_concurrent_jobs_and_size,
            ])
    finally:
        s3.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
