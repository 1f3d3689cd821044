/*
 * Graph builders of the model stacks: the encoder (B, S symbolic), the
 * decoder step for a fixed batch b (S = new tokens, T = cached length after
 * the step) and the cross-attention K/V graph of an encoder-decoder.
 *
 * Layer forms (nn.TransformerEncoderLayer / DecoderLayer):
 *   post-LN: x = norm1(x + SA(x)); [x = norm2(x + CA(x, mem));] x = normN(x + FFN(x))
 *   pre-LN:  x = x + SA(norm1(x)); [x = x + CA(norm2(x), mem);] x = x + FFN(normN(x))
 * The pre-LN residual adds are fused into the next norm (its residual input
 * with sum_out), so the stream costs no separate add kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "model/model_internal.h"
#include "runtime/runtime.h" /* clf__tensor_slice */

static clf_dim K(int64_t c) { return clf_dim_const(c); }
static clf_dim SYM(clf_sym s) { return clf_dim_sym(1, s); }

/* Builder state for one graph. */
typedef struct sb {
    const clf_model *m; /* the weights (read only) */
    clf_context *ctx;   /* the context the graph runs on (a state's) */
    clf_graph *g;
    clf_dim rows;  /* rows of the flattened stream: B*S (encoder) or b*S (decoder) */
    clf_dim batch; /* B or b */
    clf_dim seq;   /* S */
    int32_t row_pos; /* 0, or a (b) i32 input: per-row positions (continuous batching) */
    int32_t tok_rows; /* 0, or a (b) i32 input: the cache row of each row (a token step) */
    int32_t pk_tok, pk_untok; /* 0, or padding removal's indices (clf__use e_tok, e_untok):
                               * the stream holds the real tokens only */
} sb;

/* Rows idx of x (a gather: x as an embedding table). */
static clf_status gather(sb *s, int32_t x, int32_t idx, int32_t *y)
{
    return clf_graph_embedding(s->g, x, idx, NULL, y);
}

static clf_status wt(sb *s, const clf_tensor *t, int32_t *id)
{
    *id = 0;
    if (!t->buffer) return CLF_OK;
    return clf_graph_weight(s->g, NULL, t, id);
}

/* y = x W^T + b (b may be an empty tensor). */
static clf_status linear(sb *s, int32_t x, const clf_tensor *w, const clf_tensor *b, clf_act act,
                         int32_t *y)
{
    clf_graph_gemm_params p;
    memset(&p, 0, sizeof p);
    p.trans_b = true;
    p.act = act;
    int32_t wid;
    CLF_TRY(wt(s, w, &wid));
    CLF_TRY(wt(s, b, &p.bias));
    return clf_graph_gemm(s->g, x, wid, &p, y);
}

static clf_status norm(sb *s, int32_t x, int32_t residual, const clf_tensor *gamma,
                       const clf_tensor *beta, int32_t *y, int32_t *sum)
{
    clf_graph_norm_params p;
    memset(&p, 0, sizeof p);
    p.type = s->m->cfg.norm_type;
    p.eps = s->m->cfg.eps;
    p.residual = residual;
    p.sum_out = sum != NULL;
    int32_t g, b;
    CLF_TRY(wt(s, gamma, &g));
    CLF_TRY(wt(s, beta, &b));
    return clf_graph_norm(s->g, x, g, b, &p, y, sum);
}

/* (rows, n*D) -> (batch, len, n*H, Dh) view. */
static clf_status heads(sb *s, int32_t x, clf_dim len, int n, int32_t *out)
{
    const clf_model_config *c = &s->m->cfg;
    clf_dim sh[4] = {s->batch, len, K((int64_t)n * c->n_heads), K(s->m->head_dim)};
    return clf_graph_reshape(s->g, x, 4, sh, out);
}

/* Attention output (batch, S, H, Dh) -> out projection (rows, D). */
static clf_status attn_out(sb *s, int32_t o, const clf__attn_w *w, int32_t *y)
{
    clf_dim flat[2] = {s->rows, K(s->m->cfg.d_model)};
    int32_t o2;
    CLF_TRY(clf_graph_reshape(s->g, o, 2, flat, &o2));
    if (s->pk_tok) CLF_TRY(gather(s, o2, s->pk_tok, &o2)); /* (B*S, D) -> (T, D) */
    return linear(s, o2, &w->w_out, &w->b_out, CLF_ACT_NONE, y);
}

/* Self-attention on x (rows, D). With caches (decoder): K/V appended to the
 * states at the run position, attention over [0, T), through the cache-row
 * table `rows` (b, T) when it is not 0 (beam search's cache indirection). */
static clf_status self_attn(sb *s, int32_t x, const clf__attn_w *w, bool causal, int32_t key_lens,
                            int32_t kc, int32_t vc, int32_t rows, int32_t *y)
{
    const clf_model_config *c = &s->m->cfg;
    int32_t qkv, q4, q, k, v, o;
    CLF_TRY(linear(s, x, &w->w_in, &w->b_in, CLF_ACT_NONE, &qkv));
    if (s->pk_untok) CLF_TRY(gather(s, qkv, s->pk_untok, &qkv)); /* (T, 3D) -> (B*S, 3D) */
    CLF_TRY(heads(s, qkv, s->seq, 3, &q4));
    int64_t H = c->n_heads;
    CLF_TRY(clf_graph_slice(s->g, q4, 2, 0, K(H), &q));
    CLF_TRY(clf_graph_slice(s->g, q4, 2, H, K(H), &k));
    CLF_TRY(clf_graph_slice(s->g, q4, 2, 2 * H, K(H), &v));
    if (kc && s->row_pos) { /* each row at its own position (and cache row) */
        CLF_TRY(clf_graph_kv_append_at(s->g, kc, s->tok_rows, s->row_pos, k));
        CLF_TRY(clf_graph_kv_append_at(s->g, vc, s->tok_rows, s->row_pos, v));
    } else if (kc) {
        CLF_TRY(clf_graph_kv_append(s->g, kc, k, 0, true));
        CLF_TRY(clf_graph_kv_append(s->g, vc, v, 0, true));
    }
    if (kc) {
        CLF_TRY(clf_graph_slice(s->g, kc, 1, 0, SYM(CLF_SYM_T), &k));
        CLF_TRY(clf_graph_slice(s->g, vc, 1, 0, SYM(CLF_SYM_T), &v));
    }
    clf_graph_attention_params ap;
    memset(&ap, 0, sizeof ap);
    ap.causal = causal;
    ap.key_lens = key_lens;
    ap.cache_rows = rows;
    CLF_TRY(clf_graph_attention(s->g, q, k, v, &ap, &o));
    return attn_out(s, o, w, y);
}

/* Cross-attention of x (rows, D) on the K/V states (b, max_src, H, Dh),
 * keys >= src_lens[b] masked. Q uses rows [0, D) of in_proj. */
static clf_status cross_attn(sb *s, int32_t x, const clf__attn_w *w, int32_t src_lens, int32_t kc,
                             int32_t vc, int32_t *y)
{
    int64_t D = s->m->cfg.d_model;
    clf_tensor wq, bq;
    memset(&bq, 0, sizeof bq);
    CLF_TRY(clf__tensor_slice(s->ctx, &w->w_in, 0, 0, D, &wq));
    if (w->b_in.buffer) CLF_TRY(clf__tensor_slice(s->ctx, &w->b_in, 0, 0, D, &bq));
    int32_t q, q4, o;
    CLF_TRY(linear(s, x, &wq, &bq, CLF_ACT_NONE, &q));
    CLF_TRY(heads(s, q, s->seq, 1, &q4));
    clf_graph_attention_params ap;
    memset(&ap, 0, sizeof ap);
    ap.key_lens = src_lens;
    CLF_TRY(clf_graph_attention(s->g, q4, kc, vc, &ap, &o));
    return attn_out(s, o, w, y);
}

static clf_status ffn(sb *s, int32_t x, const clf__layer_w *w, int32_t *y)
{
    int32_t h;
    CLF_TRY(linear(s, x, &w->w1, &w->b1, s->m->cfg.activation, &h));
    return linear(s, h, &w->w2, &w->b2, CLF_ACT_NONE, y);
}

/* Per-layer cache ids for a decoder layer: self K/V and cross K/V states,
 * and the cache-row table (0 = none). */
typedef struct layer_io {
    int32_t kc, vc, xk, xv, rows;
} layer_io;

/*
 * One layer on the stream. Post-LN: *x is the normalised stream. Pre-LN: the
 * stream is held as (*x = last sublayer output, *res = stream before it) and
 * x + res is only formed inside the next norm, which is also where the first
 * layer's pending pair is (emb, 0).
 */
static clf_status layer(sb *s, const clf__layer_w *w, bool causal, int32_t key_lens,
                        int32_t src_lens, const layer_io *io, int32_t *x, int32_t *res)
{
    const clf_model_config *c = &s->m->cfg;
    bool cross = io && io->xk;
    int nf = cross ? 2 : 1; /* index of the FFN's norm */
    int32_t a, h, sum;
    if (!c->norm_first) {
        CLF_TRY(self_attn(s, *x, &w->sa, causal, key_lens, io ? io->kc : 0, io ? io->vc : 0,
                          io ? io->rows : 0, &a));
        CLF_TRY(norm(s, a, *x, &w->ng[0], &w->nb[0], &h, NULL));
        if (cross) {
            CLF_TRY(cross_attn(s, h, &w->ca, src_lens, io->xk, io->xv, &a));
            CLF_TRY(norm(s, a, h, &w->ng[1], &w->nb[1], &h, NULL));
        }
        CLF_TRY(ffn(s, h, w, &a));
        return norm(s, a, h, &w->ng[nf], &w->nb[nf], x, NULL);
    }
    /* Pre-LN. */
    if (*res)
        CLF_TRY(norm(s, *x, *res, &w->ng[0], &w->nb[0], &h, &sum));
    else {
        CLF_TRY(norm(s, *x, 0, &w->ng[0], &w->nb[0], &h, NULL));
        sum = *x;
    }
    CLF_TRY(self_attn(s, h, &w->sa, causal, key_lens, io ? io->kc : 0, io ? io->vc : 0,
                      io ? io->rows : 0, &a));
    if (cross) {
        CLF_TRY(norm(s, a, sum, &w->ng[1], &w->nb[1], &h, &sum));
        CLF_TRY(cross_attn(s, h, &w->ca, src_lens, io->xk, io->xv, &a));
    }
    CLF_TRY(norm(s, a, sum, &w->ng[nf], &w->nb[nf], &h, &sum));
    CLF_TRY(ffn(s, h, w, x));
    *res = sum;
    return CLF_OK;
}

/* The end of a stack: final norm (or the pending pre-LN add). */
static clf_status stack_end(sb *s, int32_t x, int32_t res, bool final_norm, const clf_tensor *g,
                            const clf_tensor *b, int32_t *y)
{
    if (final_norm) return norm(s, x, res, g, b, y, NULL);
    if (res) return clf_graph_add(s->g, x, res, y);
    if (s->m->cfg.norm_first) return clf_graph_copy(s->g, x, CLF_F32, y);
    *y = x;
    return CLF_OK;
}

/* Token embedding * scale + positions, then the embedding norm when the
 * config has one (gamma's buffer set). */
static clf_status embed(sb *s, const clf_tensor *table, const clf_tensor *pos,
                        const clf_tensor *gamma, const clf_tensor *beta, int32_t ids,
                        bool run_position, int32_t *x)
{
    const clf_model_config *c = &s->m->cfg;
    clf_graph_embed_params ep;
    memset(&ep, 0, sizeof ep);
    ep.scale = c->embedding_scale;
    ep.positions = c->positions;
    ep.pos_offset = c->position_offset;
    ep.run_position = run_position && !s->row_pos;
    ep.row_positions = s->row_pos;
    int32_t tab, e;
    CLF_TRY(wt(s, table, &tab));
    if (c->positions == CLF_POS_LEARNED) CLF_TRY(wt(s, pos, &ep.pos_table));
    CLF_TRY(clf_graph_embedding(s->g, tab, ids, &ep, &e));
    clf_dim flat[2] = {s->rows, K(c->d_model)};
    CLF_TRY(clf_graph_reshape(s->g, e, 2, flat, x));
    if (!gamma->buffer) return CLF_OK;
    return norm(s, *x, 0, gamma, beta, x, NULL);
}

/* ============================== encoder ============================== */

static clf_status encoder_nodes(clf__use *use, sb *s, bool pack)
{
    const clf_model *m = use->m;
    const clf_model_config *c = &m->cfg;
    clf_dim ids_shape[2] = {s->batch, s->seq}, lens_shape[1] = {s->batch};
    CLF_TRY(clf_graph_input(s->g, "ids", CLF_I32, 2, ids_shape, &use->e_ids));
    CLF_TRY(clf_graph_input(s->g, "lengths", CLF_I32, 1, lens_shape, &use->e_lens));
    int32_t x, res = 0, y;
    CLF_TRY(embed(s, &m->enc_embed, &m->enc_pos, &m->enc_eng, &m->enc_enb, use->e_ids, false, &x));
    if (pack) {
        /* Padding removal: the layers' GEMMs, norms and activations run on the
         * T real tokens; attention scatters Q/K/V to the padded layout and
         * gathers its output back (self_attn, attn_out). */
        clf_dim ts[1] = {SYM(CLF_SYM_T)}, us[1] = {s->rows};
        CLF_TRY(clf_graph_input(s->g, "tok", CLF_I32, 1, ts, &use->e_tok));
        CLF_TRY(clf_graph_input(s->g, "untok", CLF_I32, 1, us, &use->e_untok));
        s->pk_tok = use->e_tok, s->pk_untok = use->e_untok;
        CLF_TRY(gather(s, x, s->pk_tok, &x));
    }
    for (int l = 0; l < c->encoder_layers; l++)
        CLF_TRY(layer(s, &m->enc[l], false, use->e_lens, 0, NULL, &x, &res));
    CLF_TRY(stack_end(s, x, res, c->encoder_final_norm, &m->enc_ng, &m->enc_nb, &y));
    if (pack) CLF_TRY(gather(s, y, s->pk_untok, &y)); /* back to (B*S, D) */
    if (y == use->e_ids || clf_graph_output(s->g, y, "hidden") != CLF_OK) {
        /* A post-LN stack with no layer output of its own cannot happen (a
         * layer always ends in a norm); keep the message explicit anyway. */
        return clf__error(use->ctx, CLF_ERR_INVALID_ARG,
                          "encoder: the stack has no result to output");
    }
    use->e_hidden = y;
    if (c->kind != CLF_MODEL_ENCODER) return CLF_OK;
    /* Pooling as a batched GEMM: pooled (B, 1, D) = w (B, 1, S) hidden (B, S, D),
     * w from the host (a one-hot first token, or 1/len over real tokens). */
    clf_dim wshape[3] = {s->batch, K(1), s->seq}, hs[3] = {s->batch, s->seq, K(c->d_model)};
    int32_t h3, pooled;
    CLF_TRY(clf_graph_input(s->g, "pool_weights", CLF_F32, 3, wshape, &use->e_poolw));
    CLF_TRY(clf_graph_reshape(s->g, y, 3, hs, &h3));
    clf_graph_gemm_params gp;
    memset(&gp, 0, sizeof gp);
    CLF_TRY(clf_graph_gemm(s->g, use->e_poolw, h3, &gp, &pooled));
    if (m->pool_w.buffer) /* BERT's pooler: tanh(dense(pooled)) */
        CLF_TRY(linear(s, pooled, &m->pool_w, &m->pool_b, CLF_ACT_TANH, &pooled));
    CLF_TRY(clf_graph_output(s->g, pooled, "pooled"));
    use->e_pooled = pooled;
    if (m->cls_w.buffer) {
        int32_t cls;
        CLF_TRY(linear(s, pooled, &m->cls_w, &m->cls_b, CLF_ACT_NONE, &cls));
        CLF_TRY(clf_graph_output(s->g, cls, "classes"));
        use->e_classes = cls;
    }
    return CLF_OK;
}

/* Padding removal for the encoder of m: encoder-only models (an
 * encoder-decoder's memory feeds the cross-attention as it is), unless
 * CLFORMER_PACK_TOKENS=0. */
static bool pack_tokens(const clf_model *m)
{
    const char *e = getenv("CLFORMER_PACK_TOKENS");
    return m->cfg.kind == CLF_MODEL_ENCODER && !(e && strcmp(e, "0") == 0);
}

clf_status clf__build_encoder(clf__use *use)
{
    if (use->eg) return CLF_OK;
    bool pack = pack_tokens(use->m);
    clf_graph_params gp = {{use->max_batch, use->max_src, pack ? use->max_batch * use->max_src : 0}};
    CLF_TRY(clf_graph_create(use->ectx, &gp, &use->eg)); /* placement.c */
    sb s = {use->m, use->ectx, use->eg, clf_dim_mul(SYM(CLF_SYM_B), SYM(CLF_SYM_S)),
            SYM(CLF_SYM_B), SYM(CLF_SYM_S), 0, 0, 0, 0};
    use->e_tok = use->e_untok = 0;
    clf_status st = encoder_nodes(use, &s, pack);
    if (st == CLF_OK) st = clf_graph_compile(use->eg);
    if (st != CLF_OK) {
        clf_graph_free(use->eg);
        use->eg = NULL;
    }
    return st;
}

/* ============================== decoder ============================== */

/* The view (b, cap, H, Dh) of slot j of a cache (2L, rows, cap, D). */
static clf_status cache_rows_view(const clf_model *m, const clf_tensor *cache, int j, int64_t rows,
                                  int64_t b, int64_t cap, clf_tensor *out)
{
    int64_t D = m->cfg.d_model, H = m->cfg.n_heads;
    int64_t shape[4] = {b, cap, H, m->head_dim};
    int64_t stride[4] = {cap * D, D, m->head_dim, 1};
    int64_t off = (int64_t)j * rows * cap * D;
    return clf_tensor_view(cache, 4, shape, stride, off, out);
}

clf_status clf__cache_view(const clf__use *use, const clf_tensor *cache, int j, int64_t b,
                           int64_t cap, clf_tensor *out)
{
    return cache_rows_view(use->m, cache, j, use->max_batch, b, cap, out);
}

static clf_status step_nodes(const clf_model *m, sb *s, const clf__step_state *ss, clf__step *st)
{
    const clf_model_config *c = &m->cfg;
    bool cross = c->kind == CLF_MODEL_ENCODER_DECODER;
    clf_dim ids_shape[2] = {s->batch, s->seq};
    CLF_TRY(clf_graph_input(s->g, "ids", CLF_I32, 2, ids_shape, &st->ids));
    if (ss->per_row) { /* positions and key lengths per row (continuous batching) */
        clf_dim ls[1] = {s->batch}, os[1] = {ss->tokens ? SYM(CLF_SYM_S) : s->batch};
        CLF_TRY(clf_graph_input(s->g, "positions", CLF_I32, 1, ls, &st->positions));
        CLF_TRY(clf_graph_input(s->g, "key_lens", CLF_I32, 1, ls, &st->key_lens));
        s->row_pos = st->positions;
        if (ss->tokens) { /* each row a token, on the cache row rows[i] */
            CLF_TRY(clf_graph_input(s->g, "rows", CLF_I32, 1, ls, &st->tok_rows));
            s->tok_rows = st->tok_rows;
        }
        if (ss->last_only) CLF_TRY(clf_graph_input(s->g, "last", CLF_I32, 1, os, &st->last));
    } else if (ss->last_only) { /* row i's last position, i * S + S - 1 */
        clf_dim ls[1] = {s->batch};
        CLF_TRY(clf_graph_input(s->g, "last", CLF_I32, 1, ls, &st->last));
    }
    if (cross) {
        clf_dim ls[1] = {s->batch};
        CLF_TRY(clf_graph_input(s->g, "src_lengths", CLF_I32, 1, ls, &st->src_lens));
    }
    if (st->indirect) {
        clf_dim rs[2] = {s->batch, SYM(CLF_SYM_T)};
        CLF_TRY(clf_graph_input(s->g, "cache_rows", CLF_I32, 2, rs, &st->cache_rows));
    }
    int32_t x, res = 0, y, logits, am;
    CLF_TRY(embed(s, &m->dec_embed, &m->dec_pos, &m->dec_eng, &m->dec_enb, st->ids, true, &x));
    /* A token step reads the whole cache (through cache_rows), else rows
     * [0, b) of it. */
    int64_t vb = ss->tokens ? ss->rows : st->b;
    for (int l = 0; l < c->decoder_layers; l++) {
        layer_io io = {0, 0, 0, 0, st->cache_rows};
        clf_tensor t;
        CLF_TRY(cache_rows_view(m, ss->kv, 2 * l, ss->rows, vb, ss->cap, &t));
        CLF_TRY(clf_graph_state(s->g, "k_cache", &t, &io.kc));
        CLF_TRY(cache_rows_view(m, ss->kv, 2 * l + 1, ss->rows, vb, ss->cap, &t));
        CLF_TRY(clf_graph_state(s->g, "v_cache", &t, &io.vc));
        if (cross) {
            CLF_TRY(cache_rows_view(m, ss->xkv, 2 * l, ss->rows, st->b, ss->xcap, &t));
            CLF_TRY(clf_graph_weight(s->g, "cross_k", &t, &io.xk));
            CLF_TRY(cache_rows_view(m, ss->xkv, 2 * l + 1, ss->rows, st->b, ss->xcap, &t));
            CLF_TRY(clf_graph_weight(s->g, "cross_v", &t, &io.xv));
        }
        CLF_TRY(layer(s, &m->dec[l], true, st->key_lens, st->src_lens, &io, &x, &res));
    }
    if (st->last) { /* x, res (b*S, D) -> (b, D): row i's position last[i] (a gather) */
        CLF_TRY(clf_graph_embedding(s->g, x, st->last, NULL, &x));
        if (res) CLF_TRY(clf_graph_embedding(s->g, res, st->last, NULL, &res));
    }
    CLF_TRY(stack_end(s, x, res, c->decoder_final_norm, &m->dec_ng, &m->dec_nb, &y));
    CLF_TRY(linear(s, y, &m->out_w, &m->out_b, CLF_ACT_NONE, &logits));
    CLF_TRY(clf_graph_output(s->g, logits, "logits"));
    CLF_TRY(clf_graph_argmax(s->g, logits, &am));
    CLF_TRY(clf_graph_output(s->g, am, "argmax"));
    st->logits = logits;
    st->argmax = am;
    return CLF_OK;
}

/* memory (b*S, D) -> K, V of every decoder layer into the cross states. */
static clf_status cross_nodes(clf__use *use, sb *s, clf__step *st)
{
    const clf_model *m = use->m;
    const clf_model_config *c = &m->cfg;
    int64_t D = c->d_model;
    clf_dim ms[2] = {s->rows, K(D)};
    CLF_TRY(clf_graph_input(s->g, "memory", CLF_F32, 2, ms, &st->memory));
    for (int l = 0; l < c->decoder_layers; l++) {
        const clf__attn_w *w = &m->dec[l].ca;
        clf_tensor wkv, bkv, t;
        memset(&bkv, 0, sizeof bkv);
        CLF_TRY(clf__tensor_slice(s->ctx, &w->w_in, 0, D, 2 * D, &wkv));
        if (w->b_in.buffer) CLF_TRY(clf__tensor_slice(s->ctx, &w->b_in, 0, D, 2 * D, &bkv));
        int32_t kv, kv4, k, v, xk, xv;
        CLF_TRY(linear(s, st->memory, &wkv, &bkv, CLF_ACT_NONE, &kv));
        CLF_TRY(heads(s, kv, s->seq, 2, &kv4));
        CLF_TRY(clf_graph_slice(s->g, kv4, 2, 0, K(c->n_heads), &k));
        CLF_TRY(clf_graph_slice(s->g, kv4, 2, c->n_heads, K(c->n_heads), &v));
        CLF_TRY(clf__cache_view(use, &use->xkv, 2 * l, st->b, use->max_src, &t));
        CLF_TRY(clf_graph_state(s->g, "cross_k", &t, &xk));
        CLF_TRY(clf__cache_view(use, &use->xkv, 2 * l + 1, st->b, use->max_src, &t));
        CLF_TRY(clf_graph_state(s->g, "cross_v", &t, &xv));
        CLF_TRY(clf_graph_kv_append(s->g, xk, k, 0, false));
        CLF_TRY(clf_graph_kv_append(s->g, xv, v, 0, false));
    }
    return CLF_OK;
}

clf_status clf__build_step_graph(const clf_model *m, const clf__step_state *ss, clf__step *st)
{
    clf_context *ctx = ss->ctx ? ss->ctx : m->ctx;
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER && !ss->xkv)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "step graph: no cross K/V states");
    if (ss->tokens) { /* B tokens (symbolic, up to ss->tokens), S = 1; S = outputs */
        if (!ss->per_row || !ss->last_only || m->cfg.kind == CLF_MODEL_ENCODER_DECODER)
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "step graph: a token step is per-row, "
                                                        "last-only and decoder-only");
        st->indirect = true;
        clf_graph_params gp = {{ss->tokens, ss->rows, ss->cap}};
        CLF_TRY(clf_graph_create(ctx, &gp, &st->g));
        sb s = {m, ctx, st->g, SYM(CLF_SYM_B), SYM(CLF_SYM_B), K(1), 0, 0, 0, 0};
        CLF_TRY(step_nodes(m, &s, ss, st));
        return clf_graph_compile(st->g);
    }
    clf_dim b = K(st->b);
    clf_graph_params gp = {{0, ss->max_s, ss->cap}};
    CLF_TRY(clf_graph_create(ctx, &gp, &st->g));
    sb s = {m, ctx, st->g, clf_dim_mul(b, SYM(CLF_SYM_S)), b, SYM(CLF_SYM_S), 0, 0, 0, 0};
    CLF_TRY(step_nodes(m, &s, ss, st));
    return clf_graph_compile(st->g);
}

static clf_status build_step(clf__use *use, clf__step *st)
{
    clf_dim b = K(st->b);
    clf__step_state ss = {&use->kv,  use->max_batch, use->max_tgt,  use->max_tgt,  false,
                          use->ctx, &use->xkv,      use->max_src, st->last_only, 0};
    CLF_TRY(clf__build_step_graph(use->m, &ss, st));
    if (use->m->cfg.kind != CLF_MODEL_ENCODER_DECODER) return CLF_OK;
    clf_graph_params cp = {{0, use->max_src, 0}};
    CLF_TRY(clf_graph_create(use->ctx, &cp, &st->cross));
    sb x = {use->m, use->ctx, st->cross, clf_dim_mul(b, SYM(CLF_SYM_S)), b, SYM(CLF_SYM_S), 0, 0, 0, 0};
    CLF_TRY(cross_nodes(use, &x, st));
    return clf_graph_compile(st->cross);
}

clf_status clf__get_step(clf__use *use, int64_t b, bool indirect, bool last_only,
                         clf__step **out)
{
    if (last_only && use->m->cfg.kind != CLF_MODEL_DECODER)
        return clf__error(use->ctx, CLF_ERR_INVALID_ARG,
                          "step graph: last-only steps are for decoder-only models");
    for (int i = 0; i < use->n_steps; i++)
        if (use->steps[i].b == b && use->steps[i].indirect == indirect &&
            use->steps[i].last_only == last_only) {
            use->last_step = i;
            *out = &use->steps[i];
            return CLF_OK;
        }
    if (use->n_steps == CLF__MAX_STEPS) {
        /* Evict the oldest batch size other than the last one used. */
        int v = use->last_step == 0 ? 1 : 0;
        clf_graph_free(use->steps[v].g);
        clf_graph_free(use->steps[v].cross);
        memmove(&use->steps[v], &use->steps[v + 1],
                (size_t)(use->n_steps - v - 1) * sizeof use->steps[0]);
        use->n_steps--;
    }
    clf__step *st = &use->steps[use->n_steps];
    memset(st, 0, sizeof *st);
    st->b = b;
    st->indirect = indirect;
    st->last_only = last_only;
    clf_status s = build_step(use, st);
    if (s != CLF_OK) {
        clf_graph_free(st->g);
        clf_graph_free(st->cross);
        memset(st, 0, sizeof *st);
        return s;
    }
    use->last_step = use->n_steps++;
    *out = st;
    return CLF_OK;
}
