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
