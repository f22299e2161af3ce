#include "endpoint_store.h"
#include "address_index.h"
#include "endpoint.h"
#include "json_write.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A stored endpoint is one string, its record: the revision, a newline, and the EndpointResponse
 * JSON (compact JSON holds no raw newline). One string per endpoint, not a hash, because a
 * million endpoints are a million of them: a string takes a quarter less memory than a hash
 * whose JSON is too long for a listpack, costs an AOF rewrite a third less CPU, and a batch of
 * a shard's endpoints is read with one MGET. The user id the index needs is the JSON's
 * User.UserId.
 *
 * Before this layout an endpoint was a hash {j: JSON, r: revision, u: user id}. Such a hash is
 * converted where it is met (the scripts below accept it, a read converts it) and the janitor
 * converts the rest, then sets RP_KEY_LAYOUT; a store written by an older Repoint needs no step
 * from the operator. (Instances of an older Repoint must be stopped first: they cannot read
 * this layout.) */

/* The revision of the endpoint at KEYS[1], of either layout, as a Lua expression's prelude:
 * GETRANGE fails with WRONGTYPE on a hash of the older layout, whose revision is its field r. */
#define CURRENT_REV                                                                            \
    "local cur = redis.pcall('GETRANGE', KEYS[1], 0, 63)\n"                                   \
    "if type(cur) == 'table' then cur = redis.call('HGET', KEYS[1], 'r') or ''\n"             \
    "else cur = string.match(cur, '^[^\\n]*') end\n"

/* KEYS[1] endpoint, KEYS[2] shard members, then optionally the old and the new user index.
 * ARGV: expected rev, record, endpoint id, has old key, has new key. Returns 1 when written, 0
 * when the revision moved. SET replaces a hash of the older layout too. */
static struct rp_script put_script = {.source =
    CURRENT_REV
    "if cur ~= ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[2])\n"
    "redis.call('SADD', KEYS[2], ARGV[3])\n"
    "local k = 3\n"
    "if ARGV[4] == '1' then redis.call('SREM', KEYS[k], ARGV[3]); k = k + 1 end\n"
    "if ARGV[5] == '1' then redis.call('SADD', KEYS[k], ARGV[3]) end\n"
    "return 1\n"};

/* KEYS[1] endpoint, KEYS[2] members, KEYS[3] user index (optional). ARGV: expected rev, id. */
static struct rp_script delete_script = {.source =
    CURRENT_REV
    "if cur ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[2])\n"
    "if KEYS[3] then redis.call('SREM', KEYS[3], ARGV[2]) end\n"
    "return 1\n"};

/* KEYS[1] endpoint: a hash of the older layout becomes its record. Returns the record (nil when
 * there is no endpoint), so a reader that met the hash reads on. */
static struct rp_script convert_script = {.source =
    "local kind = redis.call('TYPE', KEYS[1])['ok']\n"
    "if kind == 'string' then return redis.call('GET', KEYS[1]) end\n"
    "if kind ~= 'hash' then return false end\n"
    "local v = redis.call('HMGET', KEYS[1], 'j', 'r')\n"
    "redis.call('DEL', KEYS[1])\n"
    "if not v[1] then return false end\n"
    "local record = (v[2] or '') .. '\\n' .. v[1]\n"
    "redis.call('SET', KEYS[1], record)\n"
    "return record\n"};

/* A revision is 32 hex digits; a record whose newline is not within this many bytes is not one. */
#define RECORD_REV_MAX 64

const char *rp_endpoint_record_json(const char *record, size_t len, size_t *json_len,
                                    const char **rev, size_t *rev_len)
{
    const char *nl = memchr(record, '\n', len < RECORD_REV_MAX ? len : RECORD_REV_MAX);
    if (!nl)
        return NULL;
    if (rev) {
        *rev = record;
        *rev_len = (size_t)(nl - record);
    }
    *json_len = len - (size_t)(nl + 1 - record);
    return nl + 1;
}

/* Queues one MGET per shard present in ids (a shard is one hash tag, so one cluster slot) and
 * notes where each id's value will be: in reply slot_of[shard] at element pos[i]. Returns the
 * number of commands queued. */
static size_t queue_mgets(const char *app, const char *const *ids, size_t n, unsigned *shard,
                          size_t *pos, int *slot_of)
{
    size_t count[RP_ENDPOINT_SHARDS] = {0};
    for (size_t i = 0; i < n; i++) {
        shard[i] = rp_endpoint_shard(ids[i]);
        pos[i] = count[shard[i]]++;
    }
    char *keys = rp_malloc(n * RP_KEY_MAX);
    const char **argv = rp_malloc((n + 1) * sizeof(char *));
    size_t *lens = rp_malloc((n + 1) * sizeof(size_t));
    size_t queued = 0;
    for (unsigned s = 0; s < RP_ENDPOINT_SHARDS; s++) {
        slot_of[s] = -1;
        if (!count[s])
            continue;
        int argc = 0;
        argv[argc] = "MGET";
        lens[argc++] = 4;
        /* The shard's key prefix once, then each folded id after it (rp_key_endpoint's name). */
        char prefix[RP_KEY_MAX];
        size_t prefix_len = (size_t)rp_key_endpoint(prefix, app, s, "");
        for (size_t i = 0; i < n; i++) {
            if (shard[i] != s)
                continue;
            char *key = keys + i * RP_KEY_MAX;
            memcpy(key, prefix, prefix_len);
            rp_endpoint_key_id(ids[i], key + prefix_len, RP_KEY_MAX - prefix_len);
            lens[argc] = prefix_len + strlen(key + prefix_len);
            argv[argc++] = key;
        }
        rp_store_appendv(argc, argv, lens);
        slot_of[s] = (int)queued++;
    }
    free(lens);
    free(argv);
    free(keys);
    return queued;
}

/* What this thread last read of RP_KEY_LAYOUT, and when (rp_mono_ms): once it said settled,
 * it is read again only after LAYOUT_RECHECK_MS. */
#define LAYOUT_RECHECK_MS 2000
static _Thread_local int layout_settled;
static _Thread_local int64_t layout_read_ms;

int rp_endpoint_store_layout_settled(void)
{
    return layout_settled;
}

/* For each id MGET found nothing for (absent, or a hash of the older layout, which MGET answers
 * nil for as well), the conversion script's answer in a second round trip. Only until the
 * janitor has marked the layout settled: then nothing found is an absent endpoint, and a batch
 * of new ones (an import) costs no second trip. */
static int convert_missing(struct rp_endpoint_records *recs, const char *app,
                           const char *const *ids)
{
    size_t missing = 0;
    for (size_t i = 0; i < recs->n; i++)
        missing += !recs->value[i];
    if (!missing)
        return 0;
    size_t loads = rp_store_append_script_load(&convert_script);
    const char *sha = rp_store_script_sha(&convert_script);
    for (size_t i = 0; i < recs->n; i++) {
        if (recs->value[i])
            continue;
        char key[RP_KEY_MAX];
        rp_key_endpoint(key, app, rp_endpoint_shard(ids[i]), ids[i]);
        const char *argv[] = {"EVALSHA", sha, "1", key};
        rp_store_appendv(4, argv, NULL);
    }
    redisReply **replies = rp_malloc(missing * sizeof(redisReply *));
    int rc = rp_store_collect_after_loads(loads, replies, missing);
    if (rc == 0) {
        size_t k = 0;
        for (size_t i = 0; i < recs->n; i++) {
            if (recs->value[i])
                continue;
            redisReply *r = replies[k++];
            recs->owned[recs->n_owned++] = r;
            if (r->type == REDIS_REPLY_ERROR)
                rc = RP_ESTORE;
            else if (r->type == REDIS_REPLY_STRING)
                recs->value[i] = r;
        }
    }
    free(replies);
    return rc;
}

int rp_endpoint_store_convert(const redisReply *keys)
{
    size_t loads = rp_store_append_script_load(&convert_script);
    const char *sha = rp_store_script_sha(&convert_script);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *argv[] = {"EVALSHA", sha, "1", keys->element[i]->str};
        const size_t lens[] = {7, strlen(sha), 1, keys->element[i]->len};
        rp_store_appendv(4, argv, lens);
    }
    return rp_store_collect_ok(loads + keys->elements);
}

int rp_endpoint_records_read(struct rp_endpoint_records *recs, const char *app,
                             const char *const *ids, size_t n)
{
    memset(recs, 0, sizeof(*recs));
    recs->n = n;
    if (!n)
        return 0;
    recs->value = rp_calloc(n, sizeof(const redisReply *));
    recs->owned = rp_calloc(RP_ENDPOINT_SHARDS + 1 + n, sizeof(redisReply *));
    unsigned *shard = rp_malloc(n * sizeof(*shard));
    size_t *pos = rp_malloc(n * sizeof(*pos));
    int slot_of[RP_ENDPOINT_SHARDS];
    size_t queued = queue_mgets(app, ids, n, shard, pos, slot_of);
    /* The layout marker rides along while it is not known to be set, and once a while after:
     * not with every batch, as on a cluster its slot is mostly on another node (a round trip). */
    int64_t now = rp_mono_ms();
    int ask = !layout_settled || now - layout_read_ms >= LAYOUT_RECHECK_MS;
    if (ask)
        rp_store_append("GET " RP_KEY_LAYOUT);
    int rc = rp_store_collect(recs->owned, queued + (size_t)ask);
    if (rc == 0) {
        recs->n_owned = queued + (size_t)ask;
        if (ask) {
            const redisReply *marker = recs->owned[queued];
            layout_settled =
                marker->type == REDIS_REPLY_STRING && strcmp(marker->str, RP_LAYOUT) == 0;
            layout_read_ms = now;
        }
        for (size_t i = 0; i < queued; i++)
            if (recs->owned[i]->type != REDIS_REPLY_ARRAY)
                rc = RP_ESTORE;
    }
    int settled = layout_settled;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const redisReply *list = recs->owned[slot_of[shard[i]]];
        const redisReply *v = pos[i] < list->elements ? list->element[pos[i]] : NULL;
        if (!v)
            rc = RP_ESTORE;
        else if (v->type == REDIS_REPLY_STRING)
            recs->value[i] = v;
    }
    free(pos);
    free(shard);
    if (rc == 0 && !settled)
        rc = convert_missing(recs, app, ids);
    if (rc)
        rp_endpoint_records_free(recs);
    return rc;
}

const char *rp_endpoint_records_json(const struct rp_endpoint_records *recs, size_t i,
                                     size_t *len, const char **rev, size_t *rev_len)
{
    const redisReply *v = recs->value[i];
    return v ? rp_endpoint_record_json(v->str, v->len, len, rev, rev_len) : NULL;
}

void rp_endpoint_records_free(struct rp_endpoint_records *recs)
{
    for (size_t i = 0; i < recs->n_owned; i++)
        freeReplyObject(recs->owned[i]);
    free(recs->owned);
    free(recs->value);
    memset(recs, 0, sizeof(*recs));
}

/* Takes the reply of a compare-and-set script: 1 written, 0 lost the race. */
static int cas_result(redisReply *r)
{
    if (!r)
        return RP_ESTORE;
    int rc = r->type != REDIS_REPLY_INTEGER ? RP_ESTORE : r->integer == 1 ? 0 : RP_ECONFLICT;
    freeReplyObject(r);
    return rc;
}

void rp_stored_endpoint_cleanup(struct rp_stored_endpoint *ep)
{
    json_decref(ep->json);
    free(ep->user);
    memset(ep, 0, sizeof(*ep));
}

int rp_endpoint_store_get_many(const char *app, const char *const *ids, size_t n,
                               struct rp_stored_endpoint *out)
{
    memset(out, 0, n * sizeof(*out));
    struct rp_endpoint_records recs;
    int rc = rp_endpoint_records_read(&recs, app, ids, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t len, rev_len;
        const char *rev;
        const char *text = rp_endpoint_records_json(&recs, i, &len, &rev, &rev_len);
        if (!text)
            continue;
        out[i].json = json_loadb(text, len, 0, NULL);
        if (rev_len >= sizeof(out[i].rev))
            rev_len = sizeof(out[i].rev) - 1;
        memcpy(out[i].rev, rev, rev_len);
        out[i].rev[rev_len] = '\0';
        const json_t *user = json_object_get(json_object_get(out[i].json, "User"), "UserId");
        if (json_is_string(user) && json_string_length(user))
            out[i].user = rp_strdup(json_string_value(user));
    }
    if (rc == 0)
        rp_endpoint_records_free(&recs);
    return rc;
}

/* The keys and arguments of put_script for one endpoint; the record is owned by the caller
 * afterwards. */
struct put_args {
    char k_ep[RP_KEY_MAX], k_members[RP_KEY_MAX], k_old[RP_KEY_MAX], k_new[RP_KEY_MAX];
    char folded[RP_KEY_MAX];
    char *record; /* revision, newline, JSON */
    const char *args[9];
    int nk, na;
};

static void put_args_build(struct put_args *p, const char *app, const char *id,
                           const json_t *endpoint, const char *expected_rev, const char *old_user)
{
    unsigned shard = rp_endpoint_shard(id);
    rp_endpoint_key_id(id, p->folded, sizeof(p->folded));
    const json_t *user = json_object_get(json_object_get(endpoint, "User"), "UserId");
    const char *new_user = json_is_string(user) && json_string_length(user) ? json_string_value(user) : "";
    int has_old = old_user && *old_user && strcmp(old_user, new_user) != 0;
    int has_new = *new_user && !(old_user && strcmp(old_user, new_user) == 0);
    rp_key_endpoint(p->k_ep, app, shard, id);
    rp_key_shard_members(p->k_members, app, shard);
    p->nk = 0;
    p->args[p->nk++] = p->k_ep;
    p->args[p->nk++] = p->k_members;
    if (has_old) {
        rp_key_user(p->k_old, app, shard, old_user);
        p->args[p->nk++] = p->k_old;
    }
    if (has_new) {
        rp_key_user(p->k_new, app, shard, new_user);
        p->args[p->nk++] = p->k_new;
    }
    char rev[33];
    rp_id_new(rev);
    struct rp_json_text record;
    rp_json_text_init(&record, 1024);
    rp_json_text_rawn(&record, rev, strlen(rev));
    rp_json_text_rawn(&record, "\n", 1);
    /* json_dumps's bytes, faster (json_write.h). It fails only for what an endpoint never holds
     * (a type outside JSON, or no memory for a real number's text). */
    (void)rp_json_text_value(&record, endpoint);
    p->record = rp_json_text_finish(&record, NULL);
    p->na = p->nk;
    p->args[p->na++] = expected_rev ? expected_rev : "";
    p->args[p->na++] = p->record;
    p->args[p->na++] = p->folded;
    p->args[p->na++] = has_old ? "1" : "0";
    p->args[p->na++] = has_new ? "1" : "0";
}

int rp_endpoint_store_put(const char *app, const char *id, const json_t *endpoint,
                          const char *expected_rev, const char *old_user)
{
    struct put_args p;
    put_args_build(&p, app, id, endpoint, expected_rev, old_user);
    redisReply *r = rp_store_eval(&put_script, p.nk, p.na, p.args, NULL);
    free(p.record);
    return cas_result(r);
}

int rp_endpoint_store_put_many(const char *app, size_t n, const char *const *ids,
                               json_t *const *endpoints, const char *const *expected_revs,
                               const char *const *old_users, int *rcs)
{
    size_t loads = rp_store_append_script_load(&put_script);
    const char *sha = rp_store_script_sha(&put_script);
    for (size_t i = 0; i < n; i++) {
        struct put_args p;
        put_args_build(&p, app, ids[i], endpoints[i], expected_revs[i], old_users[i]);
        const char *argv[14];
        char nk[8];
        snprintf(nk, sizeof(nk), "%d", p.nk);
        argv[0] = "EVALSHA";
        argv[1] = sha;
        argv[2] = nk;
        memcpy(argv + 3, p.args, (size_t)p.na * sizeof(char *));
        rp_store_appendv(3 + p.na, argv, NULL);
        free(p.record);
    }
    redisReply **replies = rp_malloc((n ? n : 1) * sizeof(redisReply *));
    int rc = rp_store_collect_after_loads(loads, replies, n);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            rcs[i] = cas_result(replies[i]);
            if (rcs[i] == RP_ESTORE)
                rc = RP_ESTORE;
        }
    }
    free(replies);
    return rc;
}

int rp_endpoint_store_delete(const char *app, const char *id, const char *expected_rev,
                             const char *old_user)
{
    unsigned shard = rp_endpoint_shard(id);
    char folded[RP_KEY_MAX];
    rp_endpoint_key_id(id, folded, sizeof(folded));
    char k_ep[RP_KEY_MAX], k_members[RP_KEY_MAX], k_user[RP_KEY_MAX];
    rp_key_endpoint(k_ep, app, shard, id);
    rp_key_shard_members(k_members, app, shard);
    const char *args[5];
    int nk = 0;
    args[nk++] = k_ep;
    args[nk++] = k_members;
    if (old_user && *old_user) {
        rp_key_user(k_user, app, shard, old_user);
        args[nk++] = k_user;
    }
    int na = nk;
    args[na++] = expected_rev;
    args[na++] = folded;
    redisReply *r = rp_store_eval(&delete_script, nk, na, args, NULL);
    return cas_result(r);
}

void rp_endpoint_store_forget_address(const char *app, const json_t *endpoint)
{
    const char *ch = json_string_value(json_object_get(endpoint, "ChannelType"));
    const char *ad = json_string_value(json_object_get(endpoint, "Address"));
    const char *id = json_string_value(json_object_get(endpoint, "Id"));
    if (!ch || !ad || !id)
        return;
    char folded[RP_KEY_MAX];
    rp_endpoint_key_id(id, folded, sizeof(folded));
    rp_address_index_remove(app, ch, ad, folded);
}

/* True when the endpoint was registered (EffectiveDate) after the provider's time. */
static bool registered_after(const json_t *endpoint, int64_t since_ms)
{
    int64_t effective_ms;
    const char *effective = json_string_value(json_object_get(endpoint, "EffectiveDate"));
    return since_ms > 0 && effective && rp_iso8601_parse_ms(effective, &effective_ms) &&
           effective_ms > since_ms;
}

int rp_endpoint_store_deactivate(const char *app, const char *id, const char *address,
                                 int64_t dead_since_ms)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        struct rp_stored_endpoint ep;
        const char *ids[1] = {id};
        if (rp_endpoint_store_get_many(app, ids, 1, &ep))
            return RP_ESTORE;
        const char *current = json_string_value(json_object_get(ep.json, "Address"));
        const char *status = json_string_value(json_object_get(ep.json, "EndpointStatus"));
        if (!ep.json || !current || strcmp(current, address) != 0 ||
            (status && strcmp(status, "INACTIVE") == 0) ||
            registered_after(ep.json, dead_since_ms)) {
            rp_stored_endpoint_cleanup(&ep);
            return 0;
        }
        json_object_set_new(ep.json, "EndpointStatus", json_string("INACTIVE"));
        int rc = rp_endpoint_store_put(app, id, ep.json, ep.rev, ep.user);
        rp_stored_endpoint_cleanup(&ep);
        if (rc != RP_ECONFLICT)
            return rc;
    }
    return RP_ECONFLICT;
}

int rp_endpoint_store_replace_address(const char *app, const char *id, const char *old_address,
                                      const char *new_address)
{
    for (int attempt = 0; attempt < 16; attempt++) {
        struct rp_stored_endpoint ep;
        const char *ids[1] = {id};
        if (rp_endpoint_store_get_many(app, ids, 1, &ep))
            return RP_ESTORE;
        const char *current = json_string_value(json_object_get(ep.json, "Address"));
        const char *channel = json_string_value(json_object_get(ep.json, "ChannelType"));
        if (!ep.json || !current || !channel || strcmp(current, old_address) != 0) {
            rp_stored_endpoint_cleanup(&ep);
            return 0;
        }
        json_object_set_new(ep.json, "Address", json_string(new_address));
        int rc = rp_endpoint_store_put(app, id, ep.json, ep.rev, ep.user);
        if (rc == 0) {
            /* The index is repaired by the next write that names the address if this fails. */
            char folded[RP_KEY_MAX];
            rp_endpoint_key_id(id, folded, sizeof(folded));
            size_t loads = rp_address_index_prepare();
            rp_address_index_append_remove(app, channel, old_address, folded);
            rp_address_index_append_add(app, channel, new_address, folded); /* in full */
            rc = rp_store_collect_ok(loads + 2);
        }
        rp_stored_endpoint_cleanup(&ep); /* channel points into it */
        if (rc != RP_ECONFLICT)
            return rc;
    }
    return RP_ECONFLICT;
}

json_t *rp_endpoint_store_user_ids(const char *app, const char *user_id)
{
    for (unsigned s = 0; s < RP_ENDPOINT_SHARDS; s++) {
        char key[RP_KEY_MAX];
        rp_key_user(key, app, s, user_id);
        rp_store_append("SMEMBERS %s", key);
    }
    redisReply *replies[RP_ENDPOINT_SHARDS];
    if (rp_store_collect(replies, RP_ENDPOINT_SHARDS))
        return NULL;
    json_t *ids = json_array();
    int failed = 0;
    for (unsigned s = 0; s < RP_ENDPOINT_SHARDS; s++) {
        redisReply *r = replies[s];
        if (r->type != REDIS_REPLY_ARRAY)
            failed = 1;
        for (size_t i = 0; !failed && i < r->elements; i++)
            json_array_append_new(ids, json_string(r->element[i]->str));
        freeReplyObject(r);
    }
    if (failed) {
        json_decref(ids);
        return NULL;
    }
    return ids;
}

json_t *rp_endpoint_store_removed_attributes(const char *app)
{
    char key[RP_KEY_MAX];
    rp_key_removed_attrs(key, app);
    json_t *removed;
    if (rp_store_get_json(key, &removed) < 0)
        return NULL;
    return removed ? removed : json_object();
}
