#include "store.h"
#include "cluster.h"
#include "log.h"
#include "metrics.h"
#include "rc.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Nodes a process can talk to: the one server, or every cluster node it has heard of (seeds,
 * CLUSTER SLOTS, redirections). Entries are appended under nodes_lock and never change once
 * n_nodes covers them, so readers need no lock. */
#define MAX_NODES 64
#define NO_NODE 0xff
#define MAX_REDIRECTS 5
#define MAX_ARGS 4096

struct node {
    char host[256];
    int port;
};

static struct rp_store_conf store_conf = {.host = "127.0.0.1", .port = 6379, .timeout_ms = 1000};
static struct node nodes[MAX_NODES] = {{"127.0.0.1", 6379}};
static atomic_int n_nodes = 1;
static pthread_mutex_t nodes_lock = PTHREAD_MUTEX_INITIALIZER;
/* Cluster: the node owning each slot (NO_NODE until known), and whether the map should be read
 * again (after a MOVED or a lost node) before the next command is routed. */
static _Atomic unsigned char slot_owner[RP_CLUSTER_SLOTS];
static atomic_int slots_stale;
static pthread_mutex_t refresh_lock = PTHREAD_MUTEX_INITIALIZER;

/* A command queued in a cluster pipeline: kept formatted until its reply is in, so a redirected
 * one can be sent again. */
struct pending {
    int node;
    char *cmd;
    size_t len;
};

/* A command kept by rp_store_capture: where its text is in the capture buffer, and the node it
 * was sent to (-1: routed by its key, or the one server). */
struct captured {
    size_t off, len;
    int node;
};

/* cppcheck does not follow members of a _Thread_local struct. */
struct thread_store {
    redisContext *conn[MAX_NODES];
    // cppcheck-suppress unusedStructMember
    int64_t last_attempt_ms[MAX_NODES];
    // cppcheck-suppress unusedStructMember
    int was_down;
    // cppcheck-suppress unusedStructMember
    unsigned char connected_before[MAX_NODES];
    // cppcheck-suppress unusedStructMember
    int append_failed;
    struct pending *pending;    /* cluster */
    size_t n_pending, cap_pending;
    /* rp_store_capture: the commands appended since it began, formatted, end to end. */
    // cppcheck-suppress unusedStructMember
    int capturing;
    struct captured *captured;
    size_t n_captured, cap_captured;
    char *capture_buf;
    size_t capture_len, capture_size;
    /* rp_store_appendv's command text on a single server: hiredis copies it, so one buffer
     * per thread serves every event and queue entry without an allocation each. */
    char *format_buf;
    size_t format_size;
};

static _Thread_local struct thread_store ts;
/* When any thread last connected: a thread backing off retries at once once another thread has
 * seen Redis come back, so the whole pool recovers together. */
static _Atomic int64_t last_connect_ms;

/* Threads we do not own (libmicrohttpd's pool) exit without calling rp_store_thread_close; a
 * key destructor closes their connections then. */
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;

static void close_all(struct thread_store *t)
{
    for (int i = 0; i < MAX_NODES; i++)
        if (t->conn[i]) {
            redisFree(t->conn[i]);
            t->conn[i] = NULL;
        }
    for (size_t i = 0; i < t->n_pending; i++)
        redisFreeCommand(t->pending[i].cmd);
    free(t->pending);
    t->pending = NULL;
    t->n_pending = t->cap_pending = 0;
    free(t->captured);
    free(t->capture_buf);
    t->captured = NULL;
    t->capture_buf = NULL;
    t->n_captured = t->cap_captured = t->capture_len = t->capture_size = 0;
    free(t->format_buf);
    t->format_buf = NULL;
    t->format_size = 0;
}

static void close_at_thread_exit(void *state)
{
    close_all(state);
}

static void make_conn_key(void)
{
    pthread_key_create(&conn_key, close_at_thread_exit);
}

/* ---- configuration ------------------------------------------------------------------------ */

static int parse_hostport(const char *s, size_t len, char *host, size_t host_size, int *port,
                          const char *url, struct rp_err *err)
{
    char hostport[300];
    if (len == 0 || len >= sizeof(hostport))
        return rp_err_set(err, RP_EINVAL, "redis.url", "missing host");
    memcpy(hostport, s, len);
    hostport[len] = '\0';
    char *colon = strrchr(hostport, ':');
    *port = 6379;
    if (colon && !strchr(colon, ']')) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (*end || end == colon + 1 || p < 1 || p > 65535)
            return rp_err_set(err, RP_EINVAL, "redis.url", "bad port in '%.80s'", url);
        *port = (int)p;
        *colon = '\0';
    }
    char *h = hostport;
    if (h[0] == '[') {
        h++;
        char *close = strchr(h, ']');
        if (!close)
            return rp_err_set(err, RP_EINVAL, "redis.url", "unterminated [ipv6] host");
        *close = '\0';
    }
    if (!*h || strlen(h) >= host_size)
        return rp_err_set(err, RP_EINVAL, "redis.url", "bad host");
    memcpy(host, h, strlen(h) + 1);
    return 0;
}

static int parse_unix_url(const char *url, struct rp_store_conf *conf, struct rp_err *err)
{
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

int rp_store_parse_url(const char *url, struct rp_store_conf *conf, struct rp_err *err)
{
    memset(conf, 0, sizeof(*conf));
    conf->timeout_ms = 1000;
    if (strncmp(url, "unix://", 7) == 0)
        return parse_unix_url(url, conf, err);
    const char *p;
    if (strncmp(url, "redis://", 8) == 0) {
        p = url + 8;
    } else if (strncmp(url, "redis-cluster://", 16) == 0) {
        p = url + 16;
        conf->cluster = 1;
    } else {
        return rp_err_set(err, RP_EINVAL, "redis.url",
                          "'%.80s' must start with redis://, redis-cluster:// or unix://", url);
    }
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
    size_t hosts_len = slash ? (size_t)(slash - p) : strlen(p);
    if (slash && slash[1]) {
        char *end;
        long db = strtol(slash + 1, &end, 10);
        if (*end || db < 0 || db > 100000)
            return rp_err_set(err, RP_EINVAL, "redis.url", "bad database number");
        if (conf->cluster && db != 0)
            return rp_err_set(err, RP_EINVAL, "redis.url", "a Redis Cluster has database 0 only");
        conf->db = (int)db;
    }
    if (!conf->cluster)
        return parse_hostport(p, hosts_len, conf->host, sizeof(conf->host), &conf->port, url, err);
    /* host:port[,host:port...]: the first is host/port, the others seeds. */
    const char *end = p + hosts_len;
    for (int i = 0; p < end; i++) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t len = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (i > RP_STORE_MAX_SEEDS)
            return rp_err_set(err, RP_EINVAL, "redis.url", "more than %d cluster nodes named",
                              RP_STORE_MAX_SEEDS + 1);
        char *host = i == 0 ? conf->host : conf->seeds[i - 1].host;
        int *port = i == 0 ? &conf->port : &conf->seeds[i - 1].port;
        if (parse_hostport(p, len, host, sizeof(conf->host), port, url, err))
            return RP_EINVAL;
        conf->n_seeds = i;
        p = comma ? comma + 1 : end;
    }
    return 0;
}

void rp_store_configure(const struct rp_store_conf *conf)
{
    store_conf = *conf;
    pthread_mutex_lock(&nodes_lock);
    int n = 0;
    snprintf(nodes[n].host, sizeof(nodes[n].host), "%s", conf->host);
    nodes[n++].port = conf->port;
    for (int i = 0; conf->cluster && i < conf->n_seeds && n < MAX_NODES; i++, n++) {
        snprintf(nodes[n].host, sizeof(nodes[n].host), "%s", conf->seeds[i].host);
        nodes[n].port = conf->seeds[i].port;
    }
    atomic_store(&n_nodes, n);
    for (int s = 0; s < RP_CLUSTER_SLOTS; s++)
        atomic_store(&slot_owner[s], NO_NODE);
    atomic_store(&slots_stale, conf->cluster);
    pthread_mutex_unlock(&nodes_lock);
}

int rp_store_is_cluster(void)
{
    return store_conf.cluster;
}

/* The node number of host:port, added when new. Returns -1 when the table is full. */
static int node_index(const char *host, int port)
{
    int n = atomic_load(&n_nodes);
    for (int i = 0; i < n; i++)
        if (nodes[i].port == port && strcmp(nodes[i].host, host) == 0)
            return i;
    pthread_mutex_lock(&nodes_lock);
    n = atomic_load(&n_nodes);
    int found = -1;
    for (int i = 0; i < n && found < 0; i++)
        if (nodes[i].port == port && strcmp(nodes[i].host, host) == 0)
            found = i;
    if (found < 0 && n < MAX_NODES) {
        snprintf(nodes[n].host, sizeof(nodes[n].host), "%s", host);
        nodes[n].port = port;
        atomic_store(&n_nodes, n + 1);
        found = n;
    }
    pthread_mutex_unlock(&nodes_lock);
    if (found < 0)
        rp_error("store", "more than %d Redis nodes: %s:%d not used", MAX_NODES, host, port);
    return found;
}

/* ---- connections -------------------------------------------------------------------------- */

static void drop_connection(int node)
{
    if (ts.conn[node]) {
        redisFree(ts.conn[node]);
        ts.conn[node] = NULL;
    }
    if (store_conf.cluster)
        atomic_store(&slots_stale, 1); /* the node may have failed over */
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

static redisContext *connection(int node)
{
    if (ts.conn[node])
        return ts.conn[node];
    int64_t now = rp_mono_ms();
    if (ts.last_attempt_ms[node] && now - ts.last_attempt_ms[node] < RP_STORE_RETRY_MS &&
        last_connect_ms <= ts.last_attempt_ms[node])
        return NULL;
    ts.last_attempt_ms[node] = now;
    struct timeval tv = {store_conf.timeout_ms / 1000, (long)(store_conf.timeout_ms % 1000) * 1000};
    redisContext *c = store_conf.unix_path[0]
                          ? redisConnectUnixWithTimeout(store_conf.unix_path, tv)
                          : redisConnectWithTimeout(nodes[node].host, nodes[node].port, tv);
    if (!c || c->err) {
        rp_metrics_count(RP_MC_REDIS_ERRORS);
        if (!ts.was_down)
            rp_warn("store", "cannot reach Redis at %s:%d: %s", nodes[node].host,
                    nodes[node].port, c ? c->errstr : "out of memory");
        ts.was_down = 1;
        if (c)
            redisFree(c);
        if (store_conf.cluster)
            atomic_store(&slots_stale, 1);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (!store_conf.unix_path[0])
        redisEnableKeepAlive(c);
    if (handshake(c)) {
        redisFree(c);
        ts.was_down = 1;
        return NULL;
    }
    if (ts.was_down)
        rp_info("store", "Redis reachable again");
    if (ts.connected_before[node])
        rp_metrics_count(RP_MC_REDIS_RECONNECTIONS);
    ts.connected_before[node] = 1;
    ts.was_down = 0;
    ts.last_attempt_ms[node] = 0;
    last_connect_ms = now;
    ts.conn[node] = c;
    pthread_once(&conn_key_once, make_conn_key);
    pthread_setspecific(conn_key, &ts);
    return c;
}

/* A NULL reply means the connection is unusable (I/O error, timeout): drop it so the next call
 * reconnects instead of reading a late answer meant for this one. */
static redisReply *checked(int node, redisReply *r)
{
    if (!r) {
        rp_metrics_count(RP_MC_REDIS_ERRORS);
        if (ts.conn[node])
            rp_warn("store", "Redis connection lost: %s", ts.conn[node]->errstr);
        drop_connection(node);
        ts.was_down = 1;
        ts.last_attempt_ms[node] = rp_mono_ms();
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

/* Sends one formatted command to a node and reads its reply; with asking, ASKING goes first (the
 * node imports the slot and serves it only to clients that say they were redirected). */
static redisReply *exec_on(int node, const char *cmd, size_t len, int asking)
{
    static const char asking_cmd[] = "*1\r\n$6\r\nASKING\r\n";
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = connection(node);
        if (!c)
            return NULL;
        void *r = NULL;
        int ok = (!asking || redisAppendFormattedCommand(c, asking_cmd, sizeof(asking_cmd) - 1) ==
                                 REDIS_OK) &&
                 redisAppendFormattedCommand(c, cmd, len) == REDIS_OK;
        if (ok && asking) {
            ok = redisGetReply(c, &r) == REDIS_OK && r;
            if (r)
                freeReplyObject(r);
            r = NULL;
        }
        if (ok && redisGetReply(c, &r) == REDIS_OK && r)
            return r;
        if (attempt == 1 || !never_reached_server(c))
            return checked(node, NULL);
        drop_connection(node);
        ts.last_attempt_ms[node] = 0;
    }
    return NULL;
}

/* ---- cluster routing ---------------------------------------------------------------------- */

/* Reads the slot map from the first node that answers CLUSTER SLOTS. Only called with no
 * pipeline in progress on this thread, as it uses this thread's connections. */
static void refresh_slots(void)
{
    if (!atomic_load(&slots_stale) || pthread_mutex_trylock(&refresh_lock) != 0)
        return;
    atomic_store(&slots_stale, 0);
    int n = atomic_load(&n_nodes), done = 0;
    for (int i = 0; i < n && !done; i++) {
        static const char cmd[] = "*2\r\n$7\r\nCLUSTER\r\n$5\r\nSLOTS\r\n";
        redisReply *r = exec_on(i, cmd, sizeof(cmd) - 1, 0);
        if (!r)
            continue;
        if (r->type == REDIS_REPLY_ARRAY && r->elements > 0) {
            for (size_t e = 0; e < r->elements; e++) {
                const redisReply *range = r->element[e];
                if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
                    range->element[2]->type != REDIS_REPLY_ARRAY ||
                    range->element[2]->elements < 2)
                    continue;
                const redisReply *master = range->element[2];
                const char *host = master->element[0]->str && master->element[0]->str[0]
                                       ? master->element[0]->str
                                       : nodes[i].host;
                int node = node_index(host, (int)master->element[1]->integer);
                long long lo = range->element[0]->integer, hi = range->element[1]->integer;
                for (long long s = lo; node >= 0 && s <= hi && s < RP_CLUSTER_SLOTS && s >= 0; s++)
                    atomic_store(&slot_owner[s], (unsigned char)node);
            }
            done = 1;
        }
        freeReplyObject(r);
    }
    if (!done)
        atomic_store(&slots_stale, 1);
    pthread_mutex_unlock(&refresh_lock);
}

/* The node a formatted command goes to. may_refresh: no pipeline is in progress, so the slot map
 * may be read again first. */
static int route(const char *cmd, size_t len, int may_refresh)
{
    if (!store_conf.cluster)
        return 0;
    if (may_refresh)
        refresh_slots();
    const char *argv_small[64];
    size_t lens_small[64];
    const char **argv = argv_small;
    size_t *lens = lens_small;
    int argc = rp_cluster_parse_command(cmd, len, 64, argv, lens);
    if (argc < 0) {
        argv = rp_malloc(MAX_ARGS * sizeof(*argv));
        lens = rp_malloc(MAX_ARGS * sizeof(*lens));
        argc = rp_cluster_parse_command(cmd, len, MAX_ARGS, argv, lens);
    }
    const char *key;
    size_t key_len;
    int node = -1;
    if (argc > 0 && rp_cluster_command_key(argc, argv, lens, &key, &key_len))
        node = atomic_load(&slot_owner[rp_cluster_key_slot(key, key_len)]);
    if (argv != argv_small) {
        free(argv);
        free(lens);
    }
    if (node < 0 || node == NO_NODE) {
        /* Keyless, or a slot nobody claimed yet: any node that owns slots, else the first seed
         * (a MOVED answer then teaches us the owner). */
        int owner = atomic_load(&slot_owner[0]);
        node = owner == NO_NODE ? 0 : owner;
    }
    return node;
}

/* Follows MOVED / ASK / TRYAGAIN answers for one command. Takes r (a reply from node for cmd)
 * and returns the final reply, or NULL when a node cannot be reached. */
static redisReply *follow_redirects(int node, const char *cmd, size_t len, redisReply *r)
{
    for (int hop = 0; r && r->type == REDIS_REPLY_ERROR && hop < MAX_REDIRECTS; hop++) {
        unsigned slot;
        char host[256];
        int port, asking = 0;
        int kind = rp_cluster_parse_redirect(r->str, &slot, host, sizeof(host), &port);
        if (kind) {
            int target = node_index(host[0] ? host : nodes[node].host, port);
            if (target < 0)
                return r;
            rp_debug("store", "%s slot %u: %s:%d", kind == 1 ? "MOVED" : "ASK", slot,
                     nodes[target].host, nodes[target].port);
            if (kind == 1) {
                atomic_store(&slot_owner[slot], (unsigned char)target);
                atomic_store(&slots_stale, 1); /* more slots probably moved with this one */
            }
            asking = kind == 2;
            node = target;
        } else if (strncmp(r->str, "TRYAGAIN", 8) == 0) {
            usleep(20 * 1000); /* a multi-key command during a migration: keys are moving */
        } else {
            return r;
        }
        freeReplyObject(r);
        r = exec_on(node, cmd, len, asking);
    }
    return r;
}

static int is_redirect(const redisReply *r)
{
    return r->type == REDIS_REPLY_ERROR &&
           (strncmp(r->str, "MOVED ", 6) == 0 || strncmp(r->str, "ASK ", 4) == 0 ||
            strncmp(r->str, "TRYAGAIN", 8) == 0);
}

static redisReply *cluster_command(char *cmd, int len)
{
    if (len < 0)
        return NULL;
    int node = route(cmd, (size_t)len, ts.n_pending == 0);
    redisReply *r = follow_redirects(node, cmd, (size_t)len, exec_on(node, cmd, (size_t)len, 0));
    redisFreeCommand(cmd);
    return r;
}

static int cluster_append_to(int node, char *cmd, int len)
{
    if (len < 0) {
        ts.append_failed = 1;
        return RP_ESTORE;
    }
    redisContext *c = connection(node);
    if (!c || redisAppendFormattedCommand(c, cmd, (size_t)len) != REDIS_OK) {
        ts.append_failed = 1;
        redisFreeCommand(cmd);
        return RP_ESTORE;
    }
    if (ts.n_pending == ts.cap_pending) {
        ts.cap_pending = ts.cap_pending ? ts.cap_pending * 2 : 64;
        ts.pending = rp_realloc(ts.pending, ts.cap_pending * sizeof(*ts.pending));
    }
    ts.pending[ts.n_pending++] = (struct pending){.node = node, .cmd = cmd, .len = (size_t)len};
    return 0;
}

static int cluster_append(char *cmd, int len)
{
    if (len < 0) {
        ts.append_failed = 1;
        return RP_ESTORE;
    }
    return cluster_append_to(route(cmd, (size_t)len, ts.n_pending == 0), cmd, len);
}

static void clear_pending(void)
{
    for (size_t i = 0; i < ts.n_pending; i++)
        redisFreeCommand(ts.pending[i].cmd);
    ts.n_pending = 0;
}

static int cluster_collect(redisReply **replies, size_t n)
{
    int failed = ts.append_failed || n != ts.n_pending;
    ts.append_failed = 0;
    size_t got = 0;
    /* Every queued reply is read first: a redirected command is only sent again once no
     * connection of this thread has replies outstanding. */
    for (; !failed && got < n; got++) {
        struct pending *p = &ts.pending[got];
        void *r = NULL;
        if (!ts.conn[p->node] || redisGetReply(ts.conn[p->node], &r) != REDIS_OK || !r) {
            checked(p->node, NULL);
            failed = 1;
            break;
        }
        replies[got] = r;
    }
    for (size_t i = 0; !failed && i < n; i++)
        if (is_redirect(replies[i])) {
            replies[i] = follow_redirects(ts.pending[i].node, ts.pending[i].cmd,
                                          ts.pending[i].len, replies[i]);
            if (!replies[i])
                failed = 1;
        }
    if (failed) {
        /* Connections with replies still unread are out of step: close them. */
        for (size_t i = 0; i < ts.n_pending; i++)
            if (ts.conn[ts.pending[i].node] && i >= got)
                drop_connection(ts.pending[i].node);
        for (size_t i = 0; i < n; i++)
            if (replies[i]) {
                freeReplyObject(replies[i]);
                replies[i] = NULL;
            }
    }
    clear_pending();
    return failed ? RP_ESTORE : 0;
}

/* ---- commands ----------------------------------------------------------------------------- */

redisReply *rp_store_command(const char *fmt, ...)
{
    if (store_conf.cluster) {
        char *cmd = NULL;
        va_list ap;
        va_start(ap, fmt);
        int len = redisvFormatCommand(&cmd, fmt, ap);
        va_end(ap);
        return cluster_command(cmd, len);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = connection(0);
        if (!c)
            return NULL;
        va_list ap;
        va_start(ap, fmt);
        redisReply *r = redisvCommand(c, fmt, ap);
        va_end(ap);
        if (r || attempt == 1 || !never_reached_server(c))
            return checked(0, r);
        drop_connection(0);
        ts.last_attempt_ms[0] = 0;
    }
    return NULL;
}

redisReply *rp_store_commandv(int argc, const char **argv, const size_t *lens)
{
    if (store_conf.cluster) {
        char *cmd = NULL;
        int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
        return cluster_command(cmd, len);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        redisContext *c = connection(0);
        if (!c)
            return NULL;
        redisReply *r = redisCommandArgv(c, argc, argv, lens);
        if (r || attempt == 1 || !never_reached_server(c))
            return checked(0, r);
        drop_connection(0);
        ts.last_attempt_ms[0] = 0;
    }
    return NULL;
}

redisReply *rp_store_command_on(int node, const char *fmt, ...)
{
    if (node < 0 || node >= atomic_load(&n_nodes))
        return NULL;
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    if (len < 0)
        return NULL;
    redisReply *r = exec_on(node, cmd, (size_t)len, 0);
    redisFreeCommand(cmd);
    return r;
}

int rp_store_data_nodes(int *out, int max)
{
    if (!store_conf.cluster) {
        if (max > 0)
            out[0] = 0;
        return max > 0;
    }
    if (ts.n_pending == 0)
        refresh_slots();
    unsigned char seen[MAX_NODES] = {0};
    int n = 0;
    for (int s = 0; s < RP_CLUSTER_SLOTS; s++) {
        int owner = atomic_load(&slot_owner[s]);
        if (owner != NO_NODE && !seen[owner] && n < max) {
            seen[owner] = 1;
            out[n++] = owner;
        }
    }
    return n;
}

static void capture(int node, const char *cmd, size_t len)
{
    if (ts.capture_len + len > ts.capture_size) {
        ts.capture_size = (ts.capture_len + len) * 2;
        ts.capture_buf = rp_realloc(ts.capture_buf, ts.capture_size);
    }
    memcpy(ts.capture_buf + ts.capture_len, cmd, len);
    if (ts.n_captured == ts.cap_captured) {
        ts.cap_captured = ts.cap_captured ? ts.cap_captured * 2 : 256;
        ts.captured = rp_realloc(ts.captured, ts.cap_captured * sizeof(*ts.captured));
    }
    ts.captured[ts.n_captured++] = (struct captured){ts.capture_len, len, node};
    ts.capture_len += len;
}

/* Queues a formatted command on the one server (hiredis copies it: cmd stays the caller's). */
static int append_to_server(const char *cmd, size_t len)
{
    redisContext *c = connection(0);
    int ok = c && redisAppendFormattedCommand(c, cmd, len) == REDIS_OK;
    if (!ok)
        ts.append_failed = 1;
    return ok ? 0 : RP_ESTORE;
}

/* Queues a formatted command (owned: freed here or by the cluster pipeline) on node (-1: routed
 * by its key, or the one server). Appends fail only when the connection is missing; the error
 * then surfaces at collect. */
static int append_formatted(int node, char *cmd, int len)
{
    if (len < 0) {
        ts.append_failed = 1;
        return RP_ESTORE;
    }
    if (ts.capturing)
        capture(node, cmd, (size_t)len);
    if (store_conf.cluster)
        return node < 0 ? cluster_append(cmd, len) : cluster_append_to(node, cmd, len);
    int rc = append_to_server(cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rc;
}

int rp_store_append(const char *fmt, ...)
{
    char *cmd = NULL;
    va_list ap;
    va_start(ap, fmt);
    int len = redisvFormatCommand(&cmd, fmt, ap);
    va_end(ap);
    return append_formatted(-1, cmd, len);
}

/* "<prefix><n>\r\n" at out; returns the bytes written. */
static size_t put_count(char *out, char prefix, size_t n)
{
    char digits[20];
    size_t k = 0;
    do {
        digits[k++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    out[0] = prefix;
    for (size_t i = 0; i < k; i++)
        out[1 + i] = digits[k - 1 - i];
    out[1 + k] = '\r';
    out[2 + k] = '\n';
    return k + 3;
}

static size_t arg_len(const char **argv, const size_t *lens, int i)
{
    return lens ? lens[i] : strlen(argv[i]); /* NULL lens: C strings, as in hiredis */
}

/* At least the bytes format_into writes for these arguments. */
static size_t formatted_bound(int argc, const char **argv, const size_t *lens)
{
    size_t total = 23; /* "*<argc>\r\n" at most */
    for (int i = 0; i < argc; i++)
        total += 23 + arg_len(argv, lens, i) + 2;
    return total;
}

static size_t format_into(char *cmd, int argc, const char **argv, const size_t *lens)
{
    size_t at = put_count(cmd, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        size_t len = arg_len(argv, lens, i);
        at += put_count(cmd + at, '$', len);
        memcpy(cmd + at, argv[i], len);
        at += len;
        cmd[at++] = '\r';
        cmd[at++] = '\n';
    }
    return at;
}

int rp_store_format_argv(char **out, int argc, const char **argv, const size_t *lens)
{
    *out = rp_malloc(formatted_bound(argc, argv, lens));
    size_t len = format_into(*out, argc, argv, lens);
    return len > INT_MAX ? -1 : (int)len;
}

int rp_store_appendv(int argc, const char **argv, const size_t *lens)
{
    if (!store_conf.cluster) {
        size_t bound = formatted_bound(argc, argv, lens);
        if (bound > ts.format_size) {
            ts.format_size = bound > 2 * ts.format_size ? bound : 2 * ts.format_size;
            ts.format_buf = rp_realloc(ts.format_buf, ts.format_size);
        }
        size_t len = format_into(ts.format_buf, argc, argv, lens);
        if (ts.capturing)
            capture(-1, ts.format_buf, len);
        return append_to_server(ts.format_buf, len);
    }
    char *cmd = NULL;
    int len = rp_store_format_argv(&cmd, argc, argv, lens);
    if (len < 0) {
        free(cmd);
        cmd = NULL;
    }
    return append_formatted(-1, cmd, len);
}

void rp_store_capture(int on)
{
    ts.capturing = on;
    if (on)
        ts.n_captured = ts.capture_len = 0;
}

int rp_store_append_captured(size_t i)
{
    if (i >= ts.n_captured) {
        ts.append_failed = 1;
        return RP_ESTORE;
    }
    const struct captured *k = &ts.captured[i];
    char *cmd = rp_malloc(k->len);
    memcpy(cmd, ts.capture_buf + k->off, k->len);
    int capturing = ts.capturing;
    ts.capturing = 0; /* a command sent again keeps its first index */
    int rc = append_formatted(k->node, cmd, (int)k->len);
    ts.capturing = capturing;
    return rc;
}

int rp_store_collect(redisReply **replies, size_t n)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (store_conf.cluster)
        return cluster_collect(replies, n);
    if (ts.append_failed || !ts.conn[0]) {
        ts.append_failed = 0;
        drop_connection(0);
        return RP_ESTORE;
    }
    for (size_t i = 0; i < n; i++) {
        void *r = NULL;
        if (redisGetReply(ts.conn[0], &r) != REDIS_OK || !r) {
            for (size_t j = 0; j < i; j++) {
                freeReplyObject(replies[j]);
                replies[j] = NULL;
            }
            checked(0, NULL);
            return RP_ESTORE;
        }
        replies[i] = r;
    }
    return 0;
}

int rp_reply_refused_for_now(const redisReply *r)
{
    static const char *const passing[] = {"OOM", "BUSY", "LOADING", "READONLY", "MASTERDOWN",
                                          "TRYAGAIN", "CLUSTERDOWN"};
    if (!r || r->type != REDIS_REPLY_ERROR)
        return 0;
    size_t word = strcspn(r->str, " "); /* the error code: BUSYGROUP is not BUSY */
    for (size_t i = 0; i < sizeof(passing) / sizeof(passing[0]); i++)
        if (strlen(passing[i]) == word && strncmp(r->str, passing[i], word) == 0)
            return 1;
    return 0;
}

int rp_store_collect_ok(size_t n)
{
    redisReply *stack[64];
    redisReply **replies = n <= 64 ? stack : rp_malloc(n * sizeof(redisReply *));
    int rc = rp_store_collect(replies, n);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!rp_reply_ok(replies[i]))
            rc = RP_ESTORE;
    for (size_t i = 0; i < n; i++)
        if (replies[i])
            freeReplyObject(replies[i]);
    if (replies != stack)
        free(replies);
    return rc;
}

int rp_store_collect_after_loads(size_t loads, redisReply **replies, size_t n)
{
    redisReply **all = rp_malloc(((loads + n) ? (loads + n) : 1) * sizeof(redisReply *));
    int rc = rp_store_collect(all, loads + n);
    if (rc == 0) {
        for (size_t i = 0; i < loads; i++)
            freeReplyObject(all[i]);
        memcpy(replies, all + loads, n * sizeof(redisReply *));
    }
    free(all);
    return rc;
}

static pthread_mutex_t sha_lock = PTHREAD_MUTEX_INITIALIZER;

const char *rp_store_script_sha(struct rp_script *script)
{
    pthread_mutex_lock(&sha_lock);
    if (!script->sha[0]) {
        unsigned char digest[SHA_DIGEST_LENGTH];
        SHA1((const unsigned char *)script->source, strlen(script->source), digest);
        rp_hex(digest, sizeof(digest), script->sha);
    }
    pthread_mutex_unlock(&sha_lock);
    return script->sha;
}

size_t rp_store_append_script_load(struct rp_script *script)
{
    if (!store_conf.cluster) {
        rp_store_append("SCRIPT LOAD %s", script->source);
        return 1;
    }
    int data_nodes[MAX_NODES];
    int n = rp_store_data_nodes(data_nodes, MAX_NODES);
    for (int i = 0; i < n; i++) {
        char *cmd = NULL;
        int len = redisFormatCommand(&cmd, "SCRIPT LOAD %s", script->source);
        append_formatted(data_nodes[i], cmd, len);
    }
    return (size_t)n;
}

redisReply *rp_store_eval(struct rp_script *script, int nkeys, int nargs, const char **args,
                          const size_t *lens)
{
    rp_store_script_sha(script);

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
    /* Each cluster node has its own script cache: NOSCRIPT is answered per node. */
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

int rp_store_get_hash(const char *key, json_t **out)
{
    *out = NULL;
    redisReply *r = rp_store_command("HGETALL %s", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    if (r->elements > 0) {
        *out = json_object();
        for (size_t i = 0; i + 1 < r->elements; i += 2)
            json_object_set_new(*out, r->element[i]->str,
                                json_stringn(r->element[i + 1]->str, r->element[i + 1]->len));
    }
    freeReplyObject(r);
    return *out ? 1 : 0;
}

/* A reply holding a JSON document as a string: 1 and *out when present and parseable, 0 when
 * absent, RP_ESTORE for no reply or an error reply. Frees r. */
static int json_of_reply(redisReply *r, json_t **out)
{
    *out = NULL;
    if (!r)
        return RP_ESTORE;
    if (r->type == REDIS_REPLY_STRING)
        *out = json_loadb(r->str, r->len, 0, NULL);
    int rc = r->type == REDIS_REPLY_ERROR ? RP_ESTORE : *out != NULL;
    freeReplyObject(r);
    return rc;
}

int rp_store_get_json(const char *key, json_t **out)
{
    return json_of_reply(rp_store_command("GET %s", key), out);
}

int rp_store_hget_json(const char *key, const char *field, json_t **out)
{
    return json_of_reply(rp_store_command("HGET %s %s", key, field), out);
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
    close_all(&ts);
}
