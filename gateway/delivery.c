#include "delivery.h"
#include "rc.h"
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[] = {
#define RP_DS_NAME(name) #name,
    RP_DELIVERY_STATUS_MAP(RP_DS_NAME)
#undef RP_DS_NAME
};

const char *rp_delivery_status_name(enum rp_delivery_status status)
{
    if ((unsigned)status >= sizeof(status_names) / sizeof(status_names[0]))
        return "UNKNOWN_FAILURE";
    return status_names[status];
}

int rp_delivery_status_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++)
        if (strcmp(status_names[i], name) == 0)
            return (int)i;
    return -1;
}

int rp_delivery_status_retryable(enum rp_delivery_status status)
{
    return status == RP_DS_THROTTLED || status == RP_DS_TEMPORARY_FAILURE ||
           status == RP_DS_UNKNOWN_FAILURE;
}

void rp_delivery_init(struct rp_delivery *d)
{
    memset(d, 0, sizeof(*d));
}

void rp_delivery_cleanup(struct rp_delivery *d)
{
    free(d->address);
    free(d->endpoint_id);
    free(d->recipient_key);
    free(d->trace_id);
    json_decref(d->content);
    json_decref(d->context);
    memset(d, 0, sizeof(*d));
}

json_t *rp_delivery_to_json(const struct rp_delivery *d)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", json_string(d->message_id));
    json_object_set_new(o, "rq", json_string(d->request_id));
    json_object_set_new(o, "app", json_string(d->app_id));
    json_object_set_new(o, "ch", json_string(d->channel));
    json_object_set_new(o, "to", json_string(d->address ? d->address : ""));
    if (d->endpoint_id)
        json_object_set_new(o, "ep", json_string(d->endpoint_id));
    json_object_set_new(o, "key", json_string(d->recipient_key ? d->recipient_key : ""));
    json_object_set(o, "c", d->content ? d->content : json_object());
    if (d->context)
        json_object_set(o, "ctx", d->context);
    if (d->trace_id)
        json_object_set_new(o, "tr", json_string(d->trace_id));
    json_object_set_new(o, "t0", json_integer(d->created_ms));
    json_object_set_new(o, "dl", json_integer(d->deadline_ms));
    json_object_set_new(o, "n", json_integer(d->attempts));
    json_object_set_new(o, "o", json_integer(d->origin));
    if (d->reply_to[0])
        json_object_set_new(o, "re", json_string(d->reply_to));
    if (d->campaign_id[0])
        json_object_set_new(o, "cp", json_string(d->campaign_id));
    if (d->campaign_activity_id[0]) {
        json_object_set_new(o, "ca", json_string(d->campaign_activity_id));
        json_object_set_new(o, "cg", json_integer(d->campaign_gen));
    }
    return o;
}

static int copy_fixed(char *out, size_t size, const json_t *v, int required)
{
    if (!v)
        return required ? RP_EINVAL : 0;
    if (!json_is_string(v) || json_string_length(v) >= size)
        return RP_EINVAL;
    memcpy(out, json_string_value(v), json_string_length(v) + 1);
    return 0;
}

static char *dup_string(const json_t *v)
{
    return json_is_string(v) ? rp_strdup(json_string_value(v)) : NULL;
}

int rp_delivery_from_json(struct rp_delivery *d, const json_t *doc)
{
    if (!json_is_object(doc))
        return RP_EINVAL;
    if (copy_fixed(d->message_id, sizeof(d->message_id), json_object_get(doc, "id"), 1) ||
        copy_fixed(d->request_id, sizeof(d->request_id), json_object_get(doc, "rq"), 0) ||
        copy_fixed(d->app_id, sizeof(d->app_id), json_object_get(doc, "app"), 1) ||
        copy_fixed(d->channel, sizeof(d->channel), json_object_get(doc, "ch"), 1) ||
        copy_fixed(d->reply_to, sizeof(d->reply_to), json_object_get(doc, "re"), 0) ||
        copy_fixed(d->campaign_id, sizeof(d->campaign_id), json_object_get(doc, "cp"), 0) ||
        copy_fixed(d->campaign_activity_id, sizeof(d->campaign_activity_id),
                   json_object_get(doc, "ca"), 0) ||
        !d->message_id[0])
        return RP_EINVAL;
    d->campaign_gen = (long long)json_integer_value(json_object_get(doc, "cg"));
    const json_t *to = json_object_get(doc, "to");
    if (!json_is_string(to))
        return RP_EINVAL;
    d->address = dup_string(to);
    d->endpoint_id = dup_string(json_object_get(doc, "ep"));
    d->recipient_key = dup_string(json_object_get(doc, "key"));
    d->trace_id = dup_string(json_object_get(doc, "tr"));
    const json_t *content = json_object_get(doc, "c");
    d->content = json_is_object(content) ? json_incref((json_t *)content) : json_object();
    const json_t *context = json_object_get(doc, "ctx");
    d->context = json_is_object(context) ? json_incref((json_t *)context) : NULL;
    d->created_ms = json_integer_value(json_object_get(doc, "t0"));
    d->deadline_ms = json_integer_value(json_object_get(doc, "dl"));
    d->attempts = (int)json_integer_value(json_object_get(doc, "n"));
    d->origin = json_integer_value(json_object_get(doc, "o")) == RP_ORIGIN_CAMPAIGN
                    ? RP_ORIGIN_CAMPAIGN
                    : RP_ORIGIN_DIRECT;
    return 0;
}

static int same_string(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static int same_json(const json_t *a, const json_t *b)
{
    return a == b || (a && b && json_equal(a, b));
}

int rp_delivery_same_message(const struct rp_delivery *a, const struct rp_delivery *b)
{
    return strcmp(a->channel, b->channel) == 0 && strcmp(a->app_id, b->app_id) == 0 &&
           strcmp(a->request_id, b->request_id) == 0 && a->origin == b->origin &&
           a->created_ms == b->created_ms && a->deadline_ms == b->deadline_ms &&
           a->attempts == b->attempts && strcmp(a->reply_to, b->reply_to) == 0 &&
           strcmp(a->campaign_id, b->campaign_id) == 0 &&
           strcmp(a->campaign_activity_id, b->campaign_activity_id) == 0 &&
           a->campaign_gen == b->campaign_gen && same_string(a->trace_id, b->trace_id) &&
           same_json(a->context, b->context) && same_json(a->content, b->content);
}

int rp_delivery_for_recipient(struct rp_delivery *d, const struct rp_delivery *base,
                              const char *message_id, char *endpoint_id, char *address, char *key)
{
    if (!message_id || !*message_id || strlen(message_id) >= sizeof(d->message_id) ||
        !address || !key) {
        free(endpoint_id);
        free(address);
        free(key);
        rp_delivery_init(d);
        return RP_EINVAL;
    }
    *d = *base;
    memcpy(d->message_id, message_id, strlen(message_id) + 1);
    d->address = address;
    d->endpoint_id = endpoint_id;
    d->recipient_key = key;
    d->trace_id = base->trace_id ? rp_strdup(base->trace_id) : NULL;
    d->content = json_incref(base->content);
    d->context = json_incref(base->context);
    return 0;
}

void rp_delivery_result_init(struct rp_delivery_result *r)
{
    memset(r, 0, sizeof(*r));
    r->status = RP_DS_UNKNOWN_FAILURE;
}

void rp_delivery_result_cleanup(struct rp_delivery_result *r)
{
    json_decref(r->attributes);
    r->attributes = NULL;
}

void rp_delivery_result_set(struct rp_delivery_result *r, enum rp_delivery_status status,
                            int status_code, const char *fmt, ...)
{
    r->status = status;
    r->status_code = status_code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->status_message, sizeof(r->status_message), fmt, ap);
    va_end(ap);
}
