/*
 * Ceiling probes for the benchmark.
 *
 * probe_fma: each work-item runs 8 independent chains of dependent FMAs for
 * `iters` steps (16 flops per step) and writes one sum, so the compiler can
 * neither drop the work nor hide it. Launch: 1-D, global = many times the
 * compute units x local size, any local size (64 is fine). Needs nothing.
 *
 * probe_copy: out[i] = in[i] over float4 elements; 1-D, global >= n4.
 */
__kernel void probe_fma(__global float *out, const int iters, const float a, const float b)
{
    const float s = (float)get_global_id(0) * 1e-7f;
    float x0 = s, x1 = s + 0.1f, x2 = s + 0.2f, x3 = s + 0.3f;
    float x4 = s + 0.4f, x5 = s + 0.5f, x6 = s + 0.6f, x7 = s + 0.7f;
    for (int i = 0; i < iters; i++) {
        x0 = fma(x0, a, b); x1 = fma(x1, a, b); x2 = fma(x2, a, b); x3 = fma(x3, a, b);
        x4 = fma(x4, a, b); x5 = fma(x5, a, b); x6 = fma(x6, a, b); x7 = fma(x7, a, b);
    }
    out[get_global_id(0)] = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
}

__kernel void probe_copy(__global const float4 *in, __global float4 *out, const long n4)
{
    const long i = get_global_id(0);
    if (i < n4) out[i] = in[i];
}
