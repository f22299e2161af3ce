/* IANA time zones for the date helpers (tz=America/Los_Angeles): the UTC offset and abbreviation
 * a zone has at an instant, read from the system's compiled zone files (TZif, /usr/share/zoneinfo
 * or $TZDIR). The C library cannot answer this for a zone other than the process's own without
 * setenv("TZ"), which is not thread-safe, so the files are read here. Each zone is read once per
 * process into a fixed table (no allocation, nothing to free); lookups after that take a mutex
 * only to find the entry. Past a file's last transition (2037 in "fat" files, the zone's last
 * rule change in "slim" ones) the POSIX TZ rule at the file's end decides. */
#include "template_int.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TZ_MAX_TRANS 1200 /* glibc's TZ_MAX_TIMES */
#define TZ_MAX_TYPES 64
#define TZ_NAME_MAX 64
#define TZ_CACHE 32

struct tz_zone {
    char name[TZ_NAME_MAX];
    char rule[64]; /* the POSIX TZ string after the data, for instants past the last transition */
    uint32_t n_trans, n_types;
    int64_t at[TZ_MAX_TRANS];
    uint8_t idx[TZ_MAX_TRANS];
    int32_t off[TZ_MAX_TYPES];
    char abbr[TZ_MAX_TYPES][8];
};

static struct tz_zone cache[TZ_CACHE];
static size_t cache_n;
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* A zone name as the tz database spells them: no "..", no leading '/', nothing but letters,
 * digits and _ + - /. */
static bool valid_name(const char *s, size_t len)
{
    if (len == 0 || len >= TZ_NAME_MAX || s[0] == '/' || s[0] == '.' || memmem(s, len, "..", 2))
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '-' || c == '/'))
            return false;
    }
    return true;
}

/* Parses a TZif file (version 2 or later: its 64-bit part) into z. */
static bool parse_tzif(const unsigned char *d, size_t n, struct tz_zone *z)
{
    if (n < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2')
        return false;
    /* Skip the 32-bit part to the second header. */
    uint32_t c[6];
    for (int i = 0; i < 6; i++)
        c[i] = be32(d + 20 + (size_t)4 * i); /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
    uint64_t v1 = (uint64_t)c[3] * 5 + (uint64_t)c[4] * 6 + c[5] + (uint64_t)c[2] * 8 + c[1] + c[0];
    if (44 + v1 + 44 > n)
        return false;
    const unsigned char *h = d + 44 + v1;
    if (memcmp(h, "TZif", 4) != 0)
        return false;
    for (int i = 0; i < 6; i++)
        c[i] = be32(h + 20 + (size_t)4 * i);
    uint32_t timecnt = c[3], typecnt = c[4], charcnt = c[5];
    if (timecnt > TZ_MAX_TRANS || typecnt == 0 || typecnt > TZ_MAX_TYPES)
        return false;
    const unsigned char *p = h + 44;
    size_t need = (size_t)timecnt * 9 + (size_t)typecnt * 6 + charcnt;
    if ((size_t)(p - d) + need > n)
        return false;
    const unsigned char *idx = p + (size_t)timecnt * 8, *types = idx + timecnt,
                        *chars = types + (size_t)typecnt * 6;
    for (uint32_t i = 0; i < timecnt; i++) {
        z->at[i] = be64(p + (size_t)i * 8);
        z->idx[i] = idx[i];
        if (idx[i] >= typecnt)
            return false;
    }
    for (uint32_t i = 0; i < typecnt; i++) {
        z->off[i] = (int32_t)be32(types + (size_t)i * 6);
        uint8_t ai = types[(size_t)i * 6 + 5];
        size_t k = 0;
        while (ai + k < charcnt && chars[ai + k] && k + 1 < sizeof(z->abbr[i])) {
            z->abbr[i][k] = (char)chars[ai + k];
            k++;
        }
        z->abbr[i][k] = '\0';
    }
    z->n_trans = timecnt;
    z->n_types = typecnt;
    /* The footer: "\nPST8PDT,M3.2.0,M11.1.0\n" after the leap second and indicator records. */
    size_t end = (size_t)(p - d) + need + (size_t)c[2] * 12 + c[1] + c[0];
    if (end < n && d[end] == '\n') {
        size_t k = 0;
        while (end + 1 + k < n && d[end + 1 + k] != '\n' && k + 1 < sizeof(z->rule)) {
            z->rule[k] = (char)d[end + 1 + k];
            k++;
        }
        z->rule[k] = '\0';
    }
    return true;
}

/* ---- POSIX TZ strings (RFC 8536 section 3.3): "std offset [dst [offset] [,start[/time],end[/time]]]" */

static bool rule_name(const char **s, char out[8])
{
    const char *p = *s;
    size_t k = 0;
    if (*p == '<') {
        p++;
        while (*p && *p != '>') {
            if (k + 1 < 8)
                out[k++] = *p;
            p++;
        }
        if (*p != '>')
            return false;
        p++;
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (k + 1 < 8)
                out[k++] = *p;
            p++;
        }
        if (p - *s < 3)
            return false;
    }
    out[k] = '\0';
    *s = p;
    return true;
}

/* [+-]hh[:mm[:ss]] -> seconds (sign as written). */
static bool rule_time(const char **s, long *out)
{
    const char *p = *s;
    int sign = 1;
    if (*p == '+' || *p == '-')
        sign = *p++ == '-' ? -1 : 1;
    long part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i && *p != ':')
            break;
        if (i)
            p++;
        if (*p < '0' || *p > '9')
            return false;
        long v = 0;
        while (*p >= '0' && *p <= '9' && v < 1000)
            v = v * 10 + (*p++ - '0');
        part[i] = v;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *s = p;
    return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A transition of year y: Mm.w.d (day d of week w of month m, 5 = the last), Jn (1-365, Feb 29
 * not counted) or n (0-365), plus the local time of day (default 02:00), as local seconds since
 * the epoch. */
static bool rule_date(const char **s, int64_t y, int64_t *local)
{
    const char *p = *s;
    int64_t day;
    if (*p == 'M') {
        p++;
        long m = strtol(p, (char **)&p, 10), w, d;
        if (*p++ != '.')
            return false;
        w = strtol(p, (char **)&p, 10);
        if (*p++ != '.')
            return false;
        d = strtol(p, (char **)&p, 10);
        if (m < 1 || m > 12 || w < 1 || w > 5 || d < 0 || d > 6)
            return false;
        int64_t first = days_from_civil(y, (unsigned)m, 1);
        int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
        day = first + ((d - wd + 7) % 7) + (w - 1) * 7;
        static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int64_t last = first + mdays[m - 1] + (m == 2 && leap(y)) - 1;
        while (day > last)
            day -= 7;
    } else if (*p == 'J') {
        p++;
        long n = strtol(p, (char **)&p, 10);
        if (n < 1 || n > 365)
            return false;
        day = days_from_civil(y, 1, 1) + n - 1 + (leap(y) && n >= 60);
    } else if (*p >= '0' && *p <= '9') {
        long n = strtol(p, (char **)&p, 10);
        if (n > 365)
            return false;
        day = days_from_civil(y, 1, 1) + n;
    } else {
        return false;
    }
    long tod = 7200;
    if (*p == '/') {
        p++;
        if (!rule_time(&p, &tod))
            return false;
    }
    *local = day * 86400 + tod;
    *s = p;
    return true;
}

bool tmpl_tz_rule_offset(const char *rule, int64_t t, long *off, char abbr[8])
{
    const char *p = rule;
    char std[8], dst[8];
    long std_west, dst_west;
    if (!rule_name(&p, std) || !rule_time(&p, &std_west))
        return false;
    if (!*p) {
        *off = -std_west;
        memcpy(abbr, std, 8);
        return true;
    }
    if (!rule_name(&p, dst))
        return false;
    dst_west = std_west - 3600;
    if (*p && *p != ',' && !rule_time(&p, &dst_west))
        return false;
    if (*p != ',')
        return false; /* no rule: POSIX's default US rules are not assumed */
    p++;
    const char *start_rule = p;
    int64_t y = t / 31556952 + 1970; /* the year t falls in, to within a day */
    int64_t start, end;
    const char *q = start_rule;
    if (!rule_date(&q, y, &start) || *q++ != ',' || !rule_date(&q, y, &end) || *q)
        return false;
    /* Start is in standard time, end in daylight time; both to UTC. */
    start += std_west;
    end += dst_west;
    bool in_dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    *off = -(in_dst ? dst_west : std_west);
    memcpy(abbr, in_dst ? dst : std, 8);
    return true;
}

static bool load_zone(const char *name, size_t len, struct tz_zone *z)
{
    const char *dir = getenv("TZDIR");
    char path[256];
    snprintf(path, sizeof(path), "%s/%.*s", dir && *dir ? dir : "/usr/share/zoneinfo", (int)len,
             name);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    static _Thread_local unsigned char buf[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof(buf) && (r = read(fd, buf + got, sizeof(buf) - got)) > 0)
        got += (size_t)r;
    close(fd);
    memset(z, 0, sizeof(*z));
    memcpy(z->name, name, len);
    return parse_tzif(buf, got, z);
}

static void zone_at(const struct tz_zone *z, int64_t t, long *off, char abbr[8])
{
    if ((!z->n_trans || t >= z->at[z->n_trans - 1]) && z->rule[0] &&
        tmpl_tz_rule_offset(z->rule, t, off, abbr))
        return;
    uint32_t type = 0; /* before the first transition: type 0 (RFC 8536) */
    if (z->n_trans && t >= z->at[0]) {
        uint32_t lo = 0, hi = z->n_trans; /* last transition <= t */
        while (hi - lo > 1) {
            uint32_t mid = lo + (hi - lo) / 2;
            if (z->at[mid] <= t)
                lo = mid;
            else
                hi = mid;
        }
        type = z->idx[lo];
    }
    *off = z->off[type];
    memcpy(abbr, z->abbr[type], 8);
}

bool tmpl_tz_offset(const char *name, size_t len, int64_t utc_secs, long *off, char abbr[8])
{
    if (!valid_name(name, len))
        return false;
    pthread_mutex_lock(&cache_lock);
    for (size_t i = 0; i < cache_n; i++)
        if (strlen(cache[i].name) == len && memcmp(cache[i].name, name, len) == 0) {
            const struct tz_zone *z = &cache[i];
            pthread_mutex_unlock(&cache_lock);
            zone_at(z, utc_secs, off, abbr); /* entries never change once published */
            return true;
        }
    bool ok;
    if (cache_n < TZ_CACHE) {
        ok = load_zone(name, len, &cache[cache_n]);
        if (ok)
            zone_at(&cache[cache_n++], utc_secs, off, abbr);
    } else {
        /* More distinct zones than the table holds: read this one each time. */
        static _Thread_local struct tz_zone spare;
        ok = load_zone(name, len, &spare);
        if (ok)
            zone_at(&spare, utc_secs, off, abbr);
    }
    pthread_mutex_unlock(&cache_lock);
    return ok;
}
