#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"

static int state_path(const char *dir, char *out, size_t cap)
{
    int n = snprintf(out, cap, "%s/agent.state", dir);
    return (n > 0 && (size_t)n < cap) ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

static int known_outcome_state(const char *s)
{
    return strcmp(s, "applied") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "reset") == 0;
}

/* "outcome <seq> <state> <reason or -> <ts> <acked>" */
static int parse_outcome(char *s, struct fb_outcome *o)
{
    char *save = NULL, *f[5];
    for (int i = 0; i < 5; i++)
        if ((f[i] = strtok_r(i == 0 ? s : NULL, " ", &save)) == NULL)
            return -1;
    uint64_t ts, acked;
    if (strtok_r(NULL, " ", &save) != NULL || parse_u64(f[0], &o->seq) != 0 || o->seq == 0 ||
        !known_outcome_state(f[1]) || parse_u64(f[3], &ts) != 0 || ts > INT64_MAX || parse_u64(f[4], &acked) != 0 ||
        acked > 1)
        return -1;
    snprintf(o->state, sizeof o->state, "%s", f[1]);
    o->reason = FB_REASON_NONE;
    if (strcmp(f[2], "-") != 0 && (o->reason = fb_reason_parse(f[2])) == FB_REASON_NONE)
        return -1;
    if ((o->reason != FB_REASON_NONE) != (strcmp(o->state, "failed") == 0))
        return -1;
    o->ts = (int64_t)ts;
    o->acked = (int)acked;
    return 0;
}

int fb_state_load(const char *state_dir, struct fb_state *st)
{
    char path[4096], buf[512];
    memset(st, 0, sizeof *st);
    if (state_path(state_dir, path, sizeof path) != 0)
        return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n < 0 || n == (ssize_t)sizeof buf - 1)
        return -1;
    buf[n] = '\0';
    int have_seq = 0, have_boot = 0;
    char *save = NULL;
    for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (strncmp(line, "seq ", 4) == 0 && parse_u64(line + 4, &st->seq) == 0)
            have_seq = 1;
        else if (strncmp(line, "boot ", 5) == 0 && parse_u64(line + 5, &st->boot) == 0)
            have_boot = 1;
        else if (strncmp(line, "outcome ", 8) == 0 && parse_outcome(line + 8, &st->outcome) == 0)
            continue;
        else if (strncmp(line, "detail ", 7) == 0 && strlen(line + 7) <= FB_DETAIL_MAX)
            snprintf(st->outcome.detail, sizeof st->outcome.detail, "%s", line + 7);
        else
            return -1;
    }
    if (st->outcome.seq == 0 && st->outcome.detail[0])
        return -1; /* a detail without its outcome */
    return (have_seq && have_boot) ? 0 : -1;
}

int fb_state_save(const char *state_dir, const struct fb_state *st)
{
    char path[4096], text[512];
    if (state_path(state_dir, path, sizeof path) != 0)
        return -1;
    int n = snprintf(text, sizeof text, "seq %" PRIu64 "\nboot %" PRIu64 "\n", st->seq, st->boot);
    const struct fb_outcome *o = &st->outcome;
    if (n > 0 && o->seq != 0) {
        if (!known_outcome_state(o->state) || o->ts < 0 || strchr(o->detail, '\n') != NULL)
            return -1;
        const char *reason = o->reason == FB_REASON_NONE ? "-" : fb_reason_name(o->reason);
        n += snprintf(text + n, sizeof text - (size_t)n, "outcome %" PRIu64 " %s %s %" PRId64 " %d\n", o->seq,
                      o->state, reason, o->ts, o->acked ? 1 : 0);
        if (n > 0 && (size_t)n < sizeof text && o->detail[0])
            n += snprintf(text + n, sizeof text - (size_t)n, "detail %s\n", o->detail);
    }
    if (n < 0 || (size_t)n >= sizeof text)
        return -1;
    return fb_write_file_atomic(path, text, (size_t)n, 0600);
}
