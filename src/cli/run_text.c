/*
 * The text side of `clformer run generate / translate` (run_text.h): the
 * generation settings, decoding of results and streaming.
 */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/run_text.h"

clf_status cli_gen_settings(const cli_run_opts *o, const clf_model *m, clf_generate_params *g)
{
    clf_status st = clf_model_generate_defaults(m, g);
    if (st != CLF_OK) return st;
    const clf_generate_params *c = &o->gen;
    if (o->gen_set & CLI_SET_MAX_NEW) {
        g->max_new_tokens = c->max_new_tokens;
        g->max_length = 0;
    } else if (g->max_new_tokens == 0 && g->max_length == 0) {
        g->max_new_tokens = 32;
    }
    if (o->gen_set & CLI_SET_STRATEGY) {
        /* --beam 1 is greedy search, as num_beams=1 is in transformers. */
        bool beam = c->strategy == CLF_DECODE_BEAM && c->beam_size > 1;
        g->strategy = beam                               ? CLF_DECODE_BEAM
                      : c->strategy == CLF_DECODE_SAMPLE ? CLF_DECODE_SAMPLE
                                                         : CLF_DECODE_GREEDY;
        g->beam_size = beam ? c->beam_size : g->beam_size;
    } else if (o->translate && g->strategy == CLF_DECODE_GREEDY) {
        g->strategy = CLF_DECODE_BEAM;
        g->beam_size = 4;
    }
    if (o->gen_set & CLI_SET_TEMPERATURE) g->temperature = c->temperature;
    if (o->gen_set & CLI_SET_TOP_K) g->top_k = c->top_k;
    if (o->gen_set & CLI_SET_TOP_P) g->top_p = c->top_p;
    g->seed = c->seed;
    g->ignore_eos = c->ignore_eos;
    g->n_best = 1;
    return CLF_OK;
}

int64_t cli_gen_max_new(const clf_generate_params *g, int64_t prompt_len)
{
    if (g->max_new_tokens > 0) return g->max_new_tokens;
    if (g->max_length > 0) return g->max_length - prompt_len > 1 ? g->max_length - prompt_len : 1;
    return 16; /* the library's meaning of 0 (model.h) */
}

/* decode(ids) with special tokens skipped, into a new buffer. */
static int decode_new(const clf_tokenizer *tok, const int32_t *ids, int64_t n, char **text,
                      size_t *len)
{
    *text = NULL;
    clf_status st = clf_tokenizer_decode(tok, ids, n, CLF_DECODE_SKIP_SPECIAL, NULL, 0, len);
    if (st != CLF_OK && st != CLF_ERR_OUT_OF_RANGE)
        return cli_fail("decode", st, clf_context_last_error(NULL));
    *text = malloc(*len + 1);
    if (!*text) return cli_fail("decode", CLF_ERR_OUT_OF_MEMORY, "the generated text");
    st = clf_tokenizer_decode(tok, ids, n, CLF_DECODE_SKIP_SPECIAL, *text, *len + 1, len);
    if (st != CLF_OK) {
        free(*text);
        *text = NULL;
        return cli_fail("decode", st, clf_context_last_error(NULL));
    }
    return 0;
}

int cli_result_text(const clf_tokenizer *tok, const char *prompt_text, const int32_t *prompt,
                    int64_t n_prompt, const int32_t *ids, int64_t n_ids, char **text, size_t *len)
{
    if (!prompt) return decode_new(tok, ids, n_ids, text, len);
    int32_t *all = malloc((size_t)(n_prompt + n_ids + 1) * sizeof *all);
    if (!all) return cli_fail("decode", CLF_ERR_OUT_OF_MEMORY, "the generated text");
    memcpy(all, prompt, (size_t)n_prompt * sizeof *all);
    memcpy(all + n_prompt, ids, (size_t)n_ids * sizeof *all);
    char *full = NULL, *head = NULL;
    size_t n_full = 0, n_head = 0;
    int rc = decode_new(tok, all, n_prompt + n_ids, &full, &n_full);
    if (rc == 0) rc = decode_new(tok, prompt, n_prompt, &head, &n_head);
    free(all);
    if (rc == 0) {
        /* The pipeline cuts by the prompt's decoded length (it may differ
         * from prompt_text: a dropped unknown byte, a normalisation). */
        size_t cut = n_head < n_full ? n_head : n_full, np = strlen(prompt_text);
        *len = np + n_full - cut;
        *text = malloc(*len + 1);
        if (!*text)
            rc = cli_fail("decode", CLF_ERR_OUT_OF_MEMORY, "the generated text");
        else {
            memcpy(*text, prompt_text, np);
            memcpy(*text + np, full + cut, n_full - cut);
            (*text)[*len] = '\0';
        }
    }
    free(full);
    free(head);
    return rc;
}

int cli_stream_begin(cli_stream *s, const clf_tokenizer *tok, FILE *out, const char *prompt_text,
                     const int32_t *prompt, int64_t n_prompt)
{
    memset(s, 0, sizeof *s);
    s->out = out;
    clf_status st = clf_detokenizer_create(tok, CLF_DECODE_SKIP_SPECIAL, &s->d);
    if (st != CLF_OK) return cli_fail("decode", st, clf_context_last_error(NULL));
    for (int64_t i = 0; prompt && i < n_prompt; i++) {
        const char *piece;
        size_t n;
        if ((st = clf_detokenizer_push(s->d, prompt[i], &piece, &n)) != CLF_OK) {
            clf_detokenizer_free(s->d);
            s->d = NULL;
            return cli_fail("decode", st, clf_context_last_error(NULL));
        }
    }
    if (prompt) fputs(prompt_text, out);
    fflush(out);
    return 0;
}

void cli_stream_token(void *user, int64_t seq, int64_t step, int32_t token)
{
    (void)seq;
    (void)step;
    cli_stream *s = user;
    const char *piece;
    size_t n;
    if (s->failed) return;
    if (clf_detokenizer_push(s->d, token, &piece, &n) != CLF_OK) {
        s->failed = true;
        return;
    }
    fwrite(piece, 1, n, s->out);
    fflush(s->out);
}

int cli_stream_end(cli_stream *s)
{
    const char *piece;
    size_t n;
    int rc = 0;
    if (s->failed)
        rc = cli_fail("decode", CLF_ERR_INVALID_ARG, clf_context_last_error(NULL));
    else if (clf_detokenizer_flush(s->d, &piece, &n) == CLF_OK)
        fwrite(piece, 1, n, s->out);
    else
        rc = cli_fail("decode", CLF_ERR_OUT_OF_MEMORY, clf_context_last_error(NULL));
    fputc('\n', s->out);
    fflush(s->out);
    clf_detokenizer_free(s->d);
    s->d = NULL;
    return rc;
}
