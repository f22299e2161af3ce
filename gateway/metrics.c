#include "metrics.h"
#include "channels/channel.h"
#include "direct.h"
#include "http.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROUTES 160
#define MAX_STREAMS 256
#define MAX_CERTS 256

/* Prometheus' default buckets, with a finer low end for provider and API latencies. */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                 0.25,  0.5,    1,     2.5,  5,    10};
#define N_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
    _Atomic uint64_t le[N_BUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
};

static const int statuses[] = {200, 400, 403, 404, 405, 409, 413, 429, 500, 503};
#define N_STATUSES (sizeof(statuses) / sizeof(statuses[0]) + 1) /* + "other" */

static _Atomic uint64_t counters[RP_MC_COUNT];
static _Atomic uint64_t channel_counters[RP_MCC_COUNT][RP_CHANNEL_MAX];
static _Atomic int64_t channel_gauges[RP_MCG_COUNT][RP_CHANNEL_MAX];
static _Atomic uint64_t api_requests[MAX_ROUTES + 1][N_STATUSES];
static struct histogram api_latency[MAX_ROUTES + 1];
static _Atomic uint64_t deliveries[RP_CHANNEL_MAX][RP_DS_DUPLICATE + 1];
static struct histogram provider_latency[RP_CHANNEL_MAX];

static pthread_mutex_t tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char name[64];
    int64_t depth;
    double age;
} streams[MAX_STREAMS];
static size_t n_streams;
static struct {
    char subject[128];
    char channel[24];
    int64_t expiry;
} certs[MAX_CERTS];
static size_t n_certs;

static void observe(struct histogram *h, double seconds)
{
    size_t b = 0;
    while (b < N_BUCKETS && seconds > buckets[b])
        b++;
    atomic_fetch_add_explicit(&h->le[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(seconds > 0 ? seconds * 1e6 : 0),
                              memory_order_relaxed);
}

void rp_metrics_count(enum rp_metric_counter which)
{
    atomic_fetch_add_explicit(&counters[which], 1, memory_order_relaxed);
}

void rp_metrics_add(enum rp_metric_counter which, uint64_t n)
{
    atomic_fetch_add_explicit(&counters[which], n, memory_order_relaxed);
}

void rp_metrics_channel_count(enum rp_metric_channel_counter which, const char *channel)
{
    int c = rp_channel_index(channel);
    if (c >= 0)
        atomic_fetch_add_explicit(&channel_counters[which][c], 1, memory_order_relaxed);
}

void rp_metrics_channel_gauge(enum rp_metric_channel_gauge which, const char *channel,
                              int64_t delta)
{
    int c = rp_channel_index(channel);
    if (c >= 0)
        atomic_fetch_add_explicit(&channel_gauges[which][c], delta, memory_order_relaxed);
}

void rp_metrics_api_request(int route_index, int status, double seconds)
{
    int r = route_index >= 0 && route_index < MAX_ROUTES ? route_index : MAX_ROUTES;
    size_t s = 0;
    while (s < N_STATUSES - 1 && statuses[s] != status)
        s++;
    atomic_fetch_add_explicit(&api_requests[r][s], 1, memory_order_relaxed);
    observe(&api_latency[r], seconds);
}

void rp_metrics_delivery(const char *channel, enum rp_delivery_status status, double seconds)
{
    int c = rp_channel_index(channel);
    if (c < 0 || (int)status < 0 || status > RP_DS_DUPLICATE)
        return;
    atomic_fetch_add_explicit(&deliveries[c][status], 1, memory_order_relaxed);
    observe(&provider_latency[c], seconds);
}

void rp_metrics_queue(const char *stream, int64_t depth, double oldest_age_seconds)
{
    pthread_mutex_lock(&tables_lock);
    size_t i = 0;
    while (i < n_streams && strcmp(streams[i].name, stream) != 0)
        i++;
    if (i == n_streams && n_streams < MAX_STREAMS)
        snprintf(streams[n_streams++].name, sizeof(streams[0].name), "%s", stream);
    if (i < n_streams) {
        streams[i].depth = depth;
        streams[i].age = oldest_age_seconds;
    }
    pthread_mutex_unlock(&tables_lock);
}

void rp_metrics_certificate_expiry(const char *subject, const char *channel, int64_t unix_seconds)
{
    pthread_mutex_lock(&tables_lock);
    size_t i = 0;
    while (i < n_certs &&
           (strcmp(certs[i].subject, subject) != 0 || strcmp(certs[i].channel, channel) != 0))
        i++;
    if (i == n_certs && n_certs < MAX_CERTS) {
        snprintf(certs[i].subject, sizeof(certs[i].subject), "%s", subject);
        /* A label value from a certificate: nothing that would need escaping survives. */
        for (char *ch = certs[i].subject; *ch; ch++)
            if (*ch == '"' || *ch == '\\' || (unsigned char)*ch < 0x20)
                *ch = '_';
        snprintf(certs[i].channel, sizeof(certs[i].channel), "%s", channel);
        n_certs++;
    }
    if (i < n_certs)
        certs[i].expiry = unix_seconds;
    pthread_mutex_unlock(&tables_lock);
}

static void header(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One histogram's series; labels is "" or `name="value"`. */
static void write_histogram(FILE *out, const char *name, const char *labels,
                            const struct histogram *h)
{
    uint64_t cumulative = 0;
    const char *sep = labels[0] ? "," : "";
    for (size_t b = 0; b <= N_BUCKETS; b++) {
        cumulative += atomic_load_explicit(&h->le[b], memory_order_relaxed);
        if (b < N_BUCKETS)
            fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, buckets[b],
                    (unsigned long long)cumulative);
        else
            fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cumulative);
    }
    fprintf(out, "%s_sum{%s} %.6f\n", name, labels,
            (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
    fprintf(out, "%s_count{%s} %llu\n", name, labels,
            (unsigned long long)atomic_load_explicit(&h->count, memory_order_relaxed));
}

static void write_api(FILE *out)
{
    size_t n_routes;
    const struct rp_route *routes = rp_routes(&n_routes);
    header(out, "repoint_api_requests_total", "counter", "API requests answered, by operation and "
                                                         "HTTP status");
    for (size_t r = 0; r <= MAX_ROUTES; r++) {
        if (r < MAX_ROUTES && r >= n_routes)
            continue;
        const char *op = r < n_routes ? routes[r].operation : "unknown";
        for (size_t s = 0; s < N_STATUSES; s++) {
            uint64_t v = atomic_load_explicit(&api_requests[r][s], memory_order_relaxed);
            if (!v)
                continue;
            char status[8];
            if (s < N_STATUSES - 1)
                snprintf(status, sizeof(status), "%d", statuses[s]);
            else
                snprintf(status, sizeof(status), "other");
            fprintf(out, "repoint_api_requests_total{operation=\"%s\",status=\"%s\"} %llu\n", op,
                    status, (unsigned long long)v);
        }
    }
    header(out, "repoint_api_request_duration_seconds", "histogram",
           "Time from a request's arrival to its answer, by operation");
    for (size_t r = 0; r <= MAX_ROUTES; r++) {
        if ((r < MAX_ROUTES && r >= n_routes) || !atomic_load(&api_latency[r].count))
            continue;
        char labels[96];
        snprintf(labels, sizeof(labels), "operation=\"%s\"",
                 r < n_routes ? routes[r].operation : "unknown");
        write_histogram(out, "repoint_api_request_duration_seconds", labels, &api_latency[r]);
    }
}

static void write_channels(FILE *out)
{
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    header(out, "repoint_deliveries_total", "counter",
           "Delivery attempts finished, by channel and DeliveryStatus");
    for (size_t c = 0; c < n; c++)
        for (int s = 0; s <= RP_DS_DUPLICATE; s++) {
            uint64_t v = atomic_load_explicit(&deliveries[c][s], memory_order_relaxed);
            if (v)
                fprintf(out, "repoint_deliveries_total{channel=\"%s\",status=\"%s\"} %llu\n",
                        all[c]->type, rp_delivery_status_name((enum rp_delivery_status)s),
                        (unsigned long long)v);
        }
    header(out, "repoint_provider_request_duration_seconds", "histogram",
           "Time a delivery attempt spent with the provider, by channel");
    for (size_t c = 0; c < n; c++) {
        if (!atomic_load(&provider_latency[c].count))
            continue;
        char labels[64];
        snprintf(labels, sizeof(labels), "channel=\"%s\"", all[c]->type);
        write_histogram(out, "repoint_provider_request_duration_seconds", labels,
                        &provider_latency[c]);
    }
    static const struct {
        const char *name, *help;
    } cc[] = {
#define RP_MCC_INFO(id, name, help) {name, help},
        RP_METRIC_CHANNEL_COUNTERS(RP_MCC_INFO)
#undef RP_MCC_INFO
    };
    for (int k = 0; k < RP_MCC_COUNT; k++) {
        header(out, cc[k].name, "counter", cc[k].help);
        for (size_t c = 0; c < n; c++)
            fprintf(out, "%s{channel=\"%s\"} %llu\n", cc[k].name, all[c]->type,
                    (unsigned long long)atomic_load(&channel_counters[k][c]));
    }
    static const struct {
        const char *name, *help;
    } cg[] = {
#define RP_MCG_INFO(id, name, help) {name, help},
        RP_METRIC_CHANNEL_GAUGES(RP_MCG_INFO)
#undef RP_MCG_INFO
    };
    for (int k = 0; k < RP_MCG_COUNT; k++) {
        header(out, cg[k].name, "gauge", cg[k].help);
        for (size_t c = 0; c < n; c++)
            fprintf(out, "%s{channel=\"%s\"} %lld\n", cg[k].name, all[c]->type,
                    (long long)atomic_load(&channel_gauges[k][c]));
    }
}

static void write_tables(FILE *out)
{
    pthread_mutex_lock(&tables_lock);
    header(out, "repoint_queue_depth", "gauge",
           "Deliveries queued or in flight on a stream (sampled every 200 ms)");
    for (size_t i = 0; i < n_streams; i++)
        fprintf(out, "repoint_queue_depth{stream=\"%s\"} %lld\n", streams[i].name,
                (long long)streams[i].depth);
    header(out, "repoint_queue_oldest_age_seconds", "gauge",
           "Age of the oldest entry of a stream, 0 when empty");
    for (size_t i = 0; i < n_streams; i++)
        fprintf(out, "repoint_queue_oldest_age_seconds{stream=\"%s\"} %.3f\n", streams[i].name,
                streams[i].age);
    header(out, "repoint_certificate_expiry_timestamp_seconds", "gauge",
           "When a provider client certificate expires (Unix time), by subject and channel");
    for (size_t i = 0; i < n_certs; i++)
        fprintf(out,
                "repoint_certificate_expiry_timestamp_seconds{subject=\"%s\",channel=\"%s\"} "
                "%lld\n",
                certs[i].subject, certs[i].channel, (long long)certs[i].expiry);
    pthread_mutex_unlock(&tables_lock);
}

char *rp_metrics_render(size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (!out)
        return NULL;
    header(out, "repoint_build_info", "gauge", "Repoint's version; always 1");
    fprintf(out, "repoint_build_info{version=\"%s\"} 1\n", RP_VERSION);
    static const struct {
        const char *name, *help;
    } c[] = {
#define RP_MC_INFO(id, name, help) {name, help},
        RP_METRIC_COUNTERS(RP_MC_INFO)
#undef RP_MC_INFO
    };
    for (int k = 0; k < RP_MC_COUNT; k++) {
        header(out, c[k].name, "counter", c[k].help);
        fprintf(out, "%s %llu\n", c[k].name, (unsigned long long)atomic_load(&counters[k]));
    }
    header(out, "repoint_direct_waiting", "gauge",
           "SendMessages-style requests of this instance waiting for their results");
    fprintf(out, "repoint_direct_waiting %zu\n", rp_direct_waiting());
    write_api(out);
    write_channels(out);
    write_tables(out);
    fclose(out);
    return text;
}
