/* APNs notifications from rendered push content, and APNs answers as DeliveryStatus. Pure: no
 * I/O, no clock of its own, so every field mapping is unit-tested (tests/unit/apns_test.c) and
 * fuzzed (tests/fuzz/apns_payload_fuzz.c). */
#include "apns_payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/util.h"

static const char *str(const json_t *content, const char *name)
{
    const char *s = json_string_value(json_object_get(content, name));
    return s && *s ? s : NULL;
}

static void set(json_t *obj, const char *name, json_t *v)
{
    if (!v || json_object_set_new(obj, name, v) != 0)
        rp_panic("out of memory building an APNs payload");
}

/* The push types Pinpoint's APNSPushType takes, plus those APNs defines beyond them. */
static const char *known_push_type(const char *t)
{
    static const char *const types[] = {"alert",    "background", "complication", "fileprovider",
                                        "mdm",      "voip",       "location",     "liveactivity",
                                        "pushtotalk"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    return NULL;
}

/* Pinpoint: without APNSPushType the type is alert or background "based on the value that you
 * specify for the SilentPush or RawContent property". A raw payload asking only for a
 * background wake-up (content-available without alert, sound or badge) is background. */
static bool raw_is_background(const json_t *raw)
{
    const json_t *aps = json_object_get(raw, "aps");
    const json_t *ca = json_object_get(aps, "content-available");
    if (!json_is_integer(ca) || json_integer_value(ca) != 1)
        return false;
    return !json_object_get(aps, "alert") && !json_object_get(aps, "sound") &&
           !json_object_get(aps, "badge");
}

static const char *topic_suffix(const char *push_type, bool voip)
{
    if (voip || strcmp(push_type, "voip") == 0)
        return ".voip";
    if (strcmp(push_type, "complication") == 0)
        return ".complication";
    if (strcmp(push_type, "fileprovider") == 0)
        return ".pushkit.fileprovider";
    return "";
}

/* Priority arrives as "10" or "5" (the renderer converts FCM's words); high/normal are taken
 * too so that content from elsewhere means the same. */
static int priority_value(const char *p)
{
    if (!p)
        return 0;
    if (strcmp(p, "10") == 0 || strcmp(p, "high") == 0)
        return 10;
    if (strcmp(p, "5") == 0 || strcmp(p, "normal") == 0)
        return 5;
    if (strcmp(p, "1") == 0)
        return 1;
    return 0;
}

/* The payload the Pinpoint and Amplify SDKs read (docs/apns.md): the aps dictionary, then under
 * "data": "pinpoint.deeplink" (the Url of a DEEP_LINK or URL action), "pinpoint.jsonBody" (the
 * Data map) and "media-url" (MediaUrl, fetched by the notification service extension). */
static json_t *build_payload(const json_t *content, bool silent)
{
    json_t *root = json_object();
    json_t *aps = json_object();
    const char *title = str(content, "Title"), *body = str(content, "Body");
    const char *media = str(content, "MediaUrl");
    if (!silent) {
        if (title || body) {
            json_t *alert = json_object();
            if (title)
                set(alert, "title", json_string(title));
            if (body)
                set(alert, "body", json_string(body));
            set(aps, "alert", alert);
        }
        if (str(content, "Sound"))
            set(aps, "sound", json_string(str(content, "Sound")));
        const json_t *badge = json_object_get(content, "Badge");
        if (json_is_integer(badge))
            set(aps, "badge", json_integer(json_integer_value(badge)));
    } else {
        set(aps, "content-available", json_integer(1));
    }
    if (str(content, "Category"))
        set(aps, "category", json_string(str(content, "Category")));
    if (str(content, "ThreadId"))
        set(aps, "thread-id", json_string(str(content, "ThreadId")));
    if (media && !silent)
        set(aps, "mutable-content", json_integer(1));
    set(root, "aps", aps);

    json_t *data = json_object();
    json_t *pinpoint = json_object();
    const char *action = str(content, "Action"), *url = str(content, "Url");
    if (url && !(action && strcmp(action, "OPEN_APP") == 0))
        set(pinpoint, "deeplink", json_string(url));
    const json_t *custom = json_object_get(content, "Data");
    if (json_is_object(custom) && json_object_size(custom) > 0)
        set(pinpoint, "jsonBody", json_deep_copy(custom));
    if (json_object_size(pinpoint) > 0)
        set(data, "pinpoint", pinpoint);
    else
        json_decref(pinpoint);
    if (media)
        set(data, "media-url", json_string(media));
    if (json_object_size(data) > 0)
        set(root, "data", data);
    else
        json_decref(data);
    return root;
}

/* The built payload as compact JSON text (never NULL). */
static char *payload_text(const json_t *content, bool silent)
{
    json_t *payload = build_payload(content, silent);
    char *text = json_dumps(payload, JSON_COMPACT);
    json_decref(payload);
    if (!text)
        rp_panic("out of memory building an APNs payload");
    return text;
}

void rp_apns_payload_memo_clear(struct rp_apns_payload_memo *m)
{
    json_decref(m->content);
    free(m->text);
    memset(m, 0, sizeof(*m));
}

/* payload_text, or a copy of the text m remembers for content. */
static char *payload_text_memo(struct rp_apns_payload_memo *m, const json_t *content, bool silent)
{
    if (!m)
        return payload_text(content, silent);
    if (!m->text || m->content != content) {
        rp_apns_payload_memo_clear(m);
        m->text = payload_text(content, silent);
        m->len = strlen(m->text);
        m->content = json_incref((json_t *)content);
    }
    char *text = rp_malloc(m->len + 1);
    memcpy(text, m->text, m->len + 1);
    return text;
}

static int notification_build(struct rp_apns_payload_memo *memo, const json_t *content,
                              const char *bundle_id, bool voip, int64_t now_s,
                              struct rp_apns_notification *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (!json_is_object(content)) {
        snprintf(why, why_size, "the delivery has no push content");
        return -1;
    }
    bool silent = json_is_true(json_object_get(content, "SilentPush"));
    const char *raw_text = str(content, "RawContent");
    json_t *raw = NULL;
    if (raw_text) {
        json_error_t jerr;
        raw = json_loads(raw_text, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(raw)) {
            json_decref(raw);
            snprintf(why, why_size, "RawContent is not a JSON object");
            return -1;
        }
    }

    const char *given_type = str(content, "APNSPushType");
    const char *push_type = given_type ? known_push_type(given_type) : NULL;
    if (given_type && !push_type) {
        json_decref(raw);
        snprintf(why, why_size, "APNSPushType is not a push type APNs knows");
        return -1;
    }
    if (!push_type) {
        if (voip)
            push_type = "voip";
        else if (raw)
            push_type = raw_is_background(raw) ? "background" : "alert";
        else
            push_type = silent ? "background" : "alert";
    }
    out->push_type = push_type;

    /* APNs refuses priority 10 for background notifications. */
    out->priority = priority_value(str(content, "Priority"));
    if (strcmp(push_type, "background") == 0)
        out->priority = 5;

    const json_t *ttl = json_object_get(content, "TimeToLive");
    if (json_is_integer(ttl) && json_integer_value(ttl) >= 0) {
        out->has_expiration = true;
        out->expiration = json_integer_value(ttl) == 0 ? 0 : now_s + json_integer_value(ttl);
    }

    const char *collapse = str(content, "CollapseId");
    if (collapse) {
        if (strlen(collapse) >= sizeof(out->collapse_id)) {
            json_decref(raw);
            snprintf(why, why_size, "CollapseId is longer than 64 bytes");
            return -1;
        }
        snprintf(out->collapse_id, sizeof(out->collapse_id), "%s", collapse);
    }

    if (bundle_id && *bundle_id) {
        int n = snprintf(out->topic, sizeof(out->topic), "%s%s", bundle_id,
                         topic_suffix(push_type, voip));
        if (n < 0 || (size_t)n >= sizeof(out->topic)) {
            json_decref(raw);
            out->topic[0] = '\0';
            snprintf(why, why_size, "BundleId is too long for an apns-topic");
            return -1;
        }
    }

    size_t limit = voip || strcmp(push_type, "voip") == 0 ? RP_APNS_VOIP_PAYLOAD_MAX
                                                          : RP_APNS_PAYLOAD_MAX;
    char *text = raw ? rp_strdup(raw_text) /* verbatim, as Pinpoint sends RawContent */
                     : payload_text_memo(memo, content, silent);
    json_decref(raw);
    size_t len = strlen(text);
    if (len > limit) {
        free(text);
        snprintf(why, why_size,
                 "the APNs payload is %zu bytes, over APNs' limit of %zu bytes: not sent", len,
                 limit);
        return -1;
    }
    out->payload = text;
    out->payload_len = len;
    return 0;
}

int rp_apns_notification_build(const json_t *content, const char *bundle_id, bool voip,
                               int64_t now_s, struct rp_apns_notification *out, char *why,
                               size_t why_size)
{
    return notification_build(NULL, content, bundle_id, voip, now_s, out, why, why_size);
}

int rp_apns_notification_build_memo(struct rp_apns_payload_memo *m, json_t *content,
                                    const char *bundle_id, bool voip, int64_t now_s,
                                    struct rp_apns_notification *out, char *why,
                                    size_t why_size)
{
    return notification_build(m, content, bundle_id, voip, now_s, out, why, why_size);
}

void rp_apns_notification_cleanup(struct rp_apns_notification *n)
{
    if (!n)
        return;
    free(n->payload);
    n->payload = NULL;
    n->payload_len = 0;
}

/* Reasons that say the device token will never work for this app again. */
static bool reason_kills_token(int status, const char *reason)
{
    if (status == 410)
        return true;
    return status == 400 &&
           (strcmp(reason, "BadDeviceToken") == 0 || strcmp(reason, "DeviceTokenNotForTopic") == 0);
}

void rp_apns_classify(const struct rp_apns_answer *a, struct rp_delivery_result *r,
                      char *reason_out, size_t reason_size)
{
    char reason[64] = "";
    int64_t timestamp = 0;
    if (a->body && a->body_len > 0) {
        json_t *doc = json_loadb(a->body, a->body_len, 0, NULL);
        const char *rs = json_string_value(json_object_get(doc, "reason"));
        if (rs) {
            /* Reasons are CamelCase words; anything else is not echoed into results. */
            size_t i = 0;
            for (; rs[i] && i + 1 < sizeof(reason); i++) {
                char c = rs[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
                    break;
                reason[i] = c;
            }
            reason[rs[i] ? 0 : i] = '\0';
        }
        const json_t *ts = json_object_get(doc, "timestamp");
        if (json_is_integer(ts) && json_integer_value(ts) > 0)
            timestamp = json_integer_value(ts);
        json_decref(doc);
    }
    if (reason_out)
        snprintf(reason_out, reason_size, "%s", reason);

    if (a->status == 0) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "APNs connection: %s",
                               a->transport_error ? a->transport_error : "failed");
        return;
    }
    if (a->status == 200) {
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200, "OK");
        if (a->apns_id)
            snprintf(r->message_id, sizeof(r->message_id), "%s", a->apns_id);
        return;
    }
    const char *shown = reason[0] ? reason : "no reason given";
    if (reason_kills_token(a->status, reason)) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, a->status,
                               "APNs: %s (the device token is no longer valid)", shown);
        r->address_dead = 1;
        r->dead_since_ms = a->status == 410 ? timestamp : 0;
        return;
    }
    if (a->status == 429) {
        rp_delivery_result_set(r, RP_DS_THROTTLED, 429, "APNs: %s", shown);
        return;
    }
    if (a->status >= 500) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, a->status, "APNs: %s", shown);
        return;
    }
    rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, a->status, "APNs: %s", shown);
}
