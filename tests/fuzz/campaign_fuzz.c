/* Fuzzes the WriteCampaignRequest reader (gateway/campaign_request.c) with arbitrary bodies.
 * Beyond "no crash, no leak": a refusal names the member and says why; whatever is accepted
 * has a Schedule the scheduler can use (a StartTime, an EndTime after it for recurring runs),
 * a MessagesPerSecond in range, and messages that translate into a DirectMessageConfiguration
 * SendMessages' own validation accepts (a run never meets content it cannot render). The
 * first bytes also go to the ISO 8601 parser alone. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "campaign_request.h"
#include "rc.h"
#include "render_content.h"

#define NOW_MS 1795000000000LL

static void check_time(const uint8_t *data, size_t size)
{
    char text[64];
    size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t ms = -1;
    if (rp_campaign_parse_time(text, &ms) == 0 && (ms < -86400000LL || ms > 253402387200000LL))
        abort(); /* years 1970-9999 only */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_time(data, size);
    json_t *body = json_loadb((const char *)data, size, 0, NULL);
    if (!body)
        return 0;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_campaign_request_validate(body, NOW_MS, &err) != 0) {
        if (!err.msg[0])
            abort();
        json_decref(body);
        return 0;
    }
    struct rp_campaign_schedule s;
    rp_campaign_schedule_read(body, &s);
    const char *start =
        json_string_value(json_object_get(json_object_get(body, "Schedule"), "StartTime"));
    int64_t start_ms;
    if (!start || (!s.immediate && (rp_campaign_parse_time(start, &start_ms) ||
                                    start_ms != s.start_ms)))
        abort();
    if (s.frequency != RP_FREQ_ONCE && s.end_ms <= NOW_MS)
        abort();
    const json_t *mps = json_object_get(json_object_get(body, "Limits"), "MessagesPerSecond");
    if (json_is_integer(mps) &&
        (json_integer_value(mps) < 1 || json_integer_value(mps) > RP_CAMPAIGN_MPS_MAX))
        abort();
    json_t *direct = rp_campaign_direct_configuration(json_object_get(body,
                                                                      "MessageConfiguration"));
    if (rp_render_validate_message_configuration(direct, &err) != 0)
        abort();
    static const char *const channels[] = {"APNS", "GCM", "ADM", "BAIDU", "EMAIL", "SMS"};
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++)
        (void)rp_campaign_has_message(body, channels[i]);
    json_decref(direct);
    json_decref(body);
    return 0;
}
