"""clformer's public C API through ctypes, for bench/compare.py.

Only what the comparison needs: contexts, device info, model load, encode and
generate. The structures mirror include/clformer/{context,device,model,ops,
tensor}.h field by field (x86-64 / AArch64 SysV layout, which ctypes follows);
`check_layouts()` compiles a small C probe against those headers (when a C
compiler is available) and compares every sizeof and offsetof with ctypes, so
a header change that is not reflected here is caught before any call is made.
"""

import ctypes as C
import os
import shutil
import subprocess
import tempfile

# ------------------------------------------------------------- structures ---


class ContextParams(C.Structure):  # include/clformer/context.h: clf_context_params
    c_name = "clf_context_params"
    _fields_ = [
        ("device", C.c_char_p),
        ("cache_dir", C.c_char_p),
        ("profiling", C.c_bool),
        ("kernels", C.c_int),  # clf_kernel_family
        ("limits", C.c_char_p),
    ]


CLF_MAX_SUBGROUP_SIZES = 8


class DeviceInfo(C.Structure):  # include/clformer/device.h: clf_device_info
    c_name = "clf_device_info"
    _fields_ = [
        ("platform_index", C.c_int),
        ("device_index", C.c_int),
        ("name", C.c_char * 256),
        ("vendor", C.c_char * 256),
        ("driver_version", C.c_char * 128),
        ("device_version", C.c_char * 128),
        ("opencl_c_version", C.c_char * 128),
        ("platform_name", C.c_char * 256),
        ("platform_version", C.c_char * 256),
        ("cl_type", C.c_uint64),
        ("device_class", C.c_int),
        ("compute_units", C.c_uint32),
        ("clock_mhz", C.c_uint32),
        ("global_mem_bytes", C.c_uint64),
        ("max_alloc_bytes", C.c_uint64),
        ("local_mem_bytes", C.c_uint64),
        ("local_mem_dedicated", C.c_bool),
        ("max_work_group_size", C.c_uint64),
        ("pref_vector_float", C.c_uint32),
        ("pref_vector_half", C.c_uint32),
        ("native_vector_float", C.c_uint32),
        ("fp16", C.c_bool),
        ("fp64", C.c_bool),
        ("subgroups", C.c_bool),
        ("n_subgroup_sizes", C.c_uint32),
        ("subgroup_sizes", C.c_uint32 * CLF_MAX_SUBGROUP_SIZES),
        ("unified_memory", C.c_bool),
        ("available", C.c_bool),
        ("quirks", C.c_uint32),
        ("score", C.c_double),  # 0 = not measured
    ]


class ModelConfig(C.Structure):  # include/clformer/model.h: clf_model_config
    c_name = "clf_model_config"
    _fields_ = [
        ("kind", C.c_int),  # clf_model_kind
        ("encoder_layers", C.c_int),
        ("decoder_layers", C.c_int),
        ("d_model", C.c_int64),
        ("n_heads", C.c_int),
        ("d_ff", C.c_int64),
        ("activation", C.c_int),  # clf_act
        ("norm_first", C.c_bool),
        ("norm_type", C.c_int),  # clf_norm_type
        ("eps", C.c_float),
        ("positions", C.c_int),  # clf_pos_type
        ("position_offset", C.c_int64),
        ("max_positions", C.c_int64),
        ("vocab", C.c_int64),
        ("tied_embeddings", C.c_bool),
        ("embedding_scale", C.c_float),
        ("encoder_final_norm", C.c_bool),
        ("decoder_final_norm", C.c_bool),
        ("attn_bias", C.c_bool),
        ("ffn_bias", C.c_bool),
        ("norm_bias", C.c_bool),
        ("output_bias", C.c_bool),
        ("pad_id", C.c_int32),
        ("bos_id", C.c_int32),
        ("eos_id", C.c_int32),
        ("n_classes", C.c_int64),
        ("embedding_norm", C.c_bool),
        ("pooler", C.c_bool),
        ("normalize", C.c_bool),
    ]


class ModelParams(C.Structure):  # include/clformer/model.h: clf_model_params
    c_name = "clf_model_params"
    _fields_ = [
        ("weight_dtype", C.c_int),  # clf_dtype: 0 = CLF_F32, 1 = CLF_F16
        ("config", C.POINTER(ModelConfig)),
        ("max_batch", C.c_int64),
        ("max_source_len", C.c_int64),
        ("max_target_len", C.c_int64),
        ("encoder_ctx", C.c_void_p),
    ]


class GenerateParams(C.Structure):  # include/clformer/model.h: clf_generate_params
    c_name = "clf_generate_params"
    _fields_ = [
        ("strategy", C.c_int),  # clf_decode_strategy: 0 greedy, 1 beam, 2 sample
        ("max_new_tokens", C.c_int64),
        ("ignore_eos", C.c_bool),
        ("beam_size", C.c_int),
        ("length_alpha", C.c_double),
        ("n_best", C.c_int),
        ("temperature", C.c_float),
        ("top_k", C.c_int),
        ("top_p", C.c_float),
        ("seed", C.c_uint64),
        ("on_token", C.c_void_p),  # function pointers: left NULL here
        ("abort", C.c_void_p),
        ("user", C.c_void_p),
        ("beam_rule", C.c_int),
    ]


class GenerateOutput(C.Structure):  # include/clformer/model.h: clf_generate_output
    c_name = "clf_generate_output"
    _fields_ = [
        ("ids", C.POINTER(C.c_int32)),
        ("lengths", C.POINTER(C.c_int32)),
        ("scores", C.POINTER(C.c_float)),
        ("logprobs", C.POINTER(C.c_float)),
        ("finish", C.POINTER(C.c_int)),  # clf_finish_reason (B, n_best)
    ]


STRUCTS = [ContextParams, DeviceInfo, ModelConfig, ModelParams, GenerateParams, GenerateOutput]

CLF_POOL_NONE, CLF_POOL_FIRST, CLF_POOL_MEAN = 0, 1, 2
CLF_POOL_DEFAULT = 3  # the model's own (mean + L2 normalisation for sentence-transformers)
CLF_DECODE_GREEDY = 0
# clf_finish_reason
CLF_FINISH_NONE, CLF_FINISH_EOS, CLF_FINISH_MAX_NEW, CLF_FINISH_POSITIONS = 0, 1, 2, 3


def check_layouts(include_dir):
    """Compares every ctypes layout with the C compiler's, through a probe
    built against include_dir. Returns a line describing the check; raises
    RuntimeError on a mismatch."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc") or shutil.which("clang")
    header = os.path.join(include_dir, "clformer", "model.h")
    if not cc or not os.path.exists(header):
        return ("not verified (no C compiler or no %s); layouts mirror include/clformer/*.h by hand"
                % header)
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <clformer/context.h>",
             "#include <clformer/device.h>", "#include <clformer/model.h>", "int main(void) {"]
    expected = []
    for s in STRUCTS:
        lines.append('printf("%%zu\\n", sizeof(%s));' % s.c_name)
        expected.append(("sizeof(%s)" % s.c_name, C.sizeof(s)))
        for f in s._fields_:
            lines.append('printf("%%zu\\n", offsetof(%s, %s));' % (s.c_name, f[0]))
            expected.append(("offsetof(%s, %s)" % (s.c_name, f[0]), getattr(s, f[0]).offset))
    lines += ["return 0;", "}"]
    with tempfile.TemporaryDirectory(prefix="clf-probe-") as d:
        src, exe = os.path.join(d, "probe.c"), os.path.join(d, "probe")
        with open(src, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([cc, "-std=c11", "-I", include_dir, src, "-o", exe],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("ctypes layout probe failed to compile against %s (a field renamed or "
                               "removed?):\n%s" % (include_dir, r.stderr[-2000:]))
        out = subprocess.run([exe], capture_output=True, text=True, check=True).stdout.split()
    bad = ["%s: C %s, ctypes %d" % (what, got, want)
           for (what, want), got in zip(expected, out) if int(got) != want]
    if bad:
        raise RuntimeError("ctypes structures differ from the C headers:\n  " + "\n  ".join(bad))
    return "verified against %s with %s (%d sizes and offsets)" % (include_dir, cc, len(expected))


# ---------------------------------------------------------------- library ---


class ClfError(RuntimeError):
    pass


class Lib:
    """The loaded libclformer.so with argument and result types declared."""

    def __init__(self, path):
        self.path = path
        self.so = C.CDLL(path)
        s = self.so
        P = C.c_void_p

        def fn(name, restype, *argtypes):
            f = getattr(s, name)
            f.restype, f.argtypes = restype, list(argtypes)
            return f

        fn("clf_version", C.c_char_p)
        fn("clf_status_name", C.c_char_p, C.c_int)
        fn("clf_context_params_default", ContextParams)
        fn("clf_context_create", C.c_int, C.POINTER(ContextParams), C.POINTER(P))
        fn("clf_context_free", None, P)
        fn("clf_context_last_error", C.c_char_p, P)
        fn("clf_context_device", C.POINTER(DeviceInfo), P)
        fn("clf_device_class_name", C.c_char_p, C.c_int)
        fn("clf_model_params_default", ModelParams)
        fn("clf_model_load", C.c_int, P, C.c_char_p, C.POINTER(ModelParams), C.POINTER(P))
        fn("clf_model_free", None, P)
        fn("clf_model_config_preset", C.c_int, C.c_char_p, C.POINTER(ModelConfig))
        fn("clf_model_create_random", C.c_int, P, C.POINTER(ModelConfig), C.POINTER(ModelParams),
           C.c_uint64, C.POINTER(P))
        fn("clf_model_get_config", C.POINTER(ModelConfig), P)
        fn("clf_model_encode", C.c_int, P, C.POINTER(C.c_int32), C.POINTER(C.c_int32), C.c_int64,
           C.c_int64, C.c_int, C.POINTER(C.c_float), C.POINTER(C.c_float), C.POINTER(C.c_float))
        fn("clf_model_decode", C.c_int, P, C.POINTER(C.c_int32), C.c_int64, C.c_int64, C.c_int64,
           C.POINTER(C.c_float), C.POINTER(C.c_int32))
        fn("clf_generate_params_default", GenerateParams)
        fn("clf_model_generate", C.c_int, P, C.POINTER(C.c_int32), C.POINTER(C.c_int32), C.c_int64,
           C.c_int64, C.POINTER(GenerateParams), C.POINTER(GenerateOutput))
        fn("clf_model_max_new_tokens", C.c_int64, P, C.c_int64)

    def version(self):
        return self.so.clf_version().decode()

    def preset(self, name):
        """clf_model_config_preset(name) as a ModelConfig."""
        cfg = ModelConfig()
        self.check(self.so.clf_model_config_preset(name.encode(), C.byref(cfg)), None,
                   "clf_model_config_preset(%s)" % name)
        return cfg

    def check(self, status, ctx, what):
        if status != 0:
            name = self.so.clf_status_name(status).decode()
            detail = self.so.clf_context_last_error(ctx).decode(errors="replace")
            raise ClfError("%s: %s: %s" % (what, name, detail))


def _ptr(a, ctype):
    return a.ctypes.data_as(C.POINTER(ctype)) if a is not None else None


class Context:
    def __init__(self, lib, device=None):
        self.lib = lib
        p = lib.so.clf_context_params_default()
        self._device = device.encode() if device else None
        p.device = self._device
        h = C.c_void_p()
        lib.check(lib.so.clf_context_create(C.byref(p), C.byref(h)), None, "clf_context_create")
        self.h = h

    def device(self):
        d = self.lib.so.clf_context_device(self.h).contents
        return {"name": d.name.decode(errors="replace"),
                "driver": d.driver_version.decode(errors="replace"),
                "platform": d.platform_name.decode(errors="replace"),
                "platform_version": d.platform_version.decode(errors="replace"),
                "device_class": d.device_class,
                "device_type": self.lib.so.clf_device_class_name(d.device_class).decode(),
                "compute_units": d.compute_units,
                "clock_mhz": d.clock_mhz}

    def close(self):
        if self.h:
            self.lib.so.clf_context_free(self.h)
            self.h = None


class Model:
    """clf_model_load(path), or clf_model_create_random(config, seed) when
    path is None."""

    def __init__(self, ctx, path, max_batch, max_source_len, max_target_len=0, f16=False,
                 config=None, seed=0):
        self.ctx, self.lib = ctx, ctx.lib
        p = self.lib.so.clf_model_params_default()
        p.weight_dtype = 1 if f16 else 0
        p.max_batch, p.max_source_len, p.max_target_len = max_batch, max_source_len, max_target_len
        h = C.c_void_p()
        if path is None:
            st = self.lib.so.clf_model_create_random(ctx.h, C.byref(config), C.byref(p), seed,
                                                     C.byref(h))
            self.lib.check(st, ctx.h, "clf_model_create_random")
        else:
            st = self.lib.so.clf_model_load(ctx.h, path.encode(), C.byref(p), C.byref(h))
            self.lib.check(st, ctx.h, "clf_model_load(%s)" % path)
        self.h = h
        self.config = self.lib.so.clf_model_get_config(h).contents

    def encode(self, ids, lengths=None, hidden=None, pooled=None, pooling=CLF_POOL_NONE):
        """ids: C-contiguous int32 (B, S); hidden (B, S, D) / pooled (B, D) float32 or None."""
        B, S = ids.shape
        st = self.lib.so.clf_model_encode(self.h, _ptr(ids, C.c_int32), _ptr(lengths, C.c_int32),
                                          B, S, pooling, _ptr(hidden, C.c_float),
                                          _ptr(pooled, C.c_float), None)
        self.lib.check(st, self.ctx.h, "clf_model_encode")

    def decode(self, ids, position, logits):
        """One decoder pass on ids int32 (b, n) at [position, position + n);
        logits float32 (b, n, V). Encoder-decoder: after encode() of b sources."""
        b, n = ids.shape
        st = self.lib.so.clf_model_decode(self.h, _ptr(ids, C.c_int32), b, n, position,
                                          _ptr(logits, C.c_float), None)
        self.lib.check(st, self.ctx.h, "clf_model_decode")

    def generate(self, ids, lengths, params, out_ids, out_lengths=None, scores=None,
                 logprobs=None, finish=None):
        """Greedy/beam/sample generation; out_ids int32 (B, n_best, max_new_tokens); the
        optional outputs (B, n_best): out_lengths int32, scores and logprobs float32, finish
        int32 (clf_finish_reason; a C enum is an int)."""
        B, S = ids.shape
        out = GenerateOutput(ids=_ptr(out_ids, C.c_int32), lengths=_ptr(out_lengths, C.c_int32),
                             scores=_ptr(scores, C.c_float), logprobs=_ptr(logprobs, C.c_float),
                             finish=_ptr(finish, C.c_int))
        st = self.lib.so.clf_model_generate(self.h, _ptr(ids, C.c_int32), _ptr(lengths, C.c_int32),
                                            B, S, C.byref(params), C.byref(out))
        self.lib.check(st, self.ctx.h, "clf_model_generate")

    def max_new_tokens(self, prompt_len):
        """clf_model_max_new_tokens: how many new tokens fit after prompt_len ids."""
        return self.lib.so.clf_model_max_new_tokens(self.h, prompt_len)

    def generate_params(self, max_new_tokens, ignore_eos=True):
        p = self.lib.so.clf_generate_params_default()
        p.strategy = CLF_DECODE_GREEDY
        p.max_new_tokens = max_new_tokens
        p.ignore_eos = ignore_eos
        return p

    def close(self):
        if self.h:
            self.lib.so.clf_model_free(self.h)
            self.h = None
