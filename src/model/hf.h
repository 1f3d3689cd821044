/*
 * A HuggingFace model folder opened for loading: config.json mapped to a
 * clformer config (hf_config.c), the weights of model.safetensors or of the
 * shards of model.safetensors.index.json, and the family's name table from
 * clformer's canonical weight names (model.h) to the checkpoint's, with the
 * layout changes some need (q/k/v concatenated, GPT-2 Conv1D transposed,
 * BERT token type 0 folded into the position table, BART's (1, V)
 * final_logits_bias flattened). Not installed.
 */
#ifndef CLF_MODEL_HF_H
#define CLF_MODEL_HF_H

#include "core/core.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

typedef struct clf__hf clf__hf;

/* Opens the folder dir: reads config.json (and modules.json with its
 * Pooling module's config when present), opens every weight file and builds
 * the name table. Errors go to ctx as "clf_model_load: DIR: ...": a missing
 * file CLF_ERR_IO naming it, a bad JSON or safetensors file
 * CLF_ERR_BAD_MODEL, an unsupported architecture CLF_ERR_UNSUPPORTED. */
clf_status clf__hf_open(clf_context *ctx, const char *dir, clf__hf **out);
void clf__hf_free(clf__hf *hf);

/* The config to build (pooler off when the checkpoint has none or a
 * sentence-transformers pipeline pools; normalize from its Normalize). */
const clf_model_config *clf__hf_model_config(const clf__hf *hf);
/* The folder's metadata: architecture, labels, default pooling. */
const clf__hf_config *clf__hf_config_of(const clf__hf *hf);
clf_pooling clf__hf_pooling(const clf__hf *hf);
bool clf__hf_sentence_transformers(const clf__hf *hf);

/* Whether canonical name maps to checkpoint tensors that all exist. */
bool clf__hf_has(const clf__hf *hf, const char *name);
/* The tensor of canonical name (dtype F32, F16 or BF16), built on first use
 * and owned by hf; *out NULL when the name is not mapped or a source is
 * missing. Sources of the wrong rank or of mismatched shapes are
 * CLF_ERR_BAD_MODEL naming them. */
clf_status clf__hf_get(clf__hf *hf, clf_context *ctx, const char *name,
                       const clf__st_tensor **out);
/* Frees what clf__hf_get built for name (after its upload), so that the
 * load holds one converted tensor at a time rather than all of them. */
void clf__hf_release(clf__hf *hf, const char *name);
/* The checkpoint name(s) behind canonical name, for messages ("" if none). */
const char *clf__hf_source(const clf__hf *hf, const char *name);

/* After a complete load: CLF_ERR_BAD_MODEL naming the first few checkpoint
 * tensors that no clf__hf_get read, unless they are known to be ignorable
 * (buffers such as position_ids, heads the model does not use, tied copies;
 * see hf.c), since unread weights mean that config.json describes another
 * model than the checkpoint holds (fewer layers, no head, ...). */
clf_status clf__hf_check_unused(const clf__hf *hf, clf_context *ctx, const char *dir);

/* Names of unused weights gathered for one message (hf.c; model.c uses it
 * for clformer's own files too): the first CLF__UNUSED_SHOWN, then a count. */
#define CLF__UNUSED_SHOWN 4
typedef struct clf__unused {
    size_t n;
    char shown[CLF__UNUSED_SHOWN * 110];
} clf__unused;
void clf__unused_add(clf__unused *u, const char *name);
/* CLF_OK when none was added, else CLF_ERR_BAD_MODEL on ctx naming path and
 * the names. */
clf_status clf__unused_report(const clf__unused *u, clf_context *ctx, const char *path);

#endif
