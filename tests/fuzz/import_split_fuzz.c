/* Fuzzes cutting import files into pieces (gateway/import_split.c): the file (the input after
 * two control bytes: the format and the piece size) is cut, the pieces are read one after another
 * with fresh readers as import jobs read them (the CSV header first, line numbers carried over),
 * and they must deliver exactly the records, errors and line numbers of one reader of the whole
 * file. Cuts must tile the file and sit right after a line break. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "import_reader.h"
#include "import_split.h"

static int collect(void *ud, const json_t *req, const struct rp_err *err, long long line)
{
    json_t *out = ud;
    if (req)
        json_array_append_new(out, json_pack("{s:I, s:O}", "l", (json_int_t)line, "r", req));
    else
        json_array_append_new(out, json_pack("{s:I, s:s, s:s}", "l", (json_int_t)line, "e",
                                             err->field, "m", err->msg));
    return 0;
}

static void feed(struct rp_import_reader *r, const uint8_t *data, long long start, long long end)
{
    if (end > start)
        rp_import_reader_feed(r, (const char *)data + start, (size_t)(end - start));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum rp_import_format format = data[0] & 1 ? RP_IMPORT_JSON : RP_IMPORT_CSV;
    long long piece_bytes = 1 + data[1] % 64;
    data += 2;
    size -= 2;
    int fd = memfd_create("split", 0);
    if (fd < 0 || write(fd, data, size) != (ssize_t)size)
        abort();
    struct rp_import_cut *cuts;
    long long header_end;
    size_t n = rp_import_split_fd(fd, (long long)size, format, piece_bytes, &cuts, &header_end,
                                  NULL, NULL);
    close(fd);

    json_t *whole = json_array();
    struct rp_import_reader r;
    rp_import_reader_init(&r, format, collect, whole);
    feed(&r, data, 0, (long long)size);
    int whole_rc = rp_import_reader_finish(&r);
    rp_import_reader_cleanup(&r);

    json_t *pieces = json_array();
    long long at = 0;
    for (size_t k = 0; k < n; k++) {
        long long end = cuts[k].end < 0 ? (long long)size : cuts[k].end;
        if (cuts[k].start != at || end < at || (k + 1 < n) != (cuts[k].end >= 0))
            abort(); /* the pieces do not tile the file */
        if (k > 0 && (data[cuts[k].start - 1] != '\n' || whole_rc))
            abort(); /* a cut not after a line break, or in a file refused as a whole */
        at = end;
        rp_import_reader_init(&r, format, collect, pieces);
        if (k > 0) {
            if (format == RP_IMPORT_CSV) {
                r.scan_only = 1; /* the header only, as import_job.c reads it */
                feed(&r, data, 0, header_end);
                r.scan_only = 0;
            } else {
                r.sniffed = 1;
                r.bom_done = 1;
            }
            r.line = cuts[k].line;
        }
        feed(&r, data, cuts[k].start, end);
        rp_import_reader_finish(&r);
        rp_import_reader_cleanup(&r);
    }
    if (at != (long long)size || !json_equal(whole, pieces))
        abort();
    free(cuts);
    json_decref(whole);
    json_decref(pieces);
    return 0;
}
