/*
 * The decoding loops of clf_model_generate: greedy, beam search (cache
 * indirection) and sampling, over the encoder passes and decoder steps of
 * decode.c. The loops read back only what they decide on: argmax ids
 * (greedy) or the last position's logits (beam, sampling, processors).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/logits_proc.h"
#include "model/model_internal.h"
#include "runtime/runtime.h" /* the contexts' thread guard */

/* ============================== generate ============================== */

typedef struct gen {
    const clf_model *m;
    clf__use *use; /* the state the loops run on */
    const clf_generate_params *p;
    const clf_generate_output *out;
    int64_t B, nbest;
    int64_t stride;  /* max_new_tokens asked: the row length of out->ids */
    int64_t max_new; /* steps that fit the model's positions (clf_model_max_new_tokens) */
    clf_finish_reason at_limit; /* why a sequence that runs all max_new steps stops */
    int32_t eos;
    float *logits;      /* (max_batch * max(S, 1), V) host */
    int32_t *am;        /* (max_batch * S) */
    int32_t *feed;      /* (max_batch * S) */
    const int32_t *ids; /* (B, S) the call's inputs: prompts of a decoder-only model */
    int64_t S;
    clf__procs pr; /* the logits processors (logits_proc.h) */
    float *row;    /* (V) one processed row */
} gen;

/* The decoder ids before the generated ones for input src: the start token
 * (encoder-decoder) or the prompt; *n their count. */
static const int32_t *prefix(const gen *g, int64_t src, int64_t *n)
{
    if (g->m->cfg.kind == CLF_MODEL_ENCODER_DECODER) {
        *n = 1;
        return &g->m->cfg.bos_id;
    }
    *n = g->S;
    return g->ids + src * g->S;
}

/* Row x (V) of input src through the processors into g->row, with the
 * ngen tokens generated so far (gen_toks). */
static float *processed(gen *g, const float *x, int64_t src, const int32_t *gen_toks, int64_t ngen)
{
    int64_t npre = 0;
    const int32_t *pre = prefix(g, src, &npre);
    if (x != g->row) memcpy(g->row, x, (size_t)g->m->cfg.vocab * sizeof *x);
    clf__procs_apply(&g->pr, pre, npre, gen_toks, ngen, g->row);
    return g->row;
}

/* Lowest id of the largest score (the device argmax's rule). */
static int32_t host_argmax(const float *x, int64_t V)
{
    int64_t best = 0;
    for (int64_t v = 1; v < V; v++)
        if (x[v] > x[best]) best = v;
    return (int32_t)best;
}

static clf_status check_abort(gen *g)
{
    if (g->p->abort && g->p->abort(g->p->user))
        return clf__error(g->use->ctx, CLF_ERR_ABORTED,
                          "clf_model_generate: aborted by the caller's abort callback");
    return CLF_OK;
}

static void put(gen *g, int64_t seq, int64_t rank, int64_t step, int32_t tok)
{
    g->out->ids[(seq * g->nbest + rank) * g->stride + step] = tok;
}

/* The prompt (decoder-only, all of length S) or BOS (encoder-decoder) for b
 * rows, each input repeated `rep` times: fills g->feed, returns its length. */
static int64_t first_feed(gen *g, const int32_t *ids, int64_t b, int64_t S, int64_t rep)
{
    if (g->m->cfg.kind == CLF_MODEL_ENCODER_DECODER) {
        for (int64_t i = 0; i < b; i++)
            g->feed[i] = g->m->cfg.bos_id;
        return 1;
    }
    for (int64_t i = 0; i < b; i++)
        memcpy(g->feed + i * S, ids + (i / rep) * S, (size_t)S * sizeof *ids);
    return S;
}

/* Token tok of row b (not ended) at step: stored, reported, and the row
 * ended at EOS. */
static void emit(gen *g, int64_t b, int64_t step, int32_t tok, bool *done, int64_t *alive)
{
    put(g, b, 0, step, tok);
    if (g->out->lengths) g->out->lengths[b] = (int32_t)(step + 1);
    if (g->p->on_token) g->p->on_token(g->p->user, b, step, tok);
    if (!g->p->ignore_eos && tok == g->eos) {
        done[b] = true;
        (*alive)--;
    }
}

/* Greedy without processors, scores or log-probabilities: the host needs
 * only the tokens, and each step's input is its predecessor's argmax, which
 * is already on the device. So step t + 1 is enqueued fed by it
 * (clf__step_enqueue_fed) before the host waits for step t's tokens (a
 * non-blocking read queued ahead of step t + 1): the device works on the
 * next step while the host takes the tokens and enqueues the one after.
 * The tokens are gen_simple's (each row's argmax, fed on after the row has
 * ended); a step enqueued after the last row ended is never read. */
static clf_status gen_chained(gen *g, const int32_t *ids, int64_t S)
{
    clf__use *use = g->use;
    clf_context *ctx = use->ctx;
    int64_t B = g->B, n = first_feed(g, ids, B, S, 1), alive = B;
    bool last = g->m->cfg.kind == CLF_MODEL_DECODER;
    bool *done = clf__calloc((size_t)B, sizeof *done);
    int32_t *tok[2] = {g->am, g->am + B}; /* step t's tokens land in tok[t % 2] */
    cl_event ev[2] = {NULL, NULL};
    clf__step *sp = NULL;
    clf_tensor am;
    clf_status st = done ? CLF_OK
                         : clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_generate: out of memory");
    if (st == CLF_OK) st = check_abort(g);
    if (st == CLF_OK) st = clf__step_enqueue(use, g->feed, B, n, 0, NULL, last, &sp);
    /* (b) at every step: one view serves all the reads */
    if (st == CLF_OK) st = clf_graph_tensor(sp->g, sp->argmax, &am);
    if (st == CLF_OK) st = clf__tensor_read_start(ctx, &am, tok[0], (size_t)B * 4, &ev[0]);
    for (int64_t step = 0, pos = n; st == CLF_OK && step < g->max_new && alive > 0; step++) {
        int c = (int)(step & 1);
        if (step + 1 < g->max_new) {
            st = check_abort(g);
            if (st == CLF_OK) st = clf__step_enqueue_fed(use, sp, B, pos++);
            if (st == CLF_OK)
                st = clf__tensor_read_start(ctx, &am, tok[1 - c], (size_t)B * 4, &ev[1 - c]);
        }
        if (st == CLF_OK) st = clf__event_wait(ctx, &ev[c]);
        /* The prompt's ids went through the embedding's range check */
        if (st == CLF_OK && step == 0) st = clf__device_error_check(ctx);
        for (int64_t b = 0; st == CLF_OK && b < B; b++)
            if (!done[b]) emit(g, b, step, tok[c][b], done, &alive);
    }
    /* A read still queued (the step after the last one taken, or one cut off
     * by an error) writes tok: wait for it before the buffers go. */
    for (int i = 0; i < 2; i++) {
        if (!ev[i]) continue;
        if (st == CLF_OK) {
            st = clf__event_wait(ctx, &ev[i]);
        } else {
            clWaitForEvents(1, &ev[i]);
            clReleaseEvent(ev[i]);
        }
    }
    if (st == CLF_OK) clf__model_synced(use); /* the last read followed every command */
    for (int64_t b = 0; st == CLF_OK && g->out->finish && b < B; b++)
        g->out->finish[b] = done[b] ? CLF_FINISH_EOS : g->at_limit;
    clf__free(done);
    return st;
}

/* Greedy or sampling for all B inputs at once (batch B). Greedy reads back
 * only the argmax ids, unless the caller asked for scores or log-probs: then
 * the logits too, whose log-softmax at the chosen token is summed per row. */
static clf_status gen_simple(gen *g, const int32_t *ids, int64_t S)
{
    const clf_model *m = g->m;
    clf__use *use = g->use;
    int64_t B = g->B, V = m->cfg.vocab;
    bool greedy = g->p->strategy == CLF_DECODE_GREEDY;
    bool want_lp = g->out->scores || g->out->logprobs;
    int64_t n = first_feed(g, ids, B, S, 1), pos = 0;
    /* Decoder-only: the last-only step (one LM-head row per input row, also
     * for a prompt); encoder-decoder steps are one token a row anyway. */
    bool last = m->cfg.kind == CLF_MODEL_DECODER;
    bool *done = clf__calloc((size_t)B, sizeof *done);
    double *lp = clf__calloc((size_t)B, sizeof *lp);
    clf__cand *tmp = clf__malloc((size_t)V * sizeof *tmp);
    uint64_t rng = g->p->seed;
    clf_status st = done && lp && tmp ? CLF_OK
                                      : clf__error(use->ctx, CLF_ERR_OUT_OF_MEMORY,
                                                   "clf_model_generate: out of memory");
    int64_t alive = B;
    for (int64_t step = 0; st == CLF_OK && step < g->max_new && alive > 0; step++) {
        st = check_abort(g);
        clf__step *sp = NULL;
        if (st == CLF_OK) st = clf__step_enqueue(use, g->feed, B, n, pos, NULL, last, &sp);
        int64_t no = last ? 1 : n; /* output rows per input row */
        if (st == CLF_OK && greedy && !g->pr.on)
            st = clf_graph_read(sp->g, sp->argmax, g->am, (size_t)(B * no) * 4);
        if (st == CLF_OK && (!greedy || want_lp || g->pr.on))
            st = clf_graph_read(sp->g, sp->logits, g->logits, (size_t)(B * no * V) * sizeof(float));
        if (st != CLF_OK) break;
        clf__model_synced(use);
        for (int64_t b = 0; b < B; b++) {
            int64_t row = b * no + no - 1;
            const float *x = g->logits + row * V, *y = x;
            const int32_t *mine = g->out->ids + b * g->nbest * g->stride;
            if (g->pr.on && !done[b]) y = processed(g, x, b, mine, step);
            int32_t tok = greedy && !g->pr.on ? g->am[row]
                          : greedy            ? host_argmax(y, V)
                                              : clf__sample(g->p, y, V, tmp, &rng);
            g->feed[b] = tok;
            if (done[b]) continue;
            if (want_lp) lp[b] += (double)x[tok] - clf__log_sum_exp(x, V);
            emit(g, b, step, tok, done, &alive);
        }
        pos += n;
        n = 1;
    }
    for (int64_t b = 0; st == CLF_OK && b < B; b++) {
        if (g->out->scores) g->out->scores[b] = (float)lp[b];
        if (g->out->logprobs) g->out->logprobs[b] = (float)lp[b];
        if (g->out->finish) g->out->finish[b] = done[b] ? CLF_FINISH_EOS : g->at_limit;
    }
    clf__free(done);
    clf__free(lp);
    clf__free(tmp);
    return st;
}

/* ---- beam search ---- */

typedef struct hyp {
    int32_t *toks;         /* (max_new) generated tokens */
    int64_t n;             /* generated tokens */
    double lp;             /* sum of log-probabilities */
    double score;          /* lp / n^alpha (finished) */
    int64_t order;         /* finishing order, for a stable sort */
    clf_finish_reason why; /* finished: EOS, or the last step (g->at_limit) */
} hyp;

static int hyp_cmp(const void *pa, const void *pb)
{
    const hyp *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return (a->order > b->order) - (a->order < b->order);
}

/* One source's search: its hypotheses and what it has finished. */
typedef struct beam_src {
    hyp *alive, *next, *fin;
    int32_t *tokbuf; /* storage for every hypothesis' tokens */
    int32_t *parent; /* (K) the alive hypothesis each new one extends */
    int64_t n_alive, n_fin, n_tok, n_ord;
    bool done;
} beam_src;

/* A group of G sources searched together: one step graph of batch G * K,
 * hypothesis b of source i on row i * K + b. */
typedef struct beam_ws {
    beam_src *src;             /* (G) */
    clf__cand *c;              /* (K, beam_per_row) candidates of one source */
    int32_t *rows, *rows_next; /* (G K, max_tgt) cache-row tables, see reorder_rows */
} beam_ws;

/*
 * Cache indirection (as in FasterTransformer): rows (G K, max_tgt) says which
 * cache row holds position t of hypothesis r. A step writes the new K/V of
 * hypothesis r at row r, and the indirect step's attention reads position t
 * of r from row rows[r][t], so the KV cache is never copied. When the
 * hypotheses are re-formed from their parents, only the table changes:
 * rows[r][0, len) = rows[parent of r][0, len), through the scratch table next
 * (swapped in); a parent is always a row of the same source. Positions >= len
 * keep their initial value r in both tables (only [0, len) is ever written,
 * and len grows), which is the row the next step writes. Cached positions
 * < len are never written again, so a row a table still points into stays
 * valid after its own hypothesis moved on.
 */
static void reorder_rows(beam_ws *w, int64_t G, int64_t K, int64_t cap, int64_t len)
{
    for (int64_t i = 0; i < G; i++)
        for (int64_t b = 0; b < K; b++)
            memcpy(w->rows_next + (i * K + b) * cap, w->rows + (i * K + w->src[i].parent[b]) * cap,
                   (size_t)len * sizeof *w->rows);
    int32_t *t = w->rows;
    w->rows = w->rows_next;
    w->rows_next = t;
}

static int32_t *tok_alloc(gen *g, beam_src *bs) { return bs->tokbuf + (bs->n_tok++) * g->max_new; }

/* Hypothesis: parent extended by candidate c. */
static hyp extend(gen *g, beam_src *bs, const clf__cand *c)
{
    const hyp *par = &bs->alive[c->b];
    hyp h;
    h.toks = tok_alloc(g, bs);
    memcpy(h.toks, par->toks, (size_t)par->n * sizeof *h.toks);
    h.toks[par->n] = c->v;
    h.n = par->n + 1;
    h.lp = c->s;
    h.score = 0;
    h.order = 0;
    h.why = CLF_FINISH_NONE;
    return h;
}

/* The HF rule's step (CLF_BEAM_RULE_HF, after transformers'
 * _get_top_k_continuations / _get_running_beams_for_next_iteration /
 * _update_finished_beams): among the 2K best candidates c (sorted), one
 * that ends (EOS, or the last step) finishes if it ranks < K; the first K
 * that do not end become bs->next. bs->fin keeps the K best finished, sorted.
 * Returns the count of new alive hypotheses. */
static int64_t hf_walk(gen *g, beam_src *bs, const clf__cand *cs, int64_t K, int64_t nc,
                       int64_t step, double alpha)
{
    int64_t n_next = 0, top = 2 * K;
    bool added = false;
    for (int64_t i = 0; i < top && i < nc; i++) {
        const clf__cand *c = &cs[i];
        bool ends = (c->v == g->eos && g->eos >= 0) || step == g->max_new;
        /* A banned (-inf) candidate never finishes: transformers ranks it
         * after its -1e9 placeholder beams, beyond the first K. */
        if (ends && (i >= K || c->s == -INFINITY)) continue;
        if (!ends && n_next == K) continue;
        hyp h = extend(g, bs, c);
        if (ends) {
            h.score = h.lp / pow((double)h.n, alpha);
            h.order = bs->n_ord++;
            h.why = c->v == g->eos && g->eos >= 0 ? CLF_FINISH_EOS : g->at_limit;
            bs->fin[bs->n_fin++] = h;
            added = true;
        } else {
            bs->parent[n_next] = c->b;
            bs->next[n_next++] = h;
        }
    }
    if (added) {
        qsort(bs->fin, (size_t)bs->n_fin, sizeof *bs->fin, hyp_cmp);
        if (bs->n_fin > K) bs->n_fin = K;
    }
    return n_next;
}

/* clformer's own rule: the K best candidates in order; an EOS one finishes,
 * the others stay alive. */
static int64_t own_walk(gen *g, beam_src *bs, const clf__cand *cs, int64_t K, int64_t nc,
                        double alpha)
{
    int64_t n_next = 0;
    for (int64_t i = 0; i < nc && n_next < K; i++) {
        const clf__cand *c = &cs[i];
        bool eos = c->v == g->eos && g->eos >= 0 && !g->p->ignore_eos;
        if (eos && c->s == -INFINITY) continue; /* a banned EOS */
        hyp h = extend(g, bs, c);
        if (eos) {
            h.score = h.lp / pow((double)h.n, alpha);
            h.order = bs->n_fin;
            h.why = CLF_FINISH_EOS;
            bs->fin[bs->n_fin++] = h;
        } else {
            bs->parent[n_next] = c->b;
            bs->next[n_next++] = h;
        }
    }
    return n_next;
}

/* Whether source bs stops after this step (its alive set already swapped
 * in); on the last step or with nothing alive, the alive ones finish too. */
static bool src_stops(gen *g, beam_src *bs, int64_t K, int64_t step, double alpha, bool hf)
{
    if (step == g->max_new || bs->n_alive == 0) {
        for (int64_t b = 0; b < bs->n_alive; b++) {
            hyp h = bs->alive[b];
            h.score = h.lp / pow((double)h.n, alpha);
            h.order = bs->n_fin;
            h.why = g->at_limit;
            bs->fin[bs->n_fin++] = h;
        }
        return true;
    }
    if (hf && g->p->early_stopping == CLF_EARLY_STOPPING_ON) return bs->n_fin >= K;
    if (hf) { /* the best alive cannot beat the worst of the K finished */
        bool never = g->p->early_stopping == CLF_EARLY_STOPPING_NEVER && alpha > 0;
        double len = never ? (double)g->max_new : (double)step;
        return bs->n_fin >= K && bs->alive[0].lp / pow(len, alpha) <= bs->fin[K - 1].score;
    }
    if (bs->n_fin == 0) return false;
    double best_f = -INFINITY, best_a = -INFINITY;
    for (int64_t i = 0; i < bs->n_fin; i++)
        best_f = fmax(best_f, bs->fin[i].score);
    for (int64_t b = 0; b < bs->n_alive; b++)
        best_a = fmax(best_a, bs->alive[b].lp / pow((double)step, alpha));
    return best_f >= best_a;
}

/* Writes the n-best of a stopped source (index src of the call). */
static void src_output(gen *g, beam_src *bs, int64_t src)
{
    qsort(bs->fin, (size_t)bs->n_fin, sizeof *bs->fin, hyp_cmp);
    for (int64_t r = 0; r < g->nbest; r++) {
        const hyp *h = r < bs->n_fin ? &bs->fin[r] : NULL;
        for (int64_t t = 0; h && t < h->n; t++) {
            put(g, src, r, t, h->toks[t]);
            if (r == 0 && g->p->on_token) g->p->on_token(g->p->user, src, t, h->toks[t]);
        }
        if (g->out->lengths) g->out->lengths[src * g->nbest + r] = h ? (int32_t)h->n : 0;
        if (g->out->scores) g->out->scores[src * g->nbest + r] = h ? (float)h->score : -INFINITY;
        if (g->out->logprobs) g->out->logprobs[src * g->nbest + r] = h ? (float)h->lp : -INFINITY;
        if (g->out->finish) g->out->finish[src * g->nbest + r] = h ? h->why : CLF_FINISH_NONE;
    }
}

/* Candidates kept per hypothesis: a step walks at most the 2K best of all
 * (K that stay alive, and before them at most one EOS per hypothesis), and
 * those are among the 2K best of each row. */
static int64_t beam_per_row(int64_t K, int64_t V) { return 2 * K < V ? 2 * K : V; }

/* The `top` best candidates of hypothesis b from its row x (V), by
 * cand_cmp's order (base + x descending, lower id first on ties; base = lp -
 * log-sum-exp of raw logits, or lp for processed log-probabilities), into
 * out; returns how many. One pass with an insertion into a short sorted
 * list: no sort of the whole vocabulary. */
static int64_t row_top(const float *x, int64_t V, double base, int32_t b, int64_t top,
                       clf__cand *out)
{
    int64_t m = 0;
    for (int64_t v = 0; v < V; v++) {
        double sv = base + (double)x[v];
        if (m == top && !(sv > out[m - 1].s)) continue; /* an equal later id ranks below */
        int64_t j = m < top ? m++ : top - 1;
        while (j > 0 && out[j - 1].s < sv) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = (clf__cand){sv, b, (int32_t)v};
    }
    return m;
}

/* Beam search of width K over sources [src0, src0 + G) together. */
static clf_status beam_group(gen *g, beam_ws *w, const int32_t *ids, const int32_t *lengths,
                             int64_t S, int64_t src0, int64_t G, int64_t K)
{
    const clf_model *m = g->m;
    clf__use *use = g->use;
    int64_t V = m->cfg.vocab, R = G * K;
    double alpha = g->p->length_alpha != 0 ? g->p->length_alpha : 1.0;
    bool hf = g->p->beam_rule == CLF_BEAM_RULE_HF ||
              (g->p->beam_rule == CLF_BEAM_RULE_DEFAULT && m->from_hf);
    const int32_t *gids = ids + src0 * S, *glens = lengths ? lengths + src0 : NULL;
    if (m->cfg.kind == CLF_MODEL_ENCODER_DECODER) {
        CLF_TRY(clf__get_step(use, R, true, false, &(clf__step *){NULL}));
        CLF_TRY(clf__run_encoder(use, gids, glens, G, S, CLF_POOL_NONE));
        CLF_TRY(clf__run_cross(use, G, S, K, true, glens));
    }
    int64_t cap = use->max_tgt;
    for (int64_t r = 0; r < R; r++)
        for (int64_t t = 0; t < cap; t++)
            w->rows[r * cap + t] = w->rows_next[r * cap + t] = (int32_t)r;
    for (int64_t i = 0; i < G; i++) {
        beam_src *bs = &w->src[i];
        bs->n_tok = bs->n_fin = bs->n_ord = 0;
        bs->n_alive = 1;
        bs->done = false;
        bs->alive[0] = (hyp){tok_alloc(g, bs), 0, 0, 0, 0, CLF_FINISH_NONE};
        for (int64_t b = 0; b < K; b++)
            bs->parent[b] = (int32_t)b;
    }
    int64_t n = first_feed(g, gids, R, S, K), pos = 0, live = G, per_row = beam_per_row(K, V);
    bool last = m->cfg.kind == CLF_MODEL_DECODER; /* as gen_simple */
    for (int64_t step = 1; step <= g->max_new && live > 0; step++) {
        CLF_TRY(check_abort(g));
        clf__step *sp = NULL;
        CLF_TRY(clf__step_enqueue(use, g->feed, R, n, pos, w->rows, last, &sp));
        int64_t no = last ? 1 : n; /* output rows per input row */
        CLF_TRY(clf_graph_read(sp->g, sp->logits, g->logits, (size_t)(R * no * V) * sizeof(float)));
        clf__model_synced(use);
        pos += n;
        for (int64_t i = 0; i < G; i++) {
            beam_src *bs = &w->src[i];
            if (bs->done) continue;
            int64_t nc = 0;
            for (int64_t b = 0; b < bs->n_alive; b++) {
                const float *x = g->logits + ((i * K + b) * no + no - 1) * V;
                double lse = clf__log_sum_exp(x, V), base = bs->alive[b].lp - lse;
                if (g->pr.on) { /* transformers: processors on the log-softmax (float) */
                    for (int64_t v = 0; v < V; v++)
                        g->row[v] = (float)((double)x[v] - lse);
                    x = processed(g, g->row, src0 + i, bs->alive[b].toks, bs->alive[b].n);
                    base = bs->alive[b].lp;
                }
                nc += row_top(x, V, base, (int32_t)b, per_row, w->c + nc);
            }
            qsort(w->c, (size_t)nc, sizeof *w->c, clf__cand_cmp);
            int64_t n_next =
                hf ? hf_walk(g, bs, w->c, K, nc, step, alpha) : own_walk(g, bs, w->c, K, nc, alpha);
            hyp *t = bs->alive;
            bs->alive = bs->next;
            bs->next = t;
            bs->n_alive = n_next;
            if (src_stops(g, bs, K, step, alpha, hf)) {
                bs->done = true;
                live--;
                src_output(g, bs, src0 + i);
                bs->n_alive = 0;
            }
            /* Rows past the alive ones (all of a stopped source's) keep their
             * own table rows; their logits are ignored. */
            for (int64_t b = bs->n_alive; b < K; b++)
                bs->parent[b] = (int32_t)b;
            for (int64_t b = 0; b < K; b++)
                g->feed[i * K + b] = b < bs->n_alive ? bs->alive[b].toks[bs->alive[b].n - 1] : 0;
        }
        if (live == 0) break;
        reorder_rows(w, G, K, cap, pos);
        n = 1;
    }
    return CLF_OK;
}

static clf_status gen_beam(gen *g, const int32_t *ids, const int32_t *lengths, int64_t S)
{
    const clf_model *m = g->m;
    clf__use *use = g->use;
    int64_t K = g->p->beam_size > 0 ? g->p->beam_size : 4, V = m->cfg.vocab;
    /* As many sources at once as max_batch holds K hypotheses of. */
    int64_t G = use->max_batch / K;
    if (G > g->B) G = g->B;
    beam_ws w;
    memset(&w, 0, sizeof w);
    /* Hypotheses made per step and source: at most K alive + the EOS
     * candidates walked before them (each alive beam has one EOS token). */
    int64_t per_step = 2 * K, max_hyp = 1 + per_step * g->max_new;
    w.src = clf__calloc((size_t)G, sizeof *w.src);
    w.c = clf__malloc((size_t)(K * beam_per_row(K, V)) * sizeof *w.c);
    w.rows = clf__malloc((size_t)(G * K * use->max_tgt) * sizeof *w.rows);
    w.rows_next = clf__malloc((size_t)(G * K * use->max_tgt) * sizeof *w.rows_next);
    bool ok = w.src && w.c && w.rows && w.rows_next;
    for (int64_t i = 0; ok && i < G; i++) {
        beam_src *bs = &w.src[i];
        bs->alive = clf__calloc((size_t)K, sizeof *bs->alive);
        bs->next = clf__calloc((size_t)K, sizeof *bs->next);
        bs->fin = clf__calloc((size_t)(K * (g->max_new + 1)), sizeof *bs->fin);
        bs->tokbuf = clf__calloc((size_t)(max_hyp * g->max_new), sizeof *bs->tokbuf);
        bs->parent = clf__calloc((size_t)K, sizeof *bs->parent);
        ok = bs->alive && bs->next && bs->fin && bs->tokbuf && bs->parent;
    }
    clf_status st =
        ok ? CLF_OK
           : clf__error(use->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_generate: out of memory");
    for (int64_t src = 0; st == CLF_OK && src < g->B; src += G)
        st = beam_group(g, &w, ids, lengths, S, src, g->B - src < G ? g->B - src : G, K);
    for (int64_t i = 0; w.src && i < G; i++) {
        clf__free(w.src[i].alive);
        clf__free(w.src[i].next);
        clf__free(w.src[i].fin);
        clf__free(w.src[i].tokbuf);
        clf__free(w.src[i].parent);
    }
    clf__free(w.src);
    clf__free(w.c);
    clf__free(w.rows);
    clf__free(w.rows_next);
    return st;
}

clf_status clf__use_generate(clf__use *use, const int32_t *ids, const int32_t *lengths, int64_t B,
                             int64_t S, const clf_generate_params *params,
                             const clf_generate_output *out)
{
    const clf_model *m = use->m;
    clf_context *ctx = use->ctx;
    if (!ids || !out || !out->ids)
        return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_model_generate: NULL ids or output");
    if (m->cfg.kind == CLF_MODEL_ENCODER)
        return clf__error(ctx, CLF_ERR_INVALID_ARG,
                          "clf_model_generate: an encoder-only model cannot generate");
    clf_generate_params p = params ? *params : clf_generate_params_default();
    CLF_TRY(clf__use_check_generate(use, &p));
    gen g;
    memset(&g, 0, sizeof g);
    g.m = m;
    g.use = use;
    g.p = &p;
    g.out = out;
    g.B = B;
    g.ids = ids;
    g.S = S;
    bool encdec = m->cfg.kind == CLF_MODEL_ENCODER_DECODER;
    int64_t plen = encdec ? 1 : S; /* decoder ids before the generated ones */
    g.stride = p.max_new_tokens > 0 ? p.max_new_tokens : 16;
    if (p.max_new_tokens == 0 && p.max_length > 0) /* transformers' max_length counts them */
        g.stride = p.max_length - plen > 1 ? p.max_length - plen : 1;
    g.nbest = p.strategy == CLF_DECODE_BEAM && p.n_best > 0 ? p.n_best : 1;
    g.eos = p.ignore_eos ? -1 : m->cfg.eos_id;
    if (encdec && m->cfg.bos_id < 0)
        return clf__error(ctx, CLF_ERR_BAD_MODEL,
                          "clf_model_generate: the model has no bos_id to start the target");
    int64_t n_seq, n_out;
    if (B < 1 || S < 1 || __builtin_mul_overflow(B, g.nbest, &n_seq) ||
        __builtin_mul_overflow(n_seq, g.stride, &n_out))
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_model_generate: B = %lld, S = %lld (need >= 1, and B * n_best * "
                          "max_new_tokens ids to fit in int64)",
                          (long long)B, (long long)S);
    /* The one rule of model.h: prompt + new <= the model's positions. More
     * asked is not an error: generation stops there (finish says why). */
    int64_t fit = clf_model_max_new_tokens(m, encdec ? 1 : S);
    if (fit < 0)
        return clf__error(ctx, CLF_ERR_SHAPE,
                          "clf_model_generate: a prompt of %lld ids is longer than the model's "
                          "%lld positions",
                          (long long)S, (long long)(S + fit));
    g.max_new = fit < g.stride ? fit : g.stride;
    g.at_limit = g.max_new < g.stride ? CLF_FINISH_POSITIONS : CLF_FINISH_MAX_NEW;
    int64_t need = encdec ? g.max_new : S + g.max_new - 1;
    if (need > use->max_tgt)
        return clf__error(
            ctx, CLF_ERR_SHAPE,
            "clf_model_generate: B = %lld, S = %lld, max_new_tokens %lld need %lld cache "
            "positions (max_target_len %lld)",
            (long long)B, (long long)S, (long long)g.max_new, (long long)need,
            (long long)use->max_tgt);
    for (int64_t i = 0; i < n_out; i++)
        out->ids[i] = -1;
    for (int64_t i = 0; i < n_seq; i++) {
        bool first = i % g.nbest == 0;
        if (out->lengths) out->lengths[i] = 0;
        /* What a source that generates nothing (no position left) reports:
         * rank 0 the empty sequence, the other ranks no hypothesis. */
        if (out->scores) out->scores[i] = first ? 0.0f : -INFINITY;
        if (out->logprobs) out->logprobs[i] = first ? 0.0f : -INFINITY;
        if (out->finish) out->finish[i] = first ? g.at_limit : CLF_FINISH_NONE;
    }
    if (g.max_new == 0) return CLF_OK;
    /* feed: a prompt per row; the steps' outputs: a row each (last-only) */
    int64_t rows = use->max_batch * (encdec ? 1 : S);
    g.logits = clf__malloc((size_t)(use->max_batch * m->cfg.vocab) * sizeof *g.logits);
    g.am = clf__malloc((size_t)(2 * use->max_batch) * sizeof *g.am); /* gen_chained: 2 steps */
    g.feed = clf__malloc((size_t)rows * sizeof *g.feed);
    g.row = clf__malloc((size_t)m->cfg.vocab * sizeof *g.row);
    clf_status st = clf__procs_init(&g.pr, &p, m->cfg.vocab, m->cfg.eos_id, plen + g.max_new);
    if (!g.logits || !g.am || !g.feed || !g.row)
        st = clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_model_generate: out of memory");
    if (st == CLF_OK && p.strategy == CLF_DECODE_BEAM) {
        st = gen_beam(&g, ids, lengths, S);
    } else if (st == CLF_OK) {
        if (encdec) st = clf__use_encode(use, ids, lengths, B, S, CLF_POOL_NONE, NULL, NULL, NULL);
        if (st == CLF_OK && B > use->max_batch)
            st = clf__error(ctx, CLF_ERR_SHAPE, "clf_model_generate: B = %lld > max_batch %lld",
                            (long long)B, (long long)use->max_batch);
        bool chained = p.strategy == CLF_DECODE_GREEDY && !g.pr.on && !out->scores &&
                       !out->logprobs;
        if (st == CLF_OK) st = chained ? gen_chained(&g, ids, S) : gen_simple(&g, ids, S);
    }
    clf__free(g.logits);
    clf__free(g.am);
    clf__free(g.feed);
    clf__free(g.row);
    clf__procs_free(&g.pr);
    return st;
}

clf_status clf_model_generate(clf_model *m, const int32_t *ids, const int32_t *lengths, int64_t B,
                              int64_t S, const clf_generate_params *params,
                              const clf_generate_output *out)
{
    if (!m) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_model_generate: NULL model");
    CLF__GUARDED2(m->ctx, m->ectx, "clf_model_generate",
                  clf__use_generate(m->def, ids, lengths, B, S, params, out));
}
