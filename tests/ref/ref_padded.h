/*
 * Padded device tensors for op conformance tests (softmax, norm,
 * elementwise): a view of `shape` placed inside a bigger buffer, with a lead
 * of spare elements in front, a gap after every innermost row and an optional
 * innermost stride of 2, so that the view has an offset and non-trivial
 * strides. Everything outside the view holds a sentinel; after an op, the
 * whole buffer is read back and every element outside the view must still
 * hold it, so a kernel that writes out of bounds fails.
 *
 * Header-only (static functions) so the three op tests can share it without
 * another entry in tests/meson.build.
 */
#ifndef CLFT_REF_PADDED_H
#define CLFT_REF_PADDED_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>

#define CLFT_SENTINEL 7.25f /* exact in f16 */

typedef struct clft_padded {
    clf_tensor whole;         /* the buffer as one contiguous 1-D tensor */
    clf_tensor view;          /* what the op sees */
    int64_t numel;            /* elements of the view */
    int64_t *pos;             /* (numel): buffer index of each view element, row-major */
    float *host;              /* (buffer elements): mirror of the buffer */
    int64_t n_whole;
} clft_padded;

/* Rounds v through the storage dtype (f16 or f32), in place. */
static inline void clft_round_to(clf_dtype dt, float *v, int64_t n)
{
    if (dt != CLF_F16) return;
    uint16_t h;
    for (int64_t i = 0; i < n; i++) {
        clf_f32_to_f16(&v[i], &h, 1);
        clf_f16_to_f32(&h, &v[i], 1);
    }
}

/* Makes a padded tensor: lead elements in front, gap after each innermost
 * row, innermost stride inner (1 or 2). Values: sentinel everywhere, NaN in
 * the view (the poison); call clft_padded_set to give the view values. */
static inline void clft_padded_make(clf_context *ctx, clf_dtype dt, int ndim,
                                    const int64_t *shape, int64_t lead, int64_t gap,
                                    int64_t inner, clft_padded *p)
{
    memset(p, 0, sizeof *p);
    int64_t stride[CLF_MAX_DIMS];
    int64_t s = inner * shape[ndim - 1] + gap;
    stride[ndim - 1] = inner;
    for (int d = ndim - 2; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
    p->n_whole = lead + s + 3; /* a few spare elements after the last row too */
    cr_assert_eq(clf_tensor_create(ctx, dt, 1, &p->n_whole, &p->whole), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    cr_assert_eq(clf_tensor_view(&p->whole, ndim, shape, stride, lead, &p->view), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    p->numel = clf_tensor_numel(&p->view);
    p->pos = malloc((size_t)p->numel * sizeof *p->pos);
    p->host = malloc((size_t)p->n_whole * sizeof *p->host);
    cr_assert(p->pos && p->host);
    for (int64_t i = 0; i < p->n_whole; i++) p->host[i] = CLFT_SENTINEL;
    for (int64_t i = 0; i < p->numel; i++) {
        int64_t rest = i, at = lead;
        for (int d = ndim - 1; d >= 0; d--) {
            at += (rest % shape[d]) * stride[d];
            rest /= shape[d];
        }
        p->pos[i] = at;
        p->host[at] = NAN;
    }
}

/* Puts vals (numel, row-major) into the view, first rounding them in place
 * to the storage dtype so the caller's reference sees what the device sees. */
static inline void clft_padded_set(clft_padded *p, float *vals)
{
    clft_round_to(p->view.dtype, vals, p->numel);
    for (int64_t i = 0; i < p->numel; i++) p->host[p->pos[i]] = vals[i];
}

static inline void clft_padded_upload(clf_context *ctx, clft_padded *p)
{
    cr_assert_eq(clf_tensor_write_f32(ctx, &p->whole, p->host, p->n_whole), CLF_OK, "%s",
                 clf_context_last_error(ctx));
}

/* Reads the buffer back; out (numel) gets the view's values. Returns the
 * number of elements outside the view that lost their sentinel. */
static inline int64_t clft_padded_download(clf_context *ctx, clft_padded *p, float *out)
{
    cr_assert_eq(clf_tensor_read_f32(ctx, &p->whole, p->host, p->n_whole), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    for (int64_t i = 0; i < p->numel; i++) {
        out[i] = p->host[p->pos[i]];
        p->host[p->pos[i]] = CLFT_SENTINEL; /* so the scan below skips the view */
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < p->n_whole; i++) bad += p->host[i] != CLFT_SENTINEL;
    for (int64_t i = 0; i < p->numel; i++) p->host[p->pos[i]] = out[i];
    return bad;
}

static inline void clft_padded_free(clft_padded *p)
{
    clf_tensor_free(&p->whole);
    free(p->pos);
    free(p->host);
    memset(p, 0, sizeof *p);
}

#endif
