/* APNs provider tokens: ES256 JSON Web Tokens signed with an app's .p8 key (PROVIDERS.md 1.5).
 * Names carry the rp_apns_ prefix: FCM's RS256 assertions live elsewhere. */
#ifndef RP_APNS_JWT_H
#define RP_APNS_JWT_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a token with 32-character key and team ids. */
#define RP_APNS_JWT_MAX 512

/* Writes header.claims.signature into out: header {"alg":"ES256","kid":key_id}, claims
 * {"iss":team_id,"iat":iat_s}, the signature the raw 64-byte r||s (not DER), all base64url
 * without padding. key is an EC P-256 private key (borrowed). key_id and team_id must be
 * letters and digits (the channel settings are validated so). Returns the length, or -1 when
 * signing fails or out is too small (out is then ""). */
int rp_apns_jwt_sign(EVP_PKEY *key, const char *key_id, const char *team_id, int64_t iat_s,
                     char *out, size_t out_size);


#endif
