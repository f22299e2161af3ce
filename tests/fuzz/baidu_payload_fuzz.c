/* Fuzzes what a sender and Baidu control in the BAIDU channel: the delivery content given to the
 * msg builder for both device types, the sign over it, and the same bytes as a Baidu answer. */
#include "channels/baidu/baidu_payload.h"
#include "channels/baidu/baidu_sign.h"
#include "channels/httpc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    json_t *content = json_loadb(text, size, 0, NULL);
    if (json_is_object(content)) {
        for (int dt = RP_BAIDU_ANDROID; dt <= RP_BAIDU_IOS; dt++) {
            char *msg = NULL;
            int type = -1;
            struct rp_err err;
            if (rp_baidu_msg_build(content, dt, &msg, &type, &err) == 0) {
                char sign[RP_BAIDU_SIGN_SIZE];
                struct rp_baidu_param p[] = {{"msg", msg}, {"channel_id", text}};
                rp_baidu_sign("POST", "https://h/rest/3.0/push/single_device", p, 2, "s", sign);
                if (strlen(sign) != 32)
                    abort();
            }
            free(msg);
        }
    }
    json_decref(content);
    static const long statuses[] = {200, 400, 401, 500};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct rp_httpc_response resp = {
            .status = statuses[i], .body = text, .body_len = size, .retry_after = text};
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_baidu_classify(&resp, 0, &r);
        rp_delivery_result_cleanup(&r);
    }
    free(text);
    return 0;
}
