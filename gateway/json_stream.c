/* Whole texts through yajl (json_stream.h). */
#include "json_stream.h"
#include "util.h"

int rp_json_stream(const yajl_callbacks *callbacks, void *ctx, const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(callbacks, NULL, ctx);
    if (!h)
        rp_panic("out of memory starting a JSON parse");
    /* yajl's lexer waits for the rest of a string left open after the value, and
     * yajl_complete_parse takes such a text. A line feed is whitespace after a whole value and
     * refused inside a string, so it ends the wait either way. */
    int ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
             yajl_parse(h, (const unsigned char *)"\n", 1) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}

static int scalar(void *ctx)
{
    const struct rp_json_scalars *s = ctx;
    return s->on_scalar ? s->on_scalar(ctx) : 0;
}

int rp_json_stream_boolean(void *ctx, int value)
{
    (void)value;
    return scalar(ctx);
}

int rp_json_stream_number(void *ctx, const char *text, size_t len)
{
    (void)text;
    (void)len;
    return scalar(ctx);
}
