/* A small synchronous wrapper over libmosquitto for the agent: one connection, MQTT 3.1.1. */
#ifndef FB_MQTT_H
#define FB_MQTT_H

#include <stddef.h>

enum fb_mqtt_result {
    FB_MQTT_OK = 0,
    FB_MQTT_REFUSED_AUTH = 1, /* CONNACK: bad user name or password / not authorised */
    FB_MQTT_ERROR = -1,       /* network error, timeout, other refusal */
};

/* retained: 1 when the broker delivered a stored retained message. payload NULL if over the size cap. */
typedef void (*fb_mqtt_message_cb)(void *ctx, const char *topic, const void *payload, size_t len, int retained);

struct fb_mqtt;

struct fb_mqtt_options {
    const char *host;
    int port;
    int keepalive;
    const char *tls_ca;   /* NULL/"" = plain TCP */
    const char *username; /* NULL = anonymous */
    const char *password;
    const char *will_topic; /* NULL = no will */
    const char *will_payload;
    long long clock_floor;  /* Unix s: the certificate is checked at no earlier time than this (0 = the clock) */
};

/*
 * TLS at first boot. The Omega2 has no RTC: until NTP syncs its clock is at 1970 or the image build
 * time (OpenWRT's sysfixtime), while the broker's certificate was issued later. The certificate is
 * therefore checked at T = max(clock, clock_floor), and a "not yet valid" certificate is accepted
 * when its notBefore lies at most FB_TLS_NOT_BEFORE_LEEWAY_S after T. Expiry is checked at T: a
 * certificate that expired before T is refused.
 */
#define FB_TLS_NOT_BEFORE_LEEWAY_S (730LL * 24 * 3600)

/*
 * Configures ctx (TLS 1.2+) to verify the broker against the CA file and host (name or IP literal)
 * at the time T above, given the clock's reading now. 0 or -1. Exposed for tests.
 */
struct ssl_ctx_st;
int fb_tls_configure(struct ssl_ctx_st *ctx, const char *ca_file, const char *host, long long now,
                     long long clock_floor);

int fb_mqtt_lib_init(void);
void fb_mqtt_lib_cleanup(void);

struct fb_mqtt *fb_mqtt_new(const char *client_id, fb_mqtt_message_cb cb, void *ctx);
void fb_mqtt_free(struct fb_mqtt *m);

/* Connects and waits up to timeout_ms for the CONNACK. */
enum fb_mqtt_result fb_mqtt_connect(struct fb_mqtt *m, const struct fb_mqtt_options *o, int timeout_ms);
/* Subscribes at QoS 1 and waits for the SUBACK. 0 or -1. */
int fb_mqtt_subscribe(struct fb_mqtt *m, const char *topic, int timeout_ms);
/* Publishes at QoS 1. wait_ms > 0: also waits for the PUBACK. 0 or -1. */
int fb_mqtt_publish(struct fb_mqtt *m, const char *topic, const void *payload, size_t len, int retain, int wait_ms);
/*
 * Publishes at QoS 1 without waiting and returns the message id (> 0) to pass to fb_mqtt_acked, or -1.
 * The connection remembers one such id at a time (the newest).
 */
int fb_mqtt_publish_tracked(struct fb_mqtt *m, const char *topic, const void *payload, size_t len, int retain);
/* 1 once the broker acknowledged (PUBACK) the message with that id on this connection, else 0. */
int fb_mqtt_acked(const struct fb_mqtt *m, int mid);
/* Runs network I/O for up to timeout_ms. 0, or -1 when the connection is gone. */
int fb_mqtt_loop(struct fb_mqtt *m, int timeout_ms);
/* Sends DISCONNECT (no will) and closes. */
void fb_mqtt_disconnect(struct fb_mqtt *m);

#endif
