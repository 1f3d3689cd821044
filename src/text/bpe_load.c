/*
 * Byte-level BPE files: an HF tokenizer.json with model type BPE and a
 * ByteLevel pre-tokenizer and decoder, or a GPT-2 style folder with
 * vocab.json + merges.txt (and tokenizer_config.json /
 * special_tokens_map.json beside them). Every check names the file and the
 * problem; nothing in a file can make the library crash
 * (tests/fuzz/fuzz_tokenizer_bpe.c).
 */
#include <json-c/json.h>
#include <string.h>

#include "core/core.h"
#include "text/bpe_internal.h"

/* The default special tokens of the byte-level families: RoBERTa and BART
 * spell them <s> </s> <pad> <unk> <mask>; GPT-2 has one, <|endoftext|>,
 * which is its BOS, EOS and UNK. A file that names a token overrides. */
static void bpe_defaults(const clf_tokenizer *t, const char *d[CLF__TOK_N_SPECIAL])
{
    bool s = clf__tok_lookup(t, "<s>", 3) >= 0, u = clf__tok_lookup(t, "<unk>", 5) >= 0;
    const char *eot = "<|endoftext|>";
    d[CLF_TOKEN_PAD] = "<pad>";
    d[CLF_TOKEN_UNK] = u ? "<unk>" : eot;
    d[CLF_TOKEN_CLS] = "<s>";
    d[CLF_TOKEN_SEP] = "</s>";
    d[CLF_TOKEN_MASK] = "<mask>";
    d[CLF_TOKEN_BOS] = s ? "<s>" : eot;
    d[CLF_TOKEN_EOS] = s ? "</s>" : eot;
}

static bool flag_or(clf_tokenizer_flag f, int from_file, bool fallback)
{
    if (f == CLF_TOKENIZER_ON) return true;
    if (f == CLF_TOKENIZER_OFF) return false;
    return from_file >= 0 ? from_file != 0 : fallback;
}

/* One merge "left right" (n bytes at s) of the merge list; line is 1-based
 * for messages. */
static clf_status add_merge(clf_tokenizer *t, clf__bpe *b, const char *l, size_t nl, const char *r,
                            size_t nr, uint32_t rank, const char *name, int64_t line,
                            char *buf, size_t buf_cap)
{
    int32_t a = clf__tok_lookup(t, l, nl), c = clf__tok_lookup(t, r, nr);
    if (a < 0 || c < 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: merge %lld: token \"%.*s\" is not in the vocabulary", name,
                          (long long)line, (int)(a < 0 ? (nl > 64 ? 64 : nl) : (nr > 64 ? 64 : nr)),
                          a < 0 ? l : r);
    if (nl + nr > buf_cap)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: merge %lld is too long", name,
                          (long long)line);
    memcpy(buf, l, nl);
    memcpy(buf + nl, r, nr);
    int32_t m = clf__tok_lookup(t, buf, nl + nr);
    if (m < 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: merge %lld: the merged token \"%.*s\" is not in the vocabulary",
                          name, (long long)line, (int)(nl + nr > 64 ? 64 : nl + nr), buf);
    clf__bpe_add_merge(b, a, c, m, rank);
    return CLF_OK;
}

/* The longest token: no merge can be longer. */
static size_t longest_token(const clf_tokenizer *t)
{
    size_t m = 0;
    for (int32_t i = 0; i < t->n_vocab; i++)
        if (t->lens[i] > m) m = t->lens[i];
    return m;
}

/* merges.txt: "#version" lines skipped, then "left right" per line (LF or
 * CRLF); the rank is the merge's index. An empty or malformed line is an
 * error, as in HF's reader. */
static clf_status merges_txt(clf_tokenizer *t, const char *data, size_t size, const char *name,
                             clf__bpe **out)
{
    *out = NULL;
    if (size > CLF__TOK_MAX_FILE)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu bytes is too large", name, size);
    int64_t bad = clf__utf8_invalid_at((const uint8_t *)data, size);
    if (bad >= 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: not valid UTF-8 at byte %lld", name,
                          (long long)bad);
    int64_t lines = 0;
    for (size_t i = 0; i < size; i++)
        lines += data[i] == '\n';
    if (size && data[size - 1] != '\n') lines++;
    if (lines > CLF__BPE_MAX_MERGES)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %lld lines, more than %d merges", name,
                          (long long)lines, CLF__BPE_MAX_MERGES);
    clf__bpe *b;
    CLF_TRY(clf__bpe_new((int32_t)lines, name, &b));
    size_t cap = longest_token(t);
    char *buf = clf__malloc(cap + 1);
    clf_status st = buf ? CLF_OK : clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    uint32_t rank = 0;
    int64_t line = 0;
    for (size_t i = 0; st == CLF_OK && i < size;) {
        const char *s = data + i, *nl = memchr(s, '\n', size - i);
        size_t n = nl ? (size_t)(nl - s) : size - i;
        i += n + 1;
        line++;
        if (n && s[n - 1] == '\r') n--;
        if (n >= 8 && memcmp(s, "#version", 8) == 0) continue;
        const char *sp = memchr(s, ' ', n);
        if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)) ||
            memchr(s, '\0', n)) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: line %lld is not two tokens separated by one space", name,
                            (long long)line);
            break;
        }
        st = add_merge(t, b, s, (size_t)(sp - s), sp + 1, (size_t)(s + n - sp - 1), rank++, name,
                       line, buf, cap);
    }
    clf__free(buf);
    if (st != CLF_OK) {
        clf__bpe_free(b);
        return st;
    }
    *out = b;
    return CLF_OK;
}

/* tokenizer.json "merges": ["left right", ...] or [["left", "right"], ...]. */
static clf_status merges_json(clf_tokenizer *t, json_object *arr, const char *name, clf__bpe **out)
{
    *out = NULL;
    if (!arr || !json_object_is_type(arr, json_type_array))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"model\".\"merges\" is not an array", name);
    size_t n = json_object_array_length(arr);
    if (n > CLF__BPE_MAX_MERGES)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu merges, more than %d", name, n,
                          CLF__BPE_MAX_MERGES);
    clf__bpe *b;
    CLF_TRY(clf__bpe_new((int32_t)n, name, &b));
    size_t cap = longest_token(t);
    char *buf = clf__malloc(cap + 1);
    clf_status st = buf ? CLF_OK : clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", name);
    for (size_t i = 0; st == CLF_OK && i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *l = NULL, *r = NULL;
        const char *ls = NULL, *rs = NULL;
        size_t ln = 0, rn = 0;
        if (e && json_object_is_type(e, json_type_string)) {
            const char *s = json_object_get_string(e), *sp = strchr(s, ' ');
            size_t len = (size_t)json_object_get_string_len(e);
            if (sp && sp != s && !strchr(sp + 1, ' ') && sp[1] && strlen(s) == len) {
                ls = s, ln = (size_t)(sp - s), rs = sp + 1, rn = len - ln - 1;
            }
        } else if (e && json_object_is_type(e, json_type_array) &&
                   json_object_array_length(e) == 2 &&
                   json_object_is_type(l = json_object_array_get_idx(e, 0), json_type_string) &&
                   json_object_is_type(r = json_object_array_get_idx(e, 1), json_type_string)) {
            ls = json_object_get_string(l), ln = (size_t)json_object_get_string_len(l);
            rs = json_object_get_string(r), rn = (size_t)json_object_get_string_len(r);
        }
        if (!ls || !ln || !rn)
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: merges[%zu] is neither \"left right\" nor [\"left\", \"right\"]",
                            name, i);
        else
            st = add_merge(t, b, ls, ln, rs, rn, (uint32_t)i, name, (int64_t)i + 1, buf, cap);
    }
    clf__free(buf);
    if (st != CLF_OK) {
        clf__bpe_free(b);
        return st;
    }
    *out = b;
    return CLF_OK;
}

/* ---- tokenizer.json ---- */

static bool is_null(json_object *o, const char *key)
{
    json_object *x;
    return !json_object_object_get_ex(o, key, &x) || !x;
}

static bool is_true(json_object *o, const char *key, bool absent)
{
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !x) return absent;
    return json_object_is_type(x, json_type_boolean) && json_object_get_boolean(x);
}

/* The model's options, the normalizer, the pre-tokenizer and the decoder
 * that this implementation reproduces; anything else is refused rather than
 * encoded differently from HF. */
static clf_status check_pipeline(json_object *root, json_object *model, const char *name,
                                 bool *add_prefix_space)
{
    json_object *x, *pre = NULL, *dec = NULL;
    if (!is_null(model, "dropout"))
        return clf__error(NULL, CLF_ERR_UNSUPPORTED, "%s: BPE dropout is not supported", name);
    if (is_true(model, "byte_fallback", false))
        return clf__error(NULL, CLF_ERR_UNSUPPORTED, "%s: BPE byte_fallback is not supported", name);
    static const char *const empty_keys[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++)
        if (json_object_object_get_ex(model, empty_keys[i], &x) && x &&
            !(json_object_is_type(x, json_type_string) && json_object_get_string_len(x) == 0))
            return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                              "%s: BPE \"%s\" is not supported (byte-level BPE has none)", name,
                              empty_keys[i]);
    if (!is_null(root, "normalizer")) {
        const char *nty = clf__tok_json_type(json_object_object_get(root, "normalizer"));
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: normalizer type \"%.64s\" is not supported with BPE (none is)",
                          name, nty ? nty : "?");
    }
    json_object_object_get_ex(root, "pre_tokenizer", &pre);
    const char *pty = clf__tok_json_type(pre);
    if (!pty || strcmp(pty, "ByteLevel") != 0 || !is_true(pre, "use_regex", true))
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: pre_tokenizer \"%.64s\" is not supported with BPE (only ByteLevel "
                          "with GPT-2's pattern)",
                          name, pty ? pty : "null");
    json_object_object_get_ex(root, "decoder", &dec);
    const char *dty = clf__tok_json_type(dec);
    if (!dty || strcmp(dty, "ByteLevel") != 0)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: decoder \"%.64s\" is not supported with BPE (only ByteLevel)", name,
                          dty ? dty : "null");
    /* HF's ByteLevel defaults add_prefix_space to true when the key is absent. */
    *add_prefix_space = is_true(pre, "add_prefix_space", true);
    return CLF_OK;
}

/* The ids of one post-processor special token: RobertaProcessing's
 * ["<s>", 0] pairs, checked against the vocabulary. */
static clf_status pair_id(const clf_tokenizer *t, json_object *p, const char *key,
                          const char *name, int32_t *id)
{
    json_object *a, *s, *i;
    if (!json_object_object_get_ex(p, key, &a) || !json_object_is_type(a, json_type_array) ||
        json_object_array_length(a) != 2 ||
        !json_object_is_type(s = json_object_array_get_idx(a, 0), json_type_string) ||
        !json_object_is_type(i = json_object_array_get_idx(a, 1), json_type_int))
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: post_processor \"%s\" is not [token, id]", name, key);
    int64_t v = json_object_get_int64(i);
    if (v < 0 || v >= t->n_vocab || strcmp(t->tokens[v], json_object_get_string(s)) != 0)
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: post_processor \"%s\": \"%.64s\" is not token %lld", name, key,
                          json_object_get_string(s), (long long)v);
    *id = (int32_t)v;
    return CLF_OK;
}

/* One TemplateProcessing template (key "single" or "pair"): the special
 * tokens' ids into seg[0] (before $A), seg[1] (after $A; for a pair, before
 * $B) and seg[2] (after $B), counts in n[]. A pair must hold $A then $B. */
static clf_status template_parse(const clf_tokenizer *t, json_object *tmpl, json_object *specials,
                                 const char *key, const char *name,
                                 int32_t seg[3][CLF__TOK_MAX_POST], int n[3])
{
    bool pair = strcmp(key, "pair") == 0;
    int at = 0; /* the segment being filled: sequences seen so far */
    n[0] = n[1] = n[2] = 0;
    for (size_t i = 0; i < json_object_array_length(tmpl); i++) {
        json_object *e = json_object_array_get_idx(tmpl, i), *sp, *idv, *entry, *ids;
        if (e && json_object_object_get_ex(e, "Sequence", &sp)) {
            const char *which = json_object_object_get_ex(sp, "id", &idv)
                                    ? json_object_get_string(idv)
                                    : NULL;
            const char *want = at == 0 ? "A" : "B";
            if (at >= (pair ? 2 : 1) || !which || strcmp(which, want) != 0)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: TemplateProcessing \"%s\"[%zu]: sequence \"%.8s\" where "
                                  "%s is expected",
                                  name, key, i, which ? which : "?",
                                  at >= (pair ? 2 : 1) ? "no further sequence" : want);
            at++;
            continue;
        }
        if (!e || !json_object_object_get_ex(e, "SpecialToken", &sp) ||
            !json_object_object_get_ex(sp, "id", &idv) ||
            !json_object_is_type(idv, json_type_string) ||
            !json_object_object_get_ex(specials, json_object_get_string(idv), &entry) ||
            !json_object_object_get_ex(entry, "ids", &ids) ||
            !json_object_is_type(ids, json_type_array))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: TemplateProcessing \"%s\"[%zu] is not a sequence or a "
                              "special token with ids",
                              name, key, i);
        for (size_t k = 0; k < json_object_array_length(ids); k++) {
            json_object *v = json_object_array_get_idx(ids, k);
            int64_t id = json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : -1;
            if (id < 0 || id >= t->n_vocab || n[at] >= CLF__TOK_MAX_POST)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: TemplateProcessing special token \"%.64s\": an id outside "
                                  "the vocabulary, or more than %d in one place",
                                  name, json_object_get_string(idv), CLF__TOK_MAX_POST);
            seg[at][n[at]++] = (int32_t)id;
        }
    }
    if (at != (pair ? 2 : 1))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: TemplateProcessing \"%s\" lacks a sequence",
                          name, key);
    return CLF_OK;
}

/* TemplateProcessing: "single" frames one text; "pair", when present, two
 * (without it, clf_tokenizer_encode_pair is refused, as HF refuses it). */
static clf_status template_processing(clf_tokenizer *t, json_object *p, const char *name)
{
    json_object *single, *pair, *specials;
    if (!json_object_object_get_ex(p, "single", &single) ||
        !json_object_is_type(single, json_type_array) ||
        !json_object_object_get_ex(p, "special_tokens", &specials) ||
        !json_object_is_type(specials, json_type_object))
        return clf__error(NULL, CLF_ERR_BAD_MODEL,
                          "%s: TemplateProcessing lacks \"single\" or \"special_tokens\"", name);
    int32_t seg[3][CLF__TOK_MAX_POST];
    int n[3];
    CLF_TRY(template_parse(t, single, specials, "single", name, seg, n));
    memcpy(t->post_prefix, seg[0], sizeof seg[0]);
    memcpy(t->post_suffix, seg[1], sizeof seg[1]);
    t->n_prefix = n[0];
    t->n_suffix = n[1];
    t->pair_state = -1;
    if (json_object_object_get_ex(p, "pair", &pair) && pair) {
        if (!json_object_is_type(pair, json_type_array))
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: TemplateProcessing \"pair\" is not a "
                                                       "list", name);
        CLF_TRY(template_parse(t, pair, specials, "pair", name, t->pair, t->n_pair));
        t->pair_state = 1;
    }
    return CLF_OK;
}

/* One post-processor (or each of a Sequence's): what to add around a text. */
static clf_status post_processor(clf_tokenizer *t, json_object *p, const char *name, int depth,
                                 clf__tok_post *post)
{
    if (!p) return CLF_OK;
    const char *ty = clf__tok_json_type(p);
    json_object *list;
    if (ty && strcmp(ty, "ByteLevel") == 0) return CLF_OK; /* offsets only */
    if (ty && (strcmp(ty, "RobertaProcessing") == 0 || strcmp(ty, "BertProcessing") == 0)) {
        CLF_TRY(pair_id(t, p, "cls", name, &t->post_prefix[0]));
        CLF_TRY(pair_id(t, p, "sep", name, &t->post_suffix[0]));
        t->n_prefix = t->n_suffix = 1;
        /* Pairs: [CLS] A [SEP] B [SEP]; RoBERTa's <s> A </s></s> B </s>. */
        bool roberta = strcmp(ty, "RobertaProcessing") == 0;
        t->pair[0][0] = t->post_prefix[0];
        t->pair[1][0] = t->pair[1][1] = t->pair[2][0] = t->post_suffix[0];
        t->n_pair[0] = t->n_pair[2] = 1;
        t->n_pair[1] = roberta ? 2 : 1;
        t->pair_state = 1;
        *post = CLF__POST_EXPLICIT;
        return CLF_OK;
    }
    if (ty && strcmp(ty, "TemplateProcessing") == 0) {
        *post = CLF__POST_EXPLICIT;
        return template_processing(t, p, name);
    }
    if (ty && strcmp(ty, "Sequence") == 0 && depth == 0 &&
        json_object_object_get_ex(p, "processors", &list) &&
        json_object_is_type(list, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(list); i++)
            CLF_TRY(post_processor(t, json_object_array_get_idx(list, i), name, 1, post));
        return CLF_OK;
    }
    return clf__error(NULL, CLF_ERR_UNSUPPORTED, "%s: post_processor \"%.64s\" is not supported",
                      name, ty ? ty : "?");
}

clf_status clf__tok_json_post(clf_tokenizer *t, json_object *p, const char *name,
                              clf__tok_post *post)
{
    return post_processor(t, p, name, 0, post);
}

/* Finishes t with the model b (taken over, also on failure). */
static clf_status finish(clf_tokenizer *t, clf__bpe *b, const char *name,
                         const clf_tokenizer_params *p, const clf__tok_config *cfg,
                         const clf__tok_added_def *added, int32_t n_added, clf__tok_post post)
{
    t->vt = &clf__bpe_vtable;
    t->model = b;
    clf__bpe_bytes(b, t);
    const char *defaults[CLF__TOK_N_SPECIAL];
    bpe_defaults(t, defaults);
    if (p && (p->add_prefix_space < CLF_TOKENIZER_AUTO || p->add_prefix_space > CLF_TOKENIZER_OFF))
        return clf__error(NULL, CLF_ERR_INVALID_ARG,
                          "tokenizer: params->add_prefix_space must be CLF_TOKENIZER_AUTO, _ON or "
                          "_OFF");
    if (p) b->add_prefix_space = flag_or(p->add_prefix_space, -1, b->add_prefix_space);
    return clf__tok_finish(t, name, p, cfg, added, n_added, defaults, 0, post, 1024);
}

clf_status clf__bpe_from_json(json_object *root, json_object *model, const char *name,
                              const clf_tokenizer_params *p, const clf__tok_config *cfg,
                              clf_tokenizer **out)
{
    *out = NULL;
    json_object *vocab, *x;
    bool aps = false;
    CLF_TRY(check_pipeline(root, model, name, &aps));
    if (!json_object_object_get_ex(model, "vocab", &vocab) ||
        !json_object_is_type(vocab, json_type_object))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no \"model\".\"vocab\" object", name);
    clf__tok_added_def *added = NULL;
    int32_t n_added = 0;
    clf_tokenizer *t = NULL;
    clf__bpe *b = NULL;
    clf__tok_post post = CLF__POST_NONE;
    clf_status st = clf__tok_json_added(root, name, &added, &n_added);
    if (st == CLF_OK) st = clf__tok_json_vocab(vocab, added, n_added, true, name, &t);
    if (st == CLF_OK) st = merges_json(t, json_object_object_get(model, "merges"), name, &b);
    if (st == CLF_OK) {
        b->add_prefix_space = aps;
        b->ignore_merges = is_true(model, "ignore_merges", false);
        if (json_object_object_get_ex(model, "unk_token", &x) && x) {
            b->unk = json_object_is_type(x, json_type_string)
                         ? clf__tok_lookup(t, json_object_get_string(x),
                                           (size_t)json_object_get_string_len(x))
                         : -1;
            if (b->unk < 0)
                st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                                "%s: \"unk_token\" is not a token of the vocabulary", name);
        }
    }
    if (st == CLF_OK)
        st = post_processor(t, json_object_object_get(root, "post_processor"), name, 0, &post);
    if (st == CLF_OK) {
        st = finish(t, b, name, p, cfg, added, n_added, post);
        b = NULL;
    }
    clf__bpe_free(b);
    clf__free(added);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

/* ---- vocab.json + merges.txt ---- */

clf_status clf__bpe_parse_files(const char *vocab, size_t vocab_size, const char *vocab_name,
                                const char *merges, size_t merges_size, const char *merges_name,
                                const clf_tokenizer_params *p, const clf__tok_config *cfg,
                                clf_tokenizer **out)
{
    *out = NULL;
    clf__tok_config none;
    clf__tok_config_init(&none);
    if (!cfg) cfg = &none;
    json_object *root;
    CLF_TRY(clf__tok_json_parse(vocab, vocab_size, vocab_name, &root));
    clf_tokenizer *t = NULL;
    clf__bpe *b = NULL;
    clf_status st = clf__tok_json_vocab(root, cfg->added, cfg->n_added, true, vocab_name, &t);
    json_object_put(root);
    if (st == CLF_OK) st = merges_txt(t, merges, merges_size, merges_name, &b);
    if (st == CLF_OK) {
        b->add_prefix_space = cfg->add_prefix_space > 0;
        /* The family frames the text: tokenizer_config.json's tokenizer_class
         * when it names one we know, else <s> A </s> when the vocabulary has
         * both (RoBERTa, BART), else nothing (GPT-2). */
        int fam = cfg->family_cls_sep;
        if (fam < 0)
            fam = clf__tok_lookup(t, "<s>", 3) >= 0 && clf__tok_lookup(t, "</s>", 4) >= 0;
        st = finish(t, b, vocab_name, p, cfg, cfg->added, cfg->n_added,
                    fam ? CLF__POST_CLS_SEP : CLF__POST_NONE);
        b = NULL;
    }
    clf__bpe_free(b);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}
