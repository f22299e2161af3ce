/* libFuzzer target for gateway/sigv4.c. The input is split on '\n' into fields:
 *   line 0   Authorization header value
 *   line 1   method
 *   line 2   request target: raw path, optionally "?query" (split on '&' and the first '=')
 *   line 3   payload hash (empty: the hash of the empty body)
 *   line 4+  headers, "Name:value" (a line without ':' is a header with an empty value)
 * The clock is the AWS test suite's (2015-08-30T12:36:00Z) and every key has the suite's
 * secret, so seeds made from suite vectors verify and the fuzzer starts from accepted requests. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc.h"
#include "sigv4.h"

#define MAX_QUERY   64
#define MAX_HEADERS 48

static const char *any_key(void *ctx, const char *key)
{
    (void)ctx;
    return key[0] == 'L' ? "a-secret-longer-than-the-sixty-four-byte-hmac-block-so-it-gets-hashed"
                         : "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
}

static char *next_line(char **p)
{
    char *line = *p;
    if (!line)
        return NULL;
    char *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return line;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';

    char *p = buf;
    const char *authz = next_line(&p);
    const char *method = next_line(&p);
    char *target = next_line(&p);
    const char *hash = next_line(&p);

    struct rp_kv query[MAX_QUERY];
    struct rp_kv headers[MAX_HEADERS + 1];
    size_t n_query = 0, n_headers = 0;

    char *path = target;
    char *q = target ? strchr(target, '?') : NULL;
    if (q) {
        *q++ = '\0';
        while (q && n_query < MAX_QUERY) {
            char *amp = strchr(q, '&');
            if (amp)
                *amp++ = '\0';
            char *eq = strchr(q, '=');
            if (eq)
                *eq++ = '\0';
            query[n_query].name = q;
            query[n_query].value = eq;
            n_query++;
            q = amp;
        }
    }
    char *line;
    while (n_headers < MAX_HEADERS && (line = next_line(&p))) {
        char *colon = strchr(line, ':');
        if (colon)
            *colon++ = '\0';
        headers[n_headers].name = line;
        headers[n_headers].value = colon;
        n_headers++;
    }
    if (authz) {
        headers[n_headers].name = "Authorization";
        headers[n_headers].value = authz;
        n_headers++;
    }

    char empty[65];
    rp_sigv4_sha256_hex(NULL, 0, empty);
    struct rp_sigv4_request req = {
        .method = method,
        .raw_path = path,
        .query = query,
        .n_query = n_query,
        .headers = headers,
        .n_headers = n_headers,
        .payload_sha256 = hash && *hash ? hash : empty,
    };

    struct rp_sigv4_auth auth;
    struct rp_err err;
    char creq[RP_SIGV4_MAX_CANONICAL], key[129];
    if (rp_sigv4_parse_authorization(authz, &auth, &err) == 0 &&
        rp_sigv4_canonical_request(&req, auth.signed_headers, creq, sizeof(creq)) == 0) {
        char sts[512];
        rp_sigv4_string_to_sign(authz, auth.service, creq, sts, sizeof(sts));
    }
    if (authz && method)
        rp_sigv4_canonical_request(&req, authz, creq, sizeof(creq));
    rp_sigv4_canonical_request(&req, "host", creq, 64);

    static const struct rp_sigv4_policy policies[] = {
        {"service", "us-east-1", 900},
        {"mobiletargeting", NULL, 0},
        {"service", "eu-west-1", -5},
    };
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++)
        rp_sigv4_verify(&req, &policies[i], (time_t)1440938160, any_key, NULL, key, &err);
    rp_sigv4_verify(&req, &policies[0], (time_t)INT64_MIN, any_key, NULL, key, &err);
    rp_sigv4_verify(&req, &policies[0], (time_t)INT64_MAX, any_key, NULL, NULL, NULL);

    free(buf);
    return 0;
}
