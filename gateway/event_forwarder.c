/* The event forwarder thread (see event_forwarder.h).
 *
 * Each turn of the loop:
 *   1. when due, one page of this consumer's own pending entries (XREADGROUP ... <cursor>), so
 *      batches left pending by a failing destination are retried once its backoff ends;
 *   2. every CLAIM_INTERVAL_MS, XAUTOCLAIM of entries idle for CLAIM_IDLE_MS (a crashed
 *      instance's), which the next pending pass then delivers;
 *   3. new entries: XREADGROUP COUNT BATCH BLOCK ... >, or, while no app has a destination
 *      (RP_EVENTS_DEST_APPS is empty), the group moved past them without reading them.
 * Entries are grouped by app; each group goes to its app's destination in one batch and is
 * acknowledged only once delivered (or when the app has no destination). */
#include "event_forwarder.h"
#include "config.h"
#include "events.h"
#include "http.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GROUP             "forwarder"
#define BATCH             500
#define BLOCK_MS          500
#define DEST_CACHE_MS     3000
#define BACKOFF_BASE_MS   1000
#define BACKOFF_MAX_MS    60000
#define PASS_INTERVAL_MS  30000
#define CLAIM_INTERVAL_MS 10000
/* Longer than the worst delivery of one batch (HTTP_TIMEOUT_MS), so a live instance's batch in
 * flight is never claimed by another. */
#define CLAIM_IDLE_MS           60000
#define HTTP_CONNECT_TIMEOUT_MS 5000
#define HTTP_TIMEOUT_MS         10000
#define MAX_APPS_KEPT           4096

struct app_state {
    char app[48];
    struct rp_event_dest dest;
    int64_t dest_fetched_ms; /* monotonic; 0: never fetched */
    int failures;            /* consecutive failed deliveries */
    int64_t retry_at_ms;     /* monotonic; no delivery before this */
    int has_pending;         /* entries were left unacknowledged */
};

struct entry {
    const char *id;  /* borrowed from the reply */
    const char *app; /* NULL for an entry trimmed from the stream */
    const char *data;
    size_t data_len;
    int grouped;
};

struct forwarder {
    char consumer[96];
    int group_ready;
    struct app_state *apps;
    size_t n_apps, cap_apps;
    char pass_cursor[48]; /* "" when no pending pass is under way */
    int64_t next_pass_ms, next_claim_ms;
    char claim_cursor[48];
    int claim_unsupported;
    int reconciled; /* RP_EVENTS_DEST_APPS checked against the settings since the start */
    CURL *curl;
    const char **acks; /* ids to acknowledge after the batch, borrowed from the reply */
    size_t n_acks;
};

static pthread_t forwarder_thread;
static atomic_int forwarder_running; /* 0 stopped, 1 running, 2 stopping */

static struct app_state *app_state(struct forwarder *f, const char *app)
{
    for (size_t i = 0; i < f->n_apps; i++)
        if (strcmp(f->apps[i].app, app) == 0)
            return &f->apps[i];
    if (f->n_apps == MAX_APPS_KEPT) {
        /* Forget apps with nothing in flight; their destination is fetched again when needed. */
        size_t kept = 0;
        for (size_t i = 0; i < f->n_apps; i++)
            if (f->apps[i].failures || f->apps[i].has_pending)
                f->apps[kept++] = f->apps[i];
        f->n_apps = kept;
        if (kept == MAX_APPS_KEPT)
            f->n_apps = 0;
    }
    if (f->n_apps == f->cap_apps) {
        f->cap_apps = f->cap_apps ? f->cap_apps * 2 : 16;
        f->apps = rp_realloc(f->apps, f->cap_apps * sizeof(*f->apps));
    }
    struct app_state *st = &f->apps[f->n_apps++];
    memset(st, 0, sizeof(*st));
    snprintf(st->app, sizeof(st->app), "%s", app);
    return st;
}

/* scheme://host[:port] of a webhook, for logs: paths and queries often carry tokens. */
static void url_origin(const char *url, char *out, size_t size)
{
    const char *sep = strstr(url, "://");
    const char *host = sep ? sep + 3 : url;
    int scheme_len = sep ? (int)(sep - url) : 0;
    size_t len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', len);
    if (at) {
        len -= (size_t)(at + 1 - host);
        host = at + 1;
    }
    snprintf(out, size, "%.*s://%.*s", scheme_len, url, (int)len, host);
}

/* Refreshes st->dest when the cached copy is older than DEST_CACHE_MS. A changed destination
 * starts with a clean backoff: the customer may have just fixed it. */
static int refresh_destination(struct app_state *st, int64_t now)
{
    if (st->dest_fetched_ms && now - st->dest_fetched_ms < DEST_CACHE_MS)
        return 0;
    char key[RP_KEY_MAX];
    rp_events_settings_key(key, st->app);
    json_t *settings;
    if (rp_store_get_json(key, &settings) < 0)
        return RP_ESTORE;
    struct rp_event_dest dest;
    memset(&dest, 0, sizeof(dest));
    const char *arn = json_string_value(json_object_get(settings, "DestinationStreamArn"));
    struct rp_err err;
    if (arn && rp_events_dest_parse(arn, &dest, &err) < 0) {
        rp_warn("events",
                "app %s has an unusable event stream destination (%s); its events "
                "are not forwarded",
                st->app, err.msg);
        memset(&dest, 0, sizeof(dest));
    }
    json_decref(settings);
    if (dest.kind != st->dest.kind || strcmp(dest.target, st->dest.target) != 0) {
        st->failures = 0;
        st->retry_at_ms = 0;
    }
    st->dest = dest;
    st->dest_fetched_ms = now;
    return 0;
}

static size_t discard_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    return size * nmemb;
}

/* Aborts a transfer in progress when the forwarder is asked to stop. */
static int check_stop(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                      curl_off_t ulnow)
{
    return atomic_load(&forwarder_running) != 1;
}

/* POSTs the group's events as one JSON array. Returns 0 when the webhook answered 2xx. */
static int deliver_webhook(struct forwarder *f, const struct app_state *st, struct entry **group,
                           size_t n)
{
    json_t *batch = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *event = json_loadb(group[i]->data, group[i]->data_len, 0, NULL);
        if (event)
            json_array_append_new(batch, event);
        else
            rp_warn("events", "skipping entry %s of app %s: its data is not JSON", group[i]->id,
                    st->app);
    }
    if (json_array_size(batch) == 0) {
        json_decref(batch);
        return 0;
    }
    char *body = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    if (!f->curl)
        f->curl = curl_easy_init();
    if (!body || !f->curl) {
        free(body);
        return RP_ENOMEM;
    }
    char app_header[96];
    snprintf(app_header, sizeof(app_header), "X-Repoint-Application-Id: %s", st->app);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    headers = curl_slist_append(headers, app_header);
    headers = curl_slist_append(headers, "Expect:");
    CURL *c = f->curl;
    curl_easy_reset(c);
    curl_easy_setopt(c, CURLOPT_URL, st->dest.target);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "repoint/" RP_VERSION);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)HTTP_CONNECT_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)HTTP_TIMEOUT_MS);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, check_stop);
    const char *ca = rp_ctx.cfg ? rp_config_str(rp_ctx.cfg, "tls.ca_file") : "";
    if (ca && *ca)
        curl_easy_setopt(c, CURLOPT_CAINFO, ca);
    CURLcode cc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(headers);
    free(body);
    char origin[256];
    url_origin(st->dest.target, origin, sizeof(origin));
    if (cc != CURLE_OK) {
        rp_warn("events", "webhook %s for app %s failed: %s", origin, st->app,
                curl_easy_strerror(cc));
        return RP_EIO;
    }
    if (status < 200 || status > 299) {
        rp_warn("events", "webhook %s for app %s answered %ld", origin, st->app, status);
        return RP_EIO;
    }
    rp_debug("events", "posted %zu events of app %s to %s", n, st->app, origin);
    return 0;
}

static int deliver_redis(const struct app_state *st, struct entry **group, size_t n)
{
    size_t queued = 0;
    for (size_t i = 0; i < n; i++)
        if (rp_events_xadd_pipelined(st->dest.target, st->app, group[i]->data,
                                     group[i]->data_len) == 0)
            queued++;
    redisReply **replies = rp_malloc((queued ? queued : 1) * sizeof(redisReply *));
    int rc = rp_store_collect(replies, queued);
    for (size_t i = 0; rc == 0 && i < queued; i++) {
        if (!rp_reply_ok(replies[i])) {
            rp_warn("events", "XADD to %s for app %s failed: %s", st->dest.target, st->app,
                    replies[i]->str);
            rc = RP_ESTORE;
        }
    }
    for (size_t i = 0; i < queued; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    free(replies);
    return rc == 0 && queued == n ? 0 : RP_ESTORE;
}

static void ack_later(struct forwarder *f, struct entry **group, size_t n)
{
    for (size_t i = 0; i < n; i++)
        f->acks[f->n_acks++] = group[i]->id;
}

static void flush_acks(struct forwarder *f)
{
    if (f->n_acks == 0)
        return;
    const char **argv = rp_malloc((f->n_acks + 3) * sizeof(*argv));
    argv[0] = "XACK";
    argv[1] = RP_EVENTS_STREAM;
    argv[2] = GROUP;
    memcpy(argv + 3, f->acks, f->n_acks * sizeof(*argv));
    redisReply *r = rp_store_commandv((int)(f->n_acks + 3), argv, NULL);
    if (!rp_reply_ok(r))
        rp_warn("events", "XACK of %zu forwarded events failed; they will be sent again",
                f->n_acks);
    if (r)
        freeReplyObject(r);
    free(argv);
    f->n_acks = 0;
}

/* Delivers one app's entries, or leaves them pending while the app waits out its backoff. */
static void deliver_group(struct forwarder *f, const char *app, struct entry **group, size_t n)
{
    struct app_state *st = app_state(f, app);
    int64_t now = rp_mono_ms();
    if (st->retry_at_ms > now) {
        st->has_pending = 1;
        return;
    }
    int rc = refresh_destination(st, now);
    if (rc == 0 && st->dest.kind == RP_EVENT_DEST_NONE) {
        ack_later(f, group, n);
        return;
    }
    if (rc == 0)
        rc = st->dest.kind == RP_EVENT_DEST_WEBHOOK ? deliver_webhook(f, st, group, n)
                                                    : deliver_redis(st, group, n);
    if (rc == 0) {
        if (st->failures)
            rp_info("events", "event stream of app %s delivers again after %d failures", st->app,
                    st->failures);
        st->failures = 0;
        st->retry_at_ms = 0;
        ack_later(f, group, n);
        return;
    }
    if (atomic_load(&forwarder_running) != 1)
        return;
    st->failures++;
    int shift = st->failures - 1 < 6 ? st->failures - 1 : 6;
    int64_t delay = (int64_t)BACKOFF_BASE_MS << shift;
    if (delay > BACKOFF_MAX_MS)
        delay = BACKOFF_MAX_MS;
    /* Up to a quarter of jitter so instances sharing a failing webhook do not retry in step. */
    unsigned char r;
    rp_random_bytes(&r, 1);
    delay += delay * r / 1024;
    st->retry_at_ms = now + delay;
    st->has_pending = 1;
    rp_info("events", "%zu events of app %s stay pending; retry in %lld ms", n, st->app,
            (long long)delay);
}

/* Reads the entries of one stream reply ([[id, [field, value ...]] ...]) into out. */
static size_t parse_entries(const redisReply *list, struct entry *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; list && list->type == REDIS_REPLY_ARRAY && i < list->elements && n < max;
         i++) {
        const redisReply *e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
            e->element[0]->type != REDIS_REPLY_STRING)
            continue;
        struct entry *en = &out[n++];
        memset(en, 0, sizeof(*en));
        en->id = e->element[0]->str;
        const redisReply *fields = e->element[1];
        if (fields->type != REDIS_REPLY_ARRAY)
            continue; /* trimmed from the stream while pending: nothing left to deliver */
        for (size_t j = 0; j + 1 < fields->elements; j += 2) {
            const redisReply *k = fields->element[j], *v = fields->element[j + 1];
            if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
                continue;
            if (strcmp(k->str, "app") == 0)
                en->app = v->str;
            else if (strcmp(k->str, "data") == 0) {
                en->data = v->str;
                en->data_len = v->len;
            }
        }
        if (!en->data)
            en->app = NULL;
        else if (!en->app)
            en->app = "";
    }
    return n;
}

static void process_entries(struct forwarder *f, struct entry *entries, size_t n)
{
    struct entry **group = rp_malloc((n ? n : 1) * sizeof(struct entry *));
    f->acks = rp_malloc((n ? n : 1) * sizeof(*f->acks));
    f->n_acks = 0;
    for (size_t i = 0; i < n; i++) {
        if (!entries[i].app) {
            f->acks[f->n_acks++] = entries[i].id;
            entries[i].grouped = 1;
        }
    }
    for (size_t i = 0; i < n && atomic_load(&forwarder_running) == 1; i++) {
        if (entries[i].grouped)
            continue;
        size_t g = 0;
        for (size_t j = i; j < n; j++) {
            if (!entries[j].grouped && strcmp(entries[j].app, entries[i].app) == 0) {
                entries[j].grouped = 1;
                group[g++] = &entries[j];
            }
        }
        deliver_group(f, entries[i].app, group, g);
    }
    flush_acks(f);
    free(f->acks);
    f->acks = NULL;
    free(group);
}

static int ensure_group(struct forwarder *f)
{
    redisReply *r = rp_store_command("XGROUP CREATE " RP_EVENTS_STREAM " " GROUP " $ MKSTREAM");
    int ok = r && (r->type != REDIS_REPLY_ERROR || strncmp(r->str, "BUSYGROUP", 9) == 0);
    if (r && !ok)
        rp_warn("events", "cannot create the forwarder group on rp:events: %s", r->str);
    if (r)
        freeReplyObject(r);
    f->group_ready = ok;
    return ok ? 0 : RP_ESTORE;
}

/* Runs XREADGROUP from id (">" for new entries, else this consumer's pending entries after id)
 * and delivers what it returns. Returns the number of entries read, or RP_ESTORE. */
static int read_and_deliver(struct forwarder *f, const char *id, int block_ms)
{
    char count[16], block[16];
    snprintf(count, sizeof(count), "%d", BATCH);
    snprintf(block, sizeof(block), "%d", block_ms);
    const char *argv[11];
    int argc = 0;
    argv[argc++] = "XREADGROUP";
    argv[argc++] = "GROUP";
    argv[argc++] = GROUP;
    argv[argc++] = f->consumer;
    argv[argc++] = "COUNT";
    argv[argc++] = count;
    if (block_ms > 0) {
        argv[argc++] = "BLOCK";
        argv[argc++] = block;
    }
    argv[argc++] = "STREAMS";
    argv[argc++] = RP_EVENTS_STREAM;
    argv[argc++] = id;
    redisReply *r = rp_store_commandv(argc, argv, NULL);
    if (!rp_reply_ok(r)) {
        if (r && strncmp(r->str, "NOGROUP", 7) == 0)
            f->group_ready = 0; /* the stream or group vanished (FLUSHALL, failover) */
        else if (r)
            rp_warn("events", "XREADGROUP on rp:events failed: %s", r->str);
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    const redisReply *list = NULL;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 &&
        r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
        list = r->element[0]->element[1];
    size_t max = list && list->type == REDIS_REPLY_ARRAY ? list->elements : 0;
    struct entry *entries = rp_malloc((max ? max : 1) * sizeof(*entries));
    size_t n = parse_entries(list, entries, max);
    if (n && id[0] != '>')
        snprintf(f->pass_cursor, sizeof(f->pass_cursor), "%s", entries[n - 1].id);
    process_entries(f, entries, n);
    free(entries);
    freeReplyObject(r);
    return (int)n;
}

/* Moves the group past every event when no app has a destination, in one step with the check,
 * so an event written after a Put is read. Returns 1 when there is something to forward, 0 when
 * the group skipped ahead, RP_ESTORE. */
static struct rp_script skip_script = {.source =
    "if redis.call('SCARD', KEYS[2]) > 0 then return 1 end\n"
    "redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], '$')\n"
    "return 0\n"};

static int any_destination(struct forwarder *f)
{
    const char *args[] = {RP_EVENTS_STREAM, RP_EVENTS_DEST_APPS, GROUP};
    redisReply *r = rp_store_eval(&skip_script, 2, 3, args, NULL);
    if (!r)
        return RP_ESTORE;
    int rc = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : RP_ESTORE;
    if (r->type == REDIS_REPLY_ERROR) {
        /* Mostly the stream or group vanished (FLUSHALL, failover): made again next turn. */
        f->group_ready = 0;
        rp_warn("events", "cannot check for event stream destinations: %s", r->str);
    }
    freeReplyObject(r);
    return rc;
}

/* For each app of ids (an array reply), whether it has event stream settings: one pipelined
 * EXISTS per app; lists them when list is set, else unlists those without. 0 or RP_ESTORE. */
static int sync_listing(const redisReply *ids, int list)
{
    size_t n = ids->elements;
    if (n == 0)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char key[RP_KEY_MAX];
        rp_events_settings_key(key, ids->element[i]->str);
        rp_store_append("EXISTS %s", key);
    }
    redisReply **exists = rp_calloc(n, sizeof(redisReply *));
    int rc = rp_store_collect(exists, n);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (exists[i]->type != REDIS_REPLY_INTEGER)
            rc = RP_ESTORE;
        else if (list && exists[i]->integer > 0)
            rc = rp_events_list_app(ids->element[i]->str);
        else if (!list && exists[i]->integer == 0)
            rc = rp_events_unlist_app(ids->element[i]->str);
    }
    for (size_t i = 0; i < n; i++)
        if (exists[i])
            freeReplyObject(exists[i]);
    free(exists);
    return rc;
}

/* Lists the apps whose settings were written before RP_EVENTS_DEST_APPS existed, and unlists
 * those whose settings are gone (a delete whose unlisting failed). An app that has settings is
 * never unlisted here, not even for a moment: another instance's forwarder seeing the set empty
 * then would skip events meant for it. Once per start, until it gets through: 0 or
 * RP_ESTORE. */
static int reconcile_destination_apps(void)
{
    enum { PAGE = 500 };
    int rc = 0;
    for (long start = 0; rc == 0; start += PAGE) {
        redisReply *apps =
            rp_store_command("ZRANGE " RP_KEY_APPS " %ld %ld", start, start + PAGE - 1);
        if (!rp_reply_ok(apps) || apps->type != REDIS_REPLY_ARRAY) {
            if (apps)
                freeReplyObject(apps);
            return RP_ESTORE;
        }
        rc = sync_listing(apps, 1);
        int last_page = apps->elements < PAGE;
        freeReplyObject(apps);
        if (last_page)
            break;
    }
    redisReply *listed = rc == 0 ? rp_store_command("SMEMBERS " RP_EVENTS_DEST_APPS) : NULL;
    if (rc == 0)
        rc = rp_reply_ok(listed) && listed->type == REDIS_REPLY_ARRAY ? sync_listing(listed, 0)
                                                                        : RP_ESTORE;
    if (listed)
        freeReplyObject(listed);
    return rc;
}

static int pending_pass_due(const struct forwarder *f, int64_t now)
{
    if (f->pass_cursor[0] || now >= f->next_pass_ms)
        return 1;
    for (size_t i = 0; i < f->n_apps; i++)
        if (f->apps[i].has_pending && f->apps[i].retry_at_ms <= now)
            return 1;
    return 0;
}

/* One page of this consumer's pending entries; a pass ends on an empty page. */
static void pending_pass_step(struct forwarder *f, int64_t now)
{
    if (!f->pass_cursor[0]) {
        for (size_t i = 0; i < f->n_apps; i++)
            f->apps[i].has_pending = 0;
        snprintf(f->pass_cursor, sizeof(f->pass_cursor), "0");
        f->next_pass_ms = now + PASS_INTERVAL_MS;
    }
    int n = read_and_deliver(f, f->pass_cursor, 0);
    if (n <= 0)
        f->pass_cursor[0] = '\0';
}

/* Takes over entries another consumer has left idle for CLAIM_IDLE_MS (it crashed or lost
 * Redis); they join this consumer's pending entries and the next pass delivers them. */
static void claim_step(struct forwarder *f)
{
    char idle[16], count[16];
    snprintf(idle, sizeof(idle), "%d", CLAIM_IDLE_MS);
    snprintf(count, sizeof(count), "%d", BATCH);
    const char *argv[] = {"XAUTOCLAIM",    RP_EVENTS_STREAM, GROUP, f->consumer, idle,
                          f->claim_cursor, "COUNT",          count, "JUSTID"};
    redisReply *r = rp_store_commandv(9, argv, NULL);
    if (r && r->type == REDIS_REPLY_ERROR && strstr(r->str, "unknown command")) {
        rp_warn("events", "Redis has no XAUTOCLAIM (Redis 6.2+): events left pending by a "
                          "crashed instance are not taken over");
        f->claim_unsupported = 1;
    }
    if (rp_reply_ok(r) && r->type == REDIS_REPLY_ARRAY && r->elements >= 2 &&
        r->element[0]->type == REDIS_REPLY_STRING) {
        snprintf(f->claim_cursor, sizeof(f->claim_cursor), "%s", r->element[0]->str);
        if (r->element[1]->type == REDIS_REPLY_ARRAY && r->element[1]->elements) {
            rp_info("events", "took over %zu pending events from another instance",
                    r->element[1]->elements);
            f->next_pass_ms = 0;
        }
    }
    if (r)
        freeReplyObject(r);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A consumer with no pending entries is removed on a clean stop, so restarts do not pile up
 * consumer names in the group. One with pending entries stays for another instance to claim
 * (DELCONSUMER would drop its entries). */
static void retire_consumer(const struct forwarder *f)
{
    redisReply *r =
        rp_store_command("XPENDING " RP_EVENTS_STREAM " " GROUP " - + 1 %s", f->consumer);
    int empty = rp_reply_ok(r) && r->type == REDIS_REPLY_ARRAY && r->elements == 0;
    if (r)
        freeReplyObject(r);
    if (!empty)
        return;
    r = rp_store_command("XGROUP DELCONSUMER " RP_EVENTS_STREAM " " GROUP " %s", f->consumer);
    if (r)
        freeReplyObject(r);
}

static void *forwarder_main(void *arg)
{
    struct forwarder *f = arg;
    /* The blocking read must return before the store's socket timeout fires. */
    long long timeout = rp_ctx.cfg ? rp_config_int(rp_ctx.cfg, "redis.timeout_ms") : 1000;
    int block_ms = timeout / 2 < BLOCK_MS ? (int)(timeout / 2) : BLOCK_MS;
    if (block_ms < 1)
        block_ms = 1;
    rp_info("events", "event forwarder running as consumer %s", f->consumer);
    while (atomic_load(&forwarder_running) == 1) {
        if (!f->group_ready && ensure_group(f) < 0) {
            sleep_ms(BLOCK_MS);
            continue;
        }
        int64_t now = rp_mono_ms();
        if (pending_pass_due(f, now))
            pending_pass_step(f, now);
        if (!f->claim_unsupported && now >= f->next_claim_ms) {
            claim_step(f);
            f->next_claim_ms = now + CLAIM_INTERVAL_MS;
        }
        if (atomic_load(&forwarder_running) != 1 || !f->group_ready)
            continue;
        if (!f->reconciled && reconcile_destination_apps() < 0) {
            sleep_ms(BLOCK_MS);
            continue;
        }
        f->reconciled = 1;
        int wanted = any_destination(f);
        if (wanted == 0)
            sleep_ms(block_ms);
        else if (wanted < 0 || read_and_deliver(f, ">", block_ms) < 0)
            sleep_ms(BLOCK_MS); /* Redis is down: the store reconnects on the next command */
    }
    retire_consumer(f);
    if (f->curl)
        curl_easy_cleanup(f->curl);
    free(f->apps);
    free(f);
    rp_store_thread_close();
    return NULL;
}

int rp_event_forwarder_start(void)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&forwarder_running, &expected, 1))
        return 0;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        atomic_store(&forwarder_running, 0);
        return RP_EIO;
    }
    struct forwarder *f = rp_calloc(1, sizeof(*f));
    /* Unique per process: a restarted instance is a new consumer, and its predecessor's pending
     * entries are claimed like any crashed instance's. */
    char host[64] = "";
    gethostname(host, sizeof(host) - 1);
    unsigned char rnd[4];
    char hex[9];
    rp_random_bytes(rnd, sizeof(rnd));
    rp_hex(rnd, sizeof(rnd), hex);
    snprintf(f->consumer, sizeof(f->consumer), "%s-%ld-%s", host[0] ? host : "repoint",
             (long)getpid(), hex);
    snprintf(f->claim_cursor, sizeof(f->claim_cursor), "0-0");
    f->next_pass_ms = rp_mono_ms() + PASS_INTERVAL_MS;
    if (pthread_create(&forwarder_thread, NULL, forwarder_main, f)) {
        free(f);
        curl_global_cleanup();
        atomic_store(&forwarder_running, 0);
        return RP_EIO;
    }
    return 0;
}

void rp_event_forwarder_stop(void)
{
    int expected = 1;
    if (!atomic_compare_exchange_strong(&forwarder_running, &expected, 2))
        return;
    pthread_join(forwarder_thread, NULL);
    curl_global_cleanup();
    atomic_store(&forwarder_running, 0);
}
