/* WriteCampaignRequest reading (gateway/campaign_request.c): ISO 8601 times, the validation of
 * every range and refusal the reference and docs/campaigns.md state (each naming its member),
 * the Schedule as C values, and the campaign messages as the DirectMessageConfiguration the
 * renderer accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <string.h>

#include "campaign_request.h"
#include "rc.h"
#include "render_content.h"

#define NOW_MS 1795000000000LL /* 2026-11-19 */

static void iso_times(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(rp_campaign_parse_time("1970-01-01T00:00:00Z", &ms), 0);
    assert_int_equal(ms, 0);
    assert_int_equal(rp_campaign_parse_time("2026-11-22T18:20:00Z", &ms), 0);
    assert_int_equal(ms, 1795371600000LL);
    assert_int_equal(rp_campaign_parse_time("2026-11-22T18:20:00.5Z", &ms), 0);
    assert_int_equal(ms, 1795371600500LL);
    assert_int_equal(rp_campaign_parse_time("2026-11-22T20:20:00+02:00", &ms), 0);
    assert_int_equal(ms, 1795371600000LL);
    assert_int_equal(rp_campaign_parse_time("2026-11-22T13:50:00-0430", &ms), 0);
    assert_int_equal(ms, 1795371600000LL);
    assert_int_equal(rp_campaign_parse_time("2026-11-22T18:20Z", &ms), 0);
    assert_int_equal(ms, 1795371600000LL);
    assert_int_equal(rp_campaign_parse_time("2028-02-29T00:00:00Z", &ms), 0);
    static const char *const bad[] = {"",  "IMMEDIATE", "2026-11-22", "2026-13-01T00:00:00Z",
                                      "2026-02-29T00:00:00Z", "2026-11-22T24:00:00Z",
                                      "2026-11-22T18:20:00Zjunk", "2026-11-22T18:20:00.Z",
                                      "1969-12-31T23:59:59Z", "2026-11-22T18:20:00+25:00",
                                      "2026-11-31T00:00:00Z"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(rp_campaign_parse_time(bad[i], &ms), RP_EINVAL);
}

static json_t *base(void)
{
    return json_pack("{s:s, s:{s:{s:s, s:s}}, s:{s:s}}", "SegmentId", "seg1",
                     "MessageConfiguration", "APNSMessage", "Title", "Hi", "Body",
                     "Hello {{Attributes.name}}", "Schedule", "StartTime", "IMMEDIATE");
}

/* Sets a member given as JSON text at a dotted path on a fresh base request, validates it and
 * checks the field the error names (NULL: accepted). */
static void expect(const char *path, const char *json_value, const char *field)
{
    json_t *body = base();
    json_t *value = json_loads(json_value, JSON_DECODE_ANY, NULL);
    assert_non_null(value);
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *obj = body;
    char *dot, *name = buf;
    while ((dot = strchr(name, '.'))) {
        *dot = '\0';
        json_t *next = json_object_get(obj, name);
        if (!next) {
            next = json_object();
            json_object_set_new(obj, name, next);
        }
        obj = next;
        name = dot + 1;
    }
    json_object_set_new(obj, name, value);
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_campaign_request_validate(body, NOW_MS, &err);
    if (!field) {
        if (rc)
            fail_msg("%s=%s refused: %s: %s", path, json_value, err.field, err.msg);
    } else {
        assert_int_equal(rc, RP_EINVAL);
        if (strcmp(err.field, field) != 0)
            fail_msg("%s=%s: named %s (%s), want %s", path, json_value, err.field, err.msg,
                     field);
        assert_true(err.msg[0] != '\0');
    }
    json_decref(body);
}

static void validation(void **state)
{
    (void)state;
    json_t *body = base();
    struct rp_err err;
    assert_int_equal(rp_campaign_request_validate(body, NOW_MS, &err), 0);
    json_object_del(body, "SegmentId");
    assert_int_equal(rp_campaign_request_validate(body, NOW_MS, &err), RP_EINVAL);
    assert_string_equal(err.field, "SegmentId");
    json_decref(body);

    expect("Limits.MessagesPerSecond", "1", NULL);
    expect("Limits.MessagesPerSecond", "20000", NULL);
    expect("Limits.MessagesPerSecond", "0", "Limits.MessagesPerSecond");
    expect("Limits.MessagesPerSecond", "20001", "Limits.MessagesPerSecond");
    expect("Limits.MessagesPerSecond", "\"5\"", "Limits.MessagesPerSecond");
    expect("Limits.MaximumDuration", "59", "Limits.MaximumDuration");
    expect("Limits.MaximumDuration", "60", NULL);
    expect("Limits.Daily", "101", "Limits.Daily");
    expect("Limits.Total", "-1", "Limits.Total");
    expect("Limits.Session", "3", NULL);
    expect("Limits", "[]", "Limits");
    expect("HoldoutPercent", "100", NULL);
    expect("HoldoutPercent", "101", "HoldoutPercent");
    expect("SegmentVersion", "0", "SegmentVersion");
    expect("IsPaused", "1", "IsPaused");
    expect("Priority", "9", "Priority");
    expect("Schedule.StartTime", "\"2026-11-22T18:00:00Z\"", NULL);
    expect("Schedule.StartTime", "\"soon\"", "Schedule.StartTime");
    expect("Schedule.StartTime", "null", "Schedule.StartTime");
    expect("Schedule.EndTime", "\"2020-01-01T00:00:00Z\"", "Schedule.EndTime");
    expect("Schedule.Frequency", "\"WEEKLY\"", "Schedule.EndTime");
    expect("Schedule.Frequency", "\"EVENT\"", "Schedule.Frequency");
    expect("Schedule.Frequency", "\"IN_APP_EVENT\"", "Schedule.Frequency");
    expect("Schedule.Frequency", "\"YEARLY\"", "Schedule.Frequency");
    expect("Schedule.Frequency", "\"ONCE\"", NULL);
    expect("Schedule.IsLocalTime", "true", "Schedule.IsLocalTime");
    expect("Schedule.IsLocalTime", "false", NULL);
    expect("Schedule.Timezone", "\"UTC+05:30\"", NULL);
    expect("Schedule.Timezone", "\"UTC-08\"", NULL);
    expect("Schedule.Timezone", "\"PST\"", "Schedule.Timezone");
    expect("Schedule.Timezone", "\"UTC+15\"", "Schedule.Timezone");
    expect("Schedule.QuietTime", "{\"Start\": \"22:00\", \"End\": \"07:00\"}", NULL);
    expect("Schedule.QuietTime", "{\"Start\": \"22:00\"}", "Schedule.QuietTime.End");
    expect("Schedule.QuietTime", "{\"Start\": \"24:00\", \"End\": \"07:00\"}",
           "Schedule.QuietTime.Start");
    expect("Schedule.QuietTime", "{\"Start\": \"\", \"End\": \"\"}", NULL);
    expect("Schedule.EventFilter", "{\"FilterType\": \"SYSTEM\"}", "Schedule.EventFilter");
    expect("AdditionalTreatments", "[]", NULL);
    expect("AdditionalTreatments", "[{\"SizePercent\": 50}]", "AdditionalTreatments");
    expect("Hook", "{\"LambdaFunctionName\": \"f\"}", "Hook");
    expect("CustomDeliveryConfiguration", "{\"DeliveryUri\": \"x\"}",
           "CustomDeliveryConfiguration");
    expect("MessageConfiguration.InAppMessage", "{}", "MessageConfiguration.InAppMessage");
    expect("MessageConfiguration.CustomMessage", "{}", "MessageConfiguration.CustomMessage");
    expect("MessageConfiguration.GCMMessage.Action", "\"JUMP\"",
           "MessageConfiguration.GCMMessage.Action");
    expect("MessageConfiguration.GCMMessage.TimeToLive", "-1",
           "MessageConfiguration.GCMMessage.TimeToLive");
    expect("MessageConfiguration.DefaultMessage.JsonBody", "\"[1]\"",
           "MessageConfiguration.DefaultMessage.JsonBody");
    expect("MessageConfiguration.APNSMessage.Body", "\"{{#if}}\"",
           "MessageConfiguration.APNSMessage.Body");
    expect("MessageConfiguration.SMSMessage.MessageType", "\"LOUD\"",
           "MessageConfiguration.SMSMessage.MessageType");
    expect("TemplateConfiguration.VoiceTemplate", "{\"Name\": \"v\"}",
           "TemplateConfiguration.VoiceTemplate");
    expect("tags.team", "5", "tags");
}

static void nothing_to_send_and_no_schedule(void **state)
{
    (void)state;
    struct rp_err err;
    json_t *body = base();
    json_object_del(body, "MessageConfiguration");
    assert_int_equal(rp_campaign_request_validate(body, NOW_MS, &err), RP_EINVAL);
    assert_string_equal(err.field, "MessageConfiguration");
    json_object_set_new(body, "TemplateConfiguration",
                        json_pack("{s:{s:s}}", "PushTemplate", "Name", "welcome"));
    assert_int_equal(rp_campaign_request_validate(body, NOW_MS, &err), 0);
    json_object_del(body, "Schedule");
    assert_int_equal(rp_campaign_request_validate(body, NOW_MS, &err), RP_EINVAL);
    assert_string_equal(err.field, "Schedule");
    json_decref(body);
    json_t *array = json_array();
    assert_int_equal(rp_campaign_request_validate(array, NOW_MS, &err), RP_EINVAL);
    json_decref(array);
}

static void quiet_time(void **state)
{
    (void)state;
    assert_int_equal(rp_campaign_parse_hhmm("00:00"), 0);
    assert_int_equal(rp_campaign_parse_hhmm("23:59"), 1439);
    assert_int_equal(rp_campaign_parse_hhmm("7:30"), -1);
    assert_int_equal(rp_campaign_parse_hhmm("07:60"), -1);
    assert_true(rp_campaign_quiet(600, 720, 600));
    assert_true(rp_campaign_quiet(600, 720, 720));
    assert_false(rp_campaign_quiet(600, 720, 721));
    assert_true(rp_campaign_quiet(1320, 420, 1400)); /* 22:00-07:00 wraps past midnight */
    assert_true(rp_campaign_quiet(1320, 420, 60));
    assert_false(rp_campaign_quiet(1320, 420, 600));
    assert_false(rp_campaign_quiet(-1, 420, 60));
}

static void schedules(void **state)
{
    (void)state;
    struct rp_campaign_schedule s;
    json_t *body = base();
    rp_campaign_schedule_read(body, &s);
    assert_true(s.immediate);
    assert_int_equal(s.frequency, RP_FREQ_ONCE);
    json_object_set_new(body, "Schedule",
                        json_pack("{s:s, s:s, s:s}", "StartTime", "2026-11-22T18:20:00Z",
                                  "EndTime", "2026-12-22T18:20:00Z", "Frequency", "DAILY"));
    rp_campaign_schedule_read(body, &s);
    assert_false(s.immediate);
    assert_int_equal(s.start_ms, 1795371600000LL);
    assert_int_equal(s.end_ms, 1795371600000LL + 30LL * 86400000);
    assert_int_equal(s.frequency, RP_FREQ_DAILY);
    assert_int_equal(rp_campaign_period_ms(RP_FREQ_DAILY), 86400000);
    assert_int_equal(rp_campaign_period_ms(RP_FREQ_ONCE), 0);
    json_decref(body);
}

static void direct_configuration(void **state)
{
    (void)state;
    json_t *mc = json_loads(
        "{\"DefaultMessage\": {\"Title\": \"T\", \"Body\": \"B\", \"JsonBody\": "
        "\"{\\\"k\\\": \\\"v\\\", \\\"n\\\": 1}\", \"ImageSmallIconUrl\": \"s\", "
        "\"TimeToLive\": 60},"
        " \"APNSMessage\": {\"Body\": \"apns\", \"MediaUrl\": \"m\", \"TimeToLive\": 30},"
        " \"EmailMessage\": {\"Title\": \"Subj\", \"Body\": \"text\", \"HtmlBody\": \"<b>h</b>\","
        " \"FromAddress\": \"a@example.com\"},"
        " \"SMSMessage\": {\"Body\": \"sms\", \"MessageType\": \"PROMOTIONAL\"}}",
        0, NULL);
    assert_non_null(mc);
    json_t *d = rp_campaign_direct_configuration(mc);
    struct rp_err err;
    rp_err_clear(&err);
    assert_int_equal(rp_render_validate_message_configuration(d, &err), 0);
    json_t *gcm = json_object_get(d, "GCMMessage");
    assert_string_equal(json_string_value(json_object_get(gcm, "Body")), "B");
    assert_string_equal(json_string_value(json_object_get(gcm, "SmallImageIconUrl")), "s");
    assert_int_equal(json_integer_value(json_object_get(gcm, "TimeToLive")), 60);
    assert_string_equal(json_string_value(json_object_get(json_object_get(gcm, "Data"), "n")),
                        "1");
    json_t *adm = json_object_get(d, "ADMMessage");
    assert_string_equal(json_string_value(json_object_get(adm, "ExpiresAfter")), "60");
    json_t *apns = json_object_get(d, "APNSMessage");
    assert_string_equal(json_string_value(json_object_get(apns, "Body")), "apns");
    assert_string_equal(json_string_value(json_object_get(apns, "MediaUrl")), "m");
    json_t *simple = json_object_get(json_object_get(d, "EmailMessage"), "SimpleEmail");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(simple, "Subject"), "Data")), "Subj");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(simple, "HtmlPart"), "Data")),
        "<b>h</b>");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(d, "SMSMessage"), "MessageType")),
                        "PROMOTIONAL");
    json_decref(d);
    json_t *body = json_pack("{s:O}", "MessageConfiguration", mc);
    assert_true(rp_campaign_has_message(body, "GCM"));
    assert_true(rp_campaign_has_message(body, "APNS_SANDBOX"));
    assert_false(rp_campaign_has_message(body, "VOICE"));
    json_object_del(json_object_get(body, "MessageConfiguration"), "DefaultMessage");
    assert_false(rp_campaign_has_message(body, "GCM"));
    assert_true(rp_campaign_has_message(body, "APNS"));
    assert_true(rp_campaign_has_message(body, "SMS"));
    json_decref(body);
    json_decref(mc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(iso_times),
        cmocka_unit_test(validation),
        cmocka_unit_test(nothing_to_send_and_no_schedule),
        cmocka_unit_test(schedules),
        cmocka_unit_test(quiet_time),
        cmocka_unit_test(direct_configuration),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
