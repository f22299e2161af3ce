/* The OAuth access-token cache (see oauth.h). Refreshes are rare (one per credential per token
 * lifetime), so waiters are plain heap nodes; the hot path, a valid cached token, is a compare
 * and a callback. */
#include "oauth.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/delivery.h"
#include "../gateway/log.h"
#include "../gateway/metrics.h"
#include "../gateway/util.h"
#include "httpc.h"

/* Tokens are refreshed this long before they expire (at most; a quarter of a short lifetime)
 * so that a request never leaves with a token that dies on the way. */
#define OAUTH_EARLY_MS ((long long)60 * 1000)
/* A failed refresh keeps requests away from the endpoint for 1 s, doubling up to 60 s. */
#define OAUTH_BACKOFF_BASE_MS 1000LL
#define OAUTH_BACKOFF_MAX_MS  60000LL
#define OAUTH_DEFAULT_EXPIRES 3600LL
/* An answer claiming a longer life is clamped: a token is re-checked at least daily. */
#define OAUTH_MAX_EXPIRES 86400LL

struct waiter {
    struct waiter *next;
    rp_oauth_done_fn done;
    void *arg;
};

struct rp_oauth_cred {
    struct rp_oauth_cred *next;
    struct rp_oauth *cache;
    char *key, *token_url;
    rp_oauth_body_fn body_fn;
    void *source;
    void (*source_free)(void *);
    char *token;             /* NULL when none */
    long long refresh_at_ms; /* monotonic: the token is not used from then on */
    int refreshing;
    struct waiter *waiters, **waiters_tail;
    int failures;               /* consecutive failed refreshes */
    long long backoff_until_ms; /* monotonic */
    enum rp_oauth_failure last_failure;
    char last_message[320];
};

struct rp_oauth {
    struct rp_httpc *http;
    long timeout_ms;
    const char *channel; /* ChannelType, for metrics */
    struct rp_oauth_cred *creds;
    unsigned long refreshes;
};

struct rp_oauth *rp_oauth_new(struct rp_httpc *http, long timeout_ms, const char *channel)
{
    struct rp_oauth *c = rp_calloc(1, sizeof(*c));
    c->http = http;
    c->timeout_ms = timeout_ms;
    c->channel = channel;
    return c;
}

static void token_clear(struct rp_oauth_cred *cred)
{
    if (cred->token) {
        OPENSSL_cleanse(cred->token, strlen(cred->token));
        free(cred->token);
        cred->token = NULL;
    }
}

/* Hands every waiter the outcome; a callback may queue a new waiter (it then waits for the
 * next refresh), so the list is detached first. */
static void waiters_run(struct rp_oauth_cred *cred, const char *token,
                        enum rp_oauth_failure failure, const char *message)
{
    struct waiter *w = cred->waiters;
    cred->waiters = NULL;
    cred->waiters_tail = &cred->waiters;
    while (w) {
        struct waiter *next = w->next;
        w->done(w->arg, token, failure, message);
        free(w);
        w = next;
    }
}

void rp_oauth_free(struct rp_oauth *cache)
{
    if (!cache)
        return;
    while (cache->creds) {
        struct rp_oauth_cred *cred = cache->creds;
        cache->creds = cred->next;
        waiters_run(cred, NULL, RP_OAUTH_UNAVAILABLE, "token cache shut down");
        token_clear(cred);
        if (cred->source_free)
            cred->source_free(cred->source);
        free(cred->key);
        free(cred->token_url);
        free(cred);
    }
    free(cache);
}

struct rp_oauth_cred *rp_oauth_find(struct rp_oauth *cache, const char *key)
{
    for (struct rp_oauth_cred *c = cache->creds; c; c = c->next)
        if (strcmp(c->key, key) == 0)
            return c;
    return NULL;
}

struct rp_oauth_cred *rp_oauth_add(struct rp_oauth *cache, const char *key, const char *token_url,
                                   rp_oauth_body_fn body_fn, void *source,
                                   void (*source_free)(void *))
{
    struct rp_oauth_cred *c = rp_calloc(1, sizeof(*c));
    c->cache = cache;
    c->key = rp_strdup(key);
    c->token_url = rp_strdup(token_url);
    c->body_fn = body_fn;
    c->source = source;
    c->source_free = source_free;
    c->waiters_tail = &c->waiters;
    c->next = cache->creds;
    cache->creds = c;
    return c;
}

unsigned long rp_oauth_refreshes(const struct rp_oauth *cache)
{
    return cache->refreshes;
}

char *rp_oauth_form_escape(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t len = strlen(s);
    char *out = rp_malloc(len * 3 + 1), *p = out;
    for (const unsigned char *q = (const unsigned char *)s; *q; q++) {
        unsigned char ch = *q;
        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    *p = '\0';
    return out;
}

/* Copies s into out keeping printable ASCII only: endpoint messages go into delivery results
 * and logs. */
static void copy_printable(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

enum rp_oauth_failure rp_oauth_parse_answer(long status, const char *body, size_t body_len,
                                            char **token, long long *expires_in, char *message,
                                            size_t size)
{
    *token = NULL;
    *expires_in = 0;
    message[0] = '\0';
    json_t *doc = body ? json_loadb(body, body_len, 0, NULL) : NULL;
    enum rp_oauth_failure f = RP_OAUTH_OK;
    if (status == 200) {
        const char *tok = json_string_value(json_object_get(doc, "access_token"));
        const json_t *exp = json_object_get(doc, "expires_in");
        if (!tok || !*tok || strlen(tok) > 4096) {
            snprintf(message, size, "token endpoint answered 200 without an access_token");
            f = RP_OAUTH_UNAVAILABLE;
        } else {
            long long e = OAUTH_DEFAULT_EXPIRES;
            if (json_is_integer(exp))
                e = json_integer_value(exp);
            else if (json_is_string(exp)) /* some endpoints send a string */
                e = strtoll(json_string_value(exp), NULL, 10);
            if (e <= 0)
                e = OAUTH_DEFAULT_EXPIRES;
            *expires_in = e > OAUTH_MAX_EXPIRES ? OAUTH_MAX_EXPIRES : e;
            *token = rp_strdup(tok);
        }
    } else {
        char err[64], desc[120];
        copy_printable(err, sizeof(err), json_string_value(json_object_get(doc, "error")));
        copy_printable(desc, sizeof(desc),
                       json_string_value(json_object_get(doc, "error_description")));
        f = (status == 400 || status == 401 || status == 403) ? RP_OAUTH_REJECTED
                                                              : RP_OAUTH_UNAVAILABLE;
        snprintf(message, size, "token endpoint answered HTTP %ld%s%s%s%s", status,
                 err[0] ? ": " : "", err, desc[0] ? ": " : "", desc);
    }
    json_decref(doc);
    return f;
}

static void refresh_failed(struct rp_oauth_cred *cred, enum rp_oauth_failure f, const char *msg)
{
    cred->failures++;
    long long backoff = OAUTH_BACKOFF_BASE_MS;
    for (int i = 1; i < cred->failures && backoff < OAUTH_BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > OAUTH_BACKOFF_MAX_MS)
        backoff = OAUTH_BACKOFF_MAX_MS;
    cred->backoff_until_ms = rp_mono_ms() + backoff;
    cred->last_failure = f;
    rp_metrics_channel_count(RP_MCC_TOKEN_FAILURES, cred->cache->channel);
    snprintf(cred->last_message, sizeof(cred->last_message), "%s", msg);
    rp_warn("oauth", "msg=\"token refresh failed\" url=%s failures=%d backoff_ms=%lld error=\"%s\"",
            cred->token_url, cred->failures, backoff, msg);
    waiters_run(cred, NULL, f, cred->last_message);
}

static void on_token_answer(void *arg, const struct rp_httpc_response *resp)
{
    struct rp_oauth_cred *cred = arg;
    cred->refreshing = 0;
    char msg[320];
    if (resp->transport_error) {
        snprintf(msg, sizeof(msg), "token endpoint unreachable: %.255s", resp->error);
        refresh_failed(cred, RP_OAUTH_UNAVAILABLE, msg);
        return;
    }
    char *token = NULL;
    long long expires_in = 0;
    enum rp_oauth_failure f = rp_oauth_parse_answer(resp->status, resp->body, resp->body_len,
                                                    &token, &expires_in, msg, sizeof(msg));
    if (f != RP_OAUTH_OK) {
        refresh_failed(cred, f, msg);
        return;
    }
    token_clear(cred);
    cred->token = token;
    long long life = expires_in * 1000, early = life / 4;
    if (early > OAUTH_EARLY_MS)
        early = OAUTH_EARLY_MS;
    cred->refresh_at_ms = rp_mono_ms() + life - early;
    cred->failures = 0;
    cred->backoff_until_ms = 0;
    rp_metrics_channel_count(RP_MCC_TOKEN_REFRESHES, cred->cache->channel);
    rp_debug("oauth", "msg=\"token refreshed\" url=%s expires_in=%lld", cred->token_url,
             expires_in);
    /* The token may be replaced by a waiter's 401 handling: the waiters get a copy. */
    char *copy = rp_strdup(token);
    waiters_run(cred, copy, RP_OAUTH_OK, NULL);
    OPENSSL_cleanse(copy, strlen(copy));
    free(copy);
}

static void refresh_start(struct rp_oauth_cred *cred)
{
    const char *why = "cannot build the token request";
    char *body = cred->body_fn(cred->source, &why);
    if (!body) {
        refresh_failed(cred, RP_OAUTH_REJECTED, why);
        return;
    }
    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded",
        "Accept: application/json",
        NULL,
    };
    struct rp_httpc_request req = {
        .method = "POST",
        .url = cred->token_url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = cred->cache->timeout_ms,
        .done = on_token_answer,
        .arg = cred,
    };
    cred->refreshing = 1;
    cred->cache->refreshes++;
    int rc = rp_httpc_send(cred->cache->http, &req);
    OPENSSL_cleanse(body, strlen(body));
    free(body);
    if (rc < 0) {
        cred->refreshing = 0;
        refresh_failed(cred, RP_OAUTH_UNAVAILABLE, "cannot start the token request");
    }
}

void rp_oauth_token(struct rp_oauth_cred *cred, rp_oauth_done_fn done, void *arg)
{
    long long now = rp_mono_ms();
    if (cred->token && now < cred->refresh_at_ms) {
        done(arg, cred->token, RP_OAUTH_OK, NULL);
        return;
    }
    if (!cred->refreshing && cred->failures && now < cred->backoff_until_ms) {
        done(arg, NULL, cred->last_failure, cred->last_message);
        return;
    }
    struct waiter *w = rp_malloc(sizeof(*w));
    w->next = NULL;
    w->done = done;
    w->arg = arg;
    *cred->waiters_tail = w;
    cred->waiters_tail = &w->next;
    if (!cred->refreshing)
        refresh_start(cred);
}

void rp_oauth_invalidate(struct rp_oauth_cred *cred, const char *token)
{
    if (cred->token && token && strcmp(cred->token, token) == 0)
        token_clear(cred);
}

int rp_oauth_authorize(const char *token, enum rp_oauth_failure failure, const char *message,
                       const char *provider, struct rp_delivery_result *result, char **auth)
{
    if (!token) {
        rp_delivery_result_set(result,
                               failure == RP_OAUTH_REJECTED ? RP_DS_PERMANENT_FAILURE
                                                            : RP_DS_TEMPORARY_FAILURE,
                               0, "no %s access token: %s", provider,
                               message ? message : "unknown error");
        return 0;
    }
    if (*auth) {
        OPENSSL_cleanse(*auth, strlen(*auth));
        free(*auth);
    }
    size_t len = sizeof(RP_OAUTH_AUTH_PREFIX) + strlen(token);
    *auth = rp_malloc(len);
    snprintf(*auth, len, RP_OAUTH_AUTH_PREFIX "%s", token);
    return 1;
}
