/* Device tests: enumeration, context creation, selection overrides, the
 * no-platform case and clean failure under injected allocation faults. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <sys/stat.h>

#include "common/fresh.h"
#include "common/testutil.h"
#include "core/core.h"

Test(context, every_device_is_listed_with_its_capabilities)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    clf_device_info *devs = NULL;
    size_t count = 0;
    cr_assert_eq(clf_devices_list(&devs, &count), CLF_OK);
    cr_assert_geq((int)count, n);
    for (size_t i = 0; i < count; i++) {
        const clf_device_info *d = &devs[i];
        cr_assert_gt(strlen(d->name), 0);
        cr_assert_gt(d->compute_units, 0, "%s", d->name);
        cr_assert_gt(d->global_mem_bytes, 0, "%s", d->name);
        cr_assert_gt(d->max_work_group_size, 0, "%s", d->name);
        cr_assert_eq(d->device_class, clf_device_classify(d), "%s", d->name);
        cr_assert(strstr(d->device_version, "OpenCL"), "%s: %s", d->name, d->device_version);
    }
    clf_devices_free(devs);
}

Test(context, opens_every_device)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int i = 0; i < n; i++) {
        clf_context *ctx = clft_context(specs[i], NULL);
        const clf_device_info *d = clf_context_device(ctx);
        char idx[32];
        snprintf(idx, sizeof idx, "%d:%d", d->platform_index, d->device_index);
        cr_assert_str_eq(idx, specs[i]);
        cr_assert_null(clf_context_cache_dir(ctx), "cache_dir \"\" turns the cache off");
        cr_assert_str_eq(clf_context_last_error(ctx), "");
        cr_assert_eq(clf_context_finish(ctx), CLF_OK);
        clf_context_free(ctx);
    }
    clf_context_free(NULL);
}

Test(context, environment_override_picks_the_device)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    const char *last = specs[n - 1];
    setenv("CLFORMER_DEVICE", last, 1);
    clf_context_params p = clf_context_params_default();
    p.cache_dir = "";
    clf_context *ctx = NULL;
    cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK, "%s", clf_context_last_error(NULL));
    const clf_device_info *d = clf_context_device(ctx);
    char idx[32];
    snprintf(idx, sizeof idx, "%d:%d", d->platform_index, d->device_index);
    cr_assert_str_eq(idx, last);
    clf_context_free(ctx);

    /* The params win over the environment. */
    setenv("CLFORMER_DEVICE", "no-such-device-anywhere", 1);
    p.device = specs[0];
    cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK, "%s", clf_context_last_error(NULL));
    clf_context_free(ctx);

    /* And a bad environment value is a clean, explained error. */
    p.device = NULL;
    ctx = (clf_context *)0x1;
    cr_assert_eq(clf_context_create(&p, &ctx), CLF_ERR_NO_DEVICE);
    cr_assert_null(ctx, "*out is NULL on failure");
    const char *msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "no-such-device-anywhere") && strstr(msg, "devices present"), "%s", msg);
    unsetenv("CLFORMER_DEVICE");
}

Test(context, no_platform_is_a_clean_error)
{
    /* An ICD loader with no vendor: point it at an empty folder before the
     * first OpenCL call of this (forked) test process. */
    char empty[512];
    clft_tempdir(empty, sizeof empty, "novendors");
    setenv("OCL_ICD_VENDORS", empty, 1);
    clf_device_info *devs = (clf_device_info *)0x1;
    size_t n = 99;
    cr_assert_eq(clf_devices_list(&devs, &n), CLF_ERR_NO_DEVICE);
    cr_assert_null(devs);
    cr_assert_eq(n, 0);
    cr_assert(strstr(clf_context_last_error(NULL), "no OpenCL platform"), "%s",
              clf_context_last_error(NULL));
    clf_context *ctx = NULL;
    cr_assert_eq(clf_context_create(NULL, &ctx), CLF_ERR_NO_DEVICE);
    cr_assert_null(ctx);
    cr_assert_eq(clf_context_create(NULL, NULL), CLF_ERR_INVALID_ARG);
    clft_rmtree(empty);
}

/* Opens a context on spec with the given cache folder (NULL = the
 * environment's), runs the selftest (one program compiled, and stored where
 * a cache is on) and returns its build counters. */
static clf_build_stats open_and_build(const char *spec, const char *cache_dir)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = cache_dir;
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    cr_assert_eq(st, CLF_OK, "%s: %s: %s", spec, clf_status_name(st), clf_context_last_error(NULL));
    cr_assert_null(clf_context_cache_dir(ctx), "%s: the unusable cache folder must be off", spec);
    st = clf_context_selftest(ctx, NULL);
    cr_assert_eq(st, CLF_OK, "%s: selftest: %s", spec, clf_context_last_error(ctx));
    clf_build_stats stats;
    clf_context_build_stats(ctx, &stats);
    clf_context_free(ctx);
    return stats;
}

/* CLFORMER_CACHE_DIR naming a regular file (issue #13, defect 2): PoCL's
 * cache used to be pointed inside it, and PoCL then reported no device.
 * That happens at the first OpenCL call of a process, so the devices are
 * listed in a child and this process's first call is the one under test. */
Test(context, cache_folder_that_is_a_file_costs_only_the_cache)
{
    char specs[16][32];
    int n = clft_devices_fresh_or_skip(specs, 16);
    char dir[512], file[600], xdg[600], log[600];
    clft_tempdir(dir, sizeof dir, "cachefile");
    snprintf(file, sizeof file, "%s/not-a-folder", dir);
    snprintf(xdg, sizeof xdg, "%s/xdg", dir);
    snprintf(log, sizeof log, "%s/stderr.txt", dir);
    FILE *f = fopen(file, "wb");
    cr_assert_not_null(f);
    fputs("precious", f);
    fclose(f);
    setenv("CLFORMER_CACHE_DIR", file, 1);
    unsetenv("POCL_CACHE_DIR");
    setenv("XDG_CACHE_HOME", xdg, 1); /* where PoCL's own default cache then goes */

    int saved = clft_stderr_to(log);
    for (int i = 0; i < n; i++) {
        clf_build_stats stats = open_and_build(specs[i], NULL);
        cr_assert_eq(stats.cache_writes, 0, "%s", specs[i]);
        cr_assert_eq(stats.built, stats.programs, "%s", specs[i]);
    }
    clf_device_info *devs = NULL;
    size_t count = 0;
    cr_assert_eq(clf_devices_list(&devs, &count), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_geq((int)count, n);
    clf_devices_free(devs);
    clft_stderr_restore(saved);

    int warnings = clft_count_in_file(log, "clformer: warning");
    cr_assert_eq(warnings, 1, "%d warnings on stderr, want exactly one", warnings);
    cr_assert_eq(clft_count_in_file(log, "is not a folder"), 1);
    cr_assert_eq(clft_count_in_file(file, "precious"), 1, "the file is left as it was");
    clft_rmtree(dir);
}

/* A cache folder someone else could write to (here: its group) is refused
 * like a missing one: the context runs uncached, one warning. */
Test(context, cache_folder_writable_by_others_is_refused)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    char dir[512], log[600], cache[600];
    clft_tempdir(dir, sizeof dir, "opencache");
    snprintf(log, sizeof log, "%s/stderr.txt", dir);
    snprintf(cache, sizeof cache, "%s/cache", dir);
    cr_assert_eq(mkdir(cache, 0700), 0);
    cr_assert_eq(chmod(cache, 0770), 0);
    int saved = clft_stderr_to(log);
    for (int i = 0; i < n; i++)
        cr_assert_eq(open_and_build(specs[i], cache).cache_writes, 0, "%s", specs[i]);
    clft_stderr_restore(saved);
    cr_assert_eq(clft_count_in_file(log, "clformer: warning"), 1);
    cr_assert_eq(clft_count_in_file(log, "is writable by its group"), 1);
    clft_rmtree(dir);
}

/* What one run under allocation faults saw. */
typedef struct fault_run {
    long points;        /* injection points: allocations of a clean run */
    long absorbed;      /* points where the call still succeeded, by design */
    long first_ok;      /* the first n that succeeded (0: none did) */
    clf_build_stats ok; /* the build counters of the final, clean run */
} fault_run;

/* Context creation, then building every kernel (build_all) or only the
 * selftest's, then the selftest, with the n-th host allocation failing, for
 * n = 1, 2, ... until n is past the run's last allocation (the armed failure
 * no longer fires) and the run succeeds. Each n must give
 * CLF_ERR_OUT_OF_MEMORY, or CLF_OK where the library absorbs the failure by
 * design (a cache entry it cannot read is a miss and is rebuilt, one it
 * cannot write is skipped), and leak nothing. The end is "the failure did not
 * fire", not "the first success": with a disk cache the first absorbed
 * failure comes a few allocations into the first program, and every later
 * point would go untested. */
/* Which failure a run injects: the n-th host allocation, or the n-th
 * OpenCL object creation or enqueue. */
typedef struct fault_kind {
    void (*fail_at)(long n);
    int (*pending)(void);
} fault_kind;
static const fault_kind ALLOC = {clf__alloc_fail_at, clf__alloc_fail_pending};
static const fault_kind OPENCL = {clf__cl_fail_at, clf__cl_fail_pending};

static fault_run run_under_faults(const fault_kind *kind, const char *spec, const char *cache_dir,
                                  int build_all)
{
    fault_run r = {0};
    long live0 = clf__alloc_live();
    for (long n = 1;; n++) {
        cr_assert_lt(n, 100000, "no end to the allocations");
        clf_context_params p = clf_context_params_default();
        p.device = spec;
        p.cache_dir = cache_dir;
        clf_context *ctx = NULL;
        kind->fail_at(n);
        clf_status st = clf_context_create(&p, &ctx);
        if (st == CLF_OK && build_all) st = clf_context_build_all(ctx);
        if (st == CLF_OK) st = clf_context_selftest(ctx, NULL);
        int fired = !kind->pending();
        kind->fail_at(0);
        const char *why = ctx ? clf_context_last_error(ctx) : clf_context_last_error(NULL);
        if (fired)
            cr_assert(st == CLF_OK || st == CLF_ERR_OUT_OF_MEMORY ||
                          (kind == &OPENCL && (st == CLF_ERR_OPENCL || st == CLF_ERR_DEVICE_MEMORY)),
                      "n=%ld: %s: %s", n, clf_status_name(st), why);
        else
            cr_assert_eq(st, CLF_OK, "n=%ld, no failure injected: %s: %s", n, clf_status_name(st),
                         why);
        if (st == CLF_OK) {
            if (!r.first_ok) r.first_ok = n;
            if (fired) r.absorbed++;
            clf_context_build_stats(ctx, &r.ok);
        }
        clf_context_free(ctx);
        cr_assert_eq(clf__alloc_live(), live0, "n=%ld leaked %ld blocks", n,
                     clf__alloc_live() - live0);
        if (!fired) {
            r.points = n - 1;
            return r;
        }
    }
}

/* Two passes, each over every injection point. Without a disk cache each
 * point rebuilds every program made before it: with a driver that has no
 * cache of its own (Intel's CPU runtime: 8-20 s for all programs, against
 * PoCL's own cache) its 69 points took over ten minutes. So:
 *   1. build every program, through a private cache that starts empty. A
 *      program's entry is written the first time a run gets that far, so
 *      the first program is met cold, its miss, compile, store (absorbed)
 *      and program table under faults, and every later point finds the
 *      cache warm: each program loaded, a failed read absorbed as a miss
 *      that rebuilds that one program. The clean run at the end compiles
 *      nothing.
 *   2. no disk cache (no key, load or store; every program compiled), the
 *      selftest's program only. Its allocations (source, program table) are
 *      the same for every program and pass 1 makes them for all of them, so
 *      one program covers this path; it is compiled once per point. */
/* Both fault kinds, the two passes above. */
static void every_point(const fault_kind *kind, const char *what)
{
    char specs[16][32];
    clft_devices_or_skip(specs, 16);
    char dir[512];
    clft_tempdir(dir, sizeof dir, "faults");
    fault_run cached = run_under_faults(kind, specs[0], dir, 1);
    /* Host allocations are many per program: every program's entry is
     * written before the points move past it, and the clean run loads them
     * all. OpenCL calls are two per program (create, then its kernel), so a
     * failure at the last program reached leaves the later ones for the
     * clean run to compile: it must still make every program. */
    if (kind == &ALLOC)
        cr_assert_eq(cached.ok.built, 0, "the final run compiled %d programs", (int)cached.ok.built);
    cr_assert_eq(cached.ok.built + cached.ok.cache_hits, cached.ok.programs);
    cr_assert_gt(cached.ok.cache_hits, 0);
    /* OpenCL: in the pass above each run adds one cached program before the
     * next cold one, so the failure always lands on a cold program's source
     * and never on a cached binary. Over the now warm cache every point is a
     * binary the driver "refuses" (absorbed: rebuilt from source) or a
     * kernel. Host allocations meet binaries in the first pass already. */
    fault_run warm = {0};
    if (kind == &OPENCL) {
        warm = run_under_faults(kind, specs[0], dir, 1);
        cr_assert_gt(warm.absorbed, 0, "no cached binary failure was absorbed");
    }
    fault_run uncached = run_under_faults(kind, specs[0], "", 0);
    cr_assert_eq(uncached.ok.built, 1, "the selftest's program, compiled");
    const fault_run *runs[] = {&cached, &uncached, &warm};
    const char *names[] = {"every program, cache cold then warm", "no cache, selftest only",
                           "every program, cache warm"};
    for (int i = 0; i < (kind == &OPENCL ? 3 : 2); i++)
        cr_log_info("%s, %s: %ld injection points, %ld absorbed, first success at n=%ld", what,
                    names[i], runs[i]->points, runs[i]->absorbed, runs[i]->first_ok);
    clft_rmtree(dir);
}

Test(context, every_allocation_failure_is_clean_and_leaks_nothing, .timeout = 600)
{
    every_point(&ALLOC, "host allocations");
}

/* OpenCL object creations and enqueues fail the same way: a clean
 * CLF_ERR_OPENCL / CLF_ERR_DEVICE_MEMORY / CLF_ERR_OUT_OF_MEMORY, or absorbed
 * (a cached binary the driver will not take is rebuilt), and no leak. */
Test(context, every_opencl_failure_is_clean_and_leaks_nothing, .timeout = 600)
{
    every_point(&OPENCL, "OpenCL calls");
}

