/* sms_drive: sends SMS deliveries through the real SMS channel transport (channels/sms) on one
 * event loop, the way a worker does, and prints each result as one JSON line. The
 * configuration comes from REPOINT_* environment variables (REPOINT_SMS_URL,
 * REPOINT_SMS_ACCOUNT_SID, REPOINT_TLS_CA_FILE, ...). Used by
 * tests/integration/test_sms_channel.py against sms_sim; see tests/sim/README.md. */
#include <event2/event.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "channels/channel.h"
#include "gateway/config.h"
#include "gateway/log.h"
#include "gateway/util.h"

extern char **environ;

struct drive {
    struct event_base *base;
    const struct rp_channel_ops *sms;
    void *transport;
    struct item *items;
    size_t count, started, done;
};

struct item {
    struct rp_send send;
    struct rp_delivery delivery;
    struct drive *drive;
    size_t index;
};

static void on_complete(struct rp_send *send);

/* Keeps one more send in flight; a send may complete before rp_channel_send returns. */
static void start_next(struct drive *drive)
{
    if (drive->started < drive->count && drive->transport) {
        struct item *it = &drive->items[drive->started++];
        rp_channel_send(drive->sms, drive->transport, &it->send);
    }
}

static void on_complete(struct rp_send *send)
{
    struct item *it = send->worker_data;
    const struct rp_delivery_result *r = &send->result;
    json_t *line =
        json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:I, s:b}", "i", (json_int_t)it->index, "to",
                  it->delivery.address, "status", rp_delivery_status_name(r->status), "status_code",
                  r->status_code, "status_message", r->status_message, "message_id", r->message_id,
                  "retry_after_ms", (json_int_t)r->retry_after_ms, "address_dead", r->address_dead);
    json_object_set(line, "attributes", r->attributes ? r->attributes : json_null());
    char *s = json_dumps(line, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    json_decref(line);
    if (++it->drive->done == it->drive->count)
        event_base_loopbreak(it->drive->base);
    else
        start_next(it->drive);
}

static void usage(void)
{
    fprintf(stderr, "usage: sms_drive --to NUMBER [--to NUMBER ...] [--count N] [--body TEXT]\n"
                    "                 [--content JSON] [--settings JSON] [--deadline-ms N]\n"
                    "                 [--in-flight N] [--free-after-ms N]\n");
    exit(2);
}

static json_t *parse_object(const char *text)
{
    json_t *doc = json_loads(text, 0, NULL);
    if (!json_is_object(doc)) {
        fprintf(stderr, "sms_drive: not a JSON object: %s\n", text);
        exit(2);
    }
    return doc;
}

/* Frees the transport with sends in flight: each must complete, once. */
static void on_free_timer(evutil_socket_t fd, short events, void *arg)
{
    struct drive *drive = arg;
    void *transport = drive->transport;
    drive->transport = NULL;
    rp_channel_transport_free(drive->sms, transport);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"to", required_argument, NULL, 't'},
        {"count", required_argument, NULL, 'n'},
        {"body", required_argument, NULL, 'b'},
        {"content", required_argument, NULL, 'c'},
        {"settings", required_argument, NULL, 's'},
        {"deadline-ms", required_argument, NULL, 'd'},
        {"free-after-ms", required_argument, NULL, 'f'},
        {"in-flight", required_argument, NULL, 'i'},
        {NULL, 0, NULL, 0},
    };
    const char *to[64];
    size_t n_to = 0, count = 1;
    const char *body = "Hello from Repoint";
    json_t *content = NULL, *settings = NULL;
    long deadline_ms = 0, free_after_ms = -1;
    size_t in_flight = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (n_to == sizeof(to) / sizeof(to[0]))
                usage();
            to[n_to++] = optarg;
            break;
        case 'n':
            count = (size_t)strtoull(optarg, NULL, 10);
            break;
        case 'b':
            body = optarg;
            break;
        case 'c':
            content = parse_object(optarg);
            break;
        case 's':
            settings = parse_object(optarg);
            break;
        case 'd':
            deadline_ms = atol(optarg);
            break;
        case 'f':
            free_after_ms = atol(optarg);
            break;
        case 'i':
            in_flight = (size_t)strtoull(optarg, NULL, 10);
            break;
        default:
            usage();
        }
    }
    if (!n_to || !count)
        usage();
    if (!content)
        content = json_object();
    if (!json_object_get(content, "Body"))
        json_object_set_new(content, "Body", json_string(body));
    if (!settings)
        settings = json_object();

    struct rp_config cfg;
    struct rp_err err;
    if (rp_config_load(&cfg, NULL, environ, &err) < 0) {
        fprintf(stderr, "sms_drive: config: %s: %s\n", err.field, err.msg);
        return 2;
    }
    rp_log_set_level(rp_log_level_parse(rp_config_str(&cfg, "log.level")));

    const struct rp_channel_ops *sms = rp_channel_by_type("SMS");
    struct drive drive = {.base = event_base_new(), .sms = sms, .count = count};
    drive.transport = rp_channel_transport_new(sms, drive.base, &cfg);
    if (!drive.transport) {
        fprintf(stderr, "sms_drive: the SMS transport could not start\n");
        return 1;
    }
    struct item *items = rp_calloc(count, sizeof(*items));
    drive.items = items;
    int64_t now = rp_now_ms();
    for (size_t i = 0; i < count; i++) {
        struct item *it = &items[i];
        it->drive = &drive;
        it->index = i;
        rp_delivery_init(&it->delivery);
        snprintf(it->delivery.message_id, sizeof(it->delivery.message_id), "drive-%zu", i);
        snprintf(it->delivery.app_id, sizeof(it->delivery.app_id), "drive");
        snprintf(it->delivery.channel, sizeof(it->delivery.channel), "SMS");
        it->delivery.address = rp_strdup(to[i % n_to]);
        it->delivery.content = json_incref(content);
        it->delivery.created_ms = now;
        it->delivery.deadline_ms = deadline_ms > 0 ? now + deadline_ms : 0;
        it->send.delivery = &it->delivery;
        it->send.settings = settings;
        it->send.on_complete = on_complete;
        it->send.worker_data = it;
        rp_delivery_result_init(&it->send.result);
    }
    if (!in_flight || in_flight > count)
        in_flight = count;
    for (size_t i = 0; i < in_flight; i++)
        start_next(&drive);

    struct event *free_timer = NULL;
    if (free_after_ms >= 0) {
        free_timer = evtimer_new(drive.base, on_free_timer, &drive);
        struct timeval tv = {.tv_sec = free_after_ms / 1000,
                             .tv_usec = (free_after_ms % 1000) * 1000};
        evtimer_add(free_timer, &tv);
    }
    if (drive.done < drive.count)
        event_base_dispatch(drive.base);

    if (free_timer)
        event_free(free_timer);
    if (drive.transport)
        rp_channel_transport_free(sms, drive.transport);
    for (size_t i = 0; i < count; i++) {
        rp_delivery_result_cleanup(&items[i].send.result);
        rp_delivery_cleanup(&items[i].delivery);
    }
    free(items);
    event_base_free(drive.base);
    json_decref(content);
    json_decref(settings);
    rp_config_cleanup(&cfg);
    fflush(stdout);
    return drive.done == drive.count ? 0 : 1;
}
