/* One-time passwords: SendOTPMessage (POST /v1/apps/{id}/otp) and VerifyOTPMessage
 * (POST /v1/apps/{id}/verify-otp). */
#ifndef RP_API_OTP_H
#define RP_API_OTP_H

#include "../http.h"

/* Generates a code, keeps its MAC (replacing an earlier code for the same destination and
 * ReferenceId), and sends the built-in message through the SMS channel like SendMessages,
 * answering that send's MessageResponse; 429 TooManyRequestsException past the otp.* send
 * limits. */
void rp_api_send_otp_message(struct rp_request *req);
/* Answers {"Valid": true|false}; each call takes one of the code's attempts. */
void rp_api_verify_otp_message(struct rp_request *req);

#endif
