/* float64 references for copy and kv_append (plain C, no device). */
#include "ref/ref_copy.h"

#include <string.h>

int64_t ref_view_index(int ndim, const int64_t *shape, const int64_t *stride, int64_t offset,
                       int64_t flat)
{
    int64_t idx = offset;
    for (int d = ndim - 1; d >= 0; d--) {
        idx += (flat % shape[d]) * stride[d];
        flat /= shape[d];
    }
    return idx;
}

void ref_copy(const float *buf, int ndim, const int64_t *shape, const int64_t *stride,
              int64_t offset, double *out)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    for (int64_t i = 0; i < n; i++)
        out[i] = (double)buf[ref_view_index(ndim, shape, stride, offset, i)];
}

void ref_kv_append(double *cache, int64_t B, int64_t cap, int64_t H, int64_t Dh, int64_t pos,
                   const double *src, int64_t n)
{
    const int64_t row = H * Dh; /* one position of one batch */
    for (int64_t b = 0; b < B; b++)
        for (int64_t t = 0; t < n; t++)
            memcpy(cache + (b * cap + pos + t) * row, src + (b * n + t) * row,
                   (size_t)row * sizeof *cache);
}
