#include "app_events.h"
#include "endpoint.h"
#include "events.h"
#include "rc.h"

#include <string.h>

/* A string member of obj no longer than max, or NULL when absent (a null counts as absent).
 * -1 (err set) when it is there but not such a string. */
static int optional_string(const json_t *obj, const char *name, size_t max, const char **out,
                           struct rp_err *err)
{
    const json_t *v = json_object_get(obj, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || json_string_length(v) > max) {
        rp_err_set(err, RP_EINVAL, name, "must be a string of at most %zu characters", max);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* A required ISO 8601 member as Unix milliseconds. */
static int timestamp(const json_t *obj, const char *name, const char *path, int64_t *ms,
                     struct rp_err *err)
{
    const char *text = json_string_value(json_object_get(obj, name));
    if (!text || !rp_iso8601_parse_ms(text, ms)) {
        rp_err_set(err, RP_EINVAL, path, "is required: an ISO 8601 date and time");
        return -1;
    }
    return 0;
}

static void set_str(json_t *obj, const char *name, const char *value)
{
    if (value && *value)
        json_object_set_new(obj, name, json_string(value));
}

/* Attributes (strings) and Metrics (numbers), at most RP_APP_EVENT_KEYS_MAX together. */
static int check_maps(const json_t *event, struct rp_err *err)
{
    size_t keys = 0;
    static const char *const maps[] = {"Attributes", "Metrics"};
    for (int m = 0; m < 2; m++) {
        const json_t *map = json_object_get(event, maps[m]);
        if (!map || json_is_null(map))
            continue;
        if (!json_is_object(map)) {
            rp_err_set(err, RP_EINVAL, maps[m], "must be an object");
            return -1;
        }
        const char *k;
        const json_t *v;
        json_object_foreach((json_t *)map, k, v)
        {
            int ok = m == 0 ? json_is_string(v) && json_string_length(v) <= RP_APP_EVENT_VALUE_MAX
                            : json_is_number(v);
            if (!*k || strlen(k) > RP_APP_EVENT_KEY_MAX || !ok) {
                if (m == 0)
                    rp_err_set(err, RP_EINVAL, maps[m],
                               "keys are 1-%d characters, values strings of at most %d",
                               RP_APP_EVENT_KEY_MAX, RP_APP_EVENT_VALUE_MAX);
                else
                    rp_err_set(err, RP_EINVAL, maps[m], "keys are 1-%d characters, values numbers",
                               RP_APP_EVENT_KEY_MAX);
                return -1;
            }
        }
        keys += json_object_size(map);
    }
    if (keys > RP_APP_EVENT_KEYS_MAX) {
        rp_err_set(err, RP_EINVAL, "Attributes",
                   "an event has at most %d attributes and metrics together, not %zu",
                   RP_APP_EVENT_KEYS_MAX, keys);
        return -1;
    }
    return 0;
}

/* session {session_id, start_timestamp, stop_timestamp, duration}; {} when the event has none. */
static json_t *session_record(const json_t *event, struct rp_err *err)
{
    const json_t *s = json_object_get(event, "Session");
    if (!s || json_is_null(s))
        return json_object();
    const char *id;
    int64_t start, stop;
    if (!json_is_object(s)) {
        rp_err_set(err, RP_EINVAL, "Session", "must be an object");
        return NULL;
    }
    if (optional_string(s, "Id", 256, &id, err) || !id || !*id) {
        rp_err_set(err, RP_EINVAL, "Session.Id", "is required: a string of 1-256 characters");
        return NULL;
    }
    if (timestamp(s, "StartTimestamp", "Session.StartTimestamp", &start, err))
        return NULL;
    json_t *out = json_pack("{s:s, s:I}", "session_id", id, "start_timestamp", (json_int_t)start);
    const json_t *stop_text = json_object_get(s, "StopTimestamp");
    if (stop_text && !json_is_null(stop_text)) {
        if (timestamp(s, "StopTimestamp", "Session.StopTimestamp", &stop, err)) {
            json_decref(out);
            return NULL;
        }
        json_object_set_new(out, "stop_timestamp", json_integer(stop));
    }
    const json_t *duration = json_object_get(s, "Duration");
    if (duration && !json_is_null(duration)) {
        if (!json_is_integer(duration) || json_integer_value(duration) < 0) {
            json_decref(out);
            rp_err_set(err, RP_EINVAL, "Session.Duration", "must be a whole number of ms");
            return NULL;
        }
        json_object_set(out, "duration", (json_t *)duration);
    }
    return out;
}

/* device {platform {name, version}, make, model, locale {code, language, country}} from the
 * endpoint's Demographic. */
static json_t *device_record(const json_t *endpoint)
{
    const json_t *demo = json_object_get(endpoint, "Demographic");
    json_t *platform = json_object();
    set_str(platform, "name", json_string_value(json_object_get(demo, "Platform")));
    set_str(platform, "version", json_string_value(json_object_get(demo, "PlatformVersion")));
    json_t *device = json_pack("{s:o}", "platform", platform);
    set_str(device, "make", json_string_value(json_object_get(demo, "Make")));
    set_str(device, "model", json_string_value(json_object_get(demo, "Model")));
    const char *locale = json_string_value(json_object_get(demo, "Locale"));
    if (locale && *locale) {
        json_t *l = json_pack("{s:s}", "code", locale);
        const char *sep = strchr(locale, '_');
        json_object_set_new(l, "language", sep ? json_stringn(locale, (size_t)(sep - locale))
                                               : json_string(locale));
        if (sep && sep[1])
            json_object_set_new(l, "country", json_string(sep + 1));
        json_object_set_new(device, "locale", l);
    }
    return device;
}

json_t *rp_app_event_record(const char *app, const char *account, const char *endpoint_id,
                            const json_t *endpoint, const json_t *event, int64_t arrival_ms,
                            struct rp_err *err)
{
    if (!json_is_object(event)) {
        rp_err_set(err, RP_EINVAL, "", "an event must be an object");
        return NULL;
    }
    const char *type = json_string_value(json_object_get(event, "EventType"));
    if (!type || !*type || strlen(type) > RP_APP_EVENT_TYPE_MAX) {
        rp_err_set(err, RP_EINVAL, "EventType", "is required: a string of 1-%d characters",
                   RP_APP_EVENT_TYPE_MAX);
        return NULL;
    }
    int64_t when;
    const char *package, *title, *version, *sdk, *sdk_version;
    if (timestamp(event, "Timestamp", "Timestamp", &when, err) ||
        optional_string(event, "AppPackageName", 256, &package, err) ||
        optional_string(event, "AppTitle", 256, &title, err) ||
        optional_string(event, "AppVersionCode", 256, &version, err) ||
        optional_string(event, "SdkName", 256, &sdk, err) ||
        optional_string(event, "ClientSdkVersion", 256, &sdk_version, err) ||
        check_maps(event, err))
        return NULL;
    json_t *session = session_record(event, err);
    if (!session)
        return NULL;
    json_t *sdk_obj = json_object();
    set_str(sdk_obj, "name", sdk);
    set_str(sdk_obj, "version", sdk_version);
    json_t *application = json_pack("{s:s}", "app_id", app);
    set_str(application, "package_name", package);
    set_str(application, "title", title);
    set_str(application, "version_code", version);
    json_object_set_new(application, "sdk", sdk_obj);
    const json_t *attrs = json_object_get(event, "Attributes");
    const json_t *metrics = json_object_get(event, "Metrics");
    json_t *out = json_pack("{s:s, s:I, s:I, s:s, s:o, s:{s:s}, s:o, s:o}", "event_type", type,
                            "event_timestamp", (json_int_t)when, "arrival_timestamp",
                            (json_int_t)arrival_ms, "event_version", RP_EVENTS_VERSION,
                            "application", application, "client", "client_id", endpoint_id,
                            "device", device_record(endpoint), "session", session);
    json_object_set_new(out, "attributes",
                        json_is_object(attrs) ? json_deep_copy(attrs) : json_object());
    json_object_set_new(out, "metrics",
                        json_is_object(metrics) ? json_deep_copy(metrics) : json_object());
    if (json_is_object(endpoint) && json_object_size(endpoint))
        json_object_set_new(out, "endpoint", json_deep_copy(endpoint));
    json_object_set_new(out, "awsAccountId", json_string(account));
    return out;
}
