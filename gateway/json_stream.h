/* One whole text through yajl's streaming parser: for the hot readers that take a few members
 * out of a document without building a jansson tree of it (endpoint_summary.c, queue.c). */
#ifndef RP_JSON_STREAM_H
#define RP_JSON_STREAM_H

#include <stddef.h>
#include <yajl/yajl_parse.h>

/* Parses text[0..len) as exactly one JSON value (no trailing content), calling callbacks with
 * ctx; a callback returning 0 stops the parse. yajl skips an event that has no callback. UTF-8
 * is checked for structure only (yajl passes overlong forms and surrogates: rp_utf8_valid).
 * Returns 1 when the whole text parsed, else 0. */
int rp_json_stream(const yajl_callbacks *callbacks, void *ctx, const char *text, size_t len);

/* For readers that take a boolean or a number as any other scalar: the context starts with this
 * struct, and the callbacks' yajl_boolean and yajl_number are the two functions below, which
 * call on_scalar(ctx) (NULL: such a value stops the parse). */
struct rp_json_scalars {
    int (*on_scalar)(void *ctx);
};
int rp_json_stream_boolean(void *ctx, int value);
int rp_json_stream_number(void *ctx, const char *text, size_t len);

#endif
