/* Envelope parsing, context bytes (Topics.md "Construction"), seal -> open round trips. */
#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "envelope.h"
#include "keys.h"
#include "testlib.h"

static uint8_t dev_sk[32], dev_pk[32], svc_sk[32], svc_pk[32];
static char json[FB_ENVELOPE_MAX * 2];
static struct fb_envelope env;

static int parses(const char *text) { return fb_envelope_parse(text, strlen(text), &env) == 0; }

/* Replaces the first occurrence of from with to in json. */
static void edit(const char *from, const char *to)
{
    char *p = strstr(json, from);
    if (!CHECK(p != NULL))
        return;
    size_t fl = strlen(from), tl = strlen(to);
    memmove(p + tl, p + fl, strlen(p + fl) + 1);
    memcpy(p, to, tl);
}

static void seal(const char *id, uint64_t seq, const char *pt)
{
    CHECK(fb_envelope_seal(FB_KIND_WIFI, id, seq, dev_pk, svc_sk, (const uint8_t *)pt, strlen(pt), json,
                           sizeof json) == 0);
}

int main(void)
{
    CHECK(fb_x25519_keypair(dev_sk, dev_pk) == 0 && fb_x25519_keypair(svc_sk, svc_pk) == 0);

    /* Context bytes exactly as Topics.md: version, kind, seq (big-endian), id length, id. */
    uint8_t ctx[FB_CTX_MAX];
    size_t n = fb_envelope_ctx(FB_KIND_WIFI, 0x0102030405060708ULL, "omega-a1b2", ctx);
    static const uint8_t want[] = {0x01, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 10, 'o', 'm', 'e', 'g', 'a', '-', 'a', '1', 'b', '2'};
    CHECK(n == sizeof want && memcmp(ctx, want, n) == 0);
    CHECK(fb_envelope_ctx(FB_KIND_RESET, 12, "x", ctx) == 12 && ctx[1] == 0x02 && ctx[9] == 12);
    CHECK(fb_envelope_ctx(FB_KIND_WIFI, 1, "bad/id", ctx) == 0);
    CHECK(fb_envelope_ctx(FB_KIND_WIFI, 1, "", ctx) == 0);
    uint8_t info[22 + FB_CTX_MAX], aad[21 + FB_CTX_MAX];
    n = fb_envelope_info(FB_KIND_WIFI, 0x0102030405060708ULL, "omega-a1b2", info);
    CHECK(n == 22 + sizeof want && memcmp(info, "fleetbootstrap-v1 info", 22) == 0 && memcmp(info + 22, want, sizeof want) == 0);
    n = fb_envelope_aad(FB_KIND_WIFI, 0x0102030405060708ULL, "omega-a1b2", aad);
    CHECK(n == 21 + sizeof want && memcmp(aad, "fleetbootstrap-v1 aad", 21) == 0 && memcmp(aad + 21, want, sizeof want) == 0);

    /* Round trip. */
    const char *profile = "{\"ssid\":\"Premises\",\"encryption\":\"psk2\",\"key\":\"correct horse battery\"}";
    seal("omega-a1b2", 12, profile);
    CHECK(parses(json));
    CHECK(env.kind == FB_KIND_WIFI && env.seq == 12 && strcmp(env.device, "omega-a1b2") == 0);
    char kid[20];
    fb_fingerprint(svc_pk, kid);
    CHECK(strcmp(env.kid, kid) == 0);
    uint8_t pt[FB_PLAINTEXT_MAX];
    size_t pt_len = 0;
    CHECK(fb_envelope_open(&env, "omega-a1b2", dev_sk, svc_pk, pt, &pt_len) == 0);
    CHECK(pt_len == strlen(profile) && memcmp(pt, profile, pt_len) == 0);
    /* Opened as another device, with another seq or kind, or with another service key: fails. */
    CHECK(fb_envelope_open(&env, "omega-a1b3", dev_sk, svc_pk, pt, &pt_len) != 0);
    env.seq = 13;
    CHECK(fb_envelope_open(&env, "omega-a1b2", dev_sk, svc_pk, pt, &pt_len) != 0);
    env.seq = 12;
    env.kind = FB_KIND_RESET;
    CHECK(fb_envelope_open(&env, "omega-a1b2", dev_sk, svc_pk, pt, &pt_len) != 0);
    env.kind = FB_KIND_WIFI;
    CHECK(fb_envelope_open(&env, "omega-a1b2", dev_sk, dev_pk, pt, &pt_len) != 0);
    env.ct[3] ^= 1;
    CHECK(fb_envelope_open(&env, "omega-a1b2", dev_sk, svc_pk, pt, &pt_len) != 0);

    /* Structure checks. Each edit starts from a fresh valid envelope. */
    static const char *const edits[][2] = {
        {"\"v\":1", "\"v\":2"},         {"\"v\":1", "\"v\":\"1\""},    {"\"kem\":32", "\"kem\":16"},
        {"\"kdf\":1", "\"kdf\":2"},     {"\"aead\":3", "\"aead\":1"},  {"\"kind\":\"wifi\"", "\"kind\":\"wlan\""},
        {"\"seq\":12", "\"seq\":0"},    {"\"seq\":12", "\"seq\":-1"},  {"\"seq\":12", "\"seq\":12.5"},
        {"\"seq\":12", "\"seq\":9007199254740992"}, {"\"seq\":12", "\"seq\":\"12\""},
        {"\"device\":\"omega-a1b2\"", "\"device\":\"omega/a1b2\""}, {"\"device\":\"omega-a1b2\"", "\"device\":\"\""},
        {"\"kid\":\"", "\"kid\":\"x"},  {"\"enc\":\"", "\"enc\":\"AAAA"}, {"\"enc\":\"", "\"enc\":\"!"},
        {"\"ct\":\"", "\"ct\":\"*"},    {"{\"v\":1,", "[{\"v\":1,"},   {"\"kind\":", "\"kind\":{\"a\":[[[[[[[[1]]]]]]]]},\"x\":"},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        seal("omega-a1b2", 12, profile);
        edit(edits[i][0], edits[i][1]);
        if (!CHECK(!parses(json)))
            fprintf(stderr, "  accepted edit %zu: %s -> %s\n", i, edits[i][0], edits[i][1]);
    }
    /* Readable seq is kept even when parsing fails later. */
    seal("omega-a1b2", 77, profile);
    edit("\"kem\":32", "\"kem\":33");
    CHECK(!parses(json) && env.seq == 77);
    /* Missing fields. */
    static const char *const fields[] = {"\"v\":1,", "\"kem\":32,", "\"kdf\":1,", "\"aead\":3,"};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        seal("omega-a1b2", 12, profile);
        edit(fields[i], "");
        CHECK(!parses(json));
    }
    /* Unknown fields are ignored; trailing garbage and NUL are not. */
    seal("omega-a1b2", 12, profile);
    edit("{\"v\":1,", "{\"future\":[1,2],\"v\":1,");
    CHECK(parses(json));
    /* A member name twice in one object, however spelled and at any depth, is refused. */
    static const char *const dups[][2] = {
        {"\"seq\":12", "\"seq\":12,\"seq\":12"}, {"\"seq\":12", "\"seq\":99,\"seq\":12"},
        {"\"kind\":", "\"\\u006bind\":\"reset\",\"kind\":"},
        {"{\"v\":1,", "{\"future\":{\"a\":1,\"a\":2},\"v\":1,"},
    };
    for (size_t i = 0; i < sizeof dups / sizeof dups[0]; i++) {
        seal("omega-a1b2", 12, profile);
        edit(dups[i][0], dups[i][1]);
        if (!CHECK(!parses(json)))
            fprintf(stderr, "  accepted duplicate %zu: %s\n", i, dups[i][1]);
    }
    /* A ':' inside a string (or after an escaped quote) is not a member. */
    seal("omega-a1b2", 12, profile);
    edit("{\"v\":1,", "{\"a:b\":\"x\\\":y\",\"v\":1,");
    CHECK(parses(json));
    seal("omega-a1b2", 12, profile);
    strcat(json, " x");
    CHECK(!parses(json));
    seal("omega-a1b2", 12, profile);
    CHECK(fb_envelope_parse(json, strlen(json) + 1, &env) != 0);
    CHECK(!parses("not json") && !parses("") && !parses("{}") && !parses("[]") && !parses("{\"v\":1"));

    /* Plaintext limit: 8192 seals, 8193 does not. */
    static char big[FB_PLAINTEXT_MAX + 2];
    memset(big, 'a', sizeof big - 1);
    big[FB_PLAINTEXT_MAX] = '\0';
    CHECK(fb_envelope_seal(FB_KIND_WIFI, "d", 1, dev_pk, svc_sk, (uint8_t *)big, FB_PLAINTEXT_MAX, json, sizeof json) == 0);
    CHECK(strlen(json) <= FB_ENVELOPE_MAX && parses(json) && env.ct_len == FB_PLAINTEXT_MAX + 16);
    CHECK(fb_envelope_seal(FB_KIND_WIFI, "d", 1, dev_pk, svc_sk, (uint8_t *)big, FB_PLAINTEXT_MAX + 1, json, sizeof json) != 0);

    /* base64url: strict alphabet, no padding, canonical. */
    uint8_t b[8];
    char t[16];
    CHECK(fb_b64url_decode("AAE", 3, b, sizeof b) == 2 && b[0] == 0 && b[1] == 1);
    CHECK(fb_b64url_decode("AAF", 3, b, sizeof b) < 0); /* stray bits */
    CHECK(fb_b64url_decode("AA==", 4, b, sizeof b) < 0);
    CHECK(fb_b64url_decode("A+/A", 4, b, sizeof b) < 0);
    CHECK(fb_b64url_decode("A", 1, b, sizeof b) < 0);
    CHECK(fb_b64url_encode((const uint8_t *)"\xfb\xff", 2, t) == 3 && strcmp(t, "-_8") == 0);
    return fb_t_finish();
}
