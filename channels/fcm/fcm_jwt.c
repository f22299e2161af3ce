/* RS256 service-account assertions for FCM (see fcm_jwt.h). */
#include "../base64url.h"
#include "fcm_jwt.h"

#include <jansson.h>
#include <openssl/err.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/util.h"

/* golang/oauth2's jws package backdates iat by this much against clock skew. */
#define FCM_JWT_BACKDATE_S 10
#define FCM_JWT_LIFETIME_S 3600

/* Appends base64url(json) to out at *n; json is consumed. */
static void append_part(char *out, size_t *n, json_t *json)
{
    char *text = json_dumps(json, JSON_COMPACT);
    json_decref(json);
    if (!text)
        abort();
    *n += rp_base64url_encode((const unsigned char *)text, strlen(text), out + *n);
    free(text);
}

char *rp_fcm_jwt_sign(EVP_PKEY *key, const char *kid, const char *client_email,
                      const char *token_uri, long long now)
{
    json_t *header = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    if (kid && *kid)
        json_object_set_new(header, "kid", json_string(kid));
    long long iat = now - FCM_JWT_BACKDATE_S;
    json_t *claims =
        json_pack("{s:s, s:s, s:s, s:I, s:I}", "iss", client_email, "scope", RP_FCM_SCOPE, "aud",
                  token_uri, "iat", (json_int_t)iat, "exp", (json_int_t)(iat + FCM_JWT_LIFETIME_S));
    if (!header || !claims) {
        json_decref(header);
        json_decref(claims);
        return NULL;
    }
    size_t sig_max = (size_t)EVP_PKEY_get_size(key);
    size_t cap = 4 * (strlen(client_email) + strlen(token_uri) + (kid ? strlen(kid) : 0)) + 512 +
                 (sig_max * 4) / 3 + 8;
    char *out = rp_malloc(cap);
    size_t n = 0;
    append_part(out, &n, header);
    out[n++] = '.';
    append_part(out, &n, claims);

    unsigned char *sig = rp_malloc(sig_max);
    size_t sig_len = sig_max;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, sig, &sig_len, (const unsigned char *)out, n) == 1;
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        free(sig);
        free(out);
        return NULL;
    }
    out[n++] = '.';
    n += rp_base64url_encode(sig, sig_len, out + n);
    free(sig);
    return out;
}
