/* PutEvents: endpoint data and events an app reports, per endpoint of a BatchItem. The endpoint
 * data is merged into the stored endpoint as UpdateEndpoint merges it; each event becomes a
 * record on rp:events and the app's event stream (gateway/app_events.h). Like Pinpoint, an item
 * that does not fit is answered 400 in Results and the rest are taken; only a request whose
 * BatchItem itself is malformed is refused whole. */
#include "api.h"
#include "../app_events.h"
#include "../config.h"
#include "../endpoint.h"
#include "../endpoint_store.h"
#include "../endpoint_write.h"
#include "../events.h"
#include "../rc.h"
#include "../util.h"

#include <stdlib.h>
#include <string.h>

static json_t *item_result(int status, const char *message)
{
    return json_pack("{s:s, s:i}", "Message", message, "StatusCode", status);
}

static json_t *item_error(const struct rp_err *err, const char *prefix)
{
    char message[sizeof(err->msg) + sizeof(err->field) + 64];
    snprintf(message, sizeof(message), "%s%s%s%s", prefix, err->field,
             err->field[0] || prefix[0] ? ": " : "", err->msg);
    return item_result(400, message);
}

/* The request's shape before anything is written: BatchItem an object of at most
 * RP_APP_EVENTS_MAX events over its endpoints, each item an object whose Endpoint and Events are
 * objects. */
static int check_batch(const json_t *batch, struct rp_err *err)
{
    if (!json_is_object(batch) || json_object_size(batch) == 0)
        return rp_err_set(err, RP_EINVAL, "BatchItem",
                          "is required: an object of endpoint ids to EventsBatch");
    size_t events = 0;
    const char *id;
    const json_t *item;
    json_object_foreach((json_t *)batch, id, item)
    {
        const json_t *endpoint = json_object_get(item, "Endpoint");
        const json_t *evs = json_object_get(item, "Events");
        if (!json_is_object(item) || (endpoint && !json_is_object(endpoint)) ||
            (evs && !json_is_object(evs)))
            return rp_err_set(err, RP_EINVAL, "BatchItem",
                              "%.64s: must be an object with Endpoint and Events objects", id);
        events += json_object_size(evs);
    }
    if (events > RP_APP_EVENTS_MAX || json_object_size(batch) > RP_APP_EVENTS_MAX)
        return rp_err_set(err, RP_EINVAL, "BatchItem",
                          "a request holds at most %d events and %d endpoints",
                          RP_APP_EVENTS_MAX, RP_APP_EVENTS_MAX);
    return 0;
}

/* The endpoint part of one item: merged into the stored endpoint when it says anything.
 * Returns the EndpointItemResponse; *store_failed set when Redis could not be asked. */
static json_t *apply_endpoint(const char *app, const char *id, const json_t *endpoint,
                              const json_t *removed, int *store_failed)
{
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_endpoint_id_validate(id, "EndpointId", &err))
        return item_error(&err, "");
    if (!endpoint || json_object_size(endpoint) == 0)
        return item_result(202, "Accepted");
    if (rp_endpoint_validate(endpoint, RP_ENDPOINT_REQUEST, &err))
        return item_error(&err, "Endpoint.");
    int rc = rp_endpoint_apply_update(app, id, endpoint, removed, &err);
    if (rc == 0)
        return item_result(202, "Accepted");
    if (rc == RP_EINVAL)
        return item_error(&err, "Endpoint.");
    if (rc == RP_ECONFLICT)
        return item_result(409, "The endpoint is being changed by other requests; retry");
    *store_failed = 1;
    return NULL;
}

void rp_api_put_events(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    const json_t *batch = json_object_get(body, "BatchItem");
    struct rp_err err;
    rp_err_clear(&err);
    if (check_batch(batch, &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *removed = rp_endpoint_store_removed_attributes(app);
    if (!removed) {
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    const char *account = rp_config_str(rp_ctx.cfg, "account_id");
    int64_t now = rp_now_ms();
    json_t *records[RP_APP_EVENTS_MAX];
    size_t n_records = 0;
    int store_failed = 0;
    json_t *results = json_object();
    const char *id;
    const json_t *item;
    json_object_foreach((json_t *)batch, id, item)
    {
        const json_t *endpoint = json_object_get(item, "Endpoint");
        json_t *endpoint_result = apply_endpoint(app, id, endpoint, removed, &store_failed);
        if (store_failed)
            break;
        int endpoint_ok = json_integer_value(json_object_get(endpoint_result, "StatusCode")) ==
                          202;
        json_t *event_results = json_object();
        const char *event_id;
        const json_t *event;
        json_object_foreach(json_object_get(item, "Events"), event_id, event)
        {
            json_t *rec = NULL;
            rp_err_clear(&err);
            if (endpoint_ok)
                rec = rp_app_event_record(app, account, id, endpoint, event, now, &err);
            else
                rp_err_set(&err, RP_EINVAL, "", "the endpoint data of this item was refused");
            if (rec)
                records[n_records++] = rec;
            json_object_set_new(event_results, event_id,
                                rec ? item_result(202, "Accepted") : item_error(&err, ""));
        }
        json_object_set_new(results, id,
                            json_pack("{s:o, s:o}", "EndpointItemResponse", endpoint_result,
                                      "EventsItemResponse", event_results));
    }
    if (!store_failed && n_records && rp_events_append(records, n_records))
        store_failed = 1;
    for (size_t i = 0; i < n_records; i++)
        json_decref(records[i]);
    json_decref(removed);
    json_decref(body);
    if (store_failed) {
        json_decref(results);
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 202, json_pack("{s:o}", "Results", results));
}
