/*
 * _clformer.Tokenizer: clf_tokenizer_* (text <-> ids). A tokenizer is
 * immutable once loaded: any number of threads may use one at once (the C
 * rule), so it has no busy flag; it is freed only when no call holds it.
 */
#include <stdlib.h>
#include <string.h>

#include "clfpy.h"

static int tok_init(clfpy_tokenizer *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"path", "max_length", "add_special_tokens", NULL};
    const char *path;
    long long max_length = 0;
    int special = 1;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "s|Lp", names, &path, &max_length, &special))
        return -1;
    if (self->tok) {
        PyErr_SetString(PyExc_RuntimeError, "Tokenizer already initialised");
        return -1;
    }
    clf_tokenizer_params p = clf_tokenizer_params_default();
    p.max_length = max_length;
    p.no_special_tokens = !special;
    clf_status st;
    const char *err = "";
    Py_BEGIN_ALLOW_THREADS
    st = clf_tokenizer_load(path, &p, &self->tok);
    if (st != CLF_OK) err = clf_context_last_error(NULL);
    Py_END_ALLOW_THREADS
    if (st != CLF_OK) {
        clfpy_raise(st, "Tokenizer", err);
        return -1;
    }
    return 0;
}

static void tok_dealloc(clfpy_tokenizer *self)
{
    clf_tokenizer_free(self->tok);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int ready(const clfpy_tokenizer *self)
{
    if (self->tok) return 1;
    PyErr_SetString(PyExc_RuntimeError, "Tokenizer not initialised");
    return 0;
}

static PyObject *tok_encode(clfpy_tokenizer *self, PyObject *args)
{
    const char *text;
    Py_ssize_t len;
    if (!ready(self) || !PyArg_ParseTuple(args, "s#", &text, &len)) return NULL;
    int64_t cap = clf_tokenizer_max_length(self->tok), n = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    if (!ids) return PyErr_NoMemory();
    clf_status st = clf_tokenizer_encode(self->tok, text, (size_t)len, ids, cap, &n);
    PyObject *list = NULL;
    if (st != CLF_OK)
        clfpy_raise(st, "Tokenizer.encode", clf_context_last_error(NULL));
    else if ((list = PyList_New((Py_ssize_t)n)))
        for (int64_t i = 0; i < n; i++) PyList_SET_ITEM(list, (Py_ssize_t)i, PyLong_FromLong(ids[i]));
    free(ids);
    return list;
}

/* encode_batch(texts, ids_out (n * max_length) int32, lengths_out (n) int32) -> S */
static PyObject *tok_encode_batch(clfpy_tokenizer *self, PyObject *args)
{
    PyObject *texts, *ids_obj, *len_obj;
    if (!ready(self) || !PyArg_ParseTuple(args, "OOO", &texts, &ids_obj, &len_obj)) return NULL;
    PyObject *seq = PySequence_Fast(texts, "texts must be a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    int64_t cap = clf_tokenizer_max_length(self->tok), S = 0;
    const char **ptrs = calloc((size_t)n + 1, sizeof *ptrs);
    size_t *lens = calloc((size_t)n + 1, sizeof *lens);
    Py_buffer ids, lengths;
    PyObject *ret = NULL;
    memset(&ids, 0, sizeof ids);
    memset(&lengths, 0, sizeof lengths);
    if (!ptrs || !lens) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t l;
        ptrs[i] = PyUnicode_AsUTF8AndSize(PySequence_Fast_GET_ITEM(seq, i), &l);
        if (!ptrs[i]) goto done;
        lens[i] = (size_t)l;
    }
    if (clfpy_buffer(ids_obj, 'i', 1, n * (Py_ssize_t)cap, 0, "ids", &ids) < 0 ||
        clfpy_buffer(len_obj, 'i', 1, n, 0, "lengths", &lengths) < 0)
        goto done;
    clf_status st;
    const char *err = "";
    /* The strings belong to seq's items, which this call holds. */
    Py_BEGIN_ALLOW_THREADS
    st = clf_tokenizer_encode_batch(self->tok, n, ptrs, lens, ids.buf, lengths.buf, &S);
    if (st != CLF_OK) err = clf_context_last_error(NULL);
    Py_END_ALLOW_THREADS
    if (st != CLF_OK)
        clfpy_raise(st, "Tokenizer.encode_batch", err);
    else
        ret = PyLong_FromLongLong(S);
done:
    clfpy_buffer_release(&ids);
    clfpy_buffer_release(&lengths);
    free(ptrs);
    free(lens);
    Py_DECREF(seq);
    return ret;
}

static PyObject *tok_decode(clfpy_tokenizer *self, PyObject *args)
{
    PyObject *obj;
    Py_ssize_t n;
    int skip = 1;
    if (!ready(self) || !PyArg_ParseTuple(args, "On|p", &obj, &n, &skip)) return NULL;
    Py_buffer ids;
    if (clfpy_buffer(obj, 'i', 0, n, 0, "ids", &ids) < 0) return NULL;
    unsigned flags = skip ? CLF_DECODE_SKIP_SPECIAL : 0;
    size_t len = 0;
    PyObject *ret = NULL;
    clf_status st = clf_tokenizer_decode(self->tok, ids.buf, n, flags, NULL, 0, &len);
    if (st == CLF_OK || st == CLF_ERR_OUT_OF_RANGE) {
        char *text = malloc(len + 1);
        if (!text) {
            clfpy_buffer_release(&ids);
            return PyErr_NoMemory();
        }
        st = clf_tokenizer_decode(self->tok, ids.buf, n, flags, text, len + 1, &len);
        if (st == CLF_OK) ret = PyUnicode_DecodeUTF8(text, (Py_ssize_t)len, "strict");
        free(text);
    }
    if (st != CLF_OK) clfpy_raise(st, "Tokenizer.decode", clf_context_last_error(NULL));
    clfpy_buffer_release(&ids);
    return ret;
}

clf_status clfpy_detok_begin(const clf_tokenizer *tok, const int32_t *prefix, int64_t n_prefix,
                             clf_detokenizer **out)
{
    clf_status st = clf_detokenizer_create(tok, CLF_DECODE_SKIP_SPECIAL, out);
    for (int64_t i = 0; st == CLF_OK && i < n_prefix; i++) {
        const char *piece;
        size_t len;
        st = clf_detokenizer_push(*out, prefix[i], &piece, &len);
    }
    if (st != CLF_OK) {
        clf_detokenizer_free(*out);
        *out = NULL;
    }
    return st;
}

/* continuation(prefix, n_prefix, ids, n) -> the text of ids after prefix
 * (clfpy_detok_begin), special tokens skipped. */
static PyObject *tok_continuation(clfpy_tokenizer *self, PyObject *args)
{
    PyObject *pobj, *iobj;
    Py_ssize_t np, n;
    if (!ready(self) || !PyArg_ParseTuple(args, "OnOn", &pobj, &np, &iobj, &n)) return NULL;
    Py_buffer pre, ids;
    if (clfpy_buffer(pobj, 'i', 0, np, 0, "prefix", &pre) < 0) return NULL;
    if (clfpy_buffer(iobj, 'i', 0, n, 0, "ids", &ids) < 0) {
        clfpy_buffer_release(&pre);
        return NULL;
    }
    clf_detokenizer *d = NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, 0), *ret = NULL;
    clf_status st = clfpy_detok_begin(self->tok, pre.buf, np, &d);
    const int32_t *v = ids.buf;
    for (Py_ssize_t i = 0; st == CLF_OK && out && i <= n; i++) {
        const char *piece;
        size_t len;
        st = i < n ? clf_detokenizer_push(d, v[i], &piece, &len) : clf_detokenizer_flush(d, &piece, &len);
        if (st == CLF_OK && len) PyBytes_ConcatAndDel(&out, PyBytes_FromStringAndSize(piece, (Py_ssize_t)len));
    }
    if (st != CLF_OK)
        clfpy_raise(st, "Tokenizer.continuation", clf_context_last_error(NULL));
    else if (out)
        ret = PyUnicode_DecodeUTF8(PyBytes_AS_STRING(out), PyBytes_GET_SIZE(out), "strict");
    Py_XDECREF(out);
    clf_detokenizer_free(d);
    clfpy_buffer_release(&pre);
    clfpy_buffer_release(&ids);
    return ret;
}

static PyObject *tok_token_id(clfpy_tokenizer *self, PyObject *arg)
{
    const char *s = ready(self) ? PyUnicode_AsUTF8(arg) : NULL;
    return s ? PyLong_FromLong(clf_tokenizer_token_id(self->tok, s)) : NULL;
}

static PyObject *tok_token(clfpy_tokenizer *self, PyObject *arg)
{
    long id = PyLong_AsLong(arg);
    if (!ready(self) || (id == -1 && PyErr_Occurred())) return NULL;
    const char *s = id >= INT32_MIN && id <= INT32_MAX ? clf_tokenizer_token(self->tok, (int32_t)id) : NULL;
    if (!s) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *tok_special_id(clfpy_tokenizer *self, PyObject *arg)
{
    long which = PyLong_AsLong(arg);
    if (!ready(self) || (which == -1 && PyErr_Occurred())) return NULL;
    if (which < CLF_TOKEN_PAD || which > CLF_TOKEN_EOS) {
        PyErr_Format(PyExc_ValueError, "special token %ld: 0 (pad) .. 6 (eos)", which);
        return NULL;
    }
    return PyLong_FromLong(clf_tokenizer_special_id(self->tok, (clf_special_token)which));
}

static PyObject *tok_info(clfpy_tokenizer *self, PyObject *unused)
{
    (void)unused;
    if (!ready(self)) return NULL;
    static const char *kinds[] = {"wordpiece", "bpe", "unigram", "spm_bpe"};
    clf_tokenizer_kind k = clf_tokenizer_kind_of(self->tok);
    return Py_BuildValue("{s:s,s:L,s:L}", "kind",
                         k >= 0 && k < 4 ? kinds[k] : "unknown", "vocab_size",
                         (long long)clf_tokenizer_vocab_size(self->tok), "max_length",
                         (long long)clf_tokenizer_max_length(self->tok));
}

static PyMethodDef tok_methods[] = {
    {"encode", (PyCFunction)tok_encode, METH_VARARGS, "encode(text) -> list of ids"},
    {"encode_batch", (PyCFunction)tok_encode_batch, METH_VARARGS,
     "encode_batch(texts, ids_out, lengths_out) -> S"},
    {"decode", (PyCFunction)tok_decode, METH_VARARGS, "decode(ids, n, skip_special=True) -> str"},
    {"continuation", (PyCFunction)tok_continuation, METH_VARARGS,
     "continuation(prefix, n_prefix, ids, n) -> text of ids after prefix"},
    {"token_id", (PyCFunction)tok_token_id, METH_O, "token_id(str) -> id or -1"},
    {"token", (PyCFunction)tok_token, METH_O, "token(id) -> str or None"},
    {"special_id", (PyCFunction)tok_special_id, METH_O, "special_id(which) -> id or -1"},
    {"info", (PyCFunction)tok_info, METH_NOARGS, "kind, vocab_size, max_length"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject clfpy_TokenizerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "clformer._clformer.Tokenizer",
    .tp_basicsize = sizeof(clfpy_tokenizer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "clf_tokenizer (use clformer.Tokenizer).",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)tok_init,
    .tp_dealloc = (destructor)tok_dealloc,
    .tp_methods = tok_methods,
};
