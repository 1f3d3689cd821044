/*
 * The device a context opens: clf_device_select's policy (pure, in the
 * device layer), with measured scores filled in where they decide, and the
 * reason in words for `clformer devices`. The context and the CLI both call
 * this, so the device the CLI says `best` picks is the one a context opens.
 *
 * Measuring costs a fraction of a second per device, once per device and
 * driver, so it is only done where a spec leaves the choice to the library
 * and two or more devices share the best class: a lone GPU, "1:0" or a name
 * never pay for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

/* CLFORMER_DEVICE_SCORE: 1 or unset = rank by score, 0 = by compute units x
 * clock only. A typo is an error, like CLFORMER_KERNELS, rather than a
 * silent default. */
static clf_status ranking_by_score(bool *on)
{
    const char *env = getenv("CLFORMER_DEVICE_SCORE");
    *on = true;
    if (!env || !*env || strcmp(env, "1") == 0) return CLF_OK;
    if (strcmp(env, "0") == 0) {
        *on = false;
        return CLF_OK;
    }
    return clf__error(NULL, CLF_ERR_INVALID_ARG,
                      "CLFORMER_DEVICE_SCORE=\"%s\": expected 1 (rank devices of one class by "
                      "their measured score, the default) or 0 (by compute units x clock)",
                      env);
}

static void index_of(const clf_device_info *d, char *buf, size_t size)
{
    snprintf(buf, size, "%d:%d", d->platform_index, d->device_index);
}

/* The reason for pick, in one line. view is the array the choice was made
 * on; it is restored before returning. */
static void explain(clf_device_info *view, size_t n, const char *spec, size_t pick, size_t rivals,
                    bool by_score, char *why, size_t size)
{
    const clf_device_info *d = &view[pick];
    const char *cls = clf_device_class_name(clf_device_classify(d));
    /* The runner-up: what the same policy picks without the winner. */
    size_t next = pick;
    view[pick].available = false;
    bool second = clf_device_select(view, n, spec, &next) == CLF_OK;
    view[pick].available = true;
    if (!second) clf__thread_error_clear(); /* no runner-up is no failure of the caller's */
    if (!clf__device_spec_ranks(spec)) {
        snprintf(why, size,
                 second ? "named by \"%s\" (it matches several: ranked by class, then compute "
                          "units x clock)"
                        : "named by \"%s\"",
                 spec);
        return;
    }
    if (rivals == 0 || !second) {
        if (second)
            snprintf(why, size, "class %s", cls);
        else
            snprintf(why, size, "class %s; the only available device that matches \"%s\"", cls,
                     spec && *spec ? spec : "best");
        return;
    }
    const clf_device_info *r = &view[next];
    char ri[32], missing[80];
    index_of(r, ri, sizeof ri);
    if (by_score && d->score > 0 && r->score > 0) {
        snprintf(why, size, "class %s; measured %.2fx faster than %s on the score workload", cls,
                 d->score / r->score, ri);
        return;
    }
    if (!by_score) {
        snprintf(missing, sizeof missing, "CLFORMER_DEVICE_SCORE=0");
    } else {
        char di[32];
        index_of(d, di, sizeof di);
        snprintf(missing, sizeof missing, "not measured: %s%s%s", d->score > 0 ? "" : di,
                 d->score > 0 || r->score > 0 ? "" : ", ", r->score > 0 ? "" : ri);
    }
    uint64_t pd = (uint64_t)d->compute_units * d->clock_mhz;
    uint64_t pr = (uint64_t)r->compute_units * r->clock_mhz;
    snprintf(why, size, "class %s; compute units x clock %u x %u MHz vs %u x %u MHz for %s%s (%s)",
             cls, d->compute_units, d->clock_mhz, r->compute_units, r->clock_mhz, ri,
             pd == pr ? ", equal: the first listed" : "", missing);
}

/* The decision at info level, with its reason: which device a context or
 * `clformer devices` takes is the first question when something is slow. */
static void log_choice(clf_device_info *view, size_t n, const char *spec, size_t pick,
                       size_t rivals, bool by_score)
{
    if (!clf__log_enabled(CLF_LOG_INFO)) return;
    char why[512], at[32];
    explain(view, n, spec, pick, rivals, by_score, why, sizeof why);
    index_of(&view[pick], at, sizeof at);
    clf__log(CLF_LOG_INFO, "device %s (%s, %s) chosen for \"%s\": %s", at, view[pick].name,
             view[pick].platform_name, spec && *spec ? spec : "best", why);
}

clf_status clf__device_choose(clf_device_info *devices, size_t n, const char *spec,
                              const char *cache_dir, bool measure_missing, size_t *index, char *why,
                              size_t why_size)
{
    if (!index || (!devices && n))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_device_choose: NULL argument");
    bool by_score = true;
    CLF_TRY(ranking_by_score(&by_score));
    bool ranks = clf__device_spec_ranks(spec);
    /* A copy whose scores count only where the policy lets them: a caller's
     * array may hold scores (the CLI shows them) that a named spec or
     * CLFORMER_DEVICE_SCORE=0 must not see. */
    clf_device_info *view = clf__malloc((n ? n : 1) * sizeof *view);
    if (!view) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_device_choose: out of memory");
    if (n) memcpy(view, devices, n * sizeof *view);
    for (size_t i = 0; i < n && !(by_score && ranks); i++)
        view[i].score = 0;

    size_t pick = 0, rivals = 0;
    clf_status st = clf_device_select(view, n, spec, &pick);
    clf_device_class cls = st == CLF_OK ? clf_device_classify(&view[pick]) : CLF_DEVICE_CPU;
    for (size_t i = 0; st == CLF_OK && i < n; i++)
        rivals += i != pick && view[i].available && clf_device_classify(&view[i]) == cls;
    if (st == CLF_OK && by_score && ranks && rivals > 0) {
        /* A device that cannot be measured keeps 0 and is ranked by compute
         * units x clock: a failed measurement must not fail the context,
         * which may well run on another device. */
        if (clf__devices_fill_scores(view, n, (int)cls, true, cache_dir, measure_missing) != CLF_OK)
            clf__log(CLF_LOG_INFO, "device scores: %s (ranking by compute units x clock)",
                     clf__thread_error());
        for (size_t i = 0; i < n; i++)
            if (clf_device_classify(&view[i]) == cls) devices[i].score = view[i].score;
        st = clf_device_select(view, n, spec, &pick);
    }
    if (st == CLF_OK) {
        *index = pick;
        if (why && why_size) explain(view, n, spec, pick, rivals, by_score, why, why_size);
        log_choice(view, n, spec, pick, rivals, by_score);
    }
    clf__free(view);
    return st;
}

clf_status clf_device_choose(clf_device_info *devices, size_t n, const char *spec,
                             bool measure_missing, size_t *index, char *why, size_t why_size)
{
    char dir[4096];
    clf__prepare_opencl_env(); /* before this call reads the environment */
    const char *cache_dir = clf__cache_dir_resolve(NULL, dir, sizeof dir);
    return clf__device_choose(devices, n, spec, cache_dir, measure_missing, index, why, why_size);
}
