/* Fuzzes the CSV header's attribute-path parser (gateway/import_row.c): any bytes as a header
 * field, and a whole header line split at commas. A parsed path must name a member chain of 1-3
 * non-empty names. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "import_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rp_import_column col;
    struct rp_err err;
    if (rp_import_path_parse((const char *)data, size, &col, &err) == 0) {
        if (col.depth < 1 || col.depth > 3)
            abort();
        for (int i = 0; i < col.depth; i++)
            if (!col.path[i] || !col.path[i][0])
                abort();
        rp_import_column_cleanup(&col);
    }
    const char *fields[64];
    size_t lens[64], n = 0, start = 0;
    for (size_t i = 0; i <= size && n < 64; i++)
        if (i == size || data[i] == ',') {
            fields[n] = (const char *)data + start;
            lens[n++] = i - start;
            start = i + 1;
        }
    struct rp_import_header h;
    if (rp_import_header_parse(fields, lens, n, &h, &err) == 0)
        rp_import_header_cleanup(&h);
    return 0;
}
