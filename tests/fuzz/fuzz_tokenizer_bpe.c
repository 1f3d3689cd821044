/*
 * libFuzzer target for the byte-level BPE tokenizer (src/text/bpe*.c), the
 * Unigram tokenizer.json loader (src/text/unigram_json.c, seeds from
 * tests/fuzz/make_unigram_corpus.py) and the shared encode / decode /
 * streaming layer. Build and run with
 * tools/fuzz.sh tokenizer_bpe SECONDS.
 *
 * fuzz-sources: src/text/bpe.c src/text/bpe_load.c src/text/detokenize.c src/text/spm_build.c src/text/spm_decode.c src/text/spm_encode.c src/text/spm_model.c src/text/spm_wire.c src/text/tokenizer.c src/text/tokenizer_load.c src/text/unigram_json.c src/text/wordpiece.c
 * fuzz-libs: libutf8proc json-c libcrypto
 *
 * Input: byte 0 chooses the form and settings (bit 0: tokenizer.json, else
 * vocab.json + merges.txt; bit 1: a tokenizer_config.json too; bit 2:
 * max_length 8; bit 3: no special tokens; bit 4: add_prefix_space forced
 * on), then up to four parts separated by 0xFF bytes (never part of valid
 * UTF-8): the first file (tokenizer.json or vocab.json), merges.txt, the
 * tokenizer_config.json, and the text to encode. Any input must give a
 * documented status and never a crash, an ASan report, UB or a leak. On
 * success: ids in range and no longer than max_length; the one-shot decode
 * is valid UTF-8 and equals the streamed decode, whose every chunk is valid
 * UTF-8; decoding random-ish ids (the text's bytes) obeys the same rules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/context.h>

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
    /* The text's bytes as ids: arbitrary token sequences. */
    int64_t m = 0;
    for (size_t i = 0; i < len && m < L; i++)
        ids[m++] = (int32_t)((uint8_t)text[i] % V);
    check_decode(t, ids, m, 0);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    long live = clf__alloc_live();
    uint8_t mode = data[0];
    const uint8_t *part[4] = {NULL, NULL, NULL, NULL};
    size_t plen[4] = {0, 0, 0, 0};
    const uint8_t *p = data + 1, *end = data + size;
    for (int i = 0; i < 4 && p <= end; i++) {
        const uint8_t *sep = i < 3 ? memchr(p, 0xFF, (size_t)(end - p)) : NULL;
        part[i] = p;
        plen[i] = sep ? (size_t)(sep - p) : (size_t)(end - p);
        p += plen[i] + 1;
    }
    /* Exactly sized copies, so that ASan sees any read past a file. */
    char *f[4];
    for (int i = 0; i < 4; i++) {
        f[i] = malloc(plen[i] ? plen[i] : 1);
        CHECK(f[i]);
        if (plen[i]) memcpy(f[i], part[i], plen[i]);
    }
    clf_tokenizer_params prm = clf_tokenizer_params_default();
    prm.max_length = (mode & 4) ? 8 : 64;
    prm.no_special_tokens = (mode & 8) != 0;
    prm.add_prefix_space = (mode & 16) ? CLF_TOKENIZER_ON : CLF_TOKENIZER_AUTO;
    clf__tok_config cfg;
    clf__tok_config_init(&cfg);
    clf_status s = CLF_OK;
    if (mode & 2) {
        s = clf__tok_config_parse(f[2], plen[2], "tokenizer_config.json", &cfg);
        CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL);
    }
    clf_tokenizer *t = (clf_tokenizer *)1;
    if (s == CLF_OK) {
        if (mode & 1)
            s = clf__tokenizer_parse(f[0], plen[0], true, "tokenizer.json", &prm, &cfg, &t);
        else
            s = clf__bpe_parse_files(f[0], plen[0], "vocab.json", f[1], plen[1], "merges.txt",
                                     &prm, &cfg, &t);
        CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL || s == CLF_ERR_UNSUPPORTED);
        CHECK((s == CLF_OK) == (t != NULL));
        if (t) {
            check_encode(t, f[3], plen[3]);
            for (int64_t id = 0; id < clf_tokenizer_vocab_size(t); id++)
                CHECK(clf_tokenizer_token_id(t, clf_tokenizer_token(t, (int32_t)id)) == id);
        } else {
            CHECK(strlen(clf_context_last_error(NULL)) > 0);
        }
        clf_tokenizer_free(t);
    }
    clf__tok_config_clear(&cfg);
    for (int i = 0; i < 4; i++)
        free(f[i]);
    CHECK(clf__alloc_live() == live); /* no leak on any path */
    return 0;
}
