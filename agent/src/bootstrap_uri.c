/* The bootstrap URI printed (and shown as a QR code) by `omega-agent identity` (Topics.md "Bootstrap URI"). */
#include "bootstrap_uri.h"

#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "json_util.h"

static int valid_model(const char *m)
{
    size_t n = strlen(m);
    return n >= 1 && n <= 32 && fb_valid_id(m, n);
}

static int valid_mac(const char *a)
{
    if (strlen(a) != 12)
        return 0;
    for (int i = 0; i < 12; i++)
        if (!((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f')))
            return 0;
    return 1;
}

int fb_bootstrap_uri(const char *device_id, const uint8_t pub[FB_X25519_LEN], const char *model, const char *mac,
                     char *out, size_t cap)
{
    char b64[44];
    if (!fb_valid_id(device_id, strnlen(device_id, 65)) || (model && !valid_model(model)) || (mac && !valid_mac(mac)))
        return -1;
    fb_b64url_encode(pub, FB_X25519_LEN, b64);
    int n = snprintf(out, cap, "FB1:I:%s;K:%s;%s%s%s%s%s%s", device_id, b64, model ? "M:" : "", model ? model : "",
                     model ? ";" : "", mac ? "A:" : "", mac ? mac : "", mac ? ";" : "");
    if (n < 0 || (size_t)n + 14 >= cap)
        return -1;
    uint8_t h[32];
    char hex[9];
    if (fb_sha256(out, (size_t)n, h) != 0)
        return -1;
    fb_hex_encode(h, 4, hex);
    snprintf(out + n, cap - (size_t)n, "X:%s;;", hex);
    return 0;
}
