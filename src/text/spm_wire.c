/*
 * SentencePiece models behind the public tokenizer API (kinds UNIGRAM and
 * SPM_BPE): a bare .spm / .model file (ids = the model's own, as
 * sentencepiece's EncodeAsIds / DecodeIds), and a Marian folder as
 * transformers' MarianTokenizer reads it (source.spm encodes, vocab.json
 * maps pieces to model ids, target.spm's rules decode, </s> is appended).
 * The engine itself is spm_*.c; tokenizer.json Unigram is unigram_json.c.
 */
#include <stdio.h>
#include <string.h>

#include <clformer/clformer.h>

#include <json-c/json.h>

#include "core/core.h"
#include "text/spm.h"
#include "text/text_internal.h"

typedef struct spm_tok {
    clf__spm *src;    /* encodes */
    clf__spm *tgt;    /* decodes (Marian's target.spm); NULL = src */
    int32_t *src_map; /* Marian: (src->n) source piece -> model id (<unk> when absent) */
} spm_tok;

static void spm_tok_free(void *p)
{
    spm_tok *m = p;
    if (!m) return;
    clf__spm_free(m->src);
    clf__spm_free(m->tgt);
    clf__free(m->src_map);
    clf__free(m);
}

static void no_scratch(void *s) { (void)s; }

/* ---- decoding: sentencepiece's DecodePieces, a piece at a time ---- */

enum {
    ST_NONEMPTY = 1,    /* the run has produced text */
    ST_BOS_WS_SEEN = 2, /* the first piece's leading space was just removed */
    ST_NOT_BOS = 4,     /* past the start: leading spaces stay */
};

/* Appends the text of piece p (pn bytes) whose id in m is sid (-1 = not a
 * piece of m: sentencepiece keeps such a piece's text), following
 * clf__spm_decode's rules with the run's state in d->kind. */
static clf_status spm_piece_text(const clf__spm *m, int32_t sid, const char *p, size_t pn,
                                 clf__tok_dstate *d, clf__tok_bytes *out)
{
    int type = sid >= 0 ? m->type[m->canon[sid]] : CLF__SPM_NORMAL;
    if (type == CLF__SPM_BYTE) {
        uint8_t b = (uint8_t)m->byte_of[m->canon[sid]];
        d->kind |= ST_NONEMPTY; /* a byte always ends as text, a character or U+FFFD */
        return clf__tok_bytes_put(out, &b, 1);
    }
    if (d->kind & (ST_BOS_WS_SEEN | ST_NONEMPTY)) d->kind |= ST_NOT_BOS;
    d->kind &= ~(unsigned)ST_BOS_WS_SEEN;
    if (type == CLF__SPM_CONTROL) return CLF_OK;
    if (type == CLF__SPM_UNKNOWN) {
        if (m->unk_surface_len) d->kind |= ST_NONEMPTY;
        return clf__tok_bytes_put(out, m->unk_surface, m->unk_surface_len);
    }
    /* A piece m does not know keeps its text whole (sentencepiece's rule). */
    if (sid >= 0 && !(d->kind & ST_NOT_BOS) && (m->add_dummy_prefix || m->remove_extra_ws) && pn >= 3 &&
        memcmp(p, "\xE2\x96\x81", 3) == 0) {
        p += 3, pn -= 3;
        if (!m->remove_extra_ws) d->kind |= ST_BOS_WS_SEEN;
    }
    if (pn) d->kind |= ST_NONEMPTY;
    for (size_t i = 0; i < pn;) {
        if (i + 3 <= pn && memcmp(p + i, "\xE2\x96\x81", 3) == 0) {
            CLF_TRY(clf__tok_bytes_put(out, " ", 1));
            i += 3;
            continue;
        }
        size_t j = i + 1;
        while (j < pn && !(j + 3 <= pn && memcmp(p + j, "\xE2\x96\x81", 3) == 0)) j++;
        CLF_TRY(clf__tok_bytes_put(out, p + i, j - i));
        i = j;
    }
    return CLF_OK;
}

static clf_status bare_piece(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                             clf__tok_bytes *out)
{
    const spm_tok *m = t->model;
    return spm_piece_text(m->src, id, t->tokens[id], t->lens[id], d, out);
}

/* MarianTokenizer.convert_tokens_to_string: runs of pieces decoded by
 * target.spm, a special token written as itself and a space, the whole
 * stripped (CLF__DEC_STRIP). */
static clf_status marian_piece(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                               clf__tok_bytes *out)
{
    const spm_tok *m = t->model;
    if (t->is_special[id]) {
        d->kind = 0; /* the next piece starts a new DecodePieces run */
        CLF_TRY(clf__tok_bytes_put(out, t->tokens[id], t->lens[id]));
        return clf__tok_bytes_put(out, " ", 1);
    }
    int32_t sid = clf__spm_piece_id(m->tgt, t->tokens[id], t->lens[id]);
    return spm_piece_text(m->tgt, sid, t->tokens[id], t->lens[id], d, out);
}

/* ---- encoding ---- */

static clf_status bare_span(const clf_tokenizer *t, const uint8_t *s, size_t n,
                            clf__tok_sink *out)
{
    const spm_tok *m = t->model;
    clf__spm_ids ids = {0};
    clf_status st = clf__spm_encode(m->src, (const char *)s, n, &ids);
    for (int64_t i = 0; st == CLF_OK && i < ids.n && out->n < out->limit; i++)
        clf__tok_emit(out, ids.ids[i]);
    clf__spm_ids_clear(&ids);
    return st;
}

static int32_t vocab_or_unk(const clf_tokenizer *t, const char *s, size_t n)
{
    int32_t id = clf__tok_lookup(t, s, n);
    return id >= 0 ? id : t->special[CLF_TOKEN_UNK];
}

/* MarianTokenizer._tokenize on one stretch between special tokens: a
 * leading language code ">>xx<<" is a piece of its own, the rest goes
 * through source.spm's EncodeAsPieces, and each piece string is looked up
 * in vocab.json (an unknown stretch's surface too: it may name a piece of
 * the target side). */
static clf_status marian_span(const clf_tokenizer *t, const uint8_t *s, size_t n,
                              clf__tok_sink *out)
{
    const spm_tok *m = t->model;
    if (n >= 2 && s[0] == '>' && s[1] == '>') {
        for (size_t i = 0; i + 1 < n; i++)
            if (s[i] == '<' && s[i + 1] == '<') {
                clf__tok_emit(out, vocab_or_unk(t, (const char *)s, i + 2));
                s += i + 2, n -= i + 2;
                break;
            }
    }
    clf__spm_ids ids = {0}, spans = {0};
    char *norm = NULL;
    clf_status st = clf__spm_encode_surface(m->src, (const char *)s, n, &ids, &spans, &norm);
    for (int64_t i = 0; st == CLF_OK && i < ids.n && out->n < out->limit; i++) {
        int32_t sid = ids.ids[i];
        if (clf__spm_piece_type(m->src, sid) == CLF__SPM_UNKNOWN)
            clf__tok_emit(out, vocab_or_unk(t, norm + spans.ids[2 * i], (size_t)spans.ids[2 * i + 1]));
        else
            clf__tok_emit(out, m->src_map[sid]);
    }
    clf__spm_ids_clear(&ids);
    clf__spm_ids_clear(&spans);
    clf__free(norm);
    return st;
}

const clf__tok_vtable clf__spm_vtable = {
    CLF_TOKENIZER_KIND_UNIGRAM, bare_span, no_scratch, bare_piece, spm_tok_free,
};
const clf__tok_vtable clf__marian_vtable = {
    CLF_TOKENIZER_KIND_UNIGRAM, marian_span, no_scratch, marian_piece, spm_tok_free,
};

/* ---- loading ---- */

static clf_tokenizer_kind kind_of(const clf__spm *m)
{
    return clf__spm_algorithm(m) == CLF__SPM_BPE ? CLF_TOKENIZER_KIND_SPM_BPE
                                                 : CLF_TOKENIZER_KIND_UNIGRAM;
}

/* The vtable of a kind: the same functions, the kind the model says. */
static const clf__tok_vtable bare_bpe_vtable = {
    CLF_TOKENIZER_KIND_SPM_BPE, bare_span, no_scratch, bare_piece, spm_tok_free,
};
static const clf__tok_vtable marian_bpe_vtable = {
    CLF_TOKENIZER_KIND_SPM_BPE, marian_span, no_scratch, marian_piece, spm_tok_free,
};

static clf_status check_max(const clf_tokenizer_params *p, int64_t least, int64_t fallback,
                            int64_t *out)
{
    int64_t v = p ? p->max_length : 0;
    if (v < 0 || v > (1 << 30) || (v > 0 && v < least))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "tokenizer: params->max_length %lld out of range (%lld..2^30, 0 = auto)",
                          (long long)v, (long long)least);
    *out = v ? v : fallback;
    return CLF_OK;
}

clf_status clf__spm_tok_load_file(const char *path, const clf_tokenizer_params *params,
                                  clf_tokenizer **out)
{
    *out = NULL;
    spm_tok *m = clf__calloc(1, sizeof *m);
    if (!m) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", path);
    clf_status st = clf__spm_load(path, &m->src);
    if (st != CLF_OK) {
        spm_tok_free(m);
        return st;
    }
    int32_t n = clf__spm_n_pieces(m->src);
    size_t arena = 0, len;
    for (int32_t i = 0; i < n; i++) {
        clf__spm_piece(m->src, i, &len);
        arena += len + 1;
    }
    clf_tokenizer *t = NULL;
    st = clf__tok_alloc(n, arena, &t);
    if (st != CLF_OK) {
        spm_tok_free(m);
        return st;
    }
    t->model = m;
    t->vt = kind_of(m->src) == CLF_TOKENIZER_KIND_SPM_BPE ? &bare_bpe_vtable : &clf__spm_vtable;
    size_t at = 0;
    for (int32_t i = 0; i < n; i++) {
        const char *p = clf__spm_piece(m->src, i, &len);
        memcpy(t->arena + at, p, len + 1);
        t->tokens[i] = t->arena + at;
        t->lens[i] = (uint32_t)len;
        at += len + 1;
        t->is_special[i] = clf__spm_piece_type(m->src, i) == CLF__SPM_CONTROL;
    }
    /* sentencepiece may keep one text as a reserved and a normal piece:
     * token_id() answers PieceToId's choice, so the table is built by hand. */
    st = clf__tok_index(t, path);
    if (st == CLF_OK) {
        t->special[CLF_TOKEN_UNK] = clf__spm_unk_id(m->src);
        t->special[CLF_TOKEN_BOS] = clf__spm_bos_id(m->src);
        t->special[CLF_TOKEN_EOS] = clf__spm_eos_id(m->src);
        t->special[CLF_TOKEN_PAD] = clf__spm_pad_id(m->src);
        t->add_special = !(params && params->no_special_tokens);
        t->decode_rules = CLF__DEC_FFFD_PER_BYTE;
        st = check_max(params, 1, 512, &t->max_length);
    }
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

static char *join2(const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);
    char *s = clf__malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, file, b + 1);
    return s;
}

/* Maps the source pieces to vocab.json's ids; a vocabulary that knows fewer
 * than half of them belongs to another model. */
static clf_status map_source(clf_tokenizer *t, spm_tok *m, const char *vname)
{
    int32_t n = clf__spm_n_pieces(m->src), known = 0, normal = 0;
    m->src_map = clf__malloc((size_t)n * sizeof *m->src_map);
    if (!m->src_map) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", vname);
    for (int32_t i = 0; i < n; i++) {
        size_t len;
        const char *p = clf__spm_piece(m->src, i, &len);
        int32_t id = clf__tok_lookup(t, p, len);
        if (clf__spm_piece_type(m->src, i) == CLF__SPM_NORMAL) {
            normal++;
            known += id >= 0;
        }
        m->src_map[i] = id >= 0 ? id : t->special[CLF_TOKEN_UNK];
    }
    if (normal > 0 && known * 2 < normal)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: holds only %d of source.spm's %d pieces: it is not this model's "
                          "vocabulary",
                          vname, (int)known, (int)normal);
    return CLF_OK;
}

clf_status clf__marian_load(const char *dir, const clf_tokenizer_params *params,
                            const clf__tok_config *cfg, clf_tokenizer **out)
{
    *out = NULL;
    static const char *const defaults[CLF__TOK_N_SPECIAL] = {
        [CLF_TOKEN_PAD] = "<pad>", [CLF_TOKEN_UNK] = "<unk>", [CLF_TOKEN_EOS] = "</s>"};
    char *vpath = join2(dir, "vocab.json"), *spath = join2(dir, "source.spm");
    char *tpath = join2(dir, "target.spm"), *data = NULL;
    spm_tok *m = clf__calloc(1, sizeof *m);
    clf_tokenizer *t = NULL;
    json_object *root = NULL;
    size_t size = 0;
    char msg[1024];
    clf_status st = vpath && spath && tpath && m ? CLF_OK
                                                 : clf__error(NULL, CLF_ERR_OUT_OF_MEMORY,
                                                              "%s: out of host memory", dir);
    if (st == CLF_OK) st = clf__spm_load(spath, &m->src);
    if (st == CLF_OK) st = clf__spm_load(tpath, &m->tgt);
    if (st == CLF_ERR_NOT_FOUND) /* a Marian folder lacking a file is broken, not vocabulary-free */
    {
        char copy[1024];
        snprintf(copy, sizeof copy, "%s", clf_context_last_error(NULL));
        st = clf__error(NULL, CLF_ERR_IO, "%s", copy);
    }
    if (st == CLF_OK) {
        st = clf__file_read_all(vpath, CLF__TOK_MAX_FILE, &data, &size, msg, sizeof msg);
        if (st != CLF_OK) st = clf__error(NULL, st == CLF_ERR_NOT_FOUND ? CLF_ERR_IO : st, "%s", msg);
    }
    if (st == CLF_OK) st = clf__tok_json_parse(data, size, vpath, &root);
    if (st == CLF_OK) st = clf__tok_json_vocab(root, NULL, 0, false, vpath, &t);
    if (st == CLF_OK) {
        t->vt = kind_of(m->src) == CLF_TOKENIZER_KIND_SPM_BPE ? &marian_bpe_vtable
                                                              : &clf__marian_vtable;
        t->model = m;
        m = NULL;
        t->n_suffix = 1;
        st = clf__tok_finish(t, vpath, params, cfg, NULL, 0, defaults,
                             1u << CLF_TOKEN_UNK | 1u << CLF_TOKEN_EOS, CLF__POST_EXPLICIT, 512);
    }
    if (st == CLF_OK) {
        t->post_suffix[0] = t->special[CLF_TOKEN_EOS];
        /* Pairs as MarianTokenizer builds them: A B </s>. */
        t->n_pair[0] = t->n_pair[1] = 0;
        t->pair[2][0] = t->special[CLF_TOKEN_EOS];
        t->n_pair[2] = 1;
        t->pair_state = 1;
        t->decode_rules = CLF__DEC_FFFD_PER_BYTE | CLF__DEC_STRIP;
        st = map_source(t, t->model, vpath);
    }
    if (root) json_object_put(root);
    clf__free(data);
    clf__free(vpath);
    clf__free(spath);
    clf__free(tpath);
    spm_tok_free(m);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}
