/* Running external tools (uci, wifi, ubus): fork/execvp with an argument vector, bounded capture. */
#ifndef FB_PROC_H
#define FB_PROC_H

#include <stddef.h>

#define FB_PROC_IN_MAX 4096 /* stdin is written into the pipe before the fork: must fit its buffer */

struct fb_proc_out {
    char *out;        /* caller's buffer for stdout, NUL-terminated; may be NULL (discard) */
    size_t out_cap;   /* its size including the NUL */
    size_t out_len;   /* bytes stored (without the NUL) */
    int out_truncated;/* 1 when the tool wrote more than out_cap - 1 bytes */
    char err[256];    /* first bytes of stderr, NUL-terminated (for diagnostics; tools print no secrets) */
    int exit_code;    /* exit status, or 128 + signal number, or -1 when it could not run */
};

/*
 * Runs argv[0] (looked up in PATH when it has no '/') with argv, stdin from `in` (in_len bytes,
 * at most FB_PROC_IN_MAX; NULL = empty), captures stdout and stderr. Kills the child after
 * timeout_ms. Returns 0 when the tool ran to completion (look at exit_code), -1 when it could not
 * be started or timed out (exit_code is then -1).
 */
int fb_proc_run(char *const argv[], const char *in, size_t in_len, int timeout_ms, struct fb_proc_out *res);

#endif
