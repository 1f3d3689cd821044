/*
 * One clf_gemm case with a quantised B (Q8 or Q4), shared by test_gemm_q8.c
 * and test_gemm_q4.c: the weight quantised on the host, the kernel's output
 * against the float64 product with the dequantised weights (bound 1e-8, 1e-5
 * with f16 C: f32 rounding only) and with the raw weights (raw_bound: the
 * quantisation error, stated by each format's test).
 */
#ifndef CLFT_GEMM_QUANT_H
#define CLFT_GEMM_QUANT_H

#include <stdbool.h>

#include "clformer/clformer.h"

typedef struct qcase {
    int64_t m, n, k;
    clf_dtype da, dc;
    float alpha, beta;
    bool bias;
    clf_act act;
    int64_t row0; /* the weight is rows [row0, row0 + n) of a larger quantised tensor */
} qcase;

/* Runs g with B of dtype wdt (CLF_Q8 or CLF_Q4) on ctx, whose kernel family
 * is family; idx names the case in failures. packed: B is first packed
 * (clf_gemm_pack_b: a Q8 weight's rows interleaved) and the packed tensor
 * multiplied, against the same references. */
void clft_gemm_quant_case(clf_context *ctx, clf_dtype wdt, const qcase *g, int family, int idx,
                          double raw_bound, bool packed);

/* Every case of cases (n) on every test device, in both kernel families
 * (forced), with B of dtype wdt, packed or not. */
void clft_gemm_quant_all(clf_dtype wdt, const qcase *cases, size_t n, double raw_bound, bool packed);

#endif
