/* The per-app-per-channel MessagesPerSecond override. Every answer (GET, PUT, DELETE) is the
 * same document, read back from the store after any change:
 *   {"ApplicationId", "ChannelType", "MessagesPerSecond": the override or null,
 *    "EffectiveMessagesPerSecond": the lowest source, 0 = no limit,
 *    "Sources": {"Config", "Application", "Override"}: each 0 when it sets no limit}
 * The channel segment is the one Pinpoint's channel paths use ("sms", "apns_voip"). A change
 * applies at once on this instance and within RP_LIMITER_CACHE_MS on the others. */
#include "limits.h"
#include "channels/channel.h"
#include "jsonv.h"
#include "limiter.h"
#include "rc.h"

static const struct rp_channel_ops *channel_of(struct rp_request *req)
{
    const struct rp_channel_ops *ch = rp_channel_by_path(req->params[1]);
    if (!ch)
        rp_respond_error(req, 404, "NotFoundException", "No channel named %.40s", req->params[1]);
    return ch;
}

static void respond_limits(struct rp_request *req, const struct rp_channel_ops *ch)
{
    struct rp_limit_sources src;
    if (rp_limiter_sources(rp_request_app(req), ch->type, &src) < 0) {
        rp_respond_unavailable(req);
        return;
    }
    json_t *resp =
        json_pack("{s:s, s:s, s:o, s:I, s:{s:I, s:I, s:I}}", "ApplicationId", rp_request_app(req),
                  "ChannelType", ch->type, "MessagesPerSecond",
                  src.override_value ? json_integer(src.override_value) : json_null(),
                  "EffectiveMessagesPerSecond", (json_int_t)rp_limit_sources_effective(&src),
                  "Sources", "Config", (json_int_t)src.config, "Application",
                  (json_int_t)src.application, "Override", (json_int_t)src.override_value);
    rp_respond_json(req, 200, resp);
}

static void set_and_respond(struct rp_request *req, const struct rp_channel_ops *ch,
                            long per_second)
{
    if (rp_limiter_set_override(rp_request_app(req), ch->type, per_second) < 0) {
        rp_respond_unavailable(req);
        return;
    }
    respond_limits(req, ch);
}

void rp_api_get_channel_limits(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (ch)
        respond_limits(req, ch);
}

void rp_api_put_channel_limits(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (!ch)
        return;
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    long long per_second = 0;
    int rc;
    if (!json_object_get(body, "MessagesPerSecond"))
        rc = rp_err_set(&err, RP_EINVAL, "MessagesPerSecond",
                        "is required (an integer, or null to remove the override)");
    else
        rc = rp_jsonv_int(body, NULL, "MessagesPerSecond", RP_LIMITER_OVERRIDE_MIN,
                          RP_LIMITER_OVERRIDE_MAX, &per_second, &err);
    json_decref(body);
    if (rc < 0) {
        rp_respond_bad_request(req, &err);
        return;
    }
    set_and_respond(req, ch, (long)per_second);
}

void rp_api_delete_channel_limits(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (ch)
        set_and_respond(req, ch, 0);
}
