/*
 * One GEMM conformance case against the float64 reference (gemm_case.h).
 *
 * Error bound: with f32 accumulation each output carries a relative rounding
 * error of about sqrt(K) * 2^-24, so NMSE ~ K * 2^-48 (1.5e-11 at K = 4100);
 * we allow 1e-8, three orders of margin, while one missing or doubled
 * product term costs about 1/K (>= 2e-4 here). f16 inputs are rounded before
 * the reference sees them, so f16 storage only adds the output's rounding
 * (2^-11 relative: NMSE ~ 1e-7) when C is f16: bound 1e-5. CLBlast's Hgemm
 * computes in half: bound 1e-3 (TESTING.md's f16 figure).
 */
#include <math.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/gemm_case.h"
#include "common/testutil.h"
#include "ref/ref_gemm.h"
#include "ref/ref_padded.h"

static void fill(clft_rng *rng, clft_padded *p)
{
    float *v = malloc((size_t)p->numel * sizeof *v);
    clft_fill_uniform(rng, v, (size_t)p->numel, -1, 1);
    clft_padded_set(p, v);
    free(v);
}

/* The dense values of a padded view, row-major. */
static float *values(const clft_padded *p)
{
    float *v = malloc((size_t)p->numel * sizeof *v);
    for (int64_t i = 0; i < p->numel; i++)
        v[i] = p->host[p->pos[i]];
    return v;
}

float *gemm_case_bias(clf_context *ctx, clft_rng *rng, int64_t n, clf_tensor *bias)
{
    float *h = malloc((size_t)n * sizeof *h);
    clft_fill_uniform(rng, h, (size_t)n, -1, 1);
    cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){n}, bias), CLF_OK);
    cr_assert_eq(clf_tensor_write_f32(ctx, bias, h, n), CLF_OK);
    return h;
}

double gemm_case_half_bound(int level, const gcase *g)
{
    const double u2_3 = ldexp(1.0, -22) / 3;
    return 10 * u2_3 * (level == 2 ? 9 : 2) + (g->dc == CLF_F16 ? 10 * u2_3 : 0);
}

void gemm_case_run(clf_context *ctx, const gcase *g, clf_gemm_provider prov, int idx)
{
    gemm_case_run_within(ctx, g, prov, idx, 0);
}

double gemm_case_run_within(clf_context *ctx, const gcase *g, clf_gemm_provider prov, int idx,
                            double bound)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 1000 + (uint64_t)idx);
    const int nd = g->batch > 1 ? 3 : 2;
    int64_t ashape[3], bshape[3], cshape[3];
    int64_t ar = g->ta ? g->k : g->m, ac = g->ta ? g->m : g->k;
    int64_t br = g->tb ? g->n : g->k, bc = g->tb ? g->k : g->n;
    int o = nd - 2;
    ashape[0] = bshape[0] = cshape[0] = g->batch;
    ashape[o] = ar, ashape[o + 1] = ac;
    cshape[o] = g->m, cshape[o + 1] = g->n;
    int bnd = g->b_shared ? 2 : nd, bo = bnd - 2;
    bshape[0] = g->batch;
    bshape[bo] = br, bshape[bo + 1] = bc;

    clft_padded A, B, C;
    clft_padded_make(ctx, g->da, nd, ashape, 3, 5, 1, &A);
    clft_padded_make(ctx, g->db, bnd, bshape, 1, 2, 1, &B);
    clft_padded_make(ctx, g->dc, nd, cshape, 7, 3, 1, &C);
    fill(&rng, &A);
    fill(&rng, &B);
    if (g->beta != 0) fill(&rng, &C); /* else C keeps its NaN poison: it must not be read */
    clft_padded_upload(ctx, &A);
    clft_padded_upload(ctx, &B);
    clft_padded_upload(ctx, &C);
    clf_tensor packed = {0};
    if (g->packed)
        cr_assert_eq(clf_gemm_pack_b(ctx, &B.view, &packed), CLF_OK, "case %d: %s", idx,
                     clf_context_last_error(ctx));
    clf_tensor bias = {0};
    float *hbias = g->bias ? gemm_case_bias(ctx, &rng, g->n, &bias) : NULL;
    float *ha = values(&A), *hb = values(&B), *hc = values(&C);
    int64_t total = g->batch * g->m * g->n;
    double *want = malloc((size_t)total * sizeof *want);
    ref_gemm(g->batch, g->m, g->n, g->k, g->ta, g->tb, g->alpha == 0 ? 1.0 : g->alpha, ha, g->batch,
             hb, g->b_shared ? 1 : g->batch, g->beta, hc, hbias, g->act, want);

    clf_gemm_params p = clf_gemm_params_default();
    p.trans_a = g->ta;
    p.trans_b = g->tb;
    p.alpha = g->alpha;
    p.beta = g->beta;
    p.bias = g->bias ? &bias : NULL;
    p.act = g->act;
    p.provider = prov;
    clf_status st = clf_gemm(ctx, &A.view, g->packed ? &packed : &B.view, &C.view, &p);
    char what[256];
    snprintf(what, sizeof what,
             "case %d provider %d batch %lld M=%lld N=%lld K=%lld %s%s A %s B %s C %s%s "
             "alpha %g beta %g bias %d act %d%s (seed %llu)",
             idx, (int)prov, (long long)g->batch, (long long)g->m, (long long)g->n, (long long)g->k,
             g->ta ? "T" : "N", g->tb ? "T" : "N", clf_dtype_name(g->da), clf_dtype_name(g->db),
             clf_dtype_name(g->dc), g->b_shared ? " shared-B" : "", g->alpha, g->beta, g->bias,
             (int)g->act, g->packed ? " packed-B" : "", (unsigned long long)seed);
    cr_assert_eq(st, CLF_OK, "%s: %s", what, clf_context_last_error(ctx));
    float *got = malloc((size_t)total * sizeof *got);
    int64_t bad = clft_padded_download(ctx, &C, got);
    cr_assert_eq(bad, 0, "%s: %lld elements outside C were written", what, (long long)bad);
    double err = clft_nmse(got, want, (size_t)total);
    bool half_math = prov == CLF_GEMM_CLBLAST && g->da == CLF_F16;
    /* The builtin kernels' half arithmetic (the profile's half_math, f16 B; a GPU's
     * default): the bound of gemm_case_half_bound(), whichever kernel ran. */
    const clf_kernel_profile *pr = clf_context_kernel_profile(ctx);
    int hm = prov != CLF_GEMM_CLBLAST && g->db == CLF_F16 ? pr->half_math : 0;
    if (bound == 0 && hm) bound = gemm_case_half_bound(hm, g);
    if (bound == 0) bound = half_math ? 1e-3 : g->dc == CLF_F16 ? 1e-5 : 1e-8;
    cr_assert(err < bound, "%s: NMSE %.3g >= %.3g (%s kernels, half math %d)", what, err, bound,
              clf_kernel_family_name(pr->family), pr->half_math);

    free(ha), free(hb), free(hc), free(want), free(got), free(hbias);
    if (g->bias) clf_tensor_free(&bias);
    clf_tensor_free(&packed);
    clft_padded_free(&A);
    clft_padded_free(&B);
    clft_padded_free(&C);
    return err;
}
