"""Shared fixtures of the Python package's tests.

Environment: CLFORMER_TEST_DEVICES (the C suites' list; its first entry is
the device here, "all" or unset = the library's choice), CLFORMER_MINILM_DIR
(an all-MiniLM-L6-v2 folder: tools/fetch-minilm.sh; unset skips the tests
that need real weights, with the reason; set but missing fails them).
"""
import ast
import json
import os
import struct

import numpy as np
import pytest

import clformer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden", "hf")


def chosen_device():
    d = os.environ.get("CLFORMER_TEST_DEVICES", "")
    return None if d in ("", "all") else d.split(",")[0]


def read_safetensors(path):
    """A tiny safetensors reader (F32 and I32 only): name -> numpy array."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        dtype = {"F32": np.float32, "I32": np.int32}[t["dtype"]]
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype).reshape(t["shape"])
    return out


def minilm_sentences():
    """SENTENCES of tests/golden/hf/make_minilm_golden.py (read, not imported: it needs torch)."""
    tree = ast.parse(open(os.path.join(GOLDEN, "make_minilm_golden.py"), encoding="utf-8").read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "SENTENCES":
            # A list of literals and " ".join([...] * n): evaluated without builtins.
            code = compile(ast.Expression(node.value), "SENTENCES", "eval")
            return eval(code, {"__builtins__": {}})  # noqa: S307 (the repository's own file)
    raise AssertionError("no SENTENCES in make_minilm_golden.py")


@pytest.fixture(scope="session")
def device():
    return chosen_device()


@pytest.fixture(scope="session")
def minilm_dir():
    d = os.environ.get("CLFORMER_MINILM_DIR")
    if not d:
        pytest.skip("CLFORMER_MINILM_DIR is not set (tools/fetch-minilm.sh DIR fetches the model)")
    assert os.path.isdir(d), "CLFORMER_MINILM_DIR=%s is not a folder" % d
    return d


@pytest.fixture(scope="session")
def minilm(minilm_dir, device):
    m = clformer.Model(minilm_dir, device=device, max_batch=16)
    yield m
    m.close()


@pytest.fixture(scope="session")
def minilm_golden():
    return read_safetensors(os.path.join(GOLDEN, "minilm.safetensors"))


@pytest.fixture(scope="session")
def gpt2_text(device):
    m = clformer.Model(os.path.join(GOLDEN, "gpt2_text"), device=device, max_batch=4,
                       max_target_len=64)
    yield m
    m.close()


@pytest.fixture(scope="session")
def gpt2_golden():
    with open(os.path.join(GOLDEN, "gpt2_text", "golden_text.json"), encoding="utf-8") as f:
        return json.load(f)
