/* Internal device layer: enumeration with the OpenCL handles, and quirks. */
#ifndef CLF_DEVICE_INTERNAL_H
#define CLF_DEVICE_INTERNAL_H

#include "core/core.h"

/* One enumerated device with the handles needed to open it. */
typedef struct clf__device_entry {
    clf_device_info info;
    cl_platform_id platform;
    cl_device_id device;
} clf__device_entry;

/* Enumerates every platform and device. On success *out (free with
 * clf__free) holds *count >= 1 entries. Errors go to the thread's last error. */
clf_status clf__devices_enumerate(clf__device_entry **out, size_t *count);

/* Quirk bits; the table and the reason for each live in quirks.c. */
enum {
    CLF_QUIRK_POCL = 1u << 0,                /* PoCL: keeps its own kernel cache */
};

/* Quirk bits that apply to a device record. */
uint32_t clf__device_quirks(const clf_device_info *info);

/* A one-line description of the quirks in bits, for logs ("pocl-cache"). */
const char *clf__quirk_names(uint32_t bits, char *buf, size_t size);

/* The binary cache folder from the environment (CLFORMER_CACHE_DIR, else
 * $XDG_CACHE_HOME/clformer, else $HOME/.cache/clformer) into buf; returns
 * CLF_ERR_NOT_FOUND when none can be derived, or when CLFORMER_CACHE_DIR is
 * set to "" (cache off). */
clf_status clf__default_cache_dir(char *buf, size_t size);

/* Before the first OpenCL call of the process: when POCL_CACHE_DIR is unset,
 * point it at <cache>/pocl so other programs cannot evict PoCL's entries.
 * Runs once; a no-op afterwards. */
void clf__prepare_opencl_env(void);

#endif
