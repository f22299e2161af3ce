/* SendMessages and SendUsersMessages. The request is validated and rendered here (endpoints and
 * users resolved from the store), its deliveries enqueued, and the request then waits, suspended,
 * for every recipient's result (gateway/direct.h) before answering the MessageResponse or
 * SendUsersMessageResponse, as Pinpoint does. */
#include "api.h"
#include "admission.h"
#include "config.h"
#include "direct.h"
#include "endpoint_store.h"
#include "queue.h"
#include "rc.h"
#include "render.h"
#include "template_send.h"
#include "util.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* What the waiter carries to the answer: the plan and which recipients were queued. */
struct send_ctx {
    json_t *body;
    struct rp_render_plan *plan;
    size_t *queued;     /* recipient index of each expected result */
    size_t n_queued;
};

static void send_ctx_free(void *arg)
{
    struct send_ctx *ctx = arg;
    rp_render_plan_free(ctx->plan);
    json_decref(ctx->body);
    free(ctx->queued);
    free(ctx);
}

static json_t *answer(void *arg, const struct rp_direct_result *results, size_t n)
{
    struct send_ctx *ctx = arg;
    for (size_t i = 0; i < n && i < ctx->n_queued; i++) {
        struct rp_render_recipient *r = rp_render_plan_recipient(ctx->plan, ctx->queued[i]);
        struct rp_delivery_result res;
        rp_delivery_result_init(&res);
        rp_delivery_result_set(&res, results[i].status, results[i].status_code, "%s",
                               results[i].status_message);
        snprintf(res.message_id, sizeof(res.message_id), "%s", results[i].provider_message_id);
        snprintf(res.updated_token, sizeof(res.updated_token), "%s", results[i].updated_token);
        rp_render_recipient_complete(r, &res);
        rp_delivery_result_cleanup(&res);
    }
    return rp_render_response(ctx->plan);
}

/* Reads the endpoints the plan names, in one round trip. Returns 0 or RP_ESTORE. */
static int resolve_endpoints(const char *app, struct rp_render_plan *plan)
{
    size_t n = rp_render_plan_endpoint_count(plan);
    if (n == 0)
        return 0;
    const char **ids = rp_calloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        ids[i] = rp_render_plan_endpoint_id(plan, i);
    struct rp_stored_endpoint *eps = rp_calloc(n, sizeof(*eps));
    int rc = rp_endpoint_store_get_many(app, ids, n, eps);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rp_render_plan_set_endpoint(plan, i, eps[i].json);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rp_stored_endpoint_cleanup(&eps[i]);
    free(eps);
    free(ids);
    return rc;
}

/* Reads every endpoint of every user the plan names. Returns 0 or RP_ESTORE. */
static int resolve_users(const char *app, struct rp_render_plan *plan)
{
    size_t n = rp_render_plan_user_count(plan);
    for (size_t u = 0; u < n; u++) {
        json_t *ids_json = rp_endpoint_store_user_ids(app, rp_render_plan_user_id(plan, u));
        if (!ids_json)
            return RP_ESTORE;
        size_t m = json_array_size(ids_json);
        if (m == 0) {
            json_decref(ids_json);
            continue;
        }
        const char **ids = rp_calloc(m, sizeof(char *));
        for (size_t i = 0; i < m; i++)
            ids[i] = json_string_value(json_array_get(ids_json, i));
        struct rp_stored_endpoint *eps = rp_calloc(m, sizeof(*eps));
        int rc = rp_endpoint_store_get_many(app, ids, m, eps);
        if (rc == 0) {
            int full = 0;
            for (size_t i = 0; i < m; i++) {
                if (eps[i].json && !full)
                    full = rp_render_plan_add_user_endpoint(plan, u, ids[i], eps[i].json) ==
                           RP_ELIMIT;
                rp_stored_endpoint_cleanup(&eps[i]);
            }
        }
        free(eps);
        free(ids);
        json_decref(ids_json);
        if (rc)
            return rc;
    }
    return 0;
}

/* admitted: the caller has applied admission control already (SendOTPMessage must refuse
 * before it replaces a code; refusing here again could leave a new code stored but not sent). */
static void send_body(struct rp_request *req, json_t *body, enum rp_render_kind kind, bool admitted)
{
    const char *app = rp_request_app(req);
    char why[256];
    if (!admitted && rp_admission_refuse_request(why, sizeof(why))) {
        json_decref(body);
        rp_respond_error(req, 429, "TooManyRequestsException", "%s", why);
        return;
    }
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_render_plan *plan = rp_render_plan_new(body, kind, &err);
    if (!plan) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    struct send_ctx *ctx = rp_calloc(1, sizeof(*ctx));
    ctx->body = body;
    ctx->plan = plan;
    if (resolve_endpoints(app, plan) || resolve_users(app, plan)) {
        send_ctx_free(ctx);
        rp_respond_unavailable(req);
        return;
    }
    int64_t now = rp_now_ms();
    struct rp_render_params params = {
        .app_id = app,
        .request_id = req->request_id,
        .now_ms = now,
        .deadline_ms = now + rp_config_int(rp_ctx.cfg, "direct.deadline_ms"),
        .reply_to = rp_direct_reply_key(),
    };
    struct rp_template_send *templates = NULL;
    int rc = rp_template_send_load(rp_render_plan_templates(plan), &templates, &err);
    if (rc) {
        send_ctx_free(ctx);
        if (rc == RP_ENOTFOUND)
            rp_respond_error(req, 404, "NotFoundException", "%s: %s", err.field, err.msg);
        else if (rc == RP_EINVAL)
            rp_respond_bad_request(req, &err);
        else
            rp_respond_unavailable(req);
        return;
    }
    params.template_fn = templates ? rp_template_send_render : NULL;
    params.template_arg = templates;
    rc = rp_render_build(plan, &params, &err);
    rp_template_send_free(templates);
    if (rc) {
        send_ctx_free(ctx);
        if (rc == RP_EINVAL)
            rp_respond_bad_request(req, &err);
        else
            rp_respond_unavailable(req);
        return;
    }
    size_t count = rp_render_plan_count(plan);
    ctx->queued = rp_calloc(count ? count : 1, sizeof(size_t));
    struct rp_delivery **deliveries = rp_calloc(count ? count : 1, sizeof(struct rp_delivery *));
    for (size_t i = 0; i < count; i++) {
        struct rp_render_recipient *r = rp_render_plan_recipient(plan, i);
        if (!r->queued)
            continue;
        deliveries[ctx->n_queued] = &r->delivery;
        ctx->queued[ctx->n_queued++] = i;
    }
    for (size_t i = 0; !admitted && i < ctx->n_queued; i++)
        if (rp_admission_refuse_channel(deliveries[i]->channel, why, sizeof(why))) {
            free(deliveries);
            send_ctx_free(ctx);
            rp_respond_error(req, 429, "TooManyRequestsException", "%s", why);
            return;
        }
    struct rp_waiter *w =
        rp_direct_waiter_new(req->request_id, ctx->n_queued, answer, ctx, send_ctx_free);
    for (size_t i = 0; i < ctx->n_queued; i++)
        rp_direct_expect(w, i, deliveries[i]->message_id);
    rp_direct_register(w, params.deadline_ms);
    if (rp_queue_push(deliveries, ctx->n_queued)) {
        free(deliveries);
        rp_direct_cancel(w);
        rp_respond_unavailable(req);
        return;
    }
    free(deliveries);
    rp_direct_wait(req, w);
}

static void send_common(struct rp_request *req, enum rp_render_kind kind)
{
    json_t *body = rp_request_json_object(req);
    if (body)
        send_body(req, body, kind, false);
}

void rp_api_send_message_request(struct rp_request *req, json_t *body)
{
    send_body(req, body, RP_RENDER_MESSAGES, true);
}

void rp_api_send_messages(struct rp_request *req)
{
    send_common(req, RP_RENDER_MESSAGES);
}

void rp_api_send_users_messages(struct rp_request *req)
{
    send_common(req, RP_RENDER_USERS);
}
