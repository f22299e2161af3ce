/* Message templates (gateway/api/templates.c): the EMAIL, SMS and PUSH template resources,
 * their versions and active version, and ListTemplates, at the reference's paths. */
#ifndef RP_API_TEMPLATES_H
#define RP_API_TEMPLATES_H

#include "../http.h"

/* /v1/templates/{template-name}/email|sms|push: POST create, PUT update, GET, DELETE. */
void rp_api_create_email_template(struct rp_request *req);
void rp_api_update_email_template(struct rp_request *req);
void rp_api_get_email_template(struct rp_request *req);
void rp_api_delete_email_template(struct rp_request *req);
void rp_api_create_sms_template(struct rp_request *req);
void rp_api_update_sms_template(struct rp_request *req);
void rp_api_get_sms_template(struct rp_request *req);
void rp_api_delete_sms_template(struct rp_request *req);
void rp_api_create_push_template(struct rp_request *req);
void rp_api_update_push_template(struct rp_request *req);
void rp_api_get_push_template(struct rp_request *req);
void rp_api_delete_push_template(struct rp_request *req);

/* GET /v1/templates */
void rp_api_list_templates(struct rp_request *req);
/* GET /v1/templates/{template-name}/{template-type}/versions */
void rp_api_list_template_versions(struct rp_request *req);
/* PUT /v1/templates/{template-name}/{template-type}/active-version */
void rp_api_update_template_active_version(struct rp_request *req);

#endif
