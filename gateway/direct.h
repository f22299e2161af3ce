/* Direct sends wait for their results, as Pinpoint's SendMessages does: the API request is
 * suspended (holding no thread) until every delivery has a result or the deadline passes.
 * Workers anywhere push results to this instance's reply list (rp:reply:<instance>); one
 * collector thread reads it in batches and completes the waiting requests. */
#ifndef RP_DIRECT_H
#define RP_DIRECT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "http.h"

/* Extra time after a deadline before missing results are given up: a send started just before
 * the deadline is cut off at it, and its result needs a moment to travel back. */
#define RP_DIRECT_GRACE_MS 1000

struct rp_direct_result {
    char message_id[48];
    int done;
    enum rp_delivery_status status;
    int status_code;
    char status_message[256];
    char provider_message_id[256];
    char updated_token[512];
};

/* Builds the answer from the results (borrowed, in the order they were expected) and returns a
 * new JSON body; ctx is the caller's. */
typedef json_t *(*rp_direct_answer_fn)(void *ctx, const struct rp_direct_result *results,
                                       size_t n);

struct rp_waiter;

/* Starts the collector; instance id is random per process. Returns 0 or an rp_rc. */
int rp_direct_start(void);
/* Answers every waiting request with what it has (missing results as TEMPORARY_FAILURE) and
 * stops the collector. */
void rp_direct_stop(void);
/* The reply list deliveries of this instance name in reply_to (static string). */
const char *rp_direct_reply_key(void);

/* A waiter for n results; message ids are set with rp_direct_expect. ctx is taken: ctx_free
 * releases it when the waiter is done (may be NULL). */
struct rp_waiter *rp_direct_waiter_new(const char *request_id, size_t n, rp_direct_answer_fn answer,
                                       void *ctx, void (*ctx_free)(void *));
void rp_direct_expect(struct rp_waiter *w, size_t index, const char *message_id);
/* Makes the waiter visible to the collector. Call before the deliveries are enqueued so no early
 * result is missed. */
void rp_direct_register(struct rp_waiter *w, int64_t deadline_ms);
/* Called from the handler after enqueueing: answers at once when every result is already in,
 * else suspends the request until the collector completes it. Takes w. */
void rp_direct_wait(struct rp_request *req, struct rp_waiter *w);
/* Abandons a registered waiter that will never be armed (enqueue failed). Takes w. */
void rp_direct_cancel(struct rp_waiter *w);

/* Waiting requests now (metrics, admission control). */
size_t rp_direct_waiting(void);

#endif
