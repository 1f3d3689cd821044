/*
 * tokenizer.json with a Unigram model (XLM-R, T5 and the tokenizers trained
 * with HF `tokenizers`' UnigramTrainer), encoded and decoded as HF
 * `tokenizers` does:
 *   normalizer     null, Precompiled (its base64 "precompiled_charsmap",
 *                  applied by the SentencePiece engine's character map),
 *                  Replace (a String pattern, or the Regex " {2,}" that
 *                  XLM-R's converter writes), Strip, or a Sequence of these;
 *   pre_tokenizer  Metaspace (replacement, prepend_scheme "always" /
 *                  "never" or the older add_prefix_space, split), alone or
 *                  after WhitespaceSplit in a Sequence;
 *   model          Viterbi over the [piece, score] list (the engine's
 *                  Unigram, word by word), unknown characters as unk_id,
 *                  consecutive ones fused;
 *   decoder        Metaspace: U+2581 -> space, the first token's leading
 *                  space dropped.
 * Anything else (byte_fallback, prepend_scheme "first", other normalizers,
 * pre-tokenizers or decoders) is refused with CLF_ERR_UNSUPPORTED naming it.
 */
#include <string.h>

#include <json-c/json.h>
#include <openssl/evp.h>
#include <utf8proc.h>

#include "core/core.h"
#include "text/spm.h"
#include "text/text_internal.h"

#define MAX_STEPS 8
#define MAX_PAT 64

enum step_kind { STEP_REPLACE, STEP_SQUEEZE_SPACES, STEP_PRECOMPILED, STEP_STRIP };

typedef struct norm_step {
    enum step_kind kind;
    char from[MAX_PAT + 1], to[MAX_PAT + 1];
    size_t from_n, to_n;
    bool left, right; /* Strip */
} norm_step;

typedef struct hf_unigram {
    clf__spm *words;   /* the vocabulary, no normaliser: Viterbi on one word */
    clf__spm *charmap; /* Precompiled: a one-piece model holding the charsmap; NULL = none */
    norm_step steps[MAX_STEPS];
    int n_steps;
    bool ws_split;   /* WhitespaceSplit before Metaspace */
    bool prepend;    /* prepend_scheme "always" */
    bool split;      /* Metaspace "split" */
    char repl[8];    /* the replacement character's UTF-8 (U+2581) */
    size_t repl_n;
    bool dec_strip_first; /* the decoder drops the first token's leading space */
} hf_unigram;

static void hf_free(void *p)
{
    hf_unigram *u = p;
    if (!u) return;
    clf__spm_free(u->words);
    clf__spm_free(u->charmap);
    clf__free(u);
}

static void no_scratch(void *s) { (void)s; }

/* ---- encoding ---- */

static clf_status put(clf__tok_bytes *b, const void *s, size_t n) { return clf__tok_bytes_put(b, s, n); }

/* Replaces every non-overlapping from (left to right) in b by to. */
static clf_status replace_all(clf__tok_bytes *b, const norm_step *st, clf__tok_bytes *tmp)
{
    tmp->n = 0;
    for (size_t i = 0; i < b->n;) {
        if (st->from_n && i + st->from_n <= b->n && memcmp(b->p + i, st->from, st->from_n) == 0) {
            CLF_TRY(put(tmp, st->to, st->to_n));
            i += st->from_n;
        } else {
            CLF_TRY(put(tmp, b->p + i, 1));
            i++;
        }
    }
    b->n = 0;
    return put(b, tmp->p, tmp->n);
}

static size_t space_len(const uint8_t *s, size_t n)
{
    bool valid;
    size_t k = clf__spm_utf8_char(s, n, &valid);
    int32_t c = s[0];
    if (k > 1) {
        c = s[0] & (0xFF >> (k + 1));
        for (size_t i = 1; i < k; i++) c = c << 6 | (s[i] & 0x3F);
    }
    return clf__tok_is_space(c) ? k : 0;
}

/* HF's Precompiled normalizer: a grapheme cluster shorter than 6 bytes
 * that starts with a key of the map becomes that key's replacement (the
 * first, shortest key: the rest of the cluster goes with it); otherwise each
 * character that starts with a key is replaced. */
static clf_status precompiled(const clf__spm *cm, clf__tok_bytes *b, clf__tok_bytes *tmp)
{
    tmp->n = 0;
    const char *r;
    for (size_t i = 0; i < b->n;) {
        utf8proc_int32_t prev, c;
        utf8proc_int32_t state = 0;
        utf8proc_ssize_t k = utf8proc_iterate(b->p + i, (utf8proc_ssize_t)(b->n - i), &prev);
        size_t j = i + (size_t)(k > 0 ? k : 1);
        while (j < b->n) {
            k = utf8proc_iterate(b->p + j, (utf8proc_ssize_t)(b->n - j), &c);
            if (k <= 0 || utf8proc_grapheme_break_stateful(prev, c, &state)) break;
            prev = c;
            j += (size_t)k;
        }
        if (j - i < 6 && clf__spm_charsmap_prefix(cm, b->p + i, j - i, true, &r) > 0) {
            CLF_TRY(put(tmp, r, strlen(r)));
            i = j;
            continue;
        }
        while (i < j) {
            bool valid;
            size_t cl = clf__spm_utf8_char(b->p + i, j - i, &valid);
            if (clf__spm_charsmap_prefix(cm, b->p + i, cl, true, &r) > 0)
                CLF_TRY(put(tmp, r, strlen(r)));
            else
                CLF_TRY(put(tmp, b->p + i, cl));
            i += cl;
        }
    }
    b->n = 0;
    return put(b, tmp->p, tmp->n);
}

static clf_status normalize(const hf_unigram *u, clf__tok_bytes *b, clf__tok_bytes *tmp)
{
    for (int i = 0; i < u->n_steps; i++) {
        const norm_step *st = &u->steps[i];
        if (st->kind == STEP_REPLACE) {
            CLF_TRY(replace_all(b, st, tmp));
        } else if (st->kind == STEP_SQUEEZE_SPACES) {
            size_t w = 0;
            for (size_t r = 0; r < b->n; r++)
                if (!(b->p[r] == ' ' && r + 1 < b->n && b->p[r + 1] == ' ')) b->p[w++] = b->p[r];
            b->n = w;
        } else if (st->kind == STEP_PRECOMPILED) {
            CLF_TRY(precompiled(u->charmap, b, tmp));
        } else { /* Strip: Unicode whitespace at either end */
            size_t a = 0, e = b->n, k;
            if (st->left)
                while (a < e && (k = space_len(b->p + a, e - a)) > 0) a += k;
            if (st->right)
                while (e > a) {
                    size_t c = e - 1;
                    while (c > a && (b->p[c] & 0xC0) == 0x80) c--;
                    if (!space_len(b->p + c, e - c)) break;
                    e = c;
                }
            memmove(b->p, b->p + a, e - a);
            b->n = e - a;
        }
    }
    return CLF_OK;
}

/* Viterbi over one Metaspace word. */
static clf_status word(const hf_unigram *u, const uint8_t *s, size_t n, clf__tok_sink *out)
{
    if (n == 0) return CLF_OK;
    clf__spm_ids ids = {0};
    clf_status st = clf__spm_encode(u->words, (const char *)s, n, &ids);
    for (int64_t i = 0; st == CLF_OK && i < ids.n && out->n < out->limit; i++)
        clf__tok_emit(out, ids.ids[i]);
    clf__spm_ids_clear(&ids);
    return st;
}

/* Metaspace on one pre-token: spaces -> the replacement, one in front
 * (prepend), then words that each start at a replacement (split). */
static clf_status metaspace(const hf_unigram *u, const uint8_t *s, size_t n, clf__tok_bytes *w,
                            clf__tok_sink *out)
{
    w->n = 0;
    if (u->prepend && n > 0 && s[0] != ' ' && !(n >= u->repl_n && memcmp(s, u->repl, u->repl_n) == 0))
        CLF_TRY(put(w, u->repl, u->repl_n));
    for (size_t i = 0; i < n; i++)
        CLF_TRY(s[i] == ' ' ? put(w, u->repl, u->repl_n) : put(w, s + i, 1));
    if (!u->split) return word(u, w->p, w->n, out);
    size_t start = 0;
    for (size_t i = 1; i <= w->n; i++)
        if (i == w->n || (i + u->repl_n <= w->n && memcmp(w->p + i, u->repl, u->repl_n) == 0)) {
            CLF_TRY(word(u, w->p + start, i - start, out));
            start = i;
        }
    return CLF_OK;
}

static clf_status hf_span(const clf_tokenizer *t, const uint8_t *s, size_t n, clf__tok_sink *out)
{
    const hf_unigram *u = t->model;
    clf__tok_bytes b = {0}, tmp = {0}, w = {0};
    clf_status st = put(&b, s, n);
    if (st == CLF_OK) st = normalize(u, &b, &tmp);
    if (st == CLF_OK && !u->ws_split && b.n) st = metaspace(u, b.p, b.n, &w, out);
    for (size_t i = 0; st == CLF_OK && u->ws_split && i < b.n;) {
        size_t k, j = i;
        if ((k = space_len(b.p + i, b.n - i)) > 0) {
            i += k;
            continue;
        }
        while (j < b.n && space_len(b.p + j, b.n - j) == 0) {
            bool valid;
            j += clf__spm_utf8_char(b.p + j, b.n - j, &valid);
        }
        st = metaspace(u, b.p + i, j - i, &w, out);
        i = j;
    }
    clf__free(b.p);
    clf__free(tmp.p);
    clf__free(w.p);
    return st;
}

/* HF's Metaspace decoder. */
static clf_status hf_piece(const clf_tokenizer *t, int32_t id, clf__tok_dstate *d,
                           clf__tok_bytes *out)
{
    const hf_unigram *u = t->model;
    const char *p = t->tokens[id];
    size_t n = t->lens[id], i = 0;
    bool first = d->index == 0 && u->dec_strip_first;
    while (i < n) {
        if (i + u->repl_n <= n && memcmp(p + i, u->repl, u->repl_n) == 0) {
            if (!(first && i == 0)) CLF_TRY(put(out, " ", 1));
            i += u->repl_n;
        } else {
            CLF_TRY(put(out, p + i, 1));
            i++;
        }
    }
    return CLF_OK;
}

const clf__tok_vtable clf__hf_unigram_vtable = {
    CLF_TOKENIZER_KIND_UNIGRAM, hf_span, no_scratch, hf_piece, hf_free,
};

/* ---- loading ---- */

static clf_status unsupported(const char *name, const char *what, const char *ty)
{
    return clf__error(NULL, CLF_ERR_UNSUPPORTED, "%s: %s \"%.64s\" is not supported", name, what,
                      ty ? ty : "?");
}

static const char *str_of(json_object *o, const char *key)
{
    json_object *x;
    return json_object_object_get_ex(o, key, &x) && json_object_is_type(x, json_type_string)
               ? json_object_get_string(x)
               : NULL;
}

static clf_status charsmap(hf_unigram *u, json_object *o, const char *name)
{
    const char *b64 = str_of(o, "precompiled_charsmap");
    json_object *x;
    if (!b64) {
        if (json_object_object_get_ex(o, "precompiled_charsmap", &x) && x != NULL)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: Precompiled \"precompiled_charsmap\" is not a string", name);
        return CLF_OK; /* null: no character rewriting */
    }
    size_t n = strlen(b64), pad = 0;
    if (n == 0) return CLF_OK;
    if (n % 4 != 0 || n > ((size_t)1 << 30))
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: Precompiled \"precompiled_charsmap\" is not base64 (length %zu is "
                          "not a multiple of 4)",
                          name, n);
    while (pad < 2 && b64[n - 1 - pad] == '=') pad++;
    uint8_t *blob = clf__malloc(n / 4 * 3 + 1);
    if (!blob) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    int got = EVP_DecodeBlock(blob, (const unsigned char *)b64, (int)n);
    clf_status st = CLF_OK;
    if (got < 0 || (size_t)got < pad)
        st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                        "%s: Precompiled \"precompiled_charsmap\" is not valid base64", name);
    if (st == CLF_OK && !u->charmap) {
        /* The engine wants an <unk> and a normal piece; only the map is used. */
        static const char *const unk[2] = {"<unk>", "a"};
        static const uint32_t unk_len[2] = {5, 1};
        static const float score[2] = {0, 0};
        static const uint8_t type[2] = {CLF__SPM_UNKNOWN, CLF__SPM_NORMAL};
        clf__spm_desc d = {2, unk, unk_len, score, type, CLF__SPM_UNIGRAM, false, false,
                           false, false, false, blob, (size_t)got - pad, NULL, 0, NULL,
                           NULL, NULL};
        st = clf__spm_build(&d, name, &u->charmap);
    } else if (st == CLF_OK)
        st = unsupported(name, "normalizer", "two Precompiled");
    clf__free(blob);
    return st;
}

static clf_status pattern(norm_step *s, json_object *o, const char *name)
{
    json_object *p;
    const char *lit = NULL, *re = NULL, *to = str_of(o, "content");
    if (json_object_object_get_ex(o, "pattern", &p) && json_object_is_type(p, json_type_object)) {
        lit = str_of(p, "String");
        re = str_of(p, "Regex");
    }
    if (re && strcmp(re, " {2,}") == 0 && to && strcmp(to, " ") == 0) {
        s->kind = STEP_SQUEEZE_SPACES;
        return CLF_OK;
    }
    if (re) return unsupported(name, "normalizer Replace regex", re);
    if (!lit || !to)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: normalizer Replace lacks a String pattern or a content", name);
    s->from_n = strlen(lit);
    s->to_n = strlen(to);
    if (s->from_n == 0 || s->from_n > MAX_PAT || s->to_n > MAX_PAT)
        return unsupported(name, "normalizer Replace pattern (empty or over 64 bytes)", lit);
    memcpy(s->from, lit, s->from_n);
    memcpy(s->to, to, s->to_n);
    s->kind = STEP_REPLACE;
    return CLF_OK;
}

static clf_status normalizer(hf_unigram *u, json_object *o, const char *name, int depth)
{
    if (!o) return CLF_OK;
    const char *ty = clf__tok_json_type(o);
    json_object *list, *x;
    if (ty && strcmp(ty, "Sequence") == 0 && depth == 0 &&
        json_object_object_get_ex(o, "normalizers", &list) &&
        json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++)
            CLF_TRY(normalizer(u, json_object_array_get_idx(list, i), name, 1));
        return CLF_OK;
    }
    if (u->n_steps == MAX_STEPS) return unsupported(name, "normalizer", "Sequence over 8 steps");
    norm_step *s = &u->steps[u->n_steps];
    memset(s, 0, sizeof *s);
    if (ty && strcmp(ty, "Precompiled") == 0) {
        CLF_TRY(charsmap(u, o, name));
        if (!u->charmap) return CLF_OK;
        s->kind = STEP_PRECOMPILED;
    } else if (ty && strcmp(ty, "Replace") == 0) {
        CLF_TRY(pattern(s, o, name));
    } else if (ty && strcmp(ty, "Strip") == 0) {
        s->kind = STEP_STRIP;
        s->left = json_object_object_get_ex(o, "strip_left", &x) && json_object_get_boolean(x);
        s->right = json_object_object_get_ex(o, "strip_right", &x) && json_object_get_boolean(x);
    } else
        return unsupported(name, "normalizer", ty);
    u->n_steps++;
    return CLF_OK;
}

/* Metaspace settings, of the pre-tokenizer (pre = true) or the decoder. */
static clf_status metaspace_cfg(hf_unigram *u, json_object *o, const char *name, bool pre)
{
    const char *r = str_of(o, "replacement"), *scheme = str_of(o, "prepend_scheme");
    json_object *x;
    if (!r || strcmp(r, "\xE2\x96\x81") != 0)
        return unsupported(name, "Metaspace replacement other than U+2581:", r);
    bool prepend;
    if (scheme && strcmp(scheme, "always") == 0)
        prepend = true;
    else if (scheme && strcmp(scheme, "never") == 0)
        prepend = false;
    else if (scheme)
        return unsupported(name, "Metaspace prepend_scheme", scheme);
    else
        prepend = !json_object_object_get_ex(o, "add_prefix_space", &x) || json_object_get_boolean(x);
    if (pre) {
        u->prepend = prepend;
        u->split = !json_object_object_get_ex(o, "split", &x) || json_object_get_boolean(x);
    } else
        u->dec_strip_first = prepend;
    memcpy(u->repl, r, 4);
    u->repl_n = 3;
    return CLF_OK;
}

static clf_status pre_tokenizer(hf_unigram *u, json_object *o, const char *name)
{
    const char *ty = o ? clf__tok_json_type(o) : NULL;
    json_object *list;
    if (ty && strcmp(ty, "Metaspace") == 0) return metaspace_cfg(u, o, name, true);
    if (ty && strcmp(ty, "Sequence") == 0 && json_object_object_get_ex(o, "pretokenizers", &list) &&
        json_object_is_type(list, json_type_array) && json_object_array_length(list) == 2) {
        const char *a = clf__tok_json_type(json_object_array_get_idx(list, 0));
        const char *b = clf__tok_json_type(json_object_array_get_idx(list, 1));
        if (a && b && strcmp(a, "WhitespaceSplit") == 0 && strcmp(b, "Metaspace") == 0) {
            u->ws_split = true;
            return metaspace_cfg(u, json_object_array_get_idx(list, 1), name, true);
        }
    }
    return unsupported(name, "pre_tokenizer (Metaspace, or WhitespaceSplit then Metaspace, are)",
                       ty ? ty : "null");
}

/* The vocabulary: [[piece, score], ...] in id order. */
static clf_status vocab(json_object *v, const char *name, clf_tokenizer **out, float **scores)
{
    size_t n = json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 0, arena = 0;
    if (n == 0 || n > CLF__TOK_MAX_VOCAB)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"model\".\"vocab\" is not a list of 1..2^24 "
                          "[piece, score] pairs", name);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i), *p, *s;
        if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 2 ||
            !json_object_is_type(p = json_object_array_get_idx(e, 0), json_type_string) ||
            !((s = json_object_array_get_idx(e, 1)) && (json_object_is_type(s, json_type_double) ||
                                                         json_object_is_type(s, json_type_int))))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: \"model\".\"vocab\"[%zu] is not a [piece, score] pair", name, i);
        arena += (size_t)json_object_get_string_len(p) + 1;
    }
    CLF_TRY(clf__tok_alloc((int32_t)n, arena, out));
    clf_tokenizer *t = *out;
    *scores = clf__malloc(n * sizeof **scores);
    if (!*scores) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(v, i);
        json_object *p = json_object_array_get_idx(e, 0);
        size_t len = (size_t)json_object_get_string_len(p);
        memcpy(t->arena + at, json_object_get_string(p), len + 1);
        t->tokens[i] = t->arena + at;
        t->lens[i] = (uint32_t)len;
        at += len + 1;
        (*scores)[i] = (float)json_object_get_double(json_object_array_get_idx(e, 1));
    }
    return clf__tok_index(t, name);
}

static clf_status build_words(clf_tokenizer *t, hf_unigram *u, const float *scores, int64_t unk,
                              const char *name)
{
    int32_t n = t->n_vocab;
    uint8_t *types = clf__malloc((size_t)n);
    if (!types) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (int32_t i = 0; i < n; i++)
        types[i] = i == unk ? CLF__SPM_UNKNOWN
                   : t->is_special[i] ? CLF__SPM_CONTROL
                                      : CLF__SPM_NORMAL;
    clf__spm_desc d = {n, (const char *const *)t->tokens, t->lens, scores, types,
                       CLF__SPM_UNIGRAM, false, false, false, false, false, NULL, 0,
                       NULL, 0, NULL, NULL, NULL};
    clf_status st = clf__spm_build(&d, name, &u->words);
    clf__free(types);
    return st;
}

clf_status clf__unigram_from_json(json_object *root, json_object *model, const char *name,
                                  const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                  clf_tokenizer **out)
{
    *out = NULL;
    json_object *x, *v = NULL;
    clf_tokenizer *t = NULL;
    float *scores = NULL;
    clf__tok_added_def *added = NULL;
    int32_t n_added = 0;
    clf__tok_post post = CLF__POST_NONE;
    hf_unigram *u = clf__calloc(1, sizeof *u);
    clf_status st = u ? CLF_OK : clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    if (st == CLF_OK && json_object_object_get_ex(model, "byte_fallback", &x) &&
        json_object_get_boolean(x))
        st = unsupported(name, "Unigram setting", "byte_fallback: true");
    if (st == CLF_OK && !json_object_object_get_ex(model, "vocab", &v))
        st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"model\" has no \"vocab\"", name);
    if (st == CLF_OK) st = vocab(v, name, &t, &scores);
    int64_t unk = -1;
    if (st == CLF_OK) {
        if (!json_object_object_get_ex(model, "unk_id", &x) || !json_object_is_type(x, json_type_int))
            st = unsupported(name, "Unigram unk_id", "null (a model without <unk>)");
        else if ((unk = json_object_get_int64(x)) < 0 || unk >= t->n_vocab)
            st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"unk_id\" %lld is outside the vocabulary",
                            name, (long long)unk);
    }
    if (st == CLF_OK) st = clf__tok_json_added(root, name, &added, &n_added);
    for (int32_t i = 0; st == CLF_OK && i < n_added; i++) {
        if (added[i].id < 0 || added[i].id >= t->n_vocab ||
            strcmp(t->tokens[added[i].id], added[i].content) != 0)
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: added token \"%.64s\" (id %lld) is not the vocabulary's entry",
                            name, added[i].content, (long long)added[i].id);
        else if (added[i].flags & CLF__ADDED_SPECIAL)
            t->is_special[added[i].id] = 1;
    }
    if (st == CLF_OK) {
        t->vt = &clf__hf_unigram_vtable;
        t->model = u;
        json_object *o = NULL;
        json_object_object_get_ex(root, "normalizer", &o);
        st = normalizer(u, o, name, 0);
        o = NULL;
        if (st == CLF_OK) json_object_object_get_ex(root, "pre_tokenizer", &o);
        if (st == CLF_OK) st = pre_tokenizer(u, o, name);
        o = NULL;
        if (st == CLF_OK) json_object_object_get_ex(root, "decoder", &o);
        const char *ty = o ? clf__tok_json_type(o) : NULL;
        if (st == CLF_OK && !(ty && strcmp(ty, "Metaspace") == 0))
            st = unsupported(name, "decoder", ty ? ty : "null");
        if (st == CLF_OK) st = metaspace_cfg(u, o, name, false);
        o = NULL;
        if (st == CLF_OK) json_object_object_get_ex(root, "post_processor", &o);
        if (st == CLF_OK) st = clf__tok_json_post(t, o, name, &post);
    }
    if (st == CLF_OK) st = build_words(t, u, scores, unk, name);
    if (st == CLF_OK) {
        const char *defaults[CLF__TOK_N_SPECIAL] = {
            [CLF_TOKEN_PAD] = "<pad>", [CLF_TOKEN_UNK] = t->tokens[unk], [CLF_TOKEN_BOS] = "<s>",
            [CLF_TOKEN_EOS] = "</s>", [CLF_TOKEN_MASK] = "<mask>"};
        st = clf__tok_finish(t, name, params, cfg, added, n_added, defaults, 0, post, 512);
    }
    if (t && !t->model) hf_free(u);
    clf__free(scores);
    clf__free(added);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        if (!t) hf_free(u);
        return st;
    }
    *out = t;
    return CLF_OK;
}
