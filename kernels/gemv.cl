/*
 * gemv.cl -- clf_gemv, the builtin small-M GEMM (decode steps) of both families. Operands,
 * build options and epilogue: gemm_common.cl; design: docs/gemm_kernels.md.
 */
#include "gemm_common.cl"

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
 *   CLF_GI16 [0]  1 = the walking form's (CLF_GWALK below) Q8 (interleaved) and Q4 weights
 *                 may take integer products (see "Integer products" below) where the
 *                 compiler offers the x86 instruction; 2 = on every device (portable
 *                 products where it does not: tests); the host sets it for K <= 4096
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
/* Integer products (CLF_GI16, the walking form CLF_GWALK, AVX2 without AVX-512):
 *  - interleaved Q8 rows (int16 x int8): the work-item quantises the row of A once into
 *    local memory, int16 codes with one scale (max|a| / 32767, round to nearest), and each
 *    item sums code products with pmaddwd (16 products in 2 instructions; the f32 form
 *    converts each weight: 3 per 8 products). The lanes' sums are exact in int32 for
 *    K <= 4096 (K / 8 products of at most 127 x 32767 each, under 2^31). The activation's
 *    rounding error, at most max|a| / 65534 per element, is 1/130 of the weights' own
 *    (max|w| / 254).
 *  - Q4 (int8 x 4-bit): the row of A becomes int8 codes with a scale per 32-element group
 *    (clf_q4_agroup, gemm_common.cl: rounding error at most 1/16 of the Q4 weights' own),
 *    and the item takes two groups of a weight row (32 bytes) per step with pmaddubsw
 *    (clf_q4dot: 64 products in 7 instructions, where the int16 form took 15 for 32).
 * Where the compiler does not offer the instructions (CLF_PMADDWD, gemm_common.cl) the f32
 * forms stay. Local memory: 8 KiB (the host checks the device's limit). */
#ifndef CLF_GI16
#define CLF_GI16 0
#endif
#if CLF_GI16 && CLF_TRANS_B && ((CLF_B_Q8 && CLF_B_ILV == CLF_GN) || CLF_B_Q4) &&          \
    !CLF_TRANS_A && !CLF_HALF_MATH && CLF_GM == 1 && CLF_GS == 1 &&                            \
    (CLF_PMADDWD || CLF_GI16 == 2)
#define CLF_GX 1
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

/* CLF_GWALK = R > 0 (one row of A, CLF_GS 1, Q4 or interleaved Q8 weights: the CPU family's
 * decode GEMV of a quantised model): one work-item per work-group (launch: local (1, 1, 1),
 * global (1, ceil(N / R), batch)) walks R consecutive weight rows (a multiple of CLF_GCH),
 * CLF_GN at a time. With integer products (CLF_GX) it quantises the row of A into local
 * memory once, first; without them it takes f32 products. One item has no work-item loop for
 * PoCL to build around a barrier (the work-group form spent a third more per row on PoCL),
 * and the outputs are stored CLF_GCH at a time, so the bias and the activation (GPT-2's
 * GELU) run on 8 real values, not on 8 lanes per item of 1-4 rows (docs/quantisation.md). */
#ifndef CLF_GWALK
#define CLF_GWALK 0
#endif
/* CLF_GNORM [0] (the walking form only): 1 LayerNorm, 2 RMSNorm folded into A, as
 * norm_rows_vec (norm.cl) computes it: the row of A is x, the GEMM's A is norm(x [+ R])
 * (gamma NG, beta NB where has_b), and work-group 0 writes x + R to S where has_s. Each
 * work-group writes its own normalised copy into W (a scratch of groups x K floats) and
 * then reads A from there: no group waits for another. Extra arguments after
 * CLF_GEMM_ARGS (offsets in elements): W, R, r_off, has_r, NG, ng_off, NB, nb_off, has_b,
 * S, s_off, has_s, eps. A is f32 and the batch 1. */
#ifndef CLF_GNORM
#define CLF_GNORM 0
#endif
/* CLF_GDYN [0] (the walking form): the work-groups take their blocks of CLF_GWALK rows from a
 * counter instead of one block each by group id, so a few work-groups (one per compute unit,
 * each quantising and normalising its row of A once) share the rows as fast as each runs.
 * Extra arguments after CLF_GEMM_ARGS: the counter ctr (a uint) and this launch's epoch
 * (1..4095, never the last launch's; the host's clf__work_counter). The counter holds
 * epoch << 20 | blocks taken; a value of another epoch, left by any earlier launch, counts
 * as none taken, so it needs no reset. The batch is 1 and N / CLF_GWALK + the groups below
 * 2^20 (the host's check). */
#ifndef CLF_GDYN
#define CLF_GDYN 0
#endif
#define CLF_GCH ((8 / CLF_GN) * CLF_GN)
#if CLF_GWALK
#if !(CLF_B_Q4 || (CLF_B_Q8 && CLF_B_ILV == CLF_GN)) || !CLF_TRANS_B || CLF_TRANS_A ||       \
    CLF_GM != 1 || CLF_GS != 1 || CLF_HALF_MATH
#error "gemv.cl: CLF_GWALK takes Q4 or interleaved Q8 weights, one row of A and CLF_GS 1"
#endif
#if CLF_GWALK % CLF_GCH
#error "gemv.cl: CLF_GWALK must be a multiple of CLF_GCH"
#endif
#if CLF_GNORM
#if CLF_A_F16
#error "gemv.cl: CLF_GNORM takes an f32 A"
#endif
#define CLF_GNORM_ARGS                                                                         \
    , __global float *W, __global const float *R, const ulong r_off, const int has_r,           \
        __global const float *NG, const ulong ng_off, __global const float *NB,                 \
        const ulong nb_off, const int has_b, __global float *S, const ulong s_off,              \
        const int has_s, const float eps
/* s = x + R at column k: 8 columns (vector) or one */
#define CLF_GNS8(k) (vload8(0, A + (k)) + (has_r ? vload8(0, R + (k)) : (float8)0.0f))
#define CLF_GNS1(k) (A[k] + (has_r ? R[k] : 0.0f))

/* The normalised row of A into w, K floats, as norm_rows_vec: the sum (LayerNorm) or sum of
 * squares (RMSNorm), the centred sum of squares (LayerNorm), then the output; s to S too. */
inline void clf_gnorm(__global const float *A, __global const float *R, const int has_r,
                      __global const float *NG, __global const float *NB, const int has_b,
                      __global float *S, const int has_s, const float eps, const int K,
                      __global float *w)
{
    const int rms = CLF_GNORM == 2, K8 = K & ~7;
    float8 a8 = 0.0f;
    for (int k = 0; k < K8; k += 8) {
        const float8 s = CLF_GNS8(k);
        a8 = rms ? fma(s, s, a8) : a8 + s;
    }
    float acc = ((a8.s0 + a8.s1) + (a8.s2 + a8.s3)) + ((a8.s4 + a8.s5) + (a8.s6 + a8.s7));
    for (int k = K8; k < K; ++k) {
        const float s = CLF_GNS1(k);
        acc = rms ? fma(s, s, acc) : acc + s;
    }
    const float first = acc / (float)K, mean = rms ? 0.0f : first;
    float var = first;
    if (!rms) {
        a8 = 0.0f;
        for (int k = 0; k < K8; k += 8) {
            const float8 t = CLF_GNS8(k) - mean;
            a8 = fma(t, t, a8);
        }
        acc = ((a8.s0 + a8.s1) + (a8.s2 + a8.s3)) + ((a8.s4 + a8.s5) + (a8.s6 + a8.s7));
        for (int k = K8; k < K; ++k) {
            const float t = CLF_GNS1(k) - mean;
            acc = fma(t, t, acc);
        }
        var = acc / (float)K;
    }
    const float inv = rsqrt(var + eps);
    for (int k = 0; k < K8; k += 8) {
        const float8 s = CLF_GNS8(k);
        float8 v = (s - mean) * inv * vload8(0, NG + k);
        if (has_b) v += vload8(0, NB + k);
        if (has_s) vstore8(s, 0, S + k);
        vstore8(v, 0, w + k);
    }
    for (int k = K8; k < K; ++k) {
        const float s = CLF_GNS1(k);
        float v = (s - mean) * inv * NG[k];
        if (has_b) v += NB[k];
        if (has_s) S[k] = s;
        w[k] = v;
    }
}
#else
#define CLF_GNORM_ARGS
#endif
#if CLF_GDYN
#define CLF_GDYN_ARGS , __global volatile uint *ctr, const uint epoch
/* The next block of rows for this work-group (its index from 0; past the last block when
 * all are taken), by compare-and-swap on the epoch-tagged counter (see CLF_GDYN). */
inline int clf_gtake(__global volatile uint *ctr, const uint epoch)
{
    uint old = epoch << 20;
    for (;;) {
        const uint mine = (old >> 20) == epoch ? old : epoch << 20;
        const uint seen = atomic_cmpxchg(ctr, old, mine + 1);
        if (seen == old) return (int)(mine & 0xFFFFF);
        old = seen;
    }
}
/* the first row of this work-group's next block: from the counter, or its own one block */
#define CLF_GNEXT() (clf_gtake(ctr, epoch) * CLF_GWALK)
#else
#define CLF_GDYN_ARGS
#define CLF_GNEXT() N
#endif
__kernel __attribute__((reqd_work_group_size(1, 1, 1))) void clf_gemv(
    CLF_GEMM_ARGS CLF_GDYN_ARGS CLF_GNORM_ARGS)
{
    CLF_GEMM_BATCH_BASE();
    int r0 = CLF_GDYN ? CLF_GNEXT() : (int)get_group_id(1) * CLF_GWALK;
#if CLF_GNORM
    if (r0 < N || (has_s && get_group_id(1) == 0)) {
        __global float *w = W + (size_t)get_group_id(1) * (size_t)K;
        clf_gnorm(A, R + r_off, has_r, NG + ng_off, NB + nb_off, has_b, S + s_off,
                  has_s && get_group_id(1) == 0, eps, K, w);
        A = w;
    }
#endif
    if (r0 >= N) return; /* (CLF_GDYN: the others took every block) */
#if CLF_GX && CLF_B_Q4
    __local char aq[4096] __attribute__((aligned(32)));
    __local float asc[4096 / 8];
    __local int acor[4096 / 8];
    const int Kv = K - K % 64; /* whole pairs of groups; the rest: the f32 tail */
    for (int g = 0; g < Kv / 32; ++g)
        clf_q4_agroup(A + g * 32, g, aq, asc, acor);
#elif CLF_GX
    __local short aq[4096];
    const int Kv = K - K % 16;
    float amax = clf_i16_amax(A, 0, Kv, 16);
    for (int k = Kv; k < K; ++k)
        amax = fmax(amax, fabs(LDA(A, k)));
    clf_i16_codes(A, 0, Kv, 16, amax > 0.0f ? 32767.0f / amax : 0.0f, aq);
    const float sa = amax / 32767.0f;
#elif CLF_B_Q4
    const int Kv = K - K % 32; /* whole groups; the rest: the f32 tail */
#else
    const int Kv = K - K % 16;
#endif
    for (; r0 < N; r0 = CLF_GNEXT()) {
        const int rend = min(N, r0 + CLF_GWALK);
        for (int c0 = r0; c0 < rend; c0 += CLF_GCH) {
            float s[CLF_GCH];
            for (int b = 0; b < CLF_GCH; b += CLF_GN) {
                int boff[CLF_GN];
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    boff[j] = CLF_BROW(min(c0 + b + j, N - 1), ldb);
                float8 facc[CLF_GN];
#if CLF_GX && CLF_B_Q4
                /* two groups (32 bytes of a row) per step: clf_q4dot gives the 64 products' sums
                 * in 8 int32 lanes (4 per group), less each group's offset (8 x its code sum in
                 * the group's first lane), scaled by weight x activation scale per group */
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    facc[j] = (float8)0.0f;
                for (int p = 0; p < Kv / 64; ++p) {
                    const float8 sa = vload8(p, asc);
                    const int8 cor = vload8(p, acor);
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j) {
                        const int grp = (boff[j] >> 5) + 2 * p;
                        CLF_PREFETCH(B + grp * 16 + 2048);
                        const int8 d = clf_q4dot(clf_q4w(B + grp * 16), aq + p * 64) - cor;
                        const float2 ws = vload2(0, scaleB + grp);
                        /* (two float4 joined would be one shuffle, which Oclgrind 21.10's
                         * uninitialised-value plugin crashes on) */
                        const float8 sw =
                            (float8)(ws.s0, ws.s0, ws.s0, ws.s0, ws.s1, ws.s1, ws.s1, ws.s1);
                        facc[j] = fma(convert_float8(d), sw * sa, facc[j]);
                    }
                }
#elif CLF_B_Q4
                /* one group per step: the exact codes (nibble - 8) times A, summed per group,
                 * and the group's scale once (low nibbles: elements 0..15, high: 16..31) */
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    facc[j] = (float8)0.0f;
                for (int g = 0; g < Kv / 32; ++g) {
                    const float8 a0 = LDAV(8, A, g * 32), a1 = LDAV(8, A, g * 32 + 8),
                                 a2 = LDAV(8, A, g * 32 + 16), a3 = LDAV(8, A, g * 32 + 24);
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j) {
                        const int grp = (boff[j] >> 5) + g;
                        /* two 8-byte halves, not one uchar16: Oclgrind 21.10's uninitialised-value
                         * plugin lost the upper half of the 16-wide unpack on some hosts */
                        const uchar8 q0 = vload8(0, B + grp * 16), q1 = vload8(1, B + grp * 16);
                        const float8 l0 = convert_float8(as_char8(q0 & (uchar)15) - (char)8);
                        const float8 l1 = convert_float8(as_char8(q1 & (uchar)15) - (char)8);
                        const float8 h0 = convert_float8(as_char8(q0 >> (uchar)4) - (char)8);
                        const float8 h1 = convert_float8(as_char8(q1 >> (uchar)4) - (char)8);
                        const float8 ps = fma(a0, l0, fma(a1, l1, fma(a2, h0, a3 * h1)));
                        facc[j] = fma(ps, (float8)scaleB[grp], facc[j]);
                    }
                }
#else
                /* interleaved Q8: the block of CLF_GN rows is one stream of CLF_GN x 16 codes
                 * per 16 columns (padded with zero rows past N, gemm_pack.cl) */
                __global const char *bp = B + boff[0];
#if CLF_GX
                int8 iacc[CLF_GN];
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    iacc[j] = (int8)0;
                for (int k = 0; k < Kv; k += 16, bp += CLF_GN * 16) {
                    /* The integer loop outruns the hardware prefetchers: the stream 2 KiB ahead
                     * (GPT-2 small's Q8 head on PoCL, AVX2 EPYC: 4.0 -> 2.6 ms). */
                    CLF_PREFETCH(bp + 2048);
                    const short16 a = vload16(0, aq + k);
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j)
                        iacc[j] += CLF_MADDWD(a, convert_short16(vload16(0, bp + j * 16)));
                }
                /* the lanes, each exact, times the activation scale (their int32 total could
                 * overflow) */
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    facc[j] = convert_float8(iacc[j]) * sa;
#else
                float16 acc16[CLF_GN];
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    acc16[j] = (float16)0.0f;
                for (int k = 0; k < Kv; k += 16, bp += CLF_GN * 16) {
                    const float16 a = LDAV(16, A, k);
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j)
                        acc16[j] = fma(a, convert_float16(vload16(0, bp + j * 16)), acc16[j]);
                }
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    facc[j] = acc16[j].lo + acc16[j].hi;
#endif
#endif
                #pragma unroll
                for (int j = 0; j < CLF_GN; ++j)
                    s[b + j] = clf_hsumv8(facc[j]);
                for (int k = Kv; k < K; ++k) {
                    const float a = LDA(A, k);
                    #pragma unroll
                    for (int j = 0; j < CLF_GN; ++j)
                        s[b + j] = fma(a, LDB(B, boff[j] + CLF_BK(k)), s[b + j]);
                }
            }
            clf_store_row(C, 0, c0, rend, s, CLF_GCH, alpha, beta, bias, has_bias, act, scaleB);
        }
    }
}
#else
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
#if CLF_B_Q4
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
#endif /* CLF_GWALK */
