/* The EMAIL channel, delivered over SMTP. Identity, RoleArn and ConfigurationSet name SES
 * resources in Pinpoint; they are kept and answered as given so that clients written for
 * Pinpoint round-trip them, and the SMTP sender decides what, if anything, they mean. */
#include <string.h>

#include "../../gateway/rc.h"
#include "../channel.h"
#include "../settings.h"
#include "email_address.h"
#include "smtp.h"

/* IAM's limit on an ARN. */
#define EMAIL_ARN_MAX 2048
/* SES: a configuration set name is at most 64 letters, digits, '_' and '-'. */
#define EMAIL_CONFIGURATION_SET_MAX 64
/* Pinpoint answers the account's SES sending rate, 1 per second in the SES sandbox; the rate
 * limiter reads it as the channel's limit until the channel settings can say otherwise. */
#define EMAIL_MESSAGES_PER_SECOND 1

static int configuration_set_validate(const char *name, struct rp_err *err)
{
    const char *field = "ConfigurationSet";
    size_t len = strlen(name);
    if (len > EMAIL_CONFIGURATION_SET_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters",
                          EMAIL_CONFIGURATION_SET_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return rp_err_set(err, RP_EINVAL, field, "must be letters, digits, '_' and '-'");
    }
    return 0;
}

static int email_settings_validate(const json_t *settings, json_t *response_members,
                                   struct rp_err *err)
{
    /* Identity is "Required: True" in the reference, but an SMTP channel has no SES identity
     * to name, so it is optional here (the AWS CLI still insists on sending one). */
    static const char *const arns[] = {"Identity", "RoleArn", "OrchestrationSendingRoleArn"};
    const char *from = NULL, *configuration_set = NULL;
    const char *arn_values[sizeof(arns) / sizeof(arns[0])] = {NULL};
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "FromAddress", &from, err);
    for (size_t i = 0; rc == 0 && i < sizeof(arns) / sizeof(arns[0]); i++)
        rc = rp_settings_string(settings, arns[i], &arn_values[i], err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ConfigurationSet", &configuration_set, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc < 0)
        return rc;

    if ((rc = rp_email_address_validate(from, "FromAddress", err)) < 0)
        return rc;
    for (size_t i = 0; i < sizeof(arns) / sizeof(arns[0]); i++)
        if (arn_values[i] &&
            (rc = rp_settings_printable(arn_values[i], EMAIL_ARN_MAX, false, arns[i], err)) < 0)
            return rc;
    if (configuration_set && (rc = configuration_set_validate(configuration_set, err)) < 0)
        return rc;

    rp_settings_put(response_members, "FromAddress", json_string(from));
    for (size_t i = 0; i < sizeof(arns) / sizeof(arns[0]); i++)
        if (arn_values[i])
            rp_settings_put(response_members, arns[i], json_string(arn_values[i]));
    if (configuration_set)
        rp_settings_put(response_members, "ConfigurationSet", json_string(configuration_set));
    rp_settings_put(response_members, "MessagesPerSecond", json_integer(EMAIL_MESSAGES_PER_SECOND));
    return 0;
}

const struct rp_channel_ops rp_email_channel = {
    .type = "EMAIL",
    .path = "email",
    .platform = "EMAIL",
    .request_shape = "EmailChannelRequest",
    .settings_validate = email_settings_validate,
    .address_validate = rp_email_address_validate,
    .transport_new = rp_email_transport_new,
    .transport_free = rp_email_transport_free,
    .send = rp_email_send,
};
