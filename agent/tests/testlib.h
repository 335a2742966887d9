/* Minimal test support: checks counted, a final "N passed, M failed" line. */
#ifndef FB_TESTLIB_H
#define FB_TESTLIB_H

#include <stddef.h>
#include <stdint.h>

#define CHECK(cond) fb_t_check((cond) ? 1 : 0, #cond, __FILE__, __LINE__)

int fb_t_check(int ok, const char *what, const char *file, int line);
/* Prints the summary line; returns the process exit code. */
int fb_t_finish(void);
/* Reads a whole file (NUL-terminated); returns its length or -1. */
long fb_t_read_file(const char *path, char *buf, size_t cap);
/* Hex string to bytes; returns length or -1. */
long fb_t_hex(const char *hex, uint8_t *out, size_t cap);
/* A fresh temporary directory (static buffer). */
const char *fb_t_tmpdir(void);

#endif
