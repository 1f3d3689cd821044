/*
 * The autotuner's pieces inside the ops layer: workloads (tune_work.c) that
 * run one op on fixed random inputs and check it against a float64 host
 * reference, and the search over the profile's fields (tune.c).
 */
#ifndef CLF_TUNE_INTERNAL_H
#define CLF_TUNE_INTERNAL_H

#include <clformer/tune.h>

#include "ops/ops_internal.h"

typedef enum clf__tune_op {
    CLF__TUNE_GEMM = 0,    /* C (M, N) = A (M, K) B^T, B (N, K): a linear layer */
    CLF__TUNE_ATTN = 1,    /* attention, q (1, Lq, H, D), k and v (1, Lk, H, D), not causal */
    CLF__TUNE_NORM = 2,    /* layer norm of (rows, D) with gamma and beta */
    CLF__TUNE_SOFTMAX = 3, /* softmax over rows of (rows, cols) */
    CLF__TUNE_GEMM_Q8 = 4, /* CLF__TUNE_GEMM with B quantised to Q8 and packed (as a model's) */
    CLF__TUNE_GEMM_Q4 = 5, /* CLF__TUNE_GEMM with B quantised to Q4 */
} clf__tune_op;

/* One problem: the op and up to four sizes (GEMMs: M, N, K; attention: Lq,
 * Lk, H, D; norm and softmax: rows, columns). */
typedef struct clf__tune_shape {
    clf__tune_op op;
    int64_t s[4];
} clf__tune_shape;

/* A problem with its tensors on the device and, for checks, its host
 * inputs. */
typedef struct clf__tune_work {
    clf__tune_shape shape;
    clf_tensor t[5];  /* inputs then the output (last used slot) */
    int n_tensors;
    float *host[5];   /* host copies of t (inputs only; a quantised B's dequantised
                       * values); NULL when not kept */
} clf__tune_work;

/* Makes the tensors of shape sh filled with uniform values in [-1, 1) from
 * seed; keep_host keeps host copies for clf__tune_work_check. */
clf_status clf__tune_work_make(clf_context *ctx, const clf__tune_shape *sh, uint64_t seed,
                               bool keep_host, clf__tune_work *w);
void clf__tune_work_free(clf__tune_work *w);

/* Enqueues the op once with the context's current profile. */
clf_status clf__tune_work_run(clf_context *ctx, const clf__tune_work *w);

/* Poisons the output, runs the op, reads the output back and computes the
 * normalised squared error against the host reference in *nmse (NaN
 * anywhere gives +inf). The work must keep its host copies. */
clf_status clf__tune_work_check(clf_context *ctx, const clf__tune_work *w, double *nmse);

/* *base with every tunable field of its family (in registry order) set to
 * its lowest (high false) or highest candidate that keeps the profile
 * valid: the corners of the search space, for the conformance suite.
 * max_work > 0 caps the GPU GEMM's work per item (gemm_work_m, _n): the
 * 8 x 8 register block compiles for ~30 s on some drivers. */
void clf__tune_extreme(const clf_kernel_profile *base, bool high, int max_work, clf_kernel_profile *out);

/* "M=128 N=768 K=768" and the like. */
void clf__tune_shape_text(const clf__tune_shape *sh, char *buf, size_t size);

#endif
