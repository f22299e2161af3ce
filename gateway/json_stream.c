/* Whole texts through yajl (json_stream.h). */
#include "json_stream.h"
#include "util.h"

int rp_json_stream(const yajl_callbacks *callbacks, void *ctx, const char *text, size_t len)
{
    yajl_handle h = yajl_alloc(callbacks, NULL, ctx);
    if (!h)
        rp_panic("out of memory starting a JSON parse");
    int ok = yajl_parse(h, (const unsigned char *)text, len) == yajl_status_ok &&
             yajl_complete_parse(h) == yajl_status_ok;
    yajl_free(h);
    return ok;
}
