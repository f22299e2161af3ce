/* An import job's pieces (jobs.h): stream one object through the reader (import_reader.h),
 * write its endpoints in batches through the shared endpoint write path (endpoint_write.h), and
 * commit each batch's counts, failures, segment members and checkpoint in one MULTI. */
#include "config.h"
#include "endpoint.h"
#include "endpoint_store.h"
#include "endpoint_write.h"
#include "import_reader.h"
#include "import_split.h"
#include "job_location.h"
#include "jobs.h"
#include "keyspace.h"
#include "rc.h"
#include "segments.h"
#include "store.h"
#include "util.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BATCH 200
#define ID_BUF (RP_ENDPOINT_MAX_ID_LEN * 4 + 1) /* UTF-8 */

struct piece_run {
    struct rp_job_ctx *ctx;
    const char *name;      /* the object as failures name it */
    long long checkpoint;  /* records of this piece committed before this run */
    long long committed;   /* records committed so far, as the job record says */
    long long index;       /* records seen */
    int register_endpoints;
    const char *segment;   /* imported segment members key, or NULL */
    char seg_key[RP_KEY_MAX_JOB];
    json_t *removed;
    json_t *reqs[BATCH];
    char ids[BATCH][ID_BUF];
    char folded[BATCH][ID_BUF]; /* segment members: ids are case-insensitive */
    long long lines[BATCH];
    const char *id_ptrs[BATCH];
    size_t n;
    json_t *failures;      /* texts of this batch */
    long long failed;      /* records of this batch that failed */
    long long seen;        /* records of this batch, good or not */
    int rc;                /* RP_ESTORE once the store failed */
    struct rp_import_reader reader;
};

/* An endpoint without an Id gets one derived from the job, the piece and the record, so a piece
 * that runs again after a crash writes the same endpoint instead of a second one. */
static void derived_id(const struct piece_run *run, char *out)
{
    char seed[256];
    int n = snprintf(seed, sizeof(seed), "%s/%d/%lld", run->ctx->id, run->ctx->piece, run->index);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)seed, (size_t)n, digest);
    rp_hex(digest, 16, out);
}

static void add_failure(struct piece_run *run, long long line, const struct rp_err *err)
{
    run->failed++;
    if (json_array_size(run->failures) >= RP_JOB_MAX_FAILURES)
        return;
    char text[512];
    snprintf(text, sizeof(text), "%s line %lld: %s%s%s", run->name, line, err->field,
             err->field[0] ? ": " : "", err->msg);
    /* Cut to fit, maybe inside a UTF-8 sequence: keep the valid prefix. */
    size_t n = strlen(text);
    while (n && !rp_utf8_valid(text, n))
        n--;
    json_array_append_new(run->failures, json_stringn(text, n));
}

/* KEYS[1] job, KEYS[2] its failures. ARGV: checkpoint field, the value this run last saw, the
 * new value, rows, failed rows, the number of channels, then channel/count pairs, then failure
 * texts (kept while the list holds fewer than 100). Returns 0 when the checkpoint moved. */
static struct rp_script commit_script = {.source =
    "local cur = redis.call('HGET', KEYS[1], ARGV[1]) or '0'\n"
    "if cur ~= ARGV[2] then return 0 end\n"
    "redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])\n"
    "redis.call('HINCRBY', KEYS[1], 'proc', ARGV[4])\n"
    "redis.call('HINCRBY', KEYS[1], 'fail', ARGV[5])\n"
    "local i = 7\n"
    "for k = 1, tonumber(ARGV[6]) do\n"
    "  redis.call('HINCRBY', KEYS[1], 'ch:' .. ARGV[i], ARGV[i + 1]); i = i + 2\n"
    "end\n"
    "local have = redis.call('LLEN', KEYS[2])\n"
    "for k = i, #ARGV do\n"
    "  if have < 100 then redis.call('RPUSH', KEYS[2], ARGV[k]); have = have + 1 end\n"
    "end\n"
    "return 1\n"};

/* Writes the batch and commits its progress. */
static int flush(struct piece_run *run)
{
    if (run->seen == 0)
        return 0;
    const char *app = run->ctx->app;
    int rcs[BATCH] = {0};
    struct rp_err errs[BATCH];
    if (run->n && run->register_endpoints &&
        rp_endpoint_write_many(RP_ENDPOINT_IMPORT_ROW, app, run->n, run->id_ptrs, run->reqs,
                               run->removed, rcs, errs))
        return RP_ESTORE;
    if (!run->register_endpoints)
        for (size_t i = 0; i < run->n; i++)
            rcs[i] = 0;
    /* Segment members first: adding an id twice is harmless, counting a batch twice is not. */
    const char **argv = rp_calloc(2 + 2 * (size_t)BATCH + 16 + RP_JOB_MAX_FAILURES,
                                  sizeof(char *));
    int argc = 0;
    argv[argc++] = "ZADD";
    argv[argc++] = run->seg_key;
    const char *channels[16];
    long long counts[16];
    size_t nch = 0;
    for (size_t i = 0; i < run->n; i++) {
        if (rcs[i]) {
            add_failure(run, run->lines[i], &errs[i]);
            continue;
        }
        if (run->segment) {
            rp_endpoint_key_id(run->ids[i], run->folded[i], sizeof(run->folded[i]));
            argv[argc++] = "0";
            argv[argc++] = run->folded[i];
        }
        const char *ch = json_string_value(json_object_get(run->reqs[i], "ChannelType"));
        size_t k = 0;
        while (ch && k < nch && strcmp(channels[k], ch) != 0)
            k++;
        if (ch && k == nch && nch < 16) {
            channels[nch] = ch;
            counts[nch++] = 0;
        }
        if (ch && k < nch)
            counts[k]++;
    }
    int rc = 0;
    if (argc > 2) {
        redisReply *r = rp_store_commandv(argc, argv, NULL);
        rc = rp_reply_ok(r) ? 0 : RP_ESTORE;
        if (r)
            freeReplyObject(r);
    }
    /* The progress commit, conditional on the checkpoint this run last saw: a runner that lost
     * its lease to another one stops here instead of counting a batch the other counts too. */
    char k_job[RP_KEY_MAX_JOB], k_fail[RP_KEY_MAX_JOB], field[24], prev[24], next[24],
        proc[24], fail[24], nch_s[24], count_s[16][24];
    rp_key_job(k_job, app, run->ctx->id);
    rp_key_job_failures(k_fail, app, run->ctx->id);
    snprintf(field, sizeof(field), "c%d", run->ctx->piece);
    snprintf(prev, sizeof(prev), "%lld", run->committed);
    snprintf(next, sizeof(next), "%lld", run->index);
    snprintf(proc, sizeof(proc), "%lld", run->seen);
    snprintf(fail, sizeof(fail), "%lld", run->failed);
    snprintf(nch_s, sizeof(nch_s), "%zu", nch);
    argc = 0;
    argv[argc++] = k_job;
    argv[argc++] = k_fail;
    argv[argc++] = field;
    argv[argc++] = prev;
    argv[argc++] = next;
    argv[argc++] = proc;
    argv[argc++] = fail;
    argv[argc++] = nch_s;
    for (size_t k = 0; k < nch; k++) {
        snprintf(count_s[k], sizeof(count_s[k]), "%lld", counts[k]);
        argv[argc++] = channels[k];
        argv[argc++] = count_s[k];
    }
    size_t i;
    json_t *text;
    json_array_foreach(run->failures, i, text) argv[argc++] = json_string_value(text);
    if (rc == 0) {
        redisReply *r = rp_store_eval(&commit_script, 2, argc, argv, NULL);
        if (!r) {
            rc = RP_ESTORE;
        } else {
            rc = r->type != REDIS_REPLY_INTEGER ? RP_ESTORE : r->integer == 1 ? 0 : RP_ECONFLICT;
            freeReplyObject(r);
        }
    }
    free(argv);
    if (rc == 0)
        run->committed = run->index;
    for (size_t k = 0; k < run->n; k++)
        json_decref(run->reqs[k]);
    run->n = 0;
    run->seen = 0;
    run->failed = 0;
    json_array_clear(run->failures);
    if (rc)
        return rc;
    run->ctx->progress(run->ctx);
    return 0;
}

static int on_record(void *ud, const json_t *req, const struct rp_err *err, long long line)
{
    struct piece_run *run = ud;
    run->index++;
    if (run->index <= run->checkpoint)
        return 0; /* committed before a restart */
    run->seen++;
    if (!req) {
        add_failure(run, line, err);
    } else {
        const char *id = json_string_value(json_object_get(req, "Id"));
        if (id)
            snprintf(run->ids[run->n], sizeof(run->ids[run->n]), "%s", id);
        else
            derived_id(run, run->ids[run->n]);
        run->id_ptrs[run->n] = run->ids[run->n];
        run->lines[run->n] = line;
        run->reqs[run->n++] = json_incref((json_t *)req);
    }
    if (run->seen >= BATCH) {
        int rc = flush(run);
        if (rc == 0 && rp_jobs_stopping())
            rc = RP_EAGAIN;
        if (rc) {
            run->rc = rc;
            return 1;
        }
    }
    return 0;
}

static int on_data(void *ud, const char *data, size_t len)
{
    struct piece_run *run = ud;
    rp_import_reader_feed(&run->reader, data, len);
    return run->reader.failed || run->reader.stopped;
}

/* Feeds the piece's bytes to the reader: the whole object, or a range of a file cut by
 * rp_import_plan ([key, size, "", start, end, first line, CSV header end]): the header first,
 * then the range, with line numbers as in the whole file. */
static int read_piece(struct piece_run *run, const struct rp_location *loc, const char *key,
                      const json_t *object, enum rp_import_format fmt, struct rp_err *err)
{
    if (json_array_size(object) < 7)
        return rp_location_read(loc, key, on_data, run, err);
    long long start = json_integer_value(json_array_get(object, 3));
    long long end = json_integer_value(json_array_get(object, 4));
    long long line = json_integer_value(json_array_get(object, 5));
    long long header_end = json_integer_value(json_array_get(object, 6));
    if (start > 0) {
        if (fmt == RP_IMPORT_CSV) {
            /* Only the header: records sharing its line (after a CR) are the first piece's. */
            run->reader.scan_only = 1;
            int rc = rp_location_read_range(loc, key, 0, header_end, on_data, run, err);
            run->reader.scan_only = 0;
            if (rc || run->reader.failed || run->reader.stopped)
                return rc;
        } else {
            /* The compressed-file check and the byte order mark belong to the file's start. */
            run->reader.sniffed = 1;
            run->reader.bom_done = 1;
        }
        run->reader.line = line;
    }
    return rp_location_read_range(loc, key, start, end, on_data, run, err);
}

static const char *record_field(const json_t *rec, const char *name)
{
    const char *v = json_string_value(json_object_get(rec, name));
    return v ? v : "";
}

int rp_import_piece(struct rp_job_ctx *ctx, struct rp_err *err)
{
    json_t *def = json_loads(record_field(ctx->record, "def"), 0, NULL);
    json_t *objects = json_loads(record_field(ctx->record, "objects"), 0, NULL);
    json_t *object = json_array_get(objects, (size_t)ctx->piece);
    const char *key = json_string_value(json_array_get(object, 0));
    if (!def || !key) {
        json_decref(def);
        json_decref(objects);
        return rp_err_set(err, RP_EINVAL, "job", "the job record is damaged");
    }
    const char *mark = json_string_value(json_array_get(object, 2));
    if (mark && strcmp(mark, "compressed") == 0) {
        rp_err_set(err, RP_EINVAL, "", "%.150s: is compressed; import files must be "
                   "uncompressed UTF-8 text", key);
        json_decref(def);
        json_decref(objects);
        return RP_EINVAL;
    }
    struct piece_run *run = rp_calloc(1, sizeof(*run));
    run->ctx = ctx;
    run->name = key;
    char cp_field[24];
    snprintf(cp_field, sizeof(cp_field), "c%d", ctx->piece);
    run->checkpoint = strtoll(record_field(ctx->record, cp_field), NULL, 10);
    run->committed = run->checkpoint;
    run->register_endpoints = !json_is_false(json_object_get(def, "RegisterEndpoints"));
    const char *seg = record_field(ctx->record, "seg");
    const char *segver = record_field(ctx->record, "segver");
    if (*seg) {
        rp_key_segment_members(run->seg_key, ctx->app, seg, atoi(segver));
        run->segment = run->seg_key;
    }
    run->failures = json_array();
    int rc = 0;
    run->removed = rp_endpoint_store_removed_attributes(ctx->app);
    struct rp_location loc;
    const char *format = json_string_value(json_object_get(def, "Format"));
    if (!run->removed) {
        rc = RP_ESTORE;
    } else if (rp_location_open(&loc, json_string_value(json_object_get(def, "S3Url")),
                                rp_config_str(ctx->cfg, "import.file_root"), 0, "S3Url",
                                err) == 0) {
        enum rp_import_format fmt =
            format && strcmp(format, "CSV") == 0 ? RP_IMPORT_CSV : RP_IMPORT_JSON;
        rp_import_reader_init(&run->reader, fmt, on_record, run);
        rc = read_piece(run, &loc, key, object, fmt, err);
        if (rc == 0 || run->reader.failed || run->reader.stopped) {
            if (!run->reader.failed && !run->reader.stopped)
                rp_import_reader_finish(&run->reader);
            if (run->rc)
                rc = run->rc;
            else if (run->reader.failed) {
                rc = RP_EINVAL;
                rp_err_set(err, RP_EINVAL, "", "%s: %s%s%s", key, run->reader.fatal.field,
                           run->reader.fatal.field[0] ? ": " : "", run->reader.fatal.msg);
            } else {
                rc = flush(run);
            }
        } else {
            char why[sizeof(err->msg)];
            snprintf(why, sizeof(why), "%s", err->msg);
            rp_err_set(err, rc, "", "%s: %s", key, why);
        }
        rp_import_reader_cleanup(&run->reader);
        rp_location_close(&loc);
    } else {
        rc = RP_EINVAL;
    }
    for (size_t k = 0; k < run->n; k++)
        json_decref(run->reqs[k]);
    json_decref(run->failures);
    json_decref(run->removed);
    free(run);
    json_decref(def);
    json_decref(objects);
    return rc;
}

/* A long scan keeps its unit's lease, so no other runner plans the same job meanwhile. */
static void renew_lease(void *ud)
{
    struct rp_job_ctx *ctx = ud;
    ctx->progress(ctx);
}

json_t *rp_import_plan(struct rp_job_ctx *ctx)
{
    json_t *def = json_loads(record_field(ctx->record, "def"), 0, NULL);
    json_t *objects = json_loads(record_field(ctx->record, "objects"), 0, NULL);
    const char *url = json_string_value(json_object_get(def, "S3Url"));
    const char *format = json_string_value(json_object_get(def, "Format"));
    enum rp_import_format fmt =
        format && strcmp(format, "CSV") == 0 ? RP_IMPORT_CSV : RP_IMPORT_JSON;
    long long piece_bytes = rp_config_int(ctx->cfg, "import.piece_bytes");
    json_t *planned = NULL;
    struct rp_location loc;
    struct rp_err err;
    rp_err_clear(&err);
    if (!def || !json_is_array(objects) || !url || strncmp(url, "file://", 7) != 0 ||
        rp_location_open(&loc, url, rp_config_str(ctx->cfg, "import.file_root"), 0, "S3Url",
                         &err)) {
        json_decref(def);
        json_decref(objects);
        return NULL; /* S3 objects are read whole; a vanished file fails in its piece */
    }
    planned = json_array();
    size_t i;
    json_t *object;
    json_array_foreach(objects, i, object)
    {
        const char *key = json_string_value(json_array_get(object, 0));
        long long size = json_integer_value(json_array_get(object, 1));
        int fd = -1;
        if (!key || json_array_size(object) != 2 || size < 2 * piece_bytes ||
            rp_location_open_file(&loc, key, &fd, &err)) {
            json_array_append(planned, object);
            continue;
        }
        struct rp_import_cut *cuts;
        long long header_end;
        size_t n = rp_import_split_fd(fd, size, fmt, piece_bytes, &cuts, &header_end,
                                      renew_lease, ctx);
        close(fd);
        for (size_t k = 0; k < n; k++)
            json_array_append_new(planned,
                                  n == 1 ? json_pack("[s, I]", key, (json_int_t)size)
                                         : json_pack("[s, I, s, I, I, I, I]", key,
                                                     (json_int_t)size, "",
                                                     (json_int_t)cuts[k].start,
                                                     (json_int_t)cuts[k].end,
                                                     (json_int_t)cuts[k].line,
                                                     (json_int_t)header_end));
        free(cuts);
    }
    rp_location_close(&loc);
    json_decref(def);
    json_decref(objects);
    return planned;
}

int rp_import_finish(struct rp_job_ctx *ctx)
{
    const char *seg = record_field(ctx->record, "seg");
    if (!*seg)
        return 0;
    json_t *counts = json_object();
    const char *name;
    json_t *v;
    json_object_foreach(ctx->record, name, v)
    {
        if (strncmp(name, "ch:", 3) == 0)
            json_object_set_new(counts, name + 3,
                                json_integer(strtoll(json_string_value(v), NULL, 10)));
    }
    json_t *def = json_loads(record_field(ctx->record, "def"), 0, NULL);
    int rc = rp_segment_import_done(ctx->app, seg, atoi(record_field(ctx->record, "segver")),
                                    def, counts);
    json_decref(def);
    json_decref(counts);
    return rc;
}
