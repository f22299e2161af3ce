/* Channel secrets at rest: AES-256-GCM with the key from `secrets.key_file`.
 * Sealed form: "rp1.<key id>.<base64(nonce || ciphertext || tag)>", where the key id (8 hex
 * characters of SHA-256 over the key) lets a later key rotation tell which key sealed a value.
 * The additional data binds a ciphertext to where it is stored (app and channel), so a sealed
 * value copied under another app does not open. */
#ifndef RP_SECRETS_H
#define RP_SECRETS_H

#include <stddef.h>

#include "err.h"

/* Keys that sealed values before a rotation: they still open them, never seal. */
#define RP_SECRETS_PREVIOUS_MAX 4

struct rp_secret_key {
    unsigned char key[32];
    char key_id[9];
};

struct rp_secrets {
    unsigned char key[32]; /* the current key: seals, and opens what it sealed */
    char key_id[9];
    struct rp_secret_key previous[RP_SECRETS_PREVIOUS_MAX];
    int previous_count;
};

/* Reads a file holding the key as 64 hex characters (surrounding whitespace allowed).
 * Returns 0, or RP_EINVAL / RP_EIO with err saying what is wrong with the file. */
int rp_secrets_load(struct rp_secrets *s, const char *path, struct rp_err *err);
/* Adds the keys of a comma-separated list of key files (`secrets.previous_key_files`) as
 * previous keys. Returns 0, or RP_EINVAL / RP_EIO naming the file. */
int rp_secrets_load_previous(struct rp_secrets *s, const char *paths, struct rp_err *err);
/* Uses a raw 32-byte key (tests). */
void rp_secrets_init_key(struct rp_secrets *s, const unsigned char key[32]);
/* Writes a new random key to path with mode 0600; fails if the file exists. */
int rp_secrets_create_key_file(const char *path, struct rp_err *err);

/* Seals plaintext; returns a new NUL-terminated string owned by the caller (free()). */
char *rp_secrets_seal(const struct rp_secrets *s, const char *aad, const void *plaintext,
                      size_t len);
/* True when sealed was made with the current key (nothing for a rotation to do). */
int rp_secrets_is_current(const struct rp_secrets *s, const char *sealed);
/* Opens a sealed string with whichever key, current or previous, its key id names. On success returns 0 and a new buffer (NUL-terminated for
 * convenience, owned by the caller) in *out with its length in *out_len. Returns RP_ECRYPTO for
 * a wrong key, wrong aad, or tampered data, RP_EINVAL for a malformed string. */
int rp_secrets_open(const struct rp_secrets *s, const char *aad, const char *sealed, char **out,
                    size_t *out_len);

#endif
