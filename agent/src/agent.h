/*
 * The agent's protocol logic, independent of the broker connection: envelope checks in the order of
 * Topics.md, apply, persist, and the status/hello payloads. main.c wires it to MQTT.
 */
#ifndef FB_AGENT_H
#define FB_AGENT_H

#include <stddef.h>
#include <stdint.h>

#include "apply.h"
#include "config.h"
#include "hpke.h"
#include "reason.h"
#include "state.h"

#define FB_AGENT_VERSION "0.1.0"
#define FB_TOPIC_MAX 256
#define FB_STATUS_MAX 1024

/* Publishes a retained QoS 1 status payload; returns 0 when handed to the broker connection. */
typedef int (*fb_status_sink)(void *ctx, const char *topic, const char *payload, size_t len);

struct fb_agent {
    const struct fb_config *cfg;
    struct fb_apply_config apply;
    uint8_t sk[FB_X25519_LEN];         /* device private key; secret */
    uint8_t pk[FB_X25519_LEN];
    uint8_t service_pk[FB_X25519_LEN];
    char service_kid[20];
    struct fb_state state;
    uint64_t last_seen_seq;            /* highest seq processed this run (applied or failed) */
    char topic_hello[FB_TOPIC_MAX];
    char topic_config[FB_TOPIC_MAX];
    char topic_status[FB_TOPIC_MAX];
    fb_status_sink sink;
    void *sink_ctx;
};

/* Loads keys, state (incrementing the boot counter) and builds topics. 0 or -1 with err. */
int fb_agent_init(struct fb_agent *a, const struct fb_config *cfg, char *err, size_t errlen);
void fb_agent_wipe(struct fb_agent *a);

/* Status JSON for this device. reason NONE omits "reason"; detail may be NULL. Returns length or 0. */
size_t fb_agent_status_json(const struct fb_agent *a, const char *state, uint64_t seq, enum fb_reason reason,
                            const char *detail, char *out, size_t cap);
/* Hello JSON with a fresh nonce. Returns length or 0. */
size_t fb_agent_hello_json(const struct fb_agent *a, char *out, size_t cap);

/* Publishes a status through the sink. 0 or -1. */
int fb_agent_report(struct fb_agent *a, const char *state, uint64_t seq, enum fb_reason reason, const char *detail);

/*
 * Handles one message on the config topic: every receiver check of Topics.md in order, then apply
 * and report. retained = the broker delivered a stored retained message (on subscribe).
 * Returns the outcome: FB_REASON_NONE when applied (or ignored), else the reason reported.
 * *ignored is set to 1 when nothing was reported (empty message, retained re-delivery).
 */
enum fb_reason fb_agent_handle_config(struct fb_agent *a, const char *topic, const void *payload, size_t len,
                                      int retained, int *ignored);

#endif
