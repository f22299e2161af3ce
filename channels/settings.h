/* Reading an Update<X>Channel request object, shared by the channel plugins: typed member
 * access over gateway/jsonv.h (a member of the wrong JSON type is an rp_err naming it), and the
 * members every channel response carries. Field names follow channels/channel.h. */
#ifndef RP_CHANNEL_SETTINGS_H
#define RP_CHANNEL_SETTINGS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "../gateway/err.h"

/* Upper bound for any string member, a PEM chain or a service-account JSON included: bounds
 * what a parser is handed whatever the HTTP body limit is. */
#define RP_SETTINGS_MAX_STRING ((size_t)64 * 1024)

/* Returns 0 when settings is a JSON object, else RP_EINVAL. Borrows settings. */
int rp_settings_object(const json_t *settings, struct rp_err *err);

/* Reads the optional string member key. *out borrows from settings and is NULL when the
 * member is absent, JSON null or "" (so "given" is simply *out != NULL). Returns RP_EINVAL
 * naming key when the member has another type, holds a NUL or is longer than
 * RP_SETTINGS_MAX_STRING. */
int rp_settings_string(const json_t *settings, const char *key, const char **out,
                       struct rp_err *err);

/* As rp_settings_string, but a member not given is RP_EINVAL "is required". */
int rp_settings_required(const json_t *settings, const char *key, const char **out,
                         struct rp_err *err);

/* Reads the optional boolean member key into *out, dflt when absent or null. */
int rp_settings_bool(const json_t *settings, const char *key, bool dflt, bool *out,
                     struct rp_err *err);

/* Checks that s (borrowed) is at most max bytes of printable ASCII, spaces allowed only when
 * spaces_ok: these values end up in HTTP headers, form bodies and log lines, where a control
 * character could split a line. Returns 0 or RP_EINVAL naming field. */
int rp_settings_printable(const char *s, size_t max, bool spaces_ok, const char *field,
                          struct rp_err *err);

/* Reads Enabled (a boolean, true when not given, as Update<X>Channel enables the channel) and
 * sets it in response (borrowed). */
int rp_settings_enabled(const json_t *settings, json_t *response, struct rp_err *err);

/* Sets key in response (borrowed) to value, which it takes. Out of memory goes to rp_panic. */
void rp_settings_put(json_t *response, const char *key, json_t *value);

#endif
