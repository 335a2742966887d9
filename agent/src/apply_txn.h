/*
 * The apply transaction: everything that makes a uci change undoable across a crash. Lives in the
 * state directory (0700; backups hold Wi-Fi keys):
 *   uci-delta/          private `uci -t` delta directory (what we stage stays apart from other callers)
 *   uci-check/          an empty delta directory: `uci changes` through it shows only other callers' lines
 *   uci-view/           a private config dir for a moment: the committed package, to tell stale staged
 *                       lines (they change nothing) from real ones
 *   backup/<pkg>        `uci export` of the packages, taken before an apply or reset
 *   applying            marker: present from before the first change until the outcome is settled
 *   prov-backup/<pkg>   the configuration from before the first successful premises apply
 *                       (used by reset when no provisioning network is configured)
 */
#ifndef FB_APPLY_TXN_H
#define FB_APPLY_TXN_H

#include <limits.h>

#include "uci_cli.h"

/* The uci packages an apply may change, as a set. The marker names them in this order. */
enum fb_pkg {
    FB_PKG_WIRELESS = 1u << 0,
    FB_PKG_NETWORK = 1u << 1,
    FB_PKG_FIREWALL = 1u << 2,
};
#define FB_PKG_ALL (FB_PKG_WIRELESS | FB_PKG_NETWORK | FB_PKG_FIREWALL)

/* Backup directories inside the state directory. */
#define FB_TXN_BACKUP "backup"
#define FB_TXN_PROV "prov-backup"

struct fb_txn {
    const char *state_dir;
    const char *confdir; /* the uci config directory (for its fsync): uci -c DIR, or /etc/config */
    const char *conf2dir; /* uci's run-time override directory (FB_UCI_CONF2DIR unless a test's) */
    struct fb_uci u;     /* uci with our private delta directory */
    char delta[PATH_MAX];
};

/* Prepares the state and delta directories. 0 or -1. */
int fb_txn_open(struct fb_txn *t, const char *state_dir, const char *uci_path, const char *uci_confdir,
                const char *uci_conf2dir);

/* Drops everything staged in the private delta directory. 0 or -1. */
int fb_txn_clear_delta(struct fb_txn *t);

/*
 * Starts a change: no package overridden at run time (uci_conf2dir), nothing staged by anyone, backup
 * of every package present, marker written.
 * Returns the set of packages backed up (wireless always among them), or -1 with nothing changed.
 */
int fb_txn_begin(struct fb_txn *t);

/* 1 with *pkgs when a marker is present (a torn one names every package), 0 when not, -1 when unreadable. */
int fb_txn_read_marker(struct fb_txn *t, unsigned *pkgs);

/*
 * Imports each package of pkgs from state_dir/<dirname>/<pkg> (replacing the committed file) after
 * clearing the delta; a package the marker names but the backup lacks is left as it is. Does not
 * reload. 0, or -1 when a package could not be restored.
 */
int fb_txn_restore(struct fb_txn *t, const char *dirname, unsigned pkgs);

/* The packages saved in state_dir/<dirname> (readable files). */
unsigned fb_txn_saved(struct fb_txn *t, const char *dirname);

/*
 * Right before a commit: has another uci caller staged changes to pkgs (in the shared delta
 * directory) since fb_txn_begin? `uci commit` would commit them with ours. 0 when not, -1 otherwise.
 */
int fb_txn_others_staged(struct fb_txn *t, unsigned pkgs);

/* 1 when the staged wireless package equals its backup byte for byte, 0 if not, -1 on error. */
int fb_txn_staged_equals_backup(struct fb_txn *t);

/* Commits the wireless package and those of `changed` that were backed up (in `backed_up`), each
 * made durable (the config directory fsynced). 0 or -1. */
int fb_txn_commit(struct fb_txn *t, unsigned backed_up, unsigned changed);

/* Settles the outcome: config directory fsynced, marker removed durably (tried twice). 0 or -1. */
int fb_txn_settle(struct fb_txn *t);

/* Removes state_dir/<dirname> and the package files in it. */
void fb_txn_drop(struct fb_txn *t, const char *dirname);

/* After the first successful premises apply, the backup becomes the prov-backup (kept once). */
void fb_txn_keep_as_prov(struct fb_txn *t);

#endif
