/* One-time passwords (gateway/otp.c): codes (length, digits, rejection sampling), the built-in
 * texts of every documented language, the MACs codes are kept as, and the request bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "otp.h"
#include "rc.h"

/* A random source that hands out a scripted sequence of 32-bit draws. */
struct script {
    const uint32_t *draws;
    size_t n, next;
};

static void scripted(void *arg, void *buf, size_t len)
{
    struct script *s = arg;
    assert_int_equal(len, sizeof(uint32_t));
    assert_true(s->next < s->n);
    memcpy(buf, &s->draws[s->next++], sizeof(uint32_t));
}

static void rejection_limit_is_the_largest_multiple(void **state)
{
    (void)state;
    const uint64_t range = (uint64_t)1 << 32;
    for (uint32_t bound = 100000; bound <= 100000000; bound *= 10) {
        uint64_t limit = rp_otp_rejection_limit(bound);
        assert_int_equal(limit % bound, 0);
        assert_true(limit <= range);
        assert_true(range - limit < bound);
    }
    assert_int_equal(rp_otp_rejection_limit(1000000), 4294000000u);
    assert_int_equal(rp_otp_rejection_limit(1), range);
}

static void draws_past_the_limit_are_redrawn(void **state)
{
    (void)state;
    /* 10^6: draws from 4294000000 up would favour the codes below 967296 if kept. */
    const uint32_t draws[] = {4294967295u, 4294000000u, 4293999999u};
    struct script s = {draws, 3, 0};
    assert_int_equal(rp_otp_uniform(1000000, scripted, &s), 4293999999u % 1000000);
    assert_int_equal(s.next, 3);

    const uint32_t zero[] = {0};
    struct script z = {zero, 1, 0};
    char code[RP_OTP_CODE_SIZE];
    rp_otp_generate(8, code, scripted, &z);
    assert_string_equal(code, "00000000"); /* leading zeros are digits like any other */

    const uint32_t some[] = {4294967295u, 1234567};
    struct script t = {some, 2, 0};
    rp_otp_generate(6, code, scripted, &t);
    assert_string_equal(code, "234567");
}

static void codes_have_the_asked_length_and_only_digits(void **state)
{
    (void)state;
    for (int length = RP_OTP_CODE_MIN; length <= RP_OTP_CODE_MAX; length++) {
        for (int i = 0; i < 200; i++) {
            char code[RP_OTP_CODE_SIZE];
            memset(code, 'x', sizeof(code));
            rp_otp_generate(length, code, NULL, NULL);
            assert_int_equal(strlen(code), (size_t)length);
            assert_int_equal(strspn(code, "0123456789"), (size_t)length);
        }
    }
}

/* Every digit in every position about equally often: 20,000 five-digit codes put 2,000 of
 * each digit in each position (standard deviation about 42); a biased generator (modulo of a
 * small range, a stuck byte) moves some count by hundreds. The bounds are 9 deviations wide. */
static void digits_are_evenly_spread(void **state)
{
    (void)state;
    int counts[5][10] = {{0}};
    for (int i = 0; i < 20000; i++) {
        char code[RP_OTP_CODE_SIZE];
        rp_otp_generate(5, code, NULL, NULL);
        for (int p = 0; p < 5; p++)
            counts[p][code[p] - '0']++;
    }
    for (int p = 0; p < 5; p++)
        for (int d = 0; d < 10; d++)
            assert_in_range(counts[p][d], 1620, 2380);
}

static void every_documented_language_has_a_text(void **state)
{
    (void)state;
    /* The API reference's list (SendOTPMessageRequestParameters.Language), in its order. */
    static const char *const documented[] = {"de-DE", "en-GB", "en-US", "es-419", "es-ES", "fr-CA",
                                             "fr-FR", "ja-JP", "ko-KR", "pt-BR",  "zh-CN", "zh-TW"};
    const char *tags[13];
    size_t n = 0;
    while (n < 13 && (tags[n] = rp_otp_language_at(n)))
        n++;
    assert_int_equal(n, 12);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(tags[i], documented[i]);
    char seen[12][RP_OTP_TEXT_MAX];
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(rp_otp_language(tags[i]), tags[i]);
        char out[RP_OTP_TEXT_MAX];
        int len = rp_otp_message(tags[i], NULL, "482913", 15, out, sizeof(out));
        assert_true(len > 0);
        assert_int_equal(strlen(out), (size_t)len);
        assert_non_null(strstr(out, "482913"));
        assert_non_null(strstr(out, "15"));
        assert_null(strstr(out, "{")); /* no placeholder left */
        snprintf(seen[i], sizeof(seen[i]), "%s", out);
        /* The longest message there can be still fits the buffer. */
        len = rp_otp_message(tags[i],
                             "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                             "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                             "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                             "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                             "\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80\xF0\x9F\x98\x80"
                             "\xF0\x9F\x98\x80",
                             "12345678", 60, out, sizeof(out));
        assert_true(len > 0);
    }
    /* Translations, not copies: only the two English variants share a text. */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (!(strcmp(tags[i], "en-GB") == 0 && strcmp(tags[j], "en-US") == 0))
                assert_string_not_equal(seen[i], seen[j]);
    assert_string_equal(rp_otp_language("EN-us"), "en-US");
    assert_null(rp_otp_language("en"));
    assert_null(rp_otp_language("it-IT"));
}

static void texts_read_as_written(void **state)
{
    (void)state;
    char out[RP_OTP_TEXT_MAX];
    rp_otp_message("en-US", "Acme", "012345", 15, out, sizeof(out));
    assert_string_equal(out, "Acme: Your verification code is 012345. It expires in 15 minutes. "
                             "Do not share it with anyone.");
    rp_otp_message("fr-FR", "Acme", "012345", 5, out, sizeof(out));
    assert_string_equal(out, "Acme : Votre code de vérification est 012345. Il expire dans 5 "
                             "minutes. Ne le partagez avec personne.");
    rp_otp_message("zh-CN", "Acme", "012345", 10, out, sizeof(out));
    assert_string_equal(out, "【Acme】您的验证码是012345，10分钟内有效。请勿将验证码告诉他人。");
    rp_otp_message("ko-KR", NULL, "012345", 10, out, sizeof(out));
    assert_string_equal(
        out, "인증 코드는 012345입니다. 10분 후에 만료됩니다. 다른 사람에게 알려주지 마세요.");
    /* A brand that looks like a placeholder stays text. */
    rp_otp_message("en-GB", "{C}", "999999", 15, out, sizeof(out));
    assert_true(strncmp(out, "{C}: Your", 9) == 0);
    assert_int_equal(rp_otp_message("en-US", NULL, "012345", 15, out, 20), RP_ETOOBIG);
    assert_string_equal(out, "");
}

static void macs_bind_every_field(void **state)
{
    (void)state;
    unsigned char master[32], key[32], other[32];
    for (int i = 0; i < 32; i++)
        master[i] = (unsigned char)i;
    assert_int_equal(rp_otp_derive_key(master, RP_OTP_CODE_LABEL, key), 0);
    assert_int_equal(rp_otp_derive_key(master, RP_OTP_RECORD_LABEL, other), 0);
    /* HKDF-SHA256 (RFC 5869, empty salt) and HMAC-SHA256 as computed independently (Python's
     * hmac module): the stored form is pinned, so stored codes survive upgrades. */
    char hex[RP_OTP_MAC_HEX];
    assert_int_equal(rp_otp_mac(key, "app1", "+14155550100", "login", "123456", hex, sizeof(hex)),
                     0);
    assert_string_equal(hex, "c3f4331378954f9426a811885c49f3b938f380ddc582ab3f1c051274896f3c1e");
    assert_memory_not_equal(key, other, 32);

    char a[RP_OTP_MAC_HEX], b[RP_OTP_MAC_HEX];
    rp_otp_mac(key, "app1", "+14155550100", "login", "123457", a, sizeof(a));
    assert_string_not_equal(a, hex);
    rp_otp_mac(key, "app2", "+14155550100", "login", "123456", a, sizeof(a));
    assert_string_not_equal(a, hex);
    rp_otp_mac(key, "app1", "+14155550101", "login", "123456", a, sizeof(a));
    assert_string_not_equal(a, hex);
    rp_otp_mac(key, "app1", "+14155550100", "login2", "123456", a, sizeof(a));
    assert_string_not_equal(a, hex);
    rp_otp_mac(other, "app1", "+14155550100", "login", "123456", a, sizeof(a));
    assert_string_not_equal(a, hex);
    /* Fields cannot slide into each other. */
    rp_otp_mac(key, "ab", "c", "d", "1", a, sizeof(a));
    rp_otp_mac(key, "a", "bc", "d", "1", b, sizeof(b));
    assert_string_not_equal(a, b);
    /* Record names: no code, cut to the record size. */
    char rec[RP_OTP_RECORD_HEX];
    assert_int_equal(rp_otp_mac(other, "app1", "+14155550100", "login", NULL, rec, sizeof(rec)), 0);
    assert_int_equal(strlen(rec), RP_OTP_RECORD_HEX - 1);
    assert_null(strstr(rec, "4155550100"));
}

static json_t *send_body(const char *extra)
{
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"Channel\": \"SMS\", \"OriginationIdentity\": \"+12065550199\","
             " \"DestinationIdentity\": \"+14155550100\", \"ReferenceId\": \"r\"%s%s}",
             extra ? ", " : "", extra ? extra : "");
    json_t *body = json_loads(text, 0, NULL);
    assert_non_null(body);
    return body;
}

static void send_defaults(void **state)
{
    (void)state;
    json_t *body = send_body(NULL);
    struct rp_otp_send p;
    struct rp_err err;
    assert_int_equal(rp_otp_parse_send(body, &p, &err), 0);
    assert_int_equal(p.code_length, 6);
    assert_int_equal(p.validity_minutes, 15);
    assert_int_equal(p.allowed_attempts, 3);
    assert_string_equal(p.language, "en-US");
    assert_null(p.brand);
    assert_true(p.origination_is_number);
    json_decref(body);
}

static void send_bounds_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *field;
    } bad[] = {
        {"\"CodeLength\": 4", "CodeLength"},
        {"\"CodeLength\": 9", "CodeLength"},
        {"\"CodeLength\": \"6\"", "CodeLength"},
        {"\"ValidityPeriod\": 4", "ValidityPeriod"},
        {"\"ValidityPeriod\": 61", "ValidityPeriod"},
        {"\"AllowedAttempts\": 0", "AllowedAttempts"},
        {"\"AllowedAttempts\": 6", "AllowedAttempts"},
        {"\"BrandName\": \"123456789012345678901\"", "BrandName"},
        {"\"BrandName\": 7", "BrandName"},
        {"\"BrandName\": \"a\\nb\"", "BrandName"},
        {"\"ReferenceId\": \"\"", "ReferenceId"},
        {"\"ReferenceId\": \"1234567890123456789012345678901234567890123456789\"", "ReferenceId"},
        {"\"Language\": \"it-IT\"", "Language"},
        {"\"Channel\": \"EMAIL\"", "Channel"},
        {"\"DestinationIdentity\": \"4155550100\"", "DestinationIdentity"},
        {"\"OriginationIdentity\": \"Acme Inc\"", "OriginationIdentity"},
        {"\"OriginationIdentity\": \"12\"", "OriginationIdentity"},
        {"\"OriginationIdentity\": \"AcmeCompanyLtd\"", "OriginationIdentity"},
        {"\"OriginationIdentity\": \"\"", "OriginationIdentity"},
        {"\"EntityId\": \"a\\u0001\"", "EntityId"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *body = send_body(bad[i].extra);
        struct rp_otp_send p;
        struct rp_err err;
        rp_err_clear(&err);
        assert_int_equal(rp_otp_parse_send(body, &p, &err), RP_EINVAL);
        if (strcmp(err.field, bad[i].field) != 0)
            fail_msg("%s: field %s (%s)", bad[i].extra, err.field, err.msg);
        assert_null(strstr(err.msg, "4155550100"));
        json_decref(body);
    }
    /* The upper bounds count characters, not bytes: 20 and 48 two-byte characters pass. */
    json_t *body = send_body(
        "\"BrandName\": \"ББББББББББББББББББББ\", \"ReferenceId\": "
        "\"éééééééééééééééééééééééééééééééééééééééééééééééé\", \"CodeLength\": 8, "
        "\"ValidityPeriod\": 60, \"AllowedAttempts\": 5, \"Language\": \"zh-tw\", "
        "\"OriginationIdentity\": \"Acme2\", \"EntityId\": \"E1\", \"TemplateId\": \"T1\"");
    struct rp_otp_send p;
    struct rp_err err;
    assert_int_equal(rp_otp_parse_send(body, &p, &err), 0);
    assert_string_equal(p.language, "zh-TW");
    assert_false(p.origination_is_number);
    json_t *req = rp_otp_message_request(&p, "text");
    json_t *sms = json_object_get(json_object_get(req, "MessageConfiguration"), "SMSMessage");
    assert_string_equal(json_string_value(json_object_get(sms, "SenderId")), "Acme2");
    assert_null(json_object_get(sms, "OriginationNumber"));
    assert_string_equal(json_string_value(json_object_get(sms, "EntityId")), "E1");
    assert_string_equal(json_string_value(json_object_get(sms, "TemplateId")), "T1");
    assert_string_equal(json_string_value(json_object_get(sms, "MessageType")), "TRANSACTIONAL");
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(req, "Addresses"), "+14155550100"), "ChannelType")),
        "SMS");
    json_decref(req);
    json_decref(body);
    /* A short code is a number too. */
    body = send_body("\"OriginationIdentity\": \"12345\"");
    assert_int_equal(rp_otp_parse_send(body, &p, &err), 0);
    assert_true(p.origination_is_number);
    json_decref(body);
}

static void verify_bounds(void **state)
{
    (void)state;
    static const struct {
        const char *text, *field;
    } cases[] = {
        {"{\"Otp\": \"1\", \"ReferenceId\": \"r\"}", "DestinationIdentity"},
        {"{\"DestinationIdentity\": \"+14155550100\", \"ReferenceId\": \"r\"}", "Otp"},
        {"{\"DestinationIdentity\": \"+14155550100\", \"Otp\": 123456, \"ReferenceId\": \"r\"}",
         "Otp"},
        {"{\"DestinationIdentity\": \"+14155550100\", \"Otp\": \"1\"}", "ReferenceId"},
        {"[]", "VerifyOTPMessageRequestParameters"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *body = json_loads(cases[i].text, 0, NULL);
        struct rp_otp_verify v;
        struct rp_err err;
        rp_err_clear(&err);
        assert_int_equal(rp_otp_parse_verify(body, &v, &err), RP_EINVAL);
        assert_string_equal(err.field, cases[i].field);
        json_decref(body);
    }
    json_t *body = json_loads(
        "{\"DestinationIdentity\": \"+14155550100\", \"Otp\": \"654321\", \"ReferenceId\": \"r\"}",
        0, NULL);
    struct rp_otp_verify v;
    struct rp_err err;
    assert_int_equal(rp_otp_parse_verify(body, &v, &err), 0);
    assert_string_equal(v.otp, "654321");
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(rejection_limit_is_the_largest_multiple),
        cmocka_unit_test(draws_past_the_limit_are_redrawn),
        cmocka_unit_test(codes_have_the_asked_length_and_only_digits),
        cmocka_unit_test(digits_are_evenly_spread),
        cmocka_unit_test(every_documented_language_has_a_text),
        cmocka_unit_test(texts_read_as_written),
        cmocka_unit_test(macs_bind_every_field),
        cmocka_unit_test(send_defaults),
        cmocka_unit_test(send_bounds_name_the_field),
        cmocka_unit_test(verify_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
