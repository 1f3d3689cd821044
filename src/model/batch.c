/*
 * Continuous batching (include/clformer/batch.h): live generations of one
 * decoder-only model, each on its own cache row, advanced one token per step
 * together. A batch owns its caches and graphs:
 *   kv    (2L, rows, cap, D): row r holds the K/V of the sequence on row r;
 *   pkv   (2L, rows, cap, D): the prefill scratch;
 *   pres  per-row prefill graphs on pkv for 1, 2, 4, ... joining prompts:
 *         the sequences that join at one step are prefilled in groups of
 *         similar length, one run per group (prompts padded to the
 *         group's longest, each with its own key length, only its last
 *         position through the LM head); then the K/V rows [0, n) of each
 *         are copied into its row of kv, and its chosen token (and logits)
 *         into pam (plog), so that one read serves every group;
 *   steps per-row step graphs (stack.c, clf__step_state.per_row), one per
 *         number of running rows (built on first use): row i feeds its
 *         last token at its own position positions[i], writes its K/V
 *         there and attends to keys [0, key_lens[i]). Before a step the
 *         running sequences are compacted into rows 0..n-1 (a sequence on
 *         a higher row moves, with its K/V, into the lowest row that no
 *         running one holds), so the graph of exactly n rows runs (up to
 *         16; above, of n rounded up to 16) and no row computes for
 *         nothing.
 * A step enqueues the running rows' graph, the joining prompts' graph and
 * the copies back to back, and only then reads the chosen tokens: one host
 * round trip per step, however many sequences join.
 */
#include <string.h>

#include <clformer/batch.h>

#include "model/logits_proc.h"
#include "model/model_internal.h"
#include "runtime/runtime.h" /* the contexts' thread guard */

#define MAX_BUCKETS 10 /* batches 1, 2, 4, ..., 256 */

typedef struct bseq {
    bool used;  /* the row is taken */
    bool fresh; /* added, not prefilled yet */
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
    int64_t rows, cap;
    clf_tensor kv, pkv;
    clf__step pres[MAX_BUCKETS];  /* pres[i]: prefill of 2^i prompts (min(rows)), on pkv */
    clf__step *steps;             /* (rows) steps[k]: k + 1 rows; g NULL until built */
    bseq *seq; /* (rows) */
    int64_t next_id, n_live;
    int32_t *h_ids, *h_pos, *h_lens; /* (rows) step staging */
    int32_t *h_pre;                   /* (rows, cap) prefill ids */
    int32_t *h_ppos, *h_plens, *h_plast; /* (rows) prefill staging */
    int64_t *join;                    /* (2 rows) rows of the joining sequences in the order
                                         they were added, then the running rows */
    int64_t *slot;                    /* (rows) row of pam/plog of join[k]'s result */
    clf_tensor pam, plog;             /* (rows) i32, (rows, V) f32: the prefills' results */
    float *logits;                    /* (rows, V) */
    int32_t *am;                      /* (rows) */
    clf__cand *tmp;                   /* (V) sampling scratch */
    float *row;                       /* (V) one processed row */
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
    for (int i = 0; i < MAX_BUCKETS; i++)
        clf_graph_free(b->pres[i].g);
    for (int64_t k = 0; b->steps && k < b->rows; k++)
        clf_graph_free(b->steps[k].g);
    clf__free(b->steps);
    clf_tensor_free(&b->kv);
    clf_tensor_free(&b->pkv);
    clf__free(b->seq);
    clf__free(b->h_ids);
    clf__free(b->h_pos);
    clf__free(b->h_lens);
    clf__free(b->h_pre);
    clf__free(b->h_ppos);
    clf__free(b->h_plens);
    clf__free(b->h_plast);
    clf__free(b->join);
    clf__free(b->slot);
    clf_tensor_free(&b->pam);
    clf_tensor_free(&b->plog);
    clf__free(b->logits);
    clf__free(b->am);
    clf__free(b->tmp);
    clf__free(b->row);
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
    clf_batch *b = clf__calloc(1, sizeof *b);
    if (!b) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    b->m = m;
    b->rows = rows;
    b->cap = cap;
    int64_t V = m->cfg.vocab;
    b->seq = clf__calloc((size_t)rows, sizeof *b->seq);
    b->steps = clf__calloc((size_t)rows, sizeof *b->steps);
    b->h_ids = clf__malloc((size_t)rows * sizeof *b->h_ids);
    b->h_pos = clf__malloc((size_t)rows * sizeof *b->h_pos);
    b->h_lens = clf__malloc((size_t)rows * sizeof *b->h_lens);
    /* Prefill staging: every group of one step keeps its own part until
     * the step's read (the uploads do not block); see run_joining. */
    b->h_pre = clf__malloc((size_t)(2 * rows * cap) * sizeof *b->h_pre);
    b->h_ppos = clf__malloc((size_t)(2 * rows) * sizeof *b->h_ppos);
    b->h_plens = clf__malloc((size_t)(2 * rows) * sizeof *b->h_plens);
    b->h_plast = clf__malloc((size_t)(2 * rows) * sizeof *b->h_plast);
    b->join = clf__malloc((size_t)(2 * rows) * sizeof *b->join);
    b->slot = clf__malloc((size_t)rows * sizeof *b->slot);
    b->logits = clf__malloc((size_t)(rows * V) * sizeof *b->logits);
    b->am = clf__malloc((size_t)rows * sizeof *b->am);
    b->tmp = clf__malloc((size_t)V * sizeof *b->tmp);
    b->row = clf__malloc((size_t)V * sizeof *b->row);
    clf_status st = CLF_OK;
    if (!b->seq || !b->steps || !b->h_ids || !b->h_pos || !b->h_lens || !b->h_pre || !b->h_ppos ||
        !b->h_plens || !b->h_plast || !b->join || !b->slot || !b->logits || !b->am || !b->tmp || !b->row)
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", fn);
    int64_t L2 = 2 * (int64_t)m->cfg.decoder_layers, D = m->cfg.d_model;
    int64_t ks[4] = {L2, rows, cap, D};
    if (st == CLF_OK) st = clf_tensor_create(ctx, CLF_F32, 4, ks, &b->kv);
    if (st == CLF_OK) st = clf_tensor_create(ctx, CLF_F32, 4, ks, &b->pkv);
    int64_t as[1] = {rows}, ls[2] = {rows, V};
    if (st == CLF_OK) st = clf_tensor_create(ctx, CLF_I32, 1, as, &b->pam);
    if (st == CLF_OK) st = clf_tensor_create(ctx, CLF_F32, 2, ls, &b->plog);
    /* Zeroed: a row's keys past its length are masked, but must be finite. */
    if (st == CLF_OK) st = clf_tensor_fill(ctx, &b->kv, 0.0f);
    if (st == CLF_OK) st = clf_tensor_fill(ctx, &b->pkv, 0.0f);
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
    s->used = s->fresh = true;
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

/* A per-row graph built on first use: the step of rows running rows on kv,
 * or (prefill) a batched prompt run of min(2^i, max_rows) rows on pkv. */
static clf_status get_graph(clf_batch *b, int64_t i, bool prefill, clf__step **out)
{
    clf__step *st = prefill ? &b->pres[i] : &b->steps[i - 1];
    if (!st->g) {
        int64_t rows = prefill ? (int64_t)1 << i : i;
        memset(st, 0, sizeof *st);
        st->b = rows < b->rows ? rows : b->rows;
        clf__step_state ss = {prefill ? &b->pkv : &b->kv, b->rows, b->cap, prefill ? b->cap : 1,
                              true, NULL, NULL, 0, prefill};
        clf_status s = clf__build_step_graph(b->m, &ss, st);
        if (s != CLF_OK) {
            clf_graph_free(st->g);
            memset(st, 0, sizeof *st);
            return s;
        }
    }
    *out = st;
    return CLF_OK;
}

/* The bucket index of a graph of at least n rows. */
static int bucket_of(int64_t n)
{
    int i = 0;
    while (((int64_t)1 << i) < n) i++;
    return i;
}

/* Enqueues copies of K/V positions [0, n) of cache rows src into dst, of
 * every layer (cache (2L, rows, cap, D)); from may be the same tensor. */
static clf_status copy_rows(clf_batch *b, const clf_tensor *from, int64_t src, int64_t dst,
                            int64_t n)
{
    int64_t L2 = 2 * (int64_t)b->m->cfg.decoder_layers, D = b->m->cfg.d_model;
    int64_t shape[2] = {n, D}, stride[2] = {D, 1};
    for (int64_t j = 0; j < L2; j++) {
        clf_tensor s, d;
        CLF_TRY(clf_tensor_view(from, 2, shape, stride, (j * b->rows + src) * b->cap * D, &s));
        CLF_TRY(clf_tensor_view(&b->kv, 2, shape, stride, (j * b->rows + dst) * b->cap * D, &d));
        CLF_TRY(clf_copy(b->m->ctx, &s, &d));
    }
    return CLF_OK;
}

static bool running(const bseq *s) { return s->used && !s->fresh; }

/* Swaps the sequences of rows r and h (the processors point into their
 * sequence's own params). */
static void swap_rows(clf_batch *b, int64_t r, int64_t h)
{
    bseq t = b->seq[h];
    b->seq[h] = b->seq[r];
    b->seq[r] = t;
    b->seq[h].pr.p = &b->seq[h].p;
    b->seq[r].pr.p = &b->seq[r].p;
}

/* Moves the running sequences into rows 0..*n_run-1: each one on a higher
 * row, with its K/V so far, into the lowest row that no running one holds
 * (free, or a fresh one's, whose prompt is not in the cache yet and which
 * takes the higher row instead). */
static clf_status compact(clf_batch *b, int64_t *n_run)
{
    int64_t n = 0, hole = 0;
    for (int64_t r = 0; r < b->rows; r++) n += running(&b->seq[r]);
    for (int64_t r = n; r < b->rows; r++) {
        const bseq *s = &b->seq[r];
        if (!running(s)) continue;
        while (running(&b->seq[hole])) hole++; /* < n: fewer than n run below r */
        CLF_TRY(copy_rows(b, &b->kv, r, hole, s->n_prompt + s->n_gen - 1));
        swap_rows(b, r, hole);
    }
    *n_run = n;
    return CLF_OK;
}

/* Enqueues one batched step of every sequence that was running before this
 * call, after compacting them into rows 0..n-1; *st gets its graph (NULL
 * when none runs). Reads nothing. */
static clf_status run_running(clf_batch *b, clf__step **st, int64_t *n_run)
{
    int64_t n = 0, T = 1;
    *st = NULL;
    CLF_TRY(compact(b, &n));
    *n_run = n;
    if (n == 0) return CLF_OK;
    /* Exactly n rows up to 16; above, a multiple of 16, so that a large
     * max_rows does not compile (and keep arenas for) one graph per count. */
    int64_t rows = n <= 16 ? n : (n + 15) / 16 * 16;
    if (rows > b->rows) rows = b->rows;
    for (int64_t r = 0; r < rows; r++) {
        const bseq *s = &b->seq[r];
        /* Rows past n (free or fresh) write at position 0 and see one key:
         * a fresh row's prompt K/V, copied after this graph on the same
         * queue, rewrites it. */
        int64_t pos = r < n ? s->n_prompt + s->n_gen - 1 : 0;
        b->h_ids[r] = r < n ? s->toks[s->n_gen - 1] : 0;
        b->h_pos[r] = (int32_t)pos;
        b->h_lens[r] = (int32_t)(pos + 1);
        if (pos + 1 > T) T = pos + 1;
    }
    CLF_TRY(get_graph(b, rows, false, st));
    size_t bytes = (size_t)(*st)->b * 4;
    clf_graph_binding bind[3] = {{(*st)->ids, NULL, b->h_ids, bytes},
                                 {(*st)->positions, NULL, b->h_pos, bytes},
                                 {(*st)->key_lens, NULL, b->h_lens, bytes}};
    clf_graph_run_params rp = {{0, 1, T}, 0, bind, 3};
    return clf_graph_run((*st)->g, &rp);
}

/* Reports the tokens of the sequences on cache rows rows[k] (n), chosen
 * from row src[k] of b->am (and of b->logits when the sequence samples or
 * processes its logits). */
static void report(clf_batch *b, const int64_t *rows, const int64_t *src, int64_t n,
                   clf_batch_token *out)
{
    int64_t V = b->m->cfg.vocab;
    for (int64_t k = 0; k < n; k++) {
        bseq *s = &b->seq[rows[k]];
        s->fresh = false;
        emit(b, rows[k], choose(b, s, b->logits + src[k] * V, b->am[src[k]]), &out[k]);
    }
}

static bool any_logits(const clf_batch *b, const int64_t *rows, int64_t n)
{
    for (int64_t k = 0; k < n; k++)
        if (needs_logits(&b->seq[rows[k]])) return true;
    return false;
}

/* Enqueues the prefill of joining sequences join[g[0..cnt)] in one run of a
 * prefill graph on the scratch cache (prompts padded to the longest), the
 * copies of their K/V into their rows of kv, and of their results into
 * rows *used.. of pam (and plog). *staged: the part of the staging buffers
 * that earlier groups of this step hold. */
static clf_status run_group(clf_batch *b, const int64_t *g, int64_t cnt, int64_t *used,
                            int64_t *staged)
{
    clf__step *st;
    CLF_TRY(get_graph(b, bucket_of(cnt), true, &st));
    int64_t rb = st->b, S = 1, o = *staged;
    for (int64_t k = 0; k < cnt; k++)
        if (b->seq[b->join[g[k]]].n_prompt > S) S = b->seq[b->join[g[k]]].n_prompt;
    int32_t *ids = b->h_pre + o * b->cap;
    /* Row k: its prompt, padded with id 0 (attention masks the padding by
     * key length; only position last[k] goes on to the LM head). */
    memset(ids, 0, (size_t)(rb * S) * sizeof *ids);
    for (int64_t k = 0; k < rb; k++) {
        const bseq *s = k < cnt ? &b->seq[b->join[g[k]]] : NULL;
        int64_t len = s ? s->n_prompt : 1;
        if (s) memcpy(ids + k * S, s->prompt, (size_t)len * sizeof *s->prompt);
        b->h_ppos[o + k] = 0;
        b->h_plens[o + k] = (int32_t)len;
        b->h_plast[o + k] = (int32_t)(k * S + len - 1);
    }
    size_t bytes = (size_t)rb * 4;
    clf_graph_binding bind[4] = {{st->ids, NULL, ids, (size_t)(rb * S) * 4},
                                 {st->positions, NULL, b->h_ppos + o, bytes},
                                 {st->key_lens, NULL, b->h_plens + o, bytes},
                                 {st->last, NULL, b->h_plast + o, bytes}};
    clf_graph_run_params rp = {{0, S, S}, 0, bind, 4};
    CLF_TRY(clf_graph_run(st->g, &rp));
    *staged += rb; /* rows of cap ids in h_pre; rb < 2 cnt, so 2 max_rows suffice */
    for (int64_t k = 0; k < cnt; k++) {
        int64_t r = b->join[g[k]];
        CLF_TRY(copy_rows(b, &b->pkv, k, r, b->seq[r].n_prompt));
        b->slot[g[k]] = *used + k;
    }
    int64_t V = b->m->cfg.vocab, one[1] = {cnt}, st1[1] = {1}, two[2] = {cnt, V}, st2[2] = {V, 1};
    clf_tensor t, src, dst;
    CLF_TRY(clf_graph_tensor(st->g, st->argmax, &t));
    CLF_TRY(clf_tensor_view(&t, 1, one, st1, 0, &src));
    CLF_TRY(clf_tensor_view(&b->pam, 1, one, st1, *used, &dst));
    CLF_TRY(clf_copy(b->m->ctx, &src, &dst));
    bool logits = false;
    for (int64_t k = 0; k < cnt; k++) logits = logits || needs_logits(&b->seq[b->join[g[k]]]);
    if (logits) {
        CLF_TRY(clf_graph_tensor(st->g, st->logits, &t));
        CLF_TRY(clf_tensor_view(&t, 2, two, st2, 0, &src));
        CLF_TRY(clf_tensor_view(&b->plog, 2, two, st2, *used * V, &dst));
        CLF_TRY(clf_copy(b->m->ctx, &src, &dst));
    }
    *used += cnt;
    return CLF_OK;
}

/* Enqueues the prefill of every fresh sequence (b->join, *n of them, in the
 * order they were added; reads nothing). Longest prompts first, a prompt
 * joins the current group while padding to the group's longest prompt
 * and to its power-of-two rows costs at most a quarter more positions than
 * the prompts have (padding is compute for nothing; a group saves launches
 * and runs wider GEMMs). */
static clf_status run_joining(clf_batch *b, int64_t *n)
{
    *n = 0;
    for (;;) {
        int64_t first = -1;
        for (int64_t r = 0; r < b->rows; r++) {
            const bseq *s = &b->seq[r];
            bool taken = false;
            for (int64_t k = 0; k < *n && !taken; k++) taken = b->join[k] == r;
            if (s->used && s->fresh && !taken && (first < 0 || s->order < b->seq[first].order))
                first = r;
        }
        if (first < 0) break;
        b->join[(*n)++] = first;
    }
    int64_t *ord = b->join + *n; /* (n) indexes into join, longest prompt first */
    for (int64_t k = 0; k < *n; k++) {
        int64_t j = k;
        for (; j > 0 && b->seq[b->join[ord[j - 1]]].n_prompt < b->seq[b->join[k]].n_prompt; j--)
            ord[j] = ord[j - 1];
        ord[j] = k;
    }
    int64_t used = 0, staged = 0;
    for (int64_t k0 = 0, k1; k0 < *n; k0 = k1) {
        int64_t S = b->seq[b->join[ord[k0]]].n_prompt, real = S;
        for (k1 = k0 + 1; k1 < *n; k1++) {
            int64_t add = b->seq[b->join[ord[k1]]].n_prompt;
            if (4 * (((int64_t)1 << bucket_of(k1 - k0 + 1)) * S) > 5 * (real + add)) break;
            real += add;
        }
        CLF_TRY(run_group(b, ord + k0, k1 - k0, &used, &staged));
    }
    return CLF_OK;
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
    /* Everything is enqueued before the first read. */
    clf__step *run = NULL;
    int64_t n_join = 0, n_run = 0, V = b->m->cfg.vocab;
    CLF_TRY(run_running(b, &run, &n_run));
    CLF_TRY(run_joining(b, &n_join));
    int64_t *rows = b->join + n_join; /* the running rows 0..n_run-1, after the joining ones */
    for (int64_t r = 0; r < n_run; r++) rows[r] = r;
    if (run) {
        CLF_TRY(clf_graph_read(run->g, run->argmax, b->am, (size_t)run->b * 4));
        if (any_logits(b, rows, n_run))
            CLF_TRY(clf_graph_read(run->g, run->logits, b->logits, (size_t)(run->b * V) * 4));
        report(b, rows, rows, n_run, out);
    }
    if (n_join) {
        int64_t one[1] = {n_join}, st1[1] = {1}, two[2] = {n_join, V}, st2[2] = {V, 1};
        clf_tensor t;
        clf_status st = clf_tensor_view(&b->pam, 1, one, st1, 0, &t);
        if (st == CLF_OK) st = clf_tensor_read(ctx, &t, b->am, (size_t)n_join * 4, true);
        if (st == CLF_OK && any_logits(b, b->join, n_join)) {
            st = clf_tensor_view(&b->plog, 2, two, st2, 0, &t);
            if (st == CLF_OK)
                st = clf_tensor_read(ctx, &t, b->logits, (size_t)(n_join * V) * 4, true);
        }
        if (st != CLF_OK) {
            *n_out = n_run;
            return st;
        }
        report(b, b->join, b->slot, n_join, out + n_run);
    }
    *n_out = n_run + n_join;
    return CLF_OK;
}

clf_status clf_batch_step(clf_batch *b, clf_batch_token *out, int64_t cap, int64_t *n_out)
{
    if (!b) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_batch_step: NULL batch");
    CLF__GUARDED2(b->m->ctx, b->m->ectx, "clf_batch_step", batch_step_body(b, out, cap, n_out));
}
