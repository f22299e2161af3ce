/* Plumbing shared by the push simulators (fcm_sim, adm_sim, baidu_sim): an HTTP/1.1 server
 * (libmicrohttpd, TLS through GnuTLS) that hands each complete request, headers and body, to
 * one handler function and sends back the answer the handler filled. The handler runs on
 * libmicrohttpd's threads: simulators lock their own state. fcm_sim feeds the same request
 * shape from its HTTP/2 server, so one handler serves both protocols. */
#ifndef RP_PSIM_HTTP_H
#define RP_PSIM_HTTP_H

#include <jansson.h>
#include <stddef.h>

#define PSIM_MAX_HEADERS 48

struct psim_req {
    const char *method;
    const char *path;  /* without the query */
    const char *query; /* after '?', "" when none */
    const char *body;  /* NUL-terminated */
    size_t body_len;
    int http2;
    size_t nheaders;
    struct {
        const char *name, *value;
    } headers[PSIM_MAX_HEADERS];
};

struct psim_answer {
    int status;
    char *body;               /* owned, malloc'd; NULL for an empty body */
    const char *content_type; /* static; NULL means application/json */
    char retry_after[64];     /* "" for none */
};

typedef void (*psim_handler_fn)(const struct psim_req *req, struct psim_answer *ans);

/* The value of header name (case-insensitive), or NULL. */
const char *psim_header(const struct psim_req *req, const char *name);
/* The value of query argument name in req->query (not decoded), copied into out; 0 or -1. */
int psim_query_arg(const struct psim_req *req, const char *name, char *out, size_t size);
/* Sets ans to status with a JSON body (consumes doc). */
void psim_json(struct psim_answer *ans, int status, void *doc);

/* Makes the record of message seq from the text psim_log_put_text kept for it (NULL: none). */
typedef json_t *(*psim_record_fn)(unsigned long long seq, const char *text, size_t len, int tag);

/* A record kept as text (psim_log_put_text); its buffer is reused as the ring comes round. */
struct psim_log_text {
    char *text;
    size_t len, size;
    int tag;
};

/* What a simulator saw, for its /sim/ control API: the last cap messages it accepted, numbered
 * from 1 (GET /sim/messages?since=N), and its answers counted by status (by_status). Not locked:
 * simulators hold their own lock around every call. */
struct psim_log {
    json_t **ring; /* record of message n at n % cap */
    size_t cap;
    unsigned long long seq; /* the last number given */
    json_t *by_status;
    struct psim_log_text *texts; /* at n % cap where ring has no record */
    psim_record_fn make_record;
};

void psim_log_init(struct psim_log *log, size_t cap);
void psim_log_free(struct psim_log *log);
/* Numbers the next accepted message and returns its number. */
unsigned long long psim_log_next(struct psim_log *log);
/* Keeps rec (taken) as the record of the message psim_log_next numbered last. */
void psim_log_put(struct psim_log *log, json_t *rec);
/* Keeps a copy of text (len bytes) and tag instead, for the record make_record (set it first)
 * makes from them when /sim/messages is asked: a message then costs a copy into a reused buffer
 * rather than a JSON tree built, kept and freed. */
void psim_log_put_text(struct psim_log *log, const char *text, size_t len, int tag);
/* Answers GET /sim/messages: the records after ?since= still kept, and last_seq. */
void psim_log_messages(const struct psim_log *log, const struct psim_req *req,
                       struct psim_answer *ans);
/* Counts an answer under its status in by_status. */
void psim_log_count(struct psim_log *log, int status);

/* Access tokens of a simulator's OAuth endpoint, kept in tokens (an object: token -> expiry in
 * ms since the epoch; clearing it revokes them all). Issues "<prefix><seq>-<random hex>" into out,
 * valid for ttl_s seconds. */
void psim_token_issue(json_t *tokens, const char *prefix, unsigned long long seq, long long ttl_s,
                      char *out, size_t size);
/* 1 when authorization is "Bearer <t>" with t issued and not expired. */
int psim_bearer_valid(const json_t *tokens, const char *authorization);

/* Blocks SIGTERM/SIGINT in every thread to come (call first) and ignores SIGPIPE. */
void psim_signals_block(void);
/* Waits for SIGTERM or SIGINT. */
void psim_signals_wait(void);

/* Starts an HTTP/1.1 server on 127.0.0.1:port (0: any), TLS when cert_file is given. Returns
 * the bound port, or -1 (message printed). */
int psim_http_start(int port, const char *cert_file, const char *key_file, unsigned threads,
                    psim_handler_fn handler);
void psim_http_stop(void);
/* A simulator's whole life on HTTP/1.1 alone: blocks the signals, serves handler as
 * psim_http_start does, announces "<name> listening on <url>" on stdout, and returns on SIGTERM
 * or SIGINT with the exit status (1 when the server could not start). */
int psim_http_run(const char *name, int port, const char *cert_file, const char *key_file,
                  unsigned threads, psim_handler_fn handler);

#endif
