#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fb_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd) == 0 ? 0 : -1;
    if (close(fd) != 0)
        rc = -1;
    return rc;
}

int fb_write_file_atomic(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[PATH_MAX + 16];
    if (snprintf(tmp, sizeof tmp, "%s.tmpXXXXXX", path) >= (int)sizeof tmp)
        return -1;
    int fd = mkstemp(tmp); /* created 0600, O_EXCL: never through a link */
    if (fd < 0)
        return -1;
    int ok = fchmod(fd, (mode_t)mode) == 0;
    const char *p = data;
    size_t left = len;
    while (ok && left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = 0;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    if (ok && fsync(fd) != 0)
        ok = 0;
    if (close(fd) != 0)
        ok = 0;
    if (ok && rename(tmp, path) != 0)
        ok = 0;
    if (!ok) {
        (void)unlink(tmp);
        return -1;
    }
    /* fsync the directory so the rename itself survives a power cut */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return fb_fsync_dir(dir);
}

int fb_ensure_dir(const char *path)
{
    struct stat st;
    if (mkdir(path, 0700) != 0 && errno != EEXIST)
        return -1;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

int fb_path_join(char *out, size_t cap, const char *a, const char *b)
{
    int n = snprintf(out, cap, "%s/%s", a, b);
    return (n < 0 || (size_t)n >= cap) ? -1 : 0;
}

int fb_read_file(const char *path, char *buf, size_t cap, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    size_t off = 0;
    for (;;) {
        ssize_t r = read(fd, buf + off, cap - 1 - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            (void)close(fd);
            return -1;
        }
        if (r == 0)
            break;
        off += (size_t)r;
        if (off >= cap - 1) {
            (void)close(fd);
            return -1;
        }
    }
    (void)close(fd);
    buf[off] = '\0';
    *len = off;
    return 0;
}

int fb_remove_file(const char *dir, const char *name)
{
    char p[PATH_MAX];
    if (fb_path_join(p, sizeof p, dir, name) != 0)
        return -1;
    if (unlink(p) != 0 && errno != ENOENT)
        return -1;
    return 0;
}
