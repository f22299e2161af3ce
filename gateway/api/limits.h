/* Per-app-per-channel MessagesPerSecond override, a Repoint extension outside the Pinpoint API
 * (hence under /repoint/v1): /repoint/v1/apps/{id}/channels/{channel}/limits. */
#ifndef RP_API_LIMITS_H
#define RP_API_LIMITS_H

#include "../http.h"

/* GET: the override, the effective limit and each of its sources. */
void rp_api_get_channel_limits(struct rp_request *req);
/* PUT {"MessagesPerSecond": N} sets the override (1..20000); null removes it. */
void rp_api_put_channel_limits(struct rp_request *req);
/* DELETE removes the override. */
void rp_api_delete_channel_limits(struct rp_request *req);

#endif
