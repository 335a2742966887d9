/* Reload and join verification through ubus (see apply_verify.h). */
#include "apply_verify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>
#include <openssl/crypto.h>

#include "apply_txn.h"
#include "json_util.h"
#include "log.h"
#include "proc.h"

#define UBUS_OUT_MAX (64 * 1024)
#define UBUS_JSON_DEPTH 16
#define TOOL_TIMEOUT_MS 60000
#define UBUS_TIMEOUT_MS 10000

static long long clock_ms(clockid_t id)
{
    struct timespec ts;
    if (clock_gettime(id, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_ms(void) { return clock_ms(CLOCK_MONOTONIC); }

long long fb_wall_ms(void) { return clock_ms(CLOCK_REALTIME); }

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

void fb_join_init(struct fb_join *j, const struct fb_apply_config *cfg)
{
    memset(j, 0, sizeof *j);
    j->ubus_path = cfg->ubus_path;
    j->wifi_path = cfg->wifi_path;
    j->timeout_s = cfg->verify_timeout_s > 0 ? cfg->verify_timeout_s : 60;
    j->poll_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 1000;
    j->require_fresh = 1;
}

/* Runs a tool (argv NULL-terminated), output discarded. Its exit code, or -1 when it did not run to the end. */
static int tool(char *const argv[])
{
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    if (fb_proc_run(argv, NULL, 0, TOOL_TIMEOUT_MS, &res) != 0)
        return -1;
    return res.exit_code;
}

int fb_net_reload(struct fb_join *j, unsigned changed)
{
    char *ubus = (char *)j->ubus_path, *wifi = (char *)j->wifi_path;
    char *network_reload[] = {ubus, "call", "network", "reload", NULL};
    char *firewall_event[] = {ubus, "call", "service", "event",
                              "{\"type\":\"config.change\",\"data\":{\"package\":\"firewall\"}}", NULL};
    char *wifi_reload[] = {wifi, "reload", NULL};
    char *wifi_up[] = {wifi, NULL};
    j->reload_mono = mono_ms();
    j->require_fresh = 1;
    if ((changed & FB_PKG_NETWORK) && tool(network_reload) != 0)
        fb_warn("apply: ubus call network reload failed");
    if ((changed & FB_PKG_FIREWALL) && tool(firewall_event) != 0)
        fb_warn("apply: firewall reload event failed");
    if (tool(wifi_reload) == 0 || tool(wifi_up) == 0)
        return 0;
    fb_err("apply: wifi reload failed");
    return -1;
}

/* `ubus call OBJ METHOD [MSG]` parsed with json-c (depth-limited). NULL on any failure. */
static json_object *ubus_call(struct fb_join *j, const char *obj, const char *method, const char *msg)
{
    char *buf = malloc(UBUS_OUT_MAX);
    json_object *o = NULL;
    if (!buf)
        return NULL;
    /* -t 5: ubus's own timeout for the object's answer, so one stuck poll cannot eat the verify window */
    char *argv[] = {(char *)j->ubus_path, "-t", "5", "call", (char *)obj, (char *)method, (char *)msg, NULL};
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    res.out = buf;
    res.out_cap = UBUS_OUT_MAX;
    if (fb_proc_run(argv, NULL, 0, UBUS_TIMEOUT_MS, &res) == 0 && !res.out_truncated && res.exit_code == 0)
        o = fb_json_parse_object_ex(buf, res.out_len, UBUS_JSON_DEPTH, 0);
    OPENSSL_cleanse(buf, UBUS_OUT_MAX);
    free(buf);
    return o;
}

static const char *jstr(json_object *o, const char *key)
{
    json_object *v;
    if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/*
 * network.interface.wwan status: 1 when "up": true with an "ipv4-address" entry that belongs to
 * THIS reload, 0 otherwise. netifd's reload only starts the teardown, so right after it the old
 * lease is still up; a lease counts as new when the interface was seen down since the reload
 * (*seen_down, sticky) or it is certainly younger than the reload: "uptime" is whole seconds, so a
 * lease reporting u seconds may have come up u + 1 seconds ago (an uptime of 0 right after the
 * reload can be the old lease).
 */
static int iface_fresh_address(struct fb_join *j, int *seen_down)
{
    json_object *o = ubus_call(j, "network.interface." FB_STA_NETWORK, "status", NULL);
    json_object *up, *addrs, *upt;
    int ok = 0;
    if (!o)
        return 0;
    if (!json_object_object_get_ex(o, "up", &up) || !json_object_get_boolean(up)) {
        *seen_down = 1;
        json_object_put(o);
        return 0;
    }
    int fresh = *seen_down || !j->require_fresh;
    if (!fresh && json_object_object_get_ex(o, "uptime", &upt) && json_object_is_type(upt, json_type_int)) {
        long long up_s = (long long)json_object_get_int64(upt);
        fresh = up_s >= 0 && (up_s + 1) * 1000 <= mono_ms() - j->reload_mono;
    }
    if (fresh && json_object_object_get_ex(o, "ipv4-address", &addrs) && json_object_is_type(addrs, json_type_array)) {
        size_t n = json_object_array_length(addrs);
        for (size_t i = 0; i < n && !ok; i++) {
            const char *a = jstr(json_object_array_get_idx(addrs, i), "address");
            ok = a && *a;
        }
    }
    json_object_put(o);
    return ok;
}

/* The status entry's "config" is a station on the wwan network (mode "sta", network holds wwan). */
static int status_entry_is_wwan_sta(json_object *e)
{
    json_object *cfg, *net;
    const char *mode;
    if (!json_object_object_get_ex(e, "config", &cfg) || !json_object_is_type(cfg, json_type_object))
        return 0;
    mode = jstr(cfg, "mode");
    if (!mode || strcmp(mode, "sta") != 0 || !json_object_object_get_ex(cfg, "network", &net))
        return 0;
    if (json_object_is_type(net, json_type_string)) {
        char *v = (char *)json_object_get_string(net);
        return fb_uci_list_has(&v, 1, FB_STA_NETWORK);
    }
    if (!json_object_is_type(net, json_type_array))
        return 0;
    size_t n = json_object_array_length(net);
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(net, i);
        if (json_object_is_type(x, json_type_string) && strcmp(json_object_get_string(x), FB_STA_NETWORK) == 0)
            return 1;
    }
    return 0;
}

/*
 * network.wireless status: radios -> interfaces[] {section, ifname, config}. netifd names an
 * anonymous section "@wifi-iface[N]", never the cfgNNHHHH name `uci -X show` gives (which also
 * changes when the section's options change), so an entry matches by section name (named
 * sections such as Omega2's "client") or by its config: mode sta on the wwan network.
 */
static void find_ifname(struct fb_join *j, struct fb_station *st)
{
    json_object *o = ubus_call(j, "network.wireless", "status", NULL);
    int by_name = 0;
    if (!o)
        return;
    json_object_object_foreach(o, radio, rv)
    {
        (void)radio;
        json_object *ifs;
        if (!json_object_is_type(rv, json_type_object) || !json_object_object_get_ex(rv, "interfaces", &ifs) ||
            !json_object_is_type(ifs, json_type_array))
            continue;
        size_t n = json_object_array_length(ifs);
        for (size_t i = 0; i < n && !by_name; i++) {
            json_object *e = json_object_array_get_idx(ifs, i);
            const char *s = jstr(e, "section");
            const char *ifn = jstr(e, "ifname");
            size_t len = ifn ? strlen(ifn) : 0;
            if (!s || len == 0 || len >= sizeof st->ifname)
                continue;
            if (strcmp(s, st->sec) == 0) {
                memcpy(st->ifname, ifn, len + 1);
                by_name = 1;
            } else if (!st->ifname[0] && status_entry_is_wwan_sta(e)) {
                memcpy(st->ifname, ifn, len + 1);
            }
        }
    }
    json_object_put(o);
}

/* {"device":"<ifname>"}: interface names are [A-Za-z0-9._-] (fb_valid_id); anything else is refused. */
static int device_msg(char *msg, size_t cap, const char *ifname)
{
    if (!fb_valid_id(ifname, strlen(ifname)))
        return -1;
    json_object *o = json_object_new_object();
    size_t n = o && fb_json_add(o, "device", json_object_new_string(ifname)) == 0 ? fb_json_print(o, msg, cap) : 0;
    json_object_put(o);
    return n > 0 ? 0 : -1;
}

/* `ubus call iwinfo METHOD {"device":ifname}`; NULL when there is no interface or no answer. */
static json_object *iwinfo_call(struct fb_join *j, const char *method, const char *ifname)
{
    char msg[96];
    if (!ifname[0] || device_msg(msg, sizeof msg, ifname) != 0)
        return NULL;
    return ubus_call(j, "iwinfo", method, msg);
}

/*
 * iwinfo info: 1 when associated to our SSID (non-zero bssid, ssid ours when reported), 0 when not
 * (or to another network), -1 when the driver gives no answer to judge by.
 */
static int station_associated(struct fb_join *j, const char *ifname, const char *ssid)
{
    json_object *o = iwinfo_call(j, "info", ifname);
    if (!o)
        return -1;
    const char *bssid = jstr(o, "bssid");
    const char *s = jstr(o, "ssid");
    int ok = bssid && *bssid && strcmp(bssid, "00:00:00:00:00:00") != 0 && (!s || strcmp(s, ssid) == 0);
    json_object_put(o);
    return ok;
}

/* iwinfo scan: 1 seen, 0 not seen, -1 no scan result to judge by. */
static int ssid_visible(struct fb_join *j, const char *ifname, const char *ssid)
{
    json_object *res, *o = iwinfo_call(j, "scan", ifname);
    int seen = -1;
    if (!o)
        return -1;
    if (json_object_object_get_ex(o, "results", &res) && json_object_is_type(res, json_type_array)) {
        size_t n = json_object_array_length(res);
        seen = 0;
        for (size_t i = 0; i < n; i++) {
            const char *s = jstr(json_object_array_get_idx(res, i), "ssid");
            if (s && strcmp(s, ssid) == 0)
                seen = 1;
        }
    }
    json_object_put(o);
    return seen;
}

/*
 * logd (`ubus call log read`): wpa_supplicant reports a rejected key as "4-Way Handshake failed -
 * pre-shared key may be incorrect" or "CTRL-EVENT-SSID-TEMP-DISABLED ... reason=WRONG_KEY".
 */
static int wrong_key_logged(struct fb_join *j, const char *ifname, long long since_ms)
{
    json_object *o = ubus_call(j, "log", "read", "{\"lines\":100,\"stream\":false,\"oneshot\":true}");
    json_object *arr;
    int found = 0;
    char tag[48];
    int n = snprintf(tag, sizeof tag, "%s: ", ifname);
    if (!o)
        return 0;
    if (n > 0 && (size_t)n < sizeof tag && ifname[0] && json_object_object_get_ex(o, "log", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        size_t len = json_object_array_length(arr);
        for (size_t i = 0; i < len && !found; i++) {
            json_object *e = json_object_array_get_idx(arr, i), *t;
            const char *m = jstr(e, "msg");
            if (!m || !json_object_object_get_ex(e, "time", &t) || json_object_get_int64(t) < since_ms)
                continue;
            if (strstr(m, tag) && (strstr(m, "pre-shared key may be incorrect") || strstr(m, "reason=WRONG_KEY")))
                found = 1;
        }
    }
    json_object_put(o);
    return found;
}

/*
 * associated == -1 (no iwinfo object, interface being recreated, ifname unknown) is accepted only
 * together with a fresh lease; j->reload_mono is the reload this verifies.
 */
enum fb_reason fb_join_verify(struct fb_join *j, struct fb_station *st, const char *ssid, long long since_ms)
{
    long long deadline = mono_ms() + (long long)j->timeout_s * 1000;
    int associated = -1, seen_down = 0;
    for (;;) {
        if (!st->ifname[0])
            find_ifname(j, st);
        associated = station_associated(j, st->ifname, ssid);
        if (associated != 0 && iface_fresh_address(j, &seen_down))
            return FB_REASON_NONE;
        if (associated != 1 && wrong_key_logged(j, st->ifname, since_ms))
            return FB_REASON_AUTH_FAILED;
        if (mono_ms() >= deadline)
            break;
        sleep_ms(j->poll_ms);
    }
    if (associated == 1)
        return FB_REASON_NO_ADDRESS;
    if (ssid_visible(j, st->ifname, ssid) == 0)
        return FB_REASON_NETWORK_NOT_FOUND;
    return FB_REASON_TIMEOUT;
}

/* ------------------------------------------------------------------ subnet conflict */

#define OWN_NETS_MAX 8

struct own_nets {
    char name[OWN_NETS_MAX][32];
    size_t n;
    char sec[64];      /* the section whose options come now */
    int is_ap;         /* it has mode 'ap' */
    char pending[128]; /* its network option, when it came before the mode */
};

static void own_add(struct own_nets *o, const char *name, size_t len)
{
    if (len == 0 || len >= sizeof o->name[0] || o->n == OWN_NETS_MAX ||
        (len == strlen(FB_STA_NETWORK) && strncmp(name, FB_STA_NETWORK, len) == 0))
        return;
    for (size_t i = 0; i < o->n; i++)
        if (strlen(o->name[i]) == len && strncmp(o->name[i], name, len) == 0)
            return;
    memcpy(o->name[o->n], name, len);
    o->name[o->n][len] = '\0';
    o->n++;
}

/* uci -X show wireless: the networks of every `mode 'ap'` wifi-iface (mode comes before or after network). */
static int ap_nets_cb(void *ctx, const char *sec, const char *opt, char **vals, size_t nvals)
{
    struct own_nets *o = ctx;
    if (strcmp(o->sec, sec) != 0) {
        snprintf(o->sec, sizeof o->sec, "%s", sec);
        o->is_ap = 0;
        o->pending[0] = '\0';
    }
    if (!opt || nvals == 0)
        return 0;
    const char *nets = NULL;
    if (strcmp(opt, "mode") == 0 && strcmp(vals[0], "ap") == 0) {
        o->is_ap = 1;
        nets = o->pending;
    } else if (strcmp(opt, "network") == 0) {
        if (!o->is_ap) {
            snprintf(o->pending, sizeof o->pending, "%s", vals[0]);
            return 0;
        }
        nets = vals[0];
    }
    for (const char *p = nets; p && *p;) { /* 'lan guest': space-separated */
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        own_add(o, p, (size_t)(e - p));
        p = e;
    }
    return 0;
}

/* First IPv4 address and prefix of network.interface.NAME (host order): 0, or -1 when it has none. */
static int iface_ipv4(struct fb_join *j, const char *name, uint32_t *addr, int *prefix)
{
    char obj[64];
    json_object *o, *addrs, *m;
    int rc = -1;
    if (snprintf(obj, sizeof obj, "network.interface.%s", name) >= (int)sizeof obj || !(o = ubus_call(j, obj, "status", NULL)))
        return -1;
    if (json_object_object_get_ex(o, "ipv4-address", &addrs) && json_object_is_type(addrs, json_type_array) &&
        json_object_array_length(addrs) > 0) {
        json_object *e = json_object_array_get_idx(addrs, 0);
        const char *a = jstr(e, "address");
        struct in_addr in;
        if (a && inet_pton(AF_INET, a, &in) == 1 && json_object_object_get_ex(e, "mask", &m) &&
            json_object_is_type(m, json_type_int)) {
            int p = json_object_get_int(m);
            if (p >= 0 && p <= 32) {
                *addr = ntohl(in.s_addr);
                *prefix = p;
                rc = 0;
            }
        }
    }
    json_object_put(o);
    return rc;
}

static uint32_t prefix_mask(int p) { return p == 0 ? 0 : 0xffffffffu << (32 - p); }

/* "a.b.c.d/p" of the subnet addr lies in. */
static void subnet_str(char *out, size_t cap, uint32_t addr, int p)
{
    uint32_t n = addr & prefix_mask(p);
    snprintf(out, cap, "%u.%u.%u.%u/%d", n >> 24, (n >> 16) & 255u, (n >> 8) & 255u, n & 255u, p);
}

enum fb_reason fb_subnet_check(struct fb_join *j, const struct fb_uci *u)
{
    struct own_nets own;
    uint32_t wa, oa;
    int wp, op;
    memset(&own, 0, sizeof own);
    own_add(&own, "lan", 3);
    if (fb_uci_show(u, "wireless", ap_nets_cb, &own) < 0)
        fb_warn("apply: cannot read the access points' networks; checking lan only");
    if (iface_ipv4(j, FB_STA_NETWORK, &wa, &wp) != 0)
        return FB_REASON_NONE; /* verified a moment ago; nothing to compare with */
    for (size_t i = 0; i < own.n; i++) {
        if (iface_ipv4(j, own.name[i], &oa, &op) != 0)
            continue;
        uint32_t m = prefix_mask(wp < op ? wp : op); /* two subnets overlap when the wider one holds the other */
        if ((wa & m) == (oa & m)) {
            char a[24], b[24];
            subnet_str(a, sizeof a, wa, wp);
            subnet_str(b, sizeof b, oa, op);
            fb_warn("apply: the new network's subnet %s overlaps the device's own network %s (%s)", a, own.name[i], b);
            return FB_REASON_SUBNET_CONFLICT;
        }
    }
    return FB_REASON_NONE;
}
