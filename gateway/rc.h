/* Return codes shared by every module: 0 is success, a negative rp_rc is a failure.
 * One table generates the enum, the names and the messages (libuv's UV_ERRNO_MAP). */
#ifndef RP_RC_H
#define RP_RC_H

#define RP_RC_MAP(X)                                                                               \
    X(INVAL, -1, "invalid argument")                                                               \
    X(NOTFOUND, -2, "not found")                                                                   \
    X(EXISTS, -3, "already exists")                                                                \
    X(TOOBIG, -4, "too large")                                                                     \
    X(FORBIDDEN, -5, "forbidden")                                                                  \
    X(CONFLICT, -6, "concurrent modification")                                                     \
    X(LIMIT, -7, "limit exceeded")                                                                 \
    X(IO, -8, "input/output error")                                                                \
    X(STORE, -9, "storage unavailable")                                                            \
    X(CRYPTO, -10, "cryptographic failure")                                                        \
    X(PARSE, -11, "parse error")                                                                   \
    X(UNSUPPORTED, -12, "not supported")                                                           \
    X(TIMEOUT, -13, "timed out")                                                                   \
    X(AGAIN, -14, "try again")                                                                     \
    /* Fatal range: the process cannot go on (nghttp2's NGHTTP2_ERR_FATAL). */                     \
    X(FATAL, -900, "fatal error")                                                                  \
    X(NOMEM, -901, "out of memory")

enum rp_rc {
    RP_OK = 0,
#define RP_RC_ENUM(name, value, msg) RP_E##name = (value),
    RP_RC_MAP(RP_RC_ENUM)
#undef RP_RC_ENUM
};

#define RP_RC_IS_FATAL(rc) ((rc) <= RP_EFATAL)

/* Returns a static string naming the code ("NOTFOUND"). */
const char *rp_rc_name(int rc);
/* Returns a static human-readable message for the code. */
const char *rp_rc_msg(int rc);

#endif
