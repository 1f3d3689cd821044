/*
 * Model loading: the config from a safetensors file's __metadata__ (or the
 * caller's), the name map from torch.nn.Transformer-style state_dicts and
 * clformer's own names to the stack's weights, shape checks, and the upload
 * (f32, or f16 for matrices and embeddings).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/hf.h"
#include "model/logits_proc.h"
#include "model/model_config.h"
#include "model/model_internal.h"
#include "runtime/runtime.h" /* the contexts' thread guard */
#include "model/safetensors.h"

clf_model_params clf_model_params_default(void)
{
    clf_model_params p;
    memset(&p, 0, sizeof p);
    return p;
}

clf_generate_params clf_generate_params_default(void)
{
    clf_generate_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* Range checks of clf_generate_params (model.h states each range). A value
 * outside its range used to fall back to the default or be ignored, which
 * hid callers' bugs (a NaN temperature, a negative beam_size reported as
 * "beam_size 4 > max_batch"); now each one is an error naming the field. */
static clf_status check_generate(clf_context *ctx, const clf_model *m, int64_t max_batch,
                                 const clf_generate_params *p)
{
    const char *fn = "clf_model_generate";
    if ((unsigned)p->strategy > CLF_DECODE_SAMPLE)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: strategy %d is not a clf_decode_strategy (0 greedy, 1 beam, "
                          "2 sample)", fn, (int)p->strategy);
    if (p->max_new_tokens < 0 || p->max_new_tokens > INT32_MAX)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: max_new_tokens %lld outside 0..%d (0 = 16)", fn,
                          (long long)p->max_new_tokens, INT32_MAX);
    int64_t K = p->beam_size ? p->beam_size : 4;
    if (p->beam_size < 0 || (p->strategy == CLF_DECODE_BEAM && K > max_batch))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: beam_size %d outside 0..%lld (0 = 4; at most max_batch, given at "
                          "load)", fn, p->beam_size, (long long)max_batch);
    if (!isfinite(p->length_alpha))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: length_alpha %g is not finite", fn,
                          p->length_alpha);
    int64_t new_tokens = p->max_new_tokens ? p->max_new_tokens : 16;
    int64_t most = p->strategy == CLF_DECODE_BEAM ? K * (new_tokens + 1) : 1;
    if (p->n_best < 0 || p->n_best > most)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: n_best %d outside 0..%lld (0 = 1; more than 1 only with beam "
                          "search, at most beam_size * (max_new_tokens + 1))",
                          fn, p->n_best, (long long)most);
    if (!(p->temperature >= 0) || !isfinite(p->temperature))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: temperature %g must be > 0 and finite (0 = 1.0)", fn,
                          (double)p->temperature);
    if (p->top_k < 0)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: top_k %d must be >= 0 (0 = no cut)", fn,
                          p->top_k);
    if (!(p->top_p >= 0 && p->top_p <= 1))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: top_p %g outside (0, 1] (0 = 1.0, no cut)", fn, (double)p->top_p);
    if ((unsigned)p->beam_rule > CLF_BEAM_RULE_HF)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: beam_rule %d is not a clf_beam_rule (0 the model's, 1 clformer, "
                          "2 HF)", fn, (int)p->beam_rule);
    return clf__procs_check(ctx, m->cfg.vocab, p); /* the processors' fields */
}

clf_status clf__check_generate_params(const clf_model *m, const clf_generate_params *p)
{
    return check_generate(m->ctx, m, m->max_batch, p);
}

clf_status clf__use_check_generate(const clf__use *use, const clf_generate_params *p)
{
    return check_generate(use->ctx, use->m, use->max_batch, p);
}

int64_t clf_model_max_new_tokens(const clf_model *m, int64_t prompt_len)
{
    if (!m) return 0;
    if (m->cfg.max_positions <= 0) return INT64_MAX; /* sinusoids without a stated limit */
    return m->cfg.max_positions - m->cfg.position_offset - prompt_len;
}

clf_status clf_model_generate_defaults(const clf_model *m, clf_generate_params *out)
{
    if (!m || !out)
        return clf__error(m ? m->ctx : NULL, CLF_ERR_INVALID_ARG,
                          "clf_model_generate_defaults: NULL model or out");
    *out = m->gen.p; /* gen_config.c: the folder's settings, or the plain defaults */
    return CLF_OK;
}

const clf_model_config *clf_model_get_config(const clf_model *m) { return m ? &m->cfg : NULL; }

const clf_model_info *clf_model_get_info(const clf_model *m) { return m ? &m->info : NULL; }

clf_status clf__model_own(clf_model *m, clf_dtype dtype, int ndim, const int64_t *shape,
                          clf_tensor *out)
{
    if (m->n_owned == m->cap_owned) {
        int cap = m->cap_owned ? 2 * m->cap_owned : 64;
        clf_tensor *t = clf__realloc(m->owned, (size_t)cap * sizeof *t);
        if (!t) return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        m->owned = t;
        m->cap_owned = cap;
    }
    CLF_TRY(clf__tensor_create_weight(m->wctx ? m->wctx : m->ctx, dtype, ndim, shape, out));
    m->owned[m->n_owned++] = *out;
    return CLF_OK;
}

/* Replaces the Linear weight *w (when the context holding it runs the CPU
 * kernel family and w is f32, f16 or Q8) by its packed form
 * (clf_gemm_pack_b): the register kernel then reads each panel as one
 * stream, and the GEMV each work-item's rows of a Q8 weight (interleaved).
 * The model owns the packed tensor in w's place. CLFORMER_PACK=0 keeps
 * every weight plain (for A/B measurements). */
static clf_status pack_weight(clf_model *m, clf_tensor *w)
{
    if (!w->buffer || (w->dtype != CLF_F32 && w->dtype != CLF_F16 && w->dtype != CLF_Q8))
        return CLF_OK;
    clf_context *wc = clf_buffer_context(w->buffer);
    if (wc->kprof.family != CLF_KERNELS_CPU) return CLF_OK;
    const char *env = getenv("CLFORMER_PACK");
    if (env && strcmp(env, "0") == 0) return CLF_OK;
    clf_tensor p;
    CLF_TRY(clf_gemm_pack_b(wc, w, &p));
    for (int i = 0; i < m->n_owned; i++)
        if (m->owned[i].buffer == w->buffer) {
            clf_tensor_free(&m->owned[i]);
            m->owned[i] = p;
            break;
        }
    *w = p;
    return CLF_OK;
}

/* The Linear weights the stacks read whole (stack.c: self-attention in and
 * out, FFN, cross-attention out) and the decoder's output head;
 * cross-attention's in-projection is read in row slices, which a packed
 * tensor does not offer, so it stays plain. A tied head is the decoder's
 * token table too (the same owned tensor): the embedding gathers its rows
 * from the packed copy
 * (clf_embedding reads a packed table), so tying still costs one copy.
 * The head is the largest product of a batched decode step (GPT-2 small:
 * 38.6 M of 124 M weights); packed, 16 concurrent gpt2-small generations
 * (clformer bench --filter batch) ran 12 % faster on PoCL. */
static clf_status pack_weights(clf_model *m)
{
    if (m->out_w.buffer) {
        const clf_buffer *head = m->out_w.buffer;
        bool tied_dec = m->dec_embed.buffer == head, tied_enc = m->enc_embed.buffer == head;
        CLF_TRY(pack_weight(m, &m->out_w));
        if (tied_dec) m->dec_embed = m->out_w;
        if (tied_enc) m->enc_embed = m->out_w;
    }
    const clf_model_config *c = &m->cfg;
    for (int s = 0; s < 2; s++) {
        clf__layer_w *ls = s ? m->dec : m->enc;
        int n = !ls ? 0 : s ? (int)c->decoder_layers : (int)c->encoder_layers;
        for (int l = 0; l < n; l++) {
            CLF_TRY(pack_weight(m, &ls[l].sa.w_in));
            CLF_TRY(pack_weight(m, &ls[l].sa.w_out));
            CLF_TRY(pack_weight(m, &ls[l].w1));
            CLF_TRY(pack_weight(m, &ls[l].w2));
            CLF_TRY(pack_weight(m, &ls[l].ca.w_out));
        }
    }
    return CLF_OK;
}

/* ============================== config ============================== */

/* The source of the weights: a safetensors file, a HuggingFace folder (hf),
 * or (both NULL) random values from seed (clf_model_create_random). */
typedef struct loader {
    clf_model *m;
    const clf__safetensors *st;
    const char *path;
    uint64_t seed;
    clf__hf *hf;
    bool *used; /* (st->n_tensors): read by load_w */
    bool dense; /* loading embeddings or a head: never Q4, Q8 only for an output head */
    bool head;  /* with dense: the table is the output head (lm_head, or a tied embedding) */
} loader;

/* The storage of a matrix being loaded: the model's weight type, but for
 * the embeddings and heads of a Q8 or Q4 model f16, except a decoder's
 * output head (a tied embedding table too), which is Q8 under the same
 * error rule as the layer matrices (model_quant.c): it is the largest
 * matrix a decode step reads (GPT-2 small: 38.6 M of 124 M weights). */
static clf_dtype matrix_dtype(const loader *L)
{
    bool quant = L->m->wdtype == CLF_Q8 || L->m->wdtype == CLF_Q4;
    if (quant && L->dense) return L->head ? CLF_Q8 : CLF_F16;
    return L->m->wdtype;
}

/* ============================== weights ============================== */

/* Finds the first of names[] (NULL-terminated, each formatted with prefix
 * and index) present in the file (or mapped in the HuggingFace folder). */
static bool find_any(loader *L, const char *const *prefixes, const char *fmt_suffix, int layer,
                     char *name, size_t size)
{
    for (int i = 0; prefixes[i]; i++) {
        char suffix[160];
        snprintf(suffix, sizeof suffix, fmt_suffix, layer);
        snprintf(name, size, "%s%s", prefixes[i], suffix);
        if (L->st && clf__st_find(L->st, name)) return true;
        if (L->hf && clf__hf_has(L->hf, name)) return true;
    }
    snprintf(name, size, "%s", prefixes[0]);
    size_t n = strlen(name);
    snprintf(name + n, size - n, fmt_suffix, layer);
    return false;
}

/* A weight tensor of the model: clf__model_own, with a device allocation
 * failure (a weight above the device's largest allocation, or out of device
 * memory) saying which weight it was. */
static clf_status own_weight(clf_model *m, const char *name, clf_dtype dt, int ndim,
                             const int64_t *shape, clf_tensor *out)
{
    clf_status st = clf__model_own(m, dt, ndim, shape, out);
    if (st != CLF_ERR_DEVICE_MEMORY) return st;
    char why[1024], dims[64];
    snprintf(why, sizeof why, "%s", clf_context_last_error(m->wctx ? m->wctx : m->ctx));
    if (ndim == 2) snprintf(dims, sizeof dims, "%lld x %lld", (long long)shape[0], (long long)shape[1]);
    else snprintf(dims, sizeof dims, "%lld", (long long)shape[0]);
    return clf__error(m->ctx, st, "clf_model_load: weight \"%s\" (%s) %s: %s", name, dims,
                      clf_dtype_name(dt), why);
}

/* A Q8 matrix (ndim 2) from host values: quantised, then stored as Q8, or
 * as f16 when its error is above the limit (model_quant.c). */
static clf_status store_q8(clf_model *m, const char *name, const int64_t *shape,
                           const float *host, bool allow_q4, clf_tensor *out)
{
    clf__quant_host q;
    CLF_TRY(clf__model_quant_prepare(m, name, shape[0], shape[1], host, allow_q4, &q));
    clf_status st = own_weight(m, name, q.stored, 2, shape, out);
    if (st == CLF_OK && q.stored == CLF_Q8)
        st = clf_tensor_write_q8(clf_buffer_context(out->buffer), out, q.codes, q.scales);
    else if (st == CLF_OK && q.stored == CLF_Q4)
        st = clf_tensor_write_q4(clf_buffer_context(out->buffer), out, q.codes, q.scales);
    else if (st == CLF_OK)
        st = clf_tensor_write_f32(clf_buffer_context(out->buffer), out, host, shape[0] * shape[1]);
    clf__quant_host_free(&q);
    return st;
}

/* The random weights' load_w: the tensor exists when required; its values
 * are made on the device (no host buffer, no transfer; a Q8 matrix is read
 * back and quantised on the host). */
static clf_status random_w(loader *L, const char *name, int ndim, const int64_t *shape,
                           bool required, clf_tensor *out)
{
    clf_model *m = L->m;
    if (!required) return CLF_OK;
    uint64_t stream;
    float lo, hi;
    clf__random_tensor(L->seed, name, ndim, ndim == 2 ? shape[1] : 0, &stream, &lo, &hi);
    clf_dtype dt = ndim == 2 ? matrix_dtype(L) : CLF_F32;
    if (dt == CLF_Q8 || dt == CLF_Q4) {
        float *host = NULL;
        clf_status st = clf__model_random_host(m, shape, stream, lo, hi, &host);
        if (st == CLF_OK) st = store_q8(m, name, shape, host, dt == CLF_Q4, out);
        clf__free(host);
        return st;
    }
    CLF_TRY(own_weight(m, name, dt, ndim, shape, out));
    return clf_tensor_fill_uniform(clf_buffer_context(out->buffer), out, stream, lo, hi);
}

/* Uploads tensor `want` (ndim dims of shape) found under one of prefixes;
 * matrices use the model's weight dtype. Missing and not required: out stays
 * empty. */
static clf_status load_w(loader *L, const char *const *prefixes, const char *suffix, int layer,
                         int ndim, int64_t d0, int64_t d1, bool required, clf_tensor *out)
{
    clf_model *m = L->m;
    char name[256];
    memset(out, 0, sizeof *out);
    bool found = find_any(L, prefixes, suffix, layer, name, sizeof name);
    int64_t want[2] = {d0, d1};
    if (!L->st && !L->hf) return random_w(L, name, ndim, want, required, out);
    const clf__st_tensor *t = NULL;
    if (found && L->st) t = clf__st_find(L->st, name);
    if (t && L->st) L->used[t - L->st->tensors] = true;
    if (found && L->hf) CLF_TRY(clf__hf_get(L->hf, m->ctx, name, &t));
    /* A HuggingFace folder's messages also give the checkpoint's names. */
    char src[420] = "";
    if (L->hf) snprintf(src, sizeof src, " (checkpoint %s)", clf__hf_source(L->hf, name));
    if (!t) {
        if (!required) return CLF_OK;
        return clf__error(m->ctx, CLF_ERR_BAD_MODEL, "clf_model_load: %s: missing tensor \"%s\"%s",
                          L->path, name,
                          L->hf        ? src
                          : prefixes[1] ? " (or the same under another known prefix)"
                                        : "");
    }
    bool ok = t->n_dims == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == want[d];
    if (!ok) {
        char got[96] = "", exp[64];
        size_t n = 0;
        for (int d = 0; d < t->n_dims && n < sizeof got - 24; d++)
            n += (size_t)snprintf(got + n, sizeof got - n, "%s%lld", d ? ", " : "",
                                  (long long)t->shape[d]);
        if (ndim == 1)
            snprintf(exp, sizeof exp, "(%lld)", (long long)d0);
        else
            snprintf(exp, sizeof exp, "(%lld, %lld)", (long long)d0, (long long)d1);
        return clf__error(m->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: tensor \"%s\"%s has shape (%s), expected %s",
                          L->path, name, src, got, exp);
    }
    if (t->dtype != CLF__ST_F32 && t->dtype != CLF__ST_F16 && t->dtype != CLF__ST_BF16)
        return clf__error(
            m->ctx, CLF_ERR_BAD_MODEL,
            "clf_model_load: %s: tensor \"%s\" has dtype %s (F32, F16 or BF16 expected)", L->path,
            name, clf__st_dtype_name(t->dtype));
    size_t n = (size_t)t->n_elements;
    float *host = clf__malloc(n * sizeof *host);
    if (!host)
        return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory for \"%s\"",
                          name);
    clf_status st = clf__st_tensor_to_f32(t, host);
    /* The reader reports on the thread (it has no context): a file
     * truncated under the load, a failed read. */
    if (st != CLF_OK) clf__error(m->ctx, st, "clf_model_load: %s", clf__thread_error());
    clf_dtype dt = ndim == 2 ? matrix_dtype(L) : CLF_F32;
    if (st == CLF_OK && (dt == CLF_Q8 || dt == CLF_Q4)) {
        st = store_q8(m, name, want, host, dt == CLF_Q4, out);
    } else {
        if (st == CLF_OK) st = own_weight(m, name, dt, ndim, want, out);
        if (st == CLF_OK)
            st = clf_tensor_write_f32(clf_buffer_context(out->buffer), out, host, (int64_t)n);
    }
    clf__free(host);
    if (L->hf) clf__hf_release(L->hf, name);
    return st;
}

/* load_w for an embedding table or a head (never Q8: model.h). */
static clf_status load_dense(loader *L, const char *const *prefixes, const char *suffix, int layer,
                             int ndim, int64_t d0, int64_t d1, bool required, clf_tensor *out)
{
    L->dense = true;
    clf_status st = load_w(L, prefixes, suffix, layer, ndim, d0, d1, required, out);
    L->dense = false;
    return st;
}

static clf_status load_attn(loader *L, const char *const *pre, const char *which, int l,
                            clf__attn_w *a)
{
    const clf_model_config *c = &L->m->cfg;
    int64_t D = c->d_model;
    char s[96];
    snprintf(s, sizeof s, "layers.%%d.%s.in_proj_weight", which);
    CLF_TRY(load_w(L, pre, s, l, 2, 3 * D, D, true, &a->w_in));
    snprintf(s, sizeof s, "layers.%%d.%s.in_proj_bias", which);
    CLF_TRY(load_w(L, pre, s, l, 1, 3 * D, 0, c->attn_bias, &a->b_in));
    snprintf(s, sizeof s, "layers.%%d.%s.out_proj.weight", which);
    CLF_TRY(load_w(L, pre, s, l, 2, D, D, true, &a->w_out));
    snprintf(s, sizeof s, "layers.%%d.%s.out_proj.bias", which);
    return load_w(L, pre, s, l, 1, D, 0, c->attn_bias, &a->b_out);
}

static clf_status load_layer(loader *L, const char *const *pre, int l, bool cross, clf__layer_w *w)
{
    const clf_model_config *c = &L->m->cfg;
    int64_t D = c->d_model, F = c->d_ff;
    CLF_TRY(load_attn(L, pre, "self_attn", l, &w->sa));
    if (cross) CLF_TRY(load_attn(L, pre, "multihead_attn", l, &w->ca));
    CLF_TRY(load_w(L, pre, "layers.%d.linear1.weight", l, 2, F, D, true, &w->w1));
    CLF_TRY(load_w(L, pre, "layers.%d.linear1.bias", l, 1, F, 0, c->ffn_bias, &w->b1));
    CLF_TRY(load_w(L, pre, "layers.%d.linear2.weight", l, 2, D, F, true, &w->w2));
    CLF_TRY(load_w(L, pre, "layers.%d.linear2.bias", l, 1, D, 0, c->ffn_bias, &w->b2));
    for (int i = 0; i < (cross ? 3 : 2); i++) {
        char s[64];
        snprintf(s, sizeof s, "layers.%%d.norm%d.weight", i + 1);
        CLF_TRY(load_w(L, pre, s, l, 1, D, 0, true, &w->ng[i]));
        snprintf(s, sizeof s, "layers.%%d.norm%d.bias", i + 1);
        CLF_TRY(load_w(L, pre, s, l, 1, D, 0, c->norm_bias, &w->nb[i]));
    }
    return CLF_OK;
}

static const char *const ENC_PRE[] = {"encoder.", "transformer.encoder.", NULL};
static const char *const GPT_PRE[] = {"h.", "decoder.", "transformer.h.", NULL};
static const char *const DEC_PRE[] = {"transformer.decoder.", "decoder.", NULL};
static const char *const ROOT[] = {"", NULL};

static clf_status load_weights(loader *L)
{
    clf_model *m = L->m;
    const clf_model_config *c = &m->cfg;
    int64_t D = c->d_model, V = c->vocab, P = c->max_positions;
    bool has_enc = c->kind != CLF_MODEL_DECODER, has_dec = c->kind != CLF_MODEL_ENCODER;
    const char *const *dec_pre = c->kind == CLF_MODEL_DECODER ? GPT_PRE : DEC_PRE;
    char name[256];

    m->wctx = CLF__ENC_CTX(m); /* placement: encoder weights on the encoder's device */
    if (has_enc) {
        static const char *const emb[] = {"embed.weight", "src_embed.weight",
                                          "encoder.embed_tokens.weight", NULL};
        if (!find_any(L, emb, "", 0, name, sizeof name) && L->st)
            return clf__error(
                m->ctx, CLF_ERR_BAD_MODEL,
                "clf_model_load: %s: missing tensor \"embed.weight\" (or \"src_embed.weight\")",
                L->path);
        CLF_TRY(load_dense(L, ROOT, name, 0, 2, V, D, true, &m->enc_embed));
        if (c->positions == CLF_POS_LEARNED) {
            static const char *const pe[] = {"pos_embed.weight", "src_pos_embed.weight",
                                             "encoder.embed_positions.weight", NULL};
            if (!find_any(L, pe, "", 0, name, sizeof name))
                snprintf(name, sizeof name, "pos_embed.weight");
            CLF_TRY(load_dense(L, ROOT, name, 0, 2, P, D, true, &m->enc_pos));
        }
        if (c->embedding_norm) {
            CLF_TRY(load_w(L, ENC_PRE, "embed_norm.weight", 0, 1, D, 0, true, &m->enc_eng));
            CLF_TRY(load_w(L, ENC_PRE, "embed_norm.bias", 0, 1, D, 0, c->norm_bias, &m->enc_enb));
        }
        m->enc = clf__calloc((size_t)c->encoder_layers, sizeof *m->enc);
        if (!m->enc)
            return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        for (int l = 0; l < c->encoder_layers; l++)
            CLF_TRY(load_layer(L, ENC_PRE, l, false, &m->enc[l]));
        if (c->encoder_final_norm) {
            CLF_TRY(load_w(L, ENC_PRE, "norm.weight", 0, 1, D, 0, true, &m->enc_ng));
            CLF_TRY(load_w(L, ENC_PRE, "norm.bias", 0, 1, D, 0, c->norm_bias, &m->enc_nb));
        }
        if (c->pooler) {
            CLF_TRY(load_dense(L, ROOT, "pooler.weight", 0, 2, D, D, true, &m->pool_w));
            CLF_TRY(load_w(L, ROOT, "pooler.bias", 0, 1, D, 0, true, &m->pool_b));
        }
        if (c->n_classes > 0) {
            CLF_TRY(load_dense(L, ROOT, "classifier.weight", 0, 2, c->n_classes, D, true, &m->cls_w));
            CLF_TRY(load_w(L, ROOT, "classifier.bias", 0, 1, c->n_classes, 0, !L->st, &m->cls_b));
        }
    }
    m->wctx = NULL;
    if (has_dec) {
        static const char *const emb[] = {"tgt_embed.weight", "wte.weight", "embed.weight",
                                          "decoder.embed_tokens.weight", NULL};
        if (!find_any(L, emb, "", 0, name, sizeof name) && L->st)
            return clf__error(
                m->ctx, CLF_ERR_BAD_MODEL,
                "clf_model_load: %s: missing tensor \"tgt_embed.weight\" (or \"wte.weight\")",
                L->path);
        L->head = c->tied_embeddings;
        clf_status est = load_dense(L, ROOT, name, 0, 2, V, D, true, &m->dec_embed);
        L->head = false;
        CLF_TRY(est);
        if (c->positions == CLF_POS_LEARNED) {
            static const char *const pe[] = {"wpe.weight", "pos_embed.weight",
                                             "decoder.embed_positions.weight", NULL};
            if (!find_any(L, pe, "", 0, name, sizeof name))
                snprintf(name, sizeof name, "wpe.weight");
            CLF_TRY(load_dense(L, ROOT, name, 0, 2, P, D, true, &m->dec_pos));
        }
        if (c->embedding_norm) {
            CLF_TRY(load_w(L, dec_pre, "embed_norm.weight", 0, 1, D, 0, true, &m->dec_eng));
            CLF_TRY(load_w(L, dec_pre, "embed_norm.bias", 0, 1, D, 0, c->norm_bias, &m->dec_enb));
        }
        m->dec = clf__calloc((size_t)c->decoder_layers, sizeof *m->dec);
        if (!m->dec)
            return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        bool cross = c->kind == CLF_MODEL_ENCODER_DECODER;
        for (int l = 0; l < c->decoder_layers; l++)
            CLF_TRY(load_layer(L, dec_pre, l, cross, &m->dec[l]));
        if (c->decoder_final_norm) {
            static const char *const fn[] = {"ln_f.", "transformer.decoder.norm.", "decoder.norm.",
                                             "h.norm.", NULL};
            CLF_TRY(load_w(L, fn, "weight", 0, 1, D, 0, true, &m->dec_ng));
            CLF_TRY(load_w(L, fn, "bias", 0, 1, D, 0, c->norm_bias, &m->dec_nb));
        }
        if (c->tied_embeddings) {
            m->out_w = m->dec_embed;
        } else {
            static const char *const op[] = {"out_proj.", "lm_head.", NULL};
            L->head = true;
            clf_status hst = load_dense(L, op, "weight", 0, 2, V, D, true, &m->out_w);
            L->head = false;
            CLF_TRY(hst);
        }
        static const char *const ob[] = {"out_proj.", "lm_head.", NULL};
        CLF_TRY(load_w(L, ob, "bias", 0, 1, V, 0, c->output_bias, &m->out_b));
    }
    return CLF_OK;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A clformer file's weights that the config did not read: a config that
 * does not match the checkpoint (one layer of two, no final norm, ...) must
 * not run silently on part of it. Weights are the tensors named like torch
 * parameters ("...weight", "...bias", in_proj_weight too); other tensors are
 * data stored beside the weights (the goldens' inputs and outputs) and are
 * not the model's. */
static clf_status check_unused(const loader *L)
{
    clf__unused u;
    memset(&u, 0, sizeof u);
    for (size_t i = 0; i < L->st->n_tensors; i++) {
        const char *name = L->st->tensors[i].name;
        if (!L->used[i] && (ends_with(name, "weight") || ends_with(name, "bias")))
            clf__unused_add(&u, name);
    }
    return clf__unused_report(&u, L->m->ctx, L->path);
}

/* The default state of the old calls (clf_model_encode / decode / generate),
 * on the model's own contexts at the model's maxima. */
static clf_status make_default_use(clf_model *m)
{
    m->def = clf__calloc(1, sizeof *m->def);
    if (!m->def) return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    m->def->m = m;
    m->def->ctx = m->ctx;
    m->def->ectx = CLF__ENC_CTX(m);
    m->def->max_batch = m->max_batch;
    m->def->max_src = m->max_src;
    m->def->max_tgt = m->max_tgt;
    return clf__use_init(m->def);
}

static clf_status check_params(clf_context *ctx, const char *fn, const clf_model_params *p)
{
    if (p->weight_dtype != CLF_F32 && p->weight_dtype != CLF_F16 && p->weight_dtype != CLF_Q8 &&
        p->weight_dtype != CLF_Q4)
        return clf__error(ctx, CLF_ERR_DTYPE, "%s: weight_dtype must be f32, f16, q8 or q4", fn);
    if (p->max_batch < 0 || p->max_source_len < 0 || p->max_target_len < 0)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: negative maximum", fn);
    return CLF_OK;
}

/* m->info: strings copied into one block owned by the model. */
static clf_status set_info(clf_model *m, const clf__hf *hf)
{
    const clf__hf_config *hc = hf ? clf__hf_config_of(hf) : NULL;
    const char *arch = hc ? hc->architecture : "", *mt = hc ? hc->model_type : "";
    int64_t nl = hc && hc->labels ? hc->cfg.n_classes : 0;
    size_t bytes = strlen(arch) + strlen(mt) + 2;
    for (int64_t i = 0; i < nl; i++)
        bytes += strlen(hc->labels[i]) + 1;
    m->info_strings = clf__malloc(bytes);
    m->labels = nl ? clf__calloc((size_t)nl, sizeof *m->labels) : NULL;
    if (!m->info_strings || (nl && !m->labels))
        return clf__error(m->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    char *at = m->info_strings;
    m->info.architecture = strcpy(at, arch);
    at += strlen(arch) + 1;
    m->info.model_type = strcpy(at, mt);
    at += strlen(mt) + 1;
    for (int64_t i = 0; i < nl; i++) {
        m->labels[i] = strcpy(at, hc->labels[i]);
        at += strlen(hc->labels[i]) + 1;
    }
    m->info.labels = m->labels;
    m->info.n_labels = nl ? nl : m->cfg.n_classes;
    m->info.sentence_transformers = hf && clf__hf_sentence_transformers(hf);
    m->from_hf = hf != NULL;
    if (hf)
        m->info.pooling = clf__hf_pooling(hf);
    else
        m->info.pooling = m->cfg.kind == CLF_MODEL_ENCODER && (m->cfg.pooler || m->cfg.n_classes)
                              ? CLF_POOL_FIRST
                              : CLF_POOL_NONE;
    return CLF_OK;
}

/* One info line per model made: what it is, what it holds and what it
 * cost, so that a log shows which weights a run used. */
static void log_loaded(const clf_model *m, const char *path, double seconds)
{
    if (!clf__log_enabled(CLF_LOG_INFO)) return;
    size_t bytes = 0;
    for (int i = 0; i < m->n_owned; i++)
        bytes += clf_tensor_bytes(&m->owned[i]);
    const char *arch = m->info.architecture && *m->info.architecture ? m->info.architecture : "";
    clf__log(CLF_LOG_INFO,
             "model %s%s%s%s: %d encoder + %d decoder layers, d_model %lld, vocab %lld; %d "
             "tensors, %.1f MiB of %s weights, in %.3f s",
             path ? path : "(random weights)", *arch ? " (" : "", arch, *arch ? ")" : "",
             m->cfg.encoder_layers, m->cfg.decoder_layers, (long long)m->cfg.d_model,
             (long long)m->cfg.vocab, m->n_owned, (double)bytes / (1 << 20),
             clf_dtype_name(m->wdtype), seconds);
}

/* The model of params (p.config, the file's metadata or the folder's
 * config.json) with its weights from st or hf, or random from seed when
 * both are NULL (p.config then required). Takes st and hf. */
static clf_status model_create(clf_context *ctx, clf__safetensors *st, clf__hf *hf,
                               const char *path, clf_model_params p, uint64_t seed,
                               clf_model **out)
{
    clf_status s = CLF_OK;
    double t0 = clf__now();
    clf_model *m = clf__calloc(1, sizeof *m);
    if (!m) {
        clf__safetensors_free(st);
        clf__hf_free(hf);
        return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    }
    m->ctx = ctx;
    m->wdtype = p.weight_dtype;
    loader L = {m, st, path, seed, hf, NULL, false, false};
    if (st) {
        L.used = clf__calloc(st->n_tensors ? st->n_tensors : 1, sizeof *L.used);
        if (!L.used) s = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    }
    clf__gen_config_init(&m->gen);
    if (s == CLF_OK && hf) {
        m->cfg = *clf__hf_model_config(hf);
        s = clf__gen_config_load(ctx, path, m->cfg.vocab, &m->gen); /* gen_config.c */
        if (s == CLF_OK && m->gen.start_id >= 0 && m->cfg.kind == CLF_MODEL_ENCODER_DECODER)
            m->cfg.bos_id = m->gen.start_id; /* generation_config.json's, over config.json's */
        if (s == CLF_OK && m->gen.eos_id >= 0) m->cfg.eos_id = m->gen.eos_id;
    }
    else if (s == CLF_OK && p.config)
        m->cfg = *p.config;
    else if (s == CLF_OK)
        s = clf__config_from_meta(ctx, st, path, &m->cfg);
    if (s == CLF_OK) {
        if (m->cfg.eps == 0) m->cfg.eps = 1e-5f;
        if (m->cfg.embedding_scale == 0) m->cfg.embedding_scale = 1.0f;
        s = clf__config_check(ctx, path, &m->cfg);
    }
    if (s == CLF_OK) s = clf__placement_setup(m, &p);
    if (s == CLF_OK) {
        m->head_dim = m->cfg.d_model / m->cfg.n_heads;
        int64_t P = m->cfg.max_positions;
        int64_t lim = m->cfg.positions == CLF_POS_LEARNED ? P - m->cfg.position_offset : 0;
        m->max_batch = p.max_batch ? p.max_batch : 8;
        m->max_src = p.max_source_len ? p.max_source_len : 128;
        m->max_tgt = p.max_target_len ? p.max_target_len : 128;
        /* Given maxima are clamped to a learned table too: a graph sized
         * past it cannot be built (its warm-up runs at the maxima), and no
         * position past it can ever be decoded (model.h). */
        if (lim > 0 && m->max_src > lim) m->max_src = lim;
        if (lim > 0 && m->max_tgt > lim) m->max_tgt = lim;
        s = load_weights(&L);
    }
    m->wctx = NULL;
    if (s == CLF_OK && st) s = check_unused(&L);
    if (s == CLF_OK && hf) s = clf__hf_check_unused(hf, ctx, path);
    clf__free(L.used);
    if (s == CLF_OK) s = set_info(m, hf);
    if (s == CLF_OK) s = pack_weights(m);
    if (s == CLF_OK) clf__model_quant_info(m);
    if (s == CLF_OK) s = make_default_use(m);
    /* The weights are written by commands on the model's queues (uploads,
     * quantisation, packing), which need not have run yet; sessions read
     * them from queues of their own, which no event orders after these, so
     * a model is loaded when they have finished. (Intel's CPU runtime ran a
     * session's first encode before the packing kernels.) */
    if (s == CLF_OK) s = clf_context_finish(m->ctx);
    if (s == CLF_OK && CLF__ENC_CTX(m) != m->ctx) s = clf_context_finish(CLF__ENC_CTX(m));
    clf__safetensors_free(st);
    clf__hf_free(hf);
    if (s != CLF_OK) {
        /* Keep the message: freeing does not touch the context's error. */
        clf_model_free(m);
        return s;
    }
    log_loaded(m, path, clf__now() - t0);
    *out = m;
    return CLF_OK;
}

static clf_status model_load_body(clf_context *ctx, const char *path,
                                  const clf_model_params *params, clf_model **out)
{
    if (out) *out = NULL;
    if (!ctx || !path || !out)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_load: NULL argument");
    clf_model_params p = params ? *params : clf_model_params_default();
    CLF_TRY(check_params(ctx, "clf_model_load", &p));

    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        clf__hf *hf = NULL;
        CLF_TRY(clf__hf_open(ctx, path, &hf)); /* hf.c */
        return model_create(ctx, NULL, hf, path, p, 0, out);
    }
    char err[512];
    clf__safetensors *st = NULL;
    clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s", err);
    return model_create(ctx, st, NULL, path, p, 0, out);
}

clf_status clf_model_load(clf_context *ctx, const char *path, const clf_model_params *params,
                          clf_model **out)
{
    CLF__GUARDED2(ctx, params ? params->encoder_ctx : NULL, "clf_model_load",
                  model_load_body(ctx, path, params, out));
}

static clf_status model_create_random_body(clf_context *ctx, const clf_model_config *cfg,
                                           const clf_model_params *params, uint64_t seed,
                                           clf_model **out)
{
    if (out) *out = NULL;
    if (!ctx || !cfg || !out)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_create_random: NULL argument");
    clf_model_params p = params ? *params : clf_model_params_default();
    CLF_TRY(check_params(ctx, "clf_model_create_random", &p));
    p.config = cfg;
    return model_create(ctx, NULL, NULL, "(random weights)", p, seed, out);
}

clf_status clf_model_create_random(clf_context *ctx, const clf_model_config *cfg,
                                   const clf_model_params *params, uint64_t seed, clf_model **out)
{
    CLF__GUARDED2(ctx, params ? params->encoder_ctx : NULL, "clf_model_create_random",
                  model_create_random_body(ctx, cfg, params, seed, out));
}

void clf_model_free(clf_model *m)
{
    if (!m) return;
    if (m->def) clf__use_clear(m->def);
    clf__free(m->def);
    clf__gen_config_clear(&m->gen);
    for (int i = 0; i < m->n_owned; i++)
        clf_tensor_free(&m->owned[i]);
    clf__free(m->owned);
    clf__free(m->enc);
    clf__free(m->dec);
    clf__free(m->info_strings);
    clf__free(m->labels);
    clf__model_quant_free(m);
    clf__free(m);
}

void clf_model_memory(const clf_model *m, int which, size_t *arena_bytes, size_t *activation_bytes,
                      size_t *lower_bound_bytes)
{
    clf_graph_memory_stats s;
    memset(&s, 0, sizeof s);
    const clf_graph *g = NULL;
    const clf__use *u = m ? m->def : NULL;
    if (u && which == 0) g = u->eg;
    if (u && which > 0 && u->last_step >= 0)
        g = which == 1 ? u->steps[u->last_step].g : u->steps[u->last_step].cross;
    if (g) clf_graph_memory(g, &s);
    if (arena_bytes) *arena_bytes = s.arena_bytes;
    if (activation_bytes) *activation_bytes = s.activation_bytes;
    if (lower_bound_bytes) *lower_bound_bytes = s.lower_bound_bytes;
}
