#include "cluster.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, as the cluster specification
 * defines the key hash. */
static uint16_t crc16(const unsigned char *p, size_t len)
{
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int bit = 0; bit < 8; bit++)
            crc = (crc & 0x8000) ? (uint16_t)((crc << 1) ^ 0x1021) : (uint16_t)(crc << 1);
    }
    return crc;
}

unsigned rp_cluster_key_slot(const char *key, size_t len)
{
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1) {
            key = open + 1;
            len = (size_t)(close - open - 1);
        }
    }
    return crc16((const unsigned char *)key, len) & (RP_CLUSTER_SLOTS - 1);
}

static int arg_is(const char *arg, size_t len, const char *word)
{
    return len == strlen(word) && strncasecmp(arg, word, len) == 0;
}

int rp_cluster_command_key(int argc, const char *const *argv, const size_t *lens, const char **key,
                           size_t *len)
{
    static const char *const keyless[] = {"PING",   "SCAN",  "TIME",   "INFO",  "SCRIPT",
                                          "CLUSTER", "ECHO", "DBSIZE", "CLIENT", "CONFIG",
                                          "AUTH",   "HELLO", "SELECT", "ASKING", "READONLY"};
    if (argc < 1)
        return 0;
    for (size_t i = 0; i < sizeof(keyless) / sizeof(keyless[0]); i++)
        if (arg_is(argv[0], lens[0], keyless[i]))
            return 0;
    int at = 1;
    if (arg_is(argv[0], lens[0], "EVAL") || arg_is(argv[0], lens[0], "EVALSHA") ||
        arg_is(argv[0], lens[0], "EVAL_RO") || arg_is(argv[0], lens[0], "EVALSHA_RO")) {
        if (argc < 3 || lens[2] == 0 || lens[2] > 9 || atoi(argv[2]) <= 0)
            return 0;
        at = 3;
    } else if (arg_is(argv[0], lens[0], "XREAD") || arg_is(argv[0], lens[0], "XREADGROUP")) {
        at = -1;
        for (int i = 1; i < argc - 1; i++)
            if (arg_is(argv[i], lens[i], "STREAMS")) {
                at = i + 1;
                break;
            }
        if (at < 0)
            return 0;
    }
    if (at >= argc)
        return 0;
    *key = argv[at];
    *len = lens[at];
    return 1;
}

/* Reads a decimal number terminated by CRLF at *p; advances past the CRLF. */
static long read_number(const char **p, const char *end)
{
    size_t avail = (size_t)(end - *p), i = 0;
    const char *s = *p;
    long n = 0;
    for (; i < avail && s[i] >= '0' && s[i] <= '9'; i++) {
        if (n > 512L * 1024 * 1024)
            return -1;
        n = n * 10 + (s[i] - '0');
    }
    if (i == 0 || avail - i < 2 || s[i] != '\r' || s[i + 1] != '\n')
        return -1;
    *p = s + i + 2;
    return n;
}

int rp_cluster_parse_command(const char *buf, size_t len, int max, const char **argv,
                             size_t *lens)
{
    const char *p = buf, *end = buf + len;
    if (p >= end || *p++ != '*')
        return -1;
    long argc = read_number(&p, end);
    if (argc < 1 || argc > max)
        return -1;
    for (long i = 0; i < argc; i++) {
        if (p >= end || *p++ != '$')
            return -1;
        long n = read_number(&p, end);
        if (n < 0 || end - p < n + 2 || p[n] != '\r' || p[n + 1] != '\n')
            return -1;
        argv[i] = p;
        lens[i] = (size_t)n;
        p += n + 2;
    }
    return p == end ? (int)argc : -1;
}

int rp_cluster_parse_redirect(const char *error, unsigned *slot, char *host, size_t host_size,
                              int *port)
{
    int kind;
    if (strncmp(error, "MOVED ", 6) == 0)
        kind = 1;
    else if (strncmp(error, "ASK ", 4) == 0)
        kind = 2;
    else
        return 0;
    const char *p = error + (kind == 1 ? 6 : 4);
    char *end;
    unsigned long s = strtoul(p, &end, 10);
    if (end == p || *end != ' ' || s >= RP_CLUSTER_SLOTS)
        return 0;
    const char *addr = end + 1;
    const char *colon = strrchr(addr, ':');
    if (!colon)
        return 0;
    const char *h = addr;
    size_t hlen = (size_t)(colon - addr);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']') {
        h++;
        hlen -= 2;
    }
    long pn = strtol(colon + 1, &end, 10);
    if (*end || end == colon + 1 || pn < 1 || pn > 65535 || hlen >= host_size)
        return 0;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *slot = (unsigned)s;
    *port = (int)pn;
    return kind;
}
