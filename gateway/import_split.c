/* Cutting import files into pieces at record boundaries (import_split.h). */
#include "import_split.h"
#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCAN_CHUNK (1u << 20)

static int ignore_record(void *ud, const json_t *req, const struct rp_err *err, long long line)
{
    (void)ud, (void)req, (void)err, (void)line;
    return 0;
}

struct scan {
    struct rp_import_reader reader;
    enum rp_import_format format;
    long long off;   /* bytes scanned */
    long long line;  /* the line at off */
    int line_start;  /* off is at the start of a line */
    int header_done; /* CSV: the header was read (JSON: always) */
    long long header_end;
    long long piece_len, next_cut;
    struct rp_import_cut *cuts;
    size_t n, cap;
    int failed;
};

static void add_cut(struct scan *s, long long at)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->cuts = rp_realloc(s->cuts, s->cap * sizeof(*s->cuts));
    }
    s->cuts[s->n - 1].end = at;
    s->cuts[s->n++] = (struct rp_import_cut){.start = at, .end = -1, .line = s->line};
    s->next_cut = at + s->piece_len;
}

/* One line (or the part of one that this chunk holds). */
static void scan_segment(struct scan *s, const char *p, size_t len, int ends_line, long long size)
{
    if (s->format == RP_IMPORT_CSV) {
        /* A whole line without a quote, begun between records, is a record (or nothing) that
         * ends at its line break: the reader would end up exactly where it is now. */
        int skip = ends_line && s->line_start && s->header_done &&
                   rp_import_reader_between_records(&s->reader) && !memchr(p, '"', len);
        if (!skip && rp_import_reader_feed(&s->reader, p, len)) {
            s->failed = 1;
            return;
        }
    }
    s->off += (long long)len;
    s->line_start = ends_line;
    if (!ends_line)
        return;
    s->line++;
    int between = s->format == RP_IMPORT_JSON || rp_import_reader_between_records(&s->reader);
    if (!s->header_done) {
        if (between) {
            s->header_done = 1;
            s->header_end = s->off;
            s->next_cut = s->off + s->piece_len;
        }
        return;
    }
    /* Not within the last bytes: a piece of a few bytes is not worth its overhead. */
    if (between && s->off >= s->next_cut && s->off + s->piece_len / 2 < size)
        add_cut(s, s->off);
}

size_t rp_import_split_fd(int fd, long long size, enum rp_import_format format,
                          long long piece_bytes, struct rp_import_cut **cuts,
                          long long *header_end, void (*progress)(void *ud), void *ud)
{
    struct scan s = {.format = format, .line = 1, .line_start = 1,
                     .header_done = format == RP_IMPORT_JSON};
    s.piece_len = piece_bytes > 0 ? piece_bytes : 1;
    if (s.piece_len < size / RP_IMPORT_MAX_PIECES_PER_FILE + 1)
        s.piece_len = size / RP_IMPORT_MAX_PIECES_PER_FILE + 1;
    s.next_cut = s.piece_len;
    s.cap = 16;
    s.cuts = rp_malloc(s.cap * sizeof(*s.cuts));
    s.cuts[s.n++] = (struct rp_import_cut){.start = 0, .end = -1, .line = 1};
    if (size < 2 * s.piece_len) {
        *cuts = s.cuts;
        *header_end = 0;
        return 1;
    }
    if (format == RP_IMPORT_CSV) {
        rp_import_reader_init(&s.reader, format, ignore_record, NULL);
        s.reader.scan_only = 1;
    } else {
        /* A compressed file fails in its first piece; it must not import in the others. (The
         * CSV scan's reader finds that itself.) */
        unsigned char head[RP_IMPORT_SNIFF_BYTES];
        ssize_t got = pread(fd, head, sizeof(head), 0);
        if (got < 0 || rp_import_looks_compressed(head, (size_t)got)) {
            *cuts = s.cuts;
            *header_end = 0;
            return 1;
        }
    }
    char *buf = rp_malloc(SCAN_CHUNK);
    long long reported = 0;
    for (;;) {
        if (progress && s.off - reported >= RP_IMPORT_SPLIT_PROGRESS_BYTES) {
            progress(ud);
            reported = s.off;
        }
        ssize_t got = pread(fd, buf, SCAN_CHUNK, (off_t)s.off);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            s.failed |= got < 0;
            break;
        }
        const char *p = buf, *end = buf + got;
        while (p < end && !s.failed) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
            scan_segment(&s, p, len, nl != NULL, size);
            p += len;
        }
        if (s.failed)
            break;
    }
    free(buf);
    if (format == RP_IMPORT_CSV) {
        /* A header that never ended, or one the reader refused: every piece would fail the same
         * way, so the file stays whole and fails once. */
        if (!s.header_done || s.reader.failed)
            s.failed = 1;
        rp_import_reader_cleanup(&s.reader);
    }
    if (s.failed) {
        s.n = 1;
        s.cuts[0].end = -1;
        s.header_end = 0;
    }
    *cuts = s.cuts;
    *header_end = s.header_end;
    return s.n;
}
