/* A small HTTP/2-over-TLS server for provider simulators (APNs today; FCM and others can reuse
 * it): OpenSSL (ALPN h2 only, optional client certificates) and nghttp2's server API on one
 * libevent loop. A simulator sees complete requests (headers and body) and answers each once,
 * at once or after a delay, and can steer the connection: new SETTINGS, GOAWAY. Single-threaded:
 * every function must be called on the loop's thread. */
#ifndef RP_SIM_H2_SERVER_H
#define RP_SIM_H2_SERVER_H

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct rp_h2s;      /* a listening server */
struct rp_h2s_conn; /* one client connection */
struct rp_h2s_req;  /* one request: valid from on_request until answered (or its stream dies) */

struct rp_h2s_header {
    const char *name; /* lowercase */
    const char *value;
};

/* A complete request arrived. The callee answers it before returning, with rp_h2s_respond (whose
 * delay holds the answer back) or by dropping it with rp_h2s_refuse. */
typedef void (*rp_h2s_request_fn)(void *arg, struct rp_h2s_req *req);
/* A connection opened (open = true, after the TLS handshake) or is about to be freed. */
typedef void (*rp_h2s_conn_fn)(void *arg, struct rp_h2s_conn *conn, bool open);

struct rp_h2s_config {
    const char *host;      /* listen address, "127.0.0.1" when NULL */
    int port;              /* 0: any free port (see rp_h2s_port) */
    const char *cert_file; /* server certificate chain (PEM) */
    const char *key_file;
    /* With a CA file, clients are asked for a certificate verified against it; a client that
     * presents none is refused in the handshake only when require_client_cert. */
    const char *client_ca_file;
    bool require_client_cert;
    uint32_t max_concurrent_streams; /* SETTINGS_MAX_CONCURRENT_STREAMS; 0: 100 */
    /* SO_REUSEPORT: several servers (one per thread and event loop) share the port and the
     * kernel spreads connections over them. */
    bool reuse_port;
    rp_h2s_request_fn on_request;
    rp_h2s_conn_fn on_conn; /* may be NULL */
    void *arg;
};

/* Starts listening. Returns NULL (with a message on stderr) when the address, the certificate
 * or the key cannot be used. */
struct rp_h2s *rp_h2s_new(struct event_base *base, const struct rp_h2s_config *cfg);
int rp_h2s_port(const struct rp_h2s *server);
/* Closes every connection (pending requests are dropped unanswered) and frees. */
void rp_h2s_free(struct rp_h2s *server);
/* Requests handed to on_request whose answer is still held back by its delay. */
size_t rp_h2s_delayed(const struct rp_h2s *server);
/* PING frames received (nghttp2 answers them). */
uint64_t rp_h2s_pings(const struct rp_h2s *server);

/* ---- Requests ------------------------------------------------------------------------------ */

const char *rp_h2s_req_method(const struct rp_h2s_req *req);
const char *rp_h2s_req_path(const struct rp_h2s_req *req);
/* The first value of a header (name lowercase), or NULL; count is how many times it came. */
const char *rp_h2s_req_header(const struct rp_h2s_req *req, const char *name, int *count);
/* Every header of req, pseudo-headers too, in the order they came; n_out gets how many. For a
 * simulator that looks for many names at once rather than one rp_h2s_req_header call each. */
const struct rp_h2s_header *rp_h2s_req_headers(const struct rp_h2s_req *req, size_t *n_out);
const unsigned char *rp_h2s_req_body(const struct rp_h2s_req *req, size_t *len);
int32_t rp_h2s_req_stream_id(const struct rp_h2s_req *req);
struct rp_h2s_conn *rp_h2s_req_conn(const struct rp_h2s_req *req);

/* Answers req: status, headers (copied), body (copied; may be NULL), after delay_ms (0: now).
 * Call it from on_request; req must not be used afterwards. When the stream or the connection
 * goes away before the delay ends, the answer is dropped. */
void rp_h2s_respond(struct rp_h2s_req *req, int status, const struct rp_h2s_header *headers,
                    size_t n_headers, const char *body, size_t body_len, unsigned delay_ms);

/* Resets req's stream with error_code (an HTTP/2 error code) instead of answering it. */
void rp_h2s_refuse(struct rp_h2s_req *req, uint32_t error_code);

/* ---- Connections --------------------------------------------------------------------------- */

uint64_t rp_h2s_conn_id(const struct rp_h2s_conn *conn);
/* The client's certificate (borrowed for the connection's life), NULL when none. */
X509 *rp_h2s_conn_peer_cert(const struct rp_h2s_conn *conn);
/* Per-connection data of the simulator, freed with free_fn when the connection goes. */
void *rp_h2s_conn_data(const struct rp_h2s_conn *conn);
void rp_h2s_conn_set_data(struct rp_h2s_conn *conn, void *data, void (*free_fn)(void *));
/* Sends SETTINGS_MAX_CONCURRENT_STREAMS = n. */
void rp_h2s_conn_set_max_streams(struct rp_h2s_conn *conn, uint32_t n);
/* Sends GOAWAY with last-stream-id = the highest stream handed to on_request so far, error_code
 * (0: NO_ERROR) and debug (may be NULL). Requests above it are refused (RST_STREAM
 * REFUSED_STREAM) and never reach on_request; those at or below it may still be answered; the
 * connection closes once they are. */
void rp_h2s_conn_goaway(struct rp_h2s_conn *conn, uint32_t error_code, const char *debug);
/* Requests received on the connection so far. */
uint64_t rp_h2s_conn_requests(const struct rp_h2s_conn *conn);

#endif
