/* float64 reference for clf_attention: per (batch, head, query) row, the
 * scores, their maximum, the exponentials and the weighted sum of V, all in
 * double. O(B H Lq Lk D): the 2048 x 2048 x 8 x 64 test case costs ~4e9
 * multiply-adds, a few seconds. */
#include "ref/ref_attention.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void clft_ref_attention(int64_t B, int64_t Lq, int64_t Lk, int64_t H, int64_t D, const float *q,
                        const float *k, const float *v, double scale, int causal,
                        const int32_t *key_lens, double *o, int64_t *visible)
{
    double *s = malloc((size_t)(Lk > 0 ? Lk : 1) * sizeof *s);
    double *qd = malloc((size_t)D * sizeof *qd);
    double *acc = malloc((size_t)D * sizeof *acc);
    if (!s || !qd || !acc) abort();
    for (int64_t b = 0; b < B; b++) {
        int64_t valid = Lk;
        if (key_lens) {
            valid = key_lens[b];
            if (valid < 0) valid = 0;
            if (valid > Lk) valid = Lk;
        }
        for (int64_t i = 0; i < Lq; i++) {
            int64_t end = valid;
            if (causal && i + Lk - Lq + 1 < end) end = i + Lk - Lq + 1;
            if (end < 0) end = 0;
            for (int64_t h = 0; h < H; h++) {
                const int64_t row = (b * Lq + i) * H + h;
                double *out = o + row * D;
                if (visible) visible[row] = end;
                if (end == 0) {
                    memset(out, 0, (size_t)D * sizeof *out);
                    continue;
                }
                const float *qr = q + row * D;
                for (int64_t d = 0; d < D; d++)
                    qd[d] = (double)qr[d];
                double m = -INFINITY;
                for (int64_t j = 0; j < end; j++) {
                    const float *kr = k + ((b * Lk + j) * H + h) * D;
                    double dot = 0.0;
                    for (int64_t d = 0; d < D; d++)
                        dot += qd[d] * (double)kr[d];
                    s[j] = scale * dot;
                    if (s[j] > m) m = s[j];
                }
                double l = 0.0;
                for (int64_t d = 0; d < D; d++)
                    acc[d] = 0.0;
                for (int64_t j = 0; j < end; j++) {
                    const double p = exp(s[j] - m);
                    const float *vr = v + ((b * Lk + j) * H + h) * D;
                    l += p;
                    for (int64_t d = 0; d < D; d++)
                        acc[d] += p * (double)vr[d];
                }
                for (int64_t d = 0; d < D; d++)
                    out[d] = acc[d] / l;
            }
        }
    }
    free(s);
    free(qd);
    free(acc);
}
