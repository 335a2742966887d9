#include "envelope.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "json_util.h"
#include "keys.h"

static const char k_info_label[] = "fleetbootstrap-v1 info"; /* 22 bytes */
static const char k_aad_label[] = "fleetbootstrap-v1 aad";   /* 21 bytes */

int fb_envelope_parse(const char *json, size_t len, struct fb_envelope *out)
{
    memset(out, 0, sizeof *out);
    if (len > FB_ENVELOPE_MAX)
        return -1;
    struct json_object *obj = fb_json_parse_object(json, len);
    if (obj == NULL)
        return -1;
    int rc = -1;
    int64_t v, seq, kem, kdf, aead;
    const char *s;
    size_t n;
    if (fb_json_int(obj, "seq", 1, FB_SEQ_MAX, &seq) == 1)
        out->seq = (uint64_t)seq;
    if (fb_json_int(obj, "v", 1, 1, &v) != 1 || out->seq == 0)
        goto done;
    if (fb_json_int(obj, "kem", 32, 32, &kem) != 1 || fb_json_int(obj, "kdf", 1, 1, &kdf) != 1 ||
        fb_json_int(obj, "aead", 3, 3, &aead) != 1)
        goto done;
    if (fb_json_string(obj, "kind", 1, 16, &s, &n) != 1)
        goto done;
    if (strcmp(s, "wifi") == 0)
        out->kind = FB_KIND_WIFI;
    else if (strcmp(s, "reset") == 0)
        out->kind = FB_KIND_RESET;
    else
        goto done;
    if (fb_json_string(obj, "device", 1, FB_DEVICE_ID_MAX, &s, &n) != 1 || !fb_valid_id(s, n))
        goto done;
    memcpy(out->device, s, n + 1);
    if (fb_json_string(obj, "kid", FB_KID_LEN, FB_KID_LEN, &s, &n) != 1)
        goto done;
    memcpy(out->kid, s, n + 1);
    if (fb_json_string(obj, "enc", 43, 43, &s, &n) != 1 ||
        fb_b64url_decode(s, n, out->enc, sizeof out->enc) != FB_X25519_LEN)
        goto done;
    if (fb_json_string(obj, "ct", 23, fb_b64url_len(FB_CT_MAX), &s, &n) != 1)
        goto done;
    long ct = fb_b64url_decode(s, n, out->ct, sizeof out->ct);
    if (ct < FB_HPKE_TAG_LEN + 1)
        goto done;
    out->ct_len = (size_t)ct;
    rc = 0;
done:
    json_object_put(obj);
    return rc;
}

size_t fb_envelope_ctx(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[FB_CTX_MAX])
{
    size_t id_len = strnlen(device_id, FB_DEVICE_ID_MAX + 1);
    if (!fb_valid_id(device_id, id_len) || (kind != FB_KIND_WIFI && kind != FB_KIND_RESET))
        return 0;
    out[0] = 0x01;
    out[1] = (uint8_t)kind;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(seq >> (56 - 8 * i));
    out[10] = (uint8_t)id_len;
    memcpy(out + 11, device_id, id_len);
    return 11 + id_len;
}

static size_t labelled_ctx(const char *label, enum fb_kind kind, uint64_t seq, const char *id, uint8_t *out)
{
    size_t l = strlen(label);
    memcpy(out, label, l);
    size_t c = fb_envelope_ctx(kind, seq, id, out + l);
    return c ? l + c : 0;
}

size_t fb_envelope_info(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[22 + FB_CTX_MAX])
{
    return labelled_ctx(k_info_label, kind, seq, device_id, out);
}

size_t fb_envelope_aad(enum fb_kind kind, uint64_t seq, const char *device_id, uint8_t out[21 + FB_CTX_MAX])
{
    return labelled_ctx(k_aad_label, kind, seq, device_id, out);
}

int fb_envelope_open(const struct fb_envelope *env, const char *own_id, const uint8_t skR[FB_X25519_LEN],
                     const uint8_t pkS[FB_X25519_LEN], uint8_t *pt, size_t *pt_len)
{
    uint8_t info[22 + FB_CTX_MAX], aad[21 + FB_CTX_MAX];
    size_t info_len = fb_envelope_info(env->kind, env->seq, own_id, info);
    size_t aad_len = fb_envelope_aad(env->kind, env->seq, own_id, aad);
    if (info_len == 0 || aad_len == 0 || env->ct_len <= FB_HPKE_TAG_LEN || env->ct_len > FB_CT_MAX)
        return -1;
    if (fb_hpke_open_auth(env->enc, skR, pkS, info, info_len, aad, aad_len, env->ct, env->ct_len, pt) != 0)
        return -1;
    *pt_len = env->ct_len - FB_HPKE_TAG_LEN;
    return 0;
}

int fb_envelope_seal(enum fb_kind kind, const char *device_id, uint64_t seq, const uint8_t pkR[FB_X25519_LEN],
                     const uint8_t skS[FB_X25519_LEN], const uint8_t *pt, size_t pt_len, char *out, size_t cap)
{
    static uint8_t ct[FB_CT_MAX];
    static char ct_b64[((FB_CT_MAX + 2) / 3) * 4 + 1];
    uint8_t info[22 + FB_CTX_MAX], aad[21 + FB_CTX_MAX], enc[FB_X25519_LEN], pkS[FB_X25519_LEN];
    char enc_b64[44], kid[FB_KID_LEN + 1];
    if (pt_len == 0 || pt_len > FB_PLAINTEXT_MAX)
        return -1;
    size_t info_len = fb_envelope_info(kind, seq, device_id, info);
    size_t aad_len = fb_envelope_aad(kind, seq, device_id, aad);
    if (info_len == 0 || aad_len == 0 || fb_x25519_public(skS, pkS) != 0)
        return -1;
    if (fb_hpke_seal_auth(pkR, skS, NULL, info, info_len, aad, aad_len, pt, pt_len, enc, ct) != 0)
        return -1;
    fb_fingerprint(pkS, kid);
    fb_b64url_encode(enc, sizeof enc, enc_b64);
    fb_b64url_encode(ct, pt_len + FB_HPKE_TAG_LEN, ct_b64);
    int n = snprintf(out, cap,
                     "{\"v\":1,\"kind\":\"%s\",\"device\":\"%s\",\"seq\":%llu,\"kem\":32,\"kdf\":1,\"aead\":3,"
                     "\"kid\":\"%s\",\"enc\":\"%s\",\"ct\":\"%s\"}",
                     kind == FB_KIND_WIFI ? "wifi" : "reset", device_id, (unsigned long long)seq, kid, enc_b64,
                     ct_b64);
    return (n > 0 && (size_t)n < cap) ? 0 : -1;
}
