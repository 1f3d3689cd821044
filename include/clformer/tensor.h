/*
 * clformer tensors: device buffers and the views on them.
 *
 * A clf_buffer is one device allocation owned by a context. A clf_tensor is a
 * plain struct that describes a view of a buffer: dtype, up to 4 dimensions
 * (outermost first, innermost last), element strides and an element offset.
 * Views are free: slicing, reshaping and permuting make a new struct and
 * allocate nothing. A view is valid while its buffer lives.
 *
 * Storage dtypes: f32; f16 on every device (kernels read and write it with
 * vload_half/vstore_half, core OpenCL 1.2, and compute in f32; half
 * arithmetic is a fast path only where cl_khr_fp16 exists); i32 for token ids
 * and indices; q8 for quantised weight matrices (below).
 *
 * Q8 (CLF_Q8): symmetric int8 with one f32 scale per row, the row being the
 * innermost dimension (for a Linear weight (out, in) a row is one output
 * channel). Element (r, c) stands for codes[r][c] * scale[r]. A Q8 tensor is
 * made by clf_tensor_create() only: its buffer holds, from byte 0, the
 * rows x cols int8 codes row-major, then, from the byte offset
 * clf_q8_scale_offset(rows * cols) (rows * cols rounded up to a multiple of
 * 64), the rows f32 scales. Kernels read the codes as char vectors (core
 * OpenCL 1.2) and the scales as floats from the same buffer, so a Q8 tensor is
 * one allocation and one cl_mem. The tensor's shape, strides and offset count
 * codes (1 byte each); a view keeps the buffer's scales: the scale of the
 * code at element offset e is scale[e / cols], cols being the innermost size
 * of the tensor the buffer was made for. clf_tensor_bytes() counts the codes
 * only; clf_buffer_size() includes the scales.
 * Quantisation (clf_quantize_q8): scale[r] = max_c |w[r][c]| / 127 (0 for
 * an all-zero row, whose codes are then 0), codes[r][c] = w[r][c] / scale[r]
 * in f32 rounded to nearest, ties to even, within [-127, 127]: deterministic
 * on every machine with IEEE binary32 arithmetic. Q8 tensors take no fill
 * and are read by clf_gemm as the B operand of y = x B^T only (trans_b).
 *
 * Q4 (CLF_Q4): symmetric 4-bit codes in groups of 32 along the row (the
 * innermost dimension, K of a Linear weight (out, in)), one f32 scale per
 * group. A row of cols elements has G = ceil(cols / 32) groups; the last one
 * is shorter when cols is not a multiple of 32 (its scale is taken over its
 * real elements; its missing codes are stored as 0 and never read as
 * weights). Element (r, c) stands for code * scale[r * G + c / 32]. The
 * buffer holds, from byte 0, 16 bytes per group, groups in row-major order
 * (group g of row r at byte (r * G + g) * 16); within a group, byte j holds
 * the code of element j in its low nibble and that of element j + 16 in its
 * high nibble (so 4, 8 or 16 consecutive codes are the same nibble of
 * consecutive bytes: one uchar vector load, a shift and a mask), each nibble
 * being code + 8 (codes -8..7 are nibbles 0..15). From the byte offset clf_q8_scale_offset(rows * G * 16) (the
 * code bytes rounded up to 64) come the rows * G f32 scales in the same
 * order. The tensor's shape, strides and offset count logical elements, as
 * for an f32 (rows, cols) matrix; a view is whole rows (offset a multiple of
 * cols) for clf_gemm. clf_tensor_bytes() counts half a byte per element,
 * rounded up; clf_buffer_size() includes the padding and the scales.
 * Quantisation (clf_quantize_q4), per group: the (codes, scale) pair of
 * least squared error among 13 candidates: the plain max |w| / 7 scale, and
 * the scales that map the group's largest-magnitude value m (the first, on
 * ties) to c in +-{6.5, 7, 7.5, 8, 8.5, 9} (scale m / c: negative when m and
 * c differ in sign, so m may land on code -8 and all 16 levels are used, the
 * idea of llama.cpp's Q4_0). For each candidate the codes are w / scale in
 * f32 rounded to nearest, ties to even, within [-8, 7], and the stored scale
 * is then the least-squares one for those codes, sum(w q) / sum(q q) (f64
 * sums, rounded to f32). Never worse than the plain max / 7 rule, group by
 * group; 0 and all codes 0 for an all-zero group; zero stays exact;
 * deterministic (fixed order, ties to the earlier candidate) on every machine
 * with IEEE binary32 and binary64 arithmetic. docs/quantisation.md gives the
 * reasons and figures. Q4 tensors take no fill and are read by clf_gemm as
 * the B operand of y = x B^T only.
 *
 * Threads: a buffer, and every tensor on it, belongs to the buffer's context
 * and is used by the thread that uses that context (context.h, "Threads";
 * calls from another thread while one is inside are CLF_ERR_BUSY). The
 * functions that take no buffer or context (clf_dtype_size, clf_dtype_name,
 * clf_f32_to_f16, clf_f16_to_f32) and the pure readers of a tensor struct
 * (clf_tensor_numel, clf_tensor_bytes, clf_tensor_is_contiguous,
 * clf_tensor_describe) may be called from any thread.
 */
#ifndef CLFORMER_TENSOR_H
#define CLFORMER_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "context.h"
#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CLF_MAX_DIMS 4

typedef enum clf_dtype {
    CLF_F32 = 0, /* 4 bytes */
    CLF_F16 = 1, /* 2 bytes, IEEE binary16 storage */
    CLF_I32 = 2, /* 4 bytes */
    CLF_Q8 = 3,  /* 1 byte per code, plus one f32 scale per row (see "Q8" above) */
    CLF_Q4 = 4,  /* half a byte per code, plus one f32 scale per 32 (see "Q4" above) */
} clf_dtype;

typedef struct clf_buffer clf_buffer; /* opaque device allocation */

typedef struct clf_tensor {
    clf_buffer *buffer;            /* storage; NULL = no tensor */
    clf_dtype dtype;
    int ndim;                      /* 1..CLF_MAX_DIMS */
    int64_t shape[CLF_MAX_DIMS];   /* sizes, outermost first; entries >= ndim are 1 */
    int64_t stride[CLF_MAX_DIMS];  /* in elements; entries >= ndim are 1 */
    int64_t offset;                /* in elements, from the start of the buffer */
} clf_tensor;

/* Bytes per element of dtype (4, 2, 4, 1: a Q8 code, scales not counted;
 * Q4: 1, the unit of its offsets, though its codes take half a byte: see
 * "Q4"); 0 for an unknown value. */
CLF_API size_t clf_dtype_size(clf_dtype dtype);
CLF_API const char *clf_dtype_name(clf_dtype dtype); /* "f32", "f16", "i32", "q8", "q4" */

/* ---- buffers ---- */

/* Allocates `bytes` of device memory. Out of device memory is
 * CLF_ERR_DEVICE_MEMORY; more than the device's largest allocation is
 * CLF_ERR_DEVICE_MEMORY with both sizes in the message. */
CLF_API clf_status clf_buffer_create(clf_context *ctx, size_t bytes, clf_buffer **out);
CLF_API void clf_buffer_free(clf_buffer *buf); /* NULL is a no-op */
CLF_API size_t clf_buffer_size(const clf_buffer *buf);
CLF_API clf_context *clf_buffer_context(const clf_buffer *buf);

/* ---- tensors ---- */

/* A contiguous view of a whole buffer. shape[0..ndim-1] each >= 1. */
CLF_API clf_status clf_tensor_on(clf_buffer *buf, clf_dtype dtype, int ndim,
                                 const int64_t *shape, int64_t offset, clf_tensor *out);

/* Allocates a buffer of the right size and returns a contiguous tensor over
 * it; free it with clf_tensor_free(). The dtype must be usable on the device. */
CLF_API clf_status clf_tensor_create(clf_context *ctx, clf_dtype dtype, int ndim,
                                     const int64_t *shape, clf_tensor *out);

/* Frees the buffer of a tensor made by clf_tensor_create() and zeroes *t.
 * Call it once per created tensor, never on a view. NULL is a no-op. */
CLF_API void clf_tensor_free(clf_tensor *t);

CLF_API int64_t clf_tensor_numel(const clf_tensor *t);
CLF_API size_t clf_tensor_bytes(const clf_tensor *t); /* numel x element size */
/* True when the elements are dense in row-major order (strides from shape). */
CLF_API bool clf_tensor_is_contiguous(const clf_tensor *t);
/* "f32[2,128,768] strides [98304,768,1] +0": for error messages and logs. */
CLF_API const char *clf_tensor_describe(const clf_tensor *t, char *buf, size_t size);

/* ---- views (no allocation, checked against the buffer's size) ---- */

/* Any view of t's buffer: new ndim, shape, strides and offset. Every element
 * reachable must lie inside the buffer, else CLF_ERR_OUT_OF_RANGE. */
CLF_API clf_status clf_tensor_view(const clf_tensor *t, int ndim, const int64_t *shape,
                                   const int64_t *stride, int64_t offset, clf_tensor *out);
/* Elements [start, start+len) along dim. */
CLF_API clf_status clf_tensor_slice(const clf_tensor *t, int dim, int64_t start, int64_t len,
                                    clf_tensor *out);
/* Same elements, new shape; t must be contiguous. One entry may be -1
 * (inferred). */
CLF_API clf_status clf_tensor_reshape(const clf_tensor *t, int ndim, const int64_t *shape,
                                      clf_tensor *out);
/* Dimensions reordered: out.shape[i] = t.shape[perm[i]]. */
CLF_API clf_status clf_tensor_permute(const clf_tensor *t, const int *perm, clf_tensor *out);

/* ---- transfers ---- */

/* Host -> device. `host` holds clf_tensor_bytes(t) bytes in t's dtype, in
 * row-major order; t must be contiguous. Non-blocking writes copy nothing
 * now: host must stay unchanged until clf_context_finish(). */
CLF_API clf_status clf_tensor_write(clf_context *ctx, clf_tensor *t, const void *host,
                                    size_t bytes, bool blocking);
/* Device -> host, the same layout rules. A blocking read also reports a
 * device-side error (an out-of-range token id, say) raised by earlier ops. */
CLF_API clf_status clf_tensor_read(clf_context *ctx, const clf_tensor *t, void *host,
                                   size_t bytes, bool blocking);
/* Blocking conversions from and to float for f32 and f16 tensors (i32:
 * values are converted to and from int32 exactly). n = clf_tensor_numel(t). */
CLF_API clf_status clf_tensor_write_f32(clf_context *ctx, clf_tensor *t, const float *host,
                                        int64_t n);
CLF_API clf_status clf_tensor_read_f32(clf_context *ctx, const clf_tensor *t, float *host,
                                       int64_t n);
/* Sets every element of t (any strides) to value (rounded for f16,
 * truncated for i32). Enqueued, non-blocking. */
CLF_API clf_status clf_tensor_fill(clf_context *ctx, clf_tensor *t, float value);
/* Fills an f32 or f16 tensor (any strides) with uniform values in [lo, hi)
 * from a counter-based stream: element number i of the view, counted
 * row-major over its shape, gets lo + (hi - lo) * u, where u is the top 24
 * bits of splitmix64(seed + (i + 1) * 0x9E3779B97F4A7C15) divided by 2^24
 * (splitmix64's output mix: z ^= z >> 30, z *= 0xBF58476D1CE4E5B9,
 * z ^= z >> 27, z *= 0x94D049BB133111EB, z ^= z >> 31). The same values on
 * every device, within one rounding of the last multiply-add (f16: then
 * rounded to nearest). Enqueued, non-blocking; random weights are made on
 * the device this way, with no host buffer and no transfer. lo <= hi, both
 * finite. */
CLF_API clf_status clf_tensor_fill_uniform(clf_context *ctx, clf_tensor *t, uint64_t seed, float lo,
                                           float hi);

/* ---- Q8 (see "Q8" at the top) ---- */

/* The quantisation error of one matrix: max_rel = max |w - dq| / max |w|,
 * rms_rel = sqrt(sum (w - dq)^2 / sum w^2), dq being the dequantised values
 * (both 0 for an all-zero matrix). */
typedef struct clf_quant_error {
    double max_rel;
    double rms_rel;
} clf_quant_error;

/* Byte offset of the scale table in a Q8 buffer holding `codes` codes:
 * codes rounded up to a multiple of 64. */
CLF_API size_t clf_q8_scale_offset(int64_t codes);

/* Quantises w (rows, cols), row-major, on the host: codes (rows * cols) and
 * scales (rows) as described under "Q8". err, when not NULL, receives the
 * error of the whole matrix. Non-finite inputs give unspecified codes. Any
 * thread. */
CLF_API void clf_quantize_q8(const float *w, int64_t rows, int64_t cols, int8_t *codes,
                             float *scales, clf_quant_error *err);

/* Blocking upload / download of a whole Q8 tensor made by
 * clf_tensor_create(): codes (numel bytes) and scales (numel / innermost
 * size floats). A view, or a tensor of another dtype, is CLF_ERR_DTYPE /
 * CLF_ERR_INVALID_ARG. clf_tensor_write_f32() on such a tensor quantises on
 * the host (clf_quantize_q8) and uploads; clf_tensor_read_f32() returns the
 * dequantised values. */
CLF_API clf_status clf_tensor_write_q8(clf_context *ctx, clf_tensor *t, const int8_t *codes,
                                       const float *scales);
CLF_API clf_status clf_tensor_read_q8(clf_context *ctx, const clf_tensor *t, int8_t *codes,
                                      float *scales);

/* ---- Q4 (see "Q4" at the top) ---- */

/* Groups of a Q4 row of cols elements: ceil(cols / 32); 0 for cols < 1. */
CLF_API int64_t clf_q4_groups(int64_t cols);

/* Quantises w (rows, cols), row-major, on the host: codes (rows *
 * clf_q4_groups(cols) * 16 bytes, laid out as under "Q4") and scales (rows *
 * clf_q4_groups(cols)). err as for clf_quantize_q8. Any thread. */
CLF_API void clf_quantize_q4(const float *w, int64_t rows, int64_t cols, uint8_t *codes,
                             float *scales, clf_quant_error *err);

/* As clf_tensor_write_q8 / read_q8 for a whole Q4 tensor: codes
 * (rows * G * 16 bytes) and scales (rows * G floats). clf_tensor_write_f32()
 * on such a tensor quantises (clf_quantize_q4) and uploads;
 * clf_tensor_read_f32() returns the dequantised values. */
CLF_API clf_status clf_tensor_write_q4(clf_context *ctx, clf_tensor *t, const uint8_t *codes,
                                       const float *scales);
CLF_API clf_status clf_tensor_read_q4(clf_context *ctx, const clf_tensor *t, uint8_t *codes,
                                      float *scales);

/* IEEE binary16 <-> binary32 on the host, round to nearest even. */
CLF_API void clf_f32_to_f16(const float *in, uint16_t *out, size_t n);
CLF_API void clf_f16_to_f32(const uint16_t *in, float *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
