/* Form check of a bare email address ("user@example.com", no display name), shared by the
 * EMAIL channel settings, endpoint addresses and the SMTP sender. */
#ifndef RP_EMAIL_ADDRESS_H
#define RP_EMAIL_ADDRESS_H

#include "../../gateway/err.h"

/* RFC 5321 lengths (local part <= 64 octets, whole address <= 254, the longest that fits the
 * 256-octet path with its angle brackets), exactly one '@', an RFC 5322 dot-atom local part
 * (quoted local parts are refused), a domain of dot-separated labels of letters, digits and
 * inner hyphens (1-63 octets each, no address literals). Octets >= 0x80 are accepted in both
 * parts for internationalised addresses (RFC 6531). Borrows addr (NULL counts as empty).
 * Returns 0 or RP_EINVAL naming field; the message never quotes the address. */
int rp_email_address_validate(const char *addr, const char *field, struct rp_err *err);

#endif
