/*
 * clformer models: encoder, decoder-only and encoder-decoder transformer
 * stacks loaded from a safetensors file and run as graphs.
 *
 * A model owns its weights (uploaded once, f32 or f16 storage), its config
 * and info, and one default per-use state for the calls below
 * (clf_model_encode, decode, generate): the self-attention KV cache of every
 * decoder layer, the cross-attention K/V of the last encoded source and the
 * graphs of its stacks (built and compiled on first use, for the maxima
 * given at load). Sessions (session.h) are more such states on the same
 * weights: any number of them, each used by its own thread, all sharing one
 * copy of the weights.
 *
 * On a context whose kernel profile is the CPU family, the f32, f16 or Q8
 * weights of every layer's self-attention projections and FFN, and the
 * decoder's output head, are stored packed for the CPU kernels after load
 * (ops.h, clf_gemm_pack_b: the same values, another layout, the same bytes
 * up to padding); a tied head stays one copy, which the token embedding
 * reads packed. Cross-attention weights, other embeddings, encoder heads
 * and Q4 weights stay as loaded. The environment variable CLFORMER_PACK=0, read at load, keeps
 * every weight plain (for comparisons).
 *
 * Threads: the model's own calls (clf_model_load, create_random, encode,
 * decode and generate) run on its context (and on params.encoder_ctx when
 * it is placed on two) and keep the rule of those contexts (context.h,
 * "Threads"): they enter every context of the model, so a second thread
 * gets CLF_ERR_BUSY whether it calls the model or one of its contexts
 * directly, even when the context is otherwise idle. To use one model from
 * several threads at once, give each thread a session (clf_session_create,
 * any thread, any time): sessions run on forks of the model's contexts and
 * are never refused because another thread is inside the model.
 * clf_model_get_config, clf_model_get_info, clf_model_generate_defaults and
 * clf_model_max_new_tokens read what never changes after load: any thread,
 * any time. The weights are never written after load.
 *
 * Graphs:
 *   encoder   ids (B, S) + lengths (B) -> hidden (B*S, D): embedding * scale
 *             + positions, layers (self-attention with key padding, FFN,
 *             residuals, post- or pre-LN), optional final norm; optional
 *             pooling (first token or mean over real tokens) and a
 *             classification head. One graph for every B <= max_batch and
 *             S <= max_source_len.
 *   cross     memory (b*S, D) -> each decoder layer's cross K/V, written into
 *             the model's cross cache once per source (encoder-decoder).
 *   step      ids (b, n) at a position p -> logits (b*n, V) and argmax: the
 *             decoder on n new tokens per sequence, appending their K/V to
 *             the cache at [p, p + n) and attending causally to [0, p + n);
 *             n = 1 is one incremental step, n = prefix length a prefill.
 *             The batch b is a constant of the graph (KV appends need a fixed
 *             batch), so one step graph is compiled per batch size used.
 *             clf_model_generate on a decoder-only model uses the step's
 *             last-only form: the final norm and the LM head take only each
 *             sequence's last position (logits (b, V)), so a prompt of n
 *             tokens costs one LM-head row, not n, and no (b*n, V) logits.
 * A pass (encode, one decode step) enqueues its whole graph without any host
 * synchronisation; only the read of its results blocks.
 *
 * Names understood by clf_model_load (prefix P = the stack's prefix):
 *   encoder stack P: "encoder.", "transformer.encoder."; decoder-only: "h.",
 *   "decoder.", "transformer.h."; decoder of an encoder-decoder:
 *   "transformer.decoder.", "decoder.".
 *   P"layers.N.self_attn.in_proj_weight" (3D, D) = [Wq; Wk; Wv] (used as
 *   row views, no copies) and "in_proj_bias", "self_attn.out_proj.{weight,
 *   bias}", "multihead_attn.*" (cross-attention, same layout), "linear1.*",
 *   "linear2.*", "norm1", "norm2", "norm3" ({weight, bias}); final norms
 *   P"norm.*" or "ln_f.*" (decoder-only).
 *   Embeddings: encoder "embed.weight" | "src_embed.weight" |
 *   "encoder.embed_tokens.weight"; decoder "tgt_embed.weight" | "wte.weight"
 *   | "embed.weight" | "decoder.embed_tokens.weight"; learned positions
 *   "wpe.weight" | "pos_embed.weight" (encoder: "src_pos_embed.weight");
 *   output projection "out_proj.*" | "lm_head.*" (absent and tied: the
 *   decoder's token embedding); classification head "classifier.*".
 *   torch.nn.Transformer / TransformerEncoderLayer / TransformerDecoderLayer
 *   state_dicts under these prefixes load as they are.
 * Config: from the file's "__metadata__" (keys of tests/golden/make_golden.py:
 *   kind, layers | encoder_layers + decoder_layers, d_model, nhead, d_ff,
 *   activation, norm_first, norm_type, eps, vocab, positions, max_positions,
 *   position_offset, embedding_scale, final_norm, tied_embeddings, pad_id,
 *   bos_id, eos_id), or from params->config when given.
 */
#ifndef CLFORMER_MODEL_H
#define CLFORMER_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "ops.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_model clf_model; /* opaque */

/* ================================ config ================================ */

typedef enum clf_model_kind {
    CLF_MODEL_ENCODER = 0,         /* encoder only (classification, embeddings) */
    CLF_MODEL_DECODER = 1,         /* decoder only, causal (GPT) */
    CLF_MODEL_ENCODER_DECODER = 2, /* seq2seq */
} clf_model_kind;

typedef struct clf_model_config {
    clf_model_kind kind;
    int encoder_layers;             /* 0 for a decoder-only model */
    int decoder_layers;             /* 0 for an encoder-only model */
    int64_t d_model;                /* D */
    int n_heads;                    /* D / n_heads = head dim */
    int64_t d_ff;                   /* FFN inner size */
    clf_act activation;             /* FFN activation */
    bool norm_first;                /* false = post-LN (x = norm(x + f(x))), true = pre-LN */
    clf_norm_type norm_type;        /* LayerNorm or RMSNorm */
    float eps;                      /* 0 = 1e-5 */
    clf_pos_type positions;         /* CLF_POS_SINUSOIDAL, _SINUSOIDAL_CONCAT, _LEARNED or _NONE */
    int64_t position_offset;        /* position of the first token (BART: 2, RoBERTa: pad + 1) */
    int64_t max_positions;          /* rows of a learned table; 0 = no limit for sinusoids */
    int64_t vocab;                  /* V */
    bool tied_embeddings;           /* output projection = decoder token embedding^T */
    float embedding_scale;          /* token embedding multiplier (sqrt(D) in the paper); 0 = 1.0 */
    bool encoder_final_norm;        /* a norm after the last encoder layer (nn.Transformer: yes) */
    bool decoder_final_norm;        /* a norm after the last decoder layer (nn.Transformer: yes) */
    bool attn_bias;                 /* Q/K/V and output projections have biases */
    bool ffn_bias;                  /* linear1/linear2 have biases */
    bool norm_bias;                 /* LayerNorms have a beta (RMSNorm never) */
    bool output_bias;               /* the output projection has a bias */
    int32_t pad_id, bos_id, eos_id; /* -1 = none */
    int64_t n_classes;              /* rows of the classification head; 0 = none */
    /* Appended for HuggingFace models (all false in older configs). */
    bool embedding_norm; /* a norm on the embedding sum of each stack, before the first layer
                            (BERT embeddings.LayerNorm, BART layernorm_embedding) */
    bool pooler;         /* encoder: pooled = tanh(pooled Wp^T + bp) before the classifier
                            (BERT's pooler on the first token) */
    bool normalize;      /* encoder: pooled vectors are L2-normalised when read
                            (sentence-transformers Normalize) */
} clf_model_config;

/* ================================= load ================================= */

typedef struct clf_model_params {
    clf_dtype weight_dtype;         /* the weight type: storage of matrices and embeddings,
                                       CLF_F32 (0), CLF_F16 or CLF_Q8; norms and biases stay
                                       f32. CLF_Q8 (tensor.h): the layers' projections (Q/K/V,
                                       attention output, FFN) are quantised on the host at
                                       load (int8, a scale per output channel), and so is a
                                       decoder's output head (lm_head, or the token
                                       embedding tied to it, which clf_embedding then
                                       gathers from Q8 rows): the largest matrix a decode
                                       step reads (GPT-2 small: 38.6 M of 124 M weights).
                                       The other embeddings (position, an encoder's or an
                                       untied decoder's token table) and the pooler and
                                       classifier stay f16 (a Q8 pooler took BERT's pooled
                                       error from 1% to 4%). A
                                       layer matrix whose Q8 RMS relative error is above 1%
                                       (outliers: MiniLM's FFN output projections) stays
                                       f16 too; clf_model_info lists each matrix's error and
                                       storage. CLF_Q4: the same matrices as 4-bit groups
                                       (tensor.h "Q4"); a matrix whose Q4 RMS relative error
                                       is above 12% falls back to Q8 (then f16 above 1%); the
                                       output head is Q8 (not Q4), the rest as for CLF_Q8. The CLI's --f16 is --weights f16. */
    const clf_model_config *config; /* NULL = read from the file's __metadata__ */
    int64_t max_batch;              /* largest batch (beams included) of any call; 0 = 8 */
    int64_t max_source_len;         /* longest encoder input; 0 = 128. At most the rows of a
                                       learned position table: larger is clamped there */
    int64_t max_target_len;         /* KV cache capacity per sequence (prompt + generated);
                                       0 = 128. At most the rows of a learned position table
                                       (less position_offset): larger is clamped there */
    /* Placement: the context (device) of the encoder stack; NULL (or the
     * model's own context) = the model's context. The encoder's weights,
     * graph and pooling / classification head live there; the decoder, the
     * cross-attention K/V projection, the caches and the output head live on
     * the context given to clf_model_load. The encoder output (memory)
     * crosses to the decoder's device through host staging: one blocking
     * read on encoder_ctx (its only host sync per source) then a
     * non-blocking write on the model's context. A decoder-only model has no
     * encoder to place: a non-NULL encoder_ctx different from the model's is
     * CLF_ERR_INVALID_ARG. Both contexts must outlive the model; errors of
     * ops run on encoder_ctx are also reported by its
     * clf_context_last_error(). */
    clf_context *encoder_ctx;
} clf_model_params;

CLF_API clf_model_params clf_model_params_default(void);

/* Loads the model at path onto ctx: a safetensors file (names above, config
 * from its __metadata__ or params->config), or a HuggingFace model folder.
 * A missing tensor or one of the wrong shape is CLF_ERR_BAD_MODEL naming it;
 * an unreadable file CLF_ERR_IO; a config that cannot work (D not divisible
 * by the heads, a missing metadata key) CLF_ERR_BAD_MODEL naming the key.
 * Every config value is range-checked at load, naming the key: layers per
 * stack 1..1024, d_model 1..65536 (the heads dividing it), d_ff 1..2^20,
 * vocab 1..2^24, max_positions and position_offset 0..2^20, token ids -1
 * (none) or in [0, vocab), eps finite in [1e-30, 1], embedding_scale in
 * (0, 1e6]; metadata integers are plain decimal integers. Weight tensors of
 * the file (names ending in "weight" or "bias"; of a HuggingFace checkpoint,
 * all but known buffers, unused heads and tied copies) that the config
 * leaves unread are CLF_ERR_BAD_MODEL listing the first few: the config and
 * the checkpoint disagree. A weight file truncated while it loads is
 * CLF_ERR_BAD_MODEL naming it (files are read, never mapped); a path that is
 * a FIFO or a device (model file, config.json, ...) is CLF_ERR_IO at once.
 * Nothing is compiled yet. On failure *out is NULL.
 *
 * HuggingFace folders: config.json plus model.safetensors, or
 * model.safetensors.index.json and the shards its weight_map names (each
 * shard a plain file name in the folder; a tensor is read from the shard
 * its weight_map names, even when another shard holds a copy). Weights F32,
 * F16 or BF16.
 * params->config is ignored: the config comes from config.json. Families,
 * chosen by architectures[0] (or model_type when there is none):
 *   BertModel, BertForSequenceClassification (model_type "bert"): encoder,
 *     post-LN, learned positions, token type 0 added to every token (its
 *     row is folded into the position table; other types are not
 *     supported), embedding LayerNorm, hidden_act, layer_norm_eps; the
 *     pooler (dense + tanh on token 0) when the checkpoint has one; the
 *     classifier with id2label names (clf_model_info). The checkpoint's
 *     names with or without the "bert." prefix.
 *   RobertaModel, RobertaForSequenceClassification (model_type "roberta"),
 *   XLMRobertaModel, XLMRobertaForSequenceClassification ("xlm-roberta"):
 *     as BERT (token type 0 folded in, type_vocab_size 1 in released
 *     models), with positions starting at pad_token_id + 1 (config
 *     position_offset; pad_token_id 1 when absent), so an input may have
 *     max_position_embeddings - pad_token_id - 1 tokens. transformers counts
 *     positions over the tokens that are not the pad id; clformer gives token
 *     t of a row position offset + t, which is the same for right-padded
 *     rows whose real tokens never equal the pad id (a pad id inside a real
 *     sequence shifts transformers' positions after it, not clformer's).
 *     The classification head (dense + tanh on token 0, then out_proj) is
 *     the pooler and classifier. The names with or without "roberta.".
 *   DistilBertModel ("distilbert"): encoder, post-LN, learned positions (the
 *     table is read from the checkpoint also when sinusoidal_pos_embds is
 *     true), no token types, no pooler (default pooling CLF_POOL_NONE),
 *     activation, LayerNorm eps 1e-12. DistilBertForSequenceClassification
 *     (a dense + ReLU head) is not supported.
 *   sentence-transformers folders (modules.json with Transformer, Pooling
 *     and optional Normalize modules; PATH/config.json of the Pooling
 *     module, mean or CLS pooling) of any encoder family above: the encoder
 *     without its pooler whose default pooling is the module's and whose
 *     pooled vectors are L2-normalised when a Normalize module follows
 *     (config.normalize).
 *   GPT2LMHeadModel: decoder-only, pre-LN, learned positions (n_positions),
 *     Conv1D weights (stored (in, out)) transposed at load, tied head
 *     unless tie_word_embeddings is false, activation_function (gelu_new =
 *     tanh GELU), layer_norm_epsilon.
 *   BartForConditionalGeneration: encoder-decoder, post-LN, learned
 *     positions with offset 2, layernorm_embedding in both stacks,
 *     scale_embedding (sqrt(d_model)), final_logits_bias as the output
 *     bias, tied head; generation starts from decoder_start_token_id
 *     (config bos_id). forced_bos_token_id / forced_eos_token_id come
 *     with the generation settings (clf_model_generate_defaults).
 *   MarianMTModel: as BART but sinusoidal positions in Marian's [sin | cos]
 *     layout (CLF_POS_SINUSOIDAL_CONCAT), no embedding norm, decoder start =
 *     decoder_start_token_id (the pad id in released models). Released
 *     configs ban the pad token in generate (bad_words_ids): it is banned
 *     when the caller starts from clf_model_generate_defaults.
 * An unknown architecture is CLF_ERR_UNSUPPORTED and the message lists the
 * supported ones; options those families do not implement (mBART's
 * normalize_before, relative positions, ...) are CLF_ERR_UNSUPPORTED naming
 * the key; missing keys, wrong JSON types, negative or inconsistent sizes
 * and a vocabulary that does not match the embedding's shape are
 * CLF_ERR_BAD_MODEL naming the key or tensor (with its checkpoint name). */
CLF_API clf_status clf_model_load(clf_context *ctx, const char *path,
                                  const clf_model_params *params, clf_model **out);
/* Builds a model of config cfg with random weights, uploaded directly (no
 * file): the same stacks, caches and graphs as clf_model_load (params->config
 * is ignored; weight_dtype and the maxima apply). Deterministic from seed
 * (each tensor's values depend only on seed and its name): matrices uniform
 * in +-1/sqrt(fan_in), token and position embeddings uniform in +-0.05, norm
 * gammas 1 +- 0.05, norm betas and biases uniform in +-0.02. Which optional
 * tensors exist follows cfg (attn_bias, ffn_bias, norm_bias, output_bias,
 * n_classes: classifier weight and bias). For benchmarks, memory figures and
 * soak tests. On failure *out is NULL. */
CLF_API clf_status clf_model_create_random(clf_context *ctx, const clf_model_config *cfg,
                                           const clf_model_params *params, uint64_t seed,
                                           clf_model **out);
/* Built-in configs: "bert-base" (encoder, 12 layers, D 768, 12 heads, F 3072,
 * gelu, post-LN, eps 1e-12, learned positions 512, vocab 30522),
 * "transformer-base" (encoder-decoder 6 + 6, D 512, 8 heads, F 2048, relu,
 * post-LN, sinusoidal, embedding scale sqrt(D), vocab 32000, final norms as
 * nn.Transformer), "gpt2-small" (decoder-only, 12 layers, D 768, 12 heads,
 * F 3072, gelu_tanh, pre-LN, learned positions 1024, vocab 50257, tied
 * embeddings, final norm), "tiny" (decoder-only, 1 layer, D 32, 2 heads, F 64,
 * vocab 50, pre-LN, learned positions 64; pad 0, bos 1, eos 2; for tests).
 * Biases everywhere except the tied output projection. An unknown name is
 * CLF_ERR_NOT_FOUND, clf_context_last_error(NULL) listing the known ones. */
CLF_API clf_status clf_model_config_preset(const char *name, clf_model_config *out);
/* Frees weights, graphs and caches. NULL is a no-op. */
CLF_API void clf_model_free(clf_model *m);
/* The model's configuration (valid while the model lives). */
CLF_API const clf_model_config *clf_model_get_config(const clf_model *m);

typedef enum clf_pooling {
    CLF_POOL_NONE = 0,
    CLF_POOL_FIRST = 1,   /* hidden of token 0 */
    CLF_POOL_MEAN = 2,    /* mean of hidden over the real tokens t < lengths[b] */
    CLF_POOL_DEFAULT = 3, /* the model's own: clf_model_info.pooling */
} clf_pooling;

/* What a loaded model is and how it is meant to be used; strings and arrays
 * are owned by the model and valid while it lives. */
/* One layer matrix of a Q8 or Q4 model: its quantisation error (tensor.h,
 * clf_quant_error: max and RMS error relative to the matrix's values; of Q4
 * when stored as Q4, else of Q8) and how it was stored: CLF_Q4, CLF_Q8, or
 * CLF_F16 when the RMS relative error was above the limits (weights with
 * outliers: see weight_dtype). */
typedef struct clf_weight_quant {
    const char *name;      /* the checkpoint's tensor name */
    int64_t rows, cols;    /* (out, in) */
    clf_quant_error error;
    clf_dtype stored;      /* CLF_Q4, CLF_Q8 or CLF_F16 */
} clf_weight_quant;

typedef struct clf_model_info {
    const char *architecture;  /* config.json architectures[0] ("BertModel", ...); "" for a
                                  safetensors file or random weights */
    const char *model_type;    /* config.json model_type; "" when none */
    bool sentence_transformers; /* the folder has a sentence-transformers modules.json */
    clf_pooling pooling;       /* what CLF_POOL_DEFAULT stands for: the Pooling module's
                                  (sentence-transformers), CLF_POOL_FIRST for a BERT with a
                                  pooler or a classifier, else CLF_POOL_NONE */
    int64_t n_labels;          /* = config n_classes */
    const char *const *labels; /* (n_labels) class names (id2label, "LABEL_i" when the config
                                  has none); NULL for a model without labels */
    /* Appended: the weights as stored. */
    clf_dtype weight_dtype;    /* params.weight_dtype */
    size_t weight_bytes;       /* device bytes of the weights (Q8 scales included; the KV
                                  caches and graph arenas not) */
    int64_t n_weight_quant;    /* layer matrices quantised at load (0 unless weight_dtype is
                                  CLF_Q8 or CLF_Q4), each stored as weight_quant says */
    const clf_weight_quant *weight_quant; /* (n_weight_quant), in load order; NULL when none */
} clf_model_info;

/* The model's info (valid while the model lives); NULL for a NULL model. */
CLF_API const clf_model_info *clf_model_get_info(const clf_model *m);

/* ================================ encode ================================ */

/*
 * Runs the encoder on ids (B, S) (host, row-major, right-padded), lengths
 * (B) in 1..S (NULL = all S). B <= max_batch, S <= max_source_len. Any of
 * the outputs may be NULL:
 *   hidden (B, S, D): the encoder output (after the final norm); rows
 *                     t >= lengths[b] are meaningless: an encoder-only
 *                     model runs its layers on the real tokens alone and
 *                     fills them with a copy of row 0 of their sequence
 *                     (CLFORMER_PACK_TOKENS=0: computed on the padding);
 *   pooled (B, D):    by `pooling` (CLF_POOL_DEFAULT: the model's, see
 *                     clf_model_info), then the pooler (config.pooler: dense +
 *                     tanh), then L2-normalised when config.normalize;
 *   classes (B, C):   the classification head on the pooled vector (after
 *                     the pooler, before any normalisation; needs classifier
 *                     weights and a pooling).
 * For an encoder-decoder model this also computes the cross-attention K/V of
 * every decoder layer for these sources, for the decoder calls that follow.
 */
CLF_API clf_status clf_model_encode(clf_model *m, const int32_t *ids, const int32_t *lengths,
                                    int64_t B, int64_t S, clf_pooling pooling, float *hidden,
                                    float *pooled, float *classes);

/* ================================ decode ================================ */

/* One decoder pass for b sequences on n new tokens each, ids (b, n) at
 * positions [position, position + n): appends their K/V to the cache rows
 * 0..b-1 (earlier positions must have been decoded before, with the same b)
 * and writes logits (b, n, V) and/or argmax (b, n), either may be NULL. For
 * an encoder-decoder model, b must equal the B of the last
 * clf_model_encode(). position + n <= max_target_len. */
CLF_API clf_status clf_model_decode(clf_model *m, const int32_t *ids, int64_t b, int64_t n,
                                    int64_t position, float *logits, int32_t *argmax);

/* Graph memory figures of the last pass of the model's own calls (its
 * default state; a session's are in clf_session_memory): which = 0 encoder,
 * 1 decoder step (of the last batch size used), 2 cross. Zeros when not
 * built. */
CLF_API void clf_model_memory(const clf_model *m, int which, size_t *arena_bytes,
                              size_t *activation_bytes, size_t *lower_bound_bytes);

/* =============================== generate =============================== */

typedef enum clf_decode_strategy {
    CLF_DECODE_GREEDY = 0, /* argmax, lowest id on a tie */
    CLF_DECODE_BEAM = 1,   /* beam search (see clf_model_generate) */
    CLF_DECODE_SAMPLE = 2, /* temperature, top-k, top-p */
} clf_decode_strategy;

/* Beam search rules (clf_model_generate). */
typedef enum clf_beam_rule {
    CLF_BEAM_RULE_DEFAULT = 0,  /* the model's: HF for models from a HuggingFace folder,
                                   CLFORMER otherwise */
    CLF_BEAM_RULE_CLFORMER = 1, /* the walk described at clf_model_generate */
    CLF_BEAM_RULE_HF = 2,       /* HuggingFace generate(num_beams=K, early_stopping=False,
                                   length_penalty=alpha), transformers 4.5x-5.x */
} clf_beam_rule;

/* When beam search (CLF_BEAM_RULE_HF) stops, as transformers' early_stopping. */
typedef enum clf_early_stopping {
    CLF_EARLY_STOPPING_HEURISTIC = 0, /* early_stopping=False: stop when K hypotheses finished
                                         and the best alive lp / step^alpha <= the worst of them */
    CLF_EARLY_STOPPING_ON = 1,        /* early_stopping=True: stop as soon as K finished */
    CLF_EARLY_STOPPING_NEVER = 2,     /* "never": as the heuristic, but with alpha > 0 the best
                                         alive is scored at the longest length (max_new) */
} clf_early_stopping;

/* Every field is range-checked by clf_model_generate: a value outside the
 * range given here is CLF_ERR_INVALID_ARG, the message naming the field, its
 * value and its range (fields of a strategy not in use are checked too: a
 * NaN temperature is never meant). */
typedef struct clf_generate_params {
    clf_decode_strategy strategy; /* CLF_DECODE_GREEDY (0), _BEAM or _SAMPLE */
    int64_t max_new_tokens; /* >= 0; 0 = 16. Fewer are generated when the model's positions run
                               out (see clf_model_max_new_tokens) */
    bool ignore_eos;        /* keep going after EOS (decoder-only tests) */
    int beam_size;          /* 0 = 4, else 1..max_batch (beam only) */
    double length_alpha;    /* score = sum logprob / n^alpha; finite; 0 = 1.0 */
    int n_best;             /* hypotheses returned per input; 0 = 1; more than 1 only with
                               beam search, at most beam_size * (max_new_tokens + 1) (ranks
                               with no hypothesis get length 0, finish CLF_FINISH_NONE) */
    float temperature;      /* > 0 and finite; 0 = 1.0 */
    int top_k;              /* >= 0; 0 = no top-k cut */
    float top_p;            /* in (0, 1]; 0 = 1.0 (no nucleus cut) */
    uint64_t seed;          /* sampling RNG seed */
    /* Called once per generated token, in order (NULL = none). */
    void (*on_token)(void *user, int64_t seq, int64_t step, int32_t token);
    /* Polled before every decoder step; true stops with CLF_ERR_ABORTED. */
    bool (*abort)(void *user);
    void *user;
    clf_beam_rule beam_rule; /* 0 = the model's (see clf_beam_rule), 1 or 2 */
    /* Appended (issue 14): the logits processors of transformers' generate(), applied in its
     * order (repetition penalty, no-repeat n-grams, bad words, min length, min new tokens,
     * forced BOS, forced EOS) to every step's scores before the choice: the logits (greedy,
     * sampling: before temperature, top-k, top-p) or the log-softmax of the logits (beam
     * search, whose lp then sums the processed values, as transformers' beam scores).
     * "Decoder ids" are what transformers calls input_ids at a step: the decoder start token
     * (encoder-decoder) or the prompt (decoder-only), then the tokens generated so far; their
     * count is cur_len. A zeroed tail = every processor off (the behaviour before them). */
    int64_t max_length;      /* >= 0; 0 = none. Used only when max_new_tokens is 0: then
                                max_new_tokens = max_length - prompt (1 or S), at least 1, as
                                transformers' max_length counts the prompt */
    int64_t min_length;      /* >= 0; EOS banned while cur_len < min_length (counts the start
                                token / prompt, as transformers' min_length); 0 = off */
    int64_t min_new_tokens;  /* >= 0; EOS banned while fewer tokens were generated; 0 = off */
    int no_repeat_ngram_size;   /* >= 0; a token that would repeat an n-gram of the decoder ids
                                   is banned; 0 = off */
    float repetition_penalty;   /* > 0 and finite, 0 = 1.0 = off: the score s of every token
                                   in the decoder ids becomes s / p if s > 0, else s * p */
    bool force_bos;             /* at cur_len 1, every token but forced_bos_token_id banned */
    int32_t forced_bos_token_id; /* in [0, vocab) when force_bos */
    bool force_eos;             /* at cur_len = prompt + max_new - 1 (transformers'
                                   max_length - 1, the last step), all but forced_eos_token_id
                                   banned */
    int32_t forced_eos_token_id; /* in [0, vocab) when force_eos */
    /* Banned token sequences (transformers' bad_words_ids): n_bad_words sequences, sequence i
     * of bad_words_lengths[i] (1..1024) ids in [0, vocab), concatenated in bad_words_ids. A
     * sequence of one token bans it at every step (except a lone EOS, which transformers
     * drops); a longer one bans its last token where the decoder ids end with the rest. */
    const int32_t *bad_words_ids;
    const int32_t *bad_words_lengths;
    int64_t n_bad_words;     /* 0..65536; 0 = none (the arrays may be NULL) */
    clf_early_stopping early_stopping; /* beam search, CLF_BEAM_RULE_HF only; 0 = heuristic */
} clf_generate_params;

CLF_API clf_generate_params clf_generate_params_default(void);

/*
 * The model's own generation settings, for a caller to start from (then
 * change what it wants) instead of clf_generate_params_default(). Precedence,
 * as transformers loads them: a HuggingFace folder's generation_config.json
 * when there is one (config.json's generation keys are then not read, as
 * GenerationConfig.from_pretrained does not); else config.json's generation
 * keys (older BART / Marian checkpoints keep num_beams, max_length,
 * forced_eos_token_id, bad_words_ids there); else transformers' global
 * defaults (max_length 20, num_beams 1, top_k 50 when sampling, ...). Keys
 * read: do_sample, num_beams, num_return_sequences, max_new_tokens,
 * max_length, min_length, min_new_tokens, no_repeat_ngram_size,
 * repetition_penalty, length_penalty (0.0 becomes length_alpha DBL_MIN:
 * n^alpha is then exactly 1, as alpha 0 means 1.0 here), early_stopping
 * (true, false or "never"), temperature, top_k, top_p, forced_bos_token_id,
 * forced_eos_token_id, bad_words_ids, and, from generation_config.json,
 * decoder_start_token_id and eos_token_id (one id, or a list of one), which
 * replace config.json's in the model's config at load. They are checked at
 * load (wrong types, out-of-range values, ids outside the vocabulary:
 * CLF_ERR_BAD_MODEL naming the file and the key). beam_rule is HF. Models
 * not from a folder get clf_generate_params_default() with beam_rule 0.
 * The bad-words arrays point into the model (valid while it lives).
 * A direct clf_model_generate(m, ..., &clf_generate_params_default()) uses
 * none of these: explicit params are taken as they are. NULL m or out:
 * CLF_ERR_INVALID_ARG.
 */
CLF_API clf_status clf_model_generate_defaults(const clf_model *m, clf_generate_params *out);

/* Why a sequence (or a beam hypothesis) stopped. */
typedef enum clf_finish_reason {
    CLF_FINISH_NONE = 0,      /* no hypothesis at this n-best rank */
    CLF_FINISH_EOS = 1,       /* it generated the model's eos_id (stored and counted) */
    CLF_FINISH_MAX_NEW = 2,   /* it generated max_new_tokens */
    CLF_FINISH_POSITIONS = 3, /* the model's positions ran out first: prompt + generated =
                                 the limit of clf_model_max_new_tokens */
} clf_finish_reason;

/* Per-sequence lengths, here and at every call of the API that takes or
 * returns them (clf_model_encode, clf_model_generate,
 * clf_tokenizer_encode_batch), are int32_t like the ids they count. */
typedef struct clf_generate_output {
    int32_t *ids;     /* (B, n_best, max_new_tokens), -1 after the last token */
    int32_t *lengths; /* (B, n_best) tokens generated, EOS included; may be NULL */
    /* (B, n_best); may be NULL. Beam search: lp / n^alpha. Greedy and sampling: the same as
     * logprobs. */
    float *scores;
    /* (B, n_best) sum over the generated tokens of their log-probability under the model
     * (log-softmax of the logits, in double; for sampling before temperature, top-k and
     * top-p); 0 for no token; -INFINITY at a rank with no hypothesis; may be NULL */
    float *logprobs;
    clf_finish_reason *finish; /* (B, n_best) why each stopped; may be NULL */
} clf_generate_output;

/*
 * How many new tokens fit after a prompt of prompt_len ids. A model with a
 * position limit P (config max_positions > 0: the rows of a learned table, or
 * HuggingFace's max_position_embeddings, less position_offset) holds at most
 * P tokens per sequence, prompt included, as transformers' generate() stops
 * at max_length = max_position_embeddings: the answer is P - prompt_len
 * (negative when the prompt alone is too long). The prompt is the S ids of a
 * decoder-only model and the start token (prompt_len 1) of an
 * encoder-decoder. INT64_MAX for a model without a limit; 0 for NULL m.
 * clf_model_generate uses this rule; a caller sizing max_target_len needs
 * prompt_len + new - 1 cache positions (the last token is never fed back).
 */
CLF_API int64_t clf_model_max_new_tokens(const clf_model *m, int64_t prompt_len);

/*
 * Generates up to max_new_tokens per input.
 * Decoder-only: ids (B, S) are prompts, all of length S (lengths NULL);
 * generation continues after them. Encoder-decoder: ids (B, S) are sources,
 * right-padded, lengths (B); the target starts with BOS. Tokens after EOS are
 * not generated (unless ignore_eos); the EOS itself is counted and stored.
 * At most clf_model_max_new_tokens(m, prompt) tokens are generated: asking
 * for more is not an error, generation stops there and out->finish says
 * CLF_FINISH_POSITIONS; a decoder-only prompt longer than the model's
 * positions is CLF_ERR_SHAPE, and so are prompt + new - 1 cache positions
 * beyond max_target_len (given at load). Bad params: CLF_ERR_INVALID_ARG
 * naming the field and its range (see clf_generate_params).
 * Greedy decoding with no logits processors, scores or log-probabilities
 * runs chained: each step's input is the previous step's argmax on the
 * device, and step t + 1 is enqueued before the host waits for step t's
 * tokens, so the device never idles on the host between steps. on_token
 * and abort then run one step behind the device: abort is still polled
 * before each step is enqueued, and when every row has ended (EOS) one
 * step has already been enqueued, whose tokens are dropped.
 * Beam search (width K, per input; encoder-decoder and decoder-only): a
 * hypothesis is (tokens, lp = sum of log-softmax, in double, of its tokens);
 * each step ranks every (alive hypothesis, token) by lp + logprob (ties:
 * hypothesis then token ascending), walks that list: EOS finishes a
 * hypothesis (n = step), any other token makes a new alive one, until K alive
 * ones are collected; at the last step the alive ones finish too; stops early
 * when the best finished score lp / n^alpha >= the best alive lp / step^alpha.
 * Finished hypotheses are sorted by score (stable), n_best returned.
 * CLF_BEAM_RULE_HF instead follows transformers' beam search: each step takes
 * the 2K best (hypothesis, token) candidates (same order); a candidate that
 * ends (EOS, or any token at the last step) finishes when it ranks among the
 * first K, scored lp / n^alpha, and only the K best finished hypotheses are
 * kept; the first K candidates that do not end stay alive; the search stops
 * when K hypotheses have finished and the best alive lp / step^alpha is <=
 * the worst kept finished score, or at max_new_tokens. n_best <= K then. The
 * goldens in tests/golden/hf check it token for token against generate().
 * The KV
 * cache is never copied: hypothesis b writes its K/V at cache row b, and an
 * index table (beam, position) -> cache row, updated from the parent indices
 * on the host and uploaded with each step, is what the self-attention reads
 * through (cache indirection, clf_attention_params.cache_rows).
 */
CLF_API clf_status clf_model_generate(clf_model *m, const int32_t *ids, const int32_t *lengths,
                                      int64_t B, int64_t S, const clf_generate_params *params,
                                      const clf_generate_output *out);

#ifdef __cplusplus
}
#endif
#endif
