/* PEM parsing for the channels that take keys and certificates (APNs certificates and .p8
 * token keys, FCM service-account keys), shared with the JWT signers that will use the keys.
 * Every failure clears OpenSSL's per-thread error queue so that a refused key leaves nothing
 * behind for the next OpenSSL call on the thread. Messages never quote the key material. */
#ifndef RP_CHANNEL_KEYS_H
#define RP_CHANNEL_KEYS_H

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdbool.h>

#include "../gateway/err.h"

/* Parses the first private key in pem (borrowed): PKCS#8 "PRIVATE KEY" or the traditional
 * "RSA PRIVATE KEY" / "EC PRIVATE KEY" blocks. Encrypted keys are refused, since a daemon has
 * no one to ask for a passphrase. Returns 0 with *out new (release with EVP_PKEY_free), or
 * RP_EINVAL naming field with *out NULL. */
int rp_keys_private_key(const char *pem, const char *field, EVP_PKEY **out, struct rp_err *err);

/* Parses the first X.509 certificate in pem (borrowed); a chain may follow it. Returns 0 with
 * *out new (release with X509_free), or RP_EINVAL naming field with *out NULL. */
int rp_keys_certificate(const char *pem, const char *field, X509 **out, struct rp_err *err);

/* True when key (borrowed) is an EC key on NIST P-256, the only curve ES256 signs with. */
bool rp_keys_is_ec_p256(const EVP_PKEY *key);

/* True when key (borrowed) is an RSA key (not RSA-PSS, which RS256 cannot use). */
bool rp_keys_is_rsa(const EVP_PKEY *key);

/* True when key (borrowed) is an EC key on any curve. */
bool rp_keys_is_ec(const EVP_PKEY *key);

#endif
