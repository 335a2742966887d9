/* The apply transaction (see apply_txn.h): backup, "applying" marker, restore, commit, settle. */
#include "apply_txn.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fsutil.h"
#include "log.h"

#define MARKER_NAME "applying"
#define MARKER_MAGIC "fleetbootstrap-applying 1\n"
#define CHECK_NAME "uci-check"
#define DELTA_NAME "uci-delta"
#define VIEW_NAME "uci-view" /* private config dir: the committed packages, for comparison */
#define VIEW_PKG "omega_agent_view"

/* Package names by bit: k_pkgs[i] is the package of bit 1 << i (enum fb_pkg). */
static const char *const k_pkgs[] = {"wireless", "network", "firewall"};
#define N_PKGS (sizeof k_pkgs / sizeof k_pkgs[0])

static int pkg_in(unsigned pkgs, size_t i) { return (pkgs & (1u << i)) != 0; }

int fb_txn_open(struct fb_txn *t, const char *state_dir, const char *uci_path, const char *uci_confdir,
                const char *uci_conf2dir)
{
    memset(t, 0, sizeof *t);
    t->state_dir = state_dir;
    t->confdir = uci_confdir ? uci_confdir : "/etc/config";
    t->conf2dir = uci_conf2dir ? uci_conf2dir : FB_UCI_CONF2DIR;
    if (fb_ensure_dir(state_dir) != 0 || fb_path_join(t->delta, sizeof t->delta, state_dir, DELTA_NAME) != 0 ||
        fb_ensure_dir(t->delta) != 0) {
        fb_err("apply: cannot prepare the state directory %s", state_dir);
        return -1;
    }
    t->u.uci_path = uci_path;
    t->u.confdir = uci_confdir;
    t->u.savedir = t->delta;
    return 0;
}

int fb_txn_clear_delta(struct fb_txn *t)
{
    for (size_t i = 0; i < N_PKGS; i++)
        if (fb_remove_file(t->delta, k_pkgs[i]) != 0)
            return -1;
    return 0;
}

/* Exports every package into state_dir/<dirname>/<pkg>; returns the set of packages saved, -1 on error. */
static int backup_to(struct fb_txn *t, const char *dirname)
{
    char dir[PATH_MAX], path[PATH_MAX];
    unsigned pkgs = 0;
    if (fb_path_join(dir, sizeof dir, t->state_dir, dirname) != 0 || fb_ensure_dir(dir) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++) {
        char *data = NULL;
        size_t len = 0;
        int rc = fb_uci_export(&t->u, k_pkgs[i], &data, &len);
        if (rc == 1) {
            if (fb_remove_file(dir, k_pkgs[i]) != 0)
                return -1;
            continue; /* package not present on this device */
        }
        if (rc != 0 || fb_path_join(path, sizeof path, dir, k_pkgs[i]) != 0) {
            if (rc == 0) {
                OPENSSL_cleanse(data, len);
                free(data);
            }
            return -1;
        }
        rc = fb_write_file_atomic(path, data, len, 0600);
        OPENSSL_cleanse(data, len);
        free(data);
        if (rc != 0)
            return -1;
        pkgs |= 1u << i;
    }
    return (int)pkgs;
}

static int write_marker(struct fb_txn *t, unsigned pkgs)
{
    char buf[256], path[PATH_MAX];
    size_t n = (size_t)snprintf(buf, sizeof buf, "%s", MARKER_MAGIC);
    for (size_t i = 0; i < N_PKGS; i++) {
        if (!pkg_in(pkgs, i))
            continue;
        int w = snprintf(buf + n, sizeof buf - n, "%s\n", k_pkgs[i]);
        if (w < 0 || (size_t)w >= sizeof buf - n)
            return -1;
        n += (size_t)w;
    }
    if (fb_path_join(path, sizeof path, t->state_dir, MARKER_NAME) != 0)
        return -1;
    return fb_write_file_atomic(path, buf, n, 0600);
}

int fb_txn_read_marker(struct fb_txn *t, unsigned *pkgs)
{
    char path[PATH_MAX], buf[512];
    size_t len = 0;
    if (fb_path_join(path, sizeof path, t->state_dir, MARKER_NAME) != 0)
        return -1;
    int rc = fb_read_file(path, buf, sizeof buf, &len);
    if (rc != 0)
        return rc == 1 ? 0 : -1;
    *pkgs = 0;
    if (strncmp(buf, MARKER_MAGIC, strlen(MARKER_MAGIC)) != 0) {
        /* a torn or foreign marker: restore whatever backup there is */
        *pkgs = FB_PKG_ALL;
        return 1;
    }
    for (char *line = buf + strlen(MARKER_MAGIC); *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        for (size_t i = 0; i < N_PKGS; i++)
            if (strcmp(line, k_pkgs[i]) == 0)
                *pkgs |= 1u << i;
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
static int sync_confdir(struct fb_txn *t)
{
    if (fb_fsync_dir(t->confdir) != 0) {
        fb_err("apply: cannot fsync the uci config directory %s", t->confdir);
        return -1;
    }
    return 0;
}

static int remove_marker(struct fb_txn *t)
{
    if (fb_remove_file(t->state_dir, MARKER_NAME) != 0)
        return -1;
    return fb_fsync_dir(t->state_dir);
}

int fb_txn_settle(struct fb_txn *t)
{
    /* the restored or applied files must be on disk before the marker stops pointing at them */
    if (sync_confdir(t) != 0)
        return -1;
    if (remove_marker(t) == 0)
        return 0;
    fb_warn("apply: cannot clear the applying marker; trying again");
    return remove_marker(t);
}

void fb_txn_drop(struct fb_txn *t, const char *dirname)
{
    char dir[PATH_MAX];
    if (fb_path_join(dir, sizeof dir, t->state_dir, dirname) != 0)
        return;
    for (size_t i = 0; i < N_PKGS; i++)
        (void)fb_remove_file(dir, k_pkgs[i]);
    (void)rmdir(dir);
}

int fb_txn_restore(struct fb_txn *t, const char *dirname, unsigned pkgs)
{
    char dir[PATH_MAX], path[PATH_MAX];
    int rc = 0;
    if (fb_path_join(dir, sizeof dir, t->state_dir, dirname) != 0)
        return -1;
    if (fb_txn_clear_delta(t) != 0)
        rc = -1;
    for (size_t i = 0; i < N_PKGS; i++) {
        struct stat sb;
        if (!pkg_in(pkgs, i))
            continue;
        if (fb_path_join(path, sizeof path, dir, k_pkgs[i]) != 0) {
            rc = -1;
            continue;
        }
        if (lstat(path, &sb) != 0 && errno == ENOENT) {
            /* named by the marker (or a torn marker) but never written or lost: restore the rest,
               rather than failing on every start from now on */
            fb_warn("apply: no backup for package %s; left as it is", k_pkgs[i]);
            continue;
        }
        if (fb_uci_import_file(&t->u, k_pkgs[i], path) != 0 || sync_confdir(t) != 0) {
            fb_err("apply: restore failed for package %s", k_pkgs[i]);
            rc = -1;
        }
    }
    return rc;
}

unsigned fb_txn_saved(struct fb_txn *t, const char *dirname)
{
    char dir[PATH_MAX], path[PATH_MAX];
    unsigned pkgs = 0;
    if (fb_path_join(dir, sizeof dir, t->state_dir, dirname) != 0)
        return 0;
    for (size_t i = 0; i < N_PKGS; i++)
        if (fb_path_join(path, sizeof path, dir, k_pkgs[i]) == 0 && access(path, R_OK) == 0)
            pkgs |= 1u << i;
    return pkgs;
}

/*
 * Do the changes staged for pkg (seen through u) change anything? Real uci keeps listing staged lines
 * that no longer apply (`wireless.gone.ssid='x'` for a section deleted since), so `uci changes` alone
 * would refuse every apply until a revert or reboot. The committed file is imported under a package
 * name no delta file has, into a private config dir, and both are exported: the same text means the
 * staged lines are stale. 1 when they change something, 0 when not, -1 on error.
 */
static int staged_effective(struct fb_txn *t, const struct fb_uci *u, const char *pkg)
{
    char viewdir[PATH_MAX], emptydir[PATH_MAX], src[PATH_MAX];
    char *staged = NULL, *committed = NULL;
    size_t staged_len = 0, committed_len = 0;
    int rc = -1;
    if (fb_path_join(viewdir, sizeof viewdir, t->state_dir, VIEW_NAME) != 0 || fb_ensure_dir(viewdir) != 0 ||
        fb_path_join(emptydir, sizeof emptydir, viewdir, "delta") != 0 || fb_ensure_dir(emptydir) != 0 ||
        fb_remove_file(emptydir, VIEW_PKG) != 0 || fb_remove_file(viewdir, VIEW_PKG) != 0 ||
        fb_path_join(src, sizeof src, t->confdir, pkg) != 0)
        return -1;
    struct fb_uci view = {u->uci_path, viewdir, emptydir};
    int have = fb_uci_export(u, pkg, &staged, &staged_len);
    if (have == 1) {
        rc = 1; /* staged lines but no package: they cannot apply, yet nothing to compare: refuse */
        goto out;
    }
    if (have != 0 || fb_uci_import_file(&view, VIEW_PKG, src) != 0 ||
        fb_uci_export(&view, VIEW_PKG, &committed, &committed_len) != 0)
        goto out;
    /* both start with their own `package <name>` line */
    const char *a = memchr(staged, '\n', staged_len), *b = memchr(committed, '\n', committed_len);
    if (!a || !b)
        goto out;
    size_t al = staged_len - (size_t)(a - staged), bl = committed_len - (size_t)(b - committed);
    rc = !(al == bl && memcmp(a, b, al) == 0);
out:
    if (staged) {
        OPENSSL_cleanse(staged, staged_len);
        free(staged);
    }
    if (committed) {
        OPENSSL_cleanse(committed, committed_len);
        free(committed);
    }
    (void)fb_remove_file(viewdir, VIEW_PKG); /* it holds the Wi-Fi keys */
    return rc;
}

/* 0 when nobody has staged changes to pkgs that change something (as seen through u), -1 otherwise. */
static int nothing_staged(struct fb_txn *t, const struct fb_uci *u, unsigned pkgs, const char *why)
{
    for (size_t i = 0; i < N_PKGS; i++) {
        if (!pkg_in(pkgs, i))
            continue;
        int rc = fb_uci_has_changes(u, k_pkgs[i]);
        if (rc > 0) {
            rc = staged_effective(t, u, k_pkgs[i]);
            if (rc == 0)
                fb_info("apply: the changes staged for %s by another uci caller change nothing (stale lines); "
                        "going ahead", k_pkgs[i]);
        }
        if (rc > 0)
            fb_warn("apply: %s: %s", why, k_pkgs[i]);
        else if (rc < 0)
            fb_err("apply: uci changes failed: %s", k_pkgs[i]);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/*
 * uci since 2025-01 reads a package from its override dir when the file is there, and commits it
 * there, but `uci import` (our restore) writes the config dir's file: a rollback could not undo a
 * change. Such a package belongs to a configuration manager: 0 when none of ours is overridden.
 */
static int none_overridden(struct fb_txn *t)
{
    char path[PATH_MAX];
    struct stat sb;
    for (size_t i = 0; i < N_PKGS; i++) {
        if (fb_path_join(path, sizeof path, t->conf2dir, k_pkgs[i]) != 0)
            return -1;
        if (stat(path, &sb) == 0) {
            fb_err("apply: %s overrides the uci package %s at run time (a configuration manager owns it); a "
                   "rollback could not restore it, so not applying",
                   path, k_pkgs[i]);
            return -1;
        }
    }
    return 0;
}

int fb_txn_begin(struct fb_txn *t)
{
    if (none_overridden(t) != 0 || fb_txn_clear_delta(t) != 0)
        return -1;
    if (nothing_staged(t, &t->u, FB_PKG_ALL, "another uci caller has staged changes; not applying") != 0)
        return -1;
    int pkgs = backup_to(t, FB_TXN_BACKUP);
    if (pkgs < 0 || !((unsigned)pkgs & FB_PKG_WIRELESS)) {
        fb_err("apply: backup failed");
        return -1;
    }
    if (write_marker(t, (unsigned)pkgs) != 0) {
        fb_err("apply: cannot write the applying marker");
        return -1;
    }
    return pkgs;
}

int fb_txn_others_staged(struct fb_txn *t, unsigned pkgs)
{
    /* asked with an empty private delta directory, so that only other callers' changes show */
    char dir[PATH_MAX];
    struct fb_uci u2 = t->u;
    if (fb_path_join(dir, sizeof dir, t->state_dir, CHECK_NAME) != 0 || fb_ensure_dir(dir) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++)
        if (fb_remove_file(dir, k_pkgs[i]) != 0)
            return -1;
    u2.savedir = dir;
    return nothing_staged(t, &u2, pkgs, "another uci caller staged changes meanwhile; not committing");
}

int fb_txn_staged_equals_backup(struct fb_txn *t)
{
    char dir[PATH_MAX], path[PATH_MAX];
    char *now = NULL, *before = NULL;
    size_t now_len = 0, before_len = 0;
    int same = -1;
    if (fb_path_join(dir, sizeof dir, t->state_dir, FB_TXN_BACKUP) != 0 ||
        fb_path_join(path, sizeof path, dir, k_pkgs[0]) != 0 || fb_uci_export(&t->u, k_pkgs[0], &now, &now_len) != 0)
        return -1;
    before = malloc(now_len + 2);
    if (before) {
        int rc = fb_read_file(path, before, now_len + 2, &before_len);
        same = rc == 0 && before_len == now_len && memcmp(before, now, now_len) == 0;
        OPENSSL_cleanse(before, now_len + 2);
        free(before);
    }
    OPENSSL_cleanse(now, now_len);
    free(now);
    return same;
}

int fb_txn_commit(struct fb_txn *t, unsigned backed_up, unsigned changed)
{
    unsigned pkgs = FB_PKG_WIRELESS | (changed & backed_up);
    if (fb_txn_others_staged(t, backed_up) != 0)
        return -1;
    for (size_t i = 0; i < N_PKGS; i++)
        if (pkg_in(pkgs, i) && (fb_uci_commit(&t->u, k_pkgs[i]) != 0 || sync_confdir(t) != 0))
            return -1;
    return 0;
}

void fb_txn_keep_as_prov(struct fb_txn *t)
{
    char prov[PATH_MAX], bak[PATH_MAX];
    struct stat sb;
    if (fb_path_join(prov, sizeof prov, t->state_dir, FB_TXN_PROV) != 0 ||
        fb_path_join(bak, sizeof bak, t->state_dir, FB_TXN_BACKUP) != 0)
        return;
    if (stat(prov, &sb) != 0 && errno == ENOENT && rename(bak, prov) == 0)
        (void)fb_fsync_dir(t->state_dir);
    else
        fb_txn_drop(t, FB_TXN_BACKUP);
}
