/* Import file rows -> EndpointRequest objects: the CSV header's attribute paths in dot notation
 * (guide-importing-segments.txt, "Available Attributes"), CSV records and newline-delimited JSON
 * lines, each validated as an endpoint request. Pure functions: no I/O, no store. */
#ifndef RP_IMPORT_ROW_H
#define RP_IMPORT_ROW_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "err.h"

/* What a column holds once parsed. */
enum rp_import_kind {
    RP_IMPORT_STRING, /* a string member: Address, Demographic.Make, User.UserId ... */
    RP_IMPORT_NUMBER, /* Location.Latitude / Location.Longitude */
    RP_IMPORT_METRIC, /* Metrics.<name>: a number */
    RP_IMPORT_LIST,   /* Attributes.<name>, User.UserAttributes.<name>: an array of strings */
};

struct rp_import_column {
    char *path[3]; /* member names from the top of the request, owned */
    int depth;
    enum rp_import_kind kind;
};

struct rp_import_header {
    size_t n;
    struct rp_import_column *cols; /* owned */
};

/* Parses one attribute path ("Location.Country", "Attributes.team") into col (owned strings;
 * release with rp_import_header_cleanup or rp_import_column_cleanup). Returns 0, or RP_EINVAL
 * with err naming the path when it is not an attribute the guide lists or a custom name is empty
 * or longer than Pinpoint allows. */
int rp_import_path_parse(const char *name, size_t len, struct rp_import_column *col,
                         struct rp_err *err);
void rp_import_column_cleanup(struct rp_import_column *col);

/* Parses a CSV header record (n fields). A column named twice is refused. */
int rp_import_header_parse(const char *const *fields, const size_t *lens, size_t n,
                           struct rp_import_header *h, struct rp_err *err);
void rp_import_header_cleanup(struct rp_import_header *h);

/* Builds the request of one CSV record. An empty field leaves its attribute out. A record with
 * a different field count than the header is refused. Returns a new object validated by
 * rp_import_request_validate, or NULL with err set. */
json_t *rp_import_csv_record(const struct rp_import_header *h, const char *const *fields,
                             const size_t *lens, size_t n, struct rp_err *err);

/* Parses one line of a newline-delimited JSON file (a trailing '\r' is allowed) into a validated
 * request, or NULL with err set. */
json_t *rp_import_json_line(const char *line, size_t len, struct rp_err *err);

/* Validates a request as an import row (RP_ENDPOINT_IMPORT_ROW: an Address is not checked
 * against its channel's format), plus an optional Id member
 * (rp_endpoint_id_validate). Returns 0 or RP_EINVAL. */
int rp_import_request_validate(const json_t *req, struct rp_err *err);

#endif
