/* HTTP/2 over TLS for simulators: libevent's OpenSSL bufferevents carry the bytes, nghttp2's
 * server session frames them (in the manner of nghttp2's libevent-server example). Requests are
 * kept per connection so that a GOAWAY can refuse those above its last-stream-id and a closing
 * connection can free what is still pending. */
#include "h2_server.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "gateway/util.h"

/* Bytes of frames queued in a connection's output before nghttp2 is asked for more. */
#define OUTPUT_HIGH_WATER (256 * 1024)

struct rp_h2s {
    struct event_base *base;
    struct rp_h2s_config cfg;
    SSL_CTX *ssl;
    struct evconnlistener *listener;
    int port;
    uint64_t next_conn_id;
    struct rp_h2s_conn *conns;
    size_t delayed;
    uint64_t pings;
};

struct rp_h2s_conn {
    struct rp_h2s *server;
    struct rp_h2s_conn *prev, *next;
    struct bufferevent *bev;
    nghttp2_session *session;
    uint64_t id;
    X509 *peer;
    void *data;
    void (*data_free)(void *);
    struct rp_h2s_req *reqs; /* every stream with a request object */
    int32_t last_dispatched;
    bool goaway_sent;
    int32_t goaway_last;
    uint64_t requests;
};

/* A request's header names and values, and its answer's, are copied into the request itself
 * while they fit (an APNs request's, provider token included, take about 500 bytes): one
 * allocation per request rather than two per header. What does not fit is allocated. */
#define REQ_TEXT_BYTES  1024
#define REQ_HEADERS     16
#define RESP_TEXT_BYTES 256
#define RESP_HEADERS    6

struct rp_h2s_req {
    struct rp_h2s_conn *conn;
    struct rp_h2s_req *prev, *next;
    int32_t stream_id;
    struct rp_h2s_header *headers; /* fixed_headers or allocated */
    size_t n_headers, cap_headers;
    unsigned char *body;
    size_t body_len, body_cap;
    /* The answer, once given. */
    bool answered;
    nghttp2_nv *resp_nv; /* fixed_nv or allocated */
    size_t resp_nv_len;
    char *resp_body;
    size_t resp_len, resp_off;
    struct event *timer;
    size_t text_used, resp_text_used;
    struct rp_h2s_header fixed_headers[REQ_HEADERS];
    nghttp2_nv fixed_nv[RESP_HEADERS];
    char text[REQ_TEXT_BYTES];
    char resp_text[RESP_TEXT_BYTES];
};

static void conn_free(struct rp_h2s_conn *c);
static int conn_send(struct rp_h2s_conn *c);

/* A NUL-terminated copy of s[0..n) in buf (of size bytes, used so far) when it fits, else
 * allocated; owned_text tells which. */
static char *copy_text(char *buf, size_t size, size_t *used, const void *s, size_t n)
{
    char *out;
    if (size - *used > n) {
        out = buf + *used;
        *used += n + 1;
    } else {
        out = rp_malloc(n + 1);
    }
    memcpy(out, s, n);
    out[n] = '\0';
    return out;
}

static bool owned_text(const char *buf, size_t size, const void *p)
{
    uintptr_t at = (uintptr_t)p, start = (uintptr_t)buf;
    return at < start || at >= start + size;
}

static void req_free(struct rp_h2s_req *r)
{
    struct rp_h2s_conn *c = r->conn;
    if (r->prev)
        r->prev->next = r->next;
    else
        c->reqs = r->next;
    if (r->next)
        r->next->prev = r->prev;
    for (size_t i = 0; i < r->n_headers; i++) {
        if (owned_text(r->text, sizeof(r->text), r->headers[i].name))
            free((char *)r->headers[i].name);
        if (owned_text(r->text, sizeof(r->text), r->headers[i].value))
            free((char *)r->headers[i].value);
    }
    if (r->headers != r->fixed_headers)
        free(r->headers);
    free(r->body);
    for (size_t i = 0; i < r->resp_nv_len; i++) {
        if (owned_text(r->resp_text, sizeof(r->resp_text), r->resp_nv[i].name))
            free(r->resp_nv[i].name);
        if (owned_text(r->resp_text, sizeof(r->resp_text), r->resp_nv[i].value))
            free(r->resp_nv[i].value);
    }
    if (r->resp_nv != r->fixed_nv)
        free(r->resp_nv);
    free(r->resp_body);
    if (r->timer) {
        event_free(r->timer);
        c->server->delayed--;
    }
    if (c->session)
        nghttp2_session_set_stream_user_data(c->session, r->stream_id, NULL);
    free(r);
}

/* ---- Request accessors --------------------------------------------------------------------- */

const char *rp_h2s_req_method(const struct rp_h2s_req *req)
{
    return rp_h2s_req_header(req, ":method", NULL);
}

const char *rp_h2s_req_path(const struct rp_h2s_req *req)
{
    return rp_h2s_req_header(req, ":path", NULL);
}

const char *rp_h2s_req_header(const struct rp_h2s_req *req, const char *name, int *count)
{
    const char *first = NULL;
    int n = 0;
    for (size_t i = 0; i < req->n_headers; i++) {
        if (strcmp(req->headers[i].name, name) == 0) {
            if (!first)
                first = req->headers[i].value;
            n++;
        }
    }
    if (count)
        *count = n;
    return first;
}

const struct rp_h2s_header *rp_h2s_req_headers(const struct rp_h2s_req *req, size_t *n_out)
{
    *n_out = req->n_headers;
    return req->headers;
}

const unsigned char *rp_h2s_req_body(const struct rp_h2s_req *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : (const unsigned char *)"";
}

int32_t rp_h2s_req_stream_id(const struct rp_h2s_req *req)
{
    return req->stream_id;
}

struct rp_h2s_conn *rp_h2s_req_conn(const struct rp_h2s_req *req)
{
    return req->conn;
}

/* ---- Answers ------------------------------------------------------------------------------- */

static ssize_t body_read(nghttp2_session *session, int32_t stream_id, uint8_t *buf,
                               size_t length, uint32_t *data_flags, nghttp2_data_source *source,
                               void *user_data)
{
    struct rp_h2s_req *r = source->ptr;
    size_t left = r->resp_len - r->resp_off;
    size_t n = left < length ? left : length;
    memcpy(buf, r->resp_body + r->resp_off, n);
    r->resp_off += n;
    if (r->resp_off == r->resp_len)
        *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void submit_answer(struct rp_h2s_req *r)
{
    nghttp2_data_provider dp = {.source.ptr = r, .read_callback = body_read};
    nghttp2_submit_response(r->conn->session, r->stream_id, r->resp_nv, r->resp_nv_len,
                             r->resp_len > 0 ? &dp : NULL);
}

static void on_answer_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rp_h2s_req *r = arg;
    struct rp_h2s_conn *c = r->conn;
    event_free(r->timer);
    r->timer = NULL;
    c->server->delayed--;
    submit_answer(r);
    if (conn_send(c) < 0)
        conn_free(c);
}

static nghttp2_nv make_nv(struct rp_h2s_req *r, const char *name, const char *value)
{
    size_t nlen = strlen(name), vlen = strlen(value);
    char *n = copy_text(r->resp_text, sizeof(r->resp_text), &r->resp_text_used, name, nlen);
    char *v = copy_text(r->resp_text, sizeof(r->resp_text), &r->resp_text_used, value, vlen);
    nghttp2_nv nv = {.name = (uint8_t *)n,
                     .value = (uint8_t *)v,
                     .namelen = nlen,
                     .valuelen = vlen,
                     .flags = NGHTTP2_NV_FLAG_NONE};
    return nv;
}

void rp_h2s_respond(struct rp_h2s_req *req, int status, const struct rp_h2s_header *headers,
                    size_t n_headers, const char *body, size_t body_len, unsigned delay_ms)
{
    if (req->answered)
        return;
    req->answered = true;
    /* :status, the headers given, content-length */
    size_t n_nv = n_headers + 2;
    req->resp_nv = n_nv <= RESP_HEADERS ? req->fixed_nv : rp_calloc(n_nv, sizeof(nghttp2_nv));
    char code[8];
    snprintf(code, sizeof(code), "%d", status);
    req->resp_nv[req->resp_nv_len++] = make_nv(req, ":status", code);
    for (size_t i = 0; i < n_headers; i++)
        req->resp_nv[req->resp_nv_len++] = make_nv(req, headers[i].name, headers[i].value);
    if (body && body_len > 0) {
        char len[24];
        snprintf(len, sizeof(len), "%zu", body_len);
        req->resp_nv[req->resp_nv_len++] = make_nv(req, "content-length", len);
        req->resp_body = rp_malloc(body_len);
        memcpy(req->resp_body, body, body_len);
        req->resp_len = body_len;
    }
    if (delay_ms == 0) {
        submit_answer(req);
        return;
    }
    req->timer = evtimer_new(req->conn->server->base, on_answer_timer, req);
    req->conn->server->delayed++;
    struct timeval tv = {delay_ms / 1000, (delay_ms % 1000) * 1000};
    evtimer_add(req->timer, &tv);
}

void rp_h2s_refuse(struct rp_h2s_req *req, uint32_t error_code)
{
    if (req->answered)
        return;
    req->answered = true;
    nghttp2_submit_rst_stream(req->conn->session, NGHTTP2_FLAG_NONE, req->stream_id, error_code);
}

/* ---- nghttp2 callbacks --------------------------------------------------------------------- */

static int on_begin_headers(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct rp_h2s_conn *c = user_data;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct rp_h2s_req *r = rp_calloc(1, sizeof(*r));
    r->conn = c;
    r->stream_id = frame->hd.stream_id;
    r->next = c->reqs;
    if (c->reqs)
        c->reqs->prev = r;
    c->reqs = r;
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, r);
    return 0;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user_data)
{
    struct rp_h2s_req *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!r || frame->hd.type != NGHTTP2_HEADERS)
        return 0;
    if (!r->headers) {
        r->headers = r->fixed_headers;
        r->cap_headers = REQ_HEADERS;
    } else if (r->n_headers == r->cap_headers) {
        struct rp_h2s_header *more = rp_malloc(2 * r->cap_headers * sizeof(*more));
        memcpy(more, r->headers, r->n_headers * sizeof(*more));
        if (r->headers != r->fixed_headers)
            free(r->headers);
        r->headers = more;
        r->cap_headers *= 2;
    }
    r->headers[r->n_headers].name =
        copy_text(r->text, sizeof(r->text), &r->text_used, name, namelen);
    r->headers[r->n_headers].value =
        copy_text(r->text, sizeof(r->text), &r->text_used, value, valuelen);
    r->n_headers++;
    return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags, int32_t stream_id,
                         const uint8_t *data, size_t len, void *user_data)
{
    struct rp_h2s_req *r = nghttp2_session_get_stream_user_data(session, stream_id);
    if (!r)
        return 0;
    if (r->body_len + len > r->body_cap) {
        r->body_cap = (r->body_len + len) * 2;
        r->body = rp_realloc(r->body, r->body_cap);
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame, void *user_data)
{
    struct rp_h2s_conn *c = user_data;
    if (frame->hd.type == NGHTTP2_PING && !(frame->hd.flags & NGHTTP2_FLAG_ACK))
        c->server->pings++;
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM))
        return 0;
    struct rp_h2s_req *r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (!r || r->answered)
        return 0;
    if (c->goaway_sent && r->stream_id > c->goaway_last) {
        rp_h2s_refuse(r, NGHTTP2_REFUSED_STREAM);
        return 0;
    }
    if (r->stream_id > c->last_dispatched)
        c->last_dispatched = r->stream_id;
    c->requests++;
    c->server->cfg.on_request(c->server->cfg.arg, r);
    if (!r->answered)
        rp_h2s_refuse(r, NGHTTP2_INTERNAL_ERROR); /* the simulator forgot: never hang a client */
    return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id, uint32_t error_code,
                           void *user_data)
{
    struct rp_h2s_req *r = nghttp2_session_get_stream_user_data(session, stream_id);
    if (r)
        req_free(r);
    return 0;
}

/* ---- Connections --------------------------------------------------------------------------- */

static int conn_send(struct rp_h2s_conn *c)
{
    struct evbuffer *out = bufferevent_get_output(c->bev);
    while (evbuffer_get_length(out) < OUTPUT_HIGH_WATER) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->session, &data);
        if (n < 0)
            return -1;
        if (n == 0)
            break;
        if (bufferevent_write(c->bev, data, (size_t)n) != 0)
            return -1;
    }
    if (!nghttp2_session_want_read(c->session) && !nghttp2_session_want_write(c->session) &&
        evbuffer_get_length(out) == 0)
        return -1;
    return 0;
}

static void conn_free(struct rp_h2s_conn *c)
{
    struct rp_h2s *s = c->server;
    if (s->cfg.on_conn && c->session)
        s->cfg.on_conn(s->cfg.arg, c, false);
    while (c->reqs)
        req_free(c->reqs);
    if (c->session)
        nghttp2_session_del(c->session);
    c->session = NULL;
    if (c->data_free)
        c->data_free(c->data);
    X509_free(c->peer);
    bufferevent_free(c->bev);
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct rp_h2s_conn *c = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    unsigned char *data = evbuffer_pullup(in, -1);
    ssize_t n = nghttp2_session_mem_recv(c->session, data, len);
    if (n < 0) {
        conn_free(c);
        return;
    }
    evbuffer_drain(in, (size_t)n);
    if (conn_send(c) < 0)
        conn_free(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct rp_h2s_conn *c = arg;
    if (c->session && conn_send(c) < 0)
        conn_free(c);
}

static void conn_start(struct rp_h2s_conn *c)
{
    SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
        conn_free(c);
        return;
    }
    c->peer = SSL_get1_peer_certificate(ssl);
    nghttp2_session_callbacks *cb;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data_chunk);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_stream_close);
    nghttp2_session_server_new(&c->session, cb, c);
    nghttp2_session_callbacks_del(cb);
    uint32_t max = c->server->cfg.max_concurrent_streams ? c->server->cfg.max_concurrent_streams
                                                         : 100;
    nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, max},
                                   {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
    nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
    /* A connection window as large as the streams' sum, so flow control never stalls a burst. */
    nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0, 1 << 30);
    if (c->server->cfg.on_conn)
        c->server->cfg.on_conn(c->server->cfg.arg, c, true);
    if (conn_send(c) < 0)
        conn_free(c);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct rp_h2s_conn *c = arg;
    if (events & BEV_EVENT_CONNECTED) {
        conn_start(c);
        return;
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
        ERR_clear_error();
        conn_free(c);
    }
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
    struct rp_h2s *s = arg;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    SSL *ssl = SSL_new(s->ssl);
    if (!ssl) {
        evutil_closesocket(fd);
        return;
    }
    struct rp_h2s_conn *c = rp_calloc(1, sizeof(*c));
    c->server = s;
    c->id = ++s->next_conn_id;
    c->bev = bufferevent_openssl_socket_new(s->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
                                            BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
    bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static int select_h2(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                     const unsigned char *in, unsigned inlen, void *arg)
{
    for (unsigned i = 0; i + 1 <= inlen; i += 1u + in[i]) {
        if (in[i] == 2 && i + 3 <= inlen && memcmp(in + i + 1, "h2", 2) == 0) {
            *out = in + i + 1;
            *outlen = 2;
            return SSL_TLSEXT_ERR_OK;
        }
    }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *make_ssl(const struct rp_h2s_config *cfg)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx)
        return NULL;
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "h2_server: cannot use %s / %s\n", cfg->cert_file, cfg->key_file);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (cfg->client_ca_file && *cfg->client_ca_file) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca_file, NULL) != 1) {
            fprintf(stderr, "h2_server: cannot read %s\n", cfg->client_ca_file);
            SSL_CTX_free(ctx);
            return NULL;
        }
        SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(cfg->client_ca_file));
        SSL_CTX_set_verify(ctx,
                           SSL_VERIFY_PEER |
                               (cfg->require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_h2, NULL);
    return ctx;
}

struct rp_h2s *rp_h2s_new(struct event_base *base, const struct rp_h2s_config *cfg)
{
    struct rp_h2s *s = rp_calloc(1, sizeof(*s));
    s->base = base;
    s->cfg = *cfg;
    s->ssl = make_ssl(cfg);
    if (!s->ssl) {
        free(s);
        return NULL;
    }
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)cfg->port)};
    if (inet_pton(AF_INET, cfg->host ? cfg->host : "127.0.0.1", &sin.sin_addr) != 1) {
        fprintf(stderr, "h2_server: bad listen address\n");
        SSL_CTX_free(s->ssl);
        free(s);
        return NULL;
    }
    unsigned flags = LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE;
    if (cfg->reuse_port)
        flags |= LEV_OPT_REUSEABLE_PORT;
    s->listener = evconnlistener_new_bind(base, on_accept, s, flags, 1024,
                                          (struct sockaddr *)&sin, sizeof(sin));
    if (!s->listener) {
        perror("h2_server: listen");
        SSL_CTX_free(s->ssl);
        free(s);
        return NULL;
    }
    struct sockaddr_in bound;
    socklen_t blen = sizeof(bound);
    getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&bound, &blen);
    s->port = ntohs(bound.sin_port);
    return s;
}

int rp_h2s_port(const struct rp_h2s *server)
{
    return server->port;
}

size_t rp_h2s_delayed(const struct rp_h2s *server)
{
    return server->delayed;
}

uint64_t rp_h2s_pings(const struct rp_h2s *server)
{
    return server->pings;
}

void rp_h2s_free(struct rp_h2s *server)
{
    if (!server)
        return;
    while (server->conns)
        conn_free(server->conns);
    evconnlistener_free(server->listener);
    SSL_CTX_free(server->ssl);
    free(server);
}

uint64_t rp_h2s_conn_id(const struct rp_h2s_conn *conn)
{
    return conn->id;
}

X509 *rp_h2s_conn_peer_cert(const struct rp_h2s_conn *conn)
{
    return conn->peer;
}

void *rp_h2s_conn_data(const struct rp_h2s_conn *conn)
{
    return conn->data;
}

void rp_h2s_conn_set_data(struct rp_h2s_conn *conn, void *data, void (*free_fn)(void *))
{
    conn->data = data;
    conn->data_free = free_fn;
}

void rp_h2s_conn_set_max_streams(struct rp_h2s_conn *conn, uint32_t n)
{
    nghttp2_settings_entry iv = {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, n};
    nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, &iv, 1);
}

void rp_h2s_conn_goaway(struct rp_h2s_conn *conn, uint32_t error_code, const char *debug)
{
    if (conn->goaway_sent)
        return;
    conn->goaway_sent = true;
    conn->goaway_last = conn->last_dispatched;
    nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, conn->goaway_last, error_code,
                          (const uint8_t *)debug, debug ? strlen(debug) : 0);
    /* Streams the client opened above last-stream-id are refused now, so that the connection
     * can close as soon as those below are answered. */
    for (struct rp_h2s_req *r = conn->reqs; r; r = r->next)
        if (r->stream_id > conn->goaway_last && !r->answered) {
            r->answered = true;
            nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, r->stream_id,
                                      NGHTTP2_REFUSED_STREAM);
        }
}

uint64_t rp_h2s_conn_requests(const struct rp_h2s_conn *conn)
{
    return conn->requests;
}
