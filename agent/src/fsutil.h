/*
 * Small-file primitives shared by every module that persists something (keys, agent.state, the apply
 * transaction): the one atomic write (temporary file, fsync, rename, fsync of the directory), bounded
 * reads, directory fsync and creation.
 */
#ifndef FB_FSUTIL_H
#define FB_FSUTIL_H

#include <stddef.h>

/* Writes a whole small file atomically with the given mode: temp in the same dir, fsync, rename, fsync dir. */
int fb_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode);

/* fsync of a directory, so that renames and unlinks in it survive a power cut. 0 or -1. */
int fb_fsync_dir(const char *dir);

/* mkdir 0700 unless it exists; 0 when path is a directory afterwards, else -1. */
int fb_ensure_dir(const char *path);

/* "a/b" into out; -1 when it does not fit. */
int fb_path_join(char *out, size_t cap, const char *a, const char *b);

/*
 * Reads a whole file of at most cap - 1 bytes (no symlink followed) into buf, NUL-terminated.
 * 0 with *len set, 1 when the file does not exist, -1 when unreadable or too large.
 */
int fb_read_file(const char *path, char *buf, size_t cap, size_t *len);

/* unlink that treats a missing file as done. 0 or -1. */
int fb_remove_file(const char *dir, const char *name);

#endif
