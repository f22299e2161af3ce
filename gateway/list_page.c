/* The List APIs' paging over sorted sets (list_page.h). */
#include "list_page.h"
#include "rc.h"
#include "store.h"

#include <stdio.h>
#include <stdlib.h>

long rp_list_token_offset(const char *token)
{
    long start = token && *token ? strtol(token, NULL, 10) : 0;
    return start > 0 ? start : 0;
}

void rp_list_set_next(json_t *out, long offset)
{
    char t[24];
    snprintf(t, sizeof(t), "%ld", offset);
    json_object_set_new(out, "NextToken", json_string(t));
}

json_t *rp_list_page(const char *key, long page_size, const char *token, rp_list_item_fn item,
                     void *ctx, int *rc)
{
    long start = rp_list_token_offset(token);
    /* One member past the page says whether a next page exists. */
    redisReply *r = rp_store_command("ZREVRANGE %s %ld %ld", key, start, start + page_size);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        *rc = RP_ESTORE;
        return NULL;
    }
    json_t *items = json_array();
    size_t shown = r->elements > (size_t)page_size ? (size_t)page_size : r->elements;
    for (size_t i = 0; i < shown; i++) {
        *rc = 0;
        json_t *one = item(r->element[i]->str, ctx, rc);
        if (!one && *rc == RP_ESTORE) {
            json_decref(items);
            freeReplyObject(r);
            return NULL;
        }
        if (one)
            json_array_append_new(items, one);
    }
    json_t *out = json_pack("{s:o}", "Item", items);
    if (r->elements > (size_t)page_size)
        rp_list_set_next(out, start + page_size);
    freeReplyObject(r);
    *rc = 0;
    return out;
}
