/* adm_sim: Amazon Device Messaging with its Login with Amazon token endpoint, over HTTP/1.1
 * (tests/sim/lib/psim_http.c, TLS with the test CA). The token endpoint takes the client
 * credentials grant; the send endpoint checks the bearer token, both type headers, string-only
 * data, its size and its md5, and can be scripted with dead registration ids, id rewrites
 * (the answer names another registrationID), 429 / 403 MaxRateExceeded and 503 with
 * Retry-After. Control API under /sim/: see tests/sim/PUSH_SIMS.md. */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/adm/adm_payload.h"
#include "channels/sms/sms_payload.h"
#include "gateway/util.h"
#include "psim_http.h"

static struct {
    int port;
    const char *tls_cert, *tls_key, *client_id, *client_secret;
    size_t max_records;
    pthread_mutex_t lock;
    long long token_ttl;
    json_t *dead, *rewrites;
    long throttle_next, throttle403_next, unavailable_next, token_fail_next;
    char retry_after[64];
    json_t *tokens;
    unsigned long long token_seq;
    unsigned long received, accepted, token_requests, tokens_issued, auth_failures;
    struct psim_log log;
} g;

static void reason(struct psim_answer *ans, int status, const char *why)
{
    psim_json(ans, status, json_pack("{s:s}", "reason", why));
}

static void token_endpoint(const struct psim_req *req, struct psim_answer *ans)
{
    g.token_requests++;
    if (g.token_fail_next > 0) {
        g.token_fail_next--;
        psim_json(ans, 503, json_pack("{s:s}", "error", "ServiceUnavailable"));
        return;
    }
    struct rp_sms_form form;
    memset(&form, 0, sizeof(form));
    const char *err = NULL;
    if (rp_sms_form_parse(req->body, req->body_len, &form) < 0) {
        err = "invalid_request";
    } else {
        const char *grant = rp_sms_form_get(&form, "grant_type");
        const char *scope = rp_sms_form_get(&form, "scope");
        const char *id = rp_sms_form_get(&form, "client_id");
        const char *secret = rp_sms_form_get(&form, "client_secret");
        if (!grant || strcmp(grant, "client_credentials") != 0)
            err = "unsupported_grant_type";
        else if (!scope || strcmp(scope, "messaging:push") != 0)
            err = "invalid_scope";
        else if (!id || !secret || strcmp(id, g.client_id) != 0 ||
                 strcmp(secret, g.client_secret) != 0)
            err = "invalid_client";
    }
    rp_sms_form_cleanup(&form);
    if (err) {
        psim_json(
            ans, strcmp(err, "invalid_client") == 0 ? 401 : 400,
            json_pack("{s:s, s:s}", "error", err, "error_description", "The request was refused"));
        return;
    }
    char tok[96];
    psim_token_issue(g.tokens, "Atc|sim-", ++g.token_seq, g.token_ttl, tok, sizeof(tok));
    g.tokens_issued++;
    psim_json(ans, 200,
              json_pack("{s:s, s:I, s:s, s:s}", "access_token", tok, "expires_in",
                        (json_int_t)g.token_ttl, "scope", "messaging:push", "token_type",
                        "bearer"));
}

static void send_endpoint(const struct psim_req *req, const char *id, struct psim_answer *ans)
{
    g.received++;
    if (!psim_bearer_valid(g.tokens, psim_header(req, "Authorization"))) {
        g.auth_failures++;
        reason(ans, 401, "AccessTokenExpired");
        return;
    }
    const char *type = psim_header(req, "X-Amzn-Type-Version");
    const char *accept = psim_header(req, "X-Amzn-Accept-Type");
    if (!type || strcmp(type, "com.amazon.device.messaging.ADMMessage@1.0") != 0 || !accept ||
        strcmp(accept, "com.amazon.device.messaging.ADMSendResult@1.0") != 0) {
        reason(ans, 400, "InvalidType");
        return;
    }
    json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
    json_t *data = json_object_get(doc, "data");
    const json_t *md5 = json_object_get(doc, "md5");
    const json_t *exp = json_object_get(doc, "expiresAfter");
    const char *k;
    json_t *v;
    int strings = json_is_object(data);
    json_object_foreach(data, k, v) strings = strings && json_is_string(v);
    char want[RP_ADM_MD5_SIZE];
    if (strings)
        rp_adm_md5(data, want);
    if (!json_is_object(doc) || !strings) {
        reason(ans, 400, "InvalidData");
    } else if (rp_adm_data_size(data) > RP_ADM_DATA_MAX) {
        reason(ans, 413, "MessageTooLarge");
    } else if (md5 && !(json_is_string(md5) && strcmp(json_string_value(md5), want) == 0)) {
        reason(ans, 400, "InvalidChecksum");
    } else if (exp && !(json_is_integer(exp) && json_integer_value(exp) >= 1 &&
                        json_integer_value(exp) <= 2678400)) {
        reason(ans, 400, "InvalidExpiration");
    } else if (json_object_get(g.dead, id)) {
        reason(ans, 400, "Unregistered");
    } else if (g.throttle_next > 0 || g.throttle403_next > 0) {
        int s = g.throttle_next > 0 ? 429 : 403;
        if (s == 429)
            g.throttle_next--;
        else
            g.throttle403_next--;
        reason(ans, s, "MaxRateExceeded");
        snprintf(ans->retry_after, sizeof(ans->retry_after), "%s", g.retry_after);
    } else if (g.unavailable_next > 0) {
        g.unavailable_next--;
        reason(ans, 503, "ServiceUnavailable");
        snprintf(ans->retry_after, sizeof(ans->retry_after), "%s", g.retry_after);
    } else {
        const char *canonical = json_string_value(json_object_get(g.rewrites, id));
        unsigned long long seq = psim_log_next(&g.log);
        g.accepted++;
        psim_log_put(&g.log, json_pack("{s:I, s:s, s:O, s:s}", "seq", (json_int_t)seq,
                                       "registration_id", id, "message", doc, "md5", want));
        psim_json(ans, 200, json_pack("{s:s}", "registrationID", canonical ? canonical : id));
    }
    json_decref(doc);
}

static void defaults_locked(void)
{
    g.token_ttl = 3600;
    json_object_clear(g.dead);
    json_object_clear(g.rewrites);
    g.throttle_next = g.throttle403_next = g.unavailable_next = g.token_fail_next = 0;
    snprintf(g.retry_after, sizeof(g.retry_after), "1");
}

static const char *config_apply_locked(const json_t *doc)
{
    if (!json_is_object(doc))
        return "body";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (strcmp(k, "token_ttl") == 0 && json_is_integer(v) && json_integer_value(v) > 0) {
            g.token_ttl = json_integer_value(v);
        } else if (strcmp(k, "throttle_next") == 0 && json_is_integer(v)) {
            g.throttle_next = (long)json_integer_value(v);
        } else if (strcmp(k, "throttle_403_next") == 0 && json_is_integer(v)) {
            g.throttle403_next = (long)json_integer_value(v);
        } else if (strcmp(k, "unavailable_next") == 0 && json_is_integer(v)) {
            g.unavailable_next = (long)json_integer_value(v);
        } else if (strcmp(k, "token_fail_next") == 0 && json_is_integer(v)) {
            g.token_fail_next = (long)json_integer_value(v);
        } else if (strcmp(k, "retry_after") == 0 && json_is_string(v)) {
            snprintf(g.retry_after, sizeof(g.retry_after), "%s", json_string_value(v));
        } else if (strcmp(k, "dead_ids") == 0 && json_is_array(v)) {
            size_t i;
            json_t *t;
            json_object_clear(g.dead);
            json_array_foreach(v, i, t) if (json_is_string(t))
                json_object_set_new(g.dead, json_string_value(t), json_true());
        } else if (strcmp(k, "rewrites") == 0 && json_is_object(v)) {
            json_object_clear(g.rewrites);
            json_object_update(g.rewrites, v);
        } else {
            return k;
        }
    }
    return NULL;
}

static void control(const struct psim_req *req, struct psim_answer *ans)
{
    if (strcmp(req->path, "/sim/stats") == 0) {
        psim_json(ans, 200,
                  json_pack("{s:I, s:I, s:I, s:I, s:I, s:O, s:I}", "received",
                            (json_int_t)g.received, "accepted", (json_int_t)g.accepted,
                            "token_requests", (json_int_t)g.token_requests, "tokens_issued",
                            (json_int_t)g.tokens_issued, "auth_failures",
                            (json_int_t)g.auth_failures, "by_status", g.log.by_status,
                            "last_seq", (json_int_t)g.log.seq));
    } else if (strcmp(req->path, "/sim/messages") == 0) {
        psim_log_messages(&g.log, req, ans);
    } else if (strcmp(req->path, "/sim/config") == 0 && strcmp(req->method, "POST") == 0) {
        json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
        const char *bad = config_apply_locked(doc);
        json_decref(doc);
        if (bad)
            psim_json(ans, 400, json_pack("{s:s, s:s}", "error", "bad setting", "member", bad));
        else
            psim_json(ans, 200, json_pack("{s:b}", "ok", 1));
    } else if (strcmp(req->path, "/sim/revoke") == 0) {
        json_object_clear(g.tokens);
        psim_json(ans, 200, json_pack("{s:b}", "revoked", 1));
    } else if (strcmp(req->path, "/sim/reset") == 0) {
        defaults_locked();
        json_object_clear(g.tokens);
        json_object_clear(g.log.by_status);
        g.received = g.accepted = g.token_requests = g.tokens_issued = g.auth_failures = 0;
        psim_json(ans, 200, json_pack("{s:b}", "reset", 1));
    } else {
        psim_json(ans, 404, json_pack("{s:s}", "error", "no such control path"));
    }
}

static void adm_sim_handle(const struct psim_req *req, struct psim_answer *ans)
{
    static const char prefix[] = "/messaging/registrations/", suffix[] = "/messages";
    size_t plen = strlen(req->path), slen = sizeof(suffix) - 1, pre = sizeof(prefix) - 1;
    pthread_mutex_lock(&g.lock);
    if (strncmp(req->path, "/sim/", 5) == 0) {
        control(req, ans);
        pthread_mutex_unlock(&g.lock);
        return;
    }
    if (strcmp(req->path, "/auth/o2/token") == 0 && strcmp(req->method, "POST") == 0) {
        token_endpoint(req, ans);
    } else if (strncmp(req->path, prefix, pre) == 0 && plen > pre + slen &&
               strcmp(req->path + plen - slen, suffix) == 0 && strcmp(req->method, "POST") == 0) {
        char id[2048];
        snprintf(id, sizeof(id), "%.*s", (int)(plen - pre - slen), req->path + pre);
        send_endpoint(req, id, ans);
    } else {
        reason(ans, 404, "NotFound");
    }
    psim_log_count(&g.log, ans->status);
    pthread_mutex_unlock(&g.lock);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"client-id", required_argument, NULL, 'i'},
        {"client-secret", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    g.max_records = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            g.port = atoi(optarg);
            break;
        case 'c':
            g.tls_cert = optarg;
            break;
        case 'k':
            g.tls_key = optarg;
            break;
        case 'i':
            g.client_id = optarg;
            break;
        case 's':
            g.client_secret = optarg;
            break;
        default:
            fprintf(stderr, "usage: adm_sim --client-id ID --client-secret S [--port N] "
                            "[--tls-cert F --tls-key F]\n");
            return 2;
        }
    }
    if (!g.client_id || !g.client_secret) {
        fprintf(stderr, "adm_sim: --client-id and --client-secret are required\n");
        return 2;
    }
    pthread_mutex_init(&g.lock, NULL);
    g.dead = json_object();
    g.rewrites = json_object();
    g.tokens = json_object();
    psim_log_init(&g.log, g.max_records);
    defaults_locked();
    int status = psim_http_run("adm_sim", g.port, g.tls_cert, g.tls_key, 2, adm_sim_handle);
    psim_log_free(&g.log);
    json_decref(g.dead);
    json_decref(g.rewrites);
    json_decref(g.tokens);
    return status;
}
