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
#define RULE_TEXT "used by one thread at a time"

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

/* Keeps the thread marked as holder inside obj at its next outermost enter
 * of obj, until the other thread has made its calls (or 2 s passed). */
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

/* What threads saw. */
typedef struct tally {
    long ok;      /* passes whose every call returned CLF_OK, result checked */
    long busy;    /* calls refused with CLF_ERR_BUSY */
    long wrong;   /* passes with a result that differs from the reference */
    long other;   /* calls that failed otherwise */
    long unnamed; /* refusals whose message does not name the rule */
    char first_other[512];
} tally;

/* Counts st; a refusal's message must name the rule, on the refused
 * thread, in both places it is documented: clf_context_last_error of the
 * context and of NULL. */
static void count_status(tally *t, clf_context *ctx, clf_status st)
{
    if (st == CLF_ERR_BUSY) {
        t->busy++;
        if (!strstr(clf_context_last_error(ctx), RULE_TEXT) ||
            !strstr(clf_context_last_error(NULL), RULE_TEXT))
            t->unnamed++;
    } else if (st != CLF_OK && !t->other++) {
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

/* One thread's work: pass() makes one pass of calls, counts them in t and
 * checks the result against the single-thread reference. */
typedef struct job {
    void (*pass)(struct job *j);
    hold *h;        /* set: this thread is the holder */
    double seconds; /* > 0: passes until then, else one pass */
    tally t;
} job;

static void *job_thread(void *arg)
{
    job *j = arg;
    if (j->h) {
        is_holder = true;
        atomic_store(&j->h->armed, 1);
    }
    double end = clft_now() + j->seconds;
    do
        j->pass(j);
    while (clft_now() < end);
    return NULL;
}

typedef struct rule_run {
    const char *what; /* for messages: the device and the scenario */
    uint64_t seed;
    int rounds;       /* held rounds that held */
    tally held, refused, hammer;
} rule_run;

/* HELD_ROUNDS rounds in which jobs[0] runs one pass in a thread kept inside
 * hold_obj (in its first call) while this thread runs jobs[1]'s pass (which
 * must be refused); then HAMMER_THREADS threads run jobs[0..) passes at once
 * for HAMMER_SECONDS. Checks what the rule promises. */
static void rule_check(rule_run *r, const void *hold_obj, job *const *jobs)
{
    hold h = {.obj = hold_obj};
    sem_init(&h.inside, 0, 0);
    sem_init(&h.tried, 0, 0);
    clf__owner_test_hook(hold_hook, &h);
    for (r->rounds = 0; r->rounds < HELD_ROUNDS; r->rounds++) {
        job *a = jobs[0], *b = jobs[1];
        a->h = &h;
        a->seconds = 0;
        memset(&a->t, 0, sizeof a->t);
        memset(&b->t, 0, sizeof b->t);
        pthread_t t;
        cr_assert_eq(pthread_create(&t, NULL, job_thread, a), 0);
        bool inside = sem_wait_s(&h.inside, 2.0);
        b->pass(b); /* refused while a is inside */
        if (inside) sem_post(&h.tried);
        pthread_join(t, NULL);
        a->h = NULL;
        tally_add(&r->held, &a->t);
        tally_add(&r->refused, &b->t);
        if (!inside) break;
    }
    clf__owner_test_hook(NULL, NULL);
    sem_destroy(&h.inside);
    sem_destroy(&h.tried);

    pthread_t t[HAMMER_THREADS];
    for (int i = 0; i < HAMMER_THREADS; i++) {
        jobs[i]->seconds = HAMMER_SECONDS;
        memset(&jobs[i]->t, 0, sizeof jobs[i]->t);
        cr_assert_eq(pthread_create(&t[i], NULL, job_thread, jobs[i]), 0);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) {
        pthread_join(t[i], NULL);
        tally_add(&r->hammer, &jobs[i]->t);
    }

    cr_log_info("%s: %d held rounds: holder %ld ok %ld wrong, other thread %ld refused calls "
                "%ld ok; %d threads x %.1f s at once: %ld passes ok, %ld refused calls, %ld "
                "wrong results, %ld other failures",
                r->what, r->rounds, r->held.ok, r->held.wrong, r->refused.busy, r->refused.ok,
                HAMMER_THREADS, HAMMER_SECONDS, r->hammer.ok, r->hammer.busy, r->hammer.wrong,
                r->hammer.other);
    long wrong = r->held.wrong + r->refused.wrong + r->hammer.wrong;
    cr_assert_eq(wrong, 0, "%s seed %llu: %ld results differ from the single-thread result",
                 r->what, (unsigned long long)r->seed, wrong);
    const tally *o = r->held.other ? &r->held : r->refused.other ? &r->refused : &r->hammer;
    cr_assert_eq(o->other, 0, "%s: a call failed: %s", r->what, o->first_other);
    cr_assert_eq(r->rounds, HELD_ROUNDS,
                 "%s: the holder thread was never kept inside the context: is the thread "
                 "check off (CLFORMER_THREAD_CHECK=0)?",
                 r->what);
    cr_assert_eq(r->held.ok, HELD_ROUNDS, "%s: the holder's passes must all succeed", r->what);
    cr_assert_geq(r->refused.busy, HELD_ROUNDS,
                  "%s: a call from a second thread while another was inside must be "
                  "CLF_ERR_BUSY (%ld calls were, in %d rounds)",
                  r->what, r->refused.busy, HELD_ROUNDS);
    cr_assert_eq(r->refused.ok, 0, "%s: a pass ran while another thread was inside", r->what);
    long unnamed = r->held.unnamed + r->refused.unnamed + r->hammer.unnamed;
    cr_assert_eq(unnamed, 0,
                 "%s: %ld refusals' messages (clf_context_last_error of the context and of "
                 "NULL, on the refused thread) do not say \"" RULE_TEXT "\"",
                 r->what, unnamed);
    cr_assert_gt(r->hammer.ok, 0, "%s: no pass of the hammering threads succeeded", r->what);
}

/* ---- small ops: y = a + b, on tensors of its own per thread ---- */

typedef struct vec_job {
    job j; /* first: a job * is a vec_job * */
    clf_context *ctx;
    clf_tensor a, b, y; /* (VEC_N) f32 */
    const float *ref;   /* (VEC_N): the single-thread result */
    float out[VEC_N];
} vec_job;

/* One pass: poison y, y = a + b, read y. A refused call ends the pass. */
static void vec_pass(job *jj)
{
    vec_job *j = (vec_job *)jj;
    clf_status st = clf_tensor_fill(j->ctx, &j->y, NAN);
    if (st == CLF_OK) st = clf_add(j->ctx, &j->a, &j->b, &j->y);
    if (st == CLF_OK) st = clf_tensor_read_f32(j->ctx, &j->y, j->out, VEC_N);
    count_status(&j->j.t, j->ctx, st);
    if (st != CLF_OK) return;
    if (memcmp(j->out, j->ref, sizeof j->out) != 0)
        j->j.t.wrong++;
    else
        j->j.t.ok++;
}

/* Every job gets the same inputs (from r), so one reference serves all. */
static void vec_setup(vec_job *j, clf_context *ctx, clft_rng r, const float *ref)
{
    memset(j, 0, sizeof *j);
    j->j.pass = vec_pass;
    j->ctx = ctx;
    j->ref = ref;
    int64_t n = VEC_N;
    float host[VEC_N];
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->a), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->b), CLF_OK);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, &n, &j->y), CLF_OK);
    clft_fill_uniform(&r, host, VEC_N, -1, 1);
    cr_assert_eq(clf_tensor_write_f32(ctx, &j->a, host, VEC_N), CLF_OK);
    clft_fill_uniform(&r, host, VEC_N, -1, 1);
    cr_assert_eq(clf_tensor_write_f32(ctx, &j->b, host, VEC_N), CLF_OK);
}

static void vec_free(vec_job *j)
{
    clf_tensor_free(&j->a);
    clf_tensor_free(&j->b);
    clf_tensor_free(&j->y);
}

Test(threads, one_context_used_by_two_threads_is_refused_not_corrupted, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_EACH_DEVICE(ctx)
    {
        clft_rng r = clft_rng_make(seed, 1);
        static float ref[VEC_N], a[VEC_N], b[VEC_N];
        vec_job *vj = calloc(HAMMER_THREADS + 1, sizeof *vj);
        job *jobs[HAMMER_THREADS];
        for (int i = 0; i <= HAMMER_THREADS; i++) vec_setup(&vj[i], ctx, r, ref);
        for (int i = 0; i < HAMMER_THREADS; i++) jobs[i] = &vj[1 + i].j;
        /* The single-thread reference (vj[0], this thread), checked against
         * the host's sums. */
        vec_pass(&vj[0].j);
        memcpy(ref, vj[0].out, sizeof ref);
        clft_fill_uniform(&r, a, VEC_N, -1, 1);
        clft_fill_uniform(&r, b, VEC_N, -1, 1);
        for (int i = 0; i < VEC_N; i++)
            cr_assert_eq(ref[i], a[i] + b[i], "%s seed %llu: single-thread y[%d] = %g, not %g",
                         specs_[d_], (unsigned long long)seed, i, ref[i], a[i] + b[i]);

        char what[96];
        snprintf(what, sizeof what, "%.31s, y = a + b", specs_[d_]);
        rule_run run = {.what = what, .seed = seed};
        rule_check(&run, ctx, jobs);

        /* Released: this thread uses the context again, and its last error
         * of the context is no longer its refusal. */
        memset(&vj[0].j.t, 0, sizeof vj[0].j.t);
        vec_pass(&vj[0].j);
        cr_assert_eq(vj[0].j.t.ok, 1, "%s: after the threads, a pass on the context failed",
                     what);
        cr_assert_eq(strstr(clf_context_last_error(ctx), RULE_TEXT), NULL,
                     "%s: the refusal is still this thread's last error of the context after "
                     "a successful call",
                     what);
        for (int i = 0; i <= HAMMER_THREADS; i++) vec_free(&vj[i]);
        free(vj);
    }
}

/* ---- a model: encodes of one batch, by threads sharing the model ---- */

enum { ENC_B = 2, ENC_S = 8 };

typedef struct enc_job {
    job j;
    clf_model *m;
    clf_context *ctx;     /* the model's context (its last error) */
    clf_tensor direct;    /* buffer set: first fill this tensor (a context the model uses) */
    const float *ref;     /* (ENC_B, ENC_S, D): the single-thread hidden states */
    float *out;           /* (ENC_B, ENC_S, D) */
    size_t n;             /* ENC_B * ENC_S * D */
} enc_job;

static const int32_t enc_ids[ENC_B * ENC_S] = {1, 7, 9, 3, 30, 4, 12, 2, 1, 44, 5, 6, 2, 0, 0, 0};
static const int32_t enc_lens[ENC_B] = {8, 5};

static void enc_pass(job *jj)
{
    enc_job *j = (enc_job *)jj;
    if (j->direct.buffer) {
        clf_context *dctx = clf_buffer_context(j->direct.buffer);
        count_status(&j->j.t, dctx, clf_tensor_fill(dctx, &j->direct, 1.0f));
    }
    for (size_t i = 0; i < j->n; i++) j->out[i] = NAN;
    clf_status st = clf_model_encode(j->m, enc_ids, enc_lens, ENC_B, ENC_S, CLF_POOL_DEFAULT,
                                     j->out, NULL, NULL);
    count_status(&j->j.t, j->ctx, st);
    if (st != CLF_OK) return;
    if (memcmp(j->out, j->ref, j->n * sizeof *j->out) != 0)
        j->j.t.wrong++;
    else
        j->j.t.ok++;
}

/* The rule check on model m (on ctx, its encoder on ectx): the holder is
 * kept inside hold_obj; with direct set, the refused thread first uses a
 * tensor of direct's context itself. */
static void model_rule_check(const char *what, clf_model *m, clf_context *ctx,
                             const void *hold_obj, clf_context *direct)
{
    int64_t D = clf_model_get_config(m)->d_model;
    size_t n = (size_t)(ENC_B * ENC_S * D);
    float *ref = malloc(n * sizeof *ref);
    enc_job ej[HAMMER_THREADS + 1];
    job *jobs[HAMMER_THREADS];
    for (int i = 0; i <= HAMMER_THREADS; i++) {
        ej[i] = (enc_job){.j.pass = enc_pass, .m = m, .ctx = ctx, .ref = ref, .n = n};
        ej[i].out = malloc(n * sizeof *ej[i].out);
    }
    for (int i = 0; i < HAMMER_THREADS; i++) jobs[i] = &ej[1 + i].j;
    cr_assert_eq(clf_model_encode(m, enc_ids, enc_lens, ENC_B, ENC_S, CLF_POOL_DEFAULT, ref,
                                  NULL, NULL),
                 CLF_OK, "%s: single-thread encode: %s", what, clf_context_last_error(ctx));
    for (size_t i = 0; i < n; i++)
        cr_assert(isfinite(ref[i]), "%s: single-thread hidden[%zu] = %g", what, i, ref[i]);
    if (direct) {
        int64_t four = 4;
        cr_assert_eq(clf_tensor_create(direct, CLF_F32, 1, &four, &ej[2].direct), CLF_OK);
    }
    rule_run run = {.what = what};
    rule_check(&run, hold_obj, jobs);
    clf_tensor_free(&ej[2].direct);
    for (int i = 0; i <= HAMMER_THREADS; i++) free(ej[i].out);
    free(ref);
}

static clf_model_config tiny_config(clf_model_kind kind)
{
    clf_model_config c;
    cr_assert_eq(clf_model_config_preset("tiny", &c), CLF_OK);
    if (kind == CLF_MODEL_ENCODER) c.decoder_layers = 0;
    if (kind != CLF_MODEL_DECODER) c.encoder_layers = 1, c.encoder_final_norm = true;
    c.kind = kind;
    return c;
}

/* A model is used by the thread that uses its context: two threads encoding
 * with one model (its context otherwise idle) are refused, not corrupted. */
Test(threads, one_model_used_by_two_threads_is_refused_not_corrupted, .timeout = 300)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        clf_context *ctx = clft_model_context(specs[d]);
        clf_model_config c = tiny_config(CLF_MODEL_ENCODER);
        clf_model_params p = clf_model_params_default();
        p.max_batch = ENC_B;
        p.max_source_len = 16;
        clf_model *m = NULL;
        cr_assert_eq(clf_model_create_random(ctx, &c, &p, 5, &m), CLF_OK, "%s: %s", specs[d],
                     clf_context_last_error(ctx));
        char what[96];
        snprintf(what, sizeof what, "%.31s, encoder model", specs[d]);
        model_rule_check(what, m, ctx, ctx, NULL);
        clf_model_free(m);
        clf_context_free(ctx);
    }
}

/* A model placed on two contexts (encoder on ectx) holds both while it
 * runs: a thread kept inside it (holding ectx, entered second) refuses
 * another thread's use of ectx itself and of the model. */
Test(threads, model_on_two_contexts_holds_both, .timeout = 300)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        clf_context *ctx = clft_model_context(specs[d]), *ectx = clft_model_context(specs[d]);
        clf_model_config c = tiny_config(CLF_MODEL_ENCODER_DECODER);
        clf_model_params p = clf_model_params_default();
        p.max_batch = ENC_B;
        p.max_source_len = 16;
        p.max_target_len = 16;
        p.encoder_ctx = ectx;
        clf_model *m = NULL;
        cr_assert_eq(clf_model_create_random(ctx, &c, &p, 6, &m), CLF_OK, "%s: %s", specs[d],
                     clf_context_last_error(ctx));
        char what[96];
        snprintf(what, sizeof what, "%.31s, encoder-decoder on two contexts", specs[d]);
        model_rule_check(what, m, ctx, ectx, ectx);
        clf_model_free(m);
        clf_context_free(ectx);
        clf_context_free(ctx);
    }
}
