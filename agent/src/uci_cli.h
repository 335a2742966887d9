/* Thin, checked wrappers around the `uci` command line tool (one call per value, private delta dir). */
#ifndef FB_UCI_CLI_H
#define FB_UCI_CLI_H

#include <limits.h>
#include <stddef.h>

#define FB_UCI_TIMEOUT_MS 30000
#define FB_UCI_CONF2DIR "/var/run/uci" /* uci since 2025-01 reads (and commits) a package here when it exists */
#define FB_UCI_EXPORT_MAX (128 * 1024) /* bound on one package's `uci export` / `uci show` output */
#define FB_UCI_MAX_VALUES 32           /* list items handed to a show callback */

struct fb_uci {
    const char *uci_path; /* binary: absolute or looked up in PATH */
    const char *confdir;  /* -c DIR, or NULL for the tool's default */
    const char *savedir;  /* -t DIR: private delta directory (staged changes of other callers stay apart) */
};

/* Runs `uci [-c confdir] -t savedir ARGS...`; out may be NULL. Returns the exit code, -1 if it could not run. */
int fb_uci_run(const struct fb_uci *u, const char *const *args, size_t nargs, const char *in, size_t in_len,
               char *out, size_t out_cap, size_t *out_len);

/*
 * Does this uci know `-t` (uci since 2021-04-12)? An older one prints its usage and exits 0 with no
 * output for every call with `-t`, which would make every call look successful and empty. Asks for a
 * package that does not exist: a uci with -t says "Entry not found". 1 supported, 0 not, -1 could not run.
 */
int fb_uci_supports_savedir(const struct fb_uci *u);

/* `uci set pkg.sec[.opt]=value`; opt may be NULL (section type). 0 on exit code 0, else -1. Not for secrets. */
int fb_uci_set(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value);

/*
 * Sets a secret value without putting it in argv: one `uci batch` line on stdin, then reads the value
 * back with `uci get` and compares (batch exits 0 even when its line failed). 0 or -1.
 */
int fb_uci_set_secret(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value);

/* `uci delete pkg.sec[.opt]`; 0 on success, -1 otherwise. */
int fb_uci_delete(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt);

/* `uci add_list pkg.sec.opt=value`. */
int fb_uci_add_list(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, const char *value);

/* `uci get pkg.sec[.opt]` into out (trailing newline removed). 0 found, 1 not found, -1 error. */
int fb_uci_get(const struct fb_uci *u, const char *pkg, const char *sec, const char *opt, char *out, size_t cap);

int fb_uci_commit(const struct fb_uci *u, const char *pkg);

/* `uci export pkg` into a malloc'd buffer (*out, *len); 0, 1 when the package does not exist, -1 error. */
int fb_uci_export(const struct fb_uci *u, const char *pkg, char **out, size_t *len);

/* `uci -f FILE import pkg`: replaces the committed package with the file's content. */
int fb_uci_import_file(const struct fb_uci *u, const char *pkg, const char *path);

/* 1 when `uci changes pkg` lists staged changes (ours or another caller's), 0 when none, -1 on error. */
int fb_uci_has_changes(const struct fb_uci *u, const char *pkg);

/*
 * `uci -X show pkg`, calling cb for every line: section lines with opt == NULL and vals[0] = type;
 * option lines with the unquoted values (one for an option, several for a list).
 * Returns 0, 1 when the package does not exist, -1 on error or when cb returns non-zero.
 */
typedef int (*fb_uci_show_cb)(void *ctx, const char *sec, const char *opt, char **vals, size_t nvals);
int fb_uci_show(const struct fb_uci *u, const char *pkg, fb_uci_show_cb cb, void *ctx);

/*
 * Parses `uci show` text (exposed for tests): pkg.sec[.opt]=value lines, values single-quoted with
 * '\'' for a quote, list items separated by spaces. This is the tool's output format; config.c reads
 * the other format, the uci *file* (config/option/list lines with bare, '...' or "..." tokens): two
 * formats, two small parsers.
 */
int fb_uci_show_parse(char *buf, size_t len, fb_uci_show_cb cb, void *ctx);

/* 1 when one of the values, or a word of a space-separated value ('wan wan6'), is want. */
int fb_uci_list_has(char **vals, size_t n, const char *want);

#endif
