/* Application settings: GetApplicationSettings, UpdateApplicationSettings. Stored as the
 * ApplicationSettingsResource JSON; an update replaces the members it names, merging the
 * Limits, QuietTime and CampaignHook objects member by member. */
#include "api.h"
#include "jsonv.h"
#include "keyspace.h"
#include "limiter.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

/* QuietTime: "HH:MM" in 24-hour notation (reference, QuietTime.Start/End). */
static int valid_hhmm(const char *s)
{
    return strlen(s) == 5 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
           s[2] == ':' && isdigit((unsigned char)s[3]) && isdigit((unsigned char)s[4]) &&
           (s[0] - '0') * 10 + (s[1] - '0') < 24 && (s[3] - '0') * 10 + (s[4] - '0') < 60;
}

/* CampaignLimits ranges from the reference: Daily and Total at most 100, MessagesPerSecond
 * 1-20,000, MaximumDuration at least 60 seconds. */
static int validate_limits(const json_t *limits, struct rp_err *err)
{
    long long v;
    int rc;
    if ((rc = rp_jsonv_int(limits, "Limits", "Daily", 0, 100, &v, err)) < 0 ||
        (rc = rp_jsonv_int(limits, "Limits", "Total", 0, 100, &v, err)) < 0 ||
        (rc = rp_jsonv_int(limits, "Limits", "MessagesPerSecond", 1, 20000, &v, err)) < 0 ||
        (rc = rp_jsonv_int(limits, "Limits", "MaximumDuration", 60, 2147483647LL, &v, err)) < 0 ||
        (rc = rp_jsonv_int(limits, "Limits", "Session", 0, 2147483647LL, &v, err)) < 0)
        return rc;
    return 0;
}

static int validate_quiet_time(const json_t *qt, struct rp_err *err)
{
    static const char *const members[] = {"Start", "End"};
    for (size_t i = 0; i < 2; i++) {
        const char *s;
        int rc = rp_jsonv_string(qt, "QuietTime", members[i], 5, &s, err);
        if (rc < 0)
            return rc;
        if (rc == 1 && !valid_hhmm(s))
            return rp_err_set(err, RP_EINVAL, i ? "QuietTime.End" : "QuietTime.Start",
                              "must be HH:MM in 24-hour notation");
    }
    return 0;
}

static int validate_hook(const json_t *hook, struct rp_err *err)
{
    const char *s;
    int rc;
    if ((rc = rp_jsonv_string(hook, "CampaignHook", "LambdaFunctionName", 256, &s, err)) < 0 ||
        (rc = rp_jsonv_string(hook, "CampaignHook", "WebUrl", 2048, &s, err)) < 0 ||
        (rc = rp_jsonv_enum(hook, "CampaignHook", "Mode", "DELIVERY|FILTER", &s, err)) < 0)
        return rc;
    return 0;
}

int rp_api_settings_validate(const json_t *body, struct rp_err *err)
{
    const json_t *obj;
    int b, rc;
    if ((rc = rp_jsonv_object(body, NULL, "Limits", &obj, err)) < 0)
        return rc;
    if (rc == 1 && (rc = validate_limits(obj, err)) < 0)
        return rc;
    if ((rc = rp_jsonv_object(body, NULL, "QuietTime", &obj, err)) < 0)
        return rc;
    if (rc == 1 && (rc = validate_quiet_time(obj, err)) < 0)
        return rc;
    if ((rc = rp_jsonv_object(body, NULL, "CampaignHook", &obj, err)) < 0)
        return rc;
    if (rc == 1 && (rc = validate_hook(obj, err)) < 0)
        return rc;
    if ((rc = rp_jsonv_object(body, NULL, "JourneyLimits", &obj, err)) < 0 ||
        (rc = rp_jsonv_bool(body, NULL, "CloudWatchMetricsEnabled", &b, err)) < 0 ||
        (rc = rp_jsonv_bool(body, NULL, "EventTaggingEnabled", &b, err)) < 0)
        return rc;
    return 0;
}

/* Returns the stored settings (new reference), or NULL when the store failed. */
static json_t *load_settings(const char *app)
{
    char key[RP_KEY_MAX];
    rp_key_settings(key, app);
    json_t *settings;
    if (rp_store_get_json(key, &settings) < 0)
        return NULL;
    return settings ? settings : json_object();
}

static json_t *settings_response(const char *app, json_t *settings)
{
    json_t *resp = json_pack("{s:s}", "ApplicationId", app);
    static const char *const objects[] = {"CampaignHook", "Limits", "QuietTime"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(settings, objects[i]);
        json_object_set_new(resp, objects[i], v ? json_deep_copy(v) : json_object());
    }
    json_t *modified = json_object_get(settings, "LastModifiedDate");
    if (modified)
        json_object_set(resp, "LastModifiedDate", modified);
    json_t *journey = json_object_get(settings, "JourneyLimits");
    if (journey)
        json_object_set(resp, "JourneyLimits", journey);
    return resp;
}

void rp_api_get_settings(struct rp_request *req)
{
    json_t *settings = load_settings(rp_request_app(req));
    if (!settings) {
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, settings_response(rp_request_app(req), settings));
    json_decref(settings);
}

void rp_api_update_settings(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_api_settings_validate(body, &err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *settings = load_settings(rp_request_app(req));
    if (!settings) {
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    const char *name;
    json_t *value;
    json_object_foreach(body, name, value)
    {
        static const char *const known[] = {"CampaignHook", "Limits", "QuietTime",
                                            "JourneyLimits", "CloudWatchMetricsEnabled",
                                            "EventTaggingEnabled"};
        int is_known = 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            is_known |= strcmp(name, known[i]) == 0;
        if (!is_known)
            continue;
        json_t *old = json_object_get(settings, name);
        if (json_is_object(value) && json_is_object(old))
            json_object_update(old, value);
        else if (!json_is_null(value))
            json_object_set(settings, name, value);
    }
    char now[RP_ISO_SIZE];
    rp_api_now_iso(now);
    json_object_set_new(settings, "LastModifiedDate", json_string(now));
    char key[RP_KEY_MAX];
    rp_key_settings(key, rp_request_app(req));
    int ok = rp_store_set_json(key, settings) == 0;
    json_decref(body);
    if (ok)
        rp_limiter_invalidate(rp_request_app(req));
    if (!ok) {
        json_decref(settings);
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_json(req, 200, settings_response(rp_request_app(req), settings));
    json_decref(settings);
}
