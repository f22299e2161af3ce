/* Fuzzes fcm_sim's check of a send body (tests/sim/lib/fcm_check.c) against the jansson tree
 * and checks it replaced, kept here as they were: the same verdict, the same problem named, the
 * same token, for every body. Left out: bodies with a repeated member (jansson keeps the last;
 * the one pass sees each) and raw NUL bytes (jansson skips one between tokens where yajl
 * stops). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../channels/fcm/fcm_payload.h"
#include "../sim/lib/fcm_check.h"

static const char *data_problem(const json_t *data)
{
    if (!data)
        return NULL;
    if (!json_is_object(data))
        return "Invalid value at 'message.data': must be a map";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)data, k, v)
    {
        if (!json_is_string(v))
            return "Invalid value at 'message.data': values must be strings";
        if (strcmp(k, "from") == 0 || strcmp(k, "gcm") == 0 || strncmp(k, "google", 6) == 0)
            return "Invalid data key: reserved";
    }
    return NULL;
}

static int ttl_valid(const char *s)
{
    const char *p = s;
    if (*p < '0' || *p > '9')
        return 0;
    while (*p >= '0' && *p <= '9')
        p++;
    if (*p == '.') {
        const char *f = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (p == f || p - f > 9)
            return 0;
    }
    return p[0] == 's' && p[1] == '\0';
}

static const char *message_problem(const json_t *msg)
{
    int targets = !!json_object_get(msg, "token") + !!json_object_get(msg, "topic") +
                  !!json_object_get(msg, "condition");
    if (targets != 1)
        return "Exactly one of token, topic or condition must be specified";
    const char *why = data_problem(json_object_get(msg, "data"));
    const json_t *android = json_object_get(msg, "android");
    if (!why && android) {
        why = data_problem(json_object_get(android, "data"));
        const json_t *ttl = json_object_get(android, "ttl");
        const json_t *prio = json_object_get(android, "priority");
        if (!why && ttl && !(json_is_string(ttl) && ttl_valid(json_string_value(ttl))))
            why = "Invalid value at 'message.android.ttl': Illegal duration format";
        if (!why && prio &&
            !(json_is_string(prio) && (strcmp(json_string_value(prio), "normal") == 0 ||
                                       strcmp(json_string_value(prio), "high") == 0)))
            why = "Invalid value at 'message.android.priority'";
    }
    if (!why && rp_fcm_payload_size(msg) > RP_FCM_PAYLOAD_MAX)
        why = "Message is too big";
    return why;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    struct fcm_check check;
    enum fcm_check_verdict verdict = fcm_check_body(body, size, &check);
    json_error_t error;
    json_t *doc = json_loadb(body, size, 0, &error);
    json_t *strict = doc ? json_loadb(body, size, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!memchr(body, 0, size) && (!doc || strict)) {
        const json_t *msg = json_object_get(doc, "message");
        if (!json_is_object(msg)) {
            if (verdict != FCM_BODY_INVALID)
                abort();
        } else {
            const char *why = message_problem(msg);
            if (verdict != (why ? FCM_MESSAGE_INVALID : FCM_MESSAGE_OK))
                abort();
            if (why && strcmp(why, check.problem) != 0)
                abort();
            const char *token = json_string_value(json_object_get(msg, "token"));
            if (!token != !check.token || (token && strcmp(token, check.token) != 0))
                abort();
        }
    }
    json_decref(strict);
    json_decref(doc);
    fcm_check_free(&check);
    return 0;
}
