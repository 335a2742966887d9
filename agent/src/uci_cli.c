/* Checked wrappers around the `uci` CLI: argv only, every exit code looked at, bounded output. */
#include "uci_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "proc.h"

#define MAX_ARGS 16
#define TUPLE_MAX 1024

/*
 * Runs uci; returns its exit code (-1 when it could not run). uci exits 1 for EVERY error (parse
 * error, I/O error, invalid argument), so "absent" is only what stderr calls "Entry not found":
 * *not_found (when not NULL) is set then; such an answer is not logged as an error.
 */
static int run_uci(const struct fb_uci *u, const char *const *args, size_t nargs, const char *in, size_t in_len,
                   char *out, size_t out_cap, size_t *out_len, int *not_found)
{
    char *argv[MAX_ARGS + 8];
    size_t n = 0;
    struct fb_proc_out res;

    if (!u || !u->uci_path || !u->savedir || nargs > MAX_ARGS)
        return -1;
    argv[n++] = (char *)u->uci_path;
    if (u->confdir) {
        argv[n++] = (char *)"-c";
        argv[n++] = (char *)u->confdir;
    }
    argv[n++] = (char *)"-t";
    argv[n++] = (char *)u->savedir;
    for (size_t i = 0; i < nargs; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;

    memset(&res, 0, sizeof res);
    res.out = out;
    res.out_cap = out_cap;
    if (fb_proc_run(argv, in, in_len, FB_UCI_TIMEOUT_MS, &res) != 0)
        return -1;
    if (out_len)
        *out_len = res.out_len;
    if (res.out_truncated)
        return -1;
    int nf = res.exit_code == 1 && strstr(res.err, "Entry not found") != NULL;
    if (not_found)
        *not_found = nf;
    if (res.exit_code != 0 && res.err[0] && !(nf && not_found)) {
        size_t el = strlen(res.err);
        while (el > 0 && res.err[el - 1] == '\n')
            res.err[--el] = '\0';
        fb_err("uci %s: %s", args[0], res.err);
    }
    return res.exit_code;
}

int fb_uci_run(const struct fb_uci *u, const char *const *args, size_t nargs, const char *in, size_t in_len,
               char *out, size_t out_cap, size_t *out_len)
{
    return run_uci(u, args, nargs, in, in_len, out, out_cap, out_len, NULL);
}

/* 1 for "Entry not found", -1 for any other failure, 0 for success (call after run_uci set not_found). */
static int absent_or_error(int rc, int not_found)
{
    if (rc == 0)
        return 0;
    return (rc == 1 && not_found) ? 1 : -1;
}

int fb_uci_supports_savedir(const struct fb_uci *u)
{
    char out[64];
    size_t len = 0;
    int nf = 0;
    const char *args[] = {"get", "omega_agent_probe.nonexistent"};
    int rc = run_uci(u, args, 2, NULL, 0, out, sizeof out, &len, &nf);
    if (rc == 1 && nf)
        return 1;
    if (rc == 0 && len == 0)
        return 0;
    return -1;
}

/* "pkg.sec[.opt][=value]" into buf; -1 when it does not fit. */
static int tuple(char *buf, size_t cap, const char *pkg, const char *sec, const char *opt, const char *value)
{
    int n;
    if (opt)
        n = snprintf(buf, cap, "%s.%s.%s%s%s", pkg, sec, opt, value ? "=" : "", value ? value : "");
    else
        n = snprintf(buf, cap, "%s.%s%s%s", pkg, sec, value ? "=" : "", value ? value : "");
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

static int simple(const struct fb_uci *u, const char *cmd, const char *pkg, const char *sec, const char *opt,
                  const char *value)
{
    char t[TUPLE_MAX];
    if (tuple(t, sizeof t, pkg, sec, opt, value) != 0)
        return -1;
    const char *args[] = {cmd, t};
    return fb_uci_run(u, args, 2, NULL, 0, NULL, 0, NULL) == 0 ? 0 : -1;
}

int fb_uci_set(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value)
{
    if (!value)
        return -1;
    return simple(u, "set", pkg, sec, opt, value);
}

int fb_uci_delete(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt)
{
    return simple(u, "delete", pkg, sec, opt, NULL);
}

int fb_uci_add_list(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value)
{
    return simple(u, "add_list", pkg, sec, opt, value);
}

int fb_uci_get(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, char *out, size_t cap)
{
    char t[TUPLE_MAX];
    size_t len = 0;
    if (tuple(t, sizeof t, pkg, sec, opt, NULL) != 0)
        return -1;
    /* no -q: it would hide the message that tells "not found" from other errors (all exit 1) */
    const char *args[] = {"get", t};
    int nf = 0;
    int rc = run_uci(u, args, 2, NULL, 0, out, cap, &len, &nf);
    rc = absent_or_error(rc, nf);
    if (rc != 0)
        return rc;
    if (len > 0 && out[len - 1] == '\n')
        out[len - 1] = '\0';
    return 0;
}

int fb_uci_set_secret(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value)
{
    char line[FB_PROC_IN_MAX];
    char back[FB_PROC_IN_MAX];
    size_t n;
    int rc = -1;

    if (!value || !*value)
        return -1;
    n = (size_t)snprintf(line, sizeof line, "set %s.%s.%s='", pkg, sec, opt);
    if (n >= sizeof line)
        return -1;
    /* single-quoted batch argument; ' becomes '\'' exactly as in uci's own files */
    for (const char *c = value; *c; c++) {
        const char *piece = *c == '\'' ? "'\\''" : NULL;
        size_t plen = piece ? 4 : 1;
        if (n + plen + 3 >= sizeof line)
            goto out;
        if (piece)
            memcpy(line + n, piece, plen);
        else
            line[n] = *c;
        n += plen;
    }
    line[n++] = '\'';
    line[n++] = '\n';
    line[n] = '\0';
    const char *args[] = {"batch"};
    if (fb_uci_run(u, args, 1, line, n, NULL, 0, NULL) != 0)
        goto out;
    if (fb_uci_get(u, pkg, sec, opt, back, sizeof back) != 0)
        goto out;
    if (strcmp(back, value) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(line, sizeof line);
    OPENSSL_cleanse(back, sizeof back);
    if (rc != 0)
        fb_err("uci: could not set %s.%s.%s", pkg, sec, opt);
    return rc;
}

int fb_uci_commit(const struct fb_uci *u, const char *pkg)
{
    const char *args[] = {"commit", pkg};
    return fb_uci_run(u, args, 2, NULL, 0, NULL, 0, NULL) == 0 ? 0 : -1;
}

int fb_uci_export(const struct fb_uci *u, const char *pkg, char **out, size_t *len)
{
    char *buf = malloc(FB_UCI_EXPORT_MAX);
    if (!buf)
        return -1;
    const char *args[] = {"export", pkg};
    int nf = 0;
    int rc = run_uci(u, args, 2, NULL, 0, buf, FB_UCI_EXPORT_MAX, len, &nf);
    rc = absent_or_error(rc, nf);
    if (rc != 0) {
        OPENSSL_cleanse(buf, FB_UCI_EXPORT_MAX);
        free(buf);
        return rc;
    }
    *out = buf;
    return 0;
}

int fb_uci_import_file(const struct fb_uci *u, const char *pkg, const char *path)
{
    const char *args[] = {"-f", path, "import", pkg};
    return fb_uci_run(u, args, 4, NULL, 0, NULL, 0, NULL) == 0 ? 0 : -1;
}

int fb_uci_has_changes(const struct fb_uci *u, const char *pkg)
{
    char buf[8192];
    size_t len = 0;
    const char *args[] = {"changes", pkg};
    int nf = 0;
    int rc = run_uci(u, args, 2, NULL, 0, buf, sizeof buf, &len, &nf);
    OPENSSL_cleanse(buf, sizeof buf);
    if (rc == -1 && len >= sizeof buf - 1)
        return 1; /* truncated: certainly not empty */
    if (rc == 1 && nf)
        return 0; /* uci: Entry not found: no such package, nothing staged */
    if (rc != 0)
        return -1;
    return len > 0 ? 1 : 0;
}

int fb_uci_list_has(char **vals, size_t n, const char *want)
{
    size_t wl = strlen(want);
    for (size_t i = 0; i < n; i++) {
        /* an option may hold a space-separated list ('wan wan6') */
        const char *v = vals[i];
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

/* Parses one quoted value run ('a'\''b') at *p, unescaping in place into dst; advances *p. */
static int parse_quoted(char **p, char *end, char **dst_out)
{
    char *s = *p;
    char *dst = s;
    *dst_out = s;
    if (s >= end || *s != '\'')
        return -1;
    for (;;) {
        /* s at an opening quote */
        s++;
        while (s < end && *s != '\'')
            *dst++ = *s++;
        if (s >= end)
            return -1;
        s++; /* closing quote */
        if (end - s >= 3 && s[0] == '\\' && s[1] == '\'' && s[2] == '\'') {
            *dst++ = '\'';
            s += 2; /* now at the quote that reopens */
            continue;
        }
        break;
    }
    *dst = '\0';
    *p = s;
    return 0;
}

int fb_uci_show_parse(char *buf, size_t len, fb_uci_show_cb cb, void *ctx)
{
    char *p = buf, *end = buf + len;
    while (p < end) {
        char *key = p;
        char *eq = memchr(p, '=', (size_t)(end - p));
        char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!eq || (nl && nl < eq))
            return -1;
        *eq = '\0';
        p = eq + 1;
        char *dot1 = strchr(key, '.');
        if (!dot1)
            return -1;
        char *sec = dot1 + 1;
        char *dot2 = strchr(sec, '.');
        char *opt = NULL;
        if (dot2) {
            *dot2 = '\0';
            opt = dot2 + 1;
        }
        char *vals[FB_UCI_MAX_VALUES];
        size_t nvals = 0;
        if (!opt) {
            char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e)
                e = end;
            *e = '\0';
            vals[nvals++] = p;
            p = e + 1;
        } else {
            for (;;) {
                char *v;
                if (parse_quoted(&p, end, &v) != 0)
                    return -1;
                if (nvals < FB_UCI_MAX_VALUES)
                    vals[nvals++] = v;
                if (p < end && *p == ' ') {
                    p++;
                    continue;
                }
                if (p < end && *p != '\n')
                    return -1;
                p++;
                break;
            }
        }
        if (cb(ctx, sec, opt, vals, nvals) != 0)
            return -1;
    }
    return 0;
}

int fb_uci_show(const struct fb_uci *u, const char *pkg, fb_uci_show_cb cb, void *ctx)
{
    char *buf = malloc(FB_UCI_EXPORT_MAX);
    size_t len = 0;
    int rc;
    if (!buf)
        return -1;
    const char *args[] = {"-X", "show", pkg};
    int nf = 0;
    rc = run_uci(u, args, 3, NULL, 0, buf, FB_UCI_EXPORT_MAX, &len, &nf);
    rc = absent_or_error(rc, nf);
    if (rc == 0)
        rc = fb_uci_show_parse(buf, len, cb, ctx);
    OPENSSL_cleanse(buf, FB_UCI_EXPORT_MAX);
    free(buf);
    return rc;
}
