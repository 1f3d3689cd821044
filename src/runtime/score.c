/*
 * Device scores: a measured speed per device, so that two implementations of
 * one class (PoCL and Intel's CPU runtime on the same cores; two drivers of
 * one GPU) are ranked by what they do, not by figures the drivers report:
 * Intel's CPU runtime reports a clock of 0 MHz, yet in back-to-back
 * `clformer bench --quick` runs it was faster than PoCL on most cases.
 *
 * The workload (kernels/score.cl) is a small slice of a model pass: a
 * 128 x 512 x 512 matmul (67 MFLOP, the GEMMs of a batch), a 2048 x 1024
 * GEMV (8 MB of weights streamed, a decode step), GELU over 128 x 2048 (exp,
 * the math library) and 32 launches of a tiny kernel (launch overhead, a
 * decode step's many small ops), all enqueued with no host synchronisation,
 * as the graph executor enqueues a pass, and one finish: about 1 ms on two
 * AVX-512 cores. The results are checked on the host, so a driver that
 * computes nothing cannot win.
 *
 * Score = 1 / the fastest of 16 passes, after a warm-up pass (PoCL compiles
 * a kernel at its first launch). The fastest, not the median: other
 * processes only ever add time, and on a shared machine they add a lot (on
 * the 2-vCPU VM this was written on, neighbours held one of the two cores
 * for seconds at a time: passes of one device went from 1.1 to 2.0 ms and
 * back, with spikes to 13 ms), so the fastest pass is the closest to the
 * device's own speed. Devices measured together take turns, 4 rounds of 4
 * passes each, so that a quiet or a loaded stretch falls on all of them
 * alike; blocks rather than single passes because the first pass after
 * another runtime's runs pays for that runtime's threads winding down
 * (PoCL measured about 8% slower when every one of its passes followed one
 * of Intel's).
 *
 * One small text file per device, <cache>/scores/<key>.txt, keyed like the
 * binary cache by SHA-256 over the library version, the workload (source
 * and method) and the device's name, vendor, driver version and platform
 * version. Scores are also remembered for the rest of the process, so that
 * with the disk cache off a process still measures each device once.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/runtime.h"

enum {
    M = 128,               /* matmul rows */
    N = 512,               /* matmul columns */
    K = 512,               /* matmul depth */
    GEMV_ROWS = 2048,      /* GEMV outputs */
    GEMV_K = 1024,         /* GEMV depth */
    GELU_LEN = 128 * 2048, /* GELU elements */
    TICKS = 32,            /* tiny launches per pass */
    TICK_LEN = 1024,       /* their elements */
    ROUNDS = 4,            /* timed rounds ... */
    BLOCK = 4,             /* ... of this many passes per device */
};

#define FILE_MAGIC "clformer device score v1"

/* ---- the workload ---- */

typedef struct workload {
    clf_device_info *info; /* the device; its score is set on success */
    clf_context *ctx;
    cl_kernel matmul, gemv, gelu, tick;
    clf_tensor a, b, c; /* matmul: a (M, K), b (K, N), c (M, N) */
    clf_tensor w, x, y; /* GEMV: w (GEMV_ROWS, GEMV_K), x (GEMV_K), y (GEMV_ROWS) */
    clf_tensor g, h;    /* GELU: h = gelu(g), (GELU_LEN) */
    clf_tensor t;       /* ticks: (TICK_LEN) */
    double best;        /* fastest pass, seconds */
    clf_status st;      /* the first failure; CLF_OK while all is well */
    char error[1024];   /* its message */
} workload;

/* Inputs by flat index. Small integers for the matmul and the GEMV, so
 * every product and sum is exact in f32 and the check asks for equality. */
static float a_at(size_t e) { return (float)((e / K * 7 + e % K) % 5) - 2; }
static float b_at(size_t e) { return (float)((e / N * 3 + e % N) % 7) - 3; }
static float w_at(size_t e) { return (float)((e / GEMV_K * 5 + e % GEMV_K) % 9) - 4; }
static float x_at(size_t e) { return (float)(e % 3) - 1; }
static float g_at(size_t e) { return (float)((long)(e % 61) - 30) / 10.0f; }
static float zero_at(size_t e)
{
    (void)e;
    return 0.0f;
}

/* A new f32 tensor of n elements, filled from gen when gen is not NULL. */
static clf_status tensor(clf_context *ctx, size_t n, float (*gen)(size_t), clf_tensor *out)
{
    CLF_TRY(clf_tensor_create(ctx, CLF_F32, 1, (int64_t[]){(int64_t)n}, out));
    if (!gen) return CLF_OK;
    float *host = clf__malloc(n * sizeof *host);
    if (!host) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "device score: out of memory");
    for (size_t e = 0; e < n; e++)
        host[e] = gen(e);
    clf_status st = clf_tensor_write_f32(ctx, out, host, n);
    clf__free(host);
    return st;
}

static clf_status set_args(workload *w)
{
    const cl_int n = N, k = K, k8 = GEMV_K / 8;
    cl_int err = clSetKernelArg(w->matmul, 0, sizeof(cl_mem), &w->a.buffer->mem);
    err |= clSetKernelArg(w->matmul, 1, sizeof(cl_mem), &w->b.buffer->mem);
    err |= clSetKernelArg(w->matmul, 2, sizeof(cl_mem), &w->c.buffer->mem);
    err |= clSetKernelArg(w->matmul, 3, sizeof n, &n);
    err |= clSetKernelArg(w->matmul, 4, sizeof k, &k);
    err |= clSetKernelArg(w->gemv, 0, sizeof(cl_mem), &w->w.buffer->mem);
    err |= clSetKernelArg(w->gemv, 1, sizeof(cl_mem), &w->x.buffer->mem);
    err |= clSetKernelArg(w->gemv, 2, sizeof(cl_mem), &w->y.buffer->mem);
    err |= clSetKernelArg(w->gemv, 3, sizeof k8, &k8);
    err |= clSetKernelArg(w->gelu, 0, sizeof(cl_mem), &w->g.buffer->mem);
    err |= clSetKernelArg(w->gelu, 1, sizeof(cl_mem), &w->h.buffer->mem);
    err |= clSetKernelArg(w->tick, 0, sizeof(cl_mem), &w->t.buffer->mem);
    if (err != CL_SUCCESS)
        return clf__error(w->ctx, CLF_ERR_OPENCL, "device score: clSetKernelArg failed");
    return CLF_OK;
}

static clf_status setup(workload *w)
{
    clf_context *ctx = w->ctx;
    CLF_TRY(clf__kernel_get(ctx, "score", NULL, "score_matmul", &w->matmul));
    CLF_TRY(clf__kernel_get(ctx, "score", NULL, "score_gemv", &w->gemv));
    CLF_TRY(clf__kernel_get(ctx, "score", NULL, "score_gelu", &w->gelu));
    CLF_TRY(clf__kernel_get(ctx, "score", NULL, "score_tick", &w->tick));
    CLF_TRY(tensor(ctx, (size_t)M * K, a_at, &w->a));
    CLF_TRY(tensor(ctx, (size_t)K * N, b_at, &w->b));
    CLF_TRY(tensor(ctx, (size_t)M * N, NULL, &w->c));
    CLF_TRY(tensor(ctx, (size_t)GEMV_ROWS * GEMV_K, w_at, &w->w));
    CLF_TRY(tensor(ctx, GEMV_K, x_at, &w->x));
    CLF_TRY(tensor(ctx, GEMV_ROWS, NULL, &w->y));
    CLF_TRY(tensor(ctx, GELU_LEN, g_at, &w->g));
    CLF_TRY(tensor(ctx, GELU_LEN, NULL, &w->h));
    CLF_TRY(tensor(ctx, TICK_LEN, zero_at, &w->t));
    return set_args(w);
}

/* One pass: every kernel enqueued, then one finish. */
static clf_status pass(workload *w, double *seconds)
{
    const size_t mm[2] = {N / 8, M / 4}, rows = GEMV_ROWS, gelu = GELU_LEN / 8, tick = TICK_LEN;
    clf_context *ctx = w->ctx;
    double t0 = clf__now();
    CLF_TRY(clf__launch(ctx, w->matmul, "score_matmul", 2, mm, NULL));
    CLF_TRY(clf__launch(ctx, w->gemv, "score_gemv", 1, &rows, NULL));
    CLF_TRY(clf__launch(ctx, w->gelu, "score_gelu", 1, &gelu, NULL));
    for (int i = 0; i < TICKS; i++)
        CLF_TRY(clf__launch(ctx, w->tick, "score_tick", 1, &tick, NULL));
    CLF_TRY(clf_context_finish(ctx));
    *seconds = clf__now() - t0;
    return CLF_OK;
}

/* Reads back n floats of t and compares a sample (every step-th element,
 * a prime step so it walks every row and column phase) with want(); exact
 * ones must be equal, the others within 1e-5 relative. */
static clf_status check_one(workload *w, const char *what, const clf_tensor *t, size_t n,
                            size_t step, double (*want)(size_t), double tolerance)
{
    float *got = clf__malloc(n * sizeof *got);
    if (!got) return clf__error(w->ctx, CLF_ERR_OUT_OF_MEMORY, "device score: out of memory");
    clf_status st = clf_tensor_read_f32(w->ctx, t, got, n);
    for (size_t e = 0; st == CLF_OK && e < n; e += step) {
        double ref = want(e);
        if (!(fabs(got[e] - ref) <= tolerance * fabs(ref)))
            st = clf__error(w->ctx, CLF_ERR_OPENCL,
                            "device score: %s on \"%s\" gave %g at element %zu, expected %g", what,
                            w->ctx->info.name, (double)got[e], e, ref);
    }
    clf__free(got);
    return st;
}

static double c_ref(size_t e)
{
    double s = 0;
    for (size_t p = 0; p < K; p++)
        s += (double)a_at(e / N * K + p) * b_at(p * N + e % N);
    return s;
}

static double y_ref(size_t r)
{
    double s = 0;
    for (size_t p = 0; p < GEMV_K; p++)
        s += (double)w_at(r * GEMV_K + p) * x_at(p);
    return s;
}

static double h_ref(size_t e)
{
    double v = g_at(e);
    return v / (1.0 + exp(-1.5957691216057308 * (v + 0.044715 * v * v * v)));
}

/* x -> x/2 + 1 from 0 reaches exactly 2.0f after 25 or more launches. */
static double t_ref(size_t e)
{
    (void)e;
    return 2.0;
}

static clf_status check(workload *w)
{
    CLF_TRY(check_one(w, "score_matmul", &w->c, (size_t)M * N, 61, c_ref, 0));
    CLF_TRY(check_one(w, "score_gemv", &w->y, GEMV_ROWS, 7, y_ref, 0));
    CLF_TRY(check_one(w, "score_gelu", &w->h, GELU_LEN, 13, h_ref, 1e-5));
    return check_one(w, "score_tick", &w->t, TICK_LEN, 1, t_ref, 0);
}

/* Records the first failure of a device and its message. */
static void fail(workload *w, clf_status st)
{
    if (w->st != CLF_OK) return;
    w->st = st;
    snprintf(w->error, sizeof w->error, "%s",
             w->ctx ? clf_context_last_error(w->ctx) : clf_context_last_error(NULL));
}

/* A temporary context on the device by its "P:D", so that the nested
 * clf_context_create never ranks (or measures) anything itself; simulated
 * limits off: the score is the device's own. Then the warm-up pass. */
static void open_one(workload *w, const char *cache_dir)
{
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", w->info->platform_index, w->info->device_index);
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = cache_dir ? cache_dir : "";
    p.limits = "";
    double warm;
    clf_status st = clf_context_create(&p, &w->ctx);
    if (st == CLF_OK) st = setup(w);
    if (st == CLF_OK) st = pass(w, &warm);
    if (st != CLF_OK) fail(w, st);
}

static void close_one(workload *w)
{
    clf_tensor *all[] = {&w->a, &w->b, &w->c, &w->w, &w->x, &w->y, &w->g, &w->h, &w->t};
    for (size_t i = 0; i < CLF_ARRAY_LEN(all); i++)
        clf_tensor_free(all[i]);
    clf_context_free(w->ctx);
    w->ctx = NULL;
}

static _Atomic long measurements;

long clf__score_measurements(void) { return measurements; }

/* ---- remembered scores: the process memory and the disk ---- */

enum { MEMO_CAP = 32 };
static struct {
    unsigned char key[CLF__CACHE_KEY_BYTES];
    double score;
} memo[MEMO_CAP];
static size_t memo_n;
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static double memo_get(const unsigned char *key)
{
    double s = 0;
    pthread_mutex_lock(&memo_lock);
    for (size_t i = 0; i < memo_n && s == 0; i++)
        if (memcmp(memo[i].key, key, CLF__CACHE_KEY_BYTES) == 0) s = memo[i].score;
    pthread_mutex_unlock(&memo_lock);
    return s;
}

/* Beyond MEMO_CAP devices the disk cache still serves; the memo is only a
 * shortcut. */
static void memo_put(const unsigned char *key, double score)
{
    pthread_mutex_lock(&memo_lock);
    size_t i = 0;
    while (i < memo_n && memcmp(memo[i].key, key, CLF__CACHE_KEY_BYTES) != 0)
        i++;
    if (i < MEMO_CAP) {
        memcpy(memo[i].key, key, CLF__CACHE_KEY_BYTES);
        memo[i].score = score;
        if (i == memo_n) memo_n++;
    }
    pthread_mutex_unlock(&memo_lock);
}

void clf__score_forget(void)
{
    pthread_mutex_lock(&memo_lock);
    memo_n = 0;
    pthread_mutex_unlock(&memo_lock);
}

/* The key: the device, the workload's source and, as the options part, its
 * sizes and method, so that changing any of them measures again. */
static clf_status score_key(const clf_device_info *info, unsigned char key[CLF__CACHE_KEY_BYTES])
{
    char *src = NULL, method[256];
    size_t size = 0;
    snprintf(method, sizeof method,
             "device score v1: matmul %dx%dx%d, gemv %dx%d, gelu %d, %d ticks of %d; fastest "
             "pass of %d rounds x %d per device",
             M, N, K, GEMV_ROWS, GEMV_K, GELU_LEN, TICKS, TICK_LEN, ROUNDS, BLOCK);
    CLF_TRY(clf__program_source(NULL, "score", &src, &size));
    clf_status st = clf__device_key(info, src, size, method, key);
    clf__free(src);
    return st;
}

static int score_path(const char *cache_dir, const unsigned char *key, char *buf, size_t size)
{
    char hex[2 * CLF__CACHE_KEY_BYTES + 1];
    clf__hex(key, CLF__CACHE_KEY_BYTES, hex);
    int w = snprintf(buf, size, "%s/scores/%s.txt", cache_dir, hex);
    return (w > 0 && (size_t)w < size) ? 0 : -1;
}

int clf__device_score_path(const clf_device_info *info, const char *cache_dir, char *buf,
                           size_t size)
{
    unsigned char key[CLF__CACHE_KEY_BYTES];
    if (!cache_dir || score_key(info, key) != CLF_OK) return -1;
    return score_path(cache_dir, key, buf, size);
}

/* The file holds the magic line, the key and the score. Anything else (a
 * truncated or edited file, another key, a score that is not a positive
 * finite number, trailing bytes) is a miss: 0. */
static double disk_get(const char *cache_dir, const unsigned char *key)
{
    char path[4200], text[256], hex[2 * CLF__CACHE_KEY_BYTES + 1], want[256];
    if (!cache_dir || score_path(cache_dir, key, path, sizeof path) != 0) return 0;
    /* clf__file_read_all: a FIFO or device at the name is a miss at once. */
    char *file = NULL, msg[256];
    size_t got = 0;
    if (clf__file_read_all(path, sizeof text - 1, &file, &got, msg, sizeof msg) != CLF_OK) return 0;
    memcpy(text, file, got + 1);
    clf__free(file);
    clf__hex(key, CLF__CACHE_KEY_BYTES, hex);
    int head = snprintf(want, sizeof want, FILE_MAGIC "\nkey %s\nscore ", hex);
    if (head < 0 || got <= (size_t)head || memcmp(text, want, (size_t)head) != 0) return 0;
    char *end = NULL;
    double s = strtod(text + head, &end);
    if (end == text + head || strcmp(end, "\n") != 0 || !isfinite(s) || !(s > 0)) return 0;
    return s;
}

/* A cache that cannot be written only costs a measurement next time. */
static void disk_put(const char *cache_dir, const unsigned char *key, double score)
{
    char path[4200], dir[4200], text[256], hex[2 * CLF__CACHE_KEY_BYTES + 1];
    if (!cache_dir || score_path(cache_dir, key, path, sizeof path) != 0) return;
    snprintf(dir, sizeof dir, "%s/scores", cache_dir);
    if (clf__mkdirs(dir) != 0) return;
    clf__hex(key, CLF__CACHE_KEY_BYTES, hex);
    int w = snprintf(text, sizeof text, FILE_MAGIC "\nkey %s\nscore %.17g\n", hex, score);
    if (w < 0 || (size_t)w >= sizeof text) return;
    const void *parts[] = {text};
    size_t sizes[] = {(size_t)w};
    clf__file_replace(path, parts, sizes, 1);
}

bool clf__device_score_cached(clf_device_info *info, const char *cache_dir)
{
    info->score = 0;
    unsigned char key[CLF__CACHE_KEY_BYTES];
    if (!info->available || score_key(info, key) != CLF_OK) return false;
    double s = memo_get(key);
    if (s == 0 && (s = disk_get(cache_dir, key)) > 0) memo_put(key, s);
    info->score = s;
    return s > 0;
}

/* Each device's block of passes in turn, round after round, so that load
 * from other processes falls on all of them alike; each device keeps its
 * fastest pass. */
static void run_interleaved(workload *w, size_t count, const char *cache_dir)
{
    for (size_t i = 0; i < count; i++) {
        w[i].best = INFINITY;
        open_one(&w[i], cache_dir);
    }
    for (int r = 0; r < ROUNDS; r++)
        for (size_t i = 0; i < count; i++)
            for (int p = 0; p < BLOCK && w[i].st == CLF_OK; p++) {
                double t = 0;
                clf_status st = pass(&w[i], &t);
                if (st != CLF_OK)
                    fail(&w[i], st);
                else if (t < w[i].best)
                    w[i].best = t;
            }
    for (size_t i = 0; i < count; i++) {
        clf_status st = w[i].st == CLF_OK ? check(&w[i]) : CLF_OK;
        if (st != CLF_OK) fail(&w[i], st);
    }
}

/* Keeps a measured score: the device record, the process memory, the disk. */
static void keep(workload *w, const char *cache_dir)
{
    unsigned char key[CLF__CACHE_KEY_BYTES];
    w->info->score = 1.0 / w->best;
    measurements++;
    if (score_key(w->info, key) != CLF_OK) return;
    memo_put(key, w->info->score);
    disk_put(cache_dir, key, w->info->score);
}

clf_status clf__devices_measure(clf_device_info *const *infos, size_t count, const char *cache_dir)
{
    if (count == 0) return CLF_OK;
    workload *w = clf__calloc(count, sizeof *w);
    if (!w) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device score: out of memory");
    double t0 = clf__now();
    for (size_t i = 0; i < count; i++)
        w[i].info = infos[i];
    run_interleaved(w, count, cache_dir);
    clf_status first = CLF_OK;
    char message[1200] = "";
    for (size_t i = 0; i < count; i++) {
        const clf_device_info *d = w[i].info;
        close_one(&w[i]);
        if (w[i].st == CLF_OK) {
            keep(&w[i], cache_dir);
            clf__log(CLF_LOG_INFO,
                     "device score of %d:%d (%s, %s): %.4g (fastest pass %.3f ms); %zu "
                     "device(s) measured in %.3f s",
                     d->platform_index, d->device_index, d->name, d->platform_name, d->score,
                     w[i].best * 1e3, count, clf__now() - t0);
            continue;
        }
        infos[i]->score = 0;
        if (first == CLF_OK) {
            first = w[i].st;
            snprintf(message, sizeof message, "device score of %d:%d: %s", d->platform_index,
                     d->device_index, w[i].error);
        }
    }
    clf__free(w);
    if (first != CLF_OK) return clf__error(NULL, first, "%s", message);
    return CLF_OK;
}

/* Threads that create their first contexts at once would otherwise each
 * measure every rival device, all at the same time: N times the work, and
 * scores taken under each other's load, then cached for good. Under this
 * lock the first thread measures and the others find its scores in the
 * process memory. The temporary contexts of a measurement name their
 * device ("P:D"), so they never come back here: no recursion. */
static pthread_mutex_t measure_lock = PTHREAD_MUTEX_INITIALIZER;

static clf_status fill_scores_locked(clf_device_info *devices, size_t n, int only_class,
                                     bool keep_given, const char *cache_dir, bool measure_missing)
{
    clf_device_info **missing = clf__malloc((n ? n : 1) * sizeof *missing);
    if (!missing) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "device score: out of memory");
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        clf_device_info *d = &devices[i];
        if (only_class >= 0 && (int)clf_device_classify(d) != only_class) continue;
        if (keep_given && d->score > 0) continue;
        if (!clf__device_score_cached(d, cache_dir) && d->available) missing[count++] = d;
    }
    clf_status st = measure_missing ? clf__devices_measure(missing, count, cache_dir) : CLF_OK;
    clf__free(missing);
    return st;
}

clf_status clf__devices_fill_scores(clf_device_info *devices, size_t n, int only_class,
                                    bool keep_given, const char *cache_dir, bool measure_missing)
{
    pthread_mutex_lock(&measure_lock);
    clf_status st =
        fill_scores_locked(devices, n, only_class, keep_given, cache_dir, measure_missing);
    pthread_mutex_unlock(&measure_lock);
    return st;
}

clf_status clf_devices_score(clf_device_info *devices, size_t n, bool measure_missing)
{
    if (!devices && n)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_devices_score: devices is NULL");
    char dir[4096];
    clf__prepare_opencl_env(); /* before this call reads the environment */
    const char *cache_dir = clf__cache_dir_resolve(NULL, dir, sizeof dir);
    return clf__devices_fill_scores(devices, n, -1, false, cache_dir, measure_missing);
}
