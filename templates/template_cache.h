/* Compiled template versions shared by every thread of the process: a send compiles a version
 * the first time it names it and every later send (on any thread) renders the same compiled
 * nodes. Entries are keyed by a string that names the version's exact content (type, name,
 * version and its revision), so an overwritten version simply stops being asked for; the API
 * also drops a template's entries when it changes, to free them early. The table has a fixed
 * number of slots (templates.cache_size): a colliding insert replaces the older entry. */
#ifndef RP_TEMPLATE_CACHE_H
#define RP_TEMPLATE_CACHE_H

#include <jansson.h>
#include <stddef.h>

#include "template.h"

#define RP_TMPL_SET_MAX_PARTS 48
#define RP_TMPL_CACHE_KEY_MAX 320

/* One template version's compiled parts ("Subject", "HtmlPart", "APNS.Body" ...) and its
 * DefaultSubstitutions. Immutable once built; reference counted. */
struct rp_tmpl_part {
    char name[40];
    struct rp_tmpl *tmpl; /* owned */
};

struct rp_tmpl_set {
    int refs; /* atomic */
    char key[RP_TMPL_CACHE_KEY_MAX];
    size_t n_parts;
    struct rp_tmpl_part parts[RP_TMPL_SET_MAX_PARTS];
    json_t *defaults; /* owned, NULL when the version has none */
    json_t *source;   /* owned, NULL or the stored version the parts came from (for members
                       * that are not templates, such as a push section's Action) */
};

/* A new, empty set with one reference (the caller's). */
struct rp_tmpl_set *rp_tmpl_set_new(const char *key);
void rp_tmpl_set_ref(struct rp_tmpl_set *set);
void rp_tmpl_set_unref(struct rp_tmpl_set *set);
/* The part named name, or NULL. */
const struct rp_tmpl *rp_tmpl_set_part(const struct rp_tmpl_set *set, const char *name);

/* Sets the number of slots; call once before any thread uses the cache (later calls with the
 * same size do nothing). Without it the cache has 1024 slots. */
void rp_tmpl_cache_init(size_t slots);
/* Returns a new reference to the set stored under key, or NULL. */
struct rp_tmpl_set *rp_tmpl_cache_get(const char *key);
/* Stores set under set->key (the cache takes its own reference). */
void rp_tmpl_cache_put(struct rp_tmpl_set *set);
/* Drops every entry whose key starts with prefix. */
void rp_tmpl_cache_drop_prefix(const char *prefix);

#endif
