/* RFC 9180 test vector for our suite (mode 2, DHKEM X25519, HKDF-SHA256, ChaCha20-Poly1305). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "hpke.h"
#include "testlib.h"

static long field(struct json_object *o, const char *name, uint8_t *out, size_t cap)
{
    struct json_object *v;
    if (!json_object_object_get_ex(o, name, &v))
        return -1;
    return fb_t_hex(json_object_get_string(v), out, cap);
}

int main(void)
{
    static char text[65536];
    char path[512];
    /* The same committed RFC 9180 entry the Swift tests read (Tests/FleetProtocolTests/Fixtures). */
    const char *dir = getenv("FB_FIXTURES");
    snprintf(path, sizeof path, "%s/rfc9180-auth-x25519-sha256-chacha.json",
             dir && dir[0] ? dir : "../Tests/FleetProtocolTests/Fixtures");
    if (!CHECK(fb_t_read_file(path, text, sizeof text) > 0)) {
        fprintf(stderr, "  cannot read %s (set FB_FIXTURES)\n", path);
        return fb_t_finish();
    }
    struct json_object *vec = json_tokener_parse(text);
    if (!CHECK(vec != NULL))
        return fb_t_finish();
    /* It must be our suite in auth mode, or the rest proves nothing. */
    static const struct { const char *name; int want; } suite[] = {
        {"mode", 2}, {"kem_id", 32}, {"kdf_id", 1}, {"aead_id", 3}};
    for (size_t i = 0; i < sizeof suite / sizeof suite[0]; i++) {
        struct json_object *v;
        if (!CHECK(json_object_object_get_ex(vec, suite[i].name, &v) && json_object_get_int(v) == suite[i].want))
            return fb_t_finish();
    }
    uint8_t info[256], skR[32], skS[32], skE[32], pkR[32], pkS[32], pkE[32], enc[32];
    long info_len = field(vec, "info", info, sizeof info);
    if (!CHECK(field(vec, "skRm", skR, 32) == 32 && field(vec, "skSm", skS, 32) == 32 && field(vec, "skEm", skE, 32) == 32) ||
        !CHECK(field(vec, "pkRm", pkR, 32) == 32 && field(vec, "pkSm", pkS, 32) == 32 && field(vec, "pkEm", pkE, 32) == 32) ||
        !CHECK(field(vec, "enc", enc, 32) == 32))
        return fb_t_finish();

    /* Key derivation agrees with the vector's public keys. */
    uint8_t pk[32];
    CHECK(fb_x25519_public(skR, pk) == 0 && memcmp(pk, pkR, 32) == 0);
    CHECK(fb_x25519_public(skS, pk) == 0 && memcmp(pk, pkS, 32) == 0);
    CHECK(fb_x25519_public(skE, pk) == 0 && memcmp(pk, pkE, 32) == 0);

    struct json_object *encs = NULL;
    if (!CHECK(json_object_object_get_ex(vec, "encryptions", &encs) && json_object_array_length(encs) >= 1))
        return fb_t_finish();
    struct json_object *e0 = json_object_array_get_idx(encs, 0);
    uint8_t aad[64], pt[256], ct[256], out_ct[256], out_pt[256], out_enc[32];
    long aad_len = field(e0, "aad", aad, sizeof aad);
    long pt_len = field(e0, "pt", pt, sizeof pt);
    long ct_len = field(e0, "ct", ct, sizeof ct);
    if (!CHECK(info_len > 0 && aad_len > 0 && pt_len > 0 && ct_len == pt_len + 16))
        return fb_t_finish();

    /* Seal with the vector's ephemeral key reproduces enc and ct byte for byte. */
    CHECK(fb_hpke_seal_auth(pkR, skS, skE, info, (size_t)info_len, aad, (size_t)aad_len, pt, (size_t)pt_len,
                            out_enc, out_ct) == 0);
    CHECK(memcmp(out_enc, enc, 32) == 0);
    CHECK(memcmp(out_ct, ct, (size_t)ct_len) == 0);

    /* Open gives pt. */
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len,
                            out_pt) == 0);
    CHECK(memcmp(out_pt, pt, (size_t)pt_len) == 0);

    /* Any change fails: tag, ciphertext, aad, info, sender key, enc. */
    uint8_t bad[256];
    memcpy(bad, ct, (size_t)ct_len);
    bad[ct_len - 1] ^= 1;
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, bad, (size_t)ct_len, out_pt) != 0);
    memcpy(bad, ct, (size_t)ct_len);
    bad[0] ^= 0x80;
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, bad, (size_t)ct_len, out_pt) != 0);
    aad[0] ^= 1;
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len, out_pt) != 0);
    aad[0] ^= 1;
    info[0] ^= 1;
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len, out_pt) != 0);
    info[0] ^= 1;
    CHECK(fb_hpke_open_auth(enc, skR, pkR, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len, out_pt) != 0);
    uint8_t enc2[32];
    memcpy(enc2, enc, 32);
    enc2[5] ^= 4;
    CHECK(fb_hpke_open_auth(enc2, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len, out_pt) != 0);
    /* A low-order point (all zero) as enc gives an all-zero DH and must be refused. */
    uint8_t zero[32] = {0};
    CHECK(fb_hpke_open_auth(zero, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, (size_t)ct_len, out_pt) != 0);
    CHECK(fb_hpke_open_auth(enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, ct, 15, out_pt) != 0);

    /* Random-ephemeral seal round trips. */
    CHECK(fb_hpke_seal_auth(pkR, skS, NULL, info, (size_t)info_len, aad, (size_t)aad_len, pt, (size_t)pt_len,
                            out_enc, out_ct) == 0);
    CHECK(memcmp(out_enc, enc, 32) != 0);
    CHECK(fb_hpke_open_auth(out_enc, skR, pkS, info, (size_t)info_len, aad, (size_t)aad_len, out_ct,
                            (size_t)pt_len + 16, out_pt) == 0 &&
          memcmp(out_pt, pt, (size_t)pt_len) == 0);

    json_object_put(vec);
    return fb_t_finish();
}
