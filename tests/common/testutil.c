#include "testutil.h"

#include <criterion/criterion.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int clft_devices(char specs[][32], int max)
{
    clf_device_info *devs = NULL;
    size_t n = 0;
    if (clf_devices_list(&devs, &n) != CLF_OK) return 0;
    const char *want = getenv("CLFORMER_TEST_DEVICES");
    int count = 0;
    if (!want || !*want || strcmp(want, "all") == 0) {
        for (size_t i = 0; i < n && count < max; i++)
            snprintf(specs[count++], 32, "%d:%d", devs[i].platform_index, devs[i].device_index);
    } else {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", want);
        for (char *tok = strtok(buf, ","); tok && count < max; tok = strtok(NULL, ",")) {
            size_t idx;
            if (clf_device_select(devs, n, tok, &idx) == CLF_OK)
                snprintf(specs[count++], 32, "%d:%d", devs[idx].platform_index,
                         devs[idx].device_index);
        }
    }
    clf_devices_free(devs);
    return count;
}

int clft_devices_or_skip(char specs[][32], int max)
{
    int n = clft_devices(specs, max);
    if (n == 0)
        cr_skip_test("no OpenCL device (CLFORMER_TEST_DEVICES=%s): %s",
                     getenv("CLFORMER_TEST_DEVICES") ? getenv("CLFORMER_TEST_DEVICES") : "all",
                     clf_context_last_error(NULL));
    return n;
}

static clf_context *open_context(const char *spec, const char *cache_dir, bool profiling,
                                 clf_kernel_family family)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = cache_dir ? cache_dir : "";
    p.profiling = profiling;
    p.kernels = family;
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    cr_assert_eq(st, CLF_OK, "clf_context_create(%s): %s: %s", spec, clf_status_name(st),
                 clf_context_last_error(NULL));
    return ctx;
}

clf_context *clft_context(const char *spec, const char *cache_dir)
{
    return open_context(spec, cache_dir, false, CLF_KERNELS_AUTO);
}

clf_context *clft_context_profiled(const char *spec)
{
    return open_context(spec, NULL, true, CLF_KERNELS_AUTO);
}

clf_context *clft_context_family(const char *spec, clf_kernel_family family, bool profiling)
{
    return open_context(spec, NULL, profiling, family);
}

uint64_t clft_seed(void)
{
    static uint64_t seed;
    static int done;
    if (!done) {
        const char *env = getenv("CLFORMER_TEST_SEED");
        seed = env ? strtoull(env, NULL, 0)
                   : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
        done = 1;
        fprintf(stderr, "[seed] CLFORMER_TEST_SEED=%llu\n", (unsigned long long)seed);
    }
    return seed;
}

clft_rng clft_rng_make(uint64_t seed, uint64_t stream)
{
    clft_rng r = {seed ^ (stream * 0x9E3779B97F4A7C15ull)};
    clft_next(&r);
    return r;
}

uint64_t clft_next(clft_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float clft_uniform(clft_rng *r, float lo, float hi)
{
    double u = (double)(clft_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(lo + (hi - lo) * u);
}

void clft_fill_uniform(clft_rng *r, float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) x[i] = clft_uniform(r, lo, hi);
}

void clft_poison(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) x[i] = NAN;
}

double clft_nmse(const float *out, const double *ref, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double o = out[i], r = ref[i];
        if (isnan(o) || isnan(r)) return INFINITY;
        if (isinf(o) || isinf(r)) {
            if (o != r) return INFINITY;
            continue;
        }
        num += (o - r) * (o - r);
        den += r * r;
    }
    return den > 0 ? num / den : num;
}

void clft_tempdir(char *buf, size_t size, const char *tag)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(buf, size, "%s/clft-%s-%ld-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag, (long)getpid());
    cr_assert_not_null(mkdtemp(buf), "mkdtemp(%s) failed", buf);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void clft_rmtree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

const char *clft_golden_dir(void)
{
    const char *env = getenv("CLFORMER_GOLDEN_DIR");
    return env && *env ? env : CLFT_GOLDEN_DIR;
}

double clft_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

void clft_mkfifo(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
    cr_assert_eq(mkfifo(path, 0600), 0, "mkfifo(%s) failed", path);
}

clf_context *clft_model_context(const char *spec)
{
    static char dir[512];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/clformer-test-model-cache", tmp && *tmp ? tmp : "/tmp");
    return clft_context(spec, dir);
}

char *clft_slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    buf[n] = '\0';
    *size = (size_t)n;
    return buf;
}

size_t clft_split_lines(char *buf, size_t size, char ***lines, size_t **lens)
{
    size_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += buf[i] == '\n';
    *lines = malloc((n ? n : 1) * sizeof **lines);
    *lens = malloc((n ? n : 1) * sizeof **lens);
    size_t k = 0, start = 0;
    for (size_t i = 0; i < size && k < n; i++)
        if (buf[i] == '\n') {
            buf[i] = '\0';
            (*lines)[k] = buf + start;
            (*lens)[k++] = i - start;
            start = i + 1;
        }
    return n;
}
