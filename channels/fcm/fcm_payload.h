/* The GCM channel's pure parts: the FCM HTTP v1 request body built from a delivery's content,
 * and the mapping of FCM answers onto Pinpoint's DeliveryStatus (PROVIDERS.md section 2).
 *
 * The body follows the Pinpoint Android SDK's convention (docs/push-android.md): the message's
 * data carries pinpoint.notification.title / body / imageUrl / imageIconUrl /
 * imageSmallIconUrl / silentPush, pinpoint.openApp, pinpoint.url and pinpoint.deeplink, from
 * which the SDK builds and handles the notification; a non-silent message also carries a
 * notification block so apps without the SDK show it. */
#ifndef RP_FCM_PAYLOAD_H
#define RP_FCM_PAYLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "../../gateway/delivery.h"
#include "../../gateway/err.h"

struct rp_httpc_response;

/* FCM's limit for a message to a token: keys and values of data and notification counted. */
#define RP_FCM_PAYLOAD_MAX 4096

/* Builds {"message":{...}} for token from content (a delivery's push content, borrowed).
 * Returns 0 with *body a new string, or RP_EINVAL / RP_ELIMIT with err naming the member at
 * fault (RawContent that is not an FCM message, data values that are not strings, a payload
 * over RP_FCM_PAYLOAD_MAX). */
int rp_fcm_payload_build(const json_t *content, const char *token, char **body, struct rp_err *err);
/* The same body written into *buf, a buffer of *cap bytes the caller keeps across messages
 * (NULL and 0 at first): grown with realloc when a body does not fit, so steady sending does not
 * allocate for it. On success *len is the body's length (NUL-terminated after it). On failure
 * *buf keeps whatever it held, and stays the caller's to free. */
int rp_fcm_payload_write(const json_t *content, const char *token, char **buf, size_t *cap,
                         size_t *len, struct rp_err *err);

/* One content's body remembered for the next sends of the same content: a campaign's
 * recipients share one content object, and only the token differs between their bodies. The
 * content is held (json_incref), so its address cannot come back as another content's while it
 * is remembered. Zero-initialise; rp_fcm_body_memo_clear releases it. */
struct rp_fcm_body_memo {
    json_t *content;
    char *rest; /* the body after "token":"...": ,"notification":...}} */
};
void rp_fcm_body_memo_clear(struct rp_fcm_body_memo *m);
/* rp_fcm_payload_write, the same bytes, with the body built once per content in m (a
 * RawContent body, whose token comes last, is built every time). */
int rp_fcm_payload_write_memo(struct rp_fcm_body_memo *m, json_t *content, const char *token,
                              char **buf, size_t *cap, size_t *len, struct rp_err *err);

/* The size FCM counts for message (the "message" object, borrowed): the bytes of every key and
 * string value of data, notification, android.data and android.notification. */
size_t rp_fcm_payload_size(const json_t *message);

/* A Duration string for seconds: "3600s". out holds at least 24 bytes. */
void rp_fcm_ttl_format(long long seconds, char *out, size_t size);

enum rp_fcm_verdict {
    RP_FCM_FINAL = 0,  /* result is filled */
    RP_FCM_REAUTH = 1, /* 401 without an FCM error code: the access token was refused */
};

/* Maps an FCM answer onto result (initialised by the caller):
 *   200                                   SUCCESSFUL, message_id = name
 *   UNREGISTERED (404)                    PERMANENT_FAILURE, address_dead
 *   INVALID_ARGUMENT, SENDER_ID_MISMATCH,
 *   THIRD_PARTY_AUTH_ERROR, other 4xx     PERMANENT_FAILURE with FCM's message
 *   QUOTA_EXCEEDED (429)                  THROTTLED, retry_after_ms (Retry-After, else 60 s)
 *   UNAVAILABLE, INTERNAL, 5xx, transport TEMPORARY_FAILURE, retry_after_ms from Retry-After
 *   401 without an FCM errorCode          RP_FCM_REAUTH (result also says PERMANENT_FAILURE,
 *                                         the outcome when no retry is left)
 * now_ms is the wall clock (for an HTTP-date Retry-After). Borrows response. */
enum rp_fcm_verdict rp_fcm_classify(const struct rp_httpc_response *response, long long now_ms,
                                    struct rp_delivery_result *result);

#endif
