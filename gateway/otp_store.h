/* One-time password records and send counters in Redis. Every key is under the app's hash tag
 * (gateway/keyspace.h), so each operation is one atomic script on one slot of a cluster, and
 * the janitor's SCAN of rp:{a:APP}... removes them with the app:
 *   rp:{a:APP}:otp:<record>      hash {h: code MAC, exp: expiry (ms), left: attempts left},
 *                                expiring at exp; <record> is rp_otp_mac of (app, destination,
 *                                ReferenceId) without a code, so no phone number is in a key
 *   rp:{a:APP}:otp-n:d:<dest>    sends to one destination in the hour since the first one
 *   rp:{a:APP}:otp-n:a           sends of the app in the minute since the first one */
#ifndef RP_OTP_STORE_H
#define RP_OTP_STORE_H

#include <stdint.h>

#define RP_OTP_LIMIT_DESTINATION 1
#define RP_OTP_LIMIT_APP         2

/* Counts one send against the limits (0: no limit): both counters move together or neither
 * does. Returns 0, RP_ELIMIT with *which set to RP_OTP_LIMIT_DESTINATION or RP_OTP_LIMIT_APP,
 * or RP_ESTORE. */
int rp_otp_store_admit(const char *app, const char *destination_id, long per_destination_hour,
                       long per_app_minute, int *which);

/* Stores a record, replacing any earlier one of the same name (a new send supersedes the old
 * code). Returns 0 or RP_ESTORE. */
int rp_otp_store_put(const char *app, const char *record, const char *mac_hex, int64_t expires_ms,
                     int attempts);

/* Checks a guess's MAC against the record: one attempt is taken atomically first (two
 * concurrent guesses take two), the MACs are compared in constant time, and a match consumes
 * the record (at most one of several concurrent right guesses wins). An expired, exhausted or
 * missing record is never valid. Returns 1 (valid), 0 (not), or RP_ESTORE. */
int rp_otp_store_check(const char *app, const char *record, const char *mac_hex, int64_t now_ms);

#endif
