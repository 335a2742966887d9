/*
 * Persistent agent state in <state_dir>/agent.state: highest applied seq, boot counter, and the
 * outcome of the last authentic envelope with whether the broker acknowledged its status (so that a
 * result survives a network switch, a broker restart or an agent restart until it is delivered).
 */
#ifndef FB_STATE_H
#define FB_STATE_H

#include <stdint.h>

#include "reason.h"

#define FB_DETAIL_MAX 200

/* The result of applying one authentic envelope: what the agent reports on its status topic. */
struct fb_outcome {
    uint64_t seq;        /* envelope seq; 0 = no outcome recorded */
    char state[8];       /* "applied", "failed" or "reset" */
    enum fb_reason reason; /* FB_REASON_NONE unless failed */
    int64_t ts;          /* when it was decided: re-reports carry the same ts */
    int acked;           /* 1 once the broker acknowledged (PUBACK) the status that carries it */
    char detail[FB_DETAIL_MAX + 1]; /* "" or text without control characters */
};

struct fb_state {
    uint64_t seq;  /* highest applied envelope seq, 0 = none */
    uint64_t boot; /* boot counter, incremented per start */
    struct fb_outcome outcome;
};

/* Loads the state; a missing file gives zeros. -1 if the file exists but is corrupt or unreadable. */
int fb_state_load(const char *state_dir, struct fb_state *st);
/* Saves atomically (write temp, fsync, rename, fsync dir). 0 or -1. */
int fb_state_save(const char *state_dir, const struct fb_state *st);

#endif
