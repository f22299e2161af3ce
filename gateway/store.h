/* The Redis store as the API threads see it: one synchronous hiredis connection per thread (per
 * node with a Redis Cluster), opened lazily, with short timeouts so a Redis outage fails requests
 * fast (RP_ESTORE, a retryable 5xx at the API) instead of hanging them, and reconnection that
 * happens by itself once Redis is back (at most one attempt per thread every RP_STORE_RETRY_MS).
 *
 * With a cluster (redis-cluster://host:port,host:port) every command goes to the node that owns
 * its key's slot (gateway/cluster.h), from a slot map read with CLUSTER SLOTS; pipelines are split
 * per node and their replies handed back in the order the commands were queued; MOVED and ASK
 * redirections are followed (and the map refreshed) so a slot migration or a failover is invisible
 * to callers. Keys a command or script uses together share a hash tag (gateway/keyspace.h). */
#ifndef RP_STORE_H
#define RP_STORE_H

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdlib.h>
#include <stddef.h>

#include "err.h"

#define RP_STORE_RETRY_MS 200
#define RP_STORE_MAX_SEEDS 16

struct rp_store_conf {
    char host[256];
    int port;
    int cluster;                 /* redis-cluster://: host/port and seeds are entry points */
    int n_seeds;                 /* further cluster entry points beyond host:port */
    struct {
        char host[256];
        int port;
    } seeds[RP_STORE_MAX_SEEDS];
    char unix_path[256];
    int db;
    char username[128];
    char password[256];
    int timeout_ms;
};

/* Parses redis://[[user]:password@]host[:port][/db], unix:///path[?db=N], or
 * redis-cluster://[[user]:password@]host:port[,host:port...] (database 0 only, as the cluster
 * has no other). */
int rp_store_parse_url(const char *url, struct rp_store_conf *conf, struct rp_err *err);

/* Sets the process-wide target; call before any thread uses the store. Borrows nothing. */
void rp_store_configure(const struct rp_store_conf *conf);

/* Runs one command on this thread's connection. Returns a reply owned by the caller
 * (freeReplyObject) or NULL when Redis is unreachable; a Redis error reply (type
 * REDIS_REPLY_ERROR) is returned as is. */
redisReply *rp_store_command(const char *fmt, ...);
redisReply *rp_store_commandv(int argc, const char **argv, const size_t *lens);

/* Pipelining: queue n commands with rp_store_append*, then collect exactly n replies with
 * rp_store_collect. rp_store_collect returns 0 and fills replies[] (each owned by the caller),
 * or RP_ESTORE (all replies freed, connection reset). */
int rp_store_append(const char *fmt, ...);
int rp_store_appendv(int argc, const char **argv, const size_t *lens);
/* The bytes redisFormatCommandArgv writes (*out: malloc'd), without its sprintf per argument:
 * every event and queue entry is formatted here. lens NULL: the arguments are C strings.
 * Returns the length, or -1. */
int rp_store_format_argv(char **out, int argc, const char **argv, const size_t *lens);
int rp_store_collect(redisReply **replies, size_t n);
/* For a pipeline some of whose commands Redis may refuse for a while (OOM, BUSY, LOADING ...):
 * rp_store_capture(1) before appending keeps each command this thread appends, formatted, until
 * the next rp_store_capture(1); rp_store_append_captured(i) queues the i-th of them (from 0)
 * again, to be collected like any other. rp_store_capture(0) stops keeping them. */
void rp_store_capture(int on);
int rp_store_append_captured(size_t i);
/* rp_store_collect for a caller that needs only to know all n commands succeeded: 0, or
 * RP_ESTORE when the store failed or any reply is an error. The replies are freed. */
int rp_store_collect_ok(size_t n);
/* rp_store_collect for a pipeline that starts with the loads replies of
 * rp_store_append_script_load: those are freed (a failed load shows as NOSCRIPT in the replies
 * after it), the n after them land in replies. */
int rp_store_collect_after_loads(size_t loads, redisReply **replies, size_t n);

/* A Lua script run with EVALSHA, falling back to EVAL once when the server answers NOSCRIPT
 * (after a restart or SCRIPT FLUSH). sha is computed on first use. */
struct rp_script {
    const char *source;
    char sha[41];
};
redisReply *rp_store_eval(struct rp_script *script, int nkeys, int nargs, const char **args,
                          const size_t *lens);
/* The script's SHA1 in hex (computed once), for EVALSHA queued in a pipeline. */
const char *rp_store_script_sha(struct rp_script *script);
/* For pipelines of EVALSHA: queues SCRIPT LOAD of script on every node that holds data (the one
 * server, or each cluster master: script caches are per node), so the EVALSHAs queued after it
 * cannot meet NOSCRIPT. Call first in the pipeline; returns how many replies it adds. */
size_t rp_store_append_script_load(struct rp_script *script);

/* A JSON document stored as a string (settings, RemoveAttributes records, event stream
 * settings). rp_store_get_json returns 1 and *out (new reference) when present and parseable,
 * 0 when absent (*out NULL), RP_ESTORE when Redis cannot be asked. rp_store_set_json borrows
 * value; returns 0 or RP_ESTORE. */
int rp_store_get_json(const char *key, json_t **out);
int rp_store_set_json(const char *key, const json_t *value);
/* The same for a document stored in a hash field (versions of segments and campaigns). */
int rp_store_hget_json(const char *key, const char *field, json_t **out);

/* A hash read whole (job and campaign records): returns 1 and *out (new reference, an object of
 * strings) when it has fields, 0 when absent (*out NULL), RP_ESTORE when Redis cannot be asked. */
int rp_store_get_hash(const char *key, json_t **out);
/* A field of such a record: its text, or "" when missing; as a number, 0 when missing. */
static inline const char *rp_hash_field(const json_t *rec, const char *name)
{
    const char *v = json_string_value(json_object_get(rec, name));
    return v ? v : "";
}
static inline long long rp_hash_int(const json_t *rec, const char *name)
{
    return strtoll(rp_hash_field(rec, name), NULL, 10);
}

/* 1 when this thread's connection answers PING (used by /repoint/ready). */
int rp_store_ping(void);

/* 1 when talking to a Redis Cluster: commands over keys in different slots cannot be combined
 * (one XREADGROUP per stream instead of one for all). */
int rp_store_is_cluster(void);
/* The nodes that hold data (every master of a cluster, the one server otherwise), for commands
 * that must visit each (SCAN). Fills up to max node numbers; returns how many. */
int rp_store_data_nodes(int *nodes, int max);
/* Runs a keyless command on one node of rp_store_data_nodes. Same contract as
 * rp_store_command. */
redisReply *rp_store_command_on(int node, const char *fmt, ...);

/* Closes this thread's connection (thread exit, tests). */
void rp_store_thread_close(void);

/* Helpers for replies: 1 when reply is a non-NULL, non-error reply. */
static inline int rp_reply_ok(const redisReply *r)
{
    return r && r->type != REDIS_REPLY_ERROR;
}

/* Whether r is an error Redis gives for a while and then stops giving, so that the same command
 * sent again later can succeed: full (OOM, until memory frees), busy with a script (BUSY),
 * loading its data (LOADING), or between masters (READONLY, MASTERDOWN, TRYAGAIN,
 * CLUSTERDOWN). */
int rp_reply_refused_for_now(const redisReply *r);

#endif
