/*
 * GEMM conformance: every provider against a float64 reference, on odd
 * shapes, transposes, batches (own and shared B), f32/f16 storage in every
 * operand, alpha/beta, fused bias and activation, and views with padding
 * (ld > width, offsets) whose outside must stay untouched.
 *
 * Error bound: with f32 accumulation each output carries a relative rounding
 * error of about sqrt(K) * 2^-24, so NMSE ~ K * 2^-48 (1.5e-11 at K = 4100);
 * we allow 1e-8, three orders of margin, while one missing or doubled
 * product term costs about 1/K (>= 2e-4 here). f16 inputs are rounded before
 * the reference sees them, so f16 storage only adds the output's rounding
 * (2^-11 relative: NMSE ~ 1e-7) when C is f16: bound 1e-5. CLBlast's Hgemm
 * computes in half: bound 1e-3 (TESTING.md's f16 figure).
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gemm_case.h"
#include "common/testutil.h"
#include "ref/ref_gemm.h"
#include "ref/ref_padded.h"
#include "runtime/runtime.h"

#define F32 CLF_F32
#define F16 CLF_F16

/* batch m n k ta tb da db dc alpha beta bias act b_shared packed */
static const gcase general[] = {
    {1, 1, 1, 1, 0, 1, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0, 0},
    {1, 7, 13, 127, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 0},
    {1, 13, 7, 5, 0, 0, F32, F32, F32, 0.5f, 0, 0, CLF_ACT_NONE, 0, 0},
    {1, 127, 129, 65, 1, 0, F32, F32, F32, 1, 0.75f, 1, CLF_ACT_RELU, 0, 0},
    {1, 64, 64, 64, 1, 1, F32, F32, F32, -2, 0, 0, CLF_ACT_SILU, 0, 0},
    {1, 3, 50, 64, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_TANH, 0, 0},
    {1, 65, 33, 17, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_TANH, 0, 0},
    {1, 33, 65, 4103, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 100, 3, 17, 0, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_GELU_TANH, 0, 0},
    {1, 29, 250, 96, 0, 0, F16, F16, F16, 0, 0.5f, 1, CLF_ACT_GELU, 0, 0},
    {1, 17, 31, 40, 1, 1, F16, F32, F16, 1, 0, 0, CLF_ACT_RELU, 0, 0},
    {3, 5, 7, 11, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {3, 19, 23, 9, 1, 0, F32, F16, F32, 0, 0.25f, 0, CLF_ACT_NONE, 0, 0},
    {4, 37, 41, 29, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 1, 0},
    {2, 9, 130, 70, 0, 0, F32, F16, F32, 0, 0, 0, CLF_ACT_NONE, 1, 0},
};

/* Decode-shaped: M <= 8, the GEMV kernel. */
static const gcase decode[] = {
    {1, 1, 768, 768, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 1, 1000, 257, 0, 1, F32, F16, F32, 0, 0, 0, CLF_ACT_GELU, 0, 0},
    {1, 3, 131, 4099, 0, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 8, 97, 300, 0, 0, F32, F32, F32, 0, 0.5f, 1, CLF_ACT_SILU, 0, 0},
    {1, 5, 64, 64, 0, 0, F16, F16, F16, 0, 0, 0, CLF_ACT_RELU, 0, 0},
    {1, 2, 13, 1, 1, 1, F32, F32, F32, 1.5f, 0, 0, CLF_ACT_NONE, 0, 0},
    {4, 1, 50, 33, 0, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_NONE, 1, 0},
    {2, 7, 45, 62, 1, 0, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0, 0},
};

#define RUN_TABLE(table, prov)                                                                     \
    do {                                                                                           \
        char specs[16][32];                                                                        \
        int nd = clft_devices_or_skip(specs, 16);                                                  \
        for (int d = 0; d < nd; d++) {                                                             \
            clf_context *ctx = clft_context(specs[d], NULL);                                       \
            for (size_t i = 0; i < sizeof(table) / sizeof(table)[0]; i++)                          \
                gemm_case_run(ctx, &(table)[i], prov, (int)i);                                          \
            clf_context_free(ctx);                                                                 \
        }                                                                                          \
    } while (0)

Test(gemm, builtin_matches_reference_on_odd_shapes, .timeout = 300) { RUN_TABLE(general, CLF_GEMM_BUILTIN); }
Test(gemm, builtin_small_m_matches_reference, .timeout = 300) { RUN_TABLE(decode, CLF_GEMM_BUILTIN); }

/* Shapes that cross the small devices' tiles: M 5-8 (the GEMV with its
 * reduction buffer), M > 8 (the tiled kernel), both B layouts, f16 B. */
static const gcase small_device[] = {
    {1, 5, 67, 129, 0, 0, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 8, 67, 129, 0, 0, F32, F16, F32, 0, 0, 0, CLF_ACT_GELU, 0, 0},
    {1, 8, 45, 62, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 9, 67, 129, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_RELU, 0, 0},
    {1, 64, 64, 64, 0, 0, F32, F16, F32, 0, 0, 0, CLF_ACT_NONE, 0, 0},
    {2, 70, 33, 47, 1, 1, F32, F32, F32, 0, 0.5f, 1, CLF_ACT_NONE, 0, 0},
};

/* A small device, simulated (the context refuses any launch that exceeds the
 * simulated limits, as such a device would): 64 work-items per group and
 * 16 KiB of local memory, and a per-kernel cap of 16 below a 256 device.
 * Found with Oclgrind at OCLGRIND_MAX_WGSIZE=64 / OCLGRIND_LOCAL_MEM_SIZE=16384:
 * the tiled GEMM fell back to a 32 x 64 tile of 128 work-items (every GEMM with
 * M > 8 failed with CL_INVALID_WORK_GROUP_SIZE), and the GPU GEMV's reduction
 * buffer was 16,896 B for M 5-8 with B not transposed (CL_OUT_OF_RESOURCES). */
Test(gemm, fits_small_devices_in_both_families, .timeout = 300)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    static const char *limits[] = {"wg=64,local=16K", "local=16K", "wg=256,kernel_wg=16"};
    for (int d = 0; d < nd; d++)
        for (int l = 0; l < 3; l++)
            for (int f = CLF_KERNELS_CPU; f <= CLF_KERNELS_GPU; f++) {
                clf_context_params p = clf_context_params_default();
                p.device = specs[d];
                p.cache_dir = "";
                p.kernels = (clf_kernel_family)f;
                p.limits = limits[l];
                clf_context *ctx = NULL;
                cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK, "%s", clf_context_last_error(NULL));
                cr_assert(clf_context_kernel_profile(ctx)->limits_simulated);
                for (size_t i = 0; i < sizeof small_device / sizeof small_device[0]; i++)
                    gemm_case_run(ctx, &small_device[i], CLF_GEMM_BUILTIN, (int)i);
                clf_context_free(ctx);
            }
}

/* Programs of ctx built from kernels/<program>.cl whose options contain what. */
static int programs_with(const clf_context *ctx, const char *program, const char *what)
{
    int n = 0;
    for (size_t i = 0; i < ctx->n_programs; i++)
        n += strcmp(ctx->programs[i].name, program) == 0 && ctx->programs[i].options &&
             strstr(ctx->programs[i].options, what) != NULL;
    return n;
}

/* Builtin GEMM programs (any of the three kernels) whose options contain what. */
static int gemm_programs_with(const clf_context *ctx, const char *what)
{
    return programs_with(ctx, "gemm_tiled", what) + programs_with(ctx, "gemm_reg", what) +
           programs_with(ctx, "gemv", what);
}

/* Which kernel takes a small M depends on the device (CPUs: the GEMV only
 * for M = 1); CLFORMER_GEMV_MAX_M moves the line, so every device runs the
 * decode table through the GEMV at each of its row counts (GM = 1, 2, 4, 8)
 * and through the other kernels alone. */
Test(gemm, small_m_through_the_gemv_everywhere_and_through_no_gemv, .timeout = 300)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    const char *settings[] = {"8", "0"};
    for (int s = 0; s < 2; s++) {
        cr_assert_eq(setenv("CLFORMER_GEMV_MAX_M", settings[s], 1), 0);
        for (int d = 0; d < nd; d++) {
            clf_context *ctx = clft_context(specs[d], NULL);
            for (size_t i = 0; i < sizeof decode / sizeof decode[0]; i++)
                gemm_case_run(ctx, &decode[i], CLF_GEMM_BUILTIN, (int)i);
            if (s == 0) {
                for (int gm = 1; gm <= 8; gm *= 2) {
                    char opt[32];
                    snprintf(opt, sizeof opt, "-DCLF_GM=%d ", gm);
                    cr_expect_gt(programs_with(ctx, "gemv", opt), 0, "%s: no GEMV program with %s",
                                 specs[d], opt);
                }
            } else {
                cr_expect_eq(programs_with(ctx, "gemv", ""), 0, "%s: a GEMV program was built", specs[d]);
            }
            clf_context_free(ctx);
        }
    }
    unsetenv("CLFORMER_GEMV_MAX_M");
}

/* CLBlast compiles its kernels for tens of seconds on PoCL at first use in
 * a process, so its cases share one test. f32 only: it refuses mixed dtypes
 * (tested below) and f16 needs cl_khr_fp16. Then auto: it measures once,
 * caches the choice on disk, and the next context reuses it. */
Test(gemm, clblast_and_auto_match_reference_and_auto_caches_its_choice, .timeout = 900)
{
    static const gcase f32_cases[] = {
        {1, 7, 13, 127, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_GELU, 0, 0},
        {1, 127, 129, 65, 1, 0, F32, F32, F32, 1, 0.75f, 1, CLF_ACT_RELU, 0, 0},
        {1, 1, 300, 301, 0, 1, F32, F32, F32, 0, 0, 0, CLF_ACT_NONE, 0, 0},
        {3, 19, 23, 9, 1, 1, F32, F32, F32, 0, 0.25f, 0, CLF_ACT_NONE, 0, 0},
        {4, 37, 41, 29, 0, 1, F32, F32, F32, 0, 0, 1, CLF_ACT_NONE, 1, 0},
    };
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < nd; d++) {
        char dir[512];
        clft_tempdir(dir, sizeof dir, "gemmauto");
        clf_context *ctx = clft_context(specs[d], dir);
        for (size_t i = 0; i < sizeof f32_cases / sizeof f32_cases[0]; i++)
            gemm_case_run(ctx, &f32_cases[i], CLF_GEMM_CLBLAST, (int)i);
        /* CPU devices skip the measurement unless asked: ask, so that the
         * measurement runs on every device class. */
        setenv("CLFORMER_GEMM", "measure", 1);
        clf_gemm_provider first, again;
        clf_status st = clf_gemm_choose(ctx, 128, 768, 768, CLF_F32, CLF_F32, &first);
        cr_assert_eq(st, CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert(first == CLF_GEMM_BUILTIN || first == CLF_GEMM_CLBLAST);
        for (size_t i = 0; i < sizeof general / sizeof general[0]; i++)
            gemm_case_run(ctx, &general[i], CLF_GEMM_AUTO, (int)i);
        clf_context_free(ctx);

        ctx = clft_context(specs[d], dir);
        double t0 = clf__now();
        cr_assert_eq(clf_gemm_choose(ctx, 64, 64, 64, CLF_F32, CLF_F32, &again), CLF_OK);
        double took = clf__now() - t0;
        cr_assert_eq(again, first, "the cached choice is reused");
        cr_assert_lt(took, 0.05, "a cached choice needs no measurement (took %.3f s)", took);
        clf_context_free(ctx);
        unsetenv("CLFORMER_GEMM");
        clft_rmtree(dir);
    }
}

static int count_prefix(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* A CPU device's auto choice is builtin at once: no CLBlast compile, no
 * measurement, nothing written to the cache folder. */
Test(gemm, auto_on_a_cpu_device_is_builtin_without_measuring)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    int cpus = 0;
    for (int d = 0; d < nd; d++) {
        char dir[512];
        clft_tempdir(dir, sizeof dir, "gemmcpu");
        clf_context *ctx = clft_context(specs[d], dir);
        if (clf_context_device(ctx)->device_class == CLF_DEVICE_CPU) {
            cpus++;
            clf_gemm_provider prov = CLF_GEMM_AUTO;
            double t0 = clf__now();
            cr_assert_eq(clf_gemm_choose(ctx, 128, 768, 768, CLF_F32, CLF_F32, &prov), CLF_OK);
            cr_assert_eq(clf_gemm_choose(ctx, 1, 768, 768, CLF_F32, CLF_F32, &prov), CLF_OK);
            double took = clf__now() - t0;
            cr_assert_eq(prov, CLF_GEMM_BUILTIN);
            cr_assert_lt(took, 0.05, "no measurement on a CPU device (took %.3f s)", took);
            cr_assert_eq(count_prefix(dir, "gemm-choice-"), 0, "nothing measured, nothing saved");
        }
        clf_context_free(ctx);
        clft_rmtree(dir);
    }
    if (cpus == 0) cr_skip_test("no CPU device");
}

Test(gemm, bad_arguments_are_refused_with_the_shapes)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < nd; d++) {
        clf_context *ctx = clft_context(specs[d], NULL);
        clf_tensor a, b, c, bad, ids, bias;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 6}, &a), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){5, 6}, &b), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 5}, &c), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){4, 7}, &bad), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_I32, 2, (int64_t[]){4, 6}, &ids), CLF_OK);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){4}, &bias), CLF_OK);
        clf_gemm_params p = clf_gemm_params_default();
        p.trans_b = true;
        p.provider = CLF_GEMM_BUILTIN;
        cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_OK, "%s", clf_context_last_error(ctx));
        cr_assert_eq(clf_gemm(ctx, &a, &b, &bad, &p), CLF_ERR_SHAPE);
        const char *msg = clf_context_last_error(ctx);
        cr_assert(strstr(msg, "clf_gemm") && strstr(msg, "f32[4,7]"), "%s", msg);
        p.trans_b = false;
        cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_ERR_SHAPE, "K mismatch without transpose");
        p.trans_b = true;
        cr_assert_eq(clf_gemm(ctx, &ids, &b, &c, &p), CLF_ERR_DTYPE);
        cr_assert(strstr(clf_context_last_error(ctx), "i32"));
        cr_assert_eq(clf_gemm(ctx, NULL, &b, &c, &p), CLF_ERR_INVALID_ARG);
        p.bias = &bias;
        cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_ERR_SHAPE, "bias of the wrong length");
        p.bias = NULL;
        clf_tensor ct, col; /* (4, 5) as a transposed view of (5, 4): innermost stride 4 */
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){5, 4}, &ct), CLF_OK);
        cr_assert_eq(clf_tensor_permute(&ct, (int[]){1, 0}, &col), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &a, &b, &col, &p), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_context_last_error(ctx), "contiguous"));
        clf_tensor alias;
        cr_assert_eq(clf_tensor_view(&a, 2, (int64_t[]){4, 5}, (int64_t[]){6, 1}, 0, &alias), CLF_OK);
        cr_assert_eq(clf_gemm(ctx, &a, &b, &alias, &p), CLF_ERR_INVALID_ARG, "c overlaps a");
        /* CLBlast takes uniform dtypes only. */
        clf_tensor b16;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F16, 2, (int64_t[]){5, 6}, &b16), CLF_OK);
        p.provider = CLF_GEMM_CLBLAST;
        cr_assert_eq(clf_gemm(ctx, &a, &b16, &c, &p), CLF_ERR_UNSUPPORTED);
        cr_assert(strstr(clf_context_last_error(ctx), "CLBlast"));
        /* A tensor of another context. */
        clf_context *other = clft_context(specs[d], NULL);
        clf_tensor foreign;
        cr_assert_eq(clf_tensor_create(other, CLF_F32, 2, (int64_t[]){5, 6}, &foreign), CLF_OK);
        p.provider = CLF_GEMM_BUILTIN;
        cr_assert_eq(clf_gemm(ctx, &a, &foreign, &c, &p), CLF_ERR_CONTEXT);
        clf_tensor_free(&foreign);
        clf_context_free(other);
        /* A bad override. */
        setenv("CLFORMER_GEMM", "cublas", 1);
        p.provider = CLF_GEMM_AUTO;
        cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_ERR_INVALID_ARG);
        cr_assert(strstr(clf_context_last_error(ctx), "CLFORMER_GEMM"));
        setenv("CLFORMER_GEMM", "builtin", 1);
        cr_assert_eq(clf_gemm(ctx, &a, &b, &c, &p), CLF_OK, "the override avoids measuring");
        unsetenv("CLFORMER_GEMM");
        clf_tensor *all[] = {&a, &b, &c, &bad, &ids, &bias, &b16, &ct};
        for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clf_tensor_free(all[i]);
        clf_context_free(ctx);
    }
}

/* Half arithmetic (clf_kernel_profile.half_math, forced with
 * CLFORMER_HALF_MATH): the tiled GEMM (GPU family, M > 8) and the GEMV (M up
 * to the profile's gemv_max_m) with f16 B, in both families, every epilogue,
 * against the float64 reference on the f16-rounded B and the unrounded A.
 *
 * Bound. Let u = 2^-11 (half's unit roundoff); a rounding to nearest leaves a
 * relative error roughly uniform in [-u, u], variance u^2/3. Level 1 rounds A
 * to half and each product to half: two roundings per term, independent
 * between terms, so with zero-mean random terms the sum's NMSE is about
 * 2 u^2/3 = 1.6e-7 whatever K (the f32 sum adds ~K 2^-48). Level 2 instead
 * fma-accumulates T terms in half before the f32 sum (T = TK <= 16 in the
 * tiled kernel, CLF_HK = 8 vector steps per lane in the GEMV): the j-th add
 * rounds a partial sum of variance ~j, adding u^2/3 T/2 (over T terms) to A's
 * rounding: u^2/3 (1 + 8) = 7e-7. An f16 C adds one more u^2/3. The bound is
 * ten times the expectation: 1.6e-6 (level 1), 7.2e-6 (level 2), + 7.9e-7
 * for f16 C; one missing or doubled term costs ~1/K >= 6e-5 here. The
 * K = 16411 GEMV case shows why sums go to f32: a lane's half sum over all
 * its 1024 steps (CLF_HK never reached: no flush) measured NMSE ~2e-5 (256
 * steps at K = 4099: 4.7e-6, inside the bound, so that case was too short).
 * The half path must also show in the programs built (-DCLF_HALF_MATH=n)
 * and in the error: at least one case above 1e-9, which f32 arithmetic on
 * these inputs stays far below (~1e-12). */
static const gcase half_cases[] = {
    {1, 1, 61, 16411, 0, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_NONE, 0, 0},
    {1, 1, 97, 300, 0, 0, F32, F16, F32, 0, 0.5f, 1, CLF_ACT_SILU, 0, 0},
    {2, 7, 50, 33, 1, 0, F32, F16, F32, 0, 0, 1, CLF_ACT_TANH, 1, 0},
    {1, 13, 67, 129, 0, 1, F32, F16, F32, 0, 0, 1, CLF_ACT_GELU_TANH, 0, 0},
    {1, 65, 33, 17, 1, 0, F16, F16, F32, -2, 0.25f, 1, CLF_ACT_RELU, 0, 0},
    {1, 29, 250, 96, 0, 0, F16, F16, F16, 0, 0.5f, 1, CLF_ACT_GELU, 0, 0},
};

/* In the family CLFORMER_KERNELS picks (CI runs both), the cases that take
 * a half path there: the GEMV (M <= gemv_max_m) and, in the GPU family, the
 * tiled kernel. Kernel builds dominate the time (~2.5 s a program on Intel's
 * CPU runtime), so programs come from the model tests' shared cache, and
 * each case runs once: level 1 all but case 4 (the ReLU / transposed-A /
 * f16-A one), which runs on the small device; level 2 cases 0 (GEMV, long K)
 * and 3 (tiled). */
Test(gemm, half_math_matches_reference_within_f16_bounds, .timeout = 300)
{
    char specs[16][32], none[512] = "";
    int nd = clft_devices_or_skip(specs, 16), ran = 0;
    for (int d = 0; d < nd; d++)
        for (int level = 1; level <= 2; level++) {
            cr_assert_eq(setenv("CLFORMER_HALF_MATH", level == 1 ? "1" : "2", 1), 0);
            clf_context *ctx = clft_model_context(specs[d]);
            const clf_kernel_profile *pr = clf_context_kernel_profile(ctx);
            if (!pr->limits.fp16) {
                /* Not applicable: said in the log, and a skip below if no device ran it. */
                cr_assert_eq(pr->half_math, 0, "%s: half math %d without cl_khr_fp16", specs[d],
                             pr->half_math);
                if (level == 1) {
                    cr_log_warn("gemm half math: %s (%s) has no cl_khr_fp16: not applicable, "
                                "not tested there", specs[d], ctx->info.name);
                    if (strlen(none) + strlen(specs[d]) + 2 < sizeof none)
                        strcat(strcat(none, " "), specs[d]);
                }
                clf_context_free(ctx);
                continue;
            }
            cr_assert_eq(pr->half_math, level, "%s: CLFORMER_HALF_MATH=%d not applied (%d)", specs[d],
                         level, pr->half_math);
            double worst = 0;
            int cases = 0;
            for (size_t i = 0; i < sizeof half_cases / sizeof half_cases[0]; i++) {
                const gcase *g = &half_cases[i];
                if (g->m > pr->gemv_max_m && pr->family != CLF_KERNELS_GPU) continue;
                if (i == 4 || (level == 2 && i % 3 != 0)) continue; /* fewer cold builds */
                double e = gemm_case_run_within(ctx, g, CLF_GEMM_BUILTIN, (int)i, gemm_case_half_bound(level, g));
                if (e > worst) worst = e;
                cases++;
            }
            const char *opt = level == 1 ? "-DCLF_HALF_MATH=1" : "-DCLF_HALF_MATH=2";
            cr_assert_gt(gemm_programs_with(ctx, opt), 0, "%s: no GEMM program with %s", specs[d], opt);
            cr_assert_gt(worst, 1e-9, "%s %s level %d: worst NMSE %.3g: f32 arithmetic, not half",
                         specs[d], clf_kernel_family_name(pr->family), level, worst);
            cr_log_info("gemm half math: %s %s kernels level %d: %d cases, worst NMSE %.3g", specs[d],
                        clf_kernel_family_name(pr->family), level, cases, worst);
            ran++;
            clf_context_free(ctx);
        }
    /* A small device (64 work-items, 16 KiB): a smaller tile, level 1. */
    cr_assert_eq(setenv("CLFORMER_HALF_MATH", "1", 1), 0);
    cr_assert_eq(setenv("CLFORMER_DEVICE_LIMITS", "wg=64,local=16K", 1), 0);
    for (int d = 0; d < nd; d++) {
        clf_context *ctx = clft_model_context(specs[d]);
        const clf_kernel_profile *pr = clf_context_kernel_profile(ctx);
        if (pr->half_math && pr->family == CLF_KERNELS_GPU) {
            gemm_case_run_within(ctx, &half_cases[4], CLF_GEMM_BUILTIN, 4, gemm_case_half_bound(1, &half_cases[4]));
            cr_assert_gt(gemm_programs_with(ctx, "-DCLF_HALF_MATH=1"), 0, "%s: small device", specs[d]);
        }
        clf_context_free(ctx);
    }
    unsetenv("CLFORMER_DEVICE_LIMITS");
    unsetenv("CLFORMER_HALF_MATH");
    if (!ran) cr_skip_test("gemm half math: no test device has cl_khr_fp16 (%s): not applicable", none);
}
