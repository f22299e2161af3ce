#include "util.h"
#include "log.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rp_panic(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    rp_log_write(RP_LOG_ERROR, "panic", "%s", msg);
    abort();
}

void *rp_malloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        rp_panic("out of memory allocating %zu bytes", size);
    return p;
}

void *rp_calloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        rp_panic("out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *rp_realloc(void *p, size_t size)
{
    void *q = realloc(p, size ? size : 1);
    if (!q)
        rp_panic("out of memory reallocating %zu bytes", size);
    return q;
}

void rp_strcpy_fit(char *dst, size_t size, const char *s)
{
    size_t n = strnlen(s, size - 1);
    memcpy(dst, s, n);
    dst[n] = '\0';
}

char *rp_strdup(const char *s)
{
    return rp_strndup(s, strlen(s));
}

char *rp_strndup(const char *s, size_t n)
{
    char *p = rp_malloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void rp_time_iso(int64_t unix_ms, char *out)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    size_t n = strftime(out, RP_ISO_SIZE, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, RP_ISO_SIZE - n, ".%03dZ", (int)(unix_ms % 1000));
}

int64_t rp_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t rp_mono_ms(void)
{
    return rp_mono_us() / 1000;
}

int64_t rp_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void rp_random_bytes(void *buf, size_t len)
{
    if (RAND_bytes(buf, (int)len) != 1)
        rp_panic("the random generator failed");
}

void rp_hex(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

int rp_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int rp_unhex(const char *in, unsigned char *out, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi = rp_hexval(in[2 * i]);
        if (hi < 0)
            return -1;
        int lo = rp_hexval(in[2 * i + 1]);
        if (lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return in[2 * len] == '\0' ? 0 : -1;
}

void rp_id_new(char *out)
{
    unsigned char raw[16];
    rp_random_bytes(raw, sizeof(raw));
    rp_hex(raw, sizeof(raw), out);
}

/* Random bytes for ids, drawn from a per-thread reserve: one RAND_bytes call (its locking and
 * fork check) per 64 ids rather than per message. Only for ids that are not secrets. */
static void id_bytes(unsigned char out[16])
{
    static _Thread_local unsigned char reserve[16 * 64];
    static _Thread_local size_t used = sizeof(reserve);
    if (used == sizeof(reserve)) {
        rp_random_bytes(reserve, sizeof(reserve));
        used = 0;
    }
    memcpy(out, reserve + used, 16);
    used += 16;
}

void rp_uuid_new(char *out)
{
    unsigned char b[16];
    id_bytes(b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    /* 8-4-4-4-12 hex digits; one per message on the campaign path, where snprintf showed. */
    rp_hex(b, 4, out);
    out[8] = '-';
    rp_hex(b + 4, 2, out + 9);
    out[13] = '-';
    rp_hex(b + 6, 2, out + 14);
    out[18] = '-';
    rp_hex(b + 8, 2, out + 19);
    out[23] = '-';
    rp_hex(b + 10, 6, out + 24);
    out[36] = '\0';
}

char *rp_read_file(const char *path, size_t max, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = rp_malloc(cap + 1);
    for (;;) {
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (len > max) {
            free(buf);
            fclose(f);
            errno = E2BIG;
            return NULL;
        }
        if (got == 0)
            break;
        if (len == cap) {
            cap *= 2;
            buf = rp_realloc(buf, cap + 1);
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(buf);
        errno = EIO;
        return NULL;
    }
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

long rp_utf8_decode(const unsigned char *s, size_t len, size_t *i)
{
    unsigned char c = s[*i];
    size_t extra;
    long cp, min;
    if (c < 0x80) {
        (*i)++;
        return c;
    }
    if ((c & 0xe0) == 0xc0) {
        extra = 1, cp = c & 0x1f, min = 0x80;
    } else if ((c & 0xf0) == 0xe0) {
        extra = 2, cp = c & 0x0f, min = 0x800;
    } else if ((c & 0xf8) == 0xf0) {
        extra = 3, cp = c & 0x07, min = 0x10000;
    } else {
        return -1;
    }
    if (len - *i <= extra)
        return -1;
    for (size_t k = 1; k <= extra; k++) {
        unsigned char cc = s[*i + k];
        if ((cc & 0xc0) != 0x80)
            return -1;
        cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return -1;
    *i += extra + 1;
    return cp;
}

bool rp_utf8_valid(const char *s, size_t len)
{
    /* Nearly every string (ids, tokens, dates) is ASCII: eight bytes at a time until a byte
     * with its high bit set, then the full decoder from there. */
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t word;
        memcpy(&word, s + i, 8);
        if (word & UINT64_C(0x8080808080808080))
            break;
        i += 8;
    }
    while (i < len)
        if (rp_utf8_decode((const unsigned char *)s, len, &i) < 0)
            return false;
    return true;
}
