/* The route table: every path Repoint answers, in the reference's own terms. */
#include "api.h"
#include "campaigns.h"
#include "email_relay.h"
#include "eventstream.h"
#include "jobs_api.h"
#include "limits.h"
#include "otp.h"
#include "templates.h"
#include "channels/sms/sms_receipts.h"

#define APP RP_ROUTE_APP_SCOPED

static const struct rp_route routes[] = {
    {"GET", "/repoint/health", rp_api_health, "Health", RP_ROUTE_PUBLIC | RP_ROUTE_PROBE},
    {"GET", "/repoint/ready", rp_api_ready, "Ready", RP_ROUTE_PUBLIC | RP_ROUTE_PROBE},
    {"GET", "/metrics", rp_api_metrics, "Metrics",
     RP_ROUTE_PUBLIC | RP_ROUTE_PROBE | RP_ROUTE_METRICS},

    {"POST", "/v1/apps", rp_api_create_app, "CreateApp", 0},
    {"GET", "/v1/apps", rp_api_get_apps, "GetApps", 0},
    {"GET", "/v1/apps/{}", rp_api_get_app, "GetApp", APP},
    {"DELETE", "/v1/apps/{}", rp_api_delete_app, "DeleteApp", APP},

    {"GET", "/v1/apps/{}/settings", rp_api_get_settings, "GetApplicationSettings", APP},
    {"PUT", "/v1/apps/{}/settings", rp_api_update_settings, "UpdateApplicationSettings", APP},

    {"GET", "/v1/apps/{}/channels", rp_api_get_channels, "GetChannels", APP},
    {"GET", "/v1/apps/{}/channels/{}", rp_api_get_channel, "GetChannel", APP},
    {"PUT", "/v1/apps/{}/channels/{}", rp_api_update_channel, "UpdateChannel", APP},
    {"DELETE", "/v1/apps/{}/channels/{}", rp_api_delete_channel, "DeleteChannel", APP},

    /* Repoint extension: the per-app-per-channel MessagesPerSecond override. */
    {"GET", "/repoint/v1/apps/{}/channels/{}/limits", rp_api_get_channel_limits,
     "GetChannelLimits", APP},
    {"PUT", "/repoint/v1/apps/{}/channels/{}/limits", rp_api_put_channel_limits,
     "PutChannelLimits", APP},
    {"DELETE", "/repoint/v1/apps/{}/channels/{}/limits", rp_api_delete_channel_limits,
     "DeleteChannelLimits", APP},

    /* Repoint extension: SMS delivery receipts, signed by the provider instead of SigV4. */
    {"POST", "/repoint/v1/sms/status", rp_sms_status_callback, "SmsStatusCallback",
     RP_ROUTE_PUBLIC},

    /* Repoint extension: dead letters of the delivery queue. */
    {"GET", "/repoint/v1/dead-letters", rp_api_get_dead_letters, "GetDeadLetters", 0},
    {"POST", "/repoint/v1/dead-letters/replay", rp_api_replay_dead_letters, "ReplayDeadLetters",
     0},

    {"PUT", "/v1/apps/{}/endpoints", rp_api_update_endpoints_batch, "UpdateEndpointsBatch", APP},
    {"GET", "/v1/apps/{}/endpoints/{}", rp_api_get_endpoint, "GetEndpoint", APP},
    {"PUT", "/v1/apps/{}/endpoints/{}", rp_api_update_endpoint, "UpdateEndpoint", APP},
    {"DELETE", "/v1/apps/{}/endpoints/{}", rp_api_delete_endpoint, "DeleteEndpoint", APP},
    {"PUT", "/v1/apps/{}/attributes/{}", rp_api_remove_attributes, "RemoveAttributes", APP},

    {"GET", "/v1/apps/{}/eventstream", rp_api_get_event_stream, "GetEventStream", APP},
    {"POST", "/v1/apps/{}/eventstream", rp_api_put_event_stream, "PutEventStream", APP},
    {"DELETE", "/v1/apps/{}/eventstream", rp_api_delete_event_stream, "DeleteEventStream", APP},

    {"POST", "/v1/apps/{}/events", rp_api_put_events, "PutEvents", APP},

    {"POST", "/v1/apps/{}/messages", rp_api_send_messages, "SendMessages", APP},
    {"POST", "/v1/apps/{}/users-messages", rp_api_send_users_messages, "SendUsersMessages", APP},

    {"GET", "/v1/apps/{}/users/{}", rp_api_get_user_endpoints, "GetUserEndpoints", APP},
    {"DELETE", "/v1/apps/{}/users/{}", rp_api_delete_user_endpoints, "DeleteUserEndpoints", APP},

    /* Message templates. */
    {"GET", "/v1/templates", rp_api_list_templates, "ListTemplates", 0},
    {"POST", "/v1/templates/{}/email", rp_api_create_email_template, "CreateEmailTemplate", 0},
    {"PUT", "/v1/templates/{}/email", rp_api_update_email_template, "UpdateEmailTemplate", 0},
    {"GET", "/v1/templates/{}/email", rp_api_get_email_template, "GetEmailTemplate", 0},
    {"DELETE", "/v1/templates/{}/email", rp_api_delete_email_template, "DeleteEmailTemplate", 0},
    {"POST", "/v1/templates/{}/sms", rp_api_create_sms_template, "CreateSmsTemplate", 0},
    {"PUT", "/v1/templates/{}/sms", rp_api_update_sms_template, "UpdateSmsTemplate", 0},
    {"GET", "/v1/templates/{}/sms", rp_api_get_sms_template, "GetSmsTemplate", 0},
    {"DELETE", "/v1/templates/{}/sms", rp_api_delete_sms_template, "DeleteSmsTemplate", 0},
    {"POST", "/v1/templates/{}/push", rp_api_create_push_template, "CreatePushTemplate", 0},
    {"PUT", "/v1/templates/{}/push", rp_api_update_push_template, "UpdatePushTemplate", 0},
    {"GET", "/v1/templates/{}/push", rp_api_get_push_template, "GetPushTemplate", 0},
    {"DELETE", "/v1/templates/{}/push", rp_api_delete_push_template, "DeletePushTemplate", 0},
    {"GET", "/v1/templates/{}/{}/versions", rp_api_list_template_versions,
     "ListTemplateVersions", 0},
    {"PUT", "/v1/templates/{}/{}/active-version", rp_api_update_template_active_version,
     "UpdateTemplateActiveVersion", 0},

    /* One-time passwords. */
    {"POST", "/v1/apps/{}/otp", rp_api_send_otp_message, "SendOTPMessage", APP},
    {"POST", "/v1/apps/{}/verify-otp", rp_api_verify_otp_message, "VerifyOTPMessage", APP},

    /* Import and export jobs, segments. */
    {"POST", "/v1/apps/{}/jobs/import", rp_api_create_import_job, "CreateImportJob", APP},
    {"GET", "/v1/apps/{}/jobs/import", rp_api_get_import_jobs, "GetImportJobs", APP},
    {"GET", "/v1/apps/{}/jobs/import/{}", rp_api_get_import_job, "GetImportJob", APP},
    {"POST", "/v1/apps/{}/jobs/export", rp_api_create_export_job, "CreateExportJob", APP},
    {"GET", "/v1/apps/{}/jobs/export", rp_api_get_export_jobs, "GetExportJobs", APP},
    {"GET", "/v1/apps/{}/jobs/export/{}", rp_api_get_export_job, "GetExportJob", APP},
    {"POST", "/v1/apps/{}/segments", rp_api_create_segment, "CreateSegment", APP},
    {"GET", "/v1/apps/{}/segments", rp_api_get_segments, "GetSegments", APP},
    {"GET", "/v1/apps/{}/segments/{}", rp_api_get_segment, "GetSegment", APP},
    {"PUT", "/v1/apps/{}/segments/{}", rp_api_update_segment, "UpdateSegment", APP},
    {"DELETE", "/v1/apps/{}/segments/{}", rp_api_delete_segment, "DeleteSegment", APP},
    {"GET", "/v1/apps/{}/segments/{}/versions", rp_api_get_segment_versions,
     "GetSegmentVersions", APP},
    {"GET", "/v1/apps/{}/segments/{}/versions/{}", rp_api_get_segment_version,
     "GetSegmentVersion", APP},
    {"GET", "/v1/apps/{}/segments/{}/jobs/import", rp_api_get_segment_import_jobs,
     "GetSegmentImportJobs", APP},
    {"GET", "/v1/apps/{}/segments/{}/jobs/export", rp_api_get_segment_export_jobs,
     "GetSegmentExportJobs", APP},

    /* Repoint extension: the EMAIL channel's per-app SMTP relay. */
    {"GET", "/repoint/v1/apps/{}/channels/email/relay", rp_api_get_email_relay, "GetEmailRelay",
     APP},
    {"PUT", "/repoint/v1/apps/{}/channels/email/relay", rp_api_put_email_relay, "PutEmailRelay",
     APP},
    {"DELETE", "/repoint/v1/apps/{}/channels/email/relay", rp_api_delete_email_relay,
     "DeleteEmailRelay", APP},

    /* Not served (API_SCOPE.md): a clear Pinpoint error rather than a fake success. */
    {"GET", "/v1/apps/{}/journeys", rp_api_not_served, "ListJourneys", 0},
    {"POST", "/v1/apps/{}/journeys", rp_api_not_served, "CreateJourney", 0},
    {"GET", "/v1/recommenders", rp_api_not_served, "GetRecommenderConfigurations", 0},
    {"POST", "/v1/recommenders", rp_api_not_served, "CreateRecommenderConfiguration", 0},
    {"POST", "/v1/phone/number/validate", rp_api_not_served, "PhoneNumberValidate", 0},
    {"GET", "/v1/apps/{}/kpis/daterange/{}", rp_api_not_served, "GetApplicationDateRangeKpi", 0},

    /* Campaigns. */
    {"POST", "/v1/apps/{}/campaigns", rp_api_create_campaign, "CreateCampaign", APP},
    {"GET", "/v1/apps/{}/campaigns", rp_api_get_campaigns, "GetCampaigns", APP},
    {"GET", "/v1/apps/{}/campaigns/{}", rp_api_get_campaign, "GetCampaign", APP},
    {"PUT", "/v1/apps/{}/campaigns/{}", rp_api_update_campaign, "UpdateCampaign", APP},
    {"DELETE", "/v1/apps/{}/campaigns/{}", rp_api_delete_campaign, "DeleteCampaign", APP},
    {"GET", "/v1/apps/{}/campaigns/{}/versions", rp_api_get_campaign_versions,
     "GetCampaignVersions", APP},
    {"GET", "/v1/apps/{}/campaigns/{}/versions/{}", rp_api_get_campaign_version,
     "GetCampaignVersion", APP},
    {"GET", "/v1/apps/{}/campaigns/{}/activities", rp_api_get_campaign_activities,
     "GetCampaignActivities", APP},

    /* The ARN is one path segment (its '/' and ':' percent-encoded, as the SDKs send it); a
     * key limited to some apps may tag only those apps' resources (tags.c checks). */
    {"GET", "/v1/tags/{}", rp_api_list_tags, "ListTagsForResource", 0},
    {"POST", "/v1/tags/{}", rp_api_tag_resource, "TagResource", 0},
    {"DELETE", "/v1/tags/{}", rp_api_untag_resource, "UntagResource", 0},
};

const struct rp_route *rp_routes(size_t *count)
{
    *count = sizeof(routes) / sizeof(routes[0]);
    return routes;
}
