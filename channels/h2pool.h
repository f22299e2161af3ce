/* A provider-neutral HTTP/2 client: nghttp2 client sessions over OpenSSL (ALPN h2, certificate
 * and host verification) on a worker's libevent loop, in connection pools. One client serves one
 * origin (https://host[:port]) for one channel on one worker thread; its pools are keyed by
 * credential: a pool is what shares connections (APNs: one signing key, or one TLS client
 * certificate; FCM: every service account, since each request carries its own bearer token).
 *
 * Each pool keeps up to max_connections connections. A connection takes as many streams as the
 * server's SETTINGS_MAX_CONCURRENT_STREAMS allows; requests above every connection's limit wait
 * in the pool's queue, and the pool opens another connection while they wait. GOAWAY: streams
 * above last-stream-id go back to the queue and are sent on another connection. Idle
 * connections are PINGed and closed after idle_timeout. A failed connect (TCP, TLS, ALPN) fails
 * the waiting requests at once and holds new connects back with exponential backoff. A server
 * that does not select h2 through ALPN fails the connect with a message saying so (answer.no_h2
 * set): the client never speaks HTTP/1.1. Finished streams are closed by the server's
 * END_STREAM; the client resets (CANCEL) only a stream whose request's deadline passed.
 *
 * Requests are recycled slots inside the client: steady sending allocates nothing here. */
#ifndef RP_H2POOL_H
#define RP_H2POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rp_h2_client;
struct rp_h2_pool;

struct rp_h2_client_config {
    const char *url;       /* https://host[:port], borrowed for the client's life */
    const char *ca_file;   /* extra trusted CAs, NULL or "" for none */
    const char *name;      /* the channel type: metrics (repoint_provider_*) and logs */
    const char *component; /* static: the log component ("apns", "fcm") */
    const char *provider;  /* static: the provider in messages ("APNs", "FCM") */
    const char *id_header; /* a response header kept for the answer (e.g. "apns-id"), or NULL */
    size_t answer_max;     /* bytes of a response body kept; more is dropped */
    int max_connections;   /* per pool */
    int idle_timeout_s;
    int ping_interval_s;
    long timeout_ms; /* connect, the wait in the queue, and the wait for an answer */
};

struct rp_h2_header {
    const char *name; /* lower case, as HTTP/2 requires */
    const char *value;
};

/* An answer, borrowed for the done callback only. */
struct rp_h2_answer {
    int status;                  /* HTTP status; 0 when the stream or connection failed */
    const char *transport_error; /* with status 0: what failed */
    bool no_h2;                  /* with status 0: the server refused HTTP/2 in ALPN */
    const char *id;              /* the config's id_header, or NULL */
    const char *retry_after;     /* the Retry-After header, or NULL */
    const char *body;            /* NUL-terminated, at most answer_max bytes */
    size_t body_len;
    unsigned auth_gen; /* the pool authorizer's generation the request went out with */
};

enum rp_h2_next {
    RP_H2_DONE,   /* the request is finished: its slot is recycled */
    RP_H2_RESEND, /* send it again (re-authorized), ahead of the queue */
};

/* Called once per answer on the loop thread, possibly before rp_h2_send returns and possibly
 * from inside another request's completion. */
typedef enum rp_h2_next (*rp_h2_done_fn)(void *arg, const struct rp_h2_answer *answer);

/* Everything is borrowed until done returns RP_H2_DONE (the request may wait in the queue and be
 * sent more than once). At most RP_H2_MAX_HEADERS headers besides the pseudo-headers and the
 * authorizer's. */
#define RP_H2_MAX_HEADERS 8
struct rp_h2_request {
    const char *method;
    const char *path;
    const struct rp_h2_header *headers;
    size_t n_headers;
    const char *body;
    size_t body_len;
    int64_t deadline_ms; /* rp_mono_ms() time by which the answer must be in; 0: none but the
                          * client's timeout_ms. Past it the request completes with status 0
                          * (its stream is cancelled). */
    rp_h2_done_fn done;
    void *arg;
};

/* A pool's per-send authorization (e.g. an APNs provider token): writes the authorization
 * header's value into out and the credential's generation into *gen. Returns -1 when the
 * credential cannot be used (after rp_h2_pool_set_broken). */
typedef int (*rp_h2_authorize_fn)(void *user, char *out, size_t size, unsigned *gen);

struct rp_h2_pool_config {
    const char *cert_pem; /* TLS client certificate chain and key, or NULL for none */
    const char *key_pem;
    rp_h2_authorize_fn authorize; /* or NULL */
    void *user;                   /* the owner's state, freed with user_free with the pool */
    void (*user_free)(void *user);
};

/* Returns NULL (logged) when the URL is not https://host[:port] or TLS cannot be set up. */
struct rp_h2_client *rp_h2_client_new(struct event_base *base,
                                      const struct rp_h2_client_config *cfg);
/* Completes every request still queued or in flight (status 0) and frees the pools. */
void rp_h2_client_free(struct rp_h2_client *client);
const struct rp_h2_client_config *rp_h2_client_config(const struct rp_h2_client *client);

/* The pool whose user state match accepts, or NULL. Pools unused for idle_timeout without
 * connections are freed by the client, so pools are looked up, never kept. */
struct rp_h2_pool *rp_h2_pool_find(struct rp_h2_client *client,
                                   bool (*match)(const void *user, const void *arg),
                                   const void *arg);
/* A new pool. A client certificate that cannot be used marks it broken. */
struct rp_h2_pool *rp_h2_pool_new(struct rp_h2_client *client, const struct rp_h2_pool_config *pc);
/* Every send on a broken pool fails at once with why; "" or NULL: none. */
const char *rp_h2_pool_broken(const struct rp_h2_pool *pool);
void rp_h2_pool_set_broken(struct rp_h2_pool *pool, const char *why);
void *rp_h2_pool_user(const struct rp_h2_pool *pool);

/* Queues req on pool and sends it as soon as a stream is free. Its done callback runs exactly
 * once with RP_H2_DONE's answer (and once more per RP_H2_RESEND). */
void rp_h2_send(struct rp_h2_pool *pool, const struct rp_h2_request *req);

#endif
