/*
 * Last-error messages: one buffer per context, and one per thread for calls
 * that have no context (context creation, device listing). Fixed-size buffers
 * so that reporting an out-of-memory error never needs memory.
 */
#include <stdio.h>
#include <string.h>

#include <clformer/context.h>

#include "core/core.h"

#define CLF__THREAD_ERROR_SIZE 8192
static _Thread_local char thread_error[CLF__THREAD_ERROR_SIZE];

void clf__thread_error_clear(void) { thread_error[0] = '\0'; }

const char *clf__thread_error(void) { return thread_error; }

clf_status clf__verror(struct clf_context *ctx, clf_status status, const char *fmt, va_list ap)
{
    clf__error_state *own = (clf__error_state *)(void *)ctx;
    char *buf = ctx ? own->text : thread_error;
    vsnprintf(buf, ctx ? sizeof own->text : sizeof thread_error, fmt, ap);
    return status;
}

clf_status clf__error(struct clf_context *ctx, clf_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    clf__verror(ctx, status, fmt, ap);
    va_end(ap);
    return status;
}

clf_status clf__cl_error(struct clf_context *ctx, cl_int err, const char *what)
{
    clf_status st = CLF_ERR_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
        err == CL_INVALID_BUFFER_SIZE)
        st = CLF_ERR_DEVICE_MEMORY;
    else if (err == CL_OUT_OF_HOST_MEMORY)
        st = CLF_ERR_OUT_OF_MEMORY;
    return clf__error(ctx, st, "%s: %s (%d)", what, clf__cl_error_name(err), (int)err);
}

const char *clf_context_last_error(const clf_context *ctx)
{
    if (!ctx) return thread_error;
    /* This thread's last call on ctx was refused (another thread was
     * inside): its message is this thread's, not the context's. */
    const char *refused = clf__owner_refused(ctx);
    if (refused) return refused;
    return ((const clf__error_state *)(const void *)ctx)->text;
}
