/* Users: GetUserEndpoints and DeleteUserEndpoints over the per-shard user index. An index entry
 * is trusted only when the endpoint it names still carries that user, so even a hand-edited or
 * half-restored database cannot make these answer another user's endpoints. */
#include "api.h"
#include "endpoint_store.h"
#include "rc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_USER_ENDPOINTS 1000

/* Loads the user's endpoints; answers itself and returns NULL on failure or when none exist.
 * On success returns n stored endpoints (owned by the caller; cleanup each and free). */
static struct rp_stored_endpoint *load_user(struct rp_request *req, const char ***ids_out,
                                            size_t *n_out, json_t **ids_json)
{
    const char *app = rp_request_app(req), *user = req->params[1];
    json_t *ids = rp_endpoint_store_user_ids(app, user);
    if (!ids) {
        rp_respond_unavailable(req);
        return NULL;
    }
    size_t n = json_array_size(ids);
    if (n > MAX_USER_ENDPOINTS)
        n = MAX_USER_ENDPOINTS;
    if (n == 0) {
        json_decref(ids);
        rp_respond_error(req, 404, "NotFoundException", "User %.128s has no endpoints", user);
        return NULL;
    }
    const char **id_list = rp_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        id_list[i] = json_string_value(json_array_get(ids, i));
    struct rp_stored_endpoint *eps = rp_calloc(n, sizeof(*eps));
    if (rp_endpoint_store_get_many(app, id_list, n, eps)) {
        free(eps);
        free(id_list);
        json_decref(ids);
        rp_respond_unavailable(req);
        return NULL;
    }
    *ids_out = id_list;
    *n_out = n;
    *ids_json = ids;
    return eps;
}

static int belongs(const struct rp_stored_endpoint *ep, const char *user)
{
    return ep->json && ep->user && strcmp(ep->user, user) == 0;
}

static void release(struct rp_stored_endpoint *eps, const char **ids, size_t n, json_t *ids_json)
{
    for (size_t i = 0; i < n; i++)
        rp_stored_endpoint_cleanup(&eps[i]);
    free(eps);
    free(ids);
    json_decref(ids_json);
}

void rp_api_get_user_endpoints(struct rp_request *req)
{
    const char **ids;
    size_t n;
    json_t *ids_json;
    struct rp_stored_endpoint *eps = load_user(req, &ids, &n, &ids_json);
    if (!eps)
        return;
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++)
        if (belongs(&eps[i], req->params[1]))
            json_array_append(items, eps[i].json);
    release(eps, ids, n, ids_json);
    if (json_array_size(items) == 0) {
        json_decref(items);
        rp_respond_error(req, 404, "NotFoundException", "User %.128s has no endpoints",
                         req->params[1]);
        return;
    }
    rp_respond_json(req, 200, json_pack("{s:o}", "Item", items));
}

void rp_api_delete_user_endpoints(struct rp_request *req)
{
    const char **ids;
    size_t n;
    json_t *ids_json;
    struct rp_stored_endpoint *eps = load_user(req, &ids, &n, &ids_json);
    if (!eps)
        return;
    json_t *items = json_array();
    int failed = 0;
    for (size_t i = 0; i < n && !failed; i++) {
        if (!belongs(&eps[i], req->params[1]))
            continue;
        int rc = rp_endpoint_store_delete(rp_request_app(req), ids[i], eps[i].rev, eps[i].user);
        if (rc == 0) {
            rp_endpoint_store_forget_address(rp_request_app(req), eps[i].json);
            json_array_append(items, eps[i].json);
        }
        else if (rc != RP_ECONFLICT)
            failed = 1;
    }
    release(eps, ids, n, ids_json);
    if (failed) {
        json_decref(items);
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 202, json_pack("{s:o}", "Item", items));
}
