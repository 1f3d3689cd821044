/* Host tests: device classification and the selection policy, on synthetic
 * device records (no OpenCL device needed). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>
#include <CL/cl.h>

#include "common/testutil.h"

static clf_device_info dev(int p, int d, const char *name, uint64_t type, int unified,
                           uint32_t cus, uint32_t mhz)
{
    clf_device_info x;
    memset(&x, 0, sizeof x);
    x.platform_index = p;
    x.device_index = d;
    snprintf(x.name, sizeof x.name, "%s", name);
    x.cl_type = type;
    x.unified_memory = unified;
    x.compute_units = cus;
    x.clock_mhz = mhz;
    x.available = true;
    x.device_class = clf_device_classify(&x);
    return x;
}

Test(select, classifies_by_capability_not_name)
{
    /* Names deliberately misleading: only type bits and memory count. */
    clf_device_info a = dev(0, 0, "NVIDIA GeForce", CL_DEVICE_TYPE_GPU, 1, 8, 1000);
    clf_device_info b = dev(0, 1, "Intel UHD", CL_DEVICE_TYPE_GPU, 0, 8, 1000);
    clf_device_info c = dev(0, 2, "Radeon", CL_DEVICE_TYPE_CPU, 1, 8, 1000);
    clf_device_info e = dev(0, 3, "FPGA", CL_DEVICE_TYPE_ACCELERATOR, 0, 8, 1000);
    clf_device_info f = dev(0, 4, "custom", CL_DEVICE_TYPE_CUSTOM, 0, 8, 1000);
    clf_device_info g = dev(0, 5, "both", CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_DEFAULT, 0, 8, 1);
    cr_assert_eq(clf_device_classify(&a), CLF_DEVICE_IGPU);
    cr_assert_eq(clf_device_classify(&b), CLF_DEVICE_DGPU);
    cr_assert_eq(clf_device_classify(&c), CLF_DEVICE_CPU);
    cr_assert_eq(clf_device_classify(&e), CLF_DEVICE_ACCELERATOR);
    cr_assert_eq(clf_device_classify(&f), CLF_DEVICE_ACCELERATOR);
    cr_assert_eq(clf_device_classify(&g), CLF_DEVICE_DGPU);
    cr_assert_str_eq(clf_device_class_name(CLF_DEVICE_IGPU), "igpu");
}

static clf_device_info machine[6];

static void make_machine(void)
{
    machine[0] = dev(0, 0, "Big CPU", CL_DEVICE_TYPE_CPU, 1, 64, 3000);
    machine[1] = dev(0, 1, "Fast Accel", CL_DEVICE_TYPE_ACCELERATOR, 0, 4, 500);
    machine[2] = dev(1, 0, "Small iGPU", CL_DEVICE_TYPE_GPU, 1, 24, 1100);
    machine[3] = dev(1, 1, "Slow dGPU", CL_DEVICE_TYPE_GPU, 0, 10, 1000);
    machine[4] = dev(2, 0, "Fast dGPU", CL_DEVICE_TYPE_GPU, 0, 80, 1800);
    machine[5] = dev(2, 1, "Broken dGPU", CL_DEVICE_TYPE_GPU, 0, 200, 2000);
    machine[5].available = false;
}

static size_t pick(const char *spec)
{
    size_t idx = 999;
    clf_status st = clf_device_select(machine, 6, spec, &idx);
    cr_assert_eq(st, CLF_OK, "select(%s): %s", spec, clf_context_last_error(NULL));
    return idx;
}

Test(select, prefers_dgpu_then_igpu_then_accelerator_then_cpu, .init = make_machine)
{
    cr_assert_eq(pick(NULL), 4, "best = the fast dGPU; the unavailable one is never picked");
    cr_assert_eq(pick(""), 4);
    cr_assert_eq(pick("best"), 4);
    cr_assert_eq(clf_device_select(machine, 3, NULL, &(size_t){0}), CLF_OK);
    size_t idx;
    clf_device_select(machine, 3, NULL, &idx);
    cr_assert_eq(idx, 2, "without dGPUs the iGPU wins over a 64-core CPU");
    clf_device_select(machine, 2, NULL, &idx);
    cr_assert_eq(idx, 1, "an accelerator beats a CPU");
    clf_device_select(machine, 1, NULL, &idx);
    cr_assert_eq(idx, 0);
}

Test(select, ties_within_a_class_go_to_compute_units_times_clock, .init = make_machine)
{
    clf_device_info two[2] = {dev(0, 0, "A", CL_DEVICE_TYPE_GPU, 0, 10, 2000),
                              dev(0, 1, "B", CL_DEVICE_TYPE_GPU, 0, 30, 1000)};
    size_t idx;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 1, "30x1000 > 10x2000");
    two[1].clock_mhz = 500;
    clf_device_select(two, 2, NULL, &idx);
    cr_assert_eq(idx, 0, "equal products keep the first");
}

Test(select, class_words_indices_and_names, .init = make_machine)
{
    cr_assert_eq(pick("cpu"), 0);
    cr_assert_eq(pick("CPU"), 0);
    cr_assert_eq(pick("accelerator"), 1);
    cr_assert_eq(pick("igpu"), 2);
    cr_assert_eq(pick("dgpu"), 4);
    cr_assert_eq(pick("gpu"), 4);
    cr_assert_eq(pick("1:1"), 3);
    cr_assert_eq(pick("0:0"), 0);
    cr_assert_eq(pick("small"), 2, "name substring, case-insensitive");
    cr_assert_eq(pick("dGPU"), 4, "a class word wins over a name substring");
    cr_assert_eq(pick("slow"), 3);
}

Test(select, nothing_matching_is_no_device_with_the_list, .init = make_machine)
{
    size_t idx = 77;
    cr_assert_eq(clf_device_select(machine, 6, "tpu-9000", &idx), CLF_ERR_NO_DEVICE);
    cr_assert_eq(idx, 77, "index untouched on failure");
    const char *msg = clf_context_last_error(NULL);
    cr_assert(strstr(msg, "tpu-9000"), "names the request: %s", msg);
    for (int i = 0; i < 6; i++)
        cr_assert(strstr(msg, machine[i].name), "lists %s: %s", machine[i].name, msg);
    cr_assert(strstr(msg, "unavailable"), "marks unavailable devices: %s", msg);
    cr_assert_eq(clf_device_select(machine, 6, "2:1", &idx), CLF_ERR_NO_DEVICE,
                 "an unavailable device cannot be forced");
    cr_assert_eq(clf_device_select(machine, 6, "7:0", &idx), CLF_ERR_NO_DEVICE);
    cr_assert_eq(clf_device_select(machine, 0, NULL, &idx), CLF_ERR_NO_DEVICE);
    cr_assert(strstr(clf_context_last_error(NULL), "none"));
    cr_assert_eq(clf_device_select(machine, 6, NULL, NULL), CLF_ERR_INVALID_ARG);
}

/* ---- scores: measured speed ranks devices of one class, never across ---- */

Test(select, scores_break_ties_within_a_class)
{
    /* Two implementations of one CPU: PoCL reports the clock, Intel's
     * runtime 0 MHz; the measured score must decide, both ways. */
    clf_device_info two[2] = {dev(0, 0, "pocl", CL_DEVICE_TYPE_CPU, 1, 2, 2600),
                              dev(1, 0, "intel", CL_DEVICE_TYPE_CPU, 1, 2, 0)};
    size_t idx = 9;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 0, "unmeasured: compute units x clock (2 x 2600 > 2 x 0)");
    two[0].score = 500;
    two[1].score = 760;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 1, "measured: 760 > 500 beats the clock");
    cr_assert_eq(clf_device_select(two, 2, "cpu", &idx), CLF_OK);
    cr_assert_eq(idx, 1, "a class word ranks the same way");
    two[0].score = 900;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 0, "and the other way round: 900 > 760");
}

Test(select, scores_never_cross_classes, .init = make_machine)
{
    /* A CPU that ran the small workload fastest still loses to any GPU, and
     * an iGPU with a huge score to a dGPU: the workload is too small to show
     * what a GPU gains at a model's sizes. */
    for (int i = 0; i < 6; i++) machine[i].score = 1.0 + i;
    machine[0].score = 1e9; /* the CPU */
    machine[2].score = 1e8; /* the iGPU */
    cr_assert_eq(pick(NULL), 4, "the faster-scored dGPU");
    machine[3].score = 1e7; /* the slow dGPU, now measured faster than the fast one */
    cr_assert_eq(pick(NULL), 3, "within dGPUs the score decides");
    size_t idx;
    cr_assert_eq(clf_device_select(machine, 3, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 2, "iGPU over the CPU whatever their scores");
    cr_assert_eq(clf_device_select(machine, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 1, "accelerator over the CPU whatever their scores");
}

Test(select, a_zero_score_means_not_measured_and_falls_back)
{
    clf_device_info two[2] = {dev(0, 0, "A", CL_DEVICE_TYPE_GPU, 0, 10, 1000),
                              dev(0, 1, "B", CL_DEVICE_TYPE_GPU, 0, 40, 1000)};
    two[0].score = 5; /* B not measured: the pair goes by compute units x clock */
    size_t idx = 9;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 1, "40 x 1000 > 10 x 1000 when B has no score");
    two[0].score = 0;
    two[1].score = 5;
    two[0].compute_units = 80;
    cr_assert_eq(clf_device_select(two, 2, NULL, &idx), CLF_OK);
    cr_assert_eq(idx, 0, "80 x 1000 > 40 x 1000 when A has no score");
}

/* ---- clf_device_choose: where scores may count (no measuring here: every
 * rival has a score, or measure_missing is false and the cache is empty) ---- */

static char empty_cache[512];

static void choose_setup(void)
{
    clft_tempdir(empty_cache, sizeof empty_cache, "choose");
    setenv("CLFORMER_CACHE_DIR", empty_cache, 1);
    unsetenv("CLFORMER_DEVICE_SCORE");
}

static void choose_teardown(void) { clft_rmtree(empty_cache); }

static size_t choose(clf_device_info *d, size_t n, const char *spec, char *why, size_t size)
{
    size_t idx = 999;
    clf_status st = clf_device_choose(d, n, spec, false, &idx, why, size);
    cr_assert_eq(st, CLF_OK, "choose(%s): %s", spec ? spec : "NULL", clf_context_last_error(NULL));
    return idx;
}

Test(select, choose_ranks_by_score_only_where_the_spec_leaves_the_choice, .init = choose_setup,
     .fini = choose_teardown)
{
    clf_device_info d[3] = {dev(0, 0, "pthread-AMD EPYC", CL_DEVICE_TYPE_CPU, 1, 2, 2600),
                            dev(1, 0, "AMD EPYC", CL_DEVICE_TYPE_CPU, 1, 2, 0),
                            dev(2, 0, "Accel", CL_DEVICE_TYPE_ACCELERATOR, 0, 1, 1)};
    d[0].score = 500;
    d[1].score = 760;
    d[2].available = false;
    char why[256];
    cr_assert_eq(choose(d, 3, NULL, why, sizeof why), 1);
    cr_assert(strstr(why, "class cpu") && strstr(why, "measured 1.52x faster than 0:0"), "%s", why);
    cr_assert_eq(choose(d, 3, "cpu", why, sizeof why), 1, "%s", why);
    cr_assert_eq(choose(d, 3, "0:0", why, sizeof why), 0);
    cr_assert(strstr(why, "named by \"0:0\""), "%s", why);
    /* A name that matches both names them both: ranked as before scores
     * existed, whatever the records hold. */
    cr_assert_eq(choose(d, 3, "epyc", why, sizeof why), 0, "%s", why);
    cr_assert(strstr(why, "matches several"), "%s", why);
    cr_assert_eq(d[0].score, 500, "scores given are kept");
    cr_assert_eq(d[1].score, 760);

    setenv("CLFORMER_DEVICE_SCORE", "0", 1);
    cr_assert_eq(choose(d, 3, NULL, why, sizeof why), 0, "ranking off: 2 x 2600 > 2 x 0");
    cr_assert(strstr(why, "CLFORMER_DEVICE_SCORE=0"), "%s", why);
    setenv("CLFORMER_DEVICE_SCORE", "1", 1);
    cr_assert_eq(choose(d, 3, NULL, why, sizeof why), 1);
    setenv("CLFORMER_DEVICE_SCORE", "yes", 1);
    size_t idx = 77;
    cr_assert_eq(clf_device_choose(d, 3, NULL, false, &idx, why, sizeof why), CLF_ERR_INVALID_ARG);
    cr_assert_eq(idx, 77);
    cr_assert(strstr(clf_context_last_error(NULL), "CLFORMER_DEVICE_SCORE"), "%s",
              clf_context_last_error(NULL));
}

Test(select, choose_says_why_when_class_decides_or_nothing_was_measured, .init = make_machine)
{
    choose_setup();
    char why[256];
    cr_assert_eq(choose(machine, 6, NULL, why, sizeof why), 4);
    cr_assert_str_eq(why, "class dgpu; compute units x clock 80 x 1800 MHz vs 10 x 1000 MHz for "
                          "1:1 (not measured: 2:0, 1:1)");
    cr_assert_eq(machine[4].score, 0, "an empty cache and measure_missing off: nothing measured");
    cr_assert_eq(choose(machine, 3, NULL, why, sizeof why), 2);
    cr_assert_str_eq(why, "class igpu", "the only iGPU: the class decides");
    cr_assert_eq(choose(machine, 1, NULL, why, sizeof why), 0);
    cr_assert(strstr(why, "the only available device"), "%s", why);
    cr_assert_str_eq(clf_context_last_error(NULL), "", "a success leaves no error behind");
    size_t idx;
    cr_assert_eq(clf_device_choose(machine, 6, "tpu", false, &idx, NULL, 0), CLF_ERR_NO_DEVICE);
    cr_assert(strstr(clf_context_last_error(NULL), "devices present"));
    choose_teardown();
}
