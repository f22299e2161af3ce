#include "secrets.h"
#include "log.h"
#include "rc.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN 16
#define PREFIX "rp1."

/* Reads one key file into key[32]; field names the configuration key for errors. */
static int read_key_file(const char *path, const char *field, unsigned char key[32],
                         struct rp_err *err)
{
    size_t len;
    char *text = rp_read_file(path, 4096, &len);
    if (!text)
        return rp_err_set(err, RP_EIO, field, "cannot read %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        rp_warn("secrets", "%s is readable by group or others; chmod 600 it", path);
    char *p = text;
    while (isspace((unsigned char)*p))
        p++;
    size_t hex_len = 0;
    while (isxdigit((unsigned char)p[hex_len]))
        hex_len++;
    char *rest = p + hex_len;
    while (isspace((unsigned char)*rest))
        rest++;
    int ok = hex_len == 64 && *rest == '\0';
    if (ok) {
        p[64] = '\0';
        ok = rp_unhex(p, key, 32) == 0;
    }
    OPENSSL_cleanse(text, len);
    free(text);
    if (!ok)
        return rp_err_set(err, RP_EINVAL, field,
                          "%s must hold exactly 64 hex characters (a 32-byte key)", path);
    return 0;
}

static void key_id_of(const unsigned char key[32], char id[9])
{
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(key, 32, digest);
    rp_hex(digest, 4, id);
}

void rp_secrets_init_key(struct rp_secrets *s, const unsigned char key[32])
{
    memset(s, 0, sizeof(*s));
    memcpy(s->key, key, 32);
    key_id_of(key, s->key_id);
}

int rp_secrets_load(struct rp_secrets *s, const char *path, struct rp_err *err)
{
    unsigned char key[32];
    int rc = read_key_file(path, "secrets.key_file", key, err);
    if (rc == 0)
        rp_secrets_init_key(s, key);
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int rp_secrets_load_previous(struct rp_secrets *s, const char *paths, struct rp_err *err)
{
    const char *field = "secrets.previous_key_files";
    char path[1024];
    for (const char *p = paths; *p;) {
        size_t n = strcspn(p, ",");
        const char *next = p[n] ? p + n + 1 : p + n;
        while (n > 0 && isspace((unsigned char)*p)) {
            p++;
            n--;
        }
        while (n > 0 && isspace((unsigned char)p[n - 1]))
            n--;
        if (n == 0) {
            p = next;
            continue;
        }
        if (n >= sizeof(path))
            return rp_err_set(err, RP_EINVAL, field, "a path is longer than %zu bytes",
                              sizeof(path) - 1);
        if (s->previous_count == RP_SECRETS_PREVIOUS_MAX)
            return rp_err_set(err, RP_EINVAL, field, "at most %d previous keys",
                              RP_SECRETS_PREVIOUS_MAX);
        memcpy(path, p, n);
        path[n] = '\0';
        struct rp_secret_key *k = &s->previous[s->previous_count];
        int rc = read_key_file(path, field, k->key, err);
        if (rc)
            return rc;
        key_id_of(k->key, k->key_id);
        if (strcmp(k->key_id, s->key_id) == 0) {
            OPENSSL_cleanse(k->key, sizeof(k->key));
            return rp_err_set(err, RP_EINVAL, field,
                              "%s holds the current key (secrets.key_file)", path);
        }
        s->previous_count++;
        p = next;
    }
    return 0;
}

int rp_secrets_is_current(const struct rp_secrets *s, const char *sealed)
{
    size_t plen = strlen(PREFIX);
    return strncmp(sealed, PREFIX, plen) == 0 && strncmp(sealed + plen, s->key_id, 8) == 0 &&
           sealed[plen + 8] == '.';
}

/* The key whose id the sealed value names, or NULL when this process does not hold it. */
static const unsigned char *key_for(const struct rp_secrets *s, const char *id)
{
    if (strncmp(id, s->key_id, 8) == 0)
        return s->key;
    for (int i = 0; i < s->previous_count; i++)
        if (strncmp(id, s->previous[i].key_id, 8) == 0)
            return s->previous[i].key;
    return NULL;
}

int rp_secrets_create_key_file(const char *path, struct rp_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return rp_err_set(err, RP_EIO, "secrets.key_file", "cannot create %s: %s", path,
                          strerror(errno));
    unsigned char key[32];
    char hex[65];
    rp_random_bytes(key, sizeof(key));
    rp_hex(key, sizeof(key), hex);
    hex[64] = '\n';
    ssize_t wrote = write(fd, hex, 65);
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(hex, sizeof(hex));
    close(fd);
    if (wrote != 65)
        return rp_err_set(err, RP_EIO, "secrets.key_file", "cannot write %s", path);
    return 0;
}

char *rp_secrets_seal(const struct rp_secrets *s, const char *aad, const void *plaintext,
                      size_t len)
{
    size_t raw_len = NONCE_LEN + len + TAG_LEN;
    unsigned char *raw = rp_malloc(raw_len);
    rp_random_bytes(raw, NONCE_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, s->key, raw) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) != 1 ||
        EVP_EncryptUpdate(ctx, raw + NONCE_LEN, &outl, plaintext, (int)len) != 1 ||
        EVP_EncryptFinal_ex(ctx, raw + NONCE_LEN + outl, &finl) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, raw + NONCE_LEN + len) != 1)
        rp_panic("AES-256-GCM encryption failed");
    EVP_CIPHER_CTX_free(ctx);
    size_t b64_cap = 4 * ((raw_len + 2) / 3) + 1;
    size_t prefix_len = strlen(PREFIX) + 8 + 1;
    char *out = rp_malloc(prefix_len + b64_cap);
    snprintf(out, prefix_len + 1, PREFIX "%s.", s->key_id);
    EVP_EncodeBlock((unsigned char *)out + prefix_len, raw, (int)raw_len);
    free(raw);
    return out;
}

int rp_secrets_open(const struct rp_secrets *s, const char *aad, const char *sealed, char **out,
                    size_t *out_len)
{
    *out = NULL;
    size_t plen = strlen(PREFIX);
    if (strncmp(sealed, PREFIX, plen) != 0 || strlen(sealed) < plen + 9 || sealed[plen + 8] != '.')
        return RP_EINVAL;
    const unsigned char *key = key_for(s, sealed + plen);
    if (!key)
        return RP_ECRYPTO;
    const char *b64 = sealed + plen + 9;
    size_t b64_len = strlen(b64);
    if (b64_len % 4 || b64_len < 4)
        return RP_EINVAL;
    unsigned char *raw = rp_malloc(b64_len / 4 * 3 + 1);
    int decoded = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)b64_len);
    if (decoded < 0) {
        free(raw);
        return RP_EINVAL;
    }
    size_t raw_len = (size_t)decoded;
    if (b64_len >= 1 && b64[b64_len - 1] == '=')
        raw_len--;
    if (b64_len >= 2 && b64[b64_len - 2] == '=')
        raw_len--;
    if (raw_len < NONCE_LEN + TAG_LEN) {
        free(raw);
        return RP_EINVAL;
    }
    size_t ct_len = raw_len - NONCE_LEN - TAG_LEN;
    char *pt = rp_malloc(ct_len + 1);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, finl = 0;
    int ok = ctx && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1 &&
             EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) ==
                 1 &&
             EVP_DecryptUpdate(ctx, (unsigned char *)pt, &outl, raw + NONCE_LEN, (int)ct_len) ==
                 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, raw + NONCE_LEN + ct_len) ==
                 1 &&
             EVP_DecryptFinal_ex(ctx, (unsigned char *)pt + outl, &finl) == 1;
    EVP_CIPHER_CTX_free(ctx);
    free(raw);
    if (!ok) {
        OPENSSL_cleanse(pt, ct_len);
        free(pt);
        return RP_ECRYPTO;
    }
    pt[ct_len] = '\0';
    *out = pt;
    if (out_len)
        *out_len = ct_len;
    return 0;
}
