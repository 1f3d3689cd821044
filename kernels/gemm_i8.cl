/*
 * gemm_i8.cl -- int8 x int8 products of clformer (OpenCL C 1.2; an optional fast path uses
 * cl_khr_integer_dot_product). Contract in docs/gemm_kernels.md, "int8 x int8".
 *
 *   clf_quant_rows_i8  quantises rows of activations to int8 with one scale per row
 *   clf_gemv_i8        C = (codesA . codesB^T) * scaleA[m] * scaleB[n] (+ bias), exact int32 sums
 *
 * Build options (all default 0 unless given):
 *   CLF_A_F16     clf_quant_rows_i8: A is stored as f16
 *   CLF_BIAS_F16  clf_gemv_i8: the bias is stored as f16
 *   CLF_I8_DOT    1 = sum four products at a time with dot(char4, char4) of
 *                 cl_khr_integer_dot_product (the host sets it only when the device lists the
 *                 extension; OpenCL C 3.0, built with -cl-std=CL3.0); 0 = widen to short,
 *                 multiply, widen to int and add (portable). dot, not dot_acc_sat: the sums
 *                 cannot overflow (below), and on Intel's CPU runtime dot_acc_sat measured
 *                 1.5x slower (GPT-2 head GEMV 66 ms vs 45 ms, bench_i8)
 *   CLF_GM [1]    clf_gemv_i8: rows of A per work-item (M <= CLF_GM; extra rows clamped)
 *   CLF_GN [4]    clf_gemv_i8: output columns per work-item
 */
#ifndef CLF_A_F16
#define CLF_A_F16 0
#endif
#ifndef CLF_BIAS_F16
#define CLF_BIAS_F16 0
#endif
#ifndef CLF_I8_DOT
#define CLF_I8_DOT 0
#endif
#ifndef CLF_GM
#define CLF_GM 1
#endif
#ifndef CLF_GN
#define CLF_GN 4
#endif


#if CLF_A_F16
#define a_t half
#define LDA(p, i) vload_half((i), (p))
#else
#define a_t float
#define LDA(p, i) ((p)[i])
#endif
#if CLF_BIAS_F16
#define bias_t half
#define LDBIAS(p, i) vload_half((i), (p))
#else
#define bias_t float
#define LDBIAS(p, i) ((p)[i])
#endif

/* clf_quant_rows_i8: row m of A (M rows of K, leading dimension lda, from element offA) to
 * codes Q[offQ + m * ldq + k] = rint(a / s) within [-127, 127] and scale S[offS + m] = s =
 * max_k |a| / 127 (0 and all codes 0 for a zero row): the rule of clf_quantize_q8.
 * Launch: global = (M rounded up to the local size), local any; one work-item per row
 * (rows are short: K multiplies of a decode step's activations, a few thousand values). */
__kernel void clf_quant_rows_i8(const int M, const int K, __global const a_t *A, const ulong offA,
                                const int lda, __global char *Q, const ulong offQ, const int ldq,
                                __global float *S, const ulong offS)
{
    const int m = get_global_id(0);
    if (m >= M)
        return;
    A += offA + (ulong)m * (ulong)lda;
    Q += offQ + (ulong)m * (ulong)ldq;
    float amax = 0.0f;
    for (int k = 0; k < K; ++k)
        amax = fmax(amax, fabs(LDA(A, k)));
    const float s = amax / 127.0f;
    for (int k = 0; k < K; ++k) {
        const float q = s > 0.0f ? rint(LDA(A, k) / s) : 0.0f;
        Q[k] = (char)clamp(q, -127.0f, 127.0f);
    }
    S[offS + m] = s;
}

/* The integer dot product of 16 code pairs added to acc. */
inline int clf_dot16(const char16 a, const char16 w, int acc)
{
#if CLF_I8_DOT
    return acc + (dot(a.s0123, w.s0123) + dot(a.s4567, w.s4567)) +
           (dot(a.s89ab, w.s89ab) + dot(a.scdef, w.scdef));
#else
    const int16 p = convert_int16(convert_short16(a) * convert_short16(w));
    const int8 h = p.lo + p.hi;
    const int4 q = h.lo + h.hi;
    return acc + (q.s0 + q.s1) + (q.s2 + q.s3);
#endif
}

/* clf_gemv_i8: C[offC + m * ldc + n] = (sum_k QA[m][k] * QB[n][k]) * SA[m] * SB[n]
 * (+ bias[offBias + n] when has_bias), for m < M <= CLF_GM and n < N. QA: rows of K codes at
 * offA + m * lda; QB: the Q8 weight (N rows of K codes at offB + n * ldb, tensor.h "Q8"); SA
 * and SB the row scales from offSA / offSB. The sums are exact in int32 while K * 127^2 <
 * 2^31 (K < 133,000; the host checks it); the one f32 rounding is in the two scale products.
 * Launch: global = (ceil(ceil(N/GN)/LY)*LY), local = (LY); one work-item computes C[0..M) x
 * [n0, n0 + GN), n0 = gid0 * GN (columns past N clamped for loads, not stored). */
__kernel void clf_gemv_i8(const int M, const int N, const int K, __global const char *QA,
                          const ulong offA, const int lda, __global const float *SA,
                          const ulong offSA, __global const char *QB, const ulong offB,
                          const int ldb, __global const float *SB, const ulong offSB,
                          __global float *C, const ulong offC, const int ldc,
                          __global const bias_t *bias, const ulong offBias, const int has_bias)
{
    const int n0 = get_global_id(0) * CLF_GN;
    QA += offA;
    QB += offB;
    int ao[CLF_GM], bo[CLF_GN], acc[CLF_GM][CLF_GN];
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        ao[i] = min(i, M - 1) * lda;
    #pragma unroll
    for (int j = 0; j < CLF_GN; ++j)
        bo[j] = min(n0 + j, N - 1) * ldb;
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i)
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            acc[i][j] = 0;
    const int Kv = K - K % 16;
    for (int k = 0; k < Kv; k += 16) {
        char16 w[CLF_GN];
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j)
            w[j] = vload16(0, QB + bo[j] + k);
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i) {
            const char16 a = vload16(0, QA + ao[i] + k);
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                acc[i][j] = clf_dot16(a, w[j], acc[i][j]);
        }
    }
    for (int k = Kv; k < K; ++k)
        #pragma unroll
        for (int i = 0; i < CLF_GM; ++i)
            #pragma unroll
            for (int j = 0; j < CLF_GN; ++j)
                acc[i][j] += (int)QA[ao[i] + k] * (int)QB[bo[j] + k];
    #pragma unroll
    for (int i = 0; i < CLF_GM; ++i) {
        if (i >= M)
            continue;
        const float sa = SA[offSA + i];
        #pragma unroll
        for (int j = 0; j < CLF_GN; ++j) {
            const int n = n0 + j;
            if (n >= N)
                continue;
            float v = (float)acc[i][j] * (sa * SB[offSB + n]);
            if (has_bias)
                v += LDBIAS(bias, offBias + n);
            C[offC + i * ldc + n] = v;
        }
    }
}
