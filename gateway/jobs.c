/* Job records, the run queue and the runner threads (jobs.h). */
#include "jobs.h"
#include "pollers.h"
#include "config.h"
#include "import_row.h"
#include "list_page.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define IDLE_POLL_MS 250

int rp_key_job(char *out, const char *app, const char *job)
{
    return snprintf(out, RP_KEY_MAX_JOB, "rp:{a:%s}:job:%s", app, job);
}

int rp_key_job_failures(char *out, const char *app, const char *job)
{
    return snprintf(out, RP_KEY_MAX_JOB, "rp:{a:%s}:job:%s:fail", app, job);
}

int rp_key_jobs(char *out, const char *app, enum rp_job_type type)
{
    return snprintf(out, RP_KEY_MAX_JOB, "rp:{a:%s}:jobs:%s", app,
                    type == RP_JOB_IMPORT ? "import" : "export");
}

int rp_key_segment_jobs(char *out, const char *app, const char *segment, enum rp_job_type type)
{
    return snprintf(out, RP_KEY_MAX_JOB, "rp:{a:%s}:seg:%s:jobs:%s", app, segment,
                    type == RP_JOB_IMPORT ? "import" : "export");
}

int rp_key_jobs_running(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX_JOB, "rp:{a:%s}:jobs:running", app);
}

static long long lease_ms(const struct rp_config *cfg)
{
    return cfg ? rp_config_int(cfg, "jobs.lease_ms") : 30000;
}

/* KEYS[1] running set. ARGV: job id, limit. Adds the job unless the app is at its limit. */
static struct rp_script admit_script = {.source =
    "if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end\n"
    "redis.call('SADD', KEYS[1], ARGV[1])\n"
    "return 1\n"};

int rp_job_create(const char *app, enum rp_job_type type, const json_t *definition,
                  const json_t *pieces, int total_pieces, const char *segment,
                  long long running_limit, char *id, int segment_version)
{
    rp_id_new(id);
    char k_job[RP_KEY_MAX_JOB], k_index[RP_KEY_MAX_JOB];
    rp_key_job(k_job, app, id);
    rp_key_jobs(k_index, app, type);
    if (type == RP_JOB_IMPORT && running_limit > 0) {
        char k_running[RP_KEY_MAX_JOB];
        rp_key_jobs_running(k_running, app);
        char limit[24];
        snprintf(limit, sizeof(limit), "%lld", running_limit);
        const char *args[] = {k_running, id, limit};
        redisReply *r = rp_store_eval(&admit_script, 1, 3, args, NULL);
        int ok = rp_reply_ok(r) && r->type == REDIS_REPLY_INTEGER;
        int admitted = ok && r->integer == 1;
        if (r)
            freeReplyObject(r);
        if (!ok)
            return RP_ESTORE;
        if (!admitted)
            return RP_ELIMIT;
    }
    int64_t now = rp_now_ms();
    char created[RP_ISO_SIZE], now_s[24], tp[16], segver[16];
    snprintf(segver, sizeof(segver), "%d", segment_version);
    rp_time_iso(now, created);
    snprintf(now_s, sizeof(now_s), "%lld", (long long)now);
    snprintf(tp, sizeof(tp), "%d", total_pieces);
    char *def = json_dumps(definition, JSON_COMPACT);
    char *objects = pieces ? json_dumps(pieces, JSON_COMPACT) : rp_strdup("[]");
    const char *argv[] = {"HSET", k_job, "type", type == RP_JOB_IMPORT ? "IMPORT" : "EXPORT",
                          "def", def, "created", created, "status", "CREATED", "tp", tp,
                          "cp", "0", "fp", "0", "proc", "0", "fail", "0", "objects", objects,
                          "seg", segment ? segment : "", "segver", segver};
    rp_store_appendv((int)(sizeof(argv) / sizeof(argv[0])), argv, NULL);
    rp_store_append("ZADD %s %s %s", k_index, now_s, id);
    size_t n = 2;
    if (segment) {
        char k_seg[RP_KEY_MAX_JOB];
        rp_key_segment_jobs(k_seg, app, segment, type);
        rp_store_append("ZADD %s %s %s", k_seg, now_s, id);
        n++;
    }
    char unit[160];
    snprintf(unit, sizeof(unit), "%s/%s/init", app, id);
    rp_store_append("ZADD %s 0 %s", RP_KEY_JOBQ, unit);
    n++;
    free(def);
    free(objects);
    return rp_store_collect_ok(n);
}

/* The job hash as an object of strings (new reference); NULL when absent (*rc NOTFOUND) or on
 * store failure. */
static json_t *load_record(const char *app, const char *id, int *rc)
{
    char key[RP_KEY_MAX_JOB];
    rp_key_job(key, app, id);
    json_t *rec;
    int found = rp_store_get_hash(key, &rec);
    *rc = found < 0 ? RP_ESTORE : found ? 0 : RP_ENOTFOUND;
    return rec;
}

/* Builds the response from a record and its failures (borrowed). */
static json_t *response_of(const char *app, const char *id, const json_t *rec,
                           const json_t *failures)
{
    json_t *def = json_loads(rp_hash_field(rec, "def"), 0, NULL);
    json_t *out = json_pack("{s:s, s:I, s:s, s:o, s:I, s:s, s:s, s:I, s:I, s:I, s:s}",
                            "ApplicationId", app, "CompletedPieces", rp_hash_int(rec, "cp"),
                            "CreationDate", rp_hash_field(rec, "created"), "Definition",
                            def ? def : json_object(), "FailedPieces", rp_hash_int(rec, "fp"), "Id",
                            id, "JobStatus", rp_hash_field(rec, "status"), "TotalFailures",
                            rp_hash_int(rec, "fail"), "TotalPieces", rp_hash_int(rec, "tp"),
                            "TotalProcessed", rp_hash_int(rec, "proc"), "Type",
                            rp_hash_field(rec, "type"));
    if (*rp_hash_field(rec, "done"))
        json_object_set_new(out, "CompletionDate", json_string(rp_hash_field(rec, "done")));
    if (json_array_size(failures))
        json_object_set(out, "Failures", (json_t *)failures);
    return out;
}

/* The fields a response shows (the object list of a large import stays in Redis). */
static json_t *load_summary(const char *app, const char *id, int *rc)
{
    static const char *const names[] = {"type", "def", "created", "status", "tp",
                                        "cp",   "fp",  "proc",    "fail",   "done"};
    char key[RP_KEY_MAX_JOB];
    rp_key_job(key, app, id);
    const char *argv[2 + 10] = {"HMGET", key};
    for (size_t i = 0; i < 10; i++)
        argv[2 + i] = names[i];
    redisReply *r = rp_store_commandv(12, argv, NULL);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 10) {
        if (r)
            freeReplyObject(r);
        *rc = RP_ESTORE;
        return NULL;
    }
    json_t *rec = json_object();
    for (size_t i = 0; i < 10; i++)
        if (r->element[i]->type == REDIS_REPLY_STRING)
            json_object_set_new(rec, names[i],
                                json_stringn(r->element[i]->str, r->element[i]->len));
    freeReplyObject(r);
    *rc = json_object_get(rec, "type") ? 0 : RP_ENOTFOUND;
    if (*rc) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

json_t *rp_job_response(const char *app, const char *id, enum rp_job_type type, int *rc)
{
    json_t *rec = load_summary(app, id, rc);
    if (!rec)
        return NULL;
    if (strcmp(rp_hash_field(rec, "type"), type == RP_JOB_IMPORT ? "IMPORT" : "EXPORT") != 0) {
        json_decref(rec);
        *rc = RP_ENOTFOUND;
        return NULL;
    }
    char key[RP_KEY_MAX_JOB];
    rp_key_job_failures(key, app, id);
    redisReply *r = rp_store_command("LRANGE %s 0 %d", key, RP_JOB_MAX_FAILURES - 1);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        json_decref(rec);
        *rc = RP_ESTORE;
        return NULL;
    }
    json_t *failures = json_array();
    for (size_t i = 0; i < r->elements; i++)
        json_array_append_new(failures, json_stringn(r->element[i]->str, r->element[i]->len));
    freeReplyObject(r);
    json_t *out = response_of(app, id, rec, failures);
    json_decref(failures);
    json_decref(rec);
    return out;
}

struct job_list_ctx {
    const char *app;
    enum rp_job_type type;
};

static json_t *job_list_item(const char *id, void *ctx, int *rc)
{
    const struct job_list_ctx *c = ctx;
    return rp_job_response(c->app, id, c->type, rc);
}

json_t *rp_job_list(const char *app, enum rp_job_type type, const char *segment, long page_size,
                    const char *token)
{
    char key[RP_KEY_MAX_JOB];
    if (segment)
        rp_key_segment_jobs(key, app, segment, type);
    else
        rp_key_jobs(key, app, type);
    struct job_list_ctx ctx = {app, type};
    int rc;
    return rp_list_page(key, page_size, token, job_list_item, &ctx, &rc);
}

void rp_job_append_failure(const char *app, const char *id, const char *text)
{
    char key[RP_KEY_MAX_JOB];
    rp_key_job_failures(key, app, id);
    /* Texts were cut to fit buffers, maybe inside a UTF-8 sequence: keep the valid prefix. */
    size_t n = strlen(text);
    while (n && !rp_utf8_valid(text, n))
        n--;
    rp_store_append("RPUSH %s %b", key, text, n);
    rp_store_append("LTRIM %s 0 %d", key, RP_JOB_MAX_FAILURES - 1);
}

/* ---- The runner ------------------------------------------------------------------------- */

/* KEYS[1] run queue. ARGV: now, lease. Claims the first claimable unit. */
static struct rp_script claim_script = {.source =
    "local m = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)\n"
    "if #m == 0 then return false end\n"
    "redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), m[1])\n"
    "return m[1]\n"};

/* KEYS[1] job. ARGV: piece, 'cp' or 'fp'. Counts a piece once; returns 1 when it was the last. */
static struct rp_script piece_done_script = {.source =
    "if redis.call('HSETNX', KEYS[1], 'd' .. ARGV[1], '1') == 1 then\n"
    "  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)\n"
    "end\n"
    "local cp = tonumber(redis.call('HGET', KEYS[1], 'cp') or '0')\n"
    "local fp = tonumber(redis.call('HGET', KEYS[1], 'fp') or '0')\n"
    "local tp = tonumber(redis.call('HGET', KEYS[1], 'tp') or '0')\n"
    "if cp + fp >= tp then return 1 end\n"
    "return 0\n"};

static const struct rp_config *job_cfg;

const struct rp_config *rp_job_config(void)
{
    return job_cfg;
}

void rp_jobq_renew(const char *queue, const char *member, long long lease)
{
    char score[24];
    snprintf(score, sizeof(score), "%lld", (long long)(rp_now_ms() + lease));
    redisReply *r = rp_store_command("ZADD %s XX %s %s", queue, score, member);
    if (r)
        freeReplyObject(r);
}

int rp_jobq_claim(const char *queue, long long lease, char *out, size_t size)
{
    char now[24], lease_s[24];
    snprintf(now, sizeof(now), "%lld", (long long)rp_now_ms());
    snprintf(lease_s, sizeof(lease_s), "%lld", lease);
    const char *args[] = {queue, now, lease_s};
    redisReply *r = rp_store_eval(&claim_script, 1, 3, args, NULL);
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int claimed = r->type == REDIS_REPLY_STRING;
    if (claimed)
        snprintf(out, size, "%s", r->str);
    freeReplyObject(r);
    return claimed;
}

static void renew(struct rp_job_ctx *ctx)
{
    rp_jobq_renew(RP_KEY_JOBQ, ctx->unit, lease_ms(ctx->cfg));
}

static int simple(redisReply *r)
{
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

static int set_status(const char *app, const char *id, const char *status)
{
    char key[RP_KEY_MAX_JOB];
    rp_key_job(key, app, id);
    return simple(rp_store_command("HSET %s status %s", key, status));
}

static int queue_unit(const char *app, const char *id, const char *unit)
{
    char member[160];
    snprintf(member, sizeof(member), "%s/%s/%s", app, id, unit);
    return simple(rp_store_command("ZADD %s 0 %s", RP_KEY_JOBQ, member));
}

static int unit_done(const char *member)
{
    return simple(rp_store_command("ZREM %s %s", RP_KEY_JOBQ, member));
}

static int run_init(struct rp_job_ctx *ctx)
{
    if (set_status(ctx->app, ctx->id, "INITIALIZING"))
        return RP_ESTORE;
    json_int_t tp = rp_hash_int(ctx->record, "tp");
    if (strcmp(rp_hash_field(ctx->record, "type"), "IMPORT") == 0 && !*rp_hash_field(ctx->record, "planned")) {
        /* Planned once: the pieces and their checkpoints must not move under a re-run init. */
        json_t *objects = rp_import_plan(ctx);
        char *text = objects ? json_dumps(objects, JSON_COMPACT) : NULL;
        char key[RP_KEY_MAX_JOB], tp_s[24];
        rp_key_job(key, ctx->app, ctx->id);
        if (text)
            tp = (json_int_t)json_array_size(objects);
        snprintf(tp_s, sizeof(tp_s), "%lld", (long long)tp);
        const char *argv[] = {"HSET", key, "planned", "1", "tp", tp_s, "objects", text};
        int rc = simple(rp_store_commandv(text ? 8 : 6, argv, NULL));
        free(text);
        json_decref(objects);
        if (rc)
            return rc;
    }
    if (tp == 0)
        return queue_unit(ctx->app, ctx->id, "fin") || unit_done(ctx->unit) ? RP_ESTORE : 0;
    if (set_status(ctx->app, ctx->id, "PROCESSING"))
        return RP_ESTORE;
    for (json_int_t i = 0; i < tp; i++) {
        char member[160];
        snprintf(member, sizeof(member), "%s/%s/%lld", ctx->app, ctx->id, (long long)i);
        rp_store_append("ZADD %s NX 0 %s", RP_KEY_JOBQ, member);
    }
    for (json_int_t i = 0; i < tp; i++) {
        redisReply *r;
        if (rp_store_collect(&r, 1))
            return RP_ESTORE;
        freeReplyObject(r);
    }
    return unit_done(ctx->unit);
}

static int run_piece(struct rp_job_ctx *ctx)
{
    struct rp_err err;
    rp_err_clear(&err);
    int rc = strcmp(rp_hash_field(ctx->record, "type"), "IMPORT") == 0 ? rp_import_piece(ctx, &err)
                                                                : rp_export_piece(ctx, &err);
    if (rc == RP_EAGAIN) {
        /* Shutting down: the piece is claimable again at once, by this instance after a
         * restart or by another one, and resumes from its checkpoint. */
        redisReply *r = rp_store_command("ZADD %s XX 0 %s", RP_KEY_JOBQ, ctx->unit);
        if (r)
            freeReplyObject(r);
        return 0;
    }
    if (rc == RP_ESTORE || rc == RP_ECONFLICT)
        return rc; /* the lease lapses and the piece runs again, or another runner has it */
    char key[RP_KEY_MAX_JOB], piece[16];
    rp_key_job(key, ctx->app, ctx->id);
    snprintf(piece, sizeof(piece), "%d", ctx->piece);
    if (rc) {
        char text[400];
        snprintf(text, sizeof(text), "%s%s%s", err.field, err.field[0] ? ": " : "", err.msg);
        rp_job_append_failure(ctx->app, ctx->id, text);
        redisReply *r[2];
        if (rp_store_collect(r, 2))
            return RP_ESTORE;
        freeReplyObject(r[0]);
        freeReplyObject(r[1]);
    }
    const char *args[] = {key, piece, rc ? "fp" : "cp"};
    redisReply *r = rp_store_eval(&piece_done_script, 1, 3, args, NULL);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_INTEGER) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int last = r->integer == 1;
    freeReplyObject(r);
    if (last && queue_unit(ctx->app, ctx->id, "fin"))
        return RP_ESTORE;
    return unit_done(ctx->unit);
}

static int run_fin(struct rp_job_ctx *ctx)
{
    int failed = rp_hash_int(ctx->record, "fp") > 0;
    if (set_status(ctx->app, ctx->id, failed ? "FAILING" : "COMPLETING"))
        return RP_ESTORE;
    if (strcmp(rp_hash_field(ctx->record, "type"), "IMPORT") == 0 && rp_import_finish(ctx))
        return RP_ESTORE;
    char key[RP_KEY_MAX_JOB], running[RP_KEY_MAX_JOB], done[RP_ISO_SIZE];
    rp_key_job(key, ctx->app, ctx->id);
    rp_key_jobs_running(running, ctx->app);
    rp_time_iso(rp_now_ms(), done);
    rp_store_append("HSET %s status %s done %s", key, failed ? "FAILED" : "COMPLETED", done);
    rp_store_append("SREM %s %s", running, ctx->id);
    redisReply *r[2];
    if (rp_store_collect(r, 2))
        return RP_ESTORE;
    freeReplyObject(r[0]);
    freeReplyObject(r[1]);
    rp_info("jobs", "%s job %s of app %s %s", rp_hash_field(ctx->record, "type"), ctx->id, ctx->app,
            failed ? "FAILED" : "COMPLETED");
    return unit_done(ctx->unit);
}

int rp_jobs_run_once(const struct rp_config *cfg)
{
    struct rp_job_ctx ctx = {.cfg = cfg, .progress = renew, .piece = -1};
    if (rp_jobq_claim(RP_KEY_JOBQ, lease_ms(cfg), ctx.unit, sizeof(ctx.unit)) != 1)
        return 0;
    char parts[160];
    snprintf(parts, sizeof(parts), "%s", ctx.unit);
    char *s1 = strchr(parts, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
    if (!s1 || !s2) {
        unit_done(ctx.unit);
        return 1;
    }
    *s1 = *s2 = '\0';
    ctx.app = parts;
    ctx.id = s1 + 1;
    const char *unit = s2 + 1;
    int rc;
    ctx.record = load_record(ctx.app, ctx.id, &rc);
    if (!ctx.record) {
        if (rc == RP_ENOTFOUND)
            unit_done(ctx.unit); /* the app was deleted */
        return 1;
    }
    if (strcmp(unit, "init") == 0) {
        rc = run_init(&ctx);
    } else if (strcmp(unit, "fin") == 0) {
        rc = run_fin(&ctx);
    } else {
        ctx.piece = atoi(unit);
        rc = run_piece(&ctx);
    }
    if (rc)
        rp_warn("jobs", "job %s of app %s, unit %s: %s; retried after the lease", ctx.id, ctx.app,
                unit, rp_rc_msg(rc));
    json_decref(ctx.record);
    return 1;
}

static int run_once(void)
{
    return rp_jobs_run_once(job_cfg) != 0;
}

static struct rp_pollers runners = RP_POLLERS_INIT("jobs", run_once, IDLE_POLL_MS);

int rp_jobs_stopping(void)
{
    return rp_pollers_stopping(&runners);
}

int rp_jobs_start(const struct rp_config *cfg, int count)
{
    job_cfg = cfg;
    return rp_pollers_start(&runners, count);
}

void rp_jobs_stop(void)
{
    rp_pollers_stop(&runners);
}
