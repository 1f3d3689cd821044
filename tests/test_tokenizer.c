/* Host tests: the WordPiece tokenizer (src/text). HF `tokenizers` ids on the
 * committed corpus (tests/golden/tokenizer/, made by make_tokenizer_golden.py)
 * for the uncased vocab.txt, the cased path and tokenizer.json; batches,
 * truncation, [UNK] paths, invalid UTF-8, hostile files and allocation
 * failure at every step. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <clformer/clformer.h>

#include "common/testutil.h"
#include "core/core.h"
#include "text/text_internal.h"

#define TOKDIR CLFT_GOLDEN_DIR "/tokenizer"

/* ---- helpers ---- */

static clf_tokenizer *load(const char *path, const clf_tokenizer_params *p)
{
    clf_tokenizer *t = NULL;
    clf_status s = clf_tokenizer_load(path, p, &t);
    cr_assert_eq(s, CLF_OK, "load %s: %s: %s", path, clf_status_name(s),
                 clf_context_last_error(NULL));
    return t;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_ids(const char *what, const int32_t *ids, int64_t n)
{
    fprintf(stderr, "    %s (%lld):", what, (long long)n);
    for (int64_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Encodes every corpus line with t and compares with the expected file. */
static void check_corpus(clf_tokenizer *t, const char *expected_file, const char *what)
{
    size_t csize, esize, *clen, *elen;
    char **cl, **el;
    char *cbuf = clft_slurp(TOKDIR "/corpus.txt", &csize), *ebuf = clft_slurp(expected_file, &esize);
    size_t n = clft_split_lines(cbuf, csize, &cl, &clen), ne = clft_split_lines(ebuf, esize, &el, &elen);
    cr_assert_eq(n, ne, "%s: %zu corpus lines, %zu expected lines", what, n, ne);
    cr_assert_geq(n, 1000);
    int64_t cap = clf_tokenizer_max_length(t);
    int32_t *ids = malloc((size_t)cap * sizeof *ids), *want = malloc((size_t)cap * sizeof *want);
    size_t mismatches = 0, total_ids = 0, bytes = 0;
    double t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        int64_t got = 0, nw = 0;
        clf_status s = clf_tokenizer_encode(t, cl[i], clen[i], ids, cap, &got);
        cr_assert_eq(s, CLF_OK, "%s: line %zu: %s", what, i + 1, clf_context_last_error(NULL));
        total_ids += (size_t)got;
        bytes += clen[i];
        for (char *p = el[i]; *p && nw < cap;) {
            char *end;
            want[nw++] = (int32_t)strtol(p, &end, 10);
            p = end;
            while (*p == ' ')
                p++;
        }
        if (got != nw || memcmp(ids, want, (size_t)got * sizeof *ids) != 0) {
            if (++mismatches <= 5) {
                fprintf(stderr, "  %s: line %zu differs: \"%.80s\"\n", what, i + 1, cl[i]);
                print_ids("clformer", ids, got);
                print_ids("HF", want, nw);
            }
        }
    }
    double dt = now_s() - t0;
    fprintf(stderr,
            "tokenizer %s: %zu lines, %zu mismatches, %zu ids; %.1f ms = %.0f lines/s = "
            "%.2f MB/s\n",
            what, n, mismatches, total_ids, dt * 1e3, (double)n / dt, (double)bytes / dt / 1e6);
    cr_assert_eq(mismatches, 0, "%s: %zu of %zu lines differ from HF tokenizers", what, mismatches,
                 n);
    free(ids);
    free(want);
    free(cl);
    free(clen);
    free(el);
    free(elen);
    free(cbuf);
    free(ebuf);
}

/* ---- HF goldens ---- */

Test(tokenizer, uncased_vocab_txt_matches_hf_on_the_corpus)
{
    clf_tokenizer *t = load(TOKDIR "/vocab.txt", NULL);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 30522);
    cr_assert_eq(clf_tokenizer_max_length(t), 512);
    check_corpus(t, TOKDIR "/expected_uncased.txt", "uncased vocab.txt");
    clf_tokenizer_free(t);
}

Test(tokenizer, cased_path_matches_hf_on_the_corpus)
{
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.lowercase = CLF_TOKENIZER_OFF; /* strip_accents follows: off */
    clf_tokenizer *t = load(TOKDIR "/vocab.txt", &p);
    check_corpus(t, TOKDIR "/expected_cased.txt", "cased vocab.txt");
    clf_tokenizer_free(t);
}

Test(tokenizer, tokenizer_json_matches_hf_on_the_corpus)
{
    clf_tokenizer *t = load(TOKDIR "/tokenizer.json", NULL);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 30522);
    check_corpus(t, TOKDIR "/expected_uncased.txt", "uncased tokenizer.json");
    clf_tokenizer_free(t);
    /* A folder prefers its tokenizer.json. */
    t = load(TOKDIR, NULL);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 30522);
    clf_tokenizer_free(t);
}

/* ---- behaviour ---- */

/* A small vocabulary: ids in line order. */
static const char small_vocab[] =
    "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n,\n!\nun\n##aff"
    "\n##able\nwor\n##ld\nx\n##x\n";

static clf_tokenizer *small(const clf_tokenizer_params *p)
{
    clf_tokenizer *t = NULL;
    clf_status s =
        clf__tokenizer_parse(small_vocab, strlen(small_vocab), false, "small", p, NULL, &t);
    cr_assert_eq(s, CLF_OK, "%s", clf_context_last_error(NULL));
    return t;
}

static void expect_ids(const clf_tokenizer *t, const char *text, const int32_t *want, int64_t n)
{
    int32_t ids[64];
    int64_t got;
    clf_status s = clf_tokenizer_encode(t, text, strlen(text), ids, 64, &got);
    cr_assert_eq(s, CLF_OK, "'%s': %s", text, clf_context_last_error(NULL));
    cr_assert_eq(got, n, "'%s': %lld ids, want %lld", text, (long long)got, (long long)n);
    for (int64_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], want[i], "'%s': id %lld is %d, want %d", text, (long long)i, ids[i],
                     want[i]);
}

Test(tokenizer, pieces_unknown_words_and_long_words)
{
    clf_tokenizer *t = small(NULL);
    expect_ids(t, "Hello, WORLD!", (int32_t[]){2, 5, 7, 6, 8, 3}, 6);
    expect_ids(t, "unaffable", (int32_t[]){2, 9, 10, 11, 3}, 5);
    /* "unaffz": pieces un ##aff then nothing covers "z": the whole word is [UNK]. */
    expect_ids(t, "unaffz hello", (int32_t[]){2, 1, 5, 3}, 4);
    expect_ids(t, "qq", (int32_t[]){2, 1, 3}, 3);
    /* 100 characters are pieces; 101 are one [UNK] (max_input_chars_per_word). */
    char w[128];
    memset(w, 'x', 101);
    w[100] = '\0';
    int32_t ids[128];
    int64_t n;
    cr_assert_eq(clf_tokenizer_encode(t, w, 100, ids, 128, &n), CLF_OK);
    cr_assert_eq(n, 102);
    cr_assert(ids[1] == 14 && ids[2] == 15 && ids[100] == 15 && ids[101] == 3);
    w[100] = 'x';
    cr_assert_eq(clf_tokenizer_encode(t, w, 101, ids, 128, &n), CLF_OK);
    cr_assert(n == 3 && ids[1] == 1, "101 chars: %lld ids, ids[1] %d", (long long)n, ids[1]);
    /* Special tokens written in the text are matched before normalisation. */
    expect_ids(t, "hello[SEP]world [MASK]", (int32_t[]){2, 5, 3, 6, 4, 3}, 6);
    expect_ids(t, "[sep]", (int32_t[]){2, 1, 1, 1, 3}, 5); /* lowercased: not special */
    clf_tokenizer_free(t);
}

Test(tokenizer, empty_text_gives_cls_sep_and_no_special_tokens_gives_none)
{
    clf_tokenizer *t = small(NULL);
    expect_ids(t, "", (int32_t[]){2, 3}, 2);
    expect_ids(t, " \t\u3000\x01 ", (int32_t[]){2, 3}, 2);
    int64_t n = -1;
    cr_assert_eq(clf_tokenizer_encode(t, NULL, 0, NULL, 0, &n), CLF_ERR_OUT_OF_RANGE);
    cr_assert_eq(n, 2, "the length needed comes back");
    clf_tokenizer_free(t);
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.no_special_tokens = true;
    t = small(&p);
    int32_t ids[4];
    cr_assert_eq(clf_tokenizer_encode(t, "", 0, ids, 4, &n), CLF_OK);
    cr_assert_eq(n, 0);
    expect_ids(t, "hello world", (int32_t[]){5, 6}, 2);
    clf_tokenizer_free(t);
}

Test(tokenizer, truncation_keeps_sep_last)
{
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.max_length = 5;
    clf_tokenizer *t = small(&p);
    cr_assert_eq(clf_tokenizer_max_length(t), 5);
    expect_ids(t, "hello world hello world hello", (int32_t[]){2, 5, 6, 5, 3}, 5);
    expect_ids(t, "unaffable hello", (int32_t[]){2, 9, 10, 11, 3}, 5);
    expect_ids(t, "unaffable", (int32_t[]){2, 9, 10, 11, 3}, 5);
    expect_ids(t, "hello", (int32_t[]){2, 5, 3}, 3);
    p.max_length = 2;
    clf_tokenizer *t2 = small(&p);
    expect_ids(t2, "hello world", (int32_t[]){2, 3}, 2);
    clf_tokenizer_free(t2);
    p.max_length = 1; /* no room for [CLS] [SEP] */
    cr_assert_eq(clf__tokenizer_parse(small_vocab, strlen(small_vocab), false, "s", &p, NULL, &t2),
                 CLF_ERR_INVALID_ARG);
    cr_assert_null(t2);
    clf_tokenizer_free(t);
}

Test(tokenizer, batch_is_right_padded_to_the_longest)
{
    clf_tokenizer *t = small(NULL);
    const char *texts[3] = {"hello", "hello world , world", ""};
    int64_t L = clf_tokenizer_max_length(t), S = -1;
    int32_t lengths[3]; /* the type clf_model_encode takes */
    int32_t *ids = malloc((size_t)(3 * L) * sizeof *ids);
    cr_assert_eq(clf_tokenizer_encode_batch(t, 3, texts, NULL, ids, lengths, &S), CLF_OK);
    cr_assert_eq(S, 6);
    cr_assert(lengths[0] == 3 && lengths[1] == 6 && lengths[2] == 2);
    const int32_t want[18] = {2, 5, 3, 0, 0, 0, 2, 5, 6, 7, 6, 3, 2, 3, 0, 0, 0, 0};
    for (int i = 0; i < 18; i++)
        cr_assert_eq(ids[i], want[i], "ids[%d] = %d, want %d", i, ids[i], want[i]);
    /* Explicit lengths (bytes) and n = 0. */
    size_t lens[2] = {5, 3};
    cr_assert_eq(clf_tokenizer_encode_batch(t, 2, (const char *const[]){"hello world", "!!!!"},
                                            lens, ids, lengths, &S),
                 CLF_OK);
    cr_assert(S == 5 && lengths[0] == 3 && lengths[1] == 5 && ids[3] == 0 && ids[5] == 2);
    cr_assert_eq(clf_tokenizer_encode_batch(t, 0, NULL, NULL, NULL, NULL, &S), CLF_OK);
    cr_assert_eq(S, 0);
    /* A bad text names its index. */
    const char *bad[2] = {"ok", "a\xff"};
    cr_assert_eq(clf_tokenizer_encode_batch(t, 2, bad, NULL, ids, lengths, &S),
                 CLF_ERR_INVALID_ARG);
    cr_assert(strstr(clf_context_last_error(NULL), "texts[1]"), "%s", clf_context_last_error(NULL));
    free(ids);
    clf_tokenizer_free(t);
}

Test(tokenizer, invalid_utf8_text_is_an_error_naming_the_offset)
{
    clf_tokenizer *t = small(NULL);
    static const struct {
        const char *text;
        size_t len;
        const char *offset;
    } cases[] = {
        {"hello \xff", 7, "byte 6"},       {"\xc3", 1, "byte 0"},
        {"ab\xc0\x80", 4, "byte 2"},       /* overlong NUL */
        {"x\xed\xa0\x80", 4, "byte 1"},    /* surrogate U+D800 */
        {"\xf4\x90\x80\x80", 4, "byte 0"}, /* above U+10FFFF */
        {"ok\xe2\x82", 4, "byte 2"},       /* truncated sequence */
    };
    int32_t ids[16];
    for (size_t i = 0; i < CLF_ARRAY_LEN(cases); i++) {
        int64_t n = -1;
        clf_status s = clf_tokenizer_encode(t, cases[i].text, cases[i].len, ids, 16, &n);
        cr_assert_eq(s, CLF_ERR_INVALID_ARG, "case %zu: %s", i, clf_status_name(s));
        cr_assert(strstr(clf_context_last_error(NULL), cases[i].offset), "case %zu: '%s'", i,
                  clf_context_last_error(NULL));
        cr_assert_eq(n, 0);
    }
    /* NUL bytes inside a text with its length are valid (and dropped). */
    int64_t n;
    cr_assert_eq(clf_tokenizer_encode(t, "hel\0lo", 6, ids, 16, &n), CLF_OK);
    cr_assert(n == 3 && ids[1] == 5);
    /* NULL arguments. */
    cr_assert_eq(clf_tokenizer_encode(NULL, "a", 1, ids, 16, &n), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf_tokenizer_encode(t, NULL, 1, ids, 16, &n), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf_tokenizer_encode(t, "a", 1, ids, 16, NULL), CLF_ERR_INVALID_ARG);
    clf_tokenizer_free(t);
}

Test(tokenizer, accessors)
{
    clf_tokenizer *t = small(NULL);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 16);
    cr_assert_eq(clf_tokenizer_token_id(t, "##able"), 11);
    cr_assert_eq(clf_tokenizer_token_id(t, "able"), -1);
    cr_assert_eq(clf_tokenizer_token_id(t, NULL), -1);
    cr_assert_str_eq(clf_tokenizer_token(t, 13), "##ld");
    cr_assert_null(clf_tokenizer_token(t, 16));
    cr_assert_null(clf_tokenizer_token(t, -1));
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_PAD), 0);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_UNK), 1);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_CLS), 2);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_SEP), 3);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_MASK), 4);
    cr_assert_eq(clf_tokenizer_special_id(t, (clf_special_token)7), -1);
    cr_assert_eq(clf_tokenizer_vocab_size(NULL), 0);
    clf_tokenizer_free(t);
    clf_tokenizer_free(NULL);
    /* The real vocabulary. */
    t = load(TOKDIR "/vocab.txt", NULL);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_CLS), 101);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_SEP), 102);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_UNK), 100);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_PAD), 0);
    cr_assert_eq(clf_tokenizer_token_id(t, "hello"), 7592);
    clf_tokenizer_free(t);
}

/* ---- hostile files ---- */

static void expect_bad(const char *data, size_t size, bool json, clf_status want, const char *msg)
{
    long live = clf__alloc_live();
    clf_tokenizer *t = (clf_tokenizer *)1;
    clf_status s = clf__tokenizer_parse(data, size, json, "bad.file", NULL, NULL, &t);
    cr_assert_eq(s, want, "'%.60s': status %s, want %s (%s)", data, clf_status_name(s),
                 clf_status_name(want), s ? clf_context_last_error(NULL) : "");
    cr_assert_null(t);
    cr_assert_eq(clf__alloc_live(), live, "'%.60s': leak", data);
    const char *err = clf_context_last_error(NULL);
    cr_assert(strstr(err, "bad.file") && strstr(err, msg), "'%.60s': message '%s' lacks '%s'", data,
              err, msg);
}
#define BAD_TXT(s, msg) expect_bad(s, sizeof(s) - 1, false, CLF_ERR_BAD_MODEL, msg)
#define BAD_JSON(s, st, msg) expect_bad(s, sizeof(s) - 1, true, st, msg)

#define SPECIALS "\"[PAD]\": 0, \"[UNK]\": 1, \"[CLS]\": 2, \"[SEP]\": 3"
#define PRE "\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}"

Test(tokenizer, hostile_vocab_txt_is_rejected)
{
    BAD_TXT("", "empty vocabulary");
    BAD_TXT("[UNK]\n[CLS]\n[SEP]\n[UNK]\n", "duplicate token \"[UNK]\"");
    BAD_TXT("[UNK]\n[CLS]\n[SEP]\nab\xff\n", "line 4 is not valid UTF-8");
    BAD_TXT("[UNK]\n\n[CLS]\n[SEP]\n", "line 2 is an empty token");
    BAD_TXT("[UNK]\n   \r\n[CLS]\n[SEP]\n", "line 2 is an empty token");
    BAD_TXT("[UNK]\na\0b\n[CLS]\n[SEP]\n", "NUL");
    BAD_TXT("[CLS]\n[SEP]\nhello\n", "no unknown token \"[UNK]\"");
    BAD_TXT("[UNK]\n[SEP]\nhello\n", "no CLS token");
    BAD_TXT("[UNK]\n[CLS]\nhello\n", "no SEP token");
    /* CRLF lines and a missing final newline are fine; PAD and MASK optional. */
    clf_tokenizer *t = NULL;
    const char ok[] = "[UNK]\r\n[CLS]\r\n[SEP]\r\nhi";
    cr_assert_eq(clf__tokenizer_parse(ok, sizeof ok - 1, false, "ok", NULL, NULL, &t), CLF_OK);
    cr_assert_eq(clf_tokenizer_vocab_size(t), 4);
    cr_assert_eq(clf_tokenizer_token_id(t, "hi"), 3);
    cr_assert_eq(clf_tokenizer_special_id(t, CLF_TOKEN_PAD), -1);
    const char *texts[2] = {"hi", "hi hi"};
    int32_t ids[2 * 512], lengths[2];
    int64_t S;
    cr_assert_eq(clf_tokenizer_encode_batch(t, 2, texts, NULL, ids, lengths, &S), CLF_OK);
    cr_assert_eq(ids[3], 0, "no PAD: padding with 0");
    clf_tokenizer_free(t);
}

Test(tokenizer, hostile_tokenizer_json_is_rejected)
{
    BAD_JSON("", CLF_ERR_BAD_MODEL, "truncated");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0", CLF_ERR_BAD_MODEL,
             "truncated");
    BAD_JSON("{\"model\": 1,}", CLF_ERR_BAD_MODEL, "invalid JSON");
    BAD_JSON("[1, 2]", CLF_ERR_BAD_MODEL, "not an object");
    BAD_JSON("{} {}", CLF_ERR_BAD_MODEL, "invalid JSON near byte 3");
    BAD_JSON("{\"a\": \"\xff\"}", CLF_ERR_BAD_MODEL, "invalid JSON");
    BAD_JSON("{\"a\": 1}", CLF_ERR_BAD_MODEL, "no \"model\" object");
    BAD_JSON("{\"model\": []}", CLF_ERR_BAD_MODEL, "no \"model\" object");
    BAD_JSON("{\"model\": {\"vocab\": {}}}", CLF_ERR_BAD_MODEL, "no string \"type\"");
    /* A BPE tokenizer.json is the byte-level BPE kind's (test_tokenizer_bpe.c);
     * one without a ByteLevel pre-tokenizer is refused. */
    BAD_JSON("{\"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}", CLF_ERR_UNSUPPORTED,
             "pre_tokenizer \"null\" is not supported with BPE");
    /* Unigram is a kind now (unigram_json.c): an empty vocabulary is malformed. */
    BAD_JSON("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}}", CLF_ERR_BAD_MODEL,
             "[piece, score] pairs");
    BAD_JSON("{\"model\": {\"type\": \"Lattice\", \"vocab\": []}}", CLF_ERR_UNSUPPORTED,
             "\"Lattice\" is not supported");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\"}}", CLF_ERR_BAD_MODEL, "no \"model\".\"vocab\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": [\"a\"]}}", CLF_ERR_BAD_MODEL,
             "no \"model\".\"vocab\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}", CLF_ERR_BAD_MODEL,
             "empty \"model\".\"vocab\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": \"0\"}}}", CLF_ERR_BAD_MODEL,
             "id is not an integer");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0.5}}}", CLF_ERR_BAD_MODEL,
             "id is not an integer");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": -1}}}", CLF_ERR_BAD_MODEL,
             "id -1 outside 0..0");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 2}}}",
             CLF_ERR_BAD_MODEL, "id 2 outside 0..1");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 99999999999999999999}}}",
             CLF_ERR_BAD_MODEL, "outside");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 1e300}}}", CLF_ERR_BAD_MODEL,
             "not an integer");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"b\": 0}}}",
             CLF_ERR_BAD_MODEL, "share id 0");
    /* A repeated key collapses into one entry, so an id falls outside. */
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0, \"a\": 1}}}",
             CLF_ERR_BAD_MODEL, "outside");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"\": 0}}}", CLF_ERR_BAD_MODEL,
             "empty token");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\\u0000b\": 0, \"a\": 1}}}",
             CLF_ERR_BAD_MODEL, "outside"); /* json-c cuts the key at NUL */
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}, " PRE "}",
             CLF_ERR_BAD_MODEL, "no unknown token");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}}}",
             CLF_ERR_UNSUPPORTED, "pre_tokenizer \"null\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}}, \"normalizer\": "
             "{\"type\": \"NFC\"}, " PRE "}",
             CLF_ERR_UNSUPPORTED, "normalizer type \"NFC\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}}, \"normalizer\": "
             "{\"type\": \"BertNormalizer\", \"lowercase\": 1}, " PRE "}",
             CLF_ERR_BAD_MODEL, "\"lowercase\" is not a boolean");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}, "
             "\"max_input_chars_per_word\": -3}, " PRE "}",
             CLF_ERR_BAD_MODEL, "max_input_chars_per_word");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}, "
             "\"continuing_subword_prefix\": \"\"}, " PRE "}",
             CLF_ERR_BAD_MODEL, "continuing_subword_prefix");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}, "
             "\"unk_token\": \"<unk>\"}, " PRE "}",
             CLF_ERR_BAD_MODEL, "no unknown token \"<unk>\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}}, " PRE ", "
             "\"added_tokens\": [{\"id\": 9, \"content\": \"x\"}]}",
             CLF_ERR_UNSUPPORTED, "added_tokens[0] \"x\"");
    BAD_JSON("{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS "}}, " PRE ", "
             "\"added_tokens\": {}}",
             CLF_ERR_BAD_MODEL, "\"added_tokens\" is not an array");
    char deep[4096];
    for (int i = 0; i < 2000; i++)
        deep[i] = '[';
    memcpy(deep + 2000, "\0", 1);
    expect_bad(deep, 2000, true, CLF_ERR_BAD_MODEL, "invalid JSON");
    /* The smallest valid file: no normalizer means no normalisation. */
    const char ok[] = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {" SPECIALS ", \"Hi\": 4, "
                      "\"@@i\": 5}, \"continuing_subword_prefix\": \"@@\"}, " PRE "}";
    clf_tokenizer *t = NULL;
    cr_assert_eq(clf__tokenizer_parse(ok, sizeof ok - 1, true, "ok", NULL, NULL, &t), CLF_OK, "%s",
                 clf_context_last_error(NULL));
    expect_ids(t, "Hi Hii hi", (int32_t[]){2, 4, 4, 5, 1, 3}, 6);
    clf_tokenizer_free(t);
}

static char tmpdir[64];

static void mkfile(const char *name, const char *data)
{
    size_t size = strlen(data);
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    remove(path); /* a FIFO left by a test would block the open for writing */
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite(data, 1, size, f);
    fclose(f);
}

static void expect_load_bad(const char *name, clf_status want, const char *msg)
{
    char path[256];
    snprintf(path, sizeof path, "%s%s%s", tmpdir, name[0] ? "/" : "", name);
    long live = clf__alloc_live();
    clf_tokenizer *t = (clf_tokenizer *)1;
    clf_status s = clf_tokenizer_load(path, NULL, &t);
    cr_assert_eq(s, want, "%s: %s (%s)", path, clf_status_name(s), clf_context_last_error(NULL));
    cr_assert_null(t);
    cr_assert_eq(clf__alloc_live(), live, "%s: leak", path);
    cr_assert(strstr(clf_context_last_error(NULL), msg), "%s: '%s' lacks '%s'", path,
              clf_context_last_error(NULL), msg);
}

Test(tokenizer, bad_files_and_folders_are_clear_errors)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clf_tok_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    expect_load_bad("", CLF_ERR_NOT_FOUND, "neither tokenizer.json nor vocab.txt");
    expect_load_bad("missing.txt", CLF_ERR_IO, "No such file");
    mkfile("empty.txt", "");
    expect_load_bad("empty.txt", CLF_ERR_BAD_MODEL, "empty vocabulary");
    mkfile("empty.json", "");
    expect_load_bad("empty.json", CLF_ERR_BAD_MODEL, "truncated JSON");
    mkfile("vocab.txt", "[UNK]\n[CLS]\n[SEP]\nhi\n");
    mkfile("tokenizer_config.json", "{\"do_lower_case\": \"yes\"}");
    expect_load_bad("vocab.txt", CLF_ERR_BAD_MODEL, "tokenizer_config.json: \"do_lower_case\"");
    mkfile("tokenizer_config.json", "{\"cls_token\": {\"content\": \"<s>\"}}");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "no CLS token \"<s>\"");
    mkfile("tokenizer_config.json", "{\"cls_token\": 5}");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "\"cls_token\" is not a non-empty string");
    /* A sane config: model_max_length and do_lower_case are used. */
    mkfile("tokenizer_config.json", "{\"do_lower_case\": false, \"model_max_length\": 3, "
                                    "\"unk_token\": {\"content\": \"[UNK]\", \"lstrip\": false}}");
    clf_tokenizer *t = load(tmpdir, NULL);
    cr_assert_eq(clf_tokenizer_max_length(t), 3);
    expect_ids(t, "HI hi", (int32_t[]){1, 0, 2}, 3); /* cased: HI is [UNK] */
    clf_tokenizer_free(t);
    /* 1e30 ("no limit" in HF) is not a length: 512. */
    mkfile("tokenizer_config.json", "{\"model_max_length\": 1e30}");
    t = load(tmpdir, NULL);
    cr_assert_eq(clf_tokenizer_max_length(t), 512);
    clf_tokenizer_free(t);
    /* sentence-transformers: max_seq_length wins, its do_lower_case is not
     * the tokenizer's (still lowercasing here: the default for vocab.txt). */
    mkfile("sentence_bert_config.json", "{\"max_seq_length\": 4, \"do_lower_case\": false}");
    t = load(tmpdir, NULL);
    cr_assert_eq(clf_tokenizer_max_length(t), 4);
    expect_ids(t, "HI hi", (int32_t[]){1, 3, 3, 2}, 4);
    clf_tokenizer_free(t);
    mkfile("sentence_bert_config.json", "{\"max_seq_length\": \"long\"}");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "sentence_bert_config.json: \"max_seq_length\"");
    mkfile("sentence_bert_config.json", "{\"max_seq_length\": [1,");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "sentence_bert_config.json");
    mkfile("sentence_bert_config.json", "{}");
    cr_assert_eq(clf_tokenizer_load(NULL, NULL, &t), CLF_ERR_INVALID_ARG);
    cr_assert_eq(clf_tokenizer_load(tmpdir, NULL, NULL), CLF_ERR_INVALID_ARG);
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.lowercase = (clf_tokenizer_flag)7;
    cr_assert_eq(clf_tokenizer_load(tmpdir, &p, &t), CLF_ERR_INVALID_ARG);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    cr_assert_eq(system(cmd), 0);
}

/* A FIFO in place of a tokenizer file: opening it used to wait for a writer
 * forever. It must fail within a second naming it; the alarm turns a
 * regression into a failed test instead of a hung suite. */
static void expect_fifo_refused(const char *name, const char *fifo)
{
    char msg[128];
    snprintf(msg, sizeof msg, "%s is a FIFO, not a regular file", fifo);
    double t0 = clft_now();
    alarm(5);
    expect_load_bad(name, CLF_ERR_IO, msg);
    alarm(0);
    cr_assert_lt(clft_now() - t0, 1.0, "%s: refused after %.2f s", fifo, clft_now() - t0);
}

Test(tokenizer, a_fifo_for_any_tokenizer_file_is_refused_at_once)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clf_tok_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    clft_mkfifo(tmpdir, "vocab.txt");
    expect_fifo_refused("", "vocab.txt");
    expect_fifo_refused("vocab.txt", "vocab.txt");
    mkfile("vocab.txt", "[UNK]\n[CLS]\n[SEP]\nhi\n");
    clft_mkfifo(tmpdir, "tokenizer.json");
    expect_fifo_refused("", "tokenizer.json");
    char path[300];
    snprintf(path, sizeof path, "%s/tokenizer.json", tmpdir);
    remove(path);
    static const char *const configs[] = {"special_tokens_map.json", "tokenizer_config.json",
                                          "sentence_bert_config.json"};
    for (int i = 0; i < 3; i++) {
        clft_mkfifo(tmpdir, configs[i]);
        expect_fifo_refused("", configs[i]);
        mkfile(configs[i], "{}");
    }
    clf_tokenizer *t = load(tmpdir, NULL);
    clf_tokenizer_free(t);
    clft_rmtree(tmpdir);
}

/* The three ways a folder has no usable vocabulary stay apart, so that a
 * caller can say "this model takes token ids" for the first only. */
Test(tokenizer, no_vocabulary_is_not_found_and_a_broken_one_is_not)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clf_tok_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
    expect_load_bad("", CLF_ERR_NOT_FOUND, "neither tokenizer.json nor vocab.txt");
    mkfile("vocab.txt", "[CLS]\n[SEP]\nhello\n");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "no unknown token \"[UNK]\"");
    mkfile("vocab.txt", "[UNK]\n[CLS]\n[SEP]\nab\xff\n");
    expect_load_bad("", CLF_ERR_BAD_MODEL, "line 4 is not valid UTF-8");
    mkfile("tokenizer.json", "{\"model\": {\"type\": \"BPE\", \"vocab\": {}}}");
    expect_load_bad("", CLF_ERR_UNSUPPORTED, "pre_tokenizer \"null\" is not supported with BPE");
    clft_rmtree(tmpdir);
}

/* ---- allocation failure ---- */

static void fail_every_n(const char *path)
{
    long live = clf__alloc_live();
    int succeeded = 0;
    for (long n = 1; n < 200 && !succeeded; n++) {
        clf_tokenizer *t = (clf_tokenizer *)1;
        clf__alloc_fail_at(n);
        clf_status s = clf_tokenizer_load(path, NULL, &t);
        clf__alloc_fail_at(0);
        cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "%s: fail at %ld: %s (%s)", path, n,
                  clf_status_name(s), clf_context_last_error(NULL));
        if (s == CLF_OK) {
            succeeded = 1;
            cr_assert_eq(clf_tokenizer_vocab_size(t), 30522);
        } else {
            cr_assert_null(t);
            cr_assert(strstr(clf_context_last_error(NULL), "out of host memory"));
        }
        clf_tokenizer_free(t);
        cr_assert_eq(clf__alloc_live(), live, "%s: fail at %ld: leak", path, n);
    }
    cr_assert(succeeded, "%s: load succeeds once allocations stop failing", path);
}

Test(tokenizer, allocation_failure_at_every_step_is_clean)
{
    fail_every_n(TOKDIR "/vocab.txt");
    fail_every_n(TOKDIR "/tokenizer.json");
    /* Encoding too (its scratch buffers). */
    clf_tokenizer *t = load(TOKDIR "/vocab.txt", NULL);
    const char *text = "Crème brûlée 我爱北京 unaffable İstanbul, world!";
    int32_t ids[512];
    int64_t n = 0;
    long live = clf__alloc_live();
    int succeeded = 0;
    for (long k = 1; k < 100 && !succeeded; k++) {
        clf__alloc_fail_at(k);
        clf_status s = clf_tokenizer_encode(t, text, strlen(text), ids, 512, &n);
        clf__alloc_fail_at(0);
        cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "encode fail at %ld", k);
        succeeded = s == CLF_OK;
        cr_assert_eq(clf__alloc_live(), live, "encode fail at %ld: leak", k);
    }
    cr_assert(succeeded && n > 10);
    clf_tokenizer_free(t);
}

/* U+0130 lowercases to "i" U+0307 (two characters), HF's ids with the same
 * tiny vocabulary: [2, 4, 5, 6, 3] without accent stripping, [2, 7, 3] with. */
Test(tokenizer, dotted_capital_i_lowercases_to_two_characters)
{
    static const char v[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\ni\n##\xcc\x87\n##stanbul\nistanbul\n";
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.lowercase = CLF_TOKENIZER_ON;
    p.strip_accents = CLF_TOKENIZER_OFF;
    clf_tokenizer *t = NULL;
    cr_assert_eq(clf__tokenizer_parse(v, sizeof v - 1, false, "v", &p, NULL, &t), CLF_OK);
    expect_ids(t, "\xc4\xb0stanbul", (int32_t[]){2, 4, 5, 6, 3}, 5);
    clf_tokenizer_free(t);
    p.strip_accents = CLF_TOKENIZER_ON;
    cr_assert_eq(clf__tokenizer_parse(v, sizeof v - 1, false, "v", &p, NULL, &t), CLF_OK);
    expect_ids(t, "\xc4\xb0stanbul", (int32_t[]){2, 7, 3}, 3);
    clf_tokenizer_free(t);
}
