/*
 * fill_f32 / fill_f16 / fill_i32: sets every element of a strided view of up
 * to 4 dimensions to one value.
 * Launch: 1-D, global >= n0*n1*n2*n3 (rounded up to the local size), any
 * local size. One work-item: one element, found by decomposing its flat index
 * over the shape (innermost last). Needs no extension.
 */
#define CLF_FILL_INDEX()                                                                       \
    const long flat = get_global_id(0);                                                        \
    const long total = (long)n0 * n1 * n2 * n3;                                                \
    long rest = flat;                                                                          \
    const long i3 = rest % n3; rest /= n3;                                                     \
    const long i2 = rest % n2; rest /= n2;                                                     \
    const long i1 = rest % n1; rest /= n1;                                                     \
    const long idx = (long)off + rest * s0 + i1 * s1 + i2 * s2 + i3 * s3;

__kernel void fill_f32(__global float *p, const ulong off, const int n0, const int n1,
                       const int n2, const int n3, const long s0, const long s1, const long s2,
                       const long s3, const float value)
{
    CLF_FILL_INDEX()
    if (flat < total) p[idx] = value;
}

__kernel void fill_f16(__global half *p, const ulong off, const int n0, const int n1,
                       const int n2, const int n3, const long s0, const long s1, const long s2,
                       const long s3, const float value)
{
    CLF_FILL_INDEX()
    if (flat < total) vstore_half_rte(value, idx, p);
}

__kernel void fill_i32(__global int *p, const ulong off, const int n0, const int n1,
                       const int n2, const int n3, const long s0, const long s1, const long s2,
                       const long s3, const float value)
{
    CLF_FILL_INDEX()
    if (flat < total) p[idx] = (int)value;
}

/*
 * fill_uniform_{f32,f16}[_dense]: element number `flat` of the view (row-major
 * over its shape) gets lo + span * u, u = the top 24 bits of
 * splitmix64(seed + (flat + 1) * golden) / 2^24 in [0, 1): a counter-based
 * stream, so the values depend only on (seed, flat), never on the device or
 * the launch. The _dense kernels take a contiguous view as one run of n.
 */
inline float clf_uniform(const ulong seed, const ulong flat, const float lo, const float span)
{
    ulong z = seed + (flat + 1) * 0x9E3779B97F4A7C15UL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
    z ^= z >> 31;
    return lo + span * ((float)(z >> 40) * (1.0f / 16777216.0f));
}

__kernel void fill_uniform_f32(__global float *p, const ulong off, const int n0, const int n1,
                               const int n2, const int n3, const long s0, const long s1,
                               const long s2, const long s3, const ulong seed, const float lo,
                               const float span)
{
    CLF_FILL_INDEX()
    if (flat < total) p[idx] = clf_uniform(seed, (ulong)flat, lo, span);
}

__kernel void fill_uniform_f16(__global half *p, const ulong off, const int n0, const int n1,
                               const int n2, const int n3, const long s0, const long s1,
                               const long s2, const long s3, const ulong seed, const float lo,
                               const float span)
{
    CLF_FILL_INDEX()
    if (flat < total) vstore_half_rte(clf_uniform(seed, (ulong)flat, lo, span), idx, p);
}

__kernel void fill_uniform_f32_dense(__global float *p, const ulong off, const ulong n,
                                     const ulong seed, const float lo, const float span)
{
    const ulong i = get_global_id(0);
    if (i < n) p[off + i] = clf_uniform(seed, i, lo, span);
}

__kernel void fill_uniform_f16_dense(__global half *p, const ulong off, const ulong n,
                                     const ulong seed, const float lo, const float span)
{
    const ulong i = get_global_id(0);
    if (i < n) vstore_half_rte(clf_uniform(seed, i, lo, span), off + i, p);
}
