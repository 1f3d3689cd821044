#!/usr/bin/env python3
"""Goldens of random-initialised small HuggingFace models for tests/test_hf.c.

For each family, a folder tests/golden/hf/<name>/ as save_pretrained writes
it (config.json + model.safetensors, or shards + model.safetensors.index.json)
and golden.safetensors beside it with inputs and the transformers outputs:

  bert      BertModel, f32: last_hidden_state and pooler_output of a padded
            batch (compare rows t < lengths[b]).
  bert_cls  BertForSequenceClassification, f16 weights, 3 labels with names,
            saved in shards (model.safetensors.index.json): logits.
  gpt2      GPT2LMHeadModel, bf16 weights (tied head): logits of two prompts,
            greedy and beam-4 generate() ids.
  bart      BartForConditionalGeneration, f32 (scale_embedding true):
            teacher-forced logits with a padded source batch, greedy and
            beam-4 generate() ids.
  marian    MarianMTModel, f32 (swish, sinusoidal positions, scale_embedding):
            the same outputs.
  roberta   RobertaModel, f32 (pad 1: positions start at 2; type_vocab 1):
            last_hidden_state and pooler_output of a batch right-padded
            with the pad id (compare rows t < lengths[b]).
  roberta_cls  RobertaForSequenceClassification, bf16 weights, 3 labels:
            logits (its head: dense + tanh on <s>, then out_proj).
  xlmr      XLMRobertaModel (vocab 250) as a sentence-transformers folder
            (modules.json: Transformer, Pooling with mean tokens, Normalize):
            last_hidden_state and the mean-pooled, L2-normalised embeddings
            (sentence-transformers' Pooling + Normalize, computed here).
  distilbert  DistilBertModel, f32, relu, with a WordPiece vocab.txt:
            last_hidden_state of a padded batch, and the mean-pooled vector of
            the text CLI_TEXT as DistilBertTokenizer encodes it (for
            tests/check_cli.sh: `clformer run embed` on this folder).

Every weight is random (normal, std 0.2 for matrices, LayerNorm weights 1 +-
0.1 and biases +- 0.1 so that every term is tested); weights stored in f16 or
bf16 are rounded before the outputs are computed, so the outputs belong to
the stored weights. generate() settings (the same for greedy and beam):
do_sample=False, max_new_tokens=N, num_beams 1 or 4, length_penalty=1.0,
early_stopping=False, no_repeat_ngram_size=0, repetition_penalty=1.0,
forced_bos_token_id=None, forced_eos_token_id=None, bad_words_ids=None,
min_length=0; generated ids are stored after the decoder start token (enc-dec)
or after the prompt (GPT-2), -1 after the first EOS (EOS kept) and after the
end. Seeds fixed; the versions are recorded in each golden's __metadata__.

With the families' generation settings ON (issue 14), bart/ and marian/ also
hold generation_config.json (written here; GEN_BART / GEN_MARIAN) and
golden_gen.safetensors: greedy (num_beams=1 passed to generate(), as the only
override) and beam (the file's num_beams) ids of the model reloaded with
from_pretrained, i.e. exactly what transformers reads from the folder.
`make_hf_golden.py --gen-only bart marian` writes only those two files, after
checking that the rebuilt weights equal the folder's model.safetensors.

Needs (only when regenerating): pip install torch transformers safetensors numpy
"""
import json
import os
import platform
import shutil
import sys

import numpy as np
import torch
import transformers
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = dict(do_sample=False, length_penalty=1.0, early_stopping=False, no_repeat_ngram_size=0,
           repetition_penalty=1.0, forced_bos_token_id=None, forced_eos_token_id=None,
           bad_words_ids=None, min_length=0, num_return_sequences=1)


# generation_config.json of the goldens with the processors on.
GEN_BART = dict(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2, pad_token_id=1,
                forced_bos_token_id=0, forced_eos_token_id=2, no_repeat_ngram_size=3,
                min_length=6, repetition_penalty=1.3, early_stopping=True, num_beams=4,
                length_penalty=1.5, max_length=14)
GEN_MARIAN = dict(decoder_start_token_id=89, eos_token_id=0, pad_token_id=89,
                  bad_words_ids=[[89]], forced_eos_token_id=0, num_beams=4,
                  early_stopping="never", length_penalty=1.2, max_new_tokens=12)


def randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not p.requires_grad:  # Marian's sinusoid table (a frozen parameter)
                continue
            if "LayerNorm.weight" in name or "layer_norm.weight" in name or \
                    "layernorm_embedding.weight" in name or name.endswith("ln_1.weight") or \
                    name.endswith("ln_2.weight") or name.endswith("ln_f.weight"):
                p.copy_(1 + 0.1 * (2 * torch.rand(p.shape, generator=g) - 1))
            elif p.dim() == 1:
                p.copy_(0.1 * (2 * torch.rand(p.shape, generator=g) - 1))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(0.5 * torch.randn(model.final_logits_bias.shape,
                                                            generator=g))


def metadata(seed, extra):
    import safetensors

    m = {"seed": str(seed), "torch_version": torch.__version__,
         "transformers_version": transformers.__version__,
         "safetensors_version": safetensors.__version__, "numpy_version": np.__version__,
         "python_version": platform.python_version()}
    m.update({k: str(v) for k, v in extra.items()})
    return dict(sorted(m.items()))


def save(model, name, dtype, tensors, meta, shard=None):
    folder = os.path.join(HERE, name)
    shutil.rmtree(folder, ignore_errors=True)
    kw = {"max_shard_size": shard} if shard else {}
    model.to(dtype).save_pretrained(folder, safe_serialization=True, **kw)
    model.float()
    for f in os.listdir(folder):
        if f == "generation_config.json":
            os.remove(os.path.join(folder, f))
    save_file(tensors, os.path.join(folder, "golden.safetensors"), metadata=meta)
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print("wrote %s (%d bytes): %s" % (folder, size, ", ".join(sorted(os.listdir(folder)))),
          file=sys.stderr)


def round_weights(model, dtype):
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(dtype).float())
        for n, b in model.named_buffers():
            if b.is_floating_point():
                b.copy_(b.to(dtype).float())


def ids_after(out, start, eos, n):
    """(B, n) int32: tokens from column `start`, -1 after the first EOS."""
    res = np.full((out.shape[0], n), -1, np.int32)
    for b in range(out.shape[0]):
        toks = out[b, start:].tolist()
        for i, t in enumerate(toks[:n]):
            res[b, i] = t
            if t == eos:
                break
    return res


def generate(model, n, beams, **inputs):
    with torch.no_grad():
        return model.generate(**inputs, max_new_tokens=n, num_beams=beams, **GEN).numpy()


def bert():
    seed = 11
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=2,
                                  num_attention_heads=4, intermediate_size=37,
                                  max_position_embeddings=40, type_vocab_size=2,
                                  layer_norm_eps=1e-12, hidden_act="gelu")
    model = transformers.BertModel(cfg).eval()
    randomise(model, seed)
    ids = torch.randint(1, 99, (3, 11), generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor([11, 6, 1])
    mask = (torch.arange(11)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    save(model, "bert", torch.float32, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "hidden": out.last_hidden_state.numpy(), "pooled": out.pooler_output.numpy()},
        metadata(seed, {"model": "BertModel"}))


def bert_cls():
    seed = 12
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(vocab_size=120, hidden_size=48, num_hidden_layers=2,
                                  num_attention_heads=3, intermediate_size=64,
                                  max_position_embeddings=32, layer_norm_eps=1e-12,
                                  hidden_act="gelu", num_labels=3,
                                  id2label={0: "negative", 1: "neutral", 2: "positive"},
                                  label2id={"negative": 0, "neutral": 1, "positive": 2},
                                  architectures=["BertForSequenceClassification"])
    model = transformers.BertForSequenceClassification(cfg).eval()
    randomise(model, seed)
    round_weights(model, torch.float16)
    ids = torch.randint(1, 120, (4, 9), generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor([9, 3, 7, 2])
    mask = (torch.arange(9)[None, :] < lengths[:, None]).long()
    ids = ids * mask
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    save(model, "bert_cls", torch.float16, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "logits": logits.numpy()}, metadata(seed, {"model": "BertForSequenceClassification"}),
        shard="40KB")


def gpt2():
    seed = 15
    torch.manual_seed(seed)
    cfg = transformers.GPT2Config(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_positions=48,
                                  activation_function="gelu_new", layer_norm_epsilon=1e-5,
                                  bos_token_id=0, eos_token_id=127, pad_token_id=127)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    randomise(model, seed)
    with torch.no_grad():  # a larger head gain: peaked logits, clear argmax margins
        model.transformer.ln_f.weight.mul_(2)
    round_weights(model, torch.bfloat16)
    ids = torch.randint(1, 127, (2, 8), generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    n = 12
    greedy = generate(model, n, 1, input_ids=ids, attention_mask=torch.ones_like(ids))
    beam = generate(model, n, 4, input_ids=ids, attention_mask=torch.ones_like(ids))
    save(model, "gpt2", torch.bfloat16, {
        "input_ids": ids.int().numpy(), "logits": logits.numpy(),
        "greedy_ids": ids_after(greedy, 8, 127, n), "beam_ids": ids_after(beam, 8, 127, n)},
        metadata(seed, {"model": "GPT2LMHeadModel", "max_new_tokens": n, "beam_size": 4,
                        "generate": json.dumps(GEN)}))


def gen_golden(model, name, gen, src, mask, eos, seed):
    """generation_config.json + golden_gen.safetensors in folder `name`."""
    import tempfile
    from safetensors.numpy import load_file
    folder = os.path.join(HERE, name)
    stored = load_file(os.path.join(folder, "model.safetensors"))
    mine = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    for k, v in stored.items():  # the folder holds the weights rebuilt here
        assert np.array_equal(v, mine[k]), "weights differ from %s/model.safetensors: %s" % (name, k)
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(dict(sorted(gen.items())), f, indent=2)
        f.write("\n")
    loaded = type(model).from_pretrained(folder).eval()
    n = gen.get("max_new_tokens") or gen["max_length"] - 1
    with torch.no_grad():
        greedy = loaded.generate(input_ids=src, attention_mask=mask, num_beams=1).numpy()
        beam = loaded.generate(input_ids=src, attention_mask=mask).numpy()
    save_file({"greedy_ids": ids_after(greedy, 1, eos, n), "beam_ids": ids_after(beam, 1, eos, n)},
              os.path.join(folder, "golden_gen.safetensors"),
              metadata=metadata(seed, {"max_new_tokens": n, "generation_config": json.dumps(gen)}))
    print("wrote %s/generation_config.json, golden_gen.safetensors" % folder, file=sys.stderr)


def seq2seq(name, cls, cfg, seed, gain, eos_bias, gen, gen_only):
    torch.manual_seed(seed)
    model = cls(cfg).eval()
    randomise(model, seed)
    with torch.no_grad():  # peaked logits (tied head): scale the last layer norm; favour EOS
        model.model.decoder.layers[-1].final_layer_norm.weight.mul_(gain)
        model.final_logits_bias[0, cfg.eos_token_id] += eos_bias  # some sequences end early
    V = cfg.vocab_size
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(3, V - 1, (2, 9), generator=g)
    lengths = torch.tensor([9, 5])
    mask = (torch.arange(9)[None, :] < lengths[:, None]).long()
    src = src * mask + cfg.pad_token_id * (1 - mask)
    src[0, 8] = cfg.eos_token_id
    src[1, 4] = cfg.eos_token_id
    tgt = torch.randint(3, V - 1, (2, 6), generator=g)
    tgt[:, 0] = cfg.decoder_start_token_id
    if gen_only:
        gen_golden(model, name, gen, src, mask, cfg.eos_token_id, seed)
        return
    with torch.no_grad():
        logits = model(input_ids=src, attention_mask=mask, decoder_input_ids=tgt).logits
    n = 12
    greedy = generate(model, n, 1, input_ids=src, attention_mask=mask)
    beam = generate(model, n, 4, input_ids=src, attention_mask=mask)
    eos = cfg.eos_token_id
    save(model, name, torch.float32, {
        "src_ids": src.int().numpy(), "src_lengths": lengths.int().numpy(),
        "tgt_ids": tgt.int().numpy(), "logits": logits.numpy(),
        "greedy_ids": ids_after(greedy, 1, eos, n), "beam_ids": ids_after(beam, 1, eos, n)},
        metadata(seed, {"model": cls.__name__, "max_new_tokens": n, "beam_size": 4,
                        "generate": json.dumps(GEN)}))
    gen_golden(model, name, gen, src, mask, eos, seed)


def bart(gen_only=False):
    cfg = transformers.BartConfig(vocab_size=96, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=4, decoder_attention_heads=4,
                                  encoder_ffn_dim=48, decoder_ffn_dim=48,
                                  max_position_embeddings=40, activation_function="gelu",
                                  scale_embedding=True, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, decoder_start_token_id=2,
                                  forced_bos_token_id=None, forced_eos_token_id=None)
    seq2seq("bart", transformers.BartForConditionalGeneration, cfg, 28, 2.0, 2.0, GEN_BART,
            gen_only)


def marian(gen_only=False):
    cfg = transformers.MarianConfig(vocab_size=90, d_model=32, encoder_layers=2,
                                    decoder_layers=2, encoder_attention_heads=4,
                                    decoder_attention_heads=4, encoder_ffn_dim=48,
                                    decoder_ffn_dim=48, max_position_embeddings=64,
                                    activation_function="swish", scale_embedding=True,
                                    pad_token_id=89, eos_token_id=0, decoder_start_token_id=89,
                                    forced_eos_token_id=None, bad_words_ids=None)
    seq2seq("marian", transformers.MarianMTModel, cfg, 26, 1.0, 3.0, GEN_MARIAN, gen_only)


def padded_batch(seed, V, B, S, lengths, pad, low):
    """(B, S) ids in [low, V) (never pad), right-padded with pad after each
    length, and the attention mask."""
    assert pad < low
    ids = torch.randint(low, V, (B, S), generator=torch.Generator().manual_seed(seed))
    lengths = torch.tensor(lengths)
    mask = (torch.arange(S)[None, :] < lengths[:, None]).long()
    return ids * mask + pad * (1 - mask), lengths, mask


def roberta_config(cls, vocab, **kw):
    return cls(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=37, max_position_embeddings=40, type_vocab_size=1,
               layer_norm_eps=1e-5, hidden_act="gelu", pad_token_id=1, bos_token_id=0,
               eos_token_id=2, **kw)


def roberta():
    seed = 31
    torch.manual_seed(seed)
    cfg = roberta_config(transformers.RobertaConfig, 100)
    model = transformers.RobertaModel(cfg).eval()
    randomise(model, seed)
    # Lengths up to S = 38: the last real token reads the table's last row
    # (position 1 + 38 = 39 of 40), so an offset error cannot pass unseen.
    ids, lengths, mask = padded_batch(seed, 100, 3, 38, [38, 6, 1], 1, 3)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask)
    save(model, "roberta", torch.float32, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "hidden": out.last_hidden_state.numpy(), "pooled": out.pooler_output.numpy()},
        metadata(seed, {"model": "RobertaModel"}))


def roberta_cls():
    seed = 32
    torch.manual_seed(seed)
    cfg = roberta_config(transformers.RobertaConfig, 120, num_labels=3,
                         id2label={0: "negative", 1: "neutral", 2: "positive"},
                         label2id={"negative": 0, "neutral": 1, "positive": 2},
                         architectures=["RobertaForSequenceClassification"])
    model = transformers.RobertaForSequenceClassification(cfg).eval()
    randomise(model, seed)
    round_weights(model, torch.bfloat16)
    ids, lengths, mask = padded_batch(seed, 120, 4, 9, [9, 3, 7, 2], 1, 3)
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    save(model, "roberta_cls", torch.bfloat16, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "logits": logits.numpy()}, metadata(seed, {"model": "RobertaForSequenceClassification"}))


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def xlmr():
    seed = 33
    torch.manual_seed(seed)
    cfg = roberta_config(transformers.XLMRobertaConfig, 250)
    model = transformers.XLMRobertaModel(cfg, add_pooling_layer=False).eval()
    randomise(model, seed)
    ids, lengths, mask = padded_batch(seed, 250, 4, 13, [13, 7, 1, 10], 1, 3)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    # sentence-transformers' Pooling (mean over the attention mask), then
    # Normalize (torch.nn.functional.normalize).
    m = mask[:, :, None].float()
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    emb = torch.nn.functional.normalize(mean, p=2, dim=1)
    save(model, "xlmr", torch.float32, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "hidden": hidden.numpy(), "embeddings": emb.numpy()},
        metadata(seed, {"model": "XLMRobertaModel", "pipeline": "Transformer, Pooling (mean), "
                        "Normalize"}))
    folder = os.path.join(HERE, "xlmr")
    write_json(os.path.join(folder, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"}])
    write_json(os.path.join(folder, "1_Pooling", "config.json"), {
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False})


CLI_TEXT = "w1 w2 w3 w40"


def distilbert():
    seed = 34
    torch.manual_seed(seed)
    V = 90
    cfg = transformers.DistilBertConfig(vocab_size=V, dim=32, n_layers=2, n_heads=4,
                                        hidden_dim=48, max_position_embeddings=24,
                                        activation="relu", pad_token_id=0,
                                        sinusoidal_pos_embds=False)
    model = transformers.DistilBertModel(cfg).eval()
    randomise(model, seed)
    ids, lengths, mask = padded_batch(seed, V, 3, 24, [24, 9, 1], 0, 5)
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    # A WordPiece vocabulary of the model's size, and one text through the
    # transformers tokenizer: the vector `clformer run embed` must print
    # (mean pooling, the CLI's choice for an encoder without its own).
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + ["w%d" % i for i in range(V - 5)]
    folder_tmp = os.path.join(HERE, "distilbert_vocab.txt")
    with open(folder_tmp, "w") as f:
        f.write("\n".join(words) + "\n")
    tok = transformers.DistilBertTokenizer(folder_tmp)
    enc = tok(CLI_TEXT, return_tensors="pt")
    with torch.no_grad():
        h = model(**enc).last_hidden_state
    cli = h.mean(1)
    save(model, "distilbert", torch.float32, {
        "input_ids": ids.int().numpy(), "lengths": lengths.int().numpy(),
        "hidden": hidden.numpy(), "cli_ids": enc["input_ids"].int().numpy(),
        "cli_embedding": cli.numpy()},
        metadata(seed, {"model": "DistilBertModel", "cli_text": CLI_TEXT}))
    os.replace(folder_tmp, os.path.join(HERE, "distilbert", "vocab.txt"))


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    args = sys.argv[1:]
    gen_only = "--gen-only" in args
    which = [a for a in args if a != "--gen-only"] or ["bert", "bert_cls", "gpt2", "bart", "marian",
                                                        "roberta", "roberta_cls", "xlmr",
                                                        "distilbert"]
    for w in which:
        globals()[w](gen_only=True) if gen_only else globals()[w]()


if __name__ == "__main__":
    main()
