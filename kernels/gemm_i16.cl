/*
 * gemm_i16.cl -- clf_gemm_i16, int16 x int8 (Q8) and int8 x int4 (Q4) products for a GEMM
 * of a few rows (a batched decode step, a short prompt) over a quantised weight, in the CPU
 * family. Operands, build options and epilogue: gemm_common.cl; design: docs/gemm_kernels.md,
 * "int16 x int8".
 */
#include "gemm_common.cl"

/* clf_gemm_i16: C = act(alpha * A B^T (+ beta C) (+ bias)) for B an interleaved Q8 weight
 * (CLF_B_Q8, CLF_B_ILV == CLF_QN), a plain Q8 weight (CLF_B_ILV = 0: a row slice of one,
 * say) or a Q4 weight (CLF_B_Q4), A f32 or f16 rows (no TRANS_A), K <= 4096.
 *
 * A work-group takes CLF_QM rows of A and quantises them once into local memory. Q8: int16
 * codes, one scale per row (max|a| / 32767 over the row's first Kv elements, round to
 * nearest; Kv = K rounded down to 16). Each of its items then owns CLF_QN weight rows
 * (output columns) and walks them once per CLF_QR rows of A, summing code products 16 at a
 * time with x86's pmaddwd (16 int16 products added in pairs into 8 int32 lanes, 2
 * instructions with the accumulate) into int32 lanes over all of Kv, exact (K / 8 products
 * of at most 127 x 32767 per lane, under 2^31 for K <= 4096); the activation's rounding, at
 * most max|a| / 65534 per element, is 1/130 of the weights' own (max|w| / 254). Q4: int8
 * codes with a scale per 32-element group (clf_q4_agroup, gemm_common.cl; Kv = K rounded
 * down to 64), and two groups of each weight row per step, unpacked once for the QR rows
 * and multiplied with pmaddubsw (clf_q4dot: 64 products in 7 instructions), scaled per
 * group. Each weight is widened once per CLF_QR rows; the item's CLF_QN x K codes (at most
 * 16 KiB) stay in the L1 cache between the passes. The last K - Kv elements are summed in
 * f32 from A itself.
 *
 * Where the compiler does not offer pmaddwd (CLF_PMADDWD, gemm_common.cl) the kernel takes
 * an f32 form of the same walk instead, with no local memory: each weight vector converted
 * to f32 once for the QR rows, A read as it is (portable int16 products measured 2.3x
 * slower than that on Intel's CPU runtime). CLF_QI16=2 takes the integer forms anyway, with
 * the products written portably, so that it can be tested on any device.
 *
 * Build options (defaults in brackets):
 *   CLF_QM [16]   rows of A per work-group (local memory per row: Q8 4096 + 16 shorts and a
 *                 float; Q4 4096 + 64 chars, 512 floats and 512 ints)
 *   CLF_QN [4]    weight rows per work-item; interleaved Q8: must equal CLF_B_ILV
 *   CLF_QR [2]    rows of A per pass (the register tile is QR x QN int8 or float8 sums)
 *   CLF_QI16 [1]  1 = the integer form where the compiler offers pmaddwd and pmaddubsw,
 *                 else the f32 form; 2 = the integer form on every device; 0 = the f32 form
 * Launch: local = (LX, 1, 1), any LX (the group's items share the quantised rows: 32 on
 *         PoCL); global = (G*LX, ceil(M/QM), batch), G at most ceil(ceil(N/QN)/LX). Item
 *         gid0 computes C[m0 .. m0+QM) x [n0, n0+QN) for n0 = gid0 * QN, then n0 + G*LX*QN
 *         and so on below N, m0 = group(1) * QM: so a few groups, each quantising its rows
 *         once, cover N. Rows past M are clamped for loads and not stored, as are columns
 *         past N.
 */
#ifndef CLF_QM
#define CLF_QM 16
#endif
#ifndef CLF_QN
#define CLF_QN 4
#endif
#ifndef CLF_QR
#define CLF_QR 2
#endif
#ifndef CLF_QI16
#define CLF_QI16 1
#endif
#define CLF_QX ((CLF_QI16 == 1 && CLF_PMADDWD) || CLF_QI16 == 2) /* the int16 form */
#define CLF_QK 4096 /* the largest K */
/* for each (row, column) of the item's QR x QN register tile, unrolled */
#define CLF_QFOR(i, j)                                                                         \
    _Pragma("unroll") for (int i = 0; i < CLF_QR; ++i)                                         \
        _Pragma("unroll") for (int j = 0; j < CLF_QN; ++j)
#if (CLF_B_Q8 || CLF_B_Q4) && (!CLF_TRANS_B || CLF_TRANS_A)
#error "clf_gemm_i16: B transposed (N x K weight rows), A not transposed"
#endif
#if CLF_B_Q8 && CLF_B_ILV && CLF_B_ILV != CLF_QN
#error "clf_gemm_i16: an interleaved Q8 weight must be interleaved in groups of CLF_QN rows"
#endif
/* Q8: the step from one 16 codes of weight row j to the next, and where row j's 16 codes
 * of a step are: interleaved, the item's QN rows are one stream of QN x 16 codes per 16 k
 * (the packing pads the rows to a multiple of QN with zeros, gemm_pack.cl); plain, each
 * row is a stream of its own, read through its own pointer. */
#if CLF_B_ILV
#define CLF_QSTEP (CLF_QN * 16)
#define CLF_QROW(j) (bp[0] + (j) * 16)
#else
#define CLF_QSTEP 16
#define CLF_QROW(j) bp[j]
#endif


/* The f32 forms' step: acc[i][j] += the 8 values of row i of A from k times w[j]. */
inline __attribute__((always_inline)) void clf_qfma8(__global const a_t *const *ar, const int k,
                                                     const float8 *w,
                                                     float8 acc[CLF_QR][CLF_QN])
{
    #pragma unroll
    for (int i = 0; i < CLF_QR; ++i) {
        const float8 a = LDAV(8, ar[i], k);
        #pragma unroll
        for (int j = 0; j < CLF_QN; ++j)
            acc[i][j] = fma(a, w[j], acc[i][j]);
    }
}

__kernel void clf_gemm_i16(CLF_GEMM_ARGS)
{
    CLF_GEMM_BATCH_BASE();
#if CLF_B_Q8 || CLF_B_Q4
    const int n0 = get_global_id(0) * CLF_QN, m0 = get_group_id(1) * CLF_QM;
    const int rows = min(CLF_QM, M - m0);
    const int Kv = K - K % (CLF_B_Q4 ? (CLF_QX ? 64 : 32) : 16);
#if CLF_QX && CLF_B_Q4
    /* Q4: int8 codes per 32-element group in the order of clf_q4_agroup (gemm_common.cl),
     * row r at aq + r * ldq, its scales and offsets at r * lds; rows 64 codes longer than
     * Kv (rows 4 KiB apart would share L1 sets). */
    __local char aq[CLF_QM * (CLF_QK + 64)] __attribute__((aligned(32)));
    __local float asc[CLF_QM * (CLF_QK / 8)];
    __local int acor[CLF_QM * (CLF_QK / 8)];
    const int ldq = Kv + 64, lds = Kv / 8, ng = Kv / 32;
    for (int t = get_local_id(0); t < rows * ng; t += get_local_size(0)) {
        const int r = t / ng, g = t - r * ng;
        clf_q4_agroup(A + (m0 + r) * lda + g * 32, g, aq + r * ldq, asc + r * lds,
                      acor + r * lds);
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#define CLF_QSCALE_A(r) 1.0f /* in the loop */
#elif CLF_QX
    __local short aq[CLF_QM * (CLF_QK + 16)];
    __local float as[CLF_QM];
    /* Rows 16 codes longer than Kv: rows 4 KiB apart would share L1 sets. */
    const int ldq = Kv + 16;
    /* Quantise: one row per item (a row is a few thousand values). */
    for (int r = get_local_id(0); r < rows; r += get_local_size(0)) {
        __global const a_t *ar = A + (m0 + r) * lda;
        const float amax = clf_i16_amax(ar, 0, Kv, 16);
        const float inv = amax > 0.0f ? 32767.0f / amax : 0.0f;
        clf_i16_codes(ar, 0, Kv, 16, inv, aq + r * ldq);
        as[r] = amax / 32767.0f;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
#define CLF_QSCALE_A(r) as[r]
#else
#define CLF_QSCALE_A(r) 1.0f /* the f32 forms read A as it is */
#endif

    /* The K loops' trip count, Kv wherever they run (padding items, n0 >= N, take no
     * column): as in clf_gemv, a count that varies by item keeps PoCL from moving the loop
     * over the group's items inside them. */
    const int kq = n0 < N ? Kv : 0;
    /* the item's columns: n0, then every global size's further (so a few groups, each
     * quantising its rows of A once, cover N) */
    for (int c0 = n0; c0 < N; c0 += get_global_size(0) * CLF_QN) {
        int boff[CLF_QN];
        #pragma unroll
        for (int j = 0; j < CLF_QN; ++j)
            boff[j] = CLF_BROW(min(c0 + j, N - 1), ldb);
        for (int r0 = 0; r0 < rows; r0 += CLF_QR) {
            int ri[CLF_QR];
#if CLF_QX && CLF_B_Q4
            __local const char *ap[CLF_QR];
#elif CLF_QX
            __local const short *ap[CLF_QR];
#else
            __global const a_t *ar[CLF_QR];
#endif
            #pragma unroll
            for (int i = 0; i < CLF_QR; ++i) {
                ri[i] = min(r0 + i, rows - 1);
#if CLF_QX
                ap[i] = aq + ri[i] * ldq;
#else
                ar[i] = A + (m0 + ri[i]) * lda;
#endif
            }
            float s[CLF_QR][CLF_QN];
#if CLF_B_Q8
            __global const char *bp[CLF_B_ILV ? 1 : CLF_QN];
            #pragma unroll
            for (int j = 0; j < (CLF_B_ILV ? 1 : CLF_QN); ++j)
                bp[j] = B + boff[j];
#if CLF_QX
            int8 iacc[CLF_QR][CLF_QN];
            CLF_QFOR(i, j)
                iacc[i][j] = (int8)0;
            for (int k = 0; k < kq; k += 16) {
                short16 w[CLF_QN];
                #pragma unroll
                for (int j = 0; j < CLF_QN; ++j) {
                    if (CLF_B_ILV == 0 || j == 0)
                        CLF_PREFETCH(CLF_QROW(j) + 2048);
                    w[j] = convert_short16(vload16(0, CLF_QROW(j)));
                }
                #pragma unroll
                for (int j = 0; j < (CLF_B_ILV ? 1 : CLF_QN); ++j)
                    bp[j] += CLF_QSTEP;
                #pragma unroll
                for (int i = 0; i < CLF_QR; ++i) {
                    const short16 a = vload16(0, ap[i] + k);
                    #pragma unroll
                    for (int j = 0; j < CLF_QN; ++j)
                        iacc[i][j] += CLF_MADDWD(a, w[j]);
                }
            }
            CLF_QFOR(i, j)
                s[i][j] = clf_hsumv8(convert_float8(iacc[i][j])) * as[ri[i]];
#else
            /* f32 form: each weight vector converted once for the QR rows. */
            float8 facc[CLF_QR][CLF_QN];
            CLF_QFOR(i, j)
                facc[i][j] = (float8)0.0f;
            for (int k = 0; k < kq; k += 16) {
                #pragma unroll
                for (int c = 0; c < 16; c += 8) {
                    float8 w[CLF_QN];
                    #pragma unroll
                    for (int j = 0; j < CLF_QN; ++j)
                        w[j] = convert_float8(vload8(0, CLF_QROW(j) + c));
                    clf_qfma8(ar, k + c, w, facc);
                }
                #pragma unroll
                for (int j = 0; j < (CLF_B_ILV ? 1 : CLF_QN); ++j)
                    bp[j] += CLF_QSTEP;
            }
            CLF_QFOR(i, j)
                s[i][j] = clf_hsumv8(facc[i][j]);
#endif
#else
            /* Q4: each group's 16 bytes hold elements 0..15 (low nibbles) and 16..31 (high). */
            float8 facc[CLF_QR][CLF_QN];
            CLF_QFOR(i, j)
                facc[i][j] = (float8)0.0f;
            __global const uchar *qr[CLF_QN];
            __global const float *sr[CLF_QN];
            #pragma unroll
            for (int j = 0; j < CLF_QN; ++j) {
                qr[j] = B + (boff[j] >> 5) * 16;
                sr[j] = scaleB + (boff[j] >> 5);
            }
#if CLF_QX
            /* Two groups (32 bytes) of each weight row per step, unpacked once for the QR rows;
             * clf_q4dot's lanes less the groups' offsets, scaled by weight x activation scale
             * per group (as clf_gemv's Q4 x int8 form). */
            for (int k = 0; k < kq; k += 64) {
                clf_q4w_t w[CLF_QN];
                float8 sw[CLF_QN];
                #pragma unroll
                for (int j = 0; j < CLF_QN; ++j) {
                    CLF_PREFETCH(qr[j] + 1024);
                    w[j] = clf_q4w(qr[j]);
                    const float2 ws = vload2(0, sr[j]);
                    sw[j] = (float8)(ws.s0, ws.s0, ws.s0, ws.s0, ws.s1, ws.s1, ws.s1, ws.s1);
                    qr[j] += 32, sr[j] += 2;
                }
                #pragma unroll
                for (int i = 0; i < CLF_QR; ++i) {
                    const int at = ri[i] * lds + k / 8;
                    const float8 sa = vload8(0, asc + at);
                    const int8 cor = vload8(0, acor + at);
                    #pragma unroll
                    for (int j = 0; j < CLF_QN; ++j)
                        facc[i][j] = fma(convert_float8(clf_q4dot(w[j], ap[i] + k) - cor),
                                         sw[j] * sa, facc[i][j]);
                }
            }
#else
            for (int k = 0; k < kq; k += 32) {
                float8 sc[CLF_QN];
                /* f32 form: the group's codes converted once for the QR rows, its 32 products
                 * per row summed in ps, then scaled. */
                /* the group's 16 bytes as two 8-byte halves, not one uchar16: Oclgrind 21.10's
                 * uninitialised-value plugin lost a uchar16's upper half on some hosts */
                uchar8 q[CLF_QN][2];
                float8 ps[CLF_QR][CLF_QN];
                #pragma unroll
                for (int j = 0; j < CLF_QN; ++j) {
                    q[j][0] = vload8(0, qr[j]);
                    q[j][1] = vload8(1, qr[j]);
                    sc[j] = (float8)sr[j][0];
                    qr[j] += 16, sr[j] += 1;
                }
                CLF_QFOR(i, j)
                    ps[i][j] = (float8)0.0f;
                #pragma unroll
                for (int c = 0; c < 32; c += 8) {
                    float8 w[CLF_QN];
                    #pragma unroll
                    for (int j = 0; j < CLF_QN; ++j) {
                        const uchar8 b8 = q[j][(c & 8) ? 1 : 0];
                        const uchar8 nib = c & 16 ? b8 >> (uchar)4 : b8 & (uchar)15;
                        w[j] = convert_float8(as_char8(nib) - (char)8);
                    }
                    clf_qfma8(ar, k + c, w, ps);
                }
                CLF_QFOR(i, j)
                    facc[i][j] = fma(ps[i][j], sc[j], facc[i][j]);
            }
#endif
            CLF_QFOR(i, j)
                s[i][j] = clf_hsumv8(facc[i][j]) * CLF_QSCALE_A(ri[i]);
#endif
            /* The last K - Kv elements in f32 (Q8: codes, scaled in the store; Q4: dequantised). */
            for (int k = Kv; k < K; ++k)
                #pragma unroll
                for (int i = 0; i < CLF_QR; ++i) {
                    const float a = LDA(A, (m0 + ri[i]) * lda + k);
                    #pragma unroll
                    for (int j = 0; j < CLF_QN; ++j)
                        s[i][j] = fma(a, LDB(B, boff[j] + CLF_BK(k)), s[i][j]);
                }
            #pragma unroll
            for (int i = 0; i < CLF_QR; ++i)
                if (r0 + i < rows)
                    clf_store_row(C, (m0 + r0 + i) * ldc, c0, N, s[i], CLF_QN, alpha, beta,
                                  bias, has_bias, act, scaleB);
        }
    }
#endif
}
