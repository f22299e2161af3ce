/* The inline helpers Pinpoint documents for message templates (string, date, number, math and
 * encoding helpers), with the semantics of the Handlebars.java helpers Pinpoint's are named
 * after: StringHelpers (abbreviate, capitalize, center, cut, join, ljust, rjust, substring,
 * slugify, stripTags, yesno, dateFormat, numberFormat ...). Each writes straight into the output,
 * escaping as its tag asks; none allocates. Lengths and positions count characters (UTF-8 code
 * points), case mapping is ASCII. Dates print in UTC unless tz= gives a zone ID
 * ("America/Los_Angeles", template_tz.c) or an offset ("+05:30"). */

#include "template_int.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#define NAME(n) rp_tmpl_helper_names[(n)->helper]

/* Positional argument i, undefined when the call has fewer. */
static struct tmpl_val arg_at(const struct tmpl_node *n, const struct tmpl_val *args, uint32_t i)
{
    return i < n->n_args ? args[i] : (struct tmpl_val){.k = V_UNDEF};
}

/* The text of args[i] (or "" when absent); fails the render for a list or an object. */
static bool text_arg(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                     uint32_t i, char *tmp, const char **s, size_t *len)
{
    if (tmpl_text(arg_at(n, args, i), tmp, s, len))
        return true;
    tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: argument %u is a list or an object, not text", NAME(n),
              i + 1);
    return false;
}

/* A bare word that names no variable stands for itself: the guide writes
 * {{inflect 3 apple apples}} and tz=America/Los_Angeles without quotes. v is a's value. */
static struct tmpl_val bare_word(struct tmpl_render *r, const struct tmpl_arg *a, struct tmpl_val v)
{
    if (v.k == V_UNDEF && a->kind == A_PATH && !a->data && !a->depth && a->len)
        return (struct tmpl_val){.k = V_STR, .s = r->t->src + a->off, .len = a->len};
    return v;
}

/* The hash argument key of n, a bare word standing for itself. */
static struct tmpl_val hash_word(struct tmpl_render *r, const struct tmpl_node *n, const char *key)
{
    size_t klen = strlen(key);
    for (uint32_t i = 0; i < n->n_hash; i++) {
        const struct tmpl_arg *a = &r->t->args[n->hash_first + i];
        if (a->key_len == klen && memcmp(r->t->src + a->key_off, key, klen) == 0)
            return bare_word(r, a, tmpl_arg_value(r, a));
    }
    return (struct tmpl_val){.k = V_UNDEF};
}

static bool number_arg(struct tmpl_render *r, const struct tmpl_node *n, struct tmpl_val v,
                       const char *what, double *out)
{
    if (tmpl_number(v, out))
        return true;
    tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: %s is not a number", NAME(n), what);
    return false;
}

static int emit_val(struct tmpl_render *r, const struct tmpl_node *n, struct tmpl_val v,
                    bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!tmpl_text(v, tmp, &s, &len))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: a list or an object is not text", NAME(n));
    tmpl_emit(r, s, len, escape);
    return r->rc;
}

static size_t utf8_count(const char *s, size_t len)
{
    size_t c = 0;
    for (size_t i = 0; i < len; i++)
        c += ((unsigned char)s[i] & 0xc0) != 0x80;
    return c;
}

/* Bytes taken by the first chars characters of s. */
static size_t utf8_bytes(const char *s, size_t len, size_t chars)
{
    size_t i = 0, c = 0;
    for (; i < len; i++) {
        if (((unsigned char)s[i] & 0xc0) != 0x80) {
            if (c == chars)
                break;
            c++;
        }
    }
    return i;
}

static void emit_repeat(struct tmpl_render *r, const char *pad, size_t pad_len, size_t times,
                        bool escape)
{
    for (size_t i = 0; i < times && !r->rc; i++)
        tmpl_emit(r, pad, pad_len, escape);
}

/* ljust, rjust, center: size= characters wide, pad= one string (default a space). */
static int justify(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                   bool escape)
{
    char tmp[32], ptmp[32];
    const char *s, *pad = " ";
    size_t len, pad_len = 1;
    double size;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    struct tmpl_val sv = tmpl_hash(r, n, "size");
    if (sv.k == V_UNDEF && n->n_args > 1)
        sv = args[1];
    if (!number_arg(r, n, sv, "size=", &size))
        return r->rc;
    struct tmpl_val pv = tmpl_hash(r, n, "pad");
    if (pv.k != V_UNDEF && (!tmpl_text(pv, ptmp, &pad, &pad_len) || pad_len == 0)) {
        pad = " ";
        pad_len = 1;
    }
    size_t chars = utf8_count(s, len);
    size_t want = size > 100000 ? 100000 : size < 0 ? 0 : (size_t)size;
    size_t fill = want > chars ? want - chars : 0;
    size_t left = n->helper == H_LJUST ? 0 : n->helper == H_RJUST ? fill : fill / 2;
    emit_repeat(r, pad, pad_len, left, escape);
    tmpl_emit(r, s, len, escape);
    emit_repeat(r, pad, pad_len, fill - left, escape);
    return r->rc;
}

static int case_map(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                    bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    struct tmpl_val fully = tmpl_hash(r, n, "fully");
    bool word_start = true;
    for (size_t i = 0; i < len && !r->rc; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (n->helper) {
        case H_UPPER: c = (unsigned char)toupper(c); break;
        case H_LOWER: c = (unsigned char)tolower(c); break;
        case H_CAPITALIZE_FIRST: if (i == 0) c = (unsigned char)toupper(c); break;
        case H_CAPITALIZE:
            if (word_start)
                c = (unsigned char)toupper(c);
            else if (tmpl_truthy(fully))
                c = (unsigned char)tolower(c);
            word_start = isspace(c) != 0;
            break;
        default: break;
        }
        tmpl_emit_char(r, (char)c, escape);
    }
    return r->rc;
}

static int abbreviate(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                      bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    double width;
    if (!text_arg(r, n, args, 0, tmp, &s, &len) ||
        !number_arg(r, n, arg_at(n, args, 1), "the width", &width))
        return r->rc;
    if (width < 4)
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "abbreviate: the width must be at least 4");
    size_t w = width > 1e9 ? (size_t)1e9 : (size_t)width;
    if (utf8_count(s, len) <= w) {
        tmpl_emit(r, s, len, escape);
        return r->rc;
    }
    tmpl_emit(r, s, utf8_bytes(s, len, w - 3), escape);
    tmpl_emit(r, "...", 3, escape);
    return r->rc;
}

static int cut_replace(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                       bool escape)
{
    char tmp[32], ttmp[32], rtmp[32];
    const char *s, *target = " ", *rep = "";
    size_t len, tlen = 1, rlen = 0;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    if (n->n_args > 1 && !text_arg(r, n, args, 1, ttmp, &target, &tlen))
        return r->rc;
    if (n->helper == H_REPLACE && !text_arg(r, n, args, 2, rtmp, &rep, &rlen))
        return r->rc;
    if (n->helper == H_REPLACE && n->n_args < 2)
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "replace: give the text to replace");
    for (size_t i = 0; i < len && !r->rc;) {
        if (tlen && i + tlen <= len && memcmp(s + i, target, tlen) == 0) {
            tmpl_emit(r, rep, rlen, escape);
            i += tlen;
        } else {
            tmpl_emit_char(r, s[i++], escape);
        }
    }
    return r->rc;
}

static int substring(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                     bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    double start, end;
    if (!text_arg(r, n, args, 0, tmp, &s, &len) ||
        !number_arg(r, n, arg_at(n, args, 1), "start", &start))
        return r->rc;
    size_t chars = utf8_count(s, len);
    if (n->n_args > 2) {
        if (!number_arg(r, n, args[2], "end", &end))
            return r->rc;
    } else {
        end = (double)chars;
    }
    size_t a = start < 0 ? 0 : start > (double)chars ? chars : (size_t)start;
    size_t b = end < 0 ? 0 : end > (double)chars ? chars : (size_t)end;
    if (b <= a)
        return r->rc;
    size_t from = utf8_bytes(s, len, a), to = utf8_bytes(s, len, b);
    tmpl_emit(r, s + from, to - from, escape);
    return r->rc;
}

static int slugify(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                   bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    bool dash = false, any = false;
    for (size_t i = 0; i < len && !r->rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '_') {
            if (dash && any)
                tmpl_emit_char(r, '-', escape);
            dash = false;
            any = true;
            tmpl_emit_char(r, (char)tolower(c), escape);
        } else if (isspace(c) || c == '-') {
            dash = true;
        }
    }
    return r->rc;
}

static int strip_tags(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                      bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    bool in_tag = false;
    for (size_t i = 0; i < len && !r->rc; i++) {
        if (s[i] == '<')
            in_tag = true;
        else if (s[i] == '>' && in_tag)
            in_tag = false;
        else if (!in_tag)
            tmpl_emit_char(r, s[i], escape);
    }
    return r->rc;
}

static void emit_value_text(struct tmpl_render *r, struct tmpl_val v, bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (tmpl_text(v, tmp, &s, &len))
        tmpl_emit(r, s, len, escape);
}

/* join a b ... "separator" prefix= suffix=: lists are joined element by element. */
static int join(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                bool escape)
{
    /* sep may point into stmp: it must live as long as sep. */
    // cppcheck-suppress variableScope
    char stmp[32];
    const char *sep = ",";
    size_t sep_len = 1;
    uint32_t values = n->n_args;
    if (n->n_args >= 2) {
        values--;
        if (!text_arg(r, n, args, values, stmp, &sep, &sep_len))
            return r->rc;
    }
    emit_value_text(r, tmpl_hash(r, n, "prefix"), escape);
    bool first = true;
    for (uint32_t i = 0; i < values && !r->rc; i++) {
        struct tmpl_val v = args[i];
        size_t count = v.k == V_ARR ? json_array_size(v.j) : 1;
        for (size_t k = 0; k < count && !r->rc; k++) {
            struct tmpl_val e = v;
            if (v.k == V_ARR) {
                const json_t *j = json_array_get(v.j, k);
                e = (struct tmpl_val){.k = V_UNDEF};
                if (json_is_string(j))
                    e = (struct tmpl_val){.k = V_STR, .s = json_string_value(j),
                                          .len = json_string_length(j)};
                else if (json_is_number(j))
                    e = (struct tmpl_val){.k = V_NUM, .n = json_number_value(j)};
                else if (json_is_boolean(j))
                    e = (struct tmpl_val){.k = V_BOOL, .b = json_is_true(j)};
            }
            if (e.k == V_UNDEF || e.k == V_NULL || e.k == V_OBJ || e.k == V_ARR)
                continue;
            if (!first)
                tmpl_emit(r, sep, sep_len, escape);
            first = false;
            emit_value_text(r, e, escape);
        }
    }
    emit_value_text(r, tmpl_hash(r, n, "suffix"), escape);
    return r->rc;
}

/* ---- dates ---- */

static bool digits(const char *s, size_t len, size_t at, size_t n, int *out)
{
    if (at + n > len)
        return false;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[at + i]))
            return false;
        v = v * 10 + (s[at + i] - '0');
    }
    *out = v;
    return true;
}

/* "+05:30", "-0800", "Z", "UTC" -> seconds east of UTC. */
static bool parse_offset(const char *s, size_t len, long *out)
{
    int h, m = 0;
    if ((len == 1 && s[0] == 'Z') || (len == 3 && memcmp(s, "UTC", 3) == 0) ||
        (len == 3 && memcmp(s, "GMT", 3) == 0)) {
        *out = 0;
        return true;
    }
    size_t at = 0;
    if (len >= 3 && (memcmp(s, "UTC", 3) == 0 || memcmp(s, "GMT", 3) == 0))
        at = 3;
    if (at >= len || (s[at] != '+' && s[at] != '-') || !digits(s, len, at + 1, 2, &h))
        return false;
    size_t i = at + 3;
    if (i < len && s[i] == ':')
        i++;
    if (i < len && (!digits(s, len, i, 2, &m) || i + 2 != len))
        return false;
    if (i >= len && i != at + 3)
        return false;
    if (h > 18 || m > 59)
        return false;
    *out = (s[at] == '-' ? -1 : 1) * (h * 3600L + m * 60L);
    return true;
}

/* A date: epoch milliseconds, or ISO 8601 "2026-11-22[T10:33[:00[.123]]][Z|+hh:mm]". */
static bool parse_date(struct tmpl_val v, int64_t *ms)
{
    v = tmpl_scalar(v);
    if (v.k == V_NUM) {
        if (!(fabs(v.n) < 1e16))
            return false;
        *ms = (int64_t)v.n;
        return true;
    }
    if (v.k != V_STR)
        return false;
    const char *s = v.s;
    size_t len = v.len;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    if (!digits(s, len, 0, 4, &y) || len < 10 || s[4] != '-' || !digits(s, len, 5, 2, &mo) ||
        s[7] != '-' || !digits(s, len, 8, 2, &d))
        return false;
    size_t i = 10;
    if (i < len && (s[i] == 'T' || s[i] == ' ')) {
        if (!digits(s, len, i + 1, 2, &h) || i + 3 >= len || s[i + 3] != ':' ||
            !digits(s, len, i + 4, 2, &mi))
            return false;
        i += 6;
        if (i < len && s[i] == ':') {
            if (!digits(s, len, i + 1, 2, &sec))
                return false;
            i += 3;
            if (i < len && s[i] == '.') {
                i++;
                int places = 0;
                while (i < len && isdigit((unsigned char)s[i])) {
                    if (places < 3) {
                        frac = frac * 10 + (s[i] - '0');
                        places++;
                    }
                    i++;
                }
                while (places++ < 3)
                    frac *= 10;
            }
        }
    }
    long off = 0;
    if (i < len && !parse_offset(s + i, len - i, &off))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + frac;
    return true;
}

/* A date spelled by a SimpleDateFormat-like pattern (inputFormat=): y M d H m s read digits, a
 * 'quoted' run and any other character must match as is. Midnight UTC unless given. */
static bool parse_with_pattern(const char *s, size_t len, const char *pat, size_t plen, int64_t *ms)
{
    int f[6] = {1970, 1, 1, 0, 0, 0}; /* y M d H m s */
    static const char letters[] = "yMdHms";
    size_t i = 0;
    for (size_t k = 0; k < plen;) {
        char c = pat[k];
        const char *l = c ? strchr(letters, c) : NULL;
        if (c == '\'') {
            size_t j = k + 1;
            while (j < plen && pat[j] != '\'')
                j++;
            size_t lit = j - k - 1;
            if (i + lit > len || memcmp(s + i, pat + k + 1, lit) != 0)
                return false;
            i += lit;
            k = j + 1;
            continue;
        }
        if (!l) {
            if (i >= len || s[i] != c)
                return false;
            i++;
            k++;
            continue;
        }
        size_t run = 1;
        while (k + run < plen && pat[k + run] == c)
            run++;
        k += run;
        /* A run reads as many digits as it is long, or more for a lone letter ("d" reads 19). */
        size_t max = run > 1 ? run : 4, got = 0;
        int v = 0;
        while (i < len && got < max && isdigit((unsigned char)s[i])) {
            v = v * 10 + (s[i++] - '0');
            got++;
        }
        if (got == 0 || (run > 1 && got != run))
            return false;
        if (c == 'y' && run == 2)
            v += 2000;
        f[l - letters] = v;
    }
    if (i != len || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 ||
        f[5] > 60)
        return false;
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = f[0] - 1900;
    tm.tm_mon = f[1] - 1;
    tm.tm_mday = f[2];
    tm.tm_hour = f[3];
    tm.tm_min = f[4];
    tm.tm_sec = f[5];
    *ms = (int64_t)timegm(&tm) * 1000;
    return true;
}

static const char *const months[] = {"January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December"};
static const char *const days[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                   "Thursday", "Friday", "Saturday"};

static void emit_num(struct tmpl_render *r, long v, size_t width, bool escape)
{
    char tmp[32];
    int len = snprintf(tmp, sizeof(tmp), "%0*ld", (int)(width > 9 ? 9 : width), v);
    tmpl_emit(r, tmp, (size_t)len, escape);
}

/* Java SimpleDateFormat letters: y M d E H h m s S a z Z X; 'quoted' text; others as is. */
static void format_date(struct tmpl_render *r, int64_t ms, long off, const char *abbr,
                        const char *pat, size_t plen, bool sept, bool escape)
{
    time_t secs = (time_t)((ms - ((ms % 1000 + 1000) % 1000)) / 1000 + off);
    int millis = (int)((ms % 1000 + 1000) % 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    for (size_t i = 0; i < plen && !r->rc;) {
        char c = pat[i];
        if (c == '\'') {
            size_t j = i + 1;
            if (j < plen && pat[j] == '\'') {
                tmpl_emit_char(r, '\'', escape);
                i += 2;
                continue;
            }
            while (j < plen && pat[j] != '\'')
                j++;
            tmpl_emit(r, pat + i + 1, j - i - 1, escape);
            i = j + 1;
            continue;
        }
        if (!isalpha((unsigned char)c)) {
            tmpl_emit_char(r, c, escape);
            i++;
            continue;
        }
        size_t run = 1;
        while (i + run < plen && pat[i + run] == c)
            run++;
        i += run;
        switch (c) {
        case 'y':
            if (run == 2)
                emit_num(r, (tm.tm_year + 1900) % 100, 2, escape);
            else
                emit_num(r, tm.tm_year + 1900, run, escape);
            break;
        case 'M':
        case 'L':
            if (run >= 4)
                tmpl_emit(r, months[tm.tm_mon], strlen(months[tm.tm_mon]), escape);
            else if (run == 3)
                tmpl_emit(r, months[tm.tm_mon], sept && tm.tm_mon == 8 ? 4 : 3, escape);
            else
                emit_num(r, tm.tm_mon + 1, run, escape);
            break;
        case 'd': emit_num(r, tm.tm_mday, run, escape); break;
        case 'D': emit_num(r, tm.tm_yday + 1, run, escape); break;
        case 'E':
            tmpl_emit(r, days[tm.tm_wday], run >= 4 ? strlen(days[tm.tm_wday]) : 3, escape);
            break;
        case 'H': emit_num(r, tm.tm_hour, run, escape); break;
        case 'k': emit_num(r, tm.tm_hour ? tm.tm_hour : 24, run, escape); break;
        case 'h': emit_num(r, tm.tm_hour % 12 ? tm.tm_hour % 12 : 12, run, escape); break;
        case 'K': emit_num(r, tm.tm_hour % 12, run, escape); break;
        case 'm': emit_num(r, tm.tm_min, run, escape); break;
        case 's': emit_num(r, tm.tm_sec, run, escape); break;
        case 'S': emit_num(r, run >= 3 ? millis : millis / (run == 2 ? 10 : 100), run, escape); break;
        case 'a': tmpl_emit(r, tm.tm_hour < 12 ? "AM" : "PM", 2, escape); break;
        case 'z':
        case 'Z':
        case 'X': {
            long a = off < 0 ? -off : off;
            char tmp[16];
            int len;
            if (c == 'z' && abbr && abbr[0])
                len = snprintf(tmp, sizeof(tmp), "%s", abbr);
            else if (c == 'X' && off == 0)
                len = snprintf(tmp, sizeof(tmp), "Z");
            else if (c == 'z')
                len = snprintf(tmp, sizeof(tmp), off ? "GMT%c%02ld:%02ld" : "UTC",
                               off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
            else
                len = snprintf(tmp, sizeof(tmp), run >= 3 && c == 'X' ? "%c%02ld:%02ld" : "%c%02ld%02ld",
                               off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
            tmpl_emit(r, tmp, (size_t)len, escape);
            break;
        }
        default:
            tmpl_fail(r, NULL, RP_TMPL_EVALUE, "dateFormat: unknown pattern letter '%c'", c);
            break;
        }
    }
}

/* dateFormat date ["pattern"] tz=  /  now ["pattern"] tz= ; patterns "full", "long", "medium"
 * (the default), "short" or SimpleDateFormat letters. */
static int date_helper(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                       bool escape)
{
    int64_t ms = r->vars->now_ms;
    uint32_t pat_i = 0;
    if (n->helper == H_DATE_FORMAT) {
        struct tmpl_val in = tmpl_hash(r, n, "inputFormat");
        if (in.k != V_UNDEF) {
            char itmp[32], dtmp[32];
            const char *ipat, *ds;
            size_t ilen, dlen;
            if (n->n_args < 1 || !tmpl_text(in, itmp, &ipat, &ilen) ||
                !tmpl_text(args[0], dtmp, &ds, &dlen) ||
                !parse_with_pattern(ds, dlen, ipat, ilen, &ms))
                return tmpl_fail(r, n, RP_TMPL_EVALUE,
                                 "dateFormat: the date does not match inputFormat= (a pattern "
                                 "of y M d H m s letters such as \"dd/MM/yyyy\")");
        } else if (n->n_args < 1 || !parse_date(args[0], &ms))
            return tmpl_fail(r, n, RP_TMPL_EVALUE,
                             "dateFormat: the date must be ISO 8601 (2026-11-22T10:33:00Z) or "
                             "epoch milliseconds");
        pat_i = 1;
    }
    char tmp[32];
    const char *pat = "medium";
    size_t plen = 6;
    if (n->n_args > pat_i && !text_arg(r, n, args, pat_i, tmp, &pat, &plen))
        return r->rc;
    struct tmpl_val fv = tmpl_hash(r, n, "outputFormat");
    if (fv.k == V_UNDEF)
        fv = tmpl_hash(r, n, "format");
    if (fv.k != V_UNDEF && !tmpl_text(fv, tmp, &pat, &plen))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: the format is not text", NAME(n));
    /* The guide shows the medium style as "Sept 19, 2020" (CLDR's four-letter September). */
    bool sept = plen == 6 && memcmp(pat, "medium", 6) == 0;
    static const struct {
        const char *name, *pattern;
    } named[] = {{"full", "EEEE, MMMM d, yyyy"},
                 {"long", "MMMM d, yyyy"},
                 {"medium", "MMM d, yyyy"},
                 {"short", "M/d/yy"}};
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strlen(named[i].name) == plen && memcmp(named[i].name, pat, plen) == 0) {
            pat = named[i].pattern;
            plen = strlen(pat);
        }
    long off = 0;
    struct tmpl_val tz = hash_word(r, n, "tz");
    char abbr[8] = "";
    if (tz.k != V_UNDEF) {
        char ttmp[32];
        const char *tzs;
        size_t tzlen;
        int64_t secs = (ms - ((ms % 1000 + 1000) % 1000)) / 1000;
        if (!tmpl_text(tz, ttmp, &tzs, &tzlen) ||
            (!parse_offset(tzs, tzlen, &off) && !tmpl_tz_offset(tzs, tzlen, secs, &off, abbr)))
            return tmpl_fail(r, n, RP_TMPL_EVALUE,
                             "%s: tz= must be a time zone ID such as America/Los_Angeles or an "
                             "offset such as +05:30",
                             NAME(n));
    }
    format_date(r, ms, off, abbr, pat, plen, sept, escape);
    if (r->rc && r->err && r->err->line == 0)
        rp_tmpl_position(r->t->src, n->pos, &r->err->line, &r->err->column);
    return r->rc;
}

/* ---- numbers ---- */

/* Digits of v with thousands separators and exactly frac decimals (rounded half up). */
static void emit_grouped(struct tmpl_render *r, double v, int frac, bool group, bool escape)
{
    char tmp[64];
    if (!(fabs(v) < 1e18)) {
        tmpl_emit_number(r, v, escape);
        return;
    }
    int len = snprintf(tmp, sizeof(tmp), "%.*f", frac, v);
    const char *p = tmp;
    if (*p == '-') {
        tmpl_emit_char(r, '-', escape);
        p++;
        len--;
    }
    const char *dot = strchr(p, '.');
    int int_len = dot ? (int)(dot - p) : len;
    for (int i = 0; i < int_len; i++) {
        if (group && i > 0 && (int_len - i) % 3 == 0)
            tmpl_emit_char(r, ',', escape);
        tmpl_emit_char(r, p[i], escape);
    }
    if (dot)
        tmpl_emit(r, dot, strlen(dot), escape);
}

/* numberFormat value ["integer" | "currency" | "percent" | a pattern like "#,##0.00"]: Java's
 * NumberFormat for en_US; without a style, grouped with up to 3 decimals. */
static int number_format(struct tmpl_render *r, const struct tmpl_node *n,
                         const struct tmpl_val *args, bool escape)
{
    double v;
    if (!number_arg(r, n, arg_at(n, args, 0), "the value", &v))
        return r->rc;
    char tmp[32];
    const char *style = "";
    size_t slen = 0;
    if (n->n_args > 1 && !text_arg(r, n, args, 1, tmp, &style, &slen))
        return r->rc;
    if (slen == 7 && memcmp(style, "integer", 7) == 0) {
        emit_grouped(r, round(v), 0, true, escape);
    } else if (slen == 8 && memcmp(style, "currency", 8) == 0) {
        if (v < 0) {
            tmpl_emit_char(r, '-', escape);
            v = -v;
        }
        tmpl_emit_char(r, '$', escape);
        emit_grouped(r, v, 2, true, escape);
    } else if (slen == 7 && memcmp(style, "percent", 7) == 0) {
        emit_grouped(r, round(v * 100), 0, true, escape);
        tmpl_emit_char(r, '%', escape);
    } else if (slen == 0) {
        /* Up to three decimals, trailing zeros dropped. */
        char buf[64];
        snprintf(buf, sizeof(buf), "%.3f", fabs(v) < 1e18 ? v : 0);
        int frac = 3;
        while (frac > 0 && buf[strlen(buf) - 1] == '0') {
            buf[strlen(buf) - 1] = '\0';
            frac--;
        }
        emit_grouped(r, v, frac, true, escape);
    } else {
        const char *dot = memchr(style, '.', slen);
        int frac = dot ? (int)(slen - (size_t)(dot - style) - 1) : 0;
        if (frac > 20)
            frac = 20;
        emit_grouped(r, v, frac, memchr(style, ',', slen) != NULL, escape);
    }
    return r->rc;
}

static int math(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                bool escape)
{
    double a, b = 0;
    bool binary = n->helper <= H_MOD;
    if (n->n_args < (binary ? 2u : 1u))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%s needs %s", NAME(n),
                         binary ? "two numbers" : "a number");
    if (!number_arg(r, n, args[0], "the first value", &a) ||
        (binary && !number_arg(r, n, args[1], "the second value", &b)))
        return r->rc;
    double v = 0;
    switch (n->helper) {
    case H_ADD: v = a + b; break;
    case H_SUBTRACT: v = a - b; break;
    case H_MULTIPLY: v = a * b; break;
    case H_DIVIDE:
    case H_MOD:
        if (b == 0)
            return tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: division by zero", NAME(n));
        v = n->helper == H_DIVIDE ? a / b : fmod(a, b);
        break;
    case H_ABS: v = fabs(a); break;
    case H_CEILING: v = ceil(a); break;
    case H_FLOOR: v = floor(a); break;
    case H_ROUND: v = round(a); break;
    default: break;
    }
    /* Pinpoint prints arithmetic to at most 8 decimals: its guide shows 5 * 2.3 as 11.5 and
     * 5 / 2.3 as 2.17391304, not the binary double's 11.499999999999998. */
    if (binary && fabs(v) < 1e7)
        v = round(v * 1e8) / 1e8;
    tmpl_emit_number(r, v, escape);
    return r->rc;
}

/* ---- encodings ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

static int encoding(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                    bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    const unsigned char *u = (const unsigned char *)s;
    if (n->helper == H_ENCODE_BASE64) {
        for (size_t i = 0; i < len && !r->rc; i += 3) {
            unsigned v = (unsigned)u[i] << 16 | (i + 1 < len ? (unsigned)u[i + 1] << 8 : 0) |
                         (i + 2 < len ? u[i + 2] : 0);
            char q[4] = {b64[v >> 18 & 63], b64[v >> 12 & 63],
                         i + 1 < len ? b64[v >> 6 & 63] : '=', i + 2 < len ? b64[v & 63] : '='};
            /* Base64 text is safe as is; escaping its '=' padding (&#x3D;) would break it and
             * the guide prints it plain. */
            tmpl_emit(r, q, 4, false);
        }
    } else if (n->helper == H_DECODE_BASE64) {
        unsigned acc = 0;
        int bits = 0;
        for (size_t i = 0; i < len && !r->rc; i++) {
            if (s[i] == '=')
                break;
            int v = b64_value(s[i]);
            if (v < 0)
                return tmpl_fail(r, n, RP_TMPL_EVALUE, "decode64: not Base64");
            acc = (acc << 6 | (unsigned)v) & 0xffffff;
            bits += 6;
            if (bits >= 8) {
                bits -= 8;
                tmpl_emit_char(r, (char)(acc >> bits & 0xff), escape);
            }
        }
    } else if (n->helper == H_ENCODE_URI) {
        /* encodeURIComponent: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ) become %XX. */
        for (size_t i = 0; i < len && !r->rc; i++) {
            if (isalnum(u[i]) || strchr("-_.!~*'()", u[i])) {
                tmpl_emit_char(r, (char)u[i], escape);
            } else {
                char q[4];
                snprintf(q, sizeof(q), "%%%02X", u[i]);
                tmpl_emit(r, q, 3, escape);
            }
        }
    } else {
        for (size_t i = 0; i < len && !r->rc; i++) {
            if (s[i] != '%') {
                tmpl_emit_char(r, s[i], escape);
                continue;
            }
            int hi = i + 2 < len && isxdigit(u[i + 1]) && isxdigit(u[i + 2]);
            if (!hi)
                return tmpl_fail(r, n, RP_TMPL_EVALUE, "decodeURI: a %% is not followed by two "
                                                       "hex digits");
            char h[3] = {s[i + 1], s[i + 2], 0};
            tmpl_emit_char(r, (char)strtol(h, NULL, 16), escape);
            i += 2;
        }
    }
    return r->rc;
}

/* md5, sha256, sha512: the lower-case hex digest of the value's text. */
static int digest(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                  bool escape)
{
    char tmp[32];
    const char *s;
    size_t len;
    if (!text_arg(r, n, args, 0, tmp, &s, &len))
        return r->rc;
    const EVP_MD *md = n->helper == H_MD5 ? EVP_md5() : n->helper == H_SHA256 ? EVP_sha256()
                                                                             : EVP_sha512();
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int out_len = 0;
    if (!EVP_Digest(s, len, out, &out_len, md, NULL))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "%s: the digest failed", NAME(n));
    static const char hex[] = "0123456789abcdef";
    for (unsigned int i = 0; i < out_len; i++) {
        char h[2] = {hex[out[i] >> 4], hex[out[i] & 15]};
        tmpl_emit(r, h, 2, escape);
    }
    return r->rc;
}

/* A random (version 4) UUID, as Java's UUID.randomUUID() prints it. */
static int uuid(struct tmpl_render *r, const struct tmpl_node *n, bool escape)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "uuid: no random bytes available");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char out[37];
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    tmpl_emit(r, out, o, escape);
    return r->rc;
}

/* ordinalize: 1st, 2nd, 3rd, 4th ... 11th, 12th, 13th ... 21st; whole numbers only. */
static int ordinalize(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                      bool escape)
{
    double v;
    if (!number_arg(r, n, arg_at(n, args, 0), "the value", &v))
        return r->rc;
    if (v != floor(v) || !(fabs(v) < 1e15))
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "ordinalize: the value is not a whole number");
    long long i = (long long)v;
    long long a = i < 0 ? -i : i;
    const char *suffix = "th";
    if (a % 100 < 11 || a % 100 > 13) {
        if (a % 10 == 1)
            suffix = "st";
        else if (a % 10 == 2)
            suffix = "nd";
        else if (a % 10 == 3)
            suffix = "rd";
    }
    char tmp[40];
    int len = snprintf(tmp, sizeof(tmp), "%lld%s", i, suffix);
    tmpl_emit(r, tmp, (size_t)len, escape);
    return r->rc;
}

int tmpl_helper_inline(struct tmpl_render *r, const struct tmpl_node *n, const struct tmpl_val *args,
                       bool escape)
{
    switch (n->helper) {
    case H_DEFAULT:
    case H_DEFAULT_IF_EMPTY: {
        struct tmpl_val v = arg_at(n, args, 0);
        if (!tmpl_truthy(v)) {
            v = n->n_args > 1 ? args[1] : tmpl_hash(r, n, "default");
            if (v.k == V_UNDEF)
                v = (struct tmpl_val){.k = V_STR, .s = "", .len = 0};
        }
        return emit_val(r, n, v, escape);
    }
    case H_ABBREVIATE: return abbreviate(r, n, args, escape);
    case H_CAPITALIZE:
    case H_CAPITALIZE_FIRST:
    case H_LOWER:
    case H_UPPER: return case_map(r, n, args, escape);
    case H_CENTER:
    case H_LJUST:
    case H_RJUST: return justify(r, n, args, escape);
    case H_CUT:
    case H_REPLACE: return cut_replace(r, n, args, escape);
    case H_DATE_FORMAT:
    case H_NOW: return date_helper(r, n, args, escape);
    case H_INFLECT: {
        char tmp[32];
        const char *s;
        size_t len;
        double count;
        if (n->n_args < 3 ||
            !number_arg(r, n, args[0], "the count", &count))
            return r->rc ? r->rc
                         : tmpl_fail(r, n, RP_TMPL_EVALUE,
                                     "inflect needs a count, a singular and a plural");
        struct tmpl_val inc = n->n_args > 3 ? args[3] : tmpl_hash(r, n, "includeCount");
        if (tmpl_truthy(inc)) {
            tmpl_emit_number(r, count, escape);
            tmpl_emit(r, " ", 1, escape);
        }
        uint32_t form = count == 1 ? 1 : 2;
        struct tmpl_val word = bare_word(r, &r->t->args[n->arg_first + form], args[form]);
        if (!tmpl_text(word, tmp, &s, &len))
            return tmpl_fail(r, n, RP_TMPL_EVALUE, "inflect: the %s is not text",
                             form == 1 ? "singular" : "plural");
        tmpl_emit(r, s, len, escape);
        return r->rc;
    }
    case H_JOIN: return join(r, n, args, escape);
    case H_SLUGIFY: return slugify(r, n, args, escape);
    case H_STRIP_TAGS: return strip_tags(r, n, args, escape);
    case H_SUBSTRING: return substring(r, n, args, escape);
    case H_YESNO: {
        struct tmpl_val v = n->n_args ? tmpl_scalar(args[0]) : (struct tmpl_val){.k = V_UNDEF};
        const char *key = v.k == V_UNDEF || v.k == V_NULL ? "maybe" : tmpl_truthy(v) ? "yes" : "no";
        struct tmpl_val out = tmpl_hash(r, n, key);
        if (out.k == V_UNDEF)
            out = (struct tmpl_val){.k = V_STR, .s = key, .len = strlen(key)};
        return emit_val(r, n, out, escape);
    }
    case H_NUMBER_FORMAT: return number_format(r, n, args, escape);
    case H_ADD:
    case H_SUBTRACT:
    case H_MULTIPLY:
    case H_DIVIDE:
    case H_MOD:
    case H_ABS:
    case H_CEILING:
    case H_FLOOR:
    case H_ROUND: return math(r, n, args, escape);
    case H_ENCODE_BASE64:
    case H_DECODE_BASE64:
    case H_ENCODE_URI:
    case H_DECODE_URI: return encoding(r, n, args, escape);
    case H_ORDINALIZE: return ordinalize(r, n, args, escape);
    case H_MD5:
    case H_SHA256:
    case H_SHA512: return digest(r, n, args, escape);
    case H_UUID: return uuid(r, n, escape);
    default:
        return tmpl_fail(r, n, RP_TMPL_EVALUE, "helper %d cannot be used here", n->helper);
    }
}
