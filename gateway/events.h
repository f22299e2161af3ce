/* Delivery events: every delivery result becomes one record in the shape of Amazon Pinpoint's
 * event stream ("Streaming Amazon Pinpoint events": event_type, event_timestamp,
 * arrival_timestamp, event_version "3.1", application, client, device, session, attributes,
 * metrics, awsAccountId), appended to the capped Redis stream rp:events. The forwarder
 * (event_forwarder.h) then delivers each app's events to the destination PutEventStream set.
 *
 * Entries of rp:events carry two fields:
 *   data   the event as compact JSON
 *   app    the application id, so the forwarder routes without parsing
 *
 * Destinations (EventStream.DestinationStreamArn). Pinpoint takes a Kinesis or Firehose ARN;
 * Repoint cannot write to AWS, so the same member names one of:
 *   https://host/path, http://host/path
 *                   a webhook: Repoint POSTs batches of events as a JSON array
 *                   (Content-Type: application/json, header X-Repoint-Application-Id), treats
 *                   any 2xx as delivered and retries anything else with exponential backoff;
 *                   https verifies the certificate (tls.ca_file when set, else the system store)
 *   redis:<key>     a stream in Repoint's own Redis, fed with XADD <key> (trimmed to events.maxlen)
 *                   with the same data/app fields as rp:events; keys under "rp:" are Repoint's
 *                   and refused
 * An arn:aws:kinesis / arn:aws:firehose ARN is refused with a 400 that says so. */
#ifndef RP_EVENTS_H
#define RP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "delivery.h"
#include "err.h"

#define RP_EVENTS_STREAM   "rp:events"
/* Set of the apps that have an event stream destination. Its hash tag puts it in rp:events's
 * slot, so one script reads both: while it is empty the forwarder moves its group past new
 * events instead of reading each back (most deployments forward nothing, and reading every
 * event again would cost Redis as much as writing it). PutEventStream adds the app,
 * DeleteEventStream and the purge of a deleted app remove it. */
#define RP_EVENTS_DEST_APPS "rp:{rp:events}:dest-apps"
#define RP_EVENTS_VERSION  "3.1"
#define RP_EVENTS_DEST_MAX 2048

/* Returns a new event record (caller owns) describing result r of delivery d, both borrowed;
 * now_ms is the event's wall-clock time. d->attempts counts the attempts made including the one
 * r reports (the worker counts an attempt before recording it); it becomes the "attempt"
 * attribute (at least 1).
 *
 * The event carries the address in full (destination_phone_number, the email destination,
 * the device token): events are the customer's data, read by the customer. It never carries
 * any part of the message content except routing fields (origination number, sender id,
 * message type, from address): no Body, Subject, Title, Data or raw content, so one-time
 * passwords and message text never reach an event stream (Pinpoint's SMS events carry no
 * body either). */
json_t *rp_event_from_result(const struct rp_delivery *d, const struct rp_delivery_result *r,
                             int64_t now_ms);

/* The text of rp_event_from_result's event, the same bytes as rp_json_dump of it, written into
 * scratch (zeroed before first use, freed by the caller; the text stays valid until its next
 * use): *len its length; NULL when it cannot be serialised. A push result without Context or
 * channel attributes (every campaign push delivery) is written straight to text, without the
 * tree. */
struct rp_json_text;
const char *rp_event_text(struct rp_json_text *scratch, const struct rp_delivery *d,
                          const struct rp_delivery_result *r, int64_t now_ms, size_t *len);

/* Queues the XADD of d's event for r, like rp_events_append_pipelined, with rp_event_text: a
 * writer recording one event per delivery allocates nothing per event on the push path. */
int rp_events_append_result_pipelined(struct rp_json_text *scratch, const struct rp_delivery *d,
                                      const struct rp_delivery_result *r, int64_t now_ms);

/* Appends n events (borrowed) to rp:events in one pipelined round trip. Uses the calling
 * thread's store connection, so any thread may call it. Returns 0 or RP_ESTORE. */
int rp_events_append(json_t *const *events, size_t n);

/* Queues the XADD of one event (borrowed) on the calling thread's connection without reading
 * the reply, so a caller that pipelines other commands (the worker's writer batching XACKs)
 * sends events in the same round trip. Returns the number of replies it queued, which the
 * caller must read with rp_store_collect along with its own: 1, or 0 when the event could not
 * be serialised (logged, nothing queued). Never negative: when the connection is down the
 * append is counted all the same and rp_store_collect answers RP_ESTORE for the batch. */
int rp_events_append_pipelined(const json_t *event);

/* One append to a stream in this many (per thread) trims it to events.maxlen (MAXLEN ~). */
#define RP_EVENTS_TRIM_EVERY 128

/* Whether this thread's append to key (key_len bytes) is the one in RP_EVENTS_TRIM_EVERY that
 * carries the cap: counted per stream, so no order of appends to several streams (the
 * forwarder writes one destination per app) leaves one of them untrimmed for more than that
 * many of its own appends. Keys too long for the count's table carry it every time. */
int rp_events_trim_due(const char *key, size_t key_len);

/* Queues XADD key [MAXLEN ~ events.maxlen] * data <data> app <app> (all borrowed) on the calling
 * thread's connection: the entry format shared by rp:events and redis: destinations. The cap
 * goes with one of a thread's appends to key in RP_EVENTS_TRIM_EVERY, so a stream holds
 * events.maxlen plus at most that many per writing thread and a macro node
 * (stream-node-max-entries). Returns 0 (one reply to collect) or RP_ESTORE. */
int rp_events_xadd_pipelined(const char *key, const char *app, const char *data, size_t data_len);

/* The key holding an app's event stream settings (a string: JSON with DestinationStreamArn,
 * RoleArn, LastModifiedDate, LastUpdatedBy), under the app's own hash tag so DeleteApp's purge
 * removes it. out holds RP_KEY_MAX bytes; returns the length. */
int rp_events_settings_key(char *out, const char *app);
/* Keep RP_EVENTS_DEST_APPS listing every app with settings. The set and the settings hash to
 * different slots, so no transaction spans them: a Put writes the settings, then lists the app;
 * unlisting removes the app, then looks again and lists it back when settings exist (a
 * concurrent Put). Whatever the interleaving, an app with settings stays listed. 0 or
 * RP_ESTORE. */
int rp_events_list_app(const char *app);
int rp_events_unlist_app(const char *app);

enum rp_event_dest_kind { RP_EVENT_DEST_NONE = 0, RP_EVENT_DEST_WEBHOOK, RP_EVENT_DEST_REDIS };

struct rp_event_dest {
    enum rp_event_dest_kind kind;
    char target[RP_EVENTS_DEST_MAX + 1]; /* the URL, or the stream key without "redis:" */
};

/* Parses a DestinationStreamArn (borrowed) into dest. Returns 0, or RP_EINVAL with err naming
 * "DestinationStreamArn" and what Repoint accepts instead. */
int rp_events_dest_parse(const char *arn, struct rp_event_dest *dest, struct rp_err *err);

/* The configured cap of rp:events and of redis: destinations (events.maxlen). */
long long rp_events_maxlen(void);

#endif
