/* TLS at first boot: the broker certificate is checked at max(clock, floor) with a bounded leeway for
 * "not yet valid", and an expired certificate is still refused. Real handshakes in memory (BIO pairs)
 * against certificates made here, with the device clock faked through fb_tls_configure's `now`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "mqtt.h"
#include "testlib.h"

#define DAY (24LL * 3600)
#define EXPECT(cond, label) (fb_t_check((cond) ? 1 : 0, label, __FILE__, __LINE__))

static EVP_PKEY *new_key(void) { return EVP_EC_gen("P-256"); }

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
    CHECK(ext != NULL && X509_add_ext(cert, ext, -1) == 1);
    X509_EXTENSION_free(ext);
}

/* A certificate for key, valid [from, until] (Unix s), signed by issuer_key (self-signed when issuer is NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key, long long from,
                       long long until, int ca)
{
    static long serial = 1;
    X509 *x = X509_new();
    CHECK(x != NULL);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    CHECK(ASN1_TIME_set(X509_getm_notBefore(x), (time_t)from) != NULL);
    CHECK(ASN1_TIME_set(X509_getm_notAfter(x), (time_t)until) != NULL);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    if (ca) {
        add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, issuer, NID_basic_constraints, "CA:FALSE");
        add_ext(x, issuer, NID_ext_key_usage, "serverAuth");
        add_ext(x, issuer, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
    }
    CHECK(X509_sign(x, issuer_key, EVP_sha256()) > 0);
    return x;
}

static char ca_file[64], other_ca_file[64];
static EVP_PKEY *ca_key, *other_key, *server_key;
static X509 *ca_cert, *other_cert;

static void write_pem(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    CHECK(f && PEM_write_X509(f, x) == 1 && fclose(f) == 0);
}

/* Pumps bytes between the two ends of a BIO pair until both handshakes finish or one fails. */
static int handshake(SSL *client, SSL *server)
{
    for (int i = 0; i < 100; i++) {
        int c = SSL_do_handshake(client);
        int s = SSL_do_handshake(server);
        if (c == 1 && s == 1)
            return 1;
        int ce = c == 1 ? SSL_ERROR_NONE : SSL_get_error(client, c);
        int se = s == 1 ? SSL_ERROR_NONE : SSL_get_error(server, s);
        if ((ce != SSL_ERROR_NONE && ce != SSL_ERROR_WANT_READ && ce != SSL_ERROR_WANT_WRITE) ||
            (se != SSL_ERROR_NONE && se != SSL_ERROR_WANT_READ && se != SSL_ERROR_WANT_WRITE))
            return 0;
    }
    return 0;
}

/* Does the agent's TLS context, with the device clock at now and the floor, accept this server certificate? */
static int accepts(X509 *server_cert, const char *ca, const char *host, long long now, long long floor)
{
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method()), *sctx = SSL_CTX_new(TLS_server_method());
    int ok = 0;
    CHECK(cctx && sctx);
    if (fb_tls_configure(cctx, ca, host, now, floor) != 0 || SSL_CTX_use_certificate(sctx, server_cert) != 1 ||
        SSL_CTX_use_PrivateKey(sctx, server_key) != 1) {
        CHECK(0);
    } else {
        SSL *c = SSL_new(cctx), *s = SSL_new(sctx);
        BIO *cb = NULL, *sb = NULL;
        if (!CHECK(c && s && BIO_new_bio_pair(&cb, 0, &sb, 0) == 1))
            exit(1);
        SSL_set_bio(c, cb, cb);
        SSL_set_bio(s, sb, sb);
        SSL_set_connect_state(c);
        SSL_set_accept_state(s);
        ok = handshake(c, s) && SSL_get_verify_result(c) == X509_V_OK;
        SSL_free(c);
        SSL_free(s);
    }
    SSL_CTX_free(cctx);
    SSL_CTX_free(sctx);
    return ok;
}

int main(void)
{
    fb_log_init("test_tls", 0, FB_LOG_ERROR);
    long long now = (long long)time(NULL);
    long long build = now - 30 * DAY; /* the image was built a month ago */
    snprintf(ca_file, sizeof ca_file, "/tmp/fb-tls-ca-%ld.pem", (long)getpid());
    snprintf(other_ca_file, sizeof other_ca_file, "/tmp/fb-tls-other-%ld.pem", (long)getpid());
    ca_key = new_key();
    other_key = new_key();
    server_key = new_key();
    CHECK(ca_key && other_key && server_key);
    ca_cert = make_cert(ca_key, "Fleet Test CA", NULL, ca_key, now - 10 * DAY, now + 3650 * DAY, 1);
    other_cert = make_cert(other_key, "Other CA", NULL, other_key, now - 10 * DAY, now + 3650 * DAY, 1);
    write_pem(ca_file, ca_cert);
    write_pem(other_ca_file, other_cert);
    /* issued yesterday (after the image was built), valid for a year */
    X509 *fresh = make_cert(server_key, "127.0.0.1", ca_cert, ca_key, now - DAY, now + 365 * DAY, 0);
    X509 *expired = make_cert(server_key, "127.0.0.1", ca_cert, ca_key, now - 400 * DAY, now - 10 * DAY, 0);
    X509 *far = make_cert(server_key, "127.0.0.1", ca_cert, ca_key, build + 800 * DAY, build + 1200 * DAY, 0);

    EXPECT(accepts(fresh, ca_file, "127.0.0.1", now, build), "right clock: accepted");
    EXPECT(accepts(fresh, ca_file, "localhost", now, build), "by DNS name: accepted");
    EXPECT(accepts(fresh, ca_file, "127.0.0.1", build, build), "clock at the image build time: accepted (leeway)");
    EXPECT(accepts(fresh, ca_file, "127.0.0.1", 0, build), "clock at 1970, floor at the build time: accepted");
    EXPECT(!accepts(fresh, ca_file, "127.0.0.1", 0, 0), "clock at 1970 and no floor: refused (the leeway is bounded)");
    EXPECT(!accepts(far, ca_file, "127.0.0.1", build, build), "valid from beyond the leeway: refused");
    EXPECT(!accepts(expired, ca_file, "127.0.0.1", now, build), "expired, right clock: refused");
    EXPECT(!accepts(expired, ca_file, "127.0.0.1", 0, now - 5 * DAY),
          "expired before the last-known time, clock at 1970: refused");
    EXPECT(!accepts(fresh, other_ca_file, "127.0.0.1", now, build), "another CA: refused");
    EXPECT(!accepts(fresh, ca_file, "10.9.9.9", now, build), "another address: refused");
    EXPECT(!accepts(fresh, ca_file, "broker.example", now, build), "another name: refused");

    X509_free(fresh);
    X509_free(expired);
    X509_free(far);
    X509_free(ca_cert);
    X509_free(other_cert);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(server_key);
    unlink(ca_file);
    unlink(other_ca_file);
    return fb_t_finish();
}
