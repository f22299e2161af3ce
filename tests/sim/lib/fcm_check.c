/* fcm_sim's one-pass check of a send body (fcm_check.h). */
#include "fcm_check.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "channels/fcm/fcm_payload.h"
#include "gateway/json_stream.h"
#include "gateway/util.h"

/* jansson's JSON_PARSER_MAX_DEPTH: deeper texts it refuses. */
#define JANSSON_MAX_DEPTH 2048

/* The objects whose members the checks read; values anywhere else only need to be JSON. */
enum where {
    W_ELSEWHERE,
    W_TOP,
    W_MESSAGE,
    W_DATA,
    W_NOTIFICATION,
    W_ANDROID,
    W_ANDROID_DATA,
    W_ANDROID_NOTIFICATION
};

/* What the next value is, from the member name before it. */
enum slot {
    S_NONE,
    S_MESSAGE,
    S_TOKEN,
    S_DATA,
    S_NOTIFICATION,
    S_ANDROID,
    S_ANDROID_DATA,
    S_ANDROID_NOTIFICATION,
    S_DATA_VALUE,
    S_SIZED_VALUE,
    S_TTL,
    S_PRIORITY,
    S_SLOTS
};

/* The object a member's value opens when it is one; W_ELSEWHERE for the members whose checks
 * wanted a string (a map there is their problem) and for all the others. */
static const enum where map_opens[S_SLOTS] = {
    [S_MESSAGE] = W_MESSAGE,           [S_DATA] = W_DATA,
    [S_NOTIFICATION] = W_NOTIFICATION, [S_ANDROID] = W_ANDROID,
    [S_ANDROID_DATA] = W_ANDROID_DATA, [S_ANDROID_NOTIFICATION] = W_ANDROID_NOTIFICATION,
};

enum { TARGET_TOKEN = 1, TARGET_TOPIC = 2, TARGET_CONDITION = 4 };

/* A data map's first problem is the first member that has one, as a walk of the map would
 * find it: kept per map (message.data, message.android.data) because they are named in order. */
enum { DATA_MESSAGE, DATA_ANDROID };

struct check {
    struct fcm_check *out;
    unsigned depth;
    enum where where[5]; /* by depth; deeper is W_ELSEWHERE */
    enum slot slot;
    int message_is_object, android_present, targets;
    int reserved_key; /* the data member whose value comes next has a key FCM reserves */
    const char *data_problem[2];
    const char *ttl_problem, *priority_problem;
    size_t strings_size; /* what rp_fcm_payload_size counts: keys and string values */
};

static const char NOT_A_MAP[] = "Invalid value at 'message.data': must be a map";
static const char NOT_STRINGS[] = "Invalid value at 'message.data': values must be strings";
static const char RESERVED[] = "Invalid data key: reserved";
static const char BAD_TTL[] = "Invalid value at 'message.android.ttl': Illegal duration format";
static const char BAD_PRIORITY[] = "Invalid value at 'message.android.priority'";

static enum where here(const struct check *c)
{
    return c->depth < 5 ? c->where[c->depth] : W_ELSEWHERE;
}

static void data_fault(struct check *c, int which, const char *problem)
{
    if (!c->data_problem[which])
        c->data_problem[which] = problem;
}

/* Duration: digits, optional fraction of up to 9 digits, then 's'. */
static int ttl_valid(const char *s, size_t len)
{
    size_t i = 0;
    if (i == len || s[i] < '0' || s[i] > '9')
        return 0;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i < len && s[i] == '.') {
        size_t f = ++i;
        while (i < len && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == f || i - f > 9)
            return 0;
    }
    return i + 1 == len && s[i] == 's';
}

static int is(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && memcmp(s, word, len) == 0;
}

/* A value that is neither an object nor a string, where the checks expected one. */
static void other_value(struct check *c)
{
    switch (c->slot) {
    case S_MESSAGE:
        c->message_is_object = 0;
        break;
    case S_TOKEN:
        free(c->out->token);
        c->out->token = NULL;
        break;
    case S_DATA:
        data_fault(c, DATA_MESSAGE, NOT_A_MAP);
        break;
    case S_ANDROID_DATA:
        data_fault(c, DATA_ANDROID, NOT_A_MAP);
        break;
    case S_DATA_VALUE:
        data_fault(c, here(c) == W_DATA ? DATA_MESSAGE : DATA_ANDROID, NOT_STRINGS);
        break;
    case S_TTL:
        c->ttl_problem = BAD_TTL;
        break;
    case S_PRIORITY:
        c->priority_problem = BAD_PRIORITY;
        break;
    default:
        break;
    }
}

static int on_null(void *ctx)
{
    other_value(ctx);
    return 1;
}

static int on_boolean(void *ctx, int value)
{
    (void)value;
    other_value(ctx);
    return 1;
}

/* jansson reads an integer into a long long and a real into a double, and refuses a text that
 * overflows either. */
static int number_in_range(const char *text, size_t len)
{
    char small[64];
    char *copy = len < sizeof(small) ? small : rp_malloc(len + 1);
    memcpy(copy, text, len);
    copy[len] = '\0';
    errno = 0;
    int ok;
    if (strpbrk(copy, ".eE")) {
        double v = strtod(copy, NULL);
        ok = !((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE);
    } else {
        (void)strtoll(copy, NULL, 10);
        ok = errno != ERANGE;
    }
    if (copy != small)
        free(copy);
    return ok;
}

static int on_number(void *ctx, const char *text, size_t len)
{
    if (!number_in_range(text, len))
        return 0;
    other_value(ctx);
    return 1;
}

static int on_string(void *ctx, const unsigned char *value, size_t len)
{
    struct check *c = ctx;
    const char *s = (const char *)value;
    switch (c->slot) {
    case S_TOKEN:
        free(c->out->token);
        c->out->token = rp_strndup(s, len);
        break;
    case S_DATA_VALUE:
        /* A member is checked for a string value first, then for its key. */
        if (c->reserved_key)
            data_fault(c, here(c) == W_DATA ? DATA_MESSAGE : DATA_ANDROID, RESERVED);
        c->strings_size += len;
        break;
    case S_SIZED_VALUE:
        c->strings_size += len;
        break;
    case S_TTL:
        if (!ttl_valid(s, len))
            c->ttl_problem = BAD_TTL;
        break;
    case S_PRIORITY:
        if (!is(s, len, "normal") && !is(s, len, "high"))
            c->priority_problem = BAD_PRIORITY;
        break;
    default:
        other_value(c); /* where an object was expected */
        break;
    }
    return 1;
}

static enum slot member_slot(struct check *c, const char *k, size_t len)
{
    switch (here(c)) {
    case W_TOP:
        return is(k, len, "message") ? S_MESSAGE : S_NONE;
    case W_MESSAGE:
        if (is(k, len, "token")) {
            c->targets |= TARGET_TOKEN;
            return S_TOKEN;
        }
        if (is(k, len, "topic"))
            c->targets |= TARGET_TOPIC;
        else if (is(k, len, "condition"))
            c->targets |= TARGET_CONDITION;
        else if (is(k, len, "data"))
            return S_DATA;
        else if (is(k, len, "notification"))
            return S_NOTIFICATION;
        else if (is(k, len, "android")) {
            c->android_present = 1;
            return S_ANDROID;
        }
        return S_NONE;
    case W_ANDROID:
        if (is(k, len, "data"))
            return S_ANDROID_DATA;
        if (is(k, len, "notification"))
            return S_ANDROID_NOTIFICATION;
        if (is(k, len, "ttl"))
            return S_TTL;
        return is(k, len, "priority") ? S_PRIORITY : S_NONE;
    case W_DATA:
    case W_ANDROID_DATA:
        c->strings_size += len;
        c->reserved_key =
            is(k, len, "from") || is(k, len, "gcm") || (len >= 6 && memcmp(k, "google", 6) == 0);
        return S_DATA_VALUE;
    case W_NOTIFICATION:
    case W_ANDROID_NOTIFICATION:
        c->strings_size += len;
        return S_SIZED_VALUE;
    default:
        return S_NONE;
    }
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
    struct check *c = ctx;
    c->slot = member_slot(c, (const char *)key, len);
    return 1;
}

static int open_value(struct check *c, enum where inside)
{
    if (++c->depth > JANSSON_MAX_DEPTH)
        return 0;
    if (c->depth < 5)
        c->where[c->depth] = inside;
    c->slot = S_NONE;
    return 1;
}

static int on_start_map(void *ctx)
{
    struct check *c = ctx;
    if (c->depth == 0)
        return open_value(c, W_TOP);
    enum where inside = map_opens[c->slot];
    if (inside == W_MESSAGE)
        c->message_is_object = 1;
    else if (inside == W_ELSEWHERE)
        other_value(c);
    return open_value(c, inside);
}

/* The slot is S_NONE at the top (nothing named the value), where other_value does nothing. */
static int on_start_array(void *ctx)
{
    other_value(ctx);
    return open_value(ctx, W_ELSEWHERE);
}

static int on_end(void *ctx)
{
    struct check *c = ctx;
    c->depth--;
    c->slot = S_NONE;
    return 1;
}

static const yajl_callbacks callbacks = {
    .yajl_null = on_null,
    .yajl_boolean = on_boolean,
    .yajl_number = on_number,
    .yajl_string = on_string,
    .yajl_start_map = on_start_map,
    .yajl_map_key = on_map_key,
    .yajl_end_map = on_end,
    .yajl_start_array = on_start_array,
    .yajl_end_array = on_end,
};

static int hex4(const char *s, size_t len, size_t at, unsigned *out)
{
    if (at + 4 > len)
        return 0;
    unsigned v = 0;
    for (size_t i = at; i < at + 4; i++) {
        char h = s[i];
        unsigned d = h >= '0' && h <= '9'   ? (unsigned)(h - '0')
                     : h >= 'a' && h <= 'f' ? (unsigned)(h - 'a' + 10)
                     : h >= 'A' && h <= 'F' ? (unsigned)(h - 'A' + 10)
                                            : 16u;
        if (d == 16)
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* What yajl takes and jansson does not: UTF-8 that is well formed only in structure, \u0000,
 * unpaired UTF-16 surrogates in escapes (yajl writes '?' for them), and \v or \f between
 * tokens. Texts yajl refuses for other reasons may pass here. */
static int jansson_takes(const char *s, size_t len)
{
    if (!rp_utf8_valid(s, len))
        return 0;
    int in_string = 0;
    for (size_t i = 0; i < len; i++) {
        if (!in_string) {
            if (s[i] == '"')
                in_string = 1;
            else if (s[i] == '\v' || s[i] == '\f')
                return 0;
            continue;
        }
        if (s[i] == '"') {
            in_string = 0;
        } else if (s[i] == '\\' && i + 1 < len) {
            if (s[++i] != 'u')
                continue;
            unsigned u, low;
            if (!hex4(s, len, i + 1, &u))
                return 0;
            i += 4;
            if (u == 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return 0;
            if (u >= 0xD800 && u <= 0xDBFF) {
                if (i + 2 >= len || s[i + 1] != '\\' || s[i + 2] != 'u' ||
                    !hex4(s, len, i + 3, &low) || low < 0xDC00 || low > 0xDFFF)
                    return 0;
                i += 6;
            }
        }
    }
    return 1;
}

enum fcm_check_verdict fcm_check_body(const char *body, size_t len, struct fcm_check *out)
{
    *out = (struct fcm_check){0};
    struct check c = {.out = out};
    if (!jansson_takes(body, len) || !rp_json_stream(&callbacks, &c, body, len) ||
        !c.message_is_object)
        return FCM_BODY_INVALID;
    /* The order in which the replaced checks looked, so that a message with several problems
     * is named by the same one. */
    const char *why = NULL;
    if (c.targets != TARGET_TOKEN && c.targets != TARGET_TOPIC && c.targets != TARGET_CONDITION)
        why = "Exactly one of token, topic or condition must be specified";
    if (!why)
        why = c.data_problem[DATA_MESSAGE];
    if (!why && c.android_present) {
        why = c.data_problem[DATA_ANDROID];
        if (!why)
            why = c.ttl_problem;
        if (!why)
            why = c.priority_problem;
    }
    if (!why && c.strings_size > RP_FCM_PAYLOAD_MAX)
        why = "Message is too big";
    out->problem = why;
    return why ? FCM_MESSAGE_INVALID : FCM_MESSAGE_OK;
}

void fcm_check_free(struct fcm_check *c)
{
    free(c->token);
    c->token = NULL;
}
