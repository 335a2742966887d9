/*
 * omega-agent: the FleetBootstrap device agent. Argument parsing and the connection loop;
 * the protocol logic is in agent.c, the uci work in apply.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "apply.h"
#include "bootstrap_uri.h"
#include "broker_password.h"
#include "config.h"
#include "envelope.h"
#include "fsutil.h"
#include "keys.h"
#include "log.h"
#include "mqtt.h"

#define QUEUE_MAX 8
#define CONNECT_TIMEOUT_MS 10000
#define ACK_TIMEOUT_MS 5000

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

struct queued {
    char topic[FB_TOPIC_MAX];
    void *payload; /* NULL when the message was over the size limit */
    size_t len;
    int retained;
};

struct runtime {
    struct fb_agent agent;
    struct fb_mqtt *mqtt; /* current connection, NULL between connections */
    struct queued queue[QUEUE_MAX];
    int queued;
    char pending[FB_STATUS_MAX]; /* a status that could not be published yet */
    size_t pending_len;
    /* The stored outcome's status in flight on the current connection, until its PUBACK. */
    char outcome[FB_STATUS_MAX];
    size_t outcome_len;
    uint64_t outcome_seq;
    int outcome_mid; /* 0: none in flight on this connection */
    const char *user, *pass; /* broker credentials (pass points into run()'s stack) */
    long long clock_floor;   /* TLS checks certificates at no earlier time (see clock_floor()) */
    /* A connection the post-apply broker probe opened over the new network: the next session's. */
    struct fb_mqtt *handoff;
    int handoff_ep;
    int last_ep; /* the endpoint of the current (or last) session: the next round starts there */
    int reconnect; /* an apply or reset switched the network under the current connection */
};

/* Called from inside mosquitto_loop: only copies the message; it is handled outside the callback. */
static void on_message(void *ctx, const char *topic, const void *payload, size_t len, int retained)
{
    struct runtime *rt = ctx;
    if (rt->queued == QUEUE_MAX) {
        fb_warn("message queue full, dropping a message on %s", topic);
        return;
    }
    struct queued *q = &rt->queue[rt->queued];
    if (snprintf(q->topic, sizeof q->topic, "%s", topic) >= (int)sizeof q->topic)
        return; /* not our topic: ours fit */
    q->len = len;
    q->retained = retained;
    q->payload = NULL;
    if (payload && len > 0) {
        q->payload = malloc(len);
        if (q->payload == NULL)
            return;
        memcpy(q->payload, payload, len);
    } else if (payload == NULL && len > 0) {
        q->payload = NULL; /* oversized: handled as too_large */
    }
    rt->queued++;
}

/* Publishes the stored outcome unless that very payload is already in flight on this connection. */
static int publish_outcome(struct runtime *rt, const char *topic, const char *payload, size_t len)
{
    if (rt->outcome_mid > 0 && rt->outcome_len == len && memcmp(rt->outcome, payload, len) == 0)
        return 0;
    rt->outcome_mid = 0;
    if (rt->mqtt == NULL || len > sizeof rt->outcome)
        return -1; /* persisted: published after the next connect */
    int mid = fb_mqtt_publish_tracked(rt->mqtt, topic, payload, len, 1);
    if (mid <= 0)
        return -1;
    memcpy(rt->outcome, payload, len);
    rt->outcome_len = len;
    rt->outcome_seq = rt->agent.state.outcome.seq;
    rt->outcome_mid = mid;
    return 0;
}

/* After network I/O: records the broker's acknowledgement of the outcome in flight. */
static void check_outcome_ack(struct runtime *rt)
{
    if (rt->outcome_mid > 0 && rt->mqtt && fb_mqtt_acked(rt->mqtt, rt->outcome_mid)) {
        rt->outcome_mid = 0;
        (void)fb_agent_outcome_acked(&rt->agent, rt->outcome_seq);
    }
}

static int status_sink(void *ctx, const char *topic, const char *payload, size_t len, int outcome)
{
    struct runtime *rt = ctx;
    if (outcome) {
        rt->pending_len = 0; /* the outcome is newer than any other status waiting */
        return publish_outcome(rt, topic, payload, len);
    }
    if (rt->mqtt && fb_mqtt_publish(rt->mqtt, topic, payload, len, 1, 0) == 0) {
        rt->pending_len = 0;
        return 0;
    }
    if (len < sizeof rt->pending) { /* keep the newest: it is retained, so it supersedes older ones */
        memcpy(rt->pending, payload, len);
        rt->pending_len = len;
    }
    return -1;
}

/* Did handling a config (with this outcome) reload Wi-Fi, so that the connection may be dead silently? */
static int switched_network(enum fb_reason r)
{
    switch (r) {
    case FB_REASON_NONE: /* applied or reset */
    case FB_REASON_AUTH_FAILED:
    case FB_REASON_NETWORK_NOT_FOUND:
    case FB_REASON_NO_ADDRESS:
    case FB_REASON_TIMEOUT:
    case FB_REASON_APPLY_ERROR:
    case FB_REASON_SUBNET_CONFLICT:
    case FB_REASON_BROKER_UNREACHABLE:
        return 1;
    default:
        return 0;
    }
}

static void drain_queue(struct runtime *rt)
{
    while (rt->queued > 0 && !g_stop) {
        struct queued q = rt->queue[0];
        memmove(&rt->queue[0], &rt->queue[1], sizeof rt->queue[0] * (size_t)(rt->queued - 1));
        rt->queued--;
        int ignored = 0;
        const void *payload = q.payload;
        static const char oversized = 0;
        if (payload == NULL && q.len > 0)
            payload = &oversized; /* only the length is looked at: it is over the limit */
        enum fb_reason r = fb_agent_handle_config(&rt->agent, q.topic, payload, q.len, q.retained, &ignored);
        if (!ignored && switched_network(r))
            rt->reconnect = 1;
        if (q.payload) {
            OPENSSL_cleanse(q.payload, q.len);
            free(q.payload);
        }
    }
}

static void sleep_ms(int ms)
{
    for (int waited = 0; waited < ms && !g_stop; waited += 100) {
        int step = ms - waited < 100 ? ms - waited : 100;
        struct timespec ts = {step / 1000, (long)(step % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
        }
    }
}

#define CLOCK_FILE "clock"
#define CLOCK_SAVE_EVERY_S 3600

/*
 * The earliest the time can be: the newest of the config file's mtime (baked into the image: about
 * the image build time, as OpenWRT's sysfixtime reasons) and of state_dir/clock, which the agent
 * touches after connecting while its clock is past that (at most once an hour: flash wear). Unix s.
 */
static long long clock_floor(const struct fb_config *c, const char *config_path)
{
    char path[PATH_MAX];
    struct stat sb;
    long long floor = 0;
    if (stat(config_path, &sb) == 0)
        floor = (long long)sb.st_mtime;
    if (fb_path_join(path, sizeof path, c->state_dir, CLOCK_FILE) == 0 && stat(path, &sb) == 0 &&
        (long long)sb.st_mtime > floor)
        floor = (long long)sb.st_mtime;
    return floor;
}

/* Connected: remember that the time is at least now, if now is news (see clock_floor). */
static void note_time(struct runtime *rt)
{
    char path[PATH_MAX];
    long long now = (long long)time(NULL);
    if (now < rt->clock_floor + CLOCK_SAVE_EVERY_S ||
        fb_path_join(path, sizeof path, rt->agent.cfg->state_dir, CLOCK_FILE) != 0)
        return;
    if (fb_write_file_atomic(path, "", 0, 0600) == 0)
        rt->clock_floor = now;
}

static long long mono_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Connects as the device to the broker endpoints in their configured order, starting at endpoint
 * `first` and wrapping around, each attempt bounded by CONNECT_TIMEOUT_MS and by deadline (mono_ms;
 * 0 = none). Returns the first connection a broker accepted (*ep its endpoint), or NULL with *last
 * the last attempt's result; a refusal of the credentials stops the round (*ep the endpoint that
 * refused): a broker answered.
 */
static struct fb_mqtt *connect_any(struct runtime *rt, int first, long long deadline, int *ep,
                                   enum fb_mqtt_result *last)
{
    const struct fb_config *c = rt->agent.cfg;
    char offline[FB_STATUS_MAX];
    size_t offline_len = fb_agent_status_json(&rt->agent, "offline", 0, FB_REASON_NONE, NULL, offline, sizeof offline);
    *last = FB_MQTT_ERROR;
    if (offline_len == 0)
        return NULL;
    for (int k = 0; k < c->n_brokers && !g_stop; k++) {
        int i = (first + k) % c->n_brokers;
        const struct fb_endpoint *e = &c->brokers[i];
        long long left = deadline ? deadline - mono_ms() : CONNECT_TIMEOUT_MS;
        if (left <= 0)
            break;
        struct fb_mqtt *m = fb_mqtt_new(c->device_id, on_message, rt);
        if (m == NULL) {
            fb_err("out of memory");
            return NULL;
        }
        struct fb_mqtt_options o = {e->host,  e->port,  c->keepalive, e->tls ? c->tls_ca : NULL, rt->user, rt->pass,
                                    rt->agent.topic_status, offline, rt->clock_floor};
        *last = fb_mqtt_connect(m, &o, left < CONNECT_TIMEOUT_MS ? (int)left : CONNECT_TIMEOUT_MS);
        if (*last == FB_MQTT_OK) {
            note_time(rt);
            fb_info("connected to %s://%s:%d as %s", e->tls ? "mqtts" : "mqtt", e->host, e->port, c->device_id);
            *ep = i;
            return m;
        }
        fb_mqtt_free(m);
        fb_info("broker %s:%d: %s", e->host, e->port, *last == FB_MQTT_REFUSED_AUTH ? "refused the credentials" : "no connection");
        if (*last == FB_MQTT_REFUSED_AUTH) {
            *ep = i;
            return NULL;
        }
    }
    return NULL;
}

/*
 * The apply module's post-join check: some broker endpoint must accept the device over the new
 * network within timeout_s. The connection it opens becomes the next session (the old one went
 * with the old network). 0 reached, -1 not.
 */
static int reach_broker(void *ctx, int timeout_s)
{
    struct runtime *rt = ctx;
    long long deadline = mono_ms() + (long long)timeout_s * 1000;
    while (!g_stop && mono_ms() < deadline) {
        int ep = 0;
        enum fb_mqtt_result r;
        /* the endpoint of the old network is the least likely to answer on the new one: last */
        struct fb_mqtt *m = connect_any(rt, (rt->last_ep + 1) % rt->agent.cfg->n_brokers, deadline, &ep, &r);
        if (m) {
            fb_mqtt_free(rt->handoff);
            rt->handoff = m;
            rt->handoff_ep = ep;
            return 0;
        }
        if (r == FB_MQTT_REFUSED_AUTH)
            return 0; /* a broker answered over the new network; the credentials are the session's business */
        sleep_ms(1000);
    }
    return -1;
}

/* Not enrolled yet: announce ourselves through the hello-only account at endpoint ep, then go away. */
static void hello_via_hello_account(struct runtime *rt, int ep)
{
    const struct fb_config *c = rt->agent.cfg;
    const struct fb_endpoint *e = &c->brokers[ep];
    /* Not our device id: connecting with it would take over (and disconnect) an enrolled session. */
    char client_id[sizeof "hello:" + 64]; /* ":" is not in the device id charset: never an enrolled id */
    snprintf(client_id, sizeof client_id, "hello:%s", c->device_id);
    struct fb_mqtt *m = fb_mqtt_new(client_id, on_message, rt);
    if (m == NULL)
        return;
    struct fb_mqtt_options o = {e->host,           e->port,           c->keepalive, e->tls ? c->tls_ca : NULL,
                                c->hello_username, c->hello_password, NULL,         NULL,
                                rt->clock_floor};
    if (fb_mqtt_connect(m, &o, CONNECT_TIMEOUT_MS) == FB_MQTT_OK) {
        char hello[1024];
        size_t n = fb_agent_hello_json(&rt->agent, hello, sizeof hello);
        if (n && fb_mqtt_publish(m, rt->agent.topic_hello, hello, n, 0, ACK_TIMEOUT_MS) == 0)
            fb_info("not enrolled yet: sent hello through the hello-only account");
        else
            fb_warn("hello through the hello-only account was not acknowledged");
        fb_mqtt_disconnect(m);
    } else {
        fb_warn("the hello-only account was refused too");
    }
    fb_mqtt_free(m);
}

/* One session on a connected m: online, hello, what is pending, subscribe, then messages until it ends. */
static void session(struct runtime *rt, struct fb_mqtt *m, int *rolled_back)
{
    struct fb_agent *a = &rt->agent;
    rt->mqtt = m;
    rt->reconnect = 0;
    char pending[FB_STATUS_MAX];
    size_t pending_len = rt->pending_len;
    memcpy(pending, rt->pending, pending_len);
    char hello[1024];
    size_t hello_len = fb_agent_hello_json(a, hello, sizeof hello);
    int ok = fb_agent_report(a, "online", 0, *rolled_back ? FB_REASON_ROLLED_BACK : FB_REASON_NONE,
                             *rolled_back ? "restored the previous Wi-Fi settings after an interrupted apply" : NULL) ==
                 0 &&
             hello_len > 0 && fb_mqtt_publish(m, a->topic_hello, hello, hello_len, 0, 0) == 0;
    if (ok && pending_len > 0) /* a status from before the connection dropped */
        ok = fb_mqtt_publish(m, a->topic_status, pending, pending_len, 1, 0) == 0;
    char outcome[FB_STATUS_MAX];
    size_t outcome_len = fb_agent_outcome_json(a, outcome, sizeof outcome);
    rt->outcome_mid = 0;
    if (ok && outcome_len > 0) { /* an outcome the broker has not acknowledged yet */
        fb_info("publishing the unacknowledged outcome of seq %llu", (unsigned long long)a->state.outcome.seq);
        ok = publish_outcome(rt, a->topic_status, outcome, outcome_len) == 0;
    }
    if (ok)
        ok = fb_mqtt_subscribe(m, a->topic_config, ACK_TIMEOUT_MS) == 0;
    if (ok) {
        *rolled_back = 0;
        fb_info("subscribed to %s", a->topic_config);
        while (!g_stop) {
            if (fb_mqtt_loop(m, 200) != 0) {
                fb_warn("connection lost");
                break;
            }
            check_outcome_ack(rt);
            drain_queue(rt);
            if (rt->handoff || rt->reconnect) {
                fb_info("the network changed under this connection; connecting again");
                break;
            }
        }
    }
    if (g_stop) {
        /* A clean DISCONNECT suppresses the will, so say offline ourselves first. */
        char offline[FB_STATUS_MAX];
        size_t offline_len =
            fb_agent_status_json(a, "offline", 0, FB_REASON_NONE, NULL, offline, sizeof offline);
        if (fb_mqtt_publish(m, a->topic_status, offline, offline_len, 1, ACK_TIMEOUT_MS) != 0)
            fb_warn("offline status not acknowledged");
        check_outcome_ack(rt); /* its PUBACK may have come in while waiting for this one */
        fb_mqtt_disconnect(m);
    }
    rt->mqtt = NULL;
    rt->outcome_mid = 0;
}

static int run(struct runtime *rt, int rolled_back)
{
    struct fb_agent *a = &rt->agent;
    const struct fb_config *c = a->cfg;
    char password[FB_PASSWORD_LEN + 1] = "";
    rt->user = rt->pass = NULL;
    if (c->auth_mode == FB_AUTH_DERIVED) {
        if (fb_broker_password(a->sk, a->service_pk, c->device_id, password) != 0) {
            fb_err("cannot derive the broker password");
            return 1;
        }
        rt->user = c->device_id;
        rt->pass = password;
    } else if (c->auth_mode == FB_AUTH_CONFIG) {
        rt->user = c->username;
        rt->pass = c->password;
    }
    int backoff = c->backoff_min_ms;
    a->sink = status_sink;
    a->sink_ctx = rt;
    a->apply.reach_broker = reach_broker;
    a->apply.reach_ctx = rt;
    while (!g_stop) {
        int ep = 0;
        enum fb_mqtt_result r = FB_MQTT_OK;
        struct fb_mqtt *m = rt->handoff;
        rt->handoff = NULL;
        if (m)
            ep = rt->handoff_ep;
        else
            m = connect_any(rt, rt->last_ep, 0, &ep, &r);
        if (m) {
            backoff = c->backoff_min_ms;
            rt->last_ep = ep;
            session(rt, m, &rolled_back);
        } else if (r == FB_MQTT_REFUSED_AUTH && c->auth_mode == FB_AUTH_DERIVED && c->hello_username[0]) {
            hello_via_hello_account(rt, ep);
        }
        int again_now = m && (rt->handoff || rt->reconnect);
        fb_mqtt_free(m);
        if (g_stop)
            break;
        if (again_now)
            continue; /* over the new network, at once */
        fb_info("reconnecting in %d ms", backoff);
        sleep_ms(backoff);
        backoff = backoff > c->backoff_max_ms / 2 ? c->backoff_max_ms : backoff * 2;
    }
    fb_mqtt_free(rt->handoff);
    rt->handoff = NULL;
    a->apply.reach_broker = NULL;
    OPENSSL_cleanse(password, sizeof password);
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: omega-agent [run|identity] [options]\n"
          "  run        (default) connect to the broker and wait for Wi-Fi envelopes\n"
          "  identity   create the device key if needed; print the bootstrap URI, fingerprint and device id\n"
          "options:\n"
          "  --config FILE        uci-format config (default " FB_CONFIG_PATH_DEFAULT ")\n"
          "  --set NAME=VALUE     override any config option (repeatable)\n"
          "  --device-id ID  --broker-host H  --broker-port N  --state-dir D  --key-file F\n"
          "  --uci-confdir D  --log-level L   shorthands for --set\n"
          "  --stderr             log to stderr instead of syslog\n"
          "  --version, --help\n",
          f);
}

static void show_qr(const char *uri)
{
    int fds[2];
    if (pipe(fds) != 0)
        return;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return;
    }
    if (pid == 0) {
        if (dup2(fds[0], 0) < 0)
            _exit(127);
        close(fds[0]);
        close(fds[1]);
        char *const argv[] = {"qrencode", "-t", "ANSIUTF8", NULL};
        execvp(argv[0], argv);
        _exit(127); /* not installed: the URI above is enough */
    }
    close(fds[0]);
    size_t n = strlen(uri);
    if (write(fds[1], uri, n) != (ssize_t)n)
        fb_debug("qrencode: short write");
    close(fds[1]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
}

/*
 * Loads (or creates) the device key; an empty device_id becomes the key-derived default id.
 * 0, or -1 with err.
 */
static int load_identity(struct fb_config *c, uint8_t pk[FB_X25519_LEN], int *created, char *err, size_t errlen)
{
    uint8_t sk[FB_X25519_LEN];
    if (fb_identity_load_or_create(c->key_file, sk, pk, created, err, errlen) != 0)
        return -1;
    OPENSSL_cleanse(sk, sizeof sk);
    if (c->device_id[0] == '\0') {
        char id[FB_DEFAULT_ID_LEN + 1];
        fb_default_device_id(pk, id);
        snprintf(c->device_id, sizeof c->device_id, "%s", id);
    }
    return 0;
}

static int identity(struct fb_config *c)
{
    uint8_t pk[FB_X25519_LEN];
    char err[300], uri[FB_URI_MAX], fp[FB_FINGERPRINT_LEN + 1];
    int created;
    if (load_identity(c, pk, &created, err, sizeof err) != 0) {
        fprintf(stderr, "omega-agent: %s\n", err);
        return 1;
    }
    if (fb_bootstrap_uri(c->device_id, pk, c->model[0] ? c->model : NULL, c->mac[0] ? c->mac : NULL, uri,
                         sizeof uri) != 0) {
        fprintf(stderr, "omega-agent: model or mac option is malformed (model: 1-32 of [A-Za-z0-9._-], mac: 12 "
                        "lowercase hex)\n");
        return 1;
    }
    fb_fingerprint(pk, fp);
    printf("%s\nfingerprint %s\ndevice %s\n", uri, fp, c->device_id);
    if (created)
        printf("created %s\n", c->key_file);
    if (fflush(stdout) != 0)
        return 1;
    if (isatty(1))
        show_qr(uri);
    return 0;
}

int main(int argc, char **argv)
{
    static struct fb_config cfg;
    static struct runtime rt;
    const char *config_path = FB_CONFIG_PATH_DEFAULT;
    const char *cmd = "run";
    int config_given = 0, to_stderr = 0, i = 1;
    char err[300];
    static const char *const shorthands[][2] = {
        {"--device-id", "device_id"},   {"--broker-host", "broker_host"}, {"--broker-port", "broker_port"},
        {"--state-dir", "state_dir"},   {"--key-file", "key_file"},       {"--uci-confdir", "uci_confdir"},
        {"--log-level", "log_level"},
    };
    if (i < argc && (strcmp(argv[i], "run") == 0 || strcmp(argv[i], "identity") == 0))
        cmd = argv[i++];
    /* First pass: the config file, so that later options override it. */
    for (int j = i; j < argc; j++) {
        if (strcmp(argv[j], "--config") == 0 && j + 1 < argc) {
            config_path = argv[j + 1];
            config_given = 1;
        }
    }
    fb_config_defaults(&cfg);
    if (fb_config_load(&cfg, config_path, err, sizeof err) != 0) {
        if (config_given || access(config_path, F_OK) == 0) {
            fprintf(stderr, "omega-agent: %s\n", err);
            return 2;
        }
    }
    for (; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--version") == 0) {
            puts("omega-agent " FB_AGENT_VERSION);
            return 0;
        }
        if (strcmp(a, "--stderr") == 0) {
            to_stderr = 1;
            continue;
        }
        if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            i++;
            continue;
        }
        const char *name = NULL;
        char buf[128];
        const char *value = NULL;
        for (size_t k = 0; k < sizeof shorthands / sizeof shorthands[0]; k++)
            if (strcmp(a, shorthands[k][0]) == 0)
                name = shorthands[k][1];
        if (name && i + 1 < argc) {
            value = argv[++i];
        } else if (strcmp(a, "--set") == 0 && i + 1 < argc) {
            const char *eq = strchr(argv[++i], '=');
            if (eq == NULL || (size_t)(eq - argv[i]) >= sizeof buf) {
                fprintf(stderr, "omega-agent: --set wants NAME=VALUE\n");
                return 2;
            }
            snprintf(buf, sizeof buf, "%.*s", (int)(eq - argv[i]), argv[i]);
            name = buf;
            value = eq + 1;
        } else {
            fprintf(stderr, "omega-agent: unknown argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        if (fb_config_set(&cfg, name, value, err, sizeof err) != 0) {
            fprintf(stderr, "omega-agent: %s\n", err);
            return 2;
        }
    }
    if (strcmp(cmd, "identity") == 0) {
        if (cfg.service_pubkey[0] == '\0') /* not needed to show the identity */
            snprintf(cfg.service_pubkey, sizeof cfg.service_pubkey, "-");
    }
    if (fb_config_finish(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "omega-agent: %s\n", err);
        return 2;
    }
    if (strcmp(cmd, "identity") == 0) {
        int rc = identity(&cfg);
        fb_config_wipe(&cfg);
        return rc;
    }

    fb_log_init("omega-agent", to_stderr ? 0 : cfg.use_syslog, cfg.log_level);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);

    /*
     * An interrupted apply is rolled back first, before anything that may refuse to start (key,
     * agent.state, boot counter): a device must not stay on a half-applied network because of an
     * unrelated start-up error.
     */
    struct fb_apply_config early_apply;
    fb_config_apply_view(&cfg, &early_apply);
    if (fb_apply_check_uci(&early_apply) < 0) {
        if (!to_stderr) /* else the log line above said it */
            fprintf(stderr, "omega-agent: %s has no option -t (uci before 2021-04-12); this firmware is not supported "
                        "(see the README: OpenWRT 21.02 with a newer uci, 22.03 or later)\n",
                    early_apply.uci_path);
        fb_config_wipe(&cfg);
        return 2;
    }
    int recovered = fb_apply_recover(&early_apply);
    if (recovered < 0)
        fb_err("recovery of an interrupted apply failed");
    else if (recovered == 1)
        fb_warn("restored the Wi-Fi settings from before an interrupted apply");

    uint8_t pk[FB_X25519_LEN];
    int created = 0;
    int identified = load_identity(&cfg, pk, &created, err, sizeof err) == 0;
    if (identified && created)
        fb_info("created device key %s", cfg.key_file);
    if (!identified || fb_agent_init(&rt.agent, &cfg, err, sizeof err) != 0) {
        fb_err("%s", err);
        fb_config_wipe(&cfg);
        return 1;
    }
    char fp[FB_FINGERPRINT_LEN + 1];
    fb_fingerprint(rt.agent.pk, fp);
    fb_info("device %s key %s boot %llu, highest applied seq %llu, service key %s", cfg.device_id, fp,
            (unsigned long long)rt.agent.state.boot, (unsigned long long)rt.agent.state.seq, rt.agent.service_kid);
    if (fb_mqtt_lib_init() != 0) {
        fb_err("libmosquitto init failed");
        return 1;
    }
    rt.clock_floor = clock_floor(&cfg, config_path);
    int rc = run(&rt, recovered == 1);
    for (int k = 0; k < rt.queued; k++)
        free(rt.queue[k].payload);
    fb_mqtt_lib_cleanup();
    fb_agent_wipe(&rt.agent);
    fb_config_wipe(&cfg);
    fb_info("stopped");
    return rc;
}
