#include "fresh.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

int clft_fork_run(int (*fn)(void *arg), void *arg)
{
    fflush(NULL); /* nothing buffered is written twice */
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork failed");
    if (pid == 0) _exit(fn(arg));
    int status = 0;
    cr_assert_eq(waitpid(pid, &status, 0), pid, "waitpid failed");
    return status;
}

/* Child: the specs, NUL-separated, down the pipe. */
typedef struct listing {
    int fd;
} listing;

static int list_specs(void *arg)
{
    const listing *l = arg;
    char specs[16][32];
    int n = clft_devices(specs, 16);
    for (int i = 0; i < n; i++)
        if (write(l->fd, specs[i], sizeof specs[i]) != (ssize_t)sizeof specs[i]) return 1;
    /* Why there is none, for the skip message. */
    if (n == 0) {
        const char *why = clf_context_last_error(NULL);
        if (write(l->fd, why, strlen(why)) < 0) return 1;
    }
    return 0;
}

int clft_devices_fresh_or_skip(char specs[][32], int max)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    listing l = {fds[1]};
    /* The child writes at most 16 x 32 bytes plus a message: less than a
     * pipe holds, so reading after it exits cannot deadlock. */
    int status = clft_fork_run(list_specs, &l);
    close(fds[1]);
    static char buf[16 * 32 + 8192];
    size_t got = 0;
    for (ssize_t r;
         got < sizeof buf - 1 && (r = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0;)
        got += (size_t)r;
    close(fds[0]);
    buf[got] = '\0';
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
              "listing the devices in a child failed (wait status %#x)", status);
    int n = 0;
    for (size_t at = 0; at + 32 <= got && n < max && memchr(buf + at, '\0', 32); at += 32)
        snprintf(specs[n++], 32, "%s", buf + at);
    if (n == 0)
        cr_skip_test("no OpenCL device (CLFORMER_TEST_DEVICES=%s): %s",
                     getenv("CLFORMER_TEST_DEVICES") ? getenv("CLFORMER_TEST_DEVICES") : "all",
                     buf);
    return n;
}

int clft_stderr_to(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert(saved >= 0 && fd >= 0, "cannot redirect stderr to %s", path);
    dup2(fd, 2);
    close(fd);
    return saved;
}

void clft_stderr_restore(int saved)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
}

int clft_count_in_file(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    static char text[1 << 16];
    size_t got = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[got] = '\0';
    int count = 0;
    for (const char *p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        count++;
    return count;
}
