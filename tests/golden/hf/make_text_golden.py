#!/usr/bin/env python3
"""Text-in, text-out goldens: small random-initialised models WITH real-format
tokenizer files, for `clformer run ... generate/translate "text"` (tests/check_cli.sh)
and tests/test_hf.c.

  gpt2_text    GPT2LMHeadModel + a byte-level BPE tokenizer trained with HF
               `tokenizers` on tests/golden/text/train.txt (vocab 400), saved by
               GPT2TokenizerFast.save_pretrained (tokenizer.json,
               tokenizer_config.json) plus the model's vocab.json + merges.txt.
  bart_text    BartForConditionalGeneration + a RoBERTa-style byte-level BPE
               (<s> A </s>, specials <s> <pad> </s> <unk> <mask> = 0..4) saved by
               BartTokenizerFast.
  marian_text  MarianMTModel + source.spm / target.spm (pip `sentencepiece`
               Unigram, vocab 400 and 360: the corpus needs 320 characters, trained on the same corpus) and the
               vocab.json that maps their pieces to the model's ids, saved by
               MarianTokenizer.save_pretrained (and loaded back with it).

Every model: D 32, 2 (+2) layers, 4 heads, f32, weights random as in
make_hf_golden.py. Each folder holds its generation_config.json (the family's
settings, written here) and golden_text.json: for each prompt, the tokenizer's
input ids, and for "default" (generate() with the folder's generation config
alone) and "greedy" / "beam" (num_beams overridden) the generated ids (after
the decoder start token / the prompt, EOS kept) and the text:
  - encoder-decoder: tokenizer.decode(ids, skip_special_tokens=True), what
    pipeline("translation" / "text2text-generation") prints;
  - decoder-only: what pipeline("text-generation") prints by default
    (return_full_text=True): the prompt, then decode(prompt + new,
    skip_special_tokens=True) past the length of decode(prompt) (checked here
    against the pipeline itself).

Needs (only when regenerating): torch transformers tokenizers sentencepiece
safetensors numpy (pip). Run: python3 tests/golden/hf/make_text_golden.py
"""
import json
import os
import platform
import shutil
import sys
import tempfile

import torch
import transformers
from make_hf_golden import randomise

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN = os.path.join(HERE, "..", "text", "train.txt")
PROMPTS = ["Hello world", "Le café est très bon.", "Grüße aus München 🙂", "日本語のテキスト",
           "def f(x): return x + 1"]


def versions():
    import sentencepiece
    import tokenizers
    return {"torch": torch.__version__, "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__, "sentencepiece": sentencepiece.__version__,
            "python": platform.python_version()}


def train_bpe(vocab, specials, post=None):
    from tokenizers import ByteLevelBPETokenizer
    tok = ByteLevelBPETokenizer(add_prefix_space=False)
    tok.train([TRAIN], vocab_size=vocab, min_frequency=2, special_tokens=specials,
              show_progress=False)
    if post is not None:
        tok.post_processor = post
    return tok


def fresh(name):
    folder = os.path.join(HERE, name)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    return folder


def decoded(tok, ids):
    return tok.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)


def after(seq, start, eos):
    """The generated ids from column start, up to and with the first EOS."""
    out = []
    for t in seq[start:]:
        out.append(int(t))
        if t == eos:
            break
    return out


def run_cases(model, tok, folder, encdec, cases):
    """golden_text.json: per prompt, its ids and each case's ids and text."""
    loaded = type(model).from_pretrained(folder).eval()
    tok = type(tok).from_pretrained(folder)
    gen = loaded.generation_config
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, int) else gen.eos_token_id[0]
    rows = []
    for p in PROMPTS:
        enc = tok(p, return_tensors="pt")
        ids = enc["input_ids"]
        row = {"prompt": p, "input_ids": ids[0].tolist()}
        for case, kw in cases.items():
            with torch.no_grad():
                out = loaded.generate(**enc, **kw)[0].tolist()
            start = 1 if encdec else ids.shape[1]
            new = after(out, start, eos)
            if encdec:
                text = decoded(tok, new)
            else:
                full = decoded(tok, ids[0].tolist() + new)
                text = p + full[len(decoded(tok, ids[0].tolist())):]
            row[case] = {"ids": new, "text": text}
        rows.append(row)
    if not encdec:  # the pipeline's default output is what we store
        pipe = transformers.pipeline("text-generation", model=loaded, tokenizer=tok,
                                     device="cpu")
        for r in rows:
            got = pipe(r["prompt"])[0]["generated_text"]
            assert got == r["default"]["text"], (got, r["default"]["text"])
    doc = {"cases": {k: {kk: vv for kk, vv in v.items()} for k, v in cases.items()},
           "generation_config": json.load(open(os.path.join(folder, "generation_config.json"))),
           "versions": versions(), "prompts": rows}
    with open(os.path.join(folder, "golden_text.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(folder, f)) for f in os.listdir(folder))
    print("wrote %s (%d bytes): %s" % (folder, size, ", ".join(sorted(os.listdir(folder)))),
          file=sys.stderr)
    for r in rows:
        print("  %r -> %r" % (r["prompt"], r["default"]["text"]), file=sys.stderr)


def write_gen(folder, gen):
    with open(os.path.join(folder, "generation_config.json"), "w") as f:
        json.dump(dict(sorted(gen.items())), f, indent=2)
        f.write("\n")


def gpt2_text():
    seed = 41
    torch.manual_seed(seed)
    bpe = train_bpe(400, ["<|endoftext|>"])
    tok = transformers.GPT2TokenizerFast(tokenizer_object=bpe._tokenizer,
                                         bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                         unk_token="<|endoftext|>", add_prefix_space=False,
                                         clean_up_tokenization_spaces=False)
    V = len(tok)
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    cfg = transformers.GPT2Config(vocab_size=V, n_embd=32, n_layer=2, n_head=4, n_positions=64,
                                  activation_function="gelu_new", bos_token_id=eos,
                                  eos_token_id=eos)
    model = transformers.GPT2LMHeadModel(cfg).eval()
    randomise(model, seed)
    with torch.no_grad():
        model.transformer.ln_f.weight.mul_(2)
    folder = fresh("gpt2_text")
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    bpe._tokenizer.model.save(folder)  # vocab.json + merges.txt, GPT-2's own format
    write_gen(folder, dict(bos_token_id=eos, eos_token_id=eos, max_new_tokens=10, do_sample=False,
                           repetition_penalty=1.3, no_repeat_ngram_size=2))
    run_cases(model, tok, folder, False, {"default": {}, "beam": {"num_beams": 3}})


def bart_text():
    from tokenizers.processors import RobertaProcessing
    seed = 42
    torch.manual_seed(seed)
    bpe = train_bpe(400, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                    RobertaProcessing(("</s>", 2), ("<s>", 0), trim_offsets=True,
                                      add_prefix_space=False))
    tok = transformers.BartTokenizerFast(tokenizer_object=bpe._tokenizer, bos_token="<s>",
                                         eos_token="</s>", sep_token="</s>", cls_token="<s>",
                                         unk_token="<unk>", pad_token="<pad>",
                                         mask_token="<mask>", add_prefix_space=False,
                                         clean_up_tokenization_spaces=False)
    V = len(tok)
    cfg = transformers.BartConfig(vocab_size=V, d_model=32, encoder_layers=2, decoder_layers=2,
                                  encoder_attention_heads=4, decoder_attention_heads=4,
                                  encoder_ffn_dim=48, decoder_ffn_dim=48,
                                  max_position_embeddings=64, activation_function="gelu",
                                  scale_embedding=True, pad_token_id=1, bos_token_id=0,
                                  eos_token_id=2, decoder_start_token_id=2,
                                  forced_bos_token_id=None, forced_eos_token_id=None)
    model = transformers.BartForConditionalGeneration(cfg).eval()
    randomise(model, seed)
    with torch.no_grad():
        model.model.decoder.layers[-1].final_layer_norm.weight.mul_(2.0)
        model.final_logits_bias[0, 2] += 2.0
    folder = fresh("bart_text")
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    write_gen(folder, dict(decoder_start_token_id=2, bos_token_id=0, eos_token_id=2,
                           pad_token_id=1, forced_bos_token_id=0, forced_eos_token_id=2,
                           no_repeat_ngram_size=3, min_length=5, num_beams=4, max_length=16,
                           early_stopping=True, length_penalty=1.0))
    run_cases(model, tok, folder, True, {"default": {}, "greedy": {"num_beams": 1}})


def marian_text():
    import sentencepiece as spm
    seed = 43
    torch.manual_seed(seed)
    tmp = tempfile.mkdtemp()
    # Two vocabularies, as Marian's source and target sides: the same corpus,
    # different sizes, so that the pieces differ.
    for side, n in (("source", 400), ("target", 360)):
        spm.SentencePieceTrainer.train(input=TRAIN, model_prefix=os.path.join(tmp, side),
                                       vocab_size=n, model_type="unigram",
                                       character_coverage=0.98, unk_id=1, eos_id=0, bos_id=-1,
                                       pad_id=-1, num_threads=1, minloglevel=2)
    vocab = {"</s>": 0, "<unk>": 1}
    for side in ("source", "target"):
        sp = spm.SentencePieceProcessor(model_file=os.path.join(tmp, side + ".model"))
        for i in range(sp.get_piece_size()):
            vocab.setdefault(sp.id_to_piece(i), len(vocab))
    vocab["<pad>"] = len(vocab)
    with open(os.path.join(tmp, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(vocab, f, ensure_ascii=False, indent=1)
    tok = transformers.MarianTokenizer(os.path.join(tmp, "source.model"),
                                       os.path.join(tmp, "target.model"),
                                       os.path.join(tmp, "vocab.json"))
    V, pad = len(vocab), vocab["<pad>"]
    cfg = transformers.MarianConfig(vocab_size=V, d_model=32, encoder_layers=2,
                                    decoder_layers=2, encoder_attention_heads=4,
                                    decoder_attention_heads=4, encoder_ffn_dim=48,
                                    decoder_ffn_dim=48, max_position_embeddings=64,
                                    activation_function="swish", scale_embedding=True,
                                    pad_token_id=pad, eos_token_id=0,
                                    decoder_start_token_id=pad, forced_eos_token_id=None,
                                    bad_words_ids=None)
    model = transformers.MarianMTModel(cfg).eval()
    randomise(model, seed)
    with torch.no_grad():
        model.final_logits_bias[0, 0] += 2.0
    folder = fresh("marian_text")
    model.save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    shutil.rmtree(tmp)
    back = transformers.MarianTokenizer.from_pretrained(folder)  # MarianTokenizer loads it
    assert back("Hello world")["input_ids"] == tok("Hello world")["input_ids"]
    write_gen(folder, dict(decoder_start_token_id=pad, eos_token_id=0, pad_token_id=pad,
                           bad_words_ids=[[pad]], forced_eos_token_id=0, num_beams=4,
                           max_length=16, length_penalty=1.0))
    run_cases(model, tok, folder, True, {"default": {}, "greedy": {"num_beams": 1}})


def main():
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    for w in sys.argv[1:] or ["gpt2_text", "bart_text", "marian_text"]:
        globals()[w]()


if __name__ == "__main__":
    main()
