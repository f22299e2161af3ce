/* Cutting import files into pieces (gateway/import_split.c): whatever the cut points, reading
 * the pieces one after another with fresh readers (the CSV header first, line numbers carried
 * over, as import_job.c does) yields exactly the records, errors and line numbers of one reader
 * of the whole file, for CSV with quoted line breaks, CRLF, blank lines, stray quotes, a byte
 * order mark and bad records, and for NDJSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import_reader.h"
#include "import_split.h"
#include "rc.h"

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

static void feed_range(struct rp_import_reader *r, const char *text, long long start,
                       long long end, long long size)
{
    if (end < 0)
        end = size;
    /* In odd chunks, as files arrive. */
    for (long long at = start; at < end;) {
        long long n = end - at < 777 ? end - at : 777;
        rp_import_reader_feed(r, text + at, (size_t)n);
        at += n;
    }
}

static json_t *read_whole(enum rp_import_format format, const char *text, size_t len)
{
    json_t *out = json_array();
    struct rp_import_reader r;
    rp_import_reader_init(&r, format, collect, out);
    feed_range(&r, text, 0, -1, (long long)len);
    rp_import_reader_finish(&r);
    rp_import_reader_cleanup(&r);
    return out;
}

/* Splits text (through a real file, as jobs do) and reads the pieces; returns the records and
 * the number of pieces. */
static json_t *read_pieces(enum rp_import_format format, const char *text, size_t len,
                           long long piece_bytes, size_t *pieces)
{
    char path[] = "/tmp/rp-split-test-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    unlink(path);
    struct rp_import_cut *cuts;
    long long header_end;
    *pieces = rp_import_split_fd(fd, (long long)len, format, piece_bytes, &cuts, &header_end,
                                 NULL, NULL);
    close(fd);
    json_t *out = json_array();
    long long expect_start = 0;
    for (size_t k = 0; k < *pieces; k++) {
        assert_int_equal(cuts[k].start, expect_start); /* no gap, no overlap */
        assert_true(k + 1 == *pieces ? cuts[k].end == -1 : cuts[k].end > cuts[k].start);
        expect_start = cuts[k].end;
        assert_true(k == 0 || text[cuts[k].start - 1] == '\n');
        struct rp_import_reader r;
        rp_import_reader_init(&r, format, collect, out);
        if (cuts[k].start > 0) {
            if (format == RP_IMPORT_CSV) {
                r.scan_only = 1; /* the header only, as import_job.c reads it */
                feed_range(&r, text, 0, header_end, (long long)len);
                r.scan_only = 0;
            } else {
                r.sniffed = 1;
                r.bom_done = 1;
            }
            r.line = cuts[k].line;
        }
        feed_range(&r, text, cuts[k].start, cuts[k].end, (long long)len);
        rp_import_reader_finish(&r);
        rp_import_reader_cleanup(&r);
    }
    free(cuts);
    return out;
}

static void expect_same(enum rp_import_format format, const char *text, long long piece_bytes,
                        size_t min_pieces)
{
    size_t len = strlen(text), pieces;
    json_t *whole = read_whole(format, text, len);
    json_t *cut = read_pieces(format, text, len, piece_bytes, &pieces);
    if (pieces < min_pieces)
        fail_msg("%zu pieces, expected at least %zu", pieces, min_pieces);
    if (!json_equal(whole, cut)) {
        char *a = json_dumps(whole, JSON_COMPACT), *b = json_dumps(cut, JSON_COMPACT);
        fail_msg("pieces read differently (%zu pieces):\nwhole %.2000s\ncut   %.2000s", pieces,
                 a, b);
    }
    assert_true(json_array_size(whole) > 0);
    json_decref(whole);
    json_decref(cut);
}

/* A CSV body of n records, each kind of hard case again and again. */
static char *tricky_csv(int n)
{
    size_t cap = (size_t)n * 200 + 256, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "\xef\xbb\xbf\"Address\",ChannelType,\"Attributes.note\"\r\n");
    for (int i = 0; i < n; i++) {
        const char *forms[] = {
            "+1206555%04d,SMS,plain\r\n",
            "+1206555%04d,SMS,\"two\nlines, and a comma\"\n",
            "+1206555%04d,SMS,\"quoted \"\"quote\"\"\n\n,still inside\"\n",
            "\n+1206555%04d,SMS,after a blank line\n",
            "+1206555%04d,SMS,stray\"quote\n",
            "+1206555%04d,SMS,\"\n\"\r\n",
            "+1206555%04d,NOPE,bad channel\n",
            "+1206555%04d,SMS,too,many\n",
        };
        len += (size_t)snprintf(text + len, cap - len, forms[i % 8], i);
    }
    return text;
}

static void test_csv_pieces_read_as_the_whole(void **state)
{
    (void)state;
    char *text = tricky_csv(2000);
    for (long long piece = 97; piece <= 40000; piece *= 3)
        expect_same(RP_IMPORT_CSV, text, piece, piece < 1000 ? 10 : 2);
    free(text);
}

static void test_csv_quotes_everywhere(void **state)
{
    (void)state;
    /* Every line break but the record ends is inside quotes: cuts only at the record ends. */
    size_t cap = 200000, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "Address,ChannelType,Attributes.a\n");
    for (int i = 0; len + 100 < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "+1206555%04d,SMS,\"a\nb\nc\"\n", i % 10000);
    expect_same(RP_IMPORT_CSV, text, 500, 10);
    free(text);
}

static void test_csv_records_on_the_header_line(void **state)
{
    (void)state;
    /* A lone CR ends a record too: the header's line also holds two records, which belong to
     * the first piece only (the other pieces read just the header from it). */
    size_t cap = 20000, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "Address,ChannelType\r+12065550000,SMS\rbad\r");
    for (int i = 0; i < RP_IMPORT_FIELDS_MAX + 5; i++)
        text[len++] = ','; /* a record with too many fields: an error delivered by the reader */
    text[len++] = '\n';
    for (int i = 1; len + 100 < cap; i++)
        len += (size_t)snprintf(text + len, cap - len, "+1206555%04d,SMS\n", i);
    expect_same(RP_IMPORT_CSV, text, 200, 10);
    free(text);
}

static void test_csv_not_cut(void **state)
{
    (void)state;
    size_t pieces;
    /* A bad header: one piece, which fails as a whole once. */
    char *text = tricky_csv(500);
    memcpy(text + 3, "\"Nope", 5);
    json_decref(read_pieces(RP_IMPORT_CSV, text, strlen(text), 100, &pieces));
    assert_int_equal(pieces, 1);
    free(text);
    /* An unbalanced quote: nothing after it is a record boundary until the reader gives up on
     * the record (RP_IMPORT_RECORD_MAX), so the pieces still read as the whole. */
    text = tricky_csv(300);
    char *mid = strstr(text + 2000, "plain");
    *mid = '"';
    expect_same(RP_IMPORT_CSV, text, 300, 1);
    free(text);
    /* A compressed NDJSON file fails once, in its only piece: no other piece imports lines. */
    text = calloc(1, 4000);
    memcpy(text, "\x1f\x8b", 2);
    for (size_t i = 2; i + 1 < 4000; i++)
        text[i] = i % 50 == 0 ? '\n' : 'x';
    json_decref(read_pieces(RP_IMPORT_JSON, text, strlen(text), 100, &pieces));
    assert_int_equal(pieces, 1);
    free(text);
    /* Small files are not cut. */
    json_decref(read_pieces(RP_IMPORT_CSV, "Address,ChannelType\n+1,SMS\n", 27, 20, &pieces));
    assert_int_equal(pieces, 1);
}

static void test_ndjson_pieces_read_as_the_whole(void **state)
{
    (void)state;
    size_t cap = 300000, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "\xef\xbb\xbf");
    for (int i = 0; len + 200 < cap; i++) {
        const char *forms[] = {
            "{\"ChannelType\":\"SMS\",\"Address\":\"+1206555%04d\"}\n",
            "{\"ChannelType\":\"SMS\",\"Address\":\"+1206555%04d\"}\r\n\n",
            "  \n{\"ChannelType\":\"EMAIL\",\"Address\":\"a%d@x.org\"}\n",
            "{\"ChannelType\":\"SMS\",\"Address\":%d}\n",
            "BZh%d not json\n",
        };
        len += (size_t)snprintf(text + len, cap - len, forms[i % 5], i % 10000);
    }
    for (long long piece = 100; piece <= 100000; piece *= 4)
        expect_same(RP_IMPORT_JSON, text, piece, 2);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_csv_pieces_read_as_the_whole),
        cmocka_unit_test(test_csv_quotes_everywhere),
        cmocka_unit_test(test_csv_records_on_the_header_line),
        cmocka_unit_test(test_csv_not_cut),
        cmocka_unit_test(test_ndjson_pieces_read_as_the_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
