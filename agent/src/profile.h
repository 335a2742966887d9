/* Premises Wi-Fi profile: parsed from an opened envelope, validated, handed to apply. The one set of
 * profile rules: the parser and apply both use them. */
#ifndef FB_PROFILE_H
#define FB_PROFILE_H

#include <stddef.h>

#define FB_SSID_MAX 32
#define FB_KEY_MAX 64
#define FB_ENC_MAX 15
#define FB_EAP_FIELD_MAX 128
#define FB_CA_CERT_MAX 4096

struct fb_wifi_profile {
    char ssid[FB_SSID_MAX + 1];      /* 1..32 bytes of UTF-8, no NUL inside */
    size_t ssid_len;
    char encryption[FB_ENC_MAX + 1]; /* OpenWRT name: none owe psk psk2 psk-mixed sae sae-mixed wpa2 wpa3 */
    char key[FB_KEY_MAX + 1];        /* PSK/SAE modes: 8..63 printable ASCII or 64 hex; else "" */
    int hidden;                      /* 0 or 1 */
    char bssid[18];                  /* "aa:bb:cc:dd:ee:ff" or "" */
    /* WPA-Enterprise (wpa2/wpa3); empty when unused. */
    char eap_type[16];
    char identity[FB_EAP_FIELD_MAX + 1];
    char password[FB_EAP_FIELD_MAX + 1];
    char ca_cert[FB_CA_CERT_MAX + 1];
};

/* Wipes the secret fields (key, password) with OPENSSL_cleanse. */
void fb_profile_wipe(struct fb_wifi_profile *p);

/*
 * Checks a profile built in C with the rules fb_profile_parse applies (an empty string is an absent
 * field). 0, or -1 with a message naming the first offending field in err (never a secret value).
 */
int fb_profile_check(const struct fb_wifi_profile *p, char *err, size_t errlen);

/*
 * Parses the profile JSON (the plaintext of a "wifi" envelope) and validates it with the rules
 * of fb_profile_check (FleetProtocol's WiFiProfile, and no control character in a text field). Returns 0 on success; on failure returns -1 and writes a
 * message naming the first offending field into err (never a secret value).
 */
int fb_profile_parse(const char *json, size_t len, struct fb_wifi_profile *out, char *err, size_t errlen);

#endif
