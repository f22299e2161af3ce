/* The APNs HTTP/2 client: the provider-neutral pooled HTTP/2 client (channels/h2pool.h) with
 * what is APNs' own: a pool per credential (one signing key, or one client certificate), ES256
 * provider tokens, the apns-* request headers, the answer mapping and the certificate's expiry
 * in logs and metrics. One client serves one channel on one worker thread, so one environment
 * (production or sandbox URL).
 *
 * Connections, streams, queueing, GOAWAY, PING, idle close and reconnect backoff behave as
 * h2pool.h says. A failed connect (TCP, TLS, ALPN) fails the waiting requests at once
 * (TEMPORARY_FAILURE). Token pools share one ES256 provider token, renewed after
 * token_refresh_minutes and at once (one retry of the request) on 403 ExpiredProviderToken,
 * never twice within 20 minutes. */
#ifndef RP_APNS_CONN_H
#define RP_APNS_CONN_H

#include <stdbool.h>

#include "../channel.h"
#include "apns_payload.h"

struct event_base;
struct rp_apns_client;

struct rp_apns_client_config {
    const char *url;          /* https://host[:port], borrowed for the client's life */
    const char *ca_file;      /* extra trusted CAs, NULL or "" for none */
    const char *name;         /* for logs: the channel type */
    int max_connections;      /* per pool */
    int idle_timeout_s;
    int ping_interval_s;
    int token_refresh_minutes; /* 20..60 */
    long timeout_ms;          /* connect, and the wait for an answer */
};

/* The credential of one send; everything is borrowed for the call only. */
struct rp_apns_credential {
    bool token;             /* token auth: key_pem, key_id, team_id; else cert_pem + key_pem */
    const char *key_pem;    /* the .p8 TokenKey, or the certificate's PrivateKey */
    const char *key_id;
    const char *team_id;
    const char *cert_pem;
};

/* Returns NULL (logged) when the URL is not https://host[:port] or TLS cannot be set up. */
struct rp_apns_client *rp_apns_client_new(struct event_base *base,
                                          const struct rp_apns_client_config *cfg);
/* Completes every request still queued or in flight (TEMPORARY_FAILURE) and frees. */
void rp_apns_client_free(struct rp_apns_client *client);

/* Sends n to device_token (copied) with cred and completes send (possibly before returning).
 * Takes n's payload (n is left empty). */
void rp_apns_client_send(struct rp_apns_client *client, const struct rp_apns_credential *cred,
                         struct rp_apns_notification *n, const char *device_token,
                         struct rp_send *send);

#endif
