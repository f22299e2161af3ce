/* The ADM channel (Amazon Device Messaging): a Login with Amazon client id and secret buy an
 * access token (client credentials grant, channels/oauth.c, cached per credential on each
 * worker); each delivery is one POST {adm.url}/messaging/registrations/{id}/messages with ADM's
 * type headers. The body, its md5 and the answer mapping are in adm_payload.c. */
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "../httpc.h"
#include "../oauth.h"
#include "../push_common.h"
#include "../settings.h"
#include "adm_payload.h"

/* Login with Amazon client ids are ~80 characters and secrets 64; the bound only keeps the
 * form body of the token request small. */
#define ADM_CREDENTIAL_MAX 1024
/* ADM registration ids are a few hundred characters. */
#define ADM_ADDRESS_MAX 2048

static int adm_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *client_id = NULL, *client_secret = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ClientId", &client_id, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ClientSecret", &client_secret, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0)
        rc = rp_settings_printable(client_id, ADM_CREDENTIAL_MAX, false, "ClientId", err);
    if (rc == 0)
        rc = rp_settings_printable(client_secret, ADM_CREDENTIAL_MAX, false, "ClientSecret", err);
    if (rc < 0)
        return rc;
    /* "(Not used)" in the reference, but Pinpoint still answers it: both are required. */
    rp_settings_put(response_members, "HasCredential", json_true());
    return 0;
}

static int adm_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, ADM_ADDRESS_MAX, true, field_name, err);
}

/* ---- Delivery ------------------------------------------------------------------------------ */

struct adm_source {
    char *client_id, *client_secret;
};

struct adm_transport {
    struct rp_httpc *http;
    struct rp_oauth *oauth;
    const char *base_url, *token_url; /* borrowed from the config */
    long timeout_ms;
    /* The ClientId and ClientSecret strings of the last send (references, so the pointers cannot
     * be reused) and their credential: a worker sends an app's messages with the same settings
     * object, so most sends skip the digest of the credential. */
    json_t *last_id, *last_secret;
    struct rp_oauth_cred *last_cred;
};

struct adm_req {
    struct adm_transport *t;
    struct rp_send *send;
    struct rp_oauth_cred *cred;
    char *url, *body, *auth;
    long timeout_ms;
    int reauthed;
};

static void source_free(void *p)
{
    struct adm_source *s = p;
    if (!s)
        return;
    OPENSSL_cleanse(s->client_secret, strlen(s->client_secret));
    free(s->client_id);
    free(s->client_secret);
    free(s);
}

static char *source_body(void *p, const char **why)
{
    struct adm_source *s = p;
    char *id = rp_oauth_form_escape(s->client_id), *secret = rp_oauth_form_escape(s->client_secret);
    static const char fmt[] =
        "grant_type=client_credentials&scope=messaging%%3Apush&client_id=%s&client_secret=%s";
    size_t len = sizeof(fmt) + strlen(id) + strlen(secret);
    char *body = rp_malloc(len);
    snprintf(body, len, fmt, id, secret);
    free(id);
    OPENSSL_cleanse(secret, strlen(secret));
    free(secret);
    return body;
}

/* The token cache key: a digest of the credential, so the secret is not kept twice. */
static struct rp_oauth_cred *cred_get(struct adm_transport *t, const char *id, const char *secret)
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    char hex[2 * SHA256_DIGEST_LENGTH + 1];
    size_t idlen = strlen(id), slen = strlen(secret);
    char *both = rp_malloc(idlen + slen + 1);
    memcpy(both, id, idlen);
    both[idlen] = '\0'; /* separates the two */
    memcpy(both + idlen + 1, secret, slen);
    SHA256((const unsigned char *)both, idlen + 1 + slen, digest);
    OPENSSL_cleanse(both, idlen + 1 + slen);
    free(both);
    rp_hex(digest, sizeof(digest), hex);
    struct rp_oauth_cred *cred = rp_oauth_find(t->oauth, hex);
    if (cred)
        return cred;
    struct adm_source *src = rp_calloc(1, sizeof(*src));
    src->client_id = rp_strdup(id);
    src->client_secret = rp_strdup(secret);
    return rp_oauth_add(t->oauth, hex, t->token_url, source_body, src, source_free);
}

static void *adm_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    struct rp_httpc *http = rp_push_http_new(base, cfg, "adm", "ADM");
    if (!http)
        return NULL;
    struct adm_transport *t = rp_calloc(1, sizeof(*t));
    t->http = http;
    t->timeout_ms = (long)rp_config_int(cfg, "adm.timeout_ms");
    t->oauth = rp_oauth_new(http, t->timeout_ms, "ADM");
    t->base_url = rp_config_str(cfg, "adm.url");
    t->token_url = rp_config_str(cfg, "adm.token_url");
    return t;
}

/* The HTTP client goes first: its cancelled requests complete their sends. */
static void adm_transport_free(void *transport)
{
    struct adm_transport *t = transport;
    if (!t)
        return;
    rp_httpc_free(t->http);
    rp_oauth_free(t->oauth);
    json_decref(t->last_id);
    json_decref(t->last_secret);
    free(t);
}

static void req_finish(struct adm_req *q)
{
    struct rp_send *send = q->send;
    if (q->auth) {
        OPENSSL_cleanse(q->auth, strlen(q->auth));
        free(q->auth);
    }
    free(q->url);
    free(q->body);
    free(q);
    rp_send_complete(send);
}

static void on_token(void *arg, const char *token, enum rp_oauth_failure failure,
                     const char *message);

static void on_response(void *arg, const struct rp_httpc_response *response)
{
    struct adm_req *q = arg;
    struct rp_delivery_result *r = &q->send->result;
    enum rp_adm_verdict v = rp_adm_classify(response, q->send->delivery->address, rp_now_ms(), r);
    if (v == RP_ADM_REAUTH && !q->reauthed) {
        q->reauthed = 1;
        rp_oauth_invalidate(q->cred, q->auth + strlen(RP_OAUTH_AUTH_PREFIX));
        rp_oauth_token(q->cred, on_token, q);
        return;
    }
    rp_debug("adm", "msg=sent id=%s status=%s code=%d", q->send->delivery->message_id,
             rp_delivery_status_name(r->status), r->status_code);
    req_finish(q);
}

static void on_token(void *arg, const char *token, enum rp_oauth_failure failure,
                     const char *message)
{
    struct adm_req *q = arg;
    struct rp_delivery_result *r = &q->send->result;
    if (!rp_oauth_authorize(token, failure, message, "ADM", r, &q->auth)) {
        req_finish(q);
        return;
    }
    const char *headers[] = {
        "Content-Type: application/json",
        "Accept: application/json",
        "X-Amzn-Type-Version: com.amazon.device.messaging.ADMMessage@1.0",
        "X-Amzn-Accept-Type: com.amazon.device.messaging.ADMSendResult@1.0",
        q->auth,
        NULL,
    };
    struct rp_httpc_request req = {
        .method = "POST",
        .url = q->url,
        .headers = headers,
        .body = q->body,
        .body_len = strlen(q->body),
        .timeout_ms = q->timeout_ms,
        .done = on_response,
        .arg = q,
    };
    if (!rp_push_post(q->t->http, &req, r))
        req_finish(q);
}

static void adm_send(void *transport, struct rp_send *send)
{
    struct adm_transport *t = transport;
    const struct rp_delivery *d = send->delivery;
    json_t *id_json = json_object_get(send->settings, "ClientId");
    json_t *secret_json = json_object_get(send->settings, "ClientSecret");
    const char *id = json_string_value(id_json), *secret = json_string_value(secret_json);
    if (!id || !*id || !secret || !*secret) {
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 0,
                     "the ADM channel has no ClientId and ClientSecret");
        return;
    }
    long timeout;
    if (!rp_send_timeout(send, t->timeout_ms, &timeout))
        return;
    struct rp_err err;
    rp_err_clear(&err);
    char *body = NULL;
    if (rp_adm_payload_build(d->content, &body, &err) < 0) {
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 400, "%s %s", err.field, err.msg);
        return;
    }
    struct adm_req *q = rp_calloc(1, sizeof(*q));
    q->t = t;
    q->send = send;
    if (id_json != t->last_id || secret_json != t->last_secret) {
        t->last_cred = cred_get(t, id, secret);
        json_decref(t->last_id);
        json_decref(t->last_secret);
        t->last_id = json_incref(id_json);
        t->last_secret = json_incref(secret_json);
    }
    q->cred = t->last_cred;
    q->body = body;
    q->timeout_ms = timeout;
    char *reg = rp_oauth_form_escape(d->address);
    q->url = rp_push_url(t->base_url, "/messaging/registrations/%s/messages", reg);
    free(reg);
    rp_oauth_token(q->cred, on_token, q);
}

const struct rp_channel_ops rp_adm_channel = {
    .type = "ADM",
    .path = "adm",
    .platform = "ADM",
    .request_shape = "ADMChannelRequest",
    .settings_validate = adm_settings_validate,
    .address_validate = adm_address_validate,
    .transport_new = adm_transport_new,
    .transport_free = adm_transport_free,
    .send = adm_send,
};
