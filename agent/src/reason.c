#include "reason.h"

#include <string.h>

const char *fb_reason_name(enum fb_reason r)
{
    switch (r) {
    case FB_REASON_NONE: return "";
    case FB_REASON_AUTH_FAILED: return "auth_failed";
    case FB_REASON_NETWORK_NOT_FOUND: return "network_not_found";
    case FB_REASON_NO_ADDRESS: return "no_address";
    case FB_REASON_TIMEOUT: return "timeout";
    case FB_REASON_BAD_ENVELOPE: return "bad_envelope";
    case FB_REASON_REPLAY: return "replay";
    case FB_REASON_INVALID_PROFILE: return "invalid_profile";
    case FB_REASON_WRONG_DEVICE: return "wrong_device";
    case FB_REASON_TOO_LARGE: return "too_large";
    case FB_REASON_APPLY_ERROR: return "apply_error";
    case FB_REASON_ROLLED_BACK: return "rolled_back";
    case FB_REASON_BROKER_UNREACHABLE: return "broker_unreachable";
    case FB_REASON_SUBNET_CONFLICT: return "subnet_conflict";
    case FB_REASON__COUNT: break;
    }
    return "apply_error";
}

enum fb_reason fb_reason_parse(const char *name)
{
    for (int r = FB_REASON_NONE + 1; r < FB_REASON__COUNT; r++)
        if (strcmp(name, fb_reason_name((enum fb_reason)r)) == 0)
            return (enum fb_reason)r;
    return FB_REASON_NONE;
}
