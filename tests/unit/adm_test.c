/* Tests for the ADM channel's pure parts: the md5 checksum against the two vectors of
 * PROVIDERS.md 3.2 (and its key order), the message body, and the mapping of ADM answers
 * (registration id rewrites, dead ids, throttling, token refusal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "channels/adm/adm_payload.h"
#include "channels/httpc.h"
#include "gateway/rc.h"

static void test_md5_vectors(void **state)
{
    char out[RP_ADM_MD5_SIZE];
    json_t *d = json_pack("{s:s}", "message", "your message");
    rp_adm_md5(d, out);
    assert_string_equal(out, "qzF+HgArKZjJrpfcTbiFxg==");
    json_decref(d);
    d = json_object();
    rp_adm_md5(d, out);
    assert_string_equal(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
    rp_adm_md5(NULL, out);
    assert_string_equal(out, "1B2M2Y8AsgTpgAmY7PhCfg==");
    json_decref(d);
    /* Insertion order does not matter: keys are sorted by bytes ("B" < "a"). */
    json_t *x = json_pack("{s:s, s:s}", "a", "1", "B", "2");
    json_t *y = json_pack("{s:s, s:s}", "B", "2", "a", "1");
    char ox[RP_ADM_MD5_SIZE], oy[RP_ADM_MD5_SIZE];
    rp_adm_md5(x, ox);
    rp_adm_md5(y, oy);
    assert_string_equal(ox, oy);
    json_decref(x);
    json_decref(y);
}

static json_t *build(const char *content_text, int expect_rc, struct rp_err *err)
{
    json_t *content = json_loads(content_text, 0, NULL);
    assert_non_null(content);
    char *body = NULL;
    rp_err_clear(err);
    int rc = rp_adm_payload_build(content, &body, err);
    json_decref(content);
    assert_int_equal(rc, expect_rc);
    json_t *doc = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return doc;
}

static void test_payload(void **state)
{
    struct rp_err err;
    json_t *m = build("{\"Title\":\"T\",\"Body\":\"B\",\"ConsolidationKey\":\"c\","
                      "\"ExpiresAfter\":\"90\",\"Data\":{\"k\":\"v\"}}",
                      0, &err);
    json_t *data = json_object_get(m, "data");
    assert_string_equal(json_string_value(json_object_get(data, "k")), "v");
    assert_string_equal(json_string_value(json_object_get(data, "pinpoint.notification.title")),
                        "T");
    assert_string_equal(json_string_value(json_object_get(m, "consolidationKey")), "c");
    assert_int_equal(json_integer_value(json_object_get(m, "expiresAfter")), 90);
    char want[RP_ADM_MD5_SIZE];
    rp_adm_md5(data, want);
    assert_string_equal(json_string_value(json_object_get(m, "md5")), want);
    json_decref(m);
    /* TimeToLive when ExpiresAfter is absent; a given MD5 is sent as given. */
    m = build("{\"Body\":\"B\",\"TimeToLive\":30,\"MD5\":\"given==\"}", 0, &err);
    assert_int_equal(json_integer_value(json_object_get(m, "expiresAfter")), 30);
    assert_string_equal(json_string_value(json_object_get(m, "md5")), "given==");
    json_decref(m);
    m = build("{\"RawContent\":\"{\\\"data\\\":{\\\"message\\\":\\\"your message\\\"}}\"}", 0,
              &err);
    assert_string_equal(json_string_value(json_object_get(m, "md5")), "qzF+HgArKZjJrpfcTbiFxg==");
    json_decref(m);
    build("{\"RawContent\":\"{\\\"data\\\":{\\\"n\\\":2}}\"}", RP_EINVAL, &err);
    assert_string_equal(err.field, "RawContent.data");
    char content[7000], big[6300];
    memset(big, 'x', 6200);
    big[6200] = '\0';
    snprintf(content, sizeof(content), "{\"Data\":{\"k\":\"%s\"}}", big);
    build(content, RP_ELIMIT, &err);
    assert_non_null(strstr(err.msg, "6144"));
}

static struct rp_delivery_result classify(long status, const char *body, const char *retry_after,
                                          enum rp_adm_verdict expect)
{
    struct rp_httpc_response resp = {
        .status = status, .body = body, .body_len = strlen(body), .retry_after = retry_after};
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    assert_int_equal(rp_adm_classify(&resp, "reg-1", 1000, &r), expect);
    return r;
}

static void test_classify(void **state)
{
    struct rp_delivery_result r =
        classify(200, "{\"registrationID\":\"reg-1\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_SUCCESSFUL);
    assert_string_equal(r.updated_token, "");
    r = classify(200, "{\"registrationID\":\"reg-2\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_SUCCESSFUL);
    assert_string_equal(r.updated_token, "reg-2");
    r = classify(400, "{\"reason\":\"Unregistered\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_true(r.address_dead);
    r = classify(400, "{\"reason\":\"InvalidRegistrationId\"}", NULL, RP_ADM_FINAL);
    assert_true(r.address_dead);
    r = classify(400, "{\"reason\":\"InvalidChecksum\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_false(r.address_dead);
    assert_string_equal(r.status_message, "InvalidChecksum");
    r = classify(413, "{\"reason\":\"MessageTooLarge\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    r = classify(401, "{\"reason\":\"AccessTokenExpired\"}", NULL, RP_ADM_REAUTH);
    r = classify(429, "{\"reason\":\"MaxRateExceeded\"}", "4", RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_THROTTLED);
    assert_int_equal(r.retry_after_ms, 4000);
    r = classify(403, "{\"reason\":\"MaxRateExceeded\"}", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_THROTTLED);
    r = classify(503, "{}", "2", RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    assert_int_equal(r.retry_after_ms, 2000);
    r = classify(500, "", NULL, RP_ADM_FINAL);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_md5_vectors),
        cmocka_unit_test(test_payload),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
