"""The BAIDU channel end to end: the real AWS CLI configures the channel (update-baidu-channel)
and sends (send-messages) through Repoint to tests/sim/baidu_sim over HTTPS. The simulator
recomputes every request's sign with the secret key; Android and iOS endpoints, pass-through
messages, and Baidu's error codes (30600, 30603, 30604, 30608) are exercised."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import push_sims  # noqa: E402

state = {}


def send(addresses, message=None, app=None):
    msg = {"Title": "Hello", "Body": "from Repoint"} if message is None else message
    request = {"Addresses": {a: {"ChannelType": "BAIDU"} for a in addresses},
               "MessageConfiguration": {"BaiduMessage": msg}}
    resp = state["daemon"].aws("send-messages", "--application-id", app or state["app"],
                               "--message-request", json.dumps(request))
    return resp["MessageResponse"]["Result"]


def send_endpoint(endpoint_id, message=None):
    msg = {"Title": "Hello", "Body": "from Repoint"} if message is None else message
    resp = state["daemon"].aws("send-messages", "--application-id", state["app"],
                               "--message-request", json.dumps({
                                   "Endpoints": {endpoint_id: {}},
                                   "MessageConfiguration": {"BaiduMessage": msg}}))
    return resp["MessageResponse"]["EndpointResult"][endpoint_id]


def test_update_baidu_channel():
    resp = state["daemon"].aws("update-baidu-channel", "--application-id", state["app"],
                               "--baidu-channel-request", json.dumps({
                                   "ApiKey": push_sims.BaiduSim.api_key,
                                   "SecretKey": push_sims.BaiduSim.secret_key,
                                   "Enabled": True}))["BaiduChannelResponse"]
    assert resp["Enabled"] is True and resp["Platform"] == "BAIDU", resp
    assert push_sims.BaiduSim.secret_key not in json.dumps(resp)


def test_android_notification():
    sim = state["sim"]
    r = send(["3712345678901234567"], {"Title": "Hi", "Body": "there", "TimeToLive": 600,
                                       "Action": "URL", "Url": "https://example.com",
                                       "Data": {"k": "v"}})["3712345678901234567"]
    assert r["DeliveryStatus"] == "SUCCESSFUL" and r["StatusCode"] == 200, r
    assert r["MessageId"].isdigit(), r
    rec = sim.messages()[-1]
    assert rec["channel_id"] == "3712345678901234567" and rec["device_type"] == "3", rec
    assert rec["msg_type"] == "1" and rec["msg_expires"] == "600", rec
    assert rec["msg"]["title"] == "Hi" and rec["msg"]["description"] == "there", rec
    assert rec["msg"]["open_type"] == 1 and rec["msg"]["url"] == "https://example.com", rec
    assert rec["msg"]["custom_content"] == {"k": "v"}, rec
    assert sim.stats()["bad_sign"] == 0


def test_ios_endpoint_and_silent_push():
    d, app, sim = state["daemon"], state["app"], state["sim"]
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "iphone-1",
          "--endpoint-request", json.dumps({"ChannelType": "BAIDU", "Address": "4700000000000001",
                                            "Demographic": {"Platform": "iOS"}}))
    r = send_endpoint("iphone-1", {"Title": "T", "Body": "B", "Sound": "default"})
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    rec = sim.messages()[-1]
    assert rec["device_type"] == "4", rec
    assert rec["msg"]["aps"] == {"alert": {"title": "T", "body": "B"}, "sound": "default"}, rec
    r = send(["3712345678901234568"], {"SilentPush": True, "Data": {"x": "1"}})
    assert r["3712345678901234568"]["DeliveryStatus"] == "SUCCESSFUL", r
    rec = sim.messages()[-1]
    assert rec["msg_type"] == "0" and rec["msg"]["custom_content"] == {"x": "1"}, rec


def test_unbound_channel_deactivates_endpoint():
    d, app, sim = state["daemon"], state["app"], state["sim"]
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "android-dead",
          "--endpoint-request", json.dumps({"ChannelType": "BAIDU", "Address": "3799999"}))
    sim.configure(channel_errors={"3799999": 30608})
    r = send_endpoint("android-dead")
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "30608" in r["StatusMessage"], r

    def inactive():
        ep = d.aws("get-endpoint", "--application-id", app, "--endpoint-id", "android-dead")
        return ep["EndpointResponse"]["EndpointStatus"] == "INACTIVE"
    harness.wait_until(inactive, timeout=5, what="endpoint INACTIVE")
    sim.configure(channel_errors={})


def test_internal_error_is_retried_and_quota_throttled():
    sim = state["sim"]
    sim.configure(error_next=1, error_code=30600, error_status=500)
    assert send(["3710"])["3710"]["DeliveryStatus"] == "SUCCESSFUL"
    sim.configure(error_next=100, error_code=30600, error_status=500)
    r = send(["3710"])["3710"]
    assert r["DeliveryStatus"] == "TEMPORARY_FAILURE" and "30600" in r["StatusMessage"], r
    sim.configure(error_next=100, error_code=30604, error_status=400, retry_after="30")
    r = send(["3710"])["3710"]
    assert r["DeliveryStatus"] == "THROTTLED" and "30604" in r["StatusMessage"], r
    sim.configure(error_next=0, retry_after="0")


def test_wrong_secret_is_an_authentication_failure():
    d, sim = state["daemon"], state["sim"]
    app = d.aws("create-app", "--create-application-request",
                json.dumps({"Name": "baidu-bad"}))["ApplicationResponse"]["Id"]
    d.aws("update-baidu-channel", "--application-id", app, "--baidu-channel-request", json.dumps({
        "ApiKey": push_sims.BaiduSim.api_key, "SecretKey": "not-the-secret"}))
    before = sim.stats()["bad_sign"]
    r = send(["3711"], app=app)["3711"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE", r
    assert "30603" in r["StatusMessage"] and "SecretKey" in r["StatusMessage"], r
    assert sim.stats()["bad_sign"] == before + 1


def test_metrics_show_provider_connections():
    """After sends: /metrics counts the channel's open connections to the provider and its
    requests in flight (none once every send has its answer)."""
    connections, streams = push_sims.provider_gauges(state["daemon"], "BAIDU")
    assert connections is not None and connections >= 1, connections
    assert streams == 0, streams


def main():
    push_sims.run_channel_tests(push_sims.BaiduSim, "baidu", state, [
        test_update_baidu_channel, test_android_notification,
        test_metrics_show_provider_connections,
        test_ios_endpoint_and_silent_push, test_unbound_channel_deactivates_endpoint,
        test_internal_error_is_retried_and_quota_throttled,
        test_wrong_secret_is_an_authentication_failure,
    ])


if __name__ == "__main__":
    main()
