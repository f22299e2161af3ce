/* repoint: one binary, subcommands.
 *   repoint serve [--config FILE] [--roles api,workers] [--channels SMS,APNS]
 *                                         the API and the delivery workers, or either alone
 *   repoint check-config [--config FILE]  print the effective configuration, secrets masked
 *   repoint init [--config FILE]          create the access key and secrets key files if missing
 *   repoint rotate-secrets [--config FILE] re-seal stored channel secrets with the current key
 * Exit status 2 for a bad configuration, 1 for other start-up failures. */
#include "admission.h"
#include "campaign_run.h"
#include "config.h"
#include "credentials.h"
#include "direct.h"
#include "event_forwarder.h"
#include "http.h"
#include "janitor.h"
#include "jobs.h"
#include "limiter.h"
#include "log.h"
#include "queue.h"
#include "rc.h"
#include "secrets.h"
#include "secrets_rotate.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "../channels/email/smtp_relay.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

#define EXIT_CONFIG 2

static void usage(FILE *out)
{
    fputs("usage: repoint serve [--config FILE] [--roles api,workers] [--channels TYPE,...]\n"
          "       repoint check-config [--config FILE]\n"
          "       repoint init [--config FILE]\n"
          "       repoint rotate-secrets [--config FILE]\n"
          "       repoint version\n",
          out);
}

static int config_fail(const struct rp_err *err)
{
    fprintf(stderr, "repoint: config error: %s%s%s\n", err->field, err->field[0] ? ": " : "",
            err->msg);
    return EXIT_CONFIG;
}

static int load_config(struct rp_config *cfg, const char *path)
{
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_config_load(cfg, path, environ, &err))
        return config_fail(&err);
    if (rp_smtp_config_check(cfg, &err)) {
        rp_config_cleanup(cfg);
        return config_fail(&err);
    }
    rp_log_set_level(rp_log_level_parse(rp_config_str(cfg, "log.level")));
    rp_log_set_format(rp_config_str(cfg, "log.format"));
    return 0;
}

/* Creates the parent folder of a file we are about to create (var/ on a first run). */
static void ensure_parent(const char *path)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir)
        return;
    *slash = '\0';
    mkdir(dir, 0700);
}

static int cmd_init(const struct rp_config *cfg)
{
    struct rp_err err;
    rp_err_clear(&err);
    const char *creds = rp_config_str(cfg, "auth.credentials_file");
    const char *key = rp_config_str(cfg, "secrets.key_file");
    if (access(creds, F_OK) != 0) {
        ensure_parent(creds);
        if (rp_credentials_create_file(creds, &err))
            return config_fail(&err);
        fprintf(stderr, "repoint: created access key pair in %s\n", creds);
    }
    if (access(key, F_OK) != 0) {
        ensure_parent(key);
        if (rp_secrets_create_key_file(key, &err))
            return config_fail(&err);
        fprintf(stderr, "repoint: created secrets key in %s\n", key);
    }
    return 0;
}

/* The current key and the previous ones, which still open what they sealed. */
static int load_secrets(const struct rp_config *cfg, struct rp_secrets *secrets,
                        struct rp_err *err)
{
    return rp_secrets_load(secrets, rp_config_str(cfg, "secrets.key_file"), err) ||
           rp_secrets_load_previous(secrets, rp_config_str(cfg, "secrets.previous_key_files"),
                                    err);
}

static int configure_store(const struct rp_config *cfg, struct rp_store_conf *store,
                           struct rp_err *err)
{
    if (rp_store_parse_url(rp_config_str(cfg, "redis.url"), store, err))
        return -1;
    store->timeout_ms = (int)rp_config_int(cfg, "redis.timeout_ms");
    rp_store_configure(store);
    return 0;
}

static int cmd_rotate_secrets(const struct rp_config *cfg)
{
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_store_conf store;
    if (configure_store(cfg, &store, &err) || load_secrets(cfg, &rp_ctx.secrets, &err))
        return config_fail(&err);
    struct rp_rotation_counts n;
    int rc = rp_secrets_rotate(&rp_ctx.secrets, &n, stderr);
    printf("re-sealed %ld, already current %ld, changed meanwhile %ld, unreadable %ld\n",
           n.resealed, n.current, n.raced, n.unreadable);
    rp_store_thread_close();
    OPENSSL_cleanse(&rp_ctx.secrets, sizeof(rp_ctx.secrets));
    if (rc) {
        fprintf(stderr, "repoint: Redis failed midway; run rotate-secrets again to finish\n");
        return 1;
    }
    return n.unreadable ? 1 : 0;
}

struct serve_options {
    int api, workers;
    const char *channels;
};

static void configure_queue(const struct rp_config *cfg)
{
    struct rp_queue_conf qc = {
        .shards = (int)rp_config_int(cfg, "queue.shards"),
        .batch = (int)rp_config_int(cfg, "queue.batch"),
        .visibility_timeout_ms = rp_config_int(cfg, "queue.visibility_timeout_ms"),
        .max_attempts = (int)rp_config_int(cfg, "queue.max_attempts"),
        .retry_base_ms = rp_config_int(cfg, "queue.retry_base_ms"),
        .retry_max_ms = rp_config_int(cfg, "queue.retry_max_ms"),
    };
    rp_queue_configure(&qc);
}

/* Reads auth.credentials_file and makes it the set requests authenticate against. */
static int load_credentials(const struct rp_config *cfg, struct rp_err *err)
{
    struct rp_credentials creds;
    if (rp_credentials_load(&creds, rp_config_str(cfg, "auth.credentials_file"), err))
        return -1;
    rp_credentials_install(&creds);
    return 0;
}

/* Keys SIGHUP applies to a running process; every other change waits for a restart. */
static int reloadable(const char *key)
{
    return strcmp(key, "log.level") == 0 || strcmp(key, "log.format") == 0 ||
           (strncmp(key, "limits.", 7) == 0 && strstr(key, ".messages_per_second"));
}

/* SIGHUP: reads the file and the environment again and applies the log settings and the
 * limits.* ceilings without dropping work, and reads the access keys again; a file that no
 * longer parses changes nothing. */
static void reload(const struct rp_config *running)
{
    struct rp_config fresh;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_config_load(&fresh, running->path, environ, &err)) {
        rp_error("main", "SIGHUP: configuration not reloaded: %s%s%s", err.field,
                 err.field[0] ? ": " : "", err.msg);
        return;
    }
    size_t n;
    const struct rp_config_key *keys = rp_config_keys(&n);
    int applied = 0, pending = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(running->values[i], fresh.values[i]) == 0)
            continue;
        if (reloadable(keys[i].name)) {
            applied++;
            rp_info("main", "SIGHUP: %s is now %s", keys[i].name, fresh.values[i]);
        } else {
            pending++;
            rp_warn("main", "SIGHUP: %s changed; it applies after a restart", keys[i].name);
        }
    }
    rp_log_set_level(rp_log_level_parse(rp_config_str(&fresh, "log.level")));
    rp_log_set_format(rp_config_str(&fresh, "log.format"));
    rp_limiter_load_config(&fresh);
    /* The access keys are read again too (rotation without a restart); a file that no longer
     * loads keeps the keys in use. */
    if (!rp_ctx.auth_off) {
        if (load_credentials(running, &err))
            rp_error("main", "SIGHUP: access keys not reloaded: %s%s%s", err.field,
                     err.field[0] ? ": " : "", err.msg);
        else
            rp_info("main", "SIGHUP: access keys reloaded from %s (%zu key(s))",
                    rp_config_str(running, "auth.credentials_file"),
                    rp_credentials_current()->n);
    }
    rp_info("main", "SIGHUP: configuration reloaded (%d change(s) applied, %d pending a restart)",
            applied, pending);
    rp_config_cleanup(&fresh);
}

/* Stops every service serve starts (each stop is a no-op for one that did not start): waiting
 * direct sends are answered first, then the listeners close, then the workers get grace_ms to
 * finish what is in flight. */
static void stop_services(int grace_ms)
{
    rp_direct_stop();
    rp_http_stop();
    rp_admission_stop();
    rp_campaigns_stop();
    rp_jobs_stop();
    rp_workers_stop(grace_ms);
    rp_event_forwarder_stop();
    rp_janitor_stop();
}

static int cmd_serve(const struct rp_config *cfg, const struct serve_options *opt)
{
    struct rp_err err;
    rp_err_clear(&err);
    rp_ctx.cfg = cfg;
    rp_ctx.region = rp_config_str(cfg, "region");
    rp_ctx.auth_off = strcmp(rp_config_str(cfg, "auth.mode"), "off") == 0;

    struct rp_store_conf store;
    if (configure_store(cfg, &store, &err))
        return config_fail(&err);

    if (rp_ctx.auth_off)
        rp_warn("auth", "auth.mode is off: every request is accepted without a signature; "
                        "use this only for local experiments");
    else if (load_credentials(cfg, &err))
        return config_fail(&err);
    if (load_secrets(cfg, &rp_ctx.secrets, &err))
        return config_fail(&err);
    /* Read before any thread starts, so a missing file is a plain configuration error. */
    const char *cert_path = rp_config_str(cfg, "listen.tls_cert");
    char *cert_pem = NULL, *key_pem = NULL;
    if (*cert_path) {
        cert_pem = rp_read_file(cert_path, 1 << 20, NULL);
        key_pem = rp_read_file(rp_config_str(cfg, "listen.tls_key"), 1 << 20, NULL);
        if (!cert_pem || !key_pem) {
            rp_err_set(&err, RP_EIO, cert_pem ? "listen.tls_key" : "listen.tls_cert",
                       "cannot read %s: %s",
                       cert_pem ? rp_config_str(cfg, "listen.tls_key") : cert_path,
                       strerror(errno));
            free(cert_pem);
            free(key_pem);
            return config_fail(&err);
        }
    }

    char host[256];
    int port;
    rp_config_split_hostport(rp_config_str(cfg, "listen"), host, sizeof(host), &port);

    /* Signals are taken synchronously by this thread; every thread started below inherits the
     * mask, so none of them is interrupted. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    configure_queue(cfg);
    rp_limiter_load_config(cfg);
    if (rp_janitor_start())
        return 1;
    if (rp_event_forwarder_start()) {
        rp_janitor_stop();
        return 1;
    }
    int workers = opt->workers ? (int)rp_config_int(cfg, "workers.threads") : 0;
    if (rp_workers_start(cfg, workers, opt->channels)) {
        rp_event_forwarder_stop();
        rp_janitor_stop();
        return 1;
    }
    const char *metrics_listen = rp_config_str(cfg, "metrics.listen");
    struct rp_http_conf http = {
        .host = host,
        .port = port,
        .threads = (int)rp_config_int(cfg, "http.threads"),
        .max_body = (size_t)rp_config_int(cfg, "http.max_body_bytes"),
        .max_connections = (int)rp_config_int(cfg, "http.max_connections"),
        .connection_timeout_s = (int)rp_config_int(cfg, "http.connection_timeout_seconds"),
        .tls_cert_pem = cert_pem,
        .tls_key_pem = key_pem,
        .routes = (opt->api ? RP_LISTEN_API : 0) | RP_LISTEN_PROBES |
                  (*metrics_listen ? 0 : RP_LISTEN_METRICS),
    };
    char metrics_host[256] = "";
    int metrics_port = 0;
    if (*metrics_listen)
        rp_config_split_hostport(metrics_listen, metrics_host, sizeof(metrics_host),
                                 &metrics_port);
    struct rp_http_conf metrics_http = {
        .host = metrics_host,
        .port = metrics_port,
        .threads = 2,
        .max_body = 0,
        .max_connections = 256,
        .connection_timeout_s = 30,
        .routes = RP_LISTEN_PROBES | RP_LISTEN_METRICS | RP_LISTEN_SIDE,
    };
    int http_failed = (opt->api && rp_direct_start()) || rp_admission_start(cfg) ||
                      rp_http_start(&http) || (*metrics_listen && rp_http_start(&metrics_http));
    /* MHD keeps its own copy of the key material. */
    if (key_pem)
        OPENSSL_cleanse(key_pem, strlen(key_pem));
    free(cert_pem);
    free(key_pem);
    if (http_failed || rp_jobs_start(cfg, (int)rp_config_int(cfg, "jobs.threads")) ||
        rp_campaigns_start(cfg, (int)rp_config_int(cfg, "campaigns.threads"))) {
        stop_services(0);
        return 1;
    }
    if (opt->api)
        rp_info("main", "repoint listening on %s://%s:%d (redis %s, auth %s, %d worker unit(s))",
                cert_path[0] ? "https" : "http", host, port,
                store.unix_path[0] ? store.unix_path : store.host,
                rp_ctx.auth_off ? "off" : "sigv4", workers);
    else
        rp_info("main", "repoint workers running (redis %s, %d unit(s), probes on %s:%d)",
                store.unix_path[0] ? store.unix_path : store.host, workers, host, port);
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGHUP) {
            reload(cfg);
            continue;
        }
        rp_info("main", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    stop_services((int)rp_config_int(cfg, "shutdown.grace_seconds") * 1000);
    rp_credentials_release_all();
    rp_info("main", "stopped");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_CONFIG;
    }
    const char *cmd = argv[1];
    const char *config_path = NULL;
    struct serve_options opt = {.api = 1, .workers = 1, .channels = NULL};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--roles") == 0 && i + 1 < argc) {
            const char *roles = argv[++i];
            opt.api = strstr(roles, "api") != NULL;
            opt.workers = strstr(roles, "workers") != NULL;
            if (!opt.api && !opt.workers) {
                fprintf(stderr, "repoint: --roles takes api, workers or api,workers\n");
                return EXIT_CONFIG;
            }
        } else if (strcmp(argv[i], "--channels") == 0 && i + 1 < argc) {
            opt.channels = argv[++i];
        } else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_path = argv[++i];
        } else if (strncmp(argv[i], "--config=", 9) == 0) {
            config_path = argv[i] + 9;
        } else {
            fprintf(stderr, "repoint: unknown argument '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_CONFIG;
        }
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        puts("repoint " RP_VERSION);
        return 0;
    }
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0) {
        usage(stdout);
        return 0;
    }
    struct rp_config cfg;
    int rc = load_config(&cfg, config_path);
    if (rc)
        return rc;
    if (strcmp(cmd, "check-config") == 0) {
        rp_config_print(&cfg, stdout);
        rc = 0;
    } else if (strcmp(cmd, "init") == 0) {
        rc = cmd_init(&cfg);
    } else if (strcmp(cmd, "rotate-secrets") == 0) {
        rc = cmd_rotate_secrets(&cfg);
    } else if (strcmp(cmd, "serve") == 0) {
        rc = cmd_serve(&cfg, &opt);
    } else {
        fprintf(stderr, "repoint: unknown command '%s'\n", cmd);
        usage(stderr);
        rc = EXIT_CONFIG;
    }
    rp_config_cleanup(&cfg);
    return rc;
}
