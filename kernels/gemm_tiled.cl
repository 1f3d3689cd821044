/*
 * gemm_tiled.cl -- clf_gemm_tiled, the builtin GEMM of the GPU family. Operands,
 * build options and epilogue: gemm_common.cl; design: docs/gemm_kernels.md.
 */
#include "gemm_common.cl"

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
