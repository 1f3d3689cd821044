/*
 * clformer: where the library's messages go.
 *
 * The library reports failures through return codes and last-error text;
 * it never prints them. What it does say on its own is diagnostic: a cache
 * folder it had to turn off (warning), a kernel that failed to compile with
 * the compiler's log (error), which device it chose and why, each kernel
 * program made ready and how long it took, a model's summary (info), disk
 * cache hits, misses and writes (debug). Nothing is said per op call.
 *
 * Every message goes through one process-wide sink: a level filter, then a
 * callback. By default the filter passes warnings and errors and the
 * callback, clf_log_default, writes each message as one line on stderr:
 *
 *   clformer: warning: cache folder "/x" is writable by others (mode 777): ...
 *
 * Environment, read once, at the first message or query:
 *   CLFORMER_LOG=error|warn|info|debug  the starting level (default warn;
 *        "warning" is taken for warn). Any other value is reported by one
 *        warning and the default kept.
 *   CLFORMER_LOG_BUILDS=1  an older switch, kept: when CLFORMER_LOG is unset
 *        it starts at info (which prints the build lines it used to print,
 *        together with the other info messages).
 * clf_set_log_level() overrides both.
 *
 * Threads: every function here may be called from any thread at any time.
 * The callback is called on whichever thread produced the message (any
 * thread that calls into the library, and threads the library starts), but
 * never on two threads at once: calls are serialised by a lock held for the
 * duration of the call, so a callback needs no locking of its own against
 * itself, and it should return promptly, as other threads' messages wait.
 * clf_set_log_callback() takes the same lock: once it returns, the old
 * callback is not running and will not be called again, so its user data
 * may be freed.
 * Inside the callback, do not call clf_set_log_callback() (it fails with
 * CLF_ERR_INVALID_ARG instead of deadlocking). Library calls made from
 * inside the callback that produce messages of their own send those to
 * clf_log_default directly (stderr), not back into the callback.
 */
#ifndef CLFORMER_LOG_H
#define CLFORMER_LOG_H

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Message levels, most severe first: a filter at level L passes the
 * messages whose level is <= L. */
typedef enum clf_log_level {
    CLF_LOG_ERROR = 0, /* something failed; the call's status says so too */
    CLF_LOG_WARN = 1,  /* something works worse than it could (a cache turned off) */
    CLF_LOG_INFO = 2,  /* one-time decisions and costs: device choice, builds, model loads */
    CLF_LOG_DEBUG = 3, /* detail per program or file: cache hits, misses, writes */
} clf_log_level;

/* A log sink. message is one NUL-terminated message, with no trailing
 * newline (a message may span lines: a build log); it is valid only during
 * the call, and at most 8191 bytes (longer ones are cut, ending in "...").
 * user is the pointer given to clf_set_log_callback. */
typedef void (*clf_log_fn)(clf_log_level level, const char *message, void *user);

/* Sends every message that passes the level filter to fn(level, message,
 * user) instead of stderr. fn NULL restores clf_log_default. Returns
 * CLF_OK, or CLF_ERR_INVALID_ARG (and changes nothing) when called from
 * inside a log callback. See the thread rules above. */
CLF_API clf_status clf_set_log_callback(clf_log_fn fn, void *user);

/* Messages less severe than level are dropped before any callback (and
 * cost no formatting). Returns CLF_OK, or CLF_ERR_INVALID_ARG (and changes
 * nothing) for a value that is not a clf_log_level. Overrides CLFORMER_LOG. */
CLF_API clf_status clf_set_log_level(clf_log_level level);

/* The filter's level now (after CLFORMER_LOG, or clf_set_log_level). */
CLF_API clf_log_level clf_get_log_level(void);

/* "error", "warning", "info", "debug"; "unknown" for any other value.
 * Static strings. */
CLF_API const char *clf_log_level_name(clf_log_level level);

/* The default sink: writes "clformer: <level name>: <message>\n" to stderr
 * in one stdio call. user is ignored. A callback may call it to keep the
 * default output as well. */
CLF_API void clf_log_default(clf_log_level level, const char *message, void *user);

#ifdef __cplusplus
}
#endif
#endif
