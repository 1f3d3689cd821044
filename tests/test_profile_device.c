/*
 * The kernel profile on real devices: the family a context uses follows the
 * params and the environment, and simulated limits behave like a smaller
 * device (launches beyond them and allocations above them are refused, with
 * a message naming the limit). The op suites run under both families and
 * under simulated limits from tools/run-tests.sh; this file checks the
 * mechanism they rely on, so a broken override cannot pass them silently.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "runtime/runtime.h"

static clf_context *open_with(const char *spec, clf_kernel_family fam, const char *limits)
{
    clf_context_params p = clf_context_params_default();
    p.device = spec;
    p.cache_dir = "";
    p.kernels = fam;
    p.limits = limits;
    clf_context *ctx = NULL;
    cr_assert_eq(clf_context_create(&p, &ctx), CLF_OK, "%s: %s", spec, clf_context_last_error(NULL));
    return ctx;
}

Test(profile_device, family_follows_params_then_environment)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        unsetenv("CLFORMER_KERNELS");
        clf_context *ctx = open_with(specs[d], CLF_KERNELS_AUTO, NULL);
        const clf_kernel_profile *p = clf_context_kernel_profile(ctx);
        const clf_device_info *info = clf_context_device(ctx);
        clf_kernel_family own = (info->cl_type & CL_DEVICE_TYPE_CPU) ? CLF_KERNELS_CPU : CLF_KERNELS_GPU;
        cr_assert_eq(p->family, own, "%s: %s", specs[d], p->family_reason);
        cr_assert(!p->limits_simulated);
        cr_assert_eq(p->limits.max_work_group_size, info->max_work_group_size);
        clf_context_free(ctx);

        clf_kernel_family other = own == CLF_KERNELS_CPU ? CLF_KERNELS_GPU : CLF_KERNELS_CPU;
        ctx = open_with(specs[d], other, NULL);
        cr_assert_eq(clf_context_kernel_profile(ctx)->family, other);
        cr_assert_str_eq(clf_context_kernel_profile(ctx)->family_reason,
                         "forced by clf_context_params.kernels");
        clf_context_free(ctx);

        setenv("CLFORMER_KERNELS", other == CLF_KERNELS_GPU ? "gpu" : "cpu", 1);
        ctx = open_with(specs[d], CLF_KERNELS_AUTO, NULL);
        cr_assert_eq(clf_context_kernel_profile(ctx)->family, other);
        clf_context_free(ctx);
        ctx = open_with(specs[d], own, NULL); /* params win over the environment */
        cr_assert_eq(clf_context_kernel_profile(ctx)->family, own);
        clf_context_free(ctx);

        setenv("CLFORMER_KERNELS", "fpga", 1);
        clf_context_params bad = clf_context_params_default();
        bad.device = specs[d];
        bad.cache_dir = "";
        clf_context *none = NULL;
        cr_assert_eq(clf_context_create(&bad, &none), CLF_ERR_INVALID_ARG);
        cr_assert_null(none);
        cr_assert(strstr(clf_context_last_error(NULL), "CLFORMER_KERNELS"));
        unsetenv("CLFORMER_KERNELS");
    }
}

/* Under simulated limits the context refuses what the smaller device would:
 * a group larger than the limit, local memory beyond it. Without this the
 * suites run under CLFORMER_DEVICE_LIMITS would pass on the real device
 * whatever the plans did. */
Test(profile_device, simulated_limits_refuse_what_a_small_device_would)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        clf_context *ctx = open_with(specs[d], CLF_KERNELS_GPU, "wg=64,local=4K");
        cl_kernel k;
        /* argmax_rows holds a 256-entry value and index array each in local
         * memory (2 KiB) at the default group size of 256. */
        cr_assert_eq(clf__kernel_get(ctx, "topk", "-DCLF_TOPK_WG=256 -DCLF_TOPK_ONLY=1", "argmax_rows", &k),
                     CLF_OK, "%s", clf_context_last_error(ctx));
        size_t global = 256, local = 256;
        cr_assert_eq(clf__launch(ctx, k, "argmax_rows", 1, &global, &local), CLF_ERR_OPENCL);
        cr_assert(strstr(clf_context_last_error(ctx), "CL_INVALID_WORK_GROUP_SIZE: 256 work-items"),
                  "%s", clf_context_last_error(ctx));
        cr_assert_leq(clf__kernel_wg_limit(ctx, k), 64);
        clf_context_free(ctx);

        ctx = open_with(specs[d], CLF_KERNELS_GPU, "local=1K");
        cr_assert_eq(clf__kernel_get(ctx, "topk", "-DCLF_TOPK_WG=256 -DCLF_TOPK_ONLY=1", "argmax_rows", &k),
                     CLF_OK, "%s", clf_context_last_error(ctx));
        clf_status st = clf__launch(ctx, k, "argmax_rows", 1, &global, &local);
        cr_assert_eq(st, CLF_ERR_DEVICE_MEMORY, "%s: %s", clf_status_name(st), clf_context_last_error(ctx));
        cr_assert(strstr(clf_context_last_error(ctx), "CL_OUT_OF_RESOURCES"), "%s",
                  clf_context_last_error(ctx));
        clf_context_free(ctx);
    }
}

/* A buffer above the largest allocation is refused before the driver sees
 * it, naming the size and the limit; so is a model whose weight is. */
Test(profile_device, allocations_above_the_limit_are_refused_naming_it)
{
    char specs[16][32];
    int n = clft_devices_or_skip(specs, 16);
    for (int d = 0; d < n; d++) {
        clf_context *ctx = open_with(specs[d], CLF_KERNELS_AUTO, "alloc=1M");
        clf_tensor t;
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){512, 512}, &t), CLF_OK);
        clf_tensor_free(&t);
        cr_assert_eq(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){513, 512}, &t), CLF_ERR_DEVICE_MEMORY);
        cr_assert(strstr(clf_context_last_error(ctx), "1050624 bytes is more than the largest allocation"),
                  "%s", clf_context_last_error(ctx));
        cr_assert(strstr(clf_context_last_error(ctx), "(1048576 bytes)"), "%s", clf_context_last_error(ctx));
        clf_model_params mp = clf_model_params_default();
        clf_model *m = NULL;
        clf_context_free(ctx);
        ctx = open_with(specs[d], CLF_KERNELS_AUTO, "alloc=4K"); /* tiny's FFN weights are 8 KiB */
        clf_model_config cfg;
        cr_assert_eq(clf_model_config_preset("tiny", &cfg), CLF_OK);
        clf_status st = clf_model_create_random(ctx, &cfg, &mp, 1, &m);
        cr_assert_eq(st, CLF_ERR_DEVICE_MEMORY, "%s: %s", clf_status_name(st), clf_context_last_error(ctx));
        cr_assert_null(m);
        cr_assert(strstr(clf_context_last_error(ctx), "weight \"") && strstr(clf_context_last_error(ctx), "largest allocation"),
                  "%s", clf_context_last_error(ctx));
        clf_context_free(ctx);
    }
}
