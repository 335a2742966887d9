/* Logging to syslog (daemon) or stderr, with levels. Never pass a secret to these functions. */
#ifndef FB_LOG_H
#define FB_LOG_H

enum fb_log_level { FB_LOG_ERROR = 0, FB_LOG_WARN, FB_LOG_INFO, FB_LOG_DEBUG };

/* use_syslog: 1 = syslog(LOG_DAEMON) with the given ident, 0 = stderr. */
void fb_log_init(const char *ident, int use_syslog, enum fb_log_level level);
void fb_log_set_level(enum fb_log_level level);
/* Parses "error", "warn", "info", "debug"; returns -1 if unknown. */
int fb_log_level_parse(const char *s, enum fb_log_level *out);
void fb_log(enum fb_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fb_err(...) fb_log(FB_LOG_ERROR, __VA_ARGS__)
#define fb_warn(...) fb_log(FB_LOG_WARN, __VA_ARGS__)
#define fb_info(...) fb_log(FB_LOG_INFO, __VA_ARGS__)
#define fb_debug(...) fb_log(FB_LOG_DEBUG, __VA_ARGS__)

#endif
