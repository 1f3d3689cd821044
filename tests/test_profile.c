/* Host tests: the kernel profile on synthetic device records (no OpenCL
 * device needed): the family from capabilities, every plan within the
 * (possibly simulated) limits, the limits syntax, and the quirk table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <clformer/clformer.h>

#include "device/device_internal.h"

static clf_device_info device(uint64_t type, uint64_t wg, uint64_t local, uint32_t nvf)
{
    clf_device_info x;
    memset(&x, 0, sizeof x);
    snprintf(x.name, sizeof x.name, "synthetic");
    snprintf(x.platform_name, sizeof x.platform_name, "Some Platform");
    snprintf(x.device_version, sizeof x.device_version, "OpenCL 3.0 test");
    x.cl_type = type;
    x.compute_units = 16;
    x.max_work_group_size = wg;
    x.local_mem_bytes = local;
    x.max_alloc_bytes = (uint64_t)1 << 32;
    x.native_vector_float = nvf;
    x.fp16 = true;
    x.subgroups = true;
    x.available = true;
    x.device_class = clf_device_classify(&x);
    return x;
}

static clf_kernel_profile make(const clf_device_info *d, clf_kernel_family f, const char *limits)
{
    clf_kernel_profile p;
    clf_status st = clf_kernel_profile_make(d, f, limits, &p);
    cr_assert_eq(st, CLF_OK, "%s: %s", limits ? limits : "(none)", clf_context_last_error(NULL));
    return p;
}

Test(profile, family_follows_the_device_type_and_can_be_forced)
{
    clf_device_info cpu = device(CL_DEVICE_TYPE_CPU, 4096, 1 << 20, 16);
    clf_device_info gpu = device(CL_DEVICE_TYPE_GPU, 1024, 48 << 10, 1);
    clf_device_info acc = device(CL_DEVICE_TYPE_ACCELERATOR, 256, 32 << 10, 4);
    clf_kernel_profile p = make(&cpu, CLF_KERNELS_AUTO, NULL);
    cr_assert_eq(p.family, CLF_KERNELS_CPU);
    cr_assert(p.row_per_item && p.attn_cpu_rows > 0 && p.gemv_max_m == 1 && !p.gemm_measure_clblast);
    cr_assert_eq(p.gemv_i16, 1, "the CPU family takes int16 products where pmaddwd is offered");
    cr_assert_eq(p.gemm_vec, 16);
    cr_assert_str_eq(p.family_reason, "device type CPU");
    p = make(&gpu, CLF_KERNELS_AUTO, NULL);
    cr_assert_eq(p.family, CLF_KERNELS_GPU);
    cr_assert(!p.row_per_item && p.attn_cpu_rows == 0 && p.gemv_max_m == 8 && p.gemm_measure_clblast);
    cr_assert(!p.gemv_i16);
    cr_assert_eq(p.gemm_tile_m, 64);
    cr_assert_eq(make(&acc, CLF_KERNELS_AUTO, NULL).family, CLF_KERNELS_GPU);
    /* Forcing changes the family, not what the device is. */
    p = make(&cpu, CLF_KERNELS_GPU, NULL);
    cr_assert_eq(p.family, CLF_KERNELS_GPU);
    cr_assert(!p.row_per_item && !p.gemm_measure_clblast);
    cr_assert_str_eq(p.family_reason, "forced");
    p = make(&gpu, CLF_KERNELS_CPU, NULL);
    cr_assert(p.family == CLF_KERNELS_CPU && p.row_per_item && p.gemm_measure_clblast);
    clf_kernel_profile bad;
    cr_assert_eq(clf_kernel_profile_make(&gpu, (clf_kernel_family)7, NULL, &bad), CLF_ERR_INVALID_ARG);
    cr_assert_str_eq(clf_kernel_family_name(CLF_KERNELS_GPU), "gpu");
}

/* Every size the profile plans stays within the limits it was given, for
 * every work-group limit from 1 to 1024 and local memory from 1 to 64 KiB,
 * in both families. */
Test(profile, every_plan_fits_the_limits)
{
    static const uint64_t locals[] = {1024, 4096, 16384, 32768, 65536};
    for (int fam = CLF_KERNELS_CPU; fam <= CLF_KERNELS_GPU; fam++)
        for (uint64_t wg = 1; wg <= 1024; wg = wg < 16 ? wg + 1 : wg * 2)
            for (size_t li = 0; li < sizeof locals / sizeof *locals; li++) {
                clf_device_info d = device(CL_DEVICE_TYPE_GPU, wg, locals[li], 4);
                clf_kernel_profile p = make(&d, (clf_kernel_family)fam, NULL);
                const char *what = fam == CLF_KERNELS_CPU ? "cpu" : "gpu";
                cr_assert_leq((uint64_t)p.row_wg_max, wg, "%s wg %llu", what, (unsigned long long)wg);
                cr_assert_leq(p.row_wg_min, p.row_wg_max);
                cr_assert_leq((uint64_t)p.elementwise_wg, wg);
                cr_assert_leq((uint64_t)p.attn_block_m, wg);
                cr_assert_leq((uint64_t)p.attn_decode_wg, wg);
                if (fam == CLF_KERNELS_GPU && p.gemv_split > 1)
                    cr_assert_leq((uint64_t)p.gemv_split * 4, wg, "gemv split %d at wg %llu",
                                  p.gemv_split, (unsigned long long)wg);
                if (p.gemm_tile_m) {
                    uint64_t items = (uint64_t)(p.gemm_tile_m / p.gemm_work_m) *
                                     (uint64_t)(p.gemm_tile_n / p.gemm_work_n);
                    uint64_t bytes = (uint64_t)(p.gemm_tile_m + 1 + p.gemm_tile_n + 1) *
                                     (uint64_t)p.gemm_tile_k * 4;
                    cr_assert_leq(items, wg, "tile %dx%d needs %llu items > %llu", p.gemm_tile_m,
                                  p.gemm_tile_n, (unsigned long long)items, (unsigned long long)wg);
                    cr_assert_leq(bytes, locals[li]);
                } else {
                    cr_assert_lt(wg, 4, "no GEMM tile at wg %llu local %llu", (unsigned long long)wg,
                                 (unsigned long long)locals[li]);
                }
            }
}

/* The tiled GEMM's preconditions (kernels/gemm_tiled.cl): TM % WM == TN % WN == 0
 * and both tiles' element counts multiples of the work-group size. A 64
 * work-item device gets a tile of at most 64 work-items: the old fallback
 * (32 x 64 with 2 x 8 per item) needed 128. */
Test(profile, gemm_tiles_keep_the_kernel_preconditions)
{
    for (int i = 0; i < clf__gemm_tile_count(); i++) {
        int t[5];
        clf__gemm_tile(i, t);
        int items = (t[0] / t[3]) * (t[1] / t[4]);
        cr_assert(t[0] % t[3] == 0 && t[1] % t[4] == 0, "tile %d", i);
        cr_assert(t[0] * t[2] % items == 0 && t[1] * t[2] % items == 0, "tile %d", i);
    }
    clf_device_info d = device(CL_DEVICE_TYPE_GPU, 64, 16384, 4);
    clf_kernel_profile p = make(&d, CLF_KERNELS_AUTO, NULL);
    cr_assert_leq((p.gemm_tile_m / p.gemm_work_m) * (p.gemm_tile_n / p.gemm_work_n), 64);
}

Test(profile, simulated_limits_only_shrink)
{
    clf_device_info d = device(CL_DEVICE_TYPE_GPU, 1024, 48 << 10, 4);
    clf_kernel_profile p =
        make(&d, CLF_KERNELS_AUTO, "wg=64, local=16K,alloc=256M,fp16=0,subgroups=0,cl=1.2,kernel_wg=32");
    cr_assert(p.limits_simulated);
    cr_assert_eq(p.limits.max_work_group_size, 64);
    cr_assert_eq(p.limits.kernel_work_group_size, 32);
    cr_assert_eq(p.limits.local_mem_bytes, 16384);
    cr_assert_eq(p.limits.max_alloc_bytes, (uint64_t)256 << 20);
    cr_assert(!p.limits.fp16 && !p.limits.subgroups);
    cr_assert_eq(p.limits.opencl_version, 120);
    cr_assert_leq((uint64_t)p.row_wg_max, 32); /* the per-kernel cap counts too */
    /* Larger than the device: the device's own figure stays. */
    p = make(&d, CLF_KERNELS_AUTO, "wg=100000,local=1G,fp16=1,cl=3.0");
    cr_assert(!p.limits_simulated);
    cr_assert_eq(p.limits.max_work_group_size, 1024);
    cr_assert_eq(p.limits.local_mem_bytes, 48 << 10);
    cr_assert(p.limits.fp16);
    cr_assert(!make(&d, CLF_KERNELS_AUTO, "").limits_simulated);
}

Test(profile, malformed_limits_are_refused_naming_the_item)
{
    clf_device_info d = device(CL_DEVICE_TYPE_GPU, 1024, 48 << 10, 4);
    static const char *bad[] = {"wg", "wg=", "wg=0", "wg=-4", "wg=12x", "local=16Q",
                                "fp16=2", "cl=4.0", "cl=1", "colour=3", "wg=64,bogus=1",
                                "=5", "alloc=99999999999999999999G"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        clf_kernel_profile p;
        cr_assert_eq(clf_kernel_profile_make(&d, CLF_KERNELS_AUTO, bad[i], &p), CLF_ERR_INVALID_ARG,
                     "\"%s\" accepted", bad[i]);
        cr_assert(strstr(clf_context_last_error(NULL), "cannot read"), "%s: %s", bad[i],
                  clf_context_last_error(NULL));
    }
    clf_kernel_profile p;
    clf_kernel_profile_make(&d, CLF_KERNELS_AUTO, "wg=64,bogus=1", &p);
    cr_assert(strstr(clf_context_last_error(NULL), "\"bogus=1\""), "%s", clf_context_last_error(NULL));
}

/* The half8 alignment workaround is a quirk of PoCL (read from the platform
 * name in the quirk table), not of CPUs: a CPU of another implementation
 * does not get it, a PoCL device does whatever its type. */
Test(profile, half8_workaround_is_keyed_on_the_pocl_quirk)
{
    clf_device_info cpu = device(CL_DEVICE_TYPE_CPU, 8192, 256 << 10, 16);
    snprintf(cpu.platform_name, sizeof cpu.platform_name, "Intel(R) CPU Runtime for OpenCL(TM) Applications");
    cpu.quirks = clf__device_quirks(&cpu);
    cr_assert_eq(make(&cpu, CLF_KERNELS_AUTO, NULL).workarounds, 0u);
    clf_device_info pocl = device(CL_DEVICE_TYPE_GPU, 256, 64 << 10, 4);
    snprintf(pocl.platform_name, sizeof pocl.platform_name, "Portable Computing Language");
    pocl.quirks = clf__device_quirks(&pocl);
    cr_assert(pocl.quirks & CLF_QUIRK_HALF8_ALIGN);
    clf_kernel_profile p = make(&pocl, CLF_KERNELS_GPU, NULL);
    cr_assert(p.workarounds & CLF_WORKAROUND_HALF8_UNALIGNED);
    char names[64];
    cr_assert(strstr(clf__quirk_names(pocl.quirks, names, sizeof names), "half8-align"));
}

Test(profile, resolve_reads_the_environment)
{
    clf_device_info d = device(CL_DEVICE_TYPE_CPU, 4096, 1 << 20, 8);
    clf_kernel_profile p;
    setenv("CLFORMER_KERNELS", "gpu", 1);
    setenv("CLFORMER_DEVICE_LIMITS", "wg=128", 1);
    setenv("CLFORMER_GEMV_MAX_M", "4", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_AUTO, NULL, &p), CLF_OK);
    cr_assert_eq(p.family, CLF_KERNELS_GPU);
    cr_assert_str_eq(p.family_reason, "forced by CLFORMER_KERNELS");
    cr_assert_eq(p.limits.max_work_group_size, 128);
    cr_assert_eq(p.gemv_max_m, 4);
    /* Explicit arguments win over the environment. */
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_CPU, "", &p), CLF_OK);
    cr_assert_eq(p.family, CLF_KERNELS_CPU);
    cr_assert_eq(p.limits.max_work_group_size, 4096);
    setenv("CLFORMER_KERNELS", "fpga", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_AUTO, NULL, &p), CLF_ERR_INVALID_ARG);
    cr_assert(strstr(clf_context_last_error(NULL), "CLFORMER_KERNELS=\"fpga\""));
    unsetenv("CLFORMER_KERNELS");
    unsetenv("CLFORMER_DEVICE_LIMITS");
    unsetenv("CLFORMER_GEMV_MAX_M");
    /* CLFORMER_GEMV_I16: 0, 1 or 2 overrides the family's choice; anything else is ignored. */
    setenv("CLFORMER_GEMV_I16", "0", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_CPU, NULL, &p), CLF_OK);
    cr_assert_eq(p.gemv_i16, 0);
    setenv("CLFORMER_GEMV_I16", "1", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_GPU, NULL, &p), CLF_OK);
    cr_assert_eq(p.gemv_i16, 1);
    setenv("CLFORMER_GEMV_I16", "2", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_GPU, NULL, &p), CLF_OK);
    cr_assert_eq(p.gemv_i16, 2);
    setenv("CLFORMER_GEMV_I16", "yes", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_CPU, NULL, &p), CLF_OK);
    cr_assert_eq(p.gemv_i16, 1);
    setenv("CLFORMER_GEMV_I16", "3", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&d, CLF_KERNELS_CPU, NULL, &p), CLF_OK);
    cr_assert_eq(p.gemv_i16, 1);
    unsetenv("CLFORMER_GEMV_I16");
}

/* Half arithmetic: only where fp16 is reported (and not simulated away); on
 * by default on GPUs and accelerators, off on CPU devices (measured slower on
 * Intel's CPU runtime, docs/half_math.md), whichever family is forced;
 * CLFORMER_HALF_MATH overrides it only where fp16 exists. */
Test(profile, half_math_needs_fp16_defaults_on_gpus_and_follows_the_environment)
{
    clf_device_info gpu = device(CL_DEVICE_TYPE_GPU, 1024, 48 << 10, 4);
    clf_device_info cpu = device(CL_DEVICE_TYPE_CPU, 4096, 1 << 20, 8);
    clf_device_info acc = device(CL_DEVICE_TYPE_ACCELERATOR, 1024, 48 << 10, 4);
    cr_assert_eq(make(&gpu, CLF_KERNELS_AUTO, NULL).half_math, CLF_HALF_MATH_F32ACC);
    cr_assert_eq(make(&acc, CLF_KERNELS_AUTO, NULL).half_math, CLF_HALF_MATH_F32ACC);
    cr_assert_eq(make(&gpu, CLF_KERNELS_CPU, NULL).half_math, CLF_HALF_MATH_F32ACC);
    cr_assert_eq(make(&cpu, CLF_KERNELS_AUTO, NULL).half_math, CLF_HALF_MATH_OFF);
    cr_assert_eq(make(&cpu, CLF_KERNELS_GPU, NULL).half_math, CLF_HALF_MATH_OFF);
    clf_kernel_profile p = make(&gpu, CLF_KERNELS_AUTO, "fp16=0");
    cr_assert_eq(p.half_math, CLF_HALF_MATH_OFF);
    cr_assert_str_eq(p.half_reason, "no cl_khr_fp16");
    gpu.fp16 = false;
    cr_assert_eq(make(&gpu, CLF_KERNELS_AUTO, NULL).half_math, CLF_HALF_MATH_OFF);
    gpu.fp16 = true;

    setenv("CLFORMER_HALF_MATH", "2", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&cpu, CLF_KERNELS_AUTO, NULL, &p), CLF_OK);
    cr_assert_eq(p.half_math, CLF_HALF_MATH_TILEACC);
    cr_assert_str_eq(p.half_reason, "forced by CLFORMER_HALF_MATH");
    cr_assert_eq(clf_kernel_profile_resolve(&cpu, CLF_KERNELS_AUTO, "fp16=0", &p), CLF_OK);
    cr_assert_eq(p.half_math, CLF_HALF_MATH_OFF, "forced on without fp16");
    setenv("CLFORMER_HALF_MATH", "0", 1);
    cr_assert_eq(clf_kernel_profile_resolve(&gpu, CLF_KERNELS_AUTO, NULL, &p), CLF_OK);
    cr_assert_eq(p.half_math, CLF_HALF_MATH_OFF);
    static const char *bad[] = {"3", "-1", "11", "on"};
    for (size_t i = 0; i < 4; i++) {
        setenv("CLFORMER_HALF_MATH", bad[i], 1);
        cr_assert_eq(clf_kernel_profile_resolve(&gpu, CLF_KERNELS_AUTO, NULL, &p), CLF_ERR_INVALID_ARG,
                     "CLFORMER_HALF_MATH=%s", bad[i]);
        cr_assert(strstr(clf_context_last_error(NULL), "CLFORMER_HALF_MATH"), "%s",
                  clf_context_last_error(NULL));
    }
    unsetenv("CLFORMER_HALF_MATH");
}

/* Every default profile is one the check accepts (a stored tuning result
 * is judged by the same check), on big and simulated small devices in both
 * families; and the untuned defaults of the fields the autotuner added are
 * the constants the plans used before, so untuned kernels are unchanged. */
Test(profile, defaults_pass_the_check_and_keep_the_old_constants)
{
    const clf_device_info devs[] = {device(CL_DEVICE_TYPE_CPU, 4096, 1 << 20, 16),
                                    device(CL_DEVICE_TYPE_CPU, 8192, 256 << 10, 8),
                                    device(CL_DEVICE_TYPE_GPU, 1024, 48 << 10, 1),
                                    device(CL_DEVICE_TYPE_ACCELERATOR, 256, 32 << 10, 4)};
    const char *limits[] = {NULL, "wg=128,local=32K,kernel_wg=64", "wg=64,local=16K", "wg=4,local=1K"};
    for (size_t d = 0; d < sizeof devs / sizeof devs[0]; d++)
        for (int f = 1; f <= 2; f++)
            for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
                clf_kernel_profile p = make(&devs[d], (clf_kernel_family)f, limits[l]);
                cr_expect_eq(clf_kernel_profile_check(&p), CLF_OK, "device %zu family %d limits %s: %s", d, f,
                             limits[l] ? limits[l] : "(none)", clf_context_last_error(NULL));
                cr_expect(!p.tuned);
                cr_expect_eq(p.attn_cpu_acc, 2048);
                cr_expect_eq(p.attn_cpu_kv, 16384);
                cr_expect_eq(p.rows_wg, limits[l] && !strcmp(limits[l], "wg=4,local=1K") ? 4 : 16);
                cr_expect(p.int_gemv_rows == 128 && p.q4_gemv_cols == 2 && p.int_gemm_rows == 16 &&
                          p.int_gemm_pass == 2 && p.int_gemm_q4_cols == 2 && p.int_gemm_groups == 2);
                if (f == CLF_KERNELS_CPU) {
                    cr_expect(p.gemv_cols_t == 4 && p.gemv_rows_t == 8 && p.gemv_vec_n == 8 &&
                              p.gemv_cols_n == 8 && p.gemv_rows_n == 4);
                } else {
                    cr_expect(p.gemv_cols_t == 1 && p.gemv_rows_t == 4 && p.gemv_vec_n == p.gemv_vec &&
                              p.gemv_cols_n == 1 && p.gemv_rows_n == 4);
                }
            }
}

Test(profile, check_refuses_values_the_kernels_cannot_take_naming_the_field)
{
    clf_device_info gpu = device(CL_DEVICE_TYPE_GPU, 256, 16 << 10, 1);
    const clf_kernel_profile base = make(&gpu, CLF_KERNELS_GPU, NULL);
    struct {
        const char *field;
        int value;
    } bad[] = {{"gemv_vec", 6},        {"gemv_split", 512},      {"gemv_rows_t", 3},
               {"gemv_cols_t", 9},     {"gemm_tile_m", 48},      {"gemm_work_n", 3},
               {"row_wg_max", 512},    {"row_wg_min", 0},        {"rows_wg", 1024},
               {"attn_block_m", 512},  {"attn_block_n", 2},      {"attn_decode_wg", 24},
               {"attn_cpu_rows", 4},   {"attn_splits_per_cu", 0}, {"attn_cpu_kv", 100},
               {"gemv_max_m", 9},      {"int_gemv_rows", 16},    {"int_gemv_rows", 96},
               {"q4_gemv_cols", 5},    {"int_gemm_rows", 0},     {"int_gemm_rows", 17},
               {"int_gemm_pass", 5},   {"int_gemm_q4_cols", 0},  {"int_gemm_groups", 0},
               {"int_gemm_groups", 17}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clf_kernel_profile p = base;
        const clf__profile_field *f = clf__profile_field_find(bad[i].field);
        cr_assert(f, "%s is not in the field table", bad[i].field);
        *clf__profile_field_ptr(&p, f) = bad[i].value;
        cr_expect_eq(clf_kernel_profile_check(&p), CLF_ERR_INVALID_ARG, "%s = %d accepted", bad[i].field,
                     bad[i].value);
        const char *msg = clf_context_last_error(NULL);
        /* Tile fields are judged together; the message names the tile. */
        const char *want = strncmp(bad[i].field, "gemm_", 5) == 0 ? "gemm_" : bad[i].field;
        cr_expect(strstr(msg, want), "%s = %d: message \"%s\"", bad[i].field, bad[i].value, msg);
    }
    /* Half arithmetic needs cl_khr_fp16 (simulated away here). */
    clf_kernel_profile h = make(&gpu, CLF_KERNELS_GPU, "fp16=0");
    h.half_math = CLF_HALF_MATH_F32ACC;
    cr_expect_eq(clf_kernel_profile_check(&h), CLF_ERR_INVALID_ARG);
    cr_expect(strstr(clf_context_last_error(NULL), "half_math"), "%s", clf_context_last_error(NULL));
    /* A tile that needs more local memory than the device has (16 KiB). */
    clf_kernel_profile p = base;
    p.gemm_tile_m = 128, p.gemm_tile_n = 128, p.gemm_tile_k = 32, p.gemm_work_m = 8, p.gemm_work_n = 8;
    cr_expect_eq(clf_kernel_profile_check(&p), CLF_ERR_INVALID_ARG);
    cr_expect(strstr(clf_context_last_error(NULL), "local memory"), "%s", clf_context_last_error(NULL));
}
