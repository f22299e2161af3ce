/* AWS Signature Version 4 verification, exactly as botocore and the AWS SDKs sign.
 * Pure functions: no I/O, no clock (the caller passes "now"), no allocation beyond the stack. */
#ifndef RP_SIGV4_H
#define RP_SIGV4_H

#include <stddef.h>
#include <time.h>

#include "err.h"

/* Largest canonical request we build; anything larger is refused rather than allocated. */
#define RP_SIGV4_MAX_CANONICAL 16384
/* Most query parameters and signed headers one request may carry. */
#define RP_SIGV4_MAX_QUERY          256
#define RP_SIGV4_MAX_SIGNED_HEADERS 128

/* A name/value pair as received on the wire. For query parameters both are still
 * percent-encoded; value is NULL for a parameter without '='. */
struct rp_kv {
    const char *name;
    const char *value;
};

/* What the client sent, borrowed for the duration of one call. */
struct rp_sigv4_request {
    const char *method;        /* "GET", "POST", ... */
    const char *raw_path;      /* path as on the wire, percent-encoded, without '?query' */
    const struct rp_kv *query; /* raw query parameters, any order */
    size_t n_query;
    const struct rp_kv *headers; /* every header line as received; repeated names allowed */
    size_t n_headers;
    const char *payload_sha256; /* lowercase hex SHA-256 of the body actually received */
};

/* The parsed Authorization header: "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/
 * service/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>". */
struct rp_sigv4_auth {
    char access_key_id[129];
    char date[9]; /* YYYYMMDD of the credential scope */
    char region[64];
    char service[64];
    char signed_headers[1024]; /* lowercase names joined by ';', as sent */
    char signature[65];        /* lowercase hex */
};

/* Parses an Authorization header value (borrowed) into *out (caller's). Returns 0, or RP_EINVAL
 * with err->msg saying what is malformed (never echoing secrets). The scope terminator must be
 * "aws4_request"; components may come in any order, each exactly once. */
int rp_sigv4_parse_authorization(const char *header, struct rp_sigv4_auth *out, struct rp_err *err);

/* Looks up the secret access key for an access key id; returns NULL when unknown. The returned
 * string is borrowed and must stay valid until rp_sigv4_verify returns. */
typedef const char *(*rp_sigv4_secret_fn)(void *ctx, const char *access_key_id);

struct rp_sigv4_policy {
    const char *service;  /* required service in the scope, e.g. "mobiletargeting" */
    const char *region;   /* required region, or NULL/"" to accept any region */
    int max_skew_seconds; /* AWS: 900; 0 or less means 900 */
};

/* Verifies the request's signature. On success returns 0 and copies the access key id into
 * access_key_out (at least 129 bytes, may be NULL). On failure returns RP_EFORBIDDEN with
 * err->msg saying which check failed: missing Authorization, malformed header, unknown key, scope
 * (date, service, region), missing or skewed X-Amz-Date, a signed header missing, body hash
 * mismatch, a request too large to canonicalise, or signature mismatch; never which part of a
 * secret. Comparison is constant-time. Returns RP_EINVAL only for caller mistakes (NULL req,
 * policy->service or secret_fn, no payload_sha256) and RP_ECRYPTO if OpenSSL fails. All
 * pointers are borrowed. */
int rp_sigv4_verify(const struct rp_sigv4_request *req, const struct rp_sigv4_policy *policy,
                    time_t now, rp_sigv4_secret_fn secret_fn, void *secret_ctx,
                    char *access_key_out, struct rp_err *err);

/* Builds the canonical request and string-to-sign for an already parsed header; exposed for
 * the unit tests that replay the AWS test-suite vectors. Writes NUL-terminated strings into the
 * caller's buffer, returns 0, RP_ETOOBIG when out_size is too small, or RP_EINVAL (a signed
 * header absent from req, a malformed SignedHeaders list, no payload hash). */
int rp_sigv4_canonical_request(const struct rp_sigv4_request *req, const char *signed_headers,
                               char *out, size_t out_size);
int rp_sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request,
                            char *out, size_t out_size);

/* Writes the lowercase hex SHA-256 of len bytes at data (borrowed; NULL allowed when len is 0)
 * into out (65 bytes, NUL-terminated): what the HTTP layer puts in payload_sha256.
 * Returns 0 or RP_ECRYPTO. */
int rp_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
