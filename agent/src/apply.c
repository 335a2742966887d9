/*
 * Applying Wi-Fi settings to uci safely: the three entry points of apply.h, composed from
 *   apply_txn.c     backup, "applying" marker, restore, commit, settle (crash safety)
 *   apply_layout.c  the station section per firmware layout, the wwan network and firewall zone
 *   apply_verify.c  reload, and join verification through ubus with the reason of a failure
 *   apply_ca.c      content-addressed enterprise CA files
 * and profile.c's rules, which every profile handed over must pass.
 */
#include "apply.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "apply_ca.h"
#include "apply_layout.h"
#include "apply_txn.h"
#include "apply_verify.h"
#include "fsutil.h"
#include "log.h"

struct apply_ctx {
    const struct fb_apply_config *cfg;
    struct fb_txn txn;
    struct fb_join join;
};

static int ctx_init(struct apply_ctx *c, const struct fb_apply_config *cfg)
{
    memset(c, 0, sizeof *c);
    if (!cfg || !cfg->state_dir || !cfg->uci_path || !cfg->wifi_path || !cfg->ubus_path)
        return -1;
    c->cfg = cfg;
    fb_join_init(&c->join, cfg);
    return fb_txn_open(&c->txn, cfg->state_dir, cfg->uci_path, cfg->uci_confdir, cfg->uci_conf2dir);
}

/* Restores the packages of a backup and reloads what they cover. 0 or -1. */
static int restore(struct apply_ctx *c, const char *dirname, unsigned pkgs)
{
    int rc = fb_txn_restore(&c->txn, dirname, pkgs);
    if (fb_net_reload(&c->join, pkgs) != 0)
        rc = -1;
    return rc;
}

/* The station's configured SSID, for verifying a configuration restored from a backup. 0 or -1. */
static int station_ssid(struct apply_ctx *c, struct fb_station *st, char *ssid, size_t cap)
{
    if (fb_station_find(&c->txn.u, c->cfg->layout, st) != 0 || !st->exists)
        return -1;
    return fb_uci_get(&c->txn.u, "wireless", st->sec, "ssid", ssid, cap) == 0 ? 0 : -1;
}

/* After a restore: is the station (back) on its network? Logged, never changes the reported reason. */
static void confirm_restored(struct apply_ctx *c, long long since)
{
    struct fb_station st;
    char ssid[FB_SSID_MAX * 4 + 1];
    if (station_ssid(c, &st, ssid, sizeof ssid) != 0) {
        fb_info("apply: restored; no station configured to confirm");
        return;
    }
    /*
     * Only logged, so the current lease is accepted: when the restored settings equal the running
     * ones (crash before the reload), netifd restarts nothing and no new lease would ever come.
     */
    c->join.require_fresh = 0;
    enum fb_reason r = fb_join_verify(&c->join, &st, ssid, since);
    if (r == FB_REASON_NONE)
        fb_info("apply: restored; provisioning network is back");
    else
        fb_warn("apply: restored, but the previous network did not come back: %s", fb_reason_name(r));
}

int fb_apply_check_uci(const struct fb_apply_config *cfg)
{
    struct apply_ctx c;
    if (ctx_init(&c, cfg) != 0)
        return 1;
    int rc = fb_uci_supports_savedir(&c.txn.u);
    if (rc == 0) {
        fb_err("%s does not know the option -t (uci older than 2021-04-12: OpenWRT 19.07 and older, Onion "
               "legacy 0.3.x); omega-agent needs OpenWRT 21.02 with a newer uci, 22.03 or later",
               cfg->uci_path);
        return -1;
    }
    if (rc < 0)
        fb_warn("could not check %s for the option -t; applies will fail if it is missing", cfg->uci_path);
    return rc < 0 ? 1 : 0;
}

int fb_apply_recover(const struct fb_apply_config *cfg)
{
    struct apply_ctx c;
    unsigned pkgs = 0;
    if (ctx_init(&c, cfg) != 0)
        return -1;
    int rc = fb_txn_read_marker(&c.txn, &pkgs);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        /* a backup without a marker means nothing was changed yet: just drop it */
        fb_txn_drop(&c.txn, FB_TXN_BACKUP);
        (void)fb_txn_clear_delta(&c.txn);
        return 0;
    }
    fb_warn("apply: interrupted apply found; restoring the backup");
    long long since = fb_wall_ms() - 1000;
    if (restore(&c, FB_TXN_BACKUP, pkgs) != 0)
        return -1;
    confirm_restored(&c, since);
    if (fb_txn_settle(&c.txn) != 0)
        return -1;
    fb_txn_drop(&c.txn, FB_TXN_BACKUP);
    return 1;
}

/* Settles an interrupted apply, then starts a new transaction. Returns the packages backed up, or -1. */
static int begin(struct apply_ctx *c)
{
    if (fb_apply_recover(c->cfg) < 0)
        return -1;
    return fb_txn_begin(&c->txn);
}

/* Failure after begin(): restore, confirm, settle. */
static void roll_back(struct apply_ctx *c, unsigned pkgs)
{
    long long since = fb_wall_ms() - 1000;
    if (restore(c, FB_TXN_BACKUP, pkgs) != 0) {
        fb_err("apply: rollback incomplete; the marker stays for the next start");
        return;
    }
    confirm_restored(c, since);
    if (fb_txn_settle(&c->txn) == 0)
        fb_txn_drop(&c->txn, FB_TXN_BACKUP);
}

/*
 * Joined: can the agent reach a broker over the new network within the bound? Asks the caller's
 * probe (it knows the endpoints and credentials); no probe configured means no check.
 */
static enum fb_reason reach_broker(struct apply_ctx *c)
{
    const struct fb_apply_config *cfg = c->cfg;
    if (!cfg->reach_broker)
        return FB_REASON_NONE;
    int timeout_s = cfg->broker_timeout_s > 0 ? cfg->broker_timeout_s : 60;
    if (cfg->reach_broker(cfg->reach_ctx, timeout_s) == 0)
        return FB_REASON_NONE;
    fb_warn("apply: joined, but no broker endpoint answered within %d s", timeout_s);
    return FB_REASON_BROKER_UNREACHABLE;
}

/*
 * Stages, commits, reloads, verifies (join, subnet, and for a premises apply the broker); on failure
 * rolls back. Shared by apply and reset.
 */
static int apply_values(struct apply_ctx *c, unsigned backed_up, const struct fb_sta_values *v, int check_broker,
                        enum fb_reason *reason)
{
    struct fb_station st;
    unsigned changed = 0;
    enum fb_reason r = FB_REASON_APPLY_ERROR;

    if (fb_station_find(&c->txn.u, c->cfg->layout, &st) != 0 || fb_wwan_ensure(&c->txn.u, &changed) != 0 ||
        fb_station_write(&c->txn.u, &st, v) != 0) {
        fb_err("apply: writing the station settings failed; rolling back");
        goto fail;
    }
    /* log lines older than this reload belong to an earlier attempt */
    long long since = fb_wall_ms() - 1000;
    int same = changed == 0 ? fb_txn_staged_equals_backup(&c->txn) : 0;
    if (same < 0)
        goto fail;
    if (same) {
        /*
         * The settings are already the committed ones: nothing to commit, and a reload would restart
         * nothing (netifd keeps an unchanged station), so the current lease is the proof.
         */
        if (fb_txn_clear_delta(&c->txn) != 0)
            goto fail;
        c->join.require_fresh = 0;
    } else if (fb_txn_commit(&c->txn, backed_up, changed) != 0) {
        fb_err("apply: writing the station settings failed; rolling back");
        goto fail;
    } else if (fb_net_reload(&c->join, changed) != 0) {
        goto fail;
    }
    r = fb_join_verify(&c->join, &st, v->ssid, since);
    if (r == FB_REASON_NONE)
        r = fb_subnet_check(&c->join, &c->txn.u);
    if (r == FB_REASON_NONE && check_broker)
        r = reach_broker(c);
    if (r == FB_REASON_NONE) {
        if (fb_txn_settle(&c->txn) == 0) {
            *reason = FB_REASON_NONE;
            return 0;
        }
        /* the next start would roll back what we reported as applied: undo it now instead */
        fb_err("apply: cannot clear the applying marker; rolling back");
        r = FB_REASON_APPLY_ERROR;
        goto fail;
    }
    fb_warn("apply: %s; rolling back", fb_reason_name(r));
fail:
    *reason = r;
    roll_back(c, backed_up);
    return -1;
}

int fb_apply_wifi(const struct fb_apply_config *cfg, const struct fb_wifi_profile *p, enum fb_reason *reason)
{
    struct apply_ctx c;
    char ca_path[PATH_MAX] = "", ca_name[64] = "", err[160];
    int ca_created = 0;
    enum fb_reason dummy;
    if (!reason)
        reason = &dummy;
    *reason = FB_REASON_APPLY_ERROR;
    if (!p || fb_profile_check(p, err, sizeof err) != 0) {
        fb_warn("apply: invalid profile: %s", p ? err : "none");
        *reason = FB_REASON_INVALID_PROFILE;
        return -1;
    }
    if (ctx_init(&c, cfg) != 0)
        return -1;
    int pkgs = begin(&c);
    if (pkgs < 0)
        return -1;
    if (p->ca_cert[0] &&
        fb_ca_write(cfg->state_dir, p->ca_cert, ca_path, sizeof ca_path, ca_name, sizeof ca_name, &ca_created) != 0) {
        roll_back(&c, (unsigned)pkgs);
        return -1;
    }
    struct fb_sta_values v = {p->ssid,     p->encryption, p->key,      p->bssid,
                              p->eap_type, p->identity,   p->password, ca_path};
    if (apply_values(&c, (unsigned)pkgs, &v, 1, reason) != 0) {
        /* the restored configuration points to its own CA file (if any), never to this one */
        if (ca_created)
            (void)fb_remove_file(cfg->state_dir, ca_name);
        return -1;
    }
    /* only now are CA files of earlier configurations unused (none when this one has no CA) */
    fb_ca_remove_others(cfg->state_dir, ca_name[0] ? ca_name : NULL);
    /* keep the configuration from before the first premises apply, for a reset without prov_* */
    fb_txn_keep_as_prov(&c.txn);
    return 0;
}

/* Reset with no provisioning network configured: back to what the device had before the premises. */
static int reset_to_prov_backup(struct apply_ctx *c, unsigned backed_up, enum fb_reason *reason)
{
    struct fb_station st;
    char ssid[FB_SSID_MAX * 4 + 1];
    unsigned saved = fb_txn_saved(&c->txn, FB_TXN_PROV);
    if (!(saved & FB_PKG_WIRELESS)) {
        fb_err("apply: reset: no provisioning network configured and no earlier configuration kept");
        roll_back(c, backed_up);
        return -1;
    }
    long long since = fb_wall_ms() - 1000;
    if (restore(c, FB_TXN_PROV, saved) != 0 || fb_station_find(&c->txn.u, c->cfg->layout, &st) != 0 ||
        fb_uci_get(&c->txn.u, "wireless", st.sec, "ssid", ssid, sizeof ssid) != 0) {
        roll_back(c, backed_up);
        return -1;
    }
    *reason = fb_join_verify(&c->join, &st, ssid, since);
    if (*reason != FB_REASON_NONE) {
        roll_back(c, backed_up);
        return -1;
    }
    if (fb_txn_settle(&c->txn) != 0) {
        fb_err("apply: cannot clear the applying marker; rolling back");
        *reason = FB_REASON_APPLY_ERROR;
        roll_back(c, backed_up);
        return -1;
    }
    return 0;
}

/* Reset to the configured provisioning network: applied like a premises profile. */
static int reset_to_prov_network(struct apply_ctx *c, unsigned backed_up, enum fb_reason *reason)
{
    const struct fb_apply_config *cfg = c->cfg;
    struct fb_wifi_profile prov;
    char err[160];
    memset(&prov, 0, sizeof prov);
    snprintf(prov.ssid, sizeof prov.ssid, "%s", cfg->prov_ssid);
    prov.ssid_len = strlen(prov.ssid);
    snprintf(prov.encryption, sizeof prov.encryption, "%s",
             cfg->prov_encryption ? cfg->prov_encryption : (cfg->prov_key ? "psk2" : "none"));
    if (cfg->prov_key)
        snprintf(prov.key, sizeof prov.key, "%s", cfg->prov_key);
    if (fb_profile_check(&prov, err, sizeof err) != 0) {
        OPENSSL_cleanse(&prov, sizeof prov);
        fb_err("apply: reset: the provisioning network settings are invalid: %s", err);
        roll_back(c, backed_up);
        return -1;
    }
    struct fb_sta_values v = {prov.ssid, prov.encryption, prov.key, "", "", "", "", ""};
    int rc = apply_values(c, backed_up, &v, 0, reason);
    OPENSSL_cleanse(&prov, sizeof prov);
    return rc;
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
    int pkgs = begin(&c);
    if (pkgs < 0)
        return -1;
    int rc = cfg->prov_ssid ? reset_to_prov_network(&c, (unsigned)pkgs, reason)
                            : reset_to_prov_backup(&c, (unsigned)pkgs, reason);
    if (rc == 0) {
        fb_txn_drop(&c.txn, FB_TXN_BACKUP);
        fb_txn_drop(&c.txn, FB_TXN_PROV);
        fb_ca_remove_others(cfg->state_dir, NULL);
    }
    return rc;
}
