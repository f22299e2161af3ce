/* Templates in sends (gateway/template_send.c) without Redis: a compiled version is put where a
 * load would put it, then the render hook fills recipients' content as render.c would call it.
 * This is where email templates are checked end to end through the hook (the EMAIL channel is
 * not on this branch): Subject, TextPart and HtmlPart rendered with escaping, message-level
 * members kept, push sections with the Default fallback, and a recipient whose template does
 * not render getting RP_EPARSE with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway/template_send.c"

static struct rp_config cfg;

static int setup(void **state)
{
    (void)state;
    char *envp[] = {NULL};
    struct rp_err err;
    if (rp_config_load(&cfg, "/dev/null", envp, &err) != 0)
        return -1;
    rp_ctx.cfg = &cfg;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rp_config_cleanup(&cfg);
    return 0;
}

static struct rp_template_send *with_version(size_t family, const char *type, const char *json)
{
    json_t *version = json_loads(json, 0, NULL);
    assert_non_null(version);
    struct rp_template_send *ts = rp_calloc(1, sizeof(*ts));
    struct rp_err err;
    assert_int_equal(rp_template_compile(type, version, "test", &ts->sets[family], &err), 0);
    ts->names[family] = "t1";
    ts->now_ms = 0;
    json_decref(version);
    return ts;
}

static void test_email_parts(void **state)
{
    (void)state;
    struct rp_template_send *ts = with_version(
        RP_RENDER_EMAIL, "EMAIL",
        "{\"Subject\": \"Order for {{Attributes.Name}}\","
        " \"HtmlPart\": \"<b>{{Attributes.Items.[0]}}</b><ul>{{#each Attributes.Items}}<li>{{this}}</li>{{/each}}</ul>\","
        " \"TextPart\": \"{{#if Attributes.Vip}}VIP {{/if}}{{join Attributes.Items \\\", \\\"}}\","
        " \"DefaultSubstitutions\": \"{\\\"Attributes.Name\\\": \\\"customer\\\"}\"}");
    json_t *endpoint = json_loads("{\"Attributes\": {\"Items\": [\"tea\", \"<cup>\"],"
                                  " \"Vip\": [\"y\"]}}", 0, NULL);
    json_t *vars = json_object();
    json_t *content = json_object();
    struct rp_err err;
    assert_int_equal(rp_template_send_render(ts, "EMAIL", NULL, vars, endpoint, content, &err), 0);
    assert_string_equal(json_string_value(json_object_get(content, "Subject")),
                        "Order for customer");
    assert_string_equal(json_string_value(json_object_get(content, "HtmlPart")),
                        "<b>tea</b><ul><li>tea</li><li>&lt;cup&gt;</li></ul>");
    assert_string_equal(json_string_value(json_object_get(content, "TextPart")),
                        "VIP tea, &lt;cup&gt;");
    /* A Subject the message gives wins over the template's; Substitutions beat defaults. */
    json_t *content2 = json_pack("{s:s}", "Subject", "Given");
    json_object_set_new(vars, "Attributes.Name", json_pack("[s]", "Bo"));
    assert_int_equal(rp_template_send_render(ts, "EMAIL", NULL, vars, NULL, content2, &err),
                     RP_EPARSE); /* no endpoint: Attributes.Items has no value */
    assert_non_null(strstr(err.msg, "The EMAIL template t1 does not render: HtmlPart line 1, column 4"));
    assert_non_null(strstr(err.msg, "Attributes.Items.[0] has no value"));
    json_object_set_new(vars, "Attributes.Items", json_pack("[s]", "pen"));
    json_t *content3 = json_pack("{s:s}", "Subject", "Given");
    int rc3 = rp_template_send_render(ts, "EMAIL", NULL, vars, NULL, content3, &err);
    if (rc3)
        fail_msg("%s", err.msg);
    assert_string_equal(json_string_value(json_object_get(content3, "Subject")), "Given");
    assert_string_equal(json_string_value(json_object_get(content3, "HtmlPart")),
                        "<b>pen</b><ul><li>pen</li></ul>");
    json_decref(content);
    json_decref(content2);
    json_decref(content3);
    json_decref(vars);
    json_decref(endpoint);
    rp_template_send_free(ts);
}

static void test_push_sections(void **state)
{
    (void)state;
    struct rp_template_send *ts = with_version(
        RP_RENDER_PUSH, "PUSH",
        "{\"Default\": {\"Title\": \"Hi {{name}}\", \"Body\": \"default body\"},"
        " \"APNS\": {\"Body\": \"apns {{name}}\", \"Action\": \"OPEN_APP\"}}");
    json_t *vars = json_pack("{s:[s]}", "name", "Ann");
    json_t *apns = json_object(), *gcm = json_object();
    struct rp_err err;
    assert_int_equal(rp_template_send_render(ts, "APNS", NULL, vars, NULL, apns, &err), 0);
    assert_int_equal(rp_template_send_render(ts, "GCM", NULL, vars, NULL, gcm, &err), 0);
    assert_string_equal(json_string_value(json_object_get(apns, "Body")), "apns Ann");
    assert_string_equal(json_string_value(json_object_get(apns, "Title")), "Hi Ann");
    assert_string_equal(json_string_value(json_object_get(gcm, "Body")), "default body");
    assert_string_equal(json_string_value(json_object_get(gcm, "Title")), "Hi Ann");
    assert_string_equal(json_string_value(json_object_get(apns, "Action")), "OPEN_APP");
    assert_null(json_object_get(gcm, "Action"));
    /* No template for the SMS family in this request: nothing is added. */
    json_t *sms = json_object();
    assert_int_equal(rp_template_send_render(ts, "SMS", NULL, vars, NULL, sms, &err), 0);
    assert_int_equal(json_object_size(sms), 0);
    json_decref(apns);
    json_decref(gcm);
    json_decref(sms);
    json_decref(vars);
    rp_template_send_free(ts);
}

static void test_output_bound(void **state)
{
    (void)state;
    struct rp_template_send *ts =
        with_version(RP_RENDER_SMS, "SMS", "{\"Body\": \"{{{big}}}{{{big}}}\"}");
    size_t n = (size_t)rp_config_int(&cfg, "templates.max_rendered_bytes") / 2 + 1;
    char *big = rp_malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\0';
    json_t *vars = json_pack("{s:[s]}", "big", big);
    json_t *content = json_object();
    struct rp_err err;
    assert_int_equal(rp_template_send_render(ts, "SMS", NULL, vars, NULL, content, &err),
                     RP_EPARSE);
    assert_non_null(strstr(err.msg, "longer than"));
    /* Within the part bound, but over the request's: many recipients of a big template. */
    big[n / 2] = '\0';
    json_object_set_new(vars, "big", json_pack("[s]", big));
    int rc = 0;
    for (int i = 0; i < 100 && rc == 0; i++) {
        json_t *c = json_object();
        rc = rp_template_send_render(ts, "SMS", NULL, vars, NULL, c, &err);
        json_decref(c);
    }
    assert_int_equal(rc, RP_EINVAL);
    assert_string_equal(err.field, "TemplateConfiguration");
    free(big);
    json_decref(vars);
    json_decref(content);
    rp_template_send_free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_email_parts),
        cmocka_unit_test(test_push_sections),
        cmocka_unit_test(test_output_bound),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
