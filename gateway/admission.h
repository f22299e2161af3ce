/* Admission control for direct sends. When a channel's queue or the number of requests waiting
 * for results passes its bound, new sends are refused at once with 429 TooManyRequestsException
 * (which the AWS SDKs retry with backoff) instead of joining a backlog that would make every
 * sender slow and push admitted requests past their deadline.
 *   admission.max_waiting_direct     requests of this instance waiting for results
 *   admission.max_queue_per_channel  deliveries queued or in flight on a channel, all instances
 * Queue depths are sampled by one thread (XLEN and the oldest entry of every stream, pipelined)
 * every RP_ADMISSION_SAMPLE_MS, so checking costs no Redis round trip per request; the samples
 * are also the queue metrics (gateway/metrics.h). */
#ifndef RP_ADMISSION_H
#define RP_ADMISSION_H

#include <stddef.h>

struct rp_config;

#define RP_ADMISSION_SAMPLE_MS 200

/* Starts the sampler (cfg borrowed for the life of the process). Returns 0 or an rp_rc. */
int rp_admission_start(const struct rp_config *cfg);
void rp_admission_stop(void);

/* 1 when a new direct send must be refused now, with why (for the 429's message); else 0. */
int rp_admission_refuse_request(char *why, size_t size);
/* 1 when deliveries for this ChannelType must be refused now, with why; else 0. */
int rp_admission_refuse_channel(const char *channel, char *why, size_t size);

#endif
