/*
 * Where clformer keeps its files on disk, and whether that folder may be
 * used. Here in the core because two layers need the answers: the runtime
 * (the binary cache, the device scores) and the device layer (PoCL's cache,
 * pointed inside ours before the first OpenCL call).
 *
 * The cache is an optimisation, so a folder that cannot serve it costs speed
 * only: it is turned off with one warning (clf__log), never an error. Entries
 * are native code checked only by a hash, so a folder that someone else
 * could write to is refused too, as OpenSSH refuses such key files.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/core.h"

clf_status clf__default_cache_dir(char *buf, size_t size)
{
    const char *env = getenv("CLFORMER_CACHE_DIR");
    int w;
    if (env) {
        if (!*env) return CLF_ERR_NOT_FOUND;
        w = snprintf(buf, size, "%s", env);
    } else if ((env = getenv("XDG_CACHE_HOME")) && *env) {
        w = snprintf(buf, size, "%s/clformer", env);
    } else if ((env = getenv("HOME")) && *env) {
        w = snprintf(buf, size, "%s/.cache/clformer", env);
    } else {
        return CLF_ERR_NOT_FOUND;
    }
    return (w > 0 && (size_t)w < size) ? CLF_OK : CLF_ERR_NOT_FOUND;
}

int clf__mkdirs(const char *path)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        errno = n ? ENAMETOOLONG : ENOENT;
        return -1;
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char saved = buf[i];
        buf[i] = '\0';
        /* 0700: what we create holds native code that the process runs, so
         * nobody else gets to list, read or add to it. */
        if (mkdir(buf, 0700) != 0 && errno != EEXIST) return -1;
        buf[i] = saved;
    }
    return 0;
}

clf__cache_dir_verdict clf__cache_space_verdict(uint64_t free_bytes, uint64_t free_files,
                                                uint64_t total_files, char *why, size_t why_size)
{
    if (free_bytes < CLF__CACHE_MIN_FREE_BYTES) {
        snprintf(why, why_size, "has %llu MiB free, less than the %llu MiB a compile may need",
                 (unsigned long long)(free_bytes >> 20),
                 (unsigned long long)(CLF__CACHE_MIN_FREE_BYTES >> 20));
        return CLF__CACHE_DIR_LOW_SPACE;
    }
    /* Filesystems without a fixed inode table (btrfs) report 0 in all. */
    if (total_files > 0 && free_files == 0) {
        snprintf(why, why_size, "is on a filesystem with no free inodes");
        return CLF__CACHE_DIR_LOW_SPACE;
    }
    return CLF__CACHE_DIR_OK;
}

clf__cache_dir_verdict clf__cache_dir_trusted(const char *dir, char *why, size_t why_size)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        snprintf(why, why_size, "cannot be read: %s", strerror(errno));
        return CLF__CACHE_DIR_UNUSABLE;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, why_size, "is not a folder");
        return CLF__CACHE_DIR_UNUSABLE;
    }
    /* Root may own it: root can replace our files whatever we check. */
    uid_t me = geteuid();
    if (st.st_uid != me && st.st_uid != 0) {
        snprintf(why, why_size, "belongs to uid %ld, not to this user (uid %ld)", (long)st.st_uid,
                 (long)me);
        return CLF__CACHE_DIR_UNUSABLE;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        snprintf(why, why_size, "is writable by %s (mode %03o)",
                 (st.st_mode & S_IWOTH) ? "others" : "its group", (unsigned)(st.st_mode & 0777));
        return CLF__CACHE_DIR_UNUSABLE;
    }
    return CLF__CACHE_DIR_OK;
}

/* Writable in fact, which the mode bits do not say (root writes to a 0500
 * folder, a read-only mount or a full inode table refuses everyone, ACLs
 * add their own rules) and access() answers for the real rather than the
 * effective user: so create a file the way the cache will (O_EXCL, never
 * through a link) and remove it. */
static clf__cache_dir_verdict probe_write(const char *dir, char *why, size_t why_size)
{
    char probe[4200];
    int w = snprintf(probe, sizeof probe, "%s/.clformer-probe-XXXXXX", dir);
    if (w < 0 || (size_t)w >= sizeof probe) {
        snprintf(why, why_size, "has too long a path");
        return CLF__CACHE_DIR_UNUSABLE;
    }
    int fd = mkstemp(probe);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_size, "cannot be written: %s", strerror(e));
        return (e == ENOSPC || e == EDQUOT) ? CLF__CACHE_DIR_LOW_SPACE : CLF__CACHE_DIR_UNUSABLE;
    }
    close(fd);
    unlink(probe);
    return CLF__CACHE_DIR_OK;
}

clf__cache_dir_verdict clf__cache_dir_check(const char *dir, char *why, size_t why_size)
{
    if (clf__mkdirs(dir) != 0) {
        snprintf(why, why_size, "cannot be created: %s", strerror(errno));
        return CLF__CACHE_DIR_UNUSABLE;
    }
    clf__cache_dir_verdict v = clf__cache_dir_trusted(dir, why, why_size);
    if (v == CLF__CACHE_DIR_OK) v = probe_write(dir, why, why_size);
    struct statvfs fs;
    if (v == CLF__CACHE_DIR_OK && statvfs(dir, &fs) == 0)
        v = clf__cache_space_verdict((uint64_t)fs.f_bavail * fs.f_frsize, fs.f_favail, fs.f_files,
                                     why, why_size);
    return v;
}

void clf__cache_warn(const char *dir, const char *why)
{
    /* One line per process: a program that opens many contexts over one bad
     * folder should not repeat it, and the first names the problem. */
    static atomic_flag said = ATOMIC_FLAG_INIT;
    if (!clf__log_enabled(CLF_LOG_WARN) || atomic_flag_test_and_set(&said)) return;
    clf__log(CLF_LOG_WARN,
             "cache folder \"%s\" %s: the disk cache is off (kernels are compiled again by "
             "every process)",
             dir, why);
}
