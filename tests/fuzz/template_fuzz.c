/* Fuzzes the template engine (templates/): arbitrary bytes compiled as a template and, when they
 * compile, rendered against a fixed endpoint, Substitutions and defaults into a large and a tiny
 * buffer. Beyond "no crash, no leak": a render answers 0 or one of its error codes, never writes
 * past its buffer (ASan), keeps within the bound, NUL-terminates, and a compile error carries a
 * position inside the source. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
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
    struct rp_tmpl_vars empty = {0};
    check_render(t, &empty, 4096);
    rp_tmpl_free(t);
    return 0;
}
