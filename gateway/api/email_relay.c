/* The EMAIL channel's per-app SMTP relay (see email_relay.h). The relay document is a member
 * of the channel's sealed settings: reading and writing it opens and re-seals that record,
 * leaving its public members, dates and version as they are. */
#include "email_relay.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../channels/email/smtp_relay.h"
#include "../channel_store.h"
#include "../http.h"
#include "../keyspace.h"
#include "../log.h"
#include "../rc.h"
#include "../secrets.h"
#include "../store.h"

static const char *const relay_members[] = {"url",       "starttls",    "username",
                                            "password",  "connections", "messages_per_connection",
                                            "timeout_ms"};

/* Opens the EMAIL channel settings of the request's app. Returns 1 with *settings (new),
 * 0 after answering 404 (no channel), -1 after answering an error. */
static int load_settings(struct rp_request *req, json_t **settings)
{
    int rc = rp_channel_store_open(rp_request_app(req), "EMAIL", settings);
    if (rc == RP_ESTORE)
        rp_respond_unavailable(req);
    else if (rc == 0)
        rp_respond_error(req, 404, "NotFoundException",
                         "The EMAIL channel is not configured: UpdateEmailChannel first");
    else if (rc < 0)
        rp_respond_error(req, 409, "ConflictException",
                         "The EMAIL channel settings do not open with the current key: "
                         "UpdateEmailChannel again");
    return rc == 1 ? 1 : rc == 0 ? 0 : -1;
}

static struct rp_script set_sealed_script = {
    .source = "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
              "redis.call('HSET', KEYS[1], 'sealed', ARGV[1]) return 1"};

static int store_settings(struct rp_request *req, json_t *settings)
{
    const char *app = rp_request_app(req);
    char aad[128], key[RP_KEY_MAX];
    snprintf(aad, sizeof(aad), "%s/EMAIL", app);
    rp_key_channel(key, app, "EMAIL");
    char *plain = json_dumps(settings, JSON_COMPACT);
    char *sealed = rp_secrets_seal(&rp_ctx.secrets, aad, plain, strlen(plain));
    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
    /* HSET only if the record still exists, in one step: a DeleteEmailChannel in between wins
     * instead of being undone by a record holding nothing but the sealed settings. */
    const char *args[] = {key, sealed};
    redisReply *r = rp_store_eval(&set_sealed_script, 1, 2, args, NULL);
    int ok = rp_reply_ok(r) && r->type == REDIS_REPLY_INTEGER;
    int exists = ok && r->integer == 1;
    if (r)
        freeReplyObject(r);
    free(sealed);
    if (!ok)
        rp_respond_unavailable(req);
    else if (!exists)
        rp_respond_error(req, 404, "NotFoundException",
                         "The EMAIL channel was deleted meanwhile: UpdateEmailChannel first");
    return exists ? 0 : -1;
}

/* The relay as answered: every stored member but the password, which is only flagged. */
static json_t *relay_response(const json_t *relay)
{
    json_t *out = json_object();
    for (size_t i = 0; i < sizeof(relay_members) / sizeof(relay_members[0]); i++) {
        json_t *v = json_object_get(relay, relay_members[i]);
        if (v && strcmp(relay_members[i], "password") != 0)
            json_object_set(out, relay_members[i], v);
    }
    const char *password = json_string_value(json_object_get(relay, "password"));
    json_object_set_new(out, "password_set", json_boolean(password && *password));
    return out;
}

void rp_api_get_email_relay(struct rp_request *req)
{
    json_t *settings;
    if (load_settings(req, &settings) <= 0)
        return;
    const json_t *relay = json_object_get(settings, RP_SMTP_RELAY_MEMBER);
    if (json_is_object(relay))
        rp_respond_json(req, 200, relay_response(relay));
    else
        rp_respond_error(req, 404, "NotFoundException",
                         "This app has no SMTP relay of its own (smtp.url serves it)");
    json_decref(settings);
}

void rp_api_put_email_relay(struct rp_request *req)
{
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    json_t *settings;
    if (load_settings(req, &settings) <= 0) {
        json_decref(body);
        return;
    }
    /* A PUT that leaves the password out keeps the stored one for the same username, so a
     * client that cannot read the password back can still change the other fields. */
    const json_t *old = json_object_get(settings, RP_SMTP_RELAY_MEMBER);
    const char *old_user = json_string_value(json_object_get(old, "username"));
    const char *new_user = json_string_value(json_object_get(body, "username"));
    if (!json_object_get(body, "password") && old_user && new_user &&
        strcmp(old_user, new_user) == 0 && json_object_get(old, "password"))
        json_object_set(body, "password", json_object_get(old, "password"));

    struct rp_err err;
    rp_err_clear(&err);
    struct rp_smtp_relay parsed;
    int rc = rp_smtp_relay_from_json(body, rp_ctx.cfg, &parsed, &err);
    rp_smtp_relay_cleanup(&parsed);
    if (rc < 0) {
        rp_respond_bad_request(req, &err);
        json_decref(body);
        json_decref(settings);
        return;
    }
    json_t *relay = json_object();
    for (size_t i = 0; i < sizeof(relay_members) / sizeof(relay_members[0]); i++) {
        json_t *v = json_object_get(body, relay_members[i]);
        if (v && !json_is_null(v))
            json_object_set(relay, relay_members[i], v);
    }
    json_decref(body);
    json_object_set_new(settings, RP_SMTP_RELAY_MEMBER, relay);
    if (store_settings(req, settings) == 0) {
        rp_info("email", "msg=\"app relay set\" app=%s", rp_request_app(req));
        rp_respond_json(req, 200, relay_response(relay));
    }
    json_decref(settings);
}

void rp_api_delete_email_relay(struct rp_request *req)
{
    json_t *settings;
    if (load_settings(req, &settings) <= 0)
        return;
    json_t *relay = json_object_get(settings, RP_SMTP_RELAY_MEMBER);
    if (!json_is_object(relay)) {
        rp_respond_error(req, 404, "NotFoundException", "This app has no SMTP relay of its own");
    } else {
        json_t *answer = relay_response(relay);
        json_object_del(settings, RP_SMTP_RELAY_MEMBER);
        if (store_settings(req, settings) == 0)
            rp_respond_json(req, 200, answer);
        else
            json_decref(answer);
    }
    json_decref(settings);
}
