/*
 * _clformer: errors, buffers, device listing and the module itself (see
 * clfpy.h for the rules every function here follows).
 */
#include <string.h>

#include "clfpy.h"

PyObject *clfpy_Error;
PyObject *clfpy_BusyError;

PyObject *clfpy_raise(clf_status st, const char *what, const char *detail)
{
    const char *name = clf_status_name(st);
    if (!detail || !*detail) detail = clf_status_str(st);
    PyObject *type = st == CLF_ERR_BUSY ? clfpy_BusyError : clfpy_Error;
    PyObject *msg = PyUnicode_FromFormat("%s: %s: %s", what, name, detail);
    if (!msg) return NULL;
    PyObject *exc = PyObject_CallOneArg(type, msg);
    Py_DECREF(msg);
    if (!exc) return NULL;
    PyObject *n = PyUnicode_FromString(name), *c = PyLong_FromLong((long)st),
             *d = PyUnicode_DecodeUTF8(detail, (Py_ssize_t)strlen(detail), "replace");
    if (n && c && d && PyObject_SetAttrString(exc, "status", n) == 0 &&
        PyObject_SetAttrString(exc, "code", c) == 0 && PyObject_SetAttrString(exc, "detail", d) == 0)
        PyErr_SetObject(type, exc);
    Py_XDECREF(n);
    Py_XDECREF(c);
    Py_XDECREF(d);
    Py_DECREF(exc);
    return NULL;
}

int clfpy_buffer(PyObject *obj, char fmt, int writable, Py_ssize_t n, int optional,
                 const char *name, Py_buffer *buf)
{
    memset(buf, 0, sizeof *buf);
    if (obj == Py_None) {
        if (optional) return 0;
        PyErr_Format(PyExc_TypeError, "%s: an array is required, not None", name);
        return -1;
    }
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, buf, flags) < 0) return -1;
    /* numpy reports int32 as 'i' (or 'l' where long is 32-bit), float32 as 'f'. */
    const char *f = buf->format ? buf->format : "B";
    if (*f == '<' || *f == '=' || *f == '@') f++;
    int ok = buf->itemsize == 4 && (fmt == 'f' ? strcmp(f, "f") == 0
                                               : strcmp(f, "i") == 0 || strcmp(f, "l") == 0);
    if (!ok || buf->len != n * 4) {
        PyErr_Format(PyExc_ValueError, "%s: expected %zd C-contiguous %s, got format '%s' x %zd",
                     name, n, fmt == 'f' ? "float32" : "int32", f,
                     buf->itemsize ? buf->len / buf->itemsize : buf->len);
        PyBuffer_Release(buf);
        memset(buf, 0, sizeof *buf);
        return -1;
    }
    return 0;
}

void clfpy_buffer_release(Py_buffer *buf)
{
    if (buf->obj) PyBuffer_Release(buf);
}

/* Sets d[key] = v, stealing v. Returns 0 or -1. */
static int put(PyObject *d, const char *key, PyObject *v)
{
    if (!v) return -1;
    int rc = PyDict_SetItemString(d, key, v);
    Py_DECREF(v);
    return rc;
}

PyObject *clfpy_device_dict(const clf_device_info *x)
{
    PyObject *d = PyDict_New();
    char spec[32];
    snprintf(spec, sizeof spec, "%d:%d", x->platform_index, x->device_index);
    if (!d || put(d, "index", PyUnicode_FromString(spec)) ||
        put(d, "name", PyUnicode_DecodeUTF8(x->name, (Py_ssize_t)strlen(x->name), "replace")) ||
        put(d, "vendor", PyUnicode_DecodeUTF8(x->vendor, (Py_ssize_t)strlen(x->vendor), "replace")) ||
        put(d, "platform", PyUnicode_DecodeUTF8(x->platform_name, (Py_ssize_t)strlen(x->platform_name),
                                                "replace")) ||
        put(d, "driver_version", PyUnicode_DecodeUTF8(x->driver_version,
                                                      (Py_ssize_t)strlen(x->driver_version), "replace")) ||
        put(d, "device_version", PyUnicode_DecodeUTF8(x->device_version,
                                                      (Py_ssize_t)strlen(x->device_version), "replace")) ||
        put(d, "platform_version", PyUnicode_DecodeUTF8(x->platform_version,
                                                        (Py_ssize_t)strlen(x->platform_version),
                                                        "replace")) ||
        put(d, "class", PyUnicode_FromString(clf_device_class_name(x->device_class))) ||
        put(d, "compute_units", PyLong_FromUnsignedLong(x->compute_units)) ||
        put(d, "clock_mhz", PyLong_FromUnsignedLong(x->clock_mhz)) ||
        put(d, "global_mem_bytes", PyLong_FromUnsignedLongLong(x->global_mem_bytes)) ||
        put(d, "fp16", PyBool_FromLong(x->fp16)) ||
        put(d, "available", PyBool_FromLong(x->available))) {
        Py_XDECREF(d);
        return NULL;
    }
    return d;
}

static PyObject *py_devices(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    clf_device_info *devs = NULL;
    size_t n = 0;
    clf_status st;
    const char *err = "";
    Py_BEGIN_ALLOW_THREADS
    st = clf_devices_list(&devs, &n);
    if (st != CLF_OK) err = clf_context_last_error(NULL); /* this thread's: read it here */
    Py_END_ALLOW_THREADS
    if (st != CLF_OK) return clfpy_raise(st, "devices", err);
    PyObject *list = PyList_New(0);
    for (size_t i = 0; list && i < n; i++) {
        PyObject *d = clfpy_device_dict(&devs[i]);
        if (!d || PyList_Append(list, d) < 0) Py_CLEAR(list);
        Py_XDECREF(d);
    }
    clf_devices_free(devs);
    return list;
}

static PyObject *py_version(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    return PyUnicode_FromString(clf_version());
}

static PyObject *py_status_name(PyObject *self, PyObject *arg)
{
    (void)self;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    return PyUnicode_FromString(clf_status_name((clf_status)v));
}

static PyObject *py_set_log_level(PyObject *self, PyObject *arg)
{
    (void)self;
    long v = PyLong_AsLong(arg);
    if (v == -1 && PyErr_Occurred()) return NULL;
    clf_status st = clf_set_log_level((clf_log_level)v);
    if (st != CLF_OK) return clfpy_raise(st, "set_log_level", "level must be 0 (error) .. 3 (debug)");
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"devices", py_devices, METH_NOARGS, "Every OpenCL device: a list of dicts."},
    {"version", py_version, METH_NOARGS, "The C library's version string."},
    {"status_name", py_status_name, METH_O, "The enum name of a clf_status value."},
    {"set_log_level", py_set_log_level, METH_O, "clf_set_log_level(0..3)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_clformer", "clformer's C API (use the clformer package).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__clformer(void)
{
    PyObject *m = PyModule_Create(&module_def);
    if (!m) return NULL;
    clfpy_Error = PyErr_NewExceptionWithDoc(
        "clformer.Error",
        "A clformer call failed: .status is the status name (CLF_ERR_...), .code its value, "
        ".detail the library's last-error text.",
        PyExc_RuntimeError, NULL);
    if (!clfpy_Error) goto fail;
    clfpy_BusyError = PyErr_NewExceptionWithDoc(
        "clformer.BusyError",
        "The object is in use by another thread (CLF_ERR_BUSY): use one Model per thread.",
        clfpy_Error, NULL);
    if (!clfpy_BusyError) goto fail;
    if (PyType_Ready(&clfpy_TokenizerType) < 0 || PyType_Ready(&clfpy_ModelType) < 0 ||
        PyType_Ready(&clfpy_SessionType) < 0)
        goto fail;
    Py_INCREF(clfpy_Error);
    Py_INCREF(clfpy_BusyError);
    Py_INCREF(&clfpy_TokenizerType);
    Py_INCREF(&clfpy_ModelType);
    if (PyModule_AddObject(m, "Error", clfpy_Error) < 0 ||
        PyModule_AddObject(m, "BusyError", clfpy_BusyError) < 0 ||
        PyModule_AddObject(m, "Tokenizer", (PyObject *)&clfpy_TokenizerType) < 0 ||
        PyModule_AddObject(m, "Model", (PyObject *)&clfpy_ModelType) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
