/*
 * clformer autotuner: measures, per device, the kernel profile's tunable
 * fields (GEMV shape, GPU GEMM tiles, flash and decode attention tiles,
 * row-kernel work-group sizes, the shapes of the integer GEMV and GEMM over
 * Q8 / Q4 weights) on the shapes of the bench stacks, and stores
 * the winners in the cache folder, where every later context on the same
 * device, driver, library version and default profile finds them.
 *
 * How a run works: the fields are grouped (see clf_tune_group_result.name);
 * each group has representative shapes and candidate values generated from
 * the profile's limits (work-group size, local memory, vector widths), so
 * the same call tunes a GPU it has never seen. The search is greedy, one
 * field at a time from the defaults. Every candidate is first checked by
 * clf_kernel_profile_check, then run on an odd-sized problem and compared
 * with a float64 host reference (normalised squared error within 1e-5 for
 * GEMM and attention, 1e-6 for norms and softmax, 2e-4 for the integer
 * forms, whose activations are quantised; their reference multiplies the
 * dequantised weights); only then is it timed:
 * per shape two warm-up runs (the first compiles), then 2 x reps batches of
 * back-to-back runs (about 2 ms each, so launch jitter averages out),
 * alternating with the current best so that load swings hit both, and the
 * medians compared; a candidate 3% faster becomes the current best. Work-
 * group candidates in the GPU family start at the kernels' preferred
 * work-group multiple. At the end the group's winners are timed interleaved with the
 * defaults twice and kept only when 2% faster both times, so a tuned group
 * is never slower than the default in the run that chose it.
 *
 * Loading: clf_context_create applies a stored result unless
 * clf_context_params.untuned or CLFORMER_TUNE=0; a file that cannot be read,
 * is malformed or fails clf_kernel_profile_check is ignored with a warning
 * through the log.
 *
 * Threads: the calls here take the context like every op (one thread at a
 * time per context; another thread gets CLF_ERR_BUSY).
 */
#ifndef CLFORMER_TUNE_H
#define CLFORMER_TUNE_H

#include <stdbool.h>
#include <stddef.h>

#include "context.h"
#include "device.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_tune_params {
    bool quick;      /* fewer candidates and shapes: under 2 minutes on PoCL (2 cores) */
    int reps;        /* timed runs per measurement; 0 = 3 (quick) or 5 */
    bool no_save;    /* apply the winners to the context but write no file */
    const char *groups; /* NULL or "" = every group of the family; else a comma list of group
                         * names (clf_tune_group_result.name) to tune, the others keep their
                         * defaults; an unknown name is CLF_ERR_INVALID_ARG */
    /* Called with one line of text per candidate and per group (no newline);
     * NULL = silent. */
    void (*progress)(const char *line, void *user);
    void *user;
} clf_tune_params;

#define CLF_TUNE_MAX_GROUPS 8

typedef struct clf_tune_group_result {
    char name[16];         /* "gemv", "gemm_tiled", "attn_flash", "attn_decode", "gemv_int",
                            * "gemm_int", "rows" */
    char shapes[192];      /* the shapes timed, as text */
    double default_s;      /* seconds, the sum over the shapes of the median with the defaults */
    double tuned_s;        /* the same with the chosen values, timed interleaved with default_s;
                            * equal to default_s when the defaults were kept */
    double candidate_s;    /* the search's best combination, timed interleaved with default_s;
                            * 0 when the search kept every default value */
    int tried;             /* candidates timed */
    int rejected;          /* candidates that failed (an error or the reference check) */
    bool changed;          /* the chosen values differ from the defaults */
    char values[256];      /* the group's fields as chosen: "gemv_vec=8 gemv_rows_t=4 ..." */
} clf_tune_group_result;

typedef struct clf_tune_report {
    int n_groups;                                  /* groups tuned (the device's family's) */
    clf_tune_group_result groups[CLF_TUNE_MAX_GROUPS];
    double seconds;                                /* wall time of the whole run */
    char path[4200];                               /* the file written; "" when none */
} clf_tune_report;

/* Tunes ctx's device for ctx's kernel family, starting from the default
 * profile (not from a stored result), applies the winners to ctx and, unless
 * params->no_save or the disk cache is off, stores them. params NULL = all
 * zero. Blocking; takes seconds to minutes. Errors: CLF_ERR_INVALID_ARG
 * (NULL ctx or out), or the first error of an op that even the default
 * profile could not run (a candidate's own failure only rejects it). */
CLF_API clf_status clf_tune(clf_context *ctx, const clf_tune_params *params, clf_tune_report *out);

/* Replaces the profile ctx's ops follow. *p must pass
 * clf_kernel_profile_check and keep the context's family and limits (both
 * fixed when the context was made): otherwise CLF_ERR_INVALID_ARG naming
 * the field. Used by the tuner and by tests that run the ops under chosen
 * values; programs already built stay cached under their own options. */
CLF_API clf_status clf_context_set_kernel_profile(clf_context *ctx, const clf_kernel_profile *p);

/* The profile ctx would have without tuning (the defaults from the device's
 * capabilities, the params and the environment). Valid for the context's
 * lifetime. */
CLF_API const clf_kernel_profile *clf_context_default_profile(const clf_context *ctx);

/* The path of ctx's stored tuning result (which may not exist) into buf.
 * CLF_ERR_NOT_FOUND when the disk cache is off. */
CLF_API clf_status clf_tune_file_path(const clf_context *ctx, char *buf, size_t size);

#ifdef __cplusplus
}
#endif
#endif
