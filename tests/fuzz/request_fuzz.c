/* Fuzzes what a client controls in a request before any handler acts: the method, the raw path
 * (routing and percent-decoding), and the JSON body through every request validator (endpoint,
 * batch item, merge, settings, each channel's settings).
 * Input: first byte picks the method, then the path up to '\n', then the body. */
#include "api/api.h"
#include "channels/channel.h"
#include "endpoint.h"
#include "http.h"

#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void run_validators(const json_t *body)
{
    struct rp_err err;
    rp_endpoint_validate(body, RP_ENDPOINT_REQUEST, &err);
    rp_endpoint_validate(body, RP_ENDPOINT_BATCH_ITEM, &err);
    if (rp_endpoint_validate(body, RP_ENDPOINT_REQUEST, &err) == 0) {
        json_t *merged = rp_endpoint_merge(NULL, body, NULL, "app", "id", "2026-01-01T00:00:00Z",
                                           &err);
        if (merged) {
            json_t *again = rp_endpoint_merge(merged, body, body, "app", "id",
                                              "2026-01-02T00:00:00Z", &err);
            json_decref(again);
        }
        json_decref(merged);
    }
    rp_api_settings_validate(body, &err);
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    for (size_t i = 0; i < n; i++) {
        json_t *members = json_object();
        rp_channel_settings_validate(all[i], body, members, &err);
        json_decref(members);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "PUT", "POST", "DELETE", "PATCH"};
    if (size < 1)
        return 0;
    const char *method = methods[data[0] % 5];
    data++;
    size--;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t path_len = nl ? (size_t)(nl - data) : size;
    char *path = malloc(path_len + 1);
    memcpy(path, data, path_len);
    path[path_len] = '\0';
    char *params[RP_MAX_PATH_PARAMS];
    int n_params = 0, status = 0;
    if (strlen(path) == path_len && rp_http_find_route(method, path, params, &n_params, &status))
        for (int i = 0; i < n_params; i++)
            free(params[i]);
    free(rp_http_percent_decode(path, path_len));
    free(path);
    if (nl) {
        const char *body = (const char *)nl + 1;
        size_t body_len = size - path_len - 1;
        json_t *doc = json_loadb(body, body_len, JSON_REJECT_DUPLICATES, NULL);
        if (json_is_object(doc))
            run_validators(doc);
        json_decref(doc);
    }
    return 0;
}
