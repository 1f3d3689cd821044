/*
 * GEMM auto: which provider wins is a property of the device and the shape
 * class, so it is measured once (a few runs of each provider on one
 * representative shape per class) and cached on disk beside the kernel
 * binaries, keyed like them by the device's identity.
 *
 * Classes: decode-shaped (M <= 8) and general, each for f32 and all-f16
 * operands. Mixed dtypes (f16 weights, f32 activations) only run builtin,
 * and so do CPU devices unless CLFORMER_GEMM=measure (see skip_measurement).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ops/gemm_internal.h"

static const char *class_names[4] = {"gemv-f32", "gemm-f32", "gemv-f16", "gemm-f16"};

static int class_of(int64_t m, clf_dtype dtype) { return (m > 8) + 2 * (dtype == CLF_F16); }

static clf_status choice_path(clf_context *ctx, char *path, size_t size)
{
    if (!ctx->cache_dir) return CLF_ERR_NOT_FOUND;
    unsigned char key[CLF__CACHE_KEY_BYTES];
    static const char tag[] = "gemm provider choice v1";
    CLF_TRY(clf__cache_key(ctx, tag, sizeof tag - 1, "", key));
    char hex[17];
    for (int i = 0; i < 8; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
    snprintf(path, size, "%s/gemm-choice-%s.txt", ctx->cache_dir, hex);
    return CLF_OK;
}

/* Reads every class the file knows into the context; bad lines are ignored. */
static void load_choices(clf_context *ctx, clf__ops_state *s)
{
    char path[4200];
    if (choice_path(ctx, path, sizeof path) != CLF_OK) return;
    /* clf__file_read_all: a FIFO or device at the name is ignored at once. */
    char *text = NULL, msg[256];
    size_t len = 0;
    if (clf__file_read_all(path, 4096, &text, &len, msg, sizeof msg) != CLF_OK) return;
    char name[32], prov[32];
    double tb, tc;
    int used = 0;
    for (const char *p = text; sscanf(p, "%31s %31s %lf %lf%n", name, prov, &tb, &tc, &used) == 4;
         p += used) {
        for (int c = 0; c < 4; c++) {
            if (strcmp(name, class_names[c]) != 0) continue;
            if (strcmp(prov, "builtin") == 0) s->gemm_choice[c] = CLF_GEMM_BUILTIN;
            else if (strcmp(prov, "clblast") == 0) s->gemm_choice[c] = CLF_GEMM_CLBLAST;
            s->gemm_choice_s[c][0] = tb;
            s->gemm_choice_s[c][1] = tc;
        }
    }
    clf__free(text);
}

/* Written through clf__file_replace (a random O_EXCL temp file, then
 * rename): a link planted in the cache folder is never written through. */
static void save_choices(clf_context *ctx, const clf__ops_state *s)
{
    char path[4200], text[512];
    if (choice_path(ctx, path, sizeof path) != CLF_OK) return;
    size_t used = 0;
    for (int c = 0; c < 4 && used < sizeof text; c++)
        if (s->gemm_choice[c]) {
            int w = snprintf(text + used, sizeof text - used, "%s %s %.9g %.9g\n", class_names[c],
                             s->gemm_choice[c] == CLF_GEMM_CLBLAST ? "clblast" : "builtin",
                             s->gemm_choice_s[c][0], s->gemm_choice_s[c][1]);
            if (w < 0 || (size_t)w >= sizeof text - used) return;
            used += (size_t)w;
        }
    const void *parts[] = {text};
    size_t sizes[] = {used};
    (void)clf__file_replace(path, parts, sizes, 1);
}

/* Median of 5 timed runs after one untimed run (which, for CLBlast, is
 * where its own kernels compile: that cost is not what we compare). */
static clf_status time_provider(clf_context *ctx, clf_gemm_provider prov, const clf_tensor *a,
                                const clf_tensor *b, clf_tensor *c, double *median)
{
    clf_gemm_params p = clf_gemm_params_default();
    p.trans_b = true;
    p.provider = prov;
    double t[5];
    for (int i = -1; i < 5; i++) {
        double t0 = clf__now();
        CLF_TRY(clf_gemm(ctx, a, b, c, &p));
        CLF_TRY(clf_context_finish(ctx));
        if (i >= 0) t[i] = clf__now() - t0;
    }
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
            double x = t[j];
            t[j] = t[j - 1];
            t[j - 1] = x;
        }
    *median = t[2];
    return CLF_OK;
}

/* Measures class c on a representative shape: a decode step of a d_model
 * 1024 layer, or a 128-token batch through a 512-wide layer. */
static clf_status measure(clf_context *ctx, clf__ops_state *s, int c)
{
    clf_dtype dt = c >= 2 ? CLF_F16 : CLF_F32;
    int64_t m = (c & 1) ? 128 : 1, n = (c & 1) ? 512 : 1024, k = (c & 1) ? 512 : 1024;
    clf_tensor a = {0}, b = {0}, out = {0};
    clf_status st = clf_tensor_create(ctx, dt, 2, (int64_t[]){m, k}, &a);
    if (st == CLF_OK) st = clf_tensor_create(ctx, dt, 2, (int64_t[]){n, k}, &b);
    if (st == CLF_OK) st = clf_tensor_create(ctx, dt, 2, (int64_t[]){m, n}, &out);
    if (st == CLF_OK) st = clf_tensor_fill(ctx, &a, 0.01f);
    if (st == CLF_OK) st = clf_tensor_fill(ctx, &b, -0.02f);
    double tb = 0, tc = 0;
    if (st == CLF_OK) st = time_provider(ctx, CLF_GEMM_BUILTIN, &a, &b, &out, &tb);
    if (st == CLF_OK) st = time_provider(ctx, CLF_GEMM_CLBLAST, &a, &b, &out, &tc);
    clf_tensor_free(&a);
    clf_tensor_free(&b);
    clf_tensor_free(&out);
    if (st != CLF_OK) return st;
    s->gemm_choice[c] = tc < tb ? CLF_GEMM_CLBLAST : CLF_GEMM_BUILTIN;
    s->gemm_choice_s[c][0] = tb;
    s->gemm_choice_s[c][1] = tc;
    return CLF_OK;
}

/* CPU devices take the builtin kernels without a measurement: CLBlast's
 * kernels are tuned for GPUs (on PoCL they ran 7-15x slower than ours on
 * every shape of the GEMM bench), and measuring them costs a compile of
 * about 10 s at the first GEMM of a process, most of a cold start.
 * CLFORMER_GEMM=measure measures on every device class. */
static bool skip_measurement(const clf_context *ctx)
{
    const char *env = getenv("CLFORMER_GEMM");
    if (env && strcasecmp(env, "measure") == 0) return false;
    return !ctx->kprof.gemm_measure_clblast;
}

static clf_status choose(clf_context *ctx, int64_t m, clf_dtype a_dtype, clf_dtype b_dtype,
                         clf_dtype c_dtype, clf_gemm_provider *out)
{
    bool uniform = a_dtype == b_dtype && b_dtype == c_dtype;
    if (!uniform || (a_dtype == CLF_F16 && !ctx->kprof.limits.fp16)) {
        *out = CLF_GEMM_BUILTIN; /* CLBlast cannot run it */
        return CLF_OK;
    }
    int c = class_of(m, a_dtype);
    clf__ops_state *s;
    CLF_TRY(clf__ops_state_get(ctx, &s));
    if (!s->gemm_choice[c] && skip_measurement(ctx)) {
        s->gemm_choice[c] = CLF_GEMM_BUILTIN;
        return *out = CLF_GEMM_BUILTIN, CLF_OK;
    }
    if (!s->gemm_choice[c]) load_choices(ctx, s);
    if (!s->gemm_choice[c]) {
        /* Measured for real even inside a graph's dry warm-up pass. */
        bool dry = ctx->dry_run;
        ctx->dry_run = false;
        double t0 = clf__now();
        clf_status st = measure(ctx, s, c);
        ctx->dry_run = dry;
        CLF_TRY(st);
        clf__log(CLF_LOG_INFO,
                 "GEMM provider for %s measured in %.3f s (builtin %.3f ms, CLBlast %.3f ms)",
                 class_names[c], clf__now() - t0, s->gemm_choice_s[c][0] * 1e3,
                 s->gemm_choice_s[c][1] * 1e3);
        save_choices(ctx, s);
    }
    *out = (clf_gemm_provider)s->gemm_choice[c];
    return CLF_OK;
}

clf_status clf__gemm_auto_provider(clf_context *ctx, const clf__gemm_desc *d, clf_gemm_provider *out)
{
    return choose(ctx, d->m, d->a.dtype, d->b.dtype, d->c.dtype, out);
}

static clf_status gemm_choose_body(clf_context *ctx, int64_t m, int64_t n, int64_t k,
                                   clf_dtype a_dtype, clf_dtype b_dtype, clf_gemm_provider *out)
{
    if (!ctx || !out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_gemm_choose: NULL argument");
    if (m < 1 || n < 1 || k < 1)
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_gemm_choose: M=%lld N=%lld K=%lld", (long long)m,
                          (long long)n, (long long)k);
    if ((a_dtype != CLF_F32 && a_dtype != CLF_F16) ||
        (b_dtype != CLF_F32 && b_dtype != CLF_F16 && b_dtype != CLF_Q8 && b_dtype != CLF_Q4))
        return clf__error(ctx, CLF_ERR_DTYPE,
                          "clf_gemm_choose: a must be f32 or f16, b f32, f16, q8 or q4");
    return choose(ctx, m, a_dtype, b_dtype, a_dtype, out);
}

clf_status clf_gemm_choose(clf_context *ctx, int64_t m, int64_t n, int64_t k, clf_dtype a_dtype,
                           clf_dtype b_dtype, clf_gemm_provider *out)
{
    CLF__GUARDED(ctx, "clf_gemm_choose", gemm_choose_body(ctx, m, n, k, a_dtype, b_dtype, out));
}
