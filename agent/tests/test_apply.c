/*
 * Tests for the uci apply module against the Debian stand-ins (agent/standins/{uci,wifi,ubus})
 * operating on real uci files in a temporary directory, and golden tests of the uci stand-in.
 *
 * usage: test_apply <standins-dir> <golden-dir>
 * Prints "N passed, M failed" last; exits non-zero on any failure.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "proc.h"
#include "uci_cli.h"

static int g_pass, g_fail;
static char g_standins[PATH_MAX], g_golden[PATH_MAX];
static char g_uci[PATH_MAX + 8], g_wifi[PATH_MAX + 8], g_ubus[PATH_MAX + 8];

#define CHECK(cond, ...)                                                                                              \
    do {                                                                                                              \
        if (cond) {                                                                                                   \
            g_pass++;                                                                                                 \
        } else {                                                                                                      \
            g_fail++;                                                                                                 \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                      \
            fprintf(stderr, __VA_ARGS__);                                                                             \
            fputc('\n', stderr);                                                                                      \
        }                                                                                                             \
    } while (0)

/* ------------------------------------------------------------------ small file helpers */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    for (;;) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap)
            break;
        cap *= 2;
        char *nb = realloc(buf, cap + 1);
        if (!nb) {
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = nb;
    }
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static int write_all(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int ok = fwrite(data, 1, len, f) == len;
    if (fclose(f) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static int copy_file(const char *from, const char *to)
{
    size_t len;
    char *d = read_all(from, &len);
    if (!d)
        return -1;
    int rc = write_all(to, d, len);
    free(d);
    return rc;
}

static int path_fmt(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "path too long\n");
        exit(2);
    }
    return 0;
}

static int files_equal(const char *a, const char *b)
{
    size_t la, lb;
    char *da = read_all(a, &la), *db = read_all(b, &lb);
    int eq = da && db && la == lb && memcmp(da, db, la) == 0;
    if (!eq && da && db) {
        size_t i = 0;
        while (i < la && i < lb && da[i] == db[i])
            i++;
        fprintf(stderr, "  %s differs from %s at byte %zu\n", a, b, i);
    }
    free(da);
    free(db);
    return eq;
}

static void rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char p[PATH_MAX];
            path_fmt(p, sizeof p, "%s/%s", path, e->d_name);
            rm_tree(p);
        }
        closedir(d);
        (void)rmdir(path);
    } else {
        (void)unlink(path);
    }
}

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* ------------------------------------------------------------------ golden tests of the uci stand-in */

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static size_t list_dir(const char *dir, char **names, size_t max)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && n < max) {
        if (e->d_name[0] == '.')
            continue;
        names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_names);
    return n;
}

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = (b->cap ? b->cap * 2 : 4096);
        while (nc < b->len + n + 1)
            nc *= 2;
        char *np = realloc(b->p, nc);
        if (!np)
            exit(2);
        b->p = np;
        b->cap = nc;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

static void golden_case(const char *casedir, const char *name)
{
    char tmp[] = "/tmp/fb-golden-XXXXXX";
    char conf[PATH_MAX], delta[PATH_MAX], p[PATH_MAX], q[PATH_MAX];
    char *names[64];
    struct sbuf out = {0};

    if (!mkdtemp(tmp)) {
        CHECK(0, "mkdtemp");
        return;
    }
    path_fmt(conf, sizeof conf, "%s/config", tmp);
    path_fmt(delta, sizeof delta, "%s/delta", tmp);
    (void)mkdir(conf, 0700);
    size_t n = list_dir(casedir, names, 64);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "conf.", 5) == 0) {
            path_fmt(p, sizeof p, "%s/%s", casedir, names[i]);
            path_fmt(q, sizeof q, "%s/%s", conf, names[i] + 5);
            if (copy_file(p, q) != 0)
                CHECK(0, "copy %s", p);
        }
    }
    path_fmt(p, sizeof p, "%s/commands", casedir);
    char *cmds = read_all(p, NULL);
    if (!cmds) {
        CHECK(0, "%s: no commands file", name);
        goto done;
    }
    for (char *line = cmds; *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        char *argv[24];
        size_t argc = 0;
        argv[argc++] = g_uci;
        argv[argc++] = (char *)"-c";
        argv[argc++] = conf;
        argv[argc++] = (char *)"-t";
        argv[argc++] = delta;
        char *in = NULL;
        size_t in_len = 0;
        char files[4][PATH_MAX];
        size_t nfiles = 0;
        sb_str(&out, "$");
        for (char *tok = strtok(line, "\t"); tok && argc < 23; tok = strtok(NULL, "\t")) {
            if (strncmp(tok, "@stdin=", 7) == 0) {
                path_fmt(q, sizeof q, "%s/%s", casedir, tok + 7);
                in = read_all(q, &in_len);
                continue;
            }
            sb_str(&out, " ");
            sb_str(&out, tok);
            if (strncmp(tok, "@case/", 6) == 0 && nfiles < 4) {
                /* a file of the case (`-f @case/x`): its path, shown as written */
                path_fmt(files[nfiles], sizeof files[nfiles], "%s/%s", casedir, tok + 6);
                tok = files[nfiles++];
            }
            argv[argc++] = tok;
        }
        argv[argc] = NULL;
        sb_str(&out, "\n");
        char obuf[16384];
        struct fb_proc_out res;
        memset(&res, 0, sizeof res);
        res.out = obuf;
        res.out_cap = sizeof obuf;
        if (fb_proc_run(argv, in, in_len, 30000, &res) != 0)
            CHECK(0, "%s: could not run uci", name);
        free(in);
        sb_add(&out, obuf, res.out_len);
        for (char *e = res.err; *e;) {
            char *enl = strchr(e, '\n');
            sb_str(&out, "[stderr] ");
            if (enl) {
                sb_add(&out, e, (size_t)(enl - e) + 1);
                e = enl + 1;
            } else {
                sb_str(&out, e);
                sb_str(&out, "\n");
                break;
            }
        }
        char ex[32];
        snprintf(ex, sizeof ex, "[exit %d]\n", res.exit_code);
        sb_str(&out, ex);
        if (!nl)
            break;
        line = nl + 1;
    }
    free(cmds);
    for (size_t i = 0; i < n; i++) {
        if (strncmp(names[i], "conf.", 5) != 0)
            continue;
        const char *pkg = names[i] + 5;
        size_t len;
        path_fmt(q, sizeof q, "%s/%s", conf, pkg);
        char *d = read_all(q, &len);
        sb_str(&out, "== file ");
        sb_str(&out, pkg);
        sb_str(&out, " ==\n");
        if (d)
            sb_add(&out, d, len);
        free(d);
        path_fmt(q, sizeof q, "%s/%s", delta, pkg);
        d = read_all(q, &len);
        if (d) {
            sb_str(&out, "== delta ");
            sb_str(&out, pkg);
            sb_str(&out, " ==\n");
            sb_add(&out, d, len);
            free(d);
        }
    }
    path_fmt(p, sizeof p, "%s/expected", casedir);
    size_t elen;
    char *expected = read_all(p, &elen);
    int same = expected && out.p && elen == out.len && memcmp(expected, out.p, elen) == 0;
    if (!same) {
        path_fmt(q, sizeof q, "/tmp/fb-golden-%s.actual", name);
        if (out.p)
            (void)write_all(q, out.p, out.len);
        fprintf(stderr, "  golden %s: actual output written to %s (diff -u %s %s)\n", name, q, p, q);
    }
    CHECK(same, "uci stand-in golden case %s", name);
    free(expected);
done:
    free(out.p);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    rm_tree(tmp);
}

static void test_uci_golden(void)
{
    char dir[PATH_MAX], casedir[PATH_MAX];
    char *names[64];
    path_fmt(dir, sizeof dir, "%s/uci", g_golden);
    size_t n = list_dir(dir, names, 64);
    CHECK(n >= 5, "expected the uci golden cases in %s", dir);
    for (size_t i = 0; i < n; i++) {
        path_fmt(casedir, sizeof casedir, "%s/%s", dir, names[i]);
        golden_case(casedir, names[i]);
        free(names[i]);
    }
}

/* ------------------------------------------------------------------ show parser */

struct collect {
    int n;
    char last[256];
    size_t last_nvals;
};

static int collect_cb(void *ctx, const char *sec, const char *opt, char **vals, size_t nvals)
{
    struct collect *c = ctx;
    c->n++;
    snprintf(c->last, sizeof c->last, "%s|%s|%s|%s", sec, opt ? opt : "-", vals[0], nvals > 1 ? vals[1] : "");
    c->last_nvals = nvals;
    return 0;
}

static void test_show_parser(void)
{
    char text[] = "wireless.radio0=wifi-device\n"
                  "wireless.client.ssid='it'\\''s # ; \\ x'\n"
                  "firewall.cfg03dc81.network='wan' 'two words'\n";
    struct collect c;
    memset(&c, 0, sizeof c);
    CHECK(fb_uci_show_parse(text, strlen(text), collect_cb, &c) == 0, "show parse");
    CHECK(c.n == 3, "three show lines, got %d", c.n);
    CHECK(strcmp(c.last, "cfg03dc81|network|wan|two words") == 0 && c.last_nvals == 2, "list parsed: %s", c.last);
    char t2[] = "wireless.client.ssid='it'\\''s # ; \\ x'\n";
    memset(&c, 0, sizeof c);
    CHECK(fb_uci_show_parse(t2, strlen(t2), collect_cb, &c) == 0 && strcmp(c.last, "client|ssid|it's # ; \\ x|") == 0,
          "escaped quote unescaped: %s", c.last);
    char bad[] = "wireless.client.ssid='unterminated\n";
    CHECK(fb_uci_show_parse(bad, strlen(bad), collect_cb, &c) != 0, "unterminated value rejected");
}

/* ------------------------------------------------------------------ apply tests */

struct env {
    char root[64];
    char conf[PATH_MAX], state[PATH_MAX], scenario[PATH_MAX], wstate[PATH_MAX], before[PATH_MAX], after[PATH_MAX];
    struct fb_apply_config cfg;
};

static const char *const k_pkgs[] = {"wireless", "network", "firewall"};

#define PREM_SSID "Premises Wi-Fi"
#define PREM_KEY "correct horse battery"
#define PROV_SSID "FleetProvisioning"
#define PROV_KEY "provisioning-key"

/* Extra top-level scenario members (",\"reload_lag_s\":1.5" ...), "" for the defaults. */
static const char *g_sc_extra = "";
/* The address the premises AP leases (prefix 24). */
static const char *g_prem_addr = "10.1.2.3";

/* Writes the scenario: the provisioning AP always exists; the premises AP as given (NULL = absent). */
static void write_scenario(struct env *e, const char *prem_ssid, const char *prem_key, int gives_lease, double delay_s)
{
    char buf[4096];
    int n;
    if (prem_ssid)
        n = snprintf(buf, sizeof buf,
                     "{\"confdir\":\"%s\",\"state\":\"%s\",\"aps\":["
                     "{\"ssid\":\"" PROV_SSID "\",\"encryption\":\"psk2\",\"key\":\"" PROV_KEY "\","
                     "\"gives_lease\":true,\"join_delay_s\":0,\"address\":\"192.168.4.20\",\"bssid\":\"02:00:00:00:00:01\"},"
                     "{\"ssid\":\"%s\",\"encryption\":\"psk2\",\"key\":\"%s\",\"gives_lease\":%s,"
                     "\"join_delay_s\":%.2f,\"address\":\"%s\",\"bssid\":\"02:00:00:00:00:02\"}]%s}",
                     e->conf, e->wstate, prem_ssid, prem_key, gives_lease ? "true" : "false", delay_s, g_prem_addr,
                     g_sc_extra);
    else
        n = snprintf(buf, sizeof buf,
                     "{\"confdir\":\"%s\",\"state\":\"%s\",\"aps\":["
                     "{\"ssid\":\"" PROV_SSID "\",\"encryption\":\"psk2\",\"key\":\"" PROV_KEY "\","
                     "\"gives_lease\":true,\"join_delay_s\":0,\"address\":\"192.168.4.20\"}]%s}",
                     e->conf, e->wstate, g_sc_extra);
    if (n < 0 || (size_t)n >= sizeof buf || write_all(e->scenario, buf, (size_t)n) != 0) {
        fprintf(stderr, "cannot write scenario\n");
        exit(2);
    }
}

static int run_tool(const char *tool, const char *a1)
{
    char *argv[] = {(char *)tool, (char *)a1, NULL};
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    if (fb_proc_run(argv, NULL, 0, 30000, &res) != 0)
        return -1;
    return res.exit_code;
}

static int env_setup(struct env *e, const char *fixture, enum fb_layout layout)
{
    memset(e, 0, sizeof *e);
    snprintf(e->root, sizeof e->root, "/tmp/fb-apply-XXXXXX");
    if (!mkdtemp(e->root))
        return -1;
    path_fmt(e->conf, sizeof e->conf, "%s/config", e->root);
    path_fmt(e->state, sizeof e->state, "%s/state", e->root);
    path_fmt(e->scenario, sizeof e->scenario, "%s/standin-scenario", e->root);
    path_fmt(e->wstate, sizeof e->wstate, "%s/wifi-state.json", e->root);
    path_fmt(e->before, sizeof e->before, "%s/apply/%s/before", g_golden, fixture);
    path_fmt(e->after, sizeof e->after, "%s/apply/%s/after", g_golden, fixture);
    if (mkdir(e->conf, 0755) != 0)
        return -1;
    for (size_t i = 0; i < 3; i++) {
        char from[PATH_MAX], to[PATH_MAX];
        path_fmt(from, sizeof from, "%s/%s", e->before, k_pkgs[i]);
        path_fmt(to, sizeof to, "%s/%s", e->conf, k_pkgs[i]);
        if (copy_file(from, to) != 0)
            return -1;
    }
    write_scenario(e, PREM_SSID, PREM_KEY, 1, 0);
    if (setenv("FB_STANDIN_SCENARIO", e->scenario, 1) != 0)
        return -1;
    e->cfg.uci_path = g_uci;
    e->cfg.wifi_path = g_wifi;
    e->cfg.ubus_path = g_ubus;
    e->cfg.uci_confdir = e->conf;
    e->cfg.state_dir = e->state;
    e->cfg.layout = layout;
    e->cfg.verify_timeout_s = 2;
    e->cfg.poll_interval_ms = 100;
    e->cfg.prov_ssid = PROV_SSID;
    e->cfg.prov_key = PROV_KEY;
    e->cfg.prov_encryption = "psk2";
    /* the device boots on whatever the config says (provisioning network) */
    return run_tool(g_wifi, "reload") == 0 ? 0 : -1;
}

static void env_teardown(struct env *e)
{
    unsetenv("FB_STANDIN_SCENARIO");
    rm_tree(e->root);
}

static int conf_matches(struct env *e, const char *dir)
{
    int ok = 1;
    for (size_t i = 0; i < 3; i++) {
        char a[PATH_MAX], b[PATH_MAX];
        path_fmt(a, sizeof a, "%s/%s", e->conf, k_pkgs[i]);
        path_fmt(b, sizeof b, "%s/%s", dir, k_pkgs[i]);
        if (!files_equal(a, b))
            ok = 0;
    }
    return ok;
}

static int marker_present(struct env *e)
{
    char p[PATH_MAX];
    path_fmt(p, sizeof p, "%s/applying", e->state);
    return exists(p);
}

static void premises_profile(struct fb_wifi_profile *p, const char *ssid, const char *key)
{
    memset(p, 0, sizeof *p);
    snprintf(p->ssid, sizeof p->ssid, "%s", ssid);
    p->ssid_len = strlen(p->ssid);
    snprintf(p->encryption, sizeof p->encryption, "psk2");
    snprintf(p->key, sizeof p->key, "%s", key);
}

static void test_apply_success(const char *fixture, enum fb_layout layout)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_TIMEOUT;
    if (env_setup(&e, fixture, layout) != 0) {
        CHECK(0, "%s: setup", fixture);
        env_teardown(&e);
        return;
    }
    premises_profile(&p, PREM_SSID, PREM_KEY);
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE, "%s: apply succeeds (rc %d, reason %s)", fixture, rc, fb_reason_name(r));
    CHECK(conf_matches(&e, e.after), "%s: uci files equal the golden result", fixture);
    CHECK(!marker_present(&e), "%s: no applying marker after success", fixture);
    char bak[PATH_MAX];
    struct stat st;
    path_fmt(bak, sizeof bak, "%s/prov-backup/wireless", e.state);
    CHECK(stat(bak, &st) == 0 && (st.st_mode & 0777) == 0600, "%s: kept backup is 0600", fixture);

    /* the same profile again: same files */
    rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE, "%s: second apply succeeds", fixture);
    CHECK(conf_matches(&e, e.after), "%s: applying twice yields the same files", fixture);

    /* reset returns to the provisioning network */
    rc = fb_apply_reset(&e.cfg, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE, "%s: reset succeeds (reason %s)", fixture, fb_reason_name(r));
    if (strcmp(fixture, "generic-new") != 0)
        CHECK(conf_matches(&e, e.before), "%s: reset restores the provisioning settings exactly", fixture);
    CHECK(!marker_present(&e), "%s: no marker after reset", fixture);
    env_teardown(&e);
}

static void test_apply_failure(const char *fixture, enum fb_layout layout, const char *label, const char *ap_ssid,
                               const char *ap_key, int lease, double delay, enum fb_reason want)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    if (env_setup(&e, fixture, layout) != 0) {
        CHECK(0, "%s: setup", label);
        env_teardown(&e);
        return;
    }
    write_scenario(&e, ap_ssid, ap_key, lease, delay);
    premises_profile(&p, PREM_SSID, PREM_KEY);
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == -1 && r == want, "%s: want %s, got rc %d reason %s", label, fb_reason_name(want), rc,
          fb_reason_name(r));
    CHECK(conf_matches(&e, e.before), "%s: files byte-identical to before", label);
    CHECK(!marker_present(&e), "%s: marker cleared after rollback", label);
    /* and the device is back on the provisioning network */
    if (strcmp(fixture, "generic-new") != 0) {
        char *ws = read_all(e.wstate, NULL);
        CHECK(ws && strstr(ws, "\"ssid\": \"" PROV_SSID "\"") && strstr(ws, "\"outcome\": \"join\""),
              "%s: provisioning network rejoined", label);
        free(ws);
    }
    env_teardown(&e);
}

static void test_invalid_and_tool_errors(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    if (env_setup(&e, "omega2", FB_LAYOUT_AUTO) != 0) {
        CHECK(0, "setup");
        env_teardown(&e);
        return;
    }
    premises_profile(&p, PREM_SSID, "short");
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && r == FB_REASON_INVALID_PROFILE, "short key refused");
    premises_profile(&p, "bad\nssid", PREM_KEY);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && r == FB_REASON_INVALID_PROFILE, "control character in ssid refused");
    CHECK(conf_matches(&e, e.before), "invalid profiles change nothing");

    /* a broken wireless file: uci fails, nothing is changed, apply_error */
    char w[PATH_MAX];
    path_fmt(w, sizeof w, "%s/wireless", e.conf);
    size_t len;
    char *orig = read_all(w, &len);
    const char broken[] = "config wifi-iface 'client'\n\toption ssid 'unterminated\n";
    CHECK(orig && write_all(w, broken, sizeof broken - 1) == 0, "write broken file");
    premises_profile(&p, PREM_SSID, PREM_KEY);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && r == FB_REASON_APPLY_ERROR, "parse error gives apply_error (%s)",
          fb_reason_name(r));
    char *now = read_all(w, NULL);
    CHECK(now && strcmp(now, broken) == 0, "broken file left as it was");
    CHECK(!marker_present(&e), "no marker when nothing was applied");
    free(now);
    free(orig);

    /* a missing tool: apply_error, files restored */
    char from[PATH_MAX];
    path_fmt(from, sizeof from, "%s/wireless", e.before);
    CHECK(copy_file(from, w) == 0, "restore fixture");
    e.cfg.wifi_path = "/nonexistent/wifi";
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && r == FB_REASON_APPLY_ERROR, "missing wifi tool gives apply_error");
    CHECK(conf_matches(&e, e.before), "missing wifi tool: files restored");
    CHECK(marker_present(&e), "rollback could not reload: marker stays for the next start");
    e.cfg.wifi_path = g_wifi;
    CHECK(fb_apply_recover(&e.cfg) == 1 && !marker_present(&e), "recover settles the leftover marker");
    CHECK(conf_matches(&e, e.before), "files still as before");
    env_teardown(&e);
}

static void test_special_values(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    /* quotes, spaces, ', #, ;, \ in the key; UTF-8 and the same in the ssid */
    const char *ssid = "Caf\xc3\xa9 \"q\" it's #1;\\";
    const char *key = "a'b\"c #d;e\\f g'''";
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "setup");
        env_teardown(&e);
        return;
    }
    /* scenario JSON needs escaping of " and \ */
    char ssid_j[128], key_j[128];
    size_t a = 0, b = 0;
    for (const char *s = ssid; *s; s++) {
        if (*s == '"' || *s == '\\')
            ssid_j[a++] = '\\';
        ssid_j[a++] = *s;
    }
    ssid_j[a] = '\0';
    for (const char *s = key; *s; s++) {
        if (*s == '"' || *s == '\\')
            key_j[b++] = '\\';
        key_j[b++] = *s;
    }
    key_j[b] = '\0';
    write_scenario(&e, ssid_j, key_j, 1, 0);
    premises_profile(&p, ssid, key);
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE, "special values: joined (reason %s)", fb_reason_name(r));
    char delta[PATH_MAX];
    path_fmt(delta, sizeof delta, "%s/uci-delta", e.state);
    struct fb_uci u = {g_uci, e.conf, delta};
    char got[256];
    CHECK(fb_uci_get(&u, "wireless", "client", "ssid", got, sizeof got) == 0 && strcmp(got, ssid) == 0,
          "ssid survives set/commit: %s", got);
    CHECK(fb_uci_get(&u, "wireless", "client", "key", got, sizeof got) == 0 && strcmp(got, key) == 0,
          "key survives set/commit");
    /* now a failing apply: the special values go through export/import and must come back intact */
    char w[PATH_MAX], saved[PATH_MAX];
    path_fmt(w, sizeof w, "%s/wireless", e.conf);
    path_fmt(saved, sizeof saved, "%s/wireless.saved", e.root);
    CHECK(copy_file(w, saved) == 0, "save");
    premises_profile(&p, ssid, "wrong key wrong key");
    rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == -1 && r == FB_REASON_AUTH_FAILED, "special values: wrong key detected (%s)", fb_reason_name(r));
    CHECK(files_equal(w, saved), "special values survive export/import byte for byte");
    CHECK(fb_uci_get(&u, "wireless", "client", "key", got, sizeof got) == 0 && strcmp(got, key) == 0,
          "key intact after import");
    env_teardown(&e);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_kill_and_recover(void)
{
    struct env e;
    struct fb_wifi_profile p;
    if (env_setup(&e, "generic-anon", FB_LAYOUT_AUTO) != 0) {
        CHECK(0, "setup");
        env_teardown(&e);
        return;
    }
    write_scenario(&e, PREM_SSID, PREM_KEY, 1, 60); /* joins only after a minute */
    e.cfg.verify_timeout_s = 120;
    premises_profile(&p, PREM_SSID, PREM_KEY);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        enum fb_reason r;
        (void)setpgid(0, 0); /* its own group: the "power cut" takes its tool processes too */
        (void)fb_apply_wifi(&e.cfg, &p, &r);
        _exit(0);
    }
    CHECK(pid > 0, "fork");
    if (pid > 0)
        (void)setpgid(pid, pid);
    /* wait until the premises settings are committed and Wi-Fi reloaded (the stand-in's state says so) */
    int seen = 0;
    long long end = mono_ms() + 60000;
    while (pid > 0 && mono_ms() < end) {
        char *ws = read_all(e.wstate, NULL);
        seen = ws && strstr(ws, "\"ssid\": \"" PREM_SSID "\"") != NULL;
        free(ws);
        if (seen)
            break;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    CHECK(seen, "child reached the verify phase");
    if (pid > 0) {
        kill(-pid, SIGKILL);
        int st = 0;
        waitpid(pid, &st, 0);
        CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "child killed mid-apply");
    }
    CHECK(marker_present(&e), "marker survives the crash");
    CHECK(!conf_matches(&e, e.before), "premises settings were committed before the crash");
    e.cfg.verify_timeout_s = 2;
    CHECK(fb_apply_recover(&e.cfg) == 1, "recover restores after a crash");
    CHECK(conf_matches(&e, e.before), "files byte-identical to before the crashed apply");
    CHECK(!marker_present(&e), "marker cleared by recover");
    CHECK(fb_apply_recover(&e.cfg) == 0, "second recover has nothing to do");
    env_teardown(&e);
}

/*
 * Key rotation on the network the device is on: same SSID, wrong key. Right after `wifi reload`
 * the old association and the old lease are still visible (reload_lag_s); they must not count as
 * the join. With and without the iwinfo ubus object (rpcd-mod-iwinfo missing).
 */
static void test_same_ssid_stale(int no_iwinfo)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    const char *label = no_iwinfo ? "same ssid, wrong key, stale lease, no iwinfo" : "same ssid, wrong key, stale lease";
    g_sc_extra = no_iwinfo ? ",\"reload_lag_s\":1.5,\"no_iwinfo\":true" : ",\"reload_lag_s\":1.5";
    if (env_setup(&e, "omega2", FB_LAYOUT_AUTO) != 0) {
        CHECK(0, "%s: setup", label);
        g_sc_extra = "";
        env_teardown(&e);
        return;
    }
    /* the provisioning lease has been up for a while (as on a device), not for less than a second */
    struct timespec ts = {3, 0};
    nanosleep(&ts, NULL);
    premises_profile(&p, PROV_SSID, "wrong key wrong key");
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == -1 && (r == FB_REASON_AUTH_FAILED || r == FB_REASON_TIMEOUT), "%s: not joined (rc %d, reason %s)",
          label, rc, fb_reason_name(r));
    CHECK(conf_matches(&e, e.before), "%s: files byte-identical to before", label);
    CHECK(!marker_present(&e), "%s: marker cleared after rollback", label);
    g_sc_extra = "";
    env_teardown(&e);
}

/*
 * A marker that names a package whose backup file is gone (lost, or a torn marker meaning "all"):
 * recover restores what exists, clears the marker and reports 1, instead of failing on every start.
 */
static void test_recover_missing_backup(int torn)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    const char *label = torn ? "torn marker, backup missing" : "marker names a missing backup";
    if (env_setup(&e, "omega2", FB_LAYOUT_AUTO) != 0) {
        CHECK(0, "%s: setup", label);
        env_teardown(&e);
        return;
    }
    /* an apply whose rollback cannot reload leaves the marker and the backup behind */
    e.cfg.wifi_path = "/nonexistent/wifi";
    premises_profile(&p, PREM_SSID, PREM_KEY);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && marker_present(&e), "%s: marker left behind", label);
    e.cfg.wifi_path = g_wifi;
    /* the premises settings as if the crash came before the restore */
    char w[PATH_MAX], after[PATH_MAX], gone[PATH_MAX], mk[PATH_MAX];
    path_fmt(w, sizeof w, "%s/wireless", e.conf);
    path_fmt(after, sizeof after, "%s/wireless", e.after);
    CHECK(copy_file(after, w) == 0, "%s: premises wireless in place", label);
    path_fmt(gone, sizeof gone, "%s/backup/%s", e.state, torn ? "firewall" : "network");
    CHECK(unlink(gone) == 0, "%s: backup file removed", label);
    if (torn) {
        path_fmt(mk, sizeof mk, "%s/applying", e.state);
        CHECK(write_all(mk, "fleetboot", 9) == 0, "%s: torn marker written", label);
    }
    CHECK(fb_apply_recover(&e.cfg) == 1, "%s: recover restores what exists", label);
    CHECK(!marker_present(&e), "%s: marker cleared", label);
    CHECK(conf_matches(&e, e.before), "%s: files as before the apply", label);
    CHECK(fb_apply_recover(&e.cfg) == 0, "%s: nothing left to recover", label);
    env_teardown(&e);
}

/*
 * The agent binary rolls an interrupted apply back before anything that may refuse to start: here
 * agent.state is corrupt (the agent exits 1), yet the marker must be settled and the files restored.
 */
static void test_agent_recovers_first(void)
{
    const char *bin = getenv("FB_AGENT_BIN");
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    if (!bin || !*bin) {
        CHECK(0, "agent start-up order: FB_AGENT_BIN must name the omega-agent binary to test");
        return;
    }
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "agent start-up: setup");
        env_teardown(&e);
        return;
    }
    e.cfg.wifi_path = "/nonexistent/wifi";
    premises_profile(&p, PREM_SSID, PREM_KEY);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && marker_present(&e), "agent start-up: marker left behind");
    char w[PATH_MAX], after[PATH_MAX], st[PATH_MAX], key[PATH_MAX], s_uci[PATH_MAX + 16], s_wifi[PATH_MAX + 16],
        s_ubus[PATH_MAX + 16];
    path_fmt(w, sizeof w, "%s/wireless", e.conf);
    path_fmt(after, sizeof after, "%s/wireless", e.after);
    CHECK(copy_file(after, w) == 0, "agent start-up: premises wireless in place (crash after commit)");
    path_fmt(st, sizeof st, "%s/agent.state", e.state);
    CHECK(write_all(st, "not a state file\n", 17) == 0, "agent start-up: corrupt agent.state");
    path_fmt(key, sizeof key, "%s/device.key", e.root);
    path_fmt(s_uci, sizeof s_uci, "uci_path=%s", g_uci);
    path_fmt(s_wifi, sizeof s_wifi, "wifi_path=%s", g_wifi);
    path_fmt(s_ubus, sizeof s_ubus, "ubus_path=%s", g_ubus);
    char *argv[] = {(char *)bin, (char *)"run", (char *)"--stderr",
                    (char *)"--device-id", (char *)"dev1", (char *)"--broker-host", (char *)"127.0.0.1",
                    (char *)"--broker-port", (char *)"1", (char *)"--state-dir", e.state, (char *)"--key-file", key,
                    (char *)"--uci-confdir", e.conf, (char *)"--set",
                    (char *)"service_pubkey=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", (char *)"--set", s_uci,
                    (char *)"--set", s_wifi, (char *)"--set", s_ubus, NULL};
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    CHECK(fb_proc_run(argv, NULL, 0, 60000, &res) == 0 && res.exit_code != 0,
          "agent start-up: refuses to start on a corrupt agent.state (exit %d, %s)", res.exit_code, res.err);
    CHECK(!marker_present(&e), "agent start-up: the interrupted apply was settled before the start-up error (%s)",
          res.err);
    CHECK(conf_matches(&e, e.before), "agent start-up: files restored");
    env_teardown(&e);
}

static int g_probe_calls;
static int probe(void *ctx, int timeout_s)
{
    int *answer = ctx;
    g_probe_calls++;
    return timeout_s > 0 ? *answer : -1;
}

/* The broker probe after a join decides: unreachable rolls back, reachable keeps the new network. */
static void test_broker_unreachable(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    int answer = -1;
    if (env_setup(&e, "omega2", FB_LAYOUT_AUTO) != 0) {
        CHECK(0, "broker unreachable: setup");
        env_teardown(&e);
        return;
    }
    e.cfg.reach_broker = probe;
    e.cfg.reach_ctx = &answer;
    premises_profile(&p, PREM_SSID, PREM_KEY);
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == -1 && r == FB_REASON_BROKER_UNREACHABLE && g_probe_calls == 1,
          "broker unreachable: rolled back with broker_unreachable (rc %d, %s, %d probes)", rc, fb_reason_name(r),
          g_probe_calls);
    CHECK(conf_matches(&e, e.before), "broker unreachable: files byte-identical to before");
    CHECK(!marker_present(&e), "broker unreachable: marker cleared");
    answer = 0;
    rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE && g_probe_calls == 2, "broker reachable: applied (%s)", fb_reason_name(r));
    CHECK(conf_matches(&e, e.after), "broker reachable: the golden result");
    answer = -1;
    CHECK(fb_apply_reset(&e.cfg, &r) == 0 && g_probe_calls == 2, "reset does not ask the probe (%s)",
          fb_reason_name(r));
    env_teardown(&e);
}

/*
 * uci since 2025-01 reads a package from /var/run/uci when the file is there and commits it there;
 * `import` writes the config dir's file; a new delta file takes the config dir file's mode. What the
 * stand-in does with FB_STANDIN_UCI_CONF2DIR, checked against the real uci with -C.
 */
static void test_uci_conf2_override(void)
{
    char root[] = "/tmp/fb-conf2-XXXXXX", c[PATH_MAX], d[PATH_MAX], t[PATH_MAX], f[PATH_MAX], out[64];
    struct stat st;
    if (mkdtemp(root) == NULL) {
        CHECK(0, "conf2: temp dir");
        return;
    }
    path_fmt(c, sizeof c, "%s/c", root);
    path_fmt(d, sizeof d, "%s/d", root);
    path_fmt(t, sizeof t, "%s/t", root);
    CHECK(mkdir(c, 0755) == 0 && mkdir(d, 0755) == 0 && mkdir(t, 0700) == 0, "conf2: dirs");
    const char etc[] = "config wifi-iface 'sta'\n\toption ssid 'etc'\n";
    const char ovr[] = "config wifi-iface 'sta'\n\toption ssid 'override'\n";
    path_fmt(f, sizeof f, "%s/wireless", c);
    CHECK(write_all(f, etc, sizeof etc - 1) == 0 && chmod(f, 0640) == 0, "conf2: config file");
    path_fmt(f, sizeof f, "%s/wireless", d);
    CHECK(write_all(f, ovr, sizeof ovr - 1) == 0 && chmod(f, 0600) == 0, "conf2: override file");
    setenv("FB_STANDIN_UCI_CONF2DIR", d, 1);
    struct fb_uci u = {g_uci, c, t};
    CHECK(fb_uci_get(&u, "wireless", "sta", "ssid", out, sizeof out) == 0 && strcmp(out, "override") == 0,
          "conf2: get reads the override (%s)", out);
    CHECK(fb_uci_set(&u, "wireless", "sta", "ssid", "new") == 0, "conf2: set");
    path_fmt(f, sizeof f, "%s/wireless", t);
    CHECK(stat(f, &st) == 0 && (st.st_mode & 0777) == 0640, "conf2: the delta file has the config dir file's mode");
    CHECK(fb_uci_commit(&u, "wireless") == 0, "conf2: commit");
    path_fmt(f, sizeof f, "%s/wireless", d);
    char *now = read_all(f, NULL);
    CHECK(now && strstr(now, "option ssid 'new'"), "conf2: commit writes the override");
    free(now);
    path_fmt(f, sizeof f, "%s/wireless", c);
    now = read_all(f, NULL);
    CHECK(now && strcmp(now, etc) == 0, "conf2: the config dir's file is untouched by commit");
    free(now);
    unsetenv("FB_STANDIN_UCI_CONF2DIR");
    rm_tree(root);
}

/* A package in uci's run-time override dir: an apply could not be rolled back, so it is refused. */
static void test_overridden_package(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    char d[PATH_MAX], from[PATH_MAX], to[PATH_MAX];
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "overridden: setup");
        env_teardown(&e);
        return;
    }
    path_fmt(d, sizeof d, "%s/run-uci", e.root);
    path_fmt(from, sizeof from, "%s/wireless", e.before);
    path_fmt(to, sizeof to, "%s/wireless", d);
    CHECK(mkdir(d, 0755) == 0 && copy_file(from, to) == 0, "overridden: override file");
    setenv("FB_STANDIN_UCI_CONF2DIR", d, 1);
    e.cfg.uci_conf2dir = d;
    premises_profile(&p, PREM_SSID, PREM_KEY);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1 && r == FB_REASON_APPLY_ERROR, "overridden: refused (%s)",
          fb_reason_name(r));
    CHECK(conf_matches(&e, e.before) && files_equal(from, to), "overridden: nothing changed");
    CHECK(!marker_present(&e), "overridden: no marker");
    unsetenv("FB_STANDIN_UCI_CONF2DIR");
    env_teardown(&e);
}

/* uci before 2021-04-12 has no -t: usage, exit 0, no output. The agent must notice, not apply blind. */
static void test_uci_without_t(void)
{
    const char *bin = getenv("FB_AGENT_BIN");
    struct env e;
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "uci without -t: setup");
        env_teardown(&e);
        return;
    }
    CHECK(fb_apply_check_uci(&e.cfg) == 0, "uci without -t: the current uci is accepted");
    setenv("FB_STANDIN_UCI_NO_T", "1", 1);
    CHECK(fb_apply_check_uci(&e.cfg) == -1, "uci without -t: an old uci is detected");
    if (bin && *bin) {
        char key[PATH_MAX], s_uci[PATH_MAX + 16];
        path_fmt(key, sizeof key, "%s/device.key", e.root);
        path_fmt(s_uci, sizeof s_uci, "uci_path=%s", g_uci);
        char *argv[] = {(char *)bin, (char *)"run", (char *)"--device-id", (char *)"dev1", (char *)"--broker-host",
                        (char *)"127.0.0.1", (char *)"--broker-port", (char *)"1", (char *)"--state-dir", e.state,
                        (char *)"--key-file", key, (char *)"--uci-confdir", e.conf, (char *)"--set",
                        (char *)"service_pubkey=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", (char *)"--set", s_uci,
                        (char *)"--set", (char *)"use_syslog=0", NULL};
        struct fb_proc_out res;
        memset(&res, 0, sizeof res);
        CHECK(fb_proc_run(argv, NULL, 0, 60000, &res) == 0 && res.exit_code == 2 &&
                  strstr(res.err, "does not know the option -t") != NULL && strstr(res.err, "needs OpenWRT") != NULL,
              "uci without -t: the agent refuses to start and says why (exit %d, %s)", res.exit_code, res.err);
    } else {
        CHECK(0, "uci without -t: FB_AGENT_BIN must name the omega-agent binary to test");
    }
    unsetenv("FB_STANDIN_UCI_NO_T");
    CHECK(conf_matches(&e, e.before), "uci without -t: nothing changed");
    env_teardown(&e);
}

/* Lines another uci caller staged in the shared save dir: stale ones must not block, real ones must. */
static void test_staged_by_others(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    char shared[PATH_MAX], delta[PATH_MAX];
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "staged by others: setup");
        env_teardown(&e);
        return;
    }
    path_fmt(shared, sizeof shared, "%s/shared-uci", e.root);
    path_fmt(delta, sizeof delta, "%s/wireless", shared);
    CHECK(mkdir(shared, 0700) == 0 && setenv("FB_STANDIN_UCI_SAVEDIR", shared, 1) == 0, "staged by others: shared dir");

    /* a change to a section that no longer exists: `uci changes` lists it forever, it changes nothing */
    const char stale[] = "wireless.gone.ssid='x'\n-wireless.gone2\nwireless.client.ssid='FleetProvisioning'\n";
    CHECK(write_all(delta, stale, sizeof stale - 1) == 0, "staged by others: stale lines written");
    premises_profile(&p, PREM_SSID, PREM_KEY);
    int rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == 0 && r == FB_REASON_NONE, "staged by others: stale lines do not block an apply (rc %d, %s)", rc,
          fb_reason_name(r));
    CHECK(conf_matches(&e, e.after), "staged by others: the apply's result is the golden one");
    char *left = read_all(delta, NULL);
    CHECK(left && strcmp(left, stale) == 0, "staged by others: their lines stay staged, untouched");
    free(left);

    /* a line that changes something: not ours to commit, so the apply is refused and nothing changes */
    const char real[] = "wireless.ap.ssid='Renamed by someone else'\n";
    CHECK(write_all(delta, real, sizeof real - 1) == 0, "staged by others: a real change written");
    premises_profile(&p, "Another Net", PREM_KEY);
    rc = fb_apply_wifi(&e.cfg, &p, &r);
    CHECK(rc == -1 && r == FB_REASON_APPLY_ERROR, "staged by others: a real staged change refuses the apply (%s)",
          fb_reason_name(r));
    CHECK(conf_matches(&e, e.after), "staged by others: nothing committed");
    CHECK(!marker_present(&e), "staged by others: no marker");
    unsetenv("FB_STANDIN_UCI_SAVEDIR");
    env_teardown(&e);
}

/* 1 when pid is gone or a zombie (waits up to 5 s for it to get there). */
static int pid_dead(long pid)
{
    for (int i = 0; i < 100; i++) {
        char p[64], *st;
        snprintf(p, sizeof p, "/proc/%ld/stat", pid);
        st = read_all(p, NULL);
        if (!st)
            return 1;
        char *rp = strrchr(st, ')');
        int zombie = rp && rp[1] == ' ' && rp[2] == 'Z';
        free(st);
        if (zombie)
            return 1;
        struct timespec ts = {0, 50000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

/*
 * fb_proc_run returns when the tool exits, even when something it started in the background still
 * holds its stdout (as daemons started by `wifi` do); on a timeout it kills the tool's whole group.
 */
static void test_proc_background_child(void)
{
    char dir[] = "/tmp/fb-proc-XXXXXX", script[PATH_MAX], pidf[PATH_MAX];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    path_fmt(script, sizeof script, "%s/tool", dir);
    path_fmt(pidf, sizeof pidf, "%s/bg.pid", dir);
    const char body[] = "#!/bin/sh\nsleep 30 &\necho $! > \"$1\"\necho done\nif [ \"$2\" = hang ]; then sleep 30; fi\nexit 3\n";
    CHECK(write_all(script, body, sizeof body - 1) == 0 && chmod(script, 0755) == 0, "write tool script");

    char out[64];
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    res.out = out;
    res.out_cap = sizeof out;
    char *argv[] = {script, pidf, NULL};
    int rc = fb_proc_run(argv, NULL, 0, 10000, &res);
    CHECK(rc == 0 && res.exit_code == 3 && strcmp(out, "done\n") == 0,
          "tool exit seen although a background child holds stdout (rc %d, exit %d)", rc, res.exit_code);
    char *pid_s = read_all(pidf, NULL);
    long bg = pid_s ? strtol(pid_s, NULL, 10) : 0;
    free(pid_s);
    CHECK(bg > 0 && !pid_dead(bg), "the background child was left running (a daemon must survive)");
    if (bg > 0)
        (void)kill((pid_t)bg, SIGKILL);

    /* timeout: the tool and its background child are both killed */
    char *argv2[] = {script, pidf, (char *)"hang", NULL};
    (void)unlink(pidf);
    memset(&res, 0, sizeof res);
    rc = fb_proc_run(argv2, NULL, 0, 1500, &res);
    CHECK(rc == -1, "a hanging tool times out");
    pid_s = read_all(pidf, NULL);
    bg = pid_s ? strtol(pid_s, NULL, 10) : 0;
    free(pid_s);
    CHECK(bg > 0 && pid_dead(bg), "timeout kills the tool's process group");
    if (bg > 0)
        (void)kill((pid_t)bg, SIGKILL);
    rm_tree(dir);
}

/* uci exits 1 for every error: only "Entry not found" means absent; a parse error is an error. */
static void test_uci_error_is_not_absent(void)
{
    char dir[] = "/tmp/fb-ucierr-XXXXXX", conf[PATH_MAX], delta[PATH_MAX], w[PATH_MAX], got[128];
    if (!mkdtemp(dir)) {
        CHECK(0, "mkdtemp");
        return;
    }
    path_fmt(conf, sizeof conf, "%s/config", dir);
    path_fmt(delta, sizeof delta, "%s/delta", dir);
    path_fmt(w, sizeof w, "%s/wireless", conf);
    (void)mkdir(conf, 0700);
    (void)mkdir(delta, 0700);
    const char broken[] = "config wifi-iface 'client'\n\toption ssid 'unterminated\n";
    CHECK(write_all(w, broken, sizeof broken - 1) == 0, "write broken file");
    struct fb_uci u = {g_uci, conf, delta};
    struct collect col;
    char *data = NULL;
    size_t len = 0;
    memset(&col, 0, sizeof col);
    CHECK(fb_uci_get(&u, "wireless", "client", NULL, got, sizeof got) == -1, "get on a parse error is an error");
    CHECK(fb_uci_get(&u, "wireless", "nosuch", "ssid", got, sizeof got) == -1, "get of any entry of a broken package is an error");
    CHECK(fb_uci_export(&u, "wireless", &data, &len) == -1, "export of a broken package is an error");
    CHECK(fb_uci_show(&u, "wireless", collect_cb, &col) == -1, "show of a broken package is an error");
    CHECK(fb_uci_has_changes(&u, "wireless") == -1, "changes of a broken package is an error");
    int grc = fb_uci_get(&u, "nopkg", "x", NULL, got, sizeof got);
    CHECK(grc == 1, "get of a missing package: not found (%d)", grc);
    CHECK(fb_uci_export(&u, "nopkg", &data, &len) == 1, "export of a missing package: not found");
    CHECK(fb_uci_show(&u, "nopkg", collect_cb, &col) == 1, "show of a missing package: not found");
    CHECK(fb_uci_has_changes(&u, "nopkg") == 0, "changes of a missing package: none");
    rm_tree(dir);
}

/*
 * Enterprise: a failed apply with a new CA certificate must not touch the CA file the restored
 * configuration points to; after a successful apply only the current CA file is left.
 */
static void test_enterprise_ca(void)
{
    struct env e;
    struct fb_wifi_profile p;
    enum fb_reason r = FB_REASON_NONE;
    const char *ca_a = "-----BEGIN CERTIFICATE-----\nQUFBQQ==\n-----END CERTIFICATE-----\n";
    const char *ca_b = "-----BEGIN CERTIFICATE-----\nQkJCQg==\n-----END CERTIFICATE-----\n";
    if (env_setup(&e, "omega2", FB_LAYOUT_OMEGA2) != 0) {
        CHECK(0, "enterprise: setup");
        env_teardown(&e);
        return;
    }
    char sc[2048];
    int n = snprintf(sc, sizeof sc,
                     "{\"confdir\":\"%s\",\"state\":\"%s\",\"aps\":["
                     "{\"ssid\":\"" PROV_SSID "\",\"encryption\":\"psk2\",\"key\":\"" PROV_KEY "\"},"
                     "{\"ssid\":\"Corp\",\"encryption\":\"wpa2\",\"identity\":\"dev1\",\"password\":\"pw-right\"}]}",
                     e.conf, e.wstate);
    CHECK(n > 0 && (size_t)n < sizeof sc && write_all(e.scenario, sc, (size_t)n) == 0, "enterprise: scenario");
    memset(&p, 0, sizeof p);
    snprintf(p.ssid, sizeof p.ssid, "Corp");
    p.ssid_len = 4;
    snprintf(p.encryption, sizeof p.encryption, "wpa2");
    snprintf(p.eap_type, sizeof p.eap_type, "peap");
    snprintf(p.identity, sizeof p.identity, "dev1");
    snprintf(p.password, sizeof p.password, "pw-right");
    snprintf(p.ca_cert, sizeof p.ca_cert, "%s", ca_a);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == 0, "enterprise: apply with CA A joins (%s)", fb_reason_name(r));
    char delta[PATH_MAX], ca_path[512];
    path_fmt(delta, sizeof delta, "%s/uci-delta", e.state);
    struct fb_uci u = {g_uci, e.conf, delta};
    CHECK(fb_uci_get(&u, "wireless", "client", "ca_cert", ca_path, sizeof ca_path) == 0, "enterprise: ca_cert set");
    char *got = read_all(ca_path, NULL);
    CHECK(got && strcmp(got, ca_a) == 0, "enterprise: CA A written");
    free(got);

    /* a new CA with a wrong password: rolled back; the configuration's CA file still holds CA A */
    snprintf(p.password, sizeof p.password, "pw-wrong");
    snprintf(p.ca_cert, sizeof p.ca_cert, "%s", ca_b);
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == -1, "enterprise: wrong password fails (%s)", fb_reason_name(r));
    char ca_path2[512];
    CHECK(fb_uci_get(&u, "wireless", "client", "ca_cert", ca_path2, sizeof ca_path2) == 0 &&
              strcmp(ca_path, ca_path2) == 0,
          "enterprise: restored configuration points to the CA file it had");
    got = read_all(ca_path2, NULL);
    CHECK(got && strcmp(got, ca_a) == 0, "enterprise: the restored configuration's CA file still holds CA A");
    free(got);

    /* a new CA, right password: only the new CA file is left */
    snprintf(p.password, sizeof p.password, "pw-right");
    CHECK(fb_apply_wifi(&e.cfg, &p, &r) == 0, "enterprise: apply with CA B joins (%s)", fb_reason_name(r));
    CHECK(fb_uci_get(&u, "wireless", "client", "ca_cert", ca_path2, sizeof ca_path2) == 0, "enterprise: ca_cert");
    got = read_all(ca_path2, NULL);
    CHECK(got && strcmp(got, ca_b) == 0, "enterprise: CA B in use");
    free(got);
    CHECK(strcmp(ca_path, ca_path2) == 0 || !exists(ca_path), "enterprise: the earlier CA file is removed");
    env_teardown(&e);
}

static void test_qemu_shebang(void)
{
    /* the stand-ins run through the kernel's shebang handling even from an emulated process */
    char *argv[] = {g_uci, (char *)"-c", (char *)"/nonexistent", (char *)"-t", (char *)"/nonexistent", (char *)"get",
                    (char *)"x.y", NULL};
    struct fb_proc_out res;
    memset(&res, 0, sizeof res);
    CHECK(fb_proc_run(argv, NULL, 0, 30000, &res) == 0 && res.exit_code == 1 &&
              strcmp(res.err, "uci: Entry not found\n") == 0,
          "stand-in runs from this process (exit %d, err %s)", res.exit_code, res.err);
}

int main(int argc, char **argv)
{
    if (argc != 3 || !realpath(argv[1], g_standins) || !realpath(argv[2], g_golden)) {
        fprintf(stderr, "usage: %s <standins-dir> <golden-dir>\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_uci, sizeof g_uci, "%s/uci", g_standins);
    snprintf(g_wifi, sizeof g_wifi, "%s/wifi", g_standins);
    snprintf(g_ubus, sizeof g_ubus, "%s/ubus", g_standins);

    /*
     * FB_APPLY_LIST=1 prints the case names, one a line; FB_APPLY_ONLY=<name> runs that case alone
     * (tests/run-cases.sh runs every case as its own process, several at a time).
     */
    const char *only = getenv("FB_APPLY_ONLY");
    const char *list = getenv("FB_APPLY_LIST");
    int listing = list && *list && strcmp(list, "0") != 0, matched = 0;
#define RUN(name, call)                                                                                               \
    do {                                                                                                              \
        if (listing) {                                                                                                \
            puts(name);                                                                                               \
        } else if (!only || strcmp(name, only) == 0) {                                                                \
            matched++;                                                                                                \
            call;                                                                                                     \
        }                                                                                                             \
    } while (0)
    RUN("qemu_shebang", test_qemu_shebang());
    RUN("uci_golden", test_uci_golden());
    RUN("show_parser", test_show_parser());
    RUN("same_ssid_stale", test_same_ssid_stale(0));
    RUN("same_ssid_stale_no_iwinfo", test_same_ssid_stale(1));
    RUN("recover_missing_backup", test_recover_missing_backup(0));
    RUN("recover_missing_backup_torn", test_recover_missing_backup(1));
    RUN("enterprise_ca", test_enterprise_ca());
    RUN("uci_error_is_not_absent", test_uci_error_is_not_absent());
    RUN("proc_background_child", test_proc_background_child());
    RUN("agent_recovers_first", test_agent_recovers_first());
    RUN("uci_without_t", test_uci_without_t());
    RUN("uci_conf2_override", test_uci_conf2_override());
    RUN("overridden_package", test_overridden_package());
    RUN("staged_by_others", test_staged_by_others());
    RUN("success_omega2", test_apply_success("omega2", FB_LAYOUT_AUTO));
    RUN("success_generic_anon", test_apply_success("generic-anon", FB_LAYOUT_AUTO));
    RUN("success_generic_new", test_apply_success("generic-new", FB_LAYOUT_GENERIC));
    RUN("fail_wrong_key", test_apply_failure("omega2", FB_LAYOUT_AUTO, "wrong key", PREM_SSID, "another key entirely",
                                             1, 0, FB_REASON_AUTH_FAILED));
    RUN("fail_ssid_absent_anon", test_apply_failure("generic-anon", FB_LAYOUT_AUTO, "ssid absent", NULL, NULL, 1, 0,
                                                    FB_REASON_NETWORK_NOT_FOUND));
    RUN("fail_no_lease", test_apply_failure("omega2", FB_LAYOUT_OMEGA2, "no lease", PREM_SSID, PREM_KEY, 0, 0,
                                            FB_REASON_NO_ADDRESS));
    RUN("fail_slow_join", test_apply_failure("generic-anon", FB_LAYOUT_GENERIC, "slow join", PREM_SSID, PREM_KEY, 1, 30,
                                             FB_REASON_TIMEOUT));
    RUN("fail_wrong_key_new_section", test_apply_failure("generic-new", FB_LAYOUT_AUTO, "wrong key, new section",
                                                         PREM_SSID, "another key entirely", 1, 0,
                                                         FB_REASON_AUTH_FAILED));
    RUN("fail_subnet_conflict_omega2", (g_prem_addr = "192.168.3.77",
                                        test_apply_failure("omega2", FB_LAYOUT_AUTO, "subnet conflict (wlan)", PREM_SSID,
                                                           PREM_KEY, 1, 0, FB_REASON_SUBNET_CONFLICT)));
    RUN("fail_subnet_conflict_lan", (g_prem_addr = "192.168.1.200",
                                     test_apply_failure("generic-anon", FB_LAYOUT_AUTO, "subnet conflict (lan)",
                                                        PREM_SSID, PREM_KEY, 1, 0, FB_REASON_SUBNET_CONFLICT)));
    RUN("fail_broker_unreachable", test_broker_unreachable());
    RUN("invalid_and_tool_errors", test_invalid_and_tool_errors());
    RUN("special_values", test_special_values());
    RUN("kill_and_recover", test_kill_and_recover());

    if (listing)
        return 0;
    if (!matched) {
        fprintf(stderr, "test_apply: no case named '%s' (FB_APPLY_LIST=1 lists them)\n", only);
        return 2;
    }
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
