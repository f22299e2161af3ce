/* Tests for the GCM channel's pure parts: the RS256 service-account assertion (signed, then
 * verified with the public half of a key made here), the FCM v1 body built from delivery
 * content (the Pinpoint Android SDK's data members, notification versus data-only, android
 * options, RawContent, limits), and the mapping of FCM answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "channels/base64url.h"
#include "channels/fcm/fcm_jwt.h"
#include "channels/fcm/fcm_payload.h"
#include "channels/httpc.h"
#include "gateway/rc.h"

static json_t *b64url_json(const char *s, size_t len)
{
    /* base64url -> base64 with padding, then OpenSSL's decoder. */
    char buf[2048];
    size_t n = 0;
    for (size_t i = 0; i < len && n < sizeof(buf) - 4; i++)
        buf[n++] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
    while (n % 4)
        buf[n++] = '=';
    unsigned char out[2048];
    int m = EVP_DecodeBlock(out, (unsigned char *)buf, (int)n);
    assert_true(m > 0);
    while (m > 0 && out[m - 1] == '\0')
        m--;
    return json_loadb((const char *)out, (size_t)m, 0, NULL);
}

static void test_jwt_rs256(void **state)
{
    EVP_PKEY *key = EVP_RSA_gen(2048);
    assert_non_null(key);
    char *jwt = rp_fcm_jwt_sign(key, "kid-1", "sa@p.iam.gserviceaccount.com",
                                "https://oauth2.googleapis.com/token", 1700000000);
    assert_non_null(jwt);
    char *d1 = strchr(jwt, '.'), *d2 = strrchr(jwt, '.');
    assert_true(d1 && d2 && d1 != d2);
    json_t *h = b64url_json(jwt, (size_t)(d1 - jwt));
    json_t *c = b64url_json(d1 + 1, (size_t)(d2 - d1 - 1));
    assert_string_equal(json_string_value(json_object_get(h, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(h, "typ")), "JWT");
    assert_string_equal(json_string_value(json_object_get(h, "kid")), "kid-1");
    assert_string_equal(json_string_value(json_object_get(c, "iss")),
                        "sa@p.iam.gserviceaccount.com");
    assert_string_equal(json_string_value(json_object_get(c, "aud")),
                        "https://oauth2.googleapis.com/token");
    assert_string_equal(json_string_value(json_object_get(c, "scope")), RP_FCM_SCOPE);
    assert_int_equal(json_integer_value(json_object_get(c, "iat")), 1700000000 - 10);
    assert_int_equal(json_integer_value(json_object_get(c, "exp")), 1700000000 - 10 + 3600);
    json_decref(h);
    json_decref(c);
    /* The signature verifies with the public key over "header.claims". */
    size_t slen = strlen(d2 + 1);
    char b64[1024];
    size_t n = 0;
    for (size_t i = 0; i < slen; i++)
        b64[n++] = d2[1 + i] == '-' ? '+' : d2[1 + i] == '_' ? '/' : d2[1 + i];
    while (n % 4)
        b64[n++] = '=';
    unsigned char sig[512];
    int siglen = EVP_DecodeBlock(sig, (unsigned char *)b64, (int)n);
    siglen -= (int)(n - slen); /* EVP_DecodeBlock counts the padding as zero bytes */
    assert_int_equal(siglen, 256);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(
        EVP_DigestVerify(md, sig, (size_t)siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    /* A changed claim no longer verifies. */
    jwt[(d1 - jwt) + 3] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(
        EVP_DigestVerify(md, sig, (size_t)siglen, (unsigned char *)jwt, (size_t)(d2 - jwt)), 1);
    EVP_MD_CTX_free(md);
    free(jwt);
    EVP_PKEY_free(key);
}

static void test_base64url(void **state)
{
    char out[16];
    assert_int_equal(rp_base64url_encode((const unsigned char *)"\xfb\xff", 2, out), 3);
    assert_string_equal(out, "-_8");
    rp_base64url_encode((const unsigned char *)"abc", 3, out);
    assert_string_equal(out, "YWJj");
    rp_base64url_encode((const unsigned char *)"a", 1, out);
    assert_string_equal(out, "YQ");
}

static json_t *build(const char *content_text, int expect_rc, struct rp_err *err)
{
    json_t *content = json_loads(content_text, 0, NULL);
    assert_non_null(content);
    char *body = NULL;
    rp_err_clear(err);
    int rc = rp_fcm_payload_build(content, "device-token", &body, err);
    json_decref(content);
    assert_int_equal(rc, expect_rc);
    if (rc < 0) {
        assert_null(body);
        return NULL;
    }
    json_t *doc = json_loads(body, 0, NULL);
    free(body);
    json_t *msg = json_incref(json_object_get(doc, "message"));
    json_decref(doc);
    return msg;
}

static void test_payload_notification(void **state)
{
    struct rp_err err;
    json_t *m = build("{\"Title\":\"T\",\"Body\":\"B\",\"ImageUrl\":\"https://i\",\"Sound\":\"s\","
                      "\"IconReference\":\"ic\",\"Action\":\"DEEP_LINK\",\"Url\":\"app://x\","
                      "\"TimeToLive\":120,\"Priority\":\"10\",\"CollapseKey\":\"c\","
                      "\"RestrictedPackageName\":\"com.x\",\"Data\":{\"k\":\"v\"}}",
                      0, &err);
    assert_string_equal(json_string_value(json_object_get(m, "token")), "device-token");
    json_t *n = json_object_get(m, "notification");
    assert_string_equal(json_string_value(json_object_get(n, "title")), "T");
    assert_string_equal(json_string_value(json_object_get(n, "body")), "B");
    assert_string_equal(json_string_value(json_object_get(n, "image")), "https://i");
    json_t *a = json_object_get(m, "android");
    assert_string_equal(json_string_value(json_object_get(a, "ttl")), "120s");
    assert_string_equal(json_string_value(json_object_get(a, "priority")), "high");
    assert_string_equal(json_string_value(json_object_get(a, "collapse_key")), "c");
    assert_string_equal(json_string_value(json_object_get(a, "restricted_package_name")), "com.x");
    json_t *an = json_object_get(a, "notification");
    assert_string_equal(json_string_value(json_object_get(an, "sound")), "s");
    assert_string_equal(json_string_value(json_object_get(an, "icon")), "ic");
    json_t *d = json_object_get(m, "data");
    assert_string_equal(json_string_value(json_object_get(d, "k")), "v");
    assert_string_equal(json_string_value(json_object_get(d, "pinpoint.deeplink")), "app://x");
    assert_string_equal(json_string_value(json_object_get(d, "pinpoint.notification.body")), "B");
    assert_null(json_object_get(d, "pinpoint.openApp"));
    assert_null(json_object_get(d, "pinpoint.url"));
    json_decref(m);
}

static void test_payload_silent_and_defaults(void **state)
{
    struct rp_err err;
    json_t *m = build("{\"Body\":\"B\",\"SilentPush\":true,\"Priority\":\"normal\"}", 0, &err);
    assert_null(json_object_get(m, "notification"));
    json_t *d = json_object_get(m, "data");
    assert_string_equal(json_string_value(json_object_get(d, "pinpoint.notification.silentPush")),
                        "1");
    assert_string_equal(json_string_value(json_object_get(d, "pinpoint.openApp")), "true");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "android"), "priority")), "normal");
    assert_null(json_object_get(json_object_get(m, "android"), "ttl"));
    json_decref(m);
}

static void test_payload_raw_and_limits(void **state)
{
    struct rp_err err;
    json_t *m = build("{\"RawContent\":\"{\\\"message\\\":{\\\"topic\\\":\\\"t\\\",\\\"data\\\":"
                      "{\\\"a\\\":\\\"b\\\"}}}\"}",
                      0, &err);
    assert_null(json_object_get(m, "topic")); /* one target: the delivery's token */
    assert_string_equal(json_string_value(json_object_get(m, "token")), "device-token");
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "data"), "a")), "b");
    json_decref(m);
    /* The legacy shape (members at the top) is a message too. */
    m = build("{\"RawContent\":\"{\\\"data\\\":{\\\"a\\\":\\\"b\\\"}}\"}", 0, &err);
    assert_string_equal(json_string_value(json_object_get(json_object_get(m, "data"), "a")), "b");
    json_decref(m);
    build("{\"RawContent\":\"{\\\"data\\\":{\\\"n\\\":1}}\"}", RP_EINVAL, &err);
    assert_string_equal(err.field, "RawContent.data");
    build("{\"RawContent\":\"[1]\"}", RP_EINVAL, &err);
    assert_string_equal(err.field, "RawContent");
    build("{\"Body\":\"b\",\"Data\":{\"google.x\":\"v\"}}", RP_EINVAL, &err);
    assert_string_equal(err.field, "Data");
    /* 4096 bytes of keys and values: the body's own members count too. */
    char content[6000];
    char big[4200];
    memset(big, 'x', 4000);
    big[4000] = '\0';
    snprintf(content, sizeof(content), "{\"Data\":{\"k\":\"%s\"}}", big);
    m = build(content, 0, &err); /* 4000 + k + pinpoint.openApp=true: under the limit */
    json_decref(m);
    memset(big, 'x', 4100);
    big[4100] = '\0';
    snprintf(content, sizeof(content), "{\"Data\":{\"k\":\"%s\"}}", big);
    build(content, RP_ELIMIT, &err);
    assert_non_null(strstr(err.msg, "4096"));
}

static struct rp_delivery_result classify(long status, const char *body, const char *retry_after,
                                          enum rp_fcm_verdict expect)
{
    struct rp_httpc_response resp = {
        .status = status, .body = body, .body_len = strlen(body), .retry_after = retry_after};
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    assert_int_equal(rp_fcm_classify(&resp, 1000, &r), expect);
    return r;
}

#define FCM_ERR(http, status, code)                                                                \
    "{\"error\":{\"code\":" #http ",\"message\":\"m\",\"status\":\"" status "\",\"details\":"      \
    "[{\"@type\":\"type.googleapis.com/google.firebase.fcm.v1.FcmError\",\"errorCode\":\"" code    \
    "\"}]}}"

/* The body written into a kept buffer: grown when a message does not fit, reused when it does,
 * the same bytes as rp_fcm_payload_build, and the buffer left alone on a refused message. */
static void test_payload_write_reuses_the_buffer(void **state)
{
    json_t *small = json_loads("{\"Body\":\"b\"}", 0, NULL);
    json_t *big = json_loads("{\"Body\":\"0123456789012345678901234567890123456789\"}", 0, NULL);
    json_t *bad = json_loads("{\"RawContent\":\"[1]\"}", 0, NULL);
    struct rp_err err;
    rp_err_clear(&err);
    char *buf = malloc(16), *once = NULL;
    assert_non_null(buf);
    size_t cap = 16, len = 0;
    assert_int_equal(rp_fcm_payload_write(big, "tok", &buf, &cap, &len, &err), 0);
    assert_true(cap > 16);
    assert_int_equal(len, strlen(buf));
    assert_int_equal(rp_fcm_payload_build(big, "tok", &once, &err), 0);
    assert_string_equal(buf, once);
    free(once);
    char *grown = buf;
    size_t grown_cap = cap;
    assert_int_equal(rp_fcm_payload_write(small, "tok", &buf, &cap, &len, &err), 0);
    assert_ptr_equal(buf, grown);
    assert_int_equal(cap, grown_cap);
    assert_int_equal(rp_fcm_payload_build(small, "tok", &once, &err), 0);
    assert_string_equal(buf, once);
    assert_int_equal(len, strlen(once));
    free(once);
    assert_int_equal(rp_fcm_payload_write(bad, "tok", &buf, &cap, &len, &err), RP_EINVAL);
    assert_ptr_equal(buf, grown);
    free(buf);
    json_decref(small);
    json_decref(big);
    json_decref(bad);
}

/* The remembered body is the plain writer's, byte for byte, for each recipient of a content
 * (tokens needing escapes included), and a new content, a RawContent or a refused content is
 * never answered from the previous one. */
static void test_payload_memo_matches_the_writer(void **state)
{
    static const char *const contents[] = {
        "{\"Title\":\"T\",\"Body\":\"B\",\"Data\":{\"k\":\"v\"},\"TimeToLive\":60}",
        "{\"SilentPush\":true,\"Data\":{\"a\":\"1\"}}",
        "{\"RawContent\":\"{\\\"data\\\":{\\\"x\\\":\\\"y\\\"}}\"}",
        "{\"Body\":\"bad\",\"Data\":{\"k\":1}}",
        "{\"Body\":\"\\u00e9t\\u00e9 \\\"quoted\\\"\",\"Priority\":\"high\"}",
    };
    static const char *const tokens[] = {"tok-1", "", "t\"o\\k\n", "fcm:APA91b-xyz_1"};
    struct rp_fcm_body_memo memo = {0};
    char *buf = NULL, *plain = NULL;
    size_t cap = 0, len = 0, plain_cap = 0, plain_len = 0;
    for (int round = 0; round < 2; round++)
        for (size_t c = 0; c < sizeof(contents) / sizeof(contents[0]); c++) {
            json_t *content = json_loads(contents[c], 0, NULL);
            assert_non_null(content);
            for (size_t k = 0; k < sizeof(tokens) / sizeof(tokens[0]); k++) {
                struct rp_err e1, e2;
                rp_err_clear(&e1);
                rp_err_clear(&e2);
                int want = rp_fcm_payload_write(content, tokens[k], &plain, &plain_cap,
                                                &plain_len, &e1);
                int got = rp_fcm_payload_write_memo(&memo, content, tokens[k], &buf, &cap, &len,
                                                    &e2);
                assert_int_equal(got, want);
                if (want == 0) {
                    assert_int_equal(len, plain_len);
                    assert_string_equal(buf, plain);
                } else {
                    assert_string_equal(e2.field, e1.field);
                }
            }
            json_decref(content);
        }
    rp_fcm_body_memo_clear(&memo);
    free(buf);
    free(plain);
}

/* A 200 answer's message name is read without a tree, as jansson would read it: the last
 * top-level "name" wins if it is a string that fits; nested ones, other types, texts jansson
 * refuses (NUL, not UTF-8, trailing bytes, not an object) give no name. */
static void test_accepted_name_as_jansson_reads_it(void **state)
{
    (void)state;
    char long_name[400];
    memset(long_name, 'n', sizeof(long_name));
    long_name[0] = '{';
    memcpy(long_name + 1, "\"name\":\"", 8);
    memcpy(long_name + sizeof(long_name) - 3, "\"}", 3);
    const char *bodies[] = {
        "{\"name\":\"projects/p/messages/1\"}",
        "{\"a\":{\"name\":\"inner\"},\"name\":\"outer\",\"b\":[1,\"name\",{\"name\":2}]}",
        "{\"name\":\"first\",\"name\":\"last\"}",
        "{\"name\":\"first\",\"name\":7}",
        "{\"name\":{\"name\":\"x\"}}",
        "{\"name\":[\"x\"]}",
        "{\"name\":null}",
        "{\"name\":true}",
        "{\"x\":{\"name\":\"only inner\"}}",
        "{\"name\":\"caf\xc3\xa9\"}",
        "{\"name\":\"bad \xc0\xaf\"}",
        "{\"name\":\"nul \\u0000 inside\"}",
        "{\"name\":\"x\"} trailing",
        "[\"name\",\"x\"]",
        "\"name\"",
        "",
        "{\"name\":\"unterminated",
        long_name,
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct rp_delivery_result r = classify(200, bodies[i], NULL, RP_FCM_FINAL);
        json_t *doc = json_loads(bodies[i], 0, NULL);
        const char *name = json_string_value(json_object_get(doc, "name"));
        if (name && strlen(name) < sizeof(r.message_id))
            assert_string_equal(r.message_id, name);
        else if (r.message_id[0])
            fail_msg("%s: read a name, jansson reads none", bodies[i]);
        assert_int_equal(r.status, RP_DS_SUCCESSFUL);
        json_decref(doc);
    }
}

static void test_classify(void **state)
{
    struct rp_delivery_result r =
        classify(200, "{\"name\":\"projects/p/messages/0:1\"}", NULL, RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_SUCCESSFUL);
    assert_string_equal(r.message_id, "projects/p/messages/0:1");

    r = classify(404, FCM_ERR(404, "NOT_FOUND", "UNREGISTERED"), NULL, RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_true(r.address_dead);

    r = classify(400, FCM_ERR(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT"), NULL, RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_false(r.address_dead);
    assert_string_equal(r.status_message, "INVALID_ARGUMENT: m");

    r = classify(403, FCM_ERR(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH"), NULL, RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    r = classify(401, FCM_ERR(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"), NULL,
                 RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);

    r = classify(429, FCM_ERR(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), "7", RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_THROTTLED);
    assert_int_equal(r.retry_after_ms, 7000);
    r = classify(429, FCM_ERR(429, "RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"), NULL, RP_FCM_FINAL);
    assert_int_equal(r.retry_after_ms, 60000);

    r = classify(503, FCM_ERR(503, "UNAVAILABLE", "UNAVAILABLE"), "Thu, 01 Jan 1970 00:00:10 GMT",
                 RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    assert_int_equal(r.retry_after_ms, 9000);
    r = classify(500, FCM_ERR(500, "INTERNAL", "INTERNAL"), NULL, RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);

    /* A refused access token carries no FcmError: refresh and retry. */
    r = classify(401, "{\"error\":{\"code\":401,\"status\":\"UNAUTHENTICATED\"}}", NULL,
                 RP_FCM_REAUTH);

    struct rp_httpc_response down = {.transport_error = 7, .error = "refused"};
    rp_delivery_result_init(&r);
    assert_int_equal(rp_fcm_classify(&down, 0, &r), RP_FCM_FINAL);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_base64url),
        cmocka_unit_test(test_jwt_rs256),
        cmocka_unit_test(test_payload_notification),
        cmocka_unit_test(test_payload_silent_and_defaults),
        cmocka_unit_test(test_payload_raw_and_limits),
        cmocka_unit_test(test_payload_write_reuses_the_buffer),
        cmocka_unit_test(test_payload_memo_matches_the_writer),
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_accepted_name_as_jansson_reads_it),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
