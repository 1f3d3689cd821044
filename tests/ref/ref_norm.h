/* float64 reference for clf_norm (tests/ref/ref_norm.c). */
#ifndef CLFT_REF_NORM_H
#define CLFT_REF_NORM_H

#include <stdint.h>

/* For each of rows rows of D (dense, row-major): s = x + residual (residual
 * may be NULL); rms = 0: y = (s - mean) / sqrt(var + eps) * gamma + beta
 * (beta may be NULL), population variance; rms = 1: y = s / sqrt(mean(s^2) +
 * eps) * gamma. sum (may be NULL) receives s. */
void clft_ref_norm(int rms, const float *x, const float *residual, const float *gamma,
                   const float *beta, int64_t rows, int64_t D, double eps, double *y, double *sum);

#endif
