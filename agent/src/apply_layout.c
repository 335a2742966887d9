/* The station section per firmware layout (see apply_layout.h). */
#include "apply_layout.h"

#include <stdio.h>
#include <string.h>

#include "apply_txn.h"
#include "log.h"

#define GENERIC_SECTION "fb_sta"

enum { OPT_KEY = 1, OPT_BSSID = 2, OPT_EAP = 4, OPT_IDENTITY = 8, OPT_PASSWORD = 16, OPT_CA = 32, OPT_DISABLED = 64 };

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* ------------------------------------------------------------------ reading the wireless package */

struct wl_scan {
    char first_device[FB_UCI_NAME_MAX];
    char cur_sec[FB_UCI_NAME_MAX];
    int cur_is_iface;
    /* per current wifi-iface */
    int cur_sta, cur_wwan;
    char cur_device[FB_UCI_NAME_MAX];
    char cur_ifname[32];
    unsigned cur_present;
    /* result */
    struct fb_station *st;
    int found;
};

static void wl_finish(struct wl_scan *w)
{
    if (!w->cur_is_iface)
        return;
    int match = 0;
    if (w->st->layout == FB_LAYOUT_OMEGA2)
        match = strcmp(w->cur_sec, "client") == 0;
    else
        match = !w->found && w->cur_sta && w->cur_wwan;
    if (match) {
        w->found = 1;
        copy_str(w->st->sec, sizeof w->st->sec, w->cur_sec);
        copy_str(w->st->device, sizeof w->st->device, w->cur_device);
        copy_str(w->st->ifname, sizeof w->st->ifname, w->cur_ifname);
        w->st->present = w->cur_present;
        w->st->exists = 1;
    }
    w->cur_is_iface = 0;
}

static int wl_cb(void *ctx, const char *sec, const char *opt, char **vals, size_t nvals)
{
    static const struct {
        const char *name;
        unsigned bit;
    } k_opts[] = {{"key", OPT_KEY},           {"bssid", OPT_BSSID},       {"eap_type", OPT_EAP},
                  {"identity", OPT_IDENTITY}, {"password", OPT_PASSWORD}, {"ca_cert", OPT_CA},
                  {"disabled", OPT_DISABLED}};
    struct wl_scan *w = ctx;
    if (!opt) {
        wl_finish(w);
        copy_str(w->cur_sec, sizeof w->cur_sec, sec);
        w->cur_is_iface = strcmp(vals[0], "wifi-iface") == 0;
        w->cur_sta = w->cur_wwan = 0;
        w->cur_device[0] = w->cur_ifname[0] = '\0';
        w->cur_present = 0;
        if (strcmp(vals[0], "wifi-device") == 0 && !w->first_device[0])
            copy_str(w->first_device, sizeof w->first_device, sec);
        return 0;
    }
    if (!w->cur_is_iface || nvals == 0)
        return 0;
    if (strcmp(opt, "mode") == 0)
        w->cur_sta = strcmp(vals[0], "sta") == 0;
    else if (strcmp(opt, "network") == 0)
        w->cur_wwan = fb_uci_list_has(vals, nvals, FB_STA_NETWORK);
    else if (strcmp(opt, "device") == 0)
        copy_str(w->cur_device, sizeof w->cur_device, vals[0]);
    else if (strcmp(opt, "ifname") == 0)
        copy_str(w->cur_ifname, sizeof w->cur_ifname, vals[0]);
    for (size_t i = 0; i < sizeof k_opts / sizeof k_opts[0]; i++)
        if (strcmp(opt, k_opts[i].name) == 0)
            w->cur_present |= k_opts[i].bit;
    return 0;
}

int fb_station_find(const struct fb_uci *u, enum fb_layout layout, struct fb_station *st)
{
    struct wl_scan w;
    char type[64];
    memset(st, 0, sizeof *st);
    st->layout = layout;
    if (st->layout == FB_LAYOUT_AUTO) {
        int rc = fb_uci_get(u, "wireless", "client", NULL, type, sizeof type);
        if (rc < 0)
            return -1;
        st->layout = (rc == 0 && strcmp(type, "wifi-iface") == 0) ? FB_LAYOUT_OMEGA2 : FB_LAYOUT_GENERIC;
    }
    memset(&w, 0, sizeof w);
    w.st = st;
    if (fb_uci_show(u, "wireless", wl_cb, &w) != 0) {
        fb_err("apply: cannot read the wireless config");
        return -1;
    }
    wl_finish(&w);
    if (!w.found) {
        copy_str(st->sec, sizeof st->sec, st->layout == FB_LAYOUT_OMEGA2 ? "client" : GENERIC_SECTION);
        st->exists = 0;
    }
    if (!st->device[0])
        copy_str(st->device, sizeof st->device, w.first_device);
    if (!st->device[0]) {
        fb_err("apply: no wifi-device in the wireless config");
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ network and firewall */

struct fw_scan {
    char cur_sec[FB_UCI_NAME_MAX];
    int cur_zone, cur_is_wan, cur_has, cur_spaced;
    char wan_sec[FB_UCI_NAME_MAX];
    int found, has_wwan, spaced;
    char joined[256];
    char cur_joined[256];
};

static void fw_finish(struct fw_scan *f)
{
    if (f->cur_zone && f->cur_is_wan && !f->found) {
        f->found = 1;
        copy_str(f->wan_sec, sizeof f->wan_sec, f->cur_sec);
        f->has_wwan = f->cur_has;
        f->spaced = f->cur_spaced;
        copy_str(f->joined, sizeof f->joined, f->cur_joined);
    }
    f->cur_zone = 0;
}

static int fw_cb(void *ctx, const char *sec, const char *opt, char **vals, size_t nvals)
{
    struct fw_scan *f = ctx;
    if (!opt) {
        fw_finish(f);
        copy_str(f->cur_sec, sizeof f->cur_sec, sec);
        f->cur_zone = strcmp(vals[0], "zone") == 0;
        f->cur_is_wan = f->cur_has = f->cur_spaced = 0;
        f->cur_joined[0] = '\0';
        return 0;
    }
    if (!f->cur_zone || nvals == 0)
        return 0;
    if (strcmp(opt, "name") == 0) {
        f->cur_is_wan = strcmp(vals[0], "wan") == 0;
    } else if (strcmp(opt, "network") == 0) {
        f->cur_has = fb_uci_list_has(vals, nvals, FB_STA_NETWORK);
        f->cur_spaced = nvals == 1 && strchr(vals[0], ' ') != NULL;
        copy_str(f->cur_joined, sizeof f->cur_joined, vals[0]);
    }
    return 0;
}

int fb_wwan_ensure(const struct fb_uci *u, unsigned *changed)
{
    char type[64];
    int rc = fb_uci_get(u, "network", FB_STA_NETWORK, NULL, type, sizeof type);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (fb_uci_set(u, "network", FB_STA_NETWORK, NULL, "interface") != 0 ||
            fb_uci_set(u, "network", FB_STA_NETWORK, "proto", "dhcp") != 0)
            return -1;
        *changed |= FB_PKG_NETWORK;
    }
    struct fw_scan f;
    memset(&f, 0, sizeof f);
    rc = fb_uci_show(u, "firewall", fw_cb, &f);
    if (rc == 1)
        return 0; /* no firewall package on this device */
    if (rc != 0)
        return -1;
    fw_finish(&f);
    if (!f.found) {
        fb_warn("apply: no wan firewall zone; " FB_STA_NETWORK " left out of the firewall");
        return 0;
    }
    if (f.has_wwan)
        return 0;
    if (f.spaced) {
        /* old style: option network 'wan wan6' */
        char v[300];
        int n = snprintf(v, sizeof v, "%s %s", f.joined, FB_STA_NETWORK);
        if (n < 0 || (size_t)n >= sizeof v || fb_uci_set(u, "firewall", f.wan_sec, "network", v) != 0)
            return -1;
    } else if (fb_uci_add_list(u, "firewall", f.wan_sec, "network", FB_STA_NETWORK) != 0) {
        return -1;
    }
    *changed |= FB_PKG_FIREWALL;
    return 0;
}

/* ------------------------------------------------------------------ writing the station */

/* Sets opt to value when value is non-empty, else deletes it if the section has it. */
static int set_or_drop(const struct fb_uci *u, const struct fb_station *st, const char *opt, unsigned bit,
                       const char *value, int secret)
{
    if (value && *value)
        return secret ? fb_uci_set_secret(u, "wireless", st->sec, opt, value)
                      : fb_uci_set(u, "wireless", st->sec, opt, value);
    if (!(st->present & bit))
        return 0;
    return fb_uci_delete(u, "wireless", st->sec, opt);
}

int fb_station_write(const struct fb_uci *u, const struct fb_station *st, const struct fb_sta_values *v)
{
    const char *sec = st->sec;
    if (!st->exists && fb_uci_set(u, "wireless", sec, NULL, "wifi-iface") != 0)
        return -1;
    if (fb_uci_set(u, "wireless", sec, "device", st->device) != 0 || fb_uci_set(u, "wireless", sec, "mode", "sta") != 0 ||
        fb_uci_set(u, "wireless", sec, "network", FB_STA_NETWORK) != 0)
        return -1;
    if (st->layout == FB_LAYOUT_OMEGA2 && !st->ifname[0] && fb_uci_set(u, "wireless", sec, "ifname", "apcli0") != 0)
        return -1;
    if (fb_uci_set(u, "wireless", sec, "ssid", v->ssid) != 0 ||
        fb_uci_set(u, "wireless", sec, "encryption", v->encryption) != 0)
        return -1;
    if (set_or_drop(u, st, "key", OPT_KEY, v->key, 1) != 0 || set_or_drop(u, st, "bssid", OPT_BSSID, v->bssid, 0) != 0)
        return -1;
    if (v->eap_type && *v->eap_type) {
        if (fb_uci_set(u, "wireless", sec, "eap_type", v->eap_type) != 0 ||
            fb_uci_set(u, "wireless", sec, "identity", v->identity) != 0)
            return -1;
    } else if (set_or_drop(u, st, "eap_type", OPT_EAP, NULL, 0) != 0 ||
               set_or_drop(u, st, "identity", OPT_IDENTITY, NULL, 0) != 0) {
        return -1;
    }
    if (set_or_drop(u, st, "password", OPT_PASSWORD, v->password, 1) != 0 ||
        set_or_drop(u, st, "ca_cert", OPT_CA, v->ca_path, 0) != 0)
        return -1;
    /* enable the station: Omega2 firmware documents disabled '0'; elsewhere the option is dropped */
    if (st->layout == FB_LAYOUT_OMEGA2)
        return fb_uci_set(u, "wireless", sec, "disabled", "0") == 0 ? 0 : -1;
    return set_or_drop(u, st, "disabled", OPT_DISABLED, NULL, 0);
}
