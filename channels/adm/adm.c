/* The ADM channel (Amazon Device Messaging): a Login with Amazon client id and secret. */
#include <string.h>

#include "../../gateway/rc.h"
#include "../channel.h"
#include "../settings.h"

/* Login with Amazon client ids are ~80 characters and secrets 64; the bound only keeps the
 * form body of the token request small. */
#define ADM_CREDENTIAL_MAX 1024
/* ADM registration ids are a few hundred characters. */
#define ADM_ADDRESS_MAX 2048

static int adm_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *client_id = NULL, *client_secret = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ClientId", &client_id, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ClientSecret", &client_secret, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0)
        rc = rp_settings_printable(client_id, ADM_CREDENTIAL_MAX, false, "ClientId", err);
    if (rc == 0)
        rc = rp_settings_printable(client_secret, ADM_CREDENTIAL_MAX, false, "ClientSecret", err);
    if (rc < 0)
        return rc;
    /* "(Not used)" in the reference, but Pinpoint still answers it: both are required. */
    rp_settings_put(response_members, "HasCredential", json_true());
    return 0;
}

static int adm_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, ADM_ADDRESS_MAX, true, field_name, err);
}

const struct rp_channel_ops rp_adm_channel = {
    .type = "ADM",
    .path = "adm",
    .platform = "ADM",
    .request_shape = "ADMChannelRequest",
    .settings_validate = adm_settings_validate,
    .address_validate = adm_address_validate,
    RP_CHANNEL_NO_TRANSPORT,
};
