/*
 * The WordPiece tokenizer: vocabulary table, BERT normalisation and
 * pre-tokenisation, greedy longest-match-first pieces, and the public encode
 * and accessor calls. The file formats live in tokenizer_load.c.
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

/* ---- vocabulary ---- */

static uint64_t hash_bytes(const char *s, size_t n, uint64_t h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
    return h;
}
#define HASH_SEED 0xcbf29ce484222325ull

clf_status clf__tok_alloc(int32_t n_vocab, size_t arena_size, clf_tokenizer **out)
{
    *out = NULL;
    clf_tokenizer *t = clf__calloc(1, sizeof *t);
    if (!t) goto oom;
    *out = t;
    t->n_vocab = n_vocab;
    t->tokens = clf__calloc((size_t)n_vocab, sizeof *t->tokens);
    t->lens = clf__calloc((size_t)n_vocab, sizeof *t->lens);
    t->arena = clf__malloc(arena_size);
    if (!t->tokens || !t->lens || !t->arena) goto oom;
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++)
        t->special[i] = -1;
    return CLF_OK;
oom:
    return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory (%lld entries)",
                      (long long)n_vocab);
}

int32_t clf__tok_lookup(const clf_tokenizer *t, const char *s, size_t n)
{
    size_t i = (size_t)hash_bytes(s, n, HASH_SEED) & t->table_mask;
    for (;;) {
        int32_t id = t->table[i];
        if (id < 0) return -1;
        if (t->lens[id] == n && memcmp(t->tokens[id], s, n) == 0) return id;
        i = (i + 1) & t->table_mask;
    }
}

clf_status clf__tok_index(clf_tokenizer *t, const char *name)
{
    size_t cap = 16;
    while (cap < 2 * (size_t)t->n_vocab)
        cap *= 2;
    t->table = clf__malloc(cap * sizeof *t->table);
    if (!t->table) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    memset(t->table, 0xff, cap * sizeof *t->table);
    t->table_mask = cap - 1;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t i = (size_t)hash_bytes(t->tokens[id], t->lens[id], HASH_SEED) & t->table_mask;
        while (t->table[i] >= 0) {
            int32_t o = t->table[i];
            if (t->lens[o] == t->lens[id] && memcmp(t->tokens[o], t->tokens[id], t->lens[id]) == 0)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: duplicate token \"%.64s\" (ids %d and %d)", name,
                                  t->tokens[id], (int)o, (int)id);
            i = (i + 1) & t->table_mask;
        }
        t->table[i] = id;
    }
    return CLF_OK;
}

static const char *const special_default[CLF__TOK_N_SPECIAL] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",
                                                                "[MASK]"};

static bool resolve(clf_tokenizer_flag f, int from_file, bool fallback)
{
    if (f == CLF_TOKENIZER_ON) return true;
    if (f == CLF_TOKENIZER_OFF) return false;
    return from_file >= 0 ? from_file != 0 : fallback;
}

static void add_raw(clf_tokenizer *t, int32_t id)
{
    for (int32_t i = 0; i < t->n_added; i++)
        if (t->added[i] == id) return;
    t->added[t->n_added++] = id;
    t->added_first[(uint8_t)t->tokens[id][0] / 8] |=
        (uint8_t)(1u << ((uint8_t)t->tokens[id][0] % 8));
}

clf_status clf__tok_finish(clf_tokenizer *t, const char *name, const clf_tokenizer_params *p,
                           const clf__tok_config *cfg, const int32_t *added, int32_t n_added)
{
    clf_tokenizer_params def = clf_tokenizer_params_default();
    if (!p) p = &def;
    clf__tok_config none;
    clf__tok_config_init(&none);
    if (!cfg) cfg = &none;
    if (p->lowercase > CLF_TOKENIZER_OFF || p->strip_accents > CLF_TOKENIZER_OFF ||
        p->tokenize_chinese_chars > CLF_TOKENIZER_OFF || p->lowercase < 0 || p->strip_accents < 0 ||
        p->tokenize_chinese_chars < 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "tokenizer: params flags must be CLF_TOKENIZER_AUTO, _ON or _OFF");
    t->add_special = !p->no_special_tokens;
    if (p->max_length < 0 || p->max_length > (1 << 30) ||
        (p->max_length > 0 && p->max_length < (t->add_special ? 2 : 1)))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "tokenizer: params->max_length %lld out of range (%d..2^30, 0 = auto)",
                          (long long)p->max_length, t->add_special ? 2 : 1);
    t->lowercase = resolve(p->lowercase, cfg->lowercase, true);
    t->strip_accents = resolve(p->strip_accents, cfg->strip_accents, t->lowercase);
    t->chinese = resolve(p->tokenize_chinese_chars, cfg->chinese, true);
    t->clean_text = cfg->clean_text != 0;
    t->max_length = p->max_length ? p->max_length
                    : cfg->max_length >= (t->add_special ? 2 : 1) && cfg->max_length <= 1000000
                        ? cfg->max_length
                        : 512;
    if (t->prefix_len == 0 && t->prefix[0] == '\0') {
        memcpy(t->prefix, "##", 3);
        t->prefix_len = 2;
    }
    if (t->max_word_chars == 0) t->max_word_chars = 100;

    t->added = clf__malloc(((size_t)n_added + CLF__TOK_N_SPECIAL) * sizeof *t->added);
    if (!t->added) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++) {
        const char *s = cfg->special[i] ? cfg->special[i] : special_default[i];
        t->special[i] = clf__tok_lookup(t, s, strlen(s));
        if (t->special[i] < 0 && i != CLF_TOKEN_PAD && i != CLF_TOKEN_MASK)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: the vocabulary has no %s token \"%.64s\"", name,
                              i == CLF_TOKEN_UNK   ? "unknown"
                              : i == CLF_TOKEN_CLS ? "CLS"
                                                   : "SEP",
                              s);
        if (t->special[i] >= 0) add_raw(t, t->special[i]);
    }
    for (int32_t i = 0; i < n_added; i++)
        add_raw(t, added[i]);
    /* Longest first, so that the first match at a position is the longest. */
    for (int32_t i = 1; i < t->n_added; i++) {
        int32_t id = t->added[i], j = i;
        for (; j > 0 && t->lens[t->added[j - 1]] < t->lens[id]; j--)
            t->added[j] = t->added[j - 1];
        t->added[j] = id;
    }
    return CLF_OK;
}

void clf_tokenizer_free(clf_tokenizer *t)
{
    if (!t) return;
    clf__free(t->tokens);
    clf__free(t->lens);
    clf__free(t->arena);
    clf__free(t->table);
    clf__free(t->added);
    clf__free(t);
}

clf_tokenizer_params clf_tokenizer_params_default(void)
{
    clf_tokenizer_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- characters ---- */

int64_t clf__utf8_invalid_at(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0) return (int64_t)i;
        i += (size_t)k;
    }
    return -1;
}

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

typedef struct sink {
    int32_t *ids;
    int64_t cap, base; /* ids[base + n] receives the n-th piece */
    int64_t n, limit;  /* pieces so far and the most kept */
} sink;

static clf_status grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return CLF_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = clf__realloc(*p, c * elem);
    if (!q) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
    *p = q;
    *cap = c;
    return CLF_OK;
}

static void emit(sink *s, int32_t id)
{
    if (s->n >= s->limit) return;
    if (s->base + s->n < s->cap) s->ids[s->base + s->n] = id;
    s->n++;
}

/* One word's pieces: greedy longest match first, "##" after the first. */
static void wordpiece(const clf_tokenizer *t, scratch *w, const int32_t *cp, size_t n, sink *s)
{
    int32_t unk = t->special[CLF_TOKEN_UNK];
    if ((int64_t)n > t->max_word_chars) {
        emit(s, unk);
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
            emit(s, unk);
            return;
        }
        w->pieces[n_pieces++] = id;
        start = end;
    }
    for (size_t i = 0; i < n_pieces; i++)
        emit(s, w->pieces[i]);
}

/* Splits normalised code points into words (whitespace separates, each
 * punctuation character stands alone) and emits their pieces. */
static clf_status pretokenize(const clf_tokenizer *t, scratch *w, const int32_t *cp, size_t n,
                              sink *s)
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
            CLF_TRY(grow((void **)&w->u8, &w->u8_cap, m * 4 + t->prefix_len + 1, 1));
            CLF_TRY(grow((void **)&w->off, &cap, m + 1, sizeof *w->off));
            cap = w->word_cap;
            CLF_TRY(grow((void **)&w->pieces, &cap, m + 1, sizeof *w->pieces));
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
        CLF_TRY(grow((void **)&w->cp, &w->cp_cap, w->cp_n + 1, sizeof(int32_t)));
    w->cp[w->cp_n++] = c;
    return CLF_OK;
}

/* BertNormalizer on one segment of raw text (valid UTF-8), then words. */
static clf_status segment(const clf_tokenizer *t, scratch *w, const uint8_t *s, size_t n, sink *out)
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
        CLF_TRY(grow((void **)&w->u8, &w->u8_cap, w->cp_n * 4 + 1, 1));
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
                CLF_TRY(grow((void **)&w->cp, &w->cp_cap, (size_t)r, sizeof(int32_t)));
                w->cp_n = 0;
                for (utf8proc_ssize_t i = 0; i < r; i++)
                    if (utf8proc_category(w->tmp[i]) != UTF8PROC_CATEGORY_MN)
                        w->cp[w->cp_n++] = w->tmp[i];
                break;
            }
            CLF_TRY(grow((void **)&w->tmp, &w->tmp_cap, (size_t)r, sizeof(int32_t)));
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

/* The added token (special tokens first of all) that starts at s[0..n), the
 * longest one, or -1. */
static int32_t match_added(const clf_tokenizer *t, const uint8_t *s, size_t n)
{
    if (!(t->added_first[s[0] / 8] & (1u << (s[0] % 8)))) return -1;
    for (int32_t i = 0; i < t->n_added; i++) {
        int32_t id = t->added[i];
        if (t->lens[id] <= n && memcmp(t->tokens[id], s, t->lens[id]) == 0) return id;
    }
    return -1;
}

static void scratch_free(scratch *w)
{
    clf__free(w->cp);
    clf__free(w->tmp);
    clf__free(w->u8);
    clf__free(w->off);
    clf__free(w->pieces);
}

/* Pieces of text into s (special tokens not included). */
static clf_status encode_pieces(const clf_tokenizer *t, const uint8_t *s, size_t n, sink *out)
{
    scratch w;
    memset(&w, 0, sizeof w);
    clf_status st = CLF_OK;
    size_t seg = 0, i = 0;
    while (i < n && out->n < out->limit) {
        int32_t id = match_added(t, s + i, n - i);
        if (id < 0) {
            i++;
            continue;
        }
        if (i > seg && (st = segment(t, &w, s + seg, i - seg, out)) != CLF_OK) goto done;
        emit(out, id);
        i += t->lens[id];
        seg = i;
    }
    if (n > seg && out->n < out->limit) st = segment(t, &w, s + seg, n - seg, out);
done:
    scratch_free(&w);
    return st;
}

clf_status clf_tokenizer_encode(const clf_tokenizer *t, const char *text, size_t len, int32_t *ids,
                                int64_t capacity, int64_t *n_ids)
{
    if (n_ids) *n_ids = 0;
    if (!t || (!text && len) || !n_ids || (!ids && capacity) || capacity < 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_encode: NULL tokenizer, text, ids or n_ids, or negative "
                          "capacity");
    const uint8_t *s = (const uint8_t *)text;
    int64_t bad = clf__utf8_invalid_at(s, len);
    if (bad >= 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_encode: text is not valid UTF-8 at byte %lld (0x%02x)",
                          (long long)bad, s[bad]);
    int64_t extra = t->add_special ? 2 : 0;
    sink out = {ids, capacity, t->add_special ? 1 : 0, 0, t->max_length - extra};
    CLF_TRY(encode_pieces(t, s, len, &out));
    int64_t total = out.n + extra;
    *n_ids = total;
    if (total > capacity)
        return clf__error(NULL, CLF_ERR_OUT_OF_RANGE,
                          "clf_tokenizer_encode: %lld ids do not fit in capacity %lld",
                          (long long)total, (long long)capacity);
    if (t->add_special) {
        ids[0] = t->special[CLF_TOKEN_CLS];
        ids[total - 1] = t->special[CLF_TOKEN_SEP];
    }
    return CLF_OK;
}

clf_status clf_tokenizer_encode_batch(const clf_tokenizer *t, int64_t n, const char *const *texts,
                                      const size_t *lens, int32_t *ids, int32_t *lengths,
                                      int64_t *seq_len)
{
    if (seq_len) *seq_len = 0;
    if (!t || n < 0 || (n > 0 && (!texts || !ids || !lengths)) || !seq_len)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_encode_batch: NULL tokenizer, texts, ids, lengths or "
                          "seq_len, or n < 0");
    int64_t L = t->max_length, S = 0;
    /* Each text goes to its own max_length row first; rows are then packed
     * to the longest length in place (row b moves to b * S, never later). */
    for (int64_t b = 0; b < n; b++) {
        if (!texts[b])
            return clf__error(NULL, CLF_ERR_INVALID_ARG,
                              "clf_tokenizer_encode_batch: texts[%lld] "
                              "is NULL",
                              (long long)b);
        size_t len = lens ? lens[b] : strlen(texts[b]);
        int64_t got = 0;
        clf_status st = clf_tokenizer_encode(t, texts[b], len, ids + b * L, L, &got);
        /* got <= max_length <= 2^30 (checked at load): an int32_t like
         * the lengths clf_model_encode takes. */
        lengths[b] = (int32_t)got;
        if (st != CLF_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", clf__thread_error());
            return clf__error(NULL, st, "clf_tokenizer_encode_batch: texts[%lld]: %s", (long long)b,
                              msg);
        }
        if (lengths[b] > S) S = lengths[b];
    }
    int32_t pad = t->special[CLF_TOKEN_PAD] >= 0 ? t->special[CLF_TOKEN_PAD] : 0;
    for (int64_t b = 0; b < n; b++) {
        memmove(ids + b * S, ids + b * L, (size_t)lengths[b] * sizeof *ids);
        for (int64_t j = lengths[b]; j < S; j++)
            ids[b * S + j] = pad;
    }
    *seq_len = S;
    return CLF_OK;
}

/* ---- accessors ---- */

int64_t clf_tokenizer_vocab_size(const clf_tokenizer *t) { return t ? t->n_vocab : 0; }
int64_t clf_tokenizer_max_length(const clf_tokenizer *t) { return t ? t->max_length : 0; }

int32_t clf_tokenizer_token_id(const clf_tokenizer *t, const char *token)
{
    if (!t || !token) return -1;
    return clf__tok_lookup(t, token, strlen(token));
}

const char *clf_tokenizer_token(const clf_tokenizer *t, int32_t id)
{
    if (!t || id < 0 || id >= t->n_vocab) return NULL;
    return t->tokens[id];
}

int32_t clf_tokenizer_special_id(const clf_tokenizer *t, clf_special_token which)
{
    if (!t || (int)which < 0 || (int)which >= CLF__TOK_N_SPECIAL) return -1;
    return t->special[which];
}
