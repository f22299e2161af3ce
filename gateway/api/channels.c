/* Channels: Get/Update/Delete<X>Channel and GetChannels for every channel in the registry.
 * The full settings a client sent are stored sealed (gateway/secrets.h), bound to the app and
 * channel; only the plugin's non-secret response members are stored in clear. An update merges
 * over the stored settings, so `Enabled=false` alone keeps the credentials. */
#include "api.h"
#include "channels/channel.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "store.h"
#include "util.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static const struct rp_channel_ops *channel_of(struct rp_request *req)
{
    const struct rp_channel_ops *ch = rp_channel_by_path(req->params[1]);
    if (!ch)
        rp_respond_error(req, 404, "NotFoundException", "No channel named %.40s",
                         req->params[1]);
    return ch;
}

static void aad_of(char *out, size_t size, const char *app, const struct rp_channel_ops *ch)
{
    snprintf(out, size, "%s/%s", app, ch->type);
}

/* The stored record: fields sealed, public, created, modified, version, enabled. */
struct channel_record {
    char *sealed;
    json_t *public_members;
    char created[RP_ISO_SIZE], modified[RP_ISO_SIZE], modified_by[130];
    long long version;
};

static void record_cleanup(struct channel_record *rec)
{
    free(rec->sealed);
    json_decref(rec->public_members);
    memset(rec, 0, sizeof(*rec));
}

/* Returns 1 found, 0 absent, RP_ESTORE. */
static int load_record(const char *app, const struct rp_channel_ops *ch,
                       struct channel_record *rec)
{
    memset(rec, 0, sizeof(*rec));
    char key[RP_KEY_MAX];
    rp_key_channel(key, app, ch->type);
    redisReply *r = rp_store_command("HMGET %s sealed public created modified version by", key);
    if (!rp_reply_ok(r) || r->type != REDIS_REPLY_ARRAY || r->elements != 6) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    if (r->element[0]->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return 0;
    }
    rec->sealed = rp_strdup(r->element[0]->str);
    rec->public_members = r->element[1]->type == REDIS_REPLY_STRING
                              ? json_loads(r->element[1]->str, 0, NULL)
                              : NULL;
    if (!rec->public_members)
        rec->public_members = json_object();
    if (r->element[2]->type == REDIS_REPLY_STRING)
        snprintf(rec->created, sizeof(rec->created), "%s", r->element[2]->str);
    if (r->element[3]->type == REDIS_REPLY_STRING)
        snprintf(rec->modified, sizeof(rec->modified), "%s", r->element[3]->str);
    rec->version = r->element[4]->type == REDIS_REPLY_STRING ? atoll(r->element[4]->str) : 1;
    if (r->element[5]->type == REDIS_REPLY_STRING)
        snprintf(rec->modified_by, sizeof(rec->modified_by), "%s", r->element[5]->str);
    freeReplyObject(r);
    return 1;
}

static void lowercase(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[i] = '\0';
}

/* <X>ChannelResponse: the common members plus the plugin's. */
static json_t *channel_response(const char *app, const struct rp_channel_ops *ch,
                                const struct channel_record *rec)
{
    json_t *resp = json_deep_copy(rec->public_members);
    char id[64];
    lowercase(id, sizeof(id), ch->path);
    json_object_set_new(resp, "ApplicationId", json_string(app));
    json_object_set_new(resp, "Platform", json_string(ch->platform));
    json_object_set_new(resp, "Id", json_string(id));
    json_object_set_new(resp, "CreationDate", json_string(rec->created));
    json_object_set_new(resp, "LastModifiedDate", json_string(rec->modified));
    json_object_set_new(resp, "LastModifiedBy", json_string(rec->modified_by[0] ? rec->modified_by : "repoint"));
    json_object_set_new(resp, "Version", json_integer(rec->version));
    json_object_set_new(resp, "IsArchived", json_false());
    if (!json_object_get(resp, "Enabled"))
        json_object_set_new(resp, "Enabled", json_true());
    return resp;
}

void rp_api_get_channel(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (!ch)
        return;
    struct channel_record rec;
    int rc = load_record(rp_request_app(req), ch, &rec);
    if (rc < 0)
        rp_respond_unavailable(req);
    else if (rc == 0)
        rp_respond_error(req, 404, "NotFoundException", "The %s channel is not configured",
                         ch->type);
    else
        rp_respond_json(req, 200, channel_response(rp_request_app(req), ch, &rec));
    record_cleanup(&rec);
}

void rp_api_update_channel(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (!ch)
        return;
    json_t *body = rp_request_json_object(req);
    if (!body)
        return;
    const char *app = rp_request_app(req);
    struct channel_record rec;
    int rc = load_record(app, ch, &rec);
    if (rc < 0) {
        json_decref(body);
        rp_respond_unavailable(req);
        return;
    }
    char aad[128];
    aad_of(aad, sizeof(aad), app, ch);
    json_t *settings = NULL;
    if (rc == 1) {
        char *plain = NULL;
        size_t plain_len = 0;
        if (rp_secrets_open(&rp_ctx.secrets, aad, rec.sealed, &plain, &plain_len) == 0) {
            settings = json_loadb(plain, plain_len, 0, NULL);
            OPENSSL_cleanse(plain, plain_len);
            free(plain);
        } else {
            /* A record sealed with another key (a rotated key file) cannot be merged; the
             * update then has to carry the whole settings again. */
            rp_warn("channels", "stored %s settings of app %s do not open with the current key",
                    ch->type, app);
        }
    }
    if (!settings)
        settings = json_object();
    const char *name;
    json_t *value;
    json_object_foreach(body, name, value)
    {
        if (json_is_null(value))
            json_object_del(settings, name);
        else
            json_object_set(settings, name, value);
    }
    json_decref(body);

    struct rp_err err;
    rp_err_clear(&err);
    json_t *members = json_object();
    if (rp_channel_settings_validate(ch, settings, members, &err) < 0) {
        json_decref(members);
        json_decref(settings);
        record_cleanup(&rec);
        rp_respond_bad_request(req, &err);
        return;
    }
    json_t *enabled = json_object_get(settings, "Enabled");
    json_object_set_new(members, "Enabled", json_boolean(!enabled || json_is_true(enabled)));

    char *plain = json_dumps(settings, JSON_COMPACT);
    char *sealed = rp_secrets_seal(&rp_ctx.secrets, aad, plain, strlen(plain));
    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
    json_decref(settings);
    char *public_text = json_dumps(members, JSON_COMPACT);
    char now[RP_ISO_SIZE];
    rp_api_now_iso(now);
    if (rc == 0)
        snprintf(rec.created, sizeof(rec.created), "%s", now);
    snprintf(rec.modified, sizeof(rec.modified), "%s", now);
    snprintf(rec.modified_by, sizeof(rec.modified_by), "%s",
             req->credential ? req->credential->access_key_id : "repoint");
    rec.version = rc == 1 ? rec.version + 1 : 1;
    json_decref(rec.public_members);
    rec.public_members = members;

    char key[RP_KEY_MAX];
    rp_key_channel(key, app, ch->type);
    redisReply *r = rp_store_command(
        "HSET %s sealed %s public %s created %s modified %s version %lld by %s", key, sealed,
        public_text, rec.created, rec.modified, rec.version, rec.modified_by);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    free(sealed);
    free(public_text);
    if (ok)
        rp_respond_json(req, 200, channel_response(app, ch, &rec));
    else
        rp_respond_unavailable(req);
    record_cleanup(&rec);
}

void rp_api_delete_channel(struct rp_request *req)
{
    const struct rp_channel_ops *ch = channel_of(req);
    if (!ch)
        return;
    const char *app = rp_request_app(req);
    struct channel_record rec;
    int rc = load_record(app, ch, &rec);
    if (rc < 0) {
        rp_respond_unavailable(req);
        return;
    }
    if (rc == 0) {
        rp_respond_error(req, 404, "NotFoundException", "The %s channel is not configured",
                         ch->type);
        return;
    }
    char key[RP_KEY_MAX];
    rp_key_channel(key, app, ch->type);
    redisReply *r = rp_store_command("UNLINK %s", key);
    int ok = rp_reply_ok(r);
    if (r)
        freeReplyObject(r);
    if (ok)
        rp_respond_json(req, 200, channel_response(app, ch, &rec));
    else
        rp_respond_unavailable(req);
    record_cleanup(&rec);
}

/* GetChannels: ChannelsResponse with a ChannelResponse per configured channel. */
void rp_api_get_channels(struct rp_request *req)
{
    const char *app = rp_request_app(req);
    size_t n;
    const struct rp_channel_ops *const *all = rp_channel_all(&n);
    json_t *channels = json_object();
    for (size_t i = 0; i < n; i++) {
        struct channel_record rec;
        int rc = load_record(app, all[i], &rec);
        if (rc < 0) {
            json_decref(channels);
            rp_respond_unavailable(req);
            return;
        }
        if (rc == 1) {
            json_t *full = channel_response(app, all[i], &rec);
            json_t *summary = json_object();
            static const char *const keep[] = {"ApplicationId", "CreationDate", "Enabled",
                                               "HasCredential", "Id", "IsArchived",
                                               "LastModifiedBy", "LastModifiedDate", "Version"};
            for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++) {
                json_t *v = json_object_get(full, keep[k]);
                if (v)
                    json_object_set(summary, keep[k], v);
            }
            json_object_set_new(channels, all[i]->type, summary);
            json_decref(full);
        }
        record_cleanup(&rec);
    }
    rp_respond_json(req, 200, json_pack("{s:o}", "Channels", channels));
}
