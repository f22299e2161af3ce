/* Templates in sends (template_send.h): the per-request set of loaded templates and the render
 * hook. One output buffer per request, allocated at the first render and bounded by
 * templates.max_rendered_bytes; every recipient renders into it and only the finished text is
 * copied into the recipient's content. */
#include "template_send.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "http.h"
#include "rc.h"
#include "render.h"
#include "render_content.h"
#include "template_store.h"
#include "templates/template.h"
#include "util.h"

static const char *const member_of[] = {"SMSTemplate", "EmailTemplate", "PushTemplate"};
static const char *const type_of[] = {"SMS", "EMAIL", "PUSH"};

struct rp_template_send {
    struct rp_tmpl_set *sets[3]; /* by enum rp_render_family */
    const char *names[3];        /* borrowed from the request */
    char *buf;
    size_t cap;
    size_t rendered; /* bytes rendered for the whole request so far */
    int64_t now_ms;
};

void rp_template_send_free(struct rp_template_send *ts)
{
    if (!ts)
        return;
    for (size_t i = 0; i < 3; i++)
        rp_tmpl_set_unref(ts->sets[i]);
    free(ts->buf);
    free(ts);
}

int rp_template_send_load(const json_t *tc, struct rp_template_send **out, struct rp_err *err)
{
    *out = NULL;
    if (!json_is_object(tc))
        return 0;
    static int cache_ready;
    if (!__atomic_load_n(&cache_ready, __ATOMIC_ACQUIRE)) {
        rp_tmpl_cache_init((size_t)rp_config_int(rp_ctx.cfg, "templates.cache_size"));
        __atomic_store_n(&cache_ready, 1, __ATOMIC_RELEASE);
    }
    struct rp_template_send *ts = NULL;
    for (size_t i = 0; i < 3; i++) {
        const json_t *t = json_object_get(tc, member_of[i]);
        const char *name = json_string_value(json_object_get(t, "Name"));
        if (!name)
            continue;
        if (!ts) {
            ts = rp_calloc(1, sizeof(*ts));
            ts->now_ms = rp_now_ms();
        }
        const char *version = json_string_value(json_object_get(t, "Version"));
        struct rp_err e;
        rp_err_clear(&e);
        int rc = rp_template_name_valid(name)
                     ? rp_template_load(type_of[i], name, version, &ts->sets[i], &e)
                     : rp_err_set(&e, RP_ENOTFOUND, "Name", "no %s template named %.64s",
                                  type_of[i], name);
        if (rc < 0) {
            rp_template_send_free(ts);
            if (rc == RP_ESTORE)
                return rc;
            char field[64];
            snprintf(field, sizeof(field), "TemplateConfiguration.%s.%.12s", member_of[i],
                     e.field);
            return rp_err_set(err, rc, field, "%s", e.msg);
        }
        ts->names[i] = name;
    }
    *out = ts;
    return 0;
}

/* The push template section for a channel: its own, else Default (per member). */
static const char *push_section(const char *channel)
{
    if (strncmp(channel, "APNS", 4) == 0)
        return "APNS";
    if (strcmp(channel, "GCM") == 0)
        return "GCM";
    if (strcmp(channel, "ADM") == 0)
        return "ADM";
    if (strcmp(channel, "BAIDU") == 0)
        return "Baidu";
    return "Default";
}

static bool given(const json_t *content, const char *member)
{
    const json_t *v = json_object_get(content, member);
    return v && !(json_is_string(v) && json_string_length(v) == 0) && !json_is_null(v);
}

static int render_part(struct rp_template_send *ts, size_t family, const struct rp_tmpl *t,
                       const char *part, const struct rp_tmpl_vars *vars, json_t *content,
                       const char *member, struct rp_err *err)
{
    if (!ts->buf) {
        ts->cap = (size_t)rp_config_int(rp_ctx.cfg, "templates.max_rendered_bytes") + 1;
        ts->buf = rp_malloc(ts->cap);
    }
    size_t len;
    struct rp_tmpl_error te;
    int rc = rp_tmpl_render(t, vars, ts->buf, ts->cap, &len, &te);
    if (rc != 0) {
        if (te.line)
            return rp_err_set(err, RP_EPARSE, "", "The %s template %.64s does not render: %s "
                              "line %d, column %d: %s", type_of[family], ts->names[family], part,
                              te.line, te.column, te.msg);
        return rp_err_set(err, RP_EPARSE, "", "The %s template %.64s does not render: %s: %s",
                          type_of[family], ts->names[family], part, te.msg);
    }
    /* The same bound as `{{Name}}` substitution in the message (render.h): 100 recipients of
     * large templates must not turn one request into gigabytes. */
    if (len > RP_RENDER_MAX_RENDERED_BYTES - ts->rendered)
        return rp_err_set(err, RP_EINVAL, "TemplateConfiguration",
                          "the request renders to more than %zu bytes across its recipients",
                          RP_RENDER_MAX_RENDERED_BYTES);
    ts->rendered += len;
    json_t *s = json_stringn(ts->buf, len);
    if (!s)
        return rp_err_set(err, RP_EPARSE, "", "The %s template %.64s does not render: %s is not "
                          "valid UTF-8 once rendered", type_of[family], ts->names[family], part);
    json_object_set_new(content, member, s);
    return 0;
}

int rp_template_send_render(void *arg, const char *channel, const json_t *tmpl, const json_t *vars,
                            const json_t *endpoint, json_t *content, struct rp_err *err)
{
    (void)tmpl;
    struct rp_template_send *ts = arg;
    const struct rp_render_channel *ch = rp_render_channel_find(channel);
    if (!ts || !ch)
        return 0;
    size_t family = (size_t)ch->family;
    struct rp_tmpl_set *set = ts->sets[family];
    if (!set)
        return 0;
    struct rp_tmpl_vars v = {.substitutions = json_is_object(vars) ? vars : NULL,
                             .endpoint = endpoint,
                             .defaults = set->defaults,
                             .now_ms = ts->now_ms};
    rp_tmpl_vars_prepare(&v);
    static const char *const email[] = {"Subject", "TextPart", "HtmlPart", NULL};
    static const char *const sms[] = {"Body", NULL};
    static const char *const push[] = {"Title", "Body", "Url", "Sound", "ImageUrl",
                                       "ImageIconUrl", "SmallImageIconUrl", "MediaUrl",
                                       "RawContent", NULL};
    const char *const *members = family == RP_RENDER_EMAIL ? email
                                 : family == RP_RENDER_SMS ? sms
                                                           : push;
    for (size_t i = 0; members[i]; i++) {
        if (given(content, members[i]))
            continue;
        char part[64];
        const struct rp_tmpl *t = NULL;
        if (family == RP_RENDER_PUSH) {
            snprintf(part, sizeof(part), "%s.%s", push_section(channel), members[i]);
            t = rp_tmpl_set_part(set, part);
            if (!t) {
                snprintf(part, sizeof(part), "Default.%s", members[i]);
                t = rp_tmpl_set_part(set, part);
            }
        } else {
            snprintf(part, sizeof(part), "%s", members[i]);
            t = rp_tmpl_set_part(set, part);
        }
        if (!t)
            continue;
        int rc = render_part(ts, family, t, part, &v, content, members[i], err);
        if (rc < 0)
            return rp_render_err_clean(rc, err); /* it quotes template bytes, cut to fit */
    }
    if (family == RP_RENDER_PUSH && !given(content, "Action")) {
        /* Action is not a template: the channel's section's, else Default's. */
        const json_t *action =
            json_object_get(json_object_get(set->source, push_section(channel)), "Action");
        if (!json_is_string(action))
            action = json_object_get(json_object_get(set->source, "Default"), "Action");
        if (json_is_string(action))
            json_object_set(content, "Action", (json_t *)action);
    }
    return 0;
}
