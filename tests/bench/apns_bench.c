/* apns_bench: drives the real APNs channel transport (channels/apns) on one event loop, the way
 * a worker does, as fast as it completes: --count notifications with at most --in-flight open,
 * to --tokens distinct device tokens. Configuration from REPOINT_* variables
 * (REPOINT_APNS_PRODUCTION_URL, REPOINT_TLS_CA_FILE, REPOINT_APNS_MAX_CONNECTIONS, ...); the
 * channel settings (TokenKey, TokenKeyId, TeamId, BundleId or Certificate + PrivateKey) from
 * --settings FILE (JSON). Prints one JSON line: counts by status, seconds, rate, CPU seconds
 * (user + system, whole process) per 100,000, peak RSS. --print-jwt prints a provider token
 * made from the settings instead (for h2load). Used by tests/bench/bench_apns.sh. */
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "channels/apns/apns_jwt.h"
#include "channels/channel.h"
#include "channels/keys.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/util.h"

extern char **environ;

struct bench {
    struct event_base *base;
    const struct rp_channel_ops *ch;
    void *transport;
    json_t *content, *settings;
    char (*tokens)[65];
    size_t n_tokens, count, started, done, ok;
    size_t by_status[8];
};

struct slot {
    struct rp_send send;
    struct rp_delivery delivery;
    struct bench *b;
};

static void start(struct slot *s)
{
    struct bench *b = s->b;
    size_t i = b->started++;
    rp_delivery_result_init(&s->send.result);
    s->delivery.address = b->tokens[i % b->n_tokens];
    snprintf(s->delivery.message_id, sizeof(s->delivery.message_id), "bench-%zu", i);
    rp_channel_send(b->ch, b->transport, &s->send);
}

static void on_complete(struct rp_send *send)
{
    struct slot *s = send->worker_data;
    struct bench *b = s->b;
    b->done++;
    if ((unsigned)send->result.status < 8)
        b->by_status[send->result.status]++;
    if (send->result.status != RP_DS_SUCCESSFUL && b->by_status[send->result.status] <= 3)
        fprintf(stderr, "apns_bench: %s %d %s\n", rp_delivery_status_name(send->result.status),
                send->result.status_code, send->result.status_message);
    rp_delivery_result_cleanup(&send->result);
    if (b->done == b->count)
        event_base_loopbreak(b->base);
    else if (b->started < b->count)
        start(s);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
    fprintf(stderr, "usage: apns_bench --settings FILE [--channel APNS] [--count N] "
                    "[--in-flight N] [--tokens N] [--body TEXT] [--warmup N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"settings", required_argument, NULL, 's'}, {"channel", required_argument, NULL, 'c'},
        {"count", required_argument, NULL, 'n'},    {"in-flight", required_argument, NULL, 'i'},
        {"tokens", required_argument, NULL, 't'},   {"body", required_argument, NULL, 'b'},
        {"warmup", required_argument, NULL, 'w'},   {"print-jwt", no_argument, NULL, 'j'},
        {NULL, 0, NULL, 0},
    };
    const char *settings_file = NULL, *channel = "APNS", *body = "Hello from Repoint";
    size_t count = 100000, in_flight = 1000, n_tokens = 1000, warmup = 1000;
    int print_jwt = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's': settings_file = optarg; break;
        case 'c': channel = optarg; break;
        case 'n': count = strtoull(optarg, NULL, 10); break;
        case 'i': in_flight = strtoull(optarg, NULL, 10); break;
        case 't': n_tokens = strtoull(optarg, NULL, 10); break;
        case 'b': body = optarg; break;
        case 'w': warmup = strtoull(optarg, NULL, 10); break;
        case 'j': print_jwt = 1; break;
        default: usage();
        }
    }
    if (!settings_file || !count || !in_flight || !n_tokens)
        usage();
    struct bench b = {0};
    json_error_t jerr;
    b.settings = json_load_file(settings_file, 0, &jerr);
    if (!json_is_object(b.settings)) {
        fprintf(stderr, "apns_bench: %s: %s\n", settings_file, jerr.text);
        return 2;
    }
    if (print_jwt) {
        EVP_PKEY *key = NULL;
        struct rp_err kerr;
        char jwt[RP_APNS_JWT_MAX];
        const char *pem = json_string_value(json_object_get(b.settings, "TokenKey"));
        if (!pem || rp_keys_private_key(pem, "TokenKey", &key, &kerr) < 0 ||
            rp_apns_jwt_sign(key, json_string_value(json_object_get(b.settings, "TokenKeyId")),
                             json_string_value(json_object_get(b.settings, "TeamId")),
                             rp_now_ms() / 1000, jwt, sizeof(jwt)) < 0) {
            fprintf(stderr, "apns_bench: cannot make a provider token from the settings\n");
            return 2;
        }
        printf("%s\n", jwt);
        EVP_PKEY_free(key);
        json_decref(b.settings);
        return 0;
    }
    b.content = json_pack("{s:s,s:s}", "Title", "Bench", "Body", body);
    struct rp_config cfg;
    struct rp_err err;
    if (rp_config_load(&cfg, NULL, environ, &err) < 0) {
        fprintf(stderr, "apns_bench: config: %s: %s\n", err.field, err.msg);
        return 2;
    }
    rp_log_set_level(rp_log_level_parse(rp_config_str(&cfg, "log.level")));
    b.ch = rp_channel_by_type(channel);
    if (!b.ch) {
        fprintf(stderr, "apns_bench: unknown channel %s\n", channel);
        return 2;
    }
    b.base = event_base_new();
    b.transport = rp_channel_transport_new(b.ch, b.base, &cfg);
    if (!b.transport)
        return 1;
    b.n_tokens = n_tokens;
    b.tokens = rp_calloc(n_tokens, sizeof(*b.tokens));
    for (size_t i = 0; i < n_tokens; i++)
        snprintf(b.tokens[i], sizeof(b.tokens[i]), "%064zx", i + 1);
    struct slot *slots = rp_calloc(in_flight, sizeof(*slots));
    for (size_t i = 0; i < in_flight; i++) {
        rp_delivery_init(&slots[i].delivery);
        slots[i].delivery.content = b.content;
        slots[i].send.delivery = &slots[i].delivery;
        slots[i].send.settings = b.settings;
        slots[i].send.on_complete = on_complete;
        slots[i].send.worker_data = &slots[i];
        slots[i].b = &b;
    }

    /* Warm-up: connections open, the provider token is made and accepted. */
    size_t total = count;
    if (warmup) {
        b.count = warmup;
        for (size_t i = 0; i < in_flight && b.started < b.count; i++)
            start(&slots[i]);
        event_base_dispatch(b.base);
    }
    memset(b.by_status, 0, sizeof(b.by_status));
    b.count = total;
    b.started = b.done = 0;
    double cpu0 = cpu_seconds();
    int64_t t0 = rp_mono_ms();
    for (size_t i = 0; i < in_flight && b.started < b.count; i++)
        start(&slots[i]);
    event_base_dispatch(b.base);
    double seconds = (double)(rp_mono_ms() - t0) / 1000.0;
    double cpu = cpu_seconds() - cpu0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    json_t *statuses = json_object();
    for (int s = 0; s < 8; s++)
        if (b.by_status[s])
            json_object_set_new(statuses, rp_delivery_status_name((enum rp_delivery_status)s),
                                json_integer((json_int_t)b.by_status[s]));
    json_t *out = json_pack("{s:s,s:I,s:I,s:o,s:f,s:f,s:f,s:f,s:I}", "client", "repoint",
                            "count", (json_int_t)count, "in_flight", (json_int_t)in_flight,
                            "statuses", statuses, "seconds", seconds, "rate",
                            seconds > 0 ? (double)count / seconds : 0.0, "cpu_seconds", cpu,
                            "cpu_per_100k", cpu * 100000.0 / (double)count, "max_rss_kb",
                            (json_int_t)ru.ru_maxrss);
    char *text = json_dumps(out, JSON_COMPACT);
    printf("%s\n", text);
    free(text);
    json_decref(out);
    rp_channel_transport_free(b.ch, b.transport);
    for (size_t i = 0; i < in_flight; i++)
        slots[i].delivery.content = NULL;
    free(slots);
    free(b.tokens);
    json_decref(b.content);
    json_decref(b.settings);
    event_base_free(b.base);
    rp_config_cleanup(&cfg);
    return b.by_status[RP_DS_SUCCESSFUL] == count ? 0 : 1;
}
