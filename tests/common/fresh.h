/*
 * Helpers for tests about what happens at the first OpenCL call of a
 * process: the driver's initialisation, and what clformer does once before
 * it (the environment it sets for PoCL). A test process that has listed the
 * devices is past that point, so these list them in a child and run the
 * scenario in fresh processes.
 */
#ifndef CLF_FRESH_H
#define CLF_FRESH_H

/* The test devices (as clft_devices), listed by a forked child, so that the
 * calling process makes no OpenCL call. Skips the test, saying why, when
 * there is none; otherwise returns the count (at most max). */
int clft_devices_fresh_or_skip(char specs[][32], int max);

/* Runs fn(arg) in a forked child, which exits with its return value without
 * running exit handlers, and returns the child's wait status. Fork only
 * while the calling process has no other threads. */
int clft_fork_run(int (*fn)(void *arg), void *arg);

/* Sends this process's stderr (fd 2) to the file path from now on, until
 * clft_stderr_restore; returns the saved descriptor to give back. */
int clft_stderr_to(const char *path);
void clft_stderr_restore(int saved);

/* Occurrences of needle in the file path (0 when it cannot be read). */
int clft_count_in_file(const char *path, const char *needle);

#endif
