/*
 * clformer device layer: every OpenCL platform and device present, what each
 * can do, how it is classified, and how one is chosen.
 *
 * Classification is by capability, never by vendor name: a GPU that shares
 * memory with the host is an integrated GPU, any other GPU is discrete.
 * Selection prefers discrete GPU > integrated GPU > accelerator > CPU, ties
 * broken by compute units x clock. The user overrides it with a selection
 * string (see clf_device_select) given in the context params or in the
 * CLFORMER_DEVICE environment variable.
 */
#ifndef CLFORMER_DEVICE_H
#define CLFORMER_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Device classes, by capability. Values are only appended. */
typedef enum clf_device_class {
    CLF_DEVICE_CPU = 0,         /* CL_DEVICE_TYPE_CPU */
    CLF_DEVICE_ACCELERATOR = 1, /* CL_DEVICE_TYPE_ACCELERATOR or CUSTOM */
    CLF_DEVICE_IGPU = 2,        /* a GPU with host-unified memory */
    CLF_DEVICE_DGPU = 3,        /* a GPU with its own memory */
} clf_device_class;

#define CLF_MAX_SUBGROUP_SIZES 8

/* One device as the driver describes it. Plain data: copy it freely. Strings
 * are NUL-terminated and truncated to their array size. */
typedef struct clf_device_info {
    int platform_index;             /* index of the platform in clGetPlatformIDs order */
    int device_index;               /* index of the device within its platform */
    char name[256];                 /* CL_DEVICE_NAME */
    char vendor[256];               /* CL_DEVICE_VENDOR */
    char driver_version[128];       /* CL_DRIVER_VERSION */
    char device_version[128];       /* CL_DEVICE_VERSION ("OpenCL 3.0 ...") */
    char opencl_c_version[128];     /* CL_DEVICE_OPENCL_C_VERSION */
    char platform_name[256];        /* CL_PLATFORM_NAME */
    char platform_version[256];     /* CL_PLATFORM_VERSION */
    uint64_t cl_type;               /* CL_DEVICE_TYPE bit field */
    clf_device_class device_class;  /* from clf_device_classify() */
    uint32_t compute_units;         /* CL_DEVICE_MAX_COMPUTE_UNITS */
    uint32_t clock_mhz;             /* CL_DEVICE_MAX_CLOCK_FREQUENCY, MHz */
    uint64_t global_mem_bytes;      /* CL_DEVICE_GLOBAL_MEM_SIZE, bytes */
    uint64_t max_alloc_bytes;       /* CL_DEVICE_MAX_MEM_ALLOC_SIZE, bytes */
    uint64_t local_mem_bytes;       /* CL_DEVICE_LOCAL_MEM_SIZE, bytes */
    bool local_mem_dedicated;       /* CL_LOCAL vs CL_GLOBAL local memory type */
    uint64_t max_work_group_size;   /* CL_DEVICE_MAX_WORK_GROUP_SIZE, work-items */
    uint32_t pref_vector_float;     /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT */
    uint32_t pref_vector_half;      /* CL_DEVICE_PREFERRED_VECTOR_WIDTH_HALF, 0 = none */
    uint32_t native_vector_float;   /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT */
    bool fp16;                      /* cl_khr_fp16: half arithmetic in kernels */
    bool fp64;                      /* cl_khr_fp64 or a double config */
    bool subgroups;                 /* cl_khr_subgroups or __opencl_c_subgroups */
    uint32_t n_subgroup_sizes;      /* entries used in subgroup_sizes */
    uint32_t subgroup_sizes[CLF_MAX_SUBGROUP_SIZES]; /* known SIMD widths, 0 entries if unknown */
    bool unified_memory;            /* CL_DEVICE_HOST_UNIFIED_MEMORY */
    bool available;                 /* CL_DEVICE_AVAILABLE and CL_DEVICE_COMPILER_AVAILABLE */
    uint32_t quirks;                /* CLF_QUIRK_* bits from the device layer's quirk table */
} clf_device_info;

/* Lists every device of every platform. On success *out is an array of
 * *count >= 1 entries that the caller frees with clf_devices_free(). No
 * platform (an ICD loader with no vendor installed) or no device at all is
 * CLF_ERR_NO_DEVICE, with a message in clf_context_last_error(NULL). */
CLF_API clf_status clf_devices_list(clf_device_info **out, size_t *count);

/* Frees an array from clf_devices_list(). NULL is a no-op. */
CLF_API void clf_devices_free(clf_device_info *devices);

/* The class of a device from its capabilities (type bits and unified memory).
 * Pure: works on synthetic records. */
CLF_API clf_device_class clf_device_classify(const clf_device_info *info);

/* "dgpu", "igpu", "accelerator" or "cpu". Never NULL. */
CLF_API const char *clf_device_class_name(clf_device_class cls);

/*
 * Picks one of n devices. spec selects:
 *   NULL or "" or "best"  the best device: dGPU > iGPU > accelerator > CPU,
 *                         ties broken by compute units x clock, then by order;
 *   "gpu"                 the best GPU (discrete first);
 *   "dgpu", "igpu", "cpu", "accelerator"  the best device of that class;
 *   "P:D"                 platform index P, device index D;
 *   anything else         the best device whose name contains spec,
 *                         case-insensitively.
 * Unavailable devices are never picked. On success *index is the position in
 * devices[]. If nothing matches: CLF_ERR_NO_DEVICE, and the message from
 * clf_context_last_error(NULL) lists the devices that exist. Pure: works on
 * synthetic records. Does not read CLFORMER_DEVICE (the context does).
 */
CLF_API clf_status clf_device_select(const clf_device_info *devices, size_t n, const char *spec,
                                     size_t *index);

#ifdef __cplusplus
}
#endif
#endif
