#include "keys.h"

#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <limits.h>
#include <string.h>

#include "../gateway/rc.h"

/* OpenSSL's default passphrase callback prompts on the controlling terminal; refusing here
 * makes an encrypted key fail instead of blocking the daemon. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static BIO *pem_bio(const char *pem)
{
    size_t len = strlen(pem);
    if (len == 0 || len > INT_MAX)
        return NULL;
    return BIO_new_mem_buf(pem, (int)len);
}

int rp_keys_private_key(const char *pem, const char *field, EVP_PKEY **out, struct rp_err *err)
{
    *out = NULL;
    /* Both "BEGIN ENCRYPTED PRIVATE KEY" and the legacy "Proc-Type: 4,ENCRYPTED" header. */
    if (strstr(pem, "ENCRYPTED"))
        return rp_err_set(err, RP_EINVAL, field,
                          "is an encrypted private key; give it without a passphrase");
    BIO *bio = pem_bio(pem);
    if (!bio)
        return rp_err_set(err, RP_EINVAL, field, "is not a PEM private key");
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!key) {
        ERR_clear_error();
        return rp_err_set(err, RP_EINVAL, field, "is not a PEM private key");
    }
    *out = key;
    return 0;
}

int rp_keys_certificate(const char *pem, const char *field, X509 **out, struct rp_err *err)
{
    *out = NULL;
    BIO *bio = pem_bio(pem);
    if (!bio)
        return rp_err_set(err, RP_EINVAL, field, "is not a PEM X.509 certificate");
    X509 *cert = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (!cert) {
        ERR_clear_error();
        return rp_err_set(err, RP_EINVAL, field, "is not a PEM X.509 certificate");
    }
    *out = cert;
    return 0;
}

bool rp_keys_is_ec(const EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "EC");
}

bool rp_keys_is_ec_p256(const EVP_PKEY *key)
{
    if (!rp_keys_is_ec(key))
        return false;
    char group[64];
    size_t len = 0;
    if (!EVP_PKEY_get_group_name(key, group, sizeof(group), &len)) {
        ERR_clear_error();
        return false;
    }
    /* OpenSSL names the curve "prime256v1"; accept the NIST spelling too. */
    int nid = OBJ_sn2nid(group);
    if (nid == NID_undef)
        nid = EC_curve_nist2nid(group);
    return nid == NID_X9_62_prime256v1;
}

bool rp_keys_is_rsa(const EVP_PKEY *key)
{
    return EVP_PKEY_is_a(key, "RSA");
}
