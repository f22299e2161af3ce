/* Request plumbing shared by the HTTP push channels (see push_common.h). */
#include "push_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../gateway/config.h"
#include "../gateway/log.h"
#include "../gateway/rc.h"
#include "../gateway/util.h"

struct rp_httpc *rp_push_http_new(struct event_base *base, const struct rp_config *cfg,
                                  const char *component, const char *channel_type)
{
    struct rp_httpc *http = rp_httpc_new(base, rp_config_str(cfg, "tls.ca_file"));
    if (!http)
        rp_error(component, "msg=\"cannot create the HTTP client: %s deliveries fail here\"",
                 channel_type);
    else
        rp_httpc_set_metrics_channel(http, channel_type);
    return http;
}

char *rp_push_url(const char *base_url, const char *path_fmt, ...)
{
    size_t blen = strlen(base_url);
    while (blen && base_url[blen - 1] == '/')
        blen--;
    va_list ap;
    va_start(ap, path_fmt);
    int plen = vsnprintf(NULL, 0, path_fmt, ap);
    va_end(ap);
    size_t size = blen + (size_t)(plen > 0 ? plen : 0) + 1;
    char *url = rp_malloc(size);
    snprintf(url, size, "%.*s", (int)blen, base_url);
    va_start(ap, path_fmt);
    vsnprintf(url + blen, size - blen, path_fmt, ap);
    va_end(ap);
    return url;
}

void rp_push_fail(struct rp_send *send, enum rp_delivery_status status, int status_code,
                  const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    rp_delivery_result_set(&send->result, status, status_code, "%s", message);
    rp_send_complete(send);
}

int rp_push_post(struct rp_httpc *http, const struct rp_httpc_request *req,
                 struct rp_delivery_result *result)
{
    int rc = rp_httpc_send(http, req);
    if (rc < 0) {
        rp_delivery_result_set(result, RP_DS_TEMPORARY_FAILURE, 0, "cannot start the request: %s",
                               rp_rc_msg(rc));
        return 0;
    }
    return 1;
}
