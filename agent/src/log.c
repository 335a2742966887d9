#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

static int g_syslog;
static enum fb_log_level g_level = FB_LOG_INFO;
static const char *g_ident = "omega-agent";

void fb_log_init(const char *ident, int use_syslog, enum fb_log_level level)
{
    g_ident = ident ? ident : "omega-agent";
    g_syslog = use_syslog;
    g_level = level;
    if (g_syslog)
        openlog(g_ident, LOG_PID, LOG_DAEMON);
}

void fb_log_set_level(enum fb_log_level level) { g_level = level; }

int fb_log_level_parse(const char *s, enum fb_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum fb_log_level)i;
            return 0;
        }
    }
    return -1;
}

void fb_log(enum fb_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if (g_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        syslog(prio[level], "%s", line);
    } else {
        static const char *const tag[] = {"error", "warn", "info", "debug"};
        fprintf(stderr, "%s[%ld] %s: %s\n", g_ident, (long)time(NULL), tag[level], line);
    }
}
