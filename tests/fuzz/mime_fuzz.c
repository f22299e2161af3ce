/* Fuzzes channels/email/mime.c. The first byte picks the entry point: even -> the RawEmail
 * check over the rest as base64 text; odd -> the builder over NUL-separated fields (from, to,
 * subject, text, html, charset, header name, header value, reply-to). Beyond "no crash, no
 * leak", whatever either accepts must keep the line rules SMTP relies on: CRLF only, no line
 * over 998 octets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels/email/mime.h"

static void check_lines(const struct rp_mime_buf *b)
{
    size_t line = 0;
    if (b->len < 2 || memcmp(b->data + b->len - 2, "\r\n", 2) != 0)
        abort();
    for (size_t i = 0; i < b->len; i++) {
        if (b->data[i] == '\r') {
            if (i + 1 >= b->len || b->data[i + 1] != '\n')
                abort();
            i++;
            line = 0;
            continue;
        }
        if (b->data[i] == '\n' || ++line > 998)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 64 * 1024)
        return 0;
    struct rp_mime_buf b;
    struct rp_err err;
    rp_mime_buf_init(&b, 1024 * 1024);
    if (data[0] % 2 == 0) {
        struct rp_mime_raw_info info;
        if (rp_mime_raw_prepare((const char *)data + 1, size - 1, "id@example.com", 0, &b, &info,
                                &err) == 0)
            check_lines(&b);
    } else {
        char *copy = malloc(size + 1);
        memcpy(copy, data + 1, size - 1);
        copy[size - 1] = '\0';
        const char *field[9] = {0};
        char *p = copy, *end = copy + size - 1;
        for (int i = 0; i < 9 && p <= end; i++) {
            field[i] = p;
            p += strlen(p) + 1;
        }
        struct rp_mime_header h = {field[6], field[7]};
        const char *reply[1] = {field[8]};
        struct rp_mime_message m = {
            .from = field[0],
            .to = field[1],
            .subject = field[2],
            .text = field[3],
            .html = field[4],
            .charset = field[5],
            .headers = &h,
            .header_count = field[6] && field[7] ? 1 : 0,
            .reply_to = reply,
            .reply_to_count = field[8] ? 1 : 0,
            .message_id = "id@example.com",
            .date_ms = 1795353698000LL,
        };
        if (rp_mime_build(&m, &b, &err) == 0)
            check_lines(&b);
        free(copy);
    }
    rp_mime_buf_cleanup(&b);
    return 0;
}
