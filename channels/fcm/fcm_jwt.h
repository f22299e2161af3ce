/* The RS256 JWT a Google service account signs to get an OAuth access token (RFC 7523 JWT
 * bearer grant; PROVIDERS.md 2.2): header {"alg":"RS256","typ":"JWT","kid"}, claims iss =
 * client_email, scope = firebase.messaging, aud = token_uri, iat backdated 10 s as golang/oauth2
 * does (clock skew), exp = iat + 3600. RSASSA-PKCS1-v1_5 with SHA-256 (OpenSSL). */
#ifndef RP_FCM_JWT_H
#define RP_FCM_JWT_H

#include <openssl/evp.h>
#include <stddef.h>

#define RP_FCM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

/* Returns the signed assertion (new string), or NULL when signing fails. key is an RSA private
 * key; kid may be NULL. now is Unix seconds. */
char *rp_fcm_jwt_sign(EVP_PKEY *key, const char *kid, const char *client_email,
                      const char *token_uri, long long now);


#endif
