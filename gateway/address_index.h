/* The address index: for each channel and address of an app, the endpoints (folded ids) that
 * hold it, for Pinpoint's rule that writing an endpoint with an address makes every other
 * endpoint of the app with that address on that channel INACTIVE.
 *
 * One hash per address shard ({x:<app>:<shard>}, keyspace.h), one field per channel:address,
 * its value the holders' ids joined by newlines (ids hold no control characters). A million
 * endpoints are then a million fields in 32 hashes rather than a million one-member sets: 150
 * bytes each instead of 342, and an AOF rewrite 0.8 us instead of 2.0 (tests/bench/RESULTS.md).
 * A change runs in one script, which also takes in the set an older Repoint kept for the
 * address (rp:{x:...}:ad:<channel>:<address>) when it meets one; only the addition of an
 * address nobody holds, once no older set can be left, is a plain HSETNX. */
#ifndef RP_ADDRESS_INDEX_H
#define RP_ADDRESS_INDEX_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stddef.h>

/* For a pipeline with rp_address_index_append_add or _remove: queues the script's load, to come
 * before them; returns how many replies that adds. */
size_t rp_address_index_prepare(void);
/* Queues: id holds the address (the script). Its reply is the array of the other ids. */
void rp_address_index_append_add(const char *app, const char *channel, const char *address,
                                 const char *folded_id);
/* Queues the same as an HSETNX, which needs no script and suffices for the usual case of an
 * address nobody holds; only once no older set can be left (rp_endpoint_store_layout_settled). */
void rp_address_index_append_claim(const char *app, const char *channel, const char *address,
                                   const char *folded_id);
/* Reads an addition's or a claim's reply: appends the other holders (never folded_id) to
 * others and returns 0, or returns 1 when the claim found the address held: the addition must
 * then be queued with rp_address_index_append_add. */
int rp_address_index_take_added(const redisReply *r, const char *folded_id, json_t *others);
/* Queues: id no longer holds the address. */
void rp_address_index_append_remove(const char *app, const char *channel, const char *address,
                                    const char *folded_id);
/* The same as one command. Returns 0 or RP_ESTORE. */
int rp_address_index_remove(const char *app, const char *channel, const char *address,
                            const char *folded_id);
/* Takes the sets of an older Repoint named by keys (a SCAN page) into the hashes, in one round
 * trip. Returns 0 or RP_ESTORE. */
int rp_address_index_convert(const redisReply *keys);

#endif
