/* The message half of rendering (gateway/render.h is the recipient half): validation of
 * Pinpoint's DirectMessageConfiguration, TemplateConfiguration and per-recipient send
 * configurations, and building one recipient's provider-neutral content (the members
 * gateway/delivery.h lists per channel) with `{{Name}}` substitutions. Pure: no Redis, no
 * clock. Field names in errors are full request paths ("MessageConfiguration.SMSMessage.Body"). */
#ifndef RP_RENDER_CONTENT_H
#define RP_RENDER_CONTENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* How Pinpoint's message shapes group the channels. */
enum rp_render_family { RP_RENDER_SMS, RP_RENDER_EMAIL, RP_RENDER_PUSH };

struct rp_render_member;

/* One channel as the message shapes see it: ChannelType, its family, the
 * DirectMessageConfiguration member holding its message ("APNSMessage"), the
 * TemplateConfiguration member holding its template ("PushTemplate"). */
struct rp_render_channel {
    const char *type;
    enum rp_render_family family;
    const char *message_member;
    const char *template_member;
    const struct rp_render_member *members; /* the message shape, for validation and copying */
    size_t n_members;
    int priority_style;        /* how Priority is normalised; internal to render_content.c */
    const char *content_field; /* what a 400 for a missing message names */
    const char *content_hint;  /* ... and what else would do */
};

/* Looks a ChannelType up (case-sensitive, as Pinpoint's enum); NULL for a type Repoint has no
 * channel for. The returned table entry is static. */
const struct rp_render_channel *rp_render_channel_find(const char *type);

/* 1 for ChannelType values Pinpoint defines that Repoint does not serve (PUSH, VOICE, CUSTOM,
 * IN_APP): they get "not supported by Repoint" rather than "must be one of". */
bool rp_render_channel_unserved(const char *type);

/* Validates MessageConfiguration (a DirectMessageConfiguration; borrowed, may be NULL). Members
 * outside the shape are ignored and JSON null counts as absent, as elsewhere in the API. */
int rp_render_validate_message_configuration(const json_t *mc, struct rp_err *err);

/* Validates TemplateConfiguration (borrowed, may be NULL): each template an object with a Name
 * and an optional Version; InAppTemplate is refused (the reference: "not supported for
 * SendMessages"). VoiceTemplate is checked for form and otherwise unused, like VoiceMessage. */
int rp_render_validate_template_configuration(const json_t *tc, struct rp_err *err);

/* Validates one AddressConfiguration (with_channel_type) or EndpointSendConfiguration (cfg
 * borrowed, may be NULL). prefix is the field path of cfg ("Addresses[+141***(12)]"). The
 * ChannelType itself is checked by the caller, who knows the address it goes with. */
int rp_render_validate_send_configuration(const json_t *cfg, const char *prefix,
                                          bool with_channel_type, struct rp_err *err);

/* 1 when anything at all in the request could make a message: a body, title, raw content,
 * data or silent push in MessageConfiguration, a template, or an override in any of the
 * recipient configurations (maps a and b, borrowed, either may be NULL). */
bool rp_render_request_has_content(const json_t *mc, const json_t *tc, const json_t *a,
                                   const json_t *b);

/* 1 when the message (with the recipient's overrides rcfg; both borrowed, may be NULL) has
 * something to deliver on ch, substitutions aside. */
bool rp_render_recipient_has_content(const struct rp_render_channel *ch, const json_t *mc,
                                     const json_t *rcfg);

/* Builds the content of one delivery on channel ch from the validated MessageConfiguration mc
 * and the recipient's send configuration rcfg (both borrowed, either may be NULL). Precedence,
 * per the API reference ("overrides"): the recipient's BodyOverride / TitleOverride / RawContent,
 * then the channel's own message (SMSMessage, EmailMessage, APNSMessage ...), then for push
 * DefaultPushNotificationMessage, then DefaultMessage (Body only). A member that is null or ""
 * counts as not given and falls through to the next source.
 *
 * Substitutions are merged key by key, later winning: DefaultMessage's, for push
 * DefaultPushNotificationMessage's, the channel message's, then the recipient's ("take
 * precedence over all other variables"). *vars_out (when not NULL) receives the merged map as a
 * new reference. `{{Name}}` (spaces inside the braces allowed) in Body, Title, Subject, TextPart
 * and HtmlPart is replaced by the value list of Name joined with "," (how Handlebars writes a
 * list); a placeholder with no such variable is left as written, since a direct message is not
 * a template. Raw content is never substituted: a value could break its JSON.
 *
 * Strings that substitution does not change are shared with mc and rcfg (reference counted),
 * so N recipients of one large body hold one copy. *budget is the number of bytes substitution
 * may still produce; it is decreased, and exceeding it is RP_EINVAL naming the field.
 *
 * Returns 0 with *out a new object (possibly empty: see rp_render_content_empty), or RP_EINVAL
 * with err. */
int rp_render_content(const struct rp_render_channel *ch, const json_t *mc, const json_t *rcfg,
                      size_t *budget, json_t **out, json_t **vars_out, struct rp_err *err);

/* 1 when content (borrowed) has nothing to deliver on ch's family: SMS without Body; email
 * without RawEmail, Body, TextPart or HtmlPart; push without Title, Body, RawContent, Data or
 * SilentPush true. */
bool rp_render_content_empty(const struct rp_render_channel *ch, const json_t *content);

/* Replaces `{{Name}}` placeholders in text[0..len) from vars (an object of name -> array of
 * strings; borrowed). Returns a new heap string (caller frees) with *out_len set and *changed
 * telling whether anything was replaced, or NULL when the result would exceed max_out bytes. */
char *rp_render_substitute(const char *text, size_t len, const json_t *vars, size_t max_out,
                           size_t *out_len, bool *changed);

/* Length of the longest prefix of s[0..n) that does not end inside a UTF-8 sequence (s is
 * valid UTF-8, as jansson leaves every string it parsed). */
size_t rp_render_utf8_cut(const char *s, size_t n);

/* Drops a UTF-8 sequence left incomplete at the end of err's field or message: both are cut to
 * fit their arrays, and what a client sent may be multi-byte, yet the error must go into JSON.
 * err may be NULL. Returns rc. */
int rp_render_err_clean(int rc, struct rp_err *err);

#endif
