/* Where import jobs read and export jobs write: s3://bucket/prefix on S3-compatible storage
 * (s3.h) or file:///path below import.file_root / export.file_root. A file:// path that resolves
 * outside its root (through "..", or symlinks) is refused. */
#ifndef RP_JOB_LOCATION_H
#define RP_JOB_LOCATION_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "s3.h"

struct rp_location {
    int is_s3;
    char bucket[256];
    char *prefix; /* s3: key prefix; file: the resolved absolute path. Owned. */
    char root[4096]; /* file: the resolved root */
    struct rp_s3_conf s3;
};

/* Parses and checks a URL; root is the configured file root (empty: file:// refused). For an
 * import the path must exist; for an export its missing folders are created. Returns 0 or
 * RP_EINVAL with err naming field. */
int rp_location_open(struct rp_location *loc, const char *url, const char *root, int for_export,
                     const char *field, struct rp_err *err);
void rp_location_close(struct rp_location *loc);

/* Every object below the location (recursively), in key order for files as for S3. key is
 * relative to the bucket (s3) or absolute (file). */
typedef int (*rp_location_list_fn)(void *ud, const char *key, int64_t size);
int rp_location_list(const struct rp_location *loc, rp_location_list_fn fn, void *ud,
                     struct rp_err *err);

/* Streams one listed object to fn. */
typedef int (*rp_location_data_fn)(void *ud, const char *data, size_t len);
int rp_location_read(const struct rp_location *loc, const char *key, rp_location_data_fn fn,
                     void *ud, struct rp_err *err);

/* Streams bytes [start, end) of a file:// object (end < 0: to its end); s3 objects only whole
 * (start 0, end -1). */
int rp_location_read_range(const struct rp_location *loc, const char *key, long long start,
                           long long end, rp_location_data_fn fn, void *ud, struct rp_err *err);

/* Opens a listed file:// object for reading, checked against the root again (it may have
 * become a symlink since the listing). Returns 0 with *fd open, or an rc with err set. */
int rp_location_open_file(const struct rp_location *loc, const char *key, int *fd,
                          struct rp_err *err);

/* Writes an object named name below the location. */
int rp_location_write(const struct rp_location *loc, const char *name, const void *data,
                      size_t len, struct rp_err *err);

#endif
