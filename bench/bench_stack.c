/*
 * Whole-stack bench entry: the built-in configurations with random weights
 * (clf_model_create_random, no download), timed after warm-up like the op
 * cases, plus the time to first result of a fresh process with an empty
 * cache (cold start) and with the cache it filled (warm start).
 *
 * A start is measured in a child process (`clformer bench --start CASE`,
 * spawned from /proc/self/exe) whose CLFORMER_CACHE_DIR and POCL_CACHE_DIR
 * point into a new temporary folder: nothing this process or an earlier run
 * compiled can make a cold start look warm. The child reports the monotonic
 * clock at its first result; the parent subtracts the instant it spawned it.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/bench.h"

extern char **environ;

typedef enum stack_kind { STACK_ENCODE, STACK_GREEDY, STACK_BEAM, STACK_GENERATE } stack_kind;

typedef struct stack_case {
    const char *id;     /* name on the command line of a start child */
    const char *preset; /* clf_model_config_preset */
    stack_kind kind;
    int64_t batch, seq_len; /* sources (encode, seq2seq) or prompts (generate) */
    int64_t new_tokens;     /* generated per sequence (0 for encode) */
    int beam;
    bool quick;             /* in the --quick set */
    bool start;             /* measure cold and warm start for this case */
    int reps;               /* timed repeats (full run); quick uses fewer */
    clf_dtype weights;      /* model weight_dtype: CLF_F32 (0), CLF_F16, CLF_Q8 or CLF_Q4 */
} stack_case;

/* BENCHMARKS.md "Whole stacks". The start of each stack is measured once, on
 * its batch-1 case; a start is per stack, not per batch size. */
static const stack_case cases[] = {
    {"bert-b1", "bert-base", STACK_ENCODE, 1, 128, 0, 0, true, true, 15, CLF_F32},
    {"bert-b32", "bert-base", STACK_ENCODE, 32, 128, 0, 0, false, false, 3, CLF_F32},
    {"t-greedy-b1", "transformer-base", STACK_GREEDY, 1, 32, 32, 0, true, true, 5, CLF_F32},
    {"t-greedy-b16", "transformer-base", STACK_GREEDY, 16, 32, 32, 0, false, false, 3, CLF_F32},
    {"t-beam4-b1", "transformer-base", STACK_BEAM, 1, 32, 32, 4, false, false, 3, CLF_F32},
    {"t-beam4-b16", "transformer-base", STACK_BEAM, 16, 32, 32, 4, false, false, 3, CLF_F32},
    {"gpt2-b1", "gpt2-small", STACK_GENERATE, 1, 16, 32, 0, true, true, 5, CLF_F32},
    /* Issue 16: the weight formats on the decode-bound case. */
    {"gpt2-b1-f16", "gpt2-small", STACK_GENERATE, 1, 16, 32, 0, true, false, 5, CLF_F16},
    {"gpt2-b1-q8", "gpt2-small", STACK_GENERATE, 1, 16, 32, 0, true, false, 5, CLF_Q8},
    {"gpt2-b1-q4", "gpt2-small", STACK_GENERATE, 1, 16, 32, 0, true, false, 5, CLF_Q4},
    /* Issue 16: Q8 on the encoder and on the Marian-sized encoder-decoder
     * (greedy at batch 1 and 16, as bench/compare.py's CTranslate2 int8 and
     * onnxruntime quantize_dynamic columns). Full run only. */
    {"bert-b1-q8", "bert-base", STACK_ENCODE, 1, 128, 0, 0, false, false, 15, CLF_Q8},
    {"t-greedy-b1-q8", "transformer-base", STACK_GREEDY, 1, 32, 32, 0, false, false, 5, CLF_Q8},
    {"t-greedy-b16-q8", "transformer-base", STACK_GREEDY, 16, 32, 32, 0, false, false, 3, CLF_Q8},
};
#define N_CASES (sizeof cases / sizeof cases[0])

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ------------------------------------------------------------------------ */
/* Work and traffic of one run, from the config.                            */

/* FLOPs of the matrix products and attention of one run; bytes = the
 * weights every pass must read (once per encoder pass, once per decoder
 * step) plus the KV cache reads of the steps. */
static void stack_cost(const clf_model_config *c, const stack_case *k, double *flops, double *bytes)
{
    double D = (double)c->d_model, F = (double)c->d_ff, V = (double)c->vocab;
    double rows = (double)k->batch * (k->kind == STACK_BEAM ? k->beam : 1);
    double S = (double)k->seq_len, T = (double)k->new_tokens;
    /* Bytes per weight: layer matrices and the head / embeddings (Q8 and Q4
     * keep the head f16: model.h; Q4: half a byte plus a 4-byte scale per 32). */
    double wb = k->weights == CLF_F16 ? 2.0
                : k->weights == CLF_Q8 ? 1.0
                : k->weights == CLF_Q4 ? 0.5 + 4.0 / 32
                                       : 4.0;
    double hb = k->weights == CLF_F32 ? 4.0 : 2.0;
    double enc_layer_w = 4 * D * D + 2 * D * F;
    double f = 0, b = 0;
    if (c->encoder_layers > 0) {
        double tok = (double)k->batch * S;
        f += c->encoder_layers * (2 * tok * enc_layer_w + 4 * (double)k->batch * S * S * D);
        b += c->encoder_layers * enc_layer_w * wb;
    }
    if (k->kind == STACK_ENCODE) {
        *flops = f;
        *bytes = b;
        return;
    }
    bool cross = c->kind == CLF_MODEL_ENCODER_DECODER;
    double dec_layer_w = 4 * D * D + 2 * D * F + (cross ? 2 * D * D : 0);
    double L = c->decoder_layers, kv_row = 2 * D * 4; /* K and V of one position, f32 */
    double prompt = 0;
    if (cross) { /* the cross K/V, once per source */
        f += L * 2 * (double)k->batch * S * 2 * D * D;
        b += L * 2 * D * D * wb;
    } else { /* a decoder-only prompt is one prefill pass that yields token 1 */
        prompt = S;
        f += L * (2 * rows * S * dec_layer_w + 2 * rows * S * S * D) + 2 * rows * D * V;
        b += L * dec_layer_w * wb + D * V * hb;
        T -= 1;
    }
    /* Single-token steps: a seq2seq target starts from BOS. */
    for (double t = 0; t < T; t++) {
        double ctx_len = prompt + t + 1;
        f += L * (2 * rows * dec_layer_w + 4 * rows * ctx_len * D + (cross ? 4 * rows * S * D : 0)) +
             2 * rows * D * V;
        b += L * dec_layer_w * wb + D * V * hb + L * rows * kv_row * (ctx_len + (cross ? S : 0));
    }
    *flops = f;
    *bytes = b;
}

/* ------------------------------------------------------------------------ */
/* One model and its inputs.                                                */

typedef struct stack_state {
    bench_run *r;
    const stack_case *k;
    clf_model *m;
    int32_t *ids, *lengths, *out_ids;
    int64_t n_out;
} stack_state;

static void stack_free(stack_state *s)
{
    clf_model_free(s->m);
    free(s->ids);
    free(s->lengths);
    free(s->out_ids);
    memset(s, 0, sizeof *s);
}

static clf_status stack_make(clf_context *ctx, const stack_case *k, stack_state *s)
{
    clf_model_config cfg;
    clf_status st = clf_model_config_preset(k->preset, &cfg);
    if (st != CLF_OK) return st;
    clf_model_params mp = clf_model_params_default();
    int64_t rows = k->batch * (k->kind == STACK_BEAM ? k->beam : 1);
    mp.max_batch = rows;
    mp.max_source_len = k->seq_len;
    mp.max_target_len = (cfg.kind == CLF_MODEL_DECODER ? k->seq_len : 1) + k->new_tokens + 1;
    mp.weight_dtype = k->weights;
    st = clf_model_create_random(ctx, &cfg, &mp, 1234, &s->m);
    if (st != CLF_OK) return st;
    size_t n = (size_t)(k->batch * k->seq_len);
    s->ids = malloc(n * sizeof *s->ids);
    s->lengths = malloc((size_t)k->batch * sizeof *s->lengths);
    s->n_out = k->batch * (k->new_tokens > 0 ? k->new_tokens : 1);
    s->out_ids = malloc((size_t)s->n_out * sizeof *s->out_ids);
    if (!s->ids || !s->lengths || !s->out_ids) return CLF_ERR_OUT_OF_MEMORY;
    /* Token ids away from the special ones (pad/bos/eos are small ids). */
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s->ids[i] = (int32_t)(4 + x % (uint64_t)(cfg.vocab - 4));
    }
    for (int64_t b = 0; b < k->batch; b++) s->lengths[b] = (int32_t)k->seq_len;
    return CLF_OK;
}

/* One run of the case: returns its status; the result is read back (the
 * blocking read is part of the time, as a caller would see it). */
static clf_status stack_once(stack_state *s, int64_t new_tokens)
{
    const stack_case *k = s->k;
    if (k->kind == STACK_ENCODE) {
        clf_model_config const *c = clf_model_get_config(s->m);
        /* Pooled output (B, D): what a caller reads; the encoder runs whole. */
        size_t n = (size_t)(k->batch * c->d_model);
        float *pooled = malloc(n * sizeof *pooled);
        if (!pooled) return CLF_ERR_OUT_OF_MEMORY;
        clf_status st = clf_model_encode(s->m, s->ids, s->lengths, k->batch, k->seq_len, CLF_POOL_FIRST,
                                         NULL, pooled, NULL);
        free(pooled);
        return st;
    }
    clf_generate_params gp = clf_generate_params_default();
    gp.strategy = k->kind == STACK_BEAM ? CLF_DECODE_BEAM : CLF_DECODE_GREEDY;
    gp.beam_size = k->beam > 0 ? k->beam : 4;
    gp.max_new_tokens = new_tokens;
    gp.ignore_eos = true; /* every engine generates the same count */
    clf_generate_output out = {.ids = s->out_ids};
    return clf_model_generate(s->m, s->ids, k->kind == STACK_GENERATE ? NULL : s->lengths, k->batch,
                              k->seq_len, &gp, &out);
}

/* ------------------------------------------------------------------------ */
/* Start children.                                                          */

static const stack_case *find_case(const char *id)
{
    for (size_t i = 0; i < N_CASES; i++)
        if (strcmp(cases[i].id, id) == 0) return &cases[i];
    return NULL;
}

/* The child: `bench --start CASE --device SPEC`. Prints
 * "start <t_first_result> <t_context> <t_model>" (monotonic seconds) on
 * stdout; the first result is the encoder output or the first token. */
int bench_stack_start_child(const char *id, const char *device)
{
    const stack_case *k = find_case(id);
    if (!k) {
        fprintf(stderr, "bench --start: unknown case \"%s\"\n", id);
        return 2;
    }
    clf_context_params p = clf_context_params_default();
    p.device = device;
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK) {
        fprintf(stderr, "bench --start: %s: %s\n", clf_status_str(st), clf_context_last_error(NULL));
        return 1;
    }
    double t_ctx = now_s();
    stack_state s = {.k = k};
    st = stack_make(ctx, k, &s);
    double t_model = now_s();
    if (st == CLF_OK) st = stack_once(&s, 1);
    double t_first = now_s();
    if (st != CLF_OK) {
        fprintf(stderr, "bench --start %s: %s: %s\n", id, clf_status_str(st), clf_context_last_error(ctx));
    } else {
        printf("start %.6f %.6f %.6f\n", t_first, t_ctx, t_model);
        fflush(stdout);
    }
    stack_free(&s);
    clf_context_free(ctx);
    return st == CLF_OK ? 0 : 1;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Spawns a start child with both caches under dir; returns the seconds from
 * spawn to first result (and the child's phases), or -1. */
static double start_once(bench_run *r, const stack_case *k, const char *dir, double *t_ctx,
                         double *t_model)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = 0;
    char spec[32], env_cache[4200], env_pocl[4200];
    snprintf(spec, sizeof spec, "%d:%d", r->dev->platform_index, r->dev->device_index);
    snprintf(env_cache, sizeof env_cache, "CLFORMER_CACHE_DIR=%s", dir);
    snprintf(env_pocl, sizeof env_pocl, "POCL_CACHE_DIR=%s/pocl", dir);
    /* The environment minus the two cache variables, plus ours. */
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char **env = malloc((n_env + 3) * sizeof *env);
    if (!env) return -1;
    size_t e = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "CLFORMER_CACHE_DIR=", 19) && strncmp(environ[i], "POCL_CACHE_DIR=", 15))
            env[e++] = environ[i];
    env[e++] = env_cache;
    env[e++] = env_pocl;
    env[e] = NULL;
    int fds[2];
    if (pipe(fds) != 0) {
        free(env);
        return -1;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {exe, "bench", "--start", (char *)k->id, "--device", spec, NULL};
    pid_t pid;
    fflush(stdout);
    double t0 = now_s();
    int rc = posix_spawn(&pid, exe, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    free(env);
    if (rc != 0) {
        close(fds[0]);
        fprintf(stderr, "bench: cannot start %s: %s\n", exe, strerror(rc));
        return -1;
    }
    char buf[256] = {0};
    size_t got = 0;
    ssize_t nr;
    while (got < sizeof buf - 1 && (nr = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0) got += (size_t)nr;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    double t_first, c, mm;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || sscanf(buf, "start %lf %lf %lf", &t_first, &c, &mm) != 3) {
        fprintf(stderr, "bench: start of %s failed (exit status %d)\n", k->id,
                WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    *t_ctx = c - t0;
    *t_model = mm - t0;
    return t_first - t0;
}

/* Cold start in a new empty folder, then warm starts (median of 3) reusing
 * it; the folder is removed. Returns 0 or -1. */
static int measure_start(bench_run *r, const stack_case *k, double *cold, double *warm)
{
    const char *tmp = getenv("TMPDIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/clformer-start-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench: cannot create a folder in %s: %s\n", tmp ? tmp : "/tmp", strerror(errno));
        return -1;
    }
    double c_ctx, c_model, w[3], w_ctx = 0, w_model = 0;
    *cold = start_once(r, k, dir, &c_ctx, &c_model);
    int ok = *cold > 0;
    for (int i = 0; i < 3 && ok; i++) {
        w[i] = start_once(r, k, dir, &w_ctx, &w_model);
        ok = w[i] > 0;
    }
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (!ok) return -1;
    /* median of three */
    double a = w[0], b = w[1], c = w[2];
    *warm = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
    fprintf(stderr, "bench: %s start: cold %.2f s (context %.2f, model %.2f), warm %.3f s (context %.3f, model %.3f)\n",
            k->id, *cold, c_ctx, c_model, *warm, w_ctx, w_model);
    return 0;
}

/* ------------------------------------------------------------------------ */

static int run_stack(void *arg)
{
    stack_state *s = arg;
    clf_status st = stack_once(s, s->k->new_tokens);
    return st == CLF_OK ? 0 : bench_fail(s->r, s->k->id, st);
}

static void stack_case_run(bench_run *r, const stack_case *k)
{
    bench_run local = *r;
    local.reps = r->reps_forced ? r->reps : r->quick ? (k->reps < 3 ? k->reps : 3) : k->reps;
    local.warmup = 1;
    stack_state s = {.r = &local, .k = k};
    bench_result res = {.entry = "stack"};
    const char *what = k->kind == STACK_ENCODE ? "encode" : k->kind == STACK_GREEDY ? "greedy"
                       : k->kind == STACK_BEAM ? "beam 4" : "generate";
    snprintf(res.name, sizeof res.name, "%s %s%s%s", k->preset, what, k->weights ? " " : "",
             k->weights ? clf_dtype_name(k->weights) : "");
    if (k->kind == STACK_ENCODE)
        snprintf(res.shape, sizeof res.shape, "B=%lld S=%lld", (long long)k->batch, (long long)k->seq_len);
    else
        snprintf(res.shape, sizeof res.shape, "B=%lld S=%lld new=%lld", (long long)k->batch,
                 (long long)k->seq_len, (long long)k->new_tokens);
    bench_progress(&local, res.entry, res.name);
    clf_status st = stack_make(local.ctx, k, &s);
    if (st != CLF_OK) {
        bench_fail(&local, k->id, st);
    } else {
        stack_cost(clf_model_get_config(s.m), k, &res.flops, &res.bytes);
        if (bench_time(&local, run_stack, &s, &res) == 0) {
            res.batch = k->batch;
            res.seq_len = k->seq_len;
            res.new_tokens = k->new_tokens;
            if (k->new_tokens > 0) res.tokens_per_s = (double)(k->batch * k->new_tokens) / res.med_s;
            size_t arena = 0;
            clf_model_memory(s.m, k->kind == STACK_ENCODE ? 0 : 1, &arena, NULL, NULL);
            res.device_mem_bytes = (double)arena;
            fprintf(stderr, "bench: %s: weights %s, %.1f MiB on the device\n", k->id,
                    clf_dtype_name(k->weights),
                    (double)clf_model_get_info(s.m)->weight_bytes / (1 << 20));
            stack_free(&s); /* before the children load their own copies */
            /* A cold start compiles every kernel of the stack from nothing
             * (minutes on PoCL): full runs only. */
            if (k->start && !local.no_start && !local.quick) {
                bench_progress(&local, res.entry, "cold and warm start");
                if (measure_start(&local, k, &res.cold_start_s, &res.warm_start_s) != 0) local.failures++;
            }
            bench_report(&local, &res);
        }
    }
    stack_free(&s);
    r->failures = local.failures;
}

int bench_stack(bench_run *r)
{
    /* CLFORMER_BENCH_CASES: only the cases whose id contains it (e.g.
     * "gpt2-b1" for the four weight formats of the decode case). */
    const char *only = getenv("CLFORMER_BENCH_CASES");
    for (size_t i = 0; i < N_CASES; i++) {
        if (r->quick && !cases[i].quick) continue;
        if (only && *only && !strstr(cases[i].id, only)) continue;
        stack_case_run(r, &cases[i]);
    }
    return 0;
}
