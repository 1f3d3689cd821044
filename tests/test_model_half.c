/*
 * Whole models with f16 weights and half arithmetic (the kernel profile's
 * half_math, forced to 1 with CLFORMER_HALF_MATH: the GPU default) against
 * the transformers goldens of tests/golden/hf (random-initialised GPT-2 and
 * BART): logits against the golden's f32 logits, and against the same model
 * with f16 weights and f32 arithmetic (CLFORMER_HALF_MATH=0) to isolate what
 * half arithmetic adds. Greedy ids are reported (agreement with the golden),
 * not required: a near-tie in a random model may flip under any rounding.
 * Runs only where the device has cl_khr_fp16 (Intel's CPU runtime here) and
 * in the GPU kernel family (the CPU family's only half path, the GEMV at
 * M = 1, is never taken by these batch-2 models); elsewhere it says it is
 * not applicable and skips.
 *
 * Bound. f16 storage rounds each weight (relative RMS u / sqrt(3), u = 2^-11)
 * and test_model.c bounds the f16 model's logits at 1e-2 relative max-norm
 * against f32. Half arithmetic at level 1 rounds the activations to half and
 * each product (NMSE ~2 u^2/3 per GEMM, test_gemm.c): about 1.4x the f16
 * weights' own output error per GEMM, so the half model's logits stay within
 * the same order: bound 1e-2 against the golden, and 1e-2 against the f16
 * model. A GEMM whose half path lost a term or a tile gives errors of order
 * 1. Measured figures are printed by the test.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/hfgold.h"
#include "common/testutil.h"

#define HALF_TOL 1e-2

static clf_model *load_f16(clf_context *ctx, const char *dir)
{
    clf_model_params p = clf_model_params_default();
    p.weight_dtype = CLF_F16;
    p.max_batch = 8, p.max_source_len = 16, p.max_target_len = 24;
    clf_model *m = NULL;
    CLFT_HF_OK(ctx, clf_model_load(ctx, dir, &p, &m));
    return m;
}

/* Logits of golden `name` (GPT-2: decode of input_ids; seq2seq: encode
 * src_ids, teacher-forced decode of tgt_ids) and greedy ids on a new context
 * with CLFORMER_HALF_MATH=level; false when the device has no fp16. */
static bool run(const char *spec, const char *name, int level, float *lg, int32_t *greedy,
                int n_new)
{
    setenv("CLFORMER_HALF_MATH", level ? "1" : "0", 1);
    clf_context *ctx = clft_model_context(spec);
    unsetenv("CLFORMER_HALF_MATH");
    if (!clf_context_kernel_profile(ctx)->limits.fp16) {
        clf_context_free(ctx);
        return false;
    }
    cr_assert_eq(clf_context_kernel_profile(ctx)->half_math, level);
    if (clf_context_kernel_profile(ctx)->family != CLF_KERNELS_GPU) {
        /* The CPU family's half path is the GEMV alone (M <= gemv_max_m = 1): these
         * batch-2 models never take it. */
        cr_log_warn("model half math: %s, CPU kernel family: no GEMM of these models takes a half "
                    "path (GEMV only, M = 1): not applicable",
                    spec);
        clf_context_free(ctx);
        return false;
    }
    clf__safetensors *st = clft_hf_golden(name);
    clf_model *m = load_f16(ctx, clft_hf_folder(name));
    bool s2s = strcmp(name, "gpt2") != 0;
    int32_t *ids = clft_st_i32(st, s2s ? "src_ids" : "input_ids");
    int32_t *sl = s2s ? clft_st_i32(st, "src_lengths") : NULL;
    const clf__st_tensor *ti = clft_st_tensor(st, s2s ? "src_ids" : "input_ids");
    int B = (int)ti->shape[0], S = (int)ti->shape[1];
    if (s2s) {
        int32_t *tgt = clft_st_i32(st, "tgt_ids");
        const clf__st_tensor *tt = clft_st_tensor(st, "tgt_ids");
        CLFT_HF_OK(ctx, clf_model_encode(m, ids, sl, B, S, CLF_POOL_NONE, NULL, NULL, NULL));
        CLFT_HF_OK(ctx, clf_model_decode(m, tgt, B, (int)tt->shape[1], 0, lg, NULL));
        free(tgt);
    } else {
        CLFT_HF_OK(ctx, clf_model_decode(m, ids, B, S, 0, lg, NULL));
    }
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = n_new;
    clf_generate_output go = {greedy, NULL, NULL, NULL, NULL};
    CLFT_HF_OK(ctx, clf_model_generate(m, ids, sl, B, S, &gp, &go));
    clf_model_free(m);
    free(ids);
    free(sl);
    clf__safetensors_free(st);
    clf_context_free(ctx);
    return true;
}

static void check_model(const char *name, const char *what)
{
    char specs[16][32];
    int nd = clft_devices_or_skip(specs, 16), ran = 0;
    enum { N = 12 };
    for (int d = 0; d < nd; d++) {
        clf__safetensors *st = clft_hf_golden(name);
        const clf__st_tensor *tl = clft_st_tensor(st, "logits");
        int B = (int)tl->shape[0], T = (int)tl->shape[1], V = (int)tl->shape[2];
        float *ref = clft_st_f32(st, "logits");
        int32_t *gref = clft_st_i32(st, "greedy_ids");
        size_t n = (size_t)B * T * V;
        float *lh = malloc(n * sizeof *lh), *l16 = malloc(n * sizeof *l16);
        int32_t gh[8 * N], g16[8 * N];
        cr_assert(B <= 8);
        if (!run(specs[d], name, 1, lh, gh, N)) {
            cr_log_warn("model half math (%s): not applicable on %s (no cl_khr_fp16 or the CPU "
                        "kernel family), not tested there",
                        what, specs[d]);
        } else {
            cr_assert(run(specs[d], name, 0, l16, g16, N));
            double e_ref = clft_rel_err(lh, ref, B, T, V, NULL);
            double e_16 = clft_rel_err(lh, l16, B, T, V, NULL);
            double e_16ref = clft_rel_err(l16, ref, B, T, V, NULL);
            int agree = 0, agree16 = 0;
            for (int i = 0; i < B * N; i++)
                agree += gh[i] == gref[i], agree16 += g16[i] == gref[i];
            printf(
                "[half] %s %s: logits relative error vs golden %.3g (f16 weights, f32 math: "
                "%.3g), vs the f16-weight model %.3g (bound %g); greedy ids equal to the golden: "
                "%d of %d (f32 math: %d)\n",
                specs[d], what, e_ref, e_16ref, e_16, HALF_TOL, agree, B * N, agree16);
            cr_assert(e_ref <= HALF_TOL && e_16 <= HALF_TOL,
                      "%s %s: %.3g vs golden, %.3g vs f16 model", specs[d], what, e_ref, e_16);
            cr_assert(e_16 > 0, "%s %s: half math changed nothing", specs[d], what);
            ran++;
        }
        free(lh), free(l16), free(ref), free(gref);
        clf__safetensors_free(st);
    }
    if (!ran)
        cr_skip_test("model half math (%s): no test device has cl_khr_fp16: not applicable", what);
}

Test(model_half, gpt2_with_half_math_stays_within_f16_bounds_of_transformers, .timeout = 300)
{
    check_model("gpt2", "GPT2LMHeadModel");
}

Test(model_half, bart_with_half_math_stays_within_f16_bounds_of_transformers, .timeout = 300)
{
    check_model("bart", "BartForConditionalGeneration");
}
