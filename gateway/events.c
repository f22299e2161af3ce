/* Delivery results as Pinpoint event stream records, and their append to rp:events.
 *
 * Event types by channel, following Pinpoint's "Streaming events" documentation:
 *   SMS     _SMS.SUCCESS (record_status SUCCESSFUL), _SMS.OPTOUT (OPTED_OUT), _SMS.FAILURE for
 *           every other outcome; _SMS.BUFFERED is left to delivery receipts (PENDING).
 *   EMAIL   _email.send once the SMTP relay accepted the message (SES's "send": accepted for
 *           delivery, not yet delivered), _email.hardbounce for an address that will never
 *           work, _email.softbounce for transient failures, _email.rejected for a message
 *           refused for any other reason (or not sent: opt-out, duplicate).
 *   push    Pinpoint documents push send events only for campaigns: _campaign.send with
 *           delivery_type (the ChannelType) and campaign_send_status. Repoint writes exactly
 *           that for campaign deliveries. For direct sends (SendMessages, SendUsersMessages)
 *           Pinpoint streams no push event at all; Repoint writes _push.send, a Repoint name in
 *           the same shape with push_send_status in place of campaign_send_status, so that
 *           consumers filtering on _campaign.* never mistake a direct send for a campaign.
 * Every event also has delivery_status, the Pinpoint DeliveryStatus of the result (the value
 * SendMessages answered with), status_code and status_message, so no consumer needs to decode a
 * channel-specific status to know what happened. */
#include "events.h"
#include "config.h"
#include "http.h"
#include "json_write.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum channel_family { FAMILY_SMS, FAMILY_EMAIL, FAMILY_PUSH, FAMILY_OTHER };

static enum channel_family family_of(const char *channel)
{
    static const char *const push[] = {"APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX",
                                       "GCM",  "ADM",          "BAIDU"};
    if (strcmp(channel, "SMS") == 0)
        return FAMILY_SMS;
    if (strcmp(channel, "EMAIL") == 0)
        return FAMILY_EMAIL;
    for (size_t i = 0; i < sizeof(push) / sizeof(push[0]); i++)
        if (strcmp(channel, push[i]) == 0)
            return FAMILY_PUSH;
    return FAMILY_OTHER;
}

/* Pinpoint's SMS record_status vocabulary: SUCCESSFUL (handed to the carrier), OPTED_OUT,
 * INVALID (the number cannot receive), ACCESS_DENIED (the account may not send),
 * RATE_EXCEEDED, UNREACHABLE (the handset or carrier cannot be reached now), UNKNOWN. */
static const char *sms_record_status(const struct rp_delivery_result *r)
{
    switch (r->status) {
    case RP_DS_SUCCESSFUL:
        return "SUCCESSFUL";
    case RP_DS_OPT_OUT:
        return "OPTED_OUT";
    case RP_DS_THROTTLED:
        return "RATE_EXCEEDED";
    case RP_DS_TEMPORARY_FAILURE:
        return "UNREACHABLE";
    case RP_DS_PERMANENT_FAILURE:
        if (r->address_dead)
            return "INVALID";
        if (r->status_code == 401 || r->status_code == 403)
            return "ACCESS_DENIED";
        return "UNKNOWN";
    default:
        return "UNKNOWN";
    }
}

/* campaign_send_status as Pinpoint's campaign events document it (SUCCESS, FAILURE_PERMANENT,
 * FAILURE_TEMPORARY, THROTTLED); the statuses it names no value for keep their DeliveryStatus
 * spelling. */
static const char *push_send_status(enum rp_delivery_status status)
{
    switch (status) {
    case RP_DS_SUCCESSFUL:
        return "SUCCESS";
    case RP_DS_PERMANENT_FAILURE:
        return "FAILURE_PERMANENT";
    case RP_DS_TEMPORARY_FAILURE:
        return "FAILURE_TEMPORARY";
    case RP_DS_THROTTLED:
        return "THROTTLED";
    case RP_DS_OPT_OUT:
        return "OPT_OUT";
    case RP_DS_DUPLICATE:
        return "DUPLICATE";
    default:
        return "UNKNOWN";
    }
}

static const char *email_event_type(const struct rp_delivery_result *r)
{
    switch (r->status) {
    case RP_DS_SUCCESSFUL:
        return "_email.send";
    case RP_DS_PERMANENT_FAILURE:
        /* A 5xx from the relay is SES's permanent bounce; "rejected" is for a message Repoint
         * itself refused to send (no SMTP code). */
        return r->address_dead || (r->status_code >= 500 && r->status_code < 600)
                   ? "_email.hardbounce"
                   : "_email.rejected";
    case RP_DS_THROTTLED:
    case RP_DS_TEMPORARY_FAILURE:
    case RP_DS_UNKNOWN_FAILURE:
        return "_email.softbounce";
    default:
        return "_email.rejected";
    }
}

static void event_type(const struct rp_delivery *d, const struct rp_delivery_result *r,
                       enum channel_family family, char *out, size_t size)
{
    switch (family) {
    case FAMILY_SMS:
        snprintf(out, size, "%s",
                 r->status == RP_DS_SUCCESSFUL ? "_SMS.SUCCESS"
                 : r->status == RP_DS_OPT_OUT  ? "_SMS.OPTOUT"
                                               : "_SMS.FAILURE");
        return;
    case FAMILY_EMAIL:
        snprintf(out, size, "%s", email_event_type(r));
        return;
    case FAMILY_PUSH:
        snprintf(out, size, "%s", d->campaign_id[0] ? "_campaign.send" : "_push.send");
        return;
    case FAMILY_OTHER:
        break;
    }
    /* A channel without a documented family (a future VOICE or CUSTOM): "_voice.send". */
    size_t n = 0;
    out[n++] = '_';
    for (const char *c = d->channel; *c && n + 6 < size; c++)
        out[n++] = (char)tolower((unsigned char)*c);
    snprintf(out + n, size - n, ".send");
}

static void set_str(json_t *obj, const char *name, const char *value)
{
    if (value)
        json_object_set_new(obj, name, json_string(value));
}

static void set_int_str(json_t *obj, const char *name, long long value)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", value);
    json_object_set_new(obj, name, json_string(buf));
}

/* Pinpoint event attributes are strings: scalars are written as text, objects and arrays as
 * compact JSON, nulls dropped. */
static void set_as_attribute(json_t *attrs, const char *name, const json_t *value)
{
    char buf[64];
    switch (json_typeof(value)) {
    case JSON_STRING:
        json_object_set(attrs, name, (json_t *)value);
        return;
    case JSON_INTEGER:
        set_int_str(attrs, name, (long long)json_integer_value(value));
        return;
    case JSON_REAL:
        snprintf(buf, sizeof(buf), "%.17g", json_real_value(value));
        set_str(attrs, name, buf);
        return;
    case JSON_TRUE:
    case JSON_FALSE:
        set_str(attrs, name, json_is_true(value) ? "true" : "false");
        return;
    case JSON_OBJECT:
    case JSON_ARRAY: {
        char *text = json_dumps(value, JSON_COMPACT);
        if (text)
            json_object_set_new(attrs, name, json_string(text));
        free(text);
        return;
    }
    case JSON_NULL:
        return;
    }
}

static const char *content_str(const struct rp_delivery *d, const char *name)
{
    const json_t *v = json_object_get(d->content, name);
    return json_is_string(v) && json_string_length(v) ? json_string_value(v) : NULL;
}

static const char *account_id(void)
{
    return rp_ctx.cfg ? rp_config_str(rp_ctx.cfg, "account_id") : "000000000000";
}

static void add_sms_attributes(json_t *attrs, const struct rp_delivery *d,
                               const struct rp_delivery_result *r)
{
    /* A delivery receipt knows better than the send result (DELIVERED, UNREACHABLE ...); a send
     * result never overrides what Repoint says happened. */
    const char *receipt_status =
        json_is_string(json_object_get(r->attributes, "receipt"))
            ? json_string_value(json_object_get(r->attributes, "record_status"))
            : NULL;
    set_str(attrs, "record_status", receipt_status ? receipt_status : sms_record_status(r));
    set_str(attrs, "destination_phone_number", d->address);
    set_str(attrs, "origination_phone_number", content_str(d, "OriginationNumber"));
    set_str(attrs, "sender_id", content_str(d, "SenderId"));
    set_str(attrs, "sender_request_id", d->request_id);
    /* Pinpoint writes the message type as "Transactional" / "Promotional". */
    const char *type = content_str(d, "MessageType");
    if (type)
        set_str(attrs, "message_type",
                strcmp(type, "PROMOTIONAL") == 0 ? "Promotional" : "Transactional");
    if (d->context && json_object_size(d->context))
        set_as_attribute(attrs, "customer_context", d->context);
}

/* The SES-style facet of Pinpoint's email events: the mail (never its subject or body, which
 * may hold a one-time code) and what happened to it. */
static json_t *email_facets(const struct rp_delivery *d, const struct rp_delivery_result *r,
                            const char *type, int64_t now_ms)
{
    json_t *mail = json_object();
    set_str(mail, "message_id", r->message_id[0] ? r->message_id : d->message_id);
    json_object_set_new(mail, "message_send_timestamp", json_integer(now_ms));
    set_str(mail, "from_address", content_str(d, "FromAddress"));
    json_object_set_new(mail, "destination", json_pack("[s]", d->address ? d->address : ""));
    json_t *mail_event = json_pack("{s:o}", "mail", mail);
    char diagnostic[320];
    snprintf(diagnostic, sizeof(diagnostic), "smtp; %d %s", r->status_code, r->status_message);
    if (strcmp(type, "_email.send") == 0) {
        json_object_set_new(mail_event, "send", json_object());
    } else if (strcmp(type, "_email.rejected") == 0) {
        json_object_set_new(mail_event, "reject", json_pack("{s:s}", "reason", r->status_message));
    } else {
        json_t *recipient =
            json_pack("{s:s, s:s, s:s}", "email_address", d->address ? d->address : "",
                      "diagnostic_code", diagnostic, "action", "failed");
        const char *enhanced =
            json_string_value(json_object_get(r->attributes, "smtp_enhanced_status"));
        if (enhanced)
            set_str(recipient, "status", enhanced);
        json_object_set_new(
            mail_event, "bounce",
            json_pack("{s:s, s:[o]}", "bounce_type",
                      strcmp(type, "_email.hardbounce") == 0 ? "Permanent" : "Transient",
                      "bounced_recipients", recipient));
    }
    return json_pack("{s:{s:o}}", "email_channel", "mail_event", mail_event);
}

json_t *rp_event_from_result(const struct rp_delivery *d, const struct rp_delivery_result *r,
                             int64_t now_ms)
{
    enum channel_family family = family_of(d->channel);
    char type[64];
    event_type(d, r, family, type, sizeof(type));

    /* Precedence, lowest first: the request's Context, then the channel's attributes, then
     * Repoint's own, so neither a customer's Context key nor a provider can disguise what
     * happened (a Context entry named "delivery_status" is overwritten). */
    json_t *attrs = json_object();
    const char *name;
    json_t *value;
    if (json_is_object(d->context)) {
        json_object_foreach(d->context, name, value)
        {
            set_as_attribute(attrs, name, value);
        }
    }
    if (json_is_object(r->attributes)) {
        json_object_foreach(r->attributes, name, value)
        {
            set_as_attribute(attrs, name, value);
        }
    }

    set_str(attrs, "message_id", d->message_id);
    if (r->message_id[0])
        set_str(attrs, "provider_message_id", r->message_id);
    set_str(attrs, "delivery_status", rp_delivery_status_name(r->status));
    set_int_str(attrs, "status_code", r->status_code);
    set_str(attrs, "status_message", r->status_message);
    set_str(attrs, "channel_type", d->channel);
    set_str(attrs, "address", d->address);
    set_str(attrs, "endpoint_id", d->endpoint_id);
    set_str(attrs, "request_id", d->request_id);
    if (d->campaign_id[0])
        set_str(attrs, "campaign_id", d->campaign_id);
    if (d->campaign_activity_id[0]) {
        set_str(attrs, "campaign_activity_id", d->campaign_activity_id);
        set_str(attrs, "treatment_id", "0");
    }
    set_str(attrs, "trace_id", d->trace_id);
    set_int_str(attrs, "attempt", d->attempts > 0 ? (long long)d->attempts : 1);
    if (r->address_dead)
        set_str(attrs, "address_dead", "true");
    if (r->updated_token[0])
        set_str(attrs, "updated_token", r->updated_token);

    json_t *facets = NULL;
    switch (family) {
    case FAMILY_SMS:
        add_sms_attributes(attrs, d, r);
        break;
    case FAMILY_EMAIL:
        set_str(attrs, "from_address", content_str(d, "FromAddress"));
        facets = email_facets(d, r, type, now_ms);
        break;
    case FAMILY_PUSH:
        set_str(attrs, "delivery_type", d->channel);
        set_str(attrs, d->campaign_id[0] ? "campaign_send_status" : "push_send_status",
                push_send_status(r->status));
        break;
    case FAMILY_OTHER:
        break;
    }

    /* client_id: the endpoint, or for a send to a bare address the account, as Pinpoint's
     * SMS events show for direct sends. */
    json_t *event = json_object();
    set_str(event, "event_type", type);
    json_object_set_new(event, "event_timestamp", json_integer(now_ms));
    json_object_set_new(event, "arrival_timestamp",
                        json_integer(d->created_ms > 0 ? d->created_ms : now_ms));
    set_str(event, "event_version", RP_EVENTS_VERSION);
    json_object_set_new(event, "application", json_pack("{s:s, s:{}}", "app_id", d->app_id, "sdk"));
    json_object_set_new(
        event, "client",
        json_pack("{s:s}", "client_id", d->endpoint_id ? d->endpoint_id : account_id()));
    json_object_set_new(event, "device", json_pack("{s:{}}", "platform"));
    json_object_set_new(event, "session", json_object());
    json_object_set_new(event, "attributes", attrs);
    json_object_set_new(event, "metrics", json_object());
    if (facets)
        json_object_set_new(event, "facets", facets);
    set_str(event, "awsAccountId", account_id());
    return event;
}

static int empty(const json_t *v)
{
    return !v || (json_is_object(v) && json_object_size(v) == 0);
}

/* ,"name":"value" (name a literal: its length is known at compile time); nothing when value is
 * NULL. The first member of an object passes its name without the comma. */
#define TEXT_MEMBER(t, name, value) text_member((t), "," name ":", sizeof(name) + 1, (value))
#define TEXT_FIRST(t, name, value) text_member((t), name ":", sizeof(name), (value))

static void text_member(struct rp_json_text *t, const char *name, size_t name_len,
                        const char *value)
{
    if (!value)
        return;
    rp_json_text_rawn(t, name, name_len);
    rp_json_text_string(t, value);
}

/* rp_event_from_result's push event, member for member in its order. */
static void push_event_text(struct rp_json_text *t, const struct rp_delivery *d,
                            const struct rp_delivery_result *r, int64_t now_ms)
{
    char type[64], num[24];
    event_type(d, r, FAMILY_PUSH, type, sizeof(type));
#define RAW(t, literal) rp_json_text_rawn((t), literal, sizeof(literal) - 1)
    RAW(t, "{\"event_type\":");
    rp_json_text_string(t, type);
    RAW(t, ",\"event_timestamp\":");
    rp_json_text_int(t, now_ms);
    RAW(t, ",\"arrival_timestamp\":");
    rp_json_text_int(t, d->created_ms > 0 ? d->created_ms : now_ms);
    RAW(t, ",\"event_version\":\"" RP_EVENTS_VERSION "\",\"application\":{\"app_id\":");
    rp_json_text_string(t, d->app_id);
    RAW(t, ",\"sdk\":{}},\"client\":{\"client_id\":");
    rp_json_text_string(t, d->endpoint_id ? d->endpoint_id : account_id());
    RAW(t, "},\"device\":{\"platform\":{}},\"session\":{},\"attributes\":{");
    TEXT_FIRST(t, "\"message_id\"", d->message_id);
    TEXT_MEMBER(t, "\"provider_message_id\"", r->message_id[0] ? r->message_id : NULL);
    TEXT_MEMBER(t, "\"delivery_status\"", rp_delivery_status_name(r->status));
    snprintf(num, sizeof(num), "%d", r->status_code);
    TEXT_MEMBER(t, "\"status_code\"", num);
    TEXT_MEMBER(t, "\"status_message\"", r->status_message);
    TEXT_MEMBER(t, "\"channel_type\"", d->channel);
    TEXT_MEMBER(t, "\"address\"", d->address);
    TEXT_MEMBER(t, "\"endpoint_id\"", d->endpoint_id);
    TEXT_MEMBER(t, "\"request_id\"", d->request_id);
    if (d->campaign_id[0])
        TEXT_MEMBER(t, "\"campaign_id\"", d->campaign_id);
    if (d->campaign_activity_id[0]) {
        TEXT_MEMBER(t, "\"campaign_activity_id\"", d->campaign_activity_id);
        TEXT_MEMBER(t, "\"treatment_id\"", "0");
    }
    TEXT_MEMBER(t, "\"trace_id\"", d->trace_id);
    snprintf(num, sizeof(num), "%d", d->attempts > 0 ? d->attempts : 1);
    TEXT_MEMBER(t, "\"attempt\"", num);
    if (r->address_dead)
        TEXT_MEMBER(t, "\"address_dead\"", "true");
    TEXT_MEMBER(t, "\"updated_token\"", r->updated_token[0] ? r->updated_token : NULL);
    TEXT_MEMBER(t, "\"delivery_type\"", d->channel);
    if (d->campaign_id[0])
        TEXT_MEMBER(t, "\"campaign_send_status\"", push_send_status(r->status));
    else
        TEXT_MEMBER(t, "\"push_send_status\"", push_send_status(r->status));
    RAW(t, "},\"metrics\":{},\"awsAccountId\":");
    rp_json_text_string(t, account_id());
    RAW(t, "}");
#undef RAW
}

static int push_text_applies(const struct rp_delivery *d, const struct rp_delivery_result *r)
{
    return family_of(d->channel) == FAMILY_PUSH && empty(d->context) && empty(r->attributes);
}

const char *rp_event_text(struct rp_json_text *scratch, const struct rp_delivery *d,
                          const struct rp_delivery_result *r, int64_t now_ms, size_t *len)
{
    if (!scratch->buf)
        rp_json_text_init(scratch, 1024); /* a push event is 700-900 bytes */
    scratch->len = 0;
    if (push_text_applies(d, r)) {
        push_event_text(scratch, d, r, now_ms);
    } else {
        json_t *event = rp_event_from_result(d, r, now_ms);
        int rc = rp_json_text_value(scratch, event);
        json_decref(event);
        if (rc)
            return NULL;
    }
    return rp_json_text_finish(scratch, len);
}

/* Queues the XADD of one event's text; NULL text: it could not be serialised (logged). */
static int append_text(const char *app, const char *data, size_t len)
{
    if (!data) {
        rp_warn("events", "dropped an event that could not be serialised");
        return 0;
    }
    /* A failed append poisons this thread's pipeline: the caller's collect reports it. */
    rp_events_xadd_pipelined(RP_EVENTS_STREAM, app, data, len);
    return 1;
}

int rp_events_append_result_pipelined(struct rp_json_text *scratch, const struct rp_delivery *d,
                                      const struct rp_delivery_result *r, int64_t now_ms)
{
    size_t len = 0;
    const char *data = rp_event_text(scratch, d, r, now_ms, &len);
    return append_text(d->app_id, data, len);
}

long long rp_events_maxlen(void)
{
    return rp_ctx.cfg ? rp_config_int(rp_ctx.cfg, "events.maxlen") : 1000000;
}

/* A stream's appends since it last carried the cap, per thread. A stream that finds its slot
 * held by another takes it over and starts again at 0, which trims on that append: a count
 * shared by all streams could fall on the same one every time (one append to A, then 127 to B,
 * over and over, and B is never trimmed). */
struct trim_slot {
    char key[96];
    unsigned appends;
};

int rp_events_trim_due(const char *key, size_t key_len)
{
    static _Thread_local struct trim_slot slots[16];
    if (key_len >= sizeof(slots[0].key))
        return 1;
    struct trim_slot *s = &slots[rp_fnv1a(key, key_len) % (sizeof(slots) / sizeof(slots[0]))];
    if (memcmp(s->key, key, key_len + 1) != 0) {
        memcpy(s->key, key, key_len + 1);
        s->appends = 0;
    }
    return s->appends++ % RP_EVENTS_TRIM_EVERY == 0;
}

int rp_events_xadd_pipelined(const char *key, const char *app, const char *data, size_t data_len)
{
    /* The cap's text, formatted again only when a reload changed it. */
    static _Thread_local long long maxlen_value = -1;
    static _Thread_local char maxlen[24];
    long long value = rp_events_maxlen();
    if (value != maxlen_value) {
        snprintf(maxlen, sizeof(maxlen), "%lld", value);
        maxlen_value = value;
    }
    /* Only one append in RP_EVENTS_TRIM_EVERY carries MAXLEN ~: with it, Redis spends a quarter
     * more on the XADD (it rewrites the cap into the command it logs) and the AOF gets 30 more
     * bytes per event. ~ trims whole macro nodes, so that one trim removes all the excess. */
    size_t key_len = strlen(key);
    if (rp_events_trim_due(key, key_len)) {
        const char *argv[] = {"XADD", key, "MAXLEN", "~", maxlen, "*", "data", data, "app", app};
        size_t lens[] = {4, key_len, 6, 1, strlen(maxlen), 1, 4, data_len, 3, strlen(app)};
        return rp_store_appendv(10, argv, lens);
    }
    const char *argv[] = {"XADD", key, "*", "data", data, "app", app};
    size_t lens[] = {4, key_len, 1, 4, data_len, 3, strlen(app)};
    return rp_store_appendv(7, argv, lens);
}

static const char *event_app(const json_t *event)
{
    const char *app =
        json_string_value(json_object_get(json_object_get(event, "application"), "app_id"));
    return app ? app : "";
}

int rp_events_append_pipelined(const json_t *event)
{
    size_t len = 0;
    char *data = rp_json_dump(event, &len);
    int queued = append_text(event_app(event), data, len);
    free(data);
    return queued;
}

int rp_events_append(json_t *const *events, size_t n)
{
    size_t queued = 0;
    for (size_t i = 0; i < n; i++)
        queued += (size_t)rp_events_append_pipelined(events[i]);
    return queued ? rp_store_collect_ok(queued) : 0;
}

int rp_events_settings_key(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:eventstream", app);
}

int rp_events_list_app(const char *app)
{
    redisReply *r = rp_store_command("SADD " RP_EVENTS_DEST_APPS " %s", app);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

int rp_events_unlist_app(const char *app)
{
    redisReply *r = rp_store_command("SREM " RP_EVENTS_DEST_APPS " %s", app);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    if (!ok)
        return RP_ESTORE;
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, app);
    r = rp_store_command("EXISTS %s", key);
    ok = rp_reply_ok(r) && r->type == REDIS_REPLY_INTEGER;
    int exists = ok && r->integer > 0;
    if (r)
        freeReplyObject(r);
    if (!ok)
        return RP_ESTORE;
    return exists ? rp_events_list_app(app) : 0;
}

static int valid_stream_key(const char *key)
{
    if (!*key)
        return 0;
    for (const char *c = key; *c; c++)
        if (!isgraph((unsigned char)*c))
            return 0;
    return 1;
}

/* host part of an http(s) URL: present, no spaces or control characters. The full URL is
 * parsed again by libcurl when the forwarder posts; this refuses what can never work. */
static int valid_url(const char *url, size_t scheme_len)
{
    const char *host = url + scheme_len;
    if (!*host || *host == '/' || *host == '?' || *host == '#')
        return 0;
    for (const char *c = url; *c; c++)
        if (!isgraph((unsigned char)*c))
            return 0;
    return 1;
}

int rp_events_dest_parse(const char *arn, struct rp_event_dest *dest, struct rp_err *err)
{
    const char *field = "DestinationStreamArn";
    memset(dest, 0, sizeof(*dest));
    size_t len = strlen(arn);
    if (len == 0)
        return rp_err_set(err, RP_EINVAL, field, "is required");
    if (len > RP_EVENTS_DEST_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters",
                          RP_EVENTS_DEST_MAX);
    if (strncmp(arn, "arn:", 4) == 0)
        return rp_err_set(err, RP_EINVAL, field,
                          "Repoint cannot deliver to Kinesis or Firehose; use an https:// or "
                          "http:// webhook URL, or redis:<stream key>");
    int https = strncmp(arn, "https://", 8) == 0;
    if (https || strncmp(arn, "http://", 7) == 0) {
        if (!valid_url(arn, https ? 8 : 7))
            return rp_err_set(err, RP_EINVAL, field, "is not a valid URL");
        dest->kind = RP_EVENT_DEST_WEBHOOK;
        memcpy(dest->target, arn, len + 1);
        return 0;
    }
    if (strncmp(arn, "redis://", 8) == 0)
        return rp_err_set(err, RP_EINVAL, field,
                          "redis:<stream key> names a stream in Repoint's own Redis; another "
                          "Redis server cannot be a destination");
    if (strncmp(arn, "redis:", 6) == 0) {
        const char *key = arn + 6;
        if (!valid_stream_key(key))
            return rp_err_set(err, RP_EINVAL, field,
                              "redis: must be followed by a stream key without spaces");
        if (strncmp(key, "rp:", 3) == 0)
            return rp_err_set(err, RP_EINVAL, field,
                              "keys starting with rp: are Repoint's own; choose another key");
        dest->kind = RP_EVENT_DEST_REDIS;
        memcpy(dest->target, key, strlen(key) + 1);
        return 0;
    }
    return rp_err_set(err, RP_EINVAL, field,
                      "must be an https:// or http:// webhook URL, or redis:<stream key>");
}
