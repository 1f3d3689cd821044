/*
 * Plain C structs (clf_model_config, clf_generate_params) to and from Python
 * dicts, through tables of (name, type, offsetof): the compiler places every
 * field, so a header change either still compiles and stays right, or fails
 * to compile here. Enums are ints in the dict.
 */
#include <stddef.h>
#include <string.h>

#include "clfpy.h"
#include "params.h"

typedef enum { T_BOOL, T_INT, T_ENUM, T_I32, T_I64, T_U64, T_F32, T_F64 } ftype;

typedef struct {
    const char *name;
    ftype type;
    size_t off;
} field;

#define F(S, name, t) {#name, t, offsetof(S, name)}

/* T_ENUM fields are read and written as int. */
_Static_assert(sizeof(clf_model_kind) == sizeof(int) && sizeof(clf_act) == sizeof(int) &&
                   sizeof(clf_norm_type) == sizeof(int) && sizeof(clf_pos_type) == sizeof(int) &&
                   sizeof(clf_decode_strategy) == sizeof(int) &&
                   sizeof(clf_beam_rule) == sizeof(int) && sizeof(clf_early_stopping) == sizeof(int),
               "an enum of the API is not int-sized");

static const field config_fields[] = {
    F(clf_model_config, kind, T_ENUM),
    F(clf_model_config, encoder_layers, T_INT),
    F(clf_model_config, decoder_layers, T_INT),
    F(clf_model_config, d_model, T_I64),
    F(clf_model_config, n_heads, T_INT),
    F(clf_model_config, d_ff, T_I64),
    F(clf_model_config, activation, T_ENUM),
    F(clf_model_config, norm_first, T_BOOL),
    F(clf_model_config, norm_type, T_ENUM),
    F(clf_model_config, eps, T_F32),
    F(clf_model_config, positions, T_ENUM),
    F(clf_model_config, position_offset, T_I64),
    F(clf_model_config, max_positions, T_I64),
    F(clf_model_config, vocab, T_I64),
    F(clf_model_config, tied_embeddings, T_BOOL),
    F(clf_model_config, embedding_scale, T_F32),
    F(clf_model_config, encoder_final_norm, T_BOOL),
    F(clf_model_config, decoder_final_norm, T_BOOL),
    F(clf_model_config, attn_bias, T_BOOL),
    F(clf_model_config, ffn_bias, T_BOOL),
    F(clf_model_config, norm_bias, T_BOOL),
    F(clf_model_config, output_bias, T_BOOL),
    F(clf_model_config, pad_id, T_I32),
    F(clf_model_config, bos_id, T_I32),
    F(clf_model_config, eos_id, T_I32),
    F(clf_model_config, n_classes, T_I64),
    F(clf_model_config, embedding_norm, T_BOOL),
    F(clf_model_config, pooler, T_BOOL),
    F(clf_model_config, normalize, T_BOOL),
    {NULL, T_INT, 0},
};

/* The generation settings a caller may set from Python (the callbacks,
 * user pointer and bad-words arrays are the binding's own business). */
static const field generate_fields[] = {
    F(clf_generate_params, strategy, T_ENUM),
    F(clf_generate_params, max_new_tokens, T_I64),
    F(clf_generate_params, ignore_eos, T_BOOL),
    F(clf_generate_params, beam_size, T_INT),
    F(clf_generate_params, length_alpha, T_F64),
    F(clf_generate_params, n_best, T_INT),
    F(clf_generate_params, temperature, T_F32),
    F(clf_generate_params, top_k, T_INT),
    F(clf_generate_params, top_p, T_F32),
    F(clf_generate_params, seed, T_U64),
    F(clf_generate_params, beam_rule, T_ENUM),
    F(clf_generate_params, max_length, T_I64),
    F(clf_generate_params, min_length, T_I64),
    F(clf_generate_params, min_new_tokens, T_I64),
    F(clf_generate_params, no_repeat_ngram_size, T_INT),
    F(clf_generate_params, repetition_penalty, T_F32),
    F(clf_generate_params, force_bos, T_BOOL),
    F(clf_generate_params, forced_bos_token_id, T_I32),
    F(clf_generate_params, force_eos, T_BOOL),
    F(clf_generate_params, forced_eos_token_id, T_I32),
    F(clf_generate_params, early_stopping, T_ENUM),
    {NULL, T_INT, 0},
};

static PyObject *get(const field *f, const void *s)
{
    const char *p = (const char *)s + f->off;
    switch (f->type) {
    case T_BOOL: return PyBool_FromLong(*(const bool *)p);
    case T_INT: return PyLong_FromLong(*(const int *)p);
    case T_ENUM: {
        int v; /* a C enum of these headers is int-sized */
        memcpy(&v, p, sizeof v);
        return PyLong_FromLong(v);
    }
    case T_I32: return PyLong_FromLong(*(const int32_t *)p);
    case T_I64: return PyLong_FromLongLong(*(const int64_t *)p);
    case T_U64: return PyLong_FromUnsignedLongLong(*(const uint64_t *)p);
    case T_F32: return PyFloat_FromDouble(*(const float *)p);
    case T_F64: return PyFloat_FromDouble(*(const double *)p);
    }
    return NULL;
}

/* Range errors become ValueError naming the key; the C library range-checks
 * the values themselves. */
static int set(const field *f, void *s, PyObject *v)
{
    char *p = (char *)s + f->off;
    if (f->type == T_F32 || f->type == T_F64) {
        double d = PyFloat_AsDouble(v);
        if (d == -1.0 && PyErr_Occurred()) return -1;
        if (f->type == T_F32)
            *(float *)p = (float)d;
        else
            *(double *)p = d;
        return 0;
    }
    if (f->type == T_BOOL) {
        int b = PyObject_IsTrue(v);
        if (b < 0) return -1;
        *(bool *)p = b;
        return 0;
    }
    if (f->type == T_U64) {
        unsigned long long u = PyLong_AsUnsignedLongLongMask(v);
        if (u == (unsigned long long)-1 && PyErr_Occurred()) return -1;
        *(uint64_t *)p = u;
        return 0;
    }
    long long x = PyLong_AsLongLong(v);
    if (x == -1 && PyErr_Occurred()) return -1;
    if (f->type != T_I64 && (x < INT32_MIN || x > INT32_MAX)) {
        PyErr_Format(PyExc_ValueError, "%s = %lld does not fit in 32 bits", f->name, x);
        return -1;
    }
    if (f->type == T_I64)
        *(int64_t *)p = x;
    else if (f->type == T_I32)
        *(int32_t *)p = (int32_t)x;
    else {
        int i = (int)x;
        memcpy(p, &i, sizeof i);
    }
    return 0;
}

static PyObject *to_dict(const field *fs, const void *s)
{
    PyObject *d = PyDict_New();
    for (const field *f = fs; d && f->name; f++) {
        PyObject *v = get(f, s);
        if (!v || PyDict_SetItemString(d, f->name, v) < 0) Py_CLEAR(d);
        Py_XDECREF(v);
    }
    return d;
}

static int from_dict(const field *fs, void *s, PyObject *d, const char *what)
{
    if (d == Py_None) return 0;
    if (!PyDict_Check(d)) {
        PyErr_Format(PyExc_TypeError, "%s must be a dict", what);
        return -1;
    }
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d, &pos, &k, &v)) {
        const char *name = PyUnicode_Check(k) ? PyUnicode_AsUTF8(k) : NULL;
        const field *f = fs;
        while (name && f->name && strcmp(f->name, name) != 0) f++;
        if (!name || !f->name) {
            PyErr_Format(PyExc_ValueError, "%s: unknown key %R", what, k);
            return -1;
        }
        if (set(f, s, v) < 0) return -1;
    }
    return 0;
}

PyObject *clfpy_config_dict(const clf_model_config *c)
{
    return to_dict(config_fields, c);
}

int clfpy_config_from(PyObject *d, clf_model_config *c)
{
    return from_dict(config_fields, c, d, "config");
}

PyObject *clfpy_generate_dict(const clf_generate_params *g)
{
    return to_dict(generate_fields, g);
}

int clfpy_generate_from(PyObject *d, clf_generate_params *g)
{
    return from_dict(generate_fields, g, d, "generate params");
}
