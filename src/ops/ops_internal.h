/*
 * What every op file shares: argument checks that name the op and the
 * shapes, kernel argument setting, and the build option for a storage dtype.
 */
#ifndef CLF_OPS_INTERNAL_H
#define CLF_OPS_INTERNAL_H

#include "runtime/runtime.h"
#include <clformer/ops.h>

/* What the ops keep per context, opaque to the runtime (which frees it with
 * the context): the GEMM provider chosen per shape class. */
typedef struct clf__ops_state {
    signed char gemm_choice[4];   /* per GEMM shape class: 0 unknown, else a clf_gemm_provider */
    double gemm_choice_s[4][2];   /* measured medians (builtin, clblast), 0 = not measured */
} clf__ops_state;

/* The context's ops state, made (zeroed) on first use. */
clf_status clf__ops_state_get(clf_context *ctx, clf__ops_state **out);

/* The ops' scratch slots (clf__scratch): one reusable device buffer each. */
enum {
    CLF__SCRATCH_GEMM = 0,
    CLF__SCRATCH_ATTENTION = 1,
    CLF__SCRATCH_TOPK = 2,
    CLF__SCRATCH_I8 = 3,
    CLF__SCRATCH_GEMV_NORM = 4,
};

#define CLF__DT(d) (1u << (d))
#define CLF__DT_FLOAT (CLF__DT(CLF_F32) | CLF__DT(CLF_F16))
/* In a dtype mask: the argument may be a packed GEMM weight (clf_gemm_pack_b);
 * without it clf__check_arg refuses one, whose elements are not where its
 * shape and strides say. */
#define CLF__PACKED_OK (1u << 30)

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

/* Same rank and sizes. */
int clf__same_shape(const clf_tensor *a, const clf_tensor *b);

/* Same buffer, dtype, offset, shape, and strides wherever the size is not 1:
 * the same elements in the same order, which in-place ops accept. */
int clf__same_view(const clf_tensor *a, const clf_tensor *b);

/* out (written by op) against in (may be NULL): disjoint, or, when
 * allow_same, the same view. The message names op and both tensors. */
clf_status clf__check_alias(clf_context *ctx, const char *op, const char *oname,
                            const clf_tensor *out, const char *iname, const clf_tensor *in,
                            int allow_same);

/* Shape and strides of t aligned to the innermost of 4 dimensions; missing
 * leading dimensions have size 1 and stride 0. */
void clf__as4(const clf_tensor *t, int64_t shape[4], cl_long4 *stride);

/* Work-group size for a work-group row kernel over rows of `cols`: the next
 * power of two within the profile's [row_wg_min, row_wg_max], then fitted to
 * the kernel (a power of two: the reductions are halving trees). */
size_t clf__row_local_size(clf_context *ctx, cl_kernel k, int64_t cols);

/* The device's compute units, at least 1 (a driver may report 0). */
size_t clf__compute_units(const clf_context *ctx);

/* Work-group size of a kernel with a work-item per row: up to the
 * profile's rows_wg rows (16 untuned),
 * fewer when the rows could not otherwise give every compute unit
 * groups_per_cu groups; fitted to kernel k. */
size_t clf__rows_local_size(clf_context *ctx, cl_kernel k, int64_t rows, int groups_per_cu);

/* A kernel whose work-group size is fixed at build time: CLF_ERR_UNSUPPORTED
 * naming the kernel and the limits when items exceed what k may run. */
clf_status clf__check_group(clf_context *ctx, cl_kernel k, const char *name, size_t items);

/* The round-up of x to a multiple of m. */
static inline size_t clf__round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }

#endif
