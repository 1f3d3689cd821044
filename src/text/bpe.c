/*
 * Byte-level BPE (GPT-2, RoBERTa, BART): GPT-2's pre-tokenisation pattern,
 * bytes as characters, merges by rank, and the bytes of a token when
 * decoding. The file formats live in bpe_load.c.
 *
 * Behaviour follows HF `tokenizers` (pre_tokenizers/byte_level.rs,
 * models/bpe/word.rs), because the ids must be the ones the model was
 * trained with; tests/test_tokenizer_bpe.c checks it against HF's ids.
 *
 * The pattern
 *     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * is matched by hand over code points with utf8proc's categories rather than
 * with PCRE2: it is small and fixed, the library already depends on
 * utf8proc, and the hand matcher runs in linear time with no backtracking
 * limits, no JIT and no allocation per match. \s is Unicode White_Space (as
 * in Oniguruma, HF's regex engine), \p{L} the L* categories, \p{N} the N*.
 */
#include <string.h>
#include <utf8proc.h>

#include "core/core.h"
#include "text/bpe_internal.h"

/* ---- the byte <-> character table ---- */

/* Printable bytes stand for themselves; the 68 others (0-32, 127-160, 173)
 * take U+0100 onwards in byte order. */
int32_t clf__bpe_byte_char(uint8_t b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) return b;
    if (b <= 32) return 256 + b;
    if (b <= 160) return 256 + 33 + (b - 127);
    return 256 + 67; /* 173 */
}

int clf__bpe_char_byte(int32_t c)
{
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255)) return c;
    if (c >= 256 && c <= 288) return c - 256;
    if (c >= 289 && c <= 322) return c - 289 + 127;
    if (c == 323) return 173;
    return -1;
}

/* ---- the model ---- */

static size_t pair_slot(const clf__bpe *b, int32_t l, int32_t r)
{
    uint64_t key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
    size_t i = (size_t)((key * 0x9E3779B97F4A7C15ull) >> 20) & b->mask;
    while (b->keys[i] && b->keys[i] != key)
        i = (i + 1) & b->mask;
    return i;
}

clf_status clf__bpe_new(int32_t n_merges, const char *name, clf__bpe **out)
{
    *out = NULL;
    clf__bpe *b = clf__calloc(1, sizeof *b);
    size_t cap = 16;
    while (cap < 2 * (size_t)n_merges)
        cap *= 2;
    if (b) {
        b->keys = clf__calloc(cap, sizeof *b->keys);
        b->ranks = clf__malloc(cap * sizeof *b->ranks);
        b->merged = clf__malloc(cap * sizeof *b->merged);
        b->mask = cap - 1;
        b->unk = -1;
    }
    if (!b || !b->keys || !b->ranks || !b->merged) {
        clf__bpe_free(b);
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory (%d merges)", name,
                          (int)n_merges);
    }
    *out = b;
    return CLF_OK;
}

void clf__bpe_free(void *model)
{
    clf__bpe *b = model;
    if (!b) return;
    clf__free(b->keys);
    clf__free(b->ranks);
    clf__free(b->merged);
    clf__free(b);
}

void clf__bpe_add_merge(clf__bpe *b, int32_t l, int32_t r, int32_t m, uint32_t rank)
{
    size_t i = pair_slot(b, l, r);
    if (!b->keys[i]) b->n_merges++;
    b->keys[i] = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
    b->ranks[i] = rank;
    b->merged[i] = m;
}

void clf__bpe_bytes(clf__bpe *b, const clf_tokenizer *t)
{
    for (int i = 0; i < 256; i++) {
        uint8_t u8[4];
        utf8proc_ssize_t k = utf8proc_encode_char(clf__bpe_byte_char((uint8_t)i), u8);
        b->byte_id[i] = clf__tok_lookup(t, (const char *)u8, (size_t)k);
    }
}

/* ---- encoding ---- */

typedef struct heap_item {
    uint32_t rank;
    int32_t pos, merged;
} heap_item;

typedef struct scratch {
    uint8_t *text; /* the span, with the prefix space when added */
    size_t text_cap;
    int32_t *cp; /* (n + 1) code points and their byte offsets */
    uint32_t *off;
    uint8_t *cls;
    size_t cp_cap, off_cap, cls_cap;
    int32_t *id, *prev, *next; /* the symbols of one word */
    size_t id_cap, prev_cap, next_cap;
    heap_item *heap;
    size_t heap_cap, heap_n;
    uint8_t *word; /* a word's characters as UTF-8 (ignore_merges) */
    size_t word_cap;
} scratch;

static void scratch_free(void *p)
{
    scratch *w = p;
    clf__free(w->text);
    clf__free(w->cp);
    clf__free(w->off);
    clf__free(w->cls);
    clf__free(w->id);
    clf__free(w->prev);
    clf__free(w->next);
    clf__free(w->heap);
    clf__free(w->word);
    clf__free(w);
}

enum { C_OTHER, C_LETTER, C_NUMBER, C_SPACE };

static uint8_t char_class(int32_t c)
{
    if (clf__tok_is_space(c)) return C_SPACE;
    if (c < 0x80) {
        if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return C_LETTER;
        if (c >= '0' && c <= '9') return C_NUMBER;
        return C_OTHER;
    }
    switch (utf8proc_category(c)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return C_LETTER;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return C_NUMBER;
    default: return C_OTHER;
    }
}

/* The end of the pattern's match at code point i of cp[0..n). */
static size_t match_at(const int32_t *cp, const uint8_t *cls, size_t i, size_t n)
{
    if (cp[i] == '\'' && i + 1 < n) {
        int32_t a = cp[i + 1], b = i + 2 < n ? cp[i + 2] : 0;
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l'))
            return i + 3;
    }
    size_t k = cp[i] == ' ' && i + 1 < n ? i + 1 : i;
    uint8_t c = cls[k];
    if (c != C_SPACE && (k == i + 1 || c == cls[i])) {
        /* ` ?\p{L}+`, ` ?\p{N}+` or ` ?[^\s\p{L}\p{N}]+`: a run of one class */
        size_t j = k + 1;
        while (j < n && cls[j] == c)
            j++;
        return j;
    }
    /* \s+(?!\S) gives back the last space before a non-space; \s+ else. */
    size_t r = i + 1;
    while (r < n && cls[r] == C_SPACE)
        r++;
    return r < n && r - i >= 2 ? r - 1 : r;
}

static void heap_push(scratch *w, heap_item it)
{
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        heap_item q = w->heap[p];
        if (q.rank < it.rank || (q.rank == it.rank && q.pos <= it.pos)) break;
        w->heap[i] = q;
        i = p;
    }
    w->heap[i] = it;
}

static heap_item heap_pop(scratch *w)
{
    heap_item top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && (w->heap[c + 1].rank < w->heap[c].rank ||
                          (w->heap[c + 1].rank == w->heap[c].rank &&
                           w->heap[c + 1].pos < w->heap[c].pos)))
            c++;
        if (last.rank < w->heap[c].rank ||
            (last.rank == w->heap[c].rank && last.pos <= w->heap[c].pos))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (n) w->heap[i] = last;
    return top;
}

/* Pushes the merge of symbols l and r, if there is one. */
static void push_pair(const clf__bpe *b, scratch *w, int32_t l, int32_t r)
{
    size_t s = pair_slot(b, w->id[l], w->id[r]);
    if (b->keys[s]) heap_push(w, (heap_item){b->ranks[s], l, b->merged[s]});
}

/* One word (bytes s[0..n)): its symbols merged lowest rank first, leftmost
 * first among equals, as HF's Word::merge_all does with its queue; an entry
 * whose pair no longer gives its token is skipped. */
static clf_status word(const clf_tokenizer *t, const clf__bpe *b, scratch *w, const uint8_t *s,
                       size_t n, clf__tok_sink *out)
{
    if (b->ignore_merges) {
        CLF_TRY(clf__tok_grow((void **)&w->word, &w->word_cap, 2 * n, 1));
        size_t len = 0;
        for (size_t i = 0; i < n; i++)
            len += (size_t)utf8proc_encode_char(clf__bpe_byte_char(s[i]), w->word + len);
        int32_t id = clf__tok_lookup(t, (const char *)w->word, len);
        if (id >= 0) {
            clf__tok_emit(out, id);
            return CLF_OK;
        }
    }
    CLF_TRY(clf__tok_grow((void **)&w->id, &w->id_cap, n, sizeof *w->id));
    CLF_TRY(clf__tok_grow((void **)&w->prev, &w->prev_cap, n, sizeof *w->prev));
    CLF_TRY(clf__tok_grow((void **)&w->next, &w->next_cap, n, sizeof *w->next));
    CLF_TRY(clf__tok_grow((void **)&w->heap, &w->heap_cap, 2 * n + 1, sizeof *w->heap));
    int32_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t id = b->byte_id[s[i]] >= 0 ? b->byte_id[s[i]] : b->unk;
        if (id < 0) continue; /* HF drops a character it cannot look up */
        w->id[m] = id;
        w->prev[m] = m - 1;
        w->next[m] = m + 1;
        m++;
    }
    if (m == 0) return CLF_OK;
    w->next[m - 1] = -1;
    w->heap_n = 0;
    for (int32_t i = 0; i + 1 < m; i++)
        push_pair(b, w, i, i + 1);
    while (w->heap_n > 0) {
        heap_item top = heap_pop(w);
        int32_t l = top.pos, r = w->next[l];
        if (w->id[l] < 0 || r < 0) continue;
        size_t sl = pair_slot(b, w->id[l], w->id[r]);
        if (!b->keys[sl] || b->merged[sl] != top.merged) continue;
        w->id[l] = top.merged;
        w->id[r] = -1;
        w->next[l] = w->next[r];
        if (w->next[l] >= 0) w->prev[w->next[l]] = l;
        /* Each merge pushes at most two entries: the heap stays under 2n. */
        if (w->prev[l] >= 0) push_pair(b, w, w->prev[l], l);
        if (w->next[l] >= 0) push_pair(b, w, l, w->next[l]);
    }
    for (int32_t i = 0; i >= 0; i = w->next[i])
        clf__tok_emit(out, w->id[i]);
    return CLF_OK;
}

static clf_status bpe_span(const clf_tokenizer *t, const uint8_t *s, size_t n, clf__tok_sink *out)
{
    const clf__bpe *b = t->model;
    if (!out->scratch && !(out->scratch = clf__calloc(1, sizeof(scratch))))
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
    scratch *w = out->scratch;
    if (b->add_prefix_space && s[0] != ' ') {
        CLF_TRY(clf__tok_grow((void **)&w->text, &w->text_cap, n + 1, 1));
        w->text[0] = ' ';
        memcpy(w->text + 1, s, n);
        s = w->text;
        n++;
    }
    CLF_TRY(clf__tok_grow((void **)&w->cp, &w->cp_cap, n + 1, sizeof *w->cp));
    CLF_TRY(clf__tok_grow((void **)&w->off, &w->off_cap, n + 1, sizeof *w->off));
    CLF_TRY(clf__tok_grow((void **)&w->cls, &w->cls_cap, n + 1, 1));
    size_t m = 0;
    for (size_t i = 0; i < n; m++) {
        utf8proc_int32_t c = s[i];
        utf8proc_ssize_t k = 1;
        if (c >= 0x80) k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        w->cp[m] = c;
        w->cls[m] = char_class(c);
        w->off[m] = (uint32_t)i;
        i += (size_t)k;
    }
    w->off[m] = (uint32_t)n;
    for (size_t i = 0; i < m && out->n < out->limit;) {
        size_t j = match_at(w->cp, w->cls, i, m);
        CLF_TRY(word(t, b, w, s + w->off[i], w->off[j] - w->off[i], out));
        i = j;
    }
    return CLF_OK;
}

/* ---- decoding ---- */

/* HF's ByteLevel decoder: a token whose every character stands for a byte
 * gives those bytes; any other token (an added one such as "<|endoftext|>"
 * written with other characters) gives its own UTF-8. */
static clf_status bpe_piece(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                            clf__tok_bytes *out)
{
    (void)d;
    const uint8_t *s = (const uint8_t *)t->tokens[id];
    size_t n = t->lens[id], start = out->n;
    CLF_TRY(clf__tok_grow((void **)&out->p, &out->cap, out->n + n + 1, 1));
    for (size_t i = 0; i < n;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(s + i, (utf8proc_ssize_t)(n - i), &c);
        int byte = k > 0 ? clf__bpe_char_byte(c) : -1;
        if (byte < 0) {
            out->n = start;
            return clf__tok_bytes_put(out, s, n);
        }
        out->p[out->n++] = (uint8_t)byte;
        i += (size_t)k;
    }
    return CLF_OK;
}

const clf__tok_vtable clf__bpe_vtable = {
    CLF_TOKENIZER_KIND_BPE, bpe_span, scratch_free, bpe_piece, clf__bpe_free,
};
