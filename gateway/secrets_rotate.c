#include "secrets_rotate.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"
#include "../channels/channel.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

/* Replaces the sealed field only if it still holds what was read. */
static struct rp_script swap_sealed_script = {
    .source = "if redis.call('HGET', KEYS[1], 'sealed') ~= ARGV[1] then return 0 end "
              "redis.call('HSET', KEYS[1], 'sealed', ARGV[2]) return 1"};

/* One record: 0 done (counted), RP_ESTORE when Redis failed. */
static int rotate_record(const struct rp_secrets *s, const char *app, const char *type,
                         const char *sealed, struct rp_rotation_counts *counts, FILE *report)
{
    if (rp_secrets_is_current(s, sealed)) {
        counts->current++;
        return 0;
    }
    char aad[128];
    snprintf(aad, sizeof(aad), "%s/%s", app, type);
    char *plain = NULL;
    size_t len = 0;
    if (rp_secrets_open(s, aad, sealed, &plain, &len) != 0) {
        counts->unreadable++;
        fprintf(report, "repoint: app %s channel %s: sealed with a key not in secrets.key_file "
                        "or secrets.previous_key_files\n", app, type);
        return 0;
    }
    char *resealed = rp_secrets_seal(s, aad, plain, len);
    OPENSSL_cleanse(plain, len);
    free(plain);
    char key[RP_KEY_MAX];
    rp_key_channel(key, app, type);
    const char *args[] = {key, sealed, resealed};
    redisReply *r = rp_store_eval(&swap_sealed_script, 1, 3, args, NULL);
    free(resealed);
    int ok = rp_reply_ok(r) && r->type == REDIS_REPLY_INTEGER;
    if (ok && r->integer == 1)
        counts->resealed++;
    else if (ok)
        counts->raced++;
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

/* Every channel record of one app, read in one pipeline. */
static int rotate_app(const struct rp_secrets *s, const char *app,
                      struct rp_rotation_counts *counts, FILE *report)
{
    size_t n;
    const struct rp_channel_ops *const *channels = rp_channel_all(&n);
    char key[RP_KEY_MAX];
    for (size_t i = 0; i < n; i++) {
        rp_key_channel(key, app, channels[i]->type);
        rp_store_append("HGET %s sealed", key);
    }
    redisReply *replies[RP_CHANNEL_MAX];
    if (rp_store_collect(replies, n))
        return RP_ESTORE;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0 && replies[i]->type == REDIS_REPLY_STRING)
            rc = rotate_record(s, app, channels[i]->type, replies[i]->str, counts, report);
        freeReplyObject(replies[i]);
    }
    return rc;
}

int rp_secrets_rotate(const struct rp_secrets *s, struct rp_rotation_counts *counts,
                      FILE *report)
{
    memset(counts, 0, sizeof(*counts));
    redisReply *apps = rp_store_command("ZRANGE %s 0 -1", RP_KEY_APPS);
    if (!rp_reply_ok(apps) || apps->type != REDIS_REPLY_ARRAY) {
        if (apps)
            freeReplyObject(apps);
        return RP_ESTORE;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < apps->elements; i++)
        if (apps->element[i]->type == REDIS_REPLY_STRING)
            rc = rotate_app(s, apps->element[i]->str, counts, report);
    freeReplyObject(apps);
    return rc;
}
