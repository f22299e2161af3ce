/* The delivery queue in Redis. Per channel, queue.shards streams rp:q:{CHANNEL:N}, each read by
 * the consumer group "senders"; beside each stream, under the same hash tag, the retry set
 * rp:retry:{CHANNEL:N} (deliveries scored by due time) so moving due retries back is one atomic
 * script. Deliveries that exhaust their attempts go to the dead-letter stream rp:dlq with their
 * last result. At-least-once: an entry is acknowledged only after its result is recorded, and
 * entries of a dead consumer are taken over (XAUTOCLAIM) after queue.visibility_timeout_ms. */
#ifndef RP_QUEUE_H
#define RP_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "delivery.h"

#define RP_QUEUE_GROUP "senders"
#define RP_QUEUE_DLQ "rp:dlq"

struct rp_queue_conf {
    int shards;
    int batch;
    int64_t visibility_timeout_ms;
    int max_attempts;
    int64_t retry_base_ms;
    int64_t retry_max_ms;
};

/* Set once at start, read-only after. */
void rp_queue_configure(const struct rp_queue_conf *conf);
const struct rp_queue_conf *rp_queue_conf(void);

/* Stream and retry-set names of one shard; out holds 128 bytes. */
void rp_queue_stream_key(char *out, const char *channel, int shard);
void rp_queue_retry_key(char *out, const char *channel, int shard);
/* The shard a delivery goes to (by message id, so a retry returns to the same shard). */
int rp_queue_shard_of(const char *message_id);

/* Enqueues n deliveries in one pipelined round trip on this thread's connection. Returns 0 or
 * RP_ESTORE (some may have been queued: every delivery has a unique id, so the caller reports a
 * retryable error and a client retry may at worst send a message twice, as with Pinpoint). */
int rp_queue_push(struct rp_delivery *const *deliveries, size_t n);

/* Queues the XADD of one delivery on this thread's pipeline without reading the reply (one
 * reply to collect with rp_store_collect), so a caller can enqueue inside its own transaction
 * (a campaign batch commits its cursor with its deliveries). */
void rp_queue_append(const struct rp_delivery *d);

/* A queue entry holds one delivery (field "d": rp_delivery_to_json), or several that differ
 * only in their recipient (a campaign's batch on one channel, one message for all): the first
 * in full and each other one as "r": [[message id, endpoint id or null, address, key], ...].
 * The content is then written, read and parsed once per entry instead of once per delivery,
 * and an entry is acknowledged once all its deliveries are recorded. 64 rather than 16: each
 * entry costs an XADD, its share of XREADGROUP, an XACK and an XDEL in Redis and a parse of its
 * "d" in the worker, and a 1,000,000-endpoint campaign ran 12-17% faster with 64 (RESULTS.md).
 * Instances from before the change read at most 16 and refuse bigger entries as malformed: stop
 * them before starting this version (docs/operations.md, upgrades). */
#define RP_QUEUE_SHARED_MAX 64

/* Queues the XADDs of n deliveries on this thread's pipeline like rp_queue_append, sharing an
 * entry between deliveries that only differ in their recipient (rp_delivery_same_message).
 * Returns the number of replies to collect (entries queued). */
size_t rp_queue_append_shared(struct rp_delivery *const *deliveries, size_t n);

/* The fields of one entry for ds[0..n) (n >= 1): *d (ds[0] in full) and, for n > 1, *r (the
 * others by recipient; NULL for n == 1), malloc'd, with their lengths. */
void rp_queue_entry_encode(const struct rp_delivery *const *ds, size_t n, char **d, size_t *d_len,
                           char **r, size_t *r_len);

/* Decodes an entry's "d" and (when present, else NULL) "r" fields into up to
 * RP_QUEUE_SHARED_MAX deliveries in out (filled from scratch; the caller cleans them up).
 * Returns how many, or RP_EINVAL for a malformed entry (out is then left clean). */
int rp_queue_entry_decode(const char *d, size_t d_len, const char *r, size_t r_len,
                          struct rp_delivery *out);

/* Creates the consumer group of every stream of the channel (idempotent). */
int rp_queue_ensure_groups(const char *channel);

/* Backoff before attempt number `attempts + 1`: base * 2^(attempts-1) capped at max, with
 * jitter in [50%, 100%]; a provider's Retry-After wins when longer. Pure. */
int64_t rp_queue_backoff_ms(const struct rp_queue_conf *conf, int attempts, int64_t retry_after_ms,
                            uint32_t random);

/* Moves retries that are due (score <= now) back into their stream: at most max per call.
 * Returns the number moved or RP_ESTORE. */
int rp_queue_move_due(const char *channel, int shard, int max);

#endif
