/*
 * The library's one message sink (include/clformer/log.h): a level filter
 * and a user callback, process-wide.
 *
 * The level is an atomic read on every clf__log call, so a filtered message
 * costs a load and no formatting. The callback and its user pointer live
 * under one mutex held for the whole call: a callback is never run on two
 * threads at once, and clf_set_log_callback, which takes the same mutex,
 * returns only when the old callback is no longer running. A thread-local
 * flag catches re-entry (a callback that calls into the library), which
 * would otherwise deadlock on that mutex.
 *
 * Messages are formatted on the stack, never with the allocator: a message
 * may report an allocation failure, and the allocator's test hooks count
 * allocations, which logging must not shift.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

/* Not a level: the filter has not been read from the environment yet. */
#define LEVEL_UNSET (-1)

static atomic_int level = LEVEL_UNSET;

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static clf_log_fn sink_fn = clf_log_default; /* under sink_lock */
static void *sink_user;                      /* under sink_lock */
static _Thread_local int in_callback;

static pthread_once_t env_once = PTHREAD_ONCE_INIT;
static char bad_env[96]; /* written once inside env_once, read after it */
static atomic_flag bad_env_said = ATOMIC_FLAG_INIT;

static int valid_level(int l) { return l >= CLF_LOG_ERROR && l <= CLF_LOG_DEBUG; }

int clf__log_level_parse(const char *text)
{
    static const struct {
        const char *name;
        clf_log_level level;
    } names[] = {{"error", CLF_LOG_ERROR},
                 {"warn", CLF_LOG_WARN},
                 {"warning", CLF_LOG_WARN},
                 {"info", CLF_LOG_INFO},
                 {"debug", CLF_LOG_DEBUG}};
    for (size_t i = 0; text && i < CLF_ARRAY_LEN(names); i++)
        if (strcmp(text, names[i].name) == 0) return (int)names[i].level;
    return -1;
}

/* The starting level from CLFORMER_LOG (else CLFORMER_LOG_BUILDS, else
 * warn), unless clf_set_log_level came first. Runs once, before the
 * library's only setenv (clf__prepare_opencl_env calls clf__log_init first),
 * so these getenv calls never race with it. */
static void read_env(void)
{
    int want = CLF_LOG_WARN;
    const char *env = getenv("CLFORMER_LOG");
    const char *builds = getenv("CLFORMER_LOG_BUILDS");
    if (env && *env) {
        int parsed = clf__log_level_parse(env);
        if (parsed >= 0)
            want = parsed;
        else
            snprintf(bad_env, sizeof bad_env, "%.40s", env);
    } else if (builds && *builds && strcmp(builds, "0") != 0) {
        want = CLF_LOG_INFO;
    }
    int expected = LEVEL_UNSET;
    atomic_compare_exchange_strong(&level, &expected, want);
}

/* Formats and delivers one message; the level has been checked. */
static void deliver(clf_log_level lv, const char *fmt, va_list ap)
{
    char text[8192];
    int w = vsnprintf(text, sizeof text, fmt, ap);
    if (w < 0)
        snprintf(text, sizeof text, "(a message that could not be formatted: %s)", fmt);
    else if ((size_t)w >= sizeof text)
        memcpy(text + sizeof text - 4, "...", 4);
    if (in_callback) {
        /* Re-entered from inside the callback: the lock is ours already. */
        clf_log_default(lv, text, NULL);
        return;
    }
    pthread_mutex_lock(&sink_lock);
    in_callback = 1;
    sink_fn(lv, text, sink_user);
    in_callback = 0;
    pthread_mutex_unlock(&sink_lock);
}

static void say(clf_log_level lv, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    deliver(lv, fmt, ap);
    va_end(ap);
}

void clf__log_init(void)
{
    pthread_once(&env_once, read_env);
    /* After the once, not inside it: reporting goes through the filter,
     * which would wait on the once it is running in. */
    if (bad_env[0] && atomic_load(&level) >= CLF_LOG_WARN &&
        !atomic_flag_test_and_set(&bad_env_said))
        say(CLF_LOG_WARN, "CLFORMER_LOG=\"%s\": expected error, warn, info or debug; keeping warn",
            bad_env);
}

double clf__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int clf__log_enabled(clf_log_level lv)
{
    clf__log_init();
    return (int)lv <= atomic_load_explicit(&level, memory_order_relaxed);
}

void clf__log(clf_log_level lv, const char *fmt, ...)
{
    if (!clf__log_enabled(lv)) return;
    va_list ap;
    va_start(ap, fmt);
    deliver(lv, fmt, ap);
    va_end(ap);
}

clf_status clf_set_log_callback(clf_log_fn fn, void *user)
{
    if (in_callback)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_set_log_callback: called from inside a log callback");
    pthread_mutex_lock(&sink_lock);
    sink_fn = fn ? fn : clf_log_default;
    sink_user = fn ? user : NULL;
    pthread_mutex_unlock(&sink_lock);
    return CLF_OK;
}

clf_status clf_set_log_level(clf_log_level lv)
{
    if (!valid_level((int)lv))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_set_log_level: %d is not a clf_log_level (0 = error .. 3 = debug)",
                          (int)lv);
    atomic_store(&level, (int)lv);
    return CLF_OK;
}

clf_log_level clf_get_log_level(void)
{
    clf__log_init();
    return (clf_log_level)atomic_load(&level);
}

const char *clf_log_level_name(clf_log_level lv)
{
    switch (lv) {
    case CLF_LOG_ERROR: return "error";
    case CLF_LOG_WARN: return "warning";
    case CLF_LOG_INFO: return "info";
    case CLF_LOG_DEBUG: return "debug";
    }
    return "unknown";
}

void clf_log_default(clf_log_level lv, const char *message, void *user)
{
    (void)user;
    /* One call, so that stdio's own lock keeps the line whole against other
     * writers of stderr (the program's, other libraries'). */
    fprintf(stderr, "clformer: %s: %s\n", clf_log_level_name(lv), message ? message : "");
}
