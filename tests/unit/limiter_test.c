/* The MessagesPerSecond limiter against a real redis-server started here on a free port: the
 * limit of each source and their minimum, the cache, the token bucket's upper bound under one
 * caller, several threads and several processes, and failing fast when Redis is gone. Timing is
 * only ever used for upper bounds computed from the time measured around the calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "keyspace.h"
#include "limiter.h"
#include "rc.h"
#include "store.h"
#include "util.h"

static pid_t redis_pid;
static struct rp_config cfg;

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(addr);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) ||
        getsockname(fd, (struct sockaddr *)&addr, &len))
        return -1;
    close(fd);
    return ntohs(addr.sin_port);
}

static void stop_redis(void)
{
    if (redis_pid > 0) {
        kill(redis_pid, SIGTERM);
        waitpid(redis_pid, NULL, 0);
        redis_pid = 0;
    }
}

static int group_setup(void **state)
{
    /* Writing to a connection Redis closed must fail the call, not kill the test. */
    signal(SIGPIPE, SIG_IGN);
    int port = free_port();
    if (port < 0)
        return -1;
    char port_s[16];
    snprintf(port_s, sizeof(port_s), "%d", port);
    redis_pid = fork();
    if (redis_pid < 0)
        return -1;
    if (redis_pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execlp("redis-server", "redis-server", "--port", port_s, "--bind", "127.0.0.1", "--save",
               "", "--appendonly", "no", "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    struct rp_store_conf conf = {.host = "127.0.0.1", .port = port, .timeout_ms = 500};
    rp_store_configure(&conf);
    int64_t give_up = rp_mono_ms() + 10000;
    while (!rp_store_ping()) {
        if (rp_mono_ms() > give_up) {
            stop_redis();
            return -1;
        }
        usleep(50 * 1000);
    }
    char *env[] = {"REPOINT_LIMITS_SMS_MESSAGES_PER_SECOND=300", NULL};
    struct rp_err err;
    if (rp_config_load(&cfg, NULL, env, &err))
        return -1;
    rp_ctx.cfg = &cfg;
    return 0;
}

static int group_teardown(void **state)
{
    rp_store_thread_close();
    stop_redis();
    rp_ctx.cfg = NULL;
    rp_config_cleanup(&cfg);
    return 0;
}

static void set_settings(const char *app, const char *json)
{
    char key[RP_KEY_MAX];
    rp_key_settings(key, app);
    redisReply *r = rp_store_command("SET %s %s", key, json);
    assert_true(rp_reply_ok(r));
    freeReplyObject(r);
}

static long long key_exists(const char *key)
{
    redisReply *r = rp_store_command("EXISTS %s", key);
    assert_true(rp_reply_ok(r));
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

/* The most a correct bucket can grant in elapsed_ms: the rate over that time plus one full
 * bucket, plus one token for rounding between Redis's clock and ours. */
static long long upper_bound(long rate, int64_t elapsed_ms)
{
    return rate * elapsed_ms / 1000 + rp_limiter_burst(rate) + 1;
}

/* Takes batches of `batch` for about ms milliseconds without pausing; returns the total, or -1
 * after a failed or malformed take (no cmocka assertion here: threads and children run it). */
static long long take_for(const char *app, const char *type, int batch, int64_t ms)
{
    long long total = 0;
    int64_t start = rp_mono_ms();
    for (int calls = 0; calls < 20 || rp_mono_ms() - start < ms; calls++) {
        int granted = -1;
        int64_t wait_ms = -1;
        if (rp_limiter_take(app, type, batch, &granted, &wait_ms) != 0 || granted < 0 ||
            granted > batch || (granted == batch ? wait_ms != 0 : wait_ms < 1))
            return -1;
        total += granted;
    }
    return total;
}

static void pure_helpers(void **state)
{
    assert_int_equal(rp_limiter_burst(0), 0);
    assert_int_equal(rp_limiter_burst(5), 1);
    assert_int_equal(rp_limiter_burst(100), 10);
    assert_int_equal(rp_limiter_burst(20000), 2000);
    struct rp_limit_sources src = {0, 0, 0};
    assert_int_equal(rp_limit_sources_effective(&src), 0);
    src = (struct rp_limit_sources){300, 0, 0};
    assert_int_equal(rp_limit_sources_effective(&src), 300);
    src = (struct rp_limit_sources){0, 200, 500};
    assert_int_equal(rp_limit_sources_effective(&src), 200);
    src = (struct rp_limit_sources){300, 200, 50};
    assert_int_equal(rp_limit_sources_effective(&src), 50);
    char key[RP_KEY_MAX];
    rp_key_rate_state(key, "abc", "SMS");
    assert_string_equal(key, "rp:{a:abc}:bucket:SMS");
    rp_key_rate_override(key, "abc", "SMS");
    assert_string_equal(key, "rp:{a:abc}:limit:SMS");
}

static void invalid_arguments(void **state)
{
    int granted;
    int64_t wait_ms;
    long rate;
    char long_app[80];
    memset(long_app, 'a', sizeof(long_app) - 1);
    long_app[sizeof(long_app) - 1] = '\0';
    assert_int_equal(rp_limiter_take("app", "EMAIL", 0, &granted, &wait_ms), RP_EINVAL);
    assert_int_equal(rp_limiter_take("app", "EMAIL", RP_LIMITER_MAX_WANT + 1, &granted, &wait_ms),
                     RP_EINVAL);
    assert_int_equal(rp_limiter_take("", "EMAIL", 1, &granted, &wait_ms), RP_EINVAL);
    assert_int_equal(rp_limiter_take(long_app, "EMAIL", 1, &granted, &wait_ms), RP_EINVAL);
    assert_int_equal(rp_limiter_effective("app", "", &rate), RP_EINVAL);
    assert_int_equal(rp_limiter_set_override("app", "SMS", RP_LIMITER_OVERRIDE_MAX + 1), RP_EINVAL);
    assert_int_equal(rp_limiter_set_override("app", "SMS", -1), RP_EINVAL);
}

static void unlimited_grants_everything(void **state)
{
    long rate = -1;
    assert_int_equal(rp_limiter_effective("unlimited", "EMAIL", &rate), 0);
    assert_int_equal(rate, 0);
    int granted;
    int64_t wait_ms;
    for (int i = 0; i < 100; i++) {
        assert_int_equal(rp_limiter_take("unlimited", "EMAIL", 1000, &granted, &wait_ms), 0);
        assert_int_equal(granted, 1000);
        assert_int_equal(wait_ms, 0);
    }
    /* No bucket was ever made: an unlimited take does not go to Redis for tokens. */
    char key[RP_KEY_MAX];
    rp_key_rate_state(key, "unlimited", "EMAIL");
    assert_int_equal(key_exists(key), 0);
}

static void one_caller_stays_under_the_limit(void **state)
{
    assert_int_equal(rp_limiter_set_override("single", "GCM", 100), 0);
    int64_t start = rp_mono_ms();
    long long total = take_for("single", "GCM", 1, 1000);
    int64_t elapsed = rp_mono_ms() - start;
    assert_true(total <= upper_bound(100, elapsed));
    /* A fresh bucket is full: the burst is there whatever the timing. */
    assert_true(total >= rp_limiter_burst(100));
    /* The bucket's key expires once it would be full again. */
    char key[RP_KEY_MAX];
    rp_key_rate_state(key, "single", "GCM");
    redisReply *r = rp_store_command("PTTL %s", key);
    assert_true(rp_reply_ok(r));
    assert_true(r->integer > 0 && r->integer <= 1000 + 1000);
    freeReplyObject(r);
}

static void batches_and_wait(void **state)
{
    int granted;
    int64_t wait_ms;
    assert_int_equal(rp_limiter_set_override("batch", "ADM", 100), 0);
    /* A fresh bucket holds exactly one burst (10 tokens at 100/s); the next token is one
     * interval away: 10 ms at the nominal rate, paced at RP_LIMITER_PACING. */
    const int64_t interval = (int64_t)(1000.0 / (100 * RP_LIMITER_PACING)) + 1;
    assert_int_equal(rp_limiter_take("batch", "ADM", 50, &granted, &wait_ms), 0);
    assert_int_equal(granted, 10);
    assert_true(wait_ms >= 1 && wait_ms <= interval);
    for (int i = 0; i < 20; i++) {
        assert_int_equal(rp_limiter_take("batch", "ADM", 50, &granted, &wait_ms), 0);
        assert_true(granted >= 0 && granted <= 10);
        assert_true(wait_ms >= 1 && wait_ms <= interval);
    }
    /* At 1 per second the bucket holds one token and the next is up to one (paced) second
     * away. */
    const int64_t second = (int64_t)(1000.0 / RP_LIMITER_PACING) + 1;
    assert_int_equal(rp_limiter_set_override("batch", "BAIDU", 1), 0);
    assert_int_equal(rp_limiter_take("batch", "BAIDU", 5, &granted, &wait_ms), 0);
    assert_int_equal(granted, 1);
    assert_true(wait_ms >= 1 && wait_ms <= second);
    assert_int_equal(rp_limiter_take("batch", "BAIDU", 1, &granted, &wait_ms), 0);
    if (granted == 0)
        assert_true(wait_ms >= 1 && wait_ms <= second);
}

struct taker {
    const char *app, *type;
    int batch;
    long long total;
};

static void *taker_thread(void *arg)
{
    struct taker *t = arg;
    t->total = take_for(t->app, t->type, t->batch, 1000);
    rp_store_thread_close();
    return NULL;
}

static void threads_share_one_limit(void **state)
{
    assert_int_equal(rp_limiter_set_override("threads", "APNS", 200), 0);
    struct taker takers[2] = {{"threads", "APNS", 5, 0}, {"threads", "APNS", 3, 0}};
    pthread_t tids[2];
    int64_t start = rp_mono_ms();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&tids[i], NULL, taker_thread, &takers[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(tids[i], NULL);
    int64_t elapsed = rp_mono_ms() - start;
    assert_true(takers[0].total >= 0 && takers[1].total >= 0);
    long long total = takers[0].total + takers[1].total;
    assert_true(total <= upper_bound(200, elapsed));
    assert_true(total >= rp_limiter_burst(200));
}

/* As two worker processes (two instances) would: each has its own connection and its own
 * cache, and the bucket in Redis is the only thing they share. */
static void processes_share_one_limit(void **state)
{
    assert_int_equal(rp_limiter_set_override("procs", "APNS_SANDBOX", 200), 0);
    rp_store_thread_close(); /* each child opens its own connection */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pids[2];
    int64_t start = rp_mono_ms();
    for (int i = 0; i < 2; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            long long total = take_for("procs", "APNS_SANDBOX", 4, 1000);
            if (total < 0)
                _exit(1);
            _exit(write(fds[1], &total, sizeof(total)) == (ssize_t)sizeof(total) ? 0 : 1);
        }
    }
    close(fds[1]);
    long long total = 0;
    for (int i = 0; i < 2; i++) {
        int status;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    int64_t elapsed = rp_mono_ms() - start;
    for (int i = 0; i < 2; i++) {
        long long one;
        assert_int_equal(read(fds[0], &one, sizeof(one)), (ssize_t)sizeof(one));
        total += one;
    }
    close(fds[0]);
    assert_true(total <= upper_bound(200, elapsed));
    assert_true(total >= rp_limiter_burst(200));
}

static void effective_is_the_lowest_source(void **state)
{
    long rate;
    struct rp_limit_sources src;
    /* Config alone: limits.sms.messages_per_second 300 (set in group_setup). */
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 300);
    /* A channel type the config table does not know has no ceiling (and does not abort). */
    assert_int_equal(rp_limiter_effective("sources", "NOPE", &rate), 0);
    assert_int_equal(rate, 0);

    set_settings("sources", "{\"Limits\":{\"Daily\":5,\"MessagesPerSecond\":200}}");
    rp_limiter_invalidate("sources");
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 200);
    assert_int_equal(rp_limiter_effective("sources", "EMAIL", &rate), 0);
    assert_int_equal(rate, 200);

    assert_int_equal(rp_limiter_set_override("sources", "SMS", 50), 0);
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 50);
    assert_int_equal(rp_limiter_effective("sources", "EMAIL", &rate), 0);
    assert_int_equal(rate, 200);

    /* A change made elsewhere (another instance) is seen once the cache entry goes: at once
     * after an invalidation. Only when this runs inside the cache time is the old value known
     * to be still served. */
    int64_t primed = rp_mono_ms();
    char key[RP_KEY_MAX];
    rp_key_rate_override(key, "sources", "SMS");
    redisReply *r = rp_store_command("SET %s 20", key);
    assert_true(rp_reply_ok(r));
    freeReplyObject(r);
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    if (rp_mono_ms() - primed < RP_LIMITER_CACHE_MS / 2)
        assert_int_equal(rate, 50);
    rp_limiter_invalidate("sources");
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 20);

    assert_int_equal(rp_limiter_sources("sources", "SMS", &src), 0);
    assert_int_equal(src.config, 300);
    assert_int_equal(src.application, 200);
    assert_int_equal(src.override_value, 20);

    /* Removing the override leaves the lowest of the others. */
    assert_int_equal(rp_limiter_set_override("sources", "SMS", 0), 0);
    assert_int_equal(key_exists(key), 0);
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 200);

    /* Settings that are not JSON, or carry no usable number, set no limit. */
    set_settings("sources", "not json");
    rp_limiter_invalidate("sources");
    assert_int_equal(rp_limiter_effective("sources", "SMS", &rate), 0);
    assert_int_equal(rate, 300);
    set_settings("sources", "{\"Limits\":{\"MessagesPerSecond\":\"9\"}}");
    rp_limiter_invalidate("sources");
    assert_int_equal(rp_limiter_effective("sources", "EMAIL", &rate), 0);
    assert_int_equal(rate, 0);
}

/* Last: stops Redis. */
static void store_failure_is_reported(void **state)
{
    assert_int_equal(rp_limiter_set_override("down", "SMS", 100), 0);
    long rate;
    assert_int_equal(rp_limiter_effective("down", "SMS", &rate), 0);
    assert_int_equal(rate, 100);
    stop_redis();
    int granted = -1;
    int64_t wait_ms = -1;
    /* The limit is cached but the bucket is out of reach. */
    assert_int_equal(rp_limiter_take("down", "SMS", 5, &granted, &wait_ms), RP_ESTORE);
    assert_int_equal(granted, 0);
    /* The limit itself cannot be looked up. */
    rp_limiter_invalidate("down");
    assert_int_equal(rp_limiter_take("down", "SMS", 5, &granted, &wait_ms), RP_ESTORE);
    assert_int_equal(granted, 0);
    assert_int_equal(rp_limiter_effective("down", "EMAIL", &rate), RP_ESTORE);
    assert_int_equal(rp_limiter_set_override("down", "SMS", 10), RP_ESTORE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pure_helpers),
        cmocka_unit_test(invalid_arguments),
        cmocka_unit_test(unlimited_grants_everything),
        cmocka_unit_test(one_caller_stays_under_the_limit),
        cmocka_unit_test(batches_and_wait),
        cmocka_unit_test(threads_share_one_limit),
        cmocka_unit_test(processes_share_one_limit),
        cmocka_unit_test(effective_is_the_lowest_source),
        cmocka_unit_test(store_failure_is_reported),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
