/* Tests for gateway/events.c: the Pinpoint event stream shape of each channel's results, the
 * status vocabularies, Context and channel attributes, the absence of message content, and
 * the DestinationStreamArn syntax. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gateway/delivery.h"
#include "gateway/events.h"
#include "gateway/json_write.h"
#include "gateway/keyspace.h"
#include "gateway/rc.h"
#include "gateway/util.h"

#define NOW         1767225600123LL
#define CREATED     1767225600000LL
#define SECRET_TEXT "Your code is 493021"

static void make(struct rp_delivery *d, const char *channel, const char *address,
                 const char *endpoint_id)
{
    rp_delivery_init(d);
    snprintf(d->message_id, sizeof(d->message_id), "msg-0001");
    snprintf(d->request_id, sizeof(d->request_id), "req-0001");
    snprintf(d->app_id, sizeof(d->app_id), "a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6");
    snprintf(d->channel, sizeof(d->channel), "%s", channel);
    d->address = rp_strdup(address);
    d->endpoint_id = endpoint_id ? rp_strdup(endpoint_id) : NULL;
    d->content = json_object();
    d->created_ms = CREATED;
    d->attempts = 1;
}

static const char *attr(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(json_object_get(event, "attributes"), name));
}

static const char *str(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

/* The message content never appears anywhere in the serialised event. */
static void assert_no_content(const json_t *event)
{
    char *text = json_dumps(event, JSON_COMPACT);
    assert_non_null(text);
    assert_null(strstr(text, SECRET_TEXT));
    assert_null(strstr(text, "\"Body\""));
    free(text);
}

static void assert_envelope(const json_t *e, const char *app)
{
    assert_int_equal(json_integer_value(json_object_get(e, "event_timestamp")), NOW);
    assert_int_equal(json_integer_value(json_object_get(e, "arrival_timestamp")), CREATED);
    assert_string_equal(str(e, "event_version"), "3.1");
    json_t *application = json_object_get(e, "application");
    assert_string_equal(str(application, "app_id"), app);
    assert_true(json_is_object(json_object_get(application, "sdk")));
    assert_true(json_is_object(json_object_get(json_object_get(e, "device"), "platform")));
    assert_true(json_is_object(json_object_get(e, "session")));
    assert_true(json_is_object(json_object_get(e, "metrics")));
    assert_string_equal(str(e, "awsAccountId"), "000000000000");
}

static void test_sms_success(void **state)
{
    struct rp_delivery d;
    make(&d, "SMS", "+14255550199", "ep-1");
    json_object_set_new(d.content, "Body", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "OriginationNumber", json_string("+12065550142"));
    json_object_set_new(d.content, "MessageType", json_string("TRANSACTIONAL"));
    d.context = json_pack("{s:s, s:s}", "userId", "user-B", "flow", "signup");
    d.trace_id = rp_strdup("trace-9");
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_delivery_result_set(&r, RP_DS_SUCCESSFUL, 201, "Queued");
    snprintf(r.message_id, sizeof(r.message_id), "SM123");
    r.attributes = json_pack("{s:s, s:i}", "number_of_message_parts", "1", "segments", 2);

    json_t *e = rp_event_from_result(&d, &r, NOW);
    assert_string_equal(str(e, "event_type"), "_SMS.SUCCESS");
    assert_envelope(e, d.app_id);
    assert_string_equal(str(json_object_get(e, "client"), "client_id"), "ep-1");
    assert_string_equal(attr(e, "message_id"), "msg-0001");
    assert_string_equal(attr(e, "provider_message_id"), "SM123");
    assert_string_equal(attr(e, "record_status"), "SUCCESSFUL");
    assert_string_equal(attr(e, "delivery_status"), "SUCCESSFUL");
    assert_string_equal(attr(e, "status_code"), "201");
    assert_string_equal(attr(e, "status_message"), "Queued");
    assert_string_equal(attr(e, "channel_type"), "SMS");
    assert_string_equal(attr(e, "destination_phone_number"), "+14255550199");
    assert_string_equal(attr(e, "origination_phone_number"), "+12065550142");
    assert_string_equal(attr(e, "message_type"), "Transactional");
    assert_string_equal(attr(e, "endpoint_id"), "ep-1");
    assert_string_equal(attr(e, "request_id"), "req-0001");
    assert_string_equal(attr(e, "sender_request_id"), "req-0001");
    assert_string_equal(attr(e, "trace_id"), "trace-9");
    assert_string_equal(attr(e, "attempt"), "1");
    assert_string_equal(attr(e, "userId"), "user-B");
    assert_string_equal(attr(e, "flow"), "signup");
    assert_string_equal(attr(e, "number_of_message_parts"), "1");
    assert_string_equal(attr(e, "segments"), "2");
    json_t *ctx = json_loads(attr(e, "customer_context"), 0, NULL);
    assert_string_equal(str(ctx, "userId"), "user-B");
    json_decref(ctx);
    assert_null(attr(e, "campaign_id"));
    assert_no_content(e);
    json_decref(e);
    rp_delivery_result_cleanup(&r);
    rp_delivery_cleanup(&d);
}

static void test_sms_failures(void **state)
{
    static const struct {
        enum rp_delivery_status status;
        int code, dead;
        const char *type, *record;
    } cases[] = {
        {RP_DS_PERMANENT_FAILURE, 400, 1, "_SMS.FAILURE", "INVALID"},
        {RP_DS_PERMANENT_FAILURE, 401, 0, "_SMS.FAILURE", "ACCESS_DENIED"},
        {RP_DS_PERMANENT_FAILURE, 400, 0, "_SMS.FAILURE", "UNKNOWN"},
        {RP_DS_TEMPORARY_FAILURE, 503, 0, "_SMS.FAILURE", "UNREACHABLE"},
        {RP_DS_THROTTLED, 429, 0, "_SMS.FAILURE", "RATE_EXCEEDED"},
        {RP_DS_UNKNOWN_FAILURE, 0, 0, "_SMS.FAILURE", "UNKNOWN"},
        {RP_DS_OPT_OUT, 0, 0, "_SMS.OPTOUT", "OPTED_OUT"},
        {RP_DS_DUPLICATE, 0, 0, "_SMS.FAILURE", "UNKNOWN"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_delivery d;
        make(&d, "SMS", "+14255550199", NULL);
        d.attempts = 3;
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_delivery_result_set(&r, cases[i].status, cases[i].code, "reason %zu", i);
        r.address_dead = cases[i].dead;
        json_t *e = rp_event_from_result(&d, &r, NOW);
        assert_string_equal(str(e, "event_type"), cases[i].type);
        assert_string_equal(attr(e, "record_status"), cases[i].record);
        assert_string_equal(attr(e, "delivery_status"), rp_delivery_status_name(cases[i].status));
        assert_string_equal(attr(e, "attempt"), "3");
        assert_null(attr(e, "provider_message_id"));
        assert_null(attr(e, "endpoint_id"));
        if (cases[i].dead)
            assert_string_equal(attr(e, "address_dead"), "true");
        /* A send to a bare address: client_id is the account, as in Pinpoint's SMS events. */
        assert_string_equal(str(json_object_get(e, "client"), "client_id"), "000000000000");
        json_decref(e);
        rp_delivery_result_cleanup(&r);
        rp_delivery_cleanup(&d);
    }
}

static void test_push_direct_and_campaign(void **state)
{
    struct rp_delivery d;
    make(&d, "GCM", "fcm-token-abc", "ep-7");
    json_object_set_new(d.content, "Title", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "Body", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "Data", json_pack("{s:s}", "code", SECRET_TEXT));
    json_object_set_new(d.content, "RawContent", json_string(SECRET_TEXT));
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_delivery_result_set(&r, RP_DS_SUCCESSFUL, 200, "OK");
    snprintf(r.updated_token, sizeof(r.updated_token), "fcm-token-new");

    json_t *e = rp_event_from_result(&d, &r, NOW);
    assert_string_equal(str(e, "event_type"), "_push.send");
    assert_envelope(e, d.app_id);
    assert_string_equal(attr(e, "delivery_type"), "GCM");
    assert_string_equal(attr(e, "push_send_status"), "SUCCESS");
    assert_null(attr(e, "campaign_send_status"));
    assert_string_equal(attr(e, "address"), "fcm-token-abc");
    assert_string_equal(attr(e, "updated_token"), "fcm-token-new");
    assert_no_content(e);
    json_decref(e);

    snprintf(d.campaign_id, sizeof(d.campaign_id), "camp-42");
    static const struct {
        enum rp_delivery_status status;
        const char *send_status;
    } cases[] = {
        {RP_DS_SUCCESSFUL, "SUCCESS"},
        {RP_DS_PERMANENT_FAILURE, "FAILURE_PERMANENT"},
        {RP_DS_TEMPORARY_FAILURE, "FAILURE_TEMPORARY"},
        {RP_DS_THROTTLED, "THROTTLED"},
        {RP_DS_UNKNOWN_FAILURE, "UNKNOWN"},
        {RP_DS_OPT_OUT, "OPT_OUT"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rp_delivery_result_set(&r, cases[i].status, 0, "x");
        e = rp_event_from_result(&d, &r, NOW);
        assert_string_equal(str(e, "event_type"), "_campaign.send");
        assert_string_equal(attr(e, "campaign_id"), "camp-42");
        assert_string_equal(attr(e, "campaign_send_status"), cases[i].send_status);
        assert_null(attr(e, "push_send_status"));
        json_decref(e);
    }
    static const char *const push[] = {"APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX",
                                       "ADM",  "BAIDU"};
    for (size_t i = 0; i < sizeof(push) / sizeof(push[0]); i++) {
        snprintf(d.channel, sizeof(d.channel), "%s", push[i]);
        e = rp_event_from_result(&d, &r, NOW);
        assert_string_equal(str(e, "event_type"), "_campaign.send");
        assert_string_equal(attr(e, "delivery_type"), push[i]);
        json_decref(e);
    }
    rp_delivery_result_cleanup(&r);
    rp_delivery_cleanup(&d);
}

static const json_t *mail_event(const json_t *e)
{
    return json_object_get(json_object_get(json_object_get(e, "facets"), "email_channel"),
                           "mail_event");
}

static void test_email(void **state)
{
    struct rp_delivery d;
    make(&d, "EMAIL", "user@example.com", "ep-mail");
    json_object_set_new(d.content, "FromAddress", json_string("sender@example.com"));
    json_object_set_new(d.content, "Subject", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "TextPart", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "HtmlPart", json_string(SECRET_TEXT));
    json_object_set_new(d.content, "RawEmail", json_string(SECRET_TEXT));
    static const struct {
        enum rp_delivery_status status;
        int code, dead;
        const char *type, *facet;
    } cases[] = {
        {RP_DS_SUCCESSFUL, 250, 0, "_email.send", "send"},
        {RP_DS_PERMANENT_FAILURE, 550, 1, "_email.hardbounce", "bounce"},
        /* Any 5xx from the relay is a permanent bounce; "rejected" is Repoint refusing to send
         * (no SMTP code), like SES rejecting a message. */
        {RP_DS_PERMANENT_FAILURE, 554, 0, "_email.hardbounce", "bounce"},
        {RP_DS_PERMANENT_FAILURE, 0, 0, "_email.rejected", "reject"},
        {RP_DS_TEMPORARY_FAILURE, 451, 0, "_email.softbounce", "bounce"},
        {RP_DS_THROTTLED, 421, 0, "_email.softbounce", "bounce"},
        {RP_DS_OPT_OUT, 0, 0, "_email.rejected", "reject"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_delivery_result_set(&r, cases[i].status, cases[i].code, "smtp said %d", cases[i].code);
        r.address_dead = cases[i].dead;
        json_t *e = rp_event_from_result(&d, &r, NOW);
        assert_string_equal(str(e, "event_type"), cases[i].type);
        assert_envelope(e, d.app_id);
        assert_string_equal(attr(e, "from_address"), "sender@example.com");
        const json_t *me = mail_event(e);
        const json_t *mail = json_object_get(me, "mail");
        assert_string_equal(str(mail, "message_id"), "msg-0001");
        assert_string_equal(str(mail, "from_address"), "sender@example.com");
        assert_string_equal(
            json_string_value(json_array_get(json_object_get(mail, "destination"), 0)),
            "user@example.com");
        assert_non_null(json_object_get(me, cases[i].facet));
        if (strcmp(cases[i].facet, "bounce") == 0)
            assert_string_equal(str(json_object_get(me, "bounce"), "bounce_type"),
                                strcmp(cases[i].type, "_email.hardbounce") == 0 ? "Permanent"
                                                                                : "Transient");
        assert_no_content(e);
        json_decref(e);
        rp_delivery_result_cleanup(&r);
    }
    rp_delivery_cleanup(&d);
}

/* Context and channel attributes cannot overwrite what Repoint says happened. */
static void test_reserved_attributes_win(void **state)
{
    struct rp_delivery d;
    make(&d, "SMS", "+14255550199", NULL);
    d.context = json_pack("{s:s, s:s}", "delivery_status", "SUCCESSFUL", "message_id", "fake");
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_delivery_result_set(&r, RP_DS_PERMANENT_FAILURE, 400, "bad");
    r.attributes = json_pack("{s:s, s:b, s:n}", "record_status", "SUCCESSFUL", "flag", 1, "gone");
    json_t *e = rp_event_from_result(&d, &r, NOW);
    assert_string_equal(attr(e, "delivery_status"), "PERMANENT_FAILURE");
    assert_string_equal(attr(e, "message_id"), "msg-0001");
    assert_string_equal(attr(e, "record_status"), "UNKNOWN");
    assert_string_equal(attr(e, "flag"), "true");
    assert_null(attr(e, "gone"));
    json_decref(e);
    rp_delivery_result_cleanup(&r);
    rp_delivery_cleanup(&d);
}

static void test_other_channel_and_defaults(void **state)
{
    struct rp_delivery d;
    make(&d, "VOICE", "+14255550199", NULL);
    d.created_ms = 0;
    d.attempts = 0;
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    json_t *e = rp_event_from_result(&d, &r, NOW);
    assert_string_equal(str(e, "event_type"), "_voice.send");
    assert_int_equal(json_integer_value(json_object_get(e, "arrival_timestamp")), NOW);
    assert_string_equal(attr(e, "attempt"), "1");
    assert_string_equal(attr(e, "delivery_status"), "UNKNOWN_FAILURE");
    json_decref(e);
    rp_delivery_result_cleanup(&r);
    rp_delivery_cleanup(&d);
}

static void test_destination_parse(void **state)
{
    struct rp_event_dest dest;
    struct rp_err err;
    assert_int_equal(rp_events_dest_parse("https://hooks.example.com/pinpoint?t=1", &dest, &err),
                     0);
    assert_int_equal(dest.kind, RP_EVENT_DEST_WEBHOOK);
    assert_string_equal(dest.target, "https://hooks.example.com/pinpoint?t=1");
    assert_int_equal(rp_events_dest_parse("http://127.0.0.1:8080/", &dest, &err), 0);
    assert_int_equal(dest.kind, RP_EVENT_DEST_WEBHOOK);
    assert_int_equal(rp_events_dest_parse("redis:app-events", &dest, &err), 0);
    assert_int_equal(dest.kind, RP_EVENT_DEST_REDIS);
    assert_string_equal(dest.target, "app-events");

    static const struct {
        const char *arn, *needle;
    } bad[] = {
        {"arn:aws:kinesis:us-east-1:123456789012:stream/s", "Kinesis"},
        {"arn:aws:firehose:us-east-1:123456789012:deliverystream/s", "Kinesis"},
        {"redis://localhost:6379/events", "own Redis"},
        {"redis:rp:events", "Repoint's own"},
        {"redis:", "stream key"},
        {"redis:has space", "stream key"},
        {"https://", "valid URL"},
        {"https:///path", "valid URL"},
        {"http://host/a b", "valid URL"},
        {"ftp://example.com/", "webhook"},
        {"", "required"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        assert_int_equal(rp_events_dest_parse(bad[i].arn, &dest, &err), RP_EINVAL);
        assert_string_equal(err.field, "DestinationStreamArn");
        if (!strstr(err.msg, bad[i].needle))
            fail_msg("%s: '%s' lacks '%s'", bad[i].arn, err.msg, bad[i].needle);
    }
    char long_url[RP_EVENTS_DEST_MAX + 16];
    memset(long_url, 'a', sizeof(long_url) - 1);
    long_url[sizeof(long_url) - 1] = '\0';
    memcpy(long_url, "https://", 8);
    assert_int_equal(rp_events_dest_parse(long_url, &dest, &err), RP_EINVAL);
}

static void test_settings_key(void **state)
{
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, "abc");
    assert_string_equal(key, "rp:{a:abc}:eventstream");
}

/* rp_event_text writes push events straight to text: byte for byte what the tree gives, for
 * every variant of a push result, and the tree's text for everything else. */
static void assert_text_is_tree(const struct rp_delivery *d, const struct rp_delivery_result *r)
{
    json_t *e = rp_event_from_result(d, r, NOW);
    size_t tree_len = 0, text_len = 0;
    char *tree = rp_json_dump(e, &tree_len);
    struct rp_json_text scratch = {0};
    const char *text = rp_event_text(&scratch, d, r, NOW, &text_len);
    assert_string_equal(text, tree);
    assert_int_equal(text_len, tree_len);
    /* Written again into the same scratch, it is the same text. */
    text = rp_event_text(&scratch, d, r, NOW, &text_len);
    assert_string_equal(text, tree);
    assert_int_equal(text_len, tree_len);
    free(tree);
    free(scratch.buf);
    json_decref(e);
}

static void test_event_text_matches_tree(void **state)
{
    (void)state;
    static const char *const channels[] = {"APNS", "APNS_VOIP_SANDBOX", "GCM", "ADM", "BAIDU",
                                           "SMS", "EMAIL", "VOICE"};
    for (size_t c = 0; c < sizeof(channels) / sizeof(channels[0]); c++)
        for (int variant = 0; variant < 6; variant++) {
            struct rp_delivery d;
            make(&d, channels[c], "tok\"en\\\n\x01", variant % 2 ? NULL : "ep-\u00e9");
            struct rp_delivery_result r;
            rp_delivery_result_init(&r);
            rp_delivery_result_set(&r, variant % 3 ? RP_DS_SUCCESSFUL : RP_DS_PERMANENT_FAILURE,
                                   variant % 3 ? 200 : 410, "reason \"%d\"\t", variant);
            if (variant >= 2) {
                snprintf(d.campaign_id, sizeof(d.campaign_id), "camp-1");
                snprintf(d.campaign_activity_id, sizeof(d.campaign_activity_id), "run-1");
                snprintf(r.message_id, sizeof(r.message_id), "provider-%d", variant);
            }
            if (variant == 3) {
                r.address_dead = 1;
                d.trace_id = rp_strdup("trace-1");
                d.attempts = 0;
                d.created_ms = 0;
            }
            if (variant == 4) {
                snprintf(r.updated_token, sizeof(r.updated_token), "new-token");
                d.context = json_object(); /* empty: still the push text */
            }
            if (variant == 5)
                d.context = json_pack("{s:s}", "delivery_status", "disguised");
            assert_text_is_tree(&d, &r);
            rp_delivery_result_cleanup(&r);
            rp_delivery_cleanup(&d);
        }
}

/* The trim's count is kept per stream: one append to A then 127 to B, over and over, trims
 * each stream once per RP_EVENTS_TRIM_EVERY of its own appends (a single count would fall on
 * A every time and never trim B). */
static void test_trim_counted_per_stream(void **state)
{
    (void)state;
    const char *a = "trim-test-a", *b = "trim-test-b";
    int trims_a = 0, trims_b = 0;
    for (int cycle = 0; cycle < 4 * RP_EVENTS_TRIM_EVERY; cycle++) {
        trims_a += rp_events_trim_due(a, strlen(a));
        for (int i = 0; i < RP_EVENTS_TRIM_EVERY - 1; i++)
            trims_b += rp_events_trim_due(b, strlen(b));
    }
    assert_int_equal(trims_a, 4);
    assert_int_equal(trims_b, 4 * (RP_EVENTS_TRIM_EVERY - 1));
    /* The first append to a stream trims; a key too long for the table trims every time. */
    assert_true(rp_events_trim_due("trim-test-new", 13));
    assert_false(rp_events_trim_due("trim-test-new", 13));
    char long_key[200];
    memset(long_key, 'k', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    assert_true(rp_events_trim_due(long_key, strlen(long_key)));
    assert_true(rp_events_trim_due(long_key, strlen(long_key)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms_success),
        cmocka_unit_test(test_sms_failures),
        cmocka_unit_test(test_push_direct_and_campaign),
        cmocka_unit_test(test_email),
        cmocka_unit_test(test_reserved_attributes_win),
        cmocka_unit_test(test_other_channel_and_defaults),
        cmocka_unit_test(test_destination_parse),
        cmocka_unit_test(test_settings_key),
        cmocka_unit_test(test_event_text_matches_tree),
        cmocka_unit_test(test_trim_counted_per_stream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
