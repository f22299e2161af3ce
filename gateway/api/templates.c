/* Message templates: Create/Update/Get/Delete of EMAIL, SMS and PUSH templates, ListTemplates,
 * ListTemplateVersions and UpdateTemplateActiveVersion, as the reference describes them.
 *
 * Versions, per the reference: creating a template makes version "1", which is active. An update
 * overwrites the latest version unless create-new-version=true, which adds a version (the
 * active one stays what it was until UpdateTemplateActiveVersion); a `version` given to an
 * update must be the latest ("This restriction helps ensure that race conditions don't occur").
 * Get answers the active version unless `version` names one; Delete removes every version, or
 * with `version` just that one (Repoint's choice: not the active one while others remain, so a
 * template never loses the version its sends use). Every write is a read-modify-write of the
 * template's one document under WATCH, retried when another writer got there first. */
#include "templates.h"

#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "template_store.h"
#include "util.h"

#define EDIT_ATTEMPTS 8
#define MAX_PAGE 1000

static void template_arn(char *out, size_t size, const char *name, const char *type)
{
    const char *region = rp_ctx.region && *rp_ctx.region ? rp_ctx.region : "us-east-1";
    snprintf(out, size, "arn:aws:mobiletargeting:%s:%s:templates/%s/%s", region,
             rp_config_str(rp_ctx.cfg, "account_id"), name, type);
}

static void respond_message(struct rp_request *req, int status, const char *message,
                            const char *arn)
{
    json_t *body = json_pack("{s:s, s:s}", "Message", message, "RequestID", req->request_id);
    if (arn)
        json_object_set_new(body, "Arn", json_string(arn));
    rp_respond_json(req, status, body);
}

static const char *checked_name(struct rp_request *req)
{
    const char *name = req->params[0];
    if (!rp_template_name_valid(name)) {
        rp_respond_error(req, 400, "BadRequestException",
                         "template-name: must start with a letter or digit and contain at most "
                         "%d letters, digits, underscores (_) or hyphens (-)",
                         RP_TEMPLATE_NAME_MAX);
        return NULL;
    }
    return name;
}

static void respond_not_found(struct rp_request *req, const char *name, const char *type)
{
    rp_respond_error(req, 404, "NotFoundException", "Template %s of type %s not found", name, type);
}

/* The stored document of a template (the caller's reference), or NULL with the 503 or 404 sent. */
static json_t *load_doc(struct rp_request *req, const char *type, const char *name)
{
    json_t *doc = NULL;
    int rc = rp_template_doc_get(type, name, &doc);
    if (rc < 0)
        rp_respond_unavailable(req);
    else if (rc == 0)
        respond_not_found(req, name, type);
    return rc > 0 ? doc : NULL;
}

/* What one write does to the stored document. */
struct edit {
    const char *type, *name;
    const json_t *body;  /* Create/Update request */
    char version[24];    /* `version` query parameter or the active version to set */
    bool new_version;    /* create-new-version=true */
    bool create;
    bool remove;
    bool set_active;
    char now[RP_ISO_SIZE];
    struct rp_err err;
};

static long long version_number(const char *s)
{
    char *end;
    long long v = s && *s ? strtoll(s, &end, 10) : -1;
    return s && *s && !*end && v > 0 ? v : -1;
}

/* A revision for new version content: unique across deletes and re-creates of the same name
 * and across instances (milliseconds and 16 random bits), so a cache key that names it can
 * only ever mean this content. */
static long long fresh_rev(void)
{
    uint16_t noise;
    rp_random_bytes(&noise, sizeof(noise));
    return (long long)rp_now_ms() * 65536 + noise;
}

/* The version object for body: its content members, description, defaults. */
static json_t *version_object(const struct edit *e, const char *number, long long rev,
                              const char *created)
{
    json_t *v = json_object();
    const char *const *members = rp_template_content_members(e->type);
    for (size_t i = 0; members[i]; i++) {
        json_t *m = json_object_get(e->body, members[i]);
        if (m && !json_is_null(m))
            json_object_set(v, members[i], m);
    }
    static const char *const common[] = {"TemplateDescription", "DefaultSubstitutions",
                                         "RecommenderId"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        json_t *m = json_object_get(e->body, common[i]);
        if (json_is_string(m))
            json_object_set(v, common[i], m);
    }
    json_object_set_new(v, "Version", json_string(number));
    json_object_set_new(v, "CreationDate", json_string(created));
    json_object_set_new(v, "LastModifiedDate", json_string(e->now));
    json_object_set_new(v, "Rev", json_integer(rev));
    return v;
}

/* Applies e to doc (borrowed, NULL when absent): 0 with *out (new; NULL to delete the template)
 * or an rp_rc with e->err. */
static int apply(struct edit *e, const json_t *doc, json_t **out)
{
    *out = NULL;
    if (e->create) {
        if (doc)
            return rp_err_set(&e->err, RP_EEXISTS, "template-name",
                              "a %s template named %s already exists", e->type, e->name);
        json_t *d = json_pack("{s:s, s:s, s:s, s:s, s:I, s:{}}", "TemplateName", e->name,
                              "TemplateType", e->type, "CreationDate", e->now, "Active", "1",
                              "Latest", (json_int_t)1, "Versions");
        json_t *tags = json_object_get(e->body, "tags");
        if (json_is_object(tags))
            json_object_set(d, "tags", tags);
        json_object_set_new(json_object_get(d, "Versions"), "1",
                            version_object(e, "1", fresh_rev(), e->now));
        *out = d;
        return 0;
    }
    if (!doc)
        return rp_err_set(&e->err, RP_ENOTFOUND, "template-name", "no %s template named %s",
                          e->type, e->name);
    json_t *d = json_deep_copy(doc);
    json_t *versions = json_object_get(d, "Versions");
    long long latest = json_integer_value(json_object_get(d, "Latest"));
    long long rev = fresh_rev();
    char latest_s[24];
    snprintf(latest_s, sizeof(latest_s), "%lld", latest);
    if (e->set_active) {
        if (!json_object_get(versions, e->version)) {
            json_decref(d);
            return rp_err_set(&e->err, RP_ENOTFOUND, "Version", "the %s template %s has no "
                              "version %s", e->type, e->name, e->version);
        }
        json_object_set_new(d, "Active", json_string(e->version));
        *out = d;
        return 0;
    }
    if (e->remove) {
        if (!e->version[0]) {
            json_decref(d);
            return 0; /* the whole template */
        }
        if (!json_object_get(versions, e->version)) {
            json_decref(d);
            return rp_err_set(&e->err, RP_ENOTFOUND, "version", "the %s template %s has no "
                              "version %s", e->type, e->name, e->version);
        }
        if (json_object_size(versions) == 1) {
            json_decref(d);
            return 0;
        }
        if (strcmp(json_string_value(json_object_get(d, "Active")), e->version) == 0) {
            json_decref(d);
            return rp_err_set(&e->err, RP_EINVAL, "version",
                              "version %s is the active version: make another version active "
                              "first (UpdateTemplateActiveVersion)", e->version);
        }
        json_object_del(versions, e->version);
        if (atoll(e->version) == latest) {
            /* The latest is now the highest remaining version. */
            long long top = 0;
            const char *k;
            json_t *v;
            json_object_foreach(versions, k, v)
            {
                if (atoll(k) > top)
                    top = atoll(k);
            }
            json_object_set_new(d, "Latest", json_integer(top));
        }
        *out = d;
        return 0;
    }
    /* Update. */
    if (e->new_version) {
        snprintf(latest_s, sizeof(latest_s), "%lld", latest + 1);
        json_object_set_new(versions, latest_s, version_object(e, latest_s, rev, e->now));
        json_object_set_new(d, "Latest", json_integer(latest + 1));
    } else {
        if (e->version[0] && strcmp(e->version, latest_s) != 0) {
            json_decref(d);
            return rp_err_set(&e->err, RP_EINVAL, "version",
                              "must be the latest version of the template (%s)", latest_s);
        }
        const char *created =
            json_string_value(json_object_get(json_object_get(versions, latest_s), "CreationDate"));
        json_object_set_new(versions, latest_s,
                            version_object(e, latest_s, rev, created ? created : e->now));
    }
    *out = d;
    return 0;
}

static void append_index(const struct edit *e, bool add)
{
    char member[RP_TEMPLATE_NAME_MAX + 16];
    int len = snprintf(member, sizeof(member), "%s%c%s", e->name, RP_TEMPLATE_INDEX_SEP, e->type);
    if (add)
        rp_store_append("ZADD " RP_TEMPLATE_INDEX " 0 %b", member, (size_t)len);
    else
        rp_store_append("ZREM " RP_TEMPLATE_INDEX " %b", member, (size_t)len);
}

/* The read-modify-write under WATCH. Returns 0, RP_ESTORE, RP_ECONFLICT after EDIT_ATTEMPTS
 * lost races, or apply()'s rc. */
static int run_edit(struct edit *e)
{
    char key[RP_KEY_MAX];
    rp_template_key(key, e->type, e->name);
    for (int attempt = 0; attempt < EDIT_ATTEMPTS; attempt++) {
        redisReply *r = rp_store_command("WATCH %s", key);
        if (!rp_reply_ok(r)) {
            if (r)
                freeReplyObject(r);
            return RP_ESTORE;
        }
        freeReplyObject(r);
        json_t *doc = NULL;
        if (rp_store_get_json(key, &doc) < 0)
            return RP_ESTORE;
        json_t *next = NULL;
        int rc = apply(e, doc, &next);
        json_decref(doc);
        if (rc < 0) {
            r = rp_store_command("UNWATCH");
            if (r)
                freeReplyObject(r);
            return rc;
        }
        char *text = next ? json_dumps(next, JSON_COMPACT) : NULL;
        json_decref(next);
        rp_store_append("MULTI");
        if (text)
            rp_store_append("SET %s %s", key, text);
        else
            rp_store_append("DEL %s", key);
        append_index(e, text != NULL);
        rp_store_append("EXEC");
        free(text);
        redisReply *replies[4];
        if (rp_store_collect(replies, 4) < 0)
            return RP_ESTORE;
        bool ok = replies[3]->type == REDIS_REPLY_ARRAY;
        bool failed = !rp_reply_ok(replies[3]);
        for (int i = 0; i < 4; i++)
            freeReplyObject(replies[i]);
        if (failed)
            return RP_ESTORE;
        if (ok) {
            rp_template_forget(e->type, e->name);
            return 0;
        }
    }
    return RP_ECONFLICT;
}

static void respond_edit_error(struct rp_request *req, struct edit *e, int rc)
{
    switch (rc) {
    case RP_ENOTFOUND:
        rp_respond_error(req, 404, "NotFoundException", "%s: %s", e->err.field, e->err.msg);
        break;
    case RP_EINVAL:
    case RP_EEXISTS:
        rp_respond_bad_request(req, &e->err);
        break;
    case RP_ECONFLICT:
        rp_respond_error(req, 409, "ConflictException",
                         "the template changed concurrently too many times; try again");
        break;
    default:
        rp_respond_unavailable(req);
        break;
    }
}

static bool read_version_param(struct rp_request *req, struct edit *e)
{
    int q = rp_request_query(req, "version", e->version, sizeof(e->version));
    if (q < 0)
        return false;
    if (q == 1 && version_number(e->version) < 0) {
        rp_respond_error(req, 400, "BadRequestException",
                         "version: must be a version number such as 1");
        return false;
    }
    return true;
}

static void create_or_update(struct rp_request *req, const char *type, bool create)
{
    const char *name = checked_name(req);
    if (!name)
        return;
    struct edit e = {.type = type, .name = name, .create = create};
    rp_err_clear(&e.err);
    if (!create) {
        char cnv[16] = "";
        if (!read_version_param(req, &e) ||
            rp_request_query(req, "create-new-version", cnv, sizeof(cnv)) < 0)
            return;
        if (cnv[0] && strcmp(cnv, "true") != 0 && strcmp(cnv, "false") != 0) {
            rp_respond_error(req, 400, "BadRequestException",
                             "create-new-version: must be true or false");
            return;
        }
        e.new_version = strcmp(cnv, "true") == 0;
        if (e.new_version && e.version[0]) {
            rp_respond_error(req, 400, "BadRequestException",
                             "version: cannot be given with create-new-version=true");
            return;
        }
    }
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    if (rp_template_validate(type, body, &e.err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &e.err);
        return;
    }
    e.body = body;
    rp_api_now_iso(e.now);
    int rc = run_edit(&e);
    json_decref(body);
    if (rc < 0) {
        respond_edit_error(req, &e, rc);
        return;
    }
    if (create) {
        char arn[512];
        template_arn(arn, sizeof(arn), name, type);
        respond_message(req, 201, "Created", arn);
    } else {
        respond_message(req, 202, "Accepted", NULL);
    }
}

/* The TemplateResponse-style members of a version (borrowed doc and version). */
static json_t *version_response(const json_t *doc, const json_t *version, bool content)
{
    const char *type = json_string_value(json_object_get(doc, "TemplateType"));
    const char *name = json_string_value(json_object_get(doc, "TemplateName"));
    json_t *out = json_object();
    if (content) {
        const char *const *members = rp_template_content_members(type);
        for (size_t i = 0; members[i]; i++) {
            json_t *m = json_object_get(version, members[i]);
            if (m)
                json_object_set(out, members[i], m);
        }
        json_t *rid = json_object_get(version, "RecommenderId");
        if (rid)
            json_object_set(out, "RecommenderId", rid);
        char arn[512];
        template_arn(arn, sizeof(arn), name, type);
        json_object_set_new(out, "Arn", json_string(arn));
    }
    json_object_set_new(out, "TemplateName", json_string(name));
    json_object_set_new(out, "TemplateType", json_string(type));
    static const char *const common[] = {"CreationDate", "LastModifiedDate", "Version",
                                         "TemplateDescription", "DefaultSubstitutions"};
    for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++) {
        json_t *m = json_object_get(version, common[i]);
        if (m)
            json_object_set(out, common[i], m);
    }
    return out;
}

static void get_template(struct rp_request *req, const char *type)
{
    const char *name = checked_name(req);
    if (!name)
        return;
    struct edit e = {.type = type};
    if (!read_version_param(req, &e))
        return;
    json_t *doc = load_doc(req, type, name);
    if (!doc)
        return;
    const char *v = e.version[0] ? e.version : json_string_value(json_object_get(doc, "Active"));
    const json_t *version = json_object_get(json_object_get(doc, "Versions"), v ? v : "");
    if (!version) {
        json_decref(doc);
        rp_respond_error(req, 404, "NotFoundException", "Template %s of type %s has no version %s",
                         name, type, v ? v : "");
        return;
    }
    json_t *out = version_response(doc, version, true);
    /* CreationDate of a template response is the template's, as the reference describes it;
     * tags live on the template. */
    json_object_set(out, "CreationDate", json_object_get(doc, "CreationDate"));
    json_t *tags = json_object_get(doc, "tags");
    json_object_set_new(out, "tags", tags ? json_incref(tags) : json_object());
    json_decref(doc);
    rp_respond_json(req, 200, out);
}

static void delete_template(struct rp_request *req, const char *type)
{
    const char *name = checked_name(req);
    if (!name)
        return;
    struct edit e = {.type = type, .name = name, .remove = true};
    rp_err_clear(&e.err);
    if (!read_version_param(req, &e))
        return;
    int rc = run_edit(&e);
    if (rc == RP_ENOTFOUND && !e.version[0]) {
        respond_not_found(req, name, type);
        return;
    }
    if (rc < 0) {
        respond_edit_error(req, &e, rc);
        return;
    }
    respond_message(req, 202, "Accepted", NULL);
}

#define TEMPLATE_HANDLERS(lower, TYPE)                                                         \
    void rp_api_create_##lower##_template(struct rp_request *req)                             \
    {                                                                                          \
        create_or_update(req, TYPE, true);                                                     \
    }                                                                                          \
    void rp_api_update_##lower##_template(struct rp_request *req)                             \
    {                                                                                          \
        create_or_update(req, TYPE, false);                                                    \
    }                                                                                          \
    void rp_api_get_##lower##_template(struct rp_request *req)                                \
    {                                                                                          \
        get_template(req, TYPE);                                                               \
    }                                                                                          \
    void rp_api_delete_##lower##_template(struct rp_request *req)                             \
    {                                                                                          \
        delete_template(req, TYPE);                                                            \
    }

TEMPLATE_HANDLERS(email, "EMAIL")
TEMPLATE_HANDLERS(sms, "SMS")
TEMPLATE_HANDLERS(push, "PUSH")

static const char *checked_type(struct rp_request *req, const char *s)
{
    const char *type = rp_template_type(s);
    if (!type)
        rp_respond_error(req, 400, "BadRequestException",
                         "template-type: must be EMAIL, SMS or PUSH (Repoint serves no VOICE or "
                         "INAPP templates)");
    return type;
}

static bool read_page_size(struct rp_request *req, long *page_size)
{
    char s[16] = "";
    if (rp_request_query(req, "page-size", s, sizeof(s)) < 0)
        return false;
    *page_size = 100;
    if (s[0]) {
        char *end;
        *page_size = strtol(s, &end, 10);
        if (*end || *page_size < 1 || *page_size > MAX_PAGE) {
            rp_respond_error(req, 400, "BadRequestException",
                             "page-size: must be an integer between 1 and %d", MAX_PAGE);
            return false;
        }
    }
    return true;
}

/* ListTemplateVersions, in version order; next-token is the last version answered. */
void rp_api_list_template_versions(struct rp_request *req)
{
    const char *name = checked_name(req);
    if (!name)
        return;
    const char *type = checked_type(req, req->params[1]);
    if (!type)
        return;
    long page_size;
    char token[24] = "";
    if (!read_page_size(req, &page_size) ||
        rp_request_query(req, "next-token", token, sizeof(token)) < 0)
        return;
    long long after = 0;
    if (token[0] && (after = version_number(token)) < 0) {
        rp_respond_error(req, 400, "BadRequestException",
                         "next-token: not a token Repoint issued");
        return;
    }
    json_t *doc = load_doc(req, type, name);
    if (!doc)
        return;
    json_t *versions = json_object_get(doc, "Versions");
    long long latest = json_integer_value(json_object_get(doc, "Latest"));
    json_t *items = json_array();
    long long last = 0;
    bool more = false;
    for (long long v = after + 1; v <= latest; v++) {
        char k[24];
        snprintf(k, sizeof(k), "%lld", v);
        json_t *version = json_object_get(versions, k);
        if (!version)
            continue;
        if ((long)json_array_size(items) == page_size) {
            more = true;
            break;
        }
        json_array_append_new(items, version_response(doc, version, false));
        last = v;
    }
    json_t *out = json_pack("{s:o, s:s, s:s}", "Item", items, "Message", "OK", "RequestID",
                            req->request_id);
    if (more) {
        char next[24];
        snprintf(next, sizeof(next), "%lld", last);
        json_object_set_new(out, "NextToken", json_string(next));
    }
    json_decref(doc);
    rp_respond_json(req, 200, out);
}

void rp_api_update_template_active_version(struct rp_request *req)
{
    const char *name = checked_name(req);
    if (!name)
        return;
    const char *type = checked_type(req, req->params[1]);
    if (!type)
        return;
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct edit e = {.type = type, .name = name, .set_active = true};
    rp_err_clear(&e.err);
    const char *v = json_string_value(json_object_get(body, "Version"));
    if (!v || version_number(v) < 0) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException",
                         "Version: is required, a version number such as 2");
        return;
    }
    snprintf(e.version, sizeof(e.version), "%s", v);
    json_decref(body);
    int rc = run_edit(&e);
    if (rc == RP_ENOTFOUND && strcmp(e.err.field, "template-name") == 0) {
        respond_not_found(req, name, type);
        return;
    }
    if (rc < 0) {
        respond_edit_error(req, &e, rc);
        return;
    }
    respond_message(req, 200, "OK", NULL);
}

/* ListTemplates: the index in name order (then type), filtered by prefix and template-type;
 * next-token is the hex of the last index member answered, so deletions between pages skip
 * nothing. */
void rp_api_list_templates(struct rp_request *req)
{
    long page_size;
    char token[2 * (RP_TEMPLATE_NAME_MAX + 16) + 1] = "", prefix[RP_TEMPLATE_NAME_MAX + 1] = "",
                                                     type_s[16] = "";
    if (!read_page_size(req, &page_size) ||
        rp_request_query(req, "next-token", token, sizeof(token)) < 0 ||
        rp_request_query(req, "prefix", prefix, sizeof(prefix)) < 0 ||
        rp_request_query(req, "template-type", type_s, sizeof(type_s)) < 0)
        return;
    const char *type = NULL;
    if (type_s[0] && !(type = checked_type(req, type_s)))
        return;
    char after[RP_TEMPLATE_NAME_MAX + 16] = "";
    size_t after_len = strlen(token) / 2;
    if (token[0] && (strlen(token) % 2 || rp_unhex(token, (unsigned char *)after, after_len) < 0 ||
                     memchr(after, RP_TEMPLATE_INDEX_SEP, after_len) == NULL)) {
        rp_respond_error(req, 400, "BadRequestException", "next-token: not a token Repoint issued");
        return;
    }
    /* Range: after the token (exclusive) or from the prefix, up to the end of the prefix. */
    char min[RP_TEMPLATE_NAME_MAX + 20], max[RP_TEMPLATE_NAME_MAX + 20];
    int min_len, max_len;
    if (token[0]) {
        min_len = snprintf(min, sizeof(min), "(%.*s", (int)after_len, after);
    } else {
        min_len = snprintf(min, sizeof(min), "[%s", prefix);
    }
    if (prefix[0])
        max_len = snprintf(max, sizeof(max), "[%s\xff", prefix);
    else
        max_len = snprintf(max, sizeof(max), "+");
    json_t *items = json_array();
    char last[RP_TEMPLATE_NAME_MAX + 16] = "";
    size_t last_len = 0;
    bool more = false, failed = false;
    long offset = 0;
    while (!more && !failed) {
        redisReply *r = rp_store_command("ZRANGEBYLEX " RP_TEMPLATE_INDEX " %b %b LIMIT %ld %ld",
                                         min, (size_t)min_len, max, (size_t)max_len, offset,
                                         page_size + 1);
        if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
            if (r)
                freeReplyObject(r);
            failed = true;
            break;
        }
        size_t n = r->elements;
        offset += (long)n;
        for (size_t i = 0; i < n && !more && !failed; i++) {
            const char *m = r->element[i]->str;
            size_t mlen = r->element[i]->len;
            const char *sep = memchr(m, RP_TEMPLATE_INDEX_SEP, mlen);
            if (!sep || mlen >= sizeof(last))
                continue;
            char name[RP_TEMPLATE_NAME_MAX + 1];
            size_t nlen = (size_t)(sep - m);
            if (nlen > RP_TEMPLATE_NAME_MAX)
                continue;
            memcpy(name, m, nlen);
            name[nlen] = '\0';
            char mtype[16];
            snprintf(mtype, sizeof(mtype), "%.*s", (int)(mlen - nlen - 1), sep + 1);
            if (type && strcmp(type, mtype) != 0)
                continue;
            if ((long)json_array_size(items) == page_size) {
                more = true;
                break;
            }
            json_t *doc = NULL;
            int rc = rp_template_doc_get(mtype, name, &doc);
            if (rc < 0) {
                failed = true;
                break;
            }
            if (rc == 0)
                continue;
            const char *active_v = json_string_value(json_object_get(doc, "Active"));
            const json_t *active =
                json_object_get(json_object_get(doc, "Versions"), active_v ? active_v : "");
            /* Version is the active version's, as the reference describes TemplateResponse. */
            json_t *item = version_response(doc, active, false);
            char arn[512];
            template_arn(arn, sizeof(arn), name, mtype);
            json_object_set_new(item, "Arn", json_string(arn));
            json_object_set(item, "CreationDate", json_object_get(doc, "CreationDate"));
            json_t *tags = json_object_get(doc, "tags");
            json_object_set_new(item, "tags", tags ? json_incref(tags) : json_object());
            json_array_append_new(items, item);
            json_decref(doc);
            snprintf(last, sizeof(last), "%.*s", (int)mlen, m);
            last_len = mlen;
        }
        bool exhausted = (long)n < page_size + 1;
        freeReplyObject(r);
        if (exhausted)
            break;
    }
    if (failed) {
        json_decref(items);
        rp_respond_unavailable(req);
        return;
    }
    json_t *out = json_pack("{s:o}", "Item", items);
    if (more) {
        char next[sizeof(token)];
        rp_hex((const unsigned char *)last, last_len, next);
        json_object_set_new(out, "NextToken", json_string(next));
    }
    rp_respond_json(req, 200, out);
}
