/* Fuzzes the reading of FCM's answers (rp_fcm_classify, channels/fcm/fcm_payload.c): any body
 * under any status, no crash, no leak; and for a 200 body jansson reads, the message name read
 * without a tree is the one jansson's tree has (the last top-level "name" when it is a string
 * that fits), or none where it has none. Bodies jansson refuses for its own limits (a number
 * out of range, nesting past 2048) may still give their name. The first byte picks the status;
 * the rest is the body. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../channels/fcm/fcm_payload.h"
#include "../../channels/httpc.h"

static const long statuses[] = {200, 400, 401, 403, 404, 408, 429, 500, 503};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    const char *body = (const char *)data + 1;
    size_t body_len = size - 1;
    struct rp_httpc_response resp = {.status = status, .body = body, .body_len = body_len};
    struct rp_delivery_result r;
    rp_delivery_result_init(&r);
    rp_fcm_classify(&resp, 1000, &r);
    if (status == 200) {
        json_t *doc = json_loadb(body, body_len, 0, NULL);
        const char *name = json_string_value(json_object_get(doc, "name"));
        /* Jansson skips a raw NUL between tokens where yajl stops: those texts are left out. */
        if (doc && !memchr(body, 0, body_len)) {
            if (name && strlen(name) < sizeof(r.message_id) && strcmp(r.message_id, name) != 0)
                abort();
            if (!(name && strlen(name) < sizeof(r.message_id)) && r.message_id[0])
                abort();
        }
        json_decref(doc);
    }
    rp_delivery_result_cleanup(&r);
    return 0;
}
