"""clformer: transformer encoders and decoders on any OpenCL device.

    import clformer
    print(clformer.devices())
    model = clformer.Model("all-MiniLM-L6-v2")            # a HuggingFace folder
    emb = model.encode(["A man is eating food.", "A man is eating pasta."])
    print(emb @ emb.T)                                     # cosine similarities

Errors raise clformer.Error: .status is the C status name ("CLF_ERR_IO"),
.code its value and .detail the library's last-error text.

Threads: the GIL is released while the library works (loading, encoding,
generating, tokenizing batches, listing devices), so threads run in parallel
when each has its own Session of one Model (model.session(): the weights are
shared, each session has its own caches, graphs and device queue), or its own
Model. A Model or a Session is used by one thread at a time, as in the C
library: a call on one that another thread is inside raises
clformer.BusyError (a subclass of Error, status CLF_ERR_BUSY) at once,
touching nothing. A Session and its Model may be used by different threads at
once, and sessions may be made from any thread. A Tokenizer may be shared by
any number of threads. An unfinished stream (generate(..., stream=True))
keeps its Model (or Session) busy until it is exhausted or closed.
"""

import os
import queue
import threading

import numpy as np

from . import _clformer as _c
from ._clformer import BusyError, Error

__all__ = ["Error", "BusyError", "Model", "Session", "Tokenizer", "devices", "set_log_level", "__version__"]
__version__ = _c.version()

_POOLING = {"none": 0, "first": 1, "mean": 2, "default": 3}
# Model(weights=...) -> clf_dtype (tensor.h): CLF_F32, CLF_F16, CLF_Q8, CLF_Q4.
_WEIGHTS = {"f32": 0, "f16": 1, "q8": 3, "q4": 4}
_KINDS = ("encoder", "decoder", "encoder-decoder")
_LOG_LEVELS = {"error": 0, "warning": 1, "warn": 1, "info": 2, "debug": 3}


def _error(status, message):
    """A clformer.Error raised by the Python layer, shaped as the C module's."""
    e = Error("%s: %s" % (status, message))
    e.status, e.code, e.detail = status, {"CLF_ERR_INVALID_ARG": -1,
                                          "CLF_ERR_UNSUPPORTED": -11}[status], message
    return e


def devices():
    """Every OpenCL device as a dict: index ("P:D", what device= takes), name,
    vendor, platform, platform_version, driver_version, device_version, class (dgpu, igpu,
    accelerator, cpu), compute_units, clock_mhz, global_mem_bytes, fp16,
    available."""
    return _c.devices()


def set_log_level(level):
    """Which library messages reach stderr: "error", "warning" (default),
    "info" or "debug"."""
    if level not in _LOG_LEVELS:
        raise ValueError("log level %r: one of %s" % (level, ", ".join(_LOG_LEVELS)))
    _c.set_log_level(_LOG_LEVELS[level])


def _ids_1d(x, what="ids"):
    a = np.ascontiguousarray(np.asarray(x), dtype=np.int32) if len(x) else np.empty(0, np.int32)
    if a.ndim != 1:
        raise ValueError("%s: a sequence of token ids, got shape %s" % (what, a.shape))
    return a


def _is_ids(x):
    """True for one sequence of token ids (a list of ints or a 1-D int array)."""
    if isinstance(x, np.ndarray):
        return x.ndim == 1 and x.dtype.kind in "iu"
    return isinstance(x, (list, tuple)) and len(x) > 0 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in x)


def _pad(rows):
    """Right-padded (B, S) int32 ids and (B,) lengths of 1-D id arrays."""
    lengths = np.array([len(r) for r in rows], np.int32)
    ids = np.zeros((len(rows), max(1, int(lengths.max(initial=1)))), np.int32)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
    return ids, lengths


class Tokenizer:
    """A HuggingFace tokenizer (WordPiece, byte-level BPE; tokenizer.json,
    vocab.txt or vocab.json + merges.txt), the same ids and text as HF
    `tokenizers`. Immutable: share it between threads freely."""

    def __init__(self, path, max_length=None, add_special_tokens=True):
        self._t = _c.Tokenizer(os.fspath(path), int(max_length or 0), bool(add_special_tokens))
        info = self._t.info()
        self.kind = info["kind"]              # "wordpiece", "bpe", ...
        self.vocab_size = info["vocab_size"]
        self.max_length = info["max_length"]  # most ids one encoding has (truncation)
        s = self._t.special_id
        self.pad_id, self.unk_id, self.cls_id, self.sep_id, self.mask_id, self.bos_id, \
            self.eos_id = (s(i) for i in range(7))  # -1 where the vocabulary has none

    def encode(self, text):
        """Token ids of one text (np.int32), or a list of arrays for a list of texts."""
        if isinstance(text, str):
            return np.array(self._t.encode(text), np.int32)
        ids, lengths = self.encode_batch(text)
        return [ids[i, :n].copy() for i, n in enumerate(lengths)]

    def encode_batch(self, texts):
        """(ids (n, S) int32 right-padded with the pad id, lengths (n,) int32)."""
        texts = list(texts)
        for t in texts:
            if not isinstance(t, str):
                raise TypeError("texts must be str, got %s" % type(t).__name__)
        ids = np.empty(len(texts) * self.max_length, np.int32)
        lengths = np.empty(len(texts), np.int32)
        S = self._t.encode_batch(texts, ids, lengths)
        return ids[:len(texts) * S].reshape(len(texts), S), lengths

    def decode(self, ids, skip_special_tokens=True):
        """Text of token ids, as HF's Tokenizer.decode."""
        a = _ids_1d(ids)
        return self._t.decode(a, len(a), bool(skip_special_tokens))

    def token_to_id(self, token):
        """The id of an exact token string, or None."""
        i = self._t.token_id(token)
        return None if i < 0 else i

    def id_to_token(self, i):
        """The token string of an id, or None."""
        return self._t.token(int(i))

    def _continuation(self, prefix, ids):
        p, a = _ids_1d(prefix), _ids_1d(ids)
        return self._t.continuation(p, len(p), a, len(a))


class Model:
    """A model on one OpenCL device: a HuggingFace folder (BERT, RoBERTa,
    XLM-R, DistilBERT, sentence-transformers, GPT-2, BART, Marian) or a
    clformer safetensors file (include/clformer/model.h lists what loads).

    device: None = $CLFORMER_DEVICE, else the best device; "best", "gpu",
    "cpu", "P:D" (see devices()) or a name substring. weights: the layer
    matrices' storage, "f32", "f16", "q8" (int8 per output channel) or "q4"
    (4-bit groups of 32), quantised at load as clf_model_params.weight_dtype
    says (include/clformer/model.h: norms and biases stay f32, a matrix that
    quantises badly falls back to a wider format). max_batch: the largest batch of any call (encode chunks,
    beams); max_source_len: the longest encoder input (None = the
    tokenizer's max_length, at most the model's positions); max_target_len:
    KV cache positions per sequence, prompt included (None = 128; the KV cache
    is max_batch x max_target_len per layer). The folder's tokenizer, when it
    has one, is model.tokenizer (None otherwise: pass token ids).
    model.device is the device's name, model.device_info its dict as
    devices() lists it.
    """

    def __init__(self, path, device=None, weights="f32", max_batch=32, max_source_len=None,
                 max_target_len=None, cache_dir=None, _preset=None, _config=None, _seed=0):
        if weights not in _WEIGHTS:
            raise ValueError("weights=%r: one of %s" % (weights, ", ".join(map(repr, _WEIGHTS))))
        if max_batch < 1:
            raise ValueError("max_batch=%r: at least 1" % (max_batch,))
        path = os.fspath(path) if path is not None else None
        self.tokenizer = None
        if path is not None and os.path.isdir(path):
            try:
                self.tokenizer = Tokenizer(path)
            except Error as e:
                if e.status != "CLF_ERR_NOT_FOUND":  # a folder without a vocabulary takes ids
                    raise
        if max_source_len is None and self.tokenizer is not None:
            max_source_len = self.tokenizer.max_length
        self._m = _c.Model(path, device, _WEIGHTS[weights], int(max_batch),
                           int(max_source_len or 0), int(max_target_len or 0), cache_dir,
                           _preset, _config, int(_seed))
        info = self._m.info()
        self.config = info["config"]              # clf_model_config as a dict
        self.kind = _KINDS[self.config["kind"]]   # "encoder", "decoder", "encoder-decoder"
        self.labels = info["labels"]              # class names, or None
        self.device = info["device"]              # the device's name
        self.device_info = info["device_info"]    # its devices() dict (index, driver_version, ...)
        self.architecture = info["architecture"]
        self.max_batch = int(max_batch)
        c = self.config
        self.max_positions = c["max_positions"] - c["position_offset"] if c["max_positions"] else None
        t = self.tokenizer
        if t is not None and self.max_positions and t.max_length > self.max_positions:
            # Truncate texts where the model's positions end, keeping [SEP] last.
            self.tokenizer = Tokenizer(path, max_length=self.max_positions)

    @classmethod
    def random(cls, preset, config=None, seed=0, **kw):
        """A model with random weights (clf_model_create_random) of a
        built-in config ("bert-base", "transformer-base", "gpt2-small",
        "tiny"), its fields changed by config (a dict of clf_model_config
        fields). For benchmarks and tests."""
        return cls(None, _preset=preset, _config=config, _seed=seed, **kw)

    # ------------------------------------------------------------ lifetime

    def close(self):
        """Frees the model and its device context now (also done when the
        object is collected). Raises BusyError while a call is inside, or
        while sessions of it are open."""
        self._m.close()

    def session(self, max_batch=None, max_source_len=None, max_target_len=None):
        """A new Session of this model (include/clformer/session.h): the
        same methods as a Model (encode, classify, generate, decode_step,
        ...) with the same results, on state of its own, sharing the
        weights. Give each thread its own session; None = the model's
        maxima (smaller ones make smaller caches)."""
        return Session(self, max_batch, max_source_len, max_target_len)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -------------------------------------------------------------- encode

    def _rows(self, inputs):
        """(list of 1-D int32 id arrays, single input?) from texts or ids."""
        if isinstance(inputs, str) or _is_ids(inputs):
            rows, single = self._rows([inputs])
            return rows, True
        if isinstance(inputs, np.ndarray) and inputs.ndim == 2:
            return [_ids_1d(r) for r in inputs], False
        inputs = list(inputs)
        if all(isinstance(x, str) for x in inputs):
            if self.tokenizer is None:
                raise _error("CLF_ERR_INVALID_ARG", "this model has no tokenizer: pass token ids")
            return self.tokenizer.encode(inputs) if inputs else [], False
        return [_ids_1d(x) for x in inputs], False

    def _batches(self, rows, batch_size):
        if batch_size < 1:
            raise ValueError("batch_size=%r: at least 1" % (batch_size,))
        step = min(int(batch_size), self.max_batch)
        for i in range(0, len(rows), step):
            yield i, _pad(rows[i:i + step])

    def encode(self, inputs, batch_size=32, pooling="default"):
        """Embeddings of texts or token-id sequences.

        inputs: a str, a list of str, a list of id sequences, or a (B, S)
        int array (every row S ids). pooling: "default" (the model's own:
        a sentence-transformers folder's Pooling module, L2-normalised when
        it has a Normalize module; the first token for a BERT with a pooler),
        "mean", "first", or "none" for the hidden states. Returns float32
        (n, D) (or (D,) for one input); with "none" a list of (len_i, D)
        arrays (one (len, D) array for one input). batch_size inputs go to
        the device at once (at most max_batch)."""
        if pooling not in _POOLING:
            raise ValueError("pooling=%r: one of %s" % (pooling, ", ".join(_POOLING)))
        rows, single = self._rows(inputs)
        D, mode = self.config["d_model"], _POOLING[pooling]
        out = [] if mode == 0 else np.empty((len(rows), D), np.float32)
        for i, (ids, lengths) in self._batches(rows, batch_size):
            B, S = ids.shape
            if mode == 0:
                hidden = np.empty((B, S, D), np.float32)
                self._m.encode(ids, lengths, B, S, 0, hidden, None, None)
                out += [hidden[b, :n].copy() for b, n in enumerate(lengths)]
            else:
                self._m.encode(ids, lengths, B, S, mode, None, out[i:i + B], None)
        return out[0] if single else out

    def classify(self, inputs, batch_size=32):
        """The classification head on texts or ids: (labels, probabilities),
        labels a list of the most likely class names and probabilities a
        float32 (n, classes) softmax; for one input (label, (classes,))."""
        C = self.config["n_classes"]
        if not C:
            raise _error("CLF_ERR_UNSUPPORTED", "this model has no classification head")
        rows, single = self._rows(inputs)
        logits = np.empty((len(rows), C), np.float32)
        for i, (ids, lengths) in self._batches(rows, batch_size):
            B, S = ids.shape
            self._m.encode(ids, lengths, B, S, 3, None, None, logits[i:i + B])
        e = np.exp(logits - logits.max(axis=1, keepdims=True, initial=-np.inf))
        probs = e / e.sum(axis=1, keepdims=True)
        labels = [self.labels[k] for k in probs.argmax(axis=1)] if len(rows) else []
        return (labels[0], probs[0]) if single else (labels, probs)

    # ------------------------------------------------------------ generate

    def generation_config(self):
        """The model's own generation settings (generation_config.json and
        config.json, as transformers reads them), as a dict of
        clf_generate_params fields."""
        return self._m.generate_defaults()

    def _gen_params(self, max_new_tokens, beam, sample, temperature, top_k, top_p, seed, extra):
        p = dict(extra)
        if max_new_tokens is not None:
            if max_new_tokens < 1:
                raise ValueError("max_new_tokens=%r: at least 1" % (max_new_tokens,))
            p["max_new_tokens"], p["max_length"] = int(max_new_tokens), 0
        if beam is not None and sample:
            raise ValueError("beam search and sampling exclude each other")
        if beam is not None:
            if beam < 1:
                raise ValueError("beam=%r: at least 1" % (beam,))
            p["strategy"], p["beam_size"] = (1, int(beam)) if beam > 1 else (0, 0)
        elif sample is not None:
            p["strategy"] = 2 if sample else 0
        for k, v in (("temperature", temperature), ("top_k", top_k), ("top_p", top_p),
                     ("seed", seed)):
            if v is not None:
                p[k] = v
        p["n_best"] = 1
        return p

    def generate(self, prompt, max_new_tokens=None, beam=None, sample=None, temperature=None,
                 top_k=None, top_p=None, seed=None, stream=False, **extra):
        """Generates a continuation (decoder-only: GPT-2) or a target
        (encoder-decoder: BART, Marian translation) of one prompt.

        prompt: a str (returns the new text, special tokens skipped) or a
        sequence of token ids (returns the new ids, np.int32, EOS included
        when generated). Settings left None come from the model's
        generation config (generation_config()): max_new_tokens, beam (the
        beam width; 1 = greedy), sample (True: temperature, top_k, top_p,
        seed), and any other clf_generate_params field by name
        (repetition_penalty=1.3, ignore_eos=True, ...).

        stream=True returns an iterator of text pieces, each valid UTF-8, in
        order, whose concatenation equals the text stream=False returns. The
        generation runs on a thread of its own while the iterator is
        consumed; closing the iterator early (or dropping it) stops it at
        the next step. Beam search produces its pieces at the end."""
        as_text = isinstance(prompt, str)
        if as_text:
            if self.tokenizer is None:
                raise _error("CLF_ERR_INVALID_ARG", "this model has no tokenizer: pass token ids")
            ids = self.tokenizer.encode(prompt)
        else:
            ids = _ids_1d(prompt, "prompt")
        if stream and self.tokenizer is None:
            raise _error("CLF_ERR_INVALID_ARG", "stream=True needs the model's tokenizer")
        params = self._gen_params(max_new_tokens, beam, sample, temperature, top_k, top_p, seed,
                                  extra)
        ids = ids.reshape(1, -1)
        lengths = None if self.kind == "decoder" else np.array([ids.shape[1]], np.int32)
        prefix = ids[0] if self.kind == "decoder" else np.empty(0, np.int32)
        if stream:
            return self._stream(ids, lengths, params, prefix)
        # (no log-probabilities asked: greedy takes the chained form, ext/model.c)
        _, max_new, out, n, _, _ = self._m.generate(ids, lengths, 1, ids.shape[1], params, None,
                                                    False)
        new = np.frombuffer(out, np.int32)[:np.frombuffer(n, np.int32)[0]].copy()
        return self.tokenizer._continuation(prefix, new) if as_text else new

    def _stream(self, ids, lengths, params, prefix):
        # One piece of look-ahead: the generation waits for its consumer
        # (backpressure), so an unread stream holds its model and costs no
        # device time; close() sets stop, which frees a waiting put.
        pieces, stop, end = queue.Queue(maxsize=1), threading.Event(), object()

        def put(item):
            while not stop.is_set():
                try:
                    pieces.put(item, timeout=0.05)
                    return
                except queue.Full:
                    pass

        def on_piece(piece):
            put(piece)
            return stop.is_set()

        def run():
            try:
                self._m.generate(ids, lengths, 1, ids.shape[1], params,
                                 (self.tokenizer._t, prefix, len(prefix), on_piece), False)
            except BaseException as e:  # handed to the consumer's thread
                put(_Raised(e))
            finally:
                put(end)

        worker = threading.Thread(target=run, name="clformer-generate", daemon=True)
        worker.start()
        try:
            while True:
                item = pieces.get()
                if item is end:
                    break
                if isinstance(item, _Raised):
                    raise item.exc
                yield item
        finally:
            stop.set()
            worker.join()

    # ----------------------------------------------------------- low level

    def decode_step(self, ids, position):
        """One decoder pass (clf_model_decode) on ids (b, n) at positions
        [position, position + n): the logits, float32 (b, n, vocab)."""
        ids = np.ascontiguousarray(ids, np.int32)
        b, n = ids.shape
        logits = np.empty((b, n, self.config["vocab"]), np.float32)
        self._m.decode(ids, b, n, int(position), logits)
        return logits

    def generate_ids(self, ids, lengths=None, logprobs=True, **params):
        """clf_model_generate on a batch: ids (B, S) int32 (decoder-only:
        prompts of one length; encoder-decoder: right-padded sources with
        lengths). params are clf_generate_params fields, over the model's
        generation config. Returns a dict of ids (B, n_best, max_new; -1
        after the end), lengths, finish (clf_finish_reason: 1 EOS, 2 max
        new, 3 positions) and logprobs, each (B, n_best); logprobs is None
        when logprobs=False. Greedy decoding without log-probabilities (and
        without logits processors) enqueues each step before it reads the
        last one's tokens; with them it reads every step's logits back."""
        ids = np.ascontiguousarray(ids, np.int32)
        B, S = ids.shape
        if lengths is not None:
            lengths = np.ascontiguousarray(lengths, np.int32)
        _, max_new, out, n, fin, lp = self._m.generate(ids, lengths, B, S, params, None,
                                                       bool(logprobs))
        nb = len(n) // 4 // max(B, 1) if B else 1
        return {"ids": np.frombuffer(out, np.int32).reshape(B, nb, max_new),
                "lengths": np.frombuffer(n, np.int32).reshape(B, nb),
                "finish": np.frombuffer(fin, np.int32).reshape(B, nb),
                "logprobs": None if lp is None else np.frombuffer(lp, np.float32).reshape(B, nb)}

    def max_new_tokens(self, prompt_len):
        """How many new tokens fit after a prompt of prompt_len ids
        (clf_model_max_new_tokens)."""
        return self._m.max_new_tokens(int(prompt_len))


class Session(Model):
    """Per-use state on a Model's shared weights (Model.session()). Its
    methods are the Model's; it runs on its own KV caches, graphs and
    device queue, so threads with their own sessions run in parallel, with
    each other and with the Model's own calls. memory() gives its device
    bytes. Close sessions before their model (a model with open sessions
    refuses close())."""

    def __init__(self, model, max_batch=None, max_source_len=None, max_target_len=None):
        for k, v in model.__dict__.items():
            if k != "_m":
                setattr(self, k, v)
        self.model = model
        self._m = model._m.session(int(max_batch or 0), int(max_source_len or 0),
                                   int(max_target_len or 0))
        if max_batch:
            self.max_batch = int(max_batch)

    def session(self, max_batch=None, max_source_len=None, max_target_len=None):
        """Another session of the same model."""
        return self.model.session(max_batch, max_source_len, max_target_len)

    def memory(self):
        """The session's bytes (clf_session_memory): cache_bytes,
        arena_bytes, io_bytes, scratch_bytes, other_bytes, device_bytes
        (their sum) and host_bytes. The weights are the model's, once."""
        return self._m.memory()


class _Raised:
    def __init__(self, exc):
        self.exc = exc
