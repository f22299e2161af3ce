/* Configuration: `key value` lines with `#` comments, every key overridable by an environment
 * variable REPOINT_<KEY> (upper-cased, dots to underscores). The key table in config.c is the
 * single list of keys; config/repoint.conf documents each one. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#include <stdio.h>

#include "err.h"

enum rp_config_type { RP_CFG_STRING, RP_CFG_INT, RP_CFG_BOOL, RP_CFG_ENUM, RP_CFG_HOSTPORT };

struct rp_config_key {
    const char *name;
    enum rp_config_type type;
    const char *default_value;
    long long min, max;     /* RP_CFG_INT bounds */
    const char *choices;    /* RP_CFG_ENUM: values separated by '|' */
    int secret;             /* masked by check-config */
};

enum rp_config_source { RP_CFG_FROM_DEFAULT, RP_CFG_FROM_FILE, RP_CFG_FROM_ENV };

struct rp_config {
    char *path;                  /* file read, or NULL */
    size_t n;                    /* number of keys in the table */
    char **values;               /* values[i] for table key i, owned */
    enum rp_config_source *source;
};

/* Returns the key table (static) and its length. */
const struct rp_config_key *rp_config_keys(size_t *count);

/* Loads defaults, then the file (path may be NULL for none), then the environment (envp-style
 * array, NULL-terminated; pass `environ`). On failure returns RP_EINVAL with err->field set to
 * "FILE:LINE" (or the variable name) and err->msg to the problem; cfg is then cleaned up. */
int rp_config_load(struct rp_config *cfg, const char *path, char *const *envp, struct rp_err *err);
void rp_config_cleanup(struct rp_config *cfg);

/* Typed accessors; the key must exist in the table (a programming error aborts). Strings are
 * borrowed from cfg. */
const char *rp_config_str(const struct rp_config *cfg, const char *key);
long long rp_config_int(const struct rp_config *cfg, const char *key);
/* 1 for yes/true/on/1, 0 for the other words RP_CFG_BOOL accepts. */
int rp_config_bool(const struct rp_config *cfg, const char *key);

/* Prints the effective configuration, one `key value  # source` line per key, secrets masked. */
void rp_config_print(const struct rp_config *cfg, FILE *out);

/* Splits "host:port" (or "[v6]:port"); host must fit host_size. Returns 0 or RP_EINVAL. */
int rp_config_split_hostport(const char *value, char *host, size_t host_size, int *port);

#endif
