/*
 * Internal core of clformer: the one host allocator, error reporting and the
 * small macros every file uses. Not installed.
 */
#ifndef CLF_CORE_H
#define CLF_CORE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <clformer/log.h>
#include <clformer/status.h>

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 300
#endif
#include <CL/cl.h>

/* Early return on failure: the caller's cleanup lives at its single exit. */
#define CLF_TRY(expr)                                                                              \
    do {                                                                                           \
        clf_status clf__try_status = (expr);                                                       \
        if (clf__try_status != CLF_OK) return clf__try_status;                                     \
    } while (0)

#define CLF_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- host allocation: every allocation of the library goes through these ---- */

void *clf__malloc(size_t size);
void *clf__calloc(size_t n, size_t size);
void *clf__realloc(void *p, size_t size);
void clf__free(void *p);
char *clf__strdup(const char *s);

/* Test hooks. clf__alloc_fail_at(n) makes the n-th allocation from now fail
 * (n >= 1; 0 disables). clf__alloc_fail_pending() is nonzero while an armed
 * failure has not fired yet: a call that made fewer than n allocations leaves
 * it pending, which is how a test knows that n is past the call's last
 * allocation (a call may absorb a failure by design, e.g. a cache read that
 * becomes a miss, so success alone does not say so). clf__alloc_live() is
 * the count of blocks allocated and not yet freed, so a test can check that a
 * failed call leaked nothing. */
void clf__alloc_fail_at(long n);
int clf__alloc_fail_pending(void);
long clf__alloc_live(void);

/* The same for OpenCL object creation and enqueues: every clCreate* and
 * clEnqueue* the library makes first asks clf__cl_fault(), which returns
 * nonzero when the test hook says this one must fail. */
void clf__cl_fail_at(long n);
int clf__cl_fault(void);
int clf__cl_fail_pending(void); /* as clf__alloc_fail_pending */

/* The binary cache folder from the environment (CLFORMER_CACHE_DIR, else
 * $XDG_CACHE_HOME/clformer, else $HOME/.cache/clformer) into buf; returns
 * CLF_ERR_NOT_FOUND when none can be derived, or when CLFORMER_CACHE_DIR is
 * set to "" (cache off). */
clf_status clf__default_cache_dir(char *buf, size_t size);

/* mkdir -p, each folder it creates 0700; 0 on success, else -1 with errno. */
int clf__mkdirs(const char *path);

/* Whether a cache folder may be used. */
typedef enum clf__cache_dir_verdict {
    CLF__CACHE_DIR_OK,
    CLF__CACHE_DIR_LOW_SPACE, /* usable, but a write may fill the disk (PoCL then aborts) */
    CLF__CACHE_DIR_UNUSABLE,  /* not a folder, not ours, writable by others, or not writable */
} clf__cache_dir_verdict;

/* Free space below which the cache is not written: a compile's files (PoCL
 * writes objects and shared libraries of a few MiB each) must fit. */
#define CLF__CACHE_MIN_FREE_BYTES ((uint64_t)64 << 20)

/* Creates dir (mkdir -p, 0700) and checks it: a folder (links followed),
 * owned by this user or root, not writable by group or others, a file can
 * be created in it (probed: created with O_EXCL and removed), and enough
 * free space (clf__cache_space_verdict). Anything but OK puts the reason
 * ("is not a folder") into why. */
clf__cache_dir_verdict clf__cache_dir_check(const char *dir, char *why, size_t why_size);

/* The ownership and mode half of clf__cache_dir_check, on an existing
 * folder; creates and writes nothing. */
clf__cache_dir_verdict clf__cache_dir_trusted(const char *dir, char *why, size_t why_size);

/* The free-space half, on the figures of statvfs (bytes available to this
 * user, free and total inodes): a pure function, so tests can give it a
 * full disk. */
clf__cache_dir_verdict clf__cache_space_verdict(uint64_t free_bytes, uint64_t free_files,
                                                uint64_t total_files, char *why, size_t why_size);

/* Warns (clf__log) that the cache folder dir is off and why; only the
 * first call of the process says it. */
void clf__cache_warn(const char *dir, const char *why);

/* ---- messages (log.c; the public side is include/clformer/log.h) ---- */

/* Formats a message and hands it to the log callback when level passes the
 * filter; costs an atomic load and nothing else when it does not. Never in
 * a per-op path: once per decision, build, load or file. Messages are cut at
 * 8191 bytes. */
void clf__log(clf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a message of level would be delivered: lets a caller skip work
 * that only feeds a message. */
int clf__log_enabled(clf_log_level level);

/* Reads CLFORMER_LOG (and CLFORMER_LOG_BUILDS) once per process. Called by
 * every entry point above, and first by clf__prepare_opencl_env so that the
 * read happens before the library's setenv. */
void clf__log_init(void);

/* Monotonic seconds, for the timings that messages and build statistics
 * report. */
double clf__now(void);

/* The level named by text ("error", "warn" or "warning", "info", "debug"),
 * or -1. */
int clf__log_level_parse(const char *text);

/* ---- errors ---- */

struct clf_context;

/* Records a formatted message as the last error of ctx (or of the calling
 * thread when ctx is NULL) and returns status, so a failing path is one line:
 *   return clf__error(ctx, CLF_ERR_SHAPE, "gemm: A is %lldx%lld ...", ...); */
clf_status clf__error(struct clf_context *ctx, clf_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
clf_status clf__verror(struct clf_context *ctx, clf_status status, const char *fmt, va_list ap);

/* Maps an OpenCL error code to a status (allocation failures become
 * CLF_ERR_DEVICE_MEMORY) and records "what: CL_NAME (code)". */
clf_status clf__cl_error(struct clf_context *ctx, cl_int err, const char *what);

/* "CL_OUT_OF_RESOURCES" for -5; "CL_UNKNOWN_ERROR" for unknown codes. */
const char *clf__cl_error_name(cl_int err);

/* The last-error text of an object. Every object that reports errors (a
 * context) has one as its FIRST member, so the core writes into it through
 * the object's pointer without knowing anything else of its layout (C11
 * 6.7.2.1: a pointer to a struct, suitably converted, points to its first
 * member). Fixed size, so that reporting out-of-memory needs no memory. */
typedef struct clf__error_state {
    char text[8192];
} clf__error_state;

void clf__thread_error_clear(void);

/* The calling thread's last error (what clf_context_last_error(NULL) gives). */
const char *clf__thread_error(void);

/* ---- the one-thread rule (owner.c) ---- */

/* Which thread is inside an object (a context) right now. A public call
 * enters the owner on its way in and leaves it on its way out; the same
 * thread may nest (a model's call runs graphs, which run ops), another
 * thread is refused with CLF_ERR_BUSY instead of racing on the object's
 * queue, kernels and counters. Cost: a thread-local address, one load and a
 * compare-and-swap per outermost call (see tests/test_threads.c for the
 * figure). Entering never waits: the rule is "one thread at a time", and a
 * program that hands an object between threads synchronises the hand-over
 * itself. */
typedef struct clf__owner {
    _Atomic(uintptr_t) thread; /* token of the thread inside; 0 = none */
    long depth;                /* that thread's nesting; written by it only */
    bool off;                  /* CLFORMER_THREAD_CHECK=0 when initialised: never checked */
} clf__owner;

/* Empty, and on unless the environment says CLFORMER_THREAD_CHECK=0. */
void clf__owner_init(clf__owner *o);

/* Enters o for the calling thread (obj: the object that holds o, label: its
 * name in the message, what: the public call). On a conflict returns
 * CLF_ERR_BUSY with a message naming the rule, written for the calling
 * thread only: into a thread-local buffer that clf_context_last_error(obj)
 * and clf_context_last_error(NULL) give on this thread (nothing of obj is
 * written: the thread inside owns it). */
clf_status clf__owner_enter(clf__owner *o, const void *obj, const char *label, const char *what);

/* Leaves what the calling thread entered with clf__owner_enter (CLF_OK). */
void clf__owner_leave(clf__owner *o);

/* Marks obj as refused on this thread too (an object entered together with
 * the one that refused, such as a model's second context), so that its
 * last error on this thread is the refusal. */
void clf__owner_mark_refused(const void *obj);

/* The refusal text when the calling thread's last call on obj was refused
 * and it has not entered obj since; NULL otherwise. A thread remembers the
 * two objects it was refused on most recently (a model's two contexts). */
const char *clf__owner_refused(const void *obj);

/* Test hook: fn(obj, arg) runs on the entering thread right after each
 * outermost successful enter (while it holds obj), so that a test can keep
 * one thread inside while another calls. NULL removes it. */
typedef void (*clf__owner_hook_fn)(const void *obj, void *arg);
void clf__owner_test_hook(clf__owner_hook_fn fn, void *arg);

/* ---- the user's files (file.c) ---- */

/* Opens path for reading, refusing anything but a regular file before any
 * read can block on it (a FIFO, a device, a directory): opened with
 * O_NONBLOCK, checked with fstat, then O_NONBLOCK cleared. On success *fd is
 * the descriptor (close it) and *size the file's size in bytes. On failure *fd
 * is -1, msg (msg_size bytes, always NUL-terminated) says why naming path
 * ("PATH is a FIFO, not a regular file", "PATH: cannot open: ..."), and the
 * status is CLF_ERR_NOT_FOUND when path does not exist, else CLF_ERR_IO.
 * Records no last error: callers add their context to msg. */
clf_status clf__file_open(const char *path, int *fd, uint64_t *size, char *msg, size_t msg_size);

/* Reads n bytes at offset with pread (no shared file position: safe from
 * several threads on one descriptor), retrying short reads; *got is the count
 * read, less than n only at the end of the file. Returns 0, or the errno of a
 * failed read. */
int clf__file_read_at(int fd, void *buf, size_t n, uint64_t offset, size_t *got);

/* The whole of a small file (through clf__file_open) in a clf__malloc'd,
 * NUL-terminated buffer: *text (free with clf__free) of *len bytes. A file
 * larger than max_bytes is CLF_ERR_BAD_MODEL; out of memory is
 * CLF_ERR_OUT_OF_MEMORY ("out of host memory"); otherwise as clf__file_open. */
clf_status clf__file_read_all(const char *path, uint64_t max_bytes, char **text, size_t *len,
                              char *msg, size_t msg_size);

#endif
