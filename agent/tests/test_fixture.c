/*
 * The shared envelope fixture (Tests/FleetProtocolTests/Fixtures/envelopes.json, sealed by the Swift
 * side with swift-crypto): every case is opened by this C implementation and every expectation
 * checked, both at the envelope level (ok cases yield exactly the plaintext; info/aad bytes agree)
 * and through the agent's receiver checks (the status reason of error cases).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "agent.h"
#include "envelope.h"
#include "fake_apply.h"
#include "keys.h"
#include "log.h"
#include "testlib.h"

static char g_last[FB_STATUS_MAX];

static int sink(void *ctx, const char *topic, const char *payload, size_t len, int outcome)
{
    (void)ctx;
    (void)outcome;
    (void)topic;
    snprintf(g_last, sizeof g_last, "%.*s", (int)len, payload);
    return 0;
}

static const char *str(struct json_object *o, const char *name)
{
    struct json_object *v;
    return json_object_object_get_ex(o, name, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : NULL;
}

static int hex_eq(const uint8_t *bytes, size_t n, const char *hex)
{
    uint8_t buf[512];
    long m = hex ? fb_t_hex(hex, buf, sizeof buf) : -1;
    return m == (long)n && memcmp(buf, bytes, n) == 0;
}

static enum fb_reason reason_of(const char *name)
{
    for (int r = 0; r < FB_REASON__COUNT; r++)
        if (name && strcmp(fb_reason_name((enum fb_reason)r), name) == 0)
            return (enum fb_reason)r;
    return FB_REASON__COUNT;
}

int main(void)
{
    fb_log_init("test", 0, FB_LOG_WARN);
    static char text[1 << 20];
    char path[512];
    const char *dir = getenv("FB_FIXTURES");
    snprintf(path, sizeof path, "%s/envelopes.json",
             dir && dir[0] ? dir : "../Tests/FleetProtocolTests/Fixtures");
    if (!CHECK(fb_t_read_file(path, text, sizeof text) > 0)) {
        fprintf(stderr, "  cannot read %s (set FB_FIXTURES)\n", path);
        return fb_t_finish();
    }
    struct json_object *root = json_tokener_parse(text), *cases = NULL;
    if (!CHECK(root && json_object_object_get_ex(root, "cases", &cases) && json_object_array_length(cases) >= 20))
        return fb_t_finish();

    const char *state_dir = fb_t_tmpdir();
    static struct fb_config cfg;
    fb_config_defaults(&cfg);
    snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", state_dir);
    static struct fb_agent agent;
    int ok_cases = 0, error_cases = 0;
    for (size_t i = 0; i < json_object_array_length(cases); i++) {
        struct json_object *c = json_object_array_get_idx(cases, i);
        const char *name = str(c, "name"), *envelope = str(c, "envelope"), *expected = str(c, "expected");
        const char *receiver = str(c, "receiver_device");
        if (!CHECK(name && envelope && expected && receiver))
            continue;
        /* The agent as this case's receiver. */
        memset(&agent, 0, sizeof agent);
        snprintf(cfg.device_id, sizeof cfg.device_id, "%s", receiver);
        agent.cfg = &cfg;
        fb_config_apply_view(&cfg, &agent.apply);
        CHECK(fb_t_hex(str(c, "receiver_private_hex"), agent.sk, 32) == 32);
        CHECK(fb_x25519_public(agent.sk, agent.pk) == 0);
        CHECK(fb_t_hex(str(c, "service_public_hex"), agent.service_pk, 32) == 32);
        fb_fingerprint(agent.service_pk, agent.service_kid);
        snprintf(agent.topic_config, sizeof agent.topic_config, "bootstrap/v1/devices/%s/config", receiver);
        snprintf(agent.topic_status, sizeof agent.topic_status, "bootstrap/v1/devices/%s/status", receiver);
        agent.sink = sink;
        g_last[0] = '\0';

        /* The sender's info and aad agree with ours for the sealed device/kind/seq. */
        struct json_object *seqo;
        const char *kind = str(c, "kind"), *device = str(c, "device");
        if (kind && device && json_object_object_get_ex(c, "seq", &seqo)) {
            uint8_t info[22 + FB_CTX_MAX], aad[21 + FB_CTX_MAX];
            enum fb_kind k = strcmp(kind, "reset") == 0 ? FB_KIND_RESET : FB_KIND_WIFI;
            uint64_t seq = (uint64_t)json_object_get_int64(seqo);
            size_t il = fb_envelope_info(k, seq, device, info), al = fb_envelope_aad(k, seq, device, aad);
            if (!CHECK(il && al && hex_eq(info, il, str(c, "info_hex")) && hex_eq(aad, al, str(c, "aad_hex"))))
                fprintf(stderr, "  case %s: info/aad differ\n", name);
        }

        size_t len = strlen(envelope);
        if (strcmp(expected, "ok") == 0) {
            ok_cases++;
            static struct fb_envelope env;
            static uint8_t pt[FB_PLAINTEXT_MAX];
            size_t pt_len = 0;
            const char *want = str(c, "plaintext");
            int opened = fb_envelope_parse(envelope, len, &env) == 0 &&
                         fb_envelope_open(&env, receiver, agent.sk, agent.service_pk, pt, &pt_len) == 0;
            if (!CHECK(opened && want && pt_len == strlen(want) && memcmp(pt, want, pt_len) == 0))
                fprintf(stderr, "  case %s: did not open to the plaintext\n", name);
            /* Through the receiver: applied (wifi) or reset. */
            int ignored = 0;
            enum fb_reason r = fb_agent_handle_config(&agent, agent.topic_config, envelope, len, 0, &ignored);
            if (!CHECK(r == FB_REASON_NONE && !ignored &&
                       (strstr(g_last, "\"state\":\"applied\"") || strstr(g_last, "\"state\":\"reset\""))))
                fprintf(stderr, "  case %s: receiver said %s (%s)\n", name, fb_reason_name(r), g_last);
        } else {
            error_cases++;
            enum fb_reason want = reason_of(str(c, "error"));
            CHECK(want != FB_REASON__COUNT);
            int ignored = 0;
            int applies = fb_fake.wifi_calls + fb_fake.reset_calls;
            enum fb_reason r = fb_agent_handle_config(&agent, agent.topic_config, envelope, len, 0, &ignored);
            if (!CHECK(r == want && strstr(g_last, "\"state\":\"failed\"") != NULL))
                fprintf(stderr, "  case %s: got %s, want %s\n", name, fb_reason_name(r), fb_reason_name(want));
            CHECK(fb_fake.wifi_calls + fb_fake.reset_calls == applies); /* nothing applied */
        }
    }
    printf("fixture: %d ok cases, %d error cases\n", ok_cases, error_cases);
    CHECK(ok_cases >= 3 && error_cases >= 10);
    json_object_put(root);
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", state_dir);
    CHECK(system(cmd) == 0);
    return fb_t_finish();
}
