#include "hpke.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#define NH 32     /* HKDF-SHA256 output */
#define NK 32     /* ChaCha20-Poly1305 key */
#define NN 12     /* nonce */
#define MODE_AUTH 0x02

static const uint8_t k_suite_kem[] = {'K', 'E', 'M', 0x00, 0x20};
static const uint8_t k_suite_hpke[] = {'H', 'P', 'K', 'E', 0x00, 0x20, 0x00, 0x01, 0x00, 0x03};

/* ---- X25519 ---- */

int fb_x25519_public(const uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, FB_X25519_LEN);
    if (k == NULL)
        return -1;
    size_t n = FB_X25519_LEN;
    int ok = EVP_PKEY_get_raw_public_key(k, pk, &n) == 1 && n == FB_X25519_LEN;
    EVP_PKEY_free(k);
    return ok ? 0 : -1;
}

int fb_x25519_keypair(uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN])
{
    if (RAND_priv_bytes(sk, FB_X25519_LEN) != 1)
        return -1;
    if (fb_x25519_public(sk, pk) != 0) {
        OPENSSL_cleanse(sk, FB_X25519_LEN);
        return -1;
    }
    return 0;
}

int fb_x25519(const uint8_t sk[FB_X25519_LEN], const uint8_t pk[FB_X25519_LEN], uint8_t out[FB_X25519_LEN])
{
    int rc = -1;
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, sk, FB_X25519_LEN);
    EVP_PKEY *peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pk, FB_X25519_LEN);
    EVP_PKEY_CTX *ctx = priv ? EVP_PKEY_CTX_new(priv, NULL) : NULL;
    size_t n = FB_X25519_LEN;
    if (ctx && peer && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
        EVP_PKEY_derive(ctx, out, &n) == 1 && n == FB_X25519_LEN) {
        uint8_t acc = 0;
        for (size_t i = 0; i < n; i++)
            acc |= out[i];
        rc = acc ? 0 : -1; /* RFC 9180 7.1.4: reject the all-zero shared secret */
    }
    if (rc != 0)
        OPENSSL_cleanse(out, FB_X25519_LEN);
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(priv);
    return rc;
}

int fb_sha256(const void *data, size_t len, uint8_t out[32])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

/* ---- HKDF-SHA256 through EVP_KDF ---- */

static int hkdf_run(int mode, const uint8_t *key, size_t key_len, const uint8_t *salt, size_t salt_len,
                    const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
    if (kdf == NULL)
        return -1;
    EVP_KDF_CTX *ctx = EVP_KDF_CTX_new(kdf);
    EVP_KDF_free(kdf);
    if (ctx == NULL)
        return -1;
    OSSL_PARAM params[6];
    size_t i = 0;
    static const uint8_t empty = 0;
    params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
    params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
    /* An empty IKM is legal in HKDF; OpenSSL wants a non-NULL pointer. */
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)(key_len ? key : &empty), key_len);
    if (salt_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
    if (info_len > 0)
        params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
    params[i] = OSSL_PARAM_construct_end();
    int rc = EVP_KDF_derive(ctx, out, out_len, params) == 1 ? 0 : -1;
    EVP_KDF_CTX_free(ctx);
    return rc;
}

int fb_hkdf_extract(const uint8_t *salt, size_t salt_len, const uint8_t *ikm, size_t ikm_len, uint8_t prk[32])
{
    return hkdf_run(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, ikm, ikm_len, salt, salt_len, NULL, 0, prk, NH);
}

int fb_hkdf_expand(const uint8_t prk[32], const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    if (out_len == 0 || out_len > 255 * NH)
        return -1;
    return hkdf_run(EVP_KDF_HKDF_MODE_EXPAND_ONLY, prk, NH, NULL, 0, info, info_len, out, out_len);
}

/* ---- RFC 9180 section 4: labeled KDF ---- */

#define LABELED_MAX (2 + 7 + sizeof k_suite_hpke + 32 + 2 * FB_X25519_LEN * 2 + FB_HPKE_INFO_MAX)

static int labeled_extract(const uint8_t *suite, size_t suite_len, const uint8_t *salt, size_t salt_len,
                           const char *label, const uint8_t *ikm, size_t ikm_len, uint8_t prk[NH])
{
    uint8_t buf[LABELED_MAX];
    size_t label_len = strlen(label);
    size_t n = 7 + suite_len + label_len + ikm_len;
    if (n > sizeof buf)
        return -1;
    memcpy(buf, "HPKE-v1", 7);
    memcpy(buf + 7, suite, suite_len);
    memcpy(buf + 7 + suite_len, label, label_len);
    if (ikm_len)
        memcpy(buf + 7 + suite_len + label_len, ikm, ikm_len);
    int rc = fb_hkdf_extract(salt, salt_len, buf, n, prk);
    OPENSSL_cleanse(buf, n);
    return rc;
}

static int labeled_expand(const uint8_t *suite, size_t suite_len, const uint8_t prk[NH], const char *label,
                          const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
    uint8_t buf[LABELED_MAX];
    size_t label_len = strlen(label);
    size_t n = 2 + 7 + suite_len + label_len + info_len;
    if (n > sizeof buf || out_len > 0xffff)
        return -1;
    buf[0] = (uint8_t)(out_len >> 8);
    buf[1] = (uint8_t)out_len;
    memcpy(buf + 2, "HPKE-v1", 7);
    memcpy(buf + 9, suite, suite_len);
    memcpy(buf + 9 + suite_len, label, label_len);
    if (info_len)
        memcpy(buf + 9 + suite_len + label_len, info, info_len);
    return fb_hkdf_expand(prk, buf, n, out, out_len);
}

/* ExtractAndExpand(dh, kem_context) of DHKEM (RFC 9180 4.1). */
static int extract_and_expand(const uint8_t dh[2 * FB_X25519_LEN], const uint8_t kem_ctx[3 * FB_X25519_LEN],
                              uint8_t shared[NH])
{
    uint8_t prk[NH];
    int rc = labeled_extract(k_suite_kem, sizeof k_suite_kem, NULL, 0, "eae_prk", dh, 2 * FB_X25519_LEN, prk);
    if (rc == 0)
        rc = labeled_expand(k_suite_kem, sizeof k_suite_kem, prk, "shared_secret", kem_ctx, 3 * FB_X25519_LEN,
                            shared, NH);
    OPENSSL_cleanse(prk, sizeof prk);
    return rc;
}

/* DH part of AuthEncap / AuthDecap: dh = DH(a, b) || DH(c, d). */
static int auth_dh_pair(const uint8_t *a, const uint8_t *b, const uint8_t *c, const uint8_t *d,
                        uint8_t dh[2 * FB_X25519_LEN])
{
    if (fb_x25519(a, b, dh) != 0 || fb_x25519(c, d, dh + FB_X25519_LEN) != 0) {
        OPENSSL_cleanse(dh, 2 * FB_X25519_LEN);
        return -1;
    }
    return 0;
}

/* KeySchedule for mode_auth with the default (empty) PSK and psk_id (RFC 9180 5.1). */
static int key_schedule(const uint8_t shared[NH], const uint8_t *info, size_t info_len, uint8_t key[NK],
                        uint8_t nonce[NN])
{
    uint8_t ctx[1 + 2 * NH];
    uint8_t secret[NH];
    int rc = -1;
    ctx[0] = MODE_AUTH;
    if (labeled_extract(k_suite_hpke, sizeof k_suite_hpke, NULL, 0, "psk_id_hash", NULL, 0, ctx + 1) != 0)
        goto out;
    if (labeled_extract(k_suite_hpke, sizeof k_suite_hpke, NULL, 0, "info_hash", info, info_len, ctx + 1 + NH) != 0)
        goto out;
    if (labeled_extract(k_suite_hpke, sizeof k_suite_hpke, shared, NH, "secret", NULL, 0, secret) != 0)
        goto out;
    if (labeled_expand(k_suite_hpke, sizeof k_suite_hpke, secret, "key", ctx, sizeof ctx, key, NK) != 0)
        goto out;
    if (labeled_expand(k_suite_hpke, sizeof k_suite_hpke, secret, "base_nonce", ctx, sizeof ctx, nonce, NN) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(secret, sizeof secret);
    return rc;
}

/* ---- ChaCha20-Poly1305 ---- */

static int aead(int encrypt, const uint8_t key[NK], const uint8_t nonce[NN], const uint8_t *aad, size_t aad_len,
                const uint8_t *in, size_t in_len, uint8_t *out, uint8_t tag[FB_HPKE_TAG_LEN])
{
    if (in_len > (size_t)0x7fffffff || aad_len > (size_t)0x7fffffff)
        return -1;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (c == NULL)
        return -1;
    int ok = 0, n = 0;
    if (EVP_CipherInit_ex(c, EVP_chacha20_poly1305(), NULL, key, nonce, encrypt) != 1)
        goto out;
    if (aad_len && EVP_CipherUpdate(c, NULL, &n, aad, (int)aad_len) != 1)
        goto out;
    if (in_len && EVP_CipherUpdate(c, out, &n, in, (int)in_len) != 1)
        goto out;
    if (!encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, FB_HPKE_TAG_LEN, tag) != 1)
        goto out;
    if (EVP_CipherFinal_ex(c, out + in_len, &n) != 1)
        goto out;
    if (encrypt && EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, FB_HPKE_TAG_LEN, tag) != 1)
        goto out;
    ok = 1;
out:
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : -1;
}

/* ---- Single-shot auth mode ---- */

int fb_hpke_seal_auth(const uint8_t pkR[FB_X25519_LEN], const uint8_t skS[FB_X25519_LEN], const uint8_t *skE_fixed,
                      const uint8_t *info, size_t info_len, const uint8_t *aad, size_t aad_len, const uint8_t *pt,
                      size_t pt_len, uint8_t enc[FB_X25519_LEN], uint8_t *ct)
{
    uint8_t skE[FB_X25519_LEN], dh[2 * FB_X25519_LEN], kem_ctx[3 * FB_X25519_LEN], shared[NH], key[NK], nonce[NN];
    int rc = -1;
    if (info_len > FB_HPKE_INFO_MAX)
        return -1;
    if (skE_fixed) {
        memcpy(skE, skE_fixed, sizeof skE);
        if (fb_x25519_public(skE, enc) != 0)
            goto out;
    } else if (fb_x25519_keypair(skE, enc) != 0) {
        goto out;
    }
    /* AuthEncap: dh = DH(skE, pkR) || DH(skS, pkR); kem_context = enc || pkR || pkS */
    if (auth_dh_pair(skE, pkR, skS, pkR, dh) != 0)
        goto out;
    memcpy(kem_ctx, enc, FB_X25519_LEN);
    memcpy(kem_ctx + FB_X25519_LEN, pkR, FB_X25519_LEN);
    if (fb_x25519_public(skS, kem_ctx + 2 * FB_X25519_LEN) != 0)
        goto out;
    if (extract_and_expand(dh, kem_ctx, shared) != 0 || key_schedule(shared, info, info_len, key, nonce) != 0)
        goto out;
    if (aead(1, key, nonce, aad, aad_len, pt, pt_len, ct, ct + pt_len) != 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(skE, sizeof skE);
    OPENSSL_cleanse(dh, sizeof dh);
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(nonce, sizeof nonce);
    return rc;
}

int fb_hpke_open_auth(const uint8_t enc[FB_X25519_LEN], const uint8_t skR[FB_X25519_LEN],
                      const uint8_t pkS[FB_X25519_LEN], const uint8_t *info, size_t info_len, const uint8_t *aad,
                      size_t aad_len, const uint8_t *ct, size_t ct_len, uint8_t *pt)
{
    uint8_t dh[2 * FB_X25519_LEN], kem_ctx[3 * FB_X25519_LEN], shared[NH], key[NK], nonce[NN], tag[FB_HPKE_TAG_LEN];
    int rc = -1;
    if (info_len > FB_HPKE_INFO_MAX || ct_len < FB_HPKE_TAG_LEN)
        return -1;
    size_t pt_len = ct_len - FB_HPKE_TAG_LEN;
    /* AuthDecap: dh = DH(skR, pkE) || DH(skR, pkS); kem_context = enc || pkR || pkS */
    if (auth_dh_pair(skR, enc, skR, pkS, dh) != 0)
        goto out;
    memcpy(kem_ctx, enc, FB_X25519_LEN);
    if (fb_x25519_public(skR, kem_ctx + FB_X25519_LEN) != 0)
        goto out;
    memcpy(kem_ctx + 2 * FB_X25519_LEN, pkS, FB_X25519_LEN);
    if (extract_and_expand(dh, kem_ctx, shared) != 0 || key_schedule(shared, info, info_len, key, nonce) != 0)
        goto out;
    memcpy(tag, ct + pt_len, FB_HPKE_TAG_LEN);
    if (aead(0, key, nonce, aad, aad_len, ct, pt_len, pt, tag) != 0) {
        OPENSSL_cleanse(pt, pt_len);
        goto out;
    }
    rc = 0;
out:
    OPENSSL_cleanse(dh, sizeof dh);
    OPENSSL_cleanse(shared, sizeof shared);
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(nonce, sizeof nonce);
    return rc;
}
