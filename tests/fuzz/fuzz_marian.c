/*
 * libFuzzer target for Marian tokenizer folders (src/text/spm_wire.c:
 * source.spm + target.spm + vocab.json, through clf_tokenizer_load of the
 * folder). Build and run with tools/fuzz.sh marian SECONDS.
 *
 * fuzz-sources: src/text/bpe.c src/text/bpe_load.c src/text/detokenize.c src/text/spm_build.c src/text/spm_decode.c src/text/spm_encode.c src/text/spm_model.c src/text/spm_wire.c src/text/tokenizer.c src/text/tokenizer_load.c src/text/unigram_json.c src/text/wordpiece.c
 * fuzz-libs: libutf8proc json-c libcrypto
 *
 * Input: three parts, each after a 2-byte little-endian length (a part is
 * cut where the input ends): the text to encode, vocab.json, source.spm;
 * the rest of the input is target.spm, or a copy of source.spm when the rest
 * is empty. The files are written into a private folder (under /dev/shm
 * when it exists) and loaded as a user's folder would be. Any input must give
 * a documented status (OK, BAD_MODEL, UNSUPPORTED) and never a crash, an
 * ASan report, UB or a leak; on success, tokenizer_checks.h's invariants.
 * Seeds: tests/fuzz/make_marian_corpus.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <clformer/context.h>
#include <clformer/tokenizer.h>

#include "tokenizer_checks.h"

static char dir[256];

static void put(const char *name, const uint8_t *p, size_t n)
{
    char path[320];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f);
    CHECK(fwrite(p, 1, n, f) == n || n == 0);
    CHECK(fclose(f) == 0);
}

/* The next part: 2 length bytes, then up to that many bytes. */
static const uint8_t *part(const uint8_t **p, const uint8_t *end, size_t *n)
{
    size_t len = 0;
    if (end - *p >= 2) len = (size_t)(*p)[0] | (size_t)(*p)[1] << 8, *p += 2;
    else *p = end;
    if (len > (size_t)(end - *p)) len = (size_t)(end - *p);
    const uint8_t *at = *p;
    *p += len;
    *n = len;
    return at;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/fuzz-marian-XXXXXX", base);
        CHECK(mkdtemp(dir));
    }
    long live = clf__alloc_live();
    const uint8_t *p = data, *end = data + size;
    size_t tn, vn, sn;
    const uint8_t *text = part(&p, end, &tn), *vocab = part(&p, end, &vn);
    const uint8_t *src = part(&p, end, &sn);
    put("vocab.json", vocab, vn);
    put("source.spm", src, sn);
    if (p < end) put("target.spm", p, (size_t)(end - p));
    else put("target.spm", src, sn);
    char *t0 = malloc(tn ? tn : 1); /* exactly sized: ASan sees a read past the text */
    CHECK(t0);
    memcpy(t0, text, tn);
    clf_tokenizer *t = NULL;
    clf_status s = clf_tokenizer_load(dir, NULL, &t);
    CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL || s == CLF_ERR_UNSUPPORTED);
    CHECK((s == CLF_OK) == (t != NULL));
    if (t) {
        CHECK(clf_tokenizer_kind_of(t) == CLF_TOKENIZER_KIND_UNIGRAM ||
              clf_tokenizer_kind_of(t) == CLF_TOKENIZER_KIND_SPM_BPE);
        check_encode(t, t0, tn);
    } else {
        CHECK(strlen(clf_context_last_error(NULL)) > 0);
    }
    clf_tokenizer_free(t);
    free(t0);
    CHECK(clf__alloc_live() == live); /* no leak on any path */
    return 0;
}
