/*
 * tests/oclgrind_ops: what the driver (oclgrind_ops.c) and its cases
 * (oclgrind_cases.c) share: a case's state, device buffers with sentinels
 * around the view an op sees, and the checks against the references.
 */
#ifndef CLFT_OCLGRIND_OPS_H
#define CLFT_OCLGRIND_OPS_H

#include <stddef.h>
#include <stdint.h>

#include <clformer/clformer.h>

#include "common/testutil.h"

#define MAX_OWNED 160
#define F32 CLF_F32
#define F16 CLF_F16
#define I32 CLF_I32

/* One case's state: the context, its rng, what to free, the first failure. */
typedef struct og_run {
    clf_context *ctx;
    clft_rng rng;
    int cpu; /* the family: 1 CPU, 0 GPU */
    char why[1024];
    double worst;         /* largest NMSE / bound seen */
    void *mem[MAX_OWNED]; /* host memory: freed after the case */
    int n_mem;
} og_run;

/* Records the first failure of the case (printf format); returns 1. */
int og_fail(og_run *r, const char *fmt, ...);

/* Fails the case with the library's message when expr is not CLF_OK. */
#define TRY(r, expr)                                                                               \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        if (st_ != CLF_OK)                                                                         \
            return og_fail(r, "%s: %s: %s", #expr, clf_status_name(st_),                           \
                           clf_context_last_error((r)->ctx));                                      \
    } while (0)

/* Zeroed host memory, freed after the case. */
void *og_hmem(og_run *r, size_t n);
#define HOST(r, type, n) ((type *)og_hmem((r), (size_t)(n) * sizeof(type)))

/* A 1-D device buffer of n elements with its host image (sentinels), and a
 * view into it that the op sees. */
typedef struct og_view {
    clf_tensor whole, v;
    float *host;
    int64_t n;
} og_view;

/* A view of shape stored in the order perm (NULL: row-major; storage
 * dimension i holds logical dimension perm[i]) with gap spare elements after
 * each innermost storage row and lead elements in front; sentinels around. */
int og_pv_make(og_run *r, og_view *p, clf_dtype dt, int ndim, const int64_t *shape, const int *perm,
               int64_t lead, int64_t gap);
/* Puts vals (row-major over the view, rounded in place to the dtype) into
 * the view and uploads the buffer. */
int og_pv_set(og_run *r, og_view *p, float *vals);
/* Random values in [lo, hi) for the view; returns them (row-major), NULL on
 * failure. */
float *og_pv_random(og_run *r, og_view *p, float lo, float hi);
/* An output: NaN in the view (an element never written fails). */
int og_pv_poison(og_run *r, og_view *p);
/* Reads the buffer back: out (row-major) gets the view; every element
 * outside it must be unchanged. */
int og_pv_get(og_run *r, og_view *p, float *out, const char *what);
/* NMSE of the view against ref, under bound. */
int og_pv_expect(og_run *r, og_view *p, const double *ref, double bound, const char *what);

/* v rounded through the storage dtype. */
float og_stored(clf_dtype dt, float v);
/* v as doubles (host memory of the case). */
double *og_dense(og_run *r, const float *v, int64_t n);

int og_each(og_run *r, int (*fn)(og_run *, const void *), const void *t, size_t n, size_t size);
/* Runs fn on each entry of the table t; 1 at the first failure. */
#define EACH(r, fn, t) og_each((r), (fn), (t), sizeof(t) / sizeof((t)[0]), sizeof((t)[0]))

/* The cases (oclgrind_cases.c): 0 passed, 1 failed (r->why says why). */
int case_gemm_nt(og_run *r);
int case_gemm_packed(og_run *r);
int case_gemm_nn(og_run *r);
int case_gemv(og_run *r);
int case_gemm_q8(og_run *r);
int case_gemm_q4(og_run *r);
int case_gemm_i16(og_run *r);
int case_attn_flash(og_run *r);
int case_attn_decode(og_run *r);
int case_attn_unfused(og_run *r);
int case_softmax_rows(og_run *r);
int case_softmax_vec(og_run *r);
int case_norm_rows(og_run *r);
int case_norm_vec(og_run *r);
int case_ew_unary(og_run *r);
int case_ew_add(og_run *r);
int case_embed(og_run *r);
int case_topk_vec(og_run *r);
int case_topk_rows(og_run *r);
int case_copy(og_run *r);
int case_fill(og_run *r);
int case_selftest(og_run *r);
/* oclgrind_batch.c */
int case_batch_rows(og_run *r);

#endif
