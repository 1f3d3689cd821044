/* Host tests: device classification and the selection policy, on synthetic
 * device records (no OpenCL device needed). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <clformer/clformer.h>
#include <CL/cl.h>

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
