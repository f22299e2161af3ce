#include "janitor.h"
#include "address_index.h"
#include "endpoint_store.h"
#include "events.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCAN_COUNT 1000
#define PASS_INTERVAL_MS 1000

static pthread_t janitor_thread;
static atomic_int janitor_running;

/* Unlinks the keys of one SCAN page, one UNLINK per key so a cluster routes each to its slot's
 * node, in one pipeline. Returns 0 or RP_ESTORE. */
static int unlink_keys(const redisReply *keys)
{
    for (size_t i = 0; i < keys->elements; i++)
        rp_store_append("UNLINK %b", keys->element[i]->str, (size_t)keys->element[i]->len);
    return rp_store_collect_ok(keys->elements);
}

/* Runs page() on every SCAN page of the keys matching pattern (and of type, unless NULL) on one
 * node; returns 0 when the node is done, RP_EAGAIN when stopped early, RP_ESTORE on failure. */
static int scan_on(int node, const char *pattern, const char *type,
                   int (*page)(const redisReply *keys))
{
    char cursor[32] = "0";
    do {
        redisReply *r =
            type ? rp_store_command_on(node, "SCAN %s MATCH %s COUNT %d TYPE %s", cursor, pattern,
                                       SCAN_COUNT, type)
                 : rp_store_command_on(node, "SCAN %s MATCH %s COUNT %d", cursor, pattern,
                                       SCAN_COUNT);
        if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (r)
                freeReplyObject(r);
            return RP_ESTORE;
        }
        snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
        int rc = r->element[1]->elements ? page(r->element[1]) : 0;
        freeReplyObject(r);
        if (rc)
            return rc;
    } while (strcmp(cursor, "0") != 0 && atomic_load(&janitor_running) != 2);
    return strcmp(cursor, "0") == 0 ? 0 : RP_EAGAIN;
}

/* scan_on over every node that holds data; 0 when all are done. */
static int scan_all(const char *pattern, const char *type, int (*page)(const redisReply *keys))
{
    int data_nodes[64];
    int n = rp_store_data_nodes(data_nodes, 64);
    if (n == 0)
        return RP_ESTORE;
    for (int i = 0; i < n; i++) {
        int rc = scan_on(data_nodes[i], pattern, type, page);
        if (rc)
            return rc;
    }
    return 0;
}

/* Unlinks every key of one app on every node that holds data; returns 0 when the app is gone. */
static int purge_app(const char *app)
{
    char pattern[RP_KEY_MAX];
    /* Matches rp:{a:APP}:..., rp:{e:APP:N}:... and rp:{x:APP:N}:... (app ids are hex, no glob
     * characters). */
    snprintf(pattern, sizeof(pattern), "rp:{[aex]:%s[:}]*", app);
    return scan_all(pattern, NULL, unlink_keys);
}

static long endpoints_converted, addresses_converted;

static int convert_endpoints(const redisReply *keys)
{
    endpoints_converted += (long)keys->elements;
    return rp_endpoint_store_convert(keys);
}

static int convert_addresses(const redisReply *keys)
{
    addresses_converted += (long)keys->elements;
    return rp_address_index_convert(keys);
}

/* What an older Repoint stored in an older layout (endpoint_store.c, address_index.h) is
 * converted in the background, once: RP_KEY_LAYOUT records that nothing is left, so later starts
 * do not walk the keyspace again. Readers and writers convert what they meet meanwhile. */
static void convert_older_layouts(void)
{
    static int done;
    if (done)
        return;
    redisReply *r = rp_store_command("GET " RP_KEY_LAYOUT);
    int marked = rp_reply_ok(r) && r->type == REDIS_REPLY_STRING && strcmp(r->str, RP_LAYOUT) == 0;
    if (r)
        freeReplyObject(r);
    if (marked) {
        done = 1;
        return;
    }
    if (scan_all("rp:{e:*}:ep:*", "hash", convert_endpoints) ||
        scan_all("rp:{x:*}:ad:*", "set", convert_addresses))
        return;
    r = rp_store_command("SET " RP_KEY_LAYOUT " " RP_LAYOUT);
    done = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    if (done && (endpoints_converted || addresses_converted))
        rp_info("janitor", "converted %ld endpoints and %ld address index entries to the current "
                           "layout", endpoints_converted, addresses_converted);
}

int rp_janitor_run_once(void)
{
    redisReply *r = rp_store_command("SMEMBERS " RP_KEY_PURGE);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    int done = 0;
    for (size_t i = 0; i < r->elements; i++) {
        const char *app = r->element[i]->str;
        if (purge_app(app) != 0 || rp_events_unlist_app(app) != 0)
            continue;
        redisReply *d = rp_store_command("SREM " RP_KEY_PURGE " %s", app);
        if (rp_reply_ok(d)) {
            done++;
            rp_info("janitor", "finished removing the data of deleted app %s", app);
        }
        if (d)
            freeReplyObject(d);
    }
    freeReplyObject(r);
    return done;
}

static void *janitor_main(void *arg)
{
    while (atomic_load(&janitor_running) == 1) {
        convert_older_layouts();
        rp_janitor_run_once();
        for (int waited = 0; waited < PASS_INTERVAL_MS && atomic_load(&janitor_running) == 1;
             waited += 50) {
            struct timespec ts = {0, 50 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    rp_store_thread_close();
    return NULL;
}

int rp_janitor_start(void)
{
    atomic_store(&janitor_running, 1);
    if (pthread_create(&janitor_thread, NULL, janitor_main, NULL)) {
        atomic_store(&janitor_running, 0);
        return RP_EIO;
    }
    return 0;
}

void rp_janitor_stop(void)
{
    if (atomic_load(&janitor_running) != 1)
        return;
    atomic_store(&janitor_running, 2);
    pthread_join(janitor_thread, NULL);
    atomic_store(&janitor_running, 0);
}
