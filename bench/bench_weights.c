/*
 * bench_weights: device bytes of a model's weights per weight format
 * (f32, f16, q8, q4; clf_model_info.weight_bytes), for the memory table of
 * docs/quantisation.md (issue 16).
 *
 *   bench_weights [--device SPEC] PRESET|DIR...
 *
 * PRESET is a built-in config (gpt2-small, transformer-base, bert-base)
 * with random weights; DIR a model folder (all-MiniLM-L6-v2). Prints one
 * line per model and format: bytes, MiB and the ratio to f32.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <clformer/clformer.h>

static int load(clf_context *ctx, const char *what, clf_dtype wt, size_t *bytes)
{
    clf_model_params p = clf_model_params_default();
    p.weight_dtype = wt;
    p.max_batch = 1, p.max_source_len = 8, p.max_target_len = 8;
    clf_model *m = NULL;
    struct stat sb;
    clf_status st;
    if (stat(what, &sb) == 0) {
        st = clf_model_load(ctx, what, &p, &m);
    } else {
        clf_model_config cfg;
        st = clf_model_config_preset(what, &cfg);
        if (st == CLF_OK) st = clf_model_create_random(ctx, &cfg, &p, 1, &m);
    }
    if (st != CLF_OK) {
        fprintf(stderr, "bench_weights: %s (%s): %s\n", what, clf_dtype_name(wt), clf_context_last_error(ctx));
        return 1;
    }
    *bytes = clf_model_get_info(m)->weight_bytes;
    clf_model_free(m);
    return 0;
}

int main(int argc, char **argv)
{
    clf_context_params cp = clf_context_params_default();
    int first = 1;
    if (argc > 2 && strcmp(argv[1], "--device") == 0) cp.device = argv[2], first = 3;
    clf_context *ctx = NULL;
    if (clf_context_create(&cp, &ctx) != CLF_OK) {
        fprintf(stderr, "bench_weights: %s\n", clf_context_last_error(NULL));
        return 1;
    }
    static const clf_dtype fmts[] = {CLF_F32, CLF_F16, CLF_Q8, CLF_Q4};
    int rc = 0;
    for (int i = first; i < argc; i++) {
        size_t base = 0;
        for (int f = 0; f < 4; f++) {
            size_t b = 0;
            if (load(ctx, argv[i], fmts[f], &b)) {
                rc = 1;
                break;
            }
            if (f == 0) base = b;
            printf("%s %s %zu bytes %.1f MiB %.3f of f32\n", argv[i], clf_dtype_name(fmts[f]), b,
                   (double)b / 1048576.0, base ? (double)b / (double)base : 0.0);
            fflush(stdout);
        }
    }
    clf_context_free(ctx);
    return rc;
}
