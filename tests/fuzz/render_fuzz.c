/* Fuzzes direct-message rendering (gateway/render.c, gateway/render_content.c) with arbitrary
 * request bodies: both request shapes through validation, endpoint resolution against a few
 * fake stored endpoints, the build (with and without a template hook), results and the
 * response, and `{{Name}}` substitution over the raw bytes. Beyond "no crash, no leak", it
 * checks that whatever is queued has content for its channel and survives the queue's JSON. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "delivery.h"
#include "rc.h"
#include "render.h"
#include "render_content.h"

#define APNS_TOKEN "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Stored endpoints handed over for Endpoints ids, round robin; a slot of null is "not found".
 * Users get copies carrying their UserId. */
static const char fakes_text[] =
    "[{\"Id\": \"ep-sms\", \"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
    "  \"OptOut\": \"ALL\"},"
    " {\"Id\": \"ep-email\", \"ChannelType\": \"EMAIL\", \"Address\": \"ann@example.com\","
    "  \"EndpointStatus\": \"INACTIVE\"},"
    " null,"
    " {\"Id\": \"ep-apns\", \"ChannelType\": \"APNS\", \"Address\": \"" APNS_TOKEN "\"},"
    " {\"Id\": \"ep-dup\", \"ChannelType\": \"SMS\", \"Address\": \"+12065550100\"},"
    " {\"Id\": \"ep-gcm\", \"ChannelType\": \"GCM\", \"Address\": \"fcm-token\"},"
    " {\"Id\": \"ep-voice\", \"ChannelType\": \"VOICE\", \"Address\": \"+12065550101\"}]";

static int hook(void *arg, const char *channel, const json_t *tmpl, const json_t *vars,
                const json_t *endpoint, json_t *content, struct rp_err *err)
{
    (void)arg;
    (void)channel;
    (void)vars;
    (void)endpoint;
    (void)err;
    const char *name = json_string_value(json_object_get(tmpl, "Name"));
    if (name && !json_object_get(content, "Body"))
        json_object_set_new(content, "Body", json_string(name));
    return 0;
}

/* A 400 goes out as JSON: field and message must be valid UTF-8 however they were cut. */
static void check_err(int rc, const struct rp_err *err)
{
    if (rc == 0)
        return;
    json_t *field = json_string(err->field), *msg = json_string(err->msg);
    if (!field || !msg)
        abort();
    json_decref(field);
    json_decref(msg);
}

static void check_queued(struct rp_render_recipient *r)
{
    const struct rp_render_channel *ch = rp_render_channel_find(r->delivery.channel);
    if (!ch || !r->delivery.address || !r->delivery.recipient_key ||
        rp_render_content_empty(ch, r->delivery.content))
        abort();
    json_t *doc = rp_delivery_to_json(&r->delivery);
    char *text = json_dumps(doc, JSON_COMPACT);
    if (!text)
        abort();
    json_t *back_doc = json_loads(text, 0, NULL);
    struct rp_delivery back;
    rp_delivery_init(&back);
    if (!back_doc || rp_delivery_from_json(&back, back_doc) != 0 ||
        strcmp(back.message_id, r->delivery.message_id) != 0)
        abort();
    rp_delivery_cleanup(&back);
    json_decref(back_doc);
    free(text);
    json_decref(doc);
}

static void run(const json_t *body, enum rp_render_kind kind, const json_t *fakes, int variant)
{
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_render_plan *plan = rp_render_plan_new(body, kind, &err);
    if (!plan) {
        check_err(RP_EINVAL, &err);
        return;
    }
    size_t n_fakes = json_array_size(fakes);
    for (size_t i = 0; i < rp_render_plan_endpoint_count(plan); i++)
        rp_render_plan_set_endpoint(plan, i, json_array_get(fakes, (i + variant) % n_fakes));
    for (size_t i = 0; i < rp_render_plan_user_count(plan); i++) {
        for (size_t j = 0; j < n_fakes; j++) {
            json_t *ep = json_array_get(fakes, j);
            if (!json_is_object(ep))
                continue;
            json_t *copy = json_deep_copy(ep);
            json_object_set_new(copy, "User",
                                json_pack("{s:s}", "UserId", rp_render_plan_user_id(plan, i)));
            rp_render_plan_add_user_endpoint(plan, i, json_string_value(json_object_get(ep, "Id")),
                                             copy);
            json_decref(copy);
        }
    }
    struct rp_render_params params = {
        .app_id = "6e0b7591a90841d2b5d93fa11143e5a7",
        .request_id = "b2c8e4a6-0c51-4d0b-9f7e-1b3f8f5e2a11",
        .now_ms = 1767225600000LL,
        .deadline_ms = 1767225610000LL,
        .reply_to = "rp:reply:fuzz",
        .honor_opt_out = variant & 1,
        .skip_inactive = variant & 1,
        .template_fn = variant & 1 ? hook : NULL,
    };
    int rc = rp_render_build(plan, &params, &err);
    check_err(rc, &err);
    if (rc == 0) {
        struct rp_delivery_result res;
        rp_delivery_result_init(&res);
        rp_delivery_result_set(&res, RP_DS_SUCCESSFUL, 200, "OK");
        for (size_t i = 0; i < rp_render_plan_count(plan); i++) {
            struct rp_render_recipient *r = rp_render_plan_recipient(plan, i);
            if (!r->queued)
                continue;
            check_queued(r);
            if (i % 2 && rp_render_plan_find(plan, r->delivery.message_id) == r)
                rp_render_recipient_complete(r, &res);
        }
        rp_delivery_result_cleanup(&res);
        json_t *resp = rp_render_response(plan);
        char *text = json_dumps(resp, JSON_COMPACT);
        if (!resp || !text)
            abort();
        free(text);
        json_decref(resp);
    }
    rp_render_plan_free(plan);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *fakes = json_loads(fakes_text, 0, NULL);
    if (!fakes)
        abort();
    json_t *vars = json_pack("{s:[s], s:[s,s], s:[]}", "a", "1", "name", "Ann", "Bo", "e");
    size_t len;
    bool changed;
    char *out = rp_render_substitute((const char *)data, size, vars, 4 * size + 64, &len, &changed);
    free(out);
    json_decref(vars);

    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (body) {
        struct rp_err err;
        check_err(rp_render_validate_message_request(body, &err), &err);
        check_err(rp_render_validate_users_request(body, &err), &err);
        for (int variant = 0; variant < 2; variant++) {
            run(body, RP_RENDER_MESSAGES, fakes, variant);
            run(body, RP_RENDER_USERS, fakes, variant);
        }
        json_decref(body);
    }
    json_decref(fakes);
    return 0;
}
