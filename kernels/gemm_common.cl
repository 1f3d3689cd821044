/*
 * gemm_common.cl -- what the builtin GEMM / GEMV kernels of clformer share (OpenCL C 1.2, no
 * extensions): the build options of the operands, their load and store macros, the argument
 * list and the epilogue. Each kernel is a program of its own that includes this file.
 *
 * Per batch b (get_global_id(2)), row-major storage:
 *     C = act( alpha * op(A) * op(B) + beta * C + bias[n] )
 * op(A) is M x K (A stored M x K, or K x M when CLF_TRANS_A=1);
 * op(B) is K x N (B stored K x N, or N x K when CLF_TRANS_B=1: the PyTorch Linear weight
 * layout (out, in), so y = x W^T + b is CLF_TRANS_B=1).
 * Accumulation is always f32. f16 is a *storage* format read with vload_half* and written
 * with vstore_half* (core OpenCL 1.2), so no cl_khr_fp16 is needed.
 * beta == 0 never reads C (C may hold NaN poison).
 *
 * Four kernels share one argument list (see docs/gemm_kernels.md):
 *   clf_gemm_tiled  (gemm_tiled.cl) local-memory tiled GEMM, for GPUs.
 *   clf_gemm_reg    (gemm_reg.cl)   register-blocked GEMM without local memory, for CPUs.
 *   clf_gemv        (gemv.cl)       small-M kernel: every weight is read once for all M rows.
 *   clf_gemm_i16    (gemm_i16.cl)   M > 1 over a Q8 or Q4 weight, CPUs:
 *                                   activations quantised to int16, integer products.
 *
 * Common build options (all default 0):
 *   CLF_A_F16, CLF_B_F16, CLF_C_F16, CLF_BIAS_F16   1 = that operand is stored as f16
 *   CLF_B_Q8     1 = B is Q8 (include/clformer/tensor.h): int8 codes read as char vectors
 *                and converted to float, one f32 scale per output column n at
 *                scaleB[offScale + n]; needs CLF_TRANS_B=1 (B is N x K, a scale per row).
 *                The kernels accumulate sum_k a * code in f32 and multiply by the scale in
 *                the store: the dequantised product up to f32 rounding, and no multiply
 *                per weight.
 *   CLF_B_Q4     1 = B is Q4 (include/clformer/tensor.h): 4-bit codes in groups of 32 along
 *                K, 16 bytes per group (element j and j + 16 of a group in the low and high
 *                nibble of byte j, stored + 8), one f32 scale per group at
 *                scaleB[offScale + index / 32]; needs CLF_TRANS_B=1. The host passes offB
 *                in bytes (a whole row's), ldb = groups per row * 32, so code index
 *                n * ldb + k is byte (index / 32) * 16 + index % 16 and group index / 32.
 *                The GEMM kernels dequantise each weight (code * its group's scale) as
 *                it is loaded: the scale changes every 32 along K, inside the K loop. A
 *                vector load of 2..16 codes stays in one group (the kernels load at
 *                multiples of the vector width, rows start at a group), so it is one uchar
 *                vector load, a shift, a mask and one scale. clf_gemv walks whole groups
 *                and applies each group's scale once to a sum of code products.
 *   CLF_TRANS_A, CLF_TRANS_B                         1 = operand stored transposed
 *   CLF_HALF_MATH  0 = f32 arithmetic (default); 1 or 2 = half arithmetic in clf_gemm_tiled
 *                and clf_gemv (clf_gemm_reg ignores it): needs cl_khr_fp16 (CLF_HAS_FP16)
 *                and f16 B (CLF_B_F16, not Q8/Q4). A is rounded to half as it is loaded.
 *                1: each product a*b is computed in half and added to an f32 sum.
 *                2: products are accumulated with half fma over one K tile (tiled: TK
 *                terms; GEMV: CLF_HK vector steps per lane), then that partial sum is
 *                added to the f32 sum. The epilogue (alpha, beta, bias, act) is f32.
 * The bias (add bias[offBias + n] after beta*C when has_bias != 0) and the activation
 * (act: 0 none, 1 relu, 2 gelu (erf), 3 gelu_tanh, 4 silu, 5 tanh) are kernel arguments,
 * not build options: they only touch the store, and one program then serves every
 * epilogue of a shape (fewer programs to compile at a cold start).
 * Indices inside one matrix are 32-bit ints: each matrix (with its leading dimension) must
 * span fewer than 2^31 elements. Offsets and batch strides are 64-bit.
 */

#ifndef CLF_A_F16
#define CLF_A_F16 0
#endif
#ifndef CLF_B_F16
#define CLF_B_F16 0
#endif
#ifndef CLF_C_F16
#define CLF_C_F16 0
#endif
#ifndef CLF_BIAS_F16
#define CLF_BIAS_F16 0
#endif
#ifndef CLF_B_Q8
#define CLF_B_Q8 0
#endif
#ifndef CLF_B_Q4
#define CLF_B_Q4 0
#endif
#ifndef CLF_TRANS_A
#define CLF_TRANS_A 0
#endif
#ifndef CLF_TRANS_B
#define CLF_TRANS_B 0
#endif

#ifndef CLF_HALF_MATH
#define CLF_HALF_MATH 0
#endif
#if CLF_HALF_MATH
#if !defined(CLF_HAS_FP16) || !CLF_HAS_FP16
#error "gemm_common.cl: CLF_HALF_MATH needs cl_khr_fp16"
#endif
#if !CLF_B_F16 || CLF_B_Q8 || CLF_B_Q4
#error "gemm_common.cl: CLF_HALF_MATH needs f16 B"
#endif
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#endif

#define CLF_CAT_(a, b) a##b
#define CLF_CAT(a, b) CLF_CAT_(a, b)

/* Storage types and loads. LD*(p, i) reads element i as float; LD*V(n, p, i) reads the n
 * consecutive elements p[i .. i+n) as floatn (only element alignment is required). */
#if CLF_A_F16
#define a_t half
#define LDA(p, i) vload_half((i), (p))
#define LDAV(n, p, i) CLF_CAT(vload_half, n)(0, (p) + (i))
#else
#define a_t float
#define LDA(p, i) ((p)[i])
#define LDAV(n, p, i) CLF_CAT(vload, n)(0, (p) + (i))
#endif
#if CLF_B_Q4
#if !CLF_TRANS_B
#error "gemm_common.cl: CLF_B_Q4 needs CLF_TRANS_B=1 (groups run along K)"
#endif
#define b_t uchar
/* Code index i: byte (i / 32) * 16 + i % 16, high nibble when i % 32 >= 16. These macros
 * read scaleB, which every function that loads B has in scope. */
#define CLF_Q4_BYTE(i) ((((i) >> 5) << 4) + ((i) & 15))
#define CLF_Q4_SHIFT(i) ((((i) >> 4) & 1) << 2)
/* code * scale = fma(nibble, scale, -8 * scale): one rounding of the same exact value as
 * (nibble - 8) * scale, one operation fewer per weight. */
#define LDB(p, i)                                                                              \
    fma((float)(((p)[CLF_Q4_BYTE(i)] >> CLF_Q4_SHIFT(i)) & 15), scaleB[(i) >> 5],              \
        -8.0f * scaleB[(i) >> 5])
#define LDBV(n, p, i)                                                                          \
    fma(CLF_CAT(convert_float, n)((CLF_CAT(vload, n)(0, (p) + CLF_Q4_BYTE(i)) >>               \
                                   (uchar)CLF_Q4_SHIFT(i)) &                                   \
                                  (uchar)15),                                                  \
        (CLF_CAT(float, n))(scaleB[(i) >> 5]), (CLF_CAT(float, n))(-8.0f * scaleB[(i) >> 5]))
#elif CLF_B_Q8
#if !CLF_TRANS_B
#error "gemm_common.cl: CLF_B_Q8 needs CLF_TRANS_B=1 (one scale per output column)"
#endif
#define b_t char
#define LDB(p, i) convert_float((p)[i])
#define LDBV(n, p, i) CLF_CAT(convert_float, n)(CLF_CAT(vload, n)(0, (p) + (i)))
/* The output column's scale: the store multiplies the accumulated sum by it. */
#define QSCALE(qs, n) ((qs)[n])
#elif CLF_B_F16
#define b_t half
#define LDB(p, i) vload_half((i), (p))
#define LDBV(n, p, i) CLF_CAT(vload_half, n)(0, (p) + (i))
#else
#define b_t float
#define LDB(p, i) ((p)[i])
#define LDBV(n, p, i) CLF_CAT(vload, n)(0, (p) + (i))
#endif
/* CLF_B_ILV = G > 0 (TRANS_B only): B (N, K) is row-interleaved, a packed Q8 weight
 * (clf_gemm_pack_b, gemm_pack.cl with PN = G, PV = 16): groups of G rows, K in steps of 16,
 * each step the group's G runs of 16 codes back to back, so the G rows a work-item reads
 * are one contiguous stream. Row n's element k is at CLF_BROW(n, ldb) + CLF_BK(k), ldb = K
 * rounded up to 16; a vector load of 4, 8 or 16 from k a multiple of its width stays in one
 * run. 0: plain rows, n * ldb + k. */
#ifndef CLF_B_ILV
#define CLF_B_ILV 0
#endif
#if CLF_B_ILV
#if !CLF_TRANS_B
#error "gemm_common.cl: CLF_B_ILV needs CLF_TRANS_B=1"
#endif
#define CLF_BROW(n, ldb) (((n) / CLF_B_ILV) * CLF_B_ILV * (ldb) + ((n) % CLF_B_ILV) * 16)
#define CLF_BK(k) ((((k) >> 4) * (CLF_B_ILV * 16)) + ((k) & 15))
#else
#define CLF_BROW(n, ldb) ((n) * (ldb))
#define CLF_BK(k) (k)
#endif
#ifndef QSCALE
#define QSCALE(qs, n) 1.0f
#endif
#if CLF_C_F16
#define c_t half
#define LDC(p, i) vload_half((i), (p))
#define STC(p, i, v) vstore_half((v), (i), (p))
#else
#define c_t float
#define LDC(p, i) ((p)[i])
#define STC(p, i, v) ((p)[i] = (v))
#endif
#if CLF_BIAS_F16
#define bias_t half
#define LDBIAS(p, i) vload_half((i), (p))
#else
#define bias_t float
#define LDBIAS(p, i) ((p)[i])
#endif

#if CLF_HALF_MATH
/* Half operands: B's f16 bits as they are (no conversion), A rounded to nearest half. */
#define LDBH(p, i) ((p)[i])
#define LDBHV(n, p, i) CLF_CAT(vload, n)(0, (p) + (i))
#if CLF_A_F16
#define LDAH(p, i) ((p)[i])
#define LDAHV(n, p, i) CLF_CAT(vload, n)(0, (p) + (i))
#else
#define LDAH(p, i) convert_half(LDA(p, i))
#define LDAHV(n, p, i) CLF_CAT(convert_half, n)(LDAV(n, p, i))
#endif
#endif

/* The argument list shared by all kernels. Offsets and strides are in elements. scaleB
 * (read with CLF_B_Q8 only, may be NULL otherwise) holds B's scales from offScale: it
 * is the same buffer as B for a Q8 tensor, seen as floats. */
#define CLF_GEMM_ARGS                                                                          \
    const int M, const int N, const int K, const float alpha, const float beta,               \
        __global const a_t *A, const ulong offA, const int lda, const ulong strideA,           \
        __global const b_t *B, const ulong offB, const int ldb, const ulong strideB,           \
        __global c_t *C, const ulong offC, const int ldc, const ulong strideC,                 \
        __global const bias_t *bias, const ulong offBias, const int has_bias, const int act,   \
        __global const float *scaleB, const ulong offScale

/* Moves the base pointers to this batch's matrices. */
#define CLF_GEMM_BATCH_BASE()                                                                  \
    do {                                                                                       \
        const ulong b_ = get_global_id(2);                                                     \
        A += offA + b_ * strideA;                                                              \
        B += offB + b_ * strideB;                                                              \
        C += offC + b_ * strideC;                                                              \
        bias += offBias;                                                                       \
        scaleB += offScale;                                                                    \
    } while (0)

inline float clf_act(const float x, const int act)
{
    switch (act) {
    case 1: return fmax(x, 0.0f);
    case 2: return clf_gelu8((float8)x).s0;
    case 3: return x / (1.0f + exp(-2.0f * 0.79788456080286536f * fma(0.044715f * x, x * x, x)));
    case 4: return x / (1.0f + exp(-x));
    case 5: return tanh(x);
    default: return x;
    }
}

/* The activation on 8 values in vector arithmetic (common.cl's exp and GELU:
 * PoCL's library erf and exp are scalar calls). The GELU-tanh form is
 * 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), without its cancellation. */
inline float8 clf_act8(const float8 x, const int act)
{
    switch (act) {
    case 1: return fmax(x, (float8)0.0f);
    case 2: return clf_gelu8(x);
    case 3: return x / (1.0f + clf_exp8(-2.0f * 0.79788456080286536f * fma(0.044715f * x, x * x, x)));
    case 4: return x / (1.0f + clf_exp8(-x));
    case 5: return tanh(x);
    default: return x;
    }
}

/* Writes one output element: alpha*acc (+ beta*C) (+ bias[n]), then the activation.
 * idx is the element index in this batch's C, n the output column. */
inline void clf_store(__global c_t *C, const int idx, const int n, const float acc,
                      const float alpha, const float beta, __global const bias_t *bias,
                      const int has_bias, const int act, __global const float *scaleB)
{
    float v = alpha * (acc * QSCALE(scaleB, n));
    if (beta != 0.0f)
        v = fma(beta, LDC(C, idx), v);
    if (has_bias)
        v += LDBIAS(bias, n);
    STC(C, idx, act ? clf_act(v, act) : v);
}

/* clf_store_row's vector block of n (4 or 8) outputs: v, then ACT (a statement on v). */
#if CLF_B_Q8
#define CLF_ROW_QS(n) *CLF_CAT(vload, n)(0, scaleB + n0)
#else
#define CLF_ROW_QS(n)
#endif
#if CLF_BIAS_F16
#define CLF_ROW_BIAS(n) CLF_CAT(vload_half, n)(0, bias + n0)
#else
#define CLF_ROW_BIAS(n) CLF_CAT(vload, n)(0, bias + n0)
#endif
#define CLF_STORE_ROW_VEC(n, ACT)                                                              \
    do {                                                                                       \
        CLF_CAT(float, n) v = alpha * (CLF_CAT(vload, n)(0, acc) CLF_ROW_QS(n));               \
        if (has_bias)                                                                          \
            v += CLF_ROW_BIAS(n);                                                              \
        ACT;                                                                                   \
        CLF_CAT(vstore, n)(v, 0, C + crow + n0);                                               \
        return;                                                                                \
    } while (0)

/* Writes cnt consecutive outputs of one row (row offset crow in C, first column n0, columns
 * >= N skipped) from the private acc[0, cnt): as clf_store, but the activation runs 8
 * values at a time in vector arithmetic, a fraction of its scalar cost. */
inline void clf_store_row(__global c_t *C, const int crow, const int n0, const int N,
                          const float *acc, const int cnt, const float alpha, const float beta,
                          __global const bias_t *bias, const int has_bias, const int act,
                          __global const float *scaleB)
{
#if !CLF_C_F16
    /* Whole blocks with no beta: the scale, bias and activation in vector arithmetic and one
     * vector store instead of 8 guarded scalar lanes. Four columns with no activation
     * (clf_gemm_i16's block: the output head and most layers), or eight (clf_gemv's walking
     * form). */
    if (n0 + cnt <= N && beta == 0.0f) {
        if (cnt == 4 && !act)
            CLF_STORE_ROW_VEC(4, (void)0);
        if (cnt == 8)
            CLF_STORE_ROW_VEC(8, if (act) v = clf_act8(v, act));
    }
#endif
    for (int j0 = 0; j0 < cnt; j0 += 8) {
        float t[8];
        #pragma unroll
        for (int j = 0; j < 8; ++j) {
            const int n = n0 + j0 + j;
            float v = 0.0f;
            if (j0 + j < cnt && n < N) {
                v = alpha * (acc[j0 + j] * QSCALE(scaleB, n));
                if (beta != 0.0f)
                    v = fma(beta, LDC(C, crow + n), v);
                if (has_bias)
                    v += LDBIAS(bias, n);
            }
            t[j] = v;
        }
        if (act)
            vstore8(clf_act8(vload8(0, t), act), 0, t);
        #pragma unroll
        for (int j = 0; j < 8; ++j) {
            const int n = n0 + j0 + j;
            if (j0 + j < cnt && n < N)
                STC(C, crow + n, t[j]);
        }
    }
}

/* CLF_PMADDWD: 1 where the kernel compiler offers x86's pmaddwd on 256-bit vectors
 * (__builtin_ia32_pmaddwd256: 16 int16 products added in pairs into 8 int32 lanes) and a
 * software prefetch, on an AVX2 target without AVX-512: PoCL's clang on such CPUs. The
 * int16 forms (clf_gemv with CLF_GI16, clf_gemm_i16) use it; which compiler declares it is
 * known only here, inside the kernel. AVX-512 targets are left out: their 512-bit FMAs
 * need as many instructions per product as the 256-bit integer form, and no AVX-512
 * machine was at hand to measure the two. */
#if defined(__AVX2__) && !defined(__AVX512F__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_pmaddwd256) && __has_builtin(__builtin_ia32_pmaddubsw256) &&     \
    __has_builtin(__builtin_prefetch)
#define CLF_PMADDWD 1
#endif
#endif
#ifndef CLF_PMADDWD
#define CLF_PMADDWD 0
#endif
/* CLF_MADDWD(a, w): pmaddwd's int8 of a.even * w.even + a.odd * w.odd for short16 a and w:
 * the instruction where there is one, else the same sums written portably (a kernel built
 * to take the int16 form everywhere, to test it on any device). The portable form pairs
 * the products through private memory, not with .even / .odd: Oclgrind 21.10 reports
 * swizzles of 16-wide vectors as reads of uninitialised values. */
#if CLF_PMADDWD
#define CLF_MADDWD(a, w) __builtin_ia32_pmaddwd256((a), (w))
#define CLF_PREFETCH(p) __builtin_prefetch(p)
#else
inline int8 clf_maddwd(const short16 a, const short16 w)
{
    int p[16];
    vstore16(convert_int16(a) * convert_int16(w), 0, p);
    return (int8)(p[0] + p[1], p[2] + p[3], p[4] + p[5], p[6] + p[7], p[8] + p[9], p[10] + p[11],
                  p[12] + p[13], p[14] + p[15]);
}
#define CLF_MADDWD(a, w) clf_maddwd((a), (w))
#define CLF_PREFETCH(p)
#endif

/* CLF_RNE(y): y rounded to the nearest integer, ties to even, for |y| < 2^22, by the adder:
 * y + 1.5 x 2^23 keeps no fraction bits. PoCL emulates rint and convert_*_sat_rte in ~25
 * instructions per 8 values (30 % of clf_gemm_i16's time at M = 128, 3072 x 768, when the
 * quantisers used them). y must be a value of its own (not a product written inline), so
 * that no FMA contraction rounds it differently. */
#define CLF_RNE(y) (((y) + 12582912.0f) - 12582912.0f)

/* The int16 forms' activation rows (clf_gemv with CLF_GI16, clf_gemm_i16): over the
 * 16-element chunks of row a that start at k0, k0 + step, ... below kend (k0 and step
 * multiples of 16), the largest |a|, and the codes rint(a * inv) (|a * inv| <= 32767 by
 * construction) stored at the same indices of dst. The maximum runs 8 wide: Oclgrind
 * reports swizzles of 16-wide vectors (see CLF_MADDWD). max, not fmax: no NaN handling (a
 * NaN makes the codes meaningless either way), one instruction each on PoCL; rounding:
 * CLF_RNE. */
inline float clf_i16_amax(__global const a_t *a, const int k0, const int kend, const int step)
{
    float8 m8 = (float8)0.0f;
    for (int k = k0; k < kend; k += step)
        m8 = max(m8, max(fabs(LDAV(8, a, k)), fabs(LDAV(8, a, k + 8))));
    const float4 m4 = max(m8.lo, m8.hi);
    return max(max(m4.s0, m4.s1), max(m4.s2, m4.s3));
}

inline void clf_i16_codes(__global const a_t *a, const int k0, const int kend, const int step,
                          const float inv, __local short *dst)
{
    for (int k = k0; k < kend; k += step) {
        const float16 y = LDAV(16, a, k) * inv;
        vstore16(convert_short16(CLF_RNE(y)), 0, dst + k);
    }
}

/* Q4 x int8 (clf_gemv's Q4 path with CLF_GI16). Activations: group g (32 elements of a
 * row, at a) becomes int8 codes rint(a * 127 / max|a|) with one scale max|a| / 127, stored
 * in the order of Q4's bytes: for the pair of groups p = g / 2 (64 bytes at aq + 64 p),
 * elements 0..15 of group g at 16 (g % 2), elements 16..31 at 32 + 16 (g % 2). The
 * scale goes to asc[8 p + 4 (g % 2) ..+4] (a lane per output lane of clf_q4dot), and 8 x
 * the codes' sum (the weights' offset: a nibble q means q - 8) to acor[8 p + 4 (g % 2)],
 * the lanes beside it 0. The codes' rounding error, at most max|a| / 254 per element of a
 * group, is 1/16 of the Q4 weights' own (max|w| / 14 per group). */
inline void clf_q4_agroup(__global const a_t *a, const int g, __local char *aq,
                          __local float *asc, __local int *acor)
{
    const float amax = clf_i16_amax(a, 0, 32, 16);
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    /* |y| <= 127: no saturation */
    const float8 y0 = LDAV(8, a, 0) * inv, y1 = LDAV(8, a, 8) * inv, y2 = LDAV(8, a, 16) * inv,
                 y3 = LDAV(8, a, 24) * inv;
    const char8 c0 = convert_char8(CLF_RNE(y0)), c1 = convert_char8(CLF_RNE(y1)),
                c2 = convert_char8(CLF_RNE(y2)), c3 = convert_char8(CLF_RNE(y3));
    __local char *dst = aq + (g >> 1) * 64 + (g & 1) * 16;
    vstore8(c0, 0, dst);
    vstore8(c1, 0, dst + 8);
    vstore8(c2, 0, dst + 32);
    vstore8(c3, 0, dst + 40);
    const int8 s8 = convert_int8(c0) + convert_int8(c1) + convert_int8(c2) + convert_int8(c3);
    const int4 s4 = s8.lo + s8.hi;
    const int at = (g >> 1) * 8 + (g & 1) * 4;
    vstore4((float4)(amax / 127.0f), 0, asc + at);
    vstore4((int4)(8 * ((s4.s0 + s4.s1) + (s4.s2 + s4.s3)), 0, 0, 0), 0, acor + at);
}

/* Two Q4 groups of a weight row (32 bytes at b) times the activation codes of
 * clf_q4_agroup (64 bytes at a): clf_q4w unpacks the groups' nibbles as 0..15 (once for
 * any number of rows of A), clf_q4dot gives int8 lanes, lane l the sum over bytes
 * 4l..4l+3 of both nibbles' products (lanes 0-3 the first group, 4-7 the second). AVX2:
 * the low and the high nibbles of the 32 bytes, each one 256-bit vector, pmaddubsw with the
 * activations (pair sums at most 2 x 15 x 127: no saturation), added, and summed in pairs
 * by pmaddwd with ones: 7 instructions for 64 products. Elsewhere the same sums written
 * portably. */
#if CLF_PMADDWD
typedef char clf_char32 __attribute__((ext_vector_type(32)));
typedef struct {
    clf_char32 lo, hi;
} clf_q4w_t;
inline clf_q4w_t clf_q4w(__global const uchar *b)
{
    const ushort16 v = vload16(0, (__global const ushort *)b);
    clf_q4w_t w;
    w.lo = __builtin_astype(v & (ushort)0x0F0F, clf_char32);
    w.hi = __builtin_astype((v >> (ushort)4) & (ushort)0x0F0F, clf_char32);
    return w;
}
inline int8 clf_q4dot(const clf_q4w_t w, __local const char *a)
{
    const short16 s = __builtin_ia32_pmaddubsw256(w.lo, *(__local const clf_char32 *)a) +
                      __builtin_ia32_pmaddubsw256(w.hi, *(__local const clf_char32 *)(a + 32));
    return __builtin_ia32_pmaddwd256(s, (short16)1);
}
#else
typedef struct {
    int16 lo[2], hi[2];
} clf_q4w_t;
inline clf_q4w_t clf_q4w(__global const uchar *b)
{
    clf_q4w_t w;
    for (int h = 0; h < 2; ++h) {
        const int16 q = convert_int16(vload16(0, b + 16 * h));
        w.lo[h] = q & 15;
        w.hi[h] = q >> 4;
    }
    return w;
}
inline int8 clf_q4dot(const clf_q4w_t w, __local const char *a)
{
    int p[8];
    for (int h = 0; h < 2; ++h) {
        int t[16];
        vstore16(w.lo[h] * convert_int16(vload16(0, a + 16 * h)) +
                     w.hi[h] * convert_int16(vload16(0, a + 32 + 16 * h)),
                 0, t);
        for (int l = 0; l < 4; ++l)
            p[4 * h + l] = (t[4 * l] + t[4 * l + 1]) + (t[4 * l + 2] + t[4 * l + 3]);
    }
    return vload8(0, p);
}
#endif

/* Horizontal sum of a float4/8/16. */
inline float clf_hsumv4(float4 v) { return (v.s0 + v.s1) + (v.s2 + v.s3); }
inline float clf_hsumv8(float8 v) { return clf_hsumv4(v.lo + v.hi); }
inline float clf_hsumv16(float16 v) { return clf_hsumv8(v.lo + v.hi); }
