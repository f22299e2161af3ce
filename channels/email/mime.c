/* The MIME builder and the RawEmail check (see mime.h for the rules followed). Bodies arrive
 * as UTF-8 (JSON strings) and are converted with iconv to the Charset the request names, as SES
 * does; header text is always sent as UTF-8 encoded-words, which every reader understands and
 * which cannot fail to convert. */
#include "mime.h"
#include "../base64url.h"

#include <errno.h>
#include <iconv.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../gateway/rc.h"
#include "../../gateway/util.h"

/* RFC 5322 2.1.1: a line is at most 998 octets before its CRLF. */
#define LINE_MAX_OCTETS 998
/* RFC 2045: quoted-printable and base64 lines are at most 76 characters. */
#define ENCODED_LINE 76
/* RFC 2047 2: an encoded-word is at most 75 characters. "=?UTF-8?B?" + "?=" leave 63 for
 * the base64 text, which carries 45 octets (15 groups of 3). */
#define WORD_OCTETS 45
/* Header values past this many octets are folded as encoded-words even when plain ASCII. */
#define HEADER_PLAIN_MAX 900

void rp_mime_buf_init(struct rp_mime_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void rp_mime_buf_cleanup(struct rp_mime_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof(*b));
}

void rp_mime_buf_reset(struct rp_mime_buf *b)
{
    b->len = 0;
    b->overflow = 0;
    if (b->data)
        b->data[0] = '\0';
}

static void put(struct rp_mime_buf *b, const void *s, size_t n)
{
    if (b->overflow || n == 0)
        return;
    if (n > b->max - b->len) {
        b->overflow = 1;
        return;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = rp_realloc(b->data, cap);
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void puts_(struct rp_mime_buf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void putc_(struct rp_mime_buf *b, char c)
{
    put(b, &c, 1);
}

static bool is_ascii_text(const unsigned char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] >= 0x80 || (s[i] < 0x20 && s[i] != '\t'))
            return false;
    return true;
}

/* Base64 of in[0..len) onto b without line breaks; len is at most BASE64_CHUNK (an
 * encoded-word's 45 octets or a body line's 57), so the text fits a stack buffer. */
#define BASE64_CHUNK 57
_Static_assert(WORD_OCTETS <= BASE64_CHUNK && ENCODED_LINE / 4 * 3 <= BASE64_CHUNK,
               "put_base64's buffer holds every chunk it is given");
static void put_base64(struct rp_mime_buf *b, const unsigned char *in, size_t len)
{
    unsigned char out[BASE64_CHUNK / 3 * 4 + 1];
    put(b, out, (size_t)EVP_EncodeBlock(out, in, (int)len));
}

/* Length of the longest prefix of s[0..len) that is at most max octets and does not split a
 * UTF-8 sequence (RFC 2047 5: each encoded-word must hold whole characters). */
static size_t utf8_prefix(const unsigned char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && (s[n] & 0xC0) == 0x80)
        n--;
    return n > 0 ? n : max; /* not UTF-8 after all: any cut will do */
}

/* A header value as UTF-8 "B" encoded-words, one per folded line. */
static void put_encoded_words(struct rp_mime_buf *b, const char *value, size_t len)
{
    const unsigned char *s = (const unsigned char *)value;
    bool first = true;
    do {
        size_t n = utf8_prefix(s, len, WORD_OCTETS);
        if (!first)
            puts_(b, "\r\n ");
        puts_(b, "=?UTF-8?B?");
        put_base64(b, s, n);
        puts_(b, "?=");
        s += n;
        len -= n;
        first = false;
    } while (len > 0);
}

/* Unstructured header text (RFC 5322 3.2.5): as is when short printable ASCII, else encoded. */
static void put_text_value(struct rp_mime_buf *b, const char *value)
{
    size_t len = strlen(value);
    if (len <= HEADER_PLAIN_MAX && is_ascii_text((const unsigned char *)value, len) &&
        strstr(value, "=?") == NULL)
        put(b, value, len);
    else
        put_encoded_words(b, value, len);
}

static bool is_atext_or_space(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
           strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

const char *rp_mime_address_of(const char *s, size_t *len)
{
    size_t n = strlen(s);
    const char *open = strrchr(s, '<');
    if (open && n > 0 && s[n - 1] == '>') {
        *len = (size_t)(s + n - 1 - (open + 1));
        return open + 1;
    }
    *len = n;
    return s;
}

/* "Name <addr>" with the display name as a phrase (RFC 5322 3.2.5): plain atoms, a quoted
 * string, or encoded-words when it is not ASCII. */
static const char *trim_spaces(const char *s, size_t n, size_t *out_len)
{
    while (n > 0 && s[n - 1] == ' ')
        n--;
    while (n > 0 && *s == ' ') {
        s++;
        n--;
    }
    *out_len = n;
    return s;
}

static int put_mailbox(struct rp_mime_buf *b, const char *mailbox, const char *field,
                       struct rp_err *err)
{
    size_t alen;
    const char *addr = rp_mime_address_of(mailbox, &alen);
    if (alen == 0 || alen > 254 || memchr(addr, '<', alen) || memchr(addr, '>', alen) ||
        !is_ascii_text((const unsigned char *)addr, alen) || memchr(addr, ' ', alen))
        return rp_err_set(err, RP_EINVAL, field, "is not an email address a header can carry");
    if (addr == mailbox) {
        put(b, addr, alen);
        return 0;
    }
    /* The display name: what precedes "<", without the spaces around it. */
    size_t len;
    const char *name = trim_spaces(mailbox, (size_t)(addr - 1 - mailbox), &len);
    if (len > 0) {
        bool ascii = is_ascii_text((const unsigned char *)name, len);
        bool atoms = ascii;
        for (size_t i = 0; atoms && i < len; i++)
            atoms = is_atext_or_space(name[i]);
        if (ascii && memmem(name, len, "=?", 2))
            atoms = ascii = false;
        if (len > HEADER_PLAIN_MAX / 2)
            ascii = atoms = false;
        if (atoms) {
            put(b, name, len);
        } else if (ascii) {
            putc_(b, '"');
            for (size_t i = 0; i < len; i++) {
                if (name[i] == '"' || name[i] == '\\')
                    putc_(b, '\\');
                putc_(b, name[i]);
            }
            putc_(b, '"');
        } else {
            put_encoded_words(b, name, len);
        }
        puts_(b, "\r\n <");
    } else {
        putc_(b, '<');
    }
    put(b, addr, alen);
    putc_(b, '>');
    return 0;
}

static void put_date(struct rp_mime_buf *b, int64_t date_ms)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t t = (time_t)(date_ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        t = 0;
        gmtime_r(&t, &tm);
    }
    char line[64];
    snprintf(line, sizeof(line), "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n",
             days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
             tm.tm_hour, tm.tm_min, tm.tm_sec);
    puts_(b, line);
}

/* RFC 2045 token: what a charset parameter may be without quoting. */
static bool is_token(const char *s)
{
    if (!*s || strlen(s) > 64)
        return false;
    for (; *s; s++)
        if (*s <= 32 || *s >= 127 || strchr("()<>@,;:\\\"/[]?=", *s))
            return false;
    return true;
}

static bool is_utf8_name(const char *charset)
{
    return strcasecmp(charset, "UTF-8") == 0 || strcasecmp(charset, "UTF8") == 0;
}

/* Converts UTF-8 text to charset; returns a new buffer in *out (NULL when no conversion is
 * needed: out is then the input). */
static int convert(const char *text, const char *charset, char **out, size_t *out_len,
                   const char *field, struct rp_err *err)
{
    *out = NULL;
    *out_len = strlen(text);
    if (is_utf8_name(charset))
        return 0;
    iconv_t cd = iconv_open(charset, "UTF-8");
    if (cd == (iconv_t)-1) /* NOLINT(performance-no-int-to-ptr): iconv's error value */
        return rp_err_set(err, RP_EINVAL, "Charset",
                          "names a character set Repoint cannot "
                          "encode");
    size_t in_left = strlen(text), cap = in_left * 4 + 16;
    if (cap > RP_MIME_MAX) {
        iconv_close(cd);
        return rp_err_set(err, RP_ETOOBIG, field, "is too large");
    }
    char *buf = rp_malloc(cap);
    char *in = (char *)text, *o = buf;
    size_t out_left = cap;
    size_t r = iconv(cd, &in, &in_left, &o, &out_left);
    if (r != (size_t)-1)
        r = iconv(cd, NULL, NULL, &o, &out_left);
    iconv_close(cd);
    if (r == (size_t)-1) {
        free(buf);
        return rp_err_set(err, RP_EINVAL, field, "has characters the Charset cannot represent");
    }
    *out = buf;
    *out_len = cap - out_left;
    return 0;
}

enum cte { CTE_7BIT, CTE_QP, CTE_BASE64 };

/* 7bit for short-lined ASCII without the boundary, quoted-printable for text mostly ASCII,
 * base64 otherwise (the smaller of the two for mostly non-ASCII scripts). */
static enum cte choose_encoding(const unsigned char *s, size_t len, const char *boundary)
{
    size_t other = 0, line = 0, longest = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '\n' || c == '\r') {
            line = 0;
            continue;
        }
        if (++line > longest)
            longest = line;
        if (c >= 0x80 || (c < 0x20 && c != '\t') || c == 0x7f)
            other++;
    }
    if (other * 3 > len)
        return CTE_BASE64;
    if (other > 0 || longest > LINE_MAX_OCTETS)
        return CTE_QP;
    if (boundary && memmem(s, len, boundary, strlen(boundary)))
        return CTE_QP;
    return CTE_7BIT;
}

/* Line breaks of any kind (CRLF, LF, lone CR) become CRLF. */
static void put_7bit(struct rp_mime_buf *b, const char *s, size_t len)
{
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\r' && s[i] != '\n')
            continue;
        put(b, s + start, i - start);
        puts_(b, "\r\n");
        if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n')
            i++;
        start = i + 1;
    }
    put(b, s + start, len - start);
    if (len == 0 || (s[len - 1] != '\n' && s[len - 1] != '\r'))
        puts_(b, "\r\n");
}

/* RFC 2045 6.7. Text: line breaks stay line breaks (as CRLF), everything else is encoded. */
static void put_qp(struct rp_mime_buf *b, const unsigned char *s, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = s[i];
        if (c == '\r' || c == '\n') {
            puts_(b, "\r\n");
            col = 0;
            if (c == '\r' && i + 1 < len && s[i + 1] == '\n')
                i++;
            continue;
        }
        bool at_eol = i + 1 == len || s[i + 1] == '\r' || s[i + 1] == '\n';
        bool literal = (c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_eol);
        size_t width = literal ? 1 : 3;
        /* Keep room for the soft break's '=' within 76 characters. */
        if (col + width > ENCODED_LINE - 1) {
            puts_(b, "=\r\n");
            col = 0;
        }
        if (literal) {
            putc_(b, (char)c);
        } else {
            char e[3] = {'=', hex[c >> 4], hex[c & 15]};
            put(b, e, 3);
        }
        col += width;
    }
    puts_(b, "\r\n");
}

static void put_base64_lines(struct rp_mime_buf *b, const unsigned char *s, size_t len)
{
    const size_t per_line = (size_t)ENCODED_LINE / 4 * 3;
    for (size_t i = 0; i < len; i += per_line) {
        put_base64(b, s + i, len - i < per_line ? len - i : per_line);
        puts_(b, "\r\n");
    }
}

static int put_part(struct rp_mime_buf *b, const char *subtype, const char *text,
                    const char *charset, const char *boundary, const char *field,
                    struct rp_err *err)
{
    char *converted;
    size_t len;
    int rc = convert(text, charset, &converted, &len, field, err);
    if (rc < 0)
        return rc;
    const char *body = converted ? converted : text;
    enum cte cte = choose_encoding((const unsigned char *)body, len, boundary);
    static const char *const cte_names[] = {"7bit", "quoted-printable", "base64"};
    puts_(b, "Content-Type: text/");
    puts_(b, subtype);
    puts_(b, "; charset=");
    puts_(b, charset);
    puts_(b, "\r\nContent-Transfer-Encoding: ");
    puts_(b, cte_names[cte]);
    puts_(b, "\r\n\r\n");
    if (cte == CTE_7BIT)
        put_7bit(b, body, len);
    else if (cte == CTE_QP)
        put_qp(b, (const unsigned char *)body, len);
    else
        put_base64_lines(b, (const unsigned char *)body, len);
    free(converted);
    return 0;
}

/* Headers Repoint writes itself; a request's Headers may not repeat them. */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {"From",
                                        "To",
                                        "Cc",
                                        "Bcc",
                                        "Reply-To",
                                        "Subject",
                                        "Date",
                                        "Message-ID",
                                        "MIME-Version",
                                        "Content-Type",
                                        "Content-Transfer-Encoding",
                                        "Return-Path",
                                        "Sender"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

static int put_extra_headers(struct rp_mime_buf *b, const struct rp_mime_message *m,
                             struct rp_err *err)
{
    for (size_t i = 0; i < m->header_count; i++) {
        const char *name = m->headers[i].name, *value = m->headers[i].value;
        if (!name || !*name || !value || strlen(name) > 126)
            return rp_err_set(err, RP_EINVAL, "Headers", "needs a Name and a Value");
        for (const char *p = name; *p; p++)
            if (*p <= 32 || *p >= 127 || *p == ':')
                return rp_err_set(err, RP_EINVAL, "Headers",
                                  "has a Name that is not printable ASCII without ':'");
        if (strpbrk(value, "\r\n"))
            return rp_err_set(err, RP_EINVAL, "Headers", "has a Value with a line break");
        if (reserved_header(name))
            return rp_err_set(err, RP_EINVAL, "Headers",
                              "sets a header Repoint writes itself (From, To, Subject, ...)");
        puts_(b, name);
        puts_(b, ": ");
        put_text_value(b, value);
        puts_(b, "\r\n");
    }
    return 0;
}

int rp_mime_build(const struct rp_mime_message *m, struct rp_mime_buf *out, struct rp_err *err)
{
    const char *charset = m->charset && *m->charset ? m->charset : "UTF-8";
    if (!is_token(charset))
        return rp_err_set(err, RP_EINVAL, "Charset", "must be a character set name");
    if (!m->from || !*m->from || strpbrk(m->from, "\r\n"))
        return rp_err_set(err, RP_EINVAL, "FromAddress", "is required, without line breaks");
    if (!m->to || !*m->to || strpbrk(m->to, "\r\n<>"))
        return rp_err_set(err, RP_EINVAL, "Address", "must be a bare email address");
    if (!m->message_id || !*m->message_id || strpbrk(m->message_id, "\r\n<> ") ||
        strlen(m->message_id) > 250)
        return rp_err_set(err, RP_EINVAL, "MessageId", "must be id@domain");
    if (m->subject && strpbrk(m->subject, "\r\n"))
        return rp_err_set(err, RP_EINVAL, "Subject", "must not contain line breaks");

    int rc;
    put_date(out, m->date_ms);
    puts_(out, "From: ");
    if ((rc = put_mailbox(out, m->from, "FromAddress", err)) < 0)
        return rc;
    puts_(out, "\r\nTo: ");
    if ((rc = put_mailbox(out, m->to, "Address", err)) < 0)
        return rc;
    puts_(out, "\r\n");
    for (size_t i = 0; i < m->reply_to_count; i++) {
        const char *r = m->reply_to[i];
        if (!r || strpbrk(r, "\r\n"))
            return rp_err_set(err, RP_EINVAL, "ReplyToAddresses",
                              "must be addresses without line breaks");
        puts_(out, i == 0 ? "Reply-To: " : ",\r\n ");
        if ((rc = put_mailbox(out, r, "ReplyToAddresses", err)) < 0)
            return rc;
    }
    if (m->reply_to_count)
        puts_(out, "\r\n");
    if (m->subject && *m->subject) {
        puts_(out, "Subject: ");
        put_text_value(out, m->subject);
        puts_(out, "\r\n");
    }
    puts_(out, "Message-ID: <");
    puts_(out, m->message_id);
    puts_(out, ">\r\n");
    if ((rc = put_extra_headers(out, m, err)) < 0)
        return rc;
    puts_(out, "MIME-Version: 1.0\r\n");

    const char *text = m->text && *m->text ? m->text : NULL;
    const char *html = m->html && *m->html ? m->html : NULL;
    if (text && html) {
        /* '=' never appears unencoded in quoted-printable or base64 text, and 7bit parts are
         * checked for it, so this boundary cannot occur inside a part. */
        char boundary[96];
        size_t k = 0;
        k += (size_t)snprintf(boundary, sizeof(boundary), "=_rp_");
        for (const char *p = m->message_id; *p && k < 60; p++)
            if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
                boundary[k++] = *p;
        boundary[k] = '\0';
        puts_(out, "Content-Type: multipart/alternative;\r\n boundary=\"");
        puts_(out, boundary);
        puts_(out, "\"\r\n\r\n--");
        puts_(out, boundary);
        puts_(out, "\r\n");
        if ((rc = put_part(out, "plain", text, charset, boundary, "TextPart", err)) < 0)
            return rc;
        puts_(out, "--");
        puts_(out, boundary);
        puts_(out, "\r\n");
        if ((rc = put_part(out, "html", html, charset, boundary, "HtmlPart", err)) < 0)
            return rc;
        puts_(out, "--");
        puts_(out, boundary);
        puts_(out, "--\r\n");
    } else if (html) {
        rc = put_part(out, "html", html, charset, NULL, "HtmlPart", err);
    } else {
        rc = put_part(out, "plain", text ? text : "", charset, NULL, "TextPart", err);
    }
    if (rc < 0)
        return rc;
    if (out->overflow)
        return rp_err_set(err, RP_ETOOBIG, "Message", "is larger than %zu bytes", RP_MIME_MAX);
    return 0;
}

/* Decodes base64 (whitespace ignored, padding optional at the very end); returns a new
 * buffer or NULL when the text is not base64 or decodes to more than RP_MIME_MAX. */
static unsigned char *b64_decode(const char *s, size_t len, size_t *out_len)
{
    if (len / 4 * 3 > RP_MIME_MAX + 3)
        return NULL;
    unsigned char *out = rp_malloc(len / 4 * 3 + 4);
    size_t n = 0;
    unsigned acc = 0;
    int bits = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' || c == '\n' || c == ' ' || c == '\t')
            continue;
        if (c == '=') {
            pad++;
            continue;
        }
        int v = rp_base64_digit(c, 0);
        if (v < 0 || pad) {
            free(out);
            return NULL;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[n++] = (unsigned char)(acc >> bits);
        }
        acc &= (1u << bits) - 1;
    }
    if (pad > 2 || bits >= 6) {
        free(out);
        return NULL;
    }
    *out_len = n;
    return out;
}

static bool header_is(const unsigned char *line, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && line[n] == ':' && strncasecmp((const char *)line, name, n) == 0;
}

/* The Message-ID's first <...> (or its trimmed value) into out. */
static void copy_message_id(const unsigned char *value, size_t len, char *out, size_t size)
{
    const unsigned char *open = memchr(value, '<', len);
    const unsigned char *start = value, *end = value + len;
    if (open) {
        const unsigned char *close = memchr(open, '>', (size_t)(end - open));
        if (close) {
            start = open + 1;
            end = close;
        }
    }
    while (start < end && (*start == ' ' || *start == '\t'))
        start++;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t n = (size_t)(end - start);
    if (n >= size)
        n = size - 1;
    memcpy(out, start, n);
    out[n] = '\0';
}

int rp_mime_raw_prepare(const char *b64, size_t b64_len, const char *message_id, int64_t date_ms,
                        struct rp_mime_buf *out, struct rp_mime_raw_info *info, struct rp_err *err)
{
    const char *field = "RawEmail.Data";
    memset(info, 0, sizeof(*info));
    size_t len = 0;
    unsigned char *raw = b64_decode(b64, b64_len, &len);
    if (!raw)
        return rp_err_set(err, RP_EINVAL, field, "must be a MIME message encoded in base64");
    int rc = 0;
    bool has_from = false, has_date = false, in_headers = true, any_header = false;
    /* First pass: check and note the headers. */
    for (size_t pos = 0; pos < len && rc == 0;) {
        const unsigned char *nl = memchr(raw + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - raw) : len;
        size_t line_len = end - pos;
        if (line_len > 0 && raw[end - 1] == '\r')
            line_len--;
        const unsigned char *line = raw + pos;
        if (line_len > LINE_MAX_OCTETS)
            rc = rp_err_set(err, RP_EINVAL, field, "has a line longer than %d octets",
                            LINE_MAX_OCTETS);
        else if (memchr(line, '\0', line_len) || memchr(line, '\r', line_len))
            rc = rp_err_set(err, RP_EINVAL, field, "has a NUL or a bare CR");
        else if (in_headers && line_len == 0)
            in_headers = false;
        else if (in_headers && (line[0] == ' ' || line[0] == '\t')) {
            if (!any_header)
                rc = rp_err_set(err, RP_EINVAL, field, "starts with a continuation line");
        } else if (in_headers) {
            size_t colon = 0;
            while (colon < line_len && line[colon] > 32 && line[colon] < 127 && line[colon] != ':')
                colon++;
            if (colon == 0 || colon >= line_len || line[colon] != ':')
                rc = rp_err_set(err, RP_EINVAL, field,
                                "has a header line that is not \"Name: value\"");
            any_header = true;
            has_from = has_from || header_is(line, line_len, "From");
            has_date = has_date || header_is(line, line_len, "Date");
            if (!info->has_message_id && header_is(line, line_len, "Message-ID")) {
                info->has_message_id = 1;
                copy_message_id(line + 11, line_len - 11, info->message_id,
                                sizeof(info->message_id));
            }
        }
        pos = end + 1;
    }
    if (rc == 0 && !has_from)
        rc = rp_err_set(err, RP_EINVAL, field, "has no From header");
    if (rc == 0 && info->has_message_id && !info->message_id[0])
        rc = rp_err_set(err, RP_EINVAL, field, "has an empty Message-ID");
    if (rc < 0) {
        free(raw);
        return rc;
    }
    if (!has_date)
        put_date(out, date_ms);
    if (!info->has_message_id) {
        puts_(out, "Message-ID: <");
        puts_(out, message_id);
        puts_(out, ">\r\n");
        snprintf(info->message_id, sizeof(info->message_id), "%s", message_id);
    }
    put_7bit(out, (const char *)raw, len);
    free(raw);
    if (out->overflow)
        return rp_err_set(err, RP_ETOOBIG, field, "is larger than %zu bytes", RP_MIME_MAX);
    return 0;
}
