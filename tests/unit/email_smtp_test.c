/* Tests for the EMAIL transport's pure parts: how a relay's answer maps onto DeliveryStatus
 * (channels/email/smtp.c rp_email_map_status) and the relay settings (channels/email/
 * smtp_relay.c: smtp.url forms, STARTTLS defaults, the per-app relay document). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "channels/email/smtp.h"
#include "channels/email/smtp_relay.h"
#include "gateway/config.h"
#include "gateway/rc.h"

static void test_map_status(void **state)
{
    (void)state;
    static const struct {
        int code;
        const char *text;
        int c, s, d;
        enum rp_delivery_status status;
        int dead;
        const char *enhanced;
    } cases[] = {
        {250, "2.0.0 OK", 2, 0, 0, RP_DS_SUCCESSFUL, 0, NULL},
        {550, "5.1.1 User unknown", 5, 1, 1, RP_DS_PERMANENT_FAILURE, 1, "5.1.1"},
        /* Enhanced code only in the text (relay without ENHANCEDSTATUSCODES). */
        {550, "5.1.1 User unknown", 0, 0, 0, RP_DS_PERMANENT_FAILURE, 1, "5.1.1"},
        {550, "5.1.10 Null MX", 0, 0, 0, RP_DS_PERMANENT_FAILURE, 1, "5.1.10"},
        {552, "5.2.2 Mailbox full", 5, 2, 2, RP_DS_PERMANENT_FAILURE, 0, "5.2.2"},
        {554, "5.7.1 Rejected as spam", 0, 0, 0, RP_DS_PERMANENT_FAILURE, 0, "5.7.1"},
        {550, "No such user", 0, 0, 0, RP_DS_PERMANENT_FAILURE, 0, NULL},
        {451, "4.3.0 Try later", 4, 3, 0, RP_DS_TEMPORARY_FAILURE, 0, "4.3.0"},
        /* A 4xx whose text claims a 5.x.x code is still temporary and not dead. */
        {450, "5.1.1 confused", 0, 0, 0, RP_DS_TEMPORARY_FAILURE, 0, NULL},
        {421, "Service not available\r\nbye", 0, 0, 0, RP_DS_TEMPORARY_FAILURE, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_email_map_status(cases[i].code, cases[i].text, cases[i].c, cases[i].s, cases[i].d, NULL,
                            &r);
        assert_int_equal(r.status, cases[i].status);
        assert_int_equal(r.status_code, cases[i].code);
        assert_int_equal(r.address_dead, cases[i].dead);
        assert_null(strpbrk(r.status_message, "\r\n"));
        const char *enhanced =
            json_string_value(json_object_get(r.attributes, "smtp_enhanced_status"));
        if (cases[i].enhanced)
            assert_string_equal(enhanced, cases[i].enhanced);
        else
            assert_null(enhanced);
        rp_delivery_result_cleanup(&r);
    }
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_email_map_status(0, NULL, 0, 0, 0, "the relay does not offer STARTTLS", &r);
    assert_int_equal(r.status, RP_DS_TEMPORARY_FAILURE);
    assert_int_equal(r.status_code, 0);
    assert_string_equal(r.status_message, "the relay does not offer STARTTLS");
    rp_delivery_result_cleanup(&r);
}

static void test_parse_url(void **state)
{
    (void)state;
    struct rp_smtp_relay r;
    struct rp_err err;
    memset(&r, 0, sizeof(r));
    assert_int_equal(rp_smtp_relay_parse_url("smtp://mail.example.com", "auto", &r, "u", "s", &err),
                     0);
    assert_string_equal(r.host, "mail.example.com");
    assert_int_equal(r.port, 587);
    assert_int_equal(r.starttls, RP_SMTP_STARTTLS_REQUIRED);
    assert_int_equal(rp_smtp_relay_parse_url("smtp://127.0.0.1:2525", "auto", &r, "u", "s", &err),
                     0);
    assert_int_equal(r.port, 2525);
    assert_int_equal(r.starttls, RP_SMTP_STARTTLS_OPTIONAL);
    assert_int_equal(rp_smtp_relay_parse_url("smtp://localhost:25", "off", &r, "u", "s", &err), 0);
    assert_int_equal(r.starttls, RP_SMTP_STARTTLS_OFF);
    static const char *const bad[] = {
        "smtps://mail.example.com:465",
        "http://x",
        "smtp://",
        "smtp://h:0",
        "smtp://h:70000",
        "smtp://user@h",
        "smtp://h/path",
        "smtp://h_x",
        "smtp://h:25x",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        assert_int_equal(rp_smtp_relay_parse_url(bad[i], "auto", &r, "u", "s", &err), RP_EINVAL);
        assert_string_equal(err.field, "u");
    }
    assert_int_equal(rp_smtp_relay_parse_url("smtp://h", "sometimes", &r, "u", "s", &err),
                     RP_EINVAL);
    assert_string_equal(err.field, "s");
}

static void test_relay_json(void **state)
{
    (void)state;
    struct rp_config cfg;
    struct rp_err err;
    char *env[] = {NULL};
    assert_int_equal(rp_config_load(&cfg, NULL, env, &err), 0);
    struct rp_smtp_relay r;
    json_t *doc = json_pack("{s:s, s:s, s:s, s:i}", "url", "smtp://mx.example.com:2525", "username",
                            "u", "password", "p", "connections", 3);
    assert_int_equal(rp_smtp_relay_from_json(doc, &cfg, &r, &err), 0);
    assert_int_equal(r.connections, 3);
    assert_int_equal(r.messages_per_connection,
                     rp_config_int(&cfg, "smtp.messages_per_connection"));
    assert_string_equal(r.username, "u");
    assert_string_equal(r.password, "p");
    rp_smtp_relay_cleanup(&r);
    json_decref(doc);

    static const char *const bad[][2] = {
        {"{}", "url"},
        {"{\"url\": 5}", "url"},
        {"{\"url\": \"smtp://h\", \"password\": \"p\"}", "password"},
        {"{\"url\": \"smtp://h\", \"connections\": 0}", "connections"},
        {"{\"url\": \"smtp://h\", \"timeout_ms\": 5}", "timeout_ms"},
        {"{\"url\": \"smtp://h\", \"username\": \"a\\nb\"}", "username"},
        {"{\"url\": \"smtp://mx.example.com\", \"starttls\": \"off\", \"username\": \"u\"}",
         "starttls"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = json_loads(bad[i][0], 0, NULL);
        assert_non_null(doc);
        rp_err_clear(&err);
        assert_int_equal(rp_smtp_relay_from_json(doc, &cfg, &r, &err), RP_EINVAL);
        assert_string_equal(err.field, bad[i][1]);
        rp_smtp_relay_cleanup(&r);
        json_decref(doc);
    }
    rp_config_cleanup(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_status),
        cmocka_unit_test(test_parse_url),
        cmocka_unit_test(test_relay_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
