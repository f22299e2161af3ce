/* The routing summary of a stored endpoint (gateway/endpoint_summary.c): the members a campaign
 * needs, as the full parse would give them, and nothing for text that is not an endpoint. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "endpoint_summary.h"

static json_t *summary(const char *text)
{
    return rp_endpoint_summary(text, strlen(text));
}

static const char *member(const json_t *o, const char *name)
{
    return json_string_value(json_object_get(o, name));
}

static void stored_endpoint_keeps_routing_members(void **state)
{
    (void)state;
    json_t *s = summary(
        "{\"ChannelType\":\"APNS\",\"Address\":\"abab\",\"EndpointStatus\":\"ACTIVE\","
        "\"OptOut\":\"NONE\",\"Location\":{\"City\":\"Lyon\"},\"Demographic\":{\"Platform\":"
        "\"ios\",\"Timezone\":\"Europe/Paris\",\"Locale\":\"fr_FR\"},\"Attributes\":{\"Id\":"
        "[\"not this\"]},\"Metrics\":{\"score\":1.5},\"User\":{\"UserId\":\"u1\"},\"Id\":\"e1\"}");
    assert_non_null(s);
    assert_string_equal(member(s, "Id"), "e1");
    assert_string_equal(member(s, "ChannelType"), "APNS");
    assert_string_equal(member(s, "Address"), "abab");
    assert_string_equal(member(s, "EndpointStatus"), "ACTIVE");
    assert_string_equal(member(s, "OptOut"), "NONE");
    const json_t *d = json_object_get(s, "Demographic");
    assert_string_equal(member(d, "Platform"), "ios");
    assert_string_equal(member(d, "Timezone"), "Europe/Paris");
    assert_int_equal(json_object_size(d), 2);
    assert_int_equal(json_object_size(s), 6); /* nothing of Location, Attributes, User ... */
    json_decref(s);
}

static void strings_only_and_the_last_duplicate_wins(void **state)
{
    (void)state;
    json_t *s = summary("{\"Id\":\"first\",\"Id\":\"second\",\"Address\":\"a\",\"Address\":7,"
                        "\"OptOut\":null,\"Demographic\":{\"Platform\":\"x\"},"
                        "\"Demographic\":{\"Timezone\":\"UTC\"},\"ChannelType\":[\"GCM\"]}");
    assert_non_null(s);
    assert_string_equal(member(s, "Id"), "second");
    assert_null(json_object_get(s, "Address"));
    assert_null(json_object_get(s, "OptOut"));
    assert_null(json_object_get(s, "ChannelType"));
    const json_t *d = json_object_get(s, "Demographic");
    assert_null(json_object_get(d, "Platform"));
    assert_string_equal(member(d, "Timezone"), "UTC");
    json_decref(s);
    s = summary("{\"Demographic\":{\"Platform\":\"x\"},\"Demographic\":\"flat\"}");
    assert_null(json_object_get(s, "Demographic"));
    json_decref(s);
}

static void escapes_are_decoded(void **state)
{
    (void)state;
    json_t *s = summary("{\"Address\":\"caf\\u00e9 \\\"q\\\" \\ud83d\\ude00\"}");
    assert_non_null(s);
    assert_string_equal(member(s, "Address"), "caf\xc3\xa9 \"q\" \xf0\x9f\x98\x80");
    json_decref(s);
}

static void what_is_not_an_endpoint_gives_null(void **state)
{
    (void)state;
    const char *bad[] = {
        "", "[]", "\"Id\"", "42", "null", "{\"Id\":\"a\"", "{\"Id\":\"a\"} {}",
        "{\"Id\":\"a\"}x", "{\"Id\":\"a\\u0000b\"}", "{\"Id\":\"\xff\"}", "{\"Id\":\"\xc0\xaf\"}",
        "{\"Id\":\"\xed\xa0\x80\"}", "{'Id':'a'}",
        "{\"Id\":\"a\",}", "{\"Id\" \"a\"}", "{\"Id\":\"a\"/*c*/}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *s = rp_endpoint_summary(bad[i], strlen(bad[i]));
        if (s)
            fail_msg("accepted: %s", bad[i]);
    }
    /* The length bounds the text: what follows it is not read. */
    json_t *s = rp_endpoint_summary("{\"Id\":\"a\"}garbage", 10);
    assert_non_null(s);
    assert_string_equal(member(s, "Id"), "a");
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(stored_endpoint_keeps_routing_members),
        cmocka_unit_test(strings_only_and_the_last_duplicate_wins),
        cmocka_unit_test(escapes_are_decoded),
        cmocka_unit_test(what_is_not_an_endpoint_gives_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
