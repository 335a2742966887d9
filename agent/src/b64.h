/* base64url without padding (RFC 4648 section 5), and lowercase hex. */
#ifndef FB_B64_H
#define FB_B64_H

#include <stddef.h>
#include <stdint.h>

/* Encoded length for n bytes (no padding), without the terminating NUL. */
size_t fb_b64url_len(size_t n);
/* Writes NUL-terminated text; out must hold fb_b64url_len(n) + 1. Returns the text length. */
size_t fb_b64url_encode(const uint8_t *in, size_t n, char *out);
/*
 * Strict decode: only [A-Za-z0-9_-], no padding, no stray bits, length mod 4 != 1.
 * Returns the decoded length, or -1 on bad input or if it would exceed cap.
 */
long fb_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap);
/* Lowercase hex; out holds 2n + 1. */
void fb_hex_encode(const uint8_t *in, size_t n, char *out);
/* The value of a hex digit (either case), or -1. */
int fb_hex_digit(char c);
/* Exactly 2n hex digits (either case) into n bytes. 0 or -1. */
int fb_hex_decode(const char *in, uint8_t *out, size_t n);

#endif
