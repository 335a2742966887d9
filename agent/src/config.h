/* The agent's own configuration: /etc/config/omega-agent (uci file format), plus overrides. */
#ifndef FB_CONFIG_H
#define FB_CONFIG_H

#include <stddef.h>

#include "apply.h"
#include "log.h"

#define FB_CONFIG_PATH_DEFAULT "/etc/config/omega-agent"
#define FB_CONFIG_FILE_MAX 16384

enum fb_auth_mode { FB_AUTH_DERIVED = 0, FB_AUTH_CONFIG, FB_AUTH_NONE };

#define FB_BROKERS_MAX 8

/* One broker endpoint: `mqtt://host[:port]` (plain) or `mqtts://host[:port]` (TLS with tls_ca). */
struct fb_endpoint {
    char host[256];
    int port;
    int tls;
};

struct fb_config {
    char device_id[65];
    char broker_host[256];
    int broker_port;
    char tls_ca[256];          /* CA file; empty = plain TCP */
    /*
     * The ordered endpoint list (`list broker 'mqtts://host:port'`, `--set broker=URL` adds one),
     * tried in order at every connect. Empty: fb_config_finish makes it broker_host:broker_port,
     * TLS when tls_ca is set.
     */
    struct fb_endpoint brokers[FB_BROKERS_MAX];
    int n_brokers;
    int broker_timeout;        /* seconds a premises apply may take to reach a broker over the new network */
    enum fb_auth_mode auth_mode;
    char username[65];         /* auth_mode config */
    char password[129];        /* auth_mode config; secret */
    char hello_username[65];   /* hello-only account used while not enrolled */
    char hello_password[129];  /* secret */
    char prefix[129];
    char service_pubkey[256];  /* 43 chars base64url, or a path to an x25519-public key file */
    char key_file[256];
    char state_dir[256];
    char prov_ssid[33];
    char prov_key[65];         /* secret */
    char prov_encryption[16];
    int verify_timeout;        /* seconds */
    int poll_interval;         /* milliseconds */
    char uci_path[256];
    char wifi_path[256];
    char ubus_path[256];
    char uci_confdir[256];     /* empty = /etc/config */
    char uci_conf2dir[256];    /* uci's run-time override dir (tests); empty = /var/run/uci */
    enum fb_layout layout;
    enum fb_log_level log_level;
    int use_syslog;            /* 1 = syslog, 0 = stderr */
    int keepalive;             /* seconds */
    int backoff_min_ms;
    int backoff_max_ms;
    char model[33];
    char mac[13];
};

/* Defaults for every option (device_id empty). */
void fb_config_defaults(struct fb_config *c);
/* Sets one option by its uci name. 0, or -1 with a message in err (never the value of a secret). */
int fb_config_set(struct fb_config *c, const char *name, const char *value, char *err, size_t errlen);
/* Parses `mqtt[s]://host[:port]` (host may be [ipv6]). 0, or -1 with err. */
int fb_endpoint_parse(const char *url, struct fb_endpoint *e, char *err, size_t errlen);
/* Reads a uci-format file: "config agent" sections' "option name value" lines. 0 or -1 with err. */
int fb_config_load(struct fb_config *c, const char *path, char *err, size_t errlen);
/* Checks required options. An empty device_id stays empty: the caller derives it from the key. 0 or -1. */
int fb_config_finish(struct fb_config *c, char *err, size_t errlen);
/* Wipes the secret options. */
void fb_config_wipe(struct fb_config *c);
/* The fb_apply_config view of this configuration (pointers into c). */
void fb_config_apply_view(const struct fb_config *c, struct fb_apply_config *a);

#endif
