/*
 * Row-wise argmax and top-k over (R, V) logits, V up to hundreds of
 * thousands. One work-group handles one chunk of one row: chunk g of G
 * covers columns [g V / G, (g + 1) V / G). With G = 1 a work-group owns a
 * whole row; for few rows and a large vocabulary the host splits rows into
 * G chunks and runs the same kernel again over the G partial results
 * (CLF_TOPK_GATHER), so both passes share one code path.
 *
 * Order: larger first; between equal values the lower column first. NaN
 * counts as smaller than every number (it is never picked while a number
 * is left); -0 and +0 are equal (and reported as +0 by topk).
 *
 * Build options (all optional):
 *   CLF_TOPK_WG      work-group size, a power of two from 32 to 256 (256)
 *   CLF_TOPK_F16     x is stored as f16 (0: f32)
 *   CLF_TOPK_GATHER  the column of x[r, c] is cand[c_off + (element of
 *                    x[r, c])] instead of c: x holds a first pass's partial
 *                    values and cand their columns (0)
 *   CLF_TOPK_ONLY    compile only argmax_rows (1), topk_rows (2),
 *                    argmax_rows_vec (3) or topk_rows_vec (4): a program
 *                    with one kernel compiles in a fraction of the time
 * Needs no extension; local int atomics are core OpenCL 1.1.
 */
#ifndef CLF_TOPK_WG
#define CLF_TOPK_WG 256
#endif
#ifndef CLF_TOPK_F16
#define CLF_TOPK_F16 0
#endif
#ifndef CLF_TOPK_GATHER
#define CLF_TOPK_GATHER 0
#endif
#define WG CLF_TOPK_WG
#define TOPK_MAX 256

#if CLF_TOPK_F16
typedef half x_t;
#define LOAD_X(i) vload_half((i), x)
#else
typedef float x_t;
#define LOAD_X(i) (x[(i)])
#endif
#if CLF_TOPK_GATHER
#define COLUMN(c, xi) (cand[(long)c_off + (xi)])
#else
#define COLUMN(c, xi) ((int)(c))
#endif

/* The kernels' shared arguments: the input rows, the optional column map,
 * the sizes and the outputs (row r * G + g of each output view). */
#define TOPK_ARGS                                                                              \
    __global const x_t *x, const ulong x_off, const long x_rs, const long x_cs,                \
        __global const int *cand, const ulong c_off, const int V, const int G,                 \
        __global float *ov, const ulong ov_off, const long ov_rs, const long ov_cs,            \
        __global int *oi, const ulong oi_off, const long oi_rs, const long oi_cs

/*
 * argmax_rows: the largest value of each chunk and its column.
 * Launch: 2-D, global = (WG * G, R), local = (WG, 1); the group (g, r).
 * Each work-item scans the columns lid, lid + WG, ... of the chunk (coalesced),
 * then a tree reduction in local memory picks (largest value, lowest column).
 * Writes oi (and ov when has_val). A chunk of NaN only gives (-inf, INT_MAX)
 * when has_val (a partial result, which the second pass ignores), column 0
 * otherwise (the final answer for a NaN row).
 */
#if !defined(CLF_TOPK_ONLY) || CLF_TOPK_ONLY == 1 /* argmax_rows */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void argmax_rows(TOPK_ARGS,
                                                                          const int has_val)
{
    __local float lv[WG];
    __local int li[WG];
    const int lid = get_local_id(0);
    const long g = get_group_id(0), r = get_group_id(1);
    const long c0 = g * V / G, c1 = (g + 1) * V / G;
    const long base = (long)x_off + r * x_rs;
    float best = -INFINITY;
    int besti = INT_MAX;
    for (long c = c0 + lid; c < c1; c += WG) {
        const long xi = base + c * x_cs;
        const float v = LOAD_X(xi);
        const int i = COLUMN(c, xi);
        if (v > best || (v == best && i < besti)) {
            best = v;
            besti = i;
        }
    }
    lv[lid] = best;
    li[lid] = besti;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = WG / 2; s > 0; s >>= 1) {
        if (lid < s) {
            const float v = lv[lid + s];
            const int i = li[lid + s];
            if (v > lv[lid] || (v == lv[lid] && i < li[lid])) {
                lv[lid] = v;
                li[lid] = i;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        const long orow = r * G + g;
        if (has_val) {
            ov[(long)ov_off + orow * ov_rs] = lv[0];
            oi[(long)oi_off + orow * oi_rs] = li[0];
        } else {
            oi[(long)oi_off + orow * oi_rs] = li[0] == INT_MAX ? 0 : li[0];
        }
    }
}
#endif

/* An order-preserving unsigned key: a > b as floats <=> key(a) > key(b).
 * NaN maps to 0, below -inf (key 0x007fffff); -0 maps like +0. */
uint topk_key(float v)
{
    if (isnan(v)) return 0u;
    if (v == 0.0f) v = 0.0f;
    const uint u = as_uint(v);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

float topk_value(uint key)
{
    return as_float((key & 0x80000000u) ? (key & 0x7fffffffu) : ~key); /* key 0: a NaN */
}

/*
 * topk_rows: the k largest entries of each chunk, sorted (larger first, ties:
 * lower column first).
 * Launch: 2-D, global = (WG * G, R), local = (WG, 1); the group (g, r).
 * Preconditions: 1 <= k <= 256 and every chunk has at least k columns.
 * Method (radix select, then a sort of k entries in local memory):
 *  1. Four passes over the chunk build a 256-bin histogram of one byte of
 *     the keys (most significant first) among the keys that match the bytes
 *     found so far; work-item 0 walks the bins from the top and fixes the
 *     byte of the k-th largest key. After the fourth pass `thr` is that key
 *     and `need` the number of entries equal to it that belong to the top k.
 *  2. Entries with key > thr are gathered through a local atomic counter.
 *     If every entry equal to thr is needed they are gathered the same way;
 *     otherwise the chunk is walked in tiles of WG columns with a prefix
 *     count, taking the first `need` of them in column order.
 *  3. A bitonic sort of the k (padded to a power of two) entries by (key
 *     descending, column ascending); the first k are written.
 * Every loop with a barrier has a work-group-uniform trip count.
 */
#if !defined(CLF_TOPK_ONLY) || CLF_TOPK_ONLY == 2 /* topk_rows */
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void topk_rows(TOPK_ARGS, const int k)
{
    __local uint hist[256];
    __local uint sel_key[TOPK_MAX];
    __local int sel_idx[TOPK_MAX];
    __local int scan[WG];
    __local uint l_prefix;
    __local int l_need, l_eq, l_n;

    const int lid = get_local_id(0);
    const long g = get_group_id(0), r = get_group_id(1);
    const long c0 = g * V / G, c1 = (g + 1) * V / G;
    const long base = (long)x_off + r * x_rs;

    /* 1. Radix select of the k-th largest key. */
    uint prefix = 0u, mask = 0u;
    int need = k;
    for (int shift = 24; shift >= 0; shift -= 8) {
        for (int b = lid; b < 256; b += WG) hist[b] = 0u;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (long c = c0 + lid; c < c1; c += WG) {
            const uint key = topk_key(LOAD_X(base + c * x_cs));
            if ((key & mask) == prefix) atomic_inc(&hist[(key >> shift) & 255u]);
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid == 0) {
            int cum = 0, b = 255;
            for (; b > 0; b--) {
                if (cum + (int)hist[b] >= need) break;
                cum += (int)hist[b];
            }
            l_prefix = prefix | ((uint)b << shift);
            l_need = need - cum;
            l_eq = (int)hist[b];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
        prefix = l_prefix;
        need = l_need;
        mask |= 255u << shift;
    }
    const uint thr = prefix;
    const int n_gt = k - need; /* entries strictly above thr: all in the top k */
    const bool take_all_eq = l_eq == need;

    /* 2. Gather. */
    if (lid == 0) l_n = 0;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long c = c0 + lid; c < c1; c += WG) {
        const long xi = base + c * x_cs;
        const uint key = topk_key(LOAD_X(xi));
        if (key > thr || (take_all_eq && key == thr)) {
            const int slot = atomic_inc(&l_n);
            sel_key[slot] = key;
            sel_idx[slot] = COLUMN(c, xi);
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (!take_all_eq) {
        int taken = 0; /* equal entries seen so far, in column order; uniform */
        for (long t0 = c0; t0 < c1 && taken < need; t0 += WG) {
            const long c = t0 + lid;
            long xi = 0;
            int flag = 0;
            if (c < c1) {
                xi = base + c * x_cs;
                flag = topk_key(LOAD_X(xi)) == thr;
            }
            scan[lid] = flag;
            barrier(CLK_LOCAL_MEM_FENCE);
            for (int off = 1; off < WG; off <<= 1) { /* inclusive prefix sum */
                const int add = lid >= off ? scan[lid - off] : 0;
                barrier(CLK_LOCAL_MEM_FENCE);
                scan[lid] += add;
                barrier(CLK_LOCAL_MEM_FENCE);
            }
            const int rank = taken + scan[lid] - 1;
            if (flag && rank < need) {
                sel_key[n_gt + rank] = thr;
                sel_idx[n_gt + rank] = COLUMN(c, xi);
            }
            taken += scan[WG - 1];
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }

    /* 3. Bitonic sort of the selection, padded to a power of two with
     * entries that sort last. */
    int P = 1;
    while (P < k) P <<= 1;
    for (int i = k + lid; i < P; i += WG) {
        sel_key[i] = 0u;
        sel_idx[i] = INT_MAX;
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int size = 2; size <= P; size <<= 1) {
        for (int stride = size >> 1; stride > 0; stride >>= 1) {
            for (int t = lid; t < P / 2; t += WG) {
                const int i = 2 * t - (t & (stride - 1)), j = i + stride;
                const uint ka = sel_key[i], kb = sel_key[j];
                const int ia = sel_idx[i], ib = sel_idx[j];
                const bool a_first = ka > kb || (ka == kb && ia < ib);
                const bool up = (i & size) == 0;
                if (a_first != up) {
                    sel_key[i] = kb;
                    sel_key[j] = ka;
                    sel_idx[i] = ib;
                    sel_idx[j] = ia;
                }
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
    const long orow = r * G + g;
    for (int j = lid; j < k; j += WG) {
        ov[(long)ov_off + orow * ov_rs + j * ov_cs] = topk_value(sel_key[j]);
        oi[(long)oi_off + orow * oi_rs + j * oi_cs] = sel_idx[j];
    }
}
#endif

/* ---- CPU fast path: one work-item per row, float8 scans, no barriers ---- */

#if CLF_TOPK_F16
#define LOAD_X8(i) clf_load_half8(x + (i))
#else
#define LOAD_X8(i) vload8(0, x + (i))
#endif

/* topk_key on 8 lanes. */
uint8 topk_key8(const float8 v)
{
    const uint8 u = as_uint8(select(v, (float8)0.0f, v == 0.0f)); /* -0 as +0 */
    const uint8 k = select(u | 0x80000000u, ~u, (u & 0x80000000u) != 0u);
    return select(k, (uint8)0u, isnan(v) != 0);
}

/*
 * argmax_rows_vec: the column of the largest x[r, :] (first on ties; NaN
 * below every number; a row of NaN gives 0), for a unit column stride.
 * Launch: 1-D, global = R rounded up to the local size, any local size. One
 * work-item scans a row with eight lanes (lane j sees columns j mod 8, in
 * ascending order, so within a lane a later equal value never wins), then
 * merges the lanes and the last V % 8 columns.
 */
#if !defined(CLF_TOPK_ONLY) || CLF_TOPK_ONLY == 3 /* argmax_rows_vec */
__kernel void argmax_rows_vec(__global const x_t *x, const ulong x_off, const long x_rs,
                              const int V, const int R, __global int *oi, const ulong oi_off,
                              const long oi_rs)
{
    const int r = get_global_id(0);
    if (r >= R) return; /* no barrier in this kernel */
    const long base = (long)x_off + r * x_rs;
    const int V8 = V & ~7;
    float8 best = (float8)(-INFINITY);
    int8 besti = (int8)(INT_MAX);
    for (int c = 0; c < V8; c += 8) {
        const float8 v = LOAD_X8(base + c);
        /* A lane takes its first -inf too, so a row of -inf gives its first. */
        const int8 up = (v > best) | ((v == best) & (besti == INT_MAX));
        best = select(best, v, up);
        besti = select(besti, (int8)(c) + (int8)(0, 1, 2, 3, 4, 5, 6, 7), up);
    }
    float bv[8];
    int bix[8];
    vstore8(best, 0, bv);
    vstore8(besti, 0, bix);
    float b = -INFINITY;
    int bi = INT_MAX;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const float v = bv[j];
        const int i = bix[j];
        if (v > b || (v == b && i < bi)) {
            b = v;
            bi = i;
        }
    }
    for (int c = V8; c < V; c++) {
        const float v = LOAD_X(base + c);
        if (v > b || (v == b && c < bi)) {
            b = v;
            bi = c;
        }
    }
    oi[(long)oi_off + r * oi_rs] = bi == INT_MAX ? 0 : bi; /* a row of NaN gives 0 */
}
#endif

#ifndef CLF_TOPK_SMALL
#define CLF_TOPK_SMALL 32
#endif

/* Inserts (key, col) into the sorted list (key descending, column ascending:
 * columns arrive in ascending order, so an equal key goes after the equal
 * ones) of n entries, at most k kept. */
inline void topk_insert(uint *lk, int *li, int *n, const int k, const uint key, const int col)
{
    int j = *n < k ? *n : k - 1;
    while (j > 0 && lk[j - 1] < key) {
        lk[j] = lk[j - 1];
        li[j] = li[j - 1];
        j--;
    }
    lk[j] = key;
    li[j] = col;
    if (*n < k) (*n)++;
}

/*
 * topk_rows_vec: the k largest entries of each row (k <= CLF_TOPK_SMALL),
 * sorted as topk_rows, for a unit column stride.
 * Launch: 1-D, global = R rounded up to the local size, any local size. One
 * work-item keeps a sorted list of k entries in private memory: the first k
 * columns go in directly, then 8 columns at a time are compared with the
 * k-th key and only a group with a larger key is inserted, one column at a
 * time in column order. Random logits insert about k ln(V / k) times; an
 * ascending row (the worst case) V times, O(k) each.
 */
#if !defined(CLF_TOPK_ONLY) || CLF_TOPK_ONLY == 4 /* topk_rows_vec */
__kernel void topk_rows_vec(__global const x_t *x, const ulong x_off, const long x_rs,
                            const int V, const int R, __global float *ov, const ulong ov_off,
                            const long ov_rs, const long ov_cs, __global int *oi,
                            const ulong oi_off, const long oi_rs, const long oi_cs, const int k)
{
    const int r = get_global_id(0);
    if (r >= R) return; /* no barrier in this kernel */
    const long base = (long)x_off + r * x_rs;
    uint lk[CLF_TOPK_SMALL];
    int li[CLF_TOPK_SMALL];
    int n = 0;
    for (int c = 0; c < k; c++) topk_insert(lk, li, &n, k, topk_key(LOAD_X(base + c)), c);
    uint thr = lk[k - 1];
    int c = k;
    for (; c + 8 <= V; c += 8) {
        const uint8 key = topk_key8(LOAD_X8(base + c));
        if (any(key > (uint8)thr)) {
            uint kj[8];
            vstore8(key, 0, kj);
            for (int j = 0; j < 8; j++)
                if (kj[j] > thr) {
                    topk_insert(lk, li, &n, k, kj[j], c + j);
                    thr = lk[k - 1];
                }
        }
    }
    for (; c < V; c++) {
        const uint key = topk_key(LOAD_X(base + c));
        if (key > thr) {
            topk_insert(lk, li, &n, k, key, c);
            thr = lk[k - 1];
        }
    }
    for (int j = 0; j < k; j++) {
        ov[(long)ov_off + r * ov_rs + j * ov_cs] = topk_value(lk[j]);
        oi[(long)oi_off + r * oi_rs + j * oi_cs] = li[j];
    }
}
#endif
