#include "jsonv.h"
#include "rc.h"

#include <stdio.h>
#include <string.h>

static int fail(struct rp_err *err, const char *prefix, const char *name, const char *what)
{
    char field[64];
    snprintf(field, sizeof(field), "%s%s%s", prefix ? prefix : "", prefix && *prefix ? "." : "",
             name);
    return rp_err_set(err, RP_EINVAL, field, "%s", what);
}

int rp_jsonv_string(const json_t *obj, const char *prefix, const char *name, size_t max_len,
                    const char **out, struct rp_err *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail(err, prefix, name, "must be a string");
    if (json_string_length(v) > max_len) {
        char msg[64];
        snprintf(msg, sizeof(msg), "must be at most %zu characters", max_len);
        return fail(err, prefix, name, msg);
    }
    if (strlen(json_string_value(v)) != json_string_length(v))
        return fail(err, prefix, name, "must not contain NUL characters");
    *out = json_string_value(v);
    return 1;
}

int rp_jsonv_int(const json_t *obj, const char *prefix, const char *name, long long min,
                 long long max, long long *out, struct rp_err *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v))
        return fail(err, prefix, name, "must be an integer");
    long long x = json_integer_value(v);
    if (x < min || x > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "must be between %lld and %lld", min, max);
        return fail(err, prefix, name, msg);
    }
    *out = x;
    return 1;
}

int rp_jsonv_bool(const json_t *obj, const char *prefix, const char *name, int *out,
                  struct rp_err *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v))
        return fail(err, prefix, name, "must be true or false");
    *out = json_is_true(v);
    return 1;
}

int rp_jsonv_object(const json_t *obj, const char *prefix, const char *name, const json_t **out,
                    struct rp_err *err)
{
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return fail(err, prefix, name, "must be an object");
    *out = v;
    return 1;
}

int rp_jsonv_enum(const json_t *obj, const char *prefix, const char *name, const char *choices,
                  const char **out, struct rp_err *err)
{
    const char *s = NULL;
    int rc = rp_jsonv_string(obj, prefix, name, 64, &s, err);
    if (rc <= 0 || !s)
        return rc;
    size_t len = strlen(s);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t clen = bar ? (size_t)(bar - c) : strlen(c);
        if (clen == len && strncmp(c, s, len) == 0) {
            *out = s;
            return 1;
        }
        c += clen + (bar ? 1 : 0);
    }
    char msg[192];
    snprintf(msg, sizeof(msg), "must be one of %s", choices);
    for (char *p = msg; *p; p++)
        if (*p == '|')
            *p = ',';
    return fail(err, prefix, name, msg);
}

int rp_jsonv_string_map(const json_t *obj, const char *prefix, const char *name,
                        size_t max_entries, size_t max_key, size_t max_value, const json_t **out,
                        struct rp_err *err)
{
    const json_t *map = NULL;
    int rc = rp_jsonv_object(obj, prefix, name, &map, err);
    if (rc <= 0)
        return rc;
    if (json_object_size(map) > max_entries) {
        char msg[64];
        snprintf(msg, sizeof(msg), "must have at most %zu entries", max_entries);
        return fail(err, prefix, name, msg);
    }
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)map, key, value)
    {
        if (!json_is_string(value) || strlen(key) == 0 || strlen(key) > max_key ||
            json_string_length(value) > max_value)
            return fail(err, prefix, name, "has a key or value that is empty, too long or not a string");
    }
    *out = map;
    return 1;
}

int rp_jsonv_tags(const json_t *obj, const char *prefix, const json_t **out, struct rp_err *err)
{
    return rp_jsonv_string_map(obj, prefix, "tags", RP_TAGS_MAX, RP_TAG_KEY_MAX,
                               RP_TAG_VALUE_MAX, out, err);
}
