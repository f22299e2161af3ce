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
        int rc = rp_fcm_payload_build(content, "token", &body, &err);
        if (rc == 0 && !body)
            abort();
        /* The remembered body (kept across inputs, as a transport keeps it across sends) is the
         * builder's, on the content's first send and on a later one. */
        static struct rp_fcm_body_memo memo;
        for (int again = 0; again < 2; again++) {
            char *m = NULL;
            size_t cap = 0, len = 0;
            int rc_m = rp_fcm_payload_write_memo(&memo, content, "token", &m, &cap, &len, &err);
            if (rc_m != rc || (rc == 0 && (len != strlen(body) || strcmp(m, body) != 0)))
                abort();
            free(m);
        }
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
