/*
 * libFuzzer target for the untrusted-input path of the agent: a config-topic payload goes through
 * the receiver checks (parse, device, kid, replay, HPKE open) and the opened plaintext through the
 * profile parser. The first byte picks the mode so that both parsers also see raw input directly.
 *   make -C agent fuzz FUZZ_SECONDS=60
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent.h"
#include "envelope.h"
#include "fake_apply.h"
#include "keys.h"
#include "log.h"
#include "profile.h"

static struct fb_agent g_agent;
static struct fb_config g_cfg;
static int g_ready;

static int null_sink(void *ctx, const char *topic, const char *payload, size_t len, int outcome)
{
    (void)ctx;
    (void)outcome;
    (void)topic;
    (void)payload;
    (void)len;
    return 0;
}

static void setup(void)
{
    /* Fixed keys: the fuzzer's seeds are sealed to them (make_seeds.c). */
    static const uint8_t dev_sk[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                       17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
    static const uint8_t svc_sk[32] = {32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
                                       16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
    fb_log_init("fuzz", 0, FB_LOG_ERROR);
    fb_config_defaults(&g_cfg);
    memcpy(g_cfg.device_id, "omega-fuzz", 11);
    g_agent.cfg = &g_cfg;
    memcpy(g_agent.sk, dev_sk, 32);
    if (fb_x25519_public(dev_sk, g_agent.pk) != 0 || fb_x25519_public(svc_sk, g_agent.service_pk) != 0)
        __builtin_trap();
    fb_fingerprint(g_agent.service_pk, g_agent.service_kid);
    memcpy(g_agent.topic_config, "bootstrap/v1/devices/omega-fuzz/config", 39);
    memcpy(g_agent.topic_status, "bootstrap/v1/devices/omega-fuzz/status", 39);
    g_agent.sink = null_sink;
    /* Every apply fails (fake), so nothing is ever persisted: each input starts from the same state. */
    fb_fake.wifi_result = -1;
    fb_fake.wifi_reason = FB_REASON_APPLY_ERROR;
    fb_fake.reset_result = -1;
    g_ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_ready)
        setup();
    if (size == 0)
        return 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0: {
        int ignored;
        g_agent.state.seq = 0;
        g_agent.last_seen_seq = 0;
        (void)fb_agent_handle_config(&g_agent, g_agent.topic_config, body, len, data[0] & 0x80, &ignored);
        break;
    }
    case 1: {
        static struct fb_envelope env;
        (void)fb_envelope_parse(body, len, &env);
        break;
    }
    default: {
        struct fb_wifi_profile p;
        char err[200];
        (void)fb_profile_parse(body, len, &p, err, sizeof err);
        fb_profile_wipe(&p);
        break;
    }
    }
    return 0;
}
