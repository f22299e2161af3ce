/* Fuzzes the template engine (templates/): arbitrary bytes compiled as a template and, when they
 * compile, rendered against a fixed endpoint, Substitutions and defaults into a large and a tiny
 * buffer. Beyond "no crash, no leak": a render answers 0 or one of its error codes, never writes
 * past its buffer (ASan), keeps within the bound, NUL-terminates, and a compile error carries a
 * position inside the source. Input that is a JSON object also goes through the Create/Update
 * request validation of each template type (gateway/template_store.c), which compiles every
 * templated member of a request body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rc.h"
#include "template_store.h"
#include "templates/template.h"

static json_t *endpoint, *subs, *defaults;

static void init(void)
{
    if (endpoint)
        return;
    endpoint = json_loads("{\"Id\": \"e\", \"Address\": \"+12065550100\", \"Attributes\": {\"A\":"
                          " [\"x\", \"<y>\"]}, \"User\": {\"UserAttributes\": {\"N\": [\"Ann\"]}},"
                          " \"Metrics\": {\"m\": 2.5}, \"Obj\": {\"L\": [{\"k\": 1}, {\"k\": 2}]}}",
                          0, NULL);
    subs = json_loads("{\"name\": [\"Sam\"], \"d\": [\"2026-11-22T10:33:00Z\"], \"n\": [\"12\"],"
                      " \"list\": [\"a\", \"b\", \"c\"]}", 0, NULL);
    defaults = json_loads("{\"x\": \"dflt\"}", 0, NULL);
    if (!endpoint || !subs || !defaults)
        abort();
}

static void check_render(const struct rp_tmpl *t, const struct rp_tmpl_vars *vars, size_t cap)
{
    char *buf = malloc(cap);
    size_t len = 12345;
    struct rp_tmpl_error err;
    int rc = rp_tmpl_render(t, vars, buf, cap, &len, &err);
    if (rc != 0 && rc != RP_TMPL_EMISSING && rc != RP_TMPL_ETOOBIG && rc != RP_TMPL_EVALUE)
        abort();
    if (len >= cap || buf[len] != '\0' || (rc != 0 && len != 0))
        abort();
    if (rc != 0 && !memchr(err.msg, '\0', sizeof(err.msg)))
        abort();
    free(buf);
}

static void check_request(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!json_is_object(body)) {
        json_decref(body);
        return;
    }
    static const char *const types[] = {"EMAIL", "SMS", "PUSH"};
    for (size_t i = 0; i < 3; i++) {
        struct rp_err err;
        rp_err_clear(&err);
        int rc = rp_template_validate(types[i], body, &err);
        if (rc != 0 && (rc != RP_EINVAL || !err.msg[0]))
            abort();
        struct rp_tmpl_set *set = NULL;
        if (rc == 0 && rp_template_compile(types[i], body, "fuzz", &set, &err) == 0)
            rp_tmpl_set_unref(set);
    }
    json_decref(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    check_request(data, size);
    struct rp_tmpl_error err;
    struct rp_tmpl *t = rp_tmpl_compile((const char *)data, size, &err);
    if (!t) {
        if (size <= RP_TMPL_MAX_SOURCE && (err.line < 1 || err.column < 1 || !err.msg[0]))
            abort();
        return 0;
    }
    struct rp_tmpl_vars vars = {.substitutions = subs, .endpoint = endpoint, .defaults = defaults,
                                .now_ms = 1795343580000LL};
    check_render(t, &vars, 64 * 1024);
    check_render(t, &vars, 16);
    rp_tmpl_vars_prepare(&vars); /* as sends render: endpoint paths start at resolved objects */
    check_render(t, &vars, 64 * 1024);
    struct rp_tmpl_vars empty = {0};
    check_render(t, &empty, 4096);
    rp_tmpl_free(t);
    return 0;
}
