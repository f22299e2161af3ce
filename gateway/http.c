#include "http.h"
#include "metrics.h"
#include "config.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "sigv4.h"
#include "store.h"
#include "util.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rp_context rp_ctx;

/* `listen`, and `metrics.listen` when set. Each carries its RP_LISTEN_* set as MHD's cls. */
#define MAX_LISTENERS 2
static struct MHD_Daemon *listeners[MAX_LISTENERS];
static unsigned listener_routes[MAX_LISTENERS];
static int n_listeners;
static size_t max_body_bytes;

/* A body past the limit is read and thrown away, so the client sees the 413 instead of a reset
 * connection; past this many bytes we stop reading and let the connection close. */
#define DISCARD_LIMIT_BYTES (64u << 20)
#define MAX_HEADERS 128
#define MAX_QUERY 64

/* libmicrohttpd would percent-decode the path and query before we see them; SigV4 needs them as
 * the client sent them, so decoding is ours (rp_http_percent_decode). */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    return strlen(s);
}

char *rp_http_percent_decode(const char *s, size_t len)
{
    char *out = rp_malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            out[n++] = s[i];
            continue;
        }
        int hi = i + 2 < len ? rp_hexval((unsigned char)s[i + 1]) : -1;
        int lo = i + 2 < len ? rp_hexval((unsigned char)s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            free(out);
            return NULL;
        }
        out[n++] = (char)(hi << 4 | lo);
        i += 2;
    }
    out[n] = '\0';
    return out;
}

static void free_request(struct rp_request *req)
{
    free(req->resume_body);
    free(req->raw_path);
    free(req->body);
    for (int i = 0; i < req->n_params; i++)
        free(req->params[i]);
    free(req);
}

static void queue_typed(struct rp_request *req, int status, char *body, size_t len,
                        const char *error_type, const char *content_type)
{
    if (req->responded) {
        free(body);
        return;
    }
    req->responded = 1;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return;
    }
    MHD_add_response_header(resp, "Content-Type", content_type);
    MHD_add_response_header(resp, "x-amzn-RequestId", req->request_id);
    if (error_type)
        MHD_add_response_header(resp, "x-amzn-ErrorType", error_type);
    if (status == 500 || status == 503)
        MHD_add_response_header(resp, "Retry-After", "1");
    MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    size_t n_routes;
    int route_index = req->route ? (int)(req->route - rp_routes(&n_routes)) : -1;
    rp_metrics_api_request(route_index, status, (double)(rp_mono_ms() - req->start_ms) / 1000.0);
    int level = status >= 500 ? RP_LOG_WARN : RP_LOG_DEBUG;
    rp_log(level, "http", "%s %s op=%s status=%d ms=%lld", req->method,
           req->route ? req->route->pattern : "-", req->route ? req->route->operation : "-",
           status, (long long)(rp_mono_ms() - req->start_ms));
}

static void queue(struct rp_request *req, int status, char *body, size_t len,
                  const char *error_type)
{
    queue_typed(req, status, body, len, error_type, "application/json");
}

void rp_respond_text(struct rp_request *req, int status, const char *content_type, char *body,
                     size_t len)
{
    queue_typed(req, status, body, len, NULL, content_type);
}

void rp_respond_json(struct rp_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body)
        json_decref(body);
    if (!text)
        text = rp_strdup("{}");
    queue(req, status, text, strlen(text), NULL);
}

void rp_respond_error(struct rp_request *req, int status, const char *error_type, const char *fmt,
                      ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *body = json_pack("{s:s, s:s}", "Message", msg, "RequestID", req->request_id);
    if (!body) {
        /* Not valid UTF-8 (a message quoting client bytes): keep the ASCII, mark the rest. */
        for (char *p = msg; *p; p++)
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        body = json_pack("{s:s, s:s}", "Message", msg, "RequestID", req->request_id);
    }
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        rp_panic("out of memory building an error");
    if (status >= 500)
        rp_warn("http", "%s: %s", error_type, msg);
    queue(req, status, text, strlen(text), error_type);
}

void rp_respond_bad_request(struct rp_request *req, const struct rp_err *err)
{
    if (err->field[0])
        rp_respond_error(req, 400, "BadRequestException", "%s: %s", err->field, err->msg);
    else
        rp_respond_error(req, 400, "BadRequestException", "%s", err->msg);
}

void rp_respond_not_found(struct rp_request *req, const char *what)
{
    rp_respond_error(req, 404, "NotFoundException", "Resource not found: %s", what);
}

void rp_respond_unavailable(struct rp_request *req)
{
    rp_respond_error(req, 500, "InternalServerErrorException",
                     "Repoint's store is unavailable; retry the request");
}

/* Requests suspended and not yet taken back by MHD: MHD_stop_daemon aborts the process while
 * any connection is still suspended, and a resume is only taken back by MHD's own thread. */
static atomic_int suspended_count;

void rp_request_suspend(struct rp_request *req)
{
    atomic_fetch_add(&suspended_count, 1);
    req->suspended = 1;
    MHD_suspend_connection(req->conn);
}

void rp_request_resume(struct rp_request *req, int status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    req->resume_body = text ? text : rp_strdup("{}");
    req->resume_status = status;
    MHD_resume_connection(req->conn);
}

json_t *rp_request_json_object(struct rp_request *req)
{
    if (req->body_len == 0) {
        rp_respond_error(req, 400, "BadRequestException", "The request body is empty");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        rp_respond_error(req, 400, "BadRequestException",
                         "The request body is not valid JSON (line %d, column %d): %s", jerr.line,
                         jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        rp_respond_error(req, 400, "BadRequestException", "The request body must be a JSON object");
        return NULL;
    }
    return doc;
}

int rp_request_query(struct rp_request *req, const char *name, char *out, size_t out_size)
{
    const char *raw = MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
    if (!raw)
        return 0;
    char *decoded = rp_http_percent_decode(raw, strlen(raw));
    if (!decoded || strlen(decoded) >= out_size) {
        free(decoded);
        rp_respond_error(req, 400, "BadRequestException", "%s: malformed or too long", name);
        return -1;
    }
    strcpy(out, decoded);
    free(decoded);
    return 1;
}

/* Matches pattern against the raw path; on success fills the decoded parameters (owned by the
 * caller). Returns 1 on a match, 0 on none, -1 when a segment matched but does not decode. */
static int match_route(const char *pattern, const char *path, char **params, int *n_params)
{
    int n = 0;
    const char *p = pattern, *s = path;
    while (*p && *s) {
        if (p[0] == '{' && p[1] == '}') {
            const char *end = strchr(s, '/');
            size_t len = end ? (size_t)(end - s) : strlen(s);
            if (len == 0 || n == RP_MAX_PATH_PARAMS)
                goto nomatch;
            char *decoded = rp_http_percent_decode(s, len);
            if (!decoded) {
                for (int i = 0; i < n; i++)
                    free(params[i]);
                return -1;
            }
            params[n++] = decoded;
            s += len;
            p += 2;
        } else if (*p == *s) {
            p++;
            s++;
        } else {
            goto nomatch;
        }
    }
    if (*p || (*s && strcmp(s, "/") != 0))
        goto nomatch;
    *n_params = n;
    return 1;
nomatch:
    for (int i = 0; i < n; i++)
        free(params[i]);
    return 0;
}

const struct rp_route *rp_http_find_route(const char *method, const char *raw_path,
                                          char **params, int *n_params, int *status)
{
    size_t count;
    const struct rp_route *routes = rp_routes(&count);
    int path_known = 0;
    *n_params = 0;
    for (size_t i = 0; i < count; i++) {
        char *found[RP_MAX_PATH_PARAMS];
        int n = 0;
        int m = match_route(routes[i].pattern, raw_path, found, &n);
        if (m < 0) {
            *status = 400;
            return NULL;
        }
        if (m == 0)
            continue;
        if (strcmp(routes[i].method, method) != 0) {
            path_known = 1;
            for (int j = 0; j < n; j++)
                free(found[j]);
            continue;
        }
        memcpy(params, found, (size_t)n * sizeof(char *));
        *n_params = n;
        *status = 200;
        return &routes[i];
    }
    *status = path_known ? 405 : 404;
    return NULL;
}

/* 1 when the listener the request came in on serves route; otherwise answers 404 saying where
 * the route is served, and returns 0. */
static int served_here(struct rp_request *req, const struct rp_route *route)
{
    unsigned needs = route->flags & RP_ROUTE_METRICS ? RP_LISTEN_METRICS
                     : route->flags & RP_ROUTE_PROBE ? RP_LISTEN_PROBES
                                                     : RP_LISTEN_API;
    if (req->listener_routes & needs)
        return 1;
    if (needs == RP_LISTEN_METRICS)
        rp_respond_error(req, 404, "NotFoundException", "/metrics is served on metrics.listen");
    else if (req->listener_routes & RP_LISTEN_SIDE)
        rp_respond_error(req, 404, "NotFoundException",
                         "This listener serves only /metrics, /repoint/health and "
                         "/repoint/ready");
    else
        rp_respond_error(req, 404, "NotFoundException",
                         "This process runs the workers role only: send API requests to an "
                         "instance with the api role");
    return 0;
}

/* Finds the route; answers 404/405/400 itself and returns NULL when there is none. */
static const struct rp_route *route_request(struct rp_request *req)
{
    int status;
    const struct rp_route *route =
        rp_http_find_route(req->method, req->raw_path, req->params, &req->n_params, &status);
    if (route)
        return served_here(req, route) ? route : NULL;
    if (status == 400)
        rp_respond_error(req, 400, "BadRequestException", "The path is not validly encoded");
    else if (status == 405)
        rp_respond_error(req, 405, "MethodNotAllowedException",
                         "Method %s is not allowed on this resource", req->method);
    else
        rp_respond_error(req, 404, "NotFoundException",
                         "No such resource or operation: %s %.200s", req->method, req->raw_path);
    return NULL;
}

struct header_list {
    struct rp_kv items[MAX_HEADERS];
    size_t n;
    int overflow;
};

static enum MHD_Result collect_kv(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    struct header_list *list = cls;
    if (list->n == MAX_HEADERS) {
        list->overflow = 1;
        return MHD_NO;
    }
    list->items[list->n].name = key;
    list->items[list->n].value = value;
    list->n++;
    return MHD_YES;
}

/* ctx: the credential set the request authenticates against, taken once so that a reload in
 * the middle cannot make the signature check and the scope check see different sets. */
static const char *secret_for(void *ctx, const char *access_key_id)
{
    const struct rp_credential *c = rp_credentials_find(ctx, access_key_id);
    return c ? c->secret : NULL;
}

/* Authenticates with SigV4; answers 403 itself and returns -1 on failure. */
static int authenticate(struct rp_request *req)
{
    struct header_list headers = {.n = 0}, query = {.n = 0};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, collect_kv, &headers);
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_kv, &query);
    if (headers.overflow || query.overflow) {
        rp_respond_error(req, 400, "BadRequestException", "Too many headers or query parameters");
        return -1;
    }
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)(req->body ? req->body : ""), req->body_len, digest);
    char payload_hash[65];
    rp_hex(digest, sizeof(digest), payload_hash);
    struct rp_sigv4_request sreq = {
        .method = req->method,
        .raw_path = req->raw_path,
        .query = query.items,
        .n_query = query.n,
        .headers = headers.items,
        .n_headers = headers.n,
        .payload_sha256 = payload_hash,
    };
    struct rp_sigv4_policy policy = {
        .service = "mobiletargeting",
        .region = rp_config_str(rp_ctx.cfg, "auth.region"),
        .max_skew_seconds = (int)rp_config_int(rp_ctx.cfg, "auth.max_skew_seconds"),
    };
    char access_key[129];
    struct rp_err err;
    rp_err_clear(&err);
    const struct rp_credentials *keys = rp_credentials_current();
    if (!keys || rp_sigv4_verify(&sreq, &policy, time(NULL), secret_for, (void *)keys,
                                 access_key, &err)) {
        rp_respond_error(req, 403, "ForbiddenException", "%s",
                         err.msg[0] ? err.msg : "Request signature verification failed");
        return -1;
    }
    req->credential = rp_credentials_find(keys, access_key);
    return 0;
}

int rp_request_allow_app(struct rp_request *req, const char *app)
{
    if (req->credential && !rp_credential_allows_app(req->credential, app)) {
        rp_respond_error(req, 403, "ForbiddenException",
                         "The access key is not authorized for application %.64s", app);
        return -1;
    }
    return 0;
}

/* App-scoped routes: the key must be allowed the app (403) and the app must exist (404). */
static int check_app(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    if (rp_request_allow_app(req, app))
        return -1;
    if (strlen(app) > 64) {
        rp_respond_not_found(req, "application");
        return -1;
    }
    char key[RP_KEY_MAX];
    rp_key_app(key, app);
    redisReply *r = rp_store_command("EXISTS %s", key);
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        rp_respond_unavailable(req);
        return -1;
    }
    long long exists = r->integer;
    freeReplyObject(r);
    if (!exists) {
        rp_respond_error(req, 404, "NotFoundException", "Application %.64s not found", app);
        return -1;
    }
    return 0;
}

static void dispatch(struct rp_request *req)
{
    rp_log_set_request_id(req->request_id);
    if (req->body_too_big) {
        rp_respond_error(req, 413, "PayloadTooLargeException",
                         "The request body exceeds the limit of %zu bytes", max_body_bytes);
        goto out;
    }
    req->route = route_request(req);
    if (!req->route)
        goto out;
    if (!(req->route->flags & RP_ROUTE_PUBLIC) && !rp_ctx.auth_off && authenticate(req))
        goto out;
    if ((req->route->flags & RP_ROUTE_APP_SCOPED) && check_app(req))
        goto out;
    req->route->handler(req);
    if (!req->responded && !req->suspended)
        rp_respond_error(req, 500, "InternalServerErrorException", "The handler gave no answer");
out:
    rp_log_set_request_id(NULL);
}

static int append_body(struct rp_request *req, const char *data, size_t len)
{
    req->body_seen += len;
    if (req->body_too_big || req->body_len + len > max_body_bytes) {
        if (!req->body_too_big) {
            req->body_too_big = 1;
            free(req->body);
            req->body = NULL;
            req->body_len = req->body_cap = 0;
        }
        return req->body_seen > DISCARD_LIMIT_BYTES ? -1 : 0;
    }
    if (req->body_len + len + 1 > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len + 1)
            cap *= 2;
        if (cap > max_body_bytes + 1)
            cap = max_body_bytes + 1;
        req->body = rp_realloc(req->body, cap);
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
    return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct rp_request *req = *con_cls;
    if (!req) {
        req = rp_calloc(1, sizeof(*req));
        req->conn = conn;
        req->listener_routes = *(const unsigned *)cls;
        req->start_ms = rp_mono_ms();
        snprintf(req->method, sizeof(req->method), "%s", method);
        req->raw_path = rp_strdup(url);
        rp_uuid_new(req->request_id);
        *con_cls = req;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > max_body_bytes) {
            req->body_too_big = 1;
            /* Past the discard limit there is no point reading: answer now and close. */
            if (strtoull(cl, NULL, 10) > DISCARD_LIMIT_BYTES) {
                dispatch(req);
                return MHD_YES;
            }
        }
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!req->responded && append_body(req, upload_data, *upload_data_size) < 0)
            dispatch(req);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->suspended) {
        if (req->suspended == 1) {
            req->suspended = 2;
            atomic_fetch_sub(&suspended_count, 1);
        }
        /* Resumed: the answer was stored by the thread that completed the request. */
        if (req->resume_body && !req->responded) {
            char *body = req->resume_body;
            req->resume_body = NULL;
            rp_log_set_request_id(req->request_id);
            queue(req, req->resume_status, body, strlen(body), NULL);
            rp_log_set_request_id(NULL);
        }
        return MHD_YES;
    }
    if (!req->responded)
        dispatch(req);
    return MHD_YES;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct rp_request *req = *con_cls;
    if (req && req->suspended == 1)
        atomic_fetch_sub(&suspended_count, 1); /* the client left while it waited */
    if (req)
        free_request(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t len = strlen(msg);
    while (len && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
        msg[--len] = '\0';
    rp_warn("httpd", "%s", msg);
}

int rp_http_start(const struct rp_http_conf *conf)
{
    if (n_listeners == MAX_LISTENERS)
        return RP_EINVAL;
    if (n_listeners == 0)
        max_body_bytes = conf->max_body;
    listener_routes[n_listeners] = conf->routes;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *ai = NULL;
    char port_s[8];
    snprintf(port_s, sizeof(port_s), "%d", conf->port);
    int gai = getaddrinfo(conf->host, port_s, &hints, &ai);
    if (gai || !ai) {
        rp_error("http", "cannot resolve listen address %s: %s", conf->host, gai_strerror(gai));
        return RP_EINVAL;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    /* MHD refuses the certificate options on a plain listener, so they go in only with TLS. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)conf->tls_cert_pem},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)conf->tls_key_pem},
        {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:"
                                                 "+VERS-TLS1.2:%SERVER_PRECEDENCE"},
        {MHD_OPTION_END, 0, NULL},
    };
    if (conf->tls_cert_pem)
        flags |= MHD_USE_TLS;
    else
        tls[0].option = MHD_OPTION_END;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)conf->port, NULL, NULL, on_request, &listener_routes[n_listeners],
        MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)conf->threads, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
        MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)conf->max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)conf->connection_timeout_s, MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024u,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024), MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!d) {
        rp_error("http", "cannot listen on %s:%d%s", conf->host, conf->port,
                 conf->tls_cert_pem ? " (or the TLS certificate and key do not load)" : "");
        return RP_EIO;
    }
    listeners[n_listeners++] = d;
    return 0;
}

void rp_http_stop(void)
{
    if (n_listeners == 0)
        return;
    /* Every waiting request has been resumed (rp_direct_stop); let MHD take them back. */
    for (int i = 0; i < 500 && atomic_load(&suspended_count) > 0; i++)
        usleep(10 * 1000);
    if (atomic_load(&suspended_count) > 0) {
        /* MHD_stop_daemon would abort the process: leave the listeners to the exit. */
        rp_warn("http", "%d requests still suspended after 5 s; not stopping the listener",
                atomic_load(&suspended_count));
        n_listeners = 0;
        return;
    }
    while (n_listeners > 0)
        MHD_stop_daemon(listeners[--n_listeners]);
}
