/* Reading an app's channel settings as a sender needs them: decrypted, with the Enabled flag. */
#ifndef RP_CHANNEL_STORE_H
#define RP_CHANNEL_STORE_H

#include <jansson.h>

/* Loads and decrypts the settings the app gave Update<X>Channel for channel type `type`.
 * Returns 1 and *settings (new reference) when configured, 0 when the channel is not configured
 * (or its record does not open with the current key, logged), RP_ESTORE on store failure. */
int rp_channel_store_load(const char *app, const char *type, json_t **settings);
/* The same, telling the two "no settings" cases apart for an API that answers them
 * differently: 0 when not configured, RP_ECRYPTO when the record does not open (logged). */
int rp_channel_store_open(const char *app, const char *type, json_t **settings);

/* 1 when settings (as loaded) leave the channel enabled: Enabled absent or true. */
int rp_channel_settings_enabled(const json_t *settings);

#endif
