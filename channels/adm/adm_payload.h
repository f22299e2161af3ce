/* The ADM channel's pure parts: the message body sent to
 * POST /messaging/registrations/{id}/messages, its md5 checksum, and the mapping of ADM answers
 * onto Pinpoint's DeliveryStatus (PROVIDERS.md section 3). */
#ifndef RP_ADM_PAYLOAD_H
#define RP_ADM_PAYLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "../../gateway/delivery.h"
#include "../../gateway/err.h"

struct rp_httpc_response;

/* ADM's limit on the data of one message. */
#define RP_ADM_DATA_MAX 6144
/* Base64 of an MD5 digest, with its NUL. */
#define RP_ADM_MD5_SIZE 25

/* ADM's checksum of data (an object of strings, borrowed; NULL counts as empty): the keys sorted
 * by their UTF-8 bytes, "key:value" pairs joined with ",", MD5, standard base64. */
void rp_adm_md5(const json_t *data, char out[RP_ADM_MD5_SIZE]);

/* The size ADM counts for data: its compact JSON serialization. */
size_t rp_adm_data_size(const json_t *data);

/* Builds the message body from content (a delivery's push content, borrowed): data (the
 * Pinpoint Android SDK members, as FCM's), consolidationKey, expiresAfter (ExpiresAfter, else
 * TimeToLive), md5 (MD5 as given, else computed). RawContent is an ADM message sent as given
 * (md5 computed when it has none). Returns 0 with *body new, or RP_EINVAL / RP_ELIMIT with err
 * naming the member at fault. */
int rp_adm_payload_build(const json_t *content, char **body, struct rp_err *err);

enum rp_adm_verdict { RP_ADM_FINAL = 0, RP_ADM_REAUTH = 1 };

/* Maps an ADM answer for registration id sent (borrowed) onto result:
 *   200                          SUCCESSFUL; a different registrationID -> updated_token
 *   400 Unregistered,
 *       InvalidRegistrationId    PERMANENT_FAILURE, address_dead
 *   400 other, 413               PERMANENT_FAILURE with the reason
 *   401                          RP_ADM_REAUTH (result says PERMANENT_FAILURE meanwhile)
 *   429, 403 MaxRateExceeded     THROTTLED, retry_after_ms from Retry-After
 *   500, 503, transport          TEMPORARY_FAILURE, retry_after_ms from Retry-After
 * now_ms is the wall clock. Borrows response. */
enum rp_adm_verdict rp_adm_classify(const struct rp_httpc_response *response, const char *sent,
                                    long long now_ms, struct rp_delivery_result *result);

#endif
