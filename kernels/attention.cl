// clformer — fused scaled dot-product multi-head attention.
//
// O[b, i, h, :] = sum_j softmax_j(scale * Q[b, i, h, :] . K[b, j, h, :]) * V[b, j, h, :]
//
// over the keys j that query i may see:
//   j < key_len[b]                      (padding mask, only when use_key_len != 0)
//   j <= i + (kv_len - q_len)           (causal mask, only when causal != 0; the queries are the
//                                         last q_len positions of the kv_len keys, as in
//                                         incremental decoding with a KV cache)
// A query row that may see no key is written as zeros.
//
// Tensors are views: element (b, s, h, d) of X lives at
//   X[x_off + b * x_sb + s * x_ss + h * x_sh + d]
// (offsets and strides in elements, head_dim axis contiguous). Q, K and V may be slices of one
// fused QKV buffer; K and V may be a cache whose capacity exceeds kv_len.
//
// Build options (see docs/attention_kernels.md for the full contract):
//   -DHEAD_DIM=n        a multiple of VEC (default 64; the host always sets it) (32, 64, 80, 128, ...)
//   -DSTORAGE_F16=0|1   storage type of Q, K, V, O: 0 = float (default), 1 = half read and
//                       written with vload_half/vstore_half (core OpenCL 1.2, no cl_khr_fp16).
//                       Arithmetic and accumulation are always float.
//   -DVEC=4|8|16        width of the float vectors one work-item uses along head_dim
//                       (default 4). 8 on AVX2 CPUs (PoCL), 16 on AVX-512, 4 on GPUs.
//   -DBLOCK_M=n         attn_flash: queries per work-group = local size (default 32)
//   -DBLOCK_N=n         attn_flash: keys per K/V tile staged in local memory (default 32)
//   -DDEC_WG=n          attn_decode_partial: work-group size (default 16)
//   -DATTN_ONLY=1..5    compile only attn_flash (1), attn_flash_cpu (2), the decode pair (3),
//                       attn_mask_keys (4) or attn_decode_rows (5); unset = all. The host
//                       always sets it.
//   -DATTN_INDIRECT=0|1 the decode kernels: 1 adds a cache-row table argument (rows, r_off,
//                       r_sb, kv_batch): key j of batch entry b is read from K/V batch row
//                       rows[r_off + b * r_sb + j] of kv_batch rows (beam search cache
//                       indirection; a ragged batch's tokens on their sequences' rows).
//                       Default 0.
//   -DATTN_APPEND=0|1   attn_decode_rows, q_len 1 and no ATTN_INDIRECT: 1 adds the step's new
//                       key and value (KN, VN views (B, 1, H, Dh), their offsets and batch and
//                       head strides) and their cache position pos; each work-item first
//                       copies its (b, h) slice of both into K and V at pos (clf_kv_append's
//                       result), then scans the keys as without it. Default 0.
//   -DATTN_HALF=0|1     half arithmetic in attn_flash and the decode kernels (needs
//                       STORAGE_F16 and cl_khr_fp16, CLF_HAS_FP16): q (times scale * log2(e))
//                       rounded to half, K and V tiles kept as half in local memory, the
//                       products q*k and p*v computed in half; every sum, the softmax
//                       statistics (max, sum, rescales) and the output accumulators stay f32.
//                       attn_flash_cpu ignores it. Default 0.
//
// Needs OpenCL C 1.2 and no extension. Every work-item of a work-group reaches every barrier:
// bounds are guarded, nobody returns early (some PoCL versions miscompile early exits before a
// barrier).

// Every clformer program must build with no option of its own (see common.cl), so HEAD_DIM
// has a default too; the host always passes the model's value.
#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif
#ifndef VEC
#define VEC 4
#endif
#if VEC != 4 && VEC != 8 && VEC != 16
#error "attention.cl: VEC must be 4, 8 or 16"
#endif
#if (HEAD_DIM % VEC) != 0
#error "attention.cl: HEAD_DIM must be a multiple of VEC"
#endif
#ifndef STORAGE_F16
#define STORAGE_F16 0
#endif
#ifndef BLOCK_M
#define BLOCK_M 32
#endif
#ifndef BLOCK_N
#define BLOCK_N 32
#endif
#ifndef DEC_WG
#define DEC_WG 16
#endif
#ifndef ATTN_INDIRECT
#define ATTN_INDIRECT 0
#endif
#ifndef ATTN_APPEND
#define ATTN_APPEND 0
#endif
#if ATTN_APPEND && ATTN_INDIRECT
#error "attention.cl: ATTN_APPEND takes the cache without a row table"
#endif

#ifndef ATTN_HALF
#define ATTN_HALF 0
#endif
#if ATTN_HALF
#if !STORAGE_F16 || !defined(CLF_HAS_FP16) || !CLF_HAS_FP16
#error "attention.cl: ATTN_HALF needs STORAGE_F16 and cl_khr_fp16"
#endif
#pragma OPENCL EXTENSION cl_khr_fp16 : enable
#define halfV ATTN_CAT(half, VEC)
#define ATTN_F32V(x) ATTN_CAT(convert_float, VEC)(x)
#define ATTN_F16V(x) ATTN_CAT(convert_half, VEC)(x)
typedef half tile_t; // element type of the K/V tiles in local memory
#else
typedef float tile_t;
#endif

#define ATTN_HDV (HEAD_DIM / VEC)
#define ATTN_CAT_(a, b) a##b
#define ATTN_CAT(a, b) ATTN_CAT_(a, b)
#define floatV ATTN_CAT(float, VEC)
#define vloadV ATTN_CAT(vload, VEC)
#define vstoreV ATTN_CAT(vstore, VEC)

// Scores are kept in the base-2 domain: q is pre-multiplied by scale * log2(e), so that
// exp(scale * q.k - m) becomes exp2(q'.k - m'), one instruction cheaper on most devices.
#define ATTN_LOG2E 1.4426950408889634f

#if STORAGE_F16
typedef half stor_t;
#define ATTN_LOAD1(p) vload_half(0, (p))
#define ATTN_LOADV(p) ATTN_CAT(vload_half, VEC)(0, (p))
#define ATTN_STORE1(v, p) vstore_half_rte((v), 0, (p))
#define ATTN_STOREV(v, p) ATTN_CAT(ATTN_CAT(vstore_half, VEC), _rte)((v), 0, (p))
#else
typedef float stor_t;
#define ATTN_LOAD1(p) (*(p))
#define ATTN_LOADV(p) vloadV(0, (p))
#define ATTN_STORE1(v, p) (*(p) = (v))
#define ATTN_STOREV(v, p) vstoreV((v), 0, (p))
#endif

// Number of keys query qi may see (keys 0 .. result-1), given the keys valid for its batch.
// May be <= 0 (causal with q_len > kv_len); the caller then writes zeros.
inline int attn_row_end(int qi, int kv_valid, int q_len, int kv_len, int causal)
{
    return causal ? min(kv_valid, qi + (kv_len - q_len) + 1) : kv_valid;
}

inline float attn_hsum(floatV a)
{
#if VEC == 16
    const float8 b = a.lo + a.hi;
    const float4 c = b.lo + b.hi;
#elif VEC == 8
    const float4 c = a.lo + a.hi;
#else
    const float4 c = a;
#endif
    return (c.x + c.y) + (c.z + c.w);
}

inline int attn_kv_valid(__global const int *key_len, int use_key_len, int b, int kv_len)
{
    return use_key_len ? clamp(key_len[b], 0, kv_len) : kv_len;
}

// ---------------------------------------------------------------------------------------------
// attn_flash — fused attention, one pass over K and V with an online softmax.
//
// Launch: global = (ceil(q_len / BLOCK_M) * BLOCK_M, n_heads, batch), local = (BLOCK_M, 1, 1).
// Work-group (qb, h, b) handles queries qb*BLOCK_M .. +BLOCK_M-1 of head h, batch b. It walks
// the keys in tiles of BLOCK_N: the group copies the K and V tile into local memory (converted
// to float), then each work-item scores its own query row against the tile, rescales its
// running (max, sum, output) once per tile and accumulates p * V.
// One work-item computes one output row O[b, i, h, 0..HEAD_DIM-1] with i = global id 0; its
// q row and accumulator live in private memory (2 * HEAD_DIM floats).
// Tiles that no query of the group may see (beyond key_len[b], or beyond the causal limit of
// the group's last query) are never loaded. The tile loop bound is the same for the whole
// group, so every work-item reaches every barrier; rows past q_len compute on zeros and do not
// store.
// Local memory: 2 * BLOCK_N * HEAD_DIM floats (halves with ATTN_HALF).
// Preconditions: q_len >= 1, kv_len >= 0, strides and offsets describe in-bounds views,
// key_len (when use_key_len != 0) has batch entries (clamped to 0 .. kv_len).
// Extensions: none; cl_khr_fp16 with ATTN_HALF.
// ---------------------------------------------------------------------------------------------
#if !defined(ATTN_ONLY) || ATTN_ONLY == 1 /* attn_flash) */
__kernel __attribute__((reqd_work_group_size(BLOCK_M, 1, 1))) void
attn_flash(__global const stor_t *Q, ulong q_off, long q_sb, long q_ss, long q_sh,
           __global const stor_t *K, ulong k_off, long k_sb, long k_ss, long k_sh,
           __global const stor_t *V, ulong v_off, long v_sb, long v_ss, long v_sh,
           __global stor_t *O, ulong o_off, long o_sb, long o_ss, long o_sh,
           __global const int *key_len, int use_key_len, int q_len, int kv_len, float scale,
           int causal)
{
    __local tile_t Ks[BLOCK_N * HEAD_DIM]; // (BLOCK_N, HEAD_DIM)
    __local tile_t Vs[BLOCK_N * HEAD_DIM]; // (BLOCK_N, HEAD_DIM)

    const int lid = get_local_id(0);
    const int q0 = get_group_id(0) * BLOCK_M; // first query of the group
    const int qi = q0 + lid;
    const int h = get_global_id(1);
    const int b = get_global_id(2);
    const bool row_ok = qi < q_len;

    const int kv_valid = attn_kv_valid(key_len, use_key_len, b, kv_len);
    const int row_end = attn_row_end(qi, kv_valid, q_len, kv_len, causal);
    // Keys the whole group needs: up to what its last real query may see.
    const int group_end =
        max(0, attn_row_end(min(q0 + BLOCK_M, q_len) - 1, kv_valid, q_len, kv_len, causal));

    __global const stor_t *Kb = K + k_off + b * k_sb + h * k_sh;
    __global const stor_t *Vb = V + v_off + b * v_sb + h * v_sh;

#if ATTN_HALF
    halfV q[ATTN_HDV];    // this row's query, times scale * log2(e), rounded to half
#else
    floatV q[ATTN_HDV];   // this row's query, times scale * log2(e)
#endif
    floatV acc[ATTN_HDV]; // unnormalised output
    {
        __global const stor_t *Qr = Q + q_off + b * q_sb + (long)min(qi, q_len - 1) * q_ss + h * q_sh;
        const float qs = row_ok ? scale * ATTN_LOG2E : 0.0f;
#pragma unroll
        for (int d4 = 0; d4 < ATTN_HDV; ++d4) {
#if ATTN_HALF
            q[d4] = ATTN_F16V(ATTN_LOADV(Qr + VEC * d4) * qs);
#else
            q[d4] = ATTN_LOADV(Qr + VEC * d4) * qs;
#endif
            acc[d4] = (floatV)(0.0f);
        }
    }
    float m = -INFINITY; // running max of scores (base 2)
    float l = 0.0f;      // running sum of exp2(score - m)

    for (int t0 = 0; t0 < group_end; t0 += BLOCK_N) {
        // The previous tile must be fully consumed before it is overwritten.
        barrier(CLK_LOCAL_MEM_FENCE);
        for (int e = lid; e < BLOCK_N * ATTN_HDV; e += BLOCK_M) {
            const int jj = e / ATTN_HDV;
            const int d = VEC * (e - jj * ATTN_HDV);
            const int j = t0 + jj;
#if ATTN_HALF
            halfV kv = (halfV)(0.0f), vv = (halfV)(0.0f);
            if (j < group_end) { // the f16 bits as they are
                kv = vloadV(0, Kb + j * k_ss + d);
                vv = vloadV(0, Vb + j * v_ss + d);
            }
#else
            floatV kv = (floatV)(0.0f), vv = (floatV)(0.0f);
            if (j < group_end) {
                kv = ATTN_LOADV(Kb + j * k_ss + d);
                vv = ATTN_LOADV(Vb + j * v_ss + d);
            }
#endif
            vstoreV(kv, 0, Ks + jj * HEAD_DIM + d);
            vstoreV(vv, 0, Vs + jj * HEAD_DIM + d);
        }
        barrier(CLK_LOCAL_MEM_FENCE);

        const int n = row_end - t0; // keys of this tile the row may see: jj < n
        float s[BLOCK_N];
        float mt = m;
#pragma unroll
        for (int jj = 0; jj < BLOCK_N; ++jj) {
            floatV a = (floatV)(0.0f);
#pragma unroll
            for (int d4 = 0; d4 < ATTN_HDV; ++d4)
#if ATTN_HALF
                a += ATTN_F32V(q[d4] * vloadV(jj * ATTN_HDV + d4, Ks));
#else
                a = fma(q[d4], vloadV(jj * ATTN_HDV + d4, Ks), a);
#endif
            const float sc = jj < n ? attn_hsum(a) : -INFINITY;
            s[jj] = sc;
            mt = fmax(mt, sc);
        }
        // mt == -inf: nothing visible yet for this row; keep the state untouched (avoids
        // exp2(-inf - -inf) = NaN).
        if (mt > -INFINITY) {
            const float alpha = exp2(m - mt); // 0 when m == -inf
            l *= alpha;
#pragma unroll
            for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                acc[d4] *= alpha;
#pragma unroll
            for (int jj = 0; jj < BLOCK_N; ++jj) {
                const float p = exp2(s[jj] - mt); // 0 for masked keys
                l += p;
#if ATTN_HALF
                const halfV ph = (halfV)((half)p);
#pragma unroll
                for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                    acc[d4] += ATTN_F32V(ph * vloadV(jj * ATTN_HDV + d4, Vs));
#else
#pragma unroll
                for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                    acc[d4] = fma((floatV)(p), vloadV(jj * ATTN_HDV + d4, Vs), acc[d4]);
#endif
            }
            m = mt;
        }
    }

    if (row_ok) {
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        __global stor_t *Or = O + o_off + b * o_sb + (long)qi * o_ss + h * o_sh;
#pragma unroll
        for (int d4 = 0; d4 < ATTN_HDV; ++d4)
            ATTN_STOREV(acc[d4] * inv, Or + VEC * d4);
    }
}
#endif

// ---------------------------------------------------------------------------------------------
// attn_flash_cpu — the CPU (PoCL) variant of attn_flash: same arguments, same semantics, no
// local memory, no barrier.
//
// Launch: global = (ceil(q_len / (FLASH_Q * FLASH_G)), n_heads, batch), any local size (the
// host uses 1; work-items past the last query block return at once).
// One work-item computes FLASH_Q * FLASH_G consecutive output rows q0 .. of one (batch, head)
// (rows past q_len repeat row q_len - 1 and are not stored), with its scaled q rows and float
// accumulators in private memory. It walks the keys in chunks of FLASH_KC (K and V of a chunk
// stay in L2), each chunk against its FLASH_G blocks of FLASH_Q rows, each block in steps of 8
// keys read straight from global memory (a step's 8 K rows stay in L1 for the block):
//   scores   S (FLASH_Q x 8) = Q K^T as register-blocked dot products (2 rows x 4 keys = 8
//            floatV accumulators over head_dim, like clf_gemm_reg with TRANS_B=1), reduced
//            four at a time into float4s, so each row's 8 scores end up in one float8;
//   softmax  per row: one max, one vectorised exp2 (polynomial) for 8 keys, online rescale;
//   P V      acc (FLASH_Q x HEAD_DIM) += P V as outer products, 2 floatV columns x FLASH_Q rows
//            of accumulators at a time, each loaded once per step (with the rescale folded in).
// PoCL runs the work-items of a group one after another, so this is a SIMD micro-kernel per
// work-item (as clf_gemm_reg): speed comes from the explicit vectors and the unrolled blocks.
// Keys past what the work-item's last row may see are never read (causal tile skipping falls
// out per work-item); key indices inside the last step are clamped to that bound and masked.
// Build options: FLASH_Q (even, 2 .. 8), FLASH_G (>= 1), FLASH_KC (a multiple of 8).
// Preconditions and extensions: as attn_flash.
// ---------------------------------------------------------------------------------------------
#ifndef FLASH_Q
#define FLASH_Q 4
#endif
#ifndef FLASH_G
#define FLASH_G 1
#endif
#ifndef FLASH_KC
#define FLASH_KC 256
#endif
#if FLASH_G < 1 || FLASH_KC < 8 || (FLASH_KC % 8) != 0
#error "attention.cl: FLASH_G must be >= 1 and FLASH_KC a positive multiple of 8"
#endif
#if FLASH_Q < 2 || FLASH_Q > 8 || (FLASH_Q % 2) != 0
#error "attention.cl: FLASH_Q must be 2, 4, 6 or 8"
#endif

#if STORAGE_F16 && defined(CLF_HALF_UNALIGNED) && CLF_HALF_UNALIGNED
// PoCL: vload_halfN / vstore_halfN fault on global addresses that are not N*2-byte aligned;
// move the bits as one unaligned ushortN and convert in (aligned) private memory (F16C).
typedef ATTN_CAT(ushort, VEC) __attribute__((aligned(2))) attn_ushortV_u;
inline floatV attn_cpu_loadv(const __global half *p)
{
    const ATTN_CAT(ushort, VEC) u = *(const __global attn_ushortV_u *)p;
    return ATTN_CAT(vload_half, VEC)(0, (const __private half *)&u);
}
inline void attn_cpu_storev(const floatV v, __global half *p)
{
    ATTN_CAT(ushort, VEC) u;
    ATTN_CAT(vstore_half, VEC)(v, 0, (__private half *)&u); // default rounding: to nearest even
    *(__global attn_ushortV_u *)p = u;
}
#define ATTN_CPU_LOADV(p) attn_cpu_loadv(p)
#define ATTN_CPU_STOREV(v, p) attn_cpu_storev((v), (p))
#else
#define ATTN_CPU_LOADV(p) ATTN_LOADV(p)
#define ATTN_CPU_STOREV(v, p) ATTN_STOREV((v), (p))
#endif

// (sum a0, sum a1, sum a2, sum a3) of four floatV: a transposing add tree.
inline float4 attn_hsum4(floatV a0, floatV a1, floatV a2, floatV a3)
{
#if VEC == 4
    const float8 r = (float8)(a0.even, a1.even, a2.even, a3.even) +
                     (float8)(a0.odd, a1.odd, a2.odd, a3.odd);
#else
#if VEC == 16
    const float8 b0 = a0.lo + a0.hi, b1 = a1.lo + a1.hi, b2 = a2.lo + a2.hi, b3 = a3.lo + a3.hi;
#else
    const float8 b0 = a0, b1 = a1, b2 = a2, b3 = a3;
#endif
    const float8 r01 = (float8)(b0.even, b1.even) + (float8)(b0.odd, b1.odd);
    const float8 r23 = (float8)(b2.even, b3.even) + (float8)(b2.odd, b3.odd);
    const float8 r = (float8)(r01.even, r23.even) + (float8)(r01.odd, r23.odd);
#endif
    return r.even + r.odd;
}

// 2^x for x <= 0 in plain FMAs: x = n + f, |f| <= 1/2, 2^f by its degree-7 Taylor polynomial
// (relative error ~5e-9), 2^n put into the exponent bits. x < -126 (and -inf) gives 0.
inline float8 attn_exp2_8(const float8 x)
{
    const float8 xc = fmax(x, -126.0f);
    const float8 n = rint(xc);
    const float8 f = xc - n;
    float8 p = fma(f, (float8)1.5252733804e-5f, (float8)1.5403530393e-4f);
    p = fma(p, f, (float8)1.3333558146e-3f);
    p = fma(p, f, (float8)9.6181291076e-3f);
    p = fma(p, f, (float8)5.5504108665e-2f);
    p = fma(p, f, (float8)2.4022650696e-1f);
    p = fma(p, f, (float8)6.9314718056e-1f);
    p = fma(p, f, (float8)1.0f);
    const int8 e = (convert_int8(n) + 127) << 23;
    return select(p * as_float8(e), (float8)0.0f, x < -126.0f);
}

inline float attn_hmax8(const float8 a)
{
    const float4 b = fmax(a.lo, a.hi);
    const float2 c = fmax(b.lo, b.hi);
    return fmax(c.x, c.y);
}

inline float attn_hsum8(const float8 a)
{
    const float4 b = a.lo + a.hi;
    const float2 c = b.lo + b.hi;
    return c.x + c.y;
}

#if !defined(ATTN_ONLY) || ATTN_ONLY == 2 /* attn_flash_cpu) */
__kernel void
attn_flash_cpu(__global const stor_t *Q, ulong q_off, long q_sb, long q_ss, long q_sh,
               __global const stor_t *K, ulong k_off, long k_sb, long k_ss, long k_sh,
               __global const stor_t *V, ulong v_off, long v_sb, long v_ss, long v_sh,
               __global stor_t *O, ulong o_off, long o_sb, long o_ss, long o_sh,
               __global const int *key_len, int use_key_len, int q_len, int kv_len, float scale,
               int causal)
{
    const int q0 = (int)get_global_id(0) * (FLASH_Q * FLASH_G);
    const int h = get_global_id(1);
    const int b = get_global_id(2);
    if (q0 >= q_len) // no barrier in this kernel
        return;

    const int kv_valid = attn_kv_valid(key_len, use_key_len, b, kv_len);
    __global const stor_t *Kb = K + k_off + b * k_sb + h * k_sh;
    __global const stor_t *Vb = V + v_off + b * v_sb + h * v_sh;

#define ATTN_FR (FLASH_Q * FLASH_G) // rows per work-item
    floatV qa_[ATTN_FR * ATTN_HDV];  // row r at r * ATTN_HDV: scaled by scale * log2(e)
    floatV acc_[ATTN_FR * ATTN_HDV]; // unnormalised output rows
    int re_[ATTN_FR];                // keys row r may see (non-decreasing in r)
    float m_[ATTN_FR], l_[ATTN_FR];  // running max (base 2) and sum per row
#pragma unroll 1
    for (int r = 0; r < ATTN_FR; ++r) {
        const int qi = min(q0 + r, q_len - 1);
        re_[r] = attn_row_end(qi, kv_valid, q_len, kv_len, causal);
        m_[r] = -INFINITY;
        l_[r] = 0.0f;
        __global const stor_t *Qr = Q + q_off + b * q_sb + (long)qi * q_ss + h * q_sh;
#pragma unroll
        for (int d4 = 0; d4 < ATTN_HDV; ++d4) {
            qa_[r * ATTN_HDV + d4] = ATTN_CPU_LOADV(Qr + VEC * d4) * (scale * ATTN_LOG2E);
            acc_[r * ATTN_HDV + d4] = (floatV)(0.0f);
        }
    }
    const int end_all = max(0, re_[ATTN_FR - 1]); // keys any row of this item may see
    const int8 lane = (int8)(0, 1, 2, 3, 4, 5, 6, 7);

    // Chunks of FLASH_KC keys (K and V of a chunk stay in L2) against every row group.
    for (int kc = 0; kc < end_all; kc += FLASH_KC)
#pragma unroll 1
    for (int g = 0; g < FLASH_G; ++g) {
    const int end = max(0, re_[g * FLASH_Q + FLASH_Q - 1]); // keys this group may see
    const int t_end = min(end, kc + FLASH_KC);
    if (kc >= end)
        continue;
    floatV *q = qa_ + g * FLASH_Q * ATTN_HDV;
    floatV *acc = acc_ + g * FLASH_Q * ATTN_HDV;
    int re[FLASH_Q];
    float m[FLASH_Q], l[FLASH_Q];
#pragma unroll
    for (int r = 0; r < FLASH_Q; ++r) {
        re[r] = re_[g * FLASH_Q + r];
        m[r] = m_[g * FLASH_Q + r];
        l[r] = l_[g * FLASH_Q + r];
    }

    for (int t0 = kc; t0 < t_end; t0 += 8) {
        // ---- scores: s[r] = (q_r . k_{t0+jj}) for jj < 8, base-2 domain
        float8 s[FLASH_Q];
#pragma unroll
        for (int kh = 0; kh < 2; ++kh) {
            const int j = t0 + 4 * kh;
            __global const stor_t *k0 = Kb + min(j, end - 1) * k_ss;
            __global const stor_t *k1 = Kb + min(j + 1, end - 1) * k_ss;
            __global const stor_t *k2 = Kb + min(j + 2, end - 1) * k_ss;
            __global const stor_t *k3 = Kb + min(j + 3, end - 1) * k_ss;
#pragma unroll
            for (int r = 0; r < FLASH_Q; r += 2) {
                floatV a0 = (floatV)(0.0f), a1 = a0, a2 = a0, a3 = a0;
                floatV c0 = a0, c1 = a0, c2 = a0, c3 = a0;
#pragma unroll 2
                for (int d4 = 0; d4 < ATTN_HDV; ++d4) {
                    const floatV x0 = ATTN_CPU_LOADV(k0 + VEC * d4);
                    const floatV x1 = ATTN_CPU_LOADV(k1 + VEC * d4);
                    const floatV x2 = ATTN_CPU_LOADV(k2 + VEC * d4);
                    const floatV x3 = ATTN_CPU_LOADV(k3 + VEC * d4);
                    const floatV qa = q[r * ATTN_HDV + d4], qb = q[(r + 1) * ATTN_HDV + d4];
                    a0 = fma(qa, x0, a0);
                    a1 = fma(qa, x1, a1);
                    a2 = fma(qa, x2, a2);
                    a3 = fma(qa, x3, a3);
                    c0 = fma(qb, x0, c0);
                    c1 = fma(qb, x1, c1);
                    c2 = fma(qb, x2, c2);
                    c3 = fma(qb, x3, c3);
                }
                const float4 sa = attn_hsum4(a0, a1, a2, a3);
                const float4 sc = attn_hsum4(c0, c1, c2, c3);
                if (kh == 0) {
                    s[r].lo = sa;
                    s[r + 1].lo = sc;
                } else {
                    s[r].hi = sa;
                    s[r + 1].hi = sc;
                }
            }
        }
        // ---- masks: keys j >= re[r] (padding, causal, and the clamped tail of the last step)
        if (t0 + 8 > re[0]) {
            const int8 jv = (int8)(t0) + lane;
#pragma unroll
            for (int r = 0; r < FLASH_Q; ++r)
                s[r] = select((float8)(-INFINITY), s[r], jv < (int8)(re[r]));
        }
        // ---- online softmax; p[r * 8 + jj] = exp2(s - new max) (0 for masked keys)
        float p[FLASH_Q * 8];
        float dm[8], alpha[8];
#pragma unroll
        for (int r = 0; r < FLASH_Q; ++r) {
            const float mx = fmax(m[r], attn_hmax8(s[r]));
            // mx == -inf: nothing visible yet; subtract 0 instead (p = 0, alpha = 0, no NaN)
            const float mb = mx > -INFINITY ? mx : 0.0f;
            const float8 pr = attn_exp2_8(s[r] - mb);
            vstore8(pr, r, p);
            dm[r] = m[r] - mb;
            m[r] = mx;
            s[r] = pr;
        }
#pragma unroll
        for (int r = FLASH_Q; r < 8; ++r)
            dm[r] = 0.0f;
        vstore8(attn_exp2_8(vload8(0, dm)), 0, alpha); // 0 when the old max was -inf
#pragma unroll
        for (int r = 0; r < FLASH_Q; ++r)
            l[r] = fma(l[r], alpha[r], attn_hsum8(s[r]));
        // ---- acc = acc * alpha + P V, two floatV columns of all rows at a time
        __global const stor_t *vr[8];
#pragma unroll
        for (int jj = 0; jj < 8; ++jj)
            vr[jj] = Vb + min(t0 + jj, end - 1) * v_ss;
        // a rolled loop: acc stays in (L1) memory, each column pair loaded and stored once
#pragma unroll 1
        for (int d4 = 0; d4 + 1 < ATTN_HDV; d4 += 2) {
            floatV o0[FLASH_Q], o1[FLASH_Q];
#pragma unroll
            for (int r = 0; r < FLASH_Q; ++r) {
                o0[r] = acc[r * ATTN_HDV + d4] * alpha[r];
                o1[r] = acc[r * ATTN_HDV + d4 + 1] * alpha[r];
            }
#pragma unroll
            for (int jj = 0; jj < 8; ++jj) {
                const floatV y0 = ATTN_CPU_LOADV(vr[jj] + VEC * d4);
                const floatV y1 = ATTN_CPU_LOADV(vr[jj] + VEC * (d4 + 1));
#pragma unroll
                for (int r = 0; r < FLASH_Q; ++r) {
                    const floatV pj = (floatV)(p[r * 8 + jj]);
                    o0[r] = fma(pj, y0, o0[r]);
                    o1[r] = fma(pj, y1, o1[r]);
                }
            }
#pragma unroll
            for (int r = 0; r < FLASH_Q; ++r) {
                acc[r * ATTN_HDV + d4] = o0[r];
                acc[r * ATTN_HDV + d4 + 1] = o1[r];
            }
        }
#if ATTN_HDV % 2
        {
            const int d4 = ATTN_HDV - 1;
            floatV o0[FLASH_Q];
#pragma unroll
            for (int r = 0; r < FLASH_Q; ++r)
                o0[r] = acc[r * ATTN_HDV + d4] * alpha[r];
#pragma unroll
            for (int jj = 0; jj < 8; ++jj) {
                const floatV y0 = ATTN_CPU_LOADV(vr[jj] + VEC * d4);
#pragma unroll
                for (int r = 0; r < FLASH_Q; ++r)
                    o0[r] = fma((floatV)(p[r * 8 + jj]), y0, o0[r]);
            }
#pragma unroll
            for (int r = 0; r < FLASH_Q; ++r)
                acc[r * ATTN_HDV + d4] = o0[r];
        }
#endif
    }
#pragma unroll
    for (int r = 0; r < FLASH_Q; ++r) {
        m_[g * FLASH_Q + r] = m[r];
        l_[g * FLASH_Q + r] = l[r];
    }
    }

#pragma unroll 1
    for (int r = 0; r < ATTN_FR; ++r) {
        if (q0 + r < q_len) {
            const float inv = l_[r] > 0.0f ? 1.0f / l_[r] : 0.0f;
            __global stor_t *Or = O + o_off + b * o_sb + (long)(q0 + r) * o_ss + h * o_sh;
#pragma unroll
            for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                ATTN_CPU_STOREV(acc_[r * ATTN_HDV + d4] * inv, Or + VEC * d4);
        }
    }
#undef ATTN_FR
}
#endif

// ---------------------------------------------------------------------------------------------
// attn_decode_scan — one work-item's online softmax over keys j0, j0 + step, ... < j1 of one
// query row (the decode kernels' shared loop). qv: the query times scale * log2(e), HEAD_DIM
// values as ATTN_HDV vectors (half with ATTN_HALF); Kb, Vb: the head's K and V base with
// batch/sequence strides (ATTN_INDIRECT: key j of row Rb[j], clamped to 0 .. last_b). Out:
// acc = sum_j exp2(s_j - m) * V[j], m = max_j s_j (-inf when no key), l = sum_j exp2(s_j - m)
// (0 when no key), with s_j = qv . K[j]. No barrier, no local memory.
// ---------------------------------------------------------------------------------------------
#if !defined(ATTN_ONLY) || ATTN_ONLY == 3 || ATTN_ONLY == 5
#if ATTN_HALF
#define attn_qv_t halfV
#else
#define attn_qv_t floatV
#endif
inline __attribute__((always_inline)) void
attn_decode_scan(const attn_qv_t *qv, __global const stor_t *Kb, __global const stor_t *Vb,
                 long k_sb, long k_ss, long v_sb, long v_ss,
#if ATTN_INDIRECT
                 __global const int *Rb, int last_b,
#endif
                 int j0, int j1, int step, floatV *acc, float *m_out, float *l_out)
{
#pragma unroll
    for (int d4 = 0; d4 < ATTN_HDV; ++d4)
        acc[d4] = (floatV)(0.0f);
    float m = -INFINITY, l = 0.0f;
    /* Blocks of 8 keys: their scores, one new maximum, the 8 weights by one vector exp2 and
     * one rescale of acc, where a key at a time took two scalar exp2 and a rescale per key
     * (PoCL: Transformer-base B 16 decode, the two attentions of a layer). The block's
     * first key always exists, so the new maximum is finite: no NaN from -inf - -inf. */
    for (int jb = j0; jb < j1; jb += 8 * step) {
        float s[8];
#pragma unroll
        for (int t = 0; t < 8; ++t) {
            const int j = jb + t * step;
            s[t] = -INFINITY; /* past j1: weight exp2(-inf) = 0 */
            if (j < j1) {
#if ATTN_INDIRECT
                const long rb = clamp(Rb[j], 0, last_b);
                __global const stor_t *Kr = Kb + rb * k_sb + j * k_ss;
#else
                __global const stor_t *Kr = Kb + j * k_ss;
#endif
                floatV a = (floatV)(0.0f);
#pragma unroll
                for (int d4 = 0; d4 < ATTN_HDV; ++d4)
#if ATTN_HALF
                    a += ATTN_F32V(vloadV(0, Kr + VEC * d4) * qv[d4]);
#else
                    a = fma(ATTN_LOADV(Kr + VEC * d4), qv[d4], a);
#endif
                s[t] = attn_hsum(a);
            }
        }
        const float8 sv = vload8(0, s);
        const float4 s4 = fmax(sv.lo, sv.hi);
        const float mn = fmax(m, fmax(fmax(s4.s0, s4.s1), fmax(s4.s2, s4.s3)));
        const float alpha = exp2(m - mn); /* 0 on the first block */
        const float8 pv = exp2(sv - mn);
        float p[8];
        vstore8(pv, 0, p);
        const float4 p4 = pv.lo + pv.hi;
        l = fma(l, alpha, (p4.s0 + p4.s1) + (p4.s2 + p4.s3));
#pragma unroll
        for (int d4 = 0; d4 < ATTN_HDV; ++d4)
            acc[d4] *= alpha;
#pragma unroll
        for (int t = 0; t < 8; ++t) {
            const int j = jb + t * step;
            if (j < j1) {
#if ATTN_INDIRECT
                const long rb = clamp(Rb[j], 0, last_b);
                __global const stor_t *Vr = Vb + rb * v_sb + j * v_ss;
#else
                __global const stor_t *Vr = Vb + j * v_ss;
#endif
#if ATTN_HALF
                const halfV ph = (halfV)((half)p[t]);
#pragma unroll
                for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                    acc[d4] += ATTN_F32V(vloadV(0, Vr + VEC * d4) * ph);
#else
#pragma unroll
                for (int d4 = 0; d4 < ATTN_HDV; ++d4)
                    acc[d4] = fma(ATTN_LOADV(Vr + VEC * d4), (floatV)(p[t]), acc[d4]);
#endif
            }
        }
        m = mn;
    }
    *m_out = m;
    *l_out = l;
}
#endif

// ---------------------------------------------------------------------------------------------
// attn_decode_partial — pass 1 of split-K ("flash-decoding") attention for small q_len.
//
// Launch: global = (n_splits * DEC_WG, n_heads, batch * q_len), local = (DEC_WG, 1, 1).
// Work-group (s, h, b * q_len + i) handles query i of head h, batch b, and the s-th of n_splits
// equal chunks of the keys that query may see (chunk = ceil(row_end / n_splits), row_end as
// in attn_flash). Work-item t takes keys j0 + t, j0 + t + DEC_WG, ... of the chunk and runs
// its own online softmax over them, with a private HEAD_DIM accumulator and vector loads of
// whole K and V rows: the main loop has no barrier and no cross-item traffic. At the end the
// group merges its DEC_WG partial states through local memory and writes one record of
// HEAD_DIM + 2 floats to part at index ((b * q_len + i) * n_heads + h) * n_splits + s:
//   [0, HEAD_DIM)  unnormalised output  sum_j exp2(s_j - m) * V[j]
//   HEAD_DIM       m, the max of the base-2 scores s_j = scale * log2(e) * q.k_j (-inf if none)
//   HEAD_DIM + 1   l = sum_j exp2(s_j - m) (0 if no key)
// Local memory: (DEC_WG * (HEAD_DIM + 2) + HEAD_DIM) floats.
// ATTN_INDIRECT=1 (cache indirection, as in FasterTransformer's beam search): key j of batch
// entry b comes from K/V batch row rows[r_off + b * r_sb + j] instead of row b; entries are
// clamped to 0 .. kv_batch-1 (K and V have kv_batch rows, any number), so a bad table gives
// wrong keys, never an out-of-bounds read.
// Preconditions: n_splits >= 1, q_len >= 1, part holds
// batch * q_len * n_heads * n_splits * (HEAD_DIM + 2) floats.
// Extensions: none; cl_khr_fp16 with ATTN_HALF (then qs holds halves, and q.k and p*v are
// half products added to the f32 sums).
// ---------------------------------------------------------------------------------------------
#if !defined(ATTN_ONLY) || ATTN_ONLY == 3 /* attn_decode_partial) */
__kernel __attribute__((reqd_work_group_size(DEC_WG, 1, 1))) void
attn_decode_partial(__global const stor_t *Q, ulong q_off, long q_sb, long q_ss, long q_sh,
                    __global const stor_t *K, ulong k_off, long k_sb, long k_ss, long k_sh,
                    __global const stor_t *V, ulong v_off, long v_sb, long v_ss, long v_sh,
                    __global float *part, __global const int *key_len, int use_key_len,
                    int q_len, int kv_len, float scale, int causal, int n_splits
#if ATTN_INDIRECT
                    ,
                    __global const int *rows, ulong r_off, long r_sb, int kv_batch
#endif
)
{
    __local tile_t qs[HEAD_DIM];          // the query, times scale * log2(e)
    __local float red[DEC_WG * HEAD_DIM]; // (DEC_WG, HEAD_DIM) per-item accumulators
    __local float rm[DEC_WG];             // per-item running max
    __local float rl[DEC_WG];             // per-item running sum

    const int lid = get_local_id(0);
    const int split = get_group_id(0);
    const int h = get_global_id(1);
    const int bi = get_global_id(2); // b * q_len + i
    const int b = bi / q_len;
    const int qi = bi - b * q_len;
    const int n_heads = get_global_size(1);

    const int kv_valid = attn_kv_valid(key_len, use_key_len, b, kv_len);
    const int row_end = max(0, attn_row_end(qi, kv_valid, q_len, kv_len, causal));
    const int chunk = (row_end + n_splits - 1) / n_splits;
    const int j0 = min(row_end, split * chunk);
    const int j1 = min(row_end, j0 + chunk);

    __global const stor_t *Qr = Q + q_off + b * q_sb + (long)qi * q_ss + h * q_sh;
#if ATTN_INDIRECT
    __global const int *Rb = rows + r_off + b * r_sb;
    const int last_b = kv_batch - 1;
    __global const stor_t *Kb = K + k_off + h * k_sh;
    __global const stor_t *Vb = V + v_off + h * v_sh;
#else
    __global const stor_t *Kb = K + k_off + b * k_sb + h * k_sh;
    __global const stor_t *Vb = V + v_off + b * v_sb + h * v_sh;
#endif

    for (int d = lid; d < HEAD_DIM; d += DEC_WG)
        qs[d] = (tile_t)(ATTN_LOAD1(Qr + d) * (scale * ATTN_LOG2E));
    barrier(CLK_LOCAL_MEM_FENCE);

    attn_qv_t qv[ATTN_HDV];
#pragma unroll
    for (int d4 = 0; d4 < ATTN_HDV; ++d4)
        qv[d4] = vloadV(d4, qs);
    floatV acc[ATTN_HDV];
    float m, l;
    attn_decode_scan(qv, Kb, Vb, k_sb, k_ss, v_sb, v_ss,
#if ATTN_INDIRECT
                     Rb, last_b,
#endif
                     j0 + lid, j1, DEC_WG, acc, &m, &l);

    // Merge the DEC_WG partial states: rescale each to the group max, then sum columns.
    rm[lid] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    float mg = -INFINITY;
    for (int t = 0; t < DEC_WG; ++t)
        mg = fmax(mg, rm[t]);
    const float w = mg > -INFINITY ? exp2(m - mg) : 0.0f; // 0 for items with no key
    rl[lid] = l * w;
#pragma unroll
    for (int d4 = 0; d4 < ATTN_HDV; ++d4)
        vstoreV(acc[d4] * w, lid * ATTN_HDV + d4, red);
    barrier(CLK_LOCAL_MEM_FENCE);

    __global float *rec = part + ((long)(bi * n_heads + h) * n_splits + split) * (HEAD_DIM + 2);
    for (int d = lid; d < HEAD_DIM; d += DEC_WG) {
        float o = 0.0f;
        for (int t = 0; t < DEC_WG; ++t)
            o += red[t * HEAD_DIM + d];
        rec[d] = o;
    }
    if (lid == 0) {
        float lg = 0.0f;
        for (int t = 0; t < DEC_WG; ++t)
            lg += rl[t];
        rec[HEAD_DIM] = mg;
        rec[HEAD_DIM + 1] = lg;
    }
}
#endif

// ---------------------------------------------------------------------------------------------
// attn_decode_rows — single-pass decode attention for the CPU family: one work-item per query
// row, all its keys, no local memory and no barrier (attn_decode_scan over keys 0 .. row_end),
// then O = acc / l (zeros when the row sees no key). Where every compute unit already has
// rows to itself (a batch of sequences, or a few heads), this replaces the split pair: no
// work-group of DEC_WG items merging through local memory and no partial records for a
// second launch (PoCL: Transformer-base B 16 decode, 128 rows of <= 32 keys, 0.30 -> 0.09 ms
// per attention).
// With ATTN_APPEND (a decode step's q_len 1) the step's K/V append is folded in: a launch
// instead of three (GPT-2 small: 24 fewer per token).
// Launch: global = (n_heads, batch * q_len), local = any (NULL is fine). Arguments as
// attn_decode_partial, with O's view in place of part and no n_splits.
// ---------------------------------------------------------------------------------------------
#if !defined(ATTN_ONLY) || ATTN_ONLY == 5 /* attn_decode_rows) */
#if ATTN_APPEND
#define ATTN_KV_CONST
#else
#define ATTN_KV_CONST const
#endif
__kernel void
attn_decode_rows(__global const stor_t *Q, ulong q_off, long q_sb, long q_ss, long q_sh,
                 __global ATTN_KV_CONST stor_t *K, ulong k_off, long k_sb, long k_ss, long k_sh,
                 __global ATTN_KV_CONST stor_t *V, ulong v_off, long v_sb, long v_ss, long v_sh,
                 __global stor_t *O, ulong o_off, long o_sb, long o_ss, long o_sh,
                 __global const int *key_len, int use_key_len, int q_len, int kv_len, float scale,
                 int causal
#if ATTN_INDIRECT
                 ,
                 __global const int *rows, ulong r_off, long r_sb, int kv_batch
#endif
#if ATTN_APPEND
                 ,
                 __global const stor_t *KN, ulong kn_off, long kn_sb, long kn_sh,
                 __global const stor_t *VN, ulong vn_off, long vn_sb, long vn_sh, int pos
#endif
)
{
    const int h = get_global_id(0);
    const int bi = get_global_id(1); // b * q_len + i
    const int b = bi / q_len;
    const int qi = bi - b * q_len;
    const int kv_valid = attn_kv_valid(key_len, use_key_len, b, kv_len);
    const int row_end = max(0, attn_row_end(qi, kv_valid, q_len, kv_len, causal));
#if ATTN_APPEND
    {
        /* q_len 1, so bi = b and no other work-item reads this (b, h) slice: the copies are
         * this item's own writes, which its scan below reads back (program order) */
        __global const stor_t *kn = KN + kn_off + b * kn_sb + h * kn_sh;
        __global const stor_t *vn = VN + vn_off + b * vn_sb + h * vn_sh;
        __global stor_t *kd = K + k_off + b * k_sb + (long)pos * k_ss + h * k_sh;
        __global stor_t *vd = V + v_off + b * v_sb + (long)pos * v_ss + h * v_sh;
#pragma unroll
        for (int d4 = 0; d4 < ATTN_HDV; ++d4) {
            ATTN_STOREV(ATTN_LOADV(kn + VEC * d4), kd + VEC * d4);
            ATTN_STOREV(ATTN_LOADV(vn + VEC * d4), vd + VEC * d4);
        }
    }
#endif

    __global const stor_t *Qr = Q + q_off + b * q_sb + (long)qi * q_ss + h * q_sh;
    const float qscale = scale * ATTN_LOG2E;
    attn_qv_t qv[ATTN_HDV];
#pragma unroll
    for (int d4 = 0; d4 < ATTN_HDV; ++d4)
#if ATTN_HALF
        qv[d4] = ATTN_F16V(ATTN_LOADV(Qr + VEC * d4) * qscale);
#else
        qv[d4] = ATTN_LOADV(Qr + VEC * d4) * qscale;
#endif
    floatV acc[ATTN_HDV];
    float m, l;
#if ATTN_INDIRECT
    attn_decode_scan(qv, K + k_off + h * k_sh, V + v_off + h * v_sh, k_sb, k_ss, v_sb, v_ss,
                     rows + r_off + b * r_sb, kv_batch - 1, 0, row_end, 1, acc, &m, &l);
#else
    attn_decode_scan(qv, K + k_off + b * k_sb + h * k_sh, V + v_off + b * v_sb + h * v_sh, k_sb,
                     k_ss, v_sb, v_ss, 0, row_end, 1, acc, &m, &l);
#endif
    const float inv = l > 0.0f ? 1.0f / l : 0.0f;
    __global stor_t *Or = O + o_off + b * o_sb + (long)qi * o_ss + h * o_sh;
#pragma unroll
    for (int d4 = 0; d4 < ATTN_HDV; ++d4)
        ATTN_STOREV(acc[d4] * inv, Or + VEC * d4);
}
#endif

// ---------------------------------------------------------------------------------------------
// attn_decode_combine — pass 2: merge the n_splits partial records of each query row.
//
// Launch: global = (HEAD_DIM, n_heads, batch * q_len), local = any (NULL is fine; no local
// memory, no barrier).
// One work-item computes O[b, i, h, d] for d = global id 0:
//   M = max_s m_s,  L = sum_s l_s * exp2(m_s - M),  O = sum_s acc_s[d] * exp2(m_s - M) / L,
// and zeros when L == 0 (the row may see no key).
// Preconditions: part was written by attn_decode_partial with the same q_len, n_heads and
// n_splits (and the same HEAD_DIM build option).
// Extensions: none.
// ---------------------------------------------------------------------------------------------
#if !defined(ATTN_ONLY) || ATTN_ONLY == 3 /* attn_decode_combine) */
__kernel void attn_decode_combine(__global const float *part, __global stor_t *O, ulong o_off,
                                  long o_sb, long o_ss, long o_sh, int q_len, int n_splits)
{
    const int d = get_global_id(0);
    const int h = get_global_id(1);
    const int bi = get_global_id(2);
    const int n_heads = get_global_size(1);
    if (d >= HEAD_DIM) // no barrier in this kernel, so an early exit is safe
        return;
    const int b = bi / q_len;
    const int qi = bi - b * q_len;

    __global const float *rec = part + (long)(bi * n_heads + h) * n_splits * (HEAD_DIM + 2);
    float M = -INFINITY;
    for (int s = 0; s < n_splits; ++s)
        M = fmax(M, rec[s * (HEAD_DIM + 2) + HEAD_DIM]);
    float L = 0.0f, o = 0.0f;
    if (M > -INFINITY) {
        for (int s = 0; s < n_splits; ++s) {
            __global const float *r = rec + s * (HEAD_DIM + 2);
            const float w = exp2(r[HEAD_DIM] - M); // 0 for empty splits
            L = fma(r[HEAD_DIM + 1], w, L);
            o = fma(r[d], w, o);
        }
    }
    ATTN_STORE1(L > 0.0f ? o / L : 0.0f, O + o_off + b * o_sb + (long)qi * o_ss + h * o_sh + d);
}
#endif

/*
 * attn_mask_keys: the unfused reference path's padding mask. Sets
 * scores[r, j] = -inf for every key j >= key_len[b] of a (rows, cols) f32
 * score block. Launch: 2-D, global (>= cols, rows), any local size. One
 * work-item: one score. Needs no extension.
 */
#if !defined(ATTN_ONLY) || ATTN_ONLY == 4 /* attn_mask_keys) */
__kernel void attn_mask_keys(__global float *scores, const ulong off, const int rows,
                             const int cols, __global const int *key_len, const int b)
{
    const int j = (int)get_global_id(0), r = (int)get_global_id(1);
    if (j < cols && r < rows && j >= key_len[b]) scores[off + (ulong)r * cols + j] = -INFINITY;
}
#endif
