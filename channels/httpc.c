/* libcurl's multi-socket interface on a libevent loop (curl's docs/examples/hiperfifo.c is the
 * pattern): curl tells us which sockets to watch and when its timer is due, libevent tells curl
 * when a socket is ready or the timer fired, and finished transfers are collected after each
 * curl_multi_socket_action. Every request gets its own easy handle; connections live in the
 * multi handle's cache, so they are reused across requests (and multiplexed over HTTP/2). */
#include "httpc.h"

#include <curl/curl.h>
#include <event2/event.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "../gateway/log.h"
#include "../gateway/metrics.h"
#include "../gateway/rc.h"
#include "../gateway/util.h"

/* A provider answer larger than this is not an answer we understand: the request fails as a
 * transport error instead of growing a buffer without bound. */
#define HTTPC_MAX_BODY ((size_t)1024 * 1024)
/* Captured header values longer than this are cut (a Retry-After or Content-Type is short). */
#define HTTPC_HEADER_VALUE_MAX 128
/* Parallel connections to one host. HTTP/2 providers multiplex over one; an HTTP/1.1 provider
 * gets up to this many requests at once and curl queues the rest (their timeout still runs). */
#define HTTPC_MAX_HOST_CONNECTIONS   256
#define HTTPC_MAX_CACHED_CONNECTIONS 512
#define HTTPC_MAX_STREAMS            1000
#define HTTPC_SPARE_HANDLES          256
/* Connection set-up gets at most this much of a request's timeout. */
#define HTTPC_CONNECT_TIMEOUT_MS 10000L
/* The system CA bundle when curl cannot name its own (Debian's path). */
#define HTTPC_SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define HTTPC_CA_FILE_MAX      ((size_t)16 * 1024 * 1024)

/* One socket curl asked us to watch. */
struct sock {
    struct sock *prev, *next;
    struct event *ev;
    short kind; /* EV_READ / EV_WRITE bits of ev */
};

/* One request in flight. */
struct xfer {
    struct xfer *prev, *next;
    struct rp_httpc *client;
    CURL *easy;
    struct curl_slist *headers;
    char *body; /* the request body, owned (curl does not copy POSTFIELDS) */
    char *resp; /* the response body, NUL-terminated, owned */
    size_t resp_len, resp_cap;
    int too_big;
    char retry_after[HTTPC_HEADER_VALUE_MAX];
    char content_type[HTTPC_HEADER_VALUE_MAX];
    char errbuf[CURL_ERROR_SIZE];
    rp_httpc_done_fn done;
    void *arg;
};

struct rp_httpc {
    struct event_base *base;
    CURLM *multi;
    struct event *timer;
    /* Trust for tls.ca_file (without one, curl's built-in CA locations). Where curl has a
     * built-in CA directory: ca_file is tls.ca_file and ca_path that directory. Otherwise
     * ca_bundle holds the system bundle plus tls.ca_file, handed to curl without copying (it
     * outlives every easy handle). All owned. */
    char *ca_file, *ca_path;
    char *ca_bundle;
    size_t ca_len;
    struct xfer *xfers;
    struct sock *socks;
    size_t in_flight;
    const char *metrics_channel; /* static; NULL: not counted in repoint_provider_* */
    int freeing;
    /* Finished easy handles kept for the next requests: creating and destroying one per
     * request was a large share of a send's CPU. */
    CURL *spare[HTTPC_SPARE_HANDLES];
    size_t n_spare;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

/* curl_global_init is not safe to race with other threads starting curl, so it runs once
 * before the first client exists; it is never undone (the process keeps using curl). */
static void global_init(void)
{
    global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void check_done(struct rp_httpc *c);

static void sock_unlink_free(struct rp_httpc *c, struct sock *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next)
        s->next->prev = s->prev;
    if (s->ev)
        event_free(s->ev);
    free(s);
}

static void on_socket_event(evutil_socket_t fd, short events, void *arg)
{
    struct rp_httpc *c = arg;
    int flags =
        ((events & EV_READ) ? CURL_CSELECT_IN : 0) | ((events & EV_WRITE) ? CURL_CSELECT_OUT : 0);
    int running = 0;
    curl_multi_socket_action(c->multi, fd, flags, &running);
    check_done(c);
}

static void on_timer_event(evutil_socket_t fd, short events, void *arg)
{
    struct rp_httpc *c = arg;
    int running = 0;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(c);
}

/* CURLMOPT_SOCKETFUNCTION: curl says what it wants to know about a socket. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    struct rp_httpc *c = userp;
    struct sock *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s)
            sock_unlink_free(c, s);
        return 0;
    }
    short kind =
        (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0));
    if (!s) {
        s = rp_calloc(1, sizeof(*s));
        s->next = c->socks;
        if (c->socks)
            c->socks->prev = s;
        c->socks = s;
        curl_multi_assign(c->multi, fd, s);
    }
    if (s->ev && s->kind == kind)
        return 0;
    if (s->ev)
        event_free(s->ev);
    s->kind = kind;
    s->ev = event_new(c->base, fd, (short)(kind | EV_PERSIST), on_socket_event, c);
    if (!s->ev || event_add(s->ev, NULL) != 0)
        rp_panic("httpc: cannot watch a socket");
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: one timer per multi handle; -1 removes it. Curl must not be called
 * back from inside this function, so even a 0 ms timeout goes through the loop. */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct rp_httpc *c = userp;
    if (timeout_ms < 0) {
        evtimer_del(c->timer);
        return 0;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    return evtimer_add(c->timer, &tv) == 0 ? 0 : -1;
}

static size_t on_body(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;
    if (len > HTTPC_MAX_BODY - x->resp_len) {
        x->too_big = 1;
        return 0; /* makes curl stop with CURLE_WRITE_ERROR */
    }
    if (x->resp_len + len + 1 > x->resp_cap) {
        size_t cap = x->resp_cap ? x->resp_cap : 1024;
        while (cap < x->resp_len + len + 1)
            cap *= 2;
        x->resp = rp_realloc(x->resp, cap);
        x->resp_cap = cap;
    }
    memcpy(x->resp + x->resp_len, data, len);
    x->resp_len += len;
    x->resp[x->resp_len] = '\0';
    return len;
}

/* Copies the value of header `name` when line is that header: trims the spaces around it. */
static void capture_header(const char *line, size_t len, const char *name, char *out)
{
    size_t nlen = strlen(name);
    if (len <= nlen || line[nlen] != ':' || strncasecmp(line, name, nlen) != 0)
        return;
    const char *v = line + nlen + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t vlen = (size_t)(end - v);
    if (vlen >= HTTPC_HEADER_VALUE_MAX)
        vlen = HTTPC_HEADER_VALUE_MAX - 1;
    memcpy(out, v, vlen);
    out[vlen] = '\0';
}

static size_t on_header(char *data, size_t size, size_t n, void *userp)
{
    struct xfer *x = userp;
    size_t len = size * n;
    /* A new status line starts a new response (after a 100 Continue): forget the old one's. */
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        x->retry_after[0] = '\0';
        x->content_type[0] = '\0';
        return len;
    }
    capture_header(data, len, "Retry-After", x->retry_after);
    capture_header(data, len, "Content-Type", x->content_type);
    return len;
}

/* Requests in flight move repoint_provider_streams of the client's channel. */
static void in_flight_add(struct rp_httpc *c, int delta)
{
    c->in_flight = (size_t)((long)c->in_flight + delta);
    if (c->metrics_channel)
        rp_metrics_channel_gauge(RP_MCG_STREAMS, c->metrics_channel, delta);
}

/* CURLOPT_OPENSOCKETFUNCTION and CLOSESOCKETFUNCTION: curl's own socket handling, counted in
 * repoint_provider_connections (a connection is its socket, from connect to close, cached or
 * not). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *address)
{
    const struct rp_httpc *c = clientp;
    curl_socket_t fd = socket(address->family, address->socktype, address->protocol);
    if (fd != CURL_SOCKET_BAD && c->metrics_channel)
        rp_metrics_channel_gauge(RP_MCG_CONNECTIONS, c->metrics_channel, 1);
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    const struct rp_httpc *c = clientp;
    if (c->metrics_channel)
        rp_metrics_channel_gauge(RP_MCG_CONNECTIONS, c->metrics_channel, -1);
    return close(fd);
}

static void xfer_unlink(struct rp_httpc *c, struct xfer *x)
{
    if (x->prev)
        x->prev->next = x->next;
    else
        c->xfers = x->next;
    if (x->next)
        x->next->prev = x->prev;
    x->prev = x->next = NULL;
    in_flight_add(c, -1);
}

static void xfer_free(struct xfer *x)
{
    struct rp_httpc *c = x->client;
    if (x->easy && !c->freeing && c->n_spare < HTTPC_SPARE_HANDLES) {
        curl_easy_reset(x->easy); /* options and state go; allocated buffers stay */
        c->spare[c->n_spare++] = x->easy;
    } else if (x->easy) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    free(x->body);
    free(x->resp);
    free(x);
}

/* Reports a finished (or cancelled) transfer to its owner and frees it. The transfer is
 * already out of the multi handle and off the client's list. */
static void xfer_finish(struct xfer *x, CURLcode code, const char *why)
{
    struct rp_httpc_response r;
    memset(&r, 0, sizeof(r));
    if (x->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        r.transport_error = CURLE_FILESIZE_EXCEEDED;
        snprintf(r.error, sizeof(r.error), "response body larger than %zu bytes", HTTPC_MAX_BODY);
    } else if (code != CURLE_OK) {
        r.transport_error = (int)code;
        snprintf(r.error, sizeof(r.error), "%s",
                 why            ? why
                 : x->errbuf[0] ? x->errbuf
                                : curl_easy_strerror(code));
    } else {
        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
    }
    curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &r.total_seconds);
    r.body = x->resp ? x->resp : "";
    r.body_len = x->resp_len;
    r.retry_after = x->retry_after[0] ? x->retry_after : NULL;
    r.content_type = x->content_type[0] ? x->content_type : NULL;
    x->done(x->arg, &r);
    xfer_free(x);
}

/* Collects every transfer curl has finished. A callback may start new requests meanwhile:
 * curl_multi_info_read picks up only finished ones, and add_handle is safe here (we are not
 * inside a curl callback). */
static void check_done(struct rp_httpc *c)
{
    CURLMsg *msg;
    int left = 0;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *easy = msg->easy_handle;
        CURLcode code = msg->data.result;
        char *priv = NULL;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
        curl_multi_remove_handle(c->multi, easy);
        struct xfer *x = (struct xfer *)priv;
        xfer_unlink(c, x);
        xfer_finish(x, code, NULL);
    }
}

/* Trusts tls.ca_file besides the system CAs (CURLOPT_CAINFO alone would replace them and break
 * real providers). Preferred: CAINFO = the extra file and CAPATH = the system's hashed CA
 * directory, both cheap per connection because OpenSSL looks the directory up lazily. Without
 * a system directory: one in-memory bundle of both (CAINFO_BLOB), which OpenSSL 3 parses at
 * every new connection (tens of ms for a full system bundle), acceptable as a fallback only. */
static int load_ca(struct rp_httpc *c, const char *ca_file)
{
    size_t extra_len = 0, sys_len = 0;
    char *extra = rp_read_file(ca_file, HTTPC_CA_FILE_MAX, &extra_len);
    if (!extra) {
        rp_error("httpc", "msg=\"cannot read tls.ca_file\" path=%s", ca_file);
        return RP_EIO;
    }
    if (!strstr(extra, "-----BEGIN CERTIFICATE-----")) {
        rp_error("httpc", "msg=\"tls.ca_file holds no PEM certificate\" path=%s", ca_file);
        free(extra);
        return RP_EINVAL;
    }
    const curl_version_info_data *info = curl_version_info(CURLVERSION_NOW);
    int ninth = info->age >= CURLVERSION_NINTH;
    if (ninth && info->capath && *info->capath) {
        c->ca_file = rp_strdup(ca_file);
        c->ca_path = rp_strdup(info->capath);
        free(extra);
        return 0;
    }
    const char *sys_path = HTTPC_SYSTEM_CA_BUNDLE;
    if (ninth && info->cainfo && *info->cainfo)
        sys_path = info->cainfo;
    char *sys = rp_read_file(sys_path, HTTPC_CA_FILE_MAX, &sys_len);
    if (!sys) {
        rp_warn("httpc", "msg=\"no system CA bundle: trusting tls.ca_file only\" path=%s",
                sys_path);
        sys_len = 0;
    }
    c->ca_len = sys_len + 1 + extra_len;
    c->ca_bundle = rp_malloc(c->ca_len + 1);
    if (sys_len)
        memcpy(c->ca_bundle, sys, sys_len);
    c->ca_bundle[sys_len] = '\n';
    memcpy(c->ca_bundle + sys_len + 1, extra, extra_len + 1);
    free(sys);
    free(extra);
    return 0;
}

struct rp_httpc *rp_httpc_new(struct event_base *base, const char *ca_file)
{
    pthread_once(&global_once, global_init);
    if (global_rc != CURLE_OK) {
        rp_error("httpc", "msg=\"curl_global_init failed\" error=\"%s\"",
                 curl_easy_strerror(global_rc));
        return NULL;
    }
    struct rp_httpc *c = rp_calloc(1, sizeof(*c));
    c->base = base;
    if (ca_file && *ca_file && load_ca(c, ca_file) < 0) {
        free(c);
        return NULL;
    }
    c->multi = curl_multi_init();
    c->timer = evtimer_new(base, on_timer_event, c);
    if (!c->multi || !c->timer) {
        rp_error("httpc", "msg=\"cannot create the curl multi handle\"");
        rp_httpc_free(c);
        return NULL;
    }
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HTTPC_MAX_HOST_CONNECTIONS);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)HTTPC_MAX_CACHED_CONNECTIONS);
    /* curl defaults to 100 streams per connection whatever the server allows; a server that
     * allows more (its SETTINGS still cap it) keeps a worker's sends on one connection. */
    curl_multi_setopt(c->multi, CURLMOPT_MAX_CONCURRENT_STREAMS, (long)HTTPC_MAX_STREAMS);
    return c;
}

void rp_httpc_free(struct rp_httpc *client)
{
    if (!client)
        return;
    client->freeing = 1;
    while (client->xfers) {
        struct xfer *x = client->xfers;
        client->xfers = x->next;
        if (x->next)
            x->next->prev = NULL;
        x->next = NULL;
        in_flight_add(client, -1);
        curl_multi_remove_handle(client->multi, x->easy);
        xfer_finish(x, CURLE_ABORTED_BY_CALLBACK, "request cancelled: client shut down");
    }
    while (client->n_spare)
        curl_easy_cleanup(client->spare[--client->n_spare]);
    if (client->multi)
        curl_multi_cleanup(client->multi);
    /* Sockets curl did not say goodbye to (it normally does, in curl_multi_cleanup). */
    while (client->socks) {
        struct sock *s = client->socks;
        client->socks = s->next;
        if (s->ev)
            event_free(s->ev);
        free(s);
    }
    if (client->timer)
        event_free(client->timer);
    free(client->ca_file);
    free(client->ca_path);
    free(client->ca_bundle);
    free(client);
}

/* Sets the options that do not depend on the request: TLS, protocols, limits. */
static void set_common_options(struct rp_httpc *c, struct xfer *x)
{
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    /* Wait for a connection that may multiplex instead of opening another one at once. */
    curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(e, CURLOPT_CAPATH, c->ca_path);
    } else if (c->ca_bundle) {
        struct curl_blob blob = {.data = c->ca_bundle, .len = c->ca_len, .flags = CURL_BLOB_NOCOPY};
        curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &blob);
    }
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTPC_MAX_BODY);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "repoint/" RP_VERSION);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, c);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, c);
}

int rp_httpc_send(struct rp_httpc *client, const struct rp_httpc_request *req)
{
    if (!req->url || !req->method || !req->done)
        return RP_EINVAL;
    if (client->freeing)
        return RP_EAGAIN;
    struct xfer *x = rp_calloc(1, sizeof(*x));
    x->client = client;
    x->done = req->done;
    x->arg = req->arg;
    x->easy = client->n_spare ? client->spare[--client->n_spare] : curl_easy_init();
    if (!x->easy) {
        free(x);
        return RP_EIO;
    }
    set_common_options(client, x);
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    long timeout = req->timeout_ms > 0 ? req->timeout_ms : 1;
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout < HTTPC_CONNECT_TIMEOUT_MS ? timeout : HTTPC_CONNECT_TIMEOUT_MS);

    if (strcmp(req->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else {
        if (strcmp(req->method, "POST") != 0)
            curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        x->body = rp_strndup(req->body ? req->body : "", req->body ? req->body_len : 0);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)(req->body ? req->body_len : 0));
    }
    /* No "Expect: 100-continue" round trip: provider bodies are small. */
    x->headers = curl_slist_append(NULL, "Expect:");
    for (const char *const *h = req->headers; h && *h && x->headers; h++)
        x->headers = curl_slist_append(x->headers, *h);
    if (!x->headers)
        rp_panic("httpc: out of memory building headers");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    if (req->basic_auth) {
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERPWD, req->basic_auth);
    }

    CURLMcode mc = curl_multi_add_handle(client->multi, e);
    if (mc != CURLM_OK) {
        rp_warn("httpc", "msg=\"cannot start a request\" error=\"%s\"", curl_multi_strerror(mc));
        xfer_free(x);
        return RP_EIO;
    }
    x->next = client->xfers;
    if (client->xfers)
        client->xfers->prev = x;
    client->xfers = x;
    in_flight_add(client, 1);
    return 0;
}

void rp_httpc_set_metrics_channel(struct rp_httpc *client, const char *channel)
{
    client->metrics_channel = channel;
}

size_t rp_httpc_in_flight(const struct rp_httpc *client)
{
    return client->in_flight;
}

/* Parses all of s with one strptime format; trailing spaces are allowed. */
static int parse_date(const char *s, const char *format, struct tm *tm)
{
    memset(tm, 0, sizeof(*tm));
    const char *end = strptime(s, format, tm);
    if (!end)
        return -1;
    while (*end == ' ' || *end == '\t')
        end++;
    return *end ? -1 : 0;
}

/* RFC 9110 10.2.3: Retry-After = HTTP-date / delay-seconds. HTTP-date is IMF-fixdate, and
 * recipients also accept the obsolete RFC 850 and asctime forms (RFC 9110 5.6.7). */
long long rp_httpc_retry_after_ms(const char *value, long long now_ms)
{
    if (!value)
        return -1;
    while (*value == ' ' || *value == '\t')
        value++;
    if (*value >= '0' && *value <= '9') {
        long long seconds = 0;
        const char *p = value;
        for (; *p >= '0' && *p <= '9'; p++)
            if (seconds < 1000000000LL) /* clamp: ~31 years is "much later" already */
                seconds = seconds * 10 + (*p - '0');
        while (*p == ' ' || *p == '\t')
            p++;
        return *p ? -1 : seconds * 1000;
    }
    static const char *const formats[] = {
        "%a, %d %b %Y %H:%M:%S GMT", /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
        "%A, %d-%b-%y %H:%M:%S GMT", /* RFC 850:     Sunday, 06-Nov-94 08:49:37 GMT */
        "%a %b %e %H:%M:%S %Y",      /* asctime:     Sun Nov  6 08:49:37 1994 */
    };
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        struct tm tm;
        if (parse_date(value, formats[i], &tm) != 0)
            continue;
        time_t t = timegm(&tm);
        if (t == (time_t)-1)
            return -1;
        long long delta = (long long)t * 1000 - now_ms;
        return delta > 0 ? delta : 0;
    }
    return -1;
}
