/*
 * Compiling a graph: reference checks, liveness, in-place choices, the
 * offset assignment of every activation into one arena, the graph's own
 * buffers, and a warm-up that builds every kernel before the first run.
 *
 * Why greedy by size: placing the largest blocks first, each into the
 * smallest gap that the blocks alive at the same time leave, is the offline
 * heuristic TFLite and MNN use; on transformer stacks (a few size classes:
 * (B*S, D), (B*S, 4D), (B, S, H, Dh)) it lands at or near the lower bound,
 * where the online "allocate at definition, free at last use" walk leaves
 * holes that a later, larger block cannot use.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/graph_internal.h"

/* ---- offset assignment (pure, host-testable) ---- */

/* Largest first; ties by earlier start, then by index, so plans are
 * deterministic. */
static bool before(const clf__gblock *blocks, int i, int j)
{
    const clf__gblock *a = &blocks[i], *b = &blocks[j];
    if (a->size != b->size) return a->size > b->size;
    if (a->first != b->first) return a->first < b->first;
    return i < j;
}

/* Insertion sort: graphs have hundreds of blocks, and qsort has no context
 * argument in C11. */
static void sort_indices(int *idx, int n, const clf__gblock *blocks)
{
    for (int i = 1; i < n; i++) {
        int v = idx[i], j = i - 1;
        while (j >= 0 && before(blocks, v, idx[j])) {
            idx[j + 1] = idx[j];
            j--;
        }
        idx[j + 1] = v;
    }
}

static bool overlap_in_time(const clf__gblock *a, const clf__gblock *b)
{
    return a->first <= b->last && b->first <= a->last;
}

size_t clf__plan_offsets(clf__gblock *blocks, int n, size_t align)
{
    if (n <= 0) return 0;
    if (align == 0) align = 1;
    int *order = clf__malloc((size_t)n * 2 * sizeof *order);
    if (!order) {
        /* No memory for the plan's scratch: fall back to no reuse, which is
         * always valid. */
        size_t off = 0;
        for (int i = 0; i < n; i++) blocks[i].offset = off, off += blocks[i].size;
        return off;
    }
    int *live = order + n; /* placed blocks that overlap the current one, by offset */
    for (int i = 0; i < n; i++) order[i] = i;
    sort_indices(order, n, blocks);
    size_t arena = 0;
    for (int oi = 0; oi < n; oi++) {
        clf__gblock *b = &blocks[order[oi]];
        int n_live = 0;
        for (int pj = 0; pj < oi; pj++) {
            int j = order[pj];
            if (!overlap_in_time(b, &blocks[j])) continue;
            /* Insertion by offset keeps the gap scan below linear. */
            int k = n_live++;
            while (k > 0 && blocks[live[k - 1]].offset > blocks[j].offset) {
                live[k] = live[k - 1];
                k--;
            }
            live[k] = j;
        }
        size_t best = SIZE_MAX, best_gap = SIZE_MAX, prev_end = 0;
        for (int k = 0; k < n_live; k++) {
            const clf__gblock *o = &blocks[live[k]];
            if (o->offset > prev_end) {
                size_t gap = o->offset - prev_end;
                if (gap >= b->size && gap < best_gap) best = prev_end, best_gap = gap;
            }
            size_t end = clf__galign(o->offset + o->size, align);
            if (end > prev_end) prev_end = end;
        }
        b->offset = best != SIZE_MAX ? best : prev_end;
        if (b->offset + b->size > arena) arena = b->offset + b->size;
    }
    clf__free(order);
    return arena;
}

size_t clf__plan_lower_bound(const clf__gblock *blocks, int n)
{
    int t_end = -1;
    for (int i = 0; i < n; i++)
        if (blocks[i].last > t_end) t_end = blocks[i].last;
    size_t peak = 0;
    for (int t = 0; t <= t_end; t++) {
        size_t live = 0;
        for (int i = 0; i < n; i++)
            if (blocks[i].first <= t && t <= blocks[i].last) live += blocks[i].size;
        if (live > peak) peak = live;
    }
    return peak;
}

/* ---- liveness and blocks ---- */

static bool in_arena(const clf__gtensor *t) { return t->role == CLF__G_ACTIVATION; }

/* Ops whose first input may be the result's memory (the op documents "y may
 * be x"; for add, "y may be a"). A norm with sum_out writes two results and
 * is left out. */
static bool inplace_op(const clf__gnode *n)
{
    switch (n->op) {
    case CLF__OP_ACTIVATION:
    case CLF__OP_ADD:
    case CLF__OP_SCALE:
    case CLF__OP_SOFTMAX: return true;
    case CLF__OP_NORM: return !n->p.norm.sum_out;
    default: return false;
    }
}

static clf_status check_refs(clf_graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const clf__gnode *n = &g->nodes[i];
        for (int s = 0; s < CLF__G_MAXIN; s++) {
            int32_t id = n->in[s];
            if (id == 0) continue;
            if (id < 0 || id >= g->n_t || g->t[id].producer - 1 >= i)
                return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                                  "clf_graph_compile: node %d (%s) uses tensor %d before it is "
                                  "defined", i, clf__gop_names[n->op], (int)id);
        }
    }
    return CLF_OK;
}

static bool view_op(clf__gop op)
{
    return op == CLF__OP_RESHAPE || op == CLF__OP_PERMUTE || op == CLF__OP_SLICE;
}

/* A decode step's cache appends folded into its attention: the kv_append
 * nodes of k's and of v's cache (either order), then only views, then an
 * attention without a cache-row table that reads views of those caches, all
 * on one device and at one position. The attention node runs both appends
 * (exec.c: clf_attention's k_new and v_new, one launch instead of three on
 * the CPU family's one-pass decode kernel; the appends themselves where its
 * views do not start at the caches' start). */
static void fold_appends(clf_graph *g)
{
    for (int j = 0; j < g->n_nodes; j++) {
        clf__gnode *a = &g->nodes[j];
        if (a->op != CLF__OP_ATTENTION || a->in[4]) continue;
        int32_t kr = g->t[a->in[1]].root, vr = g->t[a->in[2]].root;
        int found[2] = {0, 0};
        int i = j - 1;
        while (i >= 0 && view_op(g->nodes[i].op)) i--;
        for (; i >= 0 && g->nodes[i].op == CLF__OP_KV_APPEND && !(found[0] && found[1]); i--) {
            int32_t c = g->t[g->nodes[i].in[0]].root;
            if (c == kr && !found[0]) found[0] = i + 1;
            else if (c == vr && !found[1]) found[1] = i + 1;
            else break;
        }
        if (!found[0] || !found[1] || kr == vr) continue;
        clf__gnode *pk = &g->nodes[found[0] - 1], *pv = &g->nodes[found[1] - 1];
        if (pk->p.kv.pos != pv->p.kv.pos || pk->p.kv.run_position != pv->p.kv.run_position ||
            pk->device != a->device || pv->device != a->device)
            continue;
        a->appends[0] = found[0], a->appends[1] = found[1];
        pk->absorbed = pv->absorbed = j + 1;
    }
}

/* A norm whose result only the next node reads, a GEMM of it by a transposed
 * weight (a linear layer: GPT-2's QKV, FFN in and head projections), on one
 * device: the GEMM node runs the norm (exec.c, clf_gemm_params.norm: one
 * launch in the walking GEMV of a quantised decode step, clf_norm then
 * clf_gemm otherwise). */
static void fold_norms(clf_graph *g)
{
    for (int i = 0; i + 1 < g->n_nodes; i++) {
        clf__gnode *n = &g->nodes[i], *m = &g->nodes[i + 1];
        if (n->op != CLF__OP_NORM || m->op != CLF__OP_GEMM || m->in[0] != n->out[0] ||
            !m->p.gemm.trans_b || m->p.gemm.trans_a || n->device != m->device ||
            g->t[n->out[0]].role != CLF__G_ACTIVATION)
            continue;
        bool other = false; /* another reader of the result, directly or through a view */
        for (int j = 0; j < g->n_nodes && !other; j++)
            for (int s = 0; s < CLF__G_MAXIN && !other; s++)
                other = j != i + 1 && g->nodes[j].in[s] &&
                        g->t[g->nodes[j].in[s]].root == n->out[0];
        if (other) continue;
        n->absorbed = i + 2;
        m->prenorm = i + 1;
    }
}

static void liveness(clf_graph *g)
{
    for (int32_t id = 1; id < g->n_t; id++) {
        clf__gtensor *t = &g->t[id];
        t->first = t->producer ? t->producer - 1 : 0;
        t->last = t->first;
        t->block = -1;
    }
    /* A use through a view is a use of the view's root. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int s = 0; s < CLF__G_MAXIN; s++)
            if (g->nodes[i].in[s]) {
                clf__gtensor *r = &g->t[g->t[g->nodes[i].in[s]].root];
                if (i > r->last) r->last = i;
            }
    /* An absorbed node's operands are used by the node that runs it. */
    for (int i = 0; i < g->n_nodes; i++)
        for (int s = 0; s < CLF__G_MAXIN && g->nodes[i].absorbed; s++)
            if (g->nodes[i].in[s]) {
                clf__gtensor *r = &g->t[g->t[g->nodes[i].in[s]].root];
                if (g->nodes[i].absorbed - 1 > r->last) r->last = g->nodes[i].absorbed - 1;
            }
    for (int32_t id = 1; id < g->n_t; id++)
        if (g->t[id].role == CLF__G_OUTPUT) g->t[id].last = g->n_nodes; /* to the end */
}

/* Decides whether node i's result may take its first input's block. */
static bool can_inplace(const clf_graph *g, int i)
{
    const clf__gnode *n = &g->nodes[i];
    if (!inplace_op(n) || !n->out[0]) return false;
    int32_t x = n->in[0], y = n->out[0];
    const clf__gtensor *tx = &g->t[x], *ty = &g->t[y];
    /* Only a whole root activation with the result's layout, dying here. */
    if (tx->role != CLF__G_ACTIVATION || tx->base || !in_arena(ty) || tx->last != i ||
        tx->block < 0 || tx->dtype != ty->dtype || tx->ndim != ty->ndim)
        return false;
    if (memcmp(tx->shape, ty->shape, sizeof tx->shape) != 0) return false;
    /* Another operand looking into the same memory could be read after
     * it is overwritten. */
    for (int s = 1; s < CLF__G_MAXIN; s++)
        if (n->in[s] && g->t[n->in[s]].root == x) return false;
    return true;
}

static clf_status make_blocks(clf_graph *g, size_t align)
{
    g->n_blocks = 0;
    int cap = 0;
    for (int32_t id = 1; id < g->n_t; id++) cap += in_arena(&g->t[id]);
    g->blocks = clf__calloc(cap ? (size_t)cap : 1, sizeof *g->blocks);
    if (!g->blocks) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_compile: out of memory");
    g->mem = (clf_graph_memory_stats){0};
    g->mem.alignment = align;
    /* Results in node order, so a donor's block exists before its taker. */
    for (int i = 0; i < g->n_nodes; i++) {
        clf__gnode *n = &g->nodes[i];
        n->inplace = 0;
        for (int o = 0; o < 2; o++) {
            int32_t y = n->out[o];
            if (!y || !in_arena(&g->t[y])) continue;
            clf__gtensor *ty = &g->t[y];
            size_t bytes = clf__galign(clf__gtensor_bytes(g, y, g->max_dims), align);
            g->mem.n_activations++;
            g->mem.activation_bytes += bytes;
            if (o == 0 && can_inplace(g, i)) {
                ty->block = g->t[n->in[0]].block;
                clf__gblock *bl = &g->blocks[ty->block];
                if (ty->last > bl->last) bl->last = ty->last;
                n->inplace = 1;
                g->mem.n_inplace++;
                continue;
            }
            ty->block = g->n_blocks;
            g->blocks[g->n_blocks++] = (clf__gblock){bytes, ty->first, ty->last, 0};
        }
    }
    return CLF_OK;
}

/* The device's base address alignment in bytes, at least 256. */
static size_t device_alignment(clf_context *ctx)
{
    cl_uint bits = 0;
    if (clGetDeviceInfo(ctx->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof bits, &bits, NULL) !=
        CL_SUCCESS)
        bits = 0;
    size_t bytes = bits / 8;
    return bytes > 256 ? bytes : 256;
}

/* ---- buffers and warm-up ---- */

static clf_status alloc_own(clf_graph *g)
{
    for (int32_t id = 1; id < g->n_t; id++) {
        clf__gtensor *t = &g->t[id];
        if (t->role != CLF__G_INPUT && t->role != CLF__G_OUTPUT) continue;
        size_t bytes = clf__gtensor_bytes(g, id, g->max_dims);
        CLF_TRY(clf_buffer_create(g->ctx, bytes, &t->own));
        g->mem.io_bytes += bytes;
        if (t->role == CLF__G_INPUT) {
            /* Zeros: valid token ids and lengths for the warm-up, and a
             * defined value for an input that is never bound. */
            clf_tensor whole;
            CLF_TRY(clf_tensor_on(t->own, CLF_I32, 1, (int64_t[]){(int64_t)(bytes / 4)}, 0, &whole));
            if (bytes % 4 == 0) CLF_TRY(clf_tensor_fill(g->ctx, &whole, 0.0f));
        }
    }
    return CLF_OK;
}

/* Runs every node once at symbol values vals, states replaced by temps. */
static clf_status warm_run(clf_graph *g, const int64_t *vals)
{
    CLF_TRY(clf__graph_resolve(g, vals));
    for (int i = 0; i < g->n_nodes; i++) CLF_TRY(clf__graph_exec_node(g, i, 0));
    return CLF_OK;
}

/* What decides a GEMM's kernel and launch: two products alike in all of it
 * (the same layer shape in every layer) need one warm-up run, not one each. */
typedef struct gemm_key {
    int64_t m, n, k, lda, ldb, ldc;
    int dt_a, dt_b, dt_c, dt_bias, trans_a, trans_b, act, provider;
} gemm_key;

static gemm_key key_of(const clf_tensor *a, const clf_tensor *b, const clf_tensor *c,
                       const clf_tensor *bias, const clf_graph_gemm_params *q)
{
    gemm_key key;
    memset(&key, 0, sizeof key); /* padding too: keys are compared with memcmp */
    int ra = a->ndim - 2, rb = b->ndim - 2, rc = c->ndim - 2;
    key.m = c->shape[rc], key.n = c->shape[rc + 1], key.k = a->shape[ra + !q->trans_a];
    key.lda = a->stride[ra], key.ldb = b->stride[rb], key.ldc = c->stride[rc];
    key.dt_a = a->dtype, key.dt_b = b->dtype, key.dt_c = c->dtype, key.dt_bias = bias ? (int)bias->dtype : -1;
    key.trans_a = q->trans_a, key.trans_b = q->trans_b, key.act = q->act, key.provider = q->provider;
    return key;
}

/* Kernels differ by M when it is small (the GEMV is specialised for its row
 * count, the register-blocked kernel's local size shrinks with short M), so
 * a product whose M can be small is run once for every M <= 8, on row slices
 * of its operands at the declared maxima (batch 1, so that M is exactly m),
 * once per distinct key. The context keeps each program, so repeated shapes
 * would cost a launch, not a build; on PoCL those launches are the weight
 * traffic of every layer eight times over. */
static clf_status warm_gemv(clf_graph *g)
{
    int64_t ones[CLF_GRAPH_NSYM] = {1, 1, 1};
    CLF_TRY(clf__graph_resolve(g, g->max_dims));
    gemm_key *seen = clf__calloc((size_t)g->n_nodes * 8 + 1, sizeof *seen);
    if (!seen) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_compile: out of memory");
    int n_seen = 0;
    clf_status st = CLF_OK;
    for (int i = 0; i < g->n_nodes && st == CLF_OK; i++) {
        const clf__gnode *n = &g->nodes[i];
        if (n->op != CLF__OP_GEMM) continue;
        const clf__gtensor *ta = &g->t[n->in[0]];
        int mdim = ta->ndim - 2 + !!n->p.gemm.trans_a;
        int64_t m_lo = clf_dim_eval(ta->shape[mdim], ones), m_hi = clf_dim_eval(ta->shape[mdim], g->max_dims);
        clf_tensor a = ta->cur, b = g->t[n->in[1]].cur, c = g->t[n->out[0]].cur;
        const clf_tensor *bias = n->in[2] ? &g->t[n->in[2]].cur : NULL;
        if (a.ndim == 3) {
            st = clf_tensor_slice(&a, 0, 0, 1, &a);
            if (st == CLF_OK) st = clf_tensor_slice(&c, 0, 0, 1, &c);
            if (st == CLF_OK && b.ndim == 3) st = clf_tensor_slice(&b, 0, 0, 1, &b);
        }
        for (int64_t m = m_lo; st == CLF_OK && m <= 8 && m <= m_hi; m++) {
            clf_tensor as, cs;
            st = clf_tensor_slice(&a, mdim, 0, m, &as);
            if (st == CLF_OK) st = clf_tensor_slice(&c, c.ndim - 2, 0, m, &cs);
            if (st != CLF_OK) break;
            const clf_graph_gemm_params *q = &n->p.gemm;
            gemm_key key = key_of(&as, &b, &cs, bias, q);
            bool dup = false;
            for (int j = 0; j < n_seen && !dup; j++) dup = memcmp(&seen[j], &key, sizeof key) == 0;
            if (dup) continue;
            seen[n_seen++] = key;
            clf_gemm_params p = clf_gemm_params_default();
            p.trans_a = q->trans_a;
            p.trans_b = q->trans_b;
            p.alpha = q->alpha;
            p.bias = bias;
            p.act = q->act;
            p.provider = q->provider;
            st = clf_gemm(g->ctx, &as, &b, &cs, &p);
        }
    }
    clf__free(seen);
    return st;
}

/* Every node at the declared maxima and at 1, and every GEMM whose M can be
 * small at each M <= 8. */
static clf_status warm_passes(clf_graph *g)
{
    CLF_TRY(warm_run(g, g->max_dims));
    /* Small sizes pick other kernels (GEMV for small M, split-key decode
     * attention for short queries). A graph that cannot run with every
     * symbol at 1 (a fixed-length slice of S, say) skips this pass; its
     * failure is not an error of the graph. */
    int64_t ones[CLF_GRAPH_NSYM] = {1, 1, 1};
    (void)warm_run(g, ones);
    return warm_gemv(g);
}

static clf_status warm_up(clf_graph *g)
{
    int n_states = 0;
    for (int32_t id = 1; id < g->n_t; id++) n_states += g->t[id].role == CLF__G_STATE;
    clf_tensor *temps = clf__calloc(n_states ? (size_t)n_states : 1, sizeof *temps);
    if (!temps) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_compile: out of memory");
    clf_status st = CLF_OK;
    int made = 0;
    for (int32_t id = 1; id < g->n_t && st == CLF_OK; id++) {
        const clf__gtensor *t = &g->t[id];
        if (t->role != CLF__G_STATE) continue;
        st = clf_tensor_create(g->ctx, t->dtype, t->bound.ndim, t->bound.shape, &temps[made]);
        if (st == CLF_OK) st = clf_tensor_fill(g->ctx, &temps[made], 0.0f);
        if (st == CLF_OK) g->subst[id] = &temps[made++];
    }
    /* First a dry pass: every op makes its programs and kernels ready and
     * enqueues nothing. If all of them came from the binary cache (a warm
     * start) that is enough; if any was compiled from source, the pass runs
     * again for real, because drivers such as PoCL compile each kernel once
     * more, for its work-group size, at its first launch. */
    clf_build_stats before, after;
    clf_context_build_stats(g->ctx, &before);
    double t0 = clf__now();
    g->ctx->dry_run = true;
    if (st == CLF_OK) st = warm_passes(g);
    g->ctx->dry_run = false;
    clf_context_build_stats(g->ctx, &after);
    double t1 = clf__now();
    bool real = after.built != before.built || after.cache_rejected != before.cache_rejected;
    if (st == CLF_OK && real) st = warm_passes(g);
    if (st == CLF_OK) st = clf_context_finish(g->ctx);
    else clf_context_finish(g->ctx); /* temps must not be freed under running kernels' feet */
    clf__log(CLF_LOG_INFO,
             "graph of %d nodes: dry warm-up pass %.3f s (%d programs compiled, %d loaded), "
             "real warm-up pass %.3f s%s",
             g->n_nodes, t1 - t0, after.built - before.built, after.cache_hits - before.cache_hits,
             clf__now() - t1, real ? "" : " (skipped: every program came from the cache)");
    for (int i = 0; i < made; i++) clf_tensor_free(&temps[i]);
    clf__free(temps);
    for (int32_t id = 0; id < g->n_t; id++) g->subst[id] = NULL;
    return st;
}

clf_status clf__graph_plan(clf_graph *g, size_t align)
{
    if (g->blocks)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                          "clf_graph_compile: an earlier compile of this graph failed; build a new one");
    CLF_TRY(check_refs(g));
    fold_appends(g);
    fold_norms(g);
    liveness(g);
    CLF_TRY(make_blocks(g, align));
    g->mem.arena_bytes = clf__plan_offsets(g->blocks, g->n_blocks, align);
    g->mem.lower_bound_bytes = clf__plan_lower_bound(g->blocks, g->n_blocks);
    return CLF_OK;
}

static clf_status graph_compile_body(clf_graph *g)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_compile: NULL graph");
    if (g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_compile: already compiled");
    if (g->n_nodes == 0) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_compile: no nodes");
    CLF_TRY(clf__graph_plan(g, device_alignment(g->ctx)));
    g->subst = clf__calloc((size_t)g->n_t, sizeof *g->subst);
    if (!g->subst) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_compile: out of memory");
    if (g->mem.arena_bytes) CLF_TRY(clf_buffer_create(g->ctx, g->mem.arena_bytes, &g->arena));
    CLF_TRY(alloc_own(g));
    CLF_TRY(warm_up(g));
    for (int i = 0; i < CLF_GRAPH_NSYM; i++) g->cur_dims[i] = g->max_dims[i];
    CLF_TRY(clf__graph_resolve(g, g->max_dims));
    g->compiled = true;
    return CLF_OK;
}

clf_status clf_graph_compile(clf_graph *g)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_compile", graph_compile_body(g));
}

void clf_graph_memory(const clf_graph *g, clf_graph_memory_stats *out)
{
    if (!out) return;
    if (!g) {
        memset(out, 0, sizeof *out);
        return;
    }
    *out = g->mem;
}
