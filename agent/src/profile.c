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

#include "b64.h"
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
            if (fb_hex_digit(k[i]) < 0)
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
        if (i % 3 == 2 ? b[i] != ':' : fb_hex_digit(b[i]) < 0)
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

/* What a field may be: allowed at all (else it must be absent), required when allowed, valid. */
struct verdict {
    int allowed, required, valid;
    const char *not_allowed, *missing, *invalid; /* the problem in each case */
};

static int judge(const char *field, const char *value, int bad, const struct verdict *v, char *err, size_t errlen)
{
    if (!v->allowed)
        return (bad || value[0]) ? PROBLEM("%s: %s", field, v->not_allowed) : 0;
    if (!value[0] && !bad)
        return v->required ? PROBLEM("%s: %s", field, v->missing) : 0;
    return (bad || !v->valid) ? PROBLEM("%s: %s", field, v->invalid) : 0;
}

static int ssid_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {1, 1,
                        p->ssid_len <= FB_SSID_MAX && strnlen(p->ssid, FB_SSID_MAX + 1) == p->ssid_len &&
                            plain_text(p->ssid, FB_SSID_MAX),
                        NULL, "missing", "must be 1-32 bytes of UTF-8 without NUL or control characters"};
    return judge("ssid", p->ssid_len ? "x" : "", bad, &v, err, errlen);
}

static int encryption_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {1, 1, one_of(p->encryption, k_encs), NULL, "missing",
                        "unknown (none owe psk psk2 psk-mixed sae sae-mixed wpa2 wpa3)"};
    return judge("encryption", p->encryption, bad, &v, err, errlen);
}

static int key_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    if (!one_of(p->encryption, k_keyed) && (bad || p->key[0]))
        return PROBLEM("key: not allowed with encryption '%s'", p->encryption);
    struct verdict v = {1, one_of(p->encryption, k_keyed), valid_psk(p->key), NULL, "missing",
                        "must be 8-63 printable ASCII characters or 64 hex digits"};
    return judge("key", p->key, bad, &v, err, errlen);
}

static int bssid_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {1, 0, valid_bssid(p->bssid), NULL, NULL, "must look like aa:bb:cc:dd:ee:ff"};
    return judge("bssid", p->bssid, bad, &v, err, errlen);
}

static int eap_type_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {one_of(p->encryption, k_eap), 1, one_of(p->eap_type, k_eap_types),
                        "only allowed with wpa2/wpa3", "missing (required for wpa2/wpa3)", "must be peap, ttls or tls"};
    return judge("eap_type", p->eap_type, bad, &v, err, errlen);
}

static int identity_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {one_of(p->encryption, k_eap), 1, plain_text(p->identity, FB_EAP_FIELD_MAX),
                        "only allowed with wpa2/wpa3", "missing (required for wpa2/wpa3)",
                        "must be 1-128 bytes without control characters"};
    return judge("identity", p->identity, bad, &v, err, errlen);
}

static int password_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {one_of(p->encryption, k_eap) && strcmp(p->eap_type, "tls") != 0, 1,
                        plain_text(p->password, FB_EAP_FIELD_MAX), "only allowed with wpa2/wpa3 and peap/ttls",
                        "missing (required for peap/ttls)", "must be 1-128 bytes without control characters"};
    return judge("password", p->password, bad, &v, err, errlen);
}

static int ca_cert_rule(const struct fb_wifi_profile *p, int bad, char *err, size_t errlen)
{
    struct verdict v = {one_of(p->encryption, k_eap), 0, strncmp(p->ca_cert, "-----BEGIN ", 11) == 0,
                        "only allowed with wpa2/wpa3", NULL,
                        "must be a PEM text of at most 4096 bytes starting with '-----BEGIN '"};
    return judge("ca_cert", p->ca_cert, bad, &v, err, errlen);
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
        snprintf(err, errlen, "profile: not a JSON object with distinct member names");
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
