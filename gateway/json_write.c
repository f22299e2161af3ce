/* Compact JSON serialisation (json_write.h). */
#include "json_write.h"
#include "util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void reserve(struct rp_json_text *o, size_t more)
{
    if (o->len + more + 1 <= o->cap)
        return;
    while (o->len + more + 1 > o->cap)
        o->cap *= 2;
    o->buf = rp_realloc(o->buf, o->cap);
}

static void put(struct rp_json_text *o, const char *s, size_t n)
{
    reserve(o, n);
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

/* jansson escapes '"', '\\' and control characters, nothing else (no JSON_ENSURE_ASCII, no
 * JSON_ESCAPE_SLASH); the common short escapes by name, the rest as \u00XX in capitals. */
/* How many leading bytes of s need no escape, eight at a time: any byte below 0x20, or equal
 * to '"' or '\\', sets its high bit in the word's test (a borrow can only flag bytes after a
 * real one, where the byte loop takes over anyway). */
static size_t plain_prefix(const char *s, size_t n)
{
    const uint64_t ones = UINT64_C(0x0101010101010101), highs = UINT64_C(0x8080808080808080);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        uint64_t quote = v ^ (ones * '"'), backslash = v ^ (ones * '\\');
        uint64_t hits = ((v - ones * 0x20) & ~v) | ((quote - ones) & ~quote) |
                        ((backslash - ones) & ~backslash);
        if (hits & highs)
            break;
    }
    return i;
}

static void put_string(struct rp_json_text *o, const char *s, size_t n)
{
    reserve(o, n + 2);
    o->buf[o->len++] = '"';
    size_t run = 0;
    for (size_t i = plain_prefix(s, n); i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        put(o, s + run, i - run);
        run = i + 1;
        char esc[8];
        switch (c) {
        case '"': put(o, "\\\"", 2); break;
        case '\\': put(o, "\\\\", 2); break;
        case '\b': put(o, "\\b", 2); break;
        case '\f': put(o, "\\f", 2); break;
        case '\n': put(o, "\\n", 2); break;
        case '\r': put(o, "\\r", 2); break;
        case '\t': put(o, "\\t", 2); break;
        default:
            snprintf(esc, sizeof(esc), "\\u%04X", (unsigned)c);
            put(o, esc, 6);
        }
    }
    put(o, s + run, n - run);
    put(o, "\"", 1);
}

static int put_value(struct rp_json_text *o, const json_t *v)
{
    char num[64];
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        put(o, "{", 1);
        /* jansson's iteration API takes a non-const object; nothing here modifies it. Keys may
         * hold NUL characters: their length is jansson's. */
        void *it = json_object_iter((json_t *)v);
        while (it) {
            put_string(o, json_object_iter_key(it), json_object_iter_key_len(it));
            put(o, ":", 1);
            if (put_value(o, json_object_iter_value(it)))
                return -1;
            it = json_object_iter_next((json_t *)v, it);
            if (it)
                put(o, ",", 1);
        }
        put(o, "}", 1);
        return 0;
    }
    case JSON_ARRAY: {
        put(o, "[", 1);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                put(o, ",", 1);
            if (put_value(o, json_array_get(v, i)))
                return -1;
        }
        put(o, "]", 1);
        return 0;
    }
    case JSON_STRING:
        put_string(o, json_string_value(v), json_string_length(v));
        return 0;
    case JSON_INTEGER:
        put(o, num, (size_t)snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
                                     json_integer_value(v)));
        return 0;
    case JSON_REAL: {
        /* Rare (metrics, coordinates): jansson's own formatting, whatever its version does. */
        char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (!text)
            return -1;
        put(o, text, strlen(text));
        free(text);
        return 0;
    }
    case JSON_TRUE:
        put(o, "true", 4);
        return 0;
    case JSON_FALSE:
        put(o, "false", 5);
        return 0;
    case JSON_NULL:
        put(o, "null", 4);
        return 0;
    }
    return -1;
}

char *rp_json_dump(const json_t *v, size_t *len)
{
    if (!v)
        return NULL;
    struct rp_json_text o;
    rp_json_text_init(&o, 4096);
    if (put_value(&o, v)) {
        free(o.buf);
        return NULL;
    }
    return rp_json_text_finish(&o, len);
}

void rp_json_text_init(struct rp_json_text *t, size_t cap)
{
    t->cap = cap ? cap : 1;
    t->len = 0;
    t->buf = rp_malloc(t->cap);
}

void rp_json_text_raw(struct rp_json_text *t, const char *s)
{
    put(t, s, strlen(s));
}

void rp_json_text_rawn(struct rp_json_text *t, const char *s, size_t n)
{
    put(t, s, n);
}

void rp_json_text_string(struct rp_json_text *t, const char *s)
{
    put_string(t, s, strlen(s));
}

void rp_json_text_int(struct rp_json_text *t, long long v)
{
    /* Digits from the end, without snprintf: every event writes two timestamps. */
    char num[24];
    size_t at = sizeof(num);
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        num[--at] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        num[--at] = '-';
    put(t, num + at, sizeof(num) - at);
}

int rp_json_text_value(struct rp_json_text *t, const json_t *v)
{
    return v ? put_value(t, v) : -1;
}

char *rp_json_text_finish(struct rp_json_text *t, size_t *len)
{
    t->buf[t->len] = '\0';
    if (len)
        *len = t->len;
    return t->buf;
}
