#include "settings.h"

#include <string.h>

#include "../gateway/jsonv.h"
#include "../gateway/rc.h"
#include "../gateway/util.h"

int rp_settings_object(const json_t *settings, struct rp_err *err)
{
    if (!json_is_object(settings))
        return rp_err_set(err, RP_EINVAL, "", "the channel settings must be a JSON object");
    return 0;
}

int rp_settings_string(const json_t *settings, const char *key, const char **out,
                       struct rp_err *err)
{
    const char *s = NULL;
    int rc = rp_jsonv_string(settings, NULL, key, RP_SETTINGS_MAX_STRING, &s, err);
    *out = rc > 0 && *s ? s : NULL;
    return rc < 0 ? rc : 0;
}

int rp_settings_required(const json_t *settings, const char *key, const char **out,
                         struct rp_err *err)
{
    int rc = rp_settings_string(settings, key, out, err);
    if (rc < 0)
        return rc;
    if (!*out)
        return rp_err_set(err, RP_EINVAL, key, "is required");
    return 0;
}

int rp_settings_bool(const json_t *settings, const char *key, bool dflt, bool *out,
                     struct rp_err *err)
{
    int v = 0;
    int rc = rp_jsonv_bool(settings, NULL, key, &v, err);
    *out = rc > 0 ? v != 0 : dflt;
    return rc < 0 ? rc : 0;
}

int rp_settings_printable(const char *s, size_t max, bool spaces_ok, const char *field,
                          struct rp_err *err)
{
    size_t len = strlen(s);
    if (len > max)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %zu characters", max);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' && !spaces_ok)
            return rp_err_set(err, RP_EINVAL, field, "must not contain spaces");
        if (c < 0x20 || c > 0x7e)
            return rp_err_set(err, RP_EINVAL, field, "must be printable ASCII");
    }
    return 0;
}

int rp_settings_enabled(const json_t *settings, json_t *response, struct rp_err *err)
{
    bool enabled;
    int rc = rp_settings_bool(settings, "Enabled", true, &enabled, err);
    if (rc < 0)
        return rc;
    rp_settings_put(response, "Enabled", json_boolean(enabled));
    return 0;
}

void rp_settings_put(json_t *response, const char *key, json_t *value)
{
    /* json_object_set_new fails only on allocation (or a non-object, a programming error). */
    if (!value || json_object_set_new(response, key, value) != 0)
        rp_panic("cannot set %s in a channel response", key);
}
