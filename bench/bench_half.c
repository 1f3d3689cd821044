/*
 * Half arithmetic against f32 arithmetic on one device, in one process,
 * interleaved repeat by repeat (docs/half_math.md gives the command and figures):
 *   f32      f32 weights (f32 arithmetic)
 *   f16      f16 weights, CLFORMER_HALF_MATH=0 (f16 storage, f32 arithmetic)
 *   f16-h1   f16 weights, CLFORMER_HALF_MATH=1 (half products, f32 sums)
 *   f16-h2   f16 weights, CLFORMER_HALF_MATH=2 (half sums over a K tile)
 * Each setting has its own context (the variable is read when a context is
 * made), all on the device named, with the kernel family of
 * $CLFORMER_KERNELS. Cases: GPT-2 small GEMV shapes (M = 1), a tiled GEMM
 * (M = 64; half paths only in the GPU family), and GPT-2 small (random
 * weights) greedy decode, tokens/s. Prints the median and the min over the
 * timed repeats, after one warm-up run of each (which also builds the
 * kernels). On a device without cl_khr_fp16 the h1/h2 settings are f16.
 *
 * usage: bench_half [--device SPEC] [--reps N] [--tokens N] [--no-model]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>
#include "bench_stats.h"

enum { N_SET = 4, MAX_REPS = 64 };
static const char *SET_NAME[N_SET] = {"f32", "f16", "f16-h1", "f16-h2"};
static const char *SET_HALF[N_SET] = {"0", "0", "1", "2"};

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void die(const char *what, clf_status st, const clf_context *ctx)
{
    fprintf(stderr, "bench_half: %s: %s: %s\n", what, clf_status_str(st),
            clf_context_last_error(ctx));
    exit(1);
}
#define CHECK(what, expr, ctx)                                                                     \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        if (st_ != CLF_OK) die(what, st_, ctx);                                                    \
    } while (0)

typedef struct gemm_shape {
    const char *name;
    int64_t m, n, k;
} gemm_shape;

static const gemm_shape SHAPES[] = {
    {"gemv 1x3072x768 (mlp up)", 1, 3072, 768},
    {"gemv 1x768x3072 (mlp down)", 1, 768, 3072},
    {"gemm 64x768x768 (tiled in the gpu family)", 64, 768, 768},
};
#define N_SHAPES ((int)(sizeof SHAPES / sizeof SHAPES[0]))

typedef struct gemm_op {
    clf_tensor a, b, c;
} gemm_op;

/* Seconds for `calls` GEMMs of one shape on ctx (enqueued back to back, one finish). */
static double time_gemm(clf_context *ctx, gemm_op *g, int calls)
{
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    double t0 = now();
    for (int i = 0; i < calls; i++)
        CHECK("clf_gemm", clf_gemm(ctx, &g->a, &g->b, &g->c, &p), ctx);
    CHECK("finish", clf_context_finish(ctx), ctx);
    return now() - t0;
}

static void report(const char *what, const char *unit, double per[N_SET][MAX_REPS], int reps,
                   double scale, bool rate)
{
    printf("%s\n", what);
    double base = 0;
    for (int s = 0; s < N_SET; s++) {
        double v[MAX_REPS];
        memcpy(v, per[s], sizeof v);
        double med = bench_median(v, reps), best = v[0];
        double shown = rate ? scale / med : med * scale,
               shown_best = rate ? scale / best : best * scale;
        if (s == 0) base = med;
        printf("  %-7s median %9.3f %s  (best %9.3f)  time vs f32 %.2fx\n", SET_NAME[s], shown,
               unit, shown_best, med / base);
    }
}

int main(int argc, char **argv)
{
    const char *device = "1:0";
    int reps = 7, tokens = 16;
    bool model = true;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--device") && i + 1 < argc)
            device = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tokens") && i + 1 < argc)
            tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-model"))
            model = false;
        else {
            fprintf(stderr,
                    "usage: bench_half [--device SPEC] [--reps N] [--tokens N] [--no-model]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || tokens < 1) return 2;

    clf_context *ctx[N_SET];
    for (int s = 0; s < N_SET; s++) {
        setenv("CLFORMER_HALF_MATH", SET_HALF[s], 1);
        clf_context_params cp = clf_context_params_default();
        cp.device = device;
        CHECK("clf_context_create", clf_context_create(&cp, &ctx[s]), NULL);
        const clf_kernel_profile *pr = clf_context_kernel_profile(ctx[s]);
        printf("%-7s %s, %s kernels, half_math %d (%s)\n", SET_NAME[s],
               clf_context_device(ctx[s])->name, clf_kernel_family_name(pr->family), pr->half_math,
               pr->half_reason);
    }
    unsetenv("CLFORMER_HALF_MATH");

    static double t[N_SET][MAX_REPS];
    for (int sh = 0; sh < N_SHAPES; sh++) {
        const gemm_shape *g = &SHAPES[sh];
        gemm_op op[N_SET];
        for (int s = 0; s < N_SET; s++) {
            clf_dtype wd = s == 0 ? CLF_F32 : CLF_F16;
            CHECK("tensor",
                  clf_tensor_create(ctx[s], CLF_F32, 2, (int64_t[]){g->m, g->k}, &op[s].a), ctx[s]);
            CHECK("tensor", clf_tensor_create(ctx[s], wd, 2, (int64_t[]){g->n, g->k}, &op[s].b),
                  ctx[s]);
            CHECK("tensor",
                  clf_tensor_create(ctx[s], CLF_F32, 2, (int64_t[]){g->m, g->n}, &op[s].c), ctx[s]);
            CHECK("fill", clf_tensor_fill_uniform(ctx[s], &op[s].a, 1, -1, 1), ctx[s]);
            CHECK("fill", clf_tensor_fill_uniform(ctx[s], &op[s].b, 2, -1, 1), ctx[s]);
            time_gemm(ctx[s], &op[s], 3); /* warm-up: builds the kernel */
        }
        int calls = g->m == 1 ? 200 : 20;
        for (int r = 0; r < reps; r++)
            for (int s = 0; s < N_SET; s++)
                t[s][r] = time_gemm(ctx[s], &op[s], calls);
        char what[160];
        snprintf(what, sizeof what, "%s, %d calls per repeat, %d repeats", g->name, calls, reps);
        report(what, "us/call", t, reps, 1e6 / calls, false);
        for (int s = 0; s < N_SET; s++) {
            clf_tensor_free(&op[s].a);
            clf_tensor_free(&op[s].b);
            clf_tensor_free(&op[s].c);
        }
    }

    if (model) {
        clf_model *m[N_SET];
        clf_model_config cfg;
        CHECK("preset", clf_model_config_preset("gpt2-small", &cfg), NULL);
        int32_t ids[16], out_ids[256];
        for (int i = 0; i < 16; i++)
            ids[i] = 1000 + 37 * i;
        if (tokens > 256) tokens = 256;
        for (int s = 0; s < N_SET; s++) {
            clf_model_params mp = clf_model_params_default();
            mp.max_batch = 1;
            mp.max_source_len = 16;
            mp.max_target_len = 16 + tokens + 1;
            mp.weight_dtype = s == 0 ? CLF_F32 : CLF_F16;
            CHECK("model", clf_model_create_random(ctx[s], &cfg, &mp, 1234, &m[s]), ctx[s]);
        }
        clf_generate_params gp = clf_generate_params_default();
        gp.max_new_tokens = tokens;
        gp.ignore_eos = true;
        int32_t first[N_SET][256];
        for (int r = -1; r < reps; r++)
            for (int s = 0; s < N_SET; s++) {
                clf_generate_output out = {.ids = out_ids};
                double t0 = now();
                CHECK("generate", clf_model_generate(m[s], ids, NULL, 1, 16, &gp, &out), ctx[s]);
                if (r >= 0)
                    t[s][r] = now() - t0;
                else
                    memcpy(first[s], out_ids, sizeof out_ids);
            }
        char what[160];
        snprintf(what, sizeof what,
                 "gpt2-small (random weights) greedy, prompt 16, %d new tokens, %d repeats", tokens,
                 reps);
        report(what, "tokens/s", t, reps, tokens, true);
        for (int s = 1; s < N_SET; s++) {
            int same = 0;
            for (int i = 0; i < tokens; i++)
                same += first[s][i] == first[1][i];
            printf("  %-7s greedy ids equal to f16's: %d of %d\n", SET_NAME[s], same, tokens);
        }
        for (int s = 0; s < N_SET; s++)
            clf_model_free(m[s]);
    }
    for (int s = 0; s < N_SET; s++)
        clf_context_free(ctx[s]);
    return 0;
}
