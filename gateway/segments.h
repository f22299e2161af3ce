/* Segments in Redis: every version of a segment's SegmentResponse, and the endpoint ids of an
 * imported version. Dimensional segments are evaluated when used (segment_match.h); imported
 * ones are a fixed set of ids per version, kept as a sorted set so they are enumerable in order
 * from any point (segment_cursor.h).
 *
 * Keys (under the app's hash tag):
 *   rp:{a:APP}:segs            zset: segment ids by creation time
 *   rp:{a:APP}:seg:ID          hash: cur (latest version) and, per version N, field N holding
 *                              that version's SegmentResponse JSON
 *   rp:{a:APP}:seg:ID:m:N      zset (all scores 0): the endpoint ids of imported version N,
 *                              folded to lower case as endpoint keys are (keyspace.h) */
#ifndef RP_SEGMENTS_H
#define RP_SEGMENTS_H

#include <jansson.h>

#include "err.h"

int rp_key_segments(char *out, const char *app);
int rp_key_segment(char *out, const char *app, const char *segment);
int rp_key_segment_members(char *out, const char *app, const char *segment, int version);

/* Validates a WriteSegmentRequest (Name, Dimensions, SegmentGroups, tags). Returns 0 or
 * RP_EINVAL naming the field. */
int rp_segment_request_validate(const json_t *body, struct rp_err *err);

/* Creates a segment: a DIMENSIONAL one from a WriteSegmentRequest (import NULL), or an IMPORT
 * one (body holds Name only, import the ImportDefinition so far). Returns the SegmentResponse
 * (new reference) or NULL on store failure. */
json_t *rp_segment_create(const char *app, const json_t *body, const json_t *import);

/* Adds a version to a segment: UpdateSegment (body) or a new import (import). *rc is
 * RP_ENOTFOUND or RP_ESTORE when NULL is returned. */
json_t *rp_segment_new_version(const char *app, const char *segment, const json_t *body,
                               const json_t *import, int *rc);

/* A version of a segment (version 0: the latest) as a new reference; NULL with *rc. */
json_t *rp_segment_get(const char *app, const char *segment, int version, int *rc);

/* Every version of a segment (newest first) or every segment of the app (latest versions,
 * newest first): {"Item": [...], "NextToken"?}. NULL with *rc. */
json_t *rp_segment_versions(const char *app, const char *segment, long page_size,
                            const char *token, int *rc);
json_t *rp_segment_list(const char *app, long page_size, const char *token, int *rc);

/* Deletes a segment with all its versions and member sets; returns the latest SegmentResponse
 * or NULL with *rc. */
json_t *rp_segment_delete(const char *app, const char *segment, int *rc);

/* An import job finished filling version `version`: its ImportDefinition gets Size (the
 * members), ChannelCounts, Format, S3Url, RoleArn and ExternalId from the job definition.
 * Returns 0 or RP_ESTORE. */
int rp_segment_import_done(const char *app, const char *segment, int version,
                           const json_t *job_definition, const json_t *channel_counts);

#endif
