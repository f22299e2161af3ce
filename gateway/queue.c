#include "queue.h"
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

void rp_queue_append(const struct rp_delivery *d)
{
    char key[128];
    rp_queue_stream_key(key, d->channel, rp_queue_shard_of(d->message_id));
    json_t *doc = rp_delivery_to_json(d);
    size_t len = 0;
    char *text = rp_json_dump(doc, &len);
    json_decref(doc);
    const char *argv[5] = {"XADD", key, "*", "d", text};
    size_t lens[5] = {4, strlen(key), 1, 1, len};
    rp_store_appendv(5, argv, lens);
    free(text);
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
