/* float64 references for the elementwise ops (tests/ref/ref_elementwise.c). */
#ifndef CLFT_REF_ELEMENTWISE_H
#define CLFT_REF_ELEMENTWISE_H

#include <stddef.h>
#include <stdint.h>

/* One activation in float64; act is a clf_act value. */
double clft_ref_act(int act, double x);

/* y[i] = act(x[i]) for n elements. */
void clft_ref_activation(int act, const float *x, double *y, size_t n);

/* y[i] = s * x[i]. */
void clft_ref_scale(const float *x, double s, double *y, size_t n);

/* y = a + b over a's shape (ndim dims, row-major, dense); b (b_ndim dims,
 * dense) lines up with a's innermost dimensions, each size a's or 1. */
void clft_ref_add(int ndim, const int64_t *shape, const float *a, int b_ndim,
                  const int64_t *b_shape, const float *b, double *y);

#endif
