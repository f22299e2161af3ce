#include "log.h"
#include "rc.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

_Atomic int rp_log_min_level = RP_LOG_INFO;
static _Atomic int log_json;
static _Thread_local char thread_request_id[64];

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

int rp_log_level_parse(const char *s)
{
    for (int i = 0; i <= RP_LOG_OFF; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return RP_LOG_WARN;
    return -1;
}

int rp_log_set_format(const char *format)
{
    if (strcmp(format, "json") == 0)
        log_json = 1;
    else if (strcmp(format, "text") == 0)
        log_json = 0;
    else
        return RP_EINVAL;
    return 0;
}

void rp_log_set_level(int level)
{
    rp_log_min_level = level;
}

void rp_log_set_request_id(const char *request_id)
{
    snprintf(thread_request_id, sizeof(thread_request_id), "%s", request_id ? request_id : "");
}

/* Escapes for a JSON string value; truncates rather than allocating. */
static size_t json_escape(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; *src && n + 7 < cap; src++) {
        unsigned char c = (unsigned char)*src;
        if (c == '"' || c == '\\') {
            dst[n++] = '\\';
            dst[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(dst + n, cap - n, "\\u%04x", c);
        } else {
            dst[n++] = (char)c;
        }
    }
    dst[n] = '\0';
    return n;
}

void rp_log_write(int level, const char *component, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    size_t w = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(when + w, sizeof(when) - w, ".%03ldZ", ts.tv_nsec / 1000000);

    const char *lvl = level_names[level < 0 ? 0 : level > RP_LOG_ERROR ? RP_LOG_ERROR : level];
    char line[4608];
    if (log_json) {
        char esc[4096];
        json_escape(esc, sizeof(esc), msg);
        int n = snprintf(line, sizeof(line), "{\"ts\":\"%s\",\"level\":\"%s\",\"component\":\"%s\"",
                         when, lvl, component);
        if (thread_request_id[0])
            n += snprintf(line + n, sizeof(line) - (size_t)n, ",\"request_id\":\"%s\"",
                          thread_request_id);
        snprintf(line + n, sizeof(line) - (size_t)n, ",\"msg\":\"%s\"}\n", esc);
    } else if (thread_request_id[0]) {
        snprintf(line, sizeof(line), "%s %s [%s] request_id=%s %s\n", when, lvl, component,
                 thread_request_id, msg);
    } else {
        snprintf(line, sizeof(line), "%s %s [%s] %s\n", when, lvl, component, msg);
    }
    /* One write per line keeps lines whole when several threads log at once. */
    fputs(line, stderr);
}

const char *rp_redact(const char *value, char *out, size_t out_size)
{
    if (!value) {
        snprintf(out, out_size, "(none)");
        return out;
    }
    size_t len = strlen(value);
    size_t keep = len >= 12 ? 4 : len >= 6 ? 2 : 0;
    snprintf(out, out_size, "%.*s***(%zu)", (int)keep, value, len);
    return out;
}
