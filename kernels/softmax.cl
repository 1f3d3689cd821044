/*
 * Row softmax and log-softmax with scale, additive mask and causal masking.
 *
 * Tensors are seen as four dimensions (n0, n1, n2, C), outermost first: a row
 * is one (i0, i1, i2); i2 is the row's index r inside its (n2, C) block, which
 * is what the causal rule and a (rows, cols) mask are indexed by. Every tensor
 * has its own element offset and strides (any view); the mask's strides are 0
 * along the dimensions it is broadcast over.
 *
 * Build option SM_FLAGS (default 0): the storage dtypes and the options as
 * bits (bit 0 x f16, bit 1 y f16, bit 2 mask f16, bit 3 has mask, bit 4
 * causal, bit 5 log). A build option, not a run-time argument: PoCL keeps a
 * kernel with per-element branches on run-time flags scalar; folded at build
 * time they cost nothing (one program per combination, cached on disk).
 * f16 is read and written with vload_half/vstore_half_rte (core OpenCL 1.2);
 * arithmetic is f32. No extension is needed.
 *
 * Two kernels: softmax_rows (a work-group per row, any strides; the GPU
 * kernel and the general path) and softmax_rows_vec (a work-item per row
 * with float8 arithmetic, unit innermost strides; the CPU fast path).
 */
#ifndef SM_FLAGS
#define SM_FLAGS 0
#endif

inline float sm_load(const __global float *p, const long i, const int f16)
{
    return f16 ? vload_half((size_t)i, (const __global half *)p) : p[i];
}

inline void sm_store(__global float *p, const long i, const float v, const int f16)
{
    if (f16)
        vstore_half_rte(v, (size_t)i, (__global half *)p);
    else
        p[i] = v;
}

/* Merges two (max, sum of exp(v - max)) pairs. A pair with max -inf holds
 * nothing (every value masked) and must not produce exp(-inf - -inf) = NaN. */
inline float2 sm_merge(const float2 a, const float2 b)
{
    if (a.x == -INFINITY) return b;
    if (b.x == -INFINITY) return a;
    const float m = fmax(a.x, b.x);
    return (float2)(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

/*
 * softmax_rows: y = softmax(scale * x + mask) (or its log) along C.
 * Launch: 1-D, global = rows * L, local = L, L a power of two; one
 * work-group per row (row = i2 + n2 * (i1 + n1 * i0)). Each work-item walks
 * columns lid, lid + L, ... keeping an online (max, sum) pair; a tree in
 * local memory (lpair: L float2) merges the pairs; a second walk writes.
 * Column c of row r is visible when c <= r + C - n2 (causal) and the mask is
 * not -inf; a row with nothing visible is written as zeros (log: -inf).
 * y may be the same view as x: every read of the first walk happens before
 * the barriers of the merge, and the second walk reads x[c] before writing
 * y[c] in the same work-item. No early return: PoCL needs every work-item at
 * every barrier.
 * The dtypes and options come from SM_FLAGS.
 */
__kernel void softmax_rows(const __global float *x, const ulong xoff, const long4 xs,
                           __global float *y, const ulong yoff, const long4 ys,
                           const __global float *mask, const ulong moff, const long4 ms,
                           const long n1, const long n2, const long C, const float scale,
                           __local float2 *lpair)
{
    const int flags = SM_FLAGS;
    const long row = get_group_id(0);
    const int lid = (int)get_local_id(0);
    const int L = (int)get_local_size(0);
    const long i2 = row % n2, i1 = (row / n2) % n1, i0 = row / (n2 * n1);
    const long xb = (long)xoff + i0 * xs.s0 + i1 * xs.s1 + i2 * xs.s2;
    const long yb = (long)yoff + i0 * ys.s0 + i1 * ys.s1 + i2 * ys.s2;
    const long mb = (long)moff + i0 * ms.s0 + i1 * ms.s1 + i2 * ms.s2;
    const int x16 = flags & 1, y16 = (flags >> 1) & 1, m16 = (flags >> 2) & 1;
    const int has_mask = (flags >> 3) & 1, causal = (flags >> 4) & 1, logsm = (flags >> 5) & 1;
    /* Last visible column; below 0 when the causal rule hides everything. */
    const long last = causal ? i2 + C - n2 : C - 1;

    float2 acc = (float2)(-INFINITY, 0.0f);
    for (long c = lid; c < C; c += L) {
        float v = scale * sm_load(x, xb + c * xs.s3, x16);
        if (has_mask) v += sm_load(mask, mb + c * ms.s3, m16);
        if (c > last) v = -INFINITY;
        if (v > acc.x) {
            /* A new maximum: rescale what was summed so far. */
            acc.y = (acc.x == -INFINITY ? 0.0f : acc.y * exp(acc.x - v)) + 1.0f;
            acc.x = v;
        } else if (v != -INFINITY) {
            acc.y += exp(v - acc.x);
        }
    }

    lpair[lid] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int step = L / 2; step > 0; step /= 2) {
        if (lid < step) lpair[lid] = sm_merge(lpair[lid], lpair[lid + step]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float2 tot = lpair[0];
    const float m = tot.x;
    const float inv = 1.0f / tot.y;
    const float log_sum = log(tot.y);

    for (long c = lid; c < C; c += L) {
        float v = scale * sm_load(x, xb + c * xs.s3, x16);
        if (has_mask) v += sm_load(mask, mb + c * ms.s3, m16);
        if (c > last) v = -INFINITY;
        float out;
        if (m == -INFINITY)
            out = logsm ? -INFINITY : 0.0f; /* nothing visible in this row */
        else
            out = logsm ? (v - m) - log_sum : exp(v - m) * inv;
        sm_store(y, yb + c * ys.s3, out, y16);
    }
}

#define SM_X16 (SM_FLAGS & 1)
#define SM_Y16 ((SM_FLAGS >> 1) & 1)
#define SM_M16 ((SM_FLAGS >> 2) & 1)
#define SM_HAS_MASK ((SM_FLAGS >> 3) & 1)
#define SM_CAUSAL ((SM_FLAGS >> 4) & 1)
#define SM_LOG ((SM_FLAGS >> 5) & 1)

inline float8 sm_load8(const __global float *p, const long i, const int f16)
{
    if (f16) return clf_load_half8((const __global half *)p + i);
    return vload8(0, p + i);
}

inline void sm_store8(__global float *p, const long i, const float8 v, const int f16)
{
    if (f16)
        clf_store_half8(v, (__global half *)p + i);
    else
        vstore8(v, 0, p + i);
}

/* scale * x + mask at columns c .. c + 7 of a row (x at xb, mask at mb),
 * -inf past column `last`. */
inline float8 sm_v8(const __global float *x, const long xb, const __global float *mask,
                    const long mb, const long c, const float scale, const long last)
{
    float8 v = scale * sm_load8(x, xb + c, SM_X16);
    if (SM_HAS_MASK) v += sm_load8(mask, mb + c, SM_M16);
    if (SM_CAUSAL) {
        const int lim = (int)clamp(last - c, -1L, 8L);
        v = select(v, (float8)(-INFINITY), (int8)(0, 1, 2, 3, 4, 5, 6, 7) > lim);
    }
    return v;
}

inline float sm_v1(const __global float *x, const long xb, const __global float *mask,
                   const long mb, const long c, const float scale, const long last)
{
    float v = scale * sm_load(x, xb + c, SM_X16);
    if (SM_HAS_MASK) v += sm_load(mask, mb + c, SM_M16);
    if (SM_CAUSAL && c > last) v = -INFINITY;
    return v;
}
#define SM_V8(c) sm_v8(x, xb, mask, mb, (c), scale, last)
#define SM_V1(c) sm_v1(x, xb, mask, mb, (c), scale, last)

/*
 * softmax_rows_vec: as softmax_rows, for unit innermost strides on x, y and
 * the mask (the host checks), one work-item per row: float8 passes over the
 * row (the maximum; the sum of exp, which with f32 storage writes
 * exp(v - max) into y on the way; then the scaled or recomputed output), the
 * last C % 8 columns one at a time. No barriers and no local memory, which
 * is what PoCL runs fast; meant for CPU devices.
 * Launch: 1-D, global = rows rounded up to the local size, any local size.
 * y may be the same view as x: each row is read and written by one
 * work-item, and every column of x is read before it is overwritten.
 */
__kernel void softmax_rows_vec(const __global float *x, const ulong xoff, const long4 xs,
                               __global float *y, const ulong yoff, const long4 ys,
                               const __global float *mask, const ulong moff, const long4 ms,
                               const long n1, const long n2, const long C, const float scale,
                               const long rows)
{
    const long row = get_global_id(0);
    if (row >= rows) return; /* no barrier in this kernel */
    const long i2 = row % n2, i1 = (row / n2) % n1, i0 = row / (n2 * n1);
    const long xb = (long)xoff + i0 * xs.s0 + i1 * xs.s1 + i2 * xs.s2;
    const long yb = (long)yoff + i0 * ys.s0 + i1 * ys.s1 + i2 * ys.s2;
    const long mb = (long)moff + i0 * ms.s0 + i1 * ms.s1 + i2 * ms.s2;
    const long last = SM_CAUSAL ? i2 + C - n2 : C - 1;
    const long C8 = C & ~7L;

    /* 1. The maximum. */
    float8 m8 = (float8)(-INFINITY);
    for (long c = 0; c < C8; c += 8) m8 = fmax(m8, SM_V8(c));
    float m = fmax(fmax(fmax(m8.s0, m8.s1), fmax(m8.s2, m8.s3)),
                   fmax(fmax(m8.s4, m8.s5), fmax(m8.s6, m8.s7)));
    for (long c = C8; c < C; c++) m = fmax(m, SM_V1(c));
    if (m == -INFINITY) {
        /* Nothing visible in this row (NaN compares false: it goes on). */
        const float z = SM_LOG ? -INFINITY : 0.0f;
        for (long c = 0; c < C8; c += 8) sm_store8(y, yb + c, (float8)z, SM_Y16);
        for (long c = C8; c < C; c++) sm_store(y, yb + c, z, SM_Y16);
        return;
    }

    /* 2. The sum of exp(v - m); with f32 y (not log) the terms go to y. */
    const int keep = (SM_LOG | SM_Y16) == 0; /* bits, not &&: no constant-operand warning */
    float8 s8 = 0.0f;
    for (long c = 0; c < C8; c += 8) {
        const float8 e = clf_exp8(SM_V8(c) - m);
        s8 += e;
        if (keep) vstore8(e, 0, y + yb + c);
    }
    float sum = ((s8.s0 + s8.s1) + (s8.s2 + s8.s3)) + ((s8.s4 + s8.s5) + (s8.s6 + s8.s7));
    for (long c = C8; c < C; c++) {
        const float e = exp(SM_V1(c) - m);
        sum += e;
        if (keep) y[yb + c] = e;
    }

    /* 3. The output. */
    if (SM_LOG) {
        const float ls = log(sum);
        for (long c = 0; c < C8; c += 8) sm_store8(y, yb + c, (SM_V8(c) - m) - ls, SM_Y16);
        for (long c = C8; c < C; c++) sm_store(y, yb + c, (SM_V1(c) - m) - ls, SM_Y16);
    } else if (keep) {
        const float inv = 1.0f / sum;
        for (long c = 0; c < C8; c += 8) vstore8(vload8(0, y + yb + c) * inv, 0, y + yb + c);
        for (long c = C8; c < C; c++) y[yb + c] *= inv;
    } else {
        const float inv = 1.0f / sum;
        for (long c = 0; c < C8; c += 8)
            sm_store8(y, yb + c, clf_exp8(SM_V8(c) - m) * inv, SM_Y16);
        for (long c = C8; c < C; c++) sm_store(y, yb + c, exp(SM_V1(c) - m) * inv, SM_Y16);
    }
}
