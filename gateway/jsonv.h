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
/* A map of string -> string (tags): at most max_entries, keys and values bounded. */
int rp_jsonv_string_map(const json_t *obj, const char *prefix, const char *name,
                        size_t max_entries, size_t max_key, size_t max_value, const json_t **out,
                        struct rp_err *err);

#endif
