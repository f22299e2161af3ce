/* The BAIDU channel's pure parts: the single_device form parameters built from a delivery's
 * content, and the mapping of Baidu answers onto Pinpoint's DeliveryStatus (PROVIDERS.md
 * section 4). */
#ifndef RP_BAIDU_PAYLOAD_H
#define RP_BAIDU_PAYLOAD_H

#include <jansson.h>

#include "../../gateway/delivery.h"
#include "../../gateway/err.h"

struct rp_httpc_response;

/* Baidu's device types. */
#define RP_BAIDU_ANDROID 3
#define RP_BAIDU_IOS     4
/* msg_expires bounds, in seconds. */
#define RP_BAIDU_EXPIRES_MAX 604800

/* The device type for an endpoint's Demographic.Platform (content member "Platform", set by
 * rendering for endpoints): iOS names give RP_BAIDU_IOS, anything else (or NULL) Android. */
int rp_baidu_device_type(const char *platform);

/* Builds the msg JSON and msg_type from content (borrowed) for device_type: notification (1)
 * or pass-through (0, SilentPush); Android {"title","description","open_type","url" |
 * "pkg_content","custom_content":Data}, iOS {"aps":{"alert","sound","badge"}, Data at the top}.
 * RawContent is the msg as given (a JSON object). Returns 0 with *msg new, or RP_EINVAL with
 * err naming the member. */
int rp_baidu_msg_build(const json_t *content, int device_type, char **msg, int *msg_type,
                       struct rp_err *err);

/* Maps a Baidu answer onto result:
 *   200                       SUCCESSFUL, message_id = response_params.msg_id
 *   30608, 30607              PERMANENT_FAILURE, address_dead (no such channel / expired)
 *   30603                     PERMANENT_FAILURE "authentication failed: check ApiKey/SecretKey"
 *   30604                     THROTTLED (quota used up)
 *   30600, 30606, 5xx, other
 *   transport failures        TEMPORARY_FAILURE
 *   other codes               PERMANENT_FAILURE with Baidu's message
 * Retry-After is honoured on every answer. Borrows response. */
void rp_baidu_classify(const struct rp_httpc_response *response, long long now_ms,
                       struct rp_delivery_result *result);

#endif
