/* Fuzzes PutEvents' event reader (gateway/app_events.c): any JSON as an Event, with its member
 * "Endpoint" (when there is one) as the item's endpoint data. An event it takes must give a
 * record that names its type, endpoint and time as given, and serialises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "app_events.h"
#include "endpoint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *event = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!event)
        return 0;
    struct rp_err err;
    const json_t *endpoint = json_object_get(event, "Endpoint");
    json_t *rec = rp_app_event_record("app", "000000000000", "ep-1", endpoint, event, 1, &err);
    if (rec) {
        int64_t when = 0;
        const char *stamp = json_string_value(json_object_get(event, "Timestamp"));
        if (!stamp || !rp_iso8601_parse_ms(stamp, &when) ||
            json_integer_value(json_object_get(rec, "event_timestamp")) != when ||
            strcmp(json_string_value(json_object_get(rec, "event_type")),
                   json_string_value(json_object_get(event, "EventType"))) != 0 ||
            !json_object_get(json_object_get(rec, "client"), "client_id"))
            abort();
        char *text = json_dumps(rec, JSON_COMPACT);
        if (!text)
            abort();
        free(text);
        json_decref(rec);
    } else if (!err.msg[0]) {
        abort(); /* a refusal always says why */
    }
    json_decref(event);
    return 0;
}
