/* sms_sim: a Twilio-compatible SMS provider for tests and benchmarks (tests/sim/README.md).
 * It answers POST /2010-04-01/Accounts/{sid}/Messages.json as Twilio does, checks Basic auth
 * and the form fields, records what it accepted, can be told to misbehave (latency, errors,
 * throttling, invalid numbers, stalls, connection resets) through a JSON control API under
 * /sim/, and can post signed status callbacks. libmicrohttpd with a thread pool; a delayed answer suspends its
 * connection (a timer thread resumes it), so latency never holds a thread. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channels/sms/e164.h"
#include "channels/sms/sms_payload.h"
#include "gateway/util.h"

#define MAX_UPLOAD          ((size_t)64 * 1024)
#define MAX_BODY_CHARS      1600 /* Twilio: error 21617 beyond this */
#define CALLBACKS_IN_FLIGHT 64
#define MESSAGES_PAGE_MAX   100000

struct options {
    int port;
    const char *tls_cert, *tls_key;
    const char *account_sid, *auth_token;
    const char *record_path;
    const char *callback_ca;
    int callbacks;
    unsigned threads;
    size_t max_records;
};

/* One accepted message; the strings live in the same allocation. */
struct record {
    uint64_t seq;
    int64_t time_ms;
    char sid[40];
    const char *to, *from, *service, *body, *callback, *entity_id, *template_id;
};

/* The state of one HTTP request, from its first call to its completion. */
struct req {
    struct req *next_stalled;
    struct MHD_Connection *conn;
    char *upload;
    size_t len;
    int too_big;
    int suspended;
    int ready; /* the answer below is prepared */
    int status;
    char *answer; /* JSON, owned */
    char retry_after[64];
    int www_auth; /* add WWW-Authenticate */
    int drop;     /* close the connection without an answer (a reset) */
};

struct delayed {
    int64_t due_ms; /* monotonic */
    struct req *r;
};

struct callback_job {
    struct callback_job *next;
    struct curl_slist *headers;
    char *url, *form, signature[RP_SMS_SIGNATURE_SIZE];
};

static struct {
    struct options opt;
    pthread_mutex_t lock; /* everything below */
    /* configuration (POST /sim/config) */
    long latency_ms;
    double error_rate;
    long throttle_next;
    char retry_after[64];
    long fail_next;
    int fail_status;
    int stall;
    int reset;       /* every request: the connection is closed without an answer */
    long reset_next; /* the next N requests: the same */
    json_t *invalid_numbers;       /* object used as a set */
    json_t *undeliverable_numbers; /* object used as a set */
    /* statistics */
    uint64_t received, accepted, rejected, stalled_total, resets, control;
    uint64_t by_status[600];
    uint64_t callbacks_sent, callbacks_failed;
    /* records: a ring of the last max_records */
    struct record **ring;
    uint64_t next_seq; /* seq of the next record, from 1 */
    FILE *record_file;
    /* suspended connections */
    struct req *stalled;
    size_t suspended;
    struct delayed *heap;
    size_t heap_len, heap_cap;
    pthread_cond_t heap_cond;
    int stopping;
    /* status callbacks */
    struct callback_job *cb_head, *cb_tail;
    size_t cb_pending;
    CURLM *cb_multi;
} g;

static __thread uint64_t rng_state;

static double random_unit(void)
{
    if (!rng_state)
        while (!rng_state)
            rp_random_bytes(&rng_state, sizeof(rng_state));
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (double)((rng_state * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

/* ---- Answers -------------------------------------------------------------------------------- */

static char *dump(json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!s)
        rp_panic("sms_sim: cannot encode JSON");
    return s;
}

/* Twilio's error document: {"code":..,"message":..,"more_info":..,"status":..}. */
static void set_error(struct req *r, int status, int code, const char *message)
{
    char more[96];
    snprintf(more, sizeof(more), "https://www.twilio.com/docs/errors/%d", code);
    free(r->answer);
    r->answer = dump(json_pack("{s:i, s:s, s:s, s:i}", "code", code, "message", message,
                               "more_info", more, "status", status));
    r->status = status;
    r->ready = 1;
}

static void set_json(struct req *r, int status, json_t *doc)
{
    free(r->answer);
    r->answer = dump(doc);
    r->status = status;
    r->ready = 1;
}

static enum MHD_Result send_answer(struct MHD_Connection *conn, struct req *r)
{
    const char *body = r->answer ? r->answer : "";
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json; charset=utf-8");
    if (r->retry_after[0])
        MHD_add_response_header(resp, "Retry-After", r->retry_after);
    if (r->www_auth)
        MHD_add_response_header(resp, "WWW-Authenticate", "Basic realm=\"Twilio API\"");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- Suspended connections ------------------------------------------------------------------ */

static void heap_push(int64_t due, struct req *r)
{
    if (g.heap_len == g.heap_cap) {
        g.heap_cap = g.heap_cap ? g.heap_cap * 2 : 1024;
        g.heap = rp_realloc(g.heap, g.heap_cap * sizeof(*g.heap));
    }
    size_t i = g.heap_len++;
    while (i > 0 && g.heap[(i - 1) / 2].due_ms > due) {
        g.heap[i] = g.heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    g.heap[i].due_ms = due;
    g.heap[i].r = r;
}

static struct req *heap_pop(void)
{
    struct req *top = g.heap[0].r;
    struct delayed last = g.heap[--g.heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= g.heap_len)
            break;
        if (c + 1 < g.heap_len && g.heap[c + 1].due_ms < g.heap[c].due_ms)
            c++;
        if (g.heap[c].due_ms >= last.due_ms)
            break;
        g.heap[i] = g.heap[c];
        i = c;
    }
    if (g.heap_len)
        g.heap[i] = last;
    return top;
}

/* Suspends r's connection until due (monotonic ms), or for ever when due < 0 (a stall).
 * Called with g.lock held, from the request handler. */
static void suspend_locked(struct req *r, int64_t due)
{
    MHD_suspend_connection(r->conn);
    r->suspended = 1;
    g.suspended++;
    if (due < 0) {
        r->next_stalled = g.stalled;
        g.stalled = r;
        g.stalled_total++;
        return;
    }
    heap_push(due, r);
    pthread_cond_signal(&g.heap_cond);
}

/* Answers every stalled request with 503 (reset and shutdown). With g.lock held. */
static void release_stalled_locked(void)
{
    while (g.stalled) {
        struct req *r = g.stalled;
        g.stalled = r->next_stalled;
        set_error(r, 503, 20503, "Service Unavailable");
        MHD_resume_connection(r->conn);
    }
}

static void *timer_main(void *arg)
{
    pthread_mutex_lock(&g.lock);
    while (!g.stopping || g.heap_len) {
        if (!g.heap_len) {
            pthread_cond_wait(&g.heap_cond, &g.lock);
            continue;
        }
        int64_t now = rp_mono_ms();
        if (g.heap[0].due_ms > now && !g.stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait = g.heap[0].due_ms - now;
            ts.tv_sec += wait / 1000;
            ts.tv_nsec += (wait % 1000) * 1000000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&g.heap_cond, &g.lock, &ts);
            continue;
        }
        struct req *r = heap_pop();
        MHD_resume_connection(r->conn);
    }
    pthread_mutex_unlock(&g.lock);
    return NULL;
}

/* ---- Status callbacks ----------------------------------------------------------------------- */

static void queue_callback(const struct record *rec)
{
    int undeliverable = json_object_get(g.undeliverable_numbers, rec->to) != NULL;
    struct rp_sms_param params[] = {
        {"AccountSid", (char *)g.opt.account_sid},
        {"ApiVersion", "2010-04-01"},
        {"ErrorCode", undeliverable ? "30003" : NULL},
        {"From", (char *)rec->from},
        {"MessageSid", (char *)rec->sid},
        {"MessageStatus", undeliverable ? "undelivered" : "delivered"},
        {"MessagingServiceSid", (char *)rec->service},
        {"SmsSid", (char *)rec->sid},
        {"SmsStatus", undeliverable ? "undelivered" : "delivered"},
        {"To", (char *)rec->to},
    };
    struct callback_job *job = rp_calloc(1, sizeof(*job));
    job->url = rp_strdup(rec->callback);
    job->form = rp_sms_form_encode(params, sizeof(params) / sizeof(params[0]));
    if (rp_sms_signature(g.opt.auth_token, job->url, job->form, strlen(job->form), job->signature) <
        0)
        rp_panic("sms_sim: cannot sign a callback");
    if (g.cb_tail)
        g.cb_tail->next = job;
    else
        g.cb_head = job;
    g.cb_tail = job;
    g.cb_pending++;
}

static void callback_job_free(struct callback_job *job)
{
    curl_slist_free_all(job->headers);
    free(job->url);
    free(job->form);
    free(job);
}

static CURL *callback_easy(struct callback_job *job)
{
    CURL *e = curl_easy_init();
    if (!e)
        rp_panic("sms_sim: curl_easy_init failed");
    char sig[64];
    snprintf(sig, sizeof(sig), "X-Twilio-Signature: %s", job->signature);
    job->headers = curl_slist_append(NULL, sig);
    job->headers =
        curl_slist_append(job->headers, "Content-Type: application/x-www-form-urlencoded");
    job->headers = curl_slist_append(job->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_URL, job->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, job->headers);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, job->form);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "TwilioProxy/1.1");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)job);
    if (g.opt.callback_ca)
        curl_easy_setopt(e, CURLOPT_CAINFO, g.opt.callback_ca);
    return e;
}

/* Posts queued callbacks, CALLBACKS_IN_FLIGHT at a time, on its own curl multi handle. */
static void *callback_main(void *arg)
{
    int running = 0;
    for (;;) {
        pthread_mutex_lock(&g.lock);
        int stop = g.stopping && !g.cb_head && running == 0;
        while (g.cb_head && running < CALLBACKS_IN_FLIGHT) {
            struct callback_job *job = g.cb_head;
            g.cb_head = job->next;
            if (!g.cb_head)
                g.cb_tail = NULL;
            job->next = NULL;
            curl_multi_add_handle(g.cb_multi, callback_easy(job));
            running++;
        }
        pthread_mutex_unlock(&g.lock);
        if (stop)
            break;
        int still = 0;
        curl_multi_perform(g.cb_multi, &still);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(g.cb_multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *priv = NULL;
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            int ok = msg->data.result == CURLE_OK && status >= 200 && status < 300;
            struct callback_job *job = (struct callback_job *)priv;
            CURL *e = msg->easy_handle;
            curl_multi_remove_handle(g.cb_multi, e);
            curl_easy_cleanup(e);
            callback_job_free(job);
            running--;
            pthread_mutex_lock(&g.lock);
            g.cb_pending--;
            if (ok)
                g.callbacks_sent++;
            else
                g.callbacks_failed++;
            pthread_mutex_unlock(&g.lock);
        }
        curl_multi_poll(g.cb_multi, NULL, 0, 1000, NULL);
    }
    return NULL;
}

/* ---- Records -------------------------------------------------------------------------------- */

/* parts: To, From, MessagingServiceSid, Body, StatusCallback, EntityId, TemplateId (NULL when
 * absent). */
#define RECORD_PARTS 7
static struct record *record_new(const char *const parts[RECORD_PARTS])
{
    size_t size = sizeof(struct record);
    for (size_t i = 0; i < RECORD_PARTS; i++)
        size += parts[i] ? strlen(parts[i]) + 1 : 0;
    struct record *rec = rp_calloc(1, size);
    char *p = (char *)(rec + 1);
    const char **slots[RECORD_PARTS] = {&rec->to,       &rec->from,      &rec->service,
                                        &rec->body,     &rec->callback,  &rec->entity_id,
                                        &rec->template_id};
    for (size_t i = 0; i < RECORD_PARTS; i++) {
        if (!parts[i])
            continue;
        size_t n = strlen(parts[i]) + 1;
        memcpy(p, parts[i], n);
        *slots[i] = p;
        p += n;
    }
    unsigned char raw[16];
    char hex[33];
    rp_random_bytes(raw, sizeof(raw));
    rp_hex(raw, sizeof(raw), hex);
    snprintf(rec->sid, sizeof(rec->sid), "SM%s", hex);
    rec->time_ms = rp_now_ms();
    return rec;
}

static json_t *record_json(const struct record *rec)
{
    char iso[RP_ISO_SIZE];
    rp_time_iso(rec->time_ms, iso);
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s}", "seq", (json_int_t)rec->seq, "sid", rec->sid,
                          "to", rec->to, "body", rec->body, "time", iso);
    json_object_set_new(o, "from", rec->from ? json_string(rec->from) : json_null());
    if (rec->service)
        json_object_set_new(o, "messaging_service_sid", json_string(rec->service));
    if (rec->entity_id)
        json_object_set_new(o, "entity_id", json_string(rec->entity_id));
    if (rec->template_id)
        json_object_set_new(o, "template_id", json_string(rec->template_id));
    if (rec->callback)
        json_object_set_new(o, "status_callback", json_string(rec->callback));
    return o;
}

/* Takes rec. With g.lock held. */
static void record_store_locked(struct record *rec)
{
    rec->seq = g.next_seq++;
    size_t slot = (size_t)(rec->seq % g.opt.max_records);
    free(g.ring[slot]);
    g.ring[slot] = rec;
    if (g.record_file) {
        char *line = dump(record_json(rec));
        fprintf(g.record_file, "%s\n", line);
        free(line);
    }
}

/* ---- Messages ------------------------------------------------------------------------------- */

static const char messages_prefix[] = "/2010-04-01/Accounts/";
static const char messages_suffix[] = "/Messages.json";

/* Returns 1 when url is a Messages resource, copying its account sid into sid. */
static int messages_path(const char *url, char *sid, size_t size)
{
    size_t plen = sizeof(messages_prefix) - 1, slen = sizeof(messages_suffix) - 1;
    size_t len = strlen(url);
    if (len <= plen + slen || strncmp(url, messages_prefix, plen) != 0 ||
        strcmp(url + len - slen, messages_suffix) != 0)
        return 0;
    size_t n = len - plen - slen;
    if (n >= size || memchr(url + plen, '/', n))
        return 0;
    memcpy(sid, url + plen, n);
    sid[n] = '\0';
    return 1;
}

static int authorized(struct MHD_Connection *conn)
{
    char *pass = NULL;
    char *user = MHD_basic_auth_get_username_password(conn, &pass);
    int ok =
        user && pass && strcmp(user, g.opt.account_sid) == 0 && strcmp(pass, g.opt.auth_token) == 0;
    if (user)
        MHD_free(user);
    if (pass)
        MHD_free(pass);
    return ok;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Checks the form as Twilio does; on a problem sets the error answer and returns -1. */
static int validate_form(struct req *r, const struct rp_sms_form *f)
{
    const char *to = rp_sms_form_get(f, "To");
    const char *from = rp_sms_form_get(f, "From");
    const char *service = rp_sms_form_get(f, "MessagingServiceSid");
    const char *body = rp_sms_form_get(f, "Body");
    char msg[160];
    if (!to || !*to) {
        set_error(r, 400, 21604, "A 'To' phone number is required.");
        return -1;
    }
    if (strlen(to) > 20 || rp_e164_validate(to, "To", NULL) < 0 ||
        json_object_get(g.invalid_numbers, to)) {
        snprintf(msg, sizeof(msg), "The 'To' number %.20s is not a valid phone number.", to);
        set_error(r, 400, 21211, msg);
        return -1;
    }
    if ((!from || !*from) && (!service || !*service)) {
        set_error(r, 400, 21603,
                  "A 'From' or 'MessagingServiceSid' parameter is required to send a message.");
        return -1;
    }
    if (!body || !*body) {
        set_error(r, 400, 21602, "Message body is required.");
        return -1;
    }
    if (utf8_chars(body) > MAX_BODY_CHARS) {
        set_error(r, 400, 21617, "The concatenated message body exceeds the 1600 character limit.");
        return -1;
    }
    return 0;
}

static json_t *accepted_json(const struct record *rec)
{
    struct rp_sms_segments seg;
    rp_sms_segments_count(rec->body, &seg);
    char segments[16], uri[160], media[180], date[64];
    snprintf(segments, sizeof(segments), "%d", seg.parts);
    snprintf(uri, sizeof(uri), "/2010-04-01/Accounts/%s/Messages/%s.json", g.opt.account_sid,
             rec->sid);
    snprintf(media, sizeof(media), "/2010-04-01/Accounts/%s/Messages/%s/Media.json",
             g.opt.account_sid, rec->sid);
    time_t t = (time_t)(rec->time_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
    json_t *o = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:n, s:s, s:s, s:n, s:n, s:s, s:s, s:n, s:s, s:s, s:s, s:s,"
        " s:{s:s}}",
        "account_sid", g.opt.account_sid, "api_version", "2010-04-01", "body", rec->body,
        "date_created", date, "date_updated", date, "date_sent", "direction", "outbound-api",
        "num_media", "0", "error_code", "error_message", "num_segments", segments, "price_unit",
        "USD", "price", "sid", rec->sid, "status", rec->service ? "accepted" : "queued", "to",
        rec->to, "uri", uri, "subresource_uris", "media", media);
    json_object_set_new(o, "from", rec->from ? json_string(rec->from) : json_null());
    json_object_set_new(o, "messaging_service_sid",
                        rec->service ? json_string(rec->service) : json_null());
    return o;
}

/* Decides the answer to a Messages POST. Returns the delay: 0 to answer now, > 0 ms to wait,
 * < 0 to stall. With g.lock held. */
static long handle_message_locked(struct MHD_Connection *conn, struct req *r, const char *url,
                                  const char *method)
{
    char sid[128];
    if (!messages_path(url, sid, sizeof(sid))) {
        set_error(r, 404, 20404, "The requested resource was not found");
        return 0;
    }
    if (strcmp(method, "POST") != 0) {
        set_error(r, 405, 20004, "Method not allowed");
        return 0;
    }
    g.received++;
    if (!authorized(conn)) {
        set_error(r, 401, 20003, "Authenticate");
        r->www_auth = 1;
        return g.latency_ms;
    }
    if (strcmp(sid, g.opt.account_sid) != 0) {
        set_error(r, 404, 20404, "The requested resource was not found");
        return g.latency_ms;
    }
    if (g.reset || g.reset_next > 0) {
        if (g.reset_next > 0)
            g.reset_next--;
        g.resets++;
        r->drop = 1;
        return 0;
    }
    if (g.stall)
        return -1;
    if (g.throttle_next > 0) {
        g.throttle_next--;
        snprintf(r->retry_after, sizeof(r->retry_after), "%s", g.retry_after);
        set_error(r, 429, 20429, "Too Many Requests");
        return g.latency_ms;
    }
    if (g.fail_next > 0) {
        g.fail_next--;
        set_error(r, g.fail_status, 20500, "Internal Server Error");
        return g.latency_ms;
    }
    if (g.error_rate > 0 && random_unit() < g.error_rate) {
        set_error(r, 500, 20500, "Internal Server Error");
        return g.latency_ms;
    }
    if (r->too_big) {
        set_error(r, 413, 20413, "Request Entity Too Large");
        return g.latency_ms;
    }
    struct rp_sms_form f;
    if (rp_sms_form_parse(r->upload ? r->upload : "", r->len, &f) < 0) {
        rp_sms_form_cleanup(&f);
        set_error(r, 400, 20001, "The form body is malformed");
        return g.latency_ms;
    }
    if (validate_form(r, &f) == 0) {
        static const char *const names[RECORD_PARTS] = {
            "To", "From", "MessagingServiceSid", "Body", "StatusCallback", "EntityId", "TemplateId"};
        const char *parts[RECORD_PARTS];
        for (size_t i = 0; i < RECORD_PARTS; i++) {
            parts[i] = rp_sms_form_get(&f, names[i]);
            if (i != 0 && i != 3 && parts[i] && !*parts[i])
                parts[i] = NULL; /* an empty optional field is no field */
        }
        struct record *rec = record_new(parts);
        set_json(r, 201, accepted_json(rec));
        if (g.opt.callbacks && rec->callback) {
            queue_callback(rec);
            curl_multi_wakeup(g.cb_multi);
        }
        record_store_locked(rec);
        g.accepted++;
    }
    rp_sms_form_cleanup(&f);
    return g.latency_ms;
}

/* ---- Control API ---------------------------------------------------------------------------- */

static json_t *config_json_locked(void)
{
    json_t *invalid = json_array(), *undeliverable = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(g.invalid_numbers, k, v) json_array_append_new(invalid, json_string(k));
    json_object_foreach(g.undeliverable_numbers, k, v)
        json_array_append_new(undeliverable, json_string(k));
    return json_pack("{s:I, s:f, s:I, s:s, s:I, s:i, s:b, s:b, s:I, s:o, s:o}", "latency_ms",
                     (json_int_t)g.latency_ms, "error_rate", g.error_rate, "throttle_next",
                     (json_int_t)g.throttle_next, "retry_after", g.retry_after, "fail_next",
                     (json_int_t)g.fail_next, "fail_status", g.fail_status, "stall", g.stall,
                     "reset", g.reset, "reset_next", (json_int_t)g.reset_next,
                     "invalid_numbers", invalid, "undeliverable_numbers", undeliverable);
}

static void config_defaults_locked(void)
{
    g.latency_ms = 0;
    g.error_rate = 0;
    g.throttle_next = 0;
    snprintf(g.retry_after, sizeof(g.retry_after), "1");
    g.fail_next = 0;
    g.fail_status = 500;
    g.stall = 0;
    g.reset = 0;
    g.reset_next = 0;
    json_object_clear(g.invalid_numbers);
    json_object_clear(g.undeliverable_numbers);
}

/* Reads a list of numbers into a set; returns -1 when it is not an array of strings. */
static int number_set(const json_t *list, json_t *set)
{
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (!json_is_string(v)) return -1;
    json_object_clear(set);
    json_array_foreach(list, i, v) json_object_set_new(set, json_string_value(v), json_true());
    return 0;
}

/* Applies a partial configuration; returns NULL or the member that was wrong. */
static const char *config_apply_locked(const json_t *doc)
{
    const json_t *v;
    if ((v = json_object_get(doc, "latency_ms"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 600000)
            return "latency_ms";
        g.latency_ms = (long)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "error_rate"))) {
        if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1)
            return "error_rate";
        g.error_rate = json_number_value(v);
    }
    if ((v = json_object_get(doc, "throttle_next"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return "throttle_next";
        g.throttle_next = (long)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "retry_after"))) {
        if (json_is_integer(v) && json_integer_value(v) >= 0)
            snprintf(g.retry_after, sizeof(g.retry_after), "%lld",
                     (long long)json_integer_value(v));
        else if (json_is_string(v) && json_string_length(v) < sizeof(g.retry_after))
            snprintf(g.retry_after, sizeof(g.retry_after), "%s", json_string_value(v));
        else
            return "retry_after";
    }
    if ((v = json_object_get(doc, "fail_status"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 400 || json_integer_value(v) > 599)
            return "fail_status";
        g.fail_status = (int)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "fail_next"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return "fail_next";
        g.fail_next = (long)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "stall"))) {
        if (!json_is_boolean(v))
            return "stall";
        g.stall = json_is_true(v);
    }
    if ((v = json_object_get(doc, "reset"))) {
        if (!json_is_boolean(v))
            return "reset";
        g.reset = json_is_true(v);
    }
    if ((v = json_object_get(doc, "reset_next"))) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return "reset_next";
        g.reset_next = (long)json_integer_value(v);
    }
    if ((v = json_object_get(doc, "invalid_numbers")) && number_set(v, g.invalid_numbers) < 0)
        return "invalid_numbers";
    if ((v = json_object_get(doc, "undeliverable_numbers")) &&
        number_set(v, g.undeliverable_numbers) < 0)
        return "undeliverable_numbers";
    return NULL;
}

static json_t *stats_json_locked(void)
{
    json_t *by = json_object();
    for (int s = 100; s < 600; s++) {
        if (!g.by_status[s])
            continue;
        char key[8];
        snprintf(key, sizeof(key), "%d", s);
        json_object_set_new(by, key, json_integer((json_int_t)g.by_status[s]));
    }
    size_t stalled = 0;
    for (const struct req *r = g.stalled; r; r = r->next_stalled)
        stalled++;
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:{s:I, s:I, s:I}, s:I}", "received",
                     (json_int_t)g.received, "accepted", (json_int_t)g.accepted, "rejected",
                     (json_int_t)g.rejected, "stalled", (json_int_t)stalled, "stalled_total",
                     (json_int_t)g.stalled_total, "resets", (json_int_t)g.resets, "by_status", by, "callbacks", "sent",
                     (json_int_t)g.callbacks_sent, "failed", (json_int_t)g.callbacks_failed,
                     "pending", (json_int_t)g.cb_pending, "last_seq", (json_int_t)(g.next_seq - 1));
}

static json_t *messages_json_locked(struct MHD_Connection *conn)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    const char *l = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    uint64_t since = s ? strtoull(s, NULL, 10) : 0;
    uint64_t limit = l ? strtoull(l, NULL, 10) : 1000;
    if (limit == 0 || limit > MESSAGES_PAGE_MAX)
        limit = MESSAGES_PAGE_MAX;
    uint64_t last = g.next_seq - 1;
    uint64_t oldest = last >= g.opt.max_records ? last - g.opt.max_records + 1 : 1;
    uint64_t from = since + 1 > oldest ? since + 1 : oldest;
    json_t *list = json_array();
    uint64_t seq = from;
    for (; seq <= last && seq - from < limit; seq++)
        json_array_append_new(list, record_json(g.ring[seq % g.opt.max_records]));
    return json_pack("{s:o, s:I, s:I}", "messages", list, "last_seq", (json_int_t)(seq - 1),
                     "oldest_seq", (json_int_t)oldest);
}

static void reset_locked(void)
{
    config_defaults_locked();
    release_stalled_locked();
    g.received = g.accepted = g.rejected = g.stalled_total = g.resets = 0;
    g.callbacks_sent = g.callbacks_failed = 0;
    memset(g.by_status, 0, sizeof(g.by_status));
    for (size_t i = 0; i < g.opt.max_records; i++) {
        free(g.ring[i]);
        g.ring[i] = NULL;
    }
    g.next_seq = 1;
}

static void handle_control_locked(struct MHD_Connection *conn, struct req *r, const char *url,
                                  const char *method)
{
    int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
    g.control++;
    if (get && strcmp(url, "/sim/stats") == 0) {
        set_json(r, 200, stats_json_locked());
    } else if (get && strcmp(url, "/sim/messages") == 0) {
        set_json(r, 200, messages_json_locked(conn));
    } else if (get && strcmp(url, "/sim/config") == 0) {
        set_json(r, 200, config_json_locked());
    } else if (post && strcmp(url, "/sim/config") == 0) {
        json_t *doc = r->upload ? json_loadb(r->upload, r->len, 0, NULL) : NULL;
        const char *bad = json_is_object(doc) ? config_apply_locked(doc) : "body";
        if (bad)
            set_json(r, 400, json_pack("{s:s, s:s}", "error", "invalid member", "member", bad));
        else
            set_json(r, 200, config_json_locked());
        json_decref(doc);
    } else if (post && strcmp(url, "/sim/reset") == 0) {
        reset_locked();
        set_json(r, 200, json_pack("{s:b}", "reset", 1));
    } else {
        set_json(r, 404, json_pack("{s:s}", "error", "no such control resource"));
    }
}

/* ---- The HTTP server ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct req *r = *con_cls;
    if (!r) {
        r = rp_calloc(1, sizeof(*r));
        r->conn = conn;
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size > MAX_UPLOAD) {
            r->too_big = 1;
        } else {
            r->upload = rp_realloc(r->upload, r->len + *upload_size + 1);
            memcpy(r->upload + r->len, upload, *upload_size);
            r->len += *upload_size;
            r->upload[r->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&g.lock);
    if (r->suspended) { /* resumed: the answer was decided before */
        r->suspended = 0;
        g.suspended--;
    }
    if (r->ready) {
        pthread_mutex_unlock(&g.lock);
        return send_answer(conn, r);
    }
    long delay = 0;
    if (strncmp(url, "/sim/", 5) == 0) {
        handle_control_locked(conn, r, url, method);
    } else {
        delay = handle_message_locked(conn, r, url, method);
        if (r->ready && r->status < 600) {
            g.by_status[r->status]++;
            if (r->status >= 300)
                g.rejected++;
        }
    }
    if (r->drop) {
        /* MHD_NO closes the connection: the client sees it end with no answer. */
        pthread_mutex_unlock(&g.lock);
        return MHD_NO;
    }
    if (delay != 0 && !g.stopping) {
        suspend_locked(r, delay < 0 ? -1 : rp_mono_ms() + delay);
        pthread_mutex_unlock(&g.lock);
        return MHD_YES;
    }
    if (!r->ready)
        set_error(r, 503, 20503, "Service Unavailable");
    pthread_mutex_unlock(&g.lock);
    return send_answer(conn, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct req *r = *con_cls;
    if (!r)
        return;
    free(r->upload);
    free(r->answer);
    free(r);
    *con_cls = NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: sms_sim --port N --account-sid AC... --auth-token T [--tls-cert F "
                    "--tls-key F]\n"
                    "               [--record FILE] [--callbacks] [--callback-ca F] [--threads N]\n"
                    "               [--max-records N]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"account-sid", required_argument, NULL, 'a'},
        {"auth-token", required_argument, NULL, 't'},
        {"record", required_argument, NULL, 'r'},
        {"callbacks", no_argument, NULL, 'b'},
        {"callback-ca", required_argument, NULL, 'C'},
        {"threads", required_argument, NULL, 'T'},
        {"max-records", required_argument, NULL, 'm'},
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof(*o));
    o->port = -1;
    o->threads = 4;
    o->max_records = 1000000;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            o->port = atoi(optarg);
            break;
        case 'c':
            o->tls_cert = optarg;
            break;
        case 'k':
            o->tls_key = optarg;
            break;
        case 'a':
            o->account_sid = optarg;
            break;
        case 't':
            o->auth_token = optarg;
            break;
        case 'r':
            o->record_path = optarg;
            break;
        case 'b':
            o->callbacks = 1;
            break;
        case 'C':
            o->callback_ca = optarg;
            break;
        case 'T':
            o->threads = (unsigned)atoi(optarg);
            break;
        case 'm':
            o->max_records = (size_t)strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (o->port < 0 || o->port > 65535 || !o->account_sid || !o->auth_token || !*o->account_sid ||
        !*o->auth_token || !o->threads || o->threads > 256 || !o->max_records ||
        (!o->tls_cert) != (!o->tls_key))
        usage();
}

static struct MHD_Daemon *start_daemon(char **cert, char **key)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)g.opt.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    if (g.opt.tls_cert) {
        *cert = rp_read_file(g.opt.tls_cert, 1 << 20, NULL);
        *key = rp_read_file(g.opt.tls_key, 1 << 20, NULL);
        if (!*cert || !*key) {
            fprintf(stderr, "sms_sim: cannot read %s or %s: %s\n", g.opt.tls_cert, g.opt.tls_key,
                    strerror(errno));
            exit(1);
        }
        flags |= MHD_USE_TLS;
    }
    /* The TLS options only when TLS is on: MHD complains about them otherwise. */
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, *cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, *key},
        {MHD_OPTION_END, 0, NULL},
    };
    if (!g.opt.tls_cert)
        tls[0].option = MHD_OPTION_END;
    return MHD_start_daemon(
        flags, (uint16_t)g.opt.port, NULL, NULL, on_request, NULL, MHD_OPTION_SOCK_ADDR, &addr,
        MHD_OPTION_THREAD_POOL_SIZE, g.opt.threads, MHD_OPTION_CONNECTION_LIMIT, 16000u,
        MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE, 4096u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
}

int main(int argc, char **argv)
{
    parse_options(argc, argv, &g.opt);
    pthread_mutex_init(&g.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&g.heap_cond, &ca);
    g.invalid_numbers = json_object();
    g.undeliverable_numbers = json_object();
    g.ring = rp_calloc(g.opt.max_records, sizeof(struct record *));
    g.next_seq = 1;
    config_defaults_locked();
    if (g.opt.record_path) {
        g.record_file = fopen(g.opt.record_path, "a");
        if (!g.record_file) {
            fprintf(stderr, "sms_sim: cannot open %s: %s\n", g.opt.record_path, strerror(errno));
            return 1;
        }
        setvbuf(g.record_file, NULL, _IOLBF, 0);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    g.cb_multi = curl_multi_init();

    /* Signals go to sigwait below only: block them before any thread starts. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    pthread_t timer, callbacks;
    pthread_create(&timer, NULL, timer_main, NULL);
    pthread_create(&callbacks, NULL, callback_main, NULL);
    char *cert = NULL, *key = NULL;
    struct MHD_Daemon *d = start_daemon(&cert, &key);
    if (!d) {
        fprintf(stderr, "sms_sim: cannot listen on 127.0.0.1:%d\n", g.opt.port);
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("sms_sim listening on %s://127.0.0.1:%u\n", g.opt.tls_cert ? "https" : "http",
           info ? (unsigned)info->port : (unsigned)g.opt.port);
    fflush(stdout);

    int sig = 0;
    sigwait(&sigs, &sig);

    /* MHD_stop_daemon refuses suspended connections: answer them all first. */
    pthread_mutex_lock(&g.lock);
    g.stopping = 1;
    release_stalled_locked();
    pthread_cond_signal(&g.heap_cond);
    pthread_mutex_unlock(&g.lock);
    pthread_join(timer, NULL);
    int64_t give_up = rp_mono_ms() + 3000;
    for (;;) {
        pthread_mutex_lock(&g.lock);
        size_t left = g.suspended;
        pthread_mutex_unlock(&g.lock);
        if (!left || rp_mono_ms() > give_up)
            break;
        usleep(10000);
    }
    MHD_stop_daemon(d);
    curl_multi_wakeup(g.cb_multi);
    pthread_join(callbacks, NULL);
    curl_multi_cleanup(g.cb_multi);
    if (g.record_file)
        fclose(g.record_file);
    for (size_t i = 0; i < g.opt.max_records; i++)
        free(g.ring[i]);
    free(g.ring);
    free(g.heap);
    free(cert);
    free(key);
    json_decref(g.invalid_numbers);
    json_decref(g.undeliverable_numbers);
    return 0;
}
