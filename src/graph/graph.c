/*
 * The graph IR and its builder: symbolic dimensions, tensors, and one adder
 * per op that checks its operands' shapes (the op's own rules, on symbolic
 * dimensions) before it records the node, so a mismatch is reported at the
 * line that built it and names the node.
 */
#include <stdio.h>
#include <string.h>

#include "graph/graph_internal.h"

const char *const clf__gop_names[CLF__OP_COUNT] = {
    "gemm",      "attention", "softmax", "norm",   "activation", "add",     "scale", "embedding",
    "copy",      "kv_append", "kv_append_rows", "argmax", "topk", "reshape", "permute", "slice",
};

/* ---- symbolic dimensions ---- */

clf_dim clf_dim_const(int64_t c)
{
    clf_dim d;
    memset(&d, 0, sizeof d);
    d.c = c;
    return d;
}

clf_dim clf_dim_sym(int64_t c, clf_sym sym)
{
    clf_dim d = clf_dim_const(c);
    if ((unsigned)sym < CLF_GRAPH_NSYM) d.pow[sym] = 1;
    return d;
}

clf_dim clf_dim_mul(clf_dim a, clf_dim b)
{
    clf_dim d = clf_dim_const(a.c * b.c);
    for (int i = 0; i < CLF_GRAPH_NSYM; i++) d.pow[i] = (int8_t)(a.pow[i] + b.pow[i]);
    return d;
}

int64_t clf_dim_eval(clf_dim d, const int64_t *vals)
{
    int64_t v = d.c;
    for (int i = 0; i < CLF_GRAPH_NSYM; i++)
        for (int p = 0; p < d.pow[i]; p++) v *= vals[i];
    return v;
}

const char *clf_dim_str(clf_dim d, char *buf, size_t size)
{
    static const char sym[CLF_GRAPH_NSYM] = {'B', 'S', 'T'};
    size_t used = 0;
    int any = 0;
    if (d.c != 1) used += (size_t)snprintf(buf, size, "%lld", (long long)d.c), any = 1;
    for (int i = 0; i < CLF_GRAPH_NSYM; i++)
        for (int p = 0; p < d.pow[i] && used < size; p++, any = 1)
            used += (size_t)snprintf(buf + used, size - used, "%s%c", any ? "*" : "", sym[i]);
    if (!any) snprintf(buf, size, "1");
    return buf;
}

static bool dim_eq(clf_dim a, clf_dim b)
{
    if (a.c != b.c) return false;
    for (int i = 0; i < CLF_GRAPH_NSYM; i++)
        if (a.pow[i] != b.pow[i]) return false;
    return true;
}

static bool dim_is(clf_dim a, int64_t c) { return dim_eq(a, clf_dim_const(c)); }

/* ---- graph ---- */

clf_graph_params clf_graph_params_default(void)
{
    clf_graph_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static clf_status create(clf_context *ctx, const clf_graph_params *params, clf_graph **out)
{
    clf_graph_params p = params ? *params : clf_graph_params_default();
    clf_graph *g = clf__calloc(1, sizeof *g);
    if (!g) return clf__error(ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_create: out of memory");
    g->ctx = ctx;
    for (int i = 0; i < CLF_GRAPH_NSYM; i++) {
        if (p.max_dims[i] < 0) {
            clf__free(g);
            return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_graph_create: max_dims[%d] = %lld < 0",
                              i, (long long)p.max_dims[i]);
        }
        g->max_dims[i] = p.max_dims[i] ? p.max_dims[i] : 1;
        g->cur_dims[i] = g->max_dims[i];
    }
    g->n_t = 1; /* id 0 is "none" */
    *out = g;
    return CLF_OK;
}

static clf_status graph_create_body(clf_context *ctx, const clf_graph_params *params,
                                    clf_graph **out)
{
    if (!ctx || !out) return clf__error(ctx, CLF_ERR_INVALID_ARG, "clf_graph_create: NULL argument");
    *out = NULL;
    return create(ctx, params, out);
}

clf_status clf_graph_create(clf_context *ctx, const clf_graph_params *params, clf_graph **out)
{
    CLF__GUARDED(ctx, "clf_graph_create", graph_create_body(ctx, params, out));
}

clf_status clf__graph_create_host(const clf_graph_params *params, clf_graph **out)
{
    if (!out) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf__graph_create_host: NULL out");
    *out = NULL;
    return create(NULL, params, out);
}

void clf_graph_free(clf_graph *g)
{
    if (!g) return;
    for (int32_t i = 1; i < g->n_t; i++) {
        clf__free(g->t[i].name);
        clf_buffer_free(g->t[i].own);
    }
    clf_buffer_free(g->arena);
    clf__free(g->t);
    clf__free(g->nodes);
    clf__free(g->blocks);
    clf__free((void *)g->subst);
    clf__free(g);
}

int clf_graph_node_count(const clf_graph *g) { return g ? g->n_nodes : 0; }

const char *clf_graph_node_op(const clf_graph *g, int node)
{
    if (!g || node < 0 || node >= g->n_nodes) return "?";
    return clf__gop_names[g->nodes[node].op];
}

/* ---- tensors ---- */

void clf__gtensor_shape(const clf_graph *g, int32_t id, const int64_t *vals, int64_t *shape)
{
    const clf__gtensor *t = &g->t[id];
    for (int d = 0; d < CLF_MAX_DIMS; d++) shape[d] = d < t->ndim ? clf_dim_eval(t->shape[d], vals) : 1;
}

size_t clf__gtensor_bytes(const clf_graph *g, int32_t id, const int64_t *vals)
{
    int64_t shape[CLF_MAX_DIMS];
    clf__gtensor_shape(g, id, vals, shape);
    size_t n = clf_dtype_size(g->t[id].dtype);
    for (int d = 0; d < g->t[id].ndim; d++) n *= (size_t)shape[d];
    return n;
}

const char *clf__gshape_str(const clf_graph *g, int32_t id, char *buf, size_t size)
{
    const clf__gtensor *t = &g->t[id];
    size_t used = (size_t)snprintf(buf, size, "%s(", clf_dtype_name(t->dtype));
    for (int d = 0; d < t->ndim && used < size; d++) {
        char dim[48];
        used += (size_t)snprintf(buf + used, size - used, "%s%s", d ? ", " : "",
                                 clf_dim_str(t->shape[d], dim, sizeof dim));
    }
    if (used < size) snprintf(buf + used, size - used, ")");
    return buf;
}

static clf_status new_tensor(clf_graph *g, clf__grole role, clf_dtype dtype, int ndim,
                             const clf_dim *shape, const char *name, int32_t *id)
{
    if (g->n_t >= g->cap_t) {
        int32_t cap = g->cap_t ? g->cap_t * 2 : 64;
        clf__gtensor *grown = clf__realloc(g->t, (size_t)cap * sizeof *grown);
        if (!grown) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph: out of memory");
        g->t = grown;
        g->cap_t = cap;
    }
    int32_t i = g->n_t;
    clf__gtensor *t = &g->t[i];
    memset(t, 0, sizeof *t);
    char auto_name[32];
    if (!name) {
        snprintf(auto_name, sizeof auto_name, "t%d", (int)i);
        name = auto_name;
    }
    t->name = clf__strdup(name);
    if (!t->name) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph: out of memory");
    t->role = role;
    t->dtype = dtype;
    t->ndim = ndim;
    for (int d = 0; d < CLF_MAX_DIMS; d++) t->shape[d] = d < ndim ? shape[d] : clf_dim_const(1);
    t->root = i;
    t->block = -1;
    g->n_t++;
    *id = i;
    return CLF_OK;
}

static clf_status check_dims(clf_graph *g, const char *what, int ndim, const clf_dim *shape)
{
    if (ndim < 1 || ndim > CLF_MAX_DIMS || !shape)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: ndim %d (expected 1..4) or NULL shape",
                          what, ndim);
    for (int d = 0; d < ndim; d++) {
        bool neg = false;
        for (int s = 0; s < CLF_GRAPH_NSYM; s++) neg |= shape[d].pow[s] < 0;
        if (shape[d].c < 1 || neg)
            return clf__error(g->ctx, CLF_ERR_SHAPE,
                              "%s: dimension %d must be c * B^i * S^j * T^k with c >= 1, i,j,k >= 0",
                              what, d);
    }
    return CLF_OK;
}

clf_status clf_graph_input(clf_graph *g, const char *name, clf_dtype dtype, int ndim,
                           const clf_dim *shape, int32_t *id)
{
    if (!g || !id) return clf__error(g ? g->ctx : NULL, CLF_ERR_INVALID_ARG, "clf_graph_input: NULL argument");
    if (g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_input: graph is compiled");
    if (clf_dtype_size(dtype) == 0)
        return clf__error(g->ctx, CLF_ERR_DTYPE, "clf_graph_input: unknown dtype %d", (int)dtype);
    CLF_TRY(check_dims(g, "clf_graph_input", ndim, shape));
    return new_tensor(g, CLF__G_INPUT, dtype, ndim, shape, name, id);
}

static clf_status bind_leaf(clf_graph *g, const char *fn, clf__grole role, const char *name,
                            const clf_tensor *t, int32_t *id)
{
    if (!g || !t || !id) return clf__error(g ? g->ctx : NULL, CLF_ERR_INVALID_ARG, "%s: NULL argument", fn);
    if (g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: graph is compiled", fn);
    if (!t->buffer || t->ndim < 1 || t->ndim > CLF_MAX_DIMS)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: \"%s\" is not a tensor", fn, name ? name : "");
    if (!clf__same_root(clf_buffer_context(t->buffer), g->ctx))
        return clf__error(g->ctx, CLF_ERR_CONTEXT, "%s: \"%s\" belongs to another context", fn,
                          name ? name : "");
    clf_dim shape[CLF_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) shape[d] = clf_dim_const(t->shape[d]);
    CLF_TRY(new_tensor(g, role, t->dtype, t->ndim, shape, name, id));
    g->t[*id].bound = *t;
    return CLF_OK;
}

clf_status clf_graph_weight(clf_graph *g, const char *name, const clf_tensor *t, int32_t *id)
{
    return bind_leaf(g, "clf_graph_weight", CLF__G_WEIGHT, name, t, id);
}

clf_status clf_graph_state(clf_graph *g, const char *name, const clf_tensor *t, int32_t *id)
{
    return bind_leaf(g, "clf_graph_state", CLF__G_STATE, name, t, id);
}

clf_status clf_graph_output(clf_graph *g, int32_t id, const char *name)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_output: NULL graph");
    if (g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "clf_graph_output: graph is compiled");
    if (id < 1 || id >= g->n_t || g->t[id].role != CLF__G_ACTIVATION)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG,
                          "clf_graph_output: tensor %d is not a node's result (views and leaves "
                          "cannot be outputs; copy a view first)", (int)id);
    if (name) {
        char *copy = clf__strdup(name);
        if (!copy) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "clf_graph_output: out of memory");
        clf__free(g->t[id].name);
        g->t[id].name = copy;
    }
    g->t[id].role = CLF__G_OUTPUT;
    return CLF_OK;
}

clf_status clf_graph_find(const clf_graph *g, const char *name, int32_t *id)
{
    if (!g || !name || !id) return CLF_ERR_INVALID_ARG;
    for (int32_t i = 1; i < g->n_t; i++)
        if (strcmp(g->t[i].name, name) == 0) {
            *id = i;
            return CLF_OK;
        }
    return clf__error(g->ctx, CLF_ERR_NOT_FOUND, "clf_graph_find: no tensor is called \"%s\"", name);
}

clf_status clf_graph_set_device(clf_graph *g, int device)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_set_device: NULL graph");
    if (device != 0)
        return clf__error(g->ctx, CLF_ERR_UNSUPPORTED,
                          "clf_graph_set_device: device %d: multi-device placement is not "
                          "implemented yet (only device 0)", device);
    g->device = device;
    return CLF_OK;
}

/* ---- nodes ---- */

/* The checks every adder starts with, and the message prefix that names the
 * node: "node 7 (gemm)". */
typedef struct builder {
    clf_graph *g;
    clf__gnode n;
    char where[48];
} builder;

static clf_status begin(clf_graph *g, clf__gop op, builder *b)
{
    if (!g) return clf__error(NULL, CLF_ERR_INVALID_ARG, "clf_graph_%s: NULL graph", clf__gop_names[op]);
    memset(b, 0, sizeof *b);
    b->g = g;
    b->n.op = op;
    b->n.device = g->device;
    snprintf(b->where, sizeof b->where, "node %d (%s)", g->n_nodes, clf__gop_names[op]);
    if (g->compiled) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: graph is compiled", b->where);
    return CLF_OK;
}

/* Input slot `slot` gets tensor id (0 allowed when optional). */
static clf_status use(builder *b, int slot, const char *arg, int32_t id, bool optional,
                      unsigned dtype_mask)
{
    clf_graph *g = b->g;
    if (id == 0 && optional) return CLF_OK;
    if (id < 1 || id >= g->n_t)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: %s is tensor %d, which does not exist",
                          b->where, arg, (int)id);
    if (!(dtype_mask & (1u << g->t[id].dtype)))
        return clf__error(g->ctx, CLF_ERR_DTYPE, "%s: %s \"%s\" is %s, which the op does not take",
                          b->where, arg, g->t[id].name, clf_dtype_name(g->t[id].dtype));
    b->n.in[slot] = id;
    return CLF_OK;
}

#define FLOATS ((1u << CLF_F32) | (1u << CLF_F16))
#define INTS (1u << CLF_I32)

static clf_status shape_error(builder *b, const char *rule, int32_t x, int32_t y)
{
    char sx[160], sy[160];
    clf_graph *g = b->g;
    return clf__error(g->ctx, CLF_ERR_SHAPE, "%s: %s \"%s\" %s and \"%s\" %s", b->where, rule,
                      g->t[x].name, clf__gshape_str(g, x, sx, sizeof sx), y ? g->t[y].name : "",
                      y ? clf__gshape_str(g, y, sy, sizeof sy) : "");
}

static clf_status ndim_in(builder *b, const char *arg, int32_t id, int lo, int hi)
{
    int nd = b->g->t[id].ndim;
    if (nd < lo || nd > hi) {
        char s[160];
        return clf__error(b->g->ctx, CLF_ERR_SHAPE, "%s: %s \"%s\" is %s; expected %d to %d dims",
                          b->where, arg, b->g->t[id].name, clf__gshape_str(b->g, id, s, sizeof s),
                          lo, hi);
    }
    return CLF_OK;
}

static bool same_shape(const clf_graph *g, int32_t x, int32_t y)
{
    if (g->t[x].ndim != g->t[y].ndim) return false;
    for (int d = 0; d < g->t[x].ndim; d++)
        if (!dim_eq(g->t[x].shape[d], g->t[y].shape[d])) return false;
    return true;
}

/* Records the node and its results: out_ids[i] gets a new tensor of
 * shapes[i] (results of views look into their first input). */
static clf_status finish(builder *b, int n_out, const clf_dtype *dtypes, const int *ndims,
                         clf_dim (*shapes)[CLF_MAX_DIMS], int32_t **out_ids)
{
    clf_graph *g = b->g;
    if (g->n_nodes == g->cap_nodes) {
        int cap = g->cap_nodes ? g->cap_nodes * 2 : 64;
        clf__gnode *grown = clf__realloc(g->nodes, (size_t)cap * sizeof *grown);
        if (!grown) return clf__error(g->ctx, CLF_ERR_OUT_OF_MEMORY, "%s: out of memory", b->where);
        g->nodes = grown;
        g->cap_nodes = cap;
    }
    bool view = b->n.op >= CLF__OP_RESHAPE;
    for (int i = 0; i < n_out; i++) {
        int32_t id = 0;
        CLF_TRY(new_tensor(g, view ? CLF__G_VIEW : CLF__G_ACTIVATION, dtypes[i], ndims[i], shapes[i],
                           NULL, &id));
        g->t[id].producer = g->n_nodes + 1;
        if (view) {
            g->t[id].base = b->n.in[0];
            g->t[id].root = g->t[b->n.in[0]].root;
        }
        b->n.out[i] = id;
        if (out_ids[i]) *out_ids[i] = id;
    }
    g->nodes[g->n_nodes++] = b->n;
    return CLF_OK;
}

/* A node with one result of x's dtype and shape, or of (dtype, ndim, shape). */
static clf_status finish1(builder *b, clf_dtype dtype, int ndim, const clf_dim *shape, int32_t *out)
{
    clf_dim shapes[1][CLF_MAX_DIMS];
    memcpy(shapes[0], shape, (size_t)ndim * sizeof *shape);
    int32_t *outs[1] = {out};
    return finish(b, 1, &dtype, &ndim, shapes, outs);
}

static clf_status finish_like(builder *b, int32_t x, clf_dtype dtype, int32_t *out)
{
    return finish1(b, dtype, b->g->t[x].ndim, b->g->t[x].shape, out);
}

clf_status clf_graph_gemm(clf_graph *g, int32_t a, int32_t bm, const clf_graph_gemm_params *params,
                          int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_GEMM, &b));
    clf_graph_gemm_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(use(&b, 0, "a", a, false, FLOATS));
    CLF_TRY(use(&b, 1, "b", bm, false, FLOATS | (1u << CLF_Q8) | (1u << CLF_Q4))); /* clf_gemm's rules */
    CLF_TRY(use(&b, 2, "bias", p.bias, true, FLOATS));
    CLF_TRY(ndim_in(&b, "a", a, 2, 3));
    CLF_TRY(ndim_in(&b, "b", bm, 2, 3));
    const clf__gtensor *ta = &g->t[a], *tb = &g->t[bm];
    int ra = ta->ndim - 2, rb = tb->ndim - 2;
    clf_dim m = ta->shape[ra + !!p.trans_a], k = ta->shape[ra + !p.trans_a];
    clf_dim kb = tb->shape[rb + !!p.trans_b], n = tb->shape[rb + !p.trans_b];
    if (!dim_eq(k, kb))
        return shape_error(&b, p.trans_b ? "inner dims differ (b transposed):" : "inner dims differ:", a, bm);
    if (tb->ndim == 3 && (ta->ndim != 3 || !dim_eq(ta->shape[0], tb->shape[0])))
        return shape_error(&b, "batch differs:", a, bm);
    if (p.bias && (g->t[p.bias].ndim != 1 || !dim_eq(g->t[p.bias].shape[0], n)))
        return shape_error(&b, "bias must be (N) of b:", p.bias, bm);
    if ((unsigned)p.act > CLF_ACT_TANH)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: unknown activation %d", b.where, (int)p.act);
    b.n.p.gemm = p;
    clf_dim shape[3] = {ta->shape[0], m, n};
    if (ta->ndim == 2) shape[0] = m, shape[1] = n;
    return finish1(&b, ta->dtype, ta->ndim, shape, out);
}

clf_status clf_graph_attention(clf_graph *g, int32_t q, int32_t k, int32_t v,
                               const clf_graph_attention_params *params, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_ATTENTION, &b));
    clf_graph_attention_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(use(&b, 0, "q", q, false, FLOATS));
    CLF_TRY(use(&b, 1, "k", k, false, FLOATS));
    CLF_TRY(use(&b, 2, "v", v, false, FLOATS));
    CLF_TRY(use(&b, 3, "key_lens", p.key_lens, true, INTS));
    CLF_TRY(use(&b, 4, "cache_rows", p.cache_rows, true, INTS));
    CLF_TRY(ndim_in(&b, "q", q, 4, 4));
    CLF_TRY(ndim_in(&b, "k", k, 4, 4));
    CLF_TRY(ndim_in(&b, "v", v, 4, 4));
    const clf_dim *sq = g->t[q].shape, *sk = g->t[k].shape;
    if (!same_shape(g, k, v)) return shape_error(&b, "k and v differ:", k, v);
    /* With a cache-row table, k and v are a cache of any number of rows. */
    if ((!p.cache_rows && !dim_eq(sq[0], sk[0])) || !dim_eq(sq[2], sk[2]) || !dim_eq(sq[3], sk[3]))
        return shape_error(&b, "q (B, Lq, H, Dh) and k (B, Lk, H, Dh) differ in B, H or Dh:", q, k);
    if (p.key_lens && (g->t[p.key_lens].ndim != 1 || !dim_eq(g->t[p.key_lens].shape[0], sq[0])))
        return shape_error(&b, "key_lens must be (B):", p.key_lens, q);
    if (p.cache_rows &&
        (g->t[p.cache_rows].ndim != 2 || !dim_eq(g->t[p.cache_rows].shape[0], sq[0]) ||
         !dim_eq(g->t[p.cache_rows].shape[1], sk[1])))
        return shape_error(&b, "cache_rows must be (B, Lk) of k:", p.cache_rows, k);
    b.n.p.attn = p;
    return finish_like(&b, q, g->t[q].dtype, out);
}

clf_status clf_graph_softmax(clf_graph *g, int32_t x, const clf_graph_softmax_params *params,
                             int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_SOFTMAX, &b));
    clf_graph_softmax_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    CLF_TRY(use(&b, 1, "mask", p.mask, true, FLOATS));
    if (p.mask) {
        const clf__gtensor *tx = &g->t[x], *tm = &g->t[p.mask];
        if (tx->ndim < 2 || tm->ndim != 2 || !dim_eq(tm->shape[0], tx->shape[tx->ndim - 2]) ||
            !dim_eq(tm->shape[1], tx->shape[tx->ndim - 1]))
            return shape_error(&b, "mask must be (rows, cols) of x:", p.mask, x);
    }
    b.n.p.softmax = p;
    return finish_like(&b, x, g->t[x].dtype, out);
}

clf_status clf_graph_norm(clf_graph *g, int32_t x, int32_t gamma, int32_t beta,
                          const clf_graph_norm_params *params, int32_t *out, int32_t *sum)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_NORM, &b));
    clf_graph_norm_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    CLF_TRY(use(&b, 1, "gamma", gamma, false, FLOATS));
    CLF_TRY(use(&b, 2, "beta", beta, true, FLOATS));
    CLF_TRY(use(&b, 3, "residual", p.residual, true, FLOATS));
    const clf__gtensor *tx = &g->t[x];
    clf_dim dmodel = tx->shape[tx->ndim - 1];
    if (g->t[gamma].ndim != 1 || !dim_eq(g->t[gamma].shape[0], dmodel))
        return shape_error(&b, "gamma must be (D) of x's last dim:", gamma, x);
    if (beta && (g->t[beta].ndim != 1 || !dim_eq(g->t[beta].shape[0], dmodel)))
        return shape_error(&b, "beta must be (D) of x's last dim:", beta, x);
    if (p.type == CLF_NORM_RMS && beta)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: RMSNorm takes no beta", b.where);
    if (p.residual && !same_shape(g, p.residual, x))
        return shape_error(&b, "residual must have x's shape:", p.residual, x);
    if (p.sum_out && !p.residual)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: sum_out needs a residual", b.where);
    if (p.sum_out && !sum)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: sum_out with a NULL sum", b.where);
    b.n.p.norm = p;
    clf_dim shapes[2][CLF_MAX_DIMS];
    memcpy(shapes[0], tx->shape, sizeof shapes[0]);
    memcpy(shapes[1], tx->shape, sizeof shapes[1]);
    clf_dtype dts[2] = {tx->dtype, tx->dtype};
    int nds[2] = {tx->ndim, tx->ndim};
    int32_t *outs[2] = {out, sum};
    return finish(&b, p.sum_out ? 2 : 1, dts, nds, shapes, outs);
}

clf_status clf_graph_activation(clf_graph *g, clf_act act, int32_t x, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_ACTIVATION, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    if ((unsigned)act > CLF_ACT_TANH)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: unknown activation %d", b.where, (int)act);
    b.n.p.act.act = act;
    return finish_like(&b, x, g->t[x].dtype, out);
}

clf_status clf_graph_add(clf_graph *g, int32_t a, int32_t bb, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_ADD, &b));
    CLF_TRY(use(&b, 0, "a", a, false, FLOATS));
    CLF_TRY(use(&b, 1, "b", bb, false, FLOATS));
    /* clf_add's rule: b's sizes match a's innermost sizes or are 1. */
    const clf__gtensor *ta = &g->t[a], *tb = &g->t[bb];
    bool fits = tb->ndim <= ta->ndim;
    for (int i = 0; fits && i < tb->ndim; i++) {
        clf_dim db = tb->shape[tb->ndim - 1 - i], da = ta->shape[ta->ndim - 1 - i];
        fits = dim_eq(db, da) || dim_is(db, 1);
    }
    if (!fits) return shape_error(&b, "b does not broadcast to a:", bb, a);
    return finish_like(&b, a, ta->dtype, out);
}

clf_status clf_graph_scale(clf_graph *g, int32_t x, float s, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_SCALE, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    b.n.p.scale.s = s;
    return finish_like(&b, x, g->t[x].dtype, out);
}

clf_status clf_graph_embedding(clf_graph *g, int32_t table, int32_t ids,
                               const clf_graph_embed_params *params, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_EMBEDDING, &b));
    clf_graph_embed_params p;
    if (params) p = *params;
    else memset(&p, 0, sizeof p);
    CLF_TRY(use(&b, 0, "table", table, false, FLOATS | (1u << CLF_Q8))); /* Q8: ops.h, clf_embedding */
    CLF_TRY(use(&b, 1, "ids", ids, false, INTS));
    CLF_TRY(use(&b, 2, "pos_table", p.pos_table, true, FLOATS));
    CLF_TRY(use(&b, 3, "row_positions", p.row_positions, true, INTS));
    if (p.row_positions &&
        (g->t[p.row_positions].ndim != 1 || g->t[ids].ndim != 2 ||
         !dim_eq(g->t[p.row_positions].shape[0], g->t[ids].shape[0])))
        return shape_error(&b, "row_positions must be (B) for ids (B, S):", p.row_positions, ids);
    CLF_TRY(ndim_in(&b, "table", table, 2, 2));
    CLF_TRY(ndim_in(&b, "ids", ids, 1, 2));
    if (p.positions == CLF_POS_LEARNED &&
        (!p.pos_table || g->t[p.pos_table].ndim != 2 ||
         !dim_eq(g->t[p.pos_table].shape[1], g->t[table].shape[1])))
        return clf__error(g->ctx, CLF_ERR_SHAPE, "%s: learned positions need a (P, D) pos_table "
                          "with the table's D", b.where);
    if (p.out_dtype != CLF_F32 && p.out_dtype != CLF_F16)
        return clf__error(g->ctx, CLF_ERR_DTYPE, "%s: out_dtype must be f32 or f16", b.where);
    b.n.p.embed = p;
    const clf__gtensor *ti = &g->t[ids];
    clf_dim shape[3] = {ti->shape[0], ti->shape[1], g->t[table].shape[1]};
    if (ti->ndim == 1) shape[1] = shape[2];
    return finish1(&b, p.out_dtype, ti->ndim + 1, shape, out);
}

clf_status clf_graph_copy(clf_graph *g, int32_t x, clf_dtype dtype, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_COPY, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS | INTS));
    if (clf_dtype_size(dtype) == 0 || ((dtype == CLF_I32) != (g->t[x].dtype == CLF_I32)))
        return clf__error(g->ctx, CLF_ERR_DTYPE, "%s: cannot copy %s to dtype %d", b.where,
                          clf_dtype_name(g->t[x].dtype), (int)dtype);
    return finish_like(&b, x, dtype, out);
}

clf_status clf_graph_kv_append(clf_graph *g, int32_t cache, int32_t src, int64_t pos,
                               bool run_position)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_KV_APPEND, &b));
    CLF_TRY(use(&b, 0, "cache", cache, false, FLOATS));
    CLF_TRY(use(&b, 1, "src", src, false, FLOATS));
    if (g->t[cache].role != CLF__G_STATE)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: cache \"%s\" must be a state tensor",
                          b.where, g->t[cache].name);
    CLF_TRY(ndim_in(&b, "cache", cache, 4, 4));
    CLF_TRY(ndim_in(&b, "src", src, 4, 4));
    const clf_dim *sc = g->t[cache].shape, *ss = g->t[src].shape;
    if (!dim_eq(sc[0], ss[0]) || !dim_eq(sc[2], ss[2]) || !dim_eq(sc[3], ss[3]))
        return shape_error(&b, "cache (B, capacity, H, Dh) and src (B, n, H, Dh) differ:", cache, src);
    if (pos < 0) return clf__error(g->ctx, CLF_ERR_OUT_OF_RANGE, "%s: pos %lld < 0", b.where, (long long)pos);
    b.n.p.kv.pos = pos;
    b.n.p.kv.run_position = run_position;
    return finish(&b, 0, NULL, NULL, NULL, NULL);
}

clf_status clf_graph_kv_append_at(clf_graph *g, int32_t cache, int32_t rows, int32_t positions,
                                  int32_t src)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_KV_APPEND_ROWS, &b));
    CLF_TRY(use(&b, 0, "cache", cache, false, FLOATS));
    CLF_TRY(use(&b, 1, "positions", positions, false, INTS));
    CLF_TRY(use(&b, 2, "src", src, false, FLOATS));
    CLF_TRY(use(&b, 3, "rows", rows, true, INTS));
    if (g->t[cache].role != CLF__G_STATE)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: cache \"%s\" must be a state tensor",
                          b.where, g->t[cache].name);
    CLF_TRY(ndim_in(&b, "cache", cache, 4, 4));
    CLF_TRY(ndim_in(&b, "positions", positions, 1, 1));
    CLF_TRY(ndim_in(&b, "src", src, 4, 4));
    const clf_dim *sc = g->t[cache].shape, *ss = g->t[src].shape;
    if ((!rows && !dim_eq(sc[0], ss[0])) || !dim_eq(sc[2], ss[2]) || !dim_eq(sc[3], ss[3]))
        return shape_error(&b, rows ? "cache (R, capacity, H, Dh) and src (B, n, H, Dh) differ:"
                                    : "cache (B, capacity, H, Dh) and src (B, n, H, Dh) differ:",
                           cache, src);
    if (!dim_eq(g->t[positions].shape[0], ss[0]))
        return shape_error(&b, "positions must be (B) for src (B, n, H, Dh):", positions, src);
    if (rows && (g->t[rows].ndim != 1 || !dim_eq(g->t[rows].shape[0], ss[0])))
        return shape_error(&b, "rows must be (B) for src (B, n, H, Dh):", rows, src);
    return finish(&b, 0, NULL, NULL, NULL, NULL);
}

clf_status clf_graph_kv_append_rows(clf_graph *g, int32_t cache, int32_t positions, int32_t src)
{
    return clf_graph_kv_append_at(g, cache, 0, positions, src);
}

clf_status clf_graph_argmax(clf_graph *g, int32_t x, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_ARGMAX, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    CLF_TRY(ndim_in(&b, "x", x, 2, 2));
    return finish1(&b, CLF_I32, 1, g->t[x].shape, out);
}

clf_status clf_graph_topk(clf_graph *g, int32_t x, int64_t k, int32_t *values, int32_t *indices)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_TOPK, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS));
    CLF_TRY(ndim_in(&b, "x", x, 2, 2));
    if (k < 1 || k > 256)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: k = %lld (expected 1..256)", b.where, (long long)k);
    clf_dim v = g->t[x].shape[1];
    if (clf_dim_eval(v, g->max_dims) < k)
        return shape_error(&b, "k is larger than the row:", x, 0);
    b.n.p.topk.k = k;
    clf_dim shapes[2][CLF_MAX_DIMS] = {{g->t[x].shape[0], clf_dim_const(k)},
                                       {g->t[x].shape[0], clf_dim_const(k)}};
    clf_dtype dts[2] = {CLF_F32, CLF_I32};
    int nds[2] = {2, 2};
    int32_t *outs[2] = {values, indices};
    return finish(&b, 2, dts, nds, shapes, outs);
}

/* ---- views ---- */

clf_status clf_graph_reshape(clf_graph *g, int32_t x, int ndim, const clf_dim *shape, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_RESHAPE, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS | INTS));
    CLF_TRY(check_dims(g, b.where, ndim, shape));
    clf_dim nx = clf_dim_const(1), ny = clf_dim_const(1);
    for (int d = 0; d < g->t[x].ndim; d++) nx = clf_dim_mul(nx, g->t[x].shape[d]);
    for (int d = 0; d < ndim; d++) ny = clf_dim_mul(ny, shape[d]);
    if (!dim_eq(nx, ny)) {
        char s1[64], s2[64], sx[160];
        return clf__error(g->ctx, CLF_ERR_SHAPE,
                          "%s: \"%s\" %s has %s elements but the new shape has %s", b.where,
                          g->t[x].name, clf__gshape_str(g, x, sx, sizeof sx),
                          clf_dim_str(nx, s1, sizeof s1), clf_dim_str(ny, s2, sizeof s2));
    }
    return finish1(&b, g->t[x].dtype, ndim, shape, out);
}

clf_status clf_graph_permute(clf_graph *g, int32_t x, const int *perm, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_PERMUTE, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS | INTS));
    int nd = g->t[x].ndim, seen = 0;
    clf_dim shape[CLF_MAX_DIMS];
    for (int d = 0; perm && d < nd; d++) {
        if (perm[d] < 0 || perm[d] >= nd || (seen & (1 << perm[d])))
            return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: perm is not a permutation of %d dims",
                              b.where, nd);
        seen |= 1 << perm[d];
        shape[d] = g->t[x].shape[perm[d]];
        b.n.p.permute.perm[d] = perm[d];
    }
    if (!perm) return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: NULL perm", b.where);
    return finish1(&b, g->t[x].dtype, nd, shape, out);
}

clf_status clf_graph_slice(clf_graph *g, int32_t x, int dim, int64_t start, clf_dim len, int32_t *out)
{
    builder b;
    CLF_TRY(begin(g, CLF__OP_SLICE, &b));
    CLF_TRY(use(&b, 0, "x", x, false, FLOATS | INTS));
    const clf__gtensor *tx = &g->t[x];
    if (dim < 0 || dim >= tx->ndim)
        return clf__error(g->ctx, CLF_ERR_INVALID_ARG, "%s: dim %d of a %d-D tensor", b.where, dim, tx->ndim);
    CLF_TRY(check_dims(g, b.where, 1, &len));
    /* Checked at the declared maxima here; each run checks its actual sizes. */
    if (start < 0 || start + clf_dim_eval(len, g->max_dims) > clf_dim_eval(tx->shape[dim], g->max_dims)) {
        char sl[48], sx[160];
        return clf__error(g->ctx, CLF_ERR_SHAPE, "%s: [%lld, %lld + %s) is outside dim %d of \"%s\" %s",
                          b.where, (long long)start, (long long)start, clf_dim_str(len, sl, sizeof sl),
                          dim, tx->name, clf__gshape_str(g, x, sx, sizeof sx));
    }
    b.n.p.slice.dim = dim;
    b.n.p.slice.start = start;
    clf_dim shape[CLF_MAX_DIMS];
    memcpy(shape, tx->shape, sizeof shape);
    shape[dim] = len;
    return finish1(&b, tx->dtype, tx->ndim, shape, out);
}
