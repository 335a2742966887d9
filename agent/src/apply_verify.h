/*
 * The running network: reloading it after a uci change and verifying the station's join through
 * ubus (netifd's interface status, iwinfo, logd), with the reason a join failed.
 */
#ifndef FB_APPLY_VERIFY_H
#define FB_APPLY_VERIFY_H

#include "apply.h"
#include "apply_layout.h"
#include "reason.h"

struct fb_join {
    const char *ubus_path;
    const char *wifi_path;
    int timeout_s;         /* how long a join may take */
    int poll_ms;           /* between two polls */
    long long reload_mono; /* CLOCK_MONOTONIC ms taken right before the last reload */
    int require_fresh;     /* verify wants a lease from after reload_mono (0: nothing was reloaded) */
};

void fb_join_init(struct fb_join *j, const struct fb_apply_config *cfg);

/* Wall-clock milliseconds (logd's time base, for fb_join_verify's since_ms). */
long long fb_wall_ms(void);

/*
 * Reloads what changed: the network (`ubus call network reload`) when FB_PKG_NETWORK is in changed,
 * the firewall (the config.change event `reload_config` sends to procd) when FB_PKG_FIREWALL is, and
 * Wi-Fi always (`wifi reload`, falling back to plain `wifi`). 0, or -1 when Wi-Fi could not reload.
 */
int fb_net_reload(struct fb_join *j, unsigned changed);

/*
 * Polls until the station has a new address while not known to be unassociated, or the timeout
 * passes. Returns FB_REASON_NONE (joined), AUTH_FAILED, NO_ADDRESS, NETWORK_NOT_FOUND or TIMEOUT.
 * st->ifname is filled in from network.wireless when uci did not name it. since_ms (fb_wall_ms):
 * log lines older than this belong to an earlier attempt.
 */
enum fb_reason fb_join_verify(struct fb_join *j, struct fb_station *st, const char *ssid, long long since_ms);

/*
 * After a join: does the station's new lease (network.interface.wwan) overlap the device's own
 * subnets, `lan` and the networks of its access points (uci wireless, mode 'ap')? Such a device could
 * not route to both. FB_REASON_SUBNET_CONFLICT (logged with both subnets) or FB_REASON_NONE; an
 * interface without an IPv4 address is not compared.
 */
enum fb_reason fb_subnet_check(struct fb_join *j, const struct fb_uci *u);

#endif
