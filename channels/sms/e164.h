/* Form check of a phone number in E.164, the only form Pinpoint takes for SMS addresses and
 * the SMS providers take for recipients. */
#ifndef RP_E164_H
#define RP_E164_H

#include "../../gateway/err.h"

/* ITU-T E.164: '+', then 1-15 digits, the first (the country code's) not 0. No spaces,
 * dashes or brackets (a number written for people is not an address). Borrows number (NULL
 * counts as empty).
 * Returns 0 or RP_EINVAL naming field; the message never quotes the number. */
int rp_e164_validate(const char *number, const char *field, struct rp_err *err);

#endif
