/* Campaign deliveries in the workers (campaign_track.h). */
#include "campaign_track.h"
#include "campaigns.h"
#include "keyspace.h"
#include "store.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 32

struct slot {
    /* The run's ids, compared per delivery instead of formatting its key each time. */
    char app[sizeof(((struct rp_delivery *)0)->app_id)];
    char campaign[sizeof(((struct rp_delivery *)0)->campaign_id)];
    char activity[sizeof(((struct rp_delivery *)0)->campaign_activity_id)];
    int64_t loaded_ms;
    long long gen;
    int state; /* 0 gone, 1 RUNNING, 2 PAUSED, 3 COMPLETED, 4 CANCELLED */
};

static _Thread_local struct slot cache[CACHE_SLOTS];

static int state_code(const char *s)
{
    static const char *const names[] = {"RUNNING", "PAUSED", "COMPLETED", "CANCELLED"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0)
            return i + 1;
    return 0;
}

static int same_run(const struct slot *s, const struct rp_delivery *d)
{
    return s->loaded_ms && strcmp(s->activity, d->campaign_activity_id) == 0 &&
           strcmp(s->campaign, d->campaign_id) == 0 && strcmp(s->app, d->app_id) == 0;
}

static const struct slot *lookup(const struct rp_delivery *d, int *failed)
{
    int64_t now = rp_mono_ms();
    struct slot *s = NULL, *oldest = &cache[0];
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (same_run(&cache[i], d)) {
            s = &cache[i];
            break;
        }
        if (cache[i].loaded_ms < oldest->loaded_ms)
            oldest = &cache[i];
    }
    if (s && now - s->loaded_ms < RP_CAMPAIGN_TRACK_TTL_MS)
        return s;
    char key[RP_KEY_MAX];
    rp_key_campaign_run(key, d->app_id, d->campaign_id, d->campaign_activity_id);
    redisReply *r = rp_store_command("HMGET %s state gen", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        if (r)
            freeReplyObject(r);
        *failed = 1;
        return NULL;
    }
    if (!s)
        s = oldest;
    rp_strcpy_fit(s->app, sizeof(s->app), d->app_id);
    rp_strcpy_fit(s->campaign, sizeof(s->campaign), d->campaign_id);
    rp_strcpy_fit(s->activity, sizeof(s->activity), d->campaign_activity_id);
    s->loaded_ms = now;
    s->state = r->element[0]->type == REDIS_REPLY_STRING ? state_code(r->element[0]->str) : 0;
    s->gen = r->element[1]->type == REDIS_REPLY_STRING ? strtoll(r->element[1]->str, NULL, 10) : 0;
    freeReplyObject(r);
    return s;
}

enum rp_campaign_verdict rp_campaign_track_verdict(const struct rp_delivery *d)
{
    if (!d->campaign_id[0] || !d->campaign_activity_id[0])
        return RP_CAMPAIGN_SEND;
    int failed = 0;
    const struct slot *s = lookup(d, &failed);
    if (failed)
        return RP_CAMPAIGN_SEND;
    switch (s->state) {
    case 1: /* RUNNING */
    case 3: /* COMPLETED: a delivery of the last generation finishing late */
        return s->gen == d->campaign_gen ? RP_CAMPAIGN_SEND : RP_CAMPAIGN_WITHDRAW;
    case 2: /* PAUSED */
        return RP_CAMPAIGN_WITHDRAW;
    default:
        return RP_CAMPAIGN_DROP;
    }
}

/* KEYS[1] the run, KEYS[2] the count's marker (under the run's hash tag); ARGV field, count,
 * the marker's lifetime (ms). */
static struct rp_script count_once_script = {.source =
    "if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[3]) then\n"
    "  return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])\n"
    "end\n"
    "return 0\n"};

/* Long past any re-send of a batch (seconds), short enough that markers do not pile up. */
#define MARKER_TTL_MS "600000"

void rp_campaign_counts_begin(struct rp_campaign_counts *c, const char *token)
{
    snprintf(c->token, sizeof(c->token), "%s", token);
    c->seq = 0;
    c->script_queued = 0;
}

static size_t append_count_once(struct rp_campaign_counts *c, const char *key, const char *field,
                                long count)
{
    size_t queued = 0;
    if (!c->script_queued) {
        queued += rp_store_append_script_load(&count_once_script);
        c->script_queued = 1;
    }
    char marker[RP_KEY_MAX + 64], n[24];
    snprintf(marker, sizeof(marker), "%s:once:%s:%u", key, c->token, c->seq++);
    snprintf(n, sizeof(n), "%ld", count);
    const char *argv[] = {"EVALSHA", rp_store_script_sha(&count_once_script), "2", key, marker,
                          field, n, MARKER_TTL_MS};
    rp_store_appendv(8, argv, NULL);
    return queued + 1;
}

size_t rp_campaign_track_append_withdrawn(struct rp_campaign_counts *c,
                                          const struct rp_delivery *d)
{
    if (!d->campaign_id[0] || !d->campaign_activity_id[0])
        return 0;
    char key[RP_KEY_MAX], wd[RP_KEY_MAX];
    rp_key_campaign_run(key, d->app_id, d->campaign_id, d->campaign_activity_id);
    rp_key_campaign_withdrawn(wd, d->app_id, d->campaign_id, d->campaign_activity_id);
    /* The set first: a scheduler that sees wdn grow finds the endpoint in it. */
    rp_store_append("SADD %s %s", wd, d->endpoint_id ? d->endpoint_id : "");
    return 1 + append_count_once(c, key, "wdn", 1);
}

size_t rp_campaign_track_append_results(struct rp_campaign_counts *c, const struct rp_delivery *d,
                                        enum rp_delivery_status st, long count)
{
    if (!d->campaign_id[0] || !d->campaign_activity_id[0])
        return 0;
    char key[RP_KEY_MAX], field[48];
    rp_key_campaign_run(key, d->app_id, d->campaign_id, d->campaign_activity_id);
    snprintf(field, sizeof(field), "st:%s", rp_delivery_status_name(st));
    return append_count_once(c, key, field, count);
}

int rp_campaign_track_same_run(const struct rp_delivery *a, const struct rp_delivery *b)
{
    return strcmp(a->campaign_activity_id, b->campaign_activity_id) == 0 &&
           strcmp(a->campaign_id, b->campaign_id) == 0 && strcmp(a->app_id, b->app_id) == 0;
}
