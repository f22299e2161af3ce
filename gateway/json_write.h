/* A fast compact JSON serialiser for the hot paths that write whole endpoints (import writes,
 * export lines): the same bytes as jansson's json_dumps(v, JSON_COMPACT) (members in insertion
 * order, the same escapes; reals are formatted by jansson itself), several times faster on
 * large strings because runs of plain characters are copied whole instead of being decoded one
 * code point at a time. */
#ifndef RP_JSON_WRITE_H
#define RP_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

/* The JSON text of v (malloc'd, NUL-terminated; *len its length when len is not NULL), or NULL
 * when v holds something jansson could not dump either (a NULL value). */
char *rp_json_dump(const json_t *v, size_t *len);

/* A JSON text written piece by piece, for a hot path that knows its document's shape (a
 * delivery event) and need not build a tree to print it. Strings are escaped as jansson does. */
struct rp_json_text {
    char *buf;
    size_t len, cap;
};
/* cap: the bytes to start with (it grows as needed). */
void rp_json_text_init(struct rp_json_text *t, size_t cap);
/* Appends s as it is: punctuation and keys known to need no escape. */
void rp_json_text_raw(struct rp_json_text *t, const char *s);
/* The same for n bytes: literals on hot paths pass sizeof - 1 instead of a strlen per call. */
void rp_json_text_rawn(struct rp_json_text *t, const char *s, size_t n);
/* Appends s as a JSON string. */
void rp_json_text_string(struct rp_json_text *t, const char *s);
void rp_json_text_int(struct rp_json_text *t, long long v);
/* Appends v as rp_json_dump writes it; -1 (t then holds part of it) where rp_json_dump fails. */
int rp_json_text_value(struct rp_json_text *t, const json_t *v);
/* The text (NUL-terminated; t->buf, which the caller frees, or keeps in t to write again from
 * len 0) and its length. */
char *rp_json_text_finish(struct rp_json_text *t, size_t *len);

#endif
