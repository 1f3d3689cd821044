/*
 * LayerNorm and RMSNorm over the last dimension, with a fused residual add.
 *
 * Tensors are seen as four dimensions (n0, n1, n2, D), outermost first; a row
 * is one (i0, i1, i2). Every tensor has its own element offset and strides
 * (any view); gamma and beta are (D) with their own stride.
 *
 * Build option NM_FLAGS (default 0): the storage dtypes and options as the
 * NM_* bits below. A build option rather than a run-time argument: PoCL
 * keeps a kernel with per-element branches on run-time flags scalar; folded
 * at build time they cost nothing (one program per combination, cached).
 * norm_rows_vec, whose branches are per 8 columns and not per element, takes
 * the presence bits at run time instead (argument opt).
 * f16 is read and written with vload_half/vstore_half_rte (core OpenCL 1.2);
 * arithmetic is f32. No extension is needed.
 *
 * Two kernels: norm_rows (a work-group per row, any strides; the GPU kernel
 * and the general path) and norm_rows_vec (a work-item per row with float8
 * arithmetic, unit innermost strides; the CPU fast path).
 * NM_ONLY = 1 or 2 compiles only norm_rows or norm_rows_vec (a program with
 * one kernel compiles in about half the time on PoCL).
 */
#ifndef NM_FLAGS
#define NM_FLAGS 0
#endif

inline float nm_load(const __global float *p, const long i, const int f16)
{
    return f16 ? vload_half((size_t)i, (const __global half *)p) : p[i];
}

inline void nm_store(__global float *p, const long i, const float v, const int f16)
{
    if (f16)
        vstore_half_rte(v, (size_t)i, (__global half *)p);
    else
        p[i] = v;
}

/* Sum of v over the work-group (L a power of two, red: L floats). Every
 * work-item must call it; red is free again when it returns. */
inline float nm_group_sum(__local float *red, const float v)
{
    const int lid = (int)get_local_id(0);
    red[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = (int)get_local_size(0) / 2; step > 0; step /= 2) {
        if (lid < step) red[lid] += red[lid + step];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float total = red[0];
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read red[0] before reuse */
    return total;
}

/* Flag bits. */
#define NM_X16 1
#define NM_R16 2
#define NM_G16 4
#define NM_B16 8
#define NM_Y16 16
#define NM_S16 32
#define NM_HAS_R 64
#define NM_HAS_B 128
#define NM_HAS_S 256
#define NM_RMS 512

/* s = x (+ residual) at column c of this row. */
#define NM_S(c)                                                                                \
    (nm_load(x, xb + (c) * xs.s3, flags & NM_X16) +                                            \
     ((flags & NM_HAS_R) ? nm_load(r, rb + (c) * rs.s3, flags & NM_R16) : 0.0f))

/*
 * norm_rows: y = (s - mean) / sqrt(var + eps) * gamma + beta (LayerNorm) or
 * y = s / sqrt(mean(s^2) + eps) * gamma (RMSNorm), s = x + residual, and
 * sum_out = s when asked.
 * Launch: 1-D, global = rows * L, local = L, L a power of two; one
 * work-group per row (row = i2 + n2 * (i1 + n1 * i0)). Each work-item walks
 * columns lid, lid + L, ...; red holds L floats.
 * Two reductions: the mean (LayerNorm) or mean of squares (RMSNorm), then for
 * LayerNorm the variance around that mean, the two-pass form, which stays
 * accurate when |mean| >> std (E[s^2] - mean^2 does not). RMSNorm skips the
 * second walk by giving it no columns, so that every work-item still meets
 * every barrier. The last walk writes; it reads x[c] and residual[c] before
 * writing y[c] and sum_out[c] in the same work-item, so y and sum_out may be
 * the very same views as x or residual. No early return (PoCL).
 */
#if !defined(NM_ONLY) || NM_ONLY == 1 /* norm_rows */
__kernel void norm_rows(const __global float *x, const ulong xoff, const long4 xs,
                        const __global float *r, const ulong roff, const long4 rs,
                        const __global float *g, const ulong goff, const long gs,
                        const __global float *b, const ulong boff, const long bs,
                        __global float *y, const ulong yoff, const long4 ys,
                        __global float *so, const ulong soff, const long4 ss,
                        const long n1, const long n2, const long D, const float eps,
                        __local float *red)
{
    const int flags = NM_FLAGS;
    const long row = get_group_id(0);
    const long lid = get_local_id(0);
    const long L = get_local_size(0);
    const long i2 = row % n2, i1 = (row / n2) % n1, i0 = row / (n2 * n1);
    const long xb = (long)xoff + i0 * xs.s0 + i1 * xs.s1 + i2 * xs.s2;
    const long rb = (long)roff + i0 * rs.s0 + i1 * rs.s1 + i2 * rs.s2;
    const long yb = (long)yoff + i0 * ys.s0 + i1 * ys.s1 + i2 * ys.s2;
    const long sb = (long)soff + i0 * ss.s0 + i1 * ss.s1 + i2 * ss.s2;
    const int rms = (flags & NM_RMS) != 0;

    float acc = 0.0f;
    for (long c = lid; c < D; c += L) {
        const float s = NM_S(c);
        acc += rms ? s * s : s;
    }
    const float first = nm_group_sum(red, acc) / (float)D;
    const float mean = rms ? 0.0f : first;

    acc = 0.0f;
    const long d2 = rms ? 0 : D; /* RMSNorm: no second walk, same barriers */
    for (long c = lid; c < d2; c += L) {
        const float t = NM_S(c) - mean;
        acc += t * t;
    }
    const float second = nm_group_sum(red, acc) / (float)D;
    const float inv = rsqrt((rms ? first : second) + eps);

    for (long c = lid; c < D; c += L) {
        const float s = NM_S(c);
        float v = (s - mean) * inv * nm_load(g, (long)goff + c * gs, flags & NM_G16);
        if (flags & NM_HAS_B) v += nm_load(b, (long)boff + c * bs, flags & NM_B16);
        if (flags & NM_HAS_S) nm_store(so, sb + c * ss.s3, s, flags & NM_S16);
        nm_store(y, yb + c * ys.s3, v, flags & NM_Y16);
    }
}
#endif

inline float8 nm_load8(const __global float *p, const long i, const int f16)
{
    if (f16) return clf_load_half8((const __global half *)p + i);
    return vload8(0, p + i);
}

inline void nm_store8(__global float *p, const long i, const float8 v, const int f16)
{
    if (f16)
        clf_store_half8(v, (__global half *)p + i);
    else
        vstore8(v, 0, p + i);
}

inline float nm_hsum8(const float8 v)
{
    return ((v.s0 + v.s1) + (v.s2 + v.s3)) + ((v.s4 + v.s5) + (v.s6 + v.s7));
}

/* In norm_rows_vec the presence bits (NM_HAS_R, NM_HAS_B, NM_HAS_S) come
 * from the run-time argument opt as well as from NM_FLAGS: a branch per
 * 8 columns of one work-item's row costs nothing measurable, and the norms
 * of a stack (plain, with residual, with residual and sum) share one program
 * instead of compiling three. */
#define NM_S8(c)                                                                               \
    (nm_load8(x, xb + (c), NM_FLAGS & NM_X16) +                                                \
     (has_r ? nm_load8(r, rb + (c), NM_FLAGS & NM_R16) : (float8)0.0f))
#define NM_S1(c)                                                                               \
    (nm_load(x, xb + (c), NM_FLAGS & NM_X16) +                                                 \
     (has_r ? nm_load(r, rb + (c), NM_FLAGS & NM_R16) : 0.0f))

/*
 * norm_rows_vec: as norm_rows, for unit innermost strides on x, residual, y
 * and sum_out and unit strides on gamma and beta (the host checks), one
 * work-item per row: float8 passes (the sum or sum of squares, the centred
 * sum of squares for LayerNorm, then the output), the last D % 8 columns one
 * at a time. No barriers or local memory, which is what PoCL runs fast; meant
 * for CPU devices.
 * Launch: 1-D, global = rows rounded up to the local size, any local size.
 * opt: presence bits OR-ed into NM_FLAGS's (the host passes them here and
 * leaves them out of NM_FLAGS).
 * y and sum_out may be the very same views as x or residual: one work-item
 * owns a row and reads each column before writing it.
 */
#if !defined(NM_ONLY) || NM_ONLY == 2 /* norm_rows_vec */
__kernel void norm_rows_vec(const __global float *x, const ulong xoff, const long4 xs,
                            const __global float *r, const ulong roff, const long4 rs,
                            const __global float *g, const ulong goff, const __global float *b,
                            const ulong boff, __global float *y, const ulong yoff,
                            const long4 ys, __global float *so, const ulong soff,
                            const long4 ss, const long n1, const long n2, const long D,
                            const float eps, const long rows, const int opt)
{
    const long row = get_global_id(0);
    if (row >= rows) return; /* no barrier in this kernel */
    const int has_r = ((NM_FLAGS | opt) & NM_HAS_R) != 0;
    const int has_b = ((NM_FLAGS | opt) & NM_HAS_B) != 0;
    const int has_s = ((NM_FLAGS | opt) & NM_HAS_S) != 0;
    const long i2 = row % n2, i1 = (row / n2) % n1, i0 = row / (n2 * n1);
    const long xb = (long)xoff + i0 * xs.s0 + i1 * xs.s1 + i2 * xs.s2;
    const long rb = (long)roff + i0 * rs.s0 + i1 * rs.s1 + i2 * rs.s2;
    const long yb = (long)yoff + i0 * ys.s0 + i1 * ys.s1 + i2 * ys.s2;
    const long sb = (long)soff + i0 * ss.s0 + i1 * ss.s1 + i2 * ss.s2;
    const int rms = (NM_FLAGS & NM_RMS) != 0;
    const long D8 = D & ~7L;

    float8 a8 = 0.0f;
    for (long c = 0; c < D8; c += 8) {
        const float8 s = NM_S8(c);
        a8 = rms ? fma(s, s, a8) : a8 + s;
    }
    float acc = nm_hsum8(a8);
    for (long c = D8; c < D; c++) {
        const float s = NM_S1(c);
        acc = rms ? fma(s, s, acc) : acc + s;
    }
    const float first = acc / (float)D;
    const float mean = rms ? 0.0f : first;

    float var = first;
    if (!rms) {
        a8 = 0.0f;
        for (long c = 0; c < D8; c += 8) {
            const float8 t = NM_S8(c) - mean;
            a8 = fma(t, t, a8);
        }
        acc = nm_hsum8(a8);
        for (long c = D8; c < D; c++) {
            const float t = NM_S1(c) - mean;
            acc = fma(t, t, acc);
        }
        var = acc / (float)D;
    }
    const float inv = rsqrt(var + eps);

    for (long c = 0; c < D8; c += 8) {
        const float8 s = NM_S8(c);
        float8 v = (s - mean) * inv * nm_load8(g, (long)goff + c, NM_FLAGS & NM_G16);
        if (has_b) v += nm_load8(b, (long)boff + c, NM_FLAGS & NM_B16);
        if (has_s) nm_store8(so, sb + c, s, NM_FLAGS & NM_S16);
        nm_store8(y, yb + c, v, NM_FLAGS & NM_Y16);
    }
    for (long c = D8; c < D; c++) {
        const float s = NM_S1(c);
        float v = (s - mean) * inv * nm_load(g, (long)goff + c, NM_FLAGS & NM_G16);
        if (has_b) v += nm_load(b, (long)boff + c, NM_FLAGS & NM_B16);
        if (has_s) nm_store(so, sb + c, s, NM_FLAGS & NM_S16);
        nm_store(y, yb + c, v, NM_FLAGS & NM_Y16);
    }
}
#endif
