#include "config.h"
#include "rc.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define KEY_STR(n, def) {.name = (n), .type = RP_CFG_STRING, .default_value = (def)}
#define KEY_SECRET(n, def) {.name = (n), .type = RP_CFG_STRING, .default_value = (def), .secret = 1}
#define KEY_INT(n, def, lo, hi)                                                                    \
    {.name = (n), .type = RP_CFG_INT, .default_value = (def), .min = (lo), .max = (hi)}
#define KEY_ENUM(n, def, ch) {.name = (n), .type = RP_CFG_ENUM, .default_value = (def), .choices = (ch)}
#define KEY_BOOL(n, def) {.name = (n), .type = RP_CFG_BOOL, .default_value = (def)}

/* Every key Repoint reads. Keep config/repoint.conf in step: it documents each line. */
static const struct rp_config_key config_keys[] = {
    {.name = "listen", .type = RP_CFG_HOSTPORT, .default_value = "127.0.0.1:8080"},
    KEY_STR("listen.tls_cert", ""),
    KEY_STR("listen.tls_key", ""),
    KEY_BOOL("listen.allow_plain_http", "no"),
    {.name = "metrics.listen", .type = RP_CFG_HOSTPORT, .default_value = ""},
    KEY_STR("redis.url", "redis://127.0.0.1:6379/0"),
    KEY_INT("redis.timeout_ms", "1000", 10, 60000),
    KEY_ENUM("auth.mode", "sigv4", "sigv4|off"),
    KEY_STR("auth.credentials_file", "var/credentials"),
    KEY_STR("auth.region", ""),
    KEY_INT("auth.max_skew_seconds", "900", 1, 86400),
    KEY_STR("secrets.key_file", "var/secrets.key"),
    KEY_STR("secrets.previous_key_files", ""),
    KEY_ENUM("log.level", "info", "debug|info|warn|error"),
    KEY_ENUM("log.format", "text", "text|json"),
    KEY_INT("http.max_body_bytes", "1048576", 1024, 1073741824),
    KEY_INT("http.threads", "8", 1, 256),
    KEY_INT("http.max_connections", "4096", 16, 1000000),
    KEY_INT("http.connection_timeout_seconds", "60", 1, 86400),
    KEY_STR("tls.ca_file", ""),
    /* The message pipeline. */
    KEY_INT("queue.shards", "1", 1, 1024),
    KEY_INT("queue.batch", "128", 1, 10000),
    KEY_INT("queue.visibility_timeout_ms", "30000", 1000, 3600000),
    KEY_INT("queue.max_attempts", "5", 1, 100),
    KEY_INT("queue.retry_base_ms", "1000", 10, 3600000),
    KEY_INT("queue.retry_max_ms", "300000", 100, 86400000),
    KEY_INT("queue.in_flight", "256", 1, 100000),
    KEY_INT("queue.campaign_deadline_seconds", "86400", 60, 2592000),
    KEY_INT("direct.deadline_ms", "10000", 100, 600000),
    KEY_INT("workers.threads", "1", 0, 64),
    KEY_INT("shutdown.grace_seconds", "10", 0, 3600),
    KEY_INT("admission.max_waiting_direct", "2000", 0, 1000000),
    KEY_INT("admission.max_queue_per_channel", "100000", 0, 1000000000),
    KEY_INT("events.maxlen", "1000000", 1000, 1000000000),
    KEY_INT("limits.apns.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.apns_sandbox.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.apns_voip.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.apns_voip_sandbox.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.gcm.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.adm.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.baidu.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.email.messages_per_second", "0", 0, 1000000),
    KEY_INT("limits.sms.messages_per_second", "0", 0, 1000000),
    /* The SMS channel: a Twilio-compatible HTTP provider. */
    KEY_STR("sms.url", "https://api.twilio.com"),
    KEY_STR("sms.account_sid", ""),
    KEY_SECRET("sms.auth_token", ""),
    KEY_STR("sms.messaging_service_sid", ""),
    KEY_STR("sms.status_callback_url", ""),
    KEY_INT("sms.timeout_ms", "10000", 100, 120000),
    /* The APNs channels. */
    KEY_STR("apns.production_url", "https://api.push.apple.com"),
    KEY_STR("apns.sandbox_url", "https://api.sandbox.push.apple.com"),
    KEY_INT("apns.max_connections", "4", 1, 64),
    KEY_INT("apns.idle_timeout_seconds", "600", 5, 86400),
    KEY_INT("apns.ping_interval_seconds", "60", 1, 3600),
    KEY_INT("apns.token_refresh_minutes", "50", 20, 60),
    KEY_INT("apns.timeout_ms", "10000", 100, 120000),

    /* FCM, ADM and Baidu. */
    KEY_STR("fcm.url", "https://fcm.googleapis.com"),
    KEY_INT("fcm.timeout_ms", "10000", 100, 120000),
    KEY_STR("adm.url", "https://api.amazon.com"),
    KEY_STR("adm.token_url", "https://api.amazon.com/auth/o2/token"),
    KEY_INT("adm.timeout_ms", "10000", 100, 120000),
    KEY_STR("baidu.url", "https://api.tuisong.baidu.com"),
    KEY_INT("baidu.timeout_ms", "10000", 100, 120000),

    /* The EMAIL channel's SMTP relay. */
    KEY_STR("smtp.url", ""),
    KEY_ENUM("smtp.starttls", "auto", "auto|required|optional|off"),
    KEY_STR("smtp.username", ""),
    KEY_SECRET("smtp.password", ""),
    KEY_INT("smtp.connections", "4", 1, 256),
    KEY_INT("smtp.messages_per_connection", "100", 1, 10000),
    KEY_INT("smtp.timeout_ms", "30000", 1000, 600000),

    /* Templates and one-time passwords. */
    KEY_INT("templates.cache_size", "1024", 16, 1048576),
    KEY_INT("templates.max_rendered_bytes", "1048576", 1024, 16777216),

    KEY_INT("otp.sends_per_destination_per_hour", "10", 0, 1000000),
    KEY_INT("otp.sends_per_app_per_minute", "600", 0, 10000000),

    /* Import and export jobs. */
    KEY_STR("import.file_root", ""),
    KEY_STR("export.file_root", ""),
    KEY_INT("import.concurrent_jobs", "2", 1, 1000),
    KEY_INT("import.max_bytes", "1073741824", 1024, 1099511627776LL),
    KEY_INT("jobs.threads", "2", 0, 64),
    KEY_INT("jobs.lease_ms", "30000", 500, 3600000),
    KEY_INT("import.piece_bytes", "4194304", 4096, 1099511627776LL),
    KEY_STR("s3.endpoint", ""),
    KEY_STR("s3.region", "us-east-1"),
    KEY_STR("s3.access_key_id", ""),
    KEY_SECRET("s3.secret_access_key", ""),
    KEY_BOOL("s3.path_style", "no"),

    /* Campaigns. */
    KEY_INT("campaigns.threads", "2", 0, 64),
    KEY_INT("campaigns.batch", "500", 1, 10000),
    KEY_INT("campaigns.queue_window", "20000", 100, 10000000),

    KEY_STR("account_id", "000000000000"),
    KEY_STR("region", "us-east-1"),
};

const struct rp_config_key *rp_config_keys(size_t *count)
{
    *count = sizeof(config_keys) / sizeof(config_keys[0]);
    return config_keys;
}

/* Keys by name in an open-addressed table: the delivery path reads settings by name (the
 * account id twice per event ...), and a walk of the whole key list showed in its profile. */
#define KEY_SLOTS 512
static short key_slots[KEY_SLOTS]; /* index + 1; 0: empty */
static pthread_once_t key_slots_once = PTHREAD_ONCE_INIT;

static unsigned key_hash(const char *name)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (const unsigned char *c = (const unsigned char *)name; *c; c++)
        h = (h ^ *c) * 16777619u;
    return h;
}

static void key_slots_fill(void)
{
    size_t n;
    const struct rp_config_key *keys = rp_config_keys(&n);
    if (n >= KEY_SLOTS / 2)
        rp_panic("config: %zu keys need a larger KEY_SLOTS", n);
    for (size_t i = 0; i < n; i++) {
        unsigned slot = key_hash(keys[i].name) % KEY_SLOTS;
        while (key_slots[slot])
            slot = (slot + 1) % KEY_SLOTS;
        key_slots[slot] = (short)(i + 1);
    }
}

static int key_index(const char *name)
{
    pthread_once(&key_slots_once, key_slots_fill);
    size_t n;
    const struct rp_config_key *keys = rp_config_keys(&n);
    for (unsigned slot = key_hash(name) % KEY_SLOTS; key_slots[slot]; slot = (slot + 1) % KEY_SLOTS)
        if (strcmp(keys[key_slots[slot] - 1].name, name) == 0)
            return key_slots[slot] - 1;
    return -1;
}

int rp_config_split_hostport(const char *value, char *host, size_t host_size, int *port)
{
    const char *colon;
    const char *host_start = value;
    size_t host_len;
    if (value[0] == '[') {
        const char *close = strchr(value, ']');
        if (!close || close[1] != ':')
            return RP_EINVAL;
        host_start = value + 1;
        host_len = (size_t)(close - host_start);
        colon = close + 1;
    } else {
        colon = strrchr(value, ':');
        if (!colon)
            return RP_EINVAL;
        host_len = (size_t)(colon - value);
    }
    if (host_len == 0 || host_len >= host_size)
        return RP_EINVAL;
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return RP_EINVAL;
    memcpy(host, host_start, host_len);
    host[host_len] = '\0';
    *port = (int)p;
    return 0;
}

static int is_bool_word(const char *v)
{
    static const char *const words[] = {"yes", "no", "true", "false", "on", "off", "1", "0"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (strcmp(v, words[i]) == 0)
            return 1;
    return 0;
}

/* Checks a value against its key's type; fills err->msg on failure. */
static int check_value(const struct rp_config_key *key, const char *value, struct rp_err *err)
{
    switch (key->type) {
    case RP_CFG_STRING:
        return 0;
    case RP_CFG_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || *end || end == value)
            return rp_err_set(err, RP_EINVAL, NULL, "%s: '%s' is not an integer", key->name,
                              value);
        if (v < key->min || v > key->max)
            return rp_err_set(err, RP_EINVAL, NULL, "%s: %lld is outside %lld..%lld", key->name,
                              v, key->min, key->max);
        return 0;
    }
    case RP_CFG_BOOL:
        if (!is_bool_word(value))
            return rp_err_set(err, RP_EINVAL, NULL, "%s: '%s' is not yes/no", key->name, value);
        return 0;
    case RP_CFG_ENUM: {
        size_t len = strlen(value);
        for (const char *c = key->choices; *c;) {
            const char *bar = strchr(c, '|');
            size_t clen = bar ? (size_t)(bar - c) : strlen(c);
            if (clen == len && strncmp(c, value, len) == 0)
                return 0;
            c += clen + (bar ? 1 : 0);
        }
        return rp_err_set(err, RP_EINVAL, NULL, "%s: '%s' is not one of %s", key->name, value,
                          key->choices);
    }
    case RP_CFG_HOSTPORT: {
        char host[256];
        int port;
        if (!*value && !*key->default_value)
            return 0; /* an optional listener, off */
        if (rp_config_split_hostport(value, host, sizeof(host), &port))
            return rp_err_set(err, RP_EINVAL, NULL, "%s: '%s' is not host:port", key->name,
                              value);
        return 0;
    }
    }
    return 0;
}

/* Config errors carry their location in the message: "FILE:LINE: problem". */
static void prefix_msg(struct rp_err *err, const char *where)
{
    char msg[sizeof(err->msg)];
    snprintf(msg, sizeof(msg), "%s", err->msg);
    snprintf(err->msg, sizeof(err->msg), "%.100s: %.80s", where, msg);
    err->field[0] = '\0';
}

static int set_value(struct rp_config *cfg, int idx, const char *value, enum rp_config_source src)
{
    char *copy = rp_strdup(value);
    free(cfg->values[idx]);
    cfg->values[idx] = copy;
    cfg->source[idx] = src;
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        s[--len] = '\0';
    return s;
}

static int load_file(struct rp_config *cfg, const char *path, struct rp_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return rp_err_set(err, RP_EINVAL, NULL, "%.120s: cannot read the file: %s", path,
                          strerror(errno));
    char line[4096];
    int lineno = 0;
    int rc = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char where[128];
        snprintf(where, sizeof(where), "%.100s:%d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            rc = rp_err_set(err, RP_EINVAL, NULL, "%s: line longer than %zu bytes", where,
                            sizeof(line));
            break;
        }
        char *hash = strchr(line, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(line);
        if (!*s)
            continue;
        char *name = s;
        while (*s && !isspace((unsigned char)*s))
            s++;
        if (*s)
            *s++ = '\0';
        char *value = trim(s);
        int idx = key_index(name);
        if (idx < 0) {
            rc = rp_err_set(err, RP_EINVAL, NULL, "%s: unknown key '%.60s'", where, name);
            break;
        }
        if ((rc = check_value(&config_keys[idx], value, err))) {
            prefix_msg(err, where);
            break;
        }
        set_value(cfg, idx, value, RP_CFG_FROM_FILE);
    }
    fclose(f);
    return rc;
}

static void env_name(const char *key, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "REPOINT_");
    for (; *key && n + 1 < size; key++)
        out[n++] = *key == '.' ? '_' : (char)toupper((unsigned char)*key);
    out[n] = '\0';
}

static int load_env(struct rp_config *cfg, char *const *envp, struct rp_err *err)
{
    for (size_t i = 0; i < cfg->n; i++) {
        char var[64];
        env_name(config_keys[i].name, var, sizeof(var));
        size_t vlen = strlen(var);
        for (char *const *e = envp; e && *e; e++) {
            if (strncmp(*e, var, vlen) != 0 || (*e)[vlen] != '=')
                continue;
            const char *value = *e + vlen + 1;
            int rc = check_value(&config_keys[i], value, err);
            if (rc) {
                prefix_msg(err, var);
                return rc;
            }
            set_value(cfg, (int)i, value, RP_CFG_FROM_ENV);
        }
    }
    return 0;
}

static int is_loopback(const char *host)
{
    unsigned char addr[16];
    if (strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
        return 1;
    return inet_pton(AF_INET, host, addr) == 1 && addr[0] == 127;
}

/* Message content and provider credentials cross the API: in clear only on loopback, or where
 * the operator says a proxy in front terminates TLS. */
static int check_listen(const struct rp_config *cfg, struct rp_err *err)
{
    const char *cert = rp_config_str(cfg, "listen.tls_cert");
    const char *key = rp_config_str(cfg, "listen.tls_key");
    if (!*cert != !*key)
        return rp_err_set(err, RP_EINVAL, *cert ? "listen.tls_key" : "listen.tls_cert",
                          "listen.tls_cert and listen.tls_key go together");
    char host[256];
    int port;
    if (*cert || rp_config_bool(cfg, "listen.allow_plain_http") ||
        rp_config_split_hostport(rp_config_str(cfg, "listen"), host, sizeof(host), &port) ||
        is_loopback(host))
        return 0;
    return rp_err_set(err, RP_EINVAL, "listen",
                      "plain HTTP on %s would carry messages and credentials in clear: set "
                      "listen.tls_cert and listen.tls_key, or listen.allow_plain_http yes when a "
                      "proxy in front terminates TLS",
                      host);
}

int rp_config_load(struct rp_config *cfg, const char *path, char *const *envp, struct rp_err *err)
{
    memset(cfg, 0, sizeof(*cfg));
    rp_config_keys(&cfg->n);
    cfg->values = rp_calloc(cfg->n, sizeof(char *));
    cfg->source = rp_calloc(cfg->n, sizeof(enum rp_config_source));
    for (size_t i = 0; i < cfg->n; i++)
        set_value(cfg, (int)i, config_keys[i].default_value, RP_CFG_FROM_DEFAULT);
    cfg->path = path ? rp_strdup(path) : NULL;
    int rc = 0;
    if (path)
        rc = load_file(cfg, path, err);
    if (!rc)
        rc = load_env(cfg, envp, err);
    if (!rc)
        rc = check_listen(cfg, err);
    if (rc)
        rp_config_cleanup(cfg);
    return rc;
}

void rp_config_cleanup(struct rp_config *cfg)
{
    for (size_t i = 0; cfg->values && i < cfg->n; i++)
        free(cfg->values[i]);
    free(cfg->values);
    free(cfg->source);
    free(cfg->path);
    memset(cfg, 0, sizeof(*cfg));
}

static int must_index(const char *key)
{
    int idx = key_index(key);
    if (idx < 0)
        rp_panic("config: no key named %s", key);
    return idx;
}

const char *rp_config_str(const struct rp_config *cfg, const char *key)
{
    return cfg->values[must_index(key)];
}

long long rp_config_int(const struct rp_config *cfg, const char *key)
{
    return strtoll(cfg->values[must_index(key)], NULL, 10);
}

int rp_config_bool(const struct rp_config *cfg, const char *key)
{
    const char *v = cfg->values[must_index(key)];
    return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0 ||
           strcmp(v, "1") == 0;
}

/* Masks the password of a URL-shaped value ("redis://:pw@host") as well as secret keys. */
static void print_masked(FILE *out, const struct rp_config_key *key, const char *value)
{
    if (key->secret && *value) {
        fputs("********", out);
        return;
    }
    const char *scheme = strstr(value, "://");
    const char *at = scheme ? strchr(scheme + 3, '@') : NULL;
    if (at) {
        fprintf(out, "%.*s********%s", (int)(scheme + 3 - value), value, at);
        return;
    }
    fputs(value, out);
}

void rp_config_print(const struct rp_config *cfg, FILE *out)
{
    static const char *const source_names[] = {"default", "file", "environment"};
    for (size_t i = 0; i < cfg->n; i++) {
        fprintf(out, "%-32s ", config_keys[i].name);
        print_masked(out, &config_keys[i], cfg->values[i]);
        fprintf(out, "    # %s\n", source_names[cfg->source[i]]);
    }
}
