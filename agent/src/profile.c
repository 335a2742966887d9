/*
 * The agent's one set of Wi-Fi profile rules (FleetProtocol's WiFiProfile, plus: no control character
 * in a text field, since uci's file and batch syntax cannot carry one). fb_profile_parse applies them
 * to the JSON of an envelope, field by field; fb_profile_check applies the same rules to a profile
 * built in C (apply checks every profile it is handed, the provisioning network's included).
 */
#include "profile.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "envelope.h"
#include "json_util.h"

static const char *const k_encs[] = {"none", "owe", "psk", "psk2", "psk-mixed", "sae", "sae-mixed", "wpa2", "wpa3",
                                     NULL};
static const char *const k_keyed[] = {"psk", "psk2", "psk-mixed", "sae", "sae-mixed", NULL};
static const char *const k_eap[] = {"wpa2", "wpa3", NULL};
static const char *const k_eap_types[] = {"peap", "ttls", "tls", NULL};

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

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 1..max bytes without NUL or control characters. */
static int plain_text(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 0;
    return 1;
}

/* 8..63 printable ASCII characters, or exactly 64 hex digits (a raw PSK). */
static int valid_psk(const char *k)
{
    size_t n = strnlen(k, FB_KEY_MAX + 1);
    if (n == 64) {
        for (size_t i = 0; i < n; i++)
            if (!is_hex(k[i]))
                return 0;
        return 1;
    }
    if (n < 8 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] < 0x20 || k[i] > 0x7e)
            return 0;
    return 1;
}

static int valid_bssid(const char *b)
{
    if (strnlen(b, 18) != 17)
        return 0;
    for (size_t i = 0; i < 17; i++) {
        if (i % 3 == 2 ? b[i] != ':' : !is_hex(b[i]))
            return 0;
    }
    return 1;
}

/*
 * The rules, one function a field, in the order fields are checked. bad = the JSON had the field, but
 * not as a string that fits (or as ""): present, yet with no value to look at. A rule returns 0 when
 * the field is right, else -1 with "<field>: <problem>" in err (never a secret value).
 */
typedef int (*field_rule)(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen);

#define PROBLEM(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int ssid_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (p->ssid_len == 0 && !bad)
        return PROBLEM("ssid: missing");
    if (bad || p->ssid_len > FB_SSID_MAX || strnlen(p->ssid, FB_SSID_MAX + 1) != p->ssid_len ||
        !plain_text(p->ssid, FB_SSID_MAX))
        return PROBLEM("ssid: must be 1-32 bytes of UTF-8 without NUL or control characters");
    return 0;
}

static int encryption_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!p->encryption[0] && !bad)
        return PROBLEM("encryption: missing");
    if (bad || !one_of(p->encryption, k_encs))
        return PROBLEM("encryption: unknown (none owe psk psk2 psk-mixed sae sae-mixed wpa2 wpa3)");
    return 0;
}

static int key_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_keyed))
        return (bad || p->key[0]) ? PROBLEM("key: not allowed with encryption '%s'", p->encryption) : 0;
    if (!p->key[0] && !bad)
        return PROBLEM("key: missing");
    if (bad || !valid_psk(p->key))
        return PROBLEM("key: must be 8-63 printable ASCII characters or 64 hex digits");
    return 0;
}

static int bssid_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    return (bad || (p->bssid[0] && !valid_bssid(p->bssid))) ? PROBLEM("bssid: must look like aa:bb:cc:dd:ee:ff") : 0;
}

static int eap_type_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_eap))
        return (bad || p->eap_type[0]) ? PROBLEM("eap_type: only allowed with wpa2/wpa3") : 0;
    if (!p->eap_type[0] && !bad)
        return PROBLEM("eap_type: missing (required for wpa2/wpa3)");
    if (bad || !one_of(p->eap_type, k_eap_types))
        return PROBLEM("eap_type: must be peap, ttls or tls");
    return 0;
}

static int identity_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_eap))
        return (bad || p->identity[0]) ? PROBLEM("identity: only allowed with wpa2/wpa3") : 0;
    if (!p->identity[0] && !bad)
        return PROBLEM("identity: missing (required for wpa2/wpa3)");
    if (bad || !plain_text(p->identity, FB_EAP_FIELD_MAX))
        return PROBLEM("identity: must be 1-128 bytes without control characters");
    return 0;
}

static int password_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_eap) || strcmp(p->eap_type, "tls") == 0)
        return (bad || p->password[0]) ? PROBLEM("password: only allowed with wpa2/wpa3 and peap/ttls") : 0;
    if (!p->password[0] && !bad)
        return PROBLEM("password: missing (required for peap/ttls)");
    if (bad || !plain_text(p->password, FB_EAP_FIELD_MAX))
        return PROBLEM("password: must be 1-128 bytes without control characters");
    return 0;
}

static int ca_cert_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_eap))
        return (bad || p->ca_cert[0]) ? PROBLEM("ca_cert: only allowed with wpa2/wpa3") : 0;
    if (bad || (p->ca_cert[0] && strncmp(p->ca_cert, "-----BEGIN ", 11) != 0))
        return PROBLEM("ca_cert: must be a PEM text of at most 4096 bytes starting with '-----BEGIN '");
    return 0;
}

/* The string fields in checking order; hidden (a boolean, no rule beyond its type) goes before bssid. */
static const struct {
    const char *name;
    size_t offset, size;
    field_rule rule;
} k_fields[] = {
    {"ssid", offsetof(struct fb_wifi_profile, ssid), FB_SSID_MAX + 1, ssid_rule},
    {"encryption", offsetof(struct fb_wifi_profile, encryption), FB_ENC_MAX + 1, encryption_rule},
    {"key", offsetof(struct fb_wifi_profile, key), FB_KEY_MAX + 1, key_rule},
    {"bssid", offsetof(struct fb_wifi_profile, bssid), sizeof ((struct fb_wifi_profile *)0)->bssid, bssid_rule},
    {"eap_type", offsetof(struct fb_wifi_profile, eap_type), sizeof ((struct fb_wifi_profile *)0)->eap_type,
     eap_type_rule},
    {"identity", offsetof(struct fb_wifi_profile, identity), FB_EAP_FIELD_MAX + 1, identity_rule},
    {"password", offsetof(struct fb_wifi_profile, password), FB_EAP_FIELD_MAX + 1, password_rule},
    {"ca_cert", offsetof(struct fb_wifi_profile, ca_cert), FB_CA_CERT_MAX + 1, ca_cert_rule},
};
#define N_FIELDS (sizeof k_fields / sizeof k_fields[0])

int fb_profile_check(const struct fb_wifi_profile *p, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (k_fields[i].rule(p, 0, err, errlen) != 0)
            return -1;
    return 0;
}

int fb_profile_parse(const char *json, size_t len, struct fb_wifi_profile *out, char *err, size_t errlen)
{
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
    int rc = 0;
    for (size_t i = 0; i < N_FIELDS && rc == 0; i++) {
        if (k_fields[i].rule == bssid_rule && fb_json_bool(obj, "hidden", &out->hidden) < 0) {
            snprintf(err, errlen, "hidden: must be true or false");
            rc = -1;
            break;
        }
        const char *s;
        size_t n = 0;
        int r = fb_json_string(obj, k_fields[i].name, 1, k_fields[i].size - 1, &s, &n);
        if (r == 1) {
            memcpy((char *)out + k_fields[i].offset, s, n + 1);
            if (k_fields[i].rule == ssid_rule)
                out->ssid_len = n;
        }
        rc = k_fields[i].rule(out, r < 0, err, errlen);
    }
    json_object_put(obj); /* json-c frees its copies; it does not wipe them (the key was in the plaintext) */
    if (rc != 0)
        fb_profile_wipe(out);
    return rc;
}
