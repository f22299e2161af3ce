"""Conformance: boto3, unmodified, drives every operation of the foundation (Apps, Settings,
Channels, Endpoints, Users) against a real `repoint serve` and a real redis-server.

Besides the parsed values, every answer's raw JSON body is checked against botocore's own model
of Pinpoint: each member name must be one the model knows (exact PascalCase, so a wrongly cased
member would be silently dropped by every SDK), each value of the model's type, and the HTTP
status the model's responseCode. Errors are checked for the Pinpoint error shape: the
x-amzn-ErrorType header and a {"Message", "RequestID"} body whose message names the field."""
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402


class State:
    redis = None
    daemon = None
    c = None          # boto3 client, parameter validation on (what users run)
    loose = None      # the same with parameter_validation=False, to send what boto3 refuses
    rec = None        # the raw answer of the last call of either client
    keys = None       # generated key material


S = State()

ISO_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)$")
APP_ID_RE = re.compile(r"^[0-9a-f]{32}$")


# ---------------------------------------------------------------------------------------------
# Key material, generated with the openssl CLI into a temp dir at test time.

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_keys():
    d = tempfile.mkdtemp(prefix="rp-conf-keys-")
    p = lambda name: os.path.join(d, name)  # noqa: E731
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            p("token.p8"))
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384", "-out",
            p("token384.p8"))
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("apns_key.pem"),
            "-out", p("apns_cert.pem"), "-days", "3650", "-subj", "/CN=repoint conformance")
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
            p("other_key.pem"))
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out",
            p("sa_key.pem"))
    read = lambda name: open(p(name)).read()  # noqa: E731
    keys = {
        "token": read("token.p8"),
        "token384": read("token384.p8"),
        "cert": read("apns_cert.pem"),
        "cert_key": read("apns_key.pem"),
        "other_key": read("other_key.pem"),
        "sa_key": read("sa_key.pem"),
        "dir": d,
    }
    keys["service"] = {
        "type": "service_account",
        "project_id": "repoint-conformance",
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "private_key": keys["sa_key"],
        "client_email": "fcm-sender@repoint-conformance.iam.gserviceaccount.com",
        "client_id": "100000000000000000001",
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return keys


def pem_fragments(pem):
    """The base64 lines of a PEM body: none of them may ever appear in an answer."""
    return [line for line in pem.strip().splitlines() if not line.startswith("-----")
            and len(line) >= 16]


def secret_fragments():
    k = S.keys
    frags = []
    for name in ("token", "cert_key", "sa_key"):
        frags += pem_fragments(k[name])
    frags += ["PRIVATE KEY", "admClientSecretValue0123456789",
              "baiduSecretKeyValue0123456789", "baiduApiKeyValue0123456789",
              "gcmLegacyServerKey0123456789abcdef"]
    return frags


def assert_no_secrets(text, where):
    for frag in secret_fragments():
        assert frag not in text, f"{where}: secret material {frag[:20]!r}... in the answer: " \
                                 f"{text[:400]}"
        # JSON escaping of '/' or '+' would not hide a fragment, but check the escaped form too.
        esc = json.dumps(frag)[1:-1]
        assert esc not in text, f"{where}: escaped secret material in the answer"


# ---------------------------------------------------------------------------------------------
# Raw answers and the botocore model.

class Recorder:
    """Keeps the raw HTTP answer of the last call a client made."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.body = b""
        self.model = None

    def attach(self, client):
        client.meta.events.register("after-call.pinpoint", self.on_after_call)

    def on_after_call(self, http_response, parsed, model, **kwargs):
        self.status = http_response.status_code
        self.headers = {k.lower(): v for k, v in http_response.headers.items()}
        self.body = http_response.content or b""
        self.model = model

    def json(self):
        return json.loads(self.body.decode()) if self.body.strip() else None


def shape_problems(value, shape, path):
    """Differences between a raw JSON value and a botocore shape: unknown (or wrongly cased)
    members and wrongly typed values."""
    t = shape.type_name
    out = []
    if t == "structure":
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {type(value).__name__}"]
        for k, v in value.items():
            if k not in shape.members:
                out.append(f"{path}.{k}: not a member of {shape.name} "
                           f"(members: {', '.join(shape.members)})")
            else:
                out += shape_problems(v, shape.members[k], f"{path}.{k}")
    elif t == "map":
        if not isinstance(value, dict):
            return [f"{path}: expected a map, got {type(value).__name__}"]
        for k, v in value.items():
            out += shape_problems(v, shape.value, f"{path}[{k!r}]")
    elif t == "list":
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {type(value).__name__}"]
        for i, v in enumerate(value):
            out += shape_problems(v, shape.member, f"{path}[{i}]")
    elif t == "string":
        if not isinstance(value, str):
            out.append(f"{path}: expected a string, got {value!r}")
    elif t in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            out.append(f"{path}: expected an integer, got {value!r}")
    elif t in ("double", "float"):
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            out.append(f"{path}: expected a number, got {value!r}")
    elif t == "boolean":
        if not isinstance(value, bool):
            out.append(f"{path}: expected a boolean, got {value!r}")
    return out


def call(method, client=None, **kwargs):
    """Calls a boto3 operation, checks the raw answer against the model (status, members,
    types) and returns (payload as boto3 parsed it, raw JSON)."""
    client = client or S.c
    resp = getattr(client, method)(**kwargs)
    model = S.rec.model
    want = model.http.get("responseCode", 200)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == want, \
        f"{model.name}: HTTP {resp['ResponseMetadata']['HTTPStatusCode']}, the model says {want}"
    assert resp["ResponseMetadata"].get("RequestId"), f"{model.name}: no x-amzn-RequestId"
    out = model.output_shape
    payload = out.serialization.get("payload")
    assert payload, f"{model.name} has no payload member"
    raw = S.rec.json()
    problems = shape_problems(raw, out.members[payload], payload)
    assert not problems, f"{model.name}: answer does not match the model:\n  " + \
        "\n  ".join(problems) + f"\nraw: {S.rec.body[:1000]!r}"
    assert S.rec.headers.get("content-type", "").startswith("application/json")
    return resp[payload], raw


def expect_error(code, method, field=None, status=None, client=None, **kwargs):
    """Calls an operation that must fail with the Pinpoint error `code`; when field is given
    the message must name it. Returns the message."""
    client = client or S.c
    try:
        getattr(client, method)(**kwargs)
    except ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == code, f"{method}: expected {code}, got {err['Code']}: " \
                                    f"{err.get('Message')}"
        want_status = status or {"BadRequestException": 400, "NotFoundException": 404,
                                 "ForbiddenException": 403,
                                 "MethodNotAllowedException": 405}.get(code)
        if want_status:
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == want_status, \
                f"{method}: HTTP {e.response['ResponseMetadata']['HTTPStatusCode']}"
        check_error_body(code)
        msg = err.get("Message", "")
        if field:
            assert field in msg, f"{method}: the message does not name {field!r}: {msg!r}"
        return msg
    raise AssertionError(f"{method}({kwargs}) succeeded; expected {code}")


def check_error_body(code):
    hdr = S.rec.headers.get("x-amzn-errortype", "")
    assert hdr.split(":")[0] == code, f"x-amzn-ErrorType is {hdr!r}, expected {code}"
    body = S.rec.json()
    assert isinstance(body, dict) and set(body) == {"Message", "RequestID"}, \
        f"error body is not a Pinpoint MessageBody: {S.rec.body!r}"
    assert isinstance(body["Message"], str) and body["Message"]
    assert body["RequestID"] == S.rec.headers.get("x-amzn-requestid"), \
        "RequestID in the body differs from the x-amzn-RequestId header"


# ---------------------------------------------------------------------------------------------
# Raw signed requests, for what no SDK would send.

def signed(method, path, body=None, content_type="application/json"):
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode()
    else:
        data = body or b""
    req = AWSRequest(method=method, url=S.daemon.url + path, data=data,
                     headers={"Content-Type": content_type})
    SigV4Auth(Credentials(harness.ACCESS_KEY, harness.SECRET_KEY), "mobiletargeting",
              harness.REGION).add_auth(req)
    conn = http.client.HTTPConnection("127.0.0.1", S.daemon.port, timeout=15)
    try:
        conn.request(method, path, body=data, headers=dict(req.headers.items()))
        r = conn.getresponse()
        raw = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        return r.status, headers, raw
    finally:
        conn.close()


def expect_raw_error(status, code, method, path, body=None, field=None):
    st, headers, raw = signed(method, path, body)
    assert st == status, f"{method} {path}: HTTP {st}, expected {status}: {raw[:300]!r}"
    assert headers.get("x-amzn-errortype", "").split(":")[0] == code, \
        f"{method} {path}: x-amzn-ErrorType {headers.get('x-amzn-errortype')!r}, expected {code}"
    doc = json.loads(raw)
    assert set(doc) == {"Message", "RequestID"}, f"error body {raw!r}"
    if field:
        assert field in doc["Message"], f"{method} {path}: message does not name {field!r}: " \
                                        f"{doc['Message']!r}"
    return doc["Message"]


# ---------------------------------------------------------------------------------------------
# Helpers.

def new_app(name="conformance", tags=None):
    req = {"Name": name}
    if tags is not None:
        req["tags"] = tags
    app, _ = call("create_app", CreateApplicationRequest=req)
    return app["Id"]


def put_endpoint(app, eid, **req):
    body, raw = call("update_endpoint", ApplicationId=app, EndpointId=eid, EndpointRequest=req)
    assert body["Message"] and isinstance(body["RequestID"], str), body
    assert set(raw) <= {"Message", "RequestID"}
    return body


def get_endpoint(app, eid):
    ep, _ = call("get_endpoint", ApplicationId=app, EndpointId=eid)
    return ep


def assert_absent(app, eid, why):
    try:
        ep = S.c.get_endpoint(ApplicationId=app, EndpointId=eid)["EndpointResponse"]
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e
        return
    raise AssertionError(f"{why}: endpoint {eid} exists: {ep}")


def user_endpoint_ids(app, user):
    body, _ = call("get_user_endpoints", ApplicationId=app, UserId=user)
    ids = [e["Id"] for e in body["Item"]]
    assert len(ids) == len(set(ids)), f"duplicates in GetUserEndpoints: {ids}"
    return sorted(ids)


def app_keys(app_id):
    out = S.redis.cli("--scan", "--pattern", f"rp:*{app_id}*")
    return [line for line in out.splitlines() if line.strip()]


def channel_requests():
    """One valid request per channel type: (type, update method, request member, get method,
    delete method, request)."""
    k = S.keys
    apns_token = {"TokenKey": k["token"], "TokenKeyId": "ABC123DEFG", "TeamId": "TEAM123456",
                  "BundleId": "com.example.repoint", "Enabled": True}
    apns_cert = {"Certificate": k["cert"], "PrivateKey": k["cert_key"]}
    return [
        ("APNS", "update_apns_channel", "APNSChannelRequest", "get_apns_channel",
         "delete_apns_channel", dict(apns_token, **apns_cert)),
        ("APNS_SANDBOX", "update_apns_sandbox_channel", "APNSSandboxChannelRequest",
         "get_apns_sandbox_channel", "delete_apns_sandbox_channel", dict(apns_token)),
        ("APNS_VOIP", "update_apns_voip_channel", "APNSVoipChannelRequest",
         "get_apns_voip_channel", "delete_apns_voip_channel", dict(apns_cert)),
        ("APNS_VOIP_SANDBOX", "update_apns_voip_sandbox_channel",
         "APNSVoipSandboxChannelRequest", "get_apns_voip_sandbox_channel",
         "delete_apns_voip_sandbox_channel", dict(apns_token)),
        ("GCM", "update_gcm_channel", "GCMChannelRequest", "get_gcm_channel",
         "delete_gcm_channel", {"ServiceJson": json.dumps(k["service"]),
                                "DefaultAuthenticationMethod": "TOKEN", "Enabled": True}),
        ("ADM", "update_adm_channel", "ADMChannelRequest", "get_adm_channel",
         "delete_adm_channel", {"ClientId": "amzn1.application-oa2-client.0123456789abcdef",
                                "ClientSecret": "admClientSecretValue0123456789",
                                "Enabled": True}),
        ("BAIDU", "update_baidu_channel", "BaiduChannelRequest", "get_baidu_channel",
         "delete_baidu_channel", {"ApiKey": "baiduApiKeyValue0123456789",
                                  "SecretKey": "baiduSecretKeyValue0123456789"}),
        ("EMAIL", "update_email_channel", "EmailChannelRequest", "get_email_channel",
         "delete_email_channel", {"FromAddress": "noreply@example.com",
                                  "Identity": "arn:aws:ses:us-east-1:000000000000:identity/"
                                              "example.com",
                                  "ConfigurationSet": "repoint-conf", "Enabled": True}),
        ("SMS", "update_sms_channel", "SMSChannelRequest", "get_sms_channel",
         "delete_sms_channel", {"SenderId": "Repoint", "ShortCode": "12345", "Enabled": True}),
    ]


def channel_by_type(t):
    for row in channel_requests():
        if row[0] == t:
            return row
    raise KeyError(t)


COMMON_CHANNEL_MEMBERS = {"ApplicationId", "CreationDate", "Enabled", "Id", "IsArchived",
                          "LastModifiedBy", "LastModifiedDate", "Platform", "Version"}


def check_channel(resp, raw, app, ctype, enabled=True):
    missing = COMMON_CHANNEL_MEMBERS - set(raw)
    assert not missing, f"{ctype}: members missing from the answer: {missing}: {raw}"
    assert resp["ApplicationId"] == app
    assert resp["Platform"] == ctype, f"Platform {resp['Platform']!r}, expected {ctype}"
    assert resp["Enabled"] is enabled, f"{ctype}: Enabled {resp['Enabled']!r}"
    assert resp["IsArchived"] is False
    assert isinstance(resp["Version"], int) and resp["Version"] >= 1
    assert ISO_RE.match(resp["CreationDate"]), resp["CreationDate"]
    assert ISO_RE.match(resp["LastModifiedDate"]), resp["LastModifiedDate"]
    assert_no_secrets(json.dumps(raw), f"{ctype} channel answer")


# ---------------------------------------------------------------------------------------------
# Apps.

def test_create_and_get_app():
    tags = {"team": "growth", "env": "conformance", "unicode": "caf\u00e9 \u2713"}
    name = "Repoint conformance \u00e9\u2713"
    app, raw = call("create_app", CreateApplicationRequest={"Name": name, "tags": tags})
    assert set(raw) == {"Arn", "Id", "Name", "tags", "CreationDate"}, raw
    assert APP_ID_RE.match(app["Id"]), app["Id"]
    assert app["Name"] == name and app["tags"] == tags
    assert re.fullmatch(r"arn:aws:mobiletargeting:us-east-1:\d{12}:apps/" + app["Id"],
                        app["Arn"]), app["Arn"]
    assert ISO_RE.match(app["CreationDate"]), app["CreationDate"]
    got, raw2 = call("get_app", ApplicationId=app["Id"])
    assert got == app, (got, app)
    assert raw2 == raw
    # Without tags: tags is an empty map, not missing and not null.
    bare, raw3 = call("create_app", CreateApplicationRequest={"Name": "no tags"})
    assert raw3.get("tags") in ({}, None) and bare["Name"] == "no tags"
    assert bare["Id"] != app["Id"]


def test_get_apps_paging():
    created = [new_app(f"paging-{i}") for i in range(7)]
    seen, pages, token = [], 0, None
    while True:
        kwargs = {"PageSize": "3"}
        if token:
            kwargs["Token"] = token
        body, raw = call("get_apps", **kwargs)
        pages += 1
        assert len(body["Item"]) <= 3, f"page of {len(body['Item'])} with PageSize 3"
        for app in body["Item"]:
            assert {"Arn", "Id", "Name", "CreationDate"} <= set(app), app
        seen += [a["Id"] for a in body["Item"]]
        token = body.get("NextToken")
        if not token:
            break
        assert len(body["Item"]) == 3, "a page before the last one was not full"
        assert pages < 50, "paging does not end"
    assert len(seen) == len(set(seen)), f"an app came back twice: {seen}"
    for app_id in created:
        assert seen.count(app_id) == 1, f"{app_id} seen {seen.count(app_id)} times"
    # One big page lists the same apps.
    body, _ = call("get_apps", PageSize="1000")
    assert sorted(a["Id"] for a in body["Item"]) == sorted(seen)
    assert "NextToken" not in body
    # Names round-trip in the listing.
    names = {a["Id"]: a["Name"] for a in body["Item"]}
    for i, app_id in enumerate(created):
        assert names[app_id] == f"paging-{i}"


def test_app_validation():
    expect_raw_error(400, "BadRequestException", "POST", "/v1/apps", {}, field="Name")
    expect_raw_error(400, "BadRequestException", "POST", "/v1/apps", {"Name": 123}, field="Name")
    expect_raw_error(400, "BadRequestException", "POST", "/v1/apps",
                     {"Name": "x", "tags": {"k": 5}}, field="tags")
    expect_error("BadRequestException", "create_app", field="Name", client=S.loose,
                 CreateApplicationRequest={"Name": 123})
    expect_error("BadRequestException", "create_app", field="Name", client=S.loose,
                 CreateApplicationRequest={"tags": {"a": "b"}})


def test_delete_app_removes_everything():
    app = new_app("to delete", {"k": "v"})
    call("update_application_settings", ApplicationId=app,
         WriteApplicationSettingsRequest={"Limits": {"Daily": 5}})
    _, _, _, _, _, sms = channel_by_type("SMS")
    call("update_sms_channel", ApplicationId=app, SMSChannelRequest=sms)
    call("update_gcm_channel", ApplicationId=app,
         GCMChannelRequest={"ServiceJson": json.dumps(S.keys["service"])})
    for i in range(5):
        put_endpoint(app, f"del-ep-{i}", ChannelType="SMS", Address=f"+1206555010{i}",
                     User={"UserId": f"del-user-{i % 2}"})
    call("remove_attributes", ApplicationId=app, AttributeType="endpoint-custom-attributes",
         UpdateAttributesRequest={"Blacklist": ["gone"]})
    assert app_keys(app), "the app wrote nothing to Redis?"

    deleted, raw = call("delete_app", ApplicationId=app)
    assert deleted["Id"] == app and deleted["Name"] == "to delete"
    assert deleted["tags"] == {"k": "v"}
    assert {"Arn", "Id", "Name", "CreationDate"} <= set(raw)

    expect_error("NotFoundException", "get_app", ApplicationId=app)
    expect_error("NotFoundException", "delete_app", ApplicationId=app)
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="del-ep-0")
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app,
                 UserId="del-user-0")
    expect_error("NotFoundException", "get_application_settings", ApplicationId=app)
    expect_error("NotFoundException", "get_channels", ApplicationId=app)
    expect_error("NotFoundException", "get_sms_channel", ApplicationId=app)
    # Writes to a deleted app do not bring it back.
    expect_error("NotFoundException", "update_endpoint", ApplicationId=app, EndpointId="late",
                 EndpointRequest={"ChannelType": "SMS", "Address": "+12065550199"})
    body, _ = call("get_apps", PageSize="1000")
    assert app not in [a["Id"] for a in body["Item"]]

    harness.wait_until(lambda: not app_keys(app), timeout=10,
                       what=f"Redis keys of deleted app {app} to be gone")
    time.sleep(1.2)  # one more janitor pass: nothing comes back
    assert not app_keys(app), app_keys(app)


# ---------------------------------------------------------------------------------------------
# Settings.

def test_settings_defaults_and_merge():
    app = new_app("settings")
    s, raw = call("get_application_settings", ApplicationId=app)
    assert s["ApplicationId"] == app
    for member in ("CampaignHook", "Limits", "QuietTime"):
        assert raw.get(member, {}) == {}, f"fresh app has {member}={raw.get(member)!r}"

    s, raw = call("update_application_settings", ApplicationId=app,
                  WriteApplicationSettingsRequest={
                      "Limits": {"Daily": 10, "MessagesPerSecond": 50, "MaximumDuration": 60},
                      "QuietTime": {"Start": "22:00", "End": "07:30"},
                      "CampaignHook": {"Mode": "FILTER",
                                       "LambdaFunctionName": "arn:aws:lambda:us-east-1:"
                                                             "000000000000:function:hook"}})
    assert s["ApplicationId"] == app
    assert s["Limits"] == {"Daily": 10, "MessagesPerSecond": 50, "MaximumDuration": 60}
    assert s["QuietTime"] == {"Start": "22:00", "End": "07:30"}
    assert s["CampaignHook"]["Mode"] == "FILTER"
    assert ISO_RE.match(s["LastModifiedDate"]), s.get("LastModifiedDate")
    first_modified = s["LastModifiedDate"]

    # A second update names only some members: the rest stay, objects merge member by member.
    time.sleep(0.01)
    s, _ = call("update_application_settings", ApplicationId=app,
                WriteApplicationSettingsRequest={"Limits": {"Total": 100,
                                                            "MessagesPerSecond": 20000}})
    assert s["Limits"] == {"Daily": 10, "MessagesPerSecond": 20000, "MaximumDuration": 60,
                           "Total": 100}, s["Limits"]
    assert s["QuietTime"] == {"Start": "22:00", "End": "07:30"}
    assert s["CampaignHook"]["Mode"] == "FILTER"
    assert s["LastModifiedDate"] >= first_modified

    got, _ = call("get_application_settings", ApplicationId=app)
    assert got == s, (got, s)


def test_settings_validation():
    app = new_app("settings validation")
    good = {"Limits": {"MessagesPerSecond": 100, "Daily": 5}}
    call("update_application_settings", ApplicationId=app, WriteApplicationSettingsRequest=good)
    cases = [
        ({"Limits": {"MessagesPerSecond": 0}}, "MessagesPerSecond"),
        ({"Limits": {"MessagesPerSecond": 20001}}, "MessagesPerSecond"),
        ({"Limits": {"Daily": 101}}, "Daily"),
        ({"Limits": {"Total": 101}}, "Total"),
        ({"Limits": {"MaximumDuration": 59}}, "MaximumDuration"),
        ({"QuietTime": {"Start": "24:00", "End": "06:00"}}, "QuietTime.Start"),
        ({"QuietTime": {"Start": "22:00", "End": "7:00"}}, "QuietTime.End"),
        ({"CampaignHook": {"Mode": "SOMETIMES"}}, "Mode"),
    ]
    for body, field in cases:
        expect_error("BadRequestException", "update_application_settings", field=field,
                     ApplicationId=app, WriteApplicationSettingsRequest=body)
    path = f"/v1/apps/{app}/settings"
    expect_raw_error(400, "BadRequestException", "PUT", path,
                     {"Limits": {"Daily": "ten"}}, field="Daily")
    expect_raw_error(400, "BadRequestException", "PUT", path,
                     {"Limits": {"MessagesPerSecond": 1.5}}, field="MessagesPerSecond")
    expect_raw_error(400, "BadRequestException", "PUT", path, {"Limits": "fast"},
                     field="Limits")
    expect_raw_error(400, "BadRequestException", "PUT", path, {"QuietTime": {"Start": 2200}},
                     field="Start")
    # Nothing of the refused updates was stored.
    s, _ = call("get_application_settings", ApplicationId=app)
    assert s["Limits"] == {"MessagesPerSecond": 100, "Daily": 5}, s["Limits"]
    assert s.get("QuietTime", {}) == {}


# ---------------------------------------------------------------------------------------------
# Channels.

def test_channels_roundtrip_every_type():
    app = new_app("channels")
    for ctype, update, member, get, _delete, req in channel_requests():
        resp, raw = call(update, ApplicationId=app, **{member: req})
        check_channel(resp, raw, app, ctype)
        assert resp["Version"] == 1, f"{ctype}: first Version {resp['Version']}"
        assert resp["LastModifiedBy"], ctype
        got, graw = call(get, ApplicationId=app)
        check_channel(got, graw, app, ctype)
        for m in ("CreationDate", "LastModifiedDate", "Version", "Enabled", "Id"):
            assert got[m] == resp[m], f"{ctype}: {m} {got[m]!r} != {resp[m]!r}"
        if ctype.startswith("APNS"):
            assert got["HasTokenKey"] is ("TokenKey" in req), (ctype, got)
            assert got["DefaultAuthenticationMethod"] == \
                ("TOKEN" if "TokenKey" in req else "CERTIFICATE"), (ctype, got)
            if "Certificate" in req:
                assert got["HasCredential"] is True, (ctype, got)
        elif ctype == "GCM":
            assert got["HasFcmServiceCredentials"] is True, got
            assert got["DefaultAuthenticationMethod"] == "TOKEN", got
            assert "Credential" not in graw or S.keys["sa_key"] not in graw["Credential"]
        elif ctype in ("ADM", "BAIDU"):
            assert got["HasCredential"] is True, (ctype, got)
        elif ctype == "EMAIL":
            assert got["FromAddress"] == req["FromAddress"]
            assert got["Identity"] == req["Identity"]
            assert got["ConfigurationSet"] == req["ConfigurationSet"]
            assert isinstance(got["MessagesPerSecond"], int)
        elif ctype == "SMS":
            assert got["SenderId"] == "Repoint" and got["ShortCode"] == "12345"
            assert isinstance(got["PromotionalMessagesPerSecond"], int)
            assert isinstance(got["TransactionalMessagesPerSecond"], int)
    # A second update bumps the Version and keeps the CreationDate.
    _, update, member, get, _, req = channel_by_type("SMS")
    before, _ = call(get, ApplicationId=app)
    time.sleep(0.01)
    after, _ = call(update, ApplicationId=app, **{member: {"SenderId": "Other1"}})
    assert after["Version"] == before["Version"] + 1, (before["Version"], after["Version"])
    assert after["CreationDate"] == before["CreationDate"]
    assert after["LastModifiedDate"] >= before["LastModifiedDate"]
    assert after["SenderId"] == "Other1" and after["ShortCode"] == "12345"


def test_get_channels_lists_configured():
    app = new_app("get channels")
    body, _ = call("get_channels", ApplicationId=app)
    assert body["Channels"] == {}, body
    configured = ["APNS_SANDBOX", "GCM", "EMAIL", "SMS"]
    for t in configured:
        _, update, member, _, _, req = channel_by_type(t)
        call(update, ApplicationId=app, **{member: req})
    body, raw = call("get_channels", ApplicationId=app)
    assert sorted(body["Channels"]) == sorted(configured), body
    for t, ch in body["Channels"].items():
        assert ch["ApplicationId"] == app and ch["Enabled"] is True, (t, ch)
        assert ch["Version"] == 1 and ISO_RE.match(ch["LastModifiedDate"]), (t, ch)
    assert_no_secrets(json.dumps(raw), "GetChannels")
    # Every type configured: all nine listed.
    for t, update, member, _, _, req in channel_requests():
        call(update, ApplicationId=app, **{member: req})
    body, raw = call("get_channels", ApplicationId=app)
    assert sorted(body["Channels"]) == sorted(r[0] for r in channel_requests()), body
    assert_no_secrets(json.dumps(raw), "GetChannels")


def test_channel_disable_keeps_credentials():
    app = new_app("disable")
    for t in ("APNS", "ADM", "BAIDU", "GCM"):
        _, update, member, get, _, req = channel_by_type(t)
        first, _ = call(update, ApplicationId=app, **{member: req})
        off, raw = call(update, ApplicationId=app, **{member: {"Enabled": False}}) \
            if t not in ("ADM", "BAIDU") else \
            call(update, client=S.loose, ApplicationId=app, **{member: {"Enabled": False}})
        check_channel(off, raw, app, t, enabled=False)
        assert off["Version"] == first["Version"] + 1
        if t == "GCM":
            assert off["HasFcmServiceCredentials"] is True, off
        else:
            assert off["HasCredential"] is True, (t, off)
        if t == "APNS":
            assert off["HasTokenKey"] is True, off
            assert off["DefaultAuthenticationMethod"] == first["DefaultAuthenticationMethod"]
        got, _ = call(get, ApplicationId=app)
        assert got["Enabled"] is False, (t, got)
        listed, _ = call("get_channels", ApplicationId=app)
        assert listed["Channels"][t]["Enabled"] is False, listed
        on, _ = call(update, client=S.loose, ApplicationId=app, **{member: {"Enabled": True}})
        assert on["Enabled"] is True and on["Version"] == first["Version"] + 2, (t, on)
    # ADM/BAIDU through the real (validating) client: the model makes the credentials required,
    # so resending them with Enabled=false works too and keeps HasCredential.
    _, update, member, get, _, req = channel_by_type("ADM")
    off, _ = call(update, ApplicationId=app, **{member: dict(req, Enabled=False)})
    assert off["Enabled"] is False and off["HasCredential"] is True


def test_delete_channel():
    app = new_app("delete channel")
    for t, update, member, get, delete, req in channel_requests():
        call(update, ApplicationId=app, **{member: req})
        gone, raw = call(delete, ApplicationId=app)
        check_channel(gone, raw, app, t)
        expect_error("NotFoundException", get, ApplicationId=app)
        expect_error("NotFoundException", delete, ApplicationId=app)
    body, _ = call("get_channels", ApplicationId=app)
    assert body["Channels"] == {}, body
    # Configure again after delete: a new channel, Version 1.
    t, update, member, get, delete, req = channel_by_type("EMAIL")
    again, _ = call(update, ApplicationId=app, **{member: req})
    assert again["Version"] == 1, again


def test_channel_validation():
    app = new_app("channel validation")
    k = S.keys
    ids = {"TokenKeyId": "ABC123DEFG", "TeamId": "TEAM123456", "BundleId": "com.example.app"}
    bad_pem = ("-----BEGIN PRIVATE KEY-----\nTm90QUtleU5vdEFLZXlOb3RBS2V5\n"
               "-----END PRIVATE KEY-----\n")
    cases = [
        ("update_apns_channel", "APNSChannelRequest",
         {"Certificate": "not a certificate", "PrivateKey": k["cert_key"]}, "Certificate"),
        ("update_apns_channel", "APNSChannelRequest",
         {"Certificate": k["cert"], "PrivateKey": "not a key"}, "PrivateKey"),
        ("update_apns_channel", "APNSChannelRequest",
         {"Certificate": k["cert"], "PrivateKey": k["other_key"]}, "PrivateKey"),
        ("update_apns_channel", "APNSChannelRequest", dict(ids, TokenKey=bad_pem), "TokenKey"),
        ("update_apns_channel", "APNSChannelRequest", dict(ids, TokenKey=k["token384"]),
         "TokenKey"),
        ("update_apns_sandbox_channel", "APNSSandboxChannelRequest",
         {"TokenKey": k["token"], "TokenKeyId": "ABC123DEFG", "BundleId": "com.x"}, "TeamId"),
        ("update_apns_voip_channel", "APNSVoipChannelRequest", {"Enabled": True},
         "Certificate"),
        ("update_apns_voip_sandbox_channel", "APNSVoipSandboxChannelRequest",
         dict(ids, TokenKey=k["token"], DefaultAuthenticationMethod="CERTIFICATE"),
         "DefaultAuthenticationMethod"),
        ("update_gcm_channel", "GCMChannelRequest",
         {"ServiceJson": json.dumps({x: y for x, y in k["service"].items()
                                     if x != "private_key"})}, "private_key"),
        ("update_gcm_channel", "GCMChannelRequest",
         {"ServiceJson": json.dumps(dict(k["service"], private_key=k["token"]))},
         "private_key"),
        ("update_gcm_channel", "GCMChannelRequest", {"ServiceJson": "{not json"},
         "ServiceJson"),
        ("update_gcm_channel", "GCMChannelRequest",
         {"ServiceJson": json.dumps({x: y for x, y in k["service"].items()
                                     if x != "client_email"})}, "client_email"),
        ("update_email_channel", "EmailChannelRequest",
         {"FromAddress": "not-an-address", "Identity": "x"}, "FromAddress"),
        ("update_sms_channel", "SMSChannelRequest", {"SenderId": "12345"}, "SenderId"),
        ("update_sms_channel", "SMSChannelRequest", {"ShortCode": "12"}, "ShortCode"),
        ("update_sms_channel", "SMSChannelRequest", {"SenderId": "WayTooLongSender"},
         "SenderId"),
    ]
    for method, member, req, field in cases:
        msg = expect_error("BadRequestException", method, field=field, ApplicationId=app,
                           **{member: req})
        assert_no_secrets(msg, f"{method} error message")
    loose_cases = [
        ("update_adm_channel", "ADMChannelRequest", {"ClientId": "id"}, "ClientSecret"),
        ("update_adm_channel", "ADMChannelRequest", {"ClientSecret": "s"}, "ClientId"),
        ("update_baidu_channel", "BaiduChannelRequest", {"ApiKey": "k"}, "SecretKey"),
        ("update_email_channel", "EmailChannelRequest", {"Identity": "x"}, "FromAddress"),
    ]
    for method, member, req, field in loose_cases:
        expect_error("BadRequestException", method, field=field, client=S.loose,
                     ApplicationId=app, **{member: req})
    # Wrong JSON types, which no SDK sends.
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/channels/sms",
                     {"Enabled": "yes"}, field="Enabled")
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/channels/gcm",
                     {"ServiceJson": k["service"]}, field="ServiceJson")
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/channels/adm",
                     {"ClientId": 5, "ClientSecret": "x"}, field="ClientId")
    # The error for a bad ServiceJson does not quote the key material it was given.
    leaky = json.dumps(k["service"])[:-1]  # truncated: not JSON, full of key material
    msg = expect_error("BadRequestException", "update_gcm_channel", field="ServiceJson",
                       ApplicationId=app, GCMChannelRequest={"ServiceJson": leaky})
    assert_no_secrets(msg, "ServiceJson parse error")
    # None of the refused updates created a channel.
    body, _ = call("get_channels", ApplicationId=app)
    assert body["Channels"] == {}, body
    # A refused update leaves the configured channel as it was.
    _, update, member, get, _, req = channel_by_type("APNS")
    ok, _ = call(update, ApplicationId=app, **{member: req})
    expect_error("BadRequestException", update, field="TokenKey", ApplicationId=app,
                 **{member: {"TokenKey": bad_pem}})
    after, _ = call(get, ApplicationId=app)
    assert after["Version"] == ok["Version"] and after["HasTokenKey"] is True


def test_channel_secrets_not_stored_in_clear():
    app = new_app("at rest")
    for t, update, member, _, _, req in channel_requests():
        call(update, ApplicationId=app, **{member: req})
    dump = []
    for key in app_keys(app):
        kind = S.redis.cli("TYPE", key).strip()
        if kind == "hash":
            dump.append(S.redis.cli("HGETALL", key))
        elif kind == "string":
            dump.append(S.redis.cli("GET", key))
    text = "\n".join(dump)
    assert text.strip(), "no channel records found in Redis"
    assert_no_secrets(text, "Redis (channel settings at rest)")


# ---------------------------------------------------------------------------------------------
# Endpoints.

ENDPOINT_MEMBERS = {"ChannelType", "Address", "EndpointStatus", "OptOut", "Location",
                    "Demographic", "EffectiveDate", "Attributes", "Metrics", "User",
                    "ApplicationId", "Id", "CohortId", "CreationDate"}


def test_endpoint_create_and_get():
    app = new_app("endpoints")
    put_endpoint(app, "ep-full", ChannelType="SMS", Address="+12065550100",
                 OptOut="NONE", RequestId="req-1", EffectiveDate="2026-01-31T12:00:00Z",
                 Location={"Latitude": 47.6, "Longitude": -122.3, "City": "Seattle",
                           "Region": "WA", "Country": "US", "PostalCode": "98101"},
                 Demographic={"Make": "Apple", "Model": "iPhone", "Platform": "ios",
                              "PlatformVersion": "17.1", "AppVersion": "1.2.3",
                              "Locale": "en_US", "Timezone": "America/Los_Angeles",
                              "ModelVersion": "15"},
                 Attributes={"Interests": ["Science", "Music"], "Empty": []},
                 Metrics={"visits": 3, "score": 2.5},
                 User={"UserId": "user-full", "UserAttributes": {"plan": ["pro"]}})
    ep = get_endpoint(app, "ep-full")
    raw = S.rec.json()
    missing = ENDPOINT_MEMBERS - set(raw)
    assert not missing, f"EndpointResponse misses {missing}: {raw}"
    assert ep["Id"] == "ep-full" and ep["ApplicationId"] == app
    assert ep["ChannelType"] == "SMS" and ep["Address"] == "+12065550100"
    assert ep["EndpointStatus"] == "ACTIVE" and ep["OptOut"] == "NONE"
    assert ep["RequestId"] == "req-1"
    assert ep["EffectiveDate"] == "2026-01-31T12:00:00Z"
    assert ep["Location"] == {"Latitude": 47.6, "Longitude": -122.3, "City": "Seattle",
                              "Region": "WA", "Country": "US", "PostalCode": "98101"}
    assert ep["Demographic"]["Make"] == "Apple" and ep["Demographic"]["ModelVersion"] == "15"
    assert ep["Demographic"]["Timezone"] == "America/Los_Angeles"
    assert ep["Attributes"] == {"Interests": ["Science", "Music"], "Empty": []}
    assert ep["Metrics"] == {"visits": 3.0, "score": 2.5}
    for v in raw["Metrics"].values():
        assert isinstance(v, (int, float)) and not isinstance(v, bool), raw["Metrics"]
    assert ep["User"] == {"UserId": "user-full", "UserAttributes": {"plan": ["pro"]}}
    assert ep["CohortId"].isdigit() and 0 <= int(ep["CohortId"]) <= 99, ep["CohortId"]
    assert ISO_RE.match(ep["CreationDate"]), ep["CreationDate"]
    # A minimal endpoint: defaults filled in.
    put_endpoint(app, "ep-min", ChannelType="EMAIL", Address="someone@example.com")
    ep = get_endpoint(app, "ep-min")
    assert ep["EndpointStatus"] == "ACTIVE" and ep["OptOut"] == "NONE"
    assert ISO_RE.match(ep["EffectiveDate"]), ep["EffectiveDate"]
    for ctype, addr in (("GCM", "fcm-token-" + "a" * 140), ("APNS", "ab" * 32),
                        ("APNS_SANDBOX", "cd" * 32), ("ADM", "amzn1.adm-registration.v3.xyz"),
                        ("BAIDU", "3785562685113372034")):
        put_endpoint(app, f"ep-{ctype.lower()}", ChannelType=ctype, Address=addr)
        got = get_endpoint(app, f"ep-{ctype.lower()}")
        assert got["ChannelType"] == ctype and got["Address"] == addr
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="nope")


def test_endpoint_merge_semantics():
    app = new_app("merge")
    put_endpoint(app, "m1", ChannelType="SMS", Address="+12065550101",
                 Attributes={"a": ["1"], "b": ["2"]}, Metrics={"visits": 3, "score": 2.5},
                 Demographic={"Platform": "ios", "Make": "Apple"},
                 Location={"City": "Seattle"},
                 User={"UserId": "merge-user", "UserAttributes": {"plan": ["pro"]}})
    first = get_endpoint(app, "m1")
    time.sleep(0.01)
    put_endpoint(app, "m1", Attributes={"b": ["3"], "c": ["4"]}, Metrics={"visits": 4},
                 Demographic={"AppVersion": "2.0"}, Location={"Country": "US"},
                 User={"UserAttributes": {"tier": ["gold"]}})
    ep = get_endpoint(app, "m1")
    assert ep["ChannelType"] == "SMS" and ep["Address"] == "+12065550101"
    assert ep["Attributes"] == {"a": ["1"], "b": ["3"], "c": ["4"]}, ep["Attributes"]
    assert ep["Metrics"] == {"visits": 4.0, "score": 2.5}, ep["Metrics"]
    assert ep["Demographic"] == {"Platform": "ios", "Make": "Apple", "AppVersion": "2.0"}, \
        ep["Demographic"]
    assert ep["Location"] == {"City": "Seattle", "Country": "US"}, ep["Location"]
    assert ep["User"] == {"UserId": "merge-user",
                          "UserAttributes": {"plan": ["pro"], "tier": ["gold"]}}, ep["User"]
    assert ep["CreationDate"] == first["CreationDate"], "CreationDate changed on update"
    assert ep["CohortId"] == first["CohortId"]
    # OptOut round-trips and sticks until changed.
    put_endpoint(app, "m1", OptOut="ALL")
    assert get_endpoint(app, "m1")["OptOut"] == "ALL"
    put_endpoint(app, "m1", Attributes={"d": ["5"]})
    assert get_endpoint(app, "m1")["OptOut"] == "ALL"
    put_endpoint(app, "m1", OptOut="NONE")
    assert get_endpoint(app, "m1")["OptOut"] == "NONE"
    # A merge that would pass 20 attributes is refused, and nothing of it is stored.
    many = {f"x{i}": ["v"] for i in range(17)}  # 4 stored + 17 new = 21
    expect_error("BadRequestException", "update_endpoint", field="Attributes",
                 ApplicationId=app, EndpointId="m1", EndpointRequest={"Attributes": many})
    assert len(get_endpoint(app, "m1")["Attributes"]) == 4


def test_endpoint_status_and_address():
    app = new_app("status")
    put_endpoint(app, "s1", ChannelType="SMS", Address="+12065550102")
    put_endpoint(app, "s1", EndpointStatus="INACTIVE")
    assert get_endpoint(app, "s1")["EndpointStatus"] == "INACTIVE"
    put_endpoint(app, "s1", Address="+12065550103")
    ep = get_endpoint(app, "s1")
    assert ep["Address"] == "+12065550103"
    assert ep["EndpointStatus"] == "ACTIVE", "a new Address did not reset EndpointStatus"
    # An explicit status in the same request wins.
    put_endpoint(app, "s1", Address="+12065550104", EndpointStatus="INACTIVE")
    assert get_endpoint(app, "s1")["EndpointStatus"] == "INACTIVE"
    # Changing the channel type with a matching address.
    put_endpoint(app, "s1", ChannelType="EMAIL", Address="moved@example.com")
    ep = get_endpoint(app, "s1")
    assert ep["ChannelType"] == "EMAIL" and ep["Address"] == "moved@example.com"
    assert ep["EndpointStatus"] == "ACTIVE"


def test_duplicate_address_deactivates_other_endpoint():
    """API reference, EndpointRequest.EndpointStatus: 'Amazon Pinpoint automatically sets this
    value to INACTIVE if you update another endpoint that has the same address specified by the
    Address property.'"""
    app = new_app("duplicate address")
    put_endpoint(app, "dup-a", ChannelType="GCM", Address="shared-registration-token")
    put_endpoint(app, "dup-other", ChannelType="GCM", Address="another-token")
    put_endpoint(app, "dup-b", ChannelType="GCM", Address="shared-registration-token")
    assert get_endpoint(app, "dup-b")["EndpointStatus"] == "ACTIVE"
    assert get_endpoint(app, "dup-other")["EndpointStatus"] == "ACTIVE"
    status = get_endpoint(app, "dup-a")["EndpointStatus"]
    assert status == "INACTIVE", \
        f"dup-a still {status} after dup-b was updated with the same Address"


def test_duplicate_address_in_a_batch_deactivates_the_earlier_holder():
    """The same rule for UpdateEndpointsBatch: a batch item takes an address a stored endpoint
    holds, and of two items with one address the later wins (imports: test_import_export)."""
    app = new_app("duplicate address batch")
    put_endpoint(app, "held", ChannelType="GCM", Address="token-held-before")
    call("update_endpoints_batch", ApplicationId=app, EndpointBatchRequest={"Item": [
        {"Id": "taker", "ChannelType": "GCM", "Address": "token-held-before"},
        {"Id": "first", "ChannelType": "GCM", "Address": "token-twice-in-batch"},
        {"Id": "second", "ChannelType": "GCM", "Address": "token-twice-in-batch"},
        {"Id": "alone", "ChannelType": "GCM", "Address": "token-alone"}]})
    status = {e: get_endpoint(app, e)["EndpointStatus"]
              for e in ("held", "taker", "first", "second", "alone")}
    assert status == {"held": "INACTIVE", "taker": "ACTIVE", "first": "INACTIVE",
                      "second": "ACTIVE", "alone": "ACTIVE"}, status
    # Written again with its own address, an endpoint does not deactivate itself.
    call("update_endpoints_batch", ApplicationId=app, EndpointBatchRequest={"Item": [
        {"Id": "alone", "ChannelType": "GCM", "Address": "token-alone"}]})
    assert get_endpoint(app, "alone")["EndpointStatus"] == "ACTIVE"


def test_endpoint_ids_case_insensitive():
    """API reference, endpoint-id: 'The case insensitive unique identifier for the endpoint.'"""
    app = new_app("case")
    put_endpoint(app, "Mixed-Case-EP", ChannelType="SMS", Address="+12065550105")
    try:
        ep = get_endpoint(app, "mixed-case-ep")
    except ClientError as e:
        raise AssertionError("GetEndpoint 'mixed-case-ep' after UpdateEndpoint 'Mixed-Case-EP' "
                             f"answered {e.response['Error']['Code']}: "
                             f"{e.response['Error']['Message']}") from None
    assert ep["Address"] == "+12065550105"
    put_endpoint(app, "MIXED-CASE-EP", Attributes={"k": ["v"]})
    ep = get_endpoint(app, "Mixed-Case-EP")
    assert ep["Attributes"] == {"k": ["v"]}, "an update through another case made a second " \
                                             "endpoint"


def test_user_endpoints_index():
    app = new_app("users")
    put_endpoint(app, "u-e1", ChannelType="SMS", Address="+12065550110", User={"UserId": "alice"})
    put_endpoint(app, "u-e2", ChannelType="EMAIL", Address="alice@example.com",
                 User={"UserId": "alice"})
    put_endpoint(app, "u-e3", ChannelType="SMS", Address="+12065550111", User={"UserId": "bob"})
    put_endpoint(app, "u-e4", ChannelType="SMS", Address="+12065550112")  # no user
    put_endpoint(app, "u-e5", ChannelType="SMS", Address="+12065550113",
                 User={"UserId": "alice-2"})  # a prefix-sharing id must not mix
    assert user_endpoint_ids(app, "alice") == ["u-e1", "u-e2"]
    assert user_endpoint_ids(app, "bob") == ["u-e3"]
    assert user_endpoint_ids(app, "alice-2") == ["u-e5"]
    body, raw = call("get_user_endpoints", ApplicationId=app, UserId="alice")
    for ep in raw["Item"]:
        assert ENDPOINT_MEMBERS <= set(ep), ep
        assert ep["User"]["UserId"] == "alice"
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId="carol")
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId="ali")

    # Moving an endpoint to another user updates both users.
    put_endpoint(app, "u-e2", User={"UserId": "bob"})
    assert user_endpoint_ids(app, "alice") == ["u-e1"]
    assert user_endpoint_ids(app, "bob") == ["u-e2", "u-e3"]
    assert get_endpoint(app, "u-e2")["Address"] == "alice@example.com"
    # Giving an endpoint without a user a user.
    put_endpoint(app, "u-e4", User={"UserId": "alice"})
    assert user_endpoint_ids(app, "alice") == ["u-e1", "u-e4"]
    # Moving a user's only endpoint away leaves the user with none.
    put_endpoint(app, "u-e5", User={"UserId": "bob"})
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId="alice-2")
    assert user_endpoint_ids(app, "bob") == ["u-e2", "u-e3", "u-e5"]
    # Deleting an endpoint takes it out of its user's list.
    call("delete_endpoint", ApplicationId=app, EndpointId="u-e3")
    assert user_endpoint_ids(app, "bob") == ["u-e2", "u-e5"]


def test_delete_user_endpoints():
    app = new_app("delete users")
    for i in range(3):
        put_endpoint(app, f"d-{i}", ChannelType="SMS", Address=f"+1206555012{i}",
                     User={"UserId": "dora"}, Attributes={"n": [str(i)]})
    put_endpoint(app, "d-other", ChannelType="SMS", Address="+12065550129",
                 User={"UserId": "dan"})
    body, raw = call("delete_user_endpoints", ApplicationId=app, UserId="dora")
    assert sorted(e["Id"] for e in body["Item"]) == ["d-0", "d-1", "d-2"], body
    for ep in raw["Item"]:
        assert ENDPOINT_MEMBERS <= set(ep), ep
        assert ep["Attributes"]["n"] == [ep["Id"][-1]] and ep["User"]["UserId"] == "dora"
    for i in range(3):
        expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId=f"d-{i}")
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId="dora")
    expect_error("NotFoundException", "delete_user_endpoints", ApplicationId=app, UserId="dora")
    assert user_endpoint_ids(app, "dan") == ["d-other"]
    assert get_endpoint(app, "d-other")["Address"] == "+12065550129"


def test_update_endpoints_batch():
    app = new_app("batch")
    put_endpoint(app, "b-existing", ChannelType="SMS", Address="+12065550130",
                 Attributes={"keep": ["yes"]})
    items = [
        {"Id": "b-1", "ChannelType": "SMS", "Address": "+12065550131",
         "User": {"UserId": "batch-user"}, "Metrics": {"m": 1}},
        {"Id": "b-2", "ChannelType": "EMAIL", "Address": "b2@example.com",
         "User": {"UserId": "batch-user"}, "OptOut": "ALL"},
        {"Id": "b-3", "ChannelType": "GCM", "Address": "gcm-token-b3",
         "Demographic": {"Platform": "android"}},
        {"Id": "b-existing", "Attributes": {"added": ["1"]}},
    ]
    body, raw = call("update_endpoints_batch", ApplicationId=app,
                     EndpointBatchRequest={"Item": items})
    assert body["Message"] and body["RequestID"], body
    assert get_endpoint(app, "b-1")["Metrics"] == {"m": 1.0}
    assert get_endpoint(app, "b-2")["OptOut"] == "ALL"
    assert get_endpoint(app, "b-3")["Demographic"] == {"Platform": "android"}
    assert get_endpoint(app, "b-existing")["Attributes"] == {"keep": ["yes"], "added": ["1"]}
    assert user_endpoint_ids(app, "batch-user") == ["b-1", "b-2"]
    # 100 items is the limit.
    hundred = [{"Id": f"h-{i}", "ChannelType": "SMS", "Address": f"+1206555{i:04d}"}
               for i in range(100)]
    call("update_endpoints_batch", ApplicationId=app, EndpointBatchRequest={"Item": hundred})
    assert get_endpoint(app, "h-99")["Address"] == "+12065550099"
    assert get_endpoint(app, "h-0")["Address"] == "+12065550000"


def test_batch_validation():
    app = new_app("batch validation")
    too_many = [{"Id": f"t-{i}", "ChannelType": "SMS", "Address": "+12065550140"}
                for i in range(101)]
    expect_error("BadRequestException", "update_endpoints_batch", field="Item",
                 ApplicationId=app, EndpointBatchRequest={"Item": too_many})
    expect_error("BadRequestException", "update_endpoints_batch", field="Item",
                 ApplicationId=app, EndpointBatchRequest={"Item": []})
    bad = [{"Id": "v-0", "ChannelType": "SMS", "Address": "+12065550141"},
           {"Id": "v-1", "ChannelType": "SMS", "Address": "2065550142"}]
    msg = expect_error("BadRequestException", "update_endpoints_batch", field="Address",
                       ApplicationId=app, EndpointBatchRequest={"Item": bad})
    assert "1" in msg, f"the message does not say which item: {msg!r}"
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="v-0")
    expect_error("BadRequestException", "update_endpoints_batch", field="Id",
                 ApplicationId=app, EndpointBatchRequest={"Item": [
                     {"ChannelType": "SMS", "Address": "+12065550143"}]})
    expect_error("BadRequestException", "update_endpoints_batch", field="OptOut",
                 ApplicationId=app, EndpointBatchRequest={"Item": [
                     {"Id": "v-2", "ChannelType": "SMS", "Address": "+12065550144",
                      "OptOut": "MAYBE"}]})
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/endpoints",
                     {"Item": "v-3"}, field="Item")


def test_batch_refused_writes_nothing():
    """An UpdateEndpointsBatch answered with 400 must not have written any of its items, also
    when the bad item is only found bad against what is stored (a new endpoint without a
    ChannelType, an attribute limit passed by merging)."""
    app = new_app("batch atomic")
    msg = expect_error("BadRequestException", "update_endpoints_batch", field="ChannelType",
                       ApplicationId=app, EndpointBatchRequest={"Item": [
                           {"Id": "a-0", "ChannelType": "SMS", "Address": "+12065550145"},
                           {"Id": "a-1", "Address": "+12065550146"}]})
    assert "Item[1]" in msg, msg
    assert_absent(app, "a-0", "the refused batch wrote its item 0")
    put_endpoint(app, "a-full", ChannelType="SMS", Address="+12065550147",
                 Attributes={f"a{i}": ["v"] for i in range(20)})
    expect_error("BadRequestException", "update_endpoints_batch", field="Attributes",
                 ApplicationId=app, EndpointBatchRequest={"Item": [
                     {"Id": "a-2", "ChannelType": "SMS", "Address": "+12065550148"},
                     {"Id": "a-full", "Attributes": {"one-more": ["x"]}}]})
    assert_absent(app, "a-2", "the refused batch wrote its item 0")


def test_delete_endpoint():
    app = new_app("delete endpoint")
    put_endpoint(app, "gone", ChannelType="EMAIL", Address="gone@example.com",
                 Attributes={"a": ["b"]}, User={"UserId": "ghost"})
    ep, raw = call("delete_endpoint", ApplicationId=app, EndpointId="gone")
    assert ENDPOINT_MEMBERS <= set(raw), raw
    assert ep["Id"] == "gone" and ep["Address"] == "gone@example.com"
    assert ep["Attributes"] == {"a": ["b"]} and ep["User"]["UserId"] == "ghost"
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="gone")
    expect_error("NotFoundException", "delete_endpoint", ApplicationId=app, EndpointId="gone")
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId="ghost")
    # The id can be used again: a new endpoint, with nothing of the old one.
    put_endpoint(app, "gone", ChannelType="SMS", Address="+12065550150")
    ep = get_endpoint(app, "gone")
    assert ep["Attributes"] == {} and ep["User"].get("UserId") is None, ep


def test_remove_attributes():
    app = new_app("remove attributes")
    put_endpoint(app, "r1", ChannelType="SMS", Address="+12065550160",
                 Attributes={"color": ["red"], "size": ["L"]}, Metrics={"clicks": 2},
                 User={"UserId": "ruth", "UserAttributes": {"plan": ["pro"]}})
    for attr_type, names in (("endpoint-custom-attributes", ["color"]),
                             ("endpoint-metric-attributes", ["clicks"]),
                             ("endpoint-user-attributes", ["plan"])):
        res, raw = call("remove_attributes", ApplicationId=app, AttributeType=attr_type,
                        UpdateAttributesRequest={"Blacklist": names})
        assert set(raw) >= {"ApplicationId", "AttributeType"}, raw
        assert res["ApplicationId"] == app and res["AttributeType"] == attr_type, res
        assert isinstance(res.get("Attributes", []), list)
        assert all(isinstance(n, str) for n in res.get("Attributes", []))
    # New values for removed attributes are no longer captured; others still are.
    put_endpoint(app, "r2", ChannelType="SMS", Address="+12065550161",
                 Attributes={"color": ["blue"], "shape": ["round"]},
                 Metrics={"clicks": 5, "views": 1},
                 User={"UserId": "rita", "UserAttributes": {"plan": ["free"], "age": ["30"]}})
    ep = get_endpoint(app, "r2")
    assert ep["Attributes"] == {"shape": ["round"]}, ep["Attributes"]
    assert ep["Metrics"] == {"views": 1.0}, ep["Metrics"]
    assert ep["User"]["UserAttributes"] == {"age": ["30"]}, ep["User"]
    expect_error("BadRequestException", "remove_attributes", field="attribute-type",
                 ApplicationId=app, AttributeType="endpoint-everything",
                 UpdateAttributesRequest={"Blacklist": ["x"]})
    expect_raw_error(400, "BadRequestException", "PUT",
                     f"/v1/apps/{app}/attributes/endpoint-custom-attributes",
                     {"Blacklist": "color"}, field="Blacklist")


def test_remove_attributes_glob():
    """API reference, UpdateAttributesRequest.Blacklist: 'The array can specify the complete,
    exact name of each attribute to remove or it can specify a glob pattern that an attribute
    name must match in order for the attribute to be removed.'"""
    app = new_app("remove attributes glob")
    call("remove_attributes", ApplicationId=app, AttributeType="endpoint-custom-attributes",
         UpdateAttributesRequest={"Blacklist": ["tmp_*"]})
    put_endpoint(app, "g1", ChannelType="SMS", Address="+12065550162",
                 Attributes={"tmp_session": ["x"], "tmp_cart": ["y"], "keep": ["z"]})
    ep = get_endpoint(app, "g1")
    assert ep["Attributes"] == {"keep": ["z"]}, \
        f"attributes matching the glob 'tmp_*' were captured: {ep['Attributes']}"


def test_endpoint_validation():
    app = new_app("endpoint validation")
    base = {"ChannelType": "SMS", "Address": "+12065550170"}
    cases = [
        (dict(base, ChannelType="FOO"), "ChannelType"),
        (dict(base, OptOut="MAYBE"), "OptOut"),
        (dict(base, EndpointStatus="PAUSED"), "EndpointStatus"),
        (dict(base, Address="2065550170"), "Address"),
        (dict(base, Address="+1 206 555 0170"), "Address"),
        (dict(base, Address="+1206555017012345678"), "Address"),
        ({"ChannelType": "EMAIL", "Address": "not-an-email"}, "Address"),
        ({"ChannelType": "APNS", "Address": "not hex!"}, "Address"),
        (dict(base, Attributes={f"a{i}": ["v"] for i in range(21)}), "Attributes"),
        (dict(base, Metrics={f"m{i}": 1 for i in range(21)}), "Metrics"),
        (dict(base, User={"UserId": "u", "UserAttributes": {f"u{i}": ["v"] for i in range(21)}}),
         "UserAttributes"),
        (dict(base, Attributes={"a" * 51: ["v"]}), "Attributes"),
        (dict(base, Attributes={"long": ["v" * 101]}), "Attributes.long"),
        (dict(base, Location={"Latitude": 91.0, "Longitude": 0.0}), "Location.Latitude"),
        (dict(base, Location={"Latitude": 10.0}), "Location.Longitude"),
        (dict(base, Demographic={"Make": "M" * 51}), "Demographic.Make"),
        (dict(base, EffectiveDate="yesterday"), "EffectiveDate"),
        ({"ChannelType": "SMS"}, "Address"),
        ({"Address": "+12065550170"}, "ChannelType"),
        (dict(base, ChannelType="VOICE"), "ChannelType"),
    ]
    for req, field in cases:
        expect_error("BadRequestException", "update_endpoint", field=field, ApplicationId=app,
                     EndpointId="bad", EndpointRequest=req)
    expect_error("BadRequestException", "update_endpoint", field="endpoint-id",
                 ApplicationId=app, EndpointId="has$dollar", EndpointRequest=base)
    expect_error("BadRequestException", "update_endpoint", field="endpoint-id",
                 ApplicationId=app, EndpointId="x" * 129, EndpointRequest=base)
    path = f"/v1/apps/{app}/endpoints/bad"
    raw_cases = [
        (dict(base, Address=12065550170), "Address"),
        (dict(base, Attributes={"a": "not a list"}), "Attributes.a"),
        (dict(base, Attributes={"a": [1, 2]}), "Attributes.a"),
        (dict(base, Metrics={"m": "high"}), "Metrics.m"),
        (dict(base, Location={"Latitude": "north", "Longitude": 1}), "Location.Latitude"),
        (dict(base, Demographic="iphone"), "Demographic"),
        (dict(base, User={"UserId": 42}), "User.UserId"),
        (dict(base, OptOut=True), "OptOut"),
    ]
    for body, field in raw_cases:
        expect_raw_error(400, "BadRequestException", "PUT", path, body, field=field)
    # Nothing was created by the refused requests.
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="bad")


def test_get_apps_paging_while_deleting():
    """A cleanup script pages through GetApps and deletes what it has seen; every app must
    still be visited exactly once (the next-page token must not be a plain offset that
    deletions shift)."""
    mine = set(new_app(f"cleanup-{i}") for i in range(6))
    seen, token, pages = [], None, 0
    while True:
        kwargs = {"PageSize": "3"}
        if token:
            kwargs["Token"] = token
        body, _ = call("get_apps", **kwargs)
        pages += 1
        page_ids = [a["Id"] for a in body["Item"]]
        seen += page_ids
        for app_id in page_ids:
            if app_id in mine:
                call("delete_app", ApplicationId=app_id)
        token = body.get("NextToken")
        if not token or pages > 50:
            break
    missed = mine - set(seen)
    assert not missed, f"paging while deleting skipped {len(missed)} of 6 apps"
    assert len(seen) == len(set(seen)), "an app came back twice"


def test_endpoint_ids_with_reserved_characters():
    app = new_app("reserved characters")
    for i, eid in enumerate(["a/b", "with space", "caf\u00e9", "plus+sign", "pct%41",
                             "q?x=1", "hash#1", "..", "a&b=c", "star*", "colon:x"]):
        put_endpoint(app, eid, ChannelType="SMS", Address=f"+1206555019{i % 10}",
                     User={"UserId": "user " + eid})
        ep = get_endpoint(app, eid)
        assert ep["Id"] == eid and ep["User"]["UserId"] == "user " + eid, (eid, ep)
        assert user_endpoint_ids(app, "user " + eid) == [eid]
    gone, _ = call("delete_endpoint", ApplicationId=app, EndpointId="a/b")
    assert gone["Id"] == "a/b"
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="a/b")
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="a")
    body, _ = call("delete_user_endpoints", ApplicationId=app, UserId="user q?x=1")
    assert [e["Id"] for e in body["Item"]] == ["q?x=1"]


def test_concurrent_updates_keep_every_change():
    """Writers racing on one endpoint: every accepted change survives and the user index ends
    consistent (each endpoint listed under its final user only)."""
    import threading
    app = new_app("concurrency")
    put_endpoint(app, "hot", ChannelType="SMS", Address="+12065550200",
                 User={"UserId": "owner-0"})
    clients = [S.daemon.client() for _ in range(4)]
    errors = []

    def writer(n, client):
        try:
            for k in range(5):
                client.update_endpoint(ApplicationId=app, EndpointId="hot", EndpointRequest={
                    "Metrics": {f"w{n}k{k}": n * 10 + k},
                    "User": {"UserId": f"owner-{(n + k) % 3}"}})
        except Exception as e:  # noqa: BLE001
            errors.append(f"writer {n}: {e}")

    threads = [threading.Thread(target=writer, args=(n, c)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    ep = get_endpoint(app, "hot")
    assert len(ep["Metrics"]) == 20, f"lost updates: {sorted(ep['Metrics'])}"
    final = ep["User"]["UserId"]
    for u in ("owner-0", "owner-1", "owner-2"):
        if u == final:
            assert user_endpoint_ids(app, u) == ["hot"]
        else:
            expect_error("NotFoundException", "get_user_endpoints", ApplicationId=app, UserId=u)


# ---------------------------------------------------------------------------------------------
# Errors every client sees.

def test_missing_app_is_not_found():
    app = "0" * 32
    calls = [
        ("get_app", {}), ("delete_app", {}), ("get_application_settings", {}),
        ("update_application_settings",
         {"WriteApplicationSettingsRequest": {"Limits": {"Daily": 1}}}),
        ("get_channels", {}), ("get_apns_channel", {}), ("get_gcm_channel", {}),
        ("delete_email_channel", {}),
        ("update_sms_channel", {"SMSChannelRequest": {"SenderId": "Repoint"}}),
        ("update_endpoint", {"EndpointId": "e", "EndpointRequest": {
            "ChannelType": "SMS", "Address": "+12065550180"}}),
        ("update_endpoints_batch", {"EndpointBatchRequest": {"Item": [
            {"Id": "e", "ChannelType": "SMS", "Address": "+12065550180"}]}}),
        ("get_endpoint", {"EndpointId": "e"}), ("delete_endpoint", {"EndpointId": "e"}),
        ("remove_attributes", {"AttributeType": "endpoint-custom-attributes",
                               "UpdateAttributesRequest": {"Blacklist": ["a"]}}),
        ("get_user_endpoints", {"UserId": "u"}), ("delete_user_endpoints", {"UserId": "u"}),
    ]
    for method, kwargs in calls:
        expect_error("NotFoundException", method, ApplicationId=app, **kwargs)
    # Nothing was written for the missing app.
    assert not app_keys(app), app_keys(app)
    # A real app with unconfigured channels, unknown endpoints and users.
    real = new_app("not found")
    for method in ("get_apns_channel", "get_sms_channel", "delete_baidu_channel"):
        expect_error("NotFoundException", method, ApplicationId=real)
    expect_error("NotFoundException", "get_endpoint", ApplicationId=real, EndpointId="none")
    expect_error("NotFoundException", "delete_endpoint", ApplicationId=real, EndpointId="none")
    expect_error("NotFoundException", "get_user_endpoints", ApplicationId=real, UserId="none")
    expect_error("NotFoundException", "delete_user_endpoints", ApplicationId=real,
                 UserId="none")


def test_out_of_scope_operations():
    app = new_app("scope")
    expect_error("NotFoundException", "list_journeys", ApplicationId=app)
    expect_error("NotFoundException", "create_journey", ApplicationId=app,
                 WriteJourneyRequest={"Name": "j"})
    expect_error("NotFoundException", "phone_number_validate",
                 NumberValidateRequest={"PhoneNumber": "+12065550100"})
    expect_error("NotFoundException", "get_recommender_configurations")
    expect_error("NotFoundException", "get_voice_channel", ApplicationId=app)
    expect_error("NotFoundException", "update_voice_channel", ApplicationId=app,
                 VoiceChannelRequest={"Enabled": True})
    expect_error("NotFoundException", "get_in_app_messages", ApplicationId=app,
                 EndpointId="e")


def test_method_not_allowed():
    app = new_app("methods")
    for method, path in (("POST", f"/v1/apps/{app}"), ("PATCH", f"/v1/apps/{app}/settings"),
                         ("POST", f"/v1/apps/{app}/endpoints/e1"),
                         ("DELETE", "/v1/apps"), ("POST", f"/v1/apps/{app}/channels/sms"),
                         ("GET", f"/v1/apps/{app}/endpoints"),
                         ("GET", f"/v1/apps/{app}/attributes/endpoint-custom-attributes")):
        expect_raw_error(405, "MethodNotAllowedException", method, path, {} if method in
                         ("POST", "PATCH") else None)
    # The app is untouched.
    call("get_app", ApplicationId=app)


def test_malformed_bodies():
    app = new_app("malformed")
    ep = f"/v1/apps/{app}/endpoints/m1"
    expect_raw_error(400, "BadRequestException", "PUT", ep, "{not json")
    expect_raw_error(400, "BadRequestException", "PUT", ep, b"")
    expect_raw_error(400, "BadRequestException", "PUT", ep, [1, 2])
    expect_raw_error(400, "BadRequestException", "PUT", ep,
                     '{"ChannelType":"SMS","ChannelType":"SMS"}')
    expect_raw_error(400, "BadRequestException", "POST", "/v1/apps", "\"just a string\"")
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/settings", "{")
    expect_raw_error(400, "BadRequestException", "PUT", f"/v1/apps/{app}/channels/sms", "[]")
    expect_error("NotFoundException", "get_endpoint", ApplicationId=app, EndpointId="m1")
    expect_error("BadRequestException", "get_apps", PageSize="0")
    expect_error("BadRequestException", "get_apps", PageSize="many")
    expect_error("BadRequestException", "get_apps", Token="not-a-token")


def test_bad_signature_is_forbidden():
    bad = S.daemon.client(secret_key="wrong-secret-0000000000000000000000000000")
    S.rec.attach(bad)
    expect_error("ForbiddenException", "get_apps", client=bad)
    unknown = S.daemon.client(access_key="AKRPUNKNOWN000000000")
    S.rec.attach(unknown)
    expect_error("ForbiddenException", "create_app", client=unknown,
                 CreateApplicationRequest={"Name": "no"})


TESTS = [
    test_create_and_get_app,
    test_get_apps_paging,
    test_get_apps_paging_while_deleting,
    test_app_validation,
    test_delete_app_removes_everything,
    test_settings_defaults_and_merge,
    test_settings_validation,
    test_channels_roundtrip_every_type,
    test_get_channels_lists_configured,
    test_channel_disable_keeps_credentials,
    test_delete_channel,
    test_channel_validation,
    test_channel_secrets_not_stored_in_clear,
    test_endpoint_create_and_get,
    test_endpoint_merge_semantics,
    test_endpoint_status_and_address,
    test_duplicate_address_deactivates_other_endpoint,
    test_duplicate_address_in_a_batch_deactivates_the_earlier_holder,
    test_endpoint_ids_case_insensitive,
    test_endpoint_ids_with_reserved_characters,
    test_concurrent_updates_keep_every_change,
    test_user_endpoints_index,
    test_delete_user_endpoints,
    test_update_endpoints_batch,
    test_batch_validation,
    test_batch_refused_writes_nothing,
    test_delete_endpoint,
    test_remove_attributes,
    test_remove_attributes_glob,
    test_endpoint_validation,
    test_missing_app_is_not_found,
    test_out_of_scope_operations,
    test_method_not_allowed,
    test_malformed_bodies,
    test_bad_signature_is_forbidden,
]


def main():
    import shutil
    S.keys = make_keys()
    code = 1
    try:
        with harness.stack() as (redis, daemon):
            S.redis, S.daemon = redis, daemon
            S.c = daemon.client()
            S.loose = _loose_client(daemon)
            S.rec = Recorder()
            S.rec.attach(S.c)
            S.rec.attach(S.loose)
            try:
                harness.run_tests(TESTS)
            except SystemExit as e:
                code = e.code
            if code:
                sys.stderr.write("---- repoint log (tail) ----\n" + daemon.logs()[-6000:] + "\n")
    finally:
        shutil.rmtree(S.keys["dir"], ignore_errors=True)
    sys.exit(code)


def _loose_client(daemon):
    import boto3
    return boto3.client(
        "pinpoint", endpoint_url=daemon.url, region_name=harness.REGION,
        aws_access_key_id=harness.ACCESS_KEY, aws_secret_access_key=harness.SECRET_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5,
                      read_timeout=30, parameter_validation=False))


if __name__ == "__main__":
    main()
