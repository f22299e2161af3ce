/* Endpoints as Pinpoint defines them: validation of EndpointRequest / EndpointBatchItem,
 * merging an update into the stored endpoint, and the EndpointResponse shape.
 * Pure functions over jansson values: no Redis, no clock (the caller passes "now"). */
#ifndef RP_ENDPOINT_H
#define RP_ENDPOINT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "err.h"

/* Pinpoint's limits. Per-map count: guide-importing-segments.txt ("up to 20 custom attributes
 * per endpoint for Attributes, Metrics, and User.UserAttributes"). Name and value lengths: API
 * reference, EndpointRequest.Attributes and EndpointUser.UserAttributes. Values per attribute:
 * not in the API reference; the AWS Mobile SDKs enforce 50 (MAX_ENDPOINT_ATTRIBUTE_VALUES in
 * aws-sdk-android's EndpointProfile.java and aws-sdk-ios's AWSPinpointEndpointProfile.m). */
#define RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES   20 /* per map: Attributes, Metrics, UserAttributes */
#define RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN  50 /* characters, also for metric names */
#define RP_ENDPOINT_MAX_ATTRIBUTE_VALUE_LEN 100
#define RP_ENDPOINT_MAX_ATTRIBUTE_VALUES    50
#define RP_ENDPOINT_MAX_ID_LEN              128

enum rp_endpoint_shape {
    RP_ENDPOINT_REQUEST,    /* UpdateEndpoint body: EndpointRequest (no Id member) */
    RP_ENDPOINT_BATCH_ITEM, /* UpdateEndpointsBatch Item: EndpointBatchItem (Id required) */
    /* A row of an import file: an EndpointRequest whose Address is stored as the file gives it,
     * not checked against its channel's format (ChannelType still is, and a new endpoint still
     * needs an Address). Pinpoint imports the guides' own examples ("2065550182" for SMS, a
     * non-hex APNs token), and a file that imported into Pinpoint must import here; such an
     * address fails at send time, where the channel checks it again. */
    RP_ENDPOINT_IMPORT_ROW,
};

/* Validates a request body for form and Pinpoint's limits. Borrows req. Returns 0, or RP_EINVAL
 * with err naming the member path (e.g. "Attributes", "Metrics.score", "Location.Latitude",
 * "ChannelType"); the caller prefixes a batch item's position ("Item[3]."). An empty field means
 * req itself is not an object. Members outside the shape are ignored, as AWS services ignore
 * unknown JSON members (SDKs only send what their model knows); a null member counts as absent.
 * When both ChannelType and Address are given, the Address is checked by the channel. */
int rp_endpoint_validate(const json_t *req, enum rp_endpoint_shape shape, struct rp_err *err);

/* Validates an endpoint id from a path or a batch item: 1..RP_ENDPOINT_MAX_ID_LEN characters of
 * valid UTF-8, no control characters, none of $ { } (API reference, endpoint-id). Borrows id
 * (NULL is refused). err names field. */
/* Parses an ISO 8601 time as EffectiveDate accepts it (see endpoint.c) into Unix milliseconds
 * (unix_ms may be NULL to only validate); a time without a zone is UTC. */
bool rp_iso8601_parse_ms(const char *s, int64_t *unix_ms);

int rp_endpoint_id_validate(const char *id, const char *field, struct rp_err *err);

/* Merges a request into the stored endpoint (existing may be NULL for a new endpoint) and
 * returns a new reference to the stored form: the EndpointResponse members. req is validated
 * again here (it is cheap), so nothing malformed is ever stored. Borrows existing, req and
 * removed; the result shares no values with them. A new endpoint needs ChannelType and Address;
 * err names what is missing. The Address is checked against the effective ChannelType whenever
 * the request sets either. now_iso is the ISO 8601 UTC time of the request.
 *
 * Rules: scalars replace; Demographic, Location and User.UserId merge member by member;
 * Attributes, Metrics and User.UserAttributes merge key by key (an empty array clears an
 * attribute's values but keeps the attribute, as Pinpoint does) and must stay within
 * RP_ENDPOINT_MAX_CUSTOM_ATTRIBUTES; a UserId of "" detaches the endpoint from its user. Setting a
 * new Address makes EndpointStatus ACTIVE unless the request sets EndpointStatus. RequestId is the
 * request's when given, else the stored one (the handler may set its own). EffectiveDate is the
 * request's or now; CreationDate and CohortId are set once, on creation. The result always holds
 * Attributes, Metrics, Demographic, Location and User (with UserAttributes) as objects.
 *
 * removed (may be NULL) is the app's RemoveAttributes record, an object mapping
 * "endpoint-custom-attributes", "endpoint-metric-attributes" and "endpoint-user-attributes" to
 * arrays of names: Pinpoint keeps those attributes on existing endpoints but stops capturing new
 * or changed values, so the merge ignores them in req. Returns NULL with err set on failure. */
json_t *rp_endpoint_merge(const json_t *existing, const json_t *req, const json_t *removed,
                          const char *app_id, const char *endpoint_id, const char *now_iso,
                          struct rp_err *err);

/* rp_endpoint_merge of a request of the given shape: RP_ENDPOINT_REQUEST (as rp_endpoint_merge)
 * or RP_ENDPOINT_IMPORT_ROW. */
json_t *rp_endpoint_merge_as(enum rp_endpoint_shape shape, const json_t *existing,
                             const json_t *req, const json_t *removed, const char *app_id,
                             const char *endpoint_id, const char *now_iso, struct rp_err *err);

/* Validates a RemoveAttributes attribute-type path segment (borrowed, NULL refused). */
int rp_endpoint_attribute_type_validate(const char *attribute_type, struct rp_err *err);

/* Returns the user id of a stored endpoint (borrowed from it), or NULL when it has none. */
const char *rp_endpoint_user_id(const json_t *endpoint);

#endif
