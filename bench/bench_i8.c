/*
 * bench_i8: clf_gemm with a Q8 weight and one activation row (a decode
 * step's GEMV), dequantised in the kernel (f32 arithmetic) against the int8
 * x int8 path (activations quantised per row on the device, int32 sums;
 * ops.h clf_gemm_i8), portable sums and, where the device lists
 * cl_khr_integer_dot_product, dot_acc_sat on char4. Three contexts on one
 * device, one per path (the profile's gemm_i8 is read at context creation:
 * CLFORMER_GEMM_I8 = 0, 1, 2), timed interleaved: each repeat runs every
 * path once; medians over the repeats after a warm-up (docs/gemm_kernels.md,
 * "int8 x int8").
 *
 *   bench_i8 [--device SPEC] [--reps N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>
#include "bench_stats.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct path {
    clf_context *ctx;
    clf_tensor a, w, c;
} path;

/* 16 GEMVs per timed call: one is tens of microseconds, near the clock's noise. */
#define CALLS 16

static double time_once(path *p)
{
    clf_gemm_params gp = clf_gemm_params_default();
    gp.trans_b = true;
    double t0 = now_s();
    for (int i = 0; i < CALLS; i++)
        if (clf_gemm(p->ctx, &p->a, &p->w, &p->c, &gp) != CLF_OK) {
            fprintf(stderr, "bench_i8: %s\n", clf_context_last_error(p->ctx));
            exit(1);
        }
    clf_context_finish(p->ctx);
    return (now_s() - t0) / CALLS;
}

int main(int argc, char **argv)
{
    const char *device = NULL;
    int reps = 21;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--device") == 0) device = argv[i + 1];
        else if (strcmp(argv[i], "--reps") == 0) reps = atoi(argv[i + 1]);
    }
    if (reps < 1 || reps > 1000) reps = 21;
    static const int64_t shapes[][2] = {{2304, 768}, {768, 3072}, {3072, 768}, {50257, 768}};
    static const char *modes[] = {"0", "1", "2"};
    static const char *names[] = {"dequantise (f32)", "int8 x int8", "int8 x int8 dot"};
    path P[3];
    int n_paths = 3;
    for (int m = 0; m < 3; m++) {
        setenv("CLFORMER_GEMM_I8", modes[m], 1);
        clf_context_params cp = clf_context_params_default();
        cp.device = device;
        if (clf_context_create(&cp, &P[m].ctx) != CLF_OK) {
            fprintf(stderr, "bench_i8: %s\n", clf_context_last_error(NULL));
            return 1;
        }
    }
    unsetenv("CLFORMER_GEMM_I8");
    if (!clf_context_kernel_profile(P[2].ctx)->gemm_i8_dot) n_paths = 2;
    printf("device %s\n", clf_context_device(P[0].ctx)->name);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int64_t N = shapes[s][0], K = shapes[s][1];
        float *w = malloc((size_t)(N * K) * sizeof *w), *a = malloc((size_t)K * sizeof *a);
        for (int64_t i = 0; i < N * K; i++) w[i] = (float)((i * 2654435761u) % 2001) / 1000.0f - 1.0f;
        for (int64_t i = 0; i < K; i++) a[i] = (float)((i * 40503u) % 2001) / 1000.0f - 1.0f;
        double t[3][1000];
        for (int m = 0; m < n_paths; m++) {
            clf_context *ctx = P[m].ctx;
            if (clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, K}, &P[m].a) != CLF_OK ||
                clf_tensor_create(ctx, CLF_Q8, 2, (int64_t[]){N, K}, &P[m].w) != CLF_OK ||
                clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){1, N}, &P[m].c) != CLF_OK ||
                clf_tensor_write_f32(ctx, &P[m].a, a, K) != CLF_OK ||
                clf_tensor_write_f32(ctx, &P[m].w, w, N * K) != CLF_OK) {
                fprintf(stderr, "bench_i8: %s\n", clf_context_last_error(ctx));
                return 1;
            }
            for (int i = 0; i < 3; i++) time_once(&P[m]); /* warm-up: builds, first launches */
        }
        for (int r = 0; r < reps; r++)
            for (int m = 0; m < n_paths; m++) t[m][r] = time_once(&P[m]);
        for (int m = 0; m < n_paths; m++) {
            qsort(t[m], (size_t)reps, sizeof t[m][0], bench_cmp_double);
            double med = t[m][reps / 2];
            printf("N=%-6lld K=%-5lld %-18s median %8.1f us  %6.2f GB/s (codes)  %.2fx dequantise\n",
                   (long long)N, (long long)K, names[m], med * 1e6, (double)(N * K) / med * 1e-9,
                   m ? (t[0][reps / 2] / med) : 1.0);
            clf_tensor_free(&P[m].a), clf_tensor_free(&P[m].w), clf_tensor_free(&P[m].c);
        }
        free(w), free(a);
    }
    for (int m = 0; m < 3; m++) clf_context_free(P[m].ctx);
    return 0;
}
