/* Content-addressed CA certificate files (see apply_ca.h). */
#include "apply_ca.h"

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "b64.h"
#include "fsutil.h"
#include "hpke.h"

#define CA_PREFIX "premises-ca-"
#define CA_SUFFIX ".pem"

int fb_ca_write(const char *state_dir, const char *pem, char *path, size_t cap, char *name, size_t name_cap,
                int *created)
{
    uint8_t md[32];
    char hex[17];
    struct stat sb;
    size_t len = strlen(pem);
    if (fb_sha256(pem, len, md) != 0)
        return -1;
    fb_hex_encode(md, 8, hex);
    int n = snprintf(name, name_cap, CA_PREFIX "%s" CA_SUFFIX, hex);
    if (n < 0 || (size_t)n >= name_cap || fb_path_join(path, cap, state_dir, name) != 0)
        return -1;
    *created = lstat(path, &sb) != 0;
    return fb_write_file_atomic(path, pem, len, 0600);
}

void fb_ca_remove_others(const char *state_dir, const char *keep)
{
    DIR *d = opendir(state_dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        int ours = strcmp(e->d_name, "premises-ca.pem") == 0 ||
                   (strncmp(e->d_name, CA_PREFIX, strlen(CA_PREFIX)) == 0 && l > strlen(CA_SUFFIX) &&
                    strcmp(e->d_name + l - strlen(CA_SUFFIX), CA_SUFFIX) == 0);
        if (ours && (!keep || strcmp(e->d_name, keep) != 0))
            (void)unlinkat(dirfd(d), e->d_name, 0);
    }
    (void)closedir(d);
    (void)fb_fsync_dir(state_dir);
}
