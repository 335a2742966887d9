/* The unit tests' stand-in for the uci module: records calls, returns what the test sets. */
#ifndef FB_FAKE_APPLY_H
#define FB_FAKE_APPLY_H

#include "apply.h"

struct fb_fake_apply {
    int wifi_calls, reset_calls, recover_calls;
    int wifi_result;            /* 0 = success, -1 = failure with wifi_reason */
    enum fb_reason wifi_reason;
    int recover_result;
    int reset_result;           /* 0 = success, -1 = failure with APPLY_ERROR */
    struct fb_wifi_profile last; /* copy of the last profile handed over */
};

extern struct fb_fake_apply fb_fake;

#endif
