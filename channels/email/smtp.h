/* The EMAIL channel's transport: messages built on the worker's loop thread, relayed by a pool
 * of sender threads running blocking libESMTP sessions (each session carries a batch of
 * messages for one relay), results completed back on the loop thread. */
#ifndef RP_EMAIL_SMTP_H
#define RP_EMAIL_SMTP_H

#include "../../gateway/delivery.h"

struct event_base;
struct rp_config;
struct rp_send;

void *rp_email_transport_new(struct event_base *base, const struct rp_config *cfg);
/* Stops the sender threads (a session in progress ends first, within its timeouts); sends
 * not yet relayed complete with TEMPORARY_FAILURE. */
void rp_email_transport_free(void *transport);
void rp_email_send(void *transport, struct rp_send *send);

/* Maps one recipient's SMTP outcome (libESMTP's status: code, text, enhanced triplet; code 0
 * when the session ended before the recipient got an answer) onto r. session_error (NULL when
 * the session succeeded) says why a message without an answer failed. Pure, for unit tests. */
void rp_email_map_status(int code, const char *text, int enh_class, int enh_subject, int enh_detail,
                         const char *session_error, struct rp_delivery_result *r);

#endif
