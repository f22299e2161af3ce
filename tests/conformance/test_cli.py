"""Conformance: the real AWS CLI (`aws pinpoint ... --endpoint-url`) drives every operation of
the foundation (Apps, Settings, Channels, Endpoints, Users) against a real `repoint serve` and a
real redis-server, and sees Pinpoint's errors the way it shows them: a non-zero exit status and
the error code in stderr."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402


class State:
    redis = None
    daemon = None
    keys = None
    tmp = None


S = State()

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")


# ---------------------------------------------------------------------------------------------
# Key material, generated with the openssl CLI at test time.

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_keys(d):
    p = lambda name: os.path.join(d, name)  # noqa: E731
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            p("token.p8"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("apns_key.pem"),
            "-out", p("apns_cert.pem"), "-days", "3650", "-subj", "/CN=repoint cli")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
            p("sa_key.pem"))
    read = lambda name: open(p(name)).read()  # noqa: E731
    keys = {"token": read("token.p8"), "cert": read("apns_cert.pem"),
            "cert_key": read("apns_key.pem"), "sa_key": read("sa_key.pem")}
    keys["service"] = {
        "type": "service_account",
        "project_id": "repoint-cli",
        "private_key_id": "89abcdef0123456789abcdef0123456789abcdef",
        "private_key": keys["sa_key"],
        "client_email": "fcm@repoint-cli.iam.gserviceaccount.com",
        "client_id": "100000000000000000002",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return keys


def secret_fragments():
    frags = ["PRIVATE KEY", "admCliSecret0123456789abcdef", "baiduCliSecret0123456789",
             "baiduCliApiKey0123456789"]
    for name in ("token", "cert_key", "sa_key"):
        frags += [line for line in S.keys[name].strip().splitlines()
                  if not line.startswith("-----") and len(line) >= 16]
    return frags


def assert_no_secrets(text, where):
    for frag in secret_fragments():
        assert frag not in text and json.dumps(frag)[1:-1] not in text, \
            f"{where}: secret material {frag[:20]!r}... in the CLI output"


# ---------------------------------------------------------------------------------------------
# Helpers.

def aws(*args):
    return S.daemon.aws(*args)


def boto():
    """A boto3 client, for checks of the daemon's state where the CLI is not what is tested
    (the CLI's start-up costs half a second a command)."""
    return S.daemon.client()


def aws_fails(code, *args, field=None):
    """Runs a CLI command that must fail with the Pinpoint error `code`; returns stderr."""
    rc, out, err = S.daemon.aws(*args, check=False)
    assert rc != 0, f"aws {' '.join(args[:3])} exited 0; expected {code}: {out[:300]}"
    assert f"({code})" in err, f"aws {' '.join(args[:3])}: expected {code} in stderr: {err!r}"
    if field:
        assert field in err, f"aws {' '.join(args[:3])}: stderr does not name {field!r}: {err!r}"
    return err


def jarg(obj):
    return json.dumps(obj)


def write_json(name, obj):
    path = os.path.join(S.tmp, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return "file://" + path


def assert_gone(app, eid):
    from botocore.exceptions import ClientError
    try:
        ep = boto().get_endpoint(ApplicationId=app, EndpointId=eid)["EndpointResponse"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e
        return
    raise AssertionError(f"endpoint {eid} exists: {ep}")


def new_app(name):
    out = aws("create-app", "--create-application-request", jarg({"Name": name}))
    return out["ApplicationResponse"]["Id"]


def parallel(calls):
    """Runs independent CLI checks two at a time (the CLI's start-up dominates)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(fn, *args, **kwargs) for fn, args, kwargs in calls]
        return [f.result() for f in futures]


# ---------------------------------------------------------------------------------------------
# Apps.

def test_apps():
    out = aws("create-app", "--create-application-request",
              jarg({"Name": "cli app", "tags": {"team": "cli", "env": "test"}}))
    app = out["ApplicationResponse"]
    assert set(app) == {"Arn", "Id", "Name", "tags", "CreationDate"}, app
    assert app["Name"] == "cli app" and app["tags"] == {"team": "cli", "env": "test"}
    assert re.fullmatch(r"[0-9a-f]{32}", app["Id"]), app["Id"]
    assert re.fullmatch(r"arn:aws:mobiletargeting:us-east-1:\d{12}:apps/" + app["Id"],
                        app["Arn"]), app["Arn"]
    assert ISO_RE.match(app["CreationDate"])
    # Shorthand syntax, as people type it.
    short = aws("create-app", "--create-application-request", "Name=shorthand app")
    short_id = short["ApplicationResponse"]["Id"]
    assert short["ApplicationResponse"]["Name"] == "shorthand app"
    third = boto().create_app(CreateApplicationRequest={"Name": "third app"})[
        "ApplicationResponse"]["Id"]

    got = aws("get-app", "--application-id", app["Id"])
    assert got["ApplicationResponse"] == app, (got, app)

    seen, token, pages = [], None, 0
    while True:
        args = ["get-apps", "--page-size", "2"]
        if token:
            args += ["--token", token]
        page = aws(*args)["ApplicationsResponse"]
        pages += 1
        assert len(page["Item"]) <= 2
        seen += [a["Id"] for a in page["Item"]]
        token = page.get("NextToken")
        if not token or pages > 20:
            break
    assert len(seen) == len(set(seen)), seen
    for app_id in (app["Id"], short_id, third):
        assert seen.count(app_id) == 1, (app_id, seen)

    deleted = aws("delete-app", "--application-id", third)["ApplicationResponse"]
    assert deleted["Id"] == third and deleted["Name"] == "third app"
    aws_fails("NotFoundException", "get-app", "--application-id", third)
    listed = boto().get_apps()["ApplicationsResponse"]["Item"]
    ids = [a["Id"] for a in listed]
    assert third not in ids and app["Id"] in ids and short_id in ids


# ---------------------------------------------------------------------------------------------
# Settings.

def test_settings():
    app = new_app("cli settings")
    s = aws("get-application-settings", "--application-id", app)["ApplicationSettingsResource"]
    assert s["ApplicationId"] == app
    s = aws("update-application-settings", "--application-id", app,
            "--write-application-settings-request",
            jarg({"Limits": {"Daily": 10, "MessagesPerSecond": 50},
                  "QuietTime": {"Start": "22:00", "End": "06:00"}}))["ApplicationSettingsResource"]
    assert s["Limits"] == {"Daily": 10, "MessagesPerSecond": 50}, s
    assert s["QuietTime"] == {"Start": "22:00", "End": "06:00"}, s
    assert ISO_RE.match(s["LastModifiedDate"])
    # Shorthand, naming only Limits.Total: the rest stays.
    s = aws("update-application-settings", "--application-id", app,
            "--write-application-settings-request", "Limits={Total=20}")[
        "ApplicationSettingsResource"]
    assert s["Limits"] == {"Daily": 10, "MessagesPerSecond": 50, "Total": 20}, s
    assert s["QuietTime"] == {"Start": "22:00", "End": "06:00"}, s
    got = boto().get_application_settings(ApplicationId=app)["ApplicationSettingsResource"]
    assert got == s, (got, s)


# ---------------------------------------------------------------------------------------------
# Channels.

def channel_commands():
    k = S.keys
    token = {"TokenKey": k["token"], "TokenKeyId": "KEY1234567", "TeamId": "TEAM765432",
             "BundleId": "com.example.cli"}
    cert = {"Certificate": k["cert"], "PrivateKey": k["cert_key"]}
    return [
        ("APNS", "apns", "--apns-channel-request", dict(token, **cert)),
        ("APNS_SANDBOX", "apns-sandbox", "--apns-sandbox-channel-request", dict(token)),
        ("APNS_VOIP", "apns-voip", "--apns-voip-channel-request", dict(cert)),
        ("APNS_VOIP_SANDBOX", "apns-voip-sandbox", "--apns-voip-sandbox-channel-request",
         dict(token, DefaultAuthenticationMethod="TOKEN")),
        ("GCM", "gcm", "--gcm-channel-request",
         {"ServiceJson": json.dumps(k["service"]), "DefaultAuthenticationMethod": "TOKEN"}),
        ("ADM", "adm", "--adm-channel-request",
         {"ClientId": "amzn1.application-oa2-client.cli", "ClientSecret":
          "admCliSecret0123456789abcdef"}),
        ("BAIDU", "baidu", "--baidu-channel-request",
         {"ApiKey": "baiduCliApiKey0123456789", "SecretKey": "baiduCliSecret0123456789"}),
        ("EMAIL", "email", "--email-channel-request",
         {"FromAddress": "cli@example.com",
          "Identity": "arn:aws:ses:us-east-1:000000000000:identity/example.com"}),
        ("SMS", "sms", "--sms-channel-request", {"SenderId": "RepointCLI", "Enabled": True}),
    ]


def response_member(out):
    assert isinstance(out, dict) and len(out) == 1, out
    return next(iter(out.values()))


def check_channel(ch, app, ctype, enabled=True):
    for m in ("ApplicationId", "CreationDate", "Enabled", "Id", "IsArchived", "LastModifiedDate",
              "Platform", "Version"):
        assert m in ch, f"{ctype}: {m} missing from {ch}"
    assert ch["ApplicationId"] == app and ch["Platform"] == ctype, ch
    assert ch["Enabled"] is enabled, ch
    assert ISO_RE.match(ch["CreationDate"]) and ISO_RE.match(ch["LastModifiedDate"]), ch


def test_channels():
    app = new_app("cli channels")

    def update(row):
        ctype, name, opt, req = row
        # The PEM-bearing requests go through file://, as people pass key files.
        arg = write_json(f"{name}.json", req) if ctype.startswith(("APNS", "GCM")) else jarg(req)
        proc = S.daemon.aws(f"update-{name}-channel", "--application-id", app, opt, arg,
                            check=False)
        rc, out, err = proc
        assert rc == 0, f"update-{name}-channel failed: {err}"
        assert_no_secrets(out + err, f"update-{name}-channel")
        ch = response_member(json.loads(out))
        check_channel(ch, app, ctype)
        if ctype.startswith("APNS"):
            assert ch["HasTokenKey"] is ("TokenKey" in req), ch
            if "Certificate" in req:
                assert ch["HasCredential"] is True, ch
        elif ctype == "GCM":
            assert ch["HasFcmServiceCredentials"] is True, ch
        elif ctype in ("ADM", "BAIDU"):
            assert ch["HasCredential"] is True, ch
        elif ctype == "EMAIL":
            assert ch["FromAddress"] == "cli@example.com" and ch["Identity"] == req["Identity"]
        elif ctype == "SMS":
            assert ch["SenderId"] == "RepointCLI"
        return ctype

    parallel([(update, (row,), {}) for row in channel_commands()])

    rc, out, err = S.daemon.aws("get-channels", "--application-id", app, check=False)
    assert rc == 0, err
    assert_no_secrets(out, "get-channels")
    channels = json.loads(out)["ChannelsResponse"]["Channels"]
    assert sorted(channels) == sorted(r[0] for r in channel_commands()), channels
    for t, ch in channels.items():
        assert ch["Enabled"] is True and ch["Version"] == 1, (t, ch)

    rc, out, err = S.daemon.aws("get-apns-channel", "--application-id", app, check=False)
    assert rc == 0, err
    assert_no_secrets(out, "get-apns-channel")
    apns = json.loads(out)["APNSChannelResponse"]
    check_channel(apns, app, "APNS")
    assert apns["HasTokenKey"] is True and apns["HasCredential"] is True
    assert apns["DefaultAuthenticationMethod"] == "TOKEN"

    # Enabled=false alone (shorthand) keeps the credentials.
    off = aws("update-apns-channel", "--application-id", app, "--apns-channel-request",
              "Enabled=false")["APNSChannelResponse"]
    check_channel(off, app, "APNS", enabled=False)
    assert off["HasTokenKey"] is True and off["HasCredential"] is True, off
    assert off["Version"] == apns["Version"] + 1

    rc, out, err = S.daemon.aws("delete-apns-channel", "--application-id", app, check=False)
    assert rc == 0, err
    assert_no_secrets(out, "delete-apns-channel")
    gone = json.loads(out)["APNSChannelResponse"]
    assert gone["Platform"] == "APNS" and gone["Enabled"] is False
    aws_fails("NotFoundException", "get-apns-channel", "--application-id", app)
    channels = boto().get_channels(ApplicationId=app)["ChannelsResponse"]["Channels"]
    assert "APNS" not in channels and len(channels) == 8, channels


# ---------------------------------------------------------------------------------------------
# Endpoints and users.

def test_endpoints_and_users():
    app = new_app("cli endpoints")
    msg = aws("update-endpoint", "--application-id", app, "--endpoint-id", "cli-1",
              "--endpoint-request", jarg({
                  "ChannelType": "SMS", "Address": "+12065550300", "OptOut": "NONE",
                  "Attributes": {"color": ["red"], "size": ["M"]},
                  "Metrics": {"visits": 2},
                  "Demographic": {"Platform": "android"},
                  "Location": {"City": "Portland", "Country": "US"},
                  "User": {"UserId": "cli-user", "UserAttributes": {"plan": ["free"]}}}))
    assert msg["MessageBody"]["Message"] and msg["MessageBody"]["RequestID"], msg
    # Merge: a second update names other attributes.
    aws("update-endpoint", "--application-id", app, "--endpoint-id", "cli-1",
        "--endpoint-request", jarg({"Attributes": {"size": ["L"], "shape": ["round"]},
                                    "EndpointStatus": "INACTIVE"}))
    ep = aws("get-endpoint", "--application-id", app, "--endpoint-id", "cli-1")[
        "EndpointResponse"]
    for m in ("ChannelType", "Address", "EndpointStatus", "OptOut", "Attributes", "Metrics",
              "Demographic", "Location", "User", "ApplicationId", "Id", "CohortId",
              "CreationDate", "EffectiveDate"):
        assert m in ep, f"{m} missing from {ep}"
    assert ep["Id"] == "cli-1" and ep["ApplicationId"] == app
    assert ep["Attributes"] == {"color": ["red"], "size": ["L"], "shape": ["round"]}, ep
    assert ep["Metrics"] == {"visits": 2.0}, ep
    assert ep["EndpointStatus"] == "INACTIVE"
    assert ep["User"] == {"UserId": "cli-user", "UserAttributes": {"plan": ["free"]}}, ep

    batch = aws("update-endpoints-batch", "--application-id", app, "--endpoint-batch-request",
                jarg({"Item": [
                    {"Id": "cli-2", "ChannelType": "EMAIL", "Address": "two@example.com",
                     "User": {"UserId": "cli-user"}},
                    {"Id": "cli-3", "ChannelType": "GCM", "Address": "gcm-token-cli-3",
                     "User": {"UserId": "other-user"}},
                    {"Id": "cli-1", "Address": "+12065550301"}]}))
    assert batch["MessageBody"]["Message"], batch
    ep = boto().get_endpoint(ApplicationId=app, EndpointId="cli-1")["EndpointResponse"]
    assert ep["Address"] == "+12065550301" and ep["EndpointStatus"] == "ACTIVE", ep
    assert boto().get_endpoint(ApplicationId=app, EndpointId="cli-2")["EndpointResponse"][
        "Address"] == "two@example.com"

    users = aws("get-user-endpoints", "--application-id", app, "--user-id", "cli-user")
    assert sorted(e["Id"] for e in users["EndpointsResponse"]["Item"]) == ["cli-1", "cli-2"]

    removed = aws("remove-attributes", "--application-id", app, "--attribute-type",
                  "endpoint-custom-attributes", "--update-attributes-request",
                  "Blacklist=color,shape")["AttributesResource"]
    assert removed["ApplicationId"] == app, removed
    assert removed["AttributeType"] == "endpoint-custom-attributes", removed
    assert isinstance(removed.get("Attributes", []), list)

    gone = aws("delete-endpoint", "--application-id", app, "--endpoint-id", "cli-3")[
        "EndpointResponse"]
    assert gone["Id"] == "cli-3" and gone["Address"] == "gcm-token-cli-3", gone
    aws_fails("NotFoundException", "get-endpoint", "--application-id", app, "--endpoint-id",
              "cli-3")

    deleted = aws("delete-user-endpoints", "--application-id", app, "--user-id", "cli-user")
    assert sorted(e["Id"] for e in deleted["EndpointsResponse"]["Item"]) == ["cli-1", "cli-2"]
    aws_fails("NotFoundException", "get-user-endpoints", "--application-id", app, "--user-id",
              "cli-user")
    assert_gone(app, "cli-2")


# ---------------------------------------------------------------------------------------------
# Errors as the CLI shows them.

def test_errors():
    app = new_app("cli errors")
    missing = "f" * 32
    sms = {"ChannelType": "SMS", "Address": "+12065550400"}
    no_key = {k: v for k, v in S.keys["service"].items() if k != "private_key"}
    bad_pem = {"TokenKey": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----",
               "TokenKeyId": "KEY1234567", "TeamId": "TEAM765432", "BundleId": "com.x"}
    checks = [
        ("NotFoundException", ["get-app", "--application-id", missing], None),
        ("NotFoundException", ["get-endpoint", "--application-id", missing, "--endpoint-id",
                               "e"], None),
        ("BadRequestException", ["update-application-settings", "--application-id", app,
                                 "--write-application-settings-request",
                                 "Limits={MessagesPerSecond=0}"], "MessagesPerSecond"),
        ("BadRequestException", ["update-endpoint", "--application-id", app, "--endpoint-id",
                                 "e1", "--endpoint-request", jarg(dict(sms, OptOut="MAYBE"))],
         "OptOut"),
        ("BadRequestException", ["update-endpoint", "--application-id", app, "--endpoint-id",
                                 "e1", "--endpoint-request", jarg(dict(sms, Address="555-0100"))],
         "Address"),
        ("BadRequestException", ["update-endpoint", "--application-id", app, "--endpoint-id",
                                 "e1", "--endpoint-request",
                                 jarg(dict(sms, Attributes={f"a{i}": ["v"] for i in range(21)}))],
         "Attributes"),
        ("BadRequestException", ["update-endpoints-batch", "--application-id", app,
                                 "--endpoint-batch-request",
                                 jarg({"Item": [dict(sms, Id="b1"),
                                                dict(sms, Id="b2", Address="nope")]})],
         "Address"),
        ("BadRequestException", ["update-apns-channel", "--application-id", app,
                                 "--apns-channel-request", jarg(bad_pem)], "TokenKey"),
        ("BadRequestException", ["update-gcm-channel", "--application-id", app,
                                 "--gcm-channel-request",
                                 jarg({"ServiceJson": json.dumps(no_key)})], "private_key"),
        ("NotFoundException", ["list-journeys", "--application-id", app], None),
        ("NotFoundException", ["phone-number-validate", "--number-validate-request",
                               "PhoneNumber=+12065550100"], None),
    ]
    results = parallel([(aws_fails, (code, *args), {"field": field})
                        for code, args, field in checks])
    for err in results:
        assert_no_secrets(err, "CLI error output")
    # The refused requests changed nothing.
    assert_gone(app, "e1")
    assert_gone(app, "b1")
    channels = boto().get_channels(ApplicationId=app)["ChannelsResponse"]["Channels"]
    assert channels == {}, channels
    settings = boto().get_application_settings(ApplicationId=app)["ApplicationSettingsResource"]
    assert settings.get("Limits", {}) == {}, settings


TESTS = [test_apps, test_settings, test_channels, test_endpoints_and_users, test_errors]


def main():
    if not harness.aws_cli() or not os.path.exists(harness.aws_cli()):
        print("the AWS CLI is not installed")
        sys.exit(1)
    S.tmp = tempfile.mkdtemp(prefix="rp-conf-cli-")
    code = 1
    try:
        S.keys = make_keys(S.tmp)
        with harness.stack() as (redis, daemon):
            S.redis, S.daemon = redis, daemon
            try:
                harness.run_tests(TESTS)
            except SystemExit as e:
                code = e.code
            if code:
                sys.stderr.write("---- repoint log (tail) ----\n" + daemon.logs()[-6000:] + "\n")
    finally:
        shutil.rmtree(S.tmp, ignore_errors=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
