/* Dimensional segments: validation of SegmentDimensions and SegmentGroups as the API reference
 * defines them, and the test of one endpoint against them. Pure functions; membership in the
 * source segments of a group is asked through a callback (segment_cursor.c answers it). */
#ifndef RP_SEGMENT_MATCH_H
#define RP_SEGMENT_MATCH_H

#include <jansson.h>
#include <stdbool.h>

#include "err.h"

int rp_segment_dimensions_validate(const json_t *dims, const char *field, struct rp_err *err);
int rp_segment_groups_validate(const json_t *groups, struct rp_err *err);

/* True when the endpoint (an EndpointResponse) satisfies every dimension set in dims:
 * Demographic (AppVersion, Channel = ChannelType, DeviceType, Make, Model, Platform) and
 * Location.Country as INCLUSIVE/EXCLUSIVE sets, Location.GPSPoint within RangeInKilometers,
 * Attributes and UserAttributes with INCLUSIVE, EXCLUSIVE, CONTAINS, BEFORE, AFTER, ON and
 * BETWEEN, Metrics with the five comparison operators. Behavior (recency of app sessions)
 * matches every endpoint: Repoint records no sessions. */
bool rp_segment_dimensions_match(const json_t *dims, const json_t *endpoint);

/* Whether the endpoint belongs to segment `id` version `version` (0: latest): 1, 0, or < 0 on
 * failure. */
typedef int (*rp_segment_member_fn)(void *ud, const char *id, int version,
                                    const json_t *endpoint);

/* Tests an endpoint against a dimensional SegmentResponse: its Dimensions, then its
 * SegmentGroups (each group: the endpoints of its SourceSegments, ALL or ANY, filtered by its
 * Dimensions with Type ALL, ANY or NONE; the groups combined by Include ALL, ANY or NONE).
 * Returns 1, 0, or < 0 when a source segment could not be asked. */
int rp_segment_doc_match(const json_t *segment, const json_t *endpoint, rp_segment_member_fn fn,
                         void *ud);

#endif
