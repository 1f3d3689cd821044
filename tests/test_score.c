/* Device tests: the device score (src/runtime/score.c) measured on real
 * devices, cached and reused, a bad cache file measured again, and how
 * clf_context_create ranks with it (src/runtime/choose.c). The policy
 * itself is tested on synthetic records in test_select.c. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/testutil.h"
#include "runtime/runtime.h"

static char cache[512];

static void setup(void)
{
    clft_tempdir(cache, sizeof cache, "score");
    setenv("CLFORMER_CACHE_DIR", cache, 1);
    unsetenv("CLFORMER_DEVICE_SCORE");
    clf__score_forget();
}

static void teardown(void) { clft_rmtree(cache); }

TestSuite(score, .init = setup, .fini = teardown);

/* Every device, with those outside CLFORMER_TEST_DEVICES marked
 * unavailable so that nothing else is measured. Skips without a device. */
static clf_device_info *test_devices(size_t *n, int *n_test)
{
    char specs[16][32];
    *n_test = clft_devices_or_skip(specs, 16);
    clf_device_info *d = NULL;
    cr_assert_eq(clf_devices_list(&d, n), CLF_OK, "%s", clf_context_last_error(NULL));
    for (size_t i = 0; i < *n; i++) {
        char idx[32];
        snprintf(idx, sizeof idx, "%d:%d", d[i].platform_index, d[i].device_index);
        bool wanted = false;
        for (int s = 0; s < *n_test; s++)
            wanted |= strcmp(specs[s], idx) == 0;
        d[i].available = d[i].available && wanted;
    }
    return d;
}

/* The first test device (*all holds every device; free it). */
static clf_device_info *first_test_device(clf_device_info **all)
{
    size_t n, i = 0;
    int n_test;
    *all = test_devices(&n, &n_test);
    while (!(*all)[i].available)
        i++;
    return &(*all)[i];
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

Test(score, measures_a_positive_score_caches_it_and_reuses_it, .timeout = 300)
{
    size_t n;
    int n_test;
    clf_device_info *d = test_devices(&n, &n_test);
    long m0 = clf__score_measurements();
    cr_assert_eq(clf_devices_score(d, n, false), CLF_OK);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(d[i].score, 0, "an empty cache has no score");
    cr_assert_eq(clf__score_measurements(), m0, "measure_missing off: nothing measured");

    cr_assert_eq(clf_devices_score(d, n, true), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_eq(clf__score_measurements() - m0, n_test, "each test device measured once");
    double first[16];
    for (size_t i = 0; i < n && i < 16; i++) {
        first[i] = d[i].score;
        if (!d[i].available) continue;
        cr_assert_gt(d[i].score, 0, "%s", d[i].name);
        cr_assert_lt(d[i].score, 1e6, "%s: a pass of about a millisecond or more", d[i].name);
        char path[4200];
        cr_assert_eq(clf__device_score_path(&d[i], cache, path, sizeof path), 0);
        cr_assert(file_exists(path), "%s: no cache file %s", d[i].name, path);
    }

    /* Again in this process (memory), then as a new process would (disk). */
    for (int round = 0; round < 2; round++) {
        if (round == 1) clf__score_forget();
        cr_assert_eq(clf_devices_score(d, n, true), CLF_OK);
        cr_assert_eq(clf__score_measurements() - m0, n_test, "round %d: measured again", round);
        for (size_t i = 0; i < n && i < 16; i++)
            cr_assert_eq(d[i].score, first[i], "round %d, %s: %.17g then %.17g", round, d[i].name,
                         first[i], d[i].score);
    }
    clf_devices_free(d);
}

Test(score, a_corrupted_or_foreign_cache_file_is_a_miss, .timeout = 300)
{
    clf_device_info *d = NULL, *dev = first_test_device(&d);
    clf_device_info *one[1] = {dev};
    cr_assert_eq(clf__devices_measure(one, 1, cache), CLF_OK, "%s", clf_context_last_error(NULL));
    char path[4200];
    cr_assert_eq(clf__device_score_path(dev, cache, path, sizeof path), 0);

    /* Bit rot in the score, and a good file of another driver version. */
    clf_device_info other = *dev;
    other.driver_version[0] ^= 1; /* another driver version string */
    char other_path[4200];
    cr_assert_eq(clf__device_score_path(&other, cache, other_path, sizeof other_path), 0);
    cr_assert_str_neq(other_path, path);
    for (int kind = 0; kind < 2; kind++) {
        if (kind == 0) {
            FILE *f = fopen(path, "r+b");
            cr_assert(f);
            cr_assert_eq(fseek(f, -4, SEEK_END), 0);
            fputs("x\n", f);
            fclose(f);
        } else {
            clf_device_info *o[1] = {&other}; /* the same device under another driver */
            cr_assert_eq(clf__devices_measure(o, 1, cache), CLF_OK);
            cr_assert(file_exists(other_path));
            cr_assert_eq(rename(other_path, path), 0); /* a good file, not ours */
        }
        clf__score_forget();
        cr_assert(!clf__device_score_cached(dev, cache), "kind %d: read as a hit", kind);
        long m0 = clf__score_measurements();
        cr_assert_eq(clf_devices_score(one[0], 1, true), CLF_OK);
        cr_assert_eq(clf__score_measurements(), m0 + 1, "kind %d: a miss is measured", kind);
        cr_assert_gt(dev->score, 0);
        clf__score_forget();
        cr_assert(clf__device_score_cached(dev, cache), "kind %d: the file was not replaced", kind);
    }
    clf_devices_free(d);
}

/* Devices clf_context_create would rank for "best": the available ones of
 * the best class present. */
static size_t rivals_for_best(const clf_device_info *d, size_t n)
{
    size_t best = 0, count = 0;
    cr_assert_eq(clf_device_select(d, n, NULL, &best), CLF_OK);
    for (size_t i = 0; i < n; i++)
        count += d[i].available && clf_device_classify(&d[i]) == clf_device_classify(&d[best]);
    return count;
}

static clf_context *create(const char *spec, clf_status want)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = cache;
    clf_context *ctx = NULL;
    clf_status st = clf_context_create(&p, &ctx);
    cr_assert_eq(st, want, "create(%s): %s: %s", spec ? spec : "best", clf_status_name(st),
                 clf_context_last_error(NULL));
    return ctx;
}

/* Every device as clf_context_create sees them (skips without one); the
 * first test device's "P:D" into spec. */
static clf_device_info *all_devices(size_t *n, char spec[32])
{
    char specs[16][32];
    clft_devices_or_skip(specs, 16);
    memcpy(spec, specs[0], 32);
    clf_device_info *d = NULL;
    cr_assert_eq(clf_devices_list(&d, n), CLF_OK);
    return d;
}

static void assert_same_device(const clf_device_info *got, const clf_device_info *want)
{
    cr_assert(got->platform_index == want->platform_index &&
                  got->device_index == want->device_index,
              "opened %d:%d %s, expected %d:%d %s", got->platform_index, got->device_index,
              got->name, want->platform_index, want->device_index, want->name);
}

Test(score, contexts_measure_rivals_once_and_never_for_a_named_device, .timeout = 300)
{
    char spec[32];
    size_t n = 0;
    clf_device_info *d = all_devices(&n, spec);
    size_t rivals = rivals_for_best(d, n);

    long m0 = clf__score_measurements();
    clf_context_free(create(spec, CLF_OK));
    cr_assert_eq(clf__score_measurements(), m0, "a device named by P:D is never measured");

    clf_context *ctx = create(NULL, CLF_OK);
    const clf_device_info *got = clf_context_device(ctx);
    long measured = clf__score_measurements() - m0;
    if (rivals < 2) {
        cr_assert_eq(measured, 0, "a lone device of its class is never measured");
        cr_assert_eq(got->score, 0);
    } else {
        cr_assert_eq(measured, (long)rivals, "each rival measured once");
        cr_assert_gt(got->score, 0, "the context's record carries its score");
        /* The pick is the rival with the highest score, as the cache says. */
        cr_assert_eq(clf_devices_score(d, n, false), CLF_OK);
        size_t want = 0;
        cr_assert_eq(clf_device_select(d, n, NULL, &want), CLF_OK);
        assert_same_device(got, &d[want]);
        cr_assert_eq(got->score, d[want].score);
    }
    clf_context_free(ctx);

    /* A second context, and one in a "new process": the cache answers. */
    clf_context_free(create(NULL, CLF_OK));
    clf__score_forget();
    clf_context_free(create("best", CLF_OK));
    cr_assert_eq(clf__score_measurements() - m0, measured, "measured again");
    clf_devices_free(d);
}

Test(score, the_environment_switch_turns_ranking_off, .timeout = 300)
{
    char spec[32];
    size_t n = 0;
    clf_device_info *d = all_devices(&n, spec);
    size_t want = 0;
    cr_assert_eq(clf_device_select(d, n, NULL, &want), CLF_OK); /* no scores: CUs x clock */

    setenv("CLFORMER_DEVICE_SCORE", "0", 1);
    long m0 = clf__score_measurements();
    clf_context *ctx = create(NULL, CLF_OK);
    const clf_device_info *got = clf_context_device(ctx);
    cr_assert_eq(clf__score_measurements(), m0, "CLFORMER_DEVICE_SCORE=0 measured a device");
    cr_assert_eq(got->score, 0);
    assert_same_device(got, &d[want]);
    char scores[600];
    snprintf(scores, sizeof scores, "%s/scores", cache);
    cr_assert(!file_exists(scores), "nothing written to %s", scores);
    clf_context_free(ctx);

    setenv("CLFORMER_DEVICE_SCORE", "off", 1);
    clf_context *bad = create(NULL, CLF_ERR_INVALID_ARG);
    cr_assert_null(bad);
    cr_assert(strstr(clf_context_last_error(NULL), "CLFORMER_DEVICE_SCORE"));
    setenv("CLFORMER_DEVICE_SCORE", "1", 1);
    clf_context_free(create(NULL, CLF_OK));
    size_t rivals = rivals_for_best(d, n);
    cr_assert_eq(clf__score_measurements() - m0, rivals >= 2 ? (long)rivals : 0,
                 "CLFORMER_DEVICE_SCORE=1 ranks (and measures) again");
    clf_devices_free(d);
}

/* Measuring with the k-th host allocation failing, for every k until a run
 * never reaches its failure: a clean status or an absorbed failure (a cache
 * file that cannot be read is a miss), no leak, and no score unless the
 * measurement succeeded. */
Test(score, every_allocation_failure_is_clean_and_leaks_nothing, .timeout = 600)
{
    clf_device_info *d = NULL, *dev = first_test_device(&d);
    clf_device_info *one[1] = {dev};
    /* Warm the binary cache so each try is quick. */
    cr_assert_eq(clf__devices_measure(one, 1, cache), CLF_OK);
    long live0 = clf__alloc_live(), k = 1, failed = 0;
    for (;; k++) {
        dev->score = 0;
        clf__score_forget();
        clf__alloc_fail_at(k);
        clf_status st = clf__devices_measure(one, 1, cache);
        bool reached = !clf__alloc_fail_pending();
        clf__alloc_fail_at(0);
        cr_assert_eq(clf__alloc_live(), live0, "k=%ld leaked %ld blocks", k,
                     clf__alloc_live() - live0);
        if (st == CLF_OK) {
            cr_assert_gt(dev->score, 0, "k=%ld", k);
            if (!reached) break;
        } else {
            failed++;
            cr_assert_eq(st, CLF_ERR_OUT_OF_MEMORY, "k=%ld: %s: %s", k, clf_status_name(st),
                         clf_context_last_error(NULL));
            cr_assert_eq(dev->score, 0, "k=%ld: a failed measurement leaves no score", k);
        }
        cr_assert_lt(k, 100000, "no end to the allocations");
    }
    cr_log_info("%ld allocations per measurement, %ld of them fatal", k - 1, failed);
    cr_assert_gt(failed, 0);
    clf_devices_free(d);
}
