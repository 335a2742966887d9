#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "json_util.h"

#define COPY(field) {#field, offsetof(struct fb_config, field), sizeof(((struct fb_config *)0)->field)}

struct str_option {
    const char *name;
    size_t offset;
    size_t size;
};

static const struct str_option k_strings[] = {
    COPY(device_id),   COPY(broker_host),    COPY(tls_ca),    COPY(username),     COPY(password),
    COPY(hello_username), COPY(hello_password), COPY(prefix), COPY(service_pubkey), COPY(key_file),
    COPY(state_dir),   COPY(prov_ssid),      COPY(prov_key),  COPY(prov_encryption), COPY(uci_path),
    COPY(wifi_path),   COPY(ubus_path),      COPY(uci_confdir), COPY(model),      COPY(mac),
    COPY(uci_conf2dir),
};

struct int_option {
    const char *name;
    size_t offset;
    int min, max;
};

static const struct int_option k_ints[] = {
    {"broker_port", offsetof(struct fb_config, broker_port), 1, 65535},
    {"verify_timeout", offsetof(struct fb_config, verify_timeout), 1, 3600},
    {"poll_interval", offsetof(struct fb_config, poll_interval), 10, 60000},
    {"keepalive", offsetof(struct fb_config, keepalive), 5, 3600},
    {"backoff_min", offsetof(struct fb_config, backoff_min_ms), 10, 3600000},
    {"backoff_max", offsetof(struct fb_config, backoff_max_ms), 10, 3600000},
    {"use_syslog", offsetof(struct fb_config, use_syslog), 0, 1},
    {"broker_timeout", offsetof(struct fb_config, broker_timeout), 1, 3600},
};

void fb_config_defaults(struct fb_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->broker_host, sizeof c->broker_host, "192.168.4.1");
    c->broker_port = 1883;
    snprintf(c->prefix, sizeof c->prefix, "bootstrap");
    snprintf(c->key_file, sizeof c->key_file, "/etc/omega-agent/device.key");
    snprintf(c->state_dir, sizeof c->state_dir, "/etc/omega-agent");
    snprintf(c->prov_encryption, sizeof c->prov_encryption, "psk2");
    c->verify_timeout = 60;
    c->broker_timeout = 60;
    c->poll_interval = 1000;
    snprintf(c->uci_path, sizeof c->uci_path, "uci");
    snprintf(c->wifi_path, sizeof c->wifi_path, "wifi");
    snprintf(c->ubus_path, sizeof c->ubus_path, "ubus");
    c->layout = FB_LAYOUT_AUTO;
    c->log_level = FB_LOG_INFO;
    c->use_syslog = 1;
    c->keepalive = 30;
    c->backoff_min_ms = 1000;
    c->backoff_max_ms = 60000;
}

int fb_endpoint_parse(const char *url, struct fb_endpoint *e, char *err, size_t errlen)
{
    const char *p;
    memset(e, 0, sizeof *e);
    if (strncmp(url, "mqtts://", 8) == 0) {
        e->tls = 1;
        p = url + 8;
    } else if (strncmp(url, "mqtt://", 7) == 0) {
        p = url + 7;
    } else {
        snprintf(err, errlen, "broker '%s': not mqtt://host[:port] or mqtts://host[:port]", url);
        return -1;
    }
    const char *host = p, *host_end, *port = NULL;
    if (*p == '[') { /* [v6 literal] */
        host = p + 1;
        host_end = strchr(host, ']');
        if (!host_end || (host_end[1] != '\0' && host_end[1] != ':'))
            goto bad;
        if (host_end[1] == ':')
            port = host_end + 2;
    } else {
        host_end = strchr(p, ':');
        if (host_end)
            port = host_end + 1;
        else
            host_end = p + strlen(p);
    }
    size_t hl = (size_t)(host_end - host);
    if (hl == 0 || hl >= sizeof e->host || memchr(host, '/', hl) || memchr(host, ' ', hl))
        goto bad;
    memcpy(e->host, host, hl);
    e->host[hl] = '\0';
    e->port = e->tls ? 8883 : 1883;
    if (port) {
        char *end;
        errno = 0;
        long v = strtol(port, &end, 10);
        if (errno != 0 || end == port || *end != '\0' || v < 1 || v > 65535)
            goto bad;
        e->port = (int)v;
    }
    return 0;
bad:
    snprintf(err, errlen, "broker '%s': not mqtt://host[:port] or mqtts://host[:port]", url);
    return -1;
}

int fb_config_set(struct fb_config *c, const char *name, const char *value, char *err, size_t errlen)
{
    if (strcmp(name, "broker") == 0) {
        if (c->n_brokers == FB_BROKERS_MAX) {
            snprintf(err, errlen, "broker: more than %d endpoints", FB_BROKERS_MAX);
            return -1;
        }
        if (fb_endpoint_parse(value, &c->brokers[c->n_brokers], err, errlen) != 0)
            return -1;
        c->n_brokers++;
        return 0;
    }
    for (size_t i = 0; i < sizeof k_strings / sizeof k_strings[0]; i++) {
        if (strcmp(name, k_strings[i].name) != 0)
            continue;
        size_t n = strlen(value);
        if (n >= k_strings[i].size) {
            snprintf(err, errlen, "option %s: longer than %zu bytes", name, k_strings[i].size - 1);
            return -1;
        }
        memcpy((char *)c + k_strings[i].offset, value, n + 1);
        return 0;
    }
    for (size_t i = 0; i < sizeof k_ints / sizeof k_ints[0]; i++) {
        if (strcmp(name, k_ints[i].name) != 0)
            continue;
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (errno != 0 || end == value || *end != '\0' || v < k_ints[i].min || v > k_ints[i].max) {
            snprintf(err, errlen, "option %s: '%s' is not a number in %d..%d", name, value, k_ints[i].min,
                     k_ints[i].max);
            return -1;
        }
        *(int *)((char *)c + k_ints[i].offset) = (int)v;
        return 0;
    }
    if (strcmp(name, "auth_mode") == 0) {
        if (strcmp(value, "derived") == 0)
            c->auth_mode = FB_AUTH_DERIVED;
        else if (strcmp(value, "config") == 0)
            c->auth_mode = FB_AUTH_CONFIG;
        else if (strcmp(value, "none") == 0)
            c->auth_mode = FB_AUTH_NONE;
        else {
            snprintf(err, errlen, "option auth_mode: '%s' is not derived, config or none", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "layout") == 0) {
        if (strcmp(value, "auto") == 0)
            c->layout = FB_LAYOUT_AUTO;
        else if (strcmp(value, "omega2") == 0)
            c->layout = FB_LAYOUT_OMEGA2;
        else if (strcmp(value, "generic") == 0)
            c->layout = FB_LAYOUT_GENERIC;
        else {
            snprintf(err, errlen, "option layout: '%s' is not auto, omega2 or generic", value);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "log_level") == 0) {
        if (fb_log_level_parse(value, &c->log_level) != 0) {
            snprintf(err, errlen, "option log_level: '%s' is not error, warn, info or debug", value);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown option '%s'", name);
    return -1;
}

/*
 * Next token of a uci *file* line: bare word, 'single' or "double" quoted (backslash escapes in double
 * quotes). The agent's own config is read here, without the uci tool (it is needed before anything
 * else runs, and on test hosts without uci); uci_cli.c parses the other format, `uci show` output.
 */
static int next_token(char **pp, char *out, size_t cap)
{
    char *p = *pp;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '\0' || *p == '#')
        return 0;
    size_t n = 0;
    while (*p && *p != ' ' && *p != '\t') {
        if (*p == '\'' || *p == '"') {
            char q = *p++;
            while (*p && *p != q) {
                if (q == '"' && *p == '\\' && p[1])
                    p++;
                if (n + 1 >= cap)
                    return -1;
                out[n++] = *p++;
            }
            if (*p != q)
                return -1;
            p++;
        } else {
            if (n + 1 >= cap)
                return -1;
            out[n++] = *p++;
        }
    }
    out[n] = '\0';
    *pp = p;
    return 1;
}

int fb_config_load(struct fb_config *c, const char *path, char *err, size_t errlen)
{
    static char buf[FB_CONFIG_FILE_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len == sizeof buf) {
            snprintf(err, errlen, "%s: larger than %d bytes", path, FB_CONFIG_FILE_MAX);
            close(fd);
            return -1;
        }
    }
    close(fd);
    buf[len] = '\0';
    if (strlen(buf) != len) {
        snprintf(err, errlen, "%s: contains a NUL byte", path);
        return -1;
    }
    int rc = 0, in_agent = 0, lineno = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
        char kw[16], name[64], value[300];
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[l - 1] = '\0';
        char *p = line;
        int t = next_token(&p, kw, sizeof kw);
        if (t == 0)
            continue;
        if (t < 0) {
            snprintf(err, errlen, "%s:%d: syntax error", path, lineno);
            rc = -1;
        } else if (strcmp(kw, "config") == 0) {
            if (next_token(&p, name, sizeof name) != 1) {
                snprintf(err, errlen, "%s:%d: config without a type", path, lineno);
                rc = -1;
            } else {
                in_agent = strcmp(name, "agent") == 0;
            }
        } else if (strcmp(kw, "option") == 0 || strcmp(kw, "list") == 0) {
            /* the one list is `list broker` (the endpoints, in order) */
            int is_list = kw[0] == 'l';
            if (next_token(&p, name, sizeof name) != 1 || next_token(&p, value, sizeof value) != 1 ||
                next_token(&p, kw, sizeof kw) != 0) {
                snprintf(err, errlen, "%s:%d: expected: %s NAME 'VALUE'", path, lineno, is_list ? "list" : "option");
                rc = -1;
            } else if (in_agent) {
                char e[200];
                if (is_list && strcmp(name, "broker") != 0) {
                    snprintf(err, errlen, "%s:%d: unknown list '%s'", path, lineno, name);
                    rc = -1;
                } else if (fb_config_set(c, name, value, e, sizeof e) != 0) {
                    snprintf(err, errlen, "%s:%d: %s", path, lineno, e);
                    rc = -1;
                }
            }
            OPENSSL_cleanse(value, sizeof value);
        } else if (strcmp(kw, "package") == 0) {
            continue;
        } else {
            snprintf(err, errlen, "%s:%d: unknown keyword '%s'", path, lineno, kw);
            rc = -1;
        }
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

static int valid_prefix(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 128 || p[0] == '/' || p[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '/') {
            if (p[i + 1] == '/')
                return 0;
            continue;
        }
        if (!fb_valid_id(&ch, 1))
            return 0;
    }
    return 1;
}

int fb_config_finish(struct fb_config *c, char *err, size_t errlen)
{
    /* Empty: derived from the device key later (fb_default_device_id), never from the hostname. */
    if (c->device_id[0] != '\0' && !fb_valid_id(c->device_id, strlen(c->device_id))) {
        snprintf(err, errlen, "device_id: not 1-64 of [A-Za-z0-9._-] (leave it empty for the key-derived id)");
        return -1;
    }
    if (!valid_prefix(c->prefix)) {
        snprintf(err, errlen, "prefix: not topic levels of [A-Za-z0-9._-] separated by '/'");
        return -1;
    }
    if (c->service_pubkey[0] == '\0') {
        snprintf(err, errlen, "service_pubkey: missing (the pinned service public key)");
        return -1;
    }
    if (c->backoff_max_ms < c->backoff_min_ms)
        c->backoff_max_ms = c->backoff_min_ms;
    if (c->n_brokers == 0) {
        if (snprintf(c->brokers[0].host, sizeof c->brokers[0].host, "%s", c->broker_host) >= (int)sizeof c->brokers[0].host)
            return -1;
        c->brokers[0].port = c->broker_port;
        c->brokers[0].tls = c->tls_ca[0] != '\0';
        c->n_brokers = 1;
    }
    for (int i = 0; i < c->n_brokers; i++) {
        if (c->brokers[i].tls && c->tls_ca[0] == '\0') {
            snprintf(err, errlen, "broker mqtts://%s:%d: TLS needs tls_ca (the CA file)", c->brokers[i].host,
                     c->brokers[i].port);
            return -1;
        }
    }
    if (c->auth_mode == FB_AUTH_CONFIG && c->username[0] == '\0') {
        snprintf(err, errlen, "auth_mode config needs username and password");
        return -1;
    }
    return 0;
}

void fb_config_wipe(struct fb_config *c)
{
    OPENSSL_cleanse(c->password, sizeof c->password);
    OPENSSL_cleanse(c->hello_password, sizeof c->hello_password);
    OPENSSL_cleanse(c->prov_key, sizeof c->prov_key);
}

void fb_config_apply_view(const struct fb_config *c, struct fb_apply_config *a)
{
    memset(a, 0, sizeof *a);
    a->uci_path = c->uci_path;
    a->wifi_path = c->wifi_path;
    a->ubus_path = c->ubus_path;
    a->uci_confdir = c->uci_confdir[0] ? c->uci_confdir : NULL;
    a->uci_conf2dir = c->uci_conf2dir[0] ? c->uci_conf2dir : NULL;
    a->state_dir = c->state_dir;
    a->layout = c->layout;
    a->verify_timeout_s = c->verify_timeout;
    a->poll_interval_ms = c->poll_interval;
    a->prov_ssid = c->prov_ssid[0] ? c->prov_ssid : NULL;
    a->prov_key = c->prov_key[0] ? c->prov_key : NULL;
    a->prov_encryption = c->prov_ssid[0] ? c->prov_encryption : NULL;
    a->broker_timeout_s = c->broker_timeout;
}
