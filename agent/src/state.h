/* Persistent agent state: highest applied seq and boot counter, in <state_dir>/agent.state. */
#ifndef FB_STATE_H
#define FB_STATE_H

#include <stdint.h>

struct fb_state {
    uint64_t seq;  /* highest applied envelope seq, 0 = none */
    uint64_t boot; /* boot counter, incremented per start */
};

/* Loads the state; a missing file gives zeros. -1 if the file exists but is corrupt or unreadable. */
int fb_state_load(const char *state_dir, struct fb_state *st);
/* Saves atomically (write temp, fsync, rename, fsync dir). 0 or -1. */
int fb_state_save(const char *state_dir, const struct fb_state *st);

#endif
