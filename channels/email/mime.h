/* The EMAIL channel's message builder: an RFC 5322 / MIME message from a rendered delivery's
 * fields, and the check a RawEmail must pass before it is relayed. Pure (no I/O, no clock, no
 * randomness): the caller passes the date and the Message-ID, so the same input always gives
 * the same bytes, which is what the unit tests and the fuzz target rely on.
 *
 * Output rules: CRLF line endings only; no line longer than 998 octets (RFC 5322 2.1.1);
 * header values outside printable ASCII as RFC 2047 encoded-words of at most 75 characters,
 * folded; bodies 7bit when they already are short-lined ASCII, otherwise quoted-printable
 * (mostly ASCII) or base64 (mostly not). */
#ifndef RP_EMAIL_MIME_H
#define RP_EMAIL_MIME_H

#include <stddef.h>
#include <stdint.h>

#include "../../gateway/err.h"

/* SES's limit on a whole message, which Pinpoint inherits: 10 MB before encoding. */
#define RP_MIME_MAX ((size_t)10 * 1024 * 1024)

/* A growable byte buffer with a hard ceiling (no input makes it grow without bound). */
struct rp_mime_buf {
    char *data; /* owned, NUL-terminated when len > 0 */
    size_t len;
    size_t cap;
    size_t max;
    int overflow; /* set once an append would have passed max; later appends are dropped */
};

void rp_mime_buf_init(struct rp_mime_buf *b, size_t max);
void rp_mime_buf_cleanup(struct rp_mime_buf *b);
/* Empties b but keeps its allocation, for a buffer reused by the next message. */
void rp_mime_buf_reset(struct rp_mime_buf *b);

struct rp_mime_header {
    const char *name;  /* printable ASCII without ':' (validated at the API) */
    const char *value; /* no CR or LF (validated at the API); encoded here when not ASCII */
};

/* Everything borrowed. Strings are UTF-8 unless charset says otherwise for the bodies. */
struct rp_mime_message {
    const char *from;            /* "Name <user@example.com>" or "user@example.com" */
    const char *to;              /* the recipient's bare address */
    const char *const *reply_to; /* reply_to_count addresses, named or bare */
    size_t reply_to_count;
    const char *subject;                  /* NULL or "" for none */
    const char *text;                     /* text/plain body or NULL */
    const char *html;                     /* text/html body or NULL */
    const char *charset;                  /* of subject and bodies; NULL or "" -> UTF-8 */
    const struct rp_mime_header *headers; /* extra headers (SimpleEmail.Headers) */
    size_t header_count;
    const char *message_id; /* "id@domain", without angle brackets */
    int64_t date_ms;        /* Unix milliseconds for the Date header (UTC) */
};

/* Appends the whole message to out. With neither text nor html an empty text/plain body is
 * sent. Returns 0, or RP_EINVAL with err naming the offending member ("FromAddress",
 * "Charset", ...) and RP_ETOOBIG when the result passes out's maximum. */
int rp_mime_build(const struct rp_mime_message *m, struct rp_mime_buf *out, struct rp_err *err);

/* What rp_mime_raw_prepare learned about a raw message. */
struct rp_mime_raw_info {
    int has_message_id;   /* 1 when the message carried its own Message-ID */
    char message_id[256]; /* its value without angle brackets or the one added ("" when none) */
};

/* RawEmail: decodes base64 text (line breaks allowed), checks that the result is a message
 * (a header section of "Name: value" lines with folded continuations, a From header, an empty
 * line before any body, no line over 998 octets, no NUL) and appends it to out with CRLF line
 * endings. A Date (from date_ms) and a Message-ID (from message_id) are put in front when the
 * message has none, as SES does; everything else is relayed as is. Returns 0, or RP_EINVAL with
 * err naming "RawEmail.Data", or RP_ETOOBIG. */
int rp_mime_raw_prepare(const char *b64, size_t b64_len, const char *message_id, int64_t date_ms,
                        struct rp_mime_buf *out, struct rp_mime_raw_info *info, struct rp_err *err);

/* The bare address of "Name <addr>" or of a bare address: returns a pointer into s and its
 * length (borrowed). */
const char *rp_mime_address_of(const char *s, size_t *len);

#endif
