/* The EMAIL transport (see smtp.h). libESMTP's smtp_start_session connects, sends every
 * message of the session and disconnects inside one blocking call, so it never runs on the
 * event loop: send() builds the message (pure, channels/email/mime.c) and queues a job; a
 * sender thread takes up to messages_per_connection jobs for the same relay, runs one session
 * and hands the finished jobs back through a pipe the loop watches, where rp_send_complete is
 * called (channels.h: completion happens on the loop thread). */
#include "smtp.h"

/* libesmtp.h declares smtp_starttls_set_ctx only after OpenSSL's headers. */
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "../../gateway/config.h"
#include "../../gateway/log.h"
#include "../../gateway/rc.h"
#include "../../gateway/util.h"
#include "../channel.h"
#include "mime.h"
#include "smtp_relay.h"

/* Apps with their own relay whose TLS context and session count are kept at once. */
#define RELAY_CACHE 32
/* Finished jobs kept with their message buffers for the next sends, so a steady stream builds
 * each message into memory already there; a buffer that grew past SPARE_BUFFER_MAX (a large
 * RawEmail) is released rather than kept. */
#define SPARE_JOBS       256
#define SPARE_BUFFER_MAX ((size_t)256 * 1024)

/* A relay in use: its settings, the TLS context built for its host, and the sessions open to
 * it. Shared by jobs (refs), guarded by the transport's lock. */
struct relay {
    struct rp_smtp_relay cfg;
    json_t *doc;  /* a copy of the app's relay document, to find it again (global: NULL) */
    SSL_CTX *tls; /* NULL with STARTTLS off */
    int refs;     /* jobs using it */
    int active;   /* sessions running now */
    int kept;     /* held by the transport (global, cached): not freed with its last job */
};

struct job {
    struct rp_send *send;
    struct relay *relay;
    struct rp_mime_buf message;
    char envelope_from[256]; /* RFC 5321 4.5.3.1.3: a path is at most 256 octets with <> */
    size_t pos;              /* read position of the message callback */
    smtp_message_t msg;      /* during the session, sender thread only */
    smtp_recipient_t rcpt;
    char message_id[256];
    struct job *next;
};

struct email_transport {
    struct event_base *base;
    const struct rp_config *cfg;
    struct relay *global; /* NULL when smtp.url is empty */
    struct relay *cache[RELAY_CACHE];

    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct job *pending, *pending_tail;
    struct job *done;
    int stopping;
    struct job *spare; /* loop thread only: finished jobs for reuse */
    int spare_count;

    pthread_t *threads;
    int thread_count;
    int pipe_fd[2];
    struct event *done_event;
};

static pthread_once_t auth_once = PTHREAD_ONCE_INIT;

static void auth_init(void)
{
    auth_client_init();
}

/* ---- Relays ---------------------------------------------------------------------------------- */

/* Why OpenSSL refused the relay's certificate in this thread's current session (0: it did
 * not), so the failure can be told in words: libESMTP only sees a failed handshake. */
static _Thread_local int tls_verify_error;

static int on_verify(int preverify_ok, X509_STORE_CTX *store)
{
    if (!preverify_ok && !tls_verify_error)
        tls_verify_error = X509_STORE_CTX_get_error(store);
    return preverify_ok;
}

/* System CAs plus tls.ca_file; the peer must present a certificate for the relay's host
 * (checked by OpenSSL here, whatever libESMTP itself checks). */
static SSL_CTX *tls_context(const struct rp_smtp_relay *r, const char *ca_file)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx)
        return NULL;
    /* TLS 1.2 only: libESMTP 1.1's reader loses the reply that follows a TLS 1.3 session
     * ticket now and then (the EHLO after STARTTLS goes unanswered and the session ends). */
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(ctx);
    if (ca_file && *ca_file && SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1)
        rp_warn("email", "msg=\"cannot load tls.ca_file\" file=%s", ca_file);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, on_verify);
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    int ok = X509_VERIFY_PARAM_set1_ip_asc(param, r->host) == 1 ||
             X509_VERIFY_PARAM_set1_host(param, r->host, 0) == 1;
    if (!ok) {
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static void relay_free(struct relay *r)
{
    if (!r)
        return;
    SSL_CTX_free(r->tls);
    rp_smtp_relay_cleanup(&r->cfg);
    /* The copy holds the relay's password in clear, like the parsed cfg cleansed above. */
    const char *password = json_string_value(json_object_get(r->doc, "password"));
    if (password)
        OPENSSL_cleanse((char *)password, strlen(password));
    json_decref(r->doc);
    free(r);
}

/* Takes cfg. Returns NULL (logged) when no TLS context can be made. */
static struct relay *relay_new(struct rp_smtp_relay *cfg, const json_t *doc, const char *ca_file)
{
    struct relay *r = rp_calloc(1, sizeof(*r));
    r->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    r->doc = doc ? json_deep_copy(doc) : NULL;
    if (r->cfg.starttls != RP_SMTP_STARTTLS_OFF && !(r->tls = tls_context(&r->cfg, ca_file))) {
        rp_error("email", "msg=\"cannot create the TLS context for the SMTP relay\"");
        relay_free(r);
        return NULL;
    }
    return r;
}

/* An app's relay from its channel settings, from the cache when seen before. Called on the
 * loop thread with the lock held. Returns a borrowed relay (a job takes a ref), or NULL with
 * err set. */
static struct relay *app_relay(struct email_transport *t, const json_t *doc, struct rp_err *err)
{
    struct relay *found = NULL;
    int free_slot = -1;
    for (int i = 0; i < RELAY_CACHE && !found; i++) {
        if (t->cache[i] && json_equal(t->cache[i]->doc, doc))
            found = t->cache[i];
        else if (free_slot < 0 && (!t->cache[i] || t->cache[i]->refs == 0))
            free_slot = i;
    }
    if (!found) {
        struct rp_smtp_relay cfg;
        if (rp_smtp_relay_from_json(doc, t->cfg, &cfg, err) == 0) {
            found = relay_new(&cfg, doc, rp_config_str(t->cfg, "tls.ca_file"));
            rp_smtp_relay_cleanup(&cfg);
            if (!found)
                rp_err_set(err, RP_EINVAL, "relay", "has no usable TLS context");
        } else {
            rp_smtp_relay_cleanup(&cfg);
        }
        /* When every cached relay is busy, this one lives only as long as its jobs. */
        if (found && free_slot >= 0) {
            relay_free(t->cache[free_slot]);
            t->cache[free_slot] = found;
            found->kept = 1;
        }
    }
    return found;
}

/* Drops a job's ref; an uncached relay goes with its last job. Lock held. */
static void relay_release(struct relay *r)
{
    if (--r->refs == 0 && !r->kept)
        relay_free(r);
}

/* ---- Results --------------------------------------------------------------------------------- */

/* Enhanced status codes of an address that does not exist (RFC 3463): bad mailbox (5.1.1),
 * bad domain (5.1.2), bad syntax (5.1.3), moved (5.1.6), null MX (5.1.10). */
static int address_is_dead(int enh_class, int enh_subject, int enh_detail)
{
    return enh_class == 5 && enh_subject == 1 &&
           (enh_detail == 1 || enh_detail == 2 || enh_detail == 3 || enh_detail == 6 ||
            enh_detail == 10);
}

static void clean_text(const char *text, char *out, size_t size)
{
    size_t n = 0;
    for (const char *p = text ? text : ""; *p && n + 1 < size; p++)
        out[n++] = ((unsigned char)*p < 0x20 || *p == 0x7f) ? ' ' : *p;
    while (n > 0 && out[n - 1] == ' ')
        n--;
    out[n] = '\0';
}

void rp_email_map_status(int code, const char *text, int enh_class, int enh_subject, int enh_detail,
                         const char *session_error, struct rp_delivery_result *r)
{
    char clean[200];
    clean_text(text, clean, sizeof(clean));
    if (code >= 200 && code < 300) {
        rp_delivery_result_set(r, RP_DS_SUCCESSFUL, code, "%s", clean[0] ? clean : "accepted");
        return;
    }
    if (code <= 0) {
        rp_delivery_result_set(r, RP_DS_TEMPORARY_FAILURE, 0, "%s",
                               session_error ? session_error : "the relay gave no answer");
        return;
    }
    /* Relays that do not announce ENHANCEDSTATUSCODES often still start their text with one
     * (RFC 3463: "5.1.1 User unknown"); libESMTP only parses it when announced. */
    int c = 0, s = 0, d = 0;
    if (enh_class == 0 && text && sscanf(text, "%1d.%3d.%3d", &c, &s, &d) == 3 && c == code / 100) {
        enh_class = c;
        enh_subject = s;
        enh_detail = d;
    }
    enum rp_delivery_status status =
        code >= 500 ? RP_DS_PERMANENT_FAILURE : RP_DS_TEMPORARY_FAILURE;
    rp_delivery_result_set(r, status, code, "%s", clean[0] ? clean : "no text from the relay");
    if (enh_class >= 2 && enh_class <= 5) {
        char enhanced[32];
        snprintf(enhanced, sizeof(enhanced), "%d.%d.%d", enh_class, enh_subject, enh_detail);
        json_t *attrs = json_is_object(r->attributes) ? r->attributes : json_object();
        json_object_set_new(attrs, "smtp_enhanced_status", json_string(enhanced));
        r->attributes = attrs;
    }
    if (code >= 500 && address_is_dead(enh_class, enh_subject, enh_detail))
        r->address_dead = 1;
}

/* ---- Sessions (sender threads) --------------------------------------------------------------- */

struct session_state {
    int starttls_missing;
    int bad_certificate;
    int port; /* the relay's */
};

/* libESMTP writes a message through a small buffer and never sets TCP_NODELAY, so the last
 * short segment of each message waits for the relay's delayed ACK (40 ms or more on Linux: a
 * few messages per second per connection). It offers no hook to the socket, so once a session
 * is connected the TCP sockets to the relay's port get TCP_NODELAY here; the flag is harmless
 * on any other thread's relay connection it may also find. Once per session, not per message. */
static void set_nodelay_to_port(int port)
{
    DIR *dir = opendir("/proc/self/fd");
    if (!dir)
        return;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end || end == e->d_name || fd == dirfd(dir))
            continue;
        struct sockaddr_storage peer = {0};
        socklen_t len = sizeof(peer);
        int type = 0;
        socklen_t tlen = sizeof(type);
        if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM ||
            getpeername((int)fd, (struct sockaddr *)&peer, &len) != 0)
            continue;
        int peer_port = peer.ss_family == AF_INET ? ntohs(((struct sockaddr_in *)&peer)->sin_port)
                        : peer.ss_family == AF_INET6
                            ? ntohs(((struct sockaddr_in6 *)&peer)->sin6_port)
                            : -1;
        if (peer_port == port) {
            int one = 1;
            setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
    }
    closedir(dir);
}

static void on_event(smtp_session_t session, int event_no, void *arg, ...)
{
    (void)session;
    struct session_state *st = arg;
    va_list ap;
    va_start(ap, arg);
    switch (event_no) {
    case SMTP_EV_CONNECT:
        set_nodelay_to_port(st->port);
        break;
    case SMTP_EV_EXTNA_STARTTLS:
        st->starttls_missing = 1;
        break;
    case SMTP_EV_WRONG_PEER_CERTIFICATE: {
        /* libESMTP's own name check knows no IP address SANs. OpenSSL has already checked the
         * name (X509_VERIFY_PARAM in tls_context: a mismatch fails the handshake or arrives as
         * SMTP_EV_INVALID_PEER_CERTIFICATE), so its verdict stands instead. */
        int *ok = va_arg(ap, int *);
        if (ok)
            *ok = 1;
        break;
    }
    case SMTP_EV_INVALID_PEER_CERTIFICATE:
    case SMTP_EV_NO_PEER_CERTIFICATE:
        /* libESMTP's own verdict for these is already "refuse" (its ok flag starts at 0); only
         * note it for the result's message. */
        st->bad_certificate = 1;
        break;
    default:
        break;
    }
    va_end(ap);
}

static int on_auth(auth_client_request_t request, char **result, int fields, void *arg)
{
    const struct relay *r = arg;
    for (int i = 0; i < fields; i++) {
        if (request[i].flags & AUTH_PASS)
            result[i] = r->cfg.password ? r->cfg.password : (char *)"";
        else if (request[i].flags & AUTH_USER)
            result[i] = r->cfg.username;
        else
            result[i] = (char *)"";
    }
    return 1;
}

/* libESMTP reads the message through this: len == NULL rewinds. */
static const char *message_cb(void **ctx, int *len, void *arg)
{
    (void)ctx;
    struct job *j = arg;
    if (!len) {
        j->pos = 0;
        return NULL;
    }
    size_t left = j->message.len - j->pos;
    if (left > INT_MAX / 2)
        left = INT_MAX / 2;
    const char *p = j->message.data + j->pos;
    j->pos += left;
    *len = (int)left;
    return left ? p : NULL;
}

static void run_session(struct relay *relay, struct job *batch)
{
    smtp_session_t s = smtp_create_session();
    auth_context_t auth = NULL;
    struct session_state st = {.port = relay->cfg.port};
    char server[300];
    snprintf(server, sizeof(server), "%s:%d", relay->cfg.host, relay->cfg.port);
    int ok = s && smtp_set_server(s, server);
    if (ok) {
        static const int waits[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
                                    Timeout_TRANSFER, Timeout_DATA2};
        for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
            smtp_set_timeout(s, waits[i] | Timeout_OVERRIDE_RFC2822_MINIMUM, relay->cfg.timeout_ms);
        smtp_set_eventcb(s, on_event, &st);
        if (relay->cfg.starttls == RP_SMTP_STARTTLS_OFF) {
            smtp_starttls_enable(s, Starttls_DISABLED);
        } else {
            smtp_starttls_set_ctx(s, relay->tls);
            smtp_starttls_enable(s, relay->cfg.starttls == RP_SMTP_STARTTLS_REQUIRED
                                        ? Starttls_REQUIRED
                                        : Starttls_ENABLED);
        }
        if (relay->cfg.username) {
            auth = auth_create_context();
            auth_set_mechanism_flags(auth, AUTH_PLUGIN_PLAIN, 0);
            auth_set_interact_cb(auth, on_auth, relay);
            smtp_auth_set_context(s, auth);
        }
    }
    for (struct job *j = batch; ok && j; j = j->next) {
        j->msg = smtp_add_message(s);
        ok = j->msg && smtp_set_reverse_path(j->msg, j->envelope_from) &&
             (j->rcpt = smtp_add_recipient(j->msg, j->send->delivery->address)) != NULL &&
             smtp_set_messagecb(j->msg, message_cb, j);
    }
    char why[400] = "";
    tls_verify_error = 0;
    int session_ok = ok && smtp_start_session(s);
    if (tls_verify_error)
        snprintf(why, sizeof(why), "the relay's TLS certificate was refused: %s",
                 X509_verify_cert_error_string(tls_verify_error));
    else if (!session_ok || st.starttls_missing || st.bad_certificate) {
        char buf[128];
        const char *e = smtp_strerror(smtp_errno(), buf, sizeof(buf));
        if (st.starttls_missing)
            snprintf(why, sizeof(why),
                     "the relay does not offer STARTTLS, which smtp.starttls "
                     "requires");
        else if (st.bad_certificate)
            snprintf(why, sizeof(why), "the relay's TLS certificate is not valid for %s",
                     relay->cfg.host);
        else
            snprintf(why, sizeof(why), "SMTP session with the relay failed: %s",
                     e ? e : "unknown error");
    }
    /* smtp_start_session can answer success for a session the relay dropped (seen after a
     * refused STARTTLS): a message without any answer then says what smtp_errno says. */
    char dropped[200];
    char errbuf[128];
    const char *e = smtp_strerror(smtp_errno(), errbuf, sizeof(errbuf));
    snprintf(dropped, sizeof(dropped), "the SMTP session ended before this message: %s",
             e ? e : "unknown error");
    for (struct job *j = batch; j; j = j->next) {
        struct rp_delivery_result *r = &j->send->result;
        const smtp_status_t *from = j->msg ? smtp_reverse_path_status(j->msg) : NULL;
        const smtp_status_t *rcpt = j->rcpt ? smtp_recipient_status(j->rcpt) : NULL;
        const smtp_status_t *data = j->msg ? smtp_message_transfer_status(j->msg) : NULL;
        /* The first answer that was not 2xx decides; all 2xx through DATA is delivered. */
        const smtp_status_t *decisive = NULL;
        if (from && from->code && (from->code < 200 || from->code >= 300))
            decisive = from;
        else if (rcpt && rcpt->code && (rcpt->code < 200 || rcpt->code >= 300))
            decisive = rcpt;
        else if (data && data->code)
            decisive = data;
        if (decisive)
            rp_email_map_status(decisive->code, decisive->text, decisive->enh_class,
                                decisive->enh_subject, decisive->enh_detail, why, r);
        else
            rp_email_map_status(0, NULL, 0, 0, 0, why[0] ? why : dropped, r);
        snprintf(r->message_id, sizeof(r->message_id), "%s", j->message_id);
    }
    if (s)
        smtp_destroy_session(s);
    if (auth)
        auth_destroy_context(auth);
}

/* Takes the next batch: the oldest job whose relay has a session to spare, and the jobs after
 * it for the same relay. Lock held. */
static struct job *take_batch(struct email_transport *t)
{
    struct job **link = &t->pending, *prev = NULL;
    while (*link && (*link)->relay->active >= (*link)->relay->cfg.connections) {
        prev = *link;
        link = &(*link)->next;
    }
    if (!*link)
        return NULL;
    struct relay *relay = (*link)->relay;
    struct job *batch = NULL, **tail = &batch;
    int n = 0;
    while (*link && n < relay->cfg.messages_per_connection) {
        struct job *j = *link;
        if (j->relay != relay) {
            prev = j;
            link = &j->next;
            continue;
        }
        *link = j->next;
        if (t->pending_tail == j)
            t->pending_tail = prev;
        j->next = NULL;
        *tail = j;
        tail = &j->next;
        n++;
    }
    relay->active++;
    return batch;
}

static void notify_loop(struct email_transport *t)
{
    char c = 1;
    ssize_t w;
    do {
        w = write(t->pipe_fd[1], &c, 1);
    } while (w < 0 && errno == EINTR);
    /* EAGAIN: the pipe is full, so the loop has a wake-up pending anyway. */
}

static void *sender_main(void *arg)
{
    struct email_transport *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        struct job *batch = NULL;
        while (!t->stopping && !(batch = take_batch(t)))
            pthread_cond_wait(&t->wake, &t->lock);
        if (!batch)
            break;
        struct relay *relay = batch->relay;
        pthread_mutex_unlock(&t->lock);
        run_session(relay, batch);
        pthread_mutex_lock(&t->lock);
        relay->active--;
        struct job *last = batch;
        while (last->next)
            last = last->next;
        last->next = t->done;
        t->done = batch;
        notify_loop(t);
        /* A relay with a free session may unblock jobs another thread skipped. */
        pthread_cond_broadcast(&t->wake);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* ---- The loop side --------------------------------------------------------------------------- */

/* A cleared job, from the spares when there is one. Loop thread. */
static struct job *job_new(struct email_transport *t)
{
    struct job *j = t->spare;
    if (!j) {
        j = rp_calloc(1, sizeof(*j));
        rp_mime_buf_init(&j->message, RP_MIME_MAX);
        return j;
    }
    t->spare = j->next;
    t->spare_count--;
    struct rp_mime_buf message = j->message;
    memset(j, 0, sizeof(*j));
    j->message = message;
    rp_mime_buf_reset(&j->message);
    return j;
}

/* Loop thread. j->relay may be NULL (no relay was found for it). */
static void job_free(struct email_transport *t, struct job *j)
{
    if (j->relay) {
        pthread_mutex_lock(&t->lock);
        relay_release(j->relay);
        pthread_mutex_unlock(&t->lock);
    }
    if (t->spare_count < SPARE_JOBS && j->message.cap <= SPARE_BUFFER_MAX) {
        j->next = t->spare;
        t->spare = j;
        t->spare_count++;
        return;
    }
    rp_mime_buf_cleanup(&j->message);
    free(j);
}

static void complete_list(struct email_transport *t, struct job *list)
{
    while (list) {
        struct job *next = list->next;
        struct rp_send *send = list->send;
        if (rp_log_min_level <= RP_LOG_DEBUG) {
            char to[32];
            rp_redact(send->delivery->address, to, sizeof(to));
            rp_debug("email", "msg=sent id=%s to=%s status=%s code=%d", send->delivery->message_id,
                     to, rp_delivery_status_name(send->result.status), send->result.status_code);
        }
        job_free(t, list);
        rp_send_complete(send);
        list = next;
    }
}

static void on_done(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct email_transport *t = arg;
    char buf[256];
    while (read(fd, buf, sizeof(buf)) > 0) {
    }
    pthread_mutex_lock(&t->lock);
    struct job *done = t->done;
    t->done = NULL;
    pthread_mutex_unlock(&t->lock);
    complete_list(t, done);
}

void *rp_email_transport_new(struct event_base *base, const struct rp_config *cfg)
{
    pthread_once(&auth_once, auth_init);
    struct email_transport *t = rp_calloc(1, sizeof(*t));
    t->base = base;
    t->cfg = cfg;
    struct rp_err err;
    rp_err_clear(&err);
    struct rp_smtp_relay relay;
    int rc = rp_smtp_relay_from_config(cfg, &relay, &err);
    if (rc == 1)
        t->global = relay_new(&relay, NULL, rp_config_str(cfg, "tls.ca_file"));
    else if (rc < 0)
        rp_error("email", "msg=\"%s %s\"", err.field, err.msg);
    else
        rp_warn("email", "msg=\"no SMTP relay configured (smtp.url): EMAIL deliveries fail "
                         "unless the app sets its own relay\"");
    rp_smtp_relay_cleanup(&relay);
    if (t->global)
        t->global->kept = 1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    if (pipe2(t->pipe_fd, O_NONBLOCK | O_CLOEXEC) < 0) {
        rp_error("email", "msg=\"cannot create a pipe\" errno=%d", errno);
        relay_free(t->global);
        free(t);
        return NULL;
    }
    t->done_event = event_new(base, t->pipe_fd[0], EV_READ | EV_PERSIST, on_done, t);
    event_add(t->done_event, NULL);
    t->thread_count = (int)rp_config_int(cfg, "smtp.connections");
    t->threads = rp_calloc((size_t)t->thread_count, sizeof(pthread_t));
    for (int i = 0; i < t->thread_count; i++)
        if (pthread_create(&t->threads[i], NULL, sender_main, t) != 0)
            rp_panic("cannot start an SMTP sender thread");
    return t;
}

void rp_email_transport_free(void *transport)
{
    struct email_transport *t = transport;
    if (!t)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = 1;
    pthread_cond_broadcast(&t->wake);
    pthread_mutex_unlock(&t->lock);
    for (int i = 0; i < t->thread_count; i++)
        pthread_join(t->threads[i], NULL);
    free(t->threads);
    struct job *left = t->pending;
    t->pending = t->pending_tail = NULL;
    for (struct job *j = left; j; j = j->next)
        rp_delivery_result_set(&j->send->result, RP_DS_TEMPORARY_FAILURE, 0,
                               "the EMAIL transport stopped before relaying");
    complete_list(t, t->done);
    t->done = NULL;
    complete_list(t, left);
    event_free(t->done_event);
    close(t->pipe_fd[0]);
    close(t->pipe_fd[1]);
    while (t->spare) {
        struct job *j = t->spare;
        t->spare = j->next;
        rp_mime_buf_cleanup(&j->message);
        free(j);
    }
    for (int i = 0; i < RELAY_CACHE; i++)
        relay_free(t->cache[i]);
    relay_free(t->global);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static const char *content_str(const json_t *content, const char *name)
{
    const char *s = json_string_value(json_object_get(content, name));
    return s && *s ? s : NULL;
}

/* "<delivery id>@<the From domain>": unique per delivery and kept across retries, so a relay
 * or a reader can tell a retried message from a new one. */
static void make_message_id(const struct rp_delivery *d, const char *from, char *out, size_t size)
{
    size_t alen;
    const char *addr = rp_mime_address_of(from, &alen);
    const char *at = memchr(addr, '@', alen);
    size_t dlen = at ? alen - (size_t)(at + 1 - addr) : 0;
    char id[64];
    size_t n = 0;
    for (const char *p = d->message_id; *p && n + 1 < sizeof(id); p++)
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.')
            id[n++] = *p;
    id[n] = '\0';
    if (dlen == 0 || dlen > 120)
        snprintf(out, size, "%s@repoint.invalid", id);
    else
        snprintf(out, size, "%s@%.*s", id, (int)dlen, at + 1);
}

/* Builds the message into j; returns 0 or an error (err set). */
static int build_message(struct job *j, const json_t *settings, struct rp_err *err)
{
    const struct rp_delivery *d = j->send->delivery;
    const json_t *c = d->content;
    const char *from = content_str(c, "FromAddress");
    if (!from)
        from = json_string_value(json_object_get(settings, "FromAddress"));
    if (!from || !*from)
        return rp_err_set(err, RP_EINVAL, "FromAddress",
                          "is required: give it in the message or the EMAIL channel");
    make_message_id(d, from, j->message_id, sizeof(j->message_id));
    const char *feedback = content_str(c, "FeedbackForwardingAddress");
    size_t alen = feedback ? strlen(feedback) : 0;
    const char *addr = feedback ? feedback : rp_mime_address_of(from, &alen);
    if (alen >= sizeof(j->envelope_from))
        return rp_err_set(err, RP_EINVAL, feedback ? "FeedbackForwardingAddress" : "FromAddress",
                          "is longer than an SMTP path allows");
    memcpy(j->envelope_from, addr, alen);
    j->envelope_from[alen] = '\0';

    const char *raw = content_str(c, "RawEmail");
    int64_t now = rp_now_ms();
    if (raw) {
        struct rp_mime_raw_info info;
        int rc = rp_mime_raw_prepare(raw, strlen(raw), j->message_id, now, &j->message, &info, err);
        if (rc == 0)
            snprintf(j->message_id, sizeof(j->message_id), "%s", info.message_id);
        return rc;
    }
    const json_t *reply = json_object_get(c, "ReplyToAddresses");
    const json_t *headers = json_object_get(c, "Headers");
    size_t nreply = json_array_size(reply), nheaders = json_array_size(headers);
    /* The API allows 15 Headers; ReplyToAddresses are rarely more than a few. */
    const char *reply_stack[16];
    struct rp_mime_header hdrs_stack[16];
    const char **reply_to = nreply <= 16 ? reply_stack : rp_calloc(nreply, sizeof(char *));
    struct rp_mime_header *hdrs = nheaders <= 16 ? hdrs_stack : rp_calloc(nheaders, sizeof(*hdrs));
    for (size_t i = 0; i < nreply; i++)
        reply_to[i] = json_string_value(json_array_get(reply, i));
    for (size_t i = 0; i < nheaders; i++) {
        const json_t *h = json_array_get(headers, i);
        hdrs[i].name = json_string_value(json_object_get(h, "Name"));
        hdrs[i].value = json_string_value(json_object_get(h, "Value"));
    }
    const char *text = content_str(c, "TextPart"), *html = content_str(c, "HtmlPart");
    if (!text && !html)
        text = content_str(c, "Body");
    struct rp_mime_message m = {
        .from = from,
        .to = d->address,
        .reply_to = reply_to,
        .reply_to_count = nreply,
        .subject = content_str(c, "Subject"),
        .text = text,
        .html = html,
        .charset = content_str(c, "Charset"),
        .headers = hdrs,
        .header_count = nheaders,
        .message_id = j->message_id,
        .date_ms = now,
    };
    int rc = rp_mime_build(&m, &j->message, err);
    if (reply_to != reply_stack)
        free(reply_to);
    if (hdrs != hdrs_stack)
        free(hdrs);
    return rc;
}

void rp_email_send(void *transport, struct rp_send *send)
{
    struct email_transport *t = transport;
    struct rp_delivery_result *r = &send->result;
    long unused_timeout;
    if (!rp_send_timeout(send, 1, &unused_timeout))
        return;
    struct rp_err err;
    rp_err_clear(&err);
    struct job *j = job_new(t);
    j->send = send;

    const json_t *own = json_object_get(send->settings, RP_SMTP_RELAY_MEMBER);
    pthread_mutex_lock(&t->lock);
    struct relay *relay = json_is_object(own) ? app_relay(t, own, &err) : t->global;
    if (relay)
        relay->refs++;
    pthread_mutex_unlock(&t->lock);
    if (!relay) {
        if (json_is_object(own))
            rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0, "the app's SMTP relay: %s %s",
                                   err.field, err.msg);
        else
            rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0,
                                   "no SMTP relay is configured (smtp.url)");
        job_free(t, j);
        rp_send_complete(send);
        return;
    }
    j->relay = relay;
    if (build_message(j, send->settings, &err) < 0) {
        rp_delivery_result_set(r, RP_DS_PERMANENT_FAILURE, 0, "%s %s", err.field, err.msg);
        job_free(t, j);
        rp_send_complete(send);
        return;
    }
    pthread_mutex_lock(&t->lock);
    if (t->pending_tail)
        t->pending_tail->next = j;
    else
        t->pending = j;
    t->pending_tail = j;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
}
