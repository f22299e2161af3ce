/* Fuzzes what a sender and ADM control in the ADM channel: the delivery content given to the
 * ADM body builder (md5 included), and the same bytes as an ADM answer body. */
#include "channels/adm/adm_payload.h"
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
        if (rp_adm_payload_build(content, &body, &err) == 0 && !body)
            abort();
        free(body);
    }
    json_decref(content);
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    static const long statuses[] = {200, 400, 401, 403, 429, 503};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct rp_httpc_response resp = {
            .status = statuses[i], .body = text, .body_len = size, .retry_after = text};
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        rp_adm_classify(&resp, "reg", 0, &r);
        rp_delivery_result_cleanup(&r);
    }
    free(text);
    return 0;
}
