/*
 * libFuzzer target for the WordPiece tokenizer (src/text): its file parsers
 * and its encoder. Build and run with tools/fuzz.sh tokenizer SECONDS.
 *
 * fuzz-sources: src/text/bpe.c src/text/bpe_load.c src/text/detokenize.c src/text/spm_build.c src/text/spm_decode.c src/text/spm_encode.c src/text/spm_model.c src/text/spm_wire.c src/text/tokenizer.c src/text/tokenizer_load.c src/text/unigram_json.c src/text/wordpiece.c
 * fuzz-libs: libutf8proc json-c libcrypto
 *
 * Input: byte 0 chooses the form and the settings (bit 0: tokenizer.json,
 * else vocab.txt; bits 1-2: lowercase auto/on/off; bit 3: max_length 8, else
 * the default; bit 4: no special tokens), then the tokenizer file up to the
 * first 0xFF byte (never part of valid UTF-8, so never of a valid file), then
 * the text to encode. Any input must give a documented status and never a
 * crash, an ASan report, UB or a leak; on success the ids are checked: in
 * range, [CLS] first and [SEP] last, no longer than max_length, and the batch
 * call gives the same ids padded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/context.h> /* clf_context_last_error (core.h has only status.h) */

#include "core/core.h"
#include "text/text_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void check_encode(const clf_tokenizer *t, const char *text, size_t len, bool special)
{
    int64_t L = clf_tokenizer_max_length(t), n = -1;
    int32_t *ids = malloc((size_t)L * 2 * sizeof *ids);
    CHECK(ids);
    clf_status s = clf_tokenizer_encode(t, text, len, ids, L, &n);
    CHECK(s == CLF_OK || s == CLF_ERR_INVALID_ARG);
    if (s == CLF_OK) {
        CHECK(n >= (special ? 2 : 0) && n <= L);
        for (int64_t i = 0; i < n; i++)
            CHECK(ids[i] >= 0 && ids[i] < clf_tokenizer_vocab_size(t));
        /* A BPE tokenizer.json (fuzz_tokenizer_bpe.c's) frames differently. */
        if (clf_tokenizer_kind_of(t) != CLF_TOKENIZER_KIND_WORDPIECE) special = false;
        if (special) {
            CHECK(ids[0] == clf_tokenizer_special_id(t, CLF_TOKEN_CLS));
            CHECK(ids[n - 1] == clf_tokenizer_special_id(t, CLF_TOKEN_SEP));
        }
        /* The batch of (text, "") pads the second row to the first's length. */
        int32_t *b = malloc((size_t)L * 2 * sizeof *b);
        CHECK(b);
        const char *texts[2] = {text ? text : "", ""};
        size_t lens[2] = {len, 0};
        int32_t lengths[2];
        int64_t S;
        CHECK(clf_tokenizer_encode_batch(t, 2, texts, lens, b, lengths, &S) == CLF_OK);
        CHECK(S >= n && lengths[0] == n);
        if (clf_tokenizer_kind_of(t) == CLF_TOKENIZER_KIND_WORDPIECE)
            CHECK(S == n && lengths[1] == (special ? 2 : 0));
        CHECK(memcmp(b, ids, (size_t)n * sizeof *ids) == 0);
        free(b);
    } else {
        CHECK(strstr(clf_context_last_error(NULL), "UTF-8 at byte"));
    }
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    long live = clf__alloc_live();
    uint8_t mode = data[0];
    const uint8_t *file = data + 1, *sep = memchr(file, 0xFF, size - 1);
    size_t file_size = sep ? (size_t)(sep - file) : size - 1;
    const char *text = sep ? (const char *)sep + 1 : NULL;
    size_t text_len = sep ? size - 1 - file_size - 1 : 0;

    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.lowercase = (clf_tokenizer_flag)((mode >> 1) % 3);
    p.max_length = (mode & 8) ? 8 : 0;
    p.no_special_tokens = (mode & 16) != 0;
    /* An exactly sized copy, so that ASan sees any read past the file. */
    char *f = malloc(file_size ? file_size : 1);
    CHECK(f);
    memcpy(f, file, file_size);
    clf_tokenizer *t = (clf_tokenizer *)1;
    clf_status s = clf__tokenizer_parse(f, file_size, mode & 1, "fuzz", &p, NULL, &t);
    CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL || s == CLF_ERR_UNSUPPORTED);
    CHECK((s == CLF_OK) == (t != NULL));
    if (t) {
        check_encode(t, text, text_len, !p.no_special_tokens);
        for (int64_t id = 0; id < clf_tokenizer_vocab_size(t); id++)
            CHECK(clf_tokenizer_token_id(t, clf_tokenizer_token(t, (int32_t)id)) == id);
    } else {
        CHECK(strlen(clf_context_last_error(NULL)) > 0);
    }
    clf_tokenizer_free(t);
    free(f);
    CHECK(clf__alloc_live() == live); /* no leak on any path */
    return 0;
}
