/*
 * Opening the user's files (model weights, configs, vocabularies) for
 * reading. Every such open goes through clf__file_open so that a path that is
 * not a regular file is refused before anything blocks on it: a plain
 * open(O_RDONLY) of a FIFO waits for a writer forever, and a read of a
 * character device such as /dev/zero never ends. The check must come after
 * the open, on the descriptor (fstat), not before it (stat): the name could be
 * replaced between the two.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

static const char *kind_of(mode_t mode)
{
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a plain file";
}

clf_status clf__file_open(const char *path, int *fd_out, uint64_t *size_out, char *msg,
                          size_t msg_size)
{
    *fd_out = -1;
    if (size_out) *size_out = 0;
    /* O_NONBLOCK: opening a FIFO for reading returns at once instead of
     * waiting for a writer, so that fstat below can refuse it. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(msg, msg_size, "%s: cannot open: %s", path, strerror(e));
        return e == ENOENT ? CLF_ERR_NOT_FOUND : CLF_ERR_IO;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        snprintf(msg, msg_size, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return CLF_ERR_IO;
    }
    if (!S_ISREG(sb.st_mode)) {
        snprintf(msg, msg_size, "%s is %s, not a regular file", path, kind_of(sb.st_mode));
        close(fd);
        return CLF_ERR_IO;
    }
    /* Regular files ignore O_NONBLOCK today; clearing it keeps reads plain
     * blocking reads on any system that would not. */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        snprintf(msg, msg_size, "%s: cannot clear O_NONBLOCK: %s", path, strerror(errno));
        close(fd);
        return CLF_ERR_IO;
    }
    *fd_out = fd;
    if (size_out) *size_out = (uint64_t)sb.st_size;
    if (msg_size) msg[0] = '\0';
    return CLF_OK;
}

int clf__file_read_at(int fd, void *buf, size_t n, uint64_t offset, size_t *got)
{
    size_t done = 0;
    while (done < n) {
        /* pread: no shared file position, so concurrent readers of one
         * descriptor (two threads loading from one file object) are safe. */
        ssize_t k = pread(fd, (char *)buf + done, n - done, (off_t)(offset + done));
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) {
            *got = done;
            return errno ? errno : EIO;
        }
        if (k == 0) break; /* end of file: the caller decides what a short read means */
        done += (size_t)k;
    }
    *got = done;
    return 0;
}

clf_status clf__file_read_all(const char *path, uint64_t max_bytes, char **text, size_t *len,
                              char *msg, size_t msg_size)
{
    *text = NULL;
    *len = 0;
    int fd = -1;
    uint64_t size = 0;
    CLF_TRY(clf__file_open(path, &fd, &size, msg, msg_size));
    if (size > max_bytes) {
        snprintf(msg, msg_size, "%s is %llu bytes, more than the limit of %llu", path,
                 (unsigned long long)size, (unsigned long long)max_bytes);
        close(fd);
        return CLF_ERR_BAD_MODEL;
    }
    char *buf = clf__malloc((size_t)size + 1);
    if (!buf) {
        snprintf(msg, msg_size, "%s: out of host memory", path);
        close(fd);
        return CLF_ERR_OUT_OF_MEMORY;
    }
    size_t got = 0;
    int e = clf__file_read_at(fd, buf, (size_t)size, 0, &got);
    close(fd);
    if (e || got != size) {
        if (e)
            snprintf(msg, msg_size, "%s: read failed: %s", path, strerror(e));
        else
            snprintf(msg, msg_size, "%s: the file shrank while it was read (%zu of %llu bytes)",
                     path, got, (unsigned long long)size);
        clf__free(buf);
        return CLF_ERR_IO;
    }
    buf[size] = '\0';
    *text = buf;
    *len = (size_t)size;
    return CLF_OK;
}
