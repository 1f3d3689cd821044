/*
 * Model configs: clformer's __metadata__ keys and the checks every config
 * passes at load (see model_config.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/model_config.h"

/* What a metadata reader needs for its lookups and messages. */
typedef struct meta {
    clf_context *ctx;
    const clf__safetensors *st;
    const char *path;
} meta;

static clf_status missing(const meta *M, const char *key)
{
    return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                      "clf_model_load: %s: __metadata__ has no \"%s\" (and no config was given)",
                      M->path, key);
}

/* An integer key in [lo, hi]. Absent: *v unchanged (an error if required).
 * strtoll alone would take " 12", "+12" and "12abc"'s prefix; strtod (as
 * before) took "4294967298", which a cast to int then cut to 2. */
static clf_status meta_int(const meta *M, const char *key, bool required, int64_t lo, int64_t hi,
                           int64_t *v)
{
    const char *s = clf__st_meta_get(M->st, key);
    if (!s) return required ? missing(M, key) : CLF_OK;
    const char *d = s + (s[0] == '-');
    bool digits = *d != '\0';
    for (const char *p = d; *p; p++)
        digits = digits && isdigit((unsigned char)*p);
    if (!digits)
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"%s\" = \"%.40s\" is not an integer",
                          M->path, key, s);
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno == ERANGE || x < lo || x > hi)
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"%s\" = %.40s is outside %lld..%lld",
                          M->path, key, s, (long long)lo, (long long)hi);
    *v = x;
    return CLF_OK;
}

/* A finite number key in [lo, hi] (lo excluded when open_lo). */
static clf_status meta_num(const meta *M, const char *key, double lo, bool open_lo, double hi,
                           double *v)
{
    const char *s = clf__st_meta_get(M->st, key);
    if (!s) return CLF_OK;
    char *end = NULL;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || isspace((unsigned char)s[0]) || errno == ERANGE || !isfinite(x))
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"%s\" = \"%.40s\" is not a finite number",
                          M->path, key, s);
    if (x < lo || (open_lo && x == lo) || x > hi)
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"%s\" = %.40s is outside %s%g, %g]",
                          M->path, key, s, open_lo ? "(" : "[", lo, hi);
    *v = x;
    return CLF_OK;
}

static clf_status meta_bool(const meta *M, const char *key, bool *v)
{
    const char *s = clf__st_meta_get(M->st, key);
    if (!s) return CLF_OK;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0)
        *v = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0)
        *v = false;
    else
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"%s\" = \"%.40s\" is not true/false",
                          M->path, key, s);
    return CLF_OK;
}

/* A word key: the index of s in words (NULL-terminated; several words may
 * map to one value through vals), def when absent. */
static clf_status meta_word(const meta *M, const char *key, const char *const *words,
                            const int *vals, int def, int *v)
{
    const char *s = clf__st_meta_get(M->st, key);
    *v = def;
    if (!s) return CLF_OK;
    for (int i = 0; words[i]; i++)
        if (strcmp(s, words[i]) == 0) {
            *v = vals[i];
            return CLF_OK;
        }
    char list[256] = "";
    size_t at = 0;
    for (int i = 0; words[i] && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? ", " : "", words[i]);
    return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                      "clf_model_load: %s: metadata \"%s\" = \"%.40s\" is not one of %s", M->path,
                      key, s, list);
}

static clf_status enums_from_meta(const meta *M, clf_model_config *c)
{
    static const char *const kinds[] = {"encoder", "decoder-only", "decoder", "encoder-decoder",
                                        "seq2seq", NULL};
    static const int kind_v[] = {CLF_MODEL_ENCODER, CLF_MODEL_DECODER, CLF_MODEL_DECODER,
                                 CLF_MODEL_ENCODER_DECODER, CLF_MODEL_ENCODER_DECODER};
    static const char *const acts[] = {"relu", "gelu", "gelu_tanh", "gelu_new", "silu", "swish",
                                       NULL};
    static const int act_v[] = {CLF_ACT_RELU,      CLF_ACT_GELU, CLF_ACT_GELU_TANH,
                                CLF_ACT_GELU_TANH, CLF_ACT_SILU, CLF_ACT_SILU};
    static const char *const poss[] = {"sinusoid_interleaved", "sinusoidal", "sinusoid_concat",
                                       "learned", "none", NULL};
    static const int pos_v[] = {CLF_POS_SINUSOIDAL, CLF_POS_SINUSOIDAL,
                                CLF_POS_SINUSOIDAL_CONCAT, CLF_POS_LEARNED, CLF_POS_NONE};
    static const char *const norms[] = {"layer", "layernorm", "rms", "rmsnorm", NULL};
    static const int norm_v[] = {CLF_NORM_LAYER, CLF_NORM_LAYER, CLF_NORM_RMS, CLF_NORM_RMS};
    int v = 0;
    if (!clf__st_meta_get(M->st, "kind")) return missing(M, "kind");
    CLF_TRY(meta_word(M, "kind", kinds, kind_v, 0, &v));
    c->kind = (clf_model_kind)v;
    CLF_TRY(meta_word(M, "activation", acts, act_v, CLF_ACT_RELU, &v));
    c->activation = (clf_act)v;
    CLF_TRY(meta_word(M, "positions", poss, pos_v, CLF_POS_SINUSOIDAL, &v));
    c->positions = (clf_pos_type)v;
    CLF_TRY(meta_word(M, "norm_type", norms, norm_v, CLF_NORM_LAYER, &v));
    c->norm_type = (clf_norm_type)v;
    return CLF_OK;
}

static clf_status sizes_from_meta(const meta *M, clf_model_config *c)
{
    bool s2s = c->kind == CLF_MODEL_ENCODER_DECODER;
    int64_t layers = 0, el = 0, dl = 0, nh = 0, ids[3] = {-1, -1, -1};
    CLF_TRY(meta_int(M, "layers", !s2s, 1, CLF__MAX_LAYERS, &layers));
    CLF_TRY(meta_int(M, "encoder_layers", s2s, 1, CLF__MAX_LAYERS, &el));
    CLF_TRY(meta_int(M, "decoder_layers", s2s, 1, CLF__MAX_LAYERS, &dl));
    if (c->kind == CLF_MODEL_ENCODER) el = layers;
    if (c->kind == CLF_MODEL_DECODER) dl = layers;
    c->encoder_layers = (int)el;
    c->decoder_layers = (int)dl;
    CLF_TRY(meta_int(M, "d_model", true, 1, CLF__MAX_D_MODEL, &c->d_model));
    CLF_TRY(meta_int(M, "nhead", true, 1, CLF__MAX_D_MODEL, &nh));
    if (c->d_model % nh)
        return clf__error(M->ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_load: %s: metadata \"nhead\" = %lld does not divide "
                          "\"d_model\" = %lld",
                          M->path, (long long)nh, (long long)c->d_model);
    c->n_heads = (int)nh;
    CLF_TRY(meta_int(M, "d_ff", true, 1, CLF__MAX_D_FF, &c->d_ff));
    CLF_TRY(meta_int(M, "vocab", true, 1, CLF__MAX_VOCAB, &c->vocab));
    CLF_TRY(meta_int(M, "max_positions", false, 0, CLF__MAX_POSITIONS, &c->max_positions));
    CLF_TRY(meta_int(M, "position_offset", false, 0, CLF__MAX_POSITIONS, &c->position_offset));
    static const char *const id_keys[3] = {"pad_id", "bos_id", "eos_id"};
    for (int i = 0; i < 3; i++)
        CLF_TRY(meta_int(M, id_keys[i], false, -1, c->vocab - 1, &ids[i]));
    c->pad_id = (int32_t)ids[0];
    c->bos_id = (int32_t)ids[1];
    c->eos_id = (int32_t)ids[2];
    CLF_TRY(meta_int(M, "n_classes", false, 0, CLF__MAX_CLASSES, &c->n_classes));
    double eps = 1e-5, scale = 1.0;
    CLF_TRY(meta_num(M, "eps", CLF__MIN_EPS, false, CLF__MAX_EPS, &eps));
    CLF_TRY(meta_num(M, "embedding_scale", 0, true, CLF__MAX_EMBEDDING_SCALE, &scale));
    c->eps = (float)eps;
    c->embedding_scale = (float)scale;
    return CLF_OK;
}

clf_status clf__config_from_meta(clf_context *ctx, const clf__safetensors *st, const char *path,
                                 clf_model_config *c)
{
    const meta M = {ctx, st, path};
    memset(c, 0, sizeof *c);
    CLF_TRY(enums_from_meta(&M, c));
    CLF_TRY(sizes_from_meta(&M, c));

    bool final_norm = c->kind == CLF_MODEL_ENCODER_DECODER;
    CLF_TRY(meta_bool(&M, "final_norm", &final_norm));
    c->encoder_final_norm = c->kind != CLF_MODEL_DECODER && final_norm;
    c->decoder_final_norm = c->kind != CLF_MODEL_ENCODER && final_norm;
    CLF_TRY(meta_bool(&M, "encoder_final_norm", &c->encoder_final_norm));
    CLF_TRY(meta_bool(&M, "decoder_final_norm", &c->decoder_final_norm));
    CLF_TRY(meta_bool(&M, "norm_first", &c->norm_first));
    c->tied_embeddings = false;
    CLF_TRY(meta_bool(&M, "tied_embeddings", &c->tied_embeddings));
    c->attn_bias = c->ffn_bias = true;
    c->norm_bias = c->norm_type == CLF_NORM_LAYER;
    CLF_TRY(meta_bool(&M, "attn_bias", &c->attn_bias));
    CLF_TRY(meta_bool(&M, "ffn_bias", &c->ffn_bias));
    CLF_TRY(meta_bool(&M, "norm_bias", &c->norm_bias));
    /* Without a key, the output bias exists when its tensor does. */
    c->output_bias = !c->tied_embeddings &&
                     (clf__st_find(st, "out_proj.bias") || clf__st_find(st, "lm_head.bias"));
    CLF_TRY(meta_bool(&M, "lm_head_bias", &c->output_bias));
    CLF_TRY(meta_bool(&M, "output_bias", &c->output_bias));
    CLF_TRY(meta_bool(&M, "embedding_norm", &c->embedding_norm));
    CLF_TRY(meta_bool(&M, "pooler", &c->pooler));
    CLF_TRY(meta_bool(&M, "normalize", &c->normalize));
    return CLF_OK;
}

/* ------------------------------ checks ------------------------------ */

/* "field = v is outside lo..hi" into bad, or false when v is inside. */
static bool outside(char *bad, size_t size, const char *field, int64_t v, int64_t lo, int64_t hi)
{
    if (v >= lo && v <= hi) return false;
    snprintf(bad, size, "%s = %lld is outside %lld..%lld", field, (long long)v, (long long)lo,
             (long long)hi);
    return true;
}

/* The first problem of c's sizes and ids, or "" when there is none. */
static void check_sizes(const clf_model_config *c, char *bad, size_t n)
{
    bool enc = c->kind != CLF_MODEL_DECODER, dec = c->kind != CLF_MODEL_ENCODER;
    bool learned = c->positions == CLF_POS_LEARNED;
    const int32_t ids[3] = {c->pad_id, c->bos_id, c->eos_id};
    static const char *const id_names[3] = {"pad_id", "bos_id", "eos_id"};
    bad[0] = '\0';
    if ((enc && outside(bad, n, "encoder_layers", c->encoder_layers, 1, CLF__MAX_LAYERS)) ||
        (dec && outside(bad, n, "decoder_layers", c->decoder_layers, 1, CLF__MAX_LAYERS)) ||
        outside(bad, n, "d_model", c->d_model, 1, CLF__MAX_D_MODEL) ||
        outside(bad, n, "n_heads", c->n_heads, 1, c->d_model) ||
        outside(bad, n, "d_ff", c->d_ff, 1, CLF__MAX_D_FF) ||
        outside(bad, n, "vocab", c->vocab, 1, CLF__MAX_VOCAB) ||
        outside(bad, n, "max_positions", c->max_positions, learned, CLF__MAX_POSITIONS) ||
        outside(bad, n, "position_offset", c->position_offset, 0,
                learned ? c->max_positions - 1 : CLF__MAX_POSITIONS) ||
        outside(bad, n, "n_classes", c->n_classes, 0, CLF__MAX_CLASSES))
        return;
    if (c->d_model % c->n_heads) {
        snprintf(bad, n, "n_heads = %d does not divide d_model = %lld (heads must divide it)",
                 c->n_heads, (long long)c->d_model);
        return;
    }
    for (int i = 0; i < 3; i++)
        if (outside(bad, n, id_names[i], ids[i], -1, c->vocab - 1)) return;
}

clf_status clf__config_check(clf_context *ctx, const char *path, const clf_model_config *c)
{
    char bad[160] = "";
    if ((unsigned)c->kind > CLF_MODEL_ENCODER_DECODER)
        snprintf(bad, sizeof bad, "kind = %d is not a clf_model_kind", (int)c->kind);
    else if ((unsigned)c->activation > CLF_ACT_TANH)
        snprintf(bad, sizeof bad, "activation = %d is not a clf_act", (int)c->activation);
    else if ((unsigned)c->positions > CLF_POS_SINUSOIDAL_CONCAT)
        snprintf(bad, sizeof bad, "positions = %d is not a clf_pos_type", (int)c->positions);
    else if ((unsigned)c->norm_type > CLF_NORM_RMS)
        snprintf(bad, sizeof bad, "norm_type = %d is not a clf_norm_type", (int)c->norm_type);
    else if (!isfinite(c->eps) || c->eps < CLF__MIN_EPS || c->eps > CLF__MAX_EPS)
        snprintf(bad, sizeof bad, "eps = %g is outside [%g, %g]", (double)c->eps, CLF__MIN_EPS,
                 CLF__MAX_EPS);
    else if (!isfinite(c->embedding_scale) || c->embedding_scale <= 0 ||
             c->embedding_scale > CLF__MAX_EMBEDDING_SCALE)
        snprintf(bad, sizeof bad, "embedding_scale = %g is outside (0, %g]",
                 (double)c->embedding_scale, CLF__MAX_EMBEDDING_SCALE);
    else if (c->norm_type == CLF_NORM_RMS && c->norm_bias)
        snprintf(bad, sizeof bad, "RMSNorm has no bias");
    else if ((c->pooler || c->normalize) && c->kind != CLF_MODEL_ENCODER)
        snprintf(bad, sizeof bad, "pooler and normalize are for encoder-only models");
    else
        check_sizes(c, bad, sizeof bad);
    if (bad[0])
        return clf__error(ctx, CLF_ERR_BAD_MODEL, "clf_model_load: %s: bad config: %s", path,
                          bad);
    return CLF_OK;
}
