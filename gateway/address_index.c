/* The address index (address_index.h). */
#include "address_index.h"
#include "keyspace.h"
#include "rc.h"
#include "store.h"

#include <stdio.h>
#include <string.h>

/* KEYS[1] the shard's hash, KEYS[2] the older set of this address. ARGV: 'add', 'remove' or
 * 'merge', the field, the id ('' for merge). The holders are the field's ids and the older
 * set's (which is then deleted), each once, without the id; add appends the id, and answers the
 * other holders; remove and merge answer how many are left. merge is the conversion of an
 * older set: nothing added, nothing taken away. A value that does not change is not written
 * again (a re-import of the same endpoints adds nothing to the AOF). */
static struct rp_script index_script = {.source =
    "local cur = redis.call('HGET', KEYS[1], ARGV[2])\n"
    "local others, seen = {}, {[ARGV[3]] = true}\n"
    "local function take(id)\n"
    "  if not seen[id] then seen[id] = true; others[#others + 1] = id end\n"
    "end\n"
    "if cur then for id in string.gmatch(cur, '[^\\n]+') do take(id) end end\n"
    "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  for _, id in ipairs(redis.call('SMEMBERS', KEYS[2])) do take(id) end\n"
    "  redis.call('DEL', KEYS[2])\n"
    "end\n"
    "local v = table.concat(others, '\\n')\n"
    "if ARGV[1] == 'add' then v = #others > 0 and (v .. '\\n' .. ARGV[3]) or ARGV[3] end\n"
    "if v == '' then\n"
    "  if cur then redis.call('HDEL', KEYS[1], ARGV[2]) end\n"
    "elseif v ~= cur then\n"
    "  redis.call('HSET', KEYS[1], ARGV[2], v)\n"
    "end\n"
    "if ARGV[1] == 'add' then return others end\n"
    "return #others\n"};

/* The script's keys and arguments for one change. */
struct change {
    char key[RP_KEY_MAX], field[RP_KEY_MAX], older[2 * RP_KEY_MAX + 1];
    const char *args[5];
};

static void change_build(struct change *c, const char *op, const char *app, const char *channel,
                         const char *address, const char *folded_id)
{
    rp_key_address(c->key, c->field, app, channel, address);
    snprintf(c->older, sizeof(c->older), "%s:%s", c->key, c->field);
    c->args[0] = c->key;
    c->args[1] = c->older;
    c->args[2] = op;
    c->args[3] = c->field;
    c->args[4] = folded_id;
}

static void append_change(const char *op, const char *app, const char *channel,
                          const char *address, const char *folded_id)
{
    struct change c;
    change_build(&c, op, app, channel, address, folded_id);
    const char *argv[8] = {"EVALSHA", rp_store_script_sha(&index_script), "2"};
    memcpy(argv + 3, c.args, sizeof(c.args));
    rp_store_appendv(8, argv, NULL);
}

size_t rp_address_index_prepare(void)
{
    return rp_store_append_script_load(&index_script);
}

void rp_address_index_append_add(const char *app, const char *channel, const char *address,
                                 const char *folded_id)
{
    append_change("add", app, channel, address, folded_id);
}

void rp_address_index_append_claim(const char *app, const char *channel, const char *address,
                                   const char *folded_id)
{
    char key[RP_KEY_MAX], field[RP_KEY_MAX];
    rp_key_address(key, field, app, channel, address);
    const char *argv[] = {"HSETNX", key, field, folded_id};
    rp_store_appendv(4, argv, NULL);
}

int rp_address_index_take_added(const redisReply *r, const char *folded_id, json_t *others)
{
    if (r->type == REDIS_REPLY_INTEGER)
        return r->integer == 0;
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t j = 0; j < r->elements; j++)
            if (strcmp(r->element[j]->str, folded_id) != 0)
                json_array_append_new(others, json_string(r->element[j]->str));
    return 0;
}

void rp_address_index_append_remove(const char *app, const char *channel, const char *address,
                                    const char *folded_id)
{
    append_change("remove", app, channel, address, folded_id);
}

int rp_address_index_remove(const char *app, const char *channel, const char *address,
                            const char *folded_id)
{
    struct change c;
    change_build(&c, "remove", app, channel, address, folded_id);
    redisReply *r = rp_store_eval(&index_script, 2, 5, c.args, NULL);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    return ok ? 0 : RP_ESTORE;
}

int rp_address_index_convert(const redisReply *keys)
{
    size_t loads = rp_store_append_script_load(&index_script);
    const char *sha = rp_store_script_sha(&index_script);
    size_t queued = 0;
    for (size_t i = 0; i < keys->elements; i++) {
        /* rp:{x:<app>:<shard>}:ad:<field>: the hash is the name up to the field. */
        const char *older = keys->element[i]->str;
        const char *cut = strstr(older, "}:ad:");
        if (!cut)
            continue;
        char key[RP_KEY_MAX];
        snprintf(key, sizeof(key), "%.*s", (int)(cut + 4 - older), older);
        const char *argv[] = {"EVALSHA", sha, "2", key, older, "merge", cut + 5, ""};
        rp_store_appendv(8, argv, NULL);
        queued++;
    }
    return rp_store_collect_ok(loads + queued);
}
