/* The relay settings of the EMAIL channel (see smtp_relay.h). */
#include "smtp_relay.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/config.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"

/* Submission (RFC 6409), libESMTP's own default. */
#define SMTP_DEFAULT_PORT       587
#define SMTP_CONNECTIONS_MAX    256
#define SMTP_PER_CONNECTION_MAX 10000
#define SMTP_TIMEOUT_MIN        1000
#define SMTP_TIMEOUT_MAX        600000
#define SMTP_CREDENTIAL_MAX     512

void rp_smtp_relay_cleanup(struct rp_smtp_relay *r)
{
    if (r->password)
        OPENSSL_cleanse(r->password, strlen(r->password));
    free(r->password);
    free(r->username);
    memset(r, 0, sizeof(*r));
}

bool rp_smtp_host_is_loopback(const char *host)
{
    return strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
           strcmp(host, "::1") == 0;
}

int rp_smtp_relay_parse_url(const char *url, const char *starttls, struct rp_smtp_relay *r,
                            const char *url_field, const char *starttls_field, struct rp_err *err)
{
    if (strncmp(url, "smtps://", 8) == 0)
        return rp_err_set(err, RP_EINVAL, url_field,
                          "smtps:// (implicit TLS) is not supported: use smtp://host:587 "
                          "with STARTTLS required");
    if (strncmp(url, "smtp://", 7) != 0)
        return rp_err_set(err, RP_EINVAL, url_field, "must be smtp://host[:port]");
    const char *host = url + 7;
    const char *end = host + strcspn(host, "/?#@");
    if (*end)
        return rp_err_set(err, RP_EINVAL, url_field,
                          "must be smtp://host[:port] without user, path or query");
    const char *colon = memchr(host, ':', (size_t)(end - host));
    size_t host_len = colon ? (size_t)(colon - host) : (size_t)(end - host);
    if (host_len == 0 || host_len >= sizeof(r->host))
        return rp_err_set(err, RP_EINVAL, url_field, "has no host");
    for (size_t i = 0; i < host_len; i++) {
        char c = host[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-'))
            return rp_err_set(err, RP_EINVAL, url_field,
                              "must name the host by DNS name or IPv4 address");
    }
    int port = SMTP_DEFAULT_PORT;
    if (colon) {
        char *stop;
        errno = 0;
        long p = strtol(colon + 1, &stop, 10);
        if (errno || stop != end || stop == colon + 1 || p < 1 || p > 65535)
            return rp_err_set(err, RP_EINVAL, url_field, "has a port that is not 1-65535");
        port = (int)p;
    }
    memcpy(r->host, host, host_len);
    r->host[host_len] = '\0';
    r->port = port;
    if (!starttls || !*starttls || strcmp(starttls, "auto") == 0)
        r->starttls = rp_smtp_host_is_loopback(r->host) ? RP_SMTP_STARTTLS_OPTIONAL
                                                        : RP_SMTP_STARTTLS_REQUIRED;
    else if (strcmp(starttls, "required") == 0)
        r->starttls = RP_SMTP_STARTTLS_REQUIRED;
    else if (strcmp(starttls, "optional") == 0)
        r->starttls = RP_SMTP_STARTTLS_OPTIONAL;
    else if (strcmp(starttls, "off") == 0)
        r->starttls = RP_SMTP_STARTTLS_OFF;
    else
        return rp_err_set(err, RP_EINVAL, starttls_field,
                          "must be required, optional, off or auto");
    return 0;
}

int rp_smtp_relay_from_config(const struct rp_config *cfg, struct rp_smtp_relay *r,
                              struct rp_err *err)
{
    memset(r, 0, sizeof(*r));
    const char *url = rp_config_str(cfg, "smtp.url");
    if (!*url)
        return 0;
    int rc = rp_smtp_relay_parse_url(url, rp_config_str(cfg, "smtp.starttls"), r, "smtp.url",
                                     "smtp.starttls", err);
    if (rc < 0)
        return rc;
    const char *user = rp_config_str(cfg, "smtp.username");
    const char *pass = rp_config_str(cfg, "smtp.password");
    if (*user) {
        r->username = rp_strdup(user);
        r->password = rp_strdup(pass);
    }
    if (r->username && r->starttls == RP_SMTP_STARTTLS_OFF && !rp_smtp_host_is_loopback(r->host))
        return rp_err_set(err, RP_EINVAL, "smtp.starttls",
                          "is off for a remote relay with smtp.username: the password would "
                          "cross the network in clear");
    r->connections = (int)rp_config_int(cfg, "smtp.connections");
    r->messages_per_connection = (int)rp_config_int(cfg, "smtp.messages_per_connection");
    r->timeout_ms = (long)rp_config_int(cfg, "smtp.timeout_ms");
    return 1;
}

int rp_smtp_config_check(const struct rp_config *cfg, struct rp_err *err)
{
    struct rp_smtp_relay r;
    int rc = rp_smtp_relay_from_config(cfg, &r, err);
    if (rc >= 0 && *rp_config_str(cfg, "smtp.password") && !*rp_config_str(cfg, "smtp.username"))
        rc = rp_err_set(err, RP_EINVAL, "smtp.password", "is set without smtp.username");
    rp_smtp_relay_cleanup(&r);
    return rc < 0 ? rc : 0;
}

static int get_string(const json_t *doc, const char *name, size_t max, const char **out,
                      struct rp_err *err)
{
    const json_t *v = json_object_get(doc, name);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return rp_err_set(err, RP_EINVAL, name, "must be a string");
    const char *s = json_string_value(v);
    if (json_string_length(v) > max || strlen(s) != json_string_length(v))
        return rp_err_set(err, RP_EINVAL, name, "is longer than %zu characters", max);
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return rp_err_set(err, RP_EINVAL, name, "must not contain control characters");
    *out = *s ? s : NULL;
    return 0;
}

static int get_int(const json_t *doc, const char *name, long long lo, long long hi, long long *out,
                   struct rp_err *err)
{
    const json_t *v = json_object_get(doc, name);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return rp_err_set(err, RP_EINVAL, name, "must be an integer from %lld to %lld", lo, hi);
    *out = json_integer_value(v);
    return 0;
}

int rp_smtp_relay_from_json(const json_t *doc, const struct rp_config *cfg, struct rp_smtp_relay *r,
                            struct rp_err *err)
{
    memset(r, 0, sizeof(*r));
    if (!json_is_object(doc))
        return rp_err_set(err, RP_EINVAL, "relay", "must be a JSON object");
    const char *url = NULL, *starttls = NULL, *user = NULL, *pass = NULL;
    int rc = get_string(doc, "url", 2048, &url, err);
    if (rc == 0)
        rc = get_string(doc, "starttls", 16, &starttls, err);
    if (rc == 0)
        rc = get_string(doc, "username", SMTP_CREDENTIAL_MAX, &user, err);
    if (rc == 0)
        rc = get_string(doc, "password", SMTP_CREDENTIAL_MAX, &pass, err);
    if (rc < 0)
        return rc;
    if (!url)
        return rp_err_set(err, RP_EINVAL, "url", "is required");
    if (pass && !user)
        return rp_err_set(err, RP_EINVAL, "password", "is given without a username");
    if ((rc = rp_smtp_relay_parse_url(url, starttls, r, "url", "starttls", err)) < 0)
        return rc;
    if (user && r->starttls == RP_SMTP_STARTTLS_OFF && !rp_smtp_host_is_loopback(r->host))
        return rp_err_set(err, RP_EINVAL, "starttls",
                          "is off for a remote relay with a username: the password would cross "
                          "the network in clear");
    long long connections = rp_config_int(cfg, "smtp.connections");
    long long per = rp_config_int(cfg, "smtp.messages_per_connection");
    long long timeout = rp_config_int(cfg, "smtp.timeout_ms");
    rc = get_int(doc, "connections", 1, SMTP_CONNECTIONS_MAX, &connections, err);
    if (rc == 0)
        rc = get_int(doc, "messages_per_connection", 1, SMTP_PER_CONNECTION_MAX, &per, err);
    if (rc == 0)
        rc = get_int(doc, "timeout_ms", SMTP_TIMEOUT_MIN, SMTP_TIMEOUT_MAX, &timeout, err);
    if (rc < 0)
        return rc;
    r->connections = (int)connections;
    r->messages_per_connection = (int)per;
    r->timeout_ms = (long)timeout;
    if (user) {
        r->username = rp_strdup(user);
        r->password = rp_strdup(pass ? pass : "");
    }
    return 0;
}
