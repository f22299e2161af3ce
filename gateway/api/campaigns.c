/* Campaigns: CreateCampaign, GetCampaigns, GetCampaign, UpdateCampaign, DeleteCampaign,
 * GetCampaignVersions, GetCampaignVersion, GetCampaignActivities (gateway/campaigns.h holds the
 * records, gateway/campaign_run.h runs them). */
#include "versioned.h"
#include "campaigns.h"
#include "../campaign_request.h"
#include "../campaigns.h"
#include "../rc.h"
#include "../segments.h"
#include "../util.h"
#include "jobs_api.h"

#include <stdlib.h>
#include <string.h>

static int valid_id(const char *id)
{
    return rp_api_versioned_id_valid(id);
}

static void respond(struct rp_request *req, int status, json_t *doc, int rc, const char *id)
{
    rp_api_versioned_respond(req, status, doc, rc, "Campaign", id);
}

/* The segment version a validated request sends to: SegmentVersion when given (it must
 * exist), else the segment's latest. Answers 400 / 503 itself and returns 0. */
static int segment_version(struct rp_request *req, const json_t *body)
{
    const char *seg = json_string_value(json_object_get(body, "SegmentId"));
    json_int_t want = json_integer_value(json_object_get(body, "SegmentVersion"));
    int rc = RP_ENOTFOUND;
    json_t *doc = seg && valid_id(seg) ? rp_segment_get(rp_request_app(req), seg, (int)want, &rc)
                                       : NULL;
    if (!doc) {
        if (rc == RP_ESTORE)
            rp_respond_unavailable(req);
        else if (want > 0)
            rp_respond_error(req, 400, "BadRequestException",
                             "SegmentVersion: segment %.64s has no version %lld", seg ? seg : "",
                             (long long)want);
        else
            rp_respond_error(req, 400, "BadRequestException",
                             "SegmentId: segment %.64s does not exist", seg ? seg : "");
        return 0;
    }
    int version = (int)json_integer_value(json_object_get(doc, "Version"));
    json_decref(doc);
    return version;
}

void rp_api_create_campaign(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_campaign_request_validate(body, rp_now_ms(), &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    int version = segment_version(req, body);
    if (version > 0) {
        json_t *doc = rp_campaign_create(rp_request_app(req), body, version);
        respond(req, 201, doc, RP_ESTORE, "");
    }
    json_decref(body);
}

void rp_api_get_campaigns(struct rp_request *req)
{
    long page_size;
    char token[32];
    if (rp_api_page_params(req, &page_size, token, sizeof(token)))
        return;
    int rc;
    json_t *doc = rp_campaign_list(rp_request_app(req), page_size, token, &rc);
    respond(req, 200, doc, rc, "");
}

void rp_api_get_campaign(struct rp_request *req)
{
    rp_api_versioned_get(req, "Campaign", rp_campaign_get, NULL);
}

void rp_api_update_campaign(struct rp_request *req)
{
    const char *id = req->params[1];
    if (!valid_id(id)) {
        respond(req, 200, NULL, RP_ENOTFOUND, id);
        return;
    }
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    int rc;
    json_t *merged = rp_campaign_merged_request(rp_request_app(req), id, body, &rc);
    json_decref(body);
    if (!merged) {
        respond(req, 200, NULL, rc, id);
        return;
    }
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_campaign_request_validate(merged, rp_now_ms(), &err)) {
        json_decref(merged);
        rp_respond_bad_request(req, &err);
        return;
    }
    int version = segment_version(req, merged);
    if (version > 0) {
        json_t *doc = rp_campaign_update(rp_request_app(req), id, merged, version, &rc);
        respond(req, 200, doc, rc, id);
    }
    json_decref(merged);
}

void rp_api_delete_campaign(struct rp_request *req)
{
    rp_api_versioned_delete(req, "Campaign", rp_campaign_delete);
}

void rp_api_get_campaign_versions(struct rp_request *req)
{
    rp_api_versioned_page(req, "Campaign", rp_campaign_versions);
}

void rp_api_get_campaign_version(struct rp_request *req)
{
    rp_api_versioned_get(req, "Campaign", rp_campaign_get, req->params[2]);
}

void rp_api_get_campaign_activities(struct rp_request *req)
{
    rp_api_versioned_page(req, "Campaign", rp_campaign_activities);
}
