/* Endpoint validation and merge: gateway/endpoint.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "rc.h"

#define NOW     "2026-03-01T10:00:00.000Z"
#define EARLIER "2025-12-24T08:30:00.000Z"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    return v;
}

static char *repeat(const char *unit, size_t n)
{
    size_t len = strlen(unit);
    char *s = malloc(len * n + 1);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * len, unit, len);
    s[len * n] = '\0';
    return s;
}

/* An object of n custom attributes named prefix0..: arrays of one string, or numbers. */
static json_t *attribute_map(const char *prefix, size_t n, bool numeric)
{
    json_t *map = json_object();
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "%s%zu", prefix, i);
        json_object_set_new(map, name, numeric ? json_real((double)i) : json_pack("[s]", "v"));
    }
    return map;
}

static void expect_invalid_json(json_t *req, enum rp_endpoint_shape shape, const char *field,
                                const char *msg_part)
{
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_endpoint_validate(req, shape, &err);
    if (rc != RP_EINVAL || strcmp(err.field, field) != 0) {
        char *dump = json_dumps(req, JSON_COMPACT);
        fail_msg("%s: rc %d field '%s' (%s), expected field '%s'", dump, rc, err.field, err.msg,
                 field);
    }
    assert_true(err.msg[0] != '\0');
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("field %s: message '%s' lacks '%s'", field, err.msg, msg_part);
}

static void expect_invalid(const char *text, enum rp_endpoint_shape shape, const char *field,
                           const char *msg_part)
{
    json_t *req = parse(text);
    expect_invalid_json(req, shape, field, msg_part);
    json_decref(req);
}

static void expect_valid(const char *text, enum rp_endpoint_shape shape)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *req = parse(text);
    int rc = rp_endpoint_validate(req, shape, &err);
    if (rc != 0)
        fail_msg("%s: rc %d field '%s': %s", text, rc, err.field, err.msg);
    json_decref(req);
}

static json_t *merge_ok(const json_t *existing, const char *req_text, const json_t *removed,
                        const char *endpoint_id)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *req = parse(req_text);
    json_t *out = rp_endpoint_merge(existing, req, removed, "app-1", endpoint_id, NOW, &err);
    if (!out)
        fail_msg("merge of %s failed: field '%s': %s", req_text, err.field, err.msg);
    json_decref(req);
    return out;
}

static void expect_merge_fails(const json_t *existing, json_t *req, const char *field)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *out = rp_endpoint_merge(existing, req, NULL, "app-1", "ep-1", NOW, &err);
    if (out) {
        char *dump = json_dumps(out, JSON_COMPACT);
        fail_msg("merge succeeded, expected an error on %s: %s", field, dump);
    }
    assert_string_equal(err.field, field);
    assert_true(err.msg[0] != '\0');
}

static void assert_json_equal(const json_t *got, const char *expected_text)
{
    json_t *expected = parse(expected_text);
    if (!json_equal(got, expected)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *e = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got      %s\nexpected %s", g, e);
    }
    json_decref(expected);
}

/* A stored SMS endpoint as a previous merge leaves it. */
static json_t *stored_endpoint(void)
{
    return parse("{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
                 " \"EndpointStatus\": \"INACTIVE\", \"OptOut\": \"ALL\", \"RequestId\": \"r-0\","
                 " \"Location\": {\"City\": \"Seattle\", \"Country\": \"USA\"},"
                 " \"Demographic\": {\"Make\": \"Apple\", \"Model\": \"iPhone\"},"
                 " \"EffectiveDate\": \"" EARLIER "\","
                 " \"Attributes\": {\"a\": [\"1\"], \"b\": [\"2\"], \"secret\": [\"old\"]},"
                 " \"Metrics\": {\"visits\": 2.0},"
                 " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"name\": [\"Ann\"]}},"
                 " \"ApplicationId\": \"app-1\", \"Id\": \"ep-1\", \"CohortId\": \"42\","
                 " \"CreationDate\": \"" EARLIER "\"}");
}

static void test_create(void **state)
{
    (void)state;
    json_t *out = merge_ok(NULL,
                           "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
                           " \"RequestId\": \"r-1\","
                           " \"Attributes\": {\"interests\": [\"music\", \"travel\"]},"
                           " \"Metrics\": {\"score\": 3},"
                           " \"Demographic\": {\"Platform\": \"ios\", \"Locale\": \"en_US\"},"
                           " \"Location\": {\"Latitude\": 47.6, \"Longitude\": -122, "
                           "\"City\": \"Seattle\"},"
                           " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": "
                           "{\"name\": [\"Ann\"]}},"
                           " \"Unknown\": {\"ignored\": true}}",
                           NULL, "ep-1");
    assert_json_equal(
        out, "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
             " \"EndpointStatus\": \"ACTIVE\", \"OptOut\": \"NONE\", \"RequestId\": \"r-1\","
             " \"Location\": {\"Latitude\": 47.6, \"Longitude\": -122.0, "
             "\"City\": \"Seattle\"},"
             " \"Demographic\": {\"Locale\": \"en_US\", \"Platform\": \"ios\"},"
             " \"EffectiveDate\": \"" NOW "\","
             " \"Attributes\": {\"interests\": [\"music\", \"travel\"]},"
             " \"Metrics\": {\"score\": 3.0},"
             " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"name\": [\"Ann\"]}},"
             " \"ApplicationId\": \"app-1\", \"Id\": \"ep-1\", \"CohortId\": \"10\","
             " \"CreationDate\": \"" NOW "\"}");
    assert_string_equal(rp_endpoint_user_id(out), "u-1");
    json_decref(out);
}

static void test_create_minimal_has_every_member(void **state)
{
    (void)state;
    json_t *out = merge_ok(NULL,
                           "{\"ChannelType\": \"EMAIL\", \"Address\": \"ann@example.com\","
                           " \"EffectiveDate\": \"20171011T150548Z\"}",
                           NULL, "device-42");
    assert_json_equal(out,
                      "{\"ChannelType\": \"EMAIL\", \"Address\": \"ann@example.com\","
                      " \"EndpointStatus\": \"ACTIVE\", \"OptOut\": \"NONE\","
                      " \"Location\": {}, \"Demographic\": {},"
                      " \"EffectiveDate\": \"20171011T150548Z\","
                      " \"Attributes\": {}, \"Metrics\": {}, \"User\": {\"UserAttributes\": {}},"
                      " \"ApplicationId\": \"app-1\", \"Id\": \"device-42\", \"CohortId\": \"60\","
                      " \"CreationDate\": \"" NOW "\"}");
    assert_null(rp_endpoint_user_id(out));

    /* Written in the order of the EndpointResponse schema. */
    static const char *const order[] = {
        "ChannelType",   "Address",      "EndpointStatus", "OptOut", "Location",      "Demographic",
        "EffectiveDate", "Attributes",   "Metrics",        "User",   "ApplicationId", "Id",
        "CohortId",      "CreationDate",
    };
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(out, key, v)
    {
        assert_true(i < sizeof(order) / sizeof(order[0]));
        assert_string_equal(key, order[i++]);
    }
    json_decref(out);
}

static void test_create_requires_channel_type_and_address(void **state)
{
    (void)state;
    json_t *req = parse("{\"Address\": \"+12065550100\"}");
    expect_merge_fails(NULL, req, "ChannelType");
    json_decref(req);
    req = parse("{\"ChannelType\": \"SMS\"}");
    expect_merge_fails(NULL, req, "Address");
    json_decref(req);
}

static void test_update_merges(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    json_t *before = json_deep_copy(existing);
    json_t *out = merge_ok(existing,
                           "{\"Attributes\": {\"b\": [\"3\"], \"c\": [\"4\"], \"a\": []},"
                           " \"Metrics\": {\"score\": 1.5},"
                           " \"Demographic\": {\"Model\": \"iPhone 15\", \"Locale\": \"en_GB\"},"
                           " \"Location\": {\"PostalCode\": \"98101\"},"
                           " \"User\": {\"UserAttributes\": {\"age\": [\"30\"]}}}",
                           NULL, "ep-1");
    /* Maps key by key (an empty array clears values, keeps the key), structures member by
     * member; status, opt-out, request id, dates and cohort as stored; EffectiveDate is now. */
    assert_json_equal(out,
                      "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
                      " \"EndpointStatus\": \"INACTIVE\", \"OptOut\": \"ALL\", "
                      "\"RequestId\": \"r-0\","
                      " \"Location\": {\"City\": \"Seattle\", \"Country\": \"USA\","
                      " \"PostalCode\": \"98101\"},"
                      " \"Demographic\": {\"Make\": \"Apple\", \"Model\": \"iPhone 15\","
                      " \"Locale\": \"en_GB\"},"
                      " \"EffectiveDate\": \"" NOW "\","
                      " \"Attributes\": {\"a\": [], \"b\": [\"3\"], \"secret\": [\"old\"],"
                      " \"c\": [\"4\"]},"
                      " \"Metrics\": {\"visits\": 2.0, \"score\": 1.5},"
                      " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"name\": [\"Ann\"],"
                      " \"age\": [\"30\"]}},"
                      " \"ApplicationId\": \"app-1\", \"Id\": \"ep-1\", \"CohortId\": \"42\","
                      " \"CreationDate\": \"" EARLIER "\"}");
    /* The result shares nothing with the stored endpoint. */
    json_array_append_new(json_object_get(json_object_get(out, "Attributes"), "secret"),
                          json_string("x"));
    assert_true(json_equal(existing, before));
    json_decref(out);

    out = merge_ok(existing,
                   "{\"EffectiveDate\": \"2026-02-01T00:00:00Z\", \"RequestId\": \"r-2\","
                   " \"OptOut\": \"NONE\"}",
                   NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "EffectiveDate")),
                        "2026-02-01T00:00:00Z");
    assert_string_equal(json_string_value(json_object_get(out, "RequestId")), "r-2");
    assert_string_equal(json_string_value(json_object_get(out, "OptOut")), "NONE");
    assert_string_equal(json_string_value(json_object_get(out, "CreationDate")), EARLIER);
    json_decref(out);
    json_decref(before);
    json_decref(existing);
}

static void test_address_change_reactivates(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    json_t *out = merge_ok(existing, "{\"Address\": \"+12065550199\"}", NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "ACTIVE");
    assert_string_equal(json_string_value(json_object_get(out, "Address")), "+12065550199");
    json_decref(out);

    /* The same address is no change: the stored status stays. */
    out = merge_ok(existing, "{\"Address\": \"+12065550100\"}", NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "INACTIVE");
    json_decref(out);

    /* An explicit status wins over the reactivation. */
    out = merge_ok(existing, "{\"Address\": \"+12065550199\", \"EndpointStatus\": \"INACTIVE\"}",
                   NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "INACTIVE");
    json_decref(out);

    out = merge_ok(NULL,
                   "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
                   " \"EndpointStatus\": \"INACTIVE\"}",
                   NULL, "ep-2");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "INACTIVE");
    json_decref(out);

    json_object_set_new(existing, "EndpointStatus", json_string("ACTIVE"));
    out = merge_ok(existing, "{\"EndpointStatus\": \"INACTIVE\"}", NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "INACTIVE");
    json_decref(out);
    json_decref(existing);
}

static void test_address_checked_against_effective_channel(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    /* The stored channel is SMS: an email address is not a phone number. */
    json_t *req = parse("{\"Address\": \"ann@example.com\"}");
    expect_merge_fails(existing, req, "Address");
    json_decref(req);
    /* Changing the channel alone leaves a phone number where an email address belongs. */
    req = parse("{\"ChannelType\": \"EMAIL\"}");
    expect_merge_fails(existing, req, "Address");
    json_decref(req);
    json_t *out = merge_ok(
        existing, "{\"ChannelType\": \"EMAIL\", \"Address\": \"ann@example.com\"}", NULL, "ep-1");
    assert_string_equal(json_string_value(json_object_get(out, "ChannelType")), "EMAIL");
    assert_string_equal(json_string_value(json_object_get(out, "EndpointStatus")), "ACTIVE");
    json_decref(out);
    json_decref(existing);
}

static void test_cohort_id(void **state)
{
    (void)state;
    const char *req = "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\"}";
    json_t *a = merge_ok(NULL, req, NULL, "ep-1");
    json_t *b = merge_ok(NULL, req, NULL, "ep-1");
    json_t *c = merge_ok(NULL, req, NULL, "EP-1");
    /* 32-bit FNV-1a of "ep-1" modulo 100 is 10 (computed apart from the code under test);
     * ids are case insensitive, so "EP-1" shares it. */
    assert_string_equal(json_string_value(json_object_get(a, "CohortId")), "10");
    assert_string_equal(json_string_value(json_object_get(b, "CohortId")), "10");
    assert_string_equal(json_string_value(json_object_get(c, "CohortId")), "10");
    json_decref(a);
    json_decref(b);
    json_decref(c);

    json_t *req_json = parse(req);
    bool seen[100] = {false};
    for (int i = 0; i < 2000; i++) {
        char id[32];
        snprintf(id, sizeof(id), "device-%d", i);
        struct rp_err err;
        json_t *out = rp_endpoint_merge(NULL, req_json, NULL, "app-1", id, NOW, &err);
        assert_non_null(out);
        char *end;
        long cohort = strtol(json_string_value(json_object_get(out, "CohortId")), &end, 10);
        assert_true(*end == '\0' && cohort >= 0 && cohort <= 99);
        seen[cohort] = true;
        json_decref(out);
    }
    for (int i = 0; i < 100; i++)
        assert_true(seen[i]);
    json_decref(req_json);
}

static void test_merged_limits(void **state)
{
    (void)state;
    static const struct {
        const char *member, *field;
        bool numeric;
    } maps[] = {
        {"Attributes", "Attributes", false},
        {"Metrics", "Metrics", true},
        {"UserAttributes", "User.UserAttributes", false},
    };
    for (size_t m = 0; m < sizeof(maps) / sizeof(maps[0]); m++) {
        bool user = strcmp(maps[m].member, "UserAttributes") == 0;
        json_t *existing = stored_endpoint();
        json_t *stored_map = attribute_map("old", 15, maps[m].numeric);
        json_t *req = parse("{}");
        json_t *req_map = attribute_map("new", 6, maps[m].numeric);
        if (user) {
            json_object_set_new(json_object_get(existing, "User"), "UserAttributes", stored_map);
            json_object_set_new(req, "User", json_pack("{s:o}", "UserAttributes", req_map));
        } else {
            json_object_set_new(existing, maps[m].member, stored_map);
            json_object_set_new(req, maps[m].member, req_map);
        }
        /* 15 stored + 6 new = 21. */
        expect_merge_fails(existing, req, maps[m].field);
        json_decref(req);

        /* 15 stored + 5 new = 20 is allowed, and replacing stored keys adds nothing. */
        req = parse("{}");
        req_map = attribute_map("new", 5, maps[m].numeric);
        json_t *replace = attribute_map("old", 15, maps[m].numeric);
        json_object_update(req_map, replace);
        json_decref(replace);
        if (user)
            json_object_set_new(req, "User", json_pack("{s:o}", "UserAttributes", req_map));
        else
            json_object_set_new(req, maps[m].member, req_map);
        struct rp_err err;
        json_t *out = rp_endpoint_merge(existing, req, NULL, "app-1", "ep-1", NOW, &err);
        if (!out)
            fail_msg("%s: %s", err.field, err.msg);
        json_t *merged = user ? json_object_get(json_object_get(out, "User"), "UserAttributes")
                              : json_object_get(out, maps[m].member);
        assert_int_equal(json_object_size(merged), 20);
        json_decref(out);
        json_decref(req);
        json_decref(existing);
    }
}

static void test_removed_attributes_ignored(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    json_t *removed = parse("{\"endpoint-custom-attributes\": [\"secret\", \"gone\"],"
                            " \"endpoint-metric-attributes\": [\"visits\", \"m\"],"
                            " \"endpoint-user-attributes\": [\"age\"]}");
    json_t *out = merge_ok(existing,
                           "{\"Attributes\": {\"secret\": [\"new\"], \"gone\": [\"x\"],"
                           " \"kept\": [\"y\"]},"
                           " \"Metrics\": {\"visits\": 9, \"m\": 1, \"n\": 2},"
                           " \"User\": {\"UserAttributes\": {\"age\": [\"30\"], "
                           "\"name\": [\"Bea\"]}}}",
                           removed, "ep-1");
    /* Stored values of removed attributes stay; new or changed values are not captured. */
    assert_json_equal(json_object_get(out, "Attributes"),
                      "{\"a\": [\"1\"], \"b\": [\"2\"], \"secret\": [\"old\"], "
                      "\"kept\": [\"y\"]}");
    assert_json_equal(json_object_get(out, "Metrics"), "{\"visits\": 2.0, \"n\": 2.0}");
    assert_json_equal(json_object_get(out, "User"),
                      "{\"UserId\": \"u-1\", \"UserAttributes\": {\"name\": [\"Bea\"]}}");
    json_decref(out);

    /* A removed attribute does not count towards the limit either. */
    json_t *req = parse("{}");
    json_t *map = attribute_map("x", 17, false);
    json_object_set_new(map, "gone", json_pack("[s]", "v"));
    json_object_set_new(req, "Attributes", map);
    struct rp_err err;
    out = rp_endpoint_merge(existing, req, removed, "app-1", "ep-1", NOW, &err);
    assert_non_null(out);
    assert_int_equal(json_object_size(json_object_get(out, "Attributes")), 20);
    json_decref(out);
    json_decref(req);
    json_decref(removed);
    json_decref(existing);
}

static void test_user_id(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    assert_string_equal(rp_endpoint_user_id(existing), "u-1");
    json_t *out = merge_ok(existing, "{\"User\": {\"UserId\": \"u-2\"}}", NULL, "ep-1");
    assert_string_equal(rp_endpoint_user_id(out), "u-2");
    assert_json_equal(json_object_get(json_object_get(out, "User"), "UserAttributes"),
                      "{\"name\": [\"Ann\"]}");
    json_decref(out);
    out = merge_ok(existing, "{\"User\": {\"UserId\": \"\"}}", NULL, "ep-1");
    assert_null(rp_endpoint_user_id(out));
    assert_null(json_object_get(json_object_get(out, "User"), "UserId"));
    json_decref(out);
    assert_null(rp_endpoint_user_id(NULL));
    json_t *odd = parse("{\"User\": {\"UserId\": 5}}");
    assert_null(rp_endpoint_user_id(odd));
    json_decref(odd);
    json_decref(existing);
}

static void test_valid_requests(void **state)
{
    (void)state;
    const char *full =
        "{\"ChannelType\": \"GCM\", \"Address\": \"fcm-registration-token-1\","
        " \"EndpointStatus\": \"INACTIVE\", \"OptOut\": \"ALL\", \"RequestId\": \"r\","
        " \"Location\": {\"Latitude\": -90, \"Longitude\": 180, \"PostalCode\": \"1\","
        " \"City\": \"c\", \"Region\": \"r\", \"Country\": \"USA\"},"
        " \"Demographic\": {\"Make\": \"m\", \"Model\": \"m\", \"ModelVersion\": \"1\","
        " \"Timezone\": \"America/Los_Angeles\", \"Locale\": \"en_US\", \"AppVersion\": \"1\","
        " \"Platform\": \"android\", \"PlatformVersion\": \"14\"},"
        " \"EffectiveDate\": \"2017-10-11T15:05:48.123Z\","
        " \"Attributes\": {\"interests\": [\"science\", \"music\"], \"empty\": []},"
        " \"Metrics\": {\"sessions\": 3, \"ratio\": 0.5},"
        " \"User\": {\"UserId\": \"user@example.com\", \"UserAttributes\": {\"n\": [\"x\"]}},"
        " \"Id\": \"ignored-in-a-request\", \"SomethingNew\": [1, 2, 3]}";
    expect_valid(full, RP_ENDPOINT_REQUEST);
    expect_valid(full, RP_ENDPOINT_BATCH_ITEM);
    expect_valid("{}", RP_ENDPOINT_REQUEST);
    expect_valid("{\"Address\": null, \"User\": null, \"Location\": {\"City\": null}}",
                 RP_ENDPOINT_REQUEST);
    expect_valid("{\"ChannelType\": \"APNS_VOIP_SANDBOX\"}", RP_ENDPOINT_REQUEST);
    static const char *const dates[] = {
        "20171011T150548Z",       "2017-10-11T15:05:48Z", "2017-10-11T15:05:48.5+02:00",
        "2017-10-11T15:05-0700",  "2024-02-29",           "2017-10-11T15:05:48,25Z",
        "2017-10-11T15:05:48+05", "2016-12-31T23:59:60Z", "20171011T1505",
    };
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++) {
        char text[96];
        snprintf(text, sizeof(text), "{\"EffectiveDate\": \"%s\"}", dates[i]);
        expect_valid(text, RP_ENDPOINT_REQUEST);
    }
}

static void test_invalid_requests(void **state)
{
    (void)state;
    static const struct {
        const char *json;
        const char *field;
        const char *msg_part;
    } cases[] = {
        {"[]", "", "object"},
        {"\"x\"", "", NULL},
        {"{\"Address\": 5}", "Address", "string"},
        {"{\"Address\": []}", "Address", "string"},
        {"{\"ChannelType\": 5}", "ChannelType", "string"},
        {"{\"ChannelType\": \"VOICE\"}", "ChannelType", "not supported by Repoint"},
        {"{\"ChannelType\": \"IN_APP\"}", "ChannelType", "not supported by Repoint"},
        {"{\"ChannelType\": \"CUSTOM\"}", "ChannelType", "not supported by Repoint"},
        {"{\"ChannelType\": \"FOO\"}", "ChannelType", "must be one of"},
        {"{\"ChannelType\": \"sms\"}", "ChannelType", "SMS"},
        {"{\"ChannelType\": \"SMS\", \"Address\": \"12065550100\"}", "Address", NULL},
        {"{\"ChannelType\": \"SMS\", \"Address\": \"+1 phone\"}", "Address", NULL},
        {"{\"ChannelType\": \"EMAIL\", \"Address\": \"not-an-email\"}", "Address", NULL},
        {"{\"ChannelType\": \"EMAIL\", \"Address\": \"\"}", "Address", NULL},
        {"{\"Demographic\": \"iPhone\"}", "Demographic", "object"},
        {"{\"Demographic\": {\"AppVersion\": 1}}", "Demographic.AppVersion", "string"},
        {"{\"Demographic\": {\"Locale\": true}}", "Demographic.Locale", "string"},
        {"{\"Demographic\": {\"Make\": []}}", "Demographic.Make", "string"},
        {"{\"Demographic\": {\"Model\": {}}}", "Demographic.Model", "string"},
        {"{\"Demographic\": {\"ModelVersion\": 1.5}}", "Demographic.ModelVersion", "string"},
        {"{\"Demographic\": {\"Platform\": false}}", "Demographic.Platform", "string"},
        {"{\"Demographic\": {\"PlatformVersion\": 14}}", "Demographic.PlatformVersion", "string"},
        {"{\"Demographic\": {\"Timezone\": 0}}", "Demographic.Timezone", "string"},
        {"{\"EffectiveDate\": 1507734348}", "EffectiveDate", "string"},
        {"{\"EffectiveDate\": \"yesterday\"}", "EffectiveDate", "ISO 8601"},
        {"{\"EffectiveDate\": \"2017-02-30T00:00:00Z\"}", "EffectiveDate", NULL},
        {"{\"EffectiveDate\": \"2017-10-11T25:00:00Z\"}", "EffectiveDate", NULL},
        {"{\"EffectiveDate\": \"2017-10-11T15:05:48Zjunk\"}", "EffectiveDate", NULL},
        {"{\"EffectiveDate\": \"2017-10-11T15:05:48.Z\"}", "EffectiveDate", NULL},
        {"{\"EffectiveDate\": \"2017-10-11 15:05:48\"}", "EffectiveDate", NULL},
        {"{\"EffectiveDate\": \"\"}", "EffectiveDate", NULL},
        {"{\"EndpointStatus\": 1}", "EndpointStatus", "string"},
        {"{\"EndpointStatus\": \"DISABLED\"}", "EndpointStatus", "ACTIVE or INACTIVE"},
        {"{\"EndpointStatus\": \"active\"}", "EndpointStatus", NULL},
        {"{\"Location\": [1, 2]}", "Location", "object"},
        {"{\"Location\": {\"City\": 5}}", "Location.City", "string"},
        {"{\"Location\": {\"Country\": 1}}", "Location.Country", "string"},
        {"{\"Location\": {\"PostalCode\": 98101}}", "Location.PostalCode", "string"},
        {"{\"Location\": {\"Region\": null, \"City\": [\"x\"]}}", "Location.City", NULL},
        {"{\"Location\": {\"Latitude\": \"47.6\", \"Longitude\": 1}}", "Location.Latitude",
         "number"},
        {"{\"Location\": {\"Latitude\": 1, \"Longitude\": true}}", "Location.Longitude", "number"},
        {"{\"Location\": {\"Latitude\": 200, \"Longitude\": 0}}", "Location.Latitude", "-90"},
        {"{\"Location\": {\"Latitude\": -90.1, \"Longitude\": 0}}", "Location.Latitude", NULL},
        {"{\"Location\": {\"Latitude\": 0, \"Longitude\": 180.5}}", "Location.Longitude", NULL},
        {"{\"Location\": {\"Latitude\": 10}}", "Location.Longitude", NULL},
        {"{\"Location\": {\"Longitude\": 10}}", "Location.Latitude", NULL},
        {"{\"Metrics\": [1]}", "Metrics", "numbers"},
        {"{\"Metrics\": {\"score\": \"high\"}}", "Metrics.score", "number"},
        {"{\"Metrics\": {\"score\": [1]}}", "Metrics.score", "number"},
        {"{\"Metrics\": {\"score\": true}}", "Metrics.score", "number"},
        {"{\"Metrics\": {\"\": 1}}", "Metrics", "empty"},
        {"{\"OptOut\": 0}", "OptOut", "string"},
        {"{\"OptOut\": \"MAYBE\"}", "OptOut", "ALL or NONE"},
        {"{\"RequestId\": 7}", "RequestId", "string"},
        {"{\"User\": \"u-1\"}", "User", "object"},
        {"{\"User\": {\"UserId\": 5}}", "User.UserId", "string"},
        {"{\"User\": {\"UserId\": \"a${b}\"}}", "User.UserId", "$"},
        {"{\"User\": {\"UserId\": \"a\\u0007b\"}}", "User.UserId", "control"},
        {"{\"User\": {\"UserAttributes\": [\"x\"]}}", "User.UserAttributes", "object"},
        {"{\"User\": {\"UserAttributes\": {\"x\": \"y\"}}}", "User.UserAttributes.x", "array"},
        {"{\"User\": {\"UserAttributes\": {\"x\": [1]}}}", "User.UserAttributes.x", "string"},
        {"{\"Attributes\": \"music\"}", "Attributes", "object"},
        {"{\"Attributes\": {\"interests\": \"music\"}}", "Attributes.interests", "array"},
        {"{\"Attributes\": {\"interests\": [\"a\", 1]}}", "Attributes.interests", "value 1"},
        {"{\"Attributes\": {\"interests\": [null]}}", "Attributes.interests", "string"},
        {"{\"Attributes\": {\"interests\": null}}", "Attributes.interests", "array"},
        {"{\"Attributes\": {\"\": [\"a\"]}}", "Attributes", "empty"},
        {"{\"Id\": 5, \"ChannelType\": \"FOO\"}", "ChannelType", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_invalid(cases[i].json, RP_ENDPOINT_REQUEST, cases[i].field, cases[i].msg_part);
}

static void test_attribute_limits(void **state)
{
    (void)state;
    /* 21 attributes in one request, for each of the three maps. */
    json_t *req = json_pack("{s:o}", "Attributes", attribute_map("k", 21, false));
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Attributes", "20");
    json_decref(req);
    req = json_pack("{s:o}", "Metrics", attribute_map("k", 21, true));
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Metrics", "20");
    json_decref(req);
    req = json_pack("{s:{s:o}}", "User", "UserAttributes", attribute_map("k", 21, false));
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "User.UserAttributes", "20");
    json_decref(req);
    req = json_pack("{s:o}", "Attributes", attribute_map("k", 20, false));
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, NULL), 0);
    json_decref(req);

    /* Names up to 50 characters (counted as characters, not bytes), values up to 100, at most
     * 50 values. */
    char *name50 = repeat("\xc3\xa9", 50), *name51 = repeat("n", 51);
    char *value100 = repeat("\xe2\x82\xac", 100), *value101 = repeat("v", 101);
    req = json_pack("{s:{s:[s]}}", "Attributes", name50, value100);
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, NULL), 0);
    json_decref(req);
    req = json_pack("{s:{s:[s]}}", "Attributes", name51, "v");
    expect_invalid_json(req, RP_ENDPOINT_REQUEST,
                        "Attributes.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", "50");
    json_decref(req);
    req = json_pack("{s:{s:[s]}}", "Attributes", "k", value101);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Attributes.k", "100");
    json_decref(req);
    req = json_pack("{s:{s:i}}", "Metrics", name51, 1);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST,
                        "Metrics.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn", "50");
    json_decref(req);
    /* The field is cut to fit struct rp_err; the path still starts right. */
    req = json_pack("{s:{s:{s:[s]}}}", "User", "UserAttributes", name51, "v");
    struct rp_err err;
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, &err), RP_EINVAL);
    assert_true(strncmp(err.field, "User.UserAttributes.nnnn", 24) == 0);
    assert_int_equal(strlen(err.field), sizeof(err.field) - 1);
    json_decref(req);

    json_t *values = json_array();
    for (int i = 0; i < 50; i++)
        json_array_append_new(values, json_string("v"));
    req = json_pack("{s:{s:O}}", "Attributes", "k", values);
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, NULL), 0);
    json_decref(req);
    json_array_append_new(values, json_string("v"));
    req = json_pack("{s:{s:O}}", "Attributes", "k", values);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Attributes.k", "50");
    json_decref(req);
    json_decref(values);

    /* Demographic and Location character limits from the API reference. */
    char *s51 = repeat("m", 51), *s101 = repeat("m", 101), *s76 = repeat("c", 76);
    req = json_pack("{s:{s:s}}", "Demographic", "Make", s51);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Demographic.Make", "50");
    json_decref(req);
    req = json_pack("{s:{s:s}}", "Demographic", "Model", s101);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Demographic.Model", "100");
    json_decref(req);
    req = json_pack("{s:{s:s}}", "Demographic", "Model", s51);
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, NULL), 0);
    json_decref(req);
    req = json_pack("{s:{s:s}}", "Location", "City", s76);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Location.City", "75");
    json_decref(req);
    req = json_pack("{s:{s:s}}", "Location", "Region", s76);
    expect_invalid_json(req, RP_ENDPOINT_REQUEST, "Location.Region", "75");
    json_decref(req);

    free(name50);
    free(name51);
    free(value100);
    free(value101);
    free(s51);
    free(s101);
    free(s76);
}

static void test_batch_item_id(void **state)
{
    (void)state;
    expect_invalid("{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\"}",
                   RP_ENDPOINT_BATCH_ITEM, "Id", "required");
    expect_invalid("{\"Id\": null}", RP_ENDPOINT_BATCH_ITEM, "Id", "required");
    expect_invalid("{\"Id\": 42}", RP_ENDPOINT_BATCH_ITEM, "Id", "string");
    expect_invalid("{\"Id\": \"\"}", RP_ENDPOINT_BATCH_ITEM, "Id", "required");
    expect_invalid("{\"Id\": \"a{b\"}", RP_ENDPOINT_BATCH_ITEM, "Id", "$, { or }");
    expect_invalid("{\"Id\": \"a\\nb\"}", RP_ENDPOINT_BATCH_ITEM, "Id", "control");
    expect_valid("{\"Id\": \"ep-1\"}", RP_ENDPOINT_BATCH_ITEM);
    /* The id is checked before the other members. */
    expect_invalid("{\"Id\": \"a}\", \"OptOut\": \"MAYBE\"}", RP_ENDPOINT_BATCH_ITEM, "Id", NULL);

    char *id128 = repeat("x", 128), *id129 = repeat("x", 129);
    json_t *req = json_pack("{s:s}", "Id", id128);
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_BATCH_ITEM, NULL), 0);
    json_decref(req);
    req = json_pack("{s:s}", "Id", id129);
    expect_invalid_json(req, RP_ENDPOINT_BATCH_ITEM, "Id", "128");
    json_decref(req);
    free(id128);
    free(id129);
}

static void test_id_validate(void **state)
{
    (void)state;
    struct rp_err err;
    assert_int_equal(rp_endpoint_id_validate("ep-1", "endpoint-id", &err), 0);
    assert_int_equal(rp_endpoint_id_validate("Gerät-ñ-☃", "endpoint-id", &err), 0);
    char *multibyte128 = repeat("\xc3\xa9", 128), *id129 = repeat("x", 129);
    assert_int_equal(rp_endpoint_id_validate(multibyte128, "endpoint-id", &err), 0);
    static const char *const bad[] = {
        "",
        "a$b",
        "{id}",
        "a\x01",
        "a\x7f",
        "a\xc2\x85" /* NEL, a C1 control */,
        "\xff",
        "\xc3",
        "\xc0\xaf" /* overlong / */,
        "\xed\xa0\x80" /* surrogate */,
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        assert_int_equal(rp_endpoint_id_validate(bad[i], "endpoint-id", &err), RP_EINVAL);
        assert_string_equal(err.field, "endpoint-id");
    }
    assert_int_equal(rp_endpoint_id_validate(id129, "endpoint-id", &err), RP_EINVAL);
    assert_int_equal(rp_endpoint_id_validate(NULL, "endpoint-id", &err), RP_EINVAL);
    free(multibyte128);
    free(id129);

    /* merge validates the id it is given too. */
    json_t *req = parse("{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\"}");
    assert_null(rp_endpoint_merge(NULL, req, NULL, "app-1", "bad$id", NOW, &err));
    assert_string_equal(err.field, "Id");
    json_decref(req);
}

static void test_merge_rejects_invalid_request(void **state)
{
    (void)state;
    json_t *existing = stored_endpoint();
    json_t *req = parse("{\"OptOut\": \"MAYBE\"}");
    expect_merge_fails(existing, req, "OptOut");
    json_decref(req);
    req = parse("[1]");
    expect_merge_fails(existing, req, "");
    json_decref(req);
    json_decref(existing);
}

static void test_attribute_type_validate(void **state)
{
    (void)state;
    struct rp_err err;
    assert_int_equal(rp_endpoint_attribute_type_validate("endpoint-custom-attributes", &err), 0);
    assert_int_equal(rp_endpoint_attribute_type_validate("endpoint-metric-attributes", &err), 0);
    assert_int_equal(rp_endpoint_attribute_type_validate("endpoint-user-attributes", &err), 0);
    static const char *const bad[] = {"endpoint-foo", "", "ENDPOINT-CUSTOM-ATTRIBUTES",
                                      "endpoint-custom-attributes/"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        assert_int_equal(rp_endpoint_attribute_type_validate(bad[i], &err), RP_EINVAL);
        assert_string_equal(err.field, "attribute-type");
        assert_non_null(strstr(err.msg, "endpoint-user-attributes"));
    }
    assert_int_equal(rp_endpoint_attribute_type_validate(NULL, &err), RP_EINVAL);
}

/* The APNs 410 rule compares provider times with EffectiveDate, in every form clients send. */
static void test_iso8601_parse_ms(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(rp_iso8601_parse_ms("2017-10-11", &ms));
    assert_int_equal(ms, 1507680000000LL);
    assert_true(rp_iso8601_parse_ms("20171011T150548Z", &ms));
    assert_int_equal(ms, 1507734348000LL);
    assert_true(rp_iso8601_parse_ms("2017-10-11T15:05:48.25Z", &ms));
    assert_int_equal(ms, 1507734348250LL);
    assert_true(rp_iso8601_parse_ms("2017-10-11T17:05:48+02:00", &ms));
    assert_int_equal(ms, 1507734348000LL);
    assert_true(rp_iso8601_parse_ms("2017-10-11T10:05-0500", &ms));
    assert_int_equal(ms, 1507734300000LL);
    assert_false(rp_iso8601_parse_ms("2017-02-30", &ms));
    assert_false(rp_iso8601_parse_ms("2017-10-11T15:05:48Zjunk", &ms));
    assert_false(rp_iso8601_parse_ms("2017-10-11T25:00", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create),
        cmocka_unit_test(test_create_minimal_has_every_member),
        cmocka_unit_test(test_create_requires_channel_type_and_address),
        cmocka_unit_test(test_update_merges),
        cmocka_unit_test(test_address_change_reactivates),
        cmocka_unit_test(test_address_checked_against_effective_channel),
        cmocka_unit_test(test_cohort_id),
        cmocka_unit_test(test_merged_limits),
        cmocka_unit_test(test_removed_attributes_ignored),
        cmocka_unit_test(test_user_id),
        cmocka_unit_test(test_valid_requests),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_attribute_limits),
        cmocka_unit_test(test_batch_item_id),
        cmocka_unit_test(test_id_validate),
        cmocka_unit_test(test_merge_rejects_invalid_request),
        cmocka_unit_test(test_attribute_type_validate),
        cmocka_unit_test(test_iso8601_parse_ms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
