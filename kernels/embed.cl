/*
 * Token embeddings (gather rows of a table, scale, add positions) and the
 * sinusoidal position table.
 *
 * Build options (all optional, default 0 = f32 storage):
 *   CLF_TABLE_F16  the token table is stored as f16
 *   CLF_POS_F16    the learned position table is stored as f16
 *   CLF_OUT_F16    the output is stored as f16
 * Needs no extension (f16 through vload_half / vstore_half_rte).
 */
#ifndef CLF_TABLE_F16
#define CLF_TABLE_F16 0
#endif
#ifndef CLF_POS_F16
#define CLF_POS_F16 0
#endif
#ifndef CLF_OUT_F16
#define CLF_OUT_F16 0
#endif

#if CLF_TABLE_F16
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
 * embedding: out[b, s, d] = scale * table[ids[b, s], d] + pos(pos_offset + s, d).
 * Launch: 2-D, global = (D rounded up to the local size, B * S), local =
 * (L, 1) with any L. One work-item writes one element; the row (token) is
 * get_global_id(1) = b * S + s.
 * An id outside [0, V) is never read: its whole output row is zeros and the
 * work-item of column 0 raises CLF__DEVERR_TOKEN_RANGE (code 1) with the id,
 * the flat position b * S + s and V.
 * Preconditions: every view is inside its buffer (checked on the host);
 * for POS_LEARNED, pos_offset + S <= rows of pos (checked on the host);
 * pos must be a valid buffer even when unused.
 */
__kernel void embedding(__global const table_t *table, const ulong t_off, const long t_rs,
                        const long t_cs, __global const int *ids, const ulong i_off,
                        const long i_bs, const long i_ss, __global out_t *out, const ulong o_off,
                        const long o_bs, const long o_ss, const long o_ds,
                        __global const pos_t *pos, const ulong p_off, const long p_rs,
                        const long p_cs, const int V, const int D, const int S, const int B,
                        const float scale, const int pos_type, const long pos_offset,
                        __global int *err)
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
    float v = scale * LOAD_TABLE(table, (long)t_off + id * t_rs + d * t_cs);
    const long p = pos_offset + s;
    if (pos_type == POS_LEARNED)
        v += LOAD_POS(pos, (long)p_off + p * p_rs + d * p_cs);
    else if (pos_type != POS_NONE)
        v += clf_sinusoid(pos_type, p, d, D);
    STORE_OUT(out, o, v);
}

/*
 * positional_encoding: out[s, d] = clf_sinusoid(type, offset + s, d, D).
 * Launch: 2-D, global = (D rounded up to the local size, S), local = (L, 1).
 * One work-item writes one element. type is POS_SINUSOIDAL or
 * POS_SINUSOIDAL_CONCAT (checked on the host).
 */
__kernel void positional_encoding(__global out_t *out, const ulong o_off, const long o_ss,
                                  const long o_ds, const int S, const int D, const int type,
                                  const long offset)
{
    const int d = get_global_id(0);
    const int s = get_global_id(1);
    if (d >= D || s >= S) return;
    STORE_OUT(out, (long)o_off + s * o_ss + d * o_ds, clf_sinusoid(type, offset + s, d, D));
}
