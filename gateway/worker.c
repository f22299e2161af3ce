#include "worker.h"
#include "campaign_track.h"
#include "channel_store.h"
#include "channels/channel.h"
#include "config.h"
#include "endpoint_store.h"
#include "events.h"
#include "json_write.h"
#include "limiter.h"
#include "metrics.h"
#include "log.h"
#include "queue.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHANNELS 16
#define MAX_STREAMS 512
#define READ_BLOCK_MS 50
#define FULL_WINDOW_BLOCK_MS "2"
/* With a Redis Cluster: the pause between polls of empty streams (no BLOCK across slots). */
#define CLUSTER_POLL_MS 5
#define MAINTENANCE_MS 250
#define SETTINGS_TTL_MS 2000
#define REPLY_TTL_MS 60000
/* A delivery waiting this long or less for a rate-limit token waits in the reader's memory (its
 * entry stays pending, so a crash loses nothing); longer waits go to the retry set. */
#define HOLD_MAX_MS 1000
#define DLQ_MAXLEN 1000000

/* What the writer does with a finished job. */
enum outcome {
    OUTCOME_FINAL,
    OUTCOME_RETRY,
    OUTCOME_RESCHEDULE,
    OUTCOME_DEAD,
    OUTCOME_WITHDRAWN, /* a campaign delivery whose run stopped: acknowledged unsent */
};

/* A stream entry, shared by the jobs of its deliveries (one, or up to RP_QUEUE_SHARED_MAX
 * that share a message): acknowledged when the last of them is recorded, freed with the last. */
struct queue_entry {
    char stream[128];
    char id[48];
    atomic_int unrecorded;
    atomic_int refs;
};

struct job {
    struct rp_send send;
    struct rp_delivery delivery;
    int parsed;                 /* delivery decoded */
    struct queue_entry *entry;
    int acks_entry;             /* the entry's last job to be recorded: acknowledges it */
    int channel_index;
    json_t *settings;           /* owned */
    enum outcome outcome;
    int64_t due_ms;             /* retry / reschedule time */
    int attempted;              /* a provider attempt happened (an event is due) */
    int withdraw_recorded;      /* OUTCOME_WITHDRAWN: its run will queue the endpoint again */
    int64_t started_us;         /* monotonic, when the attempt was handed to the channel */
    struct job *next;
};

struct settings_cache_entry {
    char app[40];
    int channel_index;
    int64_t loaded_ms;
    json_t *settings;           /* owned; NULL = not configured */
};

struct unit {
    int index;
    char consumer[128];
    pthread_t reader, loop, writer;
    struct event_base *base;
    struct event *notify;
    void *transports[MAX_CHANNELS];

    pthread_mutex_t lock;
    pthread_cond_t done_cond;
    struct job *to_send;        /* reader -> loop */
    struct job *done;           /* loop and reader -> writer */
    struct job *held;           /* reader only: waiting for rate-limit tokens */
    /* Entries this unit is working on ("<id>@<stream>"), so its own XAUTOCLAIM, which takes
     * every entry idle past the visibility timeout whoever holds it, does not start a second
     * copy of a delivery still in flight here. Guarded by lock. */
    json_t *working;
    int64_t held_due_ms;        /* earliest due time in held */
    /* Deliveries held for tokens or at a channel: in total (shutdown waits for them) and per
     * channel. queue.in_flight bounds each channel on its own, so a provider that stalls fills
     * only its channel's window while the reader keeps reading the others. */
    atomic_int in_flight;
    atomic_int channel_in_flight[MAX_CHANNELS];
    atomic_int stop_reading;
    atomic_int stop_loop;
    atomic_int stop_writing;
    /* Monotonic times the loop and the reader last came round, for readiness probes. */
    _Atomic int64_t loop_beat_ms, reader_beat_ms;

    struct rp_json_text event_text; /* writer only: each event's text, reused */
    /* Deliveries per queue entry in recent reads, times 16 (reader only). */
    int per_entry_x16;
    struct settings_cache_entry cache[64];
    char autoclaim_cursor[MAX_STREAMS][48];
};

static const struct rp_config *worker_cfg;
static const struct rp_channel_ops *served[MAX_CHANNELS];
static int n_served;
static struct unit *units;
static int n_units;
static int in_flight_cap;

/* ---- small helpers ------------------------------------------------------------------------ */

static void push(struct unit *u, struct job **list, struct job *j, int signal_writer)
{
    pthread_mutex_lock(&u->lock);
    j->next = *list;
    *list = j;
    if (signal_writer)
        pthread_cond_signal(&u->done_cond);
    pthread_mutex_unlock(&u->lock);
}

static void in_flight_add(struct unit *u, const struct job *j, int delta)
{
    atomic_fetch_add(&u->in_flight, delta);
    atomic_fetch_add(&u->channel_in_flight[j->channel_index], delta);
}

static struct job *take_all(struct unit *u, struct job **list)
{
    pthread_mutex_lock(&u->lock);
    struct job *all = *list;
    *list = NULL;
    pthread_mutex_unlock(&u->lock);
    return all;
}

static void working_key(const struct queue_entry *e, char *out, size_t size)
{
    snprintf(out, size, "%s@%s", e->id, e->stream);
}

/* Marks an entry as worked on; returns 0 when it already was (a reclaimed copy to drop). */
static int working_add(struct unit *u, const struct queue_entry *e)
{
    char key[200];
    working_key(e, key, sizeof(key));
    pthread_mutex_lock(&u->lock);
    int fresh = json_object_get(u->working, key) == NULL;
    if (fresh)
        json_object_set_new(u->working, key, json_true());
    pthread_mutex_unlock(&u->lock);
    return fresh;
}

static void working_remove(struct unit *u, const struct queue_entry *e)
{
    char key[200];
    working_key(e, key, sizeof(key));
    pthread_mutex_lock(&u->lock);
    json_object_del(u->working, key);
    pthread_mutex_unlock(&u->lock);
}

static void job_free(struct job *j)
{
    if (j->entry && atomic_fetch_sub(&j->entry->refs, 1) == 1)
        free(j->entry);
    rp_delivery_cleanup(&j->delivery);
    rp_delivery_result_cleanup(&j->send.result);
    json_decref(j->settings);
    free(j);
}

static int channel_index(const char *type)
{
    for (int i = 0; i < n_served; i++)
        if (strcmp(served[i]->type, type) == 0)
            return i;
    return -1;
}

/* Finishes a job without a provider attempt (deadline passed, channel off, throttled ...). */
static void finish_now(struct unit *u, struct job *j, enum rp_delivery_status status, int code,
                       const char *message)
{
    rp_delivery_result_set(&j->send.result, status, code, "%s", message);
    j->outcome = OUTCOME_FINAL;
    push(u, &u->done, j, 1);
}

/* ---- reader ------------------------------------------------------------------------------- */

/* Returns the app's settings for the channel from a short-lived cache (borrowed), or NULL when
 * not configured; *failed on store failure. */
static const json_t *cached_settings(struct unit *u, const char *app, int ch, int *failed)
{
    int64_t now = rp_mono_ms();
    struct settings_cache_entry *slot = NULL, *oldest = &u->cache[0];
    for (size_t i = 0; i < sizeof(u->cache) / sizeof(u->cache[0]); i++) {
        struct settings_cache_entry *e = &u->cache[i];
        if (e->loaded_ms && e->channel_index == ch && strcmp(e->app, app) == 0) {
            slot = e;
            break;
        }
        if (e->loaded_ms < oldest->loaded_ms)
            oldest = e;
    }
    if (slot && now - slot->loaded_ms < SETTINGS_TTL_MS)
        return slot->settings;
    if (!slot)
        slot = oldest;
    json_t *settings = NULL;
    int rc = rp_channel_store_load(app, served[ch]->type, &settings);
    if (rc < 0) {
        *failed = 1;
        return NULL;
    }
    json_decref(slot->settings);
    snprintf(slot->app, sizeof(slot->app), "%s", app);
    slot->channel_index = ch;
    slot->loaded_ms = now;
    slot->settings = settings;
    return settings;
}

static struct job *job_new(struct queue_entry *e)
{
    struct job *j = rp_calloc(1, sizeof(*j));
    j->entry = e;
    atomic_fetch_add(&e->refs, 1);
    atomic_fetch_add(&e->unrecorded, 1);
    rp_delivery_init(&j->delivery);
    rp_delivery_result_init(&j->send.result);
    j->channel_index = -1;
    return j;
}

/* Decodes one stream entry into its jobs (at most RP_QUEUE_SHARED_MAX), or one job finished as
 * malformed. Returns how many, or 0 when this unit already works on the entry. */
static size_t jobs_from_entry(struct unit *u, const char *stream, const redisReply *entry,
                              struct job **out)
{
    struct queue_entry *e = rp_calloc(1, sizeof(*e));
    snprintf(e->stream, sizeof(e->stream), "%s", stream);
    snprintf(e->id, sizeof(e->id), "%s", entry->element[0]->str);
    if (!working_add(u, e)) {
        free(e);
        return 0;
    }
    const redisReply *fields = entry->element[1];
    const redisReply *d = NULL, *r = NULL;
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        if (strcmp(fields->element[i]->str, "d") == 0)
            d = fields->element[i + 1];
        else if (strcmp(fields->element[i]->str, "r") == 0)
            r = fields->element[i + 1];
    }
    struct rp_delivery deliveries[RP_QUEUE_SHARED_MAX];
    int n = d ? rp_queue_entry_decode(d->str, d->len, r ? r->str : NULL, r ? r->len : 0,
                                      deliveries)
              : RP_EINVAL;
    if (n <= 0) {
        out[0] = job_new(e); /* a deleted or malformed entry: acknowledged as malformed */
        return 1;
    }
    for (int i = 0; i < n; i++) {
        struct job *j = job_new(e);
        j->delivery = deliveries[i]; /* moved */
        j->parsed = 1;
        j->channel_index = channel_index(j->delivery.channel);
        out[i] = j;
    }
    return (size_t)n;
}

/* Deadline, rate limit and settings checks for a batch; ready jobs go to the loop. */
static void dispatch_batch(struct unit *u, struct job **jobs, size_t n)
{
    int64_t now = rp_now_ms();
    size_t ready = 0;
    for (size_t i = 0; i < n; i++) {
        struct job *j = jobs[i];
        if (!j->parsed || j->channel_index < 0) {
            j->outcome = OUTCOME_DEAD;
            rp_delivery_result_set(&j->send.result, RP_DS_PERMANENT_FAILURE, 0,
                                   "malformed queue entry or a channel this worker does not serve");
            push(u, &u->done, j, 1);
            jobs[i] = NULL;
            continue;
        }
        if (now >= j->delivery.deadline_ms) {
            /* Never sent after its deadline: the waiting request has answered without it. */
            if (j->delivery.origin == RP_ORIGIN_DIRECT)
                finish_now(u, j, RP_DS_TEMPORARY_FAILURE, 0,
                           "not attempted before the request's deadline");
            else {
                rp_delivery_result_set(&j->send.result, RP_DS_TEMPORARY_FAILURE, 0,
                                       "deadline passed before delivery");
                j->outcome = OUTCOME_DEAD;
                push(u, &u->done, j, 1);
            }
            jobs[i] = NULL;
            continue;
        }
        enum rp_campaign_verdict verdict = rp_campaign_track_verdict(&j->delivery);
        if (verdict != RP_CAMPAIGN_SEND) {
            /* Its campaign run was paused, updated or deleted since it was queued. */
            j->outcome = OUTCOME_WITHDRAWN;
            j->withdraw_recorded = verdict == RP_CAMPAIGN_WITHDRAW;
            push(u, &u->done, j, 1);
            jobs[i] = NULL;
            continue;
        }
        jobs[ready++] = j;
    }
    /* Rate limits: one take per (app, channel) group in the batch. */
    for (size_t i = 0; i < ready; i++) {
        struct job *first = jobs[i];
        if (!first || first->due_ms < 0)
            continue;
        /* Copied: the group's first job may itself be handed to the writer thread (and freed
         * there) below, while the rest of the group is still being matched against it. */
        int group_channel = first->channel_index;
        char group_app[sizeof(first->delivery.app_id)];
        memcpy(group_app, first->delivery.app_id, sizeof(group_app));
        char group_channel_type[sizeof(first->delivery.channel)];
        memcpy(group_channel_type, first->delivery.channel, sizeof(group_channel_type));
        int want = 0;
        for (size_t k = i; k < ready; k++)
            if (jobs[k] && jobs[k]->due_ms == 0 && jobs[k]->channel_index == group_channel &&
                strcmp(jobs[k]->delivery.app_id, group_app) == 0)
                want++;
        if (want > RP_LIMITER_MAX_WANT)
            want = RP_LIMITER_MAX_WANT; /* the rest wait for the next batch's tokens */
        int granted = want;
        int64_t wait_ms = 0;
        if (rp_limiter_take(group_app, group_channel_type, want, &granted, &wait_ms) < 0) {
            granted = 0;
            wait_ms = 1000;
        }
        for (size_t k = i; k < ready; k++) {
            struct job *j = jobs[k];
            if (!j || j->due_ms != 0 || j->channel_index != group_channel ||
                strcmp(j->delivery.app_id, group_app) != 0)
                continue;
            if (granted > 0) {
                granted--;
                j->due_ms = -1; /* cleared to send */
                continue;
            }
            int64_t due = now + (wait_ms > 0 ? wait_ms : 1);
            rp_metrics_channel_count(RP_MCC_RATE_LIMIT_WAITS, j->delivery.channel);
            if (due >= j->delivery.deadline_ms && j->delivery.origin == RP_ORIGIN_DIRECT) {
                finish_now(u, j, RP_DS_THROTTLED, 429,
                           "MessagesPerSecond limit reached before the request's deadline");
            } else if (due - now <= HOLD_MAX_MS) {
                j->due_ms = due;
                j->next = u->held;
                u->held = j;
                if (!u->held_due_ms || due < u->held_due_ms)
                    u->held_due_ms = due;
                in_flight_add(u, j, 1);
            } else {
                j->outcome = OUTCOME_RESCHEDULE;
                j->due_ms = due;
                push(u, &u->done, j, 1);
            }
            jobs[k] = NULL;
        }
    }
    int sent = 0;
    for (size_t i = 0; i < ready; i++) {
        struct job *j = jobs[i];
        if (!j)
            continue;
        j->due_ms = 0;
        int failed = 0;
        const json_t *settings = cached_settings(u, j->delivery.app_id, j->channel_index, &failed);
        if (failed) {
            j->outcome = OUTCOME_RESCHEDULE;
            j->due_ms = now + 1000;
            push(u, &u->done, j, 1);
            continue;
        }
        if (!settings || !rp_channel_settings_enabled(settings)) {
            char msg[128];
            snprintf(msg, sizeof(msg), "the %s channel is not %s for this application",
                     j->delivery.channel, settings ? "enabled" : "configured");
            finish_now(u, j, RP_DS_PERMANENT_FAILURE, 400, msg);
            continue;
        }
        j->settings = json_incref((json_t *)settings);
        in_flight_add(u, j, 1);
        push(u, &u->to_send, j, 0);
        sent++;
    }
    if (sent)
        event_active(u->notify, EV_READ, 0);
}

/* Gives the held deliveries whose wait is over another try at the rate limiter. */
static void release_held(struct unit *u, struct job **jobs, size_t cap)
{
    int64_t now = rp_now_ms();
    struct job *keep = NULL;
    size_t n = 0;
    u->held_due_ms = 0;
    for (struct job *j = u->held; j;) {
        struct job *next = j->next;
        j->next = NULL;
        if (j->due_ms <= now && n < cap) {
            j->due_ms = 0;
            jobs[n++] = j;
            in_flight_add(u, j, -1);
        } else {
            j->next = keep;
            keep = j;
            if (!u->held_due_ms || j->due_ms < u->held_due_ms)
                u->held_due_ms = j->due_ms;
        }
        j = next;
    }
    u->held = keep;
    if (n)
        dispatch_batch(u, jobs, n);
}

/* Collects the entries of an XREADGROUP / XAUTOCLAIM reply (array of [stream, entries]). */
static size_t collect_entries(struct unit *u, const redisReply *streams, struct job **jobs,
                              size_t cap)
{
    size_t n = 0;
    for (size_t s = 0; s < streams->elements; s++) {
        const redisReply *pair = streams->element[s];
        if (pair->type != REDIS_REPLY_ARRAY || pair->elements < 2)
            continue;
        const redisReply *entries = pair->element[1];
        size_t read = 0, before = n;
        for (size_t e = 0; e < entries->elements && n + RP_QUEUE_SHARED_MAX <= cap; e++)
            if (entries->element[e]->type == REDIS_REPLY_ARRAY &&
                entries->element[e]->elements == 2)
            {
                n += jobs_from_entry(u, pair->element[0]->str, entries->element[e], jobs + n);
                read++;
            }
        if (read && n > before) {
            u->per_entry_x16 = (3 * u->per_entry_x16 + (int)((n - before) * 16 / read)) / 4;
            if (u->per_entry_x16 < 16) /* an entry holds at least one delivery */
                u->per_entry_x16 = 16;
        }
    }
    return n;
}

/* Takes over entries that a dead consumer read and never acknowledged. */
static void reclaim(struct unit *u, struct job **jobs, size_t cap)
{
    const struct rp_queue_conf *qc = rp_queue_conf();
    int stream_no = 0;
    for (int c = 0; c < n_served; c++) {
        for (int s = 0; s < qc->shards && stream_no < MAX_STREAMS; s++, stream_no++) {
            char key[128];
            rp_queue_stream_key(key, served[c]->type, s);
            char *cursor = u->autoclaim_cursor[stream_no];
            if (!cursor[0])
                snprintf(cursor, 48, "0-0");
            redisReply *r = rp_store_command("XAUTOCLAIM %s " RP_QUEUE_GROUP " %s %lld %s COUNT %d",
                                             key, u->consumer,
                                             (long long)qc->visibility_timeout_ms, cursor,
                                             qc->batch);
            if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
                if (r)
                    freeReplyObject(r);
                continue;
            }
            snprintf(cursor, 48, "%s", r->element[0]->str);
            const redisReply *entries = r->element[1];
            size_t n = 0;
            for (size_t e = 0; e < entries->elements && n + RP_QUEUE_SHARED_MAX <= cap; e++)
                if (entries->element[e]->type == REDIS_REPLY_ARRAY &&
                    entries->element[e]->elements == 2)
                {
                    /* A dead consumer's entry; none when it is ours, still in flight here. */
                    size_t taken = jobs_from_entry(u, key, entries->element[e], jobs + n);
                    for (size_t t = 0; t < taken; t++)
                        rp_metrics_channel_count(RP_MCC_RECLAIMED, served[c]->type);
                    n += taken;
                }
            freeReplyObject(r);
            if (n) {
                rp_info("worker", "took over %zu deliveries left unacknowledged on %s", n, key);
                dispatch_batch(u, jobs, n);
            }
        }
    }
}

static void maintenance(struct unit *u, struct job **jobs, size_t cap, int64_t *last_claim)
{
    const struct rp_queue_conf *qc = rp_queue_conf();
    for (int c = 0; c < n_served; c++)
        for (int s = 0; s < qc->shards; s++)
            while (rp_queue_move_due(served[c]->type, s, 1000) == 1000)
                ;
    int64_t now = rp_mono_ms();
    if (now - *last_claim >= qc->visibility_timeout_ms / 4) {
        *last_claim = now;
        reclaim(u, jobs, cap);
    }
}

/* A Redis Cluster spreads the streams over its nodes and refuses one XREADGROUP across slots:
 * one non-blocking read per stream, pipelined (split per node by the store), and a short sleep
 * when all are empty instead of BLOCK. replies has room for one per stream. Returns 1 when a
 * consumer group is missing. */
static int read_each_stream(struct unit *u, const char **keys, int n_streams, const char *count,
                            redisReply **replies, struct job **jobs, size_t cap)
{
    for (int k = 0; k < n_streams; k++)
        rp_store_append("XREADGROUP GROUP " RP_QUEUE_GROUP " %s COUNT %s STREAMS %s >",
                        u->consumer, count, keys[k]);
    int missing_group = 0;
    size_t n = 0;
    if (rp_store_collect(replies, (size_t)n_streams)) {
        usleep(200 * 1000);
        return 0;
    }
    for (int k = 0; k < n_streams; k++) {
        if (replies[k]->type == REDIS_REPLY_ERROR) {
            rp_warn("worker", "XREADGROUP %s: %s", keys[k], replies[k]->str);
            missing_group = 1;
        } else if (replies[k]->type == REDIS_REPLY_ARRAY) {
            n += collect_entries(u, replies[k], jobs + n, cap - n);
        }
        freeReplyObject(replies[k]);
    }
    if (n)
        dispatch_batch(u, jobs, n);
    else if (!u->held)
        usleep(CLUSTER_POLL_MS * 1000);
    return missing_group;
}

static void *reader_main(void *arg)
{
    struct unit *u = arg;
    const struct rp_queue_conf *qc = rp_queue_conf();
    int n_streams = n_served * qc->shards;
    /* XREADGROUP's COUNT applies to each stream: one read returns up to batch per stream. */
    size_t cap = (size_t)qc->batch * (size_t)n_streams * RP_QUEUE_SHARED_MAX;
    struct job **jobs = rp_calloc(cap, sizeof(struct job *));
    const char **argv = rp_calloc(9 + 2 * (size_t)n_streams, sizeof(char *));
    char(*keys)[128] = rp_calloc((size_t)n_streams, sizeof(*keys));
    redisReply **stream_replies = rp_calloc((size_t)n_streams, sizeof(redisReply *));
    char count_s[16], block_s[16];
    snprintf(count_s, sizeof(count_s), "%d", qc->batch);
    snprintf(block_s, sizeof(block_s), "%d", READ_BLOCK_MS);
    int argc = 0;
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = RP_QUEUE_GROUP;
    argv[argc++] = u->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count_s;
    argv[argc++] = "BLOCK";
    argv[argc++] = block_s;
    argv[argc++] = "STREAMS";
    const int first_key = argc;
    for (int c = 0, k = 0; c < n_served; c++)
        for (int s = 0; s < qc->shards; s++, k++)
            rp_queue_stream_key(keys[k], served[c]->type, s);

    int groups_ready = 0;
    int64_t last_maintenance = 0, last_claim = 0;
    while (!atomic_load(&u->stop_reading)) {
        atomic_store(&u->reader_beat_ms, rp_mono_ms());
        if (!groups_ready) {
            groups_ready = 1;
            for (int c = 0; c < n_served; c++)
                if (rp_queue_ensure_groups(served[c]->type))
                    groups_ready = 0;
            if (!groups_ready) {
                usleep(200 * 1000);
                continue;
            }
        }
        int64_t now = rp_mono_ms();
        if (now - last_maintenance >= MAINTENANCE_MS) {
            last_maintenance = now;
            maintenance(u, jobs, cap, &last_claim);
        }
        if (u->held && rp_now_ms() >= u->held_due_ms)
            release_held(u, jobs, cap);
        /* Only the streams of channels with room in their in-flight window are read, and no
         * more entries of each than the smallest room holds at the deliveries per entry lately
         * read (1 for direct sends, up to RP_QUEUE_SHARED_MAX for a campaign's shared entries),
         * so one read adds about as much beyond a window with shared entries as without. */
        int n_open = 0, room = in_flight_cap;
        for (int c = 0, k = 0; c < n_served; c++, k += qc->shards) {
            int free_slots = in_flight_cap - atomic_load(&u->channel_in_flight[c]);
            if (free_slots <= 0)
                continue;
            if (free_slots < room)
                room = free_slots;
            for (int s = 0; s < qc->shards; s++)
                argv[first_key + n_open++] = keys[k + s];
        }
        if (n_open == 0) {
            usleep(2000);
            continue;
        }
        int count = room * 16 / u->per_entry_x16;
        snprintf(count_s, sizeof(count_s), "%d",
                 count < 1 ? 1 : count > qc->batch ? qc->batch : count);
        if (rp_store_is_cluster()) {
            if (read_each_stream(u, argv + first_key, n_open, count_s, stream_replies, jobs, cap))
                groups_ready = 0;
            continue;
        }
        for (int k = 0; k < n_open; k++)
            argv[first_key + n_open + k] = ">";
        argc = first_key + 2 * n_open;
        /* While deliveries wait for tokens, poll instead of blocking so they are not late; while
         * a channel's window is full, block only as long as the reader would sleep, since its
         * slots free up without an XADD to end the block and it must come back for them. */
        argv[7] = u->held ? "1" : n_open < n_streams ? FULL_WINDOW_BLOCK_MS : block_s;
        redisReply *r = rp_store_commandv(argc, argv, NULL);
        if (!r) {
            usleep(200 * 1000);
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            /* NOGROUP after a Redis restart without the AOF: recreate the groups. */
            rp_warn("worker", "XREADGROUP: %s", r->str);
            groups_ready = 0;
            freeReplyObject(r);
            usleep(200 * 1000);
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY) {
            size_t n = collect_entries(u, r, jobs, cap);
            if (n)
                dispatch_batch(u, jobs, n);
        }
        freeReplyObject(r);
    }
    /* Deliveries still waiting for tokens go to the retry set, due now, for whoever reads
     * next: an entry is acknowledged only when all its deliveries are recorded, and left
     * pending it would be sent again whole, siblings already sent included. */
    int64_t now = rp_now_ms();
    while (u->held) {
        struct job *j = u->held;
        u->held = j->next;
        in_flight_add(u, j, -1);
        j->outcome = OUTCOME_RESCHEDULE;
        j->due_ms = now;
        push(u, &u->done, j, 1);
    }
    free(keys);
    free(stream_replies);
    free(argv);
    free(jobs);
    for (size_t i = 0; i < sizeof(u->cache) / sizeof(u->cache[0]); i++)
        json_decref(u->cache[i].settings);
    rp_store_thread_close();
    return NULL;
}

/* ---- loop --------------------------------------------------------------------------------- */

static void on_send_complete(struct rp_send *send)
{
    struct job *j = (struct job *)send; /* send is the first member */
    struct unit *u = send->worker_data;
    j->attempted = 1;
    push(u, &u->done, j, 1);
}

static void on_notify(evutil_socket_t fd, short what, void *arg)
{
    struct unit *u = arg;
    struct job *list = take_all(u, &u->to_send);
    while (list) {
        struct job *j = list;
        list = list->next;
        j->next = NULL;
        const struct rp_channel_ops *ch = served[j->channel_index];
        if (!u->transports[j->channel_index])
            u->transports[j->channel_index] = rp_channel_transport_new(ch, u->base, worker_cfg);
        j->send.delivery = &j->delivery;
        j->send.settings = j->settings;
        j->send.on_complete = on_send_complete;
        j->started_us = rp_mono_us();
        j->send.worker_data = u;
        if (!u->transports[j->channel_index]) {
            rp_delivery_result_set(&j->send.result, RP_DS_TEMPORARY_FAILURE, 0,
                                   "the %s transport could not start", ch->type);
            rp_send_complete(&j->send);
            continue;
        }
        rp_channel_send(ch, u->transports[j->channel_index], &j->send);
    }
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct unit *u = arg;
    atomic_store(&u->loop_beat_ms, rp_mono_ms());
    if (atomic_load(&u->stop_loop))
        event_base_loopbreak(u->base);
}

static void *loop_main(void *arg)
{
    struct unit *u = arg;
    struct event *tick = event_new(u->base, -1, EV_PERSIST, on_tick, u);
    struct timeval tv = {0, 50000};
    event_add(tick, &tv);
    event_base_dispatch(u->base);
    event_free(tick);
    for (int c = 0; c < n_served; c++)
        if (u->transports[c])
            rp_channel_transport_free(served[c], u->transports[c]);
    return NULL;
}

/* ---- writer ------------------------------------------------------------------------------- */

/* Decides what happens to an attempted job. */
static void classify(struct job *j)
{
    if (!j->attempted)
        return;
    const struct rp_queue_conf *qc = rp_queue_conf();
    struct rp_delivery *d = &j->delivery;
    struct rp_delivery_result *r = &j->send.result;
    rp_metrics_delivery(d->channel, r->status, (double)(rp_mono_us() - j->started_us) / 1e6);
    d->attempts++;
    if (!rp_delivery_status_retryable(r->status)) {
        j->outcome = OUTCOME_FINAL;
        return;
    }
    uint32_t rnd;
    rp_random_bytes(&rnd, sizeof(rnd));
    int64_t due = rp_now_ms() + rp_queue_backoff_ms(qc, d->attempts, r->retry_after_ms, rnd);
    if (d->attempts >= qc->max_attempts || due >= d->deadline_ms) {
        /* Out of attempts or time: a direct send answers its last result; a campaign delivery
         * goes to the dead letters with it. */
        j->outcome = d->origin == RP_ORIGIN_DIRECT ? OUTCOME_FINAL : OUTCOME_DEAD;
        if (j->outcome == OUTCOME_DEAD)
            rp_metrics_channel_count(RP_MCC_DEAD_LETTERS, d->channel);
        return;
    }
    j->outcome = OUTCOME_RETRY;
    j->due_ms = due;
    rp_metrics_channel_count(RP_MCC_RETRIES, d->channel);
}

static json_t *result_json(const struct job *j)
{
    const struct rp_delivery_result *r = &j->send.result;
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:s, s:s}", "rq", j->delivery.request_id, "key",
                          j->delivery.recipient_key ? j->delivery.recipient_key : "", "st",
                          rp_delivery_status_name(r->status), "code", r->status_code, "msg",
                          r->status_message, "id", j->delivery.message_id);
    if (r->message_id[0])
        json_object_set_new(o, "mid", json_string(r->message_id));
    if (r->updated_token[0])
        json_object_set_new(o, "tok", json_string(r->updated_token));
    if (j->delivery.endpoint_id)
        json_object_set_new(o, "ep", json_string(j->delivery.endpoint_id));
    return o;
}

/* Queues the commands recording one job; returns how many replies to collect. */
static size_t append_job(struct job *j, struct rp_campaign_counts *counts,
                         struct rp_json_text *event_text)
{
    size_t queued = 0;
    char *text;
    if (j->outcome == OUTCOME_WITHDRAWN)
        return j->withdraw_recorded ? rp_campaign_track_append_withdrawn(counts, &j->delivery)
                                    : 0;
    if (j->attempted || j->outcome == OUTCOME_FINAL || j->outcome == OUTCOME_DEAD) {
        if (j->parsed)
            queued += (size_t)rp_events_append_result_pipelined(event_text, &j->delivery,
                                                                &j->send.result, rp_now_ms());
    }
    if (j->outcome == OUTCOME_RETRY || j->outcome == OUTCOME_RESCHEDULE) {
        char key[128];
        rp_queue_retry_key(key, j->delivery.channel, rp_queue_shard_of(j->delivery.message_id));
        json_t *doc = rp_delivery_to_json(&j->delivery);
        text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        rp_store_append("ZADD %s %lld %s", key, (long long)j->due_ms, text);
        queued++;
        free(text);
    }
    if (j->outcome == OUTCOME_DEAD) {
        json_t *doc = j->parsed ? rp_delivery_to_json(&j->delivery) : json_object();
        text = json_dumps(doc, JSON_COMPACT);
        json_decref(doc);
        json_t *res = result_json(j);
        char *res_text = json_dumps(res, JSON_COMPACT);
        json_decref(res);
        rp_store_append("XADD " RP_QUEUE_DLQ " MAXLEN ~ %d * d %s r %s app %s", DLQ_MAXLEN, text,
                        res_text, j->parsed ? j->delivery.app_id : "");
        queued++;
        free(text);
        free(res_text);
    }
    return queued;
}

/* What append_grouped batches: the key a job contributes to (NULL: none) and its value. */
struct grouping {
    const char *(*key)(const struct job *j);
    char *(*value)(const struct job *j); /* owned result, or NULL to use the entry id */
};

static const char *reply_key(const struct job *j)
{
    return (j->outcome == OUTCOME_FINAL || j->outcome == OUTCOME_DEAD) && j->delivery.reply_to[0]
               ? j->delivery.reply_to
               : NULL;
}

static char *reply_text(const struct job *j)
{
    json_t *res = result_json(j);
    char *text = json_dumps(res, JSON_COMPACT);
    json_decref(res);
    return text;
}

static const char *stream_key(const struct job *j)
{
    return j->acks_entry ? j->entry->stream : NULL;
}

/* Queues one variadic command per distinct key over the batch, "CMD key [extra] value...", and
 * a PEXPIRE of the key after it when expire_ms > 0. Returns the commands queued. */
static size_t append_grouped(const struct job *list, size_t n, const struct grouping *g,
                             const char *cmd, const char *extra, int expire_ms)
{
    size_t queued = 0;
    const char **argv = rp_calloc(n + 3, sizeof(char *));
    char **owned = rp_calloc(n, sizeof(char *));
    const char **keys = rp_calloc(n, sizeof(char *));
    size_t n_keys = 0;
    for (const struct job *j = list; j; j = j->next) {
        const char *key = g->key(j);
        size_t k = 0;
        while (key && k < n_keys && strcmp(keys[k], key) != 0)
            k++;
        if (!key || k < n_keys)
            continue; /* no key, or this key's command is already queued */
        keys[n_keys++] = key;
        int argc = 0;
        size_t n_owned = 0;
        argv[argc++] = cmd;
        argv[argc++] = key;
        if (extra)
            argv[argc++] = extra;
        for (const struct job *o = j; o; o = o->next) {
            const char *okey = g->key(o);
            if (!okey || strcmp(okey, key) != 0)
                continue;
            char *v = g->value ? g->value(o) : NULL;
            if (v)
                owned[n_owned++] = v;
            argv[argc++] = v ? v : o->entry->id;
        }
        rp_store_appendv(argc, argv, NULL);
        queued++;
        for (size_t i = 0; i < n_owned; i++)
            free(owned[i]);
        if (expire_ms > 0) {
            rp_store_append("PEXPIRE %s %d", key, expire_ms);
            queued++;
        }
    }
    free(keys);
    free(owned);
    free(argv);
    return queued;
}

/* Queues every command recording a batch of n jobs; returns how many replies to collect. One
 * LPUSH per reply list and one XACK and one XDEL per stream, instead of one of each per job. */
static int counts_for_its_run(const struct job *j)
{
    return j->parsed && j->delivery.campaign_activity_id[0] &&
           (j->outcome == OUTCOME_FINAL || j->outcome == OUTCOME_DEAD);
}

/* Campaign runs count final results by status: one HINCRBY for each stretch of the batch with
 * one run and one status (a campaign's batch is mostly that), not one per delivery. */
static size_t append_run_counts(const struct job *list, struct rp_campaign_counts *counts)
{
    size_t queued = 0;
    for (const struct job *j = list; j;) {
        const struct job *k = j->next;
        if (counts_for_its_run(j)) {
            long count = 1;
            for (; k && counts_for_its_run(k) && k->send.result.status == j->send.result.status &&
                   rp_campaign_track_same_run(&k->delivery, &j->delivery);
                 k = k->next)
                count++;
            queued += rp_campaign_track_append_results(counts, &j->delivery,
                                                       j->send.result.status, count);
        }
        j = k;
    }
    return queued;
}

/* token: the batch's, the same each time the batch is sent (campaign_track.h). */
static size_t append_batch(struct unit *u, struct job *list, size_t n, const char *token)
{
    static const struct grouping replies = {reply_key, reply_text};
    static const struct grouping entries = {stream_key, NULL};
    struct rp_campaign_counts counts;
    rp_campaign_counts_begin(&counts, token);
    size_t queued = 0;
    for (struct job *j = list; j; j = j->next)
        queued += append_job(j, &counts, &u->event_text);
    queued += append_run_counts(list, &counts);
    queued += append_grouped(list, n, &replies, "LPUSH", NULL, REPLY_TTL_MS);
    /* Acknowledge last: a crash before this point redelivers rather than loses. */
    queued += append_grouped(list, n, &entries, "XACK", RP_QUEUE_GROUP, 0);
    queued += append_grouped(list, n, &entries, "XDEL", NULL, 0);
    return queued;
}

/* The line that ties a delivery to the API request that queued it: the request's lines carry
 * request_id, the channel's carry the message id, this one carries both. */
static void log_recorded(const struct job *j)
{
    static const char *const outcomes[] = {"final", "retry", "reschedule", "dead", "withdrawn"};
    _Static_assert(sizeof(outcomes) / sizeof(outcomes[0]) == OUTCOME_WITHDRAWN + 1,
                   "one name per outcome");
    if (RP_LOG_DEBUG < rp_log_min_level || !j->parsed)
        return;
    rp_log_set_request_id(j->delivery.request_id[0] ? j->delivery.request_id : NULL);
    rp_debug("worker", "msg=recorded id=%s channel=%s outcome=%s status=%s attempts=%d",
             j->delivery.message_id, j->delivery.channel, outcomes[j->outcome],
             rp_delivery_status_name(j->send.result.status), j->delivery.attempts);
    rp_log_set_request_id(NULL);
}

/* How long the writer keeps sending again the commands of a batch that Redis refuses for a
 * while (full, busy with a script, loading after a restart, failing over). The entries stay
 * pending and the unit's window full meanwhile: no new sends pile up behind a Redis that
 * cannot record them. */
#define REFUSED_RETRY_MS 30000

/* Said at most once a second per thread. */
static void warn_refused(const char *what, size_t refused, size_t n, const char *reason)
{
    static _Thread_local int64_t last_ms;
    int64_t now = rp_mono_ms();
    if (now - last_ms < 1000)
        return;
    last_ms = now;
    rp_warn("worker", "Redis refused %zu of the %zu commands recording a batch, %s: %s", refused,
            n, what, reason);
}

/* The batch's replies are in (n, owned, freed here). Commands Redis refused for now are sent
 * again (their captured text) with backoff for up to REFUSED_RETRY_MS; what is still refused
 * then, or refused for good, is lost: an event, or an acknowledgement (the entry is then
 * delivered again). */
static void send_refused_again(struct unit *u, redisReply **replies, size_t n)
{
    size_t *again = NULL, n_again = 0, lost = 0;
    char reason[128] = "";
    for (size_t i = 0; i < n; i++) {
        if (replies[i] && replies[i]->type == REDIS_REPLY_ERROR) {
            if (!reason[0])
                snprintf(reason, sizeof(reason), "%s", replies[i]->str);
            if (rp_reply_refused_for_now(replies[i])) {
                if (!again)
                    again = rp_malloc(n * sizeof(*again));
                again[n_again++] = i;
            } else {
                lost++;
            }
        }
        freeReplyObject(replies[i]);
    }
    if (n_again)
        warn_refused("sending them again", n_again + lost, n, reason);
    int64_t start = rp_mono_ms();
    useconds_t backoff_us = 50 * 1000;
    while (n_again && atomic_load(&u->stop_writing) <= 1 &&
           rp_mono_ms() - start < REFUSED_RETRY_MS) {
        usleep(backoff_us);
        backoff_us = backoff_us * 2 > 1000 * 1000 ? 1000 * 1000 : backoff_us * 2;
        for (size_t k = 0; k < n_again; k++)
            rp_store_append_captured(again[k]);
        if (rp_store_collect(replies, n_again))
            continue; /* the connection went: the same commands next time */
        size_t still = 0, lost_before = lost;
        for (size_t k = 0; k < n_again; k++) {
            if (rp_reply_refused_for_now(replies[k])) {
                snprintf(reason, sizeof(reason), "%s", replies[k]->str);
                again[still++] = again[k];
            } else if (replies[k]->type == REDIS_REPLY_ERROR) {
                lost++;
            }
            freeReplyObject(replies[k]);
        }
        if (still == 0 && lost == lost_before)
            rp_info("worker", "Redis took the refused commands of a batch after %lld ms",
                    (long long)(rp_mono_ms() - start));
        n_again = still;
    }
    lost += n_again;
    if (lost)
        warn_refused("lost (events or acknowledgements; unacknowledged entries are delivered "
                     "again)", lost, n, reason);
    free(again);
}

/* Records a batch; retries until Redis takes it (the entries stay pending meanwhile). */
static void record_batch(struct unit *u, struct job *list)
{
    size_t count = 0;
    for (struct job *j = list; j; j = j->next) {
        classify(j);
        j->acks_entry = atomic_fetch_sub(&j->entry->unrecorded, 1) == 1;
        count++;
    }
    unsigned char raw[8];
    char token[17];
    rp_random_bytes(raw, sizeof(raw));
    rp_hex(raw, sizeof(raw), token);
    redisReply **replies = NULL;
    size_t cap = 0;
    for (;;) {
        rp_store_capture(1);
        size_t queued = append_batch(u, list, count, token);
        if (queued > cap) {
            cap = queued;
            replies = rp_realloc(replies, cap * sizeof(redisReply *));
        }
        if (rp_store_collect(replies, queued) == 0) {
            rp_store_capture(0);
            send_refused_again(u, replies, queued);
            break;
        }
        if (atomic_load(&u->stop_writing) > 1)
            break; /* shutting down with Redis gone: the entries stay pending for others */
        usleep(200 * 1000);
    }
    rp_store_capture(0);
    free(replies);
    for (struct job *j = list; j;) {
        struct job *next = j->next;
        const struct rp_delivery_result *r = &j->send.result;
        log_recorded(j);
        if (j->attempted && r->address_dead && j->delivery.endpoint_id)
            rp_endpoint_store_deactivate(j->delivery.app_id, j->delivery.endpoint_id,
                                         j->delivery.address, r->dead_since_ms);
        else if (j->attempted && r->updated_token[0] && j->delivery.endpoint_id)
            rp_endpoint_store_replace_address(j->delivery.app_id, j->delivery.endpoint_id,
                                              j->delivery.address, r->updated_token);
        if (j->attempted || j->settings)
            in_flight_add(u, j, -1);
        if (j->acks_entry)
            working_remove(u, j->entry);
        job_free(j);
        j = next;
    }
}

static void *writer_main(void *arg)
{
    struct unit *u = arg;
    for (;;) {
        pthread_mutex_lock(&u->lock);
        if (!u->done && !atomic_load(&u->stop_writing)) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 100 * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&u->done_cond, &u->lock, &ts);
        }
        struct job *list = u->done;
        u->done = NULL;
        pthread_mutex_unlock(&u->lock);
        if (list)
            record_batch(u, list);
        else if (atomic_load(&u->stop_writing))
            break;
    }
    rp_store_thread_close();
    return NULL;
}

/* ---- start / stop ------------------------------------------------------------------------- */

static int select_channels(const char *list)
{
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    n_served = 0;
    for (size_t i = 0; i < n && n_served < MAX_CHANNELS; i++) {
        if (list && *list) {
            char needle[64];
            snprintf(needle, sizeof(needle), ",%s,", all[i]->type);
            char hay[512];
            snprintf(hay, sizeof(hay), ",%s,", list);
            if (!strstr(hay, needle))
                continue;
        }
        served[n_served++] = all[i];
    }
    return n_served ? 0 : RP_EINVAL;
}

int rp_workers_start(const struct rp_config *cfg, int count, const char *channels)
{
    worker_cfg = cfg;
    if (count <= 0)
        return 0;
    if (select_channels(channels)) {
        rp_error("worker", "no known channel in '%s'", channels ? channels : "");
        return RP_EINVAL;
    }
    if ((long long)n_served * rp_queue_conf()->shards > MAX_STREAMS)
        return RP_EINVAL;
    evthread_use_pthreads();
    in_flight_cap = (int)rp_config_int(cfg, "queue.in_flight");
    units = rp_calloc((size_t)count, sizeof(*units));
    n_units = count;
    char host[64] = "host";
    gethostname(host, sizeof(host) - 1);
    for (int i = 0; i < count; i++) {
        struct unit *u = &units[i];
        u->index = i;
        u->per_entry_x16 = 16;
        /* Unique per process start: a restarted worker is a new consumer, and what the old one
         * held is reclaimed after the visibility timeout. */
        char nonce[9];
        unsigned char raw[4];
        rp_random_bytes(raw, sizeof(raw));
        rp_hex(raw, sizeof(raw), nonce);
        snprintf(u->consumer, sizeof(u->consumer), "%.40s-%d-%d-%s", host, (int)getpid(), i,
                 nonce);
        pthread_mutex_init(&u->lock, NULL);
        u->working = json_object();
        atomic_store(&u->loop_beat_ms, rp_mono_ms());
        atomic_store(&u->reader_beat_ms, rp_mono_ms());
        pthread_cond_init(&u->done_cond, NULL);
        u->base = event_base_new();
        u->notify = event_new(u->base, -1, EV_READ, on_notify, u);
        if (!u->base || !u->notify)
            return RP_ENOMEM;
        if (pthread_create(&u->loop, NULL, loop_main, u) ||
            pthread_create(&u->writer, NULL, writer_main, u) ||
            pthread_create(&u->reader, NULL, reader_main, u))
            return RP_EIO;
    }
    rp_info("worker", "%d worker unit(s) serving %d channel(s)", count, n_served);
    return 0;
}

int64_t rp_workers_stalled_ms(void)
{
    if (n_units == 0)
        return -1;
    int64_t now = rp_mono_ms(), worst = 0;
    for (int i = 0; i < n_units; i++) {
        int64_t loop = atomic_load(&units[i].loop_beat_ms);
        int64_t reader = atomic_load(&units[i].reader_beat_ms);
        int64_t age = now - (loop < reader ? loop : reader);
        if (age > worst)
            worst = age;
    }
    return worst;
}

void rp_workers_stop(int grace_ms)
{
    for (int i = 0; i < n_units; i++)
        atomic_store(&units[i].stop_reading, 1);
    for (int i = 0; i < n_units; i++)
        pthread_join(units[i].reader, NULL);
    int64_t until = rp_mono_ms() + grace_ms;
    for (int i = 0; i < n_units; i++)
        while (atomic_load(&units[i].in_flight) > 0 && rp_mono_ms() < until)
            usleep(10 * 1000);
    for (int i = 0; i < n_units; i++) {
        atomic_store(&units[i].stop_loop, 1);
        pthread_join(units[i].loop, NULL);
    }
    for (int i = 0; i < n_units; i++) {
        struct unit *u = &units[i];
        pthread_mutex_lock(&u->lock);
        atomic_store(&u->stop_writing, atomic_load(&u->in_flight) > 0 ? 2 : 1);
        pthread_cond_signal(&u->done_cond);
        pthread_mutex_unlock(&u->lock);
        pthread_join(u->writer, NULL);
        /* Sends still in flight were abandoned with the loop: their entries stay pending. */
        struct job *left = take_all(u, &u->to_send);
        while (left) {
            struct job *next = left->next;
            job_free(left);
            left = next;
        }
        json_decref(u->working);
        free(u->event_text.buf);
        event_free(u->notify);
        event_base_free(u->base);
        pthread_mutex_destroy(&u->lock);
        pthread_cond_destroy(&u->done_cond);
    }
    free(units);
    units = NULL;
    n_units = 0;
}
