/* The device's broker password (Topics.md "Derived broker password"). */
#ifndef FB_BROKER_PASSWORD_H
#define FB_BROKER_PASSWORD_H

#include <stdint.h>

#include "hpke.h"

#define FB_PASSWORD_LEN 43 /* base64url of 32 bytes */

/* base64url(HKDF-SHA256(salt "fleetbootstrap-v1 broker", X25519(sk, peer), info = device id, 32)). */
int fb_broker_password(const uint8_t sk[FB_X25519_LEN], const uint8_t peer_pub[FB_X25519_LEN], const char *device_id,
                       char out[FB_PASSWORD_LEN + 1]);

#endif
