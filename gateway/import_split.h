/* Cutting one large import file into pieces that job runners import in parallel (jobs.h).
 *
 * A cut is only made where a fresh reader (import_reader.h), given the file's CSV header and then
 * the bytes after the cut, reads exactly what one reader of the whole file would: after a line
 * break that ends a record. For newline-delimited JSON that is every line break; for CSV a scan
 * of the file with the reader itself finds them, since a quoted field may hold line breaks
 * (lines without a quote, met between records, are skipped without parsing, so a file with few
 * quotes is scanned at the speed of memchr). */
#ifndef RP_IMPORT_SPLIT_H
#define RP_IMPORT_SPLIT_H

#include <stddef.h>

#include "import_reader.h"

/* Bytes [start, end) of a file (end < 0: to its end), whose first record starts on line. */
struct rp_import_cut {
    long long start, end, line;
};

/* No file is cut into more pieces than this: larger files get larger pieces. */
#define RP_IMPORT_MAX_PIECES_PER_FILE 1024

/* Scans an open file of about size bytes and cuts it into pieces of at least piece_bytes.
 * Returns the number of pieces (*cuts: rp_malloc'd, the last one ending at -1), and in
 * *header_end where the CSV header ends (0 for JSON). A file that is too small, compressed, has a
 * bad header or cannot be read stays one piece [0, -1). progress (may be NULL) is called with ud
 * every RP_IMPORT_SPLIT_PROGRESS_BYTES scanned (a job renews its lease there). */
#define RP_IMPORT_SPLIT_PROGRESS_BYTES (64ll << 20)
size_t rp_import_split_fd(int fd, long long size, enum rp_import_format format,
                          long long piece_bytes, struct rp_import_cut **cuts,
                          long long *header_end, void (*progress)(void *ud), void *ud);

#endif
