/* Host tests: byte-level BPE (src/text/bpe*.c) and decoding for every kind
 * (src/text/detokenize.c). HF `tokenizers` ids and decodes of the held-out
 * corpus (tests/golden/bpe/, made by make_bpe_golden.py) for GPT-2 and
 * RoBERTa style tokenizers in both file forms; streaming decode against the
 * one-shot decode; U+FFFD rules; hostile vocab.json / merges.txt /
 * tokenizer.json; allocation failure. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <clformer/clformer.h>

#include "common/testutil.h"
#include "core/core.h"
#include "text/text_internal.h"

#define BPEDIR CLFT_GOLDEN_DIR "/bpe"
#define TEXTDIR CLFT_GOLDEN_DIR "/text"
#define MAXIDS 4096

static clf_tokenizer *load_p(const char *path, const clf_tokenizer_params *p)
{
    clf_tokenizer *t = NULL;
    clf_status s = clf_tokenizer_load(path, p, &t);
    cr_assert_eq(s, CLF_OK, "load %s: %s: %s", path, clf_status_name(s),
                 clf_context_last_error(NULL));
    return t;
}

/* The golden texts: heldout.txt then extra.txt. */
typedef struct texts {
    char *buf[2];
    char **line;
    size_t *len, n, n_heldout;
} texts;

static texts read_texts(void)
{
    texts T;
    size_t size[2], *l[2], n[2];
    char **ls[2];
    T.buf[0] = clft_slurp(TEXTDIR "/heldout.txt", &size[0]);
    T.buf[1] = clft_slurp(BPEDIR "/extra.txt", &size[1]);
    for (int i = 0; i < 2; i++)
        n[i] = clft_split_lines(T.buf[i], size[i], &ls[i], &l[i]);
    T.n_heldout = n[0];
    T.n = n[0] + n[1];
    T.line = malloc(T.n * sizeof *T.line);
    T.len = malloc(T.n * sizeof *T.len);
    memcpy(T.line, ls[0], n[0] * sizeof *T.line);
    memcpy(T.line + n[0], ls[1], n[1] * sizeof *T.line);
    memcpy(T.len, l[0], n[0] * sizeof *T.len);
    memcpy(T.len + n[0], l[1], n[1] * sizeof *T.len);
    for (int i = 0; i < 2; i++) {
        free(ls[i]);
        free(l[i]);
    }
    cr_assert_geq(T.n_heldout, 1200);
    return T;
}

static void free_texts(texts *T)
{
    free(T->buf[0]);
    free(T->buf[1]);
    free(T->line);
    free(T->len);
}

static int64_t parse_ids(const char *s, int32_t *ids)
{
    int64_t n = 0;
    while (*s && n < MAXIDS) {
        char *end;
        ids[n++] = (int32_t)strtol(s, &end, 10);
        s = end;
        while (*s == ' ')
            s++;
    }
    return n;
}

/* A decoded golden line: "=" means the text itself, ":" then the text. */
static void golden_decode(const char *g, const char *text, size_t text_len, const char **s,
                          size_t *n)
{
    if (g[0] == '=') {
        *s = text;
        *n = text_len;
    } else {
        cr_assert_eq(g[0], ':');
        *s = g + 1;
        *n = strlen(g + 1);
    }
}

/* Streams ids through a detokenizer: every chunk must be valid UTF-8 and
 * the chunks together the one-shot decode. */
static void check_stream(const clf_tokenizer *t, const int32_t *ids, int64_t n, unsigned flags,
                         const char *want, size_t want_len, const char *what)
{
    clf_detokenizer *d = NULL;
    cr_assert_eq(clf_detokenizer_create(t, flags, &d), CLF_OK);
    char *acc = malloc(want_len + 64);
    size_t got = 0;
    for (int64_t i = 0; i <= n; i++) {
        const char *chunk;
        size_t len;
        clf_status s = i < n ? clf_detokenizer_push(d, ids[i], &chunk, &len)
                             : clf_detokenizer_flush(d, &chunk, &len);
        cr_assert_eq(s, CLF_OK, "%s: push %lld: %s", what, (long long)i,
                     clf_context_last_error(NULL));
        cr_assert_eq(chunk[len], '\0'); /* NUL-terminated; byte 0 may be inside */
        cr_assert_eq(clf__utf8_invalid_at((const uint8_t *)chunk, len), -1,
                     "%s: chunk %lld is not valid UTF-8", what, (long long)i);
        cr_assert_leq(got + len, want_len, "%s: the stream is longer than the decode", what);
        memcpy(acc + got, chunk, len);
        got += len;
    }
    cr_assert(got == want_len && memcmp(acc, want, got) == 0,
              "%s: the stream \"%.*s\" differs from the decode \"%.*s\"", what, (int)got, acc,
              (int)want_len, want);
    free(acc);
    clf_detokenizer_free(d);
}

/* Encodes every golden text and compares with HF's ids; decodes HF's ids
 * (and ours) and compares with HF's decodes, one-shot and streamed. */
static void check_golden(const char *path, const char *variant)
{
    char f[256];
    texts T = read_texts();
    size_t es, ds, dss, *el, *dl, *dsl;
    char **e, **dec, **decs;
    snprintf(f, sizeof f, BPEDIR "/expected_%s.txt", variant);
    char *ebuf = clft_slurp(f, &es);
    snprintf(f, sizeof f, BPEDIR "/decoded_%s.txt", variant);
    char *dbuf = clft_slurp(f, &ds);
    snprintf(f, sizeof f, BPEDIR "/decoded_skip_%s.txt", variant);
    char *dsbuf = clft_slurp(f, &dss);
    cr_assert_eq(clft_split_lines(ebuf, es, &e, &el), T.n);
    cr_assert_eq(clft_split_lines(dbuf, ds, &dec, &dl), T.n);
    cr_assert_eq(clft_split_lines(dsbuf, dss, &decs, &dsl), T.n);

    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.max_length = MAXIDS;
    clf_tokenizer *t = load_p(path, &p);
    cr_assert_eq(clf_tokenizer_kind_of(t), CLF_TOKENIZER_KIND_BPE);
    static int32_t ids[MAXIDS], want[MAXIDS];
    static char text[1 << 16];
    size_t mismatches = 0, dec_mismatches = 0, n_ids = 0;
    double t0 = clft_now();
    for (size_t i = 0; i < T.n_heldout; i++) {
        int64_t n = 0;
        cr_assert_eq(clf_tokenizer_encode(t, T.line[i], T.len[i], ids, MAXIDS, &n), CLF_OK);
        n_ids += (size_t)n;
    }
    double dt = clft_now() - t0;
    for (size_t i = 0; i < T.n; i++) {
        int64_t n = 0, nw = parse_ids(e[i], want);
        cr_assert_eq(clf_tokenizer_encode(t, T.line[i], T.len[i], ids, MAXIDS, &n), CLF_OK,
                     "%s line %zu: %s", variant, i + 1, clf_context_last_error(NULL));
        if (n != nw || memcmp(ids, want, (size_t)n * sizeof *ids) != 0) {
            if (++mismatches <= 5) {
                fprintf(stderr, "  %s: line %zu differs: \"%.80s\"\n  ours:", path, i + 1,
                        T.line[i]);
                for (int64_t k = 0; k < n && k < 30; k++)
                    fprintf(stderr, " %d", ids[k]);
                fprintf(stderr, "\n  HF:  ");
                for (int64_t k = 0; k < nw && k < 30; k++)
                    fprintf(stderr, " %d", want[k]);
                fprintf(stderr, "\n");
            }
            continue;
        }
        for (int skip = 0; skip < 2; skip++) {
            const char *ref;
            size_t ref_len, len = 0;
            golden_decode(skip ? decs[i] : dec[i], T.line[i], T.len[i], &ref, &ref_len);
            unsigned fl = skip ? CLF_DECODE_SKIP_SPECIAL : 0;
            cr_assert_eq(clf_tokenizer_decode(t, ids, n, fl, text, sizeof text, &len), CLF_OK);
            if (len != ref_len || memcmp(text, ref, len) != 0) {
                if (++dec_mismatches <= 5)
                    fprintf(stderr, "  %s: line %zu decode%s differs:\n  ours \"%s\"\n  HF   \"%.*s\"\n",
                            path, i + 1, skip ? " (skip special)" : "", text, (int)ref_len, ref);
                continue;
            }
            check_stream(t, ids, n, fl, ref, ref_len, T.line[i]);
        }
    }
    fprintf(stderr,
            "tokenizer_bpe %s: %zu texts (%zu held-out), %zu encode mismatches, %zu decode "
            "mismatches; encode %zu held-out lines (%zu ids) in %.1f ms = %.0f lines/s\n",
            path, T.n, T.n_heldout, mismatches, dec_mismatches, T.n_heldout, n_ids, dt * 1e3,
            (double)T.n_heldout / dt);
    cr_assert_eq(mismatches, 0, "%s: %zu of %zu texts encode differently from HF", path,
                 mismatches, T.n);
    cr_assert_eq(dec_mismatches, 0, "%s: %zu decodes differ from HF", path, dec_mismatches);
    clf_tokenizer_free(t);
    free(e);
    free(el);
    free(dec);
    free(dl);
    free(decs);
    free(dsl);
    free(ebuf);
    free(dbuf);
    free(dsbuf);
    free_texts(&T);
}

Test(tokenizer_bpe, gpt2_tokenizer_json_matches_hf_on_the_heldout_corpus)
{
    check_golden(BPEDIR "/gpt2/tokenizer.json", "gpt2");
}

Test(tokenizer_bpe, gpt2_vocab_json_and_merges_txt_match_hf)
{
    check_golden(BPEDIR "/gpt2_files", "gpt2");
}

Test(tokenizer_bpe, roberta_tokenizer_json_matches_hf_on_the_heldout_corpus)
{
    check_golden(BPEDIR "/roberta", "roberta");
}

Test(tokenizer_bpe, roberta_vocab_json_and_merges_txt_match_hf)
{
    check_golden(BPEDIR "/roberta_files", "roberta");
}

/* WordPiece decoding against HF's decode of the WordPiece goldens' ids. */
Test(tokenizer_bpe, wordpiece_decode_matches_hf)
{
    size_t es, ds, *el, *dl;
    char **e, **d;
    char *ebuf = clft_slurp(CLFT_GOLDEN_DIR "/tokenizer/expected_uncased.txt", &es);
    char *dbuf = clft_slurp(BPEDIR "/decoded_wordpiece.txt", &ds);
    size_t n = clft_split_lines(ebuf, es, &e, &el);
    cr_assert_eq(clft_split_lines(dbuf, ds, &d, &dl), n);
    cr_assert_geq(n, 1000);
    clf_tokenizer *t = load_p(CLFT_GOLDEN_DIR "/tokenizer/tokenizer.json", NULL);
    cr_assert_eq(clf_tokenizer_kind_of(t), CLF_TOKENIZER_KIND_WORDPIECE);
    static int32_t ids[MAXIDS];
    static char text[1 << 16];
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t k = parse_ids(e[i], ids);
        size_t len;
        cr_assert_eq(clf_tokenizer_decode(t, ids, k, CLF_DECODE_SKIP_SPECIAL, text, sizeof text,
                                          &len),
                     CLF_OK);
        if (len != dl[i] - 1 || memcmp(text, d[i] + 1, len) != 0) {
            if (++bad <= 5)
                fprintf(stderr, "  wordpiece line %zu: ours \"%s\" HF \"%s\"\n", i + 1, text,
                        d[i] + 1);
            continue;
        }
        check_stream(t, ids, k, CLF_DECODE_SKIP_SPECIAL, text, len, "wordpiece");
    }
    fprintf(stderr, "tokenizer_bpe wordpiece decode: %zu lines, %zu mismatches\n", n, bad);
    cr_assert_eq(bad, 0);
    clf_tokenizer_free(t);
    free(e);
    free(el);
    free(d);
    free(dl);
    free(ebuf);
    free(dbuf);
}

Test(tokenizer_bpe, kinds_special_tokens_and_framing)
{
    clf_tokenizer *g = load_p(BPEDIR "/gpt2_files", NULL), *r = load_p(BPEDIR "/roberta", NULL);
    int32_t eot = clf_tokenizer_token_id(g, "<|endoftext|>");
    cr_assert_geq(eot, 0);
    cr_assert_eq(clf_tokenizer_special_id(g, CLF_TOKEN_BOS), eot);
    cr_assert_eq(clf_tokenizer_special_id(g, CLF_TOKEN_EOS), eot);
    cr_assert_eq(clf_tokenizer_special_id(g, CLF_TOKEN_PAD), -1);
    cr_assert(clf_tokenizer_is_special(g, eot));
    cr_assert_eq(clf_tokenizer_max_length(g), 1024);
    int32_t s = clf_tokenizer_token_id(r, "<s>"), e = clf_tokenizer_token_id(r, "</s>");
    cr_assert_eq(clf_tokenizer_special_id(r, CLF_TOKEN_BOS), s);
    cr_assert_eq(clf_tokenizer_special_id(r, CLF_TOKEN_CLS), s);
    cr_assert_eq(clf_tokenizer_special_id(r, CLF_TOKEN_EOS), e);
    cr_assert_eq(clf_tokenizer_special_id(r, CLF_TOKEN_MASK), clf_tokenizer_token_id(r, "<mask>"));
    cr_assert_eq(clf_tokenizer_kind_of(NULL), CLF_TOKENIZER_KIND_NONE);
    /* Framing and truncation: <s> ... </s> with </s> kept last. */
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.max_length = 4;
    clf_tokenizer *r4 = load_p(BPEDIR "/roberta_files", &p);
    int32_t ids[16];
    int64_t n;
    cr_assert_eq(clf_tokenizer_encode(r4, "hello world again", 17, ids, 16, &n), CLF_OK);
    cr_assert(n == 4 && ids[0] == s && ids[3] == e, "n %lld", (long long)n);
    cr_assert_eq(clf_tokenizer_encode(r4, "", 0, ids, 16, &n), CLF_OK);
    cr_assert(n == 2 && ids[0] == s && ids[1] == e);
    p.no_special_tokens = true;
    clf_tokenizer *r0 = load_p(BPEDIR "/roberta_files", &p);
    cr_assert_eq(clf_tokenizer_encode(r0, "", 0, ids, 16, &n), CLF_OK);
    cr_assert_eq(n, 0);
    /* add_prefix_space forced off: "x" is no longer " x". */
    clf_tokenizer_params q = clf_tokenizer_params_default();
    q.add_prefix_space = CLF_TOKENIZER_OFF;
    clf_tokenizer *roff = load_p(BPEDIR "/roberta", &q);
    int64_t m;
    int32_t a[16];
    cr_assert_eq(clf_tokenizer_encode(r, "x", 1, ids, 16, &n), CLF_OK);
    cr_assert_eq(clf_tokenizer_encode(roff, "x", 1, a, 16, &m), CLF_OK);
    cr_assert(n == 3 && m == 3 && ids[1] != a[1]);
    cr_assert_str_eq(clf_tokenizer_token(roff, a[1]), "x");
    q.add_prefix_space = (clf_tokenizer_flag)7;
    clf_tokenizer *bad = (clf_tokenizer *)1;
    cr_assert_eq(clf_tokenizer_load(BPEDIR "/roberta", &q, &bad), CLF_ERR_INVALID_ARG);
    cr_assert_null(bad);
    clf_tokenizer_free(g);
    clf_tokenizer_free(r);
    clf_tokenizer_free(r4);
    clf_tokenizer_free(r0);
    clf_tokenizer_free(roff);
}

/* Byte tokens that do not form UTF-8: each maximal ill-formed subpart is one
 * U+FFFD (E3 81 'a' -> FFFD a; F0 80 -> FFFD FFFD; a lone C0 -> FFFD), and
 * streaming holds E3 back until it is known to be broken. */
Test(tokenizer_bpe, broken_utf8_becomes_replacement_characters)
{
    clf_tokenizer *t = load_p(BPEDIR "/gpt2/tokenizer.json", NULL);
    int32_t byte[256];
    for (int b = 0; b < 256; b++) {
        char u8[4] = {0};
        int32_t c = b >= 33 && b <= 126 ? b : -1;
        (void)c;
        /* GPT-2's byte characters: find the one-character token of each byte. */
        int32_t cp = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174 ? b
                     : b <= 32                                             ? 256 + b
                     : b <= 160                                            ? 289 + b - 127
                                                                           : 323;
        if (cp < 0x80)
            u8[0] = (char)cp;
        else {
            u8[0] = (char)(0xC0 | (cp >> 6));
            u8[1] = (char)(0x80 | (cp & 0x3F));
        }
        byte[b] = clf_tokenizer_token_id(t, u8);
        cr_assert_geq(byte[b], 0, "byte %d has no token", b);
    }
    struct {
        int n;
        uint8_t bytes[6];
        const char *want;
    } cases[] = {
        {3, {0xE3, 0x81, 'a'}, "\xEF\xBF\xBD" "a"},
        {2, {0xF0, 0x80}, "\xEF\xBF\xBD\xEF\xBF\xBD"},
        {1, {0xC0}, "\xEF\xBF\xBD"},
        {3, {0xE3, 0x81, 0x82}, "\xE3\x81\x82"},
        {4, {0xED, 0xA0, 0x80, 'z'}, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz"},
        {2, {'a', 0xF4}, "a\xEF\xBF\xBD"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int32_t ids[6];
        for (int i = 0; i < cases[c].n; i++)
            ids[i] = byte[cases[c].bytes[i]];
        char text[64];
        size_t len;
        cr_assert_eq(clf_tokenizer_decode(t, ids, cases[c].n, 0, text, sizeof text, &len), CLF_OK);
        cr_assert_str_eq(text, cases[c].want, "case %zu", c);
        check_stream(t, ids, cases[c].n, 0, cases[c].want, strlen(cases[c].want), "fffd");
    }
    /* Size query, a too-small buffer, bad ids and flags. */
    int32_t ids[2] = {byte['h'], byte['i']};
    size_t len = 0;
    char small[2];
    cr_assert_eq(clf_tokenizer_decode(t, ids, 2, 0, NULL, 0, &len), CLF_ERR_OUT_OF_RANGE);
    cr_assert_eq(len, 2);
    cr_assert_eq(clf_tokenizer_decode(t, ids, 2, 0, small, 2, &len), CLF_ERR_OUT_OF_RANGE);
    ids[1] = (int32_t)clf_tokenizer_vocab_size(t);
    cr_assert_eq(clf_tokenizer_decode(t, ids, 2, 0, small, 2, &len), CLF_ERR_INVALID_ARG);
    cr_assert(strstr(clf_context_last_error(NULL), "(at 1)"));
    cr_assert_eq(clf_tokenizer_decode(t, ids, 1, 8, small, 2, &len), CLF_ERR_INVALID_ARG);
    clf_detokenizer *d;
    const char *chunk;
    cr_assert_eq(clf_detokenizer_create(t, 0, &d), CLF_OK);
    cr_assert_eq(clf_detokenizer_push(d, byte[0xE3], &chunk, &len), CLF_OK);
    cr_assert_eq(len, 0, "an incomplete character is held back");
    cr_assert_eq(clf_detokenizer_push(d, -1, &chunk, &len), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf_detokenizer_push(d, byte[0x81], &chunk, &len), CLF_OK);
    cr_assert_eq(len, 0);
    cr_assert_eq(clf_detokenizer_push(d, byte[0x82], &chunk, &len), CLF_OK);
    cr_assert_str_eq(chunk, "\xE3\x81\x82");
    cr_assert_eq(clf_detokenizer_push(d, byte[0xE3], &chunk, &len), CLF_OK);
    cr_assert_eq(clf_detokenizer_flush(d, &chunk, &len), CLF_OK);
    cr_assert_str_eq(chunk, "\xEF\xBF\xBD");
    clf_detokenizer_free(d);
    clf_detokenizer_free(NULL);
    clf_tokenizer_free(t);
}

/* Random id sequences (bytes that rarely form UTF-8): the stream's chunks
 * are valid UTF-8 and add up to the one-shot decode. */
Test(tokenizer_bpe, random_ids_stream_like_the_one_shot_decode)
{
    uint64_t seed = clft_seed();
    clft_rng rng = clft_rng_make(seed, 14);
    clf_tokenizer *ts[2] = {load_p(BPEDIR "/roberta", NULL),
                            load_p(CLFT_GOLDEN_DIR "/tokenizer/vocab.txt", NULL)};
    static char text[1 << 16];
    for (int k = 0; k < 2; k++) {
        int64_t V = clf_tokenizer_vocab_size(ts[k]);
        for (int trial = 0; trial < 300; trial++) {
            int32_t ids[64];
            int64_t n = (int64_t)(clft_next(&rng) % 64);
            for (int64_t i = 0; i < n; i++)
                ids[i] = (int32_t)(clft_next(&rng) % (uint64_t)(trial % 2 ? 300 : V));
            unsigned fl = trial % 3 == 0 ? CLF_DECODE_SKIP_SPECIAL : 0;
            size_t len;
            cr_assert_eq(clf_tokenizer_decode(ts[k], ids, n, fl, text, sizeof text, &len), CLF_OK);
            cr_assert_eq(clf__utf8_invalid_at((const uint8_t *)text, len), -1, "seed %llu",
                         (unsigned long long)seed);
            char what[64];
            snprintf(what, sizeof what, "seed %llu trial %d", (unsigned long long)seed, trial);
            check_stream(ts[k], ids, n, fl, text, len, what);
        }
        clf_tokenizer_free(ts[k]);
    }
}

/* ---- hostile files ---- */

static char tmpdir[64];

static void mkfile(const char *name, const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    remove(path);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(data, 1, strlen(data), f);
    fclose(f);
}

static void expect_bad(const char *name, clf_status want, const char *msg)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", tmpdir, name[0] ? "/" : "", name);
    long live = clf__alloc_live();
    clf_tokenizer *t = (clf_tokenizer *)1;
    alarm(5); /* a FIFO that blocked would end the test here */
    clf_status s = clf_tokenizer_load(path, NULL, &t);
    alarm(0);
    cr_assert_eq(s, want, "%s: %s (%s)", path, clf_status_name(s), clf_context_last_error(NULL));
    cr_assert_null(t);
    cr_assert_eq(clf__alloc_live(), live, "%s: leak", path);
    cr_assert(strstr(clf_context_last_error(NULL), msg), "%s: '%s' lacks '%s'", path,
              clf_context_last_error(NULL), msg);
}

#define VOCAB "{\"a\": 0, \"b\": 1, \"ab\": 2, \"\\u0120\": 3}"

Test(tokenizer_bpe, hostile_vocab_json_and_merges_txt_are_rejected)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clf_bpe_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    mkfile("merges.txt", "#version: 0.2\na b\n");
    expect_bad("", CLF_ERR_IO, "vocab.json");
    mkfile("vocab.json", VOCAB);
    clf_tokenizer *t = load_p(tmpdir, NULL);
    cr_assert_eq(clf_tokenizer_kind_of(t), CLF_TOKENIZER_KIND_BPE);
    int32_t ids[8];
    int64_t n;
    cr_assert_eq(clf_tokenizer_encode(t, "ab a", 4, ids, 8, &n), CLF_OK);
    cr_assert(n == 3 && ids[0] == 2 && ids[1] == 3 && ids[2] == 0, "n %lld", (long long)n);
    clf_tokenizer_free(t);
    t = load_p(BPEDIR "/../bpe/gpt2_files/vocab.json", NULL); /* a file path works too */
    clf_tokenizer_free(t);

    mkfile("vocab.json", "{\"a\": 0, \"b\": 1");
    expect_bad("", CLF_ERR_BAD_MODEL, "vocab.json: truncated JSON");
    mkfile("vocab.json", "{\"a\": 0, \"b\": 0}");
    expect_bad("", CLF_ERR_BAD_MODEL, "tokens \"a\" and \"b\" share id 0");
    mkfile("vocab.json", "{\"a\": 0, \"b\": 1, \"c\": 1}");
    expect_bad("", CLF_ERR_BAD_MODEL, "share id 1");
    mkfile("vocab.json", "{\"a\": 0, \"b\": 99999999999}");
    expect_bad("", CLF_ERR_BAD_MODEL, "outside 0..1");
    mkfile("vocab.json", "[1]");
    expect_bad("", CLF_ERR_BAD_MODEL, "not an object");
    mkfile("vocab.json", VOCAB);
    mkfile("merges.txt", "a c\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "merges.txt: merge 1: token \"c\" is not in the vocabulary");
    mkfile("merges.txt", "a b\nb a\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "merge 2: the merged token \"ba\" is not in the vocabulary");
    mkfile("merges.txt", "a b\n\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "merges.txt: line 2 is not two tokens separated by one space");
    mkfile("merges.txt", "a  b\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "line 1 is not two tokens");
    mkfile("merges.txt", "a b c\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "line 1 is not two tokens");
    mkfile("merges.txt", "a \xff\n");
    expect_bad("", CLF_ERR_BAD_MODEL, "merges.txt: not valid UTF-8 at byte 2");
    /* Added tokens past the vocabulary must follow it without holes. */
    mkfile("merges.txt", "a b\n");
    mkfile("tokenizer_config.json",
           "{\"added_tokens_decoder\": {\"9\": {\"content\": \"<x>\", \"special\": true}}}");
    expect_bad("", CLF_ERR_BAD_MODEL, "ids past the vocabulary (4 entries) must follow it");
    mkfile("tokenizer_config.json",
           "{\"added_tokens_decoder\": {\"4\": {\"content\": \"<x>\", \"special\": true}}}");
    t = load_p(tmpdir, NULL);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 5);
    cr_assert_eq(clf_tokenizer_encode(t, "a<x>b", 5, ids, 8, &n), CLF_OK);
    cr_assert(n == 3 && ids[1] == 4 && clf_tokenizer_is_special(t, 4));
    clf_tokenizer_free(t);
    mkfile("tokenizer_config.json", "{\"added_tokens_decoder\": {\"x\": {\"content\": \"<x>\"}}}");
    expect_bad("", CLF_ERR_BAD_MODEL, "added_tokens_decoder entry \"x\"");
    mkfile("tokenizer_config.json", "{}");
    /* FIFOs are refused at once, for both files. */
    clft_mkfifo(tmpdir, "merges.txt");
    expect_bad("", CLF_ERR_IO, "merges.txt is a FIFO, not a regular file");
    mkfile("merges.txt", "a b\n");
    clft_mkfifo(tmpdir, "vocab.json");
    expect_bad("", CLF_ERR_IO, "vocab.json is a FIFO, not a regular file");
    clft_rmtree(tmpdir);
}

#define PIPE                                                                                       \
    "\"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false}, \"decoder\": "    \
    "{\"type\": \"ByteLevel\"}"
#define MODEL(merges) "\"model\": {\"type\": \"BPE\", \"vocab\": " VOCAB ", \"merges\": " merges "}"

Test(tokenizer_bpe, hostile_tokenizer_json_is_rejected)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clf_bpe_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    static const struct {
        const char *json;
        clf_status st;
        const char *msg;
    } cases[] = {
        {"{" MODEL("[\"a b\"]") ", " PIPE "}", CLF_OK, ""},
        {"{" MODEL("[[\"a\", \"b\"]]") ", " PIPE "}", CLF_OK, ""},
        {"{" MODEL("[\"a x\"]") ", " PIPE "}", CLF_ERR_BAD_MODEL, "merge 1: token \"x\""},
        {"{" MODEL("[\"ab\"]") ", " PIPE "}", CLF_ERR_BAD_MODEL, "merges[0] is neither"},
        {"{" MODEL("[[\"a\"]]") ", " PIPE "}", CLF_ERR_BAD_MODEL, "merges[0] is neither"},
        {"{" MODEL("{}") ", " PIPE "}", CLF_ERR_BAD_MODEL, "\"merges\" is not an array"},
        {"{" MODEL("[\"a b\"]") "}", CLF_ERR_UNSUPPORTED, "pre_tokenizer \"null\""},
        {"{" MODEL("[\"a b\"]") ", \"pre_tokenizer\": {\"type\": \"ByteLevel\"}}",
         CLF_ERR_UNSUPPORTED, "decoder \"null\""},
        {"{" MODEL("[\"a b\"]") ", \"normalizer\": {\"type\": \"NFC\"}, " PIPE "}",
         CLF_ERR_UNSUPPORTED, "normalizer type \"NFC\""},
        {"{\"model\": {\"type\": \"BPE\", \"dropout\": 0.1, \"vocab\": " VOCAB
         ", \"merges\": []}, " PIPE "}",
         CLF_ERR_UNSUPPORTED, "dropout"},
        {"{\"model\": {\"type\": \"BPE\", \"unk_token\": \"<unk>\", \"vocab\": " VOCAB
         ", \"merges\": []}, " PIPE "}",
         CLF_ERR_BAD_MODEL, "\"unk_token\" is not a token"},
        {"{" MODEL("[]") ", " PIPE ", \"added_tokens\": [{\"id\": 7, \"content\": \"<x>\"}]}",
         CLF_ERR_BAD_MODEL, "must follow it without holes"},
        {"{" MODEL("[]") ", " PIPE ", \"added_tokens\": [{\"id\": 1, \"content\": \"<x>\"}]}",
         CLF_ERR_BAD_MODEL, "is not the vocabulary's entry \"b\""},
        {"{" MODEL("[]") ", " PIPE
         ", \"added_tokens\": [{\"id\": 4, \"content\": \"<x>\", \"single_word\": true}]}",
         CLF_ERR_UNSUPPORTED, "single_word"},
        {"{" MODEL("[]") ", " PIPE
         ", \"post_processor\": {\"type\": \"RobertaProcessing\", \"cls\": [\"a\", 1], \"sep\": "
         "[\"b\", 1]}}",
         CLF_ERR_BAD_MODEL, "\"cls\": \"a\" is not token 1"},
        {"{" MODEL("[]") ", " PIPE
         ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": "
         "{\"id\": \"A\"}}, {\"SpecialToken\": {\"id\": \"b\"}}], \"special_tokens\": {\"b\": "
         "{\"ids\": [1]}}}}",
         CLF_OK, ""},
        {"{" MODEL("[]") ", " PIPE
         ", \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\": "
         "{\"id\": \"A\"}}, {\"SpecialToken\": {\"id\": \"b\"}}], \"special_tokens\": {\"b\": "
         "{\"ids\": [99]}}}}",
         CLF_ERR_BAD_MODEL, "an id outside the vocabulary"},
        {"{" MODEL("[]") ", " PIPE ", \"post_processor\": {\"type\": \"Foo\"}}",
         CLF_ERR_UNSUPPORTED, "post_processor \"Foo\""},
        {"{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0", CLF_ERR_BAD_MODEL, "truncated JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mkfile("tokenizer.json", cases[i].json);
        if (cases[i].st == CLF_OK) {
            clf_tokenizer *t = load_p(tmpdir, NULL);
            int32_t ids[8];
            int64_t n;
            cr_assert_eq(clf_tokenizer_encode(t, "ab", 2, ids, 8, &n), CLF_OK);
            cr_assert(ids[0] == (i < 2 ? 2 : 0), "case %zu", i);
            clf_tokenizer_free(t);
        } else {
            expect_bad("", cases[i].st, cases[i].msg);
        }
    }
    clft_rmtree(tmpdir);
}

Test(tokenizer_bpe, allocation_failure_at_every_step_is_clean)
{
    static const char *const paths[] = {BPEDIR "/roberta/tokenizer.json", BPEDIR "/roberta_files"};
    for (int p = 0; p < 2; p++) {
        long live = clf__alloc_live();
        int ok = 0;
        for (long k = 1; k < 400 && !ok; k++) {
            clf_tokenizer *t = (clf_tokenizer *)1;
            clf__alloc_fail_at(k);
            clf_status s = clf_tokenizer_load(paths[p], NULL, &t);
            clf__alloc_fail_at(0);
            cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "%s fail at %ld: %s", paths[p], k,
                      clf_context_last_error(NULL));
            ok = s == CLF_OK;
            if (ok) {
                /* Encode, decode and stream under failures too. */
                const char *text = "Crème <mask> 日本語 😀 it's";
                int32_t ids[64];
                int64_t n = 0;
                for (long j = 1; j < 100; j++) {
                    clf__alloc_fail_at(j);
                    clf_status e = clf_tokenizer_encode(t, text, strlen(text), ids, 64, &n);
                    char out[256];
                    size_t len;
                    clf_status d = e == CLF_OK ? clf_tokenizer_decode(t, ids, n, 0, out, 256, &len)
                                               : CLF_ERR_OUT_OF_MEMORY;
                    clf_detokenizer *dt = NULL;
                    const char *chunk;
                    if (clf_detokenizer_create(t, 0, &dt) == CLF_OK && e == CLF_OK)
                        for (int64_t i = 0; i < n; i++)
                            (void)clf_detokenizer_push(dt, ids[i], &chunk, &len);
                    clf__alloc_fail_at(0);
                    clf_detokenizer_free(dt);
                    cr_assert(e == CLF_OK || e == CLF_ERR_OUT_OF_MEMORY);
                    cr_assert(d == CLF_OK || d == CLF_ERR_OUT_OF_MEMORY);
                }
            }
            clf_tokenizer_free(t);
            cr_assert_eq(clf__alloc_live(), live, "%s fail at %ld: leak", paths[p], k);
        }
        cr_assert(ok, "%s: load succeeds once allocations stop failing", paths[p]);
    }
}
