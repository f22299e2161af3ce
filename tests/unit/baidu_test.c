/* Tests for the BAIDU channel's pure parts: the sign against Baidu's example base string
 * (PROVIDERS.md 4), PHP urlencode, the sorted-parameter sign of a request, the msg documents for
 * Android and iOS, and the mapping of Baidu's error codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "channels/baidu/baidu_payload.h"
#include "channels/baidu/baidu_sign.h"
#include "channels/httpc.h"
#include "gateway/rc.h"

static void test_sign_example(void **state)
{
    char out[RP_BAIDU_SIGN_SIZE];
    rp_baidu_sign_base("POSThttp://api.tuisong.baidu.com/rest/3.0/test/echoapikey="
                       "Ljc710pzAa99GULCo8y48NvBexpires=1313293565timestamp=1427180905"
                       "87772555E1C16715EBA5C85341684C58",
                       out);
    assert_string_equal(out, "7d14113142e2a1583b4e9dad3fba73d0");
    /* The same request given as parameters, in any order, with a sign member skipped. */
    struct rp_baidu_param p[] = {{"timestamp", "1427180905"},
                                 {"sign", "ignored"},
                                 {"apikey", "Ljc710pzAa99GULCo8y48NvB"},
                                 {"expires", "1313293565"}};
    rp_baidu_sign("POST", "http://api.tuisong.baidu.com/rest/3.0/test/echo", p, 4,
                  "87772555E1C16715EBA5C85341684C58", out);
    assert_string_equal(out, "7d14113142e2a1583b4e9dad3fba73d0");
}

static void test_urlencode(void **state)
{
    char *e = rp_baidu_urlencode("a b~c*d.e-f_g/{\"x\":1}\xe4\xb8\xad");
    assert_string_equal(e, "a+b%7Ec%2Ad.e-f_g%2F%7B%22x%22%3A1%7D%E4%B8%AD");
    free(e);
}

static json_t *msg_of(const char *content_text, int device_type, int *msg_type)
{
    json_t *content = json_loads(content_text, 0, NULL);
    char *msg = NULL;
    struct rp_err err;
    assert_int_equal(rp_baidu_msg_build(content, device_type, &msg, msg_type, &err), 0);
    json_decref(content);
    json_t *doc = json_loads(msg, 0, NULL);
    free(msg);
    return doc;
}

static void test_msg(void **state)
{
    int type = -1;
    json_t *m = msg_of("{\"Title\":\"T\",\"Body\":\"B\",\"Action\":\"URL\",\"Url\":\"https://u\","
                       "\"Data\":{\"k\":\"v\"}}",
                       RP_BAIDU_ANDROID, &type);
    assert_int_equal(type, 1);
    assert_string_equal(json_string_value(json_object_get(m, "title")), "T");
    assert_string_equal(json_string_value(json_object_get(m, "description")), "B");
    assert_int_equal(json_integer_value(json_object_get(m, "open_type")), 1);
    assert_string_equal(json_string_value(json_object_get(m, "url")), "https://u");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(m, "custom_content"), "k")), "v");
    json_decref(m);
    m = msg_of("{\"Body\":\"B\",\"Sound\":\"s\",\"Data\":{\"k\":\"v\"}}", RP_BAIDU_IOS, &type);
    json_t *aps = json_object_get(m, "aps");
    assert_string_equal(json_string_value(json_object_get(aps, "alert")), "B");
    assert_string_equal(json_string_value(json_object_get(aps, "sound")), "s");
    assert_string_equal(json_string_value(json_object_get(m, "k")), "v");
    json_decref(m);
    m = msg_of("{\"SilentPush\":true,\"Data\":{\"k\":\"v\"}}", RP_BAIDU_IOS, &type);
    assert_int_equal(type, 0);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(m, "aps"), "content-available")), 1);
    json_decref(m);
    assert_int_equal(rp_baidu_device_type("iOS"), RP_BAIDU_IOS);
    assert_int_equal(rp_baidu_device_type("Android"), RP_BAIDU_ANDROID);
    assert_int_equal(rp_baidu_device_type(NULL), RP_BAIDU_ANDROID);
}

static struct rp_delivery_result classify(long status, const char *body)
{
    struct rp_httpc_response resp = {.status = status, .body = body, .body_len = strlen(body)};
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_baidu_classify(&resp, 0, &r);
    return r;
}

static void test_classify(void **state)
{
    struct rp_delivery_result r =
        classify(200, "{\"request_id\":1,\"response_params\":{\"msg_id\":\"77\",\"send_time\":1}}");
    assert_int_equal(r.status, RP_DS_SUCCESSFUL);
    assert_string_equal(r.message_id, "77");
    r = classify(400, "{\"request_id\":1,\"error_code\":30608,\"error_msg\":\"Bind Relation\"}");
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_true(r.address_dead);
    r = classify(401, "{\"request_id\":1,\"error_code\":30603,\"error_msg\":\"Auth\"}");
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_false(r.address_dead);
    assert_non_null(strstr(r.status_message, "authentication failed"));
    r = classify(500, "{\"request_id\":1,\"error_code\":30600,\"error_msg\":\"Internal\"}");
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    r = classify(400, "{\"request_id\":1,\"error_code\":30604,\"error_msg\":\"Quota\"}");
    assert_int_equal(r.status, RP_DS_THROTTLED);
    r = classify(400, "{\"request_id\":1,\"error_code\":30602,\"error_msg\":\"Params\"}");
    assert_int_equal(r.status, RP_DS_PERMANENT_FAILURE);
    assert_false(r.address_dead);
    r = classify(502, "<html>");
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_example),
        cmocka_unit_test(test_urlencode),
        cmocka_unit_test(test_msg),
        cmocka_unit_test(test_classify),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
