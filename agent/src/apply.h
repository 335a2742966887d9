/*
 * Applying Wi-Fi settings to uci: apply, verify the join, roll back, recover after power loss.
 * The whole interface between the agent core (main/runtime) and the uci module.
 */
#ifndef FB_APPLY_H
#define FB_APPLY_H

#include <stdint.h>
#include "profile.h"
#include "reason.h"

enum fb_layout {
    FB_LAYOUT_AUTO = 0,  /* detect: wireless.client present -> OMEGA2, else GENERIC */
    FB_LAYOUT_OMEGA2,    /* named station section wireless.client, ifname apcli0, network wwan */
    FB_LAYOUT_GENERIC,   /* a mode 'sta' wifi-iface on network wwan */
};

struct fb_apply_config {
    const char *uci_path;     /* "uci" binary (absolute path or name looked up in PATH) */
    const char *wifi_path;    /* "wifi" binary */
    const char *ubus_path;    /* "ubus" binary */
    const char *uci_confdir;  /* passed as uci -c DIR when non-NULL (tests); NULL = /etc/config */
    const char *uci_conf2dir; /* uci's run-time override dir; NULL = /var/run/uci (tests: another) */
    const char *state_dir;    /* where the backup and the "applying" marker live (persistent) */
    enum fb_layout layout;
    int verify_timeout_s;     /* default 60 */
    int poll_interval_ms;     /* default 1000; 1000..2000 on devices, smaller in tests */
    /* Provisioning network to return to on reset (may be NULL: keep what the backup had). */
    const char *prov_ssid;
    const char *prov_key;
    const char *prov_encryption;
    /*
     * After a premises apply has joined and got an address: reach a broker over the new network
     * within timeout_s (0 reached, -1 not); NULL skips the check. Failing it rolls back with
     * broker_unreachable. Not used by reset (it returns to the provisioning network whatever happens).
     */
    int (*reach_broker)(void *ctx, int timeout_s);
    void *reach_ctx;
    int broker_timeout_s; /* default 60 */
};

/*
 * Backs up, writes the station settings, commits, reloads Wi-Fi and verifies the join.
 * On success returns 0. On failure restores the backup, reloads, returns -1 and sets *reason
 * (auth_failed, network_not_found, no_address, timeout, subnet_conflict, broker_unreachable, apply_error).
 */
int fb_apply_wifi(const struct fb_apply_config *cfg, const struct fb_wifi_profile *p, enum fb_reason *reason);

/* Removes the premises settings and returns to the provisioning network. 0 or -1 with *reason. */
int fb_apply_reset(const struct fb_apply_config *cfg, enum fb_reason *reason);

/*
 * Called once at start-up, before anything else touches uci: does the firmware's uci know `-t`
 * (2021-04-12)? 0 yes, -1 no (logged: the agent must not start), 1 could not tell (logged).
 */
int fb_apply_check_uci(const struct fb_apply_config *cfg);

/*
 * Called once at start-up: if an "applying" marker exists (crash or power loss mid-apply),
 * restores the backup, reloads and clears the marker. Returns 1 if it restored, 0 if there was
 * nothing to do, -1 on error.
 */
int fb_apply_recover(const struct fb_apply_config *cfg);

#endif
