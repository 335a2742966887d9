/* Running external tools with an argument vector and bounded output capture. */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

static long long now_ms(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
        return 0;
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        (void)close(*fd);
        *fd = -1;
    }
}

/* After the child exited: how long output still open (held by its own children) is read. */
#define DRAIN_MS 200
/* While the child runs: how often it is checked for having exited. */
#define REAP_POLL_MS 50

/*
 * Child side: its own process group (a timeout kills everything the tool started), dies with the
 * agent, wires the pipes to 0/1/2 and execs. Never returns.
 */
static void child_exec(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t parent)
{
    (void)setpgid(0, 0);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
        _exit(127);
    if (dup2(in_fd, STDIN_FILENO) < 0 || dup2(out_fd, STDOUT_FILENO) < 0 || dup2(err_fd, STDERR_FILENO) < 0)
        _exit(127);
    /* restore default signal handling the parent may have changed (e.g. SIGPIPE ignored) */
    (void)signal(SIGPIPE, SIG_DFL);
    execvp(argv[0], argv);
    _exit(127);
}

int fb_proc_run(char *const argv[], const char *in, size_t in_len, int timeout_ms, struct fb_proc_out *res)
{
    int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    size_t err_len = 0;
    pid_t pid, parent = getpid();
    int status = 0;
    int timed_out = 0, reaped = 0;

    res->out_len = 0;
    res->out_truncated = 0;
    res->err[0] = '\0';
    res->exit_code = -1;
    if (res->out && res->out_cap > 0)
        res->out[0] = '\0';
    if (!argv || !argv[0] || in_len > FB_PROC_IN_MAX)
        return -1;

    if (pipe2(in_pipe, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0)
        goto fail;
    /* The whole input fits the pipe buffer: write it now, so the child can never block us. */
    if (in && in_len > 0) {
        size_t off = 0;
        while (off < in_len) {
            ssize_t n = write(in_pipe[1], in + off, in_len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto fail;
            off += (size_t)n;
        }
    }
    close_fd(&in_pipe[1]);

    pid = fork();
    if (pid < 0)
        goto fail;
    if (pid == 0)
        child_exec(argv, in_pipe[0], out_pipe[1], err_pipe[1], parent);
    (void)setpgid(pid, pid); /* also here: no window in which a kill(-pid) would miss */

    close_fd(&in_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[1]);

    /*
     * Read until the child has exited and its output is drained. End of output alone is not the
     * signal: a daemon the tool starts (wifi) may inherit stdout and keep it open for ever.
     */
    long long deadline = now_ms() + timeout_ms;
    long long drain_end = 0;
    while (out_pipe[0] >= 0 || err_pipe[0] >= 0 || !reaped) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        int idx_out = -1, idx_err = -1;
        if (out_pipe[0] >= 0) {
            pfd[n].fd = out_pipe[0];
            pfd[n].events = POLLIN;
            idx_out = (int)n++;
        }
        if (err_pipe[0] >= 0) {
            pfd[n].fd = err_pipe[0];
            pfd[n].events = POLLIN;
            idx_err = (int)n++;
        }
        if (!reaped) {
            pid_t w = waitpid(pid, &status, WNOHANG);
            if (w == pid) {
                reaped = 1;
                drain_end = now_ms() + DRAIN_MS;
            } else if (w < 0 && errno != EINTR) {
                timed_out = 1; /* cannot happen for our own child; treat as lost */
                break;
            }
        }
        long long now = now_ms();
        if (reaped && (n == 0 || now >= drain_end))
            break;
        long long left = deadline - now;
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        if (reaped && drain_end - now < left)
            left = drain_end - now;
        else if (!reaped && left > REAP_POLL_MS)
            left = REAP_POLL_MS;
        int pr = poll(pfd, n, (int)left);
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            timed_out = 1;
            break;
        }
        if (pr == 0)
            continue;
        char buf[1024];
        if (idx_out >= 0 && (pfd[idx_out].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(out_pipe[0], buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close_fd(&out_pipe[0]);
            } else if (res->out && res->out_cap > 0) {
                size_t room = res->out_cap - 1 - res->out_len;
                size_t take = (size_t)r < room ? (size_t)r : room;
                memcpy(res->out + res->out_len, buf, take);
                res->out_len += take;
                res->out[res->out_len] = '\0';
                if (take < (size_t)r)
                    res->out_truncated = 1;
            }
            OPENSSL_cleanse(buf, sizeof buf);
        }
        if (idx_err >= 0 && (pfd[idx_err].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(err_pipe[0], buf, sizeof buf);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                close_fd(&err_pipe[0]);
            } else {
                size_t room = sizeof res->err - 1 - err_len;
                size_t take = (size_t)r < room ? (size_t)r : room;
                memcpy(res->err + err_len, buf, take);
                err_len += take;
                res->err[err_len] = '\0';
            }
        }
    }
    close_fd(&out_pipe[0]);
    close_fd(&err_pipe[0]);

    if (timed_out && !reaped) {
        (void)kill(-pid, SIGKILL); /* the tool and whatever it started */
        (void)kill(pid, SIGKILL);
    }
    while (!reaped) {
        pid_t w = waitpid(pid, &status, 0);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR)
            return -1;
    }
    if (timed_out)
        return -1;
    if (WIFEXITED(status))
        res->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        res->exit_code = 128 + WTERMSIG(status);
    return 0;

fail:
    close_fd(&in_pipe[0]);
    close_fd(&in_pipe[1]);
    close_fd(&out_pipe[0]);
    close_fd(&out_pipe[1]);
    close_fd(&err_pipe[0]);
    close_fd(&err_pipe[1]);
    return -1;
}
