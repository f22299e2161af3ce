/* Tags: TagResource, UntagResource, ListTagsForResource for an application, campaign, segment
 * or message template named by its ARN.
 *
 * The tags stay where each resource's own responses read them: the app hash's `tags` field, the
 * current version of a campaign or segment, the template's document. So GetApp, GetCampaign,
 * GetSegment and Get<X>Template show what TagResource set, and the next UpdateCampaign or
 * UpdateSegment carries them on as it carries the rest of the current version. A change reads
 * that text, edits it and writes it back only if it is unchanged (tag_script), reading again
 * when another write came between. */
#include "api.h"
#include "../campaigns.h"
#include "../config.h"
#include "../jsonv.h"
#include "../keyspace.h"
#include "../log.h"
#include "../rc.h"
#include "../resource_arn.h"
#include "../segments.h"
#include "../store.h"
#include "../template_store.h"
#include "../util.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes that may come between a read and its write before the request gives up (409). */
#define MAX_TRIES 32

/* A resource named by a tags route, with a word for it in messages. */
struct tagged {
    struct rp_resource_arn arn;
    const char *what;
};

/* Where a resource's tags are: key, the hash field holding the text ("" for a string key), and
 * for a versioned resource the version that field is. */
struct tags_place {
    char key[RP_KEY_MAX];
    char field[24];
    char cur[16];
};

/* KEYS[1] the resource. ARGV[1] the hash field holding the text ('' when KEYS[1] is a string),
 * ARGV[2] the text as read, ARGV[3] the new text, ARGV[4] the version (field cur) it was read
 * at ('' for none). 1 written, 0 changed since it was read, -1 gone (absent, or a campaign
 * marked gone). */
static struct rp_script tag_script = {.source =
    "if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end\n"
    "local now\n"
    "if ARGV[1] == '' then now = redis.call('GET', KEYS[1])\n"
    "else\n"
    "  if redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return -1 end\n"
    "  if ARGV[4] ~= '' and redis.call('HGET', KEYS[1], 'cur') ~= ARGV[4] then return 0 end\n"
    "  now = redis.call('HGET', KEYS[1], ARGV[1]) or ''\n"
    "end\n"
    "if now ~= ARGV[2] then return 0 end\n"
    "if ARGV[1] == '' then redis.call('SET', KEYS[1], ARGV[3])\n"
    "else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end\n"
    "return 1\n"};

/* 0 with t filled; -1 when arn is not one of ours (answered). */
static int parse_arn(struct rp_request *req, const char *arn, struct tagged *t)
{
    const char *region = rp_ctx.region && *rp_ctx.region ? rp_ctx.region : "us-east-1";
    int rc = rp_resource_arn_parse(arn, region, rp_config_str(rp_ctx.cfg, "account_id"),
                                   &t->arn);
    if (rc == RP_EINVAL) {
        rp_respond_error(req, 400, "BadRequestException",
                         "resource-arn: %.300s is not the ARN of an application, campaign, "
                         "segment or message template",
                         arn);
        return -1;
    }
    if (rc) {
        rp_respond_error(req, 404, "NotFoundException", "Resource %.300s not found", arn);
        return -1;
    }
    static const char *const what[] = {"Application", "Campaign", "Segment", "Template"};
    t->what = what[t->arn.kind];
    return t->arn.kind == RP_ARN_TEMPLATE ? 0 : rp_request_allow_app(req, t->arn.app);
}

/* KEYS[1] a campaign or segment: its current version number and that version's document, or
 * nil when it does not exist (or is a deleted campaign). One read, so the two agree. */
static struct rp_script read_version_script = {.source =
    "local cur = redis.call('HGET', KEYS[1], 'cur')\n"
    "if not cur or redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return false end\n"
    "local doc = redis.call('HGET', KEYS[1], cur)\n"
    "if not doc then return false end\n"
    "return {cur, doc}\n"};

/* The text holding t's tags: 1 with *text (malloc'd) and place, 0 when t does not exist,
 * RP_ESTORE. For an app the text is its tags field (empty when it has none); for the others a
 * document with a member tags. */
static int read_tags_text(const struct tagged *t, struct tags_place *place, char **text)
{
    memset(place, 0, sizeof(*place));
    *text = NULL;
    redisReply *r;
    const char *args[1] = {place->key};
    switch (t->arn.kind) {
    case RP_ARN_APP:
        rp_key_app(place->key, t->arn.app);
        snprintf(place->field, sizeof(place->field), "tags");
        r = rp_store_command("HMGET %s Id tags", place->key);
        break;
    case RP_ARN_TEMPLATE:
        rp_template_key(place->key, t->arn.type, t->arn.name);
        r = rp_store_command("GET %s", place->key);
        break;
    default:
        if (t->arn.kind == RP_ARN_CAMPAIGN)
            rp_key_campaign(place->key, t->arn.app, t->arn.id);
        else
            rp_key_segment(place->key, t->arn.app, t->arn.id);
        r = rp_store_eval(&read_version_script, 1, 1, args, NULL);
        break;
    }
    if (!rp_reply_ok(r) || !(r->type == REDIS_REPLY_NIL || r->type == REDIS_REPLY_STRING ||
                             (r->type == REDIS_REPLY_ARRAY && r->elements == 2))) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    /* An app exists when it has an Id, a template or version when there is a reply. */
    const redisReply *exists = r->type == REDIS_REPLY_ARRAY ? r->element[0] : r;
    const redisReply *value = r->type == REDIS_REPLY_ARRAY ? r->element[1] : r;
    int found = exists->type == REDIS_REPLY_STRING;
    if (found) {
        if (t->arn.kind != RP_ARN_APP && t->arn.kind != RP_ARN_TEMPLATE)
            snprintf(place->cur, sizeof(place->cur), "%s", exists->str);
        if (place->cur[0])
            snprintf(place->field, sizeof(place->field), "%s", place->cur);
        *text = value->type == REDIS_REPLY_STRING ? rp_strndup(value->str, value->len)
                                                  : rp_strdup("");
    }
    freeReplyObject(r);
    return found;
}

/* The tags object inside doc (the doc itself for an app), created when absent. */
static json_t *tags_of(const struct tagged *t, json_t *doc)
{
    if (t->arn.kind == RP_ARN_APP)
        return doc;
    json_t *tags = json_object_get(doc, "tags");
    if (!json_is_object(tags)) {
        tags = json_object();
        json_object_set_new(doc, "tags", tags);
    }
    return tags;
}

static json_t *parse_text(const struct tagged *t, const char *text)
{
    if (t->arn.kind == RP_ARN_APP && !*text)
        return json_object();
    json_t *doc = json_loads(text, 0, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

/* What a change does to a tags object: add (or replace) the members of add, remove the keys of
 * remove. */
struct tags_change {
    const json_t *add;
    char **remove;
    size_t n_remove;
};

/* 0, or RP_EINVAL with err when the result would hold too many tags. */
static int apply_change(json_t *tags, const struct tags_change *c, struct rp_err *err)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)c->add, k, v)
    {
        json_object_set(tags, k, v);
    }
    for (size_t i = 0; i < c->n_remove; i++)
        json_object_del(tags, c->remove[i]);
    if (json_object_size(tags) > RP_TAGS_MAX)
        return rp_err_set(err, RP_EINVAL, "tags",
                          "a resource can have at most %d tags; this would make it %zu", RP_TAGS_MAX,
                          json_object_size(tags));
    return 0;
}

static int respond_absent(struct rp_request *req, const struct tagged *t)
{
    const struct rp_resource_arn *a = &t->arn;
    rp_respond_error(req, 404, "NotFoundException", "%s %.128s not found", t->what,
                     a->kind == RP_ARN_TEMPLATE ? a->name : a->kind == RP_ARN_APP ? a->app : a->id);
    return -1;
}

/* Reads, changes and writes back t's tags (c NULL: only reads them into *out). Answers the
 * request on failure and returns -1. */
static int change_tags(struct rp_request *req, const struct tagged *t, const struct tags_change *c,
                       json_t **out)
{
    for (int attempt = 0; attempt < MAX_TRIES; attempt++) {
        struct tags_place place;
        char *text;
        int rc = read_tags_text(t, &place, &text);
        if (rc == 0)
            return respond_absent(req, t);
        if (rc < 0) {
            rp_respond_unavailable(req);
            return -1;
        }
        json_t *doc = parse_text(t, text);
        if (!doc) {
            free(text);
            rp_log(RP_LOG_ERROR, "tags", "the stored record at %s is not a JSON object",
                   place.key);
            rp_respond_error(req, 500, "InternalServerErrorException",
                             "The stored %s record cannot be read", t->what);
            return -1;
        }
        json_t *tags = tags_of(t, doc);
        if (!c) {
            *out = json_incref(tags);
            json_decref(doc);
            free(text);
            return 0;
        }
        struct rp_err err;
        rp_err_clear(&err);
        if (apply_change(tags, c, &err)) {
            json_decref(doc);
            free(text);
            rp_respond_bad_request(req, &err);
            return -1;
        }
        char *next = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        const char *args[] = {place.key, t->arn.kind == RP_ARN_TEMPLATE ? "" : place.field, text,
                              next ? next : "", place.cur};
        redisReply *r = next ? rp_store_eval(&tag_script, 1, 5, args, NULL) : NULL;
        free(next);
        free(text);
        if (!r || r->type != REDIS_REPLY_INTEGER) {
            if (r)
                freeReplyObject(r);
            rp_respond_unavailable(req);
            return -1;
        }
        long long written = r->integer;
        freeReplyObject(r);
        if (written == 1)
            return 0;
        if (written < 0)
            return respond_absent(req, t);
    }
    rp_respond_error(req, 409, "ConflictException",
                     "The %s changed while its tags were being written; try again", t->what);
    return -1;
}

void rp_api_list_tags(struct rp_request *req)
{
    struct tagged t;
    json_t *tags;
    if (parse_arn(req, req->params[0], &t) || change_tags(req, &t, NULL, &tags))
        return;
    rp_respond_json(req, 200, json_pack("{s:o}", "tags", tags));
}

void rp_api_tag_resource(struct rp_request *req)
{
    struct tagged t;
    if (parse_arn(req, req->params[0], &t))
        return;
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    const json_t *add = NULL;
    if (rp_jsonv_tags(body, NULL, &add, &err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    if (!add) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException", "tags: is required");
        return;
    }
    struct tags_change c = {.add = add};
    if (change_tags(req, &t, &c, NULL) == 0)
        rp_respond_text(req, 204, "application/json", NULL, 0);
    json_decref(body);
}

/* Collects the decoded values of every tagKeys query parameter. */
struct key_list {
    char **keys;
    size_t n;
    int bad;
};

static enum MHD_Result collect_tag_key(void *cls, enum MHD_ValueKind kind, const char *name,
                                       const char *value)
{
    (void)kind;
    struct key_list *l = cls;
    if (strcmp(name, "tagKeys") != 0)
        return MHD_YES;
    char *decoded = value ? rp_http_percent_decode(value, strlen(value)) : NULL;
    if (!decoded || !*decoded || strlen(decoded) > RP_TAG_KEY_MAX || l->n >= RP_TAGS_MAX) {
        free(decoded);
        l->bad = 1;
        return MHD_NO;
    }
    l->keys[l->n++] = decoded;
    return MHD_YES;
}

void rp_api_untag_resource(struct rp_request *req)
{
    struct tagged t;
    if (parse_arn(req, req->params[0], &t))
        return;
    char *keys[RP_TAGS_MAX];
    struct key_list l = {keys, 0, 0};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_tag_key, &l);
    if (l.bad)
        rp_respond_error(req, 400, "BadRequestException",
                         "tagKeys: each is 1-%d characters, at most %d of them", RP_TAG_KEY_MAX,
                         RP_TAGS_MAX);
    else if (l.n == 0)
        rp_respond_error(req, 400, "BadRequestException", "tagKeys: is required");
    else {
        json_t *none = json_object();
        struct tags_change c = {.add = none, .remove = keys, .n_remove = l.n};
        if (change_tags(req, &t, &c, NULL) == 0)
            rp_respond_text(req, 204, "application/json", NULL, 0);
        json_decref(none);
    }
    for (size_t i = 0; i < l.n; i++)
        free(keys[i]);
}
