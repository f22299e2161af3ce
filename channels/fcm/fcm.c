/* The GCM channel, delivered through FCM HTTP v1 with a Google service account (ServiceJson):
 * an RS256 assertion (fcm_jwt.c) buys an access token (channels/oauth.c, cached per service
 * account on each worker), and each delivery is one POST /v1/projects/{id}/messages:send on
 * the worker's pooled HTTP/2 connections (channels/h2pool.c; one pool for every service account,
 * since each request carries its own bearer token). A server that refuses h2 in ALPN (never FCM
 * itself; a proxy or test server may) is answered over HTTP/1.1 through libcurl
 * (channels/httpc.c) from then on, as token requests always are. The body and the answer
 * mapping are in fcm_payload.c.
 * The legacy server key (ApiKey) is still accepted by UpdateGcmChannel, as Pinpoint's shape has
 * it, so existing provisioning scripts keep working; but Google shut the legacy FCM API down in
 * July 2024, so a delivery on a channel with only an ApiKey fails at once with a message saying
 * so (docs/push-android.md). With both, ServiceJson is used whatever the method says. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "../email/email_address.h"
#include "../h2pool.h"
#include "../httpc.h"
#include "../keys.h"
#include "../oauth.h"
#include "../push_common.h"
#include "../settings.h"
#include "fcm_jwt.h"
#include "fcm_payload.h"

/* Over HTTP/1.1 (a server refusing h2), requests one transport keeps in libcurl at once; more
 * wait in the transport's own queue. */
#define FCM_MAX_ACTIVE 100
/* FCM registration tokens run to a few hundred characters; 4096 leaves room for growth. */
#define FCM_TOKEN_MAX 4096
/* Google's server keys are 39 or ~150 characters. */
#define FCM_API_KEY_MAX 1024
/* Google's project ids are 6-30 characters, domain-scoped ones longer. */
#define FCM_PROJECT_ID_MAX 128
/* Member values of the service-account JSON that end up in URLs, JWT claims or headers. */
#define SA_VALUE_MAX 2048

/* Reads a required string member of the service-account document; field is written as
 * "ServiceJson.<key>". */
static int sa_string(const json_t *sa, const char *key, const char **out, char *field,
                     size_t field_size, struct rp_err *err)
{
    snprintf(field, field_size, "ServiceJson.%s", key);
    const json_t *v = json_object_get(sa, key);
    *out = json_string_value(v);
    if (!v || json_is_null(v) || (*out && !**out))
        return rp_err_set(err, RP_EINVAL, field, "is required");
    if (!*out)
        return rp_err_set(err, RP_EINVAL, field, "must be a string");
    return 0;
}

/* The project id is a path segment of the send URL (/v1/projects/<id>/messages:send): Google's
 * ids are lowercase letters, digits and hyphens, with "domain.com:" in front for some. */
static int project_id_validate(const char *id, const char *field, struct rp_err *err)
{
    size_t len = strlen(id);
    if (len > FCM_PROJECT_ID_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters",
                          FCM_PROJECT_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':'))
            return rp_err_set(err, RP_EINVAL, field,
                              "must be a Google Cloud project id (letters, digits, '-', '.', ':')");
    }
    return 0;
}

static int token_uri_validate(const char *uri, const char *field, struct rp_err *err)
{
    int rc = rp_settings_printable(uri, SA_VALUE_MAX, false, field, err);
    if (rc < 0)
        return rc;
    const char *host = NULL;
    /* http is allowed for an OAuth simulator on a test network; Google's is https. */
    if (strncasecmp(uri, "https://", 8) == 0)
        host = uri + 8;
    else if (strncasecmp(uri, "http://", 7) == 0)
        host = uri + 7;
    if (!host || !*host || *host == '/')
        return rp_err_set(err, RP_EINVAL, field, "must be an https:// URL");
    return 0;
}

/* The checks the OAuth 2.0 JWT-bearer flow needs: the key signs an RS256 assertion whose iss
 * is client_email and aud is token_uri, and project_id names the FCM project. */
static int service_json_validate(const char *text, struct rp_err *err)
{
    json_error_t jerr;
    json_t *sa = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    /* jerr.text may quote the input ("near '...'"), which is key material: report only where. */
    if (!sa)
        return rp_err_set(err, RP_EINVAL, "ServiceJson",
                          "is not valid JSON (line %d, column %d); give the service account's "
                          "key file as a string",
                          jerr.line, jerr.column);
    int rc = 0;
    char field[64];
    const char *project_id, *client_email, *private_key, *token_uri;
    EVP_PKEY *key = NULL;
    if (!json_is_object(sa)) {
        rc = rp_err_set(err, RP_EINVAL, "ServiceJson", "must be a JSON object");
        goto out;
    }
    const json_t *type = json_object_get(sa, "type");
    if (type &&
        !(json_is_string(type) && strcmp(json_string_value(type), "service_account") == 0)) {
        rc = rp_err_set(err, RP_EINVAL, "ServiceJson.type", "must be \"service_account\"");
        goto out;
    }
    if ((rc = sa_string(sa, "project_id", &project_id, field, sizeof(field), err)) < 0 ||
        (rc = project_id_validate(project_id, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "client_email", &client_email, field, sizeof(field), err)) < 0 ||
        (rc = rp_email_address_validate(client_email, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "token_uri", &token_uri, field, sizeof(field), err)) < 0 ||
        (rc = token_uri_validate(token_uri, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "private_key", &private_key, field, sizeof(field), err)) < 0 ||
        (rc = rp_keys_private_key(private_key, field, &key, err)) < 0)
        goto out;
    if (!rp_keys_is_rsa(key))
        rc = rp_err_set(err, RP_EINVAL, field, "must be an RSA private key (RS256 signs with it)");
out:
    EVP_PKEY_free(key);
    json_decref(sa);
    return rc;
}

/* The reference: "Values are either TOKEN or KEY. Defaults to KEY." Defaulting to KEY when
 * only a service account is given would name a credential that is not there, so the default
 * is TOKEN whenever ServiceJson is present and KEY otherwise. */
static int auth_method_resolve(const char *given, bool has_key, bool has_service, const char **out,
                               struct rp_err *err)
{
    const char *field = "DefaultAuthenticationMethod";
    if (!given) {
        *out = has_service ? "TOKEN" : "KEY";
        return 0;
    }
    if (strcasecmp(given, "TOKEN") == 0) {
        if (!has_service)
            return rp_err_set(err, RP_EINVAL, field, "is TOKEN but ServiceJson is not set");
        *out = "TOKEN";
        return 0;
    }
    if (strcasecmp(given, "KEY") == 0) {
        if (!has_key)
            return rp_err_set(err, RP_EINVAL, field, "is KEY but ApiKey is not set");
        *out = "KEY";
        return 0;
    }
    return rp_err_set(err, RP_EINVAL, field, "must be TOKEN or KEY");
}

static int gcm_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *api_key = NULL, *service_json = NULL, *method = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ApiKey", &api_key, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ServiceJson", &service_json, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "DefaultAuthenticationMethod", &method, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc < 0)
        return rc;

    if (!api_key && !service_json)
        return rp_err_set(err, RP_EINVAL, "ServiceJson",
                          "is required (the legacy ApiKey no longer works with FCM)");
    if (api_key && (rc = rp_settings_printable(api_key, FCM_API_KEY_MAX, false, "ApiKey", err)) < 0)
        return rc;
    if (service_json && (rc = service_json_validate(service_json, err)) < 0)
        return rc;
    if ((rc = auth_method_resolve(method, api_key != NULL, service_json != NULL, &method, err)) < 0)
        return rc;

    /* Pinpoint echoes the server key as Credential; it is a secret, so it is left out. */
    rp_settings_put(response_members, "DefaultAuthenticationMethod", json_string(method));
    rp_settings_put(response_members, "HasCredential", json_boolean(api_key != NULL));
    rp_settings_put(response_members, "HasFcmServiceCredentials",
                    json_boolean(service_json != NULL));
    return 0;
}

static int gcm_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, FCM_TOKEN_MAX, false, field_name, err);
}

/* ---- Delivery ------------------------------------------------------------------------------ */

#define FCM_LEGACY_MESSAGE                                                                         \
    "the GCM channel has only the legacy ApiKey, and Google shut the legacy FCM API down in "      \
    "July 2024: give the channel a ServiceJson (UpdateGcmChannel) to deliver through FCM HTTP v1"

/* What the token refresh signs with: owned by the OAuth cache. */
struct fcm_source {
    EVP_PKEY *key;
    char *kid, *client_email, *token_uri;
};

/* One service account seen on this worker: its parsed form, kept so that a delivery costs a
 * hash and a compare, not a JSON and PEM parse. */
struct fcm_account {
    struct fcm_account *next;
    uint64_t hash;
    char *service_json; /* the exact text, to tell hash collisions apart */
    char *send_url;
    const char *send_path; /* the path of send_url, for HTTP/2 */
    struct rp_oauth_cred *cred; /* owned by the transport's OAuth cache */
};

struct fcm_transport {
    struct rp_httpc *http;   /* token requests, and sends to a server without HTTP/2 */
    struct rp_h2_client *h2; /* sends; NULL when fcm.url is not https */
    bool http1;              /* the server refused h2 in ALPN: sends go through libcurl */
    struct rp_oauth *oauth;
    const char *base_url; /* borrowed from the config */
    long timeout_ms;
    struct fcm_account *accounts;
    /* The ServiceJson string of the last send (a reference, so the pointer cannot be reused)
     * and its account: a worker sends an app's messages with the same settings object, so most
     * sends skip even the hash. */
    json_t *last_json;
    struct fcm_account *last_account;
    struct rp_fcm_body_memo body_memo; /* the last content's body, for its next recipients */
    /* Over HTTP/1.1: requests in libcurl, and those with a token waiting for a slot (FIFO). */
    size_t active;
    struct fcm_req *waiting, **waiting_tail;
    struct fcm_req *free_reqs; /* recycled request state */
    int closing;
};

/* One delivery attempt in flight. */
struct fcm_req {
    struct fcm_transport *t;
    struct rp_send *send;
    struct fcm_account *account;
    char *body;         /* kept with the recycled state; body_len bytes for this send */
    size_t body_cap, body_len;
    char *auth;         /* "Authorization: Bearer <token>" */
    int64_t give_up_ms; /* monotonic: the request's whole time budget ends here */
    int reauthed;       /* a 401 was answered once already */
    struct fcm_req *next_waiting; /* also the free list's link */
    struct rp_h2_header headers[3];
};

static void source_free(void *p)
{
    struct fcm_source *s = p;
    if (!s)
        return;
    EVP_PKEY_free(s->key);
    free(s->kid);
    free(s->client_email);
    free(s->token_uri);
    free(s);
}

static char *source_body(void *p, const char **why)
{
    struct fcm_source *s = p;
    char *jwt =
        rp_fcm_jwt_sign(s->key, s->kid, s->client_email, s->token_uri, (long long)time(NULL));
    if (!jwt) {
        *why = "cannot sign the service-account assertion with ServiceJson.private_key";
        return NULL;
    }
    char *esc = rp_oauth_form_escape(jwt);
    static const char prefix[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
                                 "&assertion=";
    size_t len = sizeof(prefix) + strlen(esc);
    char *body = rp_malloc(len);
    snprintf(body, len, "%s%s", prefix, esc);
    free(esc);
    free(jwt);
    return body;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* Parses a service account (already validated by UpdateGcmChannel) into an account. Returns
 * NULL with why set when it cannot be used after all. */
static struct fcm_account *account_new(struct fcm_transport *t, const char *text, uint64_t hash,
                                       const char **why)
{
    json_t *sa = json_loads(text, 0, NULL);
    const char *project = json_string_value(json_object_get(sa, "project_id"));
    const char *email = json_string_value(json_object_get(sa, "client_email"));
    const char *uri = json_string_value(json_object_get(sa, "token_uri"));
    const char *pem = json_string_value(json_object_get(sa, "private_key"));
    const char *kid = json_string_value(json_object_get(sa, "private_key_id"));
    struct rp_err err;
    EVP_PKEY *key = NULL;
    if (!project || !email || !uri || !pem ||
        rp_keys_private_key(pem, "ServiceJson.private_key", &key, &err) < 0) {
        json_decref(sa);
        *why = "the channel's ServiceJson cannot be used (update it with UpdateGcmChannel)";
        return NULL;
    }
    struct fcm_source *src = rp_calloc(1, sizeof(*src));
    src->key = key;
    src->kid = kid ? rp_strdup(kid) : NULL;
    src->client_email = rp_strdup(email);
    src->token_uri = rp_strdup(uri);

    struct fcm_account *a = rp_calloc(1, sizeof(*a));
    a->hash = hash;
    a->service_json = rp_strdup(text);
    a->send_url = rp_push_url(t->base_url, "/v1/projects/%s/messages:send", project);
    const char *host = strstr(a->send_url, "://");
    a->send_path = strchr(host ? host + 3 : a->send_url, '/');
    /* The cache key is a digest of the whole document: a new key or a new token_uri is a new
     * credential, and the key never sits in memory twice. */
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256((const unsigned char *)text, strlen(text), digest);
    rp_hex(digest, sizeof(digest), hex);
    a->cred = rp_oauth_find(t->oauth, hex);
    if (!a->cred)
        a->cred = rp_oauth_add(t->oauth, hex, uri, source_body, src, source_free);
    else
        source_free(src);
    json_decref(sa);
    a->next = t->accounts;
    t->accounts = a;
    return a;
}

static struct fcm_account *account_get(struct fcm_transport *t, const char *text, const char **why)
{
    uint64_t h = fnv1a(text);
    for (struct fcm_account *a = t->accounts; a; a = a->next)
        if (a->hash == h && strcmp(a->service_json, text) == 0)
            return a;
    return account_new(t, text, h, why);
}

/* HTTP/2 connections a worker keeps to FCM, and how they idle: as the APNs defaults. FCM
 * authenticates each request, so every service account of the worker shares them. */
#define FCM_MAX_CONNECTIONS   4
#define FCM_IDLE_TIMEOUT_S    600
#define FCM_PING_INTERVAL_S   60
/* FCM's answers: {"name": ...}, or an error object with details; more is not kept. */
#define FCM_ANSWER_MAX 4096

static void *fcm_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    struct rp_httpc *http = rp_push_http_new(base, cfg, "fcm", "GCM");
    if (!http)
        return NULL;
    struct fcm_transport *t = rp_calloc(1, sizeof(*t));
    t->http = http;
    t->timeout_ms = (long)rp_config_int(cfg, "fcm.timeout_ms");
    t->oauth = rp_oauth_new(http, t->timeout_ms, "GCM");
    t->base_url = rp_config_str(cfg, "fcm.url");
    t->waiting_tail = &t->waiting;
    if (strncmp(t->base_url, "https://", 8) == 0) {
        struct rp_h2_client_config hc = {
            .url = t->base_url,
            .ca_file = rp_config_str(cfg, "tls.ca_file"),
            .name = "GCM",
            .component = "fcm",
            .provider = "FCM",
            .answer_max = FCM_ANSWER_MAX,
            .max_connections = FCM_MAX_CONNECTIONS,
            .idle_timeout_s = FCM_IDLE_TIMEOUT_S,
            .ping_interval_s = FCM_PING_INTERVAL_S,
            .timeout_ms = t->timeout_ms,
        };
        t->h2 = rp_h2_client_new(base, &hc);
    }
    if (!t->h2)
        rp_warn("fcm", "msg=\"fcm.url is not an https origin: sending over HTTP/1.1\" url=%s",
                t->base_url);
    return t;
}

static void queue_pump(struct fcm_transport *t);

/* The HTTP clients go first: their cancelled requests complete their sends (a token refresh
 * in flight fails its waiters, which complete theirs), then nothing refers to the cache. */
static void fcm_transport_free(void *transport)
{
    struct fcm_transport *t = transport;
    if (!t)
        return;
    t->closing = 1;
    rp_h2_client_free(t->h2);
    t->h2 = NULL;
    rp_httpc_free(t->http);
    queue_pump(t); /* whatever still waits completes now (TEMPORARY_FAILURE) */
    rp_oauth_free(t->oauth);
    json_decref(t->last_json);
    rp_fcm_body_memo_clear(&t->body_memo);
    while (t->accounts) {
        struct fcm_account *a = t->accounts;
        t->accounts = a->next;
        OPENSSL_cleanse(a->service_json, strlen(a->service_json));
        free(a->service_json);
        free(a->send_url);
        free(a);
    }
    while (t->free_reqs) {
        struct fcm_req *q = t->free_reqs;
        t->free_reqs = q->next_waiting;
        if (q->auth) {
            OPENSSL_cleanse(q->auth, strlen(q->auth));
            free(q->auth);
        }
        free(q->body);
        free(q);
    }
    free(t);
}

/* Ends q: its state goes back to the free list (the access token it holds is kept for the
 * next send, which most often needs the same one), then the send completes. */
static void req_complete(struct fcm_req *q)
{
    struct rp_send *send = q->send;
    struct fcm_transport *t = q->t;
    q->send = NULL;
    q->next_waiting = t->free_reqs;
    t->free_reqs = q;
    rp_send_complete(send);
}

static void on_response(void *arg, const struct rp_httpc_response *response);
static void on_token(void *arg, const char *token, enum rp_oauth_failure failure,
                     const char *message);

/* An answer, over either protocol: a 401 refreshes the token and retries once; anything else
 * is the result. Returns 1 when q was completed, 0 when it waits for a new token. */
static int req_answered(struct fcm_req *q, const struct rp_httpc_response *response)
{
    struct rp_delivery_result *r = &q->send->result;
    enum rp_fcm_verdict v = rp_fcm_classify(response, rp_now_ms(), r);
    if (v == RP_FCM_REAUTH && !q->reauthed) {
        /* The token was refused (revoked, or expired early): refresh once and retry once. */
        q->reauthed = 1;
        rp_oauth_invalidate(q->account->cred, q->auth + strlen(RP_OAUTH_AUTH_PREFIX));
        rp_debug("fcm", "msg=\"access token refused: refreshing\" id=%s",
                 q->send->delivery->message_id);
        rp_oauth_token(q->account->cred, on_token, q);
        return 0;
    }
    if (rp_log_min_level <= RP_LOG_DEBUG)
        rp_debug("fcm", "msg=sent id=%s status=%s code=%d seconds=%.3f",
                 q->send->delivery->message_id, rp_delivery_status_name(r->status), r->status_code,
                 response->total_seconds);
    req_complete(q);
    return 1;
}

static void req_start(struct fcm_req *q);

static enum rp_h2_next on_h2_answer(void *arg, const struct rp_h2_answer *a)
{
    struct fcm_req *q = arg;
    struct fcm_transport *t = q->t;
    if (a->no_h2 && !t->http1 && !t->closing) {
        /* FCM itself always speaks h2; a staging proxy or test server might not. */
        rp_warn("fcm", "msg=\"the FCM server did not agree to HTTP/2 (ALPN): sending over "
                       "HTTP/1.1 from now on\" url=%s",
                t->base_url);
        t->http1 = true;
    }
    if (a->no_h2 && t->http1) {
        req_start(q); /* again, through libcurl */
        return RP_H2_DONE;
    }
    struct rp_httpc_response response = {
        .transport_error = a->status == 0,
        .status = a->status,
        .body = a->body,
        .body_len = a->body_len,
        .retry_after = a->retry_after,
    };
    if (a->transport_error)
        snprintf(response.error, sizeof(response.error), "%s", a->transport_error);
    req_answered(q, &response);
    return RP_H2_DONE;
}

static bool any_pool(const void *user, const void *arg)
{
    return true;
}

/* Sends q over HTTP/2: its state and headers stay put until the answer. */
static void req_start_h2(struct fcm_req *q)
{
    struct fcm_transport *t = q->t;
    struct rp_h2_pool *pool = rp_h2_pool_find(t->h2, any_pool, NULL);
    if (!pool)
        pool = rp_h2_pool_new(t->h2, &(struct rp_h2_pool_config){0});
    q->headers[0] = (struct rp_h2_header){"content-type", "application/json; charset=UTF-8"};
    q->headers[1] = (struct rp_h2_header){"authorization", q->auth + strlen("Authorization: ")};
    q->headers[2] = (struct rp_h2_header){"user-agent", "repoint/" RP_VERSION}; /* as libcurl's */
    struct rp_h2_request rq = {.method = "POST",
                               .path = q->account->send_path,
                               .headers = q->headers,
                               .n_headers = 3,
                               .body = q->body,
                               .body_len = q->body_len,
                               .deadline_ms = q->give_up_ms,
                               .done = on_h2_answer,
                               .arg = q};
    rp_h2_send(pool, &rq);
}

/* Hands q to libcurl (HTTP/1.1); q counts as active until its answer. A new request queues
 * behind those already waiting for a slot; one leaving the queue (dequeued) goes ahead. */
static void req_start_curl(struct fcm_req *q, bool dequeued)
{
    struct fcm_transport *t = q->t;
    struct rp_delivery_result *r = &q->send->result;
    if (t->active >= FCM_MAX_ACTIVE || (t->waiting && !dequeued)) {
        *t->waiting_tail = q;
        t->waiting_tail = &q->next_waiting;
        return;
    }
    const char *headers[] = {"Content-Type: application/json; charset=UTF-8", q->auth, NULL};
    struct rp_httpc_request req = {
        .method = "POST",
        .url = q->account->send_url,
        .headers = headers,
        .body = q->body,
        .body_len = q->body_len,
        .timeout_ms = (long)(q->give_up_ms - rp_mono_ms()),
        .done = on_response,
        .arg = q,
    };
    if (!rp_push_post(t->http, &req, r)) {
        req_complete(q);
        return;
    }
    t->active++;
}

/* Starts q with the time it has left, over HTTP/2 unless the server refused it. dequeued: q
 * comes out of the HTTP/1.1 queue (queue_pump). */
static void req_start_from(struct fcm_req *q, bool dequeued)
{
    struct fcm_transport *t = q->t;
    struct rp_delivery_result *r = &q->send->result;
    if (q->give_up_ms - rp_mono_ms() <= 0) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0,
                               "the delivery deadline passed while waiting to be sent");
        req_complete(q);
        return;
    }
    if (t->closing) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "cannot start the request: %s",
                               rp_rc_msg(RP_EAGAIN));
        req_complete(q);
        return;
    }
    if (t->h2 && !t->http1)
        req_start_h2(q);
    else
        req_start_curl(q, dequeued);
}

static void req_start(struct fcm_req *q)
{
    req_start_from(q, false);
}

/* Starts waiting requests while libcurl has room. A loop, not recursion: a start that fails
 * completes at once, and the worker may send again from that completion. */
static void queue_pump(struct fcm_transport *t)
{
    while (t->waiting && t->active < FCM_MAX_ACTIVE) {
        struct fcm_req *q = t->waiting;
        t->waiting = q->next_waiting;
        if (!t->waiting)
            t->waiting_tail = &t->waiting;
        q->next_waiting = NULL;
        req_start_from(q, true);
    }
}

static void on_response(void *arg, const struct rp_httpc_response *response)
{
    struct fcm_req *q = arg;
    struct fcm_transport *t = q->t;
    t->active--; /* out of libcurl: its slot goes to the next waiting one */
    req_answered(q, response);
    queue_pump(t);
}

static void on_token(void *arg, const char *token, enum rp_oauth_failure failure,
                     const char *message)
{
    struct fcm_req *q = arg;
    /* The recycled state most often holds the header for this very token already. */
    if (token && q->auth && strcmp(q->auth + strlen(RP_OAUTH_AUTH_PREFIX), token) == 0) {
        req_start(q);
        return;
    }
    if (!rp_oauth_authorize(token, failure, message, "FCM", &q->send->result, &q->auth)) {
        req_complete(q);
        return;
    }
    req_start(q);
}

static void fcm_send(void *transport, struct rp_send *send)
{
    struct fcm_transport *t = transport;
    const struct rp_delivery *d = send->delivery;
    json_t *sj = json_object_get(send->settings, "ServiceJson");
    const char *service_json = json_string_value(sj);
    if (!service_json || !*service_json) {
        const char *key = json_string_value(json_object_get(send->settings, "ApiKey"));
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 0, "%s",
                     key && *key ? FCM_LEGACY_MESSAGE : "the GCM channel has no ServiceJson");
        return;
    }
    long timeout;
    if (!rp_send_timeout(send, t->timeout_ms, &timeout))
        return;
    struct fcm_account *a = t->last_account;
    if (sj != t->last_json) {
        const char *why = NULL;
        a = account_get(t, service_json, &why);
        if (!a) {
            rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 0, "%s", why);
            return;
        }
        json_decref(t->last_json);
        t->last_json = json_incref(sj);
        t->last_account = a;
    }
    struct fcm_req *q = t->free_reqs;
    if (q) {
        t->free_reqs = q->next_waiting;
        q->next_waiting = NULL;
        q->reauthed = 0;
    } else {
        q = rp_calloc(1, sizeof(*q));
    }
    q->t = t;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_fcm_payload_write_memo(&t->body_memo, d->content, d->address, &q->body, &q->body_cap,
                                  &q->body_len, &err) < 0) {
        q->next_waiting = t->free_reqs;
        t->free_reqs = q;
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 400, "%s %s", err.field, err.msg);
        return;
    }
    q->send = send;
    q->account = a;
    q->give_up_ms = rp_mono_ms() + timeout;
    rp_oauth_token(a->cred, on_token, q);
}

const struct rp_channel_ops rp_gcm_channel = {
    .type = "GCM",
    .path = "gcm",
    .platform = "GCM",
    .request_shape = "GCMChannelRequest",
    .settings_validate = gcm_settings_validate,
    .address_validate = gcm_address_validate,
    .transport_new = fcm_transport_new,
    .transport_free = fcm_transport_free,
    .send = fcm_send,
};
