"""PutEvents through the real AWS CLI and boto3: endpoint data merged into the stored endpoint as
UpdateEndpoint merges it, each event recorded on rp:events in Pinpoint's event stream shape and
forwarded to the app's event stream destination; an event or endpoint that does not fit is
answered 400 in Results while the rest of the batch is taken; a malformed batch is refused whole
and changes nothing."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

state = {}
ROLE = "arn:aws:iam::123456789012:role/events"
TOKEN = "ab" * 32


def new_app(name):
    return state["client"].create_app(
        CreateApplicationRequest={"Name": name})["ApplicationResponse"]["Id"]


def app_events(app):
    return [e for e in state["redis"].events() if e["application"]["app_id"] == app]


def stream_events(key):
    lines = state["redis"].cli("XRANGE", key, "-", "+").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_cli_records_events_and_updates_the_endpoint():
    app = new_app("cli")
    batch = {"BatchItem": {"phone-1": {
        "Endpoint": {"ChannelType": "APNS", "Address": TOKEN, "User": {"UserId": "u-7"},
                     "Demographic": {"Platform": "ios", "PlatformVersion": "17.1",
                                     "Locale": "de_DE", "Make": "Apple", "Model": "iPhone15,2"},
                     "Attributes": {"plan": ["gold"]}},
        "Events": {
            "ev-1": {"EventType": "_session.start", "Timestamp": "2026-11-23T09:00:00.000Z",
                     "Session": {"Id": "sess-1", "StartTimestamp": "2026-11-23T09:00:00Z"},
                     "SdkName": "aws-amplify-js", "ClientSdkVersion": "6.0.1",
                     "AppPackageName": "com.example.shop", "AppTitle": "Shop",
                     "AppVersionCode": "42"},
            "ev-2": {"EventType": "purchase", "Timestamp": "2026-11-23T09:05:00Z",
                     "Attributes": {"item": "shoe"}, "Metrics": {"price": 59.5}}}}}}
    out = state["daemon"].aws("put-events", "--application-id", app, "--events-request",
                              json.dumps(batch))
    result = out["EventsResponse"]["Results"]["phone-1"]
    assert result["EndpointItemResponse"] == {"Message": "Accepted", "StatusCode": 202}, result
    assert result["EventsItemResponse"] == {
        "ev-1": {"Message": "Accepted", "StatusCode": 202},
        "ev-2": {"Message": "Accepted", "StatusCode": 202}}, result
    ep = state["client"].get_endpoint(ApplicationId=app, EndpointId="phone-1")["EndpointResponse"]
    assert ep["Address"] == TOKEN and ep["User"]["UserId"] == "u-7", ep
    assert ep["Demographic"]["Locale"] == "de_DE" and ep["Attributes"] == {"plan": ["gold"]}, ep
    events = {e["event_type"]: e for e in app_events(app)}
    assert set(events) == {"_session.start", "purchase"}, list(events)
    start, buy = events["_session.start"], events["purchase"]
    assert start["event_timestamp"] == 1795424400000, start
    assert start["arrival_timestamp"] >= start["event_timestamp"], start
    assert start["client"] == {"client_id": "phone-1"}, start
    assert start["session"] == {"session_id": "sess-1", "start_timestamp": 1795424400000}, start
    assert start["application"] == {
        "app_id": app, "package_name": "com.example.shop", "title": "Shop",
        "version_code": "42", "sdk": {"name": "aws-amplify-js", "version": "6.0.1"}}, start
    assert start["device"] == {
        "platform": {"name": "ios", "version": "17.1"}, "make": "Apple", "model": "iPhone15,2",
        "locale": {"code": "de_DE", "language": "de", "country": "DE"}}, start
    assert start["endpoint"]["Address"] == TOKEN, start
    assert buy["attributes"] == {"item": "shoe"} and buy["metrics"] == {"price": 59.5}, buy
    assert buy["event_version"] == "3.1" and buy["awsAccountId"] == "000000000000", buy


def test_events_without_endpoint_data_are_taken():
    """The Amplify clients send their events with an empty Endpoint (the endpoint is registered
    by its own UpdateEndpoint): the events are taken and no endpoint is made up. Endpoint data
    that cannot create an endpoint (no Address, which Pinpoint answers "Missing Address") is a
    400 for that item, named."""
    app = new_app("analytics")
    c = state["client"]
    res = c.put_events(ApplicationId=app, EventsRequest={"BatchItem": {
        "web-1": {"Endpoint": {}, "Events": {"s": {
            "EventType": "_session.start", "Timestamp": "2026-11-23T09:00:00Z",
            "Session": {"Id": "s-1", "StartTimestamp": "2026-11-23T09:00:00Z"}}}},
        "web-2": {"Endpoint": {"ChannelType": "GCM", "Demographic": {"Platform": "web"}},
                  "Events": {}}}})["EventsResponse"]["Results"]
    assert res["web-1"]["EndpointItemResponse"]["StatusCode"] == 202, res
    assert res["web-1"]["EventsItemResponse"]["s"]["StatusCode"] == 202, res
    refused = res["web-2"]["EndpointItemResponse"]
    assert refused["StatusCode"] == 400 and "Address" in refused["Message"], refused
    assert [e["client"]["client_id"] for e in app_events(app)] == ["web-1"]
    for eid in ("web-1", "web-2"):
        try:
            c.get_endpoint(ApplicationId=app, EndpointId=eid)
            raise AssertionError(f"{eid} was created")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NotFoundException", e.response


def test_events_reach_the_apps_event_stream():
    app = new_app("forwarded")
    state["client"].put_event_stream(ApplicationId=app, WriteEventStream={
        "DestinationStreamArn": "redis:app-events-out", "RoleArn": ROLE})
    state["client"].put_events(ApplicationId=app, EventsRequest={"BatchItem": {"web-1": {
        "Endpoint": {}, "Events": {"a": {"EventType": "signup",
                                         "Timestamp": "2026-11-23T10:00:00Z"}}}}})
    harness.wait_until(lambda: any(e["event_type"] == "signup"
                                   for e in stream_events("app-events-out")),
                       timeout=15, what="the event at the destination")
    got = [e for e in stream_events("app-events-out") if e["event_type"] == "signup"]
    assert len(got) == 1 and got[0]["client"]["client_id"] == "web-1", got


def test_items_that_do_not_fit_are_400_and_the_rest_taken():
    app = new_app("mixed")
    many = {f"a{i}": "v" for i in range(41)}
    batch = {"BatchItem": {
        "good-1": {"Endpoint": {"ChannelType": "GCM", "Address": "fcm-token-1"}, "Events": {
            "ok": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z"},
            "no-time": {"EventType": "open"},
            "bad-time": {"EventType": "open", "Timestamp": "yesterday"},
            "no-type": {"Timestamp": "2026-11-23T09:00:00Z"},
            "too-many": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z",
                         "Attributes": many},
            "long-value": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z",
                           "Attributes": {"k": "x" * 201}},
            "text-metric": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z",
                            "Metrics": {"m": "1"}},
            "no-session-id": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z",
                              "Session": {"StartTimestamp": "2026-11-23T09:00:00Z"}}}},
        "bad-endpoint": {"Endpoint": {"ChannelType": "PIGEON", "Address": "x"}, "Events": {
            "orphan": {"EventType": "open", "Timestamp": "2026-11-23T09:00:00Z"}}}}}
    # Signed by hand: boto3 itself refuses to send events without the required members.
    status, _, body = harness.signed_request(state["daemon"].url, "POST",
                                             f"/v1/apps/{app}/events",
                                             json.dumps(batch).encode())
    assert status == 202, body
    res = body["Results"]
    events = res["good-1"]["EventsItemResponse"]
    assert events["ok"]["StatusCode"] == 202, events
    expect = {"no-time": "Timestamp", "bad-time": "Timestamp", "no-type": "EventType",
              "too-many": "41", "long-value": "Attributes", "text-metric": "Metrics",
              "no-session-id": "Session.Id"}
    for name, word in expect.items():
        assert events[name]["StatusCode"] == 400 and word in events[name]["Message"], \
            (name, events[name])
    bad = res["bad-endpoint"]
    assert bad["EndpointItemResponse"]["StatusCode"] == 400, bad
    assert "ChannelType" in bad["EndpointItemResponse"]["Message"], bad
    assert bad["EventsItemResponse"]["orphan"]["StatusCode"] == 400, bad
    recorded = app_events(app)
    assert len(recorded) == 1 and recorded[0]["client"]["client_id"] == "good-1", recorded
    try:
        state["client"].get_endpoint(ApplicationId=app, EndpointId="bad-endpoint")
        raise AssertionError("a refused endpoint was written")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e.response


def test_malformed_batches_are_refused_whole():
    app = new_app("refused")
    c = state["client"]
    events = {f"e{i}": {"EventType": "tap", "Timestamp": "2026-11-23T09:00:00Z"}
              for i in range(101)}
    for req, word in (({"BatchItem": {}}, "BatchItem"),
                      ({"BatchItem": {"x": {"Endpoint": {"ChannelType": "SMS",
                                                         "Address": "+12065550100"},
                                            "Events": events}}}, "100")):
        try:
            c.put_events(ApplicationId=app, EventsRequest=req)
            raise AssertionError(f"accepted: {word}")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "BadRequestException", e.response
            assert word in e.response["Error"]["Message"], e.response
    assert app_events(app) == []
    try:
        c.get_endpoint(ApplicationId=app, EndpointId="x")
        raise AssertionError("a refused batch wrote its endpoint")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e.response
    try:
        c.put_events(ApplicationId="0" * 32, EventsRequest={"BatchItem": {"x": {
            "Endpoint": {}, "Events": {}}}})
        raise AssertionError("an unknown app was accepted")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "NotFoundException", e.response


def main():
    with harness.stack() as (redis, daemon):
        state.update(redis=redis, daemon=daemon, client=daemon.client())
        harness.run_tests([
            test_cli_records_events_and_updates_the_endpoint,
            test_events_without_endpoint_data_are_taken,
            test_events_reach_the_apps_event_stream,
            test_items_that_do_not_fit_are_400_and_the_rest_taken,
            test_malformed_batches_are_refused_whole,
        ])


if __name__ == "__main__":
    main()
