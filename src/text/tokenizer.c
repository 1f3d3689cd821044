/*
 * What every tokenizer kind shares: the vocabulary table, special and added
 * tokens (matched in raw text before the kind sees it), the framing of an
 * encoding (CLS/SEP, <s>/</s>), truncation, batches, and the public accessor
 * calls. Each kind encodes the spans between added tokens (wordpiece.c,
 * bpe.c); decoding lives in detokenize.c, the file formats in
 * tokenizer_load.c and bpe_load.c.
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
    t->vt = &clf__wordpiece_vtable;
    t->n_vocab = n_vocab;
    t->tokens = clf__calloc((size_t)n_vocab, sizeof *t->tokens);
    t->lens = clf__calloc((size_t)n_vocab, sizeof *t->lens);
    t->is_special = clf__calloc((size_t)n_vocab, 1);
    t->arena = clf__malloc(arena_size ? arena_size : 1);
    if (!t->tokens || !t->lens || !t->arena || !t->is_special) goto oom;
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

static const char *const special_names[CLF__TOK_N_SPECIAL] = {"PAD", "unknown", "CLS", "SEP",
                                                              "MASK", "BOS", "EOS"};

static bool resolve(clf_tokenizer_flag f, int from_file, bool fallback)
{
    if (f == CLF_TOKENIZER_ON) return true;
    if (f == CLF_TOKENIZER_OFF) return false;
    return from_file >= 0 ? from_file != 0 : fallback;
}

/* Adds id to the raw-text list (once; a later definition's flags are ORed). */
static void add_raw(clf_tokenizer *t, int32_t id, int flags)
{
    if (flags & CLF__ADDED_SPECIAL) t->is_special[id] = 1;
    for (int32_t i = 0; i < t->n_added; i++)
        if (t->added[i] == id) {
            t->added_flags[i] |= (uint8_t)flags;
            return;
        }
    t->added_flags[t->n_added] = (uint8_t)flags;
    t->added[t->n_added++] = id;
    t->added_first[(uint8_t)t->tokens[id][0] / 8] |=
        (uint8_t)(1u << ((uint8_t)t->tokens[id][0] % 8));
}

/* The pair framing the parser left to us (see pair_state). */
static void default_pair(clf_tokenizer *t, clf__tok_post post)
{
    memset(t->n_pair, 0, sizeof t->n_pair);
    if (t->n_prefix + t->n_suffix == 0) return; /* A B */
    bool roberta = post == CLF__POST_CLS_SEP && t->vt == &clf__bpe_vtable;
    memcpy(t->pair[0], t->post_prefix, sizeof t->post_prefix);
    t->n_pair[0] = t->n_prefix;
    for (int r = 0; r < (roberta ? 2 : 1); r++)
        for (int i = 0; i < t->n_suffix && t->n_pair[1] < CLF__TOK_MAX_POST; i++)
            t->pair[1][t->n_pair[1]++] = t->post_suffix[i];
    memcpy(t->pair[2], t->post_suffix, sizeof t->post_suffix);
    t->n_pair[2] = t->n_suffix;
}

clf_status clf__tok_finish(clf_tokenizer *t, const char *name, const clf_tokenizer_params *p,
                           const clf__tok_config *cfg, const clf__tok_added_def *added,
                           int32_t n_added, const char *const *defaults, unsigned required,
                           clf__tok_post post, int64_t default_max)
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
    t->lowercase = resolve(p->lowercase, cfg->lowercase, true);
    t->strip_accents = resolve(p->strip_accents, cfg->strip_accents, t->lowercase);
    t->chinese = resolve(p->tokenize_chinese_chars, cfg->chinese, true);
    t->clean_text = cfg->clean_text != 0;
    if (t->prefix_len == 0 && t->prefix[0] == '\0') {
        memcpy(t->prefix, "##", 3);
        t->prefix_len = 2;
    }
    if (t->max_word_chars == 0) t->max_word_chars = 100;

    size_t cap = (size_t)n_added + CLF__TOK_N_SPECIAL;
    t->added = clf__malloc(cap * sizeof *t->added);
    t->added_flags = clf__malloc(cap);
    if (!t->added || !t->added_flags)
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++) {
        const char *s = cfg->special[i] ? cfg->special[i] : defaults[i];
        if (!s) continue;
        t->special[i] = clf__tok_lookup(t, s, strlen(s));
        if (t->special[i] < 0 && ((required >> i) & 1u))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: the vocabulary has no %s token \"%.64s\"", name,
                              special_names[i], s);
        if (t->special[i] >= 0)
            add_raw(t, t->special[i],
                    CLF__ADDED_SPECIAL | (t->vt->kind == CLF_TOKENIZER_KIND_WORDPIECE
                                              ? 0 /* WordPiece keeps its historical rule */
                                              : cfg->special_flags[i]));
    }
    for (int32_t i = 0; i < n_added; i++)
        add_raw(t, (int32_t)added[i].id, added[i].flags);
    /* Longest first, so that the first match at a position is the longest. */
    for (int32_t i = 1; i < t->n_added; i++) {
        int32_t id = t->added[i], j = i;
        uint8_t f = t->added_flags[i];
        for (; j > 0 && t->lens[t->added[j - 1]] < t->lens[id]; j--) {
            t->added[j] = t->added[j - 1];
            t->added_flags[j] = t->added_flags[j - 1];
        }
        t->added[j] = id;
        t->added_flags[j] = f;
    }

    if (post == CLF__POST_CLS_SEP) {
        if (t->special[CLF_TOKEN_CLS] < 0 || t->special[CLF_TOKEN_SEP] < 0)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: the encoding is framed by CLS and SEP tokens, but the "
                              "vocabulary lacks one",
                              name);
        t->post_prefix[0] = t->special[CLF_TOKEN_CLS];
        t->post_suffix[0] = t->special[CLF_TOKEN_SEP];
        t->n_prefix = t->n_suffix = 1;
    } else if (post == CLF__POST_NONE) {
        t->n_prefix = t->n_suffix = 0;
    }
    if (t->pair_state == 0) default_pair(t, post);
    t->add_special = !p->no_special_tokens;
    int64_t least = t->add_special && t->n_prefix + t->n_suffix > 1 ? t->n_prefix + t->n_suffix : 1;
    if (p->max_length < 0 || p->max_length > (1 << 30) ||
        (p->max_length > 0 && p->max_length < least))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "tokenizer: params->max_length %lld out of range (%lld..2^30, 0 = auto)",
                          (long long)p->max_length, (long long)least);
    t->max_length = p->max_length                                            ? p->max_length
                    : cfg->max_length >= least && cfg->max_length <= 1000000 ? cfg->max_length
                                                                             : default_max;
    return CLF_OK;
}

void clf_tokenizer_free(clf_tokenizer *t)
{
    if (!t) return;
    if (t->model && t->vt && t->vt->model_free) t->vt->model_free(t->model);
    clf__free(t->tokens);
    clf__free(t->lens);
    clf__free(t->arena);
    clf__free(t->table);
    clf__free(t->is_special);
    clf__free(t->added);
    clf__free(t->added_flags);
    clf__free(t);
}

clf_tokenizer_params clf_tokenizer_params_default(void)
{
    clf_tokenizer_params p;
    memset(&p, 0, sizeof p);
    return p;
}

/* ---- shared helpers ---- */

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

bool clf__tok_is_space(int32_t c)
{
    if (c < 0x80) return c == ' ' || (c >= 9 && c <= 13);
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
           c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

clf_status clf__tok_grow(void **p, size_t *cap, size_t need, size_t elem)
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

clf_status clf__tok_bytes_put(clf__tok_bytes *b, const void *s, size_t n)
{
    CLF_TRY(clf__tok_grow((void **)&b->p, &b->cap, b->n + n + 1, 1));
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    return CLF_OK;
}

void clf__tok_emit(clf__tok_sink *s, int32_t id)
{
    if (s->n >= s->limit) return;
    if (s->base + s->n < s->cap) s->ids[s->base + s->n] = id;
    s->n++;
}

/* ---- encoding ---- */

/* The added token (special tokens first of all) that starts at s[0..n), the
 * longest one, or -1; *flags receives its CLF__ADDED_* flags. */
static int32_t match_added(const clf_tokenizer *t, const uint8_t *s, size_t n, int *flags)
{
    if (!(t->added_first[s[0] / 8] & (1u << (s[0] % 8)))) return -1;
    for (int32_t i = 0; i < t->n_added; i++) {
        int32_t id = t->added[i];
        if (t->lens[id] <= n && memcmp(t->tokens[id], s, t->lens[id]) == 0) {
            *flags = t->added_flags[i];
            return id;
        }
    }
    return -1;
}

/* The length of the whitespace that ends s[0..n) (valid UTF-8). */
static size_t trailing_space(const uint8_t *s, size_t n)
{
    size_t end = n;
    while (end > 0) {
        size_t k = end - 1;
        while (k > 0 && (s[k] & 0xC0) == 0x80)
            k--;
        utf8proc_int32_t c;
        utf8proc_iterate(s + k, (utf8proc_ssize_t)(end - k), &c);
        if (!clf__tok_is_space(c)) break;
        end = k;
    }
    return n - end;
}

static size_t leading_space(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        if (k <= 0 || !clf__tok_is_space(c)) break;
        i += (size_t)k;
    }
    return i;
}

/* Pieces of text into out (framing not included): added tokens are matched
 * first, leftmost-longest; the kind encodes the spans between them. */
static clf_status encode_pieces(const clf_tokenizer *t, const uint8_t *s, size_t n,
                                clf__tok_sink *out)
{
    clf_status st = CLF_OK;
    size_t seg = 0, i = 0;
    while (i < n && out->n < out->limit) {
        int flags = 0;
        int32_t id = match_added(t, s + i, n - i, &flags);
        if (id < 0) {
            i++;
            continue;
        }
        size_t end = i;
        if (flags & CLF__ADDED_LSTRIP) end -= trailing_space(s + seg, i - seg);
        if (end > seg && (st = t->vt->encode_span(t, s + seg, end - seg, out)) != CLF_OK) break;
        clf__tok_emit(out, id);
        i += t->lens[id];
        if (flags & CLF__ADDED_RSTRIP) i += leading_space(s + i, n - i);
        seg = i;
    }
    if (st == CLF_OK && n > seg && out->n < out->limit)
        st = t->vt->encode_span(t, s + seg, n - seg, out);
    if (out->scratch) t->vt->scratch_free(out->scratch);
    out->scratch = NULL;
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
    int64_t pre = t->add_special ? t->n_prefix : 0, suf = t->add_special ? t->n_suffix : 0;
    clf__tok_sink out = {ids, capacity, pre, 0, t->max_length - pre - suf, NULL};
    CLF_TRY(encode_pieces(t, s, len, &out));
    int64_t total = out.n + pre + suf;
    *n_ids = total;
    if (total > capacity)
        return clf__error(NULL, CLF_ERR_OUT_OF_RANGE,
                          "clf_tokenizer_encode: %lld ids do not fit in capacity %lld",
                          (long long)total, (long long)capacity);
    for (int64_t i = 0; i < pre; i++)
        ids[i] = t->post_prefix[i];
    for (int64_t i = 0; i < suf; i++)
        ids[total - suf + i] = t->post_suffix[i];
    return CLF_OK;
}

/* All the pieces of one text of a pair (longest_first needs the true
 * lengths: which side is longer decides the cut) into a new buffer *out
 * (clf__free) of *n ids. A piece holds at least one byte, bar a dummy
 * prefix: len + 8 always suffice. */
static clf_status pair_side(const clf_tokenizer *t, const char *text, size_t len,
                            const char *which, int32_t **out, int64_t *n)
{
    int64_t limit = (int64_t)len + 8;
    *out = NULL;
    *n = 0;
    const uint8_t *s = (const uint8_t *)text;
    int64_t bad = clf__utf8_invalid_at(s, len);
    if (bad >= 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_encode_pair: text %s is not valid UTF-8 at byte %lld "
                          "(0x%02x)",
                          which, (long long)bad, s[bad]);
    int32_t *ids = clf__malloc((size_t)(limit > 0 ? limit : 1) * sizeof *ids);
    if (!ids) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "clf_tokenizer_encode_pair: out of "
                                                              "host memory");
    clf__tok_sink sink = {ids, limit, 0, 0, limit, NULL};
    clf_status st = encode_pieces(t, s, len, &sink);
    if (st != CLF_OK) {
        clf__free(ids);
        return st;
    }
    *out = ids;
    *n = sink.n;
    return CLF_OK;
}

clf_status clf_tokenizer_encode_pair(const clf_tokenizer *t, const char *a, size_t a_len,
                                     const char *b, size_t b_len, int32_t *ids, int64_t capacity,
                                     int64_t *n_ids)
{
    if (n_ids) *n_ids = 0;
    if (!t || (!a && a_len) || (!b && b_len) || !n_ids || (!ids && capacity) || capacity < 0)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "clf_tokenizer_encode_pair: NULL tokenizer, text, ids or n_ids, or "
                          "negative capacity");
    if (t->pair_state < 0)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "clf_tokenizer_encode_pair: the tokenizer's post_processor defines no "
                          "pair template");
    int n0 = t->add_special ? t->n_pair[0] : 0, n1 = t->add_special ? t->n_pair[1] : 0,
        n2 = t->add_special ? t->n_pair[2] : 0;
    int64_t budget = t->max_length - n0 - n1 - n2;
    if (budget < 0) budget = 0;
    int32_t *pa = NULL, *pb = NULL;
    int64_t na = 0, nb = 0;
    clf_status st = pair_side(t, a, a_len, "a", &pa, &na);
    if (st == CLF_OK) st = pair_side(t, b, b_len, "b", &pb, &nb);
    if (st == CLF_OK && na + nb > budget) {
        /* HF tokenizers' longest_first: the shorter side keeps what it can
         * up to half, the longer takes the rest. */
        int64_t s1 = na, s2 = nb;
        bool swap = s1 > s2;
        if (swap) s1 = nb, s2 = na;
        s2 = s1 > budget ? s1 : (s1 > budget - s1 ? s1 : budget - s1);
        if (s1 + s2 > budget) s1 = budget / 2, s2 = s1 + budget % 2;
        na = swap ? (s2 < na ? s2 : na) : (s1 < na ? s1 : na);
        nb = swap ? (s1 < nb ? s1 : nb) : (s2 < nb ? s2 : nb);
    }
    int64_t total = n0 + na + n1 + nb + n2;
    if (st == CLF_OK) {
        *n_ids = total;
        if (total > capacity)
            st = clf__error(NULL, CLF_ERR_OUT_OF_RANGE,
                            "clf_tokenizer_encode_pair: %lld ids do not fit in capacity %lld",
                            (long long)total, (long long)capacity);
    }
    if (st == CLF_OK) {
        int64_t k = 0;
        memcpy(ids + k, t->pair[0], (size_t)n0 * sizeof *ids), k += n0;
        memcpy(ids + k, pa, (size_t)na * sizeof *ids), k += na;
        memcpy(ids + k, t->pair[1], (size_t)n1 * sizeof *ids), k += n1;
        memcpy(ids + k, pb, (size_t)nb * sizeof *ids), k += nb;
        memcpy(ids + k, t->pair[2], (size_t)n2 * sizeof *ids);
    }
    clf__free(pa);
    clf__free(pb);
    return st;
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

clf_tokenizer_kind clf_tokenizer_kind_of(const clf_tokenizer *t)
{
    return t ? t->vt->kind : CLF_TOKENIZER_KIND_NONE;
}

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

bool clf_tokenizer_is_special(const clf_tokenizer *t, int32_t id)
{
    return t && id >= 0 && id < t->n_vocab && t->is_special[id];
}
