/* Helpers of the HuggingFace golden tests; see hfgold.h. */
#include "common/hfgold.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/testutil.h"

const char *clft_hf_folder(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/hf/%s", clft_golden_dir(), name);
    return path[k];
}

clf__safetensors *clft_st_open(const char *path)
{
    clf__safetensors *st = NULL;
    char err[256];
    clf_status s = clf__safetensors_open(path, &st, err, sizeof err);
    cr_assert_eq(s, CLF_OK, "%s: %s", path, err);
    return st;
}

clf__safetensors *clft_hf_golden(const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/golden.safetensors", clft_hf_folder(name));
    return clft_st_open(path);
}

const clf__st_tensor *clft_st_tensor(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clf__st_find(st, name);
    cr_assert(t, "golden tensor %s missing", name);
    return t;
}

float *clft_st_f32(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clft_st_tensor(st, name);
    float *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_to_f32(t, x), CLF_OK);
    return x;
}

int32_t *clft_st_i32(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clft_st_tensor(st, name);
    int32_t *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_read(t, x), CLF_OK, "%s", clf_context_last_error(NULL));
    return x;
}

double clft_rel_err(const float *out, const float *ref, int B, int S, int W, const int32_t *lens)
{
    double num = 0, den = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < (lens ? lens[b] : S); t++)
            for (int i = 0; i < W; i++) {
                size_t k = ((size_t)b * S + t) * W + i;
                double d = isnan(out[k]) ? INFINITY : fabs((double)out[k] - ref[k]);
                num = fmax(num, d);
                den = fmax(den, fabs(ref[k]));
            }
    return num / den;
}

clf_model *clft_hf_load(clf_context *ctx, const char *path, int64_t max_batch,
                        int64_t max_source_len, int64_t max_target_len)
{
    clf_model_params p = clf_model_params_default();
    p.max_batch = max_batch;
    p.max_source_len = max_source_len;
    p.max_target_len = max_target_len;
    clf_model *m = NULL;
    clf_status s = clf_model_load(ctx, path, &p, &m);
    cr_assert_eq(s, CLF_OK, "clf_model_load(%s): %s (%s)", path, clf_status_name(s),
                 clf_context_last_error(ctx));
    return m;
}

void clft_hf_check_classifier(clf_context *ctx, const char *name, const char *arch,
                              const char *what)
{
    clf__safetensors *st = clft_hf_golden(name);
    const clf__st_tensor *t = clft_st_tensor(st, "input_ids");
    int B = (int)t->shape[0], S = (int)t->shape[1], C = 3;
    int32_t *ids = clft_st_i32(st, "input_ids"), *lens = clft_st_i32(st, "lengths");
    float *lref = clft_st_f32(st, "logits"), *logits = malloc((size_t)(B * C) * sizeof *logits);
    clf_model *m = clft_hf_load(ctx, clft_hf_folder(name), B, S, 0);
    const clf_model_info *info = clf_model_get_info(m);
    cr_assert_str_eq(info->architecture, arch);
    cr_assert_eq(info->n_labels, C);
    cr_assert_str_eq(info->labels[0], "negative");
    cr_assert_str_eq(info->labels[1], "neutral");
    cr_assert_str_eq(info->labels[2], "positive");
    clft_poison(logits, (size_t)(B * C));
    CLFT_HF_OK(ctx, clf_model_encode(m, ids, lens, B, S, CLF_POOL_DEFAULT, NULL, NULL, logits));
    double e = clft_rel_err(logits, lref, B, 1, C, NULL);
    printf("[hf] %s (%s): logits %.3g\n", arch, what, e);
    cr_assert(e <= CLFT_HF_TOL, "%s logits %.3g > %g", arch, e, CLFT_HF_TOL);
    clf_model_free(m);
    free(ids);
    free(lens);
    free(lref);
    free(logits);
    clf__safetensors_free(st);
}
