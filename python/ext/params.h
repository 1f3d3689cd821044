/* Structs of the C API to and from Python dicts (params.c). */
#ifndef CLFPY_PARAMS_H
#define CLFPY_PARAMS_H

#include "clfpy.h"

/* New dict of every clf_model_config field; NULL with an exception set. */
PyObject *clfpy_config_dict(const clf_model_config *c);
/* Sets the fields d names (None = none); unknown keys are ValueError. 0 or -1. */
int clfpy_config_from(PyObject *d, clf_model_config *c);
/* The same for the plain fields of clf_generate_params. */
PyObject *clfpy_generate_dict(const clf_generate_params *g);
int clfpy_generate_from(PyObject *d, clf_generate_params *g);

#endif
