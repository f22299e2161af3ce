/* Campaign records and state changes (campaigns.h). */
#include "campaigns.h"
#include "campaign_request.h"
#include "config.h"
#include "http.h"
#include "keyspace.h"
#include "list_page.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_VERSIONS 10000

int rp_key_campaigns(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:camps", app);
}

int rp_key_campaign(char *out, const char *app, const char *id)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:camp:%s", app, id);
}

int rp_key_campaign_runs(char *out, const char *app, const char *id)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:camp:%s:runs", app, id);
}

int rp_key_campaign_run(char *out, const char *app, const char *id, const char *run)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:camp:%s:run:%s", app, id, run);
}

int rp_key_campaign_withdrawn(char *out, const char *app, const char *id, const char *run)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:camp:%s:run:%s:wd", app, id, run);
}

static const char *account(void)
{
    return rp_ctx.cfg ? rp_config_str(rp_ctx.cfg, "account_id") : "000000000000";
}

static const char *region(void)
{
    return rp_ctx.region ? rp_ctx.region : "us-east-1";
}

json_t *rp_campaign_load_hash(const char *key)
{
    json_t *rec;
    int rc = rp_store_get_hash(key, &rec);
    return rc < 0 ? NULL : rc ? rec : json_object();
}

/* The members of a WriteCampaignRequest a CampaignResponse echoes. */
static const char *const request_members[] = {
    "Name",   "Description", "TreatmentName",  "TreatmentDescription", "MessageConfiguration",
    "Schedule", "TemplateConfiguration", "SegmentId", "HoldoutPercent", "Limits",
    "IsPaused", "Priority",     "tags",           "Hook"};
#define N_REQUEST_MEMBERS (sizeof(request_members) / sizeof(request_members[0]))

static json_t *build_version(const char *app, const char *id, int version, const json_t *prev,
                             const json_t *body, int segment_version)
{
    char now[RP_ISO_SIZE], arn[512];
    rp_time_iso(rp_now_ms(), now);
    snprintf(arn, sizeof(arn), "arn:aws:mobiletargeting:%s:%s:apps/%s/campaigns/%s", region(),
             account(), app, id);
    json_t *out = json_object();
    for (size_t i = 0; i < N_REQUEST_MEMBERS; i++) {
        json_t *v = json_object_get(body, request_members[i]);
        if (v && !json_is_null(v))
            json_object_set_new(out, request_members[i], json_deep_copy(v));
    }
    json_object_set_new(out, "ApplicationId", json_string(app));
    json_object_set_new(out, "Arn", json_string(arn));
    json_object_set_new(out, "Id", json_string(id));
    json_object_set_new(out, "CreationDate",
                        prev ? json_incref(json_object_get(prev, "CreationDate"))
                             : json_string(now));
    json_object_set_new(out, "LastModifiedDate", json_string(now));
    json_object_set_new(out, "Version", json_integer(version));
    json_object_set_new(out, "SegmentVersion", json_integer(segment_version));
    json_object_set_new(out, "AdditionalTreatments", json_array());
    if (!json_object_get(out, "IsPaused"))
        json_object_set_new(out, "IsPaused", json_false());
    if (!json_object_get(out, "tags"))
        json_object_set_new(out, "tags", json_object());
    if (!json_object_get(out, "HoldoutPercent"))
        json_object_set_new(out, "HoldoutPercent", json_integer(0));
    json_t *schedule = json_object_get(out, "Schedule");
    if (json_is_object(schedule) && !json_object_get(schedule, "Frequency"))
        json_object_set_new(schedule, "Frequency", json_string("ONCE"));
    return out;
}

static int64_t due_of(const json_t *doc)
{
    struct rp_campaign_schedule s;
    rp_campaign_schedule_read(doc, &s);
    if (s.local_time)
        return s.start_ms - RP_CAMPAIGN_OFFSET_MAX_S * 1000LL; /* where it is first StartTime */
    return s.immediate ? 0 : s.start_ms;
}

int rp_campaign_schedule_unit(const char *app, const char *id, int64_t due_ms)
{
    char member[160];
    snprintf(member, sizeof(member), "%s/%s", app, id);
    redisReply *r = rp_store_command("ZADD %s %lld %s", RP_KEY_CAMPQ, (long long)due_ms, member);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

static void unschedule(const char *app, const char *id)
{
    char member[160];
    snprintf(member, sizeof(member), "%s/%s", app, id);
    redisReply *r = rp_store_command("ZREM %s %s", RP_KEY_CAMPQ, member);
    if (r)
        freeReplyObject(r);
}

static json_t *with_state(json_t *doc, const char *state)
{
    json_object_set_new(doc, "State", json_pack("{s:s}", "CampaignStatus", state));
    return doc;
}

json_t *rp_campaign_create(const char *app, const json_t *body, int segment_version)
{
    char id[33], key[RP_KEY_MAX], index[RP_KEY_MAX], now[24];
    rp_id_new(id);
    rp_key_campaign(key, app, id);
    rp_key_campaigns(index, app);
    snprintf(now, sizeof(now), "%lld", (long long)rp_now_ms());
    json_t *doc = build_version(app, id, 1, NULL, body, segment_version);
    int paused = json_is_true(json_object_get(doc, "IsPaused"));
    const char *state = paused ? "PAUSED" : "SCHEDULED";
    char *text = json_dumps(doc, JSON_COMPACT);
    rp_store_append("HSET %s cur 1 1 %s state %s run %s", key, text, state, "");
    rp_store_append("ZADD %s %s %s", index, now, id);
    free(text);
    if (rp_store_collect_ok(2) || (!paused && rp_campaign_schedule_unit(app, id, due_of(doc)))) {
        json_decref(doc);
        return NULL;
    }
    return with_state(doc, state);
}

/* state and cur of a campaign; 0, RP_ENOTFOUND (absent or deleted) or RP_ESTORE. */
static int head(const char *app, const char *id, char *state, size_t size, int *cur, char *run,
                size_t run_size)
{
    char key[RP_KEY_MAX];
    rp_key_campaign(key, app, id);
    redisReply *r = rp_store_command("HMGET %s state cur run gone", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int found = r->element[0]->type == REDIS_REPLY_STRING &&
                r->element[3]->type != REDIS_REPLY_STRING;
    if (found) {
        snprintf(state, size, "%s", r->element[0]->str);
        *cur = r->element[1]->type == REDIS_REPLY_STRING ? atoi(r->element[1]->str) : 0;
        snprintf(run, run_size, "%s",
                 r->element[2]->type == REDIS_REPLY_STRING ? r->element[2]->str : "");
    }
    freeReplyObject(r);
    return found ? 0 : RP_ENOTFOUND;
}

static json_t *load_version(const char *app, const char *id, int version, int *rc)
{
    char key[RP_KEY_MAX];
    rp_key_campaign(key, app, id);
    char field[16];
    snprintf(field, sizeof(field), "%d", version);
    json_t *doc;
    int found = rp_store_hget_json(key, field, &doc);
    *rc = found < 0 ? RP_ESTORE : found ? 0 : RP_ENOTFOUND;
    return doc;
}

json_t *rp_campaign_get(const char *app, const char *id, int version, int *rc)
{
    char state[32], run[64];
    int cur;
    if ((*rc = head(app, id, state, sizeof(state), &cur, run, sizeof(run))))
        return NULL;
    if (version <= 0)
        version = cur;
    json_t *doc = load_version(app, id, version, rc);
    return doc ? with_state(doc, state) : NULL;
}

json_t *rp_campaign_merged_request(const char *app, const char *id, const json_t *update,
                                   int *rc)
{
    json_t *doc = rp_campaign_get(app, id, 0, rc);
    if (!doc)
        return NULL;
    json_t *merged = json_object();
    for (size_t i = 0; i < N_REQUEST_MEMBERS; i++) {
        json_t *v = json_object_get(update, request_members[i]);
        if (!v || json_is_null(v))
            v = json_object_get(doc, request_members[i]);
        if (v)
            json_object_set(merged, request_members[i], v);
    }
    /* A new SegmentId without a SegmentVersion means that segment's latest version. */
    json_t *sv = json_object_get(update, "SegmentVersion");
    const char *old_seg = json_string_value(json_object_get(doc, "SegmentId"));
    const char *new_seg = json_string_value(json_object_get(merged, "SegmentId"));
    if (sv && !json_is_null(sv))
        json_object_set(merged, "SegmentVersion", sv);
    else if (old_seg && new_seg && strcmp(old_seg, new_seg) == 0)
        json_object_set(merged, "SegmentVersion", json_object_get(doc, "SegmentVersion"));
    json_decref(doc);
    *rc = 0;
    return merged;
}

/* KEYS[1] campaign, KEYS[2] its current run (may not exist). ARGV[1] action, ARGV[2] the run id
 * the caller read, ARGV[3] now (ISO). Changes the campaign's state and stops its run's queued
 * deliveries (gen + 1) where the action asks; returns the new state. */
static struct rp_script state_script = {.source =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st or redis.call('HEXISTS', KEYS[1], 'gone') == 1 then return false end\n"
    "local run = redis.call('HGET', KEYS[1], 'run') or ''\n"
    "local rst = ''\n"
    "if run ~= '' and run == ARGV[2] then rst = redis.call('HGET', KEYS[2], 'state') or '' end\n"
    "local a = ARGV[1]\n"
    "if a == 'pause' then\n"
    "  if st == 'SCHEDULED' or st == 'EXECUTING' then\n"
    "    redis.call('HSET', KEYS[1], 'state', 'PAUSED')\n"
    "    if rst == 'RUNNING' then\n"
    "      redis.call('HSET', KEYS[2], 'state', 'PAUSED')\n"
    "      redis.call('HINCRBY', KEYS[2], 'gen', 1)\n"
    "    end\n"
    "  end\n"
    "elseif a == 'resume' then\n"
    "  if st == 'PAUSED' then redis.call('HSET', KEYS[1], 'state', 'SCHEDULED') end\n"
    "elseif a == 'bump' then\n"
    "  if rst == 'RUNNING' then redis.call('HINCRBY', KEYS[2], 'gen', 1) end\n"
    "elseif a == 'reschedule' then\n"
    "  if st == 'COMPLETED' then redis.call('HSET', KEYS[1], 'state', 'SCHEDULED') end\n"
    "elseif a == 'delete' then\n"
    "  redis.call('HSET', KEYS[1], 'state', 'DELETED', 'gone', '1')\n"
    "  if rst == 'RUNNING' or rst == 'PAUSED' then\n"
    "    redis.call('HSET', KEYS[2], 'state', 'CANCELLED', 'end', ARGV[3])\n"
    "    redis.call('HINCRBY', KEYS[2], 'gen', 1)\n"
    "  end\n"
    "end\n"
    "return redis.call('HGET', KEYS[1], 'state')\n"};

static int change_state(const char *app, const char *id, const char *run, const char *action,
                        char *state, size_t size)
{
    char key[RP_KEY_MAX], run_key[RP_KEY_MAX], now[RP_ISO_SIZE];
    rp_key_campaign(key, app, id);
    rp_key_campaign_run(run_key, app, id, run[0] ? run : "-");
    rp_time_iso(rp_now_ms(), now);
    const char *args[] = {key, run_key, action, run, now};
    redisReply *r = rp_store_eval(&state_script, 2, 5, args, NULL);
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int rc = r->type == REDIS_REPLY_STRING ? 0 : RP_ENOTFOUND;
    if (rc == 0 && state)
        snprintf(state, size, "%s", r->str);
    freeReplyObject(r);
    return rc;
}

json_t *rp_campaign_update(const char *app, const char *id, const json_t *merged,
                           int segment_version, int *rc)
{
    char state[32], run[64], key[RP_KEY_MAX];
    int cur;
    if ((*rc = head(app, id, state, sizeof(state), &cur, run, sizeof(run))))
        return NULL;
    if (cur >= MAX_VERSIONS) {
        *rc = RP_ELIMIT;
        return NULL;
    }
    json_t *prev = load_version(app, id, cur, rc);
    if (!prev)
        return NULL;
    json_t *doc = build_version(app, id, cur + 1, prev, merged, segment_version);
    struct rp_campaign_schedule old_s, new_s;
    rp_campaign_schedule_read(prev, &old_s);
    rp_campaign_schedule_read(doc, &new_s);
    json_decref(prev);
    rp_key_campaign(key, app, id);
    char *text = json_dumps(doc, JSON_COMPACT);
    rp_store_append("HSET %s cur %d %d %s", key, cur + 1, cur + 1, text);
    free(text);
    if ((*rc = rp_store_collect_ok(1))) {
        json_decref(doc);
        return NULL;
    }
    int paused = json_is_true(json_object_get(doc, "IsPaused"));
    int new_start = new_s.immediate != old_s.immediate || new_s.start_ms != old_s.start_ms;
    /* Any change reaches a running campaign as a new generation: what is queued under the old
     * content is withdrawn and sent again with the new one. */
    *rc = change_state(app, id, run, paused ? "pause" : "bump", state, sizeof(state));
    if (!*rc && !paused && strcmp(state, "PAUSED") == 0)
        *rc = change_state(app, id, run, "resume", state, sizeof(state));
    if (!*rc && !paused && new_start && strcmp(state, "COMPLETED") == 0)
        *rc = change_state(app, id, run, "reschedule", state, sizeof(state));
    if (!*rc) {
        if (paused)
            unschedule(app, id);
        else if (strcmp(state, "EXECUTING") == 0)
            *rc = rp_campaign_schedule_unit(app, id, 0);
        else if (strcmp(state, "SCHEDULED") == 0)
            *rc = rp_campaign_schedule_unit(app, id, due_of(doc));
    }
    if (*rc) {
        json_decref(doc);
        return NULL;
    }
    return with_state(doc, state);
}

struct list_ctx {
    const char *app;
};

static json_t *list_item(const char *id, void *ctx, int *rc)
{
    const struct list_ctx *c = ctx;
    json_t *doc = rp_campaign_get(c->app, id, 0, rc);
    if (!doc && *rc == RP_ENOTFOUND)
        *rc = 0;
    return doc;
}

json_t *rp_campaign_list(const char *app, long page_size, const char *token, int *rc)
{
    char key[RP_KEY_MAX];
    rp_key_campaigns(key, app);
    struct list_ctx ctx = {app};
    return rp_list_page(key, page_size, token, list_item, &ctx, rc);
}

json_t *rp_campaign_versions(const char *app, const char *id, long page_size, const char *token,
                             int *rc)
{
    char state[32], run[64];
    int cur;
    if ((*rc = head(app, id, state, sizeof(state), &cur, run, sizeof(run))))
        return NULL;
    long start = rp_list_token_offset(token);
    json_t *items = json_array();
    for (long v = cur - start; v >= 1 && (long)json_array_size(items) < page_size; v--) {
        json_t *doc = load_version(app, id, (int)v, rc);
        if (!doc && *rc == RP_ESTORE) {
            json_decref(items);
            return NULL;
        }
        if (doc)
            json_array_append_new(items, with_state(doc, state));
    }
    json_t *out = json_pack("{s:o}", "Item", items);
    if (cur - (start + page_size) >= 1)
        rp_list_set_next(out, start + page_size);
    *rc = 0;
    return out;
}

json_t *rp_campaign_delete(const char *app, const char *id, int *rc)
{
    json_t *doc = rp_campaign_get(app, id, 0, rc);
    if (!doc)
        return NULL;
    char state[32], run[64];
    int cur;
    if ((*rc = head(app, id, state, sizeof(state), &cur, run, sizeof(run))) ||
        (*rc = change_state(app, id, run, "delete", NULL, 0))) {
        json_decref(doc);
        return NULL;
    }
    unschedule(app, id);
    char key[RP_KEY_MAX], index[RP_KEY_MAX], runs[RP_KEY_MAX];
    rp_key_campaign(key, app, id);
    rp_key_campaigns(index, app);
    rp_key_campaign_runs(runs, app, id);
    rp_store_append("ZREM %s %s", index, id);
    rp_store_append("EXPIRE %s %d", key, RP_CAMPAIGN_DELETED_TTL_S);
    rp_store_append("EXPIRE %s %d", runs, RP_CAMPAIGN_DELETED_TTL_S);
    size_t n = 3;
    if (run[0]) {
        char run_key[RP_KEY_MAX], wd[RP_KEY_MAX];
        rp_key_campaign_run(run_key, app, id, run);
        rp_key_campaign_withdrawn(wd, app, id, run);
        rp_store_append("EXPIRE %s %d", run_key, RP_CAMPAIGN_DELETED_TTL_S);
        rp_store_append("DEL %s", wd);
        n += 2;
    }
    if ((*rc = rp_store_collect_ok(n))) {
        json_decref(doc);
        return NULL;
    }
    return with_state(doc, "DELETED");
}

json_t *rp_campaign_activity_of(const char *app, const char *id, const char *run,
                                const json_t *rec)
{
    json_t *metrics = json_object();
    const char *k;
    json_t *v;
    json_int_t successful = 0;
    json_object_foreach((json_t *)rec, k, v)
    {
        if (strncmp(k, "st:", 3) == 0 || strncmp(k, "sk:", 3) == 0) {
            json_object_set_new(metrics, k + 3, json_string(json_string_value(v)));
            if (strcmp(k, "st:SUCCESSFUL") == 0)
                successful = strtoll(json_string_value(v), NULL, 10);
        }
    }
    json_object_set_new(metrics, "WITHDRAWN", json_string(rp_hash_field(rec, "wdn")[0] ? rp_hash_field(rec, "wdn")
                                                                               : "0"));
    const char *state = rp_hash_field(rec, "state");
    int finished = strcmp(state, "COMPLETED") == 0 || strcmp(state, "CANCELLED") == 0;
    /* A local-time run counts the UTC offsets of its endpoints (tzo:<offset> = when that zone
     * reached StartTime) and those its passes have covered; any other run is one zone. */
    json_int_t tz_total = 0, tz_done = 0;
    json_object_foreach((json_t *)rec, k, v)
    {
        if (strncmp(k, "tzo:", 4) == 0) {
            tz_total++;
            if (finished || (*rp_hash_field(rec, "ltdone") &&
                             strtoll(json_string_value(v), NULL, 10) <= rp_hash_int(rec, "ltdone")))
                tz_done++;
        }
    }
    if (tz_total == 0) {
        tz_total = 1;
        tz_done = finished ? 1 : 0;
    }
    json_t *out = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "Id", run, "ApplicationId", app,
        "CampaignId", id, "TreatmentId", "0", "State", state, "ScheduledStart",
        rp_hash_field(rec, "sched"), "SuccessfulEndpointCount", successful, "TotalEndpointCount",
        rp_hash_int(rec, "total"), "TimezonesTotalCount", tz_total, "TimezonesCompletedCount",
        tz_done, "ExecutionMetrics", metrics);
    if (*rp_hash_field(rec, "start"))
        json_object_set_new(out, "Start", json_string(rp_hash_field(rec, "start")));
    if (*rp_hash_field(rec, "end"))
        json_object_set_new(out, "End", json_string(rp_hash_field(rec, "end")));
    if (*rp_hash_field(rec, "result"))
        json_object_set_new(out, "Result", json_string(rp_hash_field(rec, "result")));
    return out;
}

struct activity_ctx {
    const char *app, *id;
};

static json_t *activity_item(const char *run, void *ctx, int *rc)
{
    const struct activity_ctx *c = ctx;
    char key[RP_KEY_MAX];
    rp_key_campaign_run(key, c->app, c->id, run);
    json_t *rec = rp_campaign_load_hash(key);
    if (!rec) {
        *rc = RP_ESTORE;
        return NULL;
    }
    json_t *out = json_object_size(rec) ? rp_campaign_activity_of(c->app, c->id, run, rec) : NULL;
    json_decref(rec);
    return out;
}

json_t *rp_campaign_activities(const char *app, const char *id, long page_size,
                               const char *token, int *rc)
{
    char state[32], run[64];
    int cur;
    if ((*rc = head(app, id, state, sizeof(state), &cur, run, sizeof(run))))
        return NULL;
    char key[RP_KEY_MAX];
    rp_key_campaign_runs(key, app, id);
    struct activity_ctx ctx = {app, id};
    return rp_list_page(key, page_size, token, activity_item, &ctx, rc);
}
