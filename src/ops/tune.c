/*
 * The autotuner (contract in include/clformer/tune.h): a registry of the
 * kernel profile's tunable fields, grouped by the kernels they shape, each
 * group with its representative shapes (the bench stacks': BERT-base and
 * MiniLM encoder GEMMs, GPT-2 decode GEMVs, attention at S 128 and decode)
 * and an odd-sized shape that checks every candidate against a host
 * reference before it is timed; and a greedy search, one field at a time.
 *
 * Candidates come from the profile's limits, never from a device name:
 * work-group sizes are powers of two up to the work-group limit and, in the
 * GPU family, not below the kernels' preferred work-group multiple; tiles
 * must fit the local memory (clf_kernel_profile_check). So the first run
 * on a GPU tunes it in one call.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ops/tune_internal.h"

enum { BOTH = 0, CPU_ONLY = 1, GPU_ONLY = 2 };
enum { LIST = 0, POW2 = 1, POW2_WG = 2 }; /* POW2_WG: capped by the work-group limit, GPU floor pm */

typedef struct field_spec {
    const char *name; /* a clf_kernel_profile field (src/device/profile_fields.c) */
    int family;       /* BOTH, CPU_ONLY or GPU_ONLY */
    int kind;         /* LIST: the values below; POW2, POW2_WG: powers of two lo..hi */
    int v[8];         /* LIST values, or {lo, hi} */
} field_spec;

#define MAX_FIELDS 6
typedef struct group_spec {
    const char *name;
    int family;
    field_spec fields[MAX_FIELDS];
    clf__tune_shape check;      /* odd sizes: every tile edge */
    clf__tune_shape shapes[4];  /* timed, summed; quick takes the first n_quick */
    int n_shapes, n_quick;
    double tol;                 /* bound on the check's normalised squared error */
} group_spec;

/* GEMM and attention: f32 accumulation over K <= 768 of uniform [-1, 1)
 * inputs gives an NMSE near 1e-13; 1e-5 leaves room for any summation order
 * while a wrong tile edge or a missed column gives 1e-2 or more. Norms and
 * softmax: 1e-6 for the same reason. */
static const group_spec groups[] = {
    {"gemv", BOTH,
     {{"gemv_vec", BOTH, LIST, {4, 8, 16}},
      {"gemv_cols_t", BOTH, LIST, {1, 2, 4, 8}},
      {"gemv_rows_t", BOTH, POW2, {1, 64}},
      {"gemv_split", GPU_ONLY, POW2_WG, {1, 256}}},
     {CLF__TUNE_GEMM, {1, 67, 131}},
     {{CLF__TUNE_GEMM, {1, 2304, 768}}, {CLF__TUNE_GEMM, {1, 768, 3072}},
      {CLF__TUNE_GEMM, {1, 3072, 768}}, {CLF__TUNE_GEMM, {1, 768, 768}}},
     4, 1, 1e-5},
    {"gemm_tiled", GPU_ONLY,
     {{"gemm_tile_m", BOTH, LIST, {16, 32, 64, 128}},
      {"gemm_tile_n", BOTH, LIST, {16, 32, 64, 128}},
      {"gemm_tile_k", BOTH, LIST, {8, 16, 32}},
      {"gemm_work_m", BOTH, LIST, {2, 4, 8}},
      {"gemm_work_n", BOTH, LIST, {2, 4, 8}}},
     {CLF__TUNE_GEMM, {37, 67, 131}},
     {{CLF__TUNE_GEMM, {128, 768, 768}}, {CLF__TUNE_GEMM, {128, 3072, 768}},
      {CLF__TUNE_GEMM, {128, 1536, 384}}},
     3, 1, 1e-5},
    {"attn_flash", BOTH,
     {{"attn_cpu_rows", CPU_ONLY, LIST, {2, 4, 6, 8}},
      {"attn_cpu_acc", CPU_ONLY, LIST, {1024, 2048, 4096, 8192}},
      {"attn_cpu_kv", CPU_ONLY, LIST, {4096, 8192, 16384, 32768}},
      {"attn_block_m", GPU_ONLY, POW2_WG, {8, 256}},
      {"attn_block_n", GPU_ONLY, LIST, {8, 16, 32, 64}},
      {"attn_vec", BOTH, LIST, {4, 8, 16}}},
     {CLF__TUNE_ATTN, {37, 37, 2, 64}},
     {{CLF__TUNE_ATTN, {128, 128, 12, 64}}, {CLF__TUNE_ATTN, {128, 128, 12, 32}}},
     2, 1, 1e-5},
    {"attn_decode", BOTH,
     {{"attn_decode_wg", BOTH, POW2_WG, {4, 256}},
      {"attn_splits_per_cu", BOTH, LIST, {1, 2, 4, 8, 16}}},
     {CLF__TUNE_ATTN, {1, 133, 2, 64}},
     {{CLF__TUNE_ATTN, {1, 256, 12, 64}}, {CLF__TUNE_ATTN, {1, 1024, 12, 64}}},
     2, 1, 1e-5},
    /* The integer forms over Q8 / Q4 weights (kernels/gemv.cl CLF_GI16, gemm_i16.cl) and
     * the Q4 GEMV's rows per item, as GPT-2 small's decode and a 16-row batch take them.
     * Their activations are quantised (int8 per 32 for Q4): an NMSE near 2e-5 against the
     * dequantised weights' float64 product, so 2e-4; a wrong row or group gives 1e-2 or
     * more. */
    {"gemv_int", CPU_ONLY,
     {{"int_gemv_rows", BOTH, POW2, {32, 512}},
      {"q4_gemv_cols", BOTH, LIST, {1, 2, 4}}},
     {CLF__TUNE_GEMM_Q4, {1, 67, 1000}},
     {{CLF__TUNE_GEMM_Q4, {1, 2304, 768}}, {CLF__TUNE_GEMM_Q4, {1, 768, 3072}},
      {CLF__TUNE_GEMM_Q8, {1, 2304, 768}}, {CLF__TUNE_GEMM_Q4, {1, 3072, 768}}},
     4, 2, 2e-4},
    {"gemm_int", CPU_ONLY,
     {{"int_gemm_rows", BOTH, LIST, {2, 4, 8, 16}},
      {"int_gemm_pass", BOTH, LIST, {1, 2, 4}},
      {"int_gemm_q4_cols", BOTH, LIST, {1, 2, 4}},
      {"int_gemm_groups", BOTH, LIST, {1, 2, 4, 8}}},
     {CLF__TUNE_GEMM_Q4, {37, 67, 1000}},
     {{CLF__TUNE_GEMM_Q4, {16, 3072, 768}}, {CLF__TUNE_GEMM_Q8, {16, 3072, 768}},
      {CLF__TUNE_GEMM_Q4, {16, 768, 3072}}},
     3, 2, 2e-4},
    {"rows", BOTH,
     {{"rows_wg", CPU_ONLY, POW2_WG, {1, 128}},
      {"row_wg_max", GPU_ONLY, POW2_WG, {16, 1024}},
      {"row_wg_min", GPU_ONLY, POW2_WG, {1, 256}}},
     {CLF__TUNE_NORM, {37, 771}},
     {{CLF__TUNE_NORM, {128, 768}}, {CLF__TUNE_SOFTMAX, {1536, 128}}, {CLF__TUNE_NORM, {128, 384}}},
     3, 2, 1e-6},
};

static bool applies(int family, const clf_kernel_profile *p)
{
    return family == BOTH || (family == CPU_ONLY) == (p->family == CLF_KERNELS_CPU);
}

/* Candidate values of field f on profile p into out (at most 16); quick
 * keeps those within a factor of 2 of the current value. pm: the GPU
 * family's floor on work-group sizes (the preferred multiple). */
static int candidates(const field_spec *f, const clf_kernel_profile *p, int cur, bool quick,
                      int pm, int out[16])
{
    int all[16], n = 0;
    if (f->kind == LIST) {
        for (int i = 0; i < 8 && f->v[i]; i++) all[n++] = f->v[i];
    } else {
        uint64_t hi = (uint64_t)f->v[1], wg = clf__limits_group_max(&p->limits);
        int lo = f->v[0];
        if (f->kind == POW2_WG) {
            if (hi > wg) hi = wg;
            if (p->family == CLF_KERNELS_GPU && pm > lo && (uint64_t)pm <= hi) lo = pm;
        }
        for (uint64_t v = 1; v <= hi && n < 16; v *= 2)
            if (v >= (uint64_t)lo) all[n++] = (int)v;
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!quick || (all[i] * 2 >= cur && all[i] <= cur * 2)) out[m++] = all[i];
    return m;
}

static void sort(double *t, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
}

/* Seconds per run of w over `inner` runs enqueued back to back and ended
 * by one finish: short kernels (0.1 ms on a CPU) are timed in batches of
 * about 2 ms, so the clock and one scheduler hiccup do not decide. */
static clf_status time_batch(clf_context *ctx, const clf__tune_work *w, int inner, double *s)
{
    double t0 = clf__now();
    for (int i = 0; i < inner; i++) CLF_TRY(clf__tune_work_run(ctx, w));
    CLF_TRY(clf_context_finish(ctx));
    *s = (clf__now() - t0) / inner;
    return CLF_OK;
}

/* Two warm-up runs (the first compiles), then the batch size from the
 * second. */
static clf_status warm_up(clf_context *ctx, const clf__tune_work *w, int *inner)
{
    double t = 0;
    CLF_TRY(time_batch(ctx, w, 1, &t));
    CLF_TRY(time_batch(ctx, w, 1, &t));
    int n = t > 0 ? (int)(2e-3 / t) + 1 : 64;
    *inner = n < 1 ? 1 : n > 64 ? 64 : n;
    return CLF_OK;
}

#define MAX_REPS 32

/* The sum over the works of the median of reps batches after warm-up,
 * with ctx's current profile. */
static clf_status time_works(clf_context *ctx, const clf__tune_work *w, int n, int reps, double *sum)
{
    *sum = 0;
    for (int i = 0; i < n; i++) {
        double t[MAX_REPS];
        int inner = 1;
        CLF_TRY(warm_up(ctx, &w[i], &inner));
        for (int r = 0; r < reps; r++) CLF_TRY(time_batch(ctx, &w[i], inner, &t[r]));
        sort(t, reps);
        *sum += t[reps / 2];
    }
    return CLF_OK;
}

/* Default against tuned, interleaved batch by batch so that load drifts
 * hit both alike: the sums of the medians over 2 x reps batches each. */
static clf_status compare(clf_context *ctx, const clf_kernel_profile *a, const clf_kernel_profile *b,
                          const clf__tune_work *w, int n, int reps, double *ta, double *tb)
{
    *ta = *tb = 0;
    int r2 = 2 * reps > MAX_REPS ? MAX_REPS : 2 * reps;
    for (int i = 0; i < n; i++) {
        double t[2][MAX_REPS];
        int inner[2];
        for (int c = 0; c < 2; c++) {
            ctx->kprof = c ? *b : *a;
            CLF_TRY(warm_up(ctx, &w[i], &inner[c]));
        }
        int k = inner[0] > inner[1] ? inner[0] : inner[1];
        for (int r = 0; r < r2; r++)
            for (int c = 0; c < 2; c++) {
                ctx->kprof = c ? *b : *a;
                CLF_TRY(time_batch(ctx, &w[i], k, &t[c][r]));
            }
        sort(t[0], r2);
        sort(t[1], r2);
        *ta += t[0][r2 / 2];
        *tb += t[1][r2 / 2];
    }
    return CLF_OK;
}

static void say(const clf_tune_params *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const clf_tune_params *p, const char *fmt, ...)
{
    if (!p->progress) return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    p->progress(line, p->user);
}

/* The kernels' preferred work-group multiple: of the last kernel the
 * context built (the group's default run made it). 1 when unknown. */
static int preferred_multiple(clf_context *ctx)
{
    for (size_t i = ctx->n_programs; i-- > 0;) {
        const clf__program_slot *s = &ctx->programs[i];
        if (!s->n_kernels || !s->kernels[0].kernel) continue;
        size_t pm = 0;
        if (clGetKernelWorkGroupInfo(s->kernels[0].kernel, ctx->device,
                                     CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE, sizeof pm, &pm,
                                     NULL) == CL_SUCCESS && pm > 0 && pm <= 1024)
            return (int)pm;
        break;
    }
    return 1;
}

/* Whether candidate profile c is valid and passes the group's check. */
static bool candidate_ok(clf_context *ctx, const group_spec *g, const clf_kernel_profile *c,
                         const clf__tune_work *check, double *nmse)
{
    ctx->kprof = *c;
    *nmse = INFINITY;
    return clf__tune_work_check(ctx, check, nmse) == CLF_OK && *nmse <= g->tol;
}

static void values_text(const group_spec *g, const clf_kernel_profile *p, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    clf_kernel_profile copy = *p;
    for (int i = 0; i < MAX_FIELDS && g->fields[i].name && used < size; i++) {
        if (!applies(g->fields[i].family, p)) continue;
        const clf__profile_field *f = clf__profile_field_find(g->fields[i].name);
        used += (size_t)snprintf(buf + used, size - used, "%s%s=%d", used ? " " : "", f->name,
                                 *clf__profile_field_ptr(&copy, f));
    }
}

/* Tunes group g from *base; on return *base holds the group's winners when
 * they beat the defaults. */
static clf_status tune_group(clf_context *ctx, const group_spec *g, const clf_tune_params *p,
                             int reps, clf_kernel_profile *base, clf_tune_group_result *res)
{
    memset(res, 0, sizeof *res);
    snprintf(res->name, sizeof res->name, "%s", g->name);
    int n = p->quick ? g->n_quick : g->n_shapes;
    clf__tune_work works[4], check;
    memset(works, 0, sizeof works);
    memset(&check, 0, sizeof check);
    size_t used = 0;
    for (int i = 0; i < n; i++) {
        char s[96];
        clf__tune_shape_text(&g->shapes[i], s, sizeof s);
        used += (size_t)snprintf(res->shapes + used, sizeof res->shapes - used, "%s%s", i ? ", " : "", s);
        if (used >= sizeof res->shapes) used = sizeof res->shapes - 1;
    }
    clf_status st = clf__tune_work_make(ctx, &g->check, 0x7475u + (uint64_t)g->check.op, true, &check);
    for (int i = 0; i < n && st == CLF_OK; i++) st = clf__tune_work_make(ctx, &g->shapes[i], 17u + (uint64_t)i, false, &works[i]);
    double nmse = 0, t_cur = 0;
    clf_kernel_profile cur = *base;
    if (st == CLF_OK && !candidate_ok(ctx, g, &cur, &check, &nmse))
        st = clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tune: %s: the default values fail the reference check (NMSE %.3g): %s",
                        g->name, nmse, clf_context_last_error(ctx));
    if (st == CLF_OK) st = time_works(ctx, works, n, reps, &t_cur);
    int pm = preferred_multiple(ctx);
    if (st == CLF_OK) say(p, "%s: default %.3f ms (%s); preferred work-group multiple %d", g->name, t_cur * 1e3, res->shapes, pm);
    for (int fi = 0; fi < MAX_FIELDS && g->fields[fi].name && st == CLF_OK; fi++) {
        const field_spec *fs = &g->fields[fi];
        if (!applies(fs->family, &cur)) continue;
        const clf__profile_field *f = clf__profile_field_find(fs->name);
        int now = *clf__profile_field_ptr(&cur, f), vals[16];
        int nv = candidates(fs, &cur, now, p->quick, pm, vals);
        for (int vi = 0; vi < nv; vi++) {
            if (vals[vi] == *clf__profile_field_ptr(&cur, f)) continue;
            clf_kernel_profile trial = cur;
            *clf__profile_field_ptr(&trial, f) = vals[vi];
            if (clf_kernel_profile_check(&trial) != CLF_OK) continue; /* outside the limits */
            /* Timed interleaved with the current best, so a load swing between
             * two measurements cannot crown a candidate. */
            double t = 0, tc = 0;
            if (!candidate_ok(ctx, g, &trial, &check, &nmse) ||
                compare(ctx, &cur, &trial, works, n, reps, &tc, &t) != CLF_OK) {
                res->rejected++;
                say(p, "  %s=%d rejected (NMSE %.3g%s%s)", f->name, vals[vi], nmse,
                    isfinite(nmse) && nmse <= g->tol ? "; " : "", isfinite(nmse) && nmse <= g->tol ? clf_context_last_error(ctx) : "");
                continue;
            }
            res->tried++;
            bool win = t < tc * 0.97;
            say(p, "  %s=%d %.3f ms against %.3f ms%s", f->name, vals[vi], t * 1e3, tc * 1e3,
                win ? " (better: taken)" : "");
            if (win) *clf__profile_field_ptr(&cur, f) = vals[vi];
        }
    }
    /* The winners must beat the defaults by 2% in two interleaved runs, or
     * the defaults stay: a tuned group is never slower than the default in
     * the run that chose it. Times reported: the second run's. */
    bool differs = memcmp(&cur, base, sizeof cur) != 0, confirmed = differs;
    for (int round = 0; round < 2 && confirmed && st == CLF_OK; round++) {
        st = compare(ctx, base, &cur, works, n, reps, &res->default_s, &res->candidate_s);
        confirmed = res->candidate_s < 0.98 * res->default_s;
    }
    if (st == CLF_OK && !differs) res->default_s = t_cur;
    if (st == CLF_OK) {
        res->changed = differs && confirmed;
        res->tuned_s = res->changed ? res->candidate_s : res->default_s;
        if (res->changed) *base = cur;
        values_text(g, base, res->values, sizeof res->values);
        if (res->changed || !differs)
            say(p, "%s: default %.3f ms, tuned %.3f ms: %s%s", g->name, res->default_s * 1e3,
                res->tuned_s * 1e3, res->values, res->changed ? "" : " (no candidate was faster: the defaults kept)");
        else
            say(p, "%s: the search's best ran %.3f ms against the default's %.3f ms, not 2%% faster "
                "in two interleaved runs: the defaults kept (%s)",
                g->name, res->candidate_s * 1e3, res->default_s * 1e3, res->values);
    }
    for (int i = 0; i < 4; i++) clf__tune_work_free(&works[i]);
    clf__tune_work_free(&check);
    return st;
}

void clf__tune_extreme(const clf_kernel_profile *base, bool high, int max_work, clf_kernel_profile *out)
{
    clf_kernel_profile p = *base;
    for (size_t g = 0; g < CLF_ARRAY_LEN(groups); g++) {
        if (!applies(groups[g].family, &p)) continue;
        for (int fi = 0; fi < MAX_FIELDS && groups[g].fields[fi].name; fi++) {
            const field_spec *fs = &groups[g].fields[fi];
            if (!applies(fs->family, &p)) continue;
            const clf__profile_field *f = clf__profile_field_find(fs->name);
            int vals[16], nv = candidates(fs, &p, *clf__profile_field_ptr(&p, f), false, 1, vals);
            for (int i = 0; i < nv; i++) {
                clf_kernel_profile trial = p;
                int v = vals[high ? nv - 1 - i : i];
                bool work = !strcmp(fs->name, "gemm_work_m") || !strcmp(fs->name, "gemm_work_n");
                if (max_work > 0 && work && v > max_work) continue;
                *clf__profile_field_ptr(&trial, f) = v;
                if (clf_kernel_profile_check(&trial) == CLF_OK) {
                    p = trial;
                    break;
                }
            }
        }
    }
    *out = p;
}

/* Whether group name is in the comma list (NULL or "" = every group). */
static bool listed(const char *list, const char *name)
{
    if (!list || !*list) return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return true;
        p += len + (e != NULL);
    }
    return false;
}

static clf_status check_groups(clf_context *ctx, const char *list)
{
    if (!list) return CLF_OK;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        bool known = false;
        for (size_t g = 0; g < CLF_ARRAY_LEN(groups) && !known; g++)
            known = strlen(groups[g].name) == len && strncmp(p, groups[g].name, len) == 0;
        if (!known) {
            char names[160];
            size_t used = 0;
            for (size_t g = 0; g < CLF_ARRAY_LEN(groups) && used < sizeof names; g++)
                used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", g ? ", " : "",
                                         groups[g].name);
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tune: unknown group \"%.*s\" (groups: %s)",
                              (int)len, p, names);
        }
        p += len + (e != NULL);
    }
    return CLF_OK;
}

static clf_status tune_body(clf_context *ctx, const clf_tune_params *params, clf_tune_report *out)
{
    if (!ctx || !out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tune: NULL argument");
    clf_tune_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(check_groups(ctx, p.groups));
    int reps = p.reps > 0 ? p.reps : p.quick ? 3 : 5;
    if (reps > MAX_REPS / 2) reps = MAX_REPS / 2;
    memset(out, 0, sizeof *out);
    double t0 = clf__now();
    const clf_kernel_profile saved = ctx->kprof;
    clf_kernel_profile best = ctx->kprof_default;
    bool dry = ctx->dry_run;
    ctx->dry_run = false;
    clf_status st = CLF_OK;
    for (size_t g = 0; g < CLF_ARRAY_LEN(groups) && st == CLF_OK; g++) {
        if (!applies(groups[g].family, &best) || !listed(p.groups, groups[g].name)) continue;
        st = tune_group(ctx, &groups[g], &p, reps, &best, &out->groups[out->n_groups]);
        if (st == CLF_OK) out->n_groups++;
    }
    ctx->dry_run = dry;
    if (st != CLF_OK) {
        ctx->kprof = saved;
        return st;
    }
    best.tuned = true;
    ctx->kprof = best;
    if (!p.no_save && ctx->cache_dir) st = clf__tune_save(ctx, &best, out->path, sizeof out->path);
    out->seconds = clf__now() - t0;
    return st;
}

clf_status clf_tune(clf_context *ctx, const clf_tune_params *params, clf_tune_report *out)
{
    CLF__GUARDED(ctx, "clf_tune", tune_body(ctx, params, out));
}
