/* Import sources and export destinations (job_location.h). */
#include "job_location.h"
#include "http.h"
#include "import_row.h"
#include "rc.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK 65536

/* True when path equals root or lies below it (both resolved). */
static int under_root(const char *path, const char *root)
{
    size_t n = strlen(root);
    if (n == 1 && root[0] == '/')
        return 1;
    return strncmp(path, root, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* True when the path names a ".." component. */
static int has_dotdot(const char *p)
{
    for (const char *s = p; (s = strstr(s, "..")); s += 2)
        if ((s == p || s[-1] == '/') && (s[2] == '\0' || s[2] == '/'))
            return 1;
    return 0;
}

/* Creates the missing folders of path (resolved under root already for its existing part). */
static int make_dirs(const char *path)
{
    char buf[PATH_MAX * 2];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) && errno != EEXIST)
                return -1;
            *p = '/';
        }
    return mkdir(buf, 0755) && errno != EEXIST ? -1 : 0;
}

static int open_file(struct rp_location *loc, const char *path, const char *root, int for_export,
                     const char *field, struct rp_err *err)
{
    if (!root[0])
        return rp_err_set(err, RP_EINVAL, field, "file:// locations are not enabled (set %s)",
                          for_export ? "export.file_root" : "import.file_root");
    if (path[0] != '/' || has_dotdot(path))
        return rp_err_set(err, RP_EINVAL, field,
                          "must be an absolute file:/// path without '..' components");
    if (!realpath(root, loc->root))
        return rp_err_set(err, RP_EINVAL, field, "the configured file root does not exist");
    char resolved[PATH_MAX];
    if (for_export) {
        /* The deepest existing ancestor decides where the new folders would land. */
        char probe[PATH_MAX];
        snprintf(probe, sizeof(probe), "%s", path);
        while (!realpath(probe, resolved)) {
            char *slash = strrchr(probe, '/');
            if (!slash || slash == probe) {
                snprintf(resolved, sizeof(resolved), "/");
                break;
            }
            *slash = '\0';
        }
        if (!under_root(resolved, loc->root))
            return rp_err_set(err, RP_EINVAL, field, "resolves outside export.file_root");
        size_t plen = strlen(probe);
        char full[PATH_MAX * 2];
        snprintf(full, sizeof(full), "%s%s", resolved, path + plen);
        if (make_dirs(full) || !realpath(full, resolved) || !under_root(resolved, loc->root))
            return rp_err_set(err, RP_EINVAL, field, "cannot create the folder below the root");
    } else {
        if (!realpath(path, resolved))
            return rp_err_set(err, RP_EINVAL, field, "no such file or folder: %.100s", path);
        if (!under_root(resolved, loc->root))
            return rp_err_set(err, RP_EINVAL, field, "resolves outside import.file_root");
    }
    loc->prefix = rp_strdup(resolved);
    return 0;
}

int rp_location_open(struct rp_location *loc, const char *url, const char *root, int for_export,
                     const char *field, struct rp_err *err)
{
    memset(loc, 0, sizeof(*loc));
    if (!url || !rp_utf8_valid(url, strlen(url)))
        return rp_err_set(err, RP_EINVAL, field, "must be an s3:// or file:// URL");
    if (strncmp(url, "file://", 7) == 0)
        return open_file(loc, url + 7, root, for_export, field, err);
    if (strncmp(url, "s3://", 5) != 0)
        return rp_err_set(err, RP_EINVAL, field, "must be an s3:// or file:// URL");
    const char *b = url + 5, *slash = strchr(b, '/');
    size_t blen = slash ? (size_t)(slash - b) : strlen(b);
    if (blen < 3 || blen > 63 || strspn(b, "abcdefghijklmnopqrstuvwxyz0123456789.-") < blen)
        return rp_err_set(err, RP_EINVAL, field, "names no valid bucket (s3://bucket/prefix)");
    loc->is_s3 = 1;
    memcpy(loc->bucket, b, blen);
    loc->bucket[blen] = '\0';
    loc->prefix = rp_strdup(slash ? slash + 1 : "");
    if (strlen(loc->prefix) > 1024) {
        rp_location_close(loc);
        return rp_err_set(err, RP_EINVAL, field, "key prefix is longer than 1024 bytes");
    }
    rp_s3_conf_load(&loc->s3, rp_ctx.cfg);
    return 0;
}

void rp_location_close(struct rp_location *loc)
{
    free(loc->prefix);
    loc->prefix = NULL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Walks a folder in name order; files whose real path leaves the root are skipped. */
static int walk(const struct rp_location *loc, const char *dir, rp_location_list_fn fn, void *ud,
                int depth)
{
    if (depth > 32)
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = rp_realloc(names, cap * sizeof(char *));
        }
        names[n++] = rp_strdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(char *), cmp_names);
    int stop = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX * 2], real[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        struct stat st;
        if (!stop && realpath(path, real) && under_root(real, loc->root) && stat(real, &st) == 0) {
            if (S_ISDIR(st.st_mode))
                stop = walk(loc, path, fn, ud, depth + 1);
            else if (S_ISREG(st.st_mode))
                stop = fn(ud, path, (int64_t)st.st_size);
        }
        free(names[i]);
    }
    free(names);
    return stop;
}

int rp_location_list(const struct rp_location *loc, rp_location_list_fn fn, void *ud,
                     struct rp_err *err)
{
    if (loc->is_s3)
        return rp_s3_list(&loc->s3, loc->bucket, loc->prefix, fn, ud, err);
    struct stat st;
    if (stat(loc->prefix, &st))
        return rp_err_set(err, RP_ENOTFOUND, "S3Url", "no such file or folder");
    if (S_ISREG(st.st_mode))
        fn(ud, loc->prefix, (int64_t)st.st_size);
    else
        walk(loc, loc->prefix, fn, ud, 0);
    return 0;
}

int rp_location_open_file(const struct rp_location *loc, const char *key, int *fd,
                          struct rp_err *err)
{
    char real[PATH_MAX];
    *fd = -1;
    if (loc->is_s3 || !realpath(key, real) || !under_root(real, loc->root))
        return rp_err_set(err, RP_EFORBIDDEN, "file", "resolves outside import.file_root");
    *fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (*fd < 0)
        return rp_err_set(err, RP_EIO, "file", "cannot open: %s", strerror(errno));
    return 0;
}

/* Streams [start, end) of an open file (end < 0: to its end) to fn. */
static int read_fd_range(int fd, long long start, long long end, rp_location_data_fn fn,
                         void *ud, struct rp_err *err)
{
    char *buf = rp_malloc(READ_CHUNK);
    int rc = 0;
    long long at = start;
    while (end < 0 || at < end) {
        size_t want = READ_CHUNK;
        if (end >= 0 && (long long)want > end - at)
            want = (size_t)(end - at);
        ssize_t n = pread(fd, buf, want, (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = rp_err_set(err, RP_EIO, "file", "read failed: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        at += n;
        if (fn(ud, buf, (size_t)n)) {
            rc = rp_err_set(err, RP_EIO, "file", "reading stopped");
            break;
        }
    }
    free(buf);
    return rc;
}

int rp_location_read_range(const struct rp_location *loc, const char *key, long long start,
                           long long end, rp_location_data_fn fn, void *ud, struct rp_err *err)
{
    if (loc->is_s3)
        return start == 0 && end < 0 ? rp_s3_get(&loc->s3, loc->bucket, key, fn, ud, err)
                                     : rp_err_set(err, RP_EINVAL, "file", "ranges are for files");
    int fd;
    int rc = rp_location_open_file(loc, key, &fd, err);
    if (rc)
        return rc;
    rc = read_fd_range(fd, start, end, fn, ud, err);
    close(fd);
    return rc;
}

int rp_location_read(const struct rp_location *loc, const char *key, rp_location_data_fn fn,
                     void *ud, struct rp_err *err)
{
    return rp_location_read_range(loc, key, 0, -1, fn, ud, err);
}

int rp_location_write(const struct rp_location *loc, const char *name, const void *data,
                      size_t len, struct rp_err *err)
{
    if (loc->is_s3) {
        size_t plen = strlen(loc->prefix);
        char *key = rp_malloc(plen + strlen(name) + 2);
        sprintf(key, "%s%s%s", loc->prefix, plen && loc->prefix[plen - 1] != '/' ? "/" : "",
                name);
        int rc = rp_s3_put(&loc->s3, loc->bucket, key, data, len, "application/gzip", err);
        free(key);
        return rc;
    }
    char path[PATH_MAX * 2], tmp[PATH_MAX * 2 + 8];
    snprintf(path, sizeof(path), "%s/%s", loc->prefix, name);
    snprintf(tmp, sizeof(tmp), "%s.part", path);
    if (strstr(name, "..")) /* names are made by the export job, never by a client */
        return rp_err_set(err, RP_EINVAL, "file", "bad file name");
    char dir[PATH_MAX * 2];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
        if (make_dirs(dir))
            return rp_err_set(err, RP_EIO, "file", "cannot create %s: %s", dir, strerror(errno));
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0)
        return rp_err_set(err, RP_EIO, "file", "cannot create: %s", strerror(errno));
    const char *p = data;
    size_t left = len;
    while (left) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            close(fd);
            unlink(tmp);
            return rp_err_set(err, RP_EIO, "file", "write failed: %s", strerror(errno));
        }
        p += n;
        left -= (size_t)n;
    }
    /* Readers see whole files only. */
    if (close(fd) || rename(tmp, path))
        return rp_err_set(err, RP_EIO, "file", "cannot finish: %s", strerror(errno));
    return 0;
}
