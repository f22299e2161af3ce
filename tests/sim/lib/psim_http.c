/* The push simulators' HTTP/1.1 server (see psim_http.h). */
#include "psim_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

#define PSIM_MAX_UPLOAD ((size_t)1 << 20)

static struct MHD_Daemon *daemon_;
static psim_handler_fn handler_;
static char *cert_, *key_;

struct conn_req {
    char *body;
    size_t len;
    int too_big;
};

const char *psim_header(const struct psim_req *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

int psim_query_arg(const struct psim_req *req, const char *name, char *out, size_t size)
{
    size_t nlen = strlen(name);
    for (const char *p = req->query; p && *p;) {
        const char *amp = strchr(p, '&'), *end = amp ? amp : p + strlen(p);
        if ((size_t)(end - p) > nlen && strncmp(p, name, nlen) == 0 && p[nlen] == '=') {
            snprintf(out, size, "%.*s", (int)(end - p - (long)nlen - 1), p + nlen + 1);
            return 0;
        }
        p = amp ? amp + 1 : NULL;
    }
    return -1;
}

void psim_json(struct psim_answer *ans, int status, void *doc)
{
    ans->status = status;
    free(ans->body);
    ans->body = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
}

void psim_log_init(struct psim_log *log, size_t cap)
{
    log->ring = rp_calloc(cap, sizeof(json_t *));
    log->cap = cap;
    log->seq = 0;
    log->by_status = json_object();
    log->texts = rp_calloc(cap, sizeof(*log->texts));
    log->make_record = NULL;
}

void psim_log_free(struct psim_log *log)
{
    for (size_t i = 0; i < log->cap; i++) {
        json_decref(log->ring[i]);
        free(log->texts[i].text);
    }
    free(log->ring);
    free(log->texts);
    json_decref(log->by_status);
}

unsigned long long psim_log_next(struct psim_log *log)
{
    return ++log->seq;
}

void psim_log_put(struct psim_log *log, json_t *rec)
{
    size_t slot = (size_t)(log->seq % log->cap);
    json_decref(log->ring[slot]);
    log->ring[slot] = rec;
    log->texts[slot].len = 0;
}

void psim_log_put_text(struct psim_log *log, const char *text, size_t len, int tag)
{
    size_t slot = (size_t)(log->seq % log->cap);
    struct psim_log_text *t = &log->texts[slot];
    json_decref(log->ring[slot]);
    log->ring[slot] = NULL;
    if (len > t->size) {
        t->size = len;
        t->text = rp_realloc(t->text, len);
    }
    memcpy(t->text, text, len);
    t->len = len;
    t->tag = tag;
}

void psim_log_messages(const struct psim_log *log, const struct psim_req *req,
                       struct psim_answer *ans)
{
    char since_s[32] = "0";
    psim_query_arg(req, "since", since_s, sizeof(since_s));
    unsigned long long since = strtoull(since_s, NULL, 10);
    unsigned long long oldest = log->seq >= log->cap ? log->seq - log->cap + 1 : 1;
    json_t *list = json_array();
    for (unsigned long long s = since + 1 > oldest ? since + 1 : oldest; s <= log->seq; s++) {
        const struct psim_log_text *t = &log->texts[s % log->cap];
        if (log->ring[s % log->cap])
            json_array_append(list, log->ring[s % log->cap]);
        else if (t->len > 0 && log->make_record)
            json_array_append_new(list, log->make_record(s, t->text, t->len, t->tag));
    }
    psim_json(ans, 200, json_pack("{s:o, s:I}", "messages", list, "last_seq", (json_int_t)log->seq));
}

/* Counted in place: after the first answer with a status, the next cost no allocation. */
void psim_log_count(struct psim_log *log, int status)
{
    char st[16];
    if (status >= 100 && status <= 999) {
        st[0] = (char)('0' + status / 100);
        st[1] = (char)('0' + status / 10 % 10);
        st[2] = (char)('0' + status % 10);
        st[3] = '\0';
    } else {
        snprintf(st, sizeof(st), "%d", status);
    }
    json_t *n = json_object_get(log->by_status, st);
    if (n)
        json_integer_set(n, json_integer_value(n) + 1);
    else
        json_object_set_new(log->by_status, st, json_integer(1));
}

void psim_token_issue(json_t *tokens, const char *prefix, unsigned long long seq, long long ttl_s,
                      char *out, size_t size)
{
    unsigned char rnd[8];
    char hex[2 * sizeof(rnd) + 1];
    rp_random_bytes(rnd, sizeof(rnd));
    rp_hex(rnd, sizeof(rnd), hex);
    snprintf(out, size, "%s%llu-%s", prefix, seq, hex);
    json_object_set_new(tokens, out, json_integer(rp_now_ms() + ttl_s * 1000));
}

int psim_bearer_valid(const json_t *tokens, const char *authorization)
{
    if (!authorization || strncmp(authorization, "Bearer ", 7) != 0)
        return 0;
    const json_t *exp = json_object_get(tokens, authorization + 7);
    return exp && json_integer_value(exp) > rp_now_ms();
}

void psim_signals_block(void)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
}

void psim_signals_wait(void)
{
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    int sig = 0;
    sigwait(&sigs, &sig);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                      const char *value)
{
    struct psim_req *r = cls;
    if (r->nheaders < PSIM_MAX_HEADERS) {
        r->headers[r->nheaders].name = key;
        r->headers[r->nheaders].value = value ? value : "";
        r->nheaders++;
    }
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct conn_req *c = *con_cls;
    if (!c) {
        *con_cls = rp_calloc(1, sizeof(*c));
        return MHD_YES;
    }
    if (*upload_size) {
        if (c->len + *upload_size > PSIM_MAX_UPLOAD) {
            c->too_big = 1;
        } else {
            c->body = rp_realloc(c->body, c->len + *upload_size + 1);
            memcpy(c->body + c->len, upload, *upload_size);
            c->len += *upload_size;
            c->body[c->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    struct psim_req req;
    memset(&req, 0, sizeof(req));
    req.method = method;
    req.path = url;
    /* MHD hands the path without the query; rebuild the raw query from the arguments. */
    char query[2048] = "";
    size_t qn = 0;
    req.query = query;
    req.body = c->body ? c->body : "";
    req.body_len = c->len;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, &req);
    struct psim_req args;
    memset(&args, 0, sizeof(args));
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, collect_header, &args);
    for (size_t i = 0; i < args.nheaders; i++) {
        int w = snprintf(query + qn, sizeof(query) - qn, "%s%s=%s", qn ? "&" : "",
                         args.headers[i].name, args.headers[i].value);
        if (w < 0 || (size_t)w >= sizeof(query) - qn)
            break;
        qn += (size_t)w;
    }
    struct psim_answer ans;
    memset(&ans, 0, sizeof(ans));
    if (c->too_big) {
        ans.status = 413;
        ans.body = rp_strdup("{\"error\":\"request body too large\"}");
    } else {
        handler_(&req, &ans);
    }
    const char *body = ans.body ? ans.body : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    free(ans.body);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type",
                            ans.content_type ? ans.content_type
                                             : "application/json; charset=UTF-8");
    if (ans.retry_after[0])
        MHD_add_response_header(resp, "Retry-After", ans.retry_after);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)ans.status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct conn_req *c = *con_cls;
    if (!c)
        return;
    free(c->body);
    free(c);
    *con_cls = NULL;
}

int psim_http_start(int port, const char *cert_file, const char *key_file, unsigned threads,
                    psim_handler_fn handler)
{
    handler_ = handler;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (cert_file) {
        cert_ = rp_read_file(cert_file, 1 << 20, NULL);
        key_ = rp_read_file(key_file, 1 << 20, NULL);
        if (!cert_ || !key_) {
            fprintf(stderr, "psim: cannot read %s or %s: %s\n", cert_file, key_file,
                    strerror(errno));
            return -1;
        }
        flags |= MHD_USE_TLS;
    }
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, cert_},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, key_},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!cert_file)
        tls[0].option = MHD_OPTION_END;
    daemon_ = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, threads ? threads : 2u, MHD_OPTION_CONNECTION_LIMIT, 16000u,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!daemon_) {
        fprintf(stderr, "psim: cannot listen on 127.0.0.1:%d\n", port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT);
    return info ? (int)info->port : port;
}

void psim_http_stop(void)
{
    if (daemon_)
        MHD_stop_daemon(daemon_);
    daemon_ = NULL;
    free(cert_);
    free(key_);
    cert_ = key_ = NULL;
}

int psim_http_run(const char *name, int port, const char *cert_file, const char *key_file,
                  unsigned threads, psim_handler_fn handler)
{
    psim_signals_block();
    int bound = psim_http_start(port, cert_file, key_file, threads, handler);
    if (bound < 0)
        return 1;
    printf("%s listening on %s://127.0.0.1:%d\n", name, cert_file ? "https" : "http", bound);
    fflush(stdout);
    psim_signals_wait();
    psim_http_stop();
    return 0;
}
