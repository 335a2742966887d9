/* The bootstrap URI (Topics.md "Bootstrap URI"): what the operator scans to enroll a device. */
#ifndef FB_BOOTSTRAP_URI_H
#define FB_BOOTSTRAP_URI_H

#include <stddef.h>
#include <stdint.h>

#include "hpke.h"

#define FB_URI_MAX 256

/* FB1:I:<id>;K:<pub>;[M:<model>;][A:<mac>;]X:<checksum>;;  model/mac may be NULL. 0 or -1. */
int fb_bootstrap_uri(const char *device_id, const uint8_t pub[FB_X25519_LEN], const char *model, const char *mac,
                     char *out, size_t cap);

#endif
