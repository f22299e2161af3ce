"""The MessagesPerSecond override of one app on one channel, through signed HTTP: PUT, GET and
DELETE /repoint/v1/apps/{id}/channels/{channel}/limits, its validation, its 404s and 403s, and
the three sources it reports (the config's limits.<channel>.messages_per_second, the app's
Limits.MessagesPerSecond from UpdateApplicationSettings, and the override itself)."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402

OTHER_KEY = "AKRPTESTOTHERAPP0001"
OTHER_SECRET = "other-app-secret-0123456789abcdefghijklm"
CONFIG_SMS = 500
state = {}


def call(method, app, channel, body=None, raw=None, **kw):
    path = f"/repoint/v1/apps/{app}/channels/{channel}/limits"
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return harness.signed_request(state["daemon"].url, method, path, body=data, **kw)


def ok(method, channel="sms", body=None, app=None):
    status, _, resp = call(method, app or state["app"], channel, body)
    assert status == 200, (method, channel, body, status, resp)
    return resp


def expect(resp, channel_type, override, effective, config, application):
    assert resp["ApplicationId"] == state["app"], resp
    assert resp["ChannelType"] == channel_type, resp
    assert resp["MessagesPerSecond"] == override, resp
    assert resp["EffectiveMessagesPerSecond"] == effective, resp
    assert resp["Sources"] == {"Config": config, "Application": application,
                               "Override": override or 0}, resp


def test_defaults_come_from_the_config():
    expect(ok("GET"), "SMS", None, CONFIG_SMS, CONFIG_SMS, 0)
    # No config limit on email: unlimited.
    expect(ok("GET", "email"), "EMAIL", None, 0, 0, 0)
    expect(ok("GET", "apns_voip_sandbox"), "APNS_VOIP_SANDBOX", None, 0, 0, 0)


def test_put_get_delete_override():
    expect(ok("PUT", body={"MessagesPerSecond": 40}), "SMS", 40, 40, CONFIG_SMS, 0)
    expect(ok("GET"), "SMS", 40, 40, CONFIG_SMS, 0)
    # Per channel: the SMS override leaves email alone.
    expect(ok("GET", "email"), "EMAIL", None, 0, 0, 0)
    expect(ok("PUT", "email", {"MessagesPerSecond": 20000}), "EMAIL", 20000, 20000, 0, 0)
    expect(ok("PUT", "email", {"MessagesPerSecond": 1, "Ignored": "x"}), "EMAIL", 1, 1, 0, 0)
    # The override only lowers the effective limit: above the config, the config still wins.
    expect(ok("PUT", body={"MessagesPerSecond": 900}), "SMS", 900, CONFIG_SMS, CONFIG_SMS, 0)
    expect(ok("DELETE"), "SMS", None, CONFIG_SMS, CONFIG_SMS, 0)
    expect(ok("GET"), "SMS", None, CONFIG_SMS, CONFIG_SMS, 0)
    # null clears too.
    expect(ok("PUT", "email", {"MessagesPerSecond": None}), "EMAIL", None, 0, 0, 0)
    expect(ok("GET", "email"), "EMAIL", None, 0, 0, 0)
    # Clearing what is not set is not an error.
    expect(ok("DELETE", "email"), "EMAIL", None, 0, 0, 0)


def test_bad_bodies_are_400_naming_the_field():
    for body in ({}, {"MessagesPerSecond": 0}, {"MessagesPerSecond": -5},
                 {"MessagesPerSecond": 20001}, {"MessagesPerSecond": "10"},
                 {"MessagesPerSecond": 1.5}, {"MessagesPerSecond": True},
                 {"MessagesPerSecond": [10]}, {"messagespersecond": 10}):
        status, headers, resp = call("PUT", state["app"], "sms", body)
        assert status == 400, (body, status, resp)
        assert headers.get("x-amzn-errortype") == "BadRequestException", headers
        assert "MessagesPerSecond" in resp["Message"], (body, resp)
    for raw in (b"not json", b"[1, 2]", b"12"):
        status, _, resp = call("PUT", state["app"], "sms", raw=raw)
        assert status == 400, (raw, status, resp)
    # Nothing was stored by the refused requests.
    expect(ok("GET"), "SMS", None, CONFIG_SMS, CONFIG_SMS, 0)


def test_unknown_app_or_channel_is_404():
    missing = "0123456789abcdef0123456789abcdef"
    for method, app, channel, body in (
            ("GET", missing, "sms", None), ("PUT", missing, "sms", {"MessagesPerSecond": 5}),
            ("DELETE", missing, "sms", None), ("GET", state["app"], "fax", None),
            ("PUT", state["app"], "fax", {"MessagesPerSecond": 5}),
            ("DELETE", state["app"], "SMSX", None)):
        status, headers, resp = call(method, app, channel, body)
        assert status == 404, (method, app, channel, status, resp)
        assert headers.get("x-amzn-errortype") == "NotFoundException", headers


def test_key_scoped_to_another_app_is_403():
    for method, body in (("GET", None), ("PUT", {"MessagesPerSecond": 5}), ("DELETE", None)):
        status, headers, resp = call(method, state["app"], "sms", body, access_key=OTHER_KEY,
                                     secret_key=OTHER_SECRET)
        assert status == 403, (method, status, resp)
    status, _, resp = call("GET", state["app"], "sms", sign=False)
    assert status == 403, (status, resp)
    expect(ok("GET"), "SMS", None, CONFIG_SMS, CONFIG_SMS, 0)


def test_application_source_follows_settings():
    c = state["daemon"].client()
    app = state["app"]
    c.update_application_settings(ApplicationId=app, WriteApplicationSettingsRequest={
        "Limits": {"MessagesPerSecond": 300, "Daily": 10}})
    expect(ok("GET"), "SMS", None, 300, CONFIG_SMS, 300)
    expect(ok("GET", "email"), "EMAIL", None, 300, 0, 300)
    # The lowest of the three applies, whichever it is.
    expect(ok("PUT", body={"MessagesPerSecond": 100}), "SMS", 100, 100, CONFIG_SMS, 300)
    c.update_application_settings(ApplicationId=app, WriteApplicationSettingsRequest={
        "Limits": {"MessagesPerSecond": 50}})
    expect(ok("GET"), "SMS", 100, 50, CONFIG_SMS, 50)
    # A settings update that does not name Limits keeps them (UpdateApplicationSettings merges).
    c.update_application_settings(ApplicationId=app, WriteApplicationSettingsRequest={
        "CloudWatchMetricsEnabled": False})
    expect(ok("GET"), "SMS", 100, 50, CONFIG_SMS, 50)
    got = c.get_application_settings(ApplicationId=app)["ApplicationSettingsResource"]
    assert got["Limits"]["MessagesPerSecond"] == 50, got
    expect(ok("DELETE"), "SMS", None, 50, CONFIG_SMS, 50)


def test_deleted_app_is_404():
    c = state["daemon"].client()
    app = c.create_app(CreateApplicationRequest={"Name": "short-lived"})["ApplicationResponse"]
    assert ok("PUT", body={"MessagesPerSecond": 7}, app=app["Id"])["MessagesPerSecond"] == 7
    c.delete_app(ApplicationId=app["Id"])
    status, _, resp = call("GET", app["Id"], "sms")
    assert status == 404, (status, resp)


def main():
    with harness.stack(
            extra_keys=[f"{OTHER_KEY} {OTHER_SECRET} ffffffffffffffffffffffffffffffff"],
            env={"REPOINT_LIMITS_SMS_MESSAGES_PER_SECOND": str(CONFIG_SMS)}) as (redis, daemon):
        app = daemon.client().create_app(CreateApplicationRequest={"Name": "limits"})
        state.update(redis=redis, daemon=daemon, app=app["ApplicationResponse"]["Id"])
        harness.run_tests([
            test_defaults_come_from_the_config, test_put_get_delete_override,
            test_bad_bodies_are_400_naming_the_field, test_unknown_app_or_channel_is_404,
            test_key_scoped_to_another_app_is_403, test_application_source_follows_settings,
            test_deleted_app_is_404,
        ])


if __name__ == "__main__":
    main()
