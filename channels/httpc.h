/* An HTTP client on a worker's libevent loop: libcurl's multi-socket interface driven by
 * libevent, so one thread keeps many provider requests in flight, reuses connections, and
 * multiplexes over HTTP/2 where the server offers it. Shared by the HTTP-based channels (SMS,
 * FCM, ADM, Baidu), OAuth token refreshes and webhooks. TLS verification is always on; extra CAs
 * come from `tls.ca_file`. */
#ifndef RP_HTTPC_H
#define RP_HTTPC_H

#include <stddef.h>

struct event_base;
struct rp_httpc;

struct rp_httpc_response {
    int transport_error;      /* 0, or a CURLcode: connection refused, timeout, TLS failure ... */
    char error[256];          /* curl's message when transport_error != 0 */
    long status;              /* HTTP status, 0 when there was no answer */
    const char *body;         /* NUL-terminated, borrowed for the callback's duration */
    size_t body_len;
    const char *retry_after;  /* the Retry-After header value, or NULL */
    const char *content_type; /* or NULL */
    double total_seconds;     /* time from send to the last byte */
};

typedef void (*rp_httpc_done_fn)(void *arg, const struct rp_httpc_response *response);

struct rp_httpc_request {
    const char *method;        /* "POST", "GET", ... */
    const char *url;
    const char *const *headers; /* "Name: value" strings, NULL-terminated array, or NULL */
    const char *body;          /* may be NULL */
    size_t body_len;
    const char *basic_auth;    /* "user:password" or NULL */
    long timeout_ms;           /* whole-request timeout */
    rp_httpc_done_fn done;     /* called exactly once, on the loop thread */
    void *arg;
};

/* Creates a client on base (borrowed; must outlive the client). ca_file may be NULL or "".
 * Returns NULL when curl cannot be set up. */
struct rp_httpc *rp_httpc_new(struct event_base *base, const char *ca_file);
/* Cancels requests still in flight (their callbacks run with transport_error set) and frees. */
void rp_httpc_free(struct rp_httpc *client);
/* Starts a request; everything in req is copied, so it may live on the caller's stack. Returns
 * 0, or an rp_rc when the request cannot even start (the callback is then not called). */
int rp_httpc_send(struct rp_httpc *client, const struct rp_httpc_request *req);
/* Counts the client's open connections and requests in flight in /metrics
 * (repoint_provider_connections and repoint_provider_streams) under channel, a static
 * ChannelType. Set before the first request. */
void rp_httpc_set_metrics_channel(struct rp_httpc *client, const char *channel);
/* Requests in flight (for in-flight limits and metrics). */
size_t rp_httpc_in_flight(const struct rp_httpc *client);

/* Parses a Retry-After value (delay-seconds or an HTTP-date) into milliseconds from now_ms;
 * returns -1 when absent or malformed. */
long long rp_httpc_retry_after_ms(const char *value, long long now_ms);

#endif
