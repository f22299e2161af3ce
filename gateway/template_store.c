/* Message templates: their shapes, validation (every templated member compiled at save time),
 * and loading a version's compiled parts for a send through the process-wide cache. The layout
 * in Redis is described in template_store.h. */
#include "template_store.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonv.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#define MAX_DESCRIPTION 1024

static const char *const email_members[] = {"Subject", "TextPart", "HtmlPart", NULL};
static const char *const sms_members[] = {"Body", NULL};
/* Pinpoint: PushNotificationTemplateRequest's channel sections. */
static const char *const push_sections[] = {"ADM", "APNS", "Baidu", "Default", "GCM", NULL};
/* Members of AndroidPushNotificationTemplate / APNSPushNotificationTemplate /
 * DefaultPushNotificationTemplate that hold text (Action is an enum, never a template). */
static const char *const push_texts[] = {"Title", "Body", "Url", "Sound", "ImageUrl",
                                         "ImageIconUrl", "SmallImageIconUrl", "MediaUrl",
                                         "RawContent", NULL};

const char *rp_template_type(const char *s)
{
    static const char *const types[] = {"EMAIL", "SMS", "PUSH"};
    for (size_t i = 0; i < 3; i++)
        if (s && strcasecmp(s, types[i]) == 0)
            return types[i];
    return NULL;
}

bool rp_template_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > RP_TEMPLATE_NAME_MAX || !isalnum((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && name[i] != '_' && name[i] != '-')
            return false;
    return true;
}

int rp_template_key(char *out, const char *type, const char *name)
{
    return snprintf(out, RP_KEY_MAX, "rp:{tpl}:t:%s:%s", type, name);
}

const char *const *rp_template_content_members(const char *type)
{
    static const char *const push_members[] = {"ADM", "APNS", "Baidu", "Default", "GCM", NULL};
    if (strcmp(type, "EMAIL") == 0)
        return email_members;
    if (strcmp(type, "SMS") == 0)
        return sms_members;
    return push_members;
}

static int compile_member(const json_t *obj, const char *prefix, const char *name,
                          struct rp_tmpl **out, struct rp_err *err)
{
    const char *s = NULL;
    int rc = rp_jsonv_string(obj, prefix, name, RP_TMPL_MAX_SOURCE, &s, err);
    if (rc <= 0)
        return rc;
    struct rp_tmpl_error te;
    struct rp_tmpl *t = rp_tmpl_compile(s, json_string_length(json_object_get(obj, name)), &te);
    if (!t) {
        char field[64];
        snprintf(field, sizeof(field), "%s%s%s", prefix ? prefix : "", prefix ? "." : "", name);
        if (te.line)
            return rp_err_set(err, RP_EINVAL, field, "line %d, column %d: %s", te.line, te.column,
                              te.msg);
        return rp_err_set(err, RP_EINVAL, field, "%s", te.msg);
    }
    if (out)
        *out = t;
    else
        rp_tmpl_free(t);
    return 1;
}

static int validate_defaults(const json_t *body, json_t **out, struct rp_err *err)
{
    const char *s = NULL;
    int rc = rp_jsonv_string(body, NULL, "DefaultSubstitutions", RP_TMPL_MAX_SOURCE, &s, err);
    if (rc <= 0)
        return rc;
    json_error_t je;
    json_t *d = json_loads(s, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(d)) {
        json_decref(d);
        return rp_err_set(err, RP_EINVAL, "DefaultSubstitutions",
                          "must be a JSON object of variable names and default values, such as "
                          "{\"User.UserAttributes.FirstName\": \"there\"}");
    }
    const char *k;
    json_t *v;
    json_object_foreach(d, k, v)
    {
        if (!json_is_string(v) && !json_is_number(v) && !json_is_boolean(v)) {
            json_decref(d);
            return rp_err_set(err, RP_EINVAL, "DefaultSubstitutions",
                              "the default of %.60s must be a string", k);
        }
    }
    if (out)
        *out = d;
    else
        json_decref(d);
    return 1;
}

/* Validates, and when set is non-NULL also fills it with the compiled parts. */
static int compile_all(const char *type, const json_t *body, struct rp_tmpl_set *set,
                       struct rp_err *err)
{
    int rc;
    const char *s;
    if ((rc = rp_jsonv_string(body, NULL, "TemplateDescription", MAX_DESCRIPTION, &s, err)) < 0 ||
        (rc = rp_jsonv_string(body, NULL, "RecommenderId", 256, &s, err)) < 0)
        return rc;
    const json_t *tags;
    if ((rc = rp_jsonv_tags(body, NULL, &tags, err)) < 0)
        return rc;
    if ((rc = validate_defaults(body, set ? &set->defaults : NULL, err)) < 0)
        return rc;
    if (strcmp(type, "PUSH") != 0) {
        const char *const *members = strcmp(type, "EMAIL") == 0 ? email_members : sms_members;
        for (size_t i = 0; members[i]; i++) {
            struct rp_tmpl *t = NULL;
            if ((rc = compile_member(body, NULL, members[i], set ? &t : NULL, err)) < 0)
                return rc;
            if (t) {
                struct rp_tmpl_part *p = &set->parts[set->n_parts++];
                snprintf(p->name, sizeof(p->name), "%s", members[i]);
                p->tmpl = t;
            }
        }
        return 0;
    }
    for (size_t i = 0; push_sections[i]; i++) {
        const json_t *sec = NULL;
        if ((rc = rp_jsonv_object(body, NULL, push_sections[i], &sec, err)) < 0)
            return rc;
        if (rc == 0)
            continue;
        const char *prefix = push_sections[i];
        if ((rc = rp_jsonv_enum(sec, prefix, "Action", "OPEN_APP|DEEP_LINK|URL", &s, err)) < 0)
            return rc;
        for (size_t k = 0; push_texts[k]; k++) {
            struct rp_tmpl *t = NULL;
            if ((rc = compile_member(sec, prefix, push_texts[k], set ? &t : NULL, err)) < 0)
                return rc;
            if (t) {
                struct rp_tmpl_part *p = &set->parts[set->n_parts++];
                snprintf(p->name, sizeof(p->name), "%s.%s", prefix, push_texts[k]);
                p->tmpl = t;
            }
        }
    }
    return 0;
}

int rp_template_validate(const char *type, const json_t *body, struct rp_err *err)
{
    return compile_all(type, body, NULL, err);
}

int rp_template_compile(const char *type, const json_t *version, const char *key,
                        struct rp_tmpl_set **out, struct rp_err *err)
{
    struct rp_tmpl_set *set = rp_tmpl_set_new(key);
    int rc = compile_all(type, version, set, err);
    if (rc < 0) {
        rp_tmpl_set_unref(set);
        return rc;
    }
    set->source = json_incref((json_t *)version);
    *out = set;
    return 0;
}

int rp_template_doc_get(const char *type, const char *name, json_t **doc)
{
    char key[RP_KEY_MAX];
    rp_template_key(key, type, name);
    return rp_store_get_json(key, doc);
}

int rp_template_load(const char *type, const char *name, const char *version,
                     struct rp_tmpl_set **out, struct rp_err *err)
{
    json_t *doc = NULL;
    int rc = rp_template_doc_get(type, name, &doc);
    if (rc < 0)
        return RP_ESTORE;
    if (rc == 0)
        return rp_err_set(err, RP_ENOTFOUND, "Name", "no %s template named %.64s", type, name);
    const char *v = version && *version ? version : json_string_value(json_object_get(doc, "Active"));
    const json_t *stored = v ? json_object_get(json_object_get(doc, "Versions"), v) : NULL;
    if (!stored) {
        json_decref(doc);
        return rp_err_set(err, RP_ENOTFOUND, "Version", "the %s template %.64s has no version %.16s",
                          type, name, v ? v : "");
    }
    char key[RP_TMPL_CACHE_KEY_MAX];
    snprintf(key, sizeof(key), "%s\n%s\n%s\n%lld", type, name, v,
             (long long)json_integer_value(json_object_get(stored, "Rev")));
    struct rp_tmpl_set *set = rp_tmpl_cache_get(key);
    if (!set) {
        rc = rp_template_compile(type, stored, key, &set, err);
        if (rc < 0) {
            json_decref(doc);
            return rc;
        }
        rp_tmpl_cache_put(set);
    }
    json_decref(doc);
    *out = set;
    return 0;
}

void rp_template_forget(const char *type, const char *name)
{
    char prefix[RP_TMPL_CACHE_KEY_MAX];
    snprintf(prefix, sizeof(prefix), "%s\n%s\n", type, name);
    rp_tmpl_cache_drop_prefix(prefix);
}
