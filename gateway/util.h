/* Small shared helpers: the out-of-memory policy, time formatting, ids, hex, UTF-8. */
#ifndef RP_UTIL_H
#define RP_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Out of memory has one policy, decided here: log and abort (as Redis and h2o do). A daemon
 * that cannot allocate a few bytes cannot make progress, and half-done writes are worse. */
_Noreturn void rp_panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Allocators that never return NULL (they call rp_panic). Returned memory is owned by the
 * caller and released with free(). */
void *rp_malloc(size_t size);
void *rp_calloc(size_t n, size_t size);
void *rp_realloc(void *p, size_t size);
char *rp_strdup(const char *s);
char *rp_strndup(const char *s, size_t n);
/* Copies s into dst (size bytes, size > 0), cut to fit and always terminated: snprintf's "%s"
 * without the format machinery, for fixed fields filled per message. */
void rp_strcpy_fit(char *dst, size_t size, const char *s);

/* ISO 8601 UTC with milliseconds, as Pinpoint writes dates: "2026-11-22T10:33:00.123Z".
 * out must hold RP_ISO_SIZE bytes. */
#define RP_ISO_SIZE 32
void rp_time_iso(int64_t unix_ms, char *out);
int64_t rp_now_ms(void);
/* Monotonic clock in milliseconds (timeouts) and microseconds (latency measurements). */
int64_t rp_mono_ms(void);
int64_t rp_mono_us(void);

/* Fills buf with bytes from OpenSSL's CSPRNG; aborts if the generator fails. */
void rp_random_bytes(void *buf, size_t len);

/* A Pinpoint-style id: 32 lowercase hex characters (an application id looks like this).
 * out must hold 33 bytes. */
void rp_id_new(char *out);
/* An RFC 4122 version 4 UUID, 36 characters; out must hold 37 bytes. For ids that are not
 * secrets (request and message ids): its random bytes come from a per-thread reserve. */
void rp_uuid_new(char *out);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void rp_hex(const unsigned char *in, size_t len, char *out);
/* The value of one hex digit, or -1. */
int rp_hexval(int c);
/* Parses exactly 2*len hex characters into out; returns 0 or -1. */
int rp_unhex(const char *in, unsigned char *out, size_t len);

/* Reads a whole small file (at most max bytes) into a NUL-terminated heap buffer owned by the
 * caller. Returns NULL and sets errno on failure (E2BIG when longer than max). */
char *rp_read_file(const char *path, size_t max, size_t *len_out);

/* Decodes the UTF-8 sequence at s[*i] (i < len) and advances *i past it; returns the code
 * point, or -1 for a malformed, truncated, overlong or surrogate sequence. */
long rp_utf8_decode(const unsigned char *s, size_t len, size_t *i);
/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF). */
bool rp_utf8_valid(const char *s, size_t len);

#endif
