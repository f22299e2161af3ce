/* The MessagesPerSecond limit of one app on one channel, shared by every instance through Redis.
 *
 * The limit is the lowest non-zero of three sources (0 = no limit):
 *   Config       limits.<channel>.messages_per_second (the operator's ceiling per channel type)
 *   Application  Limits.MessagesPerSecond in the app's stored ApplicationSettingsResource
 *   Override     the per-app-per-channel value of PUT /repoint/v1/apps/{id}/channels/{type}/limits
 *
 * Tokens come from a token bucket (GCRA's equivalent, see limiter.c) kept in Redis and updated
 * by one Lua script, so the decision is atomic across instances, and the script reads Redis's
 * own clock (TIME) so instances with skewed clocks agree. Burst: a bucket of
 * max(1, rate / 10) tokens, i.e. 100 ms of traffic; over any interval of t seconds at most
 * rate * t + burst tokens are granted in total, whatever the number of instances. */
#ifndef RP_LIMITER_H
#define RP_LIMITER_H

#include <stdint.h>

struct rp_config;

/* Largest batch one take may ask for. */
#define RP_LIMITER_MAX_WANT 1000
/* Tokens refill at this fraction of the limit (see rp_limiter_take). */
#define RP_LIMITER_PACING 0.98
/* How long an instance keeps using a limit it looked up before looking again: a change made on
 * another instance applies here within this time. */
#define RP_LIMITER_CACHE_MS 1000
/* The Override source accepts what Pinpoint accepts for Limits.MessagesPerSecond. */
#define RP_LIMITER_OVERRIDE_MIN 1
#define RP_LIMITER_OVERRIDE_MAX 20000

/* The three sources of one (app, channel), each 0 when it sets no limit. */
struct rp_limit_sources {
    long config;
    long application;
    long override_value;
};

/* (Re)loads the Config source from cfg (borrowed only for the call): at start and on SIGHUP;
 * until it is called the limiter reads rp_ctx.cfg. Workers pick the new values up within
 * RP_LIMITER_CACHE_MS. */
void rp_limiter_load_config(const struct rp_config *cfg);

/* Burst of a limit: the bucket size in tokens (0 for no limit). */
long rp_limiter_burst(long per_second);

/* The lowest non-zero source, 0 when none sets a limit. */
long rp_limit_sources_effective(const struct rp_limit_sources *src);

/* Takes up to want (1..RP_LIMITER_MAX_WANT) tokens for app_id on channel_type (a Pinpoint
 * ChannelType, "SMS"); both strings borrowed. Returns 0 with *granted in 0..want and, when
 * *granted < want, *wait_ms > 0: the milliseconds until the next token (0 otherwise). Without
 * a limit grants want at once, without asking Redis for tokens. RP_EINVAL for bad arguments,
 * RP_ESTORE when Redis cannot be asked (nothing granted). Thread-safe. */
int rp_limiter_take(const char *app_id, const char *channel_type, int want, int *granted,
                    int64_t *wait_ms);

/* The effective limit (0 = none) in *per_second, from a per-process cache of at most
 * RP_LIMITER_CACHE_MS; a miss costs one pipelined round trip. Returns 0, RP_EINVAL or
 * RP_ESTORE. Thread-safe. */
int rp_limiter_effective(const char *app_id, const char *channel_type, long *per_second);

/* Reads the three sources from the config and Redis, bypassing the cache (the API's GET).
 * Returns 0, RP_EINVAL or RP_ESTORE. */
int rp_limiter_sources(const char *app_id, const char *channel_type, struct rp_limit_sources *src);

/* Stores the Override source (RP_LIMITER_OVERRIDE_MIN..MAX) or, with 0, removes it, and drops
 * this instance's cached limits of the app. Returns 0, RP_EINVAL or RP_ESTORE. */
int rp_limiter_set_override(const char *app_id, const char *channel_type, long per_second);

/* Drops this instance's cached limits of app_id (borrowed); call after its settings or an
 * override change. */
void rp_limiter_invalidate(const char *app_id);

/* Keys, both under the app's hash tag so they go with the app (and its purge) on a cluster.
 * Each writes into out (RP_KEY_MAX bytes) and returns the length. */
int rp_key_rate_state(char *out, const char *app, const char *type);    /* hash: the token bucket */
int rp_key_rate_override(char *out, const char *app, const char *type); /* string: integer */

#endif
