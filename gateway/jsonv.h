/* Reading request members into validated C values. Each returns 1 when the member is present and
 * valid, 0 when absent (out untouched), or RP_EINVAL with err naming prefix+name. Borrowed
 * strings point into obj. */
#ifndef RP_JSONV_H
#define RP_JSONV_H

#include <jansson.h>
#include <stddef.h>

#include "err.h"

int rp_jsonv_string(const json_t *obj, const char *prefix, const char *name, size_t max_len,
                    const char **out, struct rp_err *err);
int rp_jsonv_int(const json_t *obj, const char *prefix, const char *name, long long min,
                 long long max, long long *out, struct rp_err *err);
int rp_jsonv_bool(const json_t *obj, const char *prefix, const char *name, int *out,
                  struct rp_err *err);
int rp_jsonv_object(const json_t *obj, const char *prefix, const char *name, const json_t **out,
                    struct rp_err *err);
/* A member that must be one of the '|'-separated choices. */
int rp_jsonv_enum(const json_t *obj, const char *prefix, const char *name, const char *choices,
                  const char **out, struct rp_err *err);
/* Pinpoint's limits on a resource's tags: 50 of them, keys up to 128 characters, values up to
 * 256 (every request that takes tags, and TagResource). */
#define RP_TAGS_MAX 50
#define RP_TAG_KEY_MAX 128
#define RP_TAG_VALUE_MAX 256
/* A request's "tags" member under Pinpoint's limits (rp_jsonv_string_map with RP_TAGS_*). */
int rp_jsonv_tags(const json_t *obj, const char *prefix, const json_t **out, struct rp_err *err);
/* A map of string -> string (tags): at most max_entries, keys and values bounded. */
int rp_jsonv_string_map(const json_t *obj, const char *prefix, const char *name,
                        size_t max_entries, size_t max_key, size_t max_value, const json_t **out,
                        struct rp_err *err);

#endif
