/*
 * Tokenizer files: vocab.txt, HF tokenizer.json (WordPiece here, byte-level
 * BPE in bpe_load.c), the folder rules of clf_tokenizer_load(), and the
 * tokenizer_config.json / special_tokens_map.json beside them. Every
 * check names the file and the problem; nothing in a file can make the
 * library crash (tests/fuzz/fuzz_tokenizer.c).
 *
 * json-c does its own allocation (it has no allocator hook), so the
 * fault-injection tests reach only this file's clf__malloc calls; json-c's
 * failures still come back as a NULL parse and a clean error.
 */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "core/core.h"
#include "text/text_internal.h"

void clf__tok_config_init(clf__tok_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->lowercase = cfg->strip_accents = cfg->chinese = -1;
    cfg->add_prefix_space = cfg->family_cls_sep = -1;
    cfg->clean_text = 1;
}

void clf__tok_config_clear(clf__tok_config *cfg)
{
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++)
        clf__free(cfg->special[i]);
    for (int32_t i = 0; i < cfg->n_added; i++)
        clf__free(cfg->added[i].content);
    clf__free(cfg->added);
    clf__tok_config_init(cfg);
}

/* Parses a whole JSON text; the root must be an object. */
clf_status clf__tok_json_parse(const char *data, size_t size, const char *name, json_object **out)
{
    *out = NULL;
    if (size > CLF__TOK_MAX_FILE)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu bytes is too large", name, size);
    const char *nul = memchr(data, '\0', size);
    if (nul)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: NUL byte at offset %lld", name,
                          (long long)(nul - data));
    json_tokener *tk = json_tokener_new();
    if (!tk) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    json_tokener_set_flags(tk, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tk, data, (int)size);
    enum json_tokener_error e = json_tokener_get_error(tk);
    size_t end = json_tokener_get_parse_end(tk);
    json_tokener_free(tk);
    if (!root || e != json_tokener_success) {
        json_object_put(root);
        if (e == json_tokener_continue || e == json_tokener_success)
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: truncated JSON (%zu bytes)", name,
                              size);
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: invalid JSON near byte %zu: %s", name, end,
                          json_tokener_error_desc(e));
    }
    while (end < size && strchr(" \t\r\n", data[end]))
        end++;
    if (end != size) {
        json_object_put(root);
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: trailing data after the JSON at byte %zu",
                          name, end);
    }
    if (!json_object_is_type(root, json_type_object)) {
        json_object_put(root);
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: the JSON is not an object", name);
    }
    *out = root;
    return CLF_OK;
}

/* A tri-state field: absent or null -> keep, boolean -> 0/1, else an error. */
static clf_status get_bool(json_object *o, const char *key, const char *name, int *v)
{
    json_object *x;
    if (!json_object_object_get_ex(o, key, &x) || !x) return CLF_OK;
    if (!json_object_is_type(x, json_type_boolean))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"%s\" is not a boolean or null", name,
                          key);
    *v = json_object_get_boolean(x) ? 1 : 0;
    return CLF_OK;
}

static const char *const special_keys[CLF__TOK_N_SPECIAL] = {
    "pad_token", "unk_token", "cls_token", "sep_token", "mask_token", "bos_token", "eos_token"};

/* An AddedToken object's lstrip / rstrip / special as CLF__ADDED_* flags. */
static int added_flags(json_object *o)
{
    json_object *x;
    int f = 0;
    if (!json_object_is_type(o, json_type_object)) return 0;
    if (json_object_object_get_ex(o, "lstrip", &x) && json_object_get_boolean(x))
        f |= CLF__ADDED_LSTRIP;
    if (json_object_object_get_ex(o, "rstrip", &x) && json_object_get_boolean(x))
        f |= CLF__ADDED_RSTRIP;
    if (json_object_object_get_ex(o, "special", &x) && json_object_get_boolean(x))
        f |= CLF__ADDED_SPECIAL;
    return f;
}

/* The content of an AddedToken object or a string, or NULL when it is
 * neither, empty, or holds a NUL. */
static const char *added_content(json_object *x)
{
    json_object *c = x;
    if (json_object_is_type(x, json_type_object) && !json_object_object_get_ex(x, "content", &c))
        return NULL;
    if (!c || !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0 ||
        (size_t)json_object_get_string_len(c) != strlen(json_object_get_string(c)))
        return NULL;
    return json_object_get_string(c);
}

/* The families that frame a text with <s> and </s> (transformers' slow and
 * fast classes); GPT-2's add nothing. Other classes leave it to the
 * vocabulary (see clf_tokenizer_load). */
static int family_of(const char *cls)
{
    static const char *const cls_sep[] = {"Roberta", "Bart", "Longformer", "LED", "Blenderbot",
                                          "Mvp", "Camembert", "XLMRoberta"};
    for (size_t i = 0; i < sizeof cls_sep / sizeof *cls_sep; i++)
        if (strncmp(cls, cls_sep[i], strlen(cls_sep[i])) == 0) return 1;
    if (strncmp(cls, "GPT2", 4) == 0 || strncmp(cls, "CodeGen", 7) == 0 ||
        strncmp(cls, "GPTNeo", 6) == 0)
        return 0;
    return -1;
}

/* transformers' "added_tokens_decoder": {"id": {"content": ..., ...}}. */
static clf_status config_added(json_object *dec, const char *name, clf__tok_config *cfg)
{
    if (!json_object_is_type(dec, json_type_object))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"added_tokens_decoder\" is not an object",
                          name);
    size_t n = (size_t)json_object_object_length(dec);
    if (n > CLF__TOK_MAX_VOCAB)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: too many added tokens", name);
    clf__tok_added_def *defs = clf__calloc(n ? n : 1, sizeof *defs);
    if (!defs) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (int32_t i = 0; i < cfg->n_added; i++)
        clf__free(cfg->added[i].content);
    clf__free(cfg->added);
    cfg->added = defs;
    cfg->n_added = 0;
    json_object_object_foreach(dec, key, val)
    {
        char *end;
        long long id = strtoll(key, &end, 10);
        const char *c = added_content(val);
        if (*key == '\0' || *end != '\0' || id < 0 || id >= CLF__TOK_MAX_VOCAB || !c ||
            !json_object_is_type(val, json_type_object))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: added_tokens_decoder entry \"%.32s\" is not an id with "
                              "{\"content\": string}",
                              name, key);
        if (!(defs[cfg->n_added].content = clf__strdup(c)))
            return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
        defs[cfg->n_added].id = id;
        defs[cfg->n_added++].flags = added_flags(val);
    }
    return CLF_OK;
}

clf_status clf__tok_config_parse(const char *data, size_t size, const char *name,
                                 clf__tok_config *cfg)
{
    json_object *root;
    CLF_TRY(clf__tok_json_parse(data, size, name, &root));
    clf_status st = get_bool(root, "do_lower_case", name, &cfg->lowercase);
    if (st == CLF_OK) st = get_bool(root, "strip_accents", name, &cfg->strip_accents);
    if (st == CLF_OK) st = get_bool(root, "tokenize_chinese_chars", name, &cfg->chinese);
    if (st == CLF_OK) st = get_bool(root, "add_prefix_space", name, &cfg->add_prefix_space);
    json_object *x;
    if (st == CLF_OK && json_object_object_get_ex(root, "tokenizer_class", &x) &&
        json_object_is_type(x, json_type_string))
        cfg->family_cls_sep = family_of(json_object_get_string(x));
    if (st == CLF_OK && json_object_object_get_ex(root, "added_tokens_decoder", &x) && x)
        st = config_added(x, name, cfg);
    /* HF writes 1e30 ("no limit") as a float: only a sane integer counts. */
    if (st == CLF_OK && json_object_object_get_ex(root, "model_max_length", &x) &&
        json_object_is_type(x, json_type_int)) {
        int64_t v = json_object_get_int64(x);
        if (v > 0 && v <= 1000000) cfg->max_length = v;
    }
    for (int i = 0; st == CLF_OK && i < CLF__TOK_N_SPECIAL; i++) {
        if (!json_object_object_get_ex(root, special_keys[i], &x) || !x) continue;
        /* A special token is a string or an AddedToken object {"content": ...}. */
        const char *c = added_content(x);
        if (!c) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: \"%s\" is not a non-empty string or {\"content\": string}", name,
                            special_keys[i]);
            break;
        }
        char *s = clf__strdup(c);
        if (!s) {
            st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
            break;
        }
        clf__free(cfg->special[i]);
        cfg->special[i] = s;
        cfg->special_flags[i] = added_flags(x) & (CLF__ADDED_LSTRIP | CLF__ADDED_RSTRIP);
    }
    json_object_put(root);
    return st;
}

/* ---- vocab.txt ---- */

/* One token per line (LF or CRLF); trailing whitespace of a line is dropped,
 * as HF's reader trims it. The last line may lack its newline. */
static clf_status parse_vocab_txt(const char *data, size_t size, const char *name,
                                  clf_tokenizer **out)
{
    if (size == 0) return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: empty vocabulary", name);
    if (size > CLF__TOK_MAX_FILE)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu bytes is too large", name, size);
    int64_t bad = clf__utf8_invalid_at((const uint8_t *)data, size);
    if (bad >= 0) {
        int64_t line = 1;
        for (int64_t i = 0; i < bad; i++)
            line += data[i] == '\n';
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: line %lld is not valid UTF-8 (byte %lld)",
                          name, (long long)line, (long long)bad);
    }
    int64_t n = 0;
    for (size_t i = 0; i < size; i++)
        n += data[i] == '\n';
    if (data[size - 1] != '\n') n++;
    if (n > CLF__TOK_MAX_VOCAB)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %lld entries, more than %d", name,
                          (long long)n, CLF__TOK_MAX_VOCAB);
    clf_tokenizer *t;
    clf_status st = clf__tok_alloc((int32_t)n, size + 1, &t);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    memcpy(t->arena, data, size);
    t->arena[size] = '\n';
    char *p = t->arena;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        char *nl = memchr(p, '\n', (size_t)(t->arena + size + 1 - p));
        size_t len = (size_t)(nl - p);
        while (len > 0 && strchr(" \t\r\v\f", p[len - 1]))
            len--;
        if (len == 0 || memchr(p, '\0', len)) {
            clf_tokenizer_free(t);
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: line %d is %s", name, (int)id + 1,
                              len ? "a token with a NUL byte" : "an empty token");
        }
        p[len] = '\0';
        t->tokens[id] = p;
        t->lens[id] = (uint32_t)len;
        p = nl + 1;
    }
    if ((st = clf__tok_index(t, name)) != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

/* ---- tokenizer.json ---- */

clf_status clf__tok_json_vocab(json_object *vocab, const clf__tok_added_def *added,
                               int32_t n_added, bool allow_extra, const char *name,
                               clf_tokenizer **out)
{
    *out = NULL;
    size_t n = (size_t)json_object_object_length(vocab), bytes = 0, n_extra = 0;
    if (n == 0) return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: empty \"model\".\"vocab\"", name);
    if (n > CLF__TOK_MAX_VOCAB)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu vocabulary entries, more than %d", name,
                          n, CLF__TOK_MAX_VOCAB);
    json_object_object_foreach(vocab, key, val)
    {
        if (!json_object_is_type(val, json_type_int))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: vocab entry \"%.64s\": id is not an "
                              "integer",
                              name, key);
        int64_t id = json_object_get_int64(val);
        if (id < 0 || (uint64_t)id >= n)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: vocab entry \"%.64s\": id %lld outside 0..%zu (ids must be "
                              "0..size-1 without holes)",
                              name, key, (long long)id, n - 1);
        if (key[0] == '\0')
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: empty token (id %lld)", name,
                              (long long)id);
        /* Defensive: json-c validates UTF-8 and turns lone surrogate escapes
         * into U+FFFD, but a token that is not UTF-8 could never match text. */
        if (clf__utf8_invalid_at((const uint8_t *)key, strlen(key)) >= 0)
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: token with id %lld is not valid UTF-8",
                              name, (long long)id);
        bytes += strlen(key) + 1;
    }
    /* Added tokens past the vocabulary extend it: ids n, n+1, ... */
    for (int32_t i = 0; i < n_added; i++)
        if (added[i].id >= (int64_t)n) {
            if (!allow_extra)
                return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                                  "%s: added_tokens[%d] \"%.64s\" (id %lld) is not the "
                                  "vocabulary's entry; added tokens outside the vocabulary are not "
                                  "supported",
                                  name, (int)i, added[i].content, (long long)added[i].id);
            if (added[i].id >= (int64_t)n + n_added)
                return clf__error(NULL, CLF_ERR_BAD_MODEL,
                                  "%s: added token \"%.64s\" has id %lld: ids past the vocabulary "
                                  "(%zu entries) must follow it without holes",
                                  name, added[i].content, (long long)added[i].id, n);
            n_extra = (size_t)added[i].id + 1 - n > n_extra ? (size_t)added[i].id + 1 - n : n_extra;
            bytes += strlen(added[i].content) + 1;
        }
    clf_tokenizer *t;
    clf_status st = clf__tok_alloc((int32_t)(n + n_extra), bytes, &t);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    char *p = t->arena;
    json_object_object_foreach(vocab, k2, v2)
    {
        int32_t id = (int32_t)json_object_get_int64(v2);
        if (t->tokens[id]) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: tokens \"%.64s\" and \"%.64s\" share id "
                            "%d",
                            name, t->tokens[id], k2, (int)id);
            clf_tokenizer_free(t);
            return st;
        }
        size_t len = strlen(k2);
        memcpy(p, k2, len + 1);
        t->tokens[id] = p;
        t->lens[id] = (uint32_t)len;
        p += len + 1;
    }
    for (int32_t i = 0; i < n_added; i++) {
        int64_t id = added[i].id;
        if (id < (int64_t)n) {
            if (strcmp(t->tokens[id], added[i].content) != 0) {
                st = clf__error(NULL, allow_extra ? CLF_ERR_BAD_MODEL : CLF_ERR_UNSUPPORTED,
                                "%s: added_tokens[%d] \"%.64s\" (id %lld) is not the "
                                "vocabulary's entry \"%.64s\"%s",
                                name, (int)i, added[i].content, (long long)id, t->tokens[id],
                                allow_extra ? ""
                                            : "; added tokens outside the vocabulary are not "
                                              "supported");
                clf_tokenizer_free(t);
                return st;
            }
            continue;
        }
        if (t->tokens[id] && strcmp(t->tokens[id], added[i].content) == 0) continue;
        if (t->tokens[id]) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: added tokens \"%.64s\" and \"%.64s\" share id %lld",
                            name, t->tokens[id], added[i].content, (long long)id);
            clf_tokenizer_free(t);
            return st;
        }
        size_t len = strlen(added[i].content);
        memcpy(p, added[i].content, len + 1);
        t->tokens[id] = p;
        t->lens[id] = (uint32_t)len;
        p += len + 1;
    }
    for (size_t id = n; id < n + n_extra; id++)
        if (!t->tokens[id]) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: no token has id %zu (added tokens must follow the vocabulary "
                            "without holes)",
                            name, id);
            clf_tokenizer_free(t);
            return st;
        }
    if ((st = clf__tok_index(t, name)) != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

const char *clf__tok_json_type(json_object *o)
{
    json_object *ty;
    if (!o || !json_object_is_type(o, json_type_object) ||
        !json_object_object_get_ex(o, "type", &ty) || !json_object_is_type(ty, json_type_string))
        return NULL;
    return json_object_get_string(ty);
}
/* The model's settings and the file's normalizer / pre_tokenizer. */
static clf_status json_settings(json_object *root, json_object *model, const char *name,
                                clf_tokenizer *t, clf__tok_config *cfg)
{
    json_object *x;
    if (json_object_object_get_ex(model, "continuing_subword_prefix", &x) && x) {
        if (!json_object_is_type(x, json_type_string) || json_object_get_string_len(x) == 0 ||
            json_object_get_string_len(x) > CLF__TOK_MAX_PREFIX ||
            (size_t)json_object_get_string_len(x) != strlen(json_object_get_string(x)))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: \"continuing_subword_prefix\" is not "
                              "a string of 1..%d bytes",
                              name, CLF__TOK_MAX_PREFIX);
        t->prefix_len = (size_t)json_object_get_string_len(x);
        memcpy(t->prefix, json_object_get_string(x), t->prefix_len + 1);
    }
    if (json_object_object_get_ex(model, "max_input_chars_per_word", &x) && x) {
        int64_t v = json_object_is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
        if (v < 1 || v > CLF__TOK_MAX_WORD_CHARS)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: \"max_input_chars_per_word\" is not "
                              "an integer in 1..%d",
                              name, CLF__TOK_MAX_WORD_CHARS);
        t->max_word_chars = v;
    }
    if (json_object_object_get_ex(model, "unk_token", &x) && x) {
        if (!json_object_is_type(x, json_type_string) || json_object_get_string_len(x) == 0)
            return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"unk_token\" is not a string", name);
        char *s = clf__strdup(json_object_get_string(x));
        if (!s) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
        clf__free(cfg->special[CLF_TOKEN_UNK]);
        cfg->special[CLF_TOKEN_UNK] = s;
    }
    json_object *norm = NULL, *pre = NULL;
    json_object_object_get_ex(root, "normalizer", &norm);
    json_object_object_get_ex(root, "pre_tokenizer", &pre);
    if (norm) {
        const char *ty = clf__tok_json_type(norm);
        if (!ty || strcmp(ty, "BertNormalizer") != 0)
            return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                              "%s: normalizer type \"%.64s\" is not "
                              "supported (only BertNormalizer)",
                              name, ty ? ty : "?");
        CLF_TRY(get_bool(norm, "lowercase", name, &cfg->lowercase));
        CLF_TRY(get_bool(norm, "strip_accents", name, &cfg->strip_accents));
        CLF_TRY(get_bool(norm, "handle_chinese_chars", name, &cfg->chinese));
        CLF_TRY(get_bool(norm, "clean_text", name, &cfg->clean_text));
    } else {
        /* No normalizer: the text is used as it is. */
        cfg->lowercase = cfg->strip_accents = cfg->chinese = cfg->clean_text = 0;
    }
    const char *pty = clf__tok_json_type(pre);
    if (!pty || strcmp(pty, "BertPreTokenizer") != 0)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: pre_tokenizer \"%.64s\" is not "
                          "supported (only BertPreTokenizer)",
                          name, pty ? pty : "null");
    return CLF_OK;
}

clf_status clf__tok_json_added(json_object *root, const char *name, clf__tok_added_def **defs,
                               int32_t *n_defs)
{
    json_object *arr;
    *defs = NULL;
    *n_defs = 0;
    if (!json_object_object_get_ex(root, "added_tokens", &arr) || !arr) return CLF_OK;
    if (!json_object_is_type(arr, json_type_array))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"added_tokens\" is not an array", name);
    size_t n = json_object_array_length(arr);
    if (n > CLF__TOK_MAX_VOCAB)
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: %zu added tokens is too many", name, n);
    *defs = clf__malloc((n ? n : 1) * sizeof **defs);
    if (!*defs) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *c, *idv, *x;
        if (!e || !json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "content", &c) ||
            !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0 ||
            (size_t)json_object_get_string_len(c) != strlen(json_object_get_string(c)) ||
            !json_object_object_get_ex(e, "id", &idv) || !json_object_is_type(idv, json_type_int) ||
            json_object_get_int64(idv) < 0 || json_object_get_int64(idv) >= CLF__TOK_MAX_VOCAB)
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: added_tokens[%zu] lacks a non-empty string "
                              "\"content\" or an integer \"id\" in range",
                              name, i);
        if (json_object_object_get_ex(e, "single_word", &x) && json_object_get_boolean(x))
            return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                              "%s: added_tokens[%zu]: \"single_word\": true is not supported",
                              name, i);
        (*defs)[i].content = (char *)json_object_get_string(c);
        (*defs)[i].id = json_object_get_int64(idv);
        (*defs)[i].flags = added_flags(e);
        (*n_defs)++;
    }
    return CLF_OK;
}

/* Copies what the files beside a tokenizer.json say into cfg. */
static clf_status config_copy(const clf__tok_config *from, const char *name, clf__tok_config *cfg)
{
    if (!from) return CLF_OK;
    cfg->max_length = from->max_length;
    cfg->add_prefix_space = from->add_prefix_space;
    cfg->family_cls_sep = from->family_cls_sep;
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++) {
        cfg->special_flags[i] = from->special_flags[i];
        if (from->special[i] && !(cfg->special[i] = clf__strdup(from->special[i])))
            return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    }
    return CLF_OK;
}

static const char *const wordpiece_defaults[CLF__TOK_N_SPECIAL] = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", NULL, NULL};
#define WORDPIECE_REQUIRED (1u << CLF_TOKEN_UNK | 1u << CLF_TOKEN_CLS | 1u << CLF_TOKEN_SEP)

static clf_status wordpiece_json(json_object *root, json_object *model, const char *name,
                                 const clf_tokenizer_params *p, clf__tok_config *cfg,
                                 clf_tokenizer **out)
{
    json_object *vocab;
    clf_tokenizer *t = NULL;
    clf__tok_added_def *added = NULL;
    int32_t n_added = 0;
    clf_status st = CLF_OK;
    if (!json_object_object_get_ex(model, "vocab", &vocab) ||
        !json_object_is_type(vocab, json_type_object)) {
        st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no \"model\".\"vocab\" object", name);
        goto done;
    }
    if ((st = clf__tok_json_added(root, name, &added, &n_added)) != CLF_OK) goto done;
    if ((st = clf__tok_json_vocab(vocab, added, n_added, false, name, &t)) != CLF_OK) goto done;
    if ((st = json_settings(root, model, name, t, cfg)) != CLF_OK) goto done;
    /* WordPiece keeps its rules: added tokens are matched as they are (no
     * lstrip / rstrip), and the encoding is always [CLS] A [SEP]. */
    for (int32_t i = 0; i < n_added; i++)
        added[i].flags &= CLF__ADDED_SPECIAL;
    st = clf__tok_finish(t, name, p, cfg, added, n_added, wordpiece_defaults, WORDPIECE_REQUIRED,
                         CLF__POST_CLS_SEP, 512);
done:
    clf__free(added);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

static clf_status parse_tokenizer_json(const char *data, size_t size, const char *name,
                                       const clf_tokenizer_params *p, const clf__tok_config *cfg0,
                                       clf_tokenizer **out)
{
    json_object *root, *model, *x;
    CLF_TRY(clf__tok_json_parse(data, size, name, &root));
    clf__tok_config cfg;
    clf__tok_config_init(&cfg);
    clf_status st = config_copy(cfg0, name, &cfg);
    if (st != CLF_OK) goto done;
    if (!json_object_object_get_ex(root, "model", &model) ||
        !json_object_is_type(model, json_type_object)) {
        st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no \"model\" object", name);
        goto done;
    }
    if (!json_object_object_get_ex(model, "type", &x) ||
        !json_object_is_type(x, json_type_string)) {
        st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"model\" has no string \"type\"", name);
        goto done;
    }
    const char *type = json_object_get_string(x);
    if (strcmp(type, "WordPiece") == 0)
        st = wordpiece_json(root, model, name, p, &cfg, out);
    else if (strcmp(type, "BPE") == 0)
        st = clf__bpe_from_json(root, model, name, p, &cfg, out);
    else if (strcmp(type, "Unigram") == 0)
        st = clf__unigram_from_json(root, model, name, p, &cfg, out);
    else
        st = clf__error(NULL, CLF_ERR_UNSUPPORTED,
                        "%s: model type \"%.32s\" is not supported (WordPiece, byte-level BPE "
                        "and Unigram are)",
                        name, type);
done:
    json_object_put(root);
    clf__tok_config_clear(&cfg);
    return st;
}

clf_status clf__tokenizer_parse(const char *data, size_t size, bool json, const char *name,
                                const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                clf_tokenizer **out)
{
    *out = NULL;
    if (json) return parse_tokenizer_json(data, size, name, params, cfg, out);
    clf_tokenizer *t = NULL;
    clf_status st = parse_vocab_txt(data, size, name, &t);
    if (st == CLF_OK)
        st = clf__tok_finish(t, name, params, cfg, NULL, 0, wordpiece_defaults, WORDPIECE_REQUIRED,
                             CLF__POST_CLS_SEP, 512);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

/* ---- files ---- */

/* Reads a whole file; *data is clf__malloc'd. missing_ok: a file that does
 * not exist gives CLF_ERR_NOT_FOUND without a message. A FIFO or a device is
 * refused before anything blocks on it (core's clf__file_read_all). */
static clf_status read_file(const char *path, char **data, size_t *size, bool missing_ok)
{
    char msg[1024];
    clf_status st = clf__file_read_all(path, CLF__TOK_MAX_FILE, data, size, msg, sizeof msg);
    if (st == CLF_ERR_NOT_FOUND && missing_ok) return st;
    if (st == CLF_ERR_NOT_FOUND) st = CLF_ERR_IO;
    if (st != CLF_OK) return clf__error(NULL, st, "%s", msg);
    return CLF_OK;
}

static char *join(const char *dir, const char *file)
{
    size_t a = strlen(dir), b = strlen(file);
    char *s = clf__malloc(a + b + 2);
    if (!s) return NULL;
    memcpy(s, dir, a);
    s[a] = '/';
    memcpy(s + a + 1, file, b + 1);
    return s;
}

/* Reads an optional JSON config beside the tokenizer file into cfg. */
static clf_status read_config(const char *dir, const char *file, clf__tok_config *cfg)
{
    char *path = join(dir, file), *data;
    size_t size;
    if (!path) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
    clf_status st = read_file(path, &data, &size, true);
    if (st == CLF_OK)
        st = clf__tok_config_parse(data, size, path, cfg);
    else if (st == CLF_ERR_NOT_FOUND)
        st = CLF_OK;
    clf__free(data);
    clf__free(path);
    return st;
}

/* sentence-transformers folders truncate at sentence_bert_config.json's
 * max_seq_length (256 for all-MiniLM-L6-v2, below the tokenizer's 512); only
 * that key is read: its do_lower_case is a separate step of that library,
 * not the tokenizer's setting. */
static clf_status read_st_max_length(const char *dir, clf__tok_config *cfg)
{
    char *path = join(dir, "sentence_bert_config.json"), *data;
    size_t size;
    if (!path) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
    clf_status st = read_file(path, &data, &size, true);
    if (st == CLF_ERR_NOT_FOUND) {
        clf__free(path);
        return CLF_OK;
    }
    json_object *root = NULL, *x;
    if (st == CLF_OK) st = clf__tok_json_parse(data, size, path, &root);
    if (st == CLF_OK && json_object_object_get_ex(root, "max_seq_length", &x)) {
        int64_t v = json_object_is_type(x, json_type_int) ? json_object_get_int64(x) : -1;
        if (v < 1 || v > 1000000)
            st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"max_seq_length\" is not an integer in 1..1000000",
                            path);
        else
            cfg->max_length = v;
    }
    if (root) json_object_put(root);
    clf__free(data);
    clf__free(path);
    return st;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Reads dir/vocab.json and dir/merges.txt (both must be there). */
static clf_status load_bpe_files(const char *dir, const clf_tokenizer_params *params,
                                 const clf__tok_config *cfg, clf_tokenizer **out)
{
    char *vpath = join(dir, "vocab.json"), *mpath = join(dir, "merges.txt");
    char *vdata = NULL, *mdata = NULL;
    size_t vsize = 0, msize = 0;
    clf_status st = vpath && mpath ? CLF_OK
                                   : clf__error(NULL, CLF_ERR_OUT_OF_MEMORY,
                                                "tokenizer: out of host memory");
    if (st == CLF_OK) st = read_file(vpath, &vdata, &vsize, false);
    if (st == CLF_OK) st = read_file(mpath, &mdata, &msize, false);
    if (st == CLF_OK)
        st = clf__bpe_parse_files(vdata, vsize, vpath, mdata, msize, mpath, params, cfg, out);
    clf__free(vdata);
    clf__free(mdata);
    clf__free(vpath);
    clf__free(mpath);
    return st;
}

static bool exists(const char *dir, const char *file)
{
    char *p = join(dir, file);
    struct stat sb;
    bool yes = p && stat(p, &sb) == 0;
    clf__free(p);
    return yes;
}

clf_status clf_tokenizer_load(const char *path, const clf_tokenizer_params *params,
                              clf_tokenizer **out)
{
    if (out) *out = NULL;
    if (!path || !out)
        return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_tokenizer_load: NULL path or out");
    struct stat sb;
    if (stat(path, &sb) != 0) return clf__error(NULL, CLF_ERR_IO, "%s: %s", path, strerror(errno));
    char *dir = NULL, *file = NULL, *data = NULL;
    size_t size = 0;
    clf__tok_config cfg;
    clf__tok_config_init(&cfg);
    clf_status st;
    bool json = false, bpe_files = false, marian = false, spm = false;
    if (S_ISDIR(sb.st_mode) && (exists(path, "source.spm") || exists(path, "target.spm"))) {
        marian = true; /* a Marian folder (tokenizer.json-less, as transformers saves it) */
        if (!(dir = clf__strdup(path))) goto oom;
        st = CLF_OK;
    } else if (S_ISDIR(sb.st_mode)) {
        dir = clf__strdup(path);
        file = join(path, "tokenizer.json");
        if (!dir || !file) goto oom;
        json = true;
        st = read_file(file, &data, &size, true);
        if (st == CLF_ERR_NOT_FOUND) {
            clf__free(file);
            if (!(file = join(path, "vocab.txt"))) goto oom;
            json = false;
            st = read_file(file, &data, &size, true);
            if (st == CLF_ERR_NOT_FOUND && (exists(path, "vocab.json") || exists(path, "merges.txt"))) {
                bpe_files = true;
                st = CLF_OK;
            }
            /* NOT_FOUND, not IO: callers tell a model without a
             * vocabulary (it takes token ids) from a vocabulary that is
             * there but unreadable or corrupt. */
            if (st == CLF_ERR_NOT_FOUND)
                st = clf__error(NULL, CLF_ERR_NOT_FOUND,
                                "%s: the folder has neither tokenizer.json nor vocab.txt (nor "
                                "vocab.json + merges.txt)",
                                path);
        }
    } else {
        const char *slash = strrchr(path, '/');
        dir = slash ? clf__malloc((size_t)(slash - path) + 1) : clf__strdup(".");
        file = clf__strdup(path);
        if (!dir || !file) goto oom;
        if (slash) {
            memcpy(dir, path, (size_t)(slash - path));
            dir[slash - path] = '\0';
            if (slash == path) memcpy(dir, "/", 2);
        }
        const char *base = slash ? slash + 1 : path;
        bpe_files = strcmp(base, "vocab.json") == 0 || strcmp(base, "merges.txt") == 0;
        json = ends_with(path, ".json");
        spm = ends_with(path, ".spm") || ends_with(path, ".model");
        st = bpe_files || spm ? CLF_OK : read_file(file, &data, &size, false);
    }
    if (st == CLF_OK) st = read_config(dir, "special_tokens_map.json", &cfg);
    if (st == CLF_OK) st = read_config(dir, "tokenizer_config.json", &cfg);
    if (st == CLF_OK) st = read_st_max_length(dir, &cfg);
    if (st == CLF_OK && marian) st = clf__marian_load(dir, params, &cfg, out);
    else if (st == CLF_OK && spm) st = clf__spm_tok_load_file(path, params, out);
    else if (st == CLF_OK && bpe_files) st = load_bpe_files(dir, params, &cfg, out);
    else if (st == CLF_OK) st = clf__tokenizer_parse(data, size, json, file, params, &cfg, out);
    goto done;
oom:
    st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "tokenizer: out of host memory");
done:
    clf__free(data);
    clf__free(dir);
    clf__free(file);
    clf__tok_config_clear(&cfg);
    return st;
}
