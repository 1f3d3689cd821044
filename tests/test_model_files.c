/*
 * Device tests: loading models from files that change under the load, that
 * are not files, or that disagree with their config, through the public
 * clf_model_load. A weight file truncated while it loads (clformer file or
 * HuggingFace folder) is CLF_ERR_BAD_MODEL naming it, never SIGBUS; a FIFO in
 * place of any file of a folder fails the load within a second; weights the
 * config leaves unread (a 1-layer config over a 2-layer checkpoint) are
 * CLF_ERR_BAD_MODEL naming them, while the goldens (with their inputs and
 * outputs stored beside the weights) and all-MiniLM-L6-v2 (position_ids, an
 * unused pooler) keep loading. Host-level checks of the same code are in
 * test_safetensors.c, test_hf_files.c and test_model_config.c.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/core.h"
#include "model/safetensors.h"

#define EACH_DEVICE(spec)                                                                          \
    char specs_[16][32];                                                                           \
    int n_specs_ = clft_devices_or_skip(specs_, 16);                                               \
    for (int d_ = 0; d_ < n_specs_; d_++)                                                          \
        for (const char *spec = specs_[d_]; spec; spec = NULL)

#define OK(expr)                                                                                   \
    do {                                                                                           \
        clf_status st_ = (expr);                                                                   \
        cr_assert_eq(st_, CLF_OK, "%s: %s (%s)", #expr, clf_status_name(st_),                      \
                     clf_context_last_error(ctx));                                                 \
    } while (0)

static const char *golden(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s.safetensors", clft_golden_dir(), name);
    return path[k];
}

/* The bytes of a file (free them); *n its size. */
static char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return buf;
}

static void spill(const char *path, const char *buf, long n)
{
    FILE *f = fopen(path, "wb");
    cr_assert(f, "cannot write %s", path);
    cr_assert_eq(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
}

/* Copies safetensors file from to path, with every `from` in its header
 * replaced by `to` (same length, so the offsets stay valid); *hdr_end (if
 * not NULL) is where the data section starts. */
static void st_copy(const char *src, const char *path, const char *from, const char *to,
                    long *hdr_end)
{
    long n;
    char *buf = slurp(src, &n);
    uint64_t hl;
    memcpy(&hl, buf, 8);
    if (from) {
        size_t k = strlen(from);
        cr_assert_eq(k, strlen(to));
        int hits = 0;
        for (char *p = buf + 8; p + k <= buf + 8 + hl; p++)
            if (memcmp(p, from, k) == 0) memcpy(p, to, k), hits++;
        cr_assert_gt(hits, 0, "%s not in %s", from, src);
    }
    spill(path, buf, n);
    free(buf);
    if (hdr_end) *hdr_end = (long)(8 + hl);
}

/* A copy of golden HF folder `name` (config.json and model.safetensors) in
 * dir, with `from` replaced by `to` in config.json (NULL: kept). */
static void hf_copy(const char *name, const char *dir, const char *from, const char *to,
                    long *hdr_end)
{
    char src[700], dst[700];
    long n;
    snprintf(src, sizeof src, "%s/hf/%s/config.json", clft_golden_dir(), name);
    char *text = slurp(src, &n);
    text[n] = '\0';
    char out[8192];
    size_t o = 0;
    for (long i = 0; i < n && o < sizeof out - 64;)
        if (from && strncmp(text + i, from, strlen(from)) == 0) {
            o += (size_t)snprintf(out + o, sizeof out - o, "%s", to);
            i += (long)strlen(from);
        } else {
            out[o++] = text[i++];
        }
    free(text);
    snprintf(dst, sizeof dst, "%s/config.json", dir);
    spill(dst, out, (long)o);
    snprintf(src, sizeof src, "%s/hf/%s/model.safetensors", clft_golden_dir(), name);
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    st_copy(src, dst, NULL, NULL, hdr_end);
}

/* clf_model_load of path must fail with want, naming every one of the
 * NULL-terminated wants, within max_secs when it is not 0 (under an alarm
 * in any case, so that a load that blocks fails the test instead of hanging
 * the suite), leaking nothing on the host or the device. */
static void expect_load(clf_context *ctx, const char *path, const clf_model_params *p,
                        double max_secs, clf_status want, const char *const *wants)
{
    long live0 = clf__alloc_live(), bufs0, bufs1;
    size_t bytes0, bytes1;
    clf_context_memory(ctx, &bufs0, &bytes0, NULL);
    clf_model *m = (clf_model *)1;
    double t0 = clft_now();
    alarm(60); /* the failures come before any kernel is built */
    clf_status s = clf_model_load(ctx, path, p, &m);
    alarm(0);
    double secs = clft_now() - t0;
    const char *err = clf_context_last_error(ctx);
    cr_assert_eq(s, want, "%s: %s (%s), expected %s", path, clf_status_name(s), err,
                 clf_status_name(want));
    cr_assert_null(m);
    for (int i = 0; wants[i]; i++)
        cr_assert(strstr(err, wants[i]), "message \"%s\" lacks \"%s\"", err, wants[i]);
    if (max_secs > 0) cr_assert_lt(secs, max_secs, "%s: failed after %.2f s", path, secs);
    clf_context_memory(ctx, &bufs1, &bytes1, NULL);
    cr_assert(clf__alloc_live() == live0 && bufs1 == bufs0 && bytes1 == bytes0,
              "the failed load leaked: %ld host blocks, %ld buffers", clf__alloc_live() - live0,
              bufs1 - bufs0);
    printf("[model_files] rejected: %s\n", err);
}

static long cut_at;
static void truncate_hook(int stage, const char *path, void *arg)
{
    (void)arg;
    if (stage == CLF__ST_HOOK_OPENED) cr_assert_eq(truncate(path, cut_at), 0, "truncate %s", path);
}

/* The file shrinks after its header was read (another process truncating
 * or rewriting it in place): the load fails with CLF_ERR_BAD_MODEL naming
 * the file, where the mapped file of before raised SIGBUS and the process
 * died. The hook truncates at the point a racing truncate hit. */
Test(model_files, a_weight_file_truncated_while_it_loads_is_bad_model_naming_it)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char dir[512], path[600];
        clft_tempdir(dir, sizeof dir, "model-trunc");
        snprintf(path, sizeof path, "%s/encoder.safetensors", dir);
        st_copy(golden("encoder_postln"), path, NULL, NULL, &cut_at);
        cut_at += 4; /* the first tensor's first bytes stay */
        clf__st_set_test_hook(truncate_hook, NULL);
        expect_load(ctx, path, NULL, 0, CLF_ERR_BAD_MODEL,
                    (const char *[]){path, "truncated after it was opened", NULL});
        /* A HuggingFace folder's weights the same way. */
        hf_copy("bert", dir, NULL, NULL, &cut_at);
        cut_at += 4;
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        expect_load(ctx, dir, NULL, 0, CLF_ERR_BAD_MODEL,
                    (const char *[]){path, "truncated after it was opened", NULL});
        clf__st_set_test_hook(NULL, NULL);
        clft_rmtree(dir);
        clf_context_free(ctx);
    }
}

/* mkfifo in place of config.json, model.safetensors or a sentence-
 * transformers JSON made the load block forever. */
Test(model_files, a_fifo_in_a_model_folder_fails_the_load_at_once)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char dir[512], path[600];
        clft_tempdir(dir, sizeof dir, "model-fifo");
        hf_copy("bert", dir, NULL, NULL, NULL);
        static const char *const names[] = {"config.json", "model.safetensors", "modules.json",
                                            "model.safetensors.index.json"};
        for (int i = 0; i < 4; i++) {
            char want[128];
            snprintf(want, sizeof want, "%s is a FIFO, not a regular file", names[i]);
            clft_mkfifo(dir, names[i]);
            expect_load(ctx, dir, NULL, 1.0, CLF_ERR_IO, (const char *[]){want, NULL});
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            remove(path);
            hf_copy("bert", dir, NULL, NULL, NULL);
        }
        /* A clformer file given as the path. */
        snprintf(path, sizeof path, "%s/x.safetensors", dir);
        clft_mkfifo(dir, "x.safetensors");
        expect_load(ctx, path, NULL, 1.0, CLF_ERR_IO,
                    (const char *[]){"x.safetensors is a FIFO, not a regular file", NULL});
        clft_rmtree(dir);
        clf_context_free(ctx);
    }
}

/* A 1-layer config over a 2-layer checkpoint ran on half the weights
 * without a word; the weights it leaves unread are now named. The data
 * stored beside the weights (the golden's inputs and outputs) is not. */
Test(model_files, weights_the_config_leaves_unread_are_bad_model_naming_them)
{
    EACH_DEVICE(spec)
    {
        clf_context *ctx = clft_model_context(spec);
        char dir[512], path[600];
        clft_tempdir(dir, sizeof dir, "model-unused");
        snprintf(path, sizeof path, "%s/one-layer.safetensors", dir);
        st_copy(golden("encoder_postln"), path, "\"layers\":\"2\"", "\"layers\":\"1\"", NULL);
        expect_load(ctx, path, NULL, 0, CLF_ERR_BAD_MODEL,
                    (const char *[]){path,
                                     "12 weight tensors of the checkpoint are not used by the "
                                     "config",
                                     "\"encoder.layers.1.", "and 8 more", NULL});
        cr_assert(!strstr(clf_context_last_error(ctx), "input_ids"));
        /* The caller's config: the same. */
        clf_model_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.kind = CLF_MODEL_ENCODER;
        cfg.encoder_layers = 1;
        cfg.d_model = 64;
        cfg.n_heads = 4;
        cfg.d_ff = 128;
        cfg.vocab = 100;
        cfg.positions = CLF_POS_SINUSOIDAL;
        cfg.embedding_scale = 8.0f;
        cfg.attn_bias = cfg.ffn_bias = cfg.norm_bias = true;
        cfg.pad_id = 0;
        cfg.bos_id = cfg.eos_id = -1;
        clf_model_params p = clf_model_params_default();
        p.config = &cfg;
        expect_load(ctx, golden("encoder_postln"), &p, 0, CLF_ERR_BAD_MODEL,
                    (const char *[]){"\"encoder.layers.1.", NULL});
        /* With both layers it loads: every weight is read, the rest is data. */
        cfg.encoder_layers = 2;
        clf_model *m = NULL;
        OK(clf_model_load(ctx, golden("encoder_postln"), &p, &m));
        clf_model_free(m);

        /* A HuggingFace folder: config.json says 1 layer, the checkpoint has 2. */
        hf_copy("bert", dir, "\"num_hidden_layers\": 2", "\"num_hidden_layers\": 1", NULL);
        expect_load(ctx, dir, NULL, 0, CLF_ERR_BAD_MODEL,
                    (const char *[]){"16 weight tensors of the checkpoint are not used",
                                     "\"encoder.layer.1.", "and 12 more", NULL});
        clft_rmtree(dir);
        clf_context_free(ctx);
    }
}
