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

int fb_state_load(const char *state_dir, struct fb_state *st)
{
    char path[4096], buf[256];
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
        else
            return -1;
    }
    return (have_seq && have_boot) ? 0 : -1;
}

int fb_state_save(const char *state_dir, const struct fb_state *st)
{
    char path[4096], text[96];
    if (state_path(state_dir, path, sizeof path) != 0)
        return -1;
    int n = snprintf(text, sizeof text, "seq %" PRIu64 "\nboot %" PRIu64 "\n", st->seq, st->boot);
    if (n < 0 || (size_t)n >= sizeof text)
        return -1;
    return fb_write_file_atomic(path, text, (size_t)n, 0600);
}
