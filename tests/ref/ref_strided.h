/*
 * Strided device buffers for the copy, embed and topk tests: a buffer of n
 * elements seen as a 1-D tensor (any views are made on it), with a host image
 * that holds a sentinel everywhere outside the views. After an op the whole
 * buffer is read back: each element outside the destination view must still
 * hold its uploaded value, so a kernel that writes out of bounds fails.
 * Works for f32, f16 and i32 buffers (i32 values are small integers, exact
 * as floats; the sentinel is 7 there).
 *
 * Header-only (static functions) so the three tests share it without another
 * library entry in tests/meson.build.
 */
#ifndef CLFT_REF_STRIDED_H
#define CLFT_REF_STRIDED_H

#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>

#include "common/testutil.h"
#include "ref/ref_copy.h"

#define SENTINEL 7.25f /* exact in f16; i32 buffers hold 7 */
#define LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A device buffer of n elements seen as a 1-D tensor, with its host image. */
typedef struct pbuf {
    clf_tensor base;
    int64_t n;
    float *host; /* what was uploaded: sentinel outside the views */
} pbuf;

static inline void pbuf_make(clf_context *ctx, clf_dtype dt, int64_t n, pbuf *p)
{
    p->n = n;
    cr_assert_eq(clf_tensor_create(ctx, dt, 1, &n, &p->base), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    p->host = malloc((size_t)n * sizeof *p->host);
    for (int64_t i = 0; i < n; i++) p->host[i] = dt == CLF_I32 ? 7.0f : SENTINEL;
}

static inline void pbuf_free(pbuf *p)
{
    clf_tensor_free(&p->base);
    free(p->host);
}

/* Strides of a view of shape whose storage order is perm (storage dimension
 * i holds logical dimension perm[i]) with `pad` spare elements after each
 * innermost storage row. Returns the elements the storage spans. */
static inline int64_t layout(int ndim, const int64_t *shape, const int *perm, int64_t pad,
                      int64_t *stride)
{
    int64_t s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[perm[i]] = s;
        s *= shape[perm[i]] + (i == ndim - 1 ? pad : 0);
    }
    return s;
}

/* Places vals (row-major over v's shape) at v's elements in the host image. */
static inline void pbuf_set(pbuf *p, const clf_tensor *v, const float *vals)
{
    int64_t n = clf_tensor_numel(v);
    for (int64_t i = 0; i < n; i++)
        p->host[ref_view_index(v->ndim, v->shape, v->stride, v->offset, i)] = vals[i];
}

static inline void pbuf_upload(clf_context *ctx, pbuf *p)
{
    cr_assert_eq(clf_tensor_write_f32(ctx, &p->base, p->host, p->n), CLF_OK, "%s",
                 clf_context_last_error(ctx));
}

/* Reads the whole buffer; checks that every element outside v is unchanged
 * and returns v's elements (row-major) in out. */
static inline void pbuf_fetch(clf_context *ctx, pbuf *p, const clf_tensor *v, float *out,
                       const char *what)
{
    float *all = malloc((size_t)p->n * sizeof *all);
    char *in_view = calloc((size_t)p->n, 1);
    cr_assert_eq(clf_tensor_read_f32(ctx, &p->base, all, p->n), CLF_OK, "%s",
                 clf_context_last_error(ctx));
    int64_t n = clf_tensor_numel(v);
    for (int64_t i = 0; i < n; i++) {
        int64_t j = ref_view_index(v->ndim, v->shape, v->stride, v->offset, i);
        in_view[j] = 1;
        out[i] = all[j];
    }
    for (int64_t j = 0; j < p->n; j++)
        cr_assert(in_view[j] || all[j] == p->host[j],
                  "%s: element %lld outside the destination changed: %g (seed %llu)", what,
                  (long long)j, all[j], (unsigned long long)clft_seed());
    free(in_view);
    free(all);
}

/* Values a tensor of dtype dt can hold exactly, from the rng. */
static inline void random_values(clft_rng *r, clf_dtype dt, float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (dt == CLF_I32) {
            x[i] = (float)((int64_t)(clft_next(r) % 33554433u) - 16777216); /* |x| <= 2^24 */
        } else {
            x[i] = clft_uniform(r, -1.0f, 1.0f);
            if (dt == CLF_F16) {
                uint16_t h;
                clf_f32_to_f16(&x[i], &h, 1);
                clf_f16_to_f32(&h, &x[i], 1);
            }
        }
    }
}

/* What dst must hold for source value v: the value rounded to dst's storage. */
static inline float stored_as(clf_dtype dt, float v)
{
    if (dt != CLF_F16) return v;
    uint16_t h;
    clf_f32_to_f16(&v, &h, 1);
    clf_f16_to_f32(&h, &v, 1);
    return v;
}

/* A pbuf holding one view of shape: storage order perm (NULL = row-major),
 * pad spare elements after each innermost storage row, front elements
 * before it and a few after. */
static inline void pbuf_make_view(clf_context *ctx, clf_dtype dt, int ndim, const int64_t *shape,
                                  const int *perm, int64_t pad, int64_t front, pbuf *p,
                                  clf_tensor *v)
{
    static const int ident[4] = {0, 1, 2, 3};
    int64_t stride[4];
    int64_t span = layout(ndim, shape, perm ? perm : ident, pad, stride);
    pbuf_make(ctx, dt, front + span + 4, p);
    cr_assert_eq(clf_tensor_view(&p->base, ndim, shape, stride, front, v), CLF_OK, "%s",
                 clf_context_last_error(ctx));
}

/* Checks an error path: the status, and the op's name in the message. */
static inline void expect_error(clf_context *ctx, clf_status got, clf_status want, const char *op,
                                const char *what)
{
    cr_assert_eq(got, want, "%s: got %s, expected %s (%s)", what, clf_status_name(got),
                 clf_status_name(want), clf_context_last_error(ctx));
    cr_assert(strstr(clf_context_last_error(ctx), op), "%s: message \"%s\" does not name %s",
              what, clf_context_last_error(ctx), op);
}

#endif
