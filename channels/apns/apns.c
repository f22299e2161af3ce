/* The APNs channels: one plugin, four tables (production and sandbox, alert and VoIP). They
 * differ in host and topic when delivering and validate their settings alike. Delivery builds
 * the notification (apns_payload.c), picks the credential (DefaultAuthenticationMethod of the
 * channel, PreferredAuthenticationMethod of the message) and hands both to the HTTP/2 client
 * (apns_conn.c) of the worker's transport. */
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "../keys.h"
#include "../settings.h"
#include "apns_conn.h"
#include "apns_payload.h"

/* Apple issues 10-character Team IDs and Key IDs; leave room without letting through anything
 * that could not sit in a JWT header or claim unescaped. */
#define APNS_ID_MAX 32
/* Apple's limit on a bundle identifier. */
#define APNS_BUNDLE_MAX 155
/* Device tokens are 32 bytes (64 hex digits) today; Apple says their length may change. */
#define APNS_DEVICE_TOKEN_MIN 8
#define APNS_DEVICE_TOKEN_MAX 200

struct apns_request {
    const char *certificate;
    const char *private_key;
    const char *token_key;
    const char *token_key_id;
    const char *team_id;
    const char *bundle_id;
    const char *method;
};

/* Type-checks every member before any is judged, so a wrongly typed member is reported as such
 * rather than as a missing one. */
static int read_request(const json_t *settings, struct apns_request *r, struct rp_err *err)
{
    const struct {
        const char *key;
        const char **out;
    } members[] = {
        {"Certificate", &r->certificate},
        {"PrivateKey", &r->private_key},
        {"TokenKey", &r->token_key},
        {"TokenKeyId", &r->token_key_id},
        {"TeamId", &r->team_id},
        {"BundleId", &r->bundle_id},
        {"DefaultAuthenticationMethod", &r->method},
    };
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        int rc = rp_settings_string(settings, members[i].key, members[i].out, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int apple_id_validate(const char *id, const char *field, struct rp_err *err)
{
    size_t len = strlen(id);
    if (len > APNS_ID_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters", APNS_ID_MAX);
    for (size_t i = 0; i < len; i++)
        if (!is_alnum((unsigned char)id[i]))
            return rp_err_set(err, RP_EINVAL, field,
                              "must be letters and digits (Apple issues 10 of them)");
    return 0;
}

/* Apple: "The bundle ID string must contain only alphanumeric characters (A-Z, a-z, and 0-9),
 * hyphens (-), and periods (.)". It becomes the apns-topic header. */
static int bundle_id_validate(const char *id, struct rp_err *err)
{
    size_t len = strlen(id);
    if (len > APNS_BUNDLE_MAX)
        return rp_err_set(err, RP_EINVAL, "BundleId", "is longer than %d characters",
                          APNS_BUNDLE_MAX);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        if (!is_alnum(c) && c != '-' && c != '.')
            return rp_err_set(err, RP_EINVAL, "BundleId",
                              "must be letters, digits, hyphens and periods");
    }
    return 0;
}

/* The certificate pair is what the TLS client will present, so it is checked as OpenSSL will
 * use it: the key must belong to the certificate, and an expired certificate would only fail
 * later at every connection. */
static int certificate_pair_validate(const char *cert_pem, const char *key_pem, struct rp_err *err)
{
    X509 *cert = NULL;
    EVP_PKEY *key = NULL;
    int rc = rp_keys_certificate(cert_pem, "Certificate", &cert, err);
    if (rc < 0)
        goto out;
    /* X509_cmp_current_time answers 0 when notAfter cannot be read: refuse that too. */
    if (X509_cmp_current_time(X509_get0_notAfter(cert)) <= 0) {
        rc = rp_err_set(err, RP_EINVAL, "Certificate", "has expired");
        goto out;
    }
    rc = rp_keys_private_key(key_pem, "PrivateKey", &key, err);
    if (rc < 0)
        goto out;
    if (!rp_keys_is_rsa(key) && !rp_keys_is_ec(key)) {
        rc = rp_err_set(err, RP_EINVAL, "PrivateKey", "must be an RSA or EC private key");
        goto out;
    }
    if (X509_check_private_key(cert, key) != 1) {
        rc = rp_err_set(err, RP_EINVAL, "PrivateKey", "does not match the Certificate");
        goto out;
    }
    int days = 0, secs = 0;
    if (ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(cert)) == 1)
        rp_info("apns", "msg=\"APNs certificate accepted\" days_left=%d", days);
out:
    ERR_clear_error();
    EVP_PKEY_free(key);
    X509_free(cert);
    return rc;
}

/* Apple's .p8 signing keys are PKCS#8 EC P-256 keys, and provider tokens are ES256 JWTs. */
static int token_key_validate(const char *pem, struct rp_err *err)
{
    EVP_PKEY *key = NULL;
    int rc = rp_keys_private_key(pem, "TokenKey", &key, err);
    if (rc < 0)
        return rc;
    if (!rp_keys_is_ec_p256(key))
        rc = rp_err_set(err, RP_EINVAL, "TokenKey",
                        "must be an EC P-256 private key (an APNs .p8 signing key)");
    EVP_PKEY_free(key);
    return rc;
}

/* The reference describes the method as "key or certificate"; Pinpoint's values are
 * CERTIFICATE and TOKEN, taken here in any case, with KEY as a synonym of TOKEN. When none is
 * given the credential present is the default, TOKEN when both are: provider tokens do not
 * expire each year as certificates do. */
static int auth_method_resolve(const char *given, bool has_cert, bool has_token, const char **out,
                               struct rp_err *err)
{
    const char *field = "DefaultAuthenticationMethod";
    if (!given) {
        *out = has_token ? "TOKEN" : "CERTIFICATE";
        return 0;
    }
    if (strcasecmp(given, "CERTIFICATE") == 0) {
        if (!has_cert)
            return rp_err_set(err, RP_EINVAL, field,
                              "is CERTIFICATE but Certificate and PrivateKey are not set");
        *out = "CERTIFICATE";
        return 0;
    }
    if (strcasecmp(given, "TOKEN") == 0 || strcasecmp(given, "KEY") == 0) {
        if (!has_token)
            return rp_err_set(err, RP_EINVAL, field, "is TOKEN but TokenKey is not set");
        *out = "TOKEN";
        return 0;
    }
    return rp_err_set(err, RP_EINVAL, field, "must be CERTIFICATE or TOKEN");
}

static int apns_settings_validate(const json_t *settings, json_t *response_members,
                                  struct rp_err *err)
{
    struct apns_request r = {0};
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = read_request(settings, &r, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc < 0)
        return rc;

    if (r.certificate && !r.private_key)
        return rp_err_set(err, RP_EINVAL, "PrivateKey", "is required with Certificate");
    if (r.private_key && !r.certificate)
        return rp_err_set(err, RP_EINVAL, "Certificate", "is required with PrivateKey");
    bool has_cert = r.certificate != NULL;
    bool has_token = r.token_key != NULL;
    if (!has_cert && !has_token)
        return rp_err_set(err, RP_EINVAL, "Certificate",
                          "is required, with PrivateKey, unless TokenKey is given");

    if (has_cert && (rc = certificate_pair_validate(r.certificate, r.private_key, err)) < 0)
        return rc;
    if (has_token) {
        if ((rc = token_key_validate(r.token_key, err)) < 0)
            return rc;
        /* The provider token names the key and the team, and APNs requires apns-topic. */
        if (!r.token_key_id)
            return rp_err_set(err, RP_EINVAL, "TokenKeyId", "is required with TokenKey");
        if (!r.team_id)
            return rp_err_set(err, RP_EINVAL, "TeamId", "is required with TokenKey");
        if (!r.bundle_id)
            return rp_err_set(err, RP_EINVAL, "BundleId", "is required with TokenKey");
    }
    if (r.token_key_id && (rc = apple_id_validate(r.token_key_id, "TokenKeyId", err)) < 0)
        return rc;
    if (r.team_id && (rc = apple_id_validate(r.team_id, "TeamId", err)) < 0)
        return rc;
    if (r.bundle_id && (rc = bundle_id_validate(r.bundle_id, err)) < 0)
        return rc;

    const char *method = NULL;
    if ((rc = auth_method_resolve(r.method, has_cert, has_token, &method, err)) < 0)
        return rc;

    rp_settings_put(response_members, "DefaultAuthenticationMethod", json_string(method));
    rp_settings_put(response_members, "HasCredential", json_boolean(has_cert));
    rp_settings_put(response_members, "HasTokenKey", json_boolean(has_token));
    return 0;
}

static int apns_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    size_t len = strlen(address);
    if (len < APNS_DEVICE_TOKEN_MIN || len > APNS_DEVICE_TOKEN_MAX)
        return rp_err_set(err, RP_EINVAL, field_name,
                          "must be an APNs device token of %d to %d hex digits",
                          APNS_DEVICE_TOKEN_MIN, APNS_DEVICE_TOKEN_MAX);
    for (size_t i = 0; i < len; i++)
        if (!is_hex((unsigned char)address[i]))
            return rp_err_set(err, RP_EINVAL, field_name,
                              "must be an APNs device token in hex digits");
    return 0;
}

/* ---- Delivery ------------------------------------------------------------------------------ */

/* One per worker thread and channel: production or sandbox, alert or VoIP. */
struct apns_transport {
    struct rp_apns_client *client;
    bool voip;
    struct rp_apns_payload_memo payload_memo; /* the last content's, for its next recipients */
};

static void *transport_new(struct event_base *base, const struct rp_config *cfg, const char *name,
                           bool sandbox, bool voip)
{
    struct rp_apns_client_config cc = {
        .url = rp_config_str(cfg, sandbox ? "apns.sandbox_url" : "apns.production_url"),
        .ca_file = rp_config_str(cfg, "tls.ca_file"),
        .name = name,
        .max_connections = (int)rp_config_int(cfg, "apns.max_connections"),
        .idle_timeout_s = (int)rp_config_int(cfg, "apns.idle_timeout_seconds"),
        .ping_interval_s = (int)rp_config_int(cfg, "apns.ping_interval_seconds"),
        .token_refresh_minutes = (int)rp_config_int(cfg, "apns.token_refresh_minutes"),
        .timeout_ms = (long)rp_config_int(cfg, "apns.timeout_ms"),
    };
    struct rp_apns_client *client = rp_apns_client_new(base, &cc);
    if (!client)
        return NULL;
    struct apns_transport *t = rp_calloc(1, sizeof(*t));
    t->client = client;
    t->voip = voip;
    return t;
}

static void *apns_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    return transport_new(base, cfg, "APNS", false, false);
}

static void *apns_sandbox_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    return transport_new(base, cfg, "APNS_SANDBOX", true, false);
}

static void *apns_voip_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    return transport_new(base, cfg, "APNS_VOIP", false, true);
}

static void *apns_voip_sandbox_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    return transport_new(base, cfg, "APNS_VOIP_SANDBOX", true, true);
}

static void apns_transport_free(void *transport)
{
    struct apns_transport *t = transport;
    if (!t)
        return;
    rp_apns_client_free(t->client);
    rp_apns_payload_memo_clear(&t->payload_memo);
    free(t);
}

static const char *setting(const json_t *settings, const char *name)
{
    const char *s = json_string_value(json_object_get(settings, name));
    return s && *s ? s : NULL;
}

/* The message's PreferredAuthenticationMethod, else the channel's DefaultAuthenticationMethod,
 * else the credential present (TOKEN when both are). A method whose credential the channel
 * lacks falls back to the other, so a message never fails for asking. */
static bool use_token(const json_t *settings, const json_t *content)
{
    bool has_token = setting(settings, "TokenKey") != NULL;
    bool has_cert = setting(settings, "Certificate") && setting(settings, "PrivateKey");
    const char *m = json_string_value(json_object_get(content, "PreferredAuthenticationMethod"));
    if (!m || !*m)
        m = setting(settings, "DefaultAuthenticationMethod");
    if (m && strcasecmp(m, "CERTIFICATE") == 0)
        return !has_cert && has_token;
    if (m && (strcasecmp(m, "TOKEN") == 0 || strcasecmp(m, "KEY") == 0))
        return has_token || !has_cert;
    return has_token;
}

static void fail_now(struct rp_send *send, enum rp_delivery_status status, const char *msg)
{
    rp_delivery_result_set(&send->result, status, 0, "%s", msg);
    rp_send_complete(send);
}

static void apns_send(void *transport, struct rp_send *send)
{
    struct apns_transport *t = transport;
    const struct rp_delivery *d = send->delivery;
    const json_t *settings = send->settings;
    long unused_timeout;
    if (!rp_send_timeout(send, 1, &unused_timeout))
        return;
    struct rp_apns_credential cred = {.token = use_token(settings, d->content)};
    if (cred.token) {
        cred.key_pem = setting(settings, "TokenKey");
        cred.key_id = setting(settings, "TokenKeyId");
        cred.team_id = setting(settings, "TeamId");
    } else {
        cred.cert_pem = setting(settings, "Certificate");
        cred.key_pem = setting(settings, "PrivateKey");
    }
    if (!cred.key_pem || (cred.token ? !cred.key_id || !cred.team_id : !cred.cert_pem)) {
        fail_now(send, RP_DS_PERMANENT_FAILURE,
                 "the channel has neither a TokenKey (with TokenKeyId and TeamId) nor a "
                 "Certificate and PrivateKey");
        return;
    }
    const char *bundle = setting(settings, "BundleId");
    if (cred.token && !bundle) {
        fail_now(send, RP_DS_PERMANENT_FAILURE, "token authentication needs the BundleId");
        return;
    }
    struct rp_apns_notification n;
    char why[200];
    if (rp_apns_notification_build_memo(&t->payload_memo, d->content, bundle, t->voip,
                                        rp_now_ms() / 1000, &n, why, sizeof(why)) < 0) {
        fail_now(send, RP_DS_PERMANENT_FAILURE, why);
        return;
    }
    rp_apns_client_send(t->client, &cred, &n, d->address, send);
}

const struct rp_channel_ops rp_apns_channel = {
    .type = "APNS",
    .path = "apns",
    .platform = "APNS",
    .request_shape = "APNSChannelRequest",
    .settings_validate = apns_settings_validate,
    .address_validate = apns_address_validate,
    .transport_new = apns_transport_new,
    .transport_free = apns_transport_free,
    .send = apns_send,
};

const struct rp_channel_ops rp_apns_sandbox_channel = {
    .type = "APNS_SANDBOX",
    .path = "apns_sandbox",
    .platform = "APNS_SANDBOX",
    .request_shape = "APNSSandboxChannelRequest",
    .settings_validate = apns_settings_validate,
    .address_validate = apns_address_validate,
    .transport_new = apns_sandbox_transport_new,
    .transport_free = apns_transport_free,
    .send = apns_send,
};

const struct rp_channel_ops rp_apns_voip_channel = {
    .type = "APNS_VOIP",
    .path = "apns_voip",
    .platform = "APNS_VOIP",
    .request_shape = "APNSVoipChannelRequest",
    .settings_validate = apns_settings_validate,
    .address_validate = apns_address_validate,
    .transport_new = apns_voip_transport_new,
    .transport_free = apns_transport_free,
    .send = apns_send,
};

const struct rp_channel_ops rp_apns_voip_sandbox_channel = {
    .type = "APNS_VOIP_SANDBOX",
    .path = "apns_voip_sandbox",
    .platform = "APNS_VOIP_SANDBOX",
    .request_shape = "APNSVoipSandboxChannelRequest",
    .settings_validate = apns_settings_validate,
    .address_validate = apns_address_validate,
    .transport_new = apns_voip_sandbox_transport_new,
    .transport_free = apns_transport_free,
    .send = apns_send,
};
