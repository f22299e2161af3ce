"""The ADM channel end to end: the real AWS CLI configures the channel (update-adm-channel) and
sends (send-messages) through Repoint to tests/sim/adm_sim over HTTPS. The simulator issues
Login with Amazon tokens for the client credentials and checks the type headers, data and md5
of every message; dead registration ids, id rewrites (UpdatedToken and the endpoint's new
Address), throttling, outages and the token refresh on 401 are provoked."""
import base64
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
import push_sims  # noqa: E402

state = {}


def send(addresses, message=None):
    msg = {"Title": "Hello", "Body": "from Repoint"} if message is None else message
    request = {"Addresses": {a: {"ChannelType": "ADM"} for a in addresses},
               "MessageConfiguration": {"ADMMessage": msg}}
    resp = state["daemon"].aws("send-messages", "--application-id", state["app"],
                               "--message-request", json.dumps(request))
    return resp["MessageResponse"]["Result"]


def md5_of(data):
    """ADM's checksum, computed independently of the C code."""
    joined = ",".join(f"{k}:{data[k]}" for k in sorted(data, key=lambda k: k.encode()))
    return base64.b64encode(hashlib.md5(joined.encode()).digest()).decode()


def test_update_adm_channel():
    resp = state["daemon"].aws("update-adm-channel", "--application-id", state["app"],
                               "--adm-channel-request", json.dumps({
                                   "ClientId": push_sims.AdmSim.client_id,
                                   "ClientSecret": push_sims.AdmSim.client_secret,
                                   "Enabled": True}))["ADMChannelResponse"]
    assert resp["Enabled"] is True and resp["Platform"] == "ADM", resp
    assert push_sims.AdmSim.client_secret not in json.dumps(resp)


def test_send_success_with_md5():
    sim = state["sim"]
    before = sim.stats()
    r = send(["amzn1.adm-registration.v3.a"], {"Title": "Hi", "Body": "there",
                                                "ConsolidationKey": "news", "ExpiresAfter": "600",
                                                "Data": {"k": "v"}, "Action": "URL",
                                                "Url": "https://example.com"})
    r = r["amzn1.adm-registration.v3.a"]
    assert r["DeliveryStatus"] == "SUCCESSFUL" and r["StatusCode"] == 200, r
    assert "UpdatedToken" not in r, r
    after = sim.stats()
    assert after["accepted"] == before["accepted"] + 1
    assert after["tokens_issued"] == before["tokens_issued"] + (0 if before["tokens_issued"] else 1)
    rec = sim.messages()[-1]
    msg = rec["message"]
    assert rec["registration_id"] == "amzn1.adm-registration.v3.a"
    assert msg["consolidationKey"] == "news" and msg["expiresAfter"] == 600, msg
    assert msg["data"]["k"] == "v" and msg["data"]["pinpoint.url"] == "https://example.com", msg
    assert msg["data"]["pinpoint.notification.title"] == "Hi", msg
    assert msg["md5"] == md5_of(msg["data"]), msg


def test_wrong_md5_is_refused():
    r = send(["amzn1.adm-registration.v3.b"], {"Body": "b", "MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
    r = r["amzn1.adm-registration.v3.b"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and r["StatusCode"] == 400, r
    assert "InvalidChecksum" in r["StatusMessage"], r


def test_updated_token_rewrites_the_endpoint_address():
    d, app, sim = state["daemon"], state["app"], state["sim"]
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "kindle-1",
          "--endpoint-request", json.dumps({"ChannelType": "ADM", "Address": "old-reg-id"}))
    sim.configure(rewrites={"old-reg-id": "new-reg-id"})
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Endpoints": {"kindle-1": {}},
        "MessageConfiguration": {"ADMMessage": {"Title": "t", "Body": "b"}}}))
    r = resp["MessageResponse"]["EndpointResult"]["kindle-1"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    assert r.get("UpdatedToken") == "new-reg-id", r

    def rewritten():
        ep = d.aws("get-endpoint", "--application-id", app, "--endpoint-id", "kindle-1")
        return ep["EndpointResponse"]["Address"] == "new-reg-id"
    harness.wait_until(rewritten, timeout=5, what="the endpoint's Address rewritten")
    sim.configure(rewrites={})


def test_rewritten_address_joins_the_address_index():
    """An endpoint whose address the provider rewrote holds the new address in the index, even
    when another endpoint already held it: an endpoint written later with that address makes
    both INACTIVE (Pinpoint's rule for a shared address)."""
    d, app, sim = state["daemon"], state["app"], state["sim"]
    for eid, address in (("kindle-4", "moving-reg-id"), ("kindle-5", "taken-reg-id")):
        d.aws("update-endpoint", "--application-id", app, "--endpoint-id", eid,
              "--endpoint-request", json.dumps({"ChannelType": "ADM", "Address": address}))
    sim.configure(rewrites={"moving-reg-id": "taken-reg-id"})
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Endpoints": {"kindle-4": {}},
        "MessageConfiguration": {"ADMMessage": {"Title": "t", "Body": "b"}}}))
    assert resp["MessageResponse"]["EndpointResult"]["kindle-4"].get(
        "UpdatedToken") == "taken-reg-id", resp
    sim.configure(rewrites={})

    def status(eid):
        return d.aws("get-endpoint", "--application-id", app, "--endpoint-id", eid)[
            "EndpointResponse"]
    harness.wait_until(lambda: status("kindle-4")["Address"] == "taken-reg-id", timeout=5,
                       what="the endpoint's Address rewritten")
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "kindle-6",
          "--endpoint-request", json.dumps({"ChannelType": "ADM", "Address": "taken-reg-id"}))
    got = {eid: status(eid)["EndpointStatus"] for eid in ("kindle-4", "kindle-5", "kindle-6")}
    assert got == {"kindle-4": "INACTIVE", "kindle-5": "INACTIVE", "kindle-6": "ACTIVE"}, got


def test_dead_registration_deactivates_endpoint():
    d, app, sim = state["daemon"], state["app"], state["sim"]
    d.aws("update-endpoint", "--application-id", app, "--endpoint-id", "kindle-2",
          "--endpoint-request", json.dumps({"ChannelType": "ADM", "Address": "dead-reg-id"}))
    sim.configure(dead_ids=["dead-reg-id"])
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Endpoints": {"kindle-2": {}},
        "MessageConfiguration": {"ADMMessage": {"Title": "t", "Body": "b"}}}))
    r = resp["MessageResponse"]["EndpointResult"]["kindle-2"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "Unregistered" in r["StatusMessage"], r

    def inactive():
        ep = d.aws("get-endpoint", "--application-id", app, "--endpoint-id", "kindle-2")
        return ep["EndpointResponse"]["EndpointStatus"] == "INACTIVE"
    harness.wait_until(inactive, timeout=5, what="endpoint INACTIVE")
    sim.configure(dead_ids=[])


def test_throttling_and_outages():
    sim = state["sim"]
    sim.configure(throttle_next=1, retry_after="0")
    assert send(["reg-t"])["reg-t"]["DeliveryStatus"] == "SUCCESSFUL"
    sim.configure(throttle_403_next=1, retry_after="0")
    assert send(["reg-t"])["reg-t"]["DeliveryStatus"] == "SUCCESSFUL"
    sim.configure(unavailable_next=1, retry_after="0")
    assert send(["reg-t"])["reg-t"]["DeliveryStatus"] == "SUCCESSFUL"
    by = sim.stats()["by_status"]
    assert by.get("429") == 1 and by.get("403") == 1 and by.get("503") == 1, by
    sim.configure(throttle_next=100, retry_after="30")
    r = send(["reg-t"])["reg-t"]
    assert r["DeliveryStatus"] == "THROTTLED" and "MaxRateExceeded" in r["StatusMessage"], r
    sim.configure(throttle_next=0, retry_after="1")


def test_too_large_is_refused_before_sending():
    sim = state["sim"]
    before = sim.stats()["received"]
    r = send(["reg-big"], {"Body": "b", "Data": {"big": "x" * 6200}})["reg-big"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "6144" in r["StatusMessage"], r
    assert sim.stats()["received"] == before


def test_token_refresh_on_401():
    sim = state["sim"]
    before = sim.stats()
    sim.revoke()
    r = send(["reg-r"])["reg-r"]
    assert r["DeliveryStatus"] == "SUCCESSFUL", r
    after = sim.stats()
    assert after["auth_failures"] == before["auth_failures"] + 1, after
    assert after["tokens_issued"] == before["tokens_issued"] + 1, after


def test_wrong_client_secret_is_permanent():
    d = state["daemon"]
    app = d.aws("create-app", "--create-application-request",
                json.dumps({"Name": "adm-bad"}))["ApplicationResponse"]["Id"]
    d.aws("update-adm-channel", "--application-id", app, "--adm-channel-request", json.dumps({
        "ClientId": push_sims.AdmSim.client_id, "ClientSecret": "wrong-secret"}))
    resp = d.aws("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Addresses": {"reg-x": {"ChannelType": "ADM"}},
        "MessageConfiguration": {"ADMMessage": {"Body": "b"}}}))
    r = resp["MessageResponse"]["Result"]["reg-x"]
    assert r["DeliveryStatus"] == "PERMANENT_FAILURE" and "invalid_client" in r["StatusMessage"], r


def test_metrics_show_provider_connections():
    """After sends: /metrics counts the channel's open connections to the provider and its
    requests in flight (none once every send has its answer)."""
    connections, streams = push_sims.provider_gauges(state["daemon"], "ADM")
    assert connections is not None and connections >= 1, connections
    assert streams == 0, streams


def main():
    push_sims.run_channel_tests(push_sims.AdmSim, "adm", state, [
        test_update_adm_channel, test_send_success_with_md5,
        test_metrics_show_provider_connections, test_wrong_md5_is_refused,
        test_updated_token_rewrites_the_endpoint_address,
        test_rewritten_address_joins_the_address_index,
        test_dead_registration_deactivates_endpoint, test_throttling_and_outages,
        test_too_large_is_refused_before_sending, test_token_refresh_on_401,
        test_wrong_client_secret_is_permanent,
    ])


if __name__ == "__main__":
    main()
