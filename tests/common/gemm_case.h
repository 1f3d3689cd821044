/*
 * One GEMM conformance case (tests/test_gemm.c, test_gemm_pack.c): padded,
 * poisoned views of A, B and C, a float64 reference, and the bounds of
 * test_gemm.c's header.
 */
#ifndef CLFT_GEMM_CASE_H
#define CLFT_GEMM_CASE_H

#include <clformer/clformer.h>
#include <stdbool.h>

#include "common/testutil.h"

typedef struct gcase {
    int64_t batch, m, n, k;
    bool ta, tb;
    clf_dtype da, db, dc;
    float alpha, beta;
    bool bias;
    clf_act act;
    bool b_shared; /* B is 2-D, shared by every batch entry */
    bool packed;   /* B goes through clf_gemm_pack_b first (2-D, trans_b) */
} gcase;

/* A random f32 bias (n) in [-1, 1) from rng, uploaded to *bias (free it
 * with clf_tensor_free); returns its host values (free them). */
float *gemm_case_bias(clf_context *ctx, clft_rng *rng, int64_t n, clf_tensor *bias);

/* Runs case g (number idx, named in failures with the seed) through provider
 * prov and asserts: status, nothing outside C written, NMSE within bound. */
void gemm_case_run(clf_context *ctx, const gcase *g, clf_gemm_provider prov, int idx);

/* The same within bound (0 = the header's bounds, or gemm_case_half_bound
 * where the builtin kernels run half arithmetic on f16 B); returns the NMSE. */
double gemm_case_run_within(clf_context *ctx, const gcase *g, clf_gemm_provider prov, int idx,
                            double bound);

/* The NMSE bound of half arithmetic at level 1 or 2 (test_gemm.c derives it). */
double gemm_case_half_bound(int level, const gcase *g);

#endif
