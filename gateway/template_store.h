/* Message templates in Redis, and their compiled form for sends.
 *
 * Templates are account-level in Pinpoint (not scoped to an app). One JSON document per template
 * name and type holds every version, so a change is one atomic write:
 *   rp:{tpl}:t:<TYPE>:<name>  string: {"TemplateName", "TemplateType", "CreationDate", "tags",
 *                             "Active": "1", "Latest": 2,
 *                             "Versions": {"1": {content members, TemplateDescription,
 *                             DefaultSubstitutions, CreationDate, LastModifiedDate, "Rev": n}}}
 *   rp:{tpl}:index            zset (score 0, ordered by member): "<name>\x01<TYPE>"
 * Both share one hash tag so a write changes them together (MULTI/EXEC under WATCH) on Redis
 * Cluster too. A version's Rev changes whenever its content does (an update that overwrites the
 * latest version) to a value no earlier content had (time and random bits, so also across a
 * delete and re-create of the name), and the compiled-template cache is keyed by it: no instance
 * can render a stale compile of a version changed elsewhere. */
#ifndef RP_TEMPLATE_STORE_H
#define RP_TEMPLATE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "templates/template_cache.h"

#define RP_TEMPLATE_NAME_MAX 128
#define RP_TEMPLATE_INDEX "rp:{tpl}:index"
#define RP_TEMPLATE_INDEX_SEP '\x01'

/* "EMAIL", "SMS" or "PUSH" for a type as a path or query gives it ("email", "SMS" ...), or NULL
 * (VOICE and INAPP templates are not served). */
const char *rp_template_type(const char *s);
/* Pinpoint: starts with a letter or digit; letters, digits, _ and -; at most 128 characters. */
bool rp_template_name_valid(const char *name);
/* The document key of a template (out: RP_KEY_MAX bytes). */
int rp_template_key(char *out, const char *type, const char *name);

/* Validates a Create/Update request body for type (borrowed) and compiles every templated
 * member, so a template that does not parse is refused with the member, line, column and why:
 * 0 or RP_EINVAL with err. */
int rp_template_validate(const char *type, const json_t *body, struct rp_err *err);
/* The content members a version stores for type (NULL-terminated), besides TemplateDescription
 * and DefaultSubstitutions. */
const char *const *rp_template_content_members(const char *type);

/* Compiles one stored version (borrowed) of type into a new set under key. Returns 0 or
 * RP_EINVAL with err (a stored template that no longer compiles). */
int rp_template_compile(const char *type, const json_t *version, const char *key,
                        struct rp_tmpl_set **out, struct rp_err *err);

/* Reads the document of a template: 1 with *doc (new reference), 0 when absent, RP_ESTORE. */
int rp_template_doc_get(const char *type, const char *name, json_t **doc);

/* The compiled version a send uses: version (NULL or "" for the active one) of template name of
 * type, from the cache or compiled now. Returns 0 with *out (a reference the caller releases
 * with rp_tmpl_set_unref), RP_ENOTFOUND with err, RP_EINVAL with err, or RP_ESTORE. */
int rp_template_load(const char *type, const char *name, const char *version,
                     struct rp_tmpl_set **out, struct rp_err *err);

/* Drops this process's compiled versions of a template (after a change). */
void rp_template_forget(const char *type, const char *name);

#endif
