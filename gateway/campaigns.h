/* Campaigns in Redis: every version of a campaign's CampaignResponse, its state, and its runs
 * (Pinpoint's "activities"). campaign_run.h drives the runs; campaign_track.h is what the
 * delivery workers record about campaign deliveries.
 *
 * Keys (under the app's hash tag, so DeleteApp's janitor removes them and the state scripts
 * touch one slot):
 *   rp:{a:APP}:camps               zset: campaign ids by creation time
 *   rp:{a:APP}:camp:ID             hash: cur (latest version), per version N field N holding
 *                                  that version's CampaignResponse without State; state
 *                                  (SCHEDULED|EXECUTING|PAUSED|COMPLETED|DELETED); run (the
 *                                  current or last run id)
 *   rp:{a:APP}:camp:ID:runs        zset: run ids by start time
 *   rp:{a:APP}:camp:ID:run:RUN     hash: one run: state (RUNNING|PAUSED|CANCELLED|COMPLETED),
 *                                  gen, ver, seg, segver, sched, start, end, result, pos (the
 *                                  segment cursor), enq (deliveries queued), total (endpoints
 *                                  reached), wdn (withdrawn), st:<DeliveryStatus> counts,
 *                                  sk:<reason> (endpoints skipped), tz
 *   rp:{a:APP}:camp:ID:run:RUN:wd  set: endpoint ids whose queued delivery was withdrawn (by a
 *                                  pause or an update), queued again when the run continues
 *   rp:campq                       zset: "APP/ID" per campaign waiting for the scheduler, scored
 *                                  by the time it is due (jobs.h's run-queue lease, see
 *                                  rp_jobq_claim)
 *
 * gen: deliveries carry the run's generation when queued. Pausing, updating or deleting a
 * running campaign increments it, so the workers withdraw every delivery of an older
 * generation still queued (campaign_track.h) instead of sending it. */
#ifndef RP_CAMPAIGNS_H
#define RP_CAMPAIGNS_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

#define RP_KEY_CAMPQ "rp:campq"
/* A deleted campaign's keys stay this long (answering nobody: GetCampaign says 404) so that
 * results of deliveries in flight at the moment of the delete do not recreate them. */
#define RP_CAMPAIGN_DELETED_TTL_S 3600

int rp_key_campaigns(char *out, const char *app);
int rp_key_campaign(char *out, const char *app, const char *id);
int rp_key_campaign_runs(char *out, const char *app, const char *id);
int rp_key_campaign_run(char *out, const char *app, const char *id, const char *run);
int rp_key_campaign_withdrawn(char *out, const char *app, const char *id, const char *run);

/* Creates a campaign from a validated WriteCampaignRequest (body borrowed) whose segment
 * version is segment_version; queues it for the scheduler. Returns the CampaignResponse (new
 * reference) or NULL on store failure. */
json_t *rp_campaign_create(const char *app, const json_t *body, int segment_version);

/* The stored request of the latest version with the update's members laid over it (new
 * reference), to validate before rp_campaign_update; NULL with *rc RP_ENOTFOUND / RP_ESTORE. */
json_t *rp_campaign_merged_request(const char *app, const char *id, const json_t *update,
                                   int *rc);

/* Stores a new version from merged (validated, borrowed) and applies IsPaused and the new
 * schedule: a running campaign's queued deliveries are withdrawn and its run continues with
 * the new version. Returns the CampaignResponse or NULL with *rc. */
json_t *rp_campaign_update(const char *app, const char *id, const json_t *merged,
                           int segment_version, int *rc);

/* A version (0: the latest) with its State; NULL with *rc RP_ENOTFOUND / RP_ESTORE. */
json_t *rp_campaign_get(const char *app, const char *id, int version, int *rc);

/* CampaignsResponse / the versions of one campaign, newest first. NULL with *rc. */
json_t *rp_campaign_list(const char *app, long page_size, const char *token, int *rc);
json_t *rp_campaign_versions(const char *app, const char *id, long page_size, const char *token,
                             int *rc);

/* Deletes a campaign, stopping its run; returns its last CampaignResponse (State DELETED). */
json_t *rp_campaign_delete(const char *app, const char *id, int *rc);

/* ActivitiesResponse: the campaign's runs, newest first. NULL with *rc. */
json_t *rp_campaign_activities(const char *app, const char *id, long page_size,
                               const char *token, int *rc);

/* The ActivityResponse of one run from its hash (an object of strings, borrowed). */
json_t *rp_campaign_activity_of(const char *app, const char *id, const char *run,
                                const json_t *record);

/* Queues (or requeues) the campaign for the scheduler at due_ms. 0 or RP_ESTORE. */
int rp_campaign_schedule_unit(const char *app, const char *id, int64_t due_ms);

/* The hash at key as an object of strings (new reference); an empty object when absent, NULL
 * on store failure. */
json_t *rp_campaign_load_hash(const char *key);

#endif
