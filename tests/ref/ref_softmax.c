/* float64 reference for clf_softmax: three plain passes per row. */
#include "ref/ref_softmax.h"

#include <math.h>
#include <stdlib.h>

/* Index into the broadcast mask of element (row-major flat index i) of x. */
static int64_t mask_index(int ndim, const int64_t *shape, int mask_ndim, const int64_t *mshape,
                          int64_t i)
{
    int64_t mi = 0, mstride = 1;
    for (int d = ndim - 1, md = mask_ndim - 1; d >= 0 && md >= 0; d--, md--) {
        int64_t c = i % shape[d];
        i /= shape[d];
        if (mshape[md] != 1) mi += c * mstride;
        mstride *= mshape[md];
    }
    return mi;
}

void clft_ref_softmax(int ndim, const int64_t *shape, const float *x, double scale,
                      int mask_ndim, const int64_t *mask_shape, const float *mask, int causal,
                      int log_out, double *y)
{
    const int64_t C = shape[ndim - 1];
    const int64_t R = ndim >= 2 ? shape[ndim - 2] : 1;
    int64_t rows = 1;
    for (int d = 0; d < ndim - 1; d++) rows *= shape[d];
    double *v = malloc((size_t)C * sizeof *v);
    if (!v) abort();
    for (int64_t row = 0; row < rows; row++) {
        const int64_t r = row % R, base = row * C;
        double m = -INFINITY;
        for (int64_t c = 0; c < C; c++) {
            double t = scale * (double)x[base + c];
            if (mask) t += (double)mask[mask_index(ndim, shape, mask_ndim, mask_shape, base + c)];
            if (causal && c > r + C - R) t = -INFINITY;
            v[c] = t;
            if (t > m) m = t;
        }
        if (m == -INFINITY) {
            for (int64_t c = 0; c < C; c++) y[base + c] = log_out ? -INFINITY : 0.0;
            continue;
        }
        double sum = 0;
        for (int64_t c = 0; c < C; c++) sum += exp(v[c] - m);
        for (int64_t c = 0; c < C; c++)
            y[base + c] = log_out ? (v[c] - m) - log(sum) : exp(v[c] - m) / sum;
    }
    free(v);
}
