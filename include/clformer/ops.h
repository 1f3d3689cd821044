/*
 * clformer ops: the operations the graph executor is built from. Each op
 * checks its arguments, enqueues its kernels on the context's queue and
 * returns without waiting. Inputs may be views (offsets, strides) unless an op
 * says otherwise; every tensor must belong to ctx (CLF_ERR_CONTEXT otherwise).
 * Shapes that do not fit are CLF_ERR_SHAPE, dtypes the op does not take are
 * CLF_ERR_DTYPE; the message names the op and the shapes.
 *
 * Computation is in f32 whatever the storage dtype (f32 or f16).
 *
 * Threads: an op runs on its context's queue with the context's kernel
 * objects, so it follows the context's rule (context.h, "Threads"): one
 * thread at a time per context; a call from another thread while one is
 * inside returns CLF_ERR_BUSY. Ops on different contexts may run at once.
 */
#ifndef CLFORMER_OPS_H
#define CLFORMER_OPS_H

#include <stdbool.h>
#include <stdint.h>

#include "context.h"
#include "status.h"
#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activations, for elementwise use and as fused epilogues. Values only appended. */
typedef enum clf_act {
    CLF_ACT_NONE = 0,
    CLF_ACT_RELU = 1,
    CLF_ACT_GELU = 2,      /* erf form: 0.5 x (1 + erf(x / sqrt 2)) */
    CLF_ACT_GELU_TANH = 3, /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) */
    CLF_ACT_SILU = 4,      /* x / (1 + exp(-x)) */
    CLF_ACT_TANH = 5,      /* tanh(x) (BERT's pooler) */
} clf_act;

/* ================================ GEMM ================================ */

typedef enum clf_gemm_provider {
    CLF_GEMM_AUTO = 0,    /* per device and shape class, by a short cached measurement
                             (CPU devices: builtin, not measured); CLFORMER_GEMM=
                             clblast|builtin overrides, =measure measures on CPUs too */
    CLF_GEMM_CLBLAST = 1, /* CLBlastSgemm / SgemmStridedBatched / Hgemm (f32 or, with
                             cl_khr_fp16, all-f16 operands; no epilogue: applied after) */
    CLF_GEMM_BUILTIN = 2, /* our register-tiled kernel, or the GEMV kernel for M <= 8 */
} clf_gemm_provider;

typedef struct clf_gemm_params {
    bool trans_a;              /* A is stored (K, M) */
    bool trans_b;              /* B is stored (N, K): the layout of a torch Linear weight */
    float alpha;               /* 0 = 1.0 */
    float beta;                /* 0 = C is written, never read (it may hold garbage) */
    const clf_tensor *bias;    /* NULL or (N): added to every row after alpha * A B + beta C */
    clf_act act;               /* applied last */
    clf_gemm_provider provider;
    const struct clf_gemm_norm *norm; /* NULL, or A is a norm of a (clf_gemm_norm, below) */
} clf_gemm_params;

CLF_API clf_gemm_params clf_gemm_params_default(void);

/*
 * C = act(alpha * op(A) op(B) + beta * C + bias).
 * op(A) is (M, K), op(B) is (K, N), C is (M, N). A and C are 2-D, or 3-D with
 * a leading batch dimension; B is 2-D (shared by every batch) or 3-D. The
 * innermost dimension of each must be contiguous (stride 1); row and batch
 * strides are free (views of a larger tensor work). Storage f32 or f16 for
 * each operand independently. B may also be CLF_Q8 (tensor.h) when it is the
 * 2-D (N, K) weight of y = x B^T (trans_b): whole rows of its buffer (row
 * slices are fine, column slices are CLF_ERR_UNSUPPORTED); the builtin
 * kernels dequantise it in the kernel (f32 arithmetic, one scale per output
 * column applied to the accumulated sum). CLBlast takes no q8: auto runs
 * builtin, an explicit CLF_GEMM_CLBLAST is CLF_ERR_UNSUPPORTED.
 */
CLF_API clf_status clf_gemm(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                            clf_tensor *c, const clf_gemm_params *params);

/*
 * Packs a GEMM weight once for the CPU kernels. w is a 2-D (N, K) f32, f16
 * or Q8 tensor with contiguous rows (the nn.Linear layout, b of y = x w^T;
 * a Q8 one whole rows of its buffer); *out
 * receives a new tensor of the same dtype and shape (N, K) whose buffer holds
 * w in the register micro-kernel's panel layout (docs/gemm_kernels.md,
 * "Packed B": panels of RN rows, K in steps of RV, each step RN vectors of RV
 * floats back to back, zero-padded), so a product reads it as one contiguous
 * stream. A Q8 w is packed with its rows interleaved in groups of the GEMV's
 * columns per work-item, K in steps of 16, its scales copied (docs/gemm_kernels.md);
 * the GEMV and the register kernel read it; clf_tensor_read_q8 and the other
 * Q8 transfers refuse it. RN and RV are the context's kernel profile's (the tile of the CPU
 * register kernel); a packed tensor is tied to the context that made it.
 * Free it with clf_tensor_free(); w is not changed and may be freed after the
 * call (the copy is enqueued before it returns).
 *
 * Use: clf_gemm(ctx, x, packed, y, &p) with p.trans_b = true and the whole
 * packed tensor as b (no view of it), any provider but CLBlast (auto takes
 * the builtin one; CLF_GEMM_CLBLAST is CLF_ERR_UNSUPPORTED), any M (the
 * register kernel reads it at M = 1 too), every epilogue; clf_embedding
 * also takes it whole as its table (a tied output head packed for the LM-head
 * product is the token table too). Every other op, and clf_gemm with the
 * packed tensor as a or c or without trans_b, refuses it with
 * CLF_ERR_UNSUPPORTED: its elements are not where its strides say.
 * clf_tensor_read of it returns the packed bytes.
 *
 * Returns CLF_ERR_INVALID_ARG (NULL ctx, w or out), CLF_ERR_DTYPE (w not f32,
 * f16 or Q8), CLF_ERR_SHAPE (w not 2-D or rows not contiguous),
 * CLF_ERR_UNSUPPORTED (w already packed, or the packed form would span 2^31
 * elements or more), CLF_ERR_DEVICE_MEMORY; on failure *out is zeroed.
 * Threads: as every call on ctx (context.h, "Threads").
 */
CLF_API clf_status clf_gemm_pack_b(clf_context *ctx, const clf_tensor *w, clf_tensor *out);

/* True when t is a packed GEMM weight made by clf_gemm_pack_b. Any thread. */
CLF_API bool clf_tensor_is_packed(const clf_tensor *t);

/* The provider `auto` picks for (M, N, K) with these dtypes on this context's
 * device, measuring once (< 10 s on PoCL, CLBlast's own first compile aside)
 * and caching the choice beside the kernel binaries. */
CLF_API clf_status clf_gemm_choose(clf_context *ctx, int64_t m, int64_t n, int64_t k,
                                   clf_dtype a_dtype, clf_dtype b_dtype,
                                   clf_gemm_provider *out);

/* ======================== int8 x int8 (gemm_i8) ======================== */

/*
 * Dynamic int8 activations: each row of a (f32 or f16, 2-D (rows, K),
 * contiguous rows) is quantised on the device into the whole Q8 tensor q
 * (rows, K), made by clf_tensor_create(ctx, CLF_Q8, ...): scale = max |row|
 * / 127, code = rint(x / scale) within [-127, 127] (the rule of
 * clf_quantize_q8; a device's f32 division may round the quotient
 * differently from the host's, so a code can differ from the host
 * quantiser's by one where x / scale falls within an ulp of a half).
 * Errors: NULL or another context's tensor CLF_ERR_INVALID_ARG /
 * CLF_ERR_CONTEXT; a dtype other than f32/f16 (a) or q8 (q) CLF_ERR_DTYPE;
 * shapes that differ, a view of q, or rows of a that are not contiguous
 * CLF_ERR_SHAPE. Thread rules: as every op (the context's thread).
 */
CLF_API clf_status clf_quantize_rows_q8(clf_context *ctx, const clf_tensor *a, clf_tensor *q);

/*
 * C = act(A B^T + bias) with integer products: a is a Q8 tensor (M, K) (one
 * scale per row, e.g. from clf_quantize_rows_q8), b the Q8 weight (N, K), c
 * f32 (M, N) with contiguous rows; element (m, n) is the exact int32 sum of
 * code products times scale_a[m] * scale_b[n] (one f32 rounding in the
 * scales' product and one in the sum's conversion above 2^24), plus bias[n].
 * Both operands whole tensors from row 0 or row slices (whole rows). params
 * may be NULL; trans_b must be true when given, trans_a false, alpha 1 (or
 * 0 = default), beta 0; bias f32 or f16 (N); act any (applied as a second
 * op). K must be below 133,000 (int32 sums cannot overflow). Where the
 * device has cl_khr_integer_dot_product and the profile says so
 * (gemm_i8_dot), four products at a time use dot on char4.
 * clf_gemm itself takes this path for a Q8 b and M <= gemv_max_m when the
 * profile's gemm_i8 is set (quantising a's rows into a scratch buffer).
 * Errors: as clf_gemm, and CLF_ERR_UNSUPPORTED for alpha, beta, trans_a or K
 * outside the above. Thread rules: as every op.
 */
CLF_API clf_status clf_gemm_i8(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                               clf_tensor *c, const clf_gemm_params *params);

/* ============================== softmax =============================== */

typedef struct clf_softmax_params {
    float scale;            /* multiplies x before the softmax; 0 = 1.0 */
    const clf_tensor *mask; /* NULL, or additive f32/f16 (rows, cols) added to every
                               leading batch: -inf (or a large negative) masks */
    bool causal;            /* row r of a (rows, cols) block sees columns <= r + cols - rows */
    bool log;               /* log-softmax */
} clf_softmax_params;

/* y = softmax(scale * x + mask) over the last dimension (up to 65536), x and
 * y of the same shape (1-4 dims; y may be x). Stable: subtracts the row
 * maximum. A row with every column masked gives zeros (log: -inf). */
CLF_API clf_status clf_softmax(clf_context *ctx, const clf_tensor *x, clf_tensor *y,
                               const clf_softmax_params *params);

/* =============================== norms ================================ */

typedef enum clf_norm_type {
    CLF_NORM_LAYER = 0, /* (x - mean) / sqrt(var + eps) * gamma + beta */
    CLF_NORM_RMS = 1,   /* x / sqrt(mean(x^2) + eps) * gamma (beta must be NULL) */
} clf_norm_type;

typedef struct clf_norm_params {
    clf_norm_type type;
    float eps;                  /* 0 = 1e-5 */
    const clf_tensor *residual; /* NULL, or same shape as x: s = x + residual is normalised */
    clf_tensor *sum_out;        /* NULL, or same shape: receives s (the pre-LN residual stream) */
} clf_norm_params;

/* y = norm(x [+ residual]) over the last dimension (size D); gamma and beta
 * are (D) (beta may be NULL). Post-LN block: residual = sublayer input,
 * sum_out = NULL. Pre-LN block: sum_out keeps x + residual for the next add.
 * y may be x. */
CLF_API clf_status clf_norm(clf_context *ctx, const clf_tensor *x, const clf_tensor *gamma,
                            const clf_tensor *beta, clf_tensor *y, const clf_norm_params *params);

/* A norm folded into clf_gemm (clf_gemm_params.norm): the product takes
 * A = norm(a [+ residual]) as clf_norm(a, gamma, beta, normed, &norm) defines
 * it, and norm.sum_out gets a + residual when given. normed (a's shape and
 * dtype) is where A goes when the norm is not folded; its contents are
 * unspecified afterwards either way. Folded (one launch, normed untouched):
 * where clf_gemm takes the walking GEMV (M 1, a Q4 or row-interleaved Q8
 * weight, the builtin provider, the CPU kernel family) and a, residual,
 * sum_out, gamma and beta are f32, contiguous, 2-D (1, K) and (K), with
 * sum_out overlapping none of the others. Otherwise clf_norm then clf_gemm
 * run, with their own checks and errors. A decode step's pre-norm and its
 * projection (GPT-2: the norm before QKV, before the FFN and before the
 * head) are one launch instead of two. */
typedef struct clf_gemm_norm {
    clf_norm_params norm;
    const clf_tensor *gamma, *beta; /* (K); beta may be NULL */
    clf_tensor *normed;
} clf_gemm_norm;

/* ============================ elementwise ============================= */

/* y = act(x), same shape; y may be x. */
CLF_API clf_status clf_activation(clf_context *ctx, clf_act act, const clf_tensor *x,
                                  clf_tensor *y);
/* y = a + b. b has a's shape (residual add) or is broadcast along a's leading
 * dimensions: b (N) for a (..., N) is a bias add. y may be a. */
CLF_API clf_status clf_add(clf_context *ctx, const clf_tensor *a, const clf_tensor *b,
                           clf_tensor *y);
/* y = s * x; y may be x. */
CLF_API clf_status clf_scale(clf_context *ctx, const clf_tensor *x, float s, clf_tensor *y);

/* ============================= embeddings ============================= */

typedef enum clf_pos_type {
    CLF_POS_NONE = 0,
    CLF_POS_LEARNED = 1,           /* rows of pos_table */
    CLF_POS_SINUSOIDAL = 2,        /* "Attention Is All You Need": sin at even, cos at odd columns */
    CLF_POS_SINUSOIDAL_CONCAT = 3, /* Marian (HF MarianSinusoidalPositionalEmbedding): sin in the
                                      first ceil(D/2) columns, cos in the rest */
} clf_pos_type;
/* Sinusoidal columns for position p, width D, angle(i) = p / 10000^(2i / D):
 *   CLF_POS_SINUSOIDAL:        out[2i] = sin(angle(i)), out[2i+1] = cos(angle(i));
 *   CLF_POS_SINUSOIDAL_CONCAT: with h = ceil(D/2), out[c] = sin(angle(c)) for c < h and
 *                              out[c] = cos(angle(c - h)) for c >= h.
 * The CONCAT layout is HF Marian's; fairseq's SinusoidalPositionalEmbedding
 * uses the frequency exp(-i ln(10000) / (D/2 - 1)) instead, which this does
 * not reproduce. Computed in f32 on the device: the angle's absolute error
 * grows like p * 1e-7 (measured NMSE about 1e-9 against float64 at
 * p = 4095), as for a table computed in f32 on the host. */

typedef struct clf_embed_params {
    float scale;                 /* multiplies the token embedding (sqrt(d_model) in the paper); 0 = 1.0 */
    clf_pos_type positions;
    const clf_tensor *pos_table; /* (max_positions, D) for CLF_POS_LEARNED */
    int64_t pos_offset;          /* position of the first token: the decode step, or BART's 2 */
    const clf_tensor *row_positions; /* NULL, or (B) i32: row b starts at pos_offset +
                                        row_positions[b] (continuous batching) */
} clf_embed_params;

/* out[b, s, :] = scale * table[ids[b, s], :] + pos(pos_offset + s).
 * table (V, D) f32/f16, or Q8 (tensor.h: whole rows, then out and pos_table need unit
 * column strides, else CLF_ERR_UNSUPPORTED; each row is code * its scale), or
 * a packed f32/f16/Q8 GEMM weight (clf_gemm_pack_b; whole, with the same unit
 * strides, else CLF_ERR_UNSUPPORTED); ids (B, S) or (S) i32; out (B, S, D) or
 * (S, D) f32/f16; pos_table (P, D) f32/f16, read only for CLF_POS_LEARNED. Any
 * strides. params NULL = all defaults (scale 1, no positions).
 * An id outside [0, V) is never read: its row is written as zeros (no
 * position added) and the next clf_context_finish() or blocking read returns
 * CLF_ERR_OUT_OF_RANGE naming the id and its flat position b * S + s (the
 * first such id when several are bad); the call itself returns CLF_OK.
 * A position past a learned table (pos_offset + S > P) or a negative
 * pos_offset is CLF_ERR_OUT_OF_RANGE now. out overlapping an input is
 * CLF_ERR_INVALID_ARG.
 * Per-row positions (params->row_positions, a (B) i32 tensor, any stride;
 * another shape is CLF_ERR_SHAPE, another dtype CLF_ERR_DTYPE): token s of
 * row b gets position pos_offset + row_positions[b] + s, so the rows of a
 * continuous batch each sit at their own position. Those values live on the
 * device and are checked there: a row whose position is negative, or past a
 * learned table, is written as zeros (no table read) and the next
 * clf_context_finish() or blocking read returns CLF_ERR_OUT_OF_RANGE naming
 * the position and the row; the call itself returns CLF_OK. */
CLF_API clf_status clf_embedding(clf_context *ctx, const clf_tensor *table, const clf_tensor *ids,
                                 clf_tensor *out, const clf_embed_params *params);

/* Writes the sinusoidal table for positions offset .. offset+S-1 into out
 * (S, D) f32/f16. type is CLF_POS_SINUSOIDAL or CLF_POS_SINUSOIDAL_CONCAT
 * (else CLF_ERR_INVALID_ARG); a negative offset is CLF_ERR_OUT_OF_RANGE. */
CLF_API clf_status clf_positional_encoding(clf_context *ctx, clf_pos_type type, int64_t offset,
                                           clf_tensor *out);

/* ============================= attention ============================== */

typedef enum clf_attn_impl {
    CLF_ATTN_AUTO = 0,    /* fused; the split-key decode kernel when q_len is small */
    CLF_ATTN_FUSED = 1,   /* online softmax over K/V tiles in local memory */
    CLF_ATTN_DECODE = 2,  /* keys split across work-groups, then combined */
    CLF_ATTN_UNFUSED = 3, /* reference: GEMM, softmax, GEMM through a (B, H, Lq, Lk) scratch */
} clf_attn_impl;

typedef struct clf_attention_params {
    float scale;                /* 0 = 1 / sqrt(head_dim) */
    bool causal;                /* query i sees keys j <= i + kv_len - q_len */
    const clf_tensor *key_lens; /* NULL, or (B) i32: keys j >= key_lens[b] are padding */
    clf_attn_impl impl;
    const clf_tensor *cache_rows; /* NULL, or (B, Lk) i32: K/V row of key j for batch entry b */
    /* NULL, or a step's new keys and values (B, n, H, Dh), k's dtype: written into k and v
     * at positions [append_pos, append_pos + n) first (clf_kv_append's result), then
     * attended (see below). Both or neither. */
    const clf_tensor *k_new, *v_new;
    int64_t append_pos;
} clf_attention_params;

/* Scaled dot-product multi-head attention. q (B, Lq, H, Dh), k and v
 * (B, Lk, H, Dh), o (B, Lq, H, Dh); head_dim innermost and contiguous, other
 * strides free, so q, k, v can be slices of one fused QKV projection and k, v
 * views of a KV cache with spare capacity. Cross-attention: Lq != Lk. Head
 * dims 32, 64, 80, 128 (any multiple of 8 up to 256). A query with no visible
 * key gets zeros.
 *
 * Cache indirection (beam search): with params->cache_rows, a (B, Lk) i32
 * tensor (row stride free, Lk axis contiguous), key and value j of batch
 * entry b are read from batch row cache_rows[b, j] of k and v instead of row
 * b, so reordering beams updates this table and never copies the cache. k
 * and v may then have any number of rows R (the whole cache, while q's B
 * entries are, say, the tokens of a ragged batch on their sequences' rows);
 * entries are clamped to 0..R-1. Runs on the split-key decode kernels whatever the
 * q_len (impl AUTO or DECODE; FUSED and UNFUSED are CLF_ERR_UNSUPPORTED). A
 * table of another shape is CLF_ERR_SHAPE, another dtype CLF_ERR_DTYPE.
 *
 * Append (params->k_new, v_new): a decode step's K/V cache append folded into
 * its attention. k and v are then the cache views the keys are read from
 * (written at [append_pos, append_pos + n), which must lie inside them:
 * CLF_ERR_OUT_OF_RANGE otherwise); k_new and v_new (B, n, H, Dh) of k's dtype
 * and head_dim contiguous (else CLF_ERR_SHAPE / CLF_ERR_DTYPE); q, k_new and
 * v_new (which may share a fused QKV buffer) overlapping none of k, v and o
 * (CLF_ERR_INVALID_ARG).
 * With q_len 1, n 1, no cache_rows, impl AUTO or DECODE, on the CPU kernel
 * family's one-pass decode kernel, each work-item copies its head's new key
 * and value before reading the keys: one launch where clf_kv_append twice
 * and clf_attention make three; any other case runs exactly those. */
CLF_API clf_status clf_attention(clf_context *ctx, const clf_tensor *q, const clf_tensor *k,
                                 const clf_tensor *v, clf_tensor *o,
                                 const clf_attention_params *params);

/* ========================== decoding helpers ========================== */

/* idx[r] = the column of the largest x[r, :] (first on ties). x (R, V) f32/f16,
 * idx (R) i32, any strides. NaN counts as smaller than every number (a row
 * of NaN gives 0); -0 equals +0. Rows of a large V are split across
 * work-groups when R alone cannot fill the device (a second launch reduces
 * the partials, kept in the context's scratch). */
CLF_API clf_status clf_argmax(clf_context *ctx, const clf_tensor *x, clf_tensor *idx);

/* The k largest entries of each row, in descending order (ties: lower column
 * first). x (R, V) f32/f16, values (R, k) f32, indices (R, k) i32, any
 * strides, 1 <= k <= 256 (else CLF_ERR_INVALID_ARG) and k <= V (else
 * CLF_ERR_SHAPE). Order as for clf_argmax: NaN after every number (its
 * value is reported as NaN), -0 equal to +0 and reported as +0. Outputs
 * overlapping x or each other are CLF_ERR_INVALID_ARG. */
CLF_API clf_status clf_topk(clf_context *ctx, const clf_tensor *x, int64_t k,
                            clf_tensor *values, clf_tensor *indices);

/* =========================== data movement ============================ */

/* dst = src elementwise: same shape (same ndim too), any strides on either
 * side, 1-4 dims, f32 <-> f16 conversion (round to nearest even), or
 * i32 -> i32; same-dtype copies are bitwise. With permuted views this is the
 * transpose that splits and merges heads. src and dst must not overlap
 * (CLF_ERR_INVALID_ARG; the check compares the element ranges the two views
 * span, so interleaved views of one buffer count as overlapping); i32 <->
 * float is CLF_ERR_DTYPE. */
CLF_API clf_status clf_copy(clf_context *ctx, const clf_tensor *src, clf_tensor *dst);

/* KV cache append: cache (B, capacity, H, Dh) gets new (B, n, H, Dh) at
 * positions [pos, pos + n) of its second dimension; both f32/f16 (converted
 * as clf_copy does), any strides. pos < 0 or pos + n > capacity is
 * CLF_ERR_OUT_OF_RANGE. */
CLF_API clf_status clf_kv_append(clf_context *ctx, clf_tensor *cache, int64_t pos,
                                 const clf_tensor *src);

/* Per-row KV cache append (continuous batching, where every row of a batch
 * is at its own length): row b of cache (B, capacity, H, Dh) gets src[b]
 * (B, n, H, Dh) at positions [positions[b], positions[b] + n). positions is
 * a (B) i32 tensor on the device (any stride); cache and src f32/f16
 * (converted as clf_copy does), Dh contiguous on both sides (else
 * CLF_ERR_INVALID_ARG), other strides free. The positions are read on the
 * device: a row whose positions[b] is negative or > capacity - n is not
 * written (nothing outside the cache is touched) and the next
 * clf_context_finish() or blocking read returns CLF_ERR_OUT_OF_RANGE naming
 * the row and its position; the call itself returns CLF_OK. Shapes that
 * disagree are CLF_ERR_SHAPE; src overlapping the cache is
 * CLF_ERR_INVALID_ARG. */
CLF_API clf_status clf_kv_append_rows(clf_context *ctx, clf_tensor *cache,
                                      const clf_tensor *positions, const clf_tensor *src);

/* Per-row KV cache append into named cache rows (ragged batches, where the
 * rows of src are tokens of many sequences): row b of src (B, n, H, Dh) goes
 * to row rows[b] of cache (R, capacity, H, Dh) at positions [positions[b],
 * positions[b] + n); R and B are independent. rows is a (B) i32 tensor on
 * the device (any stride; NULL = clf_kv_append_rows); as the positions, its
 * values are checked there: a row naming a cache row outside [0, R) is not
 * written and the next clf_context_finish() or blocking read returns
 * CLF_ERR_OUT_OF_RANGE naming it. Two rows of src naming the same cache row
 * and overlapping positions write in no defined order. Everything else as
 * clf_kv_append_rows. */
CLF_API clf_status clf_kv_append_at(clf_context *ctx, clf_tensor *cache, const clf_tensor *rows,
                                    const clf_tensor *positions, const clf_tensor *src);

#ifdef __cplusplus
}
#endif
#endif
