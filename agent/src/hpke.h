/*
 * HPKE (RFC 9180) in auth mode for one suite: DHKEM(X25519, HKDF-SHA256), HKDF-SHA256,
 * ChaCha20-Poly1305, single shot (context sequence number 0). Built on OpenSSL 3.0 EVP
 * primitives; OpenSSL's own HPKE API (3.2+) is deliberately not used.
 */
#ifndef FB_HPKE_H
#define FB_HPKE_H

#include <stddef.h>
#include <stdint.h>

#define FB_X25519_LEN 32
#define FB_HPKE_TAG_LEN 16
#define FB_HPKE_INFO_MAX 256 /* longer info or aad inputs are refused */

/* Random key pair (private from RAND_priv_bytes). 0 or -1. */
int fb_x25519_keypair(uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN]);
/* Public key of a private key. 0 or -1. */
int fb_x25519_public(const uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN]);
/* X25519(sk, pk); fails (-1) on an all-zero result. */
int fb_x25519(const uint8_t sk[FB_X25519_LEN], const uint8_t pk[FB_X25519_LEN], uint8_t out[FB_X25519_LEN]);

/* SHA-256 of data (fingerprints, the bootstrap URI checksum, content-addressed files). 0 or -1. */
int fb_sha256(const void *data, size_t len, uint8_t out[32]);

/* HKDF-SHA256 (RFC 5869) steps; salt may be NULL/0 (= HashLen zeros). 0 or -1. */
int fb_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len, uint8_t prk[32]);
int fb_hkdf_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len);

/*
 * SealAuth(pkR, info, aad, pt, skS). skE: fixed ephemeral private key for test vectors, or NULL
 * for a fresh random one. Writes enc (32 bytes) and ct (pt_len + 16 bytes). 0 or -1.
 */
int fb_hpke_seal_auth(const uint8_t pkR[FB_X25519_LEN], const uint8_t skS[FB_X25519_LEN],
                      const uint8_t *skE, const uint8_t *info, size_t info_len, const uint8_t *aad,
                      size_t aad_len, const uint8_t *pt, size_t pt_len, uint8_t enc[FB_X25519_LEN],
                      uint8_t *ct);

/*
 * OpenAuth(enc, skR, info, aad, ct, pkS). Writes ct_len - 16 bytes of plaintext to pt.
 * Returns 0, or -1 for any failure (the caller learns nothing about which check failed);
 * pt is wiped on failure.
 */
int fb_hpke_open_auth(const uint8_t enc[FB_X25519_LEN], const uint8_t skR[FB_X25519_LEN],
                      const uint8_t pkS[FB_X25519_LEN], const uint8_t *info, size_t info_len,
                      const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt);

#endif
