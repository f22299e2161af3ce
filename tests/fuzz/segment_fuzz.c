/* Fuzzes what a client controls in a segment (gateway/segments.c, gateway/segment_match.c): a
 * WriteSegmentRequest body through validation and, when it is accepted, its Dimensions and
 * SegmentGroups matched against a few fixed endpoints (every dimension kind has a value to
 * compare with: demographics, a GPS point, attributes, user attributes, dates, metrics).
 * Beyond "no crash, no leak": a refusal names the member and says why, and a match answers 1
 * or 0 (membership of source segments is answered by a stub). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "segment_match.h"
#include "segments.h"

static const char *const endpoints[] = {
    "{\"ChannelType\":\"GCM\",\"Address\":\"tok\",\"EffectiveDate\":\"2026-01-01T00:00:00Z\","
    "\"Demographic\":{\"AppVersion\":\"1.2\",\"Make\":\"acme\",\"Model\":\"x1\","
    "\"Platform\":\"android\",\"Locale\":\"en_US\"},\"Location\":{\"Country\":\"US\","
    "\"Latitude\":47.6,\"Longitude\":-122.3},\"Attributes\":{\"plan\":[\"pro\"],"
    "\"when\":[\"2026-03-01T10:00:00Z\"]},\"Metrics\":{\"sessions\":3.5},"
    "\"User\":{\"UserId\":\"u1\",\"UserAttributes\":{\"tier\":[\"gold\",\"silver\"]}}}",
    "{\"ChannelType\":\"SMS\",\"Address\":\"+14155550100\"}",
    "{}",
};

static int member_stub(void *ud, const char *id, int version, const json_t *endpoint)
{
    (void)ud;
    (void)endpoint;
    return (id && id[0] == 'a') ? 1 : (version < 0 ? -1 : 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
    if (!body)
        return 0;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_segment_request_validate(body, &err) != 0) {
        if (!err.field[0] || !err.msg[0])
            abort(); /* a refusal always names the member and says why */
        json_decref(body);
        return 0;
    }
    const json_t *dims = json_object_get(body, "Dimensions");
    for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
        json_t *ep = json_loads(endpoints[i], 0, NULL);
        if (!ep)
            abort();
        if (dims && json_is_object(dims))
            (void)rp_segment_dimensions_match(dims, ep);
        int m = rp_segment_doc_match(body, ep, member_stub, NULL);
        if (m > 1)
            abort();
        json_decref(ep);
    }
    json_decref(body);
    return 0;
}
