/* gateway/render.c with a template hook that cannot render one recipient (RP_EPARSE, what
 * gateway/template_send.c answers for a variable with no value anywhere): that recipient gets
 * PERMANENT_FAILURE with the hook's reason and no delivery, the others are rendered and queued,
 * and the response carries both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "rc.h"
#include "render.h"

static int picky_template(void *arg, const char *channel, const json_t *tmpl, const json_t *vars,
                          const json_t *endpoint, json_t *content, struct rp_err *err)
{
    (void)arg;
    (void)channel;
    (void)tmpl;
    (void)endpoint;
    const json_t *code = json_object_get(vars, "code");
    if (!code)
        return rp_err_set(err, RP_EPARSE, "", "The SMS template t does not render: Body line 1, "
                                              "column 6: code has no value");
    json_object_set_new(content, "Body",
                        json_sprintf("code %s", json_string_value(json_array_get(code, 0))));
    return 0;
}

static void test_one_recipient_fails_to_render(void **state)
{
    (void)state;
    json_t *body = json_loads(
        "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\","
        "                                   \"Substitutions\": {\"code\": [\"42\"]}},"
        "                 \"+12065550101\": {\"ChannelType\": \"SMS\"}},"
        " \"TemplateConfiguration\": {\"SMSTemplate\": {\"Name\": \"t\"}}}",
        0, NULL);
    assert_non_null(body);
    struct rp_err err;
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    json_decref(body);
    assert_non_null(plan);
    struct rp_render_params p = {.app_id = "app", .request_id = "req", .now_ms = 1,
                                 .deadline_ms = 2, .template_fn = picky_template};
    assert_int_equal(rp_render_build(plan, &p, &err), 0);
    assert_int_equal(rp_render_plan_count(plan), 2);
    struct rp_delivery *out[2];
    assert_int_equal(rp_render_plan_deliveries(plan, out), 1);
    assert_string_equal(json_string_value(json_object_get(out[0]->content, "Body")), "code 42");
    for (size_t i = 0; i < 2; i++) {
        struct rp_render_recipient *r = rp_render_plan_recipient(plan, i);
        if (strcmp(r->key, "+12065550101") != 0)
            continue;
        assert_false(r->queued);
        assert_int_equal(r->result.status, RP_DS_PERMANENT_FAILURE);
        assert_non_null(strstr(r->result.status_message, "code has no value"));
    }
    json_t *resp = rp_render_response(plan);
    json_t *failed = json_object_get(json_object_get(resp, "Result"), "+12065550101");
    assert_string_equal(json_string_value(json_object_get(failed, "DeliveryStatus")),
                        "PERMANENT_FAILURE");
    json_decref(resp);
    rp_render_plan_free(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_recipient_fails_to_render),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
