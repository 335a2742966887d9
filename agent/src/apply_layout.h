/*
 * The station (client) section per firmware layout: where the premises settings go in uci, and the
 * wwan network and firewall zone they need. Reads with `uci -X show`, writes one value per `uci set`
 * into the transaction's private delta (nothing is committed here).
 */
#ifndef FB_APPLY_LAYOUT_H
#define FB_APPLY_LAYOUT_H

#include "apply.h"
#include "uci_cli.h"

#define FB_STA_NETWORK "wwan" /* the network the station is on, in both layouts */
#define FB_UCI_NAME_MAX 64

/* What a station section needs to be written into. */
struct fb_station {
    enum fb_layout layout;         /* OMEGA2 or GENERIC (AUTO is decided by fb_station_find) */
    char sec[FB_UCI_NAME_MAX];     /* uci section name (named, or cfgXXXXXX from `uci -X show`) */
    char device[FB_UCI_NAME_MAX];  /* radio the section is on, or the first wifi-device */
    char ifname[32];               /* from uci (Omega2) or from network.wireless status */
    int exists;                    /* section already present */
    unsigned present;              /* options already present (private bits of apply_layout.c) */
};

/* The station's settings as uci values; "" or NULL = option removed. */
struct fb_sta_values {
    const char *ssid, *encryption, *key, *bssid;
    const char *eap_type, *identity, *password, *ca_path;
};

/*
 * Decides the layout (AUTO: a wifi-iface named "client" means Omega2, else generic) and finds the
 * station section, or plans a new one ("client" on Omega2, "fb_sta" elsewhere). 0 or -1.
 */
int fb_station_find(const struct fb_uci *u, enum fb_layout layout, struct fb_station *st);

/* Stages the station settings; Omega2 gets ifname apcli0 and disabled '0', generic drops disabled. 0 or -1. */
int fb_station_write(const struct fb_uci *u, const struct fb_station *st, const struct fb_sta_values *v);

/*
 * Creates network.wwan (dhcp) when missing and puts it into the wan firewall zone; adds to *changed
 * the packages (FB_PKG_NETWORK, FB_PKG_FIREWALL of apply_txn.h) it staged changes in. 0 or -1.
 */
int fb_wwan_ensure(const struct fb_uci *u, unsigned *changed);

#endif
