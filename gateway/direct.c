#include "direct.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DRAIN_BATCH 500

struct rp_waiter {
    char request_id[48];
    struct rp_direct_result *results;
    size_t n, pending;
    int64_t deadline_ms;
    struct rp_request *req; /* set when armed */
    int armed;
    rp_direct_answer_fn answer;
    void *ctx;
    void (*ctx_free)(void *);
    struct rp_waiter *next;
};

static char reply_key[64];
static pthread_mutex_t waiters_lock = PTHREAD_MUTEX_INITIALIZER;
static struct rp_waiter *waiters;  /* few hundred at most: a list is enough */
static size_t n_waiting;
static pthread_t collector;
static atomic_int collector_running;
static int stopped; /* under waiters_lock: waiters are no longer answered by the collector */

const char *rp_direct_reply_key(void)
{
    return reply_key;
}

size_t rp_direct_waiting(void)
{
    pthread_mutex_lock(&waiters_lock);
    size_t n = n_waiting;
    pthread_mutex_unlock(&waiters_lock);
    return n;
}

struct rp_waiter *rp_direct_waiter_new(const char *request_id, size_t n, rp_direct_answer_fn answer,
                                       void *ctx, void (*ctx_free)(void *))
{
    struct rp_waiter *w = rp_calloc(1, sizeof(*w));
    snprintf(w->request_id, sizeof(w->request_id), "%s", request_id);
    w->results = rp_calloc(n ? n : 1, sizeof(*w->results));
    w->n = w->pending = n;
    w->answer = answer;
    w->ctx = ctx;
    w->ctx_free = ctx_free;
    return w;
}

void rp_direct_expect(struct rp_waiter *w, size_t index, const char *message_id)
{
    snprintf(w->results[index].message_id, sizeof(w->results[index].message_id), "%s",
             message_id);
}

static void waiter_free(struct rp_waiter *w)
{
    if (w->ctx_free)
        w->ctx_free(w->ctx);
    free(w->results);
    free(w);
}

/* Unlinks w; waiters_lock held. */
static void unlink_waiter(struct rp_waiter *w)
{
    for (struct rp_waiter **p = &waiters; *p; p = &(*p)->next)
        if (*p == w) {
            *p = w->next;
            n_waiting--;
            return;
        }
}

void rp_direct_register(struct rp_waiter *w, int64_t deadline_ms)
{
    w->deadline_ms = deadline_ms;
    pthread_mutex_lock(&waiters_lock);
    w->next = waiters;
    waiters = w;
    n_waiting++;
    pthread_mutex_unlock(&waiters_lock);
}

/* Fills in what never came back; waiters_lock held. */
static void give_up_missing(struct rp_waiter *w, const char *why)
{
    for (size_t i = 0; i < w->n; i++) {
        struct rp_direct_result *r = &w->results[i];
        if (r->done)
            continue;
        r->done = 1;
        r->status = RP_DS_TEMPORARY_FAILURE;
        r->status_code = 0;
        snprintf(r->status_message, sizeof(r->status_message), "%s", why);
    }
    w->pending = 0;
}

/* Answers an armed, complete waiter and frees it; waiters_lock held, w already unlinked. */
static void complete(struct rp_waiter *w)
{
    json_t *body = w->answer(w->ctx, w->results, w->n);
    rp_request_resume(w->req, 200, body);
    waiter_free(w);
}

void rp_direct_wait(struct rp_request *req, struct rp_waiter *w)
{
    pthread_mutex_lock(&waiters_lock);
    if (stopped && w->pending)
        give_up_missing(w, "Repoint is shutting down"); /* nobody would resume it */
    if (w->pending == 0) {
        unlink_waiter(w);
        pthread_mutex_unlock(&waiters_lock);
        rp_respond_json(req, 200, w->answer(w->ctx, w->results, w->n));
        waiter_free(w);
        return;
    }
    w->req = req;
    w->armed = 1;
    rp_request_suspend(req);
    pthread_mutex_unlock(&waiters_lock);
}

void rp_direct_cancel(struct rp_waiter *w)
{
    pthread_mutex_lock(&waiters_lock);
    unlink_waiter(w);
    pthread_mutex_unlock(&waiters_lock);
    waiter_free(w);
}

/* Applies one reply from a worker; waiters_lock held. */
static void apply_reply(const char *text, size_t len)
{
    json_t *doc = json_loadb(text, len, 0, NULL);
    const char *rq = json_string_value(json_object_get(doc, "rq"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (!rq || !id) {
        json_decref(doc);
        return;
    }
    for (struct rp_waiter *w = waiters; w; w = w->next) {
        if (strcmp(w->request_id, rq) != 0)
            continue;
        for (size_t i = 0; i < w->n; i++) {
            struct rp_direct_result *r = &w->results[i];
            if (r->done || strcmp(r->message_id, id) != 0)
                continue;
            r->done = 1;
            int status = rp_delivery_status_parse(json_string_value(json_object_get(doc, "st")) ?: "");
            r->status = status < 0 ? RP_DS_UNKNOWN_FAILURE : (enum rp_delivery_status)status;
            r->status_code = (int)json_integer_value(json_object_get(doc, "code"));
            snprintf(r->status_message, sizeof(r->status_message), "%s",
                     json_string_value(json_object_get(doc, "msg")) ?: "");
            snprintf(r->provider_message_id, sizeof(r->provider_message_id), "%s",
                     json_string_value(json_object_get(doc, "mid")) ?: "");
            snprintf(r->updated_token, sizeof(r->updated_token), "%s",
                     json_string_value(json_object_get(doc, "tok")) ?: "");
            w->pending--;
            if (w->pending == 0 && w->armed) {
                unlink_waiter(w);
                complete(w);
            }
            json_decref(doc);
            return;
        }
    }
    json_decref(doc); /* a result for a request that already answered */
}

static void expire_waiters(int64_t now, int everything)
{
    pthread_mutex_lock(&waiters_lock);
    for (struct rp_waiter **p = &waiters; *p;) {
        struct rp_waiter *w = *p;
        if (w->armed && (everything || now >= w->deadline_ms + RP_DIRECT_GRACE_MS)) {
            *p = w->next;
            n_waiting--;
            give_up_missing(w, everything ? "Repoint is shutting down"
                                          : "no result before the request's deadline");
            complete(w);
            continue;
        }
        p = &w->next;
    }
    pthread_mutex_unlock(&waiters_lock);
}

static void *collector_main(void *arg)
{
    while (atomic_load(&collector_running) == 1) {
        expire_waiters(rp_now_ms(), 0);
        redisReply *r = rp_store_command("BRPOP %s 0.05", reply_key);
        if (!r) {
            struct timespec ts = {0, 100 * 1000000L};
            nanosleep(&ts, NULL);
            continue;
        }
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
            pthread_mutex_lock(&waiters_lock);
            apply_reply(r->element[1]->str, r->element[1]->len);
            pthread_mutex_unlock(&waiters_lock);
            freeReplyObject(r);
            /* Drain the rest in one round trip per batch. */
            for (;;) {
                r = rp_store_command("RPOP %s %d", reply_key, DRAIN_BATCH);
                if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
                    if (r)
                        freeReplyObject(r);
                    break;
                }
                size_t n = r->elements;
                pthread_mutex_lock(&waiters_lock);
                for (size_t i = 0; i < n; i++)
                    apply_reply(r->element[i]->str, r->element[i]->len);
                pthread_mutex_unlock(&waiters_lock);
                freeReplyObject(r);
                if (n < DRAIN_BATCH)
                    break;
            }
            continue;
        }
        freeReplyObject(r);
    }
    rp_store_thread_close();
    return NULL;
}

int rp_direct_start(void)
{
    char id[33];
    rp_id_new(id);
    snprintf(reply_key, sizeof(reply_key), "rp:reply:%s", id);
    pthread_mutex_lock(&waiters_lock);
    stopped = 0;
    pthread_mutex_unlock(&waiters_lock);
    atomic_store(&collector_running, 1);
    if (pthread_create(&collector, NULL, collector_main, NULL)) {
        atomic_store(&collector_running, 0);
        return RP_EIO;
    }
    return 0;
}

void rp_direct_stop(void)
{
    if (atomic_load(&collector_running) != 1)
        return;
    atomic_store(&collector_running, 2);
    pthread_join(collector, NULL);
    pthread_mutex_lock(&waiters_lock);
    stopped = 1;
    pthread_mutex_unlock(&waiters_lock);
    expire_waiters(rp_now_ms(), 1);
    atomic_store(&collector_running, 0);
}
