/* Device tests of threads (issue #13).
 *
 * 1. Threads that create the first contexts of a process at once (defect
 *    1). The race was in the drivers' first initialisation, which a process
 *    goes through once, so every repetition is a fresh process: a child
 *    forked before this test process made any OpenCL call.
 * 2. The one-thread rule of a context, checked: threads that use one
 *    context (or one model) at once get CLF_ERR_BUSY with a message naming
 *    the rule, never a wrong result. A test hook keeps one thread inside the
 *    context while another calls, so the conflict is certain; then the
 *    threads hammer it freely for a bounded time. With the check off
 *    (CLFORMER_THREAD_CHECK=0) these tests fail. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/fresh.h"
#include "common/testutil.h"

enum { THREADS = 16 };

typedef struct storm {
    char (*specs)[32];    /* the devices the threads open in turn; NULL: the best one */
    int n_specs;
    const char *cache_dir; /* the child's CLFORMER_CACHE_DIR */
    const char *vendors;   /* the child's OCL_ICD_VENDORS (one driver alone); NULL: inherited */
    pthread_barrier_t start;
    atomic_int failed;     /* calls that failed */
    atomic_int no_device;  /* calls that found no device (a driver alone may have none) */
} storm;

typedef struct rider {
    storm *s;
    int index;
} rider;

/* One thread: waits for all, then its first call. Every fourth thread lists
 * the devices instead of opening one: the other entry point into the first
 * enumeration. */
static void *ride(void *arg)
{
    const rider *r = arg;
    storm *s = r->s;
    const char *spec = s->specs ? s->specs[r->index % s->n_specs] : NULL;
    pthread_barrier_wait(&s->start);
    clf_status st;
    if (r->index % 4 == 3) {
        clf_device_info *devs = NULL;
        size_t n = 0;
        st = clf_devices_list(&devs, &n);
        clf_devices_free(devs);
    } else {
        clf_context_params p = clf_context_params_default();
        p.device = spec;
        clf_context *ctx = NULL;
        st = clf_context_create(&p, &ctx);
        clf_context_free(ctx);
    }
    if (st == CLF_ERR_NO_DEVICE) {
        s->no_device++;
    } else if (st != CLF_OK) {
        fprintf(stderr, "thread %d (%s): %s: %s\n", r->index, spec ? spec : "best",
                clf_status_name(st), clf_context_last_error(NULL));
        s->failed++;
    }
    return NULL;
}

/* The child: THREADS threads, released together. POCL_CACHE_DIR unset, so
 * that the library's once-only setenv happens inside the race too; the
 * cache folder (for PoCL and ours) is the test's own. Exits 0 when every
 * call succeeded, 3 when none found a device, 1 otherwise. */
static int storm_child(void *arg)
{
    storm *s = arg;
    unsetenv("POCL_CACHE_DIR");
    unsetenv("CLFORMER_DEVICE");
    setenv("CLFORMER_DEVICE_SCORE", "0", 1); /* only the first calls race: nothing measured */
    setenv("CLFORMER_CACHE_DIR", s->cache_dir, 1);
    if (s->vendors) setenv("OCL_ICD_VENDORS", s->vendors, 1);
    pthread_t t[THREADS];
    rider r[THREADS];
    pthread_barrier_init(&s->start, NULL, THREADS);
    atomic_init(&s->failed, 0);
    atomic_init(&s->no_device, 0);
    for (int i = 0; i < THREADS; i++) {
        r[i] = (rider){s, i};
        if (pthread_create(&t[i], NULL, ride, &r[i]) != 0) return 2;
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (s->no_device == THREADS) return 3;
    return s->failed || s->no_device ? 1 : 0;
}

/* reps fresh processes of the storm s; fails the test on any crash or
 * failed call. Returns false when the driver(s) had no device. */
static bool storms(storm *s, int reps, const char *what)
{
    int crashes = 0, failures = 0, empty = 0, first_signal = 0;
    for (int rep = 0; rep < reps; rep++) {
        int status = clft_fork_run(storm_child, s);
        if (WIFSIGNALED(status)) {
            if (!crashes) first_signal = WTERMSIG(status);
            crashes++;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
            empty++;
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            failures++;
        }
    }
    cr_log_info("%s: %d fresh processes x %d threads creating their first contexts (or listing "
                "devices) at once: %d crashed, %d had a failed call%s",
                what, reps, THREADS, crashes, failures, empty ? ", no device" : "");
    cr_assert_eq(crashes, 0, "%s: %d of %d processes crashed (the first by signal %d)", what,
                 crashes, reps, first_signal);
    cr_assert_eq(failures, 0, "%s: %d of %d processes had a failed call (see stderr)", what,
                 failures, reps);
    return empty == 0;
}

/* The folder of the ICD loader's driver files, or NULL when OCL_ICD_VENDORS
 * already names a single driver. */
static const char *vendor_folder(void)
{
    const char *env = getenv("OCL_ICD_VENDORS");
    if (!env || !*env) return "/etc/OpenCL/vendors";
    struct stat st;
    return stat(env, &st) == 0 && S_ISDIR(st.st_mode) ? env : NULL;
}

/* Every test device, and then every installed driver alone: the ICD loader
 * initialises every driver at the first enumeration whatever device is
 * asked for, and with both PoCL and Intel's runtime installed, Intel's slow
 * start spaced the threads out so that PoCL's race (19 crashes in 20 runs
 * of plain platform and device queries with PoCL alone) did not show.
 * CLFT_THREAD_REPS sets the number of fresh processes per driver (20 by
 * default; a quarter of that with every driver together). */
Test(threads, first_contexts_created_at_once_never_crash, .timeout = 900)
{
    char specs[16][32];
    int n = clft_devices_fresh_or_skip(specs, 16);
    const char *env = getenv("CLFT_THREAD_REPS");
    int reps = env && atoi(env) > 0 ? atoi(env) : 20;
    char dir[512];
    clft_tempdir(dir, sizeof dir, "threads");
    storm s = {.specs = specs, .n_specs = n, .cache_dir = dir};
    storms(&s, reps / 4 > 0 ? reps / 4 : 1, "every driver, the test devices");

    const char *folder = vendor_folder();
    DIR *d = folder ? opendir(folder) : NULL;
    int drivers = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".icd") != 0) continue;
        /* A folder holding only this driver's file: OCL_ICD_VENDORS as a
         * folder is understood by both ocl-icd and Khronos' loader. */
        char alone[1024], from[1024], to[1200];
        snprintf(alone, sizeof alone, "%s/alone-%d", dir, drivers);
        snprintf(from, sizeof from, "%s/%s", folder, e->d_name);
        snprintf(to, sizeof to, "%s/%s", alone, e->d_name);
        cr_assert_eq(mkdir(alone, 0700), 0);
        cr_assert_eq(symlink(from, to), 0);
        storm one = {.cache_dir = dir, .vendors = alone};
        if (storms(&one, reps, e->d_name)) drivers++;
    }
    if (d) closedir(d);
    cr_log_info("%d driver(s) with a device stormed alone", drivers);
    clft_rmtree(dir);
}

/* ===================== the one-thread rule, checked ===================== */

/* core/owner.c's test hook: fn(obj, arg) on each outermost enter. */
typedef void (*clf__owner_hook_fn)(const void *obj, void *arg);
void clf__owner_test_hook(clf__owner_hook_fn fn, void *arg);

enum { HELD_ROUNDS = 6, HAMMER_THREADS = 3, VEC_N = 4099 };
#define HAMMER_SECONDS 0.6

static bool sem_wait_s(sem_t *s, double seconds)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double end = (double)ts.tv_sec + ts.tv_nsec * 1e-9 + seconds;
    ts.tv_sec = (time_t)end;
    ts.tv_nsec = (long)((end - (double)ts.tv_sec) * 1e9);
    int r;
    while ((r = sem_timedwait(s, &ts)) != 0 && errno == EINTR) {
    }
    return r == 0;
}

/* Keeps the thread marked as holder inside obj at its next outermost enter,
 * until the other thread has made its call (or 2 s passed). */
typedef struct hold {
    const void *obj;
    atomic_int armed;
    sem_t inside, tried;
} hold;

static _Thread_local bool is_holder;

static void hold_hook(const void *obj, void *arg)
{
    hold *h = arg;
    if (!is_holder || obj != h->obj || !atomic_exchange(&h->armed, 0)) return;
    sem_post(&h->inside);
    sem_wait_s(&h->tried, 2.0);
}

/* What one thread saw. */
typedef struct tally {
    long ok;      /* passes whose every call returned CLF_OK, result checked */
    long busy;    /* calls refused with CLF_ERR_BUSY */
    long wrong;   /* passes with a result that differs from the reference */
    long other;   /* calls that failed otherwise */
    long unnamed; /* refusals whose message does not name the rule */
    char first_other[512];
} tally;

/* A refusal's message, on the refused thread, from both places it is
 * documented: clf_context_last_error of the context and of NULL. */
static void count_status(tally *t, clf_context *ctx, clf_status st)
{
    if (st == CLF_ERR_BUSY) {
        t->busy++;
        const char *rule = "used by one thread at a time";
        if (!strstr(clf_context_last_error(ctx), rule) ||
            !strstr(clf_context_last_error(NULL), rule))
            t->unnamed++;
    } else if (st != CLF_OK) {
        if (!t->other++)
            snprintf(t->first_other, sizeof t->first_other, "%s: %s", clf_status_name(st),
                     clf_context_last_error(ctx));
    }
}

static void tally_add(tally *sum, const tally *t)
{
    sum->ok += t->ok, sum->busy += t->busy, sum->wrong += t->wrong, sum->unnamed += t->unnamed;
    if (!sum->other && t->other) memcpy(sum->first_other, t->first_other, sizeof t->first_other);
    sum->other += t->other;
}

/* ---- small ops: y = a + b, on tensors of its own per thread ---- */

typedef struct vec_job {
    clf_context *ctx;
    clf_tensor a, b, y; /* (VEC_N) f32 */
    const float *ref;   /* (VEC_N): the single-thread result */
    float out[VEC_N];
    hold *h;            /* set: this thread is the holder */
    double seconds;     /* > 0: passes until then, else one pass */
    tally t;
} vec_job;

/* One pass: poison y, y = a + b, read y. A refused call ends the pass. */
static void vec_pass(vec_job *j)
{
    clf_status st = clf_tensor_fill(j->ctx, &j->y, NAN);
    if (st == CLF_OK) st = clf_add(j->ctx, &j->a, &j->b, &j->y);
    if (st == CLF_OK) st = clf_tensor_read_f32(j->ctx, &j->y, j->out, VEC_N);
    count_status(&j->t, j->ctx, st);
    if (st != CLF_OK) return;
    if (memcmp(j->out, j->ref, sizeof j->out) != 0)
        j->t.wrong++;
    else
        j->t.ok++;
}

static void *vec_thread(void *arg)
{
    vec_job *j = arg;
    if (j->h) {
        is_holder = true;
        atomic_store(&j->h->armed, 1);
    }
    double end = clft_now() + j->seconds;
    do
        vec_pass(j);
    while (clft_now() < end);
    return NULL;
}

static void vec_setup(vec_job *j, clf_context *ctx, clft_rng *r, const float *ref)
{
    memset(j, 0, sizeof *j);
    j->ctx = ctx;
    j->ref = ref;
    int64_t n = VEC_N;
    float host[VEC_N];
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->a), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->b), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->y), CLF_OK);
    clft_rng rr = *r;
    clft_fill_uniform(&rr, host, VEC_N, -1, 1);
    cr_assert_eq(clf_tensor_write_f32(ctx, &j->a, host, VEC_N), CLF_OK);
    clft_fill_uniform(&rr, host, VEC_N, -1, 1);
    cr_assert_eq(clf_tensor_write_f32(ctx, &j->b, host, VEC_N), CLF_OK);
}

static void vec_free(vec_job *j)
{
    clf_tensor_free(&j->a);
    clf_tensor_free(&j->b);
    clf_tensor_free(&j->y);
}

/* Held rounds: a thread is kept inside ctx (in its first call of a pass)
 * while this thread makes a pass; then HAMMER_THREADS threads make passes at
 * once for HAMMER_SECONDS. Every job uses the same inputs, so one reference
 * serves all. */
Test(threads, one_context_used_by_two_threads_is_refused_not_corrupted, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng r = clft_rng_make(seed, 1);
        static float ref[VEC_N];
        vec_job *jobs = calloc(HAMMER_THREADS + 1, sizeof *jobs);
        /* The single-thread reference, checked against the host's sums. */
        vec_setup(&jobs[0], ctx, &r, ref);
        jobs[0].ref = ref;
        memset(ref, 0xff, sizeof ref);
        vec_pass(&jobs[0]);
        memcpy(ref, jobs[0].out, sizeof ref);
        memset(&jobs[0].t, 0, sizeof jobs[0].t);
        {
            float a[VEC_N], b[VEC_N];
            clft_rng rr = r;
            clft_fill_uniform(&rr, a, VEC_N, -1, 1);
            clft_fill_uniform(&rr, b, VEC_N, -1, 1);
            for (int i = 0; i < VEC_N; i++)
                cr_assert_eq(ref[i], a[i] + b[i], "%s seed %llu: single-thread y[%d] = %g, "
                             "expected %g", specs_[d_], (unsigned long long)seed, i, ref[i],
                             a[i] + b[i]);
        }
        for (int i = 1; i <= HAMMER_THREADS; i++) vec_setup(&jobs[i], ctx, &r, ref);

        hold h = {.obj = ctx};
        sem_init(&h.inside, 0, 0);
        sem_init(&h.tried, 0, 0);
        clf__owner_test_hook(hold_hook, &h);
        tally held = {0}, refused = {0}, hammer = {0};
        int rounds = 0;
        for (; rounds < HELD_ROUNDS; rounds++) {
            vec_job *a = &jobs[1], *b = &jobs[2];
            a->h = &h;
            a->seconds = 0;
            memset(&a->t, 0, sizeof a->t);
            memset(&b->t, 0, sizeof b->t);
            pthread_t t;
            cr_assert_eq(pthread_create(&t, NULL, vec_thread, a), 0);
            bool inside = sem_wait_s(&h.inside, 2.0);
            vec_pass(b); /* refused while a is inside */
            if (inside) sem_post(&h.tried);
            pthread_join(t, NULL);
            a->h = NULL;
            tally_add(&held, &a->t);
            tally_add(&refused, &b->t);
            if (!inside) break;
        }
        clf__owner_test_hook(NULL, NULL);

        pthread_t t[HAMMER_THREADS];
        for (int i = 0; i < HAMMER_THREADS; i++) {
            jobs[1 + i].seconds = HAMMER_SECONDS;
            memset(&jobs[1 + i].t, 0, sizeof jobs[1 + i].t);
            cr_assert_eq(pthread_create(&t[i], NULL, vec_thread, &jobs[1 + i]), 0);
        }
        for (int i = 0; i < HAMMER_THREADS; i++) {
            pthread_join(t[i], NULL);
            tally_add(&hammer, &jobs[1 + i].t);
        }
        cr_log_info("%s: %d held rounds: holder %ld ok %ld wrong, other thread %ld refused "
                    "%ld ok; %d threads x %.1f s on one context: %ld passes ok, %ld refused "
                    "calls, %ld wrong results, %ld other failures",
                    specs_[d_], rounds, held.ok, held.wrong, refused.busy, refused.ok,
                    HAMMER_THREADS, HAMMER_SECONDS, hammer.ok, hammer.busy, hammer.wrong,
                    hammer.other);
        cr_assert_eq(held.wrong + refused.wrong + hammer.wrong, 0,
                     "%s seed %llu: %ld results of y = a + b (%d floats) differ from the "
                     "single-thread result", specs_[d_], (unsigned long long)seed,
                     held.wrong + refused.wrong + hammer.wrong, VEC_N);
        cr_assert_eq(held.other + refused.other + hammer.other, 0, "%s: a call failed: %s",
                     specs_[d_], held.other ? held.first_other
                                 : refused.other ? refused.first_other : hammer.first_other);
        cr_assert_eq(rounds, HELD_ROUNDS,
                     "%s: the holder thread was never kept inside the context: is the thread "
                     "check off (CLFORMER_THREAD_CHECK=0)?", specs_[d_]);
        cr_assert_eq(held.ok, HELD_ROUNDS, "%s: the holder's passes must all succeed",
                     specs_[d_]);
        cr_assert_eq(refused.busy, HELD_ROUNDS,
                     "%s: a call from a second thread while another was inside the context "
                     "must be CLF_ERR_BUSY (%ld of %d were)", specs_[d_], refused.busy,
                     HELD_ROUNDS);
        cr_assert_eq(held.unnamed + refused.unnamed + hammer.unnamed, 0,
                     "%s: a refusal's message (clf_context_last_error of the context and of "
                     "NULL, on the refused thread) does not name the rule", specs_[d_]);
        cr_assert_gt(hammer.ok, 0, "%s: no pass of the hammering threads succeeded", specs_[d_]);

        /* Released: this thread uses the context again, and its last error
         * is the context's own again. */
        vec_pass(&jobs[0]);
        cr_assert_eq(jobs[0].t.ok, 1, "%s: after the threads, a pass on the context failed",
                     specs_[d_]);
        cr_assert_eq(strstr(clf_context_last_error(ctx), "one thread at a time"), NULL,
                     "%s: the refusal is still this thread's last error of the context after "
                     "a successful call", specs_[d_]);
        for (int i = 0; i <= HAMMER_THREADS; i++) vec_free(&jobs[i]);
        free(jobs);
        sem_destroy(&h.inside);
        sem_destroy(&h.tried);
    }
}
