#include "profile.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "envelope.h"
#include "json_util.h"

void fb_profile_wipe(struct fb_wifi_profile *p)
{
    OPENSSL_cleanse(p->key, sizeof p->key);
    OPENSSL_cleanse(p->password, sizeof p->password);
}

static int one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(s, *list) == 0)
            return 1;
    return 0;
}

static int valid_psk(const char *k, size_t n)
{
    if (n == 64) {
        for (size_t i = 0; i < n; i++) {
            char c = k[i];
            if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                goto printable;
        }
        return 1;
    }
printable:
    if (n < 8 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x20 || k[i] > 0x7e)
            return 0;
    return 1;
}

static int valid_bssid(const char *b, size_t n)
{
    if (n != 17)
        return 0;
    for (size_t i = 0; i < 17; i++) {
        char c = b[i];
        if (i % 3 == 2) {
            if (c != ':')
                return 0;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return 0;
        }
    }
    return 1;
}

#define FAIL(...)                                                                                                  \
    do {                                                                                                           \
        snprintf(err, errlen, __VA_ARGS__);                                                                        \
        goto done;                                                                                                 \
    } while (0)

int fb_profile_parse(const char *json, size_t len, struct fb_wifi_profile *out, char *err, size_t errlen)
{
    static const char *const encs[] = {"none", "owe", "psk", "psk2", "psk-mixed", "sae", "sae-mixed", "wpa2", "wpa3",
                                       NULL};
    static const char *const keyed[] = {"psk", "psk2", "psk-mixed", "sae", "sae-mixed", NULL};
    static const char *const eap[] = {"wpa2", "wpa3", NULL};
    static const char *const eap_types[] = {"peap", "ttls", "tls", NULL};
    memset(out, 0, sizeof *out);
    if (len > FB_PLAINTEXT_MAX) {
        snprintf(err, errlen, "profile: larger than %d bytes", FB_PLAINTEXT_MAX);
        return -1;
    }
    struct json_object *obj = fb_json_parse_object(json, len);
    if (obj == NULL) {
        snprintf(err, errlen, "profile: not a JSON object");
        return -1;
    }
    int rc = -1, r;
    const char *s;
    size_t n;

    r = fb_json_string(obj, "ssid", 1, FB_SSID_MAX, &s, &n);
    if (r != 1)
        FAIL("ssid: %s", r == 0 ? "missing" : "must be 1-32 bytes of UTF-8 without NUL");
    memcpy(out->ssid, s, n + 1);
    out->ssid_len = n;

    r = fb_json_string(obj, "encryption", 1, FB_ENC_MAX, &s, &n);
    if (r != 1 || !one_of(s, encs))
        FAIL("encryption: %s", r == 0 ? "missing" : "unknown (none owe psk psk2 psk-mixed sae sae-mixed wpa2 wpa3)");
    memcpy(out->encryption, s, n + 1);
    int is_keyed = one_of(out->encryption, keyed), is_eap = one_of(out->encryption, eap);

    r = fb_json_string(obj, "key", 0, 1024, &s, &n);
    if (is_keyed) {
        if (r != 1 || !valid_psk(s, n))
            FAIL("key: %s", r == 0 ? "missing" : "must be 8-63 printable ASCII characters or 64 hex digits");
        memcpy(out->key, s, n + 1);
    } else if (r != 0) {
        FAIL("key: not allowed with encryption '%s'", out->encryption);
    }

    r = fb_json_bool(obj, "hidden", &out->hidden);
    if (r < 0)
        FAIL("hidden: must be true or false");

    r = fb_json_string(obj, "bssid", 0, 64, &s, &n);
    if (r < 0 || (r == 1 && !valid_bssid(s, n)))
        FAIL("bssid: must look like aa:bb:cc:dd:ee:ff");
    if (r == 1)
        memcpy(out->bssid, s, n + 1);

    r = fb_json_string(obj, "eap_type", 1, 15, &s, &n);
    if (is_eap) {
        if (r != 1 || !one_of(s, eap_types))
            FAIL("eap_type: %s", r == 0 ? "missing (required for wpa2/wpa3)" : "must be peap, ttls or tls");
        memcpy(out->eap_type, s, n + 1);
    } else if (r != 0) {
        FAIL("eap_type: only allowed with wpa2/wpa3");
    }

    r = fb_json_string(obj, "identity", 1, FB_EAP_FIELD_MAX, &s, &n);
    if (is_eap) {
        if (r != 1)
            FAIL("identity: %s", r == 0 ? "missing (required for wpa2/wpa3)" : "must be 1-128 bytes");
        memcpy(out->identity, s, n + 1);
    } else if (r != 0) {
        FAIL("identity: only allowed with wpa2/wpa3");
    }

    r = fb_json_string(obj, "password", 1, FB_EAP_FIELD_MAX, &s, &n);
    int needs_password = is_eap && strcmp(out->eap_type, "tls") != 0;
    if (needs_password) {
        if (r != 1)
            FAIL("password: %s", r == 0 ? "missing (required for peap/ttls)" : "must be 1-128 bytes");
        memcpy(out->password, s, n + 1);
    } else if (r != 0) {
        FAIL("password: only allowed with wpa2/wpa3 and peap/ttls");
    }

    r = fb_json_string(obj, "ca_cert", 1, FB_CA_CERT_MAX, &s, &n);
    if (is_eap) {
        if (r < 0 || (r == 1 && strncmp(s, "-----BEGIN ", 11) != 0))
            FAIL("ca_cert: must be a PEM text of at most 4096 bytes starting with '-----BEGIN '");
        if (r == 1)
            memcpy(out->ca_cert, s, n + 1);
    } else if (r != 0) {
        FAIL("ca_cert: only allowed with wpa2/wpa3");
    }
    rc = 0;
done:
    json_object_put(obj); /* json-c frees its copies; it does not wipe them (the key was in the plaintext) */
    if (rc != 0)
        fb_profile_wipe(out);
    return rc;
}
