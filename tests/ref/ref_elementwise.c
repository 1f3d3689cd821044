/* float64 references for the elementwise ops: plain C, no shortcuts. */
#include "ref/ref_elementwise.h"

#include <math.h>

double clft_ref_act(int act, double x)
{
    switch (act) {
    case 1: return x > 0 ? x : 0;                                     /* relu */
    /* The GELUs through exact identities, 1 + erf(t) = erfc(-t) and
     * 1 + tanh(u) = 2 / (1 + exp(-2u)): even float64 cancels 1 + erf(-6.4)
     * to 0, and the tails are what the tests probe. */
    case 2: return 0.5 * x * erfc(-x / sqrt(2.0));                    /* gelu (erf) */
    case 3: {                                                         /* gelu (tanh) */
        const double k = sqrt(2.0 / 3.14159265358979323846);
        return x / (1.0 + exp(-2.0 * k * (x + 0.044715 * x * x * x)));
    }
    case 4: return x / (1.0 + exp(-x));                               /* silu */
    case 5: return tanh(x);                                           /* tanh */
    default: return x;                                                /* none: a copy */
    }
}

void clft_ref_activation(int act, const float *x, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = clft_ref_act(act, x[i]);
}

void clft_ref_scale(const float *x, double s, double *y, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = s * (double)x[i];
}

void clft_ref_add(int ndim, const int64_t *shape, const float *a, int b_ndim,
                  const int64_t *b_shape, const float *b, double *y)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    for (int64_t i = 0; i < n; i++) {
        /* Walk a's coordinates from the innermost dimension; b's index uses
         * the same coordinate where b has the size, 0 where b has size 1. */
        int64_t rest = i, bi = 0, bstride = 1;
        for (int d = ndim - 1, bd = b_ndim - 1; d >= 0; d--, bd--) {
            int64_t c = rest % shape[d];
            rest /= shape[d];
            if (bd >= 0) {
                if (b_shape[bd] != 1) bi += c * bstride;
                bstride *= b_shape[bd];
            }
        }
        y[i] = (double)a[i] + (double)b[bi];
    }
}
