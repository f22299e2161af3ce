/* Endpoints: UpdateEndpoint, UpdateEndpointsBatch, GetEndpoint, DeleteEndpoint, and
 * RemoveAttributes. Writes are read-merge-compare-and-set (gateway/endpoint_store.h), retried a
 * few times when another writer got there first. */
#include "api.h"
#include "endpoint.h"
#include "endpoint_store.h"
#include "endpoint_write.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CAS_ATTEMPTS 64 /* as in endpoint_write.c */
#define MAX_BATCH 100
#define MAX_USER_ID 256

/* Names the batch item in a field path: "Address" -> "Item[3].Address". */
static void prefix_item_field(struct rp_err *err, size_t index)
{
    char field[sizeof(err->field) + 32];
    snprintf(field, sizeof(field), "Item[%zu]%s%s", index, err->field[0] ? "." : "", err->field);
    snprintf(err->field, sizeof(err->field), "%.63s", field);
}

static void respond_accepted(struct rp_request *req)
{
    rp_respond_json(req, 202, json_pack("{s:s, s:s}", "Message", "Accepted", "RequestID",
                                        req->request_id));
}

static int validate_user_id(const json_t *req_body, const char *prefix, struct rp_err *err)
{
    const json_t *user = json_object_get(json_object_get(req_body, "User"), "UserId");
    if (json_is_string(user) && json_string_length(user) > MAX_USER_ID)
        return rp_err_set(err, RP_EINVAL, prefix[0] ? "Item.User.UserId" : "User.UserId",
                          "must be at most %d characters", MAX_USER_ID);
    return 0;
}

static void respond_rc(struct rp_request *req, int rc, const struct rp_err *err)
{
    if (rc == RP_EINVAL)
        rp_respond_bad_request(req, err);
    else if (rc == RP_ECONFLICT)
        rp_respond_error(req, 409, "ConflictException",
                         "The endpoint is being changed by other requests; retry");
    else
        rp_respond_unavailable(req);
}

void rp_api_update_endpoint(struct rp_request *req)
{
    const char *app = rp_request_app(req), *id = req->params[1];
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_endpoint_id_validate(id, "endpoint-id", &err)) {
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    if (rp_endpoint_validate(body, RP_ENDPOINT_REQUEST, &err) ||
        validate_user_id(body, "", &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *removed = rp_endpoint_store_removed_attributes(app);
    int rc = removed ? rp_endpoint_apply_update(app, id, body, removed, &err) : RP_ESTORE;
    json_decref(removed);
    json_decref(body);
    if (rc)
        respond_rc(req, rc, &err);
    else
        respond_accepted(req);
}

/* Writes a validated batch. Every item is merged in memory first (an id named twice merges in
 * order), so an item that only fails once merged (21 attributes in all) fails the batch before
 * anything is written; then each final endpoint is written with one compare-and-set, and an
 * endpoint someone else changed meanwhile is redone from its items alone. */
static int write_batch(const char *app, const json_t *items, const json_t *removed,
                       struct rp_err *err)
{
    size_t n = json_array_size(items);
    const char *ids[MAX_BATCH];
    for (size_t i = 0; i < n; i++)
        ids[i] = json_string_value(json_object_get(json_array_get(items, i), "Id"));
    struct rp_stored_endpoint cur[MAX_BATCH];
    if (rp_endpoint_store_get_many(app, ids, n, cur))
        return RP_ESTORE;
    json_t *merged[MAX_BATCH] = {0};
    size_t last[MAX_BATCH]; /* last[i]: the item whose merge holds id i's final state */
    int rc = 0;
    char now[RP_ISO_SIZE];
    rp_api_now_iso(now);
    for (size_t i = 0; i < n && !rc; i++) {
        size_t first = i;
        for (size_t j = 0; j < i; j++)
            if (strcasecmp(ids[j], ids[i]) == 0) {
                first = j;
                break;
            }
        const json_t *base = first == i ? cur[i].json : merged[first];
        json_t *m = rp_endpoint_merge(base, json_array_get(items, i), removed, app, ids[i], now,
                                      err);
        if (!m) {
            prefix_item_field(err, i);
            rc = RP_EINVAL;
            break;
        }
        json_decref(merged[first]);
        merged[first] = m;
        last[first] = i;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (!merged[i])
            continue; /* a repeated id: written with its first occurrence */
        int put = rp_endpoint_store_put(app, ids[i], merged[i], cur[i].rev, cur[i].user);
        for (size_t j = i; put == 0 && j <= last[i]; j++)
            if (strcasecmp(ids[j], ids[i]) == 0)
                put = rp_endpoint_finish_write(app, ids[i], cur[i].json, merged[i], json_array_get(items, j));
        if (put == RP_ECONFLICT) {
            put = 0;
            for (size_t j = i; j <= last[i] && !put; j++) {
                if (strcasecmp(ids[j], ids[i]) != 0)
                    continue;
                put = rp_endpoint_apply_update(app, ids[i], json_array_get(items, j), removed, err);
                if (put == RP_EINVAL)
                    prefix_item_field(err, j);
            }
        }
        rc = put;
    }
    for (size_t i = 0; i < n; i++) {
        json_decref(merged[i]);
        rp_stored_endpoint_cleanup(&cur[i]);
    }
    return rc;
}

void rp_api_update_endpoints_batch(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    json_t *items = json_object_get(body, "Item");
    if (!json_is_array(items) || json_array_size(items) == 0 ||
        json_array_size(items) > MAX_BATCH) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException",
                         "Item: must be an array of 1 to %d endpoints", MAX_BATCH);
        return;
    }
    size_t i;
    json_t *item;
    /* Validate everything before writing anything, so a bad item fails the batch whole. */
    json_array_foreach(items, i, item)
    {
        const json_t *id = json_object_get(item, "Id");
        if (!json_is_object(item) || rp_endpoint_validate(item, RP_ENDPOINT_BATCH_ITEM, &err) ||
            rp_endpoint_id_validate(json_string_value(id), "Id", &err) ||
            validate_user_id(item, "Item", &err)) {
            if (!json_is_object(item))
                rp_err_set(&err, RP_EINVAL, "", "must be an object");
            prefix_item_field(&err, i);
            json_decref(body);
            rp_respond_bad_request(req, &err);
            return;
        }
    }
    json_t *removed = rp_endpoint_store_removed_attributes(app);
    int rc = removed ? write_batch(app, items, removed, &err) : RP_ESTORE;
    json_decref(removed);
    json_decref(body);
    if (rc)
        respond_rc(req, rc, &err);
    else
        respond_accepted(req);
}

/* Reads one endpoint; answers 400/404/5xx itself and returns -1 when there is none. */
static int load_endpoint(struct rp_request *req, struct rp_stored_endpoint *out)
{
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_endpoint_id_validate(req->params[1], "endpoint-id", &err)) {
        rp_respond_bad_request(req, &err);
        return -1;
    }
    const char *ids[1] = {req->params[1]};
    if (rp_endpoint_store_get_many(rp_request_app(req), ids, 1, out)) {
        rp_respond_unavailable(req);
        return -1;
    }
    if (!out->json) {
        rp_stored_endpoint_cleanup(out);
        rp_respond_error(req, 404, "NotFoundException", "Endpoint %.128s not found",
                         req->params[1]);
        return -1;
    }
    return 0;
}

void rp_api_get_endpoint(struct rp_request *req)
{
    struct rp_stored_endpoint ep;
    if (load_endpoint(req, &ep))
        return;
    rp_respond_json(req, 200, json_incref(ep.json));
    rp_stored_endpoint_cleanup(&ep);
}

void rp_api_delete_endpoint(struct rp_request *req)
{
    for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
        struct rp_stored_endpoint ep;
        if (load_endpoint(req, &ep))
            return;
        int rc = rp_endpoint_store_delete(rp_request_app(req), req->params[1], ep.rev, ep.user);
        if (rc == 0) {
            rp_endpoint_store_forget_address(rp_request_app(req), ep.json);
            rp_respond_json(req, 202, json_incref(ep.json));
        }
        rp_stored_endpoint_cleanup(&ep);
        if (rc == 0)
            return;
        if (rc != RP_ECONFLICT) {
            rp_respond_unavailable(req);
            return;
        }
    }
    rp_respond_error(req, 409, "ConflictException",
                     "The endpoint is being changed by other requests; retry");
}

/* Drops the blacklisted names (globs allowed) from the app's attribute registry and returns the
 * names that remain (new reference), or NULL on store failure. */
static json_t *remaining_attributes(const char *app, const char *type, const json_t *blacklist)
{
    char key[RP_KEY_MAX];
    rp_key_attribute_names(key, app, type);
    redisReply *r = rp_store_command("SMEMBERS %s", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return NULL;
    }
    json_t *remaining = json_array();
    int failed = 0;
    for (size_t i = 0; i < r->elements && !failed; i++) {
        const char *name = r->element[i]->str;
        size_t j;
        json_t *pattern;
        int removed = 0;
        json_array_foreach(blacklist, j, pattern) removed |=
            fnmatch(json_string_value(pattern), name, 0) == 0;
        if (!removed) {
            json_array_append_new(remaining, json_string(name));
            continue;
        }
        redisReply *d = rp_store_command("SREM %s %s", key, name);
        failed = !rp_reply_ok(d);
        if (d)
            freeReplyObject(d);
    }
    freeReplyObject(r);
    if (failed) {
        json_decref(remaining);
        return NULL;
    }
    return remaining;
}

void rp_api_remove_attributes(struct rp_request *req)
{
    const char *app = rp_request_app(req), *type = req->params[1];
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_endpoint_attribute_type_validate(type, &err)) {
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    json_t *blacklist = json_object_get(body, "Blacklist");
    size_t i;
    json_t *name;
    int valid = json_is_array(blacklist) && json_array_size(blacklist) <= 1000;
    json_array_foreach(blacklist, i, name) valid &= json_is_string(name) &&
                                                    json_string_length(name) > 0 &&
                                                    json_string_length(name) <= 50;
    if (!valid) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException",
                         "Blacklist: must be an array of attribute names (1-50 characters)");
        return;
    }
    json_t *removed = rp_endpoint_store_removed_attributes(app);
    if (!removed) {
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    json_t *list = json_object_get(removed, type);
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(removed, type, list);
    }
    json_array_foreach(blacklist, i, name)
    {
        size_t j;
        json_t *have;
        int present = 0;
        json_array_foreach(list, j, have) present |= json_equal(have, name);
        if (!present)
            json_array_append(list, name);
    }
    char key[RP_KEY_MAX];
    rp_key_removed_attrs(key, app);
    int ok = rp_store_set_json(key, removed) == 0;
    json_decref(removed);
    if (!ok) {
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    json_t *remaining = remaining_attributes(app, type, blacklist);
    json_decref(body);
    if (!remaining) {
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, json_pack("{s:s, s:s, s:o}", "ApplicationId", app, "AttributeType",
                                        type, "Attributes", remaining));
}
