/*
 * The graph's plain data, shared by its three files: graph.c (IR and
 * builder), plan.c (liveness and memory planning, compile) and exec.c (runs,
 * reads, profile, dump).
 */
#ifndef CLF_GRAPH_INTERNAL_H
#define CLF_GRAPH_INTERNAL_H

#include <clformer/graph.h>

#include "runtime/runtime.h"

typedef enum clf__grole {
    CLF__G_INPUT,
    CLF__G_WEIGHT,
    CLF__G_STATE,
    CLF__G_ACTIVATION,
    CLF__G_OUTPUT,
    CLF__G_VIEW,
} clf__grole;

typedef enum clf__gop {
    CLF__OP_GEMM,
    CLF__OP_ATTENTION,
    CLF__OP_SOFTMAX,
    CLF__OP_NORM,
    CLF__OP_ACTIVATION,
    CLF__OP_ADD,
    CLF__OP_SCALE,
    CLF__OP_EMBEDDING,
    CLF__OP_COPY,
    CLF__OP_KV_APPEND,
    CLF__OP_KV_APPEND_ROWS,
    CLF__OP_ARGMAX,
    CLF__OP_TOPK,
    CLF__OP_RESHAPE,
    CLF__OP_PERMUTE,
    CLF__OP_SLICE,
    CLF__OP_COUNT
} clf__gop;

extern const char *const clf__gop_names[CLF__OP_COUNT];

typedef struct clf__gtensor {
    char *name;
    clf__grole role;
    clf_dtype dtype;
    int ndim;
    clf_dim shape[CLF_MAX_DIMS];
    clf_tensor bound;   /* weight, state: the caller's tensor */
    int32_t base;       /* view: the tensor it looks into; else 0 */
    int32_t root;       /* the non-view tensor whose memory this is (itself if not a view) */
    int32_t producer;   /* node index + 1 that defines it; 0 for leaves */
    /* plan (roots only) */
    int first, last;    /* live interval in node indices, inclusive */
    int block;          /* activation: index into the plan's blocks; -1 = none */
    clf_buffer *own;    /* input / output: the graph's buffer of the maximal size */
    /* run */
    clf_tensor cur;     /* the view at the last run's sizes */
} clf__gtensor;

#define CLF__G_MAXIN 6

typedef struct clf__gnode {
    clf__gop op;
    int32_t in[CLF__G_MAXIN]; /* tensor ids, 0 = none; meaning fixed per op (see graph.c) */
    int32_t out[2];           /* results, 0 = none */
    int device;
    union {
        clf_graph_gemm_params gemm;
        clf_graph_attention_params attn;
        clf_graph_softmax_params softmax;
        clf_graph_norm_params norm;
        clf_graph_embed_params embed;
        struct { clf_act act; } act;
        struct { float s; } scale;
        struct { int64_t pos; bool run_position; } kv;
        struct { int64_t k; } topk;
        struct { int perm[CLF_MAX_DIMS]; } permute;
        struct { int dim; int64_t start; } slice;
    } p;
    int inplace;      /* 1 when the result shares its first input's block */
    int absorbed;     /* kv_append, norm: index + 1 of the node that runs it (plan.c
                       * fold_appends, fold_norms), else 0 */
    int prenorm;      /* gemm: index + 1 of the norm node whose result is its a and that it
                       * runs (clf_gemm_params.norm), else 0 */
    int appends[2];   /* attention: index + 1 of the kv_append nodes of its k and v caches
                       * that it runs, else 0 */
    long launches;    /* kernels launched by this node in the last run */
    double seconds;   /* profiled device time of the last collected run */
} clf__gnode;

/* One arena block: a set of tensors that share memory (in-place chains). */
typedef struct clf__gblock {
    size_t size;     /* aligned bytes at the declared maxima */
    int first, last; /* union of the members' intervals */
    size_t offset;   /* planned */
} clf__gblock;

struct clf_graph {
    clf_context *ctx;
    int64_t max_dims[CLF_GRAPH_NSYM];
    int64_t cur_dims[CLF_GRAPH_NSYM];
    clf__gtensor *t; /* t[0] unused: id 0 is "none" */
    int32_t n_t, cap_t;
    clf__gnode *nodes;
    int n_nodes, cap_nodes;
    int device; /* tag for nodes added next */
    bool compiled;
    clf__gblock *blocks;
    int n_blocks;
    clf_buffer *arena;
    clf_graph_memory_stats mem;
    const clf_tensor **subst; /* n_t entries: per-run stand-ins for inputs and states */
    long prof_base;     /* context records pending before the last run's first launch */
    bool prof_pending;  /* the last run's records were not collected yet */
};

/* x rounded up to a multiple of m (m >= 1). */
static inline size_t clf__galign(size_t x, size_t m) { return (x + m - 1) / m * m; }

/* ---- graph.c ---- */

/* The byte size of tensor id at symbol values vals. */
size_t clf__gtensor_bytes(const clf_graph *g, int32_t id, const int64_t *vals);
/* Evaluates the shape of id at vals into shape[]. */
void clf__gtensor_shape(const clf_graph *g, int32_t id, const int64_t *vals, int64_t *shape);
/* "(B, S, 768)": symbolic shape text. */
const char *clf__gshape_str(const clf_graph *g, int32_t id, char *buf, size_t size);

/* A graph with no context, for host tests of the builder and the planner:
 * inputs and nodes can be added and clf__graph_plan() run, never compiled.
 * Errors go to clf_context_last_error(NULL). */
clf_status clf__graph_create_host(const clf_graph_params *params, clf_graph **out);

/* ---- plan.c: the device-free part of compiling ---- */

/* Checks references, computes liveness, makes the in-place choices and the
 * blocks, assigns offsets with alignment align, fills g->mem. */
clf_status clf__graph_plan(clf_graph *g, size_t align);

/* ---- plan.c: offset assignment on intervals (host only, unit-tested) ---- */

/* Assigns blocks[i].offset for every block so that no two blocks whose
 * intervals overlap share a byte: greedy by size (largest first, ties by
 * earlier start), each placed in the best-fitting gap (the smallest that
 * holds it) among the blocks already placed that overlap it in time, else
 * above them all. Sizes must already be aligned; offsets are multiples of
 * align. Returns the arena size (0 for no blocks). */
size_t clf__plan_offsets(clf__gblock *blocks, int n, size_t align);
/* The peak over time of the sum of live block sizes: no assignment can do
 * better. */
size_t clf__plan_lower_bound(const clf__gblock *blocks, int n);

/* ---- exec.c ---- */

/* Resolves every tensor's view at symbol values vals (arena views for
 * activations, graph buffers or bindings for inputs, the caller's tensors
 * for weights and states; views applied on top). g->subst[id], when set,
 * stands in for input or state id (a device binding, a warm-up temporary). */
clf_status clf__graph_resolve(clf_graph *g, const int64_t *vals);
/* Enqueues node i on the context's queue. */
clf_status clf__graph_exec_node(clf_graph *g, int i, int64_t position);

#endif
