/* Process metrics for Prometheus (GET /metrics, text exposition format 0.0.4). Every metric is a
 * fixed-size array of atomics indexed by small enums (route, channel, status), so recording is a
 * few atomic adds with no lock and no allocation, from any thread. Names follow Prometheus
 * conventions: counters end in _total, durations are _seconds histograms. */
#ifndef RP_METRICS_H
#define RP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "delivery.h"

/* Counters without labels. */
#define RP_METRIC_COUNTERS(X)                                                                      \
    X(REDIS_ERRORS, "repoint_redis_errors_total",                                                 \
      "Redis commands that failed for want of a connection (I/O error, timeout, refused)")        \
    X(REDIS_RECONNECTIONS, "repoint_redis_reconnections_total",                                   \
      "Connections to Redis opened again after one was lost")                                     \
    X(OTP_SENDS, "repoint_otp_sends_total", "One-time passwords generated and sent")              \
    X(OTP_VERIFY_VALID, "repoint_otp_verifications_valid_total",                                  \
      "VerifyOTPMessage requests answered Valid true")                                            \
    X(OTP_VERIFY_INVALID, "repoint_otp_verifications_invalid_total",                              \
      "VerifyOTPMessage requests answered Valid false")                                           \
    X(ADMISSION_WAITING, "repoint_admission_refused_waiting_total",                               \
      "Sends refused with 429 because too many requests were waiting for results")                \
    X(ADMISSION_QUEUE, "repoint_admission_refused_queue_total",                                   \
      "Sends refused with 429 because a channel's queue was full")                                \
    X(IMPORTED_ENDPOINTS, "repoint_import_endpoints_total", "Endpoints written by import jobs")    \
    X(IMPORT_FAILURES, "repoint_import_failures_total", "Rows import jobs could not import")      \
    X(EXPORTED_ENDPOINTS, "repoint_export_endpoints_total", "Endpoints written by export jobs")

enum rp_metric_counter {
#define RP_MC_ENUM(id, name, help) RP_MC_##id,
    RP_METRIC_COUNTERS(RP_MC_ENUM)
#undef RP_MC_ENUM
        RP_MC_COUNT
};

/* Counters labelled by channel. */
#define RP_METRIC_CHANNEL_COUNTERS(X)                                                              \
    X(RETRIES, "repoint_delivery_retries_total",                                                  \
      "Deliveries scheduled for another attempt after a retryable outcome")                       \
    X(DEAD_LETTERS, "repoint_dead_letters_total",                                                 \
      "Deliveries moved to the dead-letter list after their last attempt")                        \
    X(RECLAIMED, "repoint_deliveries_reclaimed_total",                                            \
      "Deliveries taken over from a consumer that stopped acknowledging them")                    \
    X(RATE_LIMIT_WAITS, "repoint_rate_limit_waits_total",                                         \
      "Deliveries held back for MessagesPerSecond tokens")                                        \
    X(TOKEN_REFRESHES, "repoint_provider_token_refreshes_total",                                  \
      "Provider access tokens or JWTs obtained")                                                  \
    X(TOKEN_FAILURES, "repoint_provider_token_failures_total",                                    \
      "Provider access token requests or JWT signings that failed")

enum rp_metric_channel_counter {
#define RP_MCC_ENUM(id, name, help) RP_MCC_##id,
    RP_METRIC_CHANNEL_COUNTERS(RP_MCC_ENUM)
#undef RP_MCC_ENUM
        RP_MCC_COUNT
};

/* Gauges labelled by channel, moved up and down by the transports. */
#define RP_METRIC_CHANNEL_GAUGES(X)                                                                \
    X(CONNECTIONS, "repoint_provider_connections", "Open connections to the provider")            \
    X(STREAMS, "repoint_provider_streams", "Requests in flight to the provider")

enum rp_metric_channel_gauge {
#define RP_MCG_ENUM(id, name, help) RP_MCG_##id,
    RP_METRIC_CHANNEL_GAUGES(RP_MCG_ENUM)
#undef RP_MCG_ENUM
        RP_MCG_COUNT
};

void rp_metrics_count(enum rp_metric_counter which);
void rp_metrics_add(enum rp_metric_counter which, uint64_t n);
/* channel is a ChannelType ("APNS_SANDBOX"); unknown types are not counted. */
void rp_metrics_channel_count(enum rp_metric_channel_counter which, const char *channel);
void rp_metrics_channel_gauge(enum rp_metric_channel_gauge which, const char *channel,
                              int64_t delta);

/* One answered API request: route_index from rp_routes() or -1 for an unknown path. */
void rp_metrics_api_request(int route_index, int status, double seconds);
/* One finished delivery attempt and how long the provider took. */
void rp_metrics_delivery(const char *channel, enum rp_delivery_status status, double seconds);
/* A stream's depth and the age of its oldest entry (from the queue sampler). */
void rp_metrics_queue(const char *stream, int64_t depth, double oldest_age_seconds);
/* When a provider client certificate stops being valid (APNs certificate auth), by the
 * certificate's subject common name and channel; a later call for the same pair replaces the
 * value. */
void rp_metrics_certificate_expiry(const char *subject, const char *channel, int64_t unix_seconds);

/* The exposition text (owned by the caller, free()); *len set. */
char *rp_metrics_render(size_t *len);

#endif
