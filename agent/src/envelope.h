/* The config-topic envelope (Topics.md "Envelope"): parse, context bytes, open. */
#ifndef FB_ENVELOPE_H
#define FB_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "hpke.h"

#define FB_ENVELOPE_MAX 16384
#define FB_PLAINTEXT_MAX 8192
#define FB_CT_MAX (FB_PLAINTEXT_MAX + FB_HPKE_TAG_LEN)
#define FB_DEVICE_ID_MAX 64
#define FB_KID_LEN 19
#define FB_SEQ_MAX 9007199254740991LL /* 2^53 - 1 */
#define FB_CTX_MAX (1 + 1 + 8 + 1 + FB_DEVICE_ID_MAX)

enum fb_kind { FB_KIND_WIFI = 1, FB_KIND_RESET = 2 };

struct fb_envelope {
    enum fb_kind kind;
    char device[FB_DEVICE_ID_MAX + 1];
    uint64_t seq; /* set whenever the seq field was readable, even if parsing failed later */
    char kid[FB_KID_LEN + 1];
    uint8_t enc[FB_X25519_LEN];
    uint8_t ct[FB_CT_MAX];
    size_t ct_len;
};

/* Parses and checks the structure (check 2 of Topics.md). 0, or -1 (bad_envelope). Size is the caller's check 1. */
int fb_envelope_parse(const char *json, size_t len, struct fb_envelope *out);

/* ctx = version || kind || seq(be64) || id_len || id. Returns its length, or 0 if id is not a valid id. */
size_t fb_envelope_ctx(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[FB_CTX_MAX]);
/* info = "fleetbootstrap-v1 info" || ctx; aad = "fleetbootstrap-v1 aad" || ctx. Return length or 0. */
size_t fb_envelope_info(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[22 + FB_CTX_MAX]);
size_t fb_envelope_aad(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[21 + FB_CTX_MAX]);

/*
 * HPKE-opens the envelope with info/aad built from OUR device id and the envelope's kind and seq.
 * pt must hold FB_PLAINTEXT_MAX bytes. 0 with *pt_len set, or -1 (bad_envelope).
 */
int fb_envelope_open(const struct fb_envelope *env, const char *own_id, const uint8_t skR[FB_X25519_LEN],
                     const uint8_t pkS[FB_X25519_LEN], uint8_t *pt, size_t *pt_len);

/* Seals a plaintext into envelope JSON (for tests and tools). out gets a NUL-terminated string. 0 or -1. */
int fb_envelope_seal(enum fb_kind kind, const char *device_id, uint64_t seq, const uint8_t pkR[FB_X25519_LEN],
                     const uint8_t skS[FB_X25519_LEN], const uint8_t *pt, size_t pt_len, char *out, size_t cap);

#endif
