/* Campaigns: the Pinpoint resources of issue 9 (gateway/api/campaigns.c). */
#ifndef RP_API_CAMPAIGNS_H
#define RP_API_CAMPAIGNS_H

#include "../http.h"

void rp_api_create_campaign(struct rp_request *req);
void rp_api_get_campaigns(struct rp_request *req);
void rp_api_get_campaign(struct rp_request *req);
void rp_api_update_campaign(struct rp_request *req);
void rp_api_delete_campaign(struct rp_request *req);
void rp_api_get_campaign_versions(struct rp_request *req);
void rp_api_get_campaign_version(struct rp_request *req);
void rp_api_get_campaign_activities(struct rp_request *req);

#endif
