/* Tests for channels/channel.c (the registry), the plugins' settings and address validation
 * and the helpers they share (channels/keys.c, email_address.c, e164.c). Key material comes
 * from data/channels/ (see its README); the working directory is tests/unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "channels/channel.h"
#include "channels/email/email_address.h"
#include "channels/keys.h"
#include "channels/sms/e164.h"
#include "gateway/rc.h"
#include "gateway/util.h"

#define DATA "data/channels/"

static const char *const apns_types[] = {"APNS", "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX"};

/* Key material, loaded once by the group setup. */
static char *token_p256, *token_p384, *token_encrypted;
static char *cert_rsa, *cert_rsa_key, *cert_ec, *cert_ec_key, *cert_expired;
static char *sa_key;
static json_t *sa_doc;

static char *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof(path), DATA "%s", name);
    char *s = rp_read_file(path, 64 * 1024, NULL);
    if (!s)
        fprintf(stderr, "cannot read %s (run from tests/unit)\n", path);
    return s;
}

static int group_setup(void **state)
{
    token_p256 = load("token_p256.p8");
    token_p384 = load("token_p384.p8");
    token_encrypted = load("token_p256_encrypted.p8");
    cert_rsa = load("cert_rsa.pem");
    cert_rsa_key = load("cert_rsa_key.pem");
    cert_ec = load("cert_ec.pem");
    cert_ec_key = load("cert_ec_key.pem");
    cert_expired = load("cert_ec_expired.pem");
    sa_key = load("service_account_key.pem");
    sa_doc = json_load_file(DATA "service_account.json", 0, NULL);
    return token_p256 && token_p384 && token_encrypted && cert_rsa && cert_rsa_key && cert_ec &&
                   cert_ec_key && cert_expired && sa_key && sa_doc
               ? 0
               : -1;
}

static int group_teardown(void **state)
{
    char *all[] = {token_p256, token_p384,  token_encrypted, cert_rsa, cert_rsa_key,
                   cert_ec,    cert_ec_key, cert_expired,    sa_key};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        free(all[i]);
    json_decref(sa_doc);
    return 0;
}

/* The second line of a PEM block: base64 that can only be in a serialisation by copying. */
static char *pem_body_line(const char *pem)
{
    const char *nl = strchr(pem, '\n');
    assert_non_null(nl);
    const char *end = strchr(nl + 1, '\n');
    assert_non_null(end);
    return rp_strndup(nl + 1, (size_t)(end - nl - 1));
}

/* Asserts that the serialised response holds none of the secret's material. */
static void assert_not_leaked(const json_t *response, const char *secret)
{
    char *dump = json_dumps(response, JSON_COMPACT);
    assert_non_null(dump);
    if (strstr(secret, "-----BEGIN")) {
        char *line = pem_body_line(secret);
        assert_null(strstr(dump, line));
        free(line);
        assert_null(strstr(dump, "PRIVATE KEY"));
        assert_null(strstr(dump, "CERTIFICATE-----"));
    } else {
        assert_null(strstr(dump, secret));
    }
    free(dump);
}

static const struct rp_channel_ops *channel(const char *type)
{
    const struct rp_channel_ops *ch = rp_channel_by_type(type);
    assert_non_null(ch);
    return ch;
}

/* Validates settings (taken) on the channel and checks the response equals expected (taken). */
static json_t *expect_valid(const char *type, json_t *settings, json_t *expected)
{
    assert_non_null(settings);
    assert_non_null(expected);
    json_t *response = json_object();
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_channel_settings_validate(channel(type), settings, response, &err);
    if (rc != 0)
        fail_msg("%s: unexpected %s on %s: %s", type, rp_rc_name(rc), err.field, err.msg);
    if (!json_equal(response, expected)) {
        char *got = json_dumps(response, JSON_SORT_KEYS | JSON_COMPACT);
        char *want = json_dumps(expected, JSON_SORT_KEYS | JSON_COMPACT);
        fail_msg("%s: response %s, expected %s", type, got, want);
    }
    json_decref(settings);
    json_decref(expected);
    return response;
}

/* Validates settings (taken) and checks RP_EINVAL naming field. */
static void expect_invalid(const char *type, json_t *settings, const char *field)
{
    assert_non_null(settings);
    json_t *response = json_object();
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_channel_settings_validate(channel(type), settings, response, &err);
    if (rc != RP_EINVAL || strcmp(err.field, field) != 0)
        fail_msg("%s: expected INVAL on \"%s\", got %s on \"%s\" (%s)", type, field, rp_rc_name(rc),
                 err.field, err.msg);
    assert_true(err.msg[0] != '\0');
    json_decref(settings);
    json_decref(response);
}

static void expect_address(const char *type, const char *address, int ok)
{
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_channel_address_validate(channel(type), address, "Address", &err);
    if (ok && rc != 0)
        fail_msg("%s: \"%s\" refused: %s", type, address ? address : "(null)", err.msg);
    if (!ok) {
        if (rc != RP_EINVAL)
            fail_msg("%s: \"%s\" accepted", type, address ? address : "(null)");
        assert_string_equal(err.field, "Address");
    }
}

/* Registry */

static void test_registry_lookups(void **state)
{
    size_t n = 0;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    assert_int_equal(n, 9);
    const char *types[] = {"ADM",   "APNS",  "APNS_SANDBOX", "APNS_VOIP", "APNS_VOIP_SANDBOX",
                           "BAIDU", "EMAIL", "GCM",          "SMS"};
    const char *paths[] = {"adm",   "apns",  "apns_sandbox", "apns_voip", "apns_voip_sandbox",
                           "baidu", "email", "gcm",          "sms"};
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(all[i]->type, types[i]);
        assert_string_equal(all[i]->path, paths[i]);
        assert_string_equal(all[i]->platform, types[i]);
        assert_non_null(all[i]->request_shape);
        assert_non_null(all[i]->settings_validate);
        assert_non_null(all[i]->address_validate);
        assert_ptr_equal(rp_channel_by_type(types[i]), all[i]);
        assert_ptr_equal(rp_channel_by_path(paths[i]), all[i]);
    }
    assert_string_equal(rp_channel_by_type("APNS_VOIP")->request_shape, "APNSVoipChannelRequest");
    assert_string_equal(rp_channel_by_path("gcm")->request_shape, "GCMChannelRequest");
}

static void test_registry_unknown(void **state)
{
    assert_null(rp_channel_by_type("VOICE"));
    assert_null(rp_channel_by_type("PUSH"));
    assert_null(rp_channel_by_type("gcm"));
    assert_null(rp_channel_by_type(""));
    assert_null(rp_channel_by_type(NULL));
    assert_null(rp_channel_by_path("voice"));
    assert_null(rp_channel_by_path("GCM"));
    assert_null(rp_channel_by_path("apns_sandbox/"));
    assert_null(rp_channel_by_path(""));
    assert_null(rp_channel_by_path(NULL));
}

static void test_default_ops(void **state)
{
    struct rp_err err;
    json_t *response = json_object();
    json_t *settings = json_pack("{s:b}", "Enabled", 0);
    assert_int_equal(rp_channel_default_settings_validate(settings, response, &err), 0);
    assert_true(json_is_false(json_object_get(response, "Enabled")));
    json_decref(settings);
    settings = json_pack("{s:s}", "Enabled", "no");
    assert_int_equal(rp_channel_default_settings_validate(settings, response, &err), RP_EINVAL);
    assert_string_equal(err.field, "Enabled");
    json_decref(settings);
    json_decref(response);

    assert_int_equal(rp_channel_default_address_validate("abc", "Address", &err), 0);
    assert_int_equal(rp_channel_default_address_validate("", "Address", &err), RP_EINVAL);
    assert_int_equal(rp_channel_default_address_validate("a\nb", "Address", &err), RP_EINVAL);
    assert_string_equal(err.field, "Address");
}

/* APNs */

static json_t *apns_token_settings(void)
{
    return json_pack("{s:s, s:s, s:s, s:s}", "TokenKey", token_p256, "TokenKeyId", "ABC123DEFG",
                     "TeamId", "DEF123GHIJ", "BundleId", "com.example.repoint");
}

static void test_apns_token_valid(void **state)
{
    for (size_t i = 0; i < 4; i++) {
        json_t *response = expect_valid(apns_types[i], apns_token_settings(),
                                        json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1,
                                                  "DefaultAuthenticationMethod", "TOKEN",
                                                  "HasCredential", 0, "HasTokenKey", 1));
        assert_not_leaked(response, token_p256);
        json_decref(response);
    }
}

static void test_apns_certificate_valid(void **state)
{
    json_t *response =
        expect_valid("APNS",
                     json_pack("{s:s, s:s, s:b}", "Certificate", cert_rsa, "PrivateKey",
                               cert_rsa_key, "Enabled", 0),
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 0, "DefaultAuthenticationMethod",
                               "CERTIFICATE", "HasCredential", 1, "HasTokenKey", 0));
    assert_not_leaked(response, cert_rsa);
    assert_not_leaked(response, cert_rsa_key);
    json_decref(response);

    /* An EC client certificate, and the method in lower case. */
    response =
        expect_valid("APNS_SANDBOX",
                     json_pack("{s:s, s:s, s:s}", "Certificate", cert_ec, "PrivateKey", cert_ec_key,
                               "DefaultAuthenticationMethod", "certificate"),
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1, "DefaultAuthenticationMethod",
                               "CERTIFICATE", "HasCredential", 1, "HasTokenKey", 0));
    assert_not_leaked(response, cert_ec_key);
    json_decref(response);
}

static void test_apns_both_credentials(void **state)
{
    json_t *s = apns_token_settings();
    json_object_set_new(s, "Certificate", json_string(cert_rsa));
    json_object_set_new(s, "PrivateKey", json_string(cert_rsa_key));
    json_t *response =
        expect_valid("APNS_VOIP", json_deep_copy(s),
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1, "DefaultAuthenticationMethod",
                               "TOKEN", "HasCredential", 1, "HasTokenKey", 1));
    assert_not_leaked(response, token_p256);
    assert_not_leaked(response, cert_rsa_key);
    json_decref(response);

    json_object_set_new(s, "DefaultAuthenticationMethod", json_string("CERTIFICATE"));
    json_decref(
        expect_valid("APNS_VOIP", s,
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1, "DefaultAuthenticationMethod",
                               "CERTIFICATE", "HasCredential", 1, "HasTokenKey", 1)));
}

static json_t *with(json_t *settings, const char *key, json_t *value)
{
    if (value)
        json_object_set_new(settings, key, value);
    else
        json_object_del(settings, key);
    return settings;
}

static void test_apns_invalid(void **state)
{
    for (size_t i = 0; i < 4; i++) {
        const char *t = apns_types[i];
        expect_invalid(t,
                       json_pack("{s:s, s:s}", "Certificate", "-----BEGIN CERTIFICATE-----\nxx",
                                 "PrivateKey", cert_rsa_key),
                       "Certificate");
        expect_invalid(t, json_pack("{s:s, s:s}", "Certificate", cert_rsa, "PrivateKey", "garbage"),
                       "PrivateKey");
        expect_invalid(t,
                       json_pack("{s:s, s:s}", "Certificate", cert_rsa, "PrivateKey", cert_ec_key),
                       "PrivateKey");
        expect_invalid(t,
                       json_pack("{s:s, s:s}", "Certificate", cert_ec, "PrivateKey", cert_rsa_key),
                       "PrivateKey");
        expect_invalid(
            t, json_pack("{s:s, s:s}", "Certificate", cert_expired, "PrivateKey", cert_ec_key),
            "Certificate");
        expect_invalid(t, json_pack("{s:s}", "Certificate", cert_rsa), "PrivateKey");
        expect_invalid(t, json_pack("{s:s}", "PrivateKey", cert_rsa_key), "Certificate");
        expect_invalid(t, with(apns_token_settings(), "TokenKey", json_string(cert_rsa_key)),
                       "TokenKey");
        expect_invalid(t, with(apns_token_settings(), "TokenKey", json_string(token_p384)),
                       "TokenKey");
        expect_invalid(t, with(apns_token_settings(), "TokenKey", json_string(token_encrypted)),
                       "TokenKey");
        expect_invalid(t, with(apns_token_settings(), "TokenKey", json_string(cert_ec)),
                       "TokenKey");
        expect_invalid(t, with(apns_token_settings(), "TeamId", NULL), "TeamId");
        expect_invalid(t, with(apns_token_settings(), "TeamId", json_string("")), "TeamId");
        expect_invalid(t, with(apns_token_settings(), "TokenKeyId", NULL), "TokenKeyId");
        expect_invalid(t, with(apns_token_settings(), "BundleId", NULL), "BundleId");
        expect_invalid(t, with(apns_token_settings(), "TeamId", json_string("DEF123\"}")),
                       "TeamId");
        expect_invalid(t, with(apns_token_settings(), "TokenKeyId", json_string("ABC 123")),
                       "TokenKeyId");
        expect_invalid(t, with(apns_token_settings(), "BundleId", json_string("com.example/x")),
                       "BundleId");
        expect_invalid(t, with(apns_token_settings(), "TokenKey", json_integer(1)), "TokenKey");
        expect_invalid(t, with(apns_token_settings(), "TeamId", json_true()), "TeamId");
        expect_invalid(t, with(apns_token_settings(), "Enabled", json_string("true")), "Enabled");
        expect_invalid(t, with(apns_token_settings(), "Enabled", json_integer(1)), "Enabled");
        expect_invalid(
            t,
            with(apns_token_settings(), "DefaultAuthenticationMethod", json_string("CERTIFICATE")),
            "DefaultAuthenticationMethod");
        expect_invalid(
            t, with(apns_token_settings(), "DefaultAuthenticationMethod", json_string("PASSWORD")),
            "DefaultAuthenticationMethod");
        expect_invalid(t, json_pack("{s:b}", "Enabled", 1), "Certificate");
        expect_invalid(t, json_pack("[]"), "");
    }
}

static void test_apns_errors_quote_no_key(void **state)
{
    json_t *response = json_object();
    json_t *settings = with(apns_token_settings(), "TokenKey", json_string(token_p384));
    struct rp_err err;
    assert_int_equal(rp_channel_settings_validate(channel("APNS"), settings, response, &err),
                     RP_EINVAL);
    char *line = pem_body_line(token_p384);
    assert_null(strstr(err.msg, line));
    assert_null(strstr(err.msg, "BEGIN"));
    free(line);
    json_decref(settings);
    json_decref(response);
}

static void test_apns_address(void **state)
{
    char token[201];
    memset(token, 'a', sizeof(token) - 1);
    token[200] = '\0';
    for (size_t i = 0; i < 4; i++) {
        const char *t = apns_types[i];
        expect_address(t, "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78ad", 1);
        expect_address(t, "740F4707BEBCF74F9B7C25D48E3358945F6AA01DA5DDB387462C7EAF61BB78AD", 1);
        expect_address(t, "0123abcd", 1);
        expect_address(t, token, 1);
        expect_address(t, token + 1, 1);
        expect_address(t, "0123abc", 0);
        token[0] = 'b';
        char longer[202];
        snprintf(longer, sizeof(longer), "a%s", token);
        expect_address(t, longer, 0);
        expect_address(t, "740f4707bebcf74f9b7c25d48e3358945f6aa01da5ddb387462c7eaf61bb78az", 0);
        expect_address(t, "740f4707 ebcf74f", 0);
        expect_address(t, "", 0);
        expect_address(t, NULL, 0);
    }
}

/* GCM */

/* Returns a new ServiceJson string: the fixture with key set to value (taken; NULL removes). */
static json_t *service_json(const char *key, json_t *value)
{
    json_t *doc = json_deep_copy(sa_doc);
    if (key)
        with(doc, key, value);
    char *text = json_dumps(doc, JSON_INDENT(2));
    json_decref(doc);
    json_t *s = json_string(text);
    free(text);
    return s;
}

static void test_gcm_service_json_valid(void **state)
{
    json_t *settings = json_object();
    json_object_set_new(settings, "ServiceJson", service_json(NULL, NULL));
    json_t *response =
        expect_valid("GCM", settings,
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1, "DefaultAuthenticationMethod",
                               "TOKEN", "HasCredential", 0, "HasFcmServiceCredentials", 1));
    assert_not_leaked(response, sa_key);
    assert_not_leaked(response, "repoint-test");
    json_decref(response);
}

static void test_gcm_api_key(void **state)
{
    const char *api_key = "AIzaSyDummyDummyDummyDummyDummyDummy123";
    json_t *response =
        expect_valid("GCM", json_pack("{s:s, s:b}", "ApiKey", api_key, "Enabled", 0),
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 0, "DefaultAuthenticationMethod",
                               "KEY", "HasCredential", 1, "HasFcmServiceCredentials", 0));
    assert_not_leaked(response, api_key);
    json_decref(response);

    json_t *both = json_pack("{s:s, s:s}", "ApiKey", api_key, "DefaultAuthenticationMethod", "key");
    json_object_set_new(both, "ServiceJson", service_json(NULL, NULL));
    response =
        expect_valid("GCM", both,
                     json_pack("{s:b, s:s, s:b, s:b}", "Enabled", 1, "DefaultAuthenticationMethod",
                               "KEY", "HasCredential", 1, "HasFcmServiceCredentials", 1));
    assert_not_leaked(response, api_key);
    assert_not_leaked(response, sa_key);
    json_decref(response);
}

static json_t *gcm_settings(const char *key, json_t *value)
{
    json_t *settings = json_object();
    json_object_set_new(settings, "ServiceJson", service_json(key, value));
    return settings;
}

static void test_gcm_invalid(void **state)
{
    expect_invalid("GCM", json_pack("{s:s}", "ServiceJson", "not json at all"), "ServiceJson");
    expect_invalid("GCM", json_pack("{s:s}", "ServiceJson", "[1, 2]"), "ServiceJson");
    expect_invalid("GCM", json_pack("{s:i}", "ServiceJson", 7), "ServiceJson");
    expect_invalid("GCM", json_pack("{s:{}}", "ServiceJson"), "ServiceJson");
    expect_invalid("GCM", gcm_settings("private_key", NULL), "ServiceJson.private_key");
    expect_invalid("GCM", gcm_settings("private_key", json_string("")), "ServiceJson.private_key");
    expect_invalid("GCM", gcm_settings("private_key", json_integer(3)), "ServiceJson.private_key");
    expect_invalid("GCM", gcm_settings("private_key", json_string("-----BEGIN PRIVATE KEY-----\n")),
                   "ServiceJson.private_key");
    expect_invalid("GCM", gcm_settings("private_key", json_string(cert_ec_key)),
                   "ServiceJson.private_key");
    expect_invalid("GCM", gcm_settings("project_id", NULL), "ServiceJson.project_id");
    expect_invalid("GCM", gcm_settings("project_id", json_string("a/b")), "ServiceJson.project_id");
    expect_invalid("GCM", gcm_settings("client_email", NULL), "ServiceJson.client_email");
    expect_invalid("GCM", gcm_settings("client_email", json_string("nobody")),
                   "ServiceJson.client_email");
    expect_invalid("GCM", gcm_settings("token_uri", NULL), "ServiceJson.token_uri");
    expect_invalid("GCM", gcm_settings("token_uri", json_string("ftp://oauth2.googleapis.com")),
                   "ServiceJson.token_uri");
    expect_invalid("GCM", gcm_settings("token_uri", json_string("https://")),
                   "ServiceJson.token_uri");
    expect_invalid("GCM", gcm_settings("type", json_string("authorized_user")), "ServiceJson.type");
    expect_invalid("GCM", json_object(), "ServiceJson");
    expect_invalid("GCM", json_pack("{s:s}", "ApiKey", "has space"), "ApiKey");
    expect_invalid("GCM", json_pack("{s:b}", "ApiKey", 1), "ApiKey");
    expect_invalid("GCM",
                   json_pack("{s:s, s:s}", "ApiKey", "k", "DefaultAuthenticationMethod", "TOKEN"),
                   "DefaultAuthenticationMethod");
    expect_invalid(
        "GCM", with(gcm_settings(NULL, NULL), "DefaultAuthenticationMethod", json_string("KEY")),
        "DefaultAuthenticationMethod");
    expect_invalid(
        "GCM", with(gcm_settings(NULL, NULL), "DefaultAuthenticationMethod", json_string("OAUTH")),
        "DefaultAuthenticationMethod");
    expect_invalid("GCM", with(gcm_settings(NULL, NULL), "Enabled", json_string("yes")), "Enabled");
}

static void test_gcm_parse_error_quotes_nothing(void **state)
{
    /* jansson's message would say "near '<input>'": the input is key material. */
    json_t *settings = json_pack("{s:s}", "ServiceJson", "{\"private_key\": secretstuff}");
    json_t *response = json_object();
    struct rp_err err;
    assert_int_equal(rp_channel_settings_validate(channel("GCM"), settings, response, &err),
                     RP_EINVAL);
    assert_null(strstr(err.msg, "secretstuff"));
    json_decref(settings);
    json_decref(response);
}

static void test_gcm_address(void **state)
{
    char token[4098];
    memset(token, 'x', sizeof(token) - 1);
    token[4097] = '\0';
    expect_address("GCM", "dQw4w9WgXcQ:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx_-_wJ8uB0UOdoXH8lyvVy",
                   1);
    expect_address("GCM", token + 1, 1);
    expect_address("GCM", token, 0);
    expect_address("GCM", "with space", 0);
    expect_address("GCM", "tab\there", 0);
    expect_address("GCM", "", 0);
    expect_address("GCM", NULL, 0);
}

/* ADM and Baidu */

static void test_adm(void **state)
{
    const char *secret = "f3b2c1d0e9a8f7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2";
    json_t *response = expect_valid("ADM",
                                    json_pack("{s:s, s:s}", "ClientId",
                                              "amzn1.application-oa2-client.0123456789abcdef",
                                              "ClientSecret", secret),
                                    json_pack("{s:b, s:b}", "Enabled", 1, "HasCredential", 1));
    assert_not_leaked(response, secret);
    json_decref(response);

    expect_invalid("ADM", json_pack("{s:s}", "ClientId", "id"), "ClientSecret");
    expect_invalid("ADM", json_pack("{s:s, s:s}", "ClientId", "", "ClientSecret", "s"), "ClientId");
    expect_invalid("ADM", json_pack("{s:s, s:i}", "ClientId", "id", "ClientSecret", 5),
                   "ClientSecret");
    expect_invalid("ADM", json_pack("{s:s, s:s}", "ClientId", "id\n", "ClientSecret", "s"),
                   "ClientId");
    expect_invalid(
        "ADM",
        json_pack("{s:s, s:s, s:s}", "ClientId", "id", "ClientSecret", "s", "Enabled", "false"),
        "Enabled");

    char long_id[2050];
    memset(long_id, 'r', sizeof(long_id) - 1);
    long_id[2049] = '\0';
    expect_address("ADM", "amzn1.adm-registration.v3.Y29tLmFtYXpvbi5EZXZpY2VNZXNzYWdpbmc", 1);
    expect_address("ADM", long_id + 1, 1);
    expect_address("ADM", long_id, 0);
    expect_address("ADM", "bad\x01id", 0);
    expect_address("ADM", "", 0);
}

static void test_baidu(void **state)
{
    const char *api_key = "Ljc710pzAa99GULCo8y48NvB";
    const char *secret = "8772555E1C16715EBA5C85341684C58";
    json_t *response = expect_valid(
        "BAIDU", json_pack("{s:s, s:s}", "ApiKey", api_key, "SecretKey", secret),
        json_pack("{s:b, s:b, s:s}", "Enabled", 1, "HasCredential", 1, "Credential", "****8NvB"));
    assert_not_leaked(response, secret);
    assert_not_leaked(response, api_key);
    json_decref(response);

    /* Too short to show any of it. */
    json_decref(expect_valid(
        "BAIDU", json_pack("{s:s, s:s}", "ApiKey", "shortkey", "SecretKey", secret),
        json_pack("{s:b, s:b, s:s}", "Enabled", 1, "HasCredential", 1, "Credential", "****")));

    expect_invalid("BAIDU", json_pack("{s:s}", "ApiKey", api_key), "SecretKey");
    expect_invalid("BAIDU", json_pack("{s:s}", "SecretKey", secret), "ApiKey");
    expect_invalid("BAIDU", json_pack("{s:[], s:s}", "ApiKey", "SecretKey", secret), "ApiKey");
    expect_invalid("BAIDU", json_pack("{s:s, s:s}", "ApiKey", api_key, "SecretKey", "a b"),
                   "SecretKey");

    char long_id[258];
    memset(long_id, '3', sizeof(long_id) - 1);
    long_id[257] = '\0';
    expect_address("BAIDU", "3812345678901234567", 1);
    expect_address("BAIDU", long_id + 1, 1);
    expect_address("BAIDU", long_id, 0);
    expect_address("BAIDU", "", 0);
    expect_address("BAIDU", "a\rb", 0);
}

/* Email */

static void test_email_settings(void **state)
{
    json_decref(expect_valid(
        "EMAIL",
        json_pack("{s:s, s:s, s:s, s:s, s:s}", "FromAddress", "sender@example.com", "Identity",
                  "arn:aws:ses:us-east-1:123456789012:identity/example.com", "ConfigurationSet",
                  "repoint-events_1", "RoleArn", "arn:aws:iam::123456789012:role/events",
                  "OrchestrationSendingRoleArn", "arn:aws:iam::123456789012:role/send"),
        json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:i}", "Enabled", 1, "FromAddress",
                  "sender@example.com", "Identity",
                  "arn:aws:ses:us-east-1:123456789012:identity/example.com", "ConfigurationSet",
                  "repoint-events_1", "RoleArn", "arn:aws:iam::123456789012:role/events",
                  "OrchestrationSendingRoleArn", "arn:aws:iam::123456789012:role/send",
                  "MessagesPerSecond", 1)));
    json_decref(expect_valid("EMAIL",
                             json_pack("{s:s, s:b}", "FromAddress", "a@b.co", "Enabled", 0),
                             json_pack("{s:b, s:s, s:i}", "Enabled", 0, "FromAddress", "a@b.co",
                                       "MessagesPerSecond", 1)));

    expect_invalid("EMAIL", json_object(), "FromAddress");
    expect_invalid("EMAIL", json_pack("{s:s}", "FromAddress", ""), "FromAddress");
    expect_invalid("EMAIL", json_pack("{s:s}", "FromAddress", "not-an-address"), "FromAddress");
    expect_invalid("EMAIL", json_pack("{s:s}", "FromAddress", "a@b.com\r\nBcc: x@y.com"),
                   "FromAddress");
    expect_invalid("EMAIL", json_pack("{s:i}", "FromAddress", 1), "FromAddress");
    expect_invalid("EMAIL", json_pack("{s:s, s:i}", "FromAddress", "a@b.co", "Identity", 1),
                   "Identity");
    expect_invalid("EMAIL", json_pack("{s:s, s:s}", "FromAddress", "a@b.co", "RoleArn", "a\nb"),
                   "RoleArn");
    expect_invalid(
        "EMAIL", json_pack("{s:s, s:s}", "FromAddress", "a@b.co", "ConfigurationSet", "has space"),
        "ConfigurationSet");
    expect_invalid("EMAIL", json_pack("{s:s, s:s}", "FromAddress", "a@b.co", "Enabled", "on"),
                   "Enabled");
}

static void expect_email(const char *addr, int ok)
{
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_email_address_validate(addr, "FromAddress", &err);
    if (ok && rc != 0)
        fail_msg("\"%s\" refused: %s", addr, err.msg);
    if (!ok) {
        if (rc != RP_EINVAL)
            fail_msg("\"%s\" accepted", addr ? addr : "(null)");
        assert_string_equal(err.field, "FromAddress");
    }
    expect_address("EMAIL", addr, ok);
}

static void test_email_address(void **state)
{
    expect_email("a@b.co", 1);
    expect_email("first.last+tag@mail.example.com", 1);
    expect_email("o'brien_{x}@example-domain.org", 1);
    expect_email("user@localhost", 1);
    expect_email("j\xc3\xbcrgen@b\xc3\xbc"
                 "cher.de",
                 1);

    char buf[400];
    /* 64-character local part: the limit. */
    snprintf(buf, sizeof(buf), "%.64s@example.com",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect_email(buf, 1);
    snprintf(buf, sizeof(buf), "%.65s@example.com",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    expect_email(buf, 0);
    /* 254 characters in all is the limit: "a@" and a domain of 63+1+63+1+63+1+60. */
    char label[64], last[61];
    memset(label, 'c', 63);
    label[63] = '\0';
    memset(last, 'd', 60);
    last[60] = '\0';
    snprintf(buf, sizeof(buf), "a@%s.%s.%s.%s", label, label, label, last);
    assert_int_equal(strlen(buf), 254);
    expect_email(buf, 1);
    snprintf(buf, sizeof(buf), "ab@%s.%s.%s.%s", label, label, label, last);
    expect_email(buf, 0);
    /* A 64-character label. */
    snprintf(buf, sizeof(buf), "a@%sd.com", label);
    expect_email(buf, 0);

    expect_email("", 0);
    expect_email(NULL, 0);
    expect_email("plain", 0);
    expect_email("@example.com", 0);
    expect_email("a@", 0);
    expect_email("a@@example.com", 0);
    expect_email("a@b@example.com", 0);
    expect_email(".a@example.com", 0);
    expect_email("a.@example.com", 0);
    expect_email("a..b@example.com", 0);
    expect_email("a b@example.com", 0);
    expect_email("\"quoted\"@example.com", 0);
    expect_email("a@-example.com", 0);
    expect_email("a@example-.com", 0);
    expect_email("a@example..com", 0);
    expect_email("a@example.com.", 0);
    expect_email("a@.example.com", 0);
    expect_email("a@exa_mple.com", 0);
    expect_email("a@[192.0.2.1]", 0);
    expect_email("a@example.com\n", 0);
    expect_email("a\r@example.com", 0);
    expect_email("Name <a@example.com>", 0);
}

/* SMS */

static void test_sms_settings(void **state)
{
    json_decref(
        expect_valid("SMS", json_pack("{s:s, s:s}", "SenderId", "Repoint", "ShortCode", "12345"),
                     json_pack("{s:b, s:s, s:s, s:i, s:i}", "Enabled", 1, "SenderId", "Repoint",
                               "ShortCode", "12345", "PromotionalMessagesPerSecond", 20,
                               "TransactionalMessagesPerSecond", 20)));
    json_decref(
        expect_valid("SMS", json_pack("{s:b}", "Enabled", 0),
                     json_pack("{s:b, s:i, s:i}", "Enabled", 0, "PromotionalMessagesPerSecond", 20,
                               "TransactionalMessagesPerSecond", 20)));
    json_decref(expect_valid("SMS", json_pack("{s:s}", "SenderId", "ABCDEFGHIJK"),
                             json_pack("{s:b, s:s, s:i, s:i}", "Enabled", 1, "SenderId",
                                       "ABCDEFGHIJK", "PromotionalMessagesPerSecond", 20,
                                       "TransactionalMessagesPerSecond", 20)));

    expect_invalid("SMS", json_pack("{s:s}", "SenderId", "ABCDEFGHIJKL"), "SenderId");
    expect_invalid("SMS", json_pack("{s:s}", "SenderId", "12345"), "SenderId");
    expect_invalid("SMS", json_pack("{s:s}", "SenderId", "My Shop"), "SenderId");
    expect_invalid("SMS", json_pack("{s:i}", "SenderId", 12), "SenderId");
    expect_invalid("SMS", json_pack("{s:s}", "ShortCode", "12a45"), "ShortCode");
    expect_invalid("SMS", json_pack("{s:s}", "ShortCode", "12"), "ShortCode");
    expect_invalid("SMS", json_pack("{s:s}", "ShortCode", "123456789"), "ShortCode");
    expect_invalid("SMS", json_pack("{s:s}", "Enabled", "true"), "Enabled");
    expect_invalid("SMS", json_pack("{s:i}", "Enabled", 0), "Enabled");
}

static void expect_e164(const char *number, int ok)
{
    struct rp_err err;
    rp_err_clear(&err);
    int rc = rp_e164_validate(number, "Address", &err);
    if (ok && rc != 0)
        fail_msg("\"%s\" refused: %s", number, err.msg);
    if (!ok) {
        if (rc != RP_EINVAL)
            fail_msg("\"%s\" accepted", number ? number : "(null)");
        assert_string_equal(err.field, "Address");
    }
    expect_address("SMS", number, ok);
}

static void test_e164(void **state)
{
    expect_e164("+14155552671", 1);
    expect_e164("+4915123456789", 1);
    expect_e164("+1", 1);
    expect_e164("+123456789012345", 1);
    expect_e164("+1234567890123456", 0);
    expect_e164("14155552671", 0);
    expect_e164("+", 0);
    expect_e164("+0123456789", 0);
    expect_e164("+1 415 555 2671", 0);
    expect_e164("+1-415-555-2671", 0);
    expect_e164("+1415555267a", 0);
    expect_e164("++14155552671", 0);
    expect_e164("", 0);
    expect_e164(NULL, 0);
}

/* Shared key helpers */

static void test_keys(void **state)
{
    EVP_PKEY *key = NULL;
    struct rp_err err;
    assert_int_equal(rp_keys_private_key(token_p256, "K", &key, &err), 0);
    assert_true(rp_keys_is_ec_p256(key));
    assert_true(rp_keys_is_ec(key));
    assert_false(rp_keys_is_rsa(key));
    EVP_PKEY_free(key);
    assert_int_equal(rp_keys_private_key(token_p384, "K", &key, &err), 0);
    assert_false(rp_keys_is_ec_p256(key));
    assert_true(rp_keys_is_ec(key));
    EVP_PKEY_free(key);
    assert_int_equal(rp_keys_private_key(sa_key, "K", &key, &err), 0);
    assert_true(rp_keys_is_rsa(key));
    assert_false(rp_keys_is_ec_p256(key));
    EVP_PKEY_free(key);
    assert_int_equal(rp_keys_private_key(token_encrypted, "K", &key, &err), RP_EINVAL);
    assert_null(key);
    assert_int_equal(rp_keys_private_key("", "K", &key, &err), RP_EINVAL);
    assert_int_equal(rp_keys_private_key(cert_rsa, "K", &key, &err), RP_EINVAL);
    assert_string_equal(err.field, "K");

    X509 *cert = NULL;
    assert_int_equal(rp_keys_certificate(cert_ec, "C", &cert, &err), 0);
    X509_free(cert);
    assert_int_equal(rp_keys_certificate(token_p256, "C", &cert, &err), RP_EINVAL);
    assert_null(cert);
    assert_string_equal(err.field, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_lookups),
        cmocka_unit_test(test_registry_unknown),
        cmocka_unit_test(test_default_ops),
        cmocka_unit_test(test_apns_token_valid),
        cmocka_unit_test(test_apns_certificate_valid),
        cmocka_unit_test(test_apns_both_credentials),
        cmocka_unit_test(test_apns_invalid),
        cmocka_unit_test(test_apns_errors_quote_no_key),
        cmocka_unit_test(test_apns_address),
        cmocka_unit_test(test_gcm_service_json_valid),
        cmocka_unit_test(test_gcm_api_key),
        cmocka_unit_test(test_gcm_invalid),
        cmocka_unit_test(test_gcm_parse_error_quotes_nothing),
        cmocka_unit_test(test_gcm_address),
        cmocka_unit_test(test_adm),
        cmocka_unit_test(test_baidu),
        cmocka_unit_test(test_email_settings),
        cmocka_unit_test(test_email_address),
        cmocka_unit_test(test_sms_settings),
        cmocka_unit_test(test_e164),
        cmocka_unit_test(test_keys),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
