/*
 * Bench entries for the bandwidth-bound ops: softmax, layer norm (fused
 * residual), activations, embedding gather, argmax / top-k and the head
 * transpose. Each reports GB/s against the measured copy bandwidth.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench/bench.h"

typedef struct op_case {
    bench_run *r;
    int kind;
    clf_tensor x, y, z, g, b, ids, idx;
    clf_tensor xview, yview;
    int64_t k;
} op_case;

enum { K_SOFTMAX, K_NORM, K_GELU, K_ADD, K_EMBED, K_ARGMAX, K_TOPK, K_SPLIT_HEADS };

static int run_op(void *p)
{
    op_case *c = p;
    clf_context *ctx = c->r->ctx;
    clf_status st = CLF_OK;
    switch (c->kind) {
    case K_SOFTMAX: {
        clf_softmax_params sp = {.scale = 0.125f};
        st = clf_softmax(ctx, &c->x, &c->y, &sp);
        break;
    }
    case K_NORM: {
        clf_norm_params np = {.type = CLF_NORM_LAYER, .residual = &c->z};
        st = clf_norm(ctx, &c->x, &c->g, &c->b, &c->y, &np);
        break;
    }
    case K_GELU: st = clf_activation(ctx, CLF_ACT_GELU, &c->x, &c->y); break;
    case K_ADD: st = clf_add(ctx, &c->x, &c->z, &c->y); break;
    case K_EMBED: {
        clf_embed_params ep = {.positions = CLF_POS_SINUSOIDAL};
        st = clf_embedding(ctx, &c->x, &c->ids, &c->y, &ep);
        break;
    }
    case K_ARGMAX: st = clf_argmax(ctx, &c->x, &c->idx); break;
    case K_TOPK: st = clf_topk(ctx, &c->x, c->k, &c->y, &c->idx); break;
    case K_SPLIT_HEADS: st = clf_copy(ctx, &c->xview, &c->y); break;
    }
    if (st != CLF_OK) return bench_fail(c->r, "op", st);
    return 0;
}

static void free_case(op_case *c)
{
    clf_tensor *all[] = {&c->x, &c->y, &c->z, &c->g, &c->b, &c->ids, &c->idx};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (all[i]->buffer) clf_tensor_free(all[i]);
}

static void run_case(op_case *c, bench_result *res)
{
    if (bench_time(c->r, run_op, c, res) == 0) bench_report(c->r, res);
    free_case(c);
}

static void softmax_case(bench_run *r, int64_t rows, int64_t cols, const char *label)
{
    op_case c = {.r = r, .kind = K_SOFTMAX};
    int64_t shape[2] = {rows, cols};
    if (bench_tensor(r, CLF_F32, 2, shape, 1, &c.x) || bench_tensor(r, CLF_F32, 2, shape, 2, &c.y)) { free_case(&c); return; }
    bench_result res = {.entry = "softmax", .bytes = 2.0 * rows * cols * 4};
    snprintf(res.name, sizeof res.name, "f32 %s", label);
    snprintf(res.shape, sizeof res.shape, "rows=%lld cols=%lld", (long long)rows, (long long)cols);
    run_case(&c, &res);
}

static void norm_case(bench_run *r, int64_t rows, int64_t d)
{
    op_case c = {.r = r, .kind = K_NORM};
    int64_t shape[2] = {rows, d};
    if (bench_tensor(r, CLF_F32, 2, shape, 1, &c.x) || bench_tensor(r, CLF_F32, 2, shape, 2, &c.z) ||
        bench_tensor(r, CLF_F32, 2, shape, 3, &c.y) || bench_tensor(r, CLF_F32, 1, &d, 4, &c.g) ||
        bench_tensor(r, CLF_F32, 1, &d, 5, &c.b))
        { free_case(&c); return; }
    bench_result res = {.entry = "norm", .bytes = 3.0 * rows * d * 4};
    snprintf(res.name, sizeof res.name, "layer+residual f32");
    snprintf(res.shape, sizeof res.shape, "rows=%lld D=%lld", (long long)rows, (long long)d);
    run_case(&c, &res);
}

static void eltwise_case(bench_run *r, int kind, int64_t rows, int64_t d)
{
    op_case c = {.r = r, .kind = kind};
    int64_t shape[2] = {rows, d};
    if (bench_tensor(r, CLF_F32, 2, shape, 1, &c.x) || bench_tensor(r, CLF_F32, 2, shape, 2, &c.y) ||
        (kind == K_ADD && bench_tensor(r, CLF_F32, 2, shape, 3, &c.z)))
        { free_case(&c); return; }
    bench_result res = {.entry = "eltwise", .bytes = (kind == K_ADD ? 3.0 : 2.0) * rows * d * 4};
    snprintf(res.name, sizeof res.name, kind == K_ADD ? "residual add f32" : "gelu f32");
    snprintf(res.shape, sizeof res.shape, "%lldx%lld", (long long)rows, (long long)d);
    run_case(&c, &res);
}

static void embed_case(bench_run *r, int64_t batch, int64_t seq, int64_t vocab, int64_t d)
{
    op_case c = {.r = r, .kind = K_EMBED};
    int64_t tshape[2] = {vocab, d}, ishape[2] = {batch, seq}, oshape[3] = {batch, seq, d};
    if (bench_tensor(r, CLF_F32, 2, tshape, 1, &c.x) || bench_tensor(r, CLF_I32, 2, ishape, 2, &c.ids) ||
        bench_tensor(r, CLF_F32, 3, oshape, 3, &c.y))
        { free_case(&c); return; }
    bench_result res = {.entry = "embed", .bytes = 2.0 * batch * seq * d * 4 + batch * seq * 4};
    snprintf(res.name, sizeof res.name, "gather+sinusoid f32");
    snprintf(res.shape, sizeof res.shape, "B=%lld S=%lld V=%lld D=%lld", (long long)batch,
             (long long)seq, (long long)vocab, (long long)d);
    run_case(&c, &res);
}

static void topk_case(bench_run *r, int kind, int64_t rows, int64_t vocab, int64_t k)
{
    op_case c = {.r = r, .kind = kind, .k = k};
    int64_t shape[2] = {rows, vocab}, kshape[2] = {rows, k};
    if (bench_tensor(r, CLF_F32, 2, shape, 1, &c.x) ||
        (kind == K_TOPK ? bench_tensor(r, CLF_F32, 2, kshape, 2, &c.y) ||
                              bench_tensor(r, CLF_I32, 2, kshape, 3, &c.idx)
                        : bench_tensor(r, CLF_I32, 1, &rows, 3, &c.idx)))
        { free_case(&c); return; }
    bench_result res = {.entry = "topk", .bytes = (double)rows * vocab * 4};
    snprintf(res.name, sizeof res.name, kind == K_TOPK ? "top-%lld f32" : "argmax f32",
             (long long)k);
    snprintf(res.shape, sizeof res.shape, "rows=%lld V=%lld", (long long)rows, (long long)vocab);
    run_case(&c, &res);
}

static void split_heads_case(bench_run *r, int64_t batch, int64_t seq, int64_t heads, int64_t hd)
{
    op_case c = {.r = r, .kind = K_SPLIT_HEADS};
    int64_t in[4] = {batch, seq, heads, hd}, out[4] = {batch, heads, seq, hd};
    if (bench_tensor(r, CLF_F32, 4, in, 1, &c.x) || bench_tensor(r, CLF_F32, 4, out, 2, &c.y))
        { free_case(&c); return; }
    if (clf_tensor_permute(&c.x, (const int[]){0, 2, 1, 3}, &c.xview) != CLF_OK) { free_case(&c); return; }
    bench_result res = {.entry = "copy", .bytes = 2.0 * batch * seq * heads * hd * 4};
    snprintf(res.name, sizeof res.name, "split heads f32");
    snprintf(res.shape, sizeof res.shape, "B=%lld S=%lld H=%lld Dh=%lld", (long long)batch,
             (long long)seq, (long long)heads, (long long)hd);
    run_case(&c, &res);
}

int bench_ops(bench_run *r)
{
    softmax_case(r, 12 * 128, 128, "BERT scores b1");
    norm_case(r, 128, 768);
    eltwise_case(r, K_GELU, 128, 3072);
    eltwise_case(r, K_ADD, 128, 768);
    embed_case(r, 1, 128, 30522, 768);
    topk_case(r, K_ARGMAX, 1, 32000, 1);
    topk_case(r, K_TOPK, 4, 32000, 4);
    split_heads_case(r, 1, 128, 12, 64);
    if (r->quick) return 0;
    softmax_case(r, 8 * 512, 512, "Lq=Lk=512 h8");
    norm_case(r, 32 * 128, 768);
    eltwise_case(r, K_GELU, 32 * 128, 3072);
    embed_case(r, 32, 128, 30522, 768);
    topk_case(r, K_TOPK, 16, 50257, 4);
    split_heads_case(r, 32, 128, 12, 64);
    return 0;
}
