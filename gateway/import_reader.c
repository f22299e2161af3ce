/* Streaming CSV / NDJSON readers (import_reader.h). */
#include "import_reader.h"
#include "rc.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int rp_import_looks_compressed(const unsigned char *p, size_t len)
{
    static const struct {
        const char *magic;
        size_t len;
    } magics[] = {
        {"\x1f\x8b", 2},                 /* gzip */
        {"PK\x03\x04", 4},               /* zip */
        {"BZh", 3},                      /* bzip2 */
        {"\xfd" "7zXZ\x00", 6},          /* xz */
        {"\x28\xb5\x2f\xfd", 4},         /* zstd */
        {"7z\xbc\xaf\x27\x1c", 6},       /* 7z */
    };
    for (size_t i = 0; i < sizeof(magics) / sizeof(magics[0]); i++)
        if (len >= magics[i].len && memcmp(p, magics[i].magic, magics[i].len) == 0)
            return 1;
    return 0;
}

/* RFC 4180: spaces are part of a field. */
static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

static void csv_open(struct rp_import_reader *r)
{
    csv_init(&r->csv, 0);
    csv_set_space_func(&r->csv, no_space);
    r->csv_open = 1;
}

void rp_import_reader_init(struct rp_import_reader *r, enum rp_import_format format,
                           rp_import_record_fn fn, void *ud)
{
    memset(r, 0, sizeof(*r));
    r->format = format;
    r->fn = fn;
    r->ud = ud;
    r->line = 1;
    if (format == RP_IMPORT_CSV) {
        csv_open(r);
        r->offs = rp_calloc(RP_IMPORT_FIELDS_MAX, sizeof(size_t));
        r->lens = rp_calloc(RP_IMPORT_FIELDS_MAX, sizeof(size_t));
    }
}

void rp_import_reader_cleanup(struct rp_import_reader *r)
{
    if (r->csv_open)
        csv_free(&r->csv);
    rp_import_header_cleanup(&r->header);
    free(r->fbuf);
    free(r->offs);
    free(r->lens);
    free(r->lbuf);
    memset(r, 0, sizeof(*r));
}

static void deliver(struct rp_import_reader *r, const json_t *req, const struct rp_err *err,
                    long long line)
{
    if (!r->stopped && !r->scan_only && r->fn(r->ud, req, err, line))
        r->stopped = 1;
}

static void on_field(void *s, size_t len, void *data)
{
    struct rp_import_reader *r = data;
    if (r->failed || r->stopped)
        return; /* libcsv goes on to the end of the piece fed; nothing more is taken */
    if (r->nf == 0) {
        size_t nl = 0;
        for (size_t i = 0; i < len; i++)
            nl += ((const char *)s)[i] == '\n';
        r->record_line = r->line - (long long)nl;
    }
    if (r->record_too_big || r->nf >= RP_IMPORT_FIELDS_MAX) {
        r->record_too_big = 1;
        return;
    }
    if (r->flen + len + 1 > r->fcap) {
        r->fcap = (r->flen + len + 1) * 2;
        r->fbuf = rp_realloc(r->fbuf, r->fcap);
    }
    if (len)
        memcpy(r->fbuf + r->flen, s, len);
    r->offs[r->nf] = r->flen;
    r->lens[r->nf++] = len;
    r->flen += len;
    r->fbuf[r->flen] = '\0';
}

static void on_record(int c, void *data)
{
    (void)c;
    struct rp_import_reader *r = data;
    if (r->failed || r->stopped)
        return;
    const char *fields[RP_IMPORT_FIELDS_MAX];
    for (size_t i = 0; i < r->nf; i++)
        fields[i] = r->fbuf + r->offs[i];
    struct rp_err err;
    rp_err_clear(&err);
    if (r->record_too_big) {
        rp_err_set(&err, RP_EINVAL, "record", "has more than %d fields", RP_IMPORT_FIELDS_MAX);
        if (!r->have_header) {
            r->fatal = err;
            r->failed = 1;
        } else {
            deliver(r, NULL, &err, r->record_line);
        }
    } else if (!r->have_header) {
        if (rp_import_header_parse(fields, r->lens, r->nf, &r->header, &err)) {
            r->fatal = err;
            r->failed = 1;
        }
        r->have_header = 1;
    } else if (!r->scan_only) {
        json_t *req = rp_import_csv_record(&r->header, fields, r->lens, r->nf, &err);
        deliver(r, req, &err, r->record_line);
        json_decref(req);
    }
    r->nf = 0;
    r->flen = 0;
    r->record_bytes = 0;
    r->record_too_big = 0;
    r->record_line = 0;
}

/* libcsv between records: no field begun (after a header, or after a record's terminator). */
static int csv_idle(const struct rp_import_reader *r)
{
    return r->csv.pstate == 0 && r->csv.entry_pos == 0 && r->nf == 0 && r->flen == 0;
}

int rp_import_reader_between_records(const struct rp_import_reader *r)
{
    if (r->failed || r->stopped)
        return 0;
    if (r->format == RP_IMPORT_JSON)
        return r->llen == 0 && !r->line_too_long;
    return r->sniffed && r->have_header && !r->record_too_big && csv_idle(r);
}

/* Feeds one piece of CSV that ends at a line break or at the end of data. */
static void csv_feed(struct rp_import_reader *r, const char *p, size_t n)
{
    if (csv_idle(r))
        r->record_bytes = 0; /* blank lines between records are no record's bytes */
    r->record_bytes += n;
    if (r->record_bytes > RP_IMPORT_RECORD_MAX) {
        /* An unbalanced quote would otherwise buffer the rest of the file: the record fails and
         * reading resumes on a fresh parser at the next line. */
        struct rp_err err;
        rp_err_set(&err, RP_EINVAL, "record",
                   "is longer than %u bytes (an unbalanced quote?)", RP_IMPORT_RECORD_MAX);
        if (!r->have_header) {
            r->fatal = err;
            r->failed = 1;
        } else {
            deliver(r, NULL, &err, r->record_line ? r->record_line : r->line);
        }
        csv_free(&r->csv);
        csv_open(r);
        r->nf = 0;
        r->flen = 0;
        r->record_bytes = 0;
        r->record_line = 0;
        return;
    }
    if (r->nf == 0 && r->flen == 0 && r->record_line == 0)
        r->record_line = r->line;
    csv_parse(&r->csv, p, n, on_field, on_record, r);
}

static void json_line(struct rp_import_reader *r, const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r'))
        i++;
    if (i == n)
        return; /* blank lines are not records */
    struct rp_err err;
    rp_err_clear(&err);
    json_t *req = rp_import_json_line(p, n, &err);
    deliver(r, req, &err, r->line);
    json_decref(req);
}

static void json_feed(struct rp_import_reader *r, const char *p, size_t n, int ends_line)
{
    if (r->line_too_long || r->llen + n > RP_IMPORT_RECORD_MAX) {
        if (!r->line_too_long) {
            struct rp_err err;
            rp_err_set(&err, RP_EINVAL, "line", "is longer than %u bytes", RP_IMPORT_RECORD_MAX);
            deliver(r, NULL, &err, r->line);
        }
        r->line_too_long = !ends_line;
        r->llen = 0;
        return;
    }
    if (ends_line && r->llen == 0) {
        json_line(r, p, n); /* the common case: the whole line is in this chunk */
        return;
    }
    if (r->llen + n > r->lcap) {
        r->lcap = (r->llen + n) * 2 + 64;
        r->lbuf = rp_realloc(r->lbuf, r->lcap);
    }
    memcpy(r->lbuf + r->llen, p, n);
    r->llen += n;
    if (ends_line) {
        json_line(r, r->lbuf, r->llen);
        r->llen = 0;
    }
}

static int feed_body(struct rp_import_reader *r, const char *data, size_t len)
{
    /* A UTF-8 byte order mark at the start of the file is not data (it may arrive split over
     * chunks; a partial mark followed by other bytes is not UTF-8 and fails its record). */
    while (!r->bom_done && len) {
        if ((unsigned char)data[0] != (unsigned char)"\xef\xbb\xbf"[r->bom_matched]) {
            r->bom_done = 1;
            break;
        }
        data++;
        len--;
        r->seen++;
        if (++r->bom_matched == 3)
            r->bom_done = 1;
    }
    r->seen += len;
    while (len && !r->failed && !r->stopped) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) + 1 : len;
        if (r->format == RP_IMPORT_CSV)
            csv_feed(r, data, n);
        else
            json_feed(r, data, nl ? n - 1 : n, nl != NULL);
        if (nl)
            r->line++;
        data += n;
        len -= n;
    }
    return r->failed || r->stopped ? RP_EINVAL : 0;
}

/* The first RP_IMPORT_SNIFF_BYTES of a file are held back until the compressed-file check has seen
 * them, whatever the chunking. */
static int sniff(struct rp_import_reader *r, const char *data, size_t len, int at_end)
{
    size_t take = RP_IMPORT_SNIFF_BYTES - r->head_len < len ? RP_IMPORT_SNIFF_BYTES - r->head_len : len;
    memcpy(r->head + r->head_len, data, take);
    r->head_len += take;
    if (r->head_len < RP_IMPORT_SNIFF_BYTES && !at_end)
        return 0;
    r->sniffed = 1;
    if (rp_import_looks_compressed(r->head, r->head_len)) {
        rp_err_set(&r->fatal, RP_EINVAL, "file",
                   "is compressed; import files must be uncompressed UTF-8 text");
        r->failed = 1;
        return RP_EINVAL;
    }
    int rc = feed_body(r, (const char *)r->head, r->head_len);
    return rc ? rc : feed_body(r, data + take, len - take);
}

int rp_import_reader_feed(struct rp_import_reader *r, const char *data, size_t len)
{
    if (r->failed || r->stopped)
        return RP_EINVAL;
    if (!r->sniffed)
        return sniff(r, data, len, 0);
    return feed_body(r, data, len);
}

int rp_import_reader_finish(struct rp_import_reader *r)
{
    if (r->failed || r->stopped)
        return RP_EINVAL;
    if (!r->sniffed && sniff(r, "", 0, 1))
        return RP_EINVAL;
    if (r->format == RP_IMPORT_CSV) {
        csv_fini(&r->csv, on_field, on_record, r);
        if (!r->failed && !r->have_header) {
            rp_err_set(&r->fatal, RP_EINVAL, "file", "is empty: a CSV file needs a header");
            r->failed = 1;
        }
    } else if (r->llen && !r->line_too_long) {
        json_line(r, r->lbuf, r->llen);
        r->llen = 0;
    }
    return r->failed || r->stopped ? RP_EINVAL : 0;
}
