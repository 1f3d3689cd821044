/*
 * What every op file shares: argument checks that name the op and the
 * shapes, kernel argument setting, and the build option for a storage dtype.
 */
#ifndef CLF_OPS_INTERNAL_H
#define CLF_OPS_INTERNAL_H

#include "runtime/runtime.h"

#define CLF__DT(d) (1u << (d))
#define CLF__DT_FLOAT (CLF__DT(CLF_F32) | CLF__DT(CLF_F16))

/* Checks one tensor argument of op: not NULL, belongs to ctx, a valid view
 * of its buffer, dtype in dtype_mask, min_ndim <= ndim <= max_ndim. The
 * message names op and arg ("clf_gemm: b is i32[3,4]; expected f32 or f16"). */
clf_status clf__check_arg(clf_context *ctx, const char *op, const char *arg, const clf_tensor *t,
                          unsigned dtype_mask, int min_ndim, int max_ndim);

/* "f32[2,3]": clf_tensor_describe into a caller buffer of 160 bytes. */
const char *clf__desc(const clf_tensor *t, char buf[160]);

/* True when both views share a buffer and the byte spans they reach overlap. */
int clf__overlap(const clf_tensor *a, const clf_tensor *b);

typedef struct clf__karg {
    size_t size;
    const void *value; /* NULL with size > 0 = local memory of that size */
} clf__karg;

#define CLF_KARG(v) ((clf__karg){sizeof(v), &(v)})
#define CLF_KMEM(t) ((clf__karg){sizeof(cl_mem), &(t)->buffer->mem})
#define CLF_KLOCAL(bytes) ((clf__karg){(bytes), NULL})

/* Sets args[0..n) on kernel k; an OpenCL error names the kernel and index. */
clf_status clf__set_args(clf_context *ctx, cl_kernel k, const char *name, const clf__karg *args,
                         size_t n);

/* The round-up of x to a multiple of m. */
static inline size_t clf__round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

#endif
