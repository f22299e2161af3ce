/* Endpoint writes with their bookkeeping, shared by the endpoint API and import jobs: read,
 * merge (endpoint.h), compare-and-set (endpoint_store.h), then the address index (duplicates of
 * an address on a channel become INACTIVE) and the app's attribute registry. The batch form does
 * each step for every endpoint in one pipelined round trip. */
#ifndef RP_ENDPOINT_WRITE_H
#define RP_ENDPOINT_WRITE_H

#include <jansson.h>
#include <stddef.h>

#include "endpoint.h"
#include "err.h"

/* Index upkeep after a successful write of one endpoint (before may be NULL for a new one; req
 * is the request that was merged). Returns 0 or RP_ESTORE. */
int rp_endpoint_finish_write(const char *app, const char *id, const json_t *before,
                             const json_t *after, const json_t *req);

/* Applies one validated request to one endpoint, retrying lost compare-and-set races. Returns 0,
 * RP_EINVAL (err set), RP_ESTORE, or RP_ECONFLICT after too many lost races. */
int rp_endpoint_apply_update(const char *app, const char *id, const json_t *req,
                             const json_t *removed, struct rp_err *err);

/* Applies n validated requests (borrowed) of the given shape (RP_ENDPOINT_REQUEST or
 * RP_ENDPOINT_IMPORT_ROW, endpoint.h) to the endpoints ids[i], each independently: one
 * pipelined read, the merges, one pipelined compare-and-set, one pipelined bookkeeping round
 * trip; an endpoint another writer changed meanwhile, or an id named twice, is redone on its
 * own. rcs[i] is 0 or RP_EINVAL (errs[i] says why: the request does not fit the stored
 * endpoint, e.g. a new endpoint without Address). Returns 0, or RP_ESTORE when the store failed
 * (some endpoints may then be written, which a retry of the same requests repairs). */
int rp_endpoint_write_many(enum rp_endpoint_shape shape, const char *app, size_t n,
                           const char *const *ids, json_t *const *reqs, const json_t *removed,
                           int *rcs, struct rp_err *errs);

#endif
