/* repoint: one binary, subcommands.
 *   repoint serve [--config FILE] [--roles api,workers] [--channels SMS,APNS]
 *                                         the API and the delivery workers, or either alone
 *   repoint check-config [--config FILE]  print the effective configuration, secrets masked
 *   repoint init [--config FILE]          create the access key and secrets key files if missing
 * Exit status 2 for a bad configuration, 1 for other start-up failures. */
#include "config.h"
#include "credentials.h"
#include "direct.h"
#include "event_forwarder.h"
#include "http.h"
#include "janitor.h"
#include "log.h"
#include "queue.h"
#include "rc.h"
#include "secrets.h"
#include "store.h"
#include "worker.h"
#include "../channels/email/smtp_relay.h"

#include <errno.h>
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

static int cmd_serve(const struct rp_config *cfg, const struct serve_options *opt)
{
    struct rp_err err;
    rp_err_clear(&err);
    rp_ctx.cfg = cfg;
    rp_ctx.region = rp_config_str(cfg, "region");
    rp_ctx.auth_off = strcmp(rp_config_str(cfg, "auth.mode"), "off") == 0;

    struct rp_store_conf store;
    if (rp_store_parse_url(rp_config_str(cfg, "redis.url"), &store, &err))
        return config_fail(&err);
    store.timeout_ms = (int)rp_config_int(cfg, "redis.timeout_ms");
    rp_store_configure(&store);

    if (rp_ctx.auth_off)
        rp_warn("auth", "auth.mode is off: every request is accepted without a signature; "
                        "use this only for local experiments");
    else if (rp_credentials_load(&rp_ctx.credentials, rp_config_str(cfg, "auth.credentials_file"),
                                 &err))
        return config_fail(&err);
    if (rp_secrets_load(&rp_ctx.secrets, rp_config_str(cfg, "secrets.key_file"), &err))
        return config_fail(&err);

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
    if (opt->api && (rp_direct_start() ||
                     rp_http_start(host, port, (int)rp_config_int(cfg, "http.threads"),
                                   (size_t)rp_config_int(cfg, "http.max_body_bytes"),
                                   (int)rp_config_int(cfg, "http.max_connections"),
                                   (int)rp_config_int(cfg, "http.connection_timeout_seconds")))) {
        rp_direct_stop();
        rp_workers_stop(0);
        rp_event_forwarder_stop();
        rp_janitor_stop();
        return 1;
    }
    if (opt->api)
        rp_info("main", "repoint listening on %s:%d (redis %s, auth %s, %d worker unit(s))", host,
                port, store.unix_path[0] ? store.unix_path : store.host,
                rp_ctx.auth_off ? "off" : "sigv4", workers);
    else
        rp_info("main", "repoint workers running (redis %s, %d unit(s))",
                store.unix_path[0] ? store.unix_path : store.host, workers);
    for (;;) {
        int sig = 0;
        sigwait(&set, &sig);
        if (sig == SIGHUP) {
            rp_info("main", "SIGHUP: nothing to reload yet");
            continue;
        }
        rp_info("main", "%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
        break;
    }
    /* Waiting direct sends are answered first, then the listener closes, then the workers
     * finish what is in flight. */
    rp_direct_stop();
    rp_http_stop();
    rp_workers_stop(5000);
    rp_event_forwarder_stop();
    rp_janitor_stop();
    rp_credentials_cleanup(&rp_ctx.credentials);
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
