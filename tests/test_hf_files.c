/* Host tests: the files of a HuggingFace model folder, opened without a
 * device (src/model/hf.c, core/file.c): a FIFO in place of any file the load
 * reads is refused at once naming it (it used to block forever); a tensor
 * that two shards hold is read from the shard the index's weight_map names;
 * checkpoint tensors left unread are an error naming them, except the known
 * ignorable ones. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/testutil.h"
#include "core/core.h"
#include "model/hf.h"

/* A tiny BertModel: 1 layer, D 4, 1 head, F 4, vocab 4, 4 positions. */
static const char *const CONFIG =
    "{\"architectures\": [\"BertModel\"], \"vocab_size\": 4, \"hidden_size\": 4, "
    "\"num_hidden_layers\": 1, \"num_attention_heads\": 1, \"intermediate_size\": 4, "
    "\"max_position_embeddings\": 4}";

static void put(const char *dir, const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    remove(path);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* dir/file: F32 tensors names[i] of 16 elements (shape (4, 4), or (4) for
 * names ending in "bias" or "LayerNorm.weight": then 4), each filled with
 * vals[i]. */
static void put_st(const char *dir, const char *file, int n, const char *const *names,
                   const float *vals)
{
    char json[2048];
    size_t at = (size_t)snprintf(json, sizeof json, "{"), off = 0;
    size_t count[8];
    for (int i = 0; i < n; i++) {
        bool vec = strstr(names[i], "bias") || strstr(names[i], "LayerNorm.weight");
        count[i] = vec ? 4 : 16;
        at += (size_t)snprintf(json + at, sizeof json - at,
                               "%s\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
                               i ? "," : "", names[i], vec ? "[4]" : "[4,4]", off,
                               off + 4 * count[i]);
        off += 4 * count[i];
    }
    at += (size_t)snprintf(json + at, sizeof json - at, "}");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    remove(path);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s", path);
    uint64_t hl = at;
    fwrite(&hl, 8, 1, f);
    fwrite(json, 1, at, f);
    for (int i = 0; i < n; i++)
        for (size_t k = 0; k < count[i]; k++)
            fwrite(&vals[i], 4, 1, f);
    fclose(f);
}

/* clf__hf_open of dir must fail with want, naming msg, within a second. The
 * alarm turns a blocking open into a failed test instead of a hung suite. */
static void expect_open(const char *dir, clf_status want, const char *msg)
{
    long live = clf__alloc_live();
    clf__hf *hf = (clf__hf *)1;
    double t0 = clft_now();
    alarm(5);
    clf_status s = clf__hf_open(NULL, dir, &hf);
    alarm(0);
    double secs = clft_now() - t0;
    const char *err = clf_context_last_error(NULL);
    cr_assert_eq(s, want, "%s: %s (%s), expected %s", msg, clf_status_name(s), err,
                 clf_status_name(want));
    cr_assert_null(hf);
    cr_assert(strstr(err, msg), "message \"%s\" lacks \"%s\"", err, msg);
    cr_assert_lt(secs, 1.0, "%s: refused after %.2f s", msg, secs);
    cr_assert_eq(clf__alloc_live(), live, "%s: leak", msg);
}

Test(hf_files, a_fifo_in_place_of_any_file_is_refused_at_once_naming_it)
{
    char dir[512], sub[600];
    clft_tempdir(dir, sizeof dir, "hf-fifo");
    static const char *const names[] = {"embeddings.word_embeddings.weight"};
    static const float one[] = {1};

    clft_mkfifo(dir, "config.json");
    expect_open(dir, CLF_ERR_IO, "config.json is a FIFO, not a regular file");
    put(dir, "config.json", CONFIG);
    clft_mkfifo(dir, "model.safetensors");
    expect_open(dir, CLF_ERR_IO, "model.safetensors is a FIFO, not a regular file");
    put_st(dir, "model.safetensors", 1, names, one);
    clf__hf *hf = NULL;
    cr_assert_eq(clf__hf_open(NULL, dir, &hf), CLF_OK, "%s", clf_context_last_error(NULL));
    clf__hf_free(hf);

    /* sentence-transformers: modules.json, then its Pooling module's config. */
    clft_mkfifo(dir, "modules.json");
    expect_open(dir, CLF_ERR_IO, "modules.json is a FIFO, not a regular file");
    put(dir, "modules.json",
        "[{\"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"}]");
    snprintf(sub, sizeof sub, "%s/1_Pooling", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    clft_mkfifo(sub, "config.json");
    expect_open(dir, CLF_ERR_IO, "1_Pooling/config.json is a FIFO, not a regular file");
    put(sub, "config.json", "{\"pooling_mode_mean_tokens\": true}");
    cr_assert_eq(clf__hf_open(NULL, dir, &hf), CLF_OK, "%s", clf_context_last_error(NULL));
    clf__hf_free(hf);

    /* A shard index, and a shard it names. */
    clft_mkfifo(dir, "model.safetensors.index.json");
    expect_open(dir, CLF_ERR_IO, "model.safetensors.index.json is a FIFO, not a regular file");
    put(dir, "model.safetensors.index.json",
        "{\"weight_map\": {\"embeddings.word_embeddings.weight\": \"a.safetensors\"}}");
    clft_mkfifo(dir, "a.safetensors");
    expect_open(dir, CLF_ERR_IO, "a.safetensors is a FIFO, not a regular file");
    /* A directory is not a file either. */
    snprintf(sub, sizeof sub, "%s/a.safetensors", dir);
    remove(sub);
    cr_assert_eq(mkdir(sub, 0700), 0);
    expect_open(dir, CLF_ERR_IO, "a.safetensors is a directory, not a regular file");
    clft_rmtree(dir);
}

static void expect_values(clf__hf *hf, const char *name, float want)
{
    const clf__st_tensor *t = NULL;
    cr_assert_eq(clf__hf_get(hf, NULL, name, &t), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_not_null(t, "%s", name);
    float v[16];
    cr_assert_leq(t->n_elements, 16);
    cr_assert_eq(clf__st_tensor_to_f32(t, v), CLF_OK, "%s", clf_context_last_error(NULL));
    for (int64_t i = 0; i < t->n_elements; i++)
        cr_assert_eq(v[i], want, "%s[%lld] = %g, expected %g (from the shard weight_map names)",
                     name, (long long)i, (double)v[i], (double)want);
}

/* Shard a holds a stale copy of the token table that the index places in
 * shard b; a comes first in the index's file order, so a first-file lookup
 * read the stale copy. */
Test(hf_files, a_tensor_in_two_shards_comes_from_the_one_weight_map_names)
{
    char dir[512];
    clft_tempdir(dir, sizeof dir, "hf-shards");
    put(dir, "config.json", CONFIG);
    static const char *const a_names[] = {"embeddings.LayerNorm.weight",
                                          "embeddings.word_embeddings.weight"};
    static const float a_vals[] = {0.5f, 1.0f};
    put_st(dir, "a.safetensors", 2, a_names, a_vals);
    static const char *const b_names[] = {"embeddings.word_embeddings.weight",
                                          "embeddings.position_ids"};
    static const float b_vals[] = {2.0f, 0.0f};
    put_st(dir, "b.safetensors", 2, b_names, b_vals);
    put(dir, "model.safetensors.index.json",
        "{\"weight_map\": {\"embeddings.LayerNorm.weight\": \"a.safetensors\", "
        "\"embeddings.word_embeddings.weight\": \"b.safetensors\", "
        "\"embeddings.position_ids\": \"b.safetensors\"}}");
    long live = clf__alloc_live();
    clf__hf *hf = NULL;
    cr_assert_eq(clf__hf_open(NULL, dir, &hf), CLF_OK, "%s", clf_context_last_error(NULL));
    expect_values(hf, "embed.weight", 2.0f);
    expect_values(hf, "encoder.embed_norm.weight", 0.5f);
    cr_assert_str_eq(clf__hf_source(hf, "embed.weight"),
                     "\"embeddings.word_embeddings.weight\"");
    /* Everything the index places was read; a's stale copy is not the
     * checkpoint's tensor and position_ids is a buffer: nothing unused. */
    cr_assert_eq(clf__hf_check_unused(hf, NULL, dir), CLF_OK, "%s",
                 clf_context_last_error(NULL));
    clf__hf_free(hf);
    cr_assert_eq(clf__alloc_live(), live, "leak");
    clft_rmtree(dir);
}

/* A checkpoint with more than the config reads (a second layer of a
 * 1-layer config) is an error listing the tensors left over. */
Test(hf_files, checkpoint_tensors_the_config_leaves_unread_are_named)
{
    char dir[512];
    clft_tempdir(dir, sizeof dir, "hf-unused");
    put(dir, "config.json", CONFIG);
    static const char *const names[] = {
        "embeddings.word_embeddings.weight", "encoder.layer.1.output.dense.weight",
        "encoder.layer.1.output.dense.bias", "pooler.dense.weight", "cls.predictions.bias",
        "embeddings.position_ids"};
    static const float vals[] = {1, 2, 3, 4, 5, 6};
    put_st(dir, "model.safetensors", 6, names, vals);
    clf__hf *hf = NULL;
    cr_assert_eq(clf__hf_open(NULL, dir, &hf), CLF_OK, "%s", clf_context_last_error(NULL));
    expect_values(hf, "embed.weight", 1.0f);
    cr_assert_eq(clf__hf_check_unused(hf, NULL, dir), CLF_ERR_BAD_MODEL);
    const char *err = clf_context_last_error(NULL);
    /* The pooler is the model's (BertModel has one): unread, it counts. The
     * pretraining head "cls." and the position_ids buffer do not. */
    cr_assert(strstr(err, "3 weight tensors of the checkpoint are not used by the config") &&
                  strstr(err, "\"encoder.layer.1.output.dense.weight\"") &&
                  strstr(err, "\"encoder.layer.1.output.dense.bias\"") &&
                  strstr(err, "\"pooler.dense.weight\"") && !strstr(err, "cls.") &&
                  !strstr(err, "position_ids") && strstr(err, dir),
              "%s", err);
    clf__hf_free(hf);
    clft_rmtree(dir);
}
