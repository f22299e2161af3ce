/* Delivery receipts: POST /repoint/v1/sms/status, where the SMS provider reports delivered /
 * undelivered / failed. Not SigV4 (the provider cannot sign that way): authenticated by the
 * provider's own X-Twilio-Signature over the full callback URL and the form body. The URL's
 * query names the app, the delivery and the endpoint (channels/sms/sms.c puts them there), so
 * a receipt becomes an event without any lookup. */
#include "sms_receipts.h"
#include "sms_payload.h"

#include "../../gateway/config.h"
#include "../../gateway/events.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"

#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_URL 2048

struct query_builder {
    char url[MAX_URL];
    size_t len;
    int overflow;
    int first;
};

/* Appends one raw (still percent-encoded) query pair as the provider sent it. */
static enum MHD_Result add_pair(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value)
{
    struct query_builder *q = cls;
    int n = snprintf(q->url + q->len, sizeof(q->url) - q->len, "%c%s%s%s", q->first ? '?' : '&',
                     key, value ? "=" : "", value ? value : "");
    if (n < 0 || (size_t)n >= sizeof(q->url) - q->len) {
        q->overflow = 1;
        return MHD_NO;
    }
    q->len += (size_t)n;
    q->first = 0;
    return MHD_YES;
}

/* The URL as the provider signed it: the configured public callback URL (its own query, if
 * any, arrives again in the request) with the query this request carries. */
static int signed_url(struct rp_request *req, const char *base, struct query_builder *q)
{
    const char *question = strchr(base, '?');
    size_t base_len = question ? (size_t)(question - base) : strlen(base);
    if (base_len >= sizeof(q->url))
        return -1;
    memcpy(q->url, base, base_len);
    q->len = base_len;
    q->url[q->len] = '\0';
    q->first = 1;
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, add_pair, q);
    return q->overflow ? -1 : 0;
}

static char *query_value(struct rp_request *req, const char *name)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    return raw ? rp_http_percent_decode(raw, strlen(raw)) : NULL;
}

void rp_sms_status_callback(struct rp_request *req)
{
    const char *base = rp_config_str(rp_ctx.cfg, "sms.status_callback_url");
    const char *token = rp_config_str(rp_ctx.cfg, "sms.auth_token");
    if (!*base || !*token) {
        rp_respond_error(req, 404, "NotFoundException",
                         "SMS delivery receipts are not configured (sms.status_callback_url)");
        return;
    }
    const char *signature =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, "X-Twilio-Signature");
    struct query_builder q = {.len = 0};
    if (!signature || signed_url(req, base, &q) ||
        rp_sms_signature_verify(token, q.url, req->body ? req->body : "", req->body_len,
                                signature) != 0) {
        rp_respond_error(req, 403, "ForbiddenException",
                         "The X-Twilio-Signature of the status callback does not verify");
        return;
    }
    struct rp_sms_status status;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_sms_status_parse(req->body ? req->body : "", req->body_len, &status, &err)) {
        rp_respond_bad_request(req, &err);
        return;
    }
    char *app = query_value(req, "app"), *mid = query_value(req, "mid");
    char *ep = query_value(req, "ep");
    if (status.final && app && mid && strlen(app) < 40 && strlen(mid) < 48) {
        struct rp_delivery d;
        rp_delivery_init(&d);
        snprintf(d.app_id, sizeof(d.app_id), "%s", app);
        snprintf(d.message_id, sizeof(d.message_id), "%s", mid);
        snprintf(d.channel, sizeof(d.channel), "SMS");
        d.address = rp_strdup(status.to);
        d.endpoint_id = ep;
        ep = NULL;
        d.content = json_object();
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_delivery_result_set(&r, status.delivery_status, status.error_code,
                               "delivery receipt: %s", status.status);
        snprintf(r.message_id, sizeof(r.message_id), "%s", status.message_sid);
        r.attributes = json_pack("{s:s, s:s}", "record_status", status.record_status,
                                 "receipt", "true");
        json_t *event = rp_event_from_result(&d, &r, rp_now_ms());
        int rc = rp_events_append(&event, 1);
        json_decref(event);
        rp_delivery_result_cleanup(&r);
        rp_delivery_cleanup(&d);
        if (rc) {
            free(app);
            free(mid);
            rp_respond_unavailable(req); /* the provider retries */
            return;
        }
    }
    free(app);
    free(mid);
    free(ep);
    rp_respond_json(req, 200, json_object());
}
