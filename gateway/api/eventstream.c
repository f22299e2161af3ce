/* Event stream settings: GetEventStream, PutEventStream, DeleteEventStream. One JSON string
 * per app under rp:{a:<app>}:eventstream (events.h): DestinationStreamArn, RoleArn,
 * LastModifiedDate, LastUpdatedBy. The forwarder reads it with a few seconds of caching, so a
 * change reaches delivery within that time; RP_EVENTS_DEST_APPS lists the apps that have one.
 *
 * RoleArn is required by Pinpoint's model (and the SDKs insist on it); Repoint has no IAM role
 * to assume, so it is stored and echoed, never used. LastUpdatedBy is the access key id that
 * made the change (Pinpoint writes the caller's IAM identity). ExternalId is deprecated in
 * Pinpoint and never written. */
#include "eventstream.h"
#include "api.h"
#include "events.h"
#include "jsonv.h"
#include "log.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ROLE_ARN 2048

static json_t *stream_response(const char *app, const json_t *stored)
{
    json_t *resp = json_pack("{s:s}", "ApplicationId", app);
    static const char *const members[] = {"DestinationStreamArn", "RoleArn", "LastModifiedDate",
                                          "LastUpdatedBy"};
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        json_t *v = json_object_get(stored, members[i]);
        if (json_is_string(v))
            json_object_set(resp, members[i], v);
    }
    return resp;
}

/* Answers a store reply holding the stored settings (or nil): 200 with the EventStream, 404, or
 * the store failure. Takes r. */
static void respond_stored(struct rp_request *req, redisReply *r)
{
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        rp_respond_unavailable(req);
        return;
    }
    json_t *stored = r->type == REDIS_REPLY_STRING ? json_loads(r->str, 0, NULL) : NULL;
    freeReplyObject(r);
    if (!stored) {
        rp_respond_not_found(req, "event stream");
        return;
    }
    rp_respond_json(req, 200, stream_response(rp_request_app(req), stored));
    json_decref(stored);
}

void rp_api_get_event_stream(struct rp_request *req)
{
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, rp_request_app(req));
    respond_stored(req, rp_store_command("GET %s", key));
}

static int validate(const json_t *body, const char **dest_arn, const char **role_arn,
                    struct rp_err *err)
{
    struct rp_event_dest dest;
    int rc = rp_jsonv_string(body, NULL, "DestinationStreamArn", RP_EVENTS_DEST_MAX, dest_arn, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return rp_err_set(err, RP_EINVAL, "DestinationStreamArn", "is required");
    if ((rc = rp_events_dest_parse(*dest_arn, &dest, err)) < 0)
        return rc;
    rc = rp_jsonv_string(body, NULL, "RoleArn", MAX_ROLE_ARN, role_arn, err);
    if (rc < 0)
        return rc;
    if (rc == 0)
        return rp_err_set(err, RP_EINVAL, "RoleArn", "is required");
    return 0;
}

void rp_api_put_event_stream(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    const char *dest_arn = NULL, *role_arn = NULL;
    if (validate(body, &dest_arn, &role_arn, &err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    char now[RP_ISO_SIZE];
    rp_api_now_iso(now);
    json_t *stored = json_pack("{s:s, s:s, s:s}", "DestinationStreamArn", dest_arn, "RoleArn",
                               role_arn, "LastModifiedDate", now);
    if (req->credential)
        json_object_set_new(stored, "LastUpdatedBy", json_string(req->credential->access_key_id));
    json_decref(body);
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, rp_request_app(req));
    if (rp_store_set_json(key, stored) < 0 || rp_events_list_app(rp_request_app(req)) < 0) {
        json_decref(stored);
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, stream_response(rp_request_app(req), stored));
    json_decref(stored);
}

/* GETDEL answers the settings it removed in one step, so two concurrent deletes cannot both
 * answer 200. */
void rp_api_delete_event_stream(struct rp_request *req)
{
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, rp_request_app(req));
    redisReply *r = rp_store_command("GETDEL %s", key);
    if (rp_reply_ok(r) && r->type == REDIS_REPLY_STRING &&
        rp_events_unlist_app(rp_request_app(req)) < 0)
        /* Harmless: the forwarder reads events it then drops, until its next start. */
        rp_warn("events", "app %s stays listed as having an event stream", rp_request_app(req));
    respond_stored(req, r);
}
