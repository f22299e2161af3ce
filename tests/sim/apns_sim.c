/* apns_sim: an APNs provider API simulator over TLS + HTTP/2 (tests/sim/lib/h2_server), checking
 * requests as docs/PROVIDERS.md section 1.8 lists (headers, path, device token, ES256 provider
 * tokens verified against the .p8 public key, client certificates, topic, payload size) and
 * scriptable through a JSON control API on a second, plain HTTP port (libmicrohttpd): dead
 * tokens, 429/500/503 bursts, expired provider tokens, GOAWAY after N streams, the concurrent
 * stream limit, latency, stalls, resets. It counts and records what it accepts. See
 * tests/sim/README.md. */
#include <event2/event.h>
#include <event2/thread.h>
#include <jansson.h>
#include <microhttpd.h>
#include <nghttp2/nghttp2.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "channels/apns/apns_jwt.h"
#include "channels/base64url.h"
#include "gateway/util.h"
#include "h2_server.h"

#define MAX_KEYS   16
#define MAX_LOOPS  8
#define MAX_TOPICS 32

struct sim_key {
    char kid[64];
    char team[64];
    EVP_PKEY *pub;
    long long last_iat;    /* of the newest token seen for this key */
    long long last_change; /* when a new token for it was first seen */
};

struct settings {
    unsigned latency_ms;
    unsigned throttle_next; /* answered 429 TooManyRequests */
    unsigned fail_next;     /* answered fail_status / fail_reason */
    int fail_status;
    char fail_reason[64];
    unsigned goaway_after;  /* per connection: GOAWAY after this many requests (0: never) */
    char goaway_debug[128];
    unsigned max_streams;   /* SETTINGS_MAX_CONCURRENT_STREAMS once authenticated */
    long long expire_tokens_before; /* provider tokens with iat below: ExpiredProviderToken */
    json_t *dead_tokens;    /* {"token": timestamp_ms} -> 410 Unregistered */
    json_t *wrong_topic_tokens; /* ["token"] -> 400 DeviceTokenNotForTopic */
    json_t *throttled_tokens;   /* ["token"] -> 429 TooManyRequests (too many to one device) */
    unsigned token_update_min_s; /* a key's new token within this many seconds of the last:
                                  * 429 TooManyProviderTokenUpdates (0: never) */
    bool stall;             /* requests are read and never answered (held for STALL_MS) */
    bool reset;             /* every request: RST_STREAM and GOAWAY, both INTERNAL_ERROR */
    unsigned reset_next;    /* the next N requests: the same */
};

/* A stalled answer is held this long: for ever, as far as a test is concerned. The stream and
 * the connection stay open; the client has to give up on its own. */
#define STALL_MS (24u * 3600u * 1000u)

/* One event loop and server per thread, sharing the port (SO_REUSEPORT). */
struct loop {
    struct event_base *base;
    struct rp_h2s *h2;
    struct event *tick;
    pthread_t thread;
    size_t delayed;   /* its held answers when last seen, under g.lock */
    uint64_t pings;   /* under g.lock */
};

static struct {
    pthread_mutex_t lock;
    struct settings s;
    /* counters */
    unsigned long long received, accepted, connections_opened, goaways, tokens_verified, pings;
    unsigned long long stalled_total, resets;
    size_t connections_open, max_connections_open, max_delayed;
    json_t *by_status, *by_reason;
    /* records: a ring */
    json_t **records;
    size_t max_records, n_records, ring_start;
    unsigned long long seq;
    /* options */
    struct sim_key keys[MAX_KEYS];
    int n_keys;
    char *topics[MAX_TOPICS];
    int n_topics;
    bool record;
    const char *env_name;
    struct loop loops[MAX_LOOPS];
    int n_loops;
} g;

/* Folds one loop's counters into the totals; called with g.lock held. */
static void loop_counters_locked(struct loop *l, size_t delayed)
{
    l->delayed = delayed;
    l->pings = rp_h2s_pings(l->h2);
    size_t total = 0;
    uint64_t pings = 0;
    for (int i = 0; i < g.n_loops; i++) {
        total += g.loops[i].delayed;
        pings += g.loops[i].pings;
    }
    if (total > g.max_delayed)
        g.max_delayed = total;
    g.pings = pings;
}

/* Per connection: the team of its first provider token, the last token verified, and whether a
 * request has been authenticated (the stream limit opens up then). A client sends the same token
 * for up to an hour, so what was read from the verified one is kept with it: its key and iat. */
struct conn_state {
    char team[64];
    char *verified_jwt;
    const struct sim_key *verified_key;
    long long verified_iat;
    bool authenticated;
    unsigned long long requests;
};

static void conn_state_free(void *p)
{
    struct conn_state *cs = p;
    free(cs->verified_jwt);
    free(cs);
}

static void settings_defaults(struct settings *s)
{
    json_decref(s->dead_tokens);
    json_decref(s->wrong_topic_tokens);
    json_decref(s->throttled_tokens);
    memset(s, 0, sizeof(*s));
    s->fail_status = 500;
    snprintf(s->fail_reason, sizeof(s->fail_reason), "InternalServerError");
    snprintf(s->goaway_debug, sizeof(s->goaway_debug), "{\"reason\":\"Shutdown\"}");
    s->max_streams = 1000;
    s->dead_tokens = json_object();
    s->wrong_topic_tokens = json_array();
    s->throttled_tokens = json_array();
}

static json_t *settings_json_locked(void)
{
    const struct settings *s = &g.s;
    json_t *doc = json_pack("{s:I,s:I,s:I,s:i,s:s,s:I,s:s,s:I,s:I,s:O,s:O}", "latency_ms",
                     (json_int_t)s->latency_ms, "throttle_next", (json_int_t)s->throttle_next,
                     "fail_next", (json_int_t)s->fail_next, "fail_status", s->fail_status,
                     "fail_reason", s->fail_reason, "goaway_after", (json_int_t)s->goaway_after,
                     "goaway_debug", s->goaway_debug, "max_streams", (json_int_t)s->max_streams,
                     "expire_tokens_before", (json_int_t)s->expire_tokens_before, "dead_tokens",
                     s->dead_tokens, "wrong_topic_tokens", s->wrong_topic_tokens);
    json_object_set(doc, "throttled_tokens", s->throttled_tokens);
    json_object_set_new(doc, "token_update_min_s", json_integer(s->token_update_min_s));
    json_object_set_new(doc, "stall", json_boolean(s->stall));
    json_object_set_new(doc, "reset", json_boolean(s->reset));
    json_object_set_new(doc, "reset_next", json_integer(s->reset_next));
    return doc;
}

/* Merges a control document into the settings; returns NULL or the name of a bad member. */
static const char *settings_merge_locked(const json_t *doc)
{
    struct {
        const char *name;
        unsigned *out;
    } uints[] = {{"latency_ms", &g.s.latency_ms},     {"throttle_next", &g.s.throttle_next},
                 {"fail_next", &g.s.fail_next},       {"goaway_after", &g.s.goaway_after},
                 {"max_streams", &g.s.max_streams},
                 {"token_update_min_s", &g.s.token_update_min_s},
                 {"reset_next", &g.s.reset_next}};
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)doc, key, v) {
        bool known = false;
        for (size_t i = 0; i < sizeof(uints) / sizeof(uints[0]); i++) {
            if (strcmp(key, uints[i].name) == 0) {
                if (!json_is_integer(v) || json_integer_value(v) < 0 ||
                    json_integer_value(v) > 100000000)
                    return key;
                *uints[i].out = (unsigned)json_integer_value(v);
                known = true;
            }
        }
        if (known)
            continue;
        if (strcmp(key, "fail_status") == 0) {
            if (!json_is_integer(v) || json_integer_value(v) < 400 || json_integer_value(v) > 599)
                return key;
            g.s.fail_status = (int)json_integer_value(v);
        } else if (strcmp(key, "fail_reason") == 0 && json_is_string(v)) {
            snprintf(g.s.fail_reason, sizeof(g.s.fail_reason), "%s", json_string_value(v));
        } else if (strcmp(key, "goaway_debug") == 0 && json_is_string(v)) {
            snprintf(g.s.goaway_debug, sizeof(g.s.goaway_debug), "%s", json_string_value(v));
        } else if (strcmp(key, "expire_tokens_before") == 0 && json_is_integer(v)) {
            g.s.expire_tokens_before = json_integer_value(v);
        } else if (strcmp(key, "dead_tokens") == 0 && json_is_object(v)) {
            json_object_update(g.s.dead_tokens, v);
        } else if (strcmp(key, "wrong_topic_tokens") == 0 && json_is_array(v)) {
            json_array_extend(g.s.wrong_topic_tokens, v);
        } else if (strcmp(key, "throttled_tokens") == 0 && json_is_array(v)) {
            json_array_extend(g.s.throttled_tokens, v);
        } else if (strcmp(key, "stall") == 0 && json_is_boolean(v)) {
            g.s.stall = json_is_true(v);
        } else if (strcmp(key, "reset") == 0 && json_is_boolean(v)) {
            g.s.reset = json_is_true(v);
        } else {
            return key;
        }
    }
    return NULL;
}

/* Counted in place: after the first of its kind, an answer costs no allocation. */
static void count_one(json_t *counts, const char *key)
{
    json_t *n = json_object_get(counts, key);
    if (n)
        json_integer_set(n, json_integer_value(n) + 1);
    else
        json_object_set_new(counts, key, json_integer(1));
}

static void count_locked(int status, const char *reason)
{
    char code[12];
    if (status >= 100 && status <= 999) {
        code[0] = (char)('0' + status / 100);
        code[1] = (char)('0' + status / 10 % 10);
        code[2] = (char)('0' + status % 10);
        code[3] = '\0';
    } else {
        snprintf(code, sizeof(code), "%d", status);
    }
    count_one(g.by_status, code);
    if (reason)
        count_one(g.by_reason, reason);
}

/* ---- Checks -------------------------------------------------------------------------------- */

static bool is_uuid(const char *s)
{
    if (strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

static bool is_hex64(const char *s)
{
    size_t n = strlen(s);
    if (n != 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (rp_hexval((unsigned char)s[i]) < 0)
            return false;
    return true;
}

static const struct sim_key *key_by_kid(const char *kid)
{
    for (int i = 0; i < g.n_keys; i++)
        if (strcmp(g.keys[i].kid, kid) == 0)
            return &g.keys[i];
    return NULL;
}

static bool topic_allowed(const char *topic)
{
    if (g.n_topics == 0)
        return true;
    for (int i = 0; i < g.n_topics; i++)
        if (strcmp(g.topics[i], topic) == 0)
            return true;
    return false;
}

static bool verify_es256(EVP_PKEY *pub, const char *signed_part, size_t signed_len,
                         const unsigned char raw[64])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    ECDSA_SIG_set0(sig, BN_bin2bn(raw, 32, NULL), BN_bin2bn(raw + 32, 32, NULL));
    unsigned char *der = NULL;
    int der_len = i2d_ECDSA_SIG(sig, &der);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = der_len > 0 && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pub) == 1 &&
              EVP_DigestVerify(md, der, (size_t)der_len, (const unsigned char *)signed_part,
                               signed_len) == 1;
    EVP_MD_CTX_free(md);
    OPENSSL_free(der);
    ECDSA_SIG_free(sig);
    ERR_clear_error();
    return ok;
}

static json_t *b64_json(const char *s, size_t len)
{
    unsigned char buf[1024];
    long n = rp_base64url_decode(s, len, buf, sizeof(buf));
    return n > 0 ? json_loadb((const char *)buf, (size_t)n, 0, NULL) : NULL;
}

/* What a provider token says about itself: checked as far as its bytes alone allow (the shape,
 * alg ES256, a known kid, an iss that is the key's team, an integer iat). Returns NULL or the
 * 403 reason; fills key, iat and the length of the signed part. */
static const char *jwt_read(const char *jwt, const struct sim_key **key_out, long long *iat_out,
                            size_t *signed_len)
{
    const char *d1 = strchr(jwt, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.'))
        return "InvalidProviderToken";
    json_t *header = b64_json(jwt, (size_t)(d1 - jwt));
    json_t *claims = b64_json(d1 + 1, (size_t)(d2 - d1 - 1));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    json_t *iat_v = json_object_get(claims, "iat");
    const struct sim_key *key = kid ? key_by_kid(kid) : NULL;
    const char *reason = NULL;
    if (!alg || strcmp(alg, "ES256") != 0 || !key || !iss || !json_is_integer(iat_v) ||
        strcmp(iss, key->team) != 0) {
        reason = "InvalidProviderToken";
    } else {
        *key_out = key;
        *iat_out = json_integer_value(iat_v);
        *signed_len = (size_t)(d2 - jwt);
    }
    json_decref(header);
    json_decref(claims);
    return reason;
}

/* Token authentication; returns NULL or the 403 reason. Fills kid_out and team_out. */
static const char *check_jwt_locked(struct conn_state *cs, const char *auth, const char *topic,
                                    char *kid_out, char *team_out)
{
    if (strncmp(auth, "bearer ", 7) != 0)
        return "MissingProviderToken";
    const char *jwt = auth + 7;
    const struct sim_key *key = NULL;
    long long iat = 0;
    size_t signed_len = 0;
    /* The connection's verified token passed jwt_read when it was verified, and what jwt_read
     * checks depends on nothing but the token's bytes and the keys given at start. */
    bool known = cs->verified_jwt && strcmp(cs->verified_jwt, jwt) == 0;
    if (known) {
        key = cs->verified_key;
        iat = cs->verified_iat;
    } else {
        const char *reason = jwt_read(jwt, &key, &iat, &signed_len);
        if (reason)
            return reason;
    }
    /* kid and iss equal the key's, which are shorter than 64 (load_key). */
    memcpy(kid_out, key->kid, strlen(key->kid) + 1);
    memcpy(team_out, key->team, strlen(key->team) + 1);
    /* The first team seen on a connection must not change. */
    if (cs->team[0] && strcmp(cs->team, key->team) != 0)
        return "InvalidProviderToken";
    if (!known) {
        unsigned char raw[80];
        const char *sig = jwt + signed_len + 1;
        if (rp_base64url_decode(sig, strlen(sig), raw, sizeof(raw)) != 64 ||
            !verify_es256(key->pub, jwt, signed_len, raw))
            return "InvalidProviderToken";
        g.tokens_verified++;
        free(cs->verified_jwt);
        cs->verified_jwt = rp_strdup(jwt);
        cs->verified_key = key;
        cs->verified_iat = iat;
    }
    long long now = (long long)time(NULL);
    if (iat > now + 60)
        return "InvalidProviderToken";
    if (now > iat + 3600 || iat < g.s.expire_tokens_before)
        return "ExpiredProviderToken";
    struct sim_key *mk = (struct sim_key *)key;
    if (iat > mk->last_iat) {
        if (mk->last_iat && g.s.token_update_min_s &&
            now - mk->last_change < g.s.token_update_min_s)
            return "TooManyProviderTokenUpdates";
        mk->last_iat = iat;
        mk->last_change = now;
    }
    if (!topic_allowed(topic))
        return "TopicDisallowed";
    if (!cs->team[0])
        memcpy(cs->team, key->team, strlen(key->team) + 1);
    return NULL;
}

/* Certificate authentication: the TLS layer verified the chain against --client-ca; the topic
 * must be one the certificate may use (its subject UID, the bundle id Apple puts there, plus
 * the .voip suffix, or any --topic when it has none). */
static const char *check_certificate(X509 *cert, const char *topic, char *subject_out)
{
    if (!cert)
        return "MissingProviderToken";
    X509_NAME *name = X509_get_subject_name(cert);
    char uid[160] = "";
    X509_NAME_get_text_by_NID(name, NID_userId, uid, sizeof(uid));
    X509_NAME_get_text_by_NID(name, NID_commonName, subject_out, 160);
    if (!topic)
        return NULL;
    if (uid[0]) {
        size_t n = strlen(uid);
        if (strncmp(topic, uid, n) == 0 && (topic[n] == '\0' || strcmp(topic + n, ".voip") == 0))
            return NULL;
        return "TopicDisallowed";
    }
    return topic_allowed(topic) ? NULL : "TopicDisallowed";
}

static const char *known_push_type(const char *t)
{
    static const char *const types[] = {"alert", "background", "voip", "complication",
                                        "fileprovider", "mdm", "location", "liveactivity",
                                        "pushtotalk"};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    return NULL;
}

/* ---- Requests ------------------------------------------------------------------------------ */

/* The request headers judge_locked reads, found in one pass over the request's headers: each
 * one's first value and how many times it came. */
enum {
    H_TOPIC,
    H_ID,
    H_PRIORITY,
    H_PUSH_TYPE,
    H_EXPIRATION,
    H_COLLAPSE_ID,
    H_AUTHORIZATION,
    H_METHOD,
    H_PATH,
    H_COUNT
};

struct req_headers {
    const char *value[H_COUNT];
    int count[H_COUNT];
};

static void read_headers(const struct rp_h2s_req *req, struct req_headers *h)
{
    static const struct {
        const char *name;
        size_t len;
    } names[H_COUNT] = {
        [H_TOPIC] = {"apns-topic", 10},
        [H_ID] = {"apns-id", 7},
        [H_PRIORITY] = {"apns-priority", 13},
        [H_PUSH_TYPE] = {"apns-push-type", 14},
        [H_EXPIRATION] = {"apns-expiration", 15},
        [H_COLLAPSE_ID] = {"apns-collapse-id", 16},
        [H_AUTHORIZATION] = {"authorization", 13},
        [H_METHOD] = {":method", 7},
        [H_PATH] = {":path", 5},
    };
    memset(h, 0, sizeof(*h));
    size_t n;
    const struct rp_h2s_header *all = rp_h2s_req_headers(req, &n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(all[i].name);
        for (int k = 0; k < H_COUNT; k++) {
            if (len == names[k].len && memcmp(all[i].name, names[k].name, len) == 0) {
                if (!h->value[k])
                    h->value[k] = all[i].value;
                h->count[k]++;
                break;
            }
        }
    }
}

struct answer {
    int status;
    const char *reason;
    long long timestamp;
};

static void answer(struct rp_h2s_req *req, const char *apns_id, const struct answer *a,
                   unsigned delay)
{
    struct rp_h2s_header h[] = {{"apns-id", apns_id}, {"content-type", "application/json"}};
    char body[160];
    int n = 0;
    if (a->status != 200) {
        if (a->timestamp > 0)
            n = snprintf(body, sizeof(body), "{\"reason\":\"%s\",\"timestamp\":%lld}", a->reason,
                         a->timestamp);
        else
            n = snprintf(body, sizeof(body), "{\"reason\":\"%s\"}", a->reason);
    }
    rp_h2s_respond(req, a->status, h, a->status == 200 ? 1 : 2, a->status == 200 ? NULL : body,
                   (size_t)n, delay);
}

/* The checks of PROVIDERS.md 1.8, in its order. Fills a; records when accepted. */
static void judge_locked(struct rp_h2s_req *req, const struct req_headers *h, struct conn_state *cs,
                         const char *apns_id, struct answer *a)
{
    const char *topic = h->value[H_TOPIC];
    for (int i = H_TOPIC; i <= H_AUTHORIZATION; i++) {
        if (h->count[i] > 1) {
            *a = (struct answer){400, "DuplicateHeaders", 0};
            return;
        }
    }
    const char *given_id = h->value[H_ID];
    if (given_id && !is_uuid(given_id)) {
        *a = (struct answer){400, "BadMessageId", 0};
        return;
    }
    if (strcmp(h->value[H_METHOD], "POST") != 0) {
        *a = (struct answer){405, "MethodNotAllowed", 0};
        return;
    }
    const char *auth = h->value[H_AUTHORIZATION];
    if (auth && !topic) {
        *a = (struct answer){400, "MissingTopic", 0};
        return;
    }
    const char *collapse = h->value[H_COLLAPSE_ID];
    if (collapse && strlen(collapse) > 64) {
        *a = (struct answer){400, "BadCollapseId", 0};
        return;
    }
    const char *prio = h->value[H_PRIORITY];
    if (prio && strcmp(prio, "10") != 0 && strcmp(prio, "5") != 0 && strcmp(prio, "1") != 0) {
        *a = (struct answer){400, "BadPriority", 0};
        return;
    }
    const char *push_type = h->value[H_PUSH_TYPE];
    if (push_type && !known_push_type(push_type)) {
        *a = (struct answer){400, "InvalidPushType", 0};
        return;
    }
    if (push_type && strcmp(push_type, "background") == 0 && prio && strcmp(prio, "10") == 0) {
        *a = (struct answer){400, "BadPriority", 0};
        return;
    }
    const char *exp = h->value[H_EXPIRATION];
    if (exp && (!*exp || strspn(exp, "0123456789") != strlen(exp))) {
        *a = (struct answer){400, "BadExpirationDate", 0};
        return;
    }
    const char *path = h->value[H_PATH];
    if (strncmp(path, "/3/device/", 10) != 0) {
        *a = (struct answer){404, "BadPath", 0};
        return;
    }
    const char *token = path + 10;
    if (!*token) {
        *a = (struct answer){400, "MissingDeviceToken", 0};
        return;
    }
    if (!is_hex64(token)) {
        *a = (struct answer){400, "BadDeviceToken", 0};
        return;
    }
    json_t *dead = json_object_get(g.s.dead_tokens, token);
    if (dead) {
        *a = (struct answer){410, "Unregistered", json_integer_value(dead)};
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(g.s.wrong_topic_tokens, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), token) == 0) {
            *a = (struct answer){400, "DeviceTokenNotForTopic", 0};
            return;
        }
    }
    if (push_type && strcmp(push_type, "voip") == 0 && topic &&
        (strlen(topic) < 5 || strcmp(topic + strlen(topic) - 5, ".voip") != 0)) {
        *a = (struct answer){400, "BadTopic", 0};
        return;
    }

    char kid[64] = "", team[64] = "", subject[160] = "";
    const char *reason =
        auth ? check_jwt_locked(cs, auth, topic, kid, team)
             : check_certificate(rp_h2s_conn_peer_cert(rp_h2s_req_conn(req)), topic, subject);
    if (reason) {
        int status = strcmp(reason, "TopicDisallowed") == 0               ? 400
                     : strcmp(reason, "TooManyProviderTokenUpdates") == 0 ? 429
                                                                          : 403;
        *a = (struct answer){status, reason, 0};
        return;
    }
    json_array_foreach(g.s.throttled_tokens, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), token) == 0) {
            *a = (struct answer){429, "TooManyRequests", 0};
            return;
        }
    }
    size_t len;
    const unsigned char *body = rp_h2s_req_body(req, &len);
    if (len == 0) {
        *a = (struct answer){400, "PayloadEmpty", 0};
        return;
    }
    size_t limit = push_type && strcmp(push_type, "voip") == 0 ? 5120 : 4096;
    if (len > limit) {
        *a = (struct answer){413, "PayloadTooLarge", 0};
        return;
    }
    *a = (struct answer){200, NULL, 0};
    cs->authenticated = true;
    g.accepted++;
    if (!g.record)
        return;
    json_t *payload = json_loadb((const char *)body, len, 0, NULL);
    json_t *rec = json_pack(
        "{s:I,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s?,s:s,s:o,s:I,s:i,s:s}", "seq", (json_int_t)++g.seq,
        "token", token, "apns_id", apns_id, "topic", topic, "push_type", push_type, "priority",
        prio, "expiration", exp, "collapse_id", collapse, "auth", auth ? "token" : "certificate",
        "payload", payload ? payload : json_stringn((const char *)body, len), "connection",
        (json_int_t)rp_h2s_conn_id(rp_h2s_req_conn(req)), "stream",
        rp_h2s_req_stream_id(req), "environment", g.env_name);
    if (auth) {
        json_object_set_new(rec, "kid", json_string(kid));
        json_object_set_new(rec, "team", json_string(team));
    } else {
        json_object_set_new(rec, "certificate", json_string(subject));
    }
    if (g.n_records < g.max_records) {
        g.records[(g.ring_start + g.n_records++) % g.max_records] = rec;
    } else {
        json_decref(g.records[g.ring_start]);
        g.records[g.ring_start] = rec;
        g.ring_start = (g.ring_start + 1) % g.max_records;
    }
}

static void on_request(void *arg, struct rp_h2s_req *req)
{
    struct rp_h2s_conn *conn = rp_h2s_req_conn(req);
    struct conn_state *cs = rp_h2s_conn_data(conn);
    struct req_headers h;
    read_headers(req, &h);
    char apns_id[37];
    const char *given_id = h.value[H_ID];
    if (given_id && is_uuid(given_id))
        memcpy(apns_id, given_id, sizeof(apns_id)); /* 36 characters and the NUL */
    else
        rp_uuid_new(apns_id);

    struct loop *loop = arg;
    pthread_mutex_lock(&g.lock);
    g.received++;
    cs->requests++;
    loop_counters_locked(loop, rp_h2s_delayed(loop->h2) + 1);
    if (g.s.reset || g.s.reset_next > 0) {
        /* The provider falls over mid-request: the stream is reset and the connection goes. */
        if (g.s.reset_next > 0)
            g.s.reset_next--;
        g.resets++;
        g.goaways++;
        pthread_mutex_unlock(&g.lock);
        rp_h2s_refuse(req, NGHTTP2_INTERNAL_ERROR);
        rp_h2s_conn_goaway(conn, NGHTTP2_INTERNAL_ERROR, NULL);
        return;
    }
    if (g.s.stall) {
        g.stalled_total++;
        pthread_mutex_unlock(&g.lock);
        answer(req, apns_id, &(struct answer){503, "ServiceUnavailable", 0}, STALL_MS);
        return;
    }
    struct answer a;
    bool was_authenticated = cs->authenticated;
    if (g.s.throttle_next > 0) {
        g.s.throttle_next--;
        a = (struct answer){429, "TooManyRequests", 0};
    } else if (g.s.fail_next > 0) {
        g.s.fail_next--;
        a = (struct answer){g.s.fail_status, g.s.fail_reason, 0};
    } else {
        judge_locked(req, &h, cs, apns_id, &a);
    }
    count_locked(a.status, a.reason);
    unsigned delay = g.s.latency_ms;
    unsigned max_streams = g.s.max_streams;
    bool goaway = g.s.goaway_after > 0 && cs->requests == g.s.goaway_after;
    char debug[sizeof(g.s.goaway_debug)];
    if (goaway) {
        memcpy(debug, g.s.goaway_debug, sizeof(debug));
        g.goaways++;
    }
    pthread_mutex_unlock(&g.lock);

    answer(req, apns_id, &a, delay);
    if (!was_authenticated && cs->authenticated)
        rp_h2s_conn_set_max_streams(conn, max_streams);
    if (goaway)
        rp_h2s_conn_goaway(conn, NGHTTP2_NO_ERROR, debug);
}

static void on_conn(void *arg, struct rp_h2s_conn *conn, bool open)
{
    struct loop *loop = arg;
    pthread_mutex_lock(&g.lock);
    loop_counters_locked(loop, rp_h2s_delayed(loop->h2));
    if (open) {
        g.connections_opened++;
        g.connections_open++;
        if (g.connections_open > g.max_connections_open)
            g.max_connections_open = g.connections_open;
    } else {
        g.connections_open--;
    }
    pthread_mutex_unlock(&g.lock);
    if (open)
        rp_h2s_conn_set_data(conn, rp_calloc(1, sizeof(struct conn_state)), conn_state_free);
}

/* ---- Control API --------------------------------------------------------------------------- */

struct control_req {
    char *body;
    size_t len;
};

/* The counters are copied: the answer is written out after the lock is let go, while requests
 * go on counting in place. */
static json_t *stats_json_locked(void)
{
    json_t *doc = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o,s:I,s:s,s:I,s:I}", "received",
                     (json_int_t)g.received, "accepted", (json_int_t)g.accepted,
                     "connections_opened", (json_int_t)g.connections_opened, "connections_open",
                     (json_int_t)g.connections_open, "max_connections_open",
                     (json_int_t)g.max_connections_open, "goaways", (json_int_t)g.goaways,
                     "tokens_verified", (json_int_t)g.tokens_verified, "by_status",
                     json_deep_copy(g.by_status), "by_reason", json_deep_copy(g.by_reason),
                     "last_seq", (json_int_t)g.seq, "environment",
                     g.env_name, "max_held", (json_int_t)g.max_delayed, "pings",
                     (json_int_t)g.pings);
    json_object_set_new(doc, "stalled_total", json_integer((json_int_t)g.stalled_total));
    json_object_set_new(doc, "resets", json_integer((json_int_t)g.resets));
    return doc;
}

static json_t *records_json_locked(struct MHD_Connection *conn)
{
    const char *s = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
    const char *l = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "limit");
    unsigned long long since = s ? strtoull(s, NULL, 10) : 0;
    size_t limit = l ? strtoul(l, NULL, 10) : 1000;
    json_t *list = json_array();
    for (size_t i = 0; i < g.n_records && json_array_size(list) < limit; i++) {
        json_t *r = g.records[(g.ring_start + i) % g.max_records];
        if ((unsigned long long)json_integer_value(json_object_get(r, "seq")) > since)
            json_array_append(list, r);
    }
    return json_pack("{s:o,s:I}", "notifications", list, "last_seq", (json_int_t)g.seq);
}

static void reset_locked(void)
{
    settings_defaults(&g.s);
    g.received = g.accepted = g.goaways = g.tokens_verified = g.stalled_total = g.resets = 0;
    g.connections_opened = g.connections_open;
    g.max_connections_open = g.connections_open;
    g.max_delayed = 0;
    json_object_clear(g.by_status);
    json_object_clear(g.by_reason);
    for (size_t i = 0; i < g.n_records; i++)
        json_decref(g.records[(g.ring_start + i) % g.max_records]);
    g.n_records = g.ring_start = 0;
    g.seq = 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, "Content-Type", "application/json");
    enum MHD_Result rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_control(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    struct control_req *cr = *con_cls;
    if (!cr) {
        *con_cls = rp_calloc(1, sizeof(*cr));
        return MHD_YES;
    }
    if (*upload_size > 0) {
        cr->body = rp_realloc(cr->body, cr->len + *upload_size + 1);
        memcpy(cr->body + cr->len, upload, *upload_size);
        cr->len += *upload_size;
        cr->body[cr->len] = '\0';
        *upload_size = 0;
        return MHD_YES;
    }
    json_t *out = NULL;
    unsigned status = 200;
    pthread_mutex_lock(&g.lock);
    if (strcmp(url, "/sim/stats") == 0) {
        out = stats_json_locked();
    } else if (strcmp(url, "/sim/notifications") == 0) {
        out = records_json_locked(conn);
    } else if (strcmp(url, "/sim/config") == 0 && strcmp(method, "POST") == 0) {
        json_t *doc = cr->body ? json_loads(cr->body, 0, NULL) : NULL;
        const char *bad = json_is_object(doc) ? settings_merge_locked(doc) : "body";
        if (bad) {
            status = 400;
            out = json_pack("{s:s}", "error", bad);
        } else {
            out = settings_json_locked();
        }
        json_decref(doc);
    } else if (strcmp(url, "/sim/config") == 0) {
        out = settings_json_locked();
    } else if (strcmp(url, "/sim/reset") == 0 && strcmp(method, "POST") == 0) {
        reset_locked();
        out = settings_json_locked();
    } else {
        status = 404;
        out = json_pack("{s:s}", "error", "not found");
    }
    pthread_mutex_unlock(&g.lock);
    return reply(conn, status, out);
}

static void on_control_done(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    struct control_req *cr = *con_cls;
    if (cr) {
        free(cr->body);
        free(cr);
    }
    *con_cls = NULL;
}

/* ---- Main ---------------------------------------------------------------------------------- */

static int load_key(const char *spec)
{
    /* KID:TEAM:path-to-p8 */
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", spec);
    char *c1 = strchr(buf, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2 || g.n_keys == MAX_KEYS)
        return -1;
    *c1 = *c2 = '\0';
    FILE *f = fopen(c2 + 1, "r");
    if (!f)
        return -1;
    EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (!key)
        return -1;
    struct sim_key *k = &g.keys[g.n_keys++];
    if (strlen(buf) >= sizeof(k->kid) || strlen(c1 + 1) >= sizeof(k->team)) {
        EVP_PKEY_free(key);
        g.n_keys--;
        return -1;
    }
    memcpy(k->kid, buf, strlen(buf) + 1);
    memcpy(k->team, c1 + 1, strlen(c1 + 1) + 1);
    k->pub = key; /* verification only uses the public half */
    return 0;
}

/* Keeps the counters the loop owns current for the control thread. */
static void on_stats_tick(evutil_socket_t fd, short what, void *arg)
{
    struct loop *loop = arg;
    pthread_mutex_lock(&g.lock);
    loop_counters_locked(loop, rp_h2s_delayed(loop->h2));
    pthread_mutex_unlock(&g.lock);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    for (int i = 0; i < g.n_loops; i++)
        event_base_loopbreak(g.loops[i].base);
}

static void *loop_main(void *arg)
{
    struct loop *loop = arg;
    event_base_dispatch(loop->base);
    return NULL;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: apns_sim --tls-cert PEM --tls-key PEM [--port N] [--control-port N]\n"
            "                [--key KID:TEAM:P8FILE]... [--topic BUNDLE]... [--client-ca PEM]\n"
            "                [--max-streams N] [--initial-streams N] [--environment NAME]\n"
            "                [--no-record] [--max-records N] [--threads N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    struct rp_h2s_config cfg = {0};
    int control_port = 0, threads = 1;
    unsigned initial_streams = 0;
    g.record = true;
    g.max_records = 1000000;
    g.env_name = "production";
    pthread_mutex_init(&g.lock, NULL);
    settings_defaults(&g.s);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-record") == 0) {
            g.record = false;
            continue;
        }
        if (!v)
            usage();
        i++;
        if (strcmp(a, "--port") == 0)
            cfg.port = atoi(v);
        else if (strcmp(a, "--control-port") == 0)
            control_port = atoi(v);
        else if (strcmp(a, "--tls-cert") == 0)
            cfg.cert_file = v;
        else if (strcmp(a, "--tls-key") == 0)
            cfg.key_file = v;
        else if (strcmp(a, "--client-ca") == 0)
            cfg.client_ca_file = v;
        else if (strcmp(a, "--key") == 0) {
            if (load_key(v) < 0) {
                fprintf(stderr, "apns_sim: bad --key %s (KID:TEAM:P8FILE)\n", v);
                return 2;
            }
        } else if (strcmp(a, "--topic") == 0 && g.n_topics < MAX_TOPICS)
            g.topics[g.n_topics++] = (char *)v;
        else if (strcmp(a, "--max-streams") == 0)
            g.s.max_streams = (unsigned)atoi(v);
        else if (strcmp(a, "--initial-streams") == 0)
            initial_streams = (unsigned)atoi(v);
        else if (strcmp(a, "--threads") == 0)
            threads = atoi(v) < 1 ? 1 : atoi(v) > MAX_LOOPS ? MAX_LOOPS : atoi(v);
        else if (strcmp(a, "--environment") == 0)
            g.env_name = v;
        else if (strcmp(a, "--max-records") == 0)
            g.max_records = strtoul(v, NULL, 10) ? strtoul(v, NULL, 10) : 1;
        else
            usage();
    }
    if (!cfg.cert_file || !cfg.key_file)
        usage();
    g.records = rp_calloc(g.max_records, sizeof(json_t *));
    g.by_status = json_object();
    g.by_reason = json_object();
    /* Token-authenticated connections allow one stream until a request succeeds (APNs). */
    cfg.max_concurrent_streams = initial_streams ? initial_streams
                                 : g.n_keys     ? 1
                                                : g.s.max_streams;
    cfg.on_request = on_request;
    cfg.on_conn = on_conn;
    cfg.reuse_port = threads > 1;
    evthread_use_pthreads(); /* the signal handler breaks the other threads' loops */
    for (int i = 0; i < threads; i++) {
        struct loop *l = &g.loops[i];
        l->base = event_base_new();
        cfg.arg = l;
        l->h2 = rp_h2s_new(l->base, &cfg);
        if (!l->h2)
            return 1;
        cfg.port = rp_h2s_port(l->h2); /* the others join the first one's port */
        l->tick = event_new(l->base, -1, EV_PERSIST, on_stats_tick, l);
        struct timeval tv = {0, 100000};
        event_add(l->tick, &tv);
        g.n_loops++;
    }
    struct sockaddr_in addr = {.sin_family = AF_INET,
                               .sin_port = htons((uint16_t)control_port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_control, NULL, MHD_OPTION_SOCK_ADDR, &addr, MHD_OPTION_NOTIFY_COMPLETED,
        on_control_done, NULL, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "apns_sim: cannot start the control API\n");
        return 1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("apns_sim listening on https://127.0.0.1:%d control http://127.0.0.1:%u\n",
           rp_h2s_port(g.loops[0].h2), (unsigned)info->port);
    fflush(stdout);
    struct event *sigterm = evsignal_new(g.loops[0].base, SIGTERM, on_signal, NULL);
    struct event *sigint = evsignal_new(g.loops[0].base, SIGINT, on_signal, NULL);
    event_add(sigterm, NULL);
    event_add(sigint, NULL);
    for (int i = 1; i < g.n_loops; i++)
        pthread_create(&g.loops[i].thread, NULL, loop_main, &g.loops[i]);
    event_base_dispatch(g.loops[0].base);
    for (int i = 1; i < g.n_loops; i++)
        pthread_join(g.loops[i].thread, NULL);
    MHD_stop_daemon(d);
    event_free(sigterm);
    event_free(sigint);
    for (int i = 0; i < g.n_loops; i++) {
        rp_h2s_free(g.loops[i].h2);
        event_free(g.loops[i].tick);
        event_base_free(g.loops[i].base);
    }
    pthread_mutex_lock(&g.lock);
    reset_locked();
    json_decref(g.s.dead_tokens);
    json_decref(g.s.wrong_topic_tokens);
    json_decref(g.s.throttled_tokens);
    pthread_mutex_unlock(&g.lock);
    json_decref(g.by_status);
    json_decref(g.by_reason);
    free(g.records);
    for (int i = 0; i < g.n_keys; i++)
        EVP_PKEY_free(g.keys[i].pub);
    return 0;
}
