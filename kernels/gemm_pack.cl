/*
 * gemm_pack.cl -- the packed form of a GEMM weight (clf_gemm_pack_b, src/ops/gemm_pack.c).
 *
 * A weight W (N, K) as nn.Linear stores it (rows of B for y = x W^T) becomes panels of
 * CLF_PN rows: panel p holds rows [p*PN, p*PN + PN), K-step by K-step, each K-step PN
 * vectors of PV consecutive k back to back, so the CPU micro-kernel (clf_gemm_reg with
 * CLF_B_PACKED=1, RN = PN, RV = PV) reads one contiguous stream per work-item. Element
 * (n, k) lands at
 *     ((n / PN) * (Kp / PV) + k / PV) * (PN * PV) + (n % PN) * PV + k % PV,
 * Kp = K rounded up to PV; padding (rows >= N, k >= K) is written as 0.
 *
 * Build options: CLF_PN, CLF_PV (panel rows, vector width), CLF_PACK_B16 1 = 2-byte
 * elements (f16: the bits are copied, no conversion), CLF_PACK_B8 1 = 1-byte (Q8 codes,
 * PN = the GEMV's rows per work-item, PV = 16: the row-interleaved layout of gemm_common.cl's
 * CLF_B_ILV; the host copies the scales), else 4-byte (f32).
 * Launch: global = (Kp, ceil(N / PN) * PN), any local size. One work-item writes one
 * element of the packed buffer, at offP + its index. With PN = PV = 1 and N = 1 it is a
 * copy of K elements (a packed Q8 weight's scales, 4-byte, behind its codes). No
 * extension needed.
 */
/* Defaults only so that the file builds alone (every kernel file must, with
 * the base options: tests program::every_kernel_file_*); the host always
 * passes both. */
#ifndef CLF_PN
#define CLF_PN 32
#endif
#ifndef CLF_PV
#define CLF_PV 16
#endif

#if CLF_PACK_B16
#define pack_t ushort
#elif defined(CLF_PACK_B8) && CLF_PACK_B8
#define pack_t uchar
#else
#define pack_t uint
#endif

__kernel void clf_gemm_pack(const int N, const int K, const int Kp, __global const pack_t *W,
                            const ulong offW, const int ldw, __global pack_t *P, const ulong offP)
{
    const int k = get_global_id(0), n = get_global_id(1);
    if (k >= Kp)
        return;
    const int dst = ((n / CLF_PN) * (Kp / CLF_PV) + k / CLF_PV) * (CLF_PN * CLF_PV) +
                    (n % CLF_PN) * CLF_PV + k % CLF_PV;
    P[offP + dst] = n < N && k < K ? W[offW + (ulong)n * (ulong)ldw + (ulong)k] : (pack_t)0;
}
