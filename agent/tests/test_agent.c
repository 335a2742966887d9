/* The agent's envelope handling: every receiver check of Topics.md in order, reports, persistence.
 * Uses the fake apply (fake_apply.c) so that the outcome of applying is under the test's control. */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent.h"
#include "envelope.h"
#include "fake_apply.h"
#include "keys.h"
#include "log.h"
#include "testlib.h"

static char reports[16][FB_STATUS_MAX];
static int tracked[16]; /* the sink's outcome flag per report */
static int nreports;

static int sink(void *ctx, const char *topic, const char *payload, size_t len, int outcome)
{
    (void)ctx;
    CHECK(strstr(topic, "/v1/devices/omega-a1b2/status") != NULL);
    if (nreports < 16) {
        snprintf(reports[nreports], FB_STATUS_MAX, "%.*s", (int)len, payload);
        tracked[nreports] = outcome;
        nreports++;
    }
    return 0;
}

static struct fb_agent agent;
static struct fb_config cfg;
static uint8_t svc_sk[32], svc_pk[32], other_sk[32], other_pk[32];
static char env_json[FB_ENVELOPE_MAX * 2];
static const char *k_topic = "bootstrap/v1/devices/omega-a1b2/config";
static const char *k_good = "{\"ssid\":\"Premises\",\"encryption\":\"psk2\",\"key\":\"correct horse battery\"}";

static void seal_as(const uint8_t *sk, enum fb_kind kind, const char *id, uint64_t seq, const char *pt)
{
    CHECK(fb_envelope_seal(kind, id, seq, agent.pk, sk, (const uint8_t *)pt, strlen(pt), env_json, sizeof env_json) == 0);
}

/* Replaces the one occurrence of `from` in env_json by `to`; -1 when `from` is not there exactly once. */
static int relabel(const char *from, const char *to)
{
    char *at = strstr(env_json, from);
    if (!at || strstr(at + 1, from))
        return -1;
    size_t fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
    if ((size_t)(at - env_json) + tl + rest + 1 > sizeof env_json)
        return -1;
    memmove(at + tl, at + fl, rest + 1);
    memcpy(at, to, tl);
    return 0;
}

static void expect_retained_redelivery(int want_reports, const char *contains);

/* Handles env_json and checks: outcome, number of reports, and the last report's contents. */
static void expect(const char *topic, enum fb_reason want, int want_reports, const char *last_contains)
{
    int ignored = 0;
    nreports = 0;
    enum fb_reason r = fb_agent_handle_config(&agent, topic, env_json, strlen(env_json), 0, &ignored);
    if (!CHECK(r == want))
        fprintf(stderr, "  got reason %s, want %s\n", fb_reason_name(r), fb_reason_name(want));
    if (!CHECK(nreports == want_reports))
        fprintf(stderr, "  %d reports, want %d\n", nreports, want_reports);
    if (nreports > 0 && last_contains && !CHECK(strstr(reports[nreports - 1], last_contains) != NULL))
        fprintf(stderr, "  last report %s lacks %s\n", reports[nreports - 1], last_contains);
}

/* Handles env_json as a retained re-delivery: nothing new is decided; want_reports re-reports. */
static void expect_retained_redelivery(int want_reports, const char *contains)
{
    int ignored = 0;
    nreports = 0;
    CHECK(fb_agent_handle_config(&agent, k_topic, env_json, strlen(env_json), 1, &ignored) == FB_REASON_NONE);
    CHECK(ignored == 1);
    if (!CHECK(nreports == want_reports))
        fprintf(stderr, "  %d reports on a retained re-delivery, want %d\n", nreports, want_reports);
    if (nreports > 0 && contains && !CHECK(strstr(reports[0], contains) != NULL))
        fprintf(stderr, "  report %s lacks %s\n", reports[0], contains);
}

int main(void)
{
    fb_log_init("test", 0, FB_LOG_WARN);
    const char *dir = fb_t_tmpdir();
    char err[300], keyfile[300], pubfile[300];
    CHECK(fb_x25519_keypair(svc_sk, svc_pk) == 0 && fb_x25519_keypair(other_sk, other_pk) == 0);
    snprintf(keyfile, sizeof keyfile, "%s/device.key", dir);
    snprintf(pubfile, sizeof pubfile, "%s/service.pub", dir);
    CHECK(fb_key_file_write(pubfile, "x25519-public", svc_pk) == 0);

    /* Config file in uci format, with overrides. */
    char cfgpath[300];
    snprintf(cfgpath, sizeof cfgpath, "%s/omega-agent", dir);
    FILE *f = fopen(cfgpath, "w");
    CHECK(f != NULL);
    fprintf(f, "# comment\nconfig agent 'agent'\n\toption device_id 'omega-a1b2'\n\toption broker_port \"1884\"\n"
               "\toption service_pubkey '%s'\n\toption key_file '%s'\n\toption state_dir '%s'\n"
               "\toption hello_password 'it''s'\n\toption layout omega2\n\nconfig other 'x'\n\toption device_id 'no'\n",
            pubfile, keyfile, dir);
    CHECK(fclose(f) == 0);
    fb_config_defaults(&cfg);
    CHECK(fb_config_load(&cfg, cfgpath, err, sizeof err) == 0);
    CHECK(strcmp(cfg.device_id, "omega-a1b2") == 0 && cfg.broker_port == 1884 && cfg.layout == FB_LAYOUT_OMEGA2);
    CHECK(strcmp(cfg.hello_password, "its") == 0);
    CHECK(fb_config_set(&cfg, "broker_port", "70000", err, sizeof err) != 0 && strstr(err, "broker_port"));
    CHECK(fb_config_set(&cfg, "nonsense", "1", err, sizeof err) != 0);
    CHECK(fb_config_set(&cfg, "auth_mode", "none", err, sizeof err) == 0 && cfg.auth_mode == FB_AUTH_NONE);
    CHECK(fb_config_set(&cfg, "prefix", "site/a", err, sizeof err) == 0);
    CHECK(fb_config_finish(&cfg, err, sizeof err) == 0);
    CHECK(fb_config_set(&cfg, "prefix", "bad/", err, sizeof err) == 0 && fb_config_finish(&cfg, err, sizeof err) != 0);
    /* An empty device_id is left for the key-derived default (never the hostname); a bad one is refused;
     * the agent core refuses to run without one. */
    {
        struct fb_config noid = cfg;
        struct fb_agent a2;
        CHECK(fb_config_set(&noid, "prefix", "bootstrap", err, sizeof err) == 0);
        CHECK(fb_config_set(&noid, "device_id", "", err, sizeof err) == 0 && fb_config_finish(&noid, err, sizeof err) == 0);
        CHECK(noid.device_id[0] == '\0');
        CHECK(fb_agent_init(&a2, &noid, err, sizeof err) != 0 && strstr(err, "device_id"));
        CHECK(fb_config_set(&noid, "device_id", "a/b", err, sizeof err) != 0 ||
              fb_config_finish(&noid, err, sizeof err) != 0);
        fb_agent_wipe(&a2);
    }
    CHECK(fb_config_set(&cfg, "prefix", "bootstrap", err, sizeof err) == 0);
    /* Broker endpoints: without a list, the one of broker_host/broker_port (TLS when tls_ca is set). */
    CHECK(cfg.n_brokers == 1 && strcmp(cfg.brokers[0].host, "192.168.4.1") == 0 && cfg.brokers[0].port == 1884 &&
          !cfg.brokers[0].tls);
    {
        struct fb_config eps;
        struct fb_endpoint e;
        fb_config_defaults(&eps);
        FILE *ef = fopen(cfgpath, "w");
        CHECK(ef && fprintf(ef, "config agent 'agent'\n\toption service_pubkey 'x'\n\toption tls_ca '/ca.crt'\n"
                                "\tlist broker 'mqtts://broker.site.lan'\n\tlist broker 'mqtt://10.0.0.5:1884'\n"
                                "\tlist broker 'mqtts://[fd00::1]:8884'\n") > 0 && fclose(ef) == 0);
        CHECK(fb_config_load(&eps, cfgpath, err, sizeof err) == 0 && fb_config_finish(&eps, err, sizeof err) == 0);
        CHECK(eps.n_brokers == 3);
        CHECK(strcmp(eps.brokers[0].host, "broker.site.lan") == 0 && eps.brokers[0].port == 8883 && eps.brokers[0].tls);
        CHECK(strcmp(eps.brokers[1].host, "10.0.0.5") == 0 && eps.brokers[1].port == 1884 && !eps.brokers[1].tls);
        CHECK(strcmp(eps.brokers[2].host, "fd00::1") == 0 && eps.brokers[2].port == 8884 && eps.brokers[2].tls);
        CHECK(fb_config_set(&eps, "broker", "mqtt://added:1", err, sizeof err) == 0 && eps.n_brokers == 4);
        CHECK(fb_config_set(&eps, "broker_timeout", "0", err, sizeof err) != 0);
        CHECK(eps.broker_timeout == 60);
        const char *bad[] = {"tcp://h:1", "mqtt://", "mqtt://h:0", "mqtt://h:65536", "mqtt://h:1x", "mqtt://[::1",
                             "mqtt://a/b:1", "mqtts://[::1]x"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            CHECK(fb_endpoint_parse(bad[i], &e, err, sizeof err) != 0 && strstr(err, "mqtts://host"));
        fb_config_defaults(&eps);
        CHECK(fb_config_set(&eps, "service_pubkey", "x", err, sizeof err) == 0 &&
              fb_config_set(&eps, "broker", "mqtts://h", err, sizeof err) == 0 &&
              fb_config_finish(&eps, err, sizeof err) != 0 && strstr(err, "tls_ca"));
        ef = fopen(cfgpath, "w");
        CHECK(ef && fputs("config agent 'agent'\n\tlist servers 'x'\n", ef) >= 0 && fclose(ef) == 0);
        fb_config_defaults(&eps);
        CHECK(fb_config_load(&eps, cfgpath, err, sizeof err) != 0 && strstr(err, "unknown list"));
    }
    struct fb_config broken;
    fb_config_defaults(&broken);
    f = fopen(cfgpath, "w");
    CHECK(f && fputs("config agent\n\toption device_id 'unterminated\n", f) >= 0 && fclose(f) == 0);
    CHECK(fb_config_load(&broken, cfgpath, err, sizeof err) != 0 && strstr(err, ":2:"));

    CHECK(fb_agent_init(&agent, &cfg, err, sizeof err) == 0);
    CHECK(agent.state.boot == 1 && agent.state.seq == 0);
    agent.sink = sink;
    CHECK(strcmp(agent.topic_config, k_topic) == 0);

    /* Hello and status payloads. */
    char buf[1024];
    CHECK(fb_agent_hello_json(&agent, buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"device\":\"omega-a1b2\"") && strstr(buf, "\"boot\":1") && strstr(buf, "\"caps\":[\"wifi\",\"reset\"]"));
    CHECK(fb_agent_status_json(&agent, "failed", 3, FB_REASON_REPLAY, "a \"quoted\"\nline", buf, sizeof buf) > 0);
    CHECK(strstr(buf, "\"state\":\"failed\",\"seq\":3,\"reason\":\"replay\",\"detail\":\"a \\\"quoted\\\" line\""));

    /* 1. too large: reported before anything is parsed. */
    static char huge[FB_ENVELOPE_MAX + 2];
    memset(huge, ' ', sizeof huge - 1);
    int ignored;
    nreports = 0;
    CHECK(fb_agent_handle_config(&agent, k_topic, huge, FB_ENVELOPE_MAX + 1, 0, &ignored) == FB_REASON_TOO_LARGE);
    CHECK(nreports == 1 && strstr(reports[0], "\"reason\":\"too_large\"") && strstr(reports[0], "\"seq\":0"));
    /* Empty (cleared) config: ignored, nothing reported. */
    nreports = 0;
    CHECK(fb_agent_handle_config(&agent, k_topic, "", 0, 1, &ignored) == FB_REASON_NONE && ignored && nreports == 0);
    /* 2. malformed */
    snprintf(env_json, sizeof env_json, "{\"v\":1,\"kind\":\"wifi\"");
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "\"seq\":0");
    /* 3. another device: in the envelope, or on another device's topic. */
    seal_as(svc_sk, FB_KIND_WIFI, "omega-ffff", 5, k_good);
    expect(k_topic, FB_REASON_WRONG_DEVICE, 1, "\"seq\":5");
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, k_good);
    expect("bootstrap/v1/devices/omega-ffff/config", FB_REASON_WRONG_DEVICE, 1, "wrong_device");
    /* 4. sealed by another service key: kid mismatch */
    seal_as(other_sk, FB_KIND_WIFI, "omega-a1b2", 5, k_good);
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "bad_envelope");
    /* 6. right kid, but does not open (kid forged onto another key's envelope) */
    char kid_other[20], kid_svc[20];
    fb_fingerprint(other_pk, kid_other);
    fb_fingerprint(svc_pk, kid_svc);
    char *k = strstr(env_json, kid_other);
    CHECK(k != NULL);
    if (k)
        memcpy(k, kid_svc, 19);
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "\"seq\":5");
    /* tampered ciphertext */
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, k_good);
    char *ct = strstr(env_json, "\"ct\":\"");
    ct[8] = ct[8] == 'A' ? 'B' : 'A';
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "bad_envelope");
    /* 7. invalid profile: 33-byte SSID, 7-char key; the detail names the field. */
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, "{\"ssid\":\"123456789012345678901234567890123\",\"encryption\":\"none\"}");
    expect(k_topic, FB_REASON_INVALID_PROFILE, 1, "\"detail\":\"ssid:");
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, "{\"ssid\":\"x\",\"encryption\":\"psk2\",\"key\":\"1234567\"}");
    expect(k_topic, FB_REASON_INVALID_PROFILE, 1, "\"detail\":\"key:");
    CHECK(fb_fake.wifi_calls == 0);
    /* 8. apply fails: applying, then failed with the module's reason; seq not persisted. */
    fb_fake.wifi_result = -1;
    fb_fake.wifi_reason = FB_REASON_AUTH_FAILED;
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, k_good);
    expect(k_topic, FB_REASON_AUTH_FAILED, 2, "auth_failed");
    CHECK(strstr(reports[0], "\"state\":\"applying\",\"seq\":5"));
    CHECK(fb_fake.wifi_calls == 1 && strcmp(fb_fake.last.key, "correct horse battery") == 0);
    CHECK(agent.state.seq == 0);
    /* success: applying, applied; seq persisted. */
    fb_fake.wifi_result = 0;
    expect(k_topic, FB_REASON_NONE, 2, "\"state\":\"applied\",\"seq\":5");
    char applied5[FB_STATUS_MAX];
    snprintf(applied5, sizeof applied5, "%s", reports[1]);
    CHECK(tracked[0] == 0 && tracked[1] == 1); /* applying is not an outcome; applied is */
    CHECK(fb_fake.wifi_calls == 2 && agent.state.seq == 5);
    struct fb_state st;
    CHECK(fb_state_load(dir, &st) == 0 && st.seq == 5 && st.boot == 1);
    /* 5. replay: same and older seq, even with a valid seal. */
    expect(k_topic, FB_REASON_REPLAY, 1, "\"seq\":5,\"reason\":\"replay\"");
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 4, k_good);
    expect(k_topic, FB_REASON_REPLAY, 1, "replay");
    /* The outcome was persisted with the seq, unacknowledged, and reported as an outcome (tracked). */
    CHECK(st.outcome.seq == 5 && strcmp(st.outcome.state, "applied") == 0 && st.outcome.acked == 0);
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 5, k_good);
    CHECK(fb_agent_outcome_json(&agent, buf, sizeof buf) > 0 && strcmp(buf, applied5) == 0);
    /* A retained re-delivery of the applied config (after a reconnect) re-reports the stored outcome,
     * byte for byte, while the broker has not acknowledged it; nothing is applied again. */
    expect_retained_redelivery(1, NULL);
    CHECK(strcmp(reports[0], applied5) == 0 && tracked[0] == 1 && fb_fake.wifi_calls == 2);
    /* Acknowledged (persisted): silent from then on, even after a restart. */
    CHECK(fb_agent_outcome_acked(&agent, 4) == 0 && agent.state.outcome.acked == 0); /* another seq: no */
    CHECK(fb_agent_outcome_acked(&agent, 5) == 0 && agent.state.outcome.acked == 1);
    CHECK(fb_state_load(dir, &st) == 0 && st.outcome.acked == 1 && fb_agent_outcome_json(&agent, buf, sizeof buf) == 0);
    expect_retained_redelivery(0, NULL);
    {
        struct fb_agent restarted;
        CHECK(fb_agent_init(&restarted, &cfg, err, sizeof err) == 0 && restarted.state.outcome.acked == 1);
        restarted.sink = sink;
        nreports = 0;
        CHECK(fb_agent_handle_config(&restarted, k_topic, env_json, strlen(env_json), 1, &ignored) == FB_REASON_NONE);
        CHECK(ignored == 1 && nreports == 0 && fb_fake.wifi_calls == 2);
        fb_agent_wipe(&restarted);
        agent.state.boot++;
    }
    /* Order: replay is checked before opening, so an old seq with a broken ct is a replay. */
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 3, k_good);
    ct = strstr(env_json, "\"ct\":\"");
    ct[8] = ct[8] == 'A' ? 'B' : 'A';
    expect(k_topic, FB_REASON_REPLAY, 1, "replay");
    /* wrong_device is checked before kid. */
    seal_as(other_sk, FB_KIND_WIFI, "omega-ffff", 9, k_good);
    expect(k_topic, FB_REASON_WRONG_DEVICE, 1, "wrong_device");
    /* Relabelled kind: the kind is bound into info and AAD, so an envelope sealed as one kind and
     * labelled as the other does not open, either way round; nothing is applied or reset. */
    int wifi_calls = fb_fake.wifi_calls, reset_calls = fb_fake.reset_calls;
    seal_as(svc_sk, FB_KIND_RESET, "omega-a1b2", 6, "{\"reason\":\"revoked\"}");
    CHECK(relabel("\"kind\":\"reset\"", "\"kind\":\"wifi\"") == 0);
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "\"seq\":6,\"reason\":\"bad_envelope\"");
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 6, k_good);
    CHECK(relabel("\"kind\":\"wifi\"", "\"kind\":\"reset\"") == 0);
    expect(k_topic, FB_REASON_BAD_ENVELOPE, 1, "\"seq\":6,\"reason\":\"bad_envelope\"");
    CHECK(fb_fake.wifi_calls == wifi_calls && fb_fake.reset_calls == reset_calls && agent.state.seq == 5);
    seal_as(svc_sk, FB_KIND_RESET, "omega-a1b2", 6, "{\"reason\":\"revoked\"}");
    /* reset: status reset, seq persisted */
    expect(k_topic, FB_REASON_NONE, 1, "\"state\":\"reset\",\"seq\":6");
    CHECK(fb_fake.reset_calls == 1 && agent.state.seq == 6);
    seal_as(svc_sk, FB_KIND_RESET, "omega-a1b2", 7, "{\"why\":\"x\"}");
    expect(k_topic, FB_REASON_INVALID_PROFILE, 1, "invalid_profile");
    CHECK(fb_fake.reset_calls == 1);
    /* A following good envelope applies. */
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 8, k_good);
    expect(k_topic, FB_REASON_NONE, 2, "applied");
    /* A failed outcome survives a restart too: the retained re-delivery of its seq re-reports it (same
     * reason, same payload) and does not apply it again; the replay guard did not move. */
    fb_fake.wifi_result = -1;
    fb_fake.wifi_reason = FB_REASON_NETWORK_NOT_FOUND;
    seal_as(svc_sk, FB_KIND_WIFI, "omega-a1b2", 9, k_good);
    expect(k_topic, FB_REASON_NETWORK_NOT_FOUND, 2, "\"seq\":9,\"reason\":\"network_not_found\"");
    char failed9[FB_STATUS_MAX];
    snprintf(failed9, sizeof failed9, "%s", reports[1]);
    CHECK(tracked[1] == 1 && agent.state.seq == 8 && agent.state.outcome.seq == 9);
    {
        struct fb_agent restarted;
        CHECK(fb_agent_init(&restarted, &cfg, err, sizeof err) == 0);
        CHECK(restarted.state.seq == 8 && restarted.state.outcome.seq == 9 && restarted.state.outcome.acked == 0);
        CHECK(fb_agent_outcome_json(&restarted, buf, sizeof buf) > 0 && strcmp(buf, failed9) == 0);
        restarted.sink = sink;
        int calls = fb_fake.wifi_calls;
        nreports = 0;
        CHECK(fb_agent_handle_config(&restarted, k_topic, env_json, strlen(env_json), 1, &ignored) == FB_REASON_NONE);
        CHECK(ignored == 1 && nreports == 1 && tracked[0] == 1 && strcmp(reports[0], failed9) == 0);
        CHECK(fb_fake.wifi_calls == calls);
        fb_agent_wipe(&restarted);
        agent.state.boot++;
    }
    fb_fake.wifi_result = 0;
    /* Restart: boot counter increments, seq survives. */
    struct fb_agent again;
    CHECK(fb_agent_init(&again, &cfg, err, sizeof err) == 0 && again.state.boot == 4 && again.state.seq == 8);
    fb_agent_wipe(&again);
    fb_agent_wipe(&agent);

    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    return fb_t_finish();
}
