/* An export job's pieces (jobs.h): walk the endpoints (all of the app's, one shard per piece,
 * or a segment's through segment_cursor.h) and write them as newline-delimited JSON in gzip
 * files of bounded size, so memory stays flat whatever the export's size. A piece that runs again
 * rewrites the same file names, and its count is added to the job once. */
#include "config.h"
#include "job_location.h"
#include "jobs.h"
#include "json_write.h"
#include "keyspace.h"
#include "rc.h"
#include "segment_cursor.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define PART_BYTES (8u << 20) /* compressed bytes per file */
#define BATCH 500

/* KEYS[1] job. ARGV: piece, count. Adds a piece's count to TotalProcessed once. */
static struct rp_script count_script = {.source =
    "if redis.call('HSETNX', KEYS[1], 'e' .. ARGV[1], ARGV[2]) == 1 then\n"
    "  redis.call('HINCRBY', KEYS[1], 'proc', ARGV[2])\n"
    "end\n"
    "return 1\n"};

struct part {
    z_stream z;
    unsigned char *buf;
    size_t len, cap;
    int open, number;
};

static void part_open(struct part *p)
{
    memset(&p->z, 0, sizeof(p->z));
    /* Level 1: endpoint JSON repeats itself so much that the fastest level still shrinks it
     * about tenfold, at a third of level 6's CPU (which made the export CPU-bound). */
    deflateInit2(&p->z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY); /* 16: gzip wrapper */
    p->len = 0;
    p->open = 1;
}

static void part_deflate(struct part *p, const void *data, size_t len, int flush)
{
    p->z.next_in = (Bytef *)data;
    p->z.avail_in = (uInt)len;
    do {
        if (p->cap - p->len < 65536) {
            p->cap = p->cap ? p->cap * 2 : (1u << 20);
            p->buf = rp_realloc(p->buf, p->cap);
        }
        p->z.next_out = p->buf + p->len;
        p->z.avail_out = (uInt)(p->cap - p->len);
        int zr = deflate(&p->z, flush);
        p->len = p->cap - p->z.avail_out;
        if (flush == Z_FINISH && zr == Z_STREAM_END)
            break;
    } while (p->z.avail_in || (flush == Z_FINISH));
}

/* Ends the current file and writes it. */
static int part_close(struct part *p, const struct rp_location *loc, const char *job, int piece,
                      struct rp_err *err)
{
    if (!p->open)
        return 0;
    part_deflate(p, NULL, 0, Z_FINISH);
    deflateEnd(&p->z);
    p->open = 0;
    char name[160];
    snprintf(name, sizeof(name), "%s/%d-%d.json.gz", job, piece, p->number++);
    return rp_location_write(loc, name, p->buf, p->len, err);
}

static const char *record_field(const json_t *rec, const char *name)
{
    const char *v = json_string_value(json_object_get(rec, name));
    return v ? v : "";
}

int rp_export_piece(struct rp_job_ctx *ctx, struct rp_err *err)
{
    json_t *def = json_loads(record_field(ctx->record, "def"), 0, NULL);
    if (!def)
        return rp_err_set(err, RP_EINVAL, "job", "the job record is damaged");
    struct rp_location loc;
    int rc = rp_location_open(&loc, json_string_value(json_object_get(def, "S3UrlPrefix")),
                              rp_config_str(ctx->cfg, "export.file_root"), 1, "S3UrlPrefix", err);
    if (rc) {
        json_decref(def);
        return rc;
    }
    const char *segment = json_string_value(json_object_get(def, "SegmentId"));
    int version = (int)json_integer_value(json_object_get(def, "SegmentVersion"));
    struct rp_segment_cursor cur;
    rc = rp_segment_cursor_open(&cur, ctx->app, segment, version);
    if (rc == RP_ENOTFOUND)
        rp_err_set(err, rc, "SegmentId", "the segment no longer exists");
    cur.texts = 1; /* stored texts as they are, where no dimension needs testing */
    int by_shard = !cur.imported;
    char pos[32];
    snprintf(pos, sizeof(pos), "s:%d:0", ctx->piece);
    if (rc == 0 && by_shard)
        rp_segment_cursor_seek(&cur, pos);
    struct part p = {0};
    long long total = 0;
    while (rc == 0 && !cur.done && (!by_shard || cur.shard == (unsigned)ctx->piece)) {
        json_t *batch;
        rc = rp_segment_cursor_next(&cur, BATCH, &batch);
        if (rc)
            break;
        size_t i;
        json_t *ep;
        json_array_foreach(batch, i, ep)
        {
            size_t len;
            char *line = json_is_string(ep) ? NULL : rp_json_dump(ep, &len);
            if (!line && !json_is_string(ep))
                continue; /* not JSON: nothing stored is like that */
            if (!p.open)
                part_open(&p);
            if (line)
                part_deflate(&p, line, len, Z_NO_FLUSH);
            else
                part_deflate(&p, json_string_value(ep), json_string_length(ep), Z_NO_FLUSH);
            part_deflate(&p, "\n", 1, Z_NO_FLUSH);
            free(line);
            total++;
            if (p.len >= PART_BYTES && (rc = part_close(&p, &loc, ctx->id, ctx->piece, err)))
                break;
        }
        json_decref(batch);
        ctx->progress(ctx);
        if (rc == 0 && rp_jobs_stopping())
            rc = RP_EAGAIN; /* rewritten from the start of the piece after the restart */
    }
    if (rc == 0)
        rc = part_close(&p, &loc, ctx->id, ctx->piece, err);
    else if (p.open)
        deflateEnd(&p.z);
    free(p.buf);
    rp_segment_cursor_close(&cur);
    rp_location_close(&loc);
    json_decref(def);
    if (rc)
        return rc;
    char key[RP_KEY_MAX], piece[16], count[24];
    rp_key_job(key, ctx->app, ctx->id);
    snprintf(piece, sizeof(piece), "%d", ctx->piece);
    snprintf(count, sizeof(count), "%lld", total);
    const char *args[] = {key, piece, count};
    redisReply *r = rp_store_eval(&count_script, 1, 3, args, NULL);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}
