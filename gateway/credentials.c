#include "credentials.h"
#include "log.h"
#include "rc.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int valid_token(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);
    if (n < min || n > max)
        return 0;
    for (; *s; s++)
        if (!isgraph((unsigned char)*s))
            return 0;
    return 1;
}

static void add_apps(struct rp_credential *cred, const char *list)
{
    char *copy = rp_strdup(list);
    char *save = NULL;
    for (char *app = strtok_r(copy, ",", &save); app; app = strtok_r(NULL, ",", &save)) {
        if (!*app)
            continue;
        cred->apps = rp_realloc(cred->apps, (cred->n_apps + 1) * sizeof(char *));
        cred->apps[cred->n_apps++] = rp_strdup(app);
    }
    free(copy);
}

int rp_credentials_load(struct rp_credentials *creds, const char *path, struct rp_err *err)
{
    memset(creds, 0, sizeof(*creds));
    FILE *f = fopen(path, "r");
    if (!f)
        return rp_err_set(err, RP_EIO, "auth.credentials_file", "cannot read %s: %s", path,
                          strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
        rp_warn("auth", "%s is readable by group or others; chmod 600 it", path);
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char where[64];
        snprintf(where, sizeof(where), "auth.credentials_file line %d", lineno);
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *fields[4] = {0};
        int nf = 0;
        char *save = NULL;
        for (char *tok = strtok_r(line, " \t\r\n", &save); tok;
             tok = strtok_r(NULL, " \t\r\n", &save)) {
            if (nf == 3) {
                nf = 4;
                break;
            }
            fields[nf++] = tok;
        }
        if (nf == 0)
            continue;
        if (nf < 2 || nf > 3) {
            rc = rp_err_set(err, RP_EINVAL, where,
                            "expected ACCESS_KEY_ID SECRET_ACCESS_KEY [app-id,app-id,...]");
            break;
        }
        if (!valid_token(fields[0], 4, 128) || !valid_token(fields[1], 8, 256)) {
            rc = rp_err_set(err, RP_EINVAL, where,
                            "the key id must have 4-128 and the secret 8-256 visible characters");
            break;
        }
        if (rp_credentials_find(creds, fields[0])) {
            rc = rp_err_set(err, RP_EINVAL, where, "access key id %.40s appears twice", fields[0]);
            break;
        }
        creds->keys = rp_realloc(creds->keys, (creds->n + 1) * sizeof(*creds->keys));
        struct rp_credential *cred = &creds->keys[creds->n++];
        memset(cred, 0, sizeof(*cred));
        cred->access_key_id = rp_strdup(fields[0]);
        cred->secret = rp_strdup(fields[1]);
        if (fields[2])
            add_apps(cred, fields[2]);
    }
    fclose(f);
    if (rc)
        rp_credentials_cleanup(creds);
    return rc;
}

void rp_credentials_cleanup(struct rp_credentials *creds)
{
    for (size_t i = 0; i < creds->n; i++) {
        struct rp_credential *c = &creds->keys[i];
        free(c->access_key_id);
        if (c->secret) {
            memset(c->secret, 0, strlen(c->secret));
            free(c->secret);
        }
        for (size_t j = 0; j < c->n_apps; j++)
            free(c->apps[j]);
        free(c->apps);
    }
    free(creds->keys);
    memset(creds, 0, sizeof(*creds));
}

const struct rp_credential *rp_credentials_find(const struct rp_credentials *creds,
                                                const char *access_key_id)
{
    for (size_t i = 0; i < creds->n; i++)
        if (strcmp(creds->keys[i].access_key_id, access_key_id) == 0)
            return &creds->keys[i];
    return NULL;
}

static _Atomic(struct rp_credentials *) installed;

const struct rp_credentials *rp_credentials_current(void)
{
    return atomic_load_explicit(&installed, memory_order_acquire);
}

void rp_credentials_install(struct rp_credentials *creds)
{
    struct rp_credentials *set = rp_malloc(sizeof(*set));
    *set = *creds;
    memset(creds, 0, sizeof(*creds));
    set->retired = atomic_load_explicit(&installed, memory_order_relaxed);
    atomic_store_explicit(&installed, set, memory_order_release);
}

void rp_credentials_release_all(void)
{
    struct rp_credentials *set = atomic_exchange(&installed, NULL);
    while (set) {
        struct rp_credentials *older = set->retired;
        rp_credentials_cleanup(set);
        free(set);
        set = older;
    }
}

int rp_credential_allows_app(const struct rp_credential *cred, const char *app_id)
{
    if (!cred->apps)
        return 1;
    for (size_t i = 0; i < cred->n_apps; i++)
        if (strcmp(cred->apps[i], app_id) == 0)
            return 1;
    return 0;
}

int rp_credentials_create_file(const char *path, struct rp_err *err)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    static const char secret_alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[56];
    rp_random_bytes(raw, sizeof(raw));
    /* AWS-looking ids ("AKRP" + 16) so SDK-side validators that check the shape are happy. */
    char akid[21] = "AKRP";
    for (int i = 0; i < 16; i++)
        akid[4 + i] = alphabet[raw[i] & 31];
    akid[20] = '\0';
    char secret[41];
    for (int i = 0; i < 40; i++)
        secret[i] = secret_alphabet[raw[16 + i] & 63];
    secret[40] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        return rp_err_set(err, RP_EIO, "auth.credentials_file", "cannot create %s: %s", path,
                          strerror(errno));
    char line[128];
    int n = snprintf(line, sizeof(line), "%s %s\n", akid, secret);
    ssize_t wrote = write(fd, line, (size_t)n);
    memset(line, 0, sizeof(line));
    memset(secret, 0, sizeof(secret));
    close(fd);
    return wrote == n ? 0 : rp_err_set(err, RP_EIO, "auth.credentials_file", "short write");
}
