/* The APNs channels' pure parts, apart from any socket: the notification (JSON payload and
 * request headers) built from a delivery's rendered content, and the mapping of APNs answers
 * onto Pinpoint's DeliveryStatus. Protocol: docs/PROVIDERS.md section 1; where the Pinpoint /
 * Amplify mobile SDKs read Data, Url and MediaUrl is described in docs/apns.md. */
#ifndef RP_APNS_PAYLOAD_H
#define RP_APNS_PAYLOAD_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../gateway/delivery.h"

/* APNs' payload limits: 4 KB, 5 KB for VoIP notifications. */
#define RP_APNS_PAYLOAD_MAX      4096
#define RP_APNS_VOIP_PAYLOAD_MAX 5120
/* A bundle id (155) plus the longest topic suffix. */
#define RP_APNS_TOPIC_MAX 192

struct rp_apns_notification {
    char *payload;          /* owned, the request body (JSON, not NUL-counted in payload_len) */
    size_t payload_len;
    const char *push_type;  /* static: apns-push-type ("alert", "background", "voip", ...) */
    int priority;           /* apns-priority 10, 5 or 1; 0: no header (APNs reads 10) */
    bool has_expiration;
    int64_t expiration;     /* apns-expiration, UNIX seconds (0: deliver once, do not store) */
    char collapse_id[65];   /* apns-collapse-id, "" when none */
    char topic[RP_APNS_TOPIC_MAX]; /* apns-topic, "" when none (certificate auth decides) */
};

/* Builds the notification for one delivery. content is the delivery's rendered push content
 * (gateway/delivery.h), borrowed. bundle_id may be NULL or "" (certificate auth without a
 * topic). voip selects the VoIP channels' topic suffix, push type and size limit. now_s is the
 * wall clock in UNIX seconds (TimeToLive counts from it).
 * Returns 0 with out filled (release with rp_apns_notification_cleanup), or -1 with why (a
 * message for the PERMANENT_FAILURE result, never quoting the payload) and out empty. */
int rp_apns_notification_build(const json_t *content, const char *bundle_id, bool voip,
                               int64_t now_s, struct rp_apns_notification *out, char *why,
                               size_t why_size);
void rp_apns_notification_cleanup(struct rp_apns_notification *n);

/* The last content's payload text, for the next sends of the same content: a campaign's
 * recipients share one content object, and an APNs payload does not name its device. The
 * content is held (json_incref), so its address cannot come back as another content's while it
 * is remembered. Zero-initialise; rp_apns_payload_memo_clear releases it. */
struct rp_apns_payload_memo {
    json_t *content;
    char *text;
    size_t len;
};
void rp_apns_payload_memo_clear(struct rp_apns_payload_memo *m);
/* rp_apns_notification_build, the same notification, with the payload text built once per
 * content in m (a RawContent payload is copied as ever). */
int rp_apns_notification_build_memo(struct rp_apns_payload_memo *m, json_t *content,
                                    const char *bundle_id, bool voip, int64_t now_s,
                                    struct rp_apns_notification *out, char *why,
                                    size_t why_size);

/* An APNs answer. */
struct rp_apns_answer {
    int status;            /* HTTP status; 0 when the stream or connection failed */
    const char *apns_id;   /* the apns-id response header, or NULL */
    const char *body;      /* the response body (may be NULL), body_len bytes, not NUL-terminated */
    size_t body_len;
    const char *transport_error; /* with status 0: what failed */
};

/* Fills r (initialised) from an answer: 200 -> SUCCESSFUL with MessageId = apns-id; 410
 * Unregistered / ExpiredToken, 400 BadDeviceToken / DeviceTokenNotForTopic -> PERMANENT_FAILURE
 * with address_dead (and dead_since_ms from the 410 timestamp); other 4xx -> PERMANENT_FAILURE
 * with the reason; 429 -> THROTTLED; 5xx and no answer -> TEMPORARY_FAILURE. reason_out (may
 * be NULL) receives the APNs reason ("" when none). */
void rp_apns_classify(const struct rp_apns_answer *a, struct rp_delivery_result *r,
                      char *reason_out, size_t reason_size);

#endif
