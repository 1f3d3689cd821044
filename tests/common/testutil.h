/*
 * Shared test helpers: the devices to run on, seeded random inputs, poisoned
 * outputs and the error figure of TESTING.md.
 */
#ifndef CLF_TESTUTIL_H
#define CLF_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <clformer/clformer.h>

/* Device selection strings ("P:D") to run device tests on: every device
 * unless CLFORMER_TEST_DEVICES names one spec (or a comma list). Returns the
 * count; 0 when OpenCL has no device (the test then skips, saying why). */
int clft_devices(char specs[][32], int max);

/* Skips the current test with a reason when there is no device; otherwise
 * fills specs and returns the count. */
int clft_devices_or_skip(char specs[][32], int max);

/* Runs the statement that follows once per test device with a fresh
 * context `ctx` (no disk cache), freed after the statement. Names specs_,
 * n_specs_ and d_ are visible inside (specs_[d_] is the device's "P:D"). */
#define CLFT_EACH_DEVICE(ctx)                                                                      \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (clf_context *ctx = clft_context(specs_[d_], NULL); ctx;                               \
             clf_context_free(ctx), ctx = NULL)

/* Opens a context on spec with a private cache folder (or none if cache_dir
 * is NULL: "" is used). Fails the test with the library's message. */
clf_context *clft_context(const char *spec, const char *cache_dir);
/* clft_context(spec, NULL) with profiling on (clf_context_profile). */
clf_context *clft_context_profiled(const char *spec);
/* clft_context(spec, NULL) with the kernel family forced (and profiling if asked). */
clf_context *clft_context_family(const char *spec, clf_kernel_family family, bool profiling);

/* A context on spec whose binary cache is one folder shared by the model
 * tests ($TMPDIR/clformer-test-model-cache), so that each test process does
 * not rebuild every program. */
clf_context *clft_model_context(const char *spec);

/* The run's seed: CLFORMER_TEST_SEED if set, else from the clock; printed
 * once per process so any failure can be replayed. */
uint64_t clft_seed(void);

/* splitmix64-based generator. */
typedef struct clft_rng {
    uint64_t s;
} clft_rng;
clft_rng clft_rng_make(uint64_t seed, uint64_t stream);
uint64_t clft_next(clft_rng *r);
float clft_uniform(clft_rng *r, float lo, float hi); /* [lo, hi) */
void clft_fill_uniform(clft_rng *r, float *x, size_t n, float lo, float hi);

/* Fills with NaN so an element that is never written fails the check. */
void clft_poison(float *x, size_t n);

/* Normalised mean squared error sum((out-ref)^2) / sum(ref^2). Returns
 * +inf if any out is NaN, or if out and ref disagree on an infinity. When ref
 * is all zeros, returns sum(out^2). */
double clft_nmse(const float *out, const double *ref, size_t n);

/* A fresh empty folder under $TMPDIR (or /tmp) for a test's cache; the name
 * goes into buf. */
void clft_tempdir(char *buf, size_t size, const char *tag);

/* The folder of the committed goldens: $CLFORMER_GOLDEN_DIR (a build run
 * from another checkout, as on a lent GPU machine), else tests/golden of the
 * source tree the tests were built from. */
const char *clft_golden_dir(void);

/* rm -rf for test folders. */
void clft_rmtree(const char *path);

/* Monotonic seconds, for tests that bound how long a call takes. */
double clft_now(void);

/* Replaces dir/name with a FIFO (for tests that a load refuses it at once
 * instead of blocking on it: run such loads under alarm()). */
void clft_mkfifo(const char *dir, const char *name);

/* The whole file (malloc'd, NUL-terminated; asserts it can be read); its
 * size goes to *size. */
char *clft_slurp(const char *path, size_t *size);

/* Splits buf at LF in place: line i is (*lines)[i], (*lens)[i] bytes (may
 * hold NUL); a last line without LF is dropped. Returns the count; free
 * *lines and *lens. */
size_t clft_split_lines(char *buf, size_t size, char ***lines, size_t **lens);

#endif
