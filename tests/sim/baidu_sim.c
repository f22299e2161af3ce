/* baidu_sim: Baidu Cloud Push REST API v3, POST /rest/3.0/push/single_device over HTTP/1.1
 * (tests/sim/lib/psim_http.c, TLS with the test CA). It recomputes every request's sign from
 * the URL it was posted to (scheme, Host header, path) and the secret key, checks the apikey,
 * timestamp window, User-Agent, device_type, msg_type, msg JSON and msg_expires, and can be
 * scripted to answer any error code. Control API under /sim/: see tests/sim/PUSH_SIMS.md. */
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels/baidu/baidu_sign.h"
#include "channels/sms/sms_payload.h"
#include "gateway/util.h"
#include "psim_http.h"

static struct {
    int port;
    const char *tls_cert, *tls_key, *api_key, *secret_key;
    size_t max_records;
    pthread_mutex_t lock;
    json_t *channel_errors; /* channel_id -> error code */
    long error_next, error_code, error_status;
    char retry_after[64];
    unsigned long long request_seq;
    unsigned long received, accepted, bad_sign;
    struct psim_log log; /* by_status counts Baidu's answers by HTTP status */
} g;

static void baidu_error(struct psim_answer *ans, int status, long code, const char *msg)
{
    psim_json(ans, status,
              json_pack("{s:I, s:I, s:s}", "request_id", (json_int_t)++g.request_seq, "error_code",
                        (json_int_t)code, "error_msg", msg));
}

static const char *code_message(long code)
{
    switch (code) {
    case 30600:
        return "Internal Server Error";
    case 30602:
        return "Request Params Not Valid";
    case 30603:
        return "Authentication Failed";
    case 30604:
        return "Quota Use Up Payment Required";
    case 30606:
        return "Request Time Expires Timeout";
    case 30607:
        return "Channel Token Timeout";
    case 30608:
        return "Bind Relation Not Found";
    default:
        return "Error";
    }
}

static void push_single_device(const struct psim_req *req, struct psim_answer *ans)
{
    g.received++;
    const char *ua = psim_header(req, "User-Agent");
    const char *host = psim_header(req, "Host");
    struct rp_sms_form form;
    memset(&form, 0, sizeof(form));
    if (rp_sms_form_parse(req->body, req->body_len, &form) < 0) {
        rp_sms_form_cleanup(&form);
        baidu_error(ans, 400, 30602, "Request Params Not Valid");
        return;
    }
    struct rp_baidu_param params[64];
    size_t n = 0;
    for (size_t i = 0; i < form.n && n < 64; i++)
        params[n++] = (struct rp_baidu_param){form.params[i].name, form.params[i].value};
    char url[512];
    snprintf(url, sizeof(url), "%s://%s%s", g.tls_cert ? "https" : "http", host ? host : "",
             req->path);
    char want[RP_BAIDU_SIGN_SIZE];
    rp_baidu_sign("POST", url, params, n, g.secret_key, want);
    const char *sign = rp_sms_form_get(&form, "sign");
    const char *apikey = rp_sms_form_get(&form, "apikey");
    const char *ts = rp_sms_form_get(&form, "timestamp");
    const char *dt = rp_sms_form_get(&form, "device_type");
    const char *channel = rp_sms_form_get(&form, "channel_id");
    const char *msg = rp_sms_form_get(&form, "msg");
    const char *mt = rp_sms_form_get(&form, "msg_type");
    const char *exp = rp_sms_form_get(&form, "msg_expires");
    long long now = (long long)time(NULL);
    json_t *msg_doc = msg ? json_loads(msg, 0, NULL) : NULL;
    long scripted =
        channel ? (long)json_integer_value(json_object_get(g.channel_errors, channel)) : 0;
    if (!ua || strncmp(ua, "BCCS_SDK/3.0", 12) != 0) {
        baidu_error(ans, 400, 30602, "Request Params Not Valid: user agent");
    } else if (!apikey || strcmp(apikey, g.api_key) != 0 || !sign || strcmp(sign, want) != 0) {
        g.bad_sign++;
        baidu_error(ans, 401, 30603, "Authentication Failed");
    } else if (!ts || llabs(now - strtoll(ts, NULL, 10)) > 600) {
        baidu_error(ans, 400, 30606, "Request Time Expires Timeout");
    } else if (!dt || (strcmp(dt, "3") != 0 && strcmp(dt, "4") != 0) || !channel || !*channel ||
               !mt || (strcmp(mt, "0") != 0 && strcmp(mt, "1") != 0) || !json_is_object(msg_doc) ||
               (exp && (atol(exp) < 1 || atol(exp) > 604800))) {
        baidu_error(ans, 400, 30602, "Request Params Not Valid");
    } else if (scripted) {
        baidu_error(ans, scripted == 30600 ? 500 : 400, scripted, code_message(scripted));
    } else if (g.error_next > 0) {
        g.error_next--;
        baidu_error(ans, (int)g.error_status, g.error_code, code_message(g.error_code));
        snprintf(ans->retry_after, sizeof(ans->retry_after), "%s", g.retry_after);
    } else {
        unsigned long long seq = psim_log_next(&g.log);
        g.accepted++;
        char id[32];
        snprintf(id, sizeof(id), "%llu", 7000000000000000000ULL + seq);
        psim_log_put(&g.log, json_pack("{s:I, s:s, s:s, s:O, s:s, s:s?}", "seq", (json_int_t)seq,
                                       "channel_id", channel, "device_type", dt, "msg", msg_doc,
                                       "msg_type", mt, "msg_expires", exp));
        psim_json(ans, 200,
                  json_pack("{s:I, s:{s:s, s:I}}", "request_id", (json_int_t)++g.request_seq,
                            "response_params", "msg_id", id, "send_time", (json_int_t)now));
    }
    json_decref(msg_doc);
    rp_sms_form_cleanup(&form);
}

static void defaults_locked(void)
{
    json_object_clear(g.channel_errors);
    g.error_next = 0;
    g.error_code = 30600;
    g.error_status = 500;
    snprintf(g.retry_after, sizeof(g.retry_after), "0");
}

static const char *config_apply_locked(const json_t *doc)
{
    if (!json_is_object(doc))
        return "body";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (strcmp(k, "error_next") == 0 && json_is_integer(v))
            g.error_next = (long)json_integer_value(v);
        else if (strcmp(k, "error_code") == 0 && json_is_integer(v))
            g.error_code = (long)json_integer_value(v);
        else if (strcmp(k, "error_status") == 0 && json_is_integer(v))
            g.error_status = (long)json_integer_value(v);
        else if (strcmp(k, "retry_after") == 0 && json_is_string(v))
            snprintf(g.retry_after, sizeof(g.retry_after), "%s", json_string_value(v));
        else if (strcmp(k, "channel_errors") == 0 && json_is_object(v)) {
            json_object_clear(g.channel_errors);
            json_object_update(g.channel_errors, v);
        } else
            return k;
    }
    return NULL;
}

static void control(const struct psim_req *req, struct psim_answer *ans)
{
    if (strcmp(req->path, "/sim/stats") == 0) {
        psim_json(ans, 200,
                  json_pack("{s:I, s:I, s:I, s:O, s:I}", "received", (json_int_t)g.received,
                            "accepted", (json_int_t)g.accepted, "bad_sign", (json_int_t)g.bad_sign,
                            "by_status", g.log.by_status, "last_seq", (json_int_t)g.log.seq));
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
    } else if (strcmp(req->path, "/sim/reset") == 0) {
        defaults_locked();
        json_object_clear(g.log.by_status);
        g.received = g.accepted = g.bad_sign = 0;
        psim_json(ans, 200, json_pack("{s:b}", "reset", 1));
    } else {
        psim_json(ans, 404, json_pack("{s:s}", "error", "no such control path"));
    }
}

static void baidu_sim_handle(const struct psim_req *req, struct psim_answer *ans)
{
    pthread_mutex_lock(&g.lock);
    if (strncmp(req->path, "/sim/", 5) == 0) {
        control(req, ans);
        pthread_mutex_unlock(&g.lock);
        return;
    }
    if (strcmp(req->path, "/rest/3.0/push/single_device") == 0 && strcmp(req->method, "POST") == 0)
        push_single_device(req, ans);
    else
        baidu_error(ans, 404, 30601, "Method Not Allowed");
    psim_log_count(&g.log, ans->status);
    pthread_mutex_unlock(&g.lock);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},       {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},    {"api-key", required_argument, NULL, 'a'},
        {"secret-key", required_argument, NULL, 's'}, {NULL, 0, NULL, 0},
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
        case 'a':
            g.api_key = optarg;
            break;
        case 's':
            g.secret_key = optarg;
            break;
        default:
            fprintf(stderr, "usage: baidu_sim --api-key K --secret-key S [--port N] "
                            "[--tls-cert F --tls-key F]\n");
            return 2;
        }
    }
    if (!g.api_key || !g.secret_key) {
        fprintf(stderr, "baidu_sim: --api-key and --secret-key are required\n");
        return 2;
    }
    pthread_mutex_init(&g.lock, NULL);
    g.channel_errors = json_object();
    psim_log_init(&g.log, g.max_records);
    defaults_locked();
    int status = psim_http_run("baidu_sim", g.port, g.tls_cert, g.tls_key, 2, baidu_sim_handle);
    psim_log_free(&g.log);
    json_decref(g.channel_errors);
    return status;
}
