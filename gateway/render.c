#include "render.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "channels/channel.h"
#include "endpoint.h"
#include "rc.h"
#include "render_content.h"
#include "util.h"

#define FIELD_SIZE sizeof(((struct rp_err *)0)->field)
/* Ids quoted in a field path are cut to this many bytes so the member after them still fits. */
#define ID_IN_FIELD 32

#define STATUS_NOT_SENT  400 /* DUPLICATE, OPT_OUT, an endpoint that cannot be sent to */
#define STATUS_NOT_FOUND 404
#define STATUS_NO_RESULT 504

struct address_entry {
    const char *address; /* borrowed from the body: the Addresses key */
    const json_t *cfg;   /* borrowed: AddressConfiguration */
    const struct rp_render_channel *channel;
};

struct endpoint_entry {
    const char *id; /* borrowed from the body, or owned (user endpoints: see owned_id) */
    char *owned_id;
    const json_t *cfg; /* borrowed: EndpointSendConfiguration */
    json_t *endpoint;  /* owned reference, NULL when it does not exist */
};

struct user_entry {
    const char *id;    /* borrowed from the body: the Users key */
    const json_t *cfg; /* borrowed: EndpointSendConfiguration */
    struct endpoint_entry endpoints[RP_RENDER_MAX_USER_ENDPOINTS];
    size_t n_endpoints;
};

struct rp_render_plan {
    enum rp_render_kind kind;
    json_t *body; /* owned reference: every borrowed string and object above points into it */
    const json_t *mc, *tc, *context;
    const char *trace_id;

    struct address_entry *addresses;
    size_t n_addresses;
    struct endpoint_entry *endpoints;
    size_t n_endpoints;
    struct user_entry *users;
    size_t n_users;

    struct rp_render_recipient *recipients;
    size_t n_recipients;
    bool built;
    char app_id[sizeof(((struct rp_delivery *)0)->app_id)];
    char request_id[sizeof(((struct rp_delivery *)0)->request_id)];
};

#define SHARED_CONTENT_MAX 16 /* more than there are channels */

/* The addresses a build has sent to, by channel: open addressing over copies of the channel
 * and the address (each with its NUL) in one buffer, sized at twice the plan's recipients
 * (each claims at most once), so a claim costs a hash and a copy instead of a jansson key's
 * allocations. */
struct claimed {
    struct {
        uint64_t hash;
        size_t at; /* offset of the copy in text, plus one; 0: empty */
    } *slots;
    size_t mask;
    char *text;
    size_t len, cap;
};

static struct claimed *claimed_new(size_t recipients)
{
    struct claimed *c = rp_malloc(sizeof(*c));
    size_t n = 8;
    while (n < 2 * recipients)
        n *= 2;
    c->slots = rp_malloc(n * sizeof(*c->slots));
    memset(c->slots, 0, n * sizeof(*c->slots));
    c->mask = n - 1;
    c->cap = 64 * n;
    c->text = rp_malloc(c->cap);
    c->len = 0;
    return c;
}

static void claimed_free(struct claimed *c)
{
    free(c->slots);
    free(c->text);
    free(c);
}

static uint64_t fnv1a64(uint64_t h, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* True the first time channel and address come together in this build. */
static bool claimed_add(struct claimed *c, const char *channel, const char *address)
{
    size_t clen = strlen(channel), alen = strlen(address);
    uint64_t h = fnv1a64(fnv1a64(UINT64_C(0xcbf29ce484222325), channel, clen), "\n", 1);
    h = fnv1a64(h, address, alen);
    size_t i = (size_t)h & c->mask;
    for (; c->slots[i].at; i = (i + 1) & c->mask) {
        const char *known = c->text + c->slots[i].at - 1;
        if (c->slots[i].hash == h && strcmp(known, channel) == 0 &&
            strcmp(known + clen + 1, address) == 0)
            return false;
    }
    size_t need = clen + 1 + alen + 1;
    if (c->len + need > c->cap) {
        while (c->len + need > c->cap)
            c->cap *= 2;
        c->text = rp_realloc(c->text, c->cap);
    }
    char *copy = c->text + c->len;
    memcpy(copy, channel, clen + 1);
    memcpy(copy + clen + 1, address, alen + 1);
    c->slots[i].hash = h;
    c->slots[i].at = c->len + 1;
    c->len += need;
    return true;
}

/* Build-time state: the caller's params, the substitution budget, addresses already sent to. */
struct build {
    struct rp_render_plan *plan;
    const struct rp_render_params *params;
    size_t budget;
    struct claimed *seen;
    /* With params->share_content: the content rendered for a channel, for the channel's other
     * recipients without a configuration of their own. */
    struct {
        const struct rp_render_channel *ch;
        json_t *content;
    } shared[SHARED_CONTENT_MAX];
    int n_shared;
};

static const json_t *member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

static const char *string_member(const json_t *obj, const char *name)
{
    const char *s = json_string_value(member(obj, name));
    return s && *s ? s : NULL;
}

/* An address in a field path, redacted as rp_redact writes it ("+120***(12)": a short prefix
 * and the length), the prefix cut at a character boundary since an email address may be
 * multi-byte and the field goes into JSON. */
static void address_field(char *out, size_t size, const char *address, const char *suffix)
{
    size_t len = strlen(address);
    size_t keep = rp_render_utf8_cut(address, len >= 12 ? 4 : len >= 6 ? 2 : 0);
    snprintf(out, size, "Addresses[%.*s***(%zu)]%s", (int)keep, address, len, suffix);
}

/* Appends n bytes of s at out[*at], as far as size allows (one byte kept for the NUL). */
static void field_put(char *out, size_t size, size_t *at, const char *s, size_t n)
{
    size_t room = size - 1 - *at;
    n = n < room ? n : room;
    memcpy(out + *at, s, n);
    *at += n;
}

/* "map[id]suffix", the id cut to ID_IN_FIELD bytes on a character boundary, truncated to size
 * as snprintf would: every endpoint of a send or campaign chunk gets one. */
static void id_field(char *out, size_t size, const char *map, const char *id, const char *suffix)
{
    size_t len = strlen(id), at = 0;
    size_t keep = rp_render_utf8_cut(id, len < ID_IN_FIELD ? len : ID_IN_FIELD);
    field_put(out, size, &at, map, strlen(map));
    field_put(out, size, &at, "[", 1);
    field_put(out, size, &at, id, keep);
    field_put(out, size, &at, "]", 1);
    field_put(out, size, &at, suffix, strlen(suffix));
    out[at] = '\0';
}

/* A map member (Addresses, Endpoints, Users) that may be absent or null; *out NULL then. */
static int map_member(const json_t *body, const char *name, const json_t **out, struct rp_err *err)
{
    const json_t *v = member(body, name);
    if (v && !json_is_object(v))
        return rp_err_set(err, RP_EINVAL, name, "must be an object");
    *out = v;
    return 0;
}

/* TraceId, Context, MessageConfiguration and TemplateConfiguration: shared by both requests. */
static int validate_common(const json_t *body, struct rp_err *err)
{
    if (!json_is_object(body))
        return rp_err_set(err, RP_EINVAL, "", "The request body must be a JSON object");
    const json_t *trace = member(body, "TraceId");
    if (trace &&
        (!json_is_string(trace) || strlen(json_string_value(trace)) != json_string_length(trace)))
        return rp_err_set(err, RP_EINVAL, "TraceId", "must be a string");
    const json_t *context = member(body, "Context");
    if (context) {
        if (!json_is_object(context))
            return rp_err_set(err, RP_EINVAL, "Context",
                              "must be an object mapping names to "
                              "strings");
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)context, k, v)
        {
            if (!json_is_string(v))
                return rp_err_set(err, RP_EINVAL, "Context", "must map every name to a string");
        }
    }
    int rc = rp_render_validate_message_configuration(member(body, "MessageConfiguration"), err);
    if (rc == 0)
        rc = rp_render_validate_template_configuration(member(body, "TemplateConfiguration"), err);
    return rc;
}

/* Returns the render table entry of a ChannelType (borrowed) named at field, or NULL with err
 * set. */
static const struct rp_render_channel *channel_type(const json_t *type, const char *field,
                                                    struct rp_err *err)
{
    const char *t = json_string_value(type);
    if (!t || !*t) {
        rp_err_set(err, RP_EINVAL, field, "is required");
        return NULL;
    }
    const struct rp_render_channel *ch = rp_render_channel_find(t);
    if (ch && rp_channel_by_type(t))
        return ch;
    if (rp_render_channel_unserved(t)) {
        rp_err_set(err, RP_EINVAL, field, "channel type %s is not supported by Repoint", t);
        return NULL;
    }
    char list[160] = "";
    size_t used = 0, count;
    const struct rp_channel_ops *const *all = rp_channel_all(&count);
    for (size_t i = 0; i < count && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", all[i]->type);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    rp_err_set(err, RP_EINVAL, field, "must be one of %s", list);
    return NULL;
}

static const json_t *template_for(const json_t *tc, const struct rp_render_channel *ch)
{
    return member(tc, ch->template_member);
}

static int missing_content(const struct rp_render_channel *ch, const char *recipient,
                           struct rp_err *err)
{
    return rp_err_set(err, RP_EINVAL, ch->content_field,
                      "is required to send to %s on the %s channel, %s", recipient, ch->type,
                      ch->content_hint);
}

static int validate_address(const json_t *body, const char *address, const json_t *cfg,
                            struct rp_err *err)
{
    char field[FIELD_SIZE], sub[FIELD_SIZE];
    address_field(field, sizeof(field), address, "");
    if (!*address)
        return rp_err_set(err, RP_EINVAL, "Addresses", "has an empty address");
    if (!json_is_object(cfg))
        return rp_err_set(err, RP_EINVAL, field, "must be an AddressConfiguration object");
    int rc = rp_render_validate_send_configuration(cfg, field, true, err);
    if (rc < 0)
        return rc;
    address_field(sub, sizeof(sub), address, ".ChannelType");
    const struct rp_render_channel *ch = channel_type(member(cfg, "ChannelType"), sub, err);
    if (!ch)
        return RP_EINVAL;
    if (rp_channel_address_validate(rp_channel_by_type(ch->type), address, field, err) < 0)
        return RP_EINVAL;
    /* For email the title is the Subject header: a line break would start another header. */
    const char *title = json_string_value(member(cfg, "TitleOverride"));
    if (ch->family == RP_RENDER_EMAIL && title && strpbrk(title, "\r\n")) {
        address_field(sub, sizeof(sub), address, ".TitleOverride");
        return rp_err_set(err, RP_EINVAL, sub, "must not contain line breaks (it is the subject)");
    }
    const json_t *mc = member(body, "MessageConfiguration");
    if (!rp_render_recipient_has_content(ch, mc, cfg) &&
        !template_for(member(body, "TemplateConfiguration"), ch))
        return missing_content(ch, field, err);
    return 0;
}

/* User ids follow the endpoint id rules of the reference (no $, { or }) without the length cap:
 * Pinpoint states none for EndpointUser.UserId. Control characters are refused for the same
 * reasons as in endpoint ids (keys, logs). jansson has already checked the UTF-8. */
static int validate_user_id(const char *id, const char *field, struct rp_err *err)
{
    if (!*id)
        return rp_err_set(err, RP_EINVAL, "Users", "has an empty user id");
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
            return rp_err_set(err, RP_EINVAL, field, "must not contain control characters");
        if (*p == '$' || *p == '{' || *p == '}')
            return rp_err_set(err, RP_EINVAL, field, "can't contain $, { or }");
    }
    return 0;
}

static int validate_send_map(const json_t *map, const char *name, struct rp_err *err)
{
    const char *id;
    const json_t *cfg;
    json_object_foreach((json_t *)map, id, cfg)
    {
        char field[FIELD_SIZE];
        id_field(field, sizeof(field), name, id, "");
        int rc = strcmp(name, "Users") == 0 ? validate_user_id(id, field, err)
                                            : rp_endpoint_id_validate(id, field, err);
        if (rc < 0)
            return RP_EINVAL;
        if (!json_is_object(cfg) && !json_is_null(cfg))
            return rp_err_set(err, RP_EINVAL, field, "must be an EndpointSendConfiguration object");
        if ((rc = rp_render_validate_send_configuration(cfg, field, false, err)) < 0)
            return rc;
    }
    return 0;
}

static int validate_message_request(const json_t *body, struct rp_err *err)
{
    const json_t *addresses = NULL, *endpoints = NULL;
    int rc = validate_common(body, err);
    if (rc == 0)
        rc = map_member(body, "Addresses", &addresses, err);
    if (rc == 0)
        rc = map_member(body, "Endpoints", &endpoints, err);
    if (rc < 0)
        return rc;
    size_t n = json_object_size(addresses) + json_object_size(endpoints);
    if (n == 0)
        return rp_err_set(err, RP_EINVAL, "Addresses",
                          "or Endpoints must name at least one recipient");
    if (n > RP_RENDER_MAX_RECIPIENTS)
        return rp_err_set(err, RP_EINVAL, "Addresses",
                          "and Endpoints can name at most %d recipients together, not %zu",
                          RP_RENDER_MAX_RECIPIENTS, n);
    const char *address;
    const json_t *cfg;
    json_object_foreach((json_t *)addresses, address, cfg)
    {
        if ((rc = validate_address(body, address, cfg, err)) < 0)
            return rc;
    }
    if ((rc = validate_send_map(endpoints, "Endpoints", err)) < 0)
        return rc;
    if (!rp_render_request_has_content(member(body, "MessageConfiguration"),
                                       member(body, "TemplateConfiguration"), addresses, endpoints))
        return rp_err_set(err, RP_EINVAL, "MessageConfiguration",
                          "has no message: give DefaultMessage.Body or a message for the "
                          "recipients' channels");
    return 0;
}

static int validate_users_request(const json_t *body, struct rp_err *err)
{
    const json_t *users = NULL;
    int rc = validate_common(body, err);
    if (rc == 0)
        rc = map_member(body, "Users", &users, err);
    if (rc < 0)
        return rc;
    size_t n = json_object_size(users);
    if (n == 0)
        return rp_err_set(err, RP_EINVAL, "Users", "is required and must name at least one user");
    if (n > RP_RENDER_MAX_USERS)
        return rp_err_set(err, RP_EINVAL, "Users", "can name at most %d users, not %zu",
                          RP_RENDER_MAX_USERS, n);
    if ((rc = validate_send_map(users, "Users", err)) < 0)
        return rc;
    if (!rp_render_request_has_content(member(body, "MessageConfiguration"),
                                       member(body, "TemplateConfiguration"), users, NULL))
        return rp_err_set(err, RP_EINVAL, "MessageConfiguration",
                          "has no message: give DefaultMessage.Body or a message for the "
                          "users' channels");
    return 0;
}

int rp_render_validate_message_request(const json_t *body, struct rp_err *err)
{
    return rp_render_err_clean(validate_message_request(body, err), err);
}

int rp_render_validate_users_request(const json_t *body, struct rp_err *err)
{
    return rp_render_err_clean(validate_users_request(body, err), err);
}

struct rp_render_plan *rp_render_plan_new(const json_t *body, enum rp_render_kind kind,
                                          struct rp_err *err)
{
    int rc = kind == RP_RENDER_USERS ? rp_render_validate_users_request(body, err)
                                     : rp_render_validate_message_request(body, err);
    if (rc < 0)
        return NULL;
    struct rp_render_plan *plan = rp_calloc(1, sizeof(*plan));
    plan->kind = kind;
    plan->body = json_incref((json_t *)body);
    plan->mc = member(body, "MessageConfiguration");
    plan->tc = member(body, "TemplateConfiguration");
    plan->context = member(body, "Context");
    plan->trace_id = string_member(body, "TraceId");

    const char *key;
    const json_t *cfg;
    const json_t *addresses = member(body, "Addresses");
    const json_t *endpoints = member(body, "Endpoints");
    const json_t *users = member(body, "Users");
    if (kind == RP_RENDER_MESSAGES) {
        plan->addresses = rp_calloc(json_object_size(addresses) + 1, sizeof(*plan->addresses));
        json_object_foreach((json_t *)addresses, key, cfg)
        {
            struct address_entry *a = &plan->addresses[plan->n_addresses++];
            a->address = key;
            a->cfg = cfg;
            a->channel = rp_render_channel_find(string_member(cfg, "ChannelType"));
        }
        plan->endpoints = rp_calloc(json_object_size(endpoints) + 1, sizeof(*plan->endpoints));
        json_object_foreach((json_t *)endpoints, key, cfg)
        {
            struct endpoint_entry *e = &plan->endpoints[plan->n_endpoints++];
            e->id = key;
            e->cfg = json_is_object(cfg) ? cfg : NULL;
        }
    } else {
        plan->users = rp_calloc(json_object_size(users) + 1, sizeof(*plan->users));
        json_object_foreach((json_t *)users, key, cfg)
        {
            struct user_entry *u = &plan->users[plan->n_users++];
            u->id = key;
            u->cfg = json_is_object(cfg) ? cfg : NULL;
        }
    }
    return plan;
}

static void endpoint_entry_cleanup(struct endpoint_entry *e)
{
    free(e->owned_id);
    json_decref(e->endpoint);
}

void rp_render_plan_free(struct rp_render_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_recipients; i++) {
        free(plan->recipients[i].address);
        rp_delivery_cleanup(&plan->recipients[i].delivery);
    }
    free(plan->recipients);
    for (size_t i = 0; i < plan->n_endpoints; i++)
        endpoint_entry_cleanup(&plan->endpoints[i]);
    for (size_t i = 0; i < plan->n_users; i++)
        for (size_t j = 0; j < plan->users[i].n_endpoints; j++)
            endpoint_entry_cleanup(&plan->users[i].endpoints[j]);
    free(plan->addresses);
    free(plan->endpoints);
    free(plan->users);
    json_decref(plan->body);
    free(plan);
}

enum rp_render_kind rp_render_plan_kind(const struct rp_render_plan *plan)
{
    return plan->kind;
}

size_t rp_render_plan_endpoint_count(const struct rp_render_plan *plan)
{
    return plan->n_endpoints;
}

const char *rp_render_plan_endpoint_id(const struct rp_render_plan *plan, size_t i)
{
    return i < plan->n_endpoints ? plan->endpoints[i].id : NULL;
}

size_t rp_render_plan_user_count(const struct rp_render_plan *plan)
{
    return plan->n_users;
}

const char *rp_render_plan_user_id(const struct rp_render_plan *plan, size_t i)
{
    return i < plan->n_users ? plan->users[i].id : NULL;
}

const json_t *rp_render_plan_templates(const struct rp_render_plan *plan)
{
    return plan->tc;
}

int rp_render_plan_set_endpoint(struct rp_render_plan *plan, size_t i, const json_t *endpoint)
{
    if (plan->built || i >= plan->n_endpoints)
        return RP_EINVAL;
    json_decref(plan->endpoints[i].endpoint);
    plan->endpoints[i].endpoint = json_is_object(endpoint) ? json_incref((json_t *)endpoint) : NULL;
    return 0;
}

int rp_render_plan_add_user_endpoint(struct rp_render_plan *plan, size_t i, const char *endpoint_id,
                                     const json_t *endpoint)
{
    if (plan->built || i >= plan->n_users || !endpoint_id || !json_is_object(endpoint))
        return RP_EINVAL;
    struct user_entry *u = &plan->users[i];
    const char *owner = rp_endpoint_user_id(endpoint);
    if (!owner || strcmp(owner, u->id) != 0)
        return 0;
    if (u->n_endpoints == RP_RENDER_MAX_USER_ENDPOINTS)
        return RP_ELIMIT;
    /* The stored Id keeps the case the endpoint was created with; index entries are folded. */
    const char *id = string_member(endpoint, "Id");
    if (!id)
        id = endpoint_id;
    for (size_t j = 0; j < u->n_endpoints; j++)
        if (strcasecmp(u->endpoints[j].id, id) == 0)
            return 0; /* handed over twice: one endpoint is one recipient */
    struct endpoint_entry *e = &u->endpoints[u->n_endpoints++];
    e->owned_id = rp_strdup(id);
    e->id = e->owned_id;
    e->cfg = u->cfg;
    e->endpoint = json_incref((json_t *)endpoint);
    return 0;
}

static void result_set(struct rp_render_result *r, enum rp_delivery_status status, int code,
                       const char *fmt, va_list ap)
{
    r->status = status;
    r->status_code = code;
    vsnprintf(r->status_message, sizeof(r->status_message), fmt, ap);
    r->final = true;
}

void rp_render_recipient_set(struct rp_render_recipient *r, enum rp_delivery_status status,
                             int status_code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    result_set(&r->result, status, status_code, fmt, ap);
    va_end(ap);
}

void rp_render_recipient_finish(struct rp_render_recipient *r, enum rp_delivery_status status,
                                int status_code, const char *status_message,
                                const char *updated_token)
{
    rp_render_recipient_set(r, status, status_code, "%s", status_message ? status_message : "");
    snprintf(r->result.updated_token, sizeof(r->result.updated_token), "%s",
             updated_token ? updated_token : "");
}

void rp_render_recipient_complete(struct rp_render_recipient *r,
                                  const struct rp_delivery_result *result)
{
    rp_render_recipient_finish(r, result->status, result->status_code, result->status_message,
                               result->updated_token);
    snprintf(r->result.provider_message_id, sizeof(r->result.provider_message_id), "%s",
             result->message_id);
}

/* Context: the request's, overlaid by the recipient's ("Attribute names are case sensitive";
 * the recipient's map is the more specific). Shared when only one of them is given. */
static json_t *merged_context(const json_t *message, const json_t *recipient)
{
    bool m = json_object_size(message) > 0, r = json_object_size(recipient) > 0;
    if (!m && !r)
        return NULL;
    if (m != r)
        return json_incref((json_t *)(m ? message : recipient));
    json_t *ctx = json_deep_copy(message);
    if (!ctx || json_object_update(ctx, (json_t *)recipient) != 0)
        rp_panic("out of memory rendering Context");
    return ctx;
}

static void fill_delivery(struct build *b, struct rp_render_recipient *r,
                          const struct rp_render_channel *ch, const json_t *rcfg, json_t *content)
{
    struct rp_delivery *d = &r->delivery;
    const struct rp_render_params *p = b->params;
    rp_delivery_init(d);
    rp_uuid_new(d->message_id);
    rp_strcpy_fit(d->request_id, sizeof(d->request_id), b->plan->request_id);
    rp_strcpy_fit(d->app_id, sizeof(d->app_id), b->plan->app_id);
    rp_strcpy_fit(d->channel, sizeof(d->channel), ch->type);
    d->address = rp_strdup(r->address);
    d->endpoint_id = r->endpoint_id ? rp_strdup(r->endpoint_id) : NULL;
    d->recipient_key = rp_strdup(r->key);
    d->content = content;
    d->context = merged_context(b->plan->context, member(rcfg, "Context"));
    d->trace_id = b->plan->trace_id ? rp_strdup(b->plan->trace_id) : NULL;
    d->created_ms = p->now_ms;
    d->deadline_ms = p->deadline_ms;
    d->origin = RP_ORIGIN_DIRECT;
    rp_strcpy_fit(d->reply_to, sizeof(d->reply_to), p->reply_to ? p->reply_to : "");
    r->queued = true;
}

/* Whether a recipient's content may be another's of the same channel: nothing of its own
 * (configuration, template, Baidu's per-endpoint platform) goes into it. */
static bool content_shareable(const struct build *b, const struct rp_render_channel *ch,
                              const json_t *rcfg)
{
    return b->params->share_content && json_object_size(rcfg) == 0 &&
           !template_for(b->plan->tc, ch) && strcmp(ch->type, "BAIDU") != 0;
}

static json_t *shared_content(const struct build *b, const struct rp_render_channel *ch)
{
    for (int i = 0; i < b->n_shared; i++)
        if (b->shared[i].ch == ch)
            return b->shared[i].content;
    return NULL;
}

static void share_content(struct build *b, const struct rp_render_channel *ch, json_t *content)
{
    if (b->n_shared == SHARED_CONTENT_MAX)
        return;
    b->shared[b->n_shared].ch = ch;
    b->shared[b->n_shared++].content = json_incref(content);
}

/* Renders r's content on ch and fills its delivery, or gives it a final result. who names the
 * recipient in a 400 ("Addresses[+141***(12)]", "Endpoints[ep-1]"). */
static int render_recipient(struct build *b, struct rp_render_recipient *r,
                            const struct rp_render_channel *ch, const json_t *rcfg,
                            const json_t *endpoint, const char *who, struct rp_err *err)
{
    const struct rp_render_plan *plan = b->plan;
    bool shareable = content_shareable(b, ch, rcfg);
    json_t *ready = shareable ? shared_content(b, ch) : NULL;
    if (ready) {
        fill_delivery(b, r, ch, rcfg, json_incref(ready));
        return 0;
    }
    json_t *content = NULL, *vars = NULL;
    int rc = rp_render_content(ch, plan->mc, rcfg, &b->budget, &content, &vars, err);
    if (rc < 0)
        return rc;
    const json_t *tmpl = template_for(plan->tc, ch);
    if (tmpl && b->params->template_fn)
        rc = b->params->template_fn(b->params->template_arg, ch->type, tmpl, vars, endpoint,
                                    content, err);
    json_decref(vars);
    if (rc == RP_EPARSE) {
        /* The recipient's template does not render (a variable with no value anywhere ...):
         * Pinpoint does not send such a message, and the others still go. */
        rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_SENT, "%s", err->msg);
        rp_err_clear(err);
        json_decref(content);
        return 0;
    }
    if (rc == 0 && rp_render_content_empty(ch, content)) {
        if (tmpl && !b->params->template_fn) {
            char field[FIELD_SIZE];
            snprintf(field, sizeof(field), "TemplateConfiguration.%s", ch->template_member);
            rc = rp_err_set(err, RP_EINVAL, field,
                            "templates are not served yet: give the message in "
                            "MessageConfiguration");
        } else if (plan->kind == RP_RENDER_USERS) {
            rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_SENT,
                                    "No message for the %s channel", ch->type);
        } else {
            rc = missing_content(ch, who, err);
        }
        json_decref(content);
        return rc;
    }
    if (rc < 0) {
        json_decref(content);
        return rc;
    }
    /* Baidu addresses Android and iOS devices differently: it needs the endpoint's platform. */
    const char *platform =
        json_string_value(json_object_get(json_object_get(endpoint, "Demographic"), "Platform"));
    if (platform && strcmp(ch->type, "BAIDU") == 0)
        json_object_set_new(content, "Platform", json_string(platform));
    if (shareable)
        share_content(b, ch, content);
    fill_delivery(b, r, ch, rcfg, content);
    return 0;
}

/* Resolves an endpoint recipient to its channel and address; false when it got a final result
 * instead (not found, unusable, inactive or opted out under the campaign rules). */
static bool resolve_endpoint(struct build *b, struct rp_render_recipient *r, const json_t *endpoint,
                             const struct rp_render_channel **ch_out)
{
    if (!endpoint) {
        rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_FOUND, "Endpoint not found");
        return false;
    }
    const char *type = string_member(endpoint, "ChannelType");
    const char *address = string_member(endpoint, "Address");
    const struct rp_render_channel *ch = rp_render_channel_find(type);
    const struct rp_channel_ops *ops = rp_channel_by_type(type);
    if (address)
        r->address = rp_strdup(address);
    if (!type || !ch || !ops) {
        rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_SENT,
                                "Repoint does not deliver through the endpoint's channel (%.24s)",
                                type ? type : "none");
        return false;
    }
    struct rp_err ignored;
    if (!address || rp_channel_address_validate(ops, address, "Address", &ignored) < 0) {
        rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_SENT,
                                "The endpoint has no valid %s address", ch->type);
        return false;
    }
    const char *status = string_member(endpoint, "EndpointStatus");
    if (b->params->skip_inactive && status && strcmp(status, "INACTIVE") == 0) {
        rp_render_recipient_set(r, RP_DS_PERMANENT_FAILURE, STATUS_NOT_SENT,
                                "Endpoint is inactive");
        return false;
    }
    const char *opt_out = string_member(endpoint, "OptOut");
    if (b->params->honor_opt_out && opt_out && strcmp(opt_out, "ALL") == 0) {
        rp_render_recipient_set(r, RP_DS_OPT_OUT, STATUS_NOT_SENT,
                                "The endpoint has opted out of messages");
        return false;
    }
    *ch_out = ch;
    return true;
}

static void mark_duplicate(struct rp_render_recipient *r)
{
    rp_render_recipient_set(r, RP_DS_DUPLICATE, STATUS_NOT_SENT,
                            "Duplicate address: the message is sent to it once in this request");
}

static int build_endpoint(struct build *b, struct rp_render_recipient *r,
                          const struct endpoint_entry *e, const char *user_id, struct rp_err *err)
{
    r->user_id = user_id;
    r->key = e->id;
    r->endpoint_id = e->id;
    const struct rp_render_channel *ch = NULL;
    if (!resolve_endpoint(b, r, e->endpoint, &ch))
        return 0;
    if (!claimed_add(b->seen, ch->type, r->address)) {
        mark_duplicate(r);
        return 0;
    }
    char who[FIELD_SIZE];
    id_field(who, sizeof(who), "Endpoints", e->id, "");
    return render_recipient(b, r, ch, e->cfg, e->endpoint, who, err);
}

static int build_address(struct build *b, struct rp_render_recipient *r,
                         const struct address_entry *a, struct rp_err *err)
{
    r->key = a->address;
    r->address = rp_strdup(a->address);
    if (!claimed_add(b->seen, a->channel->type, a->address)) {
        mark_duplicate(r);
        return 0;
    }
    char who[FIELD_SIZE];
    address_field(who, sizeof(who), a->address, "");
    return render_recipient(b, r, a->channel, a->cfg, NULL, who, err);
}

static int compare_endpoints(const void *x, const void *y)
{
    return strcmp(((const struct endpoint_entry *)x)->id, ((const struct endpoint_entry *)y)->id);
}

static int build_all(struct build *b, struct rp_err *err)
{
    struct rp_render_plan *plan = b->plan;
    size_t n = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < plan->n_addresses; i++)
        rc = build_address(b, &plan->recipients[n++], &plan->addresses[i], err);
    for (size_t i = 0; rc == 0 && i < plan->n_endpoints; i++)
        rc = build_endpoint(b, &plan->recipients[n++], &plan->endpoints[i], NULL, err);
    for (size_t i = 0; rc == 0 && i < plan->n_users; i++) {
        struct user_entry *u = &plan->users[i];
        /* The store hands endpoints over in no particular order; sorting makes which of two
         * endpoints sharing an address is the DUPLICATE the same on every send. */
        qsort(u->endpoints, u->n_endpoints, sizeof(u->endpoints[0]), compare_endpoints);
        for (size_t j = 0; rc == 0 && j < u->n_endpoints; j++)
            rc = build_endpoint(b, &plan->recipients[n++], &u->endpoints[j], u->id, err);
    }
    return rc;
}

int rp_render_build(struct rp_render_plan *plan, const struct rp_render_params *params,
                    struct rp_err *err)
{
    if (plan->built || !params->app_id || !params->request_id ||
        strlen(params->app_id) >= sizeof(plan->app_id) ||
        strlen(params->request_id) >= sizeof(plan->request_id))
        return rp_err_set(err, RP_EINVAL, "", "rendering was called out of order");
    snprintf(plan->app_id, sizeof(plan->app_id), "%s", params->app_id);
    snprintf(plan->request_id, sizeof(plan->request_id), "%s", params->request_id);

    size_t total = plan->n_addresses + plan->n_endpoints;
    for (size_t i = 0; i < plan->n_users; i++)
        total += plan->users[i].n_endpoints;
    /* Not calloc: jemalloc zeroes an allocation this large by giving its pages back to the
     * kernel, and a campaign paid the page faults on every chunk of 100 recipients. */
    plan->recipients = rp_malloc((total + 1) * sizeof(*plan->recipients));
    memset(plan->recipients, 0, (total + 1) * sizeof(*plan->recipients));
    plan->n_recipients = total;

    struct build b = {.plan = plan, .params = params, .budget = RP_RENDER_MAX_RENDERED_BYTES};
    b.seen = claimed_new(total);
    int rc = rp_render_err_clean(build_all(&b, err), err);
    claimed_free(b.seen);
    for (int i = 0; i < b.n_shared; i++)
        json_decref(b.shared[i].content);
    if (rc < 0) {
        for (size_t i = 0; i < plan->n_recipients; i++) {
            free(plan->recipients[i].address);
            rp_delivery_cleanup(&plan->recipients[i].delivery);
        }
        free(plan->recipients);
        plan->recipients = NULL;
        plan->n_recipients = 0;
        return rc;
    }
    plan->built = true;
    return 0;
}

size_t rp_render_plan_count(const struct rp_render_plan *plan)
{
    return plan->n_recipients;
}

struct rp_render_recipient *rp_render_plan_recipient(struct rp_render_plan *plan, size_t i)
{
    return i < plan->n_recipients ? &plan->recipients[i] : NULL;
}

struct rp_render_recipient *rp_render_plan_find(struct rp_render_plan *plan, const char *message_id)
{
    for (size_t i = 0; message_id && i < plan->n_recipients; i++)
        if (plan->recipients[i].queued &&
            strcmp(plan->recipients[i].delivery.message_id, message_id) == 0)
            return &plan->recipients[i];
    return NULL;
}

size_t rp_render_plan_deliveries(struct rp_render_plan *plan, struct rp_delivery **out)
{
    size_t n = 0;
    for (size_t i = 0; i < plan->n_recipients; i++)
        if (plan->recipients[i].queued)
            out[n++] = &plan->recipients[i].delivery;
    return n;
}

static void set_member(json_t *obj, const char *name, json_t *value)
{
    if (!value || json_object_set_new(obj, name, value) != 0)
        rp_panic("out of memory building a message response");
}

/* MessageResult, or EndpointMessageResult when with_address. */
static json_t *result_json(const struct rp_render_recipient *r, bool with_address)
{
    struct rp_render_result res = r->result;
    if (!res.final) {
        res.status = RP_DS_UNKNOWN_FAILURE;
        res.status_code = STATUS_NO_RESULT;
        snprintf(res.status_message, sizeof(res.status_message),
                 "No result before the request's deadline; the message may still be delivered");
    }
    json_t *o = json_object();
    if (!o)
        rp_panic("out of memory building a message response");
    if (with_address && r->address)
        set_member(o, "Address", json_string(r->address));
    set_member(o, "DeliveryStatus", json_string(rp_delivery_status_name(res.status)));
    /* The provider's id when it gave one (Twilio's message sid, APNs' apns-id), as Pinpoint
     * answers; Repoint's own delivery id (also on the events) otherwise. */
    json_t *provider_id = res.provider_message_id[0] ? json_string(res.provider_message_id) : NULL;
    if (provider_id)
        set_member(o, "MessageId", provider_id);
    else if (r->queued)
        set_member(o, "MessageId", json_string(r->delivery.message_id));
    set_member(o, "StatusCode", json_integer(res.status_code));
    /* Provider messages are not guaranteed UTF-8; jansson refuses what is not. */
    if (res.status_message[0]) {
        json_t *msg = json_string(res.status_message);
        set_member(o, "StatusMessage", msg ? msg : json_string("(not valid UTF-8)"));
    }
    if (res.updated_token[0]) {
        json_t *token = json_string(res.updated_token);
        if (token)
            set_member(o, "UpdatedToken", token);
    }
    return o;
}

json_t *rp_render_response(const struct rp_render_plan *plan)
{
    if (!plan->built)
        return NULL;
    json_t *resp = json_object();
    if (!resp)
        rp_panic("out of memory building a message response");
    set_member(resp, "ApplicationId", json_string(plan->app_id));
    set_member(resp, "RequestId", json_string(plan->request_id));
    json_t *result = json_object(), *endpoint_result = json_object();
    if (!result || !endpoint_result)
        rp_panic("out of memory building a message response");
    for (size_t i = 0; plan->kind == RP_RENDER_USERS && i < plan->n_users; i++)
        set_member(result, plan->users[i].id, json_object());
    for (size_t i = 0; i < plan->n_recipients; i++) {
        const struct rp_render_recipient *r = &plan->recipients[i];
        if (plan->kind == RP_RENDER_USERS)
            set_member(json_object_get(result, r->user_id), r->key, result_json(r, true));
        else if (r->endpoint_id)
            set_member(endpoint_result, r->key, result_json(r, true));
        else
            set_member(result, r->key, result_json(r, false));
    }
    if (plan->kind == RP_RENDER_USERS || json_object_size(result) > 0)
        set_member(resp, "Result", result);
    else
        json_decref(result);
    if (json_object_size(endpoint_result) > 0)
        set_member(resp, "EndpointResult", endpoint_result);
    else
        json_decref(endpoint_result);
    return resp;
}
