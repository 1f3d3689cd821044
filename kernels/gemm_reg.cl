/*
 * gemm_reg.cl -- clf_gemm_reg, the builtin GEMM of the CPU family. Operands,
 * build options and epilogue: gemm_common.cl; design: docs/gemm_kernels.md.
 */
#include "gemm_common.cl"

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
