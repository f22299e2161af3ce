/* ADM bodies, checksums and answers (see adm_payload.h). */
#include "adm_payload.h"

#include <openssl/evp.h>
#include <openssl/md5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../gateway/rc.h"
#include "../httpc.h"
#include "../push_data.h"

static int key_cmp(const void *a, const void *b)
{
    /* strcmp compares as unsigned char: the UTF-8 byte order ADM sorts by. */
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void rp_adm_md5(const json_t *data, char out[RP_ADM_MD5_SIZE])
{
    size_t n = json_object_size(data), i = 0;
    const char **keys = calloc(n ? n : 1, sizeof(*keys));
    if (!keys)
        abort();
    const char *k;
    const json_t *v;
    json_object_foreach((json_t *)data, k, v) keys[i++] = k;
    qsort(keys, n, sizeof(*keys), key_cmp);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1)
        abort();
    for (i = 0; i < n; i++) {
        const char *value = json_string_value(json_object_get(data, keys[i]));
        if (i)
            EVP_DigestUpdate(md, ",", 1);
        EVP_DigestUpdate(md, keys[i], strlen(keys[i]));
        EVP_DigestUpdate(md, ":", 1);
        if (value)
            EVP_DigestUpdate(md, value, strlen(value));
    }
    unsigned char digest[MD5_DIGEST_LENGTH];
    unsigned len = 0;
    EVP_DigestFinal_ex(md, digest, &len);
    EVP_MD_CTX_free(md);
    free(keys);
    EVP_EncodeBlock((unsigned char *)out, digest, (int)len);
}

size_t rp_adm_data_size(const json_t *data)
{
    return data ? json_dumpb(data, NULL, 0, JSON_COMPACT) : 0;
}

static const char *str(const json_t *content, const char *key)
{
    const char *s = json_string_value(json_object_get(content, key));
    return s && *s ? s : NULL;
}

static json_t *raw_message(const char *raw, struct rp_err *err)
{
    json_t *doc = json_loads(raw, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(doc)) {
        json_decref(doc);
        rp_err_set(err, RP_EINVAL, "RawContent", "must be a JSON object (an ADM message)");
        return NULL;
    }
    if (rp_push_data_check(json_object_get(doc, "data"), "RawContent.data", err) < 0) {
        json_decref(doc);
        return NULL;
    }
    return doc;
}

static json_t *built_message(const json_t *content, struct rp_err *err)
{
    json_t *data = rp_push_sdk_data(content, err);
    if (!data)
        return NULL;
    json_t *msg = json_object();
    json_object_set_new(msg, "data", data);
    const char *ck = str(content, "ConsolidationKey");
    if (ck)
        json_object_set_new(msg, "consolidationKey", json_string(ck));
    const char *expires = str(content, "ExpiresAfter");
    const json_t *ttl = json_object_get(content, "TimeToLive");
    if (expires)
        json_object_set_new(msg, "expiresAfter", json_integer(strtoll(expires, NULL, 10)));
    else if (json_is_integer(ttl))
        json_object_set_new(msg, "expiresAfter", json_integer(json_integer_value(ttl)));
    const char *md5 = str(content, "MD5");
    if (md5)
        json_object_set_new(msg, "md5", json_string(md5));
    return msg;
}

int rp_adm_payload_build(const json_t *content, char **body, struct rp_err *err)
{
    *body = NULL;
    const char *raw = str(content, "RawContent");
    json_t *msg = raw ? raw_message(raw, err) : built_message(content, err);
    if (!msg)
        return RP_EINVAL;
    const json_t *data = json_object_get(msg, "data");
    size_t size = rp_adm_data_size(data);
    if (size > RP_ADM_DATA_MAX) {
        json_decref(msg);
        return rp_err_set(err, RP_ELIMIT, raw ? "RawContent" : "Data",
                          "makes %zu bytes of data; ADM takes at most %d", size, RP_ADM_DATA_MAX);
    }
    if (!json_object_get(msg, "md5")) {
        char md5[RP_ADM_MD5_SIZE];
        rp_adm_md5(data, md5);
        json_object_set_new(msg, "md5", json_string(md5));
    }
    *body = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    return *body ? 0 : RP_ENOMEM;
}

static void scrub(char *out, size_t size, const char *s)
{
    size_t n = 0;
    for (; s && *s && n + 1 < size; s++)
        out[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
    out[n] = '\0';
}

enum rp_adm_verdict rp_adm_classify(const struct rp_httpc_response *resp, const char *sent,
                                    long long now_ms, struct rp_delivery_result *r)
{
    if (resp->transport_error) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "ADM unreachable: %s", resp->error);
        return RP_ADM_FINAL;
    }
    long st = resp->status;
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, NULL);
    char reason[96];
    scrub(reason, sizeof(reason), json_string_value(json_object_get(doc, "reason")));
    enum rp_adm_verdict verdict = RP_ADM_FINAL;
    long long after = rp_httpc_retry_after_ms(resp->retry_after, now_ms);
    if (st == 200) {
        const char *id = json_string_value(json_object_get(doc, "registrationID"));
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200, "accepted");
        if (id && *id && strcmp(id, sent) != 0 && strlen(id) < sizeof(r->updated_token)) {
            /* ADM's canonical id for the app instance: later messages go to it. */
            snprintf(r->updated_token, sizeof(r->updated_token), "%s", id);
            rp_delivery_result_set(r, RP_DS_SUCCESSFUL, 200,
                                   "accepted; ADM gave a new registration id");
        }
    } else if (st == 400 && (strcmp(reason, "Unregistered") == 0 ||
                             strcmp(reason, "InvalidRegistrationId") == 0)) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 400,
                               "%s: the registration id is no "
                               "longer valid",
                               reason);
        r->address_dead = 1;
    } else if (st == 401) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 401, "ADM refused the access token%s%s",
                               *reason ? ": " : "", reason);
        verdict = RP_ADM_REAUTH;
    } else if (st == 429 || (st == 403 && strcmp(reason, "MaxRateExceeded") == 0)) {
        rp_delivery_result_set(r, RP_DS_THROTTLED, (int)st, "%s",
                               *reason ? reason : "MaxRateExceeded");
        r->retry_after_ms = after > 0 ? after : 0;
    } else if (st >= 500 || st == 408) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, (int)st,
                               "ADM unavailable (HTTP %ld)%s%s", st, *reason ? ": " : "", reason);
        r->retry_after_ms = after > 0 ? after : 0;
    } else {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, (int)st, "%s",
                               *reason ? reason : "ADM refused the message");
    }
    json_decref(doc);
    return verdict;
}
