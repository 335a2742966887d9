/* Reason names for test builds without agent/src/reason.c (linked only when that file is absent). */
#include "reason.h"

const char *fb_reason_name(enum fb_reason r)
{
    static const char *const names[FB_REASON__COUNT] = {
        "",             "auth_failed",     "network_not_found", "no_address",  "timeout",     "bad_envelope",
        "replay",       "invalid_profile", "wrong_device",      "too_large",   "apply_error", "rolled_back",
    };
    if ((int)r < 0 || r >= FB_REASON__COUNT)
        return "";
    return names[r];
}
