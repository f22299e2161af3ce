#include "endpoint_store.h"
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

/* KEYS[1] endpoint, KEYS[2] shard members, then optionally the old and the new user index.
 * ARGV: expected rev, new rev, json, endpoint id, new user ('' = none), has old key, has new key.
 * Returns 1 when written, 0 when the revision moved. One HSET writes the user too (an import
 * runs this per endpoint); a user is only deleted when there was one (has old key). */
static struct rp_script put_script = {.source =
    "local cur = redis.call('HGET', KEYS[1], 'r') or ''\n"
    "if cur ~= ARGV[1] then return 0 end\n"
    "if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'j', ARGV[3], 'r', ARGV[2], 'u', ARGV[5])\n"
    "else\n"
    "  redis.call('HSET', KEYS[1], 'j', ARGV[3], 'r', ARGV[2])\n"
    "  if ARGV[6] == '1' then redis.call('HDEL', KEYS[1], 'u') end\n"
    "end\n"
    "redis.call('SADD', KEYS[2], ARGV[4])\n"
    "local k = 3\n"
    "if ARGV[6] == '1' then redis.call('SREM', KEYS[k], ARGV[4]); k = k + 1 end\n"
    "if ARGV[7] == '1' then redis.call('SADD', KEYS[k], ARGV[4]) end\n"
    "return 1\n"};

/* KEYS[1] endpoint, KEYS[2] members, KEYS[3] user index (optional). ARGV: expected rev, id. */
static struct rp_script delete_script = {.source =
    "local cur = redis.call('HGET', KEYS[1], 'r') or ''\n"
    "if cur ~= ARGV[1] then return 0 end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('SREM', KEYS[2], ARGV[2])\n"
    "if KEYS[3] then redis.call('SREM', KEYS[3], ARGV[2]) end\n"
    "return 1\n"};

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
    for (size_t i = 0; i < n; i++) {
        char key[RP_KEY_MAX];
        rp_key_endpoint(key, app, rp_endpoint_shard(ids[i]), ids[i]);
        rp_store_append("HMGET %s j r u", key);
    }
    redisReply *stack[128];
    redisReply **replies = n <= 128 ? stack : rp_malloc(n * sizeof(redisReply *));
    int rc = rp_store_collect(replies, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        redisReply *r = replies[i];
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
            rc = RP_ESTORE;
            break;
        }
        if (r->element[0]->type == REDIS_REPLY_STRING)
            out[i].json = json_loadb(r->element[0]->str, r->element[0]->len, 0, NULL);
        if (r->element[1]->type == REDIS_REPLY_STRING)
            snprintf(out[i].rev, sizeof(out[i].rev), "%s", r->element[1]->str);
        if (r->element[2]->type == REDIS_REPLY_STRING)
            out[i].user = rp_strdup(r->element[2]->str);
    }
    for (size_t i = 0; i < n; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    if (replies != stack)
        free(replies);
    if (rc)
        for (size_t i = 0; i < n; i++)
            rp_stored_endpoint_cleanup(&out[i]);
    return rc;
}

/* The keys and arguments of put_script for one endpoint; text (the JSON) is owned by the
 * caller afterwards. */
struct put_args {
    char k_ep[RP_KEY_MAX], k_members[RP_KEY_MAX], k_old[RP_KEY_MAX], k_new[RP_KEY_MAX];
    char folded[RP_KEY_MAX], rev[33];
    char *text;
    const char *args[11];
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
    rp_id_new(p->rev);
    p->text = rp_json_dump(endpoint, NULL); /* json_dumps's bytes, faster (json_write.h) */
    p->na = p->nk;
    p->args[p->na++] = expected_rev ? expected_rev : "";
    p->args[p->na++] = p->rev;
    p->args[p->na++] = p->text;
    p->args[p->na++] = p->folded;
    p->args[p->na++] = new_user;
    p->args[p->na++] = has_old ? "1" : "0";
    p->args[p->na++] = has_new ? "1" : "0";
}

int rp_endpoint_store_put(const char *app, const char *id, const json_t *endpoint,
                          const char *expected_rev, const char *old_user)
{
    struct put_args p;
    put_args_build(&p, app, id, endpoint, expected_rev, old_user);
    redisReply *r = rp_store_eval(&put_script, p.nk, p.na, p.args, NULL);
    free(p.text);
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
        free(p.text);
    }
    redisReply **replies = rp_malloc((n + loads) * sizeof(redisReply *));
    int rc = rp_store_collect(replies, n + loads);
    if (rc == 0) {
        for (size_t i = 0; i < loads; i++)
            freeReplyObject(replies[i]);
        for (size_t i = 0; i < n; i++) {
            rcs[i] = cas_result(replies[i + loads]);
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
    char key[RP_KEY_MAX], folded[RP_KEY_MAX];
    rp_key_address(key, app, ch, ad);
    rp_endpoint_key_id(id, folded, sizeof(folded));
    redisReply *r = rp_store_command("SREM %s %s", key, folded);
    if (r)
        freeReplyObject(r);
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
        char old_key[RP_KEY_MAX], new_key[RP_KEY_MAX], folded[RP_KEY_MAX];
        rp_key_address(old_key, app, channel, old_address);
        rp_key_address(new_key, app, channel, new_address);
        rp_endpoint_key_id(id, folded, sizeof(folded));
        json_object_set_new(ep.json, "Address", json_string(new_address));
        int rc = rp_endpoint_store_put(app, id, ep.json, ep.rev, ep.user);
        rp_stored_endpoint_cleanup(&ep);
        if (rc == RP_ECONFLICT)
            continue;
        if (rc)
            return rc;
        /* The index is repaired by the next write that names the address if this fails. */
        rp_store_append("SREM %s %s", old_key, folded);
        rp_store_append("SADD %s %s", new_key, folded);
        redisReply *replies[2];
        if (rp_store_collect(replies, 2))
            return RP_ESTORE;
        freeReplyObject(replies[0]);
        freeReplyObject(replies[1]);
        return 0;
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
