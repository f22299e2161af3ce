#include "rc.h"

const char *rp_rc_name(int rc)
{
    switch (rc) {
    case RP_OK:
        return "OK";
#define RP_RC_NAME(name, value, msg)                                                               \
    case RP_E##name:                                                                               \
        return #name;
        RP_RC_MAP(RP_RC_NAME)
#undef RP_RC_NAME
    default:
        return "UNKNOWN";
    }
}

const char *rp_rc_msg(int rc)
{
    switch (rc) {
    case RP_OK:
        return "success";
#define RP_RC_MSG(name, value, msg)                                                                \
    case RP_E##name:                                                                               \
        return msg;
        RP_RC_MAP(RP_RC_MSG)
#undef RP_RC_MSG
    default:
        return "unknown error";
    }
}
