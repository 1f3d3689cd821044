/* float64 reference GEMM for the conformance tests. */
#ifndef CLFT_REF_GEMM_H
#define CLFT_REF_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#include <clformer/clformer.h>

/* out[b] = act(alpha * op(A[b]) op(B[b]) + beta * C[b] + bias), all row-major
 * and dense: A (batch_a, M, K) or (batch_a, K, M) if trans_a, B likewise
 * (N, K) if trans_b; batch_a / batch_b are 1 (shared) or batch. c may be
 * NULL when beta == 0; bias NULL or (N). out is (batch, M, N). */
void ref_gemm(int64_t batch, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
              double alpha, const float *a, int64_t batch_a, const float *b, int64_t batch_b,
              double beta, const float *c, const float *bias, clf_act act, double *out);

/* Row a of k elements as clf_gemv's Q4 x int8 form sees it (kernels/
 * gemm_common.cl clf_q4_agroup): each 32-element group in whole pairs
 * (below k - k % 64) as int8 codes rint(a * (127 / max|a|)) times
 * max|a| / 127, in the kernel's f32 steps; the rest as it is. */
void ref_q4_int8_row(const float *a, int64_t k, float *out);

/* The activation in float64. */
double ref_act(clf_act act, double x);

#endif
