/* Segment enumeration (segment_cursor.h). */
#include "segment_cursor.h"
#include "endpoint_store.h"
#include "keyspace.h"
#include "rc.h"
#include "segment_match.h"
#include "segments.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_DEPTH_MAX 4

int rp_segment_cursor_open(struct rp_segment_cursor *c, const char *app, const char *segment,
                           int version)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->app, sizeof(c->app), "%s", app);
    if (!segment)
        return 0;
    int rc;
    c->segment = rp_segment_get(app, segment, version, &rc);
    if (!c->segment)
        return rc;
    const char *type = json_string_value(json_object_get(c->segment, "SegmentType"));
    c->imported = type && strcmp(type, "IMPORT") == 0;
    rp_key_segment_members(c->members_key, app, segment,
                           (int)json_integer_value(json_object_get(c->segment, "Version")));
    return 0;
}

void rp_segment_cursor_close(struct rp_segment_cursor *c)
{
    json_decref(c->segment);
    c->segment = NULL;
}

void rp_segment_cursor_position(const struct rp_segment_cursor *c, char *out, size_t size)
{
    if (c->done)
        snprintf(out, size, "end");
    else if (c->imported)
        snprintf(out, size, "i:%s", c->after);
    else
        snprintf(out, size, "s:%u:%llu", c->shard, c->scan);
}

int rp_segment_cursor_seek(struct rp_segment_cursor *c, const char *pos)
{
    if (strcmp(pos, "end") == 0) {
        c->done = 1;
        return 0;
    }
    if (c->imported && strncmp(pos, "i:", 2) == 0 && strlen(pos + 2) < sizeof(c->after)) {
        snprintf(c->after, sizeof(c->after), "%s", pos + 2);
        return 0;
    }
    unsigned shard;
    unsigned long long scan;
    if (!c->imported && sscanf(pos, "s:%u:%llu", &shard, &scan) == 2 &&
        shard < RP_ENDPOINT_SHARDS) {
        c->shard = shard;
        c->scan = scan;
        return 0;
    }
    return RP_EINVAL;
}

struct member_ctx {
    const char *app;
    int depth;
};

static int is_member(void *ud, const char *id, int version, const json_t *endpoint);

/* Whether an endpoint belongs to segment id/version: set membership for an imported version,
 * the rules for a dimensional one. */
static int is_member(void *ud, const char *id, int version, const json_t *endpoint)
{
    struct member_ctx *m = ud;
    if (!id || m->depth >= SOURCE_DEPTH_MAX)
        return 0;
    int rc;
    json_t *doc = rp_segment_get(m->app, id, version, &rc);
    if (!doc)
        return rc == RP_ENOTFOUND ? 0 : rc;
    const char *type = json_string_value(json_object_get(doc, "SegmentType"));
    int in;
    if (type && strcmp(type, "IMPORT") == 0) {
        char key[RP_KEY_MAX];
        rp_key_segment_members(key, m->app, id,
                               (int)json_integer_value(json_object_get(doc, "Version")));
        const char *ep_id = json_string_value(json_object_get(endpoint, "Id"));
        char folded[RP_KEY_MAX];
        rp_endpoint_key_id(ep_id ? ep_id : "", folded, sizeof(folded));
        redisReply *r = rp_store_command("ZSCORE %s %s", key, folded);
        if (!r) {
            in = RP_ESTORE;
        } else {
            in = r->type == REDIS_REPLY_ERROR ? RP_ESTORE : r->type == REDIS_REPLY_STRING;
            freeReplyObject(r);
        }
    } else {
        struct member_ctx inner = {m->app, m->depth + 1};
        in = rp_segment_doc_match(doc, endpoint, is_member, &inner);
    }
    json_decref(doc);
    return in;
}

/* Reads the endpoints of ids (NULL entries skipped) and appends those that match. */
static int load_matching(struct rp_segment_cursor *c, const char *const *ids, size_t n,
                         json_t *out)
{
    if (n == 0)
        return 0;
    struct rp_stored_endpoint *eps = rp_calloc(n, sizeof(*eps));
    int rc = rp_endpoint_store_get_many(c->app, ids, n, eps);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (!eps[i].json)
            continue;
        int in = 1;
        if (c->segment && !c->imported) {
            struct member_ctx m = {c->app, 0};
            in = rp_segment_doc_match(c->segment, eps[i].json, is_member, &m);
        }
        if (in < 0)
            rc = RP_ESTORE;
        else if (in)
            json_array_append(out, eps[i].json);
    }
    for (size_t i = 0; i < n; i++)
        rp_stored_endpoint_cleanup(&eps[i]);
    free(eps);
    return rc;
}

/* The stored texts of ids (c->texts), or what c->read_text makes of them: endpoints deleted
 * meanwhile, and texts read_text refuses, are skipped. */
static int load_texts(struct rp_segment_cursor *c, const char *const *ids, size_t n, json_t *out)
{
    struct rp_endpoint_records recs;
    if (rp_endpoint_records_read(&recs, c->app, ids, n))
        return RP_ESTORE;
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *text = rp_endpoint_records_json(&recs, i, &len, NULL, NULL);
        if (!text || !len || text[0] != '{')
            continue;
        /* Written by our own serialiser: UTF-8 already. */
        json_t *item = c->read_text ? c->read_text(text, len) : json_stringn_nocheck(text, len);
        if (item)
            json_array_append_new(out, item);
    }
    rp_endpoint_records_free(&recs);
    return 0;
}

int rp_segment_cursor_next(struct rp_segment_cursor *c, size_t max, json_t **batch)
{
    *batch = json_array();
    if (c->done)
        return 0;
    redisReply *r;
    if (c->imported) {
        char from[sizeof(c->after) + 2];
        snprintf(from, sizeof(from), "%s%s", c->after[0] ? "(" : "-", c->after);
        r = rp_store_command("ZRANGEBYLEX %s %s + LIMIT 0 %llu", c->members_key, from,
                             (unsigned long long)max);
    } else {
        char key[RP_KEY_MAX];
        rp_key_shard_members(key, c->app, c->shard);
        r = rp_store_command("SSCAN %s %llu COUNT %llu", key, c->scan,
                             (unsigned long long)max);
    }
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        json_decref(*batch);
        *batch = NULL;
        return RP_ESTORE;
    }
    const redisReply *list = c->imported ? r : (r->elements == 2 ? r->element[1] : NULL);
    size_t n = list ? list->elements : 0;
    const char **ids = rp_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        ids[i] = list->element[i]->str;
    int rc = c->texts && (c->imported || !c->segment) ? load_texts(c, ids, n, *batch)
                                                       : load_matching(c, ids, n, *batch);
    if (rc == 0) {
        if (c->imported) {
            if (n)
                snprintf(c->after, sizeof(c->after), "%s", ids[n - 1]);
            c->done = n < max;
        } else {
            c->scan = strtoull(r->element[0]->str, NULL, 10);
            if (c->scan == 0 && ++c->shard == RP_ENDPOINT_SHARDS)
                c->done = 1;
        }
    }
    free(ids);
    freeReplyObject(r);
    if (rc) {
        json_decref(*batch);
        *batch = NULL;
    }
    return rc;
}
