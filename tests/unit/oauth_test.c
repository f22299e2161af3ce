/* Tests for channels/oauth.c: the token-answer parser, and the cache against a token endpoint
 * inside the test (libmicrohttpd, plain HTTP) on a libevent loop in this thread: one refresh
 * for many waiting sends, reuse, invalidation after a 401, backoff after a failure, refresh
 * before expiry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <event2/event.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <unistd.h>

#include "channels/httpc.h"
#include "channels/oauth.h"
#include "gateway/util.h"

#define WAITERS 50

static struct MHD_Daemon *server;
static int port;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int requests, fail_status, expires_in = 3600;
static char last_body[512];

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls)
{
    if (!*con_cls) {
        *con_cls = conn;
        return MHD_YES;
    }
    if (*data_size) {
        pthread_mutex_lock(&lock);
        snprintf(last_body, sizeof(last_body), "%.*s", (int)*data_size, data);
        pthread_mutex_unlock(&lock);
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&lock);
    int n = ++requests, status = fail_status ? fail_status : 200, exp = expires_in;
    pthread_mutex_unlock(&lock);
    char *body = rp_malloc(256);
    if (status == 200)
        snprintf(body, 256, "{\"access_token\":\"tok-%d\",\"expires_in\":%d}", n, exp);
    else
        snprintf(body, 256, "{\"error\":\"invalid_grant\",\"error_description\":\"no\"}");
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
    MHD_destroy_response(r);
    return rc;
}

static int setup(void **state)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    server = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO, 0, NULL, NULL,
                              on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_END);
    assert_non_null(server);
    port = MHD_get_daemon_info(server, MHD_DAEMON_INFO_BIND_PORT)->port;
    return 0;
}

static int teardown(void **state)
{
    MHD_stop_daemon(server);
    return 0;
}

struct got {
    int calls, ok;
    char token[64];
    enum rp_oauth_failure failure;
    char message[256];
};

static void on_token(void *arg, const char *token, enum rp_oauth_failure failure,
                     const char *message)
{
    struct got *g = arg;
    g->calls++;
    g->failure = failure;
    if (token) {
        g->ok++;
        snprintf(g->token, sizeof(g->token), "%s", token);
    }
    snprintf(g->message, sizeof(g->message), "%s", message ? message : "");
}

static char *body_fn(void *source, const char **why)
{
    return rp_strdup((const char *)source);
}

/* Runs the loop until every got has its callback (or 5 s pass). */
static void run_until(struct event_base *base, struct got *g, size_t n)
{
    int64_t give_up = rp_mono_ms() + 5000;
    for (;;) {
        size_t done = 0;
        for (size_t i = 0; i < n; i++)
            done += g[i].calls > 0;
        if (done == n || rp_mono_ms() > give_up)
            break;
        event_base_loop(base, EVLOOP_ONCE);
    }
}

struct fixture {
    struct event_base *base;
    struct rp_httpc *http;
    struct rp_oauth *cache;
    struct rp_oauth_cred *cred;
};

static void fixture_init(struct fixture *f)
{
    pthread_mutex_lock(&lock);
    requests = 0;
    fail_status = 0;
    expires_in = 3600;
    pthread_mutex_unlock(&lock);
    f->base = event_base_new();
    f->http = rp_httpc_new(f->base, NULL);
    f->cache = rp_oauth_new(f->http, 5000, "GCM");
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/token", port);
    assert_null(rp_oauth_find(f->cache, "cred-1"));
    f->cred = rp_oauth_add(f->cache, "cred-1", url, body_fn, rp_strdup("grant_type=x&a=b"), free);
    assert_ptr_equal(rp_oauth_find(f->cache, "cred-1"), f->cred);
}

static void fixture_free(struct fixture *f)
{
    rp_httpc_free(f->http);
    rp_oauth_free(f->cache);
    event_base_free(f->base);
}

static int requests_now(void)
{
    pthread_mutex_lock(&lock);
    int n = requests;
    pthread_mutex_unlock(&lock);
    return n;
}

static void test_one_refresh_for_many_waiters(void **state)
{
    struct fixture f;
    fixture_init(&f);
    struct got g[WAITERS];
    memset(g, 0, sizeof(g));
    for (int i = 0; i < WAITERS; i++)
        rp_oauth_token(f.cred, on_token, &g[i]);
    assert_int_equal(g[0].calls, 0); /* nobody is answered before the endpoint is */
    run_until(f.base, g, WAITERS);
    for (int i = 0; i < WAITERS; i++) {
        assert_int_equal(g[i].ok, 1);
        assert_string_equal(g[i].token, "tok-1");
    }
    assert_int_equal(requests_now(), 1);
    assert_int_equal(rp_oauth_refreshes(f.cache), 1);
    pthread_mutex_lock(&lock);
    assert_string_equal(last_body, "grant_type=x&a=b");
    pthread_mutex_unlock(&lock);

    /* Cached: answered at once, no request. */
    struct got again = {0};
    rp_oauth_token(f.cred, on_token, &again);
    assert_int_equal(again.ok, 1);
    assert_string_equal(again.token, "tok-1");
    assert_int_equal(requests_now(), 1);

    /* A 401 with an old token does not throw the current one away; with the current one it
     * does, once. */
    rp_oauth_invalidate(f.cred, "tok-0");
    struct got same = {0};
    rp_oauth_token(f.cred, on_token, &same);
    assert_string_equal(same.token, "tok-1");
    rp_oauth_invalidate(f.cred, "tok-1");
    rp_oauth_invalidate(f.cred, "tok-1");
    struct got fresh = {0};
    rp_oauth_token(f.cred, on_token, &fresh);
    run_until(f.base, &fresh, 1);
    assert_string_equal(fresh.token, "tok-2");
    assert_int_equal(requests_now(), 2);
    fixture_free(&f);
}

static void test_failure_backs_off(void **state)
{
    struct fixture f;
    fixture_init(&f);
    pthread_mutex_lock(&lock);
    fail_status = 503;
    pthread_mutex_unlock(&lock);
    struct got g[3];
    memset(g, 0, sizeof(g));
    rp_oauth_token(f.cred, on_token, &g[0]);
    rp_oauth_token(f.cred, on_token, &g[1]);
    run_until(f.base, g, 2);
    assert_int_equal(g[0].ok, 0);
    assert_int_equal(g[0].failure, RP_OAUTH_UNAVAILABLE);
    assert_int_equal(g[1].failure, RP_OAUTH_UNAVAILABLE);
    assert_non_null(strstr(g[0].message, "HTTP 503"));
    /* Within the backoff: refused at once, the endpoint is not asked again. */
    rp_oauth_token(f.cred, on_token, &g[2]);
    assert_int_equal(g[2].calls, 1);
    assert_int_equal(g[2].failure, RP_OAUTH_UNAVAILABLE);
    assert_int_equal(requests_now(), 1);
    /* After it (1 s), the endpoint is asked again and its recovery ends the failures. */
    pthread_mutex_lock(&lock);
    fail_status = 0;
    pthread_mutex_unlock(&lock);
    usleep(1100 * 1000);
    struct got ok = {0};
    rp_oauth_token(f.cred, on_token, &ok);
    run_until(f.base, &ok, 1);
    assert_int_equal(ok.ok, 1);
    assert_int_equal(requests_now(), 2);
    fixture_free(&f);
}

static void test_rejected_credentials(void **state)
{
    struct fixture f;
    fixture_init(&f);
    pthread_mutex_lock(&lock);
    fail_status = 400;
    pthread_mutex_unlock(&lock);
    struct got g = {0};
    rp_oauth_token(f.cred, on_token, &g);
    run_until(f.base, &g, 1);
    assert_int_equal(g.failure, RP_OAUTH_REJECTED);
    assert_non_null(strstr(g.message, "invalid_grant"));
    fixture_free(&f);
}

static void test_refresh_before_expiry(void **state)
{
    struct fixture f;
    fixture_init(&f);
    pthread_mutex_lock(&lock);
    expires_in = 1; /* used until 0.75 s, a quarter of its life early */
    pthread_mutex_unlock(&lock);
    struct got a = {0}, b = {0}, c = {0};
    rp_oauth_token(f.cred, on_token, &a);
    run_until(f.base, &a, 1);
    rp_oauth_token(f.cred, on_token, &b);
    assert_string_equal(b.token, a.token);
    usleep(800 * 1000);
    rp_oauth_token(f.cred, on_token, &c);
    run_until(f.base, &c, 1);
    assert_string_equal(c.token, "tok-2");
    fixture_free(&f);
}

static void test_waiters_fail_when_freed(void **state)
{
    struct fixture f;
    fixture_init(&f);
    struct got g = {0};
    rp_oauth_token(f.cred, on_token, &g);
    fixture_free(&f); /* the request is cancelled: the waiter still hears once */
    assert_int_equal(g.calls, 1);
    assert_int_equal(g.failure, RP_OAUTH_UNAVAILABLE);
}

static void test_parse_answer(void **state)
{
    char *tok = NULL, msg[128];
    long long exp = 0;
    const char ok[] = "{\"access_token\":\"abc\",\"expires_in\":\"120\",\"token_type\":\"Bearer\"}";
    assert_int_equal(rp_oauth_parse_answer(200, ok, strlen(ok), &tok, &exp, msg, sizeof(msg)),
                     RP_OAUTH_OK);
    assert_string_equal(tok, "abc");
    assert_int_equal(exp, 120);
    free(tok);
    const char none[] = "{\"token_type\":\"Bearer\"}";
    assert_int_equal(rp_oauth_parse_answer(200, none, strlen(none), &tok, &exp, msg, sizeof(msg)),
                     RP_OAUTH_UNAVAILABLE);
    assert_null(tok);
    const char bad[] = "{\"error\":\"invalid_client\",\"error_description\":\"bad\\nsecret\"}";
    assert_int_equal(rp_oauth_parse_answer(401, bad, strlen(bad), &tok, &exp, msg, sizeof(msg)),
                     RP_OAUTH_REJECTED);
    assert_string_equal(msg, "token endpoint answered HTTP 401: invalid_client: bad?secret");
    assert_int_equal(rp_oauth_parse_answer(502, "<html>", 6, &tok, &exp, msg, sizeof(msg)),
                     RP_OAUTH_UNAVAILABLE);
    char *e = rp_oauth_form_escape("a b+c/d~e.f_g-h");
    assert_string_equal(e, "a%20b%2Bc%2Fd~e.f_g-h");
    free(e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_answer),
        cmocka_unit_test(test_one_refresh_for_many_waiters),
        cmocka_unit_test(test_failure_backs_off),
        cmocka_unit_test(test_rejected_credentials),
        cmocka_unit_test(test_refresh_before_expiry),
        cmocka_unit_test(test_waiters_fail_when_freed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
