/* Fuzzes endpoint validation and merging (gateway/endpoint.c) with arbitrary request bodies:
 * both request shapes, a merge over a fixed stored endpoint and a create. Beyond "no crash, no
 * leak", it checks that whatever merge accepts is itself a valid request, so nothing malformed
 * can reach storage. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

#define NOW "2026-03-01T10:00:00.000Z"

static const char stored_text[] =
    "{\"ChannelType\": \"SMS\", \"Address\": \"+12065550100\", \"EndpointStatus\": \"INACTIVE\","
    " \"OptOut\": \"NONE\", \"Location\": {\"Latitude\": 47.6, \"Longitude\": -122.3},"
    " \"Demographic\": {\"Platform\": \"ios\"}, \"EffectiveDate\": \"2025-12-24T08:30:00Z\","
    " \"Attributes\": {\"a\": [\"1\"], \"gone\": [\"x\"]}, \"Metrics\": {\"m\": 1.0},"
    " \"User\": {\"UserId\": \"u-1\", \"UserAttributes\": {\"name\": [\"Ann\"]}},"
    " \"ApplicationId\": \"app-1\", \"Id\": \"ep-1\", \"CohortId\": \"10\","
    " \"CreationDate\": \"2025-12-24T08:30:00Z\"}";

static const char removed_text[] = "{\"endpoint-custom-attributes\": [\"gone\"],"
                                   " \"endpoint-metric-attributes\": [\"m\"],"
                                   " \"endpoint-user-attributes\": [\"age\"]}";

static void check_merged(json_t *merged)
{
    if (!merged)
        return;
    struct rp_err err;
    if (rp_endpoint_validate(merged, RP_ENDPOINT_REQUEST, &err) != 0)
        abort();
    if (!json_is_string(json_object_get(merged, "Id")) ||
        !json_is_string(json_object_get(merged, "CohortId")))
        abort();
    char *text = json_dumps(merged, JSON_COMPACT);
    if (!text)
        abort();
    free(text);
    json_decref(merged);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The raw bytes as an id or attribute-type path segment, which arrive percent-decoded and
     * so may be anything but NUL. */
    char *raw = malloc(size + 1);
    if (!raw)
        return 0;
    memcpy(raw, data, size);
    raw[size] = '\0';
    struct rp_err err;
    rp_endpoint_id_validate(raw, "endpoint-id", &err);
    rp_endpoint_attribute_type_validate(raw, &err);

    json_t *req = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (req) {
        json_t *stored = json_loads(stored_text, 0, NULL);
        json_t *removed = json_loads(removed_text, 0, NULL);
        if (!stored || !removed)
            abort();
        rp_endpoint_validate(req, RP_ENDPOINT_REQUEST, &err);
        rp_endpoint_validate(req, RP_ENDPOINT_BATCH_ITEM, &err);
        check_merged(rp_endpoint_merge(stored, req, removed, "app-1", "ep-1", NOW, &err));
        check_merged(rp_endpoint_merge(NULL, req, NULL, "app-1", "ep-2", NOW, &err));
        /* An id taken from the input, as a batch item's Id would be. */
        const char *id = json_string_value(json_object_get(req, "Id"));
        if (id && rp_endpoint_id_validate(id, "Id", &err) == 0)
            check_merged(rp_endpoint_merge(stored, req, removed, "app-1", id, NOW, &err));
        rp_endpoint_user_id(req);
        json_decref(removed);
        json_decref(stored);
        json_decref(req);
    }
    free(raw);
    return 0;
}
