"""Conformance of the message template operations: boto3, unmodified, calls every template
operation against a real `repoint serve` and redis-server, and each raw answer is checked
against botocore's own model of Pinpoint (status code, member names, value types) with the
checks of test_boto3.py; errors must have the Pinpoint error shape and name the field."""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
import test_boto3 as conf  # noqa: E402  (its Recorder, call and expect_error)

S = conf.S


def test_sms_template_shapes():
    body, _ = conf.call("create_sms_template", TemplateName="c-sms", SMSTemplateRequest={
        "Body": "Hi {{name}}", "TemplateDescription": "d", "tags": {"k": "v"},
        "DefaultSubstitutions": json.dumps({"name": "you"})})
    assert body["Message"] and body["RequestID"] and body["Arn"].endswith("templates/c-sms/SMS")
    got, raw = conf.call("get_sms_template", TemplateName="c-sms")
    assert got["Body"] == "Hi {{name}}" and got["Version"] == "1" and got["tags"] == {"k": "v"}
    assert conf.ISO_RE.match(raw["CreationDate"]) and conf.ISO_RE.match(raw["LastModifiedDate"])
    conf.call("update_sms_template", TemplateName="c-sms", CreateNewVersion=True,
              SMSTemplateRequest={"Body": "v2 {{name}}"})
    conf.call("update_sms_template", TemplateName="c-sms", Version="2",
              SMSTemplateRequest={"Body": "v2b {{name}}"})
    versions, _ = conf.call("list_template_versions", TemplateName="c-sms", TemplateType="SMS")
    assert [v["Version"] for v in versions["Item"]] == ["1", "2"], versions
    conf.call("update_template_active_version", TemplateName="c-sms", TemplateType="SMS",
              TemplateActiveVersionRequest={"Version": "2"})
    got, _ = conf.call("get_sms_template", TemplateName="c-sms")
    assert got["Body"] == "v2b {{name}}", got
    listed, _ = conf.call("list_templates", Prefix="c-", TemplateType="SMS")
    assert [(t["TemplateName"], t["Version"]) for t in listed["Item"]] == [("c-sms", "2")]
    conf.call("delete_sms_template", TemplateName="c-sms", Version="1")
    conf.call("delete_sms_template", TemplateName="c-sms")


def test_email_and_push_template_shapes():
    conf.call("create_email_template", TemplateName="c-mail", EmailTemplateRequest={
        "Subject": "S {{x}}", "HtmlPart": "<b>{{x}}</b>", "TextPart": "{{x}}",
        "RecommenderId": "r-1"})
    got, _ = conf.call("get_email_template", TemplateName="c-mail")
    assert got["HtmlPart"] == "<b>{{x}}</b>" and got["TemplateType"] == "EMAIL", got
    conf.call("update_email_template", TemplateName="c-mail",
              EmailTemplateRequest={"Subject": "S2", "HtmlPart": "<i>{{x}}</i>"})
    conf.call("create_push_template", TemplateName="c-push", PushNotificationTemplateRequest={
        "Default": {"Body": "b {{x}}", "Title": "t", "Action": "OPEN_APP"},
        "GCM": {"Body": "gcm", "ImageUrl": "https://i.example.com/{{x}}.png"},
        "APNS": {"Body": "apns", "MediaUrl": "https://m.example.com/a.png", "Sound": "default"}})
    push, _ = conf.call("get_push_template", TemplateName="c-push")
    assert push["GCM"]["ImageUrl"] == "https://i.example.com/{{x}}.png", push
    assert push["Default"]["Action"] == "OPEN_APP", push
    conf.call("update_push_template", TemplateName="c-push", CreateNewVersion=True,
              PushNotificationTemplateRequest={"Default": {"Body": "v2"}})
    versions, _ = conf.call("list_template_versions", TemplateName="c-push",
                            TemplateType="PUSH", PageSize="1")
    assert len(versions["Item"]) == 1 and versions["NextToken"], versions
    listed, _ = conf.call("list_templates", PageSize="1")
    assert len(listed["Item"]) == 1 and listed["NextToken"], listed
    conf.call("delete_email_template", TemplateName="c-mail")
    conf.call("delete_push_template", TemplateName="c-push")


def test_template_errors():
    conf.expect_error("NotFoundException", "get_email_template", TemplateName="nope")
    conf.expect_error("NotFoundException", "delete_push_template", TemplateName="nope")
    conf.expect_error("NotFoundException", "update_sms_template", TemplateName="nope",
                      SMSTemplateRequest={"Body": "x"})
    conf.expect_error("BadRequestException", "create_sms_template", field="Body",
                      TemplateName="c-bad", SMSTemplateRequest={"Body": "{{#each x}}"})
    conf.expect_error("BadRequestException", "create_push_template", field="APNS.Action",
                      TemplateName="c-bad", PushNotificationTemplateRequest={
                          "APNS": {"Body": "x", "Action": "LAUNCH"}})
    conf.expect_error("BadRequestException", "create_email_template", field="template-name",
                      TemplateName="_bad", EmailTemplateRequest={"Subject": "x"})
    conf.expect_error("BadRequestException", "list_template_versions", field="template-type",
                      TemplateName="x", TemplateType="VOICE")
    conf.expect_error("BadRequestException", "list_templates", field="page-size", PageSize="0")
    conf.call("create_sms_template", TemplateName="c-once", SMSTemplateRequest={"Body": "x"})
    conf.expect_error("BadRequestException", "update_template_active_version", field="Version",
                      TemplateName="c-once", TemplateType="SMS",
                      TemplateActiveVersionRequest={"Version": "first"})
    conf.expect_error("BadRequestException", "get_sms_template", field="version",
                      TemplateName="c-once", Version="latest")


TESTS = [test_sms_template_shapes, test_email_and_push_template_shapes, test_template_errors]


def main():
    code = 1
    with harness.stack() as (redis, daemon):
        S.redis, S.daemon = redis, daemon
        S.c = daemon.client()
        S.rec = conf.Recorder()
        S.rec.attach(S.c)
        try:
            harness.run_tests(TESTS)
            code = 0
        except SystemExit as e:
            code = e.code
        if code:
            sys.stderr.write("---- repoint log (tail) ----\n" + daemon.logs()[-6000:] + "\n")
    sys.exit(code)


if __name__ == "__main__":
    main()
