/* Streaming readers of import files: bytes in, endpoint requests out, one callback per record,
 * with constant memory whatever the file size (a record is bounded by RP_IMPORT_RECORD_MAX).
 * CSV goes through libcsv (RFC 4180: quoted fields with commas, quotes and line breaks; spaces
 * kept as data); JSON is newline-delimited. A UTF-8 byte order mark is skipped; a file that
 * starts like gzip, zip, bzip2, xz or zstd is refused as compressed. No I/O, no store: the job
 * code feeds it, the fuzz targets too. */
#ifndef RP_IMPORT_READER_H
#define RP_IMPORT_READER_H

#include <csv.h>
#include <jansson.h>
#include <stddef.h>

#include "err.h"
#include "import_row.h"

#define RP_IMPORT_RECORD_MAX (1u << 20) /* bytes per record or line */
#define RP_IMPORT_FIELDS_MAX 1024
#define RP_IMPORT_SNIFF_BYTES 6

enum rp_import_format { RP_IMPORT_CSV, RP_IMPORT_JSON };

/* One record: req is the validated request (borrowed for the call) or NULL with err saying why
 * the record was refused; line is where the record starts (1-based, the header is line 1 of a
 * CSV file). Return non-zero to stop reading. */
typedef int (*rp_import_record_fn)(void *ud, const json_t *req, const struct rp_err *err,
                                   long long line);

struct rp_import_reader {
    enum rp_import_format format;
    rp_import_record_fn fn;
    void *ud;
    struct rp_err fatal; /* set when the whole file is refused */
    int failed, stopped;
    int scan_only; /* CSV: parse the header, deliver nothing, only find where records end
                    * (import_split.h; a piece reads its file's header so) */
    long long line, record_line;
    size_t seen;
    int bom_matched, bom_done;
    unsigned char head[RP_IMPORT_SNIFF_BYTES];
    size_t head_len;
    int sniffed;
    /* CSV */
    struct csv_parser csv;
    int csv_open, have_header;
    struct rp_import_header header;
    char *fbuf; /* the current record's fields, back to back */
    size_t flen, fcap, record_bytes;
    size_t *offs, *lens, nf;
    int record_too_big;
    /* JSON */
    char *lbuf;
    size_t llen, lcap;
    int line_too_long;
};

void rp_import_reader_init(struct rp_import_reader *r, enum rp_import_format format,
                           rp_import_record_fn fn, void *ud);
/* Feeds bytes. Returns 0, or RP_EINVAL when the file is refused as a whole (r->fatal says why:
 * compressed, a bad CSV header) or reading was stopped by the callback. */
int rp_import_reader_feed(struct rp_import_reader *r, const char *data, size_t len);
/* Ends the file: the last record without a line break is delivered. Same returns. */
int rp_import_reader_finish(struct rp_import_reader *r);
void rp_import_reader_cleanup(struct rp_import_reader *r);

/* True when the bytes fed so far end exactly after a record (and after the CSV header): a
 * fresh reader given the header and then the bytes that follow reads the rest of the file
 * exactly as this one would. That is where a file may be cut into pieces. */
int rp_import_reader_between_records(const struct rp_import_reader *r);

/* True when the first bytes of a file look compressed (gzip, zip, bzip2, xz, zstd, 7z). */
int rp_import_looks_compressed(const unsigned char *p, size_t len);

#endif
