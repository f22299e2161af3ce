/* The compiled-template cache (templates/template_cache.c): lookups by exact key, replacement on
 * a colliding insert, dropping a template's entries by prefix while a send still holds a
 * reference, and several threads rendering one compiled set while others replace it (run under
 * ASan in CI: a set freed while in use would show). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <string.h>

#include "templates/template_cache.h"

static struct rp_tmpl_set *make_set(const char *key, const char *src)
{
    struct rp_tmpl_set *set = rp_tmpl_set_new(key);
    struct rp_tmpl_error err;
    set->parts[0].tmpl = rp_tmpl_compile(src, strlen(src), &err);
    assert_non_null(set->parts[0].tmpl);
    strcpy(set->parts[0].name, "Body");
    set->n_parts = 1;
    return set;
}

static void test_get_put_drop(void **state)
{
    (void)state;
    rp_tmpl_cache_init(64);
    assert_null(rp_tmpl_cache_get("SMS\na\n1\n5"));
    struct rp_tmpl_set *s = make_set("SMS\na\n1\n5", "Hi {{name}}");
    rp_tmpl_cache_put(s);
    struct rp_tmpl_set *got = rp_tmpl_cache_get("SMS\na\n1\n5");
    assert_ptr_equal(got, s);
    assert_non_null(rp_tmpl_set_part(got, "Body"));
    assert_null(rp_tmpl_set_part(got, "Subject"));
    assert_null(rp_tmpl_cache_get("SMS\na\n1\n6")); /* another revision is another key */
    rp_tmpl_cache_drop_prefix("SMS\na\n");
    assert_null(rp_tmpl_cache_get("SMS\na\n1\n5"));
    /* Our references outlive the cache's: still usable. */
    char out[64];
    size_t len;
    json_t *subs = json_pack("{s:[s]}", "name", "Ann");
    struct rp_tmpl_vars vars = {.substitutions = subs};
    assert_int_equal(rp_tmpl_render(got->parts[0].tmpl, &vars, out, sizeof(out), &len, NULL), 0);
    assert_string_equal(out, "Hi Ann");
    json_decref(subs);
    rp_tmpl_set_unref(got);
    rp_tmpl_set_unref(s);
}

struct worker {
    json_t *subs;
    int failures;
};

static void *render_loop(void *arg)
{
    struct worker *w = arg;
    struct rp_tmpl_vars vars = {.substitutions = w->subs};
    for (int i = 0; i < 2000; i++) {
        struct rp_tmpl_set *set = rp_tmpl_cache_get("EMAIL\nshared\n1\n1");
        if (!set) {
            set = make_set("EMAIL\nshared\n1\n1", "<b>{{name}}</b>{{#each list}}{{this}}{{/each}}");
            rp_tmpl_cache_put(set);
        }
        char out[128];
        size_t len;
        if (rp_tmpl_render(set->parts[0].tmpl, &vars, out, sizeof(out), &len, NULL) != 0 ||
            strcmp(out, "<b>Ann</b>xy") != 0)
            w->failures++;
        rp_tmpl_set_unref(set);
        if (i % 100 == 0)
            rp_tmpl_cache_drop_prefix("EMAIL\nshared\n");
    }
    return NULL;
}

static void test_threads_share_and_replace(void **state)
{
    (void)state;
    json_t *subs = json_pack("{s:[s], s:[s,s]}", "name", "Ann", "list", "x", "y");
    pthread_t th[4];
    struct worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.subs = subs};
        assert_int_equal(pthread_create(&th[i], NULL, render_loop, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    rp_tmpl_cache_drop_prefix("");
    json_decref(subs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_put_drop),
        cmocka_unit_test(test_threads_share_and_replace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
