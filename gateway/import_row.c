/* Import rows -> endpoint requests (import_row.h). */
#include "import_row.h"
#include "endpoint.h"
#include "rc.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The fixed attributes of the guide's table; Attributes.*, Metrics.* and User.UserAttributes.*
 * take any custom name. */
static const struct {
    const char *path;
    enum rp_import_kind kind;
} fixed[] = {
    {"Address", RP_IMPORT_STRING},
    {"ChannelType", RP_IMPORT_STRING},
    {"Demographic.AppVersion", RP_IMPORT_STRING},
    {"Demographic.Locale", RP_IMPORT_STRING},
    {"Demographic.Make", RP_IMPORT_STRING},
    {"Demographic.Model", RP_IMPORT_STRING},
    {"Demographic.ModelVersion", RP_IMPORT_STRING},
    {"Demographic.Platform", RP_IMPORT_STRING},
    {"Demographic.PlatformVersion", RP_IMPORT_STRING},
    {"Demographic.Timezone", RP_IMPORT_STRING},
    {"EffectiveDate", RP_IMPORT_STRING},
    {"EndpointStatus", RP_IMPORT_STRING},
    {"Id", RP_IMPORT_STRING},
    {"Location.City", RP_IMPORT_STRING},
    {"Location.Country", RP_IMPORT_STRING},
    {"Location.Latitude", RP_IMPORT_NUMBER},
    {"Location.Longitude", RP_IMPORT_NUMBER},
    {"Location.PostalCode", RP_IMPORT_STRING},
    {"Location.Region", RP_IMPORT_STRING},
    {"OptOut", RP_IMPORT_STRING},
    {"RequestId", RP_IMPORT_STRING},
    {"User.UserId", RP_IMPORT_STRING},
};

static const struct {
    const char *prefix;
    enum rp_import_kind kind;
} custom[] = {
    {"Attributes.", RP_IMPORT_LIST},
    {"Metrics.", RP_IMPORT_METRIC},
    {"User.UserAttributes.", RP_IMPORT_LIST},
};

void rp_import_column_cleanup(struct rp_import_column *col)
{
    for (int i = 0; i < 3; i++) {
        free(col->path[i]);
        col->path[i] = NULL;
    }
    col->depth = 0;
}

/* Splits a known path at its dots into col. */
static void split_path(const char *name, size_t len, struct rp_import_column *col)
{
    size_t start = 0;
    col->depth = 0;
    for (size_t i = 0; i <= len && col->depth < 3; i++)
        if (i == len || name[i] == '.') {
            col->path[col->depth++] = rp_strndup(name + start, i - start);
            start = i + 1;
        }
}

int rp_import_path_parse(const char *name, size_t len, struct rp_import_column *col,
                         struct rp_err *err)
{
    memset(col, 0, sizeof(*col));
    char shown[64];
    size_t cut = len < 60 ? len : 60;
    while (cut && cut < len && ((unsigned char)name[cut] & 0xC0) == 0x80)
        cut--; /* not inside a UTF-8 sequence */
    snprintf(shown, sizeof(shown), "%.*s", (int)cut, name);
    if (!rp_utf8_valid(name, len) || memchr(name, '\0', len))
        return rp_err_set(err, RP_EINVAL, "header", "an attribute name is not valid UTF-8");
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strlen(fixed[i].path) == len && memcmp(fixed[i].path, name, len) == 0) {
            split_path(name, len, col);
            col->kind = fixed[i].kind;
            return 0;
        }
    for (size_t i = 0; i < sizeof(custom) / sizeof(custom[0]); i++) {
        size_t plen = strlen(custom[i].prefix);
        if (len < plen || memcmp(custom[i].prefix, name, plen) != 0)
            continue;
        size_t rest = len - plen;
        if (rest == 0 || rest > RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN)
            return rp_err_set(err, RP_EINVAL, "header",
                              "%s: a custom attribute name must have 1 to %d characters", shown,
                              RP_ENDPOINT_MAX_ATTRIBUTE_NAME_LEN);
        col->depth = 0;
        size_t start = 0;
        for (size_t j = 0; j < plen; j++)
            if (custom[i].prefix[j] == '.') {
                col->path[col->depth++] = rp_strndup(custom[i].prefix + start, j - start);
                start = j + 1;
            }
        col->path[col->depth++] = rp_strndup(name + plen, rest);
        col->kind = custom[i].kind;
        return 0;
    }
    return rp_err_set(err, RP_EINVAL, "header",
                      "%s is not an endpoint attribute that can be imported", shown);
}

void rp_import_header_cleanup(struct rp_import_header *h)
{
    for (size_t i = 0; i < h->n; i++)
        rp_import_column_cleanup(&h->cols[i]);
    free(h->cols);
    h->cols = NULL;
    h->n = 0;
}

static bool same_column(const struct rp_import_column *a, const struct rp_import_column *b)
{
    if (a->depth != b->depth)
        return false;
    for (int i = 0; i < a->depth; i++)
        if (strcmp(a->path[i], b->path[i]) != 0)
            return false;
    return true;
}

int rp_import_header_parse(const char *const *fields, const size_t *lens, size_t n,
                           struct rp_import_header *h, struct rp_err *err)
{
    h->n = 0;
    h->cols = rp_calloc(n ? n : 1, sizeof(*h->cols));
    for (size_t i = 0; i < n; i++) {
        if (rp_import_path_parse(fields[i], lens[i], &h->cols[i], err)) {
            rp_import_header_cleanup(h);
            return RP_EINVAL;
        }
        h->n = i + 1;
        for (size_t j = 0; j < i; j++)
            if (same_column(&h->cols[j], &h->cols[i])) {
                rp_err_set(err, RP_EINVAL, "header", "a column is named twice");
                rp_import_header_cleanup(h);
                return RP_EINVAL;
            }
    }
    return 0;
}

/* The object at path[0..depth-1) under req, created as needed. */
static json_t *parent_of(json_t *req, const struct rp_import_column *col)
{
    json_t *obj = req;
    for (int i = 0; i + 1 < col->depth; i++) {
        json_t *next = json_object_get(obj, col->path[i]);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new_nocheck(obj, col->path[i], next); /* header names: UTF-8 */
        }
        obj = next;
    }
    return obj;
}

/* A number as the CSV spells it: the whole field, finite. */
static bool parse_number(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof(buf))
        return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (*end || errno || !isfinite(d) || buf[0] == ' ')
        return false;
    *out = d;
    return true;
}

/* "Location.Country" for error messages. */
static void column_name(const struct rp_import_column *col, char *out, size_t size)
{
    out[0] = '\0';
    for (int i = 0; i < col->depth; i++) {
        size_t used = strlen(out);
        snprintf(out + used, size - used, "%s%s", i ? "." : "", col->path[i]);
    }
}

json_t *rp_import_csv_record(const struct rp_import_header *h, const char *const *fields,
                             const size_t *lens, size_t n, struct rp_err *err)
{
    if (n != h->n) {
        rp_err_set(err, RP_EINVAL, "record", "has %zu fields where the header has %zu", n, h->n);
        return NULL;
    }
    json_t *req = json_object();
    for (size_t i = 0; i < n; i++) {
        const struct rp_import_column *col = &h->cols[i];
        char name[128]; /* the column, named only for an error */
        if (lens[i] == 0)
            continue;
        if (!rp_utf8_valid(fields[i], lens[i]) || memchr(fields[i], '\0', lens[i])) {
            column_name(col, name, sizeof(name));
            rp_err_set(err, RP_EINVAL, name, "is not valid UTF-8");
            json_decref(req);
            return NULL;
        }
        json_t *value;
        double d;
        switch (col->kind) {
        case RP_IMPORT_NUMBER:
        case RP_IMPORT_METRIC:
            if (!parse_number(fields[i], lens[i], &d)) {
                column_name(col, name, sizeof(name));
                rp_err_set(err, RP_EINVAL, name, "must be a number");
                json_decref(req);
                return NULL;
            }
            value = json_real(d);
            break;
        case RP_IMPORT_LIST:
            value = json_array();
            json_array_append_new(value, json_stringn_nocheck(fields[i], lens[i]));
            break;
        default:
            value = json_stringn_nocheck(fields[i], lens[i]); /* UTF-8 checked above */
            break;
        }
        json_object_set_new_nocheck(parent_of(req, col), col->path[col->depth - 1], value);
    }
    if (rp_import_request_validate(req, err)) {
        json_decref(req);
        return NULL;
    }
    return req;
}

json_t *rp_import_json_line(const char *line, size_t len, struct rp_err *err)
{
    if (len && line[len - 1] == '\r')
        len--;
    json_error_t jerr;
    json_t *req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!req) {
        rp_err_set(err, RP_EINVAL, "line", "is not valid JSON: %.120s (column %d)", jerr.text,
                   jerr.column);
        return NULL;
    }
    if (rp_import_request_validate(req, err)) {
        json_decref(req);
        return NULL;
    }
    return req;
}

int rp_import_request_validate(const json_t *req, struct rp_err *err)
{
    int rc = rp_endpoint_validate(req, RP_ENDPOINT_IMPORT_ROW, err);
    if (rc)
        return rc;
    const json_t *id = json_object_get(req, "Id");
    if (id && !json_is_null(id)) {
        if (!json_is_string(id))
            return rp_err_set(err, RP_EINVAL, "Id", "must be a string");
        return rp_endpoint_id_validate(json_string_value(id), "Id", err);
    }
    return 0;
}
