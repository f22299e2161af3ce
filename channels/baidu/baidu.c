/* The BAIDU channel (Baidu Cloud Push REST API v3): an API key and a secret key. */
#include <stdio.h>
#include <string.h>

#include "../../gateway/rc.h"
#include "../channel.h"
#include "../settings.h"

/* Baidu's keys are 24 and 32 characters; the bound keeps the signed form body small. */
#define BAIDU_CREDENTIAL_MAX 1024
/* Baidu channel ids are 18-19 digits; 256 leaves room. */
#define BAIDU_ADDRESS_MAX 256
/* Characters of the API key shown in Credential. */
#define BAIDU_CREDENTIAL_SHOWN 4

/* Pinpoint answers the API key itself as Credential. The key travels in clear in every push
 * request, but together with a leaked secret it is the whole credential, so the answer keeps
 * only its last characters: enough to tell two keys apart, as consoles show card numbers. */
static void credential_mask(const char *api_key, char *out, size_t out_size)
{
    size_t len = strlen(api_key);
    if (len < (size_t)3 * BAIDU_CREDENTIAL_SHOWN)
        snprintf(out, out_size, "****");
    else
        snprintf(out, out_size, "****%s", api_key + len - BAIDU_CREDENTIAL_SHOWN);
}

static int baidu_settings_validate(const json_t *settings, json_t *response_members,
                                   struct rp_err *err)
{
    const char *api_key = NULL, *secret_key = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "ApiKey", &api_key, err);
    if (rc == 0)
        rc = rp_settings_required(settings, "SecretKey", &secret_key, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0)
        rc = rp_settings_printable(api_key, BAIDU_CREDENTIAL_MAX, false, "ApiKey", err);
    if (rc == 0)
        rc = rp_settings_printable(secret_key, BAIDU_CREDENTIAL_MAX, false, "SecretKey", err);
    if (rc < 0)
        return rc;
    char masked[4 + BAIDU_CREDENTIAL_SHOWN + 1];
    credential_mask(api_key ? api_key : "", masked, sizeof(masked));
    rp_settings_put(response_members, "Credential", json_string(masked));
    rp_settings_put(response_members, "HasCredential", json_true());
    return 0;
}

static int baidu_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, BAIDU_ADDRESS_MAX, true, field_name, err);
}

const struct rp_channel_ops rp_baidu_channel = {
    .type = "BAIDU",
    .path = "baidu",
    .platform = "BAIDU",
    .request_shape = "BaiduChannelRequest",
    .settings_validate = baidu_settings_validate,
    .address_validate = baidu_address_validate,
    RP_CHANNEL_NO_TRANSPORT,
};
