/*
 * Generation settings of a HuggingFace folder (generation_config.json, or
 * config.json's generation keys) to clformer's clf_generate_params; see
 * gen_config.h. json-c parses (through hf_config.c's strict entry), this file
 * checks every key it uses: a value clformer would misread is an error at
 * load naming the file and the key, never a silent default.
 */
#include <json-c/json.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "model/gen_config.h"
#include "model/hf_config.h"

typedef struct gp {
    const char *file;
    char *err;
    size_t err_size;
    int64_t vocab;
} gp;

static clf_status fail(gp *p, clf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static clf_status fail(gp *p, clf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    st = clf__hf_failv(p->file, p->err, p->err_size, st, fmt, ap);
    va_end(ap);
    return st;
}

static const char *tname(json_object *v) { return json_type_to_name(json_object_get_type(v)); }

/* Key k of o; NULL when absent or JSON null (transformers writes unset keys
 * as null). */
static json_object *key(json_object *o, const char *k)
{
    json_object *v = NULL;
    return json_object_object_get_ex(o, k, &v) ? v : NULL;
}

/* An integer value x in [lo, hi] (k names it in messages). */
static clf_status int_val(gp *p, json_object *x, const char *k, int64_t lo, int64_t hi,
                          int64_t *v)
{
    if (!json_object_is_type(x, json_type_int))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not an integer", k, tname(x));
    errno = 0;
    int64_t n = json_object_get_int64(x);
    if (errno || n < lo || n > hi)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" = %s is outside %lld..%lld", k,
                    json_object_to_json_string(x), (long long)lo, (long long)hi);
    *v = n;
    return CLF_OK;
}

/* Integer key k, when present, into *v. */
static clf_status opt_int(gp *p, json_object *o, const char *k, int64_t lo, int64_t hi,
                          int64_t *v)
{
    json_object *x = key(o, k);
    return x ? int_val(p, x, k, lo, hi, v) : CLF_OK;
}

/* Number key k (an integer or a real), when present, finite in [lo, hi]. */
static clf_status opt_num(gp *p, json_object *o, const char *k, double lo, double hi, double *v)
{
    json_object *x = key(o, k);
    if (!x) return CLF_OK;
    if (!json_object_is_type(x, json_type_int) && !json_object_is_type(x, json_type_double))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not a number", k, tname(x));
    double d = json_object_get_double(x);
    if (!isfinite(d) || d < lo || d > hi)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" = %g is outside [%g, %g]", k, d, lo, hi);
    *v = d;
    return CLF_OK;
}

static clf_status opt_bool(gp *p, json_object *o, const char *k, bool *v)
{
    json_object *x = key(o, k);
    if (!x) return CLF_OK;
    if (!json_object_is_type(x, json_type_boolean))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not true or false", k, tname(x));
    *v = json_object_get_boolean(x);
    return CLF_OK;
}

/* A token id key: an integer in [0, vocab), or a list of exactly one (the
 * form transformers also accepts for EOS ids). *v stays when absent. */
static clf_status opt_id(gp *p, json_object *o, const char *k, int32_t *v)
{
    json_object *x = key(o, k);
    if (!x) return CLF_OK;
    if (json_object_is_type(x, json_type_array)) {
        size_t n = json_object_array_length(x);
        if (n != 1)
            return fail(p, n ? CLF_ERR_UNSUPPORTED : CLF_ERR_BAD_MODEL,
                        "\"%s\" lists %zu ids; clformer takes one", k, n);
        x = json_object_array_get_idx(x, 0);
    }
    int64_t id = 0;
    CLF_TRY(int_val(p, x, k, 0, p->vocab - 1, &id));
    *v = (int32_t)id;
    return CLF_OK;
}

/* bad_words_ids: a non-empty list of non-empty lists of ids. */
static clf_status bad_words(gp *p, json_object *o, clf__gen_config *g)
{
    const char *k = "bad_words_ids";
    json_object *x = key(o, k);
    if (!x) return CLF_OK;
    if (!json_object_is_type(x, json_type_array))
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" is a %s, not a list of lists", k, tname(x));
    size_t n = json_object_array_length(x), total = 0;
    if (n < 1 || n > CLF__MAX_BAD_WORDS)
        return fail(p, CLF_ERR_BAD_MODEL, "\"%s\" has %zu sequences (1..%d)", k, n,
                    CLF__MAX_BAD_WORDS);
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(x, i);
        size_t m = s && json_object_is_type(s, json_type_array) ? json_object_array_length(s) : 0;
        if (m < 1 || m > CLF__MAX_BAD_WORD_LEN)
            return fail(p, CLF_ERR_BAD_MODEL,
                        "\"%s\"[%zu] is not a list of 1..%d token ids", k, i,
                        CLF__MAX_BAD_WORD_LEN);
        total += m;
    }
    g->bad = clf__malloc(total * sizeof *g->bad);
    g->bad_lens = clf__malloc(n * sizeof *g->bad_lens);
    if (!g->bad || !g->bad_lens) return fail(p, CLF_ERR_OUT_OF_MEMORY, "out of memory");
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        json_object *s = json_object_array_get_idx(x, i);
        size_t m = json_object_array_length(s);
        for (size_t j = 0; j < m; j++) {
            char name[64];
            snprintf(name, sizeof name, "%s[%zu][%zu]", k, i, j);
            int64_t id = 0;
            CLF_TRY(int_val(p, json_object_array_get_idx(s, j), name, 0, p->vocab - 1, &id));
            g->bad[at++] = (int32_t)id;
        }
        g->bad_lens[i] = (int32_t)m;
    }
    g->p.bad_words_ids = g->bad;
    g->p.bad_words_lengths = g->bad_lens;
    g->p.n_bad_words = (int64_t)n;
    return CLF_OK;
}

static clf_status early_stopping(gp *p, json_object *o, clf_early_stopping *v)
{
    json_object *x = key(o, "early_stopping");
    if (!x) return CLF_OK;
    if (json_object_is_type(x, json_type_boolean)) {
        *v = json_object_get_boolean(x) ? CLF_EARLY_STOPPING_ON : CLF_EARLY_STOPPING_HEURISTIC;
        return CLF_OK;
    }
    if (json_object_is_type(x, json_type_string) && !strcmp(json_object_get_string(x), "never")) {
        *v = CLF_EARLY_STOPPING_NEVER;
        return CLF_OK;
    }
    return fail(p, CLF_ERR_BAD_MODEL, "\"early_stopping\" = %s is not true, false or \"never\"",
                json_object_to_json_string(x));
}

void clf__gen_config_init(clf__gen_config *g)
{
    memset(g, 0, sizeof *g);
    g->p = clf_generate_params_default();
    g->start_id = g->eos_id = -2;
}

void clf__gen_config_clear(clf__gen_config *g)
{
    if (!g) return;
    clf__free(g->bad);
    clf__free(g->bad_lens);
    clf__gen_config_init(g);
}

/* The keys into g->p, over transformers' global defaults. */
static clf_status read_keys(gp *p, json_object *o, bool gen_file, clf__gen_config *g)
{
    clf_generate_params *q = &g->p;
    bool sample = false;
    int64_t beams = 1, ret = 1, max_new = 0, max_len = 20, v = 0;
    double d = 0;
    const int64_t BIG = INT32_MAX;
    CLF_TRY(opt_bool(p, o, "do_sample", &sample));
    CLF_TRY(opt_int(p, o, "num_beams", 1, 65536, &beams));
    CLF_TRY(opt_int(p, o, "num_return_sequences", 1, 65536, &ret));
    CLF_TRY(opt_int(p, o, "max_new_tokens", 1, BIG, &max_new));
    CLF_TRY(opt_int(p, o, "max_length", 1, BIG, &max_len));
    CLF_TRY(opt_int(p, o, "min_length", 0, BIG, &q->min_length));
    CLF_TRY(opt_int(p, o, "min_new_tokens", 0, BIG, &q->min_new_tokens));
    CLF_TRY(opt_int(p, o, "no_repeat_ngram_size", 0, BIG, &v));
    q->no_repeat_ngram_size = (int)v;
    d = 1.0;
    CLF_TRY(opt_num(p, o, "repetition_penalty", 1e-30, 1e30, &d));
    q->repetition_penalty = d == 1.0 ? 0.0f : (float)d;
    d = 1.0;
    CLF_TRY(opt_num(p, o, "length_penalty", -1e30, 1e30, &d));
    q->length_alpha = d == 0.0 ? DBL_MIN : d;
    CLF_TRY(early_stopping(p, o, &q->early_stopping));
    d = 1.0;
    CLF_TRY(opt_num(p, o, "temperature", 0, 1e30, &d));
    q->temperature = d == 1.0 ? 0.0f : (float)d;
    v = 50;
    CLF_TRY(opt_int(p, o, "top_k", 0, BIG, &v));
    q->top_k = sample ? (int)v : 0;
    d = 1.0;
    CLF_TRY(opt_num(p, o, "top_p", 0, 1, &d));
    q->top_p = d >= 1.0 ? 0.0f : (float)d;
    if (q->top_p == 0 && d < 1.0)
        return fail(p, CLF_ERR_BAD_MODEL, "\"top_p\" = 0 keeps no token");
    int32_t id = -1;
    CLF_TRY(opt_id(p, o, "forced_bos_token_id", &id));
    q->force_bos = id >= 0;
    q->forced_bos_token_id = id >= 0 ? id : 0;
    id = -1;
    CLF_TRY(opt_id(p, o, "forced_eos_token_id", &id));
    q->force_eos = id >= 0;
    q->forced_eos_token_id = id >= 0 ? id : 0;
    CLF_TRY(bad_words(p, o, g));
    if (gen_file) {
        CLF_TRY(opt_id(p, o, "decoder_start_token_id", &g->start_id));
        CLF_TRY(opt_id(p, o, "eos_token_id", &g->eos_id));
    }
    q->strategy = sample ? CLF_DECODE_SAMPLE : beams > 1 ? CLF_DECODE_BEAM : CLF_DECODE_GREEDY;
    q->beam_size = (int)beams;
    q->n_best = (int)ret;
    q->max_new_tokens = max_new; /* 0: max_length applies (model.h) */
    q->max_length = max_new ? 0 : max_len;
    q->beam_rule = CLF_BEAM_RULE_HF;
    return CLF_OK;
}

clf_status clf__gen_config_parse(const char *text, size_t len, const char *file, bool gen_file,
                                 int64_t vocab, clf__gen_config *out, char *err, size_t err_size)
{
    clf__gen_config_init(out);
    gp p = {file, err, err_size, vocab};
    json_object *o = NULL;
    CLF_TRY(clf__hf_parse_json(file, text, len, &o, err, err_size));
    clf_status s = json_object_is_type(o, json_type_object)
                       ? read_keys(&p, o, gen_file, out)
                       : fail(&p, CLF_ERR_BAD_MODEL, "the JSON value is a %s, not an object",
                              tname(o));
    json_object_put(o);
    if (s != CLF_OK) clf__gen_config_clear(out);
    return s;
}

clf_status clf__gen_config_load(clf_context *ctx, const char *dir, int64_t vocab,
                                clf__gen_config *out)
{
    clf__gen_config_init(out);
    static const char *const files[2] = {"generation_config.json", "config.json"};
    for (int f = 0; f < 2; f++) {
        char path[4096], msg[4200], err[600];
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, files[f]) >= sizeof path)
            return clf__error(ctx, CLF_ERR_IO, "clf_model_load: %s/%s: path too long", dir,
                              files[f]);
        char *text = NULL;
        size_t len = 0;
        clf_status s = clf__file_read_all(path, CLF__HF_MAX_JSON, &text, &len, msg, sizeof msg);
        if (s == CLF_ERR_NOT_FOUND && f == 0) continue; /* no generation_config.json */
        if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s", msg);
        s = clf__gen_config_parse(text, len, files[f], f == 0, vocab, out, err, sizeof err);
        clf__free(text);
        if (s != CLF_OK) return clf__error(ctx, s, "clf_model_load: %s/%s", dir, err);
        return CLF_OK;
    }
    return CLF_OK;
}
