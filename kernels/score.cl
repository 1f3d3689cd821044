/*
 * The device score's workload (src/runtime/score.c): a small slice of a
 * transformer pass that ranks two devices of one class, such as PoCL and
 * Intel's CPU runtime on the same cores. No local memory, no extension and
 * no subgroups, so neither CPU- nor GPU-style implementations are favoured
 * by the kernels' shape: what is measured is what the implementation (its
 * compiler, math library, scheduler and launch path) makes of plain code.
 *
 * score_matmul: c (m, n) = a (m, k) b (k, n), all row-major f32; the GEMMs
 * of a batch pass. One work-item computes a 4 x 8 block of c: four rows of a
 * against one float8 strip of b, 32 FMAs per float8 load. Launch: 2-D,
 * global = (n / 8, m / 4), local = the driver's choice. Preconditions:
 * m % 4 == 0, n % 8 == 0.
 *
 * score_gemv: y (rows) = w (rows, k) x (k); the weight-streaming GEMVs of a
 * decode step. One work-item per row, float8 loads. Launch: 1-D, global =
 * rows. Precondition: k % 8 == 0 (k8 = k / 8).
 *
 * score_gelu: y = gelu(x) (tanh form) over float8s; the exp-bound
 * activations. Launch: 1-D, global = elements / 8.
 *
 * score_tick: x[i] = x[i] * 0.5 + 1 over a few floats; a launch that costs
 * nothing but its overhead, the share of a decode step's many small ops.
 * Launch: 1-D, global = the length of x.
 */
__kernel void score_matmul(__global const float *a, __global const float8 *b, __global float8 *c,
                           const int n, const int k)
{
    const int j = get_global_id(0);     /* float8 strip of columns */
    const int i = get_global_id(1) * 4; /* first of four rows */
    const int n8 = n / 8;
    __global const float *a0 = a + (size_t)i * k;
    float8 c0 = (float8)(0.0f), c1 = (float8)(0.0f), c2 = (float8)(0.0f), c3 = (float8)(0.0f);
    for (int p = 0; p < k; p++) {
        const float8 bv = b[(size_t)p * n8 + j];
        c0 = fma((float8)(a0[p]), bv, c0);
        c1 = fma((float8)(a0[k + p]), bv, c1);
        c2 = fma((float8)(a0[2 * k + p]), bv, c2);
        c3 = fma((float8)(a0[3 * k + p]), bv, c3);
    }
    __global float8 *out = c + (size_t)i * n8 + j;
    out[0] = c0;
    out[n8] = c1;
    out[2 * n8] = c2;
    out[3 * n8] = c3;
}

__kernel void score_gemv(__global const float8 *w, __global const float8 *x, __global float *y,
                         const int k8)
{
    const int r = get_global_id(0);
    __global const float8 *row = w + (size_t)r * k8;
    float8 acc = (float8)(0.0f);
    for (int p = 0; p < k8; p++) acc = fma(row[p], x[p], acc);
    const float4 h = acc.lo + acc.hi;
    y[r] = (h.x + h.y) + (h.z + h.w);
}

__kernel void score_gelu(__global const float8 *x, __global float8 *y)
{
    const size_t i = get_global_id(0);
    const float8 v = x[i];
    /* gelu(v) = v / (1 + exp(-2 sqrt(2/pi) (v + 0.044715 v^3))) */
    y[i] = v / (1.0f + exp(-1.5957691216057308f * fma(0.044715f * v, v * v, v)));
}

__kernel void score_tick(__global float *x)
{
    const size_t i = get_global_id(0);
    x[i] = fma(x[i], 0.5f, 1.0f);
}
