/*
 * _clformer.Model: one context (device) and one clf_model on it. The C rule
 * is that a model is used by one thread at a time; here a busy flag, taken
 * and dropped under the GIL around every call that releases the GIL, turns a
 * second thread's call into BusyError at once, and keeps close() and
 * deallocation from freeing a model that a call is still inside.
 */
#include <stdlib.h>
#include <string.h>

#include "clfpy.h"
#include "params.h"

/* A Model, or a Session of one (s set): a session shares its model's m
 * (kept alive by the reference in owner) and runs on its own state, so
 * that threads with their own sessions of one Model run in parallel. */
typedef struct clfpy_model {
    PyObject_HEAD
    clf_context *ctx; /* NULL for a session */
    clf_model *m;
    int busy; /* a call is inside the C library (read and written under the GIL) */
    clf_session *s;              /* a Session's; NULL for a Model */
    struct clfpy_model *owner;   /* a Session's Model (a strong reference) */
    Py_ssize_t n_sessions;       /* a Model's open sessions: close() waits for them */
} clfpy_model;

/* "Model.x" or "Session.x" for messages. */
#define WHAT(self, method) ((self)->s ? "Session." method : "Model." method)

/* The last error of the object's last call (a session's, or the context's). */
static const char *last_error(const clfpy_model *self)
{
    return self->s ? clf_session_last_error(self->s) : clf_context_last_error(self->ctx);
}

/* Marks the model busy, or raises (closed, or busy on another call). */
static int enter(clfpy_model *self, const char *what)
{
    if (!self->m) {
        PyErr_Format(clfpy_Error, "%s: the model is closed", what);
        return -1;
    }
    if (self->busy) {
        clfpy_raise(CLF_ERR_BUSY, what,
                    self->s ? "this Session is in use by another thread (a session is used by one "
                              "thread at a time: give each thread its own model.session())"
                            : "this Model is in use by another thread (a model is used by one "
                              "thread at a time: give each thread its own model.session())");
        return -1;
    }
    self->busy = 1;
    return 0;
}

static void leave(clfpy_model *self)
{
    self->busy = 0;
}

static void model_free(clfpy_model *self)
{
    if (self->s) {
        clf_session_free(self->s);
        self->s = NULL;
        self->owner->n_sessions--;
        Py_CLEAR(self->owner);
    } else {
        clf_model_free(self->m);
        clf_context_free(self->ctx);
    }
    self->m = NULL;
    self->ctx = NULL;
}

static int model_init(clfpy_model *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"path", "device", "weights", "max_batch", "max_source_len",
                            "max_target_len", "cache_dir", "preset", "config", "seed", NULL};
    const char *path = NULL, *device = NULL, *cache_dir = NULL, *preset = NULL;
    int weights = CLF_F32; /* a clf_dtype: the Python layer maps "f32", "f16", "q8", "q4" */
    long long max_batch = 0, max_src = 0, max_tgt = 0;
    unsigned long long seed = 0;
    PyObject *config = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "z|ziLLLzzOK", names, &path, &device, &weights,
                                     &max_batch, &max_src, &max_tgt, &cache_dir, &preset,
                                     &config, &seed))
        return -1;
    if (self->m || self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "Model already initialised");
        return -1;
    }
    if (!path == !preset) {
        PyErr_SetString(PyExc_ValueError, "give a path, or a preset (random weights), not both");
        return -1;
    }
    clf_model_config cfg;
    memset(&cfg, 0, sizeof cfg);
    clf_status st = CLF_OK;
    const char *what = "Model", *err = "";
    if (preset) {
        what = "Model(preset)";
        if ((st = clf_model_config_preset(preset, &cfg)) != CLF_OK) {
            clfpy_raise(st, what, clf_context_last_error(NULL));
            return -1;
        }
        if (clfpy_config_from(config, &cfg) < 0) return -1;
    }
    clf_context_params cp = clf_context_params_default();
    cp.device = device;
    cp.cache_dir = cache_dir;
    clf_model_params mp = clf_model_params_default();
    if (weights != CLF_F32 && weights != CLF_F16 && weights != CLF_Q8 && weights != CLF_Q4) {
        PyErr_Format(PyExc_ValueError, "weights=%d: CLF_F32, CLF_F16, CLF_Q8 or CLF_Q4", weights);
        return -1;
    }
    mp.weight_dtype = (clf_dtype)weights;
    mp.max_batch = max_batch;
    mp.max_source_len = max_src;
    mp.max_target_len = max_tgt;
    self->busy = 1;
    Py_BEGIN_ALLOW_THREADS
    st = clf_context_create(&cp, &self->ctx);
    if (st != CLF_OK) {
        err = clf_context_last_error(NULL);
        what = "Model: device";
    } else {
        st = preset ? clf_model_create_random(self->ctx, &cfg, &mp, seed, &self->m)
                    : clf_model_load(self->ctx, path, &mp, &self->m);
        if (st != CLF_OK) err = clf_context_last_error(self->ctx);
    }
    Py_END_ALLOW_THREADS
    self->busy = 0;
    if (st != CLF_OK) {
        clfpy_raise(st, what, err); /* copies err before the context goes */
        model_free(self);
        return -1;
    }
    return 0;
}

static void model_dealloc(clfpy_model *self)
{
    model_free(self); /* no call can be inside: it would hold a reference */
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *model_close(clfpy_model *self, PyObject *unused)
{
    (void)unused;
    if (self->busy) return clfpy_raise(CLF_ERR_BUSY, WHAT(self, "close"), "a call is still running");
    if (self->n_sessions)
        return clfpy_raise(CLF_ERR_BUSY, "Model.close",
                           "the model has open sessions: close them first");
    model_free(self);
    Py_RETURN_NONE;
}

/* info() -> dict: config, model info, device (its name) and device_info
 * (the dict devices() lists for the model's device). */
static PyObject *model_info(clfpy_model *self, PyObject *unused)
{
    (void)unused;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model.info: the model is closed");
    const clf_model_info *in = clf_model_get_info(self->m);
    const clf_device_info *dev = clf_context_device(self->ctx);
    PyObject *cfg = clfpy_config_dict(clf_model_get_config(self->m));
    PyObject *labels = in->labels ? PyList_New(0) : Py_NewRef(Py_None);
    for (int64_t i = 0; labels && in->labels && i < in->n_labels; i++) {
        PyObject *s = PyUnicode_DecodeUTF8(in->labels[i], (Py_ssize_t)strlen(in->labels[i]), "replace");
        if (!s || PyList_Append(labels, s) < 0) Py_CLEAR(labels);
        Py_XDECREF(s);
    }
    PyObject *devd = clfpy_device_dict(dev);
    PyObject *ret = NULL;
    if (cfg && labels && devd)
        ret = Py_BuildValue("{s:O,s:s,s:s,s:O,s:i,s:O,s:s,s:s,s:O}", "config", cfg, "architecture",
                            in->architecture, "model_type", in->model_type,
                            "sentence_transformers", in->sentence_transformers ? Py_True : Py_False,
                            "pooling", (int)in->pooling, "labels", labels, "device", dev->name,
                            "device_class", clf_device_class_name(dev->device_class),
                            "device_info", devd);
    Py_XDECREF(devd);
    Py_XDECREF(cfg);
    Py_XDECREF(labels);
    return ret;
}

/* encode(ids, lengths|None, B, S, pooling, hidden|None, pooled|None, classes|None) */
static PyObject *model_encode(clfpy_model *self, PyObject *args)
{
    PyObject *io, *lo, *ho, *po, *co;
    Py_ssize_t B, S;
    int pooling;
    if (!PyArg_ParseTuple(args, "OOnniOOO", &io, &lo, &B, &S, &pooling, &ho, &po, &co)) return NULL;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model.encode: the model is closed");
    const clf_model_config *c = clf_model_get_config(self->m);
    Py_buffer ids, len, hid, pool, cls;
    memset(&len, 0, sizeof len);
    memset(&hid, 0, sizeof hid);
    memset(&pool, 0, sizeof pool);
    memset(&cls, 0, sizeof cls);
    if (clfpy_buffer(io, 'i', 0, B * S, 0, "ids", &ids) < 0) return NULL;
    PyObject *ret = NULL;
    if (clfpy_buffer(lo, 'i', 0, B, 1, "lengths", &len) < 0 ||
        clfpy_buffer(ho, 'f', 1, B * S * (Py_ssize_t)c->d_model, 1, "hidden", &hid) < 0 ||
        clfpy_buffer(po, 'f', 1, B * (Py_ssize_t)c->d_model, 1, "pooled", &pool) < 0 ||
        clfpy_buffer(co, 'f', 1, B * (Py_ssize_t)c->n_classes, 1, "classes", &cls) < 0 ||
        enter(self, WHAT(self, "encode")) < 0)
        goto done;
    clf_status st;
    const char *err = "";
    Py_BEGIN_ALLOW_THREADS
    st = self->s ? clf_session_encode(self->s, ids.buf, len.buf, B, S, (clf_pooling)pooling,
                                      hid.buf, pool.buf, cls.buf)
                 : clf_model_encode(self->m, ids.buf, len.buf, B, S, (clf_pooling)pooling, hid.buf,
                                    pool.buf, cls.buf);
    if (st != CLF_OK) err = last_error(self);
    Py_END_ALLOW_THREADS
    leave(self);
    if (st != CLF_OK)
        clfpy_raise(st, WHAT(self, "encode"), err);
    else
        ret = Py_NewRef(Py_None);
done:
    clfpy_buffer_release(&ids);
    clfpy_buffer_release(&len);
    clfpy_buffer_release(&hid);
    clfpy_buffer_release(&pool);
    clfpy_buffer_release(&cls);
    return ret;
}

/* decode(ids (b, n), b, n, position, logits (b, n, V)) */
static PyObject *model_decode(clfpy_model *self, PyObject *args)
{
    PyObject *io, *lo;
    Py_ssize_t b, n, pos;
    if (!PyArg_ParseTuple(args, "OnnnO", &io, &b, &n, &pos, &lo)) return NULL;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model.decode: the model is closed");
    Py_buffer ids, logits;
    if (clfpy_buffer(io, 'i', 0, b * n, 0, "ids", &ids) < 0) return NULL;
    if (clfpy_buffer(lo, 'f', 1, b * n * (Py_ssize_t)clf_model_get_config(self->m)->vocab, 0,
                     "logits", &logits) < 0) {
        clfpy_buffer_release(&ids);
        return NULL;
    }
    PyObject *ret = NULL;
    if (enter(self, WHAT(self, "decode")) == 0) {
        clf_status st;
        const char *err = "";
        Py_BEGIN_ALLOW_THREADS
        st = self->s ? clf_session_decode(self->s, ids.buf, b, n, pos, logits.buf, NULL)
                     : clf_model_decode(self->m, ids.buf, b, n, pos, logits.buf, NULL);
        if (st != CLF_OK) err = last_error(self);
        Py_END_ALLOW_THREADS
        leave(self);
        ret = st == CLF_OK ? Py_NewRef(Py_None) : clfpy_raise(st, WHAT(self, "decode"), err);
    }
    clfpy_buffer_release(&ids);
    clfpy_buffer_release(&logits);
    return ret;
}

static PyObject *model_generate_defaults(clfpy_model *self, PyObject *unused)
{
    (void)unused;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model: the model is closed");
    clf_generate_params g;
    clf_status st = clf_model_generate_defaults(self->m, &g);
    if (st != CLF_OK) return clfpy_raise(st, "Model.generate_defaults", clf_context_last_error(NULL));
    return clfpy_generate_dict(&g);
}

static PyObject *model_max_new_tokens(clfpy_model *self, PyObject *arg)
{
    long long n = PyLong_AsLongLong(arg);
    if (n == -1 && PyErr_Occurred()) return NULL;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model: the model is closed");
    return PyLong_FromLongLong(clf_model_max_new_tokens(self->m, n));
}

/* What the streaming callbacks share; they run on the generating thread,
 * without the GIL, and take it only to hand a piece to Python. */
typedef struct {
    clf_detokenizer *d;
    PyObject *callback;  /* callback(piece) -> true to stop */
    int stop;            /* the callback asked to stop, raised, or decoding failed */
    clf_status detok_st; /* a detokenizer failure */
    PyObject *exc_type, *exc_value, *exc_tb; /* the callback's exception */
} stream;

static void stream_emit(stream *s, const char *piece, size_t len)
{
    if (!len || s->exc_type) return;
    PyGILState_STATE g = PyGILState_Ensure();
    PyObject *str = PyUnicode_DecodeUTF8(piece, (Py_ssize_t)len, "strict");
    PyObject *r = str ? PyObject_CallOneArg(s->callback, str) : NULL;
    int t = r ? PyObject_IsTrue(r) : -1;
    if (t < 0)
        PyErr_Fetch(&s->exc_type, &s->exc_value, &s->exc_tb);
    if (t != 0) s->stop = 1;
    Py_XDECREF(str);
    Py_XDECREF(r);
    PyGILState_Release(g);
}

static void stream_token(void *user, int64_t seq, int64_t step, int32_t token)
{
    (void)step;
    stream *s = user;
    const char *piece;
    size_t len;
    if (seq != 0 || s->stop) return; /* stream=True generates one sequence */
    clf_status st = clf_detokenizer_push(s->d, token, &piece, &len);
    if (st != CLF_OK) {
        s->detok_st = st;
        s->stop = 1;
        return;
    }
    stream_emit(s, piece, len);
}

static bool stream_abort(void *user)
{
    return ((stream *)user)->stop;
}

/* A new bytearray of n bytes; NULL with MemoryError. */
static PyObject *bytes_out(Py_ssize_t n)
{
    return PyByteArray_FromStringAndSize(NULL, n);
}

/* generate(ids, lengths|None, B, S, params dict, stream: (tokenizer, prefix, n_prefix, callback)
 * | None[, logprobs=True]) -> (completed, max_new, ids, lengths, finish, logprobs): the outputs
 * as bytearrays of int32 (B, n_best, max_new), int32 (B, n_best), int32 (B, n_best), float32
 * (B, n_best), the last None when logprobs is false: then clf_model_generate is not asked for
 * them, and greedy decoding takes its chained form (generate.c gen_chained: each step
 * enqueued before the host reads the last one's tokens) instead of reading every step's
 * logits back to sum their log-softmax on the host. completed is False when a stream
 * callback stopped the generation. max_new is the stride that clf_model_generate uses
 * (model.h: max_new_tokens, else max_length - prompt, else 16). */
static PyObject *model_generate(clfpy_model *self, PyObject *args)
{
    PyObject *io, *lo, *pd, *so;
    Py_ssize_t B, S;
    int want_lp = 1;
    if (!PyArg_ParseTuple(args, "OOnnOO|p", &io, &lo, &B, &S, &pd, &so, &want_lp)) return NULL;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model.generate: the model is closed");
    clf_generate_params g;
    clf_status st = clf_model_generate_defaults(self->m, &g);
    if (st != CLF_OK) return clfpy_raise(st, "Model.generate", clf_context_last_error(NULL));
    if (clfpy_generate_from(pd, &g) < 0) return NULL;
    int64_t prompt = clf_model_get_config(self->m)->kind == CLF_MODEL_DECODER ? S : 1;
    int64_t max_new = g.max_new_tokens > 0 ? g.max_new_tokens
                      : g.max_length > 0   ? (g.max_length - prompt > 1 ? g.max_length - prompt : 1)
                                           : 16;
    Py_ssize_t nb = g.n_best > 0 ? g.n_best : 1;
    if (B < 0 || max_new > (PY_SSIZE_T_MAX / 4) / (B * nb + 1))
        return PyErr_Format(PyExc_ValueError, "generate: %zd x %zd x %lld outputs do not fit", B, nb,
                            (long long)max_new);
    stream s;
    memset(&s, 0, sizeof s);
    Py_buffer ids, len, pre;
    memset(&len, 0, sizeof len);
    memset(&pre, 0, sizeof pre);
    if (clfpy_buffer(io, 'i', 0, B * S, 0, "ids", &ids) < 0) return NULL;
    PyObject *ret = NULL, *tok_obj = NULL;
    PyObject *o_ids = bytes_out(B * nb * (Py_ssize_t)max_new * 4), *o_len = bytes_out(B * nb * 4),
             *o_fin = bytes_out(B * nb * 4), *o_lp = want_lp ? bytes_out(B * nb * 4) : Py_None;
    if (!want_lp) Py_INCREF(Py_None);
    clf_finish_reason *fin = malloc((size_t)(B * nb + 1) * sizeof *fin);
    Py_ssize_t n_pre = 0;
    if (!o_ids || !o_len || !o_fin || !o_lp || !fin) {
        PyErr_NoMemory();
        goto done;
    }
    if (clfpy_buffer(lo, 'i', 0, B, 1, "lengths", &len) < 0) goto done;
    if (so != Py_None) {
        PyObject *pobj;
        if (!PyArg_ParseTuple(so, "O!OnO", &clfpy_TokenizerType, &tok_obj, &pobj, &n_pre, &s.callback) ||
            clfpy_buffer(pobj, 'i', 0, n_pre, 0, "prefix", &pre) < 0)
            goto done;
        st = clfpy_detok_begin(((clfpy_tokenizer *)tok_obj)->tok, pre.buf, n_pre, &s.d);
        if (st != CLF_OK) {
            clfpy_raise(st, "Model.generate: the prompt's ids", clf_context_last_error(NULL));
            goto done;
        }
        g.on_token = stream_token;
        g.abort = stream_abort;
        g.user = &s;
    }
    if (enter(self, WHAT(self, "generate")) < 0) goto done;
    clf_generate_output out = {(int32_t *)PyByteArray_AS_STRING(o_ids),
                               (int32_t *)PyByteArray_AS_STRING(o_len), NULL,
                               want_lp ? (float *)PyByteArray_AS_STRING(o_lp) : NULL, fin};
    const char *err = "";
    Py_BEGIN_ALLOW_THREADS
    st = self->s ? clf_session_generate(self->s, ids.buf, len.buf, B, S, &g, &out)
                 : clf_model_generate(self->m, ids.buf, len.buf, B, S, &g, &out);
    if (st != CLF_OK) err = last_error(self);
    Py_END_ALLOW_THREADS
    leave(self);
    for (Py_ssize_t i = 0; i < B * nb; i++)
        ((int32_t *)PyByteArray_AS_STRING(o_fin))[i] = (int32_t)fin[i];
    if (s.exc_type) {
        PyErr_Restore(s.exc_type, s.exc_value, s.exc_tb); /* the callback's own error */
        goto done;
    }
    if (s.detok_st != CLF_OK) {
        clfpy_raise(s.detok_st, "Model.generate: streaming decode", clf_context_last_error(NULL));
        goto done;
    }
    bool stopped = st == CLF_ERR_ABORTED && s.stop; /* the consumer stopped: not an error */
    if (st != CLF_OK && !stopped) {
        clfpy_raise(st, WHAT(self, "generate"), err);
        goto done;
    }
    if (s.d && !stopped) {
        const char *piece;
        size_t n;
        if (clf_detokenizer_flush(s.d, &piece, &n) == CLF_OK) stream_emit(&s, piece, n);
        if (s.exc_type) {
            PyErr_Restore(s.exc_type, s.exc_value, s.exc_tb);
            goto done;
        }
    }
    ret = Py_BuildValue("(OLOOOO)", stopped ? Py_False : Py_True, (long long)max_new, o_ids, o_len,
                        o_fin, o_lp);
done:
    free(fin);
    Py_XDECREF(o_ids);
    Py_XDECREF(o_len);
    Py_XDECREF(o_fin);
    Py_XDECREF(o_lp);
    clf_detokenizer_free(s.d);
    clfpy_buffer_release(&ids);
    clfpy_buffer_release(&len);
    clfpy_buffer_release(&pre);
    return ret;
}

/* session(max_batch, max_source_len, max_target_len) -> Session: clf_session_create (0 = the
 * model's). Needs no busy mark: a session may be made while another thread is inside the
 * model (session.h). */
static PyObject *model_session(clfpy_model *self, PyObject *args)
{
    long long mb = 0, ms = 0, mt = 0;
    if (!PyArg_ParseTuple(args, "|LLL", &mb, &ms, &mt)) return NULL;
    if (!self->m) return PyErr_Format(clfpy_Error, "Model.session: the model is closed");
    clf_session_params p = clf_session_params_default();
    p.max_batch = mb;
    p.max_source_len = ms;
    p.max_target_len = mt;
    clfpy_model *o = PyObject_New(clfpy_model, &clfpy_SessionType);
    if (!o) return NULL;
    o->ctx = NULL;
    o->m = NULL;
    o->busy = 0;
    o->s = NULL;
    o->owner = NULL;
    o->n_sessions = 0;
    clf_status st;
    char err[1024] = "";
    clf_session *s = NULL;
    Py_BEGIN_ALLOW_THREADS
    st = clf_session_create(self->m, &p, &s);
    if (st != CLF_OK) snprintf(err, sizeof err, "%s", clf_session_last_error(NULL));
    Py_END_ALLOW_THREADS
    if (st != CLF_OK) {
        Py_DECREF(o);
        return clfpy_raise(st, "Model.session", err);
    }
    o->m = self->m;
    o->s = s;
    o->owner = (clfpy_model *)Py_NewRef((PyObject *)self);
    self->n_sessions++;
    return (PyObject *)o;
}

/* memory() -> dict of clf_session_memory_info. */
static PyObject *session_memory(clfpy_model *self, PyObject *unused)
{
    (void)unused;
    if (!self->s) return PyErr_Format(clfpy_Error, "Session.memory: the session is closed");
    if (self->busy)
        return clfpy_raise(CLF_ERR_BUSY, "Session.memory", "a call is still running");
    clf_session_memory_info x;
    clf_session_memory(self->s, &x);
    return Py_BuildValue("{snsnsnsnsnsnsn}", "cache_bytes", (Py_ssize_t)x.cache_bytes,
                         "arena_bytes", (Py_ssize_t)x.arena_bytes, "io_bytes",
                         (Py_ssize_t)x.io_bytes, "scratch_bytes", (Py_ssize_t)x.scratch_bytes,
                         "other_bytes", (Py_ssize_t)x.other_bytes, "device_bytes",
                         (Py_ssize_t)x.device_bytes, "host_bytes", (Py_ssize_t)x.host_bytes);
}

static PyMethodDef session_methods[] = {
    {"close", (PyCFunction)model_close, METH_NOARGS, "Frees the session."},
    {"encode", (PyCFunction)model_encode, METH_VARARGS, "clf_session_encode"},
    {"decode", (PyCFunction)model_decode, METH_VARARGS, "clf_session_decode"},
    {"generate", (PyCFunction)model_generate, METH_VARARGS, "clf_session_generate"},
    {"generate_defaults", (PyCFunction)model_generate_defaults, METH_NOARGS,
     "clf_model_generate_defaults of the session's model"},
    {"max_new_tokens", (PyCFunction)model_max_new_tokens, METH_O, "clf_model_max_new_tokens"},
    {"memory", (PyCFunction)session_memory, METH_NOARGS, "clf_session_memory as a dict"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject clfpy_SessionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clformer._clformer.Session",
    .tp_basicsize = sizeof(clfpy_model),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A clf_session of a Model (use clformer.Model.session()).",
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = session_methods,
};

static PyMethodDef model_methods[] = {
    {"session", (PyCFunction)model_session, METH_VARARGS,
     "clf_session_create: a Session sharing the model's weights"},
    {"close", (PyCFunction)model_close, METH_NOARGS, "Frees the model and its context."},
    {"info", (PyCFunction)model_info, METH_NOARGS, "config, info and device as a dict"},
    {"encode", (PyCFunction)model_encode, METH_VARARGS, "clf_model_encode"},
    {"decode", (PyCFunction)model_decode, METH_VARARGS, "clf_model_decode"},
    {"generate", (PyCFunction)model_generate, METH_VARARGS,
     "clf_model_generate; True when it ran to the end, False when a stream callback stopped it"},
    {"generate_defaults", (PyCFunction)model_generate_defaults, METH_NOARGS,
     "clf_model_generate_defaults as a dict"},
    {"max_new_tokens", (PyCFunction)model_max_new_tokens, METH_O, "clf_model_max_new_tokens"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject clfpy_ModelType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clformer._clformer.Model",
    .tp_basicsize = sizeof(clfpy_model),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A context and a clf_model (use clformer.Model).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)model_init,
    .tp_dealloc = (destructor)model_dealloc,
    .tp_methods = model_methods,
};
