/*
 * Tokenizer files: vocab.txt, HF tokenizer.json (WordPiece models only), and
 * the tokenizer_config.json / special_tokens_map.json beside them. Every
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
    cfg->clean_text = 1;
}

void clf__tok_config_clear(clf__tok_config *cfg)
{
    for (int i = 0; i < CLF__TOK_N_SPECIAL; i++)
        clf__free(cfg->special[i]);
    clf__tok_config_init(cfg);
}

/* Parses a whole JSON text; the root must be an object. */
static clf_status parse_json(const char *data, size_t size, const char *name, json_object **out)
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

static const char *const special_keys[CLF__TOK_N_SPECIAL] = {"pad_token", "unk_token", "cls_token",
                                                             "sep_token", "mask_token"};

clf_status clf__tok_config_parse(const char *data, size_t size, const char *name,
                                 clf__tok_config *cfg)
{
    json_object *root;
    CLF_TRY(parse_json(data, size, name, &root));
    clf_status st = get_bool(root, "do_lower_case", name, &cfg->lowercase);
    if (st == CLF_OK) st = get_bool(root, "strip_accents", name, &cfg->strip_accents);
    if (st == CLF_OK) st = get_bool(root, "tokenize_chinese_chars", name, &cfg->chinese);
    json_object *x;
    /* HF writes 1e30 ("no limit") as a float: only a sane integer counts. */
    if (st == CLF_OK && json_object_object_get_ex(root, "model_max_length", &x) &&
        json_object_is_type(x, json_type_int)) {
        int64_t v = json_object_get_int64(x);
        if (v > 0 && v <= 1000000) cfg->max_length = v;
    }
    for (int i = 0; st == CLF_OK && i < CLF__TOK_N_SPECIAL; i++) {
        if (!json_object_object_get_ex(root, special_keys[i], &x) || !x) continue;
        json_object *c = x;
        /* A special token is a string or an AddedToken object {"content": ...}. */
        if (json_object_is_type(x, json_type_object) &&
            !json_object_object_get_ex(x, "content", &c))
            c = NULL;
        if (!c || !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0 ||
            (size_t)json_object_get_string_len(c) != strlen(json_object_get_string(c))) {
            st = clf__error(NULL, CLF_ERR_BAD_MODEL,
                            "%s: \"%s\" is not a non-empty string or {\"content\": string}", name,
                            special_keys[i]);
            break;
        }
        char *s = clf__strdup(json_object_get_string(c));
        if (!s) {
            st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
            break;
        }
        clf__free(cfg->special[i]);
        cfg->special[i] = s;
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

static clf_status json_vocab(json_object *vocab, const char *name, clf_tokenizer **out)
{
    size_t n = (size_t)json_object_object_length(vocab), bytes = 0;
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
    clf_tokenizer *t;
    clf_status st = clf__tok_alloc((int32_t)n, bytes, &t);
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
    /* n distinct ids in 0..n-1: no holes are possible now. */
    if ((st = clf__tok_index(t, name)) != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

static const char *type_of(json_object *o)
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
        const char *ty = type_of(norm);
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
    const char *pty = type_of(pre);
    if (!pty || strcmp(pty, "BertPreTokenizer") != 0)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: pre_tokenizer \"%.64s\" is not "
                          "supported (only BertPreTokenizer)",
                          name, pty ? pty : "null");
    return CLF_OK;
}

/* added_tokens entries that are in the vocabulary with the same id. */
static clf_status json_added(json_object *root, const char *name, const clf_tokenizer *t,
                             int32_t **ids, int32_t *n_ids)
{
    json_object *arr;
    *ids = NULL;
    *n_ids = 0;
    if (!json_object_object_get_ex(root, "added_tokens", &arr) || !arr) return CLF_OK;
    if (!json_object_is_type(arr, json_type_array))
        return clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: \"added_tokens\" is not an array", name);
    size_t n = json_object_array_length(arr);
    if (n > (size_t)t->n_vocab)
        return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                          "%s: %zu added tokens beyond the vocabulary "
                          "are not supported",
                          name, n);
    *ids = clf__malloc((n ? n : 1) * sizeof **ids);
    if (!*ids) return clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
    for (size_t i = 0; i < n; i++) {
        json_object *e = json_object_array_get_idx(arr, i), *c, *idv;
        if (!e || !json_object_is_type(e, json_type_object) ||
            !json_object_object_get_ex(e, "content", &c) ||
            !json_object_is_type(c, json_type_string) ||
            !json_object_object_get_ex(e, "id", &idv) || !json_object_is_type(idv, json_type_int))
            return clf__error(NULL, CLF_ERR_BAD_MODEL,
                              "%s: added_tokens[%zu] lacks a string "
                              "\"content\" or an integer \"id\"",
                              name, i);
        int64_t id = json_object_get_int64(idv);
        const char *s = json_object_get_string(c);
        if (id < 0 || id >= t->n_vocab || strcmp(t->tokens[id], s) != 0 ||
            (size_t)json_object_get_string_len(c) != strlen(s))
            return clf__error(NULL, CLF_ERR_UNSUPPORTED,
                              "%s: added_tokens[%zu] \"%.64s\" (id "
                              "%lld) is not the vocabulary's entry; added tokens outside the "
                              "vocabulary are not supported",
                              name, i, s, (long long)id);
        (*ids)[(*n_ids)++] = (int32_t)id;
    }
    return CLF_OK;
}

static clf_status parse_tokenizer_json(const char *data, size_t size, const char *name,
                                       const clf_tokenizer_params *p, const clf__tok_config *cfg0,
                                       clf_tokenizer **out)
{
    json_object *root, *model, *vocab, *x;
    CLF_TRY(parse_json(data, size, name, &root));
    clf_tokenizer *t = NULL;
    int32_t *added = NULL, n_added = 0;
    clf__tok_config cfg;
    clf__tok_config_init(&cfg);
    clf_status st = CLF_OK;
    if (cfg0) {
        cfg.max_length = cfg0->max_length;
        for (int i = 0; i < CLF__TOK_N_SPECIAL; i++)
            if (cfg0->special[i] && !(cfg.special[i] = clf__strdup(cfg0->special[i]))) {
                st = clf__error(NULL, CLF_ERR_OUT_OF_MEMORY, "%s: out of host memory", name);
                goto done;
            }
    }
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
    if (strcmp(json_object_get_string(x), "WordPiece") != 0) {
        st = clf__error(NULL, CLF_ERR_UNSUPPORTED,
                        "%s: model type \"%.32s\" is not supported: only WordPiece is; "
                        "SentencePiece/BPE vocabularies take token ids at the API for now",
                        name, json_object_get_string(x));
        goto done;
    }
    if (!json_object_object_get_ex(model, "vocab", &vocab) ||
        !json_object_is_type(vocab, json_type_object)) {
        st = clf__error(NULL, CLF_ERR_BAD_MODEL, "%s: no \"model\".\"vocab\" object", name);
        goto done;
    }
    if ((st = json_vocab(vocab, name, &t)) != CLF_OK) goto done;
    if ((st = json_settings(root, model, name, t, &cfg)) != CLF_OK) goto done;
    if ((st = json_added(root, name, t, &added, &n_added)) != CLF_OK) goto done;
    st = clf__tok_finish(t, name, p, &cfg, added, n_added);
done:
    json_object_put(root);
    clf__free(added);
    clf__tok_config_clear(&cfg);
    if (st != CLF_OK) {
        clf_tokenizer_free(t);
        return st;
    }
    *out = t;
    return CLF_OK;
}

clf_status clf__tokenizer_parse(const char *data, size_t size, bool json, const char *name,
                                const clf_tokenizer_params *params, const clf__tok_config *cfg,
                                clf_tokenizer **out)
{
    *out = NULL;
    if (json) return parse_tokenizer_json(data, size, name, params, cfg, out);
    clf_tokenizer *t = NULL;
    clf_status st = parse_vocab_txt(data, size, name, &t);
    if (st == CLF_OK) st = clf__tok_finish(t, name, params, cfg, NULL, 0);
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
    if (st == CLF_OK) st = parse_json(data, size, path, &root);
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
    bool json;
    if (S_ISDIR(sb.st_mode)) {
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
            /* NOT_FOUND, not IO: callers tell a model without a WordPiece
             * vocabulary (it takes token ids) from a vocabulary that is
             * there but unreadable or corrupt. */
            if (st == CLF_ERR_NOT_FOUND)
                st = clf__error(NULL, CLF_ERR_NOT_FOUND,
                                "%s: the folder has neither tokenizer.json nor vocab.txt", path);
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
        json = ends_with(path, ".json");
        st = read_file(file, &data, &size, false);
    }
    if (st == CLF_OK) st = read_config(dir, "special_tokens_map.json", &cfg);
    if (st == CLF_OK) st = read_config(dir, "tokenizer_config.json", &cfg);
    if (st == CLF_OK) st = read_st_max_length(dir, &cfg);
    if (st == CLF_OK) st = clf__tokenizer_parse(data, size, json, file, params, &cfg, out);
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
