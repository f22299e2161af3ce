/* Campaign runs (campaign_run.h). */
#include "campaign_run.h"
#include "campaign_request.h"
#include "campaigns.h"
#include "config.h"
#include "endpoint_store.h"
#include "endpoint_summary.h"
#include "jobs.h"
#include "keyspace.h"
#include "log.h"
#include "pollers.h"
#include "queue.h"
#include "rc.h"
#include "render.h"
#include "segment_cursor.h"
#include "store.h"
#include "template_send.h"
#include "templates/template.h"
#include "templates/template_int.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define IDLE_POLL_MS 250
/* A campaign that is paused or finished keeps its run-queue member, parked this far ahead, so
 * that a resume racing with the scheduler can never be lost (it moves the member to now). */
#define PARK_MS (24LL * 3600 * 1000)
#define DAY_MS  (24LL * 3600 * 1000)
/* After the deliveries' deadline, how long the workers may take to record the last results. */
#define RESULT_GRACE_MS (120LL * 1000)
/* Text members of a message (Title, Body, email parts ...) with variables, per version. */
#define RP_CAMPAIGN_VAR_SLOTS 16

static const struct rp_config *run_cfg;
static int schedule_once(void);
static struct rp_pollers schedulers =
    RP_POLLERS_INIT("campaigns", schedule_once, IDLE_POLL_MS);

/* Skip reasons, as sk:<name> counts in the run and ExecutionMetrics in its activity. */
enum skip {
    SK_INACTIVE,
    SK_OPT_OUT,
    SK_NO_ADDRESS,
    SK_NO_MESSAGE,
    SK_HOLDOUT,
    SK_QUIET_TIME,
    SK_COUNT
};
static const char *const skip_names[SK_COUNT] = {
    "SKIPPED_INACTIVE", "SKIPPED_OPT_OUT", "SKIPPED_NO_ADDRESS", "SKIPPED_NO_MESSAGE",
    "HOLDOUT",          "SKIPPED_QUIET_TIME"};

struct run {
    char app[40], id[48], member[160];
    char key[RP_KEY_MAX], camp_key[RP_KEY_MAX], wd_key[RP_KEY_MAX], runs_key[RP_KEY_MAX];
    char run_id[40];
    char owner[33];              /* this driver's token in the run's "owner" field */
    int version;
    json_t *doc;                 /* the CampaignResponse of version */
    json_t *direct;              /* its DirectMessageConfiguration */
    struct rp_template_send *templates;
    /* The run reads endpoints beyond what routing needs (endpoint_summary.h): message
     * variables in the campaign's own text, or a template. Otherwise it reads routing
     * summaries, and its deliveries share their content. */
    int whole_endpoints;
    struct rp_campaign_schedule schedule;
    long long mps, window, batch, holdout, maxdur;
    int quiet_start, quiet_end; /* Schedule.QuietTime in minutes, -1 when none */
    /* IsLocalTime: the run walks the segment once per pass; a pass sends to the endpoints whose
     * StartTime in their own zone fell in (lt_from, lt_to] and notes the next one due. */
    int default_offset;         /* seconds: Schedule.Timezone, for endpoints without a zone */
    int64_t lt_from, lt_to, next_due;
    int64_t sched_ms, deadline_ms, stop_ms;
    long long gen;
    /* From the last check. */
    long long outstanding, wdn_seen;
    int wd_maybe;
    struct rp_segment_cursor cursor;
    int cursor_open;
    /* Message variables ({{Attributes.x}} ...) in the campaign's own text, compiled once per
     * version: source -> template, and the buffer they render into. */
    struct {
        char *src;
        struct rp_tmpl *tmpl;
    } vars[RP_CAMPAIGN_VAR_SLOTS];
    int n_vars;
    char *buf;
    size_t cap;
};

/* ---- small store helpers ------------------------------------------------------------------ */

static int simple(redisReply *r)
{
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

static void park(const struct run *r, int64_t due_ms)
{
    simple(rp_store_command("ZADD %s XX %lld %s", RP_KEY_CAMPQ, (long long)due_ms, r->member));
}

/* Parks a campaign that has nothing to run, then looks again: a resume that moved the member
 * to now just before the park would otherwise wait a day. */
static void park_checked(const struct run *r)
{
    park(r, rp_now_ms() + PARK_MS);
    redisReply *rep = rp_store_command("HGET %s state", r->camp_key);
    int runnable = rp_reply_ok(rep) && rep->type == REDIS_REPLY_STRING &&
                   (strcmp(rep->str, "SCHEDULED") == 0 || strcmp(rep->str, "EXECUTING") == 0);
    if (rep)
        freeReplyObject(rep);
    if (runnable)
        park(r, 0);
}

/* ---- state transitions (one slot: the campaign hash and its runs) --------------------------- */

/* KEYS[1] campaign, KEYS[2] new run, KEYS[3] runs index, KEYS[4] the current run. ARGV: new
 * run id, now ISO, now ms, version, scheduled start ISO, segment, segment version. Continues an
 * unfinished run or starts a new one; returns {verb, run id, gen}. */
static struct rp_script start_script = {.source =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if st ~= 'SCHEDULED' and st ~= 'EXECUTING' then return {'no', st or '', '0'} end\n"
    "local run = redis.call('HGET', KEYS[1], 'run') or ''\n"
    "if run ~= '' then\n"
    "  local rst = redis.call('HGET', KEYS[4], 'state')\n"
    "  if rst == 'RUNNING' or rst == 'PAUSED' then\n"
    "    redis.call('HSET', KEYS[4], 'state', 'RUNNING')\n"
    "    redis.call('HSET', KEYS[1], 'state', 'EXECUTING')\n"
    "    return {'resume', run, redis.call('HGET', KEYS[4], 'gen')}\n"
    "  end\n"
    "end\n"
    "redis.call('HSET', KEYS[2], 'state', 'RUNNING', 'gen', '1', 'start', ARGV[2], 'sched',\n"
    "  ARGV[5], 'ver', ARGV[4], 'seg', ARGV[6], 'segver', ARGV[7], 'pos', '', 'enq', '0',\n"
    "  'total', '0', 'wdn', '0')\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])\n"
    "redis.call('HSET', KEYS[1], 'state', 'EXECUTING', 'run', ARGV[1])\n"
    "return {'new', ARGV[1], '1'}\n"};

/* KEYS[1] campaign, KEYS[2] run. ARGV: run id, now ISO, the campaign's next state, result.
 * Completes a running run (and the campaign, unless it was paused or deleted meanwhile). */
static struct rp_script complete_script = {.source =
    "if redis.call('HGET', KEYS[1], 'run') ~= ARGV[1] then return 0 end\n"
    "if redis.call('HGET', KEYS[2], 'state') ~= 'RUNNING' then return 0 end\n"
    "redis.call('HSET', KEYS[2], 'state', 'COMPLETED', 'end', ARGV[2], 'result', ARGV[4])\n"
    "if redis.call('HGET', KEYS[1], 'state') == 'EXECUTING' then\n"
    "  redis.call('HSET', KEYS[1], 'state', ARGV[3])\n"
    "end\n"
    "return 1\n"};

/* KEYS[1] campaign, KEYS[2] run. ARGV: now ISO, 'cancel' to end the run whatever the
 * campaign's state (its segment or version changed). Stops a running run whose campaign is no
 * longer EXECUTING: PAUSED follows a pause, CANCELLED anything else; its queued deliveries are
 * withdrawn (gen + 1). */
static struct rp_script halt_script = {.source =
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if redis.call('HGET', KEYS[2], 'state') ~= 'RUNNING' then return 0 end\n"
    "if ARGV[2] ~= 'cancel' and st == 'PAUSED' then\n"
    "  redis.call('HSET', KEYS[2], 'state', 'PAUSED')\n"
    "else\n"
    "  redis.call('HSET', KEYS[2], 'state', 'CANCELLED', 'end', ARGV[1], 'result', 'FAIL')\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[2], 'gen', 1)\n"
    "return 1\n"};

static int eval_simple(struct rp_script *s, int nkeys, int nargs, const char **args)
{
    return simple(rp_store_eval(s, nkeys, nargs, args, NULL));
}

static void halt(struct run *r, int cancel)
{
    char now[RP_ISO_SIZE];
    rp_time_iso(rp_now_ms(), now);
    const char *args[] = {r->camp_key, r->key, now, cancel ? "cancel" : ""};
    eval_simple(&halt_script, 2, 4, args);
}

/* ---- loading ------------------------------------------------------------------------------ */

static void unload(struct run *r)
{
    for (int i = 0; i < r->n_vars; i++) {
        free(r->vars[i].src);
        rp_tmpl_free(r->vars[i].tmpl);
    }
    r->n_vars = 0;
    json_decref(r->doc);
    json_decref(r->direct);
    rp_template_send_free(r->templates);
    r->doc = r->direct = NULL;
    r->templates = NULL;
}

/* Whether v (a message configuration) holds a message variable anywhere. */
static int holds_variables(const json_t *v)
{
    if (json_is_string(v))
        return strstr(json_string_value(v), "{{") != NULL;
    const json_t *item;
    if (json_is_object(v)) {
        const char *name;
        json_object_foreach((json_t *)v, name, item)
        {
            if (holds_variables(item))
                return 1;
        }
    }
    size_t i;
    json_array_foreach(v, i, item)
    {
        if (holds_variables(item))
            return 1;
    }
    return 0;
}

/* Loads version v of the campaign and what rendering it needs. 0, RP_ENOTFOUND (a template is
 * gone: the run cannot send), RP_ESTORE. */
static int load_version(struct run *r, int v)
{
    unload(r);
    redisReply *rep = rp_store_command("HGET %s %d", r->camp_key, v);
    if (!rp_reply_ok(rep) || rep->type != REDIS_REPLY_STRING) {
        int rc = rp_reply_ok(rep) ? RP_ENOTFOUND : RP_ESTORE;
        if (rep)
            freeReplyObject(rep);
        return rc;
    }
    r->doc = json_loads(rep->str, 0, NULL);
    freeReplyObject(rep);
    if (!r->doc)
        return RP_ENOTFOUND;
    r->version = v;
    r->direct = rp_campaign_direct_configuration(json_object_get(r->doc, "MessageConfiguration"));
    rp_campaign_schedule_read(r->doc, &r->schedule);
    /* The application's settings are the defaults of its campaigns: "For an application, this
     * value specifies the default limit for the number of messages that campaigns can send
     * each second"; QuietTime: "The default quiet time for campaigns in the application". */
    char settings_key[RP_KEY_MAX];
    rp_key_settings(settings_key, r->app);
    json_t *settings = NULL;
    if (rp_store_get_json(settings_key, &settings) < 0)
        return RP_ESTORE;
    const json_t *limits = json_object_get(r->doc, "Limits");
    const json_t *app_limits = json_object_get(settings, "Limits");
    r->mps = json_integer_value(json_object_get(limits, "MessagesPerSecond"));
    if (r->mps <= 0)
        r->mps = json_integer_value(json_object_get(app_limits, "MessagesPerSecond"));
    r->maxdur = json_integer_value(json_object_get(limits, "MaximumDuration"));
    if (r->maxdur <= 0)
        r->maxdur = json_integer_value(json_object_get(app_limits, "MaximumDuration"));
    r->holdout = json_integer_value(json_object_get(r->doc, "HoldoutPercent"));
    const json_t *quiet = json_object_get(json_object_get(r->doc, "Schedule"), "QuietTime");
    if (!json_string_length(json_object_get(quiet, "Start")))
        quiet = json_object_get(settings, "QuietTime");
    const char *qs = json_string_value(json_object_get(quiet, "Start"));
    const char *qe = json_string_value(json_object_get(quiet, "End"));
    r->quiet_start = qs ? rp_campaign_parse_hhmm(qs) : -1;
    r->quiet_end = qe ? rp_campaign_parse_hhmm(qe) : -1;
    json_decref(settings); /* quiet's strings were read above */
    const char *tz = json_string_value(json_object_get(json_object_get(r->doc, "Schedule"),
                                                       "Timezone"));
    r->default_offset = 0;
    if (tz && *tz && rp_campaign_utc_offset(tz, &r->default_offset))
        r->default_offset = 0;
    const json_t *tc = json_object_get(r->doc, "TemplateConfiguration");
    struct rp_err err;
    rp_err_clear(&err);
    int rc = json_is_object(tc) ? rp_template_send_load(tc, &r->templates, &err) : 0;
    if (rc) {
        rp_warn("campaigns", "campaign %s of app %s: %s %s", r->id, r->app, err.field, err.msg);
        return rc == RP_ESTORE ? RP_ESTORE : RP_ENOTFOUND;
    }
    r->whole_endpoints = r->templates || holds_variables(r->direct);
    return 0;
}

/* ---- one batch ---------------------------------------------------------------------------- */

struct batch_counts {
    long long enq, total, skipped[SK_COUNT];
    json_t *statuses; /* DeliveryStatus -> count, for recipients answered without a delivery */
};

static int holdout_of(const struct run *r, const char *endpoint_id)
{
    char text[256];
    int n = snprintf(text, sizeof(text), "%s/%s", r->id, endpoint_id);
    return (int)(rp_fnv1a(text, (size_t)(n < (int)sizeof(text) ? n : (int)sizeof(text) - 1)) %
                 100U) < r->holdout;
}

/* Pinpoint's QuietTime applies only to an endpoint whose Demographic.Timezone is a valid
 * zone: its local time now is compared with the window. */
static int in_quiet_time(const struct run *r, const json_t *ep)
{
    const char *tz =
        json_string_value(json_object_get(json_object_get(ep, "Demographic"), "Timezone"));
    long off;
    char abbr[8];
    int64_t now_s = rp_now_ms() / 1000;
    if (!tz || !tmpl_tz_offset(tz, strlen(tz), now_s, &off, abbr))
        return 0;
    int64_t local = now_s + off;
    int minute = (int)(((local % 86400) + 86400) % 86400 / 60);
    return rp_campaign_quiet(r->quiet_start, r->quiet_end, minute);
}

#define NOT_DUE_YET (-2)
#define DUE_BEFORE  (-3)

/* The UTC offset (seconds east) of an endpoint: its Demographic.Timezone when that is a zone,
 * else the campaign's Schedule.Timezone. */
static long offset_of(const struct run *r, const json_t *ep)
{
    const char *tz =
        json_string_value(json_object_get(json_object_get(ep, "Demographic"), "Timezone"));
    long off;
    char abbr[8];
    if (tz && tmpl_tz_offset(tz, strlen(tz), r->schedule.start_ms / 1000, &off, abbr))
        return off;
    return r->default_offset;
}

/* Why an endpoint gets nothing, or -1 when it is to be sent to; with IsLocalTime, NOT_DUE_YET
 * (a later pass sends it) or DUE_BEFORE (an earlier pass did), which are not counted. */
static int skip_reason(struct run *r, const json_t *ep, json_t *zones)
{
    if (r->schedule.local_time) {
        long off = offset_of(r, ep);
        int64_t due = r->schedule.start_ms - (int64_t)off * 1000;
        char name[24];
        snprintf(name, sizeof(name), "%ld", off);
        json_object_set_new(zones, name, json_integer(due));
        if (due <= r->lt_from)
            return DUE_BEFORE;
        if (due > r->lt_to) {
            if (due < r->next_due)
                r->next_due = due;
            return NOT_DUE_YET;
        }
    }
    const char *status = json_string_value(json_object_get(ep, "EndpointStatus"));
    const char *opt = json_string_value(json_object_get(ep, "OptOut"));
    const char *address = json_string_value(json_object_get(ep, "Address"));
    const char *channel = json_string_value(json_object_get(ep, "ChannelType"));
    if (status && strcmp(status, "INACTIVE") == 0)
        return SK_INACTIVE;
    if (opt && strcmp(opt, "ALL") == 0)
        return SK_OPT_OUT;
    if (!address || !*address)
        return SK_NO_ADDRESS;
    if (!channel || !rp_campaign_has_message(r->doc, channel))
        return SK_NO_MESSAGE;
    if (r->holdout > 0 && holdout_of(r, json_string_value(json_object_get(ep, "Id"))))
        return SK_HOLDOUT;
    if (r->quiet_start >= 0 && r->quiet_end >= 0 && in_quiet_time(r, ep))
        return SK_QUIET_TIME;
    return -1;
}

/* The compiled template of text src (borrowed), compiled on first use; NULL when it does not
 * compile (validated at CreateCampaign) or the slots are full. */
static const struct rp_tmpl *variables_of(struct run *r, const char *src)
{
    for (int i = 0; i < r->n_vars; i++)
        if (strcmp(r->vars[i].src, src) == 0)
            return r->vars[i].tmpl;
    if (r->n_vars == RP_CAMPAIGN_VAR_SLOTS)
        return NULL;
    struct rp_tmpl *t = rp_tmpl_compile(src, strlen(src), NULL);
    if (!t)
        return NULL;
    r->vars[r->n_vars].src = rp_strdup(src);
    r->vars[r->n_vars].tmpl = t;
    return r->vars[r->n_vars++].tmpl;
}

/* Pinpoint's message variables in a campaign's own text: {{Attributes.name}},
 * {{User.UserAttributes.FirstName}} ... resolved against the endpoint (templates/template.h).
 * Returns 0, or RP_EPARSE with why (the endpoint has no value for a variable: Pinpoint does
 * not send such a message). */
static int personalize(struct run *r, json_t *content, const json_t *endpoint, char *why,
                       size_t why_size)
{
    static const char *const texts[] = {"Title", "Body", "Subject", "TextPart", "HtmlPart"};
    struct rp_tmpl_vars vars = {.endpoint = endpoint, .now_ms = rp_now_ms()};
    int prepared = 0;
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        const char *text = json_string_value(json_object_get(content, texts[i]));
        if (!text || !strstr(text, "{{"))
            continue;
        const struct rp_tmpl *t = variables_of(r, text);
        if (!t)
            continue;
        if (!prepared) {
            rp_tmpl_vars_prepare(&vars);
            prepared = 1;
        }
        if (!r->buf) {
            r->cap = (size_t)rp_config_int(run_cfg, "templates.max_rendered_bytes");
            r->buf = rp_malloc(r->cap);
        }
        size_t len;
        struct rp_tmpl_error err;
        if (rp_tmpl_render(t, &vars, r->buf, r->cap, &len, &err)) {
            snprintf(why, why_size, "%s: %s", texts[i], err.msg);
            return RP_EPARSE;
        }
        json_object_set_new(content, texts[i], json_stringn(r->buf, len));
    }
    return 0;
}

/* Renders up to RP_RENDER_MAX_RECIPIENTS eligible endpoints (borrowed) and queues their
 * deliveries on the open pipeline; returns how many commands it queued and adds the deliveries
 * to *queued. */
static size_t render_chunk(struct run *r, json_t *const *eps, size_t n, struct batch_counts *bc,
                           size_t *queued)
{
    json_t *body = json_object();
    json_t *map = json_object(), *by_id = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *id = json_string_value(json_object_get(eps[i], "Id"));
        json_object_set_new(map, id, json_object());
        json_object_set(by_id, id, eps[i]);
    }
    json_object_set_new(body, "Endpoints", map);
    json_object_set(body, "MessageConfiguration", r->direct);
    const json_t *tc = json_object_get(r->doc, "TemplateConfiguration");
    if (json_is_object(tc))
        json_object_set(body, "TemplateConfiguration", (json_t *)tc);
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    if (!plan) {
        /* Validated at CreateCampaign: only a template or endpoint beyond the renderer's
         * bounds gets here. Those endpoints fail, the run goes on. */
        rp_warn("campaigns", "campaign %s: %s %s", r->id, err.field, err.msg);
        json_object_set_new(bc->statuses, "PERMANENT_FAILURE",
                            json_integer(json_integer_value(json_object_get(
                                             bc->statuses, "PERMANENT_FAILURE")) +
                                         (json_int_t)n));
        bc->enq += (long long)n;
        json_decref(body);
        json_decref(by_id);
        return 0;
    }
    for (size_t i = 0; i < rp_render_plan_endpoint_count(plan); i++)
        rp_render_plan_set_endpoint(plan, i,
                                    json_object_get(by_id, rp_render_plan_endpoint_id(plan, i)));
    struct rp_render_params params = {
        .app_id = r->app,
        .request_id = r->run_id,
        .now_ms = rp_now_ms(),
        .deadline_ms = r->deadline_ms,
        .honor_opt_out = true,
        .skip_inactive = true,
        .template_fn = r->templates ? rp_template_send_render : NULL,
        .template_arg = r->templates,
        /* personalize() below writes into a delivery's content: only when it has nothing to
         * fill may deliveries share it. */
        .share_content = !r->whole_endpoints,
    };
    int rc = rp_render_build(plan, &params, &err);
    /* The deliveries to queue, one entry for those that share a message. */
    struct rp_delivery **ready =
        rp_calloc(rp_render_plan_count(plan) + 1, sizeof(struct rp_delivery *));
    size_t n_ready = 0;
    for (size_t i = 0; i < rp_render_plan_count(plan); i++) {
        struct rp_render_recipient *rec = rp_render_plan_recipient(plan, i);
        bc->enq++;
        char why[256];
        if (rc == 0 && rec->queued &&
            personalize(r, rec->delivery.content,
                        json_object_get(by_id, rec->endpoint_id ? rec->endpoint_id : ""), why,
                        sizeof(why))) {
            rp_render_recipient_set(rec, RP_DS_PERMANENT_FAILURE, 400, "%s", why);
            rec->queued = false;
        }
        if (rc == 0 && rec->queued) {
            struct rp_delivery *d = &rec->delivery;
            d->origin = RP_ORIGIN_CAMPAIGN;
            rp_strcpy_fit(d->campaign_id, sizeof(d->campaign_id), r->id);
            rp_strcpy_fit(d->campaign_activity_id, sizeof(d->campaign_activity_id), r->run_id);
            d->campaign_gen = r->gen;
            ready[n_ready++] = d;
            continue;
        }
        const char *st = rp_delivery_status_name(rc ? RP_DS_PERMANENT_FAILURE : rec->result.status);
        json_object_set_new(bc->statuses, st,
                            json_integer(json_integer_value(json_object_get(bc->statuses, st)) + 1));
    }
    if (rc)
        rp_warn("campaigns", "campaign %s: %s %s", r->id, err.field, err.msg);
    size_t commands = rp_queue_append_shared(ready, n_ready);
    *queued += n_ready;
    free(ready);
    rp_render_plan_free(plan);
    json_decref(body);
    json_decref(by_id);
    return commands;
}

/* Sends a batch of endpoints (borrowed). pos: the cursor position after it (NULL for endpoints
 * queued again after a withdrawal, whose ids retry lists to remove from the withdrawn set).
 * Returns the deliveries queued, or RP_ESTORE (nothing is committed: the batch is sent again
 * by whoever resumes the run). */
static long long send_batch(struct run *r, const json_t *batch, const char *pos,
                            const json_t *retry)
{
    struct batch_counts bc = {.statuses = json_object()};
    json_t *zones = json_object();
    size_t n = json_array_size(batch);
    json_t **eligible = rp_calloc(n ? n : 1, sizeof(json_t *));
    size_t n_eligible = 0;
    for (size_t i = 0; i < n; i++) {
        json_t *ep = json_array_get(batch, i);
        if (!json_is_string(json_object_get(ep, "Id")))
            continue;
        int why = skip_reason(r, ep, zones);
        if (why >= 0)
            bc.skipped[why]++;
        else if (why == -1)
            eligible[n_eligible++] = ep;
    }
    if (!retry)
        bc.total = (long long)n_eligible;
    int tx = !rp_store_is_cluster();
    size_t commands = 0;
    if (tx) {
        rp_store_append("MULTI");
        commands++;
    }
    size_t queued = 0;
    for (size_t i = 0; i < n_eligible; i += RP_RENDER_MAX_RECIPIENTS) {
        size_t m = n_eligible - i < RP_RENDER_MAX_RECIPIENTS ? n_eligible - i
                                                             : RP_RENDER_MAX_RECIPIENTS;
        commands += render_chunk(r, eligible + i, m, &bc, &queued);
    }
    free(eligible);
    rp_store_append("HINCRBY %s enq %lld", r->key, bc.enq);
    rp_store_append("HINCRBY %s total %lld", r->key, bc.total);
    commands += 2;
    for (int k = 0; k < SK_COUNT; k++)
        if (bc.skipped[k]) {
            rp_store_append("HINCRBY %s sk:%s %lld", r->key, skip_names[k], bc.skipped[k]);
            commands++;
        }
    const char *st;
    json_t *v;
    json_object_foreach(bc.statuses, st, v)
    {
        rp_store_append("HINCRBY %s st:%s %lld", r->key, st, (long long)json_integer_value(v));
        commands++;
    }
    json_decref(bc.statuses);
    json_object_foreach(zones, st, v)
    {
        rp_store_append("HSET %s tzo:%s %lld", r->key, st, (long long)json_integer_value(v));
        commands++;
    }
    json_decref(zones);
    if (pos) {
        rp_store_append("HSET %s pos %s", r->key, pos);
        commands++;
    }
    for (size_t i = 0; i < json_array_size(retry); i++) {
        rp_store_append("SREM %s %s", r->wd_key, json_string_value(json_array_get(retry, i)));
        commands++;
    }
    if (tx) {
        rp_store_append("EXEC");
        commands++;
    }
    redisReply **replies = rp_calloc(commands, sizeof(redisReply *));
    int rc = rp_store_collect(replies, commands);
    for (size_t i = 0; rc == 0 && i < commands; i++)
        if (!rp_reply_ok(replies[i]) || (tx && i == commands - 1 &&
                                         replies[i]->type != REDIS_REPLY_ARRAY))
            rc = RP_ESTORE;
    for (size_t i = 0; i < commands; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
    if (rc)
        return RP_ESTORE;
    r->outstanding += bc.enq;
    return (long long)queued;
}

/* Queues again the endpoints whose deliveries were withdrawn; returns how many were found
 * (0: the set is empty), or RP_ESTORE. */
static long long requeue_withdrawn(struct run *r, long long max)
{
    redisReply *rep = rp_store_command("SRANDMEMBER %s %lld", r->wd_key, max);
    if (!rp_reply_ok(rep) || rep->type != REDIS_REPLY_ARRAY) {
        if (rep)
            freeReplyObject(rep);
        return RP_ESTORE;
    }
    size_t n = rep->elements;
    if (n == 0) {
        freeReplyObject(rep);
        return 0;
    }
    const char **ids = rp_calloc(n, sizeof(char *));
    json_t *retry = json_array();
    for (size_t i = 0; i < n; i++) {
        ids[i] = rep->element[i]->str;
        json_array_append_new(retry, json_string(ids[i]));
    }
    struct rp_stored_endpoint *eps = rp_calloc(n, sizeof(*eps));
    int rc = rp_endpoint_store_get_many(r->app, ids, n, eps);
    json_t *batch = json_array();
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && eps[i].json)
            json_array_append(batch, eps[i].json);
        rp_stored_endpoint_cleanup(&eps[i]);
    }
    free(eps);
    free(ids);
    freeReplyObject(rep);
    long long sent = rc ? RP_ESTORE : send_batch(r, batch, NULL, retry);
    json_decref(batch);
    json_decref(retry);
    return sent < 0 ? sent : (long long)n;
}

/* ---- checks ------------------------------------------------------------------------------- */

enum check { CHECK_GO, CHECK_STOP, CHECK_RESTART, CHECK_FAIL, CHECK_LOST };

/* Reads the campaign's and the run's state: stops on a pause or a delete, reloads on an
 * update, and refreshes what is outstanding. */
static enum check check(struct run *r)
{
    redisReply *rep = rp_store_command("HMGET %s state cur", r->camp_key);
    json_t *rec = rp_campaign_load_hash(r->key);
    if (!rp_reply_ok(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 || !rec) {
        if (rep)
            freeReplyObject(rep);
        json_decref(rec);
        return CHECK_FAIL;
    }
    char state[32] = "";
    if (rep->element[0]->type == REDIS_REPLY_STRING)
        snprintf(state, sizeof(state), "%s", rep->element[0]->str);
    int cur = rep->element[1]->type == REDIS_REPLY_STRING ? atoi(rep->element[1]->str) : 0;
    freeReplyObject(rep);
    enum check out = CHECK_GO;
    if (strcmp(rp_hash_field(rec, "owner"), r->owner) != 0) {
        /* Another scheduler took the run over (this one missed its lease): leave it. */
        rp_warn("campaigns", "campaign %s: run %s is driven elsewhere now", r->id, r->run_id);
        json_decref(rec);
        return CHECK_LOST;
    }
    if (strcmp(state, "EXECUTING") != 0 && strcmp(state, "SCHEDULED") != 0) {
        halt(r, 0);
        out = CHECK_STOP;
    } else if (strcmp(state, "SCHEDULED") == 0 || strcmp(rp_hash_field(rec, "state"), "RUNNING") != 0) {
        /* Paused and resumed since the last check: continue through the start script. */
        out = CHECK_RESTART;
    } else if (cur != r->version) {
        int rc = load_version(r, cur);
        if (rc == RP_ESTORE) {
            out = CHECK_FAIL;
        } else {
            const char *seg = json_string_value(json_object_get(r->doc, "SegmentId"));
            long long segver = json_integer_value(json_object_get(r->doc, "SegmentVersion"));
            if (rc || !seg || strcmp(seg, rp_hash_field(rec, "seg")) != 0 ||
                segver != rp_hash_int(rec, "segver")) {
                /* Another audience (or nothing left to render): this run ends, a new one
                 * starts over the new segment. */
                halt(r, 1);
                out = rc ? CHECK_STOP : CHECK_RESTART;
            }
            r->wd_maybe = 1;
        }
    }
    r->gen = rp_hash_int(rec, "gen");
    long long fin = 0;
    const char *k;
    json_t *v;
    json_object_foreach(rec, k, v)
    {
        if (strncmp(k, "st:", 3) == 0)
            fin += strtoll(json_string_value(v), NULL, 10);
    }
    long long wdn = rp_hash_int(rec, "wdn");
    if (wdn != r->wdn_seen)
        r->wd_maybe = 1;
    r->wdn_seen = wdn;
    r->outstanding = rp_hash_int(rec, "enq") - fin - wdn;
    json_decref(rec);
    return out;
}

/* ---- a run -------------------------------------------------------------------------------- */

static int64_t next_start(const struct run *r, int64_t now)
{
    int64_t period = rp_campaign_period_ms(r->schedule.frequency);
    if (!period)
        return 0;
    int64_t next = r->sched_ms + period;
    while (next <= now)
        next += period;
    const json_t *limits = json_object_get(r->doc, "Limits");
    long long total = json_integer_value(json_object_get(limits, "Total"));
    long long daily = json_integer_value(json_object_get(limits, "Daily"));
    redisReply *rep = rp_store_command("ZCARD %s", r->runs_key);
    long long runs = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
    if (rep)
        freeReplyObject(rep);
    /* Each run reaches an endpoint at most once, so capping runs caps messages per endpoint:
     * Total over the campaign, Daily per 24 hours. */
    if (total > 0 && runs >= total)
        return 0;
    if (daily > 0) {
        rep = rp_store_command("ZCOUNT %s %lld +inf", r->runs_key, (long long)(next - DAY_MS));
        long long today = rep && rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
        if (rep)
            freeReplyObject(rep);
        while (today >= daily && next < INT64_MAX - DAY_MS) {
            next += DAY_MS;
            today = 0;
        }
    }
    if (r->schedule.end_ms && next >= r->schedule.end_ms)
        return 0;
    return next;
}

static void complete(struct run *r, const char *result)
{
    int64_t now = rp_now_ms();
    int64_t next = next_start(r, now);
    char now_s[RP_ISO_SIZE];
    rp_time_iso(now, now_s);
    const char *args[] = {r->camp_key, r->key, r->run_id, now_s,
                          next ? "SCHEDULED" : "COMPLETED", result};
    if (eval_simple(&complete_script, 2, 6, args))
        return;
    if (next) {
        simple(rp_store_command("HSET %s due %lld", r->camp_key, (long long)next));
        park(r, next);
    } else {
        park(r, now + PARK_MS);
    }
    rp_info("campaigns", "campaign %s of app %s: run %s completed (%s)", r->id, r->app,
            r->run_id, result);
}

/* Renewed three times per lease (at most every second), so a busy thread never lets it lapse
 * under its own run. */
static int lease_renew_due(int64_t *last, long long lease)
{
    int64_t now = rp_mono_ms();
    if (now - *last < (lease / 3 < 1000 ? lease / 3 : 1000))
        return 0;
    *last = now;
    return 1;
}

/* Starts or continues the run; returns 0 to go on, 1 when there is nothing to run now. */
static int begin(struct run *r)
{
    redisReply *rep = rp_store_command("HMGET %s state cur run due", r->camp_key);
    if (!rp_reply_ok(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 4) {
        if (rep)
            freeReplyObject(rep);
        return 1;
    }
    char state[32] = "", current[40] = "";
    int cur = 0;
    int64_t due = 0;
    if (rep->element[0]->type == REDIS_REPLY_STRING)
        snprintf(state, sizeof(state), "%s", rep->element[0]->str);
    if (rep->element[1]->type == REDIS_REPLY_STRING)
        cur = atoi(rep->element[1]->str);
    if (rep->element[2]->type == REDIS_REPLY_STRING)
        snprintf(current, sizeof(current), "%s", rep->element[2]->str);
    if (rep->element[3]->type == REDIS_REPLY_STRING)
        due = strtoll(rep->element[3]->str, NULL, 10);
    freeReplyObject(rep);
    int64_t now = rp_now_ms();
    if (!state[0] || strcmp(state, "DELETED") == 0) {
        simple(rp_store_command("ZREM %s %s", RP_KEY_CAMPQ, r->member));
        return 1;
    }
    if (strcmp(state, "SCHEDULED") != 0 && strcmp(state, "EXECUTING") != 0) {
        park_checked(r);
        return 1;
    }
    int rc = load_version(r, cur);
    if (rc == RP_ESTORE)
        return 1;
    int64_t start = r->schedule.immediate ? 0 : r->schedule.start_ms;
    if (r->schedule.local_time)
        start -= RP_CAMPAIGN_OFFSET_MAX_S * 1000LL;
    if (due > start)
        start = due;
    rp_key_campaign_run(r->key, r->app, r->id, current[0] ? current : "-");
    if (strcmp(state, "SCHEDULED") == 0 && start > now + 50) {
        /* Claimed early (rescheduled meanwhile): wait for its time. */
        park(r, start);
        return 1;
    }
    char run_id[33], new_key[RP_KEY_MAX], now_s[RP_ISO_SIZE], now_ms[24], ver[16],
        sched_s[RP_ISO_SIZE], segver[24];
    rp_id_new(run_id);
    rp_key_campaign_run(new_key, r->app, r->id, run_id);
    rp_time_iso(now, now_s);
    rp_time_iso(start ? start : now, sched_s);
    snprintf(now_ms, sizeof(now_ms), "%lld", (long long)now);
    snprintf(ver, sizeof(ver), "%d", cur);
    snprintf(segver, sizeof(segver), "%lld",
             (long long)json_integer_value(json_object_get(r->doc, "SegmentVersion")));
    const char *seg = json_string_value(json_object_get(r->doc, "SegmentId"));
    const char *args[] = {r->camp_key, new_key, r->runs_key, r->key, run_id, now_s, now_ms,
                          ver,         sched_s, seg ? seg : "", segver};
    rep = rp_store_eval(&start_script, 4, 11, args, NULL);
    if (!rp_reply_ok(rep) || rep->type != REDIS_REPLY_ARRAY || rep->elements != 3) {
        if (rep)
            freeReplyObject(rep);
        return 1;
    }
    int go = strcmp(rep->element[0]->str, "no") != 0;
    if (go) {
        snprintf(r->run_id, sizeof(r->run_id), "%s", rep->element[1]->str);
        r->gen = strtoll(rep->element[2]->str, NULL, 10);
    }
    freeReplyObject(rep);
    if (!go)
        return 1;
    rp_key_campaign_run(r->key, r->app, r->id, r->run_id);
    rp_key_campaign_withdrawn(r->wd_key, r->app, r->id, r->run_id);
    rp_id_new(r->owner);
    if (simple(rp_store_command("HSET %s owner %s", r->key, r->owner)))
        return 1;
    json_t *rec = rp_campaign_load_hash(r->key);
    if (!rec)
        return 1;
    r->sched_ms = 0;
    if (rp_campaign_parse_time(rp_hash_field(rec, "sched"), &r->sched_ms))
        r->sched_ms = now;
    char run_seg[64];
    snprintf(run_seg, sizeof(run_seg), "%s", rp_hash_field(rec, "seg"));
    int run_segver = (int)rp_hash_int(rec, "segver");
    char pos[RP_SEGMENT_CURSOR_POS_MAX];
    snprintf(pos, sizeof(pos), "%s", rp_hash_field(rec, "pos"));
    r->lt_from = *rp_hash_field(rec, "ltf") ? rp_hash_int(rec, "ltf") : INT64_MIN;
    r->lt_to = *rp_hash_field(rec, "ltt") ? rp_hash_int(rec, "ltt") : now;
    r->next_due = INT64_MAX;
    int new_pass = !*rp_hash_field(rec, "ltt");
    json_decref(rec);
    if (r->schedule.local_time && new_pass &&
        simple(rp_store_command("HSET %s ltt %lld", r->key, (long long)r->lt_to)))
        return 1; /* the pass's bound is fixed before it queues anything, for a resume */
    if (rc) {
        /* A template the campaign names is gone: nothing can be rendered. */
        complete(r, "FAIL");
        return 1;
    }
    long long maxdur = r->maxdur;
    r->deadline_ms =
        maxdur > 0 ? r->sched_ms + maxdur * 1000
                   : now + rp_config_int(run_cfg, "queue.campaign_deadline_seconds") * 1000;
    r->stop_ms = maxdur > 0 ? r->sched_ms + maxdur * 1000 : 0;
    if (r->schedule.local_time) {
        /* Each zone's deliveries get MaximumDuration from that zone's StartTime. */
        int64_t last_due = r->schedule.start_ms - RP_CAMPAIGN_OFFSET_MIN_S * 1000LL;
        r->deadline_ms =
            maxdur > 0 ? last_due + maxdur * 1000
                       : last_due + rp_config_int(run_cfg, "queue.campaign_deadline_seconds") * 1000;
        r->stop_ms = 0;
    }
    if (r->schedule.end_ms && (!r->stop_ms || r->schedule.end_ms < r->stop_ms))
        r->stop_ms = r->schedule.end_ms;
    rc = rp_segment_cursor_open(&r->cursor, r->app, run_seg, run_segver);
    if (rc == RP_ENOTFOUND) {
        /* "If you delete the segment that's associated with a campaign, the campaign fails
         * and has a status of DELETED." */
        rp_warn("campaigns", "campaign %s of app %s: its segment is gone", r->id, r->app);
        halt(r, 1);
        simple(rp_store_command("HSET %s state DELETED", r->camp_key));
        park(r, now + PARK_MS);
        return 1;
    }
    if (rc)
        return 1;
    r->cursor_open = 1;
    /* When nothing needs more, batches are routing summaries read from the stored texts; an
     * endpoint whose text does not read is skipped as one deleted meanwhile is. */
    r->cursor.texts = !r->whole_endpoints;
    r->cursor.read_text = r->cursor.texts ? rp_endpoint_summary : NULL;
    if (pos[0] && rp_segment_cursor_seek(&r->cursor, pos))
        return 1;
    r->wd_maybe = 1;
    rp_info("campaigns", "campaign %s of app %s: run %s %s", r->id, r->app, r->run_id,
            pos[0] ? "continues" : "starts");
    return 0;
}

/* Drives the run until it completes, stops, or this instance stops. */
static void drive(struct run *r)
{
    double tokens = 0;
    int64_t last_ms = rp_mono_ms(), last_check = 0, last_renew = rp_mono_ms();
    long long lease = rp_config_int(run_cfg, "jobs.lease_ms");
    while (!rp_pollers_stopping(&schedulers)) {
        int64_t mono = rp_mono_ms();
        if (mono - last_check >= RP_CAMPAIGN_CHECK_MS) {
            last_check = mono;
            enum check c = check(r);
            if (c == CHECK_FAIL || c == CHECK_LOST)
                return; /* the lease lapses and any instance resumes, or another has it */
            if (c == CHECK_STOP) {
                park_checked(r);
                return;
            }
            if (c == CHECK_RESTART) {
                park(r, 0);
                return;
            }
        }
        if (lease_renew_due(&last_renew, lease))
            rp_jobq_renew(RP_KEY_CAMPQ, r->member, lease);
        /* A burst of at most a tenth of a second keeps the pace even. */
        double cap = (double)r->mps / 10.0 < 1.0 ? 1.0 : (double)r->mps / 10.0;
        if (r->mps > 0) {
            tokens += (double)r->mps * (double)(mono - last_ms) / 1000.0;
            if (tokens > cap)
                tokens = cap;
        }
        last_ms = mono;
        int expired = r->stop_ms && rp_now_ms() >= r->stop_ms;
        long long room = r->window - r->outstanding;
        long long want = r->batch < room ? r->batch : room;
        if (r->mps > 0 && want > 0) {
            /* Paced: wait for a whole batch's tokens (or the burst cap, at low rates) rather
             * than send each millisecond's few: a batch's fixed cost (the cursor read, the
             * transaction, the counts) then stays spread over campaigns.batch endpoints. */
            double need = (double)want < cap ? (double)want : cap;
            if (tokens < need) {
                long long wait_us = (long long)((need - tokens) * 1e6 / (double)r->mps) + 1;
                usleep((useconds_t)(wait_us < 50000 ? wait_us : 50000)); /* checks on time */
                continue;
            }
            if ((double)want > tokens)
                want = (long long)tokens;
        }
        if (want <= 0) {
            usleep(5000);
            continue;
        }
        long long sent = 0;
        if (r->wd_maybe && !expired) {
            sent = requeue_withdrawn(r, want);
            if (sent < 0)
                return;
            if (sent == 0)
                r->wd_maybe = 0;
        } else if (!r->cursor.done && !expired) {
            json_t *batch = NULL;
            if (rp_segment_cursor_next(&r->cursor, (size_t)want, &batch))
                return;
            char pos[RP_SEGMENT_CURSOR_POS_MAX];
            rp_segment_cursor_position(&r->cursor, pos, sizeof(pos));
            sent = send_batch(r, batch, pos, NULL);
            json_decref(batch);
            if (sent < 0)
                return;
        } else if (r->schedule.local_time && r->next_due != INT64_MAX && !expired) {
            /* This pass is over; the next starts when the next zone reaches StartTime. */
            if (simple(rp_store_command("HSET %s ltf %lld ltdone %lld ltt %s pos %s", r->key,
                                        (long long)r->lt_to, (long long)r->lt_to, "", "")))
                return;
            park(r, r->next_due);
            return;
        } else if ((r->outstanding <= 0 && !r->wd_maybe) ||
                   rp_now_ms() > r->deadline_ms + RESULT_GRACE_MS) {
            /* Past the deliveries' deadline nothing of the run can still be sent: a result
             * the workers failed to count must not hold the run open for ever. */
            complete(r, expired && !r->cursor.done ? "FAIL" : "SUCCESS");
            return;
        } else {
            usleep(20 * 1000);
            continue;
        }
        if (r->mps > 0)
            tokens -= (double)sent;
    }
    park(r, 0); /* shutting down: any instance continues it at once */
}

static void run_member(const char *member)
{
    struct run r;
    memset(&r, 0, sizeof(r));
    snprintf(r.member, sizeof(r.member), "%s", member);
    const char *slash = strchr(member, '/');
    if (!slash || (size_t)(slash - member) >= sizeof(r.app) || strlen(slash + 1) >= sizeof(r.id)) {
        simple(rp_store_command("ZREM %s %s", RP_KEY_CAMPQ, member));
        return;
    }
    memcpy(r.app, member, (size_t)(slash - member));
    snprintf(r.id, sizeof(r.id), "%s", slash + 1);
    rp_key_campaign(r.camp_key, r.app, r.id);
    rp_key_campaign_runs(r.runs_key, r.app, r.id);
    r.window = rp_config_int(run_cfg, "campaigns.queue_window");
    r.batch = rp_config_int(run_cfg, "campaigns.batch");
    if (begin(&r) == 0)
        drive(&r);
    if (r.cursor_open)
        rp_segment_cursor_close(&r.cursor);
    unload(&r);
    free(r.buf);
}

/* Claims one run that is due and drives it; 0 when none is. */
static int schedule_once(void)
{
    char member[160];
    if (rp_jobq_claim(RP_KEY_CAMPQ, rp_config_int(run_cfg, "jobs.lease_ms"), member,
                      sizeof(member)) != 1)
        return 0;
    run_member(member);
    return 1;
}

int rp_campaigns_start(const struct rp_config *cfg, int count)
{
    run_cfg = cfg;
    return rp_pollers_start(&schedulers, count);
}

void rp_campaigns_stop(void)
{
    rp_pollers_stop(&schedulers);
}
