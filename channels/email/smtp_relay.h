/* Where the EMAIL channel relays its mail: the `smtp.*` configuration, or an app's own relay
 * (PUT /repoint/v1/apps/{id}/channels/email/relay, stored sealed with the channel settings
 * under RP_SMTP_RELAY_MEMBER). Parsing and checks only; channels/email/smtp.c sends. */
#ifndef RP_SMTP_RELAY_H
#define RP_SMTP_RELAY_H

#include <jansson.h>
#include <stdbool.h>

#include "../../gateway/err.h"

struct rp_config;

/* The member of the EMAIL channel's sealed settings holding an app's relay. */
#define RP_SMTP_RELAY_MEMBER "SmtpRelay"

enum rp_smtp_starttls {
    RP_SMTP_STARTTLS_REQUIRED,
    RP_SMTP_STARTTLS_OPTIONAL,
    RP_SMTP_STARTTLS_OFF
};

struct rp_smtp_relay {
    char host[256];
    int port;
    enum rp_smtp_starttls starttls;
    char *username;              /* owned, NULL for no AUTH */
    char *password;              /* owned, NULL for no AUTH; cleansed on cleanup */
    int connections;             /* parallel sessions to this relay */
    int messages_per_connection; /* messages one session carries at most */
    long timeout_ms;             /* each SMTP wait (greeting, envelope, data) */
};

void rp_smtp_relay_cleanup(struct rp_smtp_relay *r);

/* Parses "smtp://host[:port]" (port 587 when absent). smtps:// is refused: libESMTP 1.1 has no
 * implicit TLS, and STARTTLS on the submission port does the same job. starttls is "auto"
 * (required unless the host is loopback, where it is optional), "required", "optional" or
 * "off". Returns 0 or RP_EINVAL with err naming url_field / starttls_field. */
int rp_smtp_relay_parse_url(const char *url, const char *starttls, struct rp_smtp_relay *r,
                            const char *url_field, const char *starttls_field, struct rp_err *err);

/* The relay of the `smtp.*` keys. Returns 1 when configured, 0 when smtp.url is empty,
 * RP_EINVAL with err naming the key. */
int rp_smtp_relay_from_config(const struct rp_config *cfg, struct rp_smtp_relay *r,
                              struct rp_err *err);

/* Start-up check of the `smtp.*` keys (a config error stops Repoint). */
int rp_smtp_config_check(const struct rp_config *cfg, struct rp_err *err);

/* An app's relay document: url (required), starttls, username, password, connections,
 * messages_per_connection, timeout_ms; absent numbers take the configuration's values.
 * Returns 0 or RP_EINVAL naming the member. Borrows doc. */
int rp_smtp_relay_from_json(const json_t *doc, const struct rp_config *cfg, struct rp_smtp_relay *r,
                            struct rp_err *err);

bool rp_smtp_host_is_loopback(const char *host);

#endif
