/* Tests for channels/email/mime.c: the message a SimpleEmail or Body becomes (headers, MIME
 * structure, charsets, transfer encodings, line rules) and the RawEmail check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "channels/email/mime.h"
#include "gateway/rc.h"

/* 2026-11-22T13:21:38Z, a Sunday. */
#define DATE_MS 1795353698000LL

/* Every line ends in CRLF, no bare CR or LF, none longer than 998 octets. */
static void assert_lines_ok(const struct rp_mime_buf *b)
{
    size_t line = 0;
    assert_true(b->len >= 2);
    assert_memory_equal(b->data + b->len - 2, "\r\n", 2);
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\r') {
            assert_true(i + 1 < b->len && b->data[i + 1] == '\n');
            i++;
            line = 0;
            continue;
        }
        assert_true(b->data[i] != '\n');
        assert_true(++line <= 998);
    }
}

static int build(const struct rp_mime_message *m, struct rp_mime_buf *b, struct rp_err *err)
{
    rp_mime_buf_init(b, RP_MIME_MAX);
    rp_err_clear(err);
    return rp_mime_build(m, b, err);
}

static const struct rp_mime_message base = {
    .from = "Shop <shop@example.com>",
    .to = "ann@example.org",
    .subject = "Your code",
    .text = "Hello Ann,\nyour code is 123456.\n",
    .message_id = "m-1@example.com",
    .date_ms = DATE_MS,
};

static void test_text_only_7bit(void **state)
{
    (void)state;
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&base, &b, &err), 0);
    assert_lines_ok(&b);
    assert_string_equal(b.data, "Date: Sun, 22 Nov 2026 13:21:38 +0000\r\n"
                                "From: Shop\r\n <shop@example.com>\r\n"
                                "To: ann@example.org\r\n"
                                "Subject: Your code\r\n"
                                "Message-ID: <m-1@example.com>\r\n"
                                "MIME-Version: 1.0\r\n"
                                "Content-Type: text/plain; charset=UTF-8\r\n"
                                "Content-Transfer-Encoding: 7bit\r\n"
                                "\r\n"
                                "Hello Ann,\r\nyour code is 123456.\r\n");
    rp_mime_buf_cleanup(&b);
}

static void test_multipart_utf8(void **state)
{
    (void)state;
    const char *reply[] = {"help@example.com", "\"Support, EU\" <eu@example.com>"};
    struct rp_mime_message m = base;
    m.from = "J\xc3\xbcrgen's Shop <shop@example.com>";
    m.subject = "Gr\xc3\xbc\xc3\x9f"
                "e";
    m.html = "<p>Gr\xc3\xbc\xc3\x9f"
             "e = hi</p>";
    m.reply_to = reply;
    m.reply_to_count = 2;
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_lines_ok(&b);
    /* "Grüße" in UTF-8, base64 */
    assert_non_null(strstr(b.data, "Subject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"));
    assert_non_null(
        strstr(b.data, "From: =?UTF-8?B?SsO8cmdlbidzIFNob3A=?=\r\n <shop@example.com>"));
    assert_non_null(strstr(b.data, "Reply-To: help@example.com,\r\n "));
    assert_non_null(strstr(b.data, "<eu@example.com>\r\n"));
    assert_non_null(strstr(b.data, "Content-Type: multipart/alternative;\r\n boundary=\"=_rp_m1"
                                   "examplecom\"\r\n"));
    const char *plain = strstr(b.data, "--=_rp_m1examplecom\r\nContent-Type: text/plain; "
                                       "charset=UTF-8\r\nContent-Transfer-Encoding: 7bit\r\n");
    const char *html = strstr(b.data, "--=_rp_m1examplecom\r\nContent-Type: text/html; "
                                      "charset=UTF-8\r\nContent-Transfer-Encoding: "
                                      "quoted-printable\r\n\r\n<p>Gr=C3=BC=C3=9Fe =3D hi</p>\r\n"
                                      "--=_rp_m1examplecom--\r\n");
    assert_non_null(plain);
    assert_non_null(html);
    assert_true(plain < html);
    rp_mime_buf_cleanup(&b);
}

static void test_long_line_quoted_printable(void **state)
{
    (void)state;
    char text[3000];
    memset(text, 'a', sizeof(text) - 1);
    text[sizeof(text) - 1] = '\0';
    text[100] = ' ';
    struct rp_mime_message m = base;
    m.text = text;
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_lines_ok(&b);
    assert_non_null(strstr(b.data, "Content-Transfer-Encoding: quoted-printable\r\n"));
    /* Soft breaks keep every encoded line within 76 characters. */
    const char *body = strstr(b.data, "\r\n\r\n") + 4;
    for (const char *p = body; *p;) {
        const char *e = strstr(p, "\r\n");
        assert_true(e - p <= 76);
        p = e + 2;
    }
    rp_mime_buf_cleanup(&b);
}

static void test_mostly_non_ascii_base64(void **state)
{
    (void)state;
    struct rp_mime_message m = base;
    m.text = "\xe3\x81\x93\xe3\x82\x93\xe3\x81\xab\xe3\x81\xa1\xe3\x81\xaf"; /* こんにちは */
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_lines_ok(&b);
    assert_non_null(strstr(b.data, "Content-Transfer-Encoding: base64\r\n\r\n"
                                   "44GT44KT44Gr44Gh44Gv\r\n"));
    rp_mime_buf_cleanup(&b);
}

static void test_charset_conversion(void **state)
{
    (void)state;
    struct rp_mime_message m = base;
    m.text = "K\xc3\xa4se";
    m.charset = "ISO-8859-1";
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_non_null(strstr(b.data, "charset=ISO-8859-1\r\nContent-Transfer-Encoding: "
                                   "quoted-printable\r\n\r\nK=E4se\r\n"));
    rp_mime_buf_cleanup(&b);

    m.text = "\xe2\x82\xac"; /* the euro sign is not in Latin-1 */
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "TextPart");
    rp_mime_buf_cleanup(&b);

    m.charset = "no-such-charset";
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "Charset");
    rp_mime_buf_cleanup(&b);

    m.charset = "utf-8; x=\"y\"";
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "Charset");
    rp_mime_buf_cleanup(&b);
}

static void test_html_only_and_empty(void **state)
{
    (void)state;
    struct rp_mime_message m = base;
    m.text = NULL;
    m.html = "<b>hi</b>";
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_non_null(strstr(b.data, "Content-Type: text/html; charset=UTF-8\r\n"));
    assert_null(strstr(b.data, "multipart"));
    rp_mime_buf_cleanup(&b);

    m.html = NULL;
    m.subject = NULL;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_lines_ok(&b);
    assert_null(strstr(b.data, "Subject:"));
    assert_non_null(strstr(b.data, "Content-Type: text/plain"));
    rp_mime_buf_cleanup(&b);
}

static void test_header_injection_refused(void **state)
{
    (void)state;
    struct rp_mime_buf b;
    struct rp_err err;
    struct rp_mime_message m = base;
    m.subject = "hi\r\nBcc: victim@example.com";
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "Subject");
    rp_mime_buf_cleanup(&b);

    m = base;
    m.from = "a@example.com\nBcc: b@example.com";
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "FromAddress");
    rp_mime_buf_cleanup(&b);

    struct rp_mime_header h[] = {{"X-Campaign", "a\nBcc: x@example.com"}};
    m = base;
    m.headers = h;
    m.header_count = 1;
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "Headers");
    rp_mime_buf_cleanup(&b);

    struct rp_mime_header reserved[] = {{"bcc", "x@example.com"}};
    m.headers = reserved;
    assert_int_equal(build(&m, &b, &err), RP_EINVAL);
    assert_string_equal(err.field, "Headers");
    rp_mime_buf_cleanup(&b);

    /* A subject that looks like an encoded-word is itself encoded, so it reads as typed. */
    struct rp_mime_header ok[] = {{"X-Campaign", "spring"}};
    m.headers = ok;
    m.subject = "=?UTF-8?B?abc?=";
    assert_int_equal(build(&m, &b, &err), 0);
    assert_non_null(strstr(b.data, "X-Campaign: spring\r\nMIME-Version: 1.0\r\n"));
    assert_non_null(strstr(b.data, "Subject: =?UTF-8?B?PT9VVEYtOD9CP2FiYz89?=\r\n"));
    rp_mime_buf_cleanup(&b);
}

static void test_long_subject_folded(void **state)
{
    (void)state;
    char subject[2000];
    memset(subject, 'x', sizeof(subject) - 1);
    subject[sizeof(subject) - 1] = '\0';
    struct rp_mime_message m = base;
    m.subject = subject;
    struct rp_mime_buf b;
    struct rp_err err;
    assert_int_equal(build(&m, &b, &err), 0);
    assert_lines_ok(&b);
    const char *s = strstr(b.data, "Subject: =?UTF-8?B?");
    assert_non_null(s);
    assert_non_null(strstr(s, "?=\r\n =?UTF-8?B?"));
    rp_mime_buf_cleanup(&b);
}

static void test_size_limit(void **state)
{
    (void)state;
    struct rp_mime_buf b;
    struct rp_err err;
    rp_mime_buf_init(&b, 100);
    assert_int_equal(rp_mime_build(&base, &b, &err), RP_ETOOBIG);
    rp_mime_buf_cleanup(&b);
}

/* ---- RawEmail ------------------------------------------------------------------------------- */

static int raw(const char *b64, struct rp_mime_buf *b, struct rp_mime_raw_info *info,
               struct rp_err *err)
{
    rp_mime_buf_init(b, RP_MIME_MAX);
    rp_err_clear(err);
    return rp_mime_raw_prepare(b64, strlen(b64), "m-2@example.com", DATE_MS, b, info, err);
}

static void test_raw_adds_date_and_id(void **state)
{
    (void)state;
    /* "From: a@example.com\nSubject: x\n\nbody\n.dot\n" */
    const char *b64 = "RnJvbTogYUBleGFtcGxlLmNvbQpTdWJqZWN0OiB4Cgpib2R5Ci5kb3QK";
    struct rp_mime_buf b;
    struct rp_mime_raw_info info;
    struct rp_err err;
    assert_int_equal(raw(b64, &b, &info, &err), 0);
    assert_lines_ok(&b);
    assert_string_equal(b.data, "Date: Sun, 22 Nov 2026 13:21:38 +0000\r\n"
                                "Message-ID: <m-2@example.com>\r\n"
                                "From: a@example.com\r\nSubject: x\r\n\r\nbody\r\n.dot\r\n");
    assert_int_equal(info.has_message_id, 0);
    assert_string_equal(info.message_id, "m-2@example.com");
    rp_mime_buf_cleanup(&b);
}

static void test_raw_keeps_its_headers(void **state)
{
    (void)state;
    /* "Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nfrom: a@example.com\r\n
     *  Message-Id:  <own@x.example>\r\nX-Long: a\r\n b\r\n\r\nhi\r\n" */
    const char *b64 = "RGF0ZTogTW9uLCAxIEphbiAyMDI0IDAwOjAwOjAwICswMDAwDQpmcm9tOiBhQGV4YW1wbGUu"
                      "Y29tDQpNZXNzYWdlLUlkOiAgPG93bkB4LmV4YW1wbGU+DQpYLUxvbmc6IGENCiBiDQoNCmhp"
                      "DQo=";
    struct rp_mime_buf b;
    struct rp_mime_raw_info info;
    struct rp_err err;
    assert_int_equal(raw(b64, &b, &info, &err), 0);
    assert_int_equal(info.has_message_id, 1);
    assert_string_equal(info.message_id, "own@x.example");
    assert_memory_equal(b.data, "Date: Mon, 1 Jan 2024", 21);
    assert_null(strstr(b.data, "m-2@example.com"));
    rp_mime_buf_cleanup(&b);
}

static void test_raw_rejects(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "not base64!",
        "U3ViamVjdDogeAoKYm9keQo=",             /* "Subject: x\n\nbody\n": no From */
        "IEZyb206IGFAZXhhbXBsZS5jb20KCg==",     /* " From: a@example.com\n\n": continuation first */
        "RnJvbSBhQGV4YW1wbGUuY29tCgo=",         /* "From a@example.com\n\n": not Name: value */
        "RnJvbTogYUBleGFtcGxlLmNvbQ1YOiB5Cgo=", /* bare CR inside the header section */
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct rp_mime_buf b;
        struct rp_mime_raw_info info;
        struct rp_err err;
        assert_int_equal(raw(bad[i], &b, &info, &err), RP_EINVAL);
        assert_string_equal(err.field, "RawEmail.Data");
        rp_mime_buf_cleanup(&b);
    }
}

static void test_raw_long_line(void **state)
{
    (void)state;
    /* "From: a@example.com\n\n" then 999 'a': base64 of the whole, built here. */
    char msg[1100];
    int n = snprintf(msg, sizeof(msg), "From: a@example.com\n\n");
    memset(msg + n, 'a', 999);
    msg[n + 999] = '\0';
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t len = strlen(msg);
    char *b64 = calloc(1, len / 3 * 4 + 8);
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)(unsigned char)msg[i] << 16;
        v |= i + 1 < len ? (unsigned)(unsigned char)msg[i + 1] << 8 : 0;
        v |= i + 2 < len ? (unsigned char)msg[i + 2] : 0;
        b64[o++] = alphabet[(v >> 18) & 63];
        b64[o++] = alphabet[(v >> 12) & 63];
        b64[o++] = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
        b64[o++] = i + 2 < len ? alphabet[v & 63] : '=';
    }
    struct rp_mime_buf b;
    struct rp_mime_raw_info info;
    struct rp_err err;
    assert_int_equal(raw(b64, &b, &info, &err), RP_EINVAL);
    assert_non_null(strstr(err.msg, "998"));
    rp_mime_buf_cleanup(&b);
    free(b64);
}

static void test_address_of(void **state)
{
    (void)state;
    size_t len;
    const char *a = rp_mime_address_of("Ann <ann@example.com>", &len);
    assert_int_equal(len, 15);
    assert_memory_equal(a, "ann@example.com", len);
    a = rp_mime_address_of("ann@example.com", &len);
    assert_int_equal(len, 15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_only_7bit),
        cmocka_unit_test(test_multipart_utf8),
        cmocka_unit_test(test_long_line_quoted_printable),
        cmocka_unit_test(test_mostly_non_ascii_base64),
        cmocka_unit_test(test_charset_conversion),
        cmocka_unit_test(test_html_only_and_empty),
        cmocka_unit_test(test_header_injection_refused),
        cmocka_unit_test(test_long_subject_folded),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_raw_adds_date_and_id),
        cmocka_unit_test(test_raw_keeps_its_headers),
        cmocka_unit_test(test_raw_rejects),
        cmocka_unit_test(test_raw_long_line),
        cmocka_unit_test(test_address_of),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
