/* SendOTPMessage and VerifyOTPMessage. The code exists in clear only on this stack and in the
 * SMS delivery's Body while it is being sent: the queue entry (deleted once acknowledged), a
 * pending retry (bounded by direct.deadline_ms), never an event or a dead letter (direct sends
 * are not dead-lettered: gateway/worker.c). What is stored is its MAC (gateway/otp.h,
 * gateway/otp_store.h). Nothing here logs or answers a code, a guess or a phone number. */
#include "otp.h"
#include "api.h"
#include "config.h"
#include "otp_store.h"
#include "admission.h"
#include "metrics.h"
#include "../otp.h"
#include "rc.h"
#include "util.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <string.h>

struct otp_keys {
    unsigned char code[32];   /* MACs of codes */
    unsigned char record[32]; /* names of records and counters */
};

/* Derived once, on the first OTP request: rp_ctx.secrets is set before the HTTP threads start
 * and never changes, and the derived keys are no more secret than the master key the process
 * already holds for its whole life. */
static struct otp_keys keys;
static int keys_rc;
static pthread_once_t keys_once = PTHREAD_ONCE_INIT;

static void derive_once(void)
{
    keys_rc = rp_otp_derive_key(rp_ctx.secrets.key, RP_OTP_CODE_LABEL, keys.code) ||
              rp_otp_derive_key(rp_ctx.secrets.key, RP_OTP_RECORD_LABEL, keys.record);
}

/* The process's OTP keys, or NULL when they cannot be derived. */
static const struct otp_keys *derived_keys(void)
{
    pthread_once(&keys_once, derive_once);
    return keys_rc ? NULL : &keys;
}

static void too_many(struct rp_request *req, int which)
{
    if (which == RP_OTP_LIMIT_DESTINATION)
        rp_respond_error(req, 429, "TooManyRequestsException",
                         "Too many one-time passwords sent to this DestinationIdentity in the "
                         "last hour (otp.sends_per_destination_per_hour is %lld)",
                         rp_config_int(rp_ctx.cfg, "otp.sends_per_destination_per_hour"));
    else
        rp_respond_error(req, 429, "TooManyRequestsException",
                         "Too many one-time passwords sent by this application in the last "
                         "minute (otp.sends_per_app_per_minute is %lld)",
                         rp_config_int(rp_ctx.cfg, "otp.sends_per_app_per_minute"));
}

void rp_api_send_otp_message(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_otp_send p;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_otp_parse_send(body, &p, &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    /* Checked before the code is replaced, so a refused send leaves the previous code valid (and
     * only here: rp_api_send_message_request does not check again). */
    char why[256];
    if (rp_admission_refuse_request(why, sizeof(why)) ||
        rp_admission_refuse_channel("SMS", why, sizeof(why))) {
        json_decref(body);
        rp_respond_error(req, 429, "TooManyRequestsException", "%s", why);
        return;
    }
    const struct otp_keys *k = derived_keys();
    char record[RP_OTP_RECORD_HEX], destination_id[RP_OTP_RECORD_HEX];
    if (!k ||
        rp_otp_mac(k->record, app, p.destination, p.reference_id, NULL, record, sizeof(record)) ||
        rp_otp_mac(k->record, app, p.destination, "", NULL, destination_id,
                   sizeof(destination_id))) {
        json_decref(body);
        rp_respond_error(req, 500, "InternalServerErrorException", "cannot derive OTP keys");
        return;
    }
    int which = 0;
    int rc = rp_otp_store_admit(
        app, destination_id, (long)rp_config_int(rp_ctx.cfg, "otp.sends_per_destination_per_hour"),
        (long)rp_config_int(rp_ctx.cfg, "otp.sends_per_app_per_minute"), &which);
    if (rc) {
        json_decref(body);
        if (rc == RP_ELIMIT)
            too_many(req, which);
        else
            rp_respond_unavailable(req);
        return;
    }
    char code[RP_OTP_CODE_SIZE], mac[RP_OTP_MAC_HEX], text[RP_OTP_TEXT_MAX];
    rp_otp_generate(p.code_length, code, NULL, NULL);
    rc = rp_otp_mac(k->code, app, p.destination, p.reference_id, code, mac, sizeof(mac));
    if (!rc)
        rc = rp_otp_message(p.language, p.brand, code, p.validity_minutes, text, sizeof(text)) < 0
                 ? RP_ETOOBIG
                 : 0;
    OPENSSL_cleanse(code, sizeof(code));
    /* Stored before the send: a user may type the code before the provider has answered. */
    if (!rc)
        rc = rp_otp_store_put(app, record, mac, rp_now_ms() + (int64_t)p.validity_minutes * 60000,
                              p.allowed_attempts);
    json_t *request = rc ? NULL : rp_otp_message_request(&p, text);
    OPENSSL_cleanse(text, sizeof(text));
    json_decref(body);
    if (rc == RP_ESTORE) {
        rp_respond_unavailable(req);
        return;
    }
    if (rc) {
        rp_respond_error(req, 500, "InternalServerErrorException", "cannot build the message");
        return;
    }
    rp_metrics_count(RP_MC_OTP_SENDS);
    rp_api_send_message_request(req, request);
}

void rp_api_verify_otp_message(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    struct rp_otp_verify p;
    struct rp_err err;
    rp_err_clear(&err);
    if (rp_otp_parse_verify(body, &p, &err)) {
        json_decref(body);
        rp_respond_bad_request(req, &err);
        return;
    }
    const struct otp_keys *k = derived_keys();
    char record[RP_OTP_RECORD_HEX], mac[RP_OTP_MAC_HEX];
    int rc =
        !k ||
        rp_otp_mac(k->record, app, p.destination, p.reference_id, NULL, record, sizeof(record)) ||
        rp_otp_mac(k->code, app, p.destination, p.reference_id, p.otp, mac, sizeof(mac));
    json_decref(body);
    if (rc) {
        rp_respond_error(req, 500, "InternalServerErrorException", "cannot derive OTP keys");
        return;
    }
    int valid = rp_otp_store_check(app, record, mac, rp_now_ms());
    if (valid < 0) {
        rp_respond_unavailable(req);
        return;
    }
    rp_metrics_count(valid ? RP_MC_OTP_VERIFY_VALID : RP_MC_OTP_VERIFY_INVALID);
    rp_respond_json(req, 200, json_pack("{s:b}", "Valid", valid));
}
