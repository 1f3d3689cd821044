/*
 * The CLBlast GEMM provider: CLBlastSgemm(WithTempBuffer), SgemmStridedBatched
 * and Hgemm. CLBlast has no fused epilogue, so bias and activation run as
 * separate ops afterwards; and it multiplies C by beta even when beta is 0,
 * so C is cleared first to honour "beta = 0 never reads C".
 *
 * Known CLBlast 1.5.3 limits designed around: the first call of a routine is
 * not thread-safe (every call is serialised under one lock), SgemmBatched
 * blocks on the caller's queue (never used), temporaries are allocated per
 * call (a context scratch buffer is passed instead).
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <clblast_c.h>

#include "ops/gemm_internal.h"

static pthread_mutex_t clblast_lock = PTHREAD_MUTEX_INITIALIZER;

bool clf__gemm_clblast_supports(const clf_context *ctx, const clf__gemm_desc *d)
{
    if (d->b.packed) return false; /* the builtin kernel's own layout */
    if (d->a.dtype != d->b.dtype || d->a.dtype != d->c.dtype) return false;
    if (d->a.dtype == CLF_F16) return ctx->kprof.limits.fp16;
    return d->a.dtype == CLF_F32;
}

static clf_status clblast_error(clf_context *ctx, CLBlastStatusCode code, const char *routine,
                                const clf__gemm_desc *d)
{
    clf_status st = CLF_ERR_OPENCL;
    if (code == CLBlastTempBufferAllocFailure || code == CLBlastOpenCLOutOfResources)
        st = CLF_ERR_DEVICE_MEMORY;
    else if (code == CLBlastOpenCLOutOfHostMemory)
        st = CLF_ERR_OUT_OF_MEMORY;
    else if (code == CLBlastNoHalfPrecision)
        st = CLF_ERR_UNSUPPORTED;
    const char *name = code > -1000 ? clf__cl_error_name((cl_int)code) : "CLBlast status";
    return clf__error(ctx, st, "clf_gemm (CLBlast %s, M=%lld N=%lld K=%lld batch=%lld): %s (%d)",
                      routine, (long long)d->m, (long long)d->n, (long long)d->k,
                      (long long)d->batch, name, (int)code);
}

/* One matrix product (batch entry b) through Sgemm with our temp buffer. */
static CLBlastStatusCode sgemm_one(clf_context *ctx, const clf__gemm_desc *d, int64_t b,
                                   float beta, cl_mem temp)
{
    CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    size_t oa = d->a.offset + (size_t)(b * d->a.batch_stride);
    size_t ob = d->b.offset + (size_t)(b * d->b.batch_stride);
    size_t oc = d->c.offset + (size_t)(b * d->c.batch_stride);
    return CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, (size_t)d->m, (size_t)d->n,
                                      (size_t)d->k, d->alpha, d->a.mem, oa, (size_t)d->a.ld,
                                      d->b.mem, ob, (size_t)d->b.ld, beta, d->c.mem, oc,
                                      (size_t)d->c.ld, &ctx->queue, NULL, temp);
}

static clf_status run_f32(clf_context *ctx, const clf__gemm_desc *d, float beta)
{
    CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastStatusCode code;
    if (d->batch > 1 && d->a.batch_stride && d->b.batch_stride) {
        code = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, ta, tb, (size_t)d->m, (size_t)d->n, (size_t)d->k, d->alpha,
            d->a.mem, d->a.offset, (size_t)d->a.ld, (size_t)d->a.batch_stride, d->b.mem,
            d->b.offset, (size_t)d->b.ld, (size_t)d->b.batch_stride, beta, d->c.mem, d->c.offset,
            (size_t)d->c.ld, (size_t)d->c.batch_stride, (size_t)d->batch, &ctx->queue, NULL);
        return code == CLBlastSuccess ? CLF_OK : clblast_error(ctx, code, "SgemmStridedBatched", d);
    }
    size_t temp_size = 0;
    code = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, (size_t)d->m, (size_t)d->n,
                                      (size_t)d->k, d->a.offset, (size_t)d->a.ld, d->b.offset,
                                      (size_t)d->b.ld, d->c.offset, (size_t)d->c.ld, &ctx->queue,
                                      &temp_size);
    if (code != CLBlastSuccess) return clblast_error(ctx, code, "SGemmTempBufferSize", d);
    cl_mem temp;
    CLF_TRY(clf__scratch(ctx, CLF__SCRATCH_GEMM, temp_size, &temp));
    for (int64_t b = 0; b < d->batch; b++) {
        code = sgemm_one(ctx, d, b, beta, temp);
        if (code != CLBlastSuccess) return clblast_error(ctx, code, "Sgemm", d);
    }
    return CLF_OK;
}

static clf_status run_f16(clf_context *ctx, const clf__gemm_desc *d, float beta)
{
    CLBlastTranspose ta = d->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose tb = d->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo;
    uint16_t ha, hb;
    clf_f32_to_f16(&d->alpha, &ha, 1);
    clf_f32_to_f16(&beta, &hb, 1);
    for (int64_t b = 0; b < d->batch; b++) {
        CLBlastStatusCode code = CLBlastHgemm(
            CLBlastLayoutRowMajor, ta, tb, (size_t)d->m, (size_t)d->n, (size_t)d->k, ha, d->a.mem,
            d->a.offset + (size_t)(b * d->a.batch_stride), (size_t)d->a.ld, d->b.mem,
            d->b.offset + (size_t)(b * d->b.batch_stride), (size_t)d->b.ld, hb, d->c.mem,
            d->c.offset + (size_t)(b * d->c.batch_stride), (size_t)d->c.ld, &ctx->queue, NULL);
        if (code != CLBlastSuccess) return clblast_error(ctx, code, "Hgemm", d);
    }
    return CLF_OK;
}

clf_status clf__gemm_clblast(clf_context *ctx, const clf__gemm_desc *d)
{
    if (d->b.packed)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm: b is a packed weight (clf_gemm_pack_b): the builtin provider "
                          "reads it, CLBlast cannot");
    if (!clf__gemm_clblast_supports(ctx, d))
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_gemm: CLBlast takes f32 operands, or f16 ones where the device has "
                          "cl_khr_fp16; got A %s, B %s, C %s on \"%s\"",
                          clf_dtype_name(d->a.dtype), clf_dtype_name(d->b.dtype),
                          clf_dtype_name(d->c.dtype), ctx->info.name);
    float beta = d->beta;
    clf_status st = CLF_OK;
    if (!ctx->dry_run) { /* a dry pass makes our epilogue kernels ready; CLBlast has its own cache */
        if (beta == 0.0f) CLF_TRY(clf_tensor_fill(ctx, d->c_tensor, 0.0f));
        pthread_mutex_lock(&clblast_lock);
        st = d->a.dtype == CLF_F16 ? run_f16(ctx, d, beta) : run_f32(ctx, d, beta);
        pthread_mutex_unlock(&clblast_lock);
    }
    if (st != CLF_OK) return st;
    if (d->bias) CLF_TRY(clf_add(ctx, d->c_tensor, d->bias, d->c_tensor));
    if (d->act != CLF_ACT_NONE) CLF_TRY(clf_activation(ctx, d->act, d->c_tensor, d->c_tensor));
    return CLF_OK;
}
