/* What a campaign delivery carries beyond a direct one (gateway/delivery.c, gateway/events.c):
 * its run ("activity") and the run's generation survive the queue's JSON, and its events are
 * Pinpoint's campaign events with campaign_id, campaign_activity_id and treatment_id. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "delivery.h"
#include "events.h"

static const char *attr(const json_t *event, const char *name)
{
    return json_string_value(json_object_get(json_object_get(event, "attributes"), name));
}

static void make(struct rp_delivery *d)
{
    rp_delivery_init(d);
    snprintf(d->message_id, sizeof(d->message_id), "m-1");
    snprintf(d->app_id, sizeof(d->app_id), "app-1");
    snprintf(d->channel, sizeof(d->channel), "APNS");
    d->address = strdup("0123abcd");
    d->endpoint_id = strdup("ep-1");
    d->content = json_pack("{s:s}", "Body", "hi");
    d->origin = RP_ORIGIN_CAMPAIGN;
    snprintf(d->campaign_id, sizeof(d->campaign_id), "camp-1");
    snprintf(d->campaign_activity_id, sizeof(d->campaign_activity_id), "run-1");
    d->campaign_gen = 7;
}

static void run_and_generation_round_trip(void **state)
{
    (void)state;
    struct rp_delivery d, back;
    make(&d);
    json_t *doc = rp_delivery_to_json(&d);
    rp_delivery_init(&back);
    assert_int_equal(rp_delivery_from_json(&back, doc), 0);
    assert_string_equal(back.campaign_id, "camp-1");
    assert_string_equal(back.campaign_activity_id, "run-1");
    assert_int_equal(back.campaign_gen, 7);
    assert_int_equal(back.origin, RP_ORIGIN_CAMPAIGN);
    /* A run id longer than the field is a malformed entry, not a truncated one. */
    json_object_set_new(doc, "ca", json_string("0123456789012345678901234567890123456789xx"));
    struct rp_delivery bad;
    rp_delivery_init(&bad);
    assert_int_not_equal(rp_delivery_from_json(&bad, doc), 0);
    rp_delivery_cleanup(&bad);
    json_decref(doc);
    /* A direct send carries neither. */
    d.campaign_id[0] = d.campaign_activity_id[0] = '\0';
    doc = rp_delivery_to_json(&d);
    assert_null(json_object_get(doc, "ca"));
    assert_null(json_object_get(doc, "cg"));
    json_decref(doc);
    rp_delivery_cleanup(&back);
    rp_delivery_cleanup(&d);
}

static void campaign_event_attributes(void **state)
{
    (void)state;
    struct rp_delivery d;
    make(&d);
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_delivery_result_set(&r, RP_DS_SUCCESSFUL, 200, "OK");
    json_t *e = rp_event_from_result(&d, &r, 1795000000000LL);
    assert_string_equal(json_string_value(json_object_get(e, "event_type")), "_campaign.send");
    assert_string_equal(attr(e, "campaign_id"), "camp-1");
    assert_string_equal(attr(e, "campaign_activity_id"), "run-1");
    assert_string_equal(attr(e, "treatment_id"), "0");
    assert_string_equal(attr(e, "campaign_send_status"), "SUCCESS");
    json_decref(e);
    rp_delivery_result_cleanup(&r);
    rp_delivery_cleanup(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(run_and_generation_round_trip),
        cmocka_unit_test(campaign_event_attributes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
