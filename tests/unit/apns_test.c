/* Tests for channels/apns/apns_payload.c (every APNSMessage field in the payload and headers,
 * size limits, RawContent, the mapping of APNs answers onto DeliveryStatus) and
 * channels/apns/apns_jwt.c (ES256 provider tokens verified with the public key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <event2/event.h>

#include "channels/apns/apns_jwt.h"
#include "channels/base64url.h"
#include "channels/apns/apns_payload.h"
#include "channels/channel.h"
#include "gateway/config.h"
#include "gateway/util.h"

#define NOW 1800000000LL

/* Builds from a JSON content text; returns the parsed payload (caller decrefs). */
static json_t *build_ok(const char *content_text, const char *bundle, bool voip,
                        struct rp_apns_notification *n)
{
    json_t *content = json_loads(content_text, 0, NULL);
    assert_non_null(content);
    char why[256] = "";
    int rc = rp_apns_notification_build(content, bundle, voip, NOW, n, why, sizeof(why));
    if (rc != 0)
        fail_msg("build failed: %s", why);
    json_decref(content);
    assert_int_equal(strlen(n->payload), n->payload_len);
    json_t *payload = json_loadb(n->payload, n->payload_len, 0, NULL);
    assert_non_null(payload);
    return payload;
}

static const char *path_str(const json_t *doc, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(doc, a);
    if (b)
        v = json_object_get(v, b);
    if (c)
        v = json_object_get(v, c);
    return json_string_value(v);
}

static long long path_int(const json_t *doc, const char *a, const char *b)
{
    const json_t *v = json_object_get(json_object_get(doc, a), b);
    return json_is_integer(v) ? json_integer_value(v) : -1;
}

static void test_alert_fields(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Title\":\"Hi\",\"Body\":\"There \\u00e9\",\"Sound\":\"ping.aiff\","
                         "\"Badge\":3,\"Category\":\"INVITE\",\"ThreadId\":\"chat-7\"}",
                         "com.example.app", false, &n);
    assert_string_equal(path_str(p, "aps", "alert", "title"), "Hi");
    assert_string_equal(path_str(p, "aps", "alert", "body"), "There \xc3\xa9");
    assert_string_equal(path_str(p, "aps", "sound", NULL), "ping.aiff");
    assert_int_equal(path_int(p, "aps", "badge"), 3);
    assert_string_equal(path_str(p, "aps", "category", NULL), "INVITE");
    assert_string_equal(path_str(p, "aps", "thread-id", NULL), "chat-7");
    assert_null(json_object_get(json_object_get(p, "aps"), "mutable-content"));
    assert_null(json_object_get(json_object_get(p, "aps"), "content-available"));
    assert_null(json_object_get(p, "data"));
    assert_string_equal(n.push_type, "alert");
    assert_string_equal(n.topic, "com.example.app");
    assert_int_equal(n.priority, 0);
    assert_false(n.has_expiration);
    assert_string_equal(n.collapse_id, "");
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_badge_zero_clears(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Body\":\"b\",\"Badge\":0}", "a.b", false, &n);
    assert_int_equal(path_int(p, "aps", "badge"), 0);
    assert_null(path_str(p, "aps", "alert", "title"));
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_media_url(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Body\":\"b\",\"MediaUrl\":\"https://cdn.example.com/a.jpg\"}", "a.b",
                         false, &n);
    assert_int_equal(path_int(p, "aps", "mutable-content"), 1);
    assert_string_equal(path_str(p, "data", "media-url", NULL), "https://cdn.example.com/a.jpg");
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_silent_push(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"SilentPush\":true,\"Title\":\"t\",\"Body\":\"b\",\"Sound\":\"s\","
                         "\"Priority\":\"10\",\"Data\":{\"k\":\"v\"}}",
                         "a.b", false, &n);
    assert_int_equal(path_int(p, "aps", "content-available"), 1);
    assert_null(json_object_get(json_object_get(p, "aps"), "alert"));
    assert_null(json_object_get(json_object_get(p, "aps"), "sound"));
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(json_object_get(p, "data"), "pinpoint"), "jsonBody"),
            "k")),
        "v");
    assert_string_equal(n.push_type, "background");
    assert_int_equal(n.priority, 5); /* even when Priority says 10: APNs refuses 10 here */
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_data_and_deep_link(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Body\":\"b\",\"Action\":\"DEEP_LINK\",\"Url\":\"myapp://x/1\","
                         "\"Data\":{\"order\":\"42\",\"kind\":\"ship\"}}",
                         "a.b", false, &n);
    assert_string_equal(path_str(p, "data", "pinpoint", "deeplink"), "myapp://x/1");
    const json_t *body = json_object_get(json_object_get(json_object_get(p, "data"), "pinpoint"),
                                         "jsonBody");
    assert_string_equal(json_string_value(json_object_get(body, "order")), "42");
    assert_string_equal(json_string_value(json_object_get(body, "kind")), "ship");
    json_decref(p);
    rp_apns_notification_cleanup(&n);

    p = build_ok("{\"Body\":\"b\",\"Action\":\"URL\",\"Url\":\"https://example.com/\"}", "a.b",
                 false, &n);
    assert_string_equal(path_str(p, "data", "pinpoint", "deeplink"), "https://example.com/");
    json_decref(p);
    rp_apns_notification_cleanup(&n);

    /* OPEN_APP opens the app, whatever Url says. */
    p = build_ok("{\"Body\":\"b\",\"Action\":\"OPEN_APP\",\"Url\":\"https://example.com/\"}",
                 "a.b", false, &n);
    assert_null(json_object_get(p, "data"));
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_headers(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Body\":\"b\",\"TimeToLive\":3600,\"Priority\":\"5\","
                         "\"CollapseId\":\"score-1\",\"APNSPushType\":\"complication\"}",
                         "com.example.app", false, &n);
    assert_true(n.has_expiration);
    assert_int_equal(n.expiration, NOW + 3600);
    assert_int_equal(n.priority, 5);
    assert_string_equal(n.collapse_id, "score-1");
    assert_string_equal(n.push_type, "complication");
    assert_string_equal(n.topic, "com.example.app.complication");
    json_decref(p);
    rp_apns_notification_cleanup(&n);

    p = build_ok("{\"Body\":\"b\",\"TimeToLive\":0,\"Priority\":\"high\"}", "a.b", false, &n);
    assert_true(n.has_expiration);
    assert_int_equal(n.expiration, 0); /* deliver once, do not store */
    assert_int_equal(n.priority, 10);
    json_decref(p);
    rp_apns_notification_cleanup(&n);
}

static void test_voip_topic_and_limit(void **state)
{
    struct rp_apns_notification n;
    json_t *p = build_ok("{\"Body\":\"call\"}", "com.example.app", true, &n);
    assert_string_equal(n.topic, "com.example.app.voip");
    assert_string_equal(n.push_type, "voip");
    json_decref(p);
    rp_apns_notification_cleanup(&n);

    /* 4,500 bytes: too large for an alert, fine for VoIP. */
    char *body = malloc(4600);
    memset(body, 'x', 4500);
    body[4500] = '\0';
    json_t *content = json_pack("{s:s}", "Body", body);
    char why[256];
    assert_int_equal(rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "4096"));
    assert_null(n.payload);
    assert_int_equal(rp_apns_notification_build(content, "a.b", true, NOW, &n, why, sizeof(why)),
                     0);
    rp_apns_notification_cleanup(&n);
    json_decref(content);
    free(body);
}

static void test_exact_limit(void **state)
{
    /* {"aps":{"alert":{"body":"..."}}} is 29 bytes around the body. */
    char body[4096];
    memset(body, 'y', 4096 - 29);
    body[4096 - 29] = '\0';
    json_t *content = json_pack("{s:s}", "Body", body);
    struct rp_apns_notification n;
    char why[256];
    assert_int_equal(rp_apns_notification_build(content, NULL, false, NOW, &n, why, sizeof(why)),
                     0);
    assert_int_equal(n.payload_len, 4096);
    assert_string_equal(n.topic, ""); /* no BundleId: the certificate decides */
    rp_apns_notification_cleanup(&n);
    json_object_set_new(content, "Body", json_string(strcat(body, "y")));
    assert_int_equal(rp_apns_notification_build(content, NULL, false, NOW, &n, why, sizeof(why)),
                     -1);
    json_decref(content);
}

static void test_raw_content(void **state)
{
    const char *raw = "{\"aps\":{\"alert\":\"raw!\"},  \"custom\":[1,2]}";
    json_t *content = json_pack("{s:s,s:s}", "RawContent", raw, "Body", "ignored");
    struct rp_apns_notification n;
    char why[256];
    assert_int_equal(rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)),
                     0);
    assert_string_equal(n.payload, raw); /* verbatim, spacing included */
    assert_string_equal(n.push_type, "alert");
    rp_apns_notification_cleanup(&n);
    json_decref(content);

    content = json_pack("{s:s}", "RawContent", "{\"aps\":{\"content-available\":1}}");
    assert_int_equal(rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)),
                     0);
    assert_string_equal(n.push_type, "background");
    assert_int_equal(n.priority, 5);
    rp_apns_notification_cleanup(&n);
    json_decref(content);

    const char *bad[] = {"{\"aps\":", "[1]", "\"text\"", "{\"a\":1,\"a\":2}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        content = json_pack("{s:s}", "RawContent", bad[i]);
        assert_int_equal(
            rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "RawContent"));
        json_decref(content);
    }
}

static void test_refusals(void **state)
{
    struct rp_apns_notification n;
    char why[256];
    json_t *content = json_pack("{s:s,s:s}", "Body", "b", "APNSPushType", "telegram");
    assert_int_equal(rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "APNSPushType"));
    json_decref(content);
    char id[80];
    memset(id, 'c', 65);
    id[65] = '\0';
    content = json_pack("{s:s,s:s}", "Body", "b", "CollapseId", id);
    assert_int_equal(rp_apns_notification_build(content, "a.b", false, NOW, &n, why, sizeof(why)),
                     -1);
    assert_non_null(strstr(why, "CollapseId"));
    json_decref(content);
    assert_int_equal(rp_apns_notification_build(NULL, "a.b", false, NOW, &n, why, sizeof(why)),
                     -1);
}

/* ---- Answers ------------------------------------------------------------------------------- */

static void classify(int status, const char *body, struct rp_delivery_result *r, char *reason)
{
    rp_delivery_result_init(r);
    struct rp_apns_answer a = {.status = status,
                               .apns_id = "0b1a3e4c-0000-4000-8000-000000000001",
                               .body = body,
                               .body_len = body ? strlen(body) : 0,
                               .transport_error = "connection reset"};
    rp_apns_classify(&a, r, reason, 64);
}

static void test_classify_table(void **state)
{
    const struct {
        int status;
        const char *body;
        enum rp_delivery_status expect;
        int dead;
        long long since;
    } cases[] = {
        {200, NULL, RP_DS_SUCCESSFUL, 0, 0},
        {410, "{\"reason\":\"Unregistered\",\"timestamp\":1700000000123}", RP_DS_PERMANENT_FAILURE,
         1, 1700000000123LL},
        {410, "{\"reason\":\"ExpiredToken\"}", RP_DS_PERMANENT_FAILURE, 1, 0},
        {400, "{\"reason\":\"BadDeviceToken\"}", RP_DS_PERMANENT_FAILURE, 1, 0},
        {400, "{\"reason\":\"DeviceTokenNotForTopic\"}", RP_DS_PERMANENT_FAILURE, 1, 0},
        {400, "{\"reason\":\"BadTopic\"}", RP_DS_PERMANENT_FAILURE, 0, 0},
        {403, "{\"reason\":\"InvalidProviderToken\"}", RP_DS_PERMANENT_FAILURE, 0, 0},
        {413, "{\"reason\":\"PayloadTooLarge\"}", RP_DS_PERMANENT_FAILURE, 0, 0},
        {429, "{\"reason\":\"TooManyRequests\"}", RP_DS_THROTTLED, 0, 0},
        {500, "{\"reason\":\"InternalServerError\"}", RP_DS_TEMPORARY_FAILURE, 0, 0},
        {503, "{\"reason\":\"Shutdown\"}", RP_DS_TEMPORARY_FAILURE, 0, 0},
        {0, NULL, RP_DS_TEMPORARY_FAILURE, 0, 0},
        {400, "not json", RP_DS_PERMANENT_FAILURE, 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_delivery_result r;
        char reason[64];
        classify(cases[i].status, cases[i].body, &r, reason);
        assert_int_equal(r.status, cases[i].expect);
        assert_int_equal(r.address_dead, cases[i].dead);
        assert_int_equal(r.dead_since_ms, cases[i].since);
        assert_int_equal(r.status_code, cases[i].status);
        rp_delivery_result_cleanup(&r);
    }
}

static void test_classify_fields(void **state)
{
    struct rp_delivery_result r;
    char reason[64];
    classify(200, NULL, &r, reason);
    assert_string_equal(r.message_id, "0b1a3e4c-0000-4000-8000-000000000001");
    rp_delivery_result_cleanup(&r);
    classify(400, "{\"reason\":\"BadCollapseId\"}", &r, reason);
    assert_string_equal(reason, "BadCollapseId");
    assert_non_null(strstr(r.status_message, "BadCollapseId"));
    rp_delivery_result_cleanup(&r);
    /* A reason that is not a word is not echoed. */
    classify(400, "{\"reason\":\"<script>\"}", &r, reason);
    assert_string_equal(reason, "");
    assert_null(strstr(r.status_message, "script"));
    rp_delivery_result_cleanup(&r);
    classify(0, NULL, &r, reason);
    assert_non_null(strstr(r.status_message, "connection reset"));
    rp_delivery_result_cleanup(&r);
}

/* ---- Provider tokens ----------------------------------------------------------------------- */

static void test_jwt_verifies(void **state)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    char jwt[RP_APNS_JWT_MAX];
    int n = rp_apns_jwt_sign(key, "ABC123DEFG", "TEAM123456", 1700000000, jwt, sizeof(jwt));
    assert_true(n > 0);
    assert_int_equal(strlen(jwt), n);
    char *dot1 = strchr(jwt, '.'), *dot2 = strrchr(jwt, '.');
    assert_true(dot1 && dot2 && dot1 != dot2);
    unsigned char buf[256];
    long hl = rp_base64url_decode(jwt, (size_t)(dot1 - jwt), buf, sizeof(buf));
    assert_true(hl > 0);
    json_t *header = json_loadb((char *)buf, (size_t)hl, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(header, "alg")), "ES256");
    assert_string_equal(json_string_value(json_object_get(header, "kid")), "ABC123DEFG");
    json_decref(header);
    long cl = rp_base64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof(buf));
    json_t *claims = json_loadb((char *)buf, (size_t)cl, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(claims, "iss")), "TEAM123456");
    assert_int_equal(json_integer_value(json_object_get(claims, "iat")), 1700000000);
    assert_null(json_object_get(claims, "exp"));
    json_decref(claims);

    unsigned char raw[80];
    assert_int_equal(rp_base64url_decode(dot2 + 1, strlen(dot2 + 1), raw, sizeof(raw)), 64);
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_equal(EVP_DigestVerify(md, der, (size_t)der_len, (unsigned char *)jwt,
                                      (size_t)(dot2 - jwt)),
                     1);
    /* One changed claim byte breaks it. */
    jwt[(dot1 - jwt) + 3] ^= 1;
    EVP_MD_CTX_reset(md);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key), 1);
    assert_int_not_equal(EVP_DigestVerify(md, der, (size_t)der_len, (unsigned char *)jwt,
                                          (size_t)(dot2 - jwt)),
                         1);
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    /* Too small a buffer: refused, not truncated. */
    assert_int_equal(rp_apns_jwt_sign(key, "ABC123DEFG", "TEAM123456", 1, jwt, 100), -1);
    assert_string_equal(jwt, "");
    EVP_PKEY_free(key);
}

static void test_b64url(void **state)
{
    char out[16];
    assert_int_equal(rp_base64url_encode((const unsigned char *)"\xfb\xff", 2, out), 3);
    assert_string_equal(out, "-_8");
    unsigned char back[4];
    assert_int_equal(rp_base64url_decode("-_8", 3, back, sizeof(back)), 2);
    assert_memory_equal(back, "\xfb\xff", 2);
    assert_int_equal(rp_base64url_decode("a+b/", 4, back, sizeof(back)), -1);
    assert_int_equal(rp_base64url_decode("abcde", 5, back, sizeof(back)), -1);
}

/* ---- The send path before any connection ------------------------------------------------- */

static void on_done(struct rp_send *send)
{
    (*(int *)send->worker_data)++;
}

/* Sends one delivery on transport t and returns its result (the send must complete at once). */
static void send_now(const struct rp_channel_ops *ch, void *t, json_t *content,
                     const json_t *settings, int64_t deadline_ms, struct rp_delivery_result *out)
{
    struct rp_delivery d;
    rp_delivery_init(&d);
    d.address = (char *)"00000000000000000000000000000000000000000000000000000000000000aa";
    d.content = content;
    d.deadline_ms = deadline_ms;
    int done = 0;
    struct rp_send send = {.delivery = &d, .settings = settings, .on_complete = on_done,
                           .worker_data = &done};
    rp_delivery_result_init(&send.result);
    rp_channel_send(ch, t, &send);
    assert_int_equal(done, 1);
    *out = send.result;
    json_decref(content);
}

static void test_send_refused_before_apns(void **state)
{
    char *env[] = {"REPOINT_APNS_PRODUCTION_URL=https://127.0.0.1:9", NULL};
    struct rp_config cfg;
    struct rp_err err;
    assert_int_equal(rp_config_load(&cfg, NULL, env, &err), 0);
    struct event_base *base = event_base_new();
    const struct rp_channel_ops *ch = rp_channel_by_type("APNS");
    void *t = rp_channel_transport_new(ch, base, &cfg);
    assert_non_null(t);
    EVP_PKEY *key = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL);
    char *pem = NULL;
    long pem_len = BIO_get_mem_data(bio, &pem);
    json_t *settings = json_pack("{s:s%,s:s,s:s}", "TokenKey", pem, (size_t)pem_len,
                                 "TokenKeyId", "ABC123DEFG", "TeamId", "TEAM123456");
    struct rp_delivery_result r;

    /* Token auth needs the topic. */
    send_now(ch, t, json_pack("{s:s}", "Body", "hi"), settings, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_non_null(strstr(r.status_message, "BundleId"));
    rp_delivery_result_cleanup(&r);

    json_object_set_new(settings, "BundleId", json_string("com.example.app"));
    char *big = malloc(5000);
    memset(big, 'z', 4999);
    big[4999] = '\0';
    send_now(ch, t, json_pack("{s:s}", "Body", big), settings, 0, &r);
    free(big);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_non_null(strstr(r.status_message, "over APNs' limit"));
    rp_delivery_result_cleanup(&r);

    send_now(ch, t, json_pack("{s:s}", "Body", "hi"), settings, rp_now_ms() - 1, &r);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    assert_non_null(strstr(r.status_message, "deadline"));
    rp_delivery_result_cleanup(&r);

    /* Neither credential. */
    json_t *empty = json_object();
    send_now(ch, t, json_pack("{s:s}", "Body", "hi"), empty, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    rp_delivery_result_cleanup(&r);
    json_decref(empty);

    /* A certificate TLS cannot use fails for good, without a connection attempt. */
    json_t *bad_cert = json_pack("{s:s,s:s}", "Certificate", "not a PEM", "PrivateKey", "nor this");
    send_now(ch, t, json_pack("{s:s}", "Body", "hi"), bad_cert, 0, &r);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_non_null(strstr(r.status_message, "cannot be used for TLS"));
    rp_delivery_result_cleanup(&r);
    json_decref(bad_cert);

    rp_channel_transport_free(ch, t);
    json_decref(settings);
    BIO_free(bio);
    EVP_PKEY_free(key);
    event_base_free(base);
    rp_config_cleanup(&cfg);
}

static void test_transport_needs_https(void **state)
{
    char *env[] = {"REPOINT_APNS_SANDBOX_URL=http://127.0.0.1:9", NULL};
    struct rp_config cfg;
    struct rp_err err;
    assert_int_equal(rp_config_load(&cfg, NULL, env, &err), 0);
    struct event_base *base = event_base_new();
    const struct rp_channel_ops *ch = rp_channel_by_type("APNS_SANDBOX");
    assert_null(rp_channel_transport_new(ch, base, &cfg));
    event_base_free(base);
    rp_config_cleanup(&cfg);
}

/* The remembered payload is the plain builder's for every send of a content, with the headers
 * still built per send (TimeToLive counts from each send's clock); a new content, a RawContent or
 * a refused content is never answered from the previous one. */
static void test_payload_memo_matches_the_builder(void **state)
{
    static const char *const contents[] = {
        "{\"Title\":\"T\",\"Body\":\"B\",\"Data\":{\"k\":\"v\"},\"TimeToLive\":60}",
        "{\"SilentPush\":true,\"Data\":{\"a\":\"1\"}}",
        "{\"RawContent\":\"{\\\"aps\\\":{\\\"alert\\\":\\\"raw\\\"}}\"}",
        "{\"Body\":\"b\",\"APNSPushType\":\"nonsense\"}",
        "{\"Body\":\"\\u00e9t\\u00e9\",\"Priority\":\"5\",\"CollapseId\":\"c\"}",
    };
    struct rp_apns_payload_memo memo = {0};
    for (int round = 0; round < 2; round++)
        for (size_t c = 0; c < sizeof(contents) / sizeof(contents[0]); c++) {
            json_t *content = json_loads(contents[c], 0, NULL);
            assert_non_null(content);
            for (int64_t now = NOW; now < NOW + 3; now++) {
                struct rp_apns_notification want, got;
                char why1[256] = "", why2[256] = "";
                int rc1 = rp_apns_notification_build(content, "a.b", false, now, &want, why1,
                                                     sizeof(why1));
                int rc2 = rp_apns_notification_build_memo(&memo, content, "a.b", false, now,
                                                          &got, why2, sizeof(why2));
                assert_int_equal(rc2, rc1);
                assert_string_equal(why2, why1);
                if (rc1 == 0) {
                    assert_int_equal(got.payload_len, want.payload_len);
                    assert_memory_equal(got.payload, want.payload, want.payload_len);
                    assert_ptr_not_equal(got.payload, memo.text);
                    assert_string_equal(got.push_type, want.push_type);
                    assert_int_equal(got.priority, want.priority);
                    assert_int_equal(got.has_expiration, want.has_expiration);
                    assert_int_equal(got.expiration, want.expiration);
                    assert_string_equal(got.collapse_id, want.collapse_id);
                    assert_string_equal(got.topic, want.topic);
                }
                rp_apns_notification_cleanup(&want);
                rp_apns_notification_cleanup(&got);
            }
            json_decref(content);
        }
    rp_apns_payload_memo_clear(&memo);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alert_fields),
        cmocka_unit_test(test_badge_zero_clears),
        cmocka_unit_test(test_media_url),
        cmocka_unit_test(test_silent_push),
        cmocka_unit_test(test_data_and_deep_link),
        cmocka_unit_test(test_headers),
        cmocka_unit_test(test_voip_topic_and_limit),
        cmocka_unit_test(test_exact_limit),
        cmocka_unit_test(test_raw_content),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_fields),
        cmocka_unit_test(test_jwt_verifies),
        cmocka_unit_test(test_b64url),
        cmocka_unit_test(test_send_refused_before_apns),
        cmocka_unit_test(test_transport_needs_https),
        cmocka_unit_test(test_payload_memo_matches_the_builder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
