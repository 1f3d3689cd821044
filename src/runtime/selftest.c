/*
 * A device smoke test: one small kernel through the whole path (program
 * build or cache, buffers, enqueue, read back) checked on the host.
 */
#include <math.h>
#include <string.h>

#include "runtime/runtime.h"

static clf_status context_selftest_body(clf_context *ctx, double *max_abs_error)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_context_selftest: NULL context");
    enum { N = 100003 }; /* a prime: not a multiple of any work-group size */
    const float a = 0.75f;
    clf_status st = CLF_OK;
    cl_mem bx = NULL, by = NULL;
    float *x = clf__malloc(N * sizeof *x), *y = clf__malloc(N * sizeof *y);
    float *got = clf__malloc(N * sizeof *got);
    if (!x || !y || !got) {
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "selftest: out of memory");
        goto done;
    }
    for (int i = 0; i < N; i++) {
        x[i] = (float)(((long)i * 7919) % 2003) / 1001.0f - 1.0f;
        y[i] = (float)(((long)i * 104729) % 3001) / 1500.0f - 1.0f;
    }
    cl_kernel k;
    st = clf__kernel_get(ctx, "smoke", NULL, "smoke_axpy", &k);
    if (st != CLF_OK) goto done;
    cl_int err = CL_SUCCESS;
    bx = clCreateBuffer(ctx->cl, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, N * sizeof *x, x, &err);
    if (err == CL_SUCCESS)
        by = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, N * sizeof *y, y,
                            &err);
    if (err != CL_SUCCESS) {
        st = clf__cl_error(ctx, err, "selftest: clCreateBuffer");
        goto done;
    }
    const cl_int n = N;
    err = clSetKernelArg(k, 0, sizeof n, &n);
    err |= clSetKernelArg(k, 1, sizeof a, &a);
    err |= clSetKernelArg(k, 2, sizeof bx, &bx);
    err |= clSetKernelArg(k, 3, sizeof by, &by);
    if (err != CL_SUCCESS) {
        st = clf__error(ctx, CLF_ERR_OPENCL, "selftest: clSetKernelArg failed");
        goto done;
    }
    size_t local = clf__wg_fit(ctx, k, 64), global = (N + local - 1) / local * local;
    err = clEnqueueNDRangeKernel(ctx->queue, k, 1, NULL, &global, &local, 0, NULL, NULL);
    if (err == CL_SUCCESS)
        err = clEnqueueReadBuffer(ctx->queue, by, CL_TRUE, 0, N * sizeof *got, got, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
        st = clf__cl_error(ctx, err, "selftest: smoke_axpy");
        goto done;
    }
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double want = (double)a * x[i] + y[i];
        double e = fabs((double)got[i] - want);
        if (!(e <= worst)) worst = e; /* NaN propagates as the worst error */
    }
    if (max_abs_error) *max_abs_error = worst;
    if (!(worst <= 1e-6))
        st = clf__error(ctx, CLF_ERR_OPENCL,
                        "selftest: smoke_axpy on \"%s\" gave wrong results (max abs error %g)",
                        ctx->info.name, worst);
done:
    if (bx) clReleaseMemObject(bx);
    if (by) clReleaseMemObject(by);
    clf__free(x);
    clf__free(y);
    clf__free(got);
    return st;
}

clf_status clf_context_selftest(clf_context *ctx, double *max_abs_error)
{
    CLF__GUARDED(ctx, "clf_context_selftest", context_selftest_body(ctx, max_abs_error));
}
