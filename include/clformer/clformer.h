/*
 * clformer: transformer encoder and decoder stacks on any OpenCL device.
 *
 * This header includes the whole public API. Conventions, for every header:
 * - Objects are opaque handles made by clf_X_create(params, ..., &out) and
 *   released by clf_X_free(x); free accepts NULL.
 * - Params structs come from clf_X_params_default(); a zeroed struct is also
 *   valid and every zero means "default".
 * - Every fallible call returns clf_status (CLF_OK = 0, negative = error), and
 *   clf_context_last_error() explains the last failure. The library never
 *   exits or aborts on bad input or runtime errors.
 * - Dimensions are int64_t, byte sizes size_t.
 */
#ifndef CLFORMER_H
#define CLFORMER_H

#include "status.h"
#include <clformer/version.h>
#include "device.h"
#include "context.h"
#include "tensor.h"
#include "ops.h"
#include "graph.h"
#include "model.h"
#include "tokenizer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string ("0.1.0"), which may differ from the
 * CLF_VERSION_STRING a program was compiled against. */
CLF_API const char *clf_version(void);

#ifdef __cplusplus
}
#endif
#endif
