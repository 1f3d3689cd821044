/*
 * HuggingFace folder metadata: the JSON files of a model folder mapped to
 * clformer's model config. A pure parser (libc and json-c, no OpenCL) so that
 * it can be fuzzed anywhere (tests/fuzz/fuzz_config.c). Not installed.
 *
 * Files understood:
 *   config.json                  architectures[0] (or model_type) and the
 *                                family's sizes -> clf__hf_config
 *   modules.json                 sentence-transformers pipeline: a Pooling
 *                                module (its config in PATH/config.json) and
 *                                an optional Normalize module
 *   1_Pooling/config.json        pooling_mode_* flags
 *   model.safetensors.index.json weight_map: tensor name -> shard file name
 *
 * Every function validates everything it reads: wrong JSON, wrong types,
 * missing keys, sizes out of range or inconsistent (hidden size not a
 * multiple of the heads, ...) are CLF_ERR_BAD_MODEL; an architecture, an
 * activation or an option that clformer does not implement is
 * CLF_ERR_UNSUPPORTED (for an architecture the message lists the supported
 * ones). The message, naming the key and the value, goes into err (always
 * NUL-terminated when err_size > 0) and becomes the thread's last error
 * (clf_context_last_error(NULL)).
 */
#ifndef CLF_MODEL_HF_CONFIG_H
#define CLF_MODEL_HF_CONFIG_H

#include <stdarg.h>
#include <stddef.h>

#include <clformer/model.h>

/* Largest JSON file read (bytes): configs are a few KiB, shard indexes of
 * very large models a few MiB. */
#define CLF__HF_MAX_JSON (64u << 20)

/*
 * The model families: ONE table, read by every place that depends on the
 * family (docs/MODELS.md is the guide to adding a row). Each X(...) row is
 *
 *   X(ID, model_type, architectures, parse, names, prefixes, ignored)
 *
 *   ID             the enum value CLF__HF_<ID> (rows are only appended: the
 *                  values stay stable)
 *   model_type     config.json "model_type" that selects the family when the
 *                  config has no "architectures"
 *   architectures  the accepted config.json "architectures"[0] values,
 *                  "|"-separated; the first is the family's base model (what
 *                  model_type alone stands for). An architecture ending in
 *                  "ForSequenceClassification" has a classification head
 *                  (its labels from id2label / num_labels); it must be an
 *                  encoder family
 *   parse          hf_config.c: the config parser, static function
 *                  parse_<parse>(jp *, json_object *, clf__hf_config *)
 *   names          hf.c: the name map, static function
 *                  names_<names>(clf__hf *, clf_context *)
 *   prefixes       module prefixes of checkpoint names, "|"-separated and
 *                  tried in this order ("" = none): "|bert." finds both
 *                  "embeddings.x" and "bert.embeddings.x"
 *   ignored        checkpoint tensors that a correct load leaves unread,
 *                  "|"-separated: "m." = every tensor of module m (under
 *                  any prefix), ".x" = every name ending in .x; "" = none.
 *                  Buffers every family has (position_ids, ...), tied and
 *                  shared copies, and an unused pooler are ignored for all
 *                  (hf.c, ignorable)
 *
 * The messages' list of supported architectures (clf__hf_supported), the
 * architecture lookup and the parser dispatch (hf_config.c), the name map,
 * the prefixes and the ignored tensors (hf.c) all expand this one macro.
 */
#define CLF__HF_FAMILIES(X)                                                                        \
    X(BERT, "bert", "BertModel|BertForSequenceClassification", bert, bert, "|bert.", "cls.")       \
    X(GPT2, "gpt2", "GPT2LMHeadModel", gpt2, gpt2, "transformer.|",                                \
      ".attn.bias|.attn.masked_bias")                                                              \
    X(BART, "bart", "BartForConditionalGeneration", bart, bart, "model.|", "")                     \
    X(MARIAN, "marian", "MarianMTModel", marian, bart, "model.|", "")                              \
    X(ROBERTA, "roberta", "RobertaModel|RobertaForSequenceClassification", roberta, bert,          \
      "|roberta.", "")                                                                             \
    X(XLM_ROBERTA, "xlm-roberta", "XLMRobertaModel|XLMRobertaForSequenceClassification", roberta,  \
      bert, "|roberta.", "")                                                                       \
    X(DISTILBERT, "distilbert", "DistilBertModel", distilbert, distilbert, "|distilbert.", "")

#define CLF__HF_ENUM_ROW(id, mt, archs, parse, names, pre, ign) CLF__HF_##id,
typedef enum clf__hf_family {
    CLF__HF_FAMILIES(CLF__HF_ENUM_ROW) CLF__HF_N_FAMILIES
} clf__hf_family;
#undef CLF__HF_ENUM_ROW

typedef struct clf__hf_config {
    clf_model_config cfg;   /* complete: eps and embedding_scale filled in */
    clf__hf_family family;
    char architecture[64];  /* architectures[0], or the default of model_type */
    char model_type[32];
    bool classifier;        /* a sequence-classification head (cfg.n_classes labels) */
    bool shared_embeddings; /* encoder and decoder share one token table (BART, Marian) */
    int64_t type_vocab;     /* BERT/RoBERTa token types (type 0 is added to every token);
                               0 = none (DistilBERT) */
    char **labels;          /* (cfg.n_classes) id2label names, or NULL; clf__hf_config_clear */
} clf__hf_config;

/* sentence-transformers modules: the pooling of the Pooling module and
 * whether a Normalize module follows it. */
typedef struct clf__hf_modules {
    bool sentence_transformers; /* modules.json was read */
    char pooling_path[256];     /* folder of the Pooling module ("" = none) */
    bool normalize;
} clf__hf_modules;

/* Shard index: n distinct shard file names, each a plain file name (no
 * directory part), and n_weights (name, shard number) pairs. */
typedef struct clf__hf_index {
    size_t n_files;
    char **files;
    size_t n_weights;
    char **weight_names;
    size_t *weight_file; /* (n_weights) index into files */
} clf__hf_index;

/* The supported architectures of every family, ", "-separated (for
 * messages), into buf (always NUL-terminated when size > 0; cut short when
 * it does not fit). Returns buf. */
const char *clf__hf_supported(char *buf, size_t size);

/* Maps config.json (text of len bytes, need not be NUL-terminated) to *out.
 * On failure *out is cleared. */
clf_status clf__hf_parse_config(const char *text, size_t len, clf__hf_config *out, char *err,
                                size_t err_size);
void clf__hf_config_clear(clf__hf_config *c);

clf_status clf__hf_parse_modules(const char *text, size_t len, clf__hf_modules *out, char *err,
                                 size_t err_size);
/* A Pooling module's config.json: mean or CLS pooling (the others are
 * CLF_ERR_UNSUPPORTED); word_embedding_dimension must equal d_model. */
clf_status clf__hf_parse_pooling(const char *text, size_t len, int64_t d_model,
                                 clf_pooling *out, char *err, size_t err_size);

clf_status clf__hf_parse_index(const char *text, size_t len, clf__hf_index *out, char *err,
                               size_t err_size);
void clf__hf_index_clear(clf__hf_index *x);

/* A parser's error: "FILE: " + the message into err (when err_size > 0)
 * and the thread's last error; returns st (hf_config.c, gen_config.c). */
clf_status clf__hf_failv(const char *file, char *err, size_t err_size, clf_status st,
                         const char *fmt, va_list ap);

/* Parses text (len bytes) as one strict JSON value (RFC 8259, UTF-8, nesting
 * at most 64, nothing after it), *out a new json-c reference; errors
 * CLF_ERR_BAD_MODEL "FILE: ..." into err and the thread's last error. */
struct json_object;
clf_status clf__hf_parse_json(const char *file, const char *text, size_t len,
                              struct json_object **out, char *err, size_t err_size);

#endif
