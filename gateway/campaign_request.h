/* Reading a WriteCampaignRequest (CreateCampaign / UpdateCampaign): validation with Pinpoint's
 * ranges and a 400 that names the member, the Schedule as C values, and the campaign's
 * MessageConfiguration turned into the DirectMessageConfiguration that gateway/render.c renders
 * (campaign and direct messages name their members differently: a campaign's push "Message"
 * has JsonBody, ImageSmallIconUrl, TimeToLive; its EmailMessage has Title and HtmlBody ...).
 *
 * Pure: no Redis, no clock (the caller passes now). What Repoint does not serve is refused
 * with a 400 that says so (docs/campaigns.md lists it): A/B treatments (AdditionalTreatments),
 * event-triggered and in-app campaigns (Frequency EVENT / IN_APP_EVENT, EventFilter,
 * InAppMessage, InAppTemplate), custom channels (CustomMessage, CustomDeliveryConfiguration),
 * Lambda hooks (Hook), voice (VoiceTemplate). */
#ifndef RP_CAMPAIGN_REQUEST_H
#define RP_CAMPAIGN_REQUEST_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

#define RP_CAMPAIGN_MPS_MAX 20000

enum rp_campaign_frequency {
    RP_FREQ_ONCE,
    RP_FREQ_HOURLY,
    RP_FREQ_DAILY,
    RP_FREQ_WEEKLY,
    RP_FREQ_MONTHLY,
};

struct rp_campaign_schedule {
    int immediate;          /* StartTime IMMEDIATE */
    int64_t start_ms;       /* unix ms; 0 with immediate */
    int64_t end_ms;         /* 0 when no EndTime */
    enum rp_campaign_frequency frequency;
    int local_time;         /* IsLocalTime: StartTime's wall clock in each endpoint's zone */
};

/* Earliest and latest UTC offsets in use (UTC+14, UTC-12): the span a local-time run covers. */
#define RP_CAMPAIGN_OFFSET_MAX_S (14LL * 3600)
#define RP_CAMPAIGN_OFFSET_MIN_S (-12LL * 3600)

/* The offset in seconds of a Schedule.Timezone ("UTC", "UTC+05:30", "UTC-08"); 0 or
 * RP_EINVAL. */
int rp_campaign_utc_offset(const char *tz, int *seconds);

/* Parses an ISO 8601 date-time (YYYY-MM-DDTHH:MM[:SS[.fff]] with Z or a +HH[:MM] / -HH[:MM]
 * offset; a bare time is UTC) into unix milliseconds. Returns 0 or RP_EINVAL. */
int rp_campaign_parse_time(const char *text, int64_t *out_ms);

/* Validates a complete WriteCampaignRequest (UpdateCampaign validates the stored request with
 * the update's members laid over it). now_ms: an EndTime must lie ahead of it. Returns 0 or
 * RP_EINVAL with err naming the member ("Schedule.StartTime", "Limits.MessagesPerSecond" ...). */
int rp_campaign_request_validate(const json_t *body, int64_t now_ms, struct rp_err *err);

/* Minutes after midnight of a QuietTime "HH:MM", or -1 when it is not one. */
int rp_campaign_parse_hhmm(const char *s);
/* 1 when local_min (minutes after midnight in the endpoint's time zone) falls in the quiet
 * time from start_min to end_min (either < 0: no quiet time). */
int rp_campaign_quiet(int start_min, int end_min, int local_min);

/* The Schedule of a validated request. */
void rp_campaign_schedule_read(const json_t *body, struct rp_campaign_schedule *out);

/* The period of a recurring frequency in milliseconds (months: 30 days), 0 for ONCE. */
int64_t rp_campaign_period_ms(enum rp_campaign_frequency f);

/* The DirectMessageConfiguration (new reference) equivalent to a validated request's
 * MessageConfiguration (borrowed; NULL gives an empty object). */
json_t *rp_campaign_direct_configuration(const json_t *campaign_mc);

/* 1 when a validated request has something to send on ChannelType channel: the channel's own
 * message, DefaultMessage, or the template for its kind. */
int rp_campaign_has_message(const json_t *body, const char *channel);

#endif
