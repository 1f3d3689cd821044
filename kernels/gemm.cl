/*
 * gemm.cl -- builtin GEMM / GEMV kernels of clformer (OpenCL C 1.2, no extensions).
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
 * Three kernels share one argument list (see docs/gemm_kernels.md):
 *   clf_gemm_tiled  local-memory tiled GEMM, for GPUs.
 *   clf_gemm_reg    register-blocked GEMM without local memory, for CPUs (PoCL).
 *   clf_gemv        small-M (M <= 8) kernel: every weight is read once for all M rows.
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
#error "gemm.cl: CLF_HALF_MATH needs cl_khr_fp16"
#endif
#if !CLF_B_F16 || CLF_B_Q8 || CLF_B_Q4
#error "gemm.cl: CLF_HALF_MATH needs f16 B"
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
#error "gemm.cl: CLF_B_Q4 needs CLF_TRANS_B=1 (groups run along K)"
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
#error "gemm.cl: CLF_B_Q8 needs CLF_TRANS_B=1 (one scale per output column)"
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
#error "gemm.cl: CLF_B_ILV needs CLF_TRANS_B=1"
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

/* Writes cnt consecutive outputs of one row (row offset crow in C, first column n0, columns
 * >= N skipped) from the private acc[0, cnt): as clf_store, but the activation runs 8
 * values at a time in vector arithmetic, a fraction of its scalar cost. */
inline void clf_store_row(__global c_t *C, const int crow, const int n0, const int N,
                          const float *acc, const int cnt, const float alpha, const float beta,
                          __global const bias_t *bias, const int has_bias, const int act,
                          __global const float *scaleB)
{
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

/* Horizontal sum of a float4/8/16. */
inline float clf_hsumv4(float4 v) { return (v.s0 + v.s1) + (v.s2 + v.s3); }
inline float clf_hsumv8(float8 v) { return clf_hsumv4(v.lo + v.hi); }
inline float clf_hsumv16(float16 v) { return clf_hsumv8(v.lo + v.hi); }

/* CLF_ONLY = 1, 2 or 3 compiles only that kernel (tiled, reg, gemv): a program
 * holds the one kernel its options were chosen for. Unset: all three. */
#if !defined(CLF_ONLY) || CLF_ONLY == 1
/* ======================================================================================== */
/* clf_gemm_tiled: local-memory tiled GEMM (GPU family).
 *
 * Build options (defaults in brackets):
 *   CLF_TM [64], CLF_TN [64]  rows / columns of C per work-group
 *   CLF_TK [16]               K-depth of one local-memory tile
 *   CLF_WM [4],  CLF_WN [4]   rows / columns of C per work-item
 * Launch: local  = (TN/WN, TM/WM, 1)
 *         global = (ceil(N/TN)*TN/WN, ceil(M/TM)*TM/WM, batch)
 * One work-item computes the WM x WN elements C[m0 + ty + i*(TM/WM)][n0 + tx + j*(TN/WN)]
 * (strided, so that neighbouring work-items store neighbouring columns: coalesced on GPUs).
 * Preconditions: TM % WM == 0, TN % WN == 0, (TM*TK) and (TN*TK) are multiples of the
 * work-group size (TM/WM)*(TN/WN); local memory of (TM+TN)*TK*4 bytes.
 * Any M, N, K >= 1: tiles are zero-filled outside the matrices, stores are guarded, and every
 * work-item reaches every barrier. No extension needed, except with CLF_HALF_MATH (cl_khr_fp16):
 * then the tiles hold halves ((TM+TN)*TK*2 bytes of local memory) and the products are half.
 */
#ifndef CLF_TM
#define CLF_TM 64
#endif
#ifndef CLF_TN
#define CLF_TN 64
#endif
#ifndef CLF_TK
#define CLF_TK 16
#endif
#ifndef CLF_WM
#define CLF_WM 4
#endif
#ifndef CLF_WN
#define CLF_WN 4
#endif
#define CLF_LX (CLF_TN / CLF_WN)
#define CLF_LY (CLF_TM / CLF_WM)
#define CLF_LSIZE (CLF_LX * CLF_LY)
#if CLF_HALF_MATH
#define tile_t half
#define LDAT LDAH
#define LDBT LDBH
#else
#define tile_t float
#define LDAT LDA
#define LDBT LDB
#endif

__kernel __attribute__((reqd_work_group_size(CLF_LX, CLF_LY, 1))) void
clf_gemm_tiled(CLF_GEMM_ARGS)
{
    CLF_GEMM_BATCH_BASE();
    const int tx = get_local_id(0), ty = get_local_id(1);
    const int lid = ty * CLF_LX + tx;
    const int n0 = get_group_id(0) * CLF_TN, m0 = get_group_id(1) * CLF_TM;

    /* +1 column of padding breaks power-of-two strides in the transposing stores. */
    __local tile_t As[CLF_TK][CLF_TM + 1];
    __local tile_t Bs[CLF_TK][CLF_TN + 1];

    float acc[CLF_WM][CLF_WN];
    #pragma unroll
    for (int i = 0; i < CLF_WM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_WN; ++j)
            acc[i][j] = 0.0f;

    for (int kb = 0; kb < K; kb += CLF_TK) {
        /* Cooperative tile loads; consecutive work-items read consecutive addresses. */
        for (int e = lid; e < CLF_TM * CLF_TK; e += CLF_LSIZE) {
#if CLF_TRANS_A
            const int kk = e / CLF_TM, mm = e % CLF_TM;
            const int m = m0 + mm, k = kb + kk;
            As[kk][mm] = (m < M && k < K) ? LDAT(A, k * lda + m) : (tile_t)0.0f;
#else
            const int mm = e / CLF_TK, kk = e % CLF_TK;
            const int m = m0 + mm, k = kb + kk;
            As[kk][mm] = (m < M && k < K) ? LDAT(A, m * lda + k) : (tile_t)0.0f;
#endif
        }
        for (int e = lid; e < CLF_TN * CLF_TK; e += CLF_LSIZE) {
#if CLF_TRANS_B
            const int nn = e / CLF_TK, kk = e % CLF_TK;
            const int n = n0 + nn, k = kb + kk;
            Bs[kk][nn] = (n < N && k < K) ? LDBT(B, n * ldb + k) : (tile_t)0.0f;
#else
            const int kk = e / CLF_TN, nn = e % CLF_TN;
            const int n = n0 + nn, k = kb + kk;
            Bs[kk][nn] = (n < N && k < K) ? LDBT(B, k * ldb + n) : (tile_t)0.0f;
#endif
        }
        barrier(CLK_LOCAL_MEM_FENCE);

#if CLF_HALF_MATH == 2
        half hacc[CLF_WM][CLF_WN]; /* this tile's TK terms, summed in half */
        #pragma unroll
        for (int i = 0; i < CLF_WM; ++i)
            #pragma unroll
            for (int j = 0; j < CLF_WN; ++j)
                hacc[i][j] = (half)0.0f;
#endif
        for (int kk = 0; kk < CLF_TK; ++kk) {
            tile_t a[CLF_WM], b[CLF_WN];
            #pragma unroll
            for (int i = 0; i < CLF_WM; ++i)
                a[i] = As[kk][ty + i * CLF_LY];
            #pragma unroll
            for (int j = 0; j < CLF_WN; ++j)
                b[j] = Bs[kk][tx + j * CLF_LX];
            #pragma unroll
            for (int i = 0; i < CLF_WM; ++i)
                #pragma unroll
                for (int j = 0; j < CLF_WN; ++j)
#if CLF_HALF_MATH == 2
                    hacc[i][j] = fma(a[i], b[j], hacc[i][j]);
#elif CLF_HALF_MATH == 1
                    acc[i][j] += convert_float(a[i] * b[j]);
#else
                    acc[i][j] = fma(a[i], b[j], acc[i][j]);
#endif
        }
#if CLF_HALF_MATH == 2
        #pragma unroll
        for (int i = 0; i < CLF_WM; ++i)
            #pragma unroll
            for (int j = 0; j < CLF_WN; ++j)
                acc[i][j] += convert_float(hacc[i][j]);
#endif
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    #pragma unroll
    for (int i = 0; i < CLF_WM; ++i) {
        const int m = m0 + ty + i * CLF_LY;
        #pragma unroll
        for (int j = 0; j < CLF_WN; ++j) {
            const int n = n0 + tx + j * CLF_LX;
            if (m < M && n < N)
                clf_store(C, m * ldc + n, n, acc[i][j], alpha, beta, bias, has_bias, act, scaleB);
        }
    }
}
#endif /* CLF_ONLY == 1 */

#if !defined(CLF_ONLY) || CLF_ONLY == 2
/* ======================================================================================== */
/* clf_gemm_reg: register-blocked GEMM for CPUs (PoCL). PoCL runs a work-group on one core
 * and, because the body already uses explicit floatV vectors, runs its work-items one after
 * another, each as a SIMD micro-kernel whose accumulators stay in registers.
 *
 * Build options (defaults in brackets):
 *   CLF_RM [4]   rows of C per work-item
 *   CLF_RN [4 if TRANS_B else 16]  columns of C per work-item; with CLF_TRANS_B=0 it must be
 *                a multiple of CLF_RV
 *   CLF_RV [8]   vector width (4, 8 or 16): along K when CLF_TRANS_B=1 (dot-product form:
 *                RM*RN floatV accumulators, reduced at the end), along N when CLF_TRANS_B=0
 *                (broadcast form: RM*RN/RV accumulators)
 *   CLF_KC [0]   TRANS_B=0 only: if > 0, B is packed KC rows at a time into a local tile of
 *                KC x (RLX*RN) floats shared by the work-group (barriers around it); this
 *                avoids cache-set aliasing of B rows with power-of-two strides. 0 = B read
 *                directly, no local memory, no barrier. Ignored when TRANS_B=1.
 *   CLF_RLX [1]  with KC > 0: the local size in dim 0, which the host must then launch with.
 *   CLF_B_PACKED [0]  1 = B is a packed weight (clf_gemm_pack_b; f32/f16, CLF_TRANS_B=0):
 *                ldb = panel rows (K), RN = panel width, one panel per work-item.
 * Launch: global = (ceil(ceil(N/RN)/LX)*LX, ceil(ceil(M/RM)/LY)*LY, batch),
 *         local = (LX, LY, 1); any LX, LY (LX = RLX when KC > 0). Padding work-items compute
 *         clamped duplicates and store nothing. CPU choice: TRANS_B=1: RM=3 RN=4 RV=8,
 *         local (4,4); TRANS_B=0: RM=6 RN=16 RV=8 KC=128 RLX=4, local (4, min(22, ceil(M/6))).
 * One work-item computes C[m0 .. m0+RM) x [n0 .. n0+RN), m0 = gid1*RM, n0 = gid0*RN.
 * Out-of-range rows / columns are clamped for loads and skipped for stores, so any M, N, K
 * >= 1 works and nobody returns before a barrier. No extension needed.
 */
#ifndef CLF_RM
#define CLF_RM 4
#endif
#ifndef CLF_RN
#if CLF_TRANS_B
#define CLF_RN 4
#else
#define CLF_RN 16
#endif
#endif
#ifndef CLF_RV
#define CLF_RV 8
#endif
#ifndef CLF_KC
#define CLF_KC 0
#endif
#ifndef CLF_RLX
#define CLF_RLX 1
#endif
#if !CLF_TRANS_B && (CLF_RN % CLF_RV) != 0
#error "clf_gemm_reg: with CLF_TRANS_B=0, CLF_RN must be a multiple of CLF_RV"
#endif
#ifndef CLF_B_PACKED
#define CLF_B_PACKED 0
#endif
#if CLF_B_PACKED && (CLF_TRANS_B || CLF_B_Q8 || CLF_B_Q4)
#error "clf_gemm_reg: CLF_B_PACKED needs CLF_TRANS_B=0 (a panel is K x RN) and f32 or f16 B"
#endif
#define rv_t CLF_CAT(float, CLF_RV)
#define clf_hsum CLF_CAT(clf_hsumv, CLF_RV)
#define clf_vload CLF_CAT(vload, CLF_RV)
#define clf_vstore CLF_CAT(vstore, CLF_RV)

#if CLF_TRANS_B
/* Elements k .. k + RV of row ao of op(A) (ao: m*lda plain, m with TRANS_A). */
inline __attribute__((always_inline)) rv_t clf_reg_loada(__global const a_t *A, const int lda,
                                                         const int ao, const int k)
{
#if CLF_TRANS_A
    float t[CLF_RV];
    #pragma unroll
    for (int v = 0; v < CLF_RV; ++v)
        t[v] = LDA(A, (k + v) * lda + ao);
    return clf_vload(0, t);
#else
    return LDAV(CLF_RV, A, ao + k);
#endif
}

/* Dot-product form: acc[i][j] is a vector of partial sums along K. */
inline __attribute__((always_inline)) void clf_reg_block(__global const a_t *A, const int lda, __global const b_t *B,
                          const int *aoff, const int *boff, const int k0, const int k1,
                          rv_t acc[CLF_RM][CLF_RN], __global const float *scaleB)
{
#if CLF_B_Q4
    /* Q4 (k0, k1 multiples of 32): group by group, each vector of codes dequantised once
     * for the RM rows ((nibble - 8) * scale: the value and the rounding of LDBV) with fixed
     * shifts and one group index per column, in the element order of the loop below. */
    /* Each column's codes and scales through its own pointers, advanced per group: from
     * group indices PoCL rebuilt the RN addresses in a vector for every load (GPT-2 small
     * Q4 16-token prompt on PoCL, AVX2 EPYC, under load: 356 -> 306-313 ms device time). */
    __global const uchar *qr[CLF_RN];
    __global const float *sr[CLF_RN];
    #pragma unroll
    for (int j = 0; j < CLF_RN; ++j) {
        qr[j] = B + ((boff[j] + k0) >> 5) * 16;
        sr[j] = scaleB + ((boff[j] + k0) >> 5);
    }
    for (int k = k0; k < k1; k += 32) {
        #pragma unroll
        for (int h = 0; h < 2; ++h)
            #pragma unroll
            for (int c = 0; c < 16 / CLF_RV; ++c) {
                const int kk = k + h * 16 + c * CLF_RV;
                rv_t a[CLF_RM];
                #pragma unroll
                for (int i = 0; i < CLF_RM; ++i)
                    a[i] = clf_reg_loada(A, lda, aoff[i], kk);
                #pragma unroll
                for (int j = 0; j < CLF_RN; ++j) {
                    const CLF_CAT(uchar, CLF_RV) q = CLF_CAT(vload, CLF_RV)(0, qr[j] + c * CLF_RV);
                    const CLF_CAT(uchar, CLF_RV) nib = h ? q >> (uchar)4 : q & (uchar)15;
                    const rv_t w =
                        CLF_CAT(convert_float, CLF_RV)(CLF_CAT(as_char, CLF_RV)(nib) - (char)8) *
                        sr[j][0];
                    #pragma unroll
                    for (int i = 0; i < CLF_RM; ++i)
                        acc[i][j] = fma(a[i], w, acc[i][j]);
                }
            }
        #pragma unroll
        for (int j = 0; j < CLF_RN; ++j)
            qr[j] += 16, sr[j] += 1;
    }
#else
    for (int k = k0; k < k1; k += CLF_RV) {
        rv_t a[CLF_RM];
        #pragma unroll
        for (int i = 0; i < CLF_RM; ++i)
            a[i] = clf_reg_loada(A, lda, aoff[i], k);
        #pragma unroll
        for (int j = 0; j < CLF_RN; ++j) {
            const rv_t w = LDBV(CLF_RV, B, boff[j] + CLF_BK(k));
            #pragma unroll
            for (int i = 0; i < CLF_RM; ++i)
                acc[i][j] = fma(a[i], w, acc[i][j]);
        }
    }
#endif
}
#if CLF_B_ILV == CLF_RN && !CLF_TRANS_A
/* The dot-product form over an interleaved block (CLF_B_ILV == CLF_RN, k1 a multiple of 16):
 * the item's RN rows are one stream of RN x 16 codes per 16 k, read through one advancing
 * pointer, and A through row pointers. With per-row offsets PoCL kept the RM + RN indices
 * in vectors and extracted them lane by lane for every load (GPT-2 small Q8 prompt of 16
 * tokens on PoCL, AVX2 EPYC, device time: 166 -> 114 ms with the 2 x 4 tile of plan_reg). */
inline __attribute__((always_inline)) void clf_reg_block_ilv(__global const a_t *A,
                                                             const int *aoff,
                                                             __global const b_t *bp,
                                                             const int k1,
                                                             rv_t acc[CLF_RM][CLF_RN])
{
    __global const a_t *ar[CLF_RM];
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i)
        ar[i] = A + aoff[i];
    for (int k = 0; k < k1; k += 16, bp += CLF_RN * 16) {
        #pragma unroll
        for (int c = 0; c < 16 / CLF_RV; ++c) {
            rv_t a[CLF_RM];
            #pragma unroll
            for (int i = 0; i < CLF_RM; ++i)
                a[i] = LDAV(CLF_RV, ar[i], k + c * CLF_RV);
            #pragma unroll
            for (int j = 0; j < CLF_RN; ++j) {
                const rv_t w = LDBV(CLF_RV, bp, j * 16 + c * CLF_RV);
                #pragma unroll
                for (int i = 0; i < CLF_RM; ++i)
                    acc[i][j] = fma(a[i], w, acc[i][j]);
            }
        }
    }
}
#endif
#else
/* Broadcast form: acc[i][j] holds columns n0 + j*RV .. +RV of row i. When edge is true the
 * B columns are loaded one by one with clamped indices (right edge of C). */
#define CLF_NV (CLF_RN / CLF_RV)
inline __attribute__((always_inline)) void clf_reg_block(__global const a_t *A, const int lda, __global const b_t *B,
                          const int ldb, const int *aoff, const int n0, const int N,
                          const int k0, const int k1, const bool edge,
                          rv_t acc[CLF_RM][CLF_NV])
{
    for (int k = k0; k < k1; ++k) {
        rv_t b[CLF_NV];
        #pragma unroll
        for (int j = 0; j < CLF_NV; ++j) {
            if (edge) {
                float t[CLF_RV];
                #pragma unroll
                for (int v = 0; v < CLF_RV; ++v)
                    t[v] = LDB(B, k * ldb + min(n0 + j * CLF_RV + v, N - 1));
                b[j] = clf_vload(0, t);
            } else {
                b[j] = LDBV(CLF_RV, B, k * ldb + n0 + j * CLF_RV);
            }
        }
        #pragma unroll
        for (int i = 0; i < CLF_RM; ++i) {
#if CLF_TRANS_A
            const float a = LDA(A, k * lda + aoff[i]);
#else
            const float a = LDA(A, aoff[i] + k);
#endif
            #pragma unroll
            for (int j = 0; j < CLF_NV; ++j)
                acc[i][j] = fma((rv_t)a, b[j], acc[i][j]);
        }
    }
}
#endif

__kernel void clf_gemm_reg(CLF_GEMM_ARGS)
{
    CLF_GEMM_BATCH_BASE();
    const int n0 = get_global_id(0) * CLF_RN, m0 = get_global_id(1) * CLF_RM;

    int aoff[CLF_RM]; /* row m of op(A): m*lda (plain) or m (TRANS_A), m clamped to M-1 */
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i) {
        const int m = min(m0 + i, M - 1);
        aoff[i] = CLF_TRANS_A ? m : m * lda;
    }

#if CLF_TRANS_B
    int boff[CLF_RN];
    #pragma unroll
    for (int j = 0; j < CLF_RN; ++j)
        boff[j] = CLF_BROW(min(n0 + j, N - 1), ldb);
    rv_t acc[CLF_RM][CLF_RN];
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_RN; ++j)
            acc[i][j] = (rv_t)0.0f;
#if CLF_B_ILV == CLF_RN && !CLF_TRANS_A
    const bool block = n0 + CLF_RN <= N; /* else the clamped edge: rows of other blocks */
    const int Kv = K - K % (block ? 16 : CLF_RV);
    if (block)
        clf_reg_block_ilv(A, aoff, B + boff[0], Kv, acc);
    else
        clf_reg_block(A, lda, B, aoff, boff, 0, Kv, acc, scaleB);
#else
    const int Kv = K - K % (CLF_B_Q4 ? 32 : CLF_RV); /* Q4: whole groups */
    clf_reg_block(A, lda, B, aoff, boff, 0, Kv, acc, scaleB);
#endif
    float s[CLF_RM][CLF_RN];
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_RN; ++j)
            s[i][j] = clf_hsum(acc[i][j]);
    for (int k = Kv; k < K; ++k) {
        #pragma unroll
        for (int i = 0; i < CLF_RM; ++i) {
            const float a = CLF_TRANS_A ? LDA(A, k * lda + aoff[i]) : LDA(A, aoff[i] + k);
            #pragma unroll
            for (int j = 0; j < CLF_RN; ++j)
                s[i][j] = fma(a, LDB(B, boff[j] + CLF_BK(k)), s[i][j]);
        }
    }
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i) {
        const int m = m0 + i;
        if (m < M)
            clf_store_row(C, m * ldc, n0, N, s[i], CLF_RN, alpha, beta, bias, has_bias, act, scaleB);
    }
#else
    rv_t acc[CLF_RM][CLF_NV];
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_NV; ++j)
            acc[i][j] = (rv_t)0.0f;
#if CLF_KC > 0
    /* B is packed, KC rows at a time, into a contiguous local tile shared by the work-group:
     * no 4 KiB-aliasing of strided rows, edge columns clamped once, f16 converted once. */
    __local float Bs[CLF_KC][CLF_RLX * CLF_RN];
    const int lid = get_local_id(1) * CLF_RLX + get_local_id(0);
    const int lsize = get_local_size(0) * get_local_size(1);
    const int nw0 = get_group_id(0) * (CLF_RLX * CLF_RN);
    const int lcol = get_local_id(0) * CLF_RN;
    for (int kb = 0; kb < K; kb += CLF_KC) {
        /* One work-item copies whole rows of the tile with vector loads (clamped at edges). */
        const bool full = nw0 + CLF_RLX * CLF_RN <= N;
        for (int kk = lid; kk < CLF_KC; kk += lsize) {
            const int k = min(kb + kk, K - 1);
            __global const b_t *brow = B + k * ldb;
            if (full) {
                #pragma unroll
                for (int c = 0; c < CLF_RLX * CLF_RN; c += CLF_RV)
                    clf_vstore(LDBV(CLF_RV, brow, nw0 + c), 0, &Bs[kk][c]);
            } else {
                for (int c = 0; c < CLF_RLX * CLF_RN; ++c)
                    Bs[kk][c] = LDB(brow, min(nw0 + c, N - 1));
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        const int kn = min(CLF_KC, K - kb);
        for (int kk = 0; kk < kn; ++kk) {
            rv_t b[CLF_NV];
            #pragma unroll
            for (int j = 0; j < CLF_NV; ++j)
                b[j] = clf_vload(0, &Bs[kk][lcol + j * CLF_RV]);
            #pragma unroll
            for (int i = 0; i < CLF_RM; ++i) {
                const int k = kb + kk;
                const float a = CLF_TRANS_A ? LDA(A, k * lda + aoff[i]) : LDA(A, aoff[i] + k);
                #pragma unroll
                for (int j = 0; j < CLF_NV; ++j)
                    acc[i][j] = fma((rv_t)a, b[j], acc[i][j]);
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
#elif CLF_B_PACKED
    /* Broadcast form over this item's panel of a packed weight (PV = 1: ldb rows of RN
     * columns, row k = B^T's columns n0 .. n0+RN at k, zero past N): one contiguous stream,
     * no edge case. Padding items (n0 >= N) read the last panel and store nothing. */
    B += (ulong)(min(n0, N - 1) / CLF_RN) * (ulong)ldb * CLF_RN;
#if CLF_TRANS_A
    clf_reg_block(A, lda, B, CLF_RN, aoff, 0, CLF_RN, 0, K, false, acc);
#else
    /* Row pointers: with row offsets the compiler rebuilt RM addresses in vectors each k. */
    __global const a_t *ar[CLF_RM];
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i)
        ar[i] = A + aoff[i];
    for (int k = 0; k < K; ++k) {
        rv_t b[CLF_NV];
        #pragma unroll
        for (int j = 0; j < CLF_NV; ++j)
            b[j] = LDBV(CLF_RV, B, k * CLF_RN + j * CLF_RV);
        #pragma unroll
        for (int i = 0; i < CLF_RM; ++i) {
            const float a = LDA(ar[i], k);
            #pragma unroll
            for (int j = 0; j < CLF_NV; ++j)
                acc[i][j] = fma((rv_t)a, b[j], acc[i][j]);
        }
    }
#endif
#else
    if (n0 + CLF_RN > N)
        clf_reg_block(A, lda, B, ldb, aoff, n0, N, 0, K, true, acc);
    else
        clf_reg_block(A, lda, B, ldb, aoff, n0, N, 0, K, false, acc);
#endif
    #pragma unroll
    for (int i = 0; i < CLF_RM; ++i) {
        const int m = m0 + i;
        #pragma unroll
        for (int j = 0; j < CLF_NV; ++j) {
            float t[CLF_RV];
            clf_vstore(acc[i][j], 0, t);
            if (m < M)
                clf_store_row(C, m * ldc, n0 + j * CLF_RV, N, t, CLF_RV, alpha, beta, bias,
                              has_bias, act, scaleB);
        }
    }
#endif
}
#endif /* CLF_ONLY == 2 */

#if !defined(CLF_ONLY) || CLF_ONLY == 3
/* ======================================================================================== */
/* clf_gemv: small-M GEMM (M <= CLF_GM, decode step). Each weight element is read once for
 * all M rows of x, so the kernel is bound by the bytes of B (f16 B halves them).
 *
 * Build options (defaults in brackets):
 *   CLF_GM [8]    rows held per work-item; M <= CLF_GM required. Best CLF_GM = M (rows
 *                 beyond M are computed on a clamped duplicate row and not stored).
 *   CLF_GV [8]    vector width (4, 8 or 16): along K (TRANS_B=1) or N (TRANS_B=0)
 *   CLF_GN [1]    TRANS_B=1: output columns (weight rows) per work-item;
 *                 TRANS_B=0: vectors of CLF_GV columns per work-item (it owns GV*GN
 *                 consecutive columns and reads GV*GN contiguous weights per k)
 *   CLF_GS [1]    work-items that share one column block by splitting K (local dim 0);
 *                 > 1 reduces partial sums in local memory (GPU), 1 = no local memory (CPU)
 *   CLF_GLY [4]   local size in dim 1; only used (and then required to match) when GS > 1
 *   CLF_GI16 [0]  1 = Q8 (interleaved) and Q4 weights may take integer products (see "int16
 *                 x int8" below) where the compiler offers the x86 instruction; the host sets
 *                 it for K <= 4096
 * Launch: local = (GS, LY, 1), global = (GS, ceil(ceil(N/CPW)/LY)*LY, batch) with
 *         CPW = GN (TRANS_B=1) or GV*GN (TRANS_B=0) columns per work-item; LY = CLF_GLY
 *         when GS > 1, else any. CPU choice (GS=1): TRANS_B=1 GV=16 GN=4 LY=8;
 *         TRANS_B=0 GV=8 GN=8 LY=4. GPU suggestion: GS=32..64, GV=4, GN=1, GLY=4.
 * One work-item (group of GS work-items) computes C[0..M) x [n0 .. n0+CPW), n0 = gid1*CPW.
 * TRANS_A is supported with scalar loads of A (x is tiny). No extension needed, except with
 * CLF_HALF_MATH (cl_khr_fp16): then the main loop (K rounded down to GV, TRANS_B=1; all of K,
 * TRANS_B=0) multiplies halfGV vectors of B's f16 bits and of x rounded to half; with
 * CLF_HALF_MATH=2 each lane sums CLF_HK [8] of its products in half before adding them to
 * its f32 sum. The TRANS_B=1 remainder (< GV terms) stays f32.
 */
#ifndef CLF_GM
#define CLF_GM 8
#endif
#ifndef CLF_GV
#define CLF_GV 8
#endif
#ifndef CLF_GN
#define CLF_GN 1
#endif
#ifndef CLF_GS
#define CLF_GS 1
#endif
#ifndef CLF_GLY
#define CLF_GLY 4
#endif
/* int16 x int8 (CLF_GI16, one row of A, interleaved Q8 rows or Q4, AVX2 without AVX-512): the
 * work-group quantises the row of A once into local memory, int16 codes with one scale
 * (max|a| / 32767, round to nearest), and each item sums code products with pmaddwd (16
 * products in 2 instructions; the f32 form converts each weight: 3 per 8 products). The
 * lanes' sums are exact in int32 for K <= 4096 (K / 8 products of at most 127 x 32767
 * each, under 2^31). The activation's rounding error, at most max|a| / 65534 per element, is
 * 1/130 of the weights' own (max|w| / 254). Which compiler offers the instruction is
 * known only inside the kernel (PoCL: clang with the host CPU's features; other
 * compilers do not declare it), so the f32 form stays for every other device. AVX-512
 * devices keep the f32 form too: its 512-bit FMAs need as many instructions per product as
 * the 256-bit integer form, and no AVX-512 machine was at hand to measure the two. Local
 * memory: 8 KiB of codes and a float per item (the host checks the device's limit). */
#ifndef CLF_GI16
#define CLF_GI16 0
#endif
#if CLF_GI16 && CLF_TRANS_B && ((CLF_B_Q8 && CLF_B_ILV == CLF_GN) || CLF_B_Q4) &&          \
    !CLF_TRANS_A && !CLF_HALF_MATH && CLF_GM == 1 && CLF_GS == 1 && CLF_GV == 16 &&           \
    defined(__AVX2__) && !defined(__AVX512F__) && defined(__has_builtin)
#if __has_builtin(__builtin_ia32_pmaddwd256) && __has_builtin(__builtin_prefetch)
#define CLF_GX 1
#endif
#endif
#ifndef CLF_GX
#define CLF_GX 0
#endif
#define gv_t CLF_CAT(float, CLF_GV)
#define clf_ghsum CLF_CAT(clf_hsumv, CLF_GV)
#define clf_gvload CLF_CAT(vload, CLF_GV)
#define clf_gvstore CLF_CAT(vstore, CLF_GV)
/* The operand types and loads of the main loop, and its multiply-accumulate: f32 (fma into
 * acc), or half (see above; hacc is the per-tile half sum of level 2, flushed by CLF_GFLUSH). */
#if CLF_HALF_MATH
#ifndef CLF_HK
#define CLF_HK 8
#endif
#define gw_t CLF_CAT(half, CLF_GV)
#define gs_t half
#define LDGA LDAH
#define LDGAV LDAHV
#define LDGB LDBH
#define LDGBV LDBHV
#if CLF_HALF_MATH == 2
#define CLF_GMAC(acc, hacc, a, w) ((hacc) = fma((a), (w), (hacc)))
#else
#define CLF_GMAC(acc, hacc, a, w) ((acc) += CLF_CAT(convert_float, CLF_GV)((a) * (w)))
#endif
#else
#define gw_t gv_t
#define gs_t float
#define LDGA LDA
#define LDGAV LDAV
#define LDGB LDB
#define LDGBV LDBV
#define CLF_GMAC(acc, hacc, a, w) ((acc) = fma((a), (w), (acc)))
#endif
#if CLF_HALF_MATH == 2
/* Level 2: after every CLF_HK steps of the main loop (and after it), hacc joins acc. */
#define CLF_GH_DECL() gw_t hacc[CLF_GM][CLF_GN]; int hsteps = 0; CLF_GH_ZERO()
#define CLF_GH_ZERO()                                                                          \
    for (int i = 0; i < CLF_GM; ++i)                                                           \
        for (int j = 0; j < CLF_GN; ++j)                                                       \
            hacc[i][j] = (gw_t)0.0f
#define CLF_GFLUSH()                                                                           \
    do {                                                                                       \
        for (int i = 0; i < CLF_GM; ++i)                                                       \
            for (int j = 0; j < CLF_GN; ++j)                                                   \
                acc[i][j] += CLF_CAT(convert_float, CLF_GV)(hacc[i][j]);                       \
        CLF_GH_ZERO();                                                                         \
    } while (0)
#define CLF_GH_STEP()                                                                          \
    do {                                                                                       \
        if (++hsteps == CLF_HK) {                                                              \
            CLF_GFLUSH();                                                                      \
            hsteps = 0;                                                                        \
        }                                                                                      \
    } while (0)
#else
#define CLF_GH_DECL()
#define CLF_GFLUSH()
#define CLF_GH_STEP()
#endif
#if CLF_TRANS_B
#define CLF_GCOLS CLF_GN
#else
#define CLF_GCOLS (CLF_GV * CLF_GN)
#endif

__kernel void clf_gemv(CLF_GEMM_ARGS)
{
    CLF_GEMM_BATCH_BASE();
    const int t = get_local_id(0);
    const int n0 = get_global_id(1) * CLF_GCOLS;
    int aoff[CLF_GM];
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i) {
        const int m = min(i, M - 1);
        aoff[i] = CLF_TRANS_A ? m : m * lda;
    }
    float s[CLF_GM][CLF_GCOLS];

#if CLF_TRANS_B
    int boff[CLF_GN];
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        boff[j] = CLF_BROW(min(n0 + j, N - 1), ldb);
    gv_t acc[CLF_GM][CLF_GN];
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            acc[i][j] = (gv_t)0.0f;
#if CLF_GX
    /* int16 x int8 (see CLF_GI16 above). The group's items quantise the row together. */
    __local short aq[4096];
    __local float amax_part[CLF_GLY];
    const int ly = get_local_id(1), nly = get_local_size(1);
    const int Kv = K - K % (CLF_B_Q4 ? 32 : 16); /* Q4: whole groups */
    float16 m16 = (float16)0.0f;
    for (int k = ly * 16; k < Kv; k += nly * 16)
        m16 = fmax(m16, fabs(LDAV(16, A, aoff[0] + k)));
    float8 m8 = fmax(m16.lo, m16.hi);
    float4 m4 = fmax(m8.lo, m8.hi);
    float amax = fmax(fmax(m4.s0, m4.s1), fmax(m4.s2, m4.s3));
    for (int k = Kv + ly; k < K; k += nly)
        amax = fmax(amax, fabs(LDA(A, aoff[0] + k)));
    amax_part[ly] = amax;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int i = 0; i < nly; ++i)
        amax = fmax(amax, amax_part[i]);
    const float inv = amax > 0.0f ? 32767.0f / amax : 0.0f;
    for (int k = ly * 16; k < Kv; k += nly * 16)
        vstore16(convert_short16_sat_rte(LDAV(16, A, aoff[0] + k) * inv), 0, aq + k);
    barrier(CLK_LOCAL_MEM_FENCE);
#if CLF_B_Q4
    /* Q4: the group's two halves (low nibbles: elements 0..15, high: 16..31) as int16
     * codes nibble - 8, their 32 products with the row's codes summed by two pmaddwd into
     * 8 lanes (at most 4 x 8 x 32767 each), then converted and scaled by the group's scale
     * (GPT-2 small Q4 decode on PoCL, AVX2 EPYC, layer GEMVs: 0.93 -> 0.71 ms a layer). */
    float8 facc[CLF_GN];
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        facc[j] = (float8)0.0f;
    /* Padding items (n0 >= N) skip the loop. That also keeps its trip count varying by
     * item: with a uniform count PoCL moved the loop over the group's items inside this
     * one, keeping facc in memory (2x slower). */
    const int ng = n0 < N ? Kv / 32 : 0;
    for (int g = 0; g < ng; ++g) {
        const short16 a0 = vload16(0, aq + g * 32), a1 = vload16(0, aq + g * 32 + 16);
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j) {
            const int grp = (boff[j] >> 5) + g;
            __builtin_prefetch(B + grp * 16 + 2048);
            const uchar16 q = vload16(0, B + grp * 16);
            const short16 lo = as_short16(convert_ushort16(q & (uchar)15)) - (short)8;
            const short16 hi = as_short16(convert_ushort16(q >> (uchar)4)) - (short)8;
            const int8 p = __builtin_ia32_pmaddwd256(a0, lo) + __builtin_ia32_pmaddwd256(a1, hi);
            facc[j] = fma(convert_float8(p), (float8)scaleB[grp], facc[j]);
        }
    }
    const float sa = amax / 32767.0f;
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        acc[0][j] = (gv_t)(facc[j] * sa, (float8)0.0f);
#else
    int8 iacc[CLF_GN];
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        iacc[j] = (int8)0;
    if (n0 + CLF_GN <= N) {
        __global const char *bp = B + boff[0];
        for (int k = 0; k < Kv; k += 16, bp += CLF_GN * 16) {
            /* The integer loop outruns the hardware prefetchers: the stream 2 KiB ahead
             * (GPT-2 small's Q8 head on PoCL, AVX2 EPYC: 4.0 -> 2.6 ms). */
            __builtin_prefetch(bp + 2048);
            const short16 a = vload16(0, aq + k);
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                iacc[j] += __builtin_ia32_pmaddwd256(a, convert_short16(vload16(0, bp + j * 16)));
        }
    } else {
        for (int k = 0; k < Kv; k += 16) {
            const short16 a = vload16(0, aq + k);
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                iacc[j] += __builtin_ia32_pmaddwd256(
                    a, convert_short16(vload16(0, B + boff[j] + CLF_BK(k))));
        }
    }
    /* The lanes, each exact, times the activation scale into acc's low half (their int32
     * total could overflow): the common code below (horizontal sums, the f32 tail k >= Kv,
     * the scaled store) finishes the outputs. */
    const float sa = amax / 32767.0f;
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        acc[0][j] = (gv_t)(convert_float8(iacc[j]) * sa, (float8)0.0f);
#endif
#elif CLF_B_Q4
    /* Q4: one 32-code group (16 bytes, one scale) per step, work-items of a GS split taking
     * every GS-th group. The bytes are loaded once for both halves (low nibbles: elements
     * 0..15, high: 16..31); the exact codes (nibble - 8, as float) are multiplied into a
     * per-group sum ps, and the group's scale joins once: acc += ps * scale. Per weight that
     * is a widening convert and an FMA: the per-weight scale multiply and the second load
     * of the byte-per-half loop are gone (GPT-2 small Q4 decode on PoCL, AVX-512: 80-86 ->
     * 105-118 tokens/s). The short last group (K % 32) takes the scalar loop below. */
    const int Kv = K - K % 32;
    for (int g = t; g < Kv / 32; g += CLF_GS) {
        const int k = g * 32;
        CLF_CAT(uchar, CLF_GV) q[CLF_GN][16 / CLF_GV];
        float sc[CLF_GN];
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j) {
            const int grp = (boff[j] >> 5) + g;
            sc[j] = scaleB[grp];
            #pragma unroll
            for (int c = 0; c < 16 / CLF_GV; ++c)
                q[j][c] = CLF_CAT(vload, CLF_GV)(0, B + grp * 16 + c * CLF_GV);
        }
        gv_t ps[CLF_GM][CLF_GN];
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i)
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                ps[i][j] = (gv_t)0.0f;
        #pragma unroll
        for (int h = 0; h < 2; ++h)
            #pragma unroll
            for (int c = 0; c < 16 / CLF_GV; ++c) {
                gv_t w[CLF_GN];
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j) {
                    const CLF_CAT(uchar, CLF_GV) nib =
                        h ? q[j][c] >> (uchar)4 : q[j][c] & (uchar)15;
                    w[j] = CLF_CAT(convert_float, CLF_GV)(CLF_CAT(as_char, CLF_GV)(nib) - (char)8);
                }
                const int kk = k + h * 16 + c * CLF_GV;
                #pragma unroll
                for (int i = 0; i < CLF_GM; ++i) {
#if CLF_TRANS_A
                    float tv[CLF_GV];
                    #pragma unroll
                    for (int v = 0; v < CLF_GV; ++v)
                        tv[v] = LDA(A, (kk + v) * lda + aoff[i]);
                    const gv_t a = clf_gvload(0, tv);
#else
                    const gv_t a = LDAV(CLF_GV, A, aoff[i] + kk);
#endif
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j)
                        ps[i][j] = fma(a, w[j], ps[i][j]);
                }
            }
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i)
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                acc[i][j] = fma(ps[i][j], (gv_t)sc[j], acc[i][j]);
    }
#else
    const int Kv = K - K % CLF_GV;
    CLF_GH_DECL();
#if CLF_B_ILV == CLF_GN && CLF_GV == 16 && CLF_GS == 1
    /* An item's CLF_GN rows are one interleaved block (CLF_B_ILV): a single stream of
     * CLF_GN x 16 codes per step, read through one advancing pointer unless the block is
     * the clamped edge. The general form below computes each row's index per step, which
     * PoCL keeps as a vector of offsets and extracts lane by lane (GPT-2 small Q8 decode,
     * PoCL, AVX2: 41 -> 48 tokens/s; the 50257 x 768 head 4.1 -> 3.4 ms). */
    const bool block = n0 + CLF_GN <= N;
    __global const b_t *bp = B + boff[0];
#endif
    for (int k = t * CLF_GV; k < Kv; k += CLF_GS * CLF_GV) {
        gw_t w[CLF_GN];
#if CLF_B_ILV == CLF_GN && CLF_GV == 16 && CLF_GS == 1
        if (block) {
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                w[j] = LDGBV(CLF_GV, bp, j * 16);
            bp += CLF_GN * 16;
        } else
#endif
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            w[j] = LDGBV(CLF_GV, B, boff[j] + CLF_BK(k));
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i) {
#if CLF_TRANS_A
            gs_t tv[CLF_GV];
            #pragma unroll
            for (int v = 0; v < CLF_GV; ++v)
                tv[v] = LDGA(A, (k + v) * lda + aoff[i]);
            const gw_t a = clf_gvload(0, tv);
#else
            const gw_t a = LDGAV(CLF_GV, A, aoff[i] + k);
#endif
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                CLF_GMAC(acc[i][j], hacc[i][j], a, w[j]);
        }
        CLF_GH_STEP();
    }
    CLF_GFLUSH();
#endif
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            s[i][j] = clf_ghsum(acc[i][j]);
    for (int k = Kv + t; k < K; k += CLF_GS) {
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i) {
            const float a = CLF_TRANS_A ? LDA(A, k * lda + aoff[i]) : LDA(A, aoff[i] + k);
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                s[i][j] = fma(a, LDB(B, boff[j] + CLF_BK(k)), s[i][j]);
        }
    }
#else
    gv_t acc[CLF_GM][CLF_GN];
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            acc[i][j] = (gv_t)0.0f;
    const bool edge = n0 + CLF_GCOLS > N;
    CLF_GH_DECL();
    for (int k = t; k < K; k += CLF_GS) {
        gw_t w[CLF_GN];
        if (edge) {
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j) {
                gs_t tw[CLF_GV];
                #pragma unroll
                for (int v = 0; v < CLF_GV; ++v)
                    tw[v] = LDGB(B, k * ldb + min(n0 + j * CLF_GV + v, N - 1));
                w[j] = clf_gvload(0, tw);
            }
        } else {
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                w[j] = LDGBV(CLF_GV, B, k * ldb + n0 + j * CLF_GV);
        }
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i) {
            const gs_t a = CLF_TRANS_A ? LDGA(A, k * lda + aoff[i]) : LDGA(A, aoff[i] + k);
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                CLF_GMAC(acc[i][j], hacc[i][j], (gw_t)a, w[j]);
        }
        CLF_GH_STEP();
    }
    CLF_GFLUSH();
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            clf_gvstore(acc[i][j], 0, &s[i][j * CLF_GV]);
#endif

#if CLF_GS > 1
    /* Reduce the GS partial sums of each output in local memory (+1 pads the bank stride). */
    __local float red[CLF_GLY][CLF_GM * CLF_GCOLS][CLF_GS + 1];
    const int ly = get_local_id(1);
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GCOLS; ++j)
            red[ly][i * CLF_GCOLS + j][t] = s[i][j];
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int p = t; p < CLF_GM * CLF_GCOLS; p += CLF_GS) {
        float v = 0.0f;
        #pragma unroll
        for (int q = 0; q < CLF_GS; ++q)
            v += red[ly][p][q];
        const int m = p / CLF_GCOLS, n = n0 + p % CLF_GCOLS;
        if (m < M && n < N)
            clf_store(C, m * ldc + n, n, v, alpha, beta, bias, has_bias, act, scaleB);
    }
#else
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        if (i < M)
            clf_store_row(C, i * ldc, n0, N, s[i], CLF_GCOLS, alpha, beta, bias, has_bias, act, scaleB);
#endif
}
#endif /* CLF_ONLY == 3 */
