/* A delivery: one rendered message to one address on one channel, provider-neutral. Rendering
 * (gateway/render.c) produces it before enqueue; workers only send it. It travels through the
 * queue as one compact JSON document (rp_delivery_to_json / rp_delivery_from_json). */
#ifndef RP_DELIVERY_H
#define RP_DELIVERY_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

/* Pinpoint's DeliveryStatus values (MessageResult / EndpointMessageResult). */
#define RP_DELIVERY_STATUS_MAP(X)                                                                  \
    X(SUCCESSFUL)                                                                                  \
    X(THROTTLED)                                                                                   \
    X(TEMPORARY_FAILURE)                                                                           \
    X(PERMANENT_FAILURE)                                                                           \
    X(UNKNOWN_FAILURE)                                                                             \
    X(OPT_OUT)                                                                                     \
    X(DUPLICATE)

enum rp_delivery_status {
#define RP_DS_ENUM(name) RP_DS_##name,
    RP_DELIVERY_STATUS_MAP(RP_DS_ENUM)
#undef RP_DS_ENUM
};

const char *rp_delivery_status_name(enum rp_delivery_status status);
/* Returns the status or -1 for an unknown name. */
int rp_delivery_status_parse(const char *name);

/* Where a delivery comes from: a waiting API request, or a campaign/job with nobody waiting. */
enum rp_delivery_origin { RP_ORIGIN_DIRECT = 0, RP_ORIGIN_CAMPAIGN = 1 };

struct rp_delivery {
    char message_id[48];      /* unique per delivery; kept across retries and redeliveries */
    char request_id[48];      /* the API request that created it */
    char app_id[40];
    char channel[24];         /* ChannelType: "SMS", "APNS", ... */
    char *address;            /* owned: phone number, device token, email address */
    char *endpoint_id;        /* owned, NULL when sent to an address */
    char *recipient_key;      /* owned: the key of this recipient in the request's Result or
                               * EndpointResult map (the address, or the endpoint id) */
    json_t *content;          /* owned: the rendered, channel-specific fields (below) */
    json_t *context;          /* owned or NULL: Context map, copied onto events */
    char *trace_id;           /* owned or NULL */
    int64_t created_ms;       /* wall clock */
    int64_t deadline_ms;      /* wall clock: not attempted after this */
    int attempts;             /* attempts already made */
    enum rp_delivery_origin origin;
    char reply_to[64];        /* Redis list the waiting API instance reads; "" when none */
    char campaign_id[48];     /* "" for direct sends */
    char campaign_activity_id[40]; /* the campaign run ("activity") that queued it, or "" */
    long long campaign_gen;   /* the run's generation when queued (gateway/campaigns.h): a
                               * delivery of an older generation is withdrawn, not sent */
};

/* content members by channel (all strings unless noted; absent when not given):
 *   SMS:   Body, MessageType (TRANSACTIONAL|PROMOTIONAL), OriginationNumber, SenderId, Keyword,
 *          EntityId, TemplateId, MediaUrl
 *   push (APNS*, GCM, ADM, BAIDU): Title, Body, Action, Url, Sound, ImageUrl, ImageIconUrl,
 *          SmallImageIconUrl, IconReference, MediaUrl, SilentPush (bool), Data (object of
 *          strings), RawContent, TimeToLive (integer), Priority, CollapseKey/CollapseId,
 *          Badge (integer), Category, ThreadId, PreferredAuthenticationMethod, APNSPushType,
 *          RestrictedPackageName, ConsolidationKey, ExpiresAfter, MD5, Platform (BAIDU, from
 *          the endpoint's Demographic.Platform: Baidu's device_type)
 *   EMAIL: FromAddress, ReplyToAddresses (array), FeedbackForwardingAddress, Subject,
 *          TextPart, HtmlPart, Charset, RawEmail, Body */

void rp_delivery_init(struct rp_delivery *d);
void rp_delivery_cleanup(struct rp_delivery *d);

/* Returns a new JSON object (caller owns) holding every member of d. */
json_t *rp_delivery_to_json(const struct rp_delivery *d);
/* Fills d (initialised by the caller) from JSON; returns 0 or RP_EINVAL for a malformed
 * document. Borrows doc; d takes its own references. */
int rp_delivery_from_json(struct rp_delivery *d, const json_t *doc);

/* Whether a and b are the same message to different recipients: equal in everything but the
 * message id, address, endpoint id and recipient key (the queue shares one entry between them). */
int rp_delivery_same_message(const struct rp_delivery *a, const struct rp_delivery *b);
/* Fills d as base sent to another recipient (a queue entry's [message id, endpoint id or
 * null, address, key]):
 * message_id is copied (non-empty, shorter than d->message_id); endpoint_id (NULL for none),
 * address and key (both required) are owned by d afterwards, or freed on failure. Returns 0, or
 * RP_EINVAL with d initialised. Shares base's content and context. */
int rp_delivery_for_recipient(struct rp_delivery *d, const struct rp_delivery *base,
                              const char *message_id, char *endpoint_id, char *address, char *key);

/* The outcome of one attempt, filled by a channel. */
struct rp_delivery_result {
    enum rp_delivery_status status;
    int status_code;              /* provider's HTTP status (or SMTP code); 0 when none */
    char status_message[256];     /* provider's reason, never a secret or a full address */
    char message_id[256];         /* provider's message id ("" when none) */
    char updated_token[512];      /* a new address the provider gave, "" when none */
    int address_dead;             /* the address will never work again: endpoint -> INACTIVE */
    int64_t dead_since_ms;        /* with address_dead: when the provider last saw the address
                                   * invalid (APNs 410 timestamp); an endpoint re-registered
                                   * after that stays ACTIVE. 0 when the provider gives none */
    int64_t retry_after_ms;       /* provider's Retry-After, 0 when none */
    json_t *attributes;           /* owned or NULL: extra event attributes (e.g. SMS parts) */
};

void rp_delivery_result_init(struct rp_delivery_result *r);
void rp_delivery_result_cleanup(struct rp_delivery_result *r);
/* Sets status, code and a printf-style message. */
void rp_delivery_result_set(struct rp_delivery_result *r, enum rp_delivery_status status,
                            int status_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 1 for statuses worth another attempt (THROTTLED, TEMPORARY_FAILURE, UNKNOWN_FAILURE). */
int rp_delivery_status_retryable(enum rp_delivery_status status);

#endif
