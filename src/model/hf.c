/*
 * HuggingFace model folders: files, shards and the per-family name tables
 * (see hf.h). The canonical names are the ones model.c loads (model.h):
 * "encoder.layers.N.self_attn.in_proj_weight" and so on.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model/hf.h"

typedef enum op {
    OP_COPY,   /* the tensor as it is */
    OP_CAT3,   /* rows of three tensors of one shape: [q; k; v] */
    OP_T,      /* a 2-D tensor transposed (GPT-2 Conv1D stores (in, out)) */
    OP_ADDROW, /* (P, D) table + row 0 of a (T, D) table (BERT token type 0) */
    OP_FLAT,   /* (1, N) as (N) (BART final_logits_bias) */
} op;

typedef struct entry {
    char name[128];                  /* canonical */
    op op;
    int n_src;
    const clf__st_tensor *src[3];    /* NULL when missing */
    size_t src_shard[3];             /* the shard of each source found */
    char src_names[400];             /* checkpoint names, for messages */
    clf__st_tensor t;                /* the result, once built */
    float *data;                     /* its storage when materialised */
    bool built;
} entry;

/* A weight_map entry: the shard that holds name. */
typedef struct placed {
    const char *name; /* owned by hf->index */
    size_t file;
} placed;

struct clf__hf {
    clf__hf_config hc;
    clf__hf_modules mods;
    clf_pooling pooling;
    clf__safetensors **shards;
    size_t n_shards;
    bool **used;       /* (n_shards) x (the shard's n_tensors): read by the load */
    clf__hf_index index; /* model.safetensors.index.json, when there is one */
    placed *placed;    /* (index.n_weights) sorted by name; NULL without an index */
    const char *prefixes; /* the family's module prefixes, "|"-separated (hf_config.h) */
    const char *ignored;  /* the family's ignored tensors, "|"-separated (hf_config.h) */
    entry *e;
    size_t n_e, cap_e;
};

/* ------------------------------ files ------------------------------ */

/* Reads dir/name (at most CLF__HF_MAX_JSON bytes; core's clf__file_read_all
 * refuses a FIFO or a device instead of blocking on it). Missing: CLF_ERR_IO,
 * or CLF_ERR_NOT_FOUND with *text NULL when optional. */
static clf_status read_text(clf_context *ctx, const char *dir, const char *name, bool optional,
                            char **text, size_t *len)
{
    char path[4096], msg[4200];
    *text = NULL;
    *len = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return clf__error(ctx, CLF_ERR_IO, "clf_model_load: %s/%s: path too long", dir, name);
    clf_status s = clf__file_read_all(path, CLF__HF_MAX_JSON, text, len, msg, sizeof msg);
    if (s == CLF_ERR_NOT_FOUND && optional) return s;
    if (s == CLF_ERR_NOT_FOUND) s = CLF_ERR_IO;
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s", msg);
    return CLF_OK;
}

static clf_status open_shard(clf__hf *hf, clf_context *ctx, const char *dir, const char *file)
{
    char path[4096], err[512];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path)
        return clf__error(ctx, CLF_ERR_IO, "clf_model_load: %s/%s: path too long", dir, file);
    clf__safetensors *st = NULL;
    clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s", err);
    bool *used = clf__calloc(st->n_tensors ? st->n_tensors : 1, sizeof *used);
    if (!used) {
        clf__safetensors_free(st);
        return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    }
    hf->used[hf->n_shards] = used;
    hf->shards[hf->n_shards++] = st;
    return CLF_OK;
}

static int placed_cmp(const void *a, const void *b)
{
    return strcmp(((const placed *)a)->name, ((const placed *)b)->name);
}

/* hf->placed: the weight_map sorted by name, for find_src. */
static clf_status sort_index(clf__hf *hf, clf_context *ctx)
{
    size_t n = hf->index.n_weights;
    hf->placed = clf__malloc(n * sizeof *hf->placed);
    if (!hf->placed) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    for (size_t i = 0; i < n; i++)
        hf->placed[i] = (placed){hf->index.weight_names[i], hf->index.weight_file[i]};
    qsort(hf->placed, n, sizeof *hf->placed, placed_cmp);
    return CLF_OK;
}

static const placed *find_placed(const clf__hf *hf, const char *name)
{
    placed key = {name, 0};
    return bsearch(&key, hf->placed, hf->index.n_weights, sizeof key, placed_cmp);
}

/* model.safetensors, or the shards named by model.safetensors.index.json
 * (each weight_map entry must be in the file it names). */
static clf_status open_weights(clf__hf *hf, clf_context *ctx, const char *dir)
{
    char *text = NULL, err[512];
    size_t len = 0;
    clf_status s = read_text(ctx, dir, "model.safetensors.index.json", true, &text, &len);
    if (s == CLF_ERR_NOT_FOUND) {
        char path[4096];
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        struct stat sb;
        if (stat(path, &sb) != 0)
            return clf__error(ctx, CLF_ERR_IO,
                              "clf_model_load: %s: no model.safetensors nor "
                              "model.safetensors.index.json (pytorch_model.bin is not read: "
                              "convert it to safetensors)",
                              dir);
        hf->shards = clf__calloc(1, sizeof *hf->shards);
        hf->used = clf__calloc(1, sizeof *hf->used);
        if (!hf->shards || !hf->used)
            return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        return open_shard(hf, ctx, dir, "model.safetensors");
    }
    CLF_TRY(s);
    clf__hf_index *x = &hf->index;
    s = clf__hf_parse_index(text, len, x, err, sizeof err);
    clf__free(text);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s: %s", dir, err);
    hf->shards = clf__calloc(x->n_files, sizeof *hf->shards);
    hf->used = clf__calloc(x->n_files, sizeof *hf->used);
    if (!hf->shards || !hf->used)
        s = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    for (size_t i = 0; s == CLF_OK && i < x->n_files; i++)
        s = open_shard(hf, ctx, dir, x->files[i]);
    for (size_t i = 0; s == CLF_OK && i < x->n_weights; i++)
        if (!clf__st_find(hf->shards[x->weight_file[i]], x->weight_names[i]))
            s = clf__error(ctx, CLF_ERR_BAD_MODEL,
                           "clf_model_load: %s: model.safetensors.index.json puts \"%.100s\" in "
                           "%s, which has no such tensor",
                           dir, x->weight_names[i], x->files[x->weight_file[i]]);
    /* The index is the authority on where each weight lives: a shard may
     * hold a stale copy of a tensor that the index places in another one. */
    if (s == CLF_OK) s = sort_index(hf, ctx);
    return s;
}

/* sentence-transformers: modules.json and its Pooling module's config. */
static clf_status open_modules(clf__hf *hf, clf_context *ctx, const char *dir)
{
    char *text = NULL, err[512];
    size_t len = 0;
    clf_status s = read_text(ctx, dir, "modules.json", true, &text, &len);
    if (s == CLF_ERR_NOT_FOUND) return CLF_OK;
    CLF_TRY(s);
    s = clf__hf_parse_modules(text, len, &hf->mods, err, sizeof err);
    clf__free(text);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s: %s", dir, err);
    if (hf->hc.cfg.kind != CLF_MODEL_ENCODER)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_model_load: %s: sentence-transformers modules with a %s (only "
                          "encoders)",
                          dir, hf->hc.architecture);
    if (!hf->mods.pooling_path[0])
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_model_load: %s: modules.json has no Pooling module", dir);
    char name[300];
    snprintf(name, sizeof name, "%s/config.json", hf->mods.pooling_path);
    CLF_TRY(read_text(ctx, dir, name, false, &text, &len));
    s = clf__hf_parse_pooling(text, len, hf->hc.cfg.d_model, &hf->pooling, err, sizeof err);
    clf__free(text);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s: %s: %s", dir, name, err);
    return CLF_OK;
}

/* --------------------------- name tables --------------------------- */

/* The checkpoint tensor called name and its shard: the shard the index's
 * weight_map names (never another shard's copy), or the one weight file. */
static const clf__st_tensor *find_src(const clf__hf *hf, const char *name, size_t *shard)
{
    *shard = 0;
    if (hf->placed) {
        const placed *p = find_placed(hf, name);
        if (!p) return NULL;
        *shard = p->file;
    }
    return hf->n_shards ? clf__st_find(hf->shards[*shard], name) : NULL;
}

/* Resolves fmt ("a.%d.b|c.%d.d": alternatives, each under every prefix of
 * the family) for layer l. On a miss, names the first alternative under
 * the first prefix. */
static const clf__st_tensor *resolve(const clf__hf *hf, const char *fmt, int l, char *shown,
                                     size_t size, size_t *shard)
{
    char alt[200], name[300];
    const char *a = fmt;
    shown[0] = '\0';
    while (*a) {
        size_t n = strcspn(a, "|");
        snprintf(alt, sizeof alt, "%.*s", (int)n, a);
        char full[200];
        snprintf(full, sizeof full, alt, l);
        for (const char *p = hf->prefixes;;) {
            size_t pn = strcspn(p, "|");
            snprintf(name, sizeof name, "%.*s%s", (int)pn, p, full);
            const clf__st_tensor *t = find_src(hf, name, shard);
            if (t) {
                snprintf(shown, size, "%s", name);
                return t;
            }
            if (!shown[0]) snprintf(shown, size, "%s", name);
            if (!p[pn]) break;
            p += pn + 1;
        }
        a += n + (a[n] == '|');
    }
    return NULL;
}

/* Adds canonical (formatted with l) <- op(sources). */
static clf_status add(clf__hf *hf, clf_context *ctx, op o, const char *canon, int l,
                      const char *s0, const char *s1, const char *s2)
{
    if (hf->n_e == hf->cap_e) {
        size_t cap = hf->cap_e ? 2 * hf->cap_e : 64;
        entry *e = clf__realloc(hf->e, cap * sizeof *e);
        if (!e) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
        hf->e = e;
        hf->cap_e = cap;
    }
    entry *e = &hf->e[hf->n_e++];
    memset(e, 0, sizeof *e);
    snprintf(e->name, sizeof e->name, canon, l);
    e->op = o;
    const char *src[3] = {s0, s1, s2};
    size_t at = 0;
    for (int i = 0; i < 3 && src[i]; i++) {
        char shown[300];
        e->src[i] = resolve(hf, src[i], l, shown, sizeof shown, &e->src_shard[i]);
        at += (size_t)snprintf(e->src_names + at, sizeof e->src_names - at, "%s\"%s\"",
                               i ? " + " : "", shown);
        if (at >= sizeof e->src_names) at = sizeof e->src_names - 1;
        e->n_src = i + 1;
    }
    return CLF_OK;
}

#define ADD(o, c, s0, s1, s2) CLF_TRY(add(hf, ctx, o, c, l, s0, s1, s2))

/* BERT, RoBERTa and XLM-RoBERTa (the same names; RoBERTa's classification
 * head is dense + tanh on token 0, i.e. BERT's pooler, then out_proj). */
static clf_status names_bert(clf__hf *hf, clf_context *ctx)
{
    int l = 0;
    ADD(OP_COPY, "embed.weight", "embeddings.word_embeddings.weight", NULL, NULL);
    ADD(OP_ADDROW, "pos_embed.weight", "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight", NULL);
    ADD(OP_COPY, "encoder.embed_norm.weight", "embeddings.LayerNorm.weight", NULL, NULL);
    ADD(OP_COPY, "encoder.embed_norm.bias", "embeddings.LayerNorm.bias", NULL, NULL);
    for (l = 0; l < hf->hc.cfg.encoder_layers; l++) {
        ADD(OP_CAT3, "encoder.layers.%d.self_attn.in_proj_weight",
            "encoder.layer.%d.attention.self.query.weight",
            "encoder.layer.%d.attention.self.key.weight",
            "encoder.layer.%d.attention.self.value.weight");
        ADD(OP_CAT3, "encoder.layers.%d.self_attn.in_proj_bias",
            "encoder.layer.%d.attention.self.query.bias",
            "encoder.layer.%d.attention.self.key.bias",
            "encoder.layer.%d.attention.self.value.bias");
        ADD(OP_COPY, "encoder.layers.%d.self_attn.out_proj.weight",
            "encoder.layer.%d.attention.output.dense.weight", NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.self_attn.out_proj.bias",
            "encoder.layer.%d.attention.output.dense.bias", NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.norm1.weight",
            "encoder.layer.%d.attention.output.LayerNorm.weight", NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.norm1.bias",
            "encoder.layer.%d.attention.output.LayerNorm.bias", NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.linear1.weight", "encoder.layer.%d.intermediate.dense.weight",
            NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.linear1.bias", "encoder.layer.%d.intermediate.dense.bias",
            NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.linear2.weight", "encoder.layer.%d.output.dense.weight",
            NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.linear2.bias", "encoder.layer.%d.output.dense.bias", NULL,
            NULL);
        ADD(OP_COPY, "encoder.layers.%d.norm2.weight", "encoder.layer.%d.output.LayerNorm.weight",
            NULL, NULL);
        ADD(OP_COPY, "encoder.layers.%d.norm2.bias", "encoder.layer.%d.output.LayerNorm.bias",
            NULL, NULL);
    }
    l = 0;
    ADD(OP_COPY, "pooler.weight", "pooler.dense.weight|classifier.dense.weight", NULL, NULL);
    ADD(OP_COPY, "pooler.bias", "pooler.dense.bias|classifier.dense.bias", NULL, NULL);
    ADD(OP_COPY, "classifier.weight", "classifier.weight|classifier.out_proj.weight", NULL, NULL);
    ADD(OP_COPY, "classifier.bias", "classifier.bias|classifier.out_proj.bias", NULL, NULL);
    return CLF_OK;
}

static clf_status names_gpt2(clf__hf *hf, clf_context *ctx)
{
    int l = 0;
    ADD(OP_COPY, "wte.weight", "wte.weight", NULL, NULL);
    ADD(OP_COPY, "wpe.weight", "wpe.weight", NULL, NULL);
    for (l = 0; l < hf->hc.cfg.decoder_layers; l++) {
        ADD(OP_COPY, "h.layers.%d.norm1.weight", "h.%d.ln_1.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.norm1.bias", "h.%d.ln_1.bias", NULL, NULL);
        ADD(OP_T, "h.layers.%d.self_attn.in_proj_weight", "h.%d.attn.c_attn.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.self_attn.in_proj_bias", "h.%d.attn.c_attn.bias", NULL, NULL);
        ADD(OP_T, "h.layers.%d.self_attn.out_proj.weight", "h.%d.attn.c_proj.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.self_attn.out_proj.bias", "h.%d.attn.c_proj.bias", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.norm2.weight", "h.%d.ln_2.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.norm2.bias", "h.%d.ln_2.bias", NULL, NULL);
        ADD(OP_T, "h.layers.%d.linear1.weight", "h.%d.mlp.c_fc.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.linear1.bias", "h.%d.mlp.c_fc.bias", NULL, NULL);
        ADD(OP_T, "h.layers.%d.linear2.weight", "h.%d.mlp.c_proj.weight", NULL, NULL);
        ADD(OP_COPY, "h.layers.%d.linear2.bias", "h.%d.mlp.c_proj.bias", NULL, NULL);
    }
    l = 0;
    ADD(OP_COPY, "ln_f.weight", "ln_f.weight", NULL, NULL);
    ADD(OP_COPY, "ln_f.bias", "ln_f.bias", NULL, NULL);
    ADD(OP_COPY, "lm_head.weight", "lm_head.weight", NULL, NULL);
    return CLF_OK;
}

/* The checkpoint's names of an attention block's q, k, v and output
 * projections. */
static const char *const BART_PROJ[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
static const char *const DISTILBERT_PROJ[4] = {"q_lin", "k_lin", "v_lin", "out_lin"};

/* One attention block with separate q/k/v projections: canonical c
 * ("encoder.layers.%d.self_attn") from checkpoint h (its module, with %d)
 * and the projections' names proj. */
static clf_status attn_names(clf__hf *hf, clf_context *ctx, int l, const char *c, const char *h,
                             const char *const proj[4])
{
    char cn[160], q[160], k[160], v[160];
    static const char *const wb[2] = {"weight", "bias"};
    for (int i = 0; i < 2; i++) {
        snprintf(cn, sizeof cn, "%s.in_proj_%s", c, wb[i]);
        snprintf(q, sizeof q, "%s.%s.%s", h, proj[0], wb[i]);
        snprintf(k, sizeof k, "%s.%s.%s", h, proj[1], wb[i]);
        snprintf(v, sizeof v, "%s.%s.%s", h, proj[2], wb[i]);
        ADD(OP_CAT3, cn, q, k, v);
        snprintf(cn, sizeof cn, "%s.out_proj.%s", c, wb[i]);
        snprintf(q, sizeof q, "%s.%s.%s", h, proj[3], wb[i]);
        ADD(OP_COPY, cn, q, NULL, NULL);
    }
    return CLF_OK;
}

/* norm/linear pairs: canonical c.{weight,bias} from checkpoint h.{...}. */
static clf_status pair(clf__hf *hf, clf_context *ctx, int l, const char *c, const char *h)
{
    char cn[160], hn[160];
    snprintf(cn, sizeof cn, "%s.weight", c);
    snprintf(hn, sizeof hn, "%s.weight", h);
    ADD(OP_COPY, cn, hn, NULL, NULL);
    snprintf(cn, sizeof cn, "%s.bias", c);
    snprintf(hn, sizeof hn, "%s.bias", h);
    ADD(OP_COPY, cn, hn, NULL, NULL);
    return CLF_OK;
}

/* DistilBERT: q_lin/k_lin/v_lin/out_lin, ffn.lin1/lin2, no token types. */
static clf_status names_distilbert(clf__hf *hf, clf_context *ctx)
{
    int l = 0;
    ADD(OP_COPY, "embed.weight", "embeddings.word_embeddings.weight", NULL, NULL);
    ADD(OP_COPY, "pos_embed.weight", "embeddings.position_embeddings.weight", NULL, NULL);
    CLF_TRY(pair(hf, ctx, 0, "encoder.embed_norm", "embeddings.LayerNorm"));
    for (l = 0; l < hf->hc.cfg.encoder_layers; l++) {
        CLF_TRY(attn_names(hf, ctx, l, "encoder.layers.%d.self_attn",
                           "transformer.layer.%d.attention", DISTILBERT_PROJ));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.norm1", "transformer.layer.%d.sa_layer_norm"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.linear1", "transformer.layer.%d.ffn.lin1"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.linear2", "transformer.layer.%d.ffn.lin2"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.norm2",
                     "transformer.layer.%d.output_layer_norm"));
    }
    return CLF_OK;
}

/* BART and Marian. */
static clf_status names_bart(clf__hf *hf, clf_context *ctx)
{
    const clf_model_config *c = &hf->hc.cfg;
    int l = 0;
    ADD(OP_COPY, "embed.weight", "encoder.embed_tokens.weight|shared.weight", NULL, NULL);
    ADD(OP_COPY, "tgt_embed.weight", "decoder.embed_tokens.weight|shared.weight", NULL, NULL);
    if (c->positions == CLF_POS_LEARNED) {
        /* The first names model.c tries, so that a miss names the checkpoint's. */
        ADD(OP_COPY, "pos_embed.weight", "encoder.embed_positions.weight", NULL, NULL);
        ADD(OP_COPY, "wpe.weight", "decoder.embed_positions.weight", NULL, NULL);
    }
    CLF_TRY(pair(hf, ctx, 0, "encoder.embed_norm", "encoder.layernorm_embedding"));
    CLF_TRY(pair(hf, ctx, 0, "decoder.embed_norm", "decoder.layernorm_embedding"));
    for (l = 0; l < c->encoder_layers; l++) {
        CLF_TRY(attn_names(hf, ctx, l, "encoder.layers.%d.self_attn",
                           "encoder.layers.%d.self_attn", BART_PROJ));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.norm1",
                     "encoder.layers.%d.self_attn_layer_norm"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.linear1", "encoder.layers.%d.fc1"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.linear2", "encoder.layers.%d.fc2"));
        CLF_TRY(pair(hf, ctx, l, "encoder.layers.%d.norm2", "encoder.layers.%d.final_layer_norm"));
    }
    for (l = 0; l < c->decoder_layers; l++) {
        CLF_TRY(attn_names(hf, ctx, l, "decoder.layers.%d.self_attn",
                           "decoder.layers.%d.self_attn", BART_PROJ));
        CLF_TRY(attn_names(hf, ctx, l, "decoder.layers.%d.multihead_attn",
                           "decoder.layers.%d.encoder_attn", BART_PROJ));
        CLF_TRY(pair(hf, ctx, l, "decoder.layers.%d.norm1",
                     "decoder.layers.%d.self_attn_layer_norm"));
        CLF_TRY(pair(hf, ctx, l, "decoder.layers.%d.norm2",
                     "decoder.layers.%d.encoder_attn_layer_norm"));
        CLF_TRY(pair(hf, ctx, l, "decoder.layers.%d.linear1", "decoder.layers.%d.fc1"));
        CLF_TRY(pair(hf, ctx, l, "decoder.layers.%d.linear2", "decoder.layers.%d.fc2"));
        CLF_TRY(pair(hf, ctx, l, "decoder.layers.%d.norm3", "decoder.layers.%d.final_layer_norm"));
    }
    l = 0;
    ADD(OP_COPY, "lm_head.weight", "lm_head.weight", NULL, NULL);
    ADD(OP_FLAT, "lm_head.bias", "final_logits_bias", NULL, NULL);
    return CLF_OK;
}

#undef ADD

static entry *lookup(const clf__hf *hf, const char *name)
{
    for (size_t i = 0; i < hf->n_e; i++)
        if (strcmp(hf->e[i].name, name) == 0) return &hf->e[i];
    return NULL;
}

bool clf__hf_has(const clf__hf *hf, const char *name)
{
    const entry *e = lookup(hf, name);
    if (!e) return false;
    for (int i = 0; i < e->n_src; i++)
        if (!e->src[i]) return false;
    return true;
}

const char *clf__hf_source(const clf__hf *hf, const char *name)
{
    const entry *e = lookup(hf, name);
    return e ? e->src_names : "";
}

/* ----------------------------- building ----------------------------- */

static clf_status bad(clf_context *ctx, const entry *e, const char *what)
{
    return clf__error(ctx, CLF_ERR_BAD_MODEL, "clf_model_load: %s (for \"%s\"): %s", e->src_names,
                      e->name, what);
}

/* clf__st_tensor_to_f32 with its message (a file truncated under the load, a
 * failed read) moved from the thread to ctx when there is one. */
static clf_status to_f32(clf_context *ctx, const clf__st_tensor *t, float *dst)
{
    clf_status s = clf__st_tensor_to_f32(t, dst);
    if (s != CLF_OK && ctx) clf__error(ctx, s, "clf_model_load: %s", clf__thread_error());
    return s;
}

static bool is_float(const clf__st_tensor *t)
{
    return t->dtype == CLF__ST_F32 || t->dtype == CLF__ST_F16 || t->dtype == CLF__ST_BF16;
}

static clf_status build(entry *e, clf_context *ctx)
{
    const clf__st_tensor *a = e->src[0];
    for (int i = 0; i < e->n_src; i++)
        if (!is_float(e->src[i])) return bad(ctx, e, "dtype is not F32, F16 or BF16");
    e->t = *a;
    e->t.name = e->name;
    e->t.name_len = strlen(e->name);
    if (e->op == OP_COPY) return CLF_OK;
    if (e->op == OP_FLAT) {
        if (a->n_dims != 2 || a->shape[0] != 1) return bad(ctx, e, "shape is not (1, N)");
        e->t.n_dims = 1;
        e->t.shape[0] = a->shape[1];
        e->t.shape[1] = 0;
        return CLF_OK;
    }
    int64_t r = a->shape[0], c = a->n_dims == 2 ? a->shape[1] : 1;
    int64_t out_r = r, out_c = c;
    if (e->op == OP_CAT3) {
        if (a->n_dims < 1 || a->n_dims > 2) return bad(ctx, e, "not a vector or a matrix");
        for (int i = 1; i < 3; i++) {
            const clf__st_tensor *b = e->src[i];
            if (b->n_dims != a->n_dims || b->shape[0] != r || (a->n_dims == 2 && b->shape[1] != c))
                return bad(ctx, e, "the three shapes differ");
        }
        out_r = 3 * r;
    } else if (e->op == OP_T) {
        if (a->n_dims != 2) return bad(ctx, e, "not a matrix");
        out_r = c;
        out_c = r;
    } else { /* OP_ADDROW */
        const clf__st_tensor *b = e->src[1];
        if (a->n_dims != 2 || b->n_dims != 2 || b->shape[1] != c || b->shape[0] < 1)
            return bad(ctx, e, "shapes are not (P, D) and (T >= 1, D)");
    }
    size_t n = (size_t)(out_r * out_c);
    e->data = clf__malloc((n ? n : 1) * sizeof *e->data);
    float *tmp = e->op == OP_T ? clf__malloc((n ? n : 1) * sizeof *tmp) : NULL;
    float *row = e->op == OP_ADDROW ? clf__malloc((size_t)c * sizeof *row + 1) : NULL;
    clf_status s = CLF_OK;
    if (!e->data || (e->op == OP_T && !tmp) || (e->op == OP_ADDROW && !row))
        s = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    if (s == CLF_OK && e->op == OP_CAT3) {
        size_t part = (size_t)(r * c);
        for (int i = 0; i < 3 && s == CLF_OK; i++)
            s = to_f32(ctx, e->src[i], e->data + (size_t)i * part);
    } else if (s == CLF_OK && e->op == OP_T) {
        s = to_f32(ctx, a, tmp);
        for (int64_t i = 0; s == CLF_OK && i < r; i++)
            for (int64_t j = 0; j < c; j++)
                e->data[j * r + i] = tmp[i * c + j];
    } else if (s == CLF_OK) { /* OP_ADDROW: row 0 only of the second table */
        clf__st_tensor first = *e->src[1];
        first.shape[0] = 1;
        first.n_elements = c;
        s = to_f32(ctx, a, e->data);
        if (s == CLF_OK) s = to_f32(ctx, &first, row);
        for (int64_t i = 0; s == CLF_OK && i < r; i++)
            for (int64_t j = 0; j < c; j++)
                e->data[i * c + j] += row[j];
    }
    clf__free(tmp);
    clf__free(row);
    if (s != CLF_OK) return s;
    e->t.dtype = CLF__ST_F32;
    e->t.dtype_size = 4;
    e->t.n_dims = a->n_dims;
    e->t.shape[0] = out_r;
    if (a->n_dims == 2) e->t.shape[1] = out_c;
    e->t.n_elements = out_r * out_c;
    e->t.begin = 0;
    e->t.end = n * sizeof(float);
    e->t.data = (const uint8_t *)e->data;
    return CLF_OK;
}

clf_status clf__hf_get(clf__hf *hf, clf_context *ctx, const char *name,
                       const clf__st_tensor **out)
{
    *out = NULL;
    entry *e = lookup(hf, name);
    if (!e || !clf__hf_has(hf, name)) return CLF_OK;
    if (!e->built) {
        CLF_TRY(build(e, ctx));
        e->built = true;
    }
    for (int i = 0; i < e->n_src; i++) {
        const clf__safetensors *sh = hf->shards[e->src_shard[i]];
        hf->used[e->src_shard[i]][e->src[i] - sh->tensors] = true;
    }
    *out = &e->t;
    return CLF_OK;
}

void clf__hf_release(clf__hf *hf, const char *name)
{
    entry *e = lookup(hf, name);
    if (!e || !e->data) return;
    clf__free(e->data);
    e->data = NULL;
    e->built = false;
}

/* --------------------------- unused tensors --------------------------- */

void clf__unused_add(clf__unused *u, const char *name)
{
    if (u->n++ >= CLF__UNUSED_SHOWN) return;
    size_t at = strlen(u->shown);
    snprintf(u->shown + at, sizeof u->shown - at, "%s\"%.100s\"", at ? ", " : "", name);
}

clf_status clf__unused_report(const clf__unused *u, clf_context *ctx, const char *path)
{
    if (!u->n) return CLF_OK;
    char more[48] = "";
    if (u->n > CLF__UNUSED_SHOWN)
        snprintf(more, sizeof more, " and %zu more", u->n - CLF__UNUSED_SHOWN);
    return clf__error(ctx, CLF_ERR_BAD_MODEL,
                      "clf_model_load: %s: %zu weight tensor%s of the checkpoint %s not used by "
                      "the config (a config that does not match the weights, e.g. fewer layers): "
                      "%s%s",
                      path, u->n, u->n == 1 ? "" : "s", u->n == 1 ? "is" : "are", u->shown, more);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Whether name starts with module (such as "pooler.") or has it after a
 * prefix ("bert.pooler."). */
static bool in_module(const char *name, const char *module)
{
    size_t n = strlen(module);
    if (strncmp(name, module, n) == 0) return true;
    for (const char *p = strchr(name, '.'); p; p = strchr(p + 1, '.'))
        if (strncmp(p + 1, module, n) == 0) return true;
    return false;
}

/* Whether name is matched by one of the "|"-separated patterns of the
 * family table's ignored column: "m." a module, ".x" a name suffix. */
static bool matches_ignored(const char *name, const char *patterns)
{
    char pat[128];
    for (const char *p = patterns; *p;) {
        size_t n = strcspn(p, "|");
        snprintf(pat, sizeof pat, "%.*s", (int)n, p);
        if (n && (pat[0] == '.' ? ends_with(name, pat) : in_module(name, pat))) return true;
        p += n + (p[n] == '|');
    }
    return false;
}

/* Checkpoint tensors that a correct load leaves unread, as transformers
 * does when it builds the same model from the folder: buffers saved beside
 * the weights (position_ids, token_type_ids; the family's own, such as
 * GPT-2's causal masks), heads of another task (BERT's pretraining "cls."
 * heads: the family table's ignored column), an encoder's pooler that the
 * model does not use (a sentence-transformers model pools itself), and the
 * second copy of a tied table (lm_head = the token embedding; BART/Marian's
 * shared table saved under several names). */
static bool ignorable(const clf__hf *hf, const char *name)
{
    const clf_model_config *c = &hf->hc.cfg;
    if (ends_with(name, "position_ids") || ends_with(name, "embeddings.token_type_ids"))
        return true;
    /* Sinusoidal tables that some checkpoints save (Marian): computed, not read. */
    if (c->positions != CLF_POS_LEARNED && ends_with(name, "embed_positions.weight")) return true;
    if (matches_ignored(name, hf->ignored)) return true;
    if (c->kind == CLF_MODEL_ENCODER && !c->pooler && in_module(name, "pooler.")) return true;
    if (c->tied_embeddings && ends_with(name, "lm_head.weight")) return true;
    if (hf->hc.shared_embeddings &&
        (ends_with(name, "shared.weight") || ends_with(name, "encoder.embed_tokens.weight") ||
         ends_with(name, "decoder.embed_tokens.weight")))
        return true;
    return false;
}

clf_status clf__hf_check_unused(const clf__hf *hf, clf_context *ctx, const char *dir)
{
    clf__unused u;
    memset(&u, 0, sizeof u);
    for (size_t k = 0; k < hf->n_shards; k++) {
        const clf__safetensors *sh = hf->shards[k];
        for (size_t i = 0; i < sh->n_tensors; i++) {
            const char *name = sh->tensors[i].name;
            if (hf->used[k][i] || ignorable(hf, name)) continue;
            /* A copy that the index places in another shard is not the
             * checkpoint's tensor: that one is (and was read there). */
            const placed *p = hf->placed ? find_placed(hf, name) : NULL;
            if (p && p->file != k) continue;
            clf__unused_add(&u, name);
        }
    }
    return clf__unused_report(&u, ctx, dir);
}

/* ------------------------------- open ------------------------------- */

/* The family table's columns that this file reads (hf_config.h). */
typedef struct family_map {
    clf_status (*names)(clf__hf *hf, clf_context *ctx);
    const char *prefixes, *ignored;
} family_map;

#define FAMILY_ROW(id, mt, archs, parse, names, pre, ign) [CLF__HF_##id] = {names_##names, pre, ign},
static const family_map FAMILIES[CLF__HF_N_FAMILIES] = {CLF__HF_FAMILIES(FAMILY_ROW)};
#undef FAMILY_ROW

static clf_status open_all(clf__hf *hf, clf_context *ctx, const char *dir)
{
    char *text = NULL, err[512];
    size_t len = 0;
    CLF_TRY(read_text(ctx, dir, "config.json", false, &text, &len));
    clf_status s = clf__hf_parse_config(text, len, &hf->hc, err, sizeof err);
    clf__free(text);
    if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s: %s", dir, err);
    CLF_TRY(open_modules(hf, ctx, dir));
    CLF_TRY(open_weights(hf, ctx, dir));
    clf_model_config *c = &hf->hc.cfg;
    const family_map *f = &FAMILIES[hf->hc.family];
    hf->prefixes = f->prefixes;
    hf->ignored = f->ignored;
    CLF_TRY(f->names(hf, ctx));
    if (c->kind == CLF_MODEL_ENCODER) {
        /* sentence-transformers pool the token states themselves; a BertModel
         * saved without its pooler (or a family without one) has none. */
        if (hf->mods.sentence_transformers || !clf__hf_has(hf, "pooler.weight"))
            c->pooler = hf->hc.classifier;
        c->normalize = hf->mods.normalize;
        if (!hf->mods.sentence_transformers)
            hf->pooling = c->pooler || hf->hc.classifier ? CLF_POOL_FIRST : CLF_POOL_NONE;
        if (hf->hc.classifier && hf->pooling != CLF_POOL_FIRST)
            return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                              "clf_model_load: %s: a classification head after %s pooling", dir,
                              hf->pooling == CLF_POOL_MEAN ? "mean" : "no");
    }
    return CLF_OK;
}

clf_status clf__hf_open(clf_context *ctx, const char *dir, clf__hf **out)
{
    *out = NULL;
    clf__hf *hf = clf__calloc(1, sizeof *hf);
    if (!hf) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_load: out of memory");
    clf_status s = open_all(hf, ctx, dir);
    if (s != CLF_OK) {
        clf__hf_free(hf);
        return s;
    }
    *out = hf;
    return CLF_OK;
}

void clf__hf_free(clf__hf *hf)
{
    if (!hf) return;
    for (size_t i = 0; i < hf->n_e; i++)
        clf__free(hf->e[i].data);
    clf__free(hf->e);
    for (size_t i = 0; i < hf->n_shards; i++) {
        clf__safetensors_free(hf->shards[i]);
        clf__free(hf->used[i]);
    }
    clf__free(hf->shards);
    clf__free(hf->used);
    clf__free(hf->placed);
    clf__hf_index_clear(&hf->index);
    clf__hf_config_clear(&hf->hc);
    clf__free(hf);
}

const clf_model_config *clf__hf_model_config(const clf__hf *hf) { return &hf->hc.cfg; }
const clf__hf_config *clf__hf_config_of(const clf__hf *hf) { return &hf->hc; }
clf_pooling clf__hf_pooling(const clf__hf *hf) { return hf->pooling; }
bool clf__hf_sentence_transformers(const clf__hf *hf) { return hf->mods.sentence_transformers; }
