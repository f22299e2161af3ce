#include "err.h"

#include <stdio.h>
#include <string.h>

void rp_err_clear(struct rp_err *err)
{
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

int rp_err_set(struct rp_err *err, int rc, const char *field, const char *fmt, ...)
{
    if (!err)
        return rc;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return rc;
}
