/* Channel secrets at rest: AES-256-GCM with the key from `secrets.key_file`.
 * Sealed form: "rp1.<key id>.<base64(nonce || ciphertext || tag)>", where the key id (8 hex
 * characters of SHA-256 over the key) lets a later key rotation tell which key sealed a value.
 * The additional data binds a ciphertext to where it is stored (app and channel), so a sealed
 * value copied under another app does not open. */
#ifndef RP_SECRETS_H
#define RP_SECRETS_H

#include <stddef.h>

#include "err.h"

struct rp_secrets {
    unsigned char key[32];
    char key_id[9];
};

/* Reads a file holding the key as 64 hex characters (surrounding whitespace allowed).
 * Returns 0, or RP_EINVAL / RP_EIO with err saying what is wrong with the file. */
int rp_secrets_load(struct rp_secrets *s, const char *path, struct rp_err *err);
/* Uses a raw 32-byte key (tests). */
void rp_secrets_init_key(struct rp_secrets *s, const unsigned char key[32]);
/* Writes a new random key to path with mode 0600; fails if the file exists. */
int rp_secrets_create_key_file(const char *path, struct rp_err *err);

/* Seals plaintext; returns a new NUL-terminated string owned by the caller (free()). */
char *rp_secrets_seal(const struct rp_secrets *s, const char *aad, const void *plaintext,
                      size_t len);
/* Opens a sealed string. On success returns 0 and a new buffer (NUL-terminated for
 * convenience, owned by the caller) in *out with its length in *out_len. Returns RP_ECRYPTO for
 * a wrong key, wrong aad, or tampered data, RP_EINVAL for a malformed string. */
int rp_secrets_open(const struct rp_secrets *s, const char *aad, const char *sealed, char **out,
                    size_t *out_len);

#endif
