/*
 * A strict safetensors reader: a pure parser (libc and POSIX file reads only,
 * no OpenCL, no JSON library) so that it can be fuzzed anywhere. The header
 * parser is safetensors.c; opening files, lookups, tensor reads and the
 * conversions to f32 are safetensors_file.c. Not installed.
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
 * A file opened with clf__safetensors_open is not mapped: its header is read
 * into memory and parsed, and each tensor's bytes are read (pread) when the
 * caller asks for them. A file that shrinks while it is open then gives a
 * short read, which is CLF_ERR_BAD_MODEL naming the file, where a mapping
 * would raise SIGBUS and kill the process.
 *
 * Objects are immutable after parsing; concurrent reads are safe (pread has
 * no shared file position).
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
    /* data section + begin (end - begin bytes, unaligned) when the whole file
     * is in memory (clf__safetensors_parse); NULL for a file opened with
     * clf__safetensors_open: read it with clf__st_tensor_read/_to_f32. */
    const uint8_t *data;
    const struct clf__safetensors *file_; /* private: the file it is read from */
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
    const uint8_t *data;      /* the data section (data_size bytes), or NULL when not in memory */
    size_t data_size;

    /* Private. */
    const clf__st_tensor **by_name_; /* (n_tensors) sorted by name */
    int fd_;                         /* the open file of clf__safetensors_open, or -1 */
    char *path_;                     /* its path, for messages, or NULL */
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

/* Opens the file at path (core's clf__file_open: a FIFO or a device is
 * refused before any read), reads its header and parses it as above; the
 * file stays open until clf__safetensors_free and tensor bytes are read on
 * demand. A file that cannot be opened or is not a regular file is
 * CLF_ERR_IO; one that is truncated while the header is read is
 * CLF_ERR_BAD_MODEL ("... truncated while it was read"), as is any hostile
 * header. st->data and every tensor's data are NULL. */
clf_status clf__safetensors_open(const char *path, clf__safetensors **out, char *err,
                                 size_t err_size);

/* Frees the object and closes its file. NULL is a no-op. */
void clf__safetensors_free(clf__safetensors *st);

/* Copies the tensor's n_elements * dtype_size bytes (as stored: little-endian,
 * any dtype) to dst, from memory or from the file. A file that has shrunk
 * since it was opened, so that the tensor's bytes are gone, is
 * CLF_ERR_BAD_MODEL naming the file and the tensor; a failed read CLF_ERR_IO.
 * The message becomes the thread's last error. */
clf_status clf__st_tensor_read(const clf__st_tensor *t, void *dst);

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

/* Converts a whole tensor: dst holds t->n_elements floats. Reads from the
 * file as clf__st_tensor_read (same errors), through dst itself for F32 and
 * through a staging buffer of at most 1 MiB for F16 and BF16. */
clf_status clf__st_tensor_to_f32(const clf__st_tensor *t, float *dst);

/* Test hook: hook(stage, path, arg) runs inside clf__safetensors_open, at
 * CLF__ST_HOOK_LENGTH after the 8-byte length is read and before the header
 * is, and at CLF__ST_HOOK_OPENED after the header is parsed, before any
 * tensor is read: a test truncates the file there to check that a file
 * shrinking under a load is an error, not a crash. NULL removes it. Not
 * thread-safe: set it while no file is being opened. */
enum { CLF__ST_HOOK_LENGTH = 1, CLF__ST_HOOK_OPENED = 2 };
void clf__st_set_test_hook(void (*hook)(int stage, const char *path, void *arg), void *arg);

/* Private to safetensors.c and safetensors_file.c. Messages are
 * CLF__ST_MSG_SIZE bytes, prefixed with origin (the path). */
#define CLF__ST_MSG_SIZE 512
/* The header length N from a file's first 8 bytes (first8, not read when
 * size < 8), checked against the limit and the file's size. */
clf_status clf__st_parse_file_header(const uint8_t *first8, uint64_t size, const char *origin,
                                     uint64_t *n, char *msg);
/* Parses the n header bytes at hdr (copied: hdr may be freed after); tensor
 * data pointers are NULL and fd_ is -1. */
clf_status clf__st_parse_header(const uint8_t *hdr, size_t n, size_t data_size,
                                const char *origin, clf__safetensors **out, char *msg);
/* Copies msg to err (if any) and records it as the thread's last error,
 * unless st is CLF_OK; returns st. */
clf_status clf__st_report(clf_status st, const char *msg, char *err, size_t err_size);

#endif
