/*
 * Classification and selection: pure functions of device records, so the
 * policy is tested on synthetic devices with no OpenCL present.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "device/device_internal.h"

clf_device_class clf_device_classify(const clf_device_info *info)
{
    if (info->cl_type & CL_DEVICE_TYPE_GPU)
        return info->unified_memory ? CLF_DEVICE_IGPU : CLF_DEVICE_DGPU;
    if (info->cl_type & (CL_DEVICE_TYPE_ACCELERATOR | CL_DEVICE_TYPE_CUSTOM))
        return CLF_DEVICE_ACCELERATOR;
    return CLF_DEVICE_CPU;
}

const char *clf_device_class_name(clf_device_class cls)
{
    switch (cls) {
    case CLF_DEVICE_DGPU: return "dgpu";
    case CLF_DEVICE_IGPU: return "igpu";
    case CLF_DEVICE_ACCELERATOR: return "accelerator";
    case CLF_DEVICE_CPU: return "cpu";
    }
    return "unknown";
}

/* Higher is better: class first; within a class the measured score when
 * both have one, since the driver's figures do not rank two implementations
 * of one chip (Intel's CPU runtime reports 0 MHz, yet ran a BERT pass 8%
 * faster than PoCL on the same cores); else compute units x clock. A score
 * never crosses classes: it is measured on a workload too small to show what
 * a GPU gains over a CPU at a model's sizes. */
static int better(const clf_device_info *a, const clf_device_info *b)
{
    clf_device_class ca = clf_device_classify(a), cb = clf_device_classify(b);
    if (ca != cb) return ca > cb;
    if (a->score > 0 && b->score > 0) return a->score > b->score;
    uint64_t pa = (uint64_t)a->compute_units * a->clock_mhz;
    uint64_t pb = (uint64_t)b->compute_units * b->clock_mhz;
    return pa > pb;
}

static int contains_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (strncasecmp(hay, needle, n) == 0) return 1;
    return 0;
}

enum match_kind { MATCH_ANY, MATCH_GPU, MATCH_CLASS, MATCH_INDEX, MATCH_NAME };

typedef struct matcher {
    enum match_kind kind;
    clf_device_class cls;
    int platform, device;
    const char *name;
} matcher;

static matcher parse_spec(const char *spec)
{
    matcher m = {MATCH_ANY, CLF_DEVICE_CPU, -1, -1, NULL};
    if (!spec || !*spec || strcasecmp(spec, "best") == 0) return m;
    if (strcasecmp(spec, "gpu") == 0) return (matcher){MATCH_GPU, CLF_DEVICE_CPU, -1, -1, NULL};
    static const struct { const char *word; clf_device_class cls; } classes[] = {
        {"dgpu", CLF_DEVICE_DGPU}, {"igpu", CLF_DEVICE_IGPU},
        {"accelerator", CLF_DEVICE_ACCELERATOR}, {"cpu", CLF_DEVICE_CPU}};
    for (size_t i = 0; i < CLF_ARRAY_LEN(classes); i++)
        if (strcasecmp(spec, classes[i].word) == 0)
            return (matcher){MATCH_CLASS, classes[i].cls, -1, -1, NULL};
    int p, d, used = 0;
    if (sscanf(spec, "%d:%d%n", &p, &d, &used) == 2 && spec[used] == '\0' && p >= 0 && d >= 0)
        return (matcher){MATCH_INDEX, CLF_DEVICE_CPU, p, d, NULL};
    return (matcher){MATCH_NAME, CLF_DEVICE_CPU, -1, -1, spec};
}

bool clf__device_spec_ranks(const char *spec)
{
    matcher m = parse_spec(spec);
    return m.kind != MATCH_INDEX && m.kind != MATCH_NAME;
}

static int matches(const matcher *m, const clf_device_info *info)
{
    clf_device_class cls = clf_device_classify(info);
    switch (m->kind) {
    case MATCH_ANY: return 1;
    case MATCH_GPU: return cls == CLF_DEVICE_DGPU || cls == CLF_DEVICE_IGPU;
    case MATCH_CLASS: return cls == m->cls;
    case MATCH_INDEX: return info->platform_index == m->platform && info->device_index == m->device;
    case MATCH_NAME: return contains_ci(info->name, m->name);
    }
    return 0;
}

clf_status clf_device_select(const clf_device_info *devices, size_t n, const char *spec,
                             size_t *index)
{
    if (!index || (!devices && n))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_device_select: NULL argument");
    matcher m = parse_spec(spec);
    size_t best = n;
    for (size_t i = 0; i < n; i++) {
        if (!devices[i].available || !matches(&m, &devices[i])) continue;
        if (best == n || better(&devices[i], &devices[best])) best = i;
    }
    if (best < n) {
        *index = best;
        return CLF_OK;
    }
    /* Nothing matched: say what exists, so the user can pick. */
    char list[6144];
    size_t used = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof list; i++) {
        int w = snprintf(list + used, sizeof list - used, "\n  %d:%d %-11s %s%s",
                         devices[i].platform_index, devices[i].device_index,
                         clf_device_class_name(clf_device_classify(&devices[i])), devices[i].name,
                         devices[i].available ? "" : " (unavailable)");
        if (w < 0) break;
        used += (size_t)w;
    }
    return clf__error(NULL, CLF_ERR_NO_DEVICE,
                      "no OpenCL device matches \"%s\" (expected best, gpu, dgpu, igpu, "
                      "accelerator, cpu, P:D or a name substring); devices present:%s",
                      spec ? spec : "best", n ? list : " none");
}
