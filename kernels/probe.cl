/*
 * Ceiling probes for the benchmark.
 *
 * probe_fma: each work-item runs 8 independent float8 chains of dependent FMAs
 * for `iters` steps (128 flops per step) and writes one sum, so the compiler can
 * neither drop the work nor hide it. Launch: 1-D, global = many times the
 * compute units x local size, any local size (64 is fine). Needs nothing.
 *
 * probe_copy: out[i] = in[i] over float4 elements; 1-D, global >= n4.
 */
__kernel void probe_fma(__global float *out, const int iters, const float a, const float b)
{
    /* float8 chains: PoCL does not vectorise this loop across work-items, so
     * the SIMD width has to be explicit for the probe to see the FMA units. */
    const float s = (float)get_global_id(0) * 1e-7f;
    const float8 ramp = (float8)(0.0f, 0.01f, 0.02f, 0.03f, 0.04f, 0.05f, 0.06f, 0.07f);
    float8 x0 = s + ramp, x1 = x0 + 0.1f, x2 = x0 + 0.2f, x3 = x0 + 0.3f;
    float8 x4 = x0 + 0.4f, x5 = x0 + 0.5f, x6 = x0 + 0.6f, x7 = x0 + 0.7f;
    const float8 va = (float8)(a), vb = (float8)(b);
    for (int i = 0; i < iters; i++) {
        x0 = fma(x0, va, vb); x1 = fma(x1, va, vb); x2 = fma(x2, va, vb); x3 = fma(x3, va, vb);
        x4 = fma(x4, va, vb); x5 = fma(x5, va, vb); x6 = fma(x6, va, vb); x7 = fma(x7, va, vb);
    }
    const float8 t = x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7;
    out[get_global_id(0)] = t.s0 + t.s1 + t.s2 + t.s3 + t.s4 + t.s5 + t.s6 + t.s7;
}

__kernel void probe_copy(__global const float4 *in, __global float4 *out, const long n4)
{
    const long i = get_global_id(0);
    if (i < n4) out[i] = in[i];
}
