/* gateway/json_stream.c: exactly one whole JSON value, nothing before or after it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "json_stream.h"

/* Only whether the text is one whole value: yajl skips events without a callback. */
static int whole(const char *text)
{
    static const yajl_callbacks none = {0};
    return rp_json_stream(&none, NULL, text, strlen(text));
}

static void test_one_value_with_whitespace_around(void **state)
{
    (void)state;
    assert_true(whole("{\"a\":1,\"b\":[true,null,\"x\"]}"));
    assert_true(whole("  {\"a\":\"b\"} \n\t"));
    assert_true(whole("123"));
    assert_true(whole("\"text\""));
    assert_true(whole("[]"));
}

/* yajl's lexer waits for the end of a string that opens after the value, and its
 * yajl_complete_parse used to take such texts whole. */
static void test_string_left_open_after_the_value_is_refused(void **state)
{
    (void)state;
    assert_false(whole("{\"a\":1}\""));
    assert_false(whole("{\"a\":1} \"abc"));
    assert_false(whole("{\"a\":1}\"abc}"));
    assert_false(whole("{\"a\":1}\"ab\\"));
    assert_false(whole("{\"a\":1}\"\\u12"));
    assert_false(whole("\"open"));
}

static void test_other_trailing_content_is_refused(void **state)
{
    (void)state;
    assert_false(whole("{\"a\":1} {}"));
    assert_false(whole("{\"a\":1} tru"));
    assert_false(whole("{\"a\":1} 12"));
    assert_false(whole("{\"a\":1"));
    assert_false(whole(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_value_with_whitespace_around),
        cmocka_unit_test(test_string_left_open_after_the_value_is_refused),
        cmocka_unit_test(test_other_trailing_content_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
