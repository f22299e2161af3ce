/* What the delivery workers do for campaign deliveries (gateway/worker.c calls these):
 * withdraw a delivery whose run was paused, updated or deleted since it was queued, and count
 * each final result on its run, so GetCampaignActivities shows the counts by DeliveryStatus
 * and the scheduler knows how many of its deliveries are still queued.
 *
 * A run's state is read at most once per RP_CAMPAIGN_TRACK_TTL_MS per thread and run (a small
 * thread-local cache), never once per message; a pause is therefore honoured by the workers
 * within that time. */
#ifndef RP_CAMPAIGN_TRACK_H
#define RP_CAMPAIGN_TRACK_H

#include <stddef.h>

#include "delivery.h"

#define RP_CAMPAIGN_TRACK_TTL_MS 500

enum rp_campaign_verdict {
    RP_CAMPAIGN_SEND,     /* not a campaign delivery, or its run is live: send it */
    RP_CAMPAIGN_WITHDRAW, /* its run stopped or moved on: do not send; record the withdrawal so
                           * the run queues the endpoint again when it continues */
    RP_CAMPAIGN_DROP,     /* its run was cancelled or deleted: do not send, record nothing */
};

/* The verdict for d (borrowed). A store failure answers SEND (better once more than never). */
enum rp_campaign_verdict rp_campaign_track_verdict(const struct rp_delivery *d);

/* The counts of one batch the worker's writer records. The writer sends a batch again, whole,
 * when Redis's reply times out (the commands may have run): each count carries a marker key,
 * "<token>:<n>" for the batch's token and the count's place in it, and takes effect once. */
struct rp_campaign_counts {
    char token[33];
    unsigned seq;
    int script_queued;
};
/* Starts (or starts again, for the same batch: the same token) queueing a batch's counts. */
void rp_campaign_counts_begin(struct rp_campaign_counts *c, const char *token);

/* Queue on this thread's pipeline what a withdrawal / count final results (of d's run, all with
 * status st) record; each returns the number of replies the caller must collect (0 for a
 * delivery that is not a campaign's). */
size_t rp_campaign_track_append_withdrawn(struct rp_campaign_counts *c,
                                          const struct rp_delivery *d);
size_t rp_campaign_track_append_results(struct rp_campaign_counts *c, const struct rp_delivery *d,
                                        enum rp_delivery_status st, long count);
/* 1 when a and b belong to the same campaign run. */
int rp_campaign_track_same_run(const struct rp_delivery *a, const struct rp_delivery *b);

#endif
