/* fcm_bench: the GCM channel's transport (channels/fcm + channels/oauth + channels/h2pool on one
 * libevent loop, as in a worker thread) sending N deliveries to an FCM endpoint with up to M in
 * flight, without the daemon's queue around it: the channel's own ceiling, comparable with
 * h2load posting the same request. Configuration from REPOINT_* variables only
 * (REPOINT_FCM_URL, REPOINT_TLS_CA_FILE). Prints one JSON line:
 * {"sent","successful","seconds","per_second","cpu_seconds","cpu_us_per_send","first_error"}.
 *   fcm_bench --service-json FILE [--count N] [--in-flight M]
 *   fcm_bench --service-json FILE --assertion   (prints a signed token request assertion,
 *                                                for fetching a token for h2load) */
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "channels/channel.h"
#include "channels/fcm/fcm_jwt.h"
#include "channels/keys.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/util.h"

extern char **environ;

struct bench {
    struct event_base *base;
    const struct rp_channel_ops *ch;
    void *transport;
    struct rp_send *sends;
    struct rp_delivery *deliveries;
    size_t count, started, done, ok;
    char first_error[300];
};

static void on_complete(struct rp_send *send);

static void start_next(struct bench *b)
{
    if (b->started < b->count)
        rp_channel_send(b->ch, b->transport, &b->sends[b->started++]);
}

static void on_complete(struct rp_send *send)
{
    struct bench *b = send->worker_data;
    if (send->result.status == RP_DS_SUCCESSFUL)
        b->ok++;
    else if (!b->first_error[0])
        snprintf(b->first_error, sizeof(b->first_error), "%s %d %s",
                 rp_delivery_status_name(send->result.status), send->result.status_code,
                 send->result.status_message);
    if (++b->done == b->count)
        event_base_loopbreak(b->base);
    else
        start_next(b);
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static int print_assertion(const char *service_json)
{
    json_t *sa = json_loads(service_json, 0, NULL);
    EVP_PKEY *key = NULL;
    struct rp_err err;
    if (!sa || rp_keys_private_key(json_string_value(json_object_get(sa, "private_key")), "key",
                                   &key, &err) < 0)
        return 1;
    char *jwt =
        rp_fcm_jwt_sign(key, json_string_value(json_object_get(sa, "private_key_id")),
                        json_string_value(json_object_get(sa, "client_email")),
                        json_string_value(json_object_get(sa, "token_uri")), (long long)time(NULL));
    printf("%s\n", jwt);
    free(jwt);
    EVP_PKEY_free(key);
    json_decref(sa);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"service-json", required_argument, NULL, 's'},
        {"count", required_argument, NULL, 'n'},
        {"in-flight", required_argument, NULL, 'm'},
        {"assertion", no_argument, NULL, 'a'},
        {NULL, 0, NULL, 0},
    };
    const char *sa_path = NULL;
    size_t count = 100000, in_flight = 256;
    int assertion = 0, c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            sa_path = optarg;
            break;
        case 'n':
            count = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'm':
            in_flight = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'a':
            assertion = 1;
            break;
        default:
            fprintf(stderr, "usage: fcm_bench --service-json FILE [--count N] "
                            "[--in-flight M] [--assertion]\n");
            return 2;
        }
    }
    char *service_json = sa_path ? rp_read_file(sa_path, 1 << 20, NULL) : NULL;
    if (!service_json || !count || !in_flight) {
        fprintf(stderr, "fcm_bench: cannot read --service-json\n");
        return 2;
    }
    if (assertion)
        return print_assertion(service_json);

    struct rp_config cfg;
    struct rp_err err;
    if (rp_config_load(&cfg, NULL, environ, &err) < 0) {
        fprintf(stderr, "fcm_bench: %s %s\n", err.field, err.msg);
        return 2;
    }
    rp_log_set_level(rp_log_level_parse(rp_config_str(&cfg, "log.level")));
    struct bench b = {.base = event_base_new(), .ch = rp_channel_by_type("GCM"), .count = count};
    b.transport = rp_channel_transport_new(b.ch, b.base, &cfg);
    if (!b.transport)
        return 1;
    json_t *settings = json_pack("{s:s}", "ServiceJson", service_json);
    json_t *content = json_pack("{s:s, s:s, s:{s:s}}", "Title", "Hello", "Body",
                                "A benchmark message from Repoint", "Data", "k", "v");
    b.sends = rp_calloc(count, sizeof(*b.sends));
    b.deliveries = rp_calloc(count, sizeof(*b.deliveries));
    for (size_t i = 0; i < count; i++) {
        struct rp_delivery *d = &b.deliveries[i];
        rp_delivery_init(d);
        snprintf(d->message_id, sizeof(d->message_id), "bench-%zu", i);
        snprintf(d->channel, sizeof(d->channel), "GCM");
        char token[64];
        snprintf(token, sizeof(token), "bench-token-%zu", i % 1000);
        d->address = rp_strdup(token);
        d->content = json_incref(content);
        struct rp_send *s = &b.sends[i];
        s->delivery = d;
        s->settings = settings;
        rp_delivery_result_init(&s->result);
        s->on_complete = on_complete;
        s->worker_data = &b;
    }
    double cpu0 = cpu_seconds();
    int64_t t0 = rp_mono_ms();
    for (size_t i = 0; i < in_flight && i < count; i++)
        start_next(&b);
    if (b.done < b.count)
        event_base_dispatch(b.base);
    double secs = (double)(rp_mono_ms() - t0) / 1000.0, cpu = cpu_seconds() - cpu0;
    json_t *out =
        json_pack("{s:I, s:I, s:f, s:f, s:f, s:f, s:s}", "sent", (json_int_t)b.done, "successful",
                  (json_int_t)b.ok, "seconds", secs, "per_second",
                  secs > 0 ? (double)b.done / secs : 0.0, "cpu_seconds", cpu, "cpu_us_per_send",
                  b.done ? cpu * 1e6 / (double)b.done : 0.0, "first_error", b.first_error);
    char *line = json_dumps(out, JSON_COMPACT | JSON_REAL_PRECISION(6));
    printf("%s\n", line);
    free(line);
    json_decref(out);
    rp_channel_transport_free(b.ch, b.transport);
    for (size_t i = 0; i < count; i++) {
        rp_delivery_result_cleanup(&b.sends[i].result);
        rp_delivery_cleanup(&b.deliveries[i]);
    }
    free(b.sends);
    free(b.deliveries);
    json_decref(content);
    json_decref(settings);
    free(service_json);
    event_base_free(b.base);
    rp_config_cleanup(&cfg);
    return b.ok == b.count ? 0 : 1;
}
