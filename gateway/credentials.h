/* Access keys from `auth.credentials_file`: lines "ACCESS_KEY_ID SECRET_ACCESS_KEY [app,app]".
 * No app list means the key may use every application. The set in use is replaced whole on
 * SIGHUP (rp_credentials_install); request threads read it without locking. */
#ifndef RP_CREDENTIALS_H
#define RP_CREDENTIALS_H

#include <stddef.h>

#include "err.h"

struct rp_credential {
    char *access_key_id;
    char *secret;
    char **apps;      /* NULL when every app is allowed */
    size_t n_apps;
};

struct rp_credentials {
    struct rp_credential *keys;
    size_t n;
    struct rp_credentials *retired; /* the set this one replaced (installed sets only) */
};

/* Returns 0, or RP_EINVAL / RP_EIO with err->field "FILE:LINE" and the problem. */
int rp_credentials_load(struct rp_credentials *creds, const char *path, struct rp_err *err);
void rp_credentials_cleanup(struct rp_credentials *creds);
/* Borrowed pointer into creds, or NULL. */
const struct rp_credential *rp_credentials_find(const struct rp_credentials *creds,
                                                const char *access_key_id);
/* 1 when the key may act on the app. */
int rp_credential_allows_app(const struct rp_credential *cred, const char *app_id);
/* The installed set, or NULL before the first install. Installed sets stay allocated until
 * rp_credentials_release_all: a request keeps using the credential it authenticated with, so a
 * reload costs the old set's few bytes rather than a lock on every request. */
const struct rp_credentials *rp_credentials_current(void);
/* Makes creds (moved: *creds is emptied) the set requests authenticate against. */
void rp_credentials_install(struct rp_credentials *creds);
/* Frees every installed set; only once no request can run (after the listeners stopped). */
void rp_credentials_release_all(void);
/* Writes a new key pair to path (mode 0600, file must not exist); returns 0 or RP_EIO. */
int rp_credentials_create_file(const char *path, struct rp_err *err);

#endif
