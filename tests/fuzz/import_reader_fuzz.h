/* The body shared by the import reader fuzz targets (import_csv_fuzz.c, import_json_fuzz.c):
 * each defines IMPORT_FUZZ_FORMAT and includes this. The input is fed twice, whole and in chunks
 * whose sizes come from the first byte, and both runs must deliver the same records: chunk
 * boundaries are invisible to a reader. Every request delivered must validate again. */
#ifndef IMPORT_FUZZ_FORMAT
#error "define IMPORT_FUZZ_FORMAT (RP_IMPORT_CSV or RP_IMPORT_JSON) before including this"
#endif

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import_reader.h"
#include "import_row.h"

static int collect(void *ud, const json_t *req, const struct rp_err *err, long long line)
{
    json_t *out = ud;
    if (req) {
        struct rp_err again;
        if (rp_import_request_validate(req, &again))
            abort(); /* the reader delivered a request that does not validate */
        json_array_append_new(out, json_pack("{s:I, s:O}", "l", (json_int_t)line, "r", req));
    } else {
        json_array_append_new(out, json_pack("{s:I, s:s}", "l", (json_int_t)line, "e", err->field));
    }
    return 0;
}

static json_t *run(const uint8_t *data, size_t size, size_t chunk)
{
    json_t *out = json_array();
    struct rp_import_reader r;
    rp_import_reader_init(&r, IMPORT_FUZZ_FORMAT, collect, out);
    int rc = 0;
    for (size_t off = 0; off < size && rc == 0;) {
        size_t n = chunk && size - off > chunk ? chunk : size - off;
        rc = rp_import_reader_feed(&r, (const char *)data + off, n);
        off += n;
    }
    if (rc == 0)
        rc = rp_import_reader_finish(&r);
    json_array_append_new(out, json_integer(rc));
    rp_import_reader_cleanup(&r);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t chunk = (size_t)data[0] % 17 + 1;
    data++;
    size--;
    json_t *whole = run(data, size, 0);
    json_t *parts = run(data, size, chunk);
    if (!json_equal(whole, parts))
        abort();
    json_decref(whole);
    json_decref(parts);
    return 0;
}
