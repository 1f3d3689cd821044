/*
 * Text -> ids with a SentencePiece model, giving the ids sentencepiece's
 * EncodeAsIds gives (checked against it on the held-out corpus by
 * tests/test_spm.c):
 *   1. normalise: user-defined pieces kept as they are, else the longest
 *      rule of the precompiled character map (a Darts-clone double array),
 *      else the UTF-8 character (a malformed byte becomes U+FFFD); then the
 *      dummy prefix, whitespace squeezing and ' ' -> U+2581;
 *   2. segment: Unigram's Viterbi over piece scores (sentencepiece's
 *      "optimized" encoder, including its float/double arithmetic, so that
 *      near-ties break the same way) or BPE's merges by piece score;
 *   3. unknown pieces: their bytes' <0xXX> pieces with byte fallback, else
 *      one <unk> for each run of unknown pieces.
 */
#include <string.h>

#include "core/core.h"
#include "text/spm.h"

#define SPACE_SYMBOL "\xE2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */
#define UNK_PENALTY 10.0f           /* sentencepiece's kUnkPenalty */
#define CHARSMAP_MAX_RESULTS 32     /* sentencepiece's Normalizer::kMaxTrieResultsSize */

/* ---- a growing byte buffer ---- */

typedef struct buf {
    char *p;
    size_t n, cap;
    bool failed;
} buf;

static void put(buf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->cap - b->n < n + 1) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap - b->n < n + 1) cap *= 2;
        char *p = clf__realloc(b->p, cap);
        if (!p) {
            b->failed = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* sentencepiece's OneCharLen: the length its lead byte announces. */
static size_t one_char_len(uint8_t c)
{
    static const uint8_t len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return len[c >> 4];
}

/* ---- normalisation ---- */

/* Length of the longest USER_DEFINED piece that starts s, or 0. */
static size_t user_defined_match(const clf__spm *m, const uint8_t *s, size_t n)
{
    size_t best = 0;
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        node = clf__spm_trie_step(&m->trie, node, s[i]);
        if (node < 0) break;
        int32_t id = m->trie.norm_id[node];
        if (id >= 0 && m->type[id] == CLF__SPM_USER_DEFINED) best = i + 1;
    }
    return best;
}

/* The longest rule of the character map that starts s: its length (0 =
 * none) and its replacement (*repl, NUL-terminated). Darts-clone's
 * commonPrefixSearch, every index checked; like sentencepiece, only the
 * first CHARSMAP_MAX_RESULTS matches are considered. */
static size_t charsmap_match(const clf__spm *m, const uint8_t *s, size_t n, const char **repl)
{
    return clf__spm_charsmap_prefix(m, s, n, false, repl);
}

size_t clf__spm_charsmap_prefix(const clf__spm *m, const uint8_t *s, size_t n, bool shortest,
                                const char **repl)
{
    if (!m->da) return 0;
    const uint32_t *da = m->da;
#define DA_OFFSET(u) (((size_t)(u) >> 10) << (((u) & (1u << 9)) >> 6))
    size_t pos = DA_OFFSET(da[0]), best = 0;
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        pos ^= s[i];
        if (pos >= m->n_da) break;
        uint32_t unit = da[pos];
        if ((unit & ((1u << 31) | 0xFFu)) != s[i]) break;
        pos ^= DA_OFFSET(unit);
        if ((unit >> 8) & 1) {
            if (pos >= m->n_da) break;
            uint32_t value = da[pos] & 0x7FFFFFFFu;
            if (found++ < CHARSMAP_MAX_RESULTS && value < m->da_text_len) {
                best = i + 1;
                *repl = m->da_text + value;
                if (shortest) break;
            }
        }
    }
#undef DA_OFFSET
    return best;
}

/* sentencepiece's NormalizePrefix: what the start of s becomes (*out, *out_n
 * bytes) and how many bytes of s that consumes. */
static size_t normalize_prefix(const clf__spm *m, const uint8_t *s, size_t n, const char **out,
                               size_t *out_n)
{
    size_t k;
    if (m->has_user_defined && (k = user_defined_match(m, s, n)) > 0) {
        *out = (const char *)s;
        *out_n = k;
        return k;
    }
    if (m->da && (k = charsmap_match(m, s, n, out)) > 0) {
        *out_n = strlen(*out);
        return k;
    }
    bool valid;
    k = clf__spm_utf8_char(s, n, &valid);
    if (!valid) {
        *out = "\xEF\xBF\xBD"; /* U+FFFD for one malformed byte */
        *out_n = 3;
        return 1;
    }
    *out = (const char *)s;
    *out_n = k;
    return k;
}

static void add_ws(const clf__spm *m, buf *b)
{
    if (m->escape_ws)
        put(b, SPACE_SYMBOL, 3);
    else
        put(b, " ", 1);
}

static clf_status normalize(const clf__spm *m, const uint8_t *s, size_t n, buf *b)
{
    put(b, "", 0); /* an empty result is still a string */
    const char *r;
    size_t rn, k;
    if (m->remove_extra_ws) /* leading whitespace */
        while (n > 0) {
            k = normalize_prefix(m, s, n, &r, &rn);
            if (!(rn == 1 && r[0] == ' ')) break;
            s += k, n -= k;
        }
    if (n == 0) return b->failed ? CLF_ERR_OUT_OF_MEMORY : CLF_OK;
    if (!m->ws_suffix && m->add_dummy_prefix) add_ws(m, b);
    bool prev_space = m->remove_extra_ws;
    while (n > 0) {
        k = normalize_prefix(m, s, n, &r, &rn);
        while (prev_space && rn > 0 && r[0] == ' ') r++, rn--;
        if (rn > 0) {
            for (size_t i = 0; i < rn;) {
                size_t j = i;
                while (j < rn && !(m->escape_ws && r[j] == ' ')) j++;
                put(b, r + i, j - i);
                if (j < rn) put(b, SPACE_SYMBOL, 3), j++;
                i = j;
            }
            prev_space = r[rn - 1] == ' ';
        }
        s += k, n -= k;
        if (!m->remove_extra_ws) prev_space = false;
    }
    if (m->remove_extra_ws && !b->failed) { /* trailing whitespace */
        const char *sp = m->escape_ws ? SPACE_SYMBOL : " ";
        size_t spn = m->escape_ws ? 3 : 1;
        while (b->n >= spn && memcmp(b->p + b->n - spn, sp, spn) == 0) b->n -= spn;
        b->p[b->n] = '\0';
    }
    if (m->ws_suffix && m->add_dummy_prefix) add_ws(m, b);
    return b->failed ? CLF_ERR_OUT_OF_MEMORY : CLF_OK;
}

clf_status clf__spm_normalize(const clf__spm *m, const char *text, size_t len, char **norm,
                              size_t *norm_len)
{
    *norm = NULL;
    *norm_len = 0;
    if (!m || (!text && len) || len > CLF__SPM_MAX_TEXT)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm normalize: no model, no text, or "
                                                     "more than 2^28 bytes");
    buf b = {0};
    if (normalize(m, (const uint8_t *)text, len, &b) != CLF_OK) {
        clf__free(b.p);
        return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "spm normalize: out of host memory");
    }
    *norm = b.p;
    *norm_len = b.n;
    return CLF_OK;
}

/* ---- output ---- */

typedef struct emitter {
    clf__spm_ids *out;
    bool prev_unk, failed;
    clf__spm_ids *surf;  /* NULL, or (offset, length) in the normalised text of each id */
    const uint8_t *base; /* the normalised text */
} emitter;

static void push_id(emitter *e, int32_t id)
{
    clf__spm_ids *v = e->out;
    if (e->failed) return;
    if (v->n == v->cap) {
        int64_t cap = v->cap ? v->cap * 2 : 64;
        int32_t *p = clf__realloc(v->ids, (size_t)cap * sizeof *p);
        if (!p) {
            e->failed = true;
            return;
        }
        v->ids = p;
        v->cap = cap;
    }
    v->ids[v->n++] = id;
}

/* One segment (its normalised bytes s, n) with its piece id, as
 * sentencepiece's PopulateSentencePieceText turns it into ids. */
static void push_surface(emitter *e, const uint8_t *s, size_t n)
{
    if (!e->surf) return;
    clf__spm_ids *out = e->out;
    e->out = e->surf;
    push_id(e, (int32_t)(s - e->base));
    push_id(e, (int32_t)n);
    e->out = out;
}

static void emit(const clf__spm *m, emitter *e, const uint8_t *s, size_t n, int32_t id)
{
    bool unk = m->type[id] == CLF__SPM_UNKNOWN;
    if (unk && m->byte_fallback)
        for (size_t i = 0; i < n; i++) {
            push_id(e, m->byte_id[s[i]]);
            push_surface(e, s + i, 1);
        }
    else if (!(unk && e->prev_unk)) { /* a run of unknowns is one <unk> */
        push_id(e, id);
        push_surface(e, s, n);
    } else if (e->surf && e->surf->n >= 2 && !e->failed)
        e->surf->ids[e->surf->n - 1] += (int32_t)n; /* the run's surface grows */
    e->prev_unk = unk;
}

/* ---- Unigram ---- */

typedef struct best_path {
    float score;   /* best path's score ending here */
    int32_t start; /* where its last piece starts; -1 = not reached */
    int32_t id;
} best_path;

static clf_status unigram(const clf__spm *m, const uint8_t *s, size_t n, emitter *e)
{
    best_path *bp = clf__malloc((n + 1) * sizeof *bp);
    if (!bp) return CLF_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i <= n; i++) bp[i] = (best_path){0.0f, -1, -1};
    const float unk_score = m->min_score - UNK_PENALTY;
    size_t start = 0;
    while (start < n) {
        const float till = bp[start].score;
        size_t mblen = one_char_len(s[start]);
        if (mblen > n - start) mblen = n - start;
        bool has_single = false;
        int32_t node = 0;
        for (size_t k = start; k < n;) {
            node = clf__spm_trie_step(&m->trie, node, s[k++]);
            if (node < 0) break;
            int32_t id = m->trie.norm_id[node];
            if (id < 0 || m->type[id] == CLF__SPM_UNUSED) continue;
            size_t length = k - start;
            /* sentencepiece's types: the ternary is double (0.1 is), the
             * path score float. */
            double score = m->type[id] == CLF__SPM_USER_DEFINED
                               ? (double)((float)length * m->max_score) - 0.1
                               : (double)m->score[id];
            double cand = score + (double)till;
            if (bp[k].start == -1 || cand > (double)bp[k].score)
                bp[k] = (best_path){(float)cand, (int32_t)start, id};
            if (length == mblen) has_single = true;
        }
        if (!has_single) {
            float cand = unk_score + till;
            best_path *t = &bp[start + mblen];
            if (t->start == -1 || cand > t->score)
                *t = (best_path){cand, (int32_t)start, m->unk_id};
        }
        start += mblen;
    }
    /* Backtrack, then emit left to right: the path is reversed in place by
     * reusing the start links. */
    int32_t count = 0;
    for (int64_t end = (int64_t)n; end > 0; end = bp[end].start) count++;
    int32_t *ends = clf__malloc((size_t)count * sizeof *ends);
    if (!ends) {
        clf__free(bp);
        return CLF_ERR_OUT_OF_MEMORY;
    }
    int32_t i = count;
    for (int64_t end = (int64_t)n; end > 0; end = bp[end].start) ends[--i] = (int32_t)end;
    for (i = 0; i < count; i++) {
        const best_path *p = &bp[ends[i]];
        emit(m, e, s + p->start, (size_t)(ends[i] - p->start), p->id);
    }
    clf__free(ends);
    clf__free(bp);
    return CLF_OK;
}

/* ---- BPE ---- */

typedef struct symbol {
    int32_t start, len; /* bytes of the normalised text; len 0 = merged away */
    int32_t prev, next; /* -1 at the ends */
    bool freeze;        /* a user-defined piece: never merged */
} symbol;

typedef struct pair {
    float score;
    int32_t left, right, size;
} pair;

typedef struct bpe_state {
    const clf__spm *m;
    const uint8_t *s;
    symbol *sym;
    pair *heap;
    size_t n_heap, cap_heap;
    int32_t (*rev)[2]; /* (n_rev) UNUSED piece id, length of its left part */
    size_t n_rev, cap_rev;
    bool failed;
} bpe_state;

static bool pair_before(const pair *a, const pair *b)
{
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int32_t exact_normal(const clf__spm *m, const uint8_t *s, size_t n)
{
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = clf__spm_trie_step(&m->trie, node, s[i]);
    return node > 0 ? m->trie.norm_id[node] : -1;
}

static void *grow(void *p, size_t *cap, size_t elem, bool *failed)
{
    size_t c = *cap ? *cap * 2 : 64;
    void *q = clf__realloc(p, c * elem);
    if (!q) {
        *failed = true;
        return p;
    }
    *cap = c;
    return q;
}

static void maybe_add_pair(bpe_state *st, int32_t l, int32_t r)
{
    if (l < 0 || r < 0 || st->sym[l].freeze || st->sym[r].freeze || st->failed) return;
    int32_t size = st->sym[l].len + st->sym[r].len;
    int32_t id = exact_normal(st->m, st->s + st->sym[l].start, (size_t)size);
    if (id < 0) return;
    if (st->n_heap == st->cap_heap) {
        st->heap = grow(st->heap, &st->cap_heap, sizeof *st->heap, &st->failed);
        if (st->failed) return;
    }
    pair p = {st->m->score[id], l, r, size};
    size_t i = st->n_heap++;
    while (i > 0 && pair_before(&p, &st->heap[(i - 1) / 2])) {
        st->heap[i] = st->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    st->heap[i] = p;
    if (st->m->type[id] == CLF__SPM_UNUSED) { /* remember how to split it back */
        if (st->n_rev == st->cap_rev) {
            st->rev = grow(st->rev, &st->cap_rev, sizeof *st->rev, &st->failed);
            if (st->failed) return;
        }
        st->rev[st->n_rev][0] = id;
        st->rev[st->n_rev++][1] = st->sym[l].len;
    }
}

static pair pop_pair(bpe_state *st)
{
    pair top = st->heap[0], last = st->heap[--st->n_heap];
    size_t i = 0, n = st->n_heap;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && pair_before(&st->heap[c + 1], &st->heap[c])) c++;
        if (!pair_before(&st->heap[c], &last)) break;
        st->heap[i] = st->heap[c];
        i = c;
    }
    if (n) st->heap[i] = last;
    return top;
}

/* sentencepiece's PieceToId: reserved kinds first, then normal, else unk. */
static int32_t piece_to_id(const clf__spm *m, const uint8_t *s, size_t n)
{
    int32_t id = clf__spm_piece_id(m, (const char *)s, n);
    return id >= 0 ? id : m->unk_id;
}

/* Emits a final symbol; an UNUSED piece is split back into the two parts it
 * was merged from (the last merge recorded for it), recursively. */
static void resegment(bpe_state *st, emitter *e, int32_t start, int32_t len)
{
    int32_t stack[2 * CLF__SPM_MAX_PIECE_BYTES + 4][2];
    size_t top = 0;
    stack[top][0] = start, stack[top++][1] = len;
    while (top > 0) {
        top--;
        int32_t s0 = stack[top][0], n0 = stack[top][1];
        int32_t id = piece_to_id(st->m, st->s + s0, (size_t)n0);
        int32_t split = -1;
        if (st->m->type[id] == CLF__SPM_UNUSED)
            for (size_t i = st->n_rev; i-- > 0;)
                if (st->rev[i][0] == id) {
                    split = st->rev[i][1];
                    break;
                }
        if (split <= 0 || split >= n0 || top + 2 > CLF_ARRAY_LEN(stack)) {
            emit(st->m, e, st->s + s0, (size_t)n0, id);
            continue;
        }
        stack[top][0] = s0 + split, stack[top++][1] = n0 - split; /* right, popped second */
        stack[top][0] = s0, stack[top++][1] = split;
    }
}

static clf_status bpe(const clf__spm *m, const uint8_t *s, size_t n, emitter *e)
{
    bpe_state st = {.m = m, .s = s};
    st.sym = clf__malloc(n * sizeof *st.sym);
    if (!st.sym) return CLF_ERR_OUT_OF_MEMORY;
    int32_t count = 0;
    for (size_t i = 0; i < n;) {
        size_t k = m->has_user_defined ? user_defined_match(m, s + i, n - i) : 0;
        bool freeze = k > 0;
        if (!freeze) {
            k = one_char_len(s[i]);
            if (k > n - i) k = n - i;
        }
        st.sym[count] = (symbol){(int32_t)i, (int32_t)k, count - 1, -1, freeze};
        if (count > 0) st.sym[count - 1].next = count;
        count++;
        i += k;
    }
    for (int32_t i = 1; i < count; i++) maybe_add_pair(&st, i - 1, i);
    while (st.n_heap > 0 && !st.failed) {
        pair top = pop_pair(&st);
        symbol *l = &st.sym[top.left], *r = &st.sym[top.right];
        if (l->len == 0 || r->len == 0 || l->len + r->len != top.size) continue; /* stale */
        l->len += r->len;
        l->next = r->next;
        if (r->next >= 0) st.sym[r->next].prev = top.left;
        r->len = 0;
        maybe_add_pair(&st, l->prev, top.left);
        maybe_add_pair(&st, top.left, l->next);
    }
    if (!st.failed)
        for (int32_t i = count > 0 ? 0 : -1; i >= 0; i = st.sym[i].next)
            resegment(&st, e, st.sym[i].start, st.sym[i].len);
    clf__free(st.sym);
    clf__free(st.heap);
    clf__free(st.rev);
    return st.failed ? CLF_ERR_OUT_OF_MEMORY : CLF_OK;
}

/* ---- the entry point ---- */

void clf__spm_ids_clear(clf__spm_ids *v)
{
    if (!v) return;
    clf__free(v->ids);
    v->ids = NULL;
    v->n = v->cap = 0;
}

clf_status clf__spm_encode(const clf__spm *m, const char *text, size_t len, clf__spm_ids *out)
{
    return clf__spm_encode_surface(m, text, len, out, NULL, NULL);
}

clf_status clf__spm_encode_surface(const clf__spm *m, const char *text, size_t len,
                                   clf__spm_ids *out, clf__spm_ids *spans, char **norm)
{
    if (norm) *norm = NULL;
    if (!m || !out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm encode: no model or output");
    if (!text && len) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm encode: text is NULL");
    if (len > CLF__SPM_MAX_TEXT)
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "spm encode: %zu bytes of text (at most %zu at once)", len,
                          CLF__SPM_MAX_TEXT);
    buf b = {0};
    int64_t kept = out->n;
    clf_status s = normalize(m, (const uint8_t *)text, len, &b);
    /* The normalised text can outgrow the input (a character map rule may
     * expand); the segmenters index it with int32. */
    if (s == CLF_OK && b.n > (size_t)INT32_MAX / 2)
        s = clf__error(NULL, CLF_ERR_INVALID_ARG, "spm encode: the normalised text is too long");
    emitter e = {out, false, false, spans, (const uint8_t *)b.p};
    int64_t kept_spans = spans ? spans->n : 0;
    if (s == CLF_OK && b.n > 0)
        s = m->algo == CLF__SPM_UNIGRAM ? unigram(m, (const uint8_t *)b.p, b.n, &e)
                                        : bpe(m, (const uint8_t *)b.p, b.n, &e);
    if (s == CLF_OK && e.failed) s = CLF_ERR_OUT_OF_MEMORY;
    if (s == CLF_OK && norm) {
        *norm = b.p;
        b.p = NULL;
    }
    if (s != CLF_OK && spans) spans->n = kept_spans;
    clf__free(b.p);
    if (s == CLF_ERR_OUT_OF_MEMORY) {
        out->n = kept;
        return clf__error(NULL, s, "spm encode: out of host memory");
    }
    if (s != CLF_OK) out->n = kept;
    return s;
}
