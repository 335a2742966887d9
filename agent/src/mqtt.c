#include "mqtt.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <mosquitto.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "envelope.h"
#include "log.h"

struct fb_mqtt {
    struct mosquitto *mosq;
    fb_mqtt_message_cb cb;
    void *ctx;
    int connack;   /* -1 while waiting */
    int connected;
    int suback_mid, suback_done;
    int puback_mid, puback_done;
    int tracked_mid, tracked_done; /* fb_mqtt_publish_tracked */
    SSL_CTX *ssl_ctx;              /* ours (libmosquitto only borrows it) */
};

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    struct fb_mqtt *m = obj;
    m->connack = rc;
    m->connected = rc == 0;
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
    (void)mosq;
    (void)rc;
    struct fb_mqtt *m = obj;
    m->connected = 0;
}

static void on_subscribe(struct mosquitto *mosq, void *obj, int mid, int qos_count, const int *granted)
{
    (void)mosq;
    struct fb_mqtt *m = obj;
    if (mid == m->suback_mid)
        m->suback_done = (qos_count == 1 && granted[0] <= 2) ? 1 : -1;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid)
{
    (void)mosq;
    struct fb_mqtt *m = obj;
    if (mid == m->puback_mid)
        m->puback_done = 1;
    if (mid == m->tracked_mid)
        m->tracked_done = 1;
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
    (void)mosq;
    struct fb_mqtt *m = obj;
    if (msg->payloadlen < 0)
        return;
    size_t len = (size_t)msg->payloadlen;
    m->cb(m->ctx, msg->topic, len > FB_ENVELOPE_MAX ? NULL : msg->payload, len, msg->retain ? 1 : 0);
}

int fb_mqtt_lib_init(void) { return mosquitto_lib_init() == MOSQ_ERR_SUCCESS ? 0 : -1; }
void fb_mqtt_lib_cleanup(void) { (void)mosquitto_lib_cleanup(); }

struct fb_mqtt *fb_mqtt_new(const char *client_id, fb_mqtt_message_cb cb, void *ctx)
{
    struct fb_mqtt *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->cb = cb;
    m->ctx = ctx;
    m->mosq = mosquitto_new(client_id, true, m);
    if (m->mosq == NULL) {
        free(m);
        return NULL;
    }
    mosquitto_connect_callback_set(m->mosq, on_connect);
    mosquitto_disconnect_callback_set(m->mosq, on_disconnect);
    mosquitto_subscribe_callback_set(m->mosq, on_subscribe);
    mosquitto_publish_callback_set(m->mosq, on_publish);
    mosquitto_message_callback_set(m->mosq, on_message);
    return m;
}

void fb_mqtt_free(struct fb_mqtt *m)
{
    if (m == NULL)
        return;
    mosquitto_destroy(m->mosq);
    SSL_CTX_free(m->ssl_ctx);
    free(m);
}

/* Accepts "certificate is not yet valid" within the leeway after the verification time (mqtt.h). */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
    if (ok || X509_STORE_CTX_get_error(store) != X509_V_ERR_CERT_NOT_YET_VALID)
        return ok;
    X509 *cert = X509_STORE_CTX_get_current_cert(store);
    time_t limit = (time_t)(X509_VERIFY_PARAM_get_time(X509_STORE_CTX_get0_param(store)) + FB_TLS_NOT_BEFORE_LEEWAY_S);
    if (cert && X509_cmp_time(X509_get0_notBefore(cert), &limit) < 0) {
        fb_info("TLS: certificate valid from later than this device's clock; accepted within the first-boot leeway");
        X509_STORE_CTX_set_error(store, X509_V_OK);
        return 1;
    }
    return 0;
}

int fb_tls_configure(struct ssl_ctx_st *ctx, const char *ca_file, const char *host, long long now,
                     long long clock_floor)
{
    unsigned char ip[16];
    X509_VERIFY_PARAM *param = SSL_CTX_get0_param(ctx);
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1 || param == NULL)
        return -1;
    int literal = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host) : X509_VERIFY_PARAM_set1_host(param, host, 0)) != 1)
        return -1;
    X509_VERIFY_PARAM_set_time(param, (time_t)(now > clock_floor ? now : clock_floor));
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, verify_cb);
    return 0;
}

enum fb_mqtt_result fb_mqtt_connect(struct fb_mqtt *m, const struct fb_mqtt_options *o, int timeout_ms)
{
    int rc;
    m->connack = -1;
    m->connected = 0;
    rc = mosquitto_username_pw_set(m->mosq, o->username, o->username ? o->password : NULL);
    if (rc != MOSQ_ERR_SUCCESS)
        return FB_MQTT_ERROR;
    (void)mosquitto_will_clear(m->mosq);
    if (o->will_topic) {
        rc = mosquitto_will_set(m->mosq, o->will_topic, (int)strlen(o->will_payload), o->will_payload, 1, true);
        if (rc != MOSQ_ERR_SUCCESS)
            return FB_MQTT_ERROR;
    }
    if (o->tls_ca && o->tls_ca[0]) {
        /* our own context, so that the verification time and its leeway are ours (mqtt.h) */
        SSL_CTX_free(m->ssl_ctx);
        m->ssl_ctx = SSL_CTX_new(TLS_client_method());
        if (m->ssl_ctx == NULL || fb_tls_configure(m->ssl_ctx, o->tls_ca, o->host, (long long)time(NULL), o->clock_floor) != 0 ||
            mosquitto_int_option(m->mosq, MOSQ_OPT_SSL_CTX_WITH_DEFAULTS, 0) != MOSQ_ERR_SUCCESS ||
            mosquitto_void_option(m->mosq, MOSQ_OPT_SSL_CTX, m->ssl_ctx) != MOSQ_ERR_SUCCESS) {
            fb_err("TLS setup with CA %s failed", o->tls_ca);
            return FB_MQTT_ERROR;
        }
    }
    rc = mosquitto_connect(m->mosq, o->host, o->port, o->keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
        fb_warn("connect to %s:%d failed: %s", o->host, o->port, mosquitto_strerror(rc));
        return FB_MQTT_ERROR;
    }
    long deadline = now_ms() + timeout_ms;
    while (m->connack < 0 && now_ms() < deadline) {
        rc = mosquitto_loop(m->mosq, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && m->connack < 0)
            break;
    }
    if (m->connack == 0)
        return FB_MQTT_OK;
    if (m->connack == 4 || m->connack == 5) {
        fb_info("broker refused the credentials: %s", mosquitto_connack_string(m->connack));
        (void)mosquitto_disconnect(m->mosq);
        return FB_MQTT_REFUSED_AUTH;
    }
    if (m->connack > 0)
        fb_warn("broker refused the connection: %s", mosquitto_connack_string(m->connack));
    else
        fb_warn("no CONNACK from %s:%d", o->host, o->port);
    (void)mosquitto_disconnect(m->mosq);
    return FB_MQTT_ERROR;
}

int fb_mqtt_subscribe(struct fb_mqtt *m, const char *topic, int timeout_ms)
{
    m->suback_done = 0;
    m->suback_mid = -1;
    int mid = 0;
    if (mosquitto_subscribe(m->mosq, &mid, topic, 1) != MOSQ_ERR_SUCCESS)
        return -1;
    m->suback_mid = mid;
    long deadline = now_ms() + timeout_ms;
    while (m->suback_done == 0 && m->connected && now_ms() < deadline)
        if (mosquitto_loop(m->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    return m->suback_done == 1 ? 0 : -1;
}

int fb_mqtt_publish(struct fb_mqtt *m, const char *topic, const void *payload, size_t len, int retain, int wait_ms)
{
    int mid = 0;
    if (len > 0x7fffffff)
        return -1;
    m->puback_done = 0;
    m->puback_mid = -1;
    if (mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, 1, retain ? true : false) != MOSQ_ERR_SUCCESS)
        return -1;
    if (wait_ms <= 0)
        return 0;
    m->puback_mid = mid;
    long deadline = now_ms() + wait_ms;
    while (!m->puback_done && m->connected && now_ms() < deadline)
        if (mosquitto_loop(m->mosq, 100, 1) != MOSQ_ERR_SUCCESS)
            break;
    return m->puback_done ? 0 : -1;
}

int fb_mqtt_publish_tracked(struct fb_mqtt *m, const char *topic, const void *payload, size_t len, int retain)
{
    int mid = 0;
    if (len > 0x7fffffff)
        return -1;
    if (mosquitto_publish(m->mosq, &mid, topic, (int)len, payload, 1, retain ? true : false) != MOSQ_ERR_SUCCESS)
        return -1;
    /* on_publish runs from mosquitto_loop only, never inside mosquitto_publish: no ack is missed here */
    m->tracked_mid = mid;
    m->tracked_done = 0;
    return mid > 0 ? mid : -1;
}

int fb_mqtt_acked(const struct fb_mqtt *m, int mid) { return mid > 0 && mid == m->tracked_mid && m->tracked_done; }

int fb_mqtt_loop(struct fb_mqtt *m, int timeout_ms)
{
    int rc = mosquitto_loop(m->mosq, timeout_ms, 1);
    if (rc != MOSQ_ERR_SUCCESS || !m->connected)
        return -1;
    return 0;
}

void fb_mqtt_disconnect(struct fb_mqtt *m)
{
    if (mosquitto_disconnect(m->mosq) == MOSQ_ERR_SUCCESS)
        (void)mosquitto_loop(m->mosq, 100, 1);
    m->connected = 0;
}
