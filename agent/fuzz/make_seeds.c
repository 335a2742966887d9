/* Writes seed inputs for fuzz_envelope: valid envelopes sealed to the target's fixed keys, and
 * profiles. Usage: make_seeds DIR */
#include <stdio.h>
#include <string.h>

#include "envelope.h"
#include "hpke.h"

static int write_seed(const char *dir, const char *name, char mode, const char *body)
{
    char path[512];
    snprintf(path, sizeof path, "%s/seed-%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return -1;
    int ok = fputc(mode, f) != EOF && fputs(body, f) >= 0;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int main(int argc, char **argv)
{
    static const uint8_t dev_sk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t svc_sk[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                       16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    static char env[FB_ENVELOPE_MAX];
    static const char *const profiles[] = {
        "{\"ssid\":\"Premises\",\"encryption\":\"psk2\",\"key\":\"correct horse battery\",\"hidden\":false}",
        "{\"ssid\":\"corp\",\"encryption\":\"wpa2\",\"eap_type\":\"peap\",\"identity\":\"bob\",\"password\":\"pw\"}",
        "{\"ssid\":\"open\",\"encryption\":\"none\",\"bssid\":\"aa:bb:cc:dd:ee:ff\"}",
    };
    uint8_t dev_pk[32];
    if (argc != 2 || fb_x25519_public(dev_sk, dev_pk) != 0)
        return 2;
    int rc = 0;
    char name[32];
    for (size_t i = 0; i < sizeof profiles / sizeof profiles[0]; i++) {
        if (fb_envelope_seal(FB_KIND_WIFI, "omega-fuzz", 10 + i, dev_pk, svc_sk, (const uint8_t *)profiles[i],
                             strlen(profiles[i]), env, sizeof env) != 0)
            return 1;
        snprintf(name, sizeof name, "wifi-%zu", i);
        rc |= write_seed(argv[1], name, 0, env);
        snprintf(name, sizeof name, "env-%zu", i);
        rc |= write_seed(argv[1], name, 1, env);
        snprintf(name, sizeof name, "profile-%zu", i);
        rc |= write_seed(argv[1], name, 2, profiles[i]);
    }
    const char *reset = "{\"reason\":\"revoked\"}";
    if (fb_envelope_seal(FB_KIND_RESET, "omega-fuzz", 20, dev_pk, svc_sk, (const uint8_t *)reset, strlen(reset), env,
                         sizeof env) != 0)
        return 1;
    rc |= write_seed(argv[1], "reset", 0, env);
    return rc ? 1 : 0;
}
