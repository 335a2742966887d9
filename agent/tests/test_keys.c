/* Fingerprint, bootstrap URI, derived broker password (values computed independently in Python),
 * key files (0600, atomic, strict format), state file. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bootstrap_uri.h"
#include "broker_password.h"
#include "keys.h"
#include "state.h"
#include "testlib.h"

int main(void)
{
    uint8_t skR[32], pkR[32], pkS[32], sk[32], pk[32], sk2[32], pk2[32];
    CHECK(fb_t_hex("3ca22a6d1cda1bb9480949ec5329d3bf0b080ca4c45879c95eddb55c70b80b82", skR, 32) == 32);
    CHECK(fb_t_hex("1a478716d63cb2e16786ee93004486dc151e988b34b475043d3e0175bdb01c44", pkR, 32) == 32);
    CHECK(fb_t_hex("f0f4f9e96c54aeed3f323de8534fffd7e0577e4ce269896716bcb95643c8712b", pkS, 32) == 32);

    char fp[20];
    fb_fingerprint(pkR, fp);
    CHECK(strcmp(fp, "076a-2558-5d71-b69d") == 0);
    /* Default device id: "omega-" and the fingerprint's 16 hex digits; a valid id and client id (<= 23). */
    char id[FB_DEFAULT_ID_LEN + 1];
    fb_default_device_id(pkR, id);
    CHECK(strcmp(id, "omega-076a25585d71b69d") == 0 && strlen(id) == FB_DEFAULT_ID_LEN);
    fb_default_device_id(pkS, id);
    CHECK(strncmp(id, "omega-", 6) == 0 && strcmp(id, "omega-076a25585d71b69d") != 0);

    char uri[FB_URI_MAX];
    CHECK(fb_bootstrap_uri("omega-a1b2", pkR, "omega2", "40a36bc00001", uri, sizeof uri) == 0);
    CHECK(strcmp(uri, "FB1:I:omega-a1b2;K:GkeHFtY8suFnhu6TAESG3BUemIs0tHUEPT4Bdb2wHEQ;M:omega2;A:40a36bc00001;"
                      "X:c5028aa1;;") == 0);
    CHECK(fb_bootstrap_uri("omega-a1b2", pkR, NULL, NULL, uri, sizeof uri) == 0);
    CHECK(strcmp(uri, "FB1:I:omega-a1b2;K:GkeHFtY8suFnhu6TAESG3BUemIs0tHUEPT4Bdb2wHEQ;X:fac45474;;") == 0);
    CHECK(fb_bootstrap_uri("omega a1b2", pkR, NULL, NULL, uri, sizeof uri) != 0);
    CHECK(fb_bootstrap_uri("omega-a1b2", pkR, NULL, "40A36BC00001", uri, sizeof uri) != 0);
    CHECK(fb_bootstrap_uri("omega-a1b2", pkR, "omega/2", NULL, uri, sizeof uri) != 0);

    char pw[FB_PASSWORD_LEN + 1], pw2[FB_PASSWORD_LEN + 1];
    CHECK(fb_broker_password(skR, pkS, "omega-a1b2", pw) == 0);
    CHECK(strcmp(pw, "5MM3QytGcHQXO1RiqHSTP7njqEFxAAI1BWyWkABg2tU") == 0);
    /* Both sides compute the same password. */
    CHECK(fb_x25519_keypair(sk, pk) == 0 && fb_x25519_keypair(sk2, pk2) == 0);
    CHECK(fb_broker_password(sk, pk2, "d1", pw) == 0 && fb_broker_password(sk2, pk, "d1", pw2) == 0);
    CHECK(strcmp(pw, pw2) == 0);
    CHECK(fb_broker_password(sk, pk2, "d2", pw2) == 0 && strcmp(pw, pw2) != 0);

    /* Identity: created 0600 on first run, the same key loaded afterwards. */
    const char *dir = fb_t_tmpdir();
    char path[512], other[512];
    snprintf(path, sizeof path, "%s/device.key", dir);
    int created = -1;
    char err[300];
    CHECK(fb_identity_load_or_create(path, sk, pk, &created, err, sizeof err) == 0 && created == 1);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    CHECK(fb_identity_load_or_create(path, sk2, pk2, &created, err, sizeof err) == 0 && created == 0);
    CHECK(memcmp(sk, sk2, 32) == 0 && memcmp(pk, pk2, 32) == 0);
    char text[512];
    CHECK(fb_t_read_file(path, text, sizeof text) > 0 && strstr(text, "\nx25519-private:") != NULL);
    /* No temporary files left behind. */
    snprintf(other, sizeof other, "ls %s | wc -l", dir);
    FILE *ls = popen(other, "r");
    int count = -1;
    CHECK(ls && fscanf(ls, "%d", &count) == 1 && count == 1);
    if (ls)
        pclose(ls);
    /* A group-readable key is refused. */
    CHECK(chmod(path, 0640) == 0);
    CHECK(fb_identity_load_or_create(path, sk2, pk2, &created, err, sizeof err) != 0 && strstr(err, "chmod 600"));
    CHECK(chmod(path, 0600) == 0);
    /* A symlink to a private key is refused (O_NOFOLLOW), and nothing new is created in its place. */
    char link_path[600];
    snprintf(link_path, sizeof link_path, "%s/link.key", dir);
    CHECK(symlink(path, link_path) == 0);
    CHECK(fb_identity_load_or_create(link_path, sk2, pk2, &created, err, sizeof err) != 0 && created == 0);
    CHECK(unlink(link_path) == 0);
    /* Key file format. */
    snprintf(other, sizeof other, "%s/pub.key", dir);
    CHECK(fb_key_file_write(other, "x25519-public", pkS) == 0);
    CHECK(fb_public_key_parse(other, pk2, err, sizeof err) == 0 && memcmp(pk2, pkS, 32) == 0);
    CHECK(fb_public_key_parse("8PT56WxUru0_Mj3oU0__1-BXfkziaYlnFry5VkPIcSs", pk2, err, sizeof err) == 0 &&
          memcmp(pk2, pkS, 32) == 0);
    CHECK(fb_key_file_read(other, "x25519-private", sk2, err, sizeof err) != 0);
    FILE *f = fopen(other, "w");
    CHECK(f && fputs("# c\n\nx25519-public:AAAA\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_public_key_parse(other, pk2, err, sizeof err) != 0);
    CHECK(fb_public_key_parse("short", pk2, err, sizeof err) != 0);
    CHECK(fb_public_key_parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", pk2, err, sizeof err) != 0 &&
          strstr(err, "small-order"));
    f = fopen(other, "w");
    CHECK(f && fputs("# c\r\nx25519-public:8PT56WxUru0_Mj3oU0__1-BXfkziaYlnFry5VkPIcSs  \r\n\r\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_public_key_parse(other, pk2, err, sizeof err) == 0 && memcmp(pk2, pkS, 32) == 0);
    f = fopen(other, "w");
    CHECK(f && fputs("x25519-public:8PT56WxUru0_Mj3oU0__1-BXfkziaYlnFry5VkPIcSs\nx25519-public:8PT56WxUru0_Mj3oU0__1-BXfkziaYlnFry5VkPIcSs\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_public_key_parse(other, pk2, err, sizeof err) != 0 && strstr(err, "more than one"));

    /* State: missing = zeros, round trip, corrupt = error. */
    struct fb_state s;
    CHECK(fb_state_load(dir, &s) == 0 && s.seq == 0 && s.boot == 0);
    s.seq = 9007199254740991ULL;
    s.boot = 7;
    CHECK(fb_state_save(dir, &s) == 0);
    struct fb_state s2;
    CHECK(fb_state_load(dir, &s2) == 0 && s2.seq == s.seq && s2.boot == 7 && s2.outcome.seq == 0);
    snprintf(other, sizeof other, "%s/agent.state", dir);
    CHECK(stat(other, &st) == 0 && (st.st_mode & 0777) == 0600);
    /* The outcome travels with the seq in the one atomic file: state, reason, ts, acked, detail. */
    s.outcome = (struct fb_outcome){.seq = 12, .state = "failed", .reason = FB_REASON_INVALID_PROFILE,
                                    .ts = 1795312345, .acked = 0, .detail = "ssid: 33 bytes; at most 32"};
    CHECK(fb_state_save(dir, &s) == 0 && fb_state_load(dir, &s2) == 0);
    CHECK(s2.seq == s.seq && s2.outcome.seq == 12 && strcmp(s2.outcome.state, "failed") == 0 &&
          s2.outcome.reason == FB_REASON_INVALID_PROFILE && s2.outcome.ts == 1795312345 && s2.outcome.acked == 0 &&
          strcmp(s2.outcome.detail, s.outcome.detail) == 0);
    s.outcome = (struct fb_outcome){.seq = 13, .state = "applied", .ts = 5, .acked = 1};
    CHECK(fb_state_save(dir, &s) == 0 && fb_state_load(dir, &s2) == 0);
    CHECK(s2.outcome.seq == 13 && strcmp(s2.outcome.state, "applied") == 0 && s2.outcome.reason == FB_REASON_NONE &&
          s2.outcome.acked == 1 && s2.outcome.detail[0] == '\0');
    s.outcome.reason = FB_REASON_TIMEOUT; /* a reason belongs to failed only */
    CHECK(fb_state_save(dir, &s) == 0 && fb_state_load(dir, &s2) != 0);
    s.outcome = (struct fb_outcome){.seq = 13, .state = "online", .ts = 5};
    CHECK(fb_state_save(dir, &s) != 0); /* not an outcome */
    static const char *const bad[] = {
        "seq 1\nboot 1\noutcome 0 applied - 5 0\n",  "seq 1\nboot 1\noutcome 2 applied - 5 2\n",
        "seq 1\nboot 1\noutcome 2 failed nope 5 0\n", "seq 1\nboot 1\noutcome 2 applied - 5\n",
        "seq 1\nboot 1\ndetail orphan\n",             "seq 1\nboot 1\noutcome 2 applied - 5 0 extra\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        f = fopen(other, "w");
        CHECK(f && fputs(bad[i], f) >= 0 && fclose(f) == 0);
        if (!CHECK(fb_state_load(dir, &s2) != 0))
            fprintf(stderr, "  accepted %s", bad[i]);
    }
    f = fopen(other, "w");
    CHECK(f && fputs("seq 12x\nboot 1\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_state_load(dir, &s2) != 0);
    f = fopen(other, "w");
    CHECK(f && fputs("boot 1\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_state_load(dir, &s2) != 0);

    unlink(path);
    unlink(other);
    snprintf(other, sizeof other, "%s/pub.key", dir);
    unlink(other);
    CHECK(rmdir(dir) == 0);
    return fb_t_finish();
}
