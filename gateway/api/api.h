/* The Pinpoint resource handlers, one file per resource under gateway/api/. Each reads the
 * request into validated values, acts on the store, and answers exactly once. */
#ifndef RP_API_H
#define RP_API_H

#include "../http.h"

/* apps.c */
void rp_api_create_app(struct rp_request *req);
void rp_api_get_app(struct rp_request *req);
void rp_api_get_apps(struct rp_request *req);
void rp_api_delete_app(struct rp_request *req);
/* Builds the ApplicationResponse of a stored app; returns a new reference or NULL when the
 * app does not exist; *store_failed is set when Redis could not be asked. */
json_t *rp_api_app_response(const char *app_id, int *store_failed);

/* settings.c */
void rp_api_get_settings(struct rp_request *req);
void rp_api_update_settings(struct rp_request *req);
/* Validates a WriteApplicationSettingsRequest body; 0 or RP_EINVAL naming the field. */
int rp_api_settings_validate(const json_t *body, struct rp_err *err);

/* channels.c */
void rp_api_get_channel(struct rp_request *req);
void rp_api_update_channel(struct rp_request *req);
void rp_api_delete_channel(struct rp_request *req);
void rp_api_get_channels(struct rp_request *req);

/* endpoints.c */
void rp_api_update_endpoint(struct rp_request *req);
void rp_api_update_endpoints_batch(struct rp_request *req);
void rp_api_get_endpoint(struct rp_request *req);
void rp_api_delete_endpoint(struct rp_request *req);
void rp_api_remove_attributes(struct rp_request *req);

/* users.c */
void rp_api_get_user_endpoints(struct rp_request *req);
void rp_api_delete_user_endpoints(struct rp_request *req);

/* messages.c */
void rp_api_send_messages(struct rp_request *req);
void rp_api_send_users_messages(struct rp_request *req);
/* Sends a MessageRequest built by another handler (SendOTPMessage) as SendMessages does,
 * answering req with the MessageResponse; takes body. The caller has already applied admission
 * control (gateway/admission.h) for the request and every channel the body sends to. */
void rp_api_send_message_request(struct rp_request *req, json_t *body);

/* deadletters.c (Repoint-only, under /repoint/v1) */
void rp_api_get_dead_letters(struct rp_request *req);
void rp_api_replay_dead_letters(struct rp_request *req);

/* put_events.c */
void rp_api_put_events(struct rp_request *req);

/* tags.c: the tags of an application, campaign, segment or template, by ARN */
void rp_api_list_tags(struct rp_request *req);
void rp_api_tag_resource(struct rp_request *req);
void rp_api_untag_resource(struct rp_request *req);

/* health.c */
void rp_api_health(struct rp_request *req);
void rp_api_ready(struct rp_request *req);
void rp_api_metrics(struct rp_request *req);
/* Operations of the Pinpoint API that Repoint does not serve (API_SCOPE.md). */
void rp_api_not_served(struct rp_request *req);

/* Current time as Pinpoint writes it; out holds RP_ISO_SIZE bytes. */
void rp_api_now_iso(char *out);

#endif
