/* Status states and reason codes: the fixed lists of Topics.md ("status"). */
#ifndef FB_REASON_H
#define FB_REASON_H

enum fb_reason {
    FB_REASON_NONE = 0,        /* success; the "reason" field is omitted */
    FB_REASON_AUTH_FAILED,     /* station rejected: wrong key */
    FB_REASON_NETWORK_NOT_FOUND,/* SSID not seen */
    FB_REASON_NO_ADDRESS,      /* associated, but no IPv4 lease */
    FB_REASON_TIMEOUT,         /* nothing conclusive before the verify timeout */
    FB_REASON_BAD_ENVELOPE,    /* malformed, undecryptable, wrong suite or key id */
    FB_REASON_REPLAY,          /* seq not newer than the highest applied */
    FB_REASON_INVALID_PROFILE, /* opened, but the profile breaks a rule */
    FB_REASON_WRONG_DEVICE,    /* envelope or topic names another device */
    FB_REASON_TOO_LARGE,       /* payload over the size limit */
    FB_REASON_APPLY_ERROR,     /* uci/wifi tool failed; rolled back */
    FB_REASON_ROLLED_BACK,     /* a crash or power loss interrupted an apply; restored at boot */
    FB_REASON_BROKER_UNREACHABLE, /* joined, but no broker endpoint answered over the new network in time */
    FB_REASON_SUBNET_CONFLICT, /* the lease's subnet overlaps the device's own AP/lan subnet */
    FB_REASON__COUNT
};

/* Wire name of a reason ("auth_failed", ...); "" for FB_REASON_NONE. */
const char *fb_reason_name(enum fb_reason r);
/* The reason with that wire name; FB_REASON_NONE for "" or an unknown name. */
enum fb_reason fb_reason_parse(const char *name);

#endif
