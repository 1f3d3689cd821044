/*
 * Contexts: the selected device, an OpenCL context and one in-order queue,
 * the program table and the binary cache folder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h> /* clf_version is declared in the umbrella header */

#include "runtime/runtime.h"

clf_context_params clf_context_params_default(void)
{
    clf_context_params p;
    memset(&p, 0, sizeof p);
    return p;
}

const char *clf_version(void) { return CLF_VERSION_STRING; }

/* Build options every program gets, from the device's capabilities.
 * -cl-denorms-are-zero lets the driver flush f32 denormals: on x86 PoCL then
 * runs kernels with FTZ/DAZ set, and without it each denormal operand or
 * result costs a microcode assist of ~100 cycles. The tails of exp (softmax,
 * GELU's erfc, SiLU) produce them: a GEMM with GELU fused, on outputs of
 * magnitude ~15, took 5.5 ms instead of 3.6 (128 x 3072 x 768, 2-core
 * AVX-512). Values below 1.2e-38 count as 0, far below any tolerance here;
 * GPUs flush f32 denormals at no cost either way. */
static void derive_base_options(clf_context *ctx)
{
    const clf_kernel_profile *p = &ctx->kprof;
    snprintf(ctx->base_options, sizeof ctx->base_options,
             "-cl-std=CL1.2 -cl-denorms-are-zero -DCLF_HAS_FP16=%d -DCLF_HALF_UNALIGNED=%d "
             "-DCLF_LOCAL_MEM_BYTES=%llu -DCLF_MAX_WORK_GROUP=%llu",
             p->limits.fp16 ? 1 : 0, (p->workarounds & CLF_WORKAROUND_HALF8_UNALIGNED) ? 1 : 0,
             (unsigned long long)p->limits.local_mem_bytes,
             (unsigned long long)p->limits.max_work_group_size);
}

/* The folder of clf__cache_dir_resolve, owned by the context; NULL = off. */
static clf_status resolve_cache_dir(clf_context *ctx, const char *param)
{
    char buf[4096];
    if (!clf__cache_dir_resolve(param, buf, sizeof buf)) return CLF_OK;
    ctx->cache_dir = clf__strdup(buf);
    if (!ctx->cache_dir) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "context: out of memory");
    return CLF_OK;
}

static clf_status open_device(clf_context *ctx, const char *spec)
{
    clf__device_entry *entries = NULL;
    size_t n = 0;
    CLF_TRY(clf__devices_enumerate(&entries, &n));
    clf_device_info *infos = clf__calloc(n, sizeof *infos);
    if (!infos) {
        clf__free(entries);
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "context: out of memory");
    }
    for (size_t i = 0; i < n; i++) infos[i] = entries[i].info;
    size_t pick = 0;
    /* Measures rivals of one class once per device and driver; the
     * temporary contexts it opens name their device ("P:D"), so they never
     * come back here to rank anything. */
    clf_status st = clf__device_choose(infos, n, spec, ctx->cache_dir, true, &pick, NULL, 0);
    if (st == CLF_OK) {
        ctx->info = infos[pick]; /* with its score, when one was read or measured */
        ctx->platform = entries[pick].platform;
        ctx->device = entries[pick].device;
    }
    clf__free(infos);
    clf__free(entries);
    return st;
}

/* The context's in-order queue on ctx->cl (profiling as ctx->profiling). */
static clf_status create_queue(clf_context *ctx)
{
    cl_int err = CL_SUCCESS;
    /* clCreateCommandQueue is deprecated in 2.0 but is the one call that
     * works on every 1.2 and later driver. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    ctx->queue = clf__cl_fault()
                     ? (err = CL_OUT_OF_HOST_MEMORY, NULL)
                     : clCreateCommandQueue(ctx->cl, ctx->device,
                                            ctx->profiling ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
#pragma GCC diagnostic pop
    if (err != CL_SUCCESS) return clf__cl_error(NULL, err, "clCreateCommandQueue");
    return CLF_OK;
}

static clf_status create_cl_objects(clf_context *ctx)
{
    cl_int err = CL_SUCCESS;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->platform, 0};
    ctx->cl = clf__cl_fault() ? (err = CL_OUT_OF_HOST_MEMORY, NULL)
                              : clCreateContext(props, 1, &ctx->device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return clf__cl_error(NULL, err, "clCreateContext");
    return create_queue(ctx);
}

clf_status clf_context_create(const clf_context_params *params, clf_context **out)
{
    if (!out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_context_create: out is NULL");
    *out = NULL;
    clf__thread_error_clear();
    clf__prepare_opencl_env(); /* before this call reads the environment */
    clf_context_params p = params ? *params : clf_context_params_default();
    const char *spec = p.device;
    if (!spec || !*spec) spec = getenv("CLFORMER_DEVICE");

    clf_context *ctx = clf__calloc(1, sizeof *ctx);
    if (!ctx) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_context_create: out of memory");
    ctx->profiling = p.profiling;
    clf__owner_init(&ctx->owner);
    clf_status st = resolve_cache_dir(ctx, p.cache_dir);
    if (st == CLF_OK) st = open_device(ctx, spec);
    if (st == CLF_OK) st = clf_kernel_profile_resolve(&ctx->info, p.kernels, p.limits, &ctx->kprof);
    if (st == CLF_OK) st = create_cl_objects(ctx);
    if (st != CLF_OK) {
        clf_context_free(ctx);
        return st;
    }
    const char *hp = getenv("CLFORMER_HUGE_PAGES");
    ctx->host_pages = ctx->info.device_class == CLF_DEVICE_CPU && ctx->info.unified_memory &&
                      hp && !strcmp(hp, "1");
    ctx->kprof_default = ctx->kprof;
    if (!p.untuned) clf__tune_load(ctx);
    derive_base_options(ctx);
    ctx->root = ctx;
    *out = ctx;
    return CLF_OK;
}

clf_status clf__context_fork(const clf_context *parent, clf_context **out)
{
    *out = NULL;
    clf_context *ctx = clf__calloc(1, sizeof *ctx);
    if (!ctx) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "context fork: out of memory");
    ctx->info = parent->info;
    ctx->kprof = parent->kprof;
    ctx->host_pages = parent->host_pages;
    ctx->platform = parent->platform;
    ctx->device = parent->device;
    /* No profiling: nothing reads a fork's profile list, which would grow
     * with every launch of a long-lived session. */
    ctx->profiling = false;
    memcpy(ctx->base_options, parent->base_options, sizeof ctx->base_options);
    ctx->root = parent->root;
    clf__owner_init(&ctx->owner);
    cl_int err = clRetainContext(parent->cl);
    if (err != CL_SUCCESS) {
        clf__free(ctx);
        return clf__cl_error(NULL, err, "clRetainContext");
    }
    ctx->cl = parent->cl;
    clf_status st = CLF_OK;
    if (parent->cache_dir && !(ctx->cache_dir = clf__strdup(parent->cache_dir)))
        st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "context fork: out of memory");
    if (st == CLF_OK) st = create_queue(ctx);
    if (st != CLF_OK) {
        clf_context_free(ctx);
        return st;
    }
    *out = ctx;
    return CLF_OK;
}

void clf_context_free(clf_context *ctx)
{
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    for (size_t i = 0; i < ctx->n_prof; i++) clReleaseEvent(ctx->prof[i].event);
    clf__free(ctx->prof);
    if (ctx->device_error) clReleaseMemObject(ctx->device_error);
    if (ctx->work_counter) clReleaseMemObject(ctx->work_counter);
    for (int i = 0; i < CLF__SCRATCH_SLOTS; i++)
        if (ctx->scratch[i]) clReleaseMemObject(ctx->scratch[i]);
    clf__free(ctx->ops_state);
    clf__programs_release(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->cl) clReleaseContext(ctx->cl);
    clf__free(ctx->cache_dir);
    clf__free(ctx);
}

clf_status clf__contexts_enter(clf_context *a, clf_context *b, const char *what)
{
    if (b == a) b = NULL;
    clf_status st = clf__ctx_enter(a, what);
    if (st == CLF_OK) {
        st = clf__ctx_enter(b, what);
        if (st != CLF_OK) clf__ctx_leave(a);
    }
    if (st != CLF_OK) {
        if (a) clf__owner_mark_refused(a);
        if (b) clf__owner_mark_refused(b);
    }
    return st;
}

void clf__contexts_leave(clf_context *a, clf_context *b)
{
    if (b != a) clf__ctx_leave(b);
    clf__ctx_leave(a);
}

const clf_device_info *clf_context_device(const clf_context *ctx) { return ctx ? &ctx->info : NULL; }

const clf_kernel_profile *clf_context_kernel_profile(const clf_context *ctx)
{
    return ctx ? &ctx->kprof : NULL;
}

const char *clf_context_cache_dir(const clf_context *ctx) { return ctx ? ctx->cache_dir : NULL; }

static clf_status context_finish_body(clf_context *ctx)
{
    if (!ctx) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_context_finish: NULL context");
    cl_int err = clFinish(ctx->queue);
    ctx->blocking_calls++;
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "clFinish");
    return clf__device_error_check(ctx);
}

clf_status clf_context_finish(clf_context *ctx)
{
    CLF__GUARDED(ctx, "clf_context_finish", context_finish_body(ctx));
}

/* With simulated limits, a launch is refused as a device that small would
 * refuse it: more work-items per group than the kernel may run
 * (CL_INVALID_WORK_GROUP_SIZE), or more local memory than the device has
 * (CL_OUT_OF_RESOURCES). The real device would run it, so without this check
 * a plan that ignores the limits would pass the simulated suites. */
static clf_status check_simulated_limits(clf_context *ctx, cl_kernel k, const char *name,
                                         cl_uint dims, const size_t *local)
{
    size_t items = 1;
    for (cl_uint i = 0; local && i < dims; i++) items *= local[i];
    size_t lim = clf__kernel_wg_limit(ctx, k);
    if (items > lim)
        return clf__error(ctx, CLF_ERR_OPENCL,
                          "clEnqueueNDRangeKernel(%s): CL_INVALID_WORK_GROUP_SIZE: %zu work-items "
                          "per group, the simulated device allows %zu",
                          name, items, lim);
    cl_ulong used = 0;
    if (clGetKernelWorkGroupInfo(k, ctx->device, CL_KERNEL_LOCAL_MEM_SIZE, sizeof used, &used,
                                 NULL) == CL_SUCCESS &&
        used > ctx->kprof.limits.local_mem_bytes)
        return clf__error(ctx, CLF_ERR_DEVICE_MEMORY,
                          "clEnqueueNDRangeKernel(%s): CL_OUT_OF_RESOURCES: %llu bytes of local "
                          "memory, the simulated device has %llu",
                          name, (unsigned long long)used,
                          (unsigned long long)ctx->kprof.limits.local_mem_bytes);
    return CLF_OK;
}

clf_status clf__launch(clf_context *ctx, cl_kernel k, const char *name, cl_uint dims,
                       const size_t *global, const size_t *local)
{
    if (ctx->dry_run) return CLF_OK;
    if (ctx->kprof.limits_simulated) CLF_TRY(check_simulated_limits(ctx, k, name, dims, local));
    cl_event ev = NULL;
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueNDRangeKernel(ctx->queue, k, dims, NULL, global, local,
                                                          0, NULL, ctx->profiling ? &ev : NULL);
    if (err != CL_SUCCESS) {
        char what[160];
        snprintf(what, sizeof what, "clEnqueueNDRangeKernel(%s, global %zu x %zu x %zu)", name,
                 global[0], dims > 1 ? global[1] : 1, dims > 2 ? global[2] : 1);
        return clf__cl_error(ctx, err, what);
    }
    if (!ev) return CLF_OK;
    if (ctx->n_prof == ctx->cap_prof) {
        size_t cap = ctx->cap_prof ? ctx->cap_prof * 2 : 256;
        clf__prof_event *grown = clf__realloc(ctx->prof, cap * sizeof *grown);
        if (!grown) {
            clReleaseEvent(ev); /* losing a profile record is not worth failing the op */
            return CLF_OK;
        }
        ctx->prof = grown;
        ctx->cap_prof = cap;
    }
    ctx->prof[ctx->n_prof++] = (clf__prof_event){name, ev};
    return CLF_OK;
}

static clf_status context_profile_body(clf_context *ctx, clf_profile_record *out, size_t cap,
                                       size_t *n)
{
    if (!ctx || !n || (!out && cap))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_context_profile: NULL argument");
    *n = 0;
    if (!ctx->profiling)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "clf_context_profile: the context was created without profiling");
    cl_int err = clFinish(ctx->queue);
    ctx->blocking_calls++;
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "clFinish");
    size_t i = 0;
    for (; i < ctx->n_prof && i < cap; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clGetEventProfilingInfo(ctx->prof[i].event, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ctx->prof[i].event, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        out[i].kernel = ctx->prof[i].name;
        out[i].seconds = t1 > t0 ? (double)(t1 - t0) * 1e-9 : 0.0;
    }
    *n = i;
    for (size_t j = 0; j < ctx->n_prof; j++) clReleaseEvent(ctx->prof[j].event);
    ctx->n_prof = 0;
    return CLF_OK;
}

clf_status clf_context_profile(clf_context *ctx, clf_profile_record *out, size_t cap, size_t *n)
{
    CLF__GUARDED(ctx, "clf_context_profile", context_profile_body(ctx, out, cap, n));
}

clf_status clf__device_error_buffer(clf_context *ctx, cl_mem *out)
{
    if (!ctx->device_error) {
        cl_int err = CL_SUCCESS, zero[4] = {0, 0, 0, 0};
        cl_mem m = clf__cl_fault() ? (err = CL_MEM_OBJECT_ALLOCATION_FAILURE, NULL)
                                   : clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                                    sizeof zero, zero, &err);
        if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "device error word");
        ctx->device_error = m;
    }
    *out = ctx->device_error;
    return CLF_OK;
}

clf_status clf__work_counter(clf_context *ctx, cl_mem *out, cl_uint *epoch)
{
    if (!ctx->work_counter) {
        cl_int err = CL_SUCCESS;
        cl_uint zero = 0;
        cl_mem m = clf__cl_fault() ? (err = CL_MEM_OBJECT_ALLOCATION_FAILURE, NULL)
                                   : clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                                    sizeof zero, &zero, &err);
        if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "work counter");
        ctx->work_counter = m;
    }
    *out = ctx->work_counter;
    *epoch = ctx->work_epoch % 4095 + 1;
    return CLF_OK;
}

void clf__work_counter_used(clf_context *ctx, cl_uint epoch)
{
    if (!ctx->dry_run) ctx->work_epoch = epoch;
}

clf_status clf__device_error_check(clf_context *ctx)
{
    if (!ctx->device_error) return CLF_OK;
    cl_int word[4] = {0, 0, 0, 0};
    cl_int err = clEnqueueReadBuffer(ctx->queue, ctx->device_error, CL_TRUE, 0, sizeof word, word,
                                     0, NULL, NULL);
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "reading the device error word");
    if (word[0] == CLF__DEVERR_NONE) return CLF_OK;
    cl_int zero[4] = {0, 0, 0, 0};
    err = clEnqueueWriteBuffer(ctx->queue, ctx->device_error, CL_TRUE, 0, sizeof zero, zero, 0,
                               NULL, NULL);
    if (err != CL_SUCCESS) return clf__cl_error(ctx, err, "clearing the device error word");
    if (word[0] == CLF__DEVERR_TOKEN_RANGE)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_embedding: token id %d at position %d is outside the vocabulary "
                          "[0, %d); its row was written as zeros",
                          word[1], word[2], word[3]);
    if (word[0] == CLF__DEVERR_POS_RANGE)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_embedding: row %d is at position %d, outside [0, %d) (per-row "
                          "positions); its row was written as zeros",
                          word[2], word[1], word[3]);
    if (word[0] == CLF__DEVERR_KV_RANGE)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_kv_append_rows: row %d at position %d does not fit the cache "
                          "(positions 0..%d); the row was not written",
                          word[2], word[1], word[3]);
    if (word[0] == CLF__DEVERR_KV_ROW)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_kv_append_at: row %d of src names cache row %d, outside [0, %d); "
                          "it was not written",
                          word[2], word[1], word[3]);
    return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "a kernel raised device error %d (%d, %d, %d)",
                      word[0], word[1], word[2], word[3]);
}

clf_status clf__scratch(clf_context *ctx, int slot, size_t bytes, cl_mem *out)
{
    if (bytes == 0) bytes = 4;
    if (ctx->scratch[slot] && ctx->scratch_size[slot] >= bytes) {
        *out = ctx->scratch[slot];
        return CLF_OK;
    }
    /* Grow by at least half again, so a slowly growing need reallocates
     * rarely. Releasing the old buffer is safe: OpenCL keeps it alive until
     * the commands already using it finish. */
    size_t want = bytes + bytes / 2;
    if (want > ctx->kprof.limits.max_alloc_bytes) want = bytes;
    if (want > ctx->kprof.limits.max_alloc_bytes)
        return clf__error(ctx, CLF_ERR_DEVICE_MEMORY,
                          "scratch of %zu bytes is more than the largest allocation (%llu)", bytes,
                          (unsigned long long)ctx->kprof.limits.max_alloc_bytes);
    cl_int err = CL_SUCCESS;
    cl_mem m = clf__cl_fault() ? (err = CL_MEM_OBJECT_ALLOCATION_FAILURE, NULL)
                               : clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, want, NULL, &err);
    if (err != CL_SUCCESS) {
        char what[64];
        snprintf(what, sizeof what, "scratch clCreateBuffer(%zu bytes)", want);
        return clf__cl_error(ctx, err, what);
    }
    if (ctx->scratch[slot]) clReleaseMemObject(ctx->scratch[slot]);
    ctx->scratch[slot] = m;
    ctx->scratch_size[slot] = want;
    *out = m;
    return CLF_OK;
}

void clf_context_scratch_bytes(const clf_context *ctx, size_t *bytes)
{
    size_t total = 0;
    for (int i = 0; ctx && i < CLF__SCRATCH_SLOTS; i++) total += ctx->scratch_size[i];
    *bytes = total;
}

long clf_context_blocking_calls(const clf_context *ctx) { return ctx ? ctx->blocking_calls : 0; }

void clf_context_memory(const clf_context *ctx, long *buffers, size_t *bytes, size_t *peak_bytes)
{
    if (buffers) *buffers = ctx ? ctx->live_buffers : 0;
    if (bytes) *bytes = ctx ? ctx->live_buffer_bytes : 0;
    if (peak_bytes) *peak_bytes = ctx ? ctx->peak_buffer_bytes : 0;
}
