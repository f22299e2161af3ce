/* The APNs client on the shared HTTP/2 pools (see apns_conn.h): credentials, provider tokens,
 * request headers and answers. Request state is recycled through a free list, so steady sending
 * allocates only the payload. */
#include "apns_conn.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gateway/log.h"
#include "../../gateway/metrics.h"
#include "../../gateway/util.h"
#include "../h2pool.h"
#include "../keys.h"
#include "apns_jwt.h"

/* APNs: "Make a new token no more often than every 20 minutes". */
#define TOKEN_MIN_AGE_MS (20LL * 60 * 1000)
/* An APNs error body is a small JSON object; more is not kept. */
#define ANSWER_BODY_MAX 512

struct rp_apns_client {
    struct rp_h2_client *h2;
    struct rp_apns_client_config cfg;
    struct apns_req *free_reqs;
};

/* One credential: the user state of its pool. */
struct apns_cred {
    struct rp_apns_client *client;
    struct rp_h2_pool *pool;
    bool token;
    char *key_pem, *cert_pem;
    char key_id[64], team_id[64];
    EVP_PKEY *signing_key;
    char jwt[RP_APNS_JWT_MAX];
    int64_t jwt_made_ms, last_forced_ms;
    unsigned jwt_gen;
};

struct apns_req {
    struct apns_req *next_free;
    struct rp_apns_client *client;
    struct apns_cred *cred;
    struct rp_send *send;
    struct rp_apns_notification n;
    char path[16 + 256];
    char prio[4], exp[24];
    struct rp_h2_header headers[6];
    int token_retries;
};

/* ---- Provider tokens ----------------------------------------------------------------------- */

static int token_make(struct apns_cred *k, int64_t now)
{
    int n = rp_apns_jwt_sign(k->signing_key, k->key_id, k->team_id, now / 1000, k->jwt,
                             sizeof(k->jwt));
    if (n < 0) {
        rp_h2_pool_set_broken(k->pool, "cannot sign an APNs provider token with TokenKey");
        rp_metrics_channel_count(RP_MCC_TOKEN_FAILURES, k->client->cfg.name);
        return -1;
    }
    rp_metrics_channel_count(RP_MCC_TOKEN_REFRESHES, k->client->cfg.name);
    k->jwt_made_ms = now;
    k->jwt_gen++;
    return 0;
}

/* The pool's authorizer: the current token, renewed when older than token_refresh_minutes. */
static int token_authorize(void *user, char *out, size_t size, unsigned *gen)
{
    struct apns_cred *k = user;
    int64_t now = rp_now_ms();
    int64_t max_age = (int64_t)k->client->cfg.token_refresh_minutes * 60000;
    if (!k->jwt[0] || now - k->jwt_made_ms >= max_age) {
        if (k->jwt[0])
            rp_info("apns", "msg=\"provider token renewed\" key_id=%s age_s=%lld", k->key_id,
                    (long long)((now - k->jwt_made_ms) / 1000));
        if (token_make(k, now) < 0)
            return -1;
    }
    snprintf(out, size, "bearer %s", k->jwt);
    *gen = k->jwt_gen;
    return 0;
}

/* ---- Credentials (pools) ------------------------------------------------------------------- */

static bool same(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool cred_match(const void *user, const void *arg)
{
    const struct apns_cred *k = user;
    const struct rp_apns_credential *cred = arg;
    if (k->token != cred->token || !same(k->key_pem, cred->key_pem))
        return false;
    return cred->token ? same(k->key_id, cred->key_id) && same(k->team_id, cred->team_id)
                       : same(k->cert_pem, cred->cert_pem);
}

static void cred_free(void *user)
{
    struct apns_cred *k = user;
    EVP_PKEY_free(k->signing_key);
    OPENSSL_cleanse(k->key_pem, strlen(k->key_pem));
    OPENSSL_cleanse(k->jwt, sizeof(k->jwt));
    free(k->key_pem);
    free(k->cert_pem);
    free(k);
}

static void log_certificate(const struct apns_cred *k)
{
    X509 *cert = NULL;
    struct rp_err err;
    if (rp_keys_certificate(k->cert_pem, "Certificate", &cert, &err) < 0)
        return;
    const char *channel = k->client->cfg.name;
    char subject[256] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, subject,
                              sizeof(subject));
    struct tm tm;
    char expires[32] = "unknown";
    if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) == 1) {
        strftime(expires, sizeof(expires), "%Y-%m-%dT%H:%M:%SZ", &tm);
        rp_metrics_certificate_expiry(subject, channel, (int64_t)timegm(&tm));
    }
    int days = 0, secs = 0;
    ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert));
    if (days < 30)
        rp_warn("apns", "msg=\"the APNs certificate expires soon\" channel=%s subject=\"%s\" "
                        "expires=%s days_left=%d",
                channel, subject, expires, days);
    else
        rp_info("apns", "msg=\"APNs certificate in use\" channel=%s subject=\"%s\" expires=%s "
                        "days_left=%d",
                channel, subject, expires, days);
    X509_free(cert);
    ERR_clear_error();
}

static struct rp_h2_pool *pool_get(struct rp_apns_client *cl,
                                   const struct rp_apns_credential *cred)
{
    struct rp_h2_pool *p = rp_h2_pool_find(cl->h2, cred_match, cred);
    if (p)
        return p;
    struct apns_cred *k = rp_calloc(1, sizeof(*k));
    k->client = cl;
    k->token = cred->token;
    k->key_pem = rp_strdup(cred->key_pem ? cred->key_pem : "");
    struct rp_h2_pool_config pc = {.user = k, .user_free = cred_free};
    if (cred->token) {
        snprintf(k->key_id, sizeof(k->key_id), "%s", cred->key_id ? cred->key_id : "");
        snprintf(k->team_id, sizeof(k->team_id), "%s", cred->team_id ? cred->team_id : "");
        pc.authorize = token_authorize;
    } else {
        k->cert_pem = rp_strdup(cred->cert_pem ? cred->cert_pem : "");
        pc.cert_pem = k->cert_pem;
        pc.key_pem = k->key_pem;
    }
    p = rp_h2_pool_new(cl->h2, &pc);
    k->pool = p;
    if (cred->token) {
        struct rp_err err;
        if (rp_keys_private_key(k->key_pem, "TokenKey", &k->signing_key, &err) < 0 ||
            !rp_keys_is_ec_p256(k->signing_key))
            rp_h2_pool_set_broken(p, "TokenKey is not an EC P-256 private key");
    } else if (!rp_h2_pool_broken(p)) {
        log_certificate(k);
    }
    return p;
}

/* ---- Requests ------------------------------------------------------------------------------ */

static void req_release(struct apns_req *q)
{
    rp_apns_notification_cleanup(&q->n);
    q->next_free = q->client->free_reqs;
    q->client->free_reqs = q;
}

/* A 403 ExpiredProviderToken: renews the token (unless another request already did, or it was
 * renewed within 20 minutes) and says whether the request goes out again with the new one. */
static bool token_expired_retry(struct apns_req *q, const struct rp_h2_answer *a)
{
    struct apns_cred *k = q->cred;
    int64_t now = rp_now_ms();
    bool renew = a->auth_gen == k->jwt_gen &&
                 (k->last_forced_ms == 0 || now - k->last_forced_ms >= TOKEN_MIN_AGE_MS);
    if (renew) {
        rp_warn("apns", "msg=\"APNs says the provider token expired: renewing it\" "
                        "key_id=%s age_s=%lld",
                k->key_id, (long long)((now - k->jwt_made_ms) / 1000));
        k->last_forced_ms = now;
        if (token_make(k, now) < 0)
            return false;
    }
    if (renew || a->auth_gen != k->jwt_gen)
        return true;
    rp_warn("apns", "msg=\"APNs still says ExpiredProviderToken: the token is not renewed "
                    "again within 20 minutes (check the clock)\" key_id=%s",
            k->key_id);
    return false;
}

static enum rp_h2_next on_answer(void *arg, const struct rp_h2_answer *h2a)
{
    struct apns_req *q = arg;
    if (h2a->status == 403 && q->cred->token && q->token_retries == 0 &&
        strstr(h2a->body, "\"ExpiredProviderToken\"") && token_expired_retry(q, h2a)) {
        q->token_retries++;
        return RP_H2_RESEND;
    }
    struct rp_apns_answer a = {.status = h2a->status,
                               .apns_id = h2a->id,
                               .body = h2a->body,
                               .body_len = h2a->body_len,
                               .transport_error = h2a->transport_error};
    struct rp_send *send = q->send;
    char reason[64];
    rp_apns_classify(&a, &send->result, reason, sizeof(reason));
    /* A provider token APNs calls expired is ours to fix, not the message's fault. */
    if (strcmp(reason, "ExpiredProviderToken") == 0)
        send->result.status = RP_DS_TEMPORARY_FAILURE;
    req_release(q);
    rp_send_complete(send);
    return RP_H2_DONE;
}

/* ---- The client ---------------------------------------------------------------------------- */

struct rp_apns_client *rp_apns_client_new(struct event_base *base,
                                          const struct rp_apns_client_config *cfg)
{
    struct rp_h2_client_config hc = {
        .url = cfg->url,
        .ca_file = cfg->ca_file,
        .name = cfg->name,
        .component = "apns",
        .provider = "APNs",
        .id_header = "apns-id",
        .answer_max = ANSWER_BODY_MAX,
        .max_connections = cfg->max_connections,
        .idle_timeout_s = cfg->idle_timeout_s,
        .ping_interval_s = cfg->ping_interval_s,
        .timeout_ms = cfg->timeout_ms,
    };
    struct rp_h2_client *h2 = rp_h2_client_new(base, &hc);
    if (!h2)
        return NULL;
    struct rp_apns_client *cl = rp_calloc(1, sizeof(*cl));
    cl->h2 = h2;
    cl->cfg = *cfg;
    return cl;
}

void rp_apns_client_free(struct rp_apns_client *cl)
{
    if (!cl)
        return;
    rp_h2_client_free(cl->h2);
    while (cl->free_reqs) {
        struct apns_req *q = cl->free_reqs;
        cl->free_reqs = q->next_free;
        free(q);
    }
    free(cl);
}

void rp_apns_client_send(struct rp_apns_client *cl, const struct rp_apns_credential *cred,
                         struct rp_apns_notification *n, const char *device_token,
                         struct rp_send *send)
{
    struct rp_h2_pool *p = pool_get(cl, cred);
    const char *broken = rp_h2_pool_broken(p);
    if (broken) {
        /* The credential will not work on any later attempt either. */
        rp_apns_notification_cleanup(n);
        rp_delivery_result_set(&send->result, RP_DS_PERMANENT_FAILURE, 0, "%s", broken);
        rp_send_complete(send);
        return;
    }
    struct apns_req *q = cl->free_reqs;
    if (q)
        cl->free_reqs = q->next_free;
    else
        q = rp_malloc(sizeof(*q));
    memset(q, 0, sizeof(*q));
    q->client = cl;
    q->cred = rp_h2_pool_user(p);
    q->send = send;
    q->n = *n;
    n->payload = NULL;
    n->payload_len = 0;
    snprintf(q->path, sizeof(q->path), "/3/device/%s", device_token);
    size_t h = 0;
    q->headers[h++] = (struct rp_h2_header){"content-type", "application/json"};
    if (q->n.topic[0])
        q->headers[h++] = (struct rp_h2_header){"apns-topic", q->n.topic};
    q->headers[h++] = (struct rp_h2_header){"apns-push-type", q->n.push_type};
    if (q->n.priority) {
        snprintf(q->prio, sizeof(q->prio), "%d", q->n.priority);
        q->headers[h++] = (struct rp_h2_header){"apns-priority", q->prio};
    }
    if (q->n.has_expiration) {
        snprintf(q->exp, sizeof(q->exp), "%lld", (long long)q->n.expiration);
        q->headers[h++] = (struct rp_h2_header){"apns-expiration", q->exp};
    }
    if (q->n.collapse_id[0])
        q->headers[h++] = (struct rp_h2_header){"apns-collapse-id", q->n.collapse_id};
    struct rp_h2_request rq = {.method = "POST",
                               .path = q->path,
                               .headers = q->headers,
                               .n_headers = h,
                               .body = q->n.payload,
                               .body_len = q->n.payload_len,
                               .done = on_answer,
                               .arg = q};
    rp_h2_send(p, &rq);
}
