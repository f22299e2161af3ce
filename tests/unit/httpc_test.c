/* Tests for channels/httpc.c: a libmicrohttpd server inside the test (HTTP, and HTTPS with the
 * simulators' test CA from tests/sim/testca) answers scripted paths; the client runs on a
 * libevent loop in this thread. Also a port that accepts connections but never answers (the
 * timeout), a port with nothing listening (connection refused), and Retry-After parsing.
 * The working directory is tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "channels/httpc.h"
#include "gateway/rc.h"
#include "gateway/util.h"

#define TESTCA     "../sim/testca/"
#define BIG_BODY   (2 * 1024 * 1024)
#define LIMIT_BODY (1024 * 1024)
#define CONCURRENT 200

static struct MHD_Daemon *http_server, *https_server;
static int http_port, https_port;
static char *tls_cert, *tls_key;

/* ---- The server ----------------------------------------------------------------------------- */

struct upload {
    char *data;
    size_t len;
};

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *type,
                              const char *extra_name, const char *extra_value, char *body,
                              size_t len)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(r, "Content-Type", type);
    if (extra_name)
        MHD_add_response_header(r, extra_name, extra_value);
    enum MHD_Result rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

/* /status/N answers N (429 and 503 with Retry-After); /echo answers the method, the body, the
 * Authorization and X-Test headers as JSON-ish text; /big answers 2 MiB, /limit exactly the
 * client's 1 MiB limit. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    struct upload *up = *con_cls;
    if (!up) {
        *con_cls = rp_calloc(1, sizeof(*up));
        return MHD_YES;
    }
    if (*data_size) {
        up->data = rp_realloc(up->data, up->len + *data_size + 1);
        memcpy(up->data + up->len, data, *data_size);
        up->len += *data_size;
        up->data[up->len] = '\0';
        *data_size = 0;
        return MHD_YES;
    }
    if (strncmp(url, "/status/", 8) == 0) {
        unsigned status = (unsigned)atoi(url + 8);
        char *body = rp_malloc(32);
        int n = snprintf(body, 32, "status %u", status);
        int retry = status == 429 || status == 503;
        return answer(conn, status, "text/plain", retry ? "Retry-After" : NULL, "3", body,
                      (size_t)n);
    }
    if (strcmp(url, "/echo") == 0) {
        const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        const char *test = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Test");
        const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
        size_t size = 256 + up->len;
        char *body = rp_malloc(size);
        int n = snprintf(body, size, "method=%s auth=%s test=%s expect=%s body=%s", method,
                         auth ? auth : "-", test ? test : "-", expect ? expect : "-",
                         up->data ? up->data : "");
        return answer(conn, 200, "application/json; charset=utf-8", NULL, NULL, body, (size_t)n);
    }
    if (strcmp(url, "/big") == 0 || strcmp(url, "/limit") == 0) {
        size_t len = strcmp(url, "/big") == 0 ? BIG_BODY : LIMIT_BODY;
        char *body = rp_malloc(len);
        memset(body, 'x', len);
        return answer(conn, 200, "text/plain", NULL, NULL, body, len);
    }
    return answer(conn, 404, "text/plain", NULL, NULL, rp_strdup("no"), 2);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct upload *up = *con_cls;
    if (up) {
        free(up->data);
        free(up);
    }
    *con_cls = NULL;
}

static struct MHD_Daemon *start_server(int tls, int *port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_OptionItem tls_opts[] = {
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                     (tls ? MHD_USE_TLS : 0);
    struct MHD_Daemon *d =
        MHD_start_daemon(flags, 0, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
                         MHD_OPTION_THREAD_POOL_SIZE, 2u, MHD_OPTION_NOTIFY_COMPLETED, on_completed,
                         NULL, MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    assert_non_null(d);
    *port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
    return d;
}

static int group_setup(void **state)
{
    tls_cert = rp_read_file(TESTCA "server.pem", 65536, NULL);
    tls_key = rp_read_file(TESTCA "server.key", 65536, NULL);
    if (!tls_cert || !tls_key) {
        fprintf(stderr, "cannot read " TESTCA "server.{pem,key} (run from tests/unit)\n");
        return -1;
    }
    http_server = start_server(0, &http_port);
    https_server = start_server(1, &https_port);
    return 0;
}

static int group_teardown(void **state)
{
    MHD_stop_daemon(http_server);
    MHD_stop_daemon(https_server);
    free(tls_cert);
    free(tls_key);
    return 0;
}

/* ---- The client side ------------------------------------------------------------------------ */

struct outcome {
    int calls;
    int transport_error;
    long status;
    char error[256];
    char *body;
    size_t body_len;
    char retry_after[64];
    char content_type[128];
};

struct loop {
    struct event_base *base;
    struct rp_httpc *client;
    int pending;
};

struct call {
    struct loop *loop;
    struct outcome out;
};

static void on_done(void *arg, const struct rp_httpc_response *r)
{
    struct call *c = arg;
    c->out.calls++;
    c->out.transport_error = r->transport_error;
    c->out.status = r->status;
    snprintf(c->out.error, sizeof(c->out.error), "%s", r->error);
    free(c->out.body);
    c->out.body = rp_strndup(r->body, r->body_len);
    c->out.body_len = r->body_len;
    assert_int_equal(strlen(r->body), r->body_len); /* NUL-terminated */
    snprintf(c->out.retry_after, sizeof(c->out.retry_after), "%s",
             r->retry_after ? r->retry_after : "");
    snprintf(c->out.content_type, sizeof(c->out.content_type), "%s",
             r->content_type ? r->content_type : "");
    if (--c->loop->pending == 0)
        event_base_loopbreak(c->loop->base);
}

static void loop_init(struct loop *l, const char *ca_file)
{
    l->base = event_base_new();
    l->client = rp_httpc_new(l->base, ca_file);
    assert_non_null(l->client);
    l->pending = 0;
}

/* Runs until every request started has called back (or 60 s, a failure). */
static void loop_run(struct loop *l)
{
    struct timeval limit = {.tv_sec = 60};
    event_base_loopexit(l->base, &limit);
    if (l->pending)
        event_base_dispatch(l->base);
    assert_int_equal(l->pending, 0);
    assert_int_equal(rp_httpc_in_flight(l->client), 0);
}

static void loop_free(struct loop *l)
{
    rp_httpc_free(l->client);
    event_base_free(l->base);
}

static void start(struct loop *l, struct call *c, const char *method, const char *url,
                  const char *body, long timeout_ms)
{
    static const char *const headers[] = {"X-Test: yes", NULL};
    memset(&c->out, 0, sizeof(c->out));
    c->loop = l;
    struct rp_httpc_request req = {
        .method = method,
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .basic_auth = "user:pa:ss",
        .timeout_ms = timeout_ms,
        .done = on_done,
        .arg = c,
    };
    assert_int_equal(rp_httpc_send(l->client, &req), 0);
    l->pending++;
}

static void url_for(char *out, size_t size, int tls, const char *path)
{
    snprintf(out, size, "%s://127.0.0.1:%d%s", tls ? "https" : "http", tls ? https_port : http_port,
             path);
}

static void test_post_echo(void **state)
{
    struct loop l;
    struct call c;
    char url[128];
    loop_init(&l, NULL);
    url_for(url, sizeof(url), 0, "/echo");
    start(&l, &c, "POST", url, "a=1&b=%2B2", 5000);
    loop_run(&l);
    assert_int_equal(c.out.calls, 1);
    assert_int_equal(c.out.transport_error, 0);
    assert_int_equal(c.out.status, 200);
    /* Basic auth splits at the first colon: user "user", password "pa:ss". */
    assert_string_equal(c.out.body, "method=POST auth=Basic dXNlcjpwYTpzcw== test=yes expect=- "
                                    "body=a=1&b=%2B2");
    assert_string_equal(c.out.content_type, "application/json; charset=utf-8");
    assert_string_equal(c.out.retry_after, "");
    free(c.out.body);

    start(&l, &c, "PUT", url, NULL, 5000);
    loop_run(&l);
    assert_non_null(strstr(c.out.body, "method=PUT"));
    free(c.out.body);
    start(&l, &c, "GET", url, NULL, 5000);
    loop_run(&l);
    assert_non_null(strstr(c.out.body, "method=GET"));
    free(c.out.body);
    loop_free(&l);
}

/* Many requests on one loop: each callback runs once, with its own answer. */
static void test_concurrent(void **state)
{
    static const long statuses[] = {200, 201, 400, 404, 429, 500, 503};
    const size_t n_status = sizeof(statuses) / sizeof(statuses[0]);
    for (int tls = 0; tls <= 1; tls++) {
        struct loop l;
        loop_init(&l, tls ? TESTCA "ca.pem" : NULL);
        struct call *calls = rp_calloc(CONCURRENT, sizeof(*calls));
        for (size_t i = 0; i < CONCURRENT; i++) {
            char url[128], path[32];
            snprintf(path, sizeof(path), "/status/%ld", statuses[i % n_status]);
            url_for(url, sizeof(url), tls, path);
            start(&l, &calls[i], "POST", url, "x=1", 30000);
        }
        assert_int_equal(rp_httpc_in_flight(l.client), CONCURRENT);
        loop_run(&l);
        for (size_t i = 0; i < CONCURRENT; i++) {
            long want = statuses[i % n_status];
            char body[32];
            snprintf(body, sizeof(body), "status %ld", want);
            if (calls[i].out.calls != 1 || calls[i].out.status != want ||
                calls[i].out.transport_error != 0)
                fail_msg("tls=%d request %zu: calls=%d status=%ld error=%d %s", tls, i,
                         calls[i].out.calls, calls[i].out.status, calls[i].out.transport_error,
                         calls[i].out.error);
            assert_string_equal(calls[i].out.body, body);
            assert_string_equal(calls[i].out.retry_after, want == 429 || want == 503 ? "3" : "");
            free(calls[i].out.body);
        }
        free(calls);
        loop_free(&l);
    }
}

/* A callback may start the next request. */
struct chain {
    struct loop *loop;
    int left, calls;
    char url[128];
};

static void on_chain(void *arg, const struct rp_httpc_response *r)
{
    struct chain *ch = arg;
    ch->calls++;
    assert_int_equal(r->status, 204);
    if (--ch->left == 0) {
        ch->loop->pending--;
        event_base_loopbreak(ch->loop->base);
        return;
    }
    struct rp_httpc_request req = {
        .method = "GET", .url = ch->url, .timeout_ms = 5000, .done = on_chain, .arg = ch};
    assert_int_equal(rp_httpc_send(ch->loop->client, &req), 0);
}

static void test_send_from_callback(void **state)
{
    struct loop l;
    loop_init(&l, NULL);
    struct chain ch = {.loop = &l, .left = 5};
    url_for(ch.url, sizeof(ch.url), 0, "/status/204");
    struct rp_httpc_request req = {
        .method = "GET", .url = ch.url, .timeout_ms = 5000, .done = on_chain, .arg = &ch};
    assert_int_equal(rp_httpc_send(l.client, &req), 0);
    l.pending = 1;
    loop_run(&l);
    assert_int_equal(ch.calls, 5);
    loop_free(&l);
}

static void test_body_limit(void **state)
{
    struct loop l;
    struct call big, limit;
    char url[128];
    loop_init(&l, NULL);
    url_for(url, sizeof(url), 0, "/big");
    start(&l, &big, "GET", url, NULL, 10000);
    url_for(url, sizeof(url), 0, "/limit");
    start(&l, &limit, "GET", url, NULL, 10000);
    loop_run(&l);
    assert_int_equal(big.out.calls, 1);
    assert_int_equal(big.out.transport_error, CURLE_FILESIZE_EXCEEDED);
    assert_int_equal(big.out.status, 0);
    assert_non_null(strstr(big.out.error, "larger than"));
    assert_int_equal(limit.out.transport_error, 0);
    assert_int_equal(limit.out.body_len, LIMIT_BODY);
    free(big.out.body);
    free(limit.out.body);
    loop_free(&l);
}

/* A socket bound to a loopback port: listening (connections queue in the backlog and are never
 * answered) or not (connections are refused). */
static int loopback_socket(int listening, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    if (listening)
        assert_int_equal(listen(fd, 64), 0);
    socklen_t len = sizeof(addr);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
    *port = ntohs(addr.sin_port);
    return fd;
}

static void test_timeout_and_refused(void **state)
{
    int silent_port, closed_port;
    int silent = loopback_socket(1, &silent_port);
    int closed = loopback_socket(0, &closed_port);
    struct loop l;
    struct call slow, refused;
    char url[128];
    loop_init(&l, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", silent_port);
    start(&l, &slow, "POST", url, "x", 300);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", closed_port);
    start(&l, &refused, "POST", url, "x", 5000);
    loop_run(&l);
    assert_int_equal(slow.out.calls, 1);
    assert_int_equal(slow.out.transport_error, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(slow.out.status, 0);
    assert_int_equal(refused.out.calls, 1);
    assert_int_equal(refused.out.transport_error, CURLE_COULDNT_CONNECT);
    assert_non_null(strstr(refused.out.error, "onnect"));
    free(slow.out.body);
    free(refused.out.body);
    loop_free(&l);
    close(silent);
    close(closed);
}

/* Freeing the client calls back every request still in flight, once. */
static void test_free_cancels(void **state)
{
    int silent_port;
    int silent = loopback_socket(1, &silent_port);
    struct loop l;
    struct call calls[3];
    char url[128];
    loop_init(&l, NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", silent_port);
    for (int i = 0; i < 3; i++)
        start(&l, &calls[i], "POST", url, "x", 30000);
    struct timeval brief = {.tv_usec = 50000};
    event_base_loopexit(l.base, &brief);
    event_base_dispatch(l.base);
    assert_int_equal(l.pending, 3);
    rp_httpc_free(l.client);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(calls[i].out.calls, 1);
        assert_int_not_equal(calls[i].out.transport_error, 0);
        assert_non_null(strstr(calls[i].out.error, "cancelled"));
        free(calls[i].out.body);
    }
    event_base_free(l.base);
    close(silent);
}

/* TLS is verified against the system CAs plus tls.ca_file, never turned off. */
static void test_tls_verification(void **state)
{
    static const char *const cas[] = {TESTCA "ca.pem", NULL, TESTCA "other-ca.pem"};
    char url[128];
    url_for(url, sizeof(url), 1, "/status/201");
    for (size_t i = 0; i < 3; i++) {
        struct loop l;
        struct call c;
        loop_init(&l, cas[i]);
        start(&l, &c, "POST", url, "x", 10000);
        loop_run(&l);
        assert_int_equal(c.out.calls, 1);
        if (i == 0) {
            assert_int_equal(c.out.transport_error, 0);
            assert_int_equal(c.out.status, 201);
        } else {
            assert_int_equal(c.out.transport_error, CURLE_PEER_FAILED_VERIFICATION);
            assert_int_equal(c.out.status, 0);
        }
        free(c.out.body);
        loop_free(&l);
    }
    /* A CA file that cannot be read, or holds no certificate, is refused at creation. */
    struct event_base *base = event_base_new();
    assert_null(rp_httpc_new(base, TESTCA "missing.pem"));
    assert_null(rp_httpc_new(base, TESTCA "make.sh"));
    event_base_free(base);
}

static void test_bad_requests(void **state)
{
    struct loop l;
    loop_init(&l, NULL);
    struct rp_httpc_request req = {.method = "GET", .timeout_ms = 100};
    assert_int_equal(rp_httpc_send(l.client, &req), RP_EINVAL); /* no URL, no callback */
    req.url = "http://127.0.0.1:1/";
    assert_int_equal(rp_httpc_send(l.client, &req), RP_EINVAL);
    assert_int_equal(rp_httpc_in_flight(l.client), 0);
    loop_free(&l);
    rp_httpc_free(NULL);
}

/* Only http and https: a provider URL cannot make us read files. */
static void test_other_protocols_refused(void **state)
{
    struct loop l;
    struct call c;
    loop_init(&l, NULL);
    start(&l, &c, "GET", "file:///etc/passwd", NULL, 1000);
    loop_run(&l);
    assert_int_equal(c.out.transport_error, CURLE_UNSUPPORTED_PROTOCOL);
    free(c.out.body);
    loop_free(&l);
}

/* ---- Retry-After ---------------------------------------------------------------------------- */

static void test_retry_after(void **state)
{
    const long long now = 784111777000LL; /* Sun, 06 Nov 1994 08:49:37 GMT */
    assert_int_equal(rp_httpc_retry_after_ms("120", now), 120000);
    assert_int_equal(rp_httpc_retry_after_ms(" 5 ", now), 5000);
    assert_int_equal(rp_httpc_retry_after_ms("0", now), 0);
    assert_true(rp_httpc_retry_after_ms("99999999999999999999", now) > 0);
    assert_int_equal(rp_httpc_retry_after_ms(NULL, now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("-1", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("1.5", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("5s", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("soon", now), -1);
    /* The three HTTP-date forms (RFC 9110 5.6.7), 10 s ahead of now. */
    assert_int_equal(rp_httpc_retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT", now), 10000);
    assert_int_equal(rp_httpc_retry_after_ms("Sunday, 06-Nov-94 08:49:47 GMT", now), 10000);
    assert_int_equal(rp_httpc_retry_after_ms("Sun Nov  6 08:49:47 1994", now), 10000);
    /* A date in the past means now. */
    assert_int_equal(rp_httpc_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now), 0);
    assert_int_equal(rp_httpc_retry_after_ms("Sun, 06 Nov 1994 08:49:47 GMT junk", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("Sun, 06 Nov 1994", now), -1);
    assert_int_equal(rp_httpc_retry_after_ms("Sun, 06 Nov 1994 25:49:47 GMT", now), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_echo),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_send_from_callback),
        cmocka_unit_test(test_body_limit),
        cmocka_unit_test(test_timeout_and_refused),
        cmocka_unit_test(test_free_cancels),
        cmocka_unit_test(test_tls_verification),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_other_protocols_refused),
        cmocka_unit_test(test_retry_after),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
