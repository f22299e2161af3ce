/* The GCM channel, delivered through FCM HTTP v1 with a Google service account (ServiceJson).
 * The legacy server key (ApiKey) is still accepted for form, as Pinpoint's shape has it, but
 * Google shut the legacy FCM API down in 2024: what a KEY channel does on delivery is the
 * delivery code's decision, not this validator's. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "../../gateway/rc.h"
#include "../channel.h"
#include "../email/email_address.h"
#include "../keys.h"
#include "../settings.h"

/* FCM registration tokens run to a few hundred characters; 4096 leaves room for growth. */
#define FCM_TOKEN_MAX 4096
/* Google's server keys are 39 or ~150 characters. */
#define FCM_API_KEY_MAX 1024
/* Google's project ids are 6-30 characters, domain-scoped ones longer. */
#define FCM_PROJECT_ID_MAX 128
/* Member values of the service-account JSON that end up in URLs, JWT claims or headers. */
#define SA_VALUE_MAX 2048

/* Reads a required string member of the service-account document; field is written as
 * "ServiceJson.<key>". */
static int sa_string(const json_t *sa, const char *key, const char **out, char *field,
                     size_t field_size, struct rp_err *err)
{
    snprintf(field, field_size, "ServiceJson.%s", key);
    const json_t *v = json_object_get(sa, key);
    *out = json_string_value(v);
    if (!v || json_is_null(v) || (*out && !**out))
        return rp_err_set(err, RP_EINVAL, field, "is required");
    if (!*out)
        return rp_err_set(err, RP_EINVAL, field, "must be a string");
    return 0;
}

/* The project id is a path segment of the send URL (/v1/projects/<id>/messages:send): Google's
 * ids are lowercase letters, digits and hyphens, with "domain.com:" in front for some. */
static int project_id_validate(const char *id, const char *field, struct rp_err *err)
{
    size_t len = strlen(id);
    if (len > FCM_PROJECT_ID_MAX)
        return rp_err_set(err, RP_EINVAL, field, "is longer than %d characters",
                          FCM_PROJECT_ID_MAX);
    for (size_t i = 0; i < len; i++) {
        char c = id[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == ':'))
            return rp_err_set(err, RP_EINVAL, field,
                              "must be a Google Cloud project id (letters, digits, '-', '.', ':')");
    }
    return 0;
}

static int token_uri_validate(const char *uri, const char *field, struct rp_err *err)
{
    int rc = rp_settings_printable(uri, SA_VALUE_MAX, false, field, err);
    if (rc < 0)
        return rc;
    const char *host = NULL;
    /* http is allowed for an OAuth simulator on a test network; Google's is https. */
    if (strncasecmp(uri, "https://", 8) == 0)
        host = uri + 8;
    else if (strncasecmp(uri, "http://", 7) == 0)
        host = uri + 7;
    if (!host || !*host || *host == '/')
        return rp_err_set(err, RP_EINVAL, field, "must be an https:// URL");
    return 0;
}

/* The checks the OAuth 2.0 JWT-bearer flow needs: the key signs an RS256 assertion whose iss
 * is client_email and aud is token_uri, and project_id names the FCM project. */
static int service_json_validate(const char *text, struct rp_err *err)
{
    json_error_t jerr;
    json_t *sa = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    /* jerr.text may quote the input ("near '...'"), which is key material: report only where. */
    if (!sa)
        return rp_err_set(err, RP_EINVAL, "ServiceJson",
                          "is not valid JSON (line %d, column %d); give the service account's "
                          "key file as a string",
                          jerr.line, jerr.column);
    int rc = 0;
    char field[64];
    const char *project_id, *client_email, *private_key, *token_uri;
    EVP_PKEY *key = NULL;
    if (!json_is_object(sa)) {
        rc = rp_err_set(err, RP_EINVAL, "ServiceJson", "must be a JSON object");
        goto out;
    }
    const json_t *type = json_object_get(sa, "type");
    if (type &&
        !(json_is_string(type) && strcmp(json_string_value(type), "service_account") == 0)) {
        rc = rp_err_set(err, RP_EINVAL, "ServiceJson.type", "must be \"service_account\"");
        goto out;
    }
    if ((rc = sa_string(sa, "project_id", &project_id, field, sizeof(field), err)) < 0 ||
        (rc = project_id_validate(project_id, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "client_email", &client_email, field, sizeof(field), err)) < 0 ||
        (rc = rp_email_address_validate(client_email, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "token_uri", &token_uri, field, sizeof(field), err)) < 0 ||
        (rc = token_uri_validate(token_uri, field, err)) < 0)
        goto out;
    if ((rc = sa_string(sa, "private_key", &private_key, field, sizeof(field), err)) < 0 ||
        (rc = rp_keys_private_key(private_key, field, &key, err)) < 0)
        goto out;
    if (!rp_keys_is_rsa(key))
        rc = rp_err_set(err, RP_EINVAL, field, "must be an RSA private key (RS256 signs with it)");
out:
    EVP_PKEY_free(key);
    json_decref(sa);
    return rc;
}

/* The reference: "Values are either TOKEN or KEY. Defaults to KEY." Defaulting to KEY when
 * only a service account is given would name a credential that is not there, so the default
 * is TOKEN whenever ServiceJson is present and KEY otherwise. */
static int auth_method_resolve(const char *given, bool has_key, bool has_service, const char **out,
                               struct rp_err *err)
{
    const char *field = "DefaultAuthenticationMethod";
    if (!given) {
        *out = has_service ? "TOKEN" : "KEY";
        return 0;
    }
    if (strcasecmp(given, "TOKEN") == 0) {
        if (!has_service)
            return rp_err_set(err, RP_EINVAL, field, "is TOKEN but ServiceJson is not set");
        *out = "TOKEN";
        return 0;
    }
    if (strcasecmp(given, "KEY") == 0) {
        if (!has_key)
            return rp_err_set(err, RP_EINVAL, field, "is KEY but ApiKey is not set");
        *out = "KEY";
        return 0;
    }
    return rp_err_set(err, RP_EINVAL, field, "must be TOKEN or KEY");
}

static int gcm_settings_validate(const json_t *settings, json_t *response_members,
                                 struct rp_err *err)
{
    const char *api_key = NULL, *service_json = NULL, *method = NULL;
    int rc = rp_settings_object(settings, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ApiKey", &api_key, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "ServiceJson", &service_json, err);
    if (rc == 0)
        rc = rp_settings_string(settings, "DefaultAuthenticationMethod", &method, err);
    if (rc == 0)
        rc = rp_settings_enabled(settings, response_members, err);
    if (rc < 0)
        return rc;

    if (!api_key && !service_json)
        return rp_err_set(err, RP_EINVAL, "ServiceJson",
                          "is required (the legacy ApiKey no longer works with FCM)");
    if (api_key && (rc = rp_settings_printable(api_key, FCM_API_KEY_MAX, false, "ApiKey", err)) < 0)
        return rc;
    if (service_json && (rc = service_json_validate(service_json, err)) < 0)
        return rc;
    if ((rc = auth_method_resolve(method, api_key != NULL, service_json != NULL, &method, err)) < 0)
        return rc;

    /* Pinpoint echoes the server key as Credential; it is a secret, so it is left out. */
    rp_settings_put(response_members, "DefaultAuthenticationMethod", json_string(method));
    rp_settings_put(response_members, "HasCredential", json_boolean(api_key != NULL));
    rp_settings_put(response_members, "HasFcmServiceCredentials",
                    json_boolean(service_json != NULL));
    return 0;
}

static int gcm_address_validate(const char *address, const char *field_name, struct rp_err *err)
{
    if (!address || !*address)
        return rp_err_set(err, RP_EINVAL, field_name, "is required");
    return rp_settings_printable(address, FCM_TOKEN_MAX, false, field_name, err);
}

const struct rp_channel_ops rp_gcm_channel = {
    .type = "GCM",
    .path = "gcm",
    .platform = "GCM",
    .request_shape = "GCMChannelRequest",
    .settings_validate = gcm_settings_validate,
    .address_validate = gcm_address_validate,
    RP_CHANNEL_NO_TRANSPORT,
};
