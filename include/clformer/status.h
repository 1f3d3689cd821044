/*
 * clformer status codes.
 *
 * Every fallible call returns a clf_status: CLF_OK (0) on success, a negative
 * value on failure. The short text of a code comes from clf_status_str(); the
 * detail of the last failure (which argument, which shapes, the OpenCL error by
 * name, the compiler's build log) comes from clf_context_last_error().
 *
 * Codes and their texts come from one list, CLF_STATUS_LIST, so they cannot
 * drift apart. Values are only ever appended.
 *
 * Threads: the functions of this header read constant tables only; any
 * thread may call them at any time. CLF_ERR_BUSY is the answer to a call
 * that breaks the one-thread rule of contexts (see context.h, "Threads").
 */
#ifndef CLFORMER_STATUS_H
#define CLFORMER_STATUS_H

#if defined(_WIN32) && defined(CLF_BUILDING_LIBRARY)
#define CLF_API __declspec(dllexport)
#elif defined(_WIN32)
#define CLF_API __declspec(dllimport)
#elif defined(__GNUC__)
#define CLF_API __attribute__((visibility("default")))
#else
#define CLF_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, text) */
#define CLF_STATUS_LIST(X)                                                          \
    X(CLF_OK, 0, "success")                                                         \
    X(CLF_ERR_INVALID_ARG, -1, "invalid argument")                                  \
    X(CLF_ERR_OUT_OF_MEMORY, -2, "out of host memory")                              \
    X(CLF_ERR_NO_DEVICE, -3, "no matching OpenCL device")                           \
    X(CLF_ERR_OPENCL, -4, "OpenCL call failed")                                     \
    X(CLF_ERR_BUILD, -5, "kernel build failed")                                     \
    X(CLF_ERR_DEVICE_MEMORY, -6, "out of device memory or resources")               \
    X(CLF_ERR_SHAPE, -7, "shape mismatch")                                          \
    X(CLF_ERR_DTYPE, -8, "unsupported or mismatched dtype")                         \
    X(CLF_ERR_IO, -9, "file I/O failed")                                            \
    X(CLF_ERR_BAD_MODEL, -10, "invalid model file")                                 \
    X(CLF_ERR_UNSUPPORTED, -11, "not supported on this device or build")            \
    X(CLF_ERR_NOT_FOUND, -12, "not found")                                          \
    X(CLF_ERR_OUT_OF_RANGE, -13, "value out of range")                              \
    X(CLF_ERR_ABORTED, -14, "aborted by the caller")                                \
    X(CLF_ERR_CONTEXT, -15, "object belongs to another context")                   \
    X(CLF_ERR_BUSY, -16, "object in use by another thread")

typedef enum clf_status {
#define CLF__STATUS_ENUM(name, value, text) name = value,
    CLF_STATUS_LIST(CLF__STATUS_ENUM)
#undef CLF__STATUS_ENUM
} clf_status;

/* Short, static, English text of a status ("kernel build failed"). Unknown
 * values give "unknown status". Never NULL. Thread-safe. */
CLF_API const char *clf_status_str(clf_status status);

/* The enum name of a status ("CLF_ERR_BUILD"). Never NULL. Thread-safe. */
CLF_API const char *clf_status_name(clf_status status);

#ifdef __cplusplus
}
#endif
#endif
