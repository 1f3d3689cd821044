#include "ref/ref_gemm.h"

#include <math.h>

double ref_act(clf_act act, double x)
{
    switch (act) {
    case CLF_ACT_NONE: return x;
    case CLF_ACT_RELU: return x > 0 ? x : 0;
    case CLF_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    case CLF_ACT_GELU_TANH:
        return 0.5 * x * (1.0 + tanh(sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
    case CLF_ACT_SILU: return x / (1.0 + exp(-x));
    case CLF_ACT_TANH: return tanh(x);
    }
    return NAN;
}

void ref_gemm(int64_t batch, int64_t m, int64_t n, int64_t k, bool trans_a, bool trans_b,
              double alpha, const float *a, int64_t batch_a, const float *b, int64_t batch_b,
              double beta, const float *c, const float *bias, clf_act act, double *out)
{
    for (int64_t t = 0; t < batch; t++) {
        const float *at = a + (batch_a > 1 ? t : 0) * m * k;
        const float *bt = b + (batch_b > 1 ? t : 0) * n * k;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double s = 0;
                for (int64_t p = 0; p < k; p++) {
                    double x = trans_a ? at[p * m + i] : at[i * k + p];
                    double y = trans_b ? bt[j * k + p] : bt[p * n + j];
                    s += x * y;
                }
                double v = alpha * s;
                if (beta != 0) v += beta * c[(t * m + i) * n + j];
                if (bias) v += bias[j];
                out[(t * m + i) * n + j] = ref_act(act, v);
            }
    }
}

void ref_q4_int8_row(const float *a, int64_t k, float *out)
{
    int64_t kv = k - k % 64;
    for (int64_t g = 0; g < kv; g += 32) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(a[g + i]));
        float inv = amax > 0.0f ? 127.0f / amax : 0.0f, sc = amax / 127.0f;
        for (int i = 0; i < 32; i++) {
            float c = nearbyintf(a[g + i] * inv);
            out[g + i] = fminf(fmaxf(c, -128.0f), 127.0f) * sc;
        }
    }
    for (int64_t i = kv; i < k; i++) out[i] = a[i];
}
