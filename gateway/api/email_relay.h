/* Repoint extension: an app's own SMTP relay for the EMAIL channel,
 * /repoint/v1/apps/{id}/channels/email/relay (GET, PUT, DELETE). The relay is kept inside the
 * EMAIL channel's sealed settings (AES-256-GCM, gateway/secrets.h), so workers read it with
 * the settings they already load and the password is never stored or answered in clear. */
#ifndef RP_API_EMAIL_RELAY_H
#define RP_API_EMAIL_RELAY_H

struct rp_request;

void rp_api_get_email_relay(struct rp_request *req);
void rp_api_put_email_relay(struct rp_request *req);
void rp_api_delete_email_relay(struct rp_request *req);

#endif
