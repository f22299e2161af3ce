/* The pure parts of speaking to a Redis Cluster: which slot a key hashes to (CRC16 with hash
 * tags, as every cluster client must compute it), which argument of a command is its key, and
 * the MOVED / ASK redirections a node answers with while slots move. gateway/store.c routes
 * commands with them; nothing here does I/O. */
#ifndef RP_CLUSTER_H
#define RP_CLUSTER_H

#include <stddef.h>

#define RP_CLUSTER_SLOTS 16384

/* The slot of a key: CRC16-XMODEM of the key, or of the part between the first '{' and the next
 * '}' when that part is not empty, modulo 16384. */
unsigned rp_cluster_key_slot(const char *key, size_t len);

/* The key that decides where a command runs: argv[1] for most commands, the first key of
 * EVAL and EVALSHA (none when numkeys is 0), the first stream after STREAMS of XREAD and
 * XREADGROUP.
 * Returns 1 and sets key and len, or 0 for a command without keys (PING, SCAN, TIME, SCRIPT ...),
 * which may run on any node. Multi-key commands must keep their keys in one slot (hash tags);
 * Redis answers CROSSSLOT otherwise. */
int rp_cluster_command_key(int argc, const char *const *argv, const size_t *lens, const char **key,
                           size_t *len);

/* Splits a command in RESP (as redisFormatCommand writes it) into at most max arguments pointing
 * into buf. Returns the argument count, or -1 when buf is not one well-formed command. */
int rp_cluster_parse_command(const char *buf, size_t len, int max, const char **argv,
                             size_t *lens);

/* Parses "MOVED 3999 127.0.0.1:6381" or "ASK 3999 [::1]:6381". Returns 1 (MOVED), 2 (ASK) with
 * slot, host and port set, or 0 when the error is neither. host is "" when the node did not
 * know its own address ("MOVED 3999 :6381"): the replying node's host is meant. */
int rp_cluster_parse_redirect(const char *error, unsigned *slot, char *host, size_t host_size,
                              int *port);

#endif
