/* The SMS channel: a sender id or a short code to send from; the numbers and the provider
 * account come from the configuration, not from Pinpoint's request. Delivery goes to a
 * Twilio-compatible HTTP provider through the shared HTTP client (channels/httpc.h); what is
 * sent and how answers map onto DeliveryStatus is in sms_payload.c. */
#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "../httpc.h"
#include "../settings.h"
#include "e164.h"
#include "sms_payload.h"

/* GSM 03.38 alphanumeric originators are at most 11 characters. */
#define SMS_SENDER_ID_MAX 11
/* Short codes are 3 to 8 digits wherever they exist. */
#define SMS_SHORT_CODE_MIN 3
#define SMS_SHORT_CODE_MAX 8
/* Pinpoint's default account limits, answered as it answers them. */
#define SMS_PROMOTIONAL_PER_SECOND   20
#define SMS_TRANSACTIONAL_PER_SECOND 20

/* An all-digit sender would be read by handsets as a phone number, so carriers want at least
 * one letter (AWS: "up to 11 alphanumeric characters, including at least one letter"). */
static int sender_id_validate(const char *id, struct rp_err *err)
{
    size_t len = strlen(id);
    bool letter = false;
    if (len > SMS_SENDER_ID_MAX)
        return rp_err_set(err, RP_EINVAL, "SenderId", "is longer than %d characters",
                          SMS_SENDER_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool is_letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!is_letter && !(c >= '0' && c <= '9'))
            return rp_err_set(err, RP_EINVAL, "SenderId", "must be letters and digits only");
        letter = letter || is_letter;
    }
    if (!letter)
        return rp_err_set(err, RP_EINVAL, "SenderId", "must contain at least one letter");
    return 0;
}

static int short_code_validate(const char *code, struct rp_err *err)
{
    size_t len = strlen(code);
    if (len < SMS_SHORT_CODE_MIN || len > SMS_SHORT_CODE_MAX)
        return rp_err_set(err, RP_EINVAL, "ShortCode", "must be %d to %d digits",
                          SMS_SHORT_CODE_MIN, SMS_SHORT_CODE_MAX);
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return rp_err_set(err, RP_EINVAL, "ShortCode", "must be digits only");
    return 0;
}

static int sms_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *sender_id = NULL, *short_code = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "SenderId", &sender_id, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ShortCode", &short_code, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0 && sender_id)
        rc = sender_id_validate(sender_id, err);
    if (rc == 0 && short_code)
        rc = short_code_validate(short_code, err);
    if (rc < 0)
        return rc;

    if (sender_id)
        rp_settings_put(response_members, "SenderId", json_string(sender_id));
    if (short_code)
        rp_settings_put(response_members, "ShortCode", json_string(short_code));
    rp_settings_put(response_members, "PromotionalMessagesPerSecond",
                    json_integer(SMS_PROMOTIONAL_PER_SECOND));
    rp_settings_put(response_members, "TransactionalMessagesPerSecond",
                    json_integer(SMS_TRANSACTIONAL_PER_SECOND));
    return 0;
}

/* One per worker thread. */
struct sms_transport {
    struct rp_httpc *http;
    char *url;               /* the Messages endpoint, owned; NULL when not configured */
    char *basic_auth;        /* "AccountSid:AuthToken", owned */
    const char *service_sid; /* borrowed from the config, like the two below */
    const char *status_callback;
    long timeout_ms;
};

static void *sms_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    struct rp_httpc *http = rp_httpc_new(base, rp_config_str(cfg, "tls.ca_file"));
    if (!http) {
        rp_error("sms", "msg=\"cannot create the HTTP client: SMS deliveries fail here\"");
        return NULL;
    }
    struct sms_transport *t = rp_calloc(1, sizeof(*t));
    t->http = http;
    t->service_sid = rp_config_str(cfg, "sms.messaging_service_sid");
    t->status_callback = rp_config_str(cfg, "sms.status_callback_url");
    t->timeout_ms = (long)rp_config_int(cfg, "sms.timeout_ms");
    const char *sid = rp_config_str(cfg, "sms.account_sid");
    const char *token = rp_config_str(cfg, "sms.auth_token");
    if (*sid && *token) {
        t->url = rp_sms_messages_url(rp_config_str(cfg, "sms.url"), sid);
        size_t len = strlen(sid) + strlen(token) + 2;
        t->basic_auth = rp_malloc(len);
        snprintf(t->basic_auth, len, "%s:%s", sid, token);
    } else {
        rp_warn("sms", "msg=\"the SMS provider is not configured: SMS deliveries will fail\" "
                       "keys=\"sms.account_sid sms.auth_token\"");
    }
    return t;
}

/* In-flight sends complete (TEMPORARY_FAILURE, client shut down) while the client is freed. */
static void sms_transport_free(void *transport)
{
    struct sms_transport *t = transport;
    if (!t)
        return;
    rp_httpc_free(t->http);
    if (t->basic_auth)
        OPENSSL_cleanse(t->basic_auth, strlen(t->basic_auth));
    free(t->basic_auth);
    free(t->url);
    free(t);
}

static void log_result(const struct rp_send *send, double seconds)
{
    char to[32];
    rp_redact(send->delivery->address, to, sizeof(to));
    rp_debug("sms", "msg=sent id=%s to=%s status=%s code=%d seconds=%.3f",
             send->delivery->message_id, to, rp_delivery_status_name(send->result.status),
             send->result.status_code, seconds);
}

static void sms_on_response(void *arg, const struct rp_httpc_response *response)
{
    struct rp_send *send = arg;
    struct rp_delivery_result *r = &send->result;
    rp_sms_classify(response, rp_now_ms(), r);
    if (r->status_code == 401 || r->status_code == 403)
        rp_warn("sms", "msg=\"the provider rejected the credentials\" status=%d", r->status_code);
    if (rp_log_min_level <= RP_LOG_DEBUG)
        log_result(send, response->total_seconds);
    rp_send_complete(send);
}

static void add_attributes(struct rp_delivery_result *r, json_t *attributes)
{
    if (json_is_object(r->attributes)) {
        json_object_update(r->attributes, attributes);
        json_decref(attributes);
    } else {
        json_decref(r->attributes);
        r->attributes = attributes;
    }
}

/* Receipts name the delivery in the callback URL itself (the provider signs the whole URL), so
 * the status handler attributes them without a lookup table. Returns a new string or NULL. */
static char *callback_url(const struct sms_transport *t, const struct rp_delivery *d)
{
    if (!t->status_callback || !*t->status_callback)
        return NULL;
    struct rp_sms_param q[3] = {{(char *)"app", (char *)d->app_id},
                                {(char *)"mid", (char *)d->message_id},
                                {(char *)"ep", d->endpoint_id}};
    char *query = rp_sms_form_encode(q, d->endpoint_id ? 3 : 2);
    size_t len = strlen(t->status_callback) + strlen(query) + 2;
    char *url = rp_malloc(len);
    snprintf(url, len, "%s%c%s", t->status_callback, strchr(t->status_callback, '?') ? '&' : '?',
             query);
    free(query);
    return url;
}

static void sms_send(void *transport, struct rp_send *send)
{
    struct sms_transport *t = transport;
    const struct rp_delivery *d = send->delivery;
    struct rp_delivery_result *r = &send->result;
    if (!t->url) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0,
                               "the SMS provider is not configured "
                               "(sms.account_sid / sms.auth_token)");
        rp_send_complete(send);
        return;
    }
    const char *body = json_string_value(json_object_get(d->content, "Body"));
    if (!body || !*body) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0, "the message has no Body");
        rp_send_complete(send);
        return;
    }
    struct rp_sms_message m = {
        .to = d->address,
        .body = body,
        .entity_id = json_string_value(json_object_get(d->content, "EntityId")),
        .template_id = json_string_value(json_object_get(d->content, "TemplateId")),
    };
    rp_sms_sender_select(d->content, send->settings, t->service_sid, &m.sender);
    if (m.sender.kind == RP_SMS_SENDER_NONE) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0,
                               "no sender: give OriginationNumber, set the channel's SenderId "
                               "or ShortCode, or sms.messaging_service_sid");
        rp_send_complete(send);
        return;
    }
    long timeout;
    if (!rp_send_timeout(send, t->timeout_ms, &timeout))
        return;

    struct rp_sms_segments seg;
    rp_sms_segments_count(body, &seg);
    add_attributes(
        r, rp_sms_attributes(&seg, json_string_value(json_object_get(d->content, "MessageType")),
                             m.sender.kind == RP_SMS_SENDER_FROM ? m.sender.value : NULL));

    static const char *const headers[] = {
        "Accept: application/json",
        "Content-Type: application/x-www-form-urlencoded",
        NULL,
    };
    char *callback = callback_url(t, d);
    m.status_callback = callback;
    char *form = rp_sms_form_build(&m);
    free(callback);
    struct rp_httpc_request req = {
        .method = "POST",
        .url = t->url,
        .headers = headers,
        .body = form,
        .body_len = strlen(form),
        .basic_auth = t->basic_auth,
        .timeout_ms = timeout,
        .done = sms_on_response,
        .arg = send,
    };
    int rc = rp_httpc_send(t->http, &req);
    free(form);
    if (rc < 0) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "cannot start the request: %s",
                               rp_rc_msg(rc));
        rp_send_complete(send);
    }
}

const struct rp_channel_ops rp_sms_channel = {
    .type = "SMS",
    .path = "sms",
    .platform = "SMS",
    .request_shape = "SMSChannelRequest",
    .settings_validate = sms_settings_validate,
    .address_validate = rp_e164_validate,
    .transport_new = sms_transport_new,
    .transport_free = sms_transport_free,
    .send = sms_send,
};
