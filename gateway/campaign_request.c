/* WriteCampaignRequest validation and translation (campaign_request.h). */
#include "campaign_request.h"
#include "jsonv.h"
#include "rc.h"
#include "render_content.h"
#include "templates/template.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_MAX ((size_t)256 * 1024)
/* The reference: Daily and Total "The maximum value is 100"; MaximumDuration "The minimum
 * value is 60 seconds". */
#define PER_ENDPOINT_MAX 100
#define DURATION_MIN     60

static const char *const push_messages[] = {"DefaultMessage", "APNSMessage", "GCMMessage",
                                            "ADMMessage", "BaiduMessage"};

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int rp_campaign_parse_time(const char *s, int64_t *out_ms)
{
    int year, mon, day, hour, min, sec = 0, ms = 0;
    size_t len = strlen(s);
    if (len < 16 || digits(s, 4, &year) || s[4] != '-' || digits(s + 5, 2, &mon) || s[7] != '-' ||
        digits(s + 8, 2, &day) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &hour) || s[13] != ':' || digits(s + 14, 2, &min))
        return RP_EINVAL;
    const char *p = s + 16;
    if (*p == ':') {
        if (digits(p + 1, 2, &sec))
            return RP_EINVAL;
        p += 3;
        if (*p == '.' || *p == ',') {
            p++;
            int n = 0, scale = 100;
            while (isdigit((unsigned char)*p)) {
                if (n++ < 3) {
                    ms += (*p - '0') * scale;
                    scale /= 10;
                }
                p++;
            }
            if (n == 0)
                return RP_EINVAL;
        }
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om = 0;
        if (digits(p + 1, 2, &oh))
            return RP_EINVAL;
        p += 3;
        if (*p == ':')
            p++;
        if (isdigit((unsigned char)*p)) {
            if (digits(p, 2, &om))
                return RP_EINVAL;
            p += 2;
        }
        if (oh > 23 || om > 59)
            return RP_EINVAL;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p)
        return RP_EINVAL;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] ||
        hour > 23 || min > 59 || sec > 60)
        return RP_EINVAL;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (mon == 2 && day == 29 && !leap)
        return RP_EINVAL;
    struct tm tm = {.tm_year = year - 1900, .tm_mon = mon - 1, .tm_mday = day,
                    .tm_hour = hour, .tm_min = min, .tm_sec = sec};
    time_t t = timegm(&tm);
    *out_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
    return 0;
}

int rp_campaign_utc_offset(const char *tz, int *seconds)
{
    if (strcmp(tz, "UTC") == 0) {
        *seconds = 0;
        return 0;
    }
    int h, m = 0;
    size_t n = strlen(tz);
    if ((n != 6 && n != 9) || strncmp(tz, "UTC", 3) != 0 || (tz[3] != '+' && tz[3] != '-') ||
        digits(tz + 4, 2, &h) || h > 14 || (n == 9 && (tz[6] != ':' || digits(tz + 7, 2, &m) ||
                                                      m > 59)))
        return RP_EINVAL;
    *seconds = (tz[3] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    return 0;
}

int rp_campaign_parse_hhmm(const char *s)
{
    int h, m;
    if (strlen(s) != 5 || s[2] != ':' || digits(s, 2, &h) || digits(s + 3, 2, &m) || h > 23 ||
        m > 59)
        return -1;
    return h * 60 + m;
}

int rp_campaign_quiet(int start_min, int end_min, int local_min)
{
    if (start_min < 0 || end_min < 0)
        return 0;
    /* Pinpoint: quiet when the endpoint's time is at or after Start and at or before End; a
     * window past midnight (22:00-07:00) wraps. */
    if (start_min <= end_min)
        return local_min >= start_min && local_min <= end_min;
    return local_min >= start_min || local_min <= end_min;
}

static int refuse(const json_t *obj, const char *name, const char *prefix, const char *why,
                  struct rp_err *err)
{
    const json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v))
        return 0;
    char field[64];
    snprintf(field, sizeof(field), "%s%s", prefix, name);
    return rp_err_set(err, RP_EINVAL, field, "%s", why);
}

/* Every member of names[] must be a string (or absent). */
static int strings(const json_t *obj, const char *prefix, const char *const *names, size_t n,
                   struct rp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        const char *s;
        if (rp_jsonv_string(obj, prefix, names[i], TEXT_MAX, &s, err) < 0)
            return RP_EINVAL;
    }
    return 0;
}

static int check_push_message(const json_t *msg, const char *prefix, struct rp_err *err)
{
    static const char *const names[] = {"Body",     "Title", "ImageUrl", "ImageIconUrl",
                                        "ImageSmallIconUrl", "MediaUrl", "Url",
                                        "JsonBody", "RawContent"};
    if (strings(msg, prefix, names, sizeof(names) / sizeof(names[0]), err))
        return RP_EINVAL;
    const char *s;
    int b;
    long long ttl;
    if (rp_jsonv_enum(msg, prefix, "Action", "OPEN_APP|DEEP_LINK|URL", &s, err) < 0 ||
        rp_jsonv_bool(msg, prefix, "SilentPush", &b, err) < 0 ||
        rp_jsonv_int(msg, prefix, "TimeToLive", 0, 2419200, &ttl, err) < 0)
        return RP_EINVAL;
    const json_t *jb = json_object_get(msg, "JsonBody");
    if (json_is_string(jb)) {
        json_t *doc = json_loads(json_string_value(jb), JSON_REJECT_DUPLICATES, NULL);
        int ok = json_is_object(doc);
        json_decref(doc);
        if (!ok) {
            char f[64];
            snprintf(f, sizeof(f), "%.50s.JsonBody", prefix);
            return rp_err_set(err, RP_EINVAL, f, "must be a JSON object");
        }
    }
    return 0;
}

/* Message variables ({{Attributes.x}} ...) in a campaign's text render per endpoint through
 * the template engine: text that does not compile is refused now, not at every endpoint. */
static int check_variables(const json_t *mc, struct rp_err *err)
{
    static const char *const members[] = {"DefaultMessage", "APNSMessage", "GCMMessage",
                                          "ADMMessage",     "BaiduMessage", "EmailMessage",
                                          "SMSMessage"};
    static const char *const texts[] = {"Title", "Body", "HtmlBody"};
    for (size_t m = 0; m < sizeof(members) / sizeof(members[0]); m++)
        for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
            const char *text =
                json_string_value(json_object_get(json_object_get(mc, members[m]), texts[t]));
            if (!text || !strstr(text, "{{"))
                continue;
            struct rp_tmpl_error te;
            struct rp_tmpl *tmpl = rp_tmpl_compile(text, strlen(text), &te);
            if (!tmpl) {
                char f[64];
                snprintf(f, sizeof(f), "MessageConfiguration.%s.%s", members[m], texts[t]);
                return rp_err_set(err, RP_EINVAL, f, "line %d column %d: %s", te.line,
                                  te.column, te.msg);
            }
            rp_tmpl_free(tmpl);
        }
    return 0;
}

static int check_message_configuration(const json_t *mc, struct rp_err *err)
{
    if (!json_is_object(mc))
        return rp_err_set(err, RP_EINVAL, "MessageConfiguration", "must be an object");
    char prefix[64];
    for (size_t i = 0; i < sizeof(push_messages) / sizeof(push_messages[0]); i++) {
        const json_t *m = json_object_get(mc, push_messages[i]);
        snprintf(prefix, sizeof(prefix), "MessageConfiguration.%s", push_messages[i]);
        if (!m || json_is_null(m))
            continue;
        if (!json_is_object(m))
            return rp_err_set(err, RP_EINVAL, prefix, "must be an object");
        if (check_push_message(m, prefix, err))
            return RP_EINVAL;
    }
    const json_t *email = json_object_get(mc, "EmailMessage");
    if (email && !json_is_null(email)) {
        static const char *const names[] = {"Body", "Title", "HtmlBody", "FromAddress"};
        if (!json_is_object(email))
            return rp_err_set(err, RP_EINVAL, "MessageConfiguration.EmailMessage",
                              "must be an object");
        if (strings(email, "MessageConfiguration.EmailMessage", names, 4, err))
            return RP_EINVAL;
    }
    const json_t *sms = json_object_get(mc, "SMSMessage");
    if (sms && !json_is_null(sms)) {
        static const char *const names[] = {"Body", "SenderId", "OriginationNumber", "EntityId",
                                            "TemplateId"};
        const char *s;
        if (!json_is_object(sms))
            return rp_err_set(err, RP_EINVAL, "MessageConfiguration.SMSMessage",
                              "must be an object");
        if (strings(sms, "MessageConfiguration.SMSMessage", names, 5, err) ||
            rp_jsonv_enum(sms, "MessageConfiguration.SMSMessage", "MessageType",
                          "TRANSACTIONAL|PROMOTIONAL", &s, err) < 0)
            return RP_EINVAL;
    }
    if (refuse(mc, "CustomMessage", "MessageConfiguration.",
               "custom channels are not served by Repoint", err) ||
        refuse(mc, "InAppMessage", "MessageConfiguration.",
               "in-app messaging is not served by Repoint", err))
        return RP_EINVAL;
    if (check_variables(mc, err))
        return RP_EINVAL;
    /* What the renderer will be given must pass its own checks (RawContent a JSON object,
     * SenderId's form ...): a run never meets a message it cannot render. */
    json_t *direct = rp_campaign_direct_configuration(mc);
    int rc = rp_render_validate_message_configuration(direct, err);
    json_decref(direct);
    return rc ? RP_EINVAL : 0;
}

static int check_template_configuration(const json_t *tc, struct rp_err *err)
{
    if (!json_is_object(tc))
        return rp_err_set(err, RP_EINVAL, "TemplateConfiguration", "must be an object");
    if (refuse(tc, "VoiceTemplate", "TemplateConfiguration.",
               "the voice channel is not served by Repoint", err) ||
        refuse(tc, "InAppTemplate", "TemplateConfiguration.",
               "in-app messaging is not served by Repoint", err))
        return RP_EINVAL;
    return rp_render_validate_template_configuration(tc, err) ? RP_EINVAL : 0;
}

static int check_time(const json_t *schedule, const char *name, int64_t *out, struct rp_err *err)
{
    const char *s = NULL;
    int got = rp_jsonv_string(schedule, "Schedule", name, 64, &s, err);
    if (got <= 0)
        return got;
    if (rp_campaign_parse_time(s, out))
        return rp_err_set(err, RP_EINVAL, strcmp(name, "StartTime") == 0 ? "Schedule.StartTime"
                                                                          : "Schedule.EndTime",
                          "must be an ISO 8601 date-time such as 2026-11-22T18:00:00Z%s",
                          strcmp(name, "StartTime") == 0 ? ", or IMMEDIATE" : "");
    return 1;
}

static int check_schedule(const json_t *schedule, int64_t now_ms, struct rp_err *err)
{
    if (!schedule || json_is_null(schedule))
        return rp_err_set(err, RP_EINVAL, "Schedule", "is required (Schedule.StartTime: "
                                                      "IMMEDIATE or an ISO 8601 date-time)");
    if (!json_is_object(schedule))
        return rp_err_set(err, RP_EINVAL, "Schedule", "must be an object");
    const json_t *st = json_object_get(schedule, "StartTime");
    if (!st || json_is_null(st))
        return rp_err_set(err, RP_EINVAL, "Schedule.StartTime",
                          "is required: IMMEDIATE or an ISO 8601 date-time");
    int64_t start = 0, end = 0;
    int immediate = json_is_string(st) && strcmp(json_string_value(st), "IMMEDIATE") == 0;
    if (!immediate && check_time(schedule, "StartTime", &start, err) < 0)
        return RP_EINVAL;
    int has_end = check_time(schedule, "EndTime", &end, err);
    if (has_end < 0)
        return RP_EINVAL;
    if (has_end && !immediate && end <= start)
        return rp_err_set(err, RP_EINVAL, "Schedule.EndTime", "must be after Schedule.StartTime");
    if (has_end && end <= now_ms)
        return rp_err_set(err, RP_EINVAL, "Schedule.EndTime", "must be in the future");
    const char *freq = NULL;
    if (rp_jsonv_enum(schedule, "Schedule", "Frequency",
                      "ONCE|HOURLY|DAILY|WEEKLY|MONTHLY|EVENT|IN_APP_EVENT", &freq, err) < 0)
        return RP_EINVAL;
    if (freq && (strcmp(freq, "EVENT") == 0 || strcmp(freq, "IN_APP_EVENT") == 0))
        return rp_err_set(err, RP_EINVAL, "Schedule.Frequency",
                          "%s: event-triggered and in-app campaigns are not served by Repoint; "
                          "use ONCE, HOURLY, DAILY, WEEKLY or MONTHLY", freq);
    if (freq && strcmp(freq, "ONCE") != 0 && !has_end)
        return rp_err_set(err, RP_EINVAL, "Schedule.EndTime",
                          "is required for a recurring campaign (Frequency %s)", freq);
    int b = 0;
    if (rp_jsonv_bool(schedule, "Schedule", "IsLocalTime", &b, err) < 0)
        return RP_EINVAL;
    if (b && immediate)
        return rp_err_set(err, RP_EINVAL, "Schedule.IsLocalTime",
                          "needs a StartTime date-time (IMMEDIATE has no local time)");
    if (b && freq && strcmp(freq, "ONCE") != 0)
        return rp_err_set(err, RP_EINVAL, "Schedule.IsLocalTime",
                          "is supported for Frequency ONCE only");
    const char *tz = NULL;
    if (rp_jsonv_string(schedule, "Schedule", "Timezone", 16, &tz, err) < 0)
        return RP_EINVAL;
    int offset;
    if (tz && *tz && rp_campaign_utc_offset(tz, &offset))
        return rp_err_set(err, RP_EINVAL, "Schedule.Timezone",
                          "must be UTC or UTC+HH / UTC-HH / UTC+HH:MM, such as UTC+05:30");
    const json_t *qt = json_object_get(schedule, "QuietTime");
    if (qt && !json_is_null(qt)) {
        if (!json_is_object(qt))
            return rp_err_set(err, RP_EINVAL, "Schedule.QuietTime", "must be an object");
        const char *qs = NULL, *qe = NULL;
        if (rp_jsonv_string(qt, "Schedule.QuietTime", "Start", 5, &qs, err) < 0 ||
            rp_jsonv_string(qt, "Schedule.QuietTime", "End", 5, &qe, err) < 0)
            return RP_EINVAL;
        if ((qs && *qs) || (qe && *qe)) {
            if (rp_campaign_parse_hhmm(qs ? qs : "") < 0)
                return rp_err_set(err, RP_EINVAL, "Schedule.QuietTime.Start",
                                  "must be a time as HH:MM (24-hour), such as 22:00");
            if (rp_campaign_parse_hhmm(qe ? qe : "") < 0)
                return rp_err_set(err, RP_EINVAL, "Schedule.QuietTime.End",
                                  "must be a time as HH:MM (24-hour), such as 07:30");
        }
    }
    return refuse(schedule, "EventFilter", "Schedule.",
                  "event-triggered campaigns are not served by Repoint", err);
}

static int check_limits(const json_t *limits, struct rp_err *err)
{
    if (!limits || json_is_null(limits))
        return 0;
    if (!json_is_object(limits))
        return rp_err_set(err, RP_EINVAL, "Limits", "must be an object");
    long long v;
    if (rp_jsonv_int(limits, "Limits", "Daily", 0, PER_ENDPOINT_MAX, &v, err) < 0 ||
        rp_jsonv_int(limits, "Limits", "Total", 0, PER_ENDPOINT_MAX, &v, err) < 0 ||
        rp_jsonv_int(limits, "Limits", "Session", 0, 1000000, &v, err) < 0 ||
        rp_jsonv_int(limits, "Limits", "MessagesPerSecond", 1, RP_CAMPAIGN_MPS_MAX, &v, err) < 0 ||
        rp_jsonv_int(limits, "Limits", "MaximumDuration", DURATION_MIN, 365LL * 86400, &v, err) <
            0)
        return RP_EINVAL;
    return 0;
}

int rp_campaign_request_validate(const json_t *body, int64_t now_ms, struct rp_err *err)
{
    if (!json_is_object(body))
        return rp_err_set(err, RP_EINVAL, "", "the request body must be a JSON object");
    static const char *const texts[] = {"Name", "Description", "TreatmentName",
                                        "TreatmentDescription"};
    if (strings(body, "", texts, 4, err))
        return RP_EINVAL;
    const char *seg = NULL;
    if (rp_jsonv_string(body, "", "SegmentId", 64, &seg, err) < 0)
        return RP_EINVAL;
    if (!seg || !*seg)
        return rp_err_set(err, RP_EINVAL, "SegmentId", "is required");
    long long v;
    int b;
    const json_t *tags;
    if (rp_jsonv_int(body, "", "SegmentVersion", 1, 1000000, &v, err) < 0 ||
        rp_jsonv_int(body, "", "HoldoutPercent", 0, 100, &v, err) < 0 ||
        rp_jsonv_int(body, "", "Priority", 1, 5, &v, err) < 0 ||
        rp_jsonv_bool(body, "", "IsPaused", &b, err) < 0 ||
        rp_jsonv_tags(body, "", &tags, err) < 0)
        return RP_EINVAL;
    const json_t *mc = json_object_get(body, "MessageConfiguration");
    const json_t *tc = json_object_get(body, "TemplateConfiguration");
    if (json_is_null(mc))
        mc = NULL;
    if (json_is_null(tc))
        tc = NULL;
    if (!mc && !tc)
        return rp_err_set(err, RP_EINVAL, "MessageConfiguration",
                          "is required (or TemplateConfiguration): the campaign has nothing "
                          "to send");
    if ((mc && check_message_configuration(mc, err)) ||
        (tc && check_template_configuration(tc, err)))
        return RP_EINVAL;
    if (check_schedule(json_object_get(body, "Schedule"), now_ms, err) ||
        check_limits(json_object_get(body, "Limits"), err))
        return RP_EINVAL;
    const json_t *treatments = json_object_get(body, "AdditionalTreatments");
    if (treatments && !json_is_null(treatments) &&
        (!json_is_array(treatments) || json_array_size(treatments) > 0))
        return rp_err_set(err, RP_EINVAL, "AdditionalTreatments",
                          "A/B treatments are not supported by Repoint; send one campaign per "
                          "variant to its own segment");
    const json_t *hook = json_object_get(body, "Hook");
    if (hook && !json_is_null(hook) &&
        (!json_is_object(hook) || json_object_get(hook, "LambdaFunctionName") ||
         json_object_get(hook, "WebUrl")))
        return rp_err_set(err, RP_EINVAL, "Hook",
                          "campaign hooks (AWS Lambda) are not supported by Repoint");
    return refuse(body, "CustomDeliveryConfiguration", "",
                  "custom channels are not served by Repoint", err);
}

static int64_t time_member(const json_t *schedule, const char *name)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(schedule, name));
    if (s && rp_campaign_parse_time(s, &ms))
        ms = 0;
    return ms;
}

void rp_campaign_schedule_read(const json_t *body, struct rp_campaign_schedule *out)
{
    const json_t *schedule = json_object_get(body, "Schedule");
    const char *st = json_string_value(json_object_get(schedule, "StartTime"));
    memset(out, 0, sizeof(*out));
    out->immediate = !st || strcmp(st, "IMMEDIATE") == 0;
    if (!out->immediate)
        out->start_ms = time_member(schedule, "StartTime");
    out->end_ms = time_member(schedule, "EndTime");
    out->local_time = json_is_true(json_object_get(schedule, "IsLocalTime")) && !out->immediate;
    const char *f = json_string_value(json_object_get(schedule, "Frequency"));
    static const char *const names[] = {"ONCE", "HOURLY", "DAILY", "WEEKLY", "MONTHLY"};
    for (int i = 0; f && i < 5; i++)
        if (strcmp(f, names[i]) == 0)
            out->frequency = (enum rp_campaign_frequency)i;
}

int64_t rp_campaign_period_ms(enum rp_campaign_frequency f)
{
    static const int64_t hour = 3600000, day = 86400000;
    switch (f) {
    case RP_FREQ_HOURLY:
        return hour;
    case RP_FREQ_DAILY:
        return day;
    case RP_FREQ_WEEKLY:
        return day * 7;
    case RP_FREQ_MONTHLY:
        return day * 30;
    case RP_FREQ_ONCE:
        break;
    }
    return 0;
}

static void copy(json_t *to, const char *to_name, const json_t *from, const char *from_name)
{
    json_t *v = json_object_get(from, from_name);
    if (v && !json_is_null(v))
        json_object_set(to, to_name, v);
}

/* JsonBody (a JSON object as text) becomes the push Data map: strings as they are, other
 * values as compact JSON text, since Data is a map of strings. */
static json_t *data_of(const json_t *msg)
{
    const char *text = json_string_value(json_object_get(msg, "JsonBody"));
    json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
    if (!json_is_object(doc)) {
        json_decref(doc);
        return NULL;
    }
    json_t *data = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(doc, k, v)
    {
        if (json_is_string(v)) {
            json_object_set(data, k, v);
        } else if (!json_is_null(v)) {
            char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            if (s)
                json_object_set_new(data, k, json_string(s));
            free(s);
        }
    }
    json_decref(doc);
    return data;
}

/* A campaign push Message as the direct message member `member` of render_content.c. */
static json_t *push_message(const json_t *msg, const char *member)
{
    json_t *out = json_object();
    static const char *const same[] = {"Body", "Title", "Action", "Url", "SilentPush",
                                       "RawContent"};
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        copy(out, same[i], msg, same[i]);
    json_t *data = data_of(msg);
    if (data)
        json_object_set_new(out, "Data", data);
    int apns = strcmp(member, "APNSMessage") == 0, adm = strcmp(member, "ADMMessage") == 0;
    int dflt = strcmp(member, "DefaultPushNotificationMessage") == 0;
    if (dflt)
        return out;
    if (apns) {
        copy(out, "MediaUrl", msg, "MediaUrl");
    } else {
        copy(out, "ImageUrl", msg, "ImageUrl");
        copy(out, "ImageIconUrl", msg, "ImageIconUrl");
        copy(out, "SmallImageIconUrl", msg, "ImageSmallIconUrl");
    }
    const json_t *ttl = json_object_get(msg, "TimeToLive");
    if (json_is_integer(ttl)) {
        if (adm) {
            char s[24];
            snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(ttl));
            json_object_set_new(out, "ExpiresAfter", json_string(s));
        } else {
            json_object_set(out, "TimeToLive", (json_t *)ttl);
        }
    }
    return out;
}

json_t *rp_campaign_direct_configuration(const json_t *mc)
{
    json_t *out = json_object();
    if (!json_is_object(mc))
        return out;
    const json_t *dm = json_object_get(mc, "DefaultMessage");
    if (json_is_object(dm)) {
        /* Push channels without their own message take the whole DefaultMessage; SMS and email
         * take its Body, as a direct DefaultMessage gives. */
        json_object_set_new(out, "DefaultPushNotificationMessage",
                            push_message(dm, "DefaultPushNotificationMessage"));
        json_t *d = json_object();
        copy(d, "Body", dm, "Body");
        json_object_set_new(out, "DefaultMessage", d);
        /* A channel message from DefaultMessage keeps the channel-specific members
         * (ImageUrl, TimeToLive ...) that DefaultPushNotificationMessage has no room for. */
        for (size_t i = 1; i < sizeof(push_messages) / sizeof(push_messages[0]); i++)
            if (!json_is_object(json_object_get(mc, push_messages[i])))
                json_object_set_new(out, push_messages[i], push_message(dm, push_messages[i]));
    }
    for (size_t i = 1; i < sizeof(push_messages) / sizeof(push_messages[0]); i++) {
        const json_t *m = json_object_get(mc, push_messages[i]);
        if (json_is_object(m))
            json_object_set_new(out, push_messages[i], push_message(m, push_messages[i]));
    }
    const json_t *sms = json_object_get(mc, "SMSMessage");
    if (json_is_object(sms)) {
        json_t *s = json_object();
        static const char *const names[] = {"Body", "MessageType", "SenderId",
                                            "OriginationNumber", "EntityId", "TemplateId"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
            copy(s, names[i], sms, names[i]);
        json_object_set_new(out, "SMSMessage", s);
    }
    const json_t *email = json_object_get(mc, "EmailMessage");
    if (json_is_object(email)) {
        json_t *e = json_object(), *simple = json_object();
        copy(e, "FromAddress", email, "FromAddress");
        static const char *const parts[][2] = {
            {"Title", "Subject"}, {"Body", "TextPart"}, {"HtmlBody", "HtmlPart"}};
        for (size_t i = 0; i < 3; i++) {
            const json_t *v = json_object_get(email, parts[i][0]);
            if (json_is_string(v))
                json_object_set_new(simple, parts[i][1], json_pack("{s:O}", "Data", v));
        }
        if (json_object_size(simple))
            json_object_set_new(e, "SimpleEmail", simple);
        else
            json_decref(simple);
        copy(e, "Body", email, "Body");
        json_object_set_new(out, "EmailMessage", e);
    }
    return out;
}

int rp_campaign_has_message(const json_t *body, const char *channel)
{
    const json_t *mc = json_object_get(body, "MessageConfiguration");
    const json_t *tc = json_object_get(body, "TemplateConfiguration");
    const char *member, *tmpl;
    if (strncmp(channel, "APNS", 4) == 0) {
        member = "APNSMessage";
        tmpl = "PushTemplate";
    } else if (strcmp(channel, "GCM") == 0) {
        member = "GCMMessage";
        tmpl = "PushTemplate";
    } else if (strcmp(channel, "ADM") == 0) {
        member = "ADMMessage";
        tmpl = "PushTemplate";
    } else if (strcmp(channel, "BAIDU") == 0) {
        member = "BaiduMessage";
        tmpl = "PushTemplate";
    } else if (strcmp(channel, "SMS") == 0) {
        member = "SMSMessage";
        tmpl = "SMSTemplate";
    } else if (strcmp(channel, "EMAIL") == 0) {
        member = "EmailMessage";
        tmpl = "EmailTemplate";
    } else {
        return 0;
    }
    return json_is_object(json_object_get(mc, member)) ||
           json_is_object(json_object_get(mc, "DefaultMessage")) ||
           json_is_object(json_object_get(tc, tmpl));
}
