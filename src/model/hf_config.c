/*
 * HuggingFace config.json (and sentence-transformers / shard index JSON) to
 * clformer's model config; see hf_config.h. json-c parses, this file
 * validates every key it uses against the family's conventions.
 */
#include <json-c/json.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/hf_config.h"
#include "model/model_config.h"

/* The size limits are clformer's for every config (model_config.h): well
 * above any released model, low enough that products of them cannot
 * overflow int64_t and that a hostile file cannot make the loader allocate
 * terabytes before the weights are checked. */
#define MAX_D_MODEL CLF__MAX_D_MODEL /* hidden size, heads */
#define MAX_D_FF CLF__MAX_D_FF       /* FFN inner size */
#define MAX_VOCAB CLF__MAX_VOCAB     /* token rows, token types */
#define MAX_LAYERS CLF__MAX_LAYERS
#define MAX_POS CLF__MAX_POSITIONS
#define MAX_LABELS CLF__MAX_CLASSES
#define MIN_EPS CLF__MIN_EPS
#define MAX_DEPTH 64 /* JSON nesting */
#define MAX_SHARDS 4096

typedef struct jp {
    const char *file; /* for messages: "config.json" */
    char *err;
    size_t err_size;
    clf_status st;
} jp;

static clf_status fail(jp *p, clf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
clf_status clf__hf_failv(const char *file, char *err, size_t err_size, clf_status st,
                         const char *fmt, va_list ap)
{
    char msg[512];
    int n = snprintf(msg, sizeof msg, "%s: ", file);
    vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
    if (err && err_size) snprintf(err, err_size, "%s", msg);
    return clf__error(NULL, st, "%s", msg);
}

static clf_status fail(jp *p, clf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    p->st = clf__hf_failv(p->file, p->err, p->err_size, st, fmt, ap);
    va_end(ap);
    return p->st;
}

/* Parses the whole text as one JSON value (strict RFC 8259, nothing after
 * it but whitespace); *out is a new reference. */
static clf_status parse_json(jp *p, const char *text, size_t len, json_object **out)
{
    *out = NULL;
    if (!text && len) return fail(p, CLF_ERR_INVALID_ARG, "NULL text");
    if (len > CLF__HF_MAX_JSON || len > INT32_MAX)
        return fail(p, CLF_ERR_BAD_MODEL, "%zu bytes (more than %u)", len, CLF__HF_MAX_JSON);
    if (memchr(text, 0, len)) return fail(p, CLF_ERR_BAD_MODEL, "NUL byte in the JSON text");
    json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (!tok) return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(tok, text ? text : "", (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (e == json_tokener_continue && !o)
        return fail(p, CLF_ERR_BAD_MODEL, "not valid JSON: unexpected end of text");
    if (e != json_tokener_success || !o) {
        json_object_put(o);
        return fail(p, CLF_ERR_BAD_MODEL, "not valid JSON: %s (at byte %zu)",
                    json_tokener_error_desc(e), end);
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", text[i])) {
            json_object_put(o);
            return fail(p, CLF_ERR_BAD_MODEL, "text after the JSON value (at byte %zu)", i);
        }
    *out = o;
    return CLF_OK;
}

static const char *type_name(json_object *v)
{
    return v ? json_type_to_name(json_object_get_type(v)) : "null";
}

/* Key k of object o, or NULL when absent or null. */
static json_object *get(json_object *o, const char *k)
{
    json_object *v = NULL;
    if (!json_object_object_get_ex(o, k, &v)) return NULL;
    return v;
}

/* An integer key in [lo, hi]; absent (or null) gives def unless required. */
static clf_status get_int(jp *p, json_object *o, const char *k, bool required, int64_t def,
                          int64_t lo, int64_t hi, int64_t *v)
{
    json_object *x = get(o, k);
    if (!x) {
        if (required) return fail(p, CLF_ERR_BAD_MODEL, "missing key \"%s\"", k);
        *v = def;
        return CLF_OK;
    }
    if (!json_object_is_type(x, json_type_int))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not an integer", k, type_name(x));
    errno = 0;
    int64_t n = json_object_get_int64(x);
    if (errno || n < lo || n > hi)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" = %s is outside %lld..%lld", k,
                    json_object_to_json_string(x), (long long)lo, (long long)hi);
    *v = n;
    return CLF_OK;
}

/* A token id: absent or null = -1; else 0 <= id < vocab. */
static clf_status get_id(jp *p, json_object *o, const char *k, int64_t vocab, int32_t *v)
{
    int64_t n = -1;
    CLF_TRY(get_int(p, o, k, false, -1, 0, vocab - 1, &n));
    *v = (int32_t)n;
    return CLF_OK;
}

static clf_status get_num(jp *p, json_object *o, const char *k, double def, double lo, double hi,
                          double *v)
{
    json_object *x = get(o, k);
    if (!x) {
        *v = def;
        return CLF_OK;
    }
    if (!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not a number", k, type_name(x));
    double d = json_object_get_double(x);
    if (!isfinite(d) || d < lo || d > hi)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" = %g is outside [%g, %g]", k, d, lo, hi);
    *v = d;
    return CLF_OK;
}

static clf_status get_bool(jp *p, json_object *o, const char *k, bool def, bool *v)
{
    json_object *x = get(o, k);
    if (!x) {
        *v = def;
        return CLF_OK;
    }
    if (!json_object_is_type(x, json_type_boolean))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not true/false", k, type_name(x));
    *v = json_object_get_boolean(x);
    return CLF_OK;
}

/* A string key (absent/null = def; NULL def and absent = *v NULL). */
static clf_status get_str(jp *p, json_object *o, const char *k, const char *def, const char **v)
{
    json_object *x = get(o, k);
    if (!x) {
        *v = def;
        return CLF_OK;
    }
    if (!json_object_is_type(x, json_type_string))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not a string", k, type_name(x));
    *v = json_object_get_string(x);
    return CLF_OK;
}

/* A key that must hold `want` when present (an option clformer does not
 * implement otherwise). */
static clf_status need_bool(jp *p, json_object *o, const char *k, bool def, bool want)
{
    bool v = def;
    CLF_TRY(get_bool(p, o, k, def, &v));
    if (v != want)
        return fail(p, CLF_ERR_UNSUPPORTED, "\"%s\" = %s is not supported", k,
                    v ? "true" : "false");
    return CLF_OK;
}

static clf_status activation(jp *p, json_object *o, const char *k, const char *def, clf_act *a)
{
    const char *s = def;
    CLF_TRY(get_str(p, o, k, def, &s));
    if (strcmp(s, "gelu") == 0)
        *a = CLF_ACT_GELU;
    else if (strcmp(s, "gelu_new") == 0 || strcmp(s, "gelu_pytorch_tanh") == 0)
        *a = CLF_ACT_GELU_TANH;
    else if (strcmp(s, "relu") == 0)
        *a = CLF_ACT_RELU;
    else if (strcmp(s, "silu") == 0 || strcmp(s, "swish") == 0)
        *a = CLF_ACT_SILU;
    else
        return fail(p, CLF_ERR_UNSUPPORTED,
                    "\"%s\" = \"%.60s\" is not supported (gelu, gelu_new, gelu_pytorch_tanh, "
                    "relu, silu, swish)",
                    k, s);
    return CLF_OK;
}

static clf_status heads_divide(jp *p, int64_t d, const char *dk, int64_t h, const char *hk)
{
    if (d % h)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" = %lld is not a multiple of \"%s\" = %lld", dk,
                    (long long)d, hk, (long long)h);
    return CLF_OK;
}

/* ---------------------------- families ---------------------------- */

/* id2label {"0": "NEG", ...} (keys exactly 0..n-1), else num_labels
 * (default 2) with names LABEL_i. */
static clf_status labels(jp *p, json_object *o, clf__hf_config *c)
{
    json_object *m = get(o, "id2label");
    int64_t n = 0;
    if (m) {
        if (!json_object_is_type(m, json_type_object))
            return fail(p, CLF_ERR_BAD_MODEL, "\"id2label\" is a %s, not an object",
                        type_name(m));
        n = json_object_object_length(m);
        if (n < 1 || n > MAX_LABELS)
            return fail(p, CLF_ERR_BAD_MODEL, "\"id2label\" has %lld entries (1..%d)",
                        (long long)n, MAX_LABELS);
    } else {
        CLF_TRY(get_int(p, o, "num_labels", false, 2, 1, MAX_LABELS, &n));
    }
    int64_t nl = n;
    if (m && get(o, "num_labels")) {
        CLF_TRY(get_int(p, o, "num_labels", false, n, 1, MAX_LABELS, &nl));
        if (nl != n)
            return fail(p, CLF_ERR_BAD_MODEL, "\"num_labels\" = %lld but \"id2label\" has %lld",
                        (long long)nl, (long long)n);
    }
    c->labels = clf__calloc((size_t)n, sizeof *c->labels);
    if (!c->labels) return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
    c->cfg.n_classes = n;
    for (int64_t i = 0; i < n; i++) {
        char key[24], def[32];
        snprintf(key, sizeof key, "%lld", (long long)i);
        snprintf(def, sizeof def, "LABEL_%lld", (long long)i);
        const char *name = def;
        if (m) {
            json_object *v = get(m, key);
            if (!v)
                return fail(p, CLF_ERR_BAD_MODEL, "\"id2label\" has no key \"%s\" (ids 0..%lld)",
                            key, (long long)n - 1);
            if (!json_object_is_type(v, json_type_string))
                return fail(p, CLF_ERR_BAD_MODEL, "\"id2label\"[\"%s\"] is a %s, not a string",
                            key, type_name(v));
            name = json_object_get_string(v);
        }
        c->labels[i] = clf__strdup(name);
        if (!c->labels[i]) return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
    }
    return CLF_OK;
}

/* BERT and its RoBERTa / XLM-R copies (the same keys and layout). */
static clf_status parse_bert(jp *p, json_object *o, clf__hf_config *c)
{
    clf_model_config *m = &c->cfg;
    int64_t L = 0, H = 0;
    const char *pe = NULL;
    double eps = 0;
    m->kind = CLF_MODEL_ENCODER;
    CLF_TRY(get_int(p, o, "vocab_size", true, 0, 1, MAX_VOCAB, &m->vocab));
    CLF_TRY(get_int(p, o, "hidden_size", true, 0, 1, MAX_D_MODEL, &m->d_model));
    CLF_TRY(get_int(p, o, "num_hidden_layers", true, 0, 1, MAX_LAYERS, &L));
    CLF_TRY(get_int(p, o, "num_attention_heads", true, 0, 1, MAX_D_MODEL, &H));
    CLF_TRY(heads_divide(p, m->d_model, "hidden_size", H, "num_attention_heads"));
    CLF_TRY(get_int(p, o, "intermediate_size", true, 0, 1, MAX_D_FF, &m->d_ff));
    CLF_TRY(get_int(p, o, "max_position_embeddings", true, 0, 1, MAX_POS, &m->max_positions));
    CLF_TRY(get_int(p, o, "type_vocab_size", false, 2, 1, MAX_VOCAB, &c->type_vocab));
    CLF_TRY(activation(p, o, "hidden_act", "gelu", &m->activation));
    CLF_TRY(get_num(p, o, "layer_norm_eps", 1e-12, MIN_EPS, CLF__MAX_EPS, &eps));
    CLF_TRY(get_str(p, o, "position_embedding_type", "absolute", &pe));
    if (strcmp(pe, "absolute") != 0)
        return fail(p, CLF_ERR_UNSUPPORTED,
                    "\"position_embedding_type\" = \"%.60s\" is not supported (absolute)", pe);
    CLF_TRY(need_bool(p, o, "is_decoder", false, false));
    CLF_TRY(need_bool(p, o, "add_cross_attention", false, false));
    CLF_TRY(get_id(p, o, "pad_token_id", m->vocab, &m->pad_id));
    m->encoder_layers = (int)L;
    m->n_heads = (int)H;
    m->eps = (float)eps;
    m->positions = CLF_POS_LEARNED;
    m->embedding_norm = true;
    m->pooler = true; /* BertModel's pooler_output; the loader drops it when absent */
    m->bos_id = m->eos_id = -1;
    return CLF_OK;
}

/* RoBERTa and XLM-RoBERTa: BERT's keys, and positions that start at
 * padding_idx + 1 (RobertaEmbeddings.create_position_ids_from_input_ids: a
 * real token t of a right-padded row is at pad_token_id + 1 + t), so the
 * table's first pad_token_id + 1 rows are never read by real tokens. */
static clf_status parse_roberta(jp *p, json_object *o, clf__hf_config *c)
{
    clf_model_config *m = &c->cfg;
    CLF_TRY(parse_bert(p, o, c));
    json_object *pad = NULL;
    if (!json_object_object_get_ex(o, "pad_token_id", &pad)) { /* RobertaConfig's default */
        if (m->vocab < 2)
            return fail(p, CLF_ERR_BAD_MODEL, "no \"pad_token_id\", and the default 1 is not in "
                        "\"vocab_size\" = %lld", (long long)m->vocab);
        m->pad_id = 1;
    }
    if (m->pad_id < 0)
        return fail(p, CLF_ERR_BAD_MODEL, "\"pad_token_id\" is null (RoBERTa positions start "
                    "after the padding index)");
    m->position_offset = (int64_t)m->pad_id + 1;
    if (m->position_offset >= m->max_positions)
        return fail(p, CLF_ERR_BAD_MODEL,
                    "\"max_position_embeddings\" = %lld leaves no position after the padding "
                    "index (\"pad_token_id\" = %d: positions start at %lld)",
                    (long long)m->max_positions, (int)m->pad_id, (long long)m->position_offset);
    return CLF_OK;
}

/* DistilBERT: its own key names, no token types, no pooler, LayerNorm eps
 * fixed at 1e-12 (modeling_distilbert.py). sinusoidal_pos_embds only says
 * how the position table was initialised: the table is a weight of the
 * checkpoint either way, and is read as it is. */
static clf_status parse_distilbert(jp *p, json_object *o, clf__hf_config *c)
{
    clf_model_config *m = &c->cfg;
    int64_t L = 0, H = 0;
    bool sinusoidal = false;
    m->kind = CLF_MODEL_ENCODER;
    CLF_TRY(get_int(p, o, "vocab_size", true, 0, 1, MAX_VOCAB, &m->vocab));
    CLF_TRY(get_int(p, o, "dim", true, 0, 1, MAX_D_MODEL, &m->d_model));
    CLF_TRY(get_int(p, o, "n_layers", true, 0, 1, MAX_LAYERS, &L));
    CLF_TRY(get_int(p, o, "n_heads", true, 0, 1, MAX_D_MODEL, &H));
    CLF_TRY(heads_divide(p, m->d_model, "dim", H, "n_heads"));
    CLF_TRY(get_int(p, o, "hidden_dim", true, 0, 1, MAX_D_FF, &m->d_ff));
    CLF_TRY(get_int(p, o, "max_position_embeddings", true, 0, 1, MAX_POS, &m->max_positions));
    CLF_TRY(activation(p, o, "activation", "gelu", &m->activation));
    CLF_TRY(get_bool(p, o, "sinusoidal_pos_embds", false, &sinusoidal));
    CLF_TRY(get_id(p, o, "pad_token_id", m->vocab, &m->pad_id));
    m->encoder_layers = (int)L;
    m->n_heads = (int)H;
    m->eps = 1e-12f;
    m->positions = CLF_POS_LEARNED;
    m->embedding_norm = true;
    m->bos_id = m->eos_id = -1;
    c->type_vocab = 0;
    return CLF_OK;
}

static clf_status parse_gpt2(jp *p, json_object *o, clf__hf_config *c)
{
    clf_model_config *m = &c->cfg;
    int64_t L = 0, H = 0;
    double eps = 0;
    m->kind = CLF_MODEL_DECODER;
    CLF_TRY(get_int(p, o, "vocab_size", true, 0, 1, MAX_VOCAB, &m->vocab));
    CLF_TRY(get_int(p, o, "n_embd", true, 0, 1, MAX_D_MODEL, &m->d_model));
    CLF_TRY(get_int(p, o, "n_layer", true, 0, 1, MAX_LAYERS, &L));
    CLF_TRY(get_int(p, o, "n_head", true, 0, 1, MAX_D_MODEL, &H));
    CLF_TRY(heads_divide(p, m->d_model, "n_embd", H, "n_head"));
    CLF_TRY(get_int(p, o, "n_inner", false, 4 * m->d_model, 1, MAX_D_FF, &m->d_ff));
    CLF_TRY(get_int(p, o, "n_positions", true, 0, 1, MAX_POS, &m->max_positions));
    CLF_TRY(activation(p, o, "activation_function", "gelu_new", &m->activation));
    CLF_TRY(get_num(p, o, "layer_norm_epsilon", 1e-5, MIN_EPS, CLF__MAX_EPS, &eps));
    CLF_TRY(need_bool(p, o, "scale_attn_weights", true, true));
    CLF_TRY(need_bool(p, o, "scale_attn_by_inverse_layer_idx", false, false));
    CLF_TRY(need_bool(p, o, "add_cross_attention", false, false));
    CLF_TRY(get_bool(p, o, "tie_word_embeddings", true, &m->tied_embeddings));
    CLF_TRY(get_id(p, o, "bos_token_id", m->vocab, &m->bos_id));
    CLF_TRY(get_id(p, o, "eos_token_id", m->vocab, &m->eos_id));
    CLF_TRY(get_id(p, o, "pad_token_id", m->vocab, &m->pad_id));
    m->decoder_layers = (int)L;
    m->n_heads = (int)H;
    m->eps = (float)eps;
    m->norm_first = true;
    m->positions = CLF_POS_LEARNED;
    m->decoder_final_norm = true;
    return CLF_OK;
}

/* BART and Marian share their keys. */
static clf_status bart_like(jp *p, json_object *o, clf__hf_config *c, bool marian)
{
    clf_model_config *m = &c->cfg;
    int64_t el = 0, dl = 0, eh = 0, dh = 0, ef = 0, df = 0, dv = 0;
    bool scale = false, pre = false;
    m->kind = CLF_MODEL_ENCODER_DECODER;
    CLF_TRY(get_int(p, o, "vocab_size", true, 0, 1, MAX_VOCAB, &m->vocab));
    CLF_TRY(get_int(p, o, "d_model", true, 0, 1, MAX_D_MODEL, &m->d_model));
    CLF_TRY(get_int(p, o, "encoder_layers", true, 0, 1, MAX_LAYERS, &el));
    CLF_TRY(get_int(p, o, "decoder_layers", true, 0, 1, MAX_LAYERS, &dl));
    CLF_TRY(get_int(p, o, "encoder_attention_heads", true, 0, 1, MAX_D_MODEL, &eh));
    CLF_TRY(get_int(p, o, "decoder_attention_heads", true, 0, 1, MAX_D_MODEL, &dh));
    CLF_TRY(heads_divide(p, m->d_model, "d_model", eh, "encoder_attention_heads"));
    if (eh != dh)
        return fail(p, CLF_ERR_UNSUPPORTED,
                    "\"encoder_attention_heads\" = %lld != \"decoder_attention_heads\" = %lld is "
                    "not supported",
                    (long long)eh, (long long)dh);
    CLF_TRY(get_int(p, o, "encoder_ffn_dim", true, 0, 1, MAX_D_FF, &ef));
    CLF_TRY(get_int(p, o, "decoder_ffn_dim", true, 0, 1, MAX_D_FF, &df));
    if (ef != df)
        return fail(p, CLF_ERR_UNSUPPORTED,
                    "\"encoder_ffn_dim\" = %lld != \"decoder_ffn_dim\" = %lld is not supported",
                    (long long)ef, (long long)df);
    CLF_TRY(get_int(p, o, "max_position_embeddings", true, 0, 1, MAX_POS, &m->max_positions));
    CLF_TRY(activation(p, o, "activation_function", "gelu", &m->activation));
    CLF_TRY(get_bool(p, o, "scale_embedding", false, &scale));
    CLF_TRY(get_bool(p, o, "normalize_before", false, &pre));
    if (pre) return fail(p, CLF_ERR_UNSUPPORTED, "\"normalize_before\" = true is not supported");
    CLF_TRY(need_bool(p, o, "add_final_layer_norm", false, false));
    CLF_TRY(get_bool(p, o, "tie_word_embeddings", true, &m->tied_embeddings));
    CLF_TRY(get_id(p, o, "pad_token_id", m->vocab, &m->pad_id));
    CLF_TRY(get_id(p, o, "eos_token_id", m->vocab, &m->eos_id));
    /* Generation starts from decoder_start_token_id (BART: EOS, Marian: PAD). */
    int32_t start = -1;
    CLF_TRY(get_id(p, o, "decoder_start_token_id", m->vocab, &start));
    if (start < 0) start = marian ? m->pad_id : m->eos_id;
    if (start < 0)
        return fail(p, CLF_ERR_BAD_MODEL,
                    "no \"decoder_start_token_id\" (nor a %s id to start from)",
                    marian ? "pad_token_id" : "eos_token_id");
    m->bos_id = start;
    c->shared_embeddings = true;
    if (marian) {
        CLF_TRY(get_bool(p, o, "share_encoder_decoder_embeddings", true, &c->shared_embeddings));
        CLF_TRY(get_int(p, o, "decoder_vocab_size", false, m->vocab, 1, MAX_VOCAB, &dv));
        if (dv != m->vocab)
            return fail(p, CLF_ERR_UNSUPPORTED,
                        "\"decoder_vocab_size\" = %lld != \"vocab_size\" = %lld is not supported",
                        (long long)dv, (long long)m->vocab);
        m->positions = CLF_POS_SINUSOIDAL_CONCAT;
    } else {
        m->positions = CLF_POS_LEARNED;
        m->position_offset = 2; /* BartLearnedPositionalEmbedding */
        m->max_positions += 2;
        m->embedding_norm = true; /* layernorm_embedding */
    }
    m->encoder_layers = (int)el;
    m->decoder_layers = (int)dl;
    m->n_heads = (int)eh;
    m->d_ff = ef;
    m->eps = 1e-5f;
    m->embedding_scale = scale ? (float)sqrt((double)m->d_model) : 1.0f;
    m->output_bias = true; /* final_logits_bias */
    return CLF_OK;
}

static clf_status parse_bart(jp *p, json_object *o, clf__hf_config *c)
{
    return bart_like(p, o, c, false);
}

static clf_status parse_marian(jp *p, json_object *o, clf__hf_config *c)
{
    return bart_like(p, o, c, true);
}

/* ------------------------------ config ------------------------------ */

typedef clf_status (*parse_fn)(jp *p, json_object *o, clf__hf_config *c);

/* The family table's columns that this file reads (hf_config.h). */
typedef struct family {
    const char *model_type;
    const char *archs; /* "|"-separated, the base model first */
    parse_fn parse;
} family;

#define FAMILY_ROW(id, mt, archs, parse, names, pre, ign) [CLF__HF_##id] = {mt, archs, parse_##parse},
static const family FAMILIES[CLF__HF_N_FAMILIES] = {CLF__HF_FAMILIES(FAMILY_ROW)};
#undef FAMILY_ROW

static const char CLASSIFIER_SUFFIX[] = "ForSequenceClassification";

const char *clf__hf_supported(char *buf, size_t size)
{
    size_t at = 0;
    if (!buf || !size) return buf;
    buf[0] = '\0';
    for (size_t f = 0; f < CLF__HF_N_FAMILIES; f++)
        for (const char *a = FAMILIES[f].archs; *a;) {
            size_t n = strcspn(a, "|");
            if (at < size)
                at += (size_t)snprintf(buf + at, size - at, "%s%.*s", at ? ", " : "", (int)n, a);
            a += n + (a[n] == '|');
        }
    return buf;
}

/* The family whose table row lists architecture an (or whose model_type is
 * mt when an is NULL): its index, the architecture's name copied into c;
 * -1 when none. */
static int find_family(const char *an, const char *mt, clf__hf_config *c)
{
    for (int f = 0; f < CLF__HF_N_FAMILIES; f++) {
        const char *archs = FAMILIES[f].archs;
        if (!an) {
            if (strcmp(mt, FAMILIES[f].model_type) != 0) continue;
            snprintf(c->architecture, sizeof c->architecture, "%.*s",
                     (int)strcspn(archs, "|"), archs);
            return f;
        }
        for (const char *a = archs; *a;) {
            size_t n = strcspn(a, "|");
            if (strlen(an) == n && strncmp(an, a, n) == 0) {
                snprintf(c->architecture, sizeof c->architecture, "%s", an);
                return f;
            }
            a += n + (a[n] == '|');
        }
    }
    return -1;
}

void clf__hf_config_clear(clf__hf_config *c)
{
    if (!c) return;
    for (int64_t i = 0; c->labels && i < c->cfg.n_classes; i++)
        clf__free(c->labels[i]);
    clf__free(c->labels);
    memset(c, 0, sizeof *c);
}

static clf_status config(jp *p, json_object *o, clf__hf_config *c)
{
    char sup[1024];
    if (!json_object_is_type(o, json_type_object))
        return fail(p, CLF_ERR_BAD_MODEL, "the top level is a %s, not an object", type_name(o));
    const char *mt = NULL, *an = NULL;
    CLF_TRY(get_str(p, o, "model_type", NULL, &mt));
    json_object *as = get(o, "architectures");
    if (as) {
        if (!json_object_is_type(as, json_type_array) || json_object_array_length(as) < 1)
            return fail(p, CLF_ERR_BAD_MODEL, "\"architectures\" is not a non-empty array");
        json_object *a0 = json_object_array_get_idx(as, 0);
        if (!json_object_is_type(a0, json_type_string))
            return fail(p, CLF_ERR_BAD_MODEL, "\"architectures\"[0] is a %s, not a string",
                        type_name(a0));
        an = json_object_get_string(a0);
    }
    if (!an && !mt)
        return fail(p, CLF_ERR_BAD_MODEL,
                    "neither \"architectures\" nor \"model_type\" says what the model is "
                    "(supported: %s)",
                    clf__hf_supported(sup, sizeof sup));
    int f = find_family(an, mt, c);
    if (f < 0)
        return fail(p, CLF_ERR_UNSUPPORTED, "%s \"%.80s\" is not supported (supported: %s)",
                    an ? "architecture" : "model_type", an ? an : mt,
                    clf__hf_supported(sup, sizeof sup));
    snprintf(c->model_type, sizeof c->model_type, "%s", mt ? mt : "");
    c->family = (clf__hf_family)f;
    c->cfg.pad_id = c->cfg.bos_id = c->cfg.eos_id = -1;
    c->cfg.attn_bias = c->cfg.ffn_bias = c->cfg.norm_bias = true;
    c->cfg.norm_type = CLF_NORM_LAYER;
    c->cfg.embedding_scale = 1.0f;
    CLF_TRY(FAMILIES[f].parse(p, o, c));
    size_t an_len = strlen(c->architecture), sl = sizeof CLASSIFIER_SUFFIX - 1;
    if (an_len > sl && strcmp(c->architecture + an_len - sl, CLASSIFIER_SUFFIX) == 0) {
        /* The table's rule (hf_config.h): only encoders take this head. */
        if (c->cfg.kind != CLF_MODEL_ENCODER)
            return fail(p, CLF_ERR_UNSUPPORTED, "%s: a classification head on a model that is "
                        "not an encoder", c->architecture);
        c->classifier = true;
        CLF_TRY(labels(p, o, c));
    }
    return CLF_OK;
}

clf_status clf__hf_parse_config(const char *text, size_t len, clf__hf_config *out, char *err,
                                size_t err_size)
{
    jp p = {"config.json", err, err_size, CLF_OK};
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(&p, CLF_ERR_INVALID_ARG, "NULL out");
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    CLF_TRY(parse_json(&p, text, len, &o));
    clf_status st = config(&p, o, out);
    json_object_put(o);
    if (st != CLF_OK) clf__hf_config_clear(out);
    return st;
}

/* ------------------------ sentence-transformers ------------------------ */

static clf_status modules(jp *p, json_object *o, clf__hf_modules *out)
{
    if (!json_object_is_type(o, json_type_array))
        return fail(p, CLF_ERR_BAD_MODEL, "the top level is a %s, not an array", type_name(o));
    size_t n = json_object_array_length(o);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(o, i);
        if (!json_object_is_type(e, json_type_object))
            return fail(p, CLF_ERR_BAD_MODEL, "entry %zu is a %s, not an object", i,
                        type_name(e));
        const char *type = NULL, *path = NULL;
        CLF_TRY(get_str(p, e, "type", NULL, &type));
        CLF_TRY(get_str(p, e, "path", "", &path));
        if (!type) return fail(p, CLF_ERR_BAD_MODEL, "entry %zu has no \"type\"", i);
        const char *dot = strrchr(type, '.');
        const char *cls = dot ? dot + 1 : type;
        if (strcmp(cls, "Transformer") == 0) {
            if (path[0])
                return fail(p, CLF_ERR_UNSUPPORTED,
                            "a Transformer module in \"%.80s\" (only the folder itself)", path);
        } else if (strcmp(cls, "Pooling") == 0) {
            /* A relative folder name: no parent references, no absolute path. */
            if (!path[0] || path[0] == '/' || strstr(path, "..") ||
                strlen(path) >= sizeof out->pooling_path)
                return fail(p, CLF_ERR_BAD_MODEL, "Pooling module path \"%.80s\" is not a plain "
                            "relative folder", path);
            snprintf(out->pooling_path, sizeof out->pooling_path, "%s", path);
        } else if (strcmp(cls, "Normalize") == 0) {
            out->normalize = true;
        } else {
            return fail(p, CLF_ERR_UNSUPPORTED,
                        "module type \"%.80s\" is not supported (Transformer, Pooling, Normalize)",
                        type);
        }
    }
    out->sentence_transformers = true;
    return CLF_OK;
}

clf_status clf__hf_parse_modules(const char *text, size_t len, clf__hf_modules *out, char *err,
                                 size_t err_size)
{
    jp p = {"modules.json", err, err_size, CLF_OK};
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(&p, CLF_ERR_INVALID_ARG, "NULL out");
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    CLF_TRY(parse_json(&p, text, len, &o));
    clf_status st = modules(&p, o, out);
    json_object_put(o);
    if (st != CLF_OK) memset(out, 0, sizeof *out);
    return st;
}

clf_status clf__hf_parse_pooling(const char *text, size_t len, int64_t d_model, clf_pooling *out,
                                 char *err, size_t err_size)
{
    jp p = {"pooling config.json", err, err_size, CLF_OK};
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(&p, CLF_ERR_INVALID_ARG, "NULL out");
    *out = CLF_POOL_NONE;
    json_object *o = NULL;
    CLF_TRY(parse_json(&p, text, len, &o));
    clf_status st = CLF_OK;
    bool cls = false, mean = false, other = false;
    int64_t dim = 0;
    if (!json_object_is_type(o, json_type_object))
        st = fail(&p, CLF_ERR_BAD_MODEL, "the top level is a %s, not an object", type_name(o));
    if (st == CLF_OK)
        st = get_int(&p, o, "word_embedding_dimension", false, d_model, 1, MAX_D_MODEL, &dim);
    if (st == CLF_OK && dim != d_model)
        st = fail(&p, CLF_ERR_BAD_MODEL,
                  "\"word_embedding_dimension\" = %lld but the model's hidden size is %lld",
                  (long long)dim, (long long)d_model);
    if (st == CLF_OK) st = get_bool(&p, o, "pooling_mode_cls_token", false, &cls);
    if (st == CLF_OK) st = get_bool(&p, o, "pooling_mode_mean_tokens", false, &mean);
    static const char *const others[] = {"pooling_mode_max_tokens",
                                         "pooling_mode_mean_sqrt_len_tokens",
                                         "pooling_mode_weightedmean_tokens",
                                         "pooling_mode_lasttoken"};
    for (size_t i = 0; st == CLF_OK && i < CLF_ARRAY_LEN(others); i++) {
        bool v = false;
        st = get_bool(&p, o, others[i], false, &v);
        if (st == CLF_OK && v)
            st = fail(&p, CLF_ERR_UNSUPPORTED, "\"%s\" = true is not supported", others[i]);
        other = other || v;
    }
    if (st == CLF_OK && cls == mean)
        st = fail(&p, CLF_ERR_UNSUPPORTED,
                  "exactly one of pooling_mode_cls_token and pooling_mode_mean_tokens must be "
                  "true (they are %s and %s)",
                  cls ? "true" : "false", mean ? "true" : "false");
    if (st == CLF_OK) *out = mean ? CLF_POOL_MEAN : CLF_POOL_FIRST;
    json_object_put(o);
    return st;
}

/* ----------------------------- shard index ----------------------------- */

void clf__hf_index_clear(clf__hf_index *x)
{
    if (!x) return;
    for (size_t i = 0; x->files && i < x->n_files; i++)
        clf__free(x->files[i]);
    for (size_t i = 0; x->weight_names && i < x->n_weights; i++)
        clf__free(x->weight_names[i]);
    clf__free(x->files);
    clf__free(x->weight_names);
    clf__free(x->weight_file);
    memset(x, 0, sizeof *x);
}

static clf_status index_map(jp *p, json_object *o, clf__hf_index *x)
{
    if (!json_object_is_type(o, json_type_object))
        return fail(p, CLF_ERR_BAD_MODEL, "the top level is a %s, not an object", type_name(o));
    json_object *wm = get(o, "weight_map");
    if (!wm) return fail(p, CLF_ERR_BAD_MODEL, "missing key \"weight_map\"");
    if (!json_object_is_type(wm, json_type_object))
        return fail(p, CLF_ERR_BAD_MODEL, "\"weight_map\" is a %s, not an object", type_name(wm));
    size_t n = (size_t)json_object_object_length(wm);
    if (n < 1) return fail(p, CLF_ERR_BAD_MODEL, "\"weight_map\" is empty");
    x->weight_names = clf__calloc(n, sizeof *x->weight_names);
    x->weight_file = clf__calloc(n, sizeof *x->weight_file);
    x->files = clf__calloc(n, sizeof *x->files);
    if (!x->weight_names || !x->weight_file || !x->files)
        return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
    json_object_object_foreach(wm, key, val)
    {
        if (!json_object_is_type(val, json_type_string))
            return fail(p, CLF_ERR_BAD_MODEL, "\"weight_map\"[\"%.80s\"] is a %s, not a string",
                        key, type_name(val));
        const char *f = json_object_get_string(val);
        size_t fl = strlen(f);
        if (!fl || fl > 255 || strchr(f, '/') || strchr(f, '\\') || strcmp(f, ".") == 0 ||
            strcmp(f, "..") == 0)
            return fail(p, CLF_ERR_BAD_MODEL,
                        "\"weight_map\"[\"%.80s\"] = \"%.80s\" is not a plain file name", key, f);
        size_t k = 0;
        while (k < x->n_files && strcmp(x->files[k], f) != 0)
            k++;
        if (k == x->n_files) {
            if (k == MAX_SHARDS)
                return fail(p, CLF_ERR_BAD_MODEL, "more than %d shard files", MAX_SHARDS);
            x->files[k] = clf__strdup(f);
            if (!x->files[k]) return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
            x->n_files++;
        }
        x->weight_names[x->n_weights] = clf__strdup(key);
        if (!x->weight_names[x->n_weights])
            return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
        x->weight_file[x->n_weights++] = k;
    }
    return CLF_OK;
}

clf_status clf__hf_parse_index(const char *text, size_t len, clf__hf_index *out, char *err,
                               size_t err_size)
{
    jp p = {"model.safetensors.index.json", err, err_size, CLF_OK};
    if (err && err_size) err[0] = '\0';
    if (!out) return fail(&p, CLF_ERR_INVALID_ARG, "NULL out");
    memset(out, 0, sizeof *out);
    json_object *o = NULL;
    CLF_TRY(parse_json(&p, text, len, &o));
    clf_status st = index_map(&p, o, out);
    json_object_put(o);
    if (st != CLF_OK) clf__hf_index_clear(out);
    return st;
}

/* hf_config.h: the strict parse for the other JSON files of a folder
 * (gen_config.c), with this file's rules and messages. */
clf_status clf__hf_parse_json(const char *file, const char *text, size_t len, json_object **out,
                              char *err, size_t err_size)
{
    jp p = {file, err, err_size, CLF_OK};
    return parse_json(&p, text, len, out);
}
