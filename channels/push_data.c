/* The Pinpoint Android SDK's data members (see push_data.h). */
#include "push_data.h"

#include <string.h>

#include "../gateway/rc.h"

static const char *str(const json_t *content, const char *key)
{
    const char *s = json_string_value(json_object_get(content, key));
    return s && *s ? s : NULL;
}

static void put_str(json_t *obj, const char *key, const char *value)
{
    if (value)
        json_object_set_new(obj, key, json_string(value));
}

int rp_push_data_check(const json_t *data, const char *field, struct rp_err *err)
{
    if (!data)
        return 0;
    if (!json_is_object(data))
        return rp_err_set(err, RP_EINVAL, field, "must be an object of strings");
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)data, k, v) if (!json_is_string(v)) return rp_err_set(
        err, RP_EINVAL, field, "values must be strings");
    return 0;
}

json_t *rp_push_sdk_data(const json_t *content, struct rp_err *err)
{
    const json_t *given = json_object_get(content, "Data");
    if (rp_push_data_check(given, "Data", err) < 0)
        return NULL;
    json_t *data = given ? json_deep_copy(given) : json_object();
    put_str(data, "pinpoint.notification.title", str(content, "Title"));
    put_str(data, "pinpoint.notification.body", str(content, "Body"));
    put_str(data, "pinpoint.notification.imageUrl", str(content, "ImageUrl"));
    put_str(data, "pinpoint.notification.imageIconUrl", str(content, "ImageIconUrl"));
    put_str(data, "pinpoint.notification.imageSmallIconUrl", str(content, "SmallImageIconUrl"));
    put_str(data, "pinpoint.notification.icon", str(content, "IconReference"));
    put_str(data, "pinpoint.notification.sound", str(content, "Sound"));
    if (json_is_true(json_object_get(content, "SilentPush")))
        put_str(data, "pinpoint.notification.silentPush", "1");
    const char *action = str(content, "Action"), *url = str(content, "Url");
    if (action && strcmp(action, "URL") == 0 && url)
        put_str(data, "pinpoint.url", url);
    else if (action && strcmp(action, "DEEP_LINK") == 0 && url)
        put_str(data, "pinpoint.deeplink", url);
    else
        put_str(data, "pinpoint.openApp", "true");
    return data;
}
