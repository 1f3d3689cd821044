/* Host tests: the SentencePiece kinds of the public tokenizer API
 * (src/text/spm_wire.c, unigram_json.c): a Marian folder against
 * transformers' MarianTokenizer, Unigram tokenizer.json files against HF
 * `tokenizers`, a bare .spm against pip sentencepiece (goldens in
 * tests/golden/spm_wire/ and tests/golden/spm/, made by the Python scripts
 * there), streaming decode against one-shot decode, hostile folders. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <clformer/clformer.h>

#include "common/testutil.h"

#define WIRE CLFT_GOLDEN_DIR "/spm_wire"
#define MAXIDS 8192

static clf_tokenizer *load(const char *path)
{
    clf_tokenizer *t = NULL;
    clf_status s = clf_tokenizer_load(path, NULL, &t);
    cr_assert_eq(s, CLF_OK, "load %s: %s: %s", path, clf_status_name(s),
                 clf_context_last_error(NULL));
    return t;
}

static json_object *golden(const char *path)
{
    json_object *g = json_object_from_file(path);
    cr_assert(g, "cannot read %s", path);
    return g;
}

/* The texts of a golden: heldout.txt's lines then its "extra" list. */
static size_t texts(json_object *g, char ***line, size_t **len, char **buf)
{
    size_t size, n;
    *buf = clft_slurp(CLFT_GOLDEN_DIR "/text/heldout.txt", &size);
    char **l;
    size_t *ll;
    n = clft_split_lines(*buf, size, &l, &ll);
    json_object *extra = json_object_object_get(g, "extra");
    size_t ne = json_object_array_length(extra);
    *line = malloc((n + ne) * sizeof **line);
    *len = malloc((n + ne) * sizeof **len);
    memcpy(*line, l, n * sizeof *l);
    memcpy(*len, ll, n * sizeof *ll);
    for (size_t i = 0; i < ne; i++) {
        json_object *e = json_object_array_get_idx(extra, i);
        (*line)[n + i] = (char *)json_object_get_string(e);
        (*len)[n + i] = (size_t)json_object_get_string_len(e);
    }
    free(l);
    free(ll);
    return n + ne;
}

static int32_t *ids_of(json_object *a, int64_t *n)
{
    *n = (int64_t)json_object_array_length(a);
    int32_t *v = malloc((size_t)(*n ? *n : 1) * sizeof *v);
    for (int64_t i = 0; i < *n; i++) v[i] = json_object_get_int(json_object_array_get_idx(a, (size_t)i));
    return v;
}

/* One-shot decode and the streamed decode (a token at a time) must agree;
 * returns the one-shot text (malloc'd). */
static char *decode_both(const clf_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags,
                         int *stream_bad)
{
    size_t len = 0;
    clf_tokenizer_decode(t, ids, n, flags, NULL, 0, &len);
    char *text = malloc(len + 1);
    clf_status s = clf_tokenizer_decode(t, ids, n, flags, text, len + 1, &len);
    cr_assert_eq(s, CLF_OK, "decode: %s", clf_context_last_error(NULL));
    clf_detokenizer *d;
    cr_assert_eq(clf_detokenizer_create(t, flags, &d), CLF_OK);
    char *acc = malloc(len * 4 + 64);
    size_t at = 0;
    const char *piece;
    size_t pl;
    for (int64_t i = 0; i <= n; i++) {
        s = i < n ? clf_detokenizer_push(d, ids[i], &piece, &pl) : clf_detokenizer_flush(d, &piece, &pl);
        cr_assert_eq(s, CLF_OK, "stream: %s", clf_context_last_error(NULL));
        if (at + pl < len * 4 + 64) memcpy(acc + at, piece, pl);
        at += pl;
    }
    if (at != len || memcmp(acc, text, len) != 0) (*stream_bad)++;
    clf_detokenizer_free(d);
    free(acc);
    return text;
}

/* Every text's ids and decode, and the random probes' decodes, against the
 * golden; prints the counts. */
static void check_golden(const char *tok_path, const char *golden_path, const char *what)
{
    clf_tokenizer *t = load(tok_path);
    json_object *g = golden(golden_path);
    char **line, *buf;
    size_t *len;
    size_t n = texts(g, &line, &len, &buf);
    json_object *ids = json_object_object_get(g, "ids"), *dec = json_object_object_get(g, "decoded");
    cr_assert_eq(json_object_array_length(ids), n, "%s: golden has %zu texts, expected %zu", what,
                 json_object_array_length(ids), n);
    int enc_bad = 0, dec_bad = 0, stream_bad = 0, probe_bad = 0;
    int32_t *got = malloc(MAXIDS * sizeof *got);
    for (size_t i = 0; i < n; i++) {
        int64_t nw, ng;
        int32_t *want = ids_of(json_object_array_get_idx(ids, i), &nw);
        clf_status s = clf_tokenizer_encode(t, line[i], len[i], got, MAXIDS, &ng);
        cr_assert_eq(s, CLF_OK, "%s: encode line %zu: %s", what, i, clf_context_last_error(NULL));
        if (ng != nw || memcmp(got, want, (size_t)nw * sizeof *got) != 0) {
            if (enc_bad++ < 5) {
                fprintf(stderr, "%s: line %zu \"%.*s\": ids differ (%lld vs %lld):", what, i,
                        (int)len[i], line[i], (long long)ng, (long long)nw);
                for (int64_t k = 0; k < ng && k < 30; k++) fprintf(stderr, " %d/%d", got[k], k < nw ? want[k] : -1);
                fprintf(stderr, "\n");
            }
        }
        char *text = decode_both(t, want, nw, CLF_DECODE_SKIP_SPECIAL, &stream_bad);
        const char *w = json_object_get_string(json_object_array_get_idx(dec, i));
        if (strcmp(text, w) != 0 && dec_bad++ < 5)
            fprintf(stderr, "%s: line %zu: decode \"%s\", expected \"%s\"\n", what, i, text, w);
        free(text);
        free(want);
    }
    json_object *probes = json_object_object_get(g, "probe_ids");
    const char *keys[2] = {"probe_decoded", "probe_decoded_special"};
    for (int f = 0; f < 2; f++) {
        json_object *pd = json_object_object_get(g, keys[f]);
        for (size_t i = 0; pd && i < json_object_array_length(probes); i++) {
            int64_t np;
            int32_t *p = ids_of(json_object_array_get_idx(probes, i), &np);
            char *text = decode_both(t, p, np, f == 0 ? CLF_DECODE_SKIP_SPECIAL : 0, &stream_bad);
            const char *w = json_object_get_string(json_object_array_get_idx(pd, i));
            if (strcmp(text, w) != 0 && probe_bad++ < 5)
                fprintf(stderr, "%s: probe %zu (%s): \"%s\", expected \"%s\"\n", what, i, keys[f],
                        text, w);
            free(text);
            free(p);
        }
    }
    fprintf(stderr, "%s: %zu texts: %d encode, %d decode, %d streamed, %d probe mismatches\n",
            what, n, enc_bad, dec_bad, stream_bad, probe_bad);
    cr_expect_eq(enc_bad + dec_bad + stream_bad + probe_bad, 0, "%s: mismatches (see stderr)", what);
    free(got);
    free(line);
    free(len);
    free(buf);
    json_object_put(g);
    clf_tokenizer_free(t);
}

Test(tokenizer_spm, marian_folder_matches_transformers)
{
    check_golden(WIRE "/marian", WIRE "/marian.json", "marian");
}

Test(tokenizer_spm, xlmr_unigram_json_matches_tokenizers)
{
    check_golden(WIRE "/xlmr/tokenizer.json", WIRE "/xlmr.json", "xlmr");
}

Test(tokenizer_spm, trained_unigram_json_matches_tokenizers)
{
    check_golden(WIRE "/trained/tokenizer.json", WIRE "/trained.json", "trained");
}

/* A bare .spm through the public API: ids and DecodeIds of pip
 * sentencepiece (tests/golden/spm/), byte fallback (per-byte U+FFFD) and
 * SentencePiece BPE included. */
Test(tokenizer_spm, bare_spm_files_match_sentencepiece)
{
    static const char *const names[] = {"unigram", "unigram_bf", "bpe", "bpe_bf_ud", "unigram_sfx"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char tok[512], gold[512];
        snprintf(tok, sizeof tok, CLFT_GOLDEN_DIR "/spm/%s.spm", names[i]);
        snprintf(gold, sizeof gold, CLFT_GOLDEN_DIR "/spm/%s.json", names[i]);
        check_golden(tok, gold, names[i]);
    }
    clf_tokenizer *t = load(CLFT_GOLDEN_DIR "/spm/bpe.spm");
    cr_expect_eq(clf_tokenizer_kind_of(t), CLF_TOKENIZER_KIND_SPM_BPE);
    clf_tokenizer_free(t);
}

/* A copy of the Marian folder with one file changed or removed. */
static void marian_copy(const char *dir, const char *drop, const char *vocab_json)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf %s && cp -r " WIRE "/marian %s", dir, dir);
    cr_assert_eq(system(cmd), 0);
    if (drop) {
        snprintf(cmd, sizeof cmd, "%s/%s", dir, drop);
        unlink(cmd);
    }
    if (vocab_json) {
        snprintf(cmd, sizeof cmd, "%s/vocab.json", dir);
        FILE *f = fopen(cmd, "w");
        fputs(vocab_json, f);
        fclose(f);
    }
}

static void expect_fail(const char *path, clf_status want, const char *needle)
{
    clf_tokenizer *t = (clf_tokenizer *)1;
    clf_status s = clf_tokenizer_load(path, NULL, &t);
    const char *msg = clf_context_last_error(NULL);
    cr_expect_eq(s, want, "%s: got %s (%s), expected %s", path, clf_status_name(s), msg,
                 clf_status_name(want));
    cr_expect_null(t);
    cr_expect(strstr(msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", path, msg, needle);
}

Test(tokenizer_spm, hostile_marian_folders_are_refused_naming_the_file)
{
    char dir[256];
    snprintf(dir, sizeof dir, "/tmp/clft_marian_%d", (int)getpid());
    marian_copy(dir, "source.spm", NULL);
    expect_fail(dir, CLF_ERR_IO, "source.spm");
    marian_copy(dir, NULL, "{\"</s>\": 0, \"<unk>\": 1, \"x\": 2, \"<pad>\": 3}");
    expect_fail(dir, CLF_ERR_BAD_MODEL, "not this model's vocabulary");
    marian_copy(dir, NULL, "{\"</s>\": 0, \"a\": 1}");
    expect_fail(dir, CLF_ERR_BAD_MODEL, "vocab.json");
    marian_copy(dir, NULL, "[1, 2");
    expect_fail(dir, CLF_ERR_BAD_MODEL, "vocab.json");
    char p[512];
    snprintf(p, sizeof p, "%s/target.spm", dir);
    unlink(p);
    cr_assert_eq(mkfifo(p, 0600), 0);
    marian_copy(dir, NULL, NULL); /* cp -r replaces the FIFO: make it again */
    unlink(p);
    cr_assert_eq(mkfifo(p, 0600), 0);
    expect_fail(dir, CLF_ERR_IO, "target.spm");
    snprintf(p, sizeof p, "rm -rf %s", dir);
    cr_expect_eq(system(p), 0);
}

/* A tokenizer.json edited by sed-like replacement of one string. */
static void json_variant(const char *out, const char *from, const char *to)
{
    size_t n;
    char *s = clft_slurp(WIRE "/xlmr/tokenizer.json", &n);
    char *at = strstr(s, from);
    cr_assert(at, "no \"%s\" in the golden", from);
    FILE *f = fopen(out, "w");
    fwrite(s, 1, (size_t)(at - s), f);
    fputs(to, f);
    fputs(at + strlen(from), f);
    fclose(f);
    free(s);
}

Test(tokenizer_spm, hostile_unigram_json_is_refused_naming_the_setting)
{
    char p[256];
    snprintf(p, sizeof p, "/tmp/clft_unigram_%d.json", (int)getpid());
    json_variant(p, "\"precompiled_charsmap\": \"", "\"precompiled_charsmap\": \"@@@@");
    expect_fail(p, CLF_ERR_BAD_MODEL, "base64");
    json_variant(p, "\"precompiled_charsmap\": \"", "\"precompiled_charsmap\": \"A");
    expect_fail(p, CLF_ERR_BAD_MODEL, "multiple of 4");
    json_variant(p, "\"precompiled_charsmap\": \"", "\"precompiled_charsmap\": \"AAAA");
    expect_fail(p, CLF_ERR_BAD_MODEL, "clft_unigram");
    json_variant(p, "\"byte_fallback\": false", "\"byte_fallback\": true");
    expect_fail(p, CLF_ERR_UNSUPPORTED, "byte_fallback");
    json_variant(p, "\"prepend_scheme\": \"always\"", "\"prepend_scheme\": \"first\"");
    expect_fail(p, CLF_ERR_UNSUPPORTED, "prepend_scheme");
    json_variant(p, "\"unk_id\": 3", "\"unk_id\": 99999");
    expect_fail(p, CLF_ERR_BAD_MODEL, "unk_id");
    json_variant(p, "\"type\": \"Precompiled\"", "\"type\": \"NFKD\"");
    expect_fail(p, CLF_ERR_UNSUPPORTED, "NFKD");
    unlink(p);
    cr_assert_eq(mkfifo(p, 0600), 0);
    expect_fail(p, CLF_ERR_IO, p);
    unlink(p);
}
