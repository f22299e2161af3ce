#include "render_content.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/email/email_address.h"
#include "rc.h"
#include "util.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))
#define FIELD_SIZE sizeof(((struct rp_err *)0)->field)

enum member_kind {
    MK_STRING,           /* any string without NUL; at most max_len bytes when max_len is set */
    MK_BOOL,
    MK_INT,              /* an integer in [min, max] */
    MK_ENUM,             /* one of choices ("A|B") */
    MK_SUBSTITUTIONS,    /* name -> array of strings (MapOfListOf__string) */
    MK_STRING_MAP,       /* name -> string (MapOf__string: Data) */
    MK_JSON_OBJECT_TEXT, /* a string holding a JSON object (RawContent) */
    MK_PRIORITY,         /* push priority in APNs or FCM words */
    MK_SENDER_ID,
    MK_PRINTABLE,        /* printable ASCII without spaces, at most max_len bytes */
    MK_DIGITS,           /* a string of decimal digits (ADM ExpiresAfter, in seconds) */
    MK_EMAIL,            /* a bare address */
    MK_EMAIL_NAMED,      /* an address, optionally as "Display Name <address>" */
    MK_EMAIL_LIST,
    MK_SIMPLE_EMAIL,
    MK_RAW_EMAIL,
};

struct rp_render_member {
    const char *name;
    enum member_kind kind;
    bool copy; /* copied into the content as given: the channel-specific members */
    const char *choices;
    long long min, max;
    size_t max_len;
};

enum { PRIO_NONE, PRIO_APNS, PRIO_FCM };

/* Limits the reference states: CollapseId "can't exceed 64 bytes" (APNSMessage); FCM's
 * TimeToLive maximum 2,419,200 s and Baidu's 604,800 s; MessageHeader: "up to 15 Headers",
 * names up to 126 and values up to 870 characters (the AWS SDK model's SimpleEmail.Headers). */
#define APNS_COLLAPSE_ID_MAX 64
#define FCM_TTL_MAX          2419200
#define BAIDU_TTL_MAX        604800
#define EMAIL_HEADERS_MAX    15
#define EMAIL_HEADER_NAME    126
#define EMAIL_HEADER_VALUE   870
/* IANA charset names are at most 40 characters (RFC 2978). */
#define CHARSET_MAX 40
/* GSM 03.38 alphanumeric originators: up to 11 letters and digits (as channels/sms/sms.c). */
#define SENDER_ID_MAX 11
/* Phone numbers, short codes and the pool or number ARNs later Pinpoint versions take. */
#define ORIGINATION_MAX 256
#define DIGITS_MAX      10

#define ACTIONS "OPEN_APP|DEEP_LINK|URL"
#define S(n) {.name = (n), .kind = MK_STRING, .copy = true}
#define PUSH_COMMON                                                                                \
    {.name = "Body", .kind = MK_STRING}, {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},      \
        {.name = "Title", .kind = MK_STRING},                                                      \
        {.name = "Action", .kind = MK_ENUM, .choices = ACTIONS},                                   \
        {.name = "Url", .kind = MK_STRING}, {.name = "SilentPush", .kind = MK_BOOL},               \
        {.name = "Data", .kind = MK_STRING_MAP}
#define ANDROID_IMAGES S("IconReference"), S("Sound"), S("ImageUrl"), S("ImageIconUrl"), \
    S("SmallImageIconUrl")
#define RAW_CONTENT {.name = "RawContent", .kind = MK_JSON_OBJECT_TEXT, .copy = true}

static const struct rp_render_member default_members[] = {
    {.name = "Body", .kind = MK_STRING},
    {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},
};

static const struct rp_render_member default_push_members[] = {PUSH_COMMON};

static const struct rp_render_member apns_members[] = {
    PUSH_COMMON,
    S("MediaUrl"),
    S("Sound"),
    {.name = "Badge", .kind = MK_INT, .copy = true, .min = 0, .max = INT32_MAX},
    S("Category"),
    S("ThreadId"),
    RAW_CONTENT,
    {.name = "PreferredAuthenticationMethod", .kind = MK_ENUM, .copy = true,
     .choices = "CERTIFICATE|TOKEN"},
    {.name = "TimeToLive", .kind = MK_INT, .copy = true, .min = 0, .max = INT32_MAX},
    {.name = "Priority", .kind = MK_PRIORITY, .copy = true},
    {.name = "CollapseId", .kind = MK_STRING, .copy = true, .max_len = APNS_COLLAPSE_ID_MAX},
    {.name = "APNSPushType", .kind = MK_ENUM, .copy = true,
     .choices = "alert|background|complication|fileprovider|mdm|voip"},
};

static const struct rp_render_member gcm_members[] = {
    PUSH_COMMON,
    ANDROID_IMAGES,
    RAW_CONTENT,
    S("CollapseKey"),
    S("RestrictedPackageName"),
    {.name = "TimeToLive", .kind = MK_INT, .copy = true, .min = 0, .max = FCM_TTL_MAX},
    {.name = "Priority", .kind = MK_PRIORITY, .copy = true},
    {.name = "PreferredAuthenticationMethod", .kind = MK_ENUM, .copy = true,
     .choices = "KEY|TOKEN"},
};

static const struct rp_render_member baidu_members[] = {
    PUSH_COMMON,
    ANDROID_IMAGES,
    RAW_CONTENT,
    {.name = "TimeToLive", .kind = MK_INT, .copy = true, .min = 0, .max = BAIDU_TTL_MAX},
};

static const struct rp_render_member adm_members[] = {
    PUSH_COMMON,
    ANDROID_IMAGES,
    RAW_CONTENT,
    S("ConsolidationKey"),
    {.name = "ExpiresAfter", .kind = MK_DIGITS, .copy = true},
    S("MD5"),
};

static const struct rp_render_member sms_members[] = {
    {.name = "Body", .kind = MK_STRING},
    {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},
    {.name = "SenderId", .kind = MK_SENDER_ID, .copy = true},
    {.name = "MessageType", .kind = MK_ENUM, .copy = true, .choices = "TRANSACTIONAL|PROMOTIONAL"},
    S("Keyword"),
    {.name = "OriginationNumber", .kind = MK_PRINTABLE, .copy = true, .max_len = ORIGINATION_MAX},
    S("EntityId"),
    S("TemplateId"),
    S("MediaUrl"),
};

static const struct rp_render_member email_members[] = {
    {.name = "Body", .kind = MK_STRING},
    {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},
    {.name = "FromAddress", .kind = MK_EMAIL_NAMED, .copy = true},
    {.name = "FeedbackForwardingAddress", .kind = MK_EMAIL, .copy = true},
    {.name = "ReplyToAddresses", .kind = MK_EMAIL_LIST, .copy = true},
    {.name = "SimpleEmail", .kind = MK_SIMPLE_EMAIL},
    {.name = "RawEmail", .kind = MK_RAW_EMAIL},
};

/* Voice is not served (API_SCOPE.md), but a configuration shared with other channels may carry
 * a VoiceMessage: it is checked for form and otherwise unused. */
static const struct rp_render_member voice_members[] = {
    {.name = "Body", .kind = MK_STRING},
    {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},
    {.name = "LanguageCode", .kind = MK_STRING},
    {.name = "VoiceId", .kind = MK_STRING},
    {.name = "OriginationNumber", .kind = MK_STRING},
};

#define PUSH_HINT                                                                                  \
    "or DefaultPushNotificationMessage, DefaultMessage.Body, a BodyOverride or RawContent, or a "  \
    "PushTemplate"
#define APNS_ENTRY(t)                                                                              \
    {t, RP_RENDER_PUSH, "APNSMessage", "PushTemplate", apns_members, COUNT(apns_members),          \
     PRIO_APNS, "MessageConfiguration.APNSMessage", PUSH_HINT}

/* The ChannelTypes Repoint serves, in the reference's order; channels/channel.c has the same
 * set (a unit test holds them together). */
static const struct rp_render_channel channels[] = {
    {"ADM", RP_RENDER_PUSH, "ADMMessage", "PushTemplate", adm_members, COUNT(adm_members),
     PRIO_NONE, "MessageConfiguration.ADMMessage", PUSH_HINT},
    APNS_ENTRY("APNS"),
    APNS_ENTRY("APNS_SANDBOX"),
    APNS_ENTRY("APNS_VOIP"),
    APNS_ENTRY("APNS_VOIP_SANDBOX"),
    {"BAIDU", RP_RENDER_PUSH, "BaiduMessage", "PushTemplate", baidu_members,
     COUNT(baidu_members), PRIO_NONE, "MessageConfiguration.BaiduMessage", PUSH_HINT},
    {"EMAIL", RP_RENDER_EMAIL, "EmailMessage", "EmailTemplate", email_members,
     COUNT(email_members), PRIO_NONE, "MessageConfiguration.EmailMessage",
     "(SimpleEmail, RawEmail or Body), or DefaultMessage.Body, a BodyOverride or an "
     "EmailTemplate"},
    {"GCM", RP_RENDER_PUSH, "GCMMessage", "PushTemplate", gcm_members, COUNT(gcm_members),
     PRIO_FCM, "MessageConfiguration.GCMMessage", PUSH_HINT},
    {"SMS", RP_RENDER_SMS, "SMSMessage", "SMSTemplate", sms_members, COUNT(sms_members),
     PRIO_NONE, "MessageConfiguration.SMSMessage.Body",
     "or DefaultMessage.Body, a BodyOverride or an SMSTemplate"},
};

/* DirectMessageConfiguration: every member and its shape. */
static const struct {
    const char *name;
    const struct rp_render_member *members;
    size_t n;
} message_shapes[] = {
    {"DefaultMessage", default_members, COUNT(default_members)},
    {"DefaultPushNotificationMessage", default_push_members, COUNT(default_push_members)},
    {"APNSMessage", apns_members, COUNT(apns_members)},
    {"GCMMessage", gcm_members, COUNT(gcm_members)},
    {"BaiduMessage", baidu_members, COUNT(baidu_members)},
    {"ADMMessage", adm_members, COUNT(adm_members)},
    {"EmailMessage", email_members, COUNT(email_members)},
    {"SMSMessage", sms_members, COUNT(sms_members)},
    {"VoiceMessage", voice_members, COUNT(voice_members)},
};

/* AddressConfiguration / EndpointSendConfiguration, ChannelType aside. */
static const struct rp_render_member send_members[] = {
    {.name = "Substitutions", .kind = MK_SUBSTITUTIONS},
    {.name = "Context", .kind = MK_STRING_MAP},
    RAW_CONTENT,
    {.name = "BodyOverride", .kind = MK_STRING},
    {.name = "TitleOverride", .kind = MK_STRING},
};

static const char *const unserved_types[] = {"PUSH", "VOICE", "CUSTOM", "IN_APP"};

const struct rp_render_channel *rp_render_channel_find(const char *type)
{
    for (size_t i = 0; type && i < COUNT(channels); i++)
        if (strcmp(channels[i].type, type) == 0)
            return &channels[i];
    return NULL;
}

bool rp_render_channel_unserved(const char *type)
{
    for (size_t i = 0; type && i < COUNT(unserved_types); i++)
        if (strcmp(unserved_types[i], type) == 0)
            return true;
    return false;
}

/* Sets err for the member at path. A path longer than rp_err's field loses its implied
 * "MessageConfiguration." first, then its tail. */
static int fail(struct rp_err *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct rp_err *err, const char *path, const char *fmt, ...)
{
    static const char implied[] = "MessageConfiguration.";
    if (strlen(path) >= FIELD_SIZE && strncmp(path, implied, sizeof(implied) - 1) == 0)
        path += sizeof(implied) - 1;
    char msg[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rp_err_set(err, RP_EINVAL, path, "%s", msg);
}

/* Field paths are cut to fit on purpose (rp_err's field is fixed), hence vsnprintf, which the
 * compiler's truncation warning leaves to us. */
static void path_format(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void path_format(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, size, fmt, ap);
    va_end(ap);
}

static void join_path(char *out, size_t size, const char *prefix, const char *name)
{
    path_format(out, size, "%s%s%s", prefix, *prefix ? "." : "", name);
}

static bool plain_string(const json_t *v)
{
    return json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v);
}

static int check_string(const json_t *v, const char *path, struct rp_err *err)
{
    if (!json_is_string(v))
        return fail(err, path, "must be a string");
    if (!plain_string(v))
        return fail(err, path, "must not contain NUL characters");
    return 0;
}

static bool in_choices(const char *s, const char *choices)
{
    size_t len = strlen(s);
    for (const char *c = choices; *c;) {
        const char *bar = strchr(c, '|');
        size_t clen = bar ? (size_t)(bar - c) : strlen(c);
        if (clen == len && strncmp(c, s, len) == 0)
            return true;
        c += clen + (bar ? 1 : 0);
    }
    return false;
}

static int check_enum(const json_t *v, const char *choices, const char *path, struct rp_err *err)
{
    int rc = check_string(v, path, err);
    if (rc < 0)
        return rc;
    if (in_choices(json_string_value(v), choices)) {
        return 0;
    }
    char list[160];
    snprintf(list, sizeof(list), "%s", choices);
    for (char *p = list; *p; p++)
        if (*p == '|')
            *p = ',';
    return fail(err, path, "must be one of %s", list);
}

static int check_substitutions(const json_t *v, const char *path, struct rp_err *err)
{
    if (!json_is_object(v))
        return fail(err, path, "must be an object mapping names to lists of strings");
    const char *name;
    const json_t *values;
    json_object_foreach((json_t *)v, name, values)
    {
        char sub[FIELD_SIZE * 2];
        join_path(sub, sizeof(sub), path, name);
        if (!*name)
            return fail(err, path, "has an empty variable name");
        if (!json_is_array(values))
            return fail(err, sub, "must be a list of strings");
        size_t i;
        const json_t *s;
        json_array_foreach(values, i, s)
        {
            if (!plain_string(s))
                return fail(err, sub, "must be a list of strings");
        }
    }
    return 0;
}

static int check_string_map(const json_t *v, const char *path, struct rp_err *err)
{
    if (!json_is_object(v))
        return fail(err, path, "must be an object mapping names to strings");
    const char *name;
    const json_t *value;
    json_object_foreach((json_t *)v, name, value)
    {
        if (!plain_string(value)) {
            char sub[FIELD_SIZE * 2];
            join_path(sub, sizeof(sub), path, name);
            return fail(err, sub, "must be a string");
        }
    }
    return 0;
}

static int check_json_object_text(const json_t *v, const char *path, struct rp_err *err)
{
    int rc = check_string(v, path, err);
    if (rc < 0)
        return rc;
    json_t *doc = json_loadb(json_string_value(v), json_string_length(v), 0, NULL);
    bool object = json_is_object(doc);
    json_decref(doc);
    return object ? 0 : fail(err, path, "must be a JSON object written as a string");
}

static int check_printable(const char *s, size_t max, const char *path, struct rp_err *err)
{
    size_t len = strlen(s);
    if (len > max)
        return fail(err, path, "is longer than %zu characters", max);
    for (size_t i = 0; i < len; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return fail(err, path, "must be printable ASCII without spaces");
    return 0;
}

static int check_sender_id(const char *id, const char *path, struct rp_err *err)
{
    size_t len = strlen(id);
    bool letter = false;
    if (len > SENDER_ID_MAX)
        return fail(err, path, "is longer than %d characters", SENDER_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool is_letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!is_letter && !(c >= '0' && c <= '9'))
            return fail(err, path, "must be letters and digits only");
        letter = letter || is_letter;
    }
    return letter ? 0 : fail(err, path, "must contain at least one letter");
}

static bool header_text(const char *s, bool name)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || (name && (*p == ' ' || *p == ':' || *p >= 0x80)))
            return false;
    }
    return true;
}

/* "Display Name <user@example.com>" or a bare address; a display name may not carry control
 * characters or angle brackets, so it cannot smuggle another header line into the message. */
static int check_named_address(const char *s, const char *path, struct rp_err *err)
{
    size_t len = strlen(s);
    const char *open = strrchr(s, '<');
    if (!open || len == 0 || s[len - 1] != '>')
        return rp_email_address_validate(s, path, err) < 0 ? RP_EINVAL : 0;
    for (const char *p = s; p < open; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f || *p == '<' || *p == '>')
            return fail(err, path, "has a display name with characters an address header "
                                   "cannot carry");
    char *addr = rp_strndup(open + 1, (size_t)(s + len - 1 - (open + 1)));
    int rc = rp_email_address_validate(addr, path, err);
    free(addr);
    return rc < 0 ? RP_EINVAL : 0;
}

static int check_email_part(const json_t *part, const char *path, struct rp_err *err)
{
    char sub[FIELD_SIZE * 2];
    if (!json_is_object(part))
        return fail(err, path, "must be an object with Data and Charset");
    const json_t *data = json_object_get(part, "Data"), *charset = json_object_get(part, "Charset");
    int rc;
    join_path(sub, sizeof(sub), path, "Data");
    if (data && !json_is_null(data) && (rc = check_string(data, sub, err)) < 0)
        return rc;
    join_path(sub, sizeof(sub), path, "Charset");
    if (charset && !json_is_null(charset)) {
        if ((rc = check_string(charset, sub, err)) < 0)
            return rc;
        if (json_string_length(charset) &&
            (rc = check_printable(json_string_value(charset), CHARSET_MAX, sub, err)) < 0)
            return rc;
    }
    return 0;
}

static int check_headers(const json_t *headers, const char *path, struct rp_err *err)
{
    if (!json_is_array(headers))
        return fail(err, path, "must be a list of {Name, Value} objects");
    if (json_array_size(headers) > EMAIL_HEADERS_MAX)
        return fail(err, path, "can have at most %d headers", EMAIL_HEADERS_MAX);
    size_t i;
    const json_t *h;
    json_array_foreach(headers, i, h)
    {
        char sub[FIELD_SIZE * 2];
        path_format(sub, sizeof(sub), "%s[%zu]", path, i);
        const json_t *name = json_object_get(h, "Name"), *value = json_object_get(h, "Value");
        if (!json_is_object(h) || !plain_string(name) || !plain_string(value))
            return fail(err, sub, "must have a string Name and a string Value");
        if (json_string_length(name) == 0 || json_string_length(name) > EMAIL_HEADER_NAME ||
            !header_text(json_string_value(name), true))
            return fail(err, sub, "must have a Name of 1 to %d printable characters, no colon",
                        EMAIL_HEADER_NAME);
        if (json_string_length(value) > EMAIL_HEADER_VALUE ||
            !header_text(json_string_value(value), false))
            return fail(err, sub, "must have a Value of at most %d characters, no line breaks",
                        EMAIL_HEADER_VALUE);
    }
    return 0;
}

static int check_simple_email(const json_t *v, const char *path, struct rp_err *err)
{
    static const char *const parts[] = {"Subject", "TextPart", "HtmlPart"};
    if (!json_is_object(v))
        return fail(err, path, "must be an object");
    char sub[FIELD_SIZE * 2];
    int rc;
    for (size_t i = 0; i < COUNT(parts); i++) {
        const json_t *part = json_object_get(v, parts[i]);
        join_path(sub, sizeof(sub), path, parts[i]);
        if (part && !json_is_null(part) && (rc = check_email_part(part, sub, err)) < 0)
            return rc;
    }
    /* The subject becomes a header line: a line break in it would start another header. */
    const char *subject = json_string_value(json_object_get(json_object_get(v, "Subject"), "Data"));
    if (subject && strpbrk(subject, "\r\n")) {
        join_path(sub, sizeof(sub), path, "Subject.Data");
        return fail(err, sub, "must not contain line breaks");
    }
    const json_t *headers = json_object_get(v, "Headers");
    join_path(sub, sizeof(sub), path, "Headers");
    if (headers && !json_is_null(headers) && (rc = check_headers(headers, sub, err)) < 0)
        return rc;
    return 0;
}

static bool base64_text(const char *s, size_t len)
{
    size_t n = 0, pad = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n')
            continue;
        if (c == '=') {
            pad++;
        } else if (pad || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '+' || c == '/')) {
            return false;
        }
        n++;
    }
    return pad <= 2 && n % 4 == 0;
}

static int check_raw_email(const json_t *v, const char *path, struct rp_err *err)
{
    char sub[FIELD_SIZE * 2];
    if (!json_is_object(v))
        return fail(err, path, "must be an object with Data");
    const json_t *data = json_object_get(v, "Data");
    join_path(sub, sizeof(sub), path, "Data");
    if (!data || json_is_null(data))
        return 0;
    int rc = check_string(data, sub, err);
    if (rc < 0)
        return rc;
    if (!base64_text(json_string_value(data), json_string_length(data)))
        return fail(err, sub, "must be the MIME message encoded in base64");
    return 0;
}

static int check_member(const json_t *v, const struct rp_render_member *m, const char *path,
                        struct rp_err *err)
{
    int rc;
    switch (m->kind) {
    case MK_BOOL:
        return json_is_boolean(v) ? 0 : fail(err, path, "must be true or false");
    case MK_INT:
        if (!json_is_integer(v) || json_integer_value(v) < m->min ||
            json_integer_value(v) > m->max)
            return fail(err, path, "must be an integer from %lld to %lld", m->min, m->max);
        return 0;
    case MK_ENUM:
        return check_enum(v, m->choices, path, err);
    case MK_PRIORITY:
        return check_enum(v, "5|10|normal|high", path, err);
    case MK_SUBSTITUTIONS:
        return check_substitutions(v, path, err);
    case MK_STRING_MAP:
        return check_string_map(v, path, err);
    case MK_JSON_OBJECT_TEXT:
        return check_json_object_text(v, path, err);
    case MK_SIMPLE_EMAIL:
        return check_simple_email(v, path, err);
    case MK_RAW_EMAIL:
        return check_raw_email(v, path, err);
    case MK_EMAIL_LIST: {
        if (!json_is_array(v))
            return fail(err, path, "must be a list of email addresses");
        size_t i;
        const json_t *a;
        json_array_foreach(v, i, a)
        {
            char sub[FIELD_SIZE * 2];
            path_format(sub, sizeof(sub), "%s[%zu]", path, i);
            if ((rc = check_string(a, sub, err)) < 0 ||
                (rc = check_named_address(json_string_value(a), sub, err)) < 0)
                return rc;
        }
        return 0;
    }
    default:
        break;
    }
    if ((rc = check_string(v, path, err)) < 0)
        return rc;
    const char *s = json_string_value(v);
    if (m->max_len && json_string_length(v) > m->max_len)
        return fail(err, path, "is longer than %zu bytes", m->max_len);
    if (!*s)
        return 0; /* "" counts as not given */
    switch (m->kind) {
    case MK_SENDER_ID:
        return check_sender_id(s, path, err);
    case MK_PRINTABLE:
        return check_printable(s, m->max_len, path, err);
    case MK_DIGITS:
        if (strlen(s) > DIGITS_MAX || strspn(s, "0123456789") != strlen(s))
            return fail(err, path, "must be a number of seconds written in digits");
        return 0;
    case MK_EMAIL:
        return rp_email_address_validate(s, path, err) < 0 ? RP_EINVAL : 0;
    case MK_EMAIL_NAMED:
        return check_named_address(s, path, err);
    default:
        return 0;
    }
}

static int check_shape(const json_t *obj, const struct rp_render_member *members, size_t n,
                       const char *prefix, struct rp_err *err)
{
    if (!json_is_object(obj))
        return fail(err, prefix, "must be an object");
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_object_get(obj, members[i].name);
        if (!v || json_is_null(v))
            continue;
        char path[FIELD_SIZE * 2];
        join_path(path, sizeof(path), prefix, members[i].name);
        int rc = check_member(v, &members[i], path, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int validate_message_configuration(const json_t *mc, struct rp_err *err)
{
    if (!mc || json_is_null(mc))
        return 0;
    if (!json_is_object(mc))
        return fail(err, "MessageConfiguration", "must be an object");
    for (size_t i = 0; i < COUNT(message_shapes); i++) {
        const json_t *msg = json_object_get(mc, message_shapes[i].name);
        if (!msg || json_is_null(msg))
            continue;
        char prefix[FIELD_SIZE * 2];
        path_format(prefix, sizeof(prefix), "MessageConfiguration.%s", message_shapes[i].name);
        int rc = check_shape(msg, message_shapes[i].members, message_shapes[i].n, prefix, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int validate_template_configuration(const json_t *tc, struct rp_err *err)
{
    static const char *const templates[] = {"SMSTemplate", "EmailTemplate", "PushTemplate",
                                            "VoiceTemplate", "InAppTemplate"};
    if (!tc || json_is_null(tc))
        return 0;
    if (!json_is_object(tc))
        return fail(err, "TemplateConfiguration", "must be an object");
    for (size_t i = 0; i < COUNT(templates); i++) {
        const json_t *t = json_object_get(tc, templates[i]);
        if (!t || json_is_null(t))
            continue;
        char path[FIELD_SIZE * 2], sub[FIELD_SIZE * 2];
        path_format(path, sizeof(path), "TemplateConfiguration.%s", templates[i]);
        if (strcmp(templates[i], "InAppTemplate") == 0)
            return fail(err, path, "is not supported for SendMessages");
        if (!json_is_object(t))
            return fail(err, path, "must be an object with Name and Version");
        const json_t *name = json_object_get(t, "Name"), *version = json_object_get(t, "Version");
        join_path(sub, sizeof(sub), path, "Name");
        if (!plain_string(name) || json_string_length(name) == 0)
            return fail(err, sub, "is required");
        join_path(sub, sizeof(sub), path, "Version");
        int rc;
        if (version && !json_is_null(version) && (rc = check_string(version, sub, err)) < 0)
            return rc;
    }
    return 0;
}

static int validate_send_configuration(const json_t *cfg, const char *prefix,
                                       bool with_channel_type, struct rp_err *err)
{
    if (!cfg || json_is_null(cfg))
        return 0;
    int rc = check_shape(cfg, send_members, COUNT(send_members), prefix, err);
    if (rc < 0 || !with_channel_type)
        return rc;
    const json_t *type = json_object_get(cfg, "ChannelType");
    char path[FIELD_SIZE * 2];
    join_path(path, sizeof(path), prefix, "ChannelType");
    if (type && !json_is_null(type))
        return check_string(type, path, err);
    return 0;
}

int rp_render_validate_message_configuration(const json_t *mc, struct rp_err *err)
{
    return rp_render_err_clean(validate_message_configuration(mc, err), err);
}

int rp_render_validate_template_configuration(const json_t *tc, struct rp_err *err)
{
    return rp_render_err_clean(validate_template_configuration(tc, err), err);
}

int rp_render_validate_send_configuration(const json_t *cfg, const char *prefix,
                                          bool with_channel_type, struct rp_err *err)
{
    return rp_render_err_clean(validate_send_configuration(cfg, prefix, with_channel_type, err),
                               err);
}

size_t rp_render_utf8_cut(const char *s, size_t n)
{
    size_t i = n, continuation = 0;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0x80) {
        i--;
        continuation++;
    }
    if (i == 0)
        return 0;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t expected = lead >= 0xf0 ? 3 : lead >= 0xe0 ? 2 : lead >= 0xc0 ? 1 : 0;
    if (lead < 0x80)
        return continuation ? i : n;
    return continuation == expected ? n : i - 1;
}

int rp_render_err_clean(int rc, struct rp_err *err)
{
    if (rc < 0 && err) {
        err->field[rp_render_utf8_cut(err->field, strlen(err->field))] = '\0';
        err->msg[rp_render_utf8_cut(err->msg, strlen(err->msg))] = '\0';
    }
    return rc;
}

/* A member of obj that counts as given: present, not null, and not "" for a string. */
static const json_t *given(const json_t *obj, const char *name)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v) || (json_is_string(v) && json_string_length(v) == 0))
        return NULL;
    return v;
}

static const json_t *first_of(const json_t *a, const json_t *b, const json_t *c,
                              const json_t *d)
{
    return a ? a : b ? b : c ? c : d;
}

/* Sets name in content to v (shared, reference counted) when v is given. */
static void put(json_t *content, const char *name, const json_t *v)
{
    if (v && json_object_set(content, name, (json_t *)v) != 0)
        rp_panic("out of memory rendering %s", name);
}

static void put_new(json_t *content, const char *name, json_t *v)
{
    if (!v || json_object_set_new(content, name, v) != 0)
        rp_panic("out of memory rendering %s", name);
}

static void copy_channel_members(const struct rp_render_channel *ch, const json_t *msg,
                                 json_t *content)
{
    for (size_t i = 0; i < ch->n_members; i++) {
        const struct rp_render_member *m = &ch->members[i];
        const json_t *v = given(msg, m->name);
        if (!m->copy || !v)
            continue;
        if (m->kind == MK_PRIORITY && ch->priority_style != PRIO_NONE) {
            /* The reference: Pinpoint "accepts and converts" the other service's words. */
            const char *p = json_string_value(v);
            bool high = strcmp(p, "10") == 0 || strcmp(p, "high") == 0;
            if (ch->priority_style == PRIO_APNS)
                put_new(content, m->name, json_string(high ? "10" : "5"));
            else
                put_new(content, m->name, json_string(high ? "high" : "normal"));
            continue;
        }
        put(content, m->name, v);
    }
}

static void build_push(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg,
                       json_t *content)
{
    const json_t *msg = given(mc, ch->message_member);
    const json_t *dpn = given(mc, "DefaultPushNotificationMessage");
    const json_t *dm = given(mc, "DefaultMessage");
    static const char *const shared[] = {"Action", "Url", "SilentPush", "Data"};

    copy_channel_members(ch, msg, content);
    put(content, "Title", first_of(given(rcfg, "TitleOverride"), given(msg, "Title"),
                                   given(dpn, "Title"), NULL));
    put(content, "Body", first_of(given(rcfg, "BodyOverride"), given(msg, "Body"),
                                  given(dpn, "Body"), given(dm, "Body")));
    for (size_t i = 0; i < COUNT(shared); i++)
        put(content, shared[i], first_of(given(msg, shared[i]), given(dpn, shared[i]), NULL, NULL));
    put(content, "RawContent", given(rcfg, "RawContent"));
}

static void build_sms(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg,
                      json_t *content)
{
    const json_t *msg = given(mc, ch->message_member);
    copy_channel_members(ch, msg, content);
    put(content, "Body", first_of(given(rcfg, "BodyOverride"), given(msg, "Body"),
                                  given(given(mc, "DefaultMessage"), "Body"), NULL));
}

static const json_t *part_data(const json_t *simple, const char *part)
{
    return given(given(simple, part), "Data");
}

/* Email: RawEmail carries the whole message; otherwise Subject, TextPart and HtmlPart come from
 * SimpleEmail and Body is the plain text to use when neither part is given. A BodyOverride is
 * what the recipient reads: it becomes Body and TextPart, and an HtmlPart is dropped so that no
 * alternative contradicts it. TitleOverride is the subject ("title or subject line"). */
static void build_email(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg,
                        json_t *content)
{
    const json_t *msg = given(mc, ch->message_member);
    const json_t *simple = given(msg, "SimpleEmail");
    const json_t *override = given(rcfg, "BodyOverride");

    copy_channel_members(ch, msg, content);
    put(content, "RawEmail", given(given(msg, "RawEmail"), "Data"));
    put(content, "Subject", first_of(given(rcfg, "TitleOverride"), part_data(simple, "Subject"),
                                     NULL, NULL));
    put(content, "TextPart", override ? override : part_data(simple, "TextPart"));
    if (!override)
        put(content, "HtmlPart", part_data(simple, "HtmlPart"));
    put(content, "Charset", first_of(given(given(simple, "HtmlPart"), "Charset"),
                                     given(given(simple, "TextPart"), "Charset"),
                                     given(given(simple, "Subject"), "Charset"), NULL));
    const json_t *headers = given(simple, "Headers");
    if (json_array_size(headers) > 0)
        put(content, "Headers", headers);
    put(content, "Body", first_of(override, given(msg, "Body"),
                                  given(given(mc, "DefaultMessage"), "Body"), NULL));
}

/* The content before substitution: a new object sharing its strings with mc and rcfg. */
static json_t *build(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg)
{
    json_t *content = json_object();
    if (!content)
        rp_panic("out of memory rendering a message");
    switch (ch->family) {
    case RP_RENDER_SMS:
        build_sms(ch, mc, rcfg, content);
        break;
    case RP_RENDER_EMAIL:
        build_email(ch, mc, rcfg, content);
        break;
    case RP_RENDER_PUSH:
        build_push(ch, mc, rcfg, content);
        break;
    }
    return content;
}

static json_t *merged_substitutions(const struct rp_render_channel *ch, const json_t *mc,
                                    const json_t *rcfg)
{
    const json_t *sources[] = {
        given(given(mc, "DefaultMessage"), "Substitutions"),
        ch->family == RP_RENDER_PUSH
            ? given(given(mc, "DefaultPushNotificationMessage"), "Substitutions")
            : NULL,
        given(given(mc, ch->message_member), "Substitutions"),
        given(rcfg, "Substitutions"),
    };
    json_t *vars = json_object();
    if (!vars)
        rp_panic("out of memory rendering Substitutions");
    for (size_t i = 0; i < COUNT(sources); i++)
        if (json_is_object(sources[i]) && json_object_update(vars, (json_t *)sources[i]) != 0)
            rp_panic("out of memory rendering Substitutions");
    return vars;
}

static int substitute_member(json_t *content, const char *name, const json_t *vars,
                             size_t *budget, const char *channel, struct rp_err *err)
{
    const json_t *v = json_object_get(content, name);
    if (!json_is_string(v))
        return 0;
    size_t len = 0;
    bool changed = false;
    char *s = rp_render_substitute(json_string_value(v), json_string_length(v), vars, *budget, &len,
                                   &changed);
    if (!s)
        return fail(err, "MessageConfiguration",
                    "the %s %s is larger than Repoint renders once its variables are substituted",
                    channel, name);
    if (changed) {
        /* Substituting UTF-8 at ASCII braces keeps it valid UTF-8. */
        json_t *out = json_stringn(s, len);
        if (!out)
            rp_panic("cannot build the rendered %s", name);
        put_new(content, name, out);
        *budget -= len;
    }
    free(s);
    return 0;
}

int rp_render_content(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg,
                      size_t *budget, json_t **out, json_t **vars_out, struct rp_err *err)
{
    static const char *const texts[] = {"Body", "Title", "Subject", "TextPart", "HtmlPart"};
    json_t *content = build(ch, mc, rcfg);
    json_t *vars = merged_substitutions(ch, mc, rcfg);
    if (json_object_size(vars) > 0) {
        for (size_t i = 0; i < COUNT(texts); i++) {
            int rc = substitute_member(content, texts[i], vars, budget, ch->type, err);
            if (rc < 0) {
                json_decref(vars);
                json_decref(content);
                return rc;
            }
        }
    }
    if (vars_out)
        *vars_out = vars;
    else
        json_decref(vars);
    *out = content;
    return 0;
}

bool rp_render_content_empty(const struct rp_render_channel *ch, const json_t *content)
{
    switch (ch->family) {
    case RP_RENDER_SMS:
        return !given(content, "Body");
    case RP_RENDER_EMAIL:
        return !given(content, "RawEmail") && !given(content, "Body") &&
               !given(content, "TextPart") && !given(content, "HtmlPart");
    case RP_RENDER_PUSH:
        return !given(content, "Title") && !given(content, "Body") &&
               !given(content, "RawContent") && json_object_size(given(content, "Data")) == 0 &&
               !json_is_true(given(content, "SilentPush"));
    }
    return true;
}

static bool any_override(const json_t *recipients)
{
    static const char *const overrides[] = {"BodyOverride", "TitleOverride", "RawContent"};
    const char *key;
    const json_t *cfg;
    json_object_foreach((json_t *)recipients, key, cfg)
    {
        for (size_t i = 0; i < COUNT(overrides); i++)
            if (given(cfg, overrides[i]))
                return true;
    }
    return false;
}

bool rp_render_recipient_has_content(const struct rp_render_channel *ch, const json_t *mc,
                                     const json_t *rcfg)
{
    json_t *content = build(ch, mc, rcfg);
    bool empty = rp_render_content_empty(ch, content);
    json_decref(content);
    return !empty;
}

bool rp_render_request_has_content(const json_t *mc, const json_t *tc, const json_t *a,
                                   const json_t *b)
{
    static const char *const templates[] = {"SMSTemplate", "EmailTemplate", "PushTemplate"};
    for (size_t i = 0; i < COUNT(templates); i++)
        if (given(tc, templates[i]))
            return true;
    if (any_override(a) || any_override(b))
        return true;
    for (size_t i = 0; i < COUNT(channels); i++)
        if (rp_render_recipient_has_content(&channels[i], mc, NULL))
            return true;
    return false;
}
