#include "keyspace.h"

#include <ctype.h>
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

void rp_endpoint_key_id(const char *endpoint_id, char *out, size_t size)
{
    size_t i = 0;
    for (; endpoint_id[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)endpoint_id[i]);
    out[i] = '\0';
}

unsigned rp_endpoint_shard(const char *endpoint_id)
{
    char folded[RP_KEY_MAX];
    rp_endpoint_key_id(endpoint_id, folded, sizeof(folded));
    return rp_fnv1a(folded, strlen(folded)) % RP_ENDPOINT_SHARDS;
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
    char folded[RP_KEY_MAX];
    rp_endpoint_key_id(endpoint_id, folded, sizeof(folded));
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:ep:%s", app, shard, folded);
}

int rp_key_shard_members(char *out, const char *app, unsigned shard)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:eps", app, shard);
}

int rp_key_user(char *out, const char *app, unsigned shard, const char *user_id)
{
    return snprintf(out, RP_KEY_MAX, "rp:{e:%s:%u}:u:%s", app, shard, user_id);
}

int rp_key_address(char *out, char *field, const char *app, const char *channel,
                   const char *address)
{
    char joined[RP_KEY_MAX];
    int n = snprintf(joined, sizeof(joined), "%s:%s", channel, address);
    unsigned shard = rp_fnv1a(joined, (size_t)n < sizeof(joined) ? (size_t)n : sizeof(joined) - 1) %
                     RP_ENDPOINT_SHARDS;
    /* 400: the field's length in the older layout's key names, which conversion keeps. */
    snprintf(field, RP_KEY_MAX, "%.400s", joined);
    return snprintf(out, RP_KEY_MAX, "rp:{x:%s:%u}:ad", app, shard);
}

int rp_key_attribute_names(char *out, const char *app, const char *attribute_type)
{
    return snprintf(out, RP_KEY_MAX, "rp:{a:%s}:attrs:%s", app, attribute_type);
}

