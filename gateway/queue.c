#include "queue.h"
#include "json_stream.h"
#include "json_write.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct rp_queue_conf queue_conf = {
    .shards = 4,
    .batch = 128,
    .visibility_timeout_ms = 30000,
    .max_attempts = 5,
    .retry_base_ms = 1000,
    .retry_max_ms = 300000,
};

void rp_queue_configure(const struct rp_queue_conf *conf)
{
    queue_conf = *conf;
}

const struct rp_queue_conf *rp_queue_conf(void)
{
    return &queue_conf;
}

void rp_queue_stream_key(char *out, const char *channel, int shard)
{
    snprintf(out, 128, "rp:q:{%s:%d}", channel, shard);
}

void rp_queue_retry_key(char *out, const char *channel, int shard)
{
    snprintf(out, 128, "rp:retry:{%s:%d}", channel, shard);
}

int rp_queue_shard_of(const char *message_id)
{
    return (int)(rp_fnv1a(message_id, strlen(message_id)) % (uint32_t)queue_conf.shards);
}

void rp_queue_entry_encode(const struct rp_delivery *const *ds, size_t n, char **d, size_t *d_len,
                           char **r, size_t *r_len)
{
    json_t *doc = rp_delivery_to_json(ds[0]);
    *d = rp_json_dump(doc, d_len);
    json_decref(doc);
    *r = NULL;
    *r_len = 0;
    if (n < 2)
        return;
    /* Written as text, not as a jansson array of 4 strings per recipient: the scheduler writes
     * one per campaign delivery. */
    struct rp_json_text t;
    rp_json_text_init(&t, 128 * n);
    rp_json_text_raw(&t, "[");
    for (size_t i = 1; i < n; i++) {
        rp_json_text_raw(&t, i > 1 ? ",[" : "[");
        rp_json_text_string(&t, ds[i]->message_id);
        rp_json_text_raw(&t, ",");
        if (ds[i]->endpoint_id)
            rp_json_text_string(&t, ds[i]->endpoint_id);
        else
            rp_json_text_raw(&t, "null");
        rp_json_text_raw(&t, ",");
        rp_json_text_string(&t, ds[i]->address ? ds[i]->address : "");
        rp_json_text_raw(&t, ",");
        rp_json_text_string(&t, ds[i]->recipient_key ? ds[i]->recipient_key : "");
        rp_json_text_raw(&t, "]");
    }
    rp_json_text_raw(&t, "]");
    *r = rp_json_text_finish(&t, r_len);
}

/* One entry for ds[0..n). */
static void append_entry(const struct rp_delivery *const *ds, size_t n)
{
    char key[128], *d, *r;
    size_t d_len, r_len;
    rp_queue_stream_key(key, ds[0]->channel, rp_queue_shard_of(ds[0]->message_id));
    rp_queue_entry_encode(ds, n, &d, &d_len, &r, &r_len);
    const char *argv[7] = {"XADD", key, "*", "d", d, "r", r};
    size_t lens[7] = {4, strlen(key), 1, 1, d_len, 1, r_len};
    rp_store_appendv(r ? 7 : 5, argv, lens);
    free(d);
    free(r);
}

void rp_queue_append(const struct rp_delivery *d)
{
    append_entry(&d, 1);
}

size_t rp_queue_append_shared(struct rp_delivery *const *deliveries, size_t n)
{
    /* Deliveries are grouped with the first open group of their channel that holds the same
     * message: one comparison each, so personalised messages (every one different) cost no
     * more than before and go out one per entry. */
    enum { OPEN_MAX = 8 };
    const struct rp_delivery *open[OPEN_MAX][RP_QUEUE_SHARED_MAX];
    size_t open_n[OPEN_MAX] = {0};
    size_t n_open = 0, entries = 0;
    for (size_t i = 0; i < n; i++) {
        const struct rp_delivery *d = deliveries[i];
        size_t g = 0;
        while (g < n_open && strcmp(open[g][0]->channel, d->channel) != 0)
            g++;
        if (g < n_open && (open_n[g] == RP_QUEUE_SHARED_MAX ||
                           !rp_delivery_same_message(open[g][0], d))) {
            append_entry(open[g], open_n[g]);
            entries++;
            open_n[g] = 0;
        }
        if (g == n_open) {
            if (n_open == OPEN_MAX) { /* more channels than groups: the oldest goes out */
                append_entry(open[0], open_n[0]);
                entries++;
                memmove(open, open + 1, (OPEN_MAX - 1) * sizeof(open[0]));
                memmove(open_n, open_n + 1, (OPEN_MAX - 1) * sizeof(open_n[0]));
                g = --n_open;
            }
            n_open++;
            open_n[g] = 0;
        }
        open[g][open_n[g]++] = d;
    }
    for (size_t g = 0; g < n_open; g++) {
        append_entry(open[g], open_n[g]);
        entries++;
    }
    return entries;
}

/* Reads an entry's "r" member, [[id, endpoint id|null, address, key], ...], straight into
 * deliveries with yajl's streaming parser: a tree of 5 jansson nodes per recipient was most of
 * what decoding a shared entry cost a worker. */
struct recipients_reader {
    struct rp_json_scalars scalars; /* first: a boolean or a number stops the parse */
    struct rp_delivery *out;        /* out[0] is the entry's base delivery */
    int count;               /* deliveries filled in out, the base included */
    int depth;               /* 1: in the list, 2: in a recipient */
    int member;              /* the recipient's members read so far */
    char *members[4];        /* owned until handed to a delivery */
};

static void drop_members(struct recipients_reader *rd)
{
    for (int i = 0; i < 4; i++) {
        free(rd->members[i]);
        rd->members[i] = NULL;
    }
    rd->member = 0;
}

static int recipient_string(void *ctx, const unsigned char *s, size_t len)
{
    struct recipients_reader *rd = ctx;
    /* yajl lets overlong forms and surrogates through; jansson, which wrote the entry, never
     * writes them, nor a NUL (which would cut the string short). */
    if (rd->depth != 2 || rd->member == 4 || memchr(s, 0, len) ||
        !rp_utf8_valid((const char *)s, len))
        return 0;
    rd->members[rd->member++] = rp_strndup((const char *)s, len);
    return 1;
}

static int recipient_null(void *ctx)
{
    struct recipients_reader *rd = ctx;
    if (rd->depth != 2 || rd->member != 1) /* only the endpoint id may be null */
        return 0;
    rd->member++;
    return 1;
}

static int recipient_start(void *ctx)
{
    struct recipients_reader *rd = ctx;
    if (rd->depth == 2)
        return 0;
    rd->depth++;
    return 1;
}

static int recipient_end(void *ctx)
{
    struct recipients_reader *rd = ctx;
    if (rd->depth-- == 1)
        return 1;
    if (rd->member != 4 || !rd->members[0] || rd->count == RP_QUEUE_SHARED_MAX)
        return 0;
    struct rp_delivery *d = &rd->out[rd->count];
    int rc = rp_delivery_for_recipient(d, &rd->out[0], rd->members[0], rd->members[1],
                                       rd->members[2], rd->members[3]);
    free(rd->members[0]);
    memset(rd->members, 0, sizeof(rd->members)); /* the others are d's now, or freed */
    rd->member = 0;
    if (rc)
        return 0;
    rd->count++;
    return 1;
}

/* Objects: not a recipient list (yajl skips an event without a callback, so objects, booleans
 * and numbers each have one that stops the parse). */
static int recipient_refuse(void *ctx)
{
    (void)ctx;
    return 0;
}

static const yajl_callbacks recipient_callbacks = {
    .yajl_null = recipient_null,
    .yajl_boolean = rp_json_stream_boolean,
    .yajl_number = rp_json_stream_number,
    .yajl_string = recipient_string,
    .yajl_start_map = recipient_refuse,
    .yajl_start_array = recipient_start,
    .yajl_end_array = recipient_end,
};

/* Fills out[1..] from r; returns the deliveries in out (base included), or RP_EINVAL with
 * out[1..] clean. */
static int read_recipients(const char *r, size_t r_len, struct rp_delivery *out)
{
    struct recipients_reader rd = {.out = out, .count = 1};
    rd.scalars.on_scalar = recipient_refuse;
    int ok = rp_json_stream(&recipient_callbacks, &rd, r, r_len) && rd.depth == 0 && rd.count > 1;
    drop_members(&rd);
    if (ok)
        return rd.count;
    for (int i = 1; i < rd.count; i++)
        rp_delivery_cleanup(&out[i]);
    return RP_EINVAL;
}

int rp_queue_entry_decode(const char *d, size_t d_len, const char *r, size_t r_len,
                          struct rp_delivery *out)
{
    json_t *doc = json_loadb(d, d_len, 0, NULL);
    rp_delivery_init(&out[0]);
    int ok = doc && rp_delivery_from_json(&out[0], doc) == 0;
    json_decref(doc);
    if (!ok) {
        rp_delivery_cleanup(&out[0]);
        return RP_EINVAL;
    }
    if (!r)
        return 1;
    int count = read_recipients(r, r_len, out);
    if (count < 0)
        rp_delivery_cleanup(&out[0]);
    return count;
}

int rp_queue_push(struct rp_delivery *const *deliveries, size_t n)
{
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        rp_queue_append(deliveries[i]);
    redisReply *stack[128];
    redisReply **replies = n <= 128 ? stack : rp_malloc(n * sizeof(redisReply *));
    int rc = rp_store_collect(replies, n);
    for (size_t i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            rp_warn("queue", "XADD refused: %s", replies[i]->str);
            rc = RP_ESTORE;
        }
        if (replies[i])
            freeReplyObject(replies[i]);
    }
    if (replies != stack)
        free(replies);
    return rc;
}

int rp_queue_ensure_groups(const char *channel)
{
    for (int s = 0; s < queue_conf.shards; s++) {
        char key[128];
        rp_queue_stream_key(key, channel, s);
        redisReply *r = rp_store_command("XGROUP CREATE %s " RP_QUEUE_GROUP " 0 MKSTREAM", key);
        int ok = r && (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0);
        if (r)
            freeReplyObject(r);
        if (!ok)
            return RP_ESTORE;
    }
    return 0;
}

int64_t rp_queue_backoff_ms(const struct rp_queue_conf *conf, int attempts, int64_t retry_after_ms,
                            uint32_t random)
{
    int64_t delay = conf->retry_base_ms;
    for (int i = 1; i < attempts && delay < conf->retry_max_ms; i++)
        delay *= 2;
    if (delay > conf->retry_max_ms)
        delay = conf->retry_max_ms;
    /* Jitter in [50%, 100%] keeps a burst of failures from retrying in lockstep. */
    delay = delay / 2 + (int64_t)(random % (uint32_t)(delay / 2 + 1));
    return retry_after_ms > delay ? retry_after_ms : delay;
}

/* KEYS[1] retry set, KEYS[2] stream. ARGV[1] now (ms), ARGV[2] max. Moves due members into the
 * stream and removes them from the set in one step, so a retry is never lost or doubled. */
static struct rp_script move_due_script = {.source =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])\n"
    "for _, d in ipairs(due) do\n"
    "  redis.call('XADD', KEYS[2], '*', 'd', d)\n"
    "  redis.call('ZREM', KEYS[1], d)\n"
    "end\n"
    "return #due\n"};

int rp_queue_move_due(const char *channel, int shard, int max)
{
    char retry[128], stream[128], now[24], max_s[16];
    rp_queue_retry_key(retry, channel, shard);
    rp_queue_stream_key(stream, channel, shard);
    snprintf(now, sizeof(now), "%lld", (long long)rp_now_ms());
    snprintf(max_s, sizeof(max_s), "%d", max);
    const char *args[4] = {retry, stream, now, max_s};
    redisReply *r = rp_store_eval(&move_due_script, 2, 4, args, NULL);
    if (!r)
        return RP_ESTORE;
    int rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : RP_ESTORE;
    freeReplyObject(r);
    return rc;
}
