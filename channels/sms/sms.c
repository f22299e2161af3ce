/* The SMS channel: a sender id or a short code to send from; the numbers and the provider
 * account come from the configuration, not from Pinpoint's request. */
#include <stdbool.h>
#include <string.h>

#include "../../gateway/rc.h"
#include "../channel.h"
#include "../settings.h"
#include "e164.h"

/* GSM 03.38 alphanumeric originators are at most 11 characters. */
#define SMS_SENDER_ID_MAX 11
/* Short codes are 3 to 8 digits wherever they exist. */
#define SMS_SHORT_CODE_MIN 3
#define SMS_SHORT_CODE_MAX 8
/* Pinpoint's default account limits, answered as it answers them. */
#define SMS_PROMOTIONAL_PER_SECOND   20
#define SMS_TRANSACTIONAL_PER_SECOND 20

/* An all-digit sender would be read by handsets as a phone number, so carriers want at least
 * one letter (AWS: "up to 11 alphanumeric characters, including at least one letter"). */
static int sender_id_validate(const char *id, struct rp_err *err)
{
    size_t len = strlen(id);
    bool letter = false;
    if (len > SMS_SENDER_ID_MAX)
        return rp_err_set(err, RP_EINVAL, "SenderId", "is longer than %d characters",
                          SMS_SENDER_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        bool is_letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        if (!is_letter && !(c >= '0' && c <= '9'))
            return rp_err_set(err, RP_EINVAL, "SenderId", "must be letters and digits only");
        letter = letter || is_letter;
    }
    if (!letter)
        return rp_err_set(err, RP_EINVAL, "SenderId", "must contain at least one letter");
    return 0;
}

static int short_code_validate(const char *code, struct rp_err *err)
{
    size_t len = strlen(code);
    if (len < SMS_SHORT_CODE_MIN || len > SMS_SHORT_CODE_MAX)
        return rp_err_set(err, RP_EINVAL, "ShortCode", "must be %d to %d digits",
                          SMS_SHORT_CODE_MIN, SMS_SHORT_CODE_MAX);
    for (size_t i = 0; i < len; i++)
        if (code[i] < '0' || code[i] > '9')
            return rp_err_set(err, RP_EINVAL, "ShortCode", "must be digits only");
    return 0;
}

static int sms_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *sender_id = NULL, *short_code = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "SenderId", &sender_id, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ShortCode", &short_code, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc == 0 && sender_id)
        rc = sender_id_validate(sender_id, err);
    if (rc == 0 && short_code)
        rc = short_code_validate(short_code, err);
    if (rc < 0)
        return rc;

    if (sender_id)
        rp_settings_put(response_members, "SenderId", json_string(sender_id));
    if (short_code)
        rp_settings_put(response_members, "ShortCode", json_string(short_code));
    rp_settings_put(response_members, "PromotionalMessagesPerSecond",
                    json_integer(SMS_PROMOTIONAL_PER_SECOND));
    rp_settings_put(response_members, "TransactionalMessagesPerSecond",
                    json_integer(SMS_TRANSACTIONAL_PER_SECOND));
    return 0;
}

const struct rp_channel_ops rp_sms_channel = {
    .type = "SMS",
    .path = "sms",
    .platform = "SMS",
    .request_shape = "SMSChannelRequest",
    .settings_validate = sms_settings_validate,
    .address_validate = rp_e164_validate,
    RP_CHANNEL_NO_TRANSPORT,
};
