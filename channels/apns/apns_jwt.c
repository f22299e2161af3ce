/* ES256 signing for APNs provider tokens with OpenSSL's EVP interface. OpenSSL answers ECDSA
 * signatures in DER; JWS wants the two 32-byte integers side by side (RFC 7518 3.4). */
#include "apns_jwt.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <stdio.h>
#include <string.h>

size_t rp_apns_b64url(const unsigned char *in, size_t len, char *out)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
        out[o++] = alphabet[v & 63];
    }
    if (len - i == 1) {
        unsigned v = (unsigned)in[i] << 16;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
    } else if (len - i == 2) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
        out[o++] = alphabet[v >> 18 & 63];
        out[o++] = alphabet[v >> 12 & 63];
        out[o++] = alphabet[v >> 6 & 63];
    }
    out[o] = '\0';
    return o;
}

static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

long rp_apns_b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_size)
{
    while (len > 0 && in[len - 1] == '=')
        len--;
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= out_size)
                return -1;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    return (long)o;
}

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
    size_t n = rp_apns_b64url((const unsigned char *)header, (size_t)hl, out);
    out[n++] = '.';
    n += rp_apns_b64url((const unsigned char *)claims, (size_t)cl, out + n);

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
    n += rp_apns_b64url(raw, sizeof(raw), out + n);
    return (int)n;
}
