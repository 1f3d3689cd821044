/*
 * A strict safetensors reader: a pure parser (libc and POSIX mmap only, no
 * OpenCL, no JSON library) so that it can be fuzzed anywhere. Not installed.
 *
 * File layout: 8 bytes N (u64, little-endian), N bytes of UTF-8 JSON (the
 * header), then the data section. The header is one object: each key is a
 * tensor name mapped to {"dtype": "F32", "shape": [2, 3], "data_offsets":
 * [begin, end]}, byte offsets relative to the data section; the optional key
 * "__metadata__" maps to an object of string values.
 *
 * Everything is validated; any violation is CLF_ERR_BAD_MODEL with a message
 * naming the problem (tensor name, offsets, sizes). The rules follow the
 * reference implementation (huggingface/safetensors, Metadata::validate), and
 * are stricter where it is lenient:
 *   - the file is at least 8 bytes; 0 < N <= 100,000,000 and 8 + N <= size;
 *   - the header is valid UTF-8 (no overlong forms, surrogates or code points
 *     above U+10FFFF) and is exactly one JSON object (RFC 8259 grammar), with
 *     only JSON whitespace around it (writers pad with spaces);
 *   - names, keys and metadata values are JSON strings whose decoded form is
 *     valid UTF-8 without NUL (a \u0000 escape or a lone surrogate escape is
 *     rejected), and tensor names are unique (as are metadata keys);
 *   - a tensor entry has exactly the keys dtype, shape and data_offsets, each
 *     once; dtype is one of clf__st_dtype; shape has at most
 *     CLF__ST_MAX_DIMS non-negative integer dims (0 dims is a scalar);
 *     data_offsets is two non-negative integers; numbers are plain integers
 *     (no sign, fraction, exponent or leading zero) that fit in int64_t;
 *   - the element count times the dtype size does not overflow and equals
 *     end - begin; begin <= end <= the data section's size;
 *   - sorted by offset, the tensors cover the data section exactly: the first
 *     starts at 0, each starts where the previous one ends (an earlier start
 *     is an overlap, a later one is a hole), the last ends at the end of the
 *     file. Holes and trailing bytes are errors because the reference
 *     implementation rejects them too (MetadataIncompleteBuffer / InvalidOffset),
 *     so no valid writer produces them;
 *   - "__metadata__" is an object of string values, or null.
 * Nesting cannot go deeper than the schema (object > object > array): the
 * reader follows the schema without recursion, so a deeply nested header
 * fails at its first unexpected bracket.
 *
 * The data section is not aligned in general (8 + N need not be a multiple of
 * the dtype size): read tensor bytes with memcpy or the converters below.
 * Tensor data is little-endian, row-major.
 *
 * Objects are immutable after parsing; concurrent reads are safe.
 */
#ifndef CLF_MODEL_SAFETENSORS_H
#define CLF_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include <clformer/status.h>

#define CLF__ST_MAX_DIMS 8
#define CLF__ST_MAX_HEADER 100000000u /* bytes; the reference's limit */

/* The dtypes of the reference implementation that have a whole-byte size. */
typedef enum clf__st_dtype {
    CLF__ST_BOOL,
    CLF__ST_U8,
    CLF__ST_I8,
    CLF__ST_F8_E5M2,
    CLF__ST_F8_E4M3,
    CLF__ST_I16,
    CLF__ST_U16,
    CLF__ST_F16,
    CLF__ST_BF16,
    CLF__ST_I32,
    CLF__ST_U32,
    CLF__ST_F32,
    CLF__ST_F64,
    CLF__ST_I64,
    CLF__ST_U64,
    CLF__ST_DTYPE_COUNT
} clf__st_dtype;

typedef struct clf__st_tensor {
    const char *name; /* NUL-terminated UTF-8; owned by the file object */
    size_t name_len;  /* bytes, without the NUL */
    clf__st_dtype dtype;
    size_t dtype_size;               /* bytes per element */
    int n_dims;                      /* 0..CLF__ST_MAX_DIMS; 0 = scalar */
    int64_t shape[CLF__ST_MAX_DIMS]; /* (n_dims); unused dims are 0 */
    int64_t n_elements;              /* product of shape (1 for a scalar) */
    size_t begin, end;               /* [begin, end) in bytes, relative to the data section */
    const uint8_t *data;             /* data section + begin; end - begin bytes; unaligned */
} clf__st_tensor;

typedef struct clf__st_meta {
    const char *key;   /* NUL-terminated UTF-8 */
    const char *value; /* NUL-terminated UTF-8 */
} clf__st_meta;

typedef struct clf__safetensors {
    size_t n_tensors;
    const clf__st_tensor *tensors; /* (n_tensors), in data order (by begin) */
    size_t n_meta;
    const clf__st_meta *meta; /* (n_meta), sorted by key (bytewise) */
    size_t header_size;       /* N */
    const uint8_t *data;      /* the data section; data_size bytes */
    size_t data_size;

    /* Private. */
    const clf__st_tensor **by_name_; /* (n_tensors) sorted by name */
    void *map_;                      /* mmap of clf__safetensors_open, or NULL */
    size_t map_size_;
} clf__safetensors;

/* Parses a whole safetensors file held in [data, data + size). The result
 * points into that memory, which must outlive it. On success *out owns a new
 * object (free with clf__safetensors_free). On failure *out is NULL and the
 * status is CLF_ERR_BAD_MODEL (with a message naming the problem),
 * CLF_ERR_OUT_OF_MEMORY or CLF_ERR_INVALID_ARG (NULL out, or NULL data with a
 * non-zero size). The message goes into err (if not NULL; always
 * NUL-terminated, truncated to err_size) and becomes the thread's last error
 * (clf_context_last_error(NULL)). Never reads outside the range. */
clf_status clf__safetensors_parse(const uint8_t *data, size_t size, clf__safetensors **out,
                                  char *err, size_t err_size);

/* Maps the file at path read-only and parses it as above; the mapping lives
 * until clf__safetensors_free. A file that cannot be opened, is not a regular
 * file, or cannot be mapped is CLF_ERR_IO. As with any mmap, a file that
 * another process truncates while it is mapped raises SIGBUS on access: load
 * from files that are not being rewritten (writers should rename into place). */
clf_status clf__safetensors_open(const char *path, clf__safetensors **out, char *err,
                                 size_t err_size);

/* Frees the object and unmaps its file. NULL is a no-op. */
void clf__safetensors_free(clf__safetensors *st);

/* The tensor called name (bytewise comparison), or NULL. O(log n). */
const clf__st_tensor *clf__st_find(const clf__safetensors *st, const char *name);

/* The value of metadata key, or NULL. */
const char *clf__st_meta_get(const clf__safetensors *st, const char *key);

/* "F32" for CLF__ST_F32; "?" for values out of range. */
const char *clf__st_dtype_name(clf__st_dtype dtype);

/* Bytes per element; 0 for values out of range. */
size_t clf__st_dtype_size(clf__st_dtype dtype);

/* Exact conversions of one IEEE binary16 / bfloat16 bit pattern to float.
 * Every value is representable; NaNs keep their sign and payload (shifted into
 * the high mantissa bits), so a signalling NaN stays signalling. */
float clf__st_f16_to_f32(uint16_t h);
float clf__st_bf16_to_f32(uint16_t b);

/* Converts n little-endian elements of dtype at src (any alignment) to float.
 * dtype must be CLF__ST_F32, CLF__ST_F16 or CLF__ST_BF16, else CLF_ERR_DTYPE
 * and nothing is written. */
clf_status clf__st_convert_f32(clf__st_dtype dtype, const uint8_t *src, size_t n, float *dst);

/* Converts a whole tensor: dst holds t->n_elements floats. */
clf_status clf__st_tensor_to_f32(const clf__st_tensor *t, float *dst);

#endif
