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

#include <stddef.h>

#include <clformer/model.h>

/* Largest JSON file read (bytes): configs are a few KiB, shard indexes of
 * very large models a few MiB. */
#define CLF__HF_MAX_JSON (64u << 20)

typedef enum clf__hf_family {
    CLF__HF_BERT = 0,   /* BertModel, BertForSequenceClassification */
    CLF__HF_GPT2 = 1,   /* GPT2LMHeadModel */
    CLF__HF_BART = 2,   /* BartForConditionalGeneration */
    CLF__HF_MARIAN = 3, /* MarianMTModel */
} clf__hf_family;

typedef struct clf__hf_config {
    clf_model_config cfg;   /* complete: eps and embedding_scale filled in */
    clf__hf_family family;
    char architecture[64];  /* architectures[0], or the default of model_type */
    char model_type[32];
    bool classifier;        /* a sequence-classification head (cfg.n_classes labels) */
    bool shared_embeddings; /* encoder and decoder share one token table (BART, Marian) */
    int64_t type_vocab;     /* BERT token types (type 0 is added to every token) */
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

/* The supported architectures, ", "-separated (for messages). */
const char *clf__hf_supported(void);

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

/* Parses text (len bytes) as one strict JSON value (RFC 8259, UTF-8, nesting
 * at most 64, nothing after it), *out a new json-c reference; errors
 * CLF_ERR_BAD_MODEL "FILE: ..." into err and the thread's last error. */
struct json_object;
clf_status clf__hf_parse_json(const char *file, const char *text, size_t len,
                              struct json_object **out, char *err, size_t err_size);

#endif
