/* Event stream settings: GetEventStream, PutEventStream, DeleteEventStream
 * (/v1/apps/{application-id}/eventstream). The destination syntax is documented in
 * gateway/events.h. */
#ifndef RP_API_EVENTSTREAM_H
#define RP_API_EVENTSTREAM_H

#include "../http.h"

void rp_api_get_event_stream(struct rp_request *req);
void rp_api_put_event_stream(struct rp_request *req);
void rp_api_delete_event_stream(struct rp_request *req);

#endif
