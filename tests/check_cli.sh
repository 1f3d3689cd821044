#!/usr/bin/env bash
# End to end through the CLI: the commands the README shows, with their
# output checked.
set -euo pipefail
cli=$1
# Every JSON output is checked with a strict parser: Python's json module
# alone accepts NaN and Infinity (and the `nan` that printf wrote was no JSON
# at all); parse_constant refuses the constants. strict_json: one document
# on standard input; strict_lines: one document per line (run --json).
strict_json() { python3 -c 'import json,sys; json.loads(sys.stdin.read(), parse_constant=lambda c: sys.exit("bad constant "+c))'; }
strict_lines() {
  python3 -c '
import json, sys
n = 0
for n, line in enumerate(sys.stdin, 1):
    try:
        json.loads(line, parse_constant=lambda c: sys.exit("line %d: bad constant %s" % (n, c)))
    except ValueError as e:
        sys.exit("line %d is not JSON: %s: %s" % (n, e, line[:200]))
if n == 0:
    sys.exit("no JSON lines")'
}
"$cli" --version | grep -q '^clformer [0-9]'
"$cli" --help | grep -q devices
out=$("$cli" devices)
echo "$out"
grep -q '^\*' <<<"$out" || { echo "no device marked selected"; exit 1; }
"$cli" devices --json | strict_json
"$cli" devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert sum(x["selected"] for x in d["devices"])==1; print("devices --json: valid,", len(d["devices"]), "device(s)")'
# Every device carries its kernel profile; CLFORMER_KERNELS forces the family
# (and a bad value is refused); simulated limits show in the profile.
"$cli" devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin); p=[x["kernel_profile"] for x in d["devices"]]; assert all(q["family"] in ("cpu","gpu") and q["gemv_max_m"] >= 0 for q in p), p; print("kernel profiles:", [(x["index"], x["kernel_profile"]["family"]) for x in d["devices"]])'
CLFORMER_KERNELS=gpu CLFORMER_DEVICE_LIMITS=wg=64,local=16K "$cli" devices --json | python3 -c 'import json,sys; d=json.load(sys.stdin); p=[x["kernel_profile"] for x in d["devices"]]; assert all(q["family"]=="gpu" and q["reason"]=="forced by CLFORMER_KERNELS" and q["limits"]["max_work_group_size"]<=64 and q["limits"]["simulated"] for q in p), p'
if CLFORMER_KERNELS=fpga "$cli" devices 2>err.txt; then echo "CLFORMER_KERNELS=fpga accepted"; exit 1; fi
grep -q 'expected cpu, gpu or auto' err.txt || { cat err.txt; exit 1; }
if "$cli" devices --device no-such-device-xyz 2>err.txt; then echo "bad --device accepted"; exit 1; fi
grep -q "devices present" err.txt || { cat err.txt; exit 1; }
rm -f err.txt
cache=$(mktemp -d)
trap 'rm -rf "$cache"' EXIT
CLFORMER_CACHE_DIR=$cache "$cli" selftest | tee /dev/stderr | grep -q ': ok$'
CLFORMER_CACHE_DIR=$cache "$cli" selftest --json | strict_json
CLFORMER_CACHE_DIR=$cache "$cli" selftest --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["ok"] and d["built"]==0 and d["cache_hits"]==d["programs"], d; print("warm selftest: every program from the cache")'
if "$cli" frobnicate 2>/dev/null; then echo "unknown command accepted"; exit 1; fi
# Logging: -v shows the library's info messages (the device choice), a
# refused cache folder is one warning by default and none with --quiet, and
# an unknown global option is refused.
"$cli" -v devices 2>err.txt >/dev/null
grep -q '^clformer: info: device [0-9]*:[0-9]* .* chosen for' err.txt || { cat err.txt; exit 1; }
open_cache=$(mktemp -d)
chmod 777 "$open_cache"
CLFORMER_CACHE_DIR=$open_cache "$cli" devices 2>err.txt >/dev/null
[ "$(grep -c '^clformer: warning: cache folder' err.txt)" = 1 ] || { cat err.txt; exit 1; }
CLFORMER_CACHE_DIR=$open_cache "$cli" --quiet devices 2>err.txt >/dev/null
[ ! -s err.txt ] || { echo "--quiet printed:"; cat err.txt; exit 1; }
rm -rf "$open_cache"
if "$cli" --loud devices 2>/dev/null; then echo "unknown global option accepted"; exit 1; fi
rm -f err.txt
echo "cli logging: ok"
echo "cli: ok"
# The benchmark runs end to end and writes one well-formed record per case.
json=$(mktemp)
"$cli" bench --quick --reps 2 --json "$json" >/dev/null
strict_json <"$json"
python3 - "$json" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
recs = doc["records"]
need = {"device", "device_type", "driver", "entry", "case", "shape", "median_s", "min_s", "p90_s",
        "p99_s", "gflops", "gbs", "roofline_pct", "baseline", "ratio_vs_baseline"}
assert recs, "no records"
for r in recs:
    missing = need - set(r)
    assert not missing, (r.get("case"), missing)
    assert r["median_s"] > 0 and r["min_s"] <= r["median_s"] <= r["p90_s"] <= r["p99_s"], r
entries = {r["entry"] for r in recs}
for e in ("gemm", "attention", "softmax", "norm", "eltwise", "embed", "topk", "copy", "stack"):
    assert e in entries, e
for r in recs:
    if r["entry"] == "stack" and r.get("new_tokens"):
        assert r["tokens_per_s"] > 0 and r["batch"] >= 1, r
print(f"bench --quick --json: {len(recs)} records, entries {sorted(entries)}")
PY
rm -f "$json"
# A filtered case into a pipe (not a regular file: the document is written
# once, at the end, instead of after every record).
"$cli" bench --quick --reps 1 --no-start --filter attention --json /dev/fd/3 3>&1 >/dev/null | strict_json
echo "cli bench: ok"

# clformer run. embed: all-MiniLM-L6-v2 (tools/fetch-minilm.sh) against
# sentence-transformers' vectors for the same texts (tests/golden/cli).
golden=$(dirname "$0")/golden
minilm=${CLFORMER_MINILM_DIR:-build-logs/models/all-MiniLM-L6-v2}
[ -f "$minilm/model.safetensors" ] || { echo "all-MiniLM-L6-v2 missing at $minilm (tools/fetch-minilm.sh)"; exit 1; }
"$cli" run --model "$minilm" --json --batch 3 --input "$golden/cli/minilm_texts.txt" embed >run.json
strict_lines <run.json
python3 - run.json "$golden/cli/minilm_embed.json" <<'PY'
import json, math, sys
got = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
ref = json.load(open(sys.argv[2], encoding="utf-8"))
assert len(got) == len(ref["texts"]), (len(got), len(ref["texts"]))
worst = 1.0
for g, text, r in zip(got, ref["texts"], ref["embeddings"]):
    assert g["input"] == text, (g["input"], text)
    a, b = g["embedding"], r
    cos = sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    worst = min(worst, cos)
    assert cos >= 0.99999, (text[:40], cos)
    assert abs(math.sqrt(sum(x * x for x in a)) - 1) < 1e-5, "not L2-normalised"
print(f"run embed: {len(got)} texts, min cosine vs sentence-transformers {worst:.8f}")
PY
# The same vectors from arguments one at a time, in text form.
one=$("$cli" run --model "$minilm" embed "ok")
python3 - run.json "$one" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")][3]["embedding"]
got = [float(x) for x in sys.argv[2].split()]
assert len(got) == 384 and max(abs(a - b) for a, b in zip(got, ref)) < 1e-5, "batch of 1 differs from batch of 3"
print("run embed: an argument alone gives the batched vector")
PY
# classify: the tiny BertForSequenceClassification golden, with a made-up
# vocabulary of its size (the checkpoint ships none).
cls=$(mktemp -d)
for f in config.json model.safetensors.index.json model-0000{1,2,3}-of-00003.safetensors; do ln -s "$(cd "$golden/hf/bert_cls" && pwd)/$f" "$cls/$f"; done
python3 -c 'import sys; w=["[PAD]","[UNK]","[CLS]","[SEP]","[MASK]"]+["w%d"%i for i in range(115)]; open(sys.argv[1],"w").write("\n".join(w)+"\n")' "$cls/vocab.txt"
printf 'w1 w2 w3\nw7\nw100 w101 w5 w9 w11\n' | "$cli" run --model "$cls" --json classify >cls.json
strict_lines <cls.json
"$cli" run --model "$cls" classify "w7" >cls1.txt
python3 - cls.json cls1.txt <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 3
for r in rows:
    assert set(r["scores"]) == {"negative", "neutral", "positive"}, r
    assert abs(sum(r["scores"].values()) - 1) < 1e-5 and r["label"] == max(r["scores"], key=r["scores"].get), r
alone = open(sys.argv[2]).read().split("\t")
assert alone[0] == rows[1]["label"] and abs(float(alone[1]) - rows[1]["scores"][rows[1]["label"]]) < 1e-4, alone
print("run classify: labels from id2label, probabilities sum to 1, batch = alone")
PY
# A broken model: the same classifier with a NaN in its bias, so NaN logits
# and probabilities reach the JSON writer (printf("%.6g") wrote them as
# `nan`, which no JSON parser accepts): they must come out as null.
nan=$(mktemp -d)
for f in config.json model.safetensors.index.json model-0000{1,2}-of-00003.safetensors vocab.txt; do ln -s "$(cd "$cls" && pwd -P)/$f" "$nan/$f"; done
cp "$golden/hf/bert_cls/model-00003-of-00003.safetensors" "$nan/"
python3 - "$nan/model-00003-of-00003.safetensors" <<'PY'
import json, struct, sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
n = struct.unpack("<Q", data[:8])[0]
t = json.loads(data[8:8 + n])["classifier.bias"]
fmt = {"F32": "<f", "F16": "<e"}[t["dtype"]]
at = 8 + n + t["data_offsets"][0]
data[at:at + struct.calcsize(fmt)] = struct.pack(fmt, float("nan"))
open(path, "wb").write(data)
PY
"$cli" run --model "$nan" --json classify "w1 w2" "w7" >"$nan/out.json"
strict_lines <"$nan/out.json"
python3 - "$nan/out.json" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 2 and all(isinstance(r["label"], str) for r in rows), rows
assert all(v is None for r in rows for v in r["scores"].values()), rows
print("run classify: NaN probabilities of a broken model are JSON null")
PY
rm -rf "$nan"
# embed with a family other than BERT: the DistilBertModel golden folder (its
# WordPiece vocab.txt) gives, for its text, the mean-pooled vector that
# transformers gives for the same text through DistilBertTokenizer
# (tests/golden/hf/make_hf_golden.py stores both in golden.safetensors).
"$cli" run --model "$golden/hf/distilbert" --json embed "w1 w2 w3 w40" >dist.json
python3 - dist.json "$golden/hf/distilbert/golden.safetensors" <<'PY'
import json, struct, sys
got = json.loads(open(sys.argv[1]).readline())["embedding"]
raw = open(sys.argv[2], "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
head = json.loads(raw[8:8 + n])
assert head["__metadata__"]["cli_text"] == "w1 w2 w3 w40", head["__metadata__"]
t = head["cli_embedding"]
assert t["dtype"] == "F32", t
a, b = t["data_offsets"]
ref = struct.unpack("<%df" % ((b - a) // 4), raw[8 + n + a:8 + n + b])
err = max(abs(x - y) for x, y in zip(got, ref)) / max(abs(y) for y in ref)
assert len(got) == len(ref) and err <= 1e-4, (len(got), len(ref), err)
print(f"run embed: DistilBertModel, relative error vs transformers {err:.3g}")
PY
# generate: the tiny GPT-2 golden on token ids, greedy and beam 4.
gpt2=$golden/hf/gpt2
g=$("$cli" run --model "$gpt2" --max-new 5 generate "5 17 33" "5 17 33")
[ "$(sed -n 1p <<<"$g")" = "$(sed -n 2p <<<"$g")" ] && [ "$(wc -w <<<"$(sed -n 1p <<<"$g")")" -le 5 ] || { echo "generate: $g"; exit 1; }
"$cli" run --model "$gpt2" --max-new 4 --batch 1 --json generate "5 17 33" "5 17" | strict_lines
"$cli" run --model "$gpt2" --max-new 4 --beam 4 --json generate "5 17 33" | python3 -c 'import json,sys; r=json.loads(sys.stdin.readline()); assert 1 <= len(r["ids"]) <= 4 and all(0 <= i < 128 for i in r["ids"]), r; print("run generate: greedy and beam 4")'
# Bad input: a clear message and a non-zero status.
if "$cli" run --model "$gpt2" generate "5 999" 2>err.txt; then echo "id out of range accepted"; exit 1; fi
grep -q "token" err.txt || { cat err.txt; exit 1; }
if "$cli" run --model "$gpt2" embed "hello" 2>err.txt; then echo "text for a model without vocabulary accepted"; exit 1; fi
grep -q "WordPiece\|tokenizer" err.txt || { cat err.txt; exit 1; }
if "$cli" run --model /nonexistent embed "x" 2>err.txt; then echo "missing folder accepted"; exit 1; fi
grep -q "nonexistent" err.txt || { cat err.txt; exit 1; }
rm -rf "$cls" run.json cls.json cls1.txt dist.json err.txt
echo "cli run: ok"

# Text in, text out (issue 14): the random-init folders with real-format
# tokenizer files (tests/golden/hf/make_text_golden.py) against the text and
# ids that transformers' generate() gave with each folder's generation config.
# text_golden FOLDER TASK CASE [OPTIONS...]: every stored prompt through
# `run ... TASK` (plain output and --json) must give the stored text and ids.
text_golden() {
  local folder=$golden/hf/$1 task=$2 case=$3
  shift 3
  python3 - "$cli" "$folder" "$task" "$case" "$@" <<'PY'
import json, subprocess, sys
cli, folder, task, case, opts = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]
gold = json.load(open(folder + "/golden_text.json", encoding="utf-8"))["prompts"]
prompts = [g["prompt"] for g in gold]
def run(extra):
    p = subprocess.run([cli, "run", "--model", folder, *opts, *extra, task, "--", *prompts],
                       capture_output=True)
    if p.returncode != 0:
        sys.exit("run %s %s on %s failed (status %d):\n%s" % (task, " ".join(opts), folder,
                 p.returncode, p.stderr.decode(errors="replace")))
    return p.stdout.decode("utf-8")
rows = [json.loads(l) for l in run(["--json"]).splitlines()]
plain = run([]).split("\n")
assert len(rows) == len(gold), (len(rows), len(gold))
for r, g, line in zip(rows, gold, plain):
    want = g[case]
    assert r["ids"] == want["ids"], (g["prompt"], "ids", r["ids"], want["ids"])
    assert r["text"] == want["text"], (g["prompt"], "text", r["text"], want["text"])
    assert line == want["text"], (g["prompt"], "plain", line, want["text"])
print("run %s %s %s: %d prompts, text and ids = transformers" % (task, folder.split("/")[-1],
      " ".join(opts) or "(config)", len(gold)))
PY
}
text_golden gpt2_text generate default
text_golden gpt2_text generate beam --beam 3
text_golden bart_text generate default
text_golden bart_text generate greedy --beam 1
# On a terminal the text streams as it is generated (clf_detokenizer fed by
# on_token, batch 1): through a pseudo-terminal (script(1), util-linux) the
# lines must be the same texts. Beam search prints at the end.
for args in "gpt2_text generate default" "bart_text generate greedy --beam 1" "bart_text generate default"; do
  set -- $args
  script -qec "$(printf '%q ' "$cli" run --model "$golden/hf/$1" "${@:4}" "$2" -- "Hello world" "Grüße aus München 🙂") 2>/dev/null" /dev/null >tty.txt
  python3 - tty.txt "$golden/hf/$1/golden_text.json" "$3" <<'PY'
import json, sys
got = open(sys.argv[1], "rb").read().decode("utf-8").split("\r\n")
gold = {g["prompt"]: g[sys.argv[3]]["text"] for g in json.load(open(sys.argv[2], encoding="utf-8"))["prompts"]}
want = [gold["Hello world"], gold["Grüße aus München 🙂"], ""]
assert got == want, (got, want)
print("run generate on a terminal (%s, %s): the streamed text = transformers'" % (sys.argv[2].split("/")[-2], sys.argv[3]))
PY
done
rm -f tty.txt
# --ids keeps token ids in and out where the folder has a tokenizer.
ids=$("$cli" run --model "$golden/hf/bart_text" --ids --beam 1 generate "0 44 348 80 83 336 313 80 72 2")
python3 - "$golden/hf/bart_text/golden_text.json" "$ids" <<'PY'
import json, sys
g = json.load(open(sys.argv[1], encoding="utf-8"))["prompts"][0]
assert g["input_ids"] == [0, 44, 348, 80, 83, 336, 313, 80, 72, 2], g["input_ids"]
assert [int(x) for x in sys.argv[2].split()] == g["greedy"]["ids"], (sys.argv[2], g["greedy"]["ids"])
print("run generate --ids: ids in, ids out")
PY
# translate is for encoder-decoder models only.
if "$cli" run --model "$golden/hf/gpt2_text" translate "Hello" 2>err.txt; then echo "translate with GPT-2 accepted"; exit 1; fi
grep -q "translate needs an encoder-decoder model" err.txt || { cat err.txt; exit 1; }
# A folder without a tokenizer takes ids, and says so when given text.
if "$cli" run --model "$gpt2" generate "hello there" 2>err.txt; then echo "text for a folder without tokenizer accepted"; exit 1; fi
grep -q "has no tokenizer that clformer reads, so it takes token ids" err.txt || { cat err.txt; exit 1; }
# Marian: source.spm / target.spm / vocab.json (MarianTokenizer's files).
# Until clf_tokenizer_load reads them (branch spmwire), this fails here.
text_golden marian_text translate default
text_golden marian_text translate greedy --beam 1
rm -f err.txt
echo "cli run text: ok"

# Issue 13, defect 6: `run` streams. A bad --device fails before the input
# is read, whatever its size (a million lines used to be read, tokenised and
# held first: 4.1 GB of RSS before the device error) ...
work=$(mktemp -d)
python3 -c 'import sys; sys.stdout.write("".join("sentence number %d of a long input\n" % i for i in range(1000000)))' >"$work/big.txt"
# The peak RSS of the run, from python's getrusage (KiB on Linux; GNU time is
# not installed everywhere).
rss=$(python3 - "$cli" "$minilm" "$work" <<'PY'
import resource, subprocess, sys
cli, minilm, work = sys.argv[1:4]
with open(work + "/err", "wb") as err:
    rc = subprocess.run([cli, "run", "--model", minilm, "--device", "no-such-device-xyz", "--input",
                         work + "/big.txt", "embed"], stdout=subprocess.DEVNULL, stderr=err).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if rc != 0 else "accepted")
PY
)
[ "$rss" != accepted ] || { echo "bad --device accepted"; exit 1; }
grep -q "devices present" "$work/err" || { cat "$work/err"; exit 1; }
[ "$rss" -lt 400000 ] || { echo "a bad --device with 1,000,000 input lines: max RSS $rss KiB (not streaming?)"; exit 1; }
echo "run: a bad --device fails before a 1,000,000-line input is read (max RSS $rss KiB)"
# ... and a batch's results come out while the input is still open.
mkfifo "$work/fifo"
: >"$work/stream"
"$cli" run --model "$minilm" --batch 2 --input "$work/fifo" embed >"$work/stream" 2>"$work/err" &
pid=$!
exec 3<>"$work/fifo"  # read-write: never blocks, even if run died before opening it
printf 'the first sentence\nthe second one\n' >&3
for _ in $(seq 1200); do
  [ "$(wc -l <"$work/stream")" -ge 2 ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
n=$(wc -l <"$work/stream")
if [ "$n" -lt 2 ] || ! kill -0 "$pid" 2>/dev/null; then
  exec 3>&-
  wait "$pid" || true
  cat "$work/err"
  echo "run: $n results for the first batch of 2 while the input was open (not streaming?)"
  exit 1
fi
printf 'a third\n' >&3
exec 3>&-
wait "$pid"
[ "$(wc -l <"$work/stream")" -eq 3 ] || { cat "$work/err"; echo "run: $(wc -l <"$work/stream") results for 3 inputs"; exit 1; }
echo "run: the first batch's results came out while the input was still open"

# Defect 7: a line with a NUL byte is refused, naming its line, never cut
# at the NUL ("hello\0world" used to embed "hello"). With --batch 1 the line
# before it is done first.
if printf 'hello\0world\n' | "$cli" run --model "$minilm" embed >"$work/out" 2>"$work/err"; then
  echo "a NUL byte inside a line was accepted"; exit 1
fi
grep -q "input line 1 has a NUL byte" "$work/err" && [ ! -s "$work/out" ] || { cat "$work/err"; exit 1; }
if printf 'fine\nhello\0world\n' | "$cli" run --model "$minilm" --batch 1 embed >"$work/out" 2>"$work/err"; then
  echo "a NUL byte inside line 2 was accepted"; exit 1
fi
grep -q "input line 2 has a NUL byte" "$work/err" && [ "$(wc -l <"$work/out")" -eq 1 ] || { cat "$work/err"; exit 1; }
echo "run: lines with a NUL byte are refused with their line number"

# Defect 8: the tiny GPT-2 has 48 positions; after a 3-token prompt 45 new
# tokens fit (prompt + new <= positions, the library's rule), and asking for
# more stops there with finish "positions" instead of failing (--max-new 45
# used to fail: "positions 0..48 are past the learned table").
"$cli" run --model "$gpt2" --max-new 45 --json generate "5 17 33" >"$work/g45"
"$cli" run --model "$gpt2" --max-new 46 --ignore-eos --json generate "5 17 33" >"$work/g46" 2>"$work/err"
"$cli" run --model "$gpt2" --max-new 1000 --ignore-eos generate "5 17 33" >"$work/g1000" 2>"$work/err1000"
python3 - "$work/g45" "$work/g46" <<'PY'
import json, sys
a, b = (json.loads(open(f).readline()) for f in sys.argv[1:3])
assert len(a["ids"]) == 45 and a["finish"] == "max_new", a  # no EOS in these 45 (greedy)
assert len(b["ids"]) == 45 and b["finish"] == "positions", b
print("run generate: 3 + 45 fit the 48 positions; --max-new 46 stops at 45, finish \"positions\"")
PY
[ "$(wc -w <"$work/g1000")" -eq 45 ] && grep -q "stopped after 45 new tokens" "$work/err1000" || { cat "$work/err1000"; exit 1; }

# Defect 9: every numeric option is parsed whole and range-checked (1e3 used
# to run as 1, 1x as 1; -1, nan, 7 and -3 were ignored); the status is 2 and
# the message names the option and its range.
refused() { # TEXT OPTION... : `run ... generate` must fail with status 2 saying TEXT
  local want=$1 rc=0
  shift
  "$cli" run --model "$gpt2" "$@" generate "5 17 33" >/dev/null 2>"$work/err" || rc=$?
  [ "$rc" -eq 2 ] && grep -qF -- "$want" "$work/err" || { echo "run $* (status $rc):"; cat "$work/err"; exit 1; }
}
refused '--max-new: "1e3" is not an integer in 1..100000' --max-new 1e3
refused '--batch: "1x" is not an integer in 1..4096' --batch 1x
refused '--batch: "0" is not an integer in 1..4096' --batch 0
refused '--temperature: "-1" is not a number > 0' --sample --temperature -1
refused '--temperature: "nan" is not a number > 0' --sample --temperature nan
refused '--top-p: "7" is not a number in (0, 1]' --sample --top-p 7
refused '--top-k: "-3" is not an integer in 0..1000000000' --sample --top-k -3
refused '--seed: "1.5" is not an integer' --sample --seed 1.5
refused '--beam: "65" is not an integer in 1..64' --beam 65
refused '--temperature is a sampling option: it needs --sample' --temperature 0.7
refused '--sample and --beam exclude each other' --beam 2 --sample
refused 'unknown option "--nope"' --nope
rc=0; "$cli" run --model "$gpt2" generate "5 17 33" --max-new 2>"$work/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q "option --max-new needs a value" "$work/err" || { cat "$work/err"; exit 1; }
rc=0; "$cli" run --model "$minilm" --max-new 4 embed "x" 2>"$work/err" || rc=$?
[ "$rc" -eq 2 ] && grep -q -- "--max-new is an option of generate" "$work/err" || { cat "$work/err"; exit 1; }
for sub in "devices --bogus" "selftest --device" "tune --bogus" "tune --reps 0" "bench --tuning fast" "bench --reps 1x"; do
  rc=0; "$cli" $sub >/dev/null 2>"$work/err" || rc=$?
  [ "$rc" -eq 2 ] || { echo "clformer $sub: status $rc"; cat "$work/err"; exit 1; }
done
grep -q -- '--reps: "1x" is not an integer' "$work/err" || { cat "$work/err"; exit 1; }
echo "run: bad option values are refused, naming the option and its range"
rm -rf "$work"
echo "cli streaming and strict options: ok"
