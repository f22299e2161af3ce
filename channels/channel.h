/* The channel plugin interface. Every channel is a table of operations registered in one
 * static array (channels/channel.c), in the manner of curl's protocol handlers: the core never
 * names a provider. Empty slots point at default functions so no slot is ever NULL; callers go
 * through the static inline wrappers below, never through the pointers directly. */
#ifndef RP_CHANNEL_H
#define RP_CHANNEL_H

#include <jansson.h>
#include <stddef.h>

#include "../gateway/delivery.h"
#include "../gateway/err.h"

struct event_base;
struct rp_config;

/* One attempt to send one delivery, owned by the worker that started it. The channel fills
 * result and calls rp_send_complete(send) exactly once, from the worker's event loop thread
 * (possibly before send() returns, e.g. for a payload too large to send). */
struct rp_send {
    const struct rp_delivery *delivery; /* borrowed until complete */
    const json_t *settings;             /* the app's decrypted channel settings, borrowed */
    struct rp_delivery_result result;
    void (*on_complete)(struct rp_send *send); /* set by the worker */
    void *worker_data;                  /* the worker's, untouched by channels */
};

static inline void rp_send_complete(struct rp_send *send)
{
    send->on_complete(send);
}

/* The time an attempt may take: default_ms cut to what is left before the delivery's deadline
 * (a direct send must have its answer by the time its API request stops waiting). Returns 1 with
 * *timeout_ms set, or 0 after completing send with TEMPORARY_FAILURE when the deadline has
 * already passed. */
int rp_send_timeout(struct rp_send *send, long default_ms, long *timeout_ms);

struct rp_channel_ops {
    /* Pinpoint ChannelType as it appears in endpoints and GetChannels: "APNS_VOIP_SANDBOX". */
    const char *type;
    /* URL segment under /v1/apps/{id}/channels/: "apns_voip_sandbox". */
    const char *path;
    /* The Platform member of the channel response: "APNS_VOIP_SANDBOX", "GCM", "EMAIL", ... */
    const char *platform;
    /* Name of the request member wrapping the settings in Update<X>Channel's body
     * (informational: the HTTP body is the bare request object). */
    const char *request_shape;

    /* Validates the full settings of an Update<X>Channel request (already merged over the
     * stored ones) for form: PEM keys parse, a service-account JSON has its fields, ...
     * Borrows settings. Adds to response_members (borrowed, must be an object) the
     * channel-specific members of the channel response, never a secret: flags such as
     * HasCredential / HasTokenKey, and non-secret settings such as SenderId or FromAddress,
     * always Enabled (true unless the request says false).
     * Returns 0, or RP_EINVAL with err naming the field. Field names are the request members
     * exactly as sent, without the shape name ("TokenKey", not "APNSChannelRequest.TokenKey",
     * the convention of gateway/endpoint.h); a member of a document carried in a string is
     * joined with a dot ("ServiceJson.private_key"). Messages never quote a submitted value.
     * A member that is absent, JSON null or "" counts as not given; members outside the
     * request shape are ignored (the AWS SDKs send none). response_members may hold some
     * members when validation fails: the caller discards it then. */
    int (*settings_validate)(const json_t *settings, json_t *response_members,
                             struct rp_err *err);

    /* Address validation for endpoints and direct sends of this channel: returns 0 or
     * RP_EINVAL with err naming field_name. */
    int (*address_validate)(const char *address, const char *field_name, struct rp_err *err);

    /* Per worker thread transport (connections, token caches) on that thread's event loop.
     * transport_new returns a new object owned by the worker, or NULL when the channel cannot
     * send here (logged). cfg is borrowed for the life of the process. */
    void *(*transport_new)(struct event_base *base, const struct rp_config *cfg);
    void (*transport_free)(void *transport);
    /* Starts one attempt; see struct rp_send. Many may be in flight on one transport. */
    void (*send)(void *transport, struct rp_send *send);
};

/* Returns the registry (borrowed, static) and its length. */
const struct rp_channel_ops *const *rp_channel_all(size_t *count);
/* Per-channel tables (limits, queue depths, metrics) are indexed by registry position and sized
 * by this bound, which the registry never exceeds. */
#define RP_CHANNEL_MAX 32
/* The registry position of a ChannelType ("GCM"), or -1 when unknown. */
int rp_channel_index(const char *type);
/* Looks a channel up by ChannelType ("GCM") or by URL segment ("gcm"); NULL when unknown. */
const struct rp_channel_ops *rp_channel_by_type(const char *type);
const struct rp_channel_ops *rp_channel_by_path(const char *path);

/* Designated initialisers for a channel that cannot deliver yet (its delivery lands later):
 * every slot stays non-NULL. */
#define RP_CHANNEL_NO_TRANSPORT                                                                    \
    .transport_new = rp_channel_default_transport_new,                                             \
    .transport_free = rp_channel_default_transport_free, .send = rp_channel_default_send

/* Default slot implementations. */
int rp_channel_default_settings_validate(const json_t *settings, json_t *response_members,
                                         struct rp_err *err);
int rp_channel_default_address_validate(const char *address, const char *field_name,
                                        struct rp_err *err);
void *rp_channel_default_transport_new(struct event_base *base, const struct rp_config *cfg);
void rp_channel_default_transport_free(void *transport);
/* Completes at once with PERMANENT_FAILURE "channel X cannot deliver yet". */
void rp_channel_default_send(void *transport, struct rp_send *send);

static inline int rp_channel_settings_validate(const struct rp_channel_ops *ch,
                                               const json_t *settings, json_t *response_members,
                                               struct rp_err *err)
{
    return ch->settings_validate(settings, response_members, err);
}

static inline int rp_channel_address_validate(const struct rp_channel_ops *ch, const char *address,
                                              const char *field_name, struct rp_err *err)
{
    return ch->address_validate(address, field_name, err);
}

static inline void *rp_channel_transport_new(const struct rp_channel_ops *ch,
                                             struct event_base *base, const struct rp_config *cfg)
{
    return ch->transport_new(base, cfg);
}

static inline void rp_channel_transport_free(const struct rp_channel_ops *ch, void *transport)
{
    ch->transport_free(transport);
}

static inline void rp_channel_send(const struct rp_channel_ops *ch, void *transport,
                                   struct rp_send *send)
{
    ch->send(transport, send);
}

#endif
