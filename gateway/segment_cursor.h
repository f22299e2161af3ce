/* Enumerating a segment's endpoints in batches with constant memory, restartable from a saved
 * position (what a campaign run needs to send to a segment, or an export job to write one).
 *
 *   struct rp_segment_cursor c;
 *   if (rp_segment_cursor_open(&c, app, segment_id, version) == 0) {   // segment NULL: all
 *       json_t *batch;                                                  // endpoints of the app
 *       while (!c.done && rp_segment_cursor_next(&c, 500, &batch) == 0) {
 *           ... each item of batch is a stored EndpointResponse ...
 *           json_decref(batch);
 *           rp_segment_cursor_position(&c, pos, sizeof(pos));   // save to resume later
 *       }
 *       rp_segment_cursor_close(&c);
 *   }
 *   ... later: open again, then rp_segment_cursor_seek(&c, pos) ...
 *
 * Imported segments walk their version's id set in id order (ZRANGEBYLEX), so each endpoint
 * comes once. Dimensional segments and "all endpoints" walk the app's endpoint shards with
 * SSCAN, testing each endpoint against the segment's dimensions and groups (segment_match.h);
 * SSCAN may return an endpoint twice when Redis resizes a shard's set during the walk, which a
 * consumer that must not repeat itself (a campaign) removes by endpoint id. Endpoints deleted
 * since the import are skipped. Batches may be empty before the end (a shard with no match). */
#ifndef RP_SEGMENT_CURSOR_H
#define RP_SEGMENT_CURSOR_H

#include <jansson.h>
#include <stddef.h>

#define RP_SEGMENT_CURSOR_POS_MAX 640

struct rp_segment_cursor {
    char app[128];
    json_t *segment; /* the SegmentResponse of the version walked, NULL for all endpoints */
    int imported;
    char members_key[512];
    /* Position. */
    unsigned shard;
    unsigned long long scan;
    char after[RP_SEGMENT_CURSOR_POS_MAX - 16];
    int done;
    /* Set by the caller after opening: when no endpoint needs testing against dimensions (all
     * endpoints, or an imported segment), batches hold each endpoint's stored JSON text as a
     * string instead of the parsed object; an export writes them as they are, without parsing
     * and serialising again. A dimensional segment still yields objects. */
    int texts;
    /* Optional, with texts: each stored text is read through it straight from the store's reply
     * (its object, when not NULL, is the batch's item) instead of copied into a string first. */
    json_t *(*read_text)(const char *text, size_t len);
};

/* Opens a cursor at the start. version 0: the latest. Returns 0, RP_ENOTFOUND or RP_ESTORE. */
int rp_segment_cursor_open(struct rp_segment_cursor *c, const char *app, const char *segment,
                           int version);
/* Fills *batch with a new array of up to max endpoints (EndpointResponse objects) and advances.
 * Returns 0 or RP_ESTORE (the position is unchanged: call again). c->done is set at the end. */
int rp_segment_cursor_next(struct rp_segment_cursor *c, size_t max, json_t **batch);
/* The position as a string, and back (RP_EINVAL for a string not made by this cursor). */
void rp_segment_cursor_position(const struct rp_segment_cursor *c, char *out, size_t size);
int rp_segment_cursor_seek(struct rp_segment_cursor *c, const char *position);
void rp_segment_cursor_close(struct rp_segment_cursor *c);

#endif
