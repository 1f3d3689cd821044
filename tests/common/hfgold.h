/*
 * Helpers of the HuggingFace golden tests (tests/test_hf.c,
 * tests/test_hf_encoders.c): the golden folders of tests/golden/hf/, their
 * golden.safetensors tensors, the error figure and model loading. Every
 * failure fails the test naming the file or tensor.
 */
#ifndef CLF_HFGOLD_H
#define CLF_HFGOLD_H

#include <stdint.h>

#include <clformer/clformer.h>

#include "common/testutil.h"
#include "model/safetensors.h"

/* Runs the statement that follows once per test device with a context
 * `ctx` on it whose binary cache the model tests share
 * (clft_model_context), freed after the statement. */
#define CLFT_HF_EACH_DEVICE(ctx)                                                                   \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (clf_context *ctx = clft_model_context(specs_[d_]); ctx;                               \
             clf_context_free(ctx), ctx = NULL)

/* Fails the test unless expr is CLF_OK, with ctx's last error. */
#define CLFT_HF_OK(ctx, expr)                                                                      \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

/* Tolerance of hidden states and logits: relative max-norm error in f32. */
#define CLFT_HF_TOL 1e-4

/* tests/golden/hf/<name> (a static buffer; the last four stay valid). */
const char *clft_hf_folder(const char *name);
/* Opens the safetensors file at path (fails the test otherwise). */
clf__safetensors *clft_st_open(const char *path);
/* <folder name>/golden.safetensors. */
clf__safetensors *clft_hf_golden(const char *name);
/* A golden tensor: fails the test when it is missing. */
const clf__st_tensor *clft_st_tensor(const clf__safetensors *st, const char *name);
/* Its values as f32 / i32 (malloc'ed; free them). */
float *clft_st_f32(const clf__safetensors *st, const char *name);
int32_t *clft_st_i32(const clf__safetensors *st, const char *name);

/* Relative max-norm error max|out - ref| / max|ref| over rows [0, lens[b])
 * of a (B, S, W) array (lens NULL = every row); a NaN counts as infinite. */
double clft_rel_err(const float *out, const float *ref, int B, int S, int W, const int32_t *lens);

/* clf_model_load with these maxima (0 = the default); fails the test with
 * the library's message. */
clf_model *clft_hf_load(clf_context *ctx, const char *path, int64_t max_batch,
                        int64_t max_source_len, int64_t max_target_len);

/* A sequence classifier golden (input_ids (B, S), lengths, logits (B, C)):
 * loads folder `name` on ctx, checks its architecture and that its labels
 * are negative / neutral / positive, and its logits within CLFT_HF_TOL;
 * `what` describes it in the printed figure. */
void clft_hf_check_classifier(clf_context *ctx, const char *name, const char *arch,
                              const char *what);

#endif
