/* Segments: CreateSegment, GetSegments, GetSegment, UpdateSegment, DeleteSegment,
 * GetSegmentVersions, GetSegmentVersion (gateway/segments.h holds the records). */
#include "versioned.h"
#include "jobs_api.h"
#include "rc.h"
#include "segments.h"

#include <stdlib.h>
#include <string.h>

static int valid_id(const char *id)
{
    return rp_api_versioned_id_valid(id);
}

static void respond(struct rp_request *req, int status, json_t *doc, int rc, const char *id)
{
    rp_api_versioned_respond(req, status, doc, rc, "Segment", id);
}

/* Reads and validates a WriteSegmentRequest; answers 400 itself. */
static json_t *segment_body(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return NULL;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_segment_request_validate(body, &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return NULL;
    }
    return body;
}

void rp_api_create_segment(struct rp_request *req)
{
    json_t *body = segment_body(req);
    if (!body)
        return;
    json_t *doc = rp_segment_create(rp_request_app(req), body, NULL);
    json_decref(body);
    respond(req, 201, doc, RP_ESTORE, "");
}

void rp_api_get_segments(struct rp_request *req)
{
    long page_size;
    char token[32];
    if (rp_api_page_params(req, &page_size, token, sizeof(token)))
        return;
    int rc;
    json_t *doc = rp_segment_list(rp_request_app(req), page_size, token, &rc);
    respond(req, 200, doc, rc, "");
}

void rp_api_get_segment(struct rp_request *req)
{
    rp_api_versioned_get(req, "Segment", rp_segment_get, NULL);
}

void rp_api_update_segment(struct rp_request *req)
{
    const char *id = req->params[1];
    if (!valid_id(id)) {
        respond(req, 200, NULL, RP_ENOTFOUND, id);
        return;
    }
    json_t *body = segment_body(req);
    if (!body)
        return;
    int rc;
    json_t *doc = rp_segment_new_version(rp_request_app(req), id, body, NULL, &rc);
    json_decref(body);
    respond(req, 200, doc, rc, id);
}

void rp_api_delete_segment(struct rp_request *req)
{
    rp_api_versioned_delete(req, "Segment", rp_segment_delete);
}

void rp_api_get_segment_versions(struct rp_request *req)
{
    rp_api_versioned_page(req, "Segment", rp_segment_versions);
}

void rp_api_get_segment_version(struct rp_request *req)
{
    rp_api_versioned_get(req, "Segment", rp_segment_get, req->params[2]);
}
