/* Baidu Cloud Push REST API v3 request signing (PROVIDERS.md section 4): the sign of a request
 * is the lowercase hex MD5 of PHP-urlencode(METHOD + URL + every "key=value" except sign,
 * sorted by key, raw values, no separators + secret key). */
#ifndef RP_BAIDU_SIGN_H
#define RP_BAIDU_SIGN_H

#include <stddef.h>

/* Lowercase hex MD5 and its NUL. */
#define RP_BAIDU_SIGN_SIZE 33

struct rp_baidu_param {
    const char *key, *value;
};

/* PHP's urlencode: A-Za-z0-9 '-' '_' '.' kept, space as '+', every other byte %XX (uppercase
 * hex). Returns a new string. */
char *rp_baidu_urlencode(const char *s);

/* The sign of an already joined base string (borrowed). */
void rp_baidu_sign_base(const char *base, char out[RP_BAIDU_SIGN_SIZE]);

/* The sign of a request: params (n of them, borrowed, any order; a "sign" member is skipped),
 * method "POST", url exactly as sent. */
void rp_baidu_sign(const char *method, const char *url, const struct rp_baidu_param *params,
                   size_t n, const char *secret, char out[RP_BAIDU_SIGN_SIZE]);

#endif
