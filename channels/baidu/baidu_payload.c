/* Baidu msg documents and answers (see baidu_payload.h). */
#include "baidu_payload.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../gateway/rc.h"
#include "../httpc.h"
#include "../push_data.h"

static const char *str(const json_t *content, const char *key)
{
    const char *s = json_string_value(json_object_get(content, key));
    return s && *s ? s : NULL;
}

int rp_baidu_device_type(const char *platform)
{
    if (platform && (strcasecmp(platform, "ios") == 0 || strcasecmp(platform, "ipados") == 0 ||
                     strcasecmp(platform, "iphone") == 0 || strcasecmp(platform, "ipad") == 0))
        return RP_BAIDU_IOS;
    return RP_BAIDU_ANDROID;
}

static json_t *android_msg(const json_t *content, const json_t *data)
{
    json_t *m = json_object();
    const char *title = str(content, "Title"), *body = str(content, "Body");
    json_object_set_new(m, "title", json_string(title ? title : ""));
    json_object_set_new(m, "description", json_string(body ? body : ""));
    const char *action = str(content, "Action"), *url = str(content, "Url");
    if (action && url && strcmp(action, "URL") == 0) {
        json_object_set_new(m, "open_type", json_integer(1));
        json_object_set_new(m, "url", json_string(url));
    } else if (action && url && strcmp(action, "DEEP_LINK") == 0) {
        json_object_set_new(m, "open_type", json_integer(2));
        json_object_set_new(m, "pkg_content", json_string(url));
    }
    if (json_object_size(data))
        json_object_set(m, "custom_content", (json_t *)data);
    return m;
}

static json_t *ios_msg(const json_t *content, const json_t *data, int silent)
{
    json_t *m = json_object();
    if (json_object_size(data))
        json_object_update(m, (json_t *)data);
    json_t *aps = json_object();
    if (silent) {
        json_object_set_new(aps, "content-available", json_integer(1));
    } else {
        const char *title = str(content, "Title"), *body = str(content, "Body");
        if (title)
            json_object_set_new(aps, "alert",
                                json_pack("{s:s, s:s}", "title", title, "body", body ? body : ""));
        else
            json_object_set_new(aps, "alert", json_string(body ? body : ""));
        const char *sound = str(content, "Sound");
        if (sound)
            json_object_set_new(aps, "sound", json_string(sound));
    }
    json_object_set_new(m, "aps", aps);
    return m;
}

int rp_baidu_msg_build(const json_t *content, int device_type, char **msg, int *msg_type,
                       struct rp_err *err)
{
    *msg = NULL;
    int silent = json_is_true(json_object_get(content, "SilentPush"));
    *msg_type = silent ? 0 : 1;
    const char *raw = str(content, "RawContent");
    json_t *m;
    if (raw) {
        m = json_loads(raw, JSON_REJECT_DUPLICATES, NULL);
        if (!json_is_object(m)) {
            json_decref(m);
            return rp_err_set(err, RP_EINVAL, "RawContent", "must be a JSON object (Baidu's msg)");
        }
    } else {
        const json_t *data = json_object_get(content, "Data");
        if (rp_push_data_check(data, "Data", err) < 0)
            return RP_EINVAL;
        m = device_type == RP_BAIDU_IOS ? ios_msg(content, data, silent)
                                        : android_msg(content, data);
    }
    *msg = json_dumps(m, JSON_COMPACT);
    json_decref(m);
    return *msg ? 0 : RP_ENOMEM;
}

static void scrub(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

void rp_baidu_classify(const struct rp_httpc_response *resp, long long now_ms,
                       struct rp_delivery_result *r)
{
    if (resp->transport_error) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "Baidu unreachable: %s", resp->error);
        return;
    }
    long st = resp->status;
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    long long after = rp_httpc_retry_after_ms(resp->retry_after, now_ms);
    r->retry_after_ms = after > 0 ? after : 0;
    const json_t *params = json_object_get(doc, "response_params");
    long code = (long)json_integer_value(json_object_get(doc, "error_code"));
    char msg[128];
    scrub(msg, sizeof(msg), json_string_value(json_object_get(doc, "error_msg")));
    if (st == 200 && !code) {
        const json_t *id = json_object_get(params, "msg_id");
        char idbuf[64] = "";
        if (json_is_string(id))
            snprintf(idbuf, sizeof(idbuf), "%s", json_string_value(id));
        else if (json_is_integer(id))
            snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(id));
        snprintf(r->message_id, sizeof(r->message_id), "%s", idbuf);
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200, "MessageId: %s", idbuf);
    } else if (code == 30608 || code == 30607) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st,
                               "Baidu error %ld: %s (the channel id is no longer bound)", code,
                               msg);
        r->address_dead = 1;
    } else if (code == 30603) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st,
                               "Baidu error 30603: authentication failed: check the channel's "
                               "ApiKey and SecretKey");
    } else if (code == 30604) {
        rp_delivery_result_set(r, RP_DS_THROTTLED, (int)st, "Baidu error 30604: %s", msg);
    } else if (code == 30600 || code == 30606 || (!code && (st >= 500 || st == 408 || st == 429))) {
        rp_delivery_result_set(r, st == 429 ? RP_DS_THROTTLED : RP_DS_TEMPORARY_FAILURE, (int)st,
                               "Baidu error %ld: %s", code, *msg ? msg : "unavailable");
    } else {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st, "Baidu error %ld: %s", code,
                               *msg ? msg : "refused");
    }
    json_decref(doc);
}
