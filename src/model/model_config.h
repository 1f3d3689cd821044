/*
 * A model's config: read from a clformer safetensors file's __metadata__, and
 * the range checks every config passes at load (clformer files, HuggingFace
 * folders, the caller's clf_model_params.config, random-weight presets), so
 * that a value no model has (2^32 + 2 layers, eps -1) is an error at load
 * naming the key, never a truncated int, an allocation of terabytes or a
 * failure at the first run. A pure parser (safetensors and core only, no
 * OpenCL) so that host tests reach it. Not installed.
 *
 * The limits are shared with hf_config.c (config.json). They sit well above
 * any released model and low enough that products of them (vocab x d_model,
 * layers x d_model x d_ff) cannot overflow int64_t and that a hostile file
 * cannot make the loader allocate terabytes before its tensors are checked.
 */
#ifndef CLF_MODEL_MODEL_CONFIG_H
#define CLF_MODEL_MODEL_CONFIG_H

#include <clformer/model.h>

#include "model/safetensors.h"

#define CLF__MAX_LAYERS 1024           /* per stack; released models have <= 128 */
#define CLF__MAX_D_MODEL 65536         /* hidden size (largest released: ~25,600) */
#define CLF__MAX_D_FF (1 << 20)        /* FFN inner size */
#define CLF__MAX_VOCAB (1 << 24)       /* token rows (largest released: ~256,000); ids are int32 */
#define CLF__MAX_POSITIONS (1 << 20)   /* learned table rows, position offset */
#define CLF__MAX_CLASSES 65536         /* classification labels */
#define CLF__MIN_EPS 1e-30             /* norm epsilon: below, a float rounds it to a denormal or 0 */
#define CLF__MAX_EPS 1.0
#define CLF__MAX_EMBEDDING_SCALE 1e6   /* sqrt(d_model) is at most 256 */

/* Reads the config of the clformer file st (at path, for messages) from its
 * __metadata__ (keys in model.h). Every integer is a plain decimal integer
 * (no sign but '-', no fraction or exponent: writers use str(int)) within its
 * range, every token id -1 or in [0, vocab), eps and embedding_scale finite
 * in their ranges, every enum a known word; otherwise CLF_ERR_BAD_MODEL on
 * ctx (NULL: the thread's last error) naming the key and the value. */
clf_status clf__config_from_meta(clf_context *ctx, const clf__safetensors *st, const char *path,
                                 clf_model_config *c);

/* The checks every config passes before anything is allocated, naming the
 * field: sizes and ids within the limits above, the heads dividing d_model,
 * eps (after its default) finite in [CLF__MIN_EPS, CLF__MAX_EPS], enums
 * known, the combinations the stack supports. CLF_ERR_BAD_MODEL on ctx
 * "clf_model_load: PATH: bad config: ...". */
clf_status clf__config_check(clf_context *ctx, const char *path, const clf_model_config *c);

#endif
