/*
 * The WordPiece tokenizer: BERT normalisation and pre-tokenisation, greedy
 * longest-match-first pieces, and the text of a piece when decoding. What
 * all kinds share (vocabulary, added tokens, framing) is in tokenizer.c, the
 * file formats in tokenizer_load.c.
 *
 * Behaviour follows HuggingFace `tokenizers` (normalizers/bert.rs,
 * pre_tokenizers/bert.rs, models/wordpiece) rule for rule, because the ids
 * must be the ones the model was trained with; tests/test_tokenizer.c checks
 * it against HF's output on the corpus in tests/golden/tokenizer/.
 */
#include <stdio.h>
#include <string.h>
#include <utf8proc.h>

#include "core/core.h"
#include "text/text_internal.h"

/* ---- characters ---- */

static bool is_whitespace(int32_t c)
{
    if (c == ' ' || (c >= 9 && c <= 13) || c == 0x85) return true;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ZS || k == UTF8PROC_CATEGORY_ZL || k == UTF8PROC_CATEGORY_ZP;
}

/* HF's is_control: Cc (but tab, LF, CR), Cf, Co and Cs; unassigned code
 * points (Cn) are kept. */
static bool is_control(int32_t c)
{
    if (c == '\t' || c == '\n' || c == '\r') return false;
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_CC || k == UTF8PROC_CATEGORY_CF || k == UTF8PROC_CATEGORY_CO ||
           k == UTF8PROC_CATEGORY_CS;
}

static bool is_punctuation(int32_t c)
{
    if ((c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
        (c >= 123 && c <= 126))
        return true;
    if (c < 128) return false;
    utf8proc_category_t k = utf8proc_category(c);
    return k >= UTF8PROC_CATEGORY_PC && k <= UTF8PROC_CATEGORY_PO;
}

/* The CJK ranges of HF's bert normalizer, including its 0x2B920 lower bound
 * of Extension E (the Python BERT code has 0x2B820): ids must match HF. */
static bool is_chinese(int32_t c)
{
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* ---- encoding ---- */

typedef struct scratch {
    int32_t *cp; /* code points of the segment being normalised */
    size_t cp_n, cp_cap;
    int32_t *tmp; /* second buffer (NFD output) */
    size_t tmp_cap;
    uint8_t *u8; /* UTF-8 of a segment or a word */
    size_t u8_cap;
    uint32_t *off; /* byte offset of each character of a word */
    int32_t *pieces;
    size_t word_cap;
} scratch;

/* One word's pieces: greedy longest match first, "##" after the first. */
static void wordpiece(const clf_tokenizer *t, scratch *w, const int32_t *cp, size_t n, clf__tok_sink *s)
{
    int32_t unk = t->special[CLF_TOKEN_UNK];
    if ((int64_t)n > t->max_word_chars) {
        clf__tok_emit(s, unk);
        return;
    }
    size_t len = t->prefix_len;
    memcpy(w->u8, t->prefix, t->prefix_len);
    for (size_t i = 0; i < n; i++) {
        w->off[i] = (uint32_t)len;
        len += (size_t)utf8proc_encode_char(cp[i], w->u8 + len);
    }
    w->off[n] = (uint32_t)len;
    size_t start = 0, n_pieces = 0;
    while (start < n) {
        /* Pieces before start are settled, so the prefix can overwrite the
         * bytes just before it: the candidate is then one contiguous key. */
        if (start > 0) memcpy(w->u8 + w->off[start] - t->prefix_len, t->prefix, t->prefix_len);
        int32_t id = -1;
        size_t end = n;
        for (; end > start; end--) {
            size_t from = w->off[start] - (start > 0 ? t->prefix_len : 0);
            id = clf__tok_lookup(t, (const char *)w->u8 + from, w->off[end] - from);
            if (id >= 0) break;
        }
        if (id < 0) {
            clf__tok_emit(s, unk);
            return;
        }
        w->pieces[n_pieces++] = id;
        start = end;
    }
    for (size_t i = 0; i < n_pieces; i++)
        clf__tok_emit(s, w->pieces[i]);
}

/* Splits normalised code points into words (whitespace separates, each
 * punctuation character stands alone) and emits their pieces. */
static clf_status pretokenize(const clf_tokenizer *t, scratch *w, const int32_t *cp, size_t n,
                              clf__tok_sink *s)
{
    size_t i = 0;
    while (i < n && s->n < s->limit) {
        if (is_whitespace(cp[i])) {
            i++;
            continue;
        }
        size_t j = i + 1;
        if (!is_punctuation(cp[i]))
            while (j < n && !is_whitespace(cp[j]) && !is_punctuation(cp[j]))
                j++;
        size_t m = j - i;
        if ((int64_t)m <= t->max_word_chars) {
            size_t cap = w->word_cap;
            CLF_TRY(clf__tok_grow((void **)&w->u8, &w->u8_cap, m * 4 + t->prefix_len + 1, 1));
            CLF_TRY(clf__tok_grow((void **)&w->off, &cap, m + 1, sizeof *w->off));
            cap = w->word_cap;
            CLF_TRY(clf__tok_grow((void **)&w->pieces, &cap, m + 1, sizeof *w->pieces));
            w->word_cap = cap;
        }
        wordpiece(t, w, cp + i, m, s);
        i = j;
    }
    return CLF_OK;
}

static clf_status push(scratch *w, int32_t c)
{
    if (w->cp_n == w->cp_cap)
        CLF_TRY(clf__tok_grow((void **)&w->cp, &w->cp_cap, w->cp_n + 1, sizeof(int32_t)));
    w->cp[w->cp_n++] = c;
    return CLF_OK;
}

/* BertNormalizer on one segment of raw text (valid UTF-8), then words. */
static clf_status segment(const clf_tokenizer *t, scratch *w, const uint8_t *s, size_t n, clf__tok_sink *out)
{
    w->cp_n = 0;
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        i += (size_t)utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (t->clean_text) {
            if (c == 0 || c == 0xFFFD || is_control(c)) continue;
            if (is_whitespace(c)) c = ' ';
        }
        if (t->chinese && is_chinese(c)) {
            CLF_TRY(push(w, ' '));
            CLF_TRY(push(w, c));
            CLF_TRY(push(w, ' '));
        } else {
            CLF_TRY(push(w, c));
        }
    }
    if (t->strip_accents && w->cp_n > 0) {
        /* NFD of the whole segment (utf8proc also puts marks in canonical
         * order), then Mn marks are dropped. */
        CLF_TRY(clf__tok_grow((void **)&w->u8, &w->u8_cap, w->cp_n * 4 + 1, 1));
        size_t len = 0;
        for (size_t i = 0; i < w->cp_n; i++)
            len += (size_t)utf8proc_encode_char(w->cp[i], w->u8 + len);
        for (;;) {
            utf8proc_ssize_t r =
                utf8proc_decompose(w->u8, (utf8proc_ssize_t)len, w->tmp,
                                   (utf8proc_ssize_t)w->tmp_cap, UTF8PROC_DECOMPOSE);
            if (r < 0)
                return clf__error(NULL, CLF_ERR_INVALID_ARG, "tokenizer: NFD failed: %s",
                                  utf8proc_errmsg(r));
            if ((size_t)r <= w->tmp_cap) {
                CLF_TRY(clf__tok_grow((void **)&w->cp, &w->cp_cap, (size_t)r, sizeof(int32_t)));
                w->cp_n = 0;
                for (utf8proc_ssize_t i = 0; i < r; i++)
                    if (utf8proc_category(w->tmp[i]) != UTF8PROC_CATEGORY_MN)
                        w->cp[w->cp_n++] = w->tmp[i];
                break;
            }
            CLF_TRY(clf__tok_grow((void **)&w->tmp, &w->tmp_cap, (size_t)r, sizeof(int32_t)));
        }
    }
    if (t->lowercase) {
        size_t n0 = w->cp_n;
        for (size_t i = 0; i < n0; i++)
            if (w->cp[i] == 0x130) CLF_TRY(push(w, 0)); /* room for the extra U+0307 */
        /* Lower in place from the back, so U+0130 can take two places. */
        size_t dst = w->cp_n;
        for (size_t i = n0; i-- > 0;) {
            int32_t c = w->cp[i];
            if (c == 0x130) { /* the one unconditional multi-character lowercase */
                w->cp[--dst] = 0x307;
                w->cp[--dst] = 'i';
            } else {
                w->cp[--dst] = utf8proc_tolower(c);
            }
        }
    }
    return pretokenize(t, w, w->cp, w->cp_n, out);
}

static void scratch_free(scratch *w)
{
    clf__free(w->cp);
    clf__free(w->tmp);
    clf__free(w->u8);
    clf__free(w->off);
    clf__free(w->pieces);
}


static void scratch_free_any(void *w)
{
    scratch_free(w);
    clf__free(w);
}

/* The span encoder of clf__wordpiece_vtable (BertNormalizer and words of one
 * stretch of raw text between added tokens). */
static clf_status wordpiece_span(const clf_tokenizer *t, const uint8_t *s, size_t n,
                                 clf__tok_sink *out)
{
    if (!out->scratch && !(out->scratch = clf__calloc(1, sizeof(scratch))))
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
    return segment(t, out->scratch, s, n, out);
}

/* ---- decoding ---- */

/* HF `tokenizers`' WordPiece decoder cleans each token's text on its own
 * (decoders/wordpiece.rs, cleanup = true): these replacements in this order. */
static const char *const cleanup_from[] = {" .", " ?", " !", " ,", " ' ", " n't",
                                           " 'm", " do not", " 's", " 've", " 're"};
static const char *const cleanup_to[] = {".", "?", "!", ",", "'", "n't",
                                         "'m", " don't", "'s", "'ve", "'re"};

/* Replaces every non-overlapping from (left to right) by to in p[0..*n),
 * in place: no replacement is longer than what it replaces. */
static void replace_all(uint8_t *p, size_t *n, const char *from, const char *to)
{
    size_t a = strlen(from), b = strlen(to), r = 0, w = 0;
    while (r < *n) {
        if (r + a <= *n && memcmp(p + r, from, a) == 0) {
            memmove(p + w, to, b);
            w += b;
            r += a;
        } else {
            p[w++] = p[r++];
        }
    }
    *n = w;
}

static clf_status wordpiece_piece(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                                  clf__tok_bytes *out)
{
    int64_t index = d->index;
    const char *tok = t->tokens[id];
    size_t len = t->lens[id], start = out->n;
    if (index > 0 && len >= t->prefix_len && memcmp(tok, t->prefix, t->prefix_len) == 0) {
        tok += t->prefix_len;
        len -= t->prefix_len;
    } else if (index > 0) {
        CLF_TRY(clf__tok_bytes_put(out, " ", 1));
    }
    CLF_TRY(clf__tok_bytes_put(out, tok, len));
    size_t n = out->n - start;
    for (size_t i = 0; i < sizeof cleanup_from / sizeof *cleanup_from; i++)
        replace_all(out->p + start, &n, cleanup_from[i], cleanup_to[i]);
    out->n = start + n;
    return CLF_OK;
}

const clf__tok_vtable clf__wordpiece_vtable = {
    CLF_TOKENIZER_KIND_WORDPIECE, wordpiece_span, scratch_free_any, wordpiece_piece, NULL,
};
