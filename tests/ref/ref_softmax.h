/* float64 reference for clf_softmax (tests/ref/ref_softmax.c). */
#ifndef CLFT_REF_SOFTMAX_H
#define CLFT_REF_SOFTMAX_H

#include <stdint.h>

/* y = softmax(scale * x + mask) over the last dimension of x (ndim dims,
 * dense, row-major), or log-softmax. mask: NULL, or dense with mask_ndim
 * dims lining up with x's innermost dimensions, each size x's or 1
 * (broadcast). causal: column c of row r (r = index in the second-to-last
 * dimension, of size R) is visible when c <= r + C - R. A row with nothing
 * visible is zeros (log: -inf). */
void clft_ref_softmax(int ndim, const int64_t *shape, const float *x, double scale,
                      int mask_ndim, const int64_t *mask_shape, const float *mask, int causal,
                      int log, double *y);

#endif
