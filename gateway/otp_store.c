/* One-time password records in Redis (see otp_store.h for the key layout). */
#include "otp_store.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <string.h>

#define HOUR_MS   3600000
#define MINUTE_MS 60000

/* KEYS: destination counter, app counter. ARGV: their limits and windows (ms); 0 = none. */
static struct rp_script admit_script = {
    .source = "local dl, al = tonumber(ARGV[1]), tonumber(ARGV[3])\n"
              "if dl > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= dl then return 1 end\n"
              "if al > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= al then return 2 end\n"
              "if dl > 0 and redis.call('INCR', KEYS[1]) == 1 then\n"
              "  redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
              "if al > 0 and redis.call('INCR', KEYS[2]) == 1 then\n"
              "  redis.call('PEXPIRE', KEYS[2], ARGV[4]) end\n"
              "return 0\n"};

/* KEYS: record. ARGV: MAC, expiry (ms), attempts. Every field is written, so an earlier
 * record of the same name is wholly replaced without deleting it first. */
static struct rp_script put_script = {
    .source = "redis.call('HSET', KEYS[1], 'h', ARGV[1], 'exp', ARGV[2], 'left', ARGV[3])\n"
              "redis.call('PEXPIREAT', KEYS[1], ARGV[2])\n"
              "return 1\n"};

/* KEYS: record. ARGV: now (ms). Takes one attempt and answers the stored MAC, or nil when the
 * record is missing, expired or exhausted (then removed). The comparison is left to the caller
 * (constant time, in C). */
static struct rp_script take_script = {
    .source = "local r = redis.call('HMGET', KEYS[1], 'h', 'exp', 'left')\n"
              "if not r[1] then return false end\n"
              "local left = tonumber(r[3]) or 0\n"
              "if (tonumber(r[2]) or 0) <= tonumber(ARGV[1]) or left <= 0 then\n"
              "  redis.call('DEL', KEYS[1]) return false end\n"
              "redis.call('HSET', KEYS[1], 'left', left - 1)\n"
              "return r[1]\n"};

/* KEYS: record. ARGV: the MAC that matched. Removes the record if it still holds that code. */
static struct rp_script consume_script = {
    .source = "if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then\n"
              "  redis.call('DEL', KEYS[1]) return 1 end\n"
              "return 0\n"};

static void record_key(char *out, const char *app, const char *record)
{
    snprintf(out, RP_KEY_MAX, "rp:{a:%s}:otp:%s", app, record);
}

/* r when it has one of the two expected types; else logs a script error, frees r and returns
 * NULL. */
static redisReply *expect(redisReply *r, int type, int or_type)
{
    if (rp_reply_ok(r) && (r->type == type || r->type == or_type))
        return r;
    if (r && r->type == REDIS_REPLY_ERROR)
        rp_warn("otp", "script failed: %.160s", r->str);
    if (r)
        freeReplyObject(r);
    return NULL;
}

static int integer_reply(redisReply *r, long long *out)
{
    r = expect(r, REDIS_REPLY_INTEGER, REDIS_REPLY_INTEGER);
    if (!r)
        return RP_ESTORE;
    *out = r->integer;
    freeReplyObject(r);
    return 0;
}

int rp_otp_store_admit(const char *app, const char *destination_id, long per_destination_hour,
                       long per_app_minute, int *which)
{
    char dkey[RP_KEY_MAX], akey[RP_KEY_MAX], dl[24], al[24], dw[24], aw[24];
    snprintf(dkey, sizeof(dkey), "rp:{a:%s}:otp-n:d:%s", app, destination_id);
    snprintf(akey, sizeof(akey), "rp:{a:%s}:otp-n:a", app);
    snprintf(dl, sizeof(dl), "%ld", per_destination_hour);
    snprintf(al, sizeof(al), "%ld", per_app_minute);
    snprintf(dw, sizeof(dw), "%d", HOUR_MS);
    snprintf(aw, sizeof(aw), "%d", MINUTE_MS);
    const char *args[] = {dkey, akey, dl, dw, al, aw};
    long long v = 0;
    int rc = integer_reply(rp_store_eval(&admit_script, 2, 6, args, NULL), &v);
    if (rc)
        return rc;
    *which = (int)v;
    return v ? RP_ELIMIT : 0;
}

int rp_otp_store_put(const char *app, const char *record, const char *mac_hex, int64_t expires_ms,
                     int attempts)
{
    char key[RP_KEY_MAX], exp[24], left[16];
    record_key(key, app, record);
    snprintf(exp, sizeof(exp), "%lld", (long long)expires_ms);
    snprintf(left, sizeof(left), "%d", attempts);
    const char *args[] = {key, mac_hex, exp, left};
    long long v = 0;
    return integer_reply(rp_store_eval(&put_script, 1, 4, args, NULL), &v);
}

int rp_otp_store_check(const char *app, const char *record, const char *mac_hex, int64_t now_ms)
{
    char key[RP_KEY_MAX], now[24];
    record_key(key, app, record);
    snprintf(now, sizeof(now), "%lld", (long long)now_ms);
    const char *args[] = {key, now};
    redisReply *r =
        expect(rp_store_eval(&take_script, 1, 2, args, NULL), REDIS_REPLY_NIL, REDIS_REPLY_STRING);
    if (!r)
        return RP_ESTORE;
    size_t want = strlen(mac_hex);
    int match = r->type == REDIS_REPLY_STRING && r->len == want &&
                CRYPTO_memcmp(r->str, mac_hex, want) == 0;
    freeReplyObject(r);
    if (!match)
        return 0;
    const char *cargs[] = {key, mac_hex};
    long long v = 0;
    int rc = integer_reply(rp_store_eval(&consume_script, 1, 2, cargs, NULL), &v);
    return rc ? rc : v == 1;
}
