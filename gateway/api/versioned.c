#include "versioned.h"
#include "../rc.h"
#include "jobs_api.h"

#include <stdlib.h>
#include <string.h>

int rp_api_versioned_id_valid(const char *id)
{
    size_t n = strlen(id);
    return n > 0 && n <= 64 && strspn(id, "0123456789abcdefABCDEF-_") == n;
}

int rp_api_versioned_number(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);
    return *text && !*end && v >= 1 && v <= 1000000 ? (int)v : 0;
}

void rp_api_versioned_respond(struct rp_request *req, int status, json_t *doc, int rc,
                              const char *kind, const char *id)
{
    if (doc)
        rp_respond_json(req, status, doc);
    else if (rc == RP_ENOTFOUND)
        rp_respond_error(req, 404, "NotFoundException", "%s %.64s not found", kind, id);
    else if (rc == RP_ELIMIT)
        rp_respond_error(req, 400, "BadRequestException", "%s %.64s has too many versions",
                         kind, id);
    else
        rp_respond_unavailable(req);
}

void rp_api_versioned_get(struct rp_request *req, const char *kind, rp_api_versioned_get_fn get,
                          const char *version)
{
    const char *id = req->params[1];
    int v = version ? rp_api_versioned_number(version) : 0;
    int rc = RP_ENOTFOUND;
    json_t *doc = rp_api_versioned_id_valid(id) && (v || !version)
                      ? get(rp_request_app(req), id, v, &rc)
                      : NULL;
    rp_api_versioned_respond(req, 200, doc, rc, kind, id);
}

void rp_api_versioned_delete(struct rp_request *req, const char *kind,
                             rp_api_versioned_delete_fn remove)
{
    const char *id = req->params[1];
    int rc = RP_ENOTFOUND;
    json_t *doc = rp_api_versioned_id_valid(id) ? remove(rp_request_app(req), id, &rc) : NULL;
    rp_api_versioned_respond(req, 200, doc, rc, kind, id);
}

void rp_api_versioned_page(struct rp_request *req, const char *kind,
                           rp_api_versioned_page_fn list)
{
    const char *id = req->params[1];
    long page_size;
    char token[32];
    if (rp_api_page_params(req, &page_size, token, sizeof(token)))
        return;
    int rc = RP_ENOTFOUND;
    json_t *doc = rp_api_versioned_id_valid(id)
                      ? list(rp_request_app(req), id, page_size, token, &rc)
                      : NULL;
    rp_api_versioned_respond(req, 200, doc, rc, kind, id);
}
