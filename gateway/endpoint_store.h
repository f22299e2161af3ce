/* Endpoints in Redis. Each endpoint is one string in its shard (keyspace.h), its record: the
 * revision, a newline, and the EndpointResponse JSON (endpoint_store.c says why); writes are compare-and-set on the revision inside one Lua script that
 * also updates the shard's member set and the user index, so an endpoint and its index entry
 * change together or not at all. */
#ifndef RP_ENDPOINT_STORE_H
#define RP_ENDPOINT_STORE_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* A read endpoint: json is a new reference (NULL when absent); rev and user are owned copies. */
struct rp_stored_endpoint {
    json_t *json;
    char rev[33];
    char *user;
};

void rp_stored_endpoint_cleanup(struct rp_stored_endpoint *ep);

/* The stored records of a batch of endpoints, as Redis answered them: one MGET per shard. */
struct rp_endpoint_records {
    size_t n;
    const redisReply **value; /* value[i]: ids[i]'s record, NULL when there is none */
    redisReply **owned;
    size_t n_owned;
};

/* Reads the records of ids in one round trip (two when some were stored in the older layout).
 * Returns 0 (recs then to be freed) or RP_ESTORE. */
int rp_endpoint_records_read(struct rp_endpoint_records *recs, const char *app,
                             const char *const *ids, size_t n);
/* ids[i]'s EndpointResponse JSON text (NUL-terminated, *len bytes) and, when rev is not NULL,
 * its revision (not terminated); NULL when there is no endpoint. */
const char *rp_endpoint_records_json(const struct rp_endpoint_records *recs, size_t i,
                                     size_t *len, const char **rev, size_t *rev_len);
void rp_endpoint_records_free(struct rp_endpoint_records *recs);
/* The JSON text within one record; NULL when it is not a record. */
const char *rp_endpoint_record_json(const char *record, size_t len, size_t *json_len,
                                    const char **rev, size_t *rev_len);

/* Whether, as this thread last read RP_KEY_LAYOUT (with an endpoint read, at most
 * LAYOUT_RECHECK_MS ago once set), nothing is left in an older layout. */
int rp_endpoint_store_layout_settled(void);

/* Converts the endpoints at keys (a SCAN page of hashes of the older layout) in one round trip.
 * Returns 0 or RP_ESTORE. */
int rp_endpoint_store_convert(const redisReply *keys);

/* Reads n endpoints in one pipelined round trip. Returns 0 (absent ones have json NULL) or
 * RP_ESTORE. */
int rp_endpoint_store_get_many(const char *app, const char *const *ids, size_t n,
                               struct rp_stored_endpoint *out);

/* Writes endpoint (borrowed) if the stored revision still equals expected_rev ("" = must not
 * exist). Returns 0, RP_ECONFLICT when someone else wrote first, or RP_ESTORE. */
int rp_endpoint_store_put(const char *app, const char *id, const json_t *endpoint,
                          const char *expected_rev, const char *old_user);

/* The pipelined form of rp_endpoint_store_put for n endpoints (all borrowed) in one round trip;
 * rcs[i] is 0 or RP_ECONFLICT. Returns 0 or RP_ESTORE (rcs then unreliable). */
int rp_endpoint_store_put_many(const char *app, size_t n, const char *const *ids,
                               json_t *const *endpoints, const char *const *expected_revs,
                               const char *const *old_users, int *rcs);

/* Deletes an endpoint if its revision still equals expected_rev, removing it from the member
 * set and the user index. Returns 0, RP_ECONFLICT, or RP_ESTORE. */
int rp_endpoint_store_delete(const char *app, const char *id, const char *expected_rev,
                             const char *old_user);

/* Drops a deleted endpoint (its stored JSON, borrowed) from the address index; best effort, as an
 * index entry whose endpoint is gone is ignored by its readers. */
void rp_endpoint_store_forget_address(const char *app, const json_t *endpoint);

/* A provider said the address is dead (APNs 410, FCM UNREGISTERED ...): sets the endpoint
 * INACTIVE if it still holds that address, so a later update that changed the token is not
 * undone. dead_since_ms > 0 is the provider's time of invalidity: an endpoint whose
 * EffectiveDate is later (the app registered the token again since) stays as it is. Returns 0
 * (also when there was nothing to do) or RP_ESTORE. */
int rp_endpoint_store_deactivate(const char *app, const char *id, const char *address,
                                 int64_t dead_since_ms);

/* A provider answered with a new address for the device (ADM registrationID, FCM canonical
 * ids): the endpoint's Address becomes new_address if it still holds old_address, and the
 * address index follows. Returns 0 (also when there was nothing to do) or RP_ESTORE. */
int rp_endpoint_store_replace_address(const char *app, const char *id, const char *old_address,
                                      const char *new_address);

/* Every endpoint id of a user, over all shards, in one pipelined round trip. Returns a new JSON
 * array of strings, or NULL on store failure. */
json_t *rp_endpoint_store_user_ids(const char *app, const char *user_id);

/* The app's RemoveAttributes record (new reference, an object; empty when none), or NULL on
 * store failure. */
json_t *rp_endpoint_store_removed_attributes(const char *app);

#endif
