/* The SMS channel's pure parts, apart from any socket: the Twilio-compatible request (form body,
 * URL, sender choice), SMS segment counting, the mapping of provider answers onto Pinpoint's
 * DeliveryStatus, and the status callback (X-Twilio-Signature and its form body).
 * Protocol: Twilio's Programmable Messaging API, 2010-04-01 (docs/PROVIDERS.md section 6). */
#ifndef RP_SMS_PAYLOAD_H
#define RP_SMS_PAYLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "../../gateway/delivery.h"
#include "../../gateway/err.h"

struct rp_httpc_response;

/* ---- Segments ------------------------------------------------------------------------------ */

enum rp_sms_encoding { RP_SMS_GSM7 = 0, RP_SMS_UCS2 = 1 };

struct rp_sms_segments {
    enum rp_sms_encoding encoding;
    size_t units; /* GSM: septets (extension characters count 2); UCS-2: UTF-16 code units */
    int parts;    /* SMS messages the body is split into (1 for an empty body) */
};

/* Counts the parts of a UTF-8 body as a handset network would: GSM 03.38 when every character
 * is in the default alphabet or its extension table (160 septets in one part, 153 per part of
 * a concatenated message), else UCS-2 (70, or 67 per part). A part never ends between the two
 * septets of an extension character or the two units of a surrogate pair. Invalid UTF-8 counts
 * as UCS-2. Borrows body (NULL counts as empty). */
void rp_sms_segments_count(const char *body, struct rp_sms_segments *out);
/* "GSM" or "UCS2". */
const char *rp_sms_encoding_name(enum rp_sms_encoding encoding);

/* ---- The send request ---------------------------------------------------------------------- */

enum rp_sms_sender_kind {
    RP_SMS_SENDER_NONE = 0,
    RP_SMS_SENDER_FROM,    /* value goes in From: a number, short code or sender id */
    RP_SMS_SENDER_SERVICE, /* value goes in MessagingServiceSid */
};

struct rp_sms_sender {
    enum rp_sms_sender_kind kind;
    const char *value;  /* borrowed from the inputs of rp_sms_sender_select, NULL for NONE */
    const char *source; /* where it came from, for logs: "OriginationNumber", "SenderId", ... */
};

/* Chooses who a message is sent from, first non-empty of: the delivery content's
 * OriginationNumber, the content's SenderId (both per message, as Pinpoint's SMSMessage),
 * the channel settings' SenderId, then ShortCode (the app's SMSChannelRequest), then
 * messaging_service_sid (sms.messaging_service_sid). content, settings and
 * messaging_service_sid are borrowed (each may be NULL) and must outlive out. */
void rp_sms_sender_select(const json_t *content, const json_t *settings,
                          const char *messaging_service_sid, struct rp_sms_sender *out);

struct rp_sms_message {
    const char *to; /* E.164 */
    const char *body;
    struct rp_sms_sender sender;
    const char *status_callback; /* NULL or "" for none */
    /* India DLT registration (SendMessages' and SendOTPMessage's EntityId and TemplateId), or
     * NULL: sent as EntityId and TemplateId, which providers without DLT ignore. */
    const char *entity_id;
    const char *template_id;
};

/* Returns the form body of a Messages create request (new, caller frees): To, From or
 * MessagingServiceSid, Body, StatusCallback, EntityId and TemplateId when given, each
 * percent-encoded (UTF-8 bytes;
 * everything but RFC 3986 unreserved characters, so '+' is %2B and a space %20). */
char *rp_sms_form_build(const struct rp_sms_message *m);
/* Returns "{base_url}/2010-04-01/Accounts/{account_sid}/Messages.json" (new, caller frees);
 * a trailing '/' of base_url is dropped and the sid is percent-encoded. */
char *rp_sms_messages_url(const char *base_url, const char *account_sid);

/* ---- Form bodies (application/x-www-form-urlencoded) ---------------------------------------- */

struct rp_sms_param {
    char *name;  /* owned, decoded */
    char *value; /* owned, decoded */
};

struct rp_sms_form {
    struct rp_sms_param *params; /* owned, in body order */
    size_t n;
};

/* The most parameters a form may carry; a longer one is refused (RP_ELIMIT). */
#define RP_SMS_FORM_MAX_PARAMS 256

/* Parses a form body of len bytes (borrowed; need not be NUL-terminated) into form, which the
 * caller cleans up with rp_sms_form_cleanup on every return. '+' decodes to a space.
 * Returns 0, RP_EINVAL for a bad %-escape or a NUL (raw or encoded), RP_ELIMIT for too many. */
int rp_sms_form_parse(const char *body, size_t len, struct rp_sms_form *form);
void rp_sms_form_cleanup(struct rp_sms_form *form);
/* The first value of name (borrowed from form), or NULL. */
const char *rp_sms_form_get(const struct rp_sms_form *form, const char *name);
/* Encodes n pairs as a form body (new, caller frees); pairs with a NULL value are skipped.
 * Borrows params. */
char *rp_sms_form_encode(const struct rp_sms_param *params, size_t n);

/* ---- Results ------------------------------------------------------------------------------- */

/* Maps a provider answer onto result (initialised by the caller; attributes may already hold
 * an object, which gains record_status and, on success, sender_request_id):
 *   2xx                     SUCCESSFUL, message_id = the body's "sid"
 *   400 21211 / 21614       PERMANENT_FAILURE, address_dead (an invalid or non-mobile number)
 *   400 21610               OPT_OUT: the recipient replied STOP (not dead: they may opt back in)
 *   400 21408 / 21612 ...   PERMANENT_FAILURE with the provider's message
 *   401 / 403               PERMANENT_FAILURE "provider rejected the credentials"
 *   429 (or code 20429)     THROTTLED, retry_after_ms from Retry-After (now_ms is the clock)
 *   408, 5xx, transport     TEMPORARY_FAILURE (retry_after_ms from a Retry-After, if any)
 *   other                   PERMANENT_FAILURE
 * Provider messages are copied with phone numbers redacted. Borrows response. */
void rp_sms_classify(const struct rp_httpc_response *response, long long now_ms,
                     struct rp_delivery_result *result);

/* Returns the Pinpoint _SMS event attributes known before sending (new object, caller owns),
 * string-valued as in Pinpoint's event stream: number_of_message_parts, message_type
 * ("Transactional" or "Promotional" from TRANSACTIONAL / PROMOTIONAL; NULL means
 * transactional), encoding ("GSM" / "UCS2"), and origination_phone_number when
 * origination is a non-empty From value. Borrows every argument. */
json_t *rp_sms_attributes(const struct rp_sms_segments *segments, const char *message_type,
                          const char *origination);

/* ---- Status callbacks ---------------------------------------------------------------------- */

/* Base64 of a 20-byte HMAC-SHA1, with its NUL. */
#define RP_SMS_SIGNATURE_SIZE 29

/* X-Twilio-Signature of a form POST to url: base64(HMAC-SHA1(auth_token, url + every parameter
 * name followed by its value, sorted by name then value, identical pairs once)), as Twilio's
 * helper libraries compute it. url is the full URL the provider posted to, query included.
 * Borrows everything; writes RP_SMS_SIGNATURE_SIZE bytes to out. Returns 0, or the
 * rp_sms_form_parse error for a malformed form. */
int rp_sms_signature(const char *auth_token, const char *url, const char *form, size_t form_len,
                     char out[RP_SMS_SIGNATURE_SIZE]);
/* Returns 0 when signature (the header value, NULL when absent) is the signature of this
 * request, compared in constant time; RP_EFORBIDDEN otherwise (also for a malformed form). */
int rp_sms_signature_verify(const char *auth_token, const char *url, const char *form,
                            size_t form_len, const char *signature);

enum rp_sms_status_kind {
    RP_SMS_STATUS_OTHER = 0, /* accepted, scheduled, read, ... or a status we do not know */
    RP_SMS_STATUS_QUEUED,
    RP_SMS_STATUS_SENDING,
    RP_SMS_STATUS_SENT,
    RP_SMS_STATUS_DELIVERED,
    RP_SMS_STATUS_UNDELIVERED,
    RP_SMS_STATUS_FAILED,
};

/* A delivery receipt: the form body the provider POSTs to StatusCallback. */
struct rp_sms_status {
    char message_sid[64]; /* MessageSid (SmsSid in older callbacks) */
    char account_sid[64]; /* "" when absent */
    char status[24];      /* MessageStatus as sent (SmsStatus in older callbacks) */
    enum rp_sms_status_kind kind;
    int error_code; /* ErrorCode, 0 when absent */
    char to[24];    /* "" when absent; a phone number: redact before logging */
    char from[24];
    /* What the receipt means for the message: final is 1 for delivered, undelivered and failed
     * (then delivery_status is SUCCESSFUL, PERMANENT_FAILURE or, for error 21610, OPT_OUT).
     * record_status and event_type are Pinpoint's _SMS event values (static strings):
     * DELIVERED / SUCCESSFUL / PENDING / UNREACHABLE / ..., _SMS.SUCCESS / _SMS.FAILURE /
     * _SMS.BUFFERED. */
    int final;
    enum rp_delivery_status delivery_status;
    const char *record_status;
    const char *event_type;
};

/* Parses a status callback body (len bytes, borrowed). Returns 0, or RP_EINVAL with err naming
 * the field when MessageSid or MessageStatus is missing, or any field is malformed or too
 * long (the message never quotes a value). */
int rp_sms_status_parse(const char *form, size_t len, struct rp_sms_status *out,
                        struct rp_err *err);

#endif
