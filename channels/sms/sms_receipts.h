/* The SMS channel's delivery-receipt endpoint (POST /repoint/v1/sms/status). */
#ifndef RP_SMS_RECEIPTS_H
#define RP_SMS_RECEIPTS_H

#include "../../gateway/http.h"

void rp_sms_status_callback(struct rp_request *req);

#endif
