/*
 * Strided copies of up to 4 dimensions, with f32 <-> f16 conversion.
 *
 * Build options (all optional):
 *   CLF_COPY_WIDE  1: index arithmetic in ulong (views of more than 2^32 - 1
 *                  elements); default 0: uint, which keeps the div/mod cheap
 *                  on GPUs.
 *   CLF_COPY_ONLY  1..12: compile only the kernel of that rank in the order
 *                  copy_b32, copy_b16, copy_f32_f16, copy_f16_f32, then the
 *                  four copy_rows_* alike, then the four kv_rows_* alike (a
 *                  one-kernel program compiles in a
 *                  fraction of the time); unset: all.
 *
 * Kernels (same arguments, different storage types):
 *   copy_b32      4-byte elements copied bit for bit (f32 -> f32, i32 -> i32)
 *   copy_b16      2-byte elements copied bit for bit (f16 -> f16)
 *   copy_f32_f16  f32 -> f16, round to nearest even (vstore_half_rte)
 *   copy_f16_f32  f16 -> f32, exact (vload_half)
 * Bitwise copies keep NaN payloads and signed zeros; needs no extension.
 *
 * Fast path (*_rows kernels below): the innermost dimension has unit stride
 * on both sides (dense copies, the head split/merge transposes, KV appends),
 * 8 elements per work-item with vector loads and stores.
 *
 * General kernels: launch 1-D, global = total rounded up to the local size,
 * any local size. One work-item copies one element: its flat row-major index over the shape
 * (n0, n1, n2, n3) (innermost last) is split into coordinates, and the source
 * and destination offsets come from each side's element strides. The host
 * merges dimensions that are contiguous on both sides first, so a dense copy
 * arrives here as one dimension and costs no division in practice.
 * Preconditions: n0 * n1 * n2 * n3 == total; every reachable element lies in
 * its buffer (checked on the host); src and dst do not overlap.
 */
#ifndef CLF_COPY_WIDE
#define CLF_COPY_WIDE 0
#endif
#if CLF_COPY_WIDE
typedef ulong copy_idx_t;
#else
typedef uint copy_idx_t;
#endif

#define CLF_COPY_ARGS(ST, DT)                                                                  \
    __global const ST *src, const ulong s_off, const long ss0, const long ss1, const long ss2, \
        const long ss3, __global DT *dst, const ulong d_off, const long ds0, const long ds1,   \
        const long ds2, const long ds3, const ulong n1_, const ulong n2_, const ulong n3_,     \
        const ulong total

/* Computes si (source element) and di (destination element); `valid` is
 * false for the work-items past the end of the rounded-up range. */
#define CLF_COPY_INDEX()                                                                       \
    const ulong flat_ = get_global_id(0);                                                      \
    const bool valid = flat_ < total;                                                          \
    copy_idx_t rest = (copy_idx_t)flat_;                                                       \
    const copy_idx_t n3 = (copy_idx_t)n3_, n2 = (copy_idx_t)n2_, n1 = (copy_idx_t)n1_;         \
    const copy_idx_t i3 = rest % n3;                                                           \
    rest /= n3;                                                                                \
    const copy_idx_t i2 = rest % n2;                                                           \
    rest /= n2;                                                                                \
    const copy_idx_t i1 = rest % n1;                                                           \
    const copy_idx_t i0 = rest / n1;                                                           \
    const long si = (long)s_off + (long)i0 * ss0 + (long)i1 * ss1 + (long)i2 * ss2 + (long)i3 * ss3; \
    const long di = (long)d_off + (long)i0 * ds0 + (long)i1 * ds1 + (long)i2 * ds2 + (long)i3 * ds3;

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 1
__kernel void copy_b32(CLF_COPY_ARGS(uint, uint))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = src[si];
}
#endif

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 2
__kernel void copy_b16(CLF_COPY_ARGS(ushort, ushort))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = src[si];
}
#endif

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 3
__kernel void copy_f32_f16(CLF_COPY_ARGS(float, half))
{
    CLF_COPY_INDEX()
    if (valid) vstore_half_rte(src[si], di, dst);
}
#endif

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 4
__kernel void copy_f16_f32(CLF_COPY_ARGS(half, float))
{
    CLF_COPY_INDEX()
    if (valid) dst[di] = vload_half(si, src);
}
#endif

/* Moves of 8 elements for the *_rows kernels. */
#define MOVE8_b32(s, d) vstore8(vload8(0, (s)), 0, (d))
#define MOVE1_b32(s, d) (*(d) = *(s))
#define MOVE8_b16(s, d) CLF_STOREU16((d), CLF_LOADU16(s))
#define MOVE1_b16(s, d) (*(d) = *(s))
#define MOVE8_f32_f16(s, d) clf_store_half8(vload8(0, (s)), (d))
#define MOVE1_f32_f16(s, d) vstore_half_rte(*(s), 0, (d))
#define MOVE8_f16_f32(s, d) vstore8(clf_load_half8(s), 0, (d))
#define MOVE1_f16_f32(s, d) (*(d) = vload_half(0, (s)))

/*
 * copy_rows_*: dst = src over (n0, n1, n2, n3) when both sides have unit
 * stride along n3 (the host checks); strides of the other dimensions free.
 * Launch: 3-D, global = (ceil(n3 / 8) and n2 rounded up to the local size,
 * n0 * n1), local = (L0, L1, 1). Work-item (i, i2, i01) copies elements
 * [8i, 8i + 8) of row (i01 / n1, i01 % n1, i2); the last one of a row copies
 * the remainder one element at a time.
 */
#define CLF_COPY_ROWS(NAME, ST, DT, T)                                                      \
    __kernel void NAME(__global const ST *src, const ulong s_off, const long ss0,             \
                       const long ss1, const long ss2, __global DT *dst, const ulong d_off,    \
                       const long ds0, const long ds1, const long ds2, const ulong n1_,        \
                       const ulong n2_, const ulong n3_)                                       \
    {                                                                                          \
        const long c = (long)get_global_id(0) * 8, n3 = (long)n3_;                              \
        const long i2 = get_global_id(1), i01 = get_global_id(2);                              \
        if (i2 >= (long)n2_) return; /* no barrier in this kernel */                           \
        const long i0 = i01 / (long)n1_, i1 = i01 - i0 * (long)n1_;                            \
        const __global ST *s = src + (long)s_off + i0 * ss0 + i1 * ss1 + i2 * ss2;             \
        __global DT *d = dst + (long)d_off + i0 * ds0 + i1 * ds1 + i2 * ds2;                   \
        if (c + 8 <= n3) {                                                                     \
            MOVE8_##T(s + c, d + c);                                                               \
        } else {                                                                               \
            for (long j = c; j < n3; j++) MOVE1_##T(s + j, d + j);                             \
        }                                                                                      \
    }

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 5
CLF_COPY_ROWS(copy_rows_b32, uint, uint, b32)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 6
CLF_COPY_ROWS(copy_rows_b16, ushort, ushort, b16)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 7
CLF_COPY_ROWS(copy_rows_f32_f16, float, half, f32_f16)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 8
CLF_COPY_ROWS(copy_rows_f16_f32, half, float, f16_f32)
#endif

/*
 * kv_rows_*: the per-row KV append (clf_kv_append_rows, clf_kv_append_at):
 * row b of src (B, n, H, Dh) goes to positions [pos[b], pos[b] + n) of row
 * r = rows[b] of the cache (R, cap, H, Dh) (r = b when has_rows is 0: rows
 * is then any valid buffer); unit stride along Dh on both sides (the host
 * checks).
 * Launch: 3-D, global = (ceil(Dh / 8) and H rounded up to the local size,
 * B * n), local = (L0, L1, 1). Work-item (i, h, b n + t) copies elements
 * [8i, 8i + 8) of head h of token t of row b; the last one of a row copies
 * the remainder one element at a time. A row whose pos[b] is outside
 * [0, cap - n] is not written: its work-item (0, 0, b n) raises
 * CLF__DEVERR_KV_RANGE (code 3) with pos[b], b and cap - n; one whose r is
 * outside [0, R) neither, raising CLF__DEVERR_KV_ROW (code 4) with r, b and R.
 */
#define CLF_KV_ROWS(NAME, ST, DT, T)                                                           \
    __kernel void NAME(__global const ST *src, const ulong s_off, const long ss0,             \
                       const long ss1, const long ss2, __global DT *dst, const ulong d_off,    \
                       const long ds0, const long ds1, const long ds2, const ulong n_,         \
                       const ulong H_, const ulong Dh_, __global const int *pos,               \
                       const ulong p_off, const long p_s, const long cap,                      \
                       __global int *err, __global const int *rows, const ulong r_off,         \
                       const long r_s, const int has_rows, const long R)                       \
    {                                                                                          \
        const long c = (long)get_global_id(0) * 8, Dh = (long)Dh_, n = (long)n_;                \
        const long h = get_global_id(1), bt = get_global_id(2);                                \
        if (h >= (long)H_ || c >= Dh) return; /* no barrier in this kernel */                  \
        const long b = bt / n, t = bt - b * n;                                                 \
        const long p = pos[(long)p_off + b * p_s];                                             \
        const long r = has_rows ? (long)rows[(long)r_off + b * r_s] : b;                       \
        if (p < 0 || p > cap - n) {                                                            \
            if (c == 0 && h == 0 && t == 0)                                                    \
                clf_raise(err, 3, (int)p, (int)b, (int)(cap - n));                             \
            return;                                                                            \
        }                                                                                      \
        if (r < 0 || r >= R) {                                                                 \
            if (c == 0 && h == 0 && t == 0) clf_raise(err, 4, (int)r, (int)b, (int)R);         \
            return;                                                                            \
        }                                                                                      \
        const __global ST *s = src + (long)s_off + b * ss0 + t * ss1 + h * ss2;                \
        __global DT *d = dst + (long)d_off + r * ds0 + (p + t) * ds1 + h * ds2;                \
        if (c + 8 <= Dh) {                                                                     \
            MOVE8_##T(s + c, d + c);                                                           \
        } else {                                                                               \
            for (long j = c; j < Dh; j++) MOVE1_##T(s + j, d + j);                             \
        }                                                                                      \
    }

#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 9
CLF_KV_ROWS(kv_rows_b32, uint, uint, b32)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 10
CLF_KV_ROWS(kv_rows_b16, ushort, ushort, b16)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 11
CLF_KV_ROWS(kv_rows_f32_f16, float, half, f32_f16)
#endif
#if !defined(CLF_COPY_ONLY) || CLF_COPY_ONLY == 12
CLF_KV_ROWS(kv_rows_f16_f32, half, float, f16_f32)
#endif
