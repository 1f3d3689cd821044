/*
 * Sessions (include/clformer/session.h): many sessions of one model on
 * separate threads give results bitwise equal to one session run alone
 * (random tiny models of the three kinds, the tiny GPT-2 and BART goldens,
 * MiniLM when CLFORMER_MINILM_DIR names it); a session freed while another
 * runs; the device bytes of a session are its caches and graph buffers only
 * (the weights stay one copy on the model's context); bad arguments.
 *
 * "Bitwise" is the claim: one device, the same graphs and kernels, so any
 * difference (a shared kernel object's argument set by another thread, a
 * scratch buffer or cache row written by another session) shows as changed
 * bits. Outputs are compared with memcmp, floats included.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hfgold.h"
#include "common/testutil.h"

#define THREADS 4
#define PER_THREAD 1 /* inputs each thread runs, in turn (CI time: the suite runs 4 times) */
#define N_IN (THREADS * PER_THREAD)
#define MAX_NEW 6
#define SEQ 7

/* One input and where its outputs go: encoder models write hidden (S, D);
 * decoders write the prompt's logits (S, V), then generate greedily with
 * scores; encoder-decoders encode (hidden) and generate. */
typedef struct task {
    int32_t ids[SEQ];
    int32_t len;
    float *f; /* (nf) float outputs */
    int32_t gen[MAX_NEW];
    float score;
} task;

typedef struct suite {
    clf_model *m;
    const clf_model_config *c;
    size_t nf; /* floats per task */
    task ref[N_IN];
} suite;

static size_t floats_of(const clf_model_config *c)
{
    return (size_t)SEQ * (size_t)(c->kind == CLF_MODEL_DECODER ? c->vocab : c->d_model);
}

/* Runs t on session s (or the model's own calls when s is NULL). */
static clf_status run_task(clf_model *m, clf_session *s, task *t)
{
    const clf_model_config *c = clf_model_get_config(m);
    clf_status st = CLF_OK;
    if (c->kind != CLF_MODEL_DECODER) {
        st = s ? clf_session_encode(s, t->ids, &t->len, 1, SEQ, CLF_POOL_NONE, t->f, NULL, NULL)
               : clf_model_encode(m, t->ids, &t->len, 1, SEQ, CLF_POOL_NONE, t->f, NULL, NULL);
        if (st != CLF_OK || c->kind == CLF_MODEL_ENCODER) return st;
    } else {
        st = s ? clf_session_decode(s, t->ids, 1, SEQ, 0, t->f, NULL)
               : clf_model_decode(m, t->ids, 1, SEQ, 0, t->f, NULL);
        if (st != CLF_OK) return st;
    }
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = MAX_NEW;
    gp.ignore_eos = true;
    clf_generate_output go = {t->gen, NULL, &t->score, NULL, NULL};
    const int32_t *lens = c->kind == CLF_MODEL_DECODER ? NULL : &t->len;
    return s ? clf_session_generate(s, t->ids, lens, 1, SEQ, &gp, &go)
             : clf_model_generate(m, t->ids, lens, 1, SEQ, &gp, &go);
}

static void task_alloc(task *t, size_t nf)
{
    t->f = malloc(nf * sizeof *t->f);
    cr_assert(t->f);
    clft_poison(t->f, nf);
    memset(t->gen, 0xff, sizeof t->gen);
    t->score = 0;
}

/* Random inputs and their outputs from one session, run alone. */
static void suite_init(suite *su, clf_model *m, uint64_t seed)
{
    su->m = m;
    su->c = clf_model_get_config(m);
    su->nf = floats_of(su->c);
    clft_rng r = clft_rng_make(seed, 7);
    clf_session *s = NULL;
    cr_assert_eq(clf_session_create(m, NULL, &s), CLF_OK, "session: %s",
                 clf_session_last_error(NULL));
    for (int i = 0; i < N_IN; i++) {
        task *t = &su->ref[i];
        for (int k = 0; k < SEQ; k++)
            t->ids[k] = (int32_t)(3 + clft_next(&r) % (uint64_t)(su->c->vocab - 3));
        t->len = (int32_t)(SEQ - (int)(clft_next(&r) % 3));
        task_alloc(t, su->nf);
        clf_status st = run_task(m, s, t);
        cr_assert_eq(st, CLF_OK, "reference input %d (seed %llu): %s", i, (unsigned long long)seed,
                     clf_session_last_error(s));
    }
    clf_session_free(s);
}

static void suite_free(suite *su)
{
    for (int i = 0; i < N_IN; i++)
        free(su->ref[i].f);
}

/* Whether out's results are bitwise those of ref; what differs goes to why. */
static bool same(const suite *su, const task *out, const task *ref, char *why, size_t size)
{
    if (memcmp(out->f, ref->f, su->nf * sizeof *out->f) != 0) {
        size_t k = 0;
        while (k < su->nf && memcmp(&out->f[k], &ref->f[k], sizeof *out->f) == 0)
            k++;
        snprintf(why, size, "float output %zu: %.9g, alone %.9g", k, out->f[k], ref->f[k]);
        return false;
    }
    if (su->c->kind == CLF_MODEL_ENCODER) return true;
    if (memcmp(out->gen, ref->gen, sizeof out->gen) != 0 ||
        memcmp(&out->score, &ref->score, sizeof out->score) != 0) {
        snprintf(why, size, "generated ids or score differ (score %.9g, alone %.9g)", out->score,
                 ref->score);
        return false;
    }
    return true;
}

typedef struct worker {
    suite *su;
    clf_session *s; /* NULL: the model's own calls */
    int first;      /* the inputs first, first + THREADS, ... */
    int reps;
    pthread_barrier_t *go;
    atomic_int *started; /* runs done, when not NULL */
    atomic_int *stop;    /* when not NULL: keep running past reps until it is set */
    char fail[600];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    if (w->go) pthread_barrier_wait(w->go);
    task t;
    task_alloc(&t, w->su->nf);
    for (int rep = 0; (rep < w->reps || (w->stop && !atomic_load(w->stop))) && !w->fail[0]; rep++) {
        int i = (w->first + rep * THREADS) % N_IN;
        clft_poison(t.f, w->su->nf);
        memcpy(t.ids, w->su->ref[i].ids, sizeof t.ids);
        t.len = w->su->ref[i].len;
        clf_status st = run_task(w->su->m, w->s, &t);
        if (w->started) atomic_fetch_add(w->started, 1);
        char why[300];
        if (st != CLF_OK)
            snprintf(w->fail, sizeof w->fail, "input %d: %s: %s", i, clf_status_name(st),
                     w->s ? clf_session_last_error(w->s) : clf_context_last_error(NULL));
        else if (!same(w->su, &t, &w->su->ref[i], why, sizeof why))
            snprintf(w->fail, sizeof w->fail, "input %d: %s", i, why);
    }
    free(t.f);
    return NULL;
}

/* THREADS threads, each with its own session, and one more on the model's
 * own calls, all started together: every result bitwise equal to the lone
 * session's. */
static void threads_match(suite *su, const char *what, uint64_t seed)
{
    worker w[THREADS + 1];
    pthread_t th[THREADS + 1];
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, THREADS + 1);
    for (int i = 0; i <= THREADS; i++) {
        w[i] = (worker){su, NULL, i, PER_THREAD, &go, NULL, NULL, ""};
        if (i < THREADS)
            cr_assert_eq(clf_session_create(su->m, NULL, &w[i].s), CLF_OK, "%s: %s", what,
                         clf_session_last_error(NULL));
        pthread_create(&th[i], NULL, work, &w[i]);
    }
    for (int i = 0; i <= THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&go);
    for (int i = 0; i <= THREADS; i++) {
        clf_session_free(w[i].s);
        cr_assert(!w[i].fail[0], "%s (seed %llu), thread %d (%s): %s", what,
                  (unsigned long long)seed, i, i < THREADS ? "own session" : "model's calls",
                  w[i].fail);
    }
    cr_log_info("[session] %s: %d threads x sessions + the model's calls, %d inputs each: "
                "bitwise equal to one session alone",
                what, THREADS, PER_THREAD);
}

static clf_model_config tiny(clf_model_kind kind)
{
    clf_model_config c;
    cr_assert_eq(clf_model_config_preset("tiny", &c), CLF_OK);
    c.kind = kind;
    c.decoder_layers = kind == CLF_MODEL_ENCODER ? 0 : 2;
    if (kind != CLF_MODEL_DECODER) c.encoder_layers = 2, c.encoder_final_norm = true;
    return c;
}

static clf_model *random_model(clf_context *ctx, clf_model_kind kind, clf_context *ectx,
                               uint64_t seed)
{
    clf_model_config c = tiny(kind);
    clf_model_params p = clf_model_params_default();
    p.max_batch = 2;
    p.max_source_len = 16;
    p.max_target_len = 16;
    p.encoder_ctx = ectx;
    clf_model *m = NULL;
    cr_assert_eq(clf_model_create_random(ctx, &c, &p, seed, &m), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    return m;
}

Test(session, threads_x_sessions_bitwise_equal_one_session_random_models, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        static const clf_model_kind kinds[] = {CLF_MODEL_ENCODER, CLF_MODEL_DECODER,
                                               CLF_MODEL_ENCODER_DECODER};
        static const char *const names[] = {"encoder", "decoder", "encoder-decoder"};
        for (int k = 0; k < 3; k++) {
            clf_model *m = random_model(ctx, kinds[k], NULL, seed + (uint64_t)k);
            suite su;
            suite_init(&su, m, seed);
            /* The model's own calls give the same bits as a session. */
            task t;
            task_alloc(&t, su.nf);
            memcpy(t.ids, su.ref[0].ids, sizeof t.ids);
            t.len = su.ref[0].len;
            cr_assert_eq(run_task(m, NULL, &t), CLF_OK, "%s", clf_context_last_error(ctx));
            char why[300], what[160];
            cr_assert(same(&su, &t, &su.ref[0], why, sizeof why),
                      "%s %s: the model's calls vs a session: %s", specs_[d_], names[k], why);
            free(t.f);
            snprintf(what, sizeof what, "%.31s random %s", specs_[d_], names[k]);
            threads_match(&su, what, seed);
            suite_free(&su);
            clf_model_free(m);
        }
    }
}

/* An encoder-decoder placed on two contexts (encoder on the second): its
 * sessions fork both and still match one session alone. */
Test(session, split_placement_sessions_bitwise_equal, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_context *ectx = clft_model_context(specs_[d_]);
        clf_model *m = random_model(ctx, CLF_MODEL_ENCODER_DECODER, ectx, seed);
        suite su;
        suite_init(&su, m, seed);
        char what[160];
        snprintf(what, sizeof what, "%.31s encoder-decoder placed on two contexts", specs_[d_]);
        threads_match(&su, what, seed);
        suite_free(&su);
        clf_model_free(m);
        clf_context_free(ectx);
    }
}

Test(session, threads_x_sessions_bitwise_equal_gpt2_and_bart_goldens, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        static const char *const names[] = {"gpt2", "bart"};
        for (int k = 0; k < 2; k++) {
            clf_model *m = clft_hf_load(ctx, clft_hf_folder(names[k]), 2, 16, 16);
            suite su;
            suite_init(&su, m, seed);
            char what[160];
            snprintf(what, sizeof what, "%.31s %s golden", specs_[d_], names[k]);
            threads_match(&su, what, seed);
            suite_free(&su);
            clf_model_free(m);
        }
    }
}

/* One thread generates on its session in a loop while the main thread
 * creates, runs and frees other sessions of the same model. */
Test(session, session_freed_while_another_runs, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = random_model(ctx, CLF_MODEL_ENCODER_DECODER, NULL, seed);
        suite su;
        suite_init(&su, m, seed);
        /* w[0] on its own session, w[1] on the model's own calls: the
         * sessions below are created, run and freed while both run. */
        atomic_int started = 0, stop = 0;
        worker w[2] = {{&su, NULL, 0, N_IN, NULL, &started, &stop, ""},
                       {&su, NULL, 1, N_IN, NULL, &started, &stop, ""}};
        cr_assert_eq(clf_session_create(m, NULL, &w[0].s), CLF_OK, "%s",
                     clf_session_last_error(NULL));
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&th[i], NULL, work, &w[i]);
        while (atomic_load(&started) < 2)
            sched_yield();
        int overlapped = 0;
        for (int i = 0; i < 3; i++) {
            int before = atomic_load(&started);
            clf_session *s = NULL;
            cr_assert_eq(clf_session_create(m, NULL, &s), CLF_OK, "%s",
                         clf_session_last_error(NULL));
            task t;
            task_alloc(&t, su.nf);
            memcpy(t.ids, su.ref[i].ids, sizeof t.ids);
            t.len = su.ref[i].len;
            cr_assert_eq(run_task(m, s, &t), CLF_OK, "%s", clf_session_last_error(s));
            char why[300];
            cr_assert(same(&su, &t, &su.ref[i], why, sizeof why), "short-lived session %d: %s", i,
                      why);
            free(t.f);
            clf_session_free(s);
            overlapped += atomic_load(&started) > before; /* the others ran meanwhile */
        }
        atomic_store(&stop, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        clf_session_free(w[0].s);
        for (int i = 0; i < 2; i++)
            cr_assert(!w[i].fail[0], "%s (seed %llu): the thread on %s: %s", specs_[d_],
                      (unsigned long long)seed, i ? "the model's calls" : "its session", w[i].fail);
        cr_log_info("[session] %s: 3 sessions created, run and freed while one thread ran its "
                    "session and another the model's own calls (they finished runs during %d of "
                    "the 3); their %d results bitwise equal to one session alone",
                    specs_[d_], overlapped, atomic_load(&started));
        suite_free(&su);
        clf_model_free(m);
    }
}

/* Device bytes: creating and running sessions adds nothing to the model's
 * context (weights one copy), and a session's own allocations are its caches
 * (sized here from the config) and its graphs' arena and buffers, with the
 * same graph figures as the model's own state for the same maxima. */
Test(session, memory_per_session_is_its_caches_and_graphs, .timeout = 300)
{
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = random_model(ctx, CLF_MODEL_ENCODER_DECODER, NULL, seed);
        const clf_model_config *c = clf_model_get_config(m);
        suite su;
        suite_init(&su, m, seed);
        task t;
        task_alloc(&t, su.nf);
        memcpy(t.ids, su.ref[0].ids, sizeof t.ids);
        t.len = su.ref[0].len;
        cr_assert_eq(run_task(m, NULL, &t), CLF_OK, "%s", clf_context_last_error(ctx));
        size_t before = 0, after = 0, arena[3] = {0, 0, 0};
        clf_context_memory(ctx, NULL, &before, NULL);
        for (int w = 0; w < 3; w++)
            clf_model_memory(m, w, &arena[w], NULL, NULL);
        size_t want_arena = arena[0] + arena[1] + arena[2]; /* encoder, step, cross */
        enum { N = 3 };
        clf_session *s[N];
        clf_session_memory_info mi[N];
        for (int i = 0; i < N; i++) {
            cr_assert_eq(clf_session_create(m, NULL, &s[i]), CLF_OK, "%s",
                         clf_session_last_error(NULL));
            cr_assert_eq(run_task(m, s[i], &t), CLF_OK, "%s", clf_session_last_error(s[i]));
            clf_session_memory(s[i], &mi[i]);
        }
        clf_context_memory(ctx, NULL, &after, NULL);
        cr_assert_eq(after, before,
                     "%s: the model's context holds %zu bytes before %d sessions, "
                     "%zu after",
                     specs_[d_], before, N, after);
        /* (2L, max_batch, cap, D) f32 self and cross caches, and the beam
         * source copy (max_batch * max_src, D). */
        size_t L2 = 2 * (size_t)c->decoder_layers, D = (size_t)c->d_model;
        size_t want = 4 * (L2 * 2 * 16 * D + L2 * 2 * 16 * D + 2 * 16 * D);
        size_t scratch = 0;
        for (int i = 0; i < N; i++) {
            const clf_session_memory_info *x = &mi[i];
            cr_assert_eq(x->cache_bytes, want, "%s: session %d caches %zu bytes, expected %zu",
                         specs_[d_], i, x->cache_bytes, want);
            cr_assert(x->arena_bytes == want_arena && want_arena > 0,
                      "%s: session arenas %zu bytes, the model's own graphs' %zu", specs_[d_],
                      x->arena_bytes, want_arena);
            /* Nothing else but the device error word (int[4]) of the fork. */
            cr_assert(x->other_bytes <= 16,
                      "%s: session %d has %zu device bytes outside caches, "
                      "graphs and scratch",
                      specs_[d_], i, x->other_bytes);
            cr_assert_eq(memcmp(x, &mi[0], sizeof *x), 0,
                         "%s: sessions 0 and %d differ in "
                         "memory (%zu vs %zu device bytes)",
                         specs_[d_], i, x->device_bytes, mi[0].device_bytes);
            scratch = x->scratch_bytes;
        }
        cr_log_info("[session] %s tiny encoder-decoder: model context %zu bytes with or without "
                    "%d sessions; each session %zu device bytes = caches %zu + arenas %zu + graph "
                    "io %zu + scratch %zu + other %zu; host staging %zu",
                    specs_[d_], before, N, mi[0].device_bytes, mi[0].cache_bytes, mi[0].arena_bytes,
                    mi[0].io_bytes, scratch, mi[0].other_bytes, mi[0].host_bytes);
        for (int i = 0; i < N; i++)
            clf_session_free(s[i]);
        free(t.f);
        suite_free(&su);
        clf_model_free(m);
    }
}

Test(session, bad_arguments_are_refused_with_a_message, .timeout = 120)
{
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = random_model(ctx, CLF_MODEL_DECODER, NULL, 3);
        clf_session *s = (clf_session *)&s; /* must be reset to NULL */
        cr_assert_eq(clf_session_create(NULL, NULL, &s), CLF_ERR_INVALID_ARG);
        cr_assert_null(s);
        clf_session_params p = clf_session_params_default();
        p.max_batch = 3; /* the model's is 2 */
        cr_assert_eq(clf_session_create(m, &p, &s), CLF_ERR_INVALID_ARG);
        cr_assert_null(s);
        cr_assert(strstr(clf_session_last_error(NULL), "max_batch 3 outside 0..2"), "%s",
                  clf_session_last_error(NULL));
        p.max_batch = 1;
        p.max_target_len = 8;
        cr_assert_eq(clf_session_create(m, &p, &s), CLF_OK, "%s", clf_session_last_error(NULL));
        int32_t ids[2 * 4] = {3, 4, 5, 6, 7, 8, 9, 10};
        cr_assert_eq(clf_session_decode(s, ids, 2, 4, 0, NULL, NULL), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_session_last_error(s), "b = 2"), "%s", clf_session_last_error(s));
        cr_assert_eq(clf_session_decode(s, ids, 1, 4, 5, NULL, NULL), CLF_ERR_SHAPE,
                     "position 5 + 4 > the session's max_target_len 8");
        cr_assert_eq(clf_session_encode(s, ids, NULL, 1, 4, CLF_POOL_NONE, NULL, NULL, NULL),
                     CLF_ERR_INVALID_ARG, "a decoder-only model has no encoder");
        cr_assert_eq(clf_session_generate(NULL, ids, NULL, 1, 4, NULL, NULL), CLF_ERR_INVALID_ARG);
        cr_assert_eq(clf_session_model(s), m);
        clf_session_free(s);
        clf_session_free(NULL);
        clf_model_free(m);
    }
}

/* all-MiniLM-L6-v2 (CLFORMER_MINILM_DIR): 4 threads x sessions encode
 * bitwise equal to one session, and 8 sessions' device bytes are the
 * weights once plus 8 x (arena + graph buffers + scratch). */
Test(session, minilm_sessions_share_weights_and_match_bitwise, .timeout = 300)
{
    const char *dir = getenv("CLFORMER_MINILM_DIR");
    if (!dir || !*dir) cr_skip_test("CLFORMER_MINILM_DIR is not set (tools/fetch-minilm.sh)");
    uint64_t seed = clft_seed();
    CLFT_HF_EACH_DEVICE(ctx)
    {
        clf_model *m = clft_hf_load(ctx, dir, 1, SEQ, 0);
        suite su;
        suite_init(&su, m, seed);
        char what[160];
        snprintf(what, sizeof what, "%.31s MiniLM", specs_[d_]);
        threads_match(&su, what, seed);
        size_t model_bytes = 0, total = 0;
        clf_context_memory(ctx, NULL, &model_bytes, NULL);
        size_t scratch = 0;
        clf_context_scratch_bytes(ctx, &scratch);
        enum { N = 8 };
        clf_session *s[N];
        clf_session_memory_info mi[N];
        task t;
        task_alloc(&t, su.nf);
        memcpy(t.ids, su.ref[0].ids, sizeof t.ids);
        t.len = su.ref[0].len;
        for (int i = 0; i < N; i++) {
            cr_assert_eq(clf_session_create(m, NULL, &s[i]), CLF_OK, "%s",
                         clf_session_last_error(NULL));
            cr_assert_eq(run_task(m, s[i], &t), CLF_OK, "%s", clf_session_last_error(s[i]));
            clf_session_memory(s[i], &mi[i]);
            total += mi[i].device_bytes;
        }
        size_t after = 0;
        clf_context_memory(ctx, NULL, &after, NULL);
        const clf_model_info *info = clf_model_get_info(m);
        cr_assert_eq(after, model_bytes, "%s: the model's context grew from %zu to %zu bytes",
                     specs_[d_], model_bytes, after);
        for (int i = 0; i < N; i++)
            cr_assert(mi[i].device_bytes == mi[0].device_bytes && mi[i].other_bytes <= 16,
                      "%s: session %d: %zu device bytes (%zu other), session 0 %zu", specs_[d_], i,
                      mi[i].device_bytes, mi[i].other_bytes, mi[0].device_bytes);
        cr_log_info("[session] %s MiniLM (max_batch 1, max_source_len %d): weights %zu bytes "
                    "once (model context %zu with its own state's graph); %d sessions %zu bytes = "
                    "%d x (caches %zu + arena %zu + graph io %zu + scratch %zu + other %zu)",
                    specs_[d_], SEQ, (size_t)info->weight_bytes, model_bytes, N, total, N,
                    mi[0].cache_bytes, mi[0].arena_bytes, mi[0].io_bytes, mi[0].scratch_bytes,
                    mi[0].other_bytes);
        for (int i = 0; i < N; i++)
            clf_session_free(s[i]);
        free(t.f);
        suite_free(&su);
        clf_model_free(m);
    }
}
