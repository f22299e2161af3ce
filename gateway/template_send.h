/* Templates in sends: SendMessages and SendUsersMessages with a TemplateConfiguration. The API
 * thread loads (and compiles, or finds in the cache) every template the request names before
 * rendering, then gateway/render.c calls rp_template_send_render for each recipient whose channel
 * has a template (render.h's rp_render_template_fn), which stays pure: no Redis, no clock.
 *
 * The template supplies the content; a member the message itself gives (MessageConfiguration,
 * BodyOverride, TitleOverride ...) is not replaced, as Pinpoint lets message-level content
 * override a template's. A recipient whose template does not render (a variable with no value
 * anywhere, a helper given a value it cannot use, output larger than
 * templates.max_rendered_bytes) gets PERMANENT_FAILURE naming the cause instead of a message
 * with a hole in it. */
#ifndef RP_TEMPLATE_SEND_H
#define RP_TEMPLATE_SEND_H

#include <jansson.h>

#include "err.h"

struct rp_template_send;

/* Loads the SMS, email and push templates tc (the request's TemplateConfiguration, borrowed;
 * may be NULL) names. Returns 0 with *out (NULL when tc names none), RP_ENOTFOUND or RP_EINVAL
 * with err (field a request path such as "TemplateConfiguration.SMSTemplate.Name"), or
 * RP_ESTORE. */
int rp_template_send_load(const json_t *tc, struct rp_template_send **out, struct rp_err *err);
void rp_template_send_free(struct rp_template_send *ts);

/* rp_render_template_fn over a loaded struct rp_template_send (arg). Returns 0, RP_EPARSE
 * with err->msg saying why this recipient's message does not render, or RP_EINVAL once the
 * request as a whole renders to more than RP_RENDER_MAX_RENDERED_BYTES (answered 400). */
int rp_template_send_render(void *arg, const char *channel, const json_t *tmpl, const json_t *vars,
                            const json_t *endpoint, json_t *content, struct rp_err *err);

#endif
