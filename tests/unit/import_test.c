/* Import rows and readers: gateway/import_row.c (attribute paths, CSV records, NDJSON lines and
 * their validation) and gateway/import_reader.c (streaming CSV / NDJSON, RFC 4180 cases, chunk
 * boundaries, line numbers, compressed files); plus dimensional segment rules
 * (gateway/segment_match.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"
#include "import_reader.h"
#include "import_row.h"
#include "rc.h"
#include "segment_match.h"
#include "util.h"

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    return v;
}

/* Every record the reader delivers: {"line": n, "req": {...}} or {"line": n, "error": "f: m"}. */
static int collect(void *ud, const json_t *req, const struct rp_err *err, long long line)
{
    json_t *out = ud;
    if (req)
        json_array_append_new(out, json_pack("{s:I, s:O}", "line", (json_int_t)line, "req", req));
    else
        json_array_append_new(out, json_pack("{s:I, s:s++}", "line", (json_int_t)line, "error",
                                             err->field, ": ", err->msg));
    return 0;
}

/* Reads text in chunks of chunk bytes (0: all at once); returns the records, *rc the result. */
static json_t *read_all(enum rp_import_format format, const char *text, size_t len, size_t chunk,
                        int *rc, struct rp_err *fatal)
{
    json_t *out = json_array();
    struct rp_import_reader r;
    rp_import_reader_init(&r, format, collect, out);
    *rc = 0;
    for (size_t off = 0; off < len && *rc == 0;) {
        size_t n = chunk && len - off > chunk ? chunk : len - off;
        *rc = rp_import_reader_feed(&r, text + off, n);
        off += n;
    }
    if (*rc == 0)
        *rc = rp_import_reader_finish(&r);
    if (fatal)
        *fatal = r.fatal;
    rp_import_reader_cleanup(&r);
    return out;
}

static void test_paths(void **state)
{
    (void)state;
    static const char *const good[] = {
        "Address", "ChannelType", "Demographic.AppVersion", "Demographic.Locale",
        "Demographic.Make", "Demographic.Model", "Demographic.ModelVersion",
        "Demographic.Platform", "Demographic.PlatformVersion", "Demographic.Timezone",
        "EffectiveDate", "EndpointStatus", "Id", "Location.City", "Location.Country",
        "Location.Latitude", "Location.Longitude", "Location.PostalCode", "Location.Region",
        "OptOut", "RequestId", "User.UserId", "Attributes.team", "Metrics.visits",
        "User.UserAttributes.FirstName", "Attributes.with.dots"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct rp_import_column col;
        struct rp_err err;
        rp_err_clear(&err);
        if (rp_import_path_parse(good[i], strlen(good[i]), &col, &err))
            fail_msg("%s refused: %s", good[i], err.msg);
        rp_import_column_cleanup(&col);
    }
    struct rp_import_column col;
    struct rp_err err;
    assert_int_equal(rp_import_path_parse("User.UserAttributes.FirstName", 29, &col, &err), 0);
    assert_int_equal(col.depth, 3);
    assert_string_equal(col.path[2], "FirstName");
    assert_int_equal(col.kind, RP_IMPORT_LIST);
    rp_import_column_cleanup(&col);
    assert_int_equal(rp_import_path_parse("Attributes.with.dots", 20, &col, &err), 0);
    assert_int_equal(col.depth, 2);
    assert_string_equal(col.path[1], "with.dots");
    rp_import_column_cleanup(&col);
    static const char *const bad[] = {"", "Location", "Location.Planet", "Attributes.",
                                      "Metrics.", "Demographic.make", "CreationDate",
                                      "User.UserAttributes.", "CohortId"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rp_err_clear(&err);
        if (rp_import_path_parse(bad[i], strlen(bad[i]), &col, &err) != RP_EINVAL)
            fail_msg("'%s' accepted", bad[i]);
        assert_string_equal(err.field, "header");
    }
    char longname[80];
    snprintf(longname, sizeof(longname), "Metrics.%051d", 0);
    assert_int_equal(rp_import_path_parse(longname, strlen(longname), &col, &err), RP_EINVAL);
}

static void test_csv_guide_example(void **state)
{
    (void)state;
    const char *text =
        "ChannelType,Address,Location.Country,Demographic.Platform,Demographic.Make,User.UserId\n"
        "SMS,+12065550182,CAN,Android,LG,example-user-id-1\n"
        "APNS,1a2b3c4d5e6f7a8b9c0d1a2b3c4d5e6f,USA,iOS,Apple,example-user-id-2\n"
        "EMAIL,john.stiles@example.com,USA,iOS,Apple,example-user-id-2\n";
    int rc;
    json_t *out = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(out), 3);
    json_t *want = parse("{\"ChannelType\": \"SMS\", \"Address\": \"+12065550182\","
                         " \"Location\": {\"Country\": \"CAN\"}, \"Demographic\":"
                         " {\"Platform\": \"Android\", \"Make\": \"LG\"},"
                         " \"User\": {\"UserId\": \"example-user-id-1\"}}");
    assert_true(json_equal(json_object_get(json_array_get(out, 0), "req"), want));
    assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "line")), 4);
    json_decref(want);
    json_decref(out);
}

static void test_csv_rfc4180_and_types(void **state)
{
    (void)state;
    const char *text =
        "Id,ChannelType,Address,Attributes.note,Metrics.score,Location.Latitude,"
        "Location.Longitude,User.UserAttributes.Name\r\n"
        "a,EMAIL,a@example.com,\"comma, \"\"quote\"\"\r\nand break\",-4.5e1,47.6,-122.3,\"\"\r\n"
        "b,SMS,+12065550100, padded ,,,, x \r\n";
    int rc;
    json_t *out = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, NULL);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(out), 2);
    json_t *a = json_object_get(json_array_get(out, 0), "req");
    assert_non_null(a);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(a, "Attributes"), "note"), 0)),
                        "comma, \"quote\"\r\nand break");
    assert_true(json_real_value(json_object_get(json_object_get(a, "Metrics"), "score")) ==
                -45.0);
    assert_true(json_real_value(json_object_get(json_object_get(a, "Location"), "Latitude")) ==
                47.6);
    /* An empty field leaves its attribute out. */
    assert_null(json_object_get(json_object_get(a, "User"), "UserAttributes"));
    assert_string_equal(json_string_value(json_object_get(a, "Id")), "a");
    json_t *b = json_object_get(json_array_get(out, 1), "req");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(b, "Attributes"), "note"), 0)),
                        " padded ");
    /* The second record starts on line 4: the first one spans lines 2 and 3. */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 1), "line")), 4);
    json_decref(out);
}

static void expect_record_error(const char *text, const char *field_part)
{
    int rc;
    json_t *out = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, NULL);
    assert_int_equal(rc, 0);
    const char *e = json_string_value(json_object_get(json_array_get(out, 0), "error"));
    if (!e || !strstr(e, field_part))
        fail_msg("%s: expected an error naming %s, got %s", text, field_part, e ? e : "none");
    json_decref(out);
}

static void test_csv_validation(void **state)
{
    (void)state;
    expect_record_error("ChannelType,Address\nFAX,x\n", "ChannelType");
    expect_record_error("ChannelType,Address,Metrics.n\nSMS,+12065550100,12abc\n", "Metrics.n");
    expect_record_error("ChannelType,Address,Metrics.n\nSMS,+12065550100,inf\n", "Metrics.n");
    expect_record_error("ChannelType,Address,OptOut\nSMS,+12065550100,MAYBE\n", "OptOut");
    expect_record_error("ChannelType,Address,EndpointStatus\nSMS,+12065550100,ON\n",
                        "EndpointStatus");
    expect_record_error("ChannelType,Address,EffectiveDate\nSMS,+12065550100,yesterday\n",
                        "EffectiveDate");
    expect_record_error("ChannelType,Address,Location.Latitude,Location.Longitude\n"
                        "SMS,+12065550100,91,0\n",
                        "Location.Latitude");
    expect_record_error("ChannelType,Address\nSMS\n", "record");
    expect_record_error("Id,ChannelType,Address\nbad$id,SMS,+12065550100\n", "Id");
    expect_record_error("ChannelType,Address,Attributes.x\nSMS,+1206555,caf\xe9\n",
                        "Attributes.x");
    /* Up to 20 custom attributes per map, as the guide says. */
    char header[2048] = "ChannelType,Address", row[2048] = "SMS,+12065550100";
    for (int i = 0; i < 21; i++) {
        snprintf(header + strlen(header), sizeof(header) - strlen(header), ",Attributes.a%d", i);
        snprintf(row + strlen(row), sizeof(row) - strlen(row), ",v");
    }
    char text[4200];
    snprintf(text, sizeof(text), "%s\n%s\n", header, row);
    expect_record_error(text, "Attributes");
}

static void test_csv_bad_header_refuses_file(void **state)
{
    (void)state;
    int rc;
    struct rp_err fatal;
    const char *text = "ChannelType,Address,Shoe.Size\nSMS,+12065550100,44\n";
    json_t *out = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    assert_non_null(strstr(fatal.msg, "Shoe.Size"));
    assert_int_equal(json_array_size(out), 0);
    json_decref(out);
    out = read_all(RP_IMPORT_CSV, "Address,Address\n", 16, 0, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    assert_non_null(strstr(fatal.msg, "named twice"));
    json_decref(out);
    out = read_all(RP_IMPORT_CSV, "", 0, 0, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    json_decref(out);
}

static void test_compressed_refused(void **state)
{
    (void)state;
    static const char gz[] = "\x1f\x8b\x08\x00\x00\x00\x00\x00";
    static const char zip[] = "PK\x03\x04rest";
    int rc;
    struct rp_err fatal;
    json_t *out = read_all(RP_IMPORT_JSON, gz, sizeof(gz) - 1, 0, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    assert_non_null(strstr(fatal.msg, "compressed"));
    json_decref(out);
    out = read_all(RP_IMPORT_CSV, zip, sizeof(zip) - 1, 0, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    json_decref(out);
    /* The magic is recognised even when it arrives one byte at a time. */
    out = read_all(RP_IMPORT_JSON, gz, sizeof(gz) - 1, 1, &rc, &fatal);
    assert_int_equal(rc, RP_EINVAL);
    assert_non_null(strstr(fatal.msg, "compressed"));
    json_decref(out);
    /* A short file that is not compressed is read whole. */
    out = read_all(RP_IMPORT_JSON, "{}", 2, 1, &rc, &fatal);
    assert_int_equal(rc, 0);
    assert_int_equal(json_array_size(out), 1);
    json_decref(out);
}

static void test_ndjson(void **state)
{
    (void)state;
    const char *text =
        "\xef\xbb\xbf{\"ChannelType\":\"SMS\",\"Address\":\"+12065550182\","
        "\"Location\":{\"Country\":\"CAN\"}}\r\n"
        "\n"
        "   \n"
        "{\"ChannelType\":\"EMAIL\",\"Address\":\"a@example.com\",\"Metrics\":{\"m\":\"x\"}}\n"
        "not json\n"
        "{\"Id\":\"u-1\",\"ChannelType\":\"SMS\",\"Address\":\"+1206\",\"OptOut\":\"ALL\"}";
    /* The same records whatever the chunking: whole, 1 byte, 7 bytes. */
    size_t chunks[] = {0, 1, 7};
    for (size_t c = 0; c < 3; c++) {
        int rc;
        json_t *out = read_all(RP_IMPORT_JSON, text, strlen(text), chunks[c], &rc, NULL);
        assert_int_equal(rc, 0);
        assert_int_equal(json_array_size(out), 4);
        assert_non_null(json_object_get(json_array_get(out, 0), "req"));
        assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 0), "line")), 1);
        const char *e1 = json_string_value(json_object_get(json_array_get(out, 1), "error"));
        assert_non_null(e1);
        assert_non_null(strstr(e1, "Metrics"));
        assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 1), "line")), 4);
        assert_non_null(json_object_get(json_array_get(out, 2), "error"));
        assert_int_equal(json_integer_value(json_object_get(json_array_get(out, 2), "line")), 5);
        json_t *last = json_object_get(json_array_get(out, 3), "req");
        assert_string_equal(json_string_value(json_object_get(last, "Id")), "u-1");
        json_decref(out);
    }
}

static void test_csv_chunking_is_invisible(void **state)
{
    (void)state;
    const char *text = "Id,ChannelType,Address,Attributes.n\n"
                       "a,SMS,+12065550100,\"x,\ny\"\n"
                       "b,SMS,+12065550101,z\n";
    int rc;
    json_t *whole = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, NULL);
    for (size_t chunk = 1; chunk < 9; chunk++) {
        json_t *parts = read_all(RP_IMPORT_CSV, text, strlen(text), chunk, &rc, NULL);
        assert_int_equal(rc, 0);
        assert_true(json_equal(whole, parts));
        json_decref(parts);
    }
    assert_int_equal(json_array_size(whole), 2);
    json_decref(whole);
}

static void test_record_too_long(void **state)
{
    (void)state;
    size_t n = RP_IMPORT_RECORD_MAX + 100;
    char *text = malloc(n + 200);
    assert_non_null(text);
    /* An unbalanced quote: the record fails, the next line is read afresh. */
    int off = snprintf(text, 200, "ChannelType,Address,Attributes.x\nSMS,+12065550100,\"");
    memset(text + off, 'a', n);
    off += (int)n;
    off += snprintf(text + off, 100, "\nSMS,+12065550101,ok\n");
    int rc;
    json_t *out = read_all(RP_IMPORT_CSV, text, (size_t)off, 65536, &rc, NULL);
    assert_int_equal(rc, 0);
    assert_true(json_array_size(out) >= 2);
    assert_non_null(strstr(json_string_value(json_object_get(json_array_get(out, 0), "error")),
                           "longer"));
    json_t *last = json_object_get(json_array_get(out, json_array_size(out) - 1), "req");
    assert_non_null(last);
    assert_string_equal(json_string_value(json_object_get(last, "Address")), "+12065550101");
    json_decref(out);
    free(text);
}

/* The guide's SMS address fails the channel's format check of UpdateEndpoint, but an import
 * row stores it as given, through the reader and through the merge. */
static void test_lenient_addresses(void **state)
{
    (void)state;
    json_t *req = json_pack("{s:s, s:s}", "ChannelType", "SMS", "Address", "2065550182");
    struct rp_err err;
    assert_int_equal(rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, &err), RP_EINVAL);
    assert_string_equal(err.field, "Address");
    assert_null(rp_endpoint_merge(NULL, req, NULL, "app-1", "ep-1", "2026-01-01T00:00:00Z", &err));
    assert_string_equal(err.field, "Address");
    json_t *merged = rp_endpoint_merge_as(RP_ENDPOINT_IMPORT_ROW, NULL, req, NULL, "app-1",
                                          "ep-1", "2026-01-01T00:00:00Z", &err);
    assert_non_null(merged);
    assert_string_equal(json_string_value(json_object_get(merged, "Address")), "2065550182");
    json_decref(merged);
    json_decref(req);

    const char *text = "ChannelType,Address\nSMS,2065550182\n";
    int rc;
    json_t *out = read_all(RP_IMPORT_CSV, text, strlen(text), 0, &rc, NULL);
    assert_non_null(json_object_get(json_array_get(out, 0), "req"));
    json_decref(out);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_true(rp_utf8_valid("Zoë 中 😀", strlen("Zoë 中 😀")));
    assert_false(rp_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(rp_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(rp_utf8_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
    assert_false(rp_utf8_valid("\xe4\xb8", 2));         /* truncated */
    /* The eight-byte ASCII skip hands over to the decoder wherever the first non-ASCII is. */
    assert_true(rp_utf8_valid("0123456789abcdef", 16));
    assert_true(rp_utf8_valid("01234567\xc3\xa9", 10));
    assert_true(rp_utf8_valid("0123456\xc3\xa9", 9));
    assert_false(rp_utf8_valid("0123456789abcd\xc0\xaf", 16));
    assert_false(rp_utf8_valid("01234567\xe4\xb8", 10));
    assert_false(rp_utf8_valid("0123456789abcdef\xff", 17));
}

static void test_strcpy_fit(void **state)
{
    (void)state;
    char out[6];
    memset(out, 'x', sizeof(out));
    rp_strcpy_fit(out, sizeof(out), "abc");
    assert_string_equal(out, "abc");
    rp_strcpy_fit(out, sizeof(out), "abcdefgh"); /* cut to fit, terminated: as snprintf "%s" */
    assert_string_equal(out, "abcde");
    rp_strcpy_fit(out, sizeof(out), "abcde");
    assert_string_equal(out, "abcde");
    rp_strcpy_fit(out, sizeof(out), "");
    assert_string_equal(out, "");
    rp_strcpy_fit(out, 1, "abc");
    assert_string_equal(out, "");
}

static void test_segment_dimensions(void **state)
{
    (void)state;
    json_t *ep = parse("{\"Id\": \"e\", \"ChannelType\": \"SMS\", \"Demographic\": {\"Platform\":"
                       " \"iOS\"}, \"Location\": {\"Country\": \"USA\", \"Latitude\": 47.6,"
                       " \"Longitude\": -122.3}, \"Attributes\": {\"tier\": [\"gold\"],"
                       " \"joined\": [\"2025-06-01T00:00:00Z\"]}, \"Metrics\": {\"visits\": 5},"
                       " \"User\": {\"UserAttributes\": {\"name\": [\"Ann Lee\"]}}}");
    static const struct {
        const char *dims;
        bool match;
    } cases[] = {
        {"{}", true},
        {"{\"Demographic\": {\"Platform\": {\"Values\": [\"ios\"]}}}", true},
        {"{\"Demographic\": {\"Channel\": {\"DimensionType\": \"EXCLUSIVE\","
         " \"Values\": [\"SMS\"]}}}", false},
        {"{\"Location\": {\"Country\": {\"Values\": [\"CAN\", \"USA\"]}}}", true},
        {"{\"Location\": {\"GPSPoint\": {\"Coordinates\": {\"Latitude\": 47.5, \"Longitude\":"
         " -122.2}, \"RangeInKilometers\": 50}}}", true},
        {"{\"Location\": {\"GPSPoint\": {\"Coordinates\": {\"Latitude\": 40.7, \"Longitude\":"
         " -74.0}, \"RangeInKilometers\": 50}}}", false},
        {"{\"Attributes\": {\"tier\": {\"AttributeType\": \"EXCLUSIVE\", \"Values\":"
         " [\"gold\"]}}}", false},
        {"{\"Attributes\": {\"joined\": {\"AttributeType\": \"AFTER\", \"Values\":"
         " [\"2025-01-01T00:00:00Z\"]}}}", true},
        {"{\"Attributes\": {\"joined\": {\"AttributeType\": \"BETWEEN\", \"Values\":"
         " [\"2025-07-01T00:00:00Z\", \"2025-08-01T00:00:00Z\"]}}}", false},
        {"{\"UserAttributes\": {\"name\": {\"AttributeType\": \"CONTAINS\", \"Values\":"
         " [\"Lee\"]}}}", true},
        {"{\"Metrics\": {\"visits\": {\"ComparisonOperator\": \"GREATER_THAN_OR_EQUAL\","
         " \"Value\": 5}}}", true},
        {"{\"Metrics\": {\"visits\": {\"ComparisonOperator\": \"LESS_THAN\", \"Value\": 5}}}",
         false},
        {"{\"Metrics\": {\"absent\": {\"ComparisonOperator\": \"EQUAL\", \"Value\": 0}}}",
         false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *d = parse(cases[i].dims);
        struct rp_err err;
        rp_err_clear(&err);
        if (rp_segment_dimensions_validate(d, "Dimensions", &err))
            fail_msg("%s refused: %s", cases[i].dims, err.msg);
        if (rp_segment_dimensions_match(d, ep) != cases[i].match)
            fail_msg("%s: expected %s", cases[i].dims, cases[i].match ? "a match" : "no match");
        json_decref(d);
    }
    json_t *bad = parse("{\"Metrics\": {\"m\": {\"ComparisonOperator\": \"ABOUT\", \"Value\": 1}}}");
    struct rp_err err;
    assert_int_equal(rp_segment_dimensions_validate(bad, "Dimensions", &err), RP_EINVAL);
    json_decref(bad);
    json_decref(ep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_csv_guide_example),
        cmocka_unit_test(test_csv_rfc4180_and_types),
        cmocka_unit_test(test_csv_validation),
        cmocka_unit_test(test_csv_bad_header_refuses_file),
        cmocka_unit_test(test_compressed_refused),
        cmocka_unit_test(test_ndjson),
        cmocka_unit_test(test_csv_chunking_is_invisible),
        cmocka_unit_test(test_record_too_long),
        cmocka_unit_test(test_lenient_addresses),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_strcpy_fit),
        cmocka_unit_test(test_segment_dimensions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
