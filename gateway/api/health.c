#include "api.h"
#include "metrics.h"
#include "store.h"
#include "util.h"
#include "worker.h"

void rp_api_now_iso(char *out)
{
    rp_time_iso(rp_now_ms(), out);
}

void rp_api_health(struct rp_request *req)
{
    rp_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

/* A worker thread that has not come round for this long is wedged: its loop turns every 50 ms
 * and its reader at least every second, even while rate-limit waits hold deliveries. */
#define WORKER_STALL_MS 10000

void rp_api_ready(struct rp_request *req)
{
    int redis_ok = rp_store_ping();
    int64_t stalled_ms = rp_workers_stalled_ms();
    int workers_ok = stalled_ms < WORKER_STALL_MS;
    json_t *body = json_pack("{s:s, s:b}", "status", redis_ok && workers_ok ? "ready" : "not ready",
                             "redis", redis_ok);
    if (stalled_ms >= 0)
        json_object_set_new(body, "workers", json_boolean(workers_ok));
    rp_respond_json(req, redis_ok && workers_ok ? 200 : 503, body);
}

void rp_api_not_served(struct rp_request *req)
{
    rp_respond_error(req, 404, "NotFoundException",
                     "%s is not served by Repoint (see the README's list of served operations)",
                     req->route->operation);
}

void rp_api_metrics(struct rp_request *req)
{
    size_t len = 0;
    char *text = rp_metrics_render(&len);
    if (!text) {
        rp_respond_unavailable(req);
        return;
    }
    rp_respond_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
