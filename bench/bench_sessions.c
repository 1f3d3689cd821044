/*
 * Two sessions of one model on one device (include/clformer/session.h): the
 * throughput of 2 sessions x B=1 on two threads against 1 session x B=2 on
 * one thread (and 1 x B=1 alone, for scale), interleaved round by round in
 * one process, medians after warm-up. Workloads: MiniLM encode (a
 * HuggingFace encoder folder) and greedy generation on a decoder folder
 * (the tiny GPT-2 golden by default).
 *
 *   bench_sessions [--device P:D] [--encoder DIR] [--decoder DIR] [--seq S]
 *                  [--new N] [--reps R] [--warmup W] [--sessions N]
 *
 * Prints one line per workload and configuration, and /proc/loadavg before
 * and after (the machine's load: figures on a shared machine are noisy).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>
#include "bench_stats.h"

typedef struct opts {
    const char *device, *encoder, *decoder;
    int seq, new_tokens, reps, warmup;
    int sessions; /* --sessions N: N sessions' device bytes (0 = skip) */
} opts;

typedef struct lane {
    clf_session *s;
    const clf_model_config *c;
    int64_t B;
    const opts *o;
    int32_t *ids;  /* (B, seq) */
    int32_t *out;  /* (B, new_tokens) */
    float *pooled; /* (B, D) */
    clf_status st;
    pthread_barrier_t *go, *done;
    volatile int quit;
} lane;

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void loadavg(const char *when)
{
    char buf[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(buf, sizeof buf, f)) strcpy(buf, "?\n");
        fclose(f);
    }
    printf("load average %s: %s", when, buf);
}

/* One pass of the lane's work: encode (pooled) or greedy generation. */
static clf_status pass(lane *l)
{
    if (l->c->kind == CLF_MODEL_ENCODER)
        return clf_session_encode(l->s, l->ids, NULL, l->B, l->o->seq, CLF_POOL_DEFAULT, NULL,
                                  l->pooled, NULL);
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = l->o->new_tokens;
    gp.ignore_eos = true;
    clf_generate_output go = {l->out, NULL, NULL, NULL, NULL};
    return clf_session_generate(l->s, l->ids, NULL, l->B, l->o->seq, &gp, &go);
}

static void *lane_thread(void *arg)
{
    lane *l = arg;
    for (;;) {
        pthread_barrier_wait(l->go);
        if (l->quit) return NULL;
        clf_status st = pass(l);
        if (st != CLF_OK) l->st = st;
        pthread_barrier_wait(l->done);
    }
}

static int lane_init(lane *l, const clf_model *m, int64_t B, const opts *o, unsigned seed)
{
    memset(l, 0, sizeof *l);
    l->c = clf_model_get_config(m);
    l->B = B;
    l->o = o;
    clf_session_params p = clf_session_params_default();
    p.max_batch = B;
    if (clf_session_create(m, &p, &l->s) != CLF_OK) {
        fprintf(stderr, "session: %s\n", clf_session_last_error(NULL));
        return -1;
    }
    l->ids = malloc((size_t)(B * o->seq) * sizeof *l->ids);
    l->out = malloc((size_t)(B * o->new_tokens) * sizeof *l->out);
    l->pooled = malloc((size_t)(B * l->c->d_model) * sizeof *l->pooled);
    if (!l->ids || !l->out || !l->pooled) return -1;
    for (int64_t i = 0; i < B * o->seq; i++)
        l->ids[i] =
            (int32_t)(1000 + (seed * 7919u + (unsigned)i * 104729u) % 5000u) % (int32_t)l->c->vocab;
    return 0;
}

static void lane_free(lane *l)
{
    clf_session_free(l->s);
    free(l->ids);
    free(l->out);
    free(l->pooled);
}

/* Times one round of lanes[0..n) run at once on n threads (n = 1: here). */
static double round_s(lane *lanes, int n, pthread_barrier_t *go, pthread_barrier_t *done)
{
    double t0 = now_s();
    if (n == 1) {
        clf_status st = pass(&lanes[0]);
        if (st != CLF_OK) lanes[0].st = st;
    } else {
        pthread_barrier_wait(go);
        pthread_barrier_wait(done);
    }
    return now_s() - t0;
}

/* Makes o->sessions sessions (max_batch 1), runs each once at the
 * workload's shape and prints the device bytes: the model's context (the
 * weights, once) and each session's own. */
static int memory_figures(const clf_model *m, clf_context *ctx, const opts *o)
{
    int n = o->sessions, bad = 0;
    lane *ls = calloc((size_t)n, sizeof *ls);
    size_t total = 0;
    clf_session_memory_info x;
    memset(&x, 0, sizeof x);
    for (int i = 0; ls && i < n && !bad; i++) {
        bad = lane_init(&ls[i], m, 1, o, (unsigned)i) || pass(&ls[i]) != CLF_OK;
        clf_session_memory(ls[i].s, &x);
        total += x.device_bytes;
    }
    size_t model_bytes = 0;
    clf_context_memory(ctx, NULL, &model_bytes, NULL);
    if (!bad && ls)
        printf("  memory: weights %zu bytes (model context %zu bytes: weights + its default "
               "state's caches and graphs); %d sessions (max_batch 1, seq %d) %zu bytes = %d x "
               "%zu (caches %zu + arenas %zu + graph io %zu + scratch %zu + other %zu); host "
               "staging %zu bytes per session\n",
               (size_t)clf_model_get_info(m)->weight_bytes, model_bytes, n, o->seq, total, n,
               x.device_bytes, x.cache_bytes, x.arena_bytes, x.io_bytes, x.scratch_bytes,
               x.other_bytes, x.host_bytes);
    for (int i = 0; ls && i < n; i++)
        lane_free(&ls[i]);
    free(ls);
    return bad || !ls;
}

static int workload(const char *label, const char *dir, const opts *o)
{
    clf_context_params cp = clf_context_params_default();
    cp.device = o->device;
    clf_context *ctx = NULL;
    if (clf_context_create(&cp, &ctx) != CLF_OK) {
        fprintf(stderr, "context: %s\n", clf_context_last_error(NULL));
        return 1;
    }
    clf_model_params mp = clf_model_params_default();
    mp.max_batch = 2;
    mp.max_source_len = o->seq;
    mp.max_target_len = o->seq + o->new_tokens;
    clf_model *m = NULL;
    if (clf_model_load(ctx, dir, &mp, &m) != CLF_OK) {
        fprintf(stderr, "%s: %s\n", dir, clf_context_last_error(ctx));
        clf_context_free(ctx);
        return 1;
    }
    /* a: one session, B = 2; b: two sessions, B = 1 each, two threads;
     * c: one session, B = 1 (what one stream alone takes). */
    lane a, b[2], c;
    pthread_barrier_t go, done;
    pthread_barrier_init(&go, NULL, 3);
    pthread_barrier_init(&done, NULL, 3);
    int bad = lane_init(&a, m, 2, o, 1) || lane_init(&b[0], m, 1, o, 1) ||
              lane_init(&b[1], m, 1, o, 2) || lane_init(&c, m, 1, o, 1);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        b[i].go = &go;
        b[i].done = &done;
        pthread_create(&th[i], NULL, lane_thread, &b[i]);
    }
    int R = o->reps, W = o->warmup;
    double *ta = calloc((size_t)R, sizeof *ta), *tb = calloc((size_t)R, sizeof *tb),
           *tc = calloc((size_t)R, sizeof *tc);
    for (int r = -W; !bad && r < R; r++) { /* interleaved: a, b, c each round */
        double x = round_s(&a, 1, &go, &done), y = round_s(b, 2, &go, &done),
               z = round_s(&c, 1, &go, &done);
        if (r >= 0) ta[r] = x, tb[r] = y, tc[r] = z;
    }
    b[0].quit = b[1].quit = 1;
    pthread_barrier_wait(&go);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    clf_status st = a.st ? a.st : b[0].st ? b[0].st : b[1].st ? b[1].st : c.st;
    if (!bad && st == CLF_OK) {
        qsort(ta, (size_t)R, sizeof *ta, bench_cmp_double);
        qsort(tb, (size_t)R, sizeof *tb, bench_cmp_double);
        qsort(tc, (size_t)R, sizeof *tc, bench_cmp_double);
        double ma = ta[R / 2], mb = tb[R / 2], mc = tc[R / 2];
        const char *unit = a.c->kind == CLF_MODEL_ENCODER ? "sequences" : "new tokens";
        double per = a.c->kind == CLF_MODEL_ENCODER ? 1 : o->new_tokens;
        printf("%s on %s (seq %d%s): medians of %d after %d warm-up, interleaved\n", label,
               clf_context_device(ctx)->name, o->seq,
               a.c->kind == CLF_MODEL_ENCODER ? "" : ", greedy", R, W);
        printf("  1 session  x B=2, 1 thread : %8.2f ms per 2 sequences, %8.1f %s/s\n", 1e3 * ma,
               2 * per / ma, unit);
        printf("  2 sessions x B=1, 2 threads: %8.2f ms per 2 sequences, %8.1f %s/s (%.2fx the "
               "B=2 session)\n",
               1e3 * mb, 2 * per / mb, unit, ma / mb);
        printf("  1 session  x B=1, 1 thread : %8.2f ms per sequence,    %8.1f %s/s\n", 1e3 * mc,
               per / mc, unit);
    } else if (st != CLF_OK) {
        fprintf(stderr, "%s: %s\n", label, clf_status_name(st));
        bad = 1;
    }
    if (!bad && o->sessions > 0) bad = memory_figures(m, ctx, o);
    lane_free(&a);
    lane_free(&b[0]);
    lane_free(&b[1]);
    lane_free(&c);
    free(ta);
    free(tb);
    free(tc);
    pthread_barrier_destroy(&go);
    pthread_barrier_destroy(&done);
    clf_model_free(m);
    clf_context_free(ctx);
    return bad;
}

int main(int argc, char **argv)
{
    opts o = {NULL, NULL, NULL, 32, 16, 9, 2, 0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--device"))
            o.device = argv[i + 1];
        else if (!strcmp(argv[i], "--encoder"))
            o.encoder = argv[i + 1];
        else if (!strcmp(argv[i], "--decoder"))
            o.decoder = argv[i + 1];
        else if (!strcmp(argv[i], "--seq"))
            o.seq = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--new"))
            o.new_tokens = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps"))
            o.reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--warmup"))
            o.warmup = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--sessions"))
            o.sessions = atoi(argv[i + 1]);
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    if (o.seq < 1 || o.new_tokens < 1 || o.reps < 1 || o.warmup < 0 || (!o.encoder && !o.decoder)) {
        fprintf(stderr, "usage: bench_sessions [--device P:D] [--encoder DIR] [--decoder DIR] "
                        "[--seq S] [--new N] [--reps R] [--warmup W] [--sessions N]\n");
        return 2;
    }
    loadavg("before");
    int bad = 0;
    if (o.encoder) bad |= workload("encode", o.encoder, &o);
    if (o.decoder) bad |= workload("generate", o.decoder, &o);
    loadavg("after");
    return bad;
}
