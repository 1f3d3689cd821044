/*
 * Continuous batching (include/clformer/batch.h): live generations of one
 * decoder-only model, each on its own cache row for its whole life,
 * advanced together. A batch owns its cache and one graph:
 *   kv    (2L, rows, cap, D): row r holds the K/V of the sequence on row r;
 *   step  the token step (stack.c, clf__step_state.tokens): its rows are
 *         tokens, not sequences. A step's tokens are every running
 *         sequence's last token, then the prompt ids of joining sequences
 *         (in the order they were added, as many as the step's token budget
 *         leaves: a long prompt is prefilled over several steps). Token i
 *         goes in at its own position positions[i], writes its K/V into
 *         cache row rows[i] there and attends to keys [0, key_lens[i]) of
 *         that row (through the cache-row table); only the rows `last` (a
 *         running sequence's token, a prompt's final id) go on to the LM
 *         head. So a step is one pass over the weights however many
 *         sequences run or join, with no padding and no cache copies, and
 *         one host read of the chosen tokens.
 */
#include <string.h>

#include <clformer/batch.h>

#include "model/logits_proc.h"
#include "model/model_internal.h"
#include "runtime/runtime.h" /* the contexts' thread guard */

typedef struct bseq {
    bool used;         /* the row is taken */
    int64_t n_done;    /* prompt ids prefilled so far; < n_prompt: still joining */
    int64_t id, order; /* order: when it was added (new ones are reported in that order) */
    int32_t *prompt;   /* (n_prompt) */
    int64_t n_prompt;
    int32_t *toks; /* (max_new) generated */
    int64_t n_gen, max_new;
    clf_finish_reason at_limit;
    int32_t eos; /* -1 = none */
    clf_generate_params p;
    uint64_t rng;
    clf__procs pr;
} bseq;

struct clf_batch {
    clf_model *m;
    int64_t rows, cap, budget; /* budget: tokens per step */
    clf_tensor kv;
    clf__step step; /* g NULL until the first step */
    bseq *seq;      /* (rows) */
    int64_t next_id, n_live;
    int32_t *h_ids, *h_pos, *h_lens, *h_rows; /* (budget) step staging, one per token */
    int32_t *h_crows;                         /* (budget, cap) the cache-row table */
    int32_t *h_last;                          /* (rows) tokens that go on to the LM head */
    int64_t *out_row;                         /* (rows) the row of each of those */
    int64_t *chunk;                           /* (rows) prompt ids a row feeds this step */
    int64_t *join;                            /* (rows) joining rows, in the order added */
    float *logits;                            /* (rows, V) */
    int32_t *am;                              /* (rows) */
    clf__cand *tmp;                           /* (V) sampling scratch */
    float *row;                               /* (V) one processed row */
};

clf_batch_params clf_batch_params_default(void)
{
    clf_batch_params p;
    memset(&p, 0, sizeof p);
    return p;
}

int64_t clf_batch_live(const clf_batch *b) { return b ? b->n_live : 0; }

static void seq_clear(bseq *s)
{
    clf__free(s->prompt);
    clf__free(s->toks);
    clf__procs_free(&s->pr);
    memset(s, 0, sizeof *s);
}

void clf_batch_free(clf_batch *b)
{
    if (!b) return;
    for (int64_t r = 0; b->seq && r < b->rows; r++)
        seq_clear(&b->seq[r]);
    clf_graph_free(b->step.g);
    clf_tensor_free(&b->kv);
    void *host[] = {b->seq,  b->h_ids,   b->h_pos,  b->h_lens, b->h_rows,
                    b->h_crows, b->h_last, b->out_row, b->chunk, b->join,
                    b->logits, b->am,      b->tmp,    b->row};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) clf__free(host[i]);
    clf__free(b);
}

static clf_status batch_create_body(clf_model *m, const clf_batch_params *params, clf_batch **out)
{
    static const char fn[] = "clf_batch_create";
    if (out) *out = NULL;
    if (!m || !out) return clf__error(m ? m->ctx : NULL, CLF_ERR_INVALID_ARG, "%s: NULL model or out", fn);
    clf_context *ctx = m->ctx;
    if (m->cfg.kind == CLF_MODEL_ENCODER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: an encoder-only model cannot generate", fn);
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: continuous batching supports decoder-only models only (an "
                          "encoder-decoder batch, with per-row cross K/V, is not built yet)",
                          fn);
    clf_batch_params p = params ? *params : clf_batch_params_default();
    int64_t rows = p.max_rows ? p.max_rows : 16, cap = p.max_len ? p.max_len : m->max_tgt;
    if (rows < 1 || rows > 256)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: max_rows %lld outside 1..256", fn,
                          (long long)p.max_rows);
    if (cap < 1 || cap > ((int64_t)1 << 24))
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: max_len %lld outside 1..16777216", fn,
                          (long long)p.max_len);
    int64_t budget = p.max_step_tokens ? p.max_step_tokens : rows > 256 ? rows : 256;
    if (budget < rows || budget > 65536)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: max_step_tokens %lld outside max_rows (%lld)..65536 (every running "
                          "sequence feeds one token a step)",
                          fn, (long long)p.max_step_tokens, (long long)rows);
    if (budget * cap > ((int64_t)1 << 28))
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "%s: max_step_tokens %lld x max_len %lld is too large (the cache-row "
                          "table of a step holds one entry per token and position)",
                          fn, (long long)budget, (long long)cap);
    clf_batch *b = clf__calloc(1, sizeof *b);
    if (!b) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    b->m = m;
    b->rows = rows;
    b->cap = cap;
    b->budget = budget;
    int64_t V = m->cfg.vocab;
    size_t nb = (size_t)budget, nr = (size_t)rows;
    b->seq = clf__calloc(nr, sizeof *b->seq);
    b->h_ids = clf__malloc(nb * sizeof *b->h_ids);
    b->h_pos = clf__malloc(nb * sizeof *b->h_pos);
    b->h_lens = clf__malloc(nb * sizeof *b->h_lens);
    b->h_rows = clf__malloc(nb * sizeof *b->h_rows);
    b->h_crows = clf__malloc(nb * (size_t)cap * sizeof *b->h_crows);
    b->h_last = clf__malloc(nr * sizeof *b->h_last);
    b->out_row = clf__malloc(nr * sizeof *b->out_row);
    b->chunk = clf__malloc(nr * sizeof *b->chunk);
    b->join = clf__malloc(nr * sizeof *b->join);
    b->logits = clf__malloc(nr * (size_t)V * sizeof *b->logits);
    b->am = clf__malloc(nr * sizeof *b->am);
    b->tmp = clf__malloc((size_t)V * sizeof *b->tmp);
    b->row = clf__malloc((size_t)V * sizeof *b->row);
    clf_status st = CLF_OK;
    if (!b->seq || !b->h_ids || !b->h_pos || !b->h_lens || !b->h_rows || !b->h_crows ||
        !b->h_last || !b->out_row || !b->chunk || !b->join || !b->logits || !b->am || !b->tmp ||
        !b->row)
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    int64_t L2 = 2 * (int64_t)m->cfg.decoder_layers, D = m->cfg.d_model;
    int64_t ks[4] = {L2, rows, cap, D};
    if (st == CLF_OK) st = clf_tensor_create(ctx, CLF_F32, 4, ks, &b->kv);
    /* Zeroed: a row's keys past its length are masked, but must be finite. */
    if (st == CLF_OK) st = clf_tensor_fill(ctx, &b->kv, 0.0f);
    if (st != CLF_OK) {
        clf_batch_free(b);
        return st;
    }
    *out = b;
    return CLF_OK;
}

clf_status clf_batch_create(clf_model *m, const clf_batch_params *params, clf_batch **out)
{
    CLF__GUARDED2(m ? m->ctx : NULL, m ? m->ectx : NULL, "clf_batch_create",
                  batch_create_body(m, params, out));
}

/* ================================ add ================================ */

static clf_status batch_add_body(clf_batch *b, const int32_t *ids, int64_t n,
                                 const clf_generate_params *params, int64_t *seq)
{
    static const char fn[] = "clf_batch_add";
    clf_model *m = b->m;
    clf_context *ctx = m->ctx;
    if (!ids || !seq) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: NULL ids or seq", fn);
    if (n < 1) return clf__error(ctx, CLF_ERR_INVALID_ARG, "%s: n = %lld < 1", fn, (long long)n);
    clf_generate_params p = params ? *params : clf_generate_params_default();
    if (p.strategy == CLF_DECODE_BEAM)
        return clf__error(ctx, CLF_ERR_UNSUPPORTED,
                          "%s: beam search is not available inside a batch (greedy or sampling)",
                          fn);
    CLF_TRY(clf__check_generate_params(m, &p));
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= m->cfg.vocab)
            return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                              "%s: prompt id %d at index %lld is outside the vocabulary [0, %lld)",
                              fn, (int)ids[i], (long long)i, (long long)m->cfg.vocab);
    int64_t r = 0;
    while (r < b->rows && b->seq[r].used) r++;
    if (r == b->rows)
        return clf__error(ctx, CLF_ERR_OUT_OF_RANGE,
                          "%s: the batch is full (%lld live sequences, max_rows); step until one "
                          "finishes or remove one",
                          fn, (long long)b->rows);
    /* As clf_model_generate: max_new_tokens (or max_length), cut to the
     * model's positions. */
    int64_t stride = p.max_new_tokens > 0 ? p.max_new_tokens : 16;
    if (p.max_new_tokens == 0 && p.max_length > 0) stride = p.max_length - n > 1 ? p.max_length - n : 1;
    int64_t fit = clf_model_max_new_tokens(m, n);
    if (fit < 1)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: a prompt of %lld ids leaves no position of the model's %lld for a "
                          "new token",
                          fn, (long long)n, (long long)(n + (fit > 0 ? fit : 0)));
    int64_t max_new = fit < stride ? fit : stride;
    if (n + max_new - 1 > b->cap)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "%s: a prompt of %lld ids and %lld new tokens need %lld cache positions; "
                          "the batch has max_len %lld",
                          fn, (long long)n, (long long)max_new, (long long)(n + max_new - 1),
                          (long long)b->cap);
    bseq *s = &b->seq[r];
    memset(s, 0, sizeof *s);
    s->p = p;
    s->prompt = clf__malloc((size_t)n * sizeof *s->prompt);
    s->toks = clf__malloc((size_t)max_new * sizeof *s->toks);
    clf_status st = clf__procs_init(&s->pr, &s->p, m->cfg.vocab, m->cfg.eos_id, n + max_new);
    if (st == CLF_OK && (!s->prompt || !s->toks))
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    if (st != CLF_OK) {
        seq_clear(s);
        return st;
    }
    memcpy(s->prompt, ids, (size_t)n * sizeof *ids);
    s->n_prompt = n;
    s->max_new = max_new;
    s->at_limit = max_new < stride ? CLF_FINISH_POSITIONS : CLF_FINISH_MAX_NEW;
    s->eos = p.ignore_eos ? -1 : m->cfg.eos_id;
    s->rng = p.seed;
    s->used = true;
    s->id = s->order = b->next_id++;
    b->n_live++;
    *seq = s->id;
    return CLF_OK;
}

clf_status clf_batch_add(clf_batch *b, const int32_t *ids, int64_t n, const clf_generate_params *p,
                         int64_t *seq)
{
    if (!b) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_batch_add: NULL batch");
    CLF__GUARDED2(b->m->ctx, b->m->ectx, "clf_batch_add", batch_add_body(b, ids, n, p, seq));
}

static clf_status batch_remove_body(clf_batch *b, int64_t seq)
{
    for (int64_t r = 0; r < b->rows; r++)
        if (b->seq[r].used && b->seq[r].id == seq) {
            seq_clear(&b->seq[r]);
            b->n_live--;
            return CLF_OK;
        }
    return clf__error(b->m->ctx, CLF_ERR_NOT_FOUND,
                      "clf_batch_remove: sequence %lld is not live in this batch", (long long)seq);
}

clf_status clf_batch_remove(clf_batch *b, int64_t seq)
{
    if (!b) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_batch_remove: NULL batch");
    CLF__GUARDED2(b->m->ctx, b->m->ectx, "clf_batch_remove", batch_remove_body(b, seq));
}

/* ================================ step ================================ */

/* Lowest id of the largest score (the device argmax's rule). */
static int32_t host_argmax(const float *x, int64_t V)
{
    int64_t best = 0;
    for (int64_t v = 1; v < V; v++)
        if (x[v] > x[best]) best = v;
    return (int32_t)best;
}

/* Whether sequence s chooses from the logits on the host (sampling or
 * processors) rather than the device argmax. */
static bool needs_logits(const bseq *s) { return s->p.strategy != CLF_DECODE_GREEDY || s->pr.on; }

/* The next token of s from its logits row x (V), or the device argmax am. */
static int32_t choose(clf_batch *b, bseq *s, const float *x, int32_t am)
{
    int64_t V = b->m->cfg.vocab;
    if (!needs_logits(s)) return am;
    const float *y = x;
    if (s->pr.on) {
        memcpy(b->row, x, (size_t)V * sizeof *x);
        clf__procs_apply(&s->pr, s->prompt, s->n_prompt, s->toks, s->n_gen, b->row);
        y = b->row;
    }
    if (s->p.strategy == CLF_DECODE_GREEDY) return host_argmax(y, V);
    return clf__sample(&s->p, y, V, b->tmp, &s->rng);
}

/* Records token tok of the sequence on row r into out; a finished sequence
 * leaves (its row is free). */
static void emit(clf_batch *b, int64_t r, int32_t tok, clf_batch_token *out)
{
    bseq *s = &b->seq[r];
    s->toks[s->n_gen] = tok;
    out->seq = s->id;
    out->row = r;
    out->index = s->n_gen++;
    out->token = tok;
    out->finish = s->eos >= 0 && tok == s->eos ? CLF_FINISH_EOS
                  : s->n_gen == s->max_new    ? s->at_limit
                                              : CLF_FINISH_NONE;
    if (s->p.on_token) s->p.on_token(s->p.user, s->id, out->index, tok);
    if (out->finish != CLF_FINISH_NONE) {
        seq_clear(s);
        b->n_live--;
    }
}

static bool joining(const bseq *s) { return s->used && s->n_done < s->n_prompt; }

/* Appends token id at position pos of row r to the step's staging. */
static void put(clf_batch *b, int64_t *T, int32_t id, int64_t pos, int64_t r)
{
    b->h_ids[*T] = id;
    b->h_pos[*T] = (int32_t)pos;
    b->h_lens[*T] = (int32_t)(pos + 1);
    b->h_rows[*T] = (int32_t)r;
    (*T)++;
}

/* Plans a step into the staging: the running sequences' tokens (by row),
 * then the joining ones' prompt ids in the order they were added, up to the
 * budget. *T tokens, *n_out of them to the LM head (b->h_last, b->out_row),
 * *n_join joining rows (b->join) of which b->chunk says how many ids each
 * feeds, *Tk the longest key length. */
static void plan(clf_batch *b, int64_t *T, int64_t *n_out, int64_t *n_join, int64_t *Tk)
{
    *T = *n_out = *n_join = 0;
    for (int64_t r = 0; r < b->rows; r++) {
        const bseq *s = &b->seq[r];
        if (!s->used || joining(s)) continue;
        put(b, T, s->toks[s->n_gen - 1], s->n_prompt + s->n_gen - 1, r);
        b->h_last[*n_out] = (int32_t)(*T - 1);
        b->out_row[(*n_out)++] = r;
    }
    for (;;) { /* joining rows by order (insertion: at most max_rows of them) */
        int64_t next = -1;
        for (int64_t r = 0; r < b->rows; r++) {
            bool taken = false;
            for (int64_t k = 0; k < *n_join && !taken; k++) taken = b->join[k] == r;
            if (joining(&b->seq[r]) && !taken &&
                (next < 0 || b->seq[r].order < b->seq[next].order))
                next = r;
        }
        if (next < 0) break;
        b->join[(*n_join)++] = next;
    }
    for (int64_t k = 0; k < *n_join; k++) {
        int64_t r = b->join[k];
        const bseq *s = &b->seq[r];
        int64_t c = s->n_prompt - s->n_done;
        if (c > b->budget - *T) c = b->budget - *T;
        b->chunk[r] = c;
        for (int64_t i = 0; i < c; i++) put(b, T, s->prompt[s->n_done + i], s->n_done + i, r);
        if (c > 0 && s->n_done + c == s->n_prompt) {
            b->h_last[*n_out] = (int32_t)(*T - 1);
            b->out_row[(*n_out)++] = r;
        }
    }
    *Tk = 1;
    for (int64_t t = 0; t < *T; t++)
        if (b->h_lens[t] > *Tk) *Tk = b->h_lens[t];
    for (int64_t t = 0; t < *T; t++) /* (T, Tk): every key of token t on its row */
        for (int64_t j = 0; j < *Tk; j++) b->h_crows[t * *Tk + j] = b->h_rows[t];
}

static bool any_logits(const clf_batch *b, int64_t n_out)
{
    for (int64_t k = 0; k < n_out; k++)
        if (needs_logits(&b->seq[b->out_row[k]])) return true;
    return false;
}

static clf_status batch_step_body(clf_batch *b, clf_batch_token *out, int64_t cap, int64_t *n_out)
{
    clf_context *ctx = b->m->ctx;
    if (!out || !n_out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_batch_step: NULL out or n_out");
    *n_out = 0;
    if (cap < b->n_live)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_batch_step: out has room for %lld tokens but %lld sequences are live",
                          (long long)cap, (long long)b->n_live);
    int64_t T, n, n_join, Tk, V = b->m->cfg.vocab;
    plan(b, &T, &n, &n_join, &Tk);
    if (T == 0) return CLF_OK;
    if (!b->step.g) {
        clf__step_state ss = {&b->kv, b->rows, b->cap, 1, true, NULL, NULL, 0, true, b->budget};
        clf_status s = clf__build_step_graph(b->m, &ss, &b->step);
        if (s != CLF_OK) {
            clf_graph_free(b->step.g);
            memset(&b->step, 0, sizeof b->step);
            return s;
        }
    }
    /* A step that only prefills part of a prompt still needs one LM-head
     * row (a symbol's value 0 means its maximum): its result is unused. */
    int64_t n_g = n ? n : 1;
    if (!n) b->h_last[0] = (int32_t)(T - 1);
    const clf__step *st = &b->step;
    size_t tb = (size_t)T * 4;
    clf_graph_binding bind[6] = {{st->ids, NULL, b->h_ids, tb},
                                 {st->positions, NULL, b->h_pos, tb},
                                 {st->key_lens, NULL, b->h_lens, tb},
                                 {st->tok_rows, NULL, b->h_rows, tb},
                                 {st->cache_rows, NULL, b->h_crows, tb * (size_t)Tk},
                                 {st->last, NULL, b->h_last, (size_t)n_g * 4}};
    clf_graph_run_params rp = {{T, n_g, Tk}, 0, bind, 6};
    CLF_TRY(clf_graph_run(st->g, &rp));
    /* Blocking even when no token is wanted: the run's host inputs (the
     * staging that the next step rewrites) upload without blocking. */
    CLF_TRY(clf_graph_read(st->g, st->argmax, b->am, (size_t)n_g * 4));
    if (n && any_logits(b, n))
        CLF_TRY(clf_graph_read(st->g, st->logits, b->logits, (size_t)(n * V) * 4));
    for (int64_t k = 0; k < n_join; k++) b->seq[b->join[k]].n_done += b->chunk[b->join[k]];
    for (int64_t k = 0; k < n; k++) {
        bseq *s = &b->seq[b->out_row[k]];
        emit(b, b->out_row[k], choose(b, s, b->logits + k * V, b->am[k]), &out[k]);
    }
    *n_out = n;
    return CLF_OK;
}

clf_status clf_batch_step(clf_batch *b, clf_batch_token *out, int64_t cap, int64_t *n_out)
{
    if (!b) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_batch_step: NULL batch");
    CLF__GUARDED2(b->m->ctx, b->m->ectx, "clf_batch_step", batch_step_body(b, out, cap, n_out));
}
