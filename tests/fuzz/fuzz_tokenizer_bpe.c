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
#include "tokenizer_checks.h"

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
