/*
 * Strided copies of up to 4 dimensions, with f32 <-> f16 conversion.
 *
 * Build options (all optional):
 *   CLF_COPY_WIDE  1: index arithmetic in ulong (views of more than 2^32 - 1
 *                  elements); default 0: uint, which keeps the div/mod cheap
 *                  on GPUs.
 *
 * Kernels (same arguments, different storage types):
 *   copy_b32      4-byte elements copied bit for bit (f32 -> f32, i32 -> i32)
 *   copy_b16      2-byte elements copied bit for bit (f16 -> f16)
 *   copy_f32_f16  f32 -> f16, round to nearest even (vstore_half_rte)
 *   copy_f16_f32  f16 -> f32, exact (vload_half)
 * Bitwise copies keep NaN payloads and signed zeros; needs no extension.
 *
 * Launch: 1-D, global = total rounded up to the local size, any local size.
 * One work-item copies one element: its flat row-major index over the shape
 * (n0, n1, n2, n3) (innermost last) is split into coordinates, and the source
 * and destination offsets come from each side's element strides. The host
 * merges dimensions that are contiguous on both sides first, so a dense copy
 * arrives here as one dimension and costs no division in practice.
 * Preconditions: n0 * n1 * n2 * n3 == total; every reachable element lies in
 * its buffer (checked on the host); src and dst do not overlap.
 */
#ifndef CLF_COPY_WIDE
#define CLF_COPY_WIDE 0
#endif
#if CLF_COPY_WIDE
typedef ulong copy_idx_t;
#else
typedef uint copy_idx_t;
#endif

#define CLF_COPY_ARGS(ST, DT)                                                                  \
    __global const ST *src, const ulong s_off, const long ss0, const long ss1, const long ss2, \
        const long ss3, __global DT *dst, const ulong d_off, const long ds0, const long ds1,   \
        const long ds2, const long ds3, const ulong n1_, const ulong n2_, const ulong n3_,     \
        const ulong total

/* Computes si (source element) and di (destination element); `valid` is
 * false for the work-items past the end of the rounded-up range. */
#define CLF_COPY_INDEX()                                                                       \
    const ulong flat_ = get_global_id(0);                                                      \
    const bool valid = flat_ < total;                                                          \
    copy_idx_t rest = (copy_idx_t)flat_;                                                       \
    const copy_idx_t n3 = (copy_idx_t)n3_, n2 = (copy_idx_t)n2_, n1 = (copy_idx_t)n1_;         \
    const copy_idx_t i3 = rest % n3;                                                           \
    rest /= n3;                                                                                \
    const copy_idx_t i2 = rest % n2;                                                           \
    rest /= n2;                                                                                \
    const copy_idx_t i1 = rest % n1;                                                           \
    const copy_idx_t i0 = rest / n1;                                                           \
    const long si = (long)s_off + (long)i0 * ss0 + (long)i1 * ss1 + (long)i2 * ss2 + (long)i3 * ss3; \
    const long di = (long)d_off + (long)i0 * ds0 + (long)i1 * ds1 + (long)i2 * ds2 + (long)i3 * ds3;

__kernel void copy_b32(CLF_COPY_ARGS(uint, uint))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = src[si];
}

__kernel void copy_b16(CLF_COPY_ARGS(ushort, ushort))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = src[si];
}

__kernel void copy_f32_f16(CLF_COPY_ARGS(float, half))
{
    CLF_COPY_INDEX()
    if (valid) vstore_half_rte(src[si], di, dst);
}

__kernel void copy_f16_f32(CLF_COPY_ARGS(half, float))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = vload_half(si, src);
}
