/*
 * GEMM providers share one normalised problem description, built and
 * checked once by clf_gemm(): every provider sees the same M, N, K, batch,
 * operands (buffer, element offset, leading dimension, batch stride, dtype)
 * and epilogue.
 */
#ifndef CLF_GEMM_INTERNAL_H
#define CLF_GEMM_INTERNAL_H

#include "ops/ops_internal.h"

typedef struct clf__gemm_operand {
    const clf_tensor *t;  /* the caller's tensor */
    cl_mem mem;
    cl_ulong offset;      /* elements */
    int64_t ld;           /* elements between rows as stored */
    int64_t batch_stride; /* elements between batches; 0 = shared by every batch */
    clf_dtype dtype;
    cl_ulong scale_offset; /* CLF_Q8, CLF_Q4: floats from the buffer start to this view's row 0 scale */
} clf__gemm_operand;

typedef struct clf__gemm_desc {
    int64_t m, n, k, batch;
    bool trans_a, trans_b;
    clf__gemm_operand a, b, c;
    float alpha, beta;
    const clf_tensor *bias; /* NULL or (N) */
    clf_act act;
    clf_tensor *c_tensor;   /* for epilogues applied as separate ops */
} clf__gemm_desc;

/* Providers. Each returns CLF_ERR_UNSUPPORTED (with a message) for a problem
 * it cannot do, so auto can fall back. */
clf_status clf__gemm_clblast(clf_context *ctx, const clf__gemm_desc *d);
clf_status clf__gemm_builtin(clf_context *ctx, const clf__gemm_desc *d);

/* int8 x int8 (gemm_i8.c): whether clf_gemm takes the dynamic int8 path for
 * d (the profile's gemm_i8, a Q8 b, small M, plain epilogue), and that path:
 * a's rows quantised into a scratch buffer, then integer products. */
bool clf__gemm_i8_eligible(const clf_context *ctx, const clf__gemm_desc *d);
clf_status clf__gemm_i8_dynamic(clf_context *ctx, const clf__gemm_desc *d);

/* Whether CLBlast can take the problem at all (dtypes, device fp16). */
bool clf__gemm_clblast_supports(const clf_context *ctx, const clf__gemm_desc *d);

/* The provider auto uses for d, from the cached per-device choice. */
clf_status clf__gemm_auto_provider(clf_context *ctx, const clf__gemm_desc *d,
                                   clf_gemm_provider *out);

#endif
