/* Dead letters (Repoint-only): GET /repoint/v1/dead-letters lists deliveries that exhausted
 * their attempts or their deadline, with their last result; POST /repoint/v1/dead-letters/replay
 * puts chosen ones (or all, in batches) back on their queue with fresh attempts. A key limited
 * to some apps sees and replays only those apps' dead letters. */
#include "api.h"
#include "config.h"
#include "queue.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

#define MAX_PAGE 1000
#define MAX_REPLAY 1000

/* Reads one XRANGE entry's fields into the API shape; returns a new object or NULL. */
static json_t *entry_json(const redisReply *entry, const char **app_out)
{
    const redisReply *fields = entry->element[1];
    json_t *delivery = NULL, *result = NULL;
    *app_out = "";
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2) {
        const char *name = fields->element[i]->str;
        const redisReply *v = fields->element[i + 1];
        if (strcmp(name, "d") == 0)
            delivery = json_loadb(v->str, v->len, 0, NULL);
        else if (strcmp(name, "r") == 0)
            result = json_loadb(v->str, v->len, 0, NULL);
        else if (strcmp(name, "app") == 0)
            *app_out = v->str;
    }
    long long ms = strtoll(entry->element[0]->str, NULL, 10);
    char when[RP_ISO_SIZE];
    rp_time_iso(ms, when);
    json_t *out = json_pack("{s:s, s:s, s:s}", "Id", entry->element[0]->str, "ApplicationId",
                            *app_out, "DeadLetteredAt", when);
    if (delivery) {
        json_object_set(out, "MessageId", json_object_get(delivery, "id"));
        json_object_set(out, "ChannelType", json_object_get(delivery, "ch"));
        json_object_set(out, "Attempts", json_object_get(delivery, "n"));
        if (json_object_get(delivery, "ep"))
            json_object_set(out, "EndpointId", json_object_get(delivery, "ep"));
        json_decref(delivery);
    }
    if (result) {
        json_object_set(out, "DeliveryStatus", json_object_get(result, "st"));
        json_object_set(out, "StatusCode", json_object_get(result, "code"));
        json_object_set(out, "StatusMessage", json_object_get(result, "msg"));
        json_decref(result);
    }
    return out;
}

static int allowed(const struct rp_request *req, const char *app)
{
    return !req->credential || rp_credential_allows_app(req->credential, app);
}

void rp_api_get_dead_letters(struct rp_request *req)
{
    char count_s[16] = "", token[64] = "";
    if (rp_request_query(req, "page-size", count_s, sizeof(count_s)) < 0 ||
        rp_request_query(req, "token", token, sizeof(token)) < 0)
        return;
    long count = count_s[0] ? strtol(count_s, NULL, 10) : 100;
    if (count < 1 || count > MAX_PAGE) {
        rp_respond_error(req, 400, "BadRequestException",
                         "page-size: must be an integer between 1 and %d", MAX_PAGE);
        return;
    }
    for (const char *p = token; *p; p++)
        if (!strchr("0123456789-", *p)) {
            rp_respond_error(req, 400, "BadRequestException", "token: not a token Repoint issued");
            return;
        }
    char start[80];
    snprintf(start, sizeof(start), "%s%s", token[0] ? "(" : "-", token[0] ? token : "");
    redisReply *r = rp_store_command("XRANGE " RP_QUEUE_DLQ " %s + COUNT %ld", start, count);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        rp_respond_unavailable(req);
        return;
    }
    json_t *items = json_array();
    for (size_t i = 0; i < r->elements; i++) {
        const char *app;
        json_t *item = entry_json(r->element[i], &app);
        if (item && allowed(req, app))
            json_array_append_new(items, item);
        else
            json_decref(item);
    }
    json_t *resp = json_pack("{s:o}", "DeadLetters", items);
    if ((long)r->elements == count)
        json_object_set_new(resp, "NextToken", json_string(r->element[r->elements - 1]->element[0]->str));
    freeReplyObject(r);
    rp_respond_json(req, 200, resp);
}

/* Requeues one dead letter (entry fields) with fresh attempts; nobody waits for it now, so it
 * travels as a campaign-style delivery. Returns 1 requeued, 0 skipped, RP_ESTORE. */
static int replay_entry(struct rp_request *req, const redisReply *entry)
{
    const redisReply *fields = entry->element[1];
    struct rp_delivery d;
    rp_delivery_init(&d);
    int ok = 0;
    for (size_t i = 0; fields->type == REDIS_REPLY_ARRAY && i + 1 < fields->elements; i += 2)
        if (strcmp(fields->element[i]->str, "d") == 0) {
            json_t *doc = json_loadb(fields->element[i + 1]->str, fields->element[i + 1]->len, 0,
                                     NULL);
            ok = doc && rp_delivery_from_json(&d, doc) == 0;
            json_decref(doc);
        }
    if (!ok || !allowed(req, d.app_id)) {
        rp_delivery_cleanup(&d);
        return 0;
    }
    d.attempts = 0;
    d.origin = RP_ORIGIN_CAMPAIGN;
    d.reply_to[0] = '\0';
    d.deadline_ms =
        rp_now_ms() + rp_config_int(rp_ctx.cfg, "queue.campaign_deadline_seconds") * 1000;
    struct rp_delivery *list[1] = {&d};
    int rc = rp_queue_push(list, 1);
    rp_delivery_cleanup(&d);
    if (rc)
        return RP_ESTORE;
    redisReply *del = rp_store_command("XDEL " RP_QUEUE_DLQ " %s", entry->element[0]->str);
    if (del)
        freeReplyObject(del);
    return 1;
}

void rp_api_replay_dead_letters(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    json_t *ids = json_object_get(body, "Ids");
    int all = json_is_true(json_object_get(body, "All"));
    if ((!ids && !all) || (ids && (!json_is_array(ids) || json_array_size(ids) > MAX_REPLAY))) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException",
                         "Ids: give an array of at most %d dead-letter ids, or \"All\": true",
                         MAX_REPLAY);
        return;
    }
    long replayed = 0;
    int failed = 0;
    if (ids) {
        size_t i;
        json_t *id;
        json_array_foreach(ids, i, id)
        {
            if (!json_is_string(id))
                continue;
            redisReply *r = rp_store_command("XRANGE " RP_QUEUE_DLQ " %s %s", json_string_value(id),
                                             json_string_value(id));
            if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
                failed = 1;
                if (r)
                    freeReplyObject(r);
                break;
            }
            for (size_t k = 0; k < r->elements && !failed; k++) {
                int rc = replay_entry(req, r->element[k]);
                failed = rc < 0;
                replayed += rc > 0;
            }
            freeReplyObject(r);
        }
    } else {
        redisReply *r = rp_store_command("XRANGE " RP_QUEUE_DLQ " - + COUNT %d", MAX_REPLAY);
        if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
            failed = 1;
        } else {
            for (size_t k = 0; k < r->elements && !failed; k++) {
                int rc = replay_entry(req, r->element[k]);
                failed = rc < 0;
                replayed += rc > 0;
            }
        }
        if (r)
            freeReplyObject(r);
    }
    json_decref(body);
    if (failed) {
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, json_pack("{s:i}", "Replayed", (json_int_t)replayed));
}
