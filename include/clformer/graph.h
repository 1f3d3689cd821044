/*
 * clformer graphs: a stack of ops recorded once, planned once, run many times.
 *
 * A graph is plain data: tensors (shape, dtype, role, name) and nodes (an op
 * with its parameters and the ids of its input and output tensors). It is
 * built through the clf_graph_* builder calls below, in execution order (each
 * node may only use tensors that exist already, so the builder order is a
 * topological order). Every call checks the shapes of its operands as the
 * node is added, with the rules of the op it maps to, and a mismatch is
 * CLF_ERR_SHAPE with a message that names the node (its index and op) and
 * the shapes.
 *
 * Sizes are symbolic. The graph declares the largest batch B, sequence S and
 * second sequence T (decoder or cross-attention length) it will ever see; a
 * dimension is a monomial c * B^i * S^j * T^k (clf_dim), so a flattened
 * (B*S, D) view is one dimension. clf_graph_compile() plans the memory of
 * every activation for the declared maxima into one device arena, with
 * liveness-based reuse, and builds every kernel the graph needs. A run with
 * smaller actual sizes reuses the plan: each activation is a contiguous view
 * at its planned arena offset with the actual, smaller shape.
 *
 * Tensor roles:
 *   input       filled per run by the caller (a device tensor or host data);
 *               the graph owns a buffer of the maximal size for host data;
 *   weight      a caller-owned clf_tensor bound at build time (read only);
 *   state       a caller-owned clf_tensor the graph may write (a KV cache);
 *   activation  a node's result, in the arena; dead after its last use;
 *   output      a node's result that the caller reads: in a buffer of its
 *               own (not the arena), valid until the next run.
 * Views (reshape, permute, slice) are free: no kernel and no memory; a view
 * keeps the tensor it looks into alive as long as the view is used.
 *
 * Tensor ids are int32_t >= 1; 0 means "none" in every params struct, so a
 * zeroed params struct stays valid.
 *
 * Threads: a graph belongs to one context and is used by the thread that
 * uses that context (context.h, "Threads"). clf_graph_create, compile,
 * run, tensor, read, profile and profile_print enter the context and return
 * CLF_ERR_BUSY to a second thread; the builder calls (input ... slice,
 * output, find, set_device) touch only the graph and are not checked. The
 * weights and states a graph uses must outlive it.
 */
#ifndef CLFORMER_GRAPH_H
#define CLFORMER_GRAPH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "context.h"
#include "ops.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct clf_graph clf_graph; /* opaque */

/* ============================ symbolic sizes ============================ */

/* The size symbols. Values are only appended. */
typedef enum clf_sym {
    CLF_SYM_B = 0, /* batch */
    CLF_SYM_S = 1, /* sequence (source / query length) */
    CLF_SYM_T = 2, /* second sequence (decoder or key/value length) */
} clf_sym;
#define CLF_GRAPH_NSYM 3

/* One dimension: c * B^pow[0] * S^pow[1] * T^pow[2], c >= 1, pow >= 0. */
typedef struct clf_dim {
    int64_t c;                    /* constant factor */
    int8_t pow[CLF_GRAPH_NSYM];   /* exponent of each symbol */
} clf_dim;

/* The constant dimension c. */
CLF_API clf_dim clf_dim_const(int64_t c);
/* c * sym (c = 1 for the bare symbol). */
CLF_API clf_dim clf_dim_sym(int64_t c, clf_sym sym);
/* a * b: for flattened views such as (B*S, D). */
CLF_API clf_dim clf_dim_mul(clf_dim a, clf_dim b);
/* The value of d for the symbol values vals[CLF_GRAPH_NSYM]. */
CLF_API int64_t clf_dim_eval(clf_dim d, const int64_t *vals);
/* "4*B*S" or "768": into buf (size bytes); returns buf. */
CLF_API const char *clf_dim_str(clf_dim d, char *buf, size_t size);

/* ================================ graph ================================ */

typedef struct clf_graph_params {
    int64_t max_dims[CLF_GRAPH_NSYM]; /* declared maxima of B, S, T; 0 = 1 (symbol unused) */
} clf_graph_params;

CLF_API clf_graph_params clf_graph_params_default(void);

/* An empty graph on ctx. On failure *out is NULL. */
CLF_API clf_status clf_graph_create(clf_context *ctx, const clf_graph_params *params,
                                    clf_graph **out);
/* Frees the graph, its arena and its input/output buffers (not the caller's
 * weights and states). NULL is a no-op. */
CLF_API void clf_graph_free(clf_graph *g);

/* ---- leaves ---- */

/* An input of ndim (1..4) symbolic dims. name is copied (NULL = "in<id>"). */
CLF_API clf_status clf_graph_input(clf_graph *g, const char *name, clf_dtype dtype, int ndim,
                                   const clf_dim *shape, int32_t *id);
/* A caller-owned weight (copied by value; its buffer must outlive the graph). */
CLF_API clf_status clf_graph_weight(clf_graph *g, const char *name, const clf_tensor *t,
                                    int32_t *id);
/* A caller-owned persistent tensor the graph writes (a KV cache). */
CLF_API clf_status clf_graph_state(clf_graph *g, const char *name, const clf_tensor *t,
                                   int32_t *id);
/* Makes a node's result an output (its own buffer, readable after a run) and
 * names it (NULL keeps its name). Views, leaves and results of another
 * device's node are CLF_ERR_INVALID_ARG. */
CLF_API clf_status clf_graph_output(clf_graph *g, int32_t id, const char *name);
/* The id of the tensor called name: CLF_ERR_NOT_FOUND if none. */
CLF_API clf_status clf_graph_find(const clf_graph *g, const char *name, int32_t *id);

/* ---- compute nodes (each maps to the public op of the same name) ---- */

typedef struct clf_graph_gemm_params {
    bool trans_a, trans_b;      /* as clf_gemm_params */
    float alpha;                /* 0 = 1.0 */
    int32_t bias;               /* 0 or a (N) tensor */
    clf_act act;
    clf_gemm_provider provider;
} clf_graph_gemm_params;
/* out = act(alpha op(a) op(b) + bias): a (M, K) or (batch, M, K), b 2-D or
 * 3-D; out has a's ndim and dtype. */
CLF_API clf_status clf_graph_gemm(clf_graph *g, int32_t a, int32_t b,
                                  const clf_graph_gemm_params *params, int32_t *out);

typedef struct clf_graph_attention_params {
    float scale;      /* 0 = 1 / sqrt(head_dim) */
    bool causal;
    int32_t key_lens; /* 0 or a (B) i32 tensor */
    clf_attn_impl impl;
    int32_t cache_rows; /* 0 or a (B, Lk) i32 tensor: K/V row of key j for batch entry b
                         * (cache indirection, see clf_attention) */
} clf_graph_attention_params;
/* out (B, Lq, H, Dh), contiguous, q's dtype. */
CLF_API clf_status clf_graph_attention(clf_graph *g, int32_t q, int32_t k, int32_t v,
                                       const clf_graph_attention_params *params, int32_t *out);

typedef struct clf_graph_softmax_params {
    float scale;  /* 0 = 1.0 */
    int32_t mask; /* 0 or an additive (rows, cols) tensor */
    bool causal;
    bool log;
} clf_graph_softmax_params;
CLF_API clf_status clf_graph_softmax(clf_graph *g, int32_t x,
                                     const clf_graph_softmax_params *params, int32_t *out);

typedef struct clf_graph_norm_params {
    clf_norm_type type;
    float eps;        /* 0 = 1e-5 */
    int32_t residual; /* 0 or a tensor of x's shape */
    bool sum_out;     /* also produce x + residual as a second result (*sum) */
} clf_graph_norm_params;
/* *out = norm(x [+ residual]); *sum (may be NULL unless params->sum_out)
 * gets the sum's id. beta may be 0. */
CLF_API clf_status clf_graph_norm(clf_graph *g, int32_t x, int32_t gamma, int32_t beta,
                                  const clf_graph_norm_params *params, int32_t *out,
                                  int32_t *sum);

CLF_API clf_status clf_graph_activation(clf_graph *g, clf_act act, int32_t x, int32_t *out);
/* a + b, b of a's shape or broadcast along a's leading dims. */
CLF_API clf_status clf_graph_add(clf_graph *g, int32_t a, int32_t b, int32_t *out);
CLF_API clf_status clf_graph_scale(clf_graph *g, int32_t x, float s, int32_t *out);

typedef struct clf_graph_embed_params {
    float scale;            /* 0 = 1.0 */
    clf_pos_type positions;
    int32_t pos_table;      /* 0 or (P, D) for CLF_POS_LEARNED */
    int64_t pos_offset;     /* position of the first token */
    bool run_position;      /* add clf_graph_run_params.position to pos_offset */
    clf_dtype out_dtype;    /* dtype of the result (0 = f32) */
    int32_t row_positions;  /* 0 or a (B) i32 tensor for ids (B, S): per-row first positions
                             * added to pos_offset (see clf_embed_params) */
} clf_graph_embed_params;
/* out (B, S, D) for ids (B, S), (S, D) for ids (S); table (V, D). */
CLF_API clf_status clf_graph_embedding(clf_graph *g, int32_t table, int32_t ids,
                                       const clf_graph_embed_params *params, int32_t *out);

/* A contiguous copy of x (any view) in dtype: merges heads after a permute. */
CLF_API clf_status clf_graph_copy(clf_graph *g, int32_t x, clf_dtype dtype, int32_t *out);

/* Appends src (B, n, H, Dh) into the state cache (B, capacity, H, Dh) at
 * pos (+ the run's position when run_position). No result: later nodes
 * read the cache through views of the state. */
CLF_API clf_status clf_graph_kv_append(clf_graph *g, int32_t cache, int32_t src, int64_t pos,
                                       bool run_position);

/* Per-row append (clf_kv_append_rows): src (B, n, H, Dh) into rows of the
 * state cache (B, capacity, H, Dh) at positions (B) i32, row b at its own
 * positions[b]. No result, as clf_graph_kv_append. */
CLF_API clf_status clf_graph_kv_append_rows(clf_graph *g, int32_t cache, int32_t positions,
                                            int32_t src);

/* Append into named cache rows (clf_kv_append_at): src (B, n, H, Dh) row b
 * into row rows[b] of the state cache (R, capacity, H, Dh) at positions[b];
 * rows a (B) i32 tensor (0 = clf_graph_kv_append_rows). No result. */
CLF_API clf_status clf_graph_kv_append_at(clf_graph *g, int32_t cache, int32_t rows,
                                          int32_t positions, int32_t src);

/* (R) i32 of x (R, V). */
CLF_API clf_status clf_graph_argmax(clf_graph *g, int32_t x, int32_t *out);
/* values (R, k) f32 and indices (R, k) i32 of x (R, V). */
CLF_API clf_status clf_graph_topk(clf_graph *g, int32_t x, int64_t k, int32_t *values,
                                  int32_t *indices);

/* ---- free views ---- */

/* Same elements, new shape; the numbers of elements must be equal as
 * monomials; x must be contiguous (a result or a contiguous view). */
CLF_API clf_status clf_graph_reshape(clf_graph *g, int32_t x, int ndim, const clf_dim *shape,
                                     int32_t *out);
/* out.shape[i] = x.shape[perm[i]]. */
CLF_API clf_status clf_graph_permute(clf_graph *g, int32_t x, const int *perm, int32_t *out);
/* Elements [start, start + len) along dim. */
CLF_API clf_status clf_graph_slice(clf_graph *g, int32_t x, int dim, int64_t start, clf_dim len,
                                   int32_t *out);

/* Tags the nodes added from now on with a device index (default 0). Only
 * device 0 is supported yet: another index is CLF_ERR_UNSUPPORTED. */
CLF_API clf_status clf_graph_set_device(clf_graph *g, int device);

/* =============================== compile =============================== */

/*
 * Plans and prepares the graph, once: checks every reference, computes each
 * activation's live interval (its defining node to its last use, through
 * views), makes the in-place choices (an activation, add, scale, softmax or
 * norm result takes its first input's block when that input dies there),
 * assigns arena offsets (greedy by size, best fit among the gaps left by
 * blocks whose intervals overlap; each block aligned to the device's
 * CL_DEVICE_MEM_BASE_ADDR_ALIGN or 256 bytes, whichever is larger) and
 * allocates the arena and the input and output buffers.
 *
 * Then it runs the whole graph twice, blocking, on zero-filled inputs: once
 * at the declared maxima and once with every symbol at 1, with each state
 * replaced by a zeroed temporary of its shape (so the caller's KV cache is
 * not touched). This builds every program (and makes GEMM's automatic
 * provider choice) for both ends of the size range before the first real
 * run, and reports an op's own argument check as a node error. A kernel
 * variant that an op picks only for sizes strictly between the two ends
 * would still build on first use. Compiling twice is CLF_ERR_INVALID_ARG.
 */
CLF_API clf_status clf_graph_compile(clf_graph *g);

typedef struct clf_graph_memory_stats {
    size_t arena_bytes;       /* the planned arena */
    size_t activation_bytes;  /* sum of every activation's aligned size: the arena with no reuse */
    size_t lower_bound_bytes; /* peak over the schedule of the bytes live at once */
    size_t io_bytes;          /* input and output buffers owned by the graph */
    int n_activations;        /* activations planned (views excluded) */
    int n_inplace;            /* of which placed in an input's block */
    size_t alignment;         /* bytes */
} clf_graph_memory_stats;
/* The plan's figures (all zero before compile). */
CLF_API void clf_graph_memory(const clf_graph *g, clf_graph_memory_stats *out);

/* ================================= run ================================= */

/* One input for a run: exactly one of device and host. */
typedef struct clf_graph_binding {
    int32_t tensor;           /* an input's id */
    const clf_tensor *device; /* a device tensor of the actual shape, used in place (read only) */
    const void *host;         /* or host data at the actual shape, row-major, uploaded
                                 non-blocking: keep it unchanged until the next blocking call */
    size_t bytes;             /* size of host data */
} clf_graph_binding;

typedef struct clf_graph_run_params {
    int64_t dims[CLF_GRAPH_NSYM];      /* actual B, S, T; 0 = the declared maximum */
    int64_t position;                  /* added where a node asks for run_position */
    const clf_graph_binding *inputs;   /* bindings for this run */
    size_t n_inputs;
} clf_graph_run_params;

/* Enqueues every node on the context's queue and returns without waiting
 * (no host synchronisation: clf_context_blocking_calls() is unchanged). An
 * input not bound keeps what its graph buffer held (the last host upload, or
 * zeros). Actual sizes above the declared maxima are CLF_ERR_SHAPE. An op's
 * failure names the node. Requires clf_graph_compile(). */
CLF_API clf_status clf_graph_run(clf_graph *g, const clf_graph_run_params *params);

/* The view of tensor id at the last run's sizes (compile's for none yet). */
CLF_API clf_status clf_graph_tensor(const clf_graph *g, int32_t id, clf_tensor *out);

/* Blocking read of an output (or any tensor) at the last run's sizes into
 * host (bytes must equal its size), in its dtype; reports device errors. */
CLF_API clf_status clf_graph_read(clf_graph *g, int32_t id, void *host, size_t bytes);

/* ========================== inspection, profile ========================== */

/* Nodes in the graph. */
CLF_API int clf_graph_node_count(const clf_graph *g);
/* "gemm", "attention", ... for node i (0-based); "?" when out of range. */
CLF_API const char *clf_graph_node_op(const clf_graph *g, int node);

/* Waits for the queue and collects the device time of each node of the last
 * run from the context's profiling records (the context must profile). Each
 * node's launches in the run were counted, so records map back to nodes in
 * order. seconds (may be NULL) gets up to cap per-node times. Forgets the
 * context's pending records. */
CLF_API clf_status clf_graph_profile(clf_graph *g, double *seconds, size_t cap);
/* Prints the per-node table of the last clf_graph_profile() (collecting it
 * first if the last run was not collected yet). */
CLF_API clf_status clf_graph_profile_print(clf_graph *g, FILE *f);

/* Prints the plan: each node's op, inputs, results with their symbolic
 * shape, and each result's arena offset and size (or its role), then the
 * memory figures. */
CLF_API void clf_graph_dump(const clf_graph *g, FILE *f);
/* Writes the graph in Graphviz DOT. */
CLF_API void clf_graph_write_dot(const clf_graph *g, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
