/* Import and export jobs: CreateImportJob, GetImportJob, GetImportJobs, GetSegmentImportJobs,
 * CreateExportJob, GetExportJob, GetExportJobs, GetSegmentExportJobs. Creating an import lists
 * its objects at once (so a missing location, an empty one or one over import.max_bytes is a
 * 4xx now, not a failed job later); the job runner threads (gateway/jobs.h) do the rest. */
#include "jobs_api.h"
#include "config.h"
#include "job_location.h"
#include "jobs.h"
#include "jsonv.h"
#include "keyspace.h"
#include "rc.h"
#include "segments.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_OBJECTS 10000

int rp_api_page_params(struct rp_request *req, long *page_size, char *token, size_t token_size)
{
    char size_s[16] = "";
    token[0] = '\0';
    if (rp_request_query(req, "page-size", size_s, sizeof(size_s)) < 0 ||
        rp_request_query(req, "token", token, token_size) < 0)
        return -1;
    *page_size = 100;
    if (size_s[0]) {
        char *end;
        *page_size = strtol(size_s, &end, 10);
        if (*end || *page_size < 1 || *page_size > 1000) {
            rp_respond_error(req, 400, "BadRequestException",
                             "page-size: must be an integer between 1 and 1000");
            return -1;
        }
    }
    if (token[0] && strspn(token, "0123456789") != strlen(token)) {
        rp_respond_error(req, 400, "BadRequestException", "token: not a token Repoint issued");
        return -1;
    }
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

static int compressed_name(const char *key)
{
    static const char *const exts[] = {".gz", ".gzip", ".zip", ".bz2", ".xz", ".zst", ".7z",
                                       ".tgz", ".z", ".lz4", ".br"};
    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
        if (ends_with(key, exts[i]))
            return 1;
    return 0;
}

static int json_name(const char *key)
{
    return ends_with(key, ".json") || ends_with(key, ".ndjson") || ends_with(key, ".jsonl");
}

struct listing {
    int csv;
    json_t *objects;
    long long bytes;
    int too_many;
};

/* Keeps objects of the job's format (and compressed ones, which fail their piece with a
 * Failures entry); objects of the other format are skipped, as the guide says. Folder markers
 * ("key/") are not objects. */
static int on_object(void *ud, const char *key, int64_t size)
{
    struct listing *l = ud;
    size_t n = strlen(key);
    if (n && key[n - 1] == '/')
        return 0;
    int compressed = compressed_name(key);
    if (!compressed && (l->csv ? json_name(key) : ends_with(key, ".csv")))
        return 0;
    if (json_array_size(l->objects) >= MAX_OBJECTS) {
        l->too_many = 1;
        return 1;
    }
    json_array_append_new(l->objects, compressed ? json_pack("[s, I, s]", key, (json_int_t)size,
                                                             "compressed")
                                                 : json_pack("[s, I]", key, (json_int_t)size));
    if (!compressed)
        l->bytes += size;
    return 0;
}

static void respond_store(struct rp_request *req)
{
    rp_respond_unavailable(req);
}

/* Answers a listing failure: what S3 said is the client's business (403/404 are its bucket). */
static void respond_location_error(struct rp_request *req, int rc, const struct rp_err *err)
{
    if (rc == RP_EFORBIDDEN || rc == RP_ENOTFOUND)
        rp_respond_error(req, 400, "BadRequestException", "S3Url: %s", err->msg);
    else
        rp_respond_error(req, 500, "InternalServerErrorException",
                         "the import location could not be listed: %s", err->msg);
}

void rp_api_create_import_job(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    const char *url = NULL, *role = NULL, *format = NULL, *ext = NULL, *seg_id = NULL,
               *seg_name = NULL;
    int define = 0, reg = 1;
    if (rp_jsonv_string(body, "", "S3Url", 2048, &url, &err) < 0 ||
        rp_jsonv_string(body, "", "RoleArn", 2048, &role, &err) < 0 ||
        rp_jsonv_enum(body, "", "Format", "CSV|JSON", &format, &err) < 0 ||
        rp_jsonv_string(body, "", "ExternalId", 1024, &ext, &err) < 0 ||
        rp_jsonv_string(body, "", "SegmentId", 64, &seg_id, &err) < 0 ||
        rp_jsonv_string(body, "", "SegmentName", 1024, &seg_name, &err) < 0 ||
        rp_jsonv_bool(body, "", "DefineSegment", &define, &err) < 0 ||
        rp_jsonv_bool(body, "", "RegisterEndpoints", &reg, &err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    if (!url || !format || !role) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException", "%s: is required",
                         !url ? "S3Url" : !format ? "Format" : "RoleArn");
        return;
    }
    if (define && !seg_id && (!seg_name || !*seg_name)) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException",
                         "SegmentName: is required when DefineSegment is true");
        return;
    }
    const struct rp_config *cfg = rp_ctx.cfg;
    struct rp_location loc;
    if (rp_location_open(&loc, url, rp_config_str(cfg, "import.file_root"), 0, "S3Url", &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    struct listing l = {.csv = strcmp(format, "CSV") == 0, .objects = json_array()};
    int rc = rp_location_list(&loc, on_object, &l, &err);
    rp_location_close(&loc);
    if (rc) {
        json_decref(l.objects);
        json_decref(body);
        respond_location_error(req, rc, &err);
        return;
    }
    long long max_bytes = rp_config_int(cfg, "import.max_bytes");
    if (l.too_many || l.bytes > max_bytes || json_array_size(l.objects) == 0) {
        if (json_array_size(l.objects) == 0)
            rp_respond_error(req, 400, "BadRequestException",
                             "S3Url: no %s objects found at %.200s", format, url);
        else if (l.too_many)
            rp_respond_error(req, 413, "PayloadTooLargeException",
                             "S3Url: more than %d objects to import", MAX_OBJECTS);
        else
            rp_respond_error(req, 413, "PayloadTooLargeException",
                             "S3Url: %lld bytes to import; an import job takes at most %lld "
                             "(import.max_bytes)",
                             l.bytes, max_bytes);
        json_decref(l.objects);
        json_decref(body);
        return;
    }
    /* The Definition echoes the request, with the segment the job fills. */
    json_t *def = json_pack("{s:b, s:s, s:s, s:b, s:s, s:s}", "DefineSegment", define,
                            "ExternalId", ext ? ext : "", "Format", format, "RegisterEndpoints",
                            reg, "RoleArn", role, "S3Url", url);
    json_t *segment = NULL;
    if (define || seg_id) {
        json_t *imp = json_pack("{s:{}, s:s, s:s, s:s, s:s, s:i}", "ChannelCounts", "ExternalId",
                                ext ? ext : "", "Format", format, "RoleArn", role, "S3Url", url,
                                "Size", 0);
        if (seg_id) {
            json_t *named = seg_name ? json_pack("{s:s}", "Name", seg_name) : NULL;
            segment = rp_segment_new_version(app, seg_id, named, imp, &rc);
            json_decref(named);
        } else {
            json_t *named = json_pack("{s:s}", "Name", seg_name);
            segment = rp_segment_create(app, named, imp);
            json_decref(named);
            rc = segment ? 0 : RP_ESTORE;
        }
        json_decref(imp);
        if (!segment) {
            if (rc == RP_ENOTFOUND)
                rp_respond_error(req, 404, "NotFoundException", "Segment %.64s not found",
                                 seg_id);
            else
                respond_store(req);
            json_decref(def);
            json_decref(l.objects);
            json_decref(body);
            return;
        }
        json_object_set(def, "SegmentId", json_object_get(segment, "Id"));
        json_object_set(def, "SegmentName", json_object_get(segment, "Name"));
    }
    char id[33];
    rc = rp_job_create(app, RP_JOB_IMPORT, def, l.objects, (int)json_array_size(l.objects),
                       segment ? json_string_value(json_object_get(segment, "Id")) : NULL,
                       rp_config_int(cfg, "import.concurrent_jobs"), id,
                       segment ? (int)json_integer_value(json_object_get(segment, "Version"))
                               : 0);
    json_decref(segment);
    json_decref(def);
    json_decref(l.objects);
    json_decref(body);
    if (rc == RP_ELIMIT) {
        rp_respond_error(req, 429, "TooManyRequestsException",
                         "the application already runs %lld import jobs "
                         "(import.concurrent_jobs); retry when one has finished",
                         rp_config_int(cfg, "import.concurrent_jobs"));
        return;
    }
    if (rc) {
        respond_store(req);
        return;
    }
    json_t *resp = rp_job_response(app, id, RP_JOB_IMPORT, &rc);
    if (!resp)
        respond_store(req);
    else
        rp_respond_json(req, 201, resp);
}

static void get_job(struct rp_request *req, enum rp_job_type type)
{
    const char *id = req->params[1];
    if (!id[0] || strlen(id) > 64 || strspn(id, "0123456789abcdef") != strlen(id)) {
        rp_respond_error(req, 404, "NotFoundException", "Job %.64s not found", id);
        return;
    }
    int rc;
    json_t *resp = rp_job_response(rp_request_app(req), id, type, &rc);
    if (resp)
        rp_respond_json(req, 200, resp);
    else if (rc == RP_ENOTFOUND)
        rp_respond_error(req, 404, "NotFoundException", "Job %.64s not found", id);
    else
        respond_store(req);
}

static void list_jobs(struct rp_request *req, enum rp_job_type type, const char *segment)
{
    long page_size;
    char token[32];
    if (rp_api_page_params(req, &page_size, token, sizeof(token)))
        return;
    if (segment) {
        int rc;
        json_t *seg = rp_segment_get(rp_request_app(req), segment, 0, &rc);
        if (!seg) {
            if (rc == RP_ENOTFOUND)
                rp_respond_error(req, 404, "NotFoundException", "Segment %.64s not found",
                                 segment);
            else
                respond_store(req);
            return;
        }
        json_decref(seg);
    }
    json_t *resp = rp_job_list(rp_request_app(req), type, segment, page_size, token);
    if (resp)
        rp_respond_json(req, 200, resp);
    else
        respond_store(req);
}

void rp_api_get_import_job(struct rp_request *req)
{
    get_job(req, RP_JOB_IMPORT);
}

void rp_api_get_import_jobs(struct rp_request *req)
{
    list_jobs(req, RP_JOB_IMPORT, NULL);
}

void rp_api_get_segment_import_jobs(struct rp_request *req)
{
    list_jobs(req, RP_JOB_IMPORT, req->params[1]);
}

void rp_api_get_export_job(struct rp_request *req)
{
    get_job(req, RP_JOB_EXPORT);
}

void rp_api_get_export_jobs(struct rp_request *req)
{
    list_jobs(req, RP_JOB_EXPORT, NULL);
}

void rp_api_get_segment_export_jobs(struct rp_request *req)
{
    list_jobs(req, RP_JOB_EXPORT, req->params[1]);
}

void rp_api_create_export_job(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_err err;
    rp_err_clear(&err);
    const char *url = NULL, *role = NULL, *seg_id = NULL;
    long long version = 0;
    if (rp_jsonv_string(body, "", "S3UrlPrefix", 2048, &url, &err) < 0 ||
        rp_jsonv_string(body, "", "RoleArn", 2048, &role, &err) < 0 ||
        rp_jsonv_string(body, "", "SegmentId", 64, &seg_id, &err) < 0 ||
        rp_jsonv_int(body, "", "SegmentVersion", 1, 1000000, &version, &err) < 0) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    if (!url || !role) {
        json_decref(body);
        rp_respond_error(req, 400, "BadRequestException", "%s: is required",
                         !url ? "S3UrlPrefix" : "RoleArn");
        return;
    }
    struct rp_location loc;
    if (rp_location_open(&loc, url, rp_config_str(rp_ctx.cfg, "export.file_root"), 1,
                         "S3UrlPrefix", &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    rp_location_close(&loc);
    int pieces = RP_ENDPOINT_SHARDS, rc;
    if (seg_id) {
        json_t *seg = rp_segment_get(app, seg_id, (int)version, &rc);
        if (!seg) {
            json_decref(body);
            if (rc == RP_ENOTFOUND)
                rp_respond_error(req, 404, "NotFoundException", "Segment %.64s version %lld not found",
                                 seg_id, version);
            else
                respond_store(req);
            return;
        }
        const char *type = json_string_value(json_object_get(seg, "SegmentType"));
        if (type && strcmp(type, "IMPORT") == 0)
            pieces = 1;
        json_decref(seg);
    }
    json_t *def = json_pack("{s:s, s:s}", "RoleArn", role, "S3UrlPrefix", url);
    if (seg_id)
        json_object_set_new(def, "SegmentId", json_string(seg_id));
    if (version)
        json_object_set_new(def, "SegmentVersion", json_integer(version));
    char id[33];
    rc = rp_job_create(app, RP_JOB_EXPORT, def, NULL, pieces, seg_id, 0, id, 0);
    json_decref(def);
    json_decref(body);
    if (rc) {
        respond_store(req);
        return;
    }
    json_t *resp = rp_job_response(app, id, RP_JOB_EXPORT, &rc);
    if (!resp)
        respond_store(req);
    else
        rp_respond_json(req, 202, resp);
}
