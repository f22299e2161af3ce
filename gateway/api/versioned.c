#include "versioned.h"
#include "../rc.h"

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
