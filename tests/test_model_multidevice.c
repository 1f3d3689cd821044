/*
 * Multi-device placement (clf_model_params.encoder_ctx): the seq2seq golden
 * with its encoder on device 0 and its decoder on device 1 gives the same
 * encoder memory, greedy ids and beam-4 ids as a one-device run and as the
 * golden; weights live only on the device that uses them; the boundary
 * costs one host sync on the encoder's context and none on the decoder's;
 * placement errors are clear. Needs two OpenCL devices: run it with
 *   POCL_DEVICES="pthread pthread" ./build/tests/test_device --filter model_multidevice/<star>
 * (tools/run-tests.sh does); with fewer it skips, saying so.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/testutil.h"
#include "model/safetensors.h"

#define OK(c, expr)                                                                                \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(c));                                                   \
    } while (0)

enum { B = 2, S = 9, D = 64, N = 12, K = 4, MB = 4, MS = 16, MT = 16 };

static const char *golden(const char *name)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s.safetensors", clft_golden_dir(), name);
    return path;
}

static int32_t *gi(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clf__st_find(st, name);
    cr_assert(t, "golden tensor %s missing", name);
    int32_t *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_read(t, x), CLF_OK, "%s", clf_context_last_error(NULL));
    return x;
}

static float *gf(const clf__safetensors *st, const char *name)
{
    const clf__st_tensor *t = clf__st_find(st, name);
    cr_assert(t, "golden tensor %s missing", name);
    float *x = malloc((size_t)t->n_elements * sizeof *x);
    cr_assert_eq(clf__st_tensor_to_f32(t, x), CLF_OK);
    return x;
}

/* Two contexts on the first two test devices, or a skip saying why. */
static void two_contexts(clf_context **c0, clf_context **c1)
{
    char specs[16][32];
    int n = clft_devices(specs, 16);
    if (n < 2)
        cr_skip_test("model_multidevice needs 2 OpenCL devices, found %d (run with "
                     "POCL_DEVICES=\"pthread pthread\"; CLFORMER_TEST_DEVICES=%s)",
                     n, getenv("CLFORMER_TEST_DEVICES") ? getenv("CLFORMER_TEST_DEVICES") : "all");
    *c0 = clft_context(specs[0], NULL);
    *c1 = clft_context(specs[1], NULL);
    printf("[multidevice] encoder on %s (%s), decoder on %s (%s)\n", specs[0],
           clf_context_device(*c0)->name, specs[1], clf_context_device(*c1)->name);
}

static clf_model *load(clf_context *ctx, clf_context *enc, const char *name)
{
    clf_model_params p = clf_model_params_default();
    p.max_batch = MB;
    p.max_source_len = MS;
    p.max_target_len = MT;
    p.encoder_ctx = enc;
    clf_model *m = NULL;
    OK(ctx, clf_model_load(ctx, golden(name), &p, &m));
    return m;
}

typedef struct run {
    float mem[B * S * D];
    int32_t greedy[B * N], greedy_len[B], beam[B * N], beam_len[B];
} run;

static void run_model(clf_model *m, clf_context *ctx, const int32_t *src, const int32_t *sl,
                      run *r)
{
    OK(ctx, clf_model_encode(m, src, sl, B, S, CLF_POOL_NONE, r->mem, NULL, NULL));
    clf_generate_params gp = clf_generate_params_default();
    gp.max_new_tokens = N;
    clf_generate_output go = {r->greedy, r->greedy_len, NULL, NULL, NULL};
    OK(ctx, clf_model_generate(m, src, sl, B, S, &gp, &go));
    gp.strategy = CLF_DECODE_BEAM;
    gp.beam_size = K;
    gp.n_best = 1;
    clf_generate_output bo = {r->beam, r->beam_len, NULL, NULL, NULL};
    OK(ctx, clf_model_generate(m, src, sl, B, S, &gp, &bo));
}

static void check_ids(const int32_t *got, const int32_t *want, int n, const char *what)
{
    for (int i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "%s: id %d of sequence %d is %d, expected %d", what, i % N,
                     i / N, got[i], want[i]);
}

Test(model_multidevice, seq2seq_split_matches_one_device_and_golden)
{
    clf_context *c0 = NULL, *c1 = NULL;
    two_contexts(&c0, &c1);
    clf__safetensors *st = NULL;
    char err[256];
    cr_assert_eq(clf__safetensors_open(golden("seq2seq"), &st, err, sizeof err), CLF_OK, "%s", err);
    int32_t *src = gi(st, "src_ids"), *sl = gi(st, "src_lengths");
    int32_t *gref = gi(st, "greedy_ids"), *glen = gi(st, "greedy_lengths"),
            *bref = gi(st, "beam_ids");
    float *mref = gf(st, "memory");

    /* One device: everything on c1. */
    size_t one_bytes = 0, b0 = 0, b1 = 0;
    clf_context_memory(c1, NULL, &b1, NULL);
    clf_model *m1 = load(c1, NULL, "seq2seq");
    clf_context_memory(c1, NULL, &one_bytes, NULL);
    one_bytes -= b1;
    run *r1 = calloc(1, sizeof *r1);
    run_model(m1, c1, src, sl, r1);
    clf_model_free(m1);

    /* Two devices: encoder on c0, decoder on c1. Weights only where used:
     * the two devices together hold the one-device model plus the boundary
     * buffer (max_batch * max_source_len rows of D floats). */
    size_t s0 = 0, s1 = 0;
    clf_context_memory(c0, NULL, &b0, NULL);
    clf_context_memory(c1, NULL, &b1, NULL);
    clf_model *m2 = load(c1, c0, "seq2seq");
    clf_context_memory(c0, NULL, &s0, NULL);
    clf_context_memory(c1, NULL, &s1, NULL);
    s0 -= b0;
    s1 -= b1;
    printf("[multidevice] weights and state: one device %zu bytes; split %zu (encoder device) + "
           "%zu (decoder device)\n",
           one_bytes, s0, s1);
    cr_assert(s0 > 0 && s1 > 0, "each device holds part of the model");
    cr_assert_eq(s0 + s1, one_bytes + (size_t)MB * MS * D * sizeof(float),
                 "split %zu + %zu bytes vs one device %zu + boundary", s0, s1, one_bytes);

    /* Host syncs of an encode with no read-back: one on the encoder's
     * context (the boundary read), none on the decoder's once a blocking
     * call there (this decode's argmax read) has retired the last boundary
     * write. */
    int32_t bos[B] = {1, 1}, am[B];
    OK(c1, clf_model_encode(m2, src, sl, B, S, CLF_POOL_NONE, NULL, NULL, NULL));
    OK(c1, clf_model_decode(m2, bos, B, 1, 0, NULL, am));
    long e0 = clf_context_blocking_calls(c0), d0 = clf_context_blocking_calls(c1);
    OK(c1, clf_model_encode(m2, src, sl, B, S, CLF_POOL_NONE, NULL, NULL, NULL));
    long e1 = clf_context_blocking_calls(c0), d1 = clf_context_blocking_calls(c1);
    printf("[multidevice] host syncs of one encode: encoder device %ld, decoder device %ld\n",
           e1 - e0, d1 - d0);
    cr_assert_eq(e1 - e0, 1, "encoder device syncs %ld", e1 - e0);
    cr_assert_eq(d1 - d0, 0, "decoder device syncs %ld", d1 - d0);

    run *r2 = calloc(1, sizeof *r2);
    run_model(m2, c1, src, sl, r2);
    double em = 0, den = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < sl[b]; t++)
            for (int i = 0; i < D; i++) {
                size_t k = ((size_t)b * S + t) * D + i;
                /* Not bitwise: each context picks its GEMM provider by its
                 * own measurement (auto), which may differ between two
                 * contexts on a loaded machine; the tokens below are exact. */
                cr_assert(fabs((double)r2->mem[k] - r1->mem[k]) <= 1e-5 * fmax(1.0, fabs(r1->mem[k])),
                          "memory [%d, %d, %d]: %.9g (split) vs %.9g", b, t, i, r2->mem[k],
                          r1->mem[k]);
                em = fmax(em, fabs((double)r2->mem[k] - mref[k]));
                den = fmax(den, fabs((double)mref[k]));
            }
    printf("[multidevice] memory relative error vs PyTorch %.3g\n", em / den);
    cr_assert(em / den <= 1e-4, "memory %.3g", em / den);
    check_ids(r2->greedy, r1->greedy, B * N, "greedy, split vs one device");
    check_ids(r2->greedy, gref, B * N, "greedy, split vs golden");
    check_ids(r2->greedy_len, glen, B, "greedy lengths");
    check_ids(r2->beam, r1->beam, B * N, "beam-4, split vs one device");
    check_ids(r2->beam, bref, B * N, "beam-4, split vs golden");
    check_ids(r2->beam_len, r1->beam_len, B, "beam-4 lengths");
    clf_model_free(m2);

    free(r1);
    free(r2);
    free(src);
    free(sl);
    free(gref);
    free(glen);
    free(bref);
    free(mref);
    clf__safetensors_free(st);
    clf_context_free(c0);
    clf_context_free(c1);
}

Test(model_multidevice, placement_errors_and_single_stack_models)
{
    clf_context *c0 = NULL, *c1 = NULL;
    two_contexts(&c0, &c1);
    clf_model_params p = clf_model_params_default();
    p.max_batch = 2;
    p.max_source_len = 16;
    p.max_target_len = 16;
    p.encoder_ctx = c0;
    clf_model *m = NULL;
    /* A decoder-only model has no encoder to place. */
    clf_status s = clf_model_load(c1, golden("gpt"), &p, &m);
    cr_assert_eq(s, CLF_ERR_INVALID_ARG, "%s", clf_status_name(s));
    cr_assert_null(m);
    cr_assert(strstr(clf_context_last_error(c1), "encoder_ctx"), "message: %s",
              clf_context_last_error(c1));
    /* The same context twice is no split: it loads and runs. */
    p.encoder_ctx = c1;
    OK(c1, clf_model_load(c1, golden("gpt"), &p, &m));
    clf_model_free(m);
    /* An encoder-only model runs wholly on encoder_ctx. */
    size_t before = 0, after = 0;
    clf_context_memory(c1, NULL, &before, NULL);
    p.encoder_ctx = c0;
    m = NULL;
    OK(c1, clf_model_load(c1, golden("encoder_postln"), &p, &m));
    clf_context_memory(c1, NULL, &after, NULL);
    cr_assert_eq(after, before, "no device memory on the model's context (%zu -> %zu)", before,
                 after);
    int32_t ids[2 * 4] = {1, 2, 3, 4, 5, 6, 7, 8}, lens[2] = {4, 3};
    float hidden[2 * 4 * 64];
    const clf_model_config *cfg = clf_model_get_config(m);
    cr_assert_leq(cfg->d_model, 64);
    OK(c0, clf_model_encode(m, ids, lens, 2, 4, CLF_POOL_NONE, hidden, NULL, NULL));
    clf_model_free(m);
    /* A NULL model context stays an error. */
    cr_assert_eq(clf_model_load(NULL, golden("seq2seq"), &p, &m), CLF_ERR_INVALID_ARG);
    clf_context_free(c0);
    clf_context_free(c1);
}
