/* Apps: CreateApp, GetApp, GetApps, DeleteApp. An app is a hash under its own hash tag plus a
 * member of the rp:apps index; deleting one removes the record at once and hands the rest of its
 * data to the janitor (gateway/janitor.c), which survives restarts through rp:purge. */
#include "api.h"
#include "config.h"
#include "jsonv.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_APP_NAME 256

static void arn(char *out, size_t size, const char *app_id)
{
    const char *region = rp_ctx.region && *rp_ctx.region ? rp_ctx.region : "us-east-1";
    snprintf(out, size, "arn:aws:mobiletargeting:%s:%s:apps/%s", region,
             rp_config_str(rp_ctx.cfg, "account_id"), app_id);
}

json_t *rp_api_app_response(const char *app_id, int *store_failed)
{
    char key[RP_KEY_MAX];
    rp_key_app(key, app_id);
    *store_failed = 0;
    redisReply *r = rp_store_command("HMGET %s Name CreationDate tags", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
        if (r)
            freeReplyObject(r);
        *store_failed = 1;
        return NULL;
    }
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return NULL;
    }
    char arn_s[256];
    arn(arn_s, sizeof(arn_s), app_id);
    json_t *resp = json_pack("{s:s, s:s, s:s, s:s}", "Arn", arn_s, "Id", app_id, "Name",
                             r->element[0]->str, "CreationDate",
                             r->element[1]->type == REDIS_REPLY_STRING ? r->element[1]->str : "");
    json_t *tags = r->element[2]->type == REDIS_REPLY_STRING
                       ? json_loads(r->element[2]->str, 0, NULL)
                       : NULL;
    json_object_set_new(resp, "tags", tags ? tags : json_object());
    freeReplyObject(r);
    return resp;
}

void rp_api_create_app(struct rp_request *req)
{
    if (req->credential && req->credential->apps) {
        rp_respond_error(req, 403, "ForbiddenException",
                         "This access key is limited to listed applications and cannot create "
                         "new ones");
        return;
    }
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    const char *name = NULL;
    const json_t *tags = NULL;
    int rc = rp_jsonv_string(body, NULL, "Name", MAX_APP_NAME, &name, &err);
    if (rc == 0 || (name && !*name))
        rc = rp_err_set(&err, RP_EINVAL, "Name", "is required");
    if (rc >= 0)
        rc = rp_jsonv_tags(body, NULL, &tags, &err);
    if (rc < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    char id[33], now[RP_ISO_SIZE];
    rp_id_new(id);
    int64_t now_ms = rp_now_ms();
    rp_time_iso(now_ms, now);
    json_t *no_tags = tags ? NULL : json_object();
    char *tags_json = json_dumps(tags ? tags : no_tags, JSON_COMPACT);
    json_decref(no_tags);
    char key[RP_KEY_MAX];
    rp_key_app(key, id);
    /* Record first, index second: a crash between them leaves an unlisted app, never a listed
     * app without a record. */
    redisReply *r = rp_store_command("HSET %s Id %s Name %s CreationDate %s tags %s", key, id,
                                     name, now, tags_json);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    if (ok) {
        r = rp_store_command("ZADD " RP_KEY_APPS " %lld %s", (long long)now_ms, id);
        ok = rp_reply_ok(r);
        if (r)
            freeReplyObject(r);
    }
    free(tags_json);
    json_decref(body);
    if (!ok) {
        rp_respond_unavailable(req);
        return;
    }
    int failed;
    json_t *resp = rp_api_app_response(id, &failed);
    if (!resp) {
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 201, resp);
}

void rp_api_get_app(struct rp_request *req)
{
    int failed;
    json_t *resp = rp_api_app_response(rp_request_app(req), &failed);
    if (!resp) {
        if (failed)
            rp_respond_unavailable(req);
        else
            rp_respond_not_found(req, "application");
        return;
    }
    rp_respond_json(req, 200, resp);
}

/* GetApps pages through rp:apps in creation order. The token names the last app returned
 * ("<creation ms>.<id>"), not an offset, so deleting apps between pages skips nothing: the next
 * page starts after that app whether or not it still exists. Apps created in the same
 * millisecond are ordered by id, as the sorted set orders equal scores. */
void rp_api_get_apps(struct rp_request *req)
{
    char page_size_s[16] = "", token[80] = "";
    if (rp_request_query(req, "page-size", page_size_s, sizeof(page_size_s)) < 0 ||
        rp_request_query(req, "token", token, sizeof(token)) < 0)
        return;
    long page_size = 100;
    long long after_score = -1;
    char after_id[40] = "";
    char *end;
    if (page_size_s[0]) {
        page_size = strtol(page_size_s, &end, 10);
        if (*end || page_size < 1 || page_size > 1000) {
            rp_respond_error(req, 400, "BadRequestException",
                             "page-size: must be an integer between 1 and 1000");
            return;
        }
    }
    if (token[0]) {
        after_score = strtoll(token, &end, 10);
        if (*end != '.' || after_score < 0 || strlen(end + 1) == 0 ||
            strlen(end + 1) >= sizeof(after_id)) {
            rp_respond_error(req, 400, "BadRequestException", "token: not a token Repoint issued");
            return;
        }
        snprintf(after_id, sizeof(after_id), "%s", end + 1);
    }
    json_t *items = json_array();
    int failed = 0, more = 0;
    char last[80] = "";
    long long cursor = after_score < 0 ? 0 : after_score;
    long skip = 0; /* entries at the cursor's score already consumed */
    while (!failed && !more) {
        redisReply *r = rp_store_command("ZRANGEBYSCORE " RP_KEY_APPS " %lld +inf WITHSCORES "
                                         "LIMIT %ld %ld",
                                         cursor, skip, page_size + 1);
        if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
            failed = 1;
            if (r)
                freeReplyObject(r);
            break;
        }
        size_t n = r->elements / 2;
        for (size_t i = 0; i < n; i++) {
            const char *id = r->element[2 * i]->str;
            long long score = strtoll(r->element[2 * i + 1]->str, NULL, 10);
            if (score == cursor)
                skip++;
            else {
                cursor = score;
                skip = 1;
            }
            if (after_score >= 0 && score == after_score && strcmp(id, after_id) <= 0)
                continue;
            if (req->credential && !rp_credential_allows_app(req->credential, id))
                continue;
            if ((long)json_array_size(items) == page_size) {
                more = 1;
                break;
            }
            int app_failed = 0;
            json_t *app = rp_api_app_response(id, &app_failed);
            failed |= app_failed;
            if (app) {
                json_array_append_new(items, app);
                snprintf(last, sizeof(last), "%lld.%s", score, id);
            }
        }
        freeReplyObject(r);
        if ((long)n < page_size + 1)
            break;
    }
    if (failed) {
        json_decref(items);
        rp_respond_unavailable(req);
        return;
    }
    json_t *resp = json_pack("{s:o}", "Item", items);
    if (more && last[0])
        json_object_set_new(resp, "NextToken", json_string(last));
    rp_respond_json(req, 200, resp);
}

void rp_api_delete_app(struct rp_request *req)
{
    const char *id = rp_request_app(req);
    int failed;
    json_t *resp = rp_api_app_response(id, &failed);
    if (!resp) {
        if (failed)
            rp_respond_unavailable(req);
        else
            rp_respond_not_found(req, "application");
        return;
    }
    char key[RP_KEY_MAX];
    rp_key_app(key, id);
    /* Queue the purge before the record goes: if we crash in between, the janitor still
     * finishes the deletion. */
    redisReply *r1 = rp_store_command("SADD " RP_KEY_PURGE " %s", id);
    redisReply *r2 = rp_reply_ok(r1) ? rp_store_command("UNLINK %s", key) : NULL;
    redisReply *r3 = rp_reply_ok(r2) ? rp_store_command("ZREM " RP_KEY_APPS " %s", id) : NULL;
    int ok = rp_reply_ok(r3);
    if (r1)
        freeReplyObject(r1);
    if (r2)
        freeReplyObject(r2);
    if (r3)
        freeReplyObject(r3);
    if (!ok) {
        json_decref(resp);
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, resp);
}
