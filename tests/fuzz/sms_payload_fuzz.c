/* Fuzzes what a sender and the SMS provider control in the SMS channel (channels/sms/
 * sms_payload.c): the delivery content (Body, OriginationNumber, SenderId, EntityId,
 * TemplateId, MessageType) through sender choice, segment counting, event attributes and the
 * form builder, and the same bytes as a provider answer through the result mapping. Beyond "no
 * crash, no leak": the built form parses back to the same To and Body, a body is never split
 * into fewer parts than its units need, and a provider's error message never carries the
 * destination number. Input: a JSON content object (or any bytes for the answer). */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "channels/httpc.h"
#include "channels/sms/sms_payload.h"
#include "delivery.h"

#define TO "+14155550123"

static void check_content(const json_t *content)
{
    const char *body = json_string_value(json_object_get(content, "Body"));
    struct rp_sms_segments seg;
    rp_sms_segments_count(body, &seg);
    size_t per_part = seg.encoding == RP_SMS_GSM7 ? 153 : 67;
    if (seg.parts < 1 || (seg.parts > 1 && (size_t)seg.parts * per_part < seg.units))
        abort();
    json_t *settings = json_pack("{s:s, s:s}", "SenderId", "Repoint", "ShortCode", "12345");
    struct rp_sms_sender sender;
    rp_sms_sender_select(content, settings, "MG0123", &sender);
    if (sender.kind == RP_SMS_SENDER_NONE || !sender.value)
        abort(); /* the settings always offer a sender */
    json_t *attrs = rp_sms_attributes(
        &seg, json_string_value(json_object_get(content, "MessageType")),
        sender.kind == RP_SMS_SENDER_FROM ? sender.value : NULL);
    json_decref(attrs);
    struct rp_sms_message m = {
        .to = TO,
        .body = body ? body : "",
        .sender = sender,
        .status_callback = "https://example.com/repoint/v1/sms/status?app=a&mid=m",
        .entity_id = json_string_value(json_object_get(content, "EntityId")),
        .template_id = json_string_value(json_object_get(content, "TemplateId")),
    };
    char *form = rp_sms_form_build(&m);
    struct rp_sms_form parsed;
    if (rp_sms_form_parse(form, strlen(form), &parsed) != 0)
        abort(); /* the strings are C strings: no NUL, so whatever is built parses back */
    const char *to = rp_sms_form_get(&parsed, "To");
    const char *back = rp_sms_form_get(&parsed, "Body");
    if (!to || strcmp(to, TO) != 0 || !back || strcmp(back, m.body) != 0)
        abort();
    rp_sms_form_cleanup(&parsed);
    free(form);
    json_decref(settings);
}

static void check_answer(const char *text, size_t len)
{
    static const long statuses[] = {201, 400, 401, 429, 500, 503};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        struct rp_httpc_response resp = {.status = statuses[i], .body = text, .body_len = len,
                                         .retry_after = i == 3 ? text : NULL,
                                         .content_type = "application/json"};
        struct rp_delivery_result result;
        rp_delivery_result_init(&result);
        result.attributes = json_object();
        rp_sms_classify(&resp, 1700000000000LL, &result);
        /* A provider's error message is copied with numbers redacted (a 2xx answer's status
         * message is the provider's opaque message id, kept verbatim as Pinpoint does). */
        if (statuses[i] >= 300 && strstr(result.status_message, TO))
            abort();
        rp_delivery_result_cleanup(&result);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    check_answer(text, size);
    json_t *content = json_loadb(text, size, JSON_ALLOW_NUL, NULL);
    if (content && json_is_object(content))
        check_content(content);
    json_decref(content);
    free(text);
    return 0;
}
