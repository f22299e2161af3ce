#include "channel_store.h"
#include "http.h"
#include "keyspace.h"
#include "log.h"
#include "rc.h"
#include "secrets.h"
#include "store.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>

int rp_channel_store_load(const char *app, const char *type, json_t **settings)
{
    int rc = rp_channel_store_open(app, type, settings);
    return rc == RP_ECRYPTO ? 0 : rc;
}

int rp_channel_store_open(const char *app, const char *type, json_t **settings)
{
    *settings = NULL;
    char key[RP_KEY_MAX];
    rp_key_channel(key, app, type);
    redisReply *r = rp_store_command("HGET %s sealed", key);
    if (!rp_reply_ok(r)) {
        if (r)
            freeReplyObject(r);
        return RP_ESTORE;
    }
    if (r->type != REDIS_REPLY_STRING) {
        freeReplyObject(r);
        return 0;
    }
    char aad[128];
    snprintf(aad, sizeof(aad), "%s/%s", app, type);
    char *plain = NULL;
    size_t len = 0;
    int rc = rp_secrets_open(&rp_ctx.secrets, aad, r->str, &plain, &len);
    freeReplyObject(r);
    if (rc) {
        rp_warn("channels", "the %s settings of app %s do not open with the current key", type,
                app);
        return RP_ECRYPTO;
    }
    *settings = json_loadb(plain, len, 0, NULL);
    OPENSSL_cleanse(plain, len);
    free(plain);
    return *settings ? 1 : RP_ECRYPTO;
}

int rp_channel_settings_enabled(const json_t *settings)
{
    const json_t *enabled = json_object_get(settings, "Enabled");
    return !enabled || json_is_true(enabled);
}
