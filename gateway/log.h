/* Logging: one line per event, key=value text or JSON, a component on every line.
 * The macro checks the level before evaluating its arguments (Redis's serverLog).
 * Never pass device tokens, phone numbers, addresses, keys or codes: use rp_redact(). */
#ifndef RP_LOG_H
#define RP_LOG_H

#include <stddef.h>

enum rp_log_level { RP_LOG_DEBUG = 0, RP_LOG_INFO, RP_LOG_WARN, RP_LOG_ERROR, RP_LOG_OFF };

/* Atomic: SIGHUP changes it while every thread reads it. */
extern _Atomic int rp_log_min_level;

/* Parses "debug", "info", "warn", "error", "off"; returns a level or -1. */
int rp_log_level_parse(const char *s);
/* format: "text" or "json"; returns 0 or RP_EINVAL. */
int rp_log_set_format(const char *format);
void rp_log_set_level(int level);

/* Request id of the work this thread is doing, copied into every line it logs; NULL clears it.
 * Borrows nothing: the id is copied. */
void rp_log_set_request_id(const char *request_id);

void rp_log_write(int level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define rp_log(level, component, ...)                                                              \
    do {                                                                                           \
        if ((level) >= rp_log_min_level)                                                           \
            rp_log_write((level), (component), __VA_ARGS__);                                       \
    } while (0)

#define rp_debug(component, ...) rp_log(RP_LOG_DEBUG, component, __VA_ARGS__)
#define rp_info(component, ...) rp_log(RP_LOG_INFO, component, __VA_ARGS__)
#define rp_warn(component, ...) rp_log(RP_LOG_WARN, component, __VA_ARGS__)
#define rp_error(component, ...) rp_log(RP_LOG_ERROR, component, __VA_ARGS__)

/* Writes a redacted form of a secret-bearing value into out (keeps a short prefix and
 * the length), always NUL-terminated; returns out. */
const char *rp_redact(const char *value, char *out, size_t out_size);

#endif
