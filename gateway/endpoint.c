#include "endpoint.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <fnmatch.h>
#include <string.h>
#include <time.h>

#include "channels/channel.h"
#include "rc.h"
#include "util.h"

/* Field paths are cut to fit struct rp_err's field; a long attribute name loses its tail. */
#define FIELD_SIZE sizeof(((struct rp_err *)0)->field)

enum member_kind { MEMBER_STRING, MEMBER_NUMBER };

/* One member of Pinpoint's small fixed structures (EndpointDemographic, EndpointLocation). */
struct member {
    const char *name;
    enum member_kind kind;
    size_t max_chars; /* strings; 0 where the reference states no limit */
    double min, max;  /* numbers */
};

/* Character limits as the API reference states them under EndpointDemographic; listed in the
 * schema's order, which is the order the members are written out in. */
static const struct member demographic_members[] = {
    {.name = "Make", .kind = MEMBER_STRING, .max_chars = 50},
    {.name = "Model", .kind = MEMBER_STRING, .max_chars = 100},
    {.name = "ModelVersion", .kind = MEMBER_STRING, .max_chars = 50},
    {.name = "Timezone", .kind = MEMBER_STRING},
    {.name = "Locale", .kind = MEMBER_STRING},
    {.name = "AppVersion", .kind = MEMBER_STRING, .max_chars = 50},
    {.name = "Platform", .kind = MEMBER_STRING, .max_chars = 50},
    {.name = "PlatformVersion", .kind = MEMBER_STRING, .max_chars = 50},
};

/* API reference, EndpointLocation. Country is documented as ISO 3166-1 alpha-2 or alpha-3 but
 * taken as any string: refusing a value Pinpoint stores would break existing clients. */
static const struct member location_members[] = {
    {.name = "Latitude", .kind = MEMBER_NUMBER, .min = -90, .max = 90},
    {.name = "Longitude", .kind = MEMBER_NUMBER, .min = -180, .max = 180},
    {.name = "PostalCode", .kind = MEMBER_STRING},
    {.name = "City", .kind = MEMBER_STRING, .max_chars = 75},
    {.name = "Region", .kind = MEMBER_STRING, .max_chars = 75},
    {.name = "Country", .kind = MEMBER_STRING},
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* The three maps of custom attributes, each tied to the RemoveAttributes attribute-type that
 * names its keys. */
struct custom_map {
    const char *path;           /* member path, as errors name it */
    const char *attribute_type; /* RemoveAttributes path segment */
    bool numeric;               /* Metrics: name -> number; the others: name -> [string] */
};

enum { MAP_ATTRIBUTES, MAP_METRICS, MAP_USER_ATTRIBUTES };

static const struct custom_map custom_maps[] = {
    [MAP_ATTRIBUTES] = {"Attributes", "endpoint-custom-attributes", false},
    [MAP_METRICS] = {"Metrics", "endpoint-metric-attributes", true},
    [MAP_USER_ATTRIBUTES] = {"User.UserAttributes", "endpoint-user-attributes", false},
};

/* ChannelType values in Pinpoint's enum that Repoint has no channel for: the generic PUSH and
 * the voice, in-app and custom channels (out of scope, API_SCOPE.md). Named so the 400 says
 * Repoint does not serve them rather than that they do not exist. */
static const char *const unserved_channel_types[] = {"PUSH", "VOICE", "CUSTOM", "IN_APP"};

/* Returns a member of obj, treating JSON null (and a non-object obj) as absent. */
static const json_t *member(const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    return json_is_null(v) ? NULL : v;
}

/* Returns a string member of obj, or NULL when absent or not a string. */
static const char *string_member(const json_t *obj, const char *name)
{
    return json_string_value(member(obj, name));
}

/* Pinpoint's limits count characters, not bytes. jansson only holds valid UTF-8, so counting
 * the bytes that do not continue a sequence counts code points. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xc0) != 0x80;
    return n;
}

static int check_string(const json_t *v, const char *field, size_t max_chars, struct rp_err *err)
{
    if (!json_is_string(v))
        return rp_err_set(err, RP_EINVAL, field, "must be a string");
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    /* A parser run with JSON_ALLOW_NUL could hand us one; C code downstream would cut it. */
    if (strlen(s) != len)
        return rp_err_set(err, RP_EINVAL, field, "must not contain NUL characters");
    if (max_chars && utf8_chars(s, len) > max_chars)
        return rp_err_set(err, RP_EINVAL, field, "can contain at most %zu characters", max_chars);
    return 0;
}

static int check_enum(const json_t *v, const char *field, const char *a, const char *b,
                      struct rp_err *err)
{
    int rc = check_string(v, field, 0, err);
    if (rc < 0)
        return rc;
    const char *s = json_string_value(v);
    if (strcmp(s, a) != 0 && strcmp(s, b) != 0)
        return rp_err_set(err, RP_EINVAL, field, "must be %s or %s", a, b);
    return 0;
}

/* Checks the characters of an id: Pinpoint's endpoint and user ids "can't contain $, { or }"
 * (API reference, endpoint-id and EndpointUser.UserId). Control characters are refused as well,
 * because ids end up in storage keys, log lines and export files. Counts them into *chars. */
static int check_id_text(const char *s, const char *field, size_t *chars, struct rp_err *err)
{
    size_t len = strlen(s), n = 0;
    for (size_t i = 0; i < len; n++) {
        long cp = rp_utf8_decode((const unsigned char *)s, len, &i);
        if (cp < 0)
            return rp_err_set(err, RP_EINVAL, field, "must be valid UTF-8");
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
            return rp_err_set(err, RP_EINVAL, field, "must not contain control characters");
        if (cp == '$' || cp == '{' || cp == '}')
            return rp_err_set(err, RP_EINVAL, field, "can't contain $, { or }");
    }
    *chars = n;
    return 0;
}

int rp_endpoint_id_validate(const char *id, const char *field, struct rp_err *err)
{
    if (!id || !*id)
        return rp_err_set(err, RP_EINVAL, field, "is required");
    size_t chars = 0;
    int rc = check_id_text(id, field, &chars, err);
    if (rc < 0)
        return rc;
    if (chars > RP_ENDPOINT_MAX_ID_LEN)
        return rp_err_set(err, RP_EINVAL, field, "can contain at most %d characters",
                          RP_ENDPOINT_MAX_ID_LEN);
    return 0;
}

/* Looks the type up in the channel registry; on success *out is the channel (static). */
static int check_channel_type(const char *type, const struct rp_channel_ops **out,
                              struct rp_err *err)
{
    const struct rp_channel_ops *ch = rp_channel_by_type(type);
    /* Pinpoint's enum is case sensitive, whatever the registry's lookup does. */
    if (ch && strcmp(ch->type, type) == 0) {
        *out = ch;
        return 0;
    }
    for (size_t i = 0; i < COUNT(unserved_channel_types); i++)
        if (strcmp(type, unserved_channel_types[i]) == 0)
            return rp_err_set(err, RP_EINVAL, "ChannelType",
                              "channel type %s is not supported by Repoint", type);
    char list[160] = "";
    size_t used = 0, count;
    const struct rp_channel_ops *const *all = rp_channel_all(&count);
    for (size_t i = 0; i < count && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", all[i]->type);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return rp_err_set(err, RP_EINVAL, "ChannelType", "must be one of %s", list);
}

static const char *take_digits(const char *p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return NULL;
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return p + n;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

/* ISO 8601 as clients write EffectiveDate: a calendar date in extended (2017-10-11) or basic
 * (20171011) form, optionally followed by T and a time of hours and minutes, optional seconds
 * and fraction, and an optional zone (Z, +hh:mm, +hhmm, +hh; none means UTC). The guide's own
 * example, 20171011T150548Z, is the basic form. */
bool rp_iso8601_parse_ms(const char *s, int64_t *unix_ms)
{
    int year, month, day, hour = 0, minute = 0, second = 0, frac, zone_sign = 0, zh = 0, zm = 0;
    int64_t frac_ms = 0;
    const char *p = take_digits(s, 4, &year);
    if (!p)
        return false;
    bool extended = *p == '-';
    p = take_digits(p + extended, 2, &month);
    if (!p || (extended && *p++ != '-'))
        return false;
    p = take_digits(p, 2, &day);
    if (!p || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return false;
    if (*p != '\0') {
        if (*p++ != 'T')
            return false;
        p = take_digits(p, 2, &hour);
        if (!p)
            return false;
        bool colon = *p == ':';
        p = take_digits(p + colon, 2, &minute);
        if (!p || hour > 23 || minute > 59)
            return false;
        if ((colon && *p == ':') || (!colon && *p >= '0' && *p <= '9')) {
            p = take_digits(p + colon, 2, &second);
            if (!p || second > 60)
                return false;
            if (*p == '.' || *p == ',') {
                int digits = 0;
                for (p++; take_digits(p, 1, &frac); p++) {
                    if (digits < 3)
                        frac_ms = frac_ms * 10 + frac;
                    digits++;
                }
                if (digits < 1 || digits > 9)
                    return false;
                for (int d = digits; d < 3; d++)
                    frac_ms *= 10;
            }
        }
        if (*p == 'Z') {
            if (p[1] != '\0')
                return false;
        } else if (*p == '+' || *p == '-') {
            zone_sign = *p == '+' ? 1 : -1;
            p = take_digits(p + 1, 2, &zh);
            if (!p)
                return false;
            if (*p != '\0') {
                p = take_digits(p + (*p == ':'), 2, &zm);
                if (!p)
                    return false;
            }
            if (*p != '\0' || zh > 23 || zm > 59)
                return false;
        } else if (*p != '\0') {
            return false;
        }
    }
    if (unix_ms) {
        struct tm tm = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = day,
                        .tm_hour = hour, .tm_min = minute, .tm_sec = second};
        int64_t secs = (int64_t)timegm(&tm) - (int64_t)zone_sign * (zh * 3600 + zm * 60);
        *unix_ms = secs * 1000 + frac_ms;
    }
    return true;
}

static bool iso8601_valid(const char *s)
{
    return rp_iso8601_parse_ms(s, NULL);
}

static int validate_struct(const json_t *obj, const char *name, const struct member *members,
                           size_t count, struct rp_err *err)
{
    if (!json_is_object(obj))
        return rp_err_set(err, RP_EINVAL, name, "must be an object");
    for (size_t i = 0; i < count; i++) {
        const struct member *m = &members[i];
        const json_t *v = member(obj, m->name);
        if (!v)
            continue;
        char field[FIELD_SIZE];
        snprintf(field, sizeof(field), "%s.%s", name, m->name);
        if (m->kind == MEMBER_STRING) {
            int rc = check_string(v, field, m->max_chars, err);
            if (rc < 0)
                return rc;
            continue;
        }
        if (!json_is_number(v))
            return rp_err_set(err, RP_EINVAL, field, "must be a number");
        double d = json_number_value(v);
        if (!(d >= m->min && d <= m->max))
            return rp_err_set(err, RP_EINVAL, field, "must be between %g and %g", m->min, m->max);
    }
    return 0;
}

static int validate_location(const json_t *location, struct rp_err *err)
{
    int rc = validate_struct(location, "Location", location_members, COUNT(location_members), err);
    if (rc < 0)
        return rc;
    /* API reference, EndpointLocation: "If you specify a latitude, you must also specify a
     * longitude" and the reverse. */
    bool lat = member(location, "Latitude") != NULL;
    bool lon = member(location, "Longitude") != NULL;
    if (lat && !lon)
        return rp_err_set(err, RP_EINVAL, "Location.Longitude", "is required with a Latitude");
    if (lon && !lat)
        return rp_err_set(err, RP_EINVAL, "Location.Latitude", "is required with a Longitude");
    return 0;
}

/* Sets err for the attribute path.name (built only on failure: validation runs per row of
 * imports of millions of endpoints). */
static int attribute_error(struct rp_err *err, const char *path, const char *name,
                           const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int attribute_error(struct rp_err *err, const char *path, const char *name,
                           const char *fmt, ...)
{
    char field[FIELD_SIZE], msg[sizeof(err->msg)];
    snprintf(field, sizeof(field), "%s.%s", path, name);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return rp_err_set(err, RP_EINVAL, field, "%s", msg);
}

static int validate_attribute_values(const json_t *values, const char *path, const char *name,
                                     struct rp_err *err)
{
    if (!json_is_array(values))
        return attribute_error(err, path, name, "must be an array of strings");
    size_t n = json_array_size(values);
    if (n > RP_ENDPOINT_MAX_ATTRIBUTE_VALUES)
        return attribute_error(err, path, name, "can hold at most %d values, got %zu",
                               RP_ENDPOINT_MAX_ATTRIBUTE_VALUES, n);
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(values, i);
        if (!json_is_string(v))
            return attribute_error(err, path, name, "value %zu must be a string", i);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (memchr(s, '\0', len))
            return attribute_error(err, path, name, "value %zu must not contain NUL characters",
                                   i);
        /* Up to 4 bytes a character: a short value need not be counted. */
        if (len > RP_ENDPOINT_MAX_ATTRIBUTE_VALUE_LEN &&
            utf8_chars(s, len) > RP_ENDPOINT_MAX_ATTRIBUTE_VALUE_LEN)
            return attribute_error(err, path, name, "value %zu is longer than %d characters", i,
                                   RP_ENDPOINT_MAX_ATTRIBUTE_VALUE_LEN);
    }
    return 0;
}

static int validate_map(const json_t *map, const struct custom_map *cm, struct rp_err *err)
{
    if (!json_is_object(map))
        return rp_err_set(err, RP_EINVAL, cm->path,
                          cm->numeric ? "must be an object mapping names to numbers"
                                      : "must be an object mapping names to arrays of strings");
    size_t n = json_object_size(map);
    if (n > RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES)
        return rp_err_set(err, RP_EINVAL, cm->path, "can hold at most %d attributes, got %zu",
                          RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES, n);
    const char *name;
    json_t *v;
    /* jansson's iteration API takes a non-const object; nothing here modifies it. */
    json_object_foreach((json_t *)map, name, v)
    {
        size_t len = strlen(name);
        if (len == 0)
            return rp_err_set(err, RP_EINVAL, cm->path, "attribute names must not be empty");
        if (len > RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN &&
            utf8_chars(name, len) > RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN)
            return attribute_error(err, cm->path, name, "name is longer than %d characters",
                                   RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN);
        if (cm->numeric) {
            if (!json_is_number(v))
                return attribute_error(err, cm->path, name, "must be a number");
            continue;
        }
        int rc = validate_attribute_values(v, cm->path, name, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int validate_user(const json_t *user, struct rp_err *err)
{
    if (!json_is_object(user))
        return rp_err_set(err, RP_EINVAL, "User", "must be an object");
    int rc;
    const json_t *id = member(user, "UserId");
    if (id) {
        size_t chars;
        if ((rc = check_string(id, "User.UserId", 0, err)) < 0)
            return rc;
        if ((rc = check_id_text(json_string_value(id), "User.UserId", &chars, err)) < 0)
            return rc;
    }
    const json_t *attributes = member(user, "UserAttributes");
    if (attributes && (rc = validate_map(attributes, &custom_maps[MAP_USER_ATTRIBUTES], err)) < 0)
        return rc;
    return 0;
}

int rp_endpoint_validate(const json_t *req, enum rp_endpoint_shape shape, struct rp_err *err)
{
    if (!json_is_object(req))
        return rp_err_set(err, RP_EINVAL, "", "must be a JSON object");
    int rc;
    const json_t *v;
    if (shape == RP_ENDPOINT_BATCH_ITEM) {
        v = member(req, "Id");
        if (!v)
            return rp_err_set(err, RP_EINVAL, "Id", "is required");
        if ((rc = check_string(v, "Id", 0, err)) < 0 ||
            (rc = rp_endpoint_id_validate(json_string_value(v), "Id", err)) < 0)
            return rc;
    }

    const struct rp_channel_ops *ch = NULL;
    if ((v = member(req, "ChannelType"))) {
        if ((rc = check_string(v, "ChannelType", 0, err)) < 0 ||
            (rc = check_channel_type(json_string_value(v), &ch, err)) < 0)
            return rc;
    }
    if ((v = member(req, "Address"))) {
        if ((rc = check_string(v, "Address", 0, err)) < 0)
            return rc;
        /* Without a ChannelType here, rp_endpoint_merge checks against the stored one. */
        if (ch && shape != RP_ENDPOINT_IMPORT_ROW &&
            (rc = rp_channel_address_validate(ch, json_string_value(v), "Address", err)) < 0)
            return rc;
    }
    if ((v = member(req, "EndpointStatus")) &&
        (rc = check_enum(v, "EndpointStatus", "ACTIVE", "INACTIVE", err)) < 0)
        return rc;
    if ((v = member(req, "OptOut")) && (rc = check_enum(v, "OptOut", "ALL", "NONE", err)) < 0)
        return rc;
    if ((v = member(req, "RequestId")) && (rc = check_string(v, "RequestId", 0, err)) < 0)
        return rc;
    if ((v = member(req, "EffectiveDate"))) {
        if ((rc = check_string(v, "EffectiveDate", 0, err)) < 0)
            return rc;
        if (!iso8601_valid(json_string_value(v)))
            return rp_err_set(err, RP_EINVAL, "EffectiveDate",
                              "must be an ISO 8601 date and time, such as 2026-01-31T12:00:00Z");
    }
    if ((v = member(req, "Demographic")) &&
        (rc = validate_struct(v, "Demographic", demographic_members, COUNT(demographic_members),
                              err)) < 0)
        return rc;
    if ((v = member(req, "Location")) && (rc = validate_location(v, err)) < 0)
        return rc;
    if ((v = member(req, "Attributes")) &&
        (rc = validate_map(v, &custom_maps[MAP_ATTRIBUTES], err)) < 0)
        return rc;
    if ((v = member(req, "Metrics")) && (rc = validate_map(v, &custom_maps[MAP_METRICS], err)) < 0)
        return rc;
    if ((v = member(req, "User")) && (rc = validate_user(v, err)) < 0)
        return rc;
    return 0;
}

int rp_endpoint_attribute_type_validate(const char *attribute_type, struct rp_err *err)
{
    for (size_t i = 0; attribute_type && i < COUNT(custom_maps); i++)
        if (strcmp(attribute_type, custom_maps[i].attribute_type) == 0)
            return 0;
    return rp_err_set(err, RP_EINVAL, "attribute-type", "must be one of %s, %s or %s",
                      custom_maps[MAP_ATTRIBUTES].attribute_type,
                      custom_maps[MAP_METRICS].attribute_type,
                      custom_maps[MAP_USER_ATTRIBUTES].attribute_type);
}

const char *rp_endpoint_user_id(const json_t *endpoint)
{
    const char *id = string_member(member(endpoint, "User"), "UserId");
    return id && *id ? id : NULL;
}

/* jansson reports only allocation failure once its input is known to be valid UTF-8, which is
 * checked before anything is built: out of memory takes the process's one policy. */
static json_t *must(json_t *v)
{
    if (!v)
        rp_panic("out of memory building an endpoint");
    return v;
}

/* Keys are literals or keys of other jansson objects: valid UTF-8 without checking again. */
static void put(json_t *obj, const char *key, json_t *value)
{
    if (json_object_set_new_nocheck(obj, key, must(value)) < 0)
        rp_panic("out of memory building an endpoint");
}

static void put_string(json_t *obj, const char *key, const char *s)
{
    put(obj, key, json_string(s));
}

/* Returns the request's string member, else the stored one, else NULL. */
static const char *pick(const json_t *req, const json_t *existing, const char *name)
{
    const char *s = string_member(req, name);
    return s ? s : string_member(existing, name);
}

/* Pinpoint assigns every endpoint to one of 100 cohorts ("0".."99", which campaigns use for
 * holdouts). Deriving it from the id keeps it stable without storing randomness: 32-bit FNV-1a
 * over the id with ASCII letters folded to lower case, since endpoint ids are case insensitive
 * (API reference, endpoint-id), modulo 100. */
static void cohort_id(const char *id, char *out, size_t size)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
        unsigned char c = *p;
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        h ^= c;
        h *= 16777619u;
    }
    snprintf(out, size, "%u", (unsigned)(h % 100));
}

/* Merges member by member; stored members of the wrong type are dropped rather than kept. */
static json_t *merge_struct(const json_t *stored, const json_t *req, const struct member *members,
                            size_t count)
{
    json_t *out = must(json_object());
    for (size_t i = 0; i < count; i++) {
        const struct member *m = &members[i];
        const json_t *v = member(req, m->name);
        if (!v)
            v = member(stored, m->name);
        if (m->kind == MEMBER_STRING && json_is_string(v))
            put_string(out, m->name, json_string_value(v));
        else if (m->kind == MEMBER_NUMBER && json_is_number(v))
            put(out, m->name, json_real(json_number_value(v)));
    }
    return out;
}

static bool attribute_removed(const json_t *removed, const char *attribute_type, const char *name)
{
    const json_t *names = json_object_get(removed, attribute_type);
    size_t i;
    const json_t *n;
    json_array_foreach(names, i, n)
    {
        /* Blacklist entries may be glob patterns (reference, UpdateAttributesRequest). */
        if (json_is_string(n) && fnmatch(json_string_value(n), name, 0) == 0)
            return true;
    }
    return false;
}

/* Merges key by key: a key in req replaces that key, other stored keys stay. Returns a new
 * object, or NULL with err set when the result would pass the per-endpoint limit. */
static json_t *merge_map(const json_t *stored, const json_t *req, const struct custom_map *cm,
                         const json_t *removed, struct rp_err *err)
{
    json_t *out = must(json_is_object(stored) ? json_deep_copy(stored) : json_object());
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)req, name, v)
    {
        if (attribute_removed(removed, cm->attribute_type, name))
            continue;
        /* Metrics are doubles in Pinpoint's model; storing reals answers 1.0 as Pinpoint does.
         * A value list is shared with the request, not copied: neither is modified afterwards,
         * and imports merge millions of them. */
        put(out, name, cm->numeric ? json_real(json_number_value(v)) : json_incref(v));
    }
    size_t n = json_object_size(out);
    if (n > RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES) {
        json_decref(out);
        rp_err_set(err, RP_EINVAL, cm->path,
                   "would hold %zu attributes after this update; an endpoint can have at most %d",
                   n, RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES);
        return NULL;
    }
    return out;
}

static json_t *merge_user(const json_t *stored, const json_t *req, const json_t *removed,
                          struct rp_err *err)
{
    json_t *attributes = merge_map(member(stored, "UserAttributes"), member(req, "UserAttributes"),
                                   &custom_maps[MAP_USER_ATTRIBUTES], removed, err);
    if (!attributes)
        return NULL;
    json_t *out = must(json_object());
    const char *id = pick(req, stored, "UserId");
    if (id && *id)
        put_string(out, "UserId", id);
    put(out, "UserAttributes", attributes);
    return out;
}

json_t *rp_endpoint_merge(const json_t *existing, const json_t *req, const json_t *removed,
                          const char *app_id, const char *endpoint_id, const char *now_iso,
                          struct rp_err *err)
{
    return rp_endpoint_merge_as(RP_ENDPOINT_REQUEST, existing, req, removed, app_id, endpoint_id,
                                now_iso, err);
}

json_t *rp_endpoint_merge_as(enum rp_endpoint_shape shape, const json_t *existing,
                             const json_t *req, const json_t *removed, const char *app_id,
                             const char *endpoint_id, const char *now_iso, struct rp_err *err)
{
    if (rp_endpoint_validate(req, shape, err) < 0 ||
        rp_endpoint_id_validate(endpoint_id, "Id", err) < 0)
        return NULL;
    if (existing && !json_is_object(existing)) {
        rp_err_set(err, RP_EINVAL, "", "the stored endpoint is not an object");
        return NULL;
    }
    if (!app_id || !rp_utf8_valid(app_id, strlen(app_id))) {
        rp_err_set(err, RP_EINVAL, "ApplicationId", "must be valid UTF-8");
        return NULL;
    }
    if (!now_iso || !rp_utf8_valid(now_iso, strlen(now_iso))) {
        rp_err_set(err, RP_EINVAL, "EffectiveDate", "the request time must be valid UTF-8");
        return NULL;
    }

    const char *type = pick(req, existing, "ChannelType");
    const char *address = pick(req, existing, "Address");
    if (!type || !address) {
        rp_err_set(err, RP_EINVAL, type ? "Address" : "ChannelType",
                   existing ? "is missing from the stored endpoint"
                            : "is required to create an endpoint");
        return NULL;
    }
    bool sets_address = member(req, "Address") != NULL;
    if (sets_address || member(req, "ChannelType")) {
        const struct rp_channel_ops *ch = NULL;
        if (check_channel_type(type, &ch, err) < 0 || !ch ||
            (shape != RP_ENDPOINT_IMPORT_ROW &&
             rp_channel_address_validate(ch, address, "Address", err) < 0))
            return NULL;
    }

    /* API reference, EndpointStatus: "Amazon Pinpoint automatically sets this value to ACTIVE
     * when you create an endpoint"; the import guide: "It is set to ACTIVE if the address is
     * updated". An explicit EndpointStatus in the same request wins. */
    const char *stored_address = string_member(existing, "Address");
    bool new_address = sets_address && (!stored_address || strcmp(stored_address, address) != 0);
    const char *status = string_member(req, "EndpointStatus");
    if (!status && !new_address)
        status = string_member(existing, "EndpointStatus");
    if (!status)
        status = "ACTIVE";

    /* Built before the output so that a limit error leaves nothing to undo. */
    json_t *attributes = merge_map(member(existing, "Attributes"), member(req, "Attributes"),
                                   &custom_maps[MAP_ATTRIBUTES], removed, err);
    json_t *metrics = attributes ? merge_map(member(existing, "Metrics"), member(req, "Metrics"),
                                             &custom_maps[MAP_METRICS], removed, err)
                                 : NULL;
    json_t *user =
        metrics ? merge_user(member(existing, "User"), member(req, "User"), removed, err) : NULL;
    if (!user) {
        json_decref(attributes);
        json_decref(metrics);
        return NULL;
    }

    /* Members in the order of the EndpointResponse schema. */
    json_t *out = must(json_object());
    put_string(out, "ChannelType", type);
    put_string(out, "Address", address);
    put_string(out, "EndpointStatus", status);
    const char *opt_out = pick(req, existing, "OptOut");
    put_string(out, "OptOut", opt_out ? opt_out : "NONE");
    const char *request_id = pick(req, existing, "RequestId");
    if (request_id)
        put_string(out, "RequestId", request_id);
    put(out, "Location",
        merge_struct(member(existing, "Location"), member(req, "Location"), location_members,
                     COUNT(location_members)));
    put(out, "Demographic",
        merge_struct(member(existing, "Demographic"), member(req, "Demographic"),
                     demographic_members, COUNT(demographic_members)));
    const char *effective = string_member(req, "EffectiveDate");
    put_string(out, "EffectiveDate", effective ? effective : now_iso);
    put(out, "Attributes", attributes);
    put(out, "Metrics", metrics);
    put(out, "User", user);
    put_string(out, "ApplicationId", app_id);
    /* Endpoint ids are case-insensitive (reference, endpoint-id): the id keeps the spelling the
     * endpoint was created with. */
    const char *stored_id = string_member(existing, "Id");
    put_string(out, "Id", stored_id ? stored_id : endpoint_id);
    const char *cohort = string_member(existing, "CohortId");
    char computed[12];
    if (!cohort) {
        cohort_id(endpoint_id, computed, sizeof(computed));
        cohort = computed;
    }
    put_string(out, "CohortId", cohort);
    const char *created = string_member(existing, "CreationDate");
    put_string(out, "CreationDate", created ? created : now_iso);
    return out;
}
