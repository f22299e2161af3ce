/* Delivery workers. Each worker unit is three threads around one libevent loop:
 *   reader: XREADGROUP batches from every channel's streams (and XAUTOCLAIM of entries a dead
 *           consumer left), moves due retries back, checks deadlines, takes rate-limit tokens in
 *           batches, loads the app's channel settings, and hands ready deliveries to the loop;
 *   loop:   the event loop the channel transports run on (curl multi, nghttp2 ...), many
 *           deliveries in flight at once;
 *   writer: records each result in one pipelined round trip per batch: the delivery event,
 *           the reply to the waiting API instance, a retry or dead letter, then XACK + XDEL.
 * The loop thread never waits on Redis; the reader and writer use synchronous pipelines. */
#ifndef RP_WORKER_H
#define RP_WORKER_H

#include <stdint.h>

struct rp_config;

/* Starts `units` worker units serving the channel types in the comma-separated list (NULL or ""
 * for every registered channel). Returns 0 or an rp_rc. */
int rp_workers_start(const struct rp_config *cfg, int units, const char *channels);
/* How long the least recently active worker thread (event loop or reader) has gone without
 * coming round, in milliseconds; -1 when this process runs no workers. A loop blocked by a
 * provider call or a reader wedged outside Redis shows here, for readiness probes. */
int64_t rp_workers_stalled_ms(void);
/* Stops reading, lets deliveries in flight finish for up to grace_ms, records their results and
 * joins the threads. Entries not finished stay pending in Redis for another instance. */
void rp_workers_stop(int grace_ms);

#endif
