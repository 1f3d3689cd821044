/*
 * Token embeddings (gather rows of a table, scale, add positions) and the
 * sinusoidal position table.
 *
 * Build options (all optional, default 0 = f32 storage):
 *   CLF_TABLE_F16  the token table is stored as f16
 *   CLF_POS_F16    the learned position table is stored as f16
 *   CLF_OUT_F16    the output is stored as f16
 *   CLF_POS_KIND   the position kind (a clf_pos_type) of the *_vec kernels
 *                  fixed at build time, so that their code has no branch on
 *                  it; default -1: taken from the pos_type argument
 *   CLF_TABLE_PACKED  embedding_vec only: the table is a packed GEMM weight
 *                  (kernels/gemm_pack.cl, f32, f16 or Q8): element (n, k) of the
 *                  (V, D) table at ((n / pk_n) * (pk_kp / pk_v) + k / pk_v) *
 *                  (pk_n * pk_v) + (n % pk_n) * pk_v + k % pk_v. A tied output
 *                  head is packed for the LM-head GEMM, and the embedding
 *                  gathers its rows from that one copy (a row is 768 or so
 *                  strided loads per token: nothing next to the GEMMs)
 *   CLF_EMBED_ONLY  compile only embedding (1), positional_encoding (2),
 *                  embedding_vec (3) or positional_encoding_vec (4)
 * Needs no extension (f16 through vload_half / vstore_half_rte).
 */
#ifndef CLF_TABLE_F16
#define CLF_TABLE_F16 0
#endif
#ifndef CLF_POS_F16
#define CLF_POS_F16 0
#endif
/* CLF_TABLE_Q8 1 = the table is Q8 (tensor.h): int8 codes, row id's scale at float index
 * t_scales + id of the same buffer; embedding_vec only (the host routes Q8 there). */
#ifndef CLF_TABLE_Q8
#define CLF_TABLE_Q8 0
#endif
#ifndef CLF_OUT_F16
#define CLF_OUT_F16 0
#endif
#ifndef CLF_TABLE_PACKED
#define CLF_TABLE_PACKED 0
#endif
#ifndef CLF_POS_KIND
#define CLF_POS_KIND (-1) /* -1: the position kind is the run-time argument */
#endif

#if CLF_TABLE_Q8
typedef char table_t;
#define LOAD_TABLE(p, i) convert_float((p)[i])
#elif CLF_TABLE_F16
typedef half table_t;
#define LOAD_TABLE(p, i) CLF_LOAD_F16(p, i)
#else
typedef float table_t;
#define LOAD_TABLE(p, i) CLF_LOAD_F32(p, i)
#endif
#if CLF_POS_F16
typedef half pos_t;
#define LOAD_POS(p, i) CLF_LOAD_F16(p, i)
#else
typedef float pos_t;
#define LOAD_POS(p, i) CLF_LOAD_F32(p, i)
#endif
#if CLF_OUT_F16
typedef half out_t;
#define STORE_OUT(p, i, v) CLF_STORE_F16(p, i, v)
#else
typedef float out_t;
#define STORE_OUT(p, i, v) CLF_STORE_F32(p, i, v)
#endif

/* Values of the position kinds; the host's clf_pos_type. */
#define POS_NONE 0
#define POS_LEARNED 1
#define POS_SINUSOIDAL 2
#define POS_SINUSOIDAL_CONCAT 3

/*
 * Column d of the sinusoidal encoding of position pos in a width-D model.
 *   POS_SINUSOIDAL (Vaswani et al.): column d uses frequency index i = d / 2;
 *     sin at even d, cos at odd d.
 *   POS_SINUSOIDAL_CONCAT (HF MarianSinusoidalPositionalEmbedding): with
 *     h = ceil(D / 2), columns d < h are sin with i = d, columns d >= h are
 *     cos with i = d - h.
 * Both: angle = pos / 10000^(2 i / D).
 * In f32: the angle has a relative error of a few ulp (the frequency's pow,
 * and the product), so its absolute error grows like pos * 1e-7; that is the
 * same as computing the table in f32 on the host (fairseq does).
 */
float clf_sinusoid(const int type, const long pos, const int d, const int D)
{
    int i;
    bool use_cos;
    if (type == POS_SINUSOIDAL) {
        i = d >> 1;
        use_cos = (d & 1) != 0;
    } else {
        const int h = (D + 1) / 2;
        use_cos = d >= h;
        i = use_cos ? d - h : d;
    }
    const float inv_freq = pow(10000.0f, -(float)(2 * i) / (float)D);
    const float angle = (float)pos * inv_freq;
    return use_cos ? cos(angle) : sin(angle);
}

/*
 * embedding: out[b, s, d] = scale * table[ids[b, s], d] + pos(p, d) with
 * p = pos_offset + s, plus rpos[b] when has_rpos (per-row positions: rows of
 * a continuous batch each at their own position; rpos (B) i32 at r_off with
 * stride r_s, a valid buffer even when unused).
 * Launch: 2-D, global = (D rounded up to the local size, B * S), local =
 * (L, 1) with any L. One work-item writes one element; the row (token) is
 * get_global_id(1) = b * S + s.
 * An id outside [0, V) is never read: its whole output row is zeros and the
 * work-item of column 0 raises CLF__DEVERR_TOKEN_RANGE (code 1) with the id,
 * the flat position b * S + s and V.
 * A position p outside [0, P) (P: rows of a learned table; for sinusoids
 * only p < 0) is never read: the row is zeros and the work-item of column 0
 * raises CLF__DEVERR_POS_RANGE (code 2) with p, the row b and P. Without
 * per-row positions the host has already checked the range.
 * Preconditions: every view is inside its buffer (checked on the host);
 * pos must be a valid buffer even when unused.
 */
#if !defined(CLF_EMBED_ONLY) || CLF_EMBED_ONLY == 1 /* embedding */
__kernel void embedding(__global const table_t *table, const ulong t_off, const long t_rs,
                        const long t_cs, __global const int *ids, const ulong i_off,
                        const long i_bs, const long i_ss, __global out_t *out, const ulong o_off,
                        const long o_bs, const long o_ss, const long o_ds,
                        __global const pos_t *pos, const ulong p_off, const long p_rs,
                        const long p_cs, const int V, const int D, const int S, const int B,
                        const float scale, const int pos_type, const long pos_offset,
                        __global int *err, __global const int *rpos, const ulong r_off,
                        const long r_s, const int has_rpos, const long P)
{
    const int d = get_global_id(0);
    const int row = get_global_id(1);
    if (d >= D || row >= B * S) return; /* no barrier in this kernel */
    const int b = row / S, s = row - b * S;
    const int id = ids[(long)i_off + b * i_bs + s * i_ss];
    const long o = (long)o_off + b * o_bs + s * o_ss + d * o_ds;
    if (id < 0 || id >= V) {
        STORE_OUT(out, o, 0.0f);
        if (d == 0) clf_raise(err, 1, id, row, V);
        return;
    }
    const long p = pos_offset + s + (has_rpos ? (long)rpos[(long)r_off + b * r_s] : 0);
    if (pos_type != POS_NONE && (p < 0 || (pos_type == POS_LEARNED && p >= P))) {
        STORE_OUT(out, o, 0.0f);
        if (d == 0) clf_raise(err, 2, (int)clamp(p, (long)INT_MIN, (long)INT_MAX), b, (int)P);
        return;
    }
    float v = scale * LOAD_TABLE(table, (long)t_off + id * t_rs + d * t_cs);
    if (pos_type == POS_LEARNED)
        v += LOAD_POS(pos, (long)p_off + p * p_rs + d * p_cs);
    else if (pos_type != POS_NONE)
        v += clf_sinusoid(pos_type, p, d, D);
    STORE_OUT(out, o, v);
}
#endif

/*
 * positional_encoding: out[s, d] = clf_sinusoid(type, offset + s, d, D).
 * Launch: 2-D, global = (D rounded up to the local size, S), local = (L, 1).
 * One work-item writes one element. type is POS_SINUSOIDAL or
 * POS_SINUSOIDAL_CONCAT (checked on the host).
 */
#if !defined(CLF_EMBED_ONLY) || CLF_EMBED_ONLY == 2 /* positional_encoding */
__kernel void positional_encoding(__global out_t *out, const ulong o_off, const long o_ss,
                                  const long o_ds, const int S, const int D, const int type,
                                  const long offset)
{
    const int d = get_global_id(0);
    const int s = get_global_id(1);
    if (d >= D || s >= S) return;
    STORE_OUT(out, (long)o_off + s * o_ss + d * o_ds, clf_sinusoid(type, offset + s, d, D));
}
#endif

#if CLF_TABLE_Q8
#define LOAD_TABLE8(p, i) convert_float8(vload8(0, (p) + (i)))
#elif CLF_TABLE_F16
#define LOAD_TABLE8(p, i) clf_load_half8((p) + (i))
#else
#define LOAD_TABLE8(p, i) vload8(0, (p) + (i))
#endif
#if CLF_POS_F16
#define LOAD_POS8(p, i) clf_load_half8((p) + (i))
#else
#define LOAD_POS8(p, i) vload8(0, (p) + (i))
#endif
#if CLF_OUT_F16
#define STORE_OUT8(p, i, v) clf_store_half8((v), (p) + (i))
#else
#define STORE_OUT8(p, i, v) vstore8((v), 0, (p) + (i))
#endif

/* 2^x for float8, x in [-126, 0] (the frequencies): x = n + f with
 * |f| <= 1/2, 2^f = e^(f ln 2) by the Cephes expf polynomial, n into the
 * exponent bits. About 1 ulp; plain FMAs, which PoCL vectorises (its library
 * exp2 on vectors is slow). */
float8 emb_exp2_8(const float8 x)
{
    const float8 n = rint(x);
    const float8 r = (x - n) * 0.693147180559945309f;
    float8 p = fma(r, (float8)1.9875691500e-4f, (float8)1.3981999507e-3f);
    p = fma(p, r, (float8)8.3334519073e-3f);
    p = fma(p, r, (float8)4.1665795894e-2f);
    p = fma(p, r, (float8)1.6666665459e-1f);
    p = fma(p, r, (float8)5.0000001201e-1f);
    p = fma(p, r * r, r + 1.0f);
    return p * as_float8((convert_int8(n) + 127) << 23);
}

/* sin(a) in the lanes where is_cos is 0 and cos(a) where it is -1 (a >= 0,
 * up to a few 10^5). Cody-Waite reduction a = k pi/2 + r with pi/2 in three
 * parts and fma (r is good to about 1e-11 absolute for a < 10^5), Cephes
 * sinf/cosf polynomials on |r| <= pi/4, and the quadrant k (plus one for cos:
 * cos a = sin(a + pi/2)) picks the polynomial and the sign. About 1 ulp of
 * the result plus the reduction; plain FMAs and selects, which PoCL
 * vectorises. */
float8 emb_sincos8(const float8 a, const int8 is_cos)
{
    const float8 k = rint(a * 0.636619772367581343f);
    float8 r = fma(k, (float8)-1.57079637050628662109375f, a);
    r = fma(k, (float8)4.37113882867379e-08f, r);
    r = fma(k, (float8)1.7151245100059164e-15f, r);
    const float8 z = r * r;
    float8 sp = fma(z, (float8)-1.9515295891e-4f, (float8)8.3321608736e-3f);
    sp = fma(sp, z, (float8)-1.6666654611e-1f);
    const float8 sr = fma(sp * z, r, r);
    float8 cp = fma(z, (float8)2.443315711809948e-5f, (float8)-1.388731625493765e-3f);
    cp = fma(cp, z, (float8)4.166664568298827e-2f);
    const float8 cr = fma(cp * z, z, fma(-0.5f, z, (float8)1.0f));
    const int8 q = convert_int8(k) - is_cos; /* is_cos is -1 in a cos lane */
    const float8 v = select(sr, cr, (q & 1) != 0);
    return select(v, -v, (q & 2) != 0);
}

/*
 * Columns d .. d + 7 (all < D) of the sinusoidal encoding of position pos,
 * as clf_sinusoid but 8 at a time, with the frequency as exp2(i freq_k),
 * freq_k = -2 log2(10000) / D rounded once on the host: its relative error
 * (two roundings, then exp2) stays below 0.6 |a| 2^a 1.2e-7 with
 * a = i freq_k, that is below 5e-8 whatever i, so the angle's absolute error
 * is below pos * 1e-7, inside the documented bound.
 */
float8 emb_sinusoid8(const int type, const long pos, const int d, const int D,
                     const float freq_k)
{
    const int8 dv = (int8)(d) + (int8)(0, 1, 2, 3, 4, 5, 6, 7);
    int8 i, is_cos;
    if (type == POS_SINUSOIDAL) {
        i = dv >> 1;
        is_cos = -(dv & 1);
    } else {
        const int h = (D + 1) / 2;
        is_cos = dv >= h;
        i = select(dv, dv - h, is_cos);
    }
    const float8 ang = (float)pos * emb_exp2_8(convert_float8(i) * freq_k);
    return emb_sincos8(ang, is_cos);
}

/*
 * embedding_vec: as embedding, for unit column strides on the table, out and
 * a learned position table (the host checks), 8 columns per work-item.
 * Launch: 2-D, global = (ceil(D / 8) rounded up to the local size, B * S),
 * local = (L, 1). Work-item (i, row) writes columns [8i, 8i + 8) of the row;
 * the last one of a row takes the remainder one column at a time.
 */
#if !defined(CLF_EMBED_ONLY) || CLF_EMBED_ONLY == 3 /* embedding_vec */
__kernel void embedding_vec(__global const table_t *table, const ulong t_off, const long t_rs,
                            __global const int *ids, const ulong i_off, const long i_bs,
                            const long i_ss, __global out_t *out, const ulong o_off,
                            const long o_bs, const long o_ss, __global const pos_t *pos,
                            const ulong p_off, const long p_rs, const int V, const int D,
                            const int S, const int B, const float scale, const int pos_type,
                            const long pos_offset, const float freq_k, __global int *err,
                            __global const int *rpos, const ulong r_off, const long r_s,
                            const int has_rpos, const long P,
                            const ulong t_scales, const int pk_n, const int pk_v,
                            const long pk_kp)
{
    const int d = get_global_id(0) * 8;
    const int row = get_global_id(1);
    if (d >= D || row >= B * S) return; /* no barrier in this kernel */
#if CLF_POS_KIND >= 0
    const int pos_kind = CLF_POS_KIND;
#else
    const int pos_kind = pos_type;
#endif
    const int b = row / S, s = row - b * S;
    const int id = ids[(long)i_off + b * i_bs + s * i_ss];
    __global out_t *o = out + (long)o_off + b * o_bs + s * o_ss;
    const int full = d + 8 <= D;
    if (id < 0 || id >= V) {
        if (full)
            STORE_OUT8(o, d, (float8)0.0f);
        else
            for (int c = d; c < D; c++) STORE_OUT(o, c, 0.0f);
        if (d == 0) clf_raise(err, 1, id, row, V);
        return;
    }
    const long p = pos_offset + s + (has_rpos ? (long)rpos[(long)r_off + b * r_s] : 0);
    /* Outside the positions: before the first, or past a learned table. Two ifs, not one
     * condition: pos_kind is a build constant where CLF_POS_KIND >= 0, and clang warns of
     * a logical operator with a constant operand ("1 warning generated." on stderr). */
    bool bad_pos = false;
    if (pos_kind == POS_LEARNED)
        bad_pos = p < 0 || p >= P;
    else if (pos_kind != POS_NONE)
        bad_pos = p < 0;
    if (bad_pos) {
        if (full)
            STORE_OUT8(o, d, (float8)0.0f);
        else
            for (int c = d; c < D; c++) STORE_OUT(o, c, 0.0f);
        if (d == 0) clf_raise(err, 2, (int)clamp(p, (long)INT_MIN, (long)INT_MAX), b, (int)P);
        return;
    }
#if CLF_TABLE_PACKED
    /* Row id's column c in the panel layout (t_off is 0: a packed table is
     * taken whole): pk_v consecutive columns, then the next k-step. A Q8
     * table's codes are so placed, times the row's scale. */
    const __global table_t *t = table + (long)(id / pk_n) * pk_kp * pk_n + (id % pk_n) * pk_v;
#define PACKED_AT(c) (((long)(c) / pk_v) * (pk_n * pk_v) + (c) % pk_v)
#if CLF_TABLE_Q8
    const float rs = ((__global const float *)table)[t_scales + id];
#define LOAD_ROW(t, c) (LOAD_TABLE(t, PACKED_AT(c)) * rs)
#else
#define LOAD_ROW(t, c) LOAD_TABLE(t, PACKED_AT(c))
#endif
#define LOAD_ROW8(t, d)                                                                         \
    (float8)(LOAD_ROW(t, d), LOAD_ROW(t, d + 1), LOAD_ROW(t, d + 2), LOAD_ROW(t, d + 3),         \
             LOAD_ROW(t, d + 4), LOAD_ROW(t, d + 5), LOAD_ROW(t, d + 6), LOAD_ROW(t, d + 7))
#else
    const __global table_t *t = table + (long)t_off + id * t_rs;
#if CLF_TABLE_Q8
    /* code * row scale, then times scale: the dequantised value, then scaled. */
    const float rs = ((__global const float *)table)[t_scales + id];
#define LOAD_ROW8(t, d) (LOAD_TABLE8(t, d) * rs)
#define LOAD_ROW(t, c) (LOAD_TABLE(t, c) * rs)
#else
#define LOAD_ROW8(t, d) LOAD_TABLE8(t, d)
#define LOAD_ROW(t, c) LOAD_TABLE(t, c)
#endif
#endif
    if (full) {
        float8 v = scale * LOAD_ROW8(t, d);
        if (pos_kind == POS_LEARNED)
            v += LOAD_POS8(pos + (long)p_off + p * p_rs, d);
        else if (pos_kind != POS_NONE)
            v += emb_sinusoid8(pos_kind, p, d, D, freq_k);
        STORE_OUT8(o, d, v);
    } else {
        for (int c = d; c < D; c++) {
            float v = scale * LOAD_ROW(t, c);
            if (pos_kind == POS_LEARNED)
                v += LOAD_POS(pos, (long)p_off + p * p_rs + c);
            else if (pos_kind != POS_NONE)
                v += clf_sinusoid(pos_kind, p, c, D);
            STORE_OUT(o, c, v);
        }
    }
}
#endif

/*
 * positional_encoding_vec: as positional_encoding, for a unit column stride,
 * 8 columns per work-item. Launch: as embedding_vec with S rows.
 */
#if !defined(CLF_EMBED_ONLY) || CLF_EMBED_ONLY == 4 /* positional_encoding_vec */
__kernel void positional_encoding_vec(__global out_t *out, const ulong o_off, const long o_ss,
                                      const int S, const int D, const int type,
                                      const long offset, const float freq_k)
{
    const int d = get_global_id(0) * 8;
    const int s = get_global_id(1);
    if (d >= D || s >= S) return;
    __global out_t *o = out + (long)o_off + s * o_ss;
    if (d + 8 <= D)
        STORE_OUT8(o, d, emb_sinusoid8(type, offset + s, d, D, freq_k));
    else
        for (int c = d; c < D; c++) STORE_OUT(o, c, clf_sinusoid(type, offset + s, c, D));
}
#endif
