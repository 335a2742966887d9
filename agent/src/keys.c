#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "b64.h"
#include "fsutil.h"

void fb_fingerprint(const uint8_t pub[FB_X25519_LEN], char out[FB_FINGERPRINT_LEN + 1])
{
    uint8_t h[32];
    char hex[17];
    if (fb_sha256(pub, FB_X25519_LEN, h) != 0) {
        memset(out, '0', FB_FINGERPRINT_LEN);
        out[FB_FINGERPRINT_LEN] = '\0';
        return;
    }
    fb_hex_encode(h, 8, hex);
    snprintf(out, FB_FINGERPRINT_LEN + 1, "%.4s-%.4s-%.4s-%.4s", hex, hex + 4, hex + 8, hex + 12);
}

void fb_default_device_id(const uint8_t pub[FB_X25519_LEN], char out[FB_DEFAULT_ID_LEN + 1])
{
    char fp[FB_FINGERPRINT_LEN + 1];
    fb_fingerprint(pub, fp);
    snprintf(out, FB_DEFAULT_ID_LEN + 1, "omega-%.4s%.4s%.4s%.4s", fp, fp + 5, fp + 10, fp + 15);
}

/* X25519 with a fixed scalar: all zeros for exactly the small-order points (RFC 7748 clamping). */
static int small_order(const uint8_t pub[FB_X25519_LEN])
{
    static const uint8_t probe[FB_X25519_LEN] = {9};
    uint8_t out[FB_X25519_LEN];
    int bad = fb_x25519(probe, pub, out) != 0;
    OPENSSL_cleanse(out, sizeof out);
    return bad;
}

int fb_key_file_read(const char *path, const char *label, uint8_t key[FB_X25519_LEN], char *err, size_t errlen)
{
    char buf[FB_KEY_FILE_MAX + 2];
    int is_private = strcmp(label, "x25519-private") == 0;
    /* A private key is checked on the descriptor it is read from: no symlink, a regular file, ours, 0600. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | (is_private ? O_NOFOLLOW : 0));
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (is_private) {
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            snprintf(err, errlen, "%s: not a regular file", path);
            close(fd);
            return -1;
        }
        if (st.st_uid != geteuid() || (st.st_mode & 0077) != 0) {
            snprintf(err, errlen, "%s: mode %03o owner %u; must be 0600 and owned by this user (chmod 600)", path,
                     (unsigned)(st.st_mode & 0777), (unsigned)st.st_uid);
            close(fd);
            return -1;
        }
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n < 0)
                len = sizeof buf; /* report as unreadable below */
            break;
        }
        len += (size_t)n;
        if (len == sizeof buf - 1)
            break;
    }
    close(fd);
    if (len > FB_KEY_FILE_MAX) {
        snprintf(err, errlen, "%s: unreadable or larger than %d bytes", path, FB_KEY_FILE_MAX);
        OPENSSL_cleanse(buf, sizeof buf);
        return -1;
    }
    buf[len] = '\0';
    int found = 0, bad = 0;
    size_t label_len = strlen(label);
    snprintf(err, errlen, "%s: no '%s:' line", path, label);
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && !bad; line = strtok_r(NULL, "\n", &save)) {
        size_t l = strlen(line);
        while (l > 0 && (line[l - 1] == '\r' || line[l - 1] == ' ' || line[l - 1] == '\t'))
            line[--l] = '\0'; /* CRLF and trailing spaces */
        if (l == 0 || line[0] == '#')
            continue;
        if (found) {
            snprintf(err, errlen, "%s: more than one key line", path);
            bad = 1;
        } else if (l > label_len && strncmp(line, label, label_len) == 0 && line[label_len] == ':') {
            const char *v = line + label_len + 1;
            if (fb_b64url_decode(v, strlen(v), key, FB_X25519_LEN) == FB_X25519_LEN) {
                found = 1;
            } else {
                snprintf(err, errlen, "%s: '%s' is not base64url of 32 bytes", path, label);
                bad = 1;
            }
        } else {
            snprintf(err, errlen, "%s: unexpected line (expected '%s:<base64url>')", path, label);
            bad = 1;
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    if (found && !bad && strcmp(label, "x25519-public") == 0 && small_order(key)) {
        snprintf(err, errlen, "%s: the public key is a small-order point", path);
        bad = 1;
    }
    if (!found || bad) {
        OPENSSL_cleanse(key, FB_X25519_LEN);
        return -1;
    }
    return 0;
}

int fb_key_file_write(const char *path, const char *label, const uint8_t key[FB_X25519_LEN])
{
    char text[160], b64[44];
    fb_b64url_encode(key, FB_X25519_LEN, b64);
    int n = snprintf(text, sizeof text, "# FleetBootstrap %s key\n%s:%s\n", label, label, b64);
    int rc = (n > 0 && (size_t)n < sizeof text) ? fb_write_file_atomic(path, text, (size_t)n, 0600) : -1;
    OPENSSL_cleanse(text, sizeof text);
    OPENSSL_cleanse(b64, sizeof b64);
    return rc;
}

int fb_identity_load_or_create(const char *path, uint8_t sk[FB_X25519_LEN], uint8_t pk[FB_X25519_LEN], int *created,
                               char *err, size_t errlen)
{
    *created = 0;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (fb_key_file_read(path, "x25519-private", sk, err, errlen) != 0)
            return -1;
    } else if (errno == ENOENT) {
        if (fb_x25519_keypair(sk, pk) != 0) {
            snprintf(err, errlen, "cannot generate an X25519 key");
            return -1;
        }
        if (fb_key_file_write(path, "x25519-private", sk) != 0) {
            snprintf(err, errlen, "%s: cannot write the new key: %s", path, strerror(errno));
            OPENSSL_cleanse(sk, FB_X25519_LEN);
            return -1;
        }
        *created = 1;
    } else {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    if (fb_x25519_public(sk, pk) != 0) {
        snprintf(err, errlen, "%s: not a usable X25519 private key", path);
        OPENSSL_cleanse(sk, FB_X25519_LEN);
        return -1;
    }
    return 0;
}

int fb_public_key_parse(const char *text, uint8_t pk[FB_X25519_LEN], char *err, size_t errlen)
{
    size_t n = strlen(text);
    if (n == 43 && fb_b64url_decode(text, n, pk, FB_X25519_LEN) == FB_X25519_LEN) {
        if (!small_order(pk))
            return 0;
        snprintf(err, errlen, "the public key is a small-order point");
        return -1;
    }
    if (text[0] == '/' || text[0] == '.')
        return fb_key_file_read(text, "x25519-public", pk, err, errlen);
    snprintf(err, errlen, "not a public key (43 chars of base64url, or a key file path)");
    return -1;
}
