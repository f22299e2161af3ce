/* MessagesPerSecond per app and channel: the limit lookup (three sources, cached briefly per
 * process) and the token bucket in Redis that every instance draws from. */
#include "limiter.h"
#include "config.h"
#include "http.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"
#include "channels/channel.h"

#include <ctype.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Application ids longer than this never exist (the router answers 404 for them). */
#define APP_MAX     64
#define TYPE_MAX    31
#define CACHE_SLOTS 512

/* The bucket as a token count and the Redis time it was last brought up to date, rather than
 * GCRA's single timestamp: the count stays small, so doubles keep it exact to far below one
 * token even at 1,000,000 per second, where an absolute timestamp in fractional microseconds
 * would not. The two forms hand out the same tokens.
 *   KEYS[1]  the bucket (hash: t = microseconds of Redis TIME, n = tokens, fractional)
 *   ARGV     rate per second, burst (bucket size), tokens wanted
 * Returns {granted, milliseconds until the next token when granted < wanted, else 0}. The key
 * expires once the bucket would be full again: a missing bucket is a full one. */
static struct rp_script take_script = {
    .source = "if redis.replicate_commands then redis.replicate_commands() end\n"
              "local rate = tonumber(ARGV[1])\n"
              "local burst = tonumber(ARGV[2])\n"
              "local want = tonumber(ARGV[3])\n"
              "local t = redis.call('TIME')\n"
              "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
              "local state = redis.call('HMGET', KEYS[1], 't', 'n')\n"
              "local last = tonumber(state[1])\n"
              "local tokens = tonumber(state[2])\n"
              "if last == nil or tokens == nil then\n"
              "  tokens = burst\n"
              "elseif now > last then\n"
              "  tokens = math.min(burst, tokens + (now - last) * rate / 1000000)\n"
              "else\n"
              "  tokens = math.min(burst, tokens)\n"
              "end\n"
              "local granted = math.min(want, math.floor(tokens + 1e-9))\n"
              "if granted < 0 then granted = 0 end\n"
              "tokens = tokens - granted\n"
              "local wait = 0\n"
              "if granted < want then\n"
              "  wait = math.max(1, math.ceil((1 - tokens) * 1000 / rate))\n"
              "end\n"
              "redis.call('HSET', KEYS[1], 't', string.format('%d', now),\n"
              "           'n', string.format('%.17g', tokens))\n"
              "redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) * 1000 / rate) + 1000)\n"
              "return {granted, wait}\n",
};

struct cache_entry {
    char app[APP_MAX + 1];
    char type[TYPE_MAX + 1];
    long per_second;
    int64_t expires_ms; /* monotonic; 0 = empty slot */
};

/* A direct-mapped cache: a colliding pair evicts the other, which only costs a lookup. */
static struct cache_entry cache[CACHE_SLOTS];
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
/* Bumped by every invalidation: a lookup that started before one must not store what it read,
 * since it may have read the value the invalidation replaced. */
static unsigned long cache_generation;

int rp_key_rate_state(char *out, const char *app, const char *type)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:bucket:%s", app, type);
}

int rp_key_rate_override(char *out, const char *app, const char *type)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:limit:%s", app, type);
}

long rp_limiter_burst(long per_second)
{
    if (per_second <= 0)
        return 0;
    return per_second / 10 > 1 ? per_second / 10 : 1;
}

long rp_limit_sources_effective(const struct rp_limit_sources *src)
{
    const long values[] = {src->config, src->application, src->override_value};
    long lowest = 0;
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
        if (values[i] > 0 && (lowest == 0 || values[i] < lowest))
            lowest = values[i];
    return lowest;
}

static int valid_names(const char *app, const char *type)
{
    return app && type && app[0] && type[0] && strlen(app) <= APP_MAX && strlen(type) <= TYPE_MAX;
}

/* limits.<channel>.messages_per_second in cfg, or 0 when the table has no such key (a channel
 * type the config table does not know has no operator ceiling). */
static long key_limit(const struct rp_config *cfg, const char *type)
{
    char name[64];
    int n = snprintf(name, sizeof(name), "limits.");
    for (size_t i = 0; type[i] && (size_t)n + 1 < sizeof(name); i++)
        name[n++] = (char)tolower((unsigned char)type[i]);
    name[n] = '\0';
    if (snprintf(name + n, sizeof(name) - (size_t)n, ".messages_per_second") >=
        (int)(sizeof(name) - (size_t)n))
        return 0;
    size_t count;
    const struct rp_config_key *keys = rp_config_keys(&count);
    for (size_t i = 0; i < count; i++)
        if (strcmp(keys[i].name, name) == 0)
            return (long)rp_config_int(cfg, name);
    return 0;
}

/* The operator ceilings by channel registry index, loaded at start and again on SIGHUP while
 * workers read them. */
static _Atomic long config_limits[RP_CHANNEL_MAX];
static atomic_int config_limits_loaded;

void rp_limiter_load_config(const struct rp_config *cfg)
{
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    for (size_t i = 0; i < n; i++)
        atomic_store(&config_limits[i], key_limit(cfg, all[i]->type));
    atomic_store(&config_limits_loaded, 1);
}

static long config_limit(const char *type)
{
    if (!atomic_load(&config_limits_loaded)) {
        if (!rp_ctx.cfg)
            return 0;
        rp_limiter_load_config(rp_ctx.cfg);
    }
    int i = rp_channel_index(type);
    return i < 0 ? 0 : atomic_load(&config_limits[i]);
}

/* Limits.MessagesPerSecond of the stored settings JSON; 0 when absent or unreadable. */
static long settings_limit(const redisReply *r)
{
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    json_t *settings = json_loadb(r->str, r->len, 0, NULL);
    json_t *v = json_object_get(json_object_get(settings, "Limits"), "MessagesPerSecond");
    long per_second =
        json_is_integer(v) && json_integer_value(v) > 0 ? (long)json_integer_value(v) : 0;
    json_decref(settings);
    return per_second;
}

static long override_limit(const redisReply *r)
{
    if (r->type != REDIS_REPLY_STRING)
        return 0;
    char *end;
    long v = strtol(r->str, &end, 10);
    return *end == '\0' && v > 0 ? v : 0;
}

int rp_limiter_sources(const char *app_id, const char *channel_type, struct rp_limit_sources *src)
{
    memset(src, 0, sizeof(*src));
    if (!valid_names(app_id, channel_type))
        return RP_EINVAL;
    char settings_key[RP_KEY_MAX], override_key[RP_KEY_MAX];
    rp_key_settings(settings_key, app_id);
    rp_key_rate_override(override_key, app_id, channel_type);
    redisReply *replies[2];
    rp_store_append("GET %s", settings_key);
    rp_store_append("GET %s", override_key);
    if (rp_store_collect(replies, 2) < 0)
        return RP_ESTORE;
    int rc = 0;
    if (!rp_reply_ok(replies[0]) || !rp_reply_ok(replies[1])) {
        rc = RP_ESTORE;
    } else {
        src->config = config_limit(channel_type);
        src->application = settings_limit(replies[0]);
        src->override_value = override_limit(replies[1]);
    }
    freeReplyObject(replies[0]);
    freeReplyObject(replies[1]);
    return rc;
}

static size_t cache_slot(const char *app, const char *type)
{
    uint32_t h = rp_fnv1a(app, strlen(app)) ^ (rp_fnv1a(type, strlen(type)) * 16777619u);
    return h % CACHE_SLOTS;
}

int rp_limiter_effective(const char *app_id, const char *channel_type, long *per_second)
{
    *per_second = 0;
    if (!valid_names(app_id, channel_type))
        return RP_EINVAL;
    size_t slot = cache_slot(app_id, channel_type);
    int64_t now = rp_mono_ms();
    pthread_mutex_lock(&cache_lock);
    const struct cache_entry *e = &cache[slot];
    int hit =
        e->expires_ms > now && strcmp(e->app, app_id) == 0 && strcmp(e->type, channel_type) == 0;
    long cached = e->per_second;
    unsigned long generation = cache_generation;
    pthread_mutex_unlock(&cache_lock);
    if (hit) {
        *per_second = cached;
        return 0;
    }

    struct rp_limit_sources src;
    int rc = rp_limiter_sources(app_id, channel_type, &src);
    if (rc < 0)
        return rc;
    *per_second = rp_limit_sources_effective(&src);

    pthread_mutex_lock(&cache_lock);
    if (generation == cache_generation) {
        struct cache_entry *w = &cache[slot];
        memcpy(w->app, app_id, strlen(app_id) + 1);
        memcpy(w->type, channel_type, strlen(channel_type) + 1);
        w->per_second = *per_second;
        w->expires_ms = now + RP_LIMITER_CACHE_MS;
    }
    pthread_mutex_unlock(&cache_lock);
    return 0;
}

void rp_limiter_invalidate(const char *app_id)
{
    pthread_mutex_lock(&cache_lock);
    cache_generation++;
    for (size_t i = 0; i < CACHE_SLOTS; i++)
        if (cache[i].expires_ms && strcmp(cache[i].app, app_id) == 0)
            cache[i].expires_ms = 0;
    pthread_mutex_unlock(&cache_lock);
}

int rp_limiter_set_override(const char *app_id, const char *channel_type, long per_second)
{
    if (!valid_names(app_id, channel_type) ||
        (per_second != 0 &&
         (per_second < RP_LIMITER_OVERRIDE_MIN || per_second > RP_LIMITER_OVERRIDE_MAX)))
        return RP_EINVAL;
    char key[RP_KEY_MAX];
    rp_key_rate_override(key, app_id, channel_type);
    redisReply *r = per_second ? rp_store_command("SET %s %ld", key, per_second)
                               : rp_store_command("DEL %s", key);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    rp_limiter_invalidate(app_id);
    return ok ? 0 : RP_ESTORE;
}

int rp_limiter_take(const char *app_id, const char *channel_type, int want, int *granted,
                    int64_t *wait_ms)
{
    *granted = 0;
    *wait_ms = 0;
    if (want < 1 || want > RP_LIMITER_MAX_WANT)
        return RP_EINVAL;
    long rate;
    int rc = rp_limiter_effective(app_id, channel_type, &rate);
    if (rc < 0)
        return rc;
    if (rate == 0) {
        *granted = want;
        return 0;
    }

    char key[RP_KEY_MAX], rate_s[24], burst_s[24], want_s[16];
    rp_key_rate_state(key, app_id, channel_type);
    /* Refill at 98% of the limit: the provider counts arrivals, and the time between taking a
     * token and the request reaching the provider varies (queueing, connection setup, GC on
     * their side); the 2% margin keeps those jitters from adding up to more than the limit
     * plus one burst in the provider's own window. */
    snprintf(rate_s, sizeof(rate_s), "%.3f", (double)rate * RP_LIMITER_PACING);
    snprintf(burst_s, sizeof(burst_s), "%ld", rp_limiter_burst(rate));
    snprintf(want_s, sizeof(want_s), "%d", want);
    const char *args[] = {key, rate_s, burst_s, want_s};
    redisReply *r = rp_store_eval(&take_script, 1, 4, args, NULL);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        if (r && r->type == REDIS_REPLY_ERROR)
            rp_warn("limiter", "token script failed: %.160s", r->str);
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    long long got = r->element[0]->integer, wait = r->element[1]->integer;
    freeReplyObject(r);
    *granted = got < 0 ? 0 : got > want ? want : (int)got;
    *wait_ms = *granted < want ? (wait > 0 ? wait : 1) : 0;
    return 0;
}
