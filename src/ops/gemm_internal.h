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
    bool packed;           /* b only: panels of clf_gemm_pack_b; ld is then K rounded up */
} clf__gemm_operand;

/* A norm folded into A (clf_gemm_norm; the walking GEMV only): f32 (K) and
 * (1, K) tensors, checked by clf_gemm. */
typedef struct clf__gemm_norm {
    int type; /* kernels/gemv.cl CLF_GNORM: 1 LayerNorm, 2 RMSNorm */
    float eps;
    const clf_tensor *residual, *gamma, *beta; /* residual, beta may be NULL */
    clf_tensor *sum;                           /* NULL or x + residual */
} clf__gemm_norm;

typedef struct clf__gemm_desc {
    int64_t m, n, k, batch;
    bool trans_a, trans_b;
    clf__gemm_operand a, b, c;
    float alpha, beta;
    const clf_tensor *bias; /* NULL or (N) */
    clf_act act;
    clf_tensor *c_tensor;   /* for epilogues applied as separate ops */
    const clf__gemm_norm *norm; /* NULL, or A is this norm of a (only where the builtin
                                 * provider walks: clf__gemm_builtin_walks) */
} clf__gemm_desc;

/* The CPU register kernel's tile for Linear weights (trans_b), in one place
 * so that a tuner can move it: rm x rn accumulators of rv floats per
 * work-item, local size (lx, ly) before it shrinks for short M or a small
 * device. A packed B (clf_gemm_pack_b) has panels of rn rows and rv-wide
 * K-steps: packing and the kernel read the same fields. */
typedef struct clf__reg_tile {
    int rm, rn, rv, lx, ly; /* plain (N, K) weights: the dot-product form */
    /* Packed weights (the broadcast form): panels of pn output columns (a
     * multiple of rv), K-steps of pv = 1, prm rows x pn columns per
     * work-item. */
    int pn, pv, prm;
} clf__reg_tile;
void clf__gemm_reg_tile(const clf_context *ctx, clf__reg_tile *t);

/* Providers. Each returns CLF_ERR_UNSUPPORTED (with a message) for a problem
 * it cannot do, so auto can fall back. */
clf_status clf__gemm_clblast(clf_context *ctx, const clf__gemm_desc *d);
clf_status clf__gemm_builtin(clf_context *ctx, const clf__gemm_desc *d);
/* Whether the builtin provider takes d with the walking GEMV (kernels/gemv.cl
 * CLF_GWALK), the one kernel that folds a norm into A. */
bool clf__gemm_builtin_walks(const clf_context *ctx, const clf__gemm_desc *d);

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
