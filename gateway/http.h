/* The HTTP API server: libmicrohttpd with a thread pool, Pinpoint-style responses and errors,
 * SigV4 authentication and per-key app scope, bounded bodies, and routing to the handlers
 * under gateway/api/. */
#ifndef RP_HTTP_H
#define RP_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "credentials.h"
#include "err.h"
#include "secrets.h"

struct rp_config;
struct MHD_Connection;

/* Process-wide state the handlers read; set up once by `repoint serve`, read-only after. */
struct rp_context {
    const struct rp_config *cfg;
    struct rp_secrets secrets;
    int auth_off;
    const char *region;           /* used in ARNs */
};

extern struct rp_context rp_ctx;

#define RP_MAX_PATH_PARAMS 4

struct rp_request;
typedef void (*rp_handler)(struct rp_request *req);

struct rp_route {
    const char *method;           /* "GET", "POST", "PUT", "DELETE" */
    const char *pattern;          /* "/v1/apps/{}/endpoints/{}": "{}" matches one segment */
    rp_handler handler;
    const char *operation;        /* Pinpoint operation id, for logs and metrics */
    unsigned flags;
};

#define RP_ROUTE_PUBLIC 1u        /* no authentication (health, readiness) */
#define RP_ROUTE_APP_SCOPED 2u    /* first path parameter is an application id: scope + existence */
#define RP_ROUTE_PROBE 4u         /* served by every role (health, readiness, metrics) */
#define RP_ROUTE_METRICS 8u       /* /metrics: follows metrics.listen */

/* The route table (gateway/api/routes.c). */
const struct rp_route *rp_routes(size_t *count);

struct rp_request {
    struct MHD_Connection *conn;
    unsigned listener_routes;     /* RP_LISTEN_* of the listener it came in on */
    char method[16];
    char *raw_path;               /* owned, as on the wire */
    char request_id[37];
    int64_t start_ms;

    char *body;                   /* owned, NUL-terminated, at most http.max_body_bytes */
    size_t body_len, body_cap;
    uint64_t body_seen;           /* bytes received, kept or not */
    int body_too_big;

    const struct rp_route *route;
    char *params[RP_MAX_PATH_PARAMS]; /* owned, percent-decoded */
    int n_params;
    const struct rp_credential *credential; /* NULL when auth.mode is off */

    int responded;
    /* Suspended requests (direct sends waiting for results): the answer is stored by another
     * thread, then the connection is resumed and the answer queued on the server's thread. */
    int suspended;
    int resume_status;
    char *resume_body; /* owned */
};

struct rp_http_conf {
    const char *host;
    int port;
    int threads;
    size_t max_body;
    int max_connections;
    int connection_timeout_s;
    const char *tls_cert_pem; /* certificate chain and key in PEM (borrowed for the call), or */
    const char *tls_key_pem;  /* NULL for plain HTTP */
    unsigned routes;          /* which routes this listener serves: RP_LISTEN_* */
};

#define RP_LISTEN_API 1u     /* the Pinpoint API and Repoint's own paths */
#define RP_LISTEN_PROBES 2u  /* health and readiness */
#define RP_LISTEN_METRICS 4u /* /metrics */
#define RP_LISTEN_SIDE 8u    /* the metrics.listen listener (for what its 404s say) */

/* Starts a listener (at most two: `listen` and `metrics.listen`); max_body is the first one's.
 * Returns 0 or an rp_rc. */
int rp_http_start(const struct rp_http_conf *conf);
/* Stops every listener. */
void rp_http_stop(void);

/* Responses. Each request gets exactly one; the first wins. */
/* Takes body (even on failure); NULL sends an empty JSON object. */
void rp_respond_json(struct rp_request *req, int status, json_t *body);
/* Takes body (malloc'd, len bytes) even on failure. */
void rp_respond_text(struct rp_request *req, int status, const char *content_type, char *body,
                     size_t len);
void rp_respond_error(struct rp_request *req, int status, const char *error_type,
                      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* 400 BadRequestException with "field: message". */
void rp_respond_bad_request(struct rp_request *req, const struct rp_err *err);
/* 404 NotFoundException naming the resource. */
void rp_respond_not_found(struct rp_request *req, const char *what);
/* The retryable 5xx for a store failure. */
void rp_respond_unavailable(struct rp_request *req);

/* Suspends the request without holding a thread; call only from the handler, which then returns
 * without answering. Someone must later call rp_request_resume exactly once. */
void rp_request_suspend(struct rp_request *req);
/* Answers a suspended request from any thread. Takes body. */
void rp_request_resume(struct rp_request *req, int status, json_t *body);

/* Parses the body as a JSON object. Returns a new reference, or NULL after answering 400. */
json_t *rp_request_json_object(struct rp_request *req);
/* Percent-decodes query parameter name into out; returns 1 when present, 0 when absent, -1
 * after answering 400 for one that is too long or malformed. */
int rp_request_query(struct rp_request *req, const char *name, char *out, size_t out_size);
/* 0 when the request's access key may use app; else answers 403 and returns -1 (for routes
 * that name the app elsewhere than in their first path parameter). */
int rp_request_allow_app(struct rp_request *req, const char *app);
/* The application id of an app-scoped route. */
static inline const char *rp_request_app(const struct rp_request *req)
{
    return req->params[0];
}

/* Routing, pure (exposed for tests and the fuzz target): returns the route and fills params
 * (new heap strings, owned by the caller) or returns NULL with *status 404 (no such path), 405
 * (path known, method not) or 400 (a segment does not decode). */
const struct rp_route *rp_http_find_route(const char *method, const char *raw_path,
                                          char **params, int *n_params, int *status);

/* Percent-decodes a path segment; returns new heap string or NULL when malformed. */
char *rp_http_percent_decode(const char *s, size_t len);

#endif
