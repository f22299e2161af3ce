#include "keyspace.h"

#include <stdio.h>
#include <string.h>

uint32_t rp_fnv1a(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

unsigned rp_endpoint_shard(const char *endpoint_id)
{
    return rp_fnv1a(endpoint_id, strlen(endpoint_id)) % RP_ENDPOINT_SHARDS;
}

int rp_key_app(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:app", app);
}

int rp_key_settings(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:settings", app);
}

int rp_key_channel(char *out, const char *app, const char *type)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:ch:%s", app, type);
}

int rp_key_removed_attrs(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:rmattrs", app);
}

int rp_key_endpoint(char *out, const char *app, unsigned shard, const char *endpoint_id)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:ep:%s", app, shard, endpoint_id);
}

int rp_key_shard_members(char *out, const char *app, unsigned shard)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:eps", app, shard);
}

int rp_key_user(char *out, const char *app, unsigned shard, const char *user_id)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:u:%s", app, shard, user_id);
}

int rp_key_shard_prefix(char *out, const char *app, unsigned shard)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:", app, shard);
}

int rp_key_app_prefix(char *out, const char *app)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:", app);
}
