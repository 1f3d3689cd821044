/*
 * Random models: the values of each weight of clf_model_create_random
 * (model.c builds the stacks through the loader, with this as the source of
 * the values instead of a file) and the built-in configs.
 */
#include <math.h>
#include <string.h>

#include "model/model_internal.h"

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* FNV-1a: the tensor's stream, so that values do not depend on load order. */
static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xCBF29CE484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001B3ull;
    return h;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

void clf__random_tensor(uint64_t seed, const char *name, int ndim, int64_t fan_in, uint64_t *stream,
                        float *lo, float *hi)
{
    uint64_t s = seed ^ name_hash(name);
    *stream = splitmix64(&s);
    bool is_norm = strstr(name, "norm") || strstr(name, "ln_f");
    bool is_embed = strstr(name, "embed") || strstr(name, "wte") || strstr(name, "wpe");
    float center = 0.0f, half = 0.02f;
    if (ndim == 2 && is_embed && !strstr(name, "out_proj"))
        half = 0.05f;
    else if (ndim == 2)
        half = fan_in > 0 ? (float)(1.0 / sqrt((double)fan_in)) : 0.02f;
    else if (is_norm && ends_with(name, "weight"))
        center = 1.0f, half = 0.05f;
    *lo = center - half;
    *hi = center + half;
}

/* ============================== presets ============================== */

static void base(clf_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->norm_type = CLF_NORM_LAYER;
    c->eps = 1e-5f;
    c->embedding_scale = 1.0f;
    c->attn_bias = c->ffn_bias = c->norm_bias = true;
    c->pad_id = c->bos_id = c->eos_id = -1;
}

clf_status clf_model_config_preset(const char *name, clf_model_config *out)
{
    static const char *const known = "\"bert-base\", \"transformer-base\", \"gpt2-small\", \"tiny\"";
    if (!name || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_model_config_preset: NULL argument");
    clf_model_config c;
    base(&c);
    if (strcmp(name, "bert-base") == 0) {
        c.kind = CLF_MODEL_ENCODER;
        c.encoder_layers = 12;
        c.d_model = 768;
        c.n_heads = 12;
        c.d_ff = 3072;
        c.activation = CLF_ACT_GELU;
        c.eps = 1e-12f;
        c.positions = CLF_POS_LEARNED;
        c.max_positions = 512;
        c.vocab = 30522;
        c.pad_id = 0;
    } else if (strcmp(name, "transformer-base") == 0) {
        c.kind = CLF_MODEL_ENCODER_DECODER;
        c.encoder_layers = c.decoder_layers = 6;
        c.d_model = 512;
        c.n_heads = 8;
        c.d_ff = 2048;
        c.activation = CLF_ACT_RELU;
        c.positions = CLF_POS_SINUSOIDAL;
        c.vocab = 32000;
        c.embedding_scale = sqrtf(512.0f);
        c.encoder_final_norm = c.decoder_final_norm = true;
        c.output_bias = true;
        c.pad_id = 0;
        c.bos_id = 1;
        c.eos_id = 2;
    } else if (strcmp(name, "gpt2-small") == 0) {
        c.kind = CLF_MODEL_DECODER;
        c.decoder_layers = 12;
        c.d_model = 768;
        c.n_heads = 12;
        c.d_ff = 3072;
        c.activation = CLF_ACT_GELU_TANH;
        c.norm_first = true;
        c.positions = CLF_POS_LEARNED;
        c.max_positions = 1024;
        c.vocab = 50257;
        c.tied_embeddings = true;
        c.decoder_final_norm = true;
        c.bos_id = c.eos_id = 50256;
    } else if (strcmp(name, "tiny") == 0) {
        c.kind = CLF_MODEL_DECODER;
        c.decoder_layers = 1;
        c.d_model = 32;
        c.n_heads = 2;
        c.d_ff = 64;
        c.activation = CLF_ACT_GELU;
        c.norm_first = true;
        c.positions = CLF_POS_LEARNED;
        c.max_positions = 64;
        c.vocab = 50;
        c.decoder_final_norm = true;
        c.output_bias = true;
        c.pad_id = 0;
        c.bos_id = 1;
        c.eos_id = 2;
    } else {
        return clf__error(NULL, CLF_ERR_NOT_FOUND,
                          "clf_model_config_preset: unknown config \"%s\" (known: %s)", name,
                          known);
    }
    *out = c;
    return CLF_OK;
}
