/* The provider-neutral HTTP/2 client and its connection pools (see h2pool.h for the behaviour).
 * Bytes travel through libevent's OpenSSL bufferevents; nghttp2 frames them. Nothing here
 * blocks: DNS goes through evdns, timers are libevent timers on the worker's loop. What a
 * provider adds (tokens, headers, the meaning of answers) stays with its channel.
 *
 * A request is in exactly one place at a time: a pool's queue, a connection's in-flight list,
 * or the client's free list (slots are recycled, so steady sending allocates nothing here). It
 * completes exactly once per send, through complete(). */
#include "h2pool.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../gateway/log.h"
#include "../gateway/metrics.h"
#include "../gateway/util.h"
#include "keys.h"

#define BACKOFF_BASE_MS 250
#define BACKOFF_MAX_MS  30000
/* Frames queued for the socket before nghttp2 is asked for more. */
#define OUTPUT_HIGH_WATER ((size_t)256 * 1024)
/* Times one request may be refused (GOAWAY, REFUSED_STREAM) and sent again. */
#define MAX_REQUEUES 8
/* Room for an authorization header value (a JWT, an OAuth bearer token). */
#define AUTH_MAX 4096

struct conn;

struct req {
    struct req *prev, *next;
    struct rp_h2_request rq;
    struct rp_h2_pool *pool;
    struct conn *conn;
    int32_t stream_id;
    bool sent; /* HEADERS went out: the server may have acted on it */
    size_t body_off;
    int status;
    char id[64];
    char retry_after[64];
    unsigned auth_gen;
    int requeues;     /* refused or never sent: sent again on another stream */
    int64_t since_ms; /* queued, or sent */
    size_t answer_len;
    char answer[]; /* answer_max + 1 bytes, NUL-terminated */
};

struct list {
    struct req *head, *tail;
    size_t n;
};

enum conn_state { CONN_CONNECTING, CONN_HANDSHAKEN, CONN_READY, CONN_DRAINING };

struct conn {
    struct conn *prev, *next;
    struct rp_h2_pool *pool;
    struct bufferevent *bev;
    nghttp2_session *session;
    enum conn_state state;
    struct list in_flight; /* in submit order: the head is the oldest */
    uint32_t max_streams;
    int64_t opened_ms, last_read_ms, last_busy_ms;
    bool ping_outstanding;
    bool dead; /* close as soon as control leaves nghttp2 */
    char error[160];
    struct event *tick;
};

struct rp_h2_pool {
    struct rp_h2_pool *next;
    struct rp_h2_client *client;
    struct rp_h2_pool_config pc; /* cert_pem and key_pem are not kept */
    SSL_CTX *ssl;                /* a certificate pool's own context, else the client's */
    struct conn *conns;
    struct list queue;
    int failures;
    int64_t retry_at_ms;
    char last_error[160];
    bool no_h2; /* the last connect failed because the server refused h2 */
    char broken[160];
    int64_t last_used_ms;
};

struct rp_h2_client {
    struct event_base *base;
    struct evdns_base *dns;
    struct rp_h2_client_config cfg;
    size_t id_header_len;
    char host[256];
    int port;
    bool host_is_ip;
    SSL_CTX *ssl;
    struct rp_h2_pool *pools;
    struct req *free_reqs;
    struct event *tick;
    struct event *deadline_ev; /* fires at deadline_at, the earliest request deadline */
    int64_t deadline_at;       /* 0: not armed */
    int in_recv; /* inside nghttp2_session_mem_recv: sending must wait until it returns */
};

static void pool_dispatch(struct rp_h2_pool *p);
static void conn_close(struct conn *c, const char *why);
static int conn_flush(struct conn *c);
static void conn_failed(struct conn *c, const char *why);

/* ---- Lists and requests -------------------------------------------------------------------- */

static void list_push_back(struct list *l, struct req *r)
{
    r->next = NULL;
    r->prev = l->tail;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_push_front(struct list *l, struct req *r)
{
    r->prev = NULL;
    r->next = l->head;
    if (l->head)
        l->head->prev = r;
    else
        l->tail = r;
    l->head = r;
    l->n++;
}

static void list_remove(struct list *l, struct req *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static struct req *req_new(struct rp_h2_client *cl)
{
    struct req *r = cl->free_reqs;
    if (r)
        cl->free_reqs = r->next;
    else
        r = rp_malloc(sizeof(*r) + cl->cfg.answer_max + 1);
    memset(r, 0, offsetof(struct req, answer));
    r->answer[0] = '\0';
    return r;
}

/* Forgets an answer so the request can go out again. */
static void req_reset(struct req *r)
{
    r->status = 0;
    r->answer_len = 0;
    r->answer[0] = '\0';
    r->id[0] = '\0';
    r->retry_after[0] = '\0';
    r->body_off = 0;
    r->sent = false;
    r->since_ms = rp_mono_ms();
}

/* Hands the answer (or why, when there is none) to the owner, then recycles r or, when the
 * owner asks for it after a real answer, queues it again. */
static void complete(struct rp_h2_client *cl, struct req *r, const char *why)
{
    struct rp_h2_pool *p = r->pool;
    struct rp_h2_answer a = {.status = why ? 0 : r->status,
                             .transport_error = why,
                             .no_h2 = why && p->no_h2,
                             .id = r->id[0] ? r->id : NULL,
                             .retry_after = r->retry_after[0] ? r->retry_after : NULL,
                             .body = r->answer,
                             .body_len = r->answer_len,
                             .auth_gen = r->auth_gen};
    enum rp_h2_next next = r->rq.done(r->rq.arg, &a);
    if (next == RP_H2_RESEND && !why) {
        req_reset(r);
        list_push_front(&p->queue, r);
        return;
    }
    r->next = cl->free_reqs;
    cl->free_reqs = r;
}

static void fail_queue(struct rp_h2_pool *p, const char *why)
{
    while (p->queue.head) {
        struct req *r = p->queue.head;
        list_remove(&p->queue, r);
        complete(p->client, r, why);
    }
}

/* ---- Pools --------------------------------------------------------------------------------- */

static int load_pem_chain(SSL_CTX *ctx, const char *cert_pem, const char *key_pem)
{
    BIO *bio = BIO_new_mem_buf(cert_pem, -1);
    X509 *leaf = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    int ok = leaf && SSL_CTX_use_certificate(ctx, leaf) == 1;
    X509 *extra;
    while (ok && (extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL)
        if (SSL_CTX_add0_chain_cert(ctx, extra) != 1) {
            X509_free(extra);
            ok = 0;
        }
    BIO_free(bio);
    X509_free(leaf);
    EVP_PKEY *key = NULL;
    struct rp_err err;
    if (ok && rp_keys_private_key(key_pem, "PrivateKey", &key, &err) == 0)
        ok = SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
    else
        ok = 0;
    EVP_PKEY_free(key);
    ERR_clear_error();
    return ok ? 0 : -1;
}

static SSL_CTX *ssl_ctx_new(const struct rp_h2_client_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_default_verify_paths(ctx);
    if (cfg->ca_file && *cfg->ca_file &&
        SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
        rp_error(cfg->component, "msg=\"cannot read tls.ca_file\" file=%s", cfg->ca_file);
        ERR_clear_error();
    }
    static const unsigned char alpn[] = "\x02h2";
    SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
    ERR_clear_error();
    return ctx;
}

struct rp_h2_pool *rp_h2_pool_find(struct rp_h2_client *cl,
                                   bool (*match)(const void *user, const void *arg),
                                   const void *arg)
{
    for (struct rp_h2_pool *p = cl->pools; p; p = p->next)
        if (match(p->pc.user, arg))
            return p;
    return NULL;
}

struct rp_h2_pool *rp_h2_pool_new(struct rp_h2_client *cl, const struct rp_h2_pool_config *pc)
{
    struct rp_h2_pool *p = rp_calloc(1, sizeof(*p));
    p->client = cl;
    p->pc = *pc;
    p->pc.cert_pem = p->pc.key_pem = NULL;
    p->last_used_ms = rp_mono_ms();
    p->next = cl->pools;
    cl->pools = p;
    if (pc->cert_pem) {
        p->ssl = ssl_ctx_new(&cl->cfg);
        if (!p->ssl || load_pem_chain(p->ssl, pc->cert_pem, pc->key_pem ? pc->key_pem : "") < 0)
            snprintf(p->broken, sizeof(p->broken),
                     "the channel's Certificate and PrivateKey cannot be used for TLS");
    } else {
        p->ssl = cl->ssl;
    }
    return p;
}

const char *rp_h2_pool_broken(const struct rp_h2_pool *p)
{
    return p->broken[0] ? p->broken : NULL;
}

void rp_h2_pool_set_broken(struct rp_h2_pool *p, const char *why)
{
    snprintf(p->broken, sizeof(p->broken), "%s", why ? why : "");
}

void *rp_h2_pool_user(const struct rp_h2_pool *p)
{
    return p->pc.user;
}

static void pool_free(struct rp_h2_pool *p)
{
    while (p->conns)
        conn_close(p->conns, "the HTTP/2 client is shutting down");
    fail_queue(p, "the HTTP/2 client is shutting down");
    if (p->ssl && p->ssl != p->client->ssl)
        SSL_CTX_free(p->ssl);
    if (p->pc.user_free)
        p->pc.user_free(p->pc.user);
    free(p);
}

/* ---- nghttp2 callbacks --------------------------------------------------------------------- */

static ssize_t on_send(nghttp2_session *session, const uint8_t *data, size_t length, int flags,
                       void *user_data)
{
    struct conn *c = user_data;
    if (bufferevent_write(c->bev, data, length) != 0)
        return NGHTTP2_ERR_CALLBACK_FAILURE;
    return (ssize_t)length;
}

static ssize_t body_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *source, void *user_data)
{
    /* A stream cancelled at its deadline has no request any more (see on_deadline). */
    struct req *r = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!r)
        return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    size_t left = r->rq.body_len - r->body_off;
    size_t n = left < length ? left : length;
    if (n)
        memcpy(buf, r->rq.body + r->body_off, n);
    r->body_off += n;
    if (r->body_off == r->rq.body_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void copy_value(char *out, size_t size, const uint8_t *value, size_t len)
{
    if (len >= size)
        return;
    memcpy(out, value, len);
    out[len] = '\0';
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    if (frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    struct req *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!r)
        return 0;
    const struct rp_h2_client *cl = r->pool->client;
    if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
        int status = 0;
        for (size_t i = 0; i < valuelen && i < 4; i++)
            status = status * 10 + (value[i] - '0');
        r->status = valuelen == 3 ? status : 0;
    } else if (namelen == 11 && memcmp(name, "retry-after", 11) == 0) {
        copy_value(r->retry_after, sizeof(r->retry_after), value, valuelen);
    } else if (cl->id_header_len && namelen == cl->id_header_len &&
               memcmp(name, cl->cfg.id_header, namelen) == 0) {
        copy_value(r->id, sizeof(r->id), value, valuelen);
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    struct req *r = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!r)
        return 0;
    size_t room = r->pool->client->cfg.answer_max - r->answer_len;
    size_t n = len < room ? len : room;
    memcpy(r->answer + r->answer_len, data, n);
    r->answer_len += n;
    r->answer[r->answer_len] = '\0';
    return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    if (frame->hd.type == NGHTTP2_HEADERS) {
        struct req *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
        if (r)
            r->sent = true;
    }
    return 0;
}

/* Printable ASCII of the GOAWAY debug data (APNs puts its error JSON there). */
static void printable(const uint8_t *data, size_t len, char *out, size_t size)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 1 < size; i++)
        out[o++] = data[i] >= 0x20 && data[i] < 0x7f && data[i] != '"' ? (char)data[i] : '?';
    out[o] = '\0';
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct conn *c = user_data;
    struct rp_h2_pool *p = c->pool;
    const struct rp_h2_client_config *cfg = &p->client->cfg;
    switch (frame->hd.type) {
    case NGHTTP2_SETTINGS:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            break;
        c->max_streams =
            nghttp2_session_get_remote_settings(session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
        if (c->state == CONN_HANDSHAKEN) {
            c->state = CONN_READY;
            p->failures = 0;
            p->no_h2 = false;
        }
        break;
    case NGHTTP2_GOAWAY: {
        char debug[256];
        printable(frame->goaway.opaque_data, frame->goaway.opaque_data_len, debug, sizeof(debug));
        rp_warn(cfg->component,
                "msg=\"%s sent GOAWAY: reconnecting\" channel=%s last_stream_id=%d "
                "error_code=%u in_flight=%zu debug=\"%s\"",
                cfg->provider, cfg->name, frame->goaway.last_stream_id, frame->goaway.error_code,
                c->in_flight.n, debug);
        c->state = CONN_DRAINING;
        break;
    }
    case NGHTTP2_PING:
        if (frame->hd.flags & NGHTTP2_FLAG_ACK)
            c->ping_outstanding = false;
        break;
    default:
        break;
    }
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct conn *c = user_data;
    struct rp_h2_pool *p = c->pool;
    struct rp_h2_client *cl = p->client;
    struct req *r = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!r)
        return 0;
    list_remove(&c->in_flight, r);
    rp_metrics_channel_gauge(RP_MCG_STREAMS, cl->cfg.name, -1);
    r->conn = NULL;
    c->last_busy_ms = rp_mono_ms();
    if (r->status == 0) {
        /* GOAWAY refuses a stream once per connection; a request refused over and over (or one
         * nghttp2 cannot send) must not cycle between connections for ever. */
        if ((error_code == NGHTTP2_REFUSED_STREAM || !r->sent) && ++r->requeues <= MAX_REQUEUES) {
            /* Above GOAWAY's last-stream-id, or refused: the server did not act on it. */
            req_reset(r);
            list_push_front(&p->queue, r);
        } else {
            char why[64];
            snprintf(why, sizeof(why), "stream reset (HTTP/2 error %u)", error_code);
            complete(cl, r, why);
        }
        return 0;
    }
    complete(cl, r, NULL);
    return 0;
}

/* ---- Connections --------------------------------------------------------------------------- */

static int submit(struct conn *c, struct req *r)
{
    struct rp_h2_pool *p = c->pool;
    const struct rp_h2_client *cl = p->client;
    /* Every value but the authorization lives until the request is done, which is after its
     * HEADERS frame is written: nghttp2 need not copy them. */
    nghttp2_nv nv[5 + RP_H2_MAX_HEADERS];
    size_t n = 0;
    const uint8_t nc = NGHTTP2_NV_FLAG_NO_COPY_NAME | NGHTTP2_NV_FLAG_NO_COPY_VALUE;
#define NV(name, value, flags)                                                                     \
    nv[n++] = (nghttp2_nv){(uint8_t *)(name), (uint8_t *)(value), strlen(name), strlen(value),    \
                           (flags)}
    NV(":method", r->rq.method, nc);
    NV(":scheme", "https", nc);
    NV(":authority", cl->host, nc);
    NV(":path", r->rq.path, nc);
    char auth[AUTH_MAX]; // cppcheck-suppress variableScope
    if (p->pc.authorize) {
        if (p->pc.authorize(p->pc.user, auth, sizeof(auth), &r->auth_gen) < 0)
            return -1;
        /* Copied by nghttp2_submit_request: auth is gone when the frame is written. */
        NV("authorization", auth, NGHTTP2_NV_FLAG_NO_COPY_NAME);
    }
    for (size_t i = 0; i < r->rq.n_headers && i < RP_H2_MAX_HEADERS; i++)
        NV(r->rq.headers[i].name, r->rq.headers[i].value, nc);
#undef NV
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = body_read};
    int32_t id = nghttp2_submit_request(c->session, NULL, nv, n, r->rq.body ? &dp : NULL, r);
    if (id < 0)
        return -1;
    r->stream_id = id;
    r->conn = c;
    r->since_ms = rp_mono_ms();
    list_push_back(&c->in_flight, r);
    rp_metrics_channel_gauge(RP_MCG_STREAMS, cl->cfg.name, 1);
    c->last_busy_ms = r->since_ms;
    return 0;
}

static void conn_unlink(struct conn *c)
{
    struct rp_h2_pool *p = c->pool;
    if (c->prev)
        c->prev->next = c->next;
    else
        p->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    rp_metrics_channel_gauge(RP_MCG_CONNECTIONS, p->client->cfg.name, -1);
}

/* Closes and frees c. Requests in flight that were sent complete with why (the server may or
 * may not have acted on them; the worker retries); those never sent go back to the queue. */
static void conn_close(struct conn *c, const char *why)
{
    struct rp_h2_pool *p = c->pool;
    conn_unlink(c);
    if (c->session)
        nghttp2_session_del(c->session);
    c->session = NULL;
    while (c->in_flight.head) {
        struct req *r = c->in_flight.tail;
        list_remove(&c->in_flight, r);
        rp_metrics_channel_gauge(RP_MCG_STREAMS, p->client->cfg.name, -1);
        r->conn = NULL;
        if (!r->sent && r->status == 0) {
            r->body_off = 0;
            list_push_front(&p->queue, r);
        } else {
            complete(p->client, r, why);
        }
    }
    event_free(c->tick);
    bufferevent_free(c->bev);
    free(c);
}

/* A connection that never became usable: back off, and fail what waits rather than spin. */
static void conn_failed(struct conn *c, const char *reason)
{
    struct rp_h2_pool *p = c->pool;
    const struct rp_h2_client_config *cfg = &p->client->cfg;
    bool was_ready = c->state == CONN_READY || c->state == CONN_DRAINING;
    /* reason may be c->error, which conn_close frees. */
    char why[sizeof(c->error)];
    snprintf(why, sizeof(why), "%s", reason);
    snprintf(p->last_error, sizeof(p->last_error), "%s", why);
    conn_close(c, why);
    if (was_ready) {
        pool_dispatch(p);
        return;
    }
    p->failures++;
    int shift = p->failures < 8 ? p->failures : 8;
    int64_t delay = (int64_t)BACKOFF_BASE_MS << shift; /* 250 ms doubling */
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    uint32_t rnd;
    rp_random_bytes(&rnd, sizeof(rnd));
    delay = delay / 2 + (int64_t)(rnd % (uint32_t)(delay / 2 + 1));
    p->retry_at_ms = rp_mono_ms() + delay;
    rp_warn(cfg->component,
            "msg=\"cannot connect to %s\" channel=%s host=%s error=\"%s\" failures=%d "
            "retry_in_ms=%lld",
            cfg->provider, cfg->name, p->client->host, why, p->failures, (long long)delay);
    if (!p->conns) {
        char msg[200];
        snprintf(msg, sizeof(msg), "cannot connect: %s", why);
        fail_queue(p, msg);
    }
}

/* Writes what every connection of the client has to send; a connection that fails is closed
 * (which may complete requests, whose owners may send more: hence the restart). */
static void client_flush(struct rp_h2_client *cl)
{
restart:
    for (struct rp_h2_pool *p = cl->pools; p; p = p->next)
        /* The analyzer cannot see that a list head's prev is NULL, so it believes a closed
         * head may still be p->conns after conn_unlink. */
        for (struct conn *c = p->conns; c; c = c->next)
            if (c->session && conn_flush(c) < 0) { // NOLINT(clang-analyzer-unix.Malloc)
                conn_failed(c, c->error[0] ? c->error : "HTTP/2 session error");
                goto restart;
            }
}

/* Runs after every read: nghttp2 callbacks only mark a connection dead. */
static void conn_after(struct conn *c)
{
    struct rp_h2_pool *p = c->pool;
    if (c->dead) {
        conn_failed(c, c->error);
        return;
    }
    pool_dispatch(p);
    client_flush(p->client);
}

static int conn_flush(struct conn *c)
{
    if (!c->session)
        return 0;
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) < OUTPUT_HIGH_WATER) {
        int rv = nghttp2_session_send(c->session);
        if (rv != 0) {
            snprintf(c->error, sizeof(c->error), "HTTP/2: %s", nghttp2_strerror(rv));
            return -1;
        }
    }
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
        evbuffer_get_length(bufferevent_get_output(c->bev)) == 0) {
        snprintf(c->error, sizeof(c->error), "the connection was closed after GOAWAY");
        return -1;
    }
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    c->last_read_ms = rp_mono_ms();
    while (evbuffer_get_length(in) > 0 && !c->dead) {
        struct evbuffer_iovec v;
        if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
            break;
        c->pool->client->in_recv++;
        ssize_t n = nghttp2_session_mem_recv(c->session, v.iov_base, v.iov_len);
        c->pool->client->in_recv--;
        if (n < 0) {
            snprintf(c->error, sizeof(c->error), "HTTP/2: %s", nghttp2_strerror((int)n));
            c->dead = true;
            break;
        }
        evbuffer_drain(in, (size_t)n);
    }
    conn_after(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct conn *c = arg;
    if (c->session && conn_flush(c) < 0)
        conn_failed(c, c->error);
}

static void conn_start_h2(struct conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        c->pool->no_h2 = true;
        conn_failed(c, "the server did not agree to HTTP/2 (ALPN h2)");
        return;
    }
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_send_callback(cb, on_send);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, on_frame_send);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_client_new(&c->session, cb, c);
    nghttp2_session_callbacks_del(cb);
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 24);
    c->state = CONN_HANDSHAKEN;
    c->last_read_ms = rp_mono_ms();
    if (conn_flush(c) < 0)
        conn_failed(c, c->error);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct conn *c = arg;
    if (events & BEV_EVENT_CONNECTED) {
        /* Small frames both ways: without this, Nagle and delayed ACKs stall the pipeline by
         * tens of milliseconds. The socket exists only now (after DNS and connect). */
        evutil_socket_t fd = bufferevent_getfd(bev);
        int one = 1;
        if (fd >= 0)
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        conn_start_h2(c);
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
        char why[160];
        unsigned long ssl_err = bufferevent_get_openssl_error(bev);
        int dns_err = bufferevent_socket_get_dns_error(bev);
        if (ssl_err) {
            char buf[120];
            ERR_error_string_n(ssl_err, buf, sizeof(buf));
            snprintf(why, sizeof(why), "TLS: %s", buf);
        } else if (dns_err) {
            snprintf(why, sizeof(why), "DNS: %s", evutil_gai_strerror(dns_err));
        } else if (events & BEV_EVENT_EOF) {
            snprintf(why, sizeof(why), "the server closed the connection");
        } else {
            snprintf(why, sizeof(why), "connection error: %s",
                     evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        }
        while (bufferevent_get_openssl_error(bev))
            ;
        ERR_clear_error();
        conn_failed(c, why);
    }
}

static void on_conn_tick(evutil_socket_t fd, short what, void *arg)
{
    struct conn *c = arg;
    struct rp_h2_pool *p = c->pool;
    const struct rp_h2_client_config *cfg = &p->client->cfg;
    int64_t now = rp_mono_ms();
    if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKEN) {
        if (now - c->opened_ms > cfg->timeout_ms)
            conn_failed(c, "timed out connecting");
        return;
    }
    if (c->state == CONN_DRAINING && c->in_flight.n == 0) {
        conn_close(c, "drained");
        return;
    }
    if (c->in_flight.head && now - c->in_flight.head->since_ms > cfg->timeout_ms) {
        char why[96];
        snprintf(why, sizeof(why), "%s did not answer within %ld ms", cfg->provider,
                 cfg->timeout_ms);
        conn_failed(c, why);
        return;
    }
    if (c->state == CONN_READY && c->in_flight.n == 0 &&
        now - c->last_busy_ms >= (int64_t)cfg->idle_timeout_s * 1000) {
        /* A GOAWAY first, so the server sees a clean close; the socket closes once it is
         * written (conn_flush then finds nothing left to read or write). */
        rp_debug(cfg->component, "msg=\"closing an idle %s connection\" channel=%s",
                 cfg->provider, cfg->name);
        c->state = CONN_DRAINING;
        nghttp2_session_terminate_session(c->session, NGHTTP2_NO_ERROR);
        if (conn_flush(c) < 0)
            conn_close(c, "idle");
        return;
    }
    if (now - c->last_read_ms >= (int64_t)cfg->ping_interval_s * 1000) {
        if (c->ping_outstanding) {
            conn_failed(c, "no answer to PING");
            return;
        }
        nghttp2_submit_ping(c->session, NGHTTP2_FLAG_NONE, NULL);
        c->ping_outstanding = true;
        c->last_read_ms = now;
        if (conn_flush(c) < 0)
            conn_failed(c, c->error);
    }
}

static void conn_open(struct rp_h2_pool *p)
{
    struct rp_h2_client *cl = p->client;
    SSL *ssl = SSL_new(p->ssl);
    if (!ssl) {
        ERR_clear_error();
        return;
    }
    if (!cl->host_is_ip)
        SSL_set_tlsext_host_name(ssl, cl->host);
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (cl->host_is_ip)
        X509_VERIFY_PARAM_set1_ip_asc(param, cl->host);
    else
        X509_VERIFY_PARAM_set1_host(param, cl->host, 0);
    struct conn *c = rp_calloc(1, sizeof(*c));
    c->pool = p;
    c->state = CONN_CONNECTING;
    c->opened_ms = c->last_busy_ms = c->last_read_ms = rp_mono_ms();
    c->bev = bufferevent_openssl_socket_new(cl->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
    c->tick = event_new(cl->base, -1, EV_PERSIST, on_conn_tick, c);
    struct timeval tv = {1, 0};
    event_add(c->tick, &tv);
    c->next = p->conns;
    if (p->conns)
        p->conns->prev = c;
    p->conns = c;
    rp_metrics_channel_gauge(RP_MCG_CONNECTIONS, cl->cfg.name, 1);
    if (bufferevent_socket_connect_hostname(c->bev, cl->dns, AF_UNSPEC, cl->host, cl->port) != 0)
        conn_failed(c, "cannot start connecting");
}

/* Moves queued requests onto connections with free streams; opens a connection when every
 * usable one is full (up to max_connections), one connect at a time. */
static void pool_dispatch(struct rp_h2_pool *p)
{
    while (p->queue.head) {
        struct conn *target = NULL;
        bool connecting = false;
        int n_open = 0;
        for (struct conn *c = p->conns; c; c = c->next, n_open++) {
            if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKEN)
                connecting = true;
            if (c->state == CONN_READY && c->in_flight.n < c->max_streams) {
                target = c;
                break;
            }
        }
        if (!target) {
            if (!connecting && n_open < p->client->cfg.max_connections &&
                rp_mono_ms() >= p->retry_at_ms)
                conn_open(p);
            return;
        }
        struct req *r = p->queue.head;
        list_remove(&p->queue, r);
        if (submit(target, r) < 0) {
            if (p->broken[0]) {
                complete(p->client, r, p->broken);
                continue;
            }
            list_push_front(&p->queue, r);
            target->state = CONN_DRAINING; /* stream ids exhausted or session failing */
            continue;
        }
    }
}

/* ---- The client ---------------------------------------------------------------------------- */

static void deadline_arm(struct rp_h2_client *cl, int64_t at)
{
    if (cl->deadline_at && cl->deadline_at <= at)
        return;
    cl->deadline_at = at;
    int64_t wait = at - rp_mono_ms();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {(time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000};
    event_add(cl->deadline_ev, &tv);
}

static bool expired(const struct req *r, int64_t now)
{
    return r->rq.deadline_ms && now >= r->rq.deadline_ms;
}

/* Completes the requests whose deadline has passed: queued ones, and those in flight, whose
 * streams are cancelled. They are collected first, since completions may send again (and so
 * change every list), then completed; the timer is re-armed for the earliest deadline left. */
static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct rp_h2_client *cl = arg;
    int64_t now = rp_mono_ms();
    struct list late = {0}, late_queued = {0};
    cl->deadline_at = 0;
    for (struct rp_h2_pool *p = cl->pools; p; p = p->next) {
        for (struct req *r = p->queue.head, *next; r; r = next) {
            next = r->next;
            if (expired(r, now)) {
                list_remove(&p->queue, r);
                list_push_back(&late_queued, r);
            }
        }
        for (struct conn *c = p->conns; c; c = c->next)
            for (struct req *r = c->in_flight.head, *next; r; r = next) {
                next = r->next;
                if (!expired(r, now))
                    continue;
                list_remove(&c->in_flight, r);
                rp_metrics_channel_gauge(RP_MCG_STREAMS, cl->cfg.name, -1);
                nghttp2_session_set_stream_user_data(c->session, r->stream_id, NULL);
                nghttp2_submit_rst_stream(c->session, NGHTTP2_FLAG_NONE, r->stream_id,
                                          NGHTTP2_CANCEL);
                r->conn = NULL;
                list_push_back(&late, r);
            }
    }
    char why[96];
    snprintf(why, sizeof(why), "%s did not answer before the delivery's deadline",
             cl->cfg.provider);
    while (late.head) {
        struct req *r = late.head;
        list_remove(&late, r);
        complete(cl, r, why);
    }
    snprintf(why, sizeof(why), "no %s stream became free before the delivery's deadline",
             cl->cfg.provider);
    while (late_queued.head) {
        struct req *r = late_queued.head;
        list_remove(&late_queued, r);
        complete(cl, r, why);
    }
    int64_t next_at = 0;
    for (struct rp_h2_pool *p = cl->pools; p; p = p->next) {
        for (struct req *r = p->queue.head; r; r = r->next)
            if (r->rq.deadline_ms && (!next_at || r->rq.deadline_ms < next_at))
                next_at = r->rq.deadline_ms;
        for (struct conn *c = p->conns; c; c = c->next)
            for (struct req *r = c->in_flight.head; r; r = r->next)
                if (r->rq.deadline_ms && (!next_at || r->rq.deadline_ms < next_at))
                    next_at = r->rq.deadline_ms;
    }
    if (next_at)
        deadline_arm(cl, next_at);
    client_flush(cl);
}

static void on_client_tick(evutil_socket_t fd, short what, void *arg)
{
    struct rp_h2_client *cl = arg;
    int64_t now = rp_mono_ms();
    /* A credential replaced by the app (a new key or certificate) leaves its pool unused: it
     * goes once its connections have closed as idle. */
    for (struct rp_h2_pool **pp = &cl->pools; *pp;) {
        struct rp_h2_pool *p = *pp;
        if (!p->conns && !p->queue.head &&
            now - p->last_used_ms > (int64_t)cl->cfg.idle_timeout_s * 1000) {
            *pp = p->next;
            pool_free(p);
        } else {
            pp = &p->next;
        }
    }
    for (struct rp_h2_pool *p = cl->pools; p; p = p->next) {
        while (p->queue.head && now - p->queue.head->since_ms > cl->cfg.timeout_ms) {
            struct req *r = p->queue.head;
            list_remove(&p->queue, r);
            char why[96];
            snprintf(why, sizeof(why), "no %s connection became free in time",
                     cl->cfg.provider);
            complete(cl, r, why);
        }
        if (p->queue.head)
            pool_dispatch(p);
    }
    client_flush(cl);
}

static int parse_url(struct rp_h2_client *cl, const char *url)
{
    if (strncmp(url, "https://", 8) != 0)
        return -1;
    const char *h = url + 8;
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof(cl->host))
        return -1;
    memcpy(cl->host, h, hl);
    cl->host[hl] = '\0';
    cl->port = 443;
    if (h[hl] == ':') {
        char *end;
        long port = strtol(h + hl + 1, &end, 10);
        if (port <= 0 || port > 65535 || (*end && *end != '/'))
            return -1;
        cl->port = (int)port;
    }
    unsigned char buf[16];
    cl->host_is_ip =
        inet_pton(AF_INET, cl->host, buf) == 1 || inet_pton(AF_INET6, cl->host, buf) == 1;
    return 0;
}

struct rp_h2_client *rp_h2_client_new(struct event_base *base,
                                      const struct rp_h2_client_config *cfg)
{
    struct rp_h2_client *cl = rp_calloc(1, sizeof(*cl));
    cl->base = base;
    cl->cfg = *cfg;
    cl->id_header_len = cfg->id_header ? strlen(cfg->id_header) : 0;
    if (!cfg->url || parse_url(cl, cfg->url) < 0) {
        rp_error(cfg->component, "msg=\"the %s URL must be https://host[:port]\" channel=%s",
                 cfg->provider, cfg->name);
        free(cl);
        return NULL;
    }
    cl->ssl = ssl_ctx_new(cfg);
    if (!cl->ssl) {
        free(cl);
        return NULL;
    }
    cl->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
    if (!cl->dns)
        cl->dns = evdns_base_new(base, 0);
    cl->tick = event_new(base, -1, EV_PERSIST, on_client_tick, cl);
    cl->deadline_ev = event_new(base, -1, 0, on_deadline, cl);
    struct timeval tv = {1, 0};
    event_add(cl->tick, &tv);
    return cl;
}

void rp_h2_client_free(struct rp_h2_client *cl)
{
    if (!cl)
        return;
    while (cl->pools) {
        struct rp_h2_pool *p = cl->pools;
        cl->pools = p->next;
        pool_free(p);
    }
    while (cl->free_reqs) {
        struct req *r = cl->free_reqs;
        cl->free_reqs = r->next;
        free(r);
    }
    event_free(cl->tick);
    event_free(cl->deadline_ev);
    if (cl->dns)
        evdns_base_free(cl->dns, 0);
    SSL_CTX_free(cl->ssl);
    free(cl);
}

const struct rp_h2_client_config *rp_h2_client_config(const struct rp_h2_client *cl)
{
    return &cl->cfg;
}

void rp_h2_send(struct rp_h2_pool *p, const struct rp_h2_request *rq)
{
    struct rp_h2_client *cl = p->client;
    struct req *r = req_new(cl);
    r->rq = *rq;
    r->pool = p;
    r->since_ms = p->last_used_ms = rp_mono_ms();
    if (p->broken[0]) {
        complete(cl, r, p->broken);
        return;
    }
    if (!p->conns && r->since_ms < p->retry_at_ms) {
        char why[220];
        snprintf(why, sizeof(why), "reconnecting after: %s", p->last_error);
        complete(cl, r, why);
        return;
    }
    if (rq->deadline_ms)
        deadline_arm(cl, rq->deadline_ms);
    list_push_back(&p->queue, r);
    pool_dispatch(p);
    if (!cl->in_recv) /* else the connection being read flushes them when nghttp2 returns */
        client_flush(cl);
}
