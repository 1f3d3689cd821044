/* Host tests: the log sink (include/clformer/log.h, src/core/log.c): levels,
 * the filter, the default stderr writer, the environment, the callback's
 * thread rules, and the one library message that needs no device (a cache
 * folder refused). Device-side messages are in test_log_device.c.
 *
 * Criterion runs each test in a process of its own, so the process-wide
 * level and callback start fresh in each; tests about the first read of the
 * environment run their scenario in a forked child. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/fresh.h"
#include "common/testutil.h"
#include "runtime/runtime.h"

#define MAX_SEEN 16

/* What a capturing callback saw. */
typedef struct seen {
    int n;
    clf_log_level level[MAX_SEEN];
    char text[MAX_SEEN][9000];
} seen;

static void capture(clf_log_level level, const char *message, void *user)
{
    seen *s = user;
    if (s->n >= MAX_SEEN) return;
    s->level[s->n] = level;
    snprintf(s->text[s->n], sizeof s->text[0], "%s", message);
    s->n++;
}

static seen got; /* static: 144 KiB is too much for a test's stack */

/* Reads the whole of a small file into buf. */
static void slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
}

Test(log, callback_receives_each_message_with_its_level)
{
    cr_assert_eq(clf_set_log_level(CLF_LOG_DEBUG), CLF_OK);
    cr_assert_eq(clf_set_log_callback(capture, &got), CLF_OK);
    clf__log(CLF_LOG_ERROR, "e %d", 1);
    clf__log(CLF_LOG_WARN, "w %s", "two");
    clf__log(CLF_LOG_INFO, "i %.1f", 3.0);
    clf__log(CLF_LOG_DEBUG, "d\nline two");
    cr_assert_eq(got.n, 4, "%d messages", got.n);
    const clf_log_level want[] = {CLF_LOG_ERROR, CLF_LOG_WARN, CLF_LOG_INFO, CLF_LOG_DEBUG};
    const char *text[] = {"e 1", "w two", "i 3.0", "d\nline two"};
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(got.level[i], want[i], "message %d: level %d", i, got.level[i]);
        cr_assert_str_eq(got.text[i], text[i], "message %d", i);
    }
}

Test(log, level_filter_drops_less_severe_messages)
{
    cr_assert_eq(clf_set_log_callback(capture, &got), CLF_OK);
    const char *names[] = {"error", "warning", "info", "debug"};
    for (int lv = CLF_LOG_ERROR; lv <= CLF_LOG_DEBUG; lv++) {
        got.n = 0;
        cr_assert_eq(clf_set_log_level((clf_log_level)lv), CLF_OK);
        cr_assert_eq(clf_get_log_level(), (clf_log_level)lv);
        for (int m = CLF_LOG_ERROR; m <= CLF_LOG_DEBUG; m++) {
            cr_assert_eq(clf__log_enabled((clf_log_level)m), m <= lv, "filter %d, message %d", lv,
                         m);
            clf__log((clf_log_level)m, "%s", names[m]);
        }
        cr_assert_eq(got.n, lv + 1, "filter %s passed %d messages", names[lv], got.n);
        for (int i = 0; i < got.n; i++)
            cr_assert_str_eq(got.text[i], names[i]);
    }
    cr_assert_eq(clf_set_log_level((clf_log_level)4), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf_set_log_level((clf_log_level)-1), CLF_ERR_INVALID_ARG);
    cr_assert(strstr(clf_context_last_error(NULL), "not a clf_log_level"), "%s",
              clf_context_last_error(NULL));
    cr_assert_eq(clf_get_log_level(), CLF_LOG_DEBUG, "a bad level changes nothing");
}

Test(log, level_names)
{
    cr_assert_str_eq(clf_log_level_name(CLF_LOG_ERROR), "error");
    cr_assert_str_eq(clf_log_level_name(CLF_LOG_WARN), "warning");
    cr_assert_str_eq(clf_log_level_name(CLF_LOG_INFO), "info");
    cr_assert_str_eq(clf_log_level_name(CLF_LOG_DEBUG), "debug");
    cr_assert_str_eq(clf_log_level_name((clf_log_level)7), "unknown");
    cr_assert_eq(clf__log_level_parse("warn"), CLF_LOG_WARN);
    cr_assert_eq(clf__log_level_parse("warning"), CLF_LOG_WARN);
    cr_assert_eq(clf__log_level_parse("DEBUG"), -1, "names are lower case");
    cr_assert_eq(clf__log_level_parse(""), -1);
    cr_assert_eq(clf__log_level_parse(NULL), -1);
}

/* Child: with no CLFORMER_LOG, one message of each level with stderr in
 * the file arg; a callback set and reset to NULL in between. */
static int default_scenario(void *arg)
{
    unsetenv("CLFORMER_LOG");
    unsetenv("CLFORMER_LOG_BUILDS");
    int saved = clft_stderr_to(arg);
    clf__log(CLF_LOG_ERROR, "first error %d", 1);
    clf__log(CLF_LOG_WARN, "first warning");
    clf__log(CLF_LOG_INFO, "an info");
    clf__log(CLF_LOG_DEBUG, "a debug");
    if (clf_set_log_callback(capture, &got) != CLF_OK) return 10;
    clf__log(CLF_LOG_WARN, "to the callback");
    if (got.n != 1) return 11;
    if (clf_set_log_callback(NULL, &got) != CLF_OK) return 12;
    clf__log(CLF_LOG_WARN, "second warning");
    clf_log_default(CLF_LOG_INFO, "called directly", NULL);
    clft_stderr_restore(saved);
    return 0;
}

Test(log, default_writes_warnings_and_errors_to_stderr_one_line_each)
{
    char dir[512], path[600], text[4096];
    clft_tempdir(dir, sizeof dir, "log");
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    int status = clft_fork_run(default_scenario, path);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
    slurp(path, text, sizeof text);
    cr_assert_str_eq(text,
                     "clformer: error: first error 1\n"
                     "clformer: warning: first warning\n"
                     "clformer: warning: second warning\n"
                     "clformer: info: called directly\n",
                     "stderr was:\n%s", text);
    clft_rmtree(dir);
}

typedef struct env_case {
    const char *log, *builds; /* NULL = unset */
    clf_log_level want;
} env_case;

/* Child: sets the case's environment, returns the starting level. */
static int level_from_env(void *arg)
{
    const env_case *c = arg;
    if (c->log)
        setenv("CLFORMER_LOG", c->log, 1);
    else
        unsetenv("CLFORMER_LOG");
    if (c->builds)
        setenv("CLFORMER_LOG_BUILDS", c->builds, 1);
    else
        unsetenv("CLFORMER_LOG_BUILDS");
    clf_set_log_callback(capture, &got); /* the bad-value warning, away from stderr */
    return (int)clf_get_log_level();
}

Test(log, environment_sets_the_starting_level)
{
    const env_case cases[] = {
        {NULL, NULL, CLF_LOG_WARN},    {"error", NULL, CLF_LOG_ERROR},
        {"warn", NULL, CLF_LOG_WARN},  {"warning", NULL, CLF_LOG_WARN},
        {"info", NULL, CLF_LOG_INFO},  {"debug", NULL, CLF_LOG_DEBUG},
        {"", NULL, CLF_LOG_WARN},      {"loud", NULL, CLF_LOG_WARN},
        {NULL, "1", CLF_LOG_INFO},     {NULL, "0", CLF_LOG_WARN},
        {NULL, "", CLF_LOG_WARN},      {"error", "1", CLF_LOG_ERROR},
        {"debug", "1", CLF_LOG_DEBUG},
    };
    for (size_t i = 0; i < CLF_ARRAY_LEN(cases); i++) {
        int status = clft_fork_run(level_from_env, (void *)&cases[i]);
        cr_assert(WIFEXITED(status), "case %zu: child status %#x", i, status);
        cr_assert_eq(WEXITSTATUS(status), (int)cases[i].want,
                     "CLFORMER_LOG=%s CLFORMER_LOG_BUILDS=%s: level %d, want %d",
                     cases[i].log ? cases[i].log : "(unset)",
                     cases[i].builds ? cases[i].builds : "(unset)", WEXITSTATUS(status),
                     (int)cases[i].want);
    }
}

/* Child: CLFORMER_LOG=loud, two warnings of our own through the callback;
 * returns 0 when the callback saw exactly one complaint about the variable,
 * first, and then both warnings. */
static int bad_env(void *arg)
{
    (void)arg;
    setenv("CLFORMER_LOG", "loud", 1);
    clf_set_log_callback(capture, &got);
    clf__log(CLF_LOG_WARN, "one");
    clf__log(CLF_LOG_INFO, "filtered");
    clf__log(CLF_LOG_WARN, "two");
    if (got.n != 3) return 20 + got.n;
    if (got.level[0] != CLF_LOG_WARN || !strstr(got.text[0], "CLFORMER_LOG=\"loud\"") ||
        !strstr(got.text[0], "keeping warn"))
        return 1;
    if (strcmp(got.text[1], "one") != 0 || strcmp(got.text[2], "two") != 0) return 2;
    return clf_get_log_level() == CLF_LOG_WARN ? 0 : 3;
}

Test(log, bad_environment_value_is_one_warning_and_the_default_stays)
{
    int status = clft_fork_run(bad_env, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x (exit %d)", status,
              WEXITSTATUS(status));
}

static int set_beats_env(void *arg)
{
    (void)arg;
    setenv("CLFORMER_LOG", "debug", 1);
    if (clf_set_log_level(CLF_LOG_ERROR) != CLF_OK) return 1;
    clf_set_log_callback(capture, &got);
    clf__log(CLF_LOG_WARN, "dropped");
    return got.n == 0 && clf_get_log_level() == CLF_LOG_ERROR ? 0 : 2;
}

Test(log, set_level_overrides_the_environment)
{
    int status = clft_fork_run(set_beats_env, NULL);
    cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
}

Test(log, long_messages_are_cut_with_an_ellipsis)
{
    static char big[20000];
    memset(big, 'x', sizeof big - 1);
    clf_set_log_callback(capture, &got);
    clf__log(CLF_LOG_ERROR, "%s", big);
    cr_assert_eq(got.n, 1);
    size_t n = strlen(got.text[0]);
    cr_assert_eq(n, 8191, "length %zu", n);
    cr_assert_str_eq(got.text[0] + n - 3, "...");
    cr_assert_eq(got.text[0][n - 4], 'x');
}

/* A callback that calls back into the library. */
static atomic_int reentry_status = -1;
static void reentrant(clf_log_level level, const char *message, void *user)
{
    (void)level;
    (void)user;
    if (strcmp(message, "outer") != 0) return;
    atomic_store(&reentry_status, (int)clf_set_log_callback(NULL, NULL));
    clf__log(CLF_LOG_ERROR, "inner"); /* must not deadlock: goes to stderr */
}

Test(log, a_callback_that_calls_back_in_neither_deadlocks_nor_swaps_itself)
{
    char dir[512], path[600], text[4096];
    clft_tempdir(dir, sizeof dir, "log");
    snprintf(path, sizeof path, "%s/stderr.txt", dir);
    clf_set_log_callback(reentrant, NULL);
    int saved = clft_stderr_to(path);
    clf__log(CLF_LOG_ERROR, "outer");
    int first = atomic_exchange(&reentry_status, -1);
    /* Still the callback's: the refused swap changed nothing. */
    clf__log(CLF_LOG_ERROR, "outer");
    clft_stderr_restore(saved);
    cr_assert_eq(first, CLF_ERR_INVALID_ARG, "clf_set_log_callback inside a callback gave %d",
                 first);
    cr_assert_eq(atomic_load(&reentry_status), CLF_ERR_INVALID_ARG, "the callback stayed");
    slurp(path, text, sizeof text);
    cr_assert_str_eq(text, "clformer: error: inner\nclformer: error: inner\n", "stderr was:\n%s",
                     text);
    clft_rmtree(dir);
}

Test(log, bad_cache_folder_is_one_warning_through_the_callback)
{
    char dir[512], open_dir[600], file[600], buf[4096];
    clft_tempdir(dir, sizeof dir, "log");
    snprintf(open_dir, sizeof open_dir, "%s/shared", dir);
    cr_assert_eq(mkdir(open_dir, 0700), 0);
    cr_assert_eq(chmod(open_dir, 0777), 0);
    snprintf(file, sizeof file, "%s/plain-file", dir);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    clf_set_log_callback(capture, &got);
    cr_assert_null(clf__cache_dir_resolve(open_dir, buf, sizeof buf));
    cr_assert_null(clf__cache_dir_resolve(open_dir, buf, sizeof buf));
    cr_assert_null(clf__cache_dir_resolve(file, buf, sizeof buf), "a file is no folder");
    cr_assert_eq(got.n, 1, "%d messages, want one per process; first: %s", got.n, got.text[0]);
    cr_assert_eq(got.level[0], CLF_LOG_WARN);
    cr_assert(strstr(got.text[0], open_dir) && strstr(got.text[0], "writable by others") &&
                  strstr(got.text[0], "disk cache is off"),
              "%s", got.text[0]);
    cr_assert_null(strstr(got.text[0], "clformer:"), "the prefix is the sink's: %s", got.text[0]);
    clft_rmtree(dir);
}

/* ---- threads: loggers while the callback is swapped ---- */

typedef struct counter {
    atomic_long calls;
    atomic_long wrong_user; /* called with another callback's user pointer */
} counter;

static counter ca, cb;
static atomic_int inside;    /* callbacks running now */
static atomic_long overlaps; /* a callback found another one running */
static atomic_int stop_swaps;

static atomic_long delivered; /* calls to either */

static void count(counter *mine, void *user)
{
    if (atomic_fetch_add(&inside, 1) != 0) atomic_fetch_add(&overlaps, 1);
    atomic_fetch_add(&mine->calls, 1);
    atomic_fetch_add(&delivered, 1);
    if (user != mine) atomic_fetch_add(&mine->wrong_user, 1);
    atomic_fetch_sub(&inside, 1);
}

static void count_a(clf_log_level l, const char *m, void *u)
{
    (void)l;
    (void)m;
    count(&ca, u);
}

static void count_b(clf_log_level l, const char *m, void *u)
{
    (void)l;
    (void)m;
    count(&cb, u);
}

/* Each logger logs at least MIN_PER_THREAD messages, and goes on until the
 * swapper has swapped MIN_SWAPS times (or 20 s have passed). The swapper
 * waits after each swap until some message has been delivered, so that
 * however the threads are scheduled, swaps and messages interleave and both
 * callbacks take messages. */
#define MIN_PER_THREAD 5000
#define MIN_SWAPS 500

static atomic_long swaps, logged;

static void *logger(void *arg)
{
    double t0 = clft_now();
    long i = 0;
    for (; i < MIN_PER_THREAD || (atomic_load(&swaps) < MIN_SWAPS && clft_now() - t0 < 20); i++)
        clf__log(CLF_LOG_INFO, "thread %d message %ld", (int)(intptr_t)arg, i);
    atomic_fetch_add(&logged, i);
    return NULL;
}

static void *swapper(void *arg)
{
    (void)arg;
    for (long i = 0; !atomic_load(&stop_swaps); i++) {
        if (i % 2)
            clf_set_log_callback(count_a, &ca);
        else
            clf_set_log_callback(count_b, &cb);
        long seen_before = atomic_load(&delivered);
        while (atomic_load(&delivered) == seen_before && !atomic_load(&stop_swaps))
            sched_yield();
        atomic_fetch_add(&swaps, 1);
    }
    return NULL;
}

Test(log, four_threads_log_while_a_fifth_swaps_the_callback)
{
    clf_set_log_level(CLF_LOG_INFO);
    clf_set_log_callback(count_a, &ca);
    pthread_t loggers[4], swap;
    for (intptr_t t = 0; t < 4; t++)
        cr_assert_eq(pthread_create(&loggers[t], NULL, logger, (void *)t), 0);
    cr_assert_eq(pthread_create(&swap, NULL, swapper, NULL), 0);
    for (int t = 0; t < 4; t++)
        pthread_join(loggers[t], NULL);
    long swaps_while_logging = atomic_load(&swaps);
    atomic_store(&stop_swaps, 1);
    pthread_join(swap, NULL);
    long a = atomic_load(&ca.calls), b = atomic_load(&cb.calls), n = atomic_load(&logged);
    cr_assert_eq(a + b, n, "calls: %ld to A + %ld to B, want %ld", a, b, n);
    cr_assert_eq(atomic_load(&ca.wrong_user) + atomic_load(&cb.wrong_user), 0,
                 "a callback got the other's user pointer");
    cr_assert_eq(atomic_load(&overlaps), 0, "%ld calls overlapped", atomic_load(&overlaps));
    cr_assert_geq(swaps_while_logging, MIN_SWAPS, "the swapper got %ld swaps in within 20 s",
                  swaps_while_logging);
    cr_assert(a > 0 && b > 0, "both callbacks took messages (%ld, %ld)", a, b);

    /* Once set_log_callback returns, the old callback is never called. */
    clf_set_log_callback(count_b, &cb);
    a = atomic_load(&ca.calls);
    b = atomic_load(&cb.calls);
    clf__log(CLF_LOG_WARN, "after the swap");
    cr_assert_eq(atomic_load(&ca.calls), a);
    cr_assert_eq(atomic_load(&cb.calls), b + 1);
}
