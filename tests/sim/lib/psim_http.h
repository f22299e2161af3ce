/* Plumbing shared by the push simulators (fcm_sim, adm_sim, baidu_sim): an HTTP/1.1 server
 * (libmicrohttpd, TLS through GnuTLS) that hands each complete request, headers and body, to
 * one handler function and sends back the answer the handler filled. The handler runs on
 * libmicrohttpd's threads: simulators lock their own state. fcm_sim feeds the same request
 * shape from its HTTP/2 server, so one handler serves both protocols. */
#ifndef RP_PSIM_HTTP_H
#define RP_PSIM_HTTP_H

#include <stddef.h>

#define PSIM_MAX_HEADERS 48

struct psim_req {
    const char *method;
    const char *path;  /* without the query */
    const char *query; /* after '?', "" when none */
    const char *body;  /* NUL-terminated */
    size_t body_len;
    int http2;
    size_t nheaders;
    struct {
        const char *name, *value;
    } headers[PSIM_MAX_HEADERS];
};

struct psim_answer {
    int status;
    char *body;               /* owned, malloc'd; NULL for an empty body */
    const char *content_type; /* static; NULL means application/json */
    char retry_after[64];     /* "" for none */
};

typedef void (*psim_handler_fn)(const struct psim_req *req, struct psim_answer *ans);

/* The value of header name (case-insensitive), or NULL. */
const char *psim_header(const struct psim_req *req, const char *name);
/* The value of query argument name in req->query (not decoded), copied into out; 0 or -1. */
int psim_query_arg(const struct psim_req *req, const char *name, char *out, size_t size);
/* Sets ans to status with a JSON body (consumes doc). */
void psim_json(struct psim_answer *ans, int status, void *doc);

/* Blocks SIGTERM/SIGINT in every thread to come (call first) and ignores SIGPIPE. */
void psim_signals_block(void);
/* Waits for SIGTERM or SIGINT. */
void psim_signals_wait(void);

/* Starts an HTTP/1.1 server on 127.0.0.1:port (0: any), TLS when cert_file is given. Returns
 * the bound port, or -1 (message printed). */
int psim_http_start(int port, const char *cert_file, const char *key_file, unsigned threads,
                    psim_handler_fn handler);
void psim_http_stop(void);

#endif
