/* Fuzzes what an SMS provider's status callback controls: the form body (parsed into a receipt)
 * and the signature header (verified against a fixed URL and token). Input: the signature up to
 * the first '\n', then the form body. */
#include "channels/sms/sms_payload.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size);
    size_t sig_len = nl ? (size_t)(nl - data) : 0;
    char *signature = malloc(sig_len + 1);
    memcpy(signature, data, sig_len);
    signature[sig_len] = '\0';
    const char *form = nl ? (const char *)nl + 1 : (const char *)data;
    size_t form_len = nl ? size - sig_len - 1 : size;
    struct rp_sms_status status;
    struct rp_err err;
    rp_sms_status_parse(form, form_len, &status, &err);
    rp_sms_signature_verify("token", "https://example.com/repoint/v1/sms/status?app=a&mid=m", form,
                            form_len, signature);
    struct rp_sms_form parsed;
    rp_sms_form_parse(form, form_len, &parsed); /* cleaned up on every return, as documented */
    rp_sms_form_cleanup(&parsed);
    free(signature);
    return 0;
}
