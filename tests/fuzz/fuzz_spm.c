/*
 * libFuzzer target for the SentencePiece engine (src/text/spm_*.c): the
 * protobuf reader of .spm files, the model checks, the character-map
 * normaliser, Unigram / BPE encoding and decoding. Build and run with
 * tools/fuzz.sh spm SECONDS.
 *
 * fuzz-sources: src/text/spm_model.c src/text/spm_build.c src/text/spm_encode.c src/text/spm_decode.c
 *
 * Input: two bytes (little-endian) give the length L of the text, then L
 * bytes of text (fewer if the input ends), then the model file. Any input
 * must give a documented status and never a crash, an ASan report, UB or a
 * leak; on success the ids are checked (in range, never a CONTROL or UNUSED
 * piece, never two <unk> in a row), decode must succeed on them, and every
 * piece must be found again by its text. The seed corpus is made by
 * tests/fuzz/make_spm_corpus.py (small models trained by sentencepiece,
 * one with a hand-written normalisation rule table, so that the character
 * map fits libFuzzer's input size).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/context.h> /* clf_context_last_error */

#include "core/core.h"
#include "text/spm.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_model(const clf__spm *m, const char *text, size_t len)
{
    int32_t n = clf__spm_n_pieces(m);
    for (int32_t id = 0; id < n; id++) {
        size_t pl;
        const char *p = clf__spm_piece(m, id, &pl);
        CHECK(p && strlen(p) == pl && pl > 0);
        int32_t back = clf__spm_piece_id(m, p, pl);
        CHECK(back >= 0 && back < n);
        size_t bl;
        const char *q = clf__spm_piece(m, back, &bl);
        CHECK(bl == pl && memcmp(p, q, pl) == 0);
    }
    CHECK(clf__spm_unk_id(m) >= 0 && clf__spm_piece_type(m, clf__spm_unk_id(m)) == CLF__SPM_UNKNOWN);

    clf__spm_ids v = {0};
    clf_status s = clf__spm_encode(m, text, len, &v);
    CHECK(s == CLF_OK || s == CLF_ERR_INVALID_ARG);
    if (s != CLF_OK) {
        clf__spm_ids_clear(&v);
        return;
    }
    for (int64_t i = 0; i < v.n; i++) {
        CHECK(v.ids[i] >= 0 && v.ids[i] < n);
        int t = clf__spm_piece_type(m, v.ids[i]);
        CHECK(t != CLF__SPM_CONTROL || clf__spm_algorithm(m) == CLF__SPM_BPE);
        CHECK(t != CLF__SPM_UNUSED);
        if (i > 0 && t == CLF__SPM_UNKNOWN)
            CHECK(clf__spm_piece_type(m, v.ids[i - 1]) != CLF__SPM_UNKNOWN);
    }
    char *out = NULL, *norm = NULL;
    size_t out_len = 0, norm_len = 0;
    CHECK(clf__spm_decode(m, v.ids, v.n, &out, &out_len) == CLF_OK);
    CHECK(out && strlen(out) <= out_len);
    CHECK(clf__spm_normalize(m, text, len, &norm, &norm_len) == CLF_OK);
    CHECK((norm_len == 0) == (v.n == 0));
    clf__free(norm);
    clf__free(out);
    clf__spm_ids_clear(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    long live = clf__alloc_live();
    size_t text_len = (size_t)data[0] | (size_t)data[1] << 8;
    if (text_len > size - 2) text_len = size - 2;
    size_t model_len = size - 2 - text_len;
    /* Exactly sized copies, so that ASan sees any read past either. */
    char *text = malloc(text_len ? text_len : 1);
    uint8_t *model = malloc(model_len ? model_len : 1);
    CHECK(text && model);
    memcpy(text, data + 2, text_len);
    memcpy(model, data + 2 + text_len, model_len);
    clf__spm *m = (clf__spm *)1;
    clf_status s = clf__spm_parse(model, model_len, "fuzz.spm", &m);
    CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL || s == CLF_ERR_UNSUPPORTED);
    CHECK((s == CLF_OK) == (m != NULL));
    if (m)
        check_model(m, text, text_len);
    else
        CHECK(strstr(clf_context_last_error(NULL), "fuzz.spm"));
    clf__spm_free(m);
    free(text);
    free(model);
    CHECK(clf__alloc_live() == live); /* no leak on any path */
    return 0;
}
