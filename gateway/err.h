/* A user-facing error (an API 400, a config error), filled without allocating
 * (jansson's json_error_t): the offending field and what is wrong with it. */
#ifndef RP_ERR_H
#define RP_ERR_H

#include <stdarg.h>

struct rp_err {
    char field[64];
    char msg[192];
};

/* Clears both strings. */
void rp_err_clear(struct rp_err *err);

/* Sets field and a printf-style message; err may be NULL. Always returns rc so callers can
 * write `return rp_err_set(err, RP_EINVAL, "Address", "...")`. */
int rp_err_set(struct rp_err *err, int rc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
