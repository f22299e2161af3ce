/* The event forwarder: a background thread that reads rp:events through the consumer group
 * "forwarder" and delivers each app's events to the destination PutEventStream set (a webhook
 * or a Redis stream, see events.h). Events of an app without a destination are acknowledged
 * and left in rp:events, which is capped at events.maxlen.
 *
 * Delivery never waits on this thread: it has its own Redis connection and its own HTTP
 * client, and delivery workers only append to rp:events. Any number of instances share the
 * work through the consumer group; entries a crashed instance left pending are claimed by the
 * others (XAUTOCLAIM) after a minute.
 *
 * A destination that fails (non-2xx, timeout, unreachable, a Redis error) keeps its events
 * pending, unacknowledged, and is retried with exponential backoff from 1 s up to 1 minute,
 * while other apps' events flow on. At-least-once: a webhook may see a batch twice (after a
 * timeout that hid a success, or a restart), and should use attributes.message_id with
 * event_type to recognise repeats. */
#ifndef RP_EVENT_FORWARDER_H
#define RP_EVENT_FORWARDER_H

/* Starts the thread (once per process; later calls do nothing). Returns 0 or RP_EIO. */
int rp_event_forwarder_start(void);
/* Stops and joins the thread; an HTTP post in progress is aborted (its batch stays pending).
 * Safe to call when not started. */
void rp_event_forwarder_stop(void);

#endif
