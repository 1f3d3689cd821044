/*
 * Checks shared by the tokenizer fuzz targets (fuzz_tokenizer_bpe.c,
 * fuzz_marian.c): an invariant that fails aborts, which libFuzzer reports.
 * check_encode: ids in range and no longer than max_length (one text, and the
 * text cut in two as a pair), then
 * check_decode on them and on the text's bytes taken as ids; check_decode:
 * the one-shot decode is valid UTF-8 and equals the streamed decode, whose
 * every chunk is valid UTF-8.
 */
#ifndef CLFT_FUZZ_TOKENIZER_CHECKS_H
#define CLFT_FUZZ_TOKENIZER_CHECKS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "text/text_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* One-shot decode vs streaming, each chunk valid UTF-8. */
static void check_decode(const clf_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags)
{
    size_t len = 0;
    clf_status s = clf_tokenizer_decode(t, ids, n, flags, NULL, 0, &len);
    CHECK(s == CLF_ERR_OUT_OF_RANGE);
    char *text = malloc(len + 1), *acc = malloc(len + 1);
    CHECK(text && acc);
    size_t len2 = 0, got = 0;
    CHECK(clf_tokenizer_decode(t, ids, n, flags, text, len + 1, &len2) == CLF_OK && len2 == len);
    CHECK(clf__utf8_invalid_at((const uint8_t *)text, len) == -1);
    clf_detokenizer *d = NULL;
    CHECK(clf_detokenizer_create(t, flags, &d) == CLF_OK);
    for (int64_t i = 0; i <= n; i++) {
        const char *chunk;
        size_t k;
        CHECK((i < n ? clf_detokenizer_push(d, ids[i], &chunk, &k)
                     : clf_detokenizer_flush(d, &chunk, &k)) == CLF_OK);
        CHECK(clf__utf8_invalid_at((const uint8_t *)chunk, k) == -1);
        CHECK(got + k <= len);
        memcpy(acc + got, chunk, k);
        got += k;
    }
    CHECK(got == len && memcmp(acc, text, len) == 0);
    clf_detokenizer_free(d);
    free(text);
    free(acc);
}

static void check_encode(const clf_tokenizer *t, const char *text, size_t len)
{
    int64_t L = clf_tokenizer_max_length(t), n = -1, V = clf_tokenizer_vocab_size(t);
    int32_t *ids = malloc((size_t)L * sizeof *ids);
    CHECK(ids);
    clf_status s = clf_tokenizer_encode(t, text, len, ids, L, &n);
    CHECK(s == CLF_OK || s == CLF_ERR_INVALID_ARG);
    if (s == CLF_OK) {
        CHECK(n >= 0 && n <= L);
        for (int64_t i = 0; i < n; i++)
            CHECK(ids[i] >= 0 && ids[i] < V);
        check_decode(t, ids, n, 0);
        check_decode(t, ids, n, CLF_DECODE_SKIP_SPECIAL);
    }
    /* The text as a pair, cut in the middle (the cut may split a UTF-8
     * sequence: then INVALID_ARG): ids in range, never past max_length. */
    s = clf_tokenizer_encode_pair(t, text, len / 2, text + len / 2, len - len / 2, ids, L, &n);
    CHECK(s == CLF_OK || s == CLF_ERR_INVALID_ARG || s == CLF_ERR_UNSUPPORTED);
    if (s == CLF_OK) {
        CHECK(n >= 0 && n <= L);
        for (int64_t i = 0; i < n; i++)
            CHECK(ids[i] >= 0 && ids[i] < V);
    }
    /* The text's bytes as ids: arbitrary token sequences. */
    int64_t m = 0;
    for (size_t i = 0; i < len && m < L; i++)
        ids[m++] = (int32_t)((uint8_t)text[i] % V);
    check_decode(t, ids, m, 0);
    free(ids);
}

#endif
