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

/* The EndpointItemResponse of every item, written in one batch: rp_endpoint_write_many merges
 * each item's endpoint data as UpdateEndpoint does, in a few pipelined round trips for the whole
 * request. An item without endpoint data writes nothing. ok[i] says whether item i was taken.
 * Returns RP_ESTORE when Redis could not be asked. */
static int apply_endpoints(const char *app, const json_t *batch, const json_t *removed,
                           json_t **responses, int *ok)
{
    size_t n = 0, n_write = 0;
    const char *ids[RP_APP_EVENTS_MAX];
    json_t *reqs[RP_APP_EVENTS_MAX];
    size_t item_of[RP_APP_EVENTS_MAX];
    const char *id;
    const json_t *item;
    json_object_foreach((json_t *)batch, id, item)
    {
        const json_t *endpoint = json_object_get(item, "Endpoint");
        struct rp_err err;
        rp_err_clear(&err);
        ok[n] = 0;
        responses[n] = NULL;
        if (rp_endpoint_id_validate(id, "EndpointId", &err))
            responses[n] = item_error(&err, "");
        else if (endpoint && json_object_size(endpoint) &&
                 rp_endpoint_validate(endpoint, RP_ENDPOINT_REQUEST, &err))
            responses[n] = item_error(&err, "Endpoint.");
        else if (endpoint && json_object_size(endpoint)) {
            ids[n_write] = id;
            reqs[n_write] = (json_t *)endpoint;
            item_of[n_write++] = n;
        } else {
            ok[n] = 1;
        }
        n++;
    }
    int rcs[RP_APP_EVENTS_MAX];
    struct rp_err errs[RP_APP_EVENTS_MAX];
    if (rp_endpoint_write_many(RP_ENDPOINT_REQUEST, app, n_write, ids, reqs, removed, rcs, errs)) {
        for (size_t i = 0; i < n; i++)
            json_decref(responses[i]);
        return RP_ESTORE;
    }
    for (size_t w = 0; w < n_write; w++) {
        size_t i = item_of[w];
        ok[i] = rcs[w] == 0;
        responses[i] = ok[i] ? NULL : item_error(&errs[w], "Endpoint.");
    }
    for (size_t i = 0; i < n; i++)
        if (ok[i])
            responses[i] = item_result(202, "Accepted");
    return 0;
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
    json_t *endpoint_results[RP_APP_EVENTS_MAX] = {0};
    int endpoint_ok[RP_APP_EVENTS_MAX] = {0};
    if (apply_endpoints(app, batch, removed, endpoint_results, endpoint_ok)) {
        json_decref(removed);
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    const char *account = rp_config_str(rp_ctx.cfg, "account_id");
    int64_t now = rp_now_ms();
    json_t *records[RP_APP_EVENTS_MAX];
    size_t n_records = 0, at = 0;
    json_t *results = json_object();
    const char *id;
    const json_t *item;
    json_object_foreach((json_t *)batch, id, item)
    {
        const json_t *endpoint = json_object_get(item, "Endpoint");
        json_t *event_results = json_object();
        const char *event_id;
        const json_t *event;
        json_object_foreach(json_object_get(item, "Events"), event_id, event)
        {
            json_t *rec = NULL;
            rp_err_clear(&err);
            if (endpoint_ok[at])
                rec = rp_app_event_record(app, account, id, endpoint, event, now, &err);
            else
                rp_err_set(&err, RP_EINVAL, "", "the endpoint data of this item was refused");
            if (rec)
                records[n_records++] = rec;
            json_object_set_new(event_results, event_id,
                                rec ? item_result(202, "Accepted") : item_error(&err, ""));
        }
        json_object_set_new(results, id,
                            json_pack("{s:o, s:o}", "EndpointItemResponse", endpoint_results[at],
                                      "EventsItemResponse", event_results));
        at++;
    }
    int store_failed = n_records && rp_events_append(records, n_records);
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
