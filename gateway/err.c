#include "err.h"

#include <stdio.h>
#include <string.h>

void rp_err_clear(struct rp_err *err)
{
    err->field[0] = '\0';
    err->msg[0] = '\0';
}

/* Truncation may cut a multi-byte UTF-8 character, and an error quoting client text then is not
 * valid UTF-8, which JSON cannot carry: drop a trailing partial sequence. */
static void trim_partial_utf8(char *s)
{
    size_t len = strlen(s);
    size_t start = len;
    while (start > 0 && ((unsigned char)s[start - 1] & 0xC0) == 0x80 && len - start < 3)
        start--;
    if (start == 0)
        return;
    unsigned char lead = (unsigned char)s[start - 1];
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0xC0 && len - (start - 1) < need)
        s[start - 1] = '\0';
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
    trim_partial_utf8(err->field);
    trim_partial_utf8(err->msg);
    return rc;
}
