/* float64 reference for clf_norm: two plain passes per row. */
#include "ref/ref_norm.h"

#include <math.h>
#include <stdlib.h>

void clft_ref_norm(int rms, const float *x, const float *residual, const float *gamma,
                   const float *beta, int64_t rows, int64_t D, double eps, double *y, double *sum)
{
    double *s = malloc((size_t)D * sizeof *s);
    if (!s) abort();
    for (int64_t r = 0; r < rows; r++) {
        const int64_t base = r * D;
        double mean = 0, var = 0;
        for (int64_t c = 0; c < D; c++) {
            s[c] = (double)x[base + c] + (residual ? (double)residual[base + c] : 0.0);
            if (sum) sum[base + c] = s[c];
            mean += s[c];
        }
        mean /= (double)D;
        for (int64_t c = 0; c < D; c++) {
            double t = rms ? s[c] : s[c] - mean;
            var += t * t;
        }
        var /= (double)D;
        const double inv = 1.0 / sqrt(var + eps);
        for (int64_t c = 0; c < D; c++) {
            double v = (rms ? s[c] : s[c] - mean) * inv * (double)gamma[c];
            if (!rms && beta) v += (double)beta[c];
            y[base + c] = v;
        }
    }
    free(s);
}
