/*
 * Buffers, tensor views and host transfers. Views are plain structs; every
 * view made here is checked against the size of its buffer, so a kernel that
 * honours a view's shape and strides cannot touch memory outside it.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "runtime/runtime.h"

size_t clf_dtype_size(clf_dtype dtype)
{
    switch (dtype) {
    case CLF_F32: return 4;
    case CLF_F16: return 2;
    case CLF_I32: return 4;
    case CLF_Q8: return 1;
    case CLF_Q4: return 1;
    }
    return 0;
}

const char *clf_dtype_name(clf_dtype dtype)
{
    switch (dtype) {
    case CLF_F32: return "f32";
    case CLF_F16: return "f16";
    case CLF_I32: return "i32";
    case CLF_Q8: return "q8";
    case CLF_Q4: return "q4";
    }
    return "unknown";
}

/* Host pages for a CPU device's large weights. Decoding streams every
 * weight once per token, so on a CPU it runs at memory bandwidth, and with
 * 4 KiB pages each page of a weight costs a TLB miss and a page walk.
 * Drivers allocate with posix_memalign, whose memory is neither aligned to
 * a huge page nor advised for one (transparent huge pages are "madvise"
 * on Debian), so a large buffer is mapped here instead: aligned to 2 MiB,
 * advised, and untouched until the driver's first write, which is when the
 * kernel backs it. Weights only: they are written whole once and read
 * every step, whereas a huge page of a KV cache or an arena that is used in
 * part is 2 MiB zeroed and resident for what 4 KiB pages would hold (the
 * model tests ran 17 % longer with every large buffer on huge pages).
 *
 * Off unless CLFORMER_HUGE_PAGES=1: GPT-2 small f32 greedy decode gains
 * 3.7-6.6 % (PoCL and Intel's CPU runtime; encoders and Q8 decode, bound by
 * arithmetic, do not move), but on a virtual machine that reports free
 * memory to its host, the first load after a pause costs 1.3-2.4 s more
 * for GPT-2 small's 500 MB (every huge page faults on the host; 4 KiB pages
 * come from memory still backed). That pays only in a process that
 * decodes for minutes (bench/results/2026-12-05d-epyc-pocl). */
#define CLF__HUGE_PAGE ((size_t)2 << 20)

typedef struct host_map {
    void *base; /* what mmap returned, and its length */
    size_t len;
} host_map;

static void CL_CALLBACK host_unmap(cl_mem mem, void *user)
{
    (void)mem;
    host_map *h = user;
    munmap(h->base, h->len);
    free(h); /* plain malloc: freed on a driver thread, outside the library's counts */
}

/* 2 MiB-aligned anonymous memory of `bytes`, or NULL; *h gets what to unmap. */
static void *host_map_create(size_t bytes, host_map *h)
{
    size_t len = bytes + CLF__HUGE_PAGE;
    if (len < bytes) return NULL;
    char *base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (base == MAP_FAILED) return NULL;
    char *p = (char *)(((uintptr_t)base + CLF__HUGE_PAGE - 1) & ~(uintptr_t)(CLF__HUGE_PAGE - 1));
    /* Return the unaligned head; the tail stays, inside len. */
    if (p > base) munmap(base, (size_t)(p - base));
    h->base = p;
    h->len = len - (size_t)(p - base);
#ifdef MADV_HUGEPAGE
    madvise(p, bytes, MADV_HUGEPAGE); /* advice: where it is refused, 4 KiB pages */
#endif
    return p;
}

/* A read-write cl_mem of `bytes`: a weight of 2 MiB or more on a host_pages
 * context is mapped here and handed over with CL_MEM_USE_HOST_PTR, unmapped
 * when the driver drops the buffer; anything else, or when that fails, is
 * the driver's own memory. Sets *err like clCreateBuffer. */
static cl_mem mem_create(clf_context *ctx, size_t bytes, bool weight, cl_int *err)
{
    if (weight && ctx->host_pages && bytes >= CLF__HUGE_PAGE) {
        host_map *h = malloc(sizeof *h);
        void *p = h ? host_map_create(bytes, h) : NULL;
        if (p) {
            cl_mem m = clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE | CL_MEM_USE_HOST_PTR, bytes, p, err);
            if (m && clSetMemObjectDestructorCallback(m, host_unmap, h) == CL_SUCCESS) return m;
            if (m) clReleaseMemObject(m); /* no callback: the driver is done with p now */
            munmap(h->base, h->len);
        }
        free(h); /* and the driver's own memory below */
    }
    return clCreateBuffer(ctx->cl, CL_MEM_READ_WRITE, bytes, NULL, err);
}

static clf_status buffer_create_body(clf_context *ctx, size_t bytes, bool weight,
                                     clf_buffer **out)
{
    if (!ctx || !out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_buffer_create: NULL argument");
    *out = NULL;
    if (bytes == 0) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_buffer_create: 0 bytes");
    if (bytes > ctx->kprof.limits.max_alloc_bytes)
        return clf__error(ctx, CLF_ERR_DEVICE_MEMORY,
                          "clf_buffer_create: %zu bytes is more than the largest allocation "
                          "\"%s\" allows (%llu bytes)",
                          bytes, ctx->info.name, (unsigned long long)ctx->kprof.limits.max_alloc_bytes);
    clf_buffer *buf = clf__calloc(1, sizeof *buf);
    if (!buf) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_buffer_create: out of memory");
    cl_int err = CL_SUCCESS;
    buf->mem = clf__cl_fault() ? (err = CL_MEM_OBJECT_ALLOCATION_FAILURE, NULL)
                               : mem_create(ctx, bytes, weight, &err);
    if (err != CL_SUCCESS) {
        clf__free(buf);
        char what[96];
        snprintf(what, sizeof what, "clCreateBuffer(%zu bytes)", bytes);
        return clf__cl_error(ctx, err, what);
    }
    buf->ctx = ctx;
    buf->size = bytes;
    ctx->live_buffers++;
    ctx->live_buffer_bytes += bytes;
    if (ctx->live_buffer_bytes > ctx->peak_buffer_bytes) ctx->peak_buffer_bytes = ctx->live_buffer_bytes;
    *out = buf;
    return CLF_OK;
}

clf_status clf_buffer_create(clf_context *ctx, size_t bytes, clf_buffer **out)
{
    CLF__GUARDED(ctx, "clf_buffer_create", buffer_create_body(ctx, bytes, false, out));
}

clf_status clf__buffer_create_weight(clf_context *ctx, size_t bytes, clf_buffer **out)
{
    CLF__GUARDED(ctx, "clf_buffer_create", buffer_create_body(ctx, bytes, true, out));
}

void clf_buffer_free(clf_buffer *buf)
{
    if (!buf) return;
    buf->ctx->live_buffers--;
    buf->ctx->live_buffer_bytes -= buf->size;
    clReleaseMemObject(buf->mem);
    clf__free(buf);
}

size_t clf_buffer_size(const clf_buffer *buf) { return buf ? buf->size : 0; }
clf_context *clf_buffer_context(const clf_buffer *buf) { return buf ? buf->ctx : NULL; }

int64_t clf_tensor_numel(const clf_tensor *t)
{
    if (!t || !t->buffer) return 0;
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}

size_t clf_tensor_bytes(const clf_tensor *t)
{
    if (t && t->dtype == CLF_Q4) return ((size_t)clf_tensor_numel(t) + 1) / 2;
    return (size_t)clf_tensor_numel(t) * (t ? clf_dtype_size(t->dtype) : 0);
}

bool clf_tensor_is_contiguous(const clf_tensor *t)
{
    if (!t) return false;
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return false;
        expect *= t->shape[i];
    }
    return true;
}

const char *clf_tensor_describe(const clf_tensor *t, char *buf, size_t size)
{
    if (!t || !t->buffer) {
        snprintf(buf, size, "(none)");
        return buf;
    }
    size_t used = (size_t)snprintf(buf, size, "%s[", clf_dtype_name(t->dtype));
    for (int i = 0; i < t->ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "",
                                 (long long)t->shape[i]);
    if (used < size) used += (size_t)snprintf(buf + used, size - used, "]");
    if (!clf_tensor_is_contiguous(t) && used < size) {
        used += (size_t)snprintf(buf + used, size - used, " strides [");
        for (int i = 0; i < t->ndim && used < size; i++)
            used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? "," : "",
                                     (long long)t->stride[i]);
        if (used < size) used += (size_t)snprintf(buf + used, size - used, "]");
    }
    if (t->offset && used < size) snprintf(buf + used, size - used, " +%lld", (long long)t->offset);
    return buf;
}

/* Checks shape, strides and offset against the buffer: every reachable
 * element must be inside it. */
static clf_status check_view(const clf_tensor *t, const char *op)
{
    clf_context *ctx = t->buffer ? t->buffer->ctx : NULL;
    if (t->ndim < 1 || t->ndim > CLF_MAX_DIMS)
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: %d dimensions (1..%d allowed)", op, t->ndim,
                          CLF_MAX_DIMS);
    size_t esize = clf_dtype_size(t->dtype);
    if (!esize) return clf__error(ctx, CLF_ERR_DTYPE, "%s: unknown dtype %d", op, (int)t->dtype);
    if (t->offset < 0) return clf__error(ctx, CLF_ERR_OUT_OF_RANGE, "%s: negative offset", op);
    int64_t last = t->offset;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] < 1 || t->shape[i] > ((int64_t)1 << 40))
            return clf__error(ctx, CLF_ERR_SHAPE, "%s: dimension %d has size %lld", op, i,
                              (long long)t->shape[i]);
        if (t->stride[i] < 0)
            return clf__error(ctx, CLF_ERR_SHAPE, "%s: negative stride in dimension %d", op, i);
        last += (t->shape[i] - 1) * t->stride[i];
    }
    if ((t->dtype == CLF_Q8 || t->dtype == CLF_Q4) && !t->buffer->q_cols)
        return clf__error(ctx, CLF_ERR_DTYPE,
                          "%s: a %s view needs a buffer made for it by clf_tensor_create", op,
                          clf_dtype_name(t->dtype));
    if ((uint64_t)(last + 1) > clf__buffer_elems(t->buffer, t->dtype)) {
        char d[160];
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "%s: view %s reaches element %lld, past the end of its %zu-byte buffer",
                          op, clf_tensor_describe(t, d, sizeof d), (long long)last, t->buffer->size);
    }
    return CLF_OK;
}

static void contiguous_strides(clf_tensor *t)
{
    int64_t s = 1;
    for (int i = CLF_MAX_DIMS - 1; i >= 0; i--) {
        if (i >= t->ndim) {
            t->shape[i] = 1;
            t->stride[i] = 1;
            continue;
        }
        t->stride[i] = s;
        s *= t->shape[i];
    }
}

static clf_status tensor_on_body(clf_buffer *buf, clf_dtype dtype, int ndim, const int64_t *shape,
                                 int64_t offset, clf_tensor *out)
{
    if (!buf || !shape || !out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tensor_on: NULL argument");
    if (ndim < 1 || ndim > CLF_MAX_DIMS)
        return clf__error(buf->ctx, CLF_ERR_SHAPE, "clf_tensor_on: %d dimensions", ndim);
    clf_tensor t = {buf, dtype, ndim, {1, 1, 1, 1}, {1, 1, 1, 1}, offset};
    for (int i = 0; i < ndim; i++) t.shape[i] = shape[i];
    contiguous_strides(&t);
    CLF_TRY(check_view(&t, "clf_tensor_on"));
    *out = t;
    return CLF_OK;
}

clf_status clf_tensor_on(clf_buffer *buf, clf_dtype dtype, int ndim, const int64_t *shape,
                         int64_t offset, clf_tensor *out)
{
    CLF__GUARDED(buf ? buf->ctx : NULL, "clf_tensor_on",
                 tensor_on_body(buf, dtype, ndim, shape, offset, out));
}

static clf_status tensor_create_body(clf_context *ctx, clf_dtype dtype, int ndim,
                                     const int64_t *shape, bool weight, clf_tensor *out)
{
    if (!ctx || !shape || !out)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_create: NULL argument");
    memset(out, 0, sizeof *out);
    if (ndim < 1 || ndim > CLF_MAX_DIMS)
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_create: %d dimensions (1..%d)", ndim,
                          CLF_MAX_DIMS);
    size_t esize = clf_dtype_size(dtype);
    if (!esize) return clf__error(ctx, CLF_ERR_DTYPE, "clf_tensor_create: unknown dtype %d", (int)dtype);
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1 || shape[i] > ((int64_t)1 << 40))
            return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_create: dimension %d has size %lld",
                              i, (long long)shape[i]);
        n *= shape[i];
        if (n > ((int64_t)1 << 40))
            return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_create: too many elements");
    }
    clf_buffer *buf;
    size_t bytes = (size_t)n * esize;
    int64_t cols = shape[ndim - 1], rows = n / cols;
    /* Quantised: codes, padding to 64 bytes, scales (tensor.h "Q8", "Q4"). */
    size_t code_bytes = dtype == CLF_Q4 ? (size_t)(rows * clf_q4_groups(cols) * 16) : (size_t)n;
    size_t n_scales = dtype == CLF_Q4 ? (size_t)(rows * clf_q4_groups(cols)) : (size_t)rows;
    bool quant = dtype == CLF_Q8 || dtype == CLF_Q4;
    if (quant) bytes = clf_q8_scale_offset((int64_t)code_bytes) + n_scales * 4;
    CLF_TRY(buffer_create_body(ctx, bytes, weight, &buf));
    if (quant) {
        buf->q_rows = rows;
        buf->q_cols = cols;
        buf->q_scales = clf_q8_scale_offset((int64_t)code_bytes);
    }
    clf_status st = clf_tensor_on(buf, dtype, ndim, shape, 0, out);
    if (st != CLF_OK) clf_buffer_free(buf);
    return st;
}

clf_status clf_tensor_create(clf_context *ctx, clf_dtype dtype, int ndim, const int64_t *shape,
                             clf_tensor *out)
{
    CLF__GUARDED(ctx, "clf_tensor_create", tensor_create_body(ctx, dtype, ndim, shape, false, out));
}

clf_status clf__tensor_create_weight(clf_context *ctx, clf_dtype dtype, int ndim,
                                     const int64_t *shape, clf_tensor *out)
{
    CLF__GUARDED(ctx, "clf_tensor_create", tensor_create_body(ctx, dtype, ndim, shape, true, out));
}

void clf_tensor_free(clf_tensor *t)
{
    if (!t) return;
    clf_buffer_free(t->buffer);
    memset(t, 0, sizeof *t);
}

static clf_status tensor_view_body(const clf_tensor *t, int ndim, const int64_t *shape,
                                   const int64_t *stride, int64_t offset, clf_tensor *out)
{
    if (!t || !t->buffer || !shape || !stride || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tensor_view: NULL argument");
    if (ndim < 1 || ndim > CLF_MAX_DIMS)
        return clf__error(t->buffer->ctx, CLF_ERR_SHAPE, "clf_tensor_view: %d dimensions", ndim);
    clf_tensor v = {t->buffer, t->dtype, ndim, {1, 1, 1, 1}, {1, 1, 1, 1}, offset};
    for (int i = 0; i < ndim; i++) {
        v.shape[i] = shape[i];
        v.stride[i] = stride[i];
    }
    CLF_TRY(check_view(&v, "clf_tensor_view"));
    *out = v;
    return CLF_OK;
}

clf_status clf_tensor_view(const clf_tensor *t, int ndim, const int64_t *shape,
                           const int64_t *stride, int64_t offset, clf_tensor *out)
{
    CLF__GUARDED(t && t->buffer ? t->buffer->ctx : NULL, "clf_tensor_view",
                 tensor_view_body(t, ndim, shape, stride, offset, out));
}

clf_status clf__tensor_slice(clf_context *err_ctx, const clf_tensor *t, int dim, int64_t start,
                             int64_t len, clf_tensor *out)
{
    if (!t || !t->buffer || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tensor_slice: NULL argument");
    if (dim < 0 || dim >= t->ndim || start < 0 || len < 1 || start + len > t->shape[dim]) {
        char d[160];
        return clf__error(err_ctx, CLF_ERR_OUT_OF_RANGE,
                          "clf_tensor_slice: [%lld, %lld) of dimension %d is outside %s",
                          (long long)start, (long long)(start + len), dim,
                          clf_tensor_describe(t, d, sizeof d));
    }
    clf_tensor v = *t;
    v.shape[dim] = len;
    v.offset += start * t->stride[dim];
    *out = v;
    return CLF_OK;
}

clf_status clf_tensor_slice(const clf_tensor *t, int dim, int64_t start, int64_t len,
                            clf_tensor *out)
{
    CLF__GUARDED(t && t->buffer ? t->buffer->ctx : NULL, "clf_tensor_slice",
                 clf__tensor_slice(t && t->buffer ? t->buffer->ctx : NULL, t, dim, start, len,
                                   out));
}

static clf_status tensor_reshape_body(const clf_tensor *t, int ndim, const int64_t *shape,
                                      clf_tensor *out)
{
    if (!t || !t->buffer || !shape || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tensor_reshape: NULL argument");
    clf_context *ctx = t->buffer->ctx;
    char d[160];
    if (!clf_tensor_is_contiguous(t))
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_tensor_reshape: %s is not contiguous (copy it first)",
                          clf_tensor_describe(t, d, sizeof d));
    if (ndim < 1 || ndim > CLF_MAX_DIMS)
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_reshape: %d dimensions", ndim);
    int64_t known = 1, numel = clf_tensor_numel(t);
    int infer = -1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] == -1 && infer < 0) infer = i;
        else if (shape[i] < 1)
            return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_reshape: bad size %lld",
                              (long long)shape[i]);
        else known *= shape[i];
    }
    clf_tensor v = {t->buffer, t->dtype, ndim, {1, 1, 1, 1}, {1, 1, 1, 1}, t->offset};
    for (int i = 0; i < ndim; i++) v.shape[i] = shape[i];
    if (infer >= 0) v.shape[infer] = known ? numel / known : 0;
    if (clf_tensor_numel(&v) != numel)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_tensor_reshape: %s has %lld elements, the new shape %lld",
                          clf_tensor_describe(t, d, sizeof d), (long long)numel,
                          (long long)clf_tensor_numel(&v));
    contiguous_strides(&v);
    *out = v;
    return CLF_OK;
}

clf_status clf_tensor_reshape(const clf_tensor *t, int ndim, const int64_t *shape, clf_tensor *out)
{
    CLF__GUARDED(t && t->buffer ? t->buffer->ctx : NULL, "clf_tensor_reshape",
                 tensor_reshape_body(t, ndim, shape, out));
}

static clf_status tensor_permute_body(const clf_tensor *t, const int *perm, clf_tensor *out)
{
    if (!t || !t->buffer || !perm || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tensor_permute: NULL argument");
    int seen = 0;
    clf_tensor v = *t;
    for (int i = 0; i < t->ndim; i++) {
        if (perm[i] < 0 || perm[i] >= t->ndim || (seen & (1 << perm[i])))
            return clf__error(t->buffer->ctx, CLF_ERR_INVALID_ARG,
                              "clf_tensor_permute: not a permutation of %d dimensions", t->ndim);
        seen |= 1 << perm[i];
        v.shape[i] = t->shape[perm[i]];
        v.stride[i] = t->stride[perm[i]];
    }
    *out = v;
    return CLF_OK;
}

clf_status clf_tensor_permute(const clf_tensor *t, const int *perm, clf_tensor *out)
{
    CLF__GUARDED(t && t->buffer ? t->buffer->ctx : NULL, "clf_tensor_permute",
                 tensor_permute_body(t, perm, out));
}

/* ---- transfers ---- */

static clf_status check_transfer(clf_context *ctx, const clf_tensor *t, size_t bytes,
                                 const void *host, const char *op)
{
    if (!ctx || !t || !t->buffer || !host)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL argument", op);
    if (!clf__same_root(t->buffer->ctx, ctx))
        return clf__error(ctx, CLF_ERR_CONTEXT, "%s: the tensor belongs to another context", op);
    CLF_TRY(check_view(t, op));
    char d[160];
    if (!clf_tensor_is_contiguous(t))
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: %s is not contiguous (clf_copy it into a contiguous tensor)", op,
                          clf_tensor_describe(t, d, sizeof d));
    if (bytes != clf_tensor_bytes(t))
        return clf__error(ctx, CLF_ERR_SHAPE, "%s: %zu bytes given for %s (%zu bytes)", op, bytes,
                          clf_tensor_describe(t, d, sizeof d), clf_tensor_bytes(t));
    return CLF_OK;
}

static clf_status tensor_write_body(clf_context *ctx, clf_tensor *t, const void *host, size_t bytes,
                                    bool blocking)
{
    CLF_TRY(check_transfer(ctx, t, bytes, host, "clf_tensor_write"));
    size_t off = (size_t)t->offset * clf_dtype_size(t->dtype);
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueWriteBuffer(ctx->queue, t->buffer->mem,
                                                        blocking ? CL_TRUE : CL_FALSE, off, bytes,
                                                        host, 0, NULL, NULL);
    return err == CL_SUCCESS ? CLF_OK : clf__cl_error(ctx, err, "clf_tensor_write");
}

clf_status clf_tensor_write(clf_context *ctx, clf_tensor *t, const void *host, size_t bytes,
                            bool blocking)
{
    CLF__GUARDED(ctx, "clf_tensor_write", tensor_write_body(ctx, t, host, bytes, blocking));
}

/* The checked read of t into host (op names it in errors); ev: its event, or NULL. */
static clf_status read_enqueue(clf_context *ctx, const clf_tensor *t, void *host, size_t bytes,
                               bool blocking, cl_event *ev, const char *op)
{
    CLF_TRY(check_transfer(ctx, t, bytes, host, op));
    size_t off = (size_t)t->offset * clf_dtype_size(t->dtype);
    cl_int err = clf__cl_fault() ? CL_OUT_OF_RESOURCES
                                 : clEnqueueReadBuffer(ctx->queue, t->buffer->mem,
                                                       blocking ? CL_TRUE : CL_FALSE, off, bytes,
                                                       host, 0, NULL, ev);
    return err == CL_SUCCESS ? CLF_OK : clf__cl_error(ctx, err, op);
}

static clf_status tensor_read_body(clf_context *ctx, const clf_tensor *t, void *host, size_t bytes,
                                   bool blocking)
{
    CLF_TRY(read_enqueue(ctx, t, host, bytes, blocking, NULL, "clf_tensor_read"));
    ctx->blocking_calls += blocking;
    return blocking ? clf__device_error_check(ctx) : CLF_OK;
}

clf_status clf__tensor_read_start(clf_context *ctx, const clf_tensor *t, void *host, size_t bytes,
                                  cl_event *ev)
{
    *ev = NULL;
    return read_enqueue(ctx, t, host, bytes, false, ev, "reading a tensor");
}

clf_status clf__event_wait(clf_context *ctx, cl_event *ev)
{
    if (!*ev) return CLF_OK;
    cl_int err = clWaitForEvents(1, ev), run = CL_COMPLETE;
    if (err == CL_SUCCESS)
        err = clGetEventInfo(*ev, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof run, &run, NULL);
    clReleaseEvent(*ev);
    *ev = NULL;
    ctx->blocking_calls++;
    if (err == CL_SUCCESS && run < 0) err = run;
    return err == CL_SUCCESS ? CLF_OK : clf__cl_error(ctx, err, "waiting for a read");
}

clf_status clf_tensor_read(clf_context *ctx, const clf_tensor *t, void *host, size_t bytes,
                           bool blocking)
{
    CLF__GUARDED(ctx, "clf_tensor_read", tensor_read_body(ctx, t, host, bytes, blocking));
}

static clf_status tensor_write_f32_body(clf_context *ctx, clf_tensor *t, const float *host,
                                        int64_t n)
{
    if (!t || !host || n != clf_tensor_numel(t))
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_write_f32: %lld values for %lld elements",
                          (long long)n, (long long)clf_tensor_numel(t));
    if (t->dtype == CLF_F32) return clf_tensor_write(ctx, t, host, (size_t)n * 4, true);
    if (t->dtype == CLF_Q8) return clf__q8_write_f32(ctx, t, host);
    if (t->dtype == CLF_Q4) return clf__q4_write_f32(ctx, t, host);
    size_t bytes = clf_tensor_bytes(t);
    void *tmp = clf__malloc(bytes);
    if (!tmp) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_write_f32: out of memory");
    if (t->dtype == CLF_F16) {
        clf_f32_to_f16(host, tmp, (size_t)n);
    } else {
        /* Saturate: a NaN or out-of-range float has no int32 value. */
        int32_t *d = tmp;
        for (int64_t i = 0; i < n; i++) {
            float v = host[i];
            d[i] = v != v ? 0 : v >= 2147483520.0f ? INT32_MAX : v <= -2147483648.0f ? INT32_MIN : (int32_t)v;
        }
    }
    clf_status st = clf_tensor_write(ctx, t, tmp, bytes, true);
    clf__free(tmp);
    return st;
}

clf_status clf_tensor_write_f32(clf_context *ctx, clf_tensor *t, const float *host, int64_t n)
{
    CLF__GUARDED(ctx, "clf_tensor_write_f32", tensor_write_f32_body(ctx, t, host, n));
}

static clf_status tensor_read_f32_body(clf_context *ctx, const clf_tensor *t, float *host,
                                       int64_t n)
{
    if (!t || !host || n != clf_tensor_numel(t))
        return clf__error(ctx, CLF_ERR_SHAPE, "clf_tensor_read_f32: %lld values for %lld elements",
                          (long long)n, (long long)clf_tensor_numel(t));
    if (t->dtype == CLF_F32) return clf_tensor_read(ctx, t, host, (size_t)n * 4, true);
    if (t->dtype == CLF_Q8) return clf__q8_read_f32(ctx, t, host);
    if (t->dtype == CLF_Q4) return clf__q4_read_f32(ctx, t, host);
    size_t bytes = clf_tensor_bytes(t);
    void *tmp = clf__malloc(bytes);
    if (!tmp) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_tensor_read_f32: out of memory");
    clf_status st = clf_tensor_read(ctx, t, tmp, bytes, true);
    if (st == CLF_OK) {
        if (t->dtype == CLF_F16) {
            clf_f16_to_f32(tmp, host, (size_t)n);
        } else {
            const int32_t *s = tmp;
            for (int64_t i = 0; i < n; i++) host[i] = (float)s[i];
        }
    }
    clf__free(tmp);
    return st;
}

clf_status clf_tensor_read_f32(clf_context *ctx, const clf_tensor *t, float *host, int64_t n)
{
    CLF__GUARDED(ctx, "clf_tensor_read_f32", tensor_read_f32_body(ctx, t, host, n));
}

/* ---- f16 conversion on the host ---- */

static uint16_t f32_to_f16_one(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u;
    uint32_t exp = (x >> 23) & 0xffu;
    uint32_t man = x & 0x7fffffu;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00u | (man ? 0x200u : 0)); /* inf / NaN */
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow to inf */
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign; /* underflow to zero */
        man |= 0x800000u;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (half & 1))) half++; /* may carry into exp: fine */
    return (uint16_t)half;
}

static float f16_to_f32_one(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu, x;
    if (exp == 0) {
        if (man == 0) {
            x = sign;
        } else { /* subnormal: normalise */
            int e = -1;
            do {
                e++;
                man <<= 1;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(127 - 15 - e) << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        x = sign | 0x7f800000u | (man << 13);
    } else {
        x = sign | ((exp - 15 + 127) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &x, 4);
    return f;
}

void clf_f32_to_f16(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = f32_to_f16_one(in[i]);
}

void clf_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = f16_to_f32_one(in[i]);
}

static clf_status tensor_fill_body(clf_context *ctx, clf_tensor *t, float value)
{
    if (!ctx || !t || !t->buffer)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_fill: NULL argument");
    if (!clf__same_root(t->buffer->ctx, ctx))
        return clf__error(ctx, CLF_ERR_CONTEXT, "clf_tensor_fill: the tensor belongs to another context");
    CLF_TRY(check_view(t, "clf_tensor_fill"));
    if (t->dtype == CLF_Q8 || t->dtype == CLF_Q4)
        return clf__error(ctx, CLF_ERR_DTYPE, "clf_tensor_fill: %s tensors take no fill "
                                              "(clf_tensor_write_f32 quantises)",
                          clf_dtype_name(t->dtype));
    static const char *names[] = {"fill_f32", "fill_f16", "fill_i32"};
    const char *name = names[t->dtype];
    cl_kernel k;
    CLF_TRY(clf__kernel_get(ctx, "tensor", NULL, name, &k));
    cl_ulong off = (cl_ulong)t->offset;
    cl_int n[4];
    cl_long s[4];
    for (int i = 0; i < 4; i++) {
        n[i] = i < t->ndim ? (cl_int)t->shape[i] : 1;
        s[i] = i < t->ndim ? (cl_long)t->stride[i] : 0;
    }
    cl_int err = clSetKernelArg(k, 0, sizeof(cl_mem), &t->buffer->mem);
    err |= clSetKernelArg(k, 1, sizeof off, &off);
    for (int i = 0; i < 4; i++) err |= clSetKernelArg(k, (cl_uint)(2 + i), sizeof n[i], &n[i]);
    for (int i = 0; i < 4; i++) err |= clSetKernelArg(k, (cl_uint)(6 + i), sizeof s[i], &s[i]);
    err |= clSetKernelArg(k, 10, sizeof value, &value);
    if (err != CL_SUCCESS) return clf__error(ctx, CLF_ERR_OPENCL, "clf_tensor_fill: clSetKernelArg failed");
    size_t local = clf__wg_fit(ctx, k, 64);
    size_t global = ((size_t)clf_tensor_numel(t) + local - 1) / local * local;
    return clf__launch(ctx, k, name, 1, &global, &local);
}

clf_status clf_tensor_fill(clf_context *ctx, clf_tensor *t, float value)
{
    CLF__GUARDED(ctx, "clf_tensor_fill", tensor_fill_body(ctx, t, value));
}

static clf_status tensor_fill_uniform_body(clf_context *ctx, clf_tensor *t, uint64_t seed, float lo,
                                           float hi)
{
    if (!ctx || !t || !t->buffer)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_fill_uniform: NULL argument");
    if (!clf__same_root(t->buffer->ctx, ctx))
        return clf__error(ctx, CLF_ERR_CONTEXT,
                          "clf_tensor_fill_uniform: the tensor belongs to another context");
    CLF_TRY(check_view(t, "clf_tensor_fill_uniform"));
    if (t->dtype != CLF_F32 && t->dtype != CLF_F16)
        return clf__error(ctx, CLF_ERR_DTYPE, "clf_tensor_fill_uniform: %s tensor (f32 or f16 only)",
                          clf_dtype_name(t->dtype));
    if (!(lo <= hi) || !isfinite(lo) || !isfinite(hi))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_tensor_fill_uniform: bad range [%g, %g)",
                          (double)lo, (double)hi);
    bool dense = clf_tensor_is_contiguous(t);
    static const char *names[2][2] = {{"fill_uniform_f32", "fill_uniform_f16"},
                                      {"fill_uniform_f32_dense", "fill_uniform_f16_dense"}};
    const char *name = names[dense][t->dtype == CLF_F16];
    cl_kernel k;
    CLF_TRY(clf__kernel_get(ctx, "tensor", NULL, name, &k));
    cl_ulong off = (cl_ulong)t->offset, useed = (cl_ulong)seed, n = (cl_ulong)clf_tensor_numel(t);
    float span = hi - lo;
    cl_int err = clSetKernelArg(k, 0, sizeof(cl_mem), &t->buffer->mem);
    err |= clSetKernelArg(k, 1, sizeof off, &off);
    cl_uint a = 2;
    if (dense) {
        err |= clSetKernelArg(k, a++, sizeof n, &n);
    } else {
        for (int i = 0; i < 4; i++) {
            cl_int d = i < t->ndim ? (cl_int)t->shape[i] : 1;
            err |= clSetKernelArg(k, a++, sizeof d, &d);
        }
        for (int i = 0; i < 4; i++) {
            cl_long st = i < t->ndim ? (cl_long)t->stride[i] : 0;
            err |= clSetKernelArg(k, a++, sizeof st, &st);
        }
    }
    err |= clSetKernelArg(k, a++, sizeof useed, &useed);
    err |= clSetKernelArg(k, a++, sizeof lo, &lo);
    err |= clSetKernelArg(k, a++, sizeof span, &span);
    if (err != CL_SUCCESS)
        return clf__error(ctx, CLF_ERR_OPENCL, "clf_tensor_fill_uniform: clSetKernelArg failed");
    size_t local = clf__wg_fit(ctx, k, 64), global = ((size_t)n + local - 1) / local * local;
    return clf__launch(ctx, k, name, 1, &global, &local);
}

clf_status clf_tensor_fill_uniform(clf_context *ctx, clf_tensor *t, uint64_t seed, float lo,
                                   float hi)
{
    CLF__GUARDED(ctx, "clf_tensor_fill_uniform", tensor_fill_uniform_body(ctx, t, seed, lo, hi));
}
