/*
 * Running a compiled graph: every tensor resolved to a view at the run's
 * sizes, every node enqueued through its public op with no host
 * synchronisation, blocking reads only where the caller asks; per-node
 * profile, plan dump and DOT.
 */
#include <stdio.h>
#include <string.h>

#include "graph/graph_internal.h"

/* Prefixes the op's own message with the node, keeping the status. */
static clf_status node_error(clf_graph *g, int i, clf_status st)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", clf_context_last_error(g->ctx));
    return clf__error(g->ctx, st, "node %d (%s): %s", i, clf__gop_names[g->nodes[i].op], msg);
}

static clf_status resolve_view(clf_graph *g, int32_t id, const int64_t *vals)
{
    clf__gtensor *t = &g->t[id];
    int i = t->producer - 1;
    const clf__gnode *n = &g->nodes[i];
    const clf_tensor *base = &g->t[t->base].cur;
    int64_t shape[CLF_MAX_DIMS];
    clf__gtensor_shape(g, id, vals, shape);
    clf_status st = CLF_OK;
    switch (n->op) {
    case CLF__OP_RESHAPE: st = clf_tensor_reshape(base, t->ndim, shape, &t->cur); break;
    case CLF__OP_PERMUTE: st = clf_tensor_permute(base, n->p.permute.perm, &t->cur); break;
    case CLF__OP_SLICE:
        st = clf_tensor_slice(base, n->p.slice.dim, n->p.slice.start, shape[n->p.slice.dim], &t->cur);
        break;
    default: st = clf__error(g->ctx, CLF_ERR_INVALID_ARG, "not a view");
    }
    return st == CLF_OK ? CLF_OK : node_error(g, i, st);
}

clf_status clf__graph_resolve(clf_graph *g, const int64_t *vals)
{
    /* Ids grow in builder order, so a view's base is resolved before it. */
    for (int32_t id = 1; id < g->n_t; id++) {
        clf__gtensor *t = &g->t[id];
        int64_t shape[CLF_MAX_DIMS];
        clf__gtensor_shape(g, id, vals, shape);
        switch (t->role) {
        case CLF__G_WEIGHT: t->cur = t->bound; break;
        case CLF__G_STATE: t->cur = g->subst && g->subst[id] ? *g->subst[id] : t->bound; break;
        case CLF__G_INPUT:
            if (g->subst && g->subst[id]) {
                const clf_tensor *b = g->subst[id];
                bool ok = b->dtype == t->dtype && b->ndim == t->ndim;
                for (int d = 0; ok && d < t->ndim; d++) ok = b->shape[d] == shape[d];
                if (!ok) {
                    char have[160], want[160];
                    clf_tensor_describe(b, have, sizeof have);
                    clf__gshape_str(g, id, want, sizeof want);
                    return clf__error(g->ctx, CLF_ERR_SHAPE,
                                      "clf_graph_run: input \"%s\" %s is bound to %s, which is "
                                      "not its shape at this run's sizes", t->name, want, have);
                }
                t->cur = *b;
            } else {
                CLF_TRY(clf_tensor_on(t->own, t->dtype, t->ndim, shape, 0, &t->cur));
            }
            break;
        case CLF__G_OUTPUT: CLF_TRY(clf_tensor_on(t->own, t->dtype, t->ndim, shape, 0, &t->cur)); break;
        case CLF__G_ACTIVATION: {
            /* Planned offsets are multiples of >= 256 bytes: whole elements. */
            int64_t off = (int64_t)(g->blocks[t->block].offset / clf_dtype_size(t->dtype));
            CLF_TRY(clf_tensor_on(g->arena, t->dtype, t->ndim, shape, off, &t->cur));
            break;
        }
        case CLF__G_VIEW: CLF_TRY(resolve_view(g, id, vals)); break;
        }
    }
    return CLF_OK;
}

#define T(slot) (&g->t[n->in[slot]].cur)
#define OPT(slot) (n->in[slot] ? &g->t[n->in[slot]].cur : NULL)
#define OUT(o) (&g->t[n->out[o]].cur)

/* t is a view from the start of cache c: appending to t appends to c. */
static bool starts_at(const clf_tensor *t, const clf_tensor *c)
{
    return t->buffer == c->buffer && t->offset == c->offset && t->ndim == c->ndim &&
           memcmp(t->stride, c->stride, sizeof t->stride[0] * (size_t)t->ndim) == 0;
}

/* The appends folded into attention node n (plan.c fold_appends): as
 * clf_attention's k_new and v_new where its k and v start at the caches'
 * start and hold the positions, else the appends themselves, first. */
static clf_status folded_appends(clf_graph *g, const clf__gnode *n, int64_t position,
                                 clf_attention_params *p)
{
    const clf__gnode *ak = &g->nodes[n->appends[0] - 1], *av = &g->nodes[n->appends[1] - 1];
    int64_t pos = ak->p.kv.pos + (ak->p.kv.run_position ? position : 0);
    clf_tensor *kc = &g->t[ak->in[0]].cur, *vc = &g->t[av->in[0]].cur;
    const clf_tensor *kn = &g->t[ak->in[1]].cur, *vn = &g->t[av->in[1]].cur;
    const clf_tensor *k = &g->t[n->in[1]].cur, *v = &g->t[n->in[2]].cur;
    if (starts_at(k, kc) && starts_at(v, vc) && kn->dtype == k->dtype && vn->dtype == v->dtype &&
        pos + kn->shape[1] <= k->shape[1]) {
        p->k_new = kn, p->v_new = vn, p->append_pos = pos;
        return CLF_OK;
    }
    CLF_TRY(clf_kv_append(g->ctx, kc, pos, kn));
    return clf_kv_append(g->ctx, vc, pos, vn);
}

clf_status clf__graph_exec_node(clf_graph *g, int i, int64_t position)
{
    const clf__gnode *n = &g->nodes[i];
    clf_context *ctx = g->ctx;
    clf_status st = CLF_OK;
    switch (n->op) {
    case CLF__OP_GEMM: {
        const clf_graph_gemm_params *q = &n->p.gemm;
        clf_gemm_params p = clf_gemm_params_default();
        p.trans_a = q->trans_a;
        p.trans_b = q->trans_b;
        p.alpha = q->alpha;
        p.bias = OPT(2);
        p.act = q->act;
        p.provider = q->provider;
        if (n->prenorm) { /* a is the result of that norm node, which this one runs */
            const clf__gnode *nn = &g->nodes[n->prenorm - 1];
            const clf_graph_norm_params *r = &nn->p.norm;
            clf__gtensor *t = g->t;
            clf_gemm_norm gn = {
                {r->type, r->eps, nn->in[3] ? &t[nn->in[3]].cur : NULL,
                 r->sum_out ? &t[nn->out[1]].cur : NULL},
                &t[nn->in[1]].cur, nn->in[2] ? &t[nn->in[2]].cur : NULL, &t[nn->out[0]].cur};
            p.norm = &gn;
            st = clf_gemm(ctx, &t[nn->in[0]].cur, T(1), OUT(0), &p);
            break;
        }
        st = clf_gemm(ctx, T(0), T(1), OUT(0), &p);
        break;
    }
    case CLF__OP_ATTENTION: {
        const clf_graph_attention_params *q = &n->p.attn;
        clf_attention_params p = {q->scale, q->causal, OPT(3), q->impl, OPT(4), NULL, NULL, 0};
        if (n->appends[0]) st = folded_appends(g, n, position, &p);
        if (st == CLF_OK) st = clf_attention(ctx, T(0), T(1), T(2), OUT(0), &p);
        break;
    }
    case CLF__OP_SOFTMAX: {
        const clf_graph_softmax_params *q = &n->p.softmax;
        clf_softmax_params p = {q->scale, OPT(1), q->causal, q->log};
        st = clf_softmax(ctx, T(0), OUT(0), &p);
        break;
    }
    case CLF__OP_NORM: {
        if (n->absorbed) break; /* the GEMM node n->absorbed - 1 runs it */
        const clf_graph_norm_params *q = &n->p.norm;
        clf_norm_params p = {q->type, q->eps, OPT(3), q->sum_out ? OUT(1) : NULL};
        st = clf_norm(ctx, T(0), T(1), OPT(2), OUT(0), &p);
        break;
    }
    case CLF__OP_ACTIVATION: st = clf_activation(ctx, n->p.act.act, T(0), OUT(0)); break;
    case CLF__OP_ADD: st = clf_add(ctx, T(0), T(1), OUT(0)); break;
    case CLF__OP_SCALE: st = clf_scale(ctx, T(0), n->p.scale.s, OUT(0)); break;
    case CLF__OP_EMBEDDING: {
        const clf_graph_embed_params *q = &n->p.embed;
        clf_embed_params p = {q->scale, q->positions, OPT(2),
                              q->pos_offset + (q->run_position ? position : 0), OPT(3)};
        st = clf_embedding(ctx, T(0), T(1), OUT(0), &p);
        break;
    }
    case CLF__OP_COPY: st = clf_copy(ctx, T(0), OUT(0)); break;
    case CLF__OP_KV_APPEND:
        if (n->absorbed) break; /* the attention node n->absorbed - 1 appends */
        st = clf_kv_append(ctx, T(0), n->p.kv.pos + (n->p.kv.run_position ? position : 0), T(1));
        break;
    case CLF__OP_KV_APPEND_ROWS: st = clf_kv_append_at(ctx, T(0), OPT(3), T(1), T(2)); break;
    case CLF__OP_ARGMAX: st = clf_argmax(ctx, T(0), OUT(0)); break;
    case CLF__OP_TOPK: st = clf_topk(ctx, T(0), n->p.topk.k, OUT(0), OUT(1)); break;
    case CLF__OP_RESHAPE:
    case CLF__OP_PERMUTE:
    case CLF__OP_SLICE:
    case CLF__OP_COUNT: break; /* views: resolved, nothing to enqueue */
    }
    return st == CLF_OK ? CLF_OK : node_error(g, i, st);
}

#undef T
#undef OPT
#undef OUT

static clf_status bind_inputs(clf_graph *g, const clf_graph_run_params *p)
{
    for (size_t b = 0; b < p->n_inputs; b++) {
        const clf_graph_binding *bd = &p->inputs[b];
        if (bd->tensor < 1 || bd->tensor >= g->n_t || g->t[bd->tensor].role != CLF__G_INPUT)
            return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                              "clf_graph_run: binding %zu names tensor %d, which is not an input",
                              b, (int)bd->tensor);
        if (!bd->device == !bd->host)
            return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                              "clf_graph_run: binding of \"%s\" needs exactly one of device and host",
                              g->t[bd->tensor].name);
        if (bd->device) g->subst[bd->tensor] = bd->device;
    }
    return CLF_OK;
}

static clf_status upload_inputs(clf_graph *g, const clf_graph_run_params *p)
{
    for (size_t b = 0; b < p->n_inputs; b++) {
        const clf_graph_binding *bd = &p->inputs[b];
        if (!bd->host) continue;
        clf__gtensor *t = &g->t[bd->tensor];
        size_t want = clf_tensor_bytes(&t->cur);
        if (bd->bytes != want)
            return clf__error(g->ctx, CLF_ERR_SHAPE,
                              "clf_graph_run: input \"%s\" needs %zu bytes at this run's sizes, "
                              "got %zu", t->name, want, bd->bytes);
        CLF_TRY(clf_tensor_write(g->ctx, &t->cur, bd->host, bd->bytes, false));
    }
    return CLF_OK;
}

static clf_status graph_run_body(clf_graph *g, const clf_graph_run_params *params)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_run: NULL graph");
    if (!g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_run: graph is not compiled");
    clf_graph_run_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    if (p.n_inputs && !p.inputs)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_run: n_inputs %zu with NULL inputs", p.n_inputs);
    int64_t dims[CLF_GRAPH_NSYM];
    static const char sym[] = "BST";
    for (int i = 0; i < CLF_GRAPH_NSYM; i++) {
        dims[i] = p.dims[i] ? p.dims[i] : g->max_dims[i];
        if (dims[i] < 1 || dims[i] > g->max_dims[i])
            return clf__error(g->ctx, CLF_ERR_SHAPE,
                              "clf_graph_run: %c = %lld is outside 1..%lld (the declared maximum "
                              "the graph was planned for)", sym[i], (long long)dims[i],
                              (long long)g->max_dims[i]);
    }
    for (int32_t id = 0; id < g->n_t; id++) g->subst[id] = NULL;
    clf_status st = bind_inputs(g, &p);
    if (st == CLF_OK) st = clf__graph_resolve(g, dims);
    for (int32_t id = 0; id < g->n_t; id++) g->subst[id] = NULL;
    if (st == CLF_OK) memcpy(g->cur_dims, dims, sizeof dims);
    if (st == CLF_OK) st = upload_inputs(g, &p);
    /* Each node's launches are counted so profiling records map back to it. */
    g->prof_base = (long)g->ctx->n_prof;
    for (int i = 0; i < g->n_nodes && st == CLF_OK; i++) {
        size_t before = g->ctx->n_prof;
        st = clf__graph_exec_node(g, i, p.position);
        g->nodes[i].launches = (long)(g->ctx->n_prof - before);
    }
    g->prof_pending = st == CLF_OK && g->ctx->profiling;
    return st;
}

clf_status clf_graph_run(clf_graph *g, const clf_graph_run_params *params)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_run", graph_run_body(g, params));
}

static clf_status graph_tensor_body(const clf_graph *g, int32_t id, clf_tensor *out)
{
    if (!g || !out) return clf__error(g ? g->ctx : NULL, CLF_ERR_INVALID_ARG, "clf_graph_tensor: NULL argument");
    if (!g->compiled || id < 1 || id >= g->n_t)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_tensor: tensor %d (graph %s)",
                          (int)id, g->compiled ? "compiled" : "not compiled");
    *out = g->t[id].cur;
    return CLF_OK;
}

clf_status clf_graph_tensor(const clf_graph *g, int32_t id, clf_tensor *out)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_tensor", graph_tensor_body(g, id, out));
}

static clf_status graph_read_body(clf_graph *g, int32_t id, void *host, size_t bytes)
{
    clf_tensor t;
    CLF_TRY(clf_graph_tensor(g, id, &t));
    clf_status st = clf_tensor_read(g->ctx, &t, host, bytes, true);
    if (st != CLF_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", clf_context_last_error(g->ctx));
        return clf__error(g->ctx, st, "clf_graph_read \"%s\": %s", g->t[id].name, msg);
    }
    return CLF_OK;
}

clf_status clf_graph_read(clf_graph *g, int32_t id, void *host, size_t bytes)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_read", graph_read_body(g, id, host, bytes));
}

/* ---- profile ---- */

static clf_status graph_profile_body(clf_graph *g, double *seconds, size_t cap)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_profile: NULL graph");
    if (!g->ctx->profiling)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                          "clf_graph_profile: the context was created without profiling");
    if (g->prof_pending) {
        size_t total = g->ctx->n_prof, n = 0;
        clf_profile_record *rec = clf__calloc(total ? total : 1, sizeof *rec);
        if (!rec) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_profile: out of memory");
        clf_status st = clf_context_profile(g->ctx, rec, total, &n);
        size_t r = (size_t)g->prof_base;
        for (int i = 0; i < g->n_nodes && st == CLF_OK; i++) {
            g->nodes[i].seconds = 0;
            for (long k = 0; k < g->nodes[i].launches && r < n; k++) g->nodes[i].seconds += rec[r++].seconds;
        }
        clf__free(rec);
        CLF_TRY(st);
        g->prof_pending = false;
    }
    for (size_t i = 0; seconds && i < cap && i < (size_t)g->n_nodes; i++) seconds[i] = g->nodes[i].seconds;
    return CLF_OK;
}

clf_status clf_graph_profile(clf_graph *g, double *seconds, size_t cap)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_profile", graph_profile_body(g, seconds, cap));
}

static clf_status graph_profile_print_body(clf_graph *g, FILE *f)
{
    CLF_TRY(clf_graph_profile(g, NULL, 0));
    double total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += g->nodes[i].seconds;
    fprintf(f, "%5s  %-10s  %-24s  %8s  %10s  %6s\n", "node", "op", "result", "launches", "ms", "%");
    for (int i = 0; i < g->n_nodes; i++) {
        const clf__gnode *n = &g->nodes[i];
        if (n->op >= CLF__OP_RESHAPE) continue; /* views cost nothing */
        fprintf(f, "%5d  %-10s  %-24s  %8ld  %10.3f  %5.1f%%\n", i, clf__gop_names[n->op],
                n->out[0] ? g->t[n->out[0]].name : g->t[n->in[0]].name, n->launches,
                n->seconds * 1e3, total > 0 ? 100.0 * n->seconds / total : 0.0);
    }
    fprintf(f, "total %.3f ms device time\n", total * 1e3);
    return CLF_OK;
}

clf_status clf_graph_profile_print(clf_graph *g, FILE *f)
{
    CLF__GUARDED(g ? g->ctx : NULL, "clf_graph_profile_print", graph_profile_print_body(g, f));
}

/* ---- dump and DOT ---- */

static const char *role_name(clf__grole r)
{
    static const char *names[] = {"input", "weight", "state", "activation", "output", "view"};
    return names[r];
}

static void dump_result(const clf_graph *g, int32_t id, FILE *f)
{
    const clf__gtensor *t = &g->t[id];
    char s[160];
    fprintf(f, "    -> %s %s", t->name, clf__gshape_str(g, id, s, sizeof s));
    if (t->role == CLF__G_ACTIVATION && t->block >= 0)
        fprintf(f, "  arena @%zu +%zu (block %d, live %d..%d)", g->blocks[t->block].offset,
                g->blocks[t->block].size, t->block, t->first, t->last);
    else if (t->role == CLF__G_VIEW) fprintf(f, "  view of %s", g->t[t->root].name);
    else fprintf(f, "  %s (own buffer)", role_name(t->role));
    fprintf(f, "\n");
}

void clf_graph_dump(const clf_graph *g, FILE *f)
{
    if (!g || !f) return;
    fprintf(f, "graph: %d nodes, %d tensors, B<=%lld S<=%lld T<=%lld\n", g->n_nodes, (int)g->n_t - 1,
            (long long)g->max_dims[0], (long long)g->max_dims[1], (long long)g->max_dims[2]);
    for (int i = 0; i < g->n_nodes; i++) {
        const clf__gnode *n = &g->nodes[i];
        fprintf(f, "%4d %-10s(", i, clf__gop_names[n->op]);
        for (int s = 0, k = 0; s < CLF__G_MAXIN; s++)
            if (n->in[s]) fprintf(f, "%s%s", k++ ? ", " : "", g->t[n->in[s]].name);
        fprintf(f, ")%s\n", n->inplace ? "  [in place]" : "");
        for (int o = 0; o < 2; o++)
            if (n->out[o]) dump_result(g, n->out[o], f);
    }
    const clf_graph_memory_stats *m = &g->mem;
    fprintf(f, "arena %zu bytes; activations %zu bytes with no reuse; lower bound %zu bytes "
               "(arena %.3fx of it); %d activations, %d in place; alignment %zu; "
               "inputs/outputs %zu bytes\n",
            m->arena_bytes, m->activation_bytes, m->lower_bound_bytes,
            m->lower_bound_bytes ? (double)m->arena_bytes / (double)m->lower_bound_bytes : 1.0,
            m->n_activations, m->n_inplace, m->alignment, m->io_bytes);
}

void clf_graph_write_dot(const clf_graph *g, FILE *f)
{
    if (!g || !f) return;
    fprintf(f, "digraph clformer {\n  rankdir=TB;\n  node [fontname=\"monospace\", fontsize=10];\n");
    for (int32_t id = 1; id < g->n_t; id++) {
        const clf__gtensor *t = &g->t[id];
        if (t->producer) continue; /* results are drawn on their edges */
        char s[160];
        fprintf(f, "  t%d [shape=ellipse, label=\"%s\\n%s %s\"];\n", (int)id, t->name,
                role_name(t->role), clf__gshape_str(g, id, s, sizeof s));
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const clf__gnode *n = &g->nodes[i];
        fprintf(f, "  n%d [shape=box%s, label=\"%d %s\"];\n", i,
                n->op >= CLF__OP_RESHAPE ? ", style=dashed" : "", i, clf__gop_names[n->op]);
        for (int s = 0; s < CLF__G_MAXIN; s++) {
            int32_t id = n->in[s];
            if (!id) continue;
            char sh[160];
            if (g->t[id].producer)
                fprintf(f, "  n%d -> n%d [label=\"%s\"];\n", g->t[id].producer - 1, i,
                        clf__gshape_str(g, id, sh, sizeof sh));
            else fprintf(f, "  t%d -> n%d;\n", (int)id, i);
        }
        for (int o = 0; o < 2; o++)
            if (n->out[o] && g->t[n->out[o]].role == CLF__G_OUTPUT)
                fprintf(f, "  n%d -> out%d;\n  out%d [shape=ellipse, label=\"%s\"];\n", i,
                        (int)n->out[o], (int)n->out[o], g->t[n->out[o]].name);
    }
    fprintf(f, "}\n");
}
