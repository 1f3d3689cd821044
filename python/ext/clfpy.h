/*
 * clformer's Python extension module (_clformer), compiled against the real
 * public headers by the library's own meson build: no struct is mirrored by
 * hand, the compiler lays every one out. The Python layer (clformer/
 * __init__.py) turns inputs into C-contiguous numpy arrays and allocates
 * every output; this module takes them through the buffer protocol, so it
 * needs no numpy headers (and no numpy ABI at build time).
 *
 * Threads and the GIL: every call that runs OpenCL work, loads files or
 * lists devices releases the GIL. An object (Model, Tokenizer) is marked busy
 * under the GIL before the GIL is released and unmarked after it is taken
 * back, so a second Python thread that calls a busy Model gets BusyError at
 * once (the C library would answer CLF_ERR_BUSY; this check also keeps
 * close() from freeing a model another thread is inside).
 */
#ifndef CLFPY_H
#define CLFPY_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <clformer/clformer.h>

#if PY_VERSION_HEX < 0x030A0000 /* Py_NewRef is 3.10's; the package supports 3.9 */
static inline PyObject *clfpy_newref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}
#define Py_NewRef clfpy_newref
#endif

/* clformer.Error and its subclass clformer.BusyError (module.c). */
extern PyObject *clfpy_Error;
extern PyObject *clfpy_BusyError;

/* Raises clformer.Error (BusyError for CLF_ERR_BUSY) with attributes status
 * (the enum name), code (the value), detail (the last-error text) and the
 * message "what: STATUS_NAME: detail". Returns NULL. */
PyObject *clfpy_raise(clf_status st, const char *what, const char *detail);

/* A C-contiguous buffer of n elements of item bytes ('i' int32 or 'f' f32),
 * writable when asked. obj None gives buf->obj NULL and returns 0 (allowed
 * only when optional). Returns 0 or -1 with TypeError/ValueError set. */
int clfpy_buffer(PyObject *obj, char fmt, int writable, Py_ssize_t n, int optional,
                 const char *name, Py_buffer *buf);
void clfpy_buffer_release(Py_buffer *buf);

/* A device as the dict clformer.devices() lists (module.c): index ("P:D"),
 * name, vendor, platform, platform_version, driver_version, device_version,
 * class, compute_units, clock_mhz, global_mem_bytes, fp16, available.
 * Returns a new reference, or NULL with an exception set. */
PyObject *clfpy_device_dict(const clf_device_info *x);

/* The Tokenizer type (tokenizer.c). */
typedef struct {
    PyObject_HEAD
    clf_tokenizer *tok;
} clfpy_tokenizer;
extern PyTypeObject clfpy_TokenizerType;

/* Text of ids after a primed prefix: the detokenizer is fed prefix[0..n_prefix)
 * (their text dropped), then ids[0..n) and flushed; the text returned is what
 * came after the prefix. Streaming generation emits the same pieces, so the
 * joined stream equals this text by construction of the C detokenizer. */
clf_status clfpy_detok_begin(const clf_tokenizer *tok, const int32_t *prefix, int64_t n_prefix,
                             clf_detokenizer **out);

/* The Model type and the Session type of its sessions (model.c). */
extern PyTypeObject clfpy_ModelType;
extern PyTypeObject clfpy_SessionType;

#endif
