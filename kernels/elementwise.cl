/*
 * Elementwise kernels: activations, scale, and add with broadcasting.
 *
 * Every tensor is described by an element offset and four element strides
 * over a shared iteration shape of four dimensions (outermost first); the
 * host pads missing leading dimensions with size 1 and merges dimensions that
 * are contiguous in every operand, so a dense tensor arrives as one long
 * innermost dimension. A broadcast operand has stride 0 along the dimensions
 * it is broadcast over.
 *
 * Storage dtypes are run-time flags (bit set = f16, clear = f32) rather than
 * build options: the branch is uniform over the whole launch, costs nothing
 * next to the memory traffic, and keeps one program per device instead of one
 * per dtype combination. f16 goes through vload_half/vstore_half_rte (core
 * OpenCL 1.2); arithmetic is f32. No extension is needed.
 */

#define EW_OP_SCALE 16 /* after the clf_act values 0..4 */

inline float ew_load(const __global float *p, const long i, const int f16)
{
    return f16 ? vload_half((size_t)i, (const __global half *)p) : p[i];
}

inline void ew_store(__global float *p, const long i, const float v, const int f16)
{
    if (f16)
        vstore_half_rte(v, (size_t)i, (__global half *)p);
    else
        p[i] = v;
}

/* The clf_act values, plus EW_OP_SCALE (v * s). */
inline float ew_apply(const float v, const int op, const float s)
{
    switch (op) {
    case 1: return fmax(v, 0.0f);
    /* The GELUs in forms without cancellation: 1 + erf(t) and 1 + tanh(u)
     * lose every digit for negative arguments (1 + tanh(-8.5) is 9e-8, below
     * the f32 spacing near 1), so a tail value like gelu(-5) = -1.4e-6 would
     * come out 0 or 50% off. 1 + erf(t) = erfc(-t) and
     * 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)) are exact rewrites. */
    case 2: return 0.5f * v * erfc(-v * M_SQRT1_2_F);
    case 3: {
        const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
        return v / (1.0f + exp(-2.0f * k * (v + 0.044715f * v * v * v)));
    }
    case 4: return v / (1.0f + exp(-v));
    case EW_OP_SCALE: return v * s;
    default: return v;
    }
}

/* Splits flat index i over shape (n0, n1, n2, n3) into coordinates. A dense
 * tensor arrives as (1, 1, 1, n): then no division at all, which matters on
 * GPUs, where 64-bit division is a long software sequence. */
#define EW_COORDS(i, n)                                                                        \
    long c0 = 0, c1 = 0, c2 = 0, c3 = (i);                                                     \
    if ((n).s0 * (n).s1 * (n).s2 != 1) {                                                       \
        long rest_ = (i);                                                                      \
        c3 = rest_ % (n).s3;                                                                   \
        rest_ /= (n).s3;                                                                       \
        c2 = rest_ % (n).s2;                                                                   \
        rest_ /= (n).s2;                                                                       \
        c1 = rest_ % (n).s1;                                                                   \
        c0 = rest_ / (n).s1;                                                                   \
    }
#define EW_AT(off, st) ((long)(off) + c0 * (st).s0 + c1 * (st).s1 + c2 * (st).s2 + c3 * (st).s3)

/*
 * ew_unary: y = op(x) (an activation, a copy, or a scale by s).
 * Launch: 1-D, global >= n0*n1*n2*n3 rounded up to the local size, any local
 * size. One work-item: one element. flags: bit 0 x is f16, bit 1 y is f16.
 * y may be the same view as x (each work-item reads its element before it
 * writes it); partially overlapping views are refused by the host.
 */
__kernel void ew_unary(const __global float *x, const ulong xoff, const long4 xs,
                       __global float *y, const ulong yoff, const long4 ys, const long4 shape,
                       const int flags, const int op, const float s)
{
    const long i = get_global_id(0);
    const long total = shape.s0 * shape.s1 * shape.s2 * shape.s3;
    if (i < total) {
        EW_COORDS(i, shape)
        const float v = ew_load(x, EW_AT(xoff, xs), flags & 1);
        ew_store(y, EW_AT(yoff, ys), ew_apply(v, op, s), (flags >> 1) & 1);
    }
}

/*
 * ew_add: y = a + b, b broadcast where its strides are 0.
 * Launch: as ew_unary. flags: bit 0 a, bit 1 b, bit 2 y is f16.
 */
__kernel void ew_add(const __global float *a, const ulong aoff, const long4 ast,
                     const __global float *b, const ulong boff, const long4 bs,
                     __global float *y, const ulong yoff, const long4 ys, const long4 shape,
                     const int flags)
{
    const long i = get_global_id(0);
    const long total = shape.s0 * shape.s1 * shape.s2 * shape.s3;
    if (i < total) {
        EW_COORDS(i, shape)
        const float va = ew_load(a, EW_AT(aoff, ast), flags & 1);
        const float vb = ew_load(b, EW_AT(boff, bs), (flags >> 1) & 1);
        ew_store(y, EW_AT(yoff, ys), va + vb, (flags >> 2) & 1);
    }
}
