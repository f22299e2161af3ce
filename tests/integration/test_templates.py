"""Message templates through the real AWS CLI (every operation at least once; boto3 for the
checks around them, the CLI costing about a second a call on a busy machine): create, update (in place and as new versions),
get (active or named version), list templates and versions, the active version, delete (one
version or all), templates that do not parse refused with line and column, and send-messages /
send-users-messages with a TemplateConfiguration rendered per recipient, read back at the SMS
simulator. (The EMAIL channel is built on another branch: email templates are checked here for
their API; their rendering is covered by tests/unit/template_send_test.c.)"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
import harness  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

state = {}


def cli(*args, check=True):
    return state["daemon"].aws(*args, check=check)


def cli_error(*args):
    rc, out, err = cli(*args, check=False)
    assert rc != 0, f"expected a failure: {out}"
    return err


def api():
    """boto3, for the checks around each CLI call (the CLI costs a second per call here)."""
    return state["client"]


def api_error(method, **kwargs):
    try:
        getattr(api(), method)(**kwargs)
    except ClientError as e:
        return f"{e.response['Error']['Code']}: {e.response['Error']['Message']}"
    raise AssertionError(f"{method} succeeded")


def test_sms_template_versions():
    created = cli("create-sms-template", "--template-name", "welcome-sms", "--sms-template-request",
                  json.dumps({"Body": "Hi {{User.UserAttributes.FirstName}}, v1",
                              "TemplateDescription": "first", "tags": {"team": "growth"},
                              "DefaultSubstitutions": json.dumps(
                                  {"User.UserAttributes.FirstName": "there"})}))
    body = created["CreateTemplateMessageBody"]
    assert body["Arn"].endswith(":templates/welcome-sms/SMS"), body
    assert body["Message"] == "Created" and body["RequestID"], body
    got = cli("get-sms-template", "--template-name", "welcome-sms")["SMSTemplateResponse"]
    assert got["Body"] == "Hi {{User.UserAttributes.FirstName}}, v1", got
    assert got["Version"] == "1" and got["TemplateType"] == "SMS", got
    assert got["TemplateName"] == "welcome-sms" and got["tags"] == {"team": "growth"}, got
    assert json.loads(got["DefaultSubstitutions"]) == {"User.UserAttributes.FirstName": "there"}
    assert got["CreationDate"] and got["LastModifiedDate"], got
    # Creating it again is refused.
    assert "already exists" in api_error("create_sms_template", TemplateName="welcome-sms",
                                         SMSTemplateRequest={"Body": "x"})
    # A new version does not change the active one.
    cli("update-sms-template", "--template-name", "welcome-sms", "--create-new-version",
        "--sms-template-request", json.dumps({"Body": "Hello {{User.UserAttributes.FirstName}}, v2"}))
    assert api().get_sms_template(TemplateName="welcome-sms")["SMSTemplateResponse"][
        "Version"] == "1"
    v2 = cli("get-sms-template", "--template-name", "welcome-sms", "--template-version", "2")[
        "SMSTemplateResponse"]
    assert v2["Body"].endswith("v2") and v2["Version"] == "2", v2
    # An update in place must name the latest version, if it names one.
    err = api_error("update_sms_template", TemplateName="welcome-sms", Version="1",
                    SMSTemplateRequest={"Body": "nope"})
    assert "BadRequestException" in err and "latest" in err, err
    err = api_error("update_sms_template", TemplateName="welcome-sms", Version="2",
                    CreateNewVersion=True, SMSTemplateRequest={"Body": "nope"})
    assert "BadRequestException" in err, err
    cli("update-sms-template", "--template-name", "welcome-sms", "--template-version", "2",
        "--sms-template-request", json.dumps({"Body": "Hello {{User.UserAttributes.FirstName}}!"}))
    api().update_sms_template(TemplateName="welcome-sms", CreateNewVersion=True,
                              SMSTemplateRequest={"Body": "v3"})
    versions = cli("list-template-versions", "--template-name", "welcome-sms", "--template-type",
                   "SMS")["TemplateVersionsResponse"]
    assert [v["Version"] for v in versions["Item"]] == ["1", "2", "3"], versions
    assert versions["Item"][0]["TemplateDescription"] == "first", versions
    page = api().list_template_versions(TemplateName="welcome-sms", TemplateType="SMS",
                                        PageSize="2")["TemplateVersionsResponse"]
    assert [v["Version"] for v in page["Item"]] == ["1", "2"] and page["NextToken"], page
    rest = api().list_template_versions(TemplateName="welcome-sms", TemplateType="SMS",
                                        PageSize="2", NextToken=page["NextToken"])[
        "TemplateVersionsResponse"]
    assert [v["Version"] for v in rest["Item"]] == ["3"] and "NextToken" not in rest, rest
    # The active version moves on request only.
    answer = cli("update-template-active-version", "--template-name", "welcome-sms",
                 "--template-type", "SMS", "--template-active-version-request", "Version=2")
    assert answer["MessageBody"]["Message"], answer
    got = api().get_sms_template(TemplateName="welcome-sms")["SMSTemplateResponse"]
    assert got["Version"] == "2" and got["Body"] == "Hello {{User.UserAttributes.FirstName}}!"
    assert "NotFoundException" in api_error(
        "update_template_active_version", TemplateName="welcome-sms", TemplateType="SMS",
        TemplateActiveVersionRequest={"Version": "9"})
    # Deleting one version; not the active one.
    assert "active" in api_error("delete_sms_template", TemplateName="welcome-sms", Version="2")
    cli("delete-sms-template", "--template-name", "welcome-sms", "--template-version", "3")
    assert "NotFoundException" in api_error("get_sms_template", TemplateName="welcome-sms",
                                            Version="3")


def test_email_and_push_templates_and_listing():
    cli("create-email-template", "--template-name", "receipt", "--email-template-request",
        json.dumps({"Subject": "Your order, {{Attributes.Name}}",
                    "HtmlPart": "<p>{{#each Attributes.Items}}<b>{{this}}</b>{{/each}}</p>",
                    "TextPart": "{{#each Attributes.Items}}{{this}} {{/each}}",
                    "TemplateDescription": "orders"}))
    got = cli("get-email-template", "--template-name", "receipt")["EmailTemplateResponse"]
    assert got["Subject"] == "Your order, {{Attributes.Name}}" and got["TemplateType"] == "EMAIL"
    assert got["HtmlPart"].startswith("<p>{{#each") and got["Arn"].endswith("receipt/EMAIL")
    cli("create-push-template", "--template-name", "receipt", "--push-notification-template-request",
        json.dumps({"Default": {"Title": "Order", "Body": "Hi {{Attributes.Name}}"},
                    "APNS": {"Body": "iOS {{Attributes.Name}}", "Action": "OPEN_APP"},
                    "DefaultSubstitutions": '{"Attributes.Name": "friend"}'}))
    push = cli("get-push-template", "--template-name", "receipt")["PushNotificationTemplateResponse"]
    assert push["APNS"]["Body"] == "iOS {{Attributes.Name}}" and push["Default"]["Title"] == "Order"
    for name in ("alpha-1", "alpha-2", "beta"):
        api().create_sms_template(TemplateName=name, SMSTemplateRequest={"Body": "b"})
    listed = cli("list-templates", "--prefix", "alpha")["TemplatesResponse"]["Item"]
    assert [t["TemplateName"] for t in listed] == ["alpha-1", "alpha-2"], listed
    assert listed[0]["TemplateType"] == "SMS" and listed[0]["Version"] == "1", listed
    emails = api().list_templates(TemplateType="EMAIL")["TemplatesResponse"]["Item"]
    assert [(t["TemplateName"], t["TemplateDescription"]) for t in emails] == [
        ("receipt", "orders")], emails
    first = cli("list-templates", "--page-size", "2")["TemplatesResponse"]
    assert len(first["Item"]) == 2 and first["NextToken"], first
    seen = [(t["TemplateName"], t["TemplateType"]) for t in first["Item"]]
    token = first["NextToken"]
    while token:
        page = api().list_templates(PageSize="2", NextToken=token)["TemplatesResponse"]
        seen += [(t["TemplateName"], t["TemplateType"]) for t in page["Item"]]
        token = page.get("NextToken")
    assert ("receipt", "EMAIL") in seen and ("receipt", "PUSH") in seen
    assert ("beta", "SMS") in seen and len(seen) == len(set(seen)), seen
    assert [n for n, _ in seen] == sorted(n for n, _ in seen), seen
    cli("delete-sms-template", "--template-name", "beta")
    assert "NotFoundException" in api_error("get_sms_template", TemplateName="beta")
    assert "beta" not in [t["TemplateName"]
                          for t in api().list_templates()["TemplatesResponse"]["Item"]]


def test_templates_that_do_not_parse_are_refused():
    err = cli_error("create-email-template", "--template-name", "broken", "--email-template-request",
                    json.dumps({"Subject": "ok", "HtmlPart": "<p>\n  {{#if Attributes.X}}open\n"}))
    assert "BadRequestException" in err and "HtmlPart" in err and "line 2, column 3" in err, err
    err = api_error("create_sms_template", TemplateName="broken", SMSTemplateRequest={
        "Body": "Total: {{formatCurrency Attributes.Price \"USD\"}}"})
    assert "unknown helper 'formatCurrency'" in err and "line 1, column 10" in err, err
    err = api_error("create_sms_template", TemplateName="broken", SMSTemplateRequest={
        "Body": "x", "DefaultSubstitutions": "not json"})
    assert "DefaultSubstitutions" in err, err
    err = api_error("create_sms_template", TemplateName="-bad", SMSTemplateRequest={"Body": "x"})
    assert "template-name" in err, err
    assert "NotFoundException" in api_error("get_sms_template", TemplateName="broken")


def test_send_messages_with_sms_template():
    app, sim = state["app"], state["sim"]
    api().create_sms_template(TemplateName="greet", SMSTemplateRequest={
        "Body": "Hi {{User.UserAttributes.FirstName}}{{#if Attributes.Vip}} (VIP){{/if}}, "
                "code {{code}} from {{brand}}",
        "DefaultSubstitutions": json.dumps({"brand": "Repoint",
                                            "User.UserAttributes.FirstName": "there"})})
    api().update_endpoint(ApplicationId=app, EndpointId="tpl-1", EndpointRequest={
        "ChannelType": "SMS", "Address": "+14155550301", "Attributes": {"Vip": ["yes"]},
        "User": {"UserId": "tpl-user", "UserAttributes": {"FirstName": ["Ann"]}}})
    before = len(sim.messages()["messages"])
    resp = cli("send-messages", "--application-id", app, "--message-request", json.dumps({
        "Endpoints": {"tpl-1": {"Substitutions": {"code": ["111"]}}},
        "Addresses": {"+14155550302": {"ChannelType": "SMS",
                                       "Substitutions": {"code": ["222"], "brand": ["Acme"]}},
                      "+14155550303": {"ChannelType": "SMS"}},
        "MessageConfiguration": {"SMSMessage": {"MessageType": "TRANSACTIONAL"}},
        "TemplateConfiguration": {"SMSTemplate": {"Name": "greet"}}}))["MessageResponse"]
    assert resp["EndpointResult"]["tpl-1"]["DeliveryStatus"] == "SUCCESSFUL", resp
    assert resp["Result"]["+14155550302"]["DeliveryStatus"] == "SUCCESSFUL", resp
    # No value for {{code}} anywhere: that recipient fails to render, naming the variable.
    failed = resp["Result"]["+14155550303"]
    assert failed["DeliveryStatus"] == "PERMANENT_FAILURE", failed
    assert "code has no value" in failed["StatusMessage"] and "greet" in failed["StatusMessage"]
    bodies = {m["to"]: m["body"] for m in sim.messages()["messages"][before:]}
    assert bodies == {"+14155550301": "Hi Ann (VIP), code 111 from Repoint",
                      "+14155550302": "Hi there, code 222 from Acme"}, bodies


def test_template_versions_and_overrides_in_sends():
    app, sim = state["app"], state["sim"]
    api().create_sms_template(TemplateName="versioned", SMSTemplateRequest={"Body": "one {{n}}"})
    api().update_sms_template(TemplateName="versioned", CreateNewVersion=True,
                              SMSTemplateRequest={"Body": "two {{upper n}}"})
    before = len(sim.messages()["messages"])
    req = {"Addresses": {"+14155550311": {"ChannelType": "SMS"}},
           "MessageConfiguration": {"SMSMessage": {"Substitutions": {"n": ["x"]}}},
           "TemplateConfiguration": {"SMSTemplate": {"Name": "versioned"}}}

    def send():
        r = api().send_messages(ApplicationId=app, MessageRequest=req)["MessageResponse"]
        assert r["Result"]["+14155550311"]["DeliveryStatus"] == "SUCCESSFUL", r

    send()
    req["TemplateConfiguration"]["SMSTemplate"]["Version"] = "2"
    cli("send-messages", "--application-id", app, "--message-request", json.dumps(req))
    # A Body in the message overrides the template's.
    req["MessageConfiguration"]["SMSMessage"]["Body"] = "plain {{n}}"
    send()
    # The active version changes what later sends use: the compiled cache follows.
    api().update_template_active_version(TemplateName="versioned", TemplateType="SMS",
                                         TemplateActiveVersionRequest={"Version": "2"})
    del req["MessageConfiguration"]["SMSMessage"]["Body"]
    del req["TemplateConfiguration"]["SMSTemplate"]["Version"]
    send()
    # Overwriting the active version in place is seen by the next send too.
    api().update_sms_template(TemplateName="versioned", SMSTemplateRequest={"Body": "three {{n}}"})
    send()
    bodies = [m["body"] for m in sim.messages()["messages"][before:]]
    assert bodies == ["one x", "two X", "plain x", "two X", "three x"], bodies
    # A template that does not exist: 404, nothing sent.
    req["TemplateConfiguration"]["SMSTemplate"]["Name"] = "missing"
    err = api_error("send_messages", ApplicationId=app, MessageRequest=req)
    assert "NotFoundException" in err and "TemplateConfiguration.SMSTemplate" in err, err
    assert len(sim.messages()["messages"]) == before + 5
    # Deleted and created again under the same name: the new content is sent.
    api().delete_sms_template(TemplateName="versioned")
    api().create_sms_template(TemplateName="versioned", SMSTemplateRequest={"Body": "fresh {{n}}"})
    req["TemplateConfiguration"]["SMSTemplate"]["Name"] = "versioned"
    send()
    assert sim.messages()["messages"][-1]["body"] == "fresh x"


def test_send_users_messages_with_template():
    app, sim = state["app"], state["sim"]
    before = len(sim.messages()["messages"])
    resp = cli("send-users-messages", "--application-id", app, "--send-users-message-request",
               json.dumps({"Users": {"tpl-user": {"Substitutions": {"code": ["333"]}}},
                           "MessageConfiguration": {"SMSMessage": {"MessageType": "PROMOTIONAL"}},
                           "TemplateConfiguration": {"SMSTemplate": {"Name": "greet"}}}))
    result = resp["SendUsersMessageResponse"]["Result"]["tpl-user"]["tpl-1"]
    assert result["DeliveryStatus"] == "SUCCESSFUL", resp
    bodies = [m["body"] for m in sim.messages()["messages"][before:]]
    assert bodies == ["Hi Ann (VIP), code 333 from Repoint"], bodies


def main():
    sim = harness.SmsSim().start()
    redis = harness.Redis().start()
    daemon = None
    try:
        daemon = harness.Repoint(redis.url, env={**sim.env(), "REPOINT_DIRECT_DEADLINE_MS": "3000"})
        daemon.start()
        client = daemon.client()
        app = client.create_app(CreateApplicationRequest={"Name": "tpl"})["ApplicationResponse"]["Id"]
        client.update_sms_channel(ApplicationId=app, SMSChannelRequest={"Enabled": True,
                                                                       "SenderId": "Repoint"})
        state.update(sim=sim, redis=redis, daemon=daemon, app=app, client=client)
        try:
            harness.run_tests([
                test_sms_template_versions, test_email_and_push_templates_and_listing,
                test_templates_that_do_not_parse_are_refused, test_send_messages_with_sms_template,
                test_template_versions_and_overrides_in_sends, test_send_users_messages_with_template,
            ])
        except SystemExit as e:
            if e.code:
                sys.stderr.write(daemon.logs()[-15000:])
            raise
    finally:
        if daemon:
            daemon.cleanup()
        redis.cleanup()
        sim.stop()


if __name__ == "__main__":
    main()
