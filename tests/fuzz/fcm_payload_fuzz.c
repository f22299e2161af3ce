/* Fuzzes what a sender and FCM control in the GCM channel: the delivery content (rendered from
 * the client's GCMMessage, RawContent verbatim) given to the FCM body builder, and the same bytes
 * as an FCM answer body for the result mapping. */
#include "channels/fcm/fcm_payload.h"
#include "channels/httpc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *content = json_loadb((const char *)data, size, 0, NULL);
    if (json_is_object(content)) {
        char *body = NULL;
        struct rp_err err;
        if (rp_fcm_payload_build(content, "token", &body, &err) == 0 && !body)
            abort();
        free(body);
    }
    json_decref(content);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    static const long statuses[] = {200, 400, 401, 404, 429, 503};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct rp_httpc_response resp = {
            .status = statuses[i], .body = text, .body_len = size, .retry_after = text};
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_fcm_classify(&resp, 0, &r);
        rp_delivery_result_cleanup(&r);
    }
    free(text);
    return 0;
}
