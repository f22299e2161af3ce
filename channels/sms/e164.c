#include "e164.h"

#include <string.h>

#include "../../gateway/rc.h"

#define E164_MAX_DIGITS 15

int rp_e164_validate(const char *number, const char *field, struct rp_err *err)
{
    if (!number || !*number)
        return rp_err_set(err, RP_EINVAL, field, "is required");
    if (number[0] != '+')
        return rp_err_set(err, RP_EINVAL, field, "must be in E.164 format, starting with '+'");
    size_t digits = strlen(number + 1);
    if (digits == 0 || digits > E164_MAX_DIGITS)
        return rp_err_set(err, RP_EINVAL, field, "must have 1 to %d digits after '+'",
                          E164_MAX_DIGITS);
    for (size_t i = 1; i <= digits; i++)
        if (number[i] < '0' || number[i] > '9')
            return rp_err_set(err, RP_EINVAL, field, "must have only digits after '+'");
    if (number[1] == '0')
        return rp_err_set(err, RP_EINVAL, field, "must not start with country code 0");
    return 0;
}
