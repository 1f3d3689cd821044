/*
 * Elementwise kernels: activations, scale, and add with broadcasting.
 *
 * Build options (all optional, default 0):
 *   EW_OP   the operation of the unary kernels: a clf_act value (0 none,
 *           1 relu, 2 gelu, 3 gelu_tanh, 4 silu, 5 tanh) or EW_OP_SCALE (16)
 *   EW_X16  x (unary) or a (add) is stored as f16
 *   EW_B16  b (add) is stored as f16
 *   EW_Y16  y is stored as f16
 * The operation and the storage dtypes are build options, not run-time
 * arguments: PoCL compiles a work-group into a loop and vectorises it only
 * when the body is simple, and a per-element branch on a dtype or an op code
 * (plus 64-bit index arithmetic) kept it scalar at about 60 ns per element.
 * The host builds one program per combination it meets (cached on disk).
 * f16 goes through vload_half / vstore_half_rte (core OpenCL 1.2); arithmetic
 * is f32. No extension is needed.
 *
 * Two kernel shapes per op:
 *  - *_rows: the fast path. The operands are (R, N) with a unit innermost
 *    stride and any row stride (0 = a broadcast row, such as a bias); a dense
 *    tensor arrives as R = 1. Each work-item handles EW_VW consecutive
 *    elements of one row with vector loads and stores (vload8 needs only
 *    element alignment, so any offset works).
 *  - ew_unary / ew_add: any strides over four dimensions, one element per
 *    work-item (permuted views, an innermost stride other than 1).
 */
#ifndef EW_OP
#define EW_OP 0
#endif
#ifndef EW_X16
#define EW_X16 0
#endif
#ifndef EW_B16
#define EW_B16 0
#endif
#ifndef EW_Y16
#define EW_Y16 0
#endif

#define EW_OP_SCALE 16 /* after the clf_act values 0..5 */
#define EW_VW 8        /* elements per work-item in the rows kernels */

#if EW_X16
typedef half x_t;
#define LOADX1(p, i) vload_half((i), (p))
#define LOADX8(p, i) clf_load_half8((p) + (i))
#else
typedef float x_t;
#define LOADX1(p, i) ((p)[(i)])
#define LOADX8(p, i) vload8(0, (p) + (i))
#endif
#if EW_B16
typedef half b_t;
#define LOADB1(p, i) vload_half((i), (p))
#define LOADB8(p, i) clf_load_half8((p) + (i))
#else
typedef float b_t;
#define LOADB1(p, i) ((p)[(i)])
#define LOADB8(p, i) vload8(0, (p) + (i))
#endif
#if EW_Y16
typedef half y_t;
#define STOREY1(p, i, v) vstore_half_rte((v), (i), (p))
#define STOREY8(p, i, v) clf_store_half8((v), (p) + (i))
#else
typedef float y_t;
#define STOREY1(p, i, v) ((p)[(i)] = (v))
#define STOREY8(p, i, v) vstore8((v), 0, (p) + (i))
#endif

/*
 * The GELU (erf form) as 0.5 v erfc(-v / sqrt 2), written without
 * cancellation: 1 + erf(t) loses every digit for negative arguments, so a
 * tail value like gelu(-5) = -1.4e-6 would come out 0. erfc(z) for z >= 0
 * is the Chebyshev-fitted form of Numerical Recipes (erfcc, fractional error
 * below 1.2e-7 for every z >= 0):
 *   erfc(z) = t exp(-z^2 + P(t)),  t = 1 / (1 + z / 2),
 * and erfc(-z) = 2 - erfc(z) for the positive half. It replaces the library
 * erfc, which PoCL does not vectorise. The z^2 = v^2 / 2 term is taken from v
 * with its rounding error (fma) so that the exponent stays accurate in the
 * far tail (|v| = 9 gives exp(-40.5 ...)): about 2e-6 relative there.
 * clf_gelu8 (common.cl) is the same in float8 arithmetic.
 */
#define EW_GELU_BODY(T)                                                                        \
    const T a = fabs(v) * M_SQRT1_2_F;                                                         \
    const T t = 1.0f / fma(0.5f, a, 1.0f);                                                     \
    T p = fma(t, 0.17087277f, -0.82215223f);                                                   \
    p = fma(t, p, 1.48851587f);                                                                \
    p = fma(t, p, -1.13520398f);                                                               \
    p = fma(t, p, 0.27886807f);                                                                \
    p = fma(t, p, -0.18628806f);                                                               \
    p = fma(t, p, 0.09678418f);                                                                \
    p = fma(t, p, 0.37409196f);                                                                \
    p = fma(t, p, 1.00002368f);                                                                \
    p = fma(t, p, -1.26551223f);                                                               \
    const T hi = v * v;                                                                        \
    const T lo = fma(v, v, -hi); /* v^2 = hi + lo exactly */                                   \
    const T e = t * exp(fma(-0.5f, hi, p) - 0.5f * lo); /* erfc(|v| / sqrt 2) */               \
    const T c = v < 0.0f ? e : 2.0f - e;                                                       \
    return 0.5f * v * c;

float ew_gelu1(const float v) { EW_GELU_BODY(float) }

/* The GELU (tanh form): 0.5 (1 + tanh(u)) = 1 / (1 + exp(-2u)), an exact
 * rewrite without the cancellation of 1 + tanh(u) for negative u. */
#define EW_GELU_TANH(v)                                                                        \
    ((v) / (1.0f + exp(-2.0f * 0.7978845608028654f * fma(0.044715f * (v), (v) * (v), (v)))))

#if EW_OP == 1
#define EW_APPLY1(v, s) fmax((v), 0.0f)
#define EW_APPLY8(v, s) fmax((v), (float8)0.0f)
#elif EW_OP == 2
#define EW_APPLY1(v, s) ew_gelu1(v)
#define EW_APPLY8(v, s) clf_gelu8(v)
#elif EW_OP == 3
#define EW_APPLY1(v, s) EW_GELU_TANH(v)
#define EW_APPLY8(v, s)                                                                        \
    ((v) / (1.0f + clf_exp8(-2.0f * 0.7978845608028654f * fma(0.044715f * (v), (v) * (v), (v)))))
#elif EW_OP == 4
#define EW_APPLY1(v, s) ((v) / (1.0f + exp(-(v))))
#define EW_APPLY8(v, s) ((v) / (1.0f + clf_exp8(-(v))))
#elif EW_OP == 5
#define EW_APPLY1(v, s) tanh(v)
#define EW_APPLY8(v, s) tanh(v)
#elif EW_OP == EW_OP_SCALE
#define EW_APPLY1(v, s) ((v) * (s))
#define EW_APPLY8(v, s) ((v) * (s))
#else
#define EW_APPLY1(v, s) (v)
#define EW_APPLY8(v, s) (v)
#endif

/*
 * ew_unary_rows: y[r, c] = op(x[r, c]) over (R, N), unit innermost stride.
 * Launch: 2-D, global = (ceil(N / EW_VW) rounded up to the local size, R),
 * local = (L, 1), any L. Work-item (i, r) handles columns [8i, 8i + 8) of
 * row r; the last one of a row takes the remainder one element at a time.
 * y may be the same view as x (every element is read before it is written,
 * by the same work-item).
 */
__kernel void ew_unary_rows(const __global x_t *x, const ulong xoff, const long x_rs,
                            __global y_t *y, const ulong yoff, const long y_rs, const long N,
                            const float s)
{
    const long c = (long)get_global_id(0) * EW_VW;
    const long r = get_global_id(1);
    const __global x_t *xr = x + (long)xoff + r * x_rs;
    __global y_t *yr = y + (long)yoff + r * y_rs;
    if (c + EW_VW <= N) {
        const float8 v = LOADX8(xr, c);
        STOREY8(yr, c, EW_APPLY8(v, s));
    } else if (c < N) {
        for (long j = c; j < N; j++) {
            const float v = LOADX1(xr, j);
            STOREY1(yr, j, EW_APPLY1(v, s));
        }
    }
}

/*
 * ew_add_rows: y[r, c] = a[r, c] + b[r, c] over (R, N), unit innermost
 * stride on every operand; b's row stride 0 broadcasts one row (a bias).
 * Launch: as ew_unary_rows. y may be the same view as a or b.
 */
__kernel void ew_add_rows(const __global x_t *a, const ulong aoff, const long a_rs,
                          const __global b_t *b, const ulong boff, const long b_rs,
                          __global y_t *y, const ulong yoff, const long y_rs, const long N)
{
    const long c = (long)get_global_id(0) * EW_VW;
    const long r = get_global_id(1);
    const __global x_t *ar = a + (long)aoff + r * a_rs;
    const __global b_t *br = b + (long)boff + r * b_rs;
    __global y_t *yr = y + (long)yoff + r * y_rs;
    if (c + EW_VW <= N) {
        STOREY8(yr, c, LOADX8(ar, c) + LOADB8(br, c));
    } else if (c < N) {
        for (long j = c; j < N; j++) STOREY1(yr, j, LOADX1(ar, j) + LOADB1(br, j));
    }
}

/* Splits flat index i over shape (n0, n1, n2, n3) into coordinates. */
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
 * ew_unary: y = op(x), any strides (the general path).
 * Launch: 1-D, global >= n0*n1*n2*n3 rounded up to the local size, any local
 * size. One work-item: one element. y may be the same view as x; partially
 * overlapping views are refused by the host.
 */
__kernel void ew_unary(const __global x_t *x, const ulong xoff, const long4 xs, __global y_t *y,
                       const ulong yoff, const long4 ys, const long4 shape, const float s)
{
    const long i = get_global_id(0);
    const long total = shape.s0 * shape.s1 * shape.s2 * shape.s3;
    if (i < total) {
        EW_COORDS(i, shape)
        const float v = LOADX1(x, EW_AT(xoff, xs));
        STOREY1(y, EW_AT(yoff, ys), EW_APPLY1(v, s));
    }
}

/*
 * ew_add: y = a + b, b broadcast where its strides are 0 (the general path).
 * Launch: as ew_unary.
 */
__kernel void ew_add(const __global x_t *a, const ulong aoff, const long4 ast,
                     const __global b_t *b, const ulong boff, const long4 bs, __global y_t *y,
                     const ulong yoff, const long4 ys, const long4 shape)
{
    const long i = get_global_id(0);
    const long total = shape.s0 * shape.s1 * shape.s2 * shape.s3;
    if (i < total) {
        EW_COORDS(i, shape)
        const float va = LOADX1(a, EW_AT(aoff, ast));
        const float vb = LOADB1(b, EW_AT(boff, bs));
        STOREY1(y, EW_AT(yoff, ys), va + vb);
    }
}
