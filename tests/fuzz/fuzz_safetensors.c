/*
 * libFuzzer target for the safetensors reader (src/model/safetensors.c).
 * Build and run with tools/fuzz.sh safetensors SECONDS.
 * fuzz-sources: src/model/safetensors.c src/model/safetensors_file.c
 *
 * Any input must give CLF_OK or CLF_ERR_BAD_MODEL, never a crash, an
 * out-of-bounds read (ASan) or undefined behaviour (UBSan). On success the
 * result's invariants are checked too (lookup, data order, exact coverage of
 * the data section), and every tensor byte is read, so that a wrong offset
 * shows up as an ASan report rather than passing silently.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/safetensors.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check(const clf__safetensors *st, const uint8_t *data, size_t size)
{
    CHECK(st->data == data + 8 + st->header_size);
    CHECK(8 + st->header_size + st->data_size == size);
    size_t at = 0;
    volatile unsigned sink = 0;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const clf__st_tensor *t = &st->tensors[i];
        CHECK(t->begin == at && t->begin <= t->end && t->end <= st->data_size);
        CHECK(t->data == st->data + t->begin);
        CHECK(strlen(t->name) == t->name_len);
        CHECK(t->n_dims >= 0 && t->n_dims <= CLF__ST_MAX_DIMS);
        CHECK((uint64_t)t->n_elements * t->dtype_size == t->end - t->begin);
        CHECK(clf__st_find(st, t->name) == t);
        for (size_t k = t->begin; k < t->end; k++)
            sink += st->data[k];
        at = t->end;
        if (t->n_elements <= 4096 &&
            (t->dtype == CLF__ST_F32 || t->dtype == CLF__ST_F16 || t->dtype == CLF__ST_BF16)) {
            static float out[4096];
            CHECK(clf__st_tensor_to_f32(t, out) == CLF_OK);
        }
    }
    CHECK(at == st->data_size);
    for (size_t i = 0; i < st->n_meta; i++) {
        CHECK(clf__st_meta_get(st, st->meta[i].key) == st->meta[i].value);
        sink += (unsigned)strlen(st->meta[i].value);
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    long live = clf__alloc_live();
    clf__safetensors *st = NULL;
    char err[256];
    clf_status s = clf__safetensors_parse(data, size, &st, err, sizeof err);
    CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL);
    CHECK((s == CLF_OK) == (st != NULL));
    if (st)
        check(st, data, size);
    else
        CHECK(strlen(err) > 0);
    clf__safetensors_free(st);
    CHECK(clf__alloc_live() == live); /* no leak on any path */
    return 0;
}
