/*
 * float64 references for copy and kv_append, and the view arithmetic the
 * other references and tests share: where the flat row-major element i of a
 * strided view lives in its buffer.
 */
#ifndef CLFT_REF_COPY_H
#define CLFT_REF_COPY_H

#include <stdint.h>

/* Buffer element of the flat row-major element `flat` of the view
 * (ndim, shape, stride, offset); strides and offset in elements. */
int64_t ref_view_index(int ndim, const int64_t *shape, const int64_t *stride, int64_t offset,
                       int64_t flat);

/* out (dense, row-major, numel of shape) = the view of buf, as double. This
 * is the reference of clf_copy: the device must produce these values in the
 * destination's order (rounded to the destination's storage). */
void ref_copy(const float *buf, int ndim, const int64_t *shape, const int64_t *stride,
              int64_t offset, double *out);

/* The reference of clf_kv_append on dense row-major arrays: cache
 * (B, cap, H, Dh) in and out, src (B, n, H, Dh); positions [pos, pos + n)
 * of the cache are replaced by src, everything else is kept. */
void ref_kv_append(double *cache, int64_t B, int64_t cap, int64_t H, int64_t Dh, int64_t pos,
                   const double *src, int64_t n);

#endif
