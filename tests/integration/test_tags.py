"""Tags through the real AWS CLI and boto3: TagResource, UntagResource and ListTagsForResource on
an application, a campaign, a segment and a message template named by their ARNs; the tags show
in each resource's own responses and survive its next update; bad ARNs, missing resources, too
many tags and keys scoped to another app get Pinpoint-style errors."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

state = {}
SCOPED_KEY = "AKRPTESTTAGSCOPED001"
SCOPED_SECRET = "tag-scoped-secret-0123456789abcdefghijk"


def client():
    return state["client"]


def error_of(call):
    try:
        call()
    except ClientError as e:
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"],
                e.response["Error"]["Message"])
    raise AssertionError("accepted")


def listed(arn):
    return client().list_tags_for_resource(ResourceArn=arn)["TagsModel"]["tags"]


def resources():
    """One of each kind that has tags: (kind, ARN, a function reading the resource's own tags)."""
    if "resources" in state:
        return state["resources"]
    c, app = client(), state["app"]
    seg = c.create_segment(ApplicationId=app, WriteSegmentRequest={
        "Name": "tagged", "Dimensions": {"Demographic": {"Platform": {
            "DimensionType": "INCLUSIVE", "Values": ["ios"]}}}})["SegmentResponse"]
    camp = c.create_campaign(ApplicationId=app, WriteCampaignRequest={
        "Name": "tagged", "SegmentId": seg["Id"], "tags": {"owner": "growth"},
        "Schedule": {"StartTime": "2031-01-01T00:00:00Z"},
        "MessageConfiguration": {"DefaultMessage": {"Body": "hi"}}})["CampaignResponse"]
    c.create_sms_template(TemplateName="tagged-sms", SMSTemplateRequest={"Body": "hi"})
    tpl = c.get_sms_template(TemplateName="tagged-sms")["SMSTemplateResponse"]
    app_arn = c.get_app(ApplicationId=app)["ApplicationResponse"]["Arn"]
    state["resources"] = [
        ("app", app_arn, lambda: c.get_app(ApplicationId=app)["ApplicationResponse"]["tags"]),
        ("campaign", camp["Arn"], lambda: c.get_campaign(
            ApplicationId=app, CampaignId=camp["Id"])["CampaignResponse"]["tags"]),
        ("segment", seg["Arn"], lambda: c.get_segment(
            ApplicationId=app, SegmentId=seg["Id"])["SegmentResponse"]["tags"]),
        ("template", tpl["Arn"], lambda: c.get_sms_template(
            TemplateName="tagged-sms")["SMSTemplateResponse"]["tags"]),
    ]
    state["campaign"], state["segment"] = camp["Id"], seg["Id"]
    return state["resources"]


def test_cli_tags_lists_and_untags_a_campaign():
    d = state["daemon"]
    arn = next(a for kind, a, _ in resources() if kind == "campaign")
    out = d.aws("tag-resource", "--resource-arn", arn, "--tags-model",
                json.dumps({"tags": {"env": "prod", "owner": "ops"}}))
    assert out == {} or out is None, out
    got = d.aws("list-tags-for-resource", "--resource-arn", arn)["TagsModel"]["tags"]
    assert got == {"owner": "ops", "env": "prod"}, got
    d.aws("untag-resource", "--resource-arn", arn, "--tag-keys", "owner", "absent")
    got = d.aws("list-tags-for-resource", "--resource-arn", arn)["TagsModel"]["tags"]
    assert got == {"env": "prod"}, got


def test_each_kind_shows_its_tags_in_its_own_responses():
    for kind, arn, own in resources():
        client().tag_resource(ResourceArn=arn, TagsModel={"tags": {"k-" + kind: "v1", "x": "1"}})
        client().tag_resource(ResourceArn=arn, TagsModel={"tags": {"x": "2"}})
        assert listed(arn).get("k-" + kind) == "v1" and listed(arn)["x"] == "2", (kind, listed(arn))
        assert own() == listed(arn), (kind, own(), listed(arn))
        client().untag_resource(ResourceArn=arn, TagKeys=["x"])
        assert "x" not in listed(arn) and "x" not in own(), (kind, listed(arn), own())


def test_tags_survive_the_next_update():
    c, app = client(), state["app"]
    by_kind = {kind: arn for kind, arn, _ in resources()}
    c.tag_resource(ResourceArn=by_kind["campaign"], TagsModel={"tags": {"kept": "yes"}})
    c.tag_resource(ResourceArn=by_kind["segment"], TagsModel={"tags": {"kept": "yes"}})
    camp = c.update_campaign(ApplicationId=app, CampaignId=state["campaign"],
                             WriteCampaignRequest={"Name": "renamed"})["CampaignResponse"]
    assert camp["Version"] == 2 and camp["tags"].get("kept") == "yes", camp
    seg = c.update_segment(ApplicationId=app, SegmentId=state["segment"],
                           WriteSegmentRequest={"Name": "renamed"})["SegmentResponse"]
    assert seg["Version"] == 2 and seg["tags"].get("kept") == "yes", seg
    assert listed(by_kind["campaign"])["kept"] == "yes"
    assert listed(by_kind["segment"])["kept"] == "yes"


def test_errors_name_what_is_wrong():
    c, app = client(), state["app"]
    prefix = "arn:aws:mobiletargeting:us-east-1:000000000000:"
    status, code, msg = error_of(lambda: listed(prefix + f"apps/{app}/journeys/j1"))
    assert (status, code) == (400, "BadRequestException") and "resource-arn" in msg, msg
    status, code, msg = error_of(lambda: listed("arn:aws:sns:us-east-1:000000000000:topic"))
    assert (status, code) == (400, "BadRequestException"), msg
    status, code, _ = error_of(lambda: listed(
        f"arn:aws:mobiletargeting:us-east-1:111111111111:apps/{app}"))
    assert (status, code) == (404, "NotFoundException")
    status, code, msg = error_of(lambda: listed(prefix + f"apps/{app}/campaigns/" + "0" * 32))
    assert (status, code) == (404, "NotFoundException") and "Campaign" in msg, msg
    status, code, _ = error_of(lambda: listed(prefix + "templates/no-such/SMS"))
    assert (status, code) == (404, "NotFoundException")
    arn = next(a for kind, a, _ in resources() if kind == "segment")
    before = listed(arn)
    many = {f"t{i}": "v" for i in range(50)}
    status, code, msg = error_of(lambda: c.tag_resource(ResourceArn=arn,
                                                        TagsModel={"tags": many}))
    assert (status, code) == (400, "BadRequestException") and "50" in msg, msg
    assert listed(arn) == before, "a refused change must change nothing"
    status, code, msg = error_of(lambda: c.tag_resource(
        ResourceArn=arn, TagsModel={"tags": {"k": "v" * 257}}))
    assert (status, code) == (400, "BadRequestException") and "tags" in msg, msg
    # UntagResource without tagKeys: boto3 refuses to send it, so sign it ourselves.
    from urllib.parse import quote
    status, headers, body = harness.signed_request(
        state["daemon"].url, "DELETE", "/v1/tags/" + quote(arn, safe=""))
    assert status == 400 and headers.get("x-amzn-errortype") == "BadRequestException", body
    assert "tagKeys" in body["Message"], body


def test_concurrent_changes_lose_no_tag():
    """Each change reads, edits and writes back the resource's text: writers racing on one
    campaign must each see their tags kept (none overwritten by a change read before it)."""
    import threading
    arn = next(a for kind, a, _ in resources() if kind == "campaign")
    failures = []

    def writer(w):
        c = state["daemon"].client()
        try:
            for i in range(10):
                c.tag_resource(ResourceArn=arn, TagsModel={"tags": {f"w{w}-{i}": str(i)}})
        except Exception as e:  # noqa: BLE001 - reported below
            failures.append(e)
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    got = listed(arn)
    missing = [f"w{w}-{i}" for w in range(4) for i in range(10) if f"w{w}-{i}" not in got]
    assert not missing, missing
    client().untag_resource(ResourceArn=arn, TagKeys=[f"w{w}-{i}" for w in range(4)
                                                      for i in range(10)])


def test_deleted_campaign_has_no_tags_to_list():
    c, app = client(), state["app"]
    seg = state["segment"]
    camp = c.create_campaign(ApplicationId=app, WriteCampaignRequest={
        "Name": "short-lived", "SegmentId": seg, "tags": {"a": "b"},
        "Schedule": {"StartTime": "2031-01-01T00:00:00Z"},
        "MessageConfiguration": {"DefaultMessage": {"Body": "hi"}}})["CampaignResponse"]
    assert listed(camp["Arn"]) == {"a": "b"}
    c.delete_campaign(ApplicationId=app, CampaignId=camp["Id"])
    status, code, _ = error_of(lambda: listed(camp["Arn"]))
    assert (status, code) == (404, "NotFoundException")
    status, code, _ = error_of(lambda: c.tag_resource(ResourceArn=camp["Arn"],
                                                      TagsModel={"tags": {"c": "d"}}))
    assert (status, code) == (404, "NotFoundException")


def test_key_scoped_to_another_app_is_refused():
    scoped = state["daemon"].client(access_key=SCOPED_KEY, secret_key=SCOPED_SECRET)
    arn = next(a for kind, a, _ in resources() if kind == "campaign")
    before = listed(arn)
    for call in (lambda: scoped.list_tags_for_resource(ResourceArn=arn),
                 lambda: scoped.tag_resource(ResourceArn=arn, TagsModel={"tags": {"z": "1"}})):
        status, code, _ = error_of(call)
        assert (status, code) == (403, "ForbiddenException")
    assert listed(arn) == before
    own = scoped.get_app(ApplicationId=state["other_app"])["ApplicationResponse"]["Arn"]
    scoped.tag_resource(ResourceArn=own, TagsModel={"tags": {"mine": "1"}})
    assert scoped.list_tags_for_resource(ResourceArn=own)["TagsModel"]["tags"] == {"mine": "1"}


def main():
    with harness.stack() as (redis, daemon):
        admin = daemon.client()
        app = admin.create_app(CreateApplicationRequest={"Name": "tags"})["ApplicationResponse"]
        other = admin.create_app(CreateApplicationRequest={"Name": "other"})["ApplicationResponse"]
        daemon.stop()
        with open(daemon.creds_path, "a") as f:
            f.write(f"{SCOPED_KEY} {SCOPED_SECRET} {other['Id']}\n")
        daemon.start()
        state.update(daemon=daemon, client=daemon.client(), app=app["Id"], other_app=other["Id"])
        harness.run_tests([
            test_cli_tags_lists_and_untags_a_campaign,
            test_each_kind_shows_its_tags_in_its_own_responses,
            test_tags_survive_the_next_update,
            test_errors_name_what_is_wrong,
            test_concurrent_changes_lose_no_tag,
            test_deleted_campaign_has_no_tags_to_list,
            test_key_scoped_to_another_app_is_refused,
        ])


if __name__ == "__main__":
    main()
