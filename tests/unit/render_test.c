/* Rendering direct messages: gateway/render.c and gateway/render_content.c. Requests are
 * written as JSON; endpoints come from a fake store (an object of stored EndpointResponses) so
 * that resolution, users and the response are tested without Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channels/channel.h"
#include "delivery.h"
#include "rc.h"
#include "render.h"
#include "render_content.h"

#define APNS_TOKEN  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define NOW_MS      1767225600000LL
#define DEADLINE_MS (NOW_MS + 10000)

/* Stored endpoints as the endpoint store returns them (EndpointResponse). */
static const char store_text[] =
    "{\"ep-sms\": {\"Id\": \"ep-sms\", \"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
    "   \"EndpointStatus\": \"ACTIVE\", \"OptOut\": \"NONE\", \"User\": {\"UserId\": \"u-1\"}},"
    " \"ep-email\": {\"Id\": \"ep-email\", \"ChannelType\": \"EMAIL\","
    "   \"Address\": \"ann@example.com\", \"User\": {\"UserId\": \"u-1\"}},"
    " \"ep-apns\": {\"Id\": \"ep-apns\", \"ChannelType\": \"APNS\", \"Address\": \"" APNS_TOKEN
    "\", \"User\": {\"UserId\": \"u-1\"}},"
    " \"ep-gcm\": {\"Id\": \"ep-gcm\", \"ChannelType\": \"GCM\", \"Address\": \"fcm-token-1\","
    "   \"User\": {\"UserId\": \"u-2\"}},"
    " \"ep-dup\": {\"Id\": \"ep-dup\", \"ChannelType\": \"SMS\", \"Address\": \"+12065550100\","
    "   \"User\": {\"UserId\": \"u-2\"}},"
    " \"ep-inactive\": {\"Id\": \"ep-inactive\", \"ChannelType\": \"SMS\","
    "   \"Address\": \"+12065550101\", \"EndpointStatus\": \"INACTIVE\"},"
    " \"ep-optout\": {\"Id\": \"ep-optout\", \"ChannelType\": \"SMS\","
    "   \"Address\": \"+12065550102\", \"OptOut\": \"ALL\"},"
    " \"ep-voice\": {\"Id\": \"ep-voice\", \"ChannelType\": \"VOICE\","
    "   \"Address\": \"+12065550103\"},"
    " \"ep-noaddr\": {\"Id\": \"ep-noaddr\", \"ChannelType\": \"SMS\"},"
    " \"ep-badaddr\": {\"Id\": \"ep-badaddr\", \"ChannelType\": \"SMS\", \"Address\": \"555\"},"
    " \"ep-stale\": {\"Id\": \"ep-stale\", \"ChannelType\": \"SMS\", \"Address\": \"+12065550104\","
    "   \"User\": {\"UserId\": \"someone-else\"}}}";

static json_t *store;

static json_t *parse(const char *text)
{
    json_error_t jerr;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &jerr);
    if (!v)
        fail_msg("test JSON does not parse: %s: %s", jerr.text, text);
    return v;
}

static int setup(void **state)
{
    (void)state;
    store = parse(store_text);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(store);
    return 0;
}

static struct rp_render_params params(void)
{
    struct rp_render_params p = {
        .app_id = "6e0b7591a90841d2b5d93fa11143e5a7",
        .request_id = "b2c8e4a6-0c51-4d0b-9f7e-1b3f8f5e2a11",
        .now_ms = NOW_MS,
        .deadline_ms = DEADLINE_MS,
        .reply_to = "rp:reply:api-1",
    };
    return p;
}

static void assert_json_equal(const json_t *got, const char *expected_text)
{
    json_t *expected = parse(expected_text);
    if (!json_equal(got, expected)) {
        char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
        char *e = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
        fail_msg("got      %s\nexpected %s", g, e);
    }
    json_decref(expected);
}

/* Hands the plan what the fake store holds: Endpoints by id, and every endpoint of each user
 * (the user index is simulated by scanning, stale entries included). */
static void resolve(struct rp_render_plan *plan)
{
    for (size_t i = 0; i < rp_render_plan_endpoint_count(plan); i++)
        assert_int_equal(rp_render_plan_set_endpoint(
                             plan, i, json_object_get(store, rp_render_plan_endpoint_id(plan, i))),
                         0);
    for (size_t i = 0; i < rp_render_plan_user_count(plan); i++) {
        const char *id;
        json_t *ep;
        json_object_foreach(store, id, ep)
        {
            const char *user =
                json_string_value(json_object_get(json_object_get(ep, "User"), "UserId"));
            if ((user && strcmp(user, rp_render_plan_user_id(plan, i)) == 0) ||
                strcmp(id, "ep-stale") == 0)
                assert_int_equal(rp_render_plan_add_user_endpoint(plan, i, id, ep), 0);
        }
    }
}

static struct rp_render_plan *plan_with(enum rp_render_kind kind, const char *text,
                                        const struct rp_render_params *p)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *body = parse(text);
    struct rp_render_plan *plan = rp_render_plan_new(body, kind, &err);
    json_decref(body);
    if (!plan)
        fail_msg("%s: field '%s': %s", text, err.field, err.msg);
    resolve(plan);
    int rc = rp_render_build(plan, p, &err);
    if (rc != 0)
        fail_msg("build of %s: rc %d field '%s': %s", text, rc, err.field, err.msg);
    return plan;
}

static struct rp_render_plan *plan_ok(enum rp_render_kind kind, const char *text)
{
    struct rp_render_params p = params();
    return plan_with(kind, text, &p);
}

/* The recipient keyed key (and of user, when given). */
static struct rp_render_recipient *recipient(struct rp_render_plan *plan, const char *user,
                                             const char *key)
{
    for (size_t i = 0; i < rp_render_plan_count(plan); i++) {
        struct rp_render_recipient *r = rp_render_plan_recipient(plan, i);
        if (strcmp(r->key, key) == 0 && (!user || (r->user_id && strcmp(r->user_id, user) == 0)))
            return r;
    }
    fail_msg("no recipient %s", key);
    return NULL;
}

static void assert_content(struct rp_render_plan *plan, const char *key, const char *expected)
{
    struct rp_render_recipient *r = recipient(plan, NULL, key);
    if (!r->queued)
        fail_msg("%s is not queued: %s", key, r->result.status_message);
    assert_json_equal(r->delivery.content, expected);
}

static void expect_invalid(enum rp_render_kind kind, const char *text, const char *field,
                           const char *msg_part)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *body = parse(text);
    int rc = kind == RP_RENDER_USERS ? rp_render_validate_users_request(body, &err)
                                     : rp_render_validate_message_request(body, &err);
    struct rp_render_plan *plan = rp_render_plan_new(body, kind, NULL);
    json_decref(body);
    if (plan)
        fail_msg("%s: plan built from an invalid request", text);
    if (rc != RP_EINVAL || strcmp(err.field, field) != 0)
        fail_msg("%s: rc %d field '%s' (%s), expected field '%s'", text, rc, err.field, err.msg,
                 field);
    assert_true(err.msg[0] != '\0');
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("field %s: message '%s' lacks '%s'", field, err.msg, msg_part);
}

/* A request whose only address is an SMS number, with the given MessageConfiguration. */
static void expect_invalid_config(const char *mc, const char *field, const char *msg_part)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
             " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"hi\"}, %s}}",
             mc);
    expect_invalid(RP_RENDER_MESSAGES, text, field, msg_part);
}

static void expect_build_fails(enum rp_render_kind kind, const char *text, const char *field,
                               const char *msg_part)
{
    struct rp_err err;
    rp_err_clear(&err);
    json_t *body = parse(text);
    struct rp_render_plan *plan = rp_render_plan_new(body, kind, &err);
    json_decref(body);
    if (!plan)
        fail_msg("%s: invalid: field '%s': %s", text, err.field, err.msg);
    resolve(plan);
    struct rp_render_params p = params();
    int rc = rp_render_build(plan, &p, &err);
    if (rc != RP_EINVAL || strcmp(err.field, field) != 0)
        fail_msg("%s: rc %d field '%s' (%s), expected field '%s'", text, rc, err.field, err.msg,
                 field);
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("field %s: message '%s' lacks '%s'", field, err.msg, msg_part);
    assert_null(rp_render_response(plan));
    assert_int_equal(rp_render_plan_count(plan), 0);
    rp_render_plan_free(plan);
}

static void test_registry_matches_render_table(void **state)
{
    (void)state;
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    for (size_t i = 0; i < n; i++) {
        const struct rp_render_channel *ch = rp_render_channel_find(all[i]->type);
        if (!ch)
            fail_msg("channel %s has no message shape", all[i]->type);
        assert_string_equal(ch->type, all[i]->type);
    }
    assert_null(rp_render_channel_find("VOICE"));
    assert_null(rp_render_channel_find("sms"));
    assert_true(rp_render_channel_unserved("IN_APP"));
    assert_false(rp_render_channel_unserved("SMS"));
}

static void test_invalid_requests(void **state)
{
    (void)state;
    const enum rp_render_kind M = RP_RENDER_MESSAGES;
    expect_invalid(M, "[]", "", "JSON object");
    expect_invalid(M, "{\"TraceId\": 5, \"Addresses\": {}}", "TraceId", "string");
    expect_invalid(M, "{\"Context\": {\"a\": 1}}", "Context", "string");
    expect_invalid(M, "{\"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses", "at least one");
    expect_invalid(M, "{\"Addresses\": [], \"MessageConfiguration\": {}}", "Addresses", "object");
    expect_invalid(M, "{\"Endpoints\": {\"ep-1\": {}}, \"MessageConfiguration\": 3}",
                   "MessageConfiguration", "object");
    expect_invalid(M, "{\"Endpoints\": {\"ep-1\": {}}, \"MessageConfiguration\": {}}",
                   "MessageConfiguration", "has no message");
    expect_invalid(M, "{\"Endpoints\": {\"ep-1\": {}}}", "MessageConfiguration", "has no message");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {}}, \"MessageConfiguration\": {\"SMSMessage\":"
                   " {\"Body\": \"\"}}}",
                   "MessageConfiguration", "has no message");
    /* Channel types. */
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": {}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[+120***(12)].ChannelType", "required");
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"FAX\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[+120***(12)].ChannelType", "must be one of ADM, APNS");
    static const char *const unserved[] = {"VOICE", "IN_APP", "CUSTOM", "PUSH"};
    for (size_t i = 0; i < sizeof(unserved) / sizeof(unserved[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text),
                 "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"%s\"}},"
                 " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                 unserved[i]);
        expect_invalid(M, text, "Addresses[+120***(12)].ChannelType", "not supported by Repoint");
    }
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": 7}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[+120***(12)].ChannelType", "string");
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": \"SMS\"}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[+120***(12)]", "AddressConfiguration");
    expect_invalid(M,
                   "{\"Addresses\": {\"\": {\"ChannelType\": \"SMS\"}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses", "empty address");
    /* Addresses not valid for their channel; the field never quotes the address in full. */
    expect_invalid(M,
                   "{\"Addresses\": {\"206-555-0100\": {\"ChannelType\": \"SMS\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[206-***(12)]", "E.164");
    expect_invalid(M,
                   "{\"Addresses\": {\"not-an-address\": {\"ChannelType\": \"EMAIL\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[not-***(14)]", NULL);
    expect_invalid(M,
                   "{\"Addresses\": {\"zz\": {\"ChannelType\": \"APNS\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[***(2)]", "APNs device token");
    /* An empty message for the address's channel names what to give. */
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                   " \"MessageConfiguration\": {\"GCMMessage\": {\"Body\": \"x\"}}}",
                   "MessageConfiguration.SMSMessage.Body", "Addresses[+120***(12)]");
    expect_invalid(M,
                   "{\"Addresses\": {\"ann@example.com\": {\"ChannelType\": \"EMAIL\"}},"
                   " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"x\"}}}",
                   "MessageConfiguration.EmailMessage", "EMAIL channel");
    expect_invalid(M,
                   "{\"Addresses\": {\"" APNS_TOKEN "\": {\"ChannelType\": \"APNS_SANDBOX\"}},"
                   " \"MessageConfiguration\": {\"GCMMessage\": {\"Body\": \"x\"}}}",
                   "MessageConfiguration.APNSMessage", "APNS_SANDBOX channel");
    expect_invalid(M,
                   "{\"Addresses\": {\"" APNS_TOKEN "\": {\"ChannelType\": \"APNS\"}},"
                   " \"MessageConfiguration\": {\"APNSMessage\": {\"SilentPush\": false}}}",
                   "MessageConfiguration.APNSMessage", NULL);
    /* Endpoint ids and their configurations. */
    expect_invalid(M,
                   "{\"Endpoints\": {\"a{b}\": {}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[a{b}]", "$, { or }");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": []}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1]", "EndpointSendConfiguration");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {\"RawContent\": \"not json\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1].RawContent", "JSON object");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {\"Substitutions\": {\"a\": \"b\"}}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1].Substitutions.a", "list of strings");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {\"Context\": {\"a\": [\"b\"]}}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1].Context.a", "string");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {\"BodyOverride\": 1}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1].BodyOverride", "string");
    expect_invalid(M,
                   "{\"Endpoints\": {\"ep-1\": {\"TitleOverride\": {}}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[ep-1].TitleOverride", "string");
    expect_invalid(M,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\","
                   " \"Substitutions\": {\"\": [\"x\"]}}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[+120***(12)].Substitutions", "empty variable name");
}

static void test_recipient_limits(void **state)
{
    (void)state;
    /* 100 recipients over both maps are fine, 101 are not. */
    for (int total = 100; total <= 101; total++) {
        json_t *body = parse("{\"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}");
        json_t *addresses = json_object(), *endpoints = json_object();
        for (int i = 0; i < total; i++) {
            char key[32];
            if (i % 2) {
                snprintf(key, sizeof(key), "+1206555%04d", i);
                json_object_set_new(addresses, key, json_pack("{s:s}", "ChannelType", "SMS"));
            } else {
                snprintf(key, sizeof(key), "ep-%d", i);
                json_object_set_new(endpoints, key, json_object());
            }
        }
        json_object_set_new(body, "Addresses", addresses);
        json_object_set_new(body, "Endpoints", endpoints);
        struct rp_err err;
        rp_err_clear(&err);
        int rc = rp_render_validate_message_request(body, &err);
        if (total == 100) {
            assert_int_equal(rc, 0);
        } else {
            assert_int_equal(rc, RP_EINVAL);
            assert_string_equal(err.field, "Addresses");
            assert_non_null(strstr(err.msg, "at most 100"));
        }
        json_decref(body);
    }
    for (int total = 100; total <= 101; total++) {
        json_t *body = parse("{\"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}");
        json_t *users = json_object();
        for (int i = 0; i < total; i++) {
            char key[32];
            snprintf(key, sizeof(key), "user-%d", i);
            json_object_set_new(users, key, json_object());
        }
        json_object_set_new(body, "Users", users);
        struct rp_err err;
        int rc = rp_render_validate_users_request(body, &err);
        assert_int_equal(rc, total == 100 ? 0 : RP_EINVAL);
        if (rc)
            assert_string_equal(err.field, "Users");
        json_decref(body);
    }
}

static void test_invalid_users_requests(void **state)
{
    (void)state;
    const enum rp_render_kind U = RP_RENDER_USERS;
    expect_invalid(U, "{\"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Users", "required");
    expect_invalid(U,
                   "{\"Users\": {}, \"MessageConfiguration\": {\"DefaultMessage\":"
                   " {\"Body\": \"x\"}}}",
                   "Users", "at least one");
    expect_invalid(U,
                   "{\"Users\": {\"u$1\": {}}, \"MessageConfiguration\": {\"DefaultMessage\":"
                   " {\"Body\": \"x\"}}}",
                   "Users[u$1]", "$, { or }");
    expect_invalid(U,
                   "{\"Users\": {\"u\\u00011\": {}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Users[u\0011]", "control");
    expect_invalid(U,
                   "{\"Users\": {\"u-1\": 5}, \"MessageConfiguration\": {\"DefaultMessage\":"
                   " {\"Body\": \"x\"}}}",
                   "Users[u-1]", "EndpointSendConfiguration");
    expect_invalid(U,
                   "{\"Users\": {\"u-1\": {\"Context\": []}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Users[u-1].Context", "object");
    expect_invalid(U, "{\"Users\": {\"u-1\": {}}, \"MessageConfiguration\": {}}",
                   "MessageConfiguration", "has no message");
    /* A user's overrides are content enough to pass validation. */
    struct rp_err err;
    json_t *body = parse("{\"Users\": {\"u-1\": {\"BodyOverride\": \"hi\"}}}");
    assert_int_equal(rp_render_validate_users_request(body, &err), 0);
    json_decref(body);
}

static void test_invalid_message_configuration(void **state)
{
    (void)state;
    expect_invalid_config("\"SMSMessage\": {\"MessageType\": \"URGENT\"}",
                          "MessageConfiguration.SMSMessage.MessageType", "TRANSACTIONAL");
    expect_invalid_config("\"SMSMessage\": {\"SenderId\": \"TooLongSenderId\"}",
                          "MessageConfiguration.SMSMessage.SenderId", "11");
    expect_invalid_config("\"SMSMessage\": {\"SenderId\": \"12345\"}",
                          "MessageConfiguration.SMSMessage.SenderId", "letter");
    expect_invalid_config("\"SMSMessage\": {\"OriginationNumber\": \"+1 206\"}",
                          "MessageConfiguration.SMSMessage.OriginationNumber", "spaces");
    expect_invalid_config("\"SMSMessage\": {\"Body\": 12}", "MessageConfiguration.SMSMessage.Body",
                          "string");
    expect_invalid_config("\"SMSMessage\": []", "MessageConfiguration.SMSMessage", "object");
    expect_invalid_config("\"DefaultMessage\": {\"Substitutions\": {\"a\": [1]}}",
                          "MessageConfiguration.DefaultMessage.Substitutions.a", "strings");
    expect_invalid_config("\"DefaultMessage\": {\"Substitutions\": []}",
                          "MessageConfiguration.DefaultMessage.Substitutions", "object");
    expect_invalid_config("\"GCMMessage\": {\"Action\": \"CLOSE\"}",
                          "MessageConfiguration.GCMMessage.Action", "OPEN_APP,DEEP_LINK,URL");
    expect_invalid_config("\"GCMMessage\": {\"TimeToLive\": 2419201}",
                          "MessageConfiguration.GCMMessage.TimeToLive", "2419200");
    expect_invalid_config("\"GCMMessage\": {\"Priority\": \"urgent\"}",
                          "MessageConfiguration.GCMMessage.Priority", NULL);
    expect_invalid_config("\"GCMMessage\": {\"PreferredAuthenticationMethod\": \"CERTIFICATE\"}",
                          "MessageConfiguration.GCMMessage.PreferredAuthenticationMethod",
                          "KEY,TOKEN");
    expect_invalid_config("\"GCMMessage\": {\"Data\": {\"k\": 1}}",
                          "MessageConfiguration.GCMMessage.Data.k", "string");
    expect_invalid_config("\"GCMMessage\": {\"SilentPush\": \"yes\"}",
                          "MessageConfiguration.GCMMessage.SilentPush", "true or false");
    expect_invalid_config("\"APNSMessage\": {\"Badge\": -1}",
                          "MessageConfiguration.APNSMessage.Badge", NULL);
    expect_invalid_config("\"APNSMessage\": {\"Badge\": 1.5}",
                          "MessageConfiguration.APNSMessage.Badge", "integer");
    expect_invalid_config(
        "\"APNSMessage\": {\"CollapseId\": "
        "\"0123456789012345678901234567890123456789012345678901234567890123456\"}",
        "MessageConfiguration.APNSMessage.CollapseId", "64");
    expect_invalid_config("\"APNSMessage\": {\"APNSPushType\": \"liveactivity\"}",
                          "MessageConfiguration.APNSMessage.APNSPushType", "alert");
    expect_invalid_config("\"APNSMessage\": {\"RawContent\": \"[1]\"}",
                          "MessageConfiguration.APNSMessage.RawContent", "JSON object");
    expect_invalid_config("\"APNSMessage\": {\"PreferredAuthenticationMethod\": \"KEY\"}",
                          "MessageConfiguration.APNSMessage.PreferredAuthenticationMethod",
                          "CERTIFICATE,TOKEN");
    expect_invalid_config("\"BaiduMessage\": {\"TimeToLive\": 604801}",
                          "MessageConfiguration.BaiduMessage.TimeToLive", "604800");
    expect_invalid_config("\"ADMMessage\": {\"ExpiresAfter\": \"1 hour\"}",
                          "MessageConfiguration.ADMMessage.ExpiresAfter", "seconds");
    /* Longer than rp_err's field: the implied "MessageConfiguration." goes first. */
    expect_invalid_config("\"DefaultPushNotificationMessage\": {\"Substitutions\": {\"n\": 1}}",
                          "DefaultPushNotificationMessage.Substitutions.n", "strings");
    expect_invalid_config("\"DefaultPushNotificationMessage\": {\"Title\": false}",
                          "MessageConfiguration.DefaultPushNotificationMessage.Title", "string");
    expect_invalid_config("\"VoiceMessage\": {\"VoiceId\": 3}",
                          "MessageConfiguration.VoiceMessage.VoiceId", "string");
    expect_invalid_config("\"EmailMessage\": {\"FromAddress\": \"not an address\"}",
                          "MessageConfiguration.EmailMessage.FromAddress", NULL);
    expect_invalid_config(
        "\"EmailMessage\": {\"FromAddress\": \"Evil\\r\\nBcc: x <a@example.com>\"}",
        "MessageConfiguration.EmailMessage.FromAddress", "display name");
    expect_invalid_config(
        "\"EmailMessage\": {\"FeedbackForwardingAddress\": \"A <a@example.com>\"}",
        "MessageConfiguration.EmailMessage.FeedbackForwardingAddress", NULL);
    expect_invalid_config("\"EmailMessage\": {\"ReplyToAddresses\": [\"a@example.com\", \"b\"]}",
                          "MessageConfiguration.EmailMessage.ReplyToAddresses[1]", NULL);
    expect_invalid_config("\"EmailMessage\": {\"ReplyToAddresses\": \"a@example.com\"}",
                          "MessageConfiguration.EmailMessage.ReplyToAddresses", "list");
    expect_invalid_config("\"EmailMessage\": {\"SimpleEmail\": {\"Subject\": \"hi\"}}",
                          "MessageConfiguration.EmailMessage.SimpleEmail.Subject", "Data");
    expect_invalid_config("\"EmailMessage\": {\"SimpleEmail\": {\"HtmlPart\": {\"Data\": \"x\","
                          " \"Charset\": \"utf 8\"}}}",
                          "MessageConfiguration.EmailMessage.SimpleEmail.HtmlPart.Charset",
                          "spaces");
    expect_invalid_config("\"EmailMessage\": {\"SimpleEmail\": {\"Headers\": [{\"Name\": \"X-A\","
                          " \"Value\": \"a\\r\\nBcc: b@example.com\"}]}}",
                          "MessageConfiguration.EmailMessage.SimpleEmail.Headers[0]",
                          "line breaks");
    expect_invalid_config("\"EmailMessage\": {\"SimpleEmail\": {\"Headers\": [{\"Name\": \"X:A\","
                          " \"Value\": \"a\"}]}}",
                          "MessageConfiguration.EmailMessage.SimpleEmail.Headers[0]", "colon");
    expect_invalid_config("\"EmailMessage\": {\"RawEmail\": {\"Data\": \"not base64!\"}}",
                          "MessageConfiguration.EmailMessage.RawEmail.Data", "base64");
    /* Sixteen headers: one more than "up to 15". */
    char headers[2048] = "\"EmailMessage\": {\"SimpleEmail\": {\"Headers\": [";
    for (int i = 0; i < 16; i++)
        snprintf(headers + strlen(headers), sizeof(headers) - strlen(headers),
                 "%s{\"Name\": \"X-H%d\", \"Value\": \"v\"}", i ? ", " : "", i);
    strcat(headers, "]}}");
    expect_invalid_config(headers, "MessageConfiguration.EmailMessage.SimpleEmail.Headers", "15");
}

static void test_invalid_template_configuration(void **state)
{
    (void)state;
    const char *base = "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                       " \"TemplateConfiguration\": %s}";
    char text[512];
    snprintf(text, sizeof(text), base, "{\"InAppTemplate\": {\"Name\": \"t\"}}");
    expect_invalid(RP_RENDER_MESSAGES, text, "TemplateConfiguration.InAppTemplate",
                   "not supported for SendMessages");
    snprintf(text, sizeof(text), base, "{\"SMSTemplate\": {\"Version\": \"1\"}}");
    expect_invalid(RP_RENDER_MESSAGES, text, "TemplateConfiguration.SMSTemplate.Name", "required");
    snprintf(text, sizeof(text), base, "{\"SMSTemplate\": {\"Name\": \"t\", \"Version\": 1}}");
    expect_invalid(RP_RENDER_MESSAGES, text, "TemplateConfiguration.SMSTemplate.Version", "string");
    snprintf(text, sizeof(text), base, "[]");
    expect_invalid(RP_RENDER_MESSAGES, text, "TemplateConfiguration", "object");
    /* The SMS address has no message, and a push template is no help to it. */
    snprintf(text, sizeof(text), base, "{\"PushTemplate\": {\"Name\": \"t\"}}");
    expect_invalid(RP_RENDER_MESSAGES, text, "MessageConfiguration.SMSMessage.Body", NULL);
}

static void test_sms_content(void **state)
{
    (void)state;
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"Addresses\": {"
        "   \"+12065550100\": {\"ChannelType\": \"SMS\"},"
        "   \"+12065550101\": {\"ChannelType\": \"SMS\", \"BodyOverride\": \"Just for you\","
        "                      \"TitleOverride\": \"ignored for SMS\"},"
        "   \"+12065550102\": {\"ChannelType\": \"SMS\", \"Substitutions\": {\"name\": "
        "[\"Ann\"]}}},"
        " \"MessageConfiguration\": {"
        "   \"DefaultMessage\": {\"Body\": \"default\", \"Substitutions\": {\"name\": [\"you\"],"
        "                        \"code\": [\"000\"]}},"
        "   \"SMSMessage\": {\"Body\": \"Hi {{name}}, code {{ code }} {{missing}}\","
        "     \"Substitutions\": {\"code\": [\"123\"]}, \"MessageType\": \"TRANSACTIONAL\","
        "     \"OriginationNumber\": \"+12065550199\", \"SenderId\": \"Repoint\","
        "     \"Keyword\": \"JOIN\", \"EntityId\": \"e-1\", \"TemplateId\": \"t-1\","
        "     \"MediaUrl\": \"https://example.com/m.png\"}}}");
    const char *members = "\"MessageType\": \"TRANSACTIONAL\", \"OriginationNumber\":"
                          " \"+12065550199\", \"SenderId\": \"Repoint\", \"Keyword\": \"JOIN\","
                          " \"EntityId\": \"e-1\", \"TemplateId\": \"t-1\","
                          " \"MediaUrl\": \"https://example.com/m.png\"";
    char expected[1024];
    snprintf(expected, sizeof(expected), "{%s, \"Body\": \"Hi you, code 123 {{missing}}\"}",
             members);
    assert_content(plan, "+12065550100", expected);
    snprintf(expected, sizeof(expected), "{%s, \"Body\": \"Just for you\"}", members);
    assert_content(plan, "+12065550101", expected);
    snprintf(expected, sizeof(expected), "{%s, \"Body\": \"Hi Ann, code 123 {{missing}}\"}",
             members);
    assert_content(plan, "+12065550102", expected);
    rp_render_plan_free(plan);

    /* DefaultMessage when SMSMessage has no Body; "" counts as not given. MessageType stays
     * absent so that the SMS channel applies its own default. */
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\","
                   "   \"BodyOverride\": \"\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"fallback\"},"
                   "   \"SMSMessage\": {\"Body\": \"\", \"SenderId\": null}}}");
    assert_content(plan, "+12065550100", "{\"Body\": \"fallback\"}");
    rp_render_plan_free(plan);
}

static void test_substitution_precedence(void **state)
{
    (void)state;
    /* recipient > channel message > DefaultPushNotificationMessage > DefaultMessage. */
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"Addresses\": {\"" APNS_TOKEN "\": {\"ChannelType\": \"APNS\","
        "   \"Substitutions\": {\"a\": [\"recipient\"]}}},"
        " \"MessageConfiguration\": {"
        "   \"DefaultMessage\": {\"Substitutions\": {\"a\": [\"dm\"], \"b\": [\"dm\"],"
        "                        \"c\": [\"dm\"], \"d\": [\"dm\"]}},"
        "   \"DefaultPushNotificationMessage\": {\"Substitutions\": {\"a\": [\"dpn\"],"
        "                        \"b\": [\"dpn\"], \"c\": [\"dpn\"]}},"
        "   \"APNSMessage\": {\"Title\": \"{{a}}/{{b}}/{{c}}/{{d}}\", \"Body\": \"{{list}}\","
        "     \"Substitutions\": {\"a\": [\"apns\"], \"b\": [\"apns\"],"
        "                         \"list\": [\"x\", \"y\", \"z\"]}}}}");
    assert_content(plan, APNS_TOKEN, "{\"Title\": \"recipient/apns/dpn/dm\", \"Body\": \"x,y,z\"}");
    rp_render_plan_free(plan);

    /* SMS ignores DefaultPushNotificationMessage's variables. */
    plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
        " \"MessageConfiguration\": {"
        "   \"DefaultMessage\": {\"Body\": \"{{a}}\", \"Substitutions\": {\"a\": [\"dm\"]}},"
        "   \"DefaultPushNotificationMessage\": {\"Substitutions\": {\"a\": [\"dpn\"]}}}}");
    assert_content(plan, "+12065550100", "{\"Body\": \"dm\"}");
    rp_render_plan_free(plan);
}

static void test_substitute(void **state)
{
    (void)state;
    json_t *vars = parse("{\"a\": [\"1\"], \"b\": [], \"long\": [\"xxxxxxxxxx\"],"
                         " \"two words\": [\"w\"], \"l\": [\"p\", \"q\"]}");
    static const struct {
        const char *in, *out;
        bool changed;
    } cases[] = {
        {"", "", false},
        {"plain", "plain", false},
        {"{{a}}", "1", true},
        {"x{{ a }}y", "x1y", true},
        {"{{a}}{{a}}", "11", true},
        {"{{b}}!", "!", true},
        {"{{l}}", "p,q", true},
        {"{{two words}}", "w", true},
        {"{{unknown}} {{a}}", "{{unknown}} 1", true},
        {"{{}}", "{{}}", false},
        {"{{ }}", "{{ }}", false},
        {"{{a}", "{{a}", false},
        {"{{a", "{{a", false},
        {"{", "{", false},
        {"}}{{", "}}{{", false},
        {"{{{a}}}", "{1}", true},
        {"{{a{{a}}", "{{a1", true},
        {"caf\xc3\xa9 {{a}}", "caf\xc3\xa9 1", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = 0;
        bool changed = true;
        char *out =
            rp_render_substitute(cases[i].in, strlen(cases[i].in), vars, 1000, &len, &changed);
        assert_non_null(out);
        if (strcmp(out, cases[i].out) != 0 || changed != cases[i].changed)
            fail_msg("'%s' -> '%s' (changed %d), expected '%s'", cases[i].in, out, changed,
                     cases[i].out);
        assert_int_equal(len, strlen(cases[i].out));
        free(out);
    }
    /* Bounded output. */
    size_t len;
    bool changed;
    assert_null(rp_render_substitute("{{long}}{{long}}", 16, vars, 19, &len, &changed));
    char *out = rp_render_substitute("{{long}}{{long}}", 16, vars, 20, &len, &changed);
    assert_non_null(out);
    assert_int_equal(len, 20);
    free(out);
    assert_null(rp_render_substitute("0123456789", 10, vars, 9, &len, &changed));
    /* A name longer than any placeholder is looked for is left alone. */
    char longname[600];
    memset(longname, 'n', sizeof(longname));
    memcpy(longname, "{{", 2);
    memcpy(longname + sizeof(longname) - 3, "}}", 3);
    out = rp_render_substitute(longname, strlen(longname), vars, 1000, &len, &changed);
    assert_string_equal(out, longname);
    free(out);
    json_decref(vars);
}

static void test_push_content(void **state)
{
    (void)state;
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"Addresses\": {"
        "   \"" APNS_TOKEN "\": {\"ChannelType\": \"APNS\"},"
        "   \"0123456789abcdef\": {\"ChannelType\": \"APNS_VOIP_SANDBOX\","
        "     \"TitleOverride\": \"T!\", \"BodyOverride\": \"B!\","
        "     \"RawContent\": \"{\\\"aps\\\": {\\\"content-available\\\": 1}}\"},"
        "   \"fcm-token-1\": {\"ChannelType\": \"GCM\"},"
        "   \"adm-token-1\": {\"ChannelType\": \"ADM\"},"
        "   \"baidu-channel-1\": {\"ChannelType\": \"BAIDU\"}},"
        " \"MessageConfiguration\": {"
        "   \"DefaultMessage\": {\"Body\": \"dm body\"},"
        "   \"DefaultPushNotificationMessage\": {\"Title\": \"dpn title\", \"Body\": \"dpn body\","
        "     \"Action\": \"URL\", \"Url\": \"https://example.com\", \"SilentPush\": false,"
        "     \"Data\": {\"k\": \"dpn\"}},"
        "   \"APNSMessage\": {\"Body\": \"apns body\", \"Action\": \"OPEN_APP\","
        "     \"MediaUrl\": \"https://example.com/v.mp4\", \"Sound\": \"default\", \"Badge\": 3,"
        "     \"Category\": \"c\", \"ThreadId\": \"t\", \"RawContent\": \"{\\\"aps\\\": {}}\","
        "     \"PreferredAuthenticationMethod\": \"TOKEN\", \"TimeToLive\": 60,"
        "     \"Priority\": \"high\", \"CollapseId\": \"cid\", \"APNSPushType\": \"alert\"},"
        "   \"GCMMessage\": {\"Title\": \"gcm title\", \"Data\": {\"k\": \"gcm\"},"
        "     \"IconReference\": \"ic\", \"Sound\": \"s\", \"ImageUrl\": \"i\","
        "     \"ImageIconUrl\": \"ii\", \"SmallImageIconUrl\": \"si\", \"CollapseKey\": \"ck\","
        "     \"RestrictedPackageName\": \"com.example\", \"TimeToLive\": 30, \"Priority\": \"10\","
        "     \"PreferredAuthenticationMethod\": \"KEY\", \"SilentPush\": true},"
        "   \"ADMMessage\": {\"ConsolidationKey\": \"ck\", \"ExpiresAfter\": \"3600\","
        "     \"MD5\": \"abc=\", \"SilentPush\": null},"
        "   \"BaiduMessage\": {\"TimeToLive\": 600, \"IconReference\": \"bi\"}}}");
    assert_content(plan, APNS_TOKEN,
                   "{\"Title\": \"dpn title\", \"Body\": \"apns body\", \"Action\": \"OPEN_APP\","
                   " \"Url\": \"https://example.com\", \"SilentPush\": false,"
                   " \"Data\": {\"k\": \"dpn\"}, \"MediaUrl\": \"https://example.com/v.mp4\","
                   " \"Sound\": \"default\", \"Badge\": 3, \"Category\": \"c\","
                   " \"ThreadId\": \"t\", \"RawContent\": \"{\\\"aps\\\": {}}\","
                   " \"PreferredAuthenticationMethod\": \"TOKEN\", \"TimeToLive\": 60,"
                   " \"Priority\": \"10\", \"CollapseId\": \"cid\", \"APNSPushType\": \"alert\"}");
    /* The recipient's overrides win; APNS_VOIP_SANDBOX takes APNSMessage. */
    assert_content(plan, "0123456789abcdef",
                   "{\"Title\": \"T!\", \"Body\": \"B!\", \"Action\": \"OPEN_APP\","
                   " \"Url\": \"https://example.com\", \"SilentPush\": false,"
                   " \"Data\": {\"k\": \"dpn\"}, \"MediaUrl\": \"https://example.com/v.mp4\","
                   " \"Sound\": \"default\", \"Badge\": 3, \"Category\": \"c\","
                   " \"ThreadId\": \"t\","
                   " \"RawContent\": \"{\\\"aps\\\": {\\\"content-available\\\": 1}}\","
                   " \"PreferredAuthenticationMethod\": \"TOKEN\", \"TimeToLive\": 60,"
                   " \"Priority\": \"10\", \"CollapseId\": \"cid\", \"APNSPushType\": \"alert\"}");
    assert_content(plan, "fcm-token-1",
                   "{\"Title\": \"gcm title\", \"Body\": \"dpn body\", \"Action\": \"URL\","
                   " \"Url\": \"https://example.com\", \"SilentPush\": true,"
                   " \"Data\": {\"k\": \"gcm\"}, \"IconReference\": \"ic\", \"Sound\": \"s\","
                   " \"ImageUrl\": \"i\", \"ImageIconUrl\": \"ii\", \"SmallImageIconUrl\": \"si\","
                   " \"CollapseKey\": \"ck\", \"RestrictedPackageName\": \"com.example\","
                   " \"TimeToLive\": 30, \"Priority\": \"high\","
                   " \"PreferredAuthenticationMethod\": \"KEY\"}");
    assert_content(plan, "adm-token-1",
                   "{\"Title\": \"dpn title\", \"Body\": \"dpn body\", \"Action\": \"URL\","
                   " \"Url\": \"https://example.com\", \"SilentPush\": false,"
                   " \"Data\": {\"k\": \"dpn\"}, \"ConsolidationKey\": \"ck\","
                   " \"ExpiresAfter\": \"3600\", \"MD5\": \"abc=\"}");
    assert_content(plan, "baidu-channel-1",
                   "{\"Title\": \"dpn title\", \"Body\": \"dpn body\", \"Action\": \"URL\","
                   " \"Url\": \"https://example.com\", \"SilentPush\": false,"
                   " \"Data\": {\"k\": \"dpn\"}, \"TimeToLive\": 600, \"IconReference\": \"bi\"}");
    rp_render_plan_free(plan);

    /* Priority words convert both ways; DefaultMessage.Body is the last fallback; a silent push
     * with only Data is content. */
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Addresses\": {\"" APNS_TOKEN "\": {\"ChannelType\": \"APNS\"},"
                   "   \"fcm-token-1\": {\"ChannelType\": \"GCM\"}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"dm\"},"
                   "   \"APNSMessage\": {\"Priority\": \"normal\"},"
                   "   \"GCMMessage\": {\"Priority\": \"5\"}}}");
    assert_content(plan, APNS_TOKEN, "{\"Body\": \"dm\", \"Priority\": \"5\"}");
    assert_content(plan, "fcm-token-1", "{\"Body\": \"dm\", \"Priority\": \"normal\"}");
    rp_render_plan_free(plan);
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Addresses\": {\"fcm-token-1\": {\"ChannelType\": \"GCM\"}},"
                   " \"MessageConfiguration\": {\"GCMMessage\": {\"SilentPush\": true,"
                   "   \"Data\": {\"refresh\": \"1\"}}}}");
    assert_content(plan, "fcm-token-1", "{\"SilentPush\": true, \"Data\": {\"refresh\": \"1\"}}");
    rp_render_plan_free(plan);
}

static void test_email_content(void **state)
{
    (void)state;
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"Addresses\": {"
        "   \"ann@example.com\": {\"ChannelType\": \"EMAIL\","
        "     \"Substitutions\": {\"name\": [\"Ann\"]}},"
        "   \"bob@example.com\": {\"ChannelType\": \"EMAIL\", \"TitleOverride\": \"Bob's subject\","
        "     \"BodyOverride\": \"Bob's text\"}},"
        " \"MessageConfiguration\": {\"EmailMessage\": {"
        "   \"FromAddress\": \"Repoint <no-reply@example.com>\","
        "   \"FeedbackForwardingAddress\": \"bounces@example.com\","
        "   \"ReplyToAddresses\": [\"help@example.com\", \"Help Desk <desk@example.com>\"],"
        "   \"Substitutions\": {\"name\": [\"friend\"]},"
        "   \"SimpleEmail\": {\"Subject\": {\"Data\": \"Hello {{name}}\", \"Charset\": \"UTF-8\"},"
        "     \"TextPart\": {\"Data\": \"Text for {{name}}\"},"
        "     \"HtmlPart\": {\"Data\": \"<p>{{name}}</p>\", \"Charset\": \"utf-8\"},"
        "     \"Headers\": [{\"Name\": \"List-Unsubscribe\", \"Value\": "
        "\"<mailto:u@example.com>\"}]}}}}");
    const char *common = "\"FromAddress\": \"Repoint <no-reply@example.com>\","
                         " \"FeedbackForwardingAddress\": \"bounces@example.com\","
                         " \"ReplyToAddresses\": [\"help@example.com\","
                         " \"Help Desk <desk@example.com>\"], \"Charset\": \"utf-8\","
                         " \"Headers\": [{\"Name\": \"List-Unsubscribe\","
                         " \"Value\": \"<mailto:u@example.com>\"}]";
    char expected[1024];
    snprintf(expected, sizeof(expected),
             "{%s, \"Subject\": \"Hello Ann\", \"TextPart\": \"Text for Ann\","
             " \"HtmlPart\": \"<p>Ann</p>\"}",
             common);
    assert_content(plan, "ann@example.com", expected);
    /* A BodyOverride is the text the recipient reads: no HtmlPart contradicts it. */
    snprintf(expected, sizeof(expected),
             "{%s, \"Subject\": \"Bob's subject\", \"TextPart\": \"Bob's text\","
             " \"Body\": \"Bob's text\"}",
             common);
    assert_content(plan, "bob@example.com", expected);
    rp_render_plan_free(plan);

    /* RawEmail as given (base64), Body from DefaultMessage. */
    plan =
        plan_ok(RP_RENDER_MESSAGES,
                "{\"Addresses\": {\"ann@example.com\": {\"ChannelType\": \"EMAIL\"},"
                "   \"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"plain\"},"
                "   \"EmailMessage\": {\"RawEmail\": {\"Data\": \"U3ViamVjdDogaGkNCg0KaGk=\"}}}}");
    assert_content(plan, "ann@example.com",
                   "{\"RawEmail\": \"U3ViamVjdDogaGkNCg0KaGk=\", \"Body\": \"plain\"}");
    assert_content(plan, "+12065550100", "{\"Body\": \"plain\"}");
    rp_render_plan_free(plan);
}

static void test_delivery_members(void **state)
{
    (void)state;
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES,
        "{\"TraceId\": \"trace-1\", \"Context\": {\"campaign\": \"spring\", \"who\": \"all\"},"
        " \"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\","
        "   \"Context\": {\"who\": \"ann\"}},"
        "   \"+12065550199\": {\"ChannelType\": \"SMS\"}},"
        " \"Endpoints\": {\"ep-email\": {\"Context\": {\"only\": \"me\"}}},"
        " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"hi\"}}}");
    struct rp_render_params p = params();
    assert_int_equal(rp_render_plan_count(plan), 3);
    const struct rp_render_recipient *a = recipient(plan, NULL, "+12065550100");
    const struct rp_render_recipient *b = recipient(plan, NULL, "+12065550199");
    const struct rp_render_recipient *e = recipient(plan, NULL, "ep-email");
    assert_true(a->queued && b->queued && e->queued);
    const struct rp_delivery *d = &a->delivery;
    assert_int_equal(strlen(d->message_id), 36);
    assert_int_equal(d->message_id[14], '4');
    assert_string_not_equal(d->message_id, b->delivery.message_id);
    assert_string_not_equal(d->message_id, e->delivery.message_id);
    assert_string_equal(d->request_id, p.request_id);
    assert_string_equal(d->app_id, p.app_id);
    assert_string_equal(d->channel, "SMS");
    assert_string_equal(d->address, "+12065550100");
    assert_null(d->endpoint_id);
    assert_string_equal(d->recipient_key, "+12065550100");
    assert_string_equal(d->trace_id, "trace-1");
    assert_int_equal(d->created_ms, NOW_MS);
    assert_int_equal(d->deadline_ms, DEADLINE_MS);
    assert_int_equal(d->attempts, 0);
    assert_int_equal(d->origin, RP_ORIGIN_DIRECT);
    assert_string_equal(d->reply_to, "rp:reply:api-1");
    assert_string_equal(d->campaign_id, "");
    assert_json_equal(d->context, "{\"campaign\": \"spring\", \"who\": \"ann\"}");
    assert_json_equal(b->delivery.context, "{\"campaign\": \"spring\", \"who\": \"all\"}");
    assert_json_equal(e->delivery.context,
                      "{\"campaign\": \"spring\", \"who\": \"all\", \"only\": \"me\"}");
    /* Endpoint recipients: resolved channel and address, keyed by endpoint id. */
    assert_string_equal(e->delivery.channel, "EMAIL");
    assert_string_equal(e->delivery.address, "ann@example.com");
    assert_string_equal(e->delivery.endpoint_id, "ep-email");
    assert_string_equal(e->delivery.recipient_key, "ep-email");
    assert_json_equal(e->delivery.content, "{\"Body\": \"hi\"}");
    /* What goes on the queue comes back whole. */
    json_t *doc = rp_delivery_to_json(d);
    struct rp_delivery back;
    rp_delivery_init(&back);
    assert_int_equal(rp_delivery_from_json(&back, doc), 0);
    assert_string_equal(back.message_id, d->message_id);
    assert_true(json_equal(back.content, d->content));
    assert_true(json_equal(back.context, d->context));
    rp_delivery_cleanup(&back);
    json_decref(doc);
    struct rp_delivery *queued[3];
    assert_int_equal(rp_render_plan_deliveries(plan, queued), 3);
    assert_ptr_equal(queued[0], &a->delivery);
    assert_ptr_equal(queued[2], &e->delivery);
    assert_ptr_equal(rp_render_plan_find(plan, e->delivery.message_id), e);
    assert_null(rp_render_plan_find(plan, "nope"));
    rp_render_plan_free(plan);

    /* No Context anywhere: none on the delivery; no TraceId: none. */
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                   " \"TraceId\": \"\", \"MessageConfiguration\": {\"DefaultMessage\":"
                   " {\"Body\": \"hi\"}}}");
    assert_null(rp_render_plan_recipient(plan, 0)->delivery.context);
    assert_null(rp_render_plan_recipient(plan, 0)->delivery.trace_id);
    rp_render_plan_free(plan);
}

/* Many recipients with long addresses, every second one sharing its predecessor's: the
 * build's record of addresses sent to outgrows its first buffer and still finds each twin. */
static void test_duplicates_among_many_long_addresses(void **state)
{
    (void)state;
    enum { N = 100, TOKEN = 600 }; /* a request names at most 100 endpoints */
    json_t *body = parse("{\"MessageConfiguration\": {\"GCMMessage\": {\"Body\": \"hi\"}}}");
    json_t *endpoints = json_object();
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof(id), "ep-%03d", i);
        json_object_set_new(endpoints, id, json_object());
    }
    json_object_set_new(body, "Endpoints", endpoints);
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    json_decref(body);
    assert_non_null(plan);
    for (size_t i = 0; i < rp_render_plan_endpoint_count(plan); i++) {
        int n = atoi(rp_render_plan_endpoint_id(plan, i) + 3);
        char token[TOKEN + 1];
        memset(token, 'a' + (n / 2) % 26, TOKEN);
        token[TOKEN] = '\0';
        char head[32];
        int len = snprintf(head, sizeof(head), "tok-%d-", n / 2); /* the same for 2k, 2k + 1 */
        memcpy(token, head, (size_t)len);
        json_t *ep = json_pack("{s:s, s:s, s:s}", "ChannelType", "GCM", "Address", token,
                               "EndpointStatus", "ACTIVE");
        assert_int_equal(rp_render_plan_set_endpoint(plan, i, ep), 0);
        json_decref(ep);
    }
    struct rp_render_params p = params();
    assert_int_equal(rp_render_build(plan, &p, &err), 0);
    int queued = 0, duplicates = 0;
    for (size_t i = 0; i < rp_render_plan_count(plan); i++) {
        const struct rp_render_recipient *r = rp_render_plan_recipient(plan, i);
        queued += r->queued;
        duplicates += r->result.status == RP_DS_DUPLICATE;
    }
    assert_int_equal(queued, N / 2);
    assert_int_equal(duplicates, N / 2);
    rp_render_plan_free(plan);
}

static void test_endpoint_resolution(void **state)
{
    (void)state;
    const char *text =
        "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
        " \"Endpoints\": {\"ep-dup\": {}, \"ep-missing\": {}, \"ep-inactive\": {},"
        "   \"ep-optout\": {}, \"ep-voice\": {}, \"ep-noaddr\": {}, \"ep-badaddr\": {},"
        "   \"ep-gcm\": {\"BodyOverride\": \"for gcm\"}},"
        " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"hi\"}}}";
    struct rp_render_plan *plan = plan_ok(RP_RENDER_MESSAGES, text);
    assert_int_equal(rp_render_plan_count(plan), 9);
    /* The address came first, so the endpoint with the same SMS number is the duplicate. */
    assert_true(recipient(plan, NULL, "+12065550100")->queued);
    struct rp_render_recipient *r = recipient(plan, NULL, "ep-dup");
    assert_false(r->queued);
    assert_int_equal(r->result.status, RP_DS_DUPLICATE);
    assert_int_equal(r->result.status_code, 400);
    assert_string_equal(r->address, "+12065550100");
    r = recipient(plan, NULL, "ep-missing");
    assert_int_equal(r->result.status, RP_DS_PERMANENT_FAILURE);
    assert_int_equal(r->result.status_code, 404);
    assert_string_equal(r->result.status_message, "Endpoint not found");
    assert_null(r->address);
    /* Direct sends ignore EndpointStatus and OptOut, as the reference says. */
    assert_true(recipient(plan, NULL, "ep-inactive")->queued);
    assert_true(recipient(plan, NULL, "ep-optout")->queued);
    r = recipient(plan, NULL, "ep-voice");
    assert_int_equal(r->result.status, RP_DS_PERMANENT_FAILURE);
    assert_non_null(strstr(r->result.status_message, "VOICE"));
    assert_int_equal(recipient(plan, NULL, "ep-noaddr")->result.status, RP_DS_PERMANENT_FAILURE);
    assert_int_equal(recipient(plan, NULL, "ep-badaddr")->result.status, RP_DS_PERMANENT_FAILURE);
    r = recipient(plan, NULL, "ep-gcm");
    assert_string_equal(r->delivery.channel, "GCM");
    assert_json_equal(r->delivery.content, "{\"Body\": \"for gcm\"}");
    rp_render_plan_free(plan);

    /* The campaign rules, on request. */
    struct rp_render_params p = params();
    p.honor_opt_out = true;
    p.skip_inactive = true;
    plan = plan_with(RP_RENDER_MESSAGES, text, &p);
    r = recipient(plan, NULL, "ep-inactive");
    assert_false(r->queued);
    assert_int_equal(r->result.status, RP_DS_PERMANENT_FAILURE);
    assert_string_equal(r->result.status_message, "Endpoint is inactive");
    r = recipient(plan, NULL, "ep-optout");
    assert_false(r->queued);
    assert_int_equal(r->result.status, RP_DS_OPT_OUT);
    rp_render_plan_free(plan);

    /* Two endpoints with one number: the first in the request is sent. */
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Endpoints\": {\"ep-sms\": {}, \"ep-dup\": {}},"
                   " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"x\"}}}");
    assert_true(recipient(plan, NULL, "ep-sms")->queued);
    assert_int_equal(recipient(plan, NULL, "ep-dup")->result.status, RP_DS_DUPLICATE);
    rp_render_plan_free(plan);

    /* An endpoint on a channel the message has nothing for: 400 naming the member to give. */
    expect_build_fails(RP_RENDER_MESSAGES,
                       "{\"Endpoints\": {\"ep-sms\": {}, \"ep-email\": {}},"
                       " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"x\"}}}",
                       "MessageConfiguration.EmailMessage", "Endpoints[ep-email]");
}

/* share_content (campaigns): recipients with nothing of their own hold one content object per
 * channel; one with its own configuration gets its own; without the flag each gets its own. */
static void test_shared_content(void **state)
{
    (void)state;
    const char *text =
        "{\"Endpoints\": {\"ep-sms\": {}, \"ep-inactive\": {}, \"ep-optout\": {},"
        "   \"ep-stale\": {\"BodyOverride\": \"own\"}},"
        " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"x\"}}}";
    struct rp_render_params p = params();
    p.share_content = true;
    struct rp_render_plan *plan = plan_with(RP_RENDER_MESSAGES, text, &p);
    const json_t *first = recipient(plan, NULL, "ep-sms")->delivery.content;
    assert_ptr_equal(recipient(plan, NULL, "ep-inactive")->delivery.content, first);
    assert_ptr_equal(recipient(plan, NULL, "ep-optout")->delivery.content, first);
    const json_t *own = recipient(plan, NULL, "ep-stale")->delivery.content;
    assert_ptr_not_equal(own, first);
    assert_string_equal(json_string_value(json_object_get(own, "Body")), "own");
    assert_string_equal(json_string_value(json_object_get(first, "Body")), "x");
    rp_render_plan_free(plan);

    plan = plan_ok(RP_RENDER_MESSAGES, text);
    const json_t *a = recipient(plan, NULL, "ep-sms")->delivery.content;
    const json_t *b = recipient(plan, NULL, "ep-inactive")->delivery.content;
    assert_ptr_not_equal(a, b);
    assert_true(json_equal(a, b));
    rp_render_plan_free(plan);
}

static void test_users(void **state)
{
    (void)state;
    struct rp_render_plan *plan =
        plan_ok(RP_RENDER_USERS,
                "{\"Users\": {\"u-1\": {\"Substitutions\": {\"name\": [\"Ann\"]},"
                "                      \"Context\": {\"user\": \"1\"}},"
                "             \"u-2\": {\"TitleOverride\": \"For two\"}, \"u-none\": {}},"
                " \"Context\": {\"all\": \"yes\"},"
                " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"Hi {{name}}\"},"
                "   \"SMSMessage\": {\"MessageType\": \"PROMOTIONAL\"},"
                "   \"APNSMessage\": {\"Title\": \"Apple\"}}}");
    assert_int_equal(rp_render_plan_user_count(plan), 3);
    /* u-1: SMS, EMAIL and APNS endpoints, sorted by id; the stale entry is skipped. */
    assert_int_equal(rp_render_plan_count(plan), 5);
    const char *order[] = {"ep-apns", "ep-email", "ep-sms", "ep-dup", "ep-gcm"};
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(rp_render_plan_recipient(plan, i)->key, order[i]);
    struct rp_render_recipient *r = recipient(plan, "u-1", "ep-sms");
    assert_json_equal(r->delivery.content,
                      "{\"Body\": \"Hi Ann\", \"MessageType\": \"PROMOTIONAL\"}");
    assert_json_equal(r->delivery.context, "{\"all\": \"yes\", \"user\": \"1\"}");
    assert_string_equal(r->delivery.endpoint_id, "ep-sms");
    assert_json_equal(recipient(plan, "u-1", "ep-apns")->delivery.content,
                      "{\"Title\": \"Apple\", \"Body\": \"Hi Ann\"}");
    assert_json_equal(recipient(plan, "u-1", "ep-email")->delivery.content,
                      "{\"Body\": \"Hi Ann\"}");
    /* u-2's SMS endpoint shares u-1's number: DUPLICATE. */
    assert_int_equal(recipient(plan, "u-2", "ep-dup")->result.status, RP_DS_DUPLICATE);
    assert_json_equal(recipient(plan, "u-2", "ep-gcm")->delivery.content,
                      "{\"Title\": \"For two\", \"Body\": \"Hi {{name}}\"}");

    /* Results come back; the rest time out. */
    struct rp_delivery_result res;
    rp_delivery_result_init(&res);
    rp_delivery_result_set(&res, RP_DS_SUCCESSFUL, 200, "OK");
    snprintf(res.updated_token, sizeof(res.updated_token), "new-fcm-token");
    struct rp_render_recipient *gcm = recipient(plan, "u-2", "ep-gcm");
    rp_render_recipient_complete(rp_render_plan_find(plan, gcm->delivery.message_id), &res);
    rp_delivery_result_set(&res, RP_DS_PERMANENT_FAILURE, 400, "Invalid phone number");
    res.updated_token[0] = '\0';
    rp_render_recipient_complete(recipient(plan, "u-1", "ep-sms"), &res);
    rp_render_recipient_finish(recipient(plan, "u-1", "ep-email"), RP_DS_TEMPORARY_FAILURE, 500,
                               "Queue unavailable", NULL);
    struct rp_delivery *queued[5];
    assert_int_equal(rp_render_plan_deliveries(plan, queued), 4); /* the duplicate is not */
    rp_delivery_result_cleanup(&res);

    json_t *resp = rp_render_response(plan);
    char expected[4096];
    snprintf(
        expected, sizeof(expected),
        "{\"ApplicationId\": \"6e0b7591a90841d2b5d93fa11143e5a7\","
        " \"RequestId\": \"b2c8e4a6-0c51-4d0b-9f7e-1b3f8f5e2a11\","
        " \"Result\": {"
        "  \"u-1\": {"
        "   \"ep-apns\": {\"Address\": \"" APNS_TOKEN "\", \"DeliveryStatus\": \"UNKNOWN_FAILURE\","
        "     \"StatusCode\": 504, \"MessageId\": \"%s\", \"StatusMessage\":"
        "     \"No result before the request's deadline; the message may still be delivered\"},"
        "   \"ep-email\": {\"Address\": \"ann@example.com\","
        "     \"DeliveryStatus\": \"TEMPORARY_FAILURE\", \"StatusCode\": 500,"
        "     \"MessageId\": \"%s\", \"StatusMessage\": \"Queue unavailable\"},"
        "   \"ep-sms\": {\"Address\": \"+12065550100\","
        "     \"DeliveryStatus\": \"PERMANENT_FAILURE\", \"StatusCode\": 400,"
        "     \"MessageId\": \"%s\", \"StatusMessage\": \"Invalid phone number\"}},"
        "  \"u-2\": {"
        "   \"ep-dup\": {\"Address\": \"+12065550100\", \"DeliveryStatus\": \"DUPLICATE\","
        "     \"StatusCode\": 400, \"StatusMessage\": \"%s\"},"
        "   \"ep-gcm\": {\"Address\": \"fcm-token-1\", \"DeliveryStatus\": \"SUCCESSFUL\","
        "     \"StatusCode\": 200, \"MessageId\": \"%s\", \"StatusMessage\": \"OK\","
        "     \"UpdatedToken\": \"new-fcm-token\"}},"
        "  \"u-none\": {}}}",
        recipient(plan, "u-1", "ep-apns")->delivery.message_id,
        recipient(plan, "u-1", "ep-email")->delivery.message_id,
        recipient(plan, "u-1", "ep-sms")->delivery.message_id,
        recipient(plan, "u-2", "ep-dup")->result.status_message, gcm->delivery.message_id);
    assert_json_equal(resp, expected);
    json_decref(resp);
    rp_render_plan_free(plan);
}

static void test_users_channel_without_message(void **state)
{
    (void)state;
    /* Only an SMS message: the user's other endpoints get a result, not a 400. */
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_USERS, "{\"Users\": {\"u-1\": {}}, \"MessageConfiguration\": {\"SMSMessage\":"
                         " {\"Body\": \"sms only\"}}}");
    assert_true(recipient(plan, "u-1", "ep-sms")->queued);
    struct rp_render_recipient *r = recipient(plan, "u-1", "ep-email");
    assert_false(r->queued);
    assert_int_equal(r->result.status, RP_DS_PERMANENT_FAILURE);
    assert_string_equal(r->result.status_message, "No message for the EMAIL channel");
    assert_false(recipient(plan, "u-1", "ep-apns")->queued);
    rp_render_plan_free(plan);
}

static void test_user_endpoint_limit(void **state)
{
    (void)state;
    struct rp_err err;
    json_t *body = parse("{\"Users\": {\"u-1\": {}}, \"MessageConfiguration\":"
                         " {\"DefaultMessage\": {\"Body\": \"x\"}}}");
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_USERS, &err);
    json_decref(body);
    assert_non_null(plan);
    for (int i = 0; i <= RP_RENDER_MAX_USER_ENDPOINTS; i++) {
        char id[16], number[16];
        snprintf(id, sizeof(id), "ep-%02d", i);
        snprintf(number, sizeof(number), "+1206555%04d", i);
        json_t *ep = json_pack("{s:s, s:s, s:s, s:{s:s}}", "Id", id, "ChannelType", "SMS",
                               "Address", number, "User", "UserId", "u-1");
        int rc = rp_render_plan_add_user_endpoint(plan, 0, id, ep);
        assert_int_equal(rc, i < RP_RENDER_MAX_USER_ENDPOINTS ? 0 : RP_ELIMIT);
        /* Handed over twice (another case of the same id): counted once. */
        if (i == 0) {
            assert_int_equal(rp_render_plan_add_user_endpoint(plan, 0, "EP-00", ep), 0);
        }
        json_decref(ep);
    }
    assert_int_equal(rp_render_plan_add_user_endpoint(plan, 1, "ep", store), RP_EINVAL);
    assert_int_equal(rp_render_plan_set_endpoint(plan, 0, NULL), RP_EINVAL);
    struct rp_render_params p = params();
    assert_int_equal(rp_render_build(plan, &p, &err), 0);
    assert_int_equal(rp_render_plan_count(plan), RP_RENDER_MAX_USER_ENDPOINTS);
    /* Built once. */
    assert_int_equal(rp_render_build(plan, &p, &err), RP_EINVAL);
    rp_render_plan_free(plan);
}

static void test_message_response(void **state)
{
    (void)state;
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES, "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                            " \"Endpoints\": {\"ep-sms\": {}, \"ep-missing\": {}},"
                            " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"hi\"}}}");
    struct rp_render_recipient *a = recipient(plan, NULL, "+12065550100");
    struct rp_delivery_result res;
    rp_delivery_result_init(&res);
    rp_delivery_result_set(&res, RP_DS_SUCCESSFUL, 200, "MessageId: SM123");
    snprintf(res.message_id, sizeof(res.message_id), "SM123");
    rp_render_recipient_complete(a, &res);
    rp_delivery_result_cleanup(&res);
    json_t *resp = rp_render_response(plan);
    char expected[2048];
    snprintf(expected, sizeof(expected),
             "{\"ApplicationId\": \"6e0b7591a90841d2b5d93fa11143e5a7\","
             " \"RequestId\": \"b2c8e4a6-0c51-4d0b-9f7e-1b3f8f5e2a11\","
             " \"Result\": {\"+12065550100\": {\"DeliveryStatus\": \"SUCCESSFUL\","
             "   \"StatusCode\": 200, \"StatusMessage\": \"MessageId: SM123\","
             "   \"MessageId\": \"SM123\"}},"
             " \"EndpointResult\": {"
             "   \"ep-sms\": {\"Address\": \"+12065550100\", \"DeliveryStatus\": \"DUPLICATE\","
             "     \"StatusCode\": 400, \"StatusMessage\": \"%s\"},"
             "   \"ep-missing\": {\"DeliveryStatus\": \"PERMANENT_FAILURE\", \"StatusCode\": 404,"
             "     \"StatusMessage\": \"Endpoint not found\"}}}",
             recipient(plan, NULL, "ep-sms")->result.status_message);
    assert_json_equal(resp, expected);
    json_decref(resp);
    rp_render_plan_free(plan);

    /* Only the maps with entries. */
    plan = plan_ok(RP_RENDER_MESSAGES,
                   "{\"Endpoints\": {\"ep-missing\": {}},"
                   " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"hi\"}}}");
    resp = rp_render_response(plan);
    assert_null(json_object_get(resp, "Result"));
    assert_non_null(json_object_get(resp, "EndpointResult"));
    json_decref(resp);
    rp_render_plan_free(plan);
}

/* A template hook that records its call and writes the template's name as the body. */
struct hook_calls {
    int n;
    char channel[24];
    char name[32];
    bool had_endpoint;
    bool had_var;
};

static int fake_template(void *arg, const char *channel, const json_t *tmpl, const json_t *vars,
                         const json_t *endpoint, json_t *content, struct rp_err *err)
{
    struct hook_calls *calls = arg;
    calls->n++;
    snprintf(calls->channel, sizeof(calls->channel), "%s", channel);
    const char *name = json_string_value(json_object_get(tmpl, "Name"));
    snprintf(calls->name, sizeof(calls->name), "%s", name);
    calls->had_endpoint = endpoint != NULL;
    calls->had_var = json_object_get(vars, "v") != NULL;
    if (strcmp(name, "broken") == 0)
        return rp_err_set(err, RP_ENOTFOUND, "TemplateConfiguration.SMSTemplate.Name",
                          "no such template");
    if (!json_object_get(content, "Body"))
        json_object_set_new(content, "Body", json_string(name));
    return 0;
}

static void test_templates(void **state)
{
    (void)state;
    const char *only_template =
        "{\"Endpoints\": {\"ep-sms\": {\"Substitutions\": {\"v\": [\"1\"]}}},"
        " \"TemplateConfiguration\": {\"SMSTemplate\": {\"Name\": \"otp\"},"
        "   \"VoiceTemplate\": {\"Name\": \"unused\"}}}";
    /* Not served yet: a clear 400 naming the template. */
    expect_build_fails(RP_RENDER_MESSAGES, only_template, "TemplateConfiguration.SMSTemplate",
                       "templates are not served yet");
    /* Beside message content, the template is not used. */
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES, "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                            " \"TemplateConfiguration\": {\"SMSTemplate\": {\"Name\": \"t\"}},"
                            " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"text\"}}}");
    assert_content(plan, "+12065550100", "{\"Body\": \"text\"}");
    assert_non_null(json_object_get(rp_render_plan_templates(plan), "SMSTemplate"));
    rp_render_plan_free(plan);
    /* With the hook. */
    struct hook_calls calls = {0};
    struct rp_render_params p = params();
    p.template_fn = fake_template;
    p.template_arg = &calls;
    plan = plan_with(RP_RENDER_MESSAGES, only_template, &p);
    assert_int_equal(calls.n, 1);
    assert_string_equal(calls.channel, "SMS");
    assert_string_equal(calls.name, "otp");
    assert_true(calls.had_endpoint);
    assert_true(calls.had_var);
    assert_content(plan, "ep-sms", "{\"Body\": \"otp\"}");
    rp_render_plan_free(plan);
    /* A hook's error is the build's. */
    struct rp_err err;
    json_t *body = parse("{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"}},"
                         " \"TemplateConfiguration\": {\"SMSTemplate\": {\"Name\": \"broken\"}}}");
    plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    json_decref(body);
    assert_non_null(plan);
    assert_int_equal(rp_render_build(plan, &p, &err), RP_ENOTFOUND);
    assert_string_equal(err.field, "TemplateConfiguration.SMSTemplate.Name");
    rp_render_plan_free(plan);
}

static void test_rendering_budget(void **state)
{
    (void)state;
    /* 100 recipients of a body that grows 1000-fold would render ~100 MB: refused. */
    json_t *body = json_object();
    json_t *addresses = json_object();
    for (int i = 0; i < RP_RENDER_MAX_RECIPIENTS; i++) {
        char key[32];
        snprintf(key, sizeof(key), "+1206555%04d", i);
        json_object_set_new(addresses, key, json_pack("{s:s}", "ChannelType", "SMS"));
    }
    size_t n = 200 * 1024 / 5;
    char *text = malloc(n * 5 + 1);
    for (size_t i = 0; i < n; i++)
        memcpy(text + i * 5, "{{x}}", 5);
    text[n * 5] = '\0';
    char value[1000];
    memset(value, 'v', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    json_object_set_new(body, "Addresses", addresses);
    json_object_set_new(
        body, "MessageConfiguration",
        json_pack("{s:{s:s, s:{s:[s]}}}", "SMSMessage", "Body", text, "Substitutions", "x", value));
    free(text);
    struct rp_err err;
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    json_decref(body);
    assert_non_null(plan);
    struct rp_render_params p = params();
    assert_int_equal(rp_render_build(plan, &p, &err), RP_EINVAL);
    assert_string_equal(err.field, "MessageConfiguration");
    assert_non_null(strstr(err.msg, "larger than Repoint renders"));
    rp_render_plan_free(plan);
}

static void test_shared_strings(void **state)
{
    (void)state;
    /* Unsubstituted strings are shared with the request, not copied per recipient. */
    struct rp_render_plan *plan = plan_ok(
        RP_RENDER_MESSAGES, "{\"Addresses\": {\"+12065550100\": {\"ChannelType\": \"SMS\"},"
                            "   \"+12065550101\": {\"ChannelType\": \"SMS\"}},"
                            " \"MessageConfiguration\": {\"SMSMessage\": {\"Body\": \"same\"}}}");
    const json_t *a = json_object_get(rp_render_plan_recipient(plan, 0)->delivery.content, "Body");
    const json_t *b = json_object_get(rp_render_plan_recipient(plan, 1)->delivery.content, "Body");
    assert_ptr_equal(a, b);
    rp_render_plan_free(plan);
}

/* Field paths are cut to fit rp_err and quote what the client sent: never mid-character. */
static void test_multibyte_fields(void **state)
{
    (void)state;
    /* "aéééééé@example.com": the redacted prefix (4 bytes) keeps whole characters only. */
    expect_invalid(RP_RENDER_MESSAGES,
                   "{\"Addresses\": {\"a\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9@example.com\":"
                   " {\"ChannelType\": \"SMS\"}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Addresses[a\xc3\xa9***(25)]", "E.164");
    /* An id of 3-byte characters cut at 32 bytes keeps 10 of them. */
    expect_invalid(RP_RENDER_MESSAGES,
                   "{\"Endpoints\": {\"\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac\u20ac"
                   "\u20ac\u20ac\u20ac\": {\"Substitutions\": 1}}, \"MessageConfiguration\":"
                   " {\"DefaultMessage\": {\"Body\": \"x\"}}}",
                   "Endpoints[\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac"
                   "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac].Substitutions",
                   "object");
    /* A variable name running past the end of the field is cut at a character boundary. */
    struct rp_err err;
    json_t *body =
        parse("{\"Endpoints\": {\"ep-1\": {\"Substitutions\": {\"abcdefghijklmnopqrstuvwxyz"
              "\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\": 1}}},"
              " \"MessageConfiguration\": {\"DefaultMessage\": {\"Body\": \"x\"}}}");
    assert_int_equal(rp_render_validate_message_request(body, &err), RP_EINVAL);
    json_t *field = json_string(err.field);
    assert_non_null(field);
    assert_true(
        strncmp(err.field, "Endpoints[ep-1].Substitutions.abcdefghijklmnopqrstuvwxyz", 56) == 0);
    json_decref(field);
    json_decref(body);
    /* The cut itself. */
    assert_int_equal(rp_render_utf8_cut("ab\xc3\xa9", 4), 4);
    assert_int_equal(rp_render_utf8_cut("ab\xc3\xa9", 3), 2);
    assert_int_equal(rp_render_utf8_cut("\xe2\x82\xac", 2), 0);
    assert_int_equal(rp_render_utf8_cut("\xf0\x9f\x98\x80x", 4), 4);
    assert_int_equal(rp_render_utf8_cut("\xf0\x9f\x98\x80x", 3), 0);
    assert_int_equal(rp_render_utf8_cut("", 0), 0);
}

static void test_out_of_order(void **state)
{
    (void)state;
    struct rp_err err;
    json_t *body = parse("{\"Endpoints\": {\"ep-sms\": {}}, \"MessageConfiguration\":"
                         " {\"DefaultMessage\": {\"Body\": \"x\"}}}");
    struct rp_render_plan *plan = rp_render_plan_new(body, RP_RENDER_MESSAGES, &err);
    json_decref(body);
    assert_int_equal(rp_render_plan_kind(plan), RP_RENDER_MESSAGES);
    assert_int_equal(rp_render_plan_endpoint_count(plan), 1);
    assert_string_equal(rp_render_plan_endpoint_id(plan, 0), "ep-sms");
    assert_null(rp_render_plan_endpoint_id(plan, 1));
    assert_int_equal(rp_render_plan_user_count(plan), 0);
    assert_null(rp_render_plan_user_id(plan, 0));
    assert_null(rp_render_plan_templates(plan));
    assert_int_equal(rp_render_plan_set_endpoint(plan, 1, NULL), RP_EINVAL);
    assert_int_equal(rp_render_plan_add_user_endpoint(plan, 0, "ep-sms", store), RP_EINVAL);
    assert_null(rp_render_response(plan));
    /* Set and then unset: an endpoint never handed over does not exist. */
    assert_int_equal(rp_render_plan_set_endpoint(plan, 0, json_object_get(store, "ep-sms")), 0);
    assert_int_equal(rp_render_plan_set_endpoint(plan, 0, NULL), 0);
    struct rp_render_params p = params();
    p.app_id = "an-application-id-far-longer-than-any-pinpoint-app-id";
    assert_int_equal(rp_render_build(plan, &p, &err), RP_EINVAL);
    p = params();
    assert_int_equal(rp_render_build(plan, &p, &err), 0);
    assert_int_equal(rp_render_plan_recipient(plan, 0)->result.status_code, 404);
    assert_null(rp_render_plan_recipient(plan, 1));
    assert_int_equal(rp_render_plan_set_endpoint(plan, 0, NULL), RP_EINVAL);
    rp_render_plan_free(plan);
    rp_render_plan_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registry_matches_render_table),
        cmocka_unit_test(test_invalid_requests),
        cmocka_unit_test(test_recipient_limits),
        cmocka_unit_test(test_invalid_users_requests),
        cmocka_unit_test(test_invalid_message_configuration),
        cmocka_unit_test(test_invalid_template_configuration),
        cmocka_unit_test(test_sms_content),
        cmocka_unit_test(test_substitution_precedence),
        cmocka_unit_test(test_substitute),
        cmocka_unit_test(test_push_content),
        cmocka_unit_test(test_email_content),
        cmocka_unit_test(test_delivery_members),
        cmocka_unit_test(test_endpoint_resolution),
        cmocka_unit_test(test_duplicates_among_many_long_addresses),
        cmocka_unit_test(test_shared_content),
        cmocka_unit_test(test_users),
        cmocka_unit_test(test_users_channel_without_message),
        cmocka_unit_test(test_user_endpoint_limit),
        cmocka_unit_test(test_message_response),
        cmocka_unit_test(test_templates),
        cmocka_unit_test(test_rendering_budget),
        cmocka_unit_test(test_shared_strings),
        cmocka_unit_test(test_multibyte_fields),
        cmocka_unit_test(test_out_of_order),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
