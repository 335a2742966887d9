/* The derived broker password (Topics.md "Derived broker password"): never sent, computed on both sides. */
#include "broker_password.h"

#include <string.h>

#include <openssl/crypto.h>

#include "b64.h"

int fb_broker_password(const uint8_t sk[FB_X25519_LEN], const uint8_t peer_pub[FB_X25519_LEN], const char *device_id,
                       char out[FB_PASSWORD_LEN + 1])
{
    static const char salt[] = "fleetbootstrap-v1 broker";
    uint8_t shared[FB_X25519_LEN], prk[32], okm[32];
    int rc = -1;
    if (fb_x25519(sk, peer_pub, shared) == 0 &&
        fb_hkdf_extract((const uint8_t *)salt, sizeof salt - 1, shared, sizeof shared, prk) == 0 &&
        fb_hkdf_expand(prk, (const uint8_t *)device_id, strlen(device_id), okm, sizeof okm) == 0) {
        fb_b64url_encode(okm, sizeof okm, out);
        rc = 0;
    }
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(prk, sizeof prk);
    OPENSSL_cleanse(okm, sizeof okm);
    return rc;
}
