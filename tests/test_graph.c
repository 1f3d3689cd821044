/*
 * Device tests of the graph executor: an MLP block and an attention block
 * built as graphs give the numbers of the same ops called directly (NMSE
 * < 1e-10: the same kernels on the same inputs, so in practice bitwise);
 * smaller B and S than declared run on the same plan with no new buffer and
 * no program build; a run makes no host synchronisation; shape errors name
 * the node; a 5-layer encoder (60 nodes) plans within 1.2x of the lower
 * bound, and its plan, memory figures and per-node profile are printed.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"

#define EACH_DEVICE(spec)                                                                          \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (const char *spec = specs_[d_]; spec; spec = NULL)

enum { D = 64, H = 2, DH = 32, DFF = 128, MAXB = 2, MAXS = 16 };

#define OK(expr)                                                                                   \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                     \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

static clf_dim SB(void) { return clf_dim_mul(clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S)); }
static clf_dim C(int64_t c) { return clf_dim_const(c); }

/* A random f32 tensor of the given shape. */
static clf_tensor rand_tensor(clf_context *ctx, clft_rng *r, int ndim, const int64_t *shape)
{
    clf_tensor t;
    OK(clf_tensor_create(ctx, CLF_F32, ndim, shape, &t));
    int64_t n = clf_tensor_numel(&t);
    float *h = malloc((size_t)n * sizeof *h);
    clft_fill_uniform(r, h, (size_t)n, -0.5f, 0.5f);
    OK(clf_tensor_write_f32(ctx, &t, h, n));
    free(h);
    return t;
}

static float *read_all(clf_context *ctx, const clf_tensor *t)
{
    int64_t n = clf_tensor_numel(t);
    float *h = malloc((size_t)n * sizeof *h);
    OK(clf_tensor_read_f32(ctx, t, h, n));
    return h;
}

static double nmse_f(const float *out, const float *ref, size_t n)
{
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; i < n; i++) r[i] = ref[i];
    double e = clft_nmse(out, r, n);
    free(r);
    return e;
}

/* One encoder layer's weights (torch Linear layout: (out, in)). */
typedef struct layer_w {
    clf_tensor wqkv, bqkv, wo, bo, g1, be1, w1, b1, w2, b2, g2, be2;
} layer_w;

static layer_w make_layer(clf_context *ctx, clft_rng *r)
{
    layer_w w;
    w.wqkv = rand_tensor(ctx, r, 2, (int64_t[]){3 * D, D});
    w.bqkv = rand_tensor(ctx, r, 1, (int64_t[]){3 * D});
    w.wo = rand_tensor(ctx, r, 2, (int64_t[]){D, D});
    w.bo = rand_tensor(ctx, r, 1, (int64_t[]){D});
    w.g1 = rand_tensor(ctx, r, 1, (int64_t[]){D});
    w.be1 = rand_tensor(ctx, r, 1, (int64_t[]){D});
    w.w1 = rand_tensor(ctx, r, 2, (int64_t[]){DFF, D});
    w.b1 = rand_tensor(ctx, r, 1, (int64_t[]){DFF});
    w.w2 = rand_tensor(ctx, r, 2, (int64_t[]){D, DFF});
    w.b2 = rand_tensor(ctx, r, 1, (int64_t[]){D});
    w.g2 = rand_tensor(ctx, r, 1, (int64_t[]){D});
    w.be2 = rand_tensor(ctx, r, 1, (int64_t[]){D});
    return w;
}

static void free_layer(layer_w *w)
{
    clf_tensor *all[] = {&w->wqkv, &w->bqkv, &w->wo, &w->bo, &w->g1, &w->be1,
                         &w->w1,   &w->b1,   &w->w2, &w->b2, &w->g2, &w->be2};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clf_tensor_free(all[i]);
}

static int32_t W(clf_context *ctx, clf_graph *g, const clf_tensor *t)
{
    int32_t id = 0;
    OK(clf_graph_weight(g, NULL, t, &id));
    return id;
}

/* A post-LN encoder layer on h (B*S, D) as graph nodes; returns the result. */
static int32_t graph_layer(clf_context *ctx, clf_graph *g, const layer_w *w, int32_t h)
{
    clf_graph_gemm_params lin = {.trans_b = true};
    int32_t qkv, q4, q, k, v, o, o2, a, n1, f1, f2, n2;
    lin.bias = W(ctx, g, &w->bqkv);
    OK(clf_graph_gemm(g, h, W(ctx, g, &w->wqkv), &lin, &qkv));
    clf_dim s4[4] = {clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S), C(3 * H), C(DH)};
    OK(clf_graph_reshape(g, qkv, 4, s4, &q4));
    OK(clf_graph_slice(g, q4, 2, 0, C(H), &q));
    OK(clf_graph_slice(g, q4, 2, H, C(H), &k));
    OK(clf_graph_slice(g, q4, 2, 2 * H, C(H), &v));
    clf_graph_attention_params ap = {.causal = true};
    OK(clf_graph_attention(g, q, k, v, &ap, &o));
    clf_dim flat[2] = {SB(), C(D)};
    OK(clf_graph_reshape(g, o, 2, flat, &o2));
    lin.bias = W(ctx, g, &w->bo);
    OK(clf_graph_gemm(g, o2, W(ctx, g, &w->wo), &lin, &a));
    clf_graph_norm_params np = {.residual = h};
    OK(clf_graph_norm(g, a, W(ctx, g, &w->g1), W(ctx, g, &w->be1), &np, &n1, NULL));
    lin.bias = W(ctx, g, &w->b1);
    lin.act = CLF_ACT_GELU;
    OK(clf_graph_gemm(g, n1, W(ctx, g, &w->w1), &lin, &f1));
    lin.bias = W(ctx, g, &w->b2);
    lin.act = CLF_ACT_NONE;
    OK(clf_graph_gemm(g, f1, W(ctx, g, &w->w2), &lin, &f2));
    np.residual = n1;
    OK(clf_graph_norm(g, f2, W(ctx, g, &w->g2), W(ctx, g, &w->be2), &np, &n2, NULL));
    return n2;
}

/* The same layer through direct op calls on fresh tensors; h is (B*S, D)
 * and is replaced by the result. */
static void direct_layer(clf_context *ctx, const layer_w *w, clf_tensor *h, int64_t b, int64_t s)
{
    int64_t m = b * s;
    clf_tensor qkv, o, a, n1, f1, f2, n2, q4, q, k, v, o2;
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, 3 * D}, &qkv));
    OK(clf_tensor_create(ctx, CLF_F32, 4, (int64_t[]){b, s, H, DH}, &o));
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, D}, &a));
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, D}, &n1));
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, DFF}, &f1));
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, D}, &f2));
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, D}, &n2));
    clf_gemm_params lin = clf_gemm_params_default();
    lin.trans_b = true;
    lin.bias = &w->bqkv;
    OK(clf_gemm(ctx, h, &w->wqkv, &qkv, &lin));
    OK(clf_tensor_reshape(&qkv, 4, (int64_t[]){b, s, 3 * H, DH}, &q4));
    OK(clf_tensor_slice(&q4, 2, 0, H, &q));
    OK(clf_tensor_slice(&q4, 2, H, H, &k));
    OK(clf_tensor_slice(&q4, 2, 2 * H, H, &v));
    clf_attention_params ap = {0};
    ap.causal = true;
    OK(clf_attention(ctx, &q, &k, &v, &o, &ap));
    OK(clf_tensor_reshape(&o, 2, (int64_t[]){m, D}, &o2));
    lin.bias = &w->bo;
    OK(clf_gemm(ctx, &o2, &w->wo, &a, &lin));
    clf_norm_params np = {0};
    np.residual = h;
    OK(clf_norm(ctx, &a, &w->g1, &w->be1, &n1, &np));
    lin.bias = &w->b1;
    lin.act = CLF_ACT_GELU;
    OK(clf_gemm(ctx, &n1, &w->w1, &f1, &lin));
    lin.bias = &w->b2;
    lin.act = CLF_ACT_NONE;
    OK(clf_gemm(ctx, &f1, &w->w2, &f2, &lin));
    np.residual = &n1;
    OK(clf_norm(ctx, &f2, &w->g2, &w->be2, &n2, &np));
    clf_tensor *tmp[] = {&qkv, &o, &a, &n1, &f1, &f2, h};
    for (size_t i = 0; i < sizeof tmp / sizeof tmp[0]; i++) clf_tensor_free(tmp[i]);
    *h = n2;
}

/* Builds an n_layers encoder graph on input x (B*S, D); returns the graph. */
static clf_graph *encoder(clf_context *ctx, const layer_w *ws, int n_layers, int32_t *x, int32_t *y)
{
    clf_graph *g = NULL;
    clf_graph_params p = {{MAXB, MAXS, 0}};
    OK(clf_graph_create(ctx, &p, &g));
    clf_dim flat[2] = {SB(), C(D)};
    OK(clf_graph_input(g, "x", CLF_F32, 2, flat, x));
    int32_t h = *x;
    for (int l = 0; l < n_layers; l++) h = graph_layer(ctx, g, &ws[l], h);
    OK(clf_graph_output(g, h, "y"));
    *y = h;
    return g;
}

static void check_against_direct(clf_context *ctx, clf_graph *g, const layer_w *ws, int n_layers,
                                 int32_t x, int32_t y, int64_t b, int64_t s, clft_rng *r)
{
    int64_t m = b * s;
    float *hx = malloc((size_t)(m * D) * sizeof *hx);
    clft_fill_uniform(r, hx, (size_t)(m * D), -1.0f, 1.0f);
    clf_graph_binding bind = {.tensor = x, .host = hx, .bytes = (size_t)(m * D) * 4};
    clf_graph_run_params rp = {{b, s, 0}, 0, &bind, 1};
    long buffers0, buffers1;
    clf_build_stats bs0, bs1;
    clf_context_memory(ctx, &buffers0, NULL, NULL);
    clf_context_build_stats(ctx, &bs0);
    long sync0 = clf_context_blocking_calls(ctx);
    OK(clf_graph_run(g, &rp));
    cr_assert_eq(clf_context_blocking_calls(ctx), sync0, "a graph run made a host synchronisation");
    clf_context_memory(ctx, &buffers1, NULL, NULL);
    clf_context_build_stats(ctx, &bs1);
    cr_assert_eq(buffers1, buffers0, "B=%lld S=%lld: the run allocated buffers (re-planned?)",
                 (long long)b, (long long)s);
    cr_assert_eq(bs1.programs, bs0.programs, "B=%lld S=%lld: the run built %d programs",
                 (long long)b, (long long)s, bs1.programs - bs0.programs);
    float *out = malloc((size_t)(m * D) * sizeof *out);
    OK(clf_graph_read(g, y, out, (size_t)(m * D) * 4));

    clf_tensor h;
    OK(clf_tensor_create(ctx, CLF_F32, 2, (int64_t[]){m, D}, &h));
    OK(clf_tensor_write_f32(ctx, &h, hx, m * D));
    for (int l = 0; l < n_layers; l++) direct_layer(ctx, &ws[l], &h, b, s);
    float *ref = read_all(ctx, &h);
    double e = nmse_f(out, ref, (size_t)(m * D));
    cr_assert(e < 1e-10, "seed %llu, %d layers, B=%lld S=%lld D=%d: graph vs direct ops NMSE %.3g",
              (unsigned long long)clft_seed(), n_layers, (long long)b, (long long)s, D, e);
    clf_tensor_free(&h);
    free(ref);
    free(out);
    free(hx);
}

Test(graph, an_encoder_layer_matches_the_ops_called_directly_at_any_smaller_size)
{
    EACH_DEVICE(spec) {
        clf_context *ctx = clft_context(spec, NULL);
        clft_rng r = clft_rng_make(clft_seed(), 11);
        layer_w w = make_layer(ctx, &r);
        int32_t x, y;
        clf_graph *g = encoder(ctx, &w, 1, &x, &y);
        OK(clf_graph_compile(g));
        clf_graph_memory_stats m0, m1;
        clf_graph_memory(g, &m0);
        check_against_direct(ctx, g, &w, 1, x, y, MAXB, MAXS, &r);
        check_against_direct(ctx, g, &w, 1, x, y, 1, 5, &r);
        check_against_direct(ctx, g, &w, 1, x, y, 2, 9, &r);
        clf_graph_memory(g, &m1);
        cr_assert(memcmp(&m0, &m1, sizeof m0) == 0, "the plan changed between runs");
        /* Above the declared maxima is refused, naming the symbol. */
        clf_graph_run_params big = {{MAXB, MAXS + 1, 0}, 0, NULL, 0};
        cr_assert_eq(clf_graph_run(g, &big), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_context_last_error(ctx), "S = 17"), "%s", clf_context_last_error(ctx));
        clf_graph_free(g);
        free_layer(&w);
        clf_context_free(ctx);
    }
}

Test(graph, a_device_input_binding_and_an_mlp_match_direct_ops)
{
    EACH_DEVICE(spec) {
        clf_context *ctx = clft_context(spec, NULL);
        clft_rng r = clft_rng_make(clft_seed(), 12);
        clf_tensor w1 = rand_tensor(ctx, &r, 2, (int64_t[]){D, DFF});
        clf_tensor b1 = rand_tensor(ctx, &r, 1, (int64_t[]){DFF});
        clf_graph *g = NULL;
        clf_graph_params p = {{MAXB, MAXS, 0}};
        OK(clf_graph_create(ctx, &p, &g));
        int32_t x, h, a, y, s;
        clf_dim shape[3] = {clf_dim_sym(1, CLF_SYM_B), clf_dim_sym(1, CLF_SYM_S), C(D)};
        OK(clf_graph_input(g, "x", CLF_F32, 3, shape, &x));
        clf_graph_gemm_params gp = {.bias = W(ctx, g, &b1)};
        OK(clf_graph_gemm(g, x, W(ctx, g, &w1), &gp, &h)); /* 3-D a, 2-D b */
        OK(clf_graph_activation(g, CLF_ACT_SILU, h, &a));   /* in place */
        OK(clf_graph_scale(g, a, 0.25f, &s));                /* in place */
        OK(clf_graph_softmax(g, s, NULL, &y));
        OK(clf_graph_output(g, y, "probs"));
        OK(clf_graph_compile(g));
        clf_graph_memory_stats m;
        clf_graph_memory(g, &m);
        cr_assert_eq(m.n_inplace, 2, "in place: %d", m.n_inplace);

        int64_t b = 2, sl = 7;
        clf_tensor xin = rand_tensor(ctx, &r, 3, (int64_t[]){b, sl, D});
        clf_graph_binding bind = {.tensor = x, .device = &xin};
        clf_graph_run_params rp = {{b, sl, 0}, 0, &bind, 1};
        long sync0 = clf_context_blocking_calls(ctx);
        OK(clf_graph_run(g, &rp));
        cr_assert_eq(clf_context_blocking_calls(ctx), sync0);
        clf_tensor out;
        OK(clf_graph_tensor(g, y, &out));
        cr_assert_eq(out.shape[1], sl);
        float *got = read_all(ctx, &out);

        clf_tensor t;
        OK(clf_tensor_create(ctx, CLF_F32, 3, (int64_t[]){b, sl, DFF}, &t));
        clf_gemm_params d = clf_gemm_params_default();
        d.bias = &b1;
        OK(clf_gemm(ctx, &xin, &w1, &t, &d));
        OK(clf_activation(ctx, CLF_ACT_SILU, &t, &t));
        OK(clf_scale(ctx, &t, 0.25f, &t));
        OK(clf_softmax(ctx, &t, &t, NULL));
        float *ref = read_all(ctx, &t);
        double e = nmse_f(got, ref, (size_t)(b * sl * DFF));
        cr_assert(e < 1e-10, "seed %llu B=%lld S=%lld: NMSE %.3g", (unsigned long long)clft_seed(),
                  (long long)b, (long long)sl, e);
        /* A device binding of the wrong shape names the input. */
        clf_graph_run_params wrong = {{b, sl + 1, 0}, 0, &bind, 1};
        cr_assert_eq(clf_graph_run(g, &wrong), CLF_ERR_SHAPE);
        cr_assert(strstr(clf_context_last_error(ctx), "\"x\""), "%s", clf_context_last_error(ctx));
        free(got);
        free(ref);
        clf_tensor_free(&t);
        clf_tensor_free(&xin);
        clf_tensor_free(&w1);
        clf_tensor_free(&b1);
        clf_graph_free(g);
        clf_context_free(ctx);
    }
}

Test(graph, shape_errors_name_the_node_and_the_shapes)
{
    EACH_DEVICE(spec) {
        clf_context *ctx = clft_context(spec, NULL);
        clft_rng r = clft_rng_make(clft_seed(), 13);
        clf_tensor w = rand_tensor(ctx, &r, 2, (int64_t[]){D + 1, D});
        clf_graph *g = NULL;
        clf_graph_params p = {{MAXB, MAXS, 0}};
        OK(clf_graph_create(ctx, &p, &g));
        int32_t x, a, y;
        clf_dim flat[2] = {SB(), C(D)};
        OK(clf_graph_input(g, "x", CLF_F32, 2, flat, &x));
        OK(clf_graph_activation(g, CLF_ACT_RELU, x, &a));
        clf_graph_gemm_params gp = {0}; /* not transposed: K = D + 1 != D */
        cr_assert_eq(clf_graph_gemm(g, a, W(ctx, g, &w), &gp, &y), CLF_ERR_SHAPE);
        const char *msg = clf_context_last_error(ctx);
        cr_assert(strstr(msg, "node 1 (gemm)") && strstr(msg, "(B*S, 64)") && strstr(msg, "(65, 64)"),
                  "message: %s", msg);
        cr_assert_eq(clf_graph_run(g, NULL), CLF_ERR_INVALID_ARG, "running before compile");
        clf_graph_free(g);
        clf_tensor_free(&w);
        clf_context_free(ctx);
    }
}

Test(graph, a_five_layer_encoder_plans_near_the_lower_bound_and_profiles_each_node)
{
    EACH_DEVICE(spec) {
        clf_context *ctx = clft_context_profiled(spec);
        clft_rng r = clft_rng_make(clft_seed(), 14);
        layer_w ws[5];
        for (int l = 0; l < 5; l++) ws[l] = make_layer(ctx, &r);
        int32_t x, y;
        clf_graph *g = encoder(ctx, ws, 5, &x, &y);
        cr_assert(clf_graph_node_count(g) >= 50, "%d nodes", clf_graph_node_count(g));
        OK(clf_graph_compile(g));
        clf_graph_memory_stats m;
        clf_graph_memory(g, &m);
        printf("graph: 5-layer encoder, %d nodes, B<=%d S<=%d D=%d: arena %zu bytes, activations "
               "%zu bytes without reuse, lower bound %zu bytes (arena %.3fx of it), %d/%d in place\n",
               clf_graph_node_count(g), MAXB, MAXS, D, m.arena_bytes, m.activation_bytes,
               m.lower_bound_bytes, (double)m.arena_bytes / (double)m.lower_bound_bytes,
               m.n_inplace, m.n_activations);
        cr_assert(m.arena_bytes >= m.lower_bound_bytes);
        cr_assert(m.arena_bytes * 10 <= m.lower_bound_bytes * 12, "arena %zu > 1.2x lower bound %zu",
                  m.arena_bytes, m.lower_bound_bytes);
        cr_assert(m.arena_bytes < m.activation_bytes);
        check_against_direct(ctx, g, ws, 5, x, y, MAXB, MAXS, &r);
        /* The direct ops' records are pending too: run the graph alone once more. */
        clf_profile_record drop[1];
        OK(clf_context_profile(ctx, drop, 1, &(size_t){0}));
        OK(clf_graph_run(g, &(clf_graph_run_params){{1, 8, 0}, 0, NULL, 0}));
        double sec[128] = {0};
        OK(clf_graph_profile(g, sec, 128));
        double total = 0;
        int timed = 0;
        for (int i = 0; i < clf_graph_node_count(g); i++) {
            total += sec[i];
            const char *op = clf_graph_node_op(g, i);
            if (strcmp(op, "reshape") && strcmp(op, "slice") && strcmp(op, "permute"))
                timed += sec[i] > 0;
        }
        cr_assert(total > 0 && timed > 20, "profile: %d nodes timed, %.3g s", timed, total);
        OK(clf_graph_profile_print(g, stdout));
        clf_graph_dump(g, stdout);
        FILE *dot = fopen("/dev/null", "w");
        clf_graph_write_dot(g, dot);
        fclose(dot);
        clf_graph_free(g);
        for (int l = 0; l < 5; l++) free_layer(&ws[l]);
        clf_context_free(ctx);
    }
}

/* A decoder self-attention step: kv_append into a caller-owned cache (a
 * state) at the run's position, attention over the first T cached keys.
 * Compiling leaves the cache untouched; three steps (a 4-token prefill, then
 * single tokens) match clf_kv_append + clf_attention called directly, and
 * the caches match theirs bitwise. The single-token steps fold both appends
 * into the attention (plan.c fold_appends): one launch on the CPU family,
 * whose one-pass decode kernel appends; the prefill and the GPU family launch
 * the appends themselves (three or more, from the profile). */
Test(graph, kv_append_into_a_state_follows_the_run_position)
{
    EACH_DEVICE(spec) {
        clf_context *ctx = clft_context_profiled(spec);
        bool cpu = clf_context_kernel_profile(ctx)->family == CLF_KERNELS_CPU;
        clf_profile_record rec[64];
        size_t nrec = 0;
        clft_rng r = clft_rng_make(clft_seed(), 15);
        enum { CAP = 8 };
        int64_t cshape[4] = {1, CAP, H, DH};
        clf_tensor kc, vc, kref, vref;
        OK(clf_tensor_create(ctx, CLF_F32, 4, cshape, &kc));
        OK(clf_tensor_create(ctx, CLF_F32, 4, cshape, &vc));
        OK(clf_tensor_create(ctx, CLF_F32, 4, cshape, &kref));
        OK(clf_tensor_create(ctx, CLF_F32, 4, cshape, &vref));
        OK(clf_tensor_fill(ctx, &kc, 7.0f));
        OK(clf_tensor_fill(ctx, &vc, 7.0f));
        clf_graph *g = NULL;
        clf_graph_params p = {{1, 4, CAP}};
        OK(clf_graph_create(ctx, &p, &g));
        int32_t q, kn, vn, ks, vs, kcs, vcs, o;
        clf_dim step[4] = {C(1), clf_dim_sym(1, CLF_SYM_S), C(H), C(DH)};
        OK(clf_graph_input(g, "q", CLF_F32, 4, step, &q));
        OK(clf_graph_input(g, "k", CLF_F32, 4, step, &kn));
        OK(clf_graph_input(g, "v", CLF_F32, 4, step, &vn));
        OK(clf_graph_state(g, "k_cache", &kc, &kcs));
        OK(clf_graph_state(g, "v_cache", &vc, &vcs));
        OK(clf_graph_kv_append(g, kcs, kn, 0, true));
        OK(clf_graph_kv_append(g, vcs, vn, 0, true));
        OK(clf_graph_slice(g, kcs, 1, 0, clf_dim_sym(1, CLF_SYM_T), &ks));
        OK(clf_graph_slice(g, vcs, 1, 0, clf_dim_sym(1, CLF_SYM_T), &vs));
        clf_graph_attention_params ap = {.causal = true};
        OK(clf_graph_attention(g, q, ks, vs, &ap, &o));
        OK(clf_graph_output(g, o, "o"));
        OK(clf_graph_compile(g));
        float *k0 = read_all(ctx, &kc);
        for (int i = 0; i < CAP * H * DH; i++)
            cr_assert_eq(k0[i], 7.0f, "compile wrote into the caller's cache at %d", i);
        free(k0);
        int64_t pos = 0;
        for (int s = 0; s < 3; s++) {
            int64_t n = s == 0 ? 4 : 1, t = pos + n;
            size_t cnt = (size_t)(n * H * DH);
            float *hq = malloc(cnt * 4), *hk = malloc(cnt * 4), *hv = malloc(cnt * 4);
            clft_fill_uniform(&r, hq, cnt, -1, 1);
            clft_fill_uniform(&r, hk, cnt, -1, 1);
            clft_fill_uniform(&r, hv, cnt, -1, 1);
            clf_graph_binding b[3] = {{q, NULL, hq, cnt * 4}, {kn, NULL, hk, cnt * 4}, {vn, NULL, hv, cnt * 4}};
            clf_graph_run_params rp = {{1, n, t}, pos, b, 3};
            OK(clf_context_profile(ctx, rec, 64, &nrec)); /* forget earlier launches */
            OK(clf_graph_run(g, &rp));
            OK(clf_context_profile(ctx, rec, 64, &nrec));
            if (n == 1 && cpu)
                cr_assert(nrec == 1 && strcmp(rec[0].kernel, "attn_decode_rows") == 0,
                          "step %d: %zu launches (the first %s), expected the attention alone",
                          s, nrec, nrec ? rec[0].kernel : "-");
            else
                cr_assert(nrec >= 3, "step %d: %zu launches, expected the appends and the "
                          "attention", s, nrec);
            float *got = malloc(cnt * 4);
            OK(clf_graph_read(g, o, got, cnt * 4));

            clf_tensor tq, tk, tv, to, ksl, vsl;
            int64_t sh[4] = {1, n, H, DH};
            OK(clf_tensor_create(ctx, CLF_F32, 4, sh, &tq));
            OK(clf_tensor_create(ctx, CLF_F32, 4, sh, &tk));
            OK(clf_tensor_create(ctx, CLF_F32, 4, sh, &tv));
            OK(clf_tensor_create(ctx, CLF_F32, 4, sh, &to));
            OK(clf_tensor_write_f32(ctx, &tq, hq, (int64_t)cnt));
            OK(clf_tensor_write_f32(ctx, &tk, hk, (int64_t)cnt));
            OK(clf_tensor_write_f32(ctx, &tv, hv, (int64_t)cnt));
            OK(clf_kv_append(ctx, &kref, pos, &tk));
            OK(clf_kv_append(ctx, &vref, pos, &tv));
            OK(clf_tensor_slice(&kref, 1, 0, t, &ksl));
            OK(clf_tensor_slice(&vref, 1, 0, t, &vsl));
            clf_attention_params dp = {0};
            dp.causal = true;
            OK(clf_attention(ctx, &tq, &ksl, &vsl, &to, &dp));
            float *ref = read_all(ctx, &to);
            double e = nmse_f(got, ref, cnt);
            cr_assert(e < 1e-10, "seed %llu step %d (pos %lld, n %lld): NMSE %.3g",
                      (unsigned long long)clft_seed(), s, (long long)pos, (long long)n, e);
            clf_tensor *all[] = {&tq, &tk, &tv, &to};
            for (int i = 0; i < 4; i++) clf_tensor_free(all[i]);
            free(ref);
            free(got);
            free(hq);
            free(hk);
            free(hv);
            pos = t;
        }
        float *c1[2] = {read_all(ctx, &kc), read_all(ctx, &vc)},
              *c2[2] = {read_all(ctx, &kref), read_all(ctx, &vref)};
        for (int c = 0; c < 2; c++) {
            for (int64_t i = 0; i < pos * H * DH; i++)
                cr_assert(c1[c][i] == c2[c][i], "%s cache element %lld: graph %g, direct %g",
                          c ? "value" : "key", (long long)i, c1[c][i], c2[c][i]);
            for (int64_t i = pos * H * DH; i < CAP * H * DH; i++)
                cr_assert(c1[c][i] == 7.0f, "%s cache element %lld past the steps: %g",
                          c ? "value" : "key", (long long)i, c1[c][i]);
            free(c1[c]);
            free(c2[c]);
        }
        clf_graph_free(g);
        clf_tensor *all[] = {&kc, &vc, &kref, &vref};
        for (int i = 0; i < 4; i++) clf_tensor_free(all[i]);
        clf_context_free(ctx);
    }
}
