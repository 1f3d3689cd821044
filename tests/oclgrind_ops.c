/*
 * oclgrind_ops: every kernel of the kernel family a context uses, at small
 * shapes that still cross every tile, chunk and work-group edge, checked
 * against the float64 references of tests/ref/ (NMSE, TESTING.md's bounds) and
 * with sentinels around every output view. Meant to run under Oclgrind
 * (tools/oclgrind-check.sh), which adds the race, bounds, barrier and API
 * checks; it runs on any device too. Plain C, not Criterion: one process,
 * one context, nothing forked, so the simulator starts once.
 *
 *   oclgrind_ops [--list] [--exclude SUB]... [SUB | =NAME]...
 *
 * Runs the cases whose name contains one of the SUBs or is one of the NAMEs
 * (all cases without either) and contains none of the --exclude SUBs. Each
 * case lists the kernels it must launch for each family; the kernels that
 * really ran (from the context's profile) must be exactly those, so a family
 * override that is ignored fails loudly. The last line: "oclgrind_ops:
 * family F: N passed, M failed (seed S)". Exit 0 when every selected case
 * passed, 1 otherwise, 2 on a usage or device error. The cases themselves are
 * in oclgrind_cases.c.
 *
 * Environment: CLFORMER_TEST_SEED replays a run; CLFORMER_KERNELS=cpu|gpu
 * picks the family (the context's kernel profile says which one runs), and
 * the other CLFORMER_* variables reach the library as usual. The driver sets
 * CLFORMER_GEMM=builtin (CLBlast is not ours to check, and its auto
 * measurement would compile for minutes under the simulator) and makes its
 * own CLFORMER_GEMV_MAX_M choices (a second context with 8 for the GEMV cases,
 * so that a CPU family runs the GEMV at every M from 1 to 8) and a third
 * context with CLFORMER_GEMV_I16=2 (the int16 forms of clf_gemv and
 * clf_gemm_i16 with portable products, which Oclgrind's compiler does not
 * offer as an instruction).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <clformer/clformer.h>

#include "oclgrind_ops.h"
#include "ref/ref_copy.h"

#define SENTINEL 7.25f /* exact in f16; i32 buffers hold 7 */
#define MAX_KEPT 2048
#define MAX_KERNELS 16

/* Device tensors live until the end of the process. Oclgrind 21.10 reuses
 * the index of a released buffer for the next one, and its uninitialised-
 * value plugin never drops the shadow of a released buffer: a buffer that
 * is only written by kernels (the library's scratch) and lands on the index
 * of a smaller released one keeps the old, smaller shadow, so what the
 * kernels store past the old size is lost and read back as uninitialised
 * (seen: attn_decode_combine reading attn_decode_partial's records after
 * the attn/flash tensors were freed). The cases need a few MiB in all. */
static clf_tensor kept[MAX_KEPT];
static int n_kept;

int og_fail(og_run *r, const char *fmt, ...)
{
    if (r->why[0]) return 1; /* keep the first */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
    return 1;
}

void *og_hmem(og_run *r, size_t n)
{
    void *p = calloc(n ? n : 1, 1);
    if (!p || r->n_mem == MAX_OWNED) {
        fprintf(stderr, "oclgrind_ops: out of host memory\n");
        exit(2);
    }
    return r->mem[r->n_mem++] = p;
}

/* A view of shape stored in the order perm (NULL: row-major; storage
 * dimension i holds logical dimension perm[i]) with gap spare elements after
 * each innermost storage row and lead elements in front. */
int og_pv_make(og_run *r, og_view *p, clf_dtype dt, int ndim, const int64_t *shape, const int *perm,
               int64_t lead, int64_t gap)
{
    static const int ident[4] = {0, 1, 2, 3};
    if (!perm) perm = ident;
    int64_t stride[4], s = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        stride[perm[i]] = s;
        s *= shape[perm[i]] + (i == ndim - 1 ? gap : 0);
    }
    p->n = lead + s + 3;
    if (n_kept == MAX_KEPT) return og_fail(r, "more than %d tensors", MAX_KEPT);
    TRY(r, clf_tensor_create(r->ctx, dt, 1, &p->n, &p->whole));
    kept[n_kept++] = p->whole;
    TRY(r, clf_tensor_view(&p->whole, ndim, shape, stride, lead, &p->v));
    p->host = HOST(r, float, p->n);
    for (int64_t i = 0; i < p->n; i++)
        p->host[i] = dt == CLF_I32 ? 7.0f : SENTINEL;
    return 0;
}

static int64_t at(const og_view *p, int64_t i)
{
    return ref_view_index(p->v.ndim, p->v.shape, p->v.stride, p->v.offset, i);
}

float og_stored(clf_dtype dt, float v)
{
    if (dt != CLF_F16) return v;
    uint16_t h;
    clf_f32_to_f16(&v, &h, 1);
    clf_f16_to_f32(&h, &v, 1);
    return v;
}

/* Puts vals (row-major over the view, rounded in place to the dtype) into
 * the view and uploads the buffer. */
int og_pv_set(og_run *r, og_view *p, float *vals)
{
    int64_t n = clf_tensor_numel(&p->v);
    for (int64_t i = 0; i < n; i++)
        p->host[at(p, i)] = vals[i] = og_stored(p->v.dtype, vals[i]);
    TRY(r, clf_tensor_write_f32(r->ctx, &p->whole, p->host, p->n));
    return 0;
}

/* Random values in [lo, hi) for the view; returns them (row-major). */
float *og_pv_random(og_run *r, og_view *p, float lo, float hi)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *v = HOST(r, float, n);
    clft_fill_uniform(&r->rng, v, (size_t)n, lo, hi);
    return og_pv_set(r, p, v) ? NULL : v;
}

/* An output: NaN in the view (an element never written fails), sentinels
 * around it. */
int og_pv_poison(og_run *r, og_view *p)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *v = HOST(r, float, n);
    if (p->v.dtype == CLF_I32)
        for (int64_t i = 0; i < n; i++)
            v[i] = -12345.0f;
    else
        clft_poison(v, (size_t)n);
    return og_pv_set(r, p, v);
}

/* Reads the buffer back: out (row-major) gets the view; every element
 * outside it must be unchanged. */
int og_pv_get(og_run *r, og_view *p, float *out, const char *what)
{
    float *all = HOST(r, float, p->n);
    char *in = HOST(r, char, p->n);
    TRY(r, clf_tensor_read_f32(r->ctx, &p->whole, all, p->n));
    int64_t n = clf_tensor_numel(&p->v);
    for (int64_t i = 0; i < n; i++) {
        in[at(p, i)] = 1;
        out[i] = all[at(p, i)];
    }
    for (int64_t j = 0; j < p->n; j++)
        if (!in[j] && memcmp(&all[j], &p->host[j], sizeof(float)) != 0)
            return og_fail(r, "%s: element %lld outside the view changed to %g", what, (long long)j,
                           all[j]);
    return 0;
}

/* NMSE of the view against ref, under bound. */
int og_pv_expect(og_run *r, og_view *p, const double *ref, double bound, const char *what)
{
    int64_t n = clf_tensor_numel(&p->v);
    float *got = HOST(r, float, n);
    if (og_pv_get(r, p, got, what)) return 1;
    double e = clft_nmse(got, ref, (size_t)n);
    if (e / bound > r->worst) r->worst = e / bound;
    if (!(e < bound)) return og_fail(r, "%s: NMSE %.3g >= %.3g", what, e, bound);
    return 0;
}

int og_each(og_run *r, int (*fn)(og_run *, const void *), const void *t, size_t n, size_t size)
{
    for (size_t i = 0; i < n; i++)
        if (fn(r, (const char *)t + i * size)) return 1;
    return 0;
}

double *og_dense(og_run *r, const float *v, int64_t n)
{
    double *d = HOST(r, double, n);
    for (int64_t i = 0; i < n; i++)
        d[i] = v[i];
    return d;
}

/* ================================ driver ============================== */

typedef struct ocase {
    const char *name;
    int (*fn)(og_run *);
    const char *cpu, *gpu; /* the kernels it must launch in each family, space-separated */
    int context;           /* 0 the default one; 1 CLFORMER_GEMV_MAX_M=8; 2 CLFORMER_GEMV_I16=2 */
} ocase;

#define EW_ALL "ew_unary_rows ew_unary"
static const ocase CASES[] = {
    {"gemm/nt", case_gemm_nt, "clf_gemm_reg", "clf_gemm_tiled", 0},
    {"gemm/nn", case_gemm_nn, "clf_gemm_reg", "clf_gemm_tiled", 0},
    {"gemm/packed", case_gemm_packed, "clf_gemm_pack clf_gemm_reg", "clf_gemm_pack clf_gemm_reg", 0},
    {"gemm/gemv", case_gemv, "clf_gemv", "clf_gemv", 1},
    {"gemm/q8", case_gemm_q8, "clf_gemv clf_gemm_pack clf_gemm_i16",
     "clf_gemv clf_gemm_tiled clf_gemm_pack clf_gemm_reg", 1},
    {"gemm/q4", case_gemm_q4, "clf_gemv clf_gemm_i16", "clf_gemv clf_gemm_tiled norm_rows", 1},
    {"gemm/i16", case_gemm_i16, "clf_gemv clf_gemm_i16 clf_gemm_pack",
     "clf_gemv clf_gemm_i16 clf_gemm_pack norm_rows", 2},
    {"attn/flash", case_attn_flash, "attn_flash_cpu", "attn_flash", 0},
    {"attn/decode", case_attn_decode, "attn_decode_partial attn_decode_combine attn_decode_rows",
     "attn_decode_partial attn_decode_combine copy_rows_b32 copy_rows_b16", 0},
    {"attn/unfused", case_attn_unfused, "clf_gemm_reg attn_mask_keys softmax_rows_vec",
     "clf_gemv attn_mask_keys softmax_rows", 0},
    {"softmax/rows", case_softmax_rows, "softmax_rows", "softmax_rows", 0},
    {"softmax/vec", case_softmax_vec, "softmax_rows_vec", "softmax_rows", 0},
    {"norm/rows", case_norm_rows, "norm_rows", "norm_rows", 0},
    {"norm/vec", case_norm_vec, "norm_rows_vec", "norm_rows", 0},
    {"ew/unary", case_ew_unary, EW_ALL, EW_ALL, 0},
    {"ew/add", case_ew_add, "ew_add_rows ew_add", "ew_add_rows ew_add", 0},
    {"embed", case_embed,
     "embedding_vec embedding positional_encoding_vec positional_encoding clf_gemm_pack",
     "embedding_vec embedding positional_encoding_vec positional_encoding clf_gemm_pack", 0},
    {"topk/vec", case_topk_vec, "argmax_rows_vec topk_rows_vec", "argmax_rows topk_rows", 0},
    {"topk/rows", case_topk_rows, "argmax_rows topk_rows", "argmax_rows topk_rows", 0},
    {"copy", case_copy,
     "copy_rows_b32 copy_rows_b16 copy_rows_f32_f16 copy_rows_f16_f32 copy_b32 copy_b16 "
     "copy_f32_f16 copy_f16_f32",
     "copy_rows_b32 copy_rows_b16 copy_rows_f32_f16 copy_rows_f16_f32 copy_b32 copy_b16 "
     "copy_f32_f16 copy_f16_f32",
     0},
    {"tensor/fill", case_fill,
     "fill_f32 fill_f16 fill_i32 fill_uniform_f32_dense fill_uniform_f16_dense fill_uniform_f32 "
     "fill_uniform_f16",
     "fill_f32 fill_f16 fill_i32 fill_uniform_f32_dense fill_uniform_f16_dense fill_uniform_f32 "
     "fill_uniform_f16",
     0},
    {"batch/rows", case_batch_rows,
     "embedding_vec embedding kv_rows_b32 kv_rows_f32_f16 attn_decode_rows",
     "embedding_vec embedding kv_rows_b32 kv_rows_f32_f16 attn_decode_partial attn_decode_combine",
     0},
    {"selftest", case_selftest, "", "", 0},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* The kernels run since the last call, each once in order of first launch,
 * into names, with how many times each ran into counts. */
static int launched(og_run *r, const char **names, int *counts, int cap)
{
    static clf_profile_record rec[4096];
    size_t n = 0;
    int count = 0;
    if (clf_context_profile(r->ctx, rec, 4096, &n) != CLF_OK) return -1;
    for (size_t i = 0; i < n; i++) {
        int j = 0;
        while (j < count && strcmp(names[j], rec[i].kernel) != 0)
            j++;
        if (j == count && count < cap) names[count] = rec[i].kernel, counts[count++] = 0;
        if (j < count) counts[j]++;
    }
    return count;
}

/* Whether the set of names equals the space-separated list want. */
static int same_set(const char **names, int n, const char *want)
{
    int listed = 0;
    for (const char *p = want; *p;) {
        size_t len = strcspn(p, " ");
        int found = 0;
        for (int i = 0; i < n && !found; i++)
            found = strlen(names[i]) == len && !strncmp(names[i], p, len);
        if (!found) return 0;
        listed++;
        p += len;
        p += strspn(p, " ");
    }
    return listed == n;
}

static int selected(const char *name, int argc, char **argv)
{
    int any = 0, hit = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--exclude") == 0) {
            if (strstr(name, argv[++i])) return 0;
        } else if (argv[i][0] == '=') {
            any = 1;
            hit = hit || strcmp(name, argv[i] + 1) == 0;
        } else if (argv[i][0] != '-') {
            any = 1;
            hit = hit || strstr(name, argv[i]) != NULL;
        }
    }
    return !any || hit;
}

static clf_context *open_context(int kind)
{
    if (kind == 1)
        setenv("CLFORMER_GEMV_MAX_M", "8", 1);
    else
        unsetenv("CLFORMER_GEMV_MAX_M");
    if (kind == 2)
        setenv("CLFORMER_GEMV_I16", "2", 1);
    else
        unsetenv("CLFORMER_GEMV_I16");
    clf_context_params p = clf_context_params_default();
    p.profiling = true; /* the kernel names of each case */
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    if (st != CLF_OK) {
        fprintf(stderr, "oclgrind_ops: clf_context_create: %s: %s\n", clf_status_name(st),
                clf_context_last_error(NULL));
        return NULL;
    }
    return ctx;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t c = 0; c < N_CASES; c++)
                printf("%s\n", CASES[c].name);
            return 0;
        }
        if (strcmp(argv[i], "--exclude") == 0 && i + 1 == argc) {
            fprintf(stderr, "usage: oclgrind_ops [--list] [--exclude SUB]... [SUB | =NAME]...\n");
            return 2;
        }
        if (strcmp(argv[i], "--exclude") == 0)
            i++;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "oclgrind_ops: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    setenv("CLFORMER_GEMM", "builtin", 1);
    uint64_t seed = clft_seed();
    clf_context *ctx[3] = {open_context(0), NULL, NULL};
    if (!ctx[0]) return 2;
    const clf_kernel_profile *prof = clf_context_kernel_profile(ctx[0]);
    const int cpu = prof->family == CLF_KERNELS_CPU;
    const char *fam = clf_kernel_family_name(prof->family);
    printf("oclgrind_ops: device \"%s\" (%s), kernel family %s (%s)%s\n",
           clf_context_device(ctx[0])->name,
           clf_device_class_name(clf_context_device(ctx[0])->device_class), fam,
           prof->family_reason, prof->limits_simulated ? ", limits simulated" : "");
    int passed = 0, failed = 0;
    for (size_t c = 0; c < N_CASES; c++) {
        const ocase *oc = &CASES[c];
        if (!selected(oc->name, argc, argv)) continue;
        if (!ctx[oc->context] && !(ctx[oc->context] = open_context(oc->context))) return 2;
        og_run r;
        memset(&r, 0, sizeof r);
        r.ctx = ctx[oc->context];
        r.rng = clft_rng_make(seed, c + 1);
        r.cpu = cpu;
        double t0 = now();
        int bad = oc->fn(&r);
        const char *names[MAX_KERNELS];
        int counts[MAX_KERNELS];
        int nk = launched(&r, names, counts, MAX_KERNELS);
        const char *want = cpu ? oc->cpu : oc->gpu;
        if (!bad && (nk < 0 || !same_set(names, nk, want)))
            bad = og_fail(&r, "the kernels launched are not the %s family's: expected {%s}", fam,
                          want);
        printf("%s %-14s %5.1f s  nmse/bound %.1e  [", bad ? "FAIL" : "ok  ", oc->name, now() - t0,
               r.worst);
        for (int i = 0; i < nk; i++)
            printf("%s%s x%d", i ? " " : "", names[i], counts[i]);
        printf("]\n");
        if (bad) printf("     %s (seed %llu)\n", r.why, (unsigned long long)seed);
        fflush(stdout);
        for (int i = 0; i < r.n_mem; i++)
            free(r.mem[i]);
        passed += !bad;
        failed += bad;
    }
    for (int i = 0; i < n_kept; i++)
        clf_tensor_free(&kept[i]);
    clf_context_free(ctx[0]);
    clf_context_free(ctx[1]);
    clf_context_free(ctx[2]);
    printf("oclgrind_ops: family %s: %d passed, %d failed (seed %llu)\n", fam, passed, failed,
           (unsigned long long)seed);
    return failed ? 1 : 0;
}
