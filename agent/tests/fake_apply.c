/*
 * Test double for apply.h: linked only into the unit tests of the agent core and the fuzzer
 * (agent/Makefile); product builds compile src/ alone (sources.mk), which holds the real module.
 */
#include "fake_apply.h"

#include <string.h>

struct fb_fake_apply fb_fake;

int fb_apply_wifi(const struct fb_apply_config *cfg, const struct fb_wifi_profile *p, enum fb_reason *reason)
{
    (void)cfg;
    fb_fake.wifi_calls++;
    fb_fake.last = *p;
    if (fb_fake.wifi_result != 0) {
        *reason = fb_fake.wifi_reason;
        return -1;
    }
    return 0;
}

int fb_apply_reset(const struct fb_apply_config *cfg, enum fb_reason *reason)
{
    (void)cfg;
    fb_fake.reset_calls++;
    if (fb_fake.reset_result != 0) {
        *reason = FB_REASON_APPLY_ERROR;
        return -1;
    }
    return 0;
}

int fb_apply_recover(const struct fb_apply_config *cfg)
{
    (void)cfg;
    fb_fake.recover_calls++;
    return fb_fake.recover_result;
}
