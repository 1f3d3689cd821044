/* References for clf_argmax and clf_topk: exact orderings in plain C. */
#ifndef CLFT_REF_TOPK_H
#define CLFT_REF_TOPK_H

#include <stdint.h>

/* The order both ops promise: larger value first, equal values (-0 == +0)
 * by lower column, NaN after every number. x (R, V) dense row-major. */

/* idx[r] = the first column holding the largest value of row r (0 for a
 * row of NaN). */
void ref_argmax(const float *x, int64_t R, int64_t V, int32_t *idx);

/* The k largest entries of each row in that order: values (R, k) as double,
 * indices (R, k). */
void ref_topk(const float *x, int64_t R, int64_t V, int64_t k, double *values, int32_t *indices);

#endif
