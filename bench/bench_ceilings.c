/*
 * Device ceilings, measured once per device per run (BENCHMARKS.md): memory
 * bandwidth from a large copy (bytes read + written), compute from dependent
 * FMA chains on every compute unit, and the theoretical peak where it can be
 * derived from the device's own figures.
 */
#include <stdio.h>

#include "bench/bench.h"
#include "runtime/runtime.h"

typedef struct copy_arg {
    bench_run *r;
    cl_kernel k;
    clf_tensor a, b;
    size_t global;
} copy_arg;

static int run_copy(void *p)
{
    copy_arg *c = p;
    return clf__launch(c->r->ctx, c->k, "probe_copy", 1, &c->global, NULL) == CLF_OK ? 0 : -1;
}

typedef struct fma_arg {
    bench_run *r;
    cl_kernel k;
    size_t global, local;
} fma_arg;

static int run_fma(void *p)
{
    fma_arg *f = p;
    return clf__launch(f->r->ctx, f->k, "probe_fma", 1, &f->global, &f->local) == CLF_OK ? 0 : -1;
}

static double bandwidth(bench_run *r)
{
    /* 64 MiB each way on CPUs (well past the last-level cache), 256 MiB on
     * GPUs, capped by the largest allocation. */
    size_t bytes = r->dev->device_class == CLF_DEVICE_CPU ? (64u << 20) : (256u << 20);
    while (bytes > r->dev->max_alloc_bytes / 2) bytes /= 2;
    int64_t n = (int64_t)(bytes / 4);
    copy_arg c = {.r = r};
    if (clf_tensor_create(r->ctx, CLF_F32, 1, &n, &c.a) != CLF_OK ||
        clf_tensor_create(r->ctx, CLF_F32, 1, &n, &c.b) != CLF_OK ||
        clf_tensor_fill(r->ctx, &c.a, 1.0f) != CLF_OK ||
        clf__kernel_get(r->ctx, "probe", NULL, "probe_copy", &c.k) != CLF_OK) {
        bench_fail(r, "bandwidth probe", CLF_ERR_OPENCL);
        clf_tensor_free(&c.a);
        clf_tensor_free(&c.b);
        return 0;
    }
    cl_long n4 = n / 4;
    clSetKernelArg(c.k, 0, sizeof(cl_mem), &c.a.buffer->mem);
    clSetKernelArg(c.k, 1, sizeof(cl_mem), &c.b.buffer->mem);
    clSetKernelArg(c.k, 2, sizeof n4, &n4);
    c.global = (size_t)n4;
    bench_result res = {.entry = "ceiling"};
    double gbs = 0;
    if (bench_time(r, run_copy, &c, &res) == 0) gbs = 2.0 * (double)bytes / res.med_s / 1e9;
    clf_tensor_free(&c.a);
    clf_tensor_free(&c.b);
    return gbs;
}

static double compute(bench_run *r)
{
    fma_arg f = {.r = r, .local = 64};
    clf_tensor out;
    int iters = r->dev->device_class == CLF_DEVICE_CPU ? 2048 : 4096;
    /* Enough work-items to fill every compute unit many times over. */
    f.global = (size_t)r->dev->compute_units * 64 * (r->dev->device_class == CLF_DEVICE_CPU ? 16 : 256);
    int64_t n = (int64_t)f.global;
    if (clf_tensor_create(r->ctx, CLF_F32, 1, &n, &out) != CLF_OK ||
        clf__kernel_get(r->ctx, "probe", "-cl-mad-enable", "probe_fma", &f.k) != CLF_OK) {
        bench_fail(r, "compute probe", CLF_ERR_OPENCL);
        clf_tensor_free(&out);
        return 0;
    }
    float a = 0.9999999f, b = 1e-7f;
    clSetKernelArg(f.k, 0, sizeof(cl_mem), &out.buffer->mem);
    clSetKernelArg(f.k, 1, sizeof iters, &iters);
    clSetKernelArg(f.k, 2, sizeof a, &a);
    clSetKernelArg(f.k, 3, sizeof b, &b);
    bench_result res = {.entry = "ceiling"};
    double gflops = 0;
    if (bench_time(r, run_fma, &f, &res) == 0)
        gflops = (double)f.global * iters * 128.0 / res.med_s / 1e9;
    clf_tensor_free(&out);
    return gflops;
}

int bench_measure_ceilings(bench_run *r)
{
    bench_ceilings *c = &r->ceil;
    int saved_reps = r->reps, saved_warm = r->warmup;
    r->reps = r->quick ? 5 : 11;
    r->warmup = 2;
    c->bandwidth_gbs = bandwidth(r);
    c->compute_gflops = compute(r);
    r->reps = saved_reps;
    r->warmup = saved_warm;
    /* Theoretical peak. On CPUs the compute probe underestimates (BENCHMARKS.md):
     * cores x SIMD lanes x 2 FMA units x 2 flops x clock, with the SIMD width
     * from the device's native float vector width and 2 FMA units assumed
     * (true of every x86 core since Haswell and of big Arm cores). GPUs do not
     * report their lanes per compute unit in OpenCL, so there we use the probe. */
    if (r->dev->device_class == CLF_DEVICE_CPU && r->dev->native_vector_float) {
        c->peak_gflops = (double)r->dev->compute_units * r->dev->native_vector_float * 2 * 2 *
                         r->dev->clock_mhz / 1e3;
        c->peak_how = "compute units x native float vector width x 2 FMA units x 2 x clock";
    } else {
        c->peak_gflops = 0;
        c->peak_how = "not derivable from OpenCL queries";
    }
    if (c->peak_gflops > c->compute_gflops) {
        c->roof_gflops = c->peak_gflops;
        c->roof_source = "theoretical";
    } else {
        c->roof_gflops = c->compute_gflops;
        c->roof_source = "measured";
    }
    printf("ceilings: bandwidth %.1f GB/s (copy, read + write); compute %.1f GFLOP/s measured "
           "(FMA chains)",
           c->bandwidth_gbs, c->compute_gflops);
    if (c->peak_gflops > 0) printf(", %.1f GFLOP/s theoretical (%s)", c->peak_gflops, c->peak_how);
    printf("; roofline uses the %s figure\n", c->roof_source);
    return c->bandwidth_gbs > 0 && c->compute_gflops > 0 ? 0 : -1;
}
