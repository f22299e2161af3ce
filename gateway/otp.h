/* One-time passwords (SendOTPMessage, VerifyOTPMessage): the request shapes and their bounds,
 * code generation, the built-in message text per language, and the MACs a code is kept as.
 * Pure apart from the CSPRNG: no Redis, no clock (the store is gateway/otp_store.h, the HTTP
 * handlers gateway/api/otp.c).
 *
 * Bounds, from the API reference (SendOTPMessageRequestParameters):
 *   Channel "SMS" (the only one); OriginationIdentity and DestinationIdentity required, the
 *   destination in E.164; BrandName up to 20 characters; Language one of the documented
 *   BCP-47 tags (default en-US); CodeLength 5-8 digits (default 6); ValidityPeriod 5-60
 *   minutes (default 15); ReferenceId 1-48 characters; AllowedAttempts at most 5 (default 3;
 *   at least 1 is Repoint's reading: a code nobody may try is no code); EntityId, TemplateId
 *   passed to the SMS provider.
 *
 * A code is never stored: only HMAC-SHA256 under a key derived (HKDF-SHA256, label
 * RP_OTP_CODE_LABEL) from the server's secrets key, over the app, destination, ReferenceId
 * and code, so a stored MAC is useless for any other record and a Redis dump reveals nothing
 * that can be checked offline without the key. Record names are MACs too (label
 * RP_OTP_RECORD_LABEL), so keys do not carry phone numbers. */
#ifndef RP_OTP_H
#define RP_OTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define RP_OTP_CODE_MIN         5
#define RP_OTP_CODE_MAX         8
#define RP_OTP_CODE_DEFAULT     6
#define RP_OTP_VALIDITY_MIN     5 /* minutes */
#define RP_OTP_VALIDITY_MAX     60
#define RP_OTP_VALIDITY_DEFAULT 15
#define RP_OTP_ATTEMPTS_MIN     1
#define RP_OTP_ATTEMPTS_MAX     5
#define RP_OTP_ATTEMPTS_DEFAULT 3
#define RP_OTP_BRAND_MAX        20 /* characters */
#define RP_OTP_REFERENCE_MAX    48 /* characters */
#define RP_OTP_REGULATORY_MAX   64 /* EntityId, TemplateId: bytes (Repoint's bound) */
#define RP_OTP_GUESS_MAX        64 /* Otp in a verification: bytes (Repoint's bound) */
#define RP_OTP_LANGUAGE_DEFAULT "en-US"

#define RP_OTP_CODE_SIZE  (RP_OTP_CODE_MAX + 1)
#define RP_OTP_MAC_HEX    65  /* 64 hex characters + NUL */
#define RP_OTP_RECORD_HEX 33  /* 32 hex characters + NUL */
#define RP_OTP_TEXT_MAX   480 /* bytes of a rendered message, NUL included */

#define RP_OTP_CODE_LABEL   "repoint otp code v1"
#define RP_OTP_RECORD_LABEL "repoint otp record v1"

/* A validated SendOTPMessageRequestParameters; strings are borrowed from the body. */
struct rp_otp_send {
    const char *origination;
    bool origination_is_number; /* an E.164 long code or a short code, else a sender id */
    const char *destination;
    const char *brand;    /* NULL when none */
    const char *language; /* the canonical tag (static), never NULL */
    int code_length;
    int validity_minutes;
    int allowed_attempts;
    const char *reference_id;
    const char *entity_id;   /* NULL when none */
    const char *template_id; /* NULL when none */
};

/* A validated VerifyOTPMessageRequestParameters; strings are borrowed from the body. */
struct rp_otp_verify {
    const char *destination;
    const char *otp;
    const char *reference_id;
};

/* Validate a request body (borrowed). Return 0, or RP_EINVAL with err naming the member; no
 * message ever quotes a value (the destination is a phone number, Otp a code). */
int rp_otp_parse_send(const json_t *body, struct rp_otp_send *out, struct rp_err *err);
int rp_otp_parse_verify(const json_t *body, struct rp_otp_verify *out, struct rp_err *err);

/* The canonical form of a documented Language tag (matched without regard to case), or NULL. */
const char *rp_otp_language(const char *tag);
/* The i-th documented tag, in the reference's order (static), or NULL past the last. */
const char *rp_otp_language_at(size_t i);

/* Fills buf with len random bytes; arg is the source's own. */
typedef void (*rp_otp_random_fn)(void *arg, void *buf, size_t len);

/* The exclusive upper end of the 32-bit draws rp_otp_uniform keeps: the largest multiple of
 * bound not above 2^32. Draws at or past it are redrawn, so that `draw % bound` is uniform. */
uint64_t rp_otp_rejection_limit(uint32_t bound);
/* A uniform value in [0, bound) (bound >= 1) from rnd, by rejection sampling. */
uint32_t rp_otp_uniform(uint32_t bound, rp_otp_random_fn rnd, void *arg);
/* Writes a code of length digits (RP_OTP_CODE_MIN..RP_OTP_CODE_MAX; leading zeros kept) into
 * out (RP_OTP_CODE_SIZE bytes). rnd NULL: OpenSSL's CSPRNG. */
void rp_otp_generate(int length, char *out, rp_otp_random_fn rnd, void *arg);

/* The built-in message of language (canonical tag) carrying code, valid for minutes, with
 * the brand (NULL: none) in front as the language writes it. Returns the length written to
 * out (NUL-terminated) or RP_ETOOBIG when size is too small. */
int rp_otp_message(const char *language, const char *brand, const char *code, int minutes,
                   char *out, size_t size);

/* The MessageRequest (SendMessages' body) that sends text to p's destination over SMS:
 * transactional, from the OriginationIdentity (as OriginationNumber for a long or short code,
 * SenderId otherwise), with EntityId and TemplateId for the SMS provider. Returns a new
 * object; text is copied. */
json_t *rp_otp_message_request(const struct rp_otp_send *p, const char *text);

/* HKDF-SHA256 of master (32 bytes) with info label into out (32 bytes). Returns 0 or
 * RP_ECRYPTO. */
int rp_otp_derive_key(const unsigned char master[32], const char *label, unsigned char out[32]);
/* HMAC-SHA256 under key over the length-prefixed app, destination, reference id and code,
 * as lowercase hex into out (RP_OTP_MAC_HEX bytes). code NULL: the record name's MAC (no
 * code), hex cut to RP_OTP_RECORD_HEX - 1 characters by the caller's size. Returns 0 or
 * RP_ECRYPTO. */
int rp_otp_mac(const unsigned char key[32], const char *app, const char *destination,
               const char *reference_id, const char *code, char *out, size_t size);

#endif
