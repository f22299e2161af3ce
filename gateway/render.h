/* Rendering direct messages: SendMessages (MessageRequest) and SendUsersMessages
 * (SendUsersMessageRequest) turned into one fully rendered, provider-neutral struct rp_delivery
 * per recipient, ready for the queue (workers do no rendering), plus the recipients that get a
 * result without a delivery (DUPLICATE, an unknown endpoint ...), and the answer
 * (MessageResponse / SendUsersMessageResponse) built from the final results.
 *
 * Pure: no Redis, no clock. The caller reads what the plan asks for and passes it in:
 *
 *   plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err)            -> 400 on NULL
 *   for i < rp_render_plan_endpoint_count(plan): read rp_render_plan_endpoint_id(plan, i),
 *       rp_render_plan_set_endpoint(plan, i, stored EndpointResponse or NULL)
 *   for i < rp_render_plan_user_count(plan): for each endpoint of rp_render_plan_user_id(plan, i),
 *       rp_render_plan_add_user_endpoint(plan, i, endpoint id, stored EndpointResponse)
 *   rp_render_build(plan, &params, &err)                                 -> 400 on RP_EINVAL
 *   n = rp_render_plan_deliveries(plan, out): expect and enqueue out[0..n); as results arrive,
 *       rp_render_recipient_finish(rp_render_plan_find(plan, message id), status, ...)
 *   answer rp_render_response(plan); rp_render_plan_free(plan)
 *
 * Rules, from the API reference unless marked as Repoint's choice:
 * - At most 100 recipients (Addresses + Endpoints) and 100 Users per request; at least one.
 * - An address needs its ChannelType (Repoint's choice: Pinpoint has no way to guess it), which
 *   must be a channel Repoint serves, and must be valid for it (an SMS number in E.164 ...).
 * - An endpoint id resolves to the stored endpoint's ChannelType and Address; a user to every
 *   endpoint whose User.UserId is that user (at most 15, Pinpoint's endpoints-per-user quota).
 * - EndpointStatus INACTIVE and OptOut ALL are ignored ("If you send a message using the
 *   SendMessages and SendUserMessages API, the value of EndpointStatus is ignored";
 *   "The SendMessages API does not honor the endpoint OPT_OUT status"). params.honor_opt_out and
 *   params.skip_inactive turn the campaign behaviour on: OPT_OUT, or PERMANENT_FAILURE "Endpoint
 *   is inactive", without a delivery.
 * - DUPLICATE: the same address on the same channel reached twice in one request is sent once,
 *   to the first recipient in this order: Addresses, then Endpoints, in the request's order;
 *   Users in the request's order, each user's endpoints by id.
 * - A message with nothing to send on a recipient's channel is a 400 naming the member to give
 *   (for an address at validation, for an endpoint once it is resolved). For
 *   SendUsersMessages, whose senders cannot know which channels a user's endpoints are on, such
 *   an endpoint instead gets PERMANENT_FAILURE "No message for the X channel" (Repoint's choice).
 *
 * Statuses of recipients that get no delivery (Repoint's choice: the reference gives none;
 * StatusCode is "the downstream service status code", and no service was called):
 *   DUPLICATE 400 | OPT_OUT 400 | PERMANENT_FAILURE 404 "Endpoint not found" |
 *   PERMANENT_FAILURE 400 for an inactive, address-less or unserved-channel endpoint.
 * A queued recipient with no result by the time the response is built answers
 * UNKNOWN_FAILURE 504 (it may still be delivered). MessageId is Repoint's delivery message id,
 * the one delivery events carry; recipients without a delivery have none. */
#ifndef RP_RENDER_H
#define RP_RENDER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "err.h"

#define RP_RENDER_MAX_RECIPIENTS     100 /* Addresses + Endpoints: "as many as 100 recipients" */
#define RP_RENDER_MAX_USERS          100 /* "as many as 100 users per request" */
#define RP_RENDER_MAX_USER_ENDPOINTS 15  /* Pinpoint: "a maximum of 15 endpoints" per UserId */
/* What `{{Name}}` substitution may produce over a whole request (Repoint's bound): a 1 MB body
 * with many placeholders must not turn into gigabytes across 100 recipients. */
#define RP_RENDER_MAX_RENDERED_BYTES ((size_t)16 * 1024 * 1024)

enum rp_render_kind {
    RP_RENDER_MESSAGES, /* SendMessages: Addresses and Endpoints -> MessageResponse */
    RP_RENDER_USERS,    /* SendUsersMessages: Users -> SendUsersMessageResponse */
};

/* Full validation of a request body (borrowed): 0, or RP_EINVAL with err naming the member by
 * its path ("MessageConfiguration.SMSMessage.MessageType", "Addresses[+141***(12)].ChannelType",
 * "Endpoints[ep-1].Substitutions.name"). Address keys appear redacted as rp_redact writes them;
 * endpoint and user ids as given, cut to fit. Members outside the shapes are ignored and JSON
 * null counts as absent, as elsewhere in the API. */
int rp_render_validate_message_request(const json_t *body, struct rp_err *err);
int rp_render_validate_users_request(const json_t *body, struct rp_err *err);

/* The hook the message templates issue fills in: renders the template that tmpl names (the
 * TemplateConfiguration member for the recipient's channel, {"Name", "Version"}; borrowed) into
 * content (borrowed: the recipient's content as the message built it; the hook adds or
 * replaces members as gateway/delivery.h lists them for channel). vars (borrowed) are the merged
 * Substitutions, endpoint (borrowed, NULL for an address) the recipient's stored endpoint for
 * attribute variables. The hook must be pure (templates loaded beforehand through arg) and
 * return 0, RP_EINVAL with err (answered 400), RP_EPARSE with err->msg (this recipient's
 * template does not render: it gets PERMANENT_FAILURE with that message and no delivery, the
 * other recipients are unaffected), or another rp_rc the caller answers. Until it
 * exists (template_fn NULL), a recipient whose content is empty and whose channel has a template
 * makes rp_render_build answer 400 "templates are not served yet"; a template beside message
 * content is not used. */
typedef int (*rp_render_template_fn)(void *arg, const char *channel, const json_t *tmpl,
                                     const json_t *vars, const json_t *endpoint, json_t *content,
                                     struct rp_err *err);

struct rp_render_params {
    const char *app_id;     /* borrowed; at most 39 characters */
    const char *request_id; /* borrowed; the API request's id, at most 47 characters */
    int64_t now_ms;         /* wall clock, becomes created_ms */
    int64_t deadline_ms;    /* wall clock: not attempted after this */
    const char *reply_to;   /* borrowed or NULL: the list the waiting request reads (at most
                             * 63 characters) */
    bool honor_opt_out;     /* campaign behaviour, see above; false for direct sends */
    bool skip_inactive;
    rp_render_template_fn template_fn; /* NULL until templates are served */
    void *template_arg;
    /* Recipients with nothing of their own in their content (no configuration, no template,
     * not Baidu) share one content object per channel, a reference each: rendered once, and
     * the queue sees at once that their deliveries are the same message. The caller must then
     * not modify a delivery's content. */
    bool share_content;
};

/* A recipient's final answer, as MessageResult / EndpointMessageResult carry it. */
struct rp_render_result {
    enum rp_delivery_status status;
    int status_code;
    char status_message[256];
    char updated_token[512];
    char provider_message_id[256]; /* the provider's id (SMS sid, apns-id ...), "" when none */
    bool final;
};

struct rp_render_recipient {
    const char *user_id;     /* borrowed from the plan: the user (SendUsersMessages), else NULL */
    const char *key;         /* borrowed from the plan: the key of this recipient in Result or
                              * EndpointResult (the address, or the endpoint id) */
    const char *endpoint_id; /* borrowed from the plan, NULL for an address recipient */
    char *address;           /* owned, NULL when unknown (an endpoint that does not exist) */
    bool queued;             /* delivery is rendered and must be enqueued */
    struct rp_delivery delivery; /* owned by the plan; meaningful when queued */
    struct rp_render_result result;
};

struct rp_render_plan;

/* Validates body (as rp_render_validate_*) and returns a new plan holding a reference to it, or
 * NULL with err set. The plan is used by one thread at a time. */
struct rp_render_plan *rp_render_plan_new(const json_t *body, enum rp_render_kind kind,
                                          struct rp_err *err);
void rp_render_plan_free(struct rp_render_plan *plan);
enum rp_render_kind rp_render_plan_kind(const struct rp_render_plan *plan);

/* The endpoint ids of Endpoints and the user ids of Users to read, in the request's order.
 * Returned strings are borrowed from the plan. */
size_t rp_render_plan_endpoint_count(const struct rp_render_plan *plan);
const char *rp_render_plan_endpoint_id(const struct rp_render_plan *plan, size_t i);
size_t rp_render_plan_user_count(const struct rp_render_plan *plan);
const char *rp_render_plan_user_id(const struct rp_render_plan *plan, size_t i);
/* The request's TemplateConfiguration (borrowed), NULL when none: what a template hook loads. */
const json_t *rp_render_plan_templates(const struct rp_render_plan *plan);

/* Hands over the stored endpoint (EndpointResponse; the plan takes a reference) of endpoint i,
 * or NULL when it does not exist. An endpoint never set counts as not existing. Returns 0 or
 * RP_EINVAL for an index out of range or a plan already built. */
int rp_render_plan_set_endpoint(struct rp_render_plan *plan, size_t i, const json_t *endpoint);

/* Adds an endpoint of user i (endpoint_id borrowed, copied; endpoint: the stored
 * EndpointResponse, the plan takes a reference). An endpoint whose User.UserId is not that user
 * (a stale index entry) is skipped. Returns 0, RP_ELIMIT once the user has
 * RP_RENDER_MAX_USER_ENDPOINTS (the caller stops adding for that user), or RP_EINVAL. */
int rp_render_plan_add_user_endpoint(struct rp_render_plan *plan, size_t i, const char *endpoint_id,
                                     const json_t *endpoint);

/* Resolves and renders every recipient (params borrowed for the call; strings copied). Returns
 * 0; RP_EINVAL with err (answer 400); or whatever the template hook returned. Built once. */
int rp_render_build(struct rp_render_plan *plan, const struct rp_render_params *params,
                    struct rp_err *err);

/* The recipients after rp_render_build, in response order; borrowed from the plan. */
size_t rp_render_plan_count(const struct rp_render_plan *plan);
struct rp_render_recipient *rp_render_plan_recipient(struct rp_render_plan *plan, size_t i);
/* The queued recipient whose delivery has message_id, or NULL. */
struct rp_render_recipient *rp_render_plan_find(struct rp_render_plan *plan,
                                                const char *message_id);

/* Fills out (room for rp_render_plan_count(plan) pointers) with the deliveries to enqueue, in
 * recipient order, and returns how many: what rp_queue_push and rp_direct_expect take. The
 * pointers are borrowed from the plan. */
size_t rp_render_plan_deliveries(struct rp_render_plan *plan, struct rp_delivery **out);

/* Records a delivery's result (borrowed; copied) as the recipient's final answer. */
void rp_render_recipient_complete(struct rp_render_recipient *r,
                                  const struct rp_delivery_result *result);
/* The same from its parts (strings borrowed, copied; either may be NULL), e.g. from a
 * struct rp_direct_result. */
void rp_render_recipient_finish(struct rp_render_recipient *r, enum rp_delivery_status status,
                                int status_code, const char *status_message,
                                const char *updated_token);
/* Sets a final answer directly (e.g. the caller could not enqueue the delivery). */
void rp_render_recipient_set(struct rp_render_recipient *r, enum rp_delivery_status status,
                             int status_code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Returns a new MessageResponse {ApplicationId, RequestId, Result: {address: MessageResult},
 * EndpointResult: {endpoint id: EndpointMessageResult}} (each map only when it has entries), or
 * for SendUsersMessages a SendUsersMessageResponse {ApplicationId, RequestId, Result: {user id:
 * {endpoint id: EndpointMessageResult}}} with every requested user, or NULL before
 * rp_render_build succeeded. */
json_t *rp_render_response(const struct rp_render_plan *plan);

#endif
