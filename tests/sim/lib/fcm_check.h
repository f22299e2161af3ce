/* fcm_sim's check of a messages:send body, in one pass of yajl's streaming parser: what FCM
 * would refuse in it, and its target token. A jansson tree of each body cost the simulator
 * seven-tenths of its CPU in campaign benchmarks, where it shares two cores with what it
 * measures. The verdicts are jansson's and the checks' that it replaced (fcm_check_fuzz holds
 * them side by side), including jansson's refusals of JSON it does not take: \u0000, unpaired
 * surrogates, integers past long long, reals past double, nesting past 2048. */
#ifndef RP_FCM_CHECK_H
#define RP_FCM_CHECK_H

#include <stddef.h>

enum fcm_check_verdict {
    FCM_BODY_INVALID,    /* not JSON, or no "message" object: "Invalid JSON payload received." */
    FCM_MESSAGE_INVALID, /* a problem FCM names (fcm_check.problem) */
    FCM_MESSAGE_OK,
};

struct fcm_check {
    const char *problem; /* FCM_MESSAGE_INVALID: FCM's message for it (static) */
    char *token;         /* message.token when a string, else NULL; owned (fcm_check_free) */
};

enum fcm_check_verdict fcm_check_body(const char *body, size_t len, struct fcm_check *out);
void fcm_check_free(struct fcm_check *c);

#endif
