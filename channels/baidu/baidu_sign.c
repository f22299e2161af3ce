/* Baidu request signing (see baidu_sign.h). */
#include "baidu_sign.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/util.h"

char *rp_baidu_urlencode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    char *out = rp_malloc(strlen(s) * 3 + 1), *p = out;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        unsigned char c = *q;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            *p++ = (char)c;
        } else if (c == ' ') {
            *p++ = '+';
        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 15];
        }
    }
    *p = '\0';
    return out;
}

void rp_baidu_sign_base(const char *base, char out[RP_BAIDU_SIGN_SIZE])
{
    char *enc = rp_baidu_urlencode(base);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (EVP_Digest(enc, strlen(enc), digest, &len, EVP_md5(), NULL) != 1)
        abort();
    free(enc);
    rp_hex(digest, len, out);
}

static int param_cmp(const void *a, const void *b)
{
    const struct rp_baidu_param *x = a, *y = b;
    return strcmp(x->key, y->key);
}

void rp_baidu_sign(const char *method, const char *url, const struct rp_baidu_param *params,
                   size_t n, const char *secret, char out[RP_BAIDU_SIGN_SIZE])
{
    struct rp_baidu_param *sorted = rp_malloc((n ? n : 1) * sizeof(*sorted));
    size_t m = 0, len = strlen(method) + strlen(url) + strlen(secret) + 1;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(params[i].key, "sign") == 0)
            continue;
        sorted[m++] = params[i];
        len += strlen(params[i].key) + 1 + strlen(params[i].value);
    }
    qsort(sorted, m, sizeof(*sorted), param_cmp);
    char *base = rp_malloc(len), *p = base;
    p = stpcpy(p, method);
    p = stpcpy(p, url);
    for (size_t i = 0; i < m; i++) {
        p = stpcpy(p, sorted[i].key);
        *p++ = '=';
        p = stpcpy(p, sorted[i].value);
    }
    stpcpy(p, secret);
    rp_baidu_sign_base(base, out);
    free(base);
    free(sorted);
}
