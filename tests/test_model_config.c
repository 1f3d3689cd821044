/* Host tests: model configs (src/model/model_config.c). A clformer file's
 * __metadata__ is read with every value range-checked at load, naming the
 * key: integers past int32 are not cut (2^32 + 2 layers is not 2 layers),
 * sizes beyond the limits are errors rather than huge allocations, token ids
 * lie in [-1, vocab), eps is finite and positive; and the checks every config
 * passes (the caller's clf_model_config too) name the field. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>

#include "core/core.h"
#include "model/model_config.h"
#include "model/safetensors.h"

/* The metadata of tests/golden/encoder_postln.safetensors (make_golden.py). */
static const char *const BASE[][2] = {
    {"kind", "encoder"},   {"layers", "2"},        {"d_model", "64"},
    {"nhead", "4"},        {"d_ff", "128"},        {"vocab", "100"},
    {"eps", "1e-05"},      {"pad_id", "0"},        {"activation", "relu"},
    {"positions", "sinusoid_interleaved"},         {"embedding_scale", "8.0"},
    {"final_norm", "false"}, {"norm_first", "false"},
};
#define N_BASE (sizeof BASE / sizeof BASE[0])

/* A safetensors file without tensors whose __metadata__ is BASE with key
 * set to value (value NULL: key removed; a key not in BASE: added). */
static uint8_t *file_with(const char *key, const char *value, size_t *size)
{
    char json[2048];
    size_t n = (size_t)snprintf(json, sizeof json, "{\"__metadata__\":{");
    bool seen = false, first = true;
    for (size_t i = 0; i < N_BASE; i++) {
        const char *v = BASE[i][1];
        if (key && strcmp(key, BASE[i][0]) == 0) {
            seen = true;
            v = value;
        }
        if (!v) continue;
        n += (size_t)snprintf(json + n, sizeof json - n, "%s\"%s\":\"%s\"", first ? "" : ",",
                              BASE[i][0], v);
        first = false;
    }
    if (key && !seen && value)
        n += (size_t)snprintf(json + n, sizeof json - n, ",\"%s\":\"%s\"", key, value);
    n += (size_t)snprintf(json + n, sizeof json - n, "}}");
    *size = 8 + n;
    uint8_t *f = malloc(*size);
    cr_assert_not_null(f);
    for (int i = 0; i < 8; i++)
        f[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(f + 8, json, n);
    return f;
}

/* Reads the config of BASE with key = value: the status, and the message. */
static clf_status read_cfg(const char *key, const char *value, clf_model_config *c)
{
    size_t size;
    uint8_t *f = file_with(key, value, &size);
    clf__safetensors *st = NULL;
    char err[256];
    cr_assert_eq(clf__safetensors_parse(f, size, &st, err, sizeof err), CLF_OK, "%s", err);
    clf_status s = clf__config_from_meta(NULL, st, "m.safetensors", c);
    if (s == CLF_OK) s = clf__config_check(NULL, "m.safetensors", c);
    clf__safetensors_free(st);
    free(f);
    return s;
}

static void expect_bad(const char *key, const char *value, const char *want)
{
    clf_model_config c;
    clf_status s = read_cfg(key, value, &c);
    const char *err = clf_context_last_error(NULL);
    cr_assert_eq(s, CLF_ERR_BAD_MODEL, "%s = \"%s\": %s (%s), expected CLF_ERR_BAD_MODEL", key,
                 value ? value : "(absent)", clf_status_name(s), s ? err : "");
    cr_assert(strstr(err, want), "%s = \"%s\": message \"%s\" lacks \"%s\"", key,
              value ? value : "(absent)", err, want);
    cr_assert(strstr(err, "m.safetensors"), "message names the file: %s", err);
}

Test(model_config, the_golden_metadata_reads_as_written)
{
    clf_model_config c;
    cr_assert_eq(read_cfg(NULL, NULL, &c), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert(c.kind == CLF_MODEL_ENCODER && c.encoder_layers == 2 && c.decoder_layers == 0);
    cr_assert(c.d_model == 64 && c.n_heads == 4 && c.d_ff == 128 && c.vocab == 100);
    cr_assert(c.pad_id == 0 && c.bos_id == -1 && c.eos_id == -1);
    cr_assert(c.activation == CLF_ACT_RELU && c.positions == CLF_POS_SINUSOIDAL);
    cr_assert(c.norm_type == CLF_NORM_LAYER && c.norm_bias && !c.encoder_final_norm);
    cr_assert_float_eq(c.eps, 1e-5f, 0);
    cr_assert_float_eq(c.embedding_scale, 8.0f, 0);
    /* The limits themselves are accepted. */
    cr_assert_eq(read_cfg("layers", "1024", &c), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_eq(read_cfg("bos_id", "99", &c), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_eq(c.bos_id, 99);
    cr_assert_eq(read_cfg("pad_id", "-1", &c), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert_eq(c.pad_id, -1);
    cr_assert_eq(read_cfg("norm_type", "rms", &c), CLF_OK, "%s", clf_context_last_error(NULL));
    cr_assert(c.norm_type == CLF_NORM_RMS && !c.norm_bias);
}

Test(model_config, integers_are_range_checked_naming_the_key_not_cut_to_int)
{
    /* 2^32 + 2 layers ran as 2 layers; 2^32 + 4 heads and bos 2^32 + 1 were
     * accepted; 1e9 layers ran out of host memory. */
    expect_bad("layers", "4294967298", "metadata \"layers\" = 4294967298 is outside 1..1024");
    expect_bad("nhead", "4294967300", "metadata \"nhead\" = 4294967300 is outside 1..65536");
    expect_bad("bos_id", "4294967297", "metadata \"bos_id\" = 4294967297 is outside -1..99");
    expect_bad("layers", "1000000000", "metadata \"layers\" = 1000000000 is outside 1..1024");
    expect_bad("layers", "1e9", "metadata \"layers\" = \"1e9\" is not an integer");
    expect_bad("layers", "2.0", "\"layers\" = \"2.0\" is not an integer");
    expect_bad("layers", " 2", "\"layers\" = \" 2\" is not an integer");
    expect_bad("layers", "+2", "\"layers\" = \"+2\" is not an integer");
    expect_bad("layers", "", "\"layers\" = \"\" is not an integer");
    expect_bad("layers", "0", "\"layers\" = 0 is outside 1..1024");
    expect_bad("layers", "99999999999999999999999", "\"layers\" = 99999999999999999999999 is outside");
    expect_bad("layers", NULL, "__metadata__ has no \"layers\"");
    expect_bad("d_model", "65537", "\"d_model\" = 65537 is outside 1..65536");
    expect_bad("d_model", "-64", "\"d_model\" = -64 is outside 1..65536");
    expect_bad("nhead", "5", "metadata \"nhead\" = 5 does not divide \"d_model\" = 64");
    expect_bad("d_ff", "1048577", "\"d_ff\" = 1048577 is outside 1..1048576");
    expect_bad("vocab", "2147483648", "\"vocab\" = 2147483648 is outside 1..16777216");
    expect_bad("pad_id", "100", "\"pad_id\" = 100 is outside -1..99");
    expect_bad("eos_id", "-2", "\"eos_id\" = -2 is outside -1..99");
    expect_bad("max_positions", "1048577", "\"max_positions\" = 1048577 is outside 0..1048576");
    expect_bad("position_offset", "-1", "\"position_offset\" = -1 is outside 0..");
    expect_bad("n_classes", "65537", "\"n_classes\" = 65537 is outside 0..65536");
}

Test(model_config, numbers_and_words_are_checked_at_load)
{
    /* eps -1 loaded and failed only at the first run. */
    expect_bad("eps", "-1", "metadata \"eps\" = -1 is outside [1e-30, 1]");
    expect_bad("eps", "0", "metadata \"eps\" = 0 is outside [1e-30, 1]");
    expect_bad("eps", "1e-92", "\"eps\" = 1e-92 is outside");
    expect_bad("eps", "nan", "\"eps\" = \"nan\" is not a finite number");
    expect_bad("eps", "inf", "\"eps\" = \"inf\" is not a finite number");
    expect_bad("eps", "1e999", "\"eps\" = \"1e999\" is not a finite number");
    expect_bad("eps", "1e-5x", "\"eps\" = \"1e-5x\" is not a finite number");
    expect_bad("embedding_scale", "-8", "\"embedding_scale\" = -8 is outside (0, 1e+06]");
    expect_bad("embedding_scale", "0", "\"embedding_scale\" = 0 is outside (0, 1e+06]");
    expect_bad("kind", "transformer", "\"kind\" = \"transformer\" is not one of encoder,");
    expect_bad("kind", NULL, "__metadata__ has no \"kind\"");
    expect_bad("activation", "mish", "\"activation\" = \"mish\" is not one of relu,");
    expect_bad("positions", "rotary", "\"positions\" = \"rotary\" is not one of");
    expect_bad("norm_type", "batch", "\"norm_type\" = \"batch\" is not one of layer,");
    expect_bad("norm_first", "yes", "\"norm_first\" = \"yes\" is not true/false");
    expect_bad("positions", "learned", "max_positions = 0 is outside 1..");
}

/* clf__config_check of c must be CLF_ERR_BAD_MODEL with want in the message. */
static void expect_check(const clf_model_config *c, const char *want)
{
    cr_assert_eq(clf__config_check(NULL, "cfg", c), CLF_ERR_BAD_MODEL, "%s: accepted", want);
    const char *err = clf_context_last_error(NULL);
    cr_assert(strstr(err, want) && strstr(err, "cfg: bad config: "), "\"%s\" lacks \"%s\"", err,
              want);
}

/* The caller's config (clf_model_params.config, clf_model_create_random)
 * passes the same checks, naming the field. */
Test(model_config, a_callers_config_is_checked_naming_the_field)
{
    clf_model_config ok, c;
    cr_assert_eq(read_cfg(NULL, NULL, &ok), CLF_OK);
    cr_assert_eq(clf__config_check(NULL, "cfg", &ok), CLF_OK);
    c = ok, c.encoder_layers = 1025;
    expect_check(&c, "encoder_layers = 1025 is outside 1..1024");
    c = ok, c.n_heads = 3;
    expect_check(&c, "n_heads = 3 does not divide d_model = 64");
    c = ok, c.n_heads = 0;
    expect_check(&c, "n_heads = 0 is outside 1..64");
    c = ok, c.eps = -1;
    expect_check(&c, "eps = -1 is outside [1e-30, 1]");
    c = ok, c.eps = NAN;
    expect_check(&c, "eps = nan is outside");
    c = ok, c.embedding_scale = INFINITY;
    expect_check(&c, "embedding_scale = inf is outside (0, 1e+06]");
    c = ok, c.bos_id = 100;
    expect_check(&c, "bos_id = 100 is outside -1..99");
    c = ok, c.kind = (clf_model_kind)42;
    expect_check(&c, "kind = 42 is not a clf_model_kind");
    c = ok, c.activation = (clf_act)-1;
    expect_check(&c, "activation = -1 is not a clf_act");
    c = ok, c.vocab = (int64_t)1 << 40;
    expect_check(&c, "vocab = 1099511627776 is outside 1..16777216");
    c = ok, c.d_model = ((int64_t)1 << 32) + 64;
    expect_check(&c, "d_model = 4294967360 is outside 1..65536");
    c = ok, c.positions = CLF_POS_LEARNED, c.max_positions = 8, c.position_offset = 8;
    expect_check(&c, "position_offset = 8 is outside 0..7");
}
