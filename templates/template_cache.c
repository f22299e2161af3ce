/* The process-wide cache of compiled template versions (template_cache.h): a direct-mapped
 * table under one mutex. Lookups hold the lock for a hash and a string compare; compiling
 * happens outside it, so two threads may compile the same version at once and the second insert
 * simply replaces the first. */
#include "template_cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/keyspace.h"
#include "gateway/util.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
struct slot {
    struct rp_tmpl_set *set;
};

static struct slot *slots;
static size_t n_slots;

struct rp_tmpl_set *rp_tmpl_set_new(const char *key)
{
    struct rp_tmpl_set *set = rp_calloc(1, sizeof(*set));
    set->refs = 1;
    size_t len = strlen(key);
    if (len >= sizeof(set->key))
        len = sizeof(set->key) - 1;
    memcpy(set->key, key, len);
    return set;
}

void rp_tmpl_set_ref(struct rp_tmpl_set *set)
{
    __atomic_add_fetch(&set->refs, 1, __ATOMIC_RELAXED);
}

void rp_tmpl_set_unref(struct rp_tmpl_set *set)
{
    if (!set || __atomic_sub_fetch(&set->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    for (size_t i = 0; i < set->n_parts; i++)
        rp_tmpl_free(set->parts[i].tmpl);
    json_decref(set->defaults);
    json_decref(set->source);
    free(set);
}

const struct rp_tmpl *rp_tmpl_set_part(const struct rp_tmpl_set *set, const char *name)
{
    for (size_t i = 0; i < set->n_parts; i++)
        if (strcmp(set->parts[i].name, name) == 0)
            return set->parts[i].tmpl;
    return NULL;
}

static void ensure(void)
{
    if (!slots) {
        n_slots = n_slots ? n_slots : 1024;
        slots = rp_calloc(n_slots, sizeof(struct slot));
    }
}

void rp_tmpl_cache_init(size_t count)
{
    pthread_mutex_lock(&lock);
    if (!slots && count > 0)
        n_slots = count;
    ensure();
    pthread_mutex_unlock(&lock);
}

static size_t slot_of(const char *key)
{
    return rp_fnv1a(key, strlen(key)) % n_slots;
}

struct rp_tmpl_set *rp_tmpl_cache_get(const char *key)
{
    struct rp_tmpl_set *found = NULL;
    pthread_mutex_lock(&lock);
    ensure();
    struct rp_tmpl_set *s = slots[slot_of(key)].set;
    if (s && strcmp(s->key, key) == 0) {
        rp_tmpl_set_ref(s);
        found = s;
    }
    pthread_mutex_unlock(&lock);
    return found;
}

void rp_tmpl_cache_put(struct rp_tmpl_set *set)
{
    rp_tmpl_set_ref(set);
    pthread_mutex_lock(&lock);
    ensure();
    size_t i = slot_of(set->key);
    struct rp_tmpl_set *old = slots[i].set;
    slots[i].set = set;
    pthread_mutex_unlock(&lock);
    rp_tmpl_set_unref(old);
}

void rp_tmpl_cache_drop_prefix(const char *prefix)
{
    size_t len = strlen(prefix);
    pthread_mutex_lock(&lock);
    ensure();
    for (size_t i = 0; i < n_slots; i++) {
        struct rp_tmpl_set *s = slots[i].set;
        if (s && strncmp(s->key, prefix, len) == 0) {
            slots[i].set = NULL;
            rp_tmpl_set_unref(s);
        }
    }
    pthread_mutex_unlock(&lock);
}
