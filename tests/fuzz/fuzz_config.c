/*
 * libFuzzer target for the HuggingFace folder metadata parsers
 * (src/model/hf_config.c): config.json -> model config, modules.json,
 * a Pooling module's config.json and model.safetensors.index.json.
 * Build and run with tools/fuzz.sh config SECONDS.
 * fuzz-sources: src/model/hf_config.c
 * fuzz-libs: json-c
 *
 * Every input goes through all four parsers. Each must return CLF_OK or a
 * documented error (CLF_ERR_BAD_MODEL, CLF_ERR_UNSUPPORTED), never crash,
 * read out of bounds (ASan) or hit undefined behaviour (UBSan); on success
 * the result's invariants are checked (sizes in range, heads dividing the
 * hidden size, labels present, shard file names plain).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "model/hf_config.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #cond, __LINE__);                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void expect_status(clf_status s, const char *err)
{
    CHECK(s == CLF_OK || s == CLF_ERR_BAD_MODEL || s == CLF_ERR_UNSUPPORTED);
    CHECK(s == CLF_OK || err[0] != '\0'); /* every error says why */
}

static void check_config(const clf__hf_config *c)
{
    const clf_model_config *m = &c->cfg;
    CHECK(m->d_model >= 1 && m->n_heads >= 1 && m->d_model % m->n_heads == 0);
    CHECK(m->d_ff >= 1 && m->vocab >= 1 && m->max_positions >= 1);
    CHECK(m->kind == CLF_MODEL_DECODER || m->encoder_layers >= 1);
    CHECK(m->kind == CLF_MODEL_ENCODER || m->decoder_layers >= 1);
    CHECK(m->eps > 0 && m->embedding_scale > 0);
    CHECK(m->pad_id < m->vocab && m->bos_id < m->vocab && m->eos_id < m->vocab);
    CHECK(!c->classifier || (m->n_classes >= 1 && c->labels));
    for (int64_t i = 0; c->labels && i < m->n_classes; i++)
        CHECK(c->labels[i] != NULL);
    CHECK(memchr(c->architecture, 0, sizeof c->architecture));
    CHECK((unsigned)c->family < CLF__HF_N_FAMILIES);
    CHECK(m->position_offset >= 0 && m->position_offset < m->max_positions);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    char err[512];
    clf__hf_config c;
    clf_status s = clf__hf_parse_config(text, size, &c, err, sizeof err);
    expect_status(s, err);
    if (s == CLF_OK) check_config(&c);
    clf__hf_config_clear(&c);

    clf__hf_modules mods;
    s = clf__hf_parse_modules(text, size, &mods, err, sizeof err);
    expect_status(s, err);
    if (s == CLF_OK) {
        CHECK(mods.sentence_transformers);
        CHECK(memchr(mods.pooling_path, 0, sizeof mods.pooling_path));
        CHECK(!strstr(mods.pooling_path, "..") && mods.pooling_path[0] != '/');
    }

    clf_pooling pool;
    s = clf__hf_parse_pooling(text, size, 384, &pool, err, sizeof err);
    expect_status(s, err);
    CHECK(s != CLF_OK || pool == CLF_POOL_MEAN || pool == CLF_POOL_FIRST);

    clf__hf_index x;
    s = clf__hf_parse_index(text, size, &x, err, sizeof err);
    expect_status(s, err);
    if (s == CLF_OK) {
        CHECK(x.n_files >= 1 && x.n_weights >= 1);
        for (size_t i = 0; i < x.n_files; i++)
            CHECK(!strchr(x.files[i], '/') && strcmp(x.files[i], "..") != 0);
        for (size_t i = 0; i < x.n_weights; i++)
            CHECK(x.weight_file[i] < x.n_files && x.weight_names[i]);
    }
    clf__hf_index_clear(&x);
    return 0;
}
