/* Host tests: HuggingFace folder metadata (src/model/hf_config.c). Each
 * family's config.json maps to the conventions in model.h; hostile files
 * (not JSON, trailing bytes, NUL, wrong types, missing keys, negative or
 * inconsistent sizes, unknown architectures, path tricks in modules.json and
 * shard indexes) give CLF_ERR_BAD_MODEL / CLF_ERR_UNSUPPORTED with a message
 * naming the key; allocation failure at every step leaks nothing. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <clformer/clformer.h>

#include "core/core.h"
#include "model/hf_config.h"

/* The text as an exactly-sized heap block (no NUL), so ASan sees overreads. */
static clf_status parse(const char *json, clf__hf_config *c, char *err, size_t n)
{
    size_t len = strlen(json);
    char *t = malloc(len ? len : 1);
    memcpy(t, json, len);
    clf_status s = clf__hf_parse_config(t, len, c, err, n);
    free(t);
    return s;
}

static void expect(const char *json, clf_status want, const char *msg)
{
    long live = clf__alloc_live();
    clf__hf_config c;
    char err[512];
    clf_status s = parse(json, &c, err, sizeof err);
    cr_assert_eq(s, want, "%s\n  -> %s (%s), expected %s", json, clf_status_name(s), err,
                 clf_status_name(want));
    cr_assert(strstr(err, msg), "%s\n  message \"%s\" lacks \"%s\"", json, err, msg);
    cr_assert_str_eq(clf_context_last_error(NULL), err);
    cr_assert_eq(c.labels, NULL);
    cr_assert_eq(clf__alloc_live(), live, "leak after %s", json);
}

#define BERT_KEYS                                                                                  \
    "\"vocab_size\": 100, \"hidden_size\": 32, \"num_hidden_layers\": 2, "                        \
    "\"num_attention_heads\": 4, \"intermediate_size\": 64, \"max_position_embeddings\": 40"
#define BART_KEYS                                                                                  \
    "\"vocab_size\": 90, \"d_model\": 32, \"encoder_layers\": 2, \"decoder_layers\": 1, "         \
    "\"encoder_attention_heads\": 4, \"decoder_attention_heads\": 4, \"encoder_ffn_dim\": 48, "   \
    "\"decoder_ffn_dim\": 48, \"max_position_embeddings\": 64, \"pad_token_id\": 1, "            \
    "\"eos_token_id\": 2"

Test(hf_config, each_family_maps_to_its_conventions)
{
    clf__hf_config c;
    char err[512];
    cr_assert_eq(parse("{\"architectures\": [\"BertForSequenceClassification\"], " BERT_KEYS
                       ", \"layer_norm_eps\": 1e-7, \"hidden_act\": \"gelu_new\", "
                       "\"id2label\": {\"1\": \"yes\", \"0\": \"no\"}}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert_eq(c.family, CLF__HF_BERT);
    cr_assert(c.classifier && c.cfg.pooler && c.cfg.embedding_norm && !c.cfg.norm_first);
    cr_assert_eq(c.cfg.kind, CLF_MODEL_ENCODER);
    cr_assert_eq(c.cfg.encoder_layers, 2);
    cr_assert_eq(c.cfg.activation, CLF_ACT_GELU_TANH);
    cr_assert_eq(c.cfg.positions, CLF_POS_LEARNED);
    cr_assert_eq(c.cfg.max_positions, 40);
    cr_assert_float_eq(c.cfg.eps, 1e-7f, 1e-12f);
    cr_assert_eq(c.cfg.n_classes, 2);
    cr_assert_str_eq(c.labels[0], "no");
    cr_assert_str_eq(c.labels[1], "yes");
    clf__hf_config_clear(&c);

    cr_assert_eq(parse("{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 64, "
                       "\"n_layer\": 3, \"n_head\": 4, \"n_positions\": 32, \"n_inner\": null, "
                       "\"eos_token_id\": 49}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert_str_eq(c.architecture, "GPT2LMHeadModel");
    cr_assert(c.cfg.kind == CLF_MODEL_DECODER && c.cfg.norm_first && c.cfg.tied_embeddings);
    cr_assert(c.cfg.decoder_final_norm && c.cfg.d_ff == 256 && c.cfg.eos_id == 49);
    cr_assert_eq(c.cfg.activation, CLF_ACT_GELU_TANH);
    clf__hf_config_clear(&c);

    cr_assert_eq(parse("{\"architectures\": [\"BartForConditionalGeneration\"], " BART_KEYS
                       ", \"scale_embedding\": true}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert(c.cfg.kind == CLF_MODEL_ENCODER_DECODER && c.cfg.embedding_norm);
    cr_assert(c.cfg.position_offset == 2 && c.cfg.max_positions == 66);
    cr_assert_eq(c.cfg.bos_id, 2, "BART starts from EOS when decoder_start_token_id is absent");
    cr_assert_float_eq(c.cfg.embedding_scale, sqrtf(32.0f), 1e-6f);
    cr_assert(c.cfg.output_bias && c.cfg.tied_embeddings && c.cfg.activation == CLF_ACT_GELU);
    clf__hf_config_clear(&c);

    cr_assert_eq(parse("{\"architectures\": [\"MarianMTModel\"], " BART_KEYS
                       ", \"activation_function\": \"swish\"}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert(c.cfg.positions == CLF_POS_SINUSOIDAL_CONCAT && !c.cfg.embedding_norm);
    cr_assert(c.cfg.bos_id == 1 && c.cfg.activation == CLF_ACT_SILU);
    cr_assert_float_eq(c.cfg.embedding_scale, 1.0f, 0);
    clf__hf_config_clear(&c);
}

#define DISTILBERT_KEYS                                                                            \
    "\"vocab_size\": 90, \"dim\": 32, \"n_layers\": 3, \"n_heads\": 4, \"hidden_dim\": 48, "     \
    "\"max_position_embeddings\": 24"

/* RoBERTa and XLM-R: BERT's keys, positions from padding_idx + 1 (the pad
 * id, 1 by default); DistilBERT: its own keys, no token types, no pooler. */
Test(hf_config, roberta_xlmr_and_distilbert_map_to_their_conventions)
{
    clf__hf_config c;
    char err[512];
    cr_assert_eq(parse("{\"architectures\": [\"RobertaForSequenceClassification\"], " BERT_KEYS
                       ", \"pad_token_id\": 5, \"type_vocab_size\": 1, \"num_labels\": 3}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert_eq(c.family, CLF__HF_ROBERTA);
    cr_assert(c.classifier && c.cfg.n_classes == 3 && strcmp(c.labels[2], "LABEL_2") == 0);
    cr_assert(c.cfg.pad_id == 5 && c.cfg.position_offset == 6 && c.cfg.max_positions == 40,
              "pad %d, offset %lld", c.cfg.pad_id, (long long)c.cfg.position_offset);
    cr_assert(c.cfg.pooler && c.cfg.embedding_norm && c.type_vocab == 1);
    clf__hf_config_clear(&c);

    /* model_type alone: the family's base architecture; pad 1 when absent. */
    cr_assert_eq(parse("{\"model_type\": \"xlm-roberta\", " BERT_KEYS "}", &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert_eq(c.family, CLF__HF_XLM_ROBERTA);
    cr_assert_str_eq(c.architecture, "XLMRobertaModel");
    cr_assert(!c.classifier && c.cfg.pad_id == 1 && c.cfg.position_offset == 2);
    clf__hf_config_clear(&c);

    cr_assert_eq(parse("{\"architectures\": [\"DistilBertModel\"], " DISTILBERT_KEYS
                       ", \"activation\": \"relu\", \"pad_token_id\": 0, "
                       "\"sinusoidal_pos_embds\": true}",
                       &c, err, sizeof err),
                 CLF_OK, "%s", err);
    cr_assert_eq(c.family, CLF__HF_DISTILBERT);
    cr_assert(c.cfg.kind == CLF_MODEL_ENCODER && c.cfg.encoder_layers == 3 && c.cfg.d_ff == 48);
    cr_assert(c.cfg.d_model == 32 && c.cfg.n_heads == 4 && c.cfg.activation == CLF_ACT_RELU);
    cr_assert(!c.cfg.pooler && c.cfg.embedding_norm && !c.cfg.norm_first && c.type_vocab == 0);
    cr_assert(c.cfg.positions == CLF_POS_LEARNED && c.cfg.position_offset == 0);
    cr_assert_float_eq(c.cfg.eps, 1e-12f, 1e-18f);
    clf__hf_config_clear(&c);

    expect("{\"model_type\": \"roberta\", " BERT_KEYS ", \"pad_token_id\": null}",
           CLF_ERR_BAD_MODEL, "\"pad_token_id\" is null");
    expect("{\"model_type\": \"roberta\", " BERT_KEYS ", \"pad_token_id\": 39}",
           CLF_ERR_BAD_MODEL,
           "\"max_position_embeddings\" = 40 leaves no position after the padding index "
           "(\"pad_token_id\" = 39: positions start at 40)");
    expect("{\"model_type\": \"distilbert\", \"vocab_size\": 90, \"dim\": 30, \"n_heads\": 4, "
           "\"n_layers\": 1}",
           CLF_ERR_BAD_MODEL, "\"dim\" = 30 is not a multiple of \"n_heads\" = 4");
    expect("{\"model_type\": \"distilbert\", " DISTILBERT_KEYS ", \"activation\": \"tanh\"}",
           CLF_ERR_UNSUPPORTED, "\"activation\" = \"tanh\" is not supported");
    expect("{\"architectures\": [\"DistilBertForSequenceClassification\"], " DISTILBERT_KEYS "}",
           CLF_ERR_UNSUPPORTED, "\"DistilBertForSequenceClassification\" is not supported");
}

/* The family table (hf_config.h) is the one list: every architecture in a
 * row is accepted (a config with only its name gets as far as the family's
 * first missing key) and named in the supported list of messages, and the
 * classification head follows the architecture's name. */
Test(hf_config, every_architecture_of_the_family_table_is_accepted_and_listed)
{
    char sup[1024];
    clf__hf_supported(sup, sizeof sup);
    int n = 0;
#define ROW(id, mt, archs, parse, names, pre, ign) {CLF__HF_##id, mt, archs},
    static const struct {
        clf__hf_family id;
        const char *mt, *archs;
    } rows[] = {CLF__HF_FAMILIES(ROW)};
#undef ROW
    cr_assert_eq(sizeof rows / sizeof rows[0], CLF__HF_N_FAMILIES);
    for (size_t f = 0; f < sizeof rows / sizeof rows[0]; f++) {
        cr_assert_eq(rows[f].id, (clf__hf_family)f, "rows are in enum order");
        for (const char *a = rows[f].archs; *a; n++) {
            size_t len = strcspn(a, "|");
            char json[256], name[128];
            snprintf(name, sizeof name, "%.*s", (int)len, a);
            cr_assert(strstr(sup, name), "\"%s\" is not in the supported list: %s", name, sup);
            snprintf(json, sizeof json, "{\"architectures\": [\"%s\"]}", name);
            expect(json, CLF_ERR_BAD_MODEL, "missing key");
            a += len + (a[len] == '|');
        }
        char json[128];
        snprintf(json, sizeof json, "{\"model_type\": \"%s\"}", rows[f].mt);
        expect(json, CLF_ERR_BAD_MODEL, "missing key");
    }
    printf("[hf_config] %d families, %d architectures: %s\n", (int)CLF__HF_N_FAMILIES, n, sup);
    /* A buffer too small is cut, never overrun. */
    char small[12];
    memset(small, 'x', sizeof small);
    clf__hf_supported(small, 8);
    cr_assert(strlen(small) == 7 && small[8] == 'x', "\"%s\"", small);
}

Test(hf_config, hostile_config_json_is_rejected_naming_the_problem)
{
    expect("", CLF_ERR_BAD_MODEL, "not valid JSON");
    expect("{\"model_type\": \"bert\"", CLF_ERR_BAD_MODEL, "not valid JSON");
    expect("{} x", CLF_ERR_BAD_MODEL, "(at byte 3)"); /* json-c's strict mode or ours */
    expect("[1, 2]", CLF_ERR_BAD_MODEL, "not an object");
    expect("{\"a\": 1,}", CLF_ERR_BAD_MODEL, "not valid JSON");
    expect("{\"a\": \"\xff\xfe\"}", CLF_ERR_BAD_MODEL, "not valid JSON");
    expect("{}", CLF_ERR_BAD_MODEL, "neither \"architectures\" nor \"model_type\"");
    expect("{\"architectures\": [\"LlamaForCausalLM\"]}", CLF_ERR_UNSUPPORTED,
           "architecture \"LlamaForCausalLM\" is not supported (supported: BertModel, "
           "BertForSequenceClassification, GPT2LMHeadModel, BartForConditionalGeneration, "
           "MarianMTModel, RobertaModel, RobertaForSequenceClassification, XLMRobertaModel, "
           "XLMRobertaForSequenceClassification, DistilBertModel)");
    expect("{\"model_type\": \"t5\"}", CLF_ERR_UNSUPPORTED, "model_type \"t5\"");
    expect("{\"architectures\": []}", CLF_ERR_BAD_MODEL, "\"architectures\" is not a non-empty");
    expect("{\"architectures\": [7]}", CLF_ERR_BAD_MODEL, "\"architectures\"[0] is a int");
    expect("{\"model_type\": \"bert\", \"hidden_size\": 32}", CLF_ERR_BAD_MODEL,
           "missing key \"vocab_size\"");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"vocab_size\": \"100\"}", CLF_ERR_BAD_MODEL,
           "\"vocab_size\" is a string, not an integer");
    expect("{\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": -32}",
           CLF_ERR_BAD_MODEL, "\"hidden_size\" = -32 is outside 1..");
    expect("{\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": 32.0}",
           CLF_ERR_BAD_MODEL, "\"hidden_size\" is a double, not an integer");
    expect("{\"model_type\": \"bert\", \"vocab_size\": 99999999999999999999999}",
           CLF_ERR_BAD_MODEL, "\"vocab_size\"");
    expect("{\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": 30, "
           "\"num_hidden_layers\": 2, \"num_attention_heads\": 4}",
           CLF_ERR_BAD_MODEL, "\"hidden_size\" = 30 is not a multiple of \"num_attention_heads\"");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"layer_norm_eps\": -1}", CLF_ERR_BAD_MODEL,
           "\"layer_norm_eps\" = -1 is outside");
    /* Found by the fuzzer: 1e-92 is positive as a double but 0 as a float. */
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"layer_norm_eps\": 1e-92}",
           CLF_ERR_BAD_MODEL, "\"layer_norm_eps\" = 1e-92 is outside [1e-30, 1]");
    expect("{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 64, \"n_layer\": 1, "
           "\"n_head\": 4, \"n_positions\": 32, \"layer_norm_epsilon\": 0}",
           CLF_ERR_BAD_MODEL, "\"layer_norm_epsilon\" = 0 is outside");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"hidden_act\": \"mish\"}",
           CLF_ERR_UNSUPPORTED, "\"hidden_act\" = \"mish\" is not supported");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"position_embedding_type\": \"relative_key\"}",
           CLF_ERR_UNSUPPORTED, "relative_key");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"pad_token_id\": 100}", CLF_ERR_BAD_MODEL,
           "\"pad_token_id\" = 100 is outside 0..99");
    expect("{\"model_type\": \"bert\", " BERT_KEYS ", \"is_decoder\": 1}", CLF_ERR_BAD_MODEL,
           "\"is_decoder\" is a int, not true/false");
    expect("{\"architectures\": [\"BertForSequenceClassification\"], " BERT_KEYS
           ", \"id2label\": {\"0\": \"a\", \"2\": \"b\"}}",
           CLF_ERR_BAD_MODEL, "\"id2label\" has no key \"1\"");
    expect("{\"architectures\": [\"BertForSequenceClassification\"], " BERT_KEYS
           ", \"id2label\": {\"0\": \"a\"}, \"num_labels\": 2}",
           CLF_ERR_BAD_MODEL, "\"num_labels\" = 2 but \"id2label\" has 1");
    expect("{\"architectures\": [\"BertForSequenceClassification\"], " BERT_KEYS
           ", \"id2label\": {\"0\": 5}}",
           CLF_ERR_BAD_MODEL, "\"id2label\"[\"0\"] is a int");
    expect("{\"model_type\": \"bart\", " BART_KEYS ", \"decoder_attention_heads\": 8}",
           CLF_ERR_UNSUPPORTED, "\"encoder_attention_heads\" = 4 != \"decoder_attention_heads\"");
    expect("{\"model_type\": \"bart\", " BART_KEYS ", \"normalize_before\": true}",
           CLF_ERR_UNSUPPORTED, "\"normalize_before\" = true");
    expect("{\"model_type\": \"marian\", " BART_KEYS ", \"decoder_vocab_size\": 80}",
           CLF_ERR_UNSUPPORTED, "\"decoder_vocab_size\" = 80");
    expect("{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 64, \"n_layer\": 1, "
           "\"n_head\": 4, \"n_positions\": 32, \"scale_attn_by_inverse_layer_idx\": true}",
           CLF_ERR_UNSUPPORTED, "scale_attn_by_inverse_layer_idx");
    /* Deep nesting stops at json-c's depth limit, without recursion trouble. */
    char deep[4096];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof deep, "{\"model_type\": \"bert\", \"x\": ");
    for (int i = 0; i < 1000; i++)
        deep[n++] = '[';
    deep[n] = '\0';
    expect(deep, CLF_ERR_BAD_MODEL, "not valid JSON");
    /* A NUL inside the text. */
    clf__hf_config c;
    char err[256];
    cr_assert_eq(clf__hf_parse_config("{\"a\"\0: 1}", 9, &c, err, sizeof err), CLF_ERR_BAD_MODEL);
    cr_assert(strstr(err, "NUL byte"), "%s", err);
}

/* Integers past int32 are range errors naming the key, never cut to an int;
 * sizes are held to clformer's limits for every config (model_config.h). */
Test(hf_config, sizes_and_ids_are_range_checked_not_cut_to_int)
{
#define BERT_WITH(k, v)                                                                            \
    "{\"model_type\": \"bert\", \"vocab_size\": 100, \"hidden_size\": 32, "                      \
    "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"intermediate_size\": 64, "          \
    "\"max_position_embeddings\": 40, \"" k "\": " v "}"
    expect(BERT_WITH("num_hidden_layers", "4294967298"), CLF_ERR_BAD_MODEL,
           "\"num_hidden_layers\" = 4294967298 is outside 1..1024");
    expect(BERT_WITH("num_hidden_layers", "1000000000"), CLF_ERR_BAD_MODEL,
           "\"num_hidden_layers\" = 1000000000 is outside 1..1024");
    expect(BERT_WITH("num_hidden_layers", "1e9"), CLF_ERR_BAD_MODEL,
           "\"num_hidden_layers\" is a double, not an integer");
    expect(BERT_WITH("num_attention_heads", "4294967300"), CLF_ERR_BAD_MODEL,
           "\"num_attention_heads\" = 4294967300 is outside 1..65536");
    expect(BERT_WITH("pad_token_id", "4294967297"), CLF_ERR_BAD_MODEL,
           "\"pad_token_id\" = 4294967297 is outside 0..99");
    expect(BERT_WITH("hidden_size", "65537"), CLF_ERR_BAD_MODEL,
           "\"hidden_size\" = 65537 is outside 1..65536");
    expect(BERT_WITH("intermediate_size", "1048577"), CLF_ERR_BAD_MODEL,
           "\"intermediate_size\" = 1048577 is outside 1..1048576");
    expect(BERT_WITH("vocab_size", "16777217"), CLF_ERR_BAD_MODEL,
           "\"vocab_size\" = 16777217 is outside 1..16777216");
    expect(BERT_WITH("max_position_embeddings", "1048577"), CLF_ERR_BAD_MODEL,
           "\"max_position_embeddings\" = 1048577 is outside 1..1048576");
    expect(BERT_WITH("layer_norm_eps", "-1"), CLF_ERR_BAD_MODEL,
           "\"layer_norm_eps\" = -1 is outside [1e-30, 1]");
#undef BERT_WITH
    expect("{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 64, \"n_layer\": 1, "
           "\"n_head\": 4, \"n_positions\": 32, \"bos_token_id\": 4294967297}",
           CLF_ERR_BAD_MODEL, "\"bos_token_id\" = 4294967297 is outside 0..49");
    expect("{\"model_type\": \"gpt2\", \"vocab_size\": 50, \"n_embd\": 65540, \"n_layer\": 1, "
           "\"n_head\": 4, \"n_positions\": 32}",
           CLF_ERR_BAD_MODEL, "\"n_embd\" = 65540 is outside 1..65536");
    expect("{\"model_type\": \"bart\", " BART_KEYS ", \"encoder_layers\": 4294967298}",
           CLF_ERR_BAD_MODEL, "\"encoder_layers\" = 4294967298 is outside 1..1024");
}

Test(hf_config, allocation_failure_at_every_step_leaks_nothing)
{
    const char *json = "{\"architectures\": [\"BertForSequenceClassification\"], " BERT_KEYS
                       ", \"id2label\": {\"0\": \"neg\", \"1\": \"neu\", \"2\": \"pos\"}}";
    for (long k = 1;; k++) {
        long live = clf__alloc_live();
        clf__hf_config c;
        char err[256];
        clf__alloc_fail_at(k);
        clf_status s = parse(json, &c, err, sizeof err);
        clf__alloc_fail_at(0);
        if (s == CLF_OK) {
            cr_assert_eq(c.cfg.n_classes, 3);
            clf__hf_config_clear(&c);
            cr_assert_eq(clf__alloc_live(), live);
            cr_assert_gt(k, 2, "the labels take allocations");
            break;
        }
        cr_assert_eq(s, CLF_ERR_OUT_OF_MEMORY, "step %ld: %s", k, err);
        cr_assert_eq(clf__alloc_live(), live, "leak when allocation %ld fails", k);
    }
}

Test(hf_config, sentence_transformers_modules_and_pooling)
{
    clf__hf_modules m;
    char err[256];
    const char *ok = "[{\"idx\": 0, \"path\": \"\", \"type\": "
                     "\"sentence_transformers.models.Transformer\"}, {\"path\": \"1_Pooling\", "
                     "\"type\": \"sentence_transformers.models.Pooling\"}, {\"path\": "
                     "\"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]";
    cr_assert_eq(clf__hf_parse_modules(ok, strlen(ok), &m, err, sizeof err), CLF_OK, "%s", err);
    cr_assert(m.sentence_transformers && m.normalize);
    cr_assert_str_eq(m.pooling_path, "1_Pooling");
    static const struct {
        const char *json, *msg;
        clf_status st;
    } bad[] = {
        {"{}", "not an array", CLF_ERR_BAD_MODEL},
        {"[{\"path\": \"../../etc\", \"type\": \"x.Pooling\"}]", "not a plain relative folder",
         CLF_ERR_BAD_MODEL},
        {"[{\"path\": \"/etc\", \"type\": \"Pooling\"}]", "not a plain relative folder",
         CLF_ERR_BAD_MODEL},
        {"[{\"path\": \"2_Dense\", \"type\": \"sentence_transformers.models.Dense\"}]",
         "module type \"sentence_transformers.models.Dense\" is not supported",
         CLF_ERR_UNSUPPORTED},
        {"[{\"path\": \"x\"}]", "entry 0 has no \"type\"", CLF_ERR_BAD_MODEL},
        {"[3]", "entry 0 is a int", CLF_ERR_BAD_MODEL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clf_status s = clf__hf_parse_modules(bad[i].json, strlen(bad[i].json), &m, err, sizeof err);
        cr_assert_eq(s, bad[i].st, "%s -> %s", bad[i].json, err);
        cr_assert(strstr(err, bad[i].msg), "%s: \"%s\" lacks \"%s\"", bad[i].json, err, bad[i].msg);
    }
    clf_pooling p;
    const char *mean = "{\"word_embedding_dimension\": 384, \"pooling_mode_mean_tokens\": true}";
    cr_assert_eq(clf__hf_parse_pooling(mean, strlen(mean), 384, &p, err, sizeof err), CLF_OK);
    cr_assert_eq(p, CLF_POOL_MEAN);
    cr_assert_eq(clf__hf_parse_pooling(mean, strlen(mean), 768, &p, err, sizeof err),
                 CLF_ERR_BAD_MODEL);
    cr_assert(strstr(err, "hidden size is 768"), "%s", err);
    const char *mx = "{\"pooling_mode_max_tokens\": true}";
    cr_assert_eq(clf__hf_parse_pooling(mx, strlen(mx), 384, &p, err, sizeof err),
                 CLF_ERR_UNSUPPORTED);
    cr_assert(strstr(err, "pooling_mode_max_tokens"), "%s", err);
}

Test(hf_config, shard_index_names_plain_files_only)
{
    clf__hf_index x;
    char err[256];
    const char *ok = "{\"metadata\": {\"total_size\": 10}, \"weight_map\": {\"a\": \"m-1.st\", "
                     "\"b\": \"m-2.st\", \"c\": \"m-1.st\"}}";
    long live = clf__alloc_live();
    cr_assert_eq(clf__hf_parse_index(ok, strlen(ok), &x, err, sizeof err), CLF_OK, "%s", err);
    cr_assert_eq(x.n_files, 2);
    cr_assert_eq(x.n_weights, 3);
    clf__hf_index_clear(&x);
    cr_assert_eq(clf__alloc_live(), live);
    static const char *const bad[][2] = {
        {"{}", "missing key \"weight_map\""},
        {"{\"weight_map\": {}}", "\"weight_map\" is empty"},
        {"{\"weight_map\": {\"a\": \"../secret\"}}", "is not a plain file name"},
        {"{\"weight_map\": {\"a\": \"/etc/passwd\"}}", "is not a plain file name"},
        {"{\"weight_map\": {\"a\": \"..\"}}", "is not a plain file name"},
        {"{\"weight_map\": {\"a\": 1}}", "\"weight_map\"[\"a\"] is a int"},
        {"{\"weight_map\": []}", "\"weight_map\" is a array"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(clf__hf_parse_index(bad[i][0], strlen(bad[i][0]), &x, err, sizeof err),
                     CLF_ERR_BAD_MODEL, "%s", bad[i][0]);
        cr_assert(strstr(err, bad[i][1]), "%s: \"%s\" lacks \"%s\"", bad[i][0], err, bad[i][1]);
        cr_assert_eq(clf__alloc_live(), live);
    }
}
