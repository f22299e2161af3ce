/* fcm_sim: an FCM HTTP v1 provider with its OAuth token endpoint, over HTTP/1.1 (libmicrohttpd,
 * tests/sim/lib/psim_http.c) and HTTP/2 over TLS (nghttp2's server API on libevent with
 * OpenSSL, below). The token endpoint verifies the RS256 assertion against the test service
 * account's public key and issues short-lived tokens; the send endpoint checks the bearer
 * token and the message as FCM does (one target, string-only data, ttl format, size) and can be
 * scripted to answer UNREGISTERED, 429 / 503 with Retry-After, 500, or to revoke its tokens.
 * Control API under /sim/ (HTTP/1.1 port): see tests/sim/PUSH_SIMS.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <getopt.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "channels/base64url.h"
#include "channels/sms/sms_payload.h"
#include "gateway/util.h"
#include "fcm_check.h"
#include "psim_http.h"

#define FCM_SIM_SCOPE "https://www.googleapis.com/auth/firebase.messaging"

struct fcm_sim_options {
    int port, h2_port;
    const char *tls_cert, *tls_key, *public_key, *project, *client_email;
    unsigned threads;
    size_t max_records;
    int no_record; /* accepted messages are counted and numbered, not kept (benchmarks) */
};

static struct {
    struct fcm_sim_options opt;
    EVP_PKEY *pub;
    pthread_mutex_t lock;
    /* settings */
    long long token_ttl;
    json_t *unregistered; /* token -> true */
    json_t *silent;       /* token -> true: never answered over HTTP/2 */
    long throttle_next, unavailable_next, internal_next, token_fail_next;
    int token_reject;
    char retry_after[64];
    /* state */
    json_t *tokens; /* access token -> expiry (ms, wall clock) */
    unsigned long long token_seq;
    unsigned long received, accepted, rejected, token_requests, tokens_issued, h1, h2;
    unsigned long auth_failures, h2_resets, h2_connections;
    struct psim_log log;
    /* A send's answer up to its number, {"name":"projects/P/messages/0:, as psim_json would
     * write it; NULL when the name could come out otherwise (see send_answer). */
    char *name_head;
    size_t name_head_len;
} g;

/* ---- Helpers ------------------------------------------------------------------------------- */

static void fcm_sim_error(struct psim_answer *ans, int http, const char *status,
                          const char *message, const char *code)
{
    json_t *err = json_pack("{s:i, s:s, s:s}", "code", http, "message", message, "status", status);
    if (code)
        json_object_set_new(err, "details",
                            json_pack("[{s:s, s:s}]", "@type",
                                      "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                      "errorCode", code));
    psim_json(ans, http, json_pack("{s:o}", "error", err));
}

static json_t *b64url_json(const char *in, size_t len)
{
    unsigned char *buf = rp_malloc(len + 4);
    long n = rp_base64url_decode(in, len, buf, len + 4);
    json_t *doc = n < 0 ? NULL : json_loadb((const char *)buf, (size_t)n, 0, NULL);
    free(buf);
    return doc;
}

/* ---- Token endpoint ------------------------------------------------------------------------ */

/* Checks an RS256 assertion as Google's token endpoint does; returns NULL or why not. */
static const char *assertion_check(const char *jwt)
{
    const char *dot1 = strchr(jwt, '.');
    const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.'))
        return "assertion is not a JWS compact serialization";
    json_t *header = b64url_json(jwt, (size_t)(dot1 - jwt));
    json_t *claims = b64url_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const char *why = NULL;
    if (!json_is_object(header) || !json_is_object(claims)) {
        why = "assertion header or claims are not JSON";
        goto out;
    }
    const char *alg = json_string_value(json_object_get(header, "alg"));
    if (!alg || strcmp(alg, "RS256") != 0) {
        why = "alg must be RS256";
        goto out;
    }
    size_t slen = strlen(dot2 + 1);
    unsigned char *sig = rp_malloc(slen + 4);
    long sn = rp_base64url_decode(dot2 + 1, slen, sig, slen + 4);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = sn > 0 && md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, g.pub) == 1 &&
             EVP_DigestVerify(md, sig, (size_t)sn, (const unsigned char *)jwt,
                              (size_t)(dot2 - jwt)) == 1;
    EVP_MD_CTX_free(md);
    free(sig);
    ERR_clear_error();
    if (!ok) {
        why = "Invalid JWT Signature.";
        goto out;
    }
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    const char *scope = json_string_value(json_object_get(claims, "scope"));
    const char *aud = json_string_value(json_object_get(claims, "aud"));
    long long iat = json_integer_value(json_object_get(claims, "iat"));
    long long exp = json_integer_value(json_object_get(claims, "exp"));
    long long now = (long long)time(NULL);
    size_t alen = aud ? strlen(aud) : 0;
    if (!iss || (g.opt.client_email && strcmp(iss, g.opt.client_email) != 0))
        why = "iss is not the service account's client_email";
    else if (!scope || !strstr(scope, FCM_SIM_SCOPE))
        why = "scope does not include firebase.messaging";
    else if (alen < 6 || strcmp(aud + alen - 6, "/token") != 0)
        why = "aud is not the token endpoint";
    else if (iat > now + 60 || exp <= now || exp - iat > 3600)
        why = "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable "
              "timeframe.";
out:
    json_decref(header);
    json_decref(claims);
    return why;
}

static void token_endpoint(const struct psim_req *req, struct psim_answer *ans)
{
    g.token_requests++;
    if (g.token_fail_next > 0) {
        g.token_fail_next--;
        psim_json(ans, 503, json_pack("{s:s}", "error", "temporarily_unavailable"));
        return;
    }
    struct rp_sms_form form;
    memset(&form, 0, sizeof(form));
    const char *why = NULL;
    if (rp_sms_form_parse(req->body, req->body_len, &form) < 0) {
        why = "malformed form body";
    } else {
        const char *grant = rp_sms_form_get(&form, "grant_type");
        const char *assertion = rp_sms_form_get(&form, "assertion");
        if (!grant || strcmp(grant, "urn:ietf:params:oauth:grant-type:jwt-bearer") != 0)
            why = "unsupported grant_type";
        else if (!assertion)
            why = "assertion is missing";
        else
            why = assertion_check(assertion);
    }
    rp_sms_form_cleanup(&form);
    if (!why && g.token_reject)
        why = "Invalid grant: account not found";
    if (why) {
        psim_json(ans, 400,
                  json_pack("{s:s, s:s}", "error", "invalid_grant", "error_description", why));
        return;
    }
    char tok[64];
    psim_token_issue(g.tokens, "ya29.sim-", ++g.token_seq, g.token_ttl, tok, sizeof(tok));
    g.tokens_issued++;
    psim_json(ans, 200,
              json_pack("{s:s, s:I, s:s}", "access_token", tok, "expires_in",
                        (json_int_t)g.token_ttl, "token_type", "Bearer"));
}

/* ---- Send endpoint ------------------------------------------------------------------------- */

/* Bodies up to this size are kept as they came and parsed again only when /sim/messages is
 * read; a larger one (a message is at most 4 KiB, but other members may pad a body out) as its
 * record, so that the ring's memory stays bounded by what the messages themselves hold. */
#define RECORD_TEXT_MAX (64 * 1024)

static json_t *message_record(unsigned long long seq, const json_t *msg, int http2)
{
    return json_pack("{s:I, s:O, s:s}", "seq", (json_int_t)seq, "message", msg, "protocol",
                     http2 ? "h2" : "http/1.1");
}

/* The record of a body kept as text: parsing the same bytes again gives the same message. */
static json_t *record_from_body(unsigned long long seq, const char *body, size_t len, int http2)
{
    json_t *doc = json_loadb(body, len, 0, NULL);
    json_t *rec = message_record(seq, json_object_get(doc, "message"), http2);
    json_decref(doc);
    return rec;
}

static void record_message(const struct psim_req *req)
{
    if (req->body_len <= RECORD_TEXT_MAX)
        psim_log_put_text(&g.log, req->body, req->body_len, req->http2);
    else
        psim_log_put(&g.log, record_from_body(g.log.seq, req->body, req->body_len, req->http2));
}

/* The name a send is answered with, longest: "projects/" P "/messages/0:" N "%sim". */
#define NAME_MAX_LEN 255

/* Writes the success answer's JSON ahead of time up to the message number, which is all that
 * changes from one send to the next, so that a send costs a copy rather than a JSON tree built
 * and serialized. Only when that cannot differ from what json_pack and psim_json would write:
 * the name never truncated, the project valid UTF-8. */
static void name_head_init(void)
{
    char prefix[NAME_MAX_LEN + 1];
    int n = snprintf(prefix, sizeof(prefix), "projects/%s/messages/0:", g.opt.project);
    if (n < 0 || (size_t)n + 20 + sizeof("%sim") > sizeof(prefix))
        return; /* a number of up to 20 digits and %sim must fit */
    json_t *str = json_string(prefix);
    char *quoted = str ? json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(str);
    if (!quoted)
        return;
    size_t qlen = strlen(quoted) - 1; /* without the closing quote */
    g.name_head = rp_malloc(sizeof("{\"name\":") - 1 + qlen + 1);
    memcpy(g.name_head, "{\"name\":", sizeof("{\"name\":") - 1);
    memcpy(g.name_head + sizeof("{\"name\":") - 1, quoted, qlen);
    g.name_head_len = sizeof("{\"name\":") - 1 + qlen;
    g.name_head[g.name_head_len] = '\0';
    free(quoted);
}

/* 200 {"name":"projects/P/messages/0:N%sim"} for the message numbered last. */
static void send_answer(struct psim_answer *ans)
{
    if (!g.name_head) {
        char name[NAME_MAX_LEN + 1];
        snprintf(name, sizeof(name), "projects/%s/messages/0:%llu%%sim", g.opt.project, g.log.seq);
        psim_json(ans, 200, json_pack("{s:s}", "name", name));
        return;
    }
    static const char tail[] = "%sim\"}";
    char digits[20];
    size_t nd = 0;
    unsigned long long seq = g.log.seq;
    do
        digits[sizeof(digits) - ++nd] = (char)('0' + seq % 10);
    while ((seq /= 10) > 0);
    free(ans->body);
    ans->status = 200;
    ans->body = rp_malloc(g.name_head_len + nd + sizeof(tail));
    memcpy(ans->body, g.name_head, g.name_head_len);
    memcpy(ans->body + g.name_head_len, digits + sizeof(digits) - nd, nd);
    memcpy(ans->body + g.name_head_len + nd, tail, sizeof(tail));
}

static void send_endpoint(const struct psim_req *req, const char *project, struct psim_answer *ans)
{
    g.received++;
    if (!psim_bearer_valid(g.tokens, psim_header(req, "Authorization"))) {
        g.auth_failures++;
        fcm_sim_error(ans, 401, "UNAUTHENTICATED",
                      "Request had invalid authentication credentials. Expected OAuth 2 access "
                      "token.",
                      NULL);
        return;
    }
    if (strcmp(project, g.opt.project) != 0) {
        fcm_sim_error(ans, 403, "PERMISSION_DENIED", "SenderId mismatch", "SENDER_ID_MISMATCH");
        return;
    }
    struct fcm_check check;
    enum fcm_check_verdict verdict = fcm_check_body(req->body, req->body_len, &check);
    const char *token = check.token;
    if (verdict == FCM_BODY_INVALID) {
        fcm_sim_error(ans, 400, "INVALID_ARGUMENT", "Invalid JSON payload received.",
                      "INVALID_ARGUMENT");
    } else if (verdict == FCM_MESSAGE_INVALID) {
        fcm_sim_error(ans, 400, "INVALID_ARGUMENT", check.problem, "INVALID_ARGUMENT");
    } else if (token && req->http2 && json_object_get(g.silent, token)) {
        ans->status = 0; /* no answer: the stream stays open until the client gives up */
    } else if (token && json_object_get(g.unregistered, token)) {
        fcm_sim_error(ans, 404, "NOT_FOUND", "Requested entity was not found.", "UNREGISTERED");
    } else if (g.throttle_next > 0) {
        g.throttle_next--;
        fcm_sim_error(ans, 429, "RESOURCE_EXHAUSTED", "Quota exceeded.", "QUOTA_EXCEEDED");
        snprintf(ans->retry_after, sizeof(ans->retry_after), "%s", g.retry_after);
    } else if (g.unavailable_next > 0) {
        g.unavailable_next--;
        fcm_sim_error(ans, 503, "UNAVAILABLE", "The service is currently unavailable.",
                      "UNAVAILABLE");
        snprintf(ans->retry_after, sizeof(ans->retry_after), "%s", g.retry_after);
    } else if (g.internal_next > 0) {
        g.internal_next--;
        fcm_sim_error(ans, 500, "INTERNAL", "Internal error encountered.", "INTERNAL");
    } else {
        psim_log_next(&g.log);
        g.accepted++;
        if (!g.opt.no_record)
            record_message(req);
        send_answer(ans);
    }
    fcm_check_free(&check);
}

/* ---- Control API --------------------------------------------------------------------------- */

static void defaults_locked(void)
{
    g.token_ttl = 3600;
    json_object_clear(g.unregistered);
    json_object_clear(g.silent);
    g.throttle_next = g.unavailable_next = g.internal_next = g.token_fail_next = 0;
    g.token_reject = 0;
    snprintf(g.retry_after, sizeof(g.retry_after), "1");
}

static json_t *config_json_locked(void)
{
    json_t *unreg = json_array();
    const char *k;
    json_t *v;
    json_object_foreach(g.unregistered, k, v) json_array_append_new(unreg, json_string(k));
    json_t *silent = json_array();
    json_object_foreach(g.silent, k, v) json_array_append_new(silent, json_string(k));
    return json_pack("{s:I, s:o, s:o, s:i, s:i, s:i, s:i, s:b, s:s}", "token_ttl",
                     (json_int_t)g.token_ttl, "unregistered_tokens", unreg, "silent_tokens",
                     silent, "throttle_next", (int)g.throttle_next, "unavailable_next",
                     (int)g.unavailable_next, "internal_next", (int)g.internal_next,
                     "token_fail_next", (int)g.token_fail_next, "token_reject", g.token_reject,
                     "retry_after", g.retry_after);
}

static const char *config_apply_locked(const json_t *doc)
{
    if (!json_is_object(doc))
        return "body must be a JSON object";
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)doc, k, v)
    {
        if (strcmp(k, "token_ttl") == 0 && json_is_integer(v) && json_integer_value(v) > 0)
            g.token_ttl = json_integer_value(v);
        else if (strcmp(k, "throttle_next") == 0 && json_is_integer(v))
            g.throttle_next = (long)json_integer_value(v);
        else if (strcmp(k, "unavailable_next") == 0 && json_is_integer(v))
            g.unavailable_next = (long)json_integer_value(v);
        else if (strcmp(k, "internal_next") == 0 && json_is_integer(v))
            g.internal_next = (long)json_integer_value(v);
        else if (strcmp(k, "token_fail_next") == 0 && json_is_integer(v))
            g.token_fail_next = (long)json_integer_value(v);
        else if (strcmp(k, "token_reject") == 0 && json_is_boolean(v))
            g.token_reject = json_is_true(v);
        else if (strcmp(k, "retry_after") == 0 && (json_is_string(v) || json_is_integer(v))) {
            if (json_is_string(v))
                snprintf(g.retry_after, sizeof(g.retry_after), "%s", json_string_value(v));
            else
                snprintf(g.retry_after, sizeof(g.retry_after), "%lld",
                         (long long)json_integer_value(v));
        } else if ((strcmp(k, "unregistered_tokens") == 0 || strcmp(k, "silent_tokens") == 0) &&
                   json_is_array(v)) {
            json_t *set = k[0] == 'u' ? g.unregistered : g.silent;
            size_t i;
            json_t *t;
            json_object_clear(set);
            json_array_foreach(v, i, t) if (json_is_string(t))
                json_object_set_new(set, json_string_value(t), json_true());
        } else {
            return k;
        }
    }
    return NULL;
}

static void control(const struct psim_req *req, struct psim_answer *ans)
{
    if (strcmp(req->path, "/sim/stats") == 0) {
        psim_json(
            ans, 200,
            json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:I, s:I, s:I}", "received",
                      (json_int_t)g.received, "accepted", (json_int_t)g.accepted, "rejected",
                      (json_int_t)g.rejected, "token_requests", (json_int_t)g.token_requests,
                      "tokens_issued", (json_int_t)g.tokens_issued, "auth_failures",
                      (json_int_t)g.auth_failures, "http1_requests", (json_int_t)g.h1,
                      "http2_requests", (json_int_t)g.h2, "by_status", g.log.by_status, "last_seq",
                      (json_int_t)g.log.seq, "http2_resets_received", (json_int_t)g.h2_resets,
                      "http2_connections", (json_int_t)g.h2_connections));
    } else if (strcmp(req->path, "/sim/messages") == 0) {
        psim_log_messages(&g.log, req, ans);
    } else if (strcmp(req->path, "/sim/config") == 0) {
        if (strcmp(req->method, "POST") == 0) {
            json_t *doc = json_loadb(req->body, req->body_len, 0, NULL);
            const char *bad = config_apply_locked(doc);
            json_decref(doc);
            if (bad) {
                psim_json(ans, 400, json_pack("{s:s, s:s}", "error", "bad setting", "member", bad));
                return;
            }
        }
        psim_json(ans, 200, config_json_locked());
    } else if (strcmp(req->path, "/sim/revoke") == 0) {
        /* Every access token issued so far stops working, as when Google revokes them. */
        json_object_clear(g.tokens);
        psim_json(ans, 200, json_pack("{s:b}", "revoked", 1));
    } else if (strcmp(req->path, "/sim/reset") == 0) {
        defaults_locked();
        json_object_clear(g.tokens);
        json_object_clear(g.log.by_status);
        g.received = g.accepted = g.rejected = g.token_requests = g.tokens_issued = 0;
        g.h1 = g.h2 = g.auth_failures = 0;
        psim_json(ans, 200, json_pack("{s:b}", "reset", 1));
    } else {
        psim_json(ans, 404, json_pack("{s:s}", "error", "no such control path"));
    }
}

/* The one handler both servers call. */
static void fcm_sim_handle(const struct psim_req *req, struct psim_answer *ans)
{
    static const char prefix[] = "/v1/projects/", suffix[] = "/messages:send";
    pthread_mutex_lock(&g.lock);
    size_t plen = strlen(req->path), slen = sizeof(suffix) - 1;
    if (strncmp(req->path, "/sim/", 5) == 0) {
        control(req, ans);
        pthread_mutex_unlock(&g.lock);
        return;
    }
    if (req->http2)
        g.h2++;
    else
        g.h1++;
    if (strcmp(req->path, "/token") == 0 && strcmp(req->method, "POST") == 0) {
        token_endpoint(req, ans);
    } else if (strncmp(req->path, prefix, sizeof(prefix) - 1) == 0 && plen > slen &&
               strcmp(req->path + plen - slen, suffix) == 0 && strcmp(req->method, "POST") == 0) {
        char project[256];
        size_t n = plen - slen - (sizeof(prefix) - 1);
        snprintf(project, sizeof(project), "%.*s", (int)n, req->path + sizeof(prefix) - 1);
        send_endpoint(req, project, ans);
        if (ans->status != 200)
            g.rejected++;
    } else {
        fcm_sim_error(ans, 404, "NOT_FOUND", "Not found", NULL);
    }
    psim_log_count(&g.log, ans->status);
    pthread_mutex_unlock(&g.lock);
}

/* ---- HTTP/2 over TLS ----------------------------------------------------------------------- */

struct fcm_sim_stream {
    struct fcm_sim_stream *prev, *next;
    int32_t id;
    char *method, *path;
    char *names[PSIM_MAX_HEADERS], *values[PSIM_MAX_HEADERS];
    size_t nheaders;
    char *body;
    size_t len;
    struct psim_answer ans;
    size_t sent;
    /* Header text, copied here while it fits (a send's takes about 300 bytes): one allocation
     * per stream rather than one per name and value. */
    size_t text_used;
    char text[1024];
};

struct fcm_sim_session {
    struct bufferevent *bev;
    nghttp2_session *h2;
    struct fcm_sim_stream streams; /* list head */
};

static char *stream_text(struct fcm_sim_stream *s, const uint8_t *text, size_t n)
{
    if (sizeof(s->text) - s->text_used <= n)
        return rp_strndup((const char *)text, n);
    char *out = s->text + s->text_used;
    s->text_used += n + 1;
    memcpy(out, text, n);
    out[n] = '\0';
    return out;
}

static void stream_text_free(struct fcm_sim_stream *s, char *p)
{
    uintptr_t at = (uintptr_t)p, start = (uintptr_t)s->text;
    if (at < start || at >= start + sizeof(s->text))
        free(p);
}

static void stream_free(struct fcm_sim_stream *s)
{
    stream_text_free(s, s->method);
    stream_text_free(s, s->path);
    for (size_t i = 0; i < s->nheaders; i++) {
        stream_text_free(s, s->names[i]);
        stream_text_free(s, s->values[i]);
    }
    free(s->body);
    free(s->ans.body);
    free(s);
}

static void session_free(struct fcm_sim_session *ss)
{
    bufferevent_free(ss->bev);
    nghttp2_session_del(ss->h2);
    while (ss->streams.next) {
        struct fcm_sim_stream *s = ss->streams.next;
        ss->streams.next = s->next;
        stream_free(s);
    }
    free(ss);
}

static ssize_t h2_send(nghttp2_session *h2, const uint8_t *data, size_t len, int flags, void *user)
{
    struct fcm_sim_session *ss = user;
    if (evbuffer_get_length(bufferevent_get_output(ss->bev)) >= (size_t)1 << 20)
        return NGHTTP2_ERR_WOULDBLOCK;
    bufferevent_write(ss->bev, data, len);
    return (ssize_t)len;
}

static ssize_t body_read(nghttp2_session *h2, int32_t id, uint8_t *buf, size_t len, uint32_t *flags,
                         nghttp2_data_source *src, void *user)
{
    struct fcm_sim_stream *s = src->ptr;
    size_t total = s->ans.body ? strlen(s->ans.body) : 0, n = total - s->sent;
    if (n > len)
        n = len;
    if (n)
        memcpy(buf, s->ans.body + s->sent, n);
    s->sent += n;
    if (s->sent == total)
        *flags |= NGHTTP2_DATA_FLAG_EOF;
    return (ssize_t)n;
}

static void stream_answer(struct fcm_sim_session *ss, struct fcm_sim_stream *s)
{
    struct psim_req req;
    memset(&req, 0, sizeof(req));
    req.method = s->method ? s->method : "";
    char *q = s->path ? strchr(s->path, '?') : NULL;
    if (q)
        *q = '\0';
    req.path = s->path ? s->path : "";
    req.query = q ? q + 1 : "";
    req.body = s->body ? s->body : "";
    req.body_len = s->len;
    req.http2 = 1;
    for (size_t i = 0; i < s->nheaders; i++) {
        req.headers[i].name = s->names[i];
        req.headers[i].value = s->values[i];
    }
    req.nheaders = s->nheaders;
    fcm_sim_handle(&req, &s->ans);
    if (s->ans.status == 0)
        return;
    char status[8];
    snprintf(status, sizeof(status), "%d", s->ans.status);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
    nghttp2_nv hdrs[3] = {NV(":status", status),
                          NV("content-type", "application/json; charset=UTF-8"),
                          NV("retry-after", s->ans.retry_after)};
#undef NV
    nghttp2_data_provider prd = {.source.ptr = s, .read_callback = body_read};
    nghttp2_submit_response(ss->h2, s->id, hdrs, s->ans.retry_after[0] ? 3 : 2, &prd);
}

static int on_begin_headers(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    struct fcm_sim_session *ss = user;
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST)
        return 0;
    struct fcm_sim_stream *s = rp_calloc(1, sizeof(*s));
    s->id = frame->hd.stream_id;
    s->next = ss->streams.next;
    s->prev = &ss->streams;
    if (s->next)
        s->next->prev = s;
    ss->streams.next = s;
    nghttp2_session_set_stream_user_data(h2, s->id, s);
    return 0;
}

static int on_header(nghttp2_session *h2, const nghttp2_frame *frame, const uint8_t *name,
                     size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
                     void *user)
{
    struct fcm_sim_stream *s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
    if (!s)
        return 0;
    if (namelen == 7 && memcmp(name, ":method", 7) == 0) {
        stream_text_free(s, s->method);
        s->method = stream_text(s, value, valuelen);
    } else if (namelen == 5 && memcmp(name, ":path", 5) == 0) {
        stream_text_free(s, s->path);
        s->path = stream_text(s, value, valuelen);
    } else if (s->nheaders < PSIM_MAX_HEADERS && name[0] != ':') {
        s->names[s->nheaders] = stream_text(s, name, namelen);
        s->values[s->nheaders] = stream_text(s, value, valuelen);
        s->nheaders++;
    }
    return 0;
}

static int on_data_chunk(nghttp2_session *h2, uint8_t flags, int32_t id, const uint8_t *data,
                         size_t len, void *user)
{
    struct fcm_sim_stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s || s->len + len > ((size_t)1 << 20))
        return 0;
    s->body = rp_realloc(s->body, s->len + len + 1);
    memcpy(s->body + s->len, data, len);
    s->len += len;
    s->body[s->len] = '\0';
    return 0;
}

static int on_frame_recv(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    if (frame->hd.type == NGHTTP2_RST_STREAM) {
        pthread_mutex_lock(&g.lock);
        g.h2_resets++;
        pthread_mutex_unlock(&g.lock);
    }
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        struct fcm_sim_stream *s = nghttp2_session_get_stream_user_data(h2, frame->hd.stream_id);
        if (s)
            stream_answer(user, s);
    }
    return 0;
}

static int on_stream_close(nghttp2_session *h2, int32_t id, uint32_t code, void *user)
{
    struct fcm_sim_stream *s = nghttp2_session_get_stream_user_data(h2, id);
    if (!s)
        return 0;
    s->prev->next = s->next;
    if (s->next)
        s->next->prev = s->prev;
    stream_free(s);
    return 0;
}

/* Protocol trouble is worth a line in the log: it means a client (or this server) is wrong. */
static int on_frame_send(nghttp2_session *h2, const nghttp2_frame *frame, void *user)
{
    if (frame->hd.type == NGHTTP2_GOAWAY)
        fprintf(stderr, "fcm_sim: sent GOAWAY %s\n",
                nghttp2_http2_strerror(frame->goaway.error_code));
    else if (frame->hd.type == NGHTTP2_RST_STREAM)
        fprintf(stderr, "fcm_sim: sent RST_STREAM %s\n",
                nghttp2_http2_strerror(frame->rst_stream.error_code));
    return 0;
}

static int on_invalid_frame(nghttp2_session *h2, const nghttp2_frame *frame, int error, void *user)
{
    fprintf(stderr, "fcm_sim: invalid frame type %d: %s\n", frame->hd.type,
            nghttp2_strerror(error));
    return 0;
}

static int session_pump(struct fcm_sim_session *ss)
{
    if (nghttp2_session_send(ss->h2) != 0)
        return -1;
    return 0;
}

static void on_read(struct bufferevent *bev, void *arg)
{
    struct fcm_sim_session *ss = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    size_t len = evbuffer_get_length(in);
    unsigned char *data = evbuffer_pullup(in, -1);
    ssize_t n = nghttp2_session_mem_recv(ss->h2, data, len);
    if (n < 0) {
        fprintf(stderr, "fcm_sim: HTTP/2 error from a client: %s\n", nghttp2_strerror((int)n));
        session_free(ss);
        return;
    }
    evbuffer_drain(in, (size_t)n);
    if (session_pump(ss) < 0)
        session_free(ss);
}

static void on_write(struct bufferevent *bev, void *arg)
{
    struct fcm_sim_session *ss = arg;
    if (evbuffer_get_length(bufferevent_get_output(bev)) > 0)
        return;
    if (!nghttp2_session_want_read(ss->h2) && !nghttp2_session_want_write(ss->h2)) {
        session_free(ss);
        return;
    }
    if (session_pump(ss) < 0)
        session_free(ss);
}

static void on_event(struct bufferevent *bev, short events, void *arg)
{
    struct fcm_sim_session *ss = arg;
    if (events & BEV_EVENT_CONNECTED) {
        const unsigned char *alpn = NULL;
        unsigned alpn_len = 0;
        SSL_get0_alpn_selected(bufferevent_openssl_get_ssl(bev), &alpn, &alpn_len);
        if (alpn_len != 2 || memcmp(alpn, "h2", 2) != 0) {
            session_free(ss);
            return;
        }
        nghttp2_settings_entry iv[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1000}};
        nghttp2_submit_settings(ss->h2, NGHTTP2_FLAG_NONE, iv, 1);
        if (session_pump(ss) < 0)
            session_free(ss);
        return;
    }
    unsigned long e = (events & BEV_EVENT_ERROR) ? bufferevent_get_openssl_error(bev) : 0;
    /* A client closing without TLS close_notify (curl does) is an ordinary end. */
    if ((events & BEV_EVENT_TIMEOUT) ||
        ((events & BEV_EVENT_ERROR) && ERR_GET_REASON(e) != SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        fprintf(stderr, "fcm_sim: connection error (events 0x%x): %s\n", (unsigned)events,
                e ? ERR_reason_error_string(e)
                  : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
    }
    if (events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
        session_free(ss);
}

static int alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    if (nghttp2_select_next_protocol((unsigned char **)out, outlen, in, inlen) != 1)
        return SSL_TLSEXT_ERR_NOACK;
    return SSL_TLSEXT_ERR_OK;
}

static nghttp2_session_callbacks *h2_callbacks;
/* libcurl 7.88 (Debian 12) sends RST_STREAM for every stream it has finished reading, and
 * nghttp2's rapid-reset defence (CVE-2023-44487: a burst of 1000, then 33/s) would close the
 * connection with GOAWAY INTERNAL_ERROR after about 1000 requests. Whether Google's front ends
 * do the same is unknown; the simulator tolerates it so that tests and benchmarks see FCM's
 * answers, and counts the resets (http2_resets_received in /sim/stats). */
static nghttp2_option *h2_options;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                      int addrlen, void *arg)
{
    SSL_CTX *ctx = arg;
    SSL *ssl = SSL_new(ctx);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct fcm_sim_session *ss = rp_calloc(1, sizeof(*ss));
    pthread_mutex_lock(&g.lock);
    g.h2_connections++;
    pthread_mutex_unlock(&g.lock);
    ss->bev = bufferevent_openssl_socket_new(evconnlistener_get_base(l), fd, ssl,
                                             BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    bufferevent_openssl_set_allow_dirty_shutdown(ss->bev, 1);
    nghttp2_session_server_new2(&ss->h2, h2_callbacks, ss, h2_options);
    bufferevent_setcb(ss->bev, on_read, on_write, on_event, ss);
    bufferevent_enable(ss->bev, EV_READ | EV_WRITE);
}

static SSL_CTX *tls_context(void)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, g.opt.tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, g.opt.tls_key, SSL_FILETYPE_PEM) != 1) {
        fprintf(stderr, "fcm_sim: cannot load %s / %s\n", g.opt.tls_cert, g.opt.tls_key);
        exit(1);
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    return ctx;
}

static void *h2_main(void *arg)
{
    event_base_dispatch(arg);
    return NULL;
}

/* ---- Main ---------------------------------------------------------------------------------- */

static void usage(void)
{
    fprintf(stderr, "usage: fcm_sim --public-key PEM --project ID [--client-email E] [--port N] "
                    "[--h2-port N] [--tls-cert F --tls-key F] [--threads N] [--max-records N] "
                    "[--no-record]\n");
    exit(2);
}

static void parse_options(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"port", required_argument, NULL, 'p'},
        {"h2-port", required_argument, NULL, 'h'},
        {"tls-cert", required_argument, NULL, 'c'},
        {"tls-key", required_argument, NULL, 'k'},
        {"public-key", required_argument, NULL, 'P'},
        {"project", required_argument, NULL, 'j'},
        {"client-email", required_argument, NULL, 'e'},
        {"threads", required_argument, NULL, 't'},
        {"max-records", required_argument, NULL, 'm'},
        {"no-record", no_argument, NULL, 'n'},
        {NULL, 0, NULL, 0},
    };
    g.opt.threads = 2;
    g.opt.max_records = 10000;
    g.opt.h2_port = -1;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            g.opt.port = atoi(optarg);
            break;
        case 'h':
            g.opt.h2_port = atoi(optarg);
            break;
        case 'c':
            g.opt.tls_cert = optarg;
            break;
        case 'k':
            g.opt.tls_key = optarg;
            break;
        case 'P':
            g.opt.public_key = optarg;
            break;
        case 'j':
            g.opt.project = optarg;
            break;
        case 'e':
            g.opt.client_email = optarg;
            break;
        case 't':
            g.opt.threads = (unsigned)atoi(optarg);
            break;
        case 'm':
            g.opt.max_records = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'n':
            g.opt.no_record = 1;
            break;
        default:
            usage();
        }
    }
    if (!g.opt.public_key || !g.opt.project || !g.opt.max_records ||
        (!g.opt.tls_cert != !g.opt.tls_key) || (g.opt.h2_port >= 0 && !g.opt.tls_cert))
        usage();
}

int main(int argc, char **argv)
{
    parse_options(argc, argv);
    FILE *f = fopen(g.opt.public_key, "r");
    g.pub = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
    if (f)
        fclose(f);
    if (!g.pub) {
        fprintf(stderr, "fcm_sim: cannot read the public key %s\n", g.opt.public_key);
        return 1;
    }
    pthread_mutex_init(&g.lock, NULL);
    g.unregistered = json_object();
    g.silent = json_object();
    g.tokens = json_object();
    psim_log_init(&g.log, g.opt.max_records);
    g.log.make_record = record_from_body;
    name_head_init();
    defaults_locked();
    psim_signals_block();

    int port =
        psim_http_start(g.opt.port, g.opt.tls_cert, g.opt.tls_key, g.opt.threads, fcm_sim_handle);
    if (port < 0)
        return 1;
    struct event_base *base = NULL;
    struct evconnlistener *listener = NULL;
    SSL_CTX *ctx = NULL;
    pthread_t h2_thread;
    int h2_port = -1;
    if (g.opt.h2_port >= 0) {
        nghttp2_session_callbacks_new(&h2_callbacks);
        nghttp2_session_callbacks_set_send_callback(h2_callbacks, h2_send);
        nghttp2_session_callbacks_set_on_begin_headers_callback(h2_callbacks, on_begin_headers);
        nghttp2_session_callbacks_set_on_header_callback(h2_callbacks, on_header);
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(h2_callbacks, on_data_chunk);
        nghttp2_session_callbacks_set_on_frame_recv_callback(h2_callbacks, on_frame_recv);
        nghttp2_session_callbacks_set_on_stream_close_callback(h2_callbacks, on_stream_close);
        nghttp2_session_callbacks_set_on_frame_send_callback(h2_callbacks, on_frame_send);
        nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(h2_callbacks,
                                                                     on_invalid_frame);
        nghttp2_option_new(&h2_options);
        nghttp2_option_set_stream_reset_rate_limit(h2_options, UINT64_MAX, UINT64_MAX);
        ctx = tls_context();
        evthread_use_pthreads();
        base = event_base_new();
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)g.opt.h2_port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        listener =
            evconnlistener_new_bind(base, on_accept, ctx, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
                                    4096, (struct sockaddr *)&addr, sizeof(addr));
        if (!listener) {
            fprintf(stderr, "fcm_sim: cannot listen on 127.0.0.1:%d\n", g.opt.h2_port);
            return 1;
        }
        struct sockaddr_in bound;
        socklen_t blen = sizeof(bound);
        getsockname(evconnlistener_get_fd(listener), (struct sockaddr *)&bound, &blen);
        h2_port = ntohs(bound.sin_port);
        pthread_create(&h2_thread, NULL, h2_main, base);
    }
    const char *scheme = g.opt.tls_cert ? "https" : "http";
    if (h2_port >= 0)
        printf("fcm_sim listening on %s://127.0.0.1:%d h2 https://127.0.0.1:%d\n", scheme, port,
               h2_port);
    else
        printf("fcm_sim listening on %s://127.0.0.1:%d\n", scheme, port);
    fflush(stdout);

    psim_signals_wait();
    if (base) {
        event_base_loopbreak(base);
        pthread_join(h2_thread, NULL);
        evconnlistener_free(listener);
        event_base_free(base);
        SSL_CTX_free(ctx);
        nghttp2_session_callbacks_del(h2_callbacks);
        nghttp2_option_del(h2_options);
    }
    psim_http_stop();
    psim_log_free(&g.log);
    free(g.name_head);
    json_decref(g.unregistered);
    json_decref(g.silent);
    json_decref(g.tokens);
    EVP_PKEY_free(g.pub);
    return 0;
}
