/* Fuzzes what a message request controls on the way to APNs: the rendered push content (any
 * JSON, including RawContent and every typed member) through the payload builder, and what an
 * APNs server controls: a response body through the answer mapping. Input: a JSON content
 * document; the same bytes are also classified as a 400 and a 410 body. */
#include "channels/apns/apns_payload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *content = json_loadb((const char *)data, size, 0, NULL);
    struct rp_apns_notification n;
    char why[256];
    for (int voip = 0; voip < 2; voip++) {
        int rc = rp_apns_notification_build(content, "com.example.app", voip, 1800000000, &n, why,
                                            sizeof(why));
        /* The remembered payload (kept across inputs, as a transport keeps it across sends) is
         * the builder's, on its first and on a later send of the content. */
        static struct rp_apns_payload_memo memo;
        for (int again = 0; again < 2; again++) {
            struct rp_apns_notification m;
            char why_m[256];
            int rc_m = rp_apns_notification_build_memo(&memo, content, "com.example.app", voip,
                                                       1800000000, &m, why_m, sizeof(why_m));
            if (rc_m != rc || (rc == 0 && (m.payload_len != n.payload_len ||
                                           memcmp(m.payload, n.payload, n.payload_len) != 0)))
                abort();
            rp_apns_notification_cleanup(&m);
        }
        if (rc == 0) {
            size_t limit = voip ? RP_APNS_VOIP_PAYLOAD_MAX : RP_APNS_PAYLOAD_MAX;
            if (n.payload_len > limit || strlen(n.payload) != n.payload_len)
                abort();
            json_t *back = json_loadb(n.payload, n.payload_len, 0, NULL);
            if (!json_is_object(back))
                abort(); /* the builder only sends JSON objects */
            json_decref(back);
        }
        rp_apns_notification_cleanup(&n);
    }
    json_decref(content);

    static const int statuses[] = {400, 410, 200, 0};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct rp_delivery_result r;
        rp_delivery_result_init(&r);
        struct rp_apns_answer a = {.status = statuses[i], .body = (const char *)data,
                                   .body_len = size, .transport_error = "x"};
        char reason[64];
        rp_apns_classify(&a, &r, reason, sizeof(reason));
        rp_delivery_result_cleanup(&r);
    }
    return 0;
}
