/* Routing and percent-decoding of raw paths, as the server sees them before any handler. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "http.h"

static const struct rp_route *find(const char *method, const char *path, char **params, int *n,
                                   int *status)
{
    return rp_http_find_route(method, path, params, n, status);
}

static void routes_with_decoded_params(void **state)
{
    char *params[RP_MAX_PATH_PARAMS];
    int n, status;
    const struct rp_route *r = find("GET", "/v1/apps/abc/endpoints/user%3A42%40x.com", params, &n,
                                    &status);
    assert_non_null(r);
    assert_string_equal(r->operation, "GetEndpoint");
    assert_int_equal(n, 2);
    assert_string_equal(params[0], "abc");
    assert_string_equal(params[1], "user:42@x.com");
    free(params[0]);
    free(params[1]);
    r = find("PUT", "/v1/apps/abc/channels/apns_voip_sandbox", params, &n, &status);
    assert_non_null(r);
    assert_string_equal(params[1], "apns_voip_sandbox");
    free(params[0]);
    free(params[1]);
    r = find("GET", "/v1/apps/", params, &n, &status);
    assert_non_null(r);
    assert_string_equal(r->operation, "GetApps");
}

static void not_found_method_not_allowed_bad_encoding(void **state)
{
    char *params[RP_MAX_PATH_PARAMS];
    int n, status;
    assert_null(find("GET", "/v1/nope", params, &n, &status));
    assert_int_equal(status, 404);
    assert_null(find("PATCH", "/v1/apps/abc", params, &n, &status));
    assert_int_equal(status, 405);
    assert_null(find("GET", "/v1/apps/a%zzb", params, &n, &status));
    assert_int_equal(status, 400);
    assert_null(find("GET", "/v1/apps/a%00b", params, &n, &status));
    assert_int_equal(status, 400);
    assert_null(find("GET", "/v1/apps//settings", params, &n, &status));
    assert_int_equal(status, 404);
}

static void percent_decode(void **state)
{
    char *s = rp_http_percent_decode("a%20b%2Fc", 9);
    assert_string_equal(s, "a b/c");
    free(s);
    assert_null(rp_http_percent_decode("%4", 2));
    assert_null(rp_http_percent_decode("%", 1));
    s = rp_http_percent_decode("plain+text", 10);
    assert_string_equal(s, "plain+text");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(routes_with_decoded_params),
        cmocka_unit_test(not_found_method_not_allowed_bad_encoding),
        cmocka_unit_test(percent_decode),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
