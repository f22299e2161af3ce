/* PutEvents: the events an app reports for its endpoints (sessions, purchases, custom events),
 * checked and turned into records of Pinpoint's event stream shape for rp:events and the app's
 * event stream destination (events.h), as Pinpoint streams app events:
 *   event_type, event_timestamp (the event's Timestamp), arrival_timestamp, event_version,
 *   application {app_id, package_name, title, version_code, sdk {name, version}},
 *   client {client_id: the endpoint id}, device {platform {name, version}, make, model,
 *   locale {code, language, country}} from the endpoint's Demographic, session {session_id,
 *   start_timestamp, stop_timestamp, duration}, attributes, metrics, endpoint (the request's
 *   endpoint data, when it gave any), awsAccountId. */
#ifndef RP_APP_EVENTS_H
#define RP_APP_EVENTS_H

#include <jansson.h>
#include <stdint.h>

#include "err.h"

/* Pinpoint's event ingestion quotas. */
#define RP_APP_EVENTS_MAX 100          /* events in one request, over all its endpoints */
#define RP_APP_EVENT_TYPE_MAX 50
#define RP_APP_EVENT_KEYS_MAX 40       /* attributes and metrics of one event together */
#define RP_APP_EVENT_KEY_MAX 50
#define RP_APP_EVENT_VALUE_MAX 200

/* The record of one Event (borrowed) reported for endpoint_id of app, with endpoint the
 * request's PublicEndpoint for it (borrowed, may be NULL or empty). NULL with err (the member
 * path inside the event, e.g. "Session.Id") when the event does not have Pinpoint's shape. */
json_t *rp_app_event_record(const char *app, const char *account, const char *endpoint_id,
                            const json_t *endpoint, const json_t *event, int64_t arrival_ms,
                            struct rp_err *err);

#endif
