/*
 * safetensors files (see safetensors.h): opening one, name and metadata
 * lookups, reading a tensor's bytes and converting them to f32.
 *
 * An opened file is read with pread, never mapped. A mapped file that another
 * process truncates raises SIGBUS at the first access to a page past its new
 * end, which kills the process from inside a library call; a read of the same
 * bytes just comes back short, and becomes CLF_ERR_BAD_MODEL naming the file.
 * The loader converts and uploads one tensor at a time, so reading into its
 * staging buffer costs no more memory than converting from a mapping did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "model/safetensors.h"

/* F16/BF16 tensors are read through a buffer of this many bytes at most. */
#define STAGING_BYTES ((size_t)1 << 20)

static void (*test_hook)(int stage, const char *path, void *arg);
static void *test_hook_arg;

void clf__st_set_test_hook(void (*hook)(int stage, const char *path, void *arg), void *arg)
{
    test_hook = hook;
    test_hook_arg = arg;
}

static void run_hook(int stage, const char *path)
{
    if (test_hook) test_hook(stage, path, test_hook_arg);
}

/* Reads [offset, offset + n) of fd, a part of path's header; a short read
 * means the file shrank after it was opened. */
static clf_status read_header_bytes(int fd, const char *path, void *dst, size_t n,
                                    uint64_t offset, uint64_t size, char *msg)
{
    size_t got = 0;
    int e = clf__file_read_at(fd, dst, n, offset, &got);
    if (e) {
        snprintf(msg, CLF__ST_MSG_SIZE, "%s: read failed: %s", path, strerror(e));
        return CLF_ERR_IO;
    }
    if (got < n) {
        snprintf(msg, CLF__ST_MSG_SIZE,
                 "%s: the file was truncated while it was read (it was %llu bytes when opened; "
                 "the header's bytes %llu..%llu are gone)",
                 path, (unsigned long long)size, (unsigned long long)(offset + got),
                 (unsigned long long)(offset + n));
        return CLF_ERR_BAD_MODEL;
    }
    return CLF_OK;
}

/* Reads and parses the header of the open file fd of size bytes. */
static clf_status open_fd(int fd, uint64_t size, const char *path, clf__safetensors **out,
                          char *msg)
{
    uint8_t first8[8] = {0};
    if (size >= 8) CLF_TRY(read_header_bytes(fd, path, first8, 8, 0, size, msg));
    uint64_t n = 0;
    CLF_TRY(clf__st_parse_file_header(first8, size, path, &n, msg));
    run_hook(CLF__ST_HOOK_LENGTH, path);
    uint8_t *hdr = clf__malloc((size_t)n);
    if (!hdr) {
        snprintf(msg, CLF__ST_MSG_SIZE, "%s: out of host memory for the %llu-byte header", path,
                 (unsigned long long)n);
        return CLF_ERR_OUT_OF_MEMORY;
    }
    clf_status st = read_header_bytes(fd, path, hdr, (size_t)n, 8, size, msg);
    if (st == CLF_OK)
        st = clf__st_parse_header(hdr, (size_t)n, (size_t)(size - 8 - n), path, out, msg);
    clf__free(hdr);
    return st;
}

clf_status clf__safetensors_open(const char *path, clf__safetensors **out, char *err,
                                 size_t err_size)
{
    char msg[CLF__ST_MSG_SIZE];
    if (out) *out = NULL;
    if (!out || !path) {
        snprintf(msg, sizeof msg, "clf__safetensors_open: %s is NULL", out ? "path" : "out");
        return clf__st_report(CLF_ERR_INVALID_ARG, msg, err, err_size);
    }
    int fd = -1;
    uint64_t size = 0;
    clf_status st = clf__file_open(path, &fd, &size, msg, sizeof msg);
    /* A missing weight file is an I/O error like any other unreadable one. */
    if (st == CLF_ERR_NOT_FOUND) st = CLF_ERR_IO;
    if (st != CLF_OK) return clf__st_report(st, msg, err, err_size);
    clf__safetensors *f = NULL;
    st = open_fd(fd, size, path, &f, msg);
    char *copy = st == CLF_OK ? clf__strdup(path) : NULL;
    if (st == CLF_OK && !copy) {
        snprintf(msg, sizeof msg, "%s: out of host memory", path);
        st = CLF_ERR_OUT_OF_MEMORY;
    }
    if (st != CLF_OK) {
        clf__safetensors_free(f);
        close(fd);
        return clf__st_report(st, msg, err, err_size);
    }
    f->fd_ = fd;
    f->path_ = copy;
    run_hook(CLF__ST_HOOK_OPENED, path);
    *out = f;
    return clf__st_report(CLF_OK, msg, err, err_size);
}

/* ---- lookups ---- */

static int find_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(const clf__st_tensor *const *)elem)->name);
}

const clf__st_tensor *clf__st_find(const clf__safetensors *st, const char *name)
{
    if (!st || !name || !st->n_tensors) return NULL;
    const clf__st_tensor *const *hit =
        bsearch(name, st->by_name_, st->n_tensors, sizeof *st->by_name_, find_cmp);
    return hit ? *hit : NULL;
}

static int meta_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const clf__st_meta *)elem)->key);
}

const char *clf__st_meta_get(const clf__safetensors *st, const char *key)
{
    if (!st || !key || !st->n_meta) return NULL;
    const clf__st_meta *hit = bsearch(key, st->meta, st->n_meta, sizeof *st->meta, meta_cmp);
    return hit ? hit->value : NULL;
}

/* ---- tensor bytes ---- */

/* Copies n bytes of t's data from byte skip on, from memory or the file. */
static clf_status read_part(const clf__st_tensor *t, size_t skip, void *dst, size_t n)
{
    if (t->data) {
        memcpy(dst, t->data + skip, n);
        return CLF_OK;
    }
    const clf__safetensors *f = t->file_;
    if (!f || f->fd_ < 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "safetensors: tensor %s has no data",
                          t->name);
    uint64_t at = 8 + (uint64_t)f->header_size + t->begin + skip;
    size_t got = 0;
    int e = clf__file_read_at(f->fd_, dst, n, at, &got);
    if (e)
        return clf__error(NULL, CLF_ERR_IO, "%s: reading tensor %s failed: %s", f->path_, t->name,
                          strerror(e));
    if (got < n)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: the file was truncated after it was opened: tensor %s's bytes "
                          "%llu..%llu are gone",
                          f->path_, t->name, (unsigned long long)(at + got),
                          (unsigned long long)(at + n));
    return CLF_OK;
}

clf_status clf__st_tensor_read(const clf__st_tensor *t, void *dst)
{
    if (!t || (!dst && t->n_elements))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf__st_tensor_read: NULL argument");
    return read_part(t, 0, dst, (size_t)t->n_elements * t->dtype_size);
}

/* ---- conversions ---- */

static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

float clf__st_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = h >> 10 & 0x1Fu;
    uint32_t mant = h & 0x3FFu;
    if (exp == 0x1F) return from_bits(sign | 0x7F800000u | mant << 13); /* inf, NaN */
    if (exp != 0) return from_bits(sign | (exp + 112) << 23 | mant << 13);
    if (mant == 0) return from_bits(sign);
    /* Subnormal: mant * 2^-24 becomes a normal float. */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return from_bits(sign | e << 23 | (mant & 0x3FFu) << 13);
}

float clf__st_bf16_to_f32(uint16_t b) { return from_bits((uint32_t)b << 16); }

clf_status clf__st_convert_f32(clf__st_dtype dtype, const uint8_t *src, size_t n, float *dst)
{
    switch (dtype) {
    case CLF__ST_F32:
        for (size_t i = 0; i < n; i++, src += 4)
            dst[i] = from_bits((uint32_t)src[0] | (uint32_t)src[1] << 8 | (uint32_t)src[2] << 16 |
                               (uint32_t)src[3] << 24);
        return CLF_OK;
    case CLF__ST_F16:
        for (size_t i = 0; i < n; i++, src += 2)
            dst[i] = clf__st_f16_to_f32((uint16_t)(src[0] | src[1] << 8));
        return CLF_OK;
    case CLF__ST_BF16:
        for (size_t i = 0; i < n; i++, src += 2)
            dst[i] = clf__st_bf16_to_f32((uint16_t)(src[0] | src[1] << 8));
        return CLF_OK;
    default:
        return clf__error(NULL, CLF_ERR_DTYPE, "safetensors: cannot convert %s to f32",
                          clf__st_dtype_name(dtype));
    }
}

clf_status clf__st_tensor_to_f32(const clf__st_tensor *t, float *dst)
{
    if (!t || (!dst && t->n_elements))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf__st_tensor_to_f32: NULL argument");
    if (t->dtype != CLF__ST_F32 && t->dtype != CLF__ST_F16 && t->dtype != CLF__ST_BF16)
        return clf__error(NULL, CLF_ERR_DTYPE,
                          "safetensors: tensor %s is %s; only F32, F16 and BF16 "
                          "convert to f32",
                          t->name, clf__st_dtype_name(t->dtype));
    size_t n = (size_t)t->n_elements;
    if (t->data) return clf__st_convert_f32(t->dtype, t->data, n, dst);
    if (t->dtype == CLF__ST_F32) {
        /* Read into dst and convert in place (a plain copy on little-endian
         * hosts): each element's bytes are read before its float is
         * written, and uint8_t may alias the floats. */
        CLF_TRY(read_part(t, 0, dst, n * 4));
        return clf__st_convert_f32(CLF__ST_F32, (const uint8_t *)dst, n, dst);
    }
    /* Two bytes per element: through a bounded staging buffer, so that a
     * large tensor costs its f32 copy only. */
    size_t per = STAGING_BYTES / 2, chunk = n < per ? n : per;
    uint8_t *buf = clf__malloc(chunk ? chunk * 2 : 1);
    if (!buf) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "safetensors: out of host memory");
    clf_status st = CLF_OK;
    for (size_t i = 0; st == CLF_OK && i < n; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        st = read_part(t, i * 2, buf, k * 2);
        if (st == CLF_OK) st = clf__st_convert_f32(t->dtype, buf, k, dst + i);
    }
    clf__free(buf);
    return st;
}
