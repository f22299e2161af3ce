/* Import and export jobs: their records in Redis, the shared run queue, and the job runner
 * threads of `repoint serve`.
 *
 * A job is split into pieces (an import: one per object; an export: one per endpoint shard, or
 * one for a segment). Every unit of work — "init", each piece, "fin" — is a member of the run
 * queue rp:jobq scored by the time it may be claimed; a runner claims one by moving its score to
 * now + jobs.lease_ms and renews the lease as it makes progress, so a unit whose runner died
 * (or whose instance restarted) is claimed again once the lease lapses, by any instance. A piece
 * records its progress (records done, counts, failures) in one MULTI with the job's counters, so
 * a resumed piece skips what was already counted and no line is imported twice.
 *
 * Keys (all under the app's hash tag, so DeleteApp's janitor removes them):
 *   rp:{a:APP}:job:ID          hash: the job record (fields below)
 *   rp:{a:APP}:job:ID:fail     list: the first 100 Failures entries
 *   rp:{a:APP}:jobs:import|export           zset of job ids by creation time
 *   rp:{a:APP}:seg:SEG:jobs:import|export   zset of the segment's job ids
 *   rp:{a:APP}:jobs:running    set: import jobs not yet finished (import.concurrent_jobs) */
#ifndef RP_JOBS_H
#define RP_JOBS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct rp_config;

#define RP_JOB_MAX_FAILURES 100
#define RP_KEY_JOBQ "rp:jobq"
#define RP_KEY_MAX_JOB 512

enum rp_job_type { RP_JOB_IMPORT, RP_JOB_EXPORT };

int rp_key_job(char *out, const char *app, const char *job);
int rp_key_job_failures(char *out, const char *app, const char *job);
int rp_key_jobs(char *out, const char *app, enum rp_job_type type);
int rp_key_segment_jobs(char *out, const char *app, const char *segment, enum rp_job_type type);
int rp_key_jobs_running(char *out, const char *app);

/* Creates a job in state CREATED with its Definition (borrowed) and pieces, indexes it (under
 * the segment too when segment is not NULL) and queues its "init" unit. For imports, pieces is
 * an array of [key, size] objects to read; for exports, total_pieces alone counts. id receives
 * the new id (33 bytes). Returns 0, RP_ELIMIT (too many running imports for the app), or
 * RP_ESTORE. running_limit (> 0) bounds the app's unfinished imports; segment_version is the
 * version of segment an import fills. */
int rp_job_create(const char *app, enum rp_job_type type, const json_t *definition,
                  const json_t *pieces, int total_pieces, const char *segment,
                  long long running_limit, char *id, int segment_version);

/* The ImportJobResponse / ExportJobResponse of a job (new reference); NULL with *rc RP_ENOTFOUND
 * or RP_ESTORE. */
json_t *rp_job_response(const char *app, const char *id, enum rp_job_type type, int *rc);

/* A page of the app's (or a segment's, when segment is not NULL) jobs, newest first: the
 * ImportJobsResponse / ExportJobsResponse. token is the opaque NextToken ("" for the first
 * page). Returns a new reference or NULL on store failure. */
json_t *rp_job_list(const char *app, enum rp_job_type type, const char *segment, long page_size,
                    const char *token);

/* The work a piece does, per job type (import_job.c, export_job.c). progress is called after
 * each committed batch to renew the lease. Returns 0 (the piece completed; failed records are
 * counted by the piece itself) or an rc when the piece failed as a whole (err says why); a
 * store failure returns RP_ESTORE and the piece is retried later. */
struct rp_job_ctx {
    const char *app, *id;
    int piece;
    json_t *record; /* the job hash as an object of strings */
    const struct rp_config *cfg;
    void (*progress)(struct rp_job_ctx *ctx);
    char unit[160]; /* the run queue member being worked on */
};

int rp_import_piece(struct rp_job_ctx *ctx, struct rp_err *err);
int rp_export_piece(struct rp_job_ctx *ctx, struct rp_err *err);

/* An import's pieces as its "init" unit plans them: large file:// objects cut into ranges of
 * about import.piece_bytes at record boundaries (import_split.h), so that the runners import one
 * file in parallel. Returns the new "objects" array (new reference; one entry per piece) or NULL
 * to keep the listed one. */
json_t *rp_import_plan(struct rp_job_ctx *ctx);

/* Adds a failure entry, bounded to RP_JOB_MAX_FAILURES, into an open pipeline (queues 2
 * commands). */
void rp_job_append_failure(const char *app, const char *id, const char *text);

/* An import's last step: the imported segment's size and channel counts. 0 or RP_ESTORE. */
int rp_import_finish(struct rp_job_ctx *ctx);

/* The configuration the runner was started with (job creation reads its limits). */
const struct rp_config *rp_job_config(void);

/* True once rp_jobs_stop was called: a piece stops at its next batch with RP_EAGAIN and its
 * unit is put back for any runner (it resumes from its checkpoint). */
int rp_jobs_stopping(void);

/* Starts threads runner threads (0: none) / stops them, waiting for the unit in hand. */
int rp_jobs_start(const struct rp_config *cfg, int threads);
void rp_jobs_stop(void);

/* The run queue's lease over any queue key (rp:jobq here, the campaign scheduler's rp:campq):
 * claims the first member whose score (due time) is past, moving its score to now + lease_ms
 * so no other runner takes it while the lease holds. Returns 1 with the member in out, 0 when
 * none is due, RP_ESTORE. rp_jobq_renew extends a claimed member's lease (if still queued). */
int rp_jobq_claim(const char *queue, long long lease_ms, char *out, size_t size);
void rp_jobq_renew(const char *queue, const char *member, long long lease_ms);

/* Runs at most one claimable unit on the calling thread; returns 1 when one ran (tests). */
int rp_jobs_run_once(const struct rp_config *cfg);

#endif
