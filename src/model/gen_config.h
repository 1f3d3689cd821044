/*
 * A HuggingFace folder's generation settings (generation_config.json, or
 * config.json's generation keys when there is none, as transformers loads
 * them) as clformer's clf_generate_params defaults; see
 * clf_model_generate_defaults in model.h for the keys and the precedence.
 * A pure parser (libc and json-c, no OpenCL). Not installed.
 */
#ifndef CLF_MODEL_GEN_CONFIG_H
#define CLF_MODEL_GEN_CONFIG_H

#include <stddef.h>

#include <clformer/model.h>

#define CLF__MAX_BAD_WORDS 65536   /* sequences in bad_words_ids */
#define CLF__MAX_BAD_WORD_LEN 1024 /* ids in one sequence */

typedef struct clf__gen_config {
    clf_generate_params p; /* the defaults; p.bad_words_* point into bad / bad_lens */
    int32_t *bad;          /* (sum of bad_lens) concatenated bad_words_ids, or NULL */
    int32_t *bad_lens;     /* (p.n_bad_words) */
    int32_t start_id;      /* decoder_start_token_id of generation_config.json; -2 = not given */
    int32_t eos_id;        /* eos_token_id of generation_config.json; -2 = not given */
} clf__gen_config;

/* The defaults of a model that has no generation settings. */
void clf__gen_config_init(clf__gen_config *g);
void clf__gen_config_clear(clf__gen_config *g);

/* Parses text (len bytes; file names it in messages, "generation_config.json"
 * or "config.json") into *out (cleared first): every key of model.h's list is
 * type- and range-checked, ids against vocab; other keys are ignored. Token
 * keys (decoder_start_token_id, eos_token_id) are read only when
 * gen_file. Errors: CLF_ERR_BAD_MODEL (CLF_ERR_UNSUPPORTED for several EOS
 * ids) "FILE: \"key\" ..." into err and the thread's last error. */
clf_status clf__gen_config_parse(const char *text, size_t len, const char *file, bool gen_file,
                                 int64_t vocab, clf__gen_config *out, char *err, size_t err_size);

/* Reads dir/generation_config.json, or when the folder has none dir/config.json,
 * into *out; errors on ctx as "clf_model_load: DIR/FILE: ...". */
clf_status clf__gen_config_load(clf_context *ctx, const char *dir, int64_t vocab,
                                clf__gen_config *out);

#endif
