/* What the handlers of versioned resources (segments, campaigns) share: their id check, the
 * version path segment, and how a lookup's outcome becomes the answer. */
#ifndef RP_API_VERSIONED_H
#define RP_API_VERSIONED_H

#include <jansson.h>

#include "../http.h"

/* 1 when id can name a segment or campaign (hex, '-', '_'; 1 to 64 characters). */
int rp_api_versioned_id_valid(const char *id);
/* The version a path segment names (1 to 1,000,000), or 0 when it names none. */
int rp_api_versioned_number(const char *text);
/* Answers doc with status (taking it); without doc, rc decides: RP_ENOTFOUND 404 naming the
 * resource (kind "Campaign", "Segment") and id, RP_ELIMIT 400 (too many versions), else the
 * retryable 5xx. */
void rp_api_versioned_respond(struct rp_request *req, int status, json_t *doc, int rc,
                              const char *kind, const char *id);

/* The handlers both resources have, given the resource's store function: Get<Kind> (version
 * NULL: the latest) or Get<Kind>Version, Delete<Kind>, and a paged list of one resource
 * (Get<Kind>Versions, GetCampaignActivities). The id is req->params[1]. */
typedef json_t *(*rp_api_versioned_get_fn)(const char *app, const char *id, int version,
                                           int *rc);
typedef json_t *(*rp_api_versioned_delete_fn)(const char *app, const char *id, int *rc);
typedef json_t *(*rp_api_versioned_page_fn)(const char *app, const char *id, long page_size,
                                            const char *token, int *rc);
void rp_api_versioned_get(struct rp_request *req, const char *kind, rp_api_versioned_get_fn get,
                          const char *version);
void rp_api_versioned_delete(struct rp_request *req, const char *kind,
                             rp_api_versioned_delete_fn remove);
void rp_api_versioned_page(struct rp_request *req, const char *kind,
                           rp_api_versioned_page_fn list);

#endif
