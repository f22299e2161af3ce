#include "api.h"
#include "store.h"
#include "util.h"

void rp_api_now_iso(char *out)
{
    rp_time_iso(rp_now_ms(), out);
}

void rp_api_health(struct rp_request *req)
{
    rp_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

void rp_api_ready(struct rp_request *req)
{
    int redis_ok = rp_store_ping();
    rp_respond_json(req, redis_ok ? 200 : 503,
                    json_pack("{s:s, s:b}", "status", redis_ok ? "ready" : "not ready", "redis",
                              redis_ok));
}

void rp_api_not_served(struct rp_request *req)
{
    rp_respond_error(req, 404, "NotFoundException",
                     "%s is not served by Repoint (see the README's list of served operations)",
                     req->route->operation);
}
