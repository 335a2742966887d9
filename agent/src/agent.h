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

/*
 * Publishes a retained QoS 1 status payload; returns 0 when handed to the broker connection.
 * outcome = 1: the payload carries the persisted outcome (a.state.outcome), which must be published
 * until the broker acknowledges it; the sink then calls fb_agent_outcome_acked. A re-report of the
 * same outcome is byte for byte the same payload.
 */
typedef int (*fb_status_sink)(void *ctx, const char *topic, const char *payload, size_t len, int outcome);

struct fb_agent {
    const struct fb_config *cfg;
    struct fb_apply_config apply;
    uint8_t sk[FB_X25519_LEN];         /* device private key; secret */
    uint8_t pk[FB_X25519_LEN];
    uint8_t service_pk[FB_X25519_LEN];
    char service_kid[20];
    struct fb_state state;
    uint64_t last_seen_seq;            /* highest seq handled (applied, failed, or the stored outcome's) */
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
 * The status that carries the stored outcome while the broker has not acknowledged it: its length,
 * or 0 when there is none or it was acknowledged. Published after every (re)connect.
 */
size_t fb_agent_outcome_json(const struct fb_agent *a, char *out, size_t cap);
/* The broker acknowledged the outcome of seq: persists that, so it is not published again. 0 or -1. */
int fb_agent_outcome_acked(struct fb_agent *a, uint64_t seq);

/*
 * Handles one message on the config topic: every receiver check of Topics.md in order, then apply
 * and report. retained = the broker delivered a stored retained message (on subscribe).
 * Returns the outcome: FB_REASON_NONE when applied (or ignored), else the reason reported.
 * *ignored is set to 1 when nothing new was decided (empty message, retained re-delivery of a seq
 * already handled; for the stored outcome's seq that outcome is reported again while unacknowledged).
 */
enum fb_reason fb_agent_handle_config(struct fb_agent *a, const char *topic, const void *payload, size_t len,
                                      int retained, int *ignored);

#endif
