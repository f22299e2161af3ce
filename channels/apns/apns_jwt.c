/* ES256 signing for APNs provider tokens with OpenSSL's EVP interface. OpenSSL answers ECDSA
 * signatures in DER; JWS wants the two 32-byte integers side by side (RFC 7518 3.4). */
#include "../base64url.h"
#include "apns_jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

/* Converts a DER ECDSA signature into r||s, 32 bytes each. */
static int der_to_raw(const unsigned char *der, size_t der_len, unsigned char raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
    if (!sig)
        return -1;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(sig, &r, &s);
    int ok = BN_bn2binpad(r, raw, 32) == 32 && BN_bn2binpad(s, raw + 32, 32) == 32;
    ECDSA_SIG_free(sig);
    return ok ? 0 : -1;
}

int rp_apns_jwt_sign(EVP_PKEY *key, const char *key_id, const char *team_id, int64_t iat_s,
                     char *out, size_t out_size)
{
    char header[96], claims[96];
    int hl = snprintf(header, sizeof(header), "{\"alg\":\"ES256\",\"kid\":\"%s\"}", key_id);
    int cl = snprintf(claims, sizeof(claims), "{\"iss\":\"%s\",\"iat\":%lld}", team_id,
                      (long long)iat_s);
    if (out_size > 0)
        out[0] = '\0';
    if (hl < 0 || cl < 0 || (size_t)hl >= sizeof(header) || (size_t)cl >= sizeof(claims))
        return -1;
    /* 4/3 of each part plus the signature's 86 characters and two dots. */
    size_t need = ((size_t)hl + 2) / 3 * 4 + ((size_t)cl + 2) / 3 * 4 + 88 + 1;
    if (out_size < need)
        return -1;
    size_t n = rp_base64url_encode((const unsigned char *)header, (size_t)hl, out);
    out[n++] = '.';
    n += rp_base64url_encode((const unsigned char *)claims, (size_t)cl, out + n);

    unsigned char der[80], raw[64];
    size_t der_len = sizeof(der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestSign(md, der, &der_len, (const unsigned char *)out, n) == 1 &&
             der_to_raw(der, der_len, raw) == 0;
    EVP_MD_CTX_free(md);
    if (!ok) {
        ERR_clear_error();
        out[0] = '\0';
        return -1;
    }
    out[n++] = '.';
    n += rp_base64url_encode(raw, sizeof(raw), out + n);
    return (int)n;
}
