/*
 * Building a SentencePiece model from its description (clf__spm_desc): the
 * checks sentencepiece's ModelInterface::InitializePieces makes, the byte
 * trie over the pieces, the byte-fallback table, the precompiled character
 * map, and the read-only accessors.
 */
#include <float.h>
#include <string.h>

#include "core/core.h"
#include "text/spm.h"

size_t clf__spm_utf8_char(const uint8_t *s, size_t n, bool *valid)
{
    uint32_t c = s[0], cp;
    *valid = true;
    if (c < 0x80) return 1;
    if (n >= 2 && (c & 0xE0) == 0xC0 && (s[1] & 0xC0) == 0x80) {
        cp = (c & 0x1F) << 6 | (s[1] & 0x3F);
        if (cp >= 0x80) return 2;
    } else if (n >= 3 && (c & 0xF0) == 0xE0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80) {
        cp = (c & 0x0F) << 12 | (uint32_t)(s[1] & 0x3F) << 6 | (s[2] & 0x3F);
        if (cp >= 0x800 && (cp < 0xD800 || cp >= 0xE000)) return 3;
    } else if (n >= 4 && (c & 0xF8) == 0xF0 && (s[1] & 0xC0) == 0x80 && (s[2] & 0xC0) == 0x80 &&
               (s[3] & 0xC0) == 0x80) {
        cp = (c & 0x07) << 18 | (uint32_t)(s[1] & 0x3F) << 12 | (uint32_t)(s[2] & 0x3F) << 6 |
             (s[3] & 0x3F);
        if (cp >= 0x10000 && cp <= 0x10FFFF) return 4;
    }
    *valid = false;
    return 1;
}

static const char *type_name(int t)
{
    static const char *names[] = {"?",       "NORMAL", "UNKNOWN", "CONTROL",
                                  "USER_DEFINED", "UNUSED", "BYTE"};
    return t >= 1 && t <= 6 ? names[t] : "?";
}

static bool is_normal_kind(int t)
{
    return t == CLF__SPM_NORMAL || t == CLF__SPM_USER_DEFINED || t == CLF__SPM_UNUSED;
}

/* "<0xAB>" -> 0xAB; -1 for anything else (sentencepiece spells them upper-case). */
static int piece_byte(const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    if (n != 6 || memcmp(p, "<0x", 3) != 0 || p[5] != '>') return -1;
    const char *hi = memchr(hex, p[3], 16), *lo = memchr(hex, p[4], 16);
    if (!hi || !lo || !p[3] || !p[4]) return -1;
    return (int)(hi - hex) * 16 + (int)(lo - hex);
}

/* ---- the trie ---- */

static clf_status trie_alloc(clf__spm_trie *t, size_t max_nodes)
{
    size_t slots = 64;
    unsigned bits = 6;
    while (slots < max_nodes * 2) slots <<= 1, bits++;
    t->norm_id = clf__malloc(max_nodes * sizeof *t->norm_id);
    t->res_id = clf__malloc(max_nodes * sizeof *t->res_id);
    t->key = clf__calloc(slots, sizeof *t->key);
    t->child = clf__malloc(slots * sizeof *t->child);
    if (!t->norm_id || !t->res_id || !t->key || !t->child) return CLF_ERR_OUT_OF_MEMORY;
    t->mask = slots - 1;
    t->shift = 64 - bits;
    t->n_nodes = 1;
    t->norm_id[0] = t->res_id[0] = -1;
    return CLF_OK;
}

/* The node of s (n bytes), created as needed. */
static int32_t trie_insert(clf__spm_trie *t, const uint8_t *s, size_t n)
{
    int32_t node = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t key = ((uint64_t)node << 8 | s[i]) + 1;
        uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> t->shift;
        while (t->key[h] && t->key[h] != key) h = (h + 1) & t->mask;
        if (!t->key[h]) {
            int32_t c = t->n_nodes++;
            t->norm_id[c] = t->res_id[c] = -1;
            t->key[h] = key;
            t->child[h] = c;
        }
        node = t->child[h];
    }
    return node;
}

static int32_t trie_find(const clf__spm_trie *t, const char *s, size_t n)
{
    int32_t node = 0;
    for (size_t i = 0; i < n && node >= 0; i++) node = clf__spm_trie_step(t, node, (uint8_t)s[i]);
    return node;
}

/* ---- the precompiled character map ---- */

/* sentencepiece's blob: <uint32 LE size of the double array><double array
 * units, uint32 LE each><replacement strings, each NUL-terminated>. The
 * lookup (spm_encode.c) bounds-checks every unit index and string offset,
 * so a damaged array can only give wrong replacements, never a bad read;
 * here the framing is checked. */
static clf_status load_charsmap(clf__spm *m, const uint8_t *blob, size_t n, const char *name)
{
    if (n <= 4)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: precompiled_charsmap of %zu bytes is too short", name, n);
    uint32_t da_bytes = (uint32_t)blob[0] | (uint32_t)blob[1] << 8 | (uint32_t)blob[2] << 16 |
                        (uint32_t)blob[3] << 24;
    if (da_bytes >= n - 4 || da_bytes % 4 != 0 || da_bytes == 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: precompiled_charsmap's trie size %u does not fit its %zu bytes "
                          "(or is not a multiple of 4)",
                          name, da_bytes, n);
    size_t text_len = n - 4 - da_bytes;
    if (blob[n - 1] != 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: precompiled_charsmap's strings do not end with a NUL byte", name);
    m->n_da = da_bytes / 4;
    m->da = clf__malloc(da_bytes);
    m->da_text = clf__malloc(text_len);
    if (!m->da || !m->da_text) return CLF_ERR_OUT_OF_MEMORY;
    for (size_t i = 0; i < m->n_da; i++) {
        const uint8_t *u = blob + 4 + 4 * i;
        m->da[i] = (uint32_t)u[0] | (uint32_t)u[1] << 8 | (uint32_t)u[2] << 16 |
                   (uint32_t)u[3] << 24;
    }
    memcpy(m->da_text, blob + 4 + da_bytes, text_len);
    m->da_text_len = text_len;
    return CLF_OK;
}

/* ---- building ---- */

static clf_status check_piece(const clf__spm_desc *d, int32_t i, const char *name)
{
    const uint8_t *p = (const uint8_t *)d->pieces[i];
    size_t n = d->lens[i];
    if (d->types[i] < CLF__SPM_NORMAL || d->types[i] > CLF__SPM_BYTE)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: piece %d has type %d, not one of 1..6",
                          name, (int)i, (int)d->types[i]);
    if (n == 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: piece %d is empty", name, (int)i);
    if (n > CLF__SPM_MAX_PIECE_BYTES)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: piece %d is longer than %d bytes", name,
                          (int)i, CLF__SPM_MAX_PIECE_BYTES);
    for (size_t k = 0; k < n;) {
        bool ok;
        size_t c = clf__spm_utf8_char(p + k, n - k, &ok);
        if (!ok || p[k] == 0)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: piece %d has %s at byte %zu", name, (int)i,
                              ok ? "a NUL byte" : "invalid UTF-8", k);
        k += c;
    }
    return CLF_OK;
}

static clf_status index_pieces(clf__spm *m, const clf__spm_desc *d, const char *name)
{
    size_t total = 1;
    for (int32_t i = 0; i < m->n; i++) total += m->len[i];
    if (trie_alloc(&m->trie, total) != CLF_OK) return CLF_ERR_OUT_OF_MEMORY;
    for (int32_t i = 0; i < m->n; i++) {
        const char *p = m->arena + m->off[i];
        int32_t node = trie_insert(&m->trie, (const uint8_t *)p, m->len[i]);
        int32_t *slot = is_normal_kind(m->type[i]) ? &m->trie.norm_id[node] : &m->trie.res_id[node];
        if (*slot >= 0)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: piece %d \"%.64s\" (%s) repeats piece %d (%s)", name, (int)i, p,
                              type_name(m->type[i]), (int)*slot, type_name(m->type[*slot]));
        *slot = i;
        if (m->type[i] == CLF__SPM_USER_DEFINED) m->has_user_defined = true;
        if (m->type[i] == CLF__SPM_UNKNOWN) {
            if (m->unk_id >= 0)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: pieces %d and %d are both of type UNKNOWN", name,
                                  (int)m->unk_id, (int)i);
            m->unk_id = i;
        }
        if (m->type[i] == CLF__SPM_BYTE) {
            int b = piece_byte(p, m->len[i]);
            if (!d->byte_fallback)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: byte piece %d \"%.64s\" but byte_fallback is off", name,
                                  (int)i, p);
            if (b < 0)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: byte piece %d \"%.64s\" is not of the form <0xXX>", name,
                                  (int)i, p);
            m->byte_id[b] = i;
            m->byte_of[i] = (int16_t)b;
        }
        if (m->type[i] == CLF__SPM_NORMAL) {
            if (m->score[i] < m->min_score) m->min_score = m->score[i];
            if (m->score[i] > m->max_score) m->max_score = m->score[i];
        }
    }
    if (m->unk_id < 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no piece of type UNKNOWN (<unk>)", name);
    if (d->byte_fallback)
        for (int b = 0; b < 256; b++)
            if (m->byte_id[b] < 0)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: byte_fallback is on but piece <0x%02X> is missing", name, b);
    for (int32_t i = 0; i < m->n; i++) m->canon[i] = clf__spm_piece_id(m, m->arena + m->off[i], m->len[i]);
    return CLF_OK;
}

static int32_t control_id(const clf__spm *m, const char *piece)
{
    int32_t id = clf__spm_piece_id(m, piece, strlen(piece));
    return id >= 0 && m->type[id] == CLF__SPM_CONTROL ? id : -1;
}

static clf_status build(clf__spm *m, const clf__spm_desc *d, const char *name)
{
    size_t arena = 0;
    bool any_normal = false;
    for (int32_t i = 0; i < d->n_pieces; i++) {
        CLF_TRY(check_piece(d, i, name));
        arena += d->lens[i] + 1;
        any_normal |= is_normal_kind(d->types[i]);
    }
    if (!any_normal)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no normal pieces (%d pieces in all)", name,
                          (int)d->n_pieces);
    size_t n = (size_t)d->n_pieces;
    m->arena = clf__malloc(arena);
    m->off = clf__malloc(n * sizeof *m->off);
    m->len = clf__malloc(n * sizeof *m->len);
    m->score = clf__malloc(n * sizeof *m->score);
    m->type = clf__malloc(n * sizeof *m->type);
    m->canon = clf__malloc(n * sizeof *m->canon);
    m->byte_of = clf__malloc(n * sizeof *m->byte_of);
    if (!m->arena || !m->off || !m->len || !m->score || !m->type || !m->canon || !m->byte_of)
        return CLF_ERR_OUT_OF_MEMORY;
    size_t at = 0;
    for (int32_t i = 0; i < m->n; i++) {
        memcpy(m->arena + at, d->pieces[i], d->lens[i]);
        m->arena[at + d->lens[i]] = '\0';
        m->off[i] = at;
        at += d->lens[i] + 1;
        m->len[i] = d->lens[i];
        m->score[i] = d->scores[i];
        m->type[i] = d->types[i];
        m->byte_of[i] = -1;
    }
    CLF_TRY(index_pieces(m, d, name));
    if (d->charsmap && d->charsmap_len) CLF_TRY(load_charsmap(m, d->charsmap, d->charsmap_len, name));
    static const char default_unk[] = " \xE2\x81\x87 "; /* " ⁇ ", sentencepiece's */
    const char *us = d->unk_surface ? d->unk_surface : default_unk;
    size_t ul = d->unk_surface ? d->unk_surface_len : sizeof default_unk - 1;
    m->unk_surface = clf__malloc(ul + 1);
    if (!m->unk_surface) return CLF_ERR_OUT_OF_MEMORY;
    memcpy(m->unk_surface, us, ul);
    m->unk_surface[ul] = '\0';
    m->unk_surface_len = ul;
    m->bos_id = control_id(m, d->bos_piece ? d->bos_piece : "<s>");
    m->eos_id = control_id(m, d->eos_piece ? d->eos_piece : "</s>");
    m->pad_id = control_id(m, d->pad_piece ? d->pad_piece : "<pad>");
    return CLF_OK;
}

clf_status clf__spm_build(const clf__spm_desc *d, const char *name, clf__spm **out)
{
    if (!out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "spm build: out is NULL");
    *out = NULL;
    if (!name) name = "(sentencepiece model)";
    if (!d || (d->n_pieces > 0 && (!d->pieces || !d->lens || !d->scores || !d->types)))
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "%s: incomplete description", name);
    if (d->n_pieces <= 0 || d->n_pieces > CLF__SPM_MAX_PIECES)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %d pieces (1..%d allowed)", name,
                          (int)d->n_pieces, CLF__SPM_MAX_PIECES);
    if (d->algo != CLF__SPM_UNIGRAM && d->algo != CLF__SPM_BPE)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED, "%s: model type %d is not Unigram or BPE",
                          name, (int)d->algo);
    clf__spm *m = clf__calloc(1, sizeof *m);
    if (!m) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    m->n = d->n_pieces;
    m->algo = d->algo;
    m->byte_fallback = d->byte_fallback;
    m->add_dummy_prefix = d->add_dummy_prefix;
    m->remove_extra_ws = d->remove_extra_whitespaces;
    m->escape_ws = d->escape_whitespaces;
    m->ws_suffix = d->treat_whitespace_as_suffix;
    m->unk_id = m->bos_id = m->eos_id = m->pad_id = -1;
    /* sentencepiece starts from FLT_MAX / FLT_MIN (the smallest positive
     * float, not the most negative): kept, since user-defined pieces' scores
     * and the unknown penalty derive from them. */
    m->min_score = FLT_MAX;
    m->max_score = FLT_MIN;
    for (int b = 0; b < 256; b++) m->byte_id[b] = -1;
    clf_status s = build(m, d, name);
    if (s == CLF_ERR_OUT_OF_MEMORY) clf__error(NULL, s, "%s: out of host memory", name);
    if (s != CLF_OK) {
        clf__spm_free(m);
        return s;
    }
    *out = m;
    return CLF_OK;
}

void clf__spm_free(clf__spm *m)
{
    if (!m) return;
    clf__free(m->arena);
    clf__free(m->off);
    clf__free(m->len);
    clf__free(m->score);
    clf__free(m->type);
    clf__free(m->canon);
    clf__free(m->byte_of);
    clf__free(m->trie.norm_id);
    clf__free(m->trie.res_id);
    clf__free(m->trie.key);
    clf__free(m->trie.child);
    clf__free(m->unk_surface);
    clf__free(m->da);
    clf__free(m->da_text);
    clf__free(m);
}

/* ---- reading ---- */

int32_t clf__spm_n_pieces(const clf__spm *m) { return m ? m->n : 0; }

const char *clf__spm_piece(const clf__spm *m, int32_t id, size_t *len)
{
    if (!m || id < 0 || id >= m->n) return NULL;
    if (len) *len = m->len[id];
    return m->arena + m->off[id];
}

float clf__spm_score(const clf__spm *m, int32_t id)
{
    return m && id >= 0 && id < m->n ? m->score[id] : 0.0f;
}

int clf__spm_piece_type(const clf__spm *m, int32_t id)
{
    return m && id >= 0 && id < m->n ? m->type[id] : -1;
}

clf__spm_algo clf__spm_algorithm(const clf__spm *m) { return m->algo; }

int32_t clf__spm_piece_id(const clf__spm *m, const char *s, size_t n)
{
    if (!m || (!s && n)) return -1;
    int32_t node = trie_find(&m->trie, s, n);
    if (node <= 0) return -1;
    return m->trie.res_id[node] >= 0 ? m->trie.res_id[node] : m->trie.norm_id[node];
}

int32_t clf__spm_unk_id(const clf__spm *m) { return m->unk_id; }
int32_t clf__spm_bos_id(const clf__spm *m) { return m->bos_id; }
int32_t clf__spm_eos_id(const clf__spm *m) { return m->eos_id; }
int32_t clf__spm_pad_id(const clf__spm *m) { return m->pad_id; }
