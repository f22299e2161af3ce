#include "channel.h"

#include <string.h>

#include "../gateway/rc.h"
#include "../gateway/util.h"
#include "settings.h"

/* Each plugin defines its tables in its own folder; this is the one place that names them. */
extern const struct rp_channel_ops rp_adm_channel;
extern const struct rp_channel_ops rp_apns_channel;
extern const struct rp_channel_ops rp_apns_sandbox_channel;
extern const struct rp_channel_ops rp_apns_voip_channel;
extern const struct rp_channel_ops rp_apns_voip_sandbox_channel;
extern const struct rp_channel_ops rp_baidu_channel;
extern const struct rp_channel_ops rp_email_channel;
extern const struct rp_channel_ops rp_gcm_channel;
extern const struct rp_channel_ops rp_sms_channel;

/* Sorted by ChannelType, the order of the API reference. */
static const struct rp_channel_ops *const registry[] = {
    &rp_adm_channel,
    &rp_apns_channel,
    &rp_apns_sandbox_channel,
    &rp_apns_voip_channel,
    &rp_apns_voip_sandbox_channel,
    &rp_baidu_channel,
    &rp_email_channel,
    &rp_gcm_channel,
    &rp_sms_channel,
};

#define REGISTRY_LEN (sizeof(registry) / sizeof(registry[0]))

/* Longest address the default validator takes: the largest any provider documents (FCM
 * registration tokens) with room to spare. */
#define DEFAULT_ADDRESS_MAX 4096

const struct rp_channel_ops *const *rp_channel_all(size_t *count)
{
    *count = REGISTRY_LEN;
    return registry;
}

/* Both lookups are case-sensitive: ChannelType is an enum that the SDKs send in capitals, and
 * the URL segments are lowercase in Pinpoint's paths. */
_Static_assert(REGISTRY_LEN <= RP_CHANNEL_MAX, "raise RP_CHANNEL_MAX");

int rp_channel_index(const char *type)
{
    if (!type)
        return -1;
    for (size_t i = 0; i < REGISTRY_LEN; i++)
        if (strcmp(registry[i]->type, type) == 0)
            return (int)i;
    return -1;
}

const struct rp_channel_ops *rp_channel_by_type(const char *type)
{
    int i = rp_channel_index(type);
    return i < 0 ? NULL : registry[i];
}

const struct rp_channel_ops *rp_channel_by_path(const char *path)
{
    if (!path)
        return NULL;
    for (size_t i = 0; i < REGISTRY_LEN; i++)
        if (strcmp(registry[i]->path, path) == 0)
            return registry[i];
    return NULL;
}

/* A channel without credentials of its own still has the Enabled switch. */
int rp_channel_default_settings_validate(const json_t *settings, json_t *response_members,
                                         struct rp_err *err)
{
    int rc = rp_settings_object(settings, err);
    if (rc < 0)
        return rc;
    return rp_settings_enabled(settings, response_members, err);
}

int rp_channel_default_address_validate(const char *address, const char *field_name,
                                        struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, DEFAULT_ADDRESS_MAX, false, field_name, err);
}

void *rp_channel_default_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    (void)base;
    (void)cfg;
    /* Any non-NULL pointer: the default send keeps no state. */
    static int no_state;
    return &no_state;
}

void rp_channel_default_transport_free(void *transport)
{
    (void)transport;
}

void rp_channel_default_send(void *transport, struct rp_send *send)
{
    (void)transport;
    rp_delivery_result_set(&send->result, RP_DS_PERMANENT_FAILURE, 0,
                           "Repoint cannot deliver through the %s channel yet",
                           send->delivery->channel);
    rp_send_complete(send);
}

int rp_send_timeout(struct rp_send *send, long default_ms, long *timeout_ms)
{
    const struct rp_delivery *d = send->delivery;
    *timeout_ms = default_ms;
    if (d->deadline_ms <= 0)
        return 1;
    int64_t left = d->deadline_ms - rp_now_ms();
    if (left <= 0) {
        rp_delivery_result_set(&send->result, RP_DS_TEMPORARY_FAILURE, 0,
                               "the delivery deadline passed before sending");
        rp_send_complete(send);
        return 0;
    }
    if (left < default_ms)
        *timeout_ms = (long)left;
    return 1;
}
