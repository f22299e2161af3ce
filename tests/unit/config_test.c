/* Config parsing: defaults, file values, environment overrides, and the errors an operator sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "rc.h"

static char *write_temp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/rp-config-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static void defaults_apply(void **state)
{
    struct rp_config cfg;
    struct rp_err err;
    char *env[] = {NULL};
    assert_int_equal(rp_config_load(&cfg, NULL, env, &err), 0);
    assert_string_equal(rp_config_str(&cfg, "listen"), "127.0.0.1:8080");
    assert_int_equal(rp_config_int(&cfg, "http.max_body_bytes"), 1048576);
    assert_string_equal(rp_config_str(&cfg, "auth.mode"), "sigv4");
    rp_config_cleanup(&cfg);
}

static void file_then_environment(void **state)
{
    char *path = write_temp("# a comment\n\nlisten 0.0.0.0:9000   # trailing comment\n"
                            "listen.allow_plain_http yes\nlog.level debug\nhttp.threads 3\n");
    char *env[] = {"REPOINT_HTTP_THREADS=5", "REPOINT_UNRELATED=x", "PATH=/bin", NULL};
    struct rp_config cfg;
    struct rp_err err;
    assert_int_equal(rp_config_load(&cfg, path, env, &err), 0);
    assert_string_equal(rp_config_str(&cfg, "listen"), "0.0.0.0:9000");
    assert_string_equal(rp_config_str(&cfg, "log.level"), "debug");
    assert_int_equal(rp_config_int(&cfg, "http.threads"), 5);
    rp_config_cleanup(&cfg);
    unlink(path);
}

static void expect_error(const char *text, char *const *env, const char *fragment)
{
    char *path = write_temp(text);
    struct rp_config cfg;
    struct rp_err err;
    rp_err_clear(&err);
    assert_int_equal(rp_config_load(&cfg, path, env, &err), RP_EINVAL);
    if (!strstr(err.msg, fragment))
        fail_msg("'%s' does not mention '%s'", err.msg, fragment);
    unlink(path);
}

static void errors_name_line_and_problem(void **state)
{
    char *env[] = {NULL};
    expect_error("listen 127.0.0.1:1\nbogus.key 1\n", env, ":2: unknown key 'bogus.key'");
    expect_error("http.threads many\n", env, ":1: http.threads: 'many' is not an integer");
    expect_error("http.threads 0\n", env, "outside 1..256");
    expect_error("log.format xml\n", env, "not one of text|json");
    expect_error("listen 8080\n", env, "not host:port");
    expect_error("listen 10.0.0.1:8080\n", env, "plain HTTP on 10.0.0.1");
    expect_error("listen.tls_key k.pem\n", env, "go together");
    char *bad_env[] = {"REPOINT_AUTH_MODE=none", NULL};
    expect_error("", bad_env, "REPOINT_AUTH_MODE");
}

static void hostport_forms(void **state)
{
    char host[64];
    int port;
    assert_int_equal(rp_config_split_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(rp_config_split_hostport("[::1]:443", host, sizeof(host), &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 443);
    assert_int_equal(rp_config_split_hostport("host:99999", host, sizeof(host), &port), RP_EINVAL);
    assert_int_equal(rp_config_split_hostport(":80", host, sizeof(host), &port), RP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_apply),
        cmocka_unit_test(file_then_environment),
        cmocka_unit_test(errors_name_line_and_problem),
        cmocka_unit_test(hostport_forms),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
