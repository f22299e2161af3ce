/* OAuth 2.0 access tokens for the push channels (FCM service accounts, ADM's Login with Amazon),
 * cached per credential on one worker's event loop. A token is used until shortly before it
 * expires, then refreshed on the next use; only one refresh per credential is in flight and
 * every send that needs the token meanwhile waits for it. A 401 from the provider invalidates
 * the token it was sent with (once, however many sends saw it) so the next use refreshes. A
 * failing token endpoint is not hammered: after a failure, requests for the token fail at once
 * until a backoff delay (doubling, capped) has passed.
 * Not thread-safe: one cache per worker thread, used on that thread's loop only. */
#ifndef RP_CHANNEL_OAUTH_H
#define RP_CHANNEL_OAUTH_H

#include <stddef.h>

struct rp_delivery_result;

struct rp_httpc;
struct rp_oauth;
struct rp_oauth_cred;

/* Why no token could be had. */
enum rp_oauth_failure {
    RP_OAUTH_OK = 0,
    RP_OAUTH_UNAVAILABLE, /* transport error, 5xx, 429 or an unreadable answer: try later */
    RP_OAUTH_REJECTED,    /* 400/401/403: the endpoint refused these credentials */
};

/* Called once per request for a token, on the loop thread (possibly before rp_oauth_token
 * returns). token is borrowed for the call only; NULL on failure, with failure and message
 * (a short description without secrets, borrowed) saying why. */
typedef void (*rp_oauth_done_fn)(void *arg, const char *token, enum rp_oauth_failure failure,
                                 const char *message);

/* Builds the form body of a token request for source (the credential's private data): called at
 * each refresh, so a signed assertion carries a fresh time. Returns a new string, or NULL with
 * why (a static string) when the body cannot be built. */
typedef char *(*rp_oauth_body_fn)(void *source, const char **why);

/* Creates a cache whose refreshes go through http (borrowed; must outlive the cache); channel
 * (static) is the ChannelType its refreshes are counted under in /metrics. */
struct rp_oauth *rp_oauth_new(struct rp_httpc *http, long timeout_ms, const char *channel);
/* Frees the cache and its credentials. Waiting callbacks run with RP_OAUTH_UNAVAILABLE first. */
void rp_oauth_free(struct rp_oauth *cache);

/* Finds the credential registered under key (any string identifying the credential material,
 * e.g. a digest of it), or NULL. */
struct rp_oauth_cred *rp_oauth_find(struct rp_oauth *cache, const char *key);
/* Registers a credential: token_url gets the form body body_fn(source) builds. The cache takes
 * source and frees it with source_free (may be NULL). Returns the credential, owned by the
 * cache. */
struct rp_oauth_cred *rp_oauth_add(struct rp_oauth *cache, const char *key, const char *token_url,
                                   rp_oauth_body_fn body_fn, void *source,
                                   void (*source_free)(void *));

/* Gets a valid access token for cred: at once from the cache, or after the refresh in flight
 * (starting one when none is). */
void rp_oauth_token(struct rp_oauth_cred *cred, rp_oauth_done_fn done, void *arg);
/* The provider refused token (borrowed): unless the cache already holds another one, the next
 * rp_oauth_token refreshes. */
void rp_oauth_invalidate(struct rp_oauth_cred *cred, const char *token);

/* Refreshes started so far (for tests and metrics). */
unsigned long rp_oauth_refreshes(const struct rp_oauth *cache);

/* Parses a token endpoint answer: status and body (borrowed, body_len bytes). On success
 * returns RP_OAUTH_OK with *token new (caller frees) and *expires_in in seconds (3600 when the
 * answer gives none). Otherwise the failure kind, with message (size bytes) saying why in the
 * endpoint's words (`error` and `error_description`). Exposed for unit tests. */
enum rp_oauth_failure rp_oauth_parse_answer(long status, const char *body, size_t body_len,
                                            char **token, long long *expires_in, char *message,
                                            size_t size);

/* The header rp_oauth_authorize builds: the token follows this prefix. */
#define RP_OAUTH_AUTH_PREFIX "Authorization: Bearer "

/* What a send does with a token answer (rp_oauth_done_fn's arguments): with a token, *auth
 * (owned; the previous one is wiped and freed) becomes "Authorization: Bearer <token>" and 1 is
 * returned; without one, result is set (PERMANENT_FAILURE when the provider refused the
 * credentials, else TEMPORARY_FAILURE: "no <provider> access token: <message>") and 0 returned. */
int rp_oauth_authorize(const char *token, enum rp_oauth_failure failure, const char *message,
                       const char *provider, struct rp_delivery_result *result, char **auth);

/* Percent-encodes s for a form body (RFC 3986 unreserved characters kept). New string. */
char *rp_oauth_form_escape(const char *s);

#endif
