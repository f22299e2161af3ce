#include "store.h"
#include "log.h"
#include "rc.h"
#include "util.h"

#include <errno.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static struct rp_store_conf store_conf = {.host = "127.0.0.1", .port = 6379, .timeout_ms = 1000};
static _Thread_local redisContext *thread_conn;
static _Thread_local int64_t thread_last_attempt_ms;
static _Thread_local int thread_was_down;
/* When any thread last connected: a thread backing off retries at once once another thread has
 * seen Redis come back, so the whole pool recovers together. */
static _Atomic int64_t last_connect_ms;

/* Threads we do not own (libmicrohttpd's pool) exit without calling rp_store_thread_close; a
 * key destructor closes their connection then. */
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;

static void close_at_thread_exit(void *conn)
{
    redisFree(conn);
}

static void make_conn_key(void)
{
    pthread_key_create(&conn_key, close_at_thread_exit);
}


int rp_store_parse_url(const char *url, struct rp_store_conf *conf, struct rp_err *err)
{
    memset(conf, 0, sizeof(*conf));
    conf->timeout_ms = 1000;
    if (strncmp(url, "unix://", 7) == 0) {
        const char *path = url + 7;
        const char *q = strchr(path, '?');
        size_t len = q ? (size_t)(q - path) : strlen(path);
        if (len == 0 || len >= sizeof(conf->unix_path) || path[0] != '/')
            return rp_err_set(err, RP_EINVAL, "redis.url", "unix:// needs an absolute path");
        memcpy(conf->unix_path, path, len);
        if (q) {
            if (strncmp(q, "?db=", 4) != 0)
                return rp_err_set(err, RP_EINVAL, "redis.url", "only ?db=N is understood");
            char *end;
            conf->db = (int)strtol(q + 4, &end, 10);
            if (*end || end == q + 4 || conf->db < 0)
                return rp_err_set(err, RP_EINVAL, "redis.url", "bad database number");
        }
        return 0;
    }
    if (strncmp(url, "redis://", 8) != 0)
        return rp_err_set(err, RP_EINVAL, "redis.url",
                          "'%.80s' must start with redis:// or unix://", url);
    const char *p = url + 8;
    const char *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon) {
            size_t ulen = (size_t)(colon - p), plen = (size_t)(at - colon - 1);
            if (ulen >= sizeof(conf->username) || plen >= sizeof(conf->password))
                return rp_err_set(err, RP_EINVAL, "redis.url", "credentials too long");
            memcpy(conf->username, p, ulen);
            memcpy(conf->password, colon + 1, plen);
        } else {
            size_t plen = (size_t)(at - p);
            if (plen >= sizeof(conf->password))
                return rp_err_set(err, RP_EINVAL, "redis.url", "password too long");
            memcpy(conf->password, p, plen);
        }
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hostport_len = slash ? (size_t)(slash - p) : strlen(p);
    char hostport[sizeof(conf->host) + 8];
    if (hostport_len == 0 || hostport_len >= sizeof(hostport))
        return rp_err_set(err, RP_EINVAL, "redis.url", "missing host");
    memcpy(hostport, p, hostport_len);
    hostport[hostport_len] = '\0';
    char *colon = strrchr(hostport, ':');
    conf->port = 6379;
    if (colon && !strchr(colon, ']')) {
        char *end;
        long port = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || port < 1 || port > 65535)
            return rp_err_set(err, RP_EINVAL, "redis.url", "bad port in '%.80s'", url);
        conf->port = (int)port;
        *colon = '\0';
    }
    char *host = hostport;
    if (host[0] == '[') {
        host++;
        char *close = strchr(host, ']');
        if (!close)
            return rp_err_set(err, RP_EINVAL, "redis.url", "unterminated [ipv6] host");
        *close = '\0';
    }
    if (!*host || strlen(host) >= sizeof(conf->host))
        return rp_err_set(err, RP_EINVAL, "redis.url", "bad host");
    memcpy(conf->host, host, strlen(host) + 1);
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 100000)
            return rp_err_set(err, RP_EINVAL, "redis.url", "bad database number");
        conf->db = (int)db;
    }
    return 0;
}

void rp_store_configure(const struct rp_store_conf *conf)
{
    store_conf = *conf;
}

static void drop_connection(void)
{
    if (thread_conn) {
        redisFree(thread_conn);
        thread_conn = NULL;
        pthread_once(&conn_key_once, make_conn_key);
        pthread_setspecific(conn_key, NULL);
    }
}

static int handshake(redisContext *c)
{
    redisReply *r = NULL;
    if (store_conf.password[0]) {
        if (store_conf.username[0])
            r = redisCommand(c, "AUTH %s %s", store_conf.username, store_conf.password);
        else
            r = redisCommand(c, "AUTH %s", store_conf.password);
        if (!rp_reply_ok(r)) {
            rp_error("store", "Redis refused AUTH: %s", r ? r->str : c->errstr);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    if (store_conf.db) {
        r = redisCommand(c, "SELECT %d", store_conf.db);
        if (!rp_reply_ok(r)) {
            rp_error("store", "Redis refused SELECT %d", store_conf.db);
            if (r)
                freeReplyObject(r);
            return -1;
        }
        freeReplyObject(r);
    }
    return 0;
}

static redisContext *connection(void)
{
    if (thread_conn)
        return thread_conn;
    int64_t now = rp_mono_ms();
    if (thread_last_attempt_ms && now - thread_last_attempt_ms < RP_STORE_RETRY_MS &&
        last_connect_ms <= thread_last_attempt_ms)
        return NULL;
    thread_last_attempt_ms = now;
    struct timeval tv = {store_conf.timeout_ms / 1000, (long)(store_conf.timeout_ms % 1000) * 1000};
    redisContext *c = store_conf.unix_path[0]
                          ? redisConnectUnixWithTimeout(store_conf.unix_path, tv)
                          : redisConnectWithTimeout(store_conf.host, store_conf.port, tv);
    if (!c || c->err) {
        if (!thread_was_down)
            rp_warn("store", "cannot reach Redis: %s", c ? c->errstr : "out of memory");
        thread_was_down = 1;
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (!store_conf.unix_path[0])
        redisEnableKeepAlive(c);
    if (handshake(c)) {
        redisFree(c);
        thread_was_down = 1;
        return NULL;
    }
    if (thread_was_down)
        rp_info("store", "Redis reachable again");
    thread_was_down = 0;
    thread_last_attempt_ms = 0;
    last_connect_ms = now;
    thread_conn = c;
    pthread_once(&conn_key_once, make_conn_key);
    pthread_setspecific(conn_key, c);
    return c;
}

/* A NULL reply means the connection is unusable (I/O error, timeout): drop it so the next call
 * reconnects instead of reading a late answer meant for this one. */
static redisReply *checked(redisReply *r)
{
    if (!r) {
        if (thread_conn)
            rp_warn("store", "Redis connection lost: %s", thread_conn->errstr);
        drop_connection();
        thread_was_down = 1;
        thread_last_attempt_ms = rp_mono_ms();
    }
    return r;
}

/* A connection that sat idle through a Redis restart fails on first use with EOF or a reset
 * before the command reached the server; that one case is retried at once on a fresh
 * connection. A timeout is not retried: the command may have run. */
static int never_reached_server(const redisContext *c)
{
    return c->err == REDIS_ERR_EOF ||
           (c->err == REDIS_ERR_IO && (errno == ECONNRESET || errno == EPIPE));
}

redisReply *rp_store_command(const char *fmt, ...)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = connection();
        if (!c)
            return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *r = redisvCommand(c, fmt, ap);
        va_end(ap);
        if (r || attempt == 1 || !never_reached_server(c))
            return checked(r);
        drop_connection();
        thread_last_attempt_ms = 0;
    }
    return NULL;
}

redisReply *rp_store_commandv(int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = connection();
        if (!c)
            return NULL;
        redisReply *r = redisCommandArgv(c, argc, argv, lens);
        if (r || attempt == 1 || !never_reached_server(c))
            return checked(r);
        drop_connection();
        thread_last_attempt_ms = 0;
    }
    return NULL;
}

/* Appends fail only when the connection is missing; the error then surfaces at collect. */
static _Thread_local int thread_append_failed;

int rp_store_append(const char *fmt, ...)
{
    redisContext *c = connection();
    if (!c) {
        thread_append_failed = 1;
        return RP_ESTORE;
    }
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAppendCommand(c, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK)
        thread_append_failed = 1;
    return rc == REDIS_OK ? 0 : RP_ESTORE;
}

int rp_store_appendv(int argc, const char **argv, const size_t *lens)
{
    redisContext *c = connection();
    if (!c || redisAppendCommandArgv(c, argc, argv, lens) != REDIS_OK) {
        thread_append_failed = 1;
        return RP_ESTORE;
    }
    return 0;
}

int rp_store_collect(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (thread_append_failed || !thread_conn) {
        thread_append_failed = 0;
        drop_connection();
        return RP_ESTORE;
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(thread_conn, &r) != REDIS_OK || !r) {
            for (size_t j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            checked(NULL);
            return RP_ESTORE;
        }
        replies[i] = r;
    }
    return 0;
}

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;

redisReply *rp_store_eval(struct rp_script *script, int nkeys, int nargs, const char **args,
                          const size_t *lens)
{
    pthread_mutex_lock(&sha_lock);
    if (!script->sha[0]) {
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)script->source, strlen(script->source), digest);
        rp_hex(digest, sizeof(digest), script->sha);
    }
    pthread_mutex_unlock(&sha_lock);

    int argc = nargs + 3;
    const char *stack_argv[32];
    size_t stack_lens[32];
    const char **argv = argc <= 32 ? stack_argv : rp_malloc((size_t)argc * sizeof(char *));
    size_t *alens = argc <= 32 ? stack_lens : rp_malloc((size_t)argc * sizeof(size_t));
    char nkeys_s[16];
    snprintf(nkeys_s, sizeof(nkeys_s), "%d", nkeys);
    argv[0] = "EVALSHA";
    alens[0] = 7;
    argv[1] = script->sha;
    alens[1] = 40;
    argv[2] = nkeys_s;
    alens[2] = strlen(nkeys_s);
    for (int i = 0; i < nargs; i++) {
        argv[3 + i] = args[i];
        alens[3 + i] = lens ? lens[i] : strlen(args[i]);
    }
    redisReply *r = rp_store_commandv(argc, argv, alens);
    if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        argv[0] = "EVAL";
        alens[0] = 4;
        argv[1] = script->source;
        alens[1] = strlen(script->source);
        r = rp_store_commandv(argc, argv, alens);
    }
    if (argv != stack_argv) {
        free(argv);
        free(alens);
    }
    return r;
}

int rp_store_get_json(const char *key, json_t **out)
{
    *out = NULL;
    redisReply *r = rp_store_command("GET %s", key);
    if (!r)
        return RP_ESTORE;
    if (r->type == REDIS_REPLY_STRING)
        *out = json_loadb(r->str, r->len, 0, NULL);
    int rc = r->type == REDIS_REPLY_ERROR ? RP_ESTORE : *out != NULL;
    freeReplyObject(r);
    return rc;
}

int rp_store_set_json(const char *key, const json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    if (!text)
        rp_panic("out of memory serialising a stored document");
    redisReply *r = rp_store_command("SET %s %s", key, text);
    free(text);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

int rp_store_ping(void)
{
    redisReply *r = rp_store_command("PING");
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok;
}

void rp_store_thread_close(void)
{
    drop_connection();
}
