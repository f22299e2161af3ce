/* A small client for S3-compatible object storage: ListObjectsV2 (paged), streamed GET and PUT,
 * signed with SigV4 by libcurl (CURLOPT_AWS_SIGV4). Blocking calls, meant for job threads.
 * Configuration: s3.endpoint (empty: https://s3.<region>.amazonaws.com), s3.region,
 * s3.access_key_id, s3.secret_access_key, s3.path_style, tls.ca_file. */
#ifndef RP_S3_H
#define RP_S3_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct rp_config;

struct rp_s3_conf {
    char endpoint[512]; /* scheme://host[:port], no trailing slash */
    char region[64];
    char access_key[256];
    char secret_key[256];
    char ca_file[512];
    int path_style;
};

/* Reads the s3.* keys (and tls.ca_file). */
void rp_s3_conf_load(struct rp_s3_conf *conf, const struct rp_config *cfg);

/* Called once per object found; return non-zero to stop listing. */
typedef int (*rp_s3_list_fn)(void *ud, const char *key, int64_t size);
/* Lists every object whose key starts with prefix (recursively: no delimiter), page by page.
 * Returns 0, or RP_EIO / RP_EFORBIDDEN / RP_ENOTFOUND with err saying what S3 answered. */
int rp_s3_list(const struct rp_s3_conf *conf, const char *bucket, const char *prefix,
               rp_s3_list_fn fn, void *ud, struct rp_err *err);

/* Streams an object's bytes to fn as they arrive (fn returns non-zero to abort). */
typedef int (*rp_s3_data_fn)(void *ud, const char *data, size_t len);
int rp_s3_get(const struct rp_s3_conf *conf, const char *bucket, const char *key,
              rp_s3_data_fn fn, void *ud, struct rp_err *err);

/* Writes an object from a buffer (the caller bounds its size). */
int rp_s3_put(const struct rp_s3_conf *conf, const char *bucket, const char *key,
              const void *data, size_t len, const char *content_type, struct rp_err *err);

/* Percent-encodes an object key for a URL path (keeps '/'); out holds 3*len+1 bytes. */
void rp_s3_encode_key(const char *key, char *out, size_t size, int keep_slash);

#endif
