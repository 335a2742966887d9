/*
 * Enterprise CA certificates in the state directory, content-addressed
 * (premises-ca-<first 16 hex of SHA-256>.pem), so that the file the current (backed-up)
 * configuration points to is never overwritten by an apply that may be rolled back.
 */
#ifndef FB_APPLY_CA_H
#define FB_APPLY_CA_H

#include <stddef.h>

/* Writes pem to its file; path and name receive where. *created is set when it did not exist. 0 or -1. */
int fb_ca_write(const char *state_dir, const char *pem, char *path, size_t cap, char *name, size_t name_cap,
                int *created);

/* Removes premises CA files (this naming and the older premises-ca.pem) except `keep` (NULL: all). */
void fb_ca_remove_others(const char *state_dir, const char *keep);

#endif
