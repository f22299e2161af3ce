/* The data members the Pinpoint Android SDK (aws-sdk-android / Amplify) reads from an FCM or
 * ADM message, shared by both channels (docs/push-android.md): the message's Data plus
 * pinpoint.notification.title / body / imageUrl / imageIconUrl / imageSmallIconUrl / icon /
 * sound / silentPush ("1"), and the tap action: pinpoint.url (Action URL), pinpoint.deeplink
 * (DEEP_LINK) or pinpoint.openApp = "true" (OPEN_APP, the default). */
#ifndef RP_CHANNEL_PUSH_DATA_H
#define RP_CHANNEL_PUSH_DATA_H

#include <jansson.h>

#include "../gateway/err.h"

/* Checks that data (borrowed, may be NULL) is an object of strings; FCM and ADM refuse other
 * values. Returns 0 or RP_EINVAL naming field. */
int rp_push_data_check(const json_t *data, const char *field, struct rp_err *err);

/* Returns the data object for content (a delivery's push content, borrowed): a new object, or
 * NULL with err set when content's Data holds a non-string value. */
json_t *rp_push_sdk_data(const json_t *content, struct rp_err *err);

#endif
