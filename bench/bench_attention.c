/*
 * Attention bench entry: fused (online softmax over K/V tiles) against the
 * unfused reference path (GEMM, softmax, GEMM through a score matrix), time
 * and device memory in the same run; and the split-key decode step.
 */
#include <stdio.h>

#include "bench/bench.h"

typedef struct attn_case {
    bench_run *r;
    clf_tensor q, k, v, o;
    clf_attention_params p;
} attn_case;

static int run_attn(void *arg)
{
    attn_case *a = arg;
    clf_status st = clf_attention(a->r->ctx, &a->q, &a->k, &a->v, &a->o, &a->p);
    return st == CLF_OK ? 0 : bench_fail(a->r, "clf_attention", st);
}

static void attn_shape(bench_run *r, int64_t batch, int64_t heads, int64_t lq, int64_t lk,
                       int64_t hd, clf_attn_impl impl, const char *label)
{
    /* A fresh context per case so its scratch high-water mark is its own. */
    clf_context_params cp = clf_context_params_default();
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", r->dev->platform_index, r->dev->device_index);
    cp.device = spec;
    bench_run local = *r;
    if (clf_context_create(&cp, &local.ctx) != CLF_OK) {
        bench_fail(r, "attention context", CLF_ERR_NO_DEVICE);
        return;
    }
    attn_case a = {.r = &local, .p = {.impl = impl}};
    int64_t qs[4] = {batch, lq, heads, hd}, ks[4] = {batch, lk, heads, hd};
    if (bench_tensor(&local, CLF_F32, 4, qs, 1, &a.q) == 0 &&
        bench_tensor(&local, CLF_F32, 4, ks, 2, &a.k) == 0 &&
        bench_tensor(&local, CLF_F32, 4, ks, 3, &a.v) == 0 &&
        bench_tensor(&local, CLF_F32, 4, qs, 4, &a.o) == 0) {
        bench_result res = {.entry = "attention"};
        snprintf(res.name, sizeof res.name, "%s", label);
        snprintf(res.shape, sizeof res.shape, "B=%lld H=%lld Lq=%lld Lk=%lld d=%lld",
                 (long long)batch, (long long)heads, (long long)lq, (long long)lk, (long long)hd);
        res.flops = 4.0 * batch * heads * lq * lk * hd;
        res.bytes = 4.0 * batch * heads * hd * (2 * lq + 2 * lk);
        if (bench_time(&local, run_attn, &a, &res) == 0) {
            size_t tensors = 0, scratch = 0;
            clf_context_memory(local.ctx, NULL, NULL, &tensors);
            clf_context_scratch_bytes(local.ctx, &scratch);
            res.device_mem_bytes = (double)(tensors + scratch);
            bench_report(&local, &res);
        }
    }
    r->failures += local.failures;
    clf_tensor_free(&a.q);
    clf_tensor_free(&a.k);
    clf_tensor_free(&a.v);
    clf_tensor_free(&a.o);
    clf_context_free(local.ctx);
}

int bench_attention(bench_run *r)
{
    const int64_t lens[] = {128, 512, 2048};
    int n_lens = r->quick ? 2 : 3;
    for (int i = 0; i < n_lens; i++) {
        attn_shape(r, 1, 8, lens[i], lens[i], 64, CLF_ATTN_FUSED, "fused f32");
        attn_shape(r, 1, 8, lens[i], lens[i], 64, CLF_ATTN_UNFUSED, "unfused f32 (reference)");
    }
    const int64_t cache[] = {128, 512, 2048};
    for (int i = 0; i < 3; i++) attn_shape(r, 1, 12, 1, cache[i], 64, CLF_ATTN_DECODE, "decode split-key");
    if (!r->quick) attn_shape(r, 16, 8, 1, 512, 64, CLF_ATTN_DECODE, "decode split-key");
    return 0;
}
