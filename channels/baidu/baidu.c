/* The BAIDU channel (Baidu Cloud Push REST API v3): an API key and a secret key. Each delivery
 * is one signed form POST to {baidu.url}/rest/3.0/push/single_device (baidu_sign.c), with the
 * msg document from baidu_payload.c; no tokens are involved. */
#include <openssl/crypto.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "../httpc.h"
#include "../push_common.h"
#include "../settings.h"
#include "baidu_payload.h"
#include "baidu_sign.h"

/* Baidu's keys are 24 and 32 characters; the bound keeps the signed form body small. */
#define BAIDU_CREDENTIAL_MAX 1024
/* Baidu channel ids are 18-19 digits; 256 leaves room. */
#define BAIDU_ADDRESS_MAX 256
/* Characters of the API key shown in Credential. */
#define BAIDU_CREDENTIAL_SHOWN 4

/* Pinpoint answers the API key itself as Credential. The key travels in clear in every push
 * request, but together with a leaked secret it is the whole credential, so the answer keeps
 * only its last characters: enough to tell two keys apart, as consoles show card numbers. */
static void credential_mask(const char *api_key, char *out, size_t out_size)
{
    size_t len = strlen(api_key);
    if (len < (size_t)3 * BAIDU_CREDENTIAL_SHOWN)
        snprintf(out, out_size, "****");
    else
        snprintf(out, out_size, "****%s", api_key + len - BAIDU_CREDENTIAL_SHOWN);
}

static int baidu_settings_validate(const json_t *settings, json_t *response_members,
                                   struct rp_err *err)
{
    const char *api_key = NULL, *secret_key = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ApiKey", &api_key, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "SecretKey", &secret_key, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0)
        rc = rp_settings_printable(api_key, BAIDU_CREDENTIAL_MAX, false, "ApiKey", err);
    if (rc == 0)
        rc = rp_settings_printable(secret_key, BAIDU_CREDENTIAL_MAX, false, "SecretKey", err);
    if (rc < 0)
        return rc;
    char masked[4 + BAIDU_CREDENTIAL_SHOWN + 1];
    credential_mask(api_key ? api_key : "", masked, sizeof(masked));
    rp_settings_put(response_members, "Credential", json_string(masked));
    rp_settings_put(response_members, "HasCredential", json_true());
    return 0;
}

static int baidu_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, BAIDU_ADDRESS_MAX, true, field_name, err);
}

/* ---- Delivery ------------------------------------------------------------------------------ */

#define BAIDU_MAX_PARAMS 9

struct baidu_transport {
    struct rp_httpc *http;
    char *url; /* the single_device URL, exactly as signed */
    long timeout_ms;
};

static void *baidu_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    struct rp_httpc *http = rp_push_http_new(base, cfg, "baidu", "BAIDU");
    if (!http)
        return NULL;
    struct baidu_transport *t = rp_calloc(1, sizeof(*t));
    t->http = http;
    t->timeout_ms = (long)rp_config_int(cfg, "baidu.timeout_ms");
    t->url = rp_push_url(rp_config_str(cfg, "baidu.url"), "/rest/3.0/push/single_device");
    return t;
}

static void baidu_transport_free(void *transport)
{
    struct baidu_transport *t = transport;
    if (!t)
        return;
    rp_httpc_free(t->http);
    free(t->url);
    free(t);
}

static void on_response(void *arg, const struct rp_httpc_response *response)
{
    struct rp_send *send = arg;
    rp_baidu_classify(response, rp_now_ms(), &send->result);
    rp_debug("baidu", "msg=sent id=%s status=%s code=%d", send->delivery->message_id,
             rp_delivery_status_name(send->result.status), send->result.status_code);
    rp_send_complete(send);
}

/* The form body: every parameter PHP-urlencoded, as Baidu's SDK sends it. */
static char *form_encode(const struct rp_baidu_param *p, size_t n)
{
    size_t cap = 1;
    char **enc = rp_malloc(n * sizeof(*enc));
    for (size_t i = 0; i < n; i++) {
        enc[i] = rp_baidu_urlencode(p[i].value);
        cap += strlen(p[i].key) + strlen(enc[i]) + 2;
    }
    char *body = rp_malloc(cap), *w = body;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *w++ = '&';
        w = stpcpy(w, p[i].key);
        *w++ = '=';
        w = stpcpy(w, enc[i]);
        free(enc[i]);
    }
    *w = '\0';
    free(enc);
    return body;
}

static void baidu_send(void *transport, struct rp_send *send)
{
    struct baidu_transport *t = transport;
    const struct rp_delivery *d = send->delivery;
    const char *api_key = json_string_value(json_object_get(send->settings, "ApiKey"));
    const char *secret = json_string_value(json_object_get(send->settings, "SecretKey"));
    if (!api_key || !*api_key || !secret || !*secret) {
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 0,
                     "the BAIDU channel has no ApiKey and SecretKey");
        return;
    }
    long timeout;
    if (!rp_send_timeout(send, t->timeout_ms, &timeout))
        return;
    int device_type =
        rp_baidu_device_type(json_string_value(json_object_get(d->content, "Platform")));
    struct rp_err err;
    rp_err_clear(&err);
    char *msg = NULL;
    int msg_type = 1;
    if (rp_baidu_msg_build(d->content, device_type, &msg, &msg_type, &err) < 0) {
        rp_push_fail(send, RP_DS_PERMANENT_FAILURE, 400, "%s %s", err.field, err.msg);
        return;
    }
    char ts[24], dt[4], mt[4], exp[24] = "";
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    snprintf(dt, sizeof(dt), "%d", device_type);
    snprintf(mt, sizeof(mt), "%d", msg_type);
    struct rp_baidu_param p[BAIDU_MAX_PARAMS + 1];
    size_t n = 0;
    p[n++] = (struct rp_baidu_param){"apikey", api_key};
    p[n++] = (struct rp_baidu_param){"timestamp", ts};
    p[n++] = (struct rp_baidu_param){"device_type", dt};
    p[n++] = (struct rp_baidu_param){"channel_id", d->address};
    p[n++] = (struct rp_baidu_param){"msg", msg};
    p[n++] = (struct rp_baidu_param){"msg_type", mt};
    const json_t *ttl = json_object_get(d->content, "TimeToLive");
    if (json_is_integer(ttl)) {
        long long v = json_integer_value(ttl);
        v = v < 1 ? 1 : v > RP_BAIDU_EXPIRES_MAX ? RP_BAIDU_EXPIRES_MAX : v;
        snprintf(exp, sizeof(exp), "%lld", v);
    }
    if (exp[0])
        p[n++] = (struct rp_baidu_param){"msg_expires", exp};
    if (device_type == RP_BAIDU_IOS)
        p[n++] = (struct rp_baidu_param){"deploy_status", "2"};
    char sign[RP_BAIDU_SIGN_SIZE];
    rp_baidu_sign("POST", t->url, p, n, secret, sign);
    p[n++] = (struct rp_baidu_param){"sign", sign};
    char *body = form_encode(p, n);
    free(msg);
    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded;charset=utf-8",
        "User-Agent: BCCS_SDK/3.0 (repoint) C/" RP_VERSION,
        NULL,
    };
    struct rp_httpc_request req = {
        .method = "POST",
        .url = t->url,
        .headers = headers,
        .body = body,
        .body_len = strlen(body),
        .timeout_ms = timeout,
        .done = on_response,
        .arg = send,
    };
    int started = rp_push_post(t->http, &req, &send->result);
    free(body);
    if (!started)
        rp_send_complete(send);
}

const struct rp_channel_ops rp_baidu_channel = {
    .type = "BAIDU",
    .path = "baidu",
    .platform = "BAIDU",
    .request_shape = "BaiduChannelRequest",
    .settings_validate = baidu_settings_validate,
    .address_validate = baidu_address_validate,
    .transport_new = baidu_transport_new,
    .transport_free = baidu_transport_free,
    .send = baidu_send,
};
