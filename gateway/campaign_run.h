/* The campaign scheduler: threads of `repoint serve` (campaigns.threads) that run campaigns.
 *
 * A campaign waiting to run is a member "APP/ID" of rp:campq scored by when it is due; a
 * scheduler thread of any instance claims it with the job runner's lease (jobs.h,
 * rp_jobq_claim, jobs.lease_ms) and renews the lease while it drives the run, so exactly one
 * instance drives a run and another takes over once the lease lapses (the instance died).
 *
 * A run walks the campaign's segment version with the segment cursor (segment_cursor.h) in
 * batches of campaigns.batch, skips endpoints that are INACTIVE, opted out (OptOut ALL),
 * without an address, on a channel the campaign has no message for, or held out
 * (HoldoutPercent), renders the rest as SendMessages would (per-endpoint substitutions,
 * templates) and queues them. Each batch is one MULTI: the XADDs, the cursor position and the
 * run's counts together (on a Redis Cluster, where the streams live in other slots, one pipeline
 * with the position last), so a resumed run continues exactly after the last batch queued and
 * never queues an endpoint twice.
 *
 * Pace: at most Limits.MessagesPerSecond deliveries are queued per second (a token bucket in
 * the scheduler; the workers' per-app-per-channel limits apply on top), and at most
 * campaigns.queue_window deliveries of the run are queued or waiting for a retry at once, so
 * the queue, Redis and this process stay flat whatever the segment size.
 *
 * The scheduler checks the campaign's state every RP_CAMPAIGN_CHECK_MS: a pause or a delete
 * stops the fan-out then; an update continues it with the new version. Deliveries queued
 * before are withdrawn by the workers (campaign_track.h) and, for a pause or an update, queued
 * again (with the version then current) when the run continues. A run completes once its
 * segment is walked and every delivery it queued has a final result. */
#ifndef RP_CAMPAIGN_RUN_H
#define RP_CAMPAIGN_RUN_H

struct rp_config;

#define RP_CAMPAIGN_CHECK_MS 100

/* Starts threads scheduler threads (0: none) / stops them: a run in hand is put back at once
 * for any instance and continues from its last queued batch. */
int rp_campaigns_start(const struct rp_config *cfg, int threads);
void rp_campaigns_stop(void);

#endif
