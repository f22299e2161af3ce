/* Endpoint writes with their bookkeeping (endpoint_write.h). */
#include "endpoint_write.h"
#include "address_index.h"
#include "api/api.h"
#include "endpoint.h"
#include "endpoint_store.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* Writers to one endpoint race through compare-and-set; a loser re-reads and retries after a
 * short random pause, so even dozens of concurrent writers to one endpoint all land. */
#define CAS_ATTEMPTS 64

static const char *str_member(const json_t *obj, const char *name)
{
    return json_string_value(json_object_get(obj, name));
}

static void backoff(int attempt)
{
    unsigned char r;
    rp_random_bytes(&r, 1);
    int cap_us = attempt < 8 ? 200 << (attempt / 2) : 3200;
    struct timespec ts = {0, (long)(r % (unsigned)cap_us) * 1000L};
    nanosleep(&ts, NULL);
}

/* The bookkeeping that follows an endpoint write, in one pipelined round trip:
 * - the address index, for Pinpoint's rule that updating an endpoint with an address makes
 *   every other endpoint of the app with that address (on that channel) INACTIVE;
 * - the app's attribute registry (the names RemoveAttributes answers).
 * Repeated on every write that names an Address, so a retry repairs an index that a crash left
 * behind. Returns the folded ids of the other endpoints holding the address (new reference) or
 * NULL on store failure. */
static const struct {
    const char *type, *map, *sub;
} registries[] = {{"endpoint-custom-attributes", "Attributes", NULL},
                  {"endpoint-metric-attributes", "Metrics", NULL},
                  {"endpoint-user-attributes", "User", "UserAttributes"}};
#define REGISTRIES (sizeof(registries) / sizeof(registries[0]))

/* The attribute names a batch of writes adds to the registries, each name once: an import of
 * endpoints that all carry the same 40 attributes adds 40 names per batch, not per endpoint. */
struct registry_names {
    json_t *names[REGISTRIES]; /* objects used as sets */
};

/* *loaded: whether this pipeline already has the address index script's load, which goes
 * before the first command that runs the script (a claim needs none). */
static size_t queue_after_write(const char *app, const char *id, const json_t *before,
                                const json_t *after, const json_t *req, int *members_at_out,
                                struct registry_names *batch, int *loaded)
{
    char folded[RP_KEY_MAX], key[RP_KEY_MAX];
    rp_endpoint_key_id(id, folded, sizeof(folded));
    const char *old_ch = str_member(before, "ChannelType"), *old_ad = str_member(before, "Address");
    const char *ch = str_member(after, "ChannelType"), *ad = str_member(after, "Address");
    int names_address = json_object_get(req, "Address") || json_object_get(req, "ChannelType");
    size_t queued = 0;
    int members_at = -1;
    int removes = names_address && old_ch && old_ad &&
                  (strcmp(old_ch, ch) != 0 || strcmp(old_ad, ad) != 0);
    int adds = names_address && ch && ad && *ad;
    int claims = adds && rp_endpoint_store_layout_settled();
    if ((removes || (adds && !claims)) && !*loaded) {
        queued += rp_address_index_prepare();
        *loaded = 1;
    }
    if (removes) {
        rp_address_index_append_remove(app, old_ch, old_ad, folded);
        queued++;
    }
    if (claims)
        rp_address_index_append_claim(app, ch, ad, folded);
    else if (adds)
        rp_address_index_append_add(app, ch, ad, folded);
    if (adds)
        members_at = (int)queued++;
    for (size_t i = 0; i < REGISTRIES; i++) {
        const json_t *sent = json_object_get(req, registries[i].map);
        const json_t *kept = json_object_get(after, registries[i].map);
        if (registries[i].sub) {
            sent = json_object_get(sent, registries[i].sub);
            kept = json_object_get(kept, registries[i].sub);
        }
        const char *name;
        json_t *v;
        const char *argv[2 + RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES];
        int argc = 0;
        rp_key_attribute_names(key, app, registries[i].type);
        argv[argc++] = "SADD";
        argv[argc++] = key;
        /* Only names the merge kept: removed attributes stay out of the registry. */
        json_object_foreach((json_t *)sent, name, v)
        {
            /* A merged map holds at most RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES names. */
            if (argc == 2 + RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES)
                break;
            if (!json_object_get(kept, name))
                continue;
            if (batch) /* a key of a jansson object: valid UTF-8 already */
                json_object_set_new_nocheck(batch->names[i], name, json_true());
            else
                argv[argc++] = name;
        }
        if (argc > 2) {
            rp_store_appendv(argc, argv, NULL);
            queued++;
        }
    }
    *members_at_out = members_at;
    return queued;
}

/* Takes the replies of one write's bookkeeping (freeing them): the other endpoints holding the
 * address are appended to others. Returns 1 when the address's addition must be queued again
 * in full (rp_address_index_take_added). */
static int take_after_write(const char *id, redisReply **replies, size_t queued, int members_at,
                            json_t *others)
{
    char folded[RP_KEY_MAX];
    rp_endpoint_key_id(id, folded, sizeof(folded));
    int again = 0;
    for (size_t i = 0; i < queued; i++) {
        if ((int)i == members_at)
            again = rp_address_index_take_added(replies[i], folded, others);
        freeReplyObject(replies[i]);
    }
    return again;
}

/* The full additions of the writes whose address someone else already held, in one round
 * trip: the other holders of writes[k]'s address go to others[k]. Returns 0 or RP_ESTORE. */
static int add_in_full(const char *app, size_t n, const char *const *ids,
                       const json_t *const *writes, json_t **others)
{
    size_t loads = rp_address_index_prepare();
    for (size_t k = 0; k < n; k++) {
        char folded[RP_KEY_MAX];
        rp_endpoint_key_id(ids[k], folded, sizeof(folded));
        rp_address_index_append_add(app, str_member(writes[k], "ChannelType"),
                                    str_member(writes[k], "Address"), folded);
    }
    redisReply **replies = rp_malloc(n * sizeof(redisReply *));
    int rc = rp_store_collect_after_loads(loads, replies, n);
    if (rc == 0) {
        for (size_t k = 0; k < n; k++) {
            char folded[RP_KEY_MAX];
            rp_endpoint_key_id(ids[k], folded, sizeof(folded));
            rp_address_index_take_added(replies[k], folded, others[k]);
            freeReplyObject(replies[k]);
        }
    }
    free(replies);
    return rc;
}

static json_t *after_write(const char *app, const char *id, const json_t *before,
                           const json_t *after, const json_t *req)
{
    int members_at, loaded = 0;
    size_t queued = queue_after_write(app, id, before, after, req, &members_at, NULL, &loaded);
    redisReply **replies = rp_malloc((queued ? queued : 1) * sizeof(redisReply *));
    json_t *others = NULL;
    if (queued == 0 || rp_store_collect(replies, queued) == 0) {
        others = json_array();
        if (take_after_write(id, replies, queued, members_at, others) &&
            add_in_full(app, 1, &id, &after, &others)) {
            json_decref(others);
            others = NULL;
        }
    }
    free(replies);
    return others;
}

/* Sets another endpoint INACTIVE if it still holds the address on the channel; an index entry
 * whose endpoint moved on is dropped. Returns 0 or RP_ESTORE. */
static int deactivate_duplicate(const char *app, const char *other, const char *channel,
                                const char *address)
{
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct rp_stored_endpoint ep;
        const char *ids[1] = {other};
        if (rp_endpoint_store_get_many(app, ids, 1, &ep))
            return RP_ESTORE;
        const char *ch = str_member(ep.json, "ChannelType"), *ad = str_member(ep.json, "Address");
        if (!ep.json || !ch || !ad || strcmp(ch, channel) != 0 || strcmp(ad, address) != 0) {
            rp_stored_endpoint_cleanup(&ep);
            return rp_address_index_remove(app, channel, address, other);
        }
        const char *status = str_member(ep.json, "EndpointStatus");
        if (status && strcmp(status, "INACTIVE") == 0) {
            rp_stored_endpoint_cleanup(&ep);
            return 0;
        }
        json_object_set_new(ep.json, "EndpointStatus", json_string("INACTIVE"));
        int rc = rp_endpoint_store_put(app, other, ep.json, ep.rev, ep.user);
        rp_stored_endpoint_cleanup(&ep);
        if (rc != RP_ECONFLICT)
            return rc;
    }
    return RP_ECONFLICT;
}

/* Makes the other endpoints holding the written address INACTIVE; takes others. */
static int deactivate_others(const char *app, const json_t *after, json_t *others)
{
    int rc = 0;
    size_t i;
    json_t *other;
    json_array_foreach(others, i, other)
    {
        int r = deactivate_duplicate(app, json_string_value(other),
                                     str_member(after, "ChannelType"), str_member(after, "Address"));
        if (r == RP_ESTORE)
            rc = r;
    }
    json_decref(others);
    return rc;
}

int rp_endpoint_finish_write(const char *app, const char *id, const json_t *before,
                             const json_t *after, const json_t *req)
{
    json_t *others = after_write(app, id, before, after, req);
    return others ? deactivate_others(app, after, others) : RP_ESTORE;
}

/* Applies one validated request of the given shape to one endpoint with retries. Returns 0,
 * RP_EINVAL (err set), RP_ESTORE, or RP_ECONFLICT after too many lost races. */
static int apply_update(enum rp_endpoint_shape shape, const char *app, const char *id,
                        const json_t *body, const json_t *removed, struct rp_err *err)
{
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct rp_stored_endpoint cur;
        const char *ids[1] = {id};
        if (rp_endpoint_store_get_many(app, ids, 1, &cur))
            return RP_ESTORE;
        char now[RP_ISO_SIZE];
        rp_api_now_iso(now);
        json_t *merged = rp_endpoint_merge_as(shape, cur.json, body, removed, app, id, now, err);
        if (!merged) {
            rp_stored_endpoint_cleanup(&cur);
            return RP_EINVAL;
        }
        int rc = rp_endpoint_store_put(app, id, merged, cur.rev, cur.user);
        if (rc == 0)
            rc = rp_endpoint_finish_write(app, id, cur.json, merged, body);
        json_decref(merged);
        rp_stored_endpoint_cleanup(&cur);
        if (rc != RP_ECONFLICT)
            return rc;
        if (attempt >= 2)
            backoff(attempt);
    }
    return RP_ECONFLICT;
}

int rp_endpoint_apply_update(const char *app, const char *id, const json_t *body,
                             const json_t *removed, struct rp_err *err)
{
    return apply_update(RP_ENDPOINT_REQUEST, app, id, body, removed, err);
}

/* True when ids[i] was named earlier in the batch (ids are case-insensitive). */
static int repeated(const char *const *ids, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(ids[j], ids[i]) == 0)
            return 1;
    return 0;
}

int rp_endpoint_write_many(enum rp_endpoint_shape shape, const char *app, size_t n,
                           const char *const *ids, json_t *const *reqs, const json_t *removed,
                           int *rcs, struct rp_err *errs)
{
    if (n == 0)
        return 0;
    struct rp_stored_endpoint *cur = rp_calloc(n, sizeof(*cur));
    json_t **merged = rp_calloc(n, sizeof(json_t *));
    const char **w_ids = rp_calloc(n, sizeof(char *)), **w_revs = rp_calloc(n, sizeof(char *));
    const char **w_users = rp_calloc(n, sizeof(char *));
    json_t **w_eps = rp_calloc(n, sizeof(json_t *));
    size_t *w_at = rp_calloc(n, sizeof(size_t));
    int *w_rc = rp_calloc(n, sizeof(int)), *members_at = rp_calloc(n, sizeof(int));
    size_t *queued = rp_calloc(n, sizeof(size_t));
    /* Writes whose address someone already held: their additions go again, in full. */
    const char **again_ids = rp_calloc(n, sizeof(char *));
    const json_t **again_writes = rp_calloc(n, sizeof(json_t *));
    size_t n_again = 0;
    int rc = rp_endpoint_store_get_many(app, ids, n, cur);
    char now[RP_ISO_SIZE];
    rp_api_now_iso(now);
    size_t nw = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        rcs[i] = 0;
        rp_err_clear(&errs[i]);
        if (repeated(ids, i))
            continue; /* written on its own below, after the earlier request for the id */
        merged[i] =
            rp_endpoint_merge_as(shape, cur[i].json, reqs[i], removed, app, ids[i], now, &errs[i]);
        if (!merged[i]) {
            rcs[i] = RP_EINVAL;
            continue;
        }
        w_ids[nw] = ids[i];
        w_eps[nw] = merged[i];
        w_revs[nw] = cur[i].rev;
        w_users[nw] = cur[i].user;
        w_at[nw++] = i;
    }
    if (rc == 0 && nw)
        rc = rp_endpoint_store_put_many(app, nw, w_ids, w_eps, w_revs, w_users, w_rc);
    /* The bookkeeping of every write that landed, in one round trip; the registries last. */
    size_t total = 0, registry_sadds = 0;
    struct registry_names batch;
    for (size_t r = 0; r < REGISTRIES; r++)
        batch.names[r] = json_object();
    int loaded = 0;
    for (size_t k = 0; rc == 0 && k < nw; k++)
        if (w_rc[k] == 0) {
            size_t i = w_at[k];
            queued[k] = queue_after_write(app, ids[i], cur[i].json, merged[i], reqs[i],
                                          &members_at[k], &batch, &loaded);
            total += queued[k];
        }
    for (size_t r = 0; rc == 0 && r < REGISTRIES; r++) {
        size_t names = json_object_size(batch.names[r]);
        if (names == 0)
            continue;
        char key[RP_KEY_MAX];
        rp_key_attribute_names(key, app, registries[r].type);
        const char **argv = rp_calloc(names + 2, sizeof(char *));
        size_t argc = 0;
        argv[argc++] = "SADD";
        argv[argc++] = key;
        const char *name;
        json_t *v;
        json_object_foreach(batch.names[r], name, v) argv[argc++] = name;
        rp_store_appendv((int)argc, argv, NULL);
        free(argv);
        registry_sadds++;
    }
    total += registry_sadds;
    redisReply **replies = rp_calloc(total + 1, sizeof(redisReply *));
    if (rc == 0 && total)
        rc = rp_store_collect(replies, total);
    int collected = rc == 0; /* the replies must be taken even when a later step fails */
    size_t at = 0;
    for (size_t k = 0; collected && k < nw; k++) {
        size_t i = w_at[k];
        if (w_rc[k] == RP_ECONFLICT) {
            if (rc)
                continue;
            int r = apply_update(shape, app, ids[i], reqs[i], removed, &errs[i]);
            if (r == RP_EINVAL)
                rcs[i] = r;
            else if (r)
                rc = RP_ESTORE;
            continue;
        }
        json_t *others = json_array();
        if (take_after_write(ids[i], replies + at, queued[k], members_at[k], others)) {
            again_ids[n_again] = ids[i];
            again_writes[n_again++] = merged[i];
        }
        at += queued[k];
        if (json_array_size(others) == 0 || rc)
            json_decref(others);
        else if (deactivate_others(app, merged[i], others) == RP_ESTORE)
            rc = RP_ESTORE;
    }
    if (rc == 0 && n_again) {
        json_t **others = rp_malloc(n_again * sizeof(json_t *));
        for (size_t k = 0; k < n_again; k++)
            others[k] = json_array();
        if (add_in_full(app, n_again, again_ids, again_writes, others))
            rc = RP_ESTORE;
        for (size_t k = 0; k < n_again; k++) {
            if (rc || json_array_size(others[k]) == 0)
                json_decref(others[k]);
            else if (deactivate_others(app, again_writes[k], others[k]) == RP_ESTORE)
                rc = RP_ESTORE;
        }
        free(others);
    }
    for (size_t r = 0; collected && r < registry_sadds; r++)
        freeReplyObject(replies[at++]);
    for (size_t r = 0; r < REGISTRIES; r++)
        json_decref(batch.names[r]);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (repeated(ids, i)) {
            int r = apply_update(shape, app, ids[i], reqs[i], removed, &errs[i]);
            if (r == RP_EINVAL)
                rcs[i] = r;
            else if (r)
                rc = RP_ESTORE;
        }
    for (size_t i = 0; i < n; i++) {
        json_decref(merged[i]);
        rp_stored_endpoint_cleanup(&cur[i]);
    }
    free(replies);
    free(cur);
    free(merged);
    free(w_ids);
    free(w_revs);
    free(w_users);
    free(w_eps);
    free(w_at);
    free(w_rc);
    free(members_at);
    free(queued);
    free(again_ids);
    free(again_writes);
    return rc;
}
