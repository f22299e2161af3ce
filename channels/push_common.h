/* Request plumbing shared by the HTTP push channels (FCM, ADM, Baidu): their transports' HTTP
 * client, provider URLs under a configurable base, and the two ways a send ends before the
 * provider answers (refused locally, or the request cannot start). The token handling the OAuth
 * channels share is in oauth.h; what differs per provider (payload, headers, answer mapping)
 * stays in each channel. */
#ifndef RP_CHANNEL_PUSH_COMMON_H
#define RP_CHANNEL_PUSH_COMMON_H

#include "../gateway/delivery.h"
#include "channel.h"
#include "httpc.h"

struct event_base;
struct rp_config;

/* The HTTP client of a channel's transport on base, trusting tls.ca_file, its connections and
 * requests counted in /metrics under channel_type. Logs under component
 * that channel_type's deliveries fail on this worker and returns NULL when it cannot be made. */
struct rp_httpc *rp_push_http_new(struct event_base *base, const struct rp_config *cfg,
                                  const char *component, const char *channel_type);

/* base_url with its trailing slashes dropped, then path_fmt (printf-style). New string. */
char *rp_push_url(const char *base_url, const char *path_fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Ends send at once: status, HTTP-style code and a printf-style message, then completes it. */
void rp_push_fail(struct rp_send *send, enum rp_delivery_status status, int status_code,
                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Starts req on http. When it cannot start, result becomes TEMPORARY_FAILURE saying why and 0 is
 * returned: req->done will not run, so the caller frees its state and completes the send. */
int rp_push_post(struct rp_httpc *http, const struct rp_httpc_request *req,
                 struct rp_delivery_result *result);

#endif
