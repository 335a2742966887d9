#include "agent.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "b64.h"
#include "envelope.h"
#include "json_util.h"
#include "keys.h"
#include "log.h"
#include "profile.h"

/* <prefix>/v1/devices/<device id>/<leaf>: the device's topics (Topics.md). 0, or -1 when too long. */
static int device_topic(char out[FB_TOPIC_MAX], const struct fb_config *cfg, const char *leaf)
{
    int n = snprintf(out, FB_TOPIC_MAX, "%s/v1/devices/%s/%s", cfg->prefix, cfg->device_id, leaf);
    return (n > 0 && n < FB_TOPIC_MAX) ? 0 : -1;
}

int fb_agent_init(struct fb_agent *a, const struct fb_config *cfg, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    a->cfg = cfg;
    if (cfg->device_id[0] == '\0') {
        snprintf(err, errlen, "device_id: empty (the caller derives it from the key: fb_default_device_id)");
        return -1;
    }
    fb_config_apply_view(cfg, &a->apply);
    int created = 0;
    if (fb_identity_load_or_create(cfg->key_file, a->sk, a->pk, &created, err, errlen) != 0)
        return -1;
    if (created)
        fb_info("created device key %s", cfg->key_file);
    char e[200];
    if (fb_public_key_parse(cfg->service_pubkey, a->service_pk, e, sizeof e) != 0) {
        snprintf(err, errlen, "service_pubkey: %s", e);
        return -1;
    }
    fb_fingerprint(a->service_pk, a->service_kid);
    if (fb_state_load(cfg->state_dir, &a->state) != 0) {
        snprintf(err, errlen, "%s/agent.state: corrupt or unreadable; refusing to start (it guards against replay)",
                 cfg->state_dir);
        return -1;
    }
    a->state.boot++;
    if (fb_state_save(cfg->state_dir, &a->state) != 0) {
        snprintf(err, errlen, "%s/agent.state: cannot write", cfg->state_dir);
        return -1;
    }
    a->last_seen_seq = a->state.seq > a->state.outcome.seq ? a->state.seq : a->state.outcome.seq;
    if (device_topic(a->topic_hello, cfg, "hello") != 0 || device_topic(a->topic_config, cfg, "config") != 0 ||
        device_topic(a->topic_status, cfg, "status") != 0) {
        snprintf(err, errlen, "prefix and device id make a topic longer than %d bytes", FB_TOPIC_MAX - 1);
        return -1;
    }
    return 0;
}

void fb_agent_wipe(struct fb_agent *a) { OPENSSL_cleanse(a->sk, sizeof a->sk); }

/* Topics.md: detail is at most 200 bytes of text without control characters (they become spaces). */
static void clean_detail(const char *s, char out[FB_DETAIL_MAX + 1])
{
    size_t i = 0;
    for (; s[i] && i < FB_DETAIL_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
    }
    out[i] = '\0';
}

static size_t status_json_at(const struct fb_agent *a, const char *state, uint64_t seq, enum fb_reason reason,
                             const char *detail, int64_t ts, char *out, size_t cap)
{
    struct json_object *o = json_object_new_object();
    char clean[FB_DETAIL_MAX + 1];
    if (o == NULL)
        return 0;
    int ok = fb_json_add(o, "v", json_object_new_int(1)) == 0 &&
             fb_json_add(o, "device", json_object_new_string(a->cfg->device_id)) == 0 &&
             fb_json_add(o, "state", json_object_new_string(state)) == 0 &&
             fb_json_add(o, "seq", json_object_new_uint64(seq)) == 0;
    if (ok && reason != FB_REASON_NONE)
        ok = fb_json_add(o, "reason", json_object_new_string(fb_reason_name(reason))) == 0;
    if (ok && detail && detail[0]) {
        clean_detail(detail, clean);
        ok = fb_json_add(o, "detail", json_object_new_string(clean)) == 0;
    }
    if (ok)
        ok = fb_json_add(o, "ts", json_object_new_int64(ts)) == 0;
    size_t n = ok ? fb_json_print(o, out, cap) : 0;
    json_object_put(o);
    return n;
}

static int64_t now_s(void)
{
    time_t t = time(NULL);
    return t < 0 ? 0 : (int64_t)t;
}

size_t fb_agent_status_json(const struct fb_agent *a, const char *state, uint64_t seq, enum fb_reason reason,
                            const char *detail, char *out, size_t cap)
{
    return status_json_at(a, state, seq, reason, detail, now_s(), out, cap);
}

size_t fb_agent_outcome_json(const struct fb_agent *a, char *out, size_t cap)
{
    const struct fb_outcome *o = &a->state.outcome;
    if (o->seq == 0 || o->acked)
        return 0;
    return status_json_at(a, o->state, o->seq, o->reason, o->detail, o->ts, out, cap);
}

int fb_agent_outcome_acked(struct fb_agent *a, uint64_t seq)
{
    if (a->state.outcome.seq != seq || a->state.outcome.acked)
        return 0;
    struct fb_state next = a->state;
    next.outcome.acked = 1;
    if (fb_state_save(a->cfg->state_dir, &next) != 0) {
        fb_err("cannot persist that the outcome of seq %llu was delivered", (unsigned long long)seq);
        return -1;
    }
    a->state = next;
    fb_debug("outcome of seq %llu acknowledged by the broker", (unsigned long long)seq);
    return 0;
}

size_t fb_agent_hello_json(const struct fb_agent *a, char *out, size_t cap)
{
    uint8_t nonce[8];
    char nonce_hex[17], pub[44];
    if (RAND_bytes(nonce, sizeof nonce) != 1)
        return 0;
    fb_hex_encode(nonce, sizeof nonce, nonce_hex);
    fb_b64url_encode(a->pk, sizeof a->pk, pub);
    struct json_object *o = json_object_new_object(), *caps = json_object_new_array();
    int ok = o != NULL && caps != NULL && json_object_array_add(caps, json_object_new_string("wifi")) == 0 &&
             json_object_array_add(caps, json_object_new_string("reset")) == 0;
    if (ok)
        ok = fb_json_add(o, "v", json_object_new_int(1)) == 0 &&
             fb_json_add(o, "device", json_object_new_string(a->cfg->device_id)) == 0 &&
             fb_json_add(o, "pubkey", json_object_new_string(pub)) == 0 &&
             fb_json_add(o, "agent", json_object_new_string(FB_AGENT_VERSION)) == 0 &&
             fb_json_add(o, "caps", caps) == 0; /* owned by o from here on, even on failure */
    else
        json_object_put(caps);
    if (ok)
        ok = fb_json_add(o, "boot", json_object_new_uint64(a->state.boot)) == 0 &&
             fb_json_add(o, "nonce", json_object_new_string(nonce_hex)) == 0;
    size_t n = ok ? fb_json_print(o, out, cap) : 0;
    json_object_put(o);
    return n;
}

int fb_agent_report(struct fb_agent *a, const char *state, uint64_t seq, enum fb_reason reason, const char *detail)
{
    char buf[FB_STATUS_MAX];
    size_t n = fb_agent_status_json(a, state, seq, reason, detail, buf, sizeof buf);
    if (n == 0 || a->sink == NULL)
        return -1;
    if (reason != FB_REASON_NONE)
        fb_info("status %s seq %llu reason %s", state, (unsigned long long)seq, fb_reason_name(reason));
    else
        fb_info("status %s seq %llu", state, (unsigned long long)seq);
    return a->sink(a->sink_ctx, a->topic_status, buf, n, 0);
}

/* Reports the stored outcome again (while unacknowledged): the same payload as the first time. */
static void report_stored_outcome(struct fb_agent *a)
{
    char buf[FB_STATUS_MAX];
    size_t n = fb_agent_outcome_json(a, buf, sizeof buf);
    if (n == 0 || a->sink == NULL)
        return;
    fb_info("status %s seq %llu (stored outcome, not yet acknowledged)", a->state.outcome.state,
            (unsigned long long)a->state.outcome.seq);
    (void)a->sink(a->sink_ctx, a->topic_status, buf, n, 1);
}

/*
 * The outcome of an authentic envelope: persisted (with the seq when applied or reset, in one atomic
 * write) before it is reported, so that it is reported after a lost connection or a restart, until
 * the broker acknowledges it. -1 when it cannot be persisted (then it is reported once, untracked).
 */
static int record_outcome(struct fb_agent *a, uint64_t seq, const char *state, enum fb_reason r, const char *detail)
{
    struct fb_state next = a->state;
    if (strcmp(state, "failed") != 0)
        next.seq = seq;
    struct fb_outcome *o = &next.outcome;
    memset(o, 0, sizeof *o);
    o->seq = seq;
    snprintf(o->state, sizeof o->state, "%s", state);
    o->reason = r;
    o->ts = now_s();
    clean_detail(detail ? detail : "", o->detail);
    if (fb_state_save(a->cfg->state_dir, &next) != 0) {
        fb_err("cannot persist the outcome of seq %llu", (unsigned long long)seq);
        return -1;
    }
    a->state = next;
    if (seq > a->last_seen_seq)
        a->last_seen_seq = seq;
    fb_info("status %s seq %llu%s%s", state, (unsigned long long)seq, r ? " reason " : "", fb_reason_name(r));
    char buf[FB_STATUS_MAX];
    size_t n = fb_agent_outcome_json(a, buf, sizeof buf);
    if (n > 0 && a->sink)
        (void)a->sink(a->sink_ctx, a->topic_status, buf, n, 1);
    return 0;
}

static enum fb_reason fail(struct fb_agent *a, uint64_t seq, enum fb_reason r, const char *detail)
{
    (void)fb_agent_report(a, "failed", seq, r, detail);
    return r;
}

/* The failure of an authentic envelope (it opened): an outcome, persisted and tracked. */
static enum fb_reason fail_outcome(struct fb_agent *a, uint64_t seq, enum fb_reason r, const char *detail)
{
    if (record_outcome(a, seq, "failed", r, detail) != 0)
        return fail(a, seq, r, detail);
    return r;
}

static int parse_reset(const uint8_t *pt, size_t len)
{
    struct json_object *obj = fb_json_parse_object((const char *)pt, len);
    if (obj == NULL)
        return -1;
    const char *s;
    size_t n = 0;
    int r = fb_json_string(obj, "reason", 1, 64, &s, &n);
    for (size_t i = 0; r == 1 && i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            r = -1; /* no control characters */
    json_object_put(obj);
    return r == 1 ? 0 : -1;
}

enum fb_reason fb_agent_handle_config(struct fb_agent *a, const char *topic, const void *payload, size_t len,
                                      int retained, int *ignored)
{
    static struct fb_envelope env; /* ~8 KB: kept off the small stacks of MIPS targets */
    static uint8_t pt[FB_PLAINTEXT_MAX + 1];
    *ignored = 0;
    if (len == 0) { /* an empty retained message clears the config: nothing to do */
        *ignored = 1;
        return FB_REASON_NONE;
    }
    /* 1. size */
    if (len > FB_ENVELOPE_MAX)
        return fail(a, 0, FB_REASON_TOO_LARGE, NULL);
    /* 2. structure */
    if (fb_envelope_parse(payload, len, &env) != 0)
        return fail(a, env.seq, FB_REASON_BAD_ENVELOPE, NULL);
    /* 3. device: the envelope's and the topic's must both be ours */
    if (strcmp(env.device, a->cfg->device_id) != 0 || strcmp(topic, a->topic_config) != 0)
        return fail(a, env.seq, FB_REASON_WRONG_DEVICE, NULL);
    /* 4. key id of the pinned service key */
    if (strcmp(env.kid, a->service_kid) != 0)
        return fail(a, env.seq, FB_REASON_BAD_ENVELOPE, NULL);
    /* 5. replay; a retained re-delivery of what this agent already handled is not news, but its
     * outcome is reported again while the broker has not acknowledged it */
    if (retained && env.seq <= a->last_seen_seq && env.seq >= a->state.seq) {
        fb_debug("re-delivered config seq %llu was handled already", (unsigned long long)env.seq);
        if (env.seq == a->state.outcome.seq)
            report_stored_outcome(a);
        *ignored = 1;
        return FB_REASON_NONE;
    }
    if (env.seq <= a->state.seq)
        return fail(a, env.seq, FB_REASON_REPLAY, NULL);
    /* 6. open */
    size_t pt_len = 0;
    if (fb_envelope_open(&env, a->cfg->device_id, a->sk, a->service_pk, pt, &pt_len) != 0)
        return fail(a, env.seq, FB_REASON_BAD_ENVELOPE, NULL);
    if (env.seq > a->last_seen_seq)
        a->last_seen_seq = env.seq;
    enum fb_reason outcome = FB_REASON_NONE;
    char err[200];
    if (env.kind == FB_KIND_RESET) {
        /* 7. validate */
        if (parse_reset(pt, pt_len) != 0) {
            outcome = fail_outcome(a, env.seq, FB_REASON_INVALID_PROFILE, "reason: must be 1-64 bytes of text");
            goto out;
        }
        /* 8. apply */
        enum fb_reason r = FB_REASON_APPLY_ERROR;
        if (fb_apply_reset(&a->apply, &r) != 0) {
            outcome = fail_outcome(a, env.seq, r == FB_REASON_NONE ? FB_REASON_APPLY_ERROR : r, NULL);
            goto out;
        }
        if (record_outcome(a, env.seq, "reset", FB_REASON_NONE, NULL) != 0)
            (void)fb_agent_report(a, "reset", env.seq, FB_REASON_NONE, NULL);
        goto out;
    }
    /* 7. validate the Wi-Fi profile */
    struct fb_wifi_profile profile;
    if (fb_profile_parse((const char *)pt, pt_len, &profile, err, sizeof err) != 0) {
        outcome = fail_outcome(a, env.seq, FB_REASON_INVALID_PROFILE, err);
        goto out;
    }
    /* 8. apply, verify, persist */
    (void)fb_agent_report(a, "applying", env.seq, FB_REASON_NONE, NULL);
    enum fb_reason r = FB_REASON_APPLY_ERROR;
    int applied = fb_apply_wifi(&a->apply, &profile, &r) == 0;
    fb_profile_wipe(&profile);
    if (!applied) {
        outcome = fail_outcome(a, env.seq, r == FB_REASON_NONE ? FB_REASON_APPLY_ERROR : r, NULL);
        goto out;
    }
    if (record_outcome(a, env.seq, "applied", FB_REASON_NONE, NULL) != 0) {
        /* Applied but not persisted: say so rather than pretend the replay guard moved. */
        fb_err("applied seq %llu but cannot persist it", (unsigned long long)env.seq);
        outcome = fail(a, env.seq, FB_REASON_APPLY_ERROR, "cannot persist seq");
        goto out;
    }
out:
    OPENSSL_cleanse(pt, sizeof pt);
    OPENSSL_cleanse(&profile, sizeof profile);
    return outcome;
}
