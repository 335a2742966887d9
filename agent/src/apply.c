/*
 * Applying Wi-Fi settings to uci safely: back up, stage one value per `uci set`, commit, reload,
 * verify the join through ubus, and roll back on failure or after a crash (see apply.h).
 *
 * State directory layout (all 0700/0600, because backups hold Wi-Fi keys):
 *   uci-delta/          private `uci -t` delta directory
 *   backup/<pkg>        `uci export` of wireless, network, firewall taken before an apply or reset
 *   applying            marker: present from before the first change until the outcome is settled
 *   prov-backup/<pkg>   the configuration from before the first successful premises apply
 *                       (used by reset when no provisioning network is configured)
 */
#include "apply.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "proc.h"
#include "uci_cli.h"

#define MARKER_NAME "applying"
#define MARKER_MAGIC "fleetbootstrap-applying 1\n"
#define BACKUP_NAME "backup"
#define PROV_NAME "prov-backup"
#define DELTA_NAME "uci-delta"
#define STA_NETWORK "wwan"
#define GENERIC_SECTION "fb_sta"
#define UBUS_OUT_MAX (64 * 1024)
#define JSON_DEPTH 16
#define TOOL_TIMEOUT_MS 60000
#define UBUS_TIMEOUT_MS 10000
#define NAME_MAX_LEN 64

static const char *const k_pkgs[] = {"wireless", "network", "firewall"};
#define N_PKGS (sizeof k_pkgs / sizeof k_pkgs[0])

struct apply_ctx {
    const struct fb_apply_config *cfg;
    struct fb_uci u;
    char delta[PATH_MAX];
    int timeout_s;
    int poll_ms;
    long long reload_mono; /* CLOCK_MONOTONIC ms taken right before the last reload */
    int require_fresh;     /* verify wants a lease from after reload_mono (0: nothing was reloaded) */
};

/* What a station section needs to be written into. */
struct station {
    enum fb_layout layout;
    char sec[NAME_MAX_LEN];    /* uci section name (named, or cfgXXXXXX from `uci -X show`) */
    char device[NAME_MAX_LEN]; /* radio the section is on, or the first wifi-device */
    char ifname[32];           /* from uci (Omega2) or from network.wireless status */
    int exists;                /* section already present */
    unsigned present;          /* options already present (OPT_* bits) */
};

enum { OPT_KEY = 1, OPT_BSSID = 2, OPT_EAP = 4, OPT_IDENTITY = 8, OPT_PASSWORD = 16, OPT_CA = 32, OPT_DISABLED = 64 };

static long long mono_ms(void);

static void logmsg(const char *what, const char *detail)
{
    fprintf(stderr, "omega-agent: apply: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
}

/* ------------------------------------------------------------------ files */

static int join_path(char *out, size_t cap, const char *a, const char *b, const char *c)
{
    int n = c ? snprintf(out, cap, "%s/%s/%s", a, b, c) : snprintf(out, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return -1;
        return 0;
    }
    return -1;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

/* write to dir/.name.tmp, fsync, rename to dir/name, fsync dir; mode 0600 */
static int write_atomic(const char *dir, const char *name, const char *data, size_t len)
{
    char tmp[PATH_MAX], dst[PATH_MAX], tname[NAME_MAX_LEN + 8];
    int n = snprintf(tname, sizeof tname, ".%s.tmp", name);
    if (n < 0 || (size_t)n >= sizeof tname)
        return -1;
    if (join_path(tmp, sizeof tmp, dir, tname, NULL) != 0 || join_path(dst, sizeof dst, dir, name, NULL) != 0)
        return -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            (void)close(fd);
            (void)unlink(tmp);
            return -1;
        }
        off += (size_t)w;
    }
    if (fchmod(fd, 0600) != 0 || fsync(fd) != 0) {
        (void)close(fd);
        (void)unlink(tmp);
        return -1;
    }
    if (close(fd) != 0 || rename(tmp, dst) != 0) {
        (void)unlink(tmp);
        return -1;
    }
    return fsync_dir(dir);
}

static int read_small(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    size_t off = 0;
    for (;;) {
        ssize_t r = read(fd, buf + off, cap - 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            (void)close(fd);
            return -1;
        }
        if (r == 0)
            break;
        off += (size_t)r;
        if (off >= cap - 1) {
            (void)close(fd);
            return -1;
        }
    }
    (void)close(fd);
    buf[off] = '\0';
    *len = off;
    return 0;
}

static int remove_file(const char *dir, const char *name)
{
    char p[PATH_MAX];
    if (join_path(p, sizeof p, dir, name, NULL) != 0)
        return -1;
    if (unlink(p) != 0 && errno != ENOENT)
        return -1;
    return 0;
}

/* ------------------------------------------------------------------ context */

static int ctx_init(struct apply_ctx *c, const struct fb_apply_config *cfg)
{
    memset(c, 0, sizeof *c);
    if (!cfg || !cfg->state_dir || !cfg->uci_path || !cfg->wifi_path || !cfg->ubus_path)
        return -1;
    c->cfg = cfg;
    c->timeout_s = cfg->verify_timeout_s > 0 ? cfg->verify_timeout_s : 60;
    c->poll_ms = cfg->poll_interval_ms > 0 ? cfg->poll_interval_ms : 1000;
    if (ensure_dir(cfg->state_dir) != 0 || join_path(c->delta, sizeof c->delta, cfg->state_dir, DELTA_NAME, NULL) != 0 ||
        ensure_dir(c->delta) != 0) {
        logmsg("cannot prepare the state directory", cfg->state_dir);
        return -1;
    }
    c->require_fresh = 1;
    c->u.uci_path = cfg->uci_path;
    c->u.confdir = cfg->uci_confdir;
    c->u.savedir = c->delta;
    return 0;
}

/* Drops everything staged in our private delta directory. */
static int clear_delta(struct apply_ctx *c)
{
    for (size_t i = 0; i < N_PKGS; i++)
        if (remove_file(c->delta, k_pkgs[i]) != 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------------ backup, marker, restore */

/* Exports every package into state_dir/<dirname>/<pkg>; returns the bitmask of packages saved, -1 on error. */
static int backup_to(struct apply_ctx *c, const char *dirname)
{
    char dir[PATH_MAX];
    int mask = 0;
    if (join_path(dir, sizeof dir, c->cfg->state_dir, dirname, NULL) != 0 || ensure_dir(dir) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++) {
        char *data = NULL;
        size_t len = 0;
        int rc = fb_uci_export(&c->u, k_pkgs[i], &data, &len);
        if (rc == 1) {
            if (remove_file(dir, k_pkgs[i]) != 0)
                return -1;
            continue; /* package not present on this device */
        }
        if (rc != 0)
            return -1;
        rc = write_atomic(dir, k_pkgs[i], data, len);
        OPENSSL_cleanse(data, len);
        free(data);
        if (rc != 0)
            return -1;
        mask |= 1 << i;
    }
    return mask;
}

static int write_marker(struct apply_ctx *c, int mask)
{
    char buf[256];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", MARKER_MAGIC);
    for (size_t i = 0; i < N_PKGS; i++) {
        if (!(mask & (1 << i)))
            continue;
        int w = snprintf(buf + n, sizeof buf - n, "%s\n", k_pkgs[i]);
        if (w < 0 || (size_t)w >= sizeof buf - n)
            return -1;
        n += (size_t)w;
    }
    return write_atomic(c->cfg->state_dir, MARKER_NAME, buf, n);
}

/* 1 with *mask when a marker is present, 0 when not, -1 when unreadable. */
static int read_marker(struct apply_ctx *c, int *mask)
{
    char path[PATH_MAX], buf[512];
    size_t len = 0;
    if (join_path(path, sizeof path, c->cfg->state_dir, MARKER_NAME, NULL) != 0)
        return -1;
    int rc = read_small(path, buf, sizeof buf, &len);
    if (rc != 0)
        return rc == 1 ? 0 : -1;
    *mask = 0;
    if (strncmp(buf, MARKER_MAGIC, strlen(MARKER_MAGIC)) != 0) {
        /* a torn or foreign marker: restore whatever backup there is */
        *mask = (1 << N_PKGS) - 1;
        return 1;
    }
    for (char *line = buf + strlen(MARKER_MAGIC); *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        for (size_t i = 0; i < N_PKGS; i++)
            if (strcmp(line, k_pkgs[i]) == 0)
                *mask |= 1 << i;
        if (!nl)
            break;
        line = nl + 1;
    }
    return 1;
}

/*
 * uci commit/import fsync the new file and rename it over the old one, but not the directory:
 * without this the rename may not survive a power cut (UBIFS, ext4) while the marker removal does.
 */
static int sync_confdir(struct apply_ctx *c)
{
    const char *dir = c->cfg->uci_confdir ? c->cfg->uci_confdir : "/etc/config";
    if (fsync_dir(dir) != 0) {
        logmsg("cannot fsync the uci config directory", dir);
        return -1;
    }
    return 0;
}

static int clear_marker_once(struct apply_ctx *c)
{
    if (remove_file(c->cfg->state_dir, MARKER_NAME) != 0)
        return -1;
    return fsync_dir(c->cfg->state_dir);
}

/* Removes the marker durably; tries twice. Failure means the outcome is not settled. */
static int clear_marker(struct apply_ctx *c)
{
    /* the restored or applied files must be on disk before the marker stops pointing at them */
    if (sync_confdir(c) != 0)
        return -1;
    if (clear_marker_once(c) == 0)
        return 0;
    logmsg("cannot clear the applying marker; trying again", NULL);
    return clear_marker_once(c);
}

static void remove_backup(struct apply_ctx *c, const char *dirname)
{
    char dir[PATH_MAX];
    if (join_path(dir, sizeof dir, c->cfg->state_dir, dirname, NULL) != 0)
        return;
    for (size_t i = 0; i < N_PKGS; i++)
        (void)remove_file(dir, k_pkgs[i]);
    (void)rmdir(dir);
}

static int tool(struct apply_ctx *c, const char *path, const char *a1, const char *a2, const char *a3, const char *a4,
                char *out, size_t cap, size_t *out_len)
{
    char *argv[6];
    struct fb_proc_out res;
    size_t n = 0;
    argv[n++] = (char *)path;
    if (a1)
        argv[n++] = (char *)a1;
    if (a2)
        argv[n++] = (char *)a2;
    if (a3)
        argv[n++] = (char *)a3;
    if (a4)
        argv[n++] = (char *)a4;
    argv[n] = NULL;
    (void)c;
    memset(&res, 0, sizeof res);
    res.out = out;
    res.out_cap = cap;
    if (fb_proc_run(argv, NULL, 0, TOOL_TIMEOUT_MS, &res) != 0)
        return -1;
    if (out_len)
        *out_len = res.out_len;
    if (res.out_truncated)
        return -1;
    return res.exit_code;
}

/*
 * Reloads what changed: the network (`ubus call network reload`), the firewall (the config.change
 * event `reload_config` sends to procd) and Wi-Fi (`wifi reload`, falling back to plain `wifi`).
 */
static int reload(struct apply_ctx *c, int network_changed, int firewall_changed)
{
    c->reload_mono = mono_ms();
    c->require_fresh = 1;
    if (network_changed && tool(c, c->cfg->ubus_path, "call", "network", "reload", NULL, NULL, 0, NULL) != 0)
        logmsg("ubus call network reload failed", NULL);
    if (firewall_changed &&
        tool(c, c->cfg->ubus_path, "call", "service", "event",
             "{\"type\":\"config.change\",\"data\":{\"package\":\"firewall\"}}", NULL, 0, NULL) != 0)
        logmsg("firewall reload event failed", NULL);
    if (tool(c, c->cfg->wifi_path, "reload", NULL, NULL, NULL, NULL, 0, NULL) == 0)
        return 0;
    if (tool(c, c->cfg->wifi_path, NULL, NULL, NULL, NULL, NULL, 0, NULL) == 0)
        return 0;
    logmsg("wifi reload failed", NULL);
    return -1;
}

/* Imports each backed-up package, which replaces the committed file, then reloads. */
static int restore_from(struct apply_ctx *c, const char *dirname, int mask)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc = 0;
    if (join_path(dir, sizeof dir, c->cfg->state_dir, dirname, NULL) != 0)
        return -1;
    if (clear_delta(c) != 0)
        rc = -1;
    for (size_t i = 0; i < N_PKGS; i++) {
        struct stat sb;
        if (!(mask & (1 << i)))
            continue;
        if (join_path(path, sizeof path, dir, k_pkgs[i], NULL) != 0) {
            rc = -1;
            continue;
        }
        if (lstat(path, &sb) != 0 && errno == ENOENT) {
            /* named by the marker (or a torn marker) but never written or lost: restore the rest,
               rather than failing on every start from now on */
            logmsg("no backup for package; left as it is", k_pkgs[i]);
            continue;
        }
        if (fb_uci_import_file(&c->u, k_pkgs[i], path) != 0 || sync_confdir(c) != 0) {
            logmsg("restore failed for package", k_pkgs[i]);
            rc = -1;
        }
    }
    if (reload(c, (mask & 2) != 0, (mask & 4) != 0) != 0)
        rc = -1;
    return rc;
}

/* ------------------------------------------------------------------ reading uci state */

struct wl_scan {
    int n_sections;
    char first_device[NAME_MAX_LEN];
    char cur_sec[NAME_MAX_LEN];
    int cur_is_iface;
    /* per current wifi-iface */
    int cur_sta, cur_wwan;
    char cur_device[NAME_MAX_LEN];
    char cur_ifname[32];
    unsigned cur_present;
    /* result */
    struct station *st;
    int found;
};

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int list_has(char **vals, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        /* an option may hold a space-separated list ('wan wan6') */
        const char *v = vals[i];
        size_t wl = strlen(want);
        while (*v) {
            while (*v == ' ')
                v++;
            const char *e = v;
            while (*e && *e != ' ')
                e++;
            if ((size_t)(e - v) == wl && strncmp(v, want, wl) == 0)
                return 1;
            v = e;
        }
    }
    return 0;
}

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
    struct wl_scan *w = ctx;
    if (!opt) {
        wl_finish(w);
        w->n_sections++;
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
        w->cur_wwan = list_has(vals, nvals, STA_NETWORK);
    else if (strcmp(opt, "device") == 0)
        copy_str(w->cur_device, sizeof w->cur_device, vals[0]);
    else if (strcmp(opt, "ifname") == 0)
        copy_str(w->cur_ifname, sizeof w->cur_ifname, vals[0]);
    else if (strcmp(opt, "key") == 0)
        w->cur_present |= OPT_KEY;
    else if (strcmp(opt, "bssid") == 0)
        w->cur_present |= OPT_BSSID;
    else if (strcmp(opt, "eap_type") == 0)
        w->cur_present |= OPT_EAP;
    else if (strcmp(opt, "identity") == 0)
        w->cur_present |= OPT_IDENTITY;
    else if (strcmp(opt, "password") == 0)
        w->cur_present |= OPT_PASSWORD;
    else if (strcmp(opt, "ca_cert") == 0)
        w->cur_present |= OPT_CA;
    else if (strcmp(opt, "disabled") == 0)
        w->cur_present |= OPT_DISABLED;
    return 0;
}

/* Decides the layout and finds (or plans) the station section. */
static int find_station(struct apply_ctx *c, struct station *st)
{
    struct wl_scan w;
    char type[64];
    memset(st, 0, sizeof *st);
    st->layout = c->cfg->layout;
    if (st->layout == FB_LAYOUT_AUTO) {
        int rc = fb_uci_get(&c->u, "wireless", "client", NULL, type, sizeof type);
        if (rc < 0)
            return -1;
        st->layout = (rc == 0 && strcmp(type, "wifi-iface") == 0) ? FB_LAYOUT_OMEGA2 : FB_LAYOUT_GENERIC;
    }
    memset(&w, 0, sizeof w);
    w.st = st;
    if (fb_uci_show(&c->u, "wireless", wl_cb, &w) != 0) {
        logmsg("cannot read the wireless config", NULL);
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
        logmsg("no wifi-device in the wireless config", NULL);
        return -1;
    }
    return 0;
}

struct fw_scan {
    char cur_sec[NAME_MAX_LEN];
    int cur_zone, cur_is_wan, cur_has, cur_nvals, cur_spaced;
    char wan_sec[NAME_MAX_LEN];
    int found, has_wwan, nvals, spaced;
    char joined[256];
    char cur_joined[256];
};

static void fw_finish(struct fw_scan *f)
{
    if (f->cur_zone && f->cur_is_wan && !f->found) {
        f->found = 1;
        copy_str(f->wan_sec, sizeof f->wan_sec, f->cur_sec);
        f->has_wwan = f->cur_has;
        f->nvals = f->cur_nvals;
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
        f->cur_is_wan = f->cur_has = f->cur_nvals = f->cur_spaced = 0;
        f->cur_joined[0] = '\0';
        return 0;
    }
    if (!f->cur_zone || nvals == 0)
        return 0;
    if (strcmp(opt, "name") == 0)
        f->cur_is_wan = strcmp(vals[0], "wan") == 0;
    else if (strcmp(opt, "network") == 0) {
        f->cur_has = list_has(vals, nvals, STA_NETWORK);
        f->cur_nvals = (int)nvals;
        f->cur_spaced = nvals == 1 && strchr(vals[0], ' ') != NULL;
        copy_str(f->cur_joined, sizeof f->cur_joined, vals[0]);
    }
    return 0;
}

/* Creates network.wwan (dhcp) when missing and puts it into the wan firewall zone. *changed set when so. */
static int ensure_wwan(struct apply_ctx *c, int *net_changed, int *fw_changed)
{
    char type[64];
    int rc = fb_uci_get(&c->u, "network", STA_NETWORK, NULL, type, sizeof type);
    if (rc < 0)
        return -1;
    if (rc == 1) {
        if (fb_uci_set(&c->u, "network", STA_NETWORK, NULL, "interface") != 0 ||
            fb_uci_set(&c->u, "network", STA_NETWORK, "proto", "dhcp") != 0)
            return -1;
        *net_changed = 1;
    }
    struct fw_scan f;
    memset(&f, 0, sizeof f);
    rc = fb_uci_show(&c->u, "firewall", fw_cb, &f);
    if (rc == 1)
        return 0; /* no firewall package on this device */
    if (rc != 0)
        return -1;
    fw_finish(&f);
    if (!f.found) {
        logmsg("no wan firewall zone; " STA_NETWORK " left out of the firewall", NULL);
        return 0;
    }
    if (f.has_wwan)
        return 0;
    if (f.spaced) {
        /* old style: option network 'wan wan6' */
        char v[300];
        int n = snprintf(v, sizeof v, "%s %s", f.joined, STA_NETWORK);
        if (n < 0 || (size_t)n >= sizeof v || fb_uci_set(&c->u, "firewall", f.wan_sec, "network", v) != 0)
            return -1;
    } else if (fb_uci_add_list(&c->u, "firewall", f.wan_sec, "network", STA_NETWORK) != 0) {
        return -1;
    }
    *fw_changed = 1;
    return 0;
}

/* ------------------------------------------------------------------ writing the station */

struct sta_values {
    const char *ssid, *encryption, *key, *bssid;
    const char *eap_type, *identity, *password, *ca_path;
};

static int del_if(struct apply_ctx *c, const struct station *st, unsigned bit, const char *opt)
{
    if (!(st->present & bit))
        return 0;
    return fb_uci_delete(&c->u, "wireless", st->sec, opt);
}

static int write_station(struct apply_ctx *c, const struct station *st, const struct sta_values *v)
{
    const char *sec = st->sec;
    if (!st->exists && fb_uci_set(&c->u, "wireless", sec, NULL, "wifi-iface") != 0)
        return -1;
    if (fb_uci_set(&c->u, "wireless", sec, "device", st->device) != 0 ||
        fb_uci_set(&c->u, "wireless", sec, "mode", "sta") != 0 ||
        fb_uci_set(&c->u, "wireless", sec, "network", STA_NETWORK) != 0)
        return -1;
    if (st->layout == FB_LAYOUT_OMEGA2 && !st->ifname[0] && fb_uci_set(&c->u, "wireless", sec, "ifname", "apcli0") != 0)
        return -1;
    if (fb_uci_set(&c->u, "wireless", sec, "ssid", v->ssid) != 0 ||
        fb_uci_set(&c->u, "wireless", sec, "encryption", v->encryption) != 0)
        return -1;
    if (v->key && *v->key) {
        if (fb_uci_set_secret(&c->u, "wireless", sec, "key", v->key) != 0)
            return -1;
    } else if (del_if(c, st, OPT_KEY, "key") != 0) {
        return -1;
    }
    if (v->bssid && *v->bssid) {
        if (fb_uci_set(&c->u, "wireless", sec, "bssid", v->bssid) != 0)
            return -1;
    } else if (del_if(c, st, OPT_BSSID, "bssid") != 0) {
        return -1;
    }
    if (v->eap_type && *v->eap_type) {
        if (fb_uci_set(&c->u, "wireless", sec, "eap_type", v->eap_type) != 0 ||
            fb_uci_set(&c->u, "wireless", sec, "identity", v->identity) != 0)
            return -1;
    } else if (del_if(c, st, OPT_EAP, "eap_type") != 0 || del_if(c, st, OPT_IDENTITY, "identity") != 0) {
        return -1;
    }
    if (v->password && *v->password) {
        if (fb_uci_set_secret(&c->u, "wireless", sec, "password", v->password) != 0)
            return -1;
    } else if (del_if(c, st, OPT_PASSWORD, "password") != 0) {
        return -1;
    }
    if (v->ca_path && *v->ca_path) {
        if (fb_uci_set(&c->u, "wireless", sec, "ca_cert", v->ca_path) != 0)
            return -1;
    } else if (del_if(c, st, OPT_CA, "ca_cert") != 0) {
        return -1;
    }
    /* enable the station: Omega2 firmware documents disabled '0'; elsewhere the option is dropped */
    if (st->layout == FB_LAYOUT_OMEGA2) {
        if (fb_uci_set(&c->u, "wireless", sec, "disabled", "0") != 0)
            return -1;
    } else if (del_if(c, st, OPT_DISABLED, "disabled") != 0) {
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ verification through ubus */

static long long mono_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long real_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* `ubus call OBJ METHOD [MSG]` parsed with json-c (depth-limited). NULL on any failure. */
static json_object *ubus_call(struct apply_ctx *c, const char *obj, const char *method, const char *msg)
{
    char *buf = malloc(UBUS_OUT_MAX);
    size_t len = 0;
    json_object *j = NULL;
    if (!buf)
        return NULL;
    /* -t 5: ubus's own timeout for the object's answer, so one stuck poll cannot eat the verify window */
    char *argv[] = {(char *)c->cfg->ubus_path, (char *)"-t", (char *)"5", (char *)"call", (char *)obj,
                    (char *)method, (char *)msg, NULL};
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    res.out = buf;
    res.out_cap = UBUS_OUT_MAX;
    int rc = fb_proc_run(argv, NULL, 0, UBUS_TIMEOUT_MS, &res) == 0 && !res.out_truncated ? res.exit_code : -1;
    len = res.out_len;
    if (rc == 0 && len > 0) {
        struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
        if (tok) {
            j = json_tokener_parse_ex(tok, buf, (int)len);
            if (json_tokener_get_error(tok) != json_tokener_success || !json_object_is_type(j, json_type_object)) {
                if (j)
                    json_object_put(j);
                j = NULL;
            }
            json_tokener_free(tok);
        }
    }
    OPENSSL_cleanse(buf, UBUS_OUT_MAX);
    free(buf);
    return j;
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
 * (*seen_down, sticky) or its "uptime" (seconds) is not longer than the time since the reload.
 */
static int iface_fresh_address(struct apply_ctx *c, int *seen_down)
{
    json_object *j = ubus_call(c, "network.interface." STA_NETWORK, "status", NULL);
    json_object *up, *addrs, *upt;
    int ok = 0;
    if (!j)
        return 0;
    if (!json_object_object_get_ex(j, "up", &up) || !json_object_get_boolean(up)) {
        *seen_down = 1;
        json_object_put(j);
        return 0;
    }
    int fresh = *seen_down || !c->require_fresh;
    if (!fresh && json_object_object_get_ex(j, "uptime", &upt) && json_object_is_type(upt, json_type_int)) {
        long long up_s = (long long)json_object_get_int64(upt);
        fresh = up_s >= 0 && up_s * 1000 <= mono_ms() - c->reload_mono;
    }
    if (fresh && json_object_object_get_ex(j, "ipv4-address", &addrs) && json_object_is_type(addrs, json_type_array)) {
        size_t n = json_object_array_length(addrs);
        for (size_t i = 0; i < n && !ok; i++) {
            const char *a = jstr(json_object_array_get_idx(addrs, i), "address");
            ok = a && *a;
        }
    }
    json_object_put(j);
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
        return list_has(&v, 1, STA_NETWORK);
    }
    if (!json_object_is_type(net, json_type_array))
        return 0;
    size_t n = json_object_array_length(net);
    for (size_t i = 0; i < n; i++) {
        json_object *x = json_object_array_get_idx(net, i);
        if (json_object_is_type(x, json_type_string) && strcmp(json_object_get_string(x), STA_NETWORK) == 0)
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
static void find_ifname(struct apply_ctx *c, struct station *st)
{
    json_object *j = ubus_call(c, "network.wireless", "status", NULL);
    int by_name = 0;
    if (!j)
        return;
    json_object_object_foreach(j, radio, rv)
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
            if (!s || !ifn || !ifn[0] || strlen(ifn) >= sizeof st->ifname)
                continue;
            if (strcmp(s, st->sec) == 0) {
                copy_str(st->ifname, sizeof st->ifname, ifn);
                by_name = 1;
            } else if (!st->ifname[0] && status_entry_is_wwan_sta(e)) {
                copy_str(st->ifname, sizeof st->ifname, ifn);
            }
        }
    }
    json_object_put(j);
}

static int device_msg(char *msg, size_t cap, const char *ifname)
{
    /* interface names are [A-Za-z0-9._-]; anything else is refused rather than escaped */
    for (const char *p = ifname; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
              *p == '_' || *p == '-'))
            return -1;
    int n = snprintf(msg, cap, "{\"device\":\"%s\"}", ifname);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

/*
 * iwinfo info: 1 when associated to our SSID (non-zero bssid, ssid ours when reported), 0 when not
 * (or to another network), -1 when the driver gives no answer to judge by.
 */
static int station_associated(struct apply_ctx *c, const char *ifname, const char *ssid)
{
    char msg[96];
    if (!ifname[0] || device_msg(msg, sizeof msg, ifname) != 0)
        return -1;
    json_object *j = ubus_call(c, "iwinfo", "info", msg);
    if (!j)
        return -1;
    const char *bssid = jstr(j, "bssid");
    const char *s = jstr(j, "ssid");
    int ok = bssid && *bssid && strcmp(bssid, "00:00:00:00:00:00") != 0 && (!s || strcmp(s, ssid) == 0);
    json_object_put(j);
    return ok;
}

/* iwinfo scan: 1 seen, 0 not seen, -1 no scan result to judge by. */
static int ssid_visible(struct apply_ctx *c, const char *ifname, const char *ssid)
{
    char msg[96];
    json_object *res;
    int seen = -1;
    if (!ifname[0] || device_msg(msg, sizeof msg, ifname) != 0)
        return -1;
    json_object *j = ubus_call(c, "iwinfo", "scan", msg);
    if (!j)
        return -1;
    if (json_object_object_get_ex(j, "results", &res) && json_object_is_type(res, json_type_array)) {
        size_t n = json_object_array_length(res);
        seen = 0;
        for (size_t i = 0; i < n; i++) {
            const char *s = jstr(json_object_array_get_idx(res, i), "ssid");
            if (s && strcmp(s, ssid) == 0)
                seen = 1;
        }
    }
    json_object_put(j);
    return seen;
}

/*
 * logd (`ubus call log read`): wpa_supplicant reports a rejected key as "4-Way Handshake failed -
 * pre-shared key may be incorrect" or "CTRL-EVENT-SSID-TEMP-DISABLED ... reason=WRONG_KEY".
 */
static int wrong_key_logged(struct apply_ctx *c, const char *ifname, long long since_ms)
{
    json_object *j = ubus_call(c, "log", "read", "{\"lines\":100,\"stream\":false,\"oneshot\":true}");
    json_object *arr;
    int found = 0;
    char tag[48];
    int n = snprintf(tag, sizeof tag, "%s: ", ifname);
    if (!j)
        return 0;
    if (n > 0 && (size_t)n < sizeof tag && ifname[0] && json_object_object_get_ex(j, "log", &arr) &&
        json_object_is_type(arr, json_type_array)) {
        size_t len = json_object_array_length(arr);
        for (size_t i = 0; i < len && !found; i++) {
            json_object *e = json_object_array_get_idx(arr, i), *t;
            const char *m = jstr(e, "msg");
            if (!m || !json_object_object_get_ex(e, "time", &t) || json_object_get_int64(t) < since_ms)
                continue;
            if (strstr(m, tag) &&
                (strstr(m, "pre-shared key may be incorrect") || strstr(m, "reason=WRONG_KEY")))
                found = 1;
        }
    }
    json_object_put(j);
    return found;
}

/*
 * Polls until the station has a NEW address (see iface_fresh_address) while not known to be
 * unassociated, or the timeout passes; returns the reason (NONE = joined). c->reload_mono is the
 * reload this verifies. associated == -1 (no iwinfo object, interface being recreated, ifname
 * unknown) is accepted only together with a fresh lease.
 */
static enum fb_reason verify(struct apply_ctx *c, struct station *st, const char *ssid, long long since)
{
    long long deadline = mono_ms() + (long long)c->timeout_s * 1000;
    int associated = -1, seen_down = 0;
    for (;;) {
        if (!st->ifname[0])
            find_ifname(c, st);
        associated = station_associated(c, st->ifname, ssid);
        if (associated != 0 && iface_fresh_address(c, &seen_down))
            return FB_REASON_NONE;
        if (associated != 1 && wrong_key_logged(c, st->ifname, since))
            return FB_REASON_AUTH_FAILED;
        if (mono_ms() >= deadline)
            break;
        sleep_ms(c->poll_ms);
    }
    if (associated == 1)
        return FB_REASON_NO_ADDRESS;
    if (ssid_visible(c, st->ifname, ssid) == 0)
        return FB_REASON_NETWORK_NOT_FOUND;
    return FB_REASON_TIMEOUT;
}

/* After a restore: is the station (back) on its network? Logged, never changes the reported reason. */
static void confirm_restored(struct apply_ctx *c, long long since)
{
    struct station st;
    char ssid[FB_SSID_MAX * 4 + 1];
    if (find_station(c, &st) != 0 || !st.exists ||
        fb_uci_get(&c->u, "wireless", st.sec, "ssid", ssid, sizeof ssid) != 0) {
        logmsg("restored; no station configured to confirm", NULL);
        return;
    }
    /*
     * Only logged, so the current lease is accepted: when the restored settings equal the running
     * ones (crash before the reload), netifd restarts nothing and no new lease would ever come.
     */
    c->require_fresh = 0;
    enum fb_reason r = verify(c, &st, ssid, since);
    if (r == FB_REASON_NONE)
        logmsg("restored; provisioning network is back", NULL);
    else
        logmsg("restored, but the previous network did not come back", fb_reason_name(r));
}

/* ------------------------------------------------------------------ validation */

static int in_list(const char *v, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(v, *list) == 0)
            return 1;
    return 0;
}

static int valid_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

static int profile_ok(const struct fb_wifi_profile *p)
{
    static const char *const encs[] = {"none", "owe", "psk", "psk2", "psk-mixed", "sae", "sae-mixed", "wpa2", "wpa3", NULL};
    static const char *const keyed[] = {"psk", "psk2", "psk-mixed", "sae", "sae-mixed", NULL};
    static const char *const eap[] = {"wpa2", "wpa3", NULL};
    if (!p || p->ssid_len == 0 || p->ssid_len > FB_SSID_MAX || strnlen(p->ssid, FB_SSID_MAX + 1) != p->ssid_len ||
        !valid_text(p->ssid, FB_SSID_MAX))
        return 0;
    if (!in_list(p->encryption, encs))
        return 0;
    if (in_list(p->encryption, keyed)) {
        size_t n = strnlen(p->key, FB_KEY_MAX + 1);
        if (n < 8 || n > 64)
            return 0;
        for (size_t i = 0; i < n; i++)
            if (p->key[i] < 0x20 || p->key[i] > 0x7e)
                return 0;
    } else if (p->key[0]) {
        return 0;
    }
    if (in_list(p->encryption, eap)) {
        if (!valid_text(p->eap_type, sizeof p->eap_type - 1) || !valid_text(p->identity, FB_EAP_FIELD_MAX))
            return 0;
        if (p->password[0] && !valid_text(p->password, FB_EAP_FIELD_MAX))
            return 0;
    }
    if (p->bssid[0] && strnlen(p->bssid, sizeof p->bssid) != 17)
        return 0;
    return 1;
}

/* ------------------------------------------------------------------ the three entry points */

int fb_apply_recover(const struct fb_apply_config *cfg)
{
    struct apply_ctx c;
    int mask = 0;
    if (ctx_init(&c, cfg) != 0)
        return -1;
    int rc = read_marker(&c, &mask);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        /* a backup without a marker means nothing was changed yet: just drop it */
        remove_backup(&c, BACKUP_NAME);
        (void)clear_delta(&c);
        return 0;
    }
    logmsg("interrupted apply found; restoring the backup", NULL);
    long long since = real_ms() - 1000;
    if (restore_from(&c, BACKUP_NAME, mask) != 0)
        return -1;
    confirm_restored(&c, since);
    if (clear_marker(&c) != 0)
        return -1;
    remove_backup(&c, BACKUP_NAME);
    return 1;
}

/* Backup + marker; on any error nothing has been changed. Returns the package mask or -1. */
static int begin(struct apply_ctx *c)
{
    if (fb_apply_recover(c->cfg) < 0)
        return -1;
    if (clear_delta(c) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++) {
        int rc = fb_uci_has_changes(&c->u, k_pkgs[i]);
        if (rc != 0) {
            logmsg(rc > 0 ? "another uci caller has staged changes; not applying" : "uci changes failed", k_pkgs[i]);
            return -1;
        }
    }
    int mask = backup_to(c, BACKUP_NAME);
    if (mask < 0 || !(mask & 1)) {
        logmsg("backup failed", NULL);
        return -1;
    }
    if (write_marker(c, mask) != 0) {
        logmsg("cannot write the applying marker", NULL);
        return -1;
    }
    return mask;
}

/* Failure after begin(): restore, confirm, settle. */
static void roll_back(struct apply_ctx *c, int mask)
{
    long long since = real_ms() - 1000;
    if (restore_from(c, BACKUP_NAME, mask) != 0) {
        logmsg("rollback incomplete; the marker stays for the next start", NULL);
        return;
    }
    confirm_restored(c, since);
    if (clear_marker(c) == 0)
        remove_backup(c, BACKUP_NAME);
}

/*
 * Has another uci caller staged changes (in the shared delta directory) since begin()? `uci commit`
 * would commit them along with ours. Asked with an empty private delta directory, so only theirs show.
 */
static int others_staged(struct apply_ctx *c, int mask)
{
    char dir[PATH_MAX];
    struct fb_uci u2 = c->u;
    if (join_path(dir, sizeof dir, c->cfg->state_dir, "uci-check", NULL) != 0 || ensure_dir(dir) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++)
        if (remove_file(dir, k_pkgs[i]) != 0)
            return -1;
    u2.savedir = dir;
    for (size_t i = 0; i < N_PKGS; i++) {
        if (!(mask & (1 << i)))
            continue;
        int rc = fb_uci_has_changes(&u2, k_pkgs[i]);
        if (rc != 0) {
            logmsg(rc > 0 ? "another uci caller staged changes meanwhile; not committing" : "uci changes failed",
                   k_pkgs[i]);
            return -1;
        }
    }
    return 0;
}

/* 1 when the staged wireless package equals its backup (the committed one) byte for byte, 0 if not, -1 on error. */
static int staged_equals_backup(struct apply_ctx *c)
{
    char path[PATH_MAX];
    char *now = NULL, *before = NULL;
    size_t now_len = 0, before_len = 0;
    int same = -1;
    if (join_path(path, sizeof path, c->cfg->state_dir, BACKUP_NAME, k_pkgs[0]) != 0 ||
        fb_uci_export(&c->u, k_pkgs[0], &now, &now_len) != 0)
        return -1;
    before = malloc(now_len + 2);
    if (before) {
        int rc = read_small(path, before, now_len + 2, &before_len);
        same = rc == 0 && before_len == now_len && memcmp(before, now, now_len) == 0;
        OPENSSL_cleanse(before, now_len + 2);
        free(before);
    }
    OPENSSL_cleanse(now, now_len);
    free(now);
    return same;
}

static int commit_all(struct apply_ctx *c, int mask, int net_changed, int fw_changed)
{
    if (others_staged(c, mask) != 0)
        return -1;
    if (fb_uci_commit(&c->u, "wireless") != 0 || sync_confdir(c) != 0)
        return -1;
    if (net_changed && (mask & 2) && (fb_uci_commit(&c->u, "network") != 0 || sync_confdir(c) != 0))
        return -1;
    if (fw_changed && (mask & 4) && (fb_uci_commit(&c->u, "firewall") != 0 || sync_confdir(c) != 0))
        return -1;
    return 0;
}

/* Stages, commits, reloads, verifies; on failure rolls back. Shared by apply and reset. */
static int apply_values(struct apply_ctx *c, int mask, const struct sta_values *v, enum fb_reason *reason)
{
    struct station st;
    int net_changed = 0, fw_changed = 0;
    enum fb_reason r = FB_REASON_APPLY_ERROR;

    if (find_station(c, &st) != 0 || ensure_wwan(c, &net_changed, &fw_changed) != 0 || write_station(c, &st, v) != 0) {
        logmsg("writing the station settings failed; rolling back", NULL);
        goto fail;
    }
    /* log lines older than this reload belong to an earlier attempt */
    long long since = real_ms() - 1000;
    int same = !net_changed && !fw_changed ? staged_equals_backup(c) : 0;
    if (same < 0)
        goto fail;
    if (same) {
        /*
         * The settings are already the committed ones: nothing to commit, and a reload would restart
         * nothing (netifd keeps an unchanged station), so the current lease is the proof.
         */
        if (clear_delta(c) != 0)
            goto fail;
        c->require_fresh = 0;
    } else if (commit_all(c, mask, net_changed, fw_changed) != 0) {
        logmsg("writing the station settings failed; rolling back", NULL);
        goto fail;
    } else if (reload(c, net_changed, fw_changed) != 0) {
        goto fail;
    }
    r = verify(c, &st, v->ssid, since);
    if (r == FB_REASON_NONE) {
        if (clear_marker(c) == 0) {
            *reason = FB_REASON_NONE;
            return 0;
        }
        /* the next start would roll back what we reported as applied: undo it now instead */
        logmsg("cannot clear the applying marker; rolling back", NULL);
        r = FB_REASON_APPLY_ERROR;
        goto fail;
    }
    logmsg("join failed; rolling back", fb_reason_name(r));
fail:
    *reason = r;
    roll_back(c, mask);
    return -1;
}

#define CA_PREFIX "premises-ca-"
#define CA_SUFFIX ".pem"

/*
 * The CA certificate goes to a content-addressed file, premises-ca-<first 16 hex of SHA-256>.pem,
 * so the file the current (backed-up) configuration points to is never overwritten by an apply
 * that may be rolled back. *created is set when the file did not exist before.
 */
static int write_ca(struct apply_ctx *c, const char *pem, char *path, size_t cap, char *name, size_t name_cap,
                    int *created)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    struct stat sb;
    size_t len = strlen(pem);
    if (EVP_Digest(pem, len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len < 8)
        return -1;
    int n = snprintf(name, name_cap, CA_PREFIX "%02x%02x%02x%02x%02x%02x%02x%02x" CA_SUFFIX, md[0], md[1], md[2],
                     md[3], md[4], md[5], md[6], md[7]);
    if (n < 0 || (size_t)n >= name_cap || join_path(path, cap, c->cfg->state_dir, name, NULL) != 0)
        return -1;
    *created = lstat(path, &sb) != 0;
    return write_atomic(c->cfg->state_dir, name, pem, len);
}

/* Removes premises CA files (new and old naming) except `keep` (NULL: all). */
static void remove_cas(struct apply_ctx *c, const char *keep)
{
    DIR *d = opendir(c->cfg->state_dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        int ours = strcmp(e->d_name, "premises-ca.pem") == 0 ||
                   (strncmp(e->d_name, CA_PREFIX, strlen(CA_PREFIX)) == 0 && l > strlen(CA_SUFFIX) &&
                    strcmp(e->d_name + l - strlen(CA_SUFFIX), CA_SUFFIX) == 0);
        if (ours && (!keep || strcmp(e->d_name, keep) != 0))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    (void)closedir(d);
    (void)fsync_dir(c->cfg->state_dir);
}

int fb_apply_wifi(const struct fb_apply_config *cfg, const struct fb_wifi_profile *p, enum fb_reason *reason)
{
    struct apply_ctx c;
    char ca_path[PATH_MAX] = "", ca_name[NAME_MAX_LEN] = "";
    int ca_created = 0;
    struct sta_values v;
    enum fb_reason dummy;
    if (!reason)
        reason = &dummy;
    *reason = FB_REASON_APPLY_ERROR;
    if (!profile_ok(p)) {
        *reason = FB_REASON_INVALID_PROFILE;
        return -1;
    }
    if (ctx_init(&c, cfg) != 0)
        return -1;
    int mask = begin(&c);
    if (mask < 0)
        return -1;
    if (p->ca_cert[0] &&
        write_ca(&c, p->ca_cert, ca_path, sizeof ca_path, ca_name, sizeof ca_name, &ca_created) != 0) {
        roll_back(&c, mask);
        return -1;
    }
    v.ssid = p->ssid;
    v.encryption = p->encryption;
    v.key = p->key;
    v.bssid = p->bssid;
    v.eap_type = p->eap_type;
    v.identity = p->identity;
    v.password = p->password;
    v.ca_path = ca_path;
    if (apply_values(&c, mask, &v, reason) != 0) {
        /* the restored configuration points to its own CA file (if any), never to this one */
        if (ca_created)
            (void)remove_file(cfg->state_dir, ca_name);
        return -1;
    }
    /* only now are CA files of earlier configurations unused (none when this one has no CA) */
    remove_cas(&c, ca_name[0] ? ca_name : NULL);
    /* keep the configuration from before the first premises apply, for a reset without prov_* */
    char prov[PATH_MAX], bak[PATH_MAX];
    struct stat sb;
    if (join_path(prov, sizeof prov, cfg->state_dir, PROV_NAME, NULL) == 0 &&
        join_path(bak, sizeof bak, cfg->state_dir, BACKUP_NAME, NULL) == 0) {
        if (stat(prov, &sb) != 0 && errno == ENOENT && rename(bak, prov) == 0)
            (void)fsync_dir(cfg->state_dir);
        else
            remove_backup(&c, BACKUP_NAME);
    }
    return 0;
}

int fb_apply_reset(const struct fb_apply_config *cfg, enum fb_reason *reason)
{
    struct apply_ctx c;
    enum fb_reason dummy;
    if (!reason)
        reason = &dummy;
    *reason = FB_REASON_APPLY_ERROR;
    if (ctx_init(&c, cfg) != 0)
        return -1;
    int mask = begin(&c);
    if (mask < 0)
        return -1;
    if (!cfg->prov_ssid) {
        /* no provisioning network configured: go back to what the device had before the premises */
        char prov[PATH_MAX], path[PATH_MAX];
        int pmask = 0;
        if (join_path(prov, sizeof prov, cfg->state_dir, PROV_NAME, NULL) != 0)
            goto fail;
        for (size_t i = 0; i < N_PKGS; i++)
            if (join_path(path, sizeof path, prov, k_pkgs[i], NULL) == 0 && access(path, R_OK) == 0)
                pmask |= 1 << i;
        if (!(pmask & 1)) {
            logmsg("reset: no provisioning network configured and no earlier configuration kept", NULL);
            goto fail;
        }
        long long since = real_ms() - 1000;
        if (restore_from(&c, PROV_NAME, pmask) != 0)
            goto fail;
        struct station st;
        char ssid[FB_SSID_MAX * 4 + 1];
        if (find_station(&c, &st) != 0 || fb_uci_get(&c.u, "wireless", st.sec, "ssid", ssid, sizeof ssid) != 0)
            goto fail;
        *reason = verify(&c, &st, ssid, since);
        if (*reason != FB_REASON_NONE) {
            roll_back(&c, mask);
            return -1;
        }
        if (clear_marker(&c) != 0) {
            logmsg("cannot clear the applying marker; rolling back", NULL);
            *reason = FB_REASON_APPLY_ERROR;
            roll_back(&c, mask);
            return -1;
        }
        remove_backup(&c, BACKUP_NAME);
        remove_backup(&c, PROV_NAME);
        remove_cas(&c, NULL);
        return 0;
    }
    struct fb_wifi_profile prov;
    memset(&prov, 0, sizeof prov);
    copy_str(prov.ssid, sizeof prov.ssid, cfg->prov_ssid);
    prov.ssid_len = strlen(prov.ssid);
    copy_str(prov.encryption, sizeof prov.encryption, cfg->prov_encryption ? cfg->prov_encryption
                                                                             : (cfg->prov_key ? "psk2" : "none"));
    if (cfg->prov_key)
        copy_str(prov.key, sizeof prov.key, cfg->prov_key);
    if (!profile_ok(&prov)) {
        OPENSSL_cleanse(&prov, sizeof prov);
        logmsg("reset: the provisioning network settings are invalid", NULL);
        goto fail;
    }
    struct sta_values v = {prov.ssid, prov.encryption, prov.key, "", "", "", "", ""};
    int rc = apply_values(&c, mask, &v, reason);
    OPENSSL_cleanse(&prov, sizeof prov);
    if (rc == 0) {
        remove_backup(&c, BACKUP_NAME);
        remove_backup(&c, PROV_NAME);
        remove_cas(&c, NULL);
    }
    return rc;
fail:
    roll_back(&c, mask);
    return -1;
}
