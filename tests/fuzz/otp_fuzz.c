/* Fuzzes the OTP request parsers (gateway/otp.c) with arbitrary bodies: SendOTPMessage and
 * VerifyOTPMessage parameters. Beyond "no crash, no leak", whatever the send parser accepts
 * must be within the documented bounds, render a message that fits its buffer and carries the
 * code, and turn into a MessageRequest that SendMessages' own validation accepts; whatever the
 * verify parser accepts must fit the MAC's input. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "otp.h"
#include "rc.h"
#include "render.h"

static const unsigned char master[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                         12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                         23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void check_send(const json_t *body)
{
    struct rp_otp_send p;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_otp_parse_send(body, &p, &err) != 0) {
        if (!err.field[0] || !err.msg[0])
            abort(); /* a refusal always names the member and says why */
        return;
    }
    if (p.code_length < RP_OTP_CODE_MIN || p.code_length > RP_OTP_CODE_MAX ||
        p.validity_minutes < RP_OTP_VALIDITY_MIN || p.validity_minutes > RP_OTP_VALIDITY_MAX ||
        p.allowed_attempts < RP_OTP_ATTEMPTS_MIN || p.allowed_attempts > RP_OTP_ATTEMPTS_MAX ||
        !p.language || !rp_otp_language(p.language) || !p.reference_id || !*p.reference_id)
        abort();
    char code[RP_OTP_CODE_SIZE], text[RP_OTP_TEXT_MAX];
    rp_otp_generate(p.code_length, code, NULL, NULL);
    int len = rp_otp_message(p.language, p.brand, code, p.validity_minutes, text, sizeof(text));
    if (len <= 0 || !strstr(text, code))
        abort();
    json_t *request = rp_otp_message_request(&p, text);
    if (rp_render_validate_message_request(request, &err) != 0)
        abort();
    json_decref(request);
    unsigned char key[32];
    char mac[RP_OTP_MAC_HEX];
    if (rp_otp_derive_key(master, RP_OTP_CODE_LABEL, key) ||
        rp_otp_mac(key, "0123456789abcdef0123456789abcdef", p.destination, p.reference_id, code,
                   mac, sizeof(mac)))
        abort();
}

static void check_verify(const json_t *body)
{
    struct rp_otp_verify v;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_otp_parse_verify(body, &v, &err) != 0)
        return;
    char mac[RP_OTP_MAC_HEX];
    if (rp_otp_mac(master, "0123456789abcdef0123456789abcdef", v.destination, v.reference_id, v.otp,
                   mac, sizeof(mac)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    check_send(body);
    check_verify(body);
    json_decref(body);
    return 0;
}
