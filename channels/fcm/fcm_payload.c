/* FCM HTTP v1 bodies and answers (see fcm_payload.h). */
#include "fcm_payload.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/rc.h"
#include "../../gateway/json_stream.h"
#include "../../gateway/json_write.h"
#include "../../gateway/util.h"
#include "../httpc.h"
#include "../push_data.h"

/* QUOTA_EXCEEDED without a Retry-After: Google asks for at least a minute. */
#define FCM_QUOTA_BACKOFF_MS 60000LL

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

void rp_fcm_ttl_format(long long seconds, char *out, size_t size)
{
    snprintf(out, size, "%llds", seconds < 0 ? 0 : seconds);
}

static size_t strings_size(const json_t *obj)
{
    size_t n = 0;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        n += strlen(k);
        if (json_is_string(v))
            n += json_string_length(v);
    }
    return n;
}

size_t rp_fcm_payload_size(const json_t *message)
{
    const json_t *android = json_object_get(message, "android");
    return strings_size(json_object_get(message, "data")) +
           strings_size(json_object_get(message, "notification")) +
           strings_size(json_object_get(android, "data")) +
           strings_size(json_object_get(android, "notification"));
}

/* FCM refuses non-string data values and the reserved keys; a message it would refuse is
 * refused here with the member named, before any token is spent on it. */
static int data_check(const json_t *data, const char *field, struct rp_err *err)
{
    if (!data)
        return 0;
    if (rp_push_data_check(data, field, err) < 0)
        return RP_EINVAL;
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)data, k, v)
    {
        if (strcmp(k, "from") == 0 || strcmp(k, "gcm") == 0 || strncmp(k, "google", 6) == 0)
            return rp_err_set(err, RP_EINVAL, field,
                              "uses a key FCM reserves (from, gcm, google...)");
    }
    return 0;
}

/* RawContent is sent as given, with only the target set: either an FCM v1 message
 * ({"message":{...}} or the message object itself) or the legacy shape Pinpoint accepted
 * ({"data","notification",...} at the top), which has the same members. */
static json_t *raw_message(const char *raw, const char *token, struct rp_err *err)
{
    json_t *doc = json_loads(raw, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        rp_err_set(err, RP_EINVAL, "RawContent", "must be a JSON object");
        return NULL;
    }
    json_t *msg = json_object_get(doc, "message");
    if (msg) {
        if (!json_is_object(msg)) {
            json_decref(doc);
            rp_err_set(err, RP_EINVAL, "RawContent.message", "must be an object");
            return NULL;
        }
        json_incref(msg);
        json_decref(doc);
    } else {
        msg = doc;
    }
    /* Exactly one target: the delivery's token. */
    json_object_del(msg, "topic");
    json_object_del(msg, "condition");
    json_object_del(msg, "to");
    json_object_del(msg, "registration_ids");
    json_object_set_new(msg, "token", json_string(token));
    const json_t *android = json_object_get(msg, "android");
    if (data_check(json_object_get(msg, "data"), "RawContent.data", err) < 0 ||
        data_check(json_object_get(android, "data"), "RawContent.android.data", err) < 0 ||
        (android && !json_is_object(android) &&
         rp_err_set(err, RP_EINVAL, "RawContent.android", "must be an object") < 0)) {
        json_decref(msg);
        return NULL;
    }
    return msg;
}

static const char *priority_of(const json_t *content)
{
    const char *p = str(content, "Priority");
    if (!p)
        return NULL;
    /* Pinpoint takes FCM's words and APNs' numbers alike. */
    if (strcmp(p, "high") == 0 || strcmp(p, "10") == 0)
        return "high";
    return "normal";
}

static json_t *built_message(const json_t *content, const char *token, struct rp_err *err)
{
    const char *title = str(content, "Title"), *body = str(content, "Body");
    const char *image = str(content, "ImageUrl");
    const char *icon = str(content, "IconReference"), *sound = str(content, "Sound");
    int silent = json_is_true(json_object_get(content, "SilentPush"));

    json_t *data = rp_push_sdk_data(content, err);
    if (!data || data_check(data, "Data", err) < 0) {
        json_decref(data);
        return NULL;
    }

    json_t *msg = json_object();
    json_object_set_new(msg, "token", json_string(token));
    json_t *android = json_object();
    if (!silent && (title || body)) {
        json_t *n = json_object();
        put_str(n, "title", title);
        put_str(n, "body", body);
        put_str(n, "image", image);
        json_object_set_new(msg, "notification", n);
        json_t *an = json_object();
        put_str(an, "icon", icon);
        put_str(an, "sound", sound);
        if (json_object_size(an))
            json_object_set_new(android, "notification", an);
        else
            json_decref(an);
    }
    json_object_set_new(msg, "data", data);
    put_str(android, "priority", priority_of(content));
    const json_t *ttl = json_object_get(content, "TimeToLive");
    if (json_is_integer(ttl)) {
        char d[24];
        rp_fcm_ttl_format(json_integer_value(ttl), d, sizeof(d));
        put_str(android, "ttl", d);
    }
    put_str(android, "collapse_key", str(content, "CollapseKey"));
    put_str(android, "restricted_package_name", str(content, "RestrictedPackageName"));
    if (json_object_size(android))
        json_object_set_new(msg, "android", android);
    else
        json_decref(android);
    return msg;
}

#define MESSAGE_PREFIX "{\"message\":"

int rp_fcm_payload_write(const json_t *content, const char *token, char **buf, size_t *cap,
                         size_t *len, struct rp_err *err)
{
    const char *raw = str(content, "RawContent");
    json_t *msg = raw ? raw_message(raw, token, err) : built_message(content, token, err);
    if (!msg)
        return RP_EINVAL;
    size_t size = rp_fcm_payload_size(msg);
    if (size > RP_FCM_PAYLOAD_MAX) {
        json_decref(msg);
        return rp_err_set(err, RP_ELIMIT, raw ? "RawContent" : "Data",
                          "makes a %zu-byte payload; FCM takes at most %d bytes", size,
                          RP_FCM_PAYLOAD_MAX);
    }
    /* {"message": <msg>}: msg is dumped straight into the caller's buffer, grown (once, for
     * good) only when a message does not fit. */
    const size_t pre = sizeof(MESSAGE_PREFIX) - 1;
    size_t n = 0, room = 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        room = *buf && *cap > pre + 2 ? *cap - pre - 2 : 0;
        n = json_dumpb(msg, room ? *buf + pre : NULL, room, JSON_COMPACT);
        if (n == 0 || n <= room)
            break;
        *cap = pre + n + 2;
        *buf = rp_realloc(*buf, *cap);
    }
    json_decref(msg);
    if (n == 0 || n > room)
        return RP_ENOMEM;
    memcpy(*buf, MESSAGE_PREFIX, pre);
    (*buf)[pre + n] = '}';
    (*buf)[pre + n + 1] = '\0';
    *len = pre + n + 1;
    return 0;
}

/* A built message's token is its first member. */
#define TOKEN_PREFIX MESSAGE_PREFIX "{\"token\":"

void rp_fcm_body_memo_clear(struct rp_fcm_body_memo *m)
{
    json_decref(m->content);
    free(m->rest);
    m->content = NULL;
    m->rest = NULL;
}

int rp_fcm_payload_write_memo(struct rp_fcm_body_memo *m, json_t *content, const char *token,
                              char **buf, size_t *cap, size_t *len, struct rp_err *err)
{
    if (!m->rest || m->content != content) {
        rp_fcm_body_memo_clear(m);
        if (str(content, "RawContent"))
            return rp_fcm_payload_write(content, token, buf, cap, len, err);
        int rc = rp_fcm_payload_write(content, "", buf, cap, len, err);
        if (rc < 0)
            return rc;
        const size_t pre = sizeof(TOKEN_PREFIX "\"\"") - 1;
        if (*len < pre || memcmp(*buf, TOKEN_PREFIX "\"\"", pre) != 0)
            return rp_fcm_payload_write(content, token, buf, cap, len, err);
        m->rest = rp_strdup(*buf + pre);
        m->content = json_incref(content);
    }
    struct rp_json_text t = {*buf, 0, *cap};
    if (!t.buf || !t.cap)
        rp_json_text_init(&t, 512);
    rp_json_text_raw(&t, TOKEN_PREFIX);
    rp_json_text_string(&t, token);
    rp_json_text_raw(&t, m->rest);
    *buf = rp_json_text_finish(&t, len);
    *cap = t.cap;
    return 0;
}

int rp_fcm_payload_build(const json_t *content, const char *token, char **body, struct rp_err *err)
{
    *body = NULL;
    size_t cap = 0, len = 0;
    int rc = rp_fcm_payload_write(content, token, body, &cap, &len, err);
    if (rc < 0) {
        free(*body);
        *body = NULL;
    }
    return rc;
}

/* The FcmError code of an error answer ("" when none). */
static const char *fcm_error_code(const json_t *error)
{
    size_t i;
    const json_t *d;
    json_array_foreach(json_object_get(error, "details"), i, d)
    {
        const char *type = json_string_value(json_object_get(d, "@type"));
        const char *code = json_string_value(json_object_get(d, "errorCode"));
        if (type && code && strstr(type, "google.firebase.fcm.v1.FcmError"))
            return code;
    }
    return "";
}

/* Copies FCM's message keeping printable ASCII only (it ends in results and events). */
static void scrub(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

static void retry_after(struct rp_delivery_result *r, const struct rp_httpc_response *resp,
                        long long now_ms, long long dflt)
{
    long long after = rp_httpc_retry_after_ms(resp->retry_after, now_ms);
    r->retry_after_ms = after > 0 ? after : dflt;
}

/* The top-level "name" of a 200 answer, read without building a tree: every FCM send ends here.
 * As jansson reads it: the last member of that name wins, and a text that is not one JSON object
 * or holds a NUL or bytes that are not UTF-8 has no name (fcm_answer_fuzz compares the two). */
struct name_reader {
    struct rp_json_scalars scalars; /* first: booleans and numbers go to name_other */
    int depth, at_name;
    char name[sizeof(((struct rp_delivery_result *)0)->message_id)];
    int has_name; /* 1: name holds it; -1: the last "name" was not a string that fits */
};

static int name_key(void *ctx, const unsigned char *key, size_t len)
{
    struct name_reader *nr = ctx;
    nr->at_name = nr->depth == 1 && len == 4 && memcmp(key, "name", 4) == 0;
    return 1;
}

static int name_string(void *ctx, const unsigned char *s, size_t len)
{
    struct name_reader *nr = ctx;
    if (memchr(s, 0, len) || !rp_utf8_valid((const char *)s, len))
        return 0;
    if (nr->depth == 0)
        return 0;
    if (nr->at_name) {
        nr->has_name = len < sizeof(nr->name) ? 1 : -1;
        if (nr->has_name == 1) {
            memcpy(nr->name, s, len);
            nr->name[len] = '\0';
        }
    }
    nr->at_name = 0;
    return 1;
}

static int name_other(void *ctx)
{
    struct name_reader *nr = ctx;
    if (nr->depth == 0)
        return 0;
    if (nr->at_name)
        nr->has_name = -1;
    nr->at_name = 0;
    return 1;
}

static int name_open(void *ctx)
{
    struct name_reader *nr = ctx;
    if (nr->depth > 0 && nr->at_name)
        nr->has_name = -1;
    nr->at_name = 0;
    nr->depth++;
    return 1;
}

static int name_open_array(void *ctx)
{
    struct name_reader *nr = ctx;
    return nr->depth == 0 ? 0 : name_open(ctx);
}

static int name_close(void *ctx)
{
    struct name_reader *nr = ctx;
    nr->depth--;
    return 1;
}

static const yajl_callbacks name_callbacks = {
    .yajl_null = name_other,
    .yajl_boolean = rp_json_stream_boolean,
    .yajl_number = rp_json_stream_number,
    .yajl_string = name_string,
    .yajl_start_map = name_open,
    .yajl_map_key = name_key,
    .yajl_end_map = name_close,
    .yajl_start_array = name_open_array,
    .yajl_end_array = name_close,
};

/* The message name of a 200 answer (in nr), or NULL. */
static const char *accepted_name(const struct rp_httpc_response *resp, struct name_reader *nr)
{
    memset(nr, 0, sizeof(*nr));
    nr->scalars.on_scalar = name_other;
    if (!resp->body_len || !rp_json_stream(&name_callbacks, nr, resp->body, resp->body_len))
        return NULL;
    return nr->has_name == 1 ? nr->name : NULL;
}

enum rp_fcm_verdict rp_fcm_classify(const struct rp_httpc_response *resp, long long now_ms,
                                    struct rp_delivery_result *r)
{
    if (resp->transport_error) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "FCM unreachable: %s", resp->error);
        return RP_FCM_FINAL;
    }
    long st = resp->status;
    if (st == 200) {
        struct name_reader nr;
        const char *name = accepted_name(resp, &nr);
        if (name) {
            memcpy(r->message_id, name, strlen(name) + 1);
            rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200, "MessageId: %s", name);
        } else {
            rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200, "accepted without a message name");
        }
        return RP_FCM_FINAL;
    }
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    enum rp_fcm_verdict verdict = RP_FCM_FINAL;
    const json_t *error = json_object_get(doc, "error");
    const char *code = fcm_error_code(error);
    const char *status = json_string_value(json_object_get(error, "status"));
    char msg[160];
    scrub(msg, sizeof(msg), json_string_value(json_object_get(error, "message")));
    const char *what = *code ? code : status ? status : "";

    if (strcmp(code, "UNREGISTERED") == 0 || (!*code && st == 404)) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st,
                               "UNREGISTERED: the token is no longer valid%s%s", *msg ? ": " : "",
                               msg);
        r->address_dead = 1;
    } else if (strcmp(code, "QUOTA_EXCEEDED") == 0 || st == 429) {
        rp_delivery_result_set(r, RP_DS_THROTTLED, (int)st, "QUOTA_EXCEEDED%s%s", *msg ? ": " : "",
                               msg);
        retry_after(r, resp, now_ms, FCM_QUOTA_BACKOFF_MS);
    } else if (st == 401 && !*code) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 401, "FCM refused the access token%s%s",
                               *msg ? ": " : "", msg);
        verdict = RP_FCM_REAUTH;
    } else if (st >= 500 || st == 408 || strcmp(code, "UNAVAILABLE") == 0 ||
               strcmp(code, "INTERNAL") == 0) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, (int)st, "%s%s%s",
                               *what ? what : "FCM unavailable", *msg ? ": " : "", msg);
        retry_after(r, resp, now_ms, 0);
    } else {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st, "%s%s%s",
                               *what ? what : "FCM refused the message", *msg ? ": " : "", msg);
    }
    json_decref(doc);
    return verdict;
}
