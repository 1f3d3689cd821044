/*
 * The SentencePiece engine (src/text/spm_*.c) against the reference library:
 * tests/golden/spm/make_spm_golden.py trained five models with pip
 * sentencepiece and recorded the ids of every held-out line (plus edge
 * cases) and sentencepiece's decode of those ids. Here every line must give
 * the same ids and the same decode; hostile model files are refused with a
 * message naming the file; allocation failures leak nothing.
 */
#include <criterion/criterion.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <clformer/context.h>

#include "common/testutil.h"
#include "core/core.h"
#include "text/spm.h"

/* ---- goldens ---- */

typedef struct golden {
    char **lines;
    size_t *lens;
    int n;
    json_object *root; /* ids and decoded */
} golden;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)n + 1);
    cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
    p[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return p;
}

/* The held-out lines (split at "\n", the final newline ending the last line)
 * followed by the golden's "extra" lines, as the generator built them. */
static golden read_golden(const char *model)
{
    golden g = {0};
    char path[512];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/spm/%s.json", clft_golden_dir(), model);
    g.root = json_object_from_file(path);
    cr_assert_not_null(g.root, "cannot parse %s", path);
    /* Hand-written edge models have their own lines only. */
    json_object *extra = json_object_object_get(g.root, "lines");
    char *text = NULL;
    if (!extra) {
        extra = json_object_object_get(g.root, "extra");
        snprintf(path, sizeof path, "%s/text/heldout.txt", clft_golden_dir());
        text = slurp(path, &n);
    }
    size_t n_extra = json_object_array_length(extra);
    g.lines = malloc((n + 1 + n_extra) * sizeof *g.lines);
    g.lens = malloc((n + 1 + n_extra) * sizeof *g.lens);
    for (char *p = text; text && p < text + n;) {
        char *nl = memchr(p, '\n', (size_t)(text + n - p));
        size_t k = nl ? (size_t)(nl - p) : (size_t)(text + n - p);
        g.lines[g.n] = malloc(k + 1);
        memcpy(g.lines[g.n], p, k);
        g.lines[g.n][k] = '\0';
        g.lens[g.n++] = k;
        p += k + 1;
    }
    for (size_t i = 0; i < n_extra; i++) {
        json_object *e = json_object_array_get_idx(extra, i);
        g.lens[g.n] = (size_t)json_object_get_string_len(e);
        g.lines[g.n] = malloc(g.lens[g.n] + 1);
        memcpy(g.lines[g.n], json_object_get_string(e), g.lens[g.n] + 1);
        g.n++;
    }
    free(text);
    return g;
}

static void free_golden(golden *g)
{
    for (int i = 0; i < g->n; i++) free(g->lines[i]);
    free(g->lines);
    free(g->lens);
    json_object_put(g->root);
}

static clf__spm *load_model(const char *model)
{
    char path[512];
    snprintf(path, sizeof path, "%s/spm/%s.spm", clft_golden_dir(), model);
    clf__spm *m = NULL;
    clf_status s = clf__spm_load(path, &m);
    cr_assert_eq(s, CLF_OK, "%s: %s", path, clf_context_last_error(NULL));
    return m;
}

static void print_ids(const char *what, const int32_t *ids, int64_t n)
{
    fprintf(stderr, "  %s:", what);
    for (int64_t i = 0; i < n && i < 40; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "%s\n", n > 40 ? " ..." : "");
}

/* Decodes the random id sequences, compares with sentencepiece's decode. */
static int check_probes(const char *model, const clf__spm *m, json_object *root)
{
    json_object *ids = json_object_object_get(root, "probe_ids");
    json_object *decoded = json_object_object_get(root, "probe_decoded");
    int n = (int)json_object_array_length(ids), bad = 0;
    cr_assert_geq(n, 100, "%s: %d probes", model, n);
    for (int i = 0; i < n; i++) {
        json_object *row = json_object_array_get_idx(ids, (size_t)i);
        int32_t seq[64];
        int64_t k = (int64_t)json_object_array_length(row);
        cr_assert_leq(k, 64);
        for (int64_t j = 0; j < k; j++)
            seq[j] = json_object_get_int(json_object_array_get_idx(row, (size_t)j));
        char *text;
        size_t len;
        cr_assert_eq(clf__spm_decode(m, seq, k, &text, &len), CLF_OK, "%s probe %d: %s", model,
                     i, clf_context_last_error(NULL));
        json_object *d = json_object_array_get_idx(decoded, (size_t)i);
        if ((size_t)json_object_get_string_len(d) != len ||
            memcmp(json_object_get_string(d), text, len) != 0) {
            if (bad++ < 5) {
                fprintf(stderr, "%s probe %d: decode \"%s\", sentencepiece \"%s\"\n", model, i,
                        text, json_object_get_string(d));
                print_ids("ids", seq, k);
            }
        }
        clf__free(text);
    }
    return bad;
}

/* Encodes every line, compares ids and the decode with sentencepiece's. */
static void check_model(const char *model, int expect_pieces)
{
    golden g = read_golden(model);
    clf__spm *m = load_model(model);
    cr_assert_eq(clf__spm_n_pieces(m), expect_pieces);
    json_object *ids = json_object_object_get(g.root, "ids");
    json_object *decoded = json_object_object_get(g.root, "decoded");
    cr_assert_eq((int)json_object_array_length(ids), g.n, "%s: %d lines, golden has %d", model,
                 g.n, (int)json_object_array_length(ids));
    cr_assert_geq(g.n, expect_pieces < 100 ? 9 : 1200, "%s: only %d lines", model, g.n);
    int id_mismatch = 0, decode_mismatch = 0;
    int64_t total = 0;
    clf__spm_ids v = {0};
    for (int i = 0; i < g.n; i++) {
        json_object *want = json_object_array_get_idx(ids, (size_t)i);
        int64_t nw = (int64_t)json_object_array_length(want);
        v.n = 0;
        clf_status s = clf__spm_encode(m, g.lines[i], g.lens[i], &v);
        cr_assert_eq(s, CLF_OK, "%s line %d: %s", model, i + 1, clf_context_last_error(NULL));
        bool same = v.n == nw;
        for (int64_t k = 0; same && k < nw; k++)
            same = v.ids[k] == json_object_get_int(json_object_array_get_idx(want, (size_t)k));
        total += v.n;
        if (!same) {
            if (id_mismatch++ < 5) {
                fprintf(stderr, "%s line %d \"%s\": ids differ\n", model, i + 1, g.lines[i]);
                print_ids("ours", v.ids, v.n);
                int32_t w[4096];
                for (int64_t k = 0; k < nw && k < 4096; k++)
                    w[k] = json_object_get_int(json_object_array_get_idx(want, (size_t)k));
                print_ids("sentencepiece", w, nw);
            }
            continue;
        }
        char *text;
        size_t len;
        s = clf__spm_decode(m, v.ids, v.n, &text, &len);
        cr_assert_eq(s, CLF_OK, "%s line %d: %s", model, i + 1, clf_context_last_error(NULL));
        json_object *d = json_object_array_get_idx(decoded, (size_t)i);
        if ((size_t)json_object_get_string_len(d) != len ||
            memcmp(json_object_get_string(d), text, len) != 0) {
            if (decode_mismatch++ < 5)
                fprintf(stderr, "%s line %d: decode \"%s\", sentencepiece \"%s\"\n", model, i + 1,
                        text, json_object_get_string(d));
        }
        clf__free(text);
    }
    int probe_mismatch = check_probes(model, m, g.root);
    fprintf(stderr,
            "spm %s: %d lines, %lld ids: %d id mismatches, %d decode mismatches, %d of the "
            "random-id decodes differ\n",
            model, g.n, (long long)total, id_mismatch, decode_mismatch, probe_mismatch);
    cr_assert_eq(probe_mismatch, 0, "%s: %d random id sequences decode differently", model,
                 probe_mismatch);
    cr_assert_eq(id_mismatch, 0, "%s: %d of %d lines encode differently from sentencepiece",
                 model, id_mismatch, g.n);
    cr_assert_eq(decode_mismatch, 0, "%s: %d of %d lines decode differently", model,
                 decode_mismatch, g.n);
    clf__spm_ids_clear(&v);
    clf__spm_free(m);
    free_golden(&g);
}

Test(spm, unigram_with_byte_fallback_matches_sentencepiece) { check_model("unigram_bf", 1000); }
Test(spm, unigram_with_unk_matches_sentencepiece) { check_model("unigram", 1000); }
Test(spm, bpe_matches_sentencepiece) { check_model("bpe", 1000); }
Test(spm, bpe_with_byte_fallback_and_user_symbols_matches_sentencepiece)
{
    check_model("bpe_bf_ud", 1200);
}
Test(spm, unigram_with_user_defined_pieces_matches_sentencepiece)
{
    check_model("unigram_ud", 1000);
}
Test(spm, hand_written_unigram_edge_cases_match_sentencepiece) { check_model("edge_unigram", 9); }
Test(spm, hand_written_bpe_edge_cases_match_sentencepiece) { check_model("edge_bpe", 13); }
Test(spm, unigram_identity_whitespace_suffix_matches_sentencepiece)
{
    check_model("unigram_sfx", 800);
}

Test(spm, special_ids_and_pieces)
{
    clf__spm *m = load_model("unigram_bf");
    cr_assert_eq(clf__spm_unk_id(m), 0);
    cr_assert_eq(clf__spm_bos_id(m), 1);
    cr_assert_eq(clf__spm_eos_id(m), 2);
    cr_assert_eq(clf__spm_pad_id(m), -1); /* pad_id = -1 by default: no <pad> piece */
    cr_assert_eq(clf__spm_algorithm(m), CLF__SPM_UNIGRAM);
    cr_assert_eq(clf__spm_piece_type(m, 3), CLF__SPM_BYTE);
    size_t len;
    cr_assert_str_eq(clf__spm_piece(m, 3, &len), "<0x00>");
    cr_assert_eq(clf__spm_piece_id(m, "<0xFF>", 6), 258);
    cr_assert_null(clf__spm_piece(m, 1000, &len));
    /* Control pieces are invisible, an unknown id is refused by name. */
    int32_t ids[] = {1, 2};
    char *text;
    cr_assert_eq(clf__spm_decode(m, ids, 2, &text, &len), CLF_OK);
    cr_assert_eq(len, 0);
    clf__free(text);
    int32_t bad[] = {5, 1000};
    cr_assert_eq(clf__spm_decode(m, bad, 2, &text, &len), CLF_ERR_OUT_OF_RANGE);
    cr_assert(strstr(clf_context_last_error(NULL), "id 1000 at position 1"),
              "%s", clf_context_last_error(NULL));
    clf__spm_free(m);
}

/* ---- hostile files ---- */

/* A tiny protobuf writer for hand-made models. */
typedef struct pb {
    uint8_t b[4096];
    size_t n;
} pb;

static void pb_varint(pb *p, uint64_t v)
{
    do {
        p->b[p->n++] = (uint8_t)((v & 0x7F) | (v > 0x7F ? 0x80 : 0));
        v >>= 7;
    } while (v);
}
static void pb_key(pb *p, unsigned field, unsigned wt) { pb_varint(p, (uint64_t)field << 3 | wt); }
static void pb_bytes(pb *p, unsigned field, const void *s, size_t n)
{
    pb_key(p, field, 2);
    pb_varint(p, n);
    memcpy(p->b + p->n, s, n);
    p->n += n;
}
static void pb_piece(pb *p, const char *piece, float score, int type)
{
    pb sub = {.n = 0};
    pb_bytes(&sub, 1, piece, strlen(piece));
    pb_key(&sub, 2, 5);
    memcpy(sub.b + sub.n, &score, 4);
    sub.n += 4;
    pb_key(&sub, 3, 0);
    pb_varint(&sub, (uint64_t)type);
    pb_bytes(p, 1, sub.b, sub.n);
}

/* <unk>, <s>, </s>, "▁a", "b": a valid Unigram model to damage. */
static void base_model(pb *p)
{
    p->n = 0;
    pb_piece(p, "<unk>", 0, CLF__SPM_UNKNOWN);
    pb_piece(p, "<s>", 0, CLF__SPM_CONTROL);
    pb_piece(p, "</s>", 0, CLF__SPM_CONTROL);
    pb_piece(p, "\xE2\x96\x81" "a", -1, CLF__SPM_NORMAL);
    pb_piece(p, "b", -2, CLF__SPM_NORMAL);
}

static void expect_refused(const uint8_t *data, size_t n, clf_status want, const char *text)
{
    clf__spm *m = (clf__spm *)1;
    long live = clf__alloc_live();
    clf_status s = clf__spm_parse(data, n, "evil.spm", &m);
    cr_assert_eq(s, want, "want %s, got %s: %s", clf_status_name(want), clf_status_name(s),
                 clf_context_last_error(NULL));
    cr_assert_null(m);
    const char *e = clf_context_last_error(NULL);
    cr_assert(strstr(e, "evil.spm"), "message names the file: %s", e);
    cr_assert(strstr(e, text), "message \"%s\" says \"%s\"", e, text);
    cr_assert_eq(clf__alloc_live(), live, "leak after refusing: %s", e);
}

Test(spm, a_hand_made_model_encodes)
{
    pb p;
    base_model(&p);
    clf__spm *m = NULL;
    cr_assert_eq(clf__spm_parse(p.b, p.n, "ok.spm", &m), CLF_OK, "%s",
                 clf_context_last_error(NULL));
    clf__spm_ids v = {0};
    cr_assert_eq(clf__spm_encode(m, " a  bc", 6, &v), CLF_OK);
    /* "▁a▁bc": ▁a, then ▁ and c are unknown (one <unk> for the run), b. */
    int32_t want[] = {3, 0, 4, 0};
    cr_assert_eq(v.n, 4);
    cr_assert_arr_eq(v.ids, want, sizeof want);
    clf__spm_ids_clear(&v);
    clf__spm_free(m);
}

Test(spm, malformed_protobuf_is_refused_with_the_problem)
{
    pb p;
    uint8_t ff[12];
    memset(ff, 0xFF, sizeof ff);
    expect_refused(ff, sizeof ff, CLF_ERR_BAD_MODEL, "varint longer than");
    uint8_t trunc_varint[] = {0x0A, 0x80};
    expect_refused(trunc_varint, 2, CLF_ERR_BAD_MODEL, "truncated varint");
    p.n = 0;
    pb_key(&p, 1, 2);
    pb_varint(&p, (uint64_t)1 << 62); /* huge length */
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "past the end of its message");
    p.n = 0;
    pb_key(&p, 1, 0); /* pieces as a varint */
    pb_varint(&p, 1);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "field 1 has wire type 0, expected 2");
    uint8_t group[] = {0x0B, 0x0C};
    expect_refused(group, 2, CLF_ERR_BAD_MODEL, "group");
    uint8_t wt7[] = {0x0F};
    expect_refused(wt7, 1, CLF_ERR_BAD_MODEL, "invalid wire type");
    uint8_t field0[] = {0x02, 0x00};
    expect_refused(field0, 2, CLF_ERR_BAD_MODEL, "invalid field number");
    expect_refused((const uint8_t *)"", 0, CLF_ERR_BAD_MODEL, "empty file");
    /* A truncated fixed32 score inside a piece. */
    p.n = 0;
    uint8_t piece[] = {0x0A, 0x01, 'a', 0x15, 0x00, 0x00};
    pb_bytes(&p, 1, piece, sizeof piece);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "truncated");
}

Test(spm, truncating_a_real_model_never_crashes_and_mid_field_cuts_are_refused)
{
    char path[512];
    size_t n;
    snprintf(path, sizeof path, "%s/spm/unigram_bf.spm", clft_golden_dir());
    char *data = slurp(path, &n);
    int refused = 0, tried = 0;
    for (size_t cut = 0; cut < n; cut += 211) {
        uint8_t *c = malloc(cut ? cut : 1); /* exactly sized: ASan sees any overread */
        memcpy(c, data, cut);
        clf__spm *m = NULL;
        clf_status s = clf__spm_parse(c, cut, "evil.spm", &m);
        cr_assert(s == CLF_OK || s == CLF_ERR_BAD_MODEL, "cut %zu: %s", cut, clf_status_name(s));
        if (s != CLF_OK) {
            refused++;
            cr_assert(strstr(clf_context_last_error(NULL), "evil.spm"));
        }
        clf__spm_free(m);
        free(c);
        tried++;
    }
    /* Inside the normalizer_spec (the character map is most of the file)
     * the outer length runs past the end. */
    clf__spm *m = NULL;
    cr_assert_eq(clf__spm_parse((const uint8_t *)data, n - 1000, "evil.spm", &m),
                 CLF_ERR_BAD_MODEL);
    cr_assert(strstr(clf_context_last_error(NULL), "past the end"), "%s",
              clf_context_last_error(NULL));
    cr_assert_gt(refused, tried / 2, "%d of %d cuts refused", refused, tried);
    free(data);
}

Test(spm, inconsistent_pieces_are_refused)
{
    pb p;
    base_model(&p);
    pb_piece(&p, "b", -3, CLF__SPM_NORMAL);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "piece 5 \"b\" (NORMAL) repeats piece 4");
    base_model(&p);
    pb_piece(&p, "<unk2>", 0, CLF__SPM_UNKNOWN);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "both of type UNKNOWN");
    p.n = 0;
    pb_piece(&p, "a", 0, CLF__SPM_NORMAL);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "no piece of type UNKNOWN");
    base_model(&p);
    pb_piece(&p, "", 0, CLF__SPM_NORMAL);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "piece 5 is empty");
    base_model(&p);
    pb_piece(&p, "\xC3", 0, CLF__SPM_NORMAL);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "invalid UTF-8");
    base_model(&p);
    pb_piece(&p, "x", 0, 9);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "type 9, not one of 1..6");
    base_model(&p);
    pb_piece(&p, "<0x41>", 0, CLF__SPM_BYTE);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "byte_fallback is off");
    /* byte_fallback on (trainer_spec field 35) with only one byte piece. */
    base_model(&p);
    pb_piece(&p, "<0x41>", 0, CLF__SPM_BYTE);
    uint8_t ts[] = {0x98, 0x02, 0x01}; /* field 35, varint 1 */
    pb_bytes(&p, 2, ts, sizeof ts);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "piece <0x00> is missing");
    base_model(&p);
    pb_piece(&p, "<0xZZ>", 0, CLF__SPM_BYTE);
    pb_bytes(&p, 2, ts, sizeof ts);
    expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, "not of the form <0xXX>");
    /* model_type WORD */
    base_model(&p);
    uint8_t word[] = {0x18, 0x03};
    pb_bytes(&p, 2, word, sizeof word);
    expect_refused(p.b, p.n, CLF_ERR_UNSUPPORTED, "model type 3 (WORD) is not supported");
}

Test(spm, bad_charsmap_is_refused)
{
    pb p;
    /* normalizer_spec { precompiled_charsmap = blob } */
    static const struct {
        uint8_t blob[16];
        size_t n;
        const char *says;
    } cases[] = {
        {{1, 0, 0}, 3, "too short"},
        {{0xFF, 0xFF, 0, 0, 1, 2, 3, 4, 0}, 9, "does not fit"},
        {{4, 0, 0, 0, 1, 2, 3, 4, 'x', 0}, 10, "NUL"}, /* fine */
        {{3, 0, 0, 0, 1, 2, 3, 'x', 0}, 9, "multiple of 4"},
        {{4, 0, 0, 0, 1, 2, 3, 4, 'x', 'y'}, 10, "do not end with a NUL"},
    };
    for (size_t i = 0; i < CLF_ARRAY_LEN(cases); i++) {
        base_model(&p);
        pb ns = {.n = 0};
        pb_bytes(&ns, 2, cases[i].blob, cases[i].n);
        pb_bytes(&p, 3, ns.b, ns.n);
        if (i == 2) { /* framing right, array garbage: loads, and encoding stays in bounds */
            clf__spm *m = NULL;
            cr_assert_eq(clf__spm_parse(p.b, p.n, "ok.spm", &m), CLF_OK, "%s",
                         clf_context_last_error(NULL));
            clf__spm_ids v = {0};
            cr_assert_eq(clf__spm_encode(m, "ab\x01\x02\x03\x04", 6, &v), CLF_OK);
            clf__spm_ids_clear(&v);
            clf__spm_free(m);
            continue;
        }
        expect_refused(p.b, p.n, CLF_ERR_BAD_MODEL, cases[i].says);
    }
}

Test(spm, files_that_are_not_there_or_not_regular_are_refused)
{
    clf__spm *m = (clf__spm *)1;
    cr_assert_eq(clf__spm_load("/nonexistent/x.spm", &m), CLF_ERR_NOT_FOUND);
    cr_assert_null(m);
    cr_assert(strstr(clf_context_last_error(NULL), "/nonexistent/x.spm"));
    char dir[256], path[300];
    snprintf(dir, sizeof dir, "/tmp/clf_spm_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    clft_mkfifo(dir, "source.spm");
    snprintf(path, sizeof path, "%s/source.spm", dir);
    alarm(5); /* a load that blocked on the FIFO would hang the test */
    cr_assert_eq(clf__spm_load(path, &m), CLF_ERR_IO);
    alarm(0);
    cr_assert(strstr(clf_context_last_error(NULL), path), "%s", clf_context_last_error(NULL));
    cr_assert(strstr(clf_context_last_error(NULL), "FIFO"), "%s", clf_context_last_error(NULL));
    cr_assert_eq(clf__spm_load(dir, &m), CLF_ERR_IO);
    clft_rmtree(dir);
}

/* ---- allocation failure ---- */

Test(spm, every_allocation_failure_is_clean)
{
    char path[512];
    snprintf(path, sizeof path, "%s/spm/bpe_bf_ud.spm", clft_golden_dir());
    static const char text[] = "  Héllo <mask>wörld 漢字 👍🏽!  ";
    /* The result with no failure, to compare each later success with. */
    clf__spm *m0 = NULL;
    clf__spm_ids v0 = {0};
    char *want = NULL;
    size_t want_len;
    cr_assert_eq(clf__spm_load(path, &m0), CLF_OK);
    cr_assert_eq(clf__spm_encode(m0, text, sizeof text - 1, &v0), CLF_OK);
    cr_assert_eq(clf__spm_decode(m0, v0.ids, v0.n, &want, &want_len), CLF_OK);
    long live = clf__alloc_live();
    bool done = false;
    for (long n = 1; n < 400 && !done; n++) {
        clf__spm *m = NULL;
        clf__spm_ids v = {0};
        char *out = NULL;
        size_t len;
        clf__alloc_fail_at(n);
        clf_status s = clf__spm_load(path, &m);
        if (s == CLF_OK) s = clf__spm_encode(m, text, sizeof text - 1, &v);
        if (s == CLF_OK) s = clf__spm_decode(m, v.ids, v.n, &out, &len);
        bool pending = clf__alloc_fail_pending();
        clf__alloc_fail_at(0);
        cr_assert(s == CLF_OK || s == CLF_ERR_OUT_OF_MEMORY, "fail at %ld: %s: %s", n,
                  clf_status_name(s), clf_context_last_error(NULL));
        if (s == CLF_ERR_OUT_OF_MEMORY)
            cr_assert(strstr(clf_context_last_error(NULL), "out of host memory"));
        if (s == CLF_OK) {
            cr_assert_str_eq(out, want);
            cr_assert_eq(v.n, v0.n);
            cr_assert_arr_eq(v.ids, v0.ids, (size_t)v.n * sizeof *v.ids);
            done = pending;
        }
        clf__free(out);
        clf__spm_ids_clear(&v);
        clf__spm_free(m);
        cr_assert_eq(clf__alloc_live(), live, "fail at %ld: leak", n);
    }
    cr_assert(done, "the calls succeed once allocations stop failing");
    clf__free(want);
    clf__spm_ids_clear(&v0);
    clf__spm_free(m0);
}
