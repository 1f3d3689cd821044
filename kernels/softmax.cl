/*
 * Row softmax and log-softmax with scale, additive mask and causal masking.
 *
 * Tensors are seen as four dimensions (n0, n1, n2, C), outermost first: a row
 * is one (i0, i1, i2); i2 is the row's index r inside its (n2, C) block, which
 * is what the causal rule and a (rows, cols) mask are indexed by. Every tensor
 * has its own element offset and strides (any view); the mask's strides are 0
 * along the dimensions it is broadcast over.
 *
 * Storage dtypes are run-time flags (bit set = f16): the branch is uniform
 * over the launch and keeps one program per device instead of one per dtype
 * combination. f16 is read and written with vload_half/vstore_half_rte (core
 * OpenCL 1.2); arithmetic is f32. No extension is needed.
 */

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
 * flags: bit 0 x f16, bit 1 y f16, bit 2 mask f16, bit 3 has mask, bit 4
 * causal, bit 5 log.
 */
__kernel void softmax_rows(const __global float *x, const ulong xoff, const long4 xs,
                           __global float *y, const ulong yoff, const long4 ys,
                           const __global float *mask, const ulong moff, const long4 ms,
                           const long n1, const long n2, const long C, const float scale,
                           const int flags, __local float2 *lpair)
{
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
