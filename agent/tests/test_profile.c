/* Wi-Fi profile rules (Topics.md "Wi-Fi profile"). */
#include <stdio.h>
#include <string.h>

#include "profile.h"
#include "testlib.h"

static struct fb_wifi_profile p;
static char err[256];

static int ok(const char *json) { return fb_profile_parse(json, strlen(json), &p, err, sizeof err) == 0; }

/* Rejected, and the message names the field. */
static int bad(const char *json, const char *field)
{
    int r = fb_profile_parse(json, strlen(json), &p, err, sizeof err) != 0 && strncmp(err, field, strlen(field)) == 0;
    if (!r)
        fprintf(stderr, "  %s -> '%s' (expected a %s error)\n", json, err, field);
    return r;
}

int main(void)
{
    CHECK(ok("{\"ssid\":\"Premises\",\"encryption\":\"psk2\",\"key\":\"correct horse battery\",\"hidden\":false}"));
    CHECK(strcmp(p.ssid, "Premises") == 0 && p.ssid_len == 8 && strcmp(p.encryption, "psk2") == 0 &&
          strcmp(p.key, "correct horse battery") == 0 && p.hidden == 0);
    fb_profile_wipe(&p);
    CHECK(p.key[0] == 0);
    CHECK(ok("{\"ssid\":\"Cafe\",\"encryption\":\"none\",\"hidden\":true,\"bssid\":\"AA:bb:cc:dd:ee:0f\"}"));
    CHECK(p.hidden == 1 && strcmp(p.bssid, "AA:bb:cc:dd:ee:0f") == 0 && p.key[0] == 0);
    CHECK(ok("{\"ssid\":\"12345678901234567890123456789012\",\"encryption\":\"owe\"}"));
    /* 32 bytes of UTF-8: 16 two-byte characters. */
    CHECK(ok("{\"ssid\":\"\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\\u00e9\",\"encryption\":\"owe\"}"));
    CHECK(p.ssid_len == 32);
    CHECK(ok("{\"ssid\":\"x\",\"encryption\":\"sae\",\"key\":\"0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef\"}"));
    CHECK(ok("{\"ssid\":\"n\",\"encryption\":\"none\",\"key\":null,\"hidden\":null,\"bssid\":null}"));
    CHECK(bad("{\"ssid\":null,\"encryption\":\"none\"}", "ssid"));
    CHECK(ok("{\"ssid\":\"x\",\"encryption\":\"psk-mixed\",\"key\":\"12345678\",\"unknown\":{\"a\":1}}"));
    CHECK(ok("{\"ssid\":\"corp\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\",\"identity\":\"bob\",\"password\":\"pw\"}"));
    CHECK(strcmp(p.identity, "bob") == 0 && strcmp(p.password, "pw") == 0);
    CHECK(ok("{\"ssid\":\"corp\",\"encryption\":\"wpa3\",\"eap_type\":\"tls\",\"identity\":\"dev\",\"ca_cert\":\"-----BEGIN CERTIFICATE-----\"}"));

    CHECK(bad("{\"encryption\":\"none\"}", "ssid"));
    CHECK(bad("{\"ssid\":\"\",\"encryption\":\"none\"}", "ssid"));
    CHECK(bad("{\"ssid\":\"123456789012345678901234567890123\",\"encryption\":\"none\"}", "ssid")); /* 33 bytes */
    CHECK(bad("{\"ssid\":\"a\\u0000b\",\"encryption\":\"none\"}", "ssid"));
    CHECK(bad("{\"ssid\":7,\"encryption\":\"none\"}", "ssid"));
    CHECK(bad("{\"ssid\":\"x\"}", "encryption"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wep\"}", "encryption"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"1234567\"}", "key")); /* 7 characters */
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"1234567890123456789012345678901234567890123456789012345678901234\\u00e9\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"tab\\tinside\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\",\"key\":\"12345678\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\",\"hidden\":1}", "hidden"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\",\"bssid\":\"aa:bb:cc:dd:ee\"}", "bssid"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\",\"bssid\":\"aa-bb-cc-dd-ee-ff\"}", "bssid"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"identity\":\"bob\"}", "eap_type"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"md5\",\"identity\":\"bob\"}", "eap_type"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"12345678\",\"eap_type\":\"peap\"}", "eap_type"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\"}", "identity"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\",\"identity\":\"b\"}", "password"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"tls\",\"identity\":\"b\",\"password\":\"p\"}", "password"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\",\"ca_cert\":\"pem\"}", "ca_cert"));
    CHECK(bad("{\"ssid\":\"c\",\"encryption\":\"wpa3\",\"eap_type\":\"tls\",\"identity\":\"d\",\"ca_cert\":\"MIIB\"}", "ca_cert"));
    CHECK(bad("[1]", "profile"));
    CHECK(bad("{\"ssid\":\"Premises\",\"ssid\":\"Other\",\"encryption\":\"none\"}", "profile"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"none\"", "profile"));
    CHECK(bad("{\"ssid\":\"\xff\",\"encryption\":\"none\"}", "profile")); /* invalid UTF-8 */
    CHECK(bad("{\"a\":[[[[[[[[[[1]]]]]]]]]],\"ssid\":\"x\",\"encryption\":\"none\"}", "profile"));
    CHECK(bad("{\"ssid\":\"bad\\nssid\",\"encryption\":\"none\"}", "ssid")); /* control character */
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\",\"identity\":\"b\\tc\",\"password\":\"p\"}",
              "identity"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\",\"identity\":\"b\",\"password\":\"p\\n\"}",
              "password"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"\"}", "key"));
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"wpa2\",\"eap_type\":\"tls\",\"identity\":\"b\",\"password\":\"\"}", "password"));
    /* A failed parse never leaves the key behind, and errors never quote it. */
    CHECK(bad("{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"secret-key-1\",\"hidden\":\"no\"}", "hidden"));
    CHECK(p.key[0] == 0 && strstr(err, "secret") == NULL);

    /* fb_profile_check: the same rules on a profile built in C (what apply checks before it writes). */
    struct fb_wifi_profile q;
    memset(&q, 0, sizeof q);
    snprintf(q.ssid, sizeof q.ssid, "Premises");
    q.ssid_len = 8;
    snprintf(q.encryption, sizeof q.encryption, "psk2");
    snprintf(q.key, sizeof q.key, "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef");
    CHECK(fb_profile_check(&q, err, sizeof err) == 0); /* 64 hex digits: a raw PSK */
    snprintf(q.key, sizeof q.key, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg");
    CHECK(fb_profile_check(&q, err, sizeof err) != 0 && strncmp(err, "key", 3) == 0); /* 64, not all hex */
    snprintf(q.key, sizeof q.key, "correct horse battery staple, a passphrase of sixty-four chars..");
    CHECK(strlen(q.key) == 64 && fb_profile_check(&q, err, sizeof err) != 0 && strncmp(err, "key", 3) == 0);
    snprintf(q.key, sizeof q.key, "correct horse battery");
    CHECK(fb_profile_check(&q, err, sizeof err) == 0);
    snprintf(q.ssid, sizeof q.ssid, "bad\nssid");
    q.ssid_len = strlen(q.ssid);
    CHECK(fb_profile_check(&q, err, sizeof err) != 0 && strncmp(err, "ssid", 4) == 0);
    snprintf(q.ssid, sizeof q.ssid, "Premises");
    q.ssid_len = 8;
    snprintf(q.bssid, sizeof q.bssid, "aa:bb:cc:dd:ee:fg");
    CHECK(fb_profile_check(&q, err, sizeof err) != 0 && strncmp(err, "bssid", 5) == 0);
    q.bssid[0] = '\0';
    snprintf(q.encryption, sizeof q.encryption, "none");
    CHECK(fb_profile_check(&q, err, sizeof err) != 0 && strncmp(err, "key", 3) == 0); /* a key with none */
    q.key[0] = '\0';
    CHECK(fb_profile_check(&q, err, sizeof err) == 0);
    return fb_t_finish();
}
