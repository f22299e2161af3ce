/* gateway/json_write.c: byte for byte what json_dumps(JSON_COMPACT) writes, for every kind of
 * value, escape and nesting, and for a full endpoint as imports store it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_write.h"

static void expect_as_jansson(const json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = rp_json_dump(v, &len);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
}

static void test_values(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "{}", "[]", "\"\"", "0", "-12", "9223372036854775807", "1.5", "-0.0", "1e300",
        "3.141592653589793", "true", "false", "null", "[1,[2,[3,{}]],{\"a\":[]}]",
        "{\"z\":1,\"a\":2,\"m\":{\"y\":null,\"b\":[true,false]}}",
        "\"quote \\\" backslash \\\\ slash / tab \\t nl \\n cr \\r bs \\b ff \\f\"",
        "\"controls \\u0001\\u001f\\u0000 and del \\u007f\"",
        "\"UTF-8: \\u00e9\\u4e2d\\ud83d\\ude00 \\u2028\"",
        "{\"k\\\"ey\\n\":\"v\"}", "{\"\":2}",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        json_error_t jerr;
        json_t *v = json_loads(texts[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
        if (!v)
            fail_msg("%s: %s", texts[i], jerr.text);
        expect_as_jansson(v);
        json_decref(v);
    }
    json_t *nul_key = json_object(); /* only made by code, the parser refuses them */
    json_object_setn_new(nul_key, "a\0b", 3, json_integer(1));
    expect_as_jansson(nul_key);
    json_decref(nul_key);
    assert_null(rp_json_dump(NULL, NULL));
}

static void test_large_endpoint(void **state)
{
    (void)state;
    json_t *ep = json_pack("{s:s, s:s, s:s, s:{s:s}, s:{s:f}}", "ChannelType", "SMS", "Address",
                           "+12065550100", "EndpointStatus", "ACTIVE", "Location", "Country",
                           "USA", "Metrics", "n", 42.0);
    json_t *attrs = json_object();
    for (int i = 0; i < 20; i++) {
        char name[16], value[101];
        snprintf(name, sizeof(name), "a%d", i);
        for (int j = 0; j < 100; j++)
            value[j] = (char)(' ' + (i * 7 + j) % 95); /* every printable, quotes included */
        value[100] = '\0';
        json_object_set_new(attrs, name, json_pack("[s, s]", value, "x"));
    }
    json_object_set_new(ep, "Attributes", attrs);
    expect_as_jansson(ep);
    json_decref(ep);
}

/* The eight-byte scan for plain text hands over wherever the first byte to escape sits: each
 * such byte at every position of strings longer than two words, among UTF-8 and DEL. */
static void test_escapes_at_every_position(void **state)
{
    (void)state;
    static const char specials[] = {'"', '\\', '\n', '\x01', '\x1f', '\0'};
    for (size_t k = 0; k < sizeof(specials); k++)
        for (size_t at = 0; at < 19; at++) {
            char text[20];
            memcpy(text, "ab\xc3\xa9\x7f" "fghijklmnopqrs", 19);
            text[at] = specials[k];
            json_t *v = json_stringn(text, 19);
            if (!v) /* the position cut the two-byte character: jansson refuses that text */
                continue;
            expect_as_jansson(v);
            json_decref(v);
        }
}

/* The text writer's integers (event timestamps) print as printf's %lld, to both extremes. */
static void test_text_integers(void **state)
{
    (void)state;
    static const long long values[] = {0,  7,  -7,        1795396680955LL, -1000000000000LL,
                                       10, 99, LLONG_MAX, LLONG_MIN};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        struct rp_json_text t;
        rp_json_text_init(&t, 1);
        rp_json_text_rawn(&t, "[x", 1);
        rp_json_text_int(&t, values[i]);
        char want[32];
        snprintf(want, sizeof(want), "[%lld", values[i]);
        assert_string_equal(rp_json_text_finish(&t, NULL), want);
        free(t.buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_large_endpoint),
        cmocka_unit_test(test_text_integers),
        cmocka_unit_test(test_escapes_at_every_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
