/* Redis key layout. Every key that takes part in one atomic operation shares a hash tag, so the
 * same code runs on one Redis and on Redis Cluster:
 *   {a:<app>}            the app's own records: app, settings, channels, removed attributes
 *   {e:<app>:<shard>}    one of RP_ENDPOINT_SHARDS endpoint shards: the endpoints whose id hashes
 *                        there, the shard's member set, and the user index entries of those
 *                        endpoints (so an endpoint and its index entry change in one script)
 *   {x:<app>:<shard>}    one of RP_ENDPOINT_SHARDS address shards: the address index entries of
 *                        the channel:address pairs that hash there
 * An app's endpoints thus spread over RP_ENDPOINT_SHARDS slots. */
#ifndef RP_KEYSPACE_H
#define RP_KEYSPACE_H

#include <stddef.h>
#include <stdint.h>

#define RP_ENDPOINT_SHARDS 32
#define RP_KEY_MAX 512

#define RP_KEY_APPS "rp:apps"       /* zset: app id scored by creation time (ms) */
#define RP_KEY_PURGE "rp:purge"     /* set: ids of deleted apps whose data is being removed */
/* The layout of stored endpoints: RP_LAYOUT once nothing is left in an older one (janitor.c). */
#define RP_KEY_LAYOUT "rp:layout"
#define RP_LAYOUT "3"

/* FNV-1a 32-bit, also used for CohortId: stable across versions and instances. */
uint32_t rp_fnv1a(const char *s, size_t len);
/* Endpoint ids are case-insensitive in Pinpoint: keys, shards and index members use the id with
 * ASCII letters folded to lower case (out: size bytes, truncated to fit). */
void rp_endpoint_key_id(const char *endpoint_id, char *out, size_t size);
unsigned rp_endpoint_shard(const char *endpoint_id);

/* Each writes into out (RP_KEY_MAX bytes) and returns the length. */
int rp_key_app(char *out, const char *app);                  /* hash: app record */
int rp_key_settings(char *out, const char *app);             /* string: settings JSON */
int rp_key_channel(char *out, const char *app, const char *type); /* hash: channel record */
int rp_key_removed_attrs(char *out, const char *app);        /* string: RemoveAttributes JSON */
int rp_key_endpoint(char *out, const char *app, unsigned shard, const char *endpoint_id);
int rp_key_shard_members(char *out, const char *app, unsigned shard); /* set of endpoint ids */
int rp_key_user(char *out, const char *app, unsigned shard, const char *user_id); /* set */
/* Address index (address_index.h): the hash of the shard chosen by the address, and the
 * address's field in it (RP_KEY_MAX bytes). */
int rp_key_address(char *out, char *field, const char *app, const char *channel,
                   const char *address);
/* Attribute registry of the app: names seen per attribute type (RemoveAttributes answers it). */
int rp_key_attribute_names(char *out, const char *app, const char *attribute_type);
#endif
