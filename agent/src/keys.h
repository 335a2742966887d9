/* Device identity and key files (Topics.md "Key files", "Fingerprints"). The bootstrap URI is in
 * bootstrap_uri.h, the derived broker password in broker_password.h. */
#ifndef FB_KEYS_H
#define FB_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "hpke.h"

#define FB_FINGERPRINT_LEN 19
#define FB_KEY_FILE_MAX 4096

/* "3f2a-91c0-7d44-e810": hex of SHA-256(pub)[0..8], four groups of four. out holds 20. */
void fb_fingerprint(const uint8_t pub[FB_X25519_LEN], char out[FB_FINGERPRINT_LEN + 1]);

#define FB_DEFAULT_ID_LEN 22
/* The device id used when the config leaves device_id empty: "omega-" and the 16 hex digits of the
 * key's fingerprint ("omega-3f2a91c07d44e810"): stable as long as the key, and 64 bits apart from
 * every other device (a default hostname such as OpenWrt or Omega-XXXX is not). out holds 23. */
void fb_default_device_id(const uint8_t pub[FB_X25519_LEN], char out[FB_DEFAULT_ID_LEN + 1]);

/* Reads "<label>:<base64url of 32 bytes>" from a key file ('#' comments, blank lines ignored).
 * label is "x25519-private" or "x25519-public". Exactly one key line, at most 4096 bytes, CRLF and
 * trailing spaces accepted; a small-order public key is refused. 0 or -1 with a reason in err. */
int fb_key_file_read(const char *path, const char *label, uint8_t key[FB_X25519_LEN], char *err, size_t errlen);
/* Writes a key file atomically (temporary file 0600, fsync, rename, fsync dir). 0 or -1. */
int fb_key_file_write(const char *path, const char *label, const uint8_t key[FB_X25519_LEN]);

/* Loads the device key, creating it on first start. *created = 1 if it was created. 0 or -1. */
int fb_identity_load_or_create(const char *path, uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN], int *created,
                               char *err, size_t errlen);

/* Parses a public key given either as 43 chars of base64url or as the path of a public key file;
 * small-order points are refused. */
int fb_public_key_parse(const char *text, uint8_t pk[FB_X25519_LEN], char *err, size_t errlen);

#endif
