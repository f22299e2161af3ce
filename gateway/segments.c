/* Segment records (segments.h). */
#include "segments.h"
#include "config.h"
#include "http.h"
#include "jobs.h"
#include "jsonv.h"
#include "keyspace.h"
#include "list_page.h"
#include "rc.h"
#include "segment_match.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 10000

int rp_key_segments(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:segs", app);
}

int rp_key_segment(char *out, const char *app, const char *segment)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:seg:%s", app, segment);
}

int rp_key_segment_members(char *out, const char *app, const char *segment, int version)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:seg:%s:m:%d", app, segment, version);
}

int rp_segment_request_validate(const json_t *body, struct rp_err *err)
{
    const char *name;
    int rc;
    if ((rc = rp_jsonv_string(body, "", "Name", 1024, &name, err)) < 0)
        return rc;
    const json_t *tags;
    if ((rc = rp_jsonv_tags(body, "", &tags, err)) < 0)
        return rc;
    const json_t *v = json_object_get(body, "Dimensions");
    if (v && !json_is_null(v) && (rc = rp_segment_dimensions_validate(v, "Dimensions", err)))
        return rc;
    v = json_object_get(body, "SegmentGroups");
    if (v && !json_is_null(v) && (rc = rp_segment_groups_validate(v, err)))
        return rc;
    return 0;
}

static const char *account(void)
{
    return rp_ctx.cfg ? rp_config_str(rp_ctx.cfg, "account_id") : "000000000000";
}

static const char *region(void)
{
    return rp_ctx.region ? rp_ctx.region : "us-east-1";
}

/* Builds version `version` from the request over the previous version (prev may be NULL). */
static json_t *build_version(const char *app, const char *segment, int version,
                             const json_t *prev, const json_t *body, const json_t *import)
{
    char now[RP_ISO_SIZE], arn[512];
    rp_time_iso(rp_now_ms(), now);
    snprintf(arn, sizeof(arn), "arn:aws:mobiletargeting:%s:%s:apps/%s/segments/%s", region(),
             account(), app, segment);
    json_t *out = prev ? json_deep_copy(prev) : json_object();
    json_object_set_new(out, "ApplicationId", json_string(app));
    json_object_set_new(out, "Arn", json_string(arn));
    json_object_set_new(out, "Id", json_string(segment));
    if (!prev)
        json_object_set_new(out, "CreationDate", json_string(now));
    if (prev)
        json_object_set_new(out, "LastModifiedDate", json_string(now));
    json_object_set_new(out, "Version", json_integer(version));
    static const char *const members[] = {"Name", "Dimensions", "SegmentGroups", "tags"};
    for (size_t i = 0; body && i < 4; i++) {
        json_t *v = json_object_get(body, members[i]);
        if (v && !json_is_null(v))
            json_object_set_new(out, members[i], json_deep_copy(v));
    }
    if (!json_object_get(out, "tags"))
        json_object_set_new(out, "tags", json_object());
    if (import) {
        json_object_set_new(out, "SegmentType", json_string("IMPORT"));
        json_object_set_new(out, "ImportDefinition", json_deep_copy(import));
    } else if (!json_object_get(out, "SegmentType")) {
        json_object_set_new(out, "SegmentType", json_string("DIMENSIONAL"));
    }
    if (!json_object_get(out, "Dimensions") && !json_object_get(out, "ImportDefinition") &&
        !json_object_get(out, "SegmentGroups"))
        json_object_set_new(out, "Dimensions", json_object());
    return out;
}

static int store_version(const char *app, const char *segment, int version, const json_t *doc,
                         int is_new)
{
    char key[RP_KEY_MAX], segs[RP_KEY_MAX], ver[16], now[24];
    rp_key_segment(key, app, segment);
    rp_key_segments(segs, app);
    snprintf(ver, sizeof(ver), "%d", version);
    snprintf(now, sizeof(now), "%lld", (long long)rp_now_ms());
    char *text = json_dumps(doc, JSON_COMPACT);
    rp_store_append("HSET %s cur %s %s %s", key, ver, ver, text);
    size_t n = 1;
    if (is_new) {
        rp_store_append("ZADD %s %s %s", segs, now, segment);
        n++;
    }
    free(text);
    return rp_store_collect_ok(n);
}

json_t *rp_segment_create(const char *app, const json_t *body, const json_t *import)
{
    char id[33];
    rp_id_new(id);
    json_t *doc = build_version(app, id, 1, NULL, body, import);
    if (store_version(app, id, 1, doc, 1)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* The latest version number, 0 when the segment does not exist, or RP_ESTORE. */
static int current_version(const char *app, const char *segment)
{
    char key[RP_KEY_MAX];
    rp_key_segment(key, app, segment);
    redisReply *r = rp_store_command("HGET %s cur", key);
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int v = r->type == REDIS_REPLY_STRING ? atoi(r->str) : 0;
    freeReplyObject(r);
    return v;
}

json_t *rp_segment_get(const char *app, const char *segment, int version, int *rc)
{
    char key[RP_KEY_MAX], ver[16];
    rp_key_segment(key, app, segment);
    if (version <= 0) {
        version = current_version(app, segment);
        if (version <= 0) {
            *rc = version == 0 ? RP_ENOTFOUND : RP_ESTORE;
            return NULL;
        }
    }
    snprintf(ver, sizeof(ver), "%d", version);
    json_t *doc;
    int found = rp_store_hget_json(key, ver, &doc);
    *rc = found < 0 ? RP_ESTORE : found ? 0 : RP_ENOTFOUND;
    return doc;
}

json_t *rp_segment_new_version(const char *app, const char *segment, const json_t *body,
                               const json_t *import, int *rc)
{
    json_t *prev = rp_segment_get(app, segment, 0, rc);
    if (!prev)
        return NULL;
    int version = (int)json_integer_value(json_object_get(prev, "Version")) + 1;
    if (version > MAX_VERSIONS) {
        json_decref(prev);
        *rc = RP_ELIMIT;
        return NULL;
    }
    json_t *doc = build_version(app, segment, version, prev, body, import);
    json_decref(prev);
    if (store_version(app, segment, version, doc, 0)) {
        json_decref(doc);
        *rc = RP_ESTORE;
        return NULL;
    }
    *rc = 0;
    return doc;
}

json_t *rp_segment_versions(const char *app, const char *segment, long page_size,
                            const char *token, int *rc)
{
    int cur = current_version(app, segment);
    if (cur <= 0) {
        *rc = cur == 0 ? RP_ENOTFOUND : RP_ESTORE;
        return NULL;
    }
    long start = rp_list_token_offset(token);
    json_t *items = json_array();
    for (long v = cur - start; v >= 1 && (long)json_array_size(items) < page_size;
         v--) {
        json_t *doc = rp_segment_get(app, segment, (int)v, rc);
        if (!doc && *rc == RP_ESTORE) {
            json_decref(items);
            return NULL;
        }
        if (doc)
            json_array_append_new(items, doc);
    }
    json_t *out = json_pack("{s:o}", "Item", items);
    long next = start + page_size;
    if (cur - next >= 1)
        rp_list_set_next(out, next);
    *rc = 0;
    return out;
}

static json_t *segment_list_item(const char *segment, void *app, int *rc)
{
    return rp_segment_get(app, segment, 0, rc);
}

json_t *rp_segment_list(const char *app, long page_size, const char *token, int *rc)
{
    char key[RP_KEY_MAX];
    rp_key_segments(key, app);
    return rp_list_page(key, page_size, token, segment_list_item, (void *)app, rc);
}

json_t *rp_segment_delete(const char *app, const char *segment, int *rc)
{
    json_t *doc = rp_segment_get(app, segment, 0, rc);
    if (!doc)
        return NULL;
    int cur = (int)json_integer_value(json_object_get(doc, "Version"));
    char key[RP_KEY_MAX];
    rp_key_segments(key, app);
    rp_store_append("ZREM %s %s", key, segment);
    rp_key_segment(key, app, segment);
    rp_store_append("UNLINK %s", key);
    for (int v = 1; v <= cur; v++) {
        rp_key_segment_members(key, app, segment, v);
        rp_store_append("UNLINK %s", key);
    }
    size_t n = 2 + (size_t)(cur > 0 ? cur : 0);
    redisReply **r = rp_calloc(n, sizeof(redisReply *));
    *rc = rp_store_collect(r, n);
    for (size_t i = 0; i < n; i++)
        if (r[i])
            freeReplyObject(r[i]);
    free(r);
    if (*rc) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

int rp_segment_import_done(const char *app, const char *segment, int version,
                           const json_t *job_definition, const json_t *channel_counts)
{
    int rc;
    json_t *doc = rp_segment_get(app, segment, version, &rc);
    if (!doc)
        return rc == RP_ENOTFOUND ? 0 : RP_ESTORE; /* deleted meanwhile */
    char key[RP_KEY_MAX];
    rp_key_segment_members(key, app, segment, version);
    redisReply *r = rp_store_command("ZCARD %s", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        json_decref(doc);
        return RP_ESTORE;
    }
    long long size = r->integer;
    freeReplyObject(r);
    const json_t *d = job_definition;
    const char *ext = json_string_value(json_object_get(d, "ExternalId"));
    json_t *imp = json_pack("{s:O, s:s?, s:s?, s:s?, s:s, s:I}", "ChannelCounts", channel_counts,
                            "Format", json_string_value(json_object_get(d, "Format")), "S3Url",
                            json_string_value(json_object_get(d, "S3Url")), "RoleArn",
                            json_string_value(json_object_get(d, "RoleArn")), "ExternalId",
                            ext ? ext : "", "Size", (json_int_t)size);
    json_object_set_new(doc, "ImportDefinition", imp);
    char ver[16];
    snprintf(ver, sizeof(ver), "%d", version);
    char *text = json_dumps(doc, JSON_COMPACT);
    rp_key_segment(key, app, segment);
    r = rp_store_command("HSET %s %s %s", key, ver, text);
    free(text);
    json_decref(doc);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}
