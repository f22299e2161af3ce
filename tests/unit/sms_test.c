/* Tests for channels/sms/sms_payload.c (form body, sender choice, segments, result mapping,
 * X-Twilio-Signature, status callbacks) and the parts of channels/sms/sms.c that complete
 * without a provider (not configured, no sender, no body, deadline passed). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>
#include <jansson.h>

#include "channels/channel.h"
#include "channels/httpc.h"
#include "channels/sms/sms_payload.h"
#include "gateway/config.h"
#include "gateway/rc.h"
#include "gateway/util.h"

/* ---- Form body ------------------------------------------------------------------------------ */

static void test_form_build_encodes(void **state)
{
    struct rp_sms_message m = {
        .to = "+15551234567",
        .body = "Hi there + \xc3\xbcn\xc3\xaf"
                "code \xe2\x82\xac & =",
        .sender = {.kind = RP_SMS_SENDER_FROM, .value = "+15550001111"},
        .status_callback = "https://rp.example.com/repoint/v1/sms/status?a=1&b=2",
    };
    char *form = rp_sms_form_build(&m);
    assert_string_equal(form, "To=%2B15551234567&From=%2B15550001111"
                              "&Body=Hi%20there%20%2B%20%C3%BCn%C3%AFcode%20%E2%82%AC%20%26%20%3D"
                              "&StatusCallback=https%3A%2F%2Frp.example.com%2Frepoint%2Fv1%2Fsms"
                              "%2Fstatus%3Fa%3D1%26b%3D2");
    /* What we encode, a form parser reads back exactly. */
    struct rp_sms_form f;
    assert_int_equal(rp_sms_form_parse(form, strlen(form), &f), 0);
    assert_int_equal(f.n, 4);
    assert_string_equal(rp_sms_form_get(&f, "To"), m.to);
    assert_string_equal(rp_sms_form_get(&f, "From"), m.sender.value);
    assert_string_equal(rp_sms_form_get(&f, "Body"), m.body);
    assert_string_equal(rp_sms_form_get(&f, "StatusCallback"), m.status_callback);
    rp_sms_form_cleanup(&f);
    free(form);
}

static void test_form_build_service_without_callback(void **state)
{
    struct rp_sms_message m = {
        .to = "+447700900123",
        .body = "code: 123456",
        .sender = {.kind = RP_SMS_SENDER_SERVICE, .value = "MG0123456789abcdef"},
        .status_callback = "",
    };
    char *form = rp_sms_form_build(&m);
    assert_string_equal(form, "To=%2B447700900123&MessagingServiceSid=MG0123456789abcdef"
                              "&Body=code%3A%20123456");
    free(form);
    /* India DLT registration travels with the message when given. */
    m.entity_id = "1101234567890123456";
    m.template_id = "1107161234567890123";
    form = rp_sms_form_build(&m);
    assert_string_equal(form, "To=%2B447700900123&MessagingServiceSid=MG0123456789abcdef"
                              "&Body=code%3A%20123456&EntityId=1101234567890123456"
                              "&TemplateId=1107161234567890123");
    free(form);
}

static void test_messages_url(void **state)
{
    char *url = rp_sms_messages_url("https://api.twilio.com", "AC123");
    assert_string_equal(url, "https://api.twilio.com/2010-04-01/Accounts/AC123/Messages.json");
    free(url);
    url = rp_sms_messages_url("http://127.0.0.1:8000/", "AC 1/2");
    assert_string_equal(url, "http://127.0.0.1:8000/2010-04-01/Accounts/AC%201%2F2/Messages.json");
    free(url);
}

static void test_form_parse_edges(void **state)
{
    struct rp_sms_form f;
    const char *body = "a=1+2&&b&c=%41%7a&=empty&d=";
    assert_int_equal(rp_sms_form_parse(body, strlen(body), &f), 0);
    assert_int_equal(f.n, 5);
    assert_string_equal(rp_sms_form_get(&f, "a"), "1 2");
    assert_string_equal(rp_sms_form_get(&f, "b"), "");
    assert_string_equal(rp_sms_form_get(&f, "c"), "Az");
    assert_string_equal(rp_sms_form_get(&f, ""), "empty");
    assert_string_equal(rp_sms_form_get(&f, "d"), "");
    assert_null(rp_sms_form_get(&f, "e"));
    rp_sms_form_cleanup(&f);

    /* Only len bytes are read. */
    assert_int_equal(rp_sms_form_parse("x=1&y=2", 3, &f), 0);
    assert_int_equal(f.n, 1);
    rp_sms_form_cleanup(&f);

    static const char *const bad[] = {"a=%", "a=%4", "a=%zz", "a=%00", "%g1=x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(rp_sms_form_parse(bad[i], strlen(bad[i]), &f), RP_EINVAL);
        rp_sms_form_cleanup(&f);
    }
    assert_int_equal(rp_sms_form_parse("a=1\0b=2", 7, &f), RP_EINVAL);
    rp_sms_form_cleanup(&f);

    char many[RP_SMS_FORM_MAX_PARAMS * 4 + 16] = "";
    for (int i = 0; i <= RP_SMS_FORM_MAX_PARAMS; i++)
        strcat(many, "a=1&");
    assert_int_equal(rp_sms_form_parse(many, strlen(many), &f), RP_ELIMIT);
    rp_sms_form_cleanup(&f);
}

/* ---- Sender --------------------------------------------------------------------------------- */

static void test_sender_precedence(void **state)
{
    json_t *content =
        json_pack("{s:s, s:s}", "OriginationNumber", "+15550001111", "SenderId", "MsgSender");
    json_t *settings = json_pack("{s:s, s:s}", "SenderId", "AppSender", "ShortCode", "12345");
    struct rp_sms_sender s;

    rp_sms_sender_select(content, settings, "MGservice", &s);
    assert_int_equal(s.kind, RP_SMS_SENDER_FROM);
    assert_string_equal(s.value, "+15550001111");
    assert_string_equal(s.source, "OriginationNumber");

    json_object_set_new(content, "OriginationNumber", json_string(""));
    rp_sms_sender_select(content, settings, "MGservice", &s);
    assert_string_equal(s.value, "MsgSender");

    json_object_del(content, "SenderId");
    rp_sms_sender_select(content, settings, "MGservice", &s);
    assert_int_equal(s.kind, RP_SMS_SENDER_FROM);
    assert_string_equal(s.value, "AppSender");

    json_object_set_new(settings, "SenderId", json_null());
    rp_sms_sender_select(content, settings, "MGservice", &s);
    assert_string_equal(s.value, "12345");
    assert_string_equal(s.source, "ShortCode");

    json_object_clear(settings);
    rp_sms_sender_select(content, settings, "MGservice", &s);
    assert_int_equal(s.kind, RP_SMS_SENDER_SERVICE);
    assert_string_equal(s.value, "MGservice");

    rp_sms_sender_select(content, settings, "", &s);
    assert_int_equal(s.kind, RP_SMS_SENDER_NONE);
    assert_null(s.value);
    rp_sms_sender_select(NULL, NULL, NULL, &s);
    assert_int_equal(s.kind, RP_SMS_SENDER_NONE);

    json_decref(content);
    json_decref(settings);
}

/* ---- Segments ------------------------------------------------------------------------------- */

static char *repeat(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = rp_malloc(len * n + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, unit, len);
    s[len * n] = '\0';
    return s;
}

static void expect_segments(const char *body, enum rp_sms_encoding enc, size_t units, int parts)
{
    struct rp_sms_segments seg;
    rp_sms_segments_count(body, &seg);
    assert_int_equal(seg.encoding, enc);
    assert_int_equal(seg.units, units);
    assert_int_equal(seg.parts, parts);
}

static void expect_repeat(const char *unit, size_t n, enum rp_sms_encoding enc, size_t units,
                          int parts)
{
    char *s = repeat(unit, n);
    expect_segments(s, enc, units, parts);
    free(s);
}

static void test_segments_gsm(void **state)
{
    expect_segments("", RP_SMS_GSM7, 0, 1);
    expect_segments(NULL, RP_SMS_GSM7, 0, 1);
    expect_repeat("a", 160, RP_SMS_GSM7, 160, 1);
    expect_repeat("a", 161, RP_SMS_GSM7, 161, 2);
    expect_repeat("a", 306, RP_SMS_GSM7, 306, 2);
    expect_repeat("a", 307, RP_SMS_GSM7, 307, 3);
    expect_repeat("a", 1600, RP_SMS_GSM7, 1600, 11);
    /* The default alphabet's non-ASCII letters take one septet ... */
    expect_segments("\xc3\xa9t\xc3\xa9 \xc3\xa0 \xc3\x91"
                    "and\xc3\xb6 \xce\x94 \xc2\xa3",
                    RP_SMS_GSM7, 15, 1);
    /* ... the extension table two: the euro sign, brackets, caret, tilde, pipe, backslash. */
    expect_segments("\xe2\x82\xac", RP_SMS_GSM7, 2, 1);
    expect_segments("[]{}^~|\\", RP_SMS_GSM7, 16, 1);
    expect_repeat("\xe2\x82\xac", 80, RP_SMS_GSM7, 160, 1);
    expect_repeat("\xe2\x82\xac", 81, RP_SMS_GSM7, 162, 2);
    expect_repeat("a", 159, RP_SMS_GSM7, 159, 1);

    /* An escape pair never straddles two parts: 152 + 2 does not fit a 153-septet part. */
    char *a = repeat("a", 152);
    size_t n = strlen(a);
    char *s = rp_malloc(2 * n + 4);
    snprintf(s, 2 * n + 4, "%s\xe2\x82\xac%s", a, a);
    expect_segments(s, RP_SMS_GSM7, 306, 3);
    free(s);
    free(a);
}

static void test_segments_ucs2(void **state)
{
    /* A grave accent, Cyrillic or an emoji leave GSM: UCS-2, 70 / 67 units a part. */
    expect_segments("`", RP_SMS_UCS2, 1, 1);
    expect_segments("Hello \xf0\x9f\x98\x80", RP_SMS_UCS2, 8, 1);
    expect_repeat("\xd0\xb6", 70, RP_SMS_UCS2, 70, 1);
    expect_repeat("\xd0\xb6", 71, RP_SMS_UCS2, 71, 2);
    expect_repeat("\xd0\xb6", 134, RP_SMS_UCS2, 134, 2);
    expect_repeat("\xd0\xb6", 135, RP_SMS_UCS2, 135, 3);
    expect_repeat("\xf0\x9f\x98\x80", 35, RP_SMS_UCS2, 70, 1);
    expect_repeat("\xf0\x9f\x98\x80", 36, RP_SMS_UCS2, 72, 2);
    /* A surrogate pair never straddles two parts: 66 + 2 does not fit a 67-unit part. */
    char *zh = repeat("\xd0\xb6", 66);
    size_t n = strlen(zh);
    char *s = rp_malloc(2 * n + 8);
    snprintf(s, 2 * n + 8, "%s\xf0\x9f\x98\x80%s", zh, zh);
    expect_segments(s, RP_SMS_UCS2, 134, 3);
    free(s);
    free(zh);
    /* Invalid UTF-8 is sent as UCS-2, one unit per bad byte. */
    expect_segments("ab\xff", RP_SMS_UCS2, 3, 1);
    assert_string_equal(rp_sms_encoding_name(RP_SMS_GSM7), "GSM");
    assert_string_equal(rp_sms_encoding_name(RP_SMS_UCS2), "UCS2");
}

static void test_attributes(void **state)
{
    struct rp_sms_segments seg = {.encoding = RP_SMS_UCS2, .units = 80, .parts = 2};
    json_t *a = rp_sms_attributes(&seg, "PROMOTIONAL", "+15550001111");
    assert_string_equal(json_string_value(json_object_get(a, "number_of_message_parts")), "2");
    assert_string_equal(json_string_value(json_object_get(a, "message_type")), "Promotional");
    assert_string_equal(json_string_value(json_object_get(a, "encoding")), "UCS2");
    assert_string_equal(json_string_value(json_object_get(a, "origination_phone_number")),
                        "+15550001111");
    json_decref(a);
    seg.encoding = RP_SMS_GSM7;
    a = rp_sms_attributes(&seg, NULL, NULL);
    assert_string_equal(json_string_value(json_object_get(a, "message_type")), "Transactional");
    assert_string_equal(json_string_value(json_object_get(a, "encoding")), "GSM");
    assert_null(json_object_get(a, "origination_phone_number"));
    json_decref(a);
}

/* ---- Result mapping ------------------------------------------------------------------------- */

struct classify_case {
    long status;
    int transport_error;
    const char *body;
    const char *retry_after;
    enum rp_delivery_status expect;
    int dead;
    long long retry_ms;
    const char *message_has; /* substring of status_message */
    const char *record;      /* attributes.record_status */
};

#define NOW_MS 784111777000LL /* Sun, 06 Nov 1994 08:49:37 GMT */

static const struct classify_case classify_cases[] = {
    {201, 0, "{\"sid\":\"SM0123456789abcdef0123456789abcdef\",\"status\":\"queued\"}", NULL,
     RP_DS_SUCCESSFUL, 0, 0, "MessageId: SM0123456789abcdef0123456789abcdef", "SUCCESSFUL"},
    {200, 0, "not json", NULL, RP_DS_SUCCESSFUL, 0, 0, "without a message sid", "SUCCESSFUL"},
    {400, 0,
     "{\"code\":21211,\"message\":\"The 'To' number +15005550001 is not a valid phone "
     "number.\",\"status\":400}",
     NULL, RP_DS_PERMANENT_FAILURE, 1, 0, "provider error 21211: The 'To' number +150", "INVALID"},
    {400, 0, "{\"code\":21614,\"message\":\"'To' number is not a valid mobile number\"}", NULL,
     RP_DS_PERMANENT_FAILURE, 1, 0, "21614", "UNREACHABLE"},
    {400, 0,
     "{\"code\":21612,\"message\":\"The 'To' phone number: 15005550001, is not currently "
     "reachable using the 'From' phone number: +15005550006 via SMS.\"}",
     NULL, RP_DS_PERMANENT_FAILURE, 0, 0, "21612: The 'To' phone number: 15***(11), is",
     "UNREACHABLE"},
    {400, 0, "{\"code\":21408,\"message\":\"Permission to send an SMS has not been enabled\"}",
     NULL, RP_DS_PERMANENT_FAILURE, 0, 0, "21408: Permission", "BLOCKED"},
    {400, 0, "{\"code\":21610,\"message\":\"Attempt to send to unsubscribed recipient\"}", NULL,
     RP_DS_OPT_OUT, 0, 0, "21610", "OPTED_OUT"},
    {400, 0, "{\"code\":21602,\"message\":\"Message body is required.\"}", NULL,
     RP_DS_PERMANENT_FAILURE, 0, 0, "21602", "INVALID_MESSAGE"},
    {400, 0, "", NULL, RP_DS_PERMANENT_FAILURE, 0, 0, "HTTP 400", "FAILED"},
    {404, 0, "{\"code\":20404,\"message\":\"The requested resource was not found\"}", NULL,
     RP_DS_PERMANENT_FAILURE, 0, 0, "20404", "FAILED"},
    {401, 0, "{\"code\":20003,\"message\":\"Authenticate\"}", NULL, RP_DS_PERMANENT_FAILURE, 0, 0,
     "provider rejected the credentials", "FAILED"},
    {403, 0, "", NULL, RP_DS_PERMANENT_FAILURE, 0, 0, "provider rejected the credentials",
     "FAILED"},
    {429, 0, "{\"code\":20429,\"message\":\"Too Many Requests\"}", "7", RP_DS_THROTTLED, 0, 7000,
     "throttled", "RATE_EXCEEDED"},
    {429, 0, "", "Sun, 06 Nov 1994 08:50:07 GMT", RP_DS_THROTTLED, 0, 30000, "throttled",
     "RATE_EXCEEDED"},
    {429, 0, "", NULL, RP_DS_THROTTLED, 0, 0, "throttled", "RATE_EXCEEDED"},
    {429, 0, "", "soon", RP_DS_THROTTLED, 0, 0, "throttled", "RATE_EXCEEDED"},
    {500, 0, "{\"code\":20500,\"message\":\"Internal Server Error\"}", NULL,
     RP_DS_TEMPORARY_FAILURE, 0, 0, "HTTP 500", "UNKNOWN"},
    {503, 0, "", "5", RP_DS_TEMPORARY_FAILURE, 0, 5000, "HTTP 503", "UNKNOWN"},
    {408, 0, "", NULL, RP_DS_TEMPORARY_FAILURE, 0, 0, "HTTP 408", "UNKNOWN"},
    {301, 0, "", NULL, RP_DS_PERMANENT_FAILURE, 0, 0, "HTTP 301", "FAILED"},
    {0, 28, NULL, NULL, RP_DS_TEMPORARY_FAILURE, 0, 0,
     "provider unreachable: Operation timed out after 10000 milliseconds", "UNKNOWN"},
    {0, 7, NULL, NULL, RP_DS_TEMPORARY_FAILURE, 0, 0, "Connection refused", "UNKNOWN"},
};

static void test_classify_table(void **state)
{
    for (size_t i = 0; i < sizeof(classify_cases) / sizeof(classify_cases[0]); i++) {
        const struct classify_case *c = &classify_cases[i];
        struct rp_httpc_response resp;
        memset(&resp, 0, sizeof(resp));
        resp.status = c->status;
        resp.transport_error = c->transport_error;
        if (c->transport_error == 28)
            snprintf(resp.error, sizeof(resp.error),
                     "Operation timed out after 10000 milliseconds with 0 bytes received");
        else if (c->transport_error)
            snprintf(resp.error, sizeof(resp.error), "Failed to connect: Connection refused");
        resp.body = c->body;
        resp.body_len = c->body ? strlen(c->body) : 0;
        resp.retry_after = c->retry_after;
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        r.attributes = json_object();
        rp_sms_classify(&resp, NOW_MS, &r);
        if (r.status != c->expect || r.address_dead != c->dead || r.retry_after_ms != c->retry_ms ||
            !strstr(r.status_message, c->message_has))
            fail_msg("case %zu (HTTP %ld): got %s dead=%d retry=%lld \"%s\"", i, c->status,
                     rp_delivery_status_name(r.status), r.address_dead, (long long)r.retry_after_ms,
                     r.status_message);
        assert_int_equal(r.status_code, c->status);
        assert_string_equal(json_string_value(json_object_get(r.attributes, "record_status")),
                            c->record);
        /* Phone numbers never reach a result. */
        assert_null(strstr(r.status_message, "5005550001"));
        rp_delivery_result_cleanup(&r);
    }
}

static void test_classify_success_fields(void **state)
{
    const char *body = "{\"sid\":\"SMabc\",\"status\":\"accepted\"}";
    struct rp_httpc_response resp = {.status = 201, .body = body, .body_len = strlen(body)};
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_sms_classify(&resp, NOW_MS, &r); /* no attributes object: none is created */
    assert_int_equal(r.status, RP_DS_SUCCESSFUL);
    assert_string_equal(r.message_id, "SMabc");
    assert_null(r.attributes);
    r.attributes = json_object();
    rp_sms_classify(&resp, NOW_MS, &r);
    assert_string_equal(json_string_value(json_object_get(r.attributes, "sender_request_id")),
                        "SMabc");
    rp_delivery_result_cleanup(&r);
}

/* ---- X-Twilio-Signature --------------------------------------------------------------------- */

#define VECTOR_URL "https://mycompany.com/myapp.php?foo=1&bar=2"

/* Twilio's worked example ("Webhooks security": the current numbers, and those of the helper
 * libraries' tests), written out of order on purpose: the signature sorts the parameters. */
static char *vector_form(const char *caller)
{
    struct rp_sms_param p[] = {
        {"To", "+18005551212"},   {"Digits", "1234"},         {"CallSid", "CA1234567890ABCDE"},
        {"From", (char *)caller}, {"Caller", (char *)caller},
    };
    return rp_sms_form_encode(p, sizeof(p) / sizeof(p[0]));
}

static void test_signature_twilio_vectors(void **state)
{
    char sig[RP_SMS_SIGNATURE_SIZE];
    char *form = vector_form("+12349013030");
    assert_int_equal(rp_sms_signature("12345", VECTOR_URL, form, strlen(form), sig), 0);
    assert_string_equal(sig, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=");
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL, form, strlen(form),
                                             "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
                     0);
    free(form);

    form = vector_form("+14158675309");
    assert_int_equal(rp_sms_signature("12345", VECTOR_URL, form, strlen(form), sig), 0);
    assert_string_equal(sig, "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
    free(form);

    /* Repeated names sort by value, and identical pairs count once (twilio-python). */
    const char *repeated = "Sid=CA123&SidAccount=AC123&Digits=5678&Digits=1234&Digits=1234";
    assert_int_equal(rp_sms_signature("12345", VECTOR_URL, repeated, strlen(repeated), sig), 0);
    assert_string_equal(sig, "IK+Dwps556ElfBT0I3Rgjkr1wJU=");

    /* No parameters: the URL alone is signed. */
    assert_int_equal(rp_sms_signature("12345", VECTOR_URL, "", 0, sig), 0);
    assert_int_equal(rp_sms_signature("12345", VECTOR_URL, NULL, 0, sig), 0);
}

static void test_signature_verify_rejects(void **state)
{
    const char *good = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";
    char *form = vector_form("+12349013030");
    size_t len = strlen(form);
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL, form, len, NULL), RP_EFORBIDDEN);
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL, form, len, ""), RP_EFORBIDDEN);
    assert_int_equal(
        rp_sms_signature_verify("12345", VECTOR_URL, form, len, "0/KCTR6DLpKmkAf8muzZqo1nDgQ"),
        RP_EFORBIDDEN);
    assert_int_equal(
        rp_sms_signature_verify("12345", VECTOR_URL, form, len, "1/KCTR6DLpKmkAf8muzZqo1nDgQ="),
        RP_EFORBIDDEN);
    assert_int_equal(rp_sms_signature_verify("54321", VECTOR_URL, form, len, good), RP_EFORBIDDEN);
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL "&x=1", form, len, good),
                     RP_EFORBIDDEN);
    /* A tampered parameter, and a form that does not parse. */
    char *tampered = vector_form("+12349013031");
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL, tampered, strlen(tampered), good),
                     RP_EFORBIDDEN);
    assert_int_equal(rp_sms_signature_verify("12345", VECTOR_URL, "a=%zz", 5, good), RP_EFORBIDDEN);
    free(tampered);
    free(form);
}

/* ---- Status callbacks ----------------------------------------------------------------------- */

static int parse_status(const char *form, struct rp_sms_status *s, struct rp_err *err)
{
    return rp_sms_status_parse(form, strlen(form), s, err);
}

static void test_status_parse(void **state)
{
    struct rp_sms_status s;
    struct rp_err err;
    assert_int_equal(parse_status("MessageSid=SM1&MessageStatus=delivered&To=%2B15551234567"
                                  "&From=%2B15550001111&AccountSid=AC9&ApiVersion=2010-04-01",
                                  &s, &err),
                     0);
    assert_string_equal(s.message_sid, "SM1");
    assert_string_equal(s.status, "delivered");
    assert_string_equal(s.to, "+15551234567");
    assert_string_equal(s.from, "+15550001111");
    assert_string_equal(s.account_sid, "AC9");
    assert_int_equal(s.kind, RP_SMS_STATUS_DELIVERED);
    assert_int_equal(s.error_code, 0);
    assert_true(s.final);
    assert_int_equal(s.delivery_status, RP_DS_SUCCESSFUL);
    assert_string_equal(s.record_status, "DELIVERED");
    assert_string_equal(s.event_type, "_SMS.SUCCESS");

    assert_int_equal(
        parse_status("MessageSid=SM2&MessageStatus=undelivered&ErrorCode=30003", &s, &err), 0);
    assert_int_equal(s.kind, RP_SMS_STATUS_UNDELIVERED);
    assert_int_equal(s.error_code, 30003);
    assert_true(s.final);
    assert_int_equal(s.delivery_status, RP_DS_PERMANENT_FAILURE);
    assert_string_equal(s.record_status, "UNREACHABLE");
    assert_string_equal(s.event_type, "_SMS.FAILURE");

    assert_int_equal(parse_status("MessageSid=SM3&MessageStatus=failed&ErrorCode=21610", &s, &err),
                     0);
    assert_int_equal(s.delivery_status, RP_DS_OPT_OUT);
    assert_string_equal(s.record_status, "OPTED_OUT");

    /* Older callbacks name them SmsSid / SmsStatus; "sent" is not final. */
    assert_int_equal(parse_status("SmsSid=SM4&SmsStatus=sent", &s, &err), 0);
    assert_string_equal(s.message_sid, "SM4");
    assert_int_equal(s.kind, RP_SMS_STATUS_SENT);
    assert_false(s.final);
    assert_string_equal(s.record_status, "SUCCESSFUL");
    assert_string_equal(s.event_type, "_SMS.BUFFERED");

    assert_int_equal(parse_status("MessageSid=SM5&MessageStatus=read", &s, &err), 0);
    assert_int_equal(s.kind, RP_SMS_STATUS_OTHER);
    assert_false(s.final);
    assert_string_equal(s.record_status, "PENDING");
}

static void test_status_parse_rejects(void **state)
{
    struct rp_sms_status s;
    struct rp_err err;
    assert_int_equal(parse_status("MessageStatus=delivered", &s, &err), RP_EINVAL);
    assert_string_equal(err.field, "MessageSid");
    assert_int_equal(parse_status("MessageSid=SM1", &s, &err), RP_EINVAL);
    assert_string_equal(err.field, "MessageStatus");
    assert_int_equal(parse_status("MessageSid=SM1&MessageStatus=failed&ErrorCode=x1", &s, &err),
                     RP_EINVAL);
    assert_string_equal(err.field, "ErrorCode");
    assert_int_equal(parse_status("MessageSid=SM%0A1&MessageStatus=sent", &s, &err), RP_EINVAL);
    assert_string_equal(err.field, "MessageSid");
    assert_int_equal(
        parse_status("MessageSid=SM1&MessageStatus=sent&To=%2B123456789012345678901234", &s, &err),
        RP_EINVAL);
    assert_string_equal(err.field, "To");
    assert_int_equal(parse_status("MessageSid=%zz", &s, &err), RP_EINVAL);
    assert_string_equal(err.field, "body");
    assert_int_equal(rp_sms_status_parse(NULL, 0, &s, &err), RP_EINVAL);
}

/* ---- The channel's sends that never reach a provider ---------------------------------------- */

struct send_fixture {
    struct event_base *base;
    struct rp_config cfg;
    const struct rp_channel_ops *sms;
    void *transport;
    int completions;
};

static void fixture_load(struct send_fixture *fx, char **env)
{
    struct rp_err err;
    fx->base = event_base_new();
    assert_int_equal(rp_config_load(&fx->cfg, NULL, env, &err), 0);
    fx->sms = rp_channel_by_type("SMS");
    assert_non_null(fx->sms);
    fx->transport = rp_channel_transport_new(fx->sms, fx->base, &fx->cfg);
    assert_non_null(fx->transport);
}

static void fixture_free(struct send_fixture *fx)
{
    rp_channel_transport_free(fx->sms, fx->transport);
    rp_config_cleanup(&fx->cfg);
    event_base_free(fx->base);
}

static void count_completion(struct rp_send *send)
{
    struct send_fixture *fx = send->worker_data;
    fx->completions++;
}

/* Sends one delivery that must complete before send() returns; fills result. */
static void send_now(struct send_fixture *fx, json_t *content, json_t *settings,
                     int64_t deadline_ms, struct rp_delivery_result *result)
{
    struct rp_delivery d;
    rp_delivery_init(&d);
    d.address = rp_strdup("+15551234567");
    d.content = content;
    d.deadline_ms = deadline_ms;
    struct rp_send send = {
        .delivery = &d, .settings = settings, .on_complete = count_completion, .worker_data = fx};
    rp_delivery_result_init(&send.result);
    int before = fx->completions;
    rp_channel_send(fx->sms, fx->transport, &send);
    assert_int_equal(fx->completions, before + 1);
    *result = send.result;
    rp_delivery_cleanup(&d);
}

static void test_send_not_configured(void **state)
{
    char *env[] = {NULL};
    struct send_fixture fx = {0};
    fixture_load(&fx, env);
    struct rp_delivery_result r;
    send_now(&fx, json_pack("{s:s}", "Body", "hi"), NULL, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_string_equal(r.status_message,
                        "the SMS provider is not configured (sms.account_sid / sms.auth_token)");
    rp_delivery_result_cleanup(&r);
    fixture_free(&fx);
}

static void test_send_refused_before_the_provider(void **state)
{
    char *env[] = {"REPOINT_SMS_ACCOUNT_SID=ACtest", "REPOINT_SMS_AUTH_TOKEN=secret",
                   "REPOINT_SMS_URL=http://127.0.0.1:9", NULL};
    struct send_fixture fx = {0};
    fixture_load(&fx, env);
    struct rp_delivery_result r;

    send_now(&fx, json_pack("{s:s}", "Body", "hi"), NULL, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_non_null(strstr(r.status_message, "no sender"));
    rp_delivery_result_cleanup(&r);

    json_t *settings = json_pack("{s:s}", "SenderId", "Repoint");
    send_now(&fx, json_pack("{s:s}", "Body", ""), settings, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_string_equal(r.status_message, "the message has no Body");
    rp_delivery_result_cleanup(&r);

    send_now(&fx, json_pack("{s:s}", "Body", "hi"), settings, rp_now_ms() - 1, &r);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    assert_non_null(strstr(r.status_message, "deadline"));
    rp_delivery_result_cleanup(&r);
    json_decref(settings);
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_form_build_encodes),
        cmocka_unit_test(test_form_build_service_without_callback),
        cmocka_unit_test(test_messages_url),
        cmocka_unit_test(test_form_parse_edges),
        cmocka_unit_test(test_sender_precedence),
        cmocka_unit_test(test_segments_gsm),
        cmocka_unit_test(test_segments_ucs2),
        cmocka_unit_test(test_attributes),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_success_fields),
        cmocka_unit_test(test_signature_twilio_vectors),
        cmocka_unit_test(test_signature_verify_rejects),
        cmocka_unit_test(test_status_parse),
        cmocka_unit_test(test_status_parse_rejects),
        cmocka_unit_test(test_send_not_configured),
        cmocka_unit_test(test_send_refused_before_the_provider),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
