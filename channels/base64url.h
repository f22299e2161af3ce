/* base64url for the JWTs the push channels sign (APNs ES256, FCM RS256) and the simulators
 * verify. */
#ifndef RP_BASE64URL_H
#define RP_BASE64URL_H

#include <stddef.h>

/* Encodes len bytes without padding into out, which holds 4 * ceil(len / 3) + 1 bytes; returns
 * the characters written (out is NUL-terminated). */
size_t rp_base64url_encode(const unsigned char *in, size_t len, char *out);
/* Decodes base64url (padding optional) into out (capacity out_size); returns the length or -1. */
long rp_base64url_decode(const char *in, size_t len, unsigned char *out, size_t out_size);
/* The value of one base64 digit, from the URL alphabet (url) or the standard one; -1 for any
 * other character. */
int rp_base64_digit(unsigned char c, int url);

#endif
